//! Reproducers as scenario files (`scenarios/README.md` format): `pop3test run FILE` replays a
//! finding and fails the way the fuzzer saw the server fail; the next `pop3test fuzz` with the
//! same `--out` replays every saved file first (regressions).
//!
//! Every octet the fuzzer sent is written as a YAML double-quoted escape where it is not plain
//! printable ASCII (`"\r\n"`, `"\x00"`, `"\xff"`): the README's `send_raw` sends characters up to
//! U+00FF as one octet each, so the file round-trips byte for byte. A reproducer ends with
//! `disconnect` (never QUIT), so a session that marked messages deletes nothing.

use super::case::{Case, Chunk};
use super::model::{Context, Model, Must};
use super::oracle::{FindingKey, Oracle};
use super::shrink::Repro;
use crate::proto::{Expect, SessionState, Status};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the file says besides the bytes.
#[derive(Debug, Clone)]
pub struct Meta<'a> {
    pub key: &'a FindingKey,
    pub title: &'a str,
    pub detail: &'a str,
    pub requirement: &'a str,
    pub rfc: &'a str,
    pub seed: u64,
    pub reproduced: (u32, u32),
    /// The setup did STLS before fuzzing (AUTHORIZATION contexts).
    pub did_stls: bool,
    /// The hang threshold the finding was made with.
    pub timeout: Duration,
    /// State damage: what STAT must say after the trigger.
    pub expected_stat: Option<(u64, u64)>,
}

/// Quotes bytes as a YAML double-quoted scalar.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// Quotes text (titles, RFC references) as a YAML double-quoted scalar, keeping Unicode.
fn quote_text(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether replaying these cases removes mail: only QUIT after a DELE enters UPDATE (RFC 1939 §6).
/// A reproducer ends with `disconnect`, so one that marks messages and never QUITs changes nothing
/// and replays without --destructive.
fn commits_deletion(context: Context, cases: &[&Case]) -> bool {
    let mut deleted = context == Context::AfterDele;
    for line in cases.iter().flat_map(|c| c.lines()) {
        let l = line.strip_suffix(b"\n").unwrap_or(&line);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.len() >= 5 && l[..5].eq_ignore_ascii_case(b"DELE ") {
            deleted = true;
        }
        // `QUIT x` too: a lenient server may take it.
        if deleted && l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"QUIT") && l.get(4).is_none_or(|&b| b == b' ') {
            return true;
        }
    }
    false
}

/// The scenario text for a reproducer.
pub fn scenario(repro: &Repro, meta: &Meta) -> String {
    let name = format!("fuzz/{}", meta.key.file_stem());
    let mut y = String::new();
    let _ = writeln!(y, "name: {name}");
    let _ = writeln!(y, "title: {}", quote_text(meta.title));
    let _ = writeln!(y, "description: |");
    let _ = writeln!(
        y,
        "  Found by `pop3test fuzz --seed {}` and shrunk to this input ({} octets);",
        meta.seed,
        repro.size()
    );
    let _ = writeln!(y, "  reproduced {}/{} times. {}", meta.reproduced.0, meta.reproduced.1, one_line(meta.detail));
    let k = meta.key;
    let _ = writeln!(y, "  fuzz-key: {}|{}|{}|{}", k.oracle.name(), k.reason, k.keyword, k.context);
    let cases: Vec<&Case> = repro.prefix.iter().chain(std::iter::once(&repro.trigger)).collect();
    if commits_deletion(repro.context, &cases) {
        let _ = writeln!(
            y,
            "  It sends QUIT after DELE, so the server removes mail (RFC 1939 §6): restore the maildrop after \
             replaying it (`pop3test seed`, or `--reseed CMD` with --destructive)."
        );
    }
    let _ = writeln!(y, "requirements: [{}]", meta.requirement);
    let _ = writeln!(y, "rfc: [{}]", quote_text(meta.rfc));
    let _ = writeln!(y, "tags: [fuzz, {}, {}]", k.oracle.name(), repro.context.name());
    let all: Vec<&Case> = repro.prefix.iter().chain(std::iter::once(&repro.trigger)).collect();
    let commits = commits_deletion(repro.context, &all);
    let needs_creds = repro.context.needs_login() || repro.context == Context::AfterUser;
    match (needs_creds, commits) {
        (true, true) => y.push_str("requires: [credentials, destructive]\n"),
        (true, false) => y.push_str("requires: [credentials]\n"),
        (false, true) => y.push_str("requires: [destructive]\n"),
        (false, false) => {}
    }
    y.push_str("steps:\n  - connect:\n");
    match repro.context {
        Context::Transaction | Context::AfterDele => y.push_str("  - login:\n"),
        _ if meta.did_stls => y.push_str("  - stls:\n"),
        _ => {}
    }
    let mut model = Model::new(repro.context.state(), meta.did_stls);
    match repro.context {
        Context::AfterUser => {
            y.push_str("  - send: USER ${user}\n    expect: { status: ok }\n");
            model.after_user = Some(String::new());
        }
        Context::AfterDele => {
            y.push_str("  - send: DELE 1\n    expect: { status: ok }\n");
        }
        _ => {}
    }
    // Sizes are unknown offline: a large maildrop keeps message numbers judged by deletion only.
    if model.state == SessionState::Transaction {
        model.set_maildrop(vec![0; 1 << 16]);
        if repro.context == Context::AfterDele {
            model.apply(b"DELE 1\r\n", Status::Ok);
        }
    }
    let timeout = humantime::format_duration(meta.timeout.max(Duration::from_millis(100))).to_string();
    for (i, case) in all.iter().enumerate() {
        let trigger = i + 1 == all.len();
        let note = if trigger {
            format!("case {} of {} (the trigger)", i + 1, all.len())
        } else {
            format!("case {} of {}", i + 1, all.len())
        };
        write_case(&mut y, case, &mut model, &note, trigger.then_some(timeout.as_str()));
    }
    if let (Oracle::StateDamage, Some((n, m))) = (k.oracle, meta.expected_stat) {
        let _ = writeln!(y, "  - send: STAT\n    expect: {{ status: ok, text: '^{n} {m}( |$)' }}");
    }
    y.push_str("  - disconnect:\n");
    y
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// One case: a `send_raw` per write, a `read` per line, expectations from the model.
fn write_case(y: &mut String, case: &Case, model: &mut Model, note: &str, timeout: Option<&str>) {
    let lines = case.lines();
    let framed = case.is_framed();
    let (mut answered, mut completed) = (0usize, 0usize);
    for (ci, chunk) in case.chunks.iter().enumerate() {
        if chunk.after_replies {
            while answered < completed {
                write_read(y, &lines[answered], model, framed, timeout);
                answered += 1;
            }
        }
        let _ = writeln!(y, "  - send_raw: {}\n    frame: none", quote(&chunk.bytes));
        if ci == 0 {
            let _ = writeln!(y, "    note: {}", quote_text(note));
        }
        completed += chunk.bytes.iter().filter(|&&b| b == b'\n').count();
    }
    while answered < completed {
        write_read(y, &lines[answered], model, framed, timeout);
        answered += 1;
    }
}

fn write_read(y: &mut String, line: &[u8], model: &mut Model, framed: bool, timeout: Option<&str>) {
    let p = model.predict(line);
    let frame = match p.expect {
        Expect::SingleLine => "single",
        Expect::MultiLine => "multi",
        Expect::Sasl => "sasl",
    };
    let _ = writeln!(y, "  - read: {frame}");
    let status = match p.must {
        Must::Ok => Some(Status::Ok),
        Must::Err => Some(Status::Err),
        Must::NotOk | Must::Either => None,
    };
    match status.filter(|_| framed) {
        Some(Status::Ok) => y.push_str("    expect: { status: ok }\n"),
        Some(_) => y.push_str("    expect: { status: err }\n"),
        None => {}
    }
    if let Some(t) = timeout {
        let _ = writeln!(y, "    timeout: {t}");
    }
    // After AUTH the next line may be a continuation: assume it is, and read it framed as SASL
    // (which also accepts a plain status line).
    let assumed = match p.must {
        Must::NotOk if p.expect == Expect::Sasl => Status::Continue,
        _ => status.unwrap_or(Status::Err),
    };
    model.apply(line, assumed);
}

/// Writes the scenario for `repro` into `dir`; returns the path.
pub fn write(dir: &Path, repro: &Repro, meta: &Meta) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.yaml", meta.key.file_stem()));
    crate::report::write_atomic(&path, scenario(repro, meta).as_bytes())?;
    Ok(path)
}

/// A saved reproducer read back.
#[derive(Debug, Clone)]
pub struct Saved {
    pub path: PathBuf,
    pub key: FindingKey,
    pub title: String,
    pub repro: Repro,
}

#[derive(Deserialize)]
struct Doc {
    title: String,
    #[serde(default)]
    description: String,
    steps: Vec<serde_yaml_ng::Mapping>,
}

/// Reads one reproducer written by [`write`].
pub fn read(path: &Path) -> Result<Saved, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Doc = serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |why: &str| format!("{}: not a pop3test fuzz reproducer ({why})", path.display());
    let key_line =
        doc.description.lines().find_map(|l| l.trim().strip_prefix("fuzz-key: ")).ok_or_else(|| bad("no fuzz-key"))?;
    let parts: Vec<&str> = key_line.split('|').collect();
    let [oracle, reason, keyword, context] = parts[..] else { return Err(bad("malformed fuzz-key")) };
    let oracle: Oracle = serde_yaml_ng::from_str(oracle).map_err(|_| bad("unknown oracle"))?;
    let ctx = Context::from_name(context).ok_or_else(|| bad("unknown context"))?;
    let key = FindingKey { oracle, reason: reason.into(), keyword: keyword.into(), context: context.into() };
    let mut cases: Vec<Case> = Vec::new();
    let mut read_since_send = false;
    for step in &doc.steps {
        if step.contains_key("read") {
            read_since_send = true;
        }
        let Some(raw) = step.get("send_raw").and_then(|v| v.as_str()) else { continue };
        let bytes: Vec<u8> = raw.chars().map(|c| c as u32).map(|c| u8::try_from(c).unwrap_or(b'?')).collect();
        let starts_case = step.get("note").and_then(|v| v.as_str()).is_some_and(|n| n.starts_with("case "));
        if starts_case || cases.is_empty() {
            cases.push(Case::default());
            read_since_send = false;
        }
        let case = cases.last_mut().expect("pushed above");
        case.chunks.push(Chunk { bytes, after_replies: read_since_send });
        read_since_send = false;
    }
    let trigger = cases.pop().ok_or_else(|| bad("no send_raw step"))?;
    Ok(Saved { path: path.to_path_buf(), key, title: doc.title, repro: Repro { context: ctx, prefix: cases, trigger } })
}

/// Every reproducer in `dir` (sorted by file name); unreadable files are reported, not fatal.
pub fn read_dir(dir: &Path) -> (Vec<Saved>, Vec<String>) {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect()
        }
        Err(_) => return (Vec::new(), Vec::new()),
    };
    paths.sort();
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    for p in paths.into_iter().take(1000) {
        match read(&p) {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::oracle::Reason;

    fn meta(key: &FindingKey) -> Meta<'_> {
        Meta {
            key,
            title: "wrong answer",
            detail: "`RETR 4294967297` got +OK",
            requirement: "1939-retr",
            rfc: "RFC 1939 §5",
            seed: 7,
            reproduced: (3, 3),
            did_stls: true,
            timeout: Duration::from_millis(300),
            expected_stat: None,
        }
    }

    #[test]
    fn quoting_escapes_every_unprintable_octet() {
        assert_eq!(quote(b"RETR 1\r\n"), "\"RETR 1\\r\\n\"");
        assert_eq!(quote(b"a\0\xff\"\\\t"), "\"a\\0\\xff\\\"\\\\\\t\"");
    }

    #[test]
    fn scenarios_round_trip_bytes_and_key() {
        let key = FindingKey {
            oracle: Oracle::WrongAnswer,
            reason: Reason::NumberWrap.name().into(),
            keyword: "RETR".into(),
            context: "transaction-after-dele".into(),
        };
        let mut split = Case::line(b"NOOP\r\nRETR 42");
        split.chunks.push(Chunk { bytes: b"94967297\r\n".to_vec(), after_replies: false });
        let odd = Case::line(b"USER \x00\xff\xc3\x28%n\r\n");
        let repro = Repro {
            context: Context::AfterDele,
            prefix: vec![odd.clone(), split],
            trigger: Case::line(b"RETR 4294967297\r\n"),
        };
        let text = scenario(&repro, &meta(&key));
        // Marked messages, never QUIT: replays without --destructive.
        assert!(text.contains("requires: [credentials]\n"), "{text}");
        assert!(text.contains("  - read: multi\n    expect: { status: err }\n    timeout: 300ms"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &repro, &meta(&key)).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.key, key);
        assert_eq!(back.repro, repro);
        // The scenario loader accepts it (name pattern, keys, requirements).
        let loaded = crate::scenario::load::load_str("x.yaml", &text, None);
        assert!(loaded.as_ref().is_ok_and(|s| !s.destructive), "{:?}", loaded.err());
    }

    #[test]
    fn only_quit_after_dele_makes_a_reproducer_destructive() {
        let key = FindingKey {
            oracle: Oracle::Crash,
            reason: String::new(),
            keyword: "QUIT".into(),
            context: "transaction".into(),
        };
        let quit_after = Repro {
            context: Context::Transaction,
            prefix: vec![Case::line(b"dele 2\r\n")],
            trigger: Case::line(b"NOOP\r\nQUIT\r\n"),
        };
        let text = scenario(&quit_after, &meta(&key));
        assert!(text.contains("requires: [credentials, destructive]"), "{text}");
        assert!(text.contains("restore the maildrop"), "{text}");
        let loaded = crate::scenario::load::load_str("x.yaml", &text, None);
        assert!(loaded.as_ref().is_ok_and(|s| s.destructive), "{:?}", loaded.err());
        for (context, cases) in [
            (Context::Transaction, vec![Case::line(b"QUIT\r\n"), Case::line(b"DELE 1\r\n")]),
            (Context::Transaction, vec![Case::line(b"DELE 1\r\nQUITX\r\n")]),
        ] {
            assert!(!commits_deletion(context, &cases.iter().collect::<Vec<_>>()), "{cases:?}");
        }
        assert!(commits_deletion(Context::AfterDele, &[&Case::line(b"quit now\r\n")]));
    }
}
