//! `latchkey-sim enroll`, `install` and `table` on bad input: each refusal is one line naming
//! the problem and the fix, exit status 2, and the table file is left byte for byte as it was
//! (or, when the command was to create it, not left behind at all). The whole cycle against
//! FreeRADIUS with openssl as the CA is `hal-sim/tests/self_renewal.rs`.

use std::path::Path;
use std::process::{Command, Output};

use latchkey_core::certs::{KeyRef, SlotIndex};
use latchkey_sim::hal::table_file::{self, FileFlash, FileTable};
use latchkey_test_support::pki_files::FilePki;

fn sim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run latchkey-sim")
}

/// Exit status 2, one line on stderr starting with `prefix` and containing `fix`.
fn refused(out: &Output, prefix: &str, fix: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with(prefix), "{err}");
    assert!(err.contains(fix), "{err}");
}

/// A table file holding `pki`'s renewed certificate, archived when `archived`, no pending key.
fn table_file(path: &Path, pki: &FilePki, archived: bool) {
    let key = latchkey_sim::cli::config::read_key(&pki.client_new.key).unwrap();
    let mut t = FileTable::new();
    t.install(&pki.client_new.der, KeyRef::Inline(key)).unwrap();
    if archived {
        t.archive(SlotIndex::new(0)).unwrap();
    }
    let mut flash = FileFlash::create(path).unwrap();
    table_file::save(path, &mut flash, &t).unwrap();
}

#[test]
fn bad_input_is_one_line_with_its_fix_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
    let dir = tmp.path();
    let cert = pki.client_new.cert.to_str().unwrap();
    let key = pki.client_new.key.to_str().unwrap();
    let unchanged = |name: &str, before: &[u8]| {
        assert!(
            std::fs::read(dir.join(name)).unwrap() == before,
            "{name} changed"
        );
    };

    // No table file yet, and no certificate to make one from.
    let out = sim(dir, &["enroll", "--table", "t.table"]);
    refused(&out, "ERROR (no-table)", "--cert CERT --key KEY");
    assert!(!dir.join("t.table").exists());
    // A key that is not the certificate's: refused, and no table file is left behind.
    let other_key = pki.client_old.key.to_str().unwrap();
    let out = sim(
        dir,
        &[
            "enroll", "--table", "t.table", "--cert", cert, "--key", other_key,
        ],
    );
    refused(&out, "ERROR (slot-refused)", "does not match");
    assert!(!dir.join("t.table").exists());

    // Only an archived certificate: nothing to renew.
    table_file(&dir.join("archived.table"), &pki, true);
    let before = std::fs::read(dir.join("archived.table")).unwrap();
    let out = sim(dir, &["enroll", "--table", "archived.table"]);
    refused(&out, "ERROR (no-active-slot)", "install one first");
    unchanged("archived.table", &before);
    let out = sim(dir, &["enroll", "--table", "archived.table", "--slot", "0"]);
    refused(&out, "ERROR (no-active-slot)", "install one first");
    unchanged("archived.table", &before);

    // An active certificate but no renewal started: nothing to install over.
    table_file(&dir.join("active.table"), &pki, false);
    let before = std::fs::read(dir.join("active.table")).unwrap();
    let out = sim(dir, &["install", "--table", "active.table", "--cert", cert]);
    refused(&out, "ERROR (no-pending)", "enroll first");
    unchanged("active.table", &before);
    // A slot that holds no active certificate.
    let out = sim(dir, &["enroll", "--table", "active.table", "--slot", "2"]);
    refused(&out, "ERROR (not-active)", "name an active slot");
    unchanged("active.table", &before);
    // An existing table with --cert: creating would overwrite it.
    let out = sim(
        dir,
        &[
            "enroll",
            "--table",
            "active.table",
            "--cert",
            cert,
            "--key",
            key,
        ],
    );
    refused(&out, "ERROR (table-exists)", "drop them");
    unchanged("active.table", &before);

    // Enroll; run again, the same pending key's request is written again, nothing saved.
    let first = sim(dir, &["enroll", "--table", "active.table"]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        String::from_utf8_lossy(&first.stdout).starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    let pending = std::fs::read(dir.join("active.table")).unwrap();
    assert!(pending != before);
    let again = sim(dir, &["enroll", "--table", "active.table"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(first.stdout, again.stdout);
    unchanged("active.table", &pending);
    let listed = sim(dir, &["table", "--table", "active.table"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("slot 1: pending ECDSA P-256 key, renewing slot 0"),
        "{listed}"
    );
    // Starting another renewal of another slot while one is pending.
    let out = sim(dir, &["enroll", "--table", "active.table", "--slot", "3"]);
    refused(&out, "ERROR (pending-exists)", "install its certificate");
    unchanged("active.table", &pending);

    // Files that are not what they should be.
    let out = sim(dir, &["install", "--table", "active.table", "--cert", key]);
    refused(&out, "ERROR (wrong-format)", "not a certificate");
    let out = sim(
        dir,
        &[
            "install",
            "--table",
            "active.table",
            "--cert",
            "missing.pem",
        ],
    );
    refused(&out, "ERROR (unreadable-file)", "missing.pem");
    unchanged("active.table", &pending);
    std::fs::write(dir.join("short.table"), &pending[..100]).unwrap();
    let out = sim(dir, &["table", "--table", "short.table"]);
    refused(&out, "ERROR (bad-table)", "not a slot table file");
    let mut corrupt = pending.clone();
    let region = table_file::layout().region_size as usize;
    // Both copies damaged (a load falls back to the other copy when only one is).
    corrupt[40] ^= 1;
    corrupt[region + 40] ^= 1;
    std::fs::write(dir.join("corrupt.table"), &corrupt).unwrap();
    let out = sim(dir, &["enroll", "--table", "corrupt.table"]);
    refused(&out, "ERROR (bad-table)", "re-enroll");

    // `radius --table` on an unusable table: one line, before any network traffic.
    let out = sim(
        dir,
        &[
            "radius",
            "--radius",
            "127.0.0.1:9",
            "--secret",
            "unused",
            "--ca",
            pki.ca.to_str().unwrap(),
            "--server-name",
            "radius.latchkey.test",
            "--identity",
            "device",
            "--table",
            "missing.table",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("ERROR (no-table)"), "{err}");
}
