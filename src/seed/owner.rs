//! `--owner USER[:GROUP]` (names or numbers): who owns what seeding creates. Mail servers read a
//! user's maildrop as that user, so files written by root must be handed over.

use super::SeedError;
use std::path::Path;

/// A resolved owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: Option<u32>,
}

/// Parses `USER[:GROUP]`: numbers are taken as they are, names looked up in /etc/passwd and
/// /etc/group (a user's primary group when GROUP is left out).
pub fn parse(spec: &str) -> Result<Owner, SeedError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, None),
        Err(_) => lookup_user(user)?,
    };
    let gid = match group {
        Some(g) if !g.is_empty() => Some(match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup_group(g)?,
        }),
        _ => primary,
    };
    Ok(Owner { uid, gid })
}

fn read(path: &str) -> Result<String, SeedError> {
    std::fs::read_to_string(path).map_err(|e| SeedError::io(format!("cannot read {path} to resolve --owner"), e))
}

fn lookup_user(name: &str) -> Result<(u32, Option<u32>), SeedError> {
    for line in read("/etc/passwd")?.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            if let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse()) {
                return Ok((uid, Some(gid)));
            }
        }
    }
    Err(SeedError::Usage(format!("--owner: no user `{name}` in /etc/passwd")))
}

fn lookup_group(name: &str) -> Result<u32, SeedError> {
    for line in read("/etc/group")?.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 3 && f[0] == name {
            if let Ok(gid) = f[2].parse() {
                return Ok(gid);
            }
        }
    }
    Err(SeedError::Usage(format!("--owner: no group `{name}` in /etc/group")))
}

/// The owner of an existing path, to hand new files the same (the default without `--owner`).
pub fn of(path: &Path) -> Option<Owner> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| Owner { uid: m.uid(), gid: Some(m.gid()) })
}

/// Gives `path` to `owner` (nothing when `None`).
pub fn apply(path: &Path, owner: Option<Owner>) -> Result<(), SeedError> {
    let Some(o) = owner else { return Ok(()) };
    std::os::unix::fs::chown(path, Some(o.uid), o.gid)
        .map_err(|e| SeedError::io(format!("cannot give {} to uid {}", path.display(), o.uid), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_resolve() {
        assert_eq!(parse("1000:100").unwrap(), Owner { uid: 1000, gid: Some(100) });
        assert_eq!(parse("0").unwrap(), Owner { uid: 0, gid: None });
        assert_eq!(parse("root").unwrap(), Owner { uid: 0, gid: Some(0) });
        assert_eq!(parse("root:root").unwrap().gid, Some(0));
        assert!(parse("no-such-user-pop3test").unwrap_err().to_string().contains("no user"));
    }
}
