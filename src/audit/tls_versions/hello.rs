//! Sans-IO TLS handshake codec for probing: builds a ClientHello record by hand (so SSLv3, TLS 1.0
//! and 1.1 can be offered although rustls cannot speak them) and reads the server's first reply
//! incrementally. No sockets, no rustls: everything here is tested on byte literals.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use super::ProtocolVersion;

const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_PADDING: u16 = 21;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const EXT_RENEGOTIATION_INFO: u16 = 0xFF01;

/// x25519, secp256r1, secp384r1, secp521r1 (RFC 8446 §4.2.7 `NamedGroup`).
const GROUPS: [u16; 4] = [0x001D, 0x0017, 0x0018, 0x0019];
/// ECDSA, EdDSA, RSA-PSS, RSA PKCS#1 with SHA-2, then the SHA-1 schemes old servers still need.
const SIGNATURE_SCHEMES: [u16; 12] =
    [0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0203];
/// A valid x25519 public key (RFC 7748 §6.1, Alice's): the probe never completes the handshake,
/// so the private half is irrelevant, but the point must be one a server will accept.
const X25519_SHARE: [u8; 32] = [
    0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a, 0x0d, 0xbf, 0x3a,
    0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a,
];
/// RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest").
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];
/// RFC 8446 §5.1: "The length MUST NOT exceed 2^14 + 2048" (ciphertext bound, the loosest).
const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// The largest ServerHello body the grammar allows: version, random, a 32-byte session id, suite,
/// compression and a full 2^16-1 extensions block.
const MAX_SERVER_HELLO_LEN: usize = 2 + 32 + 1 + 32 + 2 + 1 + 2 + 0xFFFF;

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `u16`-length-prefixed vector built by `body`.
fn put_vec16(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0]);
    body(out);
    let len = u16::try_from(out.len() - start - 2).unwrap_or(u16::MAX);
    out[start..start + 2].copy_from_slice(&len.to_be_bytes());
}

fn put_ext(out: &mut Vec<u8>, ty: u16, body: impl FnOnce(&mut Vec<u8>)) {
    put_u16(out, ty);
    put_vec16(out, body);
}

/// RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in "HostName"", and a
/// HostName is at most 2^16-1 bytes of ASCII; anything else is left out rather than sent wrong.
fn sni_host(sni: Option<&str>) -> Option<&str> {
    let host = sni?.trim_end_matches('.');
    let bracketless = host.trim_start_matches('[').trim_end_matches(']');
    let usable = !host.is_empty() && host.len() <= 255 && host.is_ascii() && bracketless.parse::<IpAddr>().is_err();
    usable.then_some(host)
}

/// Builds a complete ClientHello record (record header + handshake header + body).
///
/// `version` is the highest version offered: `legacy_version` for SSLv3–TLS 1.2, and for TLS 1.3
/// the only entry of `supported_versions` with `legacy_version` 0x0303 (RFC 8446 §4.1.2). The
/// extensions are those a modern server expects before it will answer: SNI (omitted for IP
/// literals), supported_groups, ec_point_formats, renegotiation_info, extended_master_secret;
/// signature_algorithms from TLS 1.2 on (RFC 5246 §7.4.1.4.1: not to be offered below 1.2); for
/// TLS 1.3 supported_versions and an x25519 key_share. SSLv3 hellos carry no extensions, as
/// RFC 6101 defines none. A hello whose handshake is 256–511 bytes long is padded to 512 (RFC 7685
/// §4) because some server stacks hang on that size. `random` is the ClientHello random: fresh
/// random bytes in a probe, a constant in tests.
pub fn client_hello(version: ProtocolVersion, suites: &[u16], sni: Option<&str>, random: &[u8; 32]) -> Vec<u8> {
    let tls13 = version == ProtocolVersion::Tls13;
    let mut body = Vec::with_capacity(512);
    put_u16(&mut body, if tls13 { 0x0303 } else { version.wire() });
    body.extend_from_slice(random);
    if tls13 {
        // RFC 8446 §D.4 middlebox compatibility: a non-empty legacy_session_id.
        body.push(32);
        body.extend(random.iter().rev());
    } else {
        body.push(0);
    }
    // A ClientHello holds at most 2^15-1 suites; more would be our bug, so cut rather than panic.
    let suites = &suites[..suites.len().min(0x7FFF)];
    put_vec16(&mut body, |b| suites.iter().for_each(|&s| put_u16(b, s)));
    body.extend_from_slice(&[1, 0]); // compression_methods: null only (CRIME)

    if version != ProtocolVersion::Ssl3 {
        let mut exts = Vec::with_capacity(256);
        if let Some(host) = sni_host(sni) {
            put_ext(&mut exts, EXT_SERVER_NAME, |e| {
                put_vec16(e, |list| {
                    list.push(0); // name_type host_name
                    put_vec16(list, |n| n.extend_from_slice(host.as_bytes()));
                })
            });
        }
        put_ext(&mut exts, EXT_SUPPORTED_GROUPS, |e| put_vec16(e, |g| GROUPS.iter().for_each(|&x| put_u16(g, x))));
        put_ext(&mut exts, EXT_EC_POINT_FORMATS, |e| e.extend_from_slice(&[1, 0]));
        if version >= ProtocolVersion::Tls12 && version <= ProtocolVersion::Tls13 {
            put_ext(&mut exts, EXT_SIGNATURE_ALGORITHMS, |e| {
                put_vec16(e, |s| SIGNATURE_SCHEMES.iter().for_each(|&x| put_u16(s, x)))
            });
        }
        put_ext(&mut exts, EXT_RENEGOTIATION_INFO, |e| e.push(0));
        put_ext(&mut exts, EXT_EXTENDED_MASTER_SECRET, |_| {});
        if tls13 {
            put_ext(&mut exts, EXT_SUPPORTED_VERSIONS, |e| e.extend_from_slice(&[2, 0x03, 0x04]));
            put_ext(&mut exts, EXT_KEY_SHARE, |e| {
                put_vec16(e, |shares| {
                    put_u16(shares, 0x001D);
                    put_vec16(shares, |k| k.extend_from_slice(&X25519_SHARE));
                })
            });
        }
        // Handshake length so far: body + 2 (extensions length) + exts + 4 (handshake header).
        let unpadded = body.len() + 2 + exts.len() + 4;
        if (256..512).contains(&unpadded) {
            let pad = (512 - unpadded).saturating_sub(4);
            put_ext(&mut exts, EXT_PADDING, |e| e.resize(e.len() + pad, 0));
        }
        put_vec16(&mut body, |b| b.extend_from_slice(&exts));
    }

    let mut record = Vec::with_capacity(body.len() + 9);
    record.push(CONTENT_HANDSHAKE);
    // RFC 8446 §5.1: legacy_record_version 0x0301 for an initial ClientHello; SSLv3 servers want 0x0300.
    put_u16(&mut record, if version == ProtocolVersion::Ssl3 { 0x0300 } else { 0x0301 });
    put_u16(&mut record, u16::try_from(body.len() + 4).unwrap_or(u16::MAX));
    record.push(HANDSHAKE_CLIENT_HELLO);
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes();
    record.extend_from_slice(&len[1..]);
    record.extend_from_slice(&body);
    record
}

/// What a ServerHello told us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerHello {
    /// The negotiated version: `supported_versions` when present (RFC 8446 §4.2.1: "the server
    /// MUST set ServerHello.legacy_version to 0x0303"), else `legacy_version`.
    pub version: ProtocolVersion,
    pub cipher_suite: u16,
    /// Non-zero means TLS compression was chosen (CRIME, CVE-2012-4929).
    pub compression: u8,
    /// A TLS 1.3 HelloRetryRequest: the server accepts TLS 1.3 but wants another key share.
    pub hello_retry: bool,
}

/// Ways the server's first bytes looked like TLS but could not be read as a reply to a ClientHello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Malformed {
    /// Record length above 2^14 + 2048 (RFC 8446 §5.1).
    RecordOverflow { length: usize },
    /// A first record that is neither handshake nor alert (e.g. application data).
    UnexpectedContentType { content_type: u8 },
    /// An alert record whose fragment is not exactly level + description.
    BadAlertLength { length: usize },
    /// A handshake message other than ServerHello came first.
    UnexpectedHandshake { handshake_type: u8 },
    /// A non-handshake record arrived while the ServerHello was still being assembled.
    InterleavedRecord { content_type: u8 },
    /// A zero-length handshake record (RFC 8446 §5.1: "MUST NOT send zero-length fragments").
    EmptyHandshakeRecord,
    /// The ServerHello body ends before its fixed fields or extensions do.
    TruncatedServerHello,
    /// legacy_session_id_echo longer than 32 bytes.
    SessionIdTooLong { length: usize },
    /// A ServerHello longer than its grammar allows, or (set by a reader that caps its buffer)
    /// more bytes than any real first reply.
    TooLong { length: usize },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RecordOverflow { length } => write!(f, "record length {length} exceeds 2^14+2048"),
            Self::UnexpectedContentType { content_type } => write!(f, "first record has content type {content_type}"),
            Self::BadAlertLength { length } => write!(f, "alert record of {length} bytes (expected 2)"),
            Self::UnexpectedHandshake { handshake_type } => {
                write!(f, "handshake message type {handshake_type} instead of ServerHello")
            }
            Self::InterleavedRecord { content_type } => {
                write!(f, "record of content type {content_type} inside a fragmented ServerHello")
            }
            Self::EmptyHandshakeRecord => f.write_str("zero-length handshake record"),
            Self::TruncatedServerHello => f.write_str("ServerHello body is truncated"),
            Self::SessionIdTooLong { length } => write!(f, "session id of {length} bytes (max 32)"),
            Self::TooLong { length } => write!(f, "{length} bytes is longer than any ServerHello"),
        }
    }
}

/// The server's first reply to a ClientHello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ServerReply {
    /// Not enough bytes yet: read more and call again with everything received so far.
    Incomplete,
    ServerHello(ServerHello),
    /// RFC 8446 §6: `level` 1 warning / 2 fatal; `description` e.g. 70 protocol_version.
    Alert {
        level: u8,
        description: u8,
    },
    /// The bytes are not a TLS record (a POP3 `-ERR`, an HTTP page, an SSLv2 reply...).
    NotTls,
    Malformed(Malformed),
}

/// Reads the server's first reply from `bytes`, everything received so far. A ServerHello split
/// over several handshake records is reassembled; bytes after the ServerHello are ignored.
pub fn parse_server_reply(bytes: &[u8]) -> ServerReply {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        let (ty, fragment, after) = match read_record(rest) {
            RecordRead::Incomplete => return ServerReply::Incomplete,
            RecordRead::NotTls => return ServerReply::NotTls,
            RecordRead::Malformed(m) => return ServerReply::Malformed(m),
            RecordRead::Record(ty, fragment, after) => (ty, fragment, after),
        };
        rest = after;
        match (ty, handshake.is_empty()) {
            (CONTENT_ALERT, true) => {
                return match fragment {
                    &[level, description] => ServerReply::Alert { level, description },
                    _ => ServerReply::Malformed(Malformed::BadAlertLength { length: fragment.len() }),
                };
            }
            (CONTENT_HANDSHAKE, _) if fragment.is_empty() => {
                return ServerReply::Malformed(Malformed::EmptyHandshakeRecord)
            }
            (CONTENT_HANDSHAKE, _) => handshake.extend_from_slice(fragment),
            (content_type, true) => return ServerReply::Malformed(Malformed::UnexpectedContentType { content_type }),
            (content_type, false) => return ServerReply::Malformed(Malformed::InterleavedRecord { content_type }),
        }
        if handshake[0] != HANDSHAKE_SERVER_HELLO {
            return ServerReply::Malformed(Malformed::UnexpectedHandshake { handshake_type: handshake[0] });
        }
        if handshake.len() >= 4 {
            let len = usize::from(handshake[1]) << 16 | usize::from(handshake[2]) << 8 | usize::from(handshake[3]);
            if len > MAX_SERVER_HELLO_LEN {
                return ServerReply::Malformed(Malformed::TooLong { length: len });
            }
            if handshake.len() >= 4 + len {
                return match parse_server_hello(&handshake[4..4 + len]) {
                    Ok(hello) => ServerReply::ServerHello(hello),
                    Err(m) => ServerReply::Malformed(m),
                };
            }
        }
    }
}

enum RecordRead<'a> {
    Incomplete,
    NotTls,
    Malformed(Malformed),
    Record(u8, &'a [u8], &'a [u8]),
}

/// One TLS record: `type(1) version(2) length(2) fragment`.
fn read_record(bytes: &[u8]) -> RecordRead<'_> {
    if bytes.len() < 5 {
        return match bytes {
            [ty, ..] if !(20..=24).contains(ty) => RecordRead::NotTls,
            [_, major, ..] if *major != 3 => RecordRead::NotTls,
            _ => RecordRead::Incomplete,
        };
    }
    if !(20..=24).contains(&bytes[0]) || bytes[1] != 3 {
        return RecordRead::NotTls;
    }
    let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    if len > MAX_RECORD_LEN {
        return RecordRead::Malformed(Malformed::RecordOverflow { length: len });
    }
    match bytes.get(5..5 + len) {
        Some(fragment) => RecordRead::Record(bytes[0], fragment, &bytes[5 + len..]),
        None => RecordRead::Incomplete,
    }
}

/// A cursor over a complete ServerHello body; every read that runs past the end is `Truncated`.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed::TruncatedServerHello);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// RFC 8446 §4.1.3 / RFC 5246 §7.4.1.3 ServerHello body.
fn parse_server_hello(body: &[u8]) -> Result<ServerHello, Malformed> {
    let mut r = Reader(body);
    let legacy_version = r.u16()?;
    let random = r.take(32)?;
    let sid_len = usize::from(r.u8()?);
    if sid_len > 32 {
        return Err(Malformed::SessionIdTooLong { length: sid_len });
    }
    r.take(sid_len)?;
    let cipher_suite = r.u16()?;
    let compression = r.u8()?;
    let mut version = ProtocolVersion::from_wire(legacy_version);
    // RFC 5246 §7.4.1.4: the extensions block is optional in a ServerHello.
    if !r.0.is_empty() {
        let ext_len = usize::from(r.u16()?);
        let mut exts = Reader(r.take(ext_len)?);
        while !exts.0.is_empty() {
            let ty = exts.u16()?;
            let len = usize::from(exts.u16()?);
            let data = exts.take(len)?;
            if let (EXT_SUPPORTED_VERSIONS, &[hi, lo]) = (ty, data) {
                version = ProtocolVersion::from_wire(u16::from_be_bytes([hi, lo]));
            }
        }
    }
    Ok(ServerHello { version, cipher_suite, compression, hello_retry: random == HRR_RANDOM })
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert description names.
pub fn alert_name(description: u8) -> Option<&'static str> {
    Some(match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
    }

    /// Captured from `openssl s_server -tls1_2` (OpenSSL 3.0.19) with `s_client -msg`:
    /// ECDHE-RSA-AES256-GCM-SHA384, extensions renegotiation_info, ec_point_formats, session_ticket, EMS.
    const TLS12_SERVER_HELLO: &str = "16 03 03 00 41
        02 00 00 3d 03 03 61 d2 3b 42 41 c9 65 1a 03 72 63 42 55 36 d3 75 d4 d7 36 c2 6a 67 65 7a 47 91
        76 b8 78 a2 3b 3a 00 c0 30 00 00 15 ff 01 00 01 00 00 0b 00 04 03 00 01 02 00 23 00 00 00 17 00 00";

    /// Captured from `openssl s_server -tls1_3`: legacy_version 0x0303, supported_versions 0x0304,
    /// TLS_AES_256_GCM_SHA384, a 32-byte session id echo and an x25519 key_share.
    const TLS13_SERVER_HELLO: &str = "16 03 03 00 7a
        02 00 00 76 03 03 89 d1 cd 43 fe d2 87 ee 22 67 b8 9f 48 44 df 03 81 98 32 b4 a5 44 a8 3f e7 47
        55 1c e2 00 5b 65 20 51 7e 84 b3 26 31 f8 90 ac 3f 4e c6 b3 b4 67 cd ae b1 40 07 dd 51 cf 32 e5
        0c 49 1d 6a 8a 1c eb 13 02 00 00 2e 00 2b 00 02 03 04 00 33 00 24 00 1d 00 20 5d 87 1a 90 49 ad
        cd ed 3b 35 c0 74 f1 bc f8 af 96 3f 25 81 09 14 65 55 97 2a a4 30 fe d5 3d 45";

    /// Captured: `openssl s_server -tls1_2` answering a TLS 1.0 ClientHello: fatal protocol_version.
    const PROTOCOL_VERSION_ALERT: &str = "15 03 01 00 02 02 46";

    #[test]
    fn captured_tls12_server_hello() {
        let reply = parse_server_reply(&hex(TLS12_SERVER_HELLO));
        let expected =
            ServerHello { version: ProtocolVersion::Tls12, cipher_suite: 0xC030, compression: 0, hello_retry: false };
        assert_eq!(reply, ServerReply::ServerHello(expected));
    }

    #[test]
    fn captured_tls13_server_hello_honours_supported_versions() {
        let ServerReply::ServerHello(hello) = parse_server_reply(&hex(TLS13_SERVER_HELLO)) else { panic!() };
        assert_eq!((hello.version, hello.cipher_suite, hello.hello_retry), (ProtocolVersion::Tls13, 0x1302, false));
    }

    #[test]
    fn versions_order_by_wire_value() {
        assert!(ProtocolVersion::Ssl3 < ProtocolVersion::Tls10 && ProtocolVersion::Tls12 < ProtocolVersion::Tls13);
        assert!(ProtocolVersion::Unknown(0x0200) < ProtocolVersion::Ssl3);
        assert_eq!(ProtocolVersion::from_wire(0x0302), ProtocolVersion::Tls11);
        assert_eq!(serde_json::to_string(&ProtocolVersion::Tls10).unwrap(), "\"TLS 1.0\"");
    }

    #[test]
    fn captured_alert() {
        assert_eq!(parse_server_reply(&hex(PROTOCOL_VERSION_ALERT)), ServerReply::Alert { level: 2, description: 70 });
        assert_eq!(alert_name(70), Some("protocol_version"));
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        for capture in [TLS12_SERVER_HELLO, TLS13_SERVER_HELLO, PROTOCOL_VERSION_ALERT] {
            let bytes = hex(capture);
            for end in 0..bytes.len() {
                assert_eq!(parse_server_reply(&bytes[..end]), ServerReply::Incomplete, "prefix {end} of {capture}");
            }
        }
    }

    #[test]
    fn fragmented_server_hello_is_reassembled() {
        let whole = hex(TLS12_SERVER_HELLO);
        let hs = &whole[5..];
        let mut split = vec![0x16, 3, 3, 0, 10];
        split.extend_from_slice(&hs[..10]);
        split.extend_from_slice(&[0x16, 3, 3, 0, u8::try_from(hs.len() - 10).unwrap()]);
        split.extend_from_slice(&hs[10..]);
        assert_eq!(parse_server_reply(&split), parse_server_reply(&whole));
        assert_eq!(parse_server_reply(&split[..20]), ServerReply::Incomplete);
    }

    #[test]
    fn not_tls_and_malformed() {
        assert_eq!(parse_server_reply(b"-ERR not now\r\n"), ServerReply::NotTls);
        assert_eq!(parse_server_reply(b"+OK"), ServerReply::NotTls);
        assert_eq!(parse_server_reply(&[0x16, 2, 0]), ServerReply::NotTls, "SSLv2-style version");
        let m = |b: &[u8]| parse_server_reply(b);
        assert_eq!(
            m(&[0x17, 3, 3, 0, 1, 0]),
            ServerReply::Malformed(Malformed::UnexpectedContentType { content_type: 23 })
        );
        assert_eq!(m(&[0x15, 3, 3, 0, 1, 2]), ServerReply::Malformed(Malformed::BadAlertLength { length: 1 }));
        assert_eq!(
            m(&[0x16, 3, 3, 0, 1, 11]),
            ServerReply::Malformed(Malformed::UnexpectedHandshake { handshake_type: 11 })
        );
        assert_eq!(m(&[0x16, 3, 3, 0x50, 0]), ServerReply::Malformed(Malformed::RecordOverflow { length: 0x5000 }));
        assert_eq!(m(&[0x16, 3, 3, 0, 0]), ServerReply::Malformed(Malformed::EmptyHandshakeRecord));
        assert_eq!(m(&[0x16, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3]), ServerReply::Malformed(Malformed::TruncatedServerHello));
        assert_eq!(
            m(&[0x16, 3, 3, 0, 4, 2, 0xFF, 0, 0]),
            ServerReply::Malformed(Malformed::TooLong { length: 0xFF0000 })
        );
        assert_eq!(m(&[]), ServerReply::Incomplete);
        assert_eq!(m(&[0x2D]), ServerReply::NotTls);
    }

    #[test]
    fn hello_retry_request_is_recognised() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&HRR_RANDOM);
        body.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4]);
        let mut rec =
            vec![0x16, 3, 3, 0, u8::try_from(body.len() + 4).unwrap(), 2, 0, 0, u8::try_from(body.len()).unwrap()];
        rec.extend_from_slice(&body);
        let ServerReply::ServerHello(h) = parse_server_reply(&rec) else { panic!() };
        assert!(h.hello_retry);
        assert_eq!(h.version, ProtocolVersion::Tls13);
    }

    /// Walks our own ClientHello and returns (record version, legacy_version, suites, extension types).
    fn dissect(rec: &[u8]) -> (u16, u16, Vec<u16>, Vec<u16>) {
        assert_eq!(rec[0], 0x16);
        assert_eq!(usize::from(u16::from_be_bytes([rec[3], rec[4]])), rec.len() - 5);
        assert_eq!(rec[5], 1);
        let mut r = Reader(&rec[9..]);
        let legacy = r.u16().unwrap();
        r.take(32).unwrap();
        let sid = usize::from(r.u8().unwrap());
        r.take(sid).unwrap();
        let n = usize::from(r.u16().unwrap()) / 2;
        let suites = (0..n).map(|_| r.u16().unwrap()).collect();
        assert_eq!(r.take(2).unwrap(), &[1, 0]);
        let mut exts = Vec::new();
        if !r.0.is_empty() {
            let ext_len = usize::from(r.u16().unwrap());
            let mut e = Reader(r.take(ext_len).unwrap());
            while !e.0.is_empty() {
                exts.push(e.u16().unwrap());
                let len = usize::from(e.u16().unwrap());
                e.take(len).unwrap();
            }
        }
        assert!(r.0.is_empty(), "trailing bytes");
        (u16::from_be_bytes([rec[1], rec[2]]), legacy, suites, exts)
    }

    #[test]
    fn client_hello_shapes() {
        let random = [7u8; 32];
        let (rv, legacy, suites, exts) =
            dissect(&client_hello(ProtocolVersion::Tls12, &[0xC02F, 0x002F], Some("pop.example.com"), &random));
        assert_eq!((rv, legacy, suites), (0x0301, 0x0303, vec![0xC02F, 0x002F]));
        assert_eq!(exts, vec![0, 10, 11, 13, 0xFF01, 23]);

        let (_, legacy, _, exts) = dissect(&client_hello(ProtocolVersion::Tls13, &[0x1301], None, &random));
        assert_eq!(legacy, 0x0303);
        assert!(exts.contains(&43) && exts.contains(&51) && !exts.contains(&0));

        let (_, legacy, _, exts) =
            dissect(&client_hello(ProtocolVersion::Tls10, &[0x002F], Some("127.0.0.1"), &random));
        assert_eq!(legacy, 0x0301);
        assert!(!exts.contains(&13), "no signature_algorithms below TLS 1.2");
        assert!(!exts.contains(&0), "no SNI for an IP literal");

        let (rv, legacy, _, exts) =
            dissect(&client_hello(ProtocolVersion::Ssl3, &[0x000A], Some("a.example"), &random));
        assert_eq!((rv, legacy, exts.len()), (0x0300, 0x0300, 0));
    }

    #[test]
    fn hello_in_the_f5_gap_is_padded() {
        let suites: Vec<u16> = (0..100).collect();
        let rec = client_hello(ProtocolVersion::Tls12, &suites, Some("pop.example.com"), &[0; 32]);
        let (_, _, _, exts) = dissect(&rec);
        assert!(exts.contains(&21));
        assert_eq!(rec.len() - 5, 512);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_server_reply(&bytes);
        }

        #[test]
        fn random_records_never_panic(ty in 20u8..25, body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut rec = vec![ty, 3, 3];
            rec.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
            rec.extend_from_slice(&body);
            let _ = parse_server_reply(&rec);
        }

        #[test]
        fn client_hello_is_well_formed(
            v in 0usize..5,
            suites in proptest::collection::vec(any::<u16>(), 0..400),
            sni in proptest::option::of("[a-z0-9.-]{0,300}"),
        ) {
            let rec = client_hello(ProtocolVersion::PROBED[v], &suites, sni.as_deref(), &[1; 32]);
            let (_, _, offered, _) = dissect(&rec);
            prop_assert_eq!(offered, suites);
        }
    }
}
