//! `${variables}` in scenario strings: parsed once when the file loads (so a malformed reference
//! is a file error with a position), expanded against [`Vars`] when the step runs.
//!
//! Forms: `${name}`, `${row.field}` (a field of a `for_each` row), `${list.count}` (rows in a
//! captured listing), `${name + 3}` / `${name - 1}` (integer arithmetic); `$${` is a literal `${`.

use std::collections::{BTreeMap, HashMap};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Var { name: String, field: Option<String>, offset: i64 },
}

/// A string with `${...}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
    /// The text as written, for messages (never contains an expanded secret).
    pub source: String,
}

impl Template {
    /// Parses `${...}` references. The error says what is wrong and at which character offset.
    pub fn parse(s: &str) -> Result<Template, (usize, String)> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let after = &rest[i..];
            if let Some(stripped) = after.strip_prefix("$${") {
                lit.push_str("${");
                rest = stripped;
                offset += i + 3;
                continue;
            }
            if !after.starts_with("${") {
                lit.push('$');
                rest = &after[1..];
                offset += i + 1;
                continue;
            }
            let close = after.find('}').ok_or((offset + i, "`${` without a closing `}`".to_string()))?;
            let inner = after[2..close].trim();
            let var = parse_ref(inner).map_err(|e| (offset + i, e))?;
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(var);
            rest = &after[close + 1..];
            offset += i + close + 1;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts, source: s.to_string() })
    }

    /// A template with no references.
    pub fn literal(s: &str) -> Template {
        Template { parts: vec![Part::Lit(s.to_string())], source: s.to_string() }
    }

    /// Names this template reads (the part before any `.field`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// Expands every reference; `escape` is applied to each substituted value (regex quoting).
    pub fn expand_with(&self, vars: &Vars, escape: fn(&str) -> String) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var { name, field, offset } => {
                    out.push_str(&escape(&vars.lookup(name, field.as_deref(), *offset)?))
                }
            }
        }
        Ok(out)
    }

    pub fn expand(&self, vars: &Vars) -> Result<String, String> {
        self.expand_with(vars, |s| s.to_string())
    }
}

fn parse_ref(inner: &str) -> Result<Part, String> {
    let (head, offset) = match inner.find(['+', '-']) {
        Some(i) => {
            let n: i64 = inner[i + 1..]
                .trim()
                .parse()
                .map_err(|_| format!("`${{{inner}}}`: expected an integer after `{}`", &inner[i..i + 1]))?;
            (inner[..i].trim(), if &inner[i..i + 1] == "-" { -n } else { n })
        }
        None => (inner, 0),
    };
    let (name, field) = match head.split_once('.') {
        Some((n, f)) => (n, Some(f.to_string())),
        None => (head, None),
    };
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident(name) || !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(format!("`${{{inner}}}` is not a variable reference (expected `${{name}}` or `${{name.field}}`)"));
    }
    if field.as_deref().is_some_and(|f| !ident(f)) {
        return Err(format!("`${{{inner}}}`: bad field name"));
    }
    Ok(Part::Var { name: name.to_string(), field, offset })
}

/// A captured row of a listing: the whole `line`, numbered groups `1`, `2`..., named groups.
pub type Row = BTreeMap<String, String>;

/// A variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Rows(Vec<Row>),
}

/// The variables of one scenario run. Secrets are remembered so every text that leaves the
/// engine can be scrubbed of them ([`Vars::redact`]).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    map: HashMap<String, Value>,
    secrets: Vec<String>,
}

impl Vars {
    pub fn set(&mut self, name: &str, v: Value) {
        self.map.insert(name.to_string(), v);
    }

    pub fn set_str(&mut self, name: &str, v: impl Into<String>) {
        self.set(name, Value::Str(v.into()));
    }

    /// Sets a variable whose value must never be printed.
    pub fn set_secret(&mut self, name: &str, v: &str) {
        if !v.is_empty() && !self.secrets.iter().any(|s| s == v) {
            self.secrets.push(v.to_string());
        }
        self.set_str(name, v);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }

    fn lookup(&self, name: &str, field: Option<&str>, offset: i64) -> Result<String, String> {
        let v = self.map.get(name).ok_or_else(|| format!("variable `{name}` is not set (yet)"))?;
        let s = match (v, field) {
            (Value::Str(s), None) => s.clone(),
            (Value::Rows(rows), Some("count")) => rows.len().to_string(),
            (Value::Rows(_), _) => {
                return Err(format!("`{name}` is a listing: use it in for_each or `${{{name}.count}}`"))
            }
            (Value::Str(_), Some(f)) => match self.map.get(&format!("{name}.{f}")) {
                Some(Value::Str(s)) => s.clone(),
                _ => return Err(format!("`{name}` has no field `{f}`")),
            },
        };
        if offset == 0 {
            return Ok(s);
        }
        let n: i64 =
            s.trim().parse().map_err(|_| format!("`{name}` is `{s}`, not a number, so `{offset:+}` cannot apply"))?;
        Ok((n + offset).to_string())
    }

    /// Binds a `for_each` row: `${as.field}` for each field, `${as}` for the whole line.
    pub fn bind_row(&mut self, as_name: &str, row: &Row) {
        self.set_str(as_name, row.get("line").cloned().unwrap_or_default());
        for (k, v) in row {
            self.set_str(&format!("{as_name}.{k}"), v.clone());
        }
    }

    /// Replaces every secret in `text` with `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), crate::transcript::REDACTED);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_expands_references() {
        let mut v = Vars::default();
        v.set_str("count", "6");
        let mut row = Row::new();
        row.insert("line".into(), "2 120".into());
        row.insert("size".into(), "120".into());
        v.bind_row("m", &row);
        v.set("msgs", Value::Rows(vec![row.clone(), row]));
        let t = Template::parse("RETR ${m.size} ${count - 2} ${msgs.count} $${x} $5").unwrap();
        assert_eq!(t.expand(&v).unwrap(), "RETR 120 4 2 ${x} $5");
        assert_eq!(t.names().collect::<Vec<_>>(), ["m", "count", "msgs"]);
        assert!(Template::parse("${").is_err());
        assert!(Template::parse("${1abc}").is_err());
        assert!(Template::parse("${a + x}").is_err());
        assert!(Template::parse("${nope}").unwrap().expand(&v).is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let mut v = Vars::default();
        v.set_secret("password", "tanstaaf");
        assert_eq!(v.redact("PASS tanstaaf"), "PASS <redacted>");
    }
}
