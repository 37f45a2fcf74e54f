//! A12: the certificate presented on the STLS port and on the implicit-TLS port, each judged by
//! [`super::cert::assess`] (chain against the trust anchors, dates, RFC 7817 name, key and
//! signature strength). The chains come from the probes' own TLS sessions, which accept any
//! certificate precisely so that a bad one can be reported here instead of stopping the audit.

use super::cert::{self, CertReport};
use super::check::{CheckId, Evidence, Finding, Outcome};
use crate::results::Severity;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::RootCertStore;

/// Assesses each port's chain (`None`: no TLS session on that port).
pub fn assess_ports(
    chains: &[(String, Option<&[CertificateDer<'static>]>)],
    host: &str,
    roots: &RootCertStore,
    now: UnixTime,
) -> Vec<(String, CertReport)> {
    chains
        .iter()
        .filter_map(|(label, chain)| chain.map(|c| (label.clone(), cert::assess(c, host, roots, now))))
        .collect()
}

/// A12 from the per-port assessments; severity is the worst issue's (see [`cert::CertIssue::severity`]).
pub fn decide_a12(reports: &[(String, CertReport)]) -> Outcome {
    if reports.is_empty() {
        return Outcome::Skip("no TLS session came up on either port, so no certificate was seen".into());
    }
    let mut severity: Option<Severity> = None;
    let mut problems = Vec::new();
    let mut fine = Vec::new();
    for (label, r) in reports {
        if r.issues.is_empty() {
            let leaf = r.certificates.first();
            let until = leaf.map(|c| format!(", valid until {}", c.not_after)).unwrap_or_default();
            let key = leaf.map(|c| format!(", {} {}-bit key", c.key_algorithm, c.key_bits)).unwrap_or_default();
            fine.push(format!("{label}: chain trusted, names {}{until}{key}", r.host));
            continue;
        }
        for issue in &r.issues {
            severity = severity.max(Some(issue.severity()));
            problems.push(format!("{label}: {}", issue.describe()));
        }
    }
    match severity {
        None => Outcome::Pass(fine.join("; ")),
        Some(sev) => Outcome::fail(sev, problems.join("; ")),
    }
}

/// One evidence line per certificate.
pub fn evidence(reports: &[(String, CertReport)]) -> Evidence {
    let mut ev = Evidence::default();
    for (label, r) in reports {
        for c in &r.certificates {
            let sans: Vec<String> = c.sans.iter().map(|s| s.to_string()).collect();
            ev.note(format!(
                "{label} #{}: subject {}; issuer {}; valid {} to {}; SAN [{}]; {} {} bits; {}; sha256 {}",
                c.position,
                c.subject,
                c.issuer,
                c.not_before,
                c.not_after,
                sans.join(", "),
                c.key_algorithm,
                c.key_bits,
                c.signature_algorithm,
                c.sha256
            ));
        }
    }
    ev
}

/// A12 with its evidence; `roots` failing to load (a bad `--ca-file`) is a tester error.
pub fn finding(
    chains: &[(String, Option<&[CertificateDer<'static>]>)],
    host: &str,
    roots: Result<RootCertStore, String>,
) -> (Finding, Vec<(String, CertReport)>) {
    let roots = match roots {
        Ok(r) => r,
        Err(e) => return (Finding::new(CheckId::A12, Outcome::Error(e)), Vec::new()),
    };
    let reports = assess_ports(chains, host, &roots, UnixTime::now());
    let f = Finding::new(CheckId::A12, decide_a12(&reports)).with_evidence(evidence(&reports));
    (f, reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(names: &[&str]) -> (CertificateDer<'static>, RootCertStore) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let mut roots = RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        (der, roots)
    }

    #[test]
    fn a12_passes_a_trusted_matching_certificate_and_fails_a_name_mismatch() {
        let (der, roots) = self_signed(&["mail.example.org"]);
        let chain = [der];
        let chains = [("110/STLS".to_string(), Some(&chain[..]))];
        let ok = assess_ports(&chains, "mail.example.org", &roots, UnixTime::now());
        let out = decide_a12(&ok);
        // A self-signed certificate trusted through the CA file is only an info note.
        assert!(out.is_pass() || out.severity() == Some(Severity::Info), "{out:?}");
        let bad = assess_ports(&chains, "other.example.org", &roots, UnixTime::now());
        let out = decide_a12(&bad);
        assert_eq!(out.severity(), Some(Severity::High));
        assert!(out.message().contains("110/STLS") && out.message().contains("other.example.org"), "{out:?}");
        assert!(!evidence(&bad).0.is_empty());
    }

    #[test]
    fn a12_untrusted_chain_is_high_and_no_tls_is_a_skip() {
        let (der, _) = self_signed(&["mail.example.org"]);
        let chain = [der];
        let chains = [("995/TLS".to_string(), Some(&chain[..])), ("110/STLS".to_string(), None)];
        let reports = assess_ports(&chains, "mail.example.org", &RootCertStore::empty(), UnixTime::now());
        assert_eq!(reports.len(), 1);
        assert_eq!(decide_a12(&reports).severity(), Some(Severity::High));
        assert!(matches!(decide_a12(&[]), Outcome::Skip(_)));
    }
}
