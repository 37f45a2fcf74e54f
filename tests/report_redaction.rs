//! Cheap regression guard: renderers print what the model holds, and the transcript is redacted
//! when recorded. Fed only redacted transcripts, no format may contain the password `tanstaaf`
//! (RFC 1939's example) in clear or in any base64 alignment. The end-to-end grep of real runs is
//! the CI script's job.

#[path = "report/fixture.rs"]
mod fixture;

use base64::Engine as _;
use pop3test::report::{self, Format, RenderOptions};
use pop3test::transcript::Transcript;

const SECRET: &str = "tanstaaf";

/// The base64 text of `secret` wherever it sits in an encoded stream: for each of the three byte
/// alignments, the characters that depend on the secret's bytes alone.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    for k in 0..3 {
        let mut data = vec![0u8; k];
        data.extend_from_slice(secret);
        let enc = base64::engine::general_purpose::STANDARD.encode(&data);
        let first = (8 * k).div_ceil(6);
        let last = (8 * (k + secret.len())) / 6;
        forms.push(enc[first..last].to_string());
    }
    forms
}

/// A report whose transcripts went through the real recorder, secrets and all.
fn recorded_report() -> pop3test::results::Report {
    let mut t = Transcript::new();
    t.server(false, b"+OK ready\r\n");
    t.client(false, b"USER mrose\r\nPASS tanstaaf\r\n");
    t.client(false, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    t.client(false, b"AUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\n");
    t.client(false, b"AUTH LOGIN\r\n");
    t.server(false, b"+ VXNlcm5hbWU6\r\n");
    t.client(false, b"bXJvc2U=\r\n");
    t.server(false, b"+ UGFzc3dvcmQ6\r\n");
    t.client(false, b"dGFuc3RhYWY=\r\n");
    t.server(false, b"-ERR [AUTH] nope\r\n");
    let mut r = fixture::run_report();
    for res in &mut r.results {
        res.transcript.extend(t.entries().iter().cloned());
    }
    r
}

#[test]
fn the_secret_patterns_are_right() {
    let forms = base64_forms(SECRET.as_bytes());
    assert!(forms.iter().any(|f| "dGFuc3RhYWY=".contains(f.as_str())), "{forms:?}");
    assert!(forms.iter().any(|f| "AG1yb3NlAHRhbnN0YWFm".contains(f.as_str())), "{forms:?}");
}

#[test]
fn no_format_leaks_the_password_from_a_redacted_transcript() {
    let mut needles = vec![SECRET.to_string()];
    needles.extend(base64_forms(SECRET.as_bytes()));
    for r in [recorded_report(), fixture::run_report(), fixture::audit_report()] {
        let mut outputs: Vec<(String, String)> = Format::ALL
            .iter()
            .map(|&f| {
                let bytes = report::render(f, &r, &RenderOptions { color: true, width: Some(100) }).unwrap();
                (f.to_string(), String::from_utf8(bytes).unwrap())
            })
            .collect();
        outputs.push(("matrix html".into(), report::matrix_html(std::slice::from_ref(&r))));
        outputs.push(("matrix markdown".into(), report::matrix_markdown(std::slice::from_ref(&r))));
        for (name, text) in outputs {
            assert!(
                text.contains("PASS <redacted>")
                    || text.contains("PASS &lt;redacted&gt;")
                    || name.starts_with("matrix"),
                "{name}: the redacted PASS line should be shown"
            );
            for n in &needles {
                assert!(!text.contains(n.as_str()), "{name} contains `{n}`");
            }
        }
    }
}
