//! The certificates of the attacks: one CA the client is told to trust (`{ca}`), a good leaf and
//! a wrong-name leaf signed by it, and a leaf for the right names signed by a second CA that is
//! never handed out.

use super::attacks::Cert;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The acceptors of the three certificates and the trusted CA's PEM.
pub struct Pki {
    /// The CA a client should trust; its file is what `{ca}` names.
    pub ca_pem: String,
    good: TlsAcceptor,
    untrusted: TlsAcceptor,
    wrong_name: TlsAcceptor,
}

impl Pki {
    /// A fresh set, valid from yesterday for 30 days.
    pub fn generate() -> io::Result<Pki> {
        let (trusted, trusted_key) = ca("pop3test audit-client trusted CA")?;
        let (other, other_key) = ca("pop3test audit-client UNTRUSTED CA")?;
        let right_names = || {
            vec![
                SanType::DnsName("localhost".try_into().expect("valid name")),
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ]
        };
        let wrong = vec![SanType::DnsName("wrong-name.invalid".try_into().expect("valid name"))];
        Ok(Pki {
            ca_pem: trusted.pem(),
            good: leaf(right_names(), "localhost", &trusted, &trusted_key)?,
            untrusted: leaf(right_names(), "localhost", &other, &other_key)?,
            wrong_name: leaf(wrong, "wrong-name.invalid", &trusted, &trusted_key)?,
        })
    }

    /// The acceptor presenting `cert`.
    pub fn acceptor(&self, cert: Cert) -> &TlsAcceptor {
        match cert {
            Cert::Good => &self.good,
            Cert::Untrusted => &self.untrusted,
            Cert::WrongName => &self.wrong_name,
        }
    }
}

fn err<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(format!("test certificate: {e}"))
}

fn validity(p: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(30);
}

fn ca(name: &str) -> io::Result<(rcgen::Certificate, KeyPair)> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut p);
    let key = KeyPair::generate().map_err(err)?;
    Ok((p.self_signed(&key).map_err(err)?, key))
}

fn leaf(names: Vec<SanType>, cn: &str, ca: &rcgen::Certificate, ca_key: &KeyPair) -> io::Result<TlsAcceptor> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    p.subject_alt_names = names;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut p);
    let key = KeyPair::generate().map_err(err)?;
    let cert = p.signed_by(&key, ca, ca_key).map_err(err)?;
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::net::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(err)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
