//! PromQL parsing with an error location.
//!
//! `promql-parser` (GreptimeDB's PromQL parser, a port of Prometheus' grammar) reports
//! an error as a message only. [`check`] adds the byte offset of the error inside the
//! expression, found from the parser itself: a lexer error is where the shortest prefix
//! of the expression fails the same way; a parser error is after the longest prefix of
//! whole tokens that can still be completed into a valid expression. A message that
//! quotes the offending token (`unknown function with name 'foo'`) is placed on it.

use promql_parser::parser;

/// A PromQL expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromqlError {
    /// The parser's message.
    pub message: String,
    /// Byte offset of the error in the expression (always on a char boundary, at most
    /// the expression's length).
    pub offset: usize,
}

/// Expressions longer than this are not searched for the error location (the search
/// reparses prefixes): the error is placed at the start of the expression.
const MAX_LOCATE_BYTES: usize = 4096;

/// Parse `expr`; on failure, the parser's message and where in `expr` it is.
pub fn check(expr: &str) -> Result<(), PromqlError> {
    let message = match parse(expr) {
        Ok(()) => return Ok(()),
        Err(m) => m,
    };
    let offset = if expr.len() > MAX_LOCATE_BYTES { 0 } else { locate(expr, &message) };
    Err(PromqlError { message, offset: offset.min(expr.len()) })
}

/// The parser, with a panic in it (a bug in the parser on odd input) turned into an error.
fn parse(expr: &str) -> Result<(), String> {
    if expr.trim().is_empty() {
        return Err("empty expression".to_string());
    }
    match std::panic::catch_unwind(|| parser::parse(expr).map(|_| ())) {
        Ok(r) => r,
        Err(_) => Err("the expression could not be parsed".to_string()),
    }
}

fn lex_error(expr: &str) -> Option<String> {
    std::panic::catch_unwind(|| parser::lex::lexer(expr).err()).unwrap_or_default()
}

/// A token of the expression: its byte range and text class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    start: usize,
    end: usize,
}

/// A rough PromQL tokenizer, for token boundaries only (strings, comments, identifiers,
/// numbers and durations, operators). It never fails.
fn tokens(expr: &str) -> Vec<Token> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' && c != b'`' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
        } else if i + 1 < b.len() && matches!(&b[i..i + 2], b"==" | b"!=" | b">=" | b"<=" | b"=~" | b"!~") {
            i += 2;
        } else {
            // One char (UTF-8 aware).
            i += expr[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push(Token { start, end: i.min(b.len()) });
    }
    out
}

fn locate(expr: &str, message: &str) -> usize {
    if let Some(lex) = lex_error(expr) {
        return locate_lex(expr, &lex);
    }
    if let Some(at) = quoted_token(expr, message) {
        return at;
    }
    locate_parse(expr)
}

/// A lexer error: unclosed brackets at the unmatched opener; otherwise at the last char
/// of the shortest prefix that fails with the same message.
fn locate_lex(expr: &str, message: &str) -> usize {
    if message.contains("unclosed") || message.contains("unterminated") || message.contains("not terminated") {
        if let Some(at) = unmatched_opener(expr) {
            return at;
        }
    }
    let mut last = 0;
    for (i, c) in expr.char_indices() {
        let end = i + c.len_utf8();
        if lex_error(&expr[..end]).as_deref() == Some(message) {
            return i;
        }
        last = i;
    }
    last
}

/// The last bracket or quote left open, skipping strings and comments.
/// The index of the quote that closes the string opened at `b[open]` (`"` or `'` with
/// backslash escapes, or a backtick without), or `None` when the string never closes.
pub(crate) fn closing_quote(b: &[u8], open: usize) -> Option<usize> {
    let q = b[open];
    let mut i = open + 1;
    while i < b.len() && b[i] != q {
        if b[i] == b'\\' && q != b'`' {
            i += 1;
        }
        i += 1;
    }
    (i < b.len()).then_some(i)
}

fn unmatched_opener(expr: &str) -> Option<usize> {
    let b = expr.as_bytes();
    let mut stack = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' | b'`' => match closing_quote(b, i) {
                Some(close) => i = close,
                None => return Some(i),
            },
            b'(' | b'{' | b'[' => stack.push(i),
            b')' | b'}' | b']' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack.pop()
}

/// A message quoting a token (`unknown function with name 'foo'`, `unexpected '=~' in
/// label matching`): the first token of the expression with that text.
fn quoted_token(expr: &str, message: &str) -> Option<usize> {
    let start = message.find('\'')?;
    let rest = &message[start + 1..];
    let end = rest.find('\'')?;
    let quoted = &rest[..end];
    if quoted.is_empty() {
        return None;
    }
    tokens(expr).into_iter().find(|t| &expr[t.start..t.end] == quoted).map(|t| t.start)
}

/// Prefixes in a row that no filler completes before the search stops.
const MAX_DEAD_PREFIXES: usize = 6;

/// What may follow a prefix to make it a whole expression (before the open brackets are
/// closed).
const FILLERS: &[&str] = &[
    "",
    " x",
    " 1",
    "[5m]",
    " x[5m]",
    " 5m",
    "5m",
    " \"x\"",
    "=\"x\"",
    " a=\"x\"",
    " (x)",
    " (a) (x)",
    " (a) x",
    " 0.5, x",
    " x, \"a\", \"b\", \"c\", \"d\"",
    ", \"a\", \"b\", \"c\", \"d\"",
    ", \"a\", \"b\", \"c\"",
    ", \"a\"",
    ", 1",
    ":1m]",
    ":]",
];

/// A parser error: after the longest prefix of whole tokens that some filler and the
/// closing brackets complete into a valid expression; the error is on the next token.
fn locate_parse(expr: &str) -> usize {
    let toks = tokens(expr);
    let mut viable_upto = 0; // number of tokens of the longest viable prefix
    let mut dead = 0;
    for k in 1..=toks.len() {
        let prefix = &expr[..toks[k - 1].end];
        if completes(prefix) {
            viable_upto = k;
            dead = 0;
        } else {
            // A prefix cut inside a construct (`x[5`) may not complete while a longer one
            // does; past a few dead prefixes in a row the error is behind us.
            dead += 1;
            if dead > MAX_DEAD_PREFIXES {
                break;
            }
        }
    }
    match toks.get(viable_upto) {
        Some(t) => t.start,
        None => toks.last().map_or(0, |t| t.start),
    }
}

fn completes(prefix: &str) -> bool {
    let mut closers = String::new();
    let b = prefix.as_bytes();
    let mut i = 0;
    let mut stack = Vec::new();
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => match closing_quote(b, i) {
                Some(close) => i = close,
                None => return false,
            },
            b'(' => stack.push(b')'),
            b'{' => stack.push(b'}'),
            b'[' => stack.push(b']'),
            b')' | b'}' | b']' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    for c in stack.iter().rev() {
        closers.push(*c as char);
    }
    FILLERS.iter().any(|f| {
        let candidate = if f.ends_with(']') && closers.starts_with(']') {
            format!("{prefix}{f}{}", &closers[1..])
        } else {
            format!("{prefix}{f}{closers}")
        };
        parse(&candidate).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(expr: &str) -> (usize, String) {
        let e = check(expr).unwrap_err();
        (e.offset, e.message)
    }

    #[test]
    fn valid_expressions_parse() {
        for e in [
            "up",
            "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) > 0.1",
            "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
            "predict_linear(kubelet_volume_stats_available_bytes[6h], 24 * 3600) < 0",
            "absent(up{job=\"x\"} == 1)",
        ] {
            assert_eq!(check(e), Ok(()), "{e}");
        }
    }

    #[test]
    fn errors_are_located() {
        // Unclosed parenthesis: at the one left open.
        assert_eq!(at("sum(rate(x[5m])").0, 3);
        // An unknown function: on its name.
        assert_eq!(at("up + rat(x[5m])").0, 5);
        // A stray operator: on it.
        let (o, _) = at("up == == 1");
        assert_eq!(o, 6);
        // An unexpected character: on it.
        assert_eq!(at("up $ 1").0, 3);
        // Nothing after a binary operator: at its end (the last token).
        assert_eq!(at("up ==").0, 3);
    }

    #[test]
    fn odd_input_never_panics() {
        for e in ["", " ", "(", ")", "{", "\"", "'", "`", "[", "x[", "1e", "é", "x{é=\"\"}", "#", "sum(", "by", "\\"]
        {
            let _ = check(e);
        }
    }
}
#[cfg(test)]
mod bench {
    /// A long expression with the error at its end is located in bounded time.
    #[test]
    fn a_long_expression_is_located_quickly() {
        let mut e = String::new();
        while e.len() < 4000 {
            e.push_str("sum(rate(http_requests_total{code=~\"5..\"}[5m])) + ");
        }
        e.push(')');
        let t = std::time::Instant::now();
        let r = super::check(&e);
        assert_eq!(r.err().map(|x| x.offset), Some(e.len() - 1));
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "{:?}", t.elapsed());
        let mut e = String::from("sum(rate(x[5m]) by (job) ");
        while e.len() < 4000 {
            e.push_str(" + sum(rate(http_requests_total{code=~\"5..\"}[5m]))");
        }
        let r = super::check(&e);
        assert!(r.is_err());
    }
}
