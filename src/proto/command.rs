//! POP3 commands: what a client sends. One type serves the client (encode), the reference server
//! (parse) and the fuzzer (raw lines), so there is no second parser anywhere.
//!
//! RFC 1939 §3: "Commands in the POP3 consist of a case-insensitive keyword, possibly followed by
//! one or more arguments. All commands are terminated by a CRLF pair. Keywords and arguments
//! consist of printable ASCII characters. Keywords and arguments are each separated by a single
//! SPACE character. Keywords are three or four characters long."

use std::fmt;

/// How the reply to a command is framed. The command decides: `LIST` is multi-line, `LIST 1` is
/// not (the sans-IO parser cannot know this from the bytes alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// One status line (greeting, USER, STAT, LIST n, DELE, ...).
    SingleLine,
    /// A status line; when it is `+OK`, a multi-line body ending in `.` CRLF follows.
    MultiLine,
    /// A status line or a SASL continuation `+ base64` (AUTH and its continuation lines).
    Sasl,
}

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User(String),
    /// `PASS string`: the rest of the line is the password, spaces included (RFC 1939 §7).
    Pass(String),
    /// `APOP name digest` (RFC 1939 §7); see [`super::apop::digest`].
    Apop { name: String, digest: String },
    /// `STAT` (RFC 1939 §5).
    Stat,
    /// `LIST [msg]` (RFC 1939 §5).
    List(Option<u64>),
    /// `RETR msg` (RFC 1939 §5).
    Retr(u64),
    /// `DELE msg` (RFC 1939 §5).
    Dele(u64),
    /// `NOOP` (RFC 1939 §5).
    Noop,
    /// `RSET` (RFC 1939 §5).
    Rset,
    /// `QUIT` (RFC 1939 §5, §6).
    Quit,
    /// `TOP msg n` (RFC 1939 §7).
    Top(u64, u64),
    /// `UIDL [msg]` (RFC 1939 §7).
    Uidl(Option<u64>),
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `AUTH [mechanism [initial-response]]` (RFC 5034 §4). Without a mechanism some servers list
    /// their mechanisms (the older RFC 1734 form); it is framed as multi-line.
    Auth { mechanism: Option<String>, initial_response: Option<String> },
    /// A client line inside an AUTH exchange: base64 data, or `*` to cancel (RFC 5034 §4).
    AuthResponse(String),
    /// `UTF8` (RFC 6856 §2).
    Utf8,
    /// `LANG [tag]` (RFC 6856 §3).
    Lang(Option<String>),
    /// Exact bytes, sent as given (no CRLF added): scenarios and the fuzzer. The caller says how
    /// the reply is framed.
    Raw { bytes: Vec<u8>, expect: Expect },
}

impl Command {
    /// The keyword as sent (upper case), or `None` for raw lines and AUTH continuations.
    pub fn keyword(&self) -> Option<&'static str> {
        Some(match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top(..) => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Auth { .. } => "AUTH",
            Command::Utf8 => "UTF8",
            Command::Lang(_) => "LANG",
            Command::AuthResponse(_) | Command::Raw { .. } => return None,
        })
    }

    /// How the server's reply to this command is framed.
    pub fn expect(&self) -> Expect {
        match self {
            Command::List(None) | Command::Uidl(None) | Command::Retr(_) | Command::Top(..) | Command::Capa => {
                Expect::MultiLine
            }
            Command::Lang(None) => Expect::MultiLine,
            Command::Auth { mechanism: None, .. } => Expect::MultiLine,
            Command::Auth { .. } | Command::AuthResponse(_) => Expect::Sasl,
            Command::Raw { expect, .. } => *expect,
            _ => Expect::SingleLine,
        }
    }

    /// The wire form, CRLF included (raw lines are sent exactly as given).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.encode_into(&mut out);
        out
    }

    /// Appends the wire form to `out` (lets pipelined batches share one buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = match self {
            Command::Raw { bytes, .. } => {
                out.extend_from_slice(bytes);
                return;
            }
            Command::AuthResponse(data) => write!(out, "{data}"),
            Command::User(name) => write!(out, "USER {name}"),
            Command::Pass(pw) => write!(out, "PASS {pw}"),
            Command::Apop { name, digest } => write!(out, "APOP {name} {digest}"),
            Command::List(Some(n)) => write!(out, "LIST {n}"),
            Command::Retr(n) => write!(out, "RETR {n}"),
            Command::Dele(n) => write!(out, "DELE {n}"),
            Command::Top(n, lines) => write!(out, "TOP {n} {lines}"),
            Command::Uidl(Some(n)) => write!(out, "UIDL {n}"),
            Command::Auth { mechanism: Some(m), initial_response: Some(ir) } => write!(out, "AUTH {m} {ir}"),
            Command::Auth { mechanism: Some(m), initial_response: None } => write!(out, "AUTH {m}"),
            Command::Lang(Some(tag)) => write!(out, "LANG {tag}"),
            other => write!(out, "{}", other.keyword().unwrap_or_default()),
        };
        out.extend_from_slice(b"\r\n");
    }

    /// Parses one command line as a server receives it (line end already removed or included).
    /// Strict: keyword case-insensitive, arguments separated by exactly one SP, message numbers
    /// all digits. `in_sasl` says the line is an AUTH continuation, not a command.
    pub fn parse(line: &[u8], in_sasl: bool) -> Result<Command, CommandError> {
        let line = strip_line_end(line);
        if in_sasl {
            return std::str::from_utf8(line)
                .map(|s| Command::AuthResponse(s.to_string()))
                .map_err(|_| CommandError::NotText);
        }
        if line.is_empty() {
            return Err(CommandError::Empty);
        }
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(CommandError::NotText);
        }
        let text = std::str::from_utf8(line).map_err(|_| CommandError::NotText)?;
        let (kw, rest) = match text.find(' ') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        let keyword = kw.to_ascii_uppercase();
        // PASS takes the rest of the line verbatim (RFC 1939 §7: "the server may treat the
        // spaces in the argument as part of the password").
        if keyword == "PASS" {
            return match rest {
                Some(pw) if !pw.is_empty() => Ok(Command::Pass(pw.to_string())),
                _ => Err(CommandError::MissingArgument("PASS")),
            };
        }
        let args: Vec<&str> = match rest {
            None => Vec::new(),
            Some(r) => r.split(' ').collect(),
        };
        if args.iter().any(|a| a.is_empty()) {
            return Err(CommandError::BadSeparator);
        }
        let n = |i: usize, kw: &'static str| -> Result<u64, CommandError> {
            let a = args.get(i).ok_or(CommandError::MissingArgument(kw))?;
            parse_number(a).ok_or_else(|| CommandError::BadNumber(a.to_string()))
        };
        let arity = |max: usize, kw: &'static str| -> Result<(), CommandError> {
            if args.len() > max {
                Err(CommandError::TooManyArguments(kw))
            } else {
                Ok(())
            }
        };
        let cmd = match keyword.as_str() {
            "USER" => {
                arity(1, "USER")?;
                Command::User(args.first().ok_or(CommandError::MissingArgument("USER"))?.to_string())
            }
            "APOP" => {
                arity(2, "APOP")?;
                if args.len() < 2 {
                    return Err(CommandError::MissingArgument("APOP"));
                }
                Command::Apop { name: args[0].to_string(), digest: args[1].to_string() }
            }
            "STAT" => arity(0, "STAT").map(|_| Command::Stat)?,
            "NOOP" => arity(0, "NOOP").map(|_| Command::Noop)?,
            "RSET" => arity(0, "RSET").map(|_| Command::Rset)?,
            "QUIT" => arity(0, "QUIT").map(|_| Command::Quit)?,
            "CAPA" => arity(0, "CAPA").map(|_| Command::Capa)?,
            "STLS" => arity(0, "STLS").map(|_| Command::Stls)?,
            "UTF8" => arity(0, "UTF8").map(|_| Command::Utf8)?,
            "LIST" => {
                arity(1, "LIST")?;
                Command::List(if args.is_empty() { None } else { Some(n(0, "LIST")?) })
            }
            "UIDL" => {
                arity(1, "UIDL")?;
                Command::Uidl(if args.is_empty() { None } else { Some(n(0, "UIDL")?) })
            }
            "RETR" => arity(1, "RETR").and_then(|_| n(0, "RETR")).map(Command::Retr)?,
            "DELE" => arity(1, "DELE").and_then(|_| n(0, "DELE")).map(Command::Dele)?,
            "TOP" => {
                arity(2, "TOP")?;
                Command::Top(n(0, "TOP")?, n(1, "TOP")?)
            }
            "AUTH" => {
                arity(2, "AUTH")?;
                Command::Auth {
                    mechanism: args.first().map(|m| m.to_ascii_uppercase()),
                    initial_response: args.get(1).map(|s| s.to_string()),
                }
            }
            "LANG" => {
                arity(1, "LANG")?;
                Command::Lang(args.first().map(|s| s.to_string()))
            }
            _ => return Err(CommandError::UnknownKeyword(kw.to_string())),
        };
        Ok(cmd)
    }
}

/// A message-number or line-count argument: decimal digits only (no sign, no spaces); numbers that
/// do not fit in 64 bits are rejected rather than wrapped.
pub fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Why a command line could not be parsed (the server answers `-ERR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    Empty,
    NotText,
    UnknownKeyword(String),
    MissingArgument(&'static str),
    TooManyArguments(&'static str),
    BadNumber(String),
    BadSeparator,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Empty => write!(f, "empty command"),
            CommandError::NotText => write!(f, "command is not printable text"),
            CommandError::UnknownKeyword(_) => write!(f, "unknown command"),
            CommandError::MissingArgument(kw) => write!(f, "{kw}: missing argument"),
            CommandError::TooManyArguments(kw) => write!(f, "{kw}: too many arguments"),
            CommandError::BadNumber(_) => write!(f, "invalid number"),
            CommandError::BadSeparator => write!(f, "arguments must be separated by a single space"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_every_command() {
        let cases: Vec<(Command, &[u8], Expect)> = vec![
            (Command::User("mrose".into()), b"USER mrose\r\n", Expect::SingleLine),
            (Command::Pass("tan staaf".into()), b"PASS tan staaf\r\n", Expect::SingleLine),
            (
                Command::Apop { name: "mrose".into(), digest: "c4c9334bac560ecc979e58001b3e22fb".into() },
                b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
                Expect::SingleLine,
            ),
            (Command::Stat, b"STAT\r\n", Expect::SingleLine),
            (Command::List(None), b"LIST\r\n", Expect::MultiLine),
            (Command::List(Some(2)), b"LIST 2\r\n", Expect::SingleLine),
            (Command::Retr(1), b"RETR 1\r\n", Expect::MultiLine),
            (Command::Dele(1), b"DELE 1\r\n", Expect::SingleLine),
            (Command::Noop, b"NOOP\r\n", Expect::SingleLine),
            (Command::Rset, b"RSET\r\n", Expect::SingleLine),
            (Command::Quit, b"QUIT\r\n", Expect::SingleLine),
            (Command::Top(1, 10), b"TOP 1 10\r\n", Expect::MultiLine),
            (Command::Uidl(None), b"UIDL\r\n", Expect::MultiLine),
            (Command::Uidl(Some(2)), b"UIDL 2\r\n", Expect::SingleLine),
            (Command::Capa, b"CAPA\r\n", Expect::MultiLine),
            (Command::Stls, b"STLS\r\n", Expect::SingleLine),
            (
                Command::Auth { mechanism: Some("PLAIN".into()), initial_response: Some("=".into()) },
                b"AUTH PLAIN =\r\n",
                Expect::Sasl,
            ),
            (
                Command::Auth { mechanism: Some("LOGIN".into()), initial_response: None },
                b"AUTH LOGIN\r\n",
                Expect::Sasl,
            ),
            (Command::Auth { mechanism: None, initial_response: None }, b"AUTH\r\n", Expect::MultiLine),
            (Command::AuthResponse("*".into()), b"*\r\n", Expect::Sasl),
            (Command::Utf8, b"UTF8\r\n", Expect::SingleLine),
            (Command::Lang(None), b"LANG\r\n", Expect::MultiLine),
            (Command::Lang(Some("de".into())), b"LANG de\r\n", Expect::SingleLine),
            (
                Command::Raw { bytes: b"STLS\r\nCAPA\r\n".to_vec(), expect: Expect::SingleLine },
                b"STLS\r\nCAPA\r\n",
                Expect::SingleLine,
            ),
        ];
        for (cmd, wire, expect) in cases {
            assert_eq!(cmd.encode(), wire, "{cmd:?}");
            assert_eq!(cmd.expect(), expect, "{cmd:?}");
        }
    }

    #[test]
    fn parses_keywords_case_insensitively() {
        assert_eq!(Command::parse(b"stat\r\n", false), Ok(Command::Stat));
        assert_eq!(Command::parse(b"StAt", false), Ok(Command::Stat));
        assert_eq!(Command::parse(b"list 1", false), Ok(Command::List(Some(1))));
        assert_eq!(Command::parse(b"top 1 0", false), Ok(Command::Top(1, 0)));
        assert_eq!(Command::parse(b"auth plain", false).unwrap().keyword(), Some("AUTH"));
    }

    #[test]
    fn rejects_malformed_arguments() {
        use CommandError::*;
        assert_eq!(Command::parse(b"LIST 1a", false), Err(BadNumber("1a".into())));
        assert_eq!(Command::parse(b"LIST +1", false), Err(BadNumber("+1".into())));
        assert_eq!(Command::parse(b"RETR -1", false), Err(BadNumber("-1".into())));
        assert_eq!(Command::parse(b"LIST 1 2", false), Err(TooManyArguments("LIST")));
        assert_eq!(Command::parse(b"RETR", false), Err(MissingArgument("RETR")));
        assert_eq!(Command::parse(b"RETR  1", false), Err(BadSeparator));
        assert_eq!(Command::parse(b"TOP 1", false), Err(MissingArgument("TOP")));
        assert_eq!(Command::parse(b"TOP 1 2 3", false), Err(TooManyArguments("TOP")));
        assert_eq!(Command::parse(b"FOO", false), Err(UnknownKeyword("FOO".into())));
        assert_eq!(Command::parse(b"", false), Err(Empty));
        assert_eq!(Command::parse(b"NO\x00OP", false), Err(NotText));
        assert_eq!(
            Command::parse(b"RETR 99999999999999999999999", false),
            Err(BadNumber("99999999999999999999999".into()))
        );
        // Beyond 2^32 is a valid number: the server must not wrap it (1939-retr).
        assert_eq!(Command::parse(b"RETR 4294967297", false), Ok(Command::Retr(4_294_967_297)));
        assert_eq!(Command::parse(b"PASS", false), Err(MissingArgument("PASS")));
    }

    #[test]
    fn pass_keeps_spaces_and_sasl_lines_are_data() {
        assert_eq!(Command::parse(b"PASS a b  c\r\n", false), Ok(Command::Pass("a b  c".into())));
        assert_eq!(Command::parse(b"dGVzdA==\r\n", true), Ok(Command::AuthResponse("dGVzdA==".into())));
    }

    fn arb_command() -> impl Strategy<Value = Command> {
        let word = "[!-~]{1,40}";
        let ir = "[A-Za-z0-9+/=]{1,60}";
        prop_oneof![
            word.prop_map(Command::User),
            "[ -~]{1,60}"
                .prop_filter("no leading/trailing-only spaces matter", |s| !s.is_empty())
                .prop_map(Command::Pass),
            (word, "[0-9a-f]{32}").prop_map(|(name, digest)| Command::Apop { name, digest }),
            Just(Command::Stat),
            proptest::option::of(any::<u64>()).prop_map(Command::List),
            any::<u64>().prop_map(Command::Retr),
            any::<u64>().prop_map(Command::Dele),
            Just(Command::Noop),
            Just(Command::Rset),
            Just(Command::Quit),
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Command::Top(a, b)),
            proptest::option::of(any::<u64>()).prop_map(Command::Uidl),
            Just(Command::Capa),
            Just(Command::Stls),
            ("[A-Z0-9-]{1,20}", proptest::option::of(ir))
                .prop_map(|(m, ir)| Command::Auth { mechanism: Some(m), initial_response: ir }),
            Just(Command::Utf8),
            proptest::option::of("[a-zA-Z-]{1,10}").prop_map(Command::Lang),
        ]
    }

    proptest! {
        /// encode → parse is the identity for every well-formed command.
        #[test]
        fn encode_parse_round_trip(cmd in arb_command()) {
            let wire = cmd.encode();
            prop_assert_eq!(Command::parse(&wire, false), Ok(cmd));
        }

        /// Arbitrary bytes never panic the server-side parser.
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), sasl in any::<bool>()) {
            let _ = Command::parse(&bytes, sasl);
        }
    }
}
