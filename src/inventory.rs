//! What the tester found out about the target before running any check: which optional commands
//! it answers, what the test account's maildrop holds (and whether it is pop3test's standard
//! maildrop), whether a second, empty account is there, and how long the server makes a failed
//! login wait. Pure data and pure classification of message bytes, no I/O: the run's first
//! session (`runner::probe`) fills it in; scenarios and checks read it to decide what applies,
//! and a check whose need is not met is skipped with a reason saying how to meet it
//! ([`Inventory::unmet`]).

use std::time::Duration;

/// Message-ID of message `n` (1-based) of the standard maildrop (`server::seed`), as it appears
/// in the header, angle brackets included. Recognising the seed by Message-ID (not by number or
/// size) finds it wherever the server put it and whatever headers delivery added.
pub fn seed_message_id(n: usize) -> String {
    format!("<pop3test-{n}@example.org>")
}

/// How many messages the standard maildrop has.
pub const SEED_MESSAGES: usize = 6;

/// What a server was seen to do with an optional command: tried and answered `+OK`, tried and
/// refused, or never tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Support {
    #[default]
    Unknown,
    Yes,
    No,
}

impl Support {
    pub fn from_ok(ok: bool) -> Support {
        if ok {
            Support::Yes
        } else {
            Support::No
        }
    }
}

/// A property of a message that some checks need (`requires: ["message dot-lines"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// A line that begins with `.` (RFC 1939 §3 byte-stuffing applies to it).
    DotLines,
    /// No body: the header and its blank line, nothing after.
    EmptyBody,
    /// An octet above 0x7F.
    EightBit,
    /// A line of at least [`LONG_LINE`] octets (CRLF not counted).
    LongLine,
    /// At least [`LARGE`] octets.
    Large,
    /// At least [`LONG_BODY`] body lines (TOP has lines to cut).
    LongBody,
}

/// "Long line": longer than the 512 octets a status line may have (RFC 1939 §3), where fixed
/// line buffers sized for commands break.
pub const LONG_LINE: usize = 513;
/// "Large": larger than common socket buffers, so that a reply spans many reads and writes.
pub const LARGE: u64 = 128 * 1024;
/// "Long body": enough lines that `TOP n 5` cuts the body.
pub const LONG_BODY: u64 = 6;

impl Feature {
    pub const ALL: [Feature; 6] = [
        Feature::DotLines,
        Feature::EmptyBody,
        Feature::EightBit,
        Feature::LongLine,
        Feature::Large,
        Feature::LongBody,
    ];

    /// The name used in scenario files (`message dot-lines`) and in `${mail.NAME}` (with `_`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::DotLines => "dot-lines",
            Feature::EmptyBody => "empty-body",
            Feature::EightBit => "8bit",
            Feature::LongLine => "long-line",
            Feature::Large => "large",
            Feature::LongBody => "long-body",
        }
    }

    /// The variable field that holds the number of a message with this feature: `${mail.dot_lines}`.
    pub fn var(self) -> &'static str {
        match self {
            Feature::DotLines => "dot_lines",
            Feature::EmptyBody => "empty_body",
            Feature::EightBit => "eight_bit",
            Feature::LongLine => "long_line",
            Feature::Large => "large",
            Feature::LongBody => "long_body",
        }
    }

    /// What it means, for skip reasons ("needs a message with ...").
    pub fn describe(self) -> &'static str {
        match self {
            Feature::DotLines => "a line that begins with a dot",
            Feature::EmptyBody => "an empty body",
            Feature::EightBit => "8-bit octets",
            Feature::LongLine => "a line longer than 512 octets",
            Feature::Large => "at least 128 KiB",
            Feature::LongBody => "at least 6 body lines",
        }
    }

    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(s))
    }
}

/// The shape of one retrieved message (its unstuffed octets, CRLF line ends as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Header lines, the blank line not counted.
    pub header_lines: u64,
    /// Lines after the blank line (0 when there is none).
    pub body_lines: u64,
    pub dot_lines: bool,
    pub eight_bit: bool,
    /// Octets of the longest line, line end not counted.
    pub longest_line: usize,
    pub octets: u64,
}

impl Shape {
    /// Classifies a message as RETR delivered it (after un-byte-stuffing).
    pub fn of(message: &[u8]) -> Shape {
        let mut s = Shape { octets: message.len() as u64, ..Shape::default() };
        let mut in_header = true;
        for line in message.split_inclusive(|&b| b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            s.longest_line = s.longest_line.max(text.len());
            s.eight_bit |= text.iter().any(|&b| b > 0x7f);
            if in_header {
                if text.is_empty() {
                    in_header = false;
                } else {
                    s.header_lines += 1;
                }
            } else {
                s.body_lines += 1;
                s.dot_lines |= text.first() == Some(&b'.');
            }
        }
        s
    }

    pub fn has(&self, f: Feature) -> bool {
        match f {
            Feature::DotLines => self.dot_lines,
            Feature::EmptyBody => self.body_lines == 0,
            Feature::EightBit => self.eight_bit,
            Feature::LongLine => self.longest_line >= LONG_LINE,
            Feature::Large => self.octets >= LARGE,
            Feature::LongBody => self.body_lines >= LONG_BODY,
        }
    }
}

/// The Message-ID of a message header (the first `Message-ID:` field, unfolded, trimmed), if any.
pub fn message_id(header: &[u8]) -> Option<String> {
    let mut lines = header.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        if !line[..colon].eq_ignore_ascii_case(b"message-id") {
            continue;
        }
        let mut value = String::from_utf8_lossy(&line[colon + 1..]).into_owned();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                value.push(' ');
                value.push_str(&String::from_utf8_lossy(next));
                lines.next();
            } else {
                break;
            }
        }
        let v = value.split_whitespace().collect::<Vec<_>>().join(" ");
        return (!v.is_empty()).then_some(v);
    }
    None
}

/// One message of the maildrop as the probe saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFacts {
    pub number: u64,
    /// The size the scan listing gave.
    pub size: u64,
    pub message_id: Option<String>,
    /// `None`: not retrieved (over the probe's budget, or RETR failed).
    pub shape: Option<Shape>,
}

/// The test account's maildrop as the probe saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Maildrop {
    /// From STAT.
    pub count: u64,
    pub octets: u64,
    /// From LIST, in message-number order.
    pub messages: Vec<MessageFacts>,
}

impl Maildrop {
    /// The number of standard message `n` (1-based), when present.
    pub fn seed_number(&self, n: usize) -> Option<u64> {
        let id = seed_message_id(n);
        self.messages
            .iter()
            .find(|m| m.message_id.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&id)))
            .map(|m| m.number)
    }

    /// How many of the standard messages are present.
    pub fn seed_found(&self) -> usize {
        (1..=SEED_MESSAGES).filter(|&n| self.seed_number(n).is_some()).count()
    }

    /// The lowest-numbered message with `f`, among those retrieved.
    pub fn first_with(&self, f: Feature) -> Option<u64> {
        self.messages.iter().find(|m| m.shape.is_some_and(|s| s.has(f))).map(|m| m.number)
    }

    /// Standard messages present here that were delivered with `f` but are served without it
    /// (`(standard number, number here)`): the server changed them on the way in or out, e.g.
    /// an mbox server that counts the separator's empty line as the body.
    pub fn seed_altered(&self, f: Feature) -> Vec<(usize, u64)> {
        crate::server::seed::default_messages()
            .iter()
            .enumerate()
            .filter(|(_, m)| Shape::of(m).has(f))
            .filter_map(|(i, _)| {
                let number = self.seed_number(i + 1)?;
                let here = self.messages.iter().find(|m| m.number == number)?.shape?;
                (!here.has(f)).then_some((i + 1, number))
            })
            .collect()
    }

    /// Messages the probe did not retrieve.
    pub fn unread(&self) -> usize {
        self.messages.iter().filter(|m| m.shape.is_none()).count()
    }
}

/// What the probe measured of the server's failed-login delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthDelay {
    /// How long the `-ERR` to a wrong password took.
    pub failed: Duration,
    /// How long the correct login right after it took (servers that penalise an address after a
    /// failure, like Dovecot's auth penalty, slow this one down).
    pub next: Duration,
}

impl AuthDelay {
    /// Below this a delay is the round trip, not a policy.
    pub const NOTICEABLE: Duration = Duration::from_millis(300);

    pub fn noticeable(&self) -> bool {
        self.failed.max(self.next) >= Self::NOTICEABLE
    }

    /// How much longer than usual a reply to a login command may take. Penalties grow with
    /// repeated failures (Dovecot doubles them, up to 15 s after 2 s), so the allowance is a
    /// multiple of what one failure cost, bounded so that a silent server still fails in time.
    pub fn allowance(&self) -> Duration {
        if !self.noticeable() {
            return Duration::ZERO;
        }
        (self.failed.max(self.next) * 8).min(Duration::from_secs(60))
    }
}

/// Everything the probe learnt; the default is "nothing known".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// CAPA answered `+OK` (RFC 2449 is optional).
    pub capa: Support,
    /// The test account logged in (so a later refusal of it is the server's policy, not the
    /// credentials).
    pub login: Support,
    /// USER/PASS worked for the test account (RFC 1939 §7 makes USER optional too).
    pub user: Support,
    pub top: Support,
    pub uidl: Support,
    /// The test account's maildrop, when the probe could log in and list it.
    pub maildrop: Option<Maildrop>,
    /// `Some(n)`: the `--empty-user` account logged in and holds `n` messages.
    pub empty_account: Option<Result<u64, String>>,
    pub auth_delay: Option<AuthDelay>,
    /// A second login of the test account was refused while the first session was open.
    pub lock: Support,
}

/// What a check may need of the target's data, beyond capabilities (`requires:` in a scenario).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataNeed {
    /// pop3test's standard maildrop (all six messages, found by Message-ID).
    Seed,
    /// At least this many messages.
    Messages(u64),
    /// A message with this feature.
    Message(Feature),
    /// A second account whose maildrop is empty (`--empty-user`).
    EmptyAccount,
    /// The server refuses a second session of the same user (it locks maildrops, RFC 1939 §4).
    Lock,
}

impl std::fmt::Display for DataNeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataNeed::Seed => f.write_str("seed"),
            DataNeed::Messages(n) => write!(f, "messages {n}"),
            DataNeed::Message(feat) => write!(f, "message {}", feat.name()),
            DataNeed::EmptyAccount => f.write_str("empty-account"),
            DataNeed::Lock => f.write_str("maildrop-lock"),
        }
    }
}

impl DataNeed {
    /// Parses the `requires:` forms `seed`, `messages N`, `message FEATURE`, `empty-account`,
    /// `maildrop-lock`.
    pub fn parse(s: &str) -> Option<DataNeed> {
        let mut words = s.split_whitespace();
        match (words.next()?, words.next(), words.next()) {
            ("seed", None, None) => Some(DataNeed::Seed),
            ("empty-account", None, None) => Some(DataNeed::EmptyAccount),
            ("maildrop-lock", None, None) => Some(DataNeed::Lock),
            ("messages", Some(n), None) => n.parse().ok().filter(|&n| n > 0).map(DataNeed::Messages),
            ("message", Some(f), None) => Feature::parse(f).map(DataNeed::Message),
            _ => None,
        }
    }
}

const HOW_TO_SEED: &str = "seed it with `pop3test seed` (README: Seeding a server)";

impl Inventory {
    /// Why `need` is not met here, phrased as what to do about it; `None` when it is met.
    /// `user` names the test account in the message.
    pub fn unmet(&self, need: DataNeed, user: &str) -> Option<String> {
        if need == DataNeed::EmptyAccount {
            return match &self.empty_account {
                None => Some(
                    "needs a second account whose maildrop is empty: pass --empty-user NAME and \
                     --empty-password-env VAR"
                        .into(),
                ),
                Some(Err(why)) => Some(format!("the --empty-user account could not be used: {why}")),
                Some(Ok(0)) => None,
                Some(Ok(n)) => {
                    Some(format!("needs the --empty-user account's maildrop to be empty, and it holds {n} message(s)"))
                }
            };
        }
        if need == DataNeed::Lock {
            return match self.lock {
                Support::Yes => None,
                Support::No => Some(
                    "the server let a second session of the same user in while the first was open (it does not \
                     lock maildrops: rfc1939/maildrop-lock reports that), so there is no refusal to examine"
                        .into(),
                ),
                Support::Unknown => Some(
                    "needs to know whether the server locks maildrops, and the first session could not tell".into(),
                ),
            };
        }
        let Some(m) = &self.maildrop else {
            return Some(format!(
                "needs to know what `{user}`'s maildrop holds, and the first session could not list it"
            ));
        };
        match need {
            DataNeed::Seed => {
                let found = m.seed_found();
                (found < SEED_MESSAGES).then(|| {
                    format!(
                        "needs pop3test's standard maildrop (six messages with Message-IDs \
                         <pop3test-1@example.org> … <pop3test-6@example.org>); `{user}`'s maildrop has \
                         {found} of them: {HOW_TO_SEED}"
                    )
                })
            }
            DataNeed::Messages(n) => (m.count < n).then(|| {
                format!(
                    "needs at least {n} message(s) in `{user}`'s maildrop, which has {}: add mail or {HOW_TO_SEED}",
                    m.count
                )
            }),
            DataNeed::Message(f) => m.first_with(f).is_none().then(|| {
                if let Some(&(standard, here)) = m.seed_altered(f).first() {
                    return format!(
                        "needs a message with {}: standard message {standard} was delivered with one, but the \
                         server serves it (message {here}) without, so the server changed it; nothing else in \
                         `{user}`'s maildrop has one",
                        f.describe()
                    );
                }
                let unread = match m.unread() {
                    0 => String::new(),
                    k => format!(", {k} not read: over the first session's budget"),
                };
                format!(
                    "needs a message with {} in `{user}`'s maildrop, and none of its {} message(s) has one{unread}: \
                     {HOW_TO_SEED}",
                    f.describe(),
                    m.count
                )
            }),
            DataNeed::EmptyAccount | DataNeed::Lock => unreachable!("handled above"),
        }
    }

    /// The `mail.*` and `seed.*` variables scenarios use to name messages by what they are, not
    /// by number: `(name, value)` pairs. Absent facts give no variable (a scenario that needs one
    /// declares the need, so it is skipped before it would read it).
    pub fn variables(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let Some(m) = &self.maildrop else { return v };
        v.push(("mail".into(), m.count.to_string()));
        v.push(("mail.count".into(), m.count.to_string()));
        v.push(("mail.octets".into(), m.octets.to_string()));
        v.push(("mail.last".into(), m.count.to_string()));
        v.push(("mail.beyond".into(), (m.count + 1).to_string()));
        for f in Feature::ALL {
            if let Some(n) = m.first_with(f) {
                v.push((format!("mail.{}", f.var()), n.to_string()));
            }
        }
        v.push(("seed".into(), m.seed_found().to_string()));
        for n in 1..=SEED_MESSAGES {
            if let Some(num) = m.seed_number(n) {
                v.push((format!("seed.{n}"), num.to_string()));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_counts_header_body_and_features() {
        let m = b"From: a\r\nSubject: b\r\n\r\n.dot\r\nplain \xc3\xa9\r\n";
        let s = Shape::of(m);
        assert_eq!((s.header_lines, s.body_lines), (2, 2));
        assert!(s.dot_lines && s.eight_bit && !s.has(Feature::EmptyBody) && !s.has(Feature::LongLine));
        let empty = Shape::of(b"From: a\r\n\r\n");
        assert!(empty.has(Feature::EmptyBody) && !empty.dot_lines);
        // A dot at the start of a header line is not a body dot line; no blank line: all header.
        let all_header = Shape::of(b"From: a\r\n.x: y\r\n");
        assert_eq!((all_header.header_lines, all_header.body_lines), (2, 0));
        let long = Shape::of(format!("A: b\r\n\r\n{}\r\n", "x".repeat(600)).as_bytes());
        assert!(long.has(Feature::LongLine) && long.longest_line == 600);
    }

    #[test]
    fn message_id_is_found_case_insensitively_and_unfolded() {
        assert_eq!(message_id(b"From: x\r\nmessage-id:\r\n  <a@b>\r\n\r\nbody"), Some("<a@b>".into()));
        assert_eq!(message_id(b"Message-ID: <pop3test-2@example.org>\r\n"), Some(seed_message_id(2)));
        assert_eq!(message_id(b"From: x\r\n\r\nMessage-ID: <in-body@x>\r\n"), None);
        assert_eq!(message_id(b"X-Message-ID: <no@x>\r\n"), None);
    }

    fn drop_with(ids: &[(u64, Option<&str>)]) -> Maildrop {
        Maildrop {
            count: ids.len() as u64,
            octets: 0,
            messages: ids
                .iter()
                .map(|(n, id)| MessageFacts {
                    number: *n,
                    size: 10,
                    message_id: id.map(str::to_string),
                    shape: Some(Shape::of(b"A: b\r\n\r\nbody\r\n")),
                })
                .collect(),
        }
    }

    #[test]
    fn seed_is_recognised_wherever_it_is_and_reported_when_partial() {
        let mut ids: Vec<(u64, Option<String>)> = vec![(1, Some("<other@x>".into()))];
        for n in 1..=SEED_MESSAGES {
            ids.push((n as u64 + 1, Some(seed_message_id(n))));
        }
        let borrowed: Vec<(u64, Option<&str>)> = ids.iter().map(|(n, s)| (*n, s.as_deref())).collect();
        let inv = Inventory { maildrop: Some(drop_with(&borrowed)), ..Inventory::default() };
        assert_eq!(inv.unmet(DataNeed::Seed, "u"), None);
        assert_eq!(inv.maildrop.as_ref().unwrap().seed_number(2), Some(3));
        assert!(inv.variables().contains(&("seed.6".to_string(), "7".to_string())));
        // Every message here has a one-line body: standard message 3, delivered empty, was changed.
        let why = inv.unmet(DataNeed::Message(Feature::EmptyBody), "u").unwrap();
        assert!(why.contains("standard message 3") && why.contains("(message 4)") && why.contains("changed"), "{why}");
        let partial = Inventory { maildrop: Some(drop_with(&borrowed[..3])), ..Inventory::default() };
        let why = partial.unmet(DataNeed::Seed, "alice").unwrap();
        assert!(why.contains("has 2 of them") && why.contains("pop3test seed"), "{why}");
    }

    #[test]
    fn unmet_needs_say_how_to_meet_them() {
        let inv = Inventory { maildrop: Some(drop_with(&[(1, None)])), ..Inventory::default() };
        assert!(inv.unmet(DataNeed::Messages(1), "u").is_none());
        assert!(inv.unmet(DataNeed::Messages(2), "u").unwrap().contains("which has 1"));
        assert!(inv.unmet(DataNeed::Message(Feature::DotLines), "u").unwrap().contains("begins with a dot"));
        assert!(inv.unmet(DataNeed::EmptyAccount, "u").unwrap().contains("--empty-user"));
        let with_empty = Inventory { empty_account: Some(Ok(2)), ..inv.clone() };
        assert!(with_empty.unmet(DataNeed::EmptyAccount, "u").unwrap().contains("holds 2"));
        assert!(Inventory::default().unmet(DataNeed::Messages(1), "u").unwrap().contains("could not list"));
    }

    #[test]
    fn data_needs_parse_and_print_the_same() {
        for s in ["seed", "messages 2", "message dot-lines", "message 8bit", "empty-account", "maildrop-lock"] {
            assert_eq!(DataNeed::parse(s).unwrap().to_string(), s);
        }
        for bad in ["messages 0", "messages x", "message dots", "seed 2", ""] {
            assert_eq!(DataNeed::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn auth_allowance_follows_the_measured_delay() {
        assert_eq!(AuthDelay::default().allowance(), Duration::ZERO);
        let d = AuthDelay { failed: Duration::from_secs(2), next: Duration::from_secs(4) };
        assert_eq!(d.allowance(), Duration::from_secs(32));
        let huge = AuthDelay { failed: Duration::from_secs(30), next: Duration::ZERO };
        assert_eq!(huge.allowance(), Duration::from_secs(60));
    }
}
