//! RADIUS wire format for an 802.1X authenticator relaying EAP: Access-Request encoding with
//! EAP-Message split at 253 bytes and Message-Authenticator (RFC 2865 §3-5, RFC 3579 §3.1-3.2),
//! reply parsing with Response Authenticator and Message-Authenticator checks, State echo, and
//! MS-MPPE-Send/Recv-Key decryption (RFC 2548 §2.4.2-2.4.3). Malformed input is a typed error.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Largest RADIUS packet (RFC 2865 §3).
pub const MAX_PACKET: usize = 4096;
/// Header: code, identifier, length, authenticator.
pub const HEADER_LEN: usize = 20;
/// Largest attribute value.
pub const MAX_ATTR_VALUE: usize = 253;

/// Attribute types used here (RFC 2865 §5, RFC 3579 §3).
pub mod attr {
    /// User-Name.
    pub const USER_NAME: u8 = 1;
    /// NAS-IP-Address.
    pub const NAS_IP_ADDRESS: u8 = 4;
    /// Service-Type.
    pub const SERVICE_TYPE: u8 = 6;
    /// Framed-MTU.
    pub const FRAMED_MTU: u8 = 12;
    /// Reply-Message.
    pub const REPLY_MESSAGE: u8 = 18;
    /// State.
    pub const STATE: u8 = 24;
    /// Vendor-Specific.
    pub const VENDOR_SPECIFIC: u8 = 26;
    /// Called-Station-Id.
    pub const CALLED_STATION_ID: u8 = 30;
    /// Calling-Station-Id.
    pub const CALLING_STATION_ID: u8 = 31;
    /// NAS-Identifier.
    pub const NAS_IDENTIFIER: u8 = 32;
    /// NAS-Port-Type.
    pub const NAS_PORT_TYPE: u8 = 61;
    /// EAP-Message.
    pub const EAP_MESSAGE: u8 = 79;
    /// Message-Authenticator.
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
}

/// Microsoft's vendor id and the MPPE key vendor types (RFC 2548 §2.4.2, §2.4.3).
const VENDOR_MICROSOFT: u32 = 311;
const MS_MPPE_SEND_KEY: u8 = 16;
const MS_MPPE_RECV_KEY: u8 = 17;

/// RADIUS packet codes (RFC 2865 §3); an unknown code is a value, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Access-Request (1).
    AccessRequest,
    /// Access-Accept (2).
    AccessAccept,
    /// Access-Reject (3).
    AccessReject,
    /// Access-Challenge (11).
    AccessChallenge,
    /// Status-Server (12).
    StatusServer,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for Code {
    fn from(v: u8) -> Self {
        match v {
            1 => Code::AccessRequest,
            2 => Code::AccessAccept,
            3 => Code::AccessReject,
            11 => Code::AccessChallenge,
            12 => Code::StatusServer,
            other => Code::Unknown(other),
        }
    }
}

impl From<Code> for u8 {
    fn from(c: Code) -> u8 {
        match c {
            Code::AccessRequest => 1,
            Code::AccessAccept => 2,
            Code::AccessReject => 3,
            Code::AccessChallenge => 11,
            Code::StatusServer => 12,
            Code::Unknown(v) => v,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::AccessRequest => f.write_str("Access-Request"),
            Code::AccessAccept => f.write_str("Access-Accept"),
            Code::AccessReject => f.write_str("Access-Reject"),
            Code::AccessChallenge => f.write_str("Access-Challenge"),
            Code::StatusServer => f.write_str("Status-Server"),
            Code::Unknown(v) => write!(f, "code {v}"),
        }
    }
}

/// What is wrong with a RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadiusError {
    /// Shorter than the 20-byte header.
    Truncated(usize),
    /// The Length field is below 20, above 4096, or beyond the datagram.
    BadLength {
        /// The Length field.
        field: usize,
        /// Bytes received.
        received: usize,
    },
    /// An attribute's length is below 2 or runs past the packet.
    BadAttribute {
        /// Offset of the attribute in the packet.
        offset: usize,
    },
    /// The Response Authenticator does not verify (usually: the shared secret is wrong).
    BadResponseAuthenticator,
    /// The Message-Authenticator does not verify.
    BadMessageAuthenticator,
    /// A reply carrying EAP-Message without Message-Authenticator (RFC 3579 §3.2 says drop).
    MissingMessageAuthenticator,
    /// Message-Authenticator is not 16 bytes.
    BadMessageAuthenticatorLength(usize),
    /// The reply's identifier is not the request's.
    IdMismatch {
        /// The request's.
        expected: u8,
        /// The reply's.
        got: u8,
    },
    /// A code that is no answer to an Access-Request.
    UnexpectedCode(Code),
    /// An MS-MPPE key attribute cannot be decrypted or has a bad length.
    BadMppeKey(&'static str),
    /// A request attribute value is longer than 253 bytes, or the packet beyond 4096.
    TooLong,
}

impl std::fmt::Display for RadiusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RadiusError::Truncated(n) => {
                write!(f, "RADIUS packet of {n} bytes is shorter than its header")
            }
            RadiusError::BadLength { field, received } => write!(
                f,
                "RADIUS Length field {field} is invalid for a {received}-byte datagram"
            ),
            RadiusError::BadAttribute { offset } => {
                write!(
                    f,
                    "RADIUS attribute at offset {offset} has an invalid length"
                )
            }
            RadiusError::BadResponseAuthenticator => {
                f.write_str("RADIUS Response Authenticator does not verify (wrong shared secret?)")
            }
            RadiusError::BadMessageAuthenticator => {
                f.write_str("RADIUS Message-Authenticator does not verify (wrong shared secret?)")
            }
            RadiusError::MissingMessageAuthenticator => {
                f.write_str("RADIUS reply carries EAP-Message without Message-Authenticator")
            }
            RadiusError::BadMessageAuthenticatorLength(n) => {
                write!(f, "RADIUS Message-Authenticator is {n} bytes, not 16")
            }
            RadiusError::IdMismatch { expected, got } => write!(
                f,
                "RADIUS reply identifier {got} does not match request {expected}"
            ),
            RadiusError::UnexpectedCode(c) => {
                write!(f, "RADIUS reply is a {c}, not an answer to Access-Request")
            }
            RadiusError::BadMppeKey(why) => write!(f, "MS-MPPE key attribute unusable: {why}"),
            RadiusError::TooLong => f.write_str("RADIUS request would exceed 4096 bytes"),
        }
    }
}

impl std::error::Error for RadiusError {}

type HmacMd5 = Hmac<Md5>;

/// A parsed packet borrowing its attributes from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Code.
    pub code: Code,
    /// Identifier.
    pub id: u8,
    /// The authenticator field as received.
    pub authenticator: [u8; 16],
    /// (type, value) in order.
    pub attributes: Vec<(u8, &'a [u8])>,
    /// The packet bytes up to its Length (trailing padding dropped).
    pub raw: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parse and length-check a datagram (no authenticator checks).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RadiusError> {
        let header = buf
            .get(..HEADER_LEN)
            .ok_or(RadiusError::Truncated(buf.len()))?;
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if !(HEADER_LEN..=MAX_PACKET).contains(&len) || len > buf.len() {
            return Err(RadiusError::BadLength {
                field: len,
                received: buf.len(),
            });
        }
        // Octets beyond Length are padding and ignored (RFC 2865 §3).
        let raw = &buf[..len];
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&header[4..20]);
        let mut attributes = Vec::new();
        let mut off = HEADER_LEN;
        while off < len {
            let (Some(&t), Some(&l)) = (raw.get(off), raw.get(off + 1)) else {
                return Err(RadiusError::BadAttribute { offset: off });
            };
            let l = usize::from(l);
            let value = raw
                .get(off + 2..off + l)
                .filter(|_| l >= 2)
                .ok_or(RadiusError::BadAttribute { offset: off })?;
            attributes.push((t, value));
            off += l;
        }
        Ok(Packet {
            code: Code::from(header[0]),
            id: header[1],
            authenticator,
            attributes,
            raw,
        })
    }

    /// The first value of an attribute.
    pub fn get(&self, typ: u8) -> Option<&'a [u8]> {
        self.attributes
            .iter()
            .find(|(t, _)| *t == typ)
            .map(|(_, v)| *v)
    }

    /// Every EAP-Message value concatenated (RFC 3579 §3.1), if there is any.
    pub fn eap_message(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut any = false;
        for (t, v) in &self.attributes {
            if *t == attr::EAP_MESSAGE {
                out.extend_from_slice(v);
                any = true;
            }
        }
        any.then_some(out)
    }

    /// Microsoft vendor-specific sub-attributes (vendor type, value).
    fn microsoft(&self) -> impl Iterator<Item = (u8, &'a [u8])> + '_ {
        self.attributes
            .iter()
            .filter(|(t, _)| *t == attr::VENDOR_SPECIFIC)
            .filter_map(|(_, v)| {
                let vendor = u32::from_be_bytes(v.get(..4)?.try_into().ok()?);
                let vt = *v.get(4)?;
                let vl = usize::from(*v.get(5)?);
                (vendor == VENDOR_MICROSOFT && vl >= 2)
                    .then(|| v.get(6..4 + vl).map(|val| (vt, val)))
                    .flatten()
            })
    }
}

/// MD5 of the packet with `request_auth` in the authenticator field, then the secret
/// (RFC 2865 §3 Response Authenticator).
fn response_authenticator(raw: &[u8], request_auth: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(&raw[..4]);
    h.update(request_auth);
    h.update(&raw[HEADER_LEN..]);
    h.update(secret);
    h.finalize().into()
}

/// HMAC-MD5 over the packet with `auth` in the authenticator field and the
/// Message-Authenticator value zeroed (RFC 3579 §3.2). `ma_offset` is the value's offset.
fn message_authenticator(raw: &[u8], auth: &[u8; 16], ma_offset: usize, secret: &[u8]) -> [u8; 16] {
    let mut copy = raw.to_vec();
    copy[4..20].copy_from_slice(auth);
    copy[ma_offset..ma_offset + 16].fill(0);
    // HMAC accepts keys of any length.
    let mut mac = <HmacMd5 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(&copy);
    mac.finalize().into_bytes().into()
}

/// Offset of the first Message-Authenticator value in a well-formed packet.
fn message_authenticator_offset(raw: &[u8]) -> Option<usize> {
    let mut off = HEADER_LEN;
    while off + 2 <= raw.len() {
        let l = usize::from(raw[off + 1]);
        if raw[off] == attr::MESSAGE_AUTHENTICATOR {
            return Some(off + 2);
        }
        if l < 2 {
            return None;
        }
        off += l;
    }
    None
}

/// An Access-Request under construction.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    /// Identifier (kept on retransmission).
    pub id: u8,
    /// Request Authenticator (random, kept on retransmission).
    pub authenticator: [u8; 16],
    /// Attributes other than EAP-Message and Message-Authenticator, in order.
    pub attributes: Vec<(u8, Vec<u8>)>,
    /// The EAP packet to carry (split over EAP-Message attributes).
    pub eap: Vec<u8>,
}

impl AccessRequest {
    /// Encode with EAP-Message split at 253 bytes and a Message-Authenticator (RFC 3579 §3).
    pub fn encode(&self, secret: &[u8]) -> Result<Vec<u8>, RadiusError> {
        let mut p = vec![u8::from(Code::AccessRequest), self.id, 0, 0];
        p.extend_from_slice(&self.authenticator);
        for (t, v) in &self.attributes {
            if v.len() > MAX_ATTR_VALUE {
                return Err(RadiusError::TooLong);
            }
            p.push(*t);
            p.push((v.len() + 2) as u8);
            p.extend_from_slice(v);
        }
        for chunk in self.eap.chunks(MAX_ATTR_VALUE) {
            p.push(attr::EAP_MESSAGE);
            p.push((chunk.len() + 2) as u8);
            p.extend_from_slice(chunk);
        }
        p.push(attr::MESSAGE_AUTHENTICATOR);
        p.push(18);
        let ma_offset = p.len();
        p.extend_from_slice(&[0u8; 16]);
        if p.len() > MAX_PACKET {
            return Err(RadiusError::TooLong);
        }
        let len = (p.len() as u16).to_be_bytes();
        p[2..4].copy_from_slice(&len);
        let ma = message_authenticator(&p, &self.authenticator, ma_offset, secret);
        p[ma_offset..ma_offset + 16].copy_from_slice(&ma);
        Ok(p)
    }
}

/// A verified reply to an Access-Request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Access-Accept, -Reject or -Challenge.
    pub code: Code,
    /// Its EAP packet (EAP-Message values concatenated).
    pub eap: Option<Vec<u8>>,
    /// State to echo in the next request.
    pub state: Option<Vec<u8>>,
    /// Reply-Message text, if any.
    pub reply_message: Option<String>,
    /// MS-MPPE-Recv-Key, decrypted (Access-Accept); zeroized on drop.
    pub mppe_recv: Option<Zeroizing<Vec<u8>>>,
    /// MS-MPPE-Send-Key, decrypted (Access-Accept); zeroized on drop.
    pub mppe_send: Option<Zeroizing<Vec<u8>>>,
}

/// Parse a reply and verify it answers `request` (identifier, Response Authenticator,
/// Message-Authenticator) under `secret`; decrypt MPPE keys.
pub fn verify_reply(
    buf: &[u8],
    request: &AccessRequest,
    secret: &[u8],
) -> Result<Reply, RadiusError> {
    let p = Packet::parse(buf)?;
    if p.id != request.id {
        return Err(RadiusError::IdMismatch {
            expected: request.id,
            got: p.id,
        });
    }
    if !matches!(
        p.code,
        Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
    ) {
        return Err(RadiusError::UnexpectedCode(p.code));
    }
    let expected = response_authenticator(p.raw, &request.authenticator, secret);
    if !bool::from(expected.ct_eq(&p.authenticator)) {
        return Err(RadiusError::BadResponseAuthenticator);
    }
    match p.get(attr::MESSAGE_AUTHENTICATOR) {
        Some(v) if v.len() != 16 => {
            return Err(RadiusError::BadMessageAuthenticatorLength(v.len()))
        }
        Some(v) => {
            let off =
                message_authenticator_offset(p.raw).ok_or(RadiusError::BadMessageAuthenticator)?;
            let mac = message_authenticator(p.raw, &request.authenticator, off, secret);
            if !bool::from(mac.ct_eq(v)) {
                return Err(RadiusError::BadMessageAuthenticator);
            }
        }
        None if p.get(attr::EAP_MESSAGE).is_some() => {
            return Err(RadiusError::MissingMessageAuthenticator)
        }
        None => {}
    }
    let mut mppe_recv = None;
    let mut mppe_send = None;
    for (vt, v) in p.microsoft() {
        match vt {
            MS_MPPE_RECV_KEY => {
                mppe_recv = Some(decrypt_mppe_key(v, &request.authenticator, secret)?)
            }
            MS_MPPE_SEND_KEY => {
                mppe_send = Some(decrypt_mppe_key(v, &request.authenticator, secret)?)
            }
            _ => {}
        }
    }
    Ok(Reply {
        code: p.code,
        eap: p.eap_message(),
        state: p.get(attr::STATE).map(<[u8]>::to_vec),
        reply_message: p
            .get(attr::REPLY_MESSAGE)
            .map(|m| String::from_utf8_lossy(m).into_owned()),
        mppe_recv,
        mppe_send,
    })
}

/// Decrypt an MS-MPPE-Send/Recv-Key value: salt(2) || ciphertext (RFC 2548 §2.4.2):
/// b(1) = MD5(S + R + A), c(i) = p(i) xor b(i), b(i) = MD5(S + c(i-1)); the plaintext is
/// key-length(1) || key || padding.
pub fn decrypt_mppe_key(
    value: &[u8],
    request_auth: &[u8; 16],
    secret: &[u8],
) -> Result<Zeroizing<Vec<u8>>, RadiusError> {
    let (salt, cipher) = value
        .split_at_checked(2)
        .ok_or(RadiusError::BadMppeKey("shorter than its salt"))?;
    if salt.first().is_none_or(|s| s & 0x80 == 0) {
        return Err(RadiusError::BadMppeKey("salt's high bit is not set"));
    }
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return Err(RadiusError::BadMppeKey(
            "ciphertext is not a multiple of 16 bytes",
        ));
    }
    let mut plain = Zeroizing::new(Vec::with_capacity(cipher.len()));
    let mut prev: Vec<u8> = [request_auth.as_slice(), salt].concat();
    for block in cipher.chunks(16) {
        let b: [u8; 16] = Md5::new()
            .chain_update(secret)
            .chain_update(&prev)
            .finalize()
            .into();
        plain.extend(block.iter().zip(b.iter()).map(|(c, k)| c ^ k));
        prev = block.to_vec();
    }
    let key_len = usize::from(plain[0]);
    let key = plain
        .get(1..1 + key_len)
        .ok_or(RadiusError::BadMppeKey(
            "key length beyond the decrypted data",
        ))?
        .to_vec();
    Ok(Zeroizing::new(key))
}

/// Encrypt an MPPE key as a server does (for tests of [`decrypt_mppe_key`] and test servers).
pub fn encrypt_mppe_key(
    key: &[u8],
    salt: [u8; 2],
    request_auth: &[u8; 16],
    secret: &[u8],
) -> Vec<u8> {
    let mut plain = vec![key.len() as u8];
    plain.extend_from_slice(key);
    while plain.len() % 16 != 0 {
        plain.push(0);
    }
    let mut out = salt.to_vec();
    let mut prev: Vec<u8> = [request_auth.as_slice(), &salt].concat();
    for block in plain.chunks(16) {
        let b: [u8; 16] = Md5::new()
            .chain_update(secret)
            .chain_update(&prev)
            .finalize()
            .into();
        let c: Vec<u8> = block.iter().zip(b.iter()).map(|(p, k)| p ^ k).collect();
        out.extend_from_slice(&c);
        prev = c;
    }
    out
}

/// Sign a reply as a server does (Message-Authenticator if present, then Response
/// Authenticator), for test servers. `packet` has its Length set and, if it carries a
/// Message-Authenticator, 16 zero bytes in it.
pub fn sign_reply(packet: &mut [u8], request_auth: &[u8; 16], secret: &[u8]) {
    if let Some(off) = message_authenticator_offset(packet) {
        let ma = message_authenticator(packet, request_auth, off, secret);
        packet[off..off + 16].copy_from_slice(&ma);
    }
    let ra = response_authenticator(packet, request_auth, secret);
    packet[4..20].copy_from_slice(&ra);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 2865 §7.1: User Password Authentication, shared secret "xyzzy5461".
    const RFC2865_REQUEST: &str = "01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a
        01 06 6e 65 6d 6f 02 12 0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee
        04 06 c0 a8 01 10 05 06 00 00 00 03";
    const RFC2865_ACCEPT: &str = "02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2
        06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03";

    #[test]
    fn test_parse_rfc2865_access_request() {
        let buf = hex(RFC2865_REQUEST);
        let p = Packet::parse(&buf).unwrap();
        assert_eq!(p.code, Code::AccessRequest);
        assert_eq!(p.id, 0);
        assert_eq!(p.get(attr::USER_NAME), Some(&b"nemo"[..]));
        assert_eq!(p.get(attr::NAS_IP_ADDRESS), Some(&[192, 168, 1, 16][..]));
        assert_eq!(p.attributes.len(), 4);
    }

    #[test]
    fn rfc2865_accept_response_authenticator_verifies() {
        let req = hex(RFC2865_REQUEST);
        let acc = hex(RFC2865_ACCEPT);
        let p = Packet::parse(&acc).unwrap();
        let mut ra = [0u8; 16];
        ra.copy_from_slice(&req[4..20]);
        assert_eq!(
            response_authenticator(p.raw, &ra, b"xyzzy5461"),
            p.authenticator
        );
        let request = AccessRequest {
            id: 0,
            authenticator: ra,
            attributes: vec![],
            eap: vec![],
        };
        let reply = verify_reply(&acc, &request, b"xyzzy5461").unwrap();
        assert_eq!(reply.code, Code::AccessAccept);
        assert!(reply.eap.is_none());
        assert_eq!(
            verify_reply(&acc, &request, b"wrong").unwrap_err(),
            RadiusError::BadResponseAuthenticator
        );
    }

    #[test]
    fn eap_message_split_at_253_and_message_authenticator_verifies() {
        let eap: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let req = AccessRequest {
            id: 7,
            authenticator: [9; 16],
            attributes: vec![
                (attr::USER_NAME, b"device".to_vec()),
                (attr::STATE, vec![1, 2, 3]),
            ],
            eap: eap.clone(),
        };
        let buf = req.encode(b"s3cret").unwrap();
        let p = Packet::parse(&buf).unwrap();
        let lens: Vec<usize> = p
            .attributes
            .iter()
            .filter(|(t, _)| *t == attr::EAP_MESSAGE)
            .map(|(_, v)| v.len())
            .collect();
        assert_eq!(lens, [253, 253, 94]);
        assert_eq!(p.eap_message().unwrap(), eap);
        assert_eq!(p.get(attr::STATE), Some(&[1, 2, 3][..]));
        let off = message_authenticator_offset(p.raw).unwrap();
        let ma = message_authenticator(p.raw, &[9; 16], off, b"s3cret");
        assert_eq!(p.get(attr::MESSAGE_AUTHENTICATOR), Some(&ma[..]));
        assert_ne!(message_authenticator(p.raw, &[9; 16], off, b"other"), ma);
    }

    // RFC 2104's HMAC-MD5 test case 2, to pin the MAC construction.
    #[test]
    fn hmac_md5_rfc2104_vector() {
        let mut mac = <HmacMd5 as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            mac.finalize().into_bytes().to_vec(),
            hex("750c783e6ab0b503eaa86e310a5db738")
        );
    }

    fn signed_reply(
        code: u8,
        id: u8,
        attrs: &[(u8, Vec<u8>)],
        ra: &[u8; 16],
        secret: &[u8],
    ) -> Vec<u8> {
        let mut p = vec![code, id, 0, 0];
        p.extend_from_slice(&[0; 16]);
        for (t, v) in attrs {
            p.push(*t);
            p.push(v.len() as u8 + 2);
            p.extend_from_slice(v);
        }
        let l = (p.len() as u16).to_be_bytes();
        p[2..4].copy_from_slice(&l);
        sign_reply(&mut p, ra, secret);
        p
    }

    fn vsa(vt: u8, value: &[u8]) -> Vec<u8> {
        let mut v = VENDOR_MICROSOFT.to_be_bytes().to_vec();
        v.push(vt);
        v.push(value.len() as u8 + 2);
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn accept_with_mppe_keys_decrypts_them() {
        let req = AccessRequest {
            id: 3,
            authenticator: [0x42; 16],
            attributes: vec![],
            eap: vec![],
        };
        let recv: Vec<u8> = (0..32).collect();
        let send: Vec<u8> = (32..64).collect();
        let attrs = vec![
            (attr::EAP_MESSAGE, vec![3, 5, 0, 4]),
            (attr::MESSAGE_AUTHENTICATOR, vec![0; 16]),
            (
                attr::VENDOR_SPECIFIC,
                vsa(
                    MS_MPPE_RECV_KEY,
                    &encrypt_mppe_key(&recv, [0x81, 0x23], &[0x42; 16], b"k"),
                ),
            ),
            (
                attr::VENDOR_SPECIFIC,
                vsa(
                    MS_MPPE_SEND_KEY,
                    &encrypt_mppe_key(&send, [0x92, 0x11], &[0x42; 16], b"k"),
                ),
            ),
        ];
        let buf = signed_reply(2, 3, &attrs, &[0x42; 16], b"k");
        let r = verify_reply(&buf, &req, b"k").unwrap();
        assert_eq!(r.code, Code::AccessAccept);
        assert_eq!(r.eap.unwrap(), [3, 5, 0, 4]);
        assert_eq!(*r.mppe_recv.unwrap(), recv);
        assert_eq!(*r.mppe_send.unwrap(), send);
    }

    #[test]
    fn malformed_replies_are_typed_errors() {
        let req = AccessRequest {
            id: 1,
            authenticator: [1; 16],
            attributes: vec![],
            eap: vec![],
        };
        assert_eq!(
            verify_reply(&[2, 1, 0], &req, b"k").unwrap_err(),
            RadiusError::Truncated(3)
        );
        let mut long = signed_reply(11, 1, &[], &[1; 16], b"k");
        long[3] = 200;
        assert!(matches!(
            verify_reply(&long, &req, b"k"),
            Err(RadiusError::BadLength { field: 200, .. })
        ));
        let mut bad_attr = signed_reply(11, 1, &[(attr::STATE, vec![1, 2])], &[1; 16], b"k");
        bad_attr[21] = 1;
        assert_eq!(
            verify_reply(&bad_attr, &req, b"k").unwrap_err(),
            RadiusError::BadAttribute { offset: 20 }
        );
        let other_id = signed_reply(11, 2, &[], &[1; 16], b"k");
        assert!(matches!(
            verify_reply(&other_id, &req, b"k"),
            Err(RadiusError::IdMismatch { .. })
        ));
        let no_ma = signed_reply(
            11,
            1,
            &[(attr::EAP_MESSAGE, vec![1, 1, 0, 4])],
            &[1; 16],
            b"k",
        );
        assert_eq!(
            verify_reply(&no_ma, &req, b"k").unwrap_err(),
            RadiusError::MissingMessageAuthenticator
        );
        let mut bad_ma = signed_reply(
            11,
            1,
            &[
                (attr::EAP_MESSAGE, vec![1, 1, 0, 4]),
                (attr::MESSAGE_AUTHENTICATOR, vec![0; 16]),
            ],
            &[1; 16],
            b"k",
        );
        // Corrupt the MAC and re-sign only the Response Authenticator.
        let off = message_authenticator_offset(&bad_ma).unwrap();
        bad_ma[off] ^= 1;
        let ra = response_authenticator(&bad_ma, &[1; 16], b"k");
        bad_ma[4..20].copy_from_slice(&ra);
        assert_eq!(
            verify_reply(&bad_ma, &req, b"k").unwrap_err(),
            RadiusError::BadMessageAuthenticator
        );
        let status = signed_reply(12, 1, &[], &[1; 16], b"k");
        assert_eq!(
            verify_reply(&status, &req, b"k").unwrap_err(),
            RadiusError::UnexpectedCode(Code::StatusServer)
        );
        assert!(matches!(
            decrypt_mppe_key(&[0x80, 1, 2, 3], &[0; 16], b"k"),
            Err(RadiusError::BadMppeKey(_))
        ));
        assert!(matches!(
            decrypt_mppe_key(&[0x00, 1], &[0; 16], b"k"),
            Err(RadiusError::BadMppeKey(_))
        ));
    }

    #[test]
    fn trailing_padding_is_ignored() {
        let req = AccessRequest {
            id: 1,
            authenticator: [1; 16],
            attributes: vec![],
            eap: vec![],
        };
        let mut p = signed_reply(3, 1, &[], &[1; 16], b"k");
        p.extend_from_slice(&[0xee; 5]);
        assert_eq!(
            verify_reply(&p, &req, b"k").unwrap().code,
            Code::AccessReject
        );
    }
}
