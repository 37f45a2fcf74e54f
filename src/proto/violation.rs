//! Protocol violations: every way a server's bytes can break a POP3 rule, as values. Each variant
//! knows the requirement id of `pop3-requirements.md` and the RFC section it breaks, so reports
//! group and count them and tests `assert_eq!` on them (the rustls `PeerMisbehaved` pattern).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One deviation from the POP3 grammar seen in a server's response. The parser records it and
/// still yields its best reading, so the session can go on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Violation {
    /// A line ended with LF alone. RFC 1939 §3: "Responses ... are terminated by a CRLF pair."
    BareLf,
    /// A CR not followed by LF inside a line.
    BareCr,
    /// A NUL octet in a response line: not text (RFC 1939 §3 responses are printable lines;
    /// RFC 5322 §2.3 forbids NUL in messages).
    Nul,
    /// Status indicator in the wrong case, e.g. `+ok`. RFC 1939 §3: "+OK" and "-ERR" in upper case.
    StatusCase { seen: String },
    /// The line does not start with `+OK` or `-ERR` at all.
    UnknownStatus { seen: String },
    /// Status indicator not followed by SP or CRLF, e.g. `+OKdone`.
    MissingSeparator { seen: String },
    /// A response line longer than the limit. RFC 1939 §3: "Responses may be up to 512
    /// characters long, including the terminating CRLF."
    LineTooLong { len: usize, limit: usize },
    /// A CAPA line over 512 octets (RFC 2449 §4, §5).
    CapaLineTooLong { len: usize },
    /// The connection ended before the multi-line response's terminating `.` line (RFC 1939 §3).
    UnterminatedBody,
    /// Text beginning with `[` that is not a well-formed response code (RFC 2449 §8:
    /// `"[" resp-level *("/" resp-level) "]"`).
    MalformedRespCode { text: String },
    /// A CAPA line that does not match its capability's syntax (RFC 2449 §6), e.g. `EXPIRENEVER`.
    MalformedCapability { line: String },
    /// A STAT reply that is not `+OK nn mm` with single spaces (RFC 1939 §5).
    MalformedStat { text: String },
    /// A scan listing not of the form `msg SP octets` (RFC 1939 §5 LIST).
    MalformedScanListing { line: String },
    /// A unique-id listing not of the form `msg SP unique-id` (RFC 1939 §7 UIDL).
    MalformedUniqueIdListing { line: String },
    /// A unique-id outside 1–70 characters of 0x21–0x7E (RFC 1939 §7).
    InvalidUniqueId { uid: String, reason: String },
    /// A SASL challenge that is not `+ ` followed by base64 (RFC 5034 §4).
    MalformedChallenge { text: String },
    /// A `+ ` continuation where no AUTH exchange was open.
    UnexpectedContinuation,
    /// More data than the reply to the one command outstanding: a second reply, or lines after
    /// a multi-line response's terminating `.` (RFC 1939 §3: each command gets one response). The
    /// replies that follow are out of step with the commands; judging them as answers would blame
    /// the wrong command (a server flooding `-ERR` lines fails every later login).
    OutOfStep { octets: usize, sample: String },
}

impl Violation {
    /// Short kebab-case name, the one users pass to `--allow`.
    pub fn name(&self) -> &'static str {
        match self {
            Violation::BareLf => "bare-lf",
            Violation::BareCr => "bare-cr",
            Violation::Nul => "nul",
            Violation::StatusCase { .. } => "status-case",
            Violation::UnknownStatus { .. } => "unknown-status",
            Violation::MissingSeparator { .. } => "missing-separator",
            Violation::LineTooLong { .. } => "line-too-long",
            Violation::CapaLineTooLong { .. } => "capa-line-too-long",
            Violation::UnterminatedBody => "unterminated-body",
            Violation::MalformedRespCode { .. } => "malformed-resp-code",
            Violation::MalformedCapability { .. } => "malformed-capability",
            Violation::MalformedStat { .. } => "malformed-stat",
            Violation::MalformedScanListing { .. } => "malformed-scan-listing",
            Violation::MalformedUniqueIdListing { .. } => "malformed-unique-id-listing",
            Violation::InvalidUniqueId { .. } => "invalid-unique-id",
            Violation::MalformedChallenge { .. } => "malformed-challenge",
            Violation::UnexpectedContinuation => "unexpected-continuation",
            Violation::OutOfStep { .. } => "out-of-step",
        }
    }

    /// Every violation name, for `--allow` validation and did-you-mean.
    pub const NAMES: &'static [&'static str] = &[
        "bare-lf",
        "bare-cr",
        "nul",
        "status-case",
        "unknown-status",
        "missing-separator",
        "line-too-long",
        "capa-line-too-long",
        "unterminated-body",
        "malformed-resp-code",
        "malformed-capability",
        "malformed-stat",
        "malformed-scan-listing",
        "malformed-unique-id-listing",
        "invalid-unique-id",
        "malformed-challenge",
        "unexpected-continuation",
        "out-of-step",
    ];

    /// Requirement id in the catalogue (`pop3-requirements.md`).
    pub fn requirement(&self) -> &'static str {
        match self {
            Violation::BareLf | Violation::BareCr | Violation::Nul => "1939-crlf",
            Violation::StatusCase { .. } | Violation::UnknownStatus { .. } | Violation::MissingSeparator { .. } => {
                "1939-status-case"
            }
            Violation::LineTooLong { .. } => "1939-response-length",
            Violation::CapaLineTooLong { .. } => "2449-capa-line-length",
            Violation::UnterminatedBody => "1939-multiline",
            Violation::MalformedRespCode { .. } => "2449-resp-codes",
            Violation::MalformedCapability { .. } => "2449-capa-syntax",
            Violation::MalformedStat { .. } => "1939-stat",
            Violation::MalformedScanListing { .. } => "1939-list",
            Violation::MalformedUniqueIdListing { .. } | Violation::InvalidUniqueId { .. } => "1939-uidl-format",
            Violation::MalformedChallenge { .. } | Violation::UnexpectedContinuation => "5034-challenge",
            Violation::OutOfStep { .. } => "1939-one-reply",
        }
    }

    /// RFC and section the rule comes from.
    pub fn rfc(&self) -> &'static str {
        match self {
            Violation::BareLf
            | Violation::BareCr
            | Violation::Nul
            | Violation::StatusCase { .. }
            | Violation::UnknownStatus { .. }
            | Violation::MissingSeparator { .. }
            | Violation::LineTooLong { .. }
            | Violation::UnterminatedBody
            | Violation::OutOfStep { .. } => "RFC 1939 §3",
            Violation::CapaLineTooLong { .. } => "RFC 2449 §5",
            Violation::MalformedRespCode { .. } => "RFC 2449 §8",
            Violation::MalformedCapability { .. } => "RFC 2449 §6",
            Violation::MalformedStat { .. } | Violation::MalformedScanListing { .. } => "RFC 1939 §5",
            Violation::MalformedUniqueIdListing { .. } | Violation::InvalidUniqueId { .. } => "RFC 1939 §7",
            Violation::MalformedChallenge { .. } | Violation::UnexpectedContinuation => "RFC 5034 §4",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::BareLf => write!(f, "line ended with a bare LF instead of CRLF"),
            Violation::BareCr => write!(f, "bare CR inside a line"),
            Violation::Nul => write!(f, "NUL octet in a response line"),
            Violation::StatusCase { seen } => write!(f, "status indicator `{seen}` is not upper case"),
            Violation::UnknownStatus { seen } => write!(f, "line `{seen}` does not start with +OK or -ERR"),
            Violation::MissingSeparator { seen } => write!(f, "status indicator not followed by a space: `{seen}`"),
            Violation::LineTooLong { len, limit } => {
                write!(f, "response line is {len} octets including CRLF (limit {limit})")
            }
            Violation::CapaLineTooLong { len } => write!(f, "capability line is {len} octets (limit 512)"),
            Violation::UnterminatedBody => write!(f, "multi-line response never terminated with `.` CRLF"),
            Violation::MalformedRespCode { text } => write!(f, "malformed response code in `{text}`"),
            Violation::MalformedCapability { line } => write!(f, "malformed capability line `{line}`"),
            Violation::MalformedStat { text } => write!(f, "STAT reply `{text}` is not `nn mm`"),
            Violation::MalformedScanListing { line } => write!(f, "malformed scan listing `{line}`"),
            Violation::MalformedUniqueIdListing { line } => write!(f, "malformed unique-id listing `{line}`"),
            Violation::InvalidUniqueId { uid, reason } => write!(f, "unique-id `{uid}` {reason}"),
            Violation::MalformedChallenge { text } => write!(f, "SASL challenge `{text}` is not base64"),
            Violation::UnexpectedContinuation => write!(f, "`+ ` continuation outside an AUTH exchange"),
            Violation::OutOfStep { octets, sample } => {
                write!(f, "{octets} more octets than the reply to the one command sent, out of step: `{sample}`")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table_lists_every_variant_once() {
        let samples = [
            Violation::BareLf,
            Violation::BareCr,
            Violation::Nul,
            Violation::StatusCase { seen: String::new() },
            Violation::UnknownStatus { seen: String::new() },
            Violation::MissingSeparator { seen: String::new() },
            Violation::LineTooLong { len: 0, limit: 0 },
            Violation::CapaLineTooLong { len: 0 },
            Violation::UnterminatedBody,
            Violation::MalformedRespCode { text: String::new() },
            Violation::MalformedCapability { line: String::new() },
            Violation::MalformedStat { text: String::new() },
            Violation::MalformedScanListing { line: String::new() },
            Violation::MalformedUniqueIdListing { line: String::new() },
            Violation::InvalidUniqueId { uid: String::new(), reason: String::new() },
            Violation::MalformedChallenge { text: String::new() },
            Violation::UnexpectedContinuation,
            Violation::OutOfStep { octets: 0, sample: String::new() },
        ];
        let names: Vec<_> = samples.iter().map(|v| v.name()).collect();
        assert_eq!(names, Violation::NAMES);
        for v in &samples {
            assert!(v.rfc().starts_with("RFC "));
            assert!(!v.requirement().is_empty());
            assert!(!v.to_string().is_empty());
        }
    }
}
