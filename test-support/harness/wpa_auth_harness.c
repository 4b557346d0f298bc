/*
 * Test peer for Latchkey's WPA key handshakes: hostapd 2.10's own authenticator state machine
 * (src/ap/wpa_auth.c with its IE, PMKSA-cache, common and OpenSSL crypto code, built from
 * Debian's source package by the test tooling) run standalone for one station.
 *
 * It talks line-based text on stdin/stdout so a Rust test can drive it:
 *   stdin:  ASSOC <hex RSNE>      station associates with this RSNE (its PMKIDs name a PMKSA)
 *           MSK <hex>             802.1X finished: this is the MSK (the PMK is taken from it)
 *           RX <hex EAPOL frame>  an EAPOL frame from the station
 *           REKEY_GTK             start a group rekey
 *           PMKSA_ADD             cache the PMKSA of the current station (after the 4-way)
 *           DISASSOC              the station leaves
 *           QUIT
 *   stdout: READY <hex AP RSNE>   the authenticator's RSNE, as in its beacon
 *           ASSOC OK <pmksa 0|1>  or ASSOC FAIL <wpa_validate_wpa_ie result>
 *           TX <hex>              an EAPOL frame to the station
 *           KEY <alg> <idx> <pairwise 0|1> <len> <seq hex> <sha256 fingerprint>
 *           EVENT <text>          authenticator log lines (logger callback)
 *           PMKSA <0|-1>, OK, ERR <text>
 * Keys are printed only as SHA-256 fingerprints. Retransmission timers run in hostapd's eloop
 * as in an access point.
 *
 * Usage: wpa_auth_harness <akm 1|5|12> <pmf 0|1|2> <aa hex> <spa hex>
 */

#include "utils/includes.h"

#include "utils/common.h"
#include "utils/eloop.h"
#include "crypto/sha256.h"
#include "common/defs.h"
#include "common/wpa_common.h"
#include "ap/wpa_auth.h"

const struct wpa_driver_ops *const wpa_drivers[] = { NULL };

static struct {
	u8 aa[ETH_ALEN];
	u8 spa[ETH_ALEN];
	u8 msk[64];
	size_t msk_len;
	int key_available;
	struct wpa_auth_callbacks cb;
	struct wpa_authenticator *auth;
	struct wpa_state_machine *sm;
	char line[8192];
	size_t line_len;
} h;

/* The transmit sequence counters the "driver" reports for the group keys (the Key RSC in
 * message 3 and group message 1, the IPN in the IGTK KDE). The keys installed at start are
 * taken to have been in use for a while (distinct non-zero counters the test can check
 * arrive); a key installed later starts from zero, as in a real driver. */
static const u8 gtk_seq[8] = { 0x31, 0x32, 0x33, 0, 0, 0, 0, 0 };
static const u8 igtk_seq[8] = { 0x41, 0x42, 0, 0, 0, 0, 0, 0 };
static u8 seqs[6][8];
static int initializing;

static void out_hex(const char *prefix, const u8 *data, size_t len)
{
	size_t i;

	printf("%s", prefix);
	for (i = 0; i < len; i++)
		printf("%02x", data[i]);
	printf("\n");
	fflush(stdout);
}

static void cb_logger(void *ctx, const u8 *addr, logger_level level,
		      const char *txt)
{
	printf("EVENT %s\n", txt);
	fflush(stdout);
}

static int cb_send_eapol(void *ctx, const u8 *addr, const u8 *data,
			 size_t data_len, int encrypt)
{
	out_hex("TX ", data, data_len);
	return 0;
}

static int cb_get_msk(void *ctx, const u8 *addr, u8 *msk, size_t *len)
{
	if (h.msk_len == 0 || *len < h.msk_len)
		return -1;
	os_memcpy(msk, h.msk, h.msk_len);
	*len = h.msk_len;
	return 0;
}

static int cb_get_eapol(void *ctx, const u8 *addr, wpa_eapol_variable var)
{
	switch (var) {
	case WPA_EAPOL_keyRun:
	case WPA_EAPOL_keyAvailable:
		return h.key_available;
	case WPA_EAPOL_portControl_Auto:
		return 1;
	default:
		return 0;
	}
}

static void cb_set_eapol(void *ctx, const u8 *addr, wpa_eapol_variable var,
			 int value)
{
	if (var == WPA_EAPOL_authorized) {
		printf("EVENT port %s\n", value ? "authorized" : "unauthorized");
		fflush(stdout);
	}
}

static int cb_get_seqnum(void *ctx, const u8 *addr, int idx, u8 *seq)
{
	if (idx < 0 || idx > 5)
		return -1;
	os_memcpy(seq, seqs[idx], 8);
	return 0;
}

static int cb_set_key(void *ctx, int vlan_id, enum wpa_alg alg,
		      const u8 *addr, int idx, u8 *key, size_t key_len,
		      enum key_flag key_flag)
{
	u8 fp[32];
	const u8 *seq;
	size_t i;

	if (alg == WPA_ALG_NONE || key_len == 0)
		return 0;
	if (sha256_vector(1, (const u8 **) &key, &key_len, fp) < 0)
		return -1;
	if (idx < 0 || idx > 5)
		return -1;
	if (!(key_flag & KEY_FLAG_PAIRWISE)) {
		if (initializing)
			os_memcpy(seqs[idx], idx >= 4 ? igtk_seq : gtk_seq, 8);
		else
			os_memset(seqs[idx], 0, 8);
	}
	seq = seqs[idx];
	printf("KEY %d %d %d %zu ", alg, idx, (key_flag & KEY_FLAG_PAIRWISE) ? 1 : 0,
	       key_len);
	for (i = 0; i < 8; i++)
		printf("%02x", (key_flag & KEY_FLAG_PAIRWISE) ? 0 : seq[i]);
	printf(" ");
	for (i = 0; i < sizeof(fp); i++)
		printf("%02x", fp[i]);
	printf("\n");
	fflush(stdout);
	return 0;
}

/* The group state machine reaches stations through this (e.g. to start a group rekey). */
static int cb_for_each_sta(void *ctx,
			   int (*cb)(struct wpa_state_machine *sm, void *ctx),
			   void *cb_ctx)
{
	if (h.sm && cb(h.sm, cb_ctx))
		return 1;
	return 0;
}

static void cb_disconnect(void *ctx, const u8 *addr, u16 reason)
{
	printf("EVENT disconnect reason %u\n", reason);
	fflush(stdout);
}

static int parse_hex(const char *s, u8 *buf, size_t max)
{
	size_t len = os_strlen(s);

	if (len % 2 || len / 2 > max || hexstr2bin(s, buf, len / 2))
		return -1;
	return (int) (len / 2);
}

static void command(char *line)
{
	static u8 buf[4096];
	int n;

	if (os_strncmp(line, "ASSOC ", 6) == 0) {
		enum wpa_validate_result res;

		n = parse_hex(line + 6, buf, sizeof(buf));
		if (n < 0) {
			printf("ERR hex\n");
			return;
		}
		if (h.sm)
			wpa_auth_sta_deinit(h.sm);
		h.key_available = 0;
		h.msk_len = 0;
		h.sm = wpa_auth_sta_init(h.auth, h.spa, NULL);
		if (!h.sm) {
			printf("ERR sta_init\n");
			return;
		}
		res = wpa_validate_wpa_ie(h.auth, h.sm, 2412, buf, n, NULL, 0,
					  NULL, 0, NULL, 0);
		if (res != WPA_IE_OK) {
			printf("ASSOC FAIL %d\n", res);
			wpa_auth_sta_deinit(h.sm);
			h.sm = NULL;
			return;
		}
		/* A PMKSA the station named: 802.1X is skipped, as hostapd's ieee802_1x.c does. */
		if (wpa_auth_sta_get_pmksa(h.sm))
			h.key_available = 1;
		printf("ASSOC OK %d\n", wpa_auth_sta_get_pmksa(h.sm) ? 1 : 0);
		fflush(stdout);
		wpa_auth_sm_event(h.sm, WPA_ASSOC);
		wpa_auth_sta_associated(h.auth, h.sm);
	} else if (os_strncmp(line, "MSK ", 4) == 0) {
		n = parse_hex(line + 4, h.msk, sizeof(h.msk));
		if (n < 0 || !h.sm) {
			printf("ERR msk\n");
			return;
		}
		h.msk_len = n;
		h.key_available = 1;
		printf("OK\n");
		fflush(stdout);
		wpa_auth_sm_notify(h.sm);
	} else if (os_strncmp(line, "RX ", 3) == 0) {
		n = parse_hex(line + 3, buf, sizeof(buf));
		if (n < 0 || !h.sm) {
			printf("ERR rx\n");
			return;
		}
		wpa_receive(h.auth, h.sm, buf, n);
	} else if (os_strcmp(line, "REKEY_GTK") == 0) {
		printf("OK\n");
		fflush(stdout);
		wpa_auth_rekey_gtk(h.auth);
	} else if (os_strcmp(line, "PMKSA_ADD") == 0) {
		printf("PMKSA %d\n",
		       h.sm ? wpa_auth_pmksa_add(h.sm, h.msk, h.msk_len, 0, NULL) : -1);
	} else if (os_strcmp(line, "DISASSOC") == 0) {
		if (h.sm) {
			wpa_auth_sm_event(h.sm, WPA_DISASSOC);
			wpa_auth_sta_deinit(h.sm);
			h.sm = NULL;
		}
		printf("OK\n");
	} else if (os_strcmp(line, "QUIT") == 0) {
		eloop_terminate();
	} else {
		printf("ERR unknown command\n");
	}
	fflush(stdout);
}

static void stdin_readable(int sock, void *eloop_ctx, void *sock_ctx)
{
	char c;
	ssize_t r;

	for (;;) {
		r = read(sock, &c, 1);
		if (r <= 0) {
			eloop_terminate();
			return;
		}
		if (c == '\n')
			break;
		if (h.line_len + 1 >= sizeof(h.line)) {
			h.line_len = 0;
			printf("ERR line too long\n");
			fflush(stdout);
			return;
		}
		h.line[h.line_len++] = c;
	}
	h.line[h.line_len] = '\0';
	h.line_len = 0;
	command(h.line);
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	struct wpa_auth_config conf;
	const u8 *ie;
	size_t ie_len;
	int akm, pmf;

	if (argc != 5 || hwaddr_aton(argv[3], h.aa) || hwaddr_aton(argv[4], h.spa)) {
		fprintf(stderr, "usage: %s <akm 1|5|12> <pmf 0|1|2> <aa> <spa>\n", argv[0]);
		return 2;
	}
	akm = atoi(argv[1]);
	pmf = atoi(argv[2]);
	if (getenv("WPA_HARNESS_DEBUG"))
		wpa_debug_level = MSG_EXCESSIVE;
	else
		wpa_debug_level = MSG_ERROR;
	if (os_program_init() || eloop_init())
		return 1;

	os_memset(&conf, 0, sizeof(conf));
	conf.wpa = WPA_PROTO_RSN;
	conf.eapol_version = 2;
	conf.wpa_group_update_count = 4;
	conf.wpa_pairwise_update_count = 4;
	conf.ieee80211w = pmf;
	switch (akm) {
	case 1:
		conf.wpa_key_mgmt = WPA_KEY_MGMT_IEEE8021X;
		conf.rsn_pairwise = conf.wpa_group = WPA_CIPHER_CCMP;
		conf.group_mgmt_cipher = WPA_CIPHER_AES_128_CMAC;
		break;
	case 5:
		conf.wpa_key_mgmt = WPA_KEY_MGMT_IEEE8021X_SHA256;
		conf.rsn_pairwise = conf.wpa_group = WPA_CIPHER_CCMP;
		conf.group_mgmt_cipher = WPA_CIPHER_AES_128_CMAC;
		break;
	case 12:
		conf.wpa_key_mgmt = WPA_KEY_MGMT_IEEE8021X_SUITE_B_192;
		conf.rsn_pairwise = conf.wpa_group = WPA_CIPHER_GCMP_256;
		conf.group_mgmt_cipher = WPA_CIPHER_BIP_GMAC_256;
		break;
	default:
		fprintf(stderr, "unsupported AKM %d\n", akm);
		return 2;
	}
	conf.wpa_pairwise = conf.rsn_pairwise;

	h.cb.logger = cb_logger;
	h.cb.send_eapol = cb_send_eapol;
	h.cb.get_msk = cb_get_msk;
	h.cb.get_eapol = cb_get_eapol;
	h.cb.set_eapol = cb_set_eapol;
	h.cb.set_key = cb_set_key;
	h.cb.get_seqnum = cb_get_seqnum;
	h.cb.disconnect = cb_disconnect;
	h.cb.for_each_sta = cb_for_each_sta;

	h.auth = wpa_init(h.aa, &conf, &h.cb, NULL);
	if (!h.auth) {
		fprintf(stderr, "wpa_init failed\n");
		return 1;
	}
	/* What hostapd does once its Beacon frames are set: finish the group state machine's
	 * start (GTK_INIT -> SETKEYSDONE), so one GTK/IGTK is in force before stations come. */
	initializing = 1;
	if (wpa_init_keys(h.auth) < 0) {
		fprintf(stderr, "wpa_init_keys failed\n");
		return 1;
	}
	initializing = 0;
	ie = wpa_auth_get_wpa_ie(h.auth, &ie_len);
	out_hex("READY ", ie, ie_len);

	eloop_register_read_sock(STDIN_FILENO, stdin_readable, NULL, NULL);
	eloop_run();

	if (h.sm)
		wpa_auth_sta_deinit(h.sm);
	wpa_deinit(h.auth);
	eloop_destroy();
	os_program_deinit();
	return 0;
}
