//! The built-in suite: every file under `scenarios/`, compiled into the binary by `build.rs`, so
//! `pop3test run pop3://host` needs no files on disk. The files on disk are the same source.

use super::diag::Diagnostic;
use super::load;
use super::model::Scenario;

include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));

/// A scenario file that failed to load, with its text for rendering the diagnostics.
#[derive(Debug, Clone)]
pub struct BadFile {
    pub file: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads every built-in scenario. The built-in suite is checked by the tests, so errors here mean
/// a broken build; they are still returned, not panicked on.
pub fn load_all() -> (Vec<Scenario>, Vec<BadFile>) {
    load_texts(FILES.iter().map(|(path, text)| (format!("scenarios/{path}"), text.to_string())))
}

/// Loads `(file label, text)` pairs; the label's path under `scenarios/` is the expected name.
pub fn load_texts(files: impl IntoIterator<Item = (String, String)>) -> (Vec<Scenario>, Vec<BadFile>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (file, text) in files {
        let expected = load::name_from_path(std::path::Path::new(&file));
        match load::load_str(&file, &text, expected.as_deref()) {
            Ok(s) => match ok.iter().find(|o: &&Scenario| o.name == s.name) {
                Some(first) => {
                    let d = Diagnostic::new(&file, s.span, format!("duplicate scenario name `{}`", s.name))
                        .note(format!("{} has the same name", first.file));
                    bad.push(BadFile { file, source: text, diagnostics: vec![d] });
                }
                None => ok.push(s),
            },
            Err(diagnostics) => bad.push(BadFile { file, source: text, diagnostics }),
        }
    }
    (ok, bad)
}

/// Loads every `*.yaml` under the given paths (files or directories, recursively, sorted).
pub fn load_paths(paths: &[std::path::PathBuf]) -> std::io::Result<(Vec<Scenario>, Vec<BadFile>)> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e}", f.display())))?;
        texts.push((f.display().to_string(), text));
    }
    Ok(load_texts(texts))
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_scenario_loads_and_names_are_unique() {
        let (ok, bad) = load_all();
        for b in &bad {
            for d in &b.diagnostics {
                eprintln!("{}", d.render(&b.source));
            }
        }
        assert!(bad.is_empty(), "{} built-in scenario files do not load", bad.len());
        let mut names: Vec<_> = ok.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate scenario names");
    }
}
