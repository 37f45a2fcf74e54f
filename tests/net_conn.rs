//! Connection-layer tests against in-process scripted servers on 127.0.0.1:0: plain, implicit
//! TLS, STLS, pipelining, certificate trust, and hostile servers (endless line, 10 MB without CRLF,
//! close mid-body, reset, trickle). Each hostile case must end in its typed error within the
//! timeout, never a hang or a panic.

use pop3test::net::session::{self, Credentials, LoginMethod, Secret};
use pop3test::net::{ConnectOptions, Connection, NetError, Scheme, Target, TlsOptions};
use pop3test::proto::{Command, DecodeError, Limits, Status, Violation};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A self-signed certificate for localhost/127.0.0.1, and a temp file with it (the CA file).
struct TestCert {
    acceptor: tokio_rustls::TlsAcceptor,
    ca_file: tempfile::NamedTempFile,
}

fn test_cert() -> TestCert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_der = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key)
        .unwrap();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca_file, ck.cert.pem().as_bytes()).unwrap();
    TestCert { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca_file }
}

/// Starts a one-connection server running `script` and returns its address.
async fn serve<F, Fut>(script: F) -> std::net::SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            script(s).await;
        }
    });
    addr
}

fn target(addr: std::net::SocketAddr, scheme: Scheme) -> Target {
    Target { scheme, host: "127.0.0.1".into(), port: addr.port() }
}

fn quick(timeout_ms: u64) -> ConnectOptions {
    ConnectOptions {
        timeout: Duration::from_millis(timeout_ms),
        response_deadline: Duration::from_millis(timeout_ms * 3),
        ..ConnectOptions::default()
    }
}

/// A tiny correct POP3 responder over any stream: enough for the connection tests.
async fn tiny_pop3<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(s: S, greet: bool) -> Option<S> {
    let mut s = BufReader::new(s);
    if greet {
        s.get_mut().write_all(b"+OK ready <1.2@test>\r\n").await.ok()?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let reply: &[u8] = match line.trim_end().split(' ').next().unwrap_or("").to_ascii_uppercase().as_str() {
            "CAPA" => b"+OK\r\nUSER\r\nSTLS\r\nPIPELINING\r\n.\r\n",
            "USER" => b"+OK\r\n",
            "PASS" => b"+OK logged in\r\n",
            "STAT" => b"+OK 2 320\r\n",
            "LIST" => b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n",
            "RETR" => b"+OK\r\n..dot\r\nplain\r\n.\r\n",
            "NOOP" => b"+OK\r\n",
            "STLS" => {
                s.get_mut().write_all(b"+OK begin TLS\r\n").await.ok()?;
                return Some(s.into_inner());
            }
            "QUIT" => {
                let _ = s.get_mut().write_all(b"+OK bye\r\n").await;
                return None;
            }
            _ => b"-ERR unknown\r\n",
        };
        s.get_mut().write_all(reply).await.ok()?;
    }
}

fn creds() -> Credentials {
    Credentials { user: "mrose".into(), password: Secret::new("tanstaaf") }
}

#[tokio::test]
async fn plain_session_logs_in_and_redacts_the_password() {
    let addr = serve(|s| async move {
        tiny_pop3(s, true).await;
    })
    .await;
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &quick(2000)).await.unwrap();
    let (g, ts) = session::greeting(&mut c).await.unwrap();
    assert_eq!((g.status, ts.as_deref()), (Status::Ok, Some("<1.2@test>")));
    let (caps, _, v) = session::capa(&mut c).await.unwrap();
    assert!(v.is_empty() && caps.has("PIPELINING"));
    let out = session::login(&mut c, &creds(), LoginMethod::UserPass, None).await.unwrap();
    assert!(out.ok());
    let r = c.command(&Command::Retr(1)).await.unwrap();
    assert_eq!(r.body.unwrap().data, b".dot\r\nplain\r\n");
    let t = c.close(true).await;
    let all: String = t.entries().iter().map(|e| e.text.clone()).collect();
    assert!(all.contains("PASS <redacted>"), "{all}");
    assert!(!all.contains("tanstaaf"), "{all}");
}

#[tokio::test]
async fn pipelined_commands_get_replies_in_order() {
    let addr = serve(|s| async move {
        tiny_pop3(s, true).await;
    })
    .await;
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &quick(2000)).await.unwrap();
    c.greeting().await.unwrap();
    let rs = c.pipeline(&[Command::Stat, Command::List(None), Command::Noop, Command::Retr(1)]).await.unwrap();
    assert_eq!(rs.len(), 4);
    assert_eq!(rs[0].text, "2 320");
    assert_eq!(rs[1].body.as_ref().unwrap().lines, 2);
    assert!(rs[2].body.is_none());
    assert_eq!(rs[3].body.as_ref().unwrap().data, b".dot\r\nplain\r\n");
}

#[tokio::test]
async fn implicit_tls_needs_the_ca_and_accepts_with_it() {
    let cert = test_cert();
    for (ca, insecure, ok) in [(false, false, false), (true, false, true), (false, true, true)] {
        let acceptor = cert.acceptor.clone();
        let addr = serve(move |s| async move {
            if let Ok(tls) = acceptor.accept(s).await {
                tiny_pop3(tls, true).await;
            }
        })
        .await;
        let opts = ConnectOptions {
            tls: TlsOptions {
                ca_file: ca.then(|| cert.ca_file.path().to_path_buf()),
                insecure,
                server_name: Some("localhost".into()),
            },
            ..quick(2000)
        };
        let res = Connection::connect(&target(addr, Scheme::ImplicitTls), &opts).await;
        match (res, ok) {
            (Ok(mut c), true) => {
                assert!(c.is_tls());
                let info = c.tls_info().unwrap();
                assert!(info.version.starts_with("TLSv1_"), "{}", info.version);
                assert_eq!(info.peer_chain.len(), 1);
                assert!(c.greeting().await.unwrap().is_ok());
            }
            (Err(NetError::Handshake(msg)), false) => assert!(msg.contains("--ca-file"), "{msg}"),
            (other, _) => panic!("ca={ca} insecure={insecure}: {:?}", other.err()),
        }
    }
}

#[tokio::test]
async fn stls_upgrade_then_commands_inside_tls() {
    let cert = test_cert();
    let acceptor = cert.acceptor.clone();
    let addr = serve(move |s| async move {
        if let Some(plain) = tiny_pop3(s, true).await {
            if let Ok(tls) = acceptor.accept(plain).await {
                tiny_pop3(tls, false).await;
            }
        }
    })
    .await;
    let opts = ConnectOptions {
        tls: TlsOptions {
            ca_file: Some(cert.ca_file.path().into()),
            insecure: false,
            server_name: Some("localhost".into()),
        },
        ..quick(2000)
    };
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &opts).await.unwrap();
    c.greeting().await.unwrap();
    assert!(session::stls(&mut c).await.unwrap().is_ok());
    assert!(c.is_tls());
    assert_eq!(c.command(&Command::Stat).await.unwrap().text, "2 320");
    let t = c.close(true).await;
    assert!(t.entries().iter().any(|e| e.tls && e.text.contains("STAT")));
}

/// Runs a hostile script and returns the error of reading the greeting, with elapsed time.
async fn greeting_error<F, Fut>(script: F, opts: ConnectOptions) -> (NetError, Duration)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let addr = serve(script).await;
    let started = Instant::now();
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &opts).await.unwrap();
    let err = c.greeting().await.expect_err("hostile server must produce an error");
    (err, started.elapsed())
}

#[tokio::test]
async fn server_that_never_ends_its_line_times_out() {
    let (err, took) = greeting_error(
        |mut s| async move {
            let _ = s.write_all(b"+OK this line never ends").await;
            let mut sink = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut sink)).await;
        },
        quick(300),
    )
    .await;
    // Part of the line came, then nothing: the reply's deadline names what arrived.
    assert!(matches!(err, NetError::Slow { what: "the greeting", received: 24, .. }), "{err:?}");
    assert!(err.to_string().contains("the greeting was incomplete after"), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn ten_megabytes_without_crlf_hits_the_line_bound() {
    let (err, took) = greeting_error(
        |mut s| async move {
            let chunk = vec![b'A'; 64 * 1024];
            for _ in 0..160 {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        },
        quick(2000),
    )
    .await;
    assert!(
        matches!(err, NetError::Decode(DecodeError::LineTooLong { limit }) if limit == Limits::default().max_line),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(3));
}

#[tokio::test]
async fn a_server_streaming_megabytes_of_body_is_counted_in_bounded_memory() {
    let addr = serve(|mut s| async move {
        let _ = s.write_all(b"+OK hi\r\n").await;
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"+OK here it comes\r\n").await;
        let chunk = b"0123456789012345678901234567890123456789\r\n".repeat(1000);
        for _ in 0..300 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    // A message body is streamed: counted whole, kept up to max_kept, cut at max_message.
    let limits = Limits { max_message: 8 * 1024 * 1024, max_kept: 1024 * 1024, ..Limits::default() };
    let opts = ConnectOptions { limits, ..quick(2000) };
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &opts).await.unwrap();
    c.greeting().await.unwrap();
    let err = c.command(&Command::Retr(1)).await.unwrap_err();
    assert!(matches!(err, NetError::Decode(DecodeError::ResponseTooLarge { limit }) if limit == 8 << 20), "{err:?}");
    // The connection never held more than a chunk of the 12 MB the server sent.
    assert!(c.buffered().len() < 2 * 1024 * 1024, "{} octets buffered", c.buffered().len());
}

#[tokio::test]
async fn a_long_body_leaves_a_short_transcript() {
    let addr = serve(|mut s| async move {
        let _ = s.write_all(b"+OK hi\r\n").await;
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"+OK here it comes\r\n").await;
        let chunk = b"0123456789012345678901234567890123456789\r\n".repeat(1000);
        for _ in 0..100 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = s.write_all(b"the last line\r\n.\r\n").await;
    })
    .await;
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &quick(2000)).await.unwrap();
    c.greeting().await.unwrap();
    let r = c.command(&Command::Retr(1)).await.unwrap();
    assert_eq!(r.body.as_ref().map(|b| b.octets), Some(4_200_015));
    // 4 MB streamed: its first chunk, its end and a note, not one capped entry per 256 KiB.
    let entries = c.transcript().entries();
    let text: usize = entries.iter().map(|e| e.text.len()).sum();
    assert!(text < 16 * 1024, "{text} characters of transcript in {} entries", entries.len());
    let last = entries.iter().rev().find(|e| e.text.contains("the last line")).is_some();
    assert!(last, "the reply's end is recorded");
    assert!(entries.iter().any(|e| e.text.contains("octets in the middle of this reply not recorded")));
}

#[tokio::test]
async fn close_in_the_middle_of_a_multi_line_response_keeps_the_partial_body() {
    let addr = serve(|mut s| async move {
        let _ = s.write_all(b"+OK hi\r\n").await;
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"+OK\r\nline one\r\nline tw").await;
    })
    .await;
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &quick(2000)).await.unwrap();
    c.greeting().await.unwrap();
    match c.command(&Command::Retr(1)).await.unwrap_err() {
        NetError::Closed { partial: Some(r), .. } => {
            assert_eq!(r.violations, vec![Violation::UnterminatedBody]);
            assert_eq!(r.body.unwrap().data, b"line one\r\nline tw");
        }
        other => panic!("{other:?}"),
    }
    assert!(c.is_eof());
}

#[tokio::test]
async fn reset_is_reported_as_reset() {
    let (err, _) = greeting_error(
        |s| async move {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            drop(s);
        },
        quick(2000),
    )
    .await;
    assert!(matches!(err, NetError::Reset { .. } | NetError::Closed { .. }), "{err:?}");
    assert!(err.is_disconnect());
}

#[tokio::test]
async fn trickling_server_is_cut_by_the_response_deadline() {
    let (err, took) = greeting_error(
        |mut s| async move {
            for _ in 0..100 {
                if s.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        },
        ConnectOptions {
            timeout: Duration::from_millis(200),
            response_deadline: Duration::from_millis(600),
            ..Default::default()
        },
    )
    .await;
    // A byte every 50 ms never leaves 200 ms of silence, but never makes a greeting either:
    // cut at about `timeout` (not the 600 ms response_deadline), naming what came and how fast.
    assert!(matches!(err, NetError::Slow { what: "the greeting", .. }), "{err:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Connection::connect(&target(addr, Scheme::Plain), &quick(1000)).await.err().unwrap();
    assert!(matches!(err, NetError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn unsolicited_data_is_seen_and_silence_is_none() {
    let addr = serve(|mut s| async move {
        let _ = s.write_all(b"+OK hi\r\n").await;
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"+OK surprise\r\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await;
    })
    .await;
    let mut c = Connection::connect(&target(addr, Scheme::Plain), &quick(1000)).await.unwrap();
    c.greeting().await.unwrap();
    assert_eq!(c.read_unsolicited(Duration::from_millis(100)).await.unwrap(), None);
    c.send_raw(b"X\r\n").await.unwrap();
    let got = c.read_unsolicited(Duration::from_millis(1000)).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"+OK surprise\r\n"[..]));
}

/// A server that penalises the address (Dovecot's auth penalty, up to 15 s) delays even a correct
/// login, and the probe's is the run's first: it waits for it rather than calling the account
/// refused.
#[tokio::test]
async fn the_probe_waits_for_a_penalised_first_login() {
    let addr = serve(|s| async move {
        let mut s = BufReader::new(s);
        s.get_mut().write_all(b"+OK ready\r\n").await.unwrap();
        let mut line = String::new();
        // Bounded: the probe sends a handful of commands.
        for _ in 0..50 {
            line.clear();
            if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let reply: &[u8] = match line.trim_end().split(' ').next().unwrap_or("").to_ascii_uppercase().as_str() {
                "PASS" => {
                    // The penalty: 2.5 times the client's 600 ms timeout.
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    b"+OK logged in\r\n"
                }
                "USER" | "NOOP" => b"+OK\r\n",
                "STAT" => b"+OK 0 0\r\n",
                "LIST" | "UIDL" => b"+OK\r\n.\r\n",
                "QUIT" => b"+OK bye\r\n",
                _ => b"-ERR unknown\r\n",
            };
            if s.get_mut().write_all(reply).await.is_err() {
                return;
            }
        }
    })
    .await;
    let opts = ConnectOptions { timeout: Duration::from_millis(600), ..quick(600) };
    let started = Instant::now();
    let p = pop3test::runner::probe::probe(
        &target(addr, Scheme::Plain),
        &opts,
        Some(&creds()),
        None,
        session::StlsPolicy::Never,
    )
    .await;
    assert_eq!(p.login_refused, None);
    assert_eq!(p.inventory.login, pop3test::inventory::Support::Yes);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// A TLS handshake that times out says which side it stalled on: nothing at all after our
/// ClientHello (a server not speaking TLS on that port, or one that never got to it) or part of
/// a handshake (a server stopped mid-way).
#[tokio::test]
async fn a_stalled_tls_handshake_says_how_far_it_got() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (sent, want) in
        [(&b""[..], "sent nothing after our ClientHello"), (&b"\x16\x03\x03\x00\x30"[..], "stopped part-way")]
    {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let addr = serve(move |mut s| async move {
            let mut hello = [0u8; 512];
            let _ = s.read(&mut hello).await;
            let _ = s.write_all(sent).await;
            // Hold the connection open, silent, until the client has given up.
            let _ = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        })
        .await;
        let opts = ConnectOptions { tls: TlsOptions { insecure: true, ..TlsOptions::default() }, ..quick(300) };
        let err = match Connection::connect(&target(addr, Scheme::ImplicitTls), &opts).await {
            Ok(_) => panic!("a silent server completed a handshake"),
            Err(e) => e,
        };
        let _ = done_tx.send(());
        assert!(matches!(err, NetError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
}

/// A server that misses our first ClientHello (not one octet back) but answers on a new
/// connection: implicit TLS tries once more, and the transcript says so.
#[tokio::test]
async fn a_silent_first_tls_handshake_is_tried_once_more_and_noted() {
    use tokio::io::AsyncReadExt;
    let cert = test_cert();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = cert.acceptor.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut first, _) = listener.accept().await.unwrap();
        let mut hello = [0u8; 512];
        let _ = first.read(&mut hello).await;
        let (second, _) = listener.accept().await.unwrap();
        if let Ok(tls) = acceptor.accept(second).await {
            tiny_pop3(tls, true).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        drop(first);
    });
    let opts = ConnectOptions { tls: TlsOptions { insecure: true, ..TlsOptions::default() }, ..quick(300) };
    let mut c = Connection::connect(&target(addr, Scheme::ImplicitTls), &opts).await.expect("second try");
    assert!(c.greeting().await.unwrap().is_ok());
    let notes: Vec<String> = c.transcript().entries().iter().map(|e| e.text.clone()).collect();
    assert!(notes.iter().any(|n| n.contains("once more on a new connection")), "{notes:?}");
    let _ = done_tx.send(());
}
