//! The reference server over real sockets: locking, autologout, abort vs QUIT, UIDL stability,
//! Maildir persistence across restarts, the connection limit, line limits and junk, shutdown.
//! Every wait is bounded; nothing sleeps to synchronise.

use pop3test::net::{Connection, NetError};
use pop3test::proto::{Expect, Response};
use pop3test::server::{seed, spawn, ServerConfig, ServerHandle};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn tls(h: &ServerHandle) -> Connection {
    let mut c = Connection::connect(&h.tls_target().unwrap(), &h.connect_options()).await.expect("connect TLS");
    assert!(c.greeting().await.expect("greeting").is_ok());
    c
}

async fn line(c: &mut Connection, text: &str, expect: Expect) -> Response {
    c.send_raw(format!("{text}\r\n").as_bytes()).await.expect("send");
    c.read_response(expect).await.unwrap_or_else(|e| panic!("reply to {text:?}: {e}"))
}

async fn cmd(c: &mut Connection, text: &str) -> Response {
    line(c, text, Expect::SingleLine).await
}

async fn login(h: &ServerHandle) -> Connection {
    let mut c = tls(h).await;
    assert!(cmd(&mut c, "USER mrose").await.is_ok());
    let r = cmd(&mut c, "PASS tanstaaf").await;
    assert!(r.is_ok(), "{r:?}");
    c
}

async fn stat(c: &mut Connection) -> (usize, usize) {
    let r = cmd(c, "STAT").await;
    let mut it = r.text.split(' ').map(|n| n.parse::<usize>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn seed_stat() -> (usize, usize) {
    let m = seed::default_messages();
    (m.len(), m.iter().map(Vec::len).sum())
}

#[tokio::test]
async fn stls_then_login_works_on_the_plain_port() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let mut c = Connection::connect(&h.plain_target(), &h.connect_options()).await.unwrap();
    c.greeting().await.unwrap();
    assert!(cmd(&mut c, "USER mrose").await.is_err(), "cleartext USER must be refused");
    assert!(cmd(&mut c, "STLS").await.is_ok());
    c.start_tls().await.expect("the generated certificate verifies against ca_file");
    assert!(cmd(&mut c, "USER mrose").await.is_ok());
    assert!(cmd(&mut c, "PASS tanstaaf").await.is_ok());
    assert_eq!(stat(&mut c).await, seed_stat());
    assert!(cmd(&mut c, "QUIT").await.is_ok());
    assert!(matches!(c.read_unsolicited(Duration::from_secs(5)).await, Err(NetError::Closed { .. })));
    h.shutdown().await;
}

#[tokio::test]
async fn second_session_is_locked_out_until_the_first_ends() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let mut first = login(&h).await;
    assert!(h.is_locked("mrose"));
    let mut second = tls(&h).await;
    assert!(cmd(&mut second, "USER mrose").await.is_ok());
    let r = cmd(&mut second, "PASS tanstaaf").await;
    assert!(r.is_err() && r.code.as_ref().is_some_and(|c| c.is("IN-USE")), "{r:?}");
    // Another user is not affected.
    assert!(cmd(&mut second, "USER empty").await.is_ok());
    assert!(cmd(&mut second, "PASS empty-pass").await.is_ok());
    assert_eq!(stat(&mut second).await, (0, 0));
    assert!(cmd(&mut first, "QUIT").await.is_ok());
    assert!(cmd(&mut second, "QUIT").await.is_ok());
    // The lock is released before the server closes the connection.
    assert!(matches!(first.read_unsolicited(Duration::from_secs(5)).await, Err(NetError::Closed { .. })));
    assert!(!h.is_locked("mrose"));
    login(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn abort_without_quit_keeps_messages_and_quit_commits() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let mut c = login(&h).await;
    assert!(cmd(&mut c, "DELE 1").await.is_ok());
    assert!(cmd(&mut c, "DELE 2").await.is_ok());
    drop(c.close(false).await);
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    let mut c = login(&h).await;
    assert_eq!(stat(&mut c).await, seed_stat(), "abort removed nothing");
    assert!(cmd(&mut c, "DELE 1").await.is_ok());
    let bye = cmd(&mut c, "QUIT").await;
    assert!(bye.is_ok(), "{bye:?}");
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    let mut c = login(&h).await;
    let m = seed::default_messages();
    assert_eq!(stat(&mut c).await, (m.len() - 1, seed_stat().1 - m[0].len()));
    drop(c.close(false).await);
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    h.reseed();
    let mut c = login(&h).await;
    assert_eq!(stat(&mut c).await, seed_stat(), "reseed restores the default maildrop");
    h.shutdown().await;
}

#[tokio::test]
async fn autologout_closes_without_update() {
    let h = spawn(ServerConfig { autologout: Duration::from_millis(200), ..ServerConfig::default() }).await.unwrap();
    let mut c = login(&h).await;
    assert!(cmd(&mut c, "DELE 1").await.is_ok());
    let start = Instant::now();
    // RFC 1939 §3: the server closes without a response.
    match c.read_unsolicited(Duration::from_secs(5)).await {
        Err(NetError::Closed { .. }) => {}
        other => panic!("expected the server to close, got {other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(150), "{:?}", start.elapsed());
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    let mut c = login(&h).await;
    assert_eq!(stat(&mut c).await, seed_stat());
    h.shutdown().await;
}

async fn uidl(h: &ServerHandle) -> Vec<u8> {
    let mut c = login(h).await;
    let r = line(&mut c, "UIDL", Expect::MultiLine).await;
    assert!(cmd(&mut c, "QUIT").await.is_ok());
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    r.body.unwrap().data
}

#[tokio::test]
async fn uidl_is_stable_across_sessions_and_restarts() {
    let a = spawn(ServerConfig::default()).await.unwrap();
    let first = uidl(&a).await;
    assert_eq!(first, uidl(&a).await);
    let b = spawn(ServerConfig::default()).await.unwrap();
    assert_eq!(first, uidl(&b).await, "same content, same ids after a restart");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn maildir_deletions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || ServerConfig { maildir: Some(dir.path().to_path_buf()), ..ServerConfig::default() };
    let h = spawn(config()).await.unwrap();
    let mut c = login(&h).await;
    assert_eq!(stat(&mut c).await, seed_stat());
    let uids = line(&mut c, "UIDL", Expect::MultiLine).await.body.unwrap().data;
    assert!(cmd(&mut c, "DELE 2").await.is_ok());
    assert!(cmd(&mut c, "QUIT").await.is_ok());
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    h.shutdown().await;
    assert!(dir.path().join("mrose/cur").is_dir() && dir.path().join("empty/cur").is_dir());

    let h = spawn(config()).await.unwrap();
    let mut c = login(&h).await;
    let m = seed::default_messages();
    assert_eq!(stat(&mut c).await, (m.len() - 1, seed_stat().1 - m[1].len()));
    // Unique-ids are the file names: unchanged for the survivors.
    let after = line(&mut c, "UIDL", Expect::MultiLine).await.body.unwrap().data;
    let ids = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b).lines().map(|l| l.split(' ').nth(1).unwrap().to_string()).collect()
    };
    let (before, after) = (ids(&uids), ids(&after));
    assert_eq!(after, [&before[..1], &before[2..]].concat());
    let retr = line(&mut c, "RETR 2", Expect::MultiLine).await;
    assert_eq!(retr.body.unwrap().data, m[2], "files are served with CRLF line ends");
    drop(c.close(false).await);
    assert!(h.wait_idle(Duration::from_secs(5)).await);
    h.reseed();
    let mut c = login(&h).await;
    assert_eq!(stat(&mut c).await, seed_stat());
    h.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_get_sys_temp() {
    let h = spawn(ServerConfig { max_connections: 2, ..ServerConfig::default() }).await.unwrap();
    let opts = h.connect_options();
    let mut a = Connection::connect(&h.plain_target(), &opts).await.unwrap();
    assert!(a.greeting().await.unwrap().is_ok());
    let mut b = tls(&h).await;
    for target in [h.plain_target(), h.tls_target().unwrap()] {
        let mut c = Connection::connect(&target, &opts).await.unwrap();
        let r = c.greeting().await.unwrap();
        assert!(r.is_err() && r.code.as_ref().is_some_and(|c| c.is("SYS/TEMP")), "{r:?}");
        assert!(c.read_unsolicited(Duration::from_secs(5)).await.is_err(), "closed after the refusal");
    }
    assert!(cmd(&mut b, "QUIT").await.is_ok());
    assert!(matches!(b.read_unsolicited(Duration::from_secs(5)).await, Err(NetError::Closed { .. })));
    // The slot was freed before the close: a new connection is served.
    let mut c = Connection::connect(&h.plain_target(), &opts).await.unwrap();
    assert!(c.greeting().await.unwrap().is_ok());
    assert!(line(&mut a, "CAPA", Expect::MultiLine).await.is_ok());
    h.shutdown().await;
}

#[tokio::test]
async fn long_commands_are_accepted_and_over_long_ones_refused_without_echo() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let mut c = tls(&h).await;
    // RFC 2449 §4: 255 octets including CRLF.
    let user = format!("USER {}", "u".repeat(255 - 7));
    assert!(cmd(&mut c, &user).await.is_ok());
    let r = cmd(&mut c, &format!("PASS {}", "p".repeat(240))).await;
    assert!(r.is_err() && r.code.as_ref().is_some_and(|c| c.is("AUTH")));
    let r = cmd(&mut c, &format!("NOOP {}", "x".repeat(5000))).await;
    assert_eq!((r.is_err(), r.text.as_str()), (true, "line too long"));
    assert!(r.wire_len < 64);
    assert!(line(&mut c, "CAPA", Expect::MultiLine).await.is_ok(), "the session goes on");
    h.shutdown().await;
}

#[tokio::test]
async fn ten_megabytes_of_junk_do_not_hurt() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
    assert!(buf[..n].starts_with(b"+OK"));
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'J'; 64 * 1024];
        for _ in 0..160 {
            wr.write_all(&chunk).await?;
        }
        wr.write_all(b"\r\nCAPA\r\n").await?;
        Ok::<_, std::io::Error>(wr)
    });
    // The refusal comes while the junk is still arriving, and the session survives it.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !got.ends_with(b"\r\n.\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, rd.read(&mut buf)).await.expect("reply in time").unwrap();
        assert!(n > 0, "server closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("-ERR line too long\r\n+OK Capability list follows\r\n"), "{text}");
    writer.await.unwrap().unwrap();
    // And the next client is served.
    let mut c = login(&h).await;
    assert_eq!(stat(&mut c).await, seed_stat());
    h.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_live_sessions_without_update_and_removes_the_ca_file() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let ca = h.ca_file.clone();
    assert!(std::fs::read_to_string(&ca).unwrap().contains("BEGIN CERTIFICATE"));
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), h.ca_pem);
    let mut c = login(&h).await;
    assert!(cmd(&mut c, "DELE 1").await.is_ok());
    assert_eq!(h.active_connections(), 1);
    h.shutdown().await;
    assert!(c.read_unsolicited(Duration::from_secs(5)).await.is_err());
    assert!(!ca.exists());
}

#[tokio::test]
async fn shutdown_is_prompt_even_when_a_client_stops_reading() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let mut c = login(&h).await;
    // About 50 MiB of replies that this client never reads: the server blocks in its write.
    c.send_raw("RETR 6\r\n".repeat(50).as_bytes()).await.unwrap();
    let start = Instant::now();
    h.shutdown().await;
    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
}
