//! The systematic sweep: every command × argument class × mailbox state the model knows, tried
//! once, deterministically, before the random search. Random cases find what nobody thought of;
//! the sweep finds what a careful tester writes by hand and a random search rarely lines up — a
//! number edge given to the one command nobody tries it on, an out-of-range argument on a message
//! already marked deleted, a state reached only by a sequence (mark, undo, mark again).
//!
//! Pure: a [`Cell`] renders to the lines that prepare its state and the line under test, for a
//! maildrop of a given size; the runner sends them and the [`super::model::Model`] judges every
//! reply, as for random cases.
//!
//! The product is of the classes the model tells apart, per kind of command: a command that takes
//! no argument gets the *shapes* of an argument (one, several, whitespace, 8-bit, NUL, over-long)
//! rather than all 24 numbers, which would all be the same "extra argument" to it (RFC 1939 §3).

use super::case::Case;
use super::model::Context;
pub use crate::results::Coverage;

/// The commands swept (RFC 1939, 2449, 2595, 6856), plus `TOP`'s second argument on its own and
/// an unknown keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Keyword {
    User,
    Pass,
    Apop,
    Auth,
    Stat,
    List,
    Retr,
    Dele,
    Noop,
    Rset,
    /// `TOP <class> 0`: the message number.
    Top,
    /// `TOP 1 <class>`: the line count.
    TopLines,
    Uidl,
    Capa,
    Stls,
    Utf8,
    Quit,
    Unknown,
}

impl Keyword {
    pub const ALL: [Keyword; 18] = [
        Keyword::User,
        Keyword::Pass,
        Keyword::Apop,
        Keyword::Auth,
        Keyword::Stat,
        Keyword::List,
        Keyword::Retr,
        Keyword::Dele,
        Keyword::Noop,
        Keyword::Rset,
        Keyword::Top,
        Keyword::TopLines,
        Keyword::Uidl,
        Keyword::Capa,
        Keyword::Stls,
        Keyword::Utf8,
        Keyword::Quit,
        Keyword::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Keyword::User => "USER",
            Keyword::Pass => "PASS",
            Keyword::Apop => "APOP",
            Keyword::Auth => "AUTH",
            Keyword::Stat => "STAT",
            Keyword::List => "LIST",
            Keyword::Retr => "RETR",
            Keyword::Dele => "DELE",
            Keyword::Noop => "NOOP",
            Keyword::Rset => "RSET",
            Keyword::Top | Keyword::TopLines => "TOP",
            Keyword::Uidl => "UIDL",
            Keyword::Capa => "CAPA",
            Keyword::Stls => "STLS",
            Keyword::Utf8 => "UTF8",
            Keyword::Quit => "QUIT",
            Keyword::Unknown => "XYZZY",
        }
    }

    /// The label in coverage tables (`TOP-lines` for the second argument).
    pub fn label(self) -> &'static str {
        match self {
            Keyword::TopLines => "TOP-lines",
            Keyword::Unknown => "unknown",
            k => k.name(),
        }
    }

    fn kind(self) -> Kind {
        match self {
            Keyword::List | Keyword::Retr | Keyword::Dele | Keyword::Top | Keyword::TopLines | Keyword::Uidl => {
                Kind::Number
            }
            Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth => Kind::Text,
            _ => Kind::Bare,
        }
    }
}

/// What a command's argument is, for choosing the classes that mean something to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A message number (or TOP's line count).
    Number,
    /// A name, password, digest or mechanism.
    Text,
    /// No argument at all (STAT, NOOP, RSET, CAPA, STLS, UTF8, QUIT, an unknown keyword).
    Bare,
}

/// Argument classes: the edges of RFC 1939's number grammar and of every integer type a server
/// might parse it into, and the shapes of a malformed argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArgClass {
    None,
    Zero,
    One,
    /// The last message.
    Last,
    /// One past the last message.
    PastLast,
    Negative,
    MinusZero,
    Plus,
    LeadingZeros,
    /// 2^31 − 1, 2^31, 2^32 − 1, 2^32, 2^32 + 1, 2^63, 2^64 + 1.
    I32Max,
    I32Over,
    U32Max,
    U32Over,
    U32Over1,
    I64Over,
    U64Over1,
    HugeDigits,
    NonDigit,
    /// A second argument where none is allowed.
    Extra,
    /// The separator with nothing after it (`LIST ` — an empty argument).
    Empty,
    /// A tab instead of the single space (RFC 1939 §3).
    Tab,
    EightBit,
    Nul,
    /// An argument over RFC 1939's 40 characters (and the command past RFC 2449's 255 octets).
    OverLong,
}

impl ArgClass {
    pub const ALL: [ArgClass; 24] = [
        ArgClass::None,
        ArgClass::Zero,
        ArgClass::One,
        ArgClass::Last,
        ArgClass::PastLast,
        ArgClass::Negative,
        ArgClass::MinusZero,
        ArgClass::Plus,
        ArgClass::LeadingZeros,
        ArgClass::I32Max,
        ArgClass::I32Over,
        ArgClass::U32Max,
        ArgClass::U32Over,
        ArgClass::U32Over1,
        ArgClass::I64Over,
        ArgClass::U64Over1,
        ArgClass::HugeDigits,
        ArgClass::NonDigit,
        ArgClass::Extra,
        ArgClass::Empty,
        ArgClass::Tab,
        ArgClass::EightBit,
        ArgClass::Nul,
        ArgClass::OverLong,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ArgClass::None => "none",
            ArgClass::Zero => "0",
            ArgClass::One => "1",
            ArgClass::Last => "last",
            ArgClass::PastLast => "last+1",
            ArgClass::Negative => "negative",
            ArgClass::MinusZero => "-0",
            ArgClass::Plus => "+n",
            ArgClass::LeadingZeros => "leading-zeros",
            ArgClass::I32Max => "2^31-1",
            ArgClass::I32Over => "2^31",
            ArgClass::U32Max => "2^32-1",
            ArgClass::U32Over => "2^32",
            ArgClass::U32Over1 => "2^32+1",
            ArgClass::I64Over => "2^63",
            ArgClass::U64Over1 => "2^64+1",
            ArgClass::HugeDigits => "huge-digits",
            ArgClass::NonDigit => "non-digit",
            ArgClass::Extra => "extra-argument",
            ArgClass::Empty => "empty",
            ArgClass::Tab => "tab",
            ArgClass::EightBit => "8-bit",
            ArgClass::Nul => "nul",
            ArgClass::OverLong => "over-long",
        }
    }

    /// Whether the class means something distinct for a command of `kind` (see the module doc).
    fn applies_to(self, kind: Kind) -> bool {
        use ArgClass::*;
        match kind {
            Kind::Number => true,
            Kind::Text => {
                matches!(self, None | One | HugeDigits | NonDigit | Extra | Empty | Tab | EightBit | Nul | OverLong)
            }
            Kind::Bare => matches!(self, None | One | Extra | Empty | Tab | EightBit | Nul | OverLong),
        }
    }

    /// The argument text after the keyword, separator included (`" 1"`, `"\t1"`, `" "`), for a
    /// maildrop of `messages`; `None` when the class needs a message that is not there.
    fn render(self, messages: usize) -> Option<Vec<u8>> {
        let n = |s: String| Some(format!(" {s}").into_bytes());
        match self {
            ArgClass::None => Some(Vec::new()),
            ArgClass::Zero => n("0".into()),
            ArgClass::One => n("1".into()),
            ArgClass::Last => (messages > 0).then(|| format!(" {messages}").into_bytes()),
            ArgClass::PastLast => n((messages + 1).to_string()),
            ArgClass::Negative => n("-1".into()),
            ArgClass::MinusZero => n("-0".into()),
            ArgClass::Plus => n("+1".into()),
            ArgClass::LeadingZeros => n("0001".into()),
            ArgClass::I32Max => n("2147483647".into()),
            ArgClass::I32Over => n("2147483648".into()),
            ArgClass::U32Max => n("4294967295".into()),
            ArgClass::U32Over => n("4294967296".into()),
            ArgClass::U32Over1 => n("4294967297".into()),
            ArgClass::I64Over => n("9223372036854775808".into()),
            ArgClass::U64Over1 => n("18446744073709551617".into()),
            ArgClass::HugeDigits => n("9".repeat(60)),
            ArgClass::NonDigit => n("1a".into()),
            ArgClass::Extra => n("1 1".into()),
            ArgClass::Empty => Some(b" ".to_vec()),
            ArgClass::Tab => Some(b"\t1".to_vec()),
            ArgClass::EightBit => Some(b" \xc3\xa9\xff".to_vec()),
            ArgClass::Nul => Some(b" 1\x001".to_vec()),
            ArgClass::OverLong => n("1".repeat(300)),
        }
    }
}

/// The mailbox (and session) state a cell's line meets. Message 1 is "that message".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Prep {
    /// Nothing before it (in TRANSACTION: after RSET, so no mark of an earlier cell remains).
    Fresh,
    /// After `DELE 1`.
    DeleThis,
    /// After `DELE 2` (needs two messages).
    DeleOther,
    /// After `DELE 1`, `RSET`.
    AfterRset,
    /// After `DELE 1`, `RSET`, `DELE 1`: mark, undo, mark again.
    DeleRsetDele,
    /// After two commands that failed.
    AfterErrors,
    /// After a login that failed (USER of a made-up name, then PASS): once per session.
    AfterFailedLogin,
    /// Inside TLS, after STLS (the `authorization-after-stls` context).
    InTls,
}

impl Prep {
    pub fn label(self) -> &'static str {
        match self {
            Prep::Fresh => "fresh",
            Prep::DeleThis => "after DELE of that message",
            Prep::DeleOther => "after DELE of another",
            Prep::AfterRset => "after DELE, RSET",
            Prep::DeleRsetDele => "after DELE, RSET, DELE",
            Prep::AfterErrors => "after failed commands",
            Prep::AfterFailedLogin => "after a failed login",
            Prep::InTls => "inside TLS",
        }
    }

    /// The context a prep is reached from.
    fn contexts(self) -> &'static [Context] {
        match self {
            Prep::Fresh | Prep::AfterErrors => &[Context::Authorization, Context::Transaction],
            Prep::DeleThis | Prep::DeleOther | Prep::AfterRset | Prep::DeleRsetDele => &[Context::Transaction],
            Prep::AfterFailedLogin => &[Context::Authorization],
            Prep::InTls => &[Context::AfterStls],
        }
    }

    /// Whether this prep's lines are sent once per session, not before every cell: a failed
    /// login costs seconds on servers that delay them (Dovecot: 2 s), and its effect lasts.
    pub fn once_per_session(self) -> bool {
        self == Prep::AfterFailedLogin
    }

    /// The lines that bring a session of the prep's context to this state.
    pub fn lines(self, ctx: Context) -> Vec<&'static [u8]> {
        let reset: &[&'static [u8]] = if ctx == Context::Transaction { &[b"RSET\r\n"] } else { &[] };
        let own: &[&'static [u8]] = match self {
            Prep::Fresh | Prep::InTls => &[],
            Prep::DeleThis => &[b"DELE 1\r\n"],
            Prep::DeleOther => &[b"DELE 2\r\n"],
            Prep::AfterRset => &[b"DELE 1\r\n", b"RSET\r\n"],
            Prep::DeleRsetDele => &[b"DELE 1\r\n", b"RSET\r\n", b"DELE 1\r\n"],
            Prep::AfterErrors => &[b"XYZZY\r\n", b"LIST 0\r\n"],
            Prep::AfterFailedLogin => &[b"USER pop3test-nobody\r\n", b"PASS pop3test-wrong\r\n"],
        };
        reset.iter().chain(own).copied().collect()
    }

    /// Messages the prep needs in the maildrop.
    fn needs(self) -> usize {
        match self {
            Prep::DeleOther => 2,
            Prep::DeleThis | Prep::AfterRset | Prep::DeleRsetDele => 1,
            _ => 0,
        }
    }
}

pub const PREPS: [Prep; 8] = [
    Prep::Fresh,
    Prep::DeleThis,
    Prep::DeleOther,
    Prep::AfterRset,
    Prep::DeleRsetDele,
    Prep::AfterErrors,
    Prep::AfterFailedLogin,
    Prep::InTls,
];

/// One cell of the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub ctx: Context,
    pub prep: Prep,
    pub keyword: Keyword,
    pub arg: ArgClass,
}

/// A cell rendered for a maildrop: the prep lines, then the line under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub prep: Vec<Case>,
    pub target: Case,
}

impl Cell {
    /// The line under test, for a maildrop of `messages`; `None` when the cell does not apply to
    /// it (a prep or a class that needs messages the maildrop lacks).
    pub fn line(&self, messages: usize) -> Option<Vec<u8>> {
        // QUIT after a DELE would commit it (RFC 1939 §6): the sweep never changes the maildrop.
        if messages < self.prep.needs() || (self.keyword == Keyword::Quit && self.prep.needs() > 0) {
            return None;
        }
        let arg = self.arg.render(messages)?;
        let mut line = self.keyword.name().as_bytes().to_vec();
        match self.keyword {
            Keyword::Top => {
                line.extend(&arg);
                if self.arg != ArgClass::None {
                    line.extend(b" 0");
                }
            }
            Keyword::TopLines if self.arg == ArgClass::None => line.extend(b" 1"),
            Keyword::TopLines => {
                line.extend(b" 1");
                line.extend(&arg);
            }
            Keyword::Apop if !arg.is_empty() => {
                // APOP takes a name and a digest: the class shapes the name.
                line.extend(&arg);
                line.extend(b" 00000000000000000000000000000000");
            }
            _ => line.extend(&arg),
        }
        line.extend(b"\r\n");
        Some(line)
    }

    /// The prep lines (each its own case, so a finding's prefix shrinks line by line) and the
    /// line under test. `prepped`: the session is already in this cell's once-per-session prep.
    pub fn render(&self, messages: usize, prepped: bool) -> Option<Rendered> {
        let target = Case::line(&self.line(messages)?);
        let prep = if prepped && self.prep.once_per_session() {
            Vec::new()
        } else {
            self.prep.lines(self.ctx).into_iter().map(Case::line).collect()
        };
        Some(Rendered { prep, target })
    }

    /// `TRANSACTION, after DELE of that message: RETR 2^32`.
    pub fn describe(&self) -> String {
        format!("{}, {}: {} {}", self.ctx.name(), self.prep.label(), self.keyword.label(), self.arg.label())
    }
}

/// Every cell for `contexts`, in sweep order: by context, then prep (so sessions and once-per-
/// session preps are shared by neighbours), then keyword and class. QUIT comes last in each
/// (context, prep): it ends the session.
pub fn cells(contexts: &[Context]) -> Vec<Cell> {
    let mut out = Vec::new();
    for &ctx in contexts {
        for prep in PREPS {
            if !prep.contexts().contains(&ctx) {
                continue;
            }
            for keyword in Keyword::ALL.iter().copied().filter(|&k| k != Keyword::Quit).chain([Keyword::Quit]) {
                for arg in ArgClass::ALL {
                    if arg.applies_to(keyword.kind()) {
                        out.push(Cell { ctx, prep, keyword, arg });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_has_every_keyword_class_and_state() {
        let all = cells(&Context::ALL);
        let n = |k: Kind| ArgClass::ALL.iter().filter(|a| a.applies_to(k)).count();
        let per_prep: usize = Keyword::ALL.iter().map(|k| n(k.kind())).sum();
        // Authorization: fresh, errors, failed login; after STLS: inside TLS; transaction: six.
        assert_eq!(all.len(), per_prep * (3 + 1 + 6));
        for k in Keyword::ALL {
            assert!(all.iter().any(|c| c.keyword == k));
        }
        for a in ArgClass::ALL {
            assert!(all.iter().any(|c| c.arg == a), "{a:?}");
        }
        for p in PREPS {
            assert!(all.iter().any(|c| c.prep == p), "{p:?}");
        }
        // Deterministic, no duplicates.
        assert_eq!(all, cells(&Context::ALL));
        let set: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len());
        // Only the contexts asked for.
        assert!(cells(&[Context::Authorization]).iter().all(|c| c.ctx == Context::Authorization));
    }

    #[test]
    fn lines_render_each_class() {
        let cell = |keyword, arg| Cell { ctx: Context::Transaction, prep: Prep::Fresh, keyword, arg };
        let line = |k, a, m| cell(k, a).line(m).map(|l| String::from_utf8_lossy(&l).into_owned());
        assert_eq!(line(Keyword::Retr, ArgClass::Last, 3).as_deref(), Some("RETR 3\r\n"));
        assert_eq!(line(Keyword::Retr, ArgClass::PastLast, 3).as_deref(), Some("RETR 4\r\n"));
        assert_eq!(line(Keyword::Retr, ArgClass::Last, 0), None);
        assert_eq!(line(Keyword::Top, ArgClass::U32Over, 3).as_deref(), Some("TOP 4294967296 0\r\n"));
        assert_eq!(line(Keyword::TopLines, ArgClass::I32Over, 3).as_deref(), Some("TOP 1 2147483648\r\n"));
        assert_eq!(line(Keyword::Top, ArgClass::None, 3).as_deref(), Some("TOP\r\n"));
        assert_eq!(line(Keyword::Stat, ArgClass::Tab, 3).as_deref(), Some("STAT\t1\r\n"));
        assert_eq!(line(Keyword::List, ArgClass::Empty, 3).as_deref(), Some("LIST \r\n"));
        assert_eq!(line(Keyword::Unknown, ArgClass::None, 3).as_deref(), Some("XYZZY\r\n"));
        assert!(line(Keyword::Uidl, ArgClass::OverLong, 3).unwrap().len() > 255);
        assert_eq!(cell(Keyword::Dele, ArgClass::Nul).line(1).unwrap(), b"DELE 1\x001\r\n");
        for c in cells(&Context::ALL) {
            if let Some(l) = c.line(3) {
                assert!(l.ends_with(b"\r\n") && l.iter().filter(|&&b| b == b'\n').count() == 1, "{c:?}");
            }
        }
    }

    #[test]
    fn preps_reach_their_state_and_once_per_session_preps_are_sent_once() {
        let c =
            Cell { ctx: Context::Transaction, prep: Prep::DeleRsetDele, keyword: Keyword::Retr, arg: ArgClass::One };
        let r = c.render(3, false).unwrap();
        let wire: Vec<u8> = r.prep.iter().flat_map(Case::wire).collect();
        assert_eq!(wire, b"RSET\r\nDELE 1\r\nRSET\r\nDELE 1\r\n");
        assert_eq!(r.target.wire(), b"RETR 1\r\n");
        let other = Cell { prep: Prep::DeleOther, ..c };
        assert!(other.render(1, false).is_none(), "DELE of another needs two messages");
        let login = Cell {
            ctx: Context::Authorization,
            prep: Prep::AfterFailedLogin,
            keyword: Keyword::User,
            arg: ArgClass::One,
        };
        assert_eq!(login.render(0, false).unwrap().prep.len(), 2);
        assert!(login.render(0, true).unwrap().prep.is_empty());
        // QUIT closes the session: last of its (context, prep).
        let all = cells(&[Context::Authorization]);
        let fresh: Vec<_> = all.iter().filter(|c| c.prep == Prep::Fresh).collect();
        assert_eq!(fresh.last().unwrap().keyword, Keyword::Quit);
    }
}
