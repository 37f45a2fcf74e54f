//! Seeding an mbox file (GNU Mailutils, popa3d, solid-pop3d): messages appended in mboxrd form —
//! a `From ` separator line, body lines matching `^>*From ` quoted with one more `>`, a blank line
//! after each message — with LF line ends. Locked the way mail programs expect while writing: a
//! `FILE.lock` dotlock (created exclusively, removed after) and an exclusive `flock`.

use super::owner::{self, Owner};
use super::{missing, stored_id, SeedError, Seeded};
use crate::server::seed::strip_cr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for another program's dotlock before giving up with a clear error.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The messages of an mbox: each starts at a `From ` line at the start of the file or after a
/// blank line.
pub fn split(mbox: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    let mut prev_blank = true;
    while pos < mbox.len() {
        let end = mbox[pos..].iter().position(|&b| b == b'\n').map_or(mbox.len(), |i| pos + i + 1);
        let line = &mbox[pos..end];
        if prev_blank && line.starts_with(b"From ") {
            starts.push(pos);
        }
        prev_blank = line == b"\n" || line == b"\r\n";
        pos = end;
    }
    starts.iter().enumerate().map(|(i, &s)| &mbox[s..starts.get(i + 1).copied().unwrap_or(mbox.len())]).collect()
}

/// One message in mboxrd form: separator, quoted body, blank line.
pub fn entry(message: &[u8]) -> Vec<u8> {
    let lf = strip_cr(message);
    let mut out = b"From sender@example.org Mon Nov  2 10:00:00 2026\n".to_vec();
    for line in lf.split_inclusive(|&b| b == b'\n') {
        let quoted = line.iter().position(|&b| b != b'>').is_some_and(|i| line[i..].starts_with(b"From "));
        if quoted {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// Holds `FILE.lock` while alive.
struct DotLock(PathBuf);

impl DotLock {
    fn take(file: &Path) -> Result<DotLock, SeedError> {
        let path = PathBuf::from(format!("{}.lock", file.display()));
        let start = Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(DotLock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(SeedError::Io(format!(
                        "{} stayed locked for {}s (another program holds it, or a stale lock file: remove it if \
                         no mail program runs)",
                        path.display(),
                        LOCK_WAIT.as_secs()
                    )))
                }
                Err(e) => return Err(SeedError::io(format!("cannot create {}", path.display()), e)),
            }
        }
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Seeds the mbox at `file` (created when missing).
pub fn seed(file: &Path, reset: bool, owner: Option<Owner>) -> Result<Seeded, SeedError> {
    let owner = owner.or_else(|| owner::of(file));
    let created = !file.exists();
    let _dot = DotLock::take(file)?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(file)
        .map_err(|e| SeedError::io(format!("cannot open {}", file.display()), e))?;
    f.lock().map_err(|e| SeedError::io(format!("cannot lock {}", file.display()), e))?;
    if created {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600));
        owner::apply(file, owner)?;
    }
    let mut removed = 0;
    if reset {
        let old = std::fs::read(file).map_err(|e| SeedError::io(format!("cannot read {}", file.display()), e))?;
        removed = split(&old).len();
        f.set_len(0).map_err(|e| SeedError::io(format!("cannot empty {}", file.display()), e))?;
    }
    let content = std::fs::read(file).map_err(|e| SeedError::io(format!("cannot read {}", file.display()), e))?;
    let present: Vec<String> = split(&content).into_iter().filter_map(|m| stored_id(after_separator(m))).collect();
    let todo = missing(&present);
    let mut out = Vec::new();
    for (_, msg) in &todo {
        out.extend_from_slice(&entry(msg));
    }
    f.write_all(&out)
        .and_then(|_| f.sync_all())
        .map_err(|e| SeedError::io(format!("cannot append to {}", file.display()), e))?;
    Ok(Seeded { removed, present: crate::inventory::SEED_MESSAGES - todo.len(), added: todo.len() })
}

/// The message after its `From ` separator line.
fn after_separator(m: &[u8]) -> &[u8] {
    m.iter().position(|&b| b == b'\n').map_or(&m[m.len()..], |i| &m[i + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_are_quoted_and_split_finds_each_message() {
        let e = entry(b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nok\r\n");
        assert_eq!(
            e,
            b"From sender@example.org Mon Nov  2 10:00:00 2026\nSubject: x\n\n>From here\n>>From there\nok\n\n"
        );
        let two = [entry(b"A: 1\r\n\r\nFrom x\r\n"), entry(b"A: 2\r\n\r\nb\r\n")].concat();
        let parts = split(&two);
        assert_eq!(parts.len(), 2, "a quoted From line inside a body does not start a message");
        assert!(after_separator(parts[1]).starts_with(b"A: 2"));
    }

    #[test]
    fn seeding_twice_adds_once_and_reset_truncates() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("user");
        std::fs::write(&f, entry(b"Message-ID: <foreign@x>\r\n\r\nhello\r\n")).unwrap();
        assert_eq!(seed(&f, false, None).unwrap().added, 6);
        assert_eq!(seed(&f, false, None).unwrap().added, 0);
        assert_eq!(split(&std::fs::read(&f).unwrap()).len(), 7);
        let r = seed(&f, true, None).unwrap();
        assert_eq!((r.removed, r.added), (7, 6));
        assert_eq!(split(&std::fs::read(&f).unwrap()).len(), 6);
        assert!(!tmp.path().join("user.lock").exists(), "the dotlock is removed");
    }
}
