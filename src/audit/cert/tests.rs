//! Tests for [`super::assess`] and [`super::load_roots`] on rcgen-made chains.

use std::io::Write;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::RootCertStore;

use super::*;

/// 2030-01-01T00:00:00Z: inside rcgen's default validity (1975–4096) and the fixture's.
const NOW: u64 = 1_893_456_000;
const DAY: i64 = 86_400;

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(NOW))
}

fn at(offset_days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(NOW).unwrap() + offset_days * DAY).unwrap()
}

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "pop3test test CA");
        let key = KeyPair::generate().unwrap();
        Ca { cert: params.self_signed(&key).unwrap(), key }
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }

    /// A leaf signed by this CA; `edit` adjusts the parameters (names, dates) before signing.
    fn leaf(&self, edit: impl FnOnce(&mut CertificateParams)) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.distinguished_name.push(DnType::CommonName, "localhost");
        edit(&mut params);
        params.signed_by(&KeyPair::generate().unwrap(), &self.cert, &self.key).unwrap().der().clone()
    }
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

fn kinds(report: &CertReport) -> Vec<&'static str> {
    report
        .issues
        .iter()
        .map(|i| match i {
            CertIssue::EmptyChain => "empty",
            CertIssue::Unparseable { .. } => "unparseable",
            CertIssue::Untrusted { .. } => "untrusted",
            CertIssue::Expired { .. } => "expired",
            CertIssue::NotYetValid { .. } => "not-yet-valid",
            CertIssue::ExpiresSoon { .. } => "expires-soon",
            CertIssue::NameMismatch { .. } => "name-mismatch",
            CertIssue::CommonNameOnly { .. } => "cn-only",
            CertIssue::WeakKey { .. } => "weak-key",
            CertIssue::WeakSignature { .. } => "weak-signature",
            CertIssue::SelfSigned { .. } => "self-signed",
        })
        .collect()
}

#[test]
fn valid_leaf_for_localhost() {
    let ca = Ca::new();
    let leaf = ca.leaf(|_| {});
    let report = assess(&[leaf.clone(), ca.cert.der().clone()], "localhost", &ca.roots(), now());
    assert_eq!(report.chain, ChainStatus::Trusted);
    assert_eq!(report.name, NameMatch::DnsId("localhost".into()));
    assert_eq!(kinds(&report), Vec::<&str>::new(), "{:?}", report.issues);
    let c = &report.certificates[0];
    assert_eq!((c.key_algorithm.as_str(), c.key_bits), ("EC P-256", 256));
    assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(c.sans, vec![San::Dns("localhost".into())]);
    assert_eq!(c.subject, "CN=localhost");
    assert_eq!(c.issuer, "CN=pop3test test CA");
    assert_eq!(c.sha256.len(), 64);
    assert!(!c.self_issued);
    assert!(report.certificates[1].self_issued, "the CA is self-issued");
    assert_eq!(report.leaf_sha256(), Some(c.sha256.as_str()));
    // Evidence is serializable as-is for every report format.
    assert!(serde_json::to_string(&report).unwrap().contains("\"status\":\"trusted\""));
}

#[test]
fn wrong_name_is_a_mismatch_not_a_chain_failure() {
    let ca = Ca::new();
    let leaf = ca.leaf(|p| p.subject_alt_names = vec![dns("mail.example.org")]);
    let report = assess(&[leaf], "pop.example.com", &ca.roots(), now());
    assert_eq!(report.chain, ChainStatus::Trusted);
    assert_eq!(kinds(&report), ["name-mismatch"]);
    let CertIssue::NameMismatch { presented, .. } = &report.issues[0] else { unreachable!() };
    assert_eq!(presented, &["DNS:mail.example.org", "CN=localhost"]);
    assert!(report.issues[0].describe().contains("RFC 7817"));
    assert_eq!(report.issues[0].severity(), Severity::High);
}

#[test]
fn wildcard_forms() {
    let ca = Ca::new();
    let cases: &[(&str, &str, bool)] = &[
        ("*.example.com", "pop.example.com", true),
        ("*.example.com", "a.pop.example.com", false),
        ("*.example.com", "example.com", false),
        ("*.*.example.com", "a.pop.example.com", false),
        ("a*.example.com", "abc.example.com", false),
        ("*.com", "example.com", false),
    ];
    for &(presented, host, ok) in cases {
        let leaf = ca.leaf(|p| p.subject_alt_names = vec![dns(presented)]);
        let report = assess(&[leaf], host, &ca.roots(), now());
        assert_eq!(report.name.is_match(), ok, "{presented} for {host}: {:?}", report.name);
        if ok {
            assert_eq!(report.name, NameMatch::WildcardDnsId(presented.into()));
        }
    }
}

#[test]
fn ip_address_san() {
    let ca = Ca::new();
    let leaf = ca.leaf(|p| p.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())]);
    let report = assess(std::slice::from_ref(&leaf), "127.0.0.1", &ca.roots(), now());
    assert_eq!(report.name, NameMatch::IpAddress("127.0.0.1".parse().unwrap()));
    assert_eq!(kinds(&report), Vec::<&str>::new());
    // A DNS name and a CN never vouch for an address.
    let dns_only = ca.leaf(|p| p.subject_alt_names = vec![dns("127.0.0.1.example")]);
    assert_eq!(assess(&[dns_only], "127.0.0.2", &ca.roots(), now()).name, NameMatch::NoMatch);
}

#[test]
fn common_name_only_certificate() {
    let ca = Ca::new();
    let leaf = ca.leaf(|p| {
        p.subject_alt_names.clear();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, "pop.example.com");
    });
    let report = assess(&[leaf], "pop.example.com", &ca.roots(), now());
    assert_eq!(report.name, NameMatch::CommonName("pop.example.com".into()));
    assert_eq!(kinds(&report), ["cn-only"]);
    assert_eq!(report.issues[0].severity(), Severity::Low);
}

#[test]
fn expired_not_yet_valid_and_expiring() {
    let ca = Ca::new();
    let expired = ca.leaf(|p| p.not_after = at(-1));
    let report = assess(&[expired], "localhost", &ca.roots(), now());
    assert_eq!(kinds(&report), ["untrusted", "expired"]);
    let ChainStatus::Untrusted { error } = &report.chain else { unreachable!() };
    assert!(error.contains("expired"), "{error}");

    let future = ca.leaf(|p| p.not_before = at(2));
    assert_eq!(kinds(&assess(&[future], "localhost", &ca.roots(), now())), ["untrusted", "not-yet-valid"]);

    let soon = ca.leaf(|p| p.not_after = at(10));
    let report = assess(&[soon], "localhost", &ca.roots(), now());
    assert_eq!(kinds(&report), ["expires-soon"]);
    assert!(matches!(report.issues[0], CertIssue::ExpiresSoon { days_left: 10, .. }));
}

#[test]
fn self_signed_leaf() {
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let report = assess(&[leaf.der().clone()], "localhost", &Ca::new().roots(), now());
    assert_eq!(kinds(&report), ["untrusted", "self-signed"]);
    assert!(report.issues[0].describe().contains("UnknownIssuer"), "{}", report.issues[0].describe());
    assert_eq!(report.issues[1], CertIssue::SelfSigned { trusted: false });
}

/// rcgen on ring cannot generate RSA keys (and ring refuses RSA keys under 2048 bits), so this
/// certificate was made once with `openssl req -x509 -newkey rsa:1024 -sha1 -days 36500
/// -subj /CN=weak.example.test -addext subjectAltName=DNS:weak.example.test`.
const RSA1024_SHA1_PEM: &str = "-----BEGIN CERTIFICATE-----
MIICNDCCAZ2gAwIBAgIURCgEb5wfNqX1/yxfet1F2yP708EwDQYJKoZIhvcNAQEF
BQAwHDEaMBgGA1UEAwwRd2Vhay5leGFtcGxlLnRlc3QwIBcNMjYxMTI3MTQyMDIx
WhgPMjEyNjExMDMxNDIwMjFaMBwxGjAYBgNVBAMMEXdlYWsuZXhhbXBsZS50ZXN0
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC93127THOXZBpwHS96qVOWrFi9
tI73V5EJBa1ZFMsR0Hiimzt99cniHoMxW7WjB07fpTMKvWZcbaoSHFoPHB+OWeYc
7P9OcI+fPDRMhNesA3/ibyAix6oiexZaoWsYNPUaV5CzRZ9xZz1vP9OWGZBgmArh
wXQRX1kDTYsBLBE+KwIDAQABo3EwbzAdBgNVHQ4EFgQUqd3wveN0qLFPt1K5Baxs
To/YOo8wHwYDVR0jBBgwFoAUqd3wveN0qLFPt1K5BaxsTo/YOo8wDwYDVR0TAQH/
BAUwAwEB/zAcBgNVHREEFTATghF3ZWFrLmV4YW1wbGUudGVzdDANBgkqhkiG9w0B
AQUFAAOBgQBNPU0i/ZOks8kvO/9ArEOv9xUdsgxf4H3d4KdkFdXrVa10w1JPZT6h
QXlw55PrbR44FODJTBOABP1QAVcx6nQ6izQPzr08KNcCyS6kw3VXK1afIZeBvwOg
EhA1DwRaAfOKBi7vzgl9WJi76Il7M1jUwTDKqGRkc5jlvtyW3i3P1g==
-----END CERTIFICATE-----
";

#[test]
fn weak_rsa_key_and_sha1_signature() {
    let der = rustls_pemfile::certs(&mut RSA1024_SHA1_PEM.as_bytes()).next().unwrap().unwrap();
    let report = assess(&[der], "weak.example.test", &load_roots(None).unwrap(), now());
    assert_eq!(kinds(&report), ["untrusted", "weak-key", "weak-signature", "self-signed"]);
    assert!(report.issues.contains(&CertIssue::WeakKey { position: 0, algorithm: "RSA".into(), bits: 1024 }));
    let sig = CertIssue::WeakSignature { position: 0, algorithm: "sha1WithRSAEncryption".into() };
    assert!(report.issues.contains(&sig));
    assert_eq!(report.certificates[0].serial, "4428046f9c1f36a5f5ff2c5f7add45db23fbd3c1");
}

#[test]
fn garbage_and_empty_chains_do_not_panic() {
    let roots = RootCertStore::empty();
    assert_eq!(kinds(&assess(&[], "localhost", &roots, now())), ["empty"]);
    for junk in [vec![], vec![0x30], vec![0x30, 0x82, 0xff, 0xff, 1, 2, 3], vec![0xAA; 300]] {
        let report = assess(&[CertificateDer::from(junk)], "localhost", &roots, now());
        assert_eq!(kinds(&report), ["untrusted", "unparseable"]);
        assert_eq!(report.name, NameMatch::NoMatch);
    }
}

#[test]
fn bit_length_counts_significant_bits() {
    assert_eq!(bit_length(&[0x00, 0x80, 0]), 16);
    assert_eq!(bit_length(&[0x7f, 0]), 15);
    assert_eq!(bit_length(&[0, 0]), 0);
    assert_eq!(bit_length(&[]), 0);
}

#[test]
fn load_roots_default_and_from_file() {
    assert!(load_roots(None).unwrap().len() > 100, "webpki-roots");

    let ca = Ca::new();
    let mut pem = tempfile::NamedTempFile::new().unwrap();
    pem.write_all(ca.cert.pem().as_bytes()).unwrap();
    let roots = load_roots(Some(pem.path())).unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(assess(&[ca.leaf(|_| {})], "localhost", &roots, now()).chain, ChainStatus::Trusted);

    let missing = std::path::Path::new("/nonexistent/pop3test-ca.pem");
    let err = load_roots(Some(missing)).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/pop3test-ca.pem"), "{err}");

    let mut empty = tempfile::NamedTempFile::new().unwrap();
    empty.write_all(b"not a certificate\n").unwrap();
    let err = load_roots(Some(empty.path())).unwrap_err();
    assert!(matches!(err, RootsError::NoCertificates { .. }), "{err}");
    assert!(err.to_string().contains(&empty.path().display().to_string()));
}

#[test]
fn pinned_self_signed_certificate_is_trusted_but_noted() {
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(leaf.der().clone()).unwrap();
    let report = assess(&[leaf.der().clone()], "localhost", &roots, now());
    assert_eq!(report.chain, ChainStatus::Trusted, "{:?}", report.chain);
    assert_eq!(report.issues, vec![CertIssue::SelfSigned { trusted: true }]);
}
