//! The TLS audit against the reference server: secure by default (nothing above info), and each
//! TLS-related defect profile yields exactly its finding. Plus the STLS-injection probe against
//! tiny scripted servers whose replies carry no text at all (`+OK`, `-ERR`), so neither verdict can
//! depend on the wording of a reply.

use pop3test::audit::check::Outcome;
use pop3test::audit::dial::{Ctx, Waits};
use pop3test::audit::{injection, run, AuditConfig};
use pop3test::net::session::{Credentials, Secret};
use pop3test::net::{Scheme, Target};
use pop3test::results::{Report, Severity, Verdict};
use pop3test::server::{self, seed, Defect, DefectSet, ServerConfig};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

fn creds() -> Credentials {
    Credentials { user: seed::DEFAULT_USER.into(), password: Secret::new(seed::DEFAULT_PASSWORD) }
}

/// Audits a reference server started with `config` (its CA trusted for A12, its test account used).
async fn audit(config: ServerConfig, with_creds: bool) -> Report {
    let handle = server::spawn(config).await.expect("reference server starts");
    let cfg = AuditConfig {
        target: handle.plain_target(),
        implicit: Some(handle.tls_target().unwrap_or_else(|| {
            // No implicit listener: point at a port nothing listens on (the plain port's twin + 0
            // would be the plain listener itself), so A13 sees a refused connection.
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            handle.plain_target().with(Scheme::ImplicitTls, free)
        })),
        creds: with_creds.then(creds),
        ca_file: Some(handle.ca_file.clone()),
        server_name: None,
        waits: Waits::from_step(Duration::from_secs(5)),
    };
    let report = run(&cfg).await;
    handle.shutdown().await;
    report
}

fn with(defects: &[Defect]) -> ServerConfig {
    ServerConfig { defects: defects.iter().copied().collect::<DefectSet>(), ..ServerConfig::default() }
}

/// Ids of failed results above info.
fn findings(report: &Report) -> BTreeSet<String> {
    report
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail && r.severity > Some(Severity::Info))
        .map(|r| r.id.clone())
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn no_errors(report: &Report) {
    let errors: Vec<_> =
        report.results.iter().filter(|r| r.verdict == Verdict::Error).map(|r| (&r.id, &r.message)).collect();
    assert!(errors.is_empty(), "tester errors: {errors:?}");
}

fn severity_of(report: &Report, id: &str) -> Option<Severity> {
    report.results.iter().find(|r| r.id == id).and_then(|r| r.severity)
}

#[tokio::test]
async fn default_server_is_secure_nothing_above_info() {
    let report = audit(ServerConfig::default(), true).await;
    no_errors(&report);
    assert_eq!(findings(&report), ids(&[]), "{:#?}", report.results);
    assert_eq!(report.results.len(), 18);
    let summary = report.summary.clone().unwrap();
    assert!(summary.starts_with("TLS enforced: yes, because"), "{summary}");
    assert_eq!(report.exit_code(Some(Severity::High)), 0);
    assert!(report.results.iter().filter(|r| r.verdict == Verdict::Pass).all(|r| r.severity.is_none()));
    // Every result carries its evidence and references.
    for r in &report.results {
        assert_eq!(r.area, "TLS audit");
        assert!(!r.rfc_refs.is_empty(), "{}", r.id);
    }
    let a06 = report.results.iter().find(|r| r.id == "A06").unwrap();
    assert!(a06.transcript.iter().any(|e| e.text.contains("STLS\\r\\nCAPA\\r\\n")), "exact bytes kept as evidence");
}

#[tokio::test]
async fn each_tls_defect_yields_exactly_its_finding() {
    let cases: [(Defect, &[&str]); 8] = [
        (Defect::StlsInjection, &["A06"]),
        (Defect::CleartextLogin, &["A03", "A05"]),
        (Defect::StlsTwice, &["A08"]),
        (Defect::StlsReadvertised, &["A08"]),
        (Defect::PlaintextAfterStlsOk, &["A09"]),
        (Defect::ApopStaticTimestamp, &["A17"]),
        (Defect::AuthSurvivesStls, &["A18"]),
        (Defect::UserEnumeration, &["A15"]),
    ];
    let runs = cases.iter().map(|(d, _)| audit(with(&[*d]), true));
    let reports = futures_join(runs.collect()).await;
    for ((defect, expected), report) in cases.iter().zip(&reports) {
        no_errors(report);
        assert_eq!(findings(report), ids(expected), "{defect}: {:#?}", report.results);
    }
    let by = |d: Defect| &reports[cases.iter().position(|(x, _)| *x == d).unwrap()];
    assert_eq!(severity_of(by(Defect::StlsInjection), "A06"), Some(Severity::Critical));
    assert_eq!(severity_of(by(Defect::CleartextLogin), "A03"), Some(Severity::High));
    assert_eq!(severity_of(by(Defect::StlsTwice), "A08"), Some(Severity::Medium));
    assert_eq!(severity_of(by(Defect::StlsReadvertised), "A08"), Some(Severity::Low));
    assert_eq!(severity_of(by(Defect::PlaintextAfterStlsOk), "A09"), Some(Severity::High));
    assert_eq!(severity_of(by(Defect::UserEnumeration), "A15"), Some(Severity::Low));
    for d in [Defect::StlsInjection, Defect::CleartextLogin, Defect::PlaintextAfterStlsOk] {
        let s = by(d).summary.clone().unwrap();
        assert!(s.starts_with("TLS enforced: no, because"), "{d}: {s}");
    }
}

#[tokio::test]
async fn cleartext_allowed_and_advertised() {
    let report = audit(ServerConfig { allow_cleartext: true, ..ServerConfig::default() }, true).await;
    no_errors(&report);
    // A03 login works; A04 it is advertised (medium since it works); A05 APOP usable in cleartext.
    assert_eq!(findings(&report), ids(&["A03", "A04", "A05"]), "{:#?}", report.results);
    assert_eq!(severity_of(&report, "A04"), Some(Severity::Medium));
}

#[tokio::test]
async fn stls_after_login_is_found_where_a_cleartext_login_exists() {
    // With cleartext refused (the default) no session is ever logged in before TLS, so the defect
    // cannot be reached: A07 passes. With cleartext allowed, it adds exactly A07.
    let latent = audit(with(&[Defect::StlsAfterLogin]), true).await;
    assert_eq!(findings(&latent), ids(&[]), "{:#?}", latent.results);
    let config = ServerConfig { allow_cleartext: true, ..with(&[Defect::StlsAfterLogin]) };
    let report = audit(config, true).await;
    no_errors(&report);
    assert_eq!(findings(&report), ids(&["A03", "A04", "A05", "A07"]), "{:#?}", report.results);
    assert_eq!(severity_of(&report, "A07"), Some(Severity::High));
    assert!(report.summary.unwrap().contains("(A07)"));
}

#[tokio::test]
async fn no_implicit_tls_listener_is_a13() {
    let report = audit(ServerConfig { tls_listen: None, ..ServerConfig::default() }, true).await;
    no_errors(&report);
    assert_eq!(findings(&report), ids(&["A13"]), "{:#?}", report.results);
    assert_eq!(severity_of(&report, "A13"), Some(Severity::Medium));
    let a14 = report.results.iter().find(|r| r.id == "A14").unwrap();
    assert_eq!(a14.verdict, Verdict::Skip);
}

#[tokio::test]
async fn without_credentials_the_login_checks_skip_with_reasons() {
    let report = audit(ServerConfig::default(), false).await;
    no_errors(&report);
    for id in ["A03", "A07", "A15"] {
        let r = report.results.iter().find(|r| r.id == id).unwrap();
        assert_eq!(r.verdict, Verdict::Skip, "{id}");
        assert!(r.message.as_deref().unwrap().contains("--user"), "{id}: {:?}", r.message);
    }
    assert!(report
        .summary
        .unwrap()
        .starts_with("TLS enforced: undetermined, because A03 (cleartext login) was skipped"));
}

// ---- STLS injection against scripted servers with wordless replies ----

/// How the scripted server treats plaintext that arrived with (or after) STLS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    /// Runs it inside TLS right after the handshake (CVE-2011-0411 style).
    Executes,
    /// Runs it inside TLS, but only when the next TLS data arrives.
    ExecutesLazily,
    /// Discards it (RFC 2595 §4).
    Discards,
    /// Hangs up when anything follows STLS.
    Closes,
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Wordless replies: `+OK` and `-ERR` with nothing after them.
fn reply(line: &[u8]) -> &'static [u8] {
    match line.to_ascii_uppercase().as_slice() {
        b"CAPA" => b"+OK\r\nSTLS\r\n.\r\n",
        b"NOOP" => b"+OK\r\n",
        l if l.starts_with(b"USER ") => b"+OK\r\n",
        _ => b"-ERR\r\n",
    }
}

/// Takes the complete lines out of `buf`.
fn lines(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        out.push(line.strip_suffix(b"\r\n").unwrap_or(&line[..line.len() - 1]).to_vec());
    }
    out
}

async fn serve_tls<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, mut pending: Vec<u8>, lazy: bool) {
    let mut buf = [0u8; 1024];
    let mut first = true;
    // Bounded: the client closes within a second; at most 64 reads.
    for _ in 0..64 {
        if !(first && lazy) {
            for line in lines(&mut pending) {
                if s.write_all(reply(&line)).await.is_err() {
                    return;
                }
            }
        }
        first = false;
        match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => pending.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}

async fn scripted_connection(
    mut tcp: tokio::net::TcpStream,
    behaviour: Behaviour,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    if tcp.write_all(b"+OK\r\n").await.is_err() {
        return;
    }
    let mut pending = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..64 {
        let mut done = Vec::new();
        for line in lines(&mut pending) {
            done.push(line);
        }
        for (i, line) in done.iter().enumerate() {
            if line.eq_ignore_ascii_case(b"STLS") {
                // Everything after STLS that already arrived: the rest of this read's lines.
                let mut rest: Vec<u8> = Vec::new();
                for l in &done[i + 1..] {
                    rest.extend_from_slice(l);
                    rest.extend_from_slice(b"\r\n");
                }
                rest.extend_from_slice(&pending);
                if behaviour == Behaviour::Closes && !rest.is_empty() {
                    return;
                }
                if tcp.write_all(b"+OK\r\n").await.is_err() {
                    return;
                }
                let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(3), acceptor.accept(tcp)).await else {
                    return;
                };
                let kept = match behaviour {
                    Behaviour::Executes | Behaviour::ExecutesLazily => rest,
                    Behaviour::Discards | Behaviour::Closes => Vec::new(),
                };
                serve_tls(tls, kept, behaviour == Behaviour::ExecutesLazily).await;
                return;
            }
            if tcp.write_all(reply(line)).await.is_err() {
                return;
            }
        }
        match tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => pending.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}

async fn scripted_server(behaviour: Behaviour) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls_acceptor();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(scripted_connection(tcp, behaviour, acceptor.clone()));
        }
    });
    Target { scheme: Scheme::Plain, host: "127.0.0.1".into(), port }
}

async fn injection_outcome(behaviour: Behaviour) -> Outcome {
    let target = scripted_server(behaviour).await;
    let ctx = Ctx::new(target, None, None, Waits::from_step(Duration::from_secs(3)));
    injection::finding(&ctx).await.outcome
}

#[tokio::test]
async fn injection_verdicts_do_not_depend_on_reply_wording() {
    let (executes, lazy, discards, closes) = tokio::join!(
        injection_outcome(Behaviour::Executes),
        injection_outcome(Behaviour::ExecutesLazily),
        injection_outcome(Behaviour::Discards),
        injection_outcome(Behaviour::Closes),
    );
    assert_eq!(executes.severity(), Some(Severity::Critical), "{executes:?}");
    assert_eq!(lazy.severity(), Some(Severity::Critical), "a server that runs it on the next read: {lazy:?}");
    assert!(discards.is_pass(), "{discards:?}");
    assert!(closes.is_pass(), "{closes:?}");
}

/// Awaits futures concurrently (each audit is independent and mostly waits).
async fn futures_join<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    pop3test::audit::dial::join_all(futs).await
}
