//! Certificate assessment (audit A12): chain verification against trust anchors (webpki via
//! rustls), validity dates, server identity (RFC 7817, see [`identity`]), key and signature
//! strength, self-signed detection, and the evidence (subject, issuer, serial, dates, SANs,
//! SHA-256 fingerprint) that travels with every finding. Pure functions of the chain, the host, the
//! roots and the time; nothing here opens a connection.

pub mod identity;

use std::io::BufReader;
use std::path::{Path, PathBuf};

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::RootCertStore;
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

pub use identity::{name_matches, NameMatch, San};

use crate::results::Severity;

/// A certificate expiring within this many days is reported: long enough for a renewal to be
/// arranged, the same warning window Let's Encrypt's expiry mails use.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// RSA moduli below this many bits are weak (NIST SP 800-131A disallowed 1024-bit RSA from 2014).
pub const MIN_RSA_BITS: usize = 2048;
/// EC keys on curves below this many bits are weak (below P-256's 128-bit security level).
pub const MIN_EC_BITS: usize = 256;

/// Everything learned about one certificate of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    /// 0 is the server's own (leaf) certificate, then in the order the server sent them.
    pub position: usize,
    pub subject: String,
    pub issuer: String,
    /// Serial number in hex, as the server sent it.
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub sans: Vec<San>,
    pub common_name: Option<String>,
    /// `RSA`, `EC P-256`, `Ed25519`...
    pub key_algorithm: String,
    pub key_bits: usize,
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`... or the OID when unknown.
    pub signature_algorithm: String,
    /// Subject equals issuer (a root, or a self-signed server certificate).
    pub self_issued: bool,
    /// SHA-256 of the DER encoding, lowercase hex.
    pub sha256: String,
    #[serde(skip)]
    not_before_unix: i64,
    #[serde(skip)]
    not_after_unix: i64,
}

/// Result of verifying the chain up to a trust anchor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum ChainStatus {
    Trusted,
    /// `error` is the rustls error as it displays (e.g. "invalid peer certificate: UnknownIssuer").
    Untrusted {
        error: String,
    },
}

/// One problem with the presented certificates, each with a default severity (A12: high).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CertIssue {
    /// The server presented no certificate.
    EmptyChain,
    /// A certificate that is not valid DER X.509.
    Unparseable {
        position: usize,
        error: String,
    },
    /// The chain does not verify against the trust anchors.
    Untrusted {
        error: String,
    },
    Expired {
        position: usize,
        not_after: String,
    },
    NotYetValid {
        position: usize,
        not_before: String,
    },
    /// Valid now, but not for [`EXPIRY_WARNING_DAYS`] more days.
    ExpiresSoon {
        position: usize,
        not_after: String,
        days_left: i64,
    },
    /// RFC 7817 §3: no presented identifier matches the host.
    NameMismatch {
        host: String,
        presented: Vec<String>,
    },
    /// The host matched only the subject CN (no dNSName in the certificate): RFC 6125 §6.4.4 calls
    /// CN-IDs deprecated, and browsers and many libraries no longer accept them.
    CommonNameOnly {
        common_name: String,
    },
    /// RSA below [`MIN_RSA_BITS`] or EC below [`MIN_EC_BITS`].
    WeakKey {
        position: usize,
        algorithm: String,
        bits: usize,
    },
    /// Signed with MD5 or SHA-1 (collision attacks: CVE-2004-2761, SHAttered).
    WeakSignature {
        position: usize,
        algorithm: String,
    },
    /// The server certificate is its own issuer; `trusted` when the roots include it (a pinned CA file).
    SelfSigned {
        trusted: bool,
    },
}

impl CertIssue {
    /// The requirement id (pop3-requirements.md) the issue belongs to.
    pub fn requirement(&self) -> &'static str {
        match self {
            CertIssue::NameMismatch { .. } | CertIssue::CommonNameOnly { .. } => "7817-identity",
            _ => "A12",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            CertIssue::ExpiresSoon { .. } | CertIssue::CommonNameOnly { .. } => Severity::Low,
            CertIssue::SelfSigned { trusted: true } => Severity::Info,
            CertIssue::SelfSigned { trusted: false } => Severity::Medium,
            _ => Severity::High,
        }
    }

    /// One sentence for a report.
    pub fn describe(&self) -> String {
        match self {
            CertIssue::EmptyChain => "the server presented no certificate".into(),
            CertIssue::Unparseable { position, error } => format!("certificate #{position} cannot be parsed: {error}"),
            CertIssue::Untrusted { error } => format!("the chain does not verify: {error}"),
            CertIssue::Expired { position, not_after } => format!("certificate #{position} expired on {not_after}"),
            CertIssue::NotYetValid { position, not_before } => {
                format!("certificate #{position} is not valid before {not_before}")
            }
            CertIssue::ExpiresSoon { position, not_after, days_left } => {
                format!("certificate #{position} expires in {days_left} days ({not_after})")
            }
            CertIssue::NameMismatch { host, presented } => {
                format!("the certificate does not name {host} (RFC 7817 §3); it names {}", presented.join(", "))
            }
            CertIssue::CommonNameOnly { common_name } => {
                format!("{common_name} matched only through the subject CN; the certificate has no DNS subjectAltName")
            }
            CertIssue::WeakKey { position, algorithm, bits } => {
                format!("certificate #{position} has a weak {bits}-bit {algorithm} key")
            }
            CertIssue::WeakSignature { position, algorithm } => {
                format!("certificate #{position} is signed with {algorithm}")
            }
            CertIssue::SelfSigned { trusted: false } => "the server certificate is self-signed".into(),
            CertIssue::SelfSigned { trusted: true } => {
                "the server certificate is self-signed (trusted by the CA file)".into()
            }
        }
    }
}

/// The assessment of one presented chain for one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertReport {
    pub host: String,
    pub chain: ChainStatus,
    pub name: NameMatch,
    pub certificates: Vec<CertSummary>,
    pub issues: Vec<CertIssue>,
}

impl CertReport {
    /// The leaf's SHA-256 fingerprint, for comparing ports (A14).
    pub fn leaf_sha256(&self) -> Option<&str> {
        self.certificates.first().filter(|c| c.position == 0).map(|c| c.sha256.as_str())
    }
}

/// Assesses the chain a server presented (leaf first) for `host` at time `now`.
pub fn assess(chain: &[CertificateDer<'_>], host: &str, roots: &RootCertStore, now: UnixTime) -> CertReport {
    let mut issues = Vec::new();
    let mut certificates = Vec::new();
    let Some(leaf_der) = chain.first() else {
        return CertReport {
            host: host.to_string(),
            chain: ChainStatus::Untrusted { error: "no certificate presented".into() },
            name: NameMatch::NoMatch,
            certificates,
            issues: vec![CertIssue::EmptyChain],
        };
    };
    let chain_status = verify_chain(leaf_der, &chain[1..], roots, now);
    if let ChainStatus::Untrusted { error } = &chain_status {
        issues.push(CertIssue::Untrusted { error: error.clone() });
    }
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    for (position, der) in chain.iter().enumerate() {
        match summarize(position, der) {
            Ok(summary) => {
                check_dates(&summary, now_secs, &mut issues);
                check_strength(&summary, &mut issues);
                certificates.push(summary);
            }
            Err(error) => issues.push(CertIssue::Unparseable { position, error }),
        }
    }
    let leaf = certificates.first().filter(|c| c.position == 0);
    let name = match leaf {
        Some(leaf) => name_matches(host, &leaf.sans, leaf.common_name.as_deref()),
        None => NameMatch::NoMatch,
    };
    match (&name, leaf) {
        (NameMatch::NoMatch, Some(leaf)) => {
            let mut presented: Vec<String> = leaf.sans.iter().map(San::to_string).collect();
            presented.extend(leaf.common_name.iter().map(|cn| format!("CN={cn}")));
            issues.push(CertIssue::NameMismatch { host: host.to_string(), presented });
        }
        (NameMatch::CommonName(cn), _) => issues.push(CertIssue::CommonNameOnly { common_name: cn.clone() }),
        _ => {}
    }
    if leaf.is_some_and(|l| l.self_issued) {
        issues.push(CertIssue::SelfSigned { trusted: chain_status == ChainStatus::Trusted });
    }
    CertReport { host: host.to_string(), chain: chain_status, name, certificates, issues }
}

/// Verifies the path from the leaf to a root with webpki (through rustls), names aside: the name is
/// judged by [`name_matches`] so that a mismatch is reported as such, not as a chain failure.
fn verify_chain(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    roots: &RootCertStore,
    now: UnixTime,
) -> ChainStatus {
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let result = ParsedCertificate::try_from(leaf).and_then(|parsed| {
        verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, now, algorithms.all)
    });
    match result {
        Ok(()) => ChainStatus::Trusted,
        Err(e) => ChainStatus::Untrusted { error: e.to_string() },
    }
}

fn check_dates(c: &CertSummary, now: i64, issues: &mut Vec<CertIssue>) {
    let position = c.position;
    if now > c.not_after_unix {
        issues.push(CertIssue::Expired { position, not_after: c.not_after.clone() });
    } else if now < c.not_before_unix {
        issues.push(CertIssue::NotYetValid { position, not_before: c.not_before.clone() });
    } else {
        let days_left = (c.not_after_unix - now) / 86_400;
        if days_left < EXPIRY_WARNING_DAYS {
            issues.push(CertIssue::ExpiresSoon { position, not_after: c.not_after.clone(), days_left });
        }
    }
}

fn check_strength(c: &CertSummary, issues: &mut Vec<CertIssue>) {
    let position = c.position;
    let weak_key = match c.key_algorithm.as_str() {
        "RSA" => c.key_bits < MIN_RSA_BITS,
        alg if alg.starts_with("EC") => c.key_bits < MIN_EC_BITS,
        "DSA" => true,
        _ => false,
    };
    if weak_key {
        issues.push(CertIssue::WeakKey { position, algorithm: c.key_algorithm.clone(), bits: c.key_bits });
    }
    // A root's self-signature is never checked by anyone, so its hash does not matter.
    let is_anchor = position > 0 && c.self_issued;
    let sig = c.signature_algorithm.to_ascii_lowercase();
    if !is_anchor && (sig.contains("md5") || sig.contains("md2") || sig.contains("sha1")) {
        issues.push(CertIssue::WeakSignature { position, algorithm: c.signature_algorithm.clone() });
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signature algorithm OIDs (RFC 3279, RFC 4055, RFC 5758, RFC 8410) to their usual names.
fn signature_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => return other.to_string(),
    };
    name.to_string()
}

/// The bit length of a big-endian unsigned integer (x509-parser's RSA `key_size` miscounts
/// moduli without a leading zero byte).
fn bit_length(be: &[u8]) -> usize {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => return 0,
    };
    (trimmed.len() - 1) * 8 + (8 - trimmed[0].leading_zeros() as usize)
}

fn key_info(cert: &X509Certificate<'_>) -> (String, usize) {
    let spki = cert.public_key();
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), bit_length(rsa.modulus)),
        Ok(PublicKey::EC(point)) => match curve.as_deref() {
            Some("1.2.840.10045.3.1.7") => ("EC P-256".into(), 256),
            Some("1.3.132.0.34") => ("EC P-384".into(), 384),
            Some("1.3.132.0.35") => ("EC P-521".into(), 521),
            Some("1.2.840.10045.3.1.1") => ("EC P-192".into(), 192),
            Some("1.3.132.0.33") => ("EC P-224".into(), 224),
            other => (format!("EC {}", other.unwrap_or("unknown curve")), point.key_size()),
        },
        Ok(PublicKey::DSA(y)) => ("DSA".into(), bit_length(y)),
        _ => match spki.algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => ("Ed25519".into(), 256),
            "1.3.101.113" => ("Ed448".into(), 456),
            other => (other.to_string(), 0),
        },
    }
}

fn summarize(position: usize, der: &CertificateDer<'_>) -> Result<CertSummary, String> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            sans.push(match name {
                GeneralName::DNSName(d) => San::Dns(d.to_string()),
                GeneralName::IPAddress(bytes) => match bytes {
                    [a, b, c, d] => San::Ip(std::net::Ipv4Addr::new(*a, *b, *c, *d).into()),
                    _ => match <[u8; 16]>::try_from(*bytes) {
                        Ok(v6) => San::Ip(std::net::Ipv6Addr::from(v6).into()),
                        Err(_) => San::Other(format!("IP:{}", hex(bytes))),
                    },
                },
                other => San::Other(other.to_string()),
            });
        }
    }
    // RFC 6125 §6.4.4: the "most specific" CN is the last one in the subject.
    let common_name = cert.subject().iter_common_name().last().and_then(|cn| cn.as_str().ok()).map(str::to_string);
    let (key_algorithm, key_bits) = key_info(&cert);
    let validity = cert.validity();
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    Ok(CertSummary {
        position,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex(cert.raw_serial()),
        not_before: rfc3339(validity.not_before.timestamp()),
        not_after: rfc3339(validity.not_after.timestamp()),
        sans,
        common_name,
        key_algorithm,
        key_bits,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        sha256: hex(digest.as_ref()),
        not_before_unix: validity.not_before.timestamp(),
        not_after_unix: validity.not_after.timestamp(),
    })
}

/// Why trust anchors could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    #[error("cannot read CA file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("CA file {}: bad PEM: {source}", path.display())]
    Pem { path: PathBuf, source: std::io::Error },
    #[error("CA file {} holds no CERTIFICATE block", path.display())]
    NoCertificates { path: PathBuf },
    #[error("CA file {}: certificate #{index} is not a usable trust anchor: {reason}", path.display())]
    BadCertificate { path: PathBuf, index: usize, reason: String },
}

/// Trust anchors: Mozilla's (webpki-roots) when `ca_file` is `None`, else every certificate in the
/// PEM file (and only those: a private CA should not be mixed with the public ones).
pub fn load_roots(ca_file: Option<&Path>) -> Result<RootCertStore, RootsError> {
    let Some(path) = ca_file else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let file = std::fs::File::open(path).map_err(|source| RootsError::Read { path: path.to_path_buf(), source })?;
    let mut roots = RootCertStore::empty();
    for (index, cert) in rustls_pemfile::certs(&mut BufReader::new(file)).enumerate() {
        let cert = cert.map_err(|source| RootsError::Pem { path: path.to_path_buf(), source })?;
        roots.add(cert).map_err(|e| RootsError::BadCertificate {
            path: path.to_path_buf(),
            index,
            reason: e.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(RootsError::NoCertificates { path: path.to_path_buf() });
    }
    Ok(roots)
}

#[cfg(test)]
mod tests;
