//! Which TLS/SSL versions and TLS ≤ 1.2 cipher suites a server accepts (audits A10, A11), and how
//! two ports' TLS postures differ (A14). Probing uses hand-built ClientHellos rather than a TLS
//! library, so versions rustls cannot speak (SSLv3, TLS 1.0, TLS 1.1) are detected too.
//!
//! - [`hello`]: sans-IO ClientHello builder and incremental ServerHello/Alert reader;
//! - [`probe`]: async probes over a caller-supplied `connect` closure, every wait bounded;
//! - [`posture`]: comparison of two ports' results.

use std::fmt;

use serde::{Serialize, Serializer};

pub mod hello;
pub mod posture;
pub mod probe;

pub use hello::{alert_name, client_hello, parse_server_reply, Malformed, ServerHello, ServerReply};
pub use posture::{compare_postures, Difference, PortPosture};
pub use probe::{
    enumerate_suites, exchange_hello, probe_once, probe_version, probe_versions, probe_weak_suites, ProbeOutcome,
    SuiteProbe, VersionProbe, MAX_REPLY_BYTES,
};

/// A protocol version as carried on the wire (RFC 8446 §4.1.2 `ProtocolVersion`); ordered by
/// wire value, so SSLv3 < TLS 1.0 < … < TLS 1.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    /// Any other value a server put in its ServerHello.
    Unknown(u16),
}

impl ProtocolVersion {
    /// The versions the audit probes, oldest first (A10: RFC 8996 deprecates everything below TLS 1.2).
    pub const PROBED: [ProtocolVersion; 5] = [Self::Ssl3, Self::Tls10, Self::Tls11, Self::Tls12, Self::Tls13];

    /// The two-byte wire value (`{3, 1}` is TLS 1.0).
    pub fn wire(self) -> u16 {
        match self {
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
            Self::Unknown(v) => v,
        }
    }

    pub fn from_wire(v: u16) -> Self {
        match v {
            0x0300 => Self::Ssl3,
            0x0301 => Self::Tls10,
            0x0302 => Self::Tls11,
            0x0303 => Self::Tls12,
            0x0304 => Self::Tls13,
            other => Self::Unknown(other),
        }
    }

    /// RFC 8996: "TLS 1.0 MUST NOT be used" / "TLS 1.1 MUST NOT be used"; SSLv3 per RFC 7568.
    pub fn is_deprecated(self) -> bool {
        matches!(self, Self::Ssl3 | Self::Tls10 | Self::Tls11)
    }
}

impl Ord for ProtocolVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.wire().cmp(&other.wire())
    }
}

impl PartialOrd for ProtocolVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ssl3 => f.write_str("SSLv3"),
            Self::Tls10 => f.write_str("TLS 1.0"),
            Self::Tls11 => f.write_str("TLS 1.1"),
            Self::Tls12 => f.write_str("TLS 1.2"),
            Self::Tls13 => f.write_str("TLS 1.3"),
            Self::Unknown(v) => write!(f, "0x{v:04X}"),
        }
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
