//! The image's own defmt log points (feature `defmt-semihosting`): boot, the link coming up,
//! every supplicant event and a failure's typed kind, next to latchkey-core's own log points
//! (its `defmt` feature: EAPOL-Starts, EAP responses, the server check, the result).
//!
//! The frames go to the host over Arm semihosting: `defmt-semihosting`'s global logger writes
//! them with SYS_WRITE to the host's standard output, which the QEMU test tooling keeps apart
//! from QEMU's own messages and decodes with the defmt table of this ELF
//! (test-support/src/defmt_log.rs). This is a second channel: the UART0 status lines are unchanged.
//! Which levels are compiled in is chosen at build time by `DEFMT_LOG` (defmt's default is
//! errors only; the test tooling builds with `DEFMT_LOG=debug`). Semihosting stops a board
//! that no debugger or QEMU answers, so the feature is for QEMU (or a probe) only.
//!
//! Without the feature every function here is empty and reads nothing (arguments are only
//! references and `Copy` values the caller already has), so the image is the same as one
//! built before this module existed.

#[cfg(feature = "defmt-semihosting")]
use defmt_semihosting as _;
use latchkey_core::Event;

use crate::app;
use crate::provision::Link;

// Every frame carries the board's milliseconds since the clock started.
#[cfg(feature = "defmt-semihosting")]
defmt::timestamp!("{=u64:ms}", crate::board::now_ms());

/// The image is configured: where its credentials came from (`cred`, with the reason when the
/// built-in ones are used), the slot table's time floor and the link.
#[inline(always)]
pub fn boot(cred: &str, why: &str, table: &app::Table, link: Link) {
    #[cfg(feature = "defmt-semihosting")]
    defmt::info!(
        "boot: credentials {=str}{=str}, slot table floor {=u64}, link {=str}",
        cred,
        why,
        table.with(|t| t.time_floor()),
        link_name(link)
    );
    #[cfg(not(feature = "defmt-semihosting"))]
    let _ = (cred, why, table, link);
}

/// The wired port is up: the PAE starts (EAPOL-Start to the group address).
#[inline(always)]
pub fn wired_up() {
    #[cfg(feature = "defmt-semihosting")]
    defmt::info!("link up: wired port, starting the supplicant");
}

/// The radio associated to `aa` (the host's `ASSOC`): the PAE starts on that link.
#[cfg(feature = "wpa")]
#[inline(always)]
pub fn associated(aa: &[u8; 6]) {
    #[cfg(feature = "defmt-semihosting")]
    defmt::info!("link up: associated to {=[u8]:02x}", aa.as_slice());
    #[cfg(not(feature = "defmt-semihosting"))]
    let _ = aa;
}

/// An event of the supplicant: a summary line at info (error for a failure, with its stable
/// kind) and the whole event, as latchkey-core formats it, at debug. Keys appear only as
/// fingerprints (latchkey-core's `Format` impls never print key material).
#[inline(always)]
pub fn event(event: &Event) {
    #[cfg(feature = "defmt-semihosting")]
    {
        match event {
            Event::Authenticated(a) => defmt::info!(
                "authenticated: {=str}, {=u16} EAP round trips, MSK fingerprint {=[u8]:02x}",
                a.version.as_str(),
                a.round_trips,
                a.keys.msk.fingerprint().0.as_slice()
            ),
            Event::Failed(reason) => {
                defmt::error!("authentication failed: {=str}", reason.kind().as_str())
            }
            #[cfg(feature = "wpa")]
            Event::InstallKeys(k) => defmt::info!(
                "keys to install, port {=str}",
                if k.port_open { "open" } else { "closed" }
            ),
            _ => defmt::info!("event of a kind this image does not know"),
        }
        defmt::debug!("event: {}", event);
    }
    #[cfg(not(feature = "defmt-semihosting"))]
    let _ = event;
}

#[cfg(feature = "defmt-semihosting")]
fn link_name(link: Link) -> &'static str {
    match link {
        Link::Wired => "wired",
        Link::Wifi => "wifi",
    }
}
