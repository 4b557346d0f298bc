//! The slot-table flash image loader and committer (the image format of `certs/persist.rs`).
//! Input: 4 KiB of flash as found at boot (two 2 KiB regions), then operations. Whatever the
//! flash holds, `load` returns a table or a typed error without panicking; the operations
//! applied to what loaded (or to an empty table) are committed with the power failing after a
//! chosen number of write units; the next load returns the table before or the table after
//! (after, whenever the commit reported success: "a successful commit is what the next load
//! returns"), and a commit with the power on always succeeds and is what loads.
#![no_main]

use latchkey_core::certs::{
    KeyRef, SelectionContext, SignatureScheme, SlotIndex, SlotState, TimeSource,
};
use latchkey_fuzz::{FuzzTable, RamFlash, Reader, FLASH_LEN, LAYOUT};
use libfuzzer_sys::fuzz_target;

/// Certificates of the simulator's PKI (two renewals of one identity, and another identity).
const CERTS: [&[u8]; 3] = [
    include_bytes!("../seeds/certs/client-old.der"),
    include_bytes!("../seeds/certs/client-new.der"),
    include_bytes!("../seeds/certs/other.der"),
];

const SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::RSA_PSS_RSAE_SHA256,
];

/// Selection never picks a slot that is not active.
fn check_selection(t: &FuzzTable) {
    for time in [TimeSource::Unknown, TimeSource::Floor(t.time_floor())] {
        let ctx = SelectionContext {
            time,
            acceptable_cas: &[],
            schemes: SCHEMES,
        };
        if let Ok(sel) = t.select(&ctx) {
            assert_eq!(
                t.state(sel.index()),
                Some(SlotState::Active),
                "selected a non-active slot"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (image, ops) = data.split_at(data.len().min(FLASH_LEN));
    let mut flash = RamFlash::with_contents(image);
    let before = FuzzTable::load(&mut flash, &LAYOUT).map(|(t, _)| t);
    if let Ok(t) = &before {
        check_selection(t);
    }

    let mut table = before.clone().unwrap_or_default();
    let mut r = Reader::new(ops);
    let n_ops = r.u8() % 8;
    for _ in 0..n_ops {
        let i = SlotIndex::new(usize::from(r.u8() % 3));
        let _ = match r.u8() % 6 {
            0 => {
                let der = CERTS[usize::from(r.u8()) % CERTS.len()];
                table
                    .install(der, KeyRef::Handle(u32::from(r.u8())))
                    .map(|_| ())
                    .map_err(|_| ())
            }
            1 => table.archive(i).map_err(|_| ()),
            2 => table.restore(i).map_err(|_| ()),
            3 => table.remove(i).map_err(|_| ()),
            4 => {
                table.purge_archived();
                Ok(())
            }
            _ => {
                table.observe_time(r.u64());
                Ok(())
            }
        };
    }
    check_selection(&table);

    let cut = r.u16();
    if cut & 0x8000 != 0 {
        flash.budget = Some(usize::from(cut & 0x7fff));
    }
    let result = table.commit(&mut flash, &LAYOUT);
    flash.budget = None;
    let after = FuzzTable::load(&mut flash, &LAYOUT).map(|(t, _)| t);
    if result.is_ok() {
        assert!(
            after.as_ref() == Ok(&table),
            "commit succeeded, load returned {after:?}"
        );
    } else {
        assert!(
            after == before || after.as_ref() == Ok(&table),
            "interrupted commit: load returned neither the old nor the new table: {after:?}"
        );
    }
    if let Ok(t) = &after {
        check_selection(t);
    }

    // Power back on: the device can always save its table again, and that is what loads.
    table
        .commit(&mut flash, &LAYOUT)
        .expect("commit with the power on");
    let reloaded = FuzzTable::load(&mut flash, &LAYOUT).map(|(t, _)| t);
    assert!(
        reloaded.as_ref() == Ok(&table),
        "committed table lost: {reloaded:?}"
    );
});
