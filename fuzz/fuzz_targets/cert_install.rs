//! Certificate metadata parsing and `SlotTable::install` of arbitrary DER (RFC 5280 §4.1): a
//! typed refusal that leaves the table unchanged, or an installed slot that holds exactly
//! these bytes, persists and loads back equal, is refused a second time, and is never selected
//! once archived. Where x509-cert's full parse accepts the same bytes, both parsers agree on
//! serial, issuer, subject (as decoded Names: x509-cert sorts a SET OF it decodes) and validity.
#![no_main]

use der::Decode;
use x509_cert::name::Name;

use latchkey_core::certs::{
    InstallError, KeyRef, SelectionContext, SignatureScheme, SlotIndex, SlotState, SlotTable,
    TimeSource,
};
use latchkey_fuzz::RamFlash;
use libfuzzer_sys::fuzz_target;

type Table = SlotTable<2, 1536>;

const LAYOUT4K: latchkey_core::certs::FlashLayout = latchkey_core::certs::FlashLayout {
    region_a: 0,
    region_b: 2048 * 2,
    region_size: 2048 * 2,
};

fuzz_target!(|data: &[u8]| {
    let mut table = Table::new();
    let empty = table.clone();
    let i = match table.install(data, KeyRef::Handle(7)) {
        Ok(i) => i,
        Err(e) => {
            assert!(table == empty, "a refused install changed the table");
            assert!(
                matches!(
                    e,
                    InstallError::TooLarge { .. } | InstallError::Malformed(_)
                ),
                "{e:?}"
            );
            return;
        }
    };
    let info = table.get(i).expect("installed slot");
    assert_eq!(info.der(), data);
    assert_eq!(info.state(), SlotState::Active);
    let meta = *info.metadata();
    // Installing raises the persisted time floor to the certificate's notBefore.
    assert!(table.time_floor() >= meta.not_before());
    // Borrowed fields are views into the stored certificate.
    let der = info.der();
    let within = |s: &[u8]| {
        let base = der.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        s.is_empty() || (p >= base && p + s.len() <= base + der.len())
    };
    assert!(
        within(info.serial()) && within(info.issuer().as_der()) && within(info.subject().as_der())
    );
    let _ = format!("{info}");
    if let Ok(full) = x509_cert::Certificate::from_der(data) {
        let tbs = &full.tbs_certificate;
        assert_eq!(
            info.serial(),
            tbs.serial_number.as_bytes(),
            "serial differs"
        );
        assert_eq!(
            Name::from_der(info.issuer().as_der()).as_ref(),
            Ok(&tbs.issuer),
            "issuer differs"
        );
        assert_eq!(
            Name::from_der(info.subject().as_der()).as_ref(),
            Ok(&tbs.subject),
            "subject differs"
        );
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
        assert_eq!(
            meta.not_before(),
            secs(tbs.validity.not_before),
            "notBefore differs"
        );
        assert_eq!(
            meta.not_after(),
            secs(tbs.validity.not_after),
            "notAfter differs"
        );
    }
    assert_eq!(
        table.install(data, KeyRef::Handle(8)),
        Err(InstallError::AlreadyInstalled(i))
    );

    // Persisted and loaded back: the metadata parsed again from flash is the same.
    let mut flash = RamFlash::with_contents(&[]);
    flash.mem.resize(2048 * 4, 0xFF);
    table.commit(&mut flash, &LAYOUT4K).expect("commit");
    let (loaded, _) = Table::load(&mut flash, &LAYOUT4K).expect("load");
    assert!(loaded == table, "loaded table differs");

    // Archived: never selected, whatever the server accepts.
    table.archive(i).expect("archive");
    let schemes = [
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384,
        SignatureScheme::RSA_PKCS1_SHA256,
        SignatureScheme::RSA_PSS_RSAE_SHA256,
    ];
    let ctx = SelectionContext {
        time: TimeSource::Unknown,
        acceptable_cas: &[],
        schemes: &schemes,
    };
    assert!(
        table.select(&ctx).is_err(),
        "an archived certificate was selected"
    );
    table.restore(i).expect("restore");
    if let Ok(sel) = table.select(&ctx) {
        assert_eq!(sel.index(), i);
        assert_eq!(sel.der(), data);
    }
    assert_eq!(table.state(SlotIndex::new(1)), Some(SlotState::Empty));
});
