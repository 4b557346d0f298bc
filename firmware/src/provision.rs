//! The device's provisioning record: its credentials and network settings, read at boot from a
//! region of flash written at provisioning time, not compiled into the image (as a production
//! line or a test rig writes them). On QEMU the test tooling fills the region with
//! `-device loader`. Bounded TLV parsing, every length checked before use, typed errors.
//!
//! Layout (all lengths big-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `LKPROV01` |
//! | 2 | length of the records that follow |
//! | … | records: tag (1), length (2), value |
//!
//! Records: 1 CA certificate (DER; 1 to [`MAX_ANCHORS`]), 2 the server's name (exact match,
//! UTF-8), 3 the outer EAP identity (UTF-8), 4 a certificate slot (1 to [`MAX_SLOTS`], oldest
//! first): state (0 active, 1 archived), certificate length (2), certificate DER, PKCS#8 DER of
//! its P-256 key (the rest); 5 the link (optional, at most once): 0 a wired port (the default:
//! the supplicant starts at boot), 1 Wi-Fi (it starts when the radio associates: on QEMU the
//! host's `ASSOC` command). Key material here is the device's own, read and never written out.

/// The record's magic: a region without it is not provisioned.
pub const MAGIC: &[u8; 8] = b"LKPROV01";
/// CA certificates the record may hold.
pub const MAX_ANCHORS: usize = 4;
/// Certificate slots the record may hold (the image's slot table has as many).
pub const MAX_SLOTS: usize = 4;

/// Record tags.
pub const TAG_ANCHOR: u8 = 1;
/// The server name record.
pub const TAG_SERVER_NAME: u8 = 2;
/// The identity record.
pub const TAG_IDENTITY: u8 = 3;
/// A certificate slot record.
pub const TAG_SLOT: u8 = 4;
/// The link record.
pub const TAG_LINK: u8 = 5;

/// The device's network link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A wired 802.1X port: authenticate from boot.
    Wired,
    /// Wi-Fi: authenticate (and run the WPA key handshakes) once associated.
    Wifi,
}

/// A slot's state as provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Used for authentication.
    Active,
    /// Kept but never presented (a superseded certificate).
    Archived,
}

/// One provisioned certificate slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    /// Active or archived.
    pub state: SlotState,
    /// The certificate, DER.
    pub cert: &'a [u8],
    /// Its P-256 private key, PKCS#8 DER.
    pub key: &'a [u8],
}

/// The provisioned settings, borrowed from the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned<'a> {
    /// CA certificates the server chain must lead to.
    pub anchors: heapless::Vec<&'a [u8], MAX_ANCHORS>,
    /// The name the server certificate must carry.
    pub server_name: &'a str,
    /// The outer EAP identity.
    pub identity: &'a str,
    /// Certificate slots, oldest first.
    pub slots: heapless::Vec<Slot<'a>, MAX_SLOTS>,
    /// The network link.
    pub link: Link,
}

/// Why the region does not hold a usable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionError {
    /// No magic: the device was never provisioned.
    NotProvisioned,
    /// A length points past the end of the region or of its record.
    Truncated,
    /// A record tag this image does not know.
    UnknownTag(u8),
    /// More CA certificates or slots than the image holds.
    TooMany(u8),
    /// A name or identity is not UTF-8.
    NotUtf8(u8),
    /// A slot's state byte is neither 0 nor 1.
    BadSlotState(u8),
    /// The link record is not one byte of 0 or 1, or appears twice.
    BadLink,
    /// The server name, the identity, a CA certificate or a slot is missing, or one of the
    /// first two appears twice.
    Incomplete,
}

impl ProvisionError {
    /// A short, stable name (for the boot line).
    pub fn kind(&self) -> &'static str {
        match self {
            ProvisionError::NotProvisioned => "not-provisioned",
            ProvisionError::Truncated => "truncated",
            ProvisionError::UnknownTag(_) => "unknown-tag",
            ProvisionError::TooMany(_) => "too-many",
            ProvisionError::NotUtf8(_) => "not-utf8",
            ProvisionError::BadSlotState(_) => "bad-slot-state",
            ProvisionError::BadLink => "bad-link",
            ProvisionError::Incomplete => "incomplete",
        }
    }
}

fn be16(b: &[u8], at: usize) -> Result<usize, ProvisionError> {
    match (b.get(at), b.get(at + 1)) {
        (Some(hi), Some(lo)) => Ok(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => Err(ProvisionError::Truncated),
    }
}

/// Parses the record at the start of `region`.
pub fn parse(region: &[u8]) -> Result<Provisioned<'_>, ProvisionError> {
    if region.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(ProvisionError::NotProvisioned);
    }
    let total = be16(region, MAGIC.len())?;
    let start = MAGIC.len() + 2;
    let mut rest = region
        .get(start..start + total)
        .ok_or(ProvisionError::Truncated)?;
    let mut anchors = heapless::Vec::new();
    let mut slots = heapless::Vec::new();
    let mut server_name = None;
    let mut identity = None;
    let mut link = None;
    while !rest.is_empty() {
        let tag = *rest.first().ok_or(ProvisionError::Truncated)?;
        let len = be16(rest, 1)?;
        let value = rest.get(3..3 + len).ok_or(ProvisionError::Truncated)?;
        rest = rest.get(3 + len..).ok_or(ProvisionError::Truncated)?;
        let text = || core::str::from_utf8(value).map_err(|_| ProvisionError::NotUtf8(tag));
        match tag {
            TAG_ANCHOR => anchors
                .push(value)
                .map_err(|_| ProvisionError::TooMany(tag))?,
            TAG_SERVER_NAME if server_name.is_none() => server_name = Some(text()?),
            TAG_IDENTITY if identity.is_none() => identity = Some(text()?),
            TAG_SERVER_NAME | TAG_IDENTITY => return Err(ProvisionError::Incomplete),
            TAG_SLOT => {
                let state = match value.first() {
                    Some(0) => SlotState::Active,
                    Some(1) => SlotState::Archived,
                    Some(s) => return Err(ProvisionError::BadSlotState(*s)),
                    None => return Err(ProvisionError::Truncated),
                };
                let cert_len = be16(value, 1)?;
                let cert = value
                    .get(3..3 + cert_len)
                    .ok_or(ProvisionError::Truncated)?;
                let key = value.get(3 + cert_len..).ok_or(ProvisionError::Truncated)?;
                if cert.is_empty() || key.is_empty() {
                    return Err(ProvisionError::Truncated);
                }
                slots
                    .push(Slot { state, cert, key })
                    .map_err(|_| ProvisionError::TooMany(tag))?;
            }
            TAG_LINK if link.is_none() => {
                link = Some(match value {
                    [0] => Link::Wired,
                    [1] => Link::Wifi,
                    _ => return Err(ProvisionError::BadLink),
                })
            }
            TAG_LINK => return Err(ProvisionError::BadLink),
            other => return Err(ProvisionError::UnknownTag(other)),
        }
    }
    match (server_name, identity) {
        (Some(server_name), Some(identity)) if !anchors.is_empty() && !slots.is_empty() => {
            Ok(Provisioned {
                anchors,
                server_name,
                identity,
                slots,
                link: link.unwrap_or(Link::Wired),
            })
        }
        _ => Err(ProvisionError::Incomplete),
    }
}
