//! Version and cipher-suite probes (audits A10, A11) against real TLS servers on loopback:
//! an in-process rustls server (TLS 1.2 + 1.3 only), the same behind a minimal POP3 STLS exchange,
//! and `openssl s_server` configured to accept TLS 1.0 and weak TLS 1.2 suites.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pop3test::audit::ciphers::{self, Grade, SuiteClass};
use pop3test::audit::tls_versions::{
    enumerate_suites, probe_versions, probe_weak_suites, ProbeOutcome, ProtocolVersion, VersionProbe,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every probe's connect and reply waits; loopback answers in milliseconds, so this only bounds failures.
const TIMEOUT: Duration = Duration::from_secs(5);

fn accepted(probes: &[VersionProbe]) -> Vec<ProtocolVersion> {
    probes.iter().filter(|p| p.accepted).map(|p| p.version).collect()
}

fn table(probes: &[VersionProbe]) -> String {
    probes.iter().map(|p| format!("{}: {} ({})\n", p.version, p.accepted, p.detail)).collect()
}

/// A rustls server (ring provider, TLS 1.2 and 1.3, rcgen ECDSA certificate for localhost);
/// `stls` puts a POP3 greeting and `STLS` exchange in front of the handshake.
async fn rustls_server(stls: bool) -> SocketAddr {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if stls {
                    socket.write_all(b"+OK POP3 ready\r\n").await.unwrap();
                    if read_line(&mut socket).await != "STLS\r\n" {
                        return;
                    }
                    socket.write_all(b"+OK begin TLS negotiation\r\n").await.unwrap();
                }
                // The probe hangs up after the ServerHello, so every handshake here fails; that is expected.
                let _ = tokio::time::timeout(TIMEOUT, acceptor.accept(socket)).await;
            });
        }
    });
    addr
}

/// Reads one line byte by byte, so no TLS byte that follows is swallowed.
async fn read_line(socket: &mut TcpStream) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\n") && line.len() < 512 {
        match socket.read_u8().await {
            Ok(b) => line.push(b),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

#[tokio::test]
async fn rustls_server_accepts_only_tls12_and_tls13() {
    let addr = rustls_server(false).await;
    let probes = probe_versions(|| TcpStream::connect(addr), Some("localhost"), TIMEOUT).await;
    eprintln!("{}", table(&probes));
    assert_eq!(accepted(&probes), [ProtocolVersion::Tls12, ProtocolVersion::Tls13], "{}", table(&probes));
    for p in probes.iter().filter(|p| p.version.is_deprecated()) {
        assert!(
            matches!(p.outcome, ProbeOutcome::Alert { .. } | ProbeOutcome::Closed | ProbeOutcome::Reset { .. }),
            "{}: {:?}",
            p.version,
            p.outcome
        );
    }
    let tls12 = &probes[3];
    assert_eq!(ciphers::classify(tls12.cipher.unwrap()).grade, Grade::Recommended, "{}", tls12.detail);
    assert!(ciphers::tls13_codes().contains(&probes[4].cipher.unwrap()));

    let weak = probe_weak_suites(|| TcpStream::connect(addr), ProtocolVersion::Tls12, Some("localhost"), TIMEOUT).await;
    assert_eq!(weak.len(), SuiteClass::ALL.len());
    assert!(weak.iter().all(|p| !p.accepted && p.outcome.is_conclusive()), "{weak:#?}");

    let (suites, last) = enumerate_suites(|| TcpStream::connect(addr), ProtocolVersion::Tls12, None, TIMEOUT).await;
    assert!(!suites.is_empty() && last.is_conclusive(), "{suites:?} {last:?}");
    assert!(suites.iter().all(|&c| ciphers::classify(c).grade == Grade::Recommended), "{suites:x?}");
}

#[tokio::test]
async fn probes_run_after_a_pop3_stls_exchange() {
    let addr = rustls_server(true).await;
    let connect = || async move {
        let mut socket = TcpStream::connect(addr).await?;
        read_line(&mut socket).await;
        socket.write_all(b"STLS\r\n").await?;
        let answer = read_line(&mut socket).await;
        if !answer.starts_with("+OK") {
            return Err(std::io::Error::other(format!("STLS refused: {answer:?}")));
        }
        Ok(socket)
    };
    let probes = probe_versions(connect, Some("localhost"), TIMEOUT).await;
    assert_eq!(accepted(&probes), [ProtocolVersion::Tls12, ProtocolVersion::Tls13], "{}", table(&probes));
}

#[tokio::test]
async fn nothing_listening_is_inconclusive() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let probes = probe_versions(|| TcpStream::connect(port), None, TIMEOUT).await;
    assert!(probes.iter().all(|p| !p.accepted && !p.outcome.is_conclusive()), "{}", table(&probes));
}

/// `openssl s_server`, killed (and reaped) when dropped.
struct OpenSsl {
    child: Child,
    addr: SocketAddr,
    stderr_log: std::path::PathBuf,
}

impl Drop for OpenSsl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run the `openssl` binary ({e}); these tests need it: install it with `apt-get install openssl`"
        ),
    }
}

/// Makes an RSA certificate (rcgen on ring cannot make RSA keys, and static-RSA suites need one)
/// and starts `s_server` on a free loopback port with `server_args`, waiting (bounded) until it
/// accepts connections.
fn start_s_server(dir: &Path, server_args: &[&str]) -> OpenSsl {
    let out = openssl(
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2"]
            .iter()
            .chain(&["-subj", "/CN=localhost"])
            .copied()
            .collect::<Vec<_>>(),
        dir,
    );
    assert!(out.status.success(), "openssl req failed: {}", String::from_utf8_lossy(&out.stderr));
    for attempt in 0..3 {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let stderr_log = dir.join(format!("s_server.{attempt}.log"));
        let accept = addr.to_string();
        let mut args = vec!["s_server", "-accept", &accept, "-cert", "cert.pem", "-key", "key.pem", "-www"];
        args.extend_from_slice(server_args);
        let child = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `openssl s_server` ({e}): install it with `apt-get install openssl`")
            });
        let mut server = OpenSsl { child, addr, stderr_log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                eprintln!(
                    "s_server exited with {status}: {}",
                    std::fs::read_to_string(&server.stderr_log).unwrap_or_default()
                );
                break;
            }
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("openssl s_server did not start listening within 3 attempts");
}

#[tokio::test]
async fn openssl_tls10_server_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    // OpenSSL 3 refuses TLS 1.0 at the default security level 2; level 0 lets `-tls1` work again.
    let server = start_s_server(dir.path(), &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    let addr = server.addr;
    let probes = probe_versions(|| TcpStream::connect(addr), Some("localhost"), TIMEOUT).await;
    let log = std::fs::read_to_string(&server.stderr_log).unwrap_or_default();
    eprintln!("{}", table(&probes));
    assert_eq!(accepted(&probes), [ProtocolVersion::Tls10], "{}\ns_server: {log}", table(&probes));
    let tls10 = &probes[1];
    assert!(matches!(tls10.outcome, ProbeOutcome::Hello(ref h) if h.version == ProtocolVersion::Tls10));
    assert!(ciphers::suite_info(tls10.cipher.unwrap()).is_some(), "{}", tls10.detail);
    // TLS 1.1 and 1.2 ClientHellos get a TLS 1.0 ServerHello: the version is refused, not accepted.
    for p in &probes[2..4] {
        assert!(!p.accepted && p.outcome.is_conclusive(), "{}: {}", p.version, p.detail);
    }
}

#[tokio::test]
async fn openssl_weak_tls12_suites_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_s_server(dir.path(), &["-tls1_2", "-cipher", "ALL:@SECLEVEL=0"]);
    let addr = server.addr;
    let probes =
        probe_weak_suites(|| TcpStream::connect(addr), ProtocolVersion::Tls12, Some("localhost"), TIMEOUT).await;
    let found = |class: SuiteClass| probes.iter().find(|p| p.class == class).unwrap();
    let summary: String = probes.iter().map(|p| format!("{:?}: {} ({})\n", p.class, p.accepted, p.detail)).collect();
    eprintln!("{summary}");
    for class in [SuiteClass::StaticRsa, SuiteClass::Anonymous, SuiteClass::Cbc] {
        let p = found(class);
        assert!(p.accepted, "{class:?} should be accepted:\n{summary}");
        assert!(class.contains(ciphers::suite_info(p.cipher.unwrap()).unwrap()), "{summary}");
    }
    // OpenSSL's ALL excludes eNULL, and OpenSSL 3 dropped EXPORT suites altogether.
    for class in [SuiteClass::Null, SuiteClass::Export] {
        assert!(!found(class).accepted, "{class:?} should be refused:\n{summary}");
    }
    let rsa = found(SuiteClass::StaticRsa);
    assert_eq!(ciphers::classify(rsa.cipher.unwrap()).grade, Grade::NoForwardSecrecy, "{summary}");
    assert!(probes.iter().all(|p| p.outcome.is_conclusive()), "{summary}");
}
