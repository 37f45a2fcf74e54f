//! Report rendering: every output format is a pure function of one [`Report`], rendered after the
//! run's clock has stopped (hurl's "results first, rendering after").
//!
//! One file per format — `terminal`, `json` (also its one-line form, `jsonl`), `junit`, `sarif`,
//! `markdown`, `html` — plus `matrix` (several reports side by side), `fleet` (targets × findings
//! of a fleet audit) and `view` (the derived figures every format shares: tallies per
//! area, the overall verdict, the transcript as an RFC-style dialogue). Adding a format means adding
//! its file, one [`Format`] variant and one arm in [`render`]; the runner never changes.
//!
//! Renderers print what the model holds and nothing else: credentials were redacted when the
//! transcript was recorded (see [`crate::transcript`]).

use crate::results::{Report, SCHEMA_VERSION};
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub mod fleet;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod sarif;
pub mod terminal;
pub(crate) mod view;

pub use matrix::{matrix_html, matrix_markdown};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The human summary for a terminal (comfy-table), colour optional.
    Table,
    /// The results model as pretty JSON; see `report.schema.json`.
    Json,
    /// The same model on one line with a newline: one record of a JSON Lines stream. A fleet
    /// audit (`audit --targets`) appends one per target as each finishes.
    Jsonl,
    /// JUnit XML: one testsuite per area, one testcase per result.
    Junit,
    /// SARIF 2.1.0 for code-scanning dashboards: failures and findings as results.
    Sarif,
    /// GitHub-flavoured Markdown for a pull-request comment.
    Markdown,
    /// One self-contained HTML page (inline CSS, no script, no external assets).
    Html,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 7] =
        [Format::Table, Format::Json, Format::Jsonl, Format::Junit, Format::Sarif, Format::Markdown, Format::Html];

    /// The canonical name, as accepted by [`Format::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Junit => "junit",
            Format::Sarif => "sarif",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// The usual file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Junit => "xml",
            Format::Sarif => "sarif",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names [`Format::from_str`] accepts, for error and help texts.
pub const FORMAT_NAMES: &str = "table (or terminal), json, jsonl, junit, sarif, markdown (or md), html";

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" | "terminal" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "junit" => Ok(Format::Junit),
            "sarif" => Ok(Format::Sarif),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

/// One `--report FORMAT=PATH` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    pub format: Format,
    pub path: PathBuf,
}

impl FromStr for ReportSpec {
    type Err = ReportError;
    /// Parses `FORMAT=PATH`, e.g. `junit=out/pop3.xml`. Only the first `=` splits, so the path
    /// may contain `=`.
    fn from_str(s: &str) -> Result<Self, ReportError> {
        let bad = |why: &str| ReportError::BadSpec { spec: s.to_string(), why: why.to_string() };
        let (format, path) = s.split_once('=').ok_or_else(|| bad("no `=` between format and path"))?;
        if path.is_empty() {
            return Err(bad("the path after `=` is empty"));
        }
        let format = format.parse::<Format>().map_err(|_| bad(&format!("unknown format `{format}`")))?;
        Ok(ReportSpec { format, path: PathBuf::from(path) })
    }
}

/// How the human formats look. Machine formats ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// ANSI colour in the terminal table (see [`color_wanted`]).
    pub color: bool,
    /// Terminal width in columns; `None` means 80 (a report written to a file is read anywhere).
    pub width: Option<usize>,
}

/// The `--color` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl FromStr for ColorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            other => Err(format!("unknown colour choice `{other}` (expected auto, always or never)")),
        }
    }
}

/// Whether the terminal output should be coloured: `always`/`never` win; `auto` colours only when
/// stdout is a terminal, `NO_COLOR` is unset or empty (<https://no-color.org>) and `TERM` is not
/// `dumb`.
pub fn color_wanted(flag: ColorChoice) -> bool {
    decide_color(
        flag,
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
        io::stdout().is_terminal(),
    )
}

/// The width to render the terminal table at when printing to stdout: `COLUMNS` when set to a
/// number, else the terminal's width when stdout is one, else `None` (80 columns).
pub fn terminal_width() -> Option<usize> {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0);
    columns.or_else(|| comfy_table::Table::new().width().map(usize::from))
}

fn decide_color(flag: ColorChoice, no_color: bool, dumb: bool, tty: bool) -> bool {
    match flag {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && !no_color && !dumb,
    }
}

/// Why a report could not be rendered, written or read. Every variant about a file names it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("unknown report format `{0}` (valid formats: {FORMAT_NAMES})")]
    UnknownFormat(String),
    #[error(
        "invalid report `{spec}`: {why}; expected FORMAT=PATH (e.g. junit=pop3.xml) with FORMAT one of: {FORMAT_NAMES}"
    )]
    BadSpec { spec: String, why: String },
    #[error("cannot write {format} report to {}: {source}", path.display())]
    Write { format: Format, path: PathBuf, source: io::Error },
    #[error("cannot read report {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not a pop3test JSON report: {why}", path.display())]
    NotAReport { path: PathBuf, why: String },
    #[error("{} has schema_version {found}, but this pop3test reads schema_version {SCHEMA_VERSION}; render it with the pop3test version that wrote it", path.display())]
    SchemaVersion { path: PathBuf, found: u64 },
    #[error("cannot render {format} report: {why}")]
    Render { format: Format, why: String },
}

/// Renders `report` in `format`. Pure: no I/O, no clock, deterministic for a given input.
pub fn render(format: Format, report: &Report, opts: &RenderOptions) -> Result<Vec<u8>, ReportError> {
    let text = match format {
        Format::Table => terminal::render(report, opts),
        Format::Json => json::render(report).map_err(|e| ReportError::Render { format, why: e.to_string() })?,
        Format::Jsonl => json::render_line(report).map_err(|e| ReportError::Render { format, why: e.to_string() })?,
        Format::Junit => junit::render(report).map_err(|why| ReportError::Render { format, why })?,
        Format::Sarif => sarif::render(report).map_err(|e| ReportError::Render { format, why: e.to_string() })?,
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    };
    Ok(text.into_bytes())
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never half of one: a
/// temporary file in the same directory (same filesystem, so the rename is atomic), fsync, rename,
/// then fsync of the directory so the rename itself survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    // Unique per process and per call, so concurrent writers never share a temporary file.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Directory fsync is best effort: not every platform or filesystem allows opening a directory.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Renders and writes every requested report (file reports are for reading later: no colour,
/// 80 columns). Stops at the first failure; the error names the file.
pub fn write_all(specs: &[ReportSpec], report: &Report) -> Result<(), ReportError> {
    let opts = RenderOptions { color: false, width: None };
    for spec in specs {
        let bytes = render(spec.format, report, &opts)?;
        write_atomic(&spec.path, &bytes).map_err(|source| ReportError::Write {
            format: spec.format,
            path: spec.path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Reads a JSON report written by [`Format::Json`], checking `schema_version` before anything else
/// so that a report from another version gets a clear message instead of a field-level parse error.
pub fn load_json(path: &Path) -> Result<Report, ReportError> {
    let text = std::fs::read(path).map_err(|source| ReportError::Read { path: path.to_path_buf(), source })?;
    parse_json(&text, path)
}

/// Parses one JSON report (a file's text or one JSON Lines record); `place` names it in errors
/// (a path, or `path:line` for a record).
pub fn parse_json(text: &[u8], place: &Path) -> Result<Report, ReportError> {
    let not_report = |why: String| ReportError::NotAReport { path: place.to_path_buf(), why };
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| not_report(format!("invalid JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| not_report("expected a JSON object at the top level".to_string()))?;
    match obj.get("schema_version") {
        None => return Err(not_report(format!("no `schema_version` field (expected {SCHEMA_VERSION})"))),
        Some(v) => match v.as_u64() {
            Some(n) if n == u64::from(SCHEMA_VERSION) => {}
            Some(found) => return Err(ReportError::SchemaVersion { path: place.to_path_buf(), found }),
            None => return Err(not_report(format!("`schema_version` is {v}, expected the integer {SCHEMA_VERSION}"))),
        },
    }
    serde_json::from_value(value)
        .map_err(|e| not_report(format!("{e} (expected a report of schema_version {SCHEMA_VERSION})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunKind;

    #[test]
    fn formats_parse_with_aliases_and_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert_eq!("terminal".parse::<Format>().unwrap(), Format::Table);
        assert_eq!("MD".parse::<Format>().unwrap(), Format::Markdown);
        let err = "pdf".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("`pdf`") && err.contains("junit") && err.contains("html"), "{err}");
    }

    #[test]
    fn spec_parses_format_eq_path_and_explains_mistakes() {
        let s: ReportSpec = "junit=out/a=b.xml".parse().unwrap();
        assert_eq!(s, ReportSpec { format: Format::Junit, path: PathBuf::from("out/a=b.xml") });
        for bad in ["junit", "junit=", "pdf=x.pdf", "=x.xml"] {
            let e = bad.parse::<ReportSpec>().unwrap_err().to_string();
            assert!(e.contains("FORMAT=PATH") && e.contains("sarif"), "{bad}: {e}");
        }
    }

    #[test]
    fn color_decision_honours_flag_no_color_and_tty() {
        assert!(decide_color(ColorChoice::Always, true, true, false));
        assert!(!decide_color(ColorChoice::Never, false, false, true));
        assert!(decide_color(ColorChoice::Auto, false, false, true));
        assert!(!decide_color(ColorChoice::Auto, true, false, true));
        assert!(!decide_color(ColorChoice::Auto, false, true, true));
        assert!(!decide_color(ColorChoice::Auto, false, false, false));
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_all_names_the_file_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("r.xml");
        let specs = [ReportSpec { format: Format::Junit, path: p.clone() }];
        let e = write_all(&specs, &Report::new(RunKind::Run, "pop3://h")).unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains("junit"), "{e}");
    }

    #[test]
    fn load_json_round_trips_and_checks_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        let r = Report::new(RunKind::Audit, "pop3s://h:995");
        write_all(&[ReportSpec { format: Format::Json, path: p.clone() }], &r).unwrap();
        assert_eq!(load_json(&p).unwrap(), r);

        std::fs::write(&p, r#"{"schema_version": 99}"#).unwrap();
        let e = load_json(&p).unwrap_err().to_string();
        assert!(e.contains("r.json") && e.contains("99") && e.contains("schema_version 1"), "{e}");
        std::fs::write(&p, r#"{"tool": "x"}"#).unwrap();
        let e = load_json(&p).unwrap_err().to_string();
        assert!(e.contains("r.json") && e.contains("no `schema_version`"), "{e}");
        std::fs::write(&p, "[1,").unwrap();
        assert!(load_json(&p).unwrap_err().to_string().contains("invalid JSON"));
        let e = load_json(&dir.path().join("nope.json")).unwrap_err().to_string();
        assert!(e.contains("nope.json"), "{e}");
    }
}
