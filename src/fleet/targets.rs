//! The targets file of a fleet audit (`audit --targets FILE`), parsed without I/O: one target a
//! line, a `pop3://` or `pop3s://` URL then optional `key=value` words; `#` starts a comment, blank
//! lines are skipped. Every mistake is a [`Diagnostic`] pointing at its line and column.
//!
//! ```text
//! # plain port (STLS); implicit TLS on 995 of the same host unless tls-port= or no-implicit
//! pop3://mail.example.org
//! pop3://10.0.0.7:1110 tls-port=1995 user=audit password-env=AUDIT_PW
//! # an implicit-TLS URL names the 995 side; the plain side is port 110 unless plain-port=
//! pop3s://pop.example.net plain-port=2110
//! ```

use crate::net::{Scheme, Target};
use crate::scenario::diag::{did_you_mean, Diagnostic, Span};
use std::collections::HashMap;

/// One line of the targets file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTarget {
    /// The line's URL, normalised ([`normalise`]): the target's identity in the JSONL records, for
    /// `--resume` and for `--shard`.
    pub key: String,
    /// 1-based line number in the file, for messages.
    pub line: u32,
    /// The plain (STLS) port the audit starts from.
    pub plain: Target,
    /// The implicit-TLS port, or `None` (`no-implicit`).
    pub implicit: Option<Target>,
    /// `user=`: this target's test account (else the command line's `--user`, if any).
    pub user: Option<String>,
    /// `password-env=`: the environment variable holding that account's password.
    pub password_env: Option<String>,
}

/// What lines default to when they do not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineDefaults {
    /// `--tls-port`, else 995.
    pub tls_port: u16,
    /// `--no-implicit`.
    pub no_implicit: bool,
}

impl Default for LineDefaults {
    fn default() -> Self {
        LineDefaults { tls_port: 995, no_implicit: false }
    }
}

const KEYS: [&str; 5] = ["user", "password-env", "tls-port", "plain-port", "no-implicit"];
const EXPECTED: &str = "expected user=NAME, password-env=VAR, tls-port=PORT, plain-port=PORT or no-implicit";

/// The identity of a target URL: lowercase scheme and host, no trailing dot, IP literals in
/// canonical form, the port always written. `POP3://Mail.Example.org.` and
/// `pop3://mail.example.org:110` are the same target.
pub fn normalise(t: &Target) -> String {
    let host = match t.host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => t.host.trim_end_matches('.').to_ascii_lowercase(),
    };
    Target { scheme: t.scheme, host, port: t.port }.to_string()
}

/// Parses the whole file; `file` names it in diagnostics. All errors are returned, not only the
/// first, so that one edit fixes a file.
pub fn parse(text: &str, file: &str, defaults: LineDefaults) -> Result<Vec<FleetTarget>, Vec<Diagnostic>> {
    let mut out: Vec<FleetTarget> = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        match parse_line(raw, file, line_no, defaults) {
            Ok(None) => {}
            Ok(Some(t)) => {
                if let Some(first) = seen.get(&t.key) {
                    let col = first_word_col(raw);
                    let len = raw.split_whitespace().next().map_or(1, |w| w.chars().count() as u32);
                    errors.push(
                        Diagnostic::new(file, Span { line: line_no, col, len }, format!("`{}` is listed twice", t.key))
                            .label("the same target as an earlier line")
                            .note(format!("first listed on line {first}; each target is audited once")),
                    );
                } else {
                    seen.insert(t.key.clone(), line_no);
                    out.push(t);
                }
            }
            Err(d) => errors.push(*d),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn first_word_col(raw: &str) -> u32 {
    raw.chars().take_while(|c| c.is_whitespace()).count() as u32 + 1
}

/// The words of a line with their 1-based columns, up to a `#` comment.
fn words(raw: &str) -> Vec<(u32, &str)> {
    let col_of = |byte: usize| raw[..byte].chars().count() as u32 + 1;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (b, c) in raw.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((col_of(s), &raw[s..b]));
                start = None;
            }
            (false, None) if c == '#' => return out,
            (false, None) => start = Some(b),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((col_of(s), &raw[s..]));
    }
    out
}

fn parse_line(raw: &str, file: &str, line: u32, d: LineDefaults) -> Result<Option<FleetTarget>, Box<Diagnostic>> {
    let ws = words(raw);
    let Some(&(url_col, url)) = ws.first() else { return Ok(None) };
    let at = |col: u32, word: &str| Span { line, col, len: word.chars().count() as u32 };
    let url_target = Target::parse(url).map_err(|e| {
        Diagnostic::new(file, at(url_col, url), format!("`{url}` is not a target URL: {}", e.why))
            .label("expected pop3://host[:port] or pop3s://host[:port]")
    })?;
    let mut vals: HashMap<&str, (u32, &str, &str)> = HashMap::new();
    for &(col, w) in &ws[1..] {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (w, None),
        };
        if !KEYS.contains(&k) {
            let mut diag = Diagnostic::new(file, at(col, w), format!("unknown word `{w}` after the target"))
                .label(EXPECTED.to_string());
            if let Some(m) = did_you_mean(k, KEYS) {
                diag = diag.help(format!("did you mean `{m}`?"));
            }
            return Err(Box::new(diag));
        }
        match (k, v) {
            ("no-implicit", Some(_)) => {
                return Err(Box::new(
                    Diagnostic::new(file, at(col, w), "`no-implicit` takes no value").label("write it alone"),
                ))
            }
            ("no-implicit", None) => {}
            (_, None) | (_, Some("")) => {
                return Err(Box::new(
                    Diagnostic::new(file, at(col, w), format!("`{k}` needs a value")).label(format!("{k}=...")),
                ))
            }
            _ => {}
        }
        if vals.insert(k, (col, w, v.unwrap_or(""))).is_some() {
            return Err(Box::new(Diagnostic::new(file, at(col, w), format!("`{k}` is given twice on this line"))));
        }
    }
    let port = |k: &str| -> Result<Option<u16>, Box<Diagnostic>> {
        match vals.get(k) {
            None => Ok(None),
            Some(&(col, w, v)) => v.parse::<u16>().ok().filter(|&p| p != 0).map(Some).ok_or_else(|| {
                Box::new(Diagnostic::new(file, at(col, w), format!("`{v}` is not a port")).label("expected 1-65535"))
            }),
        }
    };
    let (tls_port, plain_port) = (port("tls-port")?, port("plain-port")?);
    let no_implicit = vals.contains_key("no-implicit");
    let (plain, implicit) = match url_target.scheme {
        Scheme::Plain => {
            if let Some(&(col, w, _)) = vals.get("plain-port") {
                return Err(Box::new(
                    Diagnostic::new(file, at(col, w), "`plain-port` is for pop3s:// lines")
                        .label("the URL already names the plain port"),
                ));
            }
            if let (true, Some(&(col, w, _))) = (no_implicit, vals.get("tls-port")) {
                return Err(Box::new(Diagnostic::new(
                    file,
                    at(col, w),
                    "`tls-port` and `no-implicit` contradict each other",
                )));
            }
            let imp = (!(no_implicit || (d.no_implicit && tls_port.is_none())))
                .then(|| url_target.with(Scheme::ImplicitTls, tls_port.unwrap_or(d.tls_port)));
            (url_target.clone(), imp)
        }
        Scheme::ImplicitTls => {
            if let Some(&(col, w, _)) = vals.get("tls-port").or(vals.get("no-implicit")) {
                return Err(Box::new(
                    Diagnostic::new(file, at(col, w), format!("`{w}` is for pop3:// lines"))
                        .label("a pop3s:// URL names the implicit-TLS port itself"),
                ));
            }
            (url_target.with(Scheme::Plain, plain_port.unwrap_or(110)), Some(url_target.clone()))
        }
    };
    let user = vals.get("user").map(|v| v.2.to_string());
    let password_env = vals.get("password-env").map(|v| v.2.to_string());
    match (&user, &password_env) {
        (Some(_), None) => {
            let (col, w, _) = vals["user"];
            return Err(Box::new(
                Diagnostic::new(file, at(col, w), "`user=` needs `password-env=VAR` on the same line")
                    .label("passwords are read from the environment, never from this file"),
            ));
        }
        (None, Some(_)) => {
            let (col, w, _) = vals["password-env"];
            return Err(Box::new(Diagnostic::new(
                file,
                at(col, w),
                "`password-env=` needs `user=NAME` on the same line",
            )));
        }
        _ => {}
    }
    Ok(Some(FleetTarget { key: normalise(&url_target), line, plain, implicit, user, password_env }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<FleetTarget> {
        parse(text, "t.txt", LineDefaults::default()).unwrap()
    }

    fn err(text: &str) -> String {
        let d = parse(text, "t.txt", LineDefaults::default()).unwrap_err();
        d.iter().map(|d| d.render(text)).collect()
    }

    #[test]
    fn lines_comments_and_keys() {
        let t = ok("# fleet\n\n  pop3://Mail.Example.org.  # trailing comment\n\
                    pop3://10.0.0.7:1110 tls-port=1995 user=a password-env=PW\n\
                    pop3://[0:0::1]:2110 no-implicit\npop3s://pop.example.net plain-port=2110\n");
        assert_eq!(t.len(), 4);
        assert_eq!((t[0].key.as_str(), t[0].line), ("pop3://mail.example.org:110", 3));
        assert_eq!(t[0].implicit.as_ref().unwrap().to_string(), "pop3s://Mail.Example.org.:995");
        assert_eq!(t[1].implicit.as_ref().unwrap().port, 1995);
        assert_eq!((t[1].user.as_deref(), t[1].password_env.as_deref()), (Some("a"), Some("PW")));
        assert_eq!(t[2].key, "pop3://[::1]:2110");
        assert!(t[2].implicit.is_none());
        assert_eq!(t[3].plain.to_string(), "pop3://pop.example.net:2110");
        assert_eq!(t[3].key, "pop3s://pop.example.net:995");
    }

    #[test]
    fn defaults_apply_where_a_line_is_silent() {
        let d = LineDefaults { tls_port: 1995, no_implicit: true };
        let t = parse("pop3://a\npop3://b tls-port=2995\n", "t", d).unwrap();
        assert!(t[0].implicit.is_none());
        assert_eq!(t[1].implicit.as_ref().unwrap().port, 2995);
        let d = LineDefaults { tls_port: 1995, no_implicit: false };
        assert_eq!(parse("pop3://a\n", "t", d).unwrap()[0].implicit.as_ref().unwrap().port, 1995);
    }

    #[test]
    fn mistakes_name_file_line_and_what_was_expected() {
        let e = err("pop3://a\nimap://b\n");
        assert!(e.contains("--> t.txt:2:1") && e.contains("unknown scheme `imap`") && e.contains("pop3://host"), "{e}");
        let e = err("pop3://a user=x pasword-env=PW\n");
        assert!(e.contains("t.txt:1:17") && e.contains("did you mean `password-env`"), "{e}");
        assert!(e.contains("^^^^^^^^^^^^^^"), "{e}");
        assert!(err("pop3://a user=x\n").contains("needs `password-env=VAR`"));
        assert!(err("pop3://a password-env=X\n").contains("needs `user=NAME`"));
        assert!(err("pop3://a tls-port=99999\n").contains("not a port"));
        assert!(err("pop3://a tls-port=\n").contains("needs a value"));
        assert!(err("pop3://a no-implicit=yes\n").contains("takes no value"));
        assert!(err("pop3://a user=x user=y password-env=P\n").contains("given twice"));
        assert!(err("pop3s://a tls-port=1\n").contains("for pop3:// lines"));
        assert!(err("pop3://a plain-port=1\n").contains("for pop3s:// lines"));
        assert!(err("pop3://alice@a\n").contains("credentials do not belong"));
        let e = err("pop3://a\nPOP3://A:110\n");
        assert!(e.contains("t.txt:2:1") && e.contains("listed twice") && e.contains("line 1"), "{e}");
        // Every error of the file at once.
        let e = err("x\ny\n");
        assert!(e.contains("t.txt:1:1") && e.contains("t.txt:2:1"), "{e}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = err("pop3://a  #é\npop3://ä\u{3000}zz\n");
        // `ä` is a valid host; `zz` is the word after a full-width space, column 10.
        assert!(e.contains("t.txt:2:10"), "{e}");
    }
}
