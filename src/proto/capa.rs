//! CAPA capabilities (RFC 2449 §5, §6; RFC 2595 §4 STLS; RFC 3206 AUTH-RESP-CODE; RFC 6856).

use super::violation::Violation;

/// `EXPIRE` policy value (RFC 2449 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    Never,
    Days(u64),
}

/// One capability line, typed. Unknown capabilities are kept with their arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    Top,
    User,
    /// `SASL mech...` (RFC 2449 §6.3), mechanism names upper-cased.
    Sasl(Vec<String>),
    RespCodes,
    /// `LOGIN-DELAY n [USER]`; `per_user` is only legal before login (RFC 2449 §6.5).
    LoginDelay {
        seconds: u64,
        per_user: bool,
    },
    Pipelining,
    /// `EXPIRE n|NEVER [USER]` (RFC 2449 §6.7).
    Expire {
        value: Expire,
        per_user: bool,
    },
    Uidl,
    Implementation(String),
    Stls,
    AuthRespCode,
    /// `UTF8 [USER]` (RFC 6856 §2).
    Utf8 {
        user: bool,
    },
    Lang,
    /// Anything else, upper-cased name and raw arguments.
    Other {
        name: String,
        args: Vec<String>,
    },
}

impl Capability {
    /// The capability's tag as it appears in CAPA (upper case).
    pub fn name(&self) -> &str {
        match self {
            Capability::Top => "TOP",
            Capability::User => "USER",
            Capability::Sasl(_) => "SASL",
            Capability::RespCodes => "RESP-CODES",
            Capability::LoginDelay { .. } => "LOGIN-DELAY",
            Capability::Pipelining => "PIPELINING",
            Capability::Expire { .. } => "EXPIRE",
            Capability::Uidl => "UIDL",
            Capability::Implementation(_) => "IMPLEMENTATION",
            Capability::Stls => "STLS",
            Capability::AuthRespCode => "AUTH-RESP-CODE",
            Capability::Utf8 { .. } => "UTF8",
            Capability::Lang => "LANG",
            Capability::Other { name, .. } => name,
        }
    }
}

/// A parsed CAPA listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub list: Vec<Capability>,
    /// The raw lines, as sent (for reports).
    pub lines: Vec<String>,
}

impl Capabilities {
    /// Parses the lines of a CAPA body. Malformed lines are recorded as violations and kept as
    /// [`Capability::Other`].
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> (Capabilities, Vec<Violation>) {
        let mut caps = Capabilities::default();
        let mut violations = Vec::new();
        for raw in lines {
            let line = String::from_utf8_lossy(raw).into_owned();
            match parse_line(&line) {
                Ok(c) => caps.list.push(c),
                Err(c) => {
                    violations.push(Violation::MalformedCapability { line: line.clone() });
                    caps.list.push(c);
                }
            }
            caps.lines.push(line);
        }
        (caps, violations)
    }

    /// True when a capability with this tag is listed (case-insensitive), e.g. `has("TOP")`.
    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// True when `SASL` lists this mechanism.
    pub fn has_sasl(&self, mech: &str) -> bool {
        self.sasl_mechanisms().iter().any(|m| m.eq_ignore_ascii_case(mech))
    }

    /// All SASL mechanisms advertised.
    pub fn sasl_mechanisms(&self) -> Vec<String> {
        self.list
            .iter()
            .filter_map(|c| match c {
                Capability::Sasl(m) => Some(m.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The IMPLEMENTATION string, when listed.
    pub fn implementation(&self) -> Option<&str> {
        self.list.iter().find_map(|c| match c {
            Capability::Implementation(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// Whether `requirement` (e.g. `TOP`, `SASL PLAIN`, `STLS`) is satisfied.
    pub fn satisfies(&self, requirement: &str) -> bool {
        let mut words = requirement.split_whitespace();
        match (words.next(), words.next()) {
            (Some(s), Some(mech)) if s.eq_ignore_ascii_case("SASL") => self.has_sasl(mech),
            (Some(name), None) => self.has(name),
            _ => false,
        }
    }
}

/// Parses one capability line. `Err` carries the best reading of a malformed line.
pub fn parse_line(line: &str) -> Result<Capability, Capability> {
    let mut words = line.split(' ');
    let name = words.next().unwrap_or_default().to_ascii_uppercase();
    let args: Vec<String> = words.map(str::to_string).collect();
    let other = || Capability::Other { name: name.clone(), args: args.clone() };
    let no_args = |c: Capability| if args.is_empty() { Ok(c) } else { Err(other()) };
    let user_flag = |a: Option<&String>| match a {
        None => Some(false),
        Some(u) if u.eq_ignore_ascii_case("USER") => Some(true),
        _ => None,
    };
    if name.is_empty() || line.contains("  ") || line.ends_with(' ') {
        return Err(other());
    }
    match name.as_str() {
        "TOP" => no_args(Capability::Top),
        "USER" => no_args(Capability::User),
        "RESP-CODES" => no_args(Capability::RespCodes),
        "PIPELINING" => no_args(Capability::Pipelining),
        "UIDL" => no_args(Capability::Uidl),
        "STLS" => no_args(Capability::Stls),
        "AUTH-RESP-CODE" => no_args(Capability::AuthRespCode),
        "LANG" => no_args(Capability::Lang),
        // RFC 2449 §9: `capability = capa-tag *(SP param)`; a bare `SASL` lists no mechanism
        // usable now (Dovecot sends it before TLS when cleartext is refused): not malformed.
        "SASL" => Ok(Capability::Sasl(args.iter().map(|a| a.to_ascii_uppercase()).collect())),
        "IMPLEMENTATION" => Ok(Capability::Implementation(args.join(" "))),
        "LOGIN-DELAY" if args.len() <= 2 => {
            let seconds = args.first().and_then(|a| super::command::parse_number(a));
            match (seconds, user_flag(args.get(1))) {
                (Some(seconds), Some(per_user)) => Ok(Capability::LoginDelay { seconds, per_user }),
                _ => Err(other()),
            }
        }
        "EXPIRE" if args.len() <= 2 => {
            let value = match args.first() {
                Some(a) if a.eq_ignore_ascii_case("NEVER") => Some(Expire::Never),
                Some(a) => super::command::parse_number(a).map(Expire::Days),
                None => None,
            };
            match (value, user_flag(args.get(1))) {
                (Some(value), Some(per_user)) => Ok(Capability::Expire { value, per_user }),
                _ => Err(other()),
            }
        }
        "UTF8" if args.len() <= 1 => match user_flag(args.first()) {
            Some(user) => Ok(Capability::Utf8 { user }),
            None => Err(other()),
        },
        // Known tags with the wrong shape (e.g. `SASL` without mechanisms, `EXPIRENEVER` is
        // merely unknown) are malformed; unknown tags are fine (RFC 2449 §5: extensible).
        "LOGIN-DELAY" | "EXPIRE" | "UTF8" => Err(other()),
        n if n.starts_with("EXPIRE") || n.starts_with("LOGIN-DELAY") => Err(other()),
        _ => Ok(other()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> (Capabilities, Vec<Violation>) {
        Capabilities::parse(lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn rfc2449_example_capa() {
        // RFC 2449 §5 example response.
        let (caps, v) = parse(&[
            "TOP",
            "USER",
            "SASL CRAM-MD5 KERBEROS_V4",
            "RESP-CODES",
            "LOGIN-DELAY 900",
            "PIPELINING",
            "EXPIRE 60",
            "UIDL",
            "IMPLEMENTATION Shlemazle-Plotz-v302",
        ]);
        assert!(v.is_empty(), "{v:?}");
        assert!(caps.has("top") && caps.has("UIDL") && caps.has("PIPELINING"));
        assert!(caps.has_sasl("cram-md5"));
        assert!(caps.satisfies("SASL KERBEROS_V4"));
        assert!(!caps.satisfies("SASL PLAIN"));
        assert_eq!(caps.implementation(), Some("Shlemazle-Plotz-v302"));
        assert!(caps.list.contains(&Capability::LoginDelay { seconds: 900, per_user: false }));
        assert!(caps.list.contains(&Capability::Expire { value: Expire::Days(60), per_user: false }));
    }

    #[test]
    fn typed_forms_of_each_capability() {
        let (caps, v) = parse(&[
            "STLS",
            "AUTH-RESP-CODE",
            "UTF8 USER",
            "LANG",
            "EXPIRE NEVER USER",
            "LOGIN-DELAY 0 USER",
            "X-FOO a b",
        ]);
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(caps.list[2], Capability::Utf8 { user: true });
        assert_eq!(caps.list[4], Capability::Expire { value: Expire::Never, per_user: true });
        assert_eq!(caps.list[6], Capability::Other { name: "X-FOO".into(), args: vec!["a".into(), "b".into()] });
    }

    #[test]
    fn bare_sasl_is_an_empty_mechanism_list() {
        let (caps, v) = parse(&["SASL"]);
        assert!(v.is_empty());
        assert_eq!(caps.list, vec![Capability::Sasl(vec![])]);
        assert!(!caps.has_sasl("PLAIN"));
    }

    #[test]
    fn malformed_capability_lines_are_violations() {
        for line in ["EXPIRENEVER", "EXPIRE soon", "LOGIN-DELAY", "LOGIN-DELAY x", "TOP 1", "UTF8 ALL", "UIDL  "] {
            let (_, v) = parse(&[line]);
            assert_eq!(v, vec![Violation::MalformedCapability { line: line.into() }], "{line}");
        }
    }
}
