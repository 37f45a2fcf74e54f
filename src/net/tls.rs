//! TLS for the client side (rustls via tokio-rustls): certificate verification on by default
//! (Mozilla's roots from webpki-roots, or only the CAs of `--ca-file`), SNI, and an explicit
//! `--insecure` that accepts any certificate but still records it for the audit.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the client verifies servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (chain, name, dates unchecked). The session still records it.
    pub insecure: bool,
    /// Name to send as SNI and verify against, when it differs from the target host.
    pub server_name: Option<String>,
}

/// What was negotiated, for transcripts and the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// e.g. `TLSv1_3`.
    pub version: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The server's chain as sent, leaf first.
    pub peer_chain: Vec<CertificateDer<'static>>,
}

/// Building the TLS configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read CA file {path}: {source}")]
    CaFileRead { path: PathBuf, source: std::io::Error },
    #[error("CA file {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    CaFileEmpty { path: PathBuf },
    #[error("CA file {path}: certificate {index} is not usable as a trust anchor: {why}")]
    CaFileBad { path: PathBuf, index: usize, why: String },
    #[error("invalid TLS server name `{0}`")]
    BadServerName(String),
}

/// The rustls crypto provider this build uses (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads a PEM file of certificates into a root store.
pub fn load_ca_file(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let pem = std::fs::read(path).map_err(|source| TlsSetupError::CaFileRead { path: path.into(), source })?;
    let mut roots = RootCertStore::empty();
    let mut n = 0;
    for (index, cert) in rustls_pemfile::certs(&mut pem.as_slice()).enumerate() {
        let cert = cert.map_err(|e| TlsSetupError::CaFileBad { path: path.into(), index, why: e.to_string() })?;
        roots.add(cert).map_err(|e| TlsSetupError::CaFileBad { path: path.into(), index, why: e.to_string() })?;
        n += 1;
    }
    if n == 0 {
        return Err(TlsSetupError::CaFileEmpty { path: path.into() });
    }
    Ok(roots)
}

/// The root store for `opts`: the CA file's certificates, or Mozilla's roots.
pub fn root_store(opts: &TlsOptions) -> Result<RootCertStore, TlsSetupError> {
    match &opts.ca_file {
        Some(p) => load_ca_file(p),
        None => Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }),
    }
}

/// A client configuration for `opts` (TLS 1.2 and 1.3, the versions RFC 8996/8997 allow).
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring provider supports the default versions");
    let config = if opts.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnything(provider()))).with_no_client_auth()
    } else {
        builder.with_root_certificates(root_store(opts)?).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name to present as SNI and to verify the certificate against.
pub fn server_name(host: &str, opts: &TlsOptions) -> Result<ServerName<'static>, TlsSetupError> {
    let name = opts.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_string()).map_err(|_| TlsSetupError::BadServerName(name.to_string()))
}

/// `--insecure`: accepts every certificate, still checks handshake signatures so the session is
/// real TLS with *some* key.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Reads what rustls negotiated.
pub fn info_of(conn: &rustls::ClientConnection) -> TlsInfo {
    TlsInfo {
        version: conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
        cipher_suite: conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default(),
        peer_chain: conn
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default(),
    }
}

/// The TCP stream under TLS, counting the octets the server sent: a handshake that times out
/// then says whether the server sent nothing after our ClientHello or stalled part-way.
#[derive(Debug)]
pub struct Counted {
    inner: tokio::net::TcpStream,
    received: Arc<std::sync::atomic::AtomicU64>,
}

impl Counted {
    pub fn new(inner: tokio::net::TcpStream) -> (Counted, Arc<std::sync::atomic::AtomicU64>) {
        let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
        (Counted { inner, received: received.clone() }, received)
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        let got = buf.filled().len().saturating_sub(before);
        this.received.fetch_add(got as u64, std::sync::atomic::Ordering::Relaxed);
        r
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
