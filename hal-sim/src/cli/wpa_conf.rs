//! `-c FILE`: read the EAP-TLS settings of a wpa_supplicant.conf `network={...}` block (the
//! file admins already have for wpa_supplicant and eapol_test) and turn them into
//! `latchkey-sim` flags. The line format follows wpa_supplicant's `wpa_config_read()`
//! (config_file.c) and the network keys its wpa_supplicant.conf(5) reference: one `name=value`
//! a line, `#` comments outside quotes, quoted strings, unquoted strings as hex, unquoted
//! numbers. It is a simple line format of our own tool, so it is parsed here by hand.
//!
//! The flags are inserted into the command line before clap parses it, and only for flags the
//! user did not give: a flag on the command line overrides the file's value.

use std::ffi::OsString;
use std::path::Path;

/// Why a configuration file was refused. Every variant names the line to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfError {
    /// The file could not be read.
    Unreadable(String),
    /// A line of the file is malformed or holds a value Latchkey cannot use.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file has no `network={...}` block.
    NoNetwork,
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfError::Unreadable(e) => write!(f, "cannot read the configuration file: {e}"),
            ConfError::Line { line, reason } => write!(f, "line {line}: {reason}"),
            ConfError::NoNetwork => f.write_str("no network={...} block"),
        }
    }
}

impl std::error::Error for ConfError {}

/// The settings of the first network block, as `latchkey-sim` flags with their values, in
/// file order, and one warning line per key ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NetworkBlock {
    /// `(flag, value)` pairs, e.g. `("--ca", "/etc/ca.pem")`; a boolean flag has no value.
    pub flags: Vec<(&'static str, Option<String>)>,
    /// One line each: a key that is not used, with its line number.
    pub warnings: Vec<String>,
}

fn err<T>(line: usize, reason: impl Into<String>) -> Result<T, ConfError> {
    Err(ConfError::Line {
        line,
        reason: reason.into(),
    })
}

/// A value as wpa_supplicant reads a string: `"text"` (up to the last quote, no escapes) or
/// unquoted hex bytes.
fn string_value(line: usize, key: &str, v: &str) -> Result<String, ConfError> {
    if let Some(rest) = v.strip_prefix('"') {
        return match rest.rfind('"') {
            Some(end) => Ok(rest.get(..end).unwrap_or_default().to_owned()),
            None => err(line, format!("{key}: the quoted string is not closed")),
        };
    }
    if v.starts_with("P\"") {
        return err(line, format!("{key}: P\"...\" strings are not supported"));
    }
    // Unquoted: hex-encoded bytes (wpa_supplicant's rule for string fields).
    if v.is_empty() || v.len() % 2 != 0 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return err(
            line,
            format!("{key}: want a quoted string or hex bytes, got {v:?}"),
        );
    }
    let bytes: Vec<u8> = (0..v.len() / 2)
        .filter_map(|i| {
            v.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes).or_else(|_| err(line, format!("{key}: the hex bytes are not UTF-8")))
}

/// An unquoted decimal number.
fn number_value(line: usize, key: &str, v: &str) -> Result<u64, ConfError> {
    v.parse()
        .or_else(|_| err(line, format!("{key}: want an unquoted number, got {v:?}")))
}

/// Strip a `#` comment that starts after the last quote (wpa_supplicant's rule), and the
/// surrounding white space.
fn strip_comment(raw: &str) -> &str {
    let from = raw
        .find('"')
        .and_then(|first| {
            raw.get(first + 1..)
                .and_then(|r| r.rfind('"'))
                .map(|l| first + 1 + l)
        })
        .unwrap_or(0);
    let end = raw
        .get(from..)
        .and_then(|r| r.find('#'))
        .map_or(raw.len(), |h| from + h);
    raw.get(..end).unwrap_or(raw).trim()
}

/// Parse a configuration file's text.
pub fn parse(text: &str) -> Result<NetworkBlock, ConfError> {
    let mut out = NetworkBlock::default();
    let mut in_block = false;
    let mut blocks = 0usize;
    let mut cert: Option<(usize, String)> = None;
    let mut key: Option<String> = None;
    let mut archived: Vec<(usize, String, Option<String>)> = Vec::new();
    let mut tls: Option<&'static str> = None;
    let mut identity: Option<String> = None;
    let mut anonymous: Option<(usize, String)> = None;
    let mut eap_seen = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let l = strip_comment(raw);
        if l.is_empty() {
            continue;
        }
        if !in_block {
            if l.replace(' ', "") == "network={" {
                in_block = true;
                blocks += 1;
                if blocks > 1 {
                    out.warnings.push(format!(
                        "line {n}: only the first network block is used, this one is ignored"
                    ));
                }
            } else if let Some((k, _)) = l.split_once('=') {
                out.warnings
                    .push(format!("line {n}: global setting {k} is ignored"));
            } else {
                return err(n, format!("expected name=value, got {l:?}"));
            }
            continue;
        }
        if l == "}" {
            in_block = false;
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            return err(n, format!("expected name=value, got {l:?}"));
        };
        let (k, v) = (k.trim(), v.trim());
        if blocks > 1 {
            continue;
        }
        match k {
            "eap" => {
                // A space-separated method list; only EAP-TLS is offered by Latchkey.
                let m = v.trim_matches('"');
                if m.split_whitespace().ne(["TLS"]) {
                    return err(n, format!("eap={m}: Latchkey does EAP-TLS only (eap=TLS)"));
                }
                eap_seen = true;
            }
            "identity" => identity = Some(string_value(n, k, v)?),
            "anonymous_identity" => anonymous = Some((n, string_value(n, k, v)?)),
            "ca_cert" => out.flags.push(("--ca", Some(path_value(n, k, v)?))),
            "client_cert" => cert = Some((n, path_value(n, k, v)?)),
            "private_key" => key = Some(path_value(n, k, v)?),
            "private_key_passwd" => {
                let p = string_value(n, k, v)?;
                out.flags.push(("--key-pass", Some(format!("pass:{p}"))));
            }
            "domain_match" | "domain_suffix_match" => {
                let flag = if k == "domain_match" {
                    "--server-name"
                } else {
                    "--domain-suffix"
                };
                // wpa_supplicant separates alternatives with ';' (any one matching is enough).
                for d in string_value(n, k, v)?.split(';').filter(|d| !d.is_empty()) {
                    out.flags.push((flag, Some(d.to_owned())));
                }
            }
            "phase1" => tls = phase1(n, &string_value(n, k, v)?, &mut out.warnings)?.or(tls),
            "fragment_size" => {
                let f = number_value(n, k, v)?;
                out.flags.push(("--fragment-size", Some(f.to_string())));
            }
            "latchkey_archived_cert" => archived.push((n, path_value(n, k, v)?, None)),
            "latchkey_archived_key" => match archived.last_mut() {
                Some((_, _, slot_key @ None)) => *slot_key = Some(path_value(n, k, v)?),
                _ => {
                    return err(
                        n,
                        "latchkey_archived_key must follow its latchkey_archived_cert",
                    )
                }
            },
            // Used by wpa_supplicant for the association, not by the EAP method.
            "key_mgmt" | "ssid" | "scan_ssid" | "eapol_flags" | "ieee80211w" | "pairwise"
            | "group" | "proto" => {}
            _ => out
                .warnings
                .push(format!("line {n}: unknown key {k} is ignored")),
        }
    }
    if blocks == 0 {
        return Err(ConfError::NoNetwork);
    }
    if in_block {
        return err(
            text.lines().count(),
            "the network block is not closed with }",
        );
    }
    if !eap_seen {
        out.warnings
            .push("no eap= line: EAP-TLS is assumed".to_owned());
    }
    if let Some(id) = &identity {
        out.flags.push(("--identity", Some(id.clone())));
    }
    if let Some((n, anon)) = anonymous {
        // Latchkey's anonymous outer identity is the realm of the identity, `@realm`.
        let realm = identity
            .as_deref()
            .and_then(|id| id.rsplit_once('@'))
            .map(|(_, r)| format!("@{r}"));
        if realm.as_deref() != Some(anon.as_str()) {
            return err(
                n,
                format!(
                    "anonymous_identity {anon:?}: Latchkey sends only the identity's realm \
                     (\"@realm\") as the anonymous identity"
                ),
            );
        }
        out.flags.push(("--anonymous-identity", None));
    }
    if let Some(t) = tls {
        out.flags.push(("--tls", Some(t.to_owned())));
    }
    // Enrollment order: archived slots (older) first, then the active certificate.
    for (n, c, k) in archived {
        out.flags
            .push(("--slot", Some(slot(n, "archived", &c, k.as_deref())?)));
    }
    match (cert, key) {
        (Some((n, c)), k) => out
            .flags
            .push(("--slot", Some(slot(n, "active", &c, k.as_deref())?))),
        // A PKCS#12 file as private_key alone holds both (as wpa_supplicant reads it).
        (None, Some(k)) => out.flags.push(("--slot", Some(format!("active:{k}")))),
        (None, None) => {}
    }
    Ok(out)
}

/// A file name value; wpa_supplicant's `blob://` and `keystore://` have no meaning here.
fn path_value(line: usize, key: &str, v: &str) -> Result<String, ConfError> {
    let p = string_value(line, key, v)?;
    if p.contains("://") {
        return err(
            line,
            format!("{key}: only file names are supported, got {p:?}"),
        );
    }
    Ok(p)
}

/// `--slot` value; its `:` separators leave no room for a `:` in a file name.
fn slot(line: usize, state: &str, cert: &str, key: Option<&str>) -> Result<String, ConfError> {
    if cert.contains(':') || key.is_some_and(|k| k.contains(':')) {
        return err(
            line,
            "a file name with ':' cannot be used as a certificate slot",
        );
    }
    Ok(match key {
        Some(k) => format!("{state}:{cert}:{k}"),
        None => format!("{state}:{cert}"),
    })
}

/// The TLS version switches of `phase1`: `--tls` 1.2 or 1.3 when one version is disabled.
fn phase1(
    line: usize,
    v: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<&'static str>, ConfError> {
    let (mut no12, mut no13) = (false, false);
    for item in v.split_whitespace() {
        match item.split_once('=') {
            Some(("tls_disable_tlsv1_2", b)) => no12 = b == "1",
            Some(("tls_disable_tlsv1_3", b)) => no13 = b == "1",
            // Latchkey never offers TLS 1.0 or 1.1.
            Some(("tls_disable_tlsv1_0" | "tls_disable_tlsv1_1", _)) => {}
            _ => warnings.push(format!("line {line}: phase1 {item} is ignored")),
        }
    }
    match (no12, no13) {
        (true, true) => err(line, "phase1 disables both TLS 1.2 and TLS 1.3"),
        (true, false) => Ok(Some("1.3")),
        (false, true) => Ok(Some("1.2")),
        (false, false) => Ok(None),
    }
}

/// The long flags of `flag` the user already gave (`--ca x` or `--ca=x`).
fn given(args: &[OsString], flag: &str) -> bool {
    args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
    })
}

/// If the `radius` or `connect` command line holds `-c FILE` (or `--config FILE`), remove it
/// and insert the file's settings as flags, except the flags given on the command line. The
/// warnings go to stderr, one line each. Any other command line is returned unchanged.
pub fn expand_args(mut args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let sub = args.get(1).and_then(|s| s.to_str());
    if !matches!(sub, Some("radius" | "connect")) {
        return Ok(args);
    }
    let mut file: Option<OsString> = None;
    let mut i = 2;
    while let Some(a) = args.get(i) {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == "-c" || s == "--config" {
            if i + 1 >= args.len() {
                return Err(format!("{s} needs a FILE"));
            }
            args.remove(i);
            file = Some(args.remove(i));
        } else if let Some(f) = s.strip_prefix("--config=") {
            file = Some(f.into());
            args.remove(i);
        } else if let Some(f) = s.strip_prefix("-c").filter(|f| !f.is_empty()) {
            file = Some(f.into());
            args.remove(i);
        } else {
            i += 1;
        }
    }
    let Some(file) = file else { return Ok(args) };
    let path = Path::new(&file);
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {}",
            path.display(),
            ConfError::Unreadable(e.to_string())
        )
    })?;
    let block = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for w in &block.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    let mut extra = Vec::new();
    for (flag, value) in block.flags {
        if given(&args, flag) {
            continue;
        }
        match value {
            Some(v) => extra.push(OsString::from(format!("{flag}={v}"))),
            None => extra.push(OsString::from(flag)),
        }
    }
    // After the subcommand name, before the user's own flags.
    let tail = args.split_off(2);
    args.extend(extra);
    args.extend(tail);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(b: &NetworkBlock) -> Vec<String> {
        b.flags
            .iter()
            .map(|(f, v)| match v {
                Some(v) => format!("{f}={v}"),
                None => (*f).to_owned(),
            })
            .collect()
    }

    fn line_err(text: &str) -> (usize, String) {
        match parse(text) {
            Err(ConfError::Line { line, reason }) => (line, reason),
            other => panic!("{other:?}"),
        }
    }

    const FULL: &str = r#"# an eapol_test file
ctrl_interface=/var/run/wpa_supplicant
network={
	key_mgmt=WPA-EAP
	eap=TLS
	identity="device-0042@latchkey.test"   # trailing comment
	anonymous_identity="@latchkey.test"
	ca_cert="/pki/ca #1.pem"
	client_cert="/pki/new.pem"
	private_key="/pki/new.key"
	private_key_passwd="s3cret"
	domain_match="radius.latchkey.test;radius2.latchkey.test"
	domain_suffix_match="latchkey.test"
	phase1="tls_disable_tlsv1_0=1 tls_disable_tlsv1_3=1"
	fragment_size=1000
	latchkey_archived_cert="/pki/old.pem"
	latchkey_archived_key="/pki/old.key"
	latchkey_archived_cert="/pki/older.p12"
	priority=5
}
"#;

    #[test]
    fn every_key_maps_to_its_flag() {
        let b = parse(FULL).unwrap();
        assert_eq!(
            flags(&b),
            [
                "--ca=/pki/ca #1.pem",
                "--key-pass=pass:s3cret",
                "--server-name=radius.latchkey.test",
                "--server-name=radius2.latchkey.test",
                "--domain-suffix=latchkey.test",
                "--fragment-size=1000",
                "--identity=device-0042@latchkey.test",
                "--anonymous-identity",
                "--tls=1.2",
                "--slot=archived:/pki/old.pem:/pki/old.key",
                "--slot=archived:/pki/older.p12",
                "--slot=active:/pki/new.pem:/pki/new.key",
            ]
        );
        assert_eq!(
            b.warnings,
            [
                "line 2: global setting ctrl_interface is ignored",
                "line 19: unknown key priority is ignored",
            ]
        );
    }

    #[test]
    fn quoting_follows_wpa_supplicant() {
        // Unquoted strings are hex; '#' inside quotes is kept; the last quote ends the string.
        let b =
            parse("network={\n eap=TLS\n identity=6465762d31\n ca_cert=\"a\"b\" # x\n}\n").unwrap();
        assert_eq!(flags(&b), ["--ca=a\"b", "--identity=dev-1"]);
        let b = parse("network={\nphase1=\"tls_disable_tlsv1_2=1\"\n}").unwrap();
        assert_eq!(flags(&b), ["--tls=1.3"]);
        assert_eq!(b.warnings, ["no eap= line: EAP-TLS is assumed"]);
        // A PKCS#12 private_key alone fills the active slot.
        let b = parse("network={\neap=TLS\nprivate_key=\"/k.p12\"\n}").unwrap();
        assert_eq!(flags(&b), ["--slot=active:/k.p12"]);
    }

    #[test]
    fn errors_name_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("network={\neap=TLS\nidentity=dev\n}", 3, "hex bytes"),
            ("network={\neap=TLS\nidentity=\"dev\n}", 3, "not closed"),
            ("network={\neap=TLS\nidentity=P\"dev\"\n}", 3, "P\""),
            ("network={\neap=PEAP\n}", 2, "EAP-TLS only"),
            ("network={\n\neap=TLS TTLS\n}", 3, "EAP-TLS only"),
            ("network={\nfragment_size=\"1000\"\n}", 2, "unquoted number"),
            ("network={\nfragment_size=-1\n}", 2, "unquoted number"),
            ("network={\nca_cert=\"blob://ca\"\n}", 2, "file names"),
            ("network={\nlatchkey_archived_key=\"/k\"\n}", 2, "must follow"),
            (
                "network={\nlatchkey_archived_cert=\"/c\"\nlatchkey_archived_key=\"/k\"\nlatchkey_archived_key=\"/k2\"\n}",
                4,
                "must follow",
            ),
            (
                "network={\nphase1=\"tls_disable_tlsv1_2=1 tls_disable_tlsv1_3=1\"\n}",
                2,
                "both",
            ),
            (
                "network={\nidentity=\"d@r.test\"\nanonymous_identity=\"anonymous@r.test\"\n}",
                3,
                "realm",
            ),
            ("network={\nclient_cert=\"/a:b\"\n}", 2, "':'"),
            ("network={\njunk\n}", 2, "name=value"),
            ("junk\n", 1, "name=value"),
            ("network={\neap=TLS\n", 2, "not closed"),
        ];
        for (text, line, reason) in cases {
            let (l, r) = line_err(text);
            assert_eq!((l, r.contains(reason)), (*line, true), "{text:?}: {r}");
        }
        assert_eq!(parse("# nothing\n"), Err(ConfError::NoNetwork));
    }

    #[test]
    fn unknown_keys_and_extra_blocks_warn_one_line_each() {
        let b = parse(
            "network={\neap=TLS\nssid=\"x\"\nfoo=1\nbar=\"y\"\nphase1=\"tls_disable_session_ticket=1\"\n}\nnetwork={\neap=TLS\nidentity=\"z\"\n}\n",
        )
        .unwrap();
        assert_eq!(
            b.warnings,
            [
                "line 4: unknown key foo is ignored",
                "line 5: unknown key bar is ignored",
                "line 6: phase1 tls_disable_session_ticket=1 is ignored",
                "line 8: only the first network block is used, this one is ignored",
            ]
        );
        assert!(flags(&b).is_empty(), "the second block is not used");
    }

    #[test]
    fn every_truncation_is_a_block_or_a_typed_error() {
        for end in 0..=FULL.len() {
            let Some(text) = FULL.get(..end) else {
                continue;
            };
            match parse(text) {
                Ok(b) => assert!(text.trim_end().ends_with('}'), "{end}: {b:?}"),
                Err(ConfError::NoNetwork) => assert!(!text.contains("network={"), "{end}"),
                Err(ConfError::Line { line, .. }) => {
                    assert!((1..=text.lines().count()).contains(&line), "{end}")
                }
                Err(e) => panic!("{end}: {e}"),
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut s = String::from("network={\n");
            for _ in 0..(x % 64) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(b"ab=\"#{}\n 0P:;_"[(x % 14) as usize] as char);
            }
            let _ = parse(&s);
        }
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn command_line_flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.conf");
        std::fs::write(
            &f,
            "network={\neap=TLS\nidentity=\"a@r\"\nca_cert=\"/ca\"\nfragment_size=500\n}\n",
        )
        .unwrap();
        let fs = f.to_str().unwrap();
        let out = expand_args(os(&[
            "latchkey-sim",
            "radius",
            "-a",
            "127.0.0.1",
            "-c",
            fs,
            "--identity=b@r",
        ]))
        .unwrap();
        assert_eq!(
            out,
            os(&[
                "latchkey-sim",
                "radius",
                "--ca=/ca",
                "--fragment-size=500",
                "-a",
                "127.0.0.1",
                "--identity=b@r"
            ])
        );
        let with_eq = format!("--config={fs}");
        let out = expand_args(os(&["x", "connect", &with_eq, "--ca", "/mine"])).unwrap();
        assert_eq!(
            out,
            os(&[
                "x",
                "connect",
                "--fragment-size=500",
                "--identity=a@r",
                "--ca",
                "/mine"
            ])
        );
        // Other commands, and lines without -c, are untouched.
        let other = os(&["x", "demo", "-c", fs]);
        assert_eq!(expand_args(other.clone()).unwrap(), other);
        assert!(expand_args(os(&["x", "radius", "-c"])).is_err());
        let missing = expand_args(os(&["x", "radius", "-c", "/no/such/file"])).unwrap_err();
        assert!(missing.contains("/no/such/file"), "{missing}");
    }
}
