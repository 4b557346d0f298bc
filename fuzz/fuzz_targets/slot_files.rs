//! The `--slot` file loaders (PEM/DER detection of certificates and keys; plain and encrypted
//! PKCS#8, SEC1, PKCS#1, PKCS#12), fed an arbitrary certificate file and key file (or one
//! file holding both) with or without the fixed `--key-pass`: a load is either certificates
//! that parse in full with the leaf's own key, or one typed, one-line error naming a file.
#![no_main]

use latchkey_fuzz::credentials::{self, cert_path, decode_slot_files, key_path, password};
use latchkey_sim::cli::config::slot_from_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = decode_slot_files(data);
    let pass = password();
    let result = slot_from_bytes(
        cert_path(),
        files.cert,
        files.key.map(|k| (key_path(), k)),
        files.with_password.then_some(&pass),
    );
    credentials::check(&result);
});
