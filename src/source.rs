//! The stack file as text: its name, its bytes, and where every key and value sits in it.
//!
//! TOML is parsed once with `toml`'s spanned parser. The result is turned into a JSON
//! value (for the JSON Schema) and an index from JSON pointer (`/storage/nfs/server`) to
//! the spans of the key and the value, so any later stage (schema, model, lint) can point
//! at the exact line and column of what it complains about.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::{Map, Value};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diagnostic::{Code, Diagnostic};

/// Where a key path sits in the file.
#[derive(Debug, Clone, Default)]
pub struct Place {
    /// The key itself (`server` in `server = "..."`); for array items, the item.
    pub key: Range<usize>,
    /// The whole value.
    pub value: Range<usize>,
}

#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
    /// Per line: only ASCII, so a column is a byte difference (20,000 diagnostics on one
    /// long line stay linear).
    ascii_lines: Vec<bool>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let ascii_lines = line_starts
            .iter()
            .enumerate()
            .map(|(i, &s)| text.as_bytes()[s..line_starts.get(i + 1).copied().unwrap_or(text.len())].is_ascii())
            .collect();
        Source { name: name.into(), text, line_starts, ascii_lines }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = if self.ascii_lines[line] {
            offset - start
        } else {
            self.text.get(start..offset).map_or(offset - start, |s| s.chars().count())
        };
        (line + 1, col + 1)
    }

    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// A parsed stack file: the JSON form of its data and the spans of every path.
#[derive(Debug)]
pub struct Parsed {
    pub json: Value,
    pub places: BTreeMap<String, Place>,
    /// `json` holds exactly the TOML's values: no datetime, out-of-range integer or
    /// non-finite float was turned into a string. Then deserializing the typed model
    /// from `json` is the same as from the TOML text.
    pub exact: bool,
}

impl Parsed {
    /// The place of a JSON pointer, or of its nearest ancestor that exists (a missing
    /// key is reported where its table is).
    pub fn place(&self, pointer: &str) -> Place {
        let mut p = pointer.to_string();
        loop {
            if let Some(place) = self.places.get(&p) {
                return place.clone();
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return Place::default(),
            }
        }
    }
    pub fn has(&self, pointer: &str) -> bool {
        self.places.contains_key(pointer)
    }
    /// Where a diagnostic about `pointer` points: the value when the file sets it, else
    /// the key of its nearest ancestor that the file has (a missing key is reported at
    /// the table that should hold it).
    pub fn span(&self, pointer: &str) -> Range<usize> {
        match self.places.get(pointer) {
            Some(place) => place.value.clone(),
            None => self.place(pointer).key,
        }
    }
}

pub fn pointer_escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

/// Parse TOML text, collecting every syntax error as a diagnostic.
pub fn parse(text: &str) -> Result<Parsed, Vec<Diagnostic>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().trim_end_matches('.').to_string();
                Diagnostic::error(Code::TomlSyntax, format!("TOML syntax error: {msg}"), span)
                    .with_help("fix the TOML syntax at the caret; strings need double quotes, tables `[name]`")
            })
            .collect());
    }
    let mut places = BTreeMap::new();
    let span = table.span();
    places.insert(String::new(), Place { key: span.clone(), value: span });
    let mut exact = true;
    let json = table_to_json(table.get_ref(), "", &mut places, &mut exact);
    Ok(Parsed { json, places, exact })
}

fn table_to_json(t: &DeTable<'_>, prefix: &str, places: &mut BTreeMap<String, Place>, exact: &mut bool) -> Value {
    let mut map = Map::new();
    for (k, v) in t.iter() {
        let key: &str = k.get_ref();
        let ptr = format!("{prefix}/{}", pointer_escape(key));
        let mut value_span = v.span();
        // Tables opened with a `[header]` have the span of the header only; that is
        // where a diagnostic about the whole table should point.
        if value_span.start < k.span().start {
            value_span = k.span();
        }
        places.insert(ptr.clone(), Place { key: k.span(), value: value_span });
        map.insert(key.to_string(), value_to_json(v, &ptr, places, exact));
    }
    Value::Object(map)
}

fn value_to_json(v: &Spanned<DeValue<'_>>, ptr: &str, places: &mut BTreeMap<String, Place>, exact: &mut bool) -> Value {
    match v.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let digits = digits.trim_start_matches('+');
            let (neg, body) = match digits.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, digits),
            };
            let body = body.trim_start_matches("0x").trim_start_matches("0o").trim_start_matches("0b");
            match i64::from_str_radix(body, i.radix()) {
                Ok(n) => Value::from(if neg { -n } else { n }),
                // Out of range: keep it as text so the schema reports a type error.
                Err(_) => {
                    *exact = false;
                    Value::String(i.as_str().to_string())
                }
            }
        }
        DeValue::Float(f) => {
            f.as_str().replace('_', "").parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or_else(
                || {
                    *exact = false;
                    Value::String(f.as_str().to_string())
                },
                Value::Number,
            )
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => {
            *exact = false;
            Value::String(d.to_string())
        }
        DeValue::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(n, item)| {
                    let p = format!("{ptr}/{n}");
                    places.insert(p.clone(), Place { key: item.span(), value: item.span() });
                    value_to_json(item, &p, places, exact)
                })
                .collect(),
        ),
        DeValue::Table(t) => table_to_json(t, ptr, places, exact),
    }
}
