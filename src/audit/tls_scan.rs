//! A10 (TLS below 1.2 or SSL accepted), A11 (weak TLS 1.2 suites) and A14 (the two ports
//! compared), built on the hand-built ClientHello probes of [`super::tls_versions`]. On the STLS
//! port every probe first does the STLS exchange with a [`Connection`], then takes the raw TCP
//! stream back ([`Connection::into_plain`]) for the ClientHello; on the implicit-TLS port it is a
//! plain TCP connection.

use super::check::{join_and, CheckId, Evidence, Finding, Outcome};
use super::ciphers::SuiteClass;
use super::dial::{self, Ctx, Slotted};
use super::tls_versions::{
    compare_postures, probe_versions, probe_weak_suites, PortPosture, ProtocolVersion, SuiteProbe, VersionProbe,
};
use crate::net::conn::tcp_connect;
use crate::net::Target;
use crate::proto::{Capabilities, Command};
use crate::results::Severity;
use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Most plaintext octets [`SkipPlaintext`] drops before it gives up and passes bytes through.
const MAX_SKIP: usize = 4096;

/// A stream that drops whole plaintext lines arriving before the first TLS record. A server that
/// sends text after its `+OK` to STLS (A09's finding) would otherwise make every version probe on
/// that port read "not TLS" and hide its real TLS posture. TLS records start with a content type
/// 0x14–0x17; POP3 lines start with printable text.
pub struct SkipPlaintext<S> {
    inner: S,
    skipping: bool,
    skipped: usize,
    pending: Vec<u8>,
}

impl<S> SkipPlaintext<S> {
    /// Wraps `inner`; `already` holds octets read past the `+OK` before the wrap.
    pub fn new(inner: S, already: &[u8]) -> Self {
        let mut s = SkipPlaintext { inner, skipping: true, skipped: 0, pending: Vec::new() };
        let rest = s.skip(already).to_vec();
        s.pending = rest;
        s
    }

    fn skip<'a>(&mut self, mut data: &'a [u8]) -> &'a [u8] {
        while self.skipping && !data.is_empty() {
            if (0x14..=0x17).contains(&data[0]) || self.skipped >= MAX_SKIP {
                self.skipping = false;
                break;
            }
            let cut = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
            self.skipped += cut;
            data = &data[cut..];
        }
        data
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SkipPlaintext<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Bounded: every turn either returns or skips at least one octet, and skipping stops at MAX_SKIP.
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if !this.skipping {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut tmp = [0u8; 2048];
            let mut rb = ReadBuf::new(&mut tmp);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            let filled = rb.filled().to_vec();
            let rest = this.skip(&filled).to_vec();
            this.pending = rest;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SkipPlaintext<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A raw TCP stream on the plain port, after greeting, STLS and `+OK`: ready for a ClientHello.
pub async fn stls_stream(ctx: &Ctx, target: &Target) -> io::Result<Slotted<SkipPlaintext<TcpStream>>> {
    let slot = ctx.slot().await;
    let g = dial::open_unslotted(target, &ctx.opts).await.map_err(io::Error::other)?;
    if !g.greeting.is_ok() {
        return Err(io::Error::other("the greeting was not +OK"));
    }
    let mut conn = g.conn;
    let reply = conn.command(&Command::Stls).await.map_err(io::Error::other)?;
    if !reply.is_ok() {
        return Err(io::Error::other("STLS was refused"));
    }
    let (tcp, rest, _) = conn.into_plain().map_err(io::Error::other)?;
    Ok(Slotted::new(SkipPlaintext::new(tcp, &rest), slot))
}

/// Version and weak-suite probes of one port.
#[derive(Debug, Clone)]
pub struct PortScan {
    /// `110/STLS`, `995/TLS`.
    pub label: String,
    pub versions: Vec<VersionProbe>,
    pub suites: Vec<SuiteProbe>,
}

impl PortScan {
    /// True when at least one probe asked its question.
    pub fn reached(&self) -> bool {
        self.versions.iter().any(|p| p.outcome.is_conclusive()) || self.suites.iter().any(|p| p.outcome.is_conclusive())
    }

    fn first_failure(&self) -> String {
        self.versions.iter().find(|p| !p.outcome.is_conclusive()).map(|p| p.detail.clone()).unwrap_or_default()
    }

    pub fn accepted_versions(&self) -> Vec<ProtocolVersion> {
        self.versions.iter().filter(|p| p.accepted).map(|p| p.version).collect()
    }

    pub fn posture(&self, cert_sha256: Option<String>) -> PortPosture {
        PortPosture {
            label: self.label.clone(),
            cert_sha256,
            versions: self.versions.clone(),
            weak_suites: self.suites.clone(),
        }
    }

    /// One evidence line per probe.
    pub fn evidence(&self) -> Evidence {
        let mut ev = Evidence::default();
        for p in &self.versions {
            ev.note(format!("{} {}: {}", self.label, p.version, p.detail));
        }
        for p in &self.suites {
            ev.note(format!("{} {} ({}): {}", self.label, p.class.label(), p.version, p.detail));
        }
        ev
    }
}

/// The SNI the probes send: `--server-name`, else the target host (left out for IP literals).
fn sni(ctx: &Ctx) -> String {
    ctx.opts.tls.server_name.clone().unwrap_or_else(|| ctx.target.host.clone())
}

/// Probes the STLS port: versions and weak suites concurrently, each a series of fresh connections.
pub async fn scan_stls(ctx: &Ctx, wait: Duration) -> PortScan {
    let connect = || stls_stream(ctx, &ctx.target);
    let sni = sni(ctx);
    let (versions, suites) = tokio::join!(
        probe_versions(connect, Some(&sni), wait),
        probe_weak_suites(connect, ProtocolVersion::Tls12, Some(&sni), wait)
    );
    PortScan { label: format!("{}/STLS", ctx.target.port), versions, suites }
}

/// Probes the implicit-TLS port the same way over plain TCP connections.
pub async fn scan_implicit(ctx: &Ctx, target: &Target, wait: Duration) -> PortScan {
    let connect = || async {
        let slot = ctx.slot().await;
        tcp_connect(target, wait).await.map(|s| Slotted::new(s, slot)).map_err(io::Error::other)
    };
    let sni = sni(ctx);
    let (versions, suites) = tokio::join!(
        probe_versions(connect, Some(&sni), wait),
        probe_weak_suites(connect, ProtocolVersion::Tls12, Some(&sni), wait)
    );
    PortScan { label: format!("{}/TLS", target.port), versions, suites }
}

/// A10 over the ports where TLS works. `scans` holds only those; a port where TLS works but no
/// probe could connect is a tester error.
pub fn decide_a10(scans: &[&PortScan]) -> Outcome {
    if scans.is_empty() {
        return Outcome::Skip("neither STLS nor implicit TLS works, so no TLS version could be probed".into());
    }
    let unreached: Vec<String> =
        scans.iter().filter(|s| !s.reached()).map(|s| format!("{}: {}", s.label, s.first_failure())).collect();
    if unreached.len() == scans.len() {
        return Outcome::Error(format!("the version probes could not connect: {}", unreached.join("; ")));
    }
    let mut bad = Vec::new();
    let mut severity = Severity::Medium;
    let mut summary = Vec::new();
    for s in scans.iter().filter(|s| s.reached()) {
        let accepted = s.accepted_versions();
        let old: Vec<String> = accepted.iter().filter(|v| v.is_deprecated()).map(|v| v.to_string()).collect();
        if accepted.iter().any(|v| matches!(v, ProtocolVersion::Ssl3 | ProtocolVersion::Tls10)) {
            severity = Severity::High;
        }
        if !old.is_empty() {
            bad.push(format!("{} accepts {}", s.label, join_and(&old)));
        }
        let all: Vec<String> = accepted.iter().map(|v| v.to_string()).collect();
        summary.push(format!("{} accepts {}", s.label, if all.is_empty() { "none".into() } else { join_and(&all) }));
    }
    let mut tail = String::new();
    if !unreached.is_empty() {
        tail = format!("; not probed: {}", unreached.join("; "));
    }
    if bad.is_empty() {
        Outcome::Pass(format!("SSLv3, TLS 1.0 and TLS 1.1 are refused; {}{tail}", summary.join("; ")))
    } else {
        Outcome::fail(severity, format!("{} (RFC 8996: MUST NOT){tail}", bad.join("; ")))
    }
}

/// A11: weak suite families accepted at TLS 1.2, severity per family (see [`SuiteClass::severity`]).
pub fn decide_a11(scans: &[&PortScan]) -> Outcome {
    let reached: Vec<&&PortScan> = scans.iter().filter(|s| s.reached()).collect();
    if reached.is_empty() {
        return Outcome::Skip("no TLS port could be probed for cipher suites".into());
    }
    let mut bad = Vec::new();
    let mut severity: Option<Severity> = None;
    for s in &reached {
        let classes: Vec<SuiteClass> = s.suites.iter().filter(|p| p.accepted).map(|p| p.class).collect();
        if classes.is_empty() {
            continue;
        }
        let worst = classes.iter().map(|c| c.severity()).max();
        severity = severity.max(worst);
        let names: Vec<String> = classes.iter().map(|c| c.label().to_string()).collect();
        bad.push(format!("{} accepts {} suites", s.label, join_and(&names)));
    }
    let labels: Vec<String> = reached.iter().map(|s| s.label.clone()).collect();
    match severity {
        None => Outcome::Pass(format!(
            "{}: no NULL, EXPORT, anonymous, RC4, DES, 3DES, static-RSA, static-DH or CBC suite accepted at TLS 1.2",
            join_and(&labels)
        )),
        Some(sev) => Outcome::fail(sev, bad.join("; ")),
    }
}

/// The login methods a CAPA offers: USER and the SASL mechanisms.
fn login_policy(caps: &Capabilities) -> (bool, BTreeSet<String>) {
    (caps.has("USER"), caps.sasl_mechanisms().into_iter().map(|m| m.to_ascii_uppercase()).collect())
}

fn describe_policy(p: &(bool, BTreeSet<String>)) -> String {
    let mut v: Vec<String> = Vec::new();
    if p.0 {
        v.push("USER".into());
    }
    v.extend(p.1.iter().map(|m| format!("SASL {m}")));
    if v.is_empty() {
        "no login method".into()
    } else {
        v.join(" ")
    }
}

/// One port's side of the A14 comparison: its posture and the CAPA seen inside TLS.
pub struct Side<'a> {
    pub posture: PortPosture,
    pub capa: Option<&'a Capabilities>,
}

/// A14: differences in certificate, versions, weak suites and login methods (info or low).
pub fn decide_a14(a: Option<Side<'_>>, b: Option<Side<'_>>) -> Outcome {
    let (Some(a), Some(b)) = (a, b) else {
        return Outcome::Skip("TLS works on at most one of the two ports, so there is nothing to compare".into());
    };
    let mut lines = Vec::new();
    let mut severity: Option<Severity> = None;
    for d in compare_postures(&a.posture, &b.posture) {
        severity = severity.max(Some(d.severity()));
        lines.push(d.describe(&a.posture.label, &b.posture.label));
    }
    if let (Some(ca), Some(cb)) = (a.capa, b.capa) {
        let (pa, pb) = (login_policy(ca), login_policy(cb));
        if pa != pb {
            severity = severity.max(Some(Severity::Info));
            lines.push(format!(
                "login methods inside TLS differ: {} offers {}, {} offers {}",
                a.posture.label,
                describe_policy(&pa),
                b.posture.label,
                describe_policy(&pb)
            ));
        }
    }
    match severity {
        None => Outcome::Pass(format!(
            "{} and {} present the same certificate, versions, weak-suite answers and login methods",
            a.posture.label, b.posture.label
        )),
        Some(sev) => Outcome::fail(sev, lines.join("; ")),
    }
}

/// A10 and A11 findings with the probe lines as evidence.
pub fn findings(scans: &[&PortScan]) -> Vec<Finding> {
    let mut ev = Evidence::default();
    for s in scans {
        ev.extend(&s.evidence());
    }
    vec![
        Finding::new(CheckId::A10, decide_a10(scans)).with_evidence(ev.clone()),
        Finding::new(CheckId::A11, decide_a11(scans)).with_evidence(ev),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tls_versions::ProbeOutcome;
    use tokio::io::AsyncReadExt;

    fn version(v: ProtocolVersion, accepted: bool) -> VersionProbe {
        VersionProbe { version: v, accepted, cipher: None, outcome: ProbeOutcome::Closed, detail: String::new() }
    }

    fn scan(label: &str, accepted: &[ProtocolVersion], weak: &[SuiteClass]) -> PortScan {
        PortScan {
            label: label.into(),
            versions: ProtocolVersion::PROBED.iter().map(|&v| version(v, accepted.contains(&v))).collect(),
            suites: SuiteClass::ALL
                .iter()
                .map(|&c| SuiteProbe {
                    class: c,
                    version: ProtocolVersion::Tls12,
                    offered: vec![],
                    accepted: weak.contains(&c),
                    cipher: None,
                    outcome: ProbeOutcome::Closed,
                    detail: String::new(),
                })
                .collect(),
        }
    }

    const MODERN: [ProtocolVersion; 2] = [ProtocolVersion::Tls12, ProtocolVersion::Tls13];

    #[test]
    fn a10_grades_old_versions() {
        let good = scan("110/STLS", &MODERN, &[]);
        assert!(decide_a10(&[&good]).is_pass());
        let tls11 = scan("995/TLS", &[ProtocolVersion::Tls11, ProtocolVersion::Tls12], &[]);
        assert_eq!(decide_a10(&[&good, &tls11]).severity(), Some(Severity::Medium));
        let tls10 = scan("995/TLS", &[ProtocolVersion::Tls10], &[]);
        let out = decide_a10(&[&good, &tls10]);
        assert_eq!(out.severity(), Some(Severity::High));
        assert!(out.message().contains("995/TLS accepts TLS 1.0"), "{}", out.message());
        assert!(matches!(decide_a10(&[]), Outcome::Skip(_)));
    }

    #[test]
    fn a11_takes_the_worst_family() {
        assert!(decide_a11(&[&scan("110/STLS", &MODERN, &[])]).is_pass());
        let cbc = scan("110/STLS", &MODERN, &[SuiteClass::Cbc]);
        assert_eq!(decide_a11(&[&cbc]).severity(), Some(Severity::Low));
        let rc4 = scan("995/TLS", &MODERN, &[SuiteClass::StaticRsa, SuiteClass::Rc4]);
        assert_eq!(decide_a11(&[&cbc, &rc4]).severity(), Some(Severity::High));
    }

    #[test]
    fn a14_compares_postures_and_login_methods() {
        let caps = |l: &[&str]| Capabilities::parse(l.iter().map(|x| x.as_bytes())).0;
        let (c1, c2) = (caps(&["USER", "SASL PLAIN"]), caps(&["USER", "SASL PLAIN LOGIN"]));
        let side = |s: &PortScan, c| Side { posture: s.posture(Some("aa".into())), capa: Some(c) };
        let a = scan("110/STLS", &MODERN, &[]);
        let b = scan("995/TLS", &MODERN, &[]);
        assert!(decide_a14(Some(side(&a, &c1)), Some(side(&b, &c1))).is_pass());
        let out = decide_a14(Some(side(&a, &c1)), Some(side(&b, &c2)));
        assert_eq!(out.severity(), Some(Severity::Info));
        assert!(out.message().contains("SASL LOGIN"), "{}", out.message());
        let old = scan("995/TLS", &[ProtocolVersion::Tls10, ProtocolVersion::Tls12], &[]);
        assert_eq!(decide_a14(Some(side(&a, &c1)), Some(side(&old, &c1))).severity(), Some(Severity::Low));
        assert!(matches!(decide_a14(None, Some(side(&b, &c1))), Outcome::Skip(_)));
    }

    #[tokio::test]
    async fn skip_plaintext_drops_lines_before_the_first_record() {
        let (mut server, client) = tokio::io::duplex(1024);
        let mut s = SkipPlaintext::new(client, b"+OK ready to start TLS\r\n+OK ag");
        tokio::io::AsyncWriteExt::write_all(&mut server, b"ain\r\n\x16\x03\x03\x00\x01\x02").await.unwrap();
        drop(server);
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"\x16\x03\x03\x00\x01\x02");
        let mut clean = SkipPlaintext::new(tokio::io::empty(), b"\x15\x03\x03\x00\x02\x02\x28");
        let mut got = Vec::new();
        clean.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"\x15\x03\x03\x00\x02\x02\x28");
    }
}
