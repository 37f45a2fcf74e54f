//! `--only` / `--skip`: which checks a run includes. A pattern matches a check when it matches
//! its id (`rfc1939/retr-*`), one of its requirement ids (`1939-multiline`), one of its tags
//! (`security`), or its RFC (`1939`, `rfc1939`, `RFC 1939`). `*` and `?` are globs; matching
//! ignores case. Comma-separated lists are split.

use super::ItemInfo;

/// A compiled selection.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    only: Vec<String>,
    skip: Vec<String>,
}

fn split(patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .flat_map(|p| p.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

impl Selection {
    pub fn new(only: &[String], skip: &[String]) -> Selection {
        Selection { only: split(only), skip: split(skip) }
    }

    /// Whether the check is selected.
    pub fn includes(&self, info: &ItemInfo) -> bool {
        let hit = |p: &String| matches(p, info);
        (self.only.is_empty() || self.only.iter().any(hit)) && !self.skip.iter().any(hit)
    }
}

fn matches(pattern: &str, info: &ItemInfo) -> bool {
    if glob(pattern, &info.id.to_ascii_lowercase()) {
        return true;
    }
    let mut words: Vec<String> = Vec::new();
    words.extend(info.requirements.iter().map(|r| r.to_ascii_lowercase()));
    words.extend(info.tags.iter().map(|t| t.to_ascii_lowercase()));
    // RFC forms: "RFC 1939 §3" → "1939", "rfc1939", "rfc 1939".
    for r in info.rfc_refs.iter().chain(std::iter::once(&info.area)) {
        if let Some(num) = r.split_whitespace().nth(1).filter(|n| n.chars().all(|c| c.is_ascii_digit())) {
            words.push(num.to_string());
            words.push(format!("rfc{num}"));
            words.push(format!("rfc {num}"));
        }
    }
    words.iter().any(|w| glob(pattern, w))
}

/// Glob match with `*` (any run) and `?` (one character). Iterative with one backtrack point, so
/// it is linear-ish and never recursive.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ItemInfo {
        ItemInfo {
            id: "rfc1939/retr-byte-stuffing".into(),
            title: String::new(),
            area: "RFC 1939".into(),
            requirements: vec!["1939-multiline".into()],
            rfc_refs: vec!["RFC 1939 §3".into()],
            tags: vec!["retr".into()],
            requires: Vec::new(),
            destructive: false,
            kind: "scenario",
        }
    }

    #[test]
    fn matches_by_id_requirement_tag_and_rfc() {
        let i = info();
        for p in ["rfc1939/*", "*stuffing", "1939-multiline", "RETR", "1939", "rfc1939", "RFC 1939", "1939-*"] {
            assert!(Selection::new(&[p.into()], &[]).includes(&i), "{p}");
        }
        assert!(!Selection::new(&["2449".into()], &[]).includes(&i));
        assert!(!Selection::new(&[], &["retr".into()]).includes(&i));
        assert!(Selection::new(&["2449,retr".into()], &[]).includes(&i));
        assert!(glob("a*b?c", "axxbyc") && !glob("a*b?c", "axxbc"));
    }
}
