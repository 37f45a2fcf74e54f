//! `pop3test serve` as a user runs it: the banner, a client session against the printed
//! address with the written CA, clean shutdown on SIGINT; `--list-defects`; `--export-maildir`.

use pop3test::net::{ConnectOptions, Connection, Target, TlsOptions};
use pop3test::proto::Expect;
use pop3test::server::{seed, Defect};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_pop3test");

#[tokio::test]
async fn serve_prints_its_addresses_serves_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--defect", "bare-lf,no-lock"])
        .arg("--write-ca")
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let read_banner = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("Ctrl-C");
            banner.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read_banner).await.expect("banner in time");
    let text = banner.join("\n");
    for needle in ["pop3s://127.0.0.1:", "mrose, password `tanstaaf`", "bare-lf [1939-crlf]", "no-lock [1939-lock]"] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let url = banner.iter().find_map(|l| l.split_whitespace().find(|w| w.starts_with("pop3://"))).unwrap();
    let target = Target::parse(url).unwrap();
    let opts = ConnectOptions {
        tls: TlsOptions { ca_file: Some(ca.clone()), ..TlsOptions::default() },
        ..ConnectOptions::default()
    };
    let mut c = Connection::connect(&target, &opts).await.unwrap();
    let g = c.greeting().await.unwrap();
    assert!(g.is_ok() && !g.violations.is_empty(), "bare-lf is on: {g:?}");
    c.send_raw(b"STLS\r\n").await.unwrap();
    assert!(c.read_response(Expect::SingleLine).await.unwrap().is_ok());
    c.start_tls().await.expect("the written CA verifies the server");

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exits in time").unwrap();
    assert!(status.success(), "{status:?}");
    assert!(ca.exists(), "--write-ca output is the user's and stays");
}

#[test]
fn list_defects_documents_every_defect() {
    let out = std::process::Command::new(BIN).args(["serve", "--list-defects"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), Defect::ALL.len() + 1, "{text}");
    for d in Defect::ALL {
        let line = text.lines().find(|l| l.starts_with(&format!("{} ", d.name()))).unwrap_or_else(|| panic!("{d}"));
        assert!(line.contains(d.requirement()) && line.contains(d.describe()), "{line}");
    }
}

#[test]
fn export_maildir_writes_the_default_maildrop() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let out = std::process::Command::new(BIN).args(["serve", "--export-maildir"]).arg(&md).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(md.join("new").is_dir() && md.join("tmp").is_dir());
    assert_eq!(std::fs::read_dir(md.join("cur")).unwrap().count(), seed::default_messages().len());
    let bad = std::process::Command::new(BIN).args(["serve", "--defect", "stls-injektion"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `stls-injection`"));
}
