//! `audit-client` against real clients on loopback: Python's standard-library `poplib` (the
//! documentation's plain USER/PASS example, the `stls()` variant with a verifying SSL context,
//! `POP3_SSL`), `curl` with `pop3://` with and without `--ssl-reqd`, and Debian's `mpop` (its
//! default, `--tls=on`, `--tls-certcheck=off`) and `fetchmail` (checking certificates, and
//! `--nosslcertck`). Each client runs with its own HOME. Every run is bounded by pop3test itself
//! (each attack's `--timeout`, the client killed after it), so no test sleeps or polls. The
//! verdicts were pinned by reading each client's own debug output (`set_debuglevel(2)`,
//! `curl -v`, `mpop --debug`, `fetchmail -v`); the relevant line is quoted beside each assertion.

use pop3test::results::{CheckResult, Report, Severity, Verdict};
use pop3test::transcript::Direction;
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "s3cret-pw-4711";

/// The poplib documentation's example: USER/PASS straight away, no STLS.
const POPLIB_PLAIN: &str = r#"
import poplib, sys
M = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=5)
M.set_debuglevel(2)
M.user("alice")
M.pass_(sys.argv[3])
M.stat()
M.quit()
"#;

/// `stls()` with a context that verifies chain and name against the audit's CA.
const POPLIB_STLS: &str = r#"
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[4])
M = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=5)
M.set_debuglevel(2)
M.stls(context=ctx)
M.user("alice")
M.pass_(sys.argv[3])
M.stat()
M.quit()
"#;

/// Implicit TLS (RFC 8314) with the same verifying context.
const POPLIB_SSL: &str = r#"
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[4])
M = poplib.POP3_SSL(sys.argv[1], int(sys.argv[2]), timeout=5, context=ctx)
M.set_debuglevel(2)
M.user("alice")
M.pass_(sys.argv[3])
M.stat()
M.quit()
"#;

/// A deliberately naive STLS client (no real one we have behaves so): it reads the STLS reply
/// with one recv and keeps the rest of those cleartext bytes as replies still to come, the
/// buffering bug of CVE-2021-22947 (curl) and CVE-2011-0411's client-side twin.
const NAIVE_STLS: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[4])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = s.makefile("rb")
f.readline()
s.sendall(b"STLS\r\n")
data = s.recv(4096)
pending = data.split(b"\r\n")[1:-1]
t = ctx.wrap_socket(s, server_hostname=sys.argv[1])
tf = t.makefile("rb")
def reply():
    return pending.pop(0) if pending else tf.readline()
for line in [b"USER alice", b"PASS " + sys.argv[3].encode(), b"QUIT"]:
    t.sendall(line + b"\r\n")
    print(line.split()[0], reply(), flush=True)
"#;

/// A finished audit: its exit code, the JSON report, and every report file as text.
struct Audit {
    code: Option<i32>,
    report: Report,
    /// The JSON report as written.
    json: String,
    files: Vec<String>,
    stderr: String,
}

impl Audit {
    fn get(&self, attack: &str) -> &CheckResult {
        let id = format!("client/{attack}");
        self.report.results.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no {id} in {:#?}", self.report))
    }

    /// Asserts the verdict and that the message names `behaviour`.
    fn expect(&self, attack: &str, verdict: Verdict, severity: Option<Severity>, behaviour: &str) {
        let r = self.get(attack);
        let ctx = format!("{attack}: {:?} {:?} {:?}\nstderr: {}", r.message, r.actual, r.transcript, self.stderr);
        assert_eq!(r.verdict, verdict, "{ctx}");
        assert_eq!(r.severity, severity, "{ctx}");
        assert!(r.message.as_deref().unwrap_or_default().starts_with(behaviour), "{ctx}");
    }

    fn assert_no_password(&self) {
        for f in &self.files {
            assert!(!f.contains(PASSWORD), "a report holds the password");
        }
        assert!(!self.stderr.contains(PASSWORD));
    }
}

/// Runs `pop3test audit-client` with these client commands, the clients with HOME set to a fresh
/// directory, and reports in every format.
fn audit(exec: &str, exec_tls: Option<&str>, attacks: &str) -> Audit {
    let scripts = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("plain.py", POPLIB_PLAIN),
        ("stls.py", POPLIB_STLS),
        ("implicit.py", POPLIB_SSL),
        ("naive.py", NAIVE_STLS),
        ("getmailrc.sh", GETMAIL_RC),
    ] {
        std::fs::write(scripts.path().join(name), text).unwrap();
    }
    let fill = |t: &str| t.replace("$S", &scripts.path().display().to_string()).replace("$PW", PASSWORD);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3test"));
    cmd.args(["audit-client", "--timeout", "10s", "--attack", attacks, "--exec", &fill(exec)]);
    if let Some(t) = exec_tls {
        cmd.args(["--exec-tls", &fill(t)]);
    }
    for f in ["json", "junit", "sarif", "markdown", "html"] {
        cmd.arg("--report").arg(format!("{f}={}", out.path().join(format!("report.{f}")).display()));
    }
    let o = cmd.env("HOME", home.path()).env("NO_COLOR", "1").output().expect("pop3test runs");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let json = read(&out.path().join("report.json"));
    let report: Report = serde_json::from_str(&json).expect("a JSON report");
    let files = std::fs::read_dir(out.path()).unwrap().flatten().map(|e| read(&e.path())).collect();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    Audit { code: o.status.code(), report, json, files, stderr }
}

const ALL_ATTACKS: &str = "honest,strip,refuse,inject,inject-capa,capa-tamper,untrusted-stls,wrong-name-stls,\
honest-implicit,untrusted-implicit,wrong-name-implicit";

#[test]
fn poplib_plain_example_sends_the_password_in_cleartext_when_stls_is_stripped() {
    let a = audit("python3 $S/plain.py {host} {port} $PW", None, "honest,strip");
    // poplib debug: "*cmd* 'PASS s3cret-pw-4711'" on the plain connection, STLS never sent.
    a.expect("strip", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    // Even with STLS on offer it never upgrades: the honest baseline finds the same.
    a.expect("honest", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    let strip = a.get("strip");
    assert!(strip.references.contains(&"CWE-319".to_string()));
    assert!(strip.rfc_refs.iter().any(|r| r.starts_with("RFC 8314")));
    assert!(a.report.summary.as_deref().unwrap().starts_with("client safe: no"));
    assert_eq!(a.code, Some(pop3test::exit::FINDINGS));
    // The transcript shows the PASS, redacted.
    assert!(strip.transcript.iter().any(|e| e.text.contains("PASS <redacted>")));
    a.assert_no_password();
}

#[test]
fn poplib_with_stls_and_a_verifying_context_fails_safe() {
    let a = audit(
        "python3 $S/stls.py {host} {port} $PW {ca}",
        Some("python3 $S/implicit.py {host} {port} $PW {ca}"),
        ALL_ATTACKS,
    );
    // "*cmd* 'STLS'" / "*resp* b'+OK begin TLS negotiation'" then "*cmd* 'USER alice'" inside TLS.
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    // "poplib.error_proto: -ERR STLS not supported by server" (raised after CAPA, before USER).
    a.expect("strip", Verdict::Pass, None, "failed safe");
    // "*resp* b'-ERR TLS not available at the moment'" then "poplib.error_proto: ...".
    a.expect("refuse", Verdict::Pass, None, "failed safe");
    // "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:
    // self-signed certificate in certificate chain"
    a.expect("untrusted-stls", Verdict::Pass, None, "failed safe");
    // "certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'."
    a.expect("wrong-name-stls", Verdict::Pass, None, "failed safe");
    a.expect("untrusted-implicit", Verdict::Pass, None, "failed safe");
    a.expect("wrong-name-implicit", Verdict::Pass, None, "failed safe");
    a.expect("honest-implicit", Verdict::Pass, None, "talked POP3 over TLS");
    // stls() makes a new file object on the TLS socket, so the injected line is dropped: after
    // "*resp* b'+OK begin TLS negotiation'" comes "*resp* b'+OK send PASS'" for USER.
    a.expect("inject", Verdict::Pass, None, "resisted");
    a.expect("inject-capa", Verdict::Pass, None, "resisted");
    // stls() sends CAPA only before STLS ("*cmd* 'CAPA'", then "*cmd* 'STLS'", "*cmd* 'USER
    // alice'"): RFC 2595 §4's SHOULD re-issue is not followed, a low finding.
    a.expect("capa-tamper", Verdict::Fail, Some(Severity::Low), "did not re-issue CAPA after TLS");
    assert_eq!(a.code, Some(pop3test::exit::OK), "a low finding does not gate at --fail-on high");
    for bad in ["untrusted-stls", "untrusted-implicit"] {
        assert!(a.get(bad).actual.as_deref().unwrap().contains("UnknownCA"), "{bad}");
    }
    assert!(a.get("honest").transcript.iter().any(|e| e.tls && e.text.contains("PASS <redacted>")));
    a.assert_no_password();
}

#[test]
fn curl_without_ssl_reqd_logs_in_in_cleartext() {
    let a =
        audit("/usr/bin/curl -sv --max-time 8 pop3://{host}:{port}/ -u alice:$PW", None, "honest,strip,capa-tamper");
    // curl -v: "> PASS s3cret-pw-4711" right after "< +OK send PASS", no "> STLS" at all.
    a.expect("strip", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    a.expect("honest", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    // With only SASL PLAIN offered, curl sends "> AUTH PLAIN" in cleartext and its response on
    // the continuation line after "+ ": the transcript keeps the line, redacted.
    a.expect("capa-tamper", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    let t = &a.get("capa-tamper").transcript;
    assert!(t.iter().any(|e| e.text.starts_with("AUTH PLAIN")));
    assert!(t.iter().any(|e| e.dir == Direction::Client && e.text.starts_with("<redacted>")));
    a.assert_no_password();
}

#[test]
fn curl_with_ssl_reqd_fails_safe_and_resists_every_attack() {
    let a = audit(
        "/usr/bin/curl -sv --max-time 8 --ssl-reqd --cacert {ca} pop3://{host}:{port}/ -u alice:$PW",
        Some("/usr/bin/curl -sv --max-time 8 --cacert {ca} pop3s://{host}:{port}/ -u alice:$PW"),
        ALL_ATTACKS,
    );
    // "*  SSL certificate verify ok." then "> CAPA" inside TLS, then "AUTH PLAIN".
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    a.expect("honest-implicit", Verdict::Pass, None, "talked POP3 over TLS");
    // "* STLS not supported."
    a.expect("strip", Verdict::Pass, None, "failed safe");
    // "< -ERR TLS not available at the moment" / "* STARTTLS denied"
    a.expect("refuse", Verdict::Pass, None, "failed safe");
    // After "< +OK begin TLS negotiation" curl sees data already buffered and closes ("* Closing
    // connection 0"), the CVE-2021-22947 fix: no handshake, nothing sent.
    a.expect("inject", Verdict::Pass, None, "failed safe");
    a.expect("inject-capa", Verdict::Pass, None, "failed safe");
    // curl re-issues CAPA inside TLS ("> CAPA" after the handshake) and then uses USER/PASS,
    // which only the post-TLS list offers.
    a.expect("capa-tamper", Verdict::Pass, None, "resisted");
    // "* TLSv1.3 (OUT), TLS alert, unknown CA (560)"
    a.expect("untrusted-stls", Verdict::Pass, None, "failed safe");
    a.expect("untrusted-implicit", Verdict::Pass, None, "failed safe");
    // "* SSL: no alternative certificate subject name matches target host name '127.0.0.1'":
    // curl checks the name after the handshake, then closes without sending a command.
    a.expect("wrong-name-stls", Verdict::Pass, None, "failed safe");
    a.expect("wrong-name-implicit", Verdict::Pass, None, "failed safe");
    assert_eq!(a.code, Some(pop3test::exit::OK));
    assert!(a.report.summary.as_deref().unwrap().starts_with("client safe: yes"));
    a.assert_no_password();
    // The JSON follows the committed schema (kind "audit-client").
    let schema: serde_json::Value = serde_json::from_str(pop3test::report::json::SCHEMA).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&a.json).unwrap();
    assert_eq!(doc["kind"], "audit-client");
    let errors: Vec<String> =
        jsonschema::draft202012::new(&schema).unwrap().iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn implicit_attacks_without_exec_tls_are_skipped_with_a_reason() {
    let a = audit(
        "/usr/bin/curl -s --max-time 8 --ssl-reqd --cacert {ca} pop3://{host}:{port}/ -u a:$PW",
        None,
        "honest,untrusted-implicit",
    );
    let r = a.get("untrusted-implicit");
    assert_eq!(r.verdict, Verdict::Skip);
    assert!(r.message.as_deref().unwrap().contains("--exec-tls"));
}

#[test]
fn a_client_that_reads_injected_bytes_as_replies_is_caught() {
    let a = audit("python3 $S/naive.py {host} {port} $PW {ca}", None, "honest,inject");
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    // Its USER is "answered" by the injected line, so PASS follows before the held reply.
    a.expect("inject", Verdict::Fail, Some(Severity::High), "acted on injected data");
    assert!(a.get("inject").references.contains(&"CWE-349".to_string()));
    assert_eq!(a.code, Some(pop3test::exit::FINDINGS));
    a.assert_no_password();
}

#[test]
fn interactive_mode_prints_where_to_connect_and_judges_each_connection() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let script = dir.path().join("stls.py");
    std::fs::write(&script, POPLIB_STLS).unwrap();
    let ca = dir.path().join("ca.pem");
    let json = dir.path().join("out.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pop3test"))
        .args(["audit-client", "--attack", "honest,strip", "--wait", "20s", "--timeout", "10s"])
        .arg("--ca-out")
        .arg(&ca)
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut progress = Vec::new();
    // One progress line per step; the loop ends at EOF (the audit is over, bounded by --wait).
    for line in stderr.lines().map_while(Result::ok) {
        if let Some(url) = line.split("waiting for a connection to pop3://").nth(1) {
            let (host, port) = url.trim_end_matches(" ...").rsplit_once(':').unwrap();
            let st = Command::new("python3")
                .arg(&script)
                .args([host, port, PASSWORD])
                .arg(&ca)
                .env("HOME", home.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            progress.push(format!("client exit {:?}", st.code()));
        }
        progress.push(line);
    }
    let code = child.wait().unwrap().code();
    assert!(progress.iter().any(|l| l.starts_with("[1/2] honest: waiting")), "{progress:?}");
    assert!(progress.iter().any(|l| l.starts_with("[2/2] strip: waiting")), "{progress:?}");
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let verdicts: Vec<(&str, Verdict)> = report.results.iter().map(|r| (r.id.as_str(), r.verdict)).collect();
    assert_eq!(verdicts, [("client/honest", Verdict::Pass), ("client/strip", Verdict::Pass)], "{progress:?}");
    assert_eq!(code, Some(pop3test::exit::OK));
}

/// Whether `program` runs here. Absent: a skip line, or a failure where CI installs it
/// (POP3TEST_REQUIRE_SERVERS=1, set by tests/run-all.sh).
fn installed(program: &str, package: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("POP3TEST_REQUIRE_SERVERS").as_deref() != Ok("1"), "{program} is not installed");
        eprintln!("skipped: {program} is not installed (apt-get install {package})");
    }
    found
}

/// Debian's mpop (1.4) from the command line, with its own HOME (the test's), delivering to an
/// mbox there (the malicious maildrop is empty, so nothing is delivered). `None` when mpop is not
/// installed here (CI installs it: tests/run-all.sh; there a missing mpop fails the test).
fn mpop(extra: &str) -> Option<String> {
    if !installed("mpop", "mpop") {
        return None;
    }
    Some(format!(
        "mpop --host={{host}} --port={{port}} --user=alice --passwordeval='echo $PW' --delivery=mbox,$HOME/mbox \
         --tls-trust-file={{ca}} {extra}"
    ))
}

#[test]
fn mpop_default_never_upgrades_and_never_sends_the_password() {
    let Some(cmd) = mpop("") else { return };
    let a = audit(&cmd, None, "honest,strip");
    // mpop --debug: "tls = off" from the command line; after CAPA (STLS offered) it stops with
    // "mpop: cannot use a secure authentication method": no STLS, no USER, no PASS.
    a.expect("honest", Verdict::Error, None, "did not complete the honest baseline");
    a.expect("strip", Verdict::Error, None, "inconclusive");
    assert!(a.get("honest").transcript.iter().all(|e| !e.text.starts_with("PASS")), "{:?}", a.get("honest").transcript);
    a.assert_no_password();
}

#[test]
fn mpop_with_tls_on_fails_safe_but_keeps_pre_tls_capabilities() {
    let Some(stls) = mpop("--tls=on") else { return };
    let Some(implicit) = mpop("--tls=on --tls-starttls=off") else { return };
    let a = audit(&stls, Some(&implicit), ALL_ATTACKS);
    // "--> STLS", "<-- +OK begin TLS negotiation", "TLS session parameters: (TLS1.3)...", then
    // "--> CAPA" and the login inside TLS.
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    a.expect("honest-implicit", Verdict::Pass, None, "talked POP3 over TLS");
    // strip: after CAPA without STLS, mpop ends (no USER); refuse: "mpop: command STLS failed",
    // "mpop: POP3 server message: -ERR TLS not available at the moment".
    a.expect("strip", Verdict::Pass, None, "failed safe");
    a.expect("refuse", Verdict::Pass, None, "failed safe");
    // inject, inject-capa: "mpop: command STLS failed" — it refuses a reply to STLS with more
    // data behind it, before any handshake.
    a.expect("inject", Verdict::Pass, None, "failed safe");
    a.expect("inject-capa", Verdict::Pass, None, "failed safe");
    // "mpop: TLS certificate verification failed: The certificate is NOT trusted. The name in
    // the certificate does not match the expected."
    a.expect("wrong-name-stls", Verdict::Pass, None, "failed safe");
    a.expect("untrusted-stls", Verdict::Pass, None, "failed safe");
    a.expect("untrusted-implicit", Verdict::Pass, None, "failed safe");
    a.expect("wrong-name-implicit", Verdict::Pass, None, "failed safe");
    // capa-tamper: pre-TLS CAPA "SASL PLAIN", "STLS"; inside TLS mpop re-issues CAPA and gets
    // "USER", "UIDL" only, then still sends "--> AUTH PLAIN": the pre-TLS list chose the method.
    a.expect("capa-tamper", Verdict::Fail, Some(Severity::Medium), "used pre-TLS capabilities");
    a.assert_no_password();
}

#[test]
fn mpop_without_certificate_checks_accepts_any_certificate() {
    let Some(cmd) = mpop("--tls=on --tls-certcheck=off") else { return };
    let a = audit(&cmd, None, "honest,untrusted-stls,wrong-name-stls");
    // With --tls-certcheck=off the untrusted handshake goes through and mpop logs in inside it:
    // "TLS certificate information:" then "--> AUTH PLAIN" and its response.
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    a.expect("untrusted-stls", Verdict::Fail, Some(Severity::High), "accepted a bad certificate");
    a.expect("wrong-name-stls", Verdict::Fail, Some(Severity::High), "accepted a bad certificate");
    a.assert_no_password();
}

/// Debian's fetchmail (6.4) with an rc file written into the test's HOME, delivering to
/// `/bin/true`; `None` when it is not installed here (CI installs it and then requires it).
fn fetchmail(extra: &str) -> Option<String> {
    if !installed("fetchmail", "fetchmail") {
        return None;
    }
    Some(format!(
        "printf 'poll 127.0.0.1 proto POP3 user alice password \"%s\" keep fetchall mda /bin/true\\n' '$PW' \
         > \"$HOME/rc\" && chmod 600 \"$HOME/rc\" && fetchmail -f \"$HOME/rc\" --pidfile \"$HOME/fetchmail.pid\" -v --nosyslog -P {{port}} {extra} 127.0.0.1"
    ))
}

#[test]
fn fetchmail_checking_certificates_insists_on_stls_and_fails_safe() {
    // The certificate names `localhost`: fetchmail compares names only (not IP addresses).
    let Some(cmd) = fetchmail("--sslcertfile {ca} --sslcertck --sslcommonname localhost") else { return };
    let a = audit(&cmd, None, "honest,strip,refuse,inject,inject-capa,capa-tamper,untrusted-stls,wrong-name-stls");
    // fetchmail -v: "POP3> STLS", "POP3< +OK begin TLS negotiation", then "POP3> CAPA" and
    // "POP3> USER alice" / "POP3> PASS *" inside TLS.
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    // strip: it sends STLS although CAPA did not offer it; "-ERR" → "localhost: upgrade to TLS
    // failed." / "Socket or TLS error on alice@127.0.0.1": no USER, no PASS.
    a.expect("strip", Verdict::Pass, None, "failed safe");
    a.expect("refuse", Verdict::Pass, None, "failed safe");
    // inject: "OpenSSL reported: error:0A00010B:SSL routines::wrong version number" — the
    // injected reply is read as the first TLS record and the upgrade fails.
    a.expect("inject", Verdict::Pass, None, "failed safe");
    a.expect("inject-capa", Verdict::Pass, None, "failed safe");
    // capa-tamper: "POP3> CAPA" again inside TLS, then USER/PASS as the new list says.
    a.expect("capa-tamper", Verdict::Pass, None, "resisted");
    // "Server certificate verification error: self-signed certificate in certificate chain",
    // "Server CommonName mismatch", "upgrade to TLS failed."
    a.expect("untrusted-stls", Verdict::Pass, None, "failed safe");
    a.expect("wrong-name-stls", Verdict::Pass, None, "failed safe");
    a.assert_no_password();
}

#[test]
fn fetchmail_without_certificate_checks_accepts_any_certificate_and_falls_back_to_cleartext() {
    let Some(cmd) = fetchmail("--nosslcertck") else { return };
    let a = audit(&cmd, None, "honest,strip,untrusted-stls,wrong-name-stls");
    a.expect("honest", Verdict::Pass, None, "talked POP3 over TLS");
    // "Server certificate verification error: self-signed certificate in certificate chain",
    // then "POP3> CAPA", "POP3> USER alice", "POP3> PASS *" inside that TLS session.
    a.expect("untrusted-stls", Verdict::Fail, Some(Severity::High), "accepted a bad certificate");
    a.expect("wrong-name-stls", Verdict::Fail, Some(Severity::High), "accepted a bad certificate");
    // strip: "POP3> CAPA", "POP3> USER alice", "POP3> PASS *": STLS is opportunistic now.
    a.expect("strip", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    a.assert_no_password();
}

/// `--client NAME` names the column of the client matrix: clients x attacks.
#[test]
fn the_client_matrix_has_one_named_column_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut jsons = Vec::new();
    for (name, extra) in [("curl --ssl-reqd", "--ssl-reqd "), ("curl", "")] {
        let json = dir.path().join(format!("{}.json", jsons.len()));
        let exec = format!("/usr/bin/curl -s --max-time 8 {extra}--cacert {{ca}} pop3://{{host}}:{{port}}/ -u a:pw");
        let o = Command::new(env!("CARGO_BIN_EXE_pop3test"))
            .args(["-q", "audit-client", "--attack", "honest,strip", "--exec", &exec, "--client", name])
            .arg("--report")
            .arg(format!("json={}", json.display()))
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(json.exists(), "{}", String::from_utf8_lossy(&o.stderr));
        jsons.push(json);
    }
    let md = dir.path().join("matrix.md");
    let o = Command::new(env!("CARGO_BIN_EXE_pop3test"))
        .args(["report", "matrix"])
        .args(&jsons)
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("## POP3 client matrix"), "{text}");
    assert!(text.contains("| `curl --ssl-reqd` | `curl` |"), "{text}");
    // curl without --ssl-reqd sends its password when STLS is stripped; with it, it does not.
    let strip = text.lines().find(|l| l.contains("`client/strip`")).unwrap();
    assert!(strip.ends_with("✅ PASS | ❌ FAIL |"), "{strip}");
}

/// Writes a getmail rc file into $HOME: `getmailrc.sh TYPE PORT PASSWORD [CA]` (getmail6 reads
/// its configuration from files only).
const GETMAIL_RC: &str = r#"t=$1; port=$2; pw=$3; ca=$4
mkdir -p "$HOME/mail/cur" "$HOME/mail/new" "$HOME/mail/tmp"
{
  echo "[retriever]"; echo "type = $t"; echo "server = 127.0.0.1"; echo "port = $port"
  echo "username = alice"; echo "password = $pw"
  if [ -n "$ca" ]; then echo "ca_certs = $ca"; fi
  echo "[destination]"; echo "type = Maildir"; echo "path = $HOME/mail/"
  echo "[options]"; echo "verbose = 2"; echo "read_all = false"; echo "delete = false"
} > "$HOME/getmailrc"
"#;

/// getmail6 with `TYPE` (and `CA` when given); `None` when getmail is not installed here (CI
/// installs it and then requires it). getmail prints no protocol trace; what it says
/// (`SSL: CERTIFICATE_VERIFY_FAILED`, `0 messages (0 bytes) retrieved`) is read beside the
/// server's transcript, which shows each command it sent.
fn getmail(retriever: &str, ca: bool) -> Option<String> {
    if !installed("getmail", "getmail6") {
        return None;
    }
    let ca = if ca { " {ca}" } else { "" };
    Some(format!(
        "sh $S/getmailrc.sh {retriever} {{port}} $PW{ca} && getmail --getmaildir \"$HOME\" --rcfile getmailrc"
    ))
}

#[test]
fn getmail_plain_retriever_sends_the_password_in_cleartext() {
    let Some(cmd) = getmail("SimplePOP3Retriever", false) else { return };
    let a = audit(&cmd, None, "honest,strip");
    // SimplePOP3Retriever has no STLS: the server's transcript shows `USER alice`, `PASS
    // <redacted>` right after the greeting, STLS in CAPA or not.
    a.expect("honest", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    a.expect("strip", Verdict::Fail, Some(Severity::Critical), "credentials sent in cleartext");
    a.assert_no_password();
}

#[test]
fn getmail_ssl_retriever_with_ca_certs_fails_safe() {
    let Some(cmd) = getmail("SimplePOP3SSLRetriever", true) else { return };
    let a = audit("true", Some(&cmd), "honest-implicit,untrusted-implicit,wrong-name-implicit");
    a.expect("honest-implicit", Verdict::Pass, None, "talked POP3 over TLS");
    // "socket error ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed
    // certificate in certificate chain (_ssl.c:992))": no USER, no PASS.
    a.expect("untrusted-implicit", Verdict::Pass, None, "failed safe");
    // A trusted certificate for another name: getmail checks the name after the handshake,
    // "operation error ((\"hostname '127.0.0.1' doesn't match 'wrong-name.invalid'\",))", and
    // leaves with RSET, QUIT: no USER, no PASS.
    a.expect("wrong-name-implicit", Verdict::Pass, None, "failed safe");
    a.assert_no_password();
}

#[test]
fn getmail_ssl_retriever_without_ca_certs_accepts_any_certificate() {
    let Some(cmd) = getmail("SimplePOP3SSLRetriever", false) else { return };
    let a = audit("true", Some(&cmd), "honest-implicit,untrusted-implicit,wrong-name-implicit");
    // Without ca_certs nothing is verified: both bad certificates get "0 messages (0 bytes)
    // retrieved" after a login inside TLS.
    a.expect("untrusted-implicit", Verdict::Fail, Some(Severity::High), "accepted a bad certificate");
    a.expect("wrong-name-implicit", Verdict::Fail, Some(Severity::High), "accepted a bad certificate");
    a.assert_no_password();
}
