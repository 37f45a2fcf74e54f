//! `--shard K/N`: which slice of the fleet this worker audits. A target belongs to shard
//! `hash(key) mod N`, where `key` is its normalised URL ([`super::targets::normalise`]) and the
//! hash is the first 8 octets of its SHA-256: the same target lands in the same shard whatever
//! the order of the file, on every machine and with every version of pop3test (a std `Hasher`
//! promises none of that). K counts from 0, as Kubernetes' `JOB_COMPLETION_INDEX` does.

use std::fmt;
use std::str::FromStr;

/// One slice: `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The shard a target key belongs to, among `count`.
    pub fn of(key: &str, count: u64) -> u64 {
        let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_ref()[..8]);
        u64::from_be_bytes(first) % count.max(1)
    }

    /// True when the target with this key is this shard's to audit.
    pub fn contains(&self, key: &str) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid shard `{s}`: {why}; expected K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let index = k.trim().parse::<u64>().map_err(|_| bad("K is not a number"))?;
        let count = n.trim().parse::<u64>().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("K counts from 0, so it must be below N"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_explains() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        assert_eq!("0/1".parse::<Shard>().unwrap().to_string(), "0/1");
        for bad in ["5/5", "1", "a/2", "0/0", "-1/3"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("expected K/N"), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // Changing it would move targets between the shards of a CI matrix mid-migration.
        // Value from Python: int.from_bytes(sha256(key)[:8], "big") % N.
        assert_eq!(Shard::of("pop3://mail.example.org:110", 1000), 598);
        assert_eq!(Shard::of("pop3://mail.example.org:110", 7), 3);
        assert_eq!(Shard::of("anything", 1), 0);
    }
}
