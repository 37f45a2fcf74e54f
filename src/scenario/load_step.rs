//! Loading one step: its action, the common keys, expectations and captures. Part of
//! [`super`] (the loader); split out to keep each file readable.

use super::*;

impl Ctx<'_> {
    pub(super) fn step(&mut self, node: &Node) -> Option<Step> {
        let mut allowed: Vec<&str> = ACTIONS.to_vec();
        allowed.extend_from_slice(COMMON);
        let entries = self.map(node, "a step", &allowed)?;
        let actions: Vec<_> = entries.iter().filter(|(k, _, _)| ACTIONS.contains(k)).collect();
        let Some(&&(keyword, key_node, value)) = actions.first() else {
            let d = self.d(node.span, "this step has no action");
            self.push(d.label("expected one of the actions").note(format!("actions: {}", ACTIONS.join(", "))));
            return None;
        };
        if let Some((second, k2, _)) = actions.get(1) {
            let d =
                self.d(k2.span, format!("a step has exactly one action, but `{keyword}` and `{second}` are both here"));
            self.push(d.label("second action").help("split it into two steps"));
            return None;
        }
        let get = |k: &str| entries.iter().find(|(key, _, _)| *key == k).map(|(_, _, v)| *v);
        let mut on = match get("on") {
            Some(n) => self.string(n, "a connection name")?,
            None => "main".to_string(),
        };
        for (extra, only) in [("multiline", "send"), ("frame", "send_raw")] {
            if let Some((_, k, _)) = entries.iter().find(|(key, _, _)| *key == extra) {
                if keyword != only {
                    let d = self.d(k.span, format!("`{extra}` belongs to a `{only}` step, not `{keyword}`"));
                    self.push(d.label("not a key of this step"));
                }
            }
        }
        let action = self.action(keyword, key_node, value, &mut on, get("multiline"), get("frame"))?;
        self.check_connection(&action, &on, key_node.span);
        let explicit_expect = get("expect").is_some();
        let replies = match &action {
            Action::Pipeline(cmds) => cmds.len(),
            _ => 1,
        };
        let expect = match get("expect") {
            Some(n) => {
                if !produces_reply(&action) {
                    let d = self.d(n.span, format!("a `{keyword}` step gets no reply, so it takes no `expect`"));
                    self.push(d.label("nothing to check here"));
                }
                self.expect_sets(n, replies)
            }
            None => Vec::new(),
        };
        let capture = match get("capture") {
            Some(n) => self.captures(n),
            None => Vec::new(),
        };
        let requirement = get("requirement").and_then(|n| {
            let r = self.string(n, "a requirement id")?;
            if !REQUIREMENTS.contains(&r.as_str()) {
                let hint = did_you_mean(&r, REQUIREMENTS.iter().copied());
                self.err_hint(
                    n.span,
                    format!("unknown requirement id `{r}`"),
                    "not in the requirements catalogue",
                    hint,
                );
            }
            Some(r)
        });
        let rfc = get("rfc").and_then(|n| self.string(n, "an RFC section"));
        let note = get("note").and_then(|n| self.string(n, "a note"));
        let timeout = get("timeout").and_then(|n| self.duration(n, "timeout"));
        Some(Step {
            span: key_node.span,
            action,
            on,
            expect,
            explicit_expect,
            capture,
            requirement,
            rfc,
            note,
            timeout,
        })
    }

    fn check_connection(&mut self, action: &Action, on: &str, span: Span) {
        match action {
            Action::Connect { reconnect: false, .. } => {
                if !self.conns.iter().any(|c| c == on) {
                    self.conns.push(on.to_string());
                }
            }
            Action::Set(_) | Action::ForEach { .. } => {}
            _ => {
                if !self.conns.iter().any(|c| c == on) {
                    let d = self.d(span, format!("connection `{on}` is not open at this step"));
                    let how = if on == "main" { "- connect:".to_string() } else { format!("- connect: {on}") };
                    self.push(d.label("no earlier `connect` opens it").help(format!("add `{how}` before this step")));
                }
            }
        }
    }

    fn no_value(&mut self, keyword: &str, value: &Node) {
        let empty_map = matches!(&value.kind, Kind::Map(m) if m.is_empty());
        if !value.is_null() && !empty_map {
            let d = self.d(value.span, format!("`{keyword}` takes no value"));
            self.push(d.label(format!("write just `- {keyword}:`")));
        }
    }

    /// Notes DELE and a QUIT after it (see `commits_dele`), in each line sent.
    fn note_dele(&mut self, line: &str, span: Span) {
        for l in line.split(['\r', '\n']) {
            if l.get(..5).is_some_and(|k| k.eq_ignore_ascii_case("DELE ")) && self.sends_dele.is_none() {
                self.sends_dele = Some(span);
            }
            // `QUIT x` too: a lenient server may take it.
            let quit = l.get(..4).is_some_and(|k| k.eq_ignore_ascii_case("QUIT"))
                && l.as_bytes().get(4).is_none_or(|&b| b == b' ');
            if quit {
                self.note_quit(span);
            }
        }
    }

    fn note_quit(&mut self, span: Span) {
        if self.sends_dele.is_some() && self.commits_dele.is_none() {
            self.commits_dele = Some(span);
        }
    }

    fn action(
        &mut self,
        keyword: &str,
        key: &Node,
        value: &Node,
        on: &mut String,
        multiline: Option<&Node>,
        frame: Option<&Node>,
    ) -> Option<Action> {
        Some(match keyword {
            "connect" | "reconnect" => {
                let reconnect = keyword == "reconnect";
                let mut transport = None;
                match &value.kind {
                    Kind::Null => {}
                    Kind::Scalar { value: name, .. } if !reconnect => *on = name.clone(),
                    Kind::Map(_) => {
                        let keys: &[&str] = if reconnect { &["tls"] } else { &["name", "tls"] };
                        for (k, _, v) in self.map(value, &format!("`{keyword}` options"), keys)? {
                            match k {
                                "name" => *on = self.string(v, "a connection name")?,
                                _ => {
                                    transport = Some(match self.word(v, "transport", &["plain", "implicit"])? {
                                        "plain" => Transport::Plain,
                                        _ => Transport::Implicit,
                                    })
                                }
                            }
                        }
                    }
                    _ => {
                        let d = self.d(value.span, format!("`{keyword}` takes a connection name or {{name, tls}}"));
                        self.push(d.label("expected a name or a mapping"));
                        return None;
                    }
                }
                Action::Connect { transport, reconnect }
            }
            "send" => {
                let line = self.template(value, "a command line")?;
                if line.source.contains(['\r', '\n']) {
                    let d = self.d(value.span, "`send` takes one command line; CRLF is added");
                    self.push(d.help("use `send_raw` for exact bytes, or `pipeline` for several commands"));
                }
                self.note_dele(&line.source, value.span);
                let multiline = match multiline {
                    Some(n) => Some(self.boolean(n, "multiline")?),
                    None => None,
                };
                Action::Send { line, multiline }
            }
            "send_raw" => {
                let bytes = self.template(value, "the bytes to send")?;
                self.note_dele(&bytes.source, value.span);
                let frame = match frame {
                    Some(n) => Some(frame_of(self.word(n, "reply framing", &["single", "multi", "sasl", "none"])?)),
                    None => None,
                };
                Action::SendRaw { bytes, frame }
            }
            "read" => Action::Read(frame_of(self.word(value, "reply framing", &["single", "multi", "sasl"])?)),
            "pipeline" => {
                let Kind::Seq(items) = &value.kind else {
                    let d =
                        self.d(value.span, format!("`pipeline` takes a list of commands, found {}", value.describe()));
                    self.push(d.label("expected e.g. [STAT, LIST 1, NOOP]"));
                    return None;
                };
                if items.is_empty() {
                    self.err(value.span, "`pipeline` needs at least one command");
                }
                let mut cmds = Vec::new();
                for n in items {
                    let t = self.template(n, "a command line")?;
                    self.note_dele(&t.source, n.span);
                    cmds.push(t);
                }
                Action::Pipeline(cmds)
            }
            "stls" | "capa" | "quit" | "disconnect" | "upgrade" => {
                self.no_value(keyword, value);
                match keyword {
                    "stls" => Action::Stls,
                    "upgrade" => Action::Upgrade,
                    "capa" => Action::Capa,
                    "quit" => {
                        self.note_quit(key.span);
                        Action::Quit
                    }
                    _ => Action::Disconnect,
                }
            }
            "login" => Action::Login(self.login(value)?),
            "closed" => Action::Closed(self.duration(value, "closed")?),
            "silence" => Action::Silence(self.duration(value, "silence")?),
            "state" => {
                let words = ["authorization", "transaction", "update", "closed"];
                let (state_node, tls) = match &value.kind {
                    Kind::Map(_) => {
                        let e = self.map(value, "a state assertion", &["is", "tls"])?;
                        let is = e.iter().find(|(k, _, _)| *k == "is").map(|(_, _, v)| *v);
                        let tls = match e.iter().find(|(k, _, _)| *k == "tls") {
                            Some((_, _, v)) => Some(self.boolean(v, "tls")?),
                            None => None,
                        };
                        (is, tls)
                    }
                    _ => (Some(value), None),
                };
                let is = match state_node {
                    Some(n) => self.word(n, "session state", &words)?.parse().ok()?,
                    None => {
                        self.err(value.span, "`state` needs `is: authorization|transaction|update|closed`");
                        return None;
                    }
                };
                Action::State { is, tls }
            }
            "set" => {
                let Kind::Map(entries) = &value.kind else {
                    self.err(value.span, "`set` takes a mapping of variable: value");
                    return None;
                };
                let mut out = Vec::new();
                for (k, v) in entries {
                    let name = self.string(k, "a variable name")?;
                    let t = self.template(v, "a value")?;
                    out.push((name, t));
                }
                for (name, _) in &out {
                    self.vars.push((name.clone(), false));
                }
                Action::Set(out)
            }
            "for_each" => {
                let e = self.map(value, "a for_each", &["in", "as", "steps"])?;
                let get = |k: &str| e.iter().find(|(key, _, _)| *key == k).map(|(_, _, v)| *v);
                let (Some(list_n), Some(as_n), Some(steps_n)) = (get("in"), get("as"), get("steps")) else {
                    self.push(self.d(key.span, "`for_each` needs `in`, `as` and `steps`").label("incomplete"));
                    return None;
                };
                let list = self.string(list_n, "a listing variable")?;
                match self.vars.iter().find(|(v, _)| *v == list) {
                    Some((_, true)) => {}
                    Some((_, false)) => {
                        let d = self.d(list_n.span, format!("`{list}` is not a listing"));
                        self.push(d.help("capture it with `from: lines`"));
                    }
                    None => {
                        let names: Vec<String> = self.vars.iter().filter(|v| v.1).map(|v| v.0.clone()).collect();
                        let hint = did_you_mean(&list, names.iter().map(String::as_str));
                        self.err_hint(
                            list_n.span,
                            format!("undefined listing `{list}`"),
                            "not captured by an earlier step",
                            hint,
                        );
                    }
                }
                let as_name = self.string(as_n, "a row variable name")?;
                self.vars.push((as_name.clone(), false));
                let steps = self.steps(steps_n);
                Action::ForEach { list, as_name, steps }
            }
            _ => unreachable!("every action keyword is handled"),
        })
    }

    fn login(&mut self, value: &Node) -> Option<LoginSpec> {
        let mut spec = LoginSpec { method: Method::Auto, user: None, password: None, stls: None };
        if value.is_null() {
            return Some(spec);
        }
        for (k, _, v) in self.map(value, "`login` options", &["method", "user", "password", "stls"])? {
            match k {
                "method" => {
                    let words = ["auto", "user", "apop", "plain", "plain-no-ir", "login"];
                    spec.method = match self.word(v, "login method", &words)? {
                        "auto" => Method::Auto,
                        "user" => Method::User,
                        "apop" => Method::Apop,
                        "plain" => Method::Plain,
                        "plain-no-ir" => Method::PlainNoIr,
                        _ => Method::Login,
                    }
                }
                "user" => spec.user = Some(self.template(v, "a user name")?),
                "password" => spec.password = Some(self.template(v, "a password")?),
                _ => spec.stls = Some(self.boolean(v, "stls")?),
            }
        }
        Some(spec)
    }

    fn expect_sets(&mut self, node: &Node, replies: usize) -> Vec<ExpectSet> {
        match &node.kind {
            Kind::Seq(items) => {
                if items.len() != replies {
                    let d = self.d(node.span, format!("{} expectations for {replies} replies", items.len()));
                    self.push(d.label(format!("expected {replies} mappings, one per reply")));
                }
                items.iter().filter_map(|n| self.expect_set(n)).collect()
            }
            _ => match self.expect_set(node) {
                Some(set) => vec![set; replies],
                None => Vec::new(),
            },
        }
    }

    fn expect_set(&mut self, node: &Node) -> Option<ExpectSet> {
        let entries = self.map(node, "an expect", EXPECT_KEYS)?;
        let mut items = Vec::new();
        for (k, key, v) in entries {
            let kind: Option<ExpectKind> = (|| {
                Some(match k {
                    "status" => ExpectKind::Status(match self.word(v, "status", &["ok", "err", "continue"])? {
                        "ok" => Want::Ok,
                        "err" => Want::Err,
                        _ => Want::Continue,
                    }),
                    "text" => ExpectKind::Text(self.pattern(v, "text")?),
                    "code" => {
                        let c = self.string(v, "a response code")?;
                        let c = c.trim_start_matches('[').trim_end_matches(']').to_string();
                        ExpectKind::Code((!c.eq_ignore_ascii_case("none")).then_some(c))
                    }
                    "lines" => ExpectKind::Lines(self.template(v, "a line count")?),
                    "each_line" => ExpectKind::EachLine(self.pattern(v, "each_line")?),
                    "some_line" => ExpectKind::SomeLine(self.pattern(v, "some_line")?),
                    "no_line" => ExpectKind::NoLine(self.pattern(v, "no_line")?),
                    "body" | "message_body" => {
                        let text = self.string(v, "the expected body")?;
                        let text = text.strip_suffix('\n').unwrap_or(&text);
                        let lines =
                            if text.is_empty() { Vec::new() } else { text.split('\n').map(str::to_string).collect() };
                        if k == "body" {
                            ExpectKind::Body(lines)
                        } else {
                            ExpectKind::MessageBody(lines)
                        }
                    }
                    "body_equals" => ExpectKind::BodyEquals(self.template(v, "a captured body, e.g. ${body1}")?),
                    "octets" => ExpectKind::Octets(self.template(v, "an octet count")?),
                    "capability" | "no_capability" => {
                        let list = self.strings(v, "capabilities").into_iter().map(|c| c.0).collect();
                        if k == "capability" {
                            ExpectKind::Capability(list)
                        } else {
                            ExpectKind::NoCapability(list)
                        }
                    }
                    _ => unreachable!("map() filtered the keys"),
                })
            })();
            // Keep going after a bad value: every error of the file is reported at once.
            let Some(kind) = kind else { continue };
            items.push(Expectation { span: key.span, kind });
        }
        Some(ExpectSet { span: node.span, items })
    }

    fn captures(&mut self, node: &Node) -> Vec<Capture> {
        let Some(entries) = self.map_any(node, "a capture") else { return Vec::new() };
        let mut out = Vec::new();
        for (var, key, v) in entries {
            let (from, regex) = match &v.kind {
                Kind::Scalar { .. } => (CaptureFrom::Text, self.pattern(v, "capture")),
                Kind::Map(_) => {
                    let Some(e) = self.map(v, "a capture", &["from", "regex"]) else { continue };
                    let from = match e.iter().find(|(k, _, _)| *k == "from") {
                        Some((_, _, f)) => {
                            match self.word(f, "capture source", &["text", "line", "lines", "body", "header"]) {
                                Some("text") => CaptureFrom::Text,
                                Some("line") => CaptureFrom::Line,
                                Some("lines") => CaptureFrom::Lines,
                                Some("header") => CaptureFrom::Header,
                                Some(_) => CaptureFrom::Body,
                                None => continue,
                            }
                        }
                        None => CaptureFrom::Text,
                    };
                    let regex = e.iter().find(|(k, _, _)| *k == "regex").and_then(|(_, _, r)| self.pattern(r, "regex"));
                    if regex.is_none() && !matches!(from, CaptureFrom::Body | CaptureFrom::Header) {
                        self.push(self.d(v.span, "this capture needs a `regex`").label("missing `regex`"));
                    }
                    (from, regex)
                }
                _ => {
                    self.push(self.d(v.span, "a capture is a regex or {from, regex}").label("expected a regex"));
                    continue;
                }
            };
            let ok_name = !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok_name || BUILTIN_VARS.contains(&var) {
                self.push(
                    self.d(key.span, format!("`{var}` cannot be a variable name"))
                        .label("letters, digits and `_`; not a built-in"),
                );
            }
            self.vars.push((var.to_string(), from == CaptureFrom::Lines));
            out.push(Capture { span: key.span, var: var.to_string(), from, regex });
        }
        out
    }

    /// A mapping whose keys are free (variable names).
    fn map_any<'n>(&mut self, node: &'n Node, what: &str) -> Option<Entries<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.push(self.d(node.span, format!("expected {what} mapping, found {}", node.describe())));
            return None;
        };
        Some(entries.iter().filter_map(|(k, v)| k.as_str().map(|s| (s, k, v))).collect())
    }
}

fn frame_of(word: &str) -> Frame {
    match word {
        "multi" => Frame::Multi,
        "sasl" => Frame::Sasl,
        "none" => Frame::None,
        _ => Frame::Single,
    }
}

fn produces_reply(a: &Action) -> bool {
    !matches!(
        a,
        Action::Disconnect
            | Action::Closed(_)
            | Action::Silence(_)
            | Action::State { .. }
            | Action::Set(_)
            | Action::ForEach { .. }
            | Action::Read(Frame::None)
            | Action::SendRaw { frame: Some(Frame::None), .. }
    )
}
