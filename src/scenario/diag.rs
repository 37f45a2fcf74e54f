//! Diagnostics about scenario files, rendered the way rustc renders compile errors: a headline,
//! ` --> file:line:col`, the source line in a gutter with carets under the culprit, then help and
//! notes. `pop3test check` prints these; the golden tests in `tests/cli/check/` pin the format.

use crate::results::SourceLocation;
use std::fmt::Write;

/// A region of a file: 1-based line and column (in characters), and its width for the carets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

/// One error about a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub span: Span,
    /// The headline: what is wrong.
    pub message: String,
    /// Text beside the carets: what was expected there.
    pub label: Option<String>,
    /// `= help:` line, e.g. a did-you-mean.
    pub help: Option<String>,
    /// `= note:` lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(file: &str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_string(), span, message: message.into(), label: None, help: None, notes: Vec::new() }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `file:line:col`, for one-line summaries and results.
    pub fn location(&self) -> SourceLocation {
        SourceLocation { file: self.file.clone(), line: self.span.line, column: self.span.col }
    }

    /// Renders like rustc, quoting the line from `source` (the file's text).
    pub fn render(&self, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.message);
        let line_no = self.span.line.to_string();
        let pad = " ".repeat(line_no.len());
        let _ = writeln!(out, "{pad}--> {}:{}:{}", self.file, self.span.line, self.span.col);
        if let Some(text) = source.lines().nth(self.span.line.saturating_sub(1) as usize) {
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line_no} | {}", text.trim_end());
            let avail = text.chars().count().saturating_sub(self.span.col as usize - 1).max(1);
            let width = (self.span.len as usize).clamp(1, avail);
            let carets = "^".repeat(width);
            let lead = " ".repeat(self.span.col.saturating_sub(1) as usize);
            match &self.label {
                Some(l) => {
                    let _ = writeln!(out, "{pad} | {lead}{carets} {l}");
                }
                None => {
                    let _ = writeln!(out, "{pad} | {lead}{carets}");
                }
            }
        }
        if self.help.is_some() || !self.notes.is_empty() {
            let _ = writeln!(out, "{pad} |");
        }
        if let Some(h) = &self.help {
            let _ = writeln!(out, "{pad} = help: {h}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "{pad} = note: {n}");
        }
        out
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.span.line, self.span.col, self.message)
    }
}

/// The closest candidate to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let d = Diagnostic::new("s.yaml", Span { line: 2, col: 5, len: 6 }, "unknown key `expcet` in a step")
            .label("not a step key")
            .help("did you mean `expect`?");
        let text = d.render("steps:\n  - expcet: x\n");
        assert_eq!(
            text,
            "error: unknown key `expcet` in a step\n --> s.yaml:2:5\n  |\n2 |   - expcet: x\n  |     ^^^^^^ not a step key\n  |\n  = help: did you mean `expect`?\n"
        );
    }

    #[test]
    fn suggests_only_close_words() {
        assert_eq!(did_you_mean("expcet", ["expect", "send", "capture"]), Some("expect"));
        assert_eq!(did_you_mean("zzz", ["expect", "send"]), None);
    }
}
