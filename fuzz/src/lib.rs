//! Shared pieces of the fuzz targets: an in-memory NOR flash that can lose power, a small
//! reader for the targets' structured inputs, and the input formats (encoders too, so that the
//! seed generator writes exactly what the targets read).

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use latchkey_core::certs::{FlashLayout, SlotTable};

/// The slot table the flash targets use: 2 slots of certificates up to 900 bytes, whose largest
/// image (1 972 bytes) fits one 2 KiB region.
pub type FuzzTable = SlotTable<2, 900>;

/// Two 2 KiB regions in a 4 KiB flash.
pub const LAYOUT: FlashLayout = FlashLayout {
    region_a: 0,
    region_b: 2048,
    region_size: 2048,
};

/// Bytes of flash the slot_flash input starts with.
pub const FLASH_LEN: usize = 4096;

/// The error of [`RamFlash`]: only out-of-range, misaligned and power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamFlashError(NorFlashErrorKind);

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

/// NOR flash in RAM: erase sets 256-byte pages to 0xFF, a write ANDs bits in, 4 bytes a unit.
/// With `budget` set, the power fails after that many erase pages plus write units.
#[derive(Clone, Debug)]
pub struct RamFlash {
    /// The contents.
    pub mem: Vec<u8>,
    /// Erase pages and write units left before the power fails (`None`: never).
    pub budget: Option<usize>,
    /// Erase pages and write units done.
    pub units: usize,
}

impl RamFlash {
    /// A flash holding `bytes`, padded with erased 0xFF to [`FLASH_LEN`].
    pub fn with_contents(bytes: &[u8]) -> Self {
        let mut mem = vec![0xFF; FLASH_LEN];
        let n = bytes.len().min(FLASH_LEN);
        mem[..n].copy_from_slice(&bytes[..n]);
        RamFlash {
            mem,
            budget: None,
            units: 0,
        }
    }

    fn spend(&mut self) -> Result<(), RamFlashError> {
        if let Some(left) = self.budget.as_mut() {
            if *left == 0 {
                return Err(RamFlashError(NorFlashErrorKind::Other));
            }
            *left -= 1;
        }
        self.units += 1;
        Ok(())
    }

    fn range(&self, offset: u32, len: usize, align: usize) -> Result<usize, RamFlashError> {
        let at = offset as usize;
        if !at.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError(NorFlashErrorKind::NotAligned));
        }
        if at + len > self.mem.len() {
            return Err(RamFlashError(NorFlashErrorKind::OutOfBounds));
        }
        Ok(at)
    }
}

impl ErrorType for RamFlash {
    type Error = RamFlashError;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 4;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        let at = self.range(offset, bytes.len(), Self::READ_SIZE)?;
        bytes.copy_from_slice(&self.mem[at..at + bytes.len()]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 256;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(RamFlashError(NorFlashErrorKind::OutOfBounds))?;
        let at = self.range(from, len, Self::ERASE_SIZE)?;
        for page in (at..at + len).step_by(Self::ERASE_SIZE) {
            self.spend()?;
            self.mem[page..page + Self::ERASE_SIZE].fill(0xFF);
        }
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        let at = self.range(offset, bytes.len(), Self::WRITE_SIZE)?;
        for (i, unit) in bytes.chunks(Self::WRITE_SIZE).enumerate() {
            self.spend()?;
            let start = at + i * Self::WRITE_SIZE;
            for (cell, b) in self.mem[start..start + Self::WRITE_SIZE]
                .iter_mut()
                .zip(unit)
            {
                *cell &= *b;
            }
        }
        Ok(())
    }
}

/// Reads a fuzz input front to back; past its end every read gives zeros / empty slices, so
/// every input decodes to something.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }
    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (now, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        now
    }
    /// One byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }
    /// A big-endian u64.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| acc << 8 | u64::from(self.u8()))
    }
    /// A u16 length, then that many bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }
}

/// The eap_tls_reassembly input: bounds, then fragments (EAP-TLS type data as received, each
/// with the reassembly buffer length it is pushed with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyInput {
    /// Configured bound on one message.
    pub max_message_len: u16,
    /// Configured bound on fragments.
    pub max_fragments: u8,
    /// Fragment size for the fragmenter round trip (0 means 1).
    pub fragment_size: u16,
    /// (buffer length, EAP-TLS type data) per fragment.
    pub fragments: Vec<(u16, Vec<u8>)>,
}

impl ReassemblyInput {
    /// Decode (any bytes decode).
    pub fn decode(data: &[u8]) -> Self {
        let mut r = Reader::new(data);
        let max_message_len = r.u16();
        let max_fragments = r.u8();
        let fragment_size = r.u16();
        let mut fragments = Vec::new();
        while !r.is_empty() {
            let cap = r.u16();
            fragments.push((cap, r.chunk().to_vec()));
        }
        ReassemblyInput {
            max_message_len,
            max_fragments,
            fragment_size,
            fragments,
        }
    }

    /// Encode (for seeds).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.max_message_len.to_be_bytes());
        out.push(self.max_fragments);
        out.extend_from_slice(&self.fragment_size.to_be_bytes());
        for (cap, frag) in &self.fragments {
            out.extend_from_slice(&cap.to_be_bytes());
            out.extend_from_slice(&(frag.len() as u16).to_be_bytes());
            out.extend_from_slice(frag);
        }
        out
    }
}

/// The radius_reply target's fixed request side: identifier, Request Authenticator, secret.
pub const RADIUS_ID: u8 = 0x2a;
/// Request Authenticator of the request the fuzzed reply answers.
pub const RADIUS_REQUEST_AUTH: [u8; 16] = *b"latchkey-fuzz-RA";
/// Shared secret.
pub const RADIUS_SECRET: &[u8] = b"fuzz-shared-secret";

/// A deterministic RNG for the targets (SplitMix64): the same input always takes the same
/// path, which libFuzzer needs to minimize and replay. Not for anything outside fuzzing.
#[derive(Debug, Clone)]
pub struct FuzzRng(pub u64);

impl rand_core::RngCore for FuzzRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for FuzzRng {}

pub use key_auth::{akm_from_byte, KeyAuth, AA, SPA};

/// A deterministic model of the authenticator's side of the 4-way and group-key handshakes
/// (IEEE 802.11-2020 §12.7.6, §12.7.7), built only from the core's public key primitives, so
/// the targets can sign the frames a genuine AP would send and tell them from forgeries.
mod key_auth {
    use latchkey_core::eapol::{self, PacketType};
    use latchkey_core::wpa::frame::{self, KeyInfo, Repr};
    use latchkey_core::wpa::keys::{self, Pmk, Ptk};
    use latchkey_core::wpa::{kde, Akm, Cipher};

    /// The access point's address.
    pub const AA: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
    /// The station's address.
    pub const SPA: [u8; 6] = [0x02, 0, 0, 0, 0, 0x55];

    /// One of the AKMs the handshake implements, chosen by a fuzz byte.
    pub fn akm_from_byte(b: u8) -> Akm {
        match b % 3 {
            0 => Akm::Ieee8021x,
            1 => Akm::Ieee8021xSha256,
            _ => Akm::SuiteB192,
        }
    }

    /// The model authenticator: fixed PMK, its ANonce, the PTK from the station's last
    /// message 2, and the group keys it hands out.
    pub struct KeyAuth {
        /// The AKM of the association.
        pub akm: Akm,
        /// The fixed PMK (bytes 0x5a..).
        pub pmk: Vec<u8>,
        /// The AP's RSNE (beacon and message 3).
        pub ap_rsne: Vec<u8>,
        /// The station's RSNE (association request and message 2).
        pub sta_rsne: Vec<u8>,
        /// The ANonce of the last message 1.
        pub anonce: [u8; 32],
        /// The PTK derived from the station's last message 2, if any.
        pub ptk: Option<Ptk>,
        /// GTK key id and key.
        pub gtk: (u8, Vec<u8>),
        /// IGTK key id and key (PMF AKMs).
        pub igtk: Option<(u16, Vec<u8>)>,
    }

    impl KeyAuth {
        /// A model AP for `akm` with RSNEs from the simulator's access point.
        pub fn new(akm: Akm) -> Self {
            let sim = latchkey_sim::auth::ap::SimAp::new(akm, AA, SPA);
            let n = Self::cipher_of(akm).key_len();
            KeyAuth {
                akm,
                pmk: (0..akm.pmk_len() as u8).map(|i| 0x5a ^ i).collect(),
                ap_rsne: sim.ap_rsne.clone(),
                sta_rsne: sim.sta_rsne.clone(),
                anonce: [0; 32],
                ptk: None,
                gtk: (1, vec![0x11; n]),
                igtk: akm.requires_pmf().then(|| (4, vec![0x22; n])),
            }
        }

        /// The pairwise and group cipher the simulator's RSNEs name.
        pub fn cipher_of(akm: Akm) -> Cipher {
            if akm == Akm::SuiteB192 {
                Cipher::Gcmp256
            } else {
                Cipher::Ccmp128
            }
        }

        /// The PMK as the station holds it.
        pub fn pmk(&self) -> Pmk {
            Pmk::from_bytes(&self.pmk, self.akm).expect("model PMK has the AKM's length")
        }

        fn version(&self) -> u16 {
            u16::from(self.akm.descriptor_version())
        }

        /// An unsigned EAPOL-Key frame (MIC zero).
        pub fn frame(
            &self,
            info: u16,
            key_length: u16,
            counter: u64,
            nonce: [u8; 32],
            key_data: &[u8],
        ) -> Vec<u8> {
            let zeros = [0u8; 24];
            let repr = Repr {
                key_info: KeyInfo(info),
                key_length,
                replay_counter: counter,
                nonce,
                iv: [0; 16],
                rsc: [0; 8],
                mic: &zeros[..self.akm.mic_len()],
                key_data,
            };
            let mut body = vec![0u8; repr.buffer_len()];
            repr.emit(&mut body).expect("body sized by buffer_len");
            let mut out = vec![0u8; eapol::HEADER_LEN + body.len()];
            eapol::emit_frame(2, PacketType::Key, &body, &mut out).expect("frame sized");
            out
        }

        /// Fills in the MIC of `f` (its MIC field zero) with the current PTK's KCK.
        pub fn sign(&self, f: &mut [u8]) -> bool {
            let Some(ptk) = &self.ptk else { return false };
            let mut mic = vec![0u8; self.akm.mic_len()];
            if keys::compute_mic(self.akm, ptk.kck(), &[f], &mut mic).is_err() {
                return false;
            }
            let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
            f[at..at + mic.len()].copy_from_slice(&mic);
            true
        }

        /// Message 1 with `anonce`.
        pub fn msg1(&mut self, anonce: [u8; 32], counter: u64) -> Vec<u8> {
            self.anonce = anonce;
            let info = self.version() | KeyInfo::KEY_TYPE_PAIRWISE | KeyInfo::KEY_ACK;
            let n = Self::cipher_of(self.akm).key_len() as u16;
            self.frame(info, n, counter, anonce, &[])
        }

        /// Takes the station's message 2: derives the PTK from its SNonce and our ANonce.
        pub fn take_msg2(&mut self, reply: &[u8]) -> bool {
            let Ok(e) = eapol::Packet::new_checked(reply) else {
                return false;
            };
            let Ok(p) = frame::Packet::new_checked(e.body(), self.akm.mic_len()) else {
                return false;
            };
            let Ok(r) = Repr::parse(&p) else { return false };
            let pmk = self.pmk();
            let cipher = Self::cipher_of(self.akm);
            self.ptk = Ptk::derive(self.akm, cipher, &pmk, &AA, &SPA, &self.anonce, &r.nonce).ok();
            self.ptk.is_some()
        }

        /// The group KDEs (GTK, and IGTK with PMF).
        pub fn group_kdes(&self) -> Vec<u8> {
            let mut out = vec![0u8; 128];
            let mut n = kde::emit_gtk(self.gtk.0, true, &self.gtk.1, &mut out).expect("fits");
            if let Some((id, key)) = &self.igtk {
                n += kde::emit_igtk(*id, &[1, 0, 0, 0, 0, 0], key, &mut out[n..]).expect("fits");
            }
            out.truncate(n);
            out
        }

        /// Key data padded (0xdd, zeros) and wrapped with the KEK.
        pub fn wrap(&self, plain: &[u8]) -> Option<Vec<u8>> {
            let ptk = self.ptk.as_ref()?;
            let mut p = plain.to_vec();
            if p.len() % 8 != 0 || p.len() < 16 {
                p.push(0xdd);
                while p.len() % 8 != 0 || p.len() < 16 {
                    p.push(0);
                }
            }
            let mut out = vec![0u8; p.len() + 8];
            keys::wrap_key_data(ptk.kek(), &p, &mut out).ok()?;
            Some(out)
        }

        /// Message 3, signed; `None` before a message 2 gave a PTK.
        pub fn msg3(&self, counter: u64) -> Option<Vec<u8>> {
            let mut plain = self.ap_rsne.clone();
            plain.extend_from_slice(&self.group_kdes());
            let kd = self.wrap(&plain)?;
            let info = self.version()
                | KeyInfo::KEY_TYPE_PAIRWISE
                | KeyInfo::INSTALL
                | KeyInfo::KEY_ACK
                | KeyInfo::KEY_MIC
                | KeyInfo::SECURE
                | KeyInfo::ENCRYPTED_KEY_DATA;
            let n = Self::cipher_of(self.akm).key_len() as u16;
            let mut f = self.frame(info, n, counter, self.anonce, &kd);
            self.sign(&mut f).then_some(f)
        }

        /// Group message 1 with the current group keys, signed.
        pub fn group1(&self, counter: u64) -> Option<Vec<u8>> {
            let kd = self.wrap(&self.group_kdes())?;
            let info = self.version()
                | KeyInfo::KEY_ACK
                | KeyInfo::KEY_MIC
                | KeyInfo::SECURE
                | KeyInfo::ENCRYPTED_KEY_DATA;
            let mut f = self.frame(info, 0, counter, [0; 32], &kd);
            self.sign(&mut f).then_some(f)
        }
    }
}

/// An RNG whose state is one global counter, reset per input ([`reset_global_rng`]): the
/// supplicant's RNG must be `'static` (it is shared with its TLS engine), and a fuzz input
/// must take the same path each time it runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalRng;

static GLOBAL_RNG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Restart [`GlobalRng`]'s stream.
pub fn reset_global_rng(seed: u64) {
    GLOBAL_RNG.store(seed, std::sync::atomic::Ordering::SeqCst);
}

impl rand_core::RngCore for GlobalRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        let s = GLOBAL_RNG.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FuzzRng(s).next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for GlobalRng {}

/// The supplicant target's input: an AKM byte (0: no RSN association, else the AKM chosen
/// by [`akm_from_byte`]), then operations. Shared with the seed generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupOp {
    /// A frame from the authenticator, as is.
    Frame(Vec<u8>),
    /// Time passes by this many milliseconds; then a poll (when due, or always with `force`).
    Wait {
        /// Milliseconds.
        ms: u16,
        /// Poll even before the deadline.
        force: bool,
    },
    /// A frame from another station (must be ignored).
    Stranger(Vec<u8>),
    /// An EAP-TLS Request with this identifier, flags and TLS data, wrapped for the wire.
    TlsRequest {
        /// EAP identifier.
        id: u8,
        /// EAP-TLS flags.
        flags: u8,
        /// TLS data.
        data: Vec<u8>,
    },
}

/// Decode the supplicant target's input (any bytes decode).
pub fn decode_sup(data: &[u8]) -> (u8, Vec<SupOp>) {
    let mut r = Reader::new(data);
    let akm = r.u8();
    let mut ops = Vec::new();
    while !r.is_empty() && ops.len() < 128 {
        let op = r.u8();
        ops.push(match op % 4 {
            0 => SupOp::Frame(r.chunk().to_vec()),
            1 => SupOp::Wait {
                ms: r.u16(),
                force: op & 0x10 != 0,
            },
            2 => SupOp::Stranger(r.chunk().to_vec()),
            _ => SupOp::TlsRequest {
                id: r.u8(),
                flags: r.u8(),
                data: r.chunk().to_vec(),
            },
        });
    }
    (akm, ops)
}

/// Encode the supplicant target's input (for seeds).
pub fn encode_sup(akm: u8, ops: &[SupOp]) -> Vec<u8> {
    let mut out = vec![akm];
    let chunk = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(b);
    };
    for op in ops {
        match op {
            SupOp::Frame(f) => {
                out.push(0);
                chunk(&mut out, f);
            }
            SupOp::Wait { ms, force } => {
                out.push(if *force { 0x11 } else { 1 });
                out.extend_from_slice(&ms.to_be_bytes());
            }
            SupOp::Stranger(f) => {
                out.push(2);
                chunk(&mut out, f);
            }
            SupOp::TlsRequest { id, flags, data } => {
                out.extend_from_slice(&[3, *id, *flags]);
                chunk(&mut out, data);
            }
        }
    }
    out
}

/// An EAPOL frame (version 2) carrying an EAP-TLS Request.
pub fn tls_request_frame(id: u8, flags: u8, data: &[u8]) -> Vec<u8> {
    let eap_len = 6 + data.len();
    let mut f = vec![2, 0];
    f.extend_from_slice(&(eap_len as u16).to_be_bytes());
    f.extend_from_slice(&[1, id]);
    f.extend_from_slice(&(eap_len as u16).to_be_bytes());
    f.extend_from_slice(&[13, flags]);
    f.extend_from_slice(data);
    f
}

/// The credential loaders' targets (`pkcs12`, `slot_files`): the input format of `slot_files`
/// and the oracle both targets check a load against.
pub mod credentials {
    use std::path::Path;

    use der::{Decode, Encode};
    use latchkey_core::certs::{KeyAlgorithm, KeyRef, SlotTable};
    use latchkey_sim::cli::config::{ConfigError, PassSource, SlotCredential, FILE_CERT_MAX};

    /// The fixed password the targets open encrypted files with (the seeds use it).
    pub const PASSWORD: &str = "latchkey-fuzz";
    /// The name the targets give the certificate (or PKCS#12) file.
    pub const CERT_PATH: &str = "fuzz-slot.crt";
    /// The name the targets give the key file.
    pub const KEY_PATH: &str = "fuzz-slot.key";

    /// `--key-pass pass:PASSWORD`.
    pub fn password() -> PassSource {
        PassSource::Literal(zeroize::Zeroizing::new(PASSWORD.into()))
    }

    /// One `slot_files` input: the certificate file, the key file (`None`: `STATE:FILE`, the
    /// key in the certificate file) and whether `--key-pass` is given.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SlotFiles<'a> {
        /// The certificate file's contents.
        pub cert: &'a [u8],
        /// The key file's contents, when it is another file.
        pub key: Option<&'a [u8]>,
        /// Whether `--key-pass` is given (the fixed [`PASSWORD`]).
        pub with_password: bool,
    }

    /// Input layout: a flags byte (bit 0: one file, `STATE:FILE`; bit 1: `--key-pass` given),
    /// the certificate file's length (u16, big-endian), the certificate file, then the key
    /// file (the rest). Short inputs read as empty files.
    pub fn decode_slot_files(data: &[u8]) -> SlotFiles<'_> {
        let flags = data.first().copied().unwrap_or(0);
        let len = data
            .get(1..3)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let rest = data.get(3..).unwrap_or(&[]);
        let (cert, key) = rest.split_at(len.min(rest.len()));
        SlotFiles {
            cert,
            key: (flags & 1 == 0).then_some(key),
            with_password: flags & 2 != 0,
        }
    }

    /// Encode a `slot_files` input (for seeds).
    pub fn encode_slot_files(f: &SlotFiles<'_>) -> Vec<u8> {
        let flags = u8::from(f.key.is_none()) | if f.with_password { 2 } else { 0 };
        let mut out = vec![flags];
        out.extend_from_slice(&(f.cert.len() as u16).to_be_bytes());
        out.extend_from_slice(f.cert);
        out.extend_from_slice(f.key.unwrap_or(&[]));
        out
    }

    /// The kinds a credential load may fail with (every other kind is a finding: the files
    /// are given as bytes, so nothing is unreadable, and a literal password always reads).
    const LOAD_KINDS: &[&str] = &[
        "no-pem",
        "wrong-format",
        "password-required",
        "wrong-password",
        "bad-pkcs12",
        "bad-key",
        "bad-certificate",
        "slot-refused",
    ];

    /// The oracle: a load either succeeded with certificates that all parse in full
    /// (x509-cert), a key of the leaf's algorithm that installs with the chain in a fresh
    /// table of the command line's size (the key matches the leaf's public key), or failed
    /// with one of the load kinds and a one-line message naming one of the files and never
    /// holding the password.
    pub fn check(result: &Result<SlotCredential, ConfigError>) {
        match result {
            Ok(c) => {
                let (leaf, intermediates) = c
                    .certs
                    .split_first()
                    .expect("a loaded slot has a certificate");
                let mut algorithm = None;
                for (i, der) in c.certs.iter().enumerate() {
                    let cert = x509_cert::Certificate::from_der(der)
                        .unwrap_or_else(|e| panic!("loaded certificate {i} does not parse: {e}"));
                    if i == 0 {
                        algorithm = Some(spki_algorithm(
                            &cert.tbs_certificate.subject_public_key_info,
                        ));
                    }
                }
                assert_eq!(
                    algorithm,
                    Some(c.key.algorithm()),
                    "the key's algorithm is not the leaf's"
                );
                let intermediates: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
                let mut table: Box<SlotTable<1, FILE_CERT_MAX>> = Box::new(SlotTable::new());
                table
                    .install_chain(leaf, &intermediates, KeyRef::Inline(c.key.clone()))
                    .expect("a loaded slot installs (its key is the leaf's)");
            }
            Err(e) => {
                let kind = e.kind();
                assert!(LOAD_KINDS.contains(&kind), "unexpected kind {kind}: {e}");
                let msg = e.to_string();
                assert!(
                    !msg.is_empty() && !msg.contains('\n'),
                    "not one line: {msg:?}"
                );
                assert!(
                    msg.contains(CERT_PATH) || msg.contains(KEY_PATH),
                    "names no file: {msg}"
                );
                assert!(!msg.contains(PASSWORD), "the password in a message: {msg}");
            }
        }
    }

    /// The key algorithm a certificate's SPKI names (RFC 5480, RFC 8017).
    fn spki_algorithm(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> KeyAlgorithm {
        const EC: der::asn1::ObjectIdentifier =
            der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
        const RSA: der::asn1::ObjectIdentifier =
            der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
        const P256: der::asn1::ObjectIdentifier =
            der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
        const P384: der::asn1::ObjectIdentifier =
            der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.to_der().ok())
            .and_then(|d| der::asn1::ObjectIdentifier::from_der(&d).ok());
        match (spki.algorithm.oid, curve) {
            (RSA, _) => KeyAlgorithm::Rsa,
            (EC, Some(P256)) => KeyAlgorithm::P256,
            (EC, Some(P384)) => KeyAlgorithm::P384,
            _ => KeyAlgorithm::Other,
        }
    }

    /// The certificate file's name as a path.
    pub fn cert_path() -> &'static Path {
        Path::new(CERT_PATH)
    }

    /// The key file's name as a path.
    pub fn key_path() -> &'static Path {
        Path::new(KEY_PATH)
    }
}
