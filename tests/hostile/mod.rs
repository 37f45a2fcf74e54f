//! A POP3 server that misbehaves on purpose, one way per [`Behaviour`], for tests that prove the
//! tool ends on time, bounded in memory and with a clear word on every kind of hostile peer.
//! Plain std threads on 127.0.0.1:0; every loop is bounded by [`LIFETIME`] and by the client
//! closing; dropping the [`Hostile`] stops it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// No connection lives longer than this, whatever the client does.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// What `HugeBody` sends before its terminator: far beyond `--max-response` (16 MiB).
const HUGE: usize = 200 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Accepts and never sends a byte.
    Mute,
    /// The greeting, one byte every 500 ms, never finished.
    SlowGreeting,
    /// `+OK ` and then bytes without end, never a CRLF.
    EndlessLine,
    /// Normal until a multi-line reply, which never ends.
    EndlessBody,
    /// Multi-line replies of 200 MB, then the terminator.
    HugeBody,
    /// Random bytes (NUL, lone CR, 0xFF…) as greeting and as every reply.
    Garbage,
    /// `+OK hel`, then the connection closes.
    CloseMidGreeting,
    /// The greeting, then a close on the first command.
    CloseAfterGreeting,
    /// `-ERR go away` as the greeting, then a close.
    ErrGreeting,
    /// Every reply sent twice.
    OutOfStep,
    /// Normal until a multi-line reply, which is dripped one byte every 200 ms.
    DripBody,
    /// Advertises STLS, answers it `+OK`, then never speaks TLS.
    StlsStall,
    /// Answers STLS `+OK`, then sends bytes that are not TLS.
    StlsGarbage,
    /// The greeting, then a TCP reset on the first command.
    ResetAfterCommand,
}

pub const ALL: [Behaviour; 14] = [
    Behaviour::Mute,
    Behaviour::SlowGreeting,
    Behaviour::EndlessLine,
    Behaviour::EndlessBody,
    Behaviour::HugeBody,
    Behaviour::Garbage,
    Behaviour::CloseMidGreeting,
    Behaviour::CloseAfterGreeting,
    Behaviour::ErrGreeting,
    Behaviour::OutOfStep,
    Behaviour::DripBody,
    Behaviour::StlsStall,
    Behaviour::StlsGarbage,
    Behaviour::ResetAfterCommand,
];

/// A running hostile server; stops (and lets its connections end) when dropped.
pub struct Hostile {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Hostile {
    pub fn start(b: Behaviour) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::spawn(move || {
            let started = Instant::now();
            // Bounded: the listener lives as long as the test needs it, at most ten lifetimes.
            while !flag.load(Ordering::SeqCst) && started.elapsed() < LIFETIME * 10 {
                match listener.accept() {
                    Ok((s, _)) => {
                        let flag = flag.clone();
                        thread::spawn(move || {
                            let _ = serve(b, s, &flag);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Hostile { addr, stop }
    }

    pub fn url(&self) -> String {
        format!("pop3://{}", self.addr)
    }
}

/// One connection's deadline and stop flag: every write and wait checks it.
struct Life<'a> {
    until: Instant,
    stop: &'a AtomicBool,
}

impl Life<'_> {
    fn over(&self) -> bool {
        Instant::now() >= self.until || self.stop.load(Ordering::SeqCst)
    }
    /// Waits `d` unless the connection's life ends first; `false` when it has.
    fn pause(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.over() {
                return false;
            }
            thread::sleep(Duration::from_millis(20).min(d));
        }
        !self.over()
    }
}

/// A small xorshift: reproducible garbage without a dependency.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                // Biased toward the bytes parsers trip on.
                match self.0 % 8 {
                    0 => 0,
                    1 => b'\r',
                    2 => 0xff,
                    3 => b'\n',
                    _ => (self.0 >> 8) as u8,
                }
            })
            .collect()
    }
}

const GREETING: &[u8] = b"+OK hostile POP3 ready <1896.697170952@hostile.example>\r\n";
const CAPA: &[u8] = b"+OK\r\nUSER\r\nTOP\r\nUIDL\r\nSTLS\r\nPIPELINING\r\n.\r\n";
const MESSAGE: &[u8] =
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hostile\r\nMessage-ID: <h@example>\r\n\r\nbody line\r\n";

fn serve(b: Behaviour, mut s: TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    let life = Life { until: Instant::now() + LIFETIME, stop };
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15 ^ s.peer_addr().map(|a| a.port() as u64).unwrap_or(1));
    match b {
        Behaviour::Mute => return drain_until_closed(&mut s, &life),
        Behaviour::SlowGreeting => {
            for &byte in GREETING[..GREETING.len() - 2].iter().cycle() {
                s.write_all(&[byte])?;
                if !life.pause(Duration::from_millis(500)) {
                    break;
                }
            }
            return Ok(());
        }
        Behaviour::EndlessLine => {
            s.write_all(b"+OK ")?;
            return endless(&mut s, &life, |_| vec![b'A'; 64 << 10]);
        }
        Behaviour::Garbage => {
            s.write_all(&noise.bytes(512))?;
        }
        Behaviour::CloseMidGreeting => return s.write_all(b"+OK hel"),
        Behaviour::ErrGreeting => return s.write_all(b"-ERR go away\r\n"),
        _ => s.write_all(GREETING)?,
    }
    let mut reader = BufReader::new(s.try_clone()?);
    let mut line = Vec::new();
    loop {
        if life.over() {
            return Ok(());
        }
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A read timeout only lets the loop look at the clock; a partial line stays in `line`.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
        if !line.ends_with(b"\n") {
            if line.len() > 64 << 10 {
                line.clear();
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        line.clear();
        let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match b {
            Behaviour::CloseAfterGreeting => return Ok(()),
            Behaviour::ResetAfterCommand => {
                socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            Behaviour::Garbage => {
                s.write_all(&noise.bytes(512))?;
                continue;
            }
            _ => {}
        }
        if verb == "STLS" && matches!(b, Behaviour::StlsStall | Behaviour::StlsGarbage) {
            s.write_all(b"+OK begin TLS\r\n")?;
            if b == Behaviour::StlsStall {
                return drain_until_closed(&mut s, &life);
            }
            let mut sent = 0;
            while sent < (1 << 20) && !life.over() {
                s.write_all(&noise.bytes(4096))?;
                sent += 4096;
            }
            return drain_until_closed(&mut s, &life);
        }
        let multi = matches!(verb.as_str(), "CAPA" | "RETR" | "TOP")
            || (matches!(verb.as_str(), "LIST" | "UIDL") && !text.contains(' '));
        if multi {
            match b {
                Behaviour::EndlessBody => {
                    s.write_all(b"+OK here it comes\r\n")?;
                    return endless(&mut s, &life, |i| format!("line {i} of a body that never ends\r\n").into_bytes());
                }
                Behaviour::HugeBody => {
                    s.write_all(b"+OK 200 MB follow\r\n")?;
                    let chunk = [b"x".repeat(1022), b"\r\n".to_vec()].concat();
                    let mut sent = 0;
                    while sent < HUGE {
                        if life.over() {
                            return Ok(());
                        }
                        for _ in 0..64 {
                            s.write_all(&chunk)?;
                        }
                        sent += 64 * chunk.len();
                    }
                    s.write_all(b".\r\n")?;
                    continue;
                }
                Behaviour::DripBody => {
                    for &byte in reply(&verb, &text).iter() {
                        s.write_all(&[byte])?;
                        if !life.pause(Duration::from_millis(200)) {
                            return Ok(());
                        }
                    }
                    continue;
                }
                _ => {}
            }
        }
        let r = reply(&verb, &text);
        s.write_all(&r)?;
        if b == Behaviour::OutOfStep {
            s.write_all(&r)?;
        }
        if verb == "QUIT" {
            return Ok(());
        }
    }
}

/// The plausible answer of an ordinary two-message server.
fn reply(verb: &str, text: &str) -> Vec<u8> {
    let arg = text.split(' ').nth(1);
    let size = MESSAGE.len();
    match verb {
        "USER" | "PASS" | "APOP" | "NOOP" | "RSET" | "DELE" => b"+OK\r\n".to_vec(),
        "QUIT" => b"+OK bye\r\n".to_vec(),
        "CAPA" => CAPA.to_vec(),
        "STAT" => format!("+OK 2 {}\r\n", 2 * size).into_bytes(),
        "LIST" => match arg {
            Some(n) => format!("+OK {n} {size}\r\n").into_bytes(),
            None => format!("+OK\r\n1 {size}\r\n2 {size}\r\n.\r\n").into_bytes(),
        },
        "UIDL" => match arg {
            Some(n) => format!("+OK {n} uid{n}\r\n").into_bytes(),
            None => b"+OK\r\n1 uid1\r\n2 uid2\r\n.\r\n".to_vec(),
        },
        "RETR" | "TOP" => [b"+OK\r\n".as_slice(), MESSAGE, b".\r\n"].concat(),
        _ => b"-ERR unknown command\r\n".to_vec(),
    }
}

/// Sends `chunk(i)` until the peer goes, the life ends, or 1 GiB went out.
fn endless(s: &mut TcpStream, life: &Life, chunk: impl Fn(u64) -> Vec<u8>) -> std::io::Result<()> {
    let mut sent = 0usize;
    let mut i = 0;
    while sent < (1 << 30) && !life.over() {
        let c = chunk(i);
        s.write_all(&c)?;
        sent += c.len();
        i += 1;
    }
    Ok(())
}

/// Reads and ignores until the peer closes or the life ends.
fn drain_until_closed(s: &mut TcpStream, life: &Life) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    while !life.over() {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
