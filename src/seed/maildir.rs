//! Seeding a Maildir (Dovecot, Courier, the built-in server's `--maildir`): messages are written
//! to `tmp/` and renamed into `cur/` (the Maildir delivery rule: a reader never sees half a file),
//! LF line ends on disk, Maildir++ `S=` (size on disk) and `W=` (size with CRLF) in the name,
//! which Dovecot trusts. Names start with the current time and the message number, so they sort
//! after whatever is there and in order among themselves; mtimes follow the same order.
//!
//! `--reset` removes the files in `cur/`, `new/` and `tmp/` only. Server indexes (Dovecot's
//! `dovecot-uidlist` and index files, Courier's `courierpop3dsizelist`) are keyed by file name and
//! noticed stale by the servers at the next login: removing them is not needed, and would cost
//! the UIDVALIDITY of everything.

use super::owner::{self, Owner};
use super::{missing, stored_id, SeedError, Seeded};
use crate::server::seed::strip_cr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Message files in `cur/` and `new/`.
fn messages(dir: &Path) -> Result<Vec<PathBuf>, SeedError> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(SeedError::io(format!("cannot read {}", d.display()), e)),
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if !name.to_string_lossy().starts_with('.') && e.file_type().is_ok_and(|t| t.is_file()) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The header of a message file (enough for its Message-ID), without reading a large body.
fn header(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = f.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Seeds the Maildir at `dir` (created when missing).
pub fn seed(dir: &Path, reset: bool, owner: Option<Owner>) -> Result<Seeded, SeedError> {
    let owner = owner.or_else(|| owner::of(dir));
    for sub in ["", "cur", "new", "tmp"] {
        let d = dir.join(sub);
        if !d.is_dir() {
            std::fs::create_dir_all(&d).map_err(|e| SeedError::io(format!("cannot create {}", d.display()), e))?;
            set_mode(&d, 0o700)?;
            owner::apply(&d, owner)?;
        }
    }
    let mut removed = 0;
    if reset {
        for sub in ["cur", "new", "tmp"] {
            let d = dir.join(sub);
            for e in
                std::fs::read_dir(&d).map_err(|e| SeedError::io(format!("cannot read {}", d.display()), e))?.flatten()
            {
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    std::fs::remove_file(e.path())
                        .map_err(|err| SeedError::io(format!("cannot remove {}", e.path().display()), err))?;
                    removed += usize::from(sub != "tmp");
                }
            }
        }
    }
    let present: Vec<String> = messages(dir)?.iter().filter_map(|p| header(p).and_then(|h| stored_id(&h))).collect();
    let todo = missing(&present);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let pid = std::process::id();
    for (k, (n, msg)) in todo.iter().enumerate() {
        let lf = strip_cr(msg);
        let base = format!("{now}.M{k:02}N{n}P{pid}.pop3test,S={},W={}", lf.len(), msg.len());
        let tmp = dir.join("tmp").join(&base);
        let cur = dir.join("cur").join(format!("{base}:2,"));
        std::fs::write(&tmp, &lf).map_err(|e| SeedError::io(format!("cannot write {}", tmp.display()), e))?;
        set_mode(&tmp, 0o600)?;
        owner::apply(&tmp, owner)?;
        // Increasing mtimes too: readers that order by time see the same order as by name.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(now) + Duration::from_millis(k as u64);
        if let Ok(f) = std::fs::File::options().write(true).open(&tmp) {
            let _ = f.set_modified(t);
        }
        std::fs::rename(&tmp, &cur)
            .map_err(|e| SeedError::io(format!("cannot move {} into cur/", tmp.display()), e))?;
    }
    Ok(Seeded { removed, present: crate::inventory::SEED_MESSAGES - todo.len(), added: todo.len() })
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SeedError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| SeedError::io(format!("cannot set the mode of {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(dir: &Path) -> usize {
        messages(dir).unwrap().len()
    }

    #[test]
    fn seeding_twice_adds_once_and_reset_empties_first() {
        let tmp = tempfile::tempdir().unwrap();
        let md = tmp.path().join("Maildir");
        let first = seed(&md, false, None).unwrap();
        assert_eq!((first.added, first.removed), (6, 0));
        assert_eq!(count(&md), 6);
        assert_eq!(seed(&md, false, None).unwrap().added, 0);
        assert_eq!(count(&md), 6);
        std::fs::write(md.join("new/1.foreign"), b"Message-ID: <x@y>\n\nhi\n").unwrap();
        std::fs::remove_file(messages(&md).unwrap()[2].clone()).unwrap();
        let again = seed(&md, false, None).unwrap();
        assert_eq!(again.added, 1, "only the removed standard message comes back");
        assert_eq!(count(&md), 7);
        let reset = seed(&md, true, None).unwrap();
        assert_eq!((reset.removed, reset.added), (7, 6));
        assert_eq!(count(&md), 6);
    }

    #[test]
    fn names_carry_sizes_and_sort_in_message_order() {
        let tmp = tempfile::tempdir().unwrap();
        seed(tmp.path(), false, None).unwrap();
        let files = messages(tmp.path()).unwrap();
        for (i, f) in files.iter().enumerate() {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.contains(&format!("N{}P", i + 1)), "{name}");
            let lf = std::fs::read(f).unwrap();
            let crlf = lf.len() + lf.iter().filter(|&&b| b == b'\n').count();
            assert!(name.contains(&format!(",S={},W={crlf}:2,", lf.len())), "{name}");
        }
    }
}
