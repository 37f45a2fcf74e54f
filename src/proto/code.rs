//! Extended response codes (RFC 2449 §8, RFC 3206, RFC 6856 §3).
//!
//! `resp-code = "[" resp-level *("/" resp-level) "]"`, `resp-level = 1*rchar`,
//! `rchar = %x21-2E / %x30-5C / %x5E-7F` (printable ASCII except "/" and "]").

use std::fmt;

/// A parsed response code, e.g. `[SYS/TEMP]` → levels `["SYS", "TEMP"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RespCode {
    pub levels: Vec<String>,
}

impl RespCode {
    /// Parses a response code at the start of `text` (which must start with `[`). `None` when the
    /// text is not a well-formed code.
    pub fn parse_prefix(text: &str) -> Option<RespCode> {
        let inner = text.strip_prefix('[')?;
        let close = inner.find(']')?;
        let inner = &inner[..close];
        let levels: Vec<String> = inner.split('/').map(str::to_string).collect();
        let rchar = |c: char| matches!(c as u32, 0x21..=0x2E | 0x30..=0x5C | 0x5E..=0x7F);
        if levels.iter().any(|l| l.is_empty() || !l.chars().all(rchar)) {
            return None;
        }
        // RFC 2449 §3: the code is followed by SP text or CRLF.
        let after = &text[close + 2..];
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        Some(RespCode { levels })
    }

    /// True when the code's full path equals `path` case-insensitively, e.g. `"SYS/TEMP"`.
    pub fn is(&self, path: &str) -> bool {
        self.to_string()[1..].trim_end_matches(']').eq_ignore_ascii_case(path)
    }

    /// True when the code's first level equals `top` (e.g. `"SYS"` for `[SYS/PERM]`).
    pub fn top_is(&self, top: &str) -> bool {
        self.levels.first().is_some_and(|l| l.eq_ignore_ascii_case(top))
    }

    /// The codes the registered RFCs define: `IN-USE`, `LOGIN-DELAY` (RFC 2449), `SYS/TEMP`,
    /// `SYS/PERM`, `AUTH` (RFC 3206), `UTF8` (RFC 6856).
    pub fn is_registered(&self) -> bool {
        ["IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH", "UTF8"].iter().any(|c| self.is(c))
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.levels.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registered_codes() {
        for (text, path) in [
            ("[IN-USE] Do you have another POP session running?", "IN-USE"),
            ("[LOGIN-DELAY] wait", "LOGIN-DELAY"),
            ("[SYS/TEMP] try later", "SYS/TEMP"),
            ("[SYS/PERM]", "SYS/PERM"),
            ("[AUTH] bad password", "AUTH"),
            ("[UTF8] x", "UTF8"),
        ] {
            let c = RespCode::parse_prefix(text).unwrap_or_else(|| panic!("{text}"));
            assert!(c.is(path), "{text}");
            assert!(c.is_registered());
        }
        assert!(RespCode::parse_prefix("[SYS/TEMP] x").unwrap().top_is("sys"));
        assert_eq!(RespCode::parse_prefix("[A/B/C] x").unwrap().levels, ["A", "B", "C"]);
        assert!(!RespCode::parse_prefix("[X-VENDOR] x").unwrap().is_registered());
    }

    #[test]
    fn rejects_malformed_codes() {
        for text in ["[", "[]", "[SYS/]", "[/TEMP]", "[IN USE] x", "[IN-USE]x", "[SYS//TEMP]", "IN-USE]"] {
            assert_eq!(RespCode::parse_prefix(text), None, "{text}");
        }
    }
}
