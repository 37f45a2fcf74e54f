//! Maildrops and their locks. A [`Store`] holds every user's maildrop, in memory or as Maildirs on
//! disk, and hands out [`Lease`]s: RFC 1939 §4 "the POP3 server then acquires an exclusive-access
//! lock on the maildrop". A lease is released when dropped, so a session that ends any way at all
//! (QUIT, abort, autologout, crash of its task) unlocks its maildrop.
//!
//! Sessions work on a snapshot ([`Lease::load`]) and change the store only in the UPDATE state
//! ([`Lease::commit`]), removing exactly the messages they marked, by unique-id.
//!
//! Maildir layout (`--maildir DIR`): `DIR/<user>/{cur,new,tmp}`, one Maildir per configured user,
//! created when missing; the first user's is seeded with the default maildrop when created.
//! Files are read in name order (the seed's names sort as its message numbers), LF line ends
//! become CRLF on the wire, and the unique-id is the file's base name (before `:2,`), so it
//! survives restarts; deletions remove the file.

use md5::{Digest, Md5};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// One message of a maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message with CRLF line ends: exactly the octets RETR sends (before byte-stuffing).
    pub data: Arc<[u8]>,
    /// The unique-id (RFC 1939 §7): 1–70 characters in 0x21–0x7E, stable across sessions.
    pub uid: String,
    /// The Maildir file, for file-backed maildrops.
    path: Option<PathBuf>,
}

impl Message {
    /// The exact size in octets (RFC 1939 §11), as LIST and STAT report it.
    pub fn size(&self) -> usize {
        self.data.len()
    }
}

/// The maildrop is locked by another session (RFC 2449 `[IN-USE]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("maildrop is locked by another session")]
pub struct InUse;

enum Backend {
    Memory,
    Maildir(PathBuf),
}

struct Inner {
    /// In-memory maildrops (unused for Maildir stores).
    drops: HashMap<String, Vec<Message>>,
    /// Number of sessions holding each user's maildrop (more than 1 only with `no-lock`).
    locks: HashMap<String, usize>,
}

/// Every user's maildrop plus the locks.
pub struct Store {
    backend: Backend,
    users: Vec<String>,
    inner: Mutex<Inner>,
}

impl Store {
    /// In-memory maildrops: the first user gets [`super::seed::default_messages`], the others
    /// start empty.
    pub fn memory(users: &[String]) -> Store {
        let store = Store {
            backend: Backend::Memory,
            users: users.to_vec(),
            inner: Mutex::new(Inner { drops: HashMap::new(), locks: HashMap::new() }),
        };
        store.inner().drops = store.initial_drops();
        store
    }

    /// File-backed maildrops under `root` (see the module docs for the layout). Creates missing
    /// Maildirs and seeds the first user's when it had none.
    pub fn maildir(root: &Path, users: &[String]) -> io::Result<Store> {
        for (i, user) in users.iter().enumerate() {
            let dir = root.join(user);
            if !dir.join("cur").is_dir() {
                for sub in ["cur", "new", "tmp"] {
                    std::fs::create_dir_all(dir.join(sub))?;
                }
                if i == 0 {
                    super::seed::write_maildir(&dir)?;
                }
            }
        }
        Ok(Store {
            backend: Backend::Maildir(root.to_path_buf()),
            users: users.to_vec(),
            inner: Mutex::new(Inner { drops: HashMap::new(), locks: HashMap::new() }),
        })
    }

    /// Locks `user`'s maildrop. With `exclusive` (the correct behaviour) a maildrop already held
    /// by another session is refused.
    pub fn acquire(self: &Arc<Self>, user: &str, exclusive: bool) -> Result<Lease, InUse> {
        let mut inner = self.inner();
        let holders = inner.locks.entry(user.to_string()).or_insert(0);
        if exclusive && *holders > 0 {
            return Err(InUse);
        }
        *holders += 1;
        Ok(Lease { store: Arc::clone(self), user: user.to_string() })
    }

    /// True while some session holds `user`'s maildrop.
    pub fn is_locked(&self, user: &str) -> bool {
        self.inner().locks.get(user).is_some_and(|&n| n > 0)
    }

    /// Restores every maildrop to its initial content (the first user's to the default maildrop,
    /// the others empty). Locks are kept; sessions holding a snapshot keep seeing it.
    pub fn reseed(&self) -> io::Result<()> {
        match &self.backend {
            Backend::Memory => {
                let fresh = self.initial_drops();
                self.inner().drops = fresh;
                Ok(())
            }
            Backend::Maildir(root) => {
                for (i, user) in self.users.iter().enumerate() {
                    let dir = root.join(user);
                    for sub in ["cur", "new", "tmp"] {
                        let sub = dir.join(sub);
                        if sub.is_dir() {
                            for entry in std::fs::read_dir(&sub)? {
                                let path = entry?.path();
                                if path.is_file() {
                                    std::fs::remove_file(path)?;
                                }
                            }
                        }
                        std::fs::create_dir_all(&sub)?;
                    }
                    if i == 0 {
                        super::seed::write_maildir(&dir)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn initial_drops(&self) -> HashMap<String, Vec<Message>> {
        self.users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let msgs = if i == 0 { super::seed::default_messages() } else { Vec::new() };
                (u.clone(), with_content_uids(msgs))
            })
            .collect()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated (every change is one
        // assignment or one `retain`), so a poisoned mutex is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A held maildrop lock. Dropping it releases the lock.
pub struct Lease {
    store: Arc<Store>,
    user: String,
}

impl Lease {
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The maildrop's messages in message-number order (a snapshot for one session).
    pub fn load(&self) -> io::Result<Vec<Message>> {
        match &self.store.backend {
            Backend::Memory => Ok(self.store.inner().drops.get(&self.user).cloned().unwrap_or_default()),
            Backend::Maildir(root) => read_maildir(&root.join(&self.user)),
        }
    }

    /// The UPDATE state (RFC 1939 §6): removes `doomed` from the maildrop, by unique-id (memory)
    /// or by file (Maildir). A file already gone counts as removed.
    pub fn commit(&self, doomed: &[&Message]) -> io::Result<()> {
        if doomed.is_empty() {
            return Ok(());
        }
        match &self.store.backend {
            Backend::Memory => {
                let mut inner = self.store.inner();
                if let Some(msgs) = inner.drops.get_mut(&self.user) {
                    msgs.retain(|m| !doomed.iter().any(|d| d.uid == m.uid));
                }
                Ok(())
            }
            Backend::Maildir(_) => {
                let mut first_error = None;
                for m in doomed {
                    if let Some(path) = &m.path {
                        match std::fs::remove_file(path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => {
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                }
                first_error.map_or(Ok(()), Err)
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut inner = self.store.inner();
        if let Some(n) = inner.locks.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.locks.remove(&self.user);
            }
        }
    }
}

/// Unique-ids from content: the MD5 of the message in hex, with `.2`, `.3`... for repeated
/// content so ids stay unique. Deterministic, so the same seed gives the same ids after a restart.
fn with_content_uids(msgs: Vec<Vec<u8>>) -> Vec<Message> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    msgs.into_iter()
        .map(|data| {
            let hash = hex_md5(&data);
            let n = seen.entry(hash.clone()).or_insert(0);
            *n += 1;
            let uid = if *n == 1 { hash } else { format!("{hash}.{n}") };
            Message { data: data.into(), uid, path: None }
        })
        .collect()
}

fn hex_md5(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a Maildir's `new/` and `cur/` in file-name order.
fn read_maildir(dir: &Path) -> io::Result<Vec<Message>> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let sub = dir.join(sub);
        if !sub.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&sub)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.file_type()?.is_file() {
                files.push((name, entry.path()));
            }
        }
    }
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for (name, path) in files {
        let raw = match std::fs::read(&path) {
            Ok(r) => r,
            // Removed by a concurrent session (only possible with `no-lock`): skip it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let base = name.split(':').next().unwrap_or(&name);
        let valid = !base.is_empty() && base.len() <= 70 && base.bytes().all(|b| (0x21..=0x7e).contains(&b));
        let uid = if valid { base.to_string() } else { hex_md5(base.as_bytes()) };
        out.push(Message { data: to_crlf(&raw).into(), uid, path: Some(path) });
    }
    Ok(out)
}

/// LF → CRLF (lines already ending in CRLF are kept), the wire form of a Maildir message.
fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 30 + 2);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::seed;

    fn users() -> Vec<String> {
        vec!["mrose".into(), "empty".into()]
    }

    #[test]
    fn memory_store_locks_exclusively_and_releases_on_drop() {
        let store = Arc::new(Store::memory(&users()));
        let lease = store.acquire("mrose", true).unwrap();
        assert_eq!(store.acquire("mrose", true).err(), Some(InUse));
        assert!(store.acquire("empty", true).is_ok());
        let shared = store.acquire("mrose", false).unwrap();
        drop(lease);
        assert!(store.is_locked("mrose"));
        drop(shared);
        assert!(!store.is_locked("mrose"));
        assert!(store.acquire("mrose", true).is_ok());
    }

    #[test]
    fn memory_commit_removes_only_doomed_and_reseed_restores() {
        let store = Arc::new(Store::memory(&users()));
        let lease = store.acquire("mrose", true).unwrap();
        let msgs = lease.load().unwrap();
        assert_eq!(msgs.len(), seed::default_messages().len());
        lease.commit(&[&msgs[1]]).unwrap();
        let after = lease.load().unwrap();
        assert_eq!(after.len(), msgs.len() - 1);
        assert!(after.iter().all(|m| m.uid != msgs[1].uid));
        store.reseed().unwrap();
        assert_eq!(lease.load().unwrap(), msgs);
        assert!(store.acquire("empty", true).unwrap().load().unwrap().is_empty());
    }

    #[test]
    fn content_uids_are_valid_unique_and_deterministic() {
        let a = with_content_uids(vec![b"x\r\n".to_vec(), b"x\r\n".to_vec(), b"y\r\n".to_vec()]);
        let b = with_content_uids(vec![b"x\r\n".to_vec(), b"x\r\n".to_vec(), b"y\r\n".to_vec()]);
        assert_eq!(a, b);
        assert_ne!(a[0].uid, a[1].uid);
        for m in &a {
            assert!(m.uid.len() <= 70 && m.uid.bytes().all(|c| (0x21..=0x7e).contains(&c)));
        }
    }

    #[test]
    fn maildir_store_seeds_persists_deletions_and_reseeds() {
        let root = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::maildir(root.path(), &users()).unwrap());
        let lease = store.acquire("mrose", true).unwrap();
        let msgs = lease.load().unwrap();
        let want = seed::default_messages();
        assert_eq!(msgs.iter().map(|m| m.data.to_vec()).collect::<Vec<_>>(), want);
        lease.commit(&[&msgs[0]]).unwrap();
        drop(lease);
        // A new store over the same directory (a restart) sees the deletion and the same ids.
        let again = Arc::new(Store::maildir(root.path(), &users()).unwrap());
        let reloaded = again.acquire("mrose", true).unwrap().load().unwrap();
        assert_eq!(reloaded, msgs[1..].to_vec());
        again.reseed().unwrap();
        assert_eq!(again.acquire("mrose", true).unwrap().load().unwrap(), msgs);
        assert!(again.acquire("empty", true).unwrap().load().unwrap().is_empty());
    }

    #[test]
    fn crlf_conversion_keeps_existing_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\n\nc"), b"a\r\nb\r\n\r\nc");
    }
}
