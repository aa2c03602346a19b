//! Renderers of diagnostics: human (source line and caret, colour only on a terminal),
//! json (one array; the field names are public API), github (workflow commands).

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Diagnostic, Severity};
use crate::source::Source;

/// Human output, rustc style. `styled` adds ANSI colour (the caller decides, from
/// whether stderr is a terminal and NO_COLOR).
pub fn human(src: &Source, diags: &[Diagnostic], styled: bool) -> String {
    let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    let suppressed = diags.iter().filter(|d| d.suppressed.is_some()).count();
    for d in diags.iter().filter(|d| d.suppressed.is_none()) {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level.primary_title(d.message.as_str()).id(d.code.id());
        let mut group_items: Vec<Group<'_>> = Vec::new();
        let group = if d.redact || src.text.is_empty() || (d.span == (0..0) && d.related.is_empty()) {
            let (l, c) = src.line_col(d.span.start);
            title.element(annotate_snippets::Origin::path(src.name.as_str()).line(l).char_column(c))
        } else {
            let mut snippet = Snippet::source(src.text.as_str()).path(src.name.as_str()).fold(true);
            let span = char_span(&src.text, &d.span);
            snippet = snippet.annotation(AnnotationKind::Primary.span(span));
            for (sp, label) in &d.related {
                snippet =
                    snippet.annotation(AnnotationKind::Context.span(char_span(&src.text, sp)).label(label.as_str()));
            }
            title.element(snippet)
        };
        let group = match &d.help {
            Some(h) => group.element(Level::HELP.message(h.as_str())),
            None => group,
        };
        group_items.push(group);
        out.push_str(&renderer.render(&group_items));
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors - suppressed;
    if suppressed > 0 && errors + warnings == 0 {
        let _ = writeln!(out, "{}: {suppressed} warning(s) allowed by the lint configuration", src.name);
    } else if suppressed > 0 {
        let _ = writeln!(out, "{}: {errors} error(s), {warnings} warning(s), {suppressed} allowed", src.name);
    } else if !diags.is_empty() {
        let _ = writeln!(out, "{}: {errors} error(s), {warnings} warning(s)", src.name);
    }
    out
}

/// A span on character boundaries within the text, at least one character wide where the
/// text allows (an empty span would draw no caret).
fn char_span(text: &str, span: &std::ops::Range<usize>) -> std::ops::Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    if end == start && end < text.len() {
        end += 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The public JSON shape of one diagnostic.
#[derive(serde::Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub path: Option<&'a str>,
    pub help: Option<&'a str>,
    /// Allowed by the lint configuration; `suppression` says by what.
    pub suppressed: bool,
    pub suppression: Option<super::Suppression>,
}

pub fn to_json<'a>(src: &'a Source, d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let (line, column) = src.line_col(d.span.start);
    let (end_line, end_column) = src.line_col(d.span.end);
    JsonDiagnostic {
        file: &src.name,
        code: d.code.id(),
        name: d.code.rule().name,
        severity: d.severity,
        message: &d.message,
        line,
        column,
        end_line,
        end_column,
        path: d.path.as_deref(),
        help: d.help.as_deref(),
        suppressed: d.suppressed.is_some(),
        suppression: d.suppressed,
    }
}

/// GitHub Actions workflow commands, one line per diagnostic.
pub fn github(src: &Source, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags.iter().filter(|d| d.suppressed.is_none()) {
        let (line, col) = src.line_col(d.span.start);
        let (end_line, end_col) = src.line_col(d.span.end);
        let kind = if d.is_error() { "error" } else { "warning" };
        let mut msg = d.message.clone();
        if let Some(h) = &d.help {
            msg.push_str("\nhelp: ");
            msg.push_str(h);
        }
        let _ = writeln!(
            out,
            "::{kind} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
            escape_property(&src.name),
            d.code.id(),
            escape_data(&msg)
        );
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
