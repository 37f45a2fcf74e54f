//! Case generation: proptest strategies that know the POP3 grammar (RFC 1939 §3, RFC 2449 §4,
//! RFC 5034 §4). A case is generated as a structured [`Spec`] — a keyword, a number, a length, a
//! list of byte pieces — so that proptest's `ValueTree` shrinks it by *meaning* (a line length by
//! binary search, a number towards a simpler boundary, a keyword towards an earlier one), and only
//! then rendered to the bytes that go on the wire ([`Spec::render`]).
//!
//! Every strategy here is concrete (no boxing), so its value tree is `Send`; the weights are the
//! share of cases each family gets.

use super::case::{Case, Chunk};
use arbitrary::{Arbitrary, Unstructured};
use proptest::collection::vec;
use proptest::num::usize::BinarySearch;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, NewTree};
use proptest::test_runner::TestRunner;

/// Every keyword of RFC 1939, 2449, 2595, 5034 and 6856.
pub const KEYWORDS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP",
    "UIDL", "UTF8", "LANG",
];

/// Keywords that take a message number (RFC 1939 §5, §7).
pub const NUMBERED: &[&str] = &["LIST", "RETR", "DELE", "TOP", "UIDL"];

/// Keywords for junk-carrying lines: every keyword but AUTH (whose continuation lines would swallow
/// the lines after it) plus the empty keyword.
const CARRIERS: &[&str] =
    &["NOOP", "USER", "PASS", "LIST", "RETR", "STAT", "APOP", "CAPA", "TOP", "UIDL", "DELE", "STLS", "LANG", ""];

/// Message-number arguments at the edges: signs, leading zeros, the 31/32/64-bit limits and one
/// past each, digits beyond any integer type, other bases, whitespace, format strings.
pub const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "+1",
    "01",
    "00000000000000000001",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "4294967297",
    "4294967298",
    "18446744073709551615",
    "18446744073709551616",
    "18446744073709551617",
    "99999999999999999999999999999999",
    "0x1",
    "1a",
    "1.0",
    "1e3",
    "-0",
    " 1",
    "1 ",
    "\t1",
    "1\t",
    "1 2",
    "1 2 3",
    "%n",
    "%s%s%s%s",
    "%x%x%x",
    "",
    "\u{0661}",
    "1\0",
];

/// Line lengths around the limits: the 40-character argument (RFC 1939 §3), the 255-octet
/// command (RFC 2449 §4), the 512-octet response an echo could overflow, 1 KiB, 8 KiB, 64 KiB.
pub const LENGTHS: &[usize] = &[40, 41, 254, 255, 256, 300, 511, 512, 513, 1024, 1025, 4096, 8192, 65536];

/// SASL payloads: bad base64, the empty response `=`, the cancel `*`, padding only, a valid
/// encoding of wrong credentials (RFC 5034 §4).
const SASL_DATA: &[&str] = &["=", "*", "!!!!", "AAAA", "====", "A", "AG1yb3NlAHdyb25n", "bXJvc2U=", "%n", "-"];

const MECHANISMS: &[&str] = &["PLAIN", "LOGIN", "plain", "CRAM-MD5", "X-UNKNOWN", "PLAIN PLAIN", "*", "="];

/// Filler octets for long lines.
const FILL: &[u8] = b"A1 %=\x80";

/// Whitespace variants between keyword and arguments (RFC 1939 §3: "separated by a single SPACE").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sep {
    Space,
    Double,
    Tab,
    Trailing,
    Leading,
}

/// One generated case, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// A command line from a keyword (possibly mutated) and arguments.
    Line { keyword: String, args: Vec<String>, sep: Sep },
    /// A numbered command with an edge-case argument (`TOP` gets a second one).
    Number { keyword: &'static str, arg: String, second: Option<String> },
    /// A keyword and `len` filler octets: one line around a length limit.
    Long { keyword: &'static str, len: usize, fill: u8 },
    /// A keyword and unstructured bytes (NUL, bare CR/LF, 8-bit, invalid UTF-8, format strings).
    Bytes { keyword: &'static str, payload: Vec<u8> },
    /// AUTH with an initial response and the lines answering the server's challenges.
    Auth { mechanism: &'static str, initial: Option<String>, continuations: Vec<String> },
    /// Several lines pipelined in one go, cut into TCP segments at the given fractions.
    Burst { lines: Vec<Spec>, cuts: Vec<u16> },
}

impl Spec {
    /// The bytes to send. Every case ends with CRLF so a correct server always has a complete
    /// line to answer (a missing reply is then the server's fault, not a half-sent line).
    pub fn render(&self) -> Case {
        match self {
            Spec::Burst { lines, cuts } => {
                // Lines that change the session under the pipeline's feet are left out: STLS (the
                // rest would be plaintext the server must discard, RFC 2595 §4), AUTH (the rest
                // would be SASL data) and QUIT.
                let mut wire = Vec::new();
                for l in lines {
                    let bytes = l.line_bytes();
                    if !matches!(super::case::keyword_of(&bytes).as_str(), "STLS" | "AUTH" | "QUIT") {
                        wire.extend_from_slice(&bytes);
                    }
                }
                if wire.is_empty() {
                    wire.extend_from_slice(b"NOOP\r\n");
                }
                let mut at: Vec<usize> = cuts
                    .iter()
                    .map(|&c| (c as usize * wire.len()) / 65536)
                    .filter(|&i| i > 0 && i < wire.len())
                    .collect();
                at.sort_unstable();
                at.dedup();
                let mut chunks = Vec::new();
                let mut start = 0;
                for i in at.into_iter().chain(std::iter::once(wire.len())) {
                    chunks.push(Chunk { bytes: wire[start..i].to_vec(), after_replies: false });
                    start = i;
                }
                Case { chunks }
            }
            Spec::Auth { mechanism, initial, continuations } => {
                let mut first = format!("AUTH {mechanism}").into_bytes();
                if let Some(ir) = initial {
                    first.push(b' ');
                    first.extend_from_slice(ir.as_bytes());
                }
                first.extend_from_slice(b"\r\n");
                let mut chunks = vec![Chunk { bytes: first, after_replies: false }];
                for c in continuations {
                    chunks.push(Chunk { bytes: format!("{c}\r\n").into_bytes(), after_replies: true });
                }
                Case { chunks }
            }
            other => Case { chunks: vec![Chunk { bytes: other.line_bytes(), after_replies: false }] },
        }
    }

    /// One line with its CRLF (bursts concatenate these).
    fn line_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        match self {
            Spec::Line { keyword, args, sep } => {
                if *sep == Sep::Leading {
                    out.push(b' ');
                }
                out.extend_from_slice(keyword.as_bytes());
                for a in args {
                    out.extend_from_slice(match sep {
                        Sep::Double => b"  ",
                        Sep::Tab => b"\t",
                        _ => b" ",
                    });
                    out.extend_from_slice(a.as_bytes());
                }
                if *sep == Sep::Trailing {
                    out.push(b' ');
                }
            }
            Spec::Number { keyword, arg, second } => {
                out.extend_from_slice(keyword.as_bytes());
                out.push(b' ');
                out.extend_from_slice(arg.as_bytes());
                if let Some(s) = second {
                    out.push(b' ');
                    out.extend_from_slice(s.as_bytes());
                }
            }
            Spec::Long { keyword, len, fill } => {
                out.extend_from_slice(keyword.as_bytes());
                if !keyword.is_empty() {
                    out.push(b' ');
                }
                out.resize(out.len() + len, *fill);
            }
            Spec::Bytes { keyword, payload } => {
                out.extend_from_slice(keyword.as_bytes());
                if !keyword.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(payload);
            }
            Spec::Auth { .. } | Spec::Burst { .. } => {
                let case = self.render();
                return case.wire();
            }
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// A length near one of [`LENGTHS`] that shrinks by binary search towards 0, so a failure that
/// needs "a line longer than N" shrinks to just over N.
#[derive(Debug, Clone, Copy)]
pub struct NearLimit;

impl Strategy for NearLimit {
    type Tree = BinarySearch;
    type Value = usize;
    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let r = runner.rng().next_u64();
        let base = LENGTHS[(r % LENGTHS.len() as u64) as usize];
        let jitter = ((r >> 32) % 5) as usize;
        Ok(BinarySearch::new((base + jitter).saturating_sub(2)))
    }
}

/// Pieces of unstructured input, decoded with `arbitrary` from raw bytes (proptest shrinks the raw
/// bytes; the pieces follow).
#[derive(Debug, Clone, Arbitrary)]
enum Piece {
    Nul,
    BareCr,
    BareLf,
    Tab,
    Space,
    High(u8),
    InvalidUtf8,
    Format,
    Digits(u8),
    Ascii(u8),
    Base64,
    Traversal,
}

fn pieces_to_bytes(raw: &[u8]) -> Vec<u8> {
    let mut u = Unstructured::new(raw);
    let mut out = Vec::new();
    for _ in 0..24 {
        let Ok(p) = Piece::arbitrary(&mut u) else { break };
        match p {
            Piece::Nul => out.push(0),
            Piece::BareCr => out.push(b'\r'),
            Piece::BareLf => out.push(b'\n'),
            Piece::Tab => out.push(b'\t'),
            Piece::Space => out.push(b' '),
            Piece::High(b) => out.push(b | 0x80),
            Piece::InvalidUtf8 => out.extend_from_slice(b"\xc3\x28\xff"),
            Piece::Format => out.extend_from_slice(b"%n%s%x"),
            Piece::Digits(n) => out.extend_from_slice((n as u64 * 1_000_003).to_string().as_bytes()),
            Piece::Ascii(b) => out.push(0x21 + b % 94),
            Piece::Base64 => out.extend_from_slice(b"AAAA=="),
            Piece::Traversal => out.extend_from_slice(b"../"),
        }
        if u.is_empty() {
            break;
        }
    }
    out
}

fn case_variant(k: &str, mask: u8) -> String {
    k.chars().enumerate().map(|(i, c)| if mask & (1 << (i % 8)) != 0 { c.to_ascii_lowercase() } else { c }).collect()
}

/// Keywords: valid, in case variants, truncated, extended, unknown, empty.
fn keyword() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => select(KEYWORDS).prop_map(str::to_string),
        3 => (select(KEYWORDS), any::<u8>()).prop_map(|(k, m)| case_variant(k, m)),
        1 => (select(KEYWORDS), 1usize..4).prop_map(|(k, n)| k[..n.min(k.len() - 1)].to_string()),
        1 => (select(KEYWORDS), select(&["X", "1", "S", "LIST"][..])).prop_map(|(k, s)| format!("{k}{s}")),
        1 => vec(select(&b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[..]), 1..9).prop_map(|v| String::from_utf8(v).unwrap_or_default()),
        1 => Just(String::new()),
    ]
}

/// Plausible arguments: small numbers, names, the 40-character limit and one past it.
fn argument() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => (0u64..9).prop_map(|n| n.to_string()),
        2 => select(&["mrose", "x", "de", "PLAIN", "*", "="][..]).prop_map(str::to_string),
        1 => select(&[40usize, 41][..]).prop_map(|n| "a".repeat(n)),
        1 => select(NUMBERS).prop_map(str::to_string),
    ]
}

fn sep() -> impl Strategy<Value = Sep> + Clone {
    prop_oneof![8 => Just(Sep::Space), 1 => Just(Sep::Double), 1 => Just(Sep::Tab), 1 => Just(Sep::Trailing), 1 => Just(Sep::Leading)]
}

fn line() -> impl Strategy<Value = Spec> + Clone {
    (keyword(), vec(argument(), 0..3), sep()).prop_map(|(keyword, args, sep)| Spec::Line { keyword, args, sep })
}

/// Well-formed commands with small message numbers: they move the session through its states
/// (DELE, RSET, USER, STLS...) so the other families run against every state.
fn valid() -> impl Strategy<Value = Spec> + Clone {
    let n = || (0u64..9).prop_map(|n| vec![n.to_string()]);
    let kw = |k: &'static str| Just(k.to_string());
    prop_oneof![
        3 => (select(&["STAT", "NOOP", "RSET", "CAPA", "LIST", "UIDL", "STLS", "UTF8", "LANG"][..]))
            .prop_map(|k| (k.to_string(), Vec::new())),
        5 => (select(&["LIST", "RETR", "DELE", "UIDL"][..]).prop_map(str::to_string), n()),
        1 => (kw("TOP"), (0u64..9, 0u64..4).prop_map(|(a, b)| vec![a.to_string(), b.to_string()])),
        2 => (kw("USER"), select(&["mrose", "nobody", "empty"][..]).prop_map(|u| vec![u.to_string()])),
        1 => (kw("PASS"), select(&["wrong", "x y z", "%n"][..]).prop_map(|p| vec![p.to_string()])),
        1 => (kw("APOP"), (0usize..65, any::<bool>()).prop_map(|(len, upper)| {
            let hex: String = "0123456789abcdef".chars().cycle().take(len).collect();
            vec!["mrose".to_string(), if upper { hex.to_uppercase() } else { hex }]
        })),
    ]
    .prop_map(|(keyword, args)| Spec::Line { keyword, args, sep: Sep::Space })
}

fn number() -> impl Strategy<Value = Spec> + Clone {
    let arg = || {
        prop_oneof![
            6 => select(NUMBERS).prop_map(str::to_string),
            2 => (1u64..9).prop_map(|k| ((1u64 << 32) + k).to_string()),
            1 => any::<u64>().prop_map(|n| n.to_string()),
            1 => vec(select(&b"0123456789"[..]), 20..41).prop_map(|v| String::from_utf8(v).unwrap_or_default()),
        ]
    };
    (select(NUMBERED), arg(), arg()).prop_map(|(keyword, arg, second)| Spec::Number {
        keyword,
        arg,
        second: (keyword == "TOP").then_some(second),
    })
}

fn long() -> impl Strategy<Value = Spec> + Clone {
    (select(CARRIERS), NearLimit, select(FILL)).prop_map(|(keyword, len, fill)| Spec::Long { keyword, len, fill })
}

fn bytes() -> impl Strategy<Value = Spec> + Clone {
    (select(CARRIERS), vec(any::<u8>(), 1..48))
        .prop_map(|(keyword, raw)| Spec::Bytes { keyword, payload: pieces_to_bytes(&raw) })
}

fn sasl_data() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => select(SASL_DATA).prop_map(str::to_string),
        1 => NearLimit.prop_map(|n| "A".repeat(n.min(16 * 1024))),
    ]
}

fn auth() -> impl Strategy<Value = Spec> + Clone {
    (select(MECHANISMS), proptest::option::of(sasl_data()), vec(sasl_data(), 0..3))
        .prop_map(|(mechanism, initial, continuations)| Spec::Auth { mechanism, initial, continuations })
}

fn burst() -> impl Strategy<Value = Spec> + Clone {
    let member = prop_oneof![3 => valid(), 2 => number(), 1 => line()];
    (vec(member, 1..7), vec(any::<u16>(), 0..3)).prop_map(|(lines, cuts)| Spec::Burst { lines, cuts })
}

/// Which families a run draws its cases from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mix {
    /// Every family: also over-long lines, AUTH exchanges and pipelined bursts.
    #[default]
    All,
    /// One command line per case (valid commands, mutated keywords and arguments, edge numbers,
    /// raw bytes): one write and, on a correct server, one reply per case — the fastest mix.
    Single,
}

impl Mix {
    /// The generator for this mix.
    pub fn strategy(self) -> BoxedStrategy<Spec> {
        match self {
            Mix::All => case().boxed(),
            Mix::Single => single().boxed(),
        }
    }
}

/// The single-command families, with the same weights as in [`case`].
pub fn single() -> impl Strategy<Value = Spec> + Clone {
    prop_oneof![
        25 => valid(),
        15 => line(),
        20 => number(),
        12 => bytes(),
    ]
}

/// The whole generator: every family, weighted.
pub fn case() -> impl Strategy<Value = Spec> + Clone {
    prop_oneof![
        25 => valid(),
        15 => line(),
        20 => number(),
        8 => long(),
        12 => bytes(),
        6 => auth(),
        8 => burst(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng};

    fn runner(seed: u8) -> TestRunner {
        TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]))
    }

    #[test]
    fn every_case_ends_with_crlf_and_is_deterministic() {
        let (mut a, mut b) = (runner(7), runner(7));
        let s = case();
        for _ in 0..2000 {
            let x = s.new_tree(&mut a).unwrap().current();
            let y = s.new_tree(&mut b).unwrap().current();
            assert_eq!(x, y);
            let wire = x.render().wire();
            assert!(wire.ends_with(b"\r\n"), "{x:?}");
        }
    }

    #[test]
    fn long_lines_shrink_to_just_over_a_threshold() {
        let mut r = runner(3);
        let s = long();
        for _ in 0..50 {
            let mut tree = s.new_tree(&mut r).unwrap();
            let len = |t: &dyn ValueTree<Value = Spec>| t.current().render().wire().len();
            if len(&tree) <= 302 {
                continue;
            }
            // "fails" while the line is longer than 300 octets: binary search converges on 301..=302.
            let mut best = len(&tree);
            for _ in 0..200 {
                let fails = len(&tree) > 300;
                if fails {
                    best = best.min(len(&tree));
                }
                let moved = if fails { tree.simplify() } else { tree.complicate() };
                if !moved {
                    break;
                }
            }
            assert!((301..=310).contains(&best), "{best}");
        }
    }

    #[test]
    fn families_cover_the_brief() {
        let mut r = runner(1);
        let s = case();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let spec = s.new_tree(&mut r).unwrap().current();
            let wire = spec.render().wire();
            if wire.contains(&0) {
                seen.insert("nul");
            }
            if wire.windows(10).any(|w| w == b"4294967297") {
                seen.insert("wrap");
            }
            if wire.len() > 8000 {
                seen.insert("8k");
            }
            if let Spec::Burst { .. } = spec {
                if spec.render().chunks.len() > 1 {
                    seen.insert("split");
                }
            }
            if wire.starts_with(b"AUTH") {
                seen.insert("auth");
            }
            if wire.first().is_some_and(u8::is_ascii_lowercase) {
                seen.insert("case");
            }
        }
        assert_eq!(seen.len(), 6, "{seen:?}");
    }

    #[test]
    fn pieces_render_control_bytes() {
        let b = pieces_to_bytes(&[0, 0, 1, 0, 2, 0]);
        assert!(!b.is_empty());
        let line = Spec::Line { keyword: "LIST".into(), args: vec!["1".into()], sep: Sep::Trailing };
        assert_eq!(line.render().wire(), b"LIST 1 \r\n");
        let n = Spec::Number { keyword: "TOP", arg: "1".into(), second: Some("-1".into()) };
        assert_eq!(n.render().wire(), b"TOP 1 -1\r\n");
    }
}
