//! YAML → a small node tree where every node knows its line and column. yaml-rust2's event parser
//! gives the positions; the typed model is then decoded from these nodes by [`super::load`], so
//! every error can point at the exact key or value it is about (hurl's "positions on every node").

use super::diag::{Diagnostic, Span};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A plain `~`, `null` or empty scalar.
    Null,
    /// Any other scalar, as written (YAML escapes resolved). `plain` is false for quoted and block
    /// scalars, which are always strings.
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys are scalars (non-scalar keys are rejected while loading).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What kind of YAML value this is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "nothing",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
}

enum Frame {
    Seq(Span, Vec<Node>),
    /// Mapping: entries so far, and a key waiting for its value.
    Map(Option<Span>, Vec<(Node, Node)>, Option<Node>),
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    error: Option<(Span, String)>,
}

fn span_at(m: Marker, len: usize) -> Span {
    Span { line: m.line() as u32, col: m.col() as u32 + 1, len: len.max(1) as u32 }
}

impl Builder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(start, entries, pending)) => match pending.take() {
                None => {
                    if start.is_none() {
                        *start = Some(node.span);
                    }
                    *pending = Some(node);
                }
                Some(key) => {
                    let node = match node.kind {
                        // An empty value's marker points at the next token; show the key instead.
                        Kind::Null => Node { kind: Kind::Null, span: key.span },
                        _ => node,
                    };
                    entries.push((key, node));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(value, style, _, _) => {
                let plain = style == TScalarStyle::Plain;
                let len = match style {
                    TScalarStyle::Plain => value.lines().next().map_or(1, |l| l.chars().count()),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                        value.lines().next().map_or(0, |l| l.chars().count()) + 2
                    }
                    _ => 1,
                };
                let kind = if plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    Kind::Null
                } else {
                    Kind::Scalar { value, plain }
                };
                self.push_node(Node { kind, span: span_at(mark, len) });
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(span_at(mark, 1), Vec::new())),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(span, items)) = self.stack.pop() {
                    let span = items.first().map_or(span, |n| n.span);
                    self.push_node(Node { kind: Kind::Seq(items), span });
                }
            }
            Event::MappingStart(..) => self.stack.push(Frame::Map(None, Vec::new(), None)),
            Event::MappingEnd => {
                if let Some(Frame::Map(start, entries, _)) = self.stack.pop() {
                    let span = start.unwrap_or_else(|| span_at(mark, 1));
                    self.push_node(Node { kind: Kind::Map(entries), span });
                }
            }
            Event::Alias(_) => {
                self.error = Some((span_at(mark, 1), "YAML aliases (`*name`) are not supported in scenarios".into()))
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

/// Parses one YAML document into nodes. YAML syntax errors come back as a diagnostic at the
/// scanner's position.
pub fn parse(file: &str, text: &str) -> Result<Node, Box<Diagnostic>> {
    let mut b = Builder { stack: Vec::new(), root: None, error: None };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, false) {
        let m = e.marker();
        let span = Span { line: m.line() as u32, col: m.col() as u32 + 1, len: 1 };
        return Err(Box::new(Diagnostic::new(file, span, format!("invalid YAML: {}", e.info()))));
    }
    if let Some((span, msg)) = b.error {
        return Err(Box::new(Diagnostic::new(file, span, msg)));
    }
    b.root.ok_or_else(|| {
        Box::new(Diagnostic::new(
            file,
            Span { line: 1, col: 1, len: 1 },
            "the file is empty: expected a scenario mapping",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_keys() {
        let n = parse("f", "name: x\nsteps:\n  - send: 'LIST 1'\n    expect: { status: ok }\n").unwrap();
        let Kind::Map(entries) = &n.kind else { panic!() };
        assert_eq!(entries[0].0.span, Span { line: 1, col: 1, len: 4 });
        let Kind::Seq(steps) = &entries[1].1.kind else { panic!() };
        let Kind::Map(step) = &steps[0].kind else { panic!() };
        assert_eq!(step[0].0.span, Span { line: 3, col: 5, len: 4 });
        assert_eq!(step[0].1.span, Span { line: 3, col: 11, len: 8 });
        assert_eq!(step[0].1.as_str(), Some("LIST 1"));
    }

    #[test]
    fn empty_values_point_at_their_key_and_syntax_errors_have_positions() {
        let n = parse("f", "steps:\n  - connect:\n").unwrap();
        let Kind::Map(e) = &n.kind else { panic!() };
        let Kind::Seq(s) = &e[0].1.kind else { panic!() };
        let Kind::Map(step) = &s[0].kind else { panic!() };
        assert!(step[0].1.is_null());
        assert_eq!(step[0].1.span.line, 2);
        let err = parse("f", "a: [1,\n  b: 2\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
        assert!(parse("f", "").is_err());
    }
}
