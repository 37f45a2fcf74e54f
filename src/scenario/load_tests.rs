//! Loader tests: every kind of file error comes back with its position and a helpful message.

use super::*;

fn errors(text: &str) -> Vec<Diagnostic> {
    load_str("t.yaml", text, None).expect_err("expected errors")
}

const HEAD: &str = "name: rfc1939/x\ntitle: t\nrequirements: [1939-stat]\nrfc: [\"RFC 1939 §5\"]\n";

#[test]
fn a_good_file_loads() {
    let s = load_str(
        "t.yaml",
        &format!(
            "{HEAD}steps:\n  - connect:\n  - login:\n  - send: LIST\n    capture:\n      msgs: {{ from: lines, regex: '^(?P<num>\\d+) (?P<size>\\d+)$' }}\n  - for_each:\n      in: msgs\n      as: m\n      steps:\n        - send: RETR ${{m.num}}\n          expect: {{ status: ok, octets: '${{m.size}}' }}\n  - quit:\n"
        ),
        None,
    )
    .unwrap();
    assert_eq!(s.steps.len(), 5);
    assert_eq!(s.steps[3].span.line, 11);
    assert!(s.requires.is_empty());
}

#[test]
fn unknown_key_has_position_and_suggestion() {
    let e = errors(&format!("{HEAD}steps:\n  - connect:\n    expcet: {{ status: ok }}\n"));
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].span.line, e[0].span.col), (7, 5));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `expect`?"));
}

#[test]
fn bad_values_and_regexes_point_at_themselves() {
    let e = errors(&format!("{HEAD}steps:\n  - connect:\n    expect: {{ status: okay, text: '(unclosed' }}\n"));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].message.contains("`okay`") && e[0].help.as_deref() == Some("did you mean `ok`?"), "{e:?}");
    assert!(e[1].message.contains("invalid regex"));
    // The caret sits under the unclosed `(`, inside the quoted regex.
    assert_eq!((e[1].span.col, e[1].span.len), (36, 1), "{:?}", e[1]);
}

#[test]
fn undefined_variables_unopened_connections_and_dele_are_file_errors() {
    let e = errors(&format!("{HEAD}steps:\n  - connect:\n  - send: RETR ${{cuont}}\n  - send: NOOP\n    on: other\n"));
    assert!(e[0].message.contains("undefined variable `cuont`"), "{e:?}");
    assert!(e[1].message.contains("connection `other` is not open"), "{e:?}");
    // DELE then QUIT removes mail: destructive. DELE then a drop (RFC 1939 §6) does not.
    for quit in ["  - quit:\n", "  - send: QUIT\n", "  - send_raw: \"NOOP\\r\\nquit\\r\\n\"\n"] {
        let e = errors(&format!("{HEAD}steps:\n  - connect:\n  - send: DELE 1\n{quit}"));
        assert!(e.first().is_some_and(|d| d.message.contains("not marked destructive")), "{quit}: {e:?}");
    }
    let quit_first = "  - quit:\n  - reconnect:\n  - send: DELE 1\n";
    for rest in
        ["  - send: DELE 1\n", "  - send: DELE 1\n  - disconnect:\n", "  - send: DELE 1\n  - send: QUITE\n", quit_first]
    {
        let s = load_str("t.yaml", &format!("{HEAD}steps:\n  - connect:\n{rest}"), None);
        assert!(s.as_ref().is_ok_and(|s| !s.destructive), "{rest}: {s:?}");
    }
}

#[test]
fn missing_keys_and_unknown_requirements() {
    let e = errors("name: rfc1939/x\nrequirements: [1939-stta]\nsteps: []\n");
    assert!(e[0].message.contains("missing required keys `title`, `rfc`"), "{e:?}");
    assert!(e.iter().any(|d| d.help.as_deref() == Some("did you mean `1939-stat`?")), "{e:?}");
}

#[test]
fn name_must_match_the_path() {
    let text = format!("{HEAD}steps:\n  - connect:\n");
    let e = load_str("scenarios/rfc1939/y.yaml", &text, Some("rfc1939/y")).unwrap_err();
    assert!(e[0].message.contains("does not match the file's path"));
    assert_eq!(name_from_path(Path::new("a/scenarios/rfc1939/y.yaml")).as_deref(), Some("rfc1939/y"));
}
