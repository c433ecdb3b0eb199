//! A strict reader of the Prometheus text exposition format (version 0.0.4), as a scraper
//! reads `/metrics`: `# HELP` and `# TYPE` lines, samples `name{label="value",...} value
//! [timestamp]` with escaped label values. Anything else fails the test: a malformed line,
//! a family typed twice or after its samples, a sample whose name does not belong to its
//! family's type, the same series twice, a value that is not a float.

use std::collections::{BTreeMap, HashMap};

/// Labels of one series, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// Every series of a scrape: name → (labels → value).
#[derive(Debug, Default, Clone)]
pub struct Scrape {
    pub series: BTreeMap<String, BTreeMap<Labels, f64>>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// The value of `name` with exactly the labels `labels` (others absent), if present.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.series.get(name)?.get(&want).copied()
    }

    /// The sum of `name` over every series whose labels include `labels` (0 if none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series.get(name).map_or(0.0, |all| {
            all.iter()
                .filter(|(l, _)| {
                    labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
                })
                .map(|(_, v)| *v)
                .sum()
        })
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn float(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| format!("{s:?} is not a float")),
    }
}

/// The family a sample name belongs to, given the types declared so far.
fn family<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(
                types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            ) {
                return base;
            }
        }
    }
    name
}

/// Parses `{a="x",b="y"}` at the start of `s`; returns the labels and the rest.
fn labels(s: &str) -> Result<(Labels, &str), String> {
    let mut out = Labels::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut chars = rest[eq + 1..].char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("label {name} value is not quoted"));
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                value.push(match c {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    other => return Err(format!("bad escape \\{other}")),
                });
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(eq + 1 + i + 1);
                break;
            } else if c == '\n' {
                return Err("newline in a label value".into());
            } else {
                value.push(c);
            }
        }
        let end = end.ok_or("unterminated label value")?;
        if out.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err(format!("expected , or }} after label {name}"));
        }
    }
}

/// Parses a whole exposition.
pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut scrape = Scrape::default();
    let mut seen_samples: HashMap<String, ()> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let fail = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match words.as_slice() {
                ["TYPE", name, kind] => {
                    if !is_name(name) {
                        return Err(fail("bad metric name".into()));
                    }
                    if !matches!(
                        *kind,
                        "counter" | "gauge" | "histogram" | "summary" | "untyped"
                    ) {
                        return Err(fail(format!("unknown type {kind}")));
                    }
                    if seen_samples.contains_key(*name) {
                        return Err(fail("TYPE after the family's samples".into()));
                    }
                    if scrape
                        .types
                        .insert((*name).to_owned(), (*kind).to_owned())
                        .is_some()
                    {
                        return Err(fail("family typed twice".into()));
                    }
                }
                ["HELP", name, ..] if !is_name(name) => {
                    return Err(fail("bad metric name".into()));
                }
                ["TYPE", ..] => return Err(fail("TYPE needs a name and a type".into())),
                _ => {}
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| fail("no value".into()))?;
        let name = &line[..name_end];
        if !is_name(name) {
            return Err(fail("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            labels(&line[name_end..]).map_err(fail)?
        } else {
            (Labels::new(), &line[name_end..])
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| fail("expected a space before the value".into()))?;
        let mut fields = rest.split(' ');
        let value = float(fields.next().unwrap_or("")).map_err(fail)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| fail(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(fail("trailing fields".into()));
        }
        let fam = family(name, &scrape.types).to_owned();
        match scrape.types.get(&fam).map(String::as_str) {
            Some("counter") if value.is_nan() || value < 0.0 => {
                return Err(fail("a counter below 0".into()));
            }
            Some("histogram") if name == fam => {
                return Err(fail(
                    "a histogram sample without _bucket/_sum/_count".into(),
                ));
            }
            _ => {}
        }
        seen_samples.insert(fam, ());
        if scrape
            .series
            .entry(name.to_owned())
            .or_default()
            .insert(labels, value)
            .is_some()
        {
            return Err(fail("the same series twice".into()));
        }
    }
    Ok(scrape)
}
