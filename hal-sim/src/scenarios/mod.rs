//! Narrated scenarios for the `latchkey-sim` command: the certificate-renewal story the product
//! exists for (KB932521), run on the real slot table, resolver and simulated server.

pub mod soak;

use std::io::Write;
use std::sync::Arc;

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::supplicant::Event;
use latchkey_core::tls::VersionPolicy;

use crate::auth::tls::server_config_revoking;
use crate::drive::sim;
use crate::drive::sim::Scenario;
use crate::hal::memory;
use crate::pki::TestPki;

type Table = SharedSlotTable<8, 2048>;

fn list(out: &mut dyn Write, table: &Table) -> std::io::Result<()> {
    let table = table.with(|t| t.clone());
    for s in table.list() {
        let serial: String = s.serial().iter().map(|b| format!("{b:02x}")).collect();
        writeln!(
            out,
            "    {}: {:?}, enrollment #{}, serial {serial}, subject {}",
            s.index(),
            s.state(),
            s.enrollment(),
            s.subject()
        )?;
    }
    Ok(())
}

/// Run the renewal story, writing the narration to `out`; `Ok(true)` when every step behaved
/// as it must (new certificate accepted; archived-only refused with the typed error).
pub fn renewal(out: &mut dyn Write) -> Result<bool, Box<dyn std::error::Error>> {
    let pki = TestPki::generate()?;
    let old = pki.issue_client("device-0042", 0x01d)?;
    let new = pki.issue_client("device-0042", 0x2e3)?;
    let table: Arc<Table> = Arc::new(SharedSlotTable::new(SlotTable::new()));
    let key = |pkcs8: &[u8]| -> Result<KeyRef, String> {
        Ok(KeyRef::Inline(
            InlineKey::from_pkcs8_der(pkcs8).map_err(|e| e.to_string())?,
        ))
    };
    table.with(|t| {
        t.install(&old.cert, key(&old.key_pkcs8)?)
            .map_err(|e| e.to_string())
    })?;
    writeln!(out, "enrolled device-0042 (serial 01d)")?;
    table.with(|t| {
        t.install(&new.cert, key(&new.key_pkcs8)?)
            .map_err(|e| e.to_string())
    })?;
    writeln!(
        out,
        "auto-enrollment renewed it (serial 2e3): the old certificate is archived, not deleted"
    )?;
    list(out, &table)?;
    writeln!(out, "the RADIUS server's CRL revokes serial 01d")?;
    let server = server_config_revoking(&pki, VersionPolicy::Both, &[0x01d])?;
    let scenario = Scenario {
        revoked_serials: vec![0x01d],
        ..Scenario::default()
    };

    let mut ok = true;
    let sup = memory::client_builder(&pki, &scenario.config, VersionPolicy::Both, table.clone())?
        .build()
        .map_err(|e| e.to_string())?;
    let o = sim::run_with(sup, &server, &scenario)?;
    writeln!(out, "\n1) authenticate with both certificates in the table")?;
    match &o.event {
        Some(Event::Authenticated(a)) => {
            if let Some(sel) = a.certificate.as_ref().map(|c| &c.selection) {
                writeln!(out, "    selection: {sel}")?;
            }
            let saw_new = o.client_cert_seen.as_ref() == Some(&new.cert);
            writeln!(
                out,
                "    AUTHENTICATED with {}; the server saw the {} certificate",
                a.version,
                if saw_new { "renewed" } else { "WRONG" }
            )?;
            ok &= saw_new;
        }
        other => {
            writeln!(out, "    unexpected: {other:?}")?;
            ok = false;
        }
    }

    writeln!(
        out,
        "\n2) the renewed certificate is removed; only the archived one is left"
    )?;
    table.with(|t| -> Result<(), String> {
        let new_slot = t
            .list()
            .find(|s| s.der() == new.cert.as_ref())
            .map(|s| s.index());
        if let Some(i) = new_slot {
            t.remove(i).map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    list(out, &table)?;
    let sup = memory::client_builder(&pki, &scenario.config, VersionPolicy::Both, table.clone())?
        .build()
        .map_err(|e| e.to_string())?;
    let o = sim::run_with(sup, &server, &scenario)?;
    match &o.event {
        Some(Event::Failed(r)) => {
            writeln!(out, "    FAILED ({}): {r}", r.kind())?;
            writeln!(
                out,
                "    certificate sent to the server: {}",
                if o.client_cert_seen.is_some() {
                    "YES (wrong)"
                } else {
                    "none"
                }
            )?;
            ok &= r.kind() == "only-archived-match" && o.client_cert_seen.is_none();
        }
        other => {
            writeln!(out, "    unexpected: {other:?}")?;
            ok = false;
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    #[test]
    fn renewal_story_behaves_as_narrated() {
        let mut out = Vec::new();
        assert!(super::renewal(&mut out).expect("scenario runs"));
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.contains("the server saw the renewed certificate"),
            "{text}"
        );
        assert!(text.contains("only archived certificates match"), "{text}");
    }
}
