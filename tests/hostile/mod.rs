//! A POP3 server that misbehaves on purpose, one way per [`Behaviour`], for tests that prove the
//! tool ends on time, bounded in memory and with a clear word on every kind of hostile peer.
//!
//! `HostileServer::start(b)` listens on 127.0.0.1:0 and serves every connection with `b` on its
//! own std thread until the returned handle is dropped. Every loop is bounded: in time by
//! [`LIFETIME`] (per connection) and the handle (per server), in count by [`MAX_CONNECTIONS`]
//! and a byte cap per stream, and every wait ends when the client closes.
//! Where the behaviour does not apply the dialogue is a plausible two-message server (USER/PASS
//! accept anything, STAT `+OK 2 n`, LIST/UIDL two messages, CAPA with USER TOP UIDL PIPELINING,
//! and STLS where the behaviour answers it; commands outside their state get `-ERR`), so the tool
//! actually reaches the hostile part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// No connection lives longer than this, whatever the client does (a drip stops here).
pub const LIFETIME: Duration = Duration::from_secs(120);
/// Connections one server accepts in its life (fuzzing a server that closes reconnects a lot).
pub const MAX_CONNECTIONS: usize = 20_000;
/// Connections served at once; more are closed at once (a connection limit, as real servers do).
const MAX_LIVE: usize = 256;
/// What `HugeBody` and `HugeRetr` send before the terminator: far beyond `--max-response`.
const HUGE: usize = 200 << 20;
/// Most an endless stream sends before giving up (1 GiB: minutes at loopback speed).
const ENDLESS_CAP: usize = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Accepts and never sends a byte.
    Mute,
    /// The greeting, one byte every 500 ms, never finished.
    SlowGreeting,
    /// `+OK ` and then bytes without end, never a CRLF.
    EndlessLine,
    /// Normal until a multi-line reply (LIST, UIDL, CAPA, RETR, TOP), which never ends.
    EndlessBody,
    /// CAPA, LIST, UIDL, RETR and TOP answered with 200 MB of lines, then the terminator.
    HugeBody,
    /// Only RETR and TOP answered with 200 MB (CAPA and listings normal): the message path,
    /// streamed and kept only up to `--max-kept`, rather than the listing path.
    HugeRetr,
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
    /// Advertises STLS, answers it `+OK`, then never speaks TLS (reads and ignores).
    StlsStall,
    /// Answers STLS `+OK`, then sends bytes that are not TLS.
    StlsGarbage,
    /// The greeting, then a TCP reset (SO_LINGER 0) on the first command.
    ResetAfterCommand,
}

/// A running hostile server; stops (and lets its connections end) when dropped.
pub struct HostileServer {
    stop: Arc<AtomicBool>,
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl HostileServer {
    /// Listens on 127.0.0.1:0 and serves every connection with `b` until the handle is dropped.
    pub fn start(b: Behaviour) -> (SocketAddr, HostileServer) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        thread::spawn(move || {
            let started = Instant::now();
            let live = Arc::new(AtomicUsize::new(0));
            let mut accepted = 0;
            // Bounded: until dropped, at most a few lifetimes, at most MAX_CONNECTIONS.
            while !flag.load(Ordering::SeqCst) && started.elapsed() < LIFETIME * 3 && accepted < MAX_CONNECTIONS {
                match listener.accept() {
                    Ok((s, _)) if live.load(Ordering::SeqCst) >= MAX_LIVE => drop(s),
                    Ok((s, _)) => {
                        accepted += 1;
                        let (flag, live) = (flag.clone(), live.clone());
                        live.fetch_add(1, Ordering::SeqCst);
                        thread::spawn(move || {
                            let _ = s.set_nonblocking(false).and_then(|_| serve(b, s, &flag));
                            live.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        (addr, HostileServer { stop })
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
/// STLS is advertised only by the behaviours that answer it (`StlsStall`, `StlsGarbage`): the
/// others have no TLS, and a refused STLS they advertised would stop `run --stls auto` at its
/// first session, before the hostile part.
const CAPA_STLS: &[u8] = b"+OK\r\nUSER\r\nTOP\r\nUIDL\r\nSTLS\r\nPIPELINING\r\n.\r\n";
const CAPA: &[u8] = b"+OK\r\nUSER\r\nTOP\r\nUIDL\r\nPIPELINING\r\n.\r\n";
const MESSAGE: &[u8] =
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hostile\r\nMessage-ID: <h@example>\r\n\r\nbody line\r\n";

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

fn serve(b: Behaviour, mut s: TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    let life = Life { until: Instant::now() + LIFETIME, stop };
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15 ^ s.peer_addr().map(|a| a.port() as u64).unwrap_or(1));
    match b {
        Behaviour::Mute => return drain_until_closed(&mut s, &life),
        Behaviour::SlowGreeting => {
            // Never the CRLF: the greeting is dripped, cycling, until the client goes.
            for &byte in GREETING[..GREETING.len() - 2].iter().cycle().take(LIFETIME.as_secs() as usize * 2) {
                s.write_all(&[byte])?;
                if !life.pause(Duration::from_millis(500)) || peer_closed(&s) {
                    break;
                }
            }
            return Ok(());
        }
        Behaviour::EndlessLine => {
            s.write_all(b"+OK ")?;
            return endless(&mut s, &life, |_| vec![b'A'; 64 << 10]);
        }
        Behaviour::Garbage => s.write_all(&noise.bytes(512))?,
        Behaviour::CloseMidGreeting => return s.write_all(b"+OK hel"),
        Behaviour::ErrGreeting => return s.write_all(b"-ERR go away\r\n"),
        _ => s.write_all(GREETING)?,
    }
    let mut pop3 = Pop3 { stls: matches!(b, Behaviour::StlsStall | Behaviour::StlsGarbage), ..Pop3::default() };
    let mut reader = BufReader::new(s.try_clone()?);
    let mut line = Vec::new();
    while !life.over() {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A read timeout only lets the loop look at the clock; a partial line stays in `line`.
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
        if !line.ends_with(b"\n") {
            if line.len() > 64 << 10 {
                line.clear();
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
        line.clear();
        let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match b {
            Behaviour::CloseAfterGreeting => return Ok(()),
            Behaviour::ResetAfterCommand => {
                // SO_LINGER 0: the close below (both handles) sends RST instead of FIN.
                socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            Behaviour::Garbage => {
                s.write_all(&noise.bytes(512))?;
                continue;
            }
            _ => {}
        }
        if verb == "STLS" && pop3.stls && !pop3.logged_in {
            s.write_all(b"+OK begin TLS\r\n")?;
            if b == Behaviour::StlsGarbage {
                let mut sent = 0;
                while sent < (1 << 20) && !life.over() {
                    s.write_all(&noise.bytes(4096))?;
                    sent += 4096;
                }
            }
            return drain_until_closed(&mut s, &life);
        }
        let listing = matches!(verb.as_str(), "LIST" | "UIDL") && !text.contains(' ');
        let message = matches!(verb.as_str(), "RETR" | "TOP");
        // Only where a correct server would send a multi-line reply: CAPA, or after login.
        if verb == "CAPA" || (pop3.logged_in && (listing || message)) {
            match b {
                Behaviour::EndlessBody => {
                    s.write_all(b"+OK here it comes\r\n")?;
                    return endless(&mut s, &life, |i| {
                        format!("{} line of a body that never ends\r\n", i + 1).into_bytes()
                    });
                }
                Behaviour::HugeBody => {
                    huge(&mut s, &life)?;
                    continue;
                }
                Behaviour::HugeRetr if message => {
                    huge(&mut s, &life)?;
                    continue;
                }
                Behaviour::DripBody => {
                    for &byte in pop3.reply(&text).iter() {
                        s.write_all(&[byte])?;
                        if !life.pause(Duration::from_millis(200)) || peer_closed(&s) {
                            return Ok(());
                        }
                    }
                    continue;
                }
                _ => {}
            }
        }
        let r = pop3.reply(&text);
        s.write_all(&r)?;
        if b == Behaviour::OutOfStep {
            s.write_all(&r)?;
        }
        if verb == "QUIT" {
            return Ok(());
        }
    }
    Ok(())
}

/// The plausible side of the dialogue: an ordinary two-message server with RFC 1939's states,
/// so that what a job reports is the hostile part, not a sloppy stand-in.
#[derive(Default)]
struct Pop3 {
    user: bool,
    logged_in: bool,
    deleted: [bool; 2],
    stls: bool,
}

impl Pop3 {
    /// Message `n` (1-based) when `arg` names one that exists and is not deleted.
    fn message(&self, arg: &str) -> Option<usize> {
        let n: usize = arg.parse().ok().filter(|_| arg.bytes().all(|b| b.is_ascii_digit()))?;
        (1..=2).contains(&n).then_some(n).filter(|n| !self.deleted[n - 1])
    }

    /// The reply to one command line (without its CRLF).
    fn reply(&mut self, text: &str) -> Vec<u8> {
        const ERR: &[u8] = b"-ERR no\r\n";
        let mut words = text.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        if args.iter().any(|a| a.is_empty()) {
            return b"-ERR syntax\r\n".to_vec();
        }
        // PASS must follow a successful USER directly.
        let user = std::mem::take(&mut self.user);
        let size = MESSAGE.len();
        let one = |args: &[&str]| (args.len() == 1).then(|| self.message(args[0])).flatten();
        let ok = |s: &str| format!("+OK{s}\r\n").into_bytes();
        match (verb.as_str(), self.logged_in, args.len()) {
            ("QUIT", _, 0) => ok(" bye"),
            ("CAPA", _, 0) if self.stls && !self.logged_in => CAPA_STLS.to_vec(),
            ("CAPA", _, 0) => CAPA.to_vec(),
            ("USER", false, 1) => {
                self.user = true;
                ok("")
            }
            ("PASS", false, 1..) if user => {
                self.logged_in = true;
                ok(" logged in")
            }
            ("APOP", false, 2) => {
                self.logged_in = true;
                ok(" logged in")
            }
            ("STAT", true, 0) => {
                let n = self.deleted.iter().filter(|d| !**d).count();
                ok(&format!(" {n} {}", n * size))
            }
            ("NOOP", true, 0) => ok(""),
            ("RSET", true, 0) => {
                self.deleted = [false; 2];
                ok("")
            }
            ("LIST" | "UIDL", true, 0) => {
                let mut r = b"+OK\r\n".to_vec();
                for n in (1..=2).filter(|n| !self.deleted[n - 1]) {
                    let v = if verb == "LIST" { size.to_string() } else { format!("uid{n}") };
                    r.extend(format!("{n} {v}\r\n").bytes());
                }
                r.extend(b".\r\n");
                r
            }
            ("LIST", true, 1) => one(&args).map_or(ERR.to_vec(), |n| ok(&format!(" {n} {size}"))),
            ("UIDL", true, 1) => one(&args).map_or(ERR.to_vec(), |n| ok(&format!(" {n} uid{n}"))),
            ("RETR", true, 1) if one(&args).is_some() => [b"+OK\r\n".as_slice(), MESSAGE, b".\r\n"].concat(),
            ("TOP", true, 2) if one(&args[..1]).is_some() && args[1].parse::<u32>().is_ok() => {
                let head = &MESSAGE[..MESSAGE.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4];
                [b"+OK\r\n".as_slice(), head, b".\r\n"].concat()
            }
            ("DELE", true, 1) => match one(&args) {
                Some(n) => {
                    self.deleted[n - 1] = true;
                    ok(" deleted")
                }
                None => ERR.to_vec(),
            },
            _ => ERR.to_vec(),
        }
    }
}

/// `+OK`, [`HUGE`] octets of 1 KiB lines generated as they go out, then the terminator.
fn huge(s: &mut TcpStream, life: &Life) -> std::io::Result<()> {
    s.write_all(b"+OK 200 MB follow\r\n")?;
    let chunk = [b"x".repeat(1022), b"\r\n".to_vec()].concat().repeat(64);
    let mut sent = 0;
    while sent < HUGE {
        if life.over() {
            return Ok(());
        }
        s.write_all(&chunk)?;
        sent += chunk.len();
    }
    s.write_all(b".\r\n")
}

/// Sends `chunk(i)` until the peer goes, the life ends, or [`ENDLESS_CAP`] went out.
fn endless(s: &mut TcpStream, life: &Life, chunk: impl Fn(u64) -> Vec<u8>) -> std::io::Result<()> {
    let mut sent = 0usize;
    let mut i = 0;
    while sent < ENDLESS_CAP && !life.over() {
        let c = chunk(i);
        s.write_all(&c)?;
        sent += c.len();
        i += 1;
    }
    Ok(())
}

/// Whether the client has closed its side (a drip's cue to stop), without blocking.
fn peer_closed(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    let _ = s.set_nonblocking(true);
    let closed = matches!(s.peek(&mut b), Ok(0)) || matches!(s.peek(&mut b), Err(e) if !is_timeout(&e));
    let _ = s.set_nonblocking(false);
    closed
}

/// Reads and ignores until the peer closes or the life ends.
fn drain_until_closed(s: &mut TcpStream, life: &Life) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    while !life.over() {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
