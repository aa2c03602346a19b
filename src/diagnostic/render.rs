//! Renderers of diagnostics: human (source line and caret, colour only on a terminal),
//! json (one array; the field names are public API), github (workflow commands).

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Diagnostic, Severity};
use crate::source::Source;

/// At most this many diagnostics of one file are printed in the human and github
/// formats; the rest are counted ("... and N more"). json and sarif carry every one.
pub const MAX_PRINTED: usize = 100;

/// A source excerpt longer than this (one minified line) is not shown: the location is.
const MAX_EXCERPT: usize = 4096;

/// Text from the input, made safe for a terminal and scrubbed of credentials: control
/// characters (ESC, C1, DEL, bidi overrides) become `\u{..}` escapes, credentials
/// `<redacted>`.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    let scrubbed = crate::secrets::scrub(s);
    if !scrubbed.chars().any(|c| is_terminal_control(c) && c != '\n') {
        return scrubbed;
    }
    let mut out = String::with_capacity(scrubbed.len() + 8);
    for c in scrubbed.chars() {
        if is_terminal_control(c) && c != '\n' {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Characters that move the cursor, change colours or reorder text on a terminal.
pub fn is_terminal_control(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// A source excerpt with every terminal control replaced by a character of the same
/// UTF-8 length, so byte spans stay valid: `?` (1 byte), `¿` (2), `\u{fffd}` (3).
fn neutralize(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| is_terminal_control(c) && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_terminal_control(c) && c != '\n' {
            out.push(match c.len_utf8() {
                1 => '?',
                2 => '\u{bf}',
                _ => '\u{fffd}',
            });
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Human output, rustc style. `styled` adds ANSI colour (the caller decides, from
/// whether stderr is a terminal and NO_COLOR).
///
/// Linear in the number of diagnostics: each one is drawn from the few lines it points
/// at, never from the whole file, and at most [`MAX_PRINTED`] are drawn. No source line
/// that holds a credential is shown, and no text from the input reaches the terminal
/// with its control characters.
pub fn human(src: &Source, diags: &[Diagnostic], styled: bool) -> String {
    let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    let name = clean(&src.name);
    let suppressed = diags.iter().filter(|d| d.suppressed.is_some()).count();
    let shown: Vec<&Diagnostic> = diags.iter().filter(|d| d.suppressed.is_none()).collect();
    for d in shown.iter().take(MAX_PRINTED) {
        let (src, name) = match &d.file {
            Some(f) => (&**f, clean(&f.name)),
            None => (src, name.clone()),
        };
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let message = clean(&d.message);
        let title = level.primary_title(message.as_ref()).id(d.code.id());
        // The related places too when they are near; else the primary place alone.
        let (excerpt, related) = if d.redact || src.text.is_empty() || (d.span == (0..0) && d.related.is_empty()) {
            (None, false)
        } else {
            match excerpt(src, d, true) {
                Some(e) => (Some(e), true),
                None => (excerpt(src, d, false), false),
            }
        };
        let labels: Vec<std::borrow::Cow<'_, str>> = d.related.iter().map(|(_, l)| clean(l)).collect();
        let group = match &excerpt {
            None => {
                let (l, c) = src.line_col(d.span.start);
                title.element(annotate_snippets::Origin::path(name.as_ref()).line(l).char_column(c))
            }
            Some((start, line, text)) => {
                let local = |sp: &std::ops::Range<usize>| {
                    let sp = char_span(&src.text, sp);
                    sp.start - start..sp.end - start
                };
                let mut snippet = Snippet::source(text.as_ref()).line_start(*line).path(name.as_ref()).fold(true);
                snippet = snippet.annotation(AnnotationKind::Primary.span(local(&d.span)));
                for ((sp, _), label) in d.related.iter().zip(&labels).filter(|_| related) {
                    snippet = snippet.annotation(AnnotationKind::Context.span(local(sp)).label(label.as_ref()));
                }
                title.element(snippet)
            }
        };
        let help = d.help.as_deref().map(clean);
        let group = match &help {
            Some(h) => group.element(Level::HELP.message(h.as_ref())),
            None => group,
        };
        let group_items: Vec<Group<'_>> = vec![group];
        out.push_str(&renderer.render(&group_items));
        out.push('\n');
    }
    if shown.len() > MAX_PRINTED {
        let _ = writeln!(
            out,
            "{name}: ... and {} more diagnostic(s) not shown (`stackgen lint --format json` lists them all)\n",
            shown.len() - MAX_PRINTED
        );
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors - suppressed;
    if suppressed > 0 && errors + warnings == 0 {
        let _ = writeln!(out, "{name}: {suppressed} warning(s) allowed by the lint configuration");
    } else if suppressed > 0 {
        let _ = writeln!(out, "{name}: {errors} error(s), {warnings} warning(s), {suppressed} allowed");
    } else if !diags.is_empty() {
        let _ = writeln!(out, "{name}: {errors} error(s), {warnings} warning(s)");
    }
    out
}

/// The whole lines a diagnostic points at (its span and related spans): byte offset of
/// the first, its 1-based number, the text. None when it is too long to show or holds
/// a credential.
fn excerpt<'a>(src: &'a Source, d: &Diagnostic, related: bool) -> Option<(usize, usize, std::borrow::Cow<'a, str>)> {
    let text = &src.text;
    let spans = std::iter::once(&d.span).chain(d.related.iter().filter(|_| related).map(|(s, _)| s));
    let (mut lo, mut hi) = (usize::MAX, 0);
    for sp in spans {
        let sp = char_span(text, sp);
        lo = lo.min(sp.start);
        hi = hi.max(sp.end);
    }
    let start = text[..lo].rfind('\n').map_or(0, |i| i + 1);
    let end = text[hi.max(start)..].find('\n').map_or(text.len(), |i| hi.max(start) + i);
    let end = if hi > end { hi } else { end };
    let body = text.get(start..end)?;
    if body.len() > MAX_EXCERPT || crate::secrets::contains(body) {
        return None;
    }
    let (line, _) = src.line_col(start);
    Some((start, line, neutralize(body)))
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
    pub message: std::borrow::Cow<'a, str>,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub path: Option<std::borrow::Cow<'a, str>>,
    pub help: Option<std::borrow::Cow<'a, str>>,
    /// Allowed by the lint configuration; `suppression` says by what.
    pub suppressed: bool,
    pub suppression: Option<super::Suppression>,
}

pub fn to_json<'a>(src: &'a Source, d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let src = d.file.as_deref().unwrap_or(src);
    let (line, column) = src.line_col(d.span.start);
    let (end_line, end_column) = src.line_col(d.span.end);
    JsonDiagnostic {
        file: &src.name,
        code: d.code.id(),
        name: d.code.rule().name,
        severity: d.severity,
        // JSON escapes control characters itself; credentials are scrubbed here.
        message: crate::secrets::scrub(&d.message),
        line,
        column,
        end_line,
        end_column,
        path: d.path.as_deref().map(crate::secrets::scrub),
        help: d.help.as_deref().map(crate::secrets::scrub),
        suppressed: d.suppressed.is_some(),
        suppression: d.suppressed,
    }
}

/// GitHub Actions workflow commands, one line per diagnostic (at most [`MAX_PRINTED`]
/// per file, then a notice with the count of the rest).
pub fn github(src: &Source, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    let name = clean(&src.name);
    let shown: Vec<&Diagnostic> = diags.iter().filter(|d| d.suppressed.is_none()).collect();
    for d in shown.iter().take(MAX_PRINTED) {
        let (src, name) = match &d.file {
            Some(f) => (&**f, clean(&f.name)),
            None => (src, name.clone()),
        };
        let (line, col) = src.line_col(d.span.start);
        let (end_line, end_col) = src.line_col(d.span.end);
        let kind = if d.is_error() { "error" } else { "warning" };
        let mut msg = clean(&d.message).into_owned();
        if let Some(h) = &d.help {
            msg.push_str("\nhelp: ");
            msg.push_str(&clean(h));
        }
        let _ = writeln!(
            out,
            "::{kind} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
            escape_property(&name),
            d.code.id(),
            escape_data(&msg)
        );
    }
    if shown.len() > MAX_PRINTED {
        let _ = writeln!(
            out,
            "::notice file={}::{}",
            escape_property(&name),
            escape_data(&format!(
                "... and {} more diagnostic(s) not shown (`stackgen lint --format json` lists them all)",
                shown.len() - MAX_PRINTED
            ))
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
