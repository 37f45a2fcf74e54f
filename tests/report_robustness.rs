//! Rendering never panics and never lets content break out of its format, whatever the model
//! holds: empty reports, control characters, markup, huge transcripts, odd numbers.

use pop3test::report::{self, Format, RenderOptions};
use pop3test::results::{CheckResult, Report, RunKind, Severity, SourceLocation, Verdict};
use pop3test::transcript::{Direction, Entry};
use proptest::prelude::*;

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Pass),
        Just(Verdict::Fail),
        Just(Verdict::Error),
        Just(Verdict::Skip),
        Just(Verdict::Xfail),
        Just(Verdict::Xpass)
    ]
}

fn severity() -> impl Strategy<Value = Option<Severity>> {
    prop_oneof![Just(None), Just(Some(Severity::Info)), Just(Some(Severity::Medium)), Just(Some(Severity::Critical))]
}

/// Text with the characters renderers must take care of.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[<>&\"'`|*_\\[\\]\\\\ \n\r\t\u{0}\u{1b}\u{7f}\u{202e}é☃a-z.:/#-]{0,40}",]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), 0.0..1e7f64]
}

fn result() -> impl Strategy<Value = CheckResult> {
    (text(), text(), text(), verdict(), severity(), proptest::option::of(text()), number()).prop_flat_map(
        |(id, title, area, v, sev, msg, d)| {
            let entries = proptest::collection::vec(
                (number(), 0..3u8, any::<bool>(), text()).prop_map(|(t, d, tls, text)| Entry {
                    t_ms: t,
                    dir: [Direction::Client, Direction::Server, Direction::Note][d as usize],
                    tls,
                    text,
                }),
                0..20,
            );
            let loc = proptest::option::of(
                (text(), any::<u32>(), any::<u32>()).prop_map(|(file, line, column)| SourceLocation {
                    file,
                    line,
                    column,
                }),
            );
            (entries, loc, proptest::collection::vec(text(), 0..3)).prop_map(move |(transcript, location, refs)| {
                let mut r = CheckResult::new(id.clone(), title.clone(), area.clone(), v);
                r.severity = sev;
                r.message = msg.clone();
                r.expected = msg.clone();
                r.actual = Some(title.clone());
                r.references = refs.clone();
                r.requirements = refs;
                r.location = location;
                r.transcript = transcript;
                r.duration_ms = d;
                r
            })
        },
    )
}

fn report_strategy() -> impl Strategy<Value = Report> {
    (text(), text(), proptest::option::of(text()), proptest::collection::vec(result(), 0..8), any::<bool>()).prop_map(
        |(target, started, summary, results, incomplete)| {
            let mut r = Report::new(RunKind::Audit, target);
            r.started_at = started;
            r.server.greeting = summary.clone();
            r.summary = summary;
            r.results = results;
            r.incomplete = incomplete;
            r
        },
    )
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer hunt.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn every_format_renders_anything(r in report_strategy(), width in 0usize..200, color in any::<bool>()) {
        let opts = RenderOptions { color, width: Some(width) };
        for f in Format::ALL {
            let bytes = report::render(f, &r, &opts).unwrap();
            let s = String::from_utf8(bytes).unwrap();
            match f {
                Format::Json | Format::Sarif => {
                    serde_json::from_str::<serde_json::Value>(&s).unwrap();
                }
                Format::Html => {
                    // Nothing from the model may open a tag: only the renderer's own tags appear.
                    for tag in ["<script", "<img", "<iframe", "<a href=\"j"] {
                        prop_assert!(!s.contains(tag), "{tag} in HTML");
                    }
                    prop_assert!(!s.contains('\u{0}') && !s.contains('\u{1b}'), "raw control character in HTML");
                }
                Format::Table if !color => prop_assert!(!s.contains('\u{1b}'), "raw ESC in plain table"),
                _ => {}
            }
        }
        let json = report::render(Format::Json, &r, &opts).unwrap();
        let back: Report = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(back.results.len(), r.results.len());
        report::matrix_html(&[r.clone(), back.clone()]);
        report::matrix_markdown(&[r, back]);
    }
}

#[test]
fn huge_transcripts_render_in_bounded_size() {
    let mut r = Report::new(RunKind::Fuzz, "pop3://h");
    let mut c = CheckResult::new("F1", "big", "fuzz", Verdict::Fail);
    c.transcript = (0..2000)
        .map(|i| Entry { t_ms: i as f64, dir: Direction::Server, tls: false, text: "x".repeat(4096) })
        .collect();
    r.results = vec![c];
    let md = report::render(Format::Markdown, &r, &RenderOptions::default()).unwrap();
    assert!(md.len() < 200_000, "markdown is {} bytes", md.len());
    let table = report::render(Format::Table, &r, &RenderOptions::default()).unwrap();
    assert!(table.len() < 100_000, "table is {} bytes", table.len());
    for f in [Format::Html, Format::Junit] {
        let out = report::render(f, &r, &RenderOptions::default()).unwrap();
        assert!(out.len() < 4_000_000, "{f} is {} bytes", out.len());
    }
}
