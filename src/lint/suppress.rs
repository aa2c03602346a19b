//! Lint configuration: which warnings a stack allows, as ruff's `noqa` and clippy's
//! `allow` do.
//!
//! - `[lint] allow = ["SG102", "nfs-tsdb"]` in stack.toml allows a warning for the whole file;
//! - `# stackgen: allow SG102` (several codes separated by commas or spaces; a justification
//!   may follow ` -- `) on the line a warning points at, or on the table header above it,
//!   allows it there;
//! - `--allow CODE` / `--deny CODE` on the command line allow a warning everywhere, or make
//!   it an error (`--deny` wins over every allow).
//!
//! An allowed warning is not dropped: it is marked [`Suppression`], left out of human and
//! github output and of `--deny-warnings`, and kept in JSON (`"suppressed": true`) and
//! SARIF (`suppressions`). An error can never be allowed; allowing one, or naming a code
//! that does not exist, is itself a diagnostic (SG030).

use std::collections::BTreeMap;

use serde_json::Value;

pub use crate::diagnostic::Suppression;
use crate::diagnostic::{Code, Diagnostic, Rule, Severity};
use crate::source::{Parsed, Source};

const MARKER: &str = "stackgen: allow";

/// The allows a stack file makes.
#[derive(Debug, Default, Clone)]
pub struct FileAllows {
    file: Vec<Code>,
    /// Codes allowed by comments, by 1-based line.
    inline: BTreeMap<usize, Vec<Code>>,
    /// 1-based lines of table headers (`[x]`, `[[x]]`), ascending.
    headers: Vec<usize>,
}

impl FileAllows {
    /// Read `[lint] allow` and the `# stackgen: allow` comments; report every unknown code
    /// and every attempt to allow an error.
    pub fn read(src: &Source, parsed: &Parsed) -> (FileAllows, Vec<Diagnostic>) {
        let mut allows = FileAllows::default();
        let mut diags = Vec::new();
        if let Some(list) = parsed.json.pointer("/lint/allow").and_then(Value::as_array) {
            for (i, v) in list.iter().enumerate() {
                let Some(word) = v.as_str() else { continue };
                let span = parsed.place(&format!("/lint/allow/{i}")).value;
                match allowable(word) {
                    Ok(code) => allows.file.push(code),
                    Err(why) => diags.push(bad_allow(word, why, span).with_path(format!("/lint/allow/{i}"))),
                }
            }
        }
        let mut in_multiline: Option<&str> = None;
        let mut offset = 0;
        for (idx, line) in src.text.split_inclusive('\n').enumerate() {
            let lineno = idx + 1;
            let start = offset;
            offset += line.len();
            if let Some(delim) = in_multiline {
                if line.matches(delim).count() % 2 == 1 {
                    in_multiline = None;
                }
                continue;
            }
            for delim in ["\"\"\"", "'''"] {
                if line.matches(delim).count() % 2 == 1 {
                    in_multiline = Some(delim);
                }
            }
            let code_part = line.trim_start();
            if code_part.starts_with('[') {
                allows.headers.push(lineno);
            }
            let Some(hash) = comment_start(line) else { continue };
            let comment = &line[hash + 1..];
            let Some(at) = comment.find(MARKER) else { continue };
            if !comment[..at].trim().is_empty() {
                continue;
            }
            let rest = &comment[at + MARKER.len()..];
            let list = rest.split(" -- ").next().unwrap_or_default();
            let list_start = start + hash + 1 + at + MARKER.len();
            let mut any = false;
            for (tok_off, tok) in tokens(list) {
                any = true;
                let span = list_start + tok_off..list_start + tok_off + tok.len();
                match allowable(tok) {
                    Ok(code) => allows.inline.entry(lineno).or_default().push(code),
                    Err(why) => diags.push(bad_allow(tok, why, span)),
                }
            }
            if !any {
                let span = start + hash..start + line.trim_end().len();
                diags.push(
                    Diagnostic::new(Code::BadSuppression, "`# stackgen: allow` names no code", span)
                        .with_help("write the codes it allows: `# stackgen: allow SG102`"),
                );
            }
        }
        (allows, diags)
    }

    /// Mark the warnings this file allows.
    pub fn apply(&self, src: &Source, diags: &mut [Diagnostic]) {
        for d in diags.iter_mut().filter(|d| d.severity == Severity::Warning && d.suppressed.is_none()) {
            let line = src.line_col(d.span.start).0;
            let header = self.headers.iter().rev().find(|&&h| h <= line).copied();
            let inline = |l: usize| self.inline.get(&l).is_some_and(|c| c.contains(&d.code));
            if inline(line) || header.is_some_and(inline) {
                d.suppressed = Some(Suppression::InSource);
            } else if self.file.contains(&d.code) {
                d.suppressed = Some(Suppression::StackFile);
            }
        }
    }
}

/// The command line's `--allow` and `--deny` lists.
#[derive(Debug, Default, Clone)]
pub struct CliPolicy {
    pub allow: Vec<Code>,
    pub deny: Vec<Code>,
}

impl CliPolicy {
    /// Parse `--allow`/`--deny` values (codes or kebab names, comma-separated allowed).
    /// `Err` is a usage error (exit 2).
    pub fn parse(allow: &[String], deny: &[String]) -> Result<CliPolicy, String> {
        let mut p = CliPolicy::default();
        for word in allow.iter().flat_map(|w| w.split(',')).map(str::trim).filter(|w| !w.is_empty()) {
            p.allow.push(allowable(word).map_err(|why| format!("--allow {word}: {why}"))?);
        }
        for word in deny.iter().flat_map(|w| w.split(',')).map(str::trim).filter(|w| !w.is_empty()) {
            let rule = lookup(word).map_err(|why| format!("--deny {word}: {why}"))?;
            p.deny.push(rule.code);
        }
        Ok(p)
    }

    /// `--deny` turns a warning into an error (and lifts any allow); `--allow` marks the rest.
    pub fn apply(&self, diags: &mut [Diagnostic]) {
        for d in diags.iter_mut() {
            if self.deny.contains(&d.code) {
                d.severity = Severity::Error;
                d.suppressed = None;
            } else if d.severity == Severity::Warning && d.suppressed.is_none() && self.allow.contains(&d.code) {
                d.suppressed = Some(Suppression::CommandLine);
            }
        }
    }
}

fn lookup(word: &str) -> Result<&'static Rule, String> {
    if let Some(r) = Code::retired(word) {
        return Err(format!("{} ({}) is retired and never raised", r.id, r.name));
    }
    Code::lookup(word).ok_or_else(|| "no such code; `stackgen explain list` lists them".to_string())
}

fn allowable(word: &str) -> Result<Code, String> {
    let rule = lookup(word)?;
    if rule.severity == Severity::Error {
        return Err(format!("{} ({}) is an error, and errors cannot be allowed", rule.id, rule.name));
    }
    Ok(rule.code)
}

fn bad_allow(word: &str, why: String, span: std::ops::Range<usize>) -> Diagnostic {
    let shown: String = word.chars().filter(|c| !c.is_control()).take(40).collect();
    Diagnostic::new(Code::BadSuppression, format!("cannot allow `{shown}`: {why}"), span)
        .with_help("allow only warning codes (`stackgen explain list` shows each code's severity)")
}

/// The byte offset of the `#` that starts a comment, outside strings.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return Some(i),
            None => {}
        }
    }
    None
}

/// Tokens separated by commas and whitespace, with their byte offsets.
fn tokens(list: &str) -> impl Iterator<Item = (usize, &str)> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .scan(0usize, |pos, tok| {
            let at = *pos;
            *pos += tok.len() + 1;
            Some((at, tok))
        })
        .filter(|(_, t)| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_found_outside_strings_only() {
        assert_eq!(comment_start("a = 1 # x"), Some(6));
        assert_eq!(comment_start("a = \"# not\" # yes"), Some(12));
        assert_eq!(comment_start("a = '#' "), None);
        assert_eq!(comment_start("a = \"\\\"#\""), None);
    }

    #[test]
    fn tokens_keep_their_offsets() {
        let t: Vec<_> = tokens(" SG102, nfs-tsdb  SG105").collect();
        assert_eq!(t, vec![(1, "SG102"), (8, "nfs-tsdb"), (18, "SG105")]);
    }

    #[test]
    fn errors_cannot_be_allowed_and_unknown_codes_are_reported() {
        assert!(allowable("SG102").is_ok());
        assert!(allowable("nfs-tsdb").is_ok());
        assert!(allowable("SG001").unwrap_err().contains("cannot be allowed"));
        assert!(allowable("SG999").unwrap_err().contains("no such code"));
        assert!(allowable("SG201").unwrap_err().contains("retired"));
        assert!(allowable("SG130").is_ok(), "the retention_size headroom warning can be allowed");
        assert!(allowable("SG106").unwrap_err().contains("cannot be allowed"));
        assert!(CliPolicy::parse(&["SG001".into()], &[]).is_err());
        assert!(CliPolicy::parse(&[], &["SG001".into()]).is_ok());
    }
}
