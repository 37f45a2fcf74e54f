//! `pop3test audit --targets`: a fleet of built-in servers on loopback ports (in this process,
//! sharing one certificate so that one `--ca-file` verifies them all), audited by the real binary.
//! Sharding covers every target once; a run killed mid-way and resumed records every target
//! exactly once; a dead and a hostile target cost only their own deadline; every posture is
//! classified as the single-target audit classifies it; no password reaches any output.
//!
//! Synchronisation is by events, never by sleeping: the kill waits for a gate listener's accept,
//! and every wait is bounded.

mod common;

use pop3test::fleet::{targets, LineDefaults, Shard};
use pop3test::results::{Report, Severity, Verdict};
use pop3test::server::{self, seed, Defect, ServerConfig, ServerHandle};
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PW_VAR: &str = "FLEET_TEST_PW";

/// Built-in servers running on a runtime of their own, while the test thread runs the binary.
struct Fleet {
    rt: tokio::runtime::Runtime,
    servers: Vec<ServerHandle>,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

impl Fleet {
    fn start(configs: Vec<ServerConfig>) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, ca) = server::tls::write_test_pki(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let servers = configs
            .into_iter()
            .map(|c| {
                let c = ServerConfig { cert: Some(cert.clone()), key: Some(key.clone()), ..c };
                rt.block_on(server::spawn(c)).expect("server starts")
            })
            .collect();
        Fleet { rt, servers, dir, ca }
    }

    /// A targets-file line for server `i`, with its implicit-TLS port and the test account.
    fn line(&self, i: usize) -> String {
        let s = &self.servers[i];
        let tls = match s.tls_target() {
            Some(t) => format!("tls-port={}", t.port),
            // No implicit listener: a port nothing listens on, so A13 sees a refused connection.
            None => format!("tls-port={}", closed_port()),
        };
        format!("{} {tls} user={} password-env={PW_VAR}", s.plain_target(), seed::DEFAULT_USER)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for s in self.servers.drain(..) {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// A loopback port that refuses connections for as long as the process lives: bound but never
/// listening (connecting gets a reset), and kept bound, so that no server started by a test
/// running alongside can be given it (a bound-then-closed port could be handed out again).
fn closed_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    static HELD: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    let port = sock.local_addr().unwrap().as_socket().unwrap().port();
    HELD.lock().unwrap().push(sock);
    port
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pop3test"));
    c.env("NO_COLOR", "1").env(PW_VAR, seed::DEFAULT_PASSWORD).stdin(Stdio::null());
    c
}

/// Runs the binary to its end within `limit` (killed past it); returns exit code, stdout, stderr.
fn run(args: &[String], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = bin().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        (child, status)
    });
    let finished = rx.recv_timeout(limit).is_ok();
    assert!(finished, "pop3test {} did not finish within {limit:?}", args.join(" "));
    let (_, status) = waiter.join().unwrap();
    (status.unwrap().code(), o.join().unwrap(), e.join().unwrap())
}

fn records(path: &Path) -> Vec<Report> {
    pop3test::fleet::jsonl::read(path).unwrap().records
}

fn by_target(recs: &[Report]) -> HashMap<String, &Report> {
    recs.iter().map(|r| (r.target.clone(), r)).collect()
}

fn findings(r: &Report) -> BTreeSet<String> {
    r.results
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && c.severity > Some(Severity::Info))
        .map(|c| c.id.clone())
        .collect()
}

fn errors(r: &Report) -> Vec<(String, Option<String>)> {
    r.results.iter().filter(|c| c.verdict == Verdict::Error).map(|c| (c.id.clone(), c.message.clone())).collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn shards_are_disjoint_cover_every_target_and_ignore_order() {
    let text: String = (0..500).map(|i| format!("pop3://host{i}.example.org:{}\n", 110 + i % 7)).collect();
    let all = targets::parse(&text, "t", LineDefaults::default()).unwrap();
    let mut reversed: Vec<&str> = text.lines().collect();
    reversed.reverse();
    let reversed = targets::parse(&reversed.join("\n"), "t", LineDefaults::default()).unwrap();
    for n in 1..=7u64 {
        let slice = |ts: &[pop3test::fleet::FleetTarget], k: u64| -> BTreeSet<String> {
            ts.iter().filter(|t| Shard { index: k, count: n }.contains(&t.key)).map(|t| t.key.clone()).collect()
        };
        let mut seen = BTreeSet::new();
        for k in 0..n {
            let mine = slice(&all, k);
            assert_eq!(mine, slice(&reversed, k), "shard {k}/{n} depends on the order of the file");
            assert!(n == 1 || mine.len() < 500, "shard {k}/{n} took everything");
            for key in mine {
                assert!(seen.insert(key.clone()), "{key} is in two shards of {n}");
            }
        }
        assert_eq!(seen.len(), 500, "the {n} shards miss targets");
    }
}

#[test]
fn bad_lines_name_the_file_the_line_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    std::fs::write(&file, "# ok\npop3://127.0.0.1:1\nhttp://x\npop3://y user=a\n").unwrap();
    let (code, _, err) = run(&s(&["audit", "--targets", file.to_str().unwrap()]), Duration::from_secs(30));
    assert_eq!(code, Some(1), "{err}");
    let name = file.display().to_string();
    assert!(err.contains(&format!("{name}:3:1")) && err.contains("unknown scheme `http`"), "{err}");
    assert!(err.contains(&format!("{name}:4:")) && err.contains("password-env"), "{err}");
    assert!(err.contains("nothing was audited") && !err.contains("panicked"), "{err}");
    // Standard input, and a missing password variable named with its line.
    let mut child = bin()
        .args(["audit", "--targets", "-"])
        .env_remove(PW_VAR)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("pop3://127.0.0.1:1 user=a password-env={PW_VAR}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("<stdin>:1") && err.contains(PW_VAR) && err.contains("not set"), "{err}");
}

#[test]
fn sharded_runs_merge_into_every_target_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.txt");
    let lines: Vec<String> = (0..24).map(|_| format!("pop3://127.0.0.1:{} no-implicit", closed_port())).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut shards = Vec::new();
    for k in 0..3 {
        let out = dir.path().join(format!("shard-{k}.jsonl"));
        let args =
            s(&["audit", "--targets", file.to_str().unwrap(), "--shard", &format!("{k}/3"), "--per-host", "8", "-q"]);
        let mut args = args;
        args.extend(s(&["--report", &format!("jsonl={}", out.display())]));
        let (code, stdout, err) = run(&args, Duration::from_secs(60));
        assert_eq!(code, Some(3), "dead targets are tester errors: {stdout}\n{err}");
        shards.push(out);
    }
    let mut args = s(&["report", "merge"]);
    args.extend(shards.iter().map(|p| p.display().to_string()));
    let merged = dir.path().join("all.jsonl");
    let junit = dir.path().join("all.xml");
    let matrix = dir.path().join("matrix.html");
    args.extend(s(&[
        "--report",
        &format!("jsonl={}", merged.display()),
        "--report",
        &format!("junit={}", junit.display()),
    ]));
    args.extend(s(&["--matrix", &format!("html={}", matrix.display())]));
    let (code, stdout, err) = run(&args, Duration::from_secs(30));
    assert_eq!(code, Some(3), "{stdout}\n{err}");
    let keys: Vec<String> = records(&merged).into_iter().map(|r| r.target).collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!((keys.len(), unique.len()), (24, 24), "{keys:?}");
    let per_shard: usize = shards.iter().map(|p| records(p).len()).sum();
    assert_eq!(per_shard, 24, "the shards overlap or miss targets");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testsuite"));
    assert!(std::fs::read_to_string(&matrix).unwrap().contains("24 target(s)"));
}

#[test]
fn every_posture_is_classified_and_no_password_leaks() {
    let with = |d: &[Defect]| ServerConfig { defects: d.iter().copied().collect(), ..ServerConfig::default() };
    let postures: Vec<(ServerConfig, &[&str], Option<&str>)> = vec![
        (ServerConfig::default(), &[], Some("yes")),
        (ServerConfig { allow_cleartext: true, ..ServerConfig::default() }, &["A03", "A04", "A05"], Some("no")),
        (with(&[Defect::StlsInjection]), &["A06"], Some("no")),
        (with(&[Defect::CleartextLogin]), &["A03", "A05"], Some("no")),
        (with(&[Defect::PlaintextAfterStlsOk]), &["A09"], Some("no")),
        (with(&[Defect::StlsTwice]), &["A08"], None),
        (with(&[Defect::AuthSurvivesStls]), &["A18"], None),
        (ServerConfig { tls_listen: None, ..ServerConfig::default() }, &["A13"], None),
    ];
    let fleet = Fleet::start(postures.iter().map(|p| p.0.clone()).collect());
    let file = fleet.path("fleet.txt");
    let text: String = (0..postures.len()).map(|i| fleet.line(i) + "\n").collect();
    std::fs::write(&file, text).unwrap();
    let (jsonl, sarif, md) = (fleet.path("f.jsonl"), fleet.path("f.sarif"), fleet.path("m.md"));
    let args = vec![
        "audit".into(),
        "--targets".into(),
        file.display().to_string(),
        "--ca-file".into(),
        fleet.ca.display().to_string(),
        "--jobs".into(),
        "4".into(),
        "--per-host".into(),
        "4".into(),
        "--timeout".into(),
        "5s".into(),
        "--deadline".into(),
        "90s".into(),
        "--report".into(),
        format!("jsonl={}", jsonl.display()),
        "--report".into(),
        format!("sarif={}", sarif.display()),
        "--matrix".into(),
        format!("markdown={}", md.display()),
    ];
    let (code, stdout, err) = run(&args, Duration::from_secs(300));
    assert_eq!(code, Some(5), "critical findings gate the fleet's exit code\n{stdout}\n{err}");
    let recs = records(&jsonl);
    assert_eq!(recs.len(), postures.len());
    let recs = by_target(&recs);
    let schema: serde_json::Value = serde_json::from_str(pop3test::report::json::SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    for line in std::fs::read_to_string(&jsonl).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(validator.iter_errors(&v).next().is_none(), "a record breaks the report schema: {line}");
    }
    for (i, (_, expected, tls)) in postures.iter().enumerate() {
        let key = fleet.servers[i].plain_target().to_string();
        let r = recs.get(&key).unwrap_or_else(|| panic!("no record for {key}"));
        assert_eq!(errors(r), vec![], "{key}");
        let want: BTreeSet<String> = expected.iter().map(|x| x.to_string()).collect();
        assert_eq!(findings(r), want, "{key} (posture {i}): {:?}", r.summary);
        if let Some(tls) = tls {
            assert_eq!(pop3test::report::fleet::tls_enforced(r), *tls, "{key}: {:?}", r.summary);
        }
    }
    let matrix = std::fs::read_to_string(&md).unwrap();
    assert!(matrix.contains("8 target(s): TLS enforced on ") && matrix.contains("| A06 |"), "{matrix}");
    let mut texts = vec![stdout, err, std::fs::read_to_string(&jsonl).unwrap(), matrix];
    texts.push(std::fs::read_to_string(&sarif).unwrap());
    for secret in common::secret_forms(seed::DEFAULT_USER, seed::DEFAULT_PASSWORD) {
        for t in &texts {
            assert!(!t.contains(&secret), "a form of the password reached an output: `{secret}`");
        }
    }
}

#[test]
fn a_dead_and_a_hostile_target_cost_only_their_own_deadline() {
    let fleet = Fleet::start(vec![ServerConfig::default(), ServerConfig::default()]);
    // Hostile: accepts every connection and never sends a byte.
    let hostile = fleet.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let hostile_port = hostile.local_addr().unwrap().port();
    fleet.rt.spawn(async move {
        let mut held = Vec::new();
        // Bounded: an audit opens a few dozen connections at most.
        while held.len() < 512 {
            match hostile.accept().await {
                Ok((sock, _)) => held.push(sock),
                Err(_) => break,
            }
        }
    });
    let dead = closed_port();
    let file = fleet.path("fleet.txt");
    let text = format!(
        "pop3://127.0.0.1:{hostile_port} no-implicit\npop3://127.0.0.1:{dead} no-implicit\n{}\n{}\n",
        fleet.line(0),
        fleet.line(1)
    );
    std::fs::write(&file, text).unwrap();
    let jsonl = fleet.path("f.jsonl");
    let deadline = Duration::from_secs(8);
    let args = s(&[
        "audit",
        "--targets",
        file.to_str().unwrap(),
        "--ca-file",
        fleet.ca.to_str().unwrap(),
        "--jobs",
        "4",
        "--per-host",
        "4",
        "--timeout",
        "2s",
        "--deadline",
        "8s",
        "--report",
        &format!("jsonl={}", jsonl.display()),
    ]);
    let started = Instant::now();
    let (code, stdout, err) = run(&args, Duration::from_secs(120));
    let elapsed = started.elapsed();
    assert_eq!(code, Some(3), "{stdout}\n{err}");
    let recs = records(&jsonl);
    assert_eq!(recs.len(), 4, "{stdout}\n{err}");
    let recs = by_target(&recs);
    for port in [hostile_port, dead] {
        let r = recs[&format!("pop3://127.0.0.1:{port}")];
        assert!(!errors(r).is_empty(), "{port}: {:?}", r.summary);
        assert!(r.duration_ms <= deadline.as_secs_f64() * 1000.0 + 1.0, "{port}: {} ms", r.duration_ms);
    }
    for i in 0..2 {
        let r = recs[&fleet.servers[i].plain_target().to_string()];
        assert_eq!(errors(r), vec![], "a good target suffered from the bad ones");
        assert_eq!(pop3test::report::fleet::tls_enforced(r), "yes", "{:?}", r.summary);
    }
    // All four ran side by side: the whole run is one deadline plus the good audits, not a sum.
    assert!(elapsed < deadline + Duration::from_secs(40), "took {elapsed:?}");
}

#[test]
fn resume_after_a_kill_loses_and_repeats_nothing() {
    let fleet = Fleet::start((0..5).map(|_| ServerConfig::default()).collect());
    // The gate: a listener whose first accepted connection says "the three targets before it are
    // recorded" (with --jobs 1 a record is written before the next target starts).
    let gate = StdListener::bind("127.0.0.1:0").unwrap();
    let gate_port = gate.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let (killed_tx, killed_rx) = mpsc::channel::<()>();
    let gate_thread = std::thread::spawn(move || {
        let conn = gate.accept();
        let _ = tx.send(());
        // Silent and open until the run is killed: closed now, the gate's audit would end (and
        // be recorded) before the kill lands.
        let _ = killed_rx.recv_timeout(Duration::from_secs(60));
        drop(conn);
        // The listener closes here: on the resumed run the gate is a dead target.
    });
    let mut lines: Vec<String> = (0..3).map(|i| fleet.line(i)).collect();
    lines.push(format!("pop3://127.0.0.1:{gate_port} no-implicit"));
    lines.extend((3..5).map(|i| fleet.line(i)));
    let file = fleet.path("fleet.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let jsonl = fleet.path("f.jsonl");
    let base = s(&[
        "audit",
        "--targets",
        file.to_str().unwrap(),
        "--ca-file",
        fleet.ca.to_str().unwrap(),
        "--jobs",
        "1",
        "--timeout",
        "3s",
        "--deadline",
        "60s",
    ]);
    let mut first = base.clone();
    first.extend(s(&["--report", &format!("jsonl={}", jsonl.display())]));
    let mut child = bin().args(&first).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let reached = rx.recv_timeout(Duration::from_secs(240));
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = killed_tx.send(());
    if reached.is_err() {
        // Unblock the gate's accept so that its thread ends.
        let _ = std::net::TcpStream::connect(("127.0.0.1", gate_port));
    }
    gate_thread.join().unwrap();
    assert!(reached.is_ok(), "the run never reached the fourth target");

    let before = std::fs::read_to_string(&jsonl).unwrap();
    let done: Vec<String> = records(&jsonl).into_iter().map(|r| r.target).collect();
    let first_three: Vec<String> = (0..3).map(|i| fleet.servers[i].plain_target().to_string()).collect();
    assert_eq!(done, first_three, "killed while the gate was audited: exactly the three before it are recorded");
    // As if the kill had come in the middle of writing the third record.
    let cut = before.len() - before.lines().last().unwrap().len() / 2 - 1;
    std::fs::write(&jsonl, &before[..cut]).unwrap();

    let mut again = base;
    again.extend(s(&["--resume", jsonl.to_str().unwrap()]));
    let (code, stdout, err) = run(&again, Duration::from_secs(240));
    assert_eq!(code, Some(3), "the gate is now a dead target\n{stdout}\n{err}");
    assert!(err.contains("cut short") && err.contains("2 already recorded, 4 to go"), "{err}");
    let after = std::fs::read_to_string(&jsonl).unwrap();
    let keys: Vec<String> = records(&jsonl).into_iter().map(|r| r.target).collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert_eq!(unique.len(), 6, "a target was recorded twice: {keys:?}");
    // The two whole records are kept as they were, not audited again.
    let kept: Vec<&str> = before.lines().take(2).collect();
    assert_eq!(after.lines().take(2).collect::<Vec<_>>(), kept);
    assert_eq!(keys[2], first_three[2], "the cut record's target is audited first on resumption");
}
