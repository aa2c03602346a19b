//! Checking a Prometheus rule file (`groups:`) the user references from stack.toml, as
//! Prometheus' `rulefmt` does, with every problem at its line and column in the file.
//!
//! [`check_rule_file`] reads the file with positions (serde-saphyr's `Spanned`), checks
//! its shape (the keys `rulefmt` knows, strictly), that group names are set and unique,
//! the durations, the label and annotation names, recording rule names, and parses every
//! `expr` with `promql-parser`. A PromQL error is placed inside the expression: the
//! offset the parser's error has in the expression is mapped back to the YAML scalar it
//! came from (plain, quoted, literal `|` or folded `>`).
//!
//! Diagnostics carry byte spans into the rule file's text: render them with a
//! [`crate::source::Source`] made of the file's name and text.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::{Code, Diagnostic};

/// The largest rule file read (Prometheus has no limit; a rule file of 4 MiB is far
/// beyond the largest mixin's).
pub const MAX_RULE_FILE_BYTES: usize = 4 << 20;

/// A YAML node with the byte range of where it is written.
#[derive(Debug, Clone)]
enum Node {
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    /// A scalar, as text (numbers and booleans as written by serde's value).
    Str(String),
    Null,
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Map(_) => "a mapping",
            Node::Seq(_) => "a list",
            Node::Str(_) => "a scalar",
            Node::Null => "empty",
        }
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Spanned<Node>>()? {
            out.push(v);
        }
        Ok(Node::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Node>>()? {
            let v = map.next_value::<Spanned<Node>>()?;
            out.push((k, v));
        }
        Ok(Node::Map(out))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// The byte offset of a 1-based line and column (columns in chars).
fn offset_of_line_col(text: &str, line: u64, column: u64) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
            return off + l.char_indices().nth(col).map_or(l.len(), |(j, _)| j);
        }
        off += l.len();
    }
    text.len()
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte range of a spanned node in the text (empty at its start when the length is
/// unknown; `0..0` when nothing is known).
fn span_of<T>(s: &Spanned<T>, text: &str) -> Range<usize> {
    let sp = s.referenced.span();
    let start = sp.byte_offset().map_or(0, |o| usize::try_from(o).unwrap_or(0)).min(text.len());
    let len = sp.byte_len().map_or(0, |l| usize::try_from(l).unwrap_or(0));
    let end = start.saturating_add(len).min(text.len());
    floor_char(text, start)..floor_char(text, end)
}

struct Checker<'a> {
    text: &'a str,
    file: &'a str,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, code: Code, message: String, span: Range<usize>, help: &str) {
        self.diags.push(Diagnostic::new(code, message, span).with_help(help.to_string()));
    }
    fn shape(&mut self, message: String, span: Range<usize>, help: &str) {
        self.push(Code::RuleFileShape, message, span, help);
    }
}

/// The keys of a group and of a rule, as Prometheus' `rulefmt` reads them (strictly:
/// Prometheus refuses a rule file with an unknown key).
const GROUP_KEYS: &[&str] = &["name", "interval", "query_offset", "limit", "rules", "labels"];
const RULE_KEYS: &[&str] = &["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"];

/// Check one Prometheus rule file: `file` is its name (used in messages), `text` its
/// content. Returns every problem found, in file order; empty when the file is one
/// Prometheus would load. Never panics.
pub fn check_rule_file(file: &str, text: &str) -> Vec<Diagnostic> {
    let mut cx = Checker { text, file, diags: Vec::new() };
    if text.len() > MAX_RULE_FILE_BYTES {
        cx.push(
            Code::RuleFileYaml,
            format!("{file} is larger than {} MiB", MAX_RULE_FILE_BYTES >> 20),
            0..0,
            "split the rule file",
        );
        return cx.diags;
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1,
            max_nodes: 1_000_000,
            max_total_scalar_bytes: MAX_RULE_FILE_BYTES,
        },
    };
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serde_saphyr::from_str_with_options::<Spanned<Node>>(text, options)
    }));
    let root = match parsed {
        Ok(Ok(root)) => root,
        Ok(Err(e)) => {
            let at = e.location().map_or(0, |l| match l.span().byte_offset() {
                Some(o) => usize::try_from(o).unwrap_or(0),
                None => offset_of_line_col(text, l.line(), l.column()),
            });
            let at = floor_char(text, at.min(text.len()));
            let span = at..at;
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid YAML");
            // serde-saphyr writes `error: line L column C: what`; the place is the span's.
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let first = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
                Some((_, what)) => what,
                None => first,
            }
            .to_string();
            cx.push(
                Code::RuleFileYaml,
                format!("{file} is not valid YAML: {first}"),
                span,
                "a rule file is one YAML document: `groups:` and a list of groups (see `promtool check rules`)",
            );
            return cx.diags;
        }
        Err(_) => {
            cx.push(Code::RuleFileYaml, format!("{file} could not be read as YAML"), 0..0, "check the YAML syntax");
            return cx.diags;
        }
    };
    check_root(&mut cx, &root);
    crate::diagnostic::sort(&mut cx.diags);
    cx.diags
}

fn check_root(cx: &mut Checker<'_>, root: &Spanned<Node>) {
    let help = "a rule file is `groups:` with a list of groups, each with `name` and `rules`";
    let Node::Map(entries) = &root.value else {
        if matches!(root.value, Node::Null) {
            // An empty file: Prometheus loads it (no groups).
            return;
        }
        cx.shape(
            format!("{} must be a mapping with `groups:`, not {}", cx.file, root.value.kind()),
            span_of(root, cx.text),
            help,
        );
        return;
    };
    let mut groups = None;
    for (k, v) in entries {
        match &k.value {
            Node::Str(s) if s == "groups" => groups = Some(v),
            Node::Str(s) => cx.shape(format!("unknown key `{s}` at the top of a rule file"), span_of(k, cx.text), help),
            other => cx.shape(format!("a key must be a string, not {}", other.kind()), span_of(k, cx.text), help),
        }
    }
    let Some(groups) = groups else {
        cx.shape(format!("{} has no `groups:`", cx.file), span_of(root, cx.text), help);
        return;
    };
    let list = match &groups.value {
        Node::Seq(l) => l,
        Node::Null => return,
        other => {
            cx.shape(format!("`groups` must be a list, not {}", other.kind()), span_of(groups, cx.text), help);
            return;
        }
    };
    let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    for g in list {
        check_group(cx, g, &mut seen);
    }
}

/// A mapping's entries by key name: the key node and the value node.
type Entries<'n> = BTreeMap<String, (&'n Spanned<Node>, &'n Spanned<Node>)>;

/// A mapping's entries by key name; reports non-string keys, unknown keys and repeated
/// keys.
fn entries<'n>(
    cx: &mut Checker<'_>,
    node: &'n Spanned<Node>,
    what: &str,
    known: &[&str],
    help: &str,
) -> Option<Entries<'n>> {
    let Node::Map(items) = &node.value else {
        cx.shape(format!("{what} must be a mapping, not {}", node.value.kind()), span_of(node, cx.text), help);
        return None;
    };
    let mut out = BTreeMap::new();
    for (k, v) in items {
        let Node::Str(name) = &k.value else {
            cx.shape(format!("a key of {what} must be a string, not {}", k.value.kind()), span_of(k, cx.text), help);
            continue;
        };
        if !known.contains(&name.as_str()) {
            let near = known.iter().find(|c| strsim::levenshtein(c, name) <= 2);
            let msg = match near {
                Some(c) => format!("unknown key `{name}` in {what} (did you mean `{c}`?)"),
                None => format!("unknown key `{name}` in {what}"),
            };
            cx.shape(msg, span_of(k, cx.text), &format!("{what} has the keys {}", known.join(", ")));
            continue;
        }
        out.insert(name.clone(), (k, v));
    }
    Some(out)
}

/// A string value (scalars only; numbers are read as written).
fn string<'n>(cx: &mut Checker<'_>, key: &str, v: &'n Spanned<Node>, help: &str) -> Option<&'n str> {
    match &v.value {
        Node::Str(s) => Some(s),
        Node::Null => Some(""),
        other => {
            cx.shape(format!("`{key}` must be a string, not {}", other.kind()), span_of(v, cx.text), help);
            None
        }
    }
}

fn check_group(cx: &mut Checker<'_>, g: &Spanned<Node>, seen: &mut BTreeMap<String, Range<usize>>) {
    let help = "a group is `name`, `rules` and optionally `interval`, `query_offset`, `limit`, `labels`";
    let Some(keys) = entries(cx, g, "a rule group", GROUP_KEYS, help) else {
        return;
    };
    let group_span = span_of(g, cx.text);
    match keys.get("name") {
        None => cx.shape("a rule group without `name`".into(), group_span.clone(), help),
        Some((_, v)) => {
            if let Some(name) = string(cx, "name", v, help) {
                let at = span_of(v, cx.text);
                if name.is_empty() {
                    cx.shape("a rule group with an empty `name`".into(), at, help);
                } else if let Some(first) = seen.get(name) {
                    let d = Diagnostic::new(
                        Code::DuplicateRuleGroup,
                        format!("rule group `{name}` is defined twice in {}", cx.file),
                        at,
                    )
                    .with_help("Prometheus refuses a rule file with two groups of one name: rename or merge one")
                    .with_related(first.clone(), "first defined here");
                    cx.diags.push(d);
                } else {
                    seen.insert(name.to_string(), at);
                }
            }
        }
    }
    for key in ["interval", "query_offset"] {
        if let Some((_, v)) = keys.get(key) {
            duration(cx, key, v);
        }
    }
    if let Some((_, v)) = keys.get("limit") {
        if let Some(s) = string(cx, "limit", v, help) {
            if s.parse::<u64>().is_err() {
                cx.shape(
                    format!("`limit` must be a whole number, not `{s}`"),
                    span_of(v, cx.text),
                    "limit = 0 means no limit",
                );
            }
        }
    }
    if let Some((_, v)) = keys.get("labels") {
        labels(cx, "labels", v, false);
    }
    match keys.get("rules") {
        None => cx.shape("a rule group without `rules`".into(), group_span, help),
        Some((_, v)) => match &v.value {
            Node::Seq(rules) => {
                for r in rules {
                    check_rule(cx, r);
                }
            }
            Node::Null => {}
            other => cx.shape(format!("`rules` must be a list, not {}", other.kind()), span_of(v, cx.text), help),
        },
    }
}

fn duration(cx: &mut Checker<'_>, key: &str, v: &Spanned<Node>) {
    let Node::Str(s) = &v.value else {
        cx.push(
            Code::RuleDuration,
            format!("`{key}` must be a duration, not {}", v.value.kind()),
            span_of(v, cx.text),
            "write a Prometheus duration: 30s, 5m, 1h30m",
        );
        return;
    };
    if let Err(e) = s.parse::<crate::model::units::Duration>() {
        cx.push(
            Code::RuleDuration,
            format!("`{key}`: {e}"),
            span_of(v, cx.text),
            "write a Prometheus duration: 30s, 5m, 1h30m",
        );
    }
}

/// A label name Prometheus, Alertmanager matchers and Thanos all read: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn labels(cx: &mut Checker<'_>, key: &str, v: &Spanned<Node>, annotations: bool) {
    let help = if annotations {
        "annotation names are label names: letters, digits and `_`, not starting with a digit"
    } else {
        "label names are letters, digits and `_`, not starting with a digit, and not `__name__`"
    };
    let items = match &v.value {
        Node::Map(items) => items,
        Node::Null => return,
        other => {
            cx.shape(
                format!("`{key}` must be a mapping of names to strings, not {}", other.kind()),
                span_of(v, cx.text),
                help,
            );
            return;
        }
    };
    for (k, val) in items {
        let name = match &k.value {
            Node::Str(s) => s.as_str(),
            other => {
                cx.shape(format!("a key of `{key}` must be a string, not {}", other.kind()), span_of(k, cx.text), help);
                continue;
            }
        };
        if !is_label_name(name) || (!annotations && name == "__name__") {
            let what = if annotations { "annotation" } else { "label" };
            cx.push(Code::RuleLabelName, format!("`{name}` is not a valid {what} name"), span_of(k, cx.text), help);
        }
        if !matches!(val.value, Node::Str(_) | Node::Null) {
            cx.shape(
                format!("the value of `{key}.{name}` must be a string, not {}", val.value.kind()),
                span_of(val, cx.text),
                "quote it to make it a string",
            );
        }
    }
}

/// Where a Go template action (`{{ ... }}`) is not closed, and what is wrong, skipping
/// quoted strings inside actions (a `}}` in plain text is text, as in Go). Only the delimiters are checked:
/// Prometheus parses the template itself when it loads the rule.
pub fn template_problem(t: &str) -> Option<(usize, &'static str)> {
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i..].starts_with(b"{{") {
            i += 1;
            continue;
        }
        let open = i;
        i += 2;
        let mut closed = false;
        while i < b.len() {
            match b[i] {
                b'"' | b'`' | b'\'' => match super::promql::closing_quote(b, i) {
                    Some(close) => i = close + 1,
                    None => return Some((open, "a string in this template action is not closed")),
                },
                b'}' if b[i..].starts_with(b"}}") => {
                    i += 2;
                    closed = true;
                    break;
                }
                b'{' if b[i..].starts_with(b"{{") => return Some((open, "`{{` is not closed by `}}`")),
                _ => i += 1,
            }
        }
        if !closed {
            return Some((open, "`{{` is not closed by `}}`"));
        }
    }
    None
}

/// The templates of an alerting rule's labels or annotations.
fn templates(cx: &mut Checker<'_>, key: &str, v: &Spanned<Node>) {
    let Node::Map(items) = &v.value else { return };
    for (k, val) in items {
        let (Node::Str(name), Node::Str(t)) = (&k.value, &val.value) else { continue };
        if let Some((at, what)) = template_problem(t) {
            let pos = scalar_offset(cx.text, span_of(val, cx.text), t, at);
            let end = cx.text[pos..].chars().next().map_or(pos, |c| pos + c.len_utf8());
            cx.push(
                Code::RuleTemplate,
                format!("the template of `{key}.{name}` does not parse: {what}"),
                pos..end,
                "templates are Go templates: {{ $labels.instance }}, {{ $value }}; write a literal brace as {{ \"{{\" }}",
            );
        }
    }
}

fn check_rule(cx: &mut Checker<'_>, r: &Spanned<Node>) {
    let help = "a rule is `alert` (with `for`, `keep_firing_for`, `labels`, `annotations`) or `record` (with `labels`), and `expr`";
    let Some(keys) = entries(cx, r, "a rule", RULE_KEYS, help) else {
        return;
    };
    let rule_span = span_of(r, cx.text);
    let alert = keys.get("alert").and_then(|(_, v)| string(cx, "alert", v, help).map(|s| (s, span_of(v, cx.text))));
    let record = keys.get("record").and_then(|(_, v)| string(cx, "record", v, help).map(|s| (s, span_of(v, cx.text))));
    let alert = alert.filter(|(s, _)| !s.is_empty());
    let record = record.filter(|(s, _)| !s.is_empty());
    match (&alert, &record) {
        (Some(_), Some((_, at))) => cx.shape(
            "a rule with both `alert` and `record`".into(),
            at.clone(),
            "a rule is either an alert or a recording rule: split it in two",
        ),
        (None, None) => cx.shape("a rule without `alert` or `record`".into(), rule_span.clone(), help),
        (None, Some((name, at))) => {
            if name.contains('{') || name.contains('}') {
                cx.push(
                    Code::RuleLabelName,
                    format!("recording rule name `{name}` has braces"),
                    at.clone(),
                    "the name is a metric name; matchers belong in `expr`",
                );
            } else if !is_metric_name(name) {
                cx.push(
                    Code::RuleLabelName,
                    format!("`{name}` is not a valid recording rule name"),
                    at.clone(),
                    "a recording rule's name is a metric name: letters, digits, `_` and `:` (level:metric:operations)",
                );
            }
            for key in ["for", "keep_firing_for", "annotations"] {
                if let Some((k, _)) = keys.get(key) {
                    cx.shape(
                        format!("`{key}` in a recording rule"),
                        span_of(k, cx.text),
                        "only alerting rules have `for`, `keep_firing_for` and `annotations`",
                    );
                }
            }
        }
        (Some(_), None) => {}
    }
    for key in ["for", "keep_firing_for"] {
        if let Some((_, v)) = keys.get(key) {
            duration(cx, key, v);
        }
    }
    if let Some((_, v)) = keys.get("labels") {
        labels(cx, "labels", v, false);
        if alert.is_some() {
            templates(cx, "labels", v);
        }
    }
    if let Some((_, v)) = keys.get("annotations") {
        labels(cx, "annotations", v, true);
        templates(cx, "annotations", v);
    }
    match keys.get("expr") {
        None => cx.shape("a rule without `expr`".into(), rule_span, help),
        Some((_, v)) => {
            if let Some(expr) = string(cx, "expr", v, help) {
                let at = span_of(v, cx.text);
                if expr.trim().is_empty() {
                    cx.shape("a rule with an empty `expr`".into(), at, help);
                } else if let Err(e) = super::promql::check(expr) {
                    let pos = scalar_offset(cx.text, at.clone(), expr, e.offset);
                    let end = cx.text[pos..].chars().next().map_or(pos, |c| pos + c.len_utf8());
                    let name = alert.as_ref().or(record.as_ref()).map_or("", |(s, _)| s);
                    let of = if name.is_empty() { String::new() } else { format!(" of `{name}`") };
                    cx.push(
                        Code::PromqlSyntax,
                        format!("the expression{of} does not parse: {}", e.message),
                        pos..end,
                        "fix the PromQL; `promtool check rules` and the Prometheus UI show the same error",
                    );
                }
            }
        }
    }
}

/// Map a byte offset in a scalar's value to a byte offset in the file, given where the
/// scalar is written (`at`): plain and quoted scalars, literal `|` and folded `>` block
/// scalars. The value's characters are found in order in the written text (indentation,
/// quotes, escapes and line folding are what lie between them).
fn scalar_offset(text: &str, at: Range<usize>, value: &str, offset: usize) -> usize {
    let start = at.start.min(text.len());
    let mut src = start;
    let written = &text[start..];
    // A block scalar: its value starts on the line after the header (`|`, `>-`, `|2`).
    if written.starts_with('|') || written.starts_with('>') {
        src = written.find('\n').map_or(text.len(), |n| start + n + 1);
    } else if written.starts_with('"') || written.starts_with('\'') {
        src += 1;
    }
    for (i, c) in value.char_indices() {
        // Find c at or after src (whitespace matches any whitespace: folding).
        let rest = &text[src..];
        let found = if c.is_whitespace() {
            rest.char_indices().find(|(_, s)| s.is_whitespace()).map(|(j, _)| j)
        } else {
            rest.find(c)
        };
        let Some(j) = found else {
            return src.min(text.len());
        };
        if i >= offset {
            return src + j;
        }
        src += j + c.len_utf8();
    }
    src.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn diags(text: &str) -> Vec<(String, usize, usize, String)> {
        let src = Source::new("rules.yaml", text);
        check_rule_file("rules.yaml", text)
            .into_iter()
            .map(|d| {
                let (l, c) = src.line_col(d.span.start);
                (d.code.id().to_string(), l, c, d.message)
            })
            .collect()
    }

    const GOOD: &str = "groups:
  - name: example
    interval: 30s
    labels:
      team: sre
    rules:
      - alert: HighErrorRate
        expr: sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) > 0.1
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: page
        annotations:
          summary: High error rate on {{ $labels.job }}
      - record: job:http_requests:rate5m
        expr: |
          sum by (job) (
            rate(http_requests_total[5m])
          )
";

    #[test]
    fn a_good_file_has_no_diagnostics() {
        assert_eq!(diags(GOOD), vec![]);
        assert_eq!(diags(""), vec![]);
        assert_eq!(diags("groups: []\n"), vec![]);
    }

    #[test]
    fn promql_error_in_a_plain_scalar_is_located() {
        let text = GOOD.replace("(rate(http_requests_total{code", "(rat(http_requests_total{code");
        let d = diags(&text);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, "SG136");
        // `rat` is at line 8, column 29.
        assert_eq!((d[0].1, d[0].2), (8, 29), "{d:?}");
        assert!(d[0].3.contains("HighErrorRate") && d[0].3.contains("rat"), "{d:?}");
    }

    #[test]
    fn promql_error_in_a_block_scalar_is_located() {
        let text = GOOD.replace("rate(http_requests_total[5m])\n", "rate(http_requests_total[5m]) +\n");
        let d = diags(&text);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, "SG136");
        // The `)` right after the `+`: line 19, column 11 (as Prometheus: unexpected ")").
        assert_eq!((d[0].1, d[0].2), (19, 11), "{d:?}");
        let text = GOOD.replace("rate(http_requests_total[5m])\n", "rate(http_requests_total[5m]\n");
        let d = diags(&text);
        assert_eq!(d[0].0, "SG136");
        // The `(` left open: `sum by (job) (` on line 17, column 22.
        assert_eq!((d[0].1, d[0].2), (17, 24), "{d:?}");
    }

    #[test]
    fn promql_error_in_a_quoted_scalar_is_located() {
        let text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: \"up == $\"\n";
        let d = diags(text);
        assert_eq!(d.iter().map(|d| (d.0.as_str(), d.1, d.2)).collect::<Vec<_>>(), vec![("SG136", 5, 18)], "{d:?}");
    }

    #[test]
    fn shape_names_durations_and_duplicates() {
        let text = "groups:
- name: g
  interval: 30x
  rules:
  - alert: A
    expr: up == 0
    for: 5mins
    labels:
      bad-name: x
    annotations:
      '1x': y
  - record: job{a}
    expr: up
    for: 5m
  - expr: up
  - alert: B
    record: b
    expr: up
    unknown: 1
- name: g
  rules: []
other: 1
";
        let d = diags(text);
        let codes: Vec<(&str, usize)> = d.iter().map(|d| (d.0.as_str(), d.1)).collect();
        assert_eq!(
            codes,
            vec![
                ("SG134", 3),
                ("SG134", 7),
                ("SG135", 9),
                ("SG135", 11),
                ("SG135", 12),
                ("SG132", 14),
                ("SG132", 15),
                ("SG132", 17),
                ("SG132", 19),
                ("SG133", 20),
                ("SG132", 22),
            ],
            "{d:#?}"
        );
    }

    #[test]
    fn bad_yaml_is_one_located_error() {
        let d = diags("groups:\n  - name: [\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "SG131");
        let d = diags("groups: 1\n");
        assert_eq!(d[0].0, "SG132");
        let d = diags("- a\n");
        assert_eq!(d[0].0, "SG132");
    }

    #[test]
    fn odd_input_never_panics() {
        for t in [
            "\u{0}",
            "groups:\n- \n",
            "groups:\n- name: 1\n  rules:\n  - expr: 1\n    alert: 1\n",
            "&a [*a]",
            "groups: !!binary aGVsbG8=",
            "{",
            "groups:\n- name: g\n  rules:\n  - alert: x\n    expr: \"\\u00e9(\"\n",
        ] {
            let _ = check_rule_file("x", t);
        }
    }

    /// Any edit of a good file (a char deleted, inserted or replaced anywhere, including
    /// multi-byte ones) never panics, and every diagnostic's span lies in the text, on
    /// char boundaries.
    #[test]
    fn mutated_files_never_panic_and_spans_are_in_bounds() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let inserts = ['(', ')', '{', '"', '\'', ':', '-', '|', '>', '\n', ' ', 'é', '#', '[', ']', '$', '!', '\t'];
        let mut runner = TestRunner::new(Config { cases: 300, failure_persistence: None, ..Config::default() });
        let text = GOOD.to_string();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let n = chars.len();
        runner
            .run(&(0..n, 0..3usize, 0..inserts.len(), 1..4usize), |(at, op, ins, count)| {
                let mut t = text.clone();
                for k in 0..count {
                    let idx = (at + k * 7) % n;
                    let Some(&(b, c)) = t.char_indices().collect::<Vec<_>>().get(idx) else { continue };
                    match op {
                        0 => {
                            t.replace_range(b..b + c.len_utf8(), "");
                        }
                        1 => t.insert(b, inserts[ins]),
                        _ => t.replace_range(b..b + c.len_utf8(), &inserts[ins].to_string()),
                    }
                }
                for d in check_rule_file("m.yaml", &t) {
                    prop_assert!(d.span.start <= d.span.end && d.span.end <= t.len(), "{d:?}");
                    prop_assert!(t.is_char_boundary(d.span.start) && t.is_char_boundary(d.span.end), "{d:?}");
                    prop_assert!(d.help.is_some());
                }
                Ok(())
            })
            .unwrap();
    }
}
