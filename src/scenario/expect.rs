//! Expectations on one reply and captures from it. Pure functions of the reply and the variables,
//! so they are unit-tested on hand-made responses.

use crate::proto::{Capabilities, Response, Status};
use crate::scenario::diag::Span;
use crate::scenario::model::{Capture, CaptureFrom, ExpectKind, ExpectSet, Pattern, Want};
use crate::scenario::template::{Row, Template, Value, Vars};
use regex::Regex;

/// An expectation the reply did not meet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mismatch {
    pub span: Span,
    pub what: String,
    pub expected: String,
    pub actual: String,
}

/// The expectation is wrong in itself (an undefined variable, a regex that only breaks once
/// expanded): a scenario error, not a server failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Broken {
    pub span: Span,
    pub message: String,
}

pub(crate) enum Problem {
    Mismatch(Mismatch),
    Broken(Broken),
    /// The reply is larger than the tester keeps for comparison (`Limits::max_kept`): its content
    /// cannot be judged. Not the server's fault, and not the scenario's.
    TooLarge(String),
}

/// The content of `body` when all of it was kept, else why it cannot be compared.
/// The header lines of a message and the empty line that ends them (RFC 5322 §2.1); the whole
/// message when it has no empty line.
fn header_section(message: &[u8]) -> &[u8] {
    let mut at = 0;
    for line in message.split_inclusive(|&b| b == b'\n') {
        at += line.len();
        if line == b"\r\n" || line == b"\n" {
            return &message[..at];
        }
    }
    message
}

fn whole(body: &crate::proto::Body) -> Result<&crate::proto::Body, Problem> {
    if body.truncated {
        return Err(Problem::TooLarge(format!(
            "the body is {} octets, more than the {} the tester keeps to compare (only its size and line count \
             are judged); raise --max-kept to compare it",
            body.octets,
            body.data.len()
        )));
    }
    Ok(body)
}

fn regex_of(p: &Pattern, vars: &Vars, span: Span) -> Result<Regex, Problem> {
    if let Some(re) = &p.compiled {
        return Ok(re.clone());
    }
    let src = p.template.expand_with(vars, regex::escape).map_err(|m| broken(span, m))?;
    Regex::new(&src).map_err(|e| broken(span, format!("regex `{}` is invalid once expanded: {e}", p.source())))
}

fn broken(span: Span, message: String) -> Problem {
    Problem::Broken(Broken { span, message })
}

fn number(t: &Template, vars: &Vars, span: Span) -> Result<u64, Problem> {
    let s = t.expand(vars).map_err(|m| broken(span, m))?;
    s.trim().parse().map_err(|_| broken(span, format!("`{}` is `{s}`, not a number", t.source)))
}

/// Bytes ↔ a string with one char per octet (U+0000–U+00FF): lossless for any body.
pub(crate) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// The octets a string stands for: characters up to U+00FF are one octet each, others UTF-8.
pub(crate) fn octets_of(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) <= 0xff {
            out.push(c as u32 as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

fn short(s: &str) -> String {
    crate::transcript::printable(s.as_bytes(), 200)
}

/// Checks every expectation of `set` against `resp`.
pub(crate) fn check(set: &ExpectSet, resp: &Response, vars: &Vars) -> Result<(), Problem> {
    let status_line = super::track::status_line(resp);
    let lines: Vec<String> = match &resp.body {
        Some(b) => b.lines().map(|l| String::from_utf8_lossy(l).into_owned()).collect(),
        None => Vec::new(),
    };
    for e in &set.items {
        let mism = |what: String, expected: String, actual: String| {
            Err(Problem::Mismatch(Mismatch { span: e.span, what, expected, actual }))
        };
        let need_body = || -> Result<&crate::proto::Body, Problem> {
            resp.body.as_ref().ok_or_else(|| {
                Problem::Mismatch(Mismatch {
                    span: e.span,
                    what: "the reply has no multi-line body".into(),
                    expected: "+OK and a multi-line body".into(),
                    actual: status_line.clone(),
                })
            })
        };
        match &e.kind {
            ExpectKind::Status(w) => {
                let got = match resp.status {
                    Status::Ok => Want::Ok,
                    Status::Err => Want::Err,
                    Status::Continue => Want::Continue,
                    Status::Unknown => {
                        return mism("the reply has no status indicator".into(), w.as_str().into(), status_line)
                    }
                };
                if got != *w {
                    return mism(
                        format!("expected {}, got {}", w.as_str(), got.as_str()),
                        w.as_str().into(),
                        status_line,
                    );
                }
            }
            ExpectKind::Text(p) => {
                let re = regex_of(p, vars, e.span)?;
                if !re.is_match(&resp.text) {
                    return mism("the reply text does not match".into(), format!("text matching /{re}/"), status_line);
                }
            }
            ExpectKind::Code(want) => match (want, &resp.code) {
                (Some(w), Some(c)) if c.is(w) => {}
                (None, None) => {}
                (Some(w), _) => {
                    return mism(format!("expected the response code [{w}]"), format!("[{w}]"), status_line);
                }
                (None, Some(c)) => {
                    return mism(format!("expected no response code, got {c}"), "no code".into(), status_line)
                }
            },
            ExpectKind::Lines(t) => {
                let n = number(t, vars, e.span)?;
                let body = need_body()?;
                if body.lines as u64 != n {
                    return mism(
                        format!("the body has {} lines, expected {n}", body.lines),
                        format!("{n} lines"),
                        format!("{} lines", body.lines),
                    );
                }
            }
            ExpectKind::EachLine(p) => {
                let re = regex_of(p, vars, e.span)?;
                whole(need_body()?)?;
                if let Some((i, l)) = lines.iter().enumerate().find(|(_, l)| !re.is_match(l)) {
                    return mism(
                        format!("body line {} does not match", i + 1),
                        format!("every line matching /{re}/"),
                        short(l),
                    );
                }
            }
            ExpectKind::SomeLine(p) => {
                let re = regex_of(p, vars, e.span)?;
                whole(need_body()?)?;
                if !lines.iter().any(|l| re.is_match(l)) {
                    return mism(
                        "no body line matches".into(),
                        format!("a line matching /{re}/"),
                        format!("{} lines, none matching", lines.len()),
                    );
                }
            }
            ExpectKind::NoLine(p) => {
                let re = regex_of(p, vars, e.span)?;
                whole(need_body()?)?;
                if let Some((i, l)) = lines.iter().enumerate().find(|(_, l)| re.is_match(l)) {
                    return mism(format!("body line {} matches", i + 1), format!("no line matching /{re}/"), short(l));
                }
            }
            ExpectKind::Body(want) | ExpectKind::MessageBody(want) => {
                whole(need_body()?)?;
                // `message_body` compares what follows the header's blank line: delivery (LMTP,
                // SMTP) adds header fields, never body lines.
                let (lines, what) = match &e.kind {
                    ExpectKind::MessageBody(_) => {
                        let body = match lines.iter().position(|l| l.is_empty()) {
                            Some(blank) => &lines[blank + 1..],
                            None => &lines[lines.len()..],
                        };
                        // Trailing empty lines aside: mbox stores end each message with one,
                        // which some servers (solid-pop3d) serve as part of the message.
                        let keep = body.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
                        (&body[..keep], "message body")
                    }
                    _ => (&lines[..], "body"),
                };
                let want: &[String] = match &e.kind {
                    ExpectKind::MessageBody(_) => {
                        let keep = want.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
                        &want[..keep]
                    }
                    _ => want,
                };
                for (i, w) in want.iter().enumerate() {
                    match lines.get(i) {
                        Some(l) if l == w => {}
                        Some(l) => return mism(format!("{what} line {} differs", i + 1), short(w), short(l)),
                        None => {
                            return mism(
                                format!("the {what} ends after {} lines", lines.len()),
                                short(w),
                                format!("end of {what}"),
                            )
                        }
                    }
                }
                if lines.len() > want.len() {
                    return mism(
                        format!("the {what} has {} lines, expected {}", lines.len(), want.len()),
                        format!("end of {what}"),
                        short(&lines[want.len()]),
                    );
                }
            }
            ExpectKind::BodyEquals(t) => {
                let want = octets_of(&t.expand(vars).map_err(|m| broken(e.span, m))?);
                let got = &whole(need_body()?)?.data;
                if *got != want {
                    let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
                    let around =
                        |b: &[u8]| crate::transcript::printable(&b[at.saturating_sub(20)..b.len().min(at + 40)], 120);
                    return mism(
                        format!(
                            "the body differs from `{}` at octet {at} ({} vs {} octets)",
                            t.source,
                            got.len(),
                            want.len()
                        ),
                        around(&want),
                        around(got),
                    );
                }
            }
            ExpectKind::Octets(t) => {
                let n = number(t, vars, e.span)?;
                let got = need_body()?.octets;
                if got != n {
                    return mism(
                        format!("the unstuffed body is {got} octets, expected {n}"),
                        format!("{n} octets"),
                        format!("{got} octets"),
                    );
                }
            }
            ExpectKind::Capability(list) | ExpectKind::NoCapability(list) => {
                let body = need_body()?;
                let caps = Capabilities::parse(body.lines()).0;
                let want_present = matches!(e.kind, ExpectKind::Capability(_));
                for c in list {
                    let has = match c.strip_prefix("SASL ") {
                        Some(m) => caps.has_sasl(m.trim()),
                        None => caps.has(c),
                    };
                    if has != want_present {
                        let what = if want_present { format!("{c} is not listed") } else { format!("{c} is listed") };
                        let exp = if want_present { format!("{c} listed") } else { format!("{c} not listed") };
                        return mism(what, exp, caps.lines.join(" | "));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies one capture to `vars`.
pub(crate) fn capture(c: &Capture, resp: &Response, vars: &mut Vars) -> Result<(), Problem> {
    let group = |re: &Regex, s: &str| -> Option<(String, Row)> {
        let caps = re.captures(s)?;
        let mut row = Row::new();
        row.insert("line".into(), s.to_string());
        for (i, m) in caps.iter().enumerate().skip(1) {
            if let Some(m) = m {
                row.insert(i.to_string(), m.as_str().to_string());
            }
        }
        for name in re.capture_names().flatten() {
            if let Some(m) = caps.name(name) {
                row.insert(name.to_string(), m.as_str().to_string());
            }
        }
        let first = caps.get(1).or_else(|| caps.get(0)).map(|m| m.as_str().to_string()).unwrap_or_default();
        Some((first, row))
    };
    let miss = |what: String, actual: String| {
        Err(Problem::Mismatch(Mismatch {
            span: c.span,
            what,
            expected: format!("a reply `{}` can read", c.var),
            actual,
        }))
    };
    let lines: Vec<String> = match &resp.body {
        Some(b) => b.lines().map(|l| String::from_utf8_lossy(l).into_owned()).collect(),
        None => Vec::new(),
    };
    match c.from {
        CaptureFrom::Body => match &resp.body {
            Some(b) => vars.set_str(&c.var, latin1(&whole(b)?.data)),
            None => return miss("the reply has no body to capture".into(), super::track::status_line(resp)),
        },
        CaptureFrom::Header => match &resp.body {
            Some(b) => vars.set_str(&c.var, latin1(header_section(&whole(b)?.data))),
            None => return miss("the reply has no body to capture".into(), super::track::status_line(resp)),
        },
        CaptureFrom::Text | CaptureFrom::Line | CaptureFrom::Lines => {
            let Some(p) = &c.regex else { return Ok(()) };
            let re = regex_of(p, vars, c.span)?;
            match c.from {
                CaptureFrom::Text => match group(&re, &resp.text) {
                    Some((v, _)) => vars.set_str(&c.var, v),
                    None => {
                        return miss(
                            format!("capture `{}`: /{re}/ does not match the reply text", c.var),
                            super::track::status_line(resp),
                        )
                    }
                },
                CaptureFrom::Line => match lines.iter().find_map(|l| group(&re, l)) {
                    Some((v, _)) => vars.set_str(&c.var, v),
                    None => {
                        return miss(
                            format!("capture `{}`: no body line matches /{re}/", c.var),
                            format!("{} lines", lines.len()),
                        )
                    }
                },
                _ => {
                    let rows = lines.iter().filter_map(|l| group(&re, l).map(|g| g.1)).collect();
                    vars.set(&c.var, Value::Rows(rows));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Body;
    use crate::scenario::model::Expectation;

    fn resp(status: Status, text: &str, body: Option<&[u8]>) -> Response {
        Response {
            status,
            code: crate::proto::RespCode::parse_prefix(text),
            text: text.into(),
            body: body.map(|b| Body::whole(b.to_vec(), b.iter().filter(|&&c| c == b'\n').count())),
            violations: Vec::new(),
            wire_len: 0,
        }
    }

    fn set(kinds: Vec<ExpectKind>) -> ExpectSet {
        ExpectSet {
            span: Span::default(),
            items: kinds.into_iter().map(|kind| Expectation { span: Span::default(), kind }).collect(),
        }
    }

    fn pat(s: &str) -> Pattern {
        Pattern { template: Template::parse(s).unwrap(), compiled: Regex::new(s).ok().filter(|_| !s.contains("${")) }
    }

    #[test]
    fn status_text_code_and_octets() {
        let vars = Vars::default();
        let r = resp(Status::Err, "[IN-USE] locked", None);
        assert!(check(&set(vec![ExpectKind::Status(Want::Err), ExpectKind::Code(Some("in-use".into()))]), &r, &vars)
            .is_ok());
        assert!(check(&set(vec![ExpectKind::Status(Want::Ok)]), &r, &vars).is_err());
        let r = resp(Status::Ok, "", Some(b"a\r\nb\r\n"));
        let ok = set(vec![
            ExpectKind::Octets(Template::literal("6")),
            ExpectKind::Lines(Template::literal("2")),
            ExpectKind::EachLine(pat("^[ab]$")),
        ]);
        assert!(check(&ok, &r, &vars).is_ok());
        let Err(Problem::Mismatch(m)) = check(&set(vec![ExpectKind::Octets(Template::literal("7"))]), &r, &vars) else {
            panic!()
        };
        assert_eq!(m.actual, "6 octets");
        assert!(check(&set(vec![ExpectKind::Body(vec!["a".into(), "b".into()])]), &r, &vars).is_ok());
        assert!(check(&set(vec![ExpectKind::Body(vec!["a".into()])]), &r, &vars).is_err());
    }

    #[test]
    fn header_section_ends_at_the_first_empty_line() {
        assert_eq!(header_section(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n"), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(header_section(b"A: 1\r\n\r\n"), b"A: 1\r\n\r\n");
        assert_eq!(header_section(b"A: 1\r\n\r\n\r\n"), b"A: 1\r\n\r\n");
        assert_eq!(header_section(b"A: 1\r\nno blank line"), b"A: 1\r\nno blank line");
        assert_eq!(header_section(b""), b"");
    }

    #[test]
    fn captures_text_lines_and_body_losslessly() {
        let mut vars = Vars::default();
        let r = resp(Status::Ok, "2 320", Some(b"1 120\r\n2 200\r\n"));
        capture(
            &Capture { span: Span::default(), var: "n".into(), from: CaptureFrom::Text, regex: Some(pat(r"^(\d+) ")) },
            &r,
            &mut vars,
        )
        .ok()
        .unwrap();
        let lines = Capture {
            span: Span::default(),
            var: "m".into(),
            from: CaptureFrom::Lines,
            regex: Some(pat(r"^(?P<num>\d+) (?P<size>\d+)$")),
        };
        capture(&lines, &r, &mut vars).ok().unwrap();
        let Some(Value::Rows(rows)) = vars.get("m") else { panic!() };
        assert_eq!(rows[1]["size"], "200");
        assert_eq!(Template::parse("${n}").unwrap().expand(&vars).unwrap(), "2");
        let r = resp(Status::Ok, "", Some(b"caf\xe9\r\n"));
        capture(
            &Capture { span: Span::default(), var: "b".into(), from: CaptureFrom::Body, regex: None },
            &r,
            &mut vars,
        )
        .ok()
        .unwrap();
        assert!(check(&set(vec![ExpectKind::BodyEquals(Template::parse("${b}").unwrap())]), &r, &vars).is_ok());
    }
}
