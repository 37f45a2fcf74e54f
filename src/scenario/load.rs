//! Loader: YAML nodes → [`Scenario`], rejecting unknown keys and bad values with the position,
//! what was expected there and a did-you-mean. Every diagnostic of a file is collected (not just
//! the first), the way a compiler reports them.

use super::diag::{did_you_mean, Diagnostic, Span};
use super::model::*;
use super::template::{Part, Template};
use super::yaml::{self, Kind, Node};
use regex::Regex;
use std::path::Path;
use std::time::Duration;

/// Requirement ids of the catalogue (`pop3-requirements.md`).
pub const REQUIREMENTS: &[&str] = &[
    "1939-greeting",
    "1939-status-case",
    "1939-keyword-case",
    "1939-crlf",
    "1939-response-length",
    "1939-arg-length",
    "1939-unknown",
    "1939-wrong-state",
    "1939-multiline",
    // Beyond the catalogue: one response per command (RFC 1939 §3), broken by out-of-step data.
    "1939-one-reply",
    "1939-autologout",
    "1939-lock",
    "1939-quit-authorization",
    "1939-numbers",
    "1939-stat",
    "1939-list",
    "1939-retr",
    "1939-octets",
    "1939-dele",
    "1939-noop",
    "1939-rset",
    "1939-update",
    "1939-abort",
    "1939-top",
    "1939-uidl-format",
    "1939-uidl-unique",
    "1939-user",
    "1939-pass",
    "1939-apop-timestamp",
    "1939-apop-exclusive",
    "1939-minimal",
    "2449-capa",
    "2449-capa-line-length",
    "2449-capa-states",
    "2449-command-length",
    "2449-tags-true",
    "2449-capa-syntax",
    "2449-resp-codes",
    "2449-in-use",
    "2449-login-delay",
    "2449-pipelining",
    "2449-implementation",
    "2595-stls-capa",
    "2595-stls-state",
    "2595-stls-twice",
    "2595-capa-after-tls",
    "2595-handshake-next",
    "2595-discard-buffer",
    "2595-cleartext-configurable",
    "5034-state",
    "5034-challenge",
    "5034-cancel",
    "5034-bad-base64",
    "5034-initial-response",
    "5034-unknown-mech",
    "5034-line-length",
    "3206-sys",
    "3206-auth",
    "6856-utf8",
    "6856-lang",
    "8314-implicit-tls",
    "8314-tls-versions",
    "8314-close",
    "7817-identity",
    "A01",
    "A02",
    "A03",
    "A04",
    "A05",
    "A06",
    "A07",
    "A08",
    "A09",
    "A10",
    "A11",
    "A12",
    "A13",
    "A14",
    "A15",
    "A16",
];

const TOP_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "requirements",
    "rfc",
    "tags",
    "requires",
    "destructive",
    "skip",
    "xfail",
    "timeout",
    "steps",
];
const ACTIONS: &[&str] = &[
    "connect",
    "reconnect",
    "send",
    "send_raw",
    "read",
    "pipeline",
    "stls",
    "upgrade",
    "login",
    "capa",
    "quit",
    "disconnect",
    "closed",
    "silence",
    "state",
    "set",
    "for_each",
];
const COMMON: &[&str] = &["on", "expect", "capture", "requirement", "rfc", "note", "timeout", "multiline", "frame"];
const EXPECT_KEYS: &[&str] = &[
    "status",
    "text",
    "code",
    "lines",
    "each_line",
    "some_line",
    "no_line",
    "body",
    "message_body",
    "body_equals",
    "octets",
    "capability",
    "no_capability",
];
const CAPA_TAGS: &[&str] = &[
    "CAPA",
    "TOP",
    "USER",
    "SASL",
    "RESP-CODES",
    "LOGIN-DELAY",
    "PIPELINING",
    "EXPIRE",
    "UIDL",
    "IMPLEMENTATION",
    "STLS",
    "AUTH-RESP-CODE",
    "UTF8",
    "LANG",
];
/// Variables every scenario has.
pub const BUILTIN_VARS: &[&str] =
    &["user", "password", "timestamp", "apop_digest", "mail", "seed", "empty_user", "empty_password"];
/// Default bound on one scenario.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads a scenario from text. `expected_name` is the name its path implies, when known.
pub fn load_str(file: &str, text: &str, expected_name: Option<&str>) -> Result<Scenario, Vec<Diagnostic>> {
    let root = yaml::parse(file, text).map_err(|d| vec![*d])?;
    let mut cx = Ctx {
        file,
        text,
        diags: Vec::new(),
        vars: Vec::new(),
        conns: Vec::new(),
        sends_dele: None,
        commits_dele: None,
    };
    let scenario = cx.scenario(&root, expected_name);
    match scenario {
        Some(s) if cx.diags.is_empty() => Ok(s),
        _ => Err(cx.diags),
    }
}

/// The name a path implies: what follows the last `scenarios/` component, without `.yaml`.
pub fn name_from_path(path: &Path) -> Option<String> {
    let text = path.to_string_lossy().replace('\\', "/");
    let idx = text.rfind("scenarios/")?;
    let rest = &text[idx + "scenarios/".len()..];
    rest.strip_suffix(".yaml").or_else(|| rest.strip_suffix(".yml")).map(str::to_string)
}

struct Ctx<'a> {
    file: &'a str,
    /// The file's text, to place carets inside a value.
    text: &'a str,
    diags: Vec<Diagnostic>,
    /// Variables defined so far (in step order); `(name, is_listing)`.
    vars: Vec<(String, bool)>,
    conns: Vec<String>,
    sends_dele: Option<Span>,
    /// A QUIT after a DELE: the session reaches UPDATE and mail is removed (RFC 1939 §6).
    commits_dele: Option<Span>,
}

type Entries<'n> = Vec<(&'n str, &'n Node, &'n Node)>;

impl<'a> Ctx<'a> {
    fn d(&self, span: Span, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.file, span, msg)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.push(self.d(span, msg));
    }

    /// An error with a label and, when a close candidate exists, a did-you-mean.
    fn err_hint(&mut self, span: Span, msg: impl Into<String>, label: impl Into<String>, hint: Option<&str>) {
        let d = self.d(span, msg).label(label);
        let d = match hint {
            Some(h) => d.help(format!("did you mean `{h}`?")),
            None => d,
        };
        self.push(d);
    }

    /// A mapping's entries, with unknown and duplicate keys reported.
    fn map<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Entries<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.push(
                self.d(node.span, format!("expected {what} (a mapping), found {}", node.describe()))
                    .label(format!("expected {what}")),
            );
            return None;
        };
        let mut out: Entries<'n> = Vec::new();
        for (k, v) in entries {
            let Some(key) = k.as_str() else {
                self.err(k.span, "keys must be plain words");
                continue;
            };
            if out.iter().any(|(seen, _, _)| *seen == key) {
                self.err(k.span, format!("duplicate key `{key}` in {what}"));
                continue;
            }
            if !allowed.contains(&key) {
                let hint = did_you_mean(key, allowed.iter().copied());
                self.err_hint(k.span, format!("unknown key `{key}` in {what}"), format!("not a key of {what}"), hint);
                let note = format!("expected one of: {}", allowed.join(", "));
                if let Some(d) = self.diags.pop() {
                    self.push(d.note(note));
                }
                continue;
            }
            out.push((key, k, v));
        }
        Some(out)
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar { value, .. } => Some(value.clone()),
            _ => {
                self.push(
                    self.d(node.span, format!("expected {what}, found {}", node.describe()))
                        .label(format!("expected {what}")),
                );
                None
            }
        }
    }

    /// A list of strings; a single scalar counts as a one-item list.
    fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        match &node.kind {
            Kind::Seq(items) => items.iter().filter_map(|n| self.string(n, what).map(|s| (s, n.span))).collect(),
            Kind::Scalar { value, .. } => vec![(value.clone(), node.span)],
            _ => {
                self.err(node.span, format!("expected a list of {what}, found {}", node.describe()));
                Vec::new()
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.as_str() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                self.push(self.d(node.span, format!("`{what}` must be true or false")).label("expected true or false"));
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let s = self.string(node, &format!("a duration for `{what}`"))?;
        match humantime::parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(
                    self.d(node.span, format!("`{s}` is not a duration: {e}")).label("expected e.g. 500ms, 2s, 1m"),
                );
                None
            }
        }
    }

    /// One of fixed words, with a did-you-mean.
    fn word<'w>(&mut self, node: &Node, what: &str, words: &[&'w str]) -> Option<&'w str> {
        let s = self.string(node, what)?;
        if let Some(w) = words.iter().find(|w| w.eq_ignore_ascii_case(&s)) {
            return Some(w);
        }
        let hint = did_you_mean(&s, words.iter().copied());
        self.err_hint(
            node.span,
            format!("`{s}` is not a valid {what}"),
            format!("expected {}", words.join(", ")),
            hint,
        );
        None
    }

    fn template(&mut self, node: &Node, what: &str) -> Option<Template> {
        let s = self.string(node, what)?;
        self.template_of(&s, node.span)
    }

    fn template_of(&mut self, s: &str, span: Span) -> Option<Template> {
        match Template::parse(s) {
            Ok(t) => {
                self.check_vars(&t, span);
                Some(t)
            }
            Err((_, msg)) => {
                self.err(span, format!("bad variable reference: {msg}"));
                None
            }
        }
    }

    fn check_vars(&mut self, t: &Template, span: Span) {
        for p in &t.parts {
            let Part::Var { name, field, .. } = p else { continue };
            match self.vars.iter().find(|(v, _)| v == name) {
                Some((_, true)) if field.as_deref() != Some("count") => {
                    self.err(
                        span,
                        format!("`{name}` is a listing: iterate it with for_each, or use `${{{name}.count}}`"),
                    );
                }
                Some(_) => {}
                None => {
                    let names: Vec<String> = self.vars.iter().map(|(v, _)| v.clone()).collect();
                    let hint = did_you_mean(name, names.iter().map(String::as_str));
                    self.err_hint(span, format!("undefined variable `{name}`"), "not set by any earlier step", hint);
                }
            }
        }
    }

    fn pattern(&mut self, node: &Node, what: &str) -> Option<Pattern> {
        let template = self.template(node, what)?;
        // Validate with every variable replaced by a harmless literal, so the error points here.
        let probe: String = template
            .parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.as_str(),
                Part::Var { .. } => "x",
            })
            .collect();
        match Regex::new(&probe) {
            Ok(re) => {
                let has_vars = template.names().next().is_some();
                Some(Pattern { compiled: (!has_vars).then_some(re), template })
            }
            Err(e) => {
                let detail = e.to_string();
                let last = detail.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim();
                let why = last.strip_prefix("error: ").unwrap_or(last).to_string();
                let span = self.regex_error_span(node, &probe, &detail);
                self.push(self.d(span, format!("invalid regex in `{what}`: {why}")).label(why));
                None
            }
        }
    }

    /// Where inside the regex the error is: the regex crate draws carets under the pattern;
    /// their offset moves the span there when the pattern sits verbatim on one source line.
    fn regex_error_span(&self, node: &Node, pattern: &str, detail: &str) -> Span {
        let mut lines = detail.lines().skip_while(|l| l.trim() != pattern.trim()).skip(1);
        let Some(carets) = lines.next() else { return node.span };
        let indent = detail.lines().find(|l| l.trim() == pattern.trim()).map_or(0, |l| l.len() - l.trim_start().len());
        let Some(start) = carets.find('^') else { return node.span };
        let width = carets.trim().chars().count().max(1) as u32;
        let Some(line) = self.text.lines().nth(node.span.line.saturating_sub(1) as usize) else { return node.span };
        let from = node.span.col as usize - 1;
        let quoted = line[line.char_indices().nth(from).map_or(line.len(), |(i, _)| i)..].starts_with(['\'', '"']);
        let col = node.span.col + u32::from(quoted) + start.saturating_sub(indent) as u32;
        if line.contains(pattern) && !pattern.contains('\n') {
            Span { line: node.span.line, col, len: width }
        } else {
            node.span
        }
    }

    fn scenario(&mut self, root: &Node, expected_name: Option<&str>) -> Option<Scenario> {
        let entries = self.map(root, "a scenario", TOP_KEYS)?;
        let get = |k: &str| entries.iter().find(|(key, _, _)| *key == k).map(|(_, _, v)| *v);
        let mut missing = Vec::new();
        for k in ["name", "title", "requirements", "rfc", "steps"] {
            if get(k).is_none() {
                missing.push(k);
            }
        }
        if !missing.is_empty() {
            let list = missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            let plural = if missing.len() > 1 { "s" } else { "" };
            let d = self.d(root.span, format!("missing required key{plural} {list}"));
            self.push(d.label("in this scenario").note("a scenario needs name, title, requirements, rfc and steps"));
        }
        let name = get("name").and_then(|n| {
            let s = self.string(n, "the scenario name")?;
            let ok = Regex::new(r"^[a-z0-9]+(/[a-z0-9][a-z0-9._-]*)+$").expect("static regex").is_match(&s);
            if !ok {
                let d = self.d(n.span, format!("`{s}` is not a scenario name"));
                self.push(d.label("expected e.g. rfc1939/retr-byte-stuffing"));
            } else if let Some(exp) = expected_name.filter(|e| *e != s) {
                let d = self.d(n.span, format!("the name `{s}` does not match the file's path"));
                self.push(
                    d.label(format!("expected `{exp}`"))
                        .help(format!("rename the scenario to `{exp}` or move the file")),
                );
            }
            Some(s)
        });
        let title = get("title").and_then(|n| self.string(n, "a one-line title"));
        let description = get("description").and_then(|n| self.string(n, "a description"));
        let mut requirements = Vec::new();
        for (r, span) in get("requirements").map(|n| self.strings(n, "requirement ids")).unwrap_or_default() {
            if !REQUIREMENTS.contains(&r.as_str()) {
                let hint = did_you_mean(&r, REQUIREMENTS.iter().copied());
                self.err_hint(span, format!("unknown requirement id `{r}`"), "not in the requirements catalogue", hint);
            }
            requirements.push(r);
        }
        let rfc_re = Regex::new(r"^RFC \d{4} §[0-9A-Za-z.]+$").expect("static regex");
        let mut rfc = Vec::new();
        for (r, span) in get("rfc").map(|n| self.strings(n, "RFC sections")).unwrap_or_default() {
            if !rfc_re.is_match(&r) {
                self.push(
                    self.d(span, format!("`{r}` is not an RFC section reference"))
                        .label("expected e.g. \"RFC 1939 §3\""),
                );
            }
            rfc.push(r);
        }
        let tags = get("tags").map(|n| self.strings(n, "tags")).unwrap_or_default().into_iter().map(|t| t.0).collect();
        let mut destructive = get("destructive").and_then(|n| self.boolean(n, "destructive")).unwrap_or(false);
        let requires = get("requires").map(|n| self.needs(n)).unwrap_or_default();
        if requires.contains(&Need::Destructive) {
            destructive = true;
        }
        let skip = get("skip").and_then(|n| self.string(n, "a reason to skip"));
        let xfail = get("xfail").and_then(|n| self.string(n, "a reason it is expected to fail"));
        let timeout = get("timeout").and_then(|n| self.duration(n, "timeout")).unwrap_or(DEFAULT_TIMEOUT);
        for v in BUILTIN_VARS {
            self.vars.push((v.to_string(), false));
        }
        let steps = match get("steps") {
            Some(n) => self.steps(n),
            None => Vec::new(),
        };
        if let Some(n) = get("steps") {
            if steps.is_empty() && self.diags.is_empty() {
                self.err(n.span, "a scenario needs at least one step");
            }
        }
        // Only UPDATE removes mail, and only QUIT enters it (RFC 1939 §6): DELE then a drop of the
        // connection (`disconnect`, or the end of the scenario) changes nothing.
        if let (Some(span), false) = (self.commits_dele, destructive) {
            let d = self.d(span, "this scenario sends QUIT after DELE (mail is removed) but is not marked destructive");
            self.push(d.help(
                "add `destructive: true`: it then runs only with --destructive and a way to restore the maildrop; \
                 or end with `disconnect` instead of QUIT, which deletes nothing (RFC 1939 §6)",
            ));
        }
        let mut requires = requires;
        if destructive && !requires.contains(&Need::Destructive) {
            requires.push(Need::Destructive);
        }
        Some(Scenario {
            name: name?,
            title: title?,
            description,
            requirements,
            rfc,
            tags,
            requires,
            destructive,
            skip,
            xfail,
            timeout,
            steps,
            file: self.file.to_string(),
            span: root.span,
        })
    }

    fn needs(&mut self, node: &Node) -> Vec<Need> {
        let mut out = Vec::new();
        for (s, span) in self.strings(node, "requirements of the run") {
            let need = match s.as_str() {
                "credentials" => Need::Credentials,
                "destructive" => Need::Destructive,
                "implicit-tls" => Need::ImplicitTls,
                "APOP" => Need::Apop,
                _ if crate::inventory::DataNeed::parse(&s).is_some() => {
                    Need::Data(crate::inventory::DataNeed::parse(&s).expect("checked"))
                }
                _ if s.starts_with("SASL ") && s.len() > 5 => Need::Sasl(s[5..].trim().to_ascii_uppercase()),
                _ if CAPA_TAGS.contains(&s.as_str()) || s.starts_with("X-") => Need::Capability(s.clone()),
                _ => {
                    let mut words = vec![
                        "credentials",
                        "destructive",
                        "implicit-tls",
                        "APOP",
                        "SASL PLAIN",
                        "seed",
                        "empty-account",
                        "maildrop-lock",
                        "messages 1",
                        "message dot-lines",
                        "message empty-body",
                        "message 8bit",
                        "message long-line",
                        "message large",
                        "message long-body",
                    ];
                    words.extend_from_slice(CAPA_TAGS);
                    let upper = s.to_ascii_uppercase();
                    let hint =
                        did_you_mean(&s, words.iter().copied()).or_else(|| words.iter().copied().find(|w| *w == upper));
                    let label = "expected credentials, destructive, implicit-tls, APOP, SASL MECH, a CAPA tag, seed, \
                                 messages N, message FEATURE, empty-account or maildrop-lock";
                    self.err_hint(span, format!("unknown requirement `{s}` in `requires`"), label, hint);
                    continue;
                }
            };
            out.push(need);
        }
        out
    }

    fn steps(&mut self, node: &Node) -> Vec<Step> {
        let Kind::Seq(items) = &node.kind else {
            let d = self.d(node.span, format!("`steps` must be a list of steps, found {}", node.describe()));
            self.push(d.label("expected a list (lines starting with `- `)"));
            return Vec::new();
        };
        items.iter().filter_map(|n| self.step(n)).collect()
    }
}

#[path = "load_step.rs"]
mod load_step;

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
