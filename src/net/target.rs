//! Targets as URLs: `pop3://host[:port]` (plain, 110 by default, STLS on request) and
//! `pop3s://host[:port]` (implicit TLS, RFC 8314, 995 by default). IPv6 literals in brackets.

use std::fmt;

/// How the session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Cleartext TCP; may be upgraded with STLS.
    Plain,
    /// TLS from the first byte (port 995).
    ImplicitTls,
}

/// A POP3 server to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// Host name or IP literal (without brackets).
    pub host: String,
    pub port: u16,
}

/// Why a target URL was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target `{url}`: {why} (expected pop3://host[:port] or pop3s://host[:port])")]
pub struct TargetError {
    pub url: String,
    pub why: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let err = |why: &str| TargetError { url: url.to_string(), why: why.to_string() };
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) if s.eq_ignore_ascii_case("pop3") => (Scheme::Plain, r),
            Some((s, r)) if s.eq_ignore_ascii_case("pop3s") => (Scheme::ImplicitTls, r),
            Some((s, _)) => return Err(err(&format!("unknown scheme `{s}`"))),
            None => return Err(err("missing scheme")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            return Err(err("credentials do not belong in the URL; use --user and --password-env"));
        }
        if rest.contains('/') || rest.contains('?') {
            return Err(err("a path or query is not allowed"));
        }
        let default_port = match scheme {
            Scheme::Plain => 110,
            Scheme::ImplicitTls => 995,
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| err("unclosed `[` in IPv6 literal"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(err("not an IPv6 address inside `[...]`"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| err("expected `:port` after `]`"))?),
            };
            (host.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => return Err(err("IPv6 literals must be in brackets")),
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(err("missing host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| err(&format!("bad port `{p}`")))?,
        };
        Ok(Target { scheme, host, port })
    }

    /// `host:port` for connecting (brackets around IPv6).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// True when the host is a loopback name or address (the fuzzer only attacks these by default).
    pub fn is_loopback(&self) -> bool {
        match self.host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => self.host.eq_ignore_ascii_case("localhost"),
        }
    }

    /// The same host with another scheme and port (e.g. the implicit-TLS twin of a plain target).
    pub fn with(&self, scheme: Scheme, port: u16) -> Target {
        Target { scheme, host: self.host.clone(), port }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.scheme {
            Scheme::Plain => "pop3",
            Scheme::ImplicitTls => "pop3s",
        };
        write!(f, "{s}://{}", self.authority())
    }
}

impl std::str::FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, TargetError> {
        Target::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let t = Target::parse("pop3://mail.example.org").unwrap();
        assert_eq!((t.scheme, t.host.as_str(), t.port), (Scheme::Plain, "mail.example.org", 110));
        let t = Target::parse("pop3s://127.0.0.1").unwrap();
        assert_eq!((t.scheme, t.port), (Scheme::ImplicitTls, 995));
        let t = Target::parse("POP3://[::1]:1110/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 1110));
        assert_eq!(t.to_string(), "pop3://[::1]:1110");
        assert!(t.is_loopback());
        assert!(Target::parse("pop3://localhost:2110").unwrap().is_loopback());
        assert!(!Target::parse("pop3://example.org").unwrap().is_loopback());
    }

    #[test]
    fn rejects_bad_urls_with_reasons() {
        for (url, why) in [
            ("imap://x", "unknown scheme"),
            ("x:110", "missing scheme"),
            ("pop3://", "missing host"),
            ("pop3://h:0", "bad port"),
            ("pop3://h:99999", "bad port"),
            ("pop3://u:p@h", "credentials"),
            ("pop3://::1", "brackets"),
            ("pop3://[::1", "unclosed"),
            ("pop3://[nothost]:1", "IPv6"),
            ("pop3://h/x", "path"),
        ] {
            let e = Target::parse(url).unwrap_err();
            assert!(e.to_string().contains(why), "{url}: {e}");
        }
    }
}
