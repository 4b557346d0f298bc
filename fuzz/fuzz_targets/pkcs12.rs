//! The PKCS#12 (.pfx/.p12) reader of `--slot STATE:FILE`, fed arbitrary bytes as the file with
//! the fixed password: a load is either a leaf (and its chain) with the leaf's own key, or one
//! typed, one-line error naming the file. A file that loads as a slot also loads as a key file
//! (`--slot STATE:CERT:KEY` with the .pfx as the key), with a key of the same algorithm.
#![no_main]

use latchkey_fuzz::credentials::{self, cert_path, key_path, password};
use latchkey_sim::cli::config::{key_from_bytes, slot_from_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pass = password();
    let slot = slot_from_bytes(cert_path(), data, None, Some(&pass));
    credentials::check(&slot);
    if let Ok(slot) = &slot {
        let key = key_from_bytes(data, key_path(), Some(&pass))
            .expect("a PKCS#12 file that loads as a slot loads as a key file");
        assert_eq!(key.algorithm(), slot.key.algorithm());
    }
});
