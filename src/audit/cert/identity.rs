//! Server identity check (audit A12, requirement 7817-identity): does the certificate name the host
//! the client connected to? Implemented here, not delegated to webpki, because the audit must say
//! *which* rule a certificate breaks, and because RFC 7817 still allows a CN-ID fallback.

use std::net::IpAddr;

use serde::Serialize;

/// A subjectAltName entry as far as identity matching cares (RFC 5280 §4.2.1.6 `GeneralName`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum San {
    /// dNSName: a DNS-ID in RFC 6125 terms.
    Dns(String),
    /// iPAddress.
    Ip(IpAddr),
    /// Any other name form (email, URI, ...), kept as evidence only.
    Other(String),
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(d) => write!(f, "DNS:{d}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
            San::Other(o) => f.write_str(o),
        }
    }
}

/// Which presented identifier matched the host, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "identifier")]
pub enum NameMatch {
    /// A dNSName equal to the host (case-insensitively).
    DnsId(String),
    /// A dNSName `*.rest` whose wildcard stood for the host's left-most label.
    WildcardDnsId(String),
    /// An iPAddress SAN equal to the host's address.
    IpAddress(IpAddr),
    /// The subject CN, consulted because the certificate has no dNSName at all.
    CommonName(String),
    NoMatch,
}

impl NameMatch {
    pub fn is_match(&self) -> bool {
        !matches!(self, NameMatch::NoMatch)
    }
}

/// Lower-cases and drops one trailing dot: RFC 6125 §6.4.1 "the client MUST match the reference
/// identifier … with the presented identifier … in a case-insensitive manner", and an absolute
/// name `example.com.` is the same name.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn labels_ok(name: &str) -> bool {
    !name.is_empty() && name.split('.').all(|l| !l.is_empty())
}

/// Parses a host given as an IP address, with or without `[...]` around an IPv6 literal.
pub fn host_ip(host: &str) -> Option<IpAddr> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse().ok()
}

/// How a presented DNS identifier relates to a (normalized) reference host.
#[derive(Debug, PartialEq, Eq)]
enum DnsIdMatch {
    Exact,
    Wildcard,
    No,
}

/// Matches one presented DNS identifier (a dNSName or a CN) against the reference host.
///
/// RFC 7817 §3: "The '*' (wildcard) character is allowed in DNS-IDs and CN-IDs, but only as the
/// left-most (most specific) DNS label in that value. This wildcard matches any left-most DNS label
/// in the server name. That is, the subject *.example.com matches the server names a.example.com
/// and b.example.com, but does not match example.com or a.b.example.com."
///
/// So `f*.example.com` (a partial label, which RFC 6125 §6.4.3 merely permits) and
/// `*.*.example.com` never match. A wildcard over a single remaining label (`*.com`) is refused as
/// a public suffix (RFC 6125 §7.2); without a public-suffix list, `*.co.uk` is not caught.
fn dns_id_matches(reference: &str, presented: &str) -> DnsIdMatch {
    let presented = normalize(presented);
    if !labels_ok(reference) || !labels_ok(&presented) {
        return DnsIdMatch::No;
    }
    if !presented.contains('*') {
        return if presented == reference { DnsIdMatch::Exact } else { DnsIdMatch::No };
    }
    let Some(rest) = presented.strip_prefix("*.") else { return DnsIdMatch::No };
    if rest.contains('*') || !rest.contains('.') {
        return DnsIdMatch::No;
    }
    match reference.split_once('.') {
        Some((first, ref_rest)) if !first.is_empty() && ref_rest == rest => DnsIdMatch::Wildcard,
        _ => DnsIdMatch::No,
    }
}

/// Checks `host` against a certificate's subjectAltNames and subject CN.
///
/// - A host that is an IP address matches only an iPAddress SAN of the same address (RFC 6125
///   §1.7.2 leaves IP addresses out of DNS matching; RFC 2818 §3.1: "the iPAddress subjectAltName
///   must be present in the certificate and must exactly match the IP").
/// - A DNS host is compared with every dNSName (RFC 6125 §6.4.1, wildcard rules in
///   `dns_id_matches`).
/// - The CN is consulted only when the certificate has no dNSName at all: RFC 6125 §6.4.4 "a
///   client MUST NOT seek a match for a reference identifier of CN-ID if the presented identifiers
///   include a DNS-ID". RFC 7817 §3 keeps the CN-ID fallback for email clients; the report still
///   flags a CN-only certificate.
///
/// Internationalized names are compared as given (A-labels, `xn--...`); U-labels are not converted.
pub fn name_matches(host: &str, sans: &[San], cn: Option<&str>) -> NameMatch {
    if let Some(ip) = host_ip(host) {
        return if sans.contains(&San::Ip(ip)) { NameMatch::IpAddress(ip) } else { NameMatch::NoMatch };
    }
    let reference = normalize(host);
    let mut wildcard = None;
    let mut any_dns = false;
    for san in sans {
        let San::Dns(presented) = san else { continue };
        any_dns = true;
        match dns_id_matches(&reference, presented) {
            DnsIdMatch::Exact => return NameMatch::DnsId(presented.clone()),
            DnsIdMatch::Wildcard => wildcard = wildcard.or_else(|| Some(presented.clone())),
            DnsIdMatch::No => {}
        }
    }
    if let Some(presented) = wildcard {
        return NameMatch::WildcardDnsId(presented);
    }
    match cn {
        Some(cn) if !any_dns && dns_id_matches(&reference, cn) != DnsIdMatch::No => {
            NameMatch::CommonName(cn.to_string())
        }
        _ => NameMatch::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(names: &[&str]) -> Vec<San> {
        names.iter().map(|n| San::Dns(n.to_string())).collect()
    }

    #[test]
    fn dns_id_table() {
        use DnsIdMatch::*;
        let cases: &[(&str, &str, DnsIdMatch)] = &[
            ("pop.example.com", "pop.example.com", Exact),
            ("POP.Example.COM", "pop.example.com", Exact),
            ("pop.example.com.", "pop.example.com", Exact),
            ("pop.example.com", "POP.EXAMPLE.COM.", Exact),
            ("pop.example.com", "mail.example.com", No),
            ("pop.example.com", "example.com", No),
            ("pop.example.com", "*.example.com", Wildcard),
            ("POP.example.com", "*.EXAMPLE.com", Wildcard),
            ("example.com", "*.example.com", No),
            ("a.b.example.com", "*.example.com", No),
            ("pop.example.com", "*.*.example.com", No),
            ("pop.example.com", "p*.example.com", No),
            ("pop.example.com", "*op.example.com", No),
            ("pop.example.com", "pop.*.com", No),
            ("example.com", "*.com", No),
            ("com", "*", No),
            ("pop.example.com", "*.example.com.", Wildcard),
            ("pop..example.com", "pop..example.com", No),
            (".example.com", "*.example.com", No),
            ("pop.example.com", "", No),
            ("pop.example.com", "*.", No),
        ];
        for (host, presented, expected) in cases {
            assert_eq!(dns_id_matches(&normalize(host), presented), *expected, "{host} vs {presented}");
        }
    }

    #[test]
    fn name_matches_table() {
        let ip = |s: &str| San::Ip(s.parse().unwrap());
        let cases: Vec<(&str, Vec<San>, Option<&str>, NameMatch)> = vec![
            ("pop.example.com", dns(&["pop.example.com"]), None, NameMatch::DnsId("pop.example.com".into())),
            (
                "pop.example.com",
                dns(&["*.example.com", "pop.example.com"]),
                None,
                NameMatch::DnsId("pop.example.com".into()),
            ),
            ("pop.example.com", dns(&["*.example.com"]), None, NameMatch::WildcardDnsId("*.example.com".into())),
            ("pop.example.com", dns(&["mail.example.com"]), Some("pop.example.com"), NameMatch::NoMatch),
            ("pop.example.com", vec![], Some("pop.example.com"), NameMatch::CommonName("pop.example.com".into())),
            ("pop.example.com", vec![], Some("*.example.com"), NameMatch::CommonName("*.example.com".into())),
            (
                "pop.example.com",
                vec![ip("192.0.2.1")],
                Some("pop.example.com"),
                NameMatch::CommonName("pop.example.com".into()),
            ),
            ("pop.example.com", vec![], Some("other.example.com"), NameMatch::NoMatch),
            ("pop.example.com", vec![], None, NameMatch::NoMatch),
            ("192.0.2.1", vec![ip("192.0.2.1")], None, NameMatch::IpAddress("192.0.2.1".parse().unwrap())),
            ("192.0.2.1", dns(&["192.0.2.1"]), Some("192.0.2.1"), NameMatch::NoMatch),
            ("192.0.2.1", vec![ip("192.0.2.2")], None, NameMatch::NoMatch),
            ("[2001:db8::1]", vec![ip("2001:db8::1")], None, NameMatch::IpAddress("2001:db8::1".parse().unwrap())),
            ("2001:db8::1", vec![ip("2001:db8:0:0::1")], None, NameMatch::IpAddress("2001:db8::1".parse().unwrap())),
            ("pop.example.com", vec![San::Other("email:pop.example.com".into())], Some("x"), NameMatch::NoMatch),
            ("", dns(&[""]), Some(""), NameMatch::NoMatch),
        ];
        for (host, sans, cn, expected) in cases {
            assert_eq!(name_matches(host, &sans, cn), expected, "{host} vs {sans:?} / {cn:?}");
        }
    }
}
