//! The benchmark (`cargo bench --bench pop3bench`): pop3test's speed and memory against the
//! physical limit of the same server on the same machine, in one run. Every pop3test figure is
//! reported as a ratio to the raw figure measured minutes apart, because absolute numbers drift on a
//! shared machine. Lives in the library so the test suite can run it at a tiny scale and check its
//! output is well-formed.

pub mod fleet;
pub mod host;
pub mod parse;
pub mod raw;
pub mod run;
pub mod tool;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Server or area: `built-in`, `dovecot`, `parser`, `process`.
    pub group: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// pop3test figure ÷ raw figure (or overhead as a fraction), when there is a raw counterpart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// The target as text, e.g. `>= 0.80 of raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// A whole benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub tool_version: String,
    pub started_at: String,
    /// 1.0 = the full run; the test suite uses a tiny scale.
    pub scale: f64,
    pub rows: Vec<Row>,
}

impl BenchReport {
    pub fn push(&mut self, group: &str, name: &str, value: f64, unit: &str) -> &mut Row {
        self.rows.push(Row {
            group: group.into(),
            name: name.into(),
            value,
            unit: unit.into(),
            ratio: None,
            target: None,
            met: None,
        });
        self.rows.last_mut().expect("just pushed")
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
        t.set_header(["group", "measure", "value", "unit", "ratio", "target", "met"]);
        for r in &self.rows {
            t.add_row([
                r.group.clone(),
                r.name.clone(),
                fmt_value(r.value),
                r.unit.clone(),
                r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
                r.target.clone().unwrap_or_default(),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => String::new(),
                },
            ]);
        }
        t.to_string()
    }
}

impl Row {
    /// Sets the ratio and judges it against `min` (ratio must be at least `min`).
    pub fn ratio_at_least(&mut self, ratio: f64, min: f64, target: &str) -> &mut Row {
        self.ratio = Some(ratio);
        self.target = Some(target.into());
        self.met = Some(ratio >= min);
        self
    }

    /// Judges the value against a ceiling.
    pub fn at_most(&mut self, max: f64, target: &str) -> &mut Row {
        self.target = Some(target.into());
        self.met = Some(self.value <= max);
        self
    }

    /// Judges the value against a floor.
    pub fn at_least(&mut self, min: f64, target: &str) -> &mut Row {
        self.target = Some(target.into());
        self.met = Some(self.value >= min);
        self
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Peak and current resident set size of this process in MiB (Linux `/proc/self/status`).
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
