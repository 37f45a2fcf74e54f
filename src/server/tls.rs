//! The server's TLS: a certificate (given as PEM files, or a fresh CA plus a `localhost` leaf made
//! with rcgen) and the rustls acceptor used by both STLS and the implicit-TLS port.
//!
//! Why a CA and a leaf rather than one self-signed certificate: rustls/webpki do not accept an
//! end-entity certificate as its own trust anchor, so clients trust the CA (`ca_pem`) and verify
//! the leaf against it, names (SAN localhost, 127.0.0.1, ::1) and dates included.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The acceptor and the PEM a client should trust to verify it.
pub struct TlsMaterial {
    pub acceptor: TlsAcceptor,
    /// The CA certificate (generated) or the certificate chain file's content (given).
    pub ca_pem: String,
}

fn other<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> io::Error + '_ {
    move |e| io::Error::other(format!("{what}: {e}"))
}

/// Loads `cert` and `key` when both are given, otherwise generates a CA and a leaf.
pub fn material(cert: Option<&Path>, key: Option<&Path>) -> io::Result<TlsMaterial> {
    let (chain, key, ca_pem) = match (cert, key) {
        (Some(cert), Some(key)) => load(cert, key)?,
        (None, None) => generate()?,
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "--cert and --key go together")),
    };
    let config = rustls::ServerConfig::builder_with_provider(crate::net::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(other("TLS versions"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(other("certificate and key do not fit together"))?;
    Ok(TlsMaterial { acceptor: TlsAcceptor::from(Arc::new(config)), ca_pem })
}

type Generated = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

/// A fresh CA ("pop3test test CA") and a leaf for localhost / 127.0.0.1 / ::1 signed by it, valid
/// from yesterday for 90 days (dates a certificate audit finds reasonable).
pub fn generate() -> io::Result<Generated> {
    let (ca_cert, leaf_cert, leaf_key) = generate_pki()?;
    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((chain, key, ca_cert.pem()))
}

/// Writes one such CA and leaf as `cert.pem` (leaf then CA), `key.pem` and `ca.pem` in `dir`, and
/// returns their paths: many servers started with the same `--cert`/`--key` (a fleet on loopback,
/// in tests and the benchmark) are then all verified by the one `--ca-file`.
pub fn write_test_pki(dir: &Path) -> io::Result<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let (ca_cert, leaf_cert, leaf_key) = generate_pki()?;
    let (cert, key, ca) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("ca.pem"));
    std::fs::write(&cert, format!("{}{}", leaf_cert.pem(), ca_cert.pem()))?;
    std::fs::write(&key, leaf_key.serialize_pem())?;
    std::fs::write(&ca, ca_cert.pem())?;
    Ok((cert, key, ca))
}

fn generate_pki() -> io::Result<(rcgen::Certificate, rcgen::Certificate, KeyPair)> {
    let now = time::OffsetDateTime::now_utc();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other("CA parameters"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "pop3test test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let (not_before, not_after) = (now - time::Duration::days(1), now + time::Duration::days(90));
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(other("CA key"))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(other("CA certificate"))?;

    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).map_err(other("leaf parameters"))?;
    leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate().map_err(other("leaf key"))?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(other("leaf certificate"))?;
    Ok((ca_cert, leaf_cert, leaf_key))
}

fn load(cert: &Path, key: &Path) -> io::Result<Generated> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())));
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut cert_pem.as_slice()).collect::<Result<_, _>>().map_err(other("certificate file"))?;
    if chain.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: no PEM certificate", cert.display())));
    }
    let key_pem = read(key)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(other("key file"))?
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{}: no PEM private key", key.display())))?;
    Ok((chain, key, String::from_utf8_lossy(&cert_pem).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn generated_chain_verifies_for_localhost_and_loopback_ips() {
        let (chain, _, ca_pem) = generate().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crate::net::tls::provider())
                .build()
                .unwrap();
        for name in ["localhost", "127.0.0.1", "::1"] {
            let name = rustls::pki_types::ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(&chain[0], &chain[1..], &name, &[], rustls::pki_types::UnixTime::now())
                .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("example.org").unwrap();
        assert!(verifier.verify_server_cert(&chain[0], &[], &other, &[], rustls::pki_types::UnixTime::now()).is_err());
    }
}
