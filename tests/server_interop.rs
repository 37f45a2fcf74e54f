//! Interoperability: Python's standard-library `poplib` (an independent client) runs full
//! sessions against the reference server: STLS with certificate verification against the
//! server's CA file, UTF8 (RFC 6856), USER/PASS, STAT, LIST, UIDL, RETR (compared byte for byte with the stored
//! messages), TOP, DELE, RSET, QUIT, and APOP with a digest computed by `hashlib`.

use pop3test::server::{seed, spawn, ServerConfig};
use std::time::Duration;

const SCRIPT: &str = r#"
import hashlib, os, poplib, ssl, sys

host, port, cafile, expected_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
names = sorted(os.listdir(expected_dir), key=int)
expected = [open(os.path.join(expected_dir, n), "rb").read() for n in names]
ctx = ssl.create_default_context(cafile=cafile)

def connect():
    p = poplib.POP3(host, port, timeout=20)
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps, caps
    p.stls(context=ctx)
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps and "TOP" in caps and "UIDL" in caps, caps
    return p

p = connect()
# RFC 6856: the 8-bit message is refused outside UTF-8 mode; poplib's utf8() enters it.
assert "UTF8" in p.capa() and p.capa()["UTF8"] == ["USER"], p.capa()
print(p.utf8().decode())
print(p.user("mrose").decode()); print(p.pass_("tanstaaf").decode())
count, size = p.stat()
assert count == len(expected), (count, len(expected))
assert size == sum(len(m) for m in expected), size
resp, listing, _ = p.list()
sizes = [int(l.split()[1]) for l in listing]
assert sizes == [len(m) for m in expected], sizes
resp, uids, _ = p.uidl()
assert len(uids) == count and len(set(u.split()[1] for u in uids)) == count, uids
for i, want in enumerate(expected, 1):
    resp, lines, octets = p.retr(i)
    body = b"\r\n".join(lines) + b"\r\n"
    assert body == want, "message %d differs" % i
    assert int(p.list(i).split()[2]) == len(body)
resp, lines, _ = p.top(1, 0)
head = b"\r\n".join(lines) + b"\r\n"
assert expected[0].startswith(head) and head.endswith(b"\r\n\r\n"), head
resp, lines, _ = p.top(4, 2)
assert lines[-2:] == [b"L" * 998, b"body line 1"], lines[-3:]
print(p.dele(1).decode())
assert p.stat()[0] == count - 1
print(p.rset().decode())
assert p.stat() == (count, size)
print(p.dele(3).decode())
print(p.quit().decode())

p = connect()
ts = p.welcome.decode()[p.welcome.decode().index("<"):]
digest = hashlib.md5((ts + "tanstaaf").encode()).hexdigest()
print(p.apop("mrose", "tanstaaf").decode())
assert p.stat()[0] == count - 1, "QUIT committed DELE 3"
assert p.uidl(1).split()[2] == uids[0].split()[1]
p.quit()

p = connect()
try:
    p.user("mrose"); p.pass_("wrong")
    raise SystemExit("wrong password accepted")
except poplib.error_proto as e:
    assert str(e).startswith("b'-ERR [AUTH]"), e
p.quit()

s = poplib.POP3_SSL(host, int(sys.argv[5]), context=ctx, timeout=20)
s.user("empty"); s.pass_("empty-pass")
assert s.stat() == (0, 0) and s.list()[1] == []
s.quit()
print("digest", digest, "ok")
"#;

#[tokio::test]
async fn python_poplib_full_session() {
    let h = spawn(ServerConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected");
    std::fs::create_dir(&expected).unwrap();
    for (i, m) in seed::default_messages().iter().enumerate() {
        std::fs::write(expected.join((i + 1).to_string()), m).unwrap();
    }
    let script = dir.path().join("session.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let child = tokio::process::Command::new("python3")
        .arg(&script)
        .arg("127.0.0.1")
        .arg(h.addr.port().to_string())
        .arg(&h.ca_file)
        .arg(&expected)
        .arg(h.tls_addr.unwrap().port().to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), child).await.expect("python finished in time").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("+OK maildrop locked and ready") && stdout.trim_end().ends_with("ok"), "{stdout}");
    h.shutdown().await;
}
