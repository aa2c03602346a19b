//! The one place that writes YAML.
//!
//! Objects are built as typed k8s-openapi structs, turned into `serde_json::Value`, and
//! written here. This is a narrow emitter for JSON-shaped data, not a general YAML
//! library: block style, two-space indentation, sequences at their key's indentation
//! (as kubectl prints them), and a deliberately conservative scalar policy. A string is
//! written plain only when it is made of characters that can never change its meaning
//! (no YAML 1.1 booleans, no numbers, no indicators); everything else is double-quoted
//! with JSON escapes, which YAML's double-quoted style accepts; multi-line text is a
//! literal block. Round-trip tests parse every output back with serde-saphyr and
//! compare it with the value it came from.
//!
//! Why not serde-saphyr's serializer: it measured 12-18 ms for the 64-shard stack here,
//! three times the whole render budget (BENCHMARKS.md); this runs
//! at memcpy-like speed because it decides quoting from a byte scan.

use serde_json::Value;

/// Append one YAML document (without the `---` separator) for `v`.
pub fn write_document(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => write_map(out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(out, a, 0),
        other => {
            write_scalar(out, other, 0);
            out.push('\n');
        }
    }
}

/// A multi-document stream: `---` before every document after the first.
pub fn to_stream<'a>(docs: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for (i, d) in docs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_document(&mut out, d);
    }
    out
}

pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(1024);
    write_document(&mut out, v);
    out
}

const SPACES: &str = "                                                                ";

fn indent(out: &mut String, mut n: usize) {
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    let mut first = true;
    for (k, v) in m {
        // The first key of a map that is a sequence item shares the `- ` line.
        if !first {
            indent(out, ind);
        }
        first = false;
        write_key(out, k);
        out.push(':');
        write_value_after_key(out, v, ind);
    }
}

/// Write the value that follows `key:` (the colon is already written).
fn write_value_after_key(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            write_map(out, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, ind);
        }
        other => {
            out.push(' ');
            write_scalar(out, other, ind);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for item in a {
        indent(out, ind);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_map(out, m, ind + 2),
            Value::Array(inner) if !inner.is_empty() => {
                // `- - x`: the nested sequence starts on the same line.
                let mut tmp = String::new();
                write_seq(&mut tmp, inner, ind + 2);
                out.push_str(tmp.trim_start_matches(' '));
            }
            other => {
                write_scalar(out, other, ind);
                out.push('\n');
            }
        }
    }
}

fn write_key(out: &mut String, k: &str) {
    if is_plain_safe(k) {
        out.push_str(k);
    } else {
        push_quoted(out, k);
    }
}

fn write_scalar(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write;
            write!(out, "{n}").expect("writing to a String cannot fail");
        }
        Value::String(s) => write_string(out, s, ind),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn write_string(out: &mut String, s: &str, ind: usize) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if is_block_safe(s) {
        // Literal block: `|` keeps exactly one final newline, `|-` none.
        out.push_str(if s.ends_with('\n') { "|" } else { "|-" });
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, ind + 2);
                out.push_str(line);
            }
        }
    } else {
        push_quoted(out, s);
    }
}

/// Characters a YAML reader may take for a line break or strip (NEL U+0085 and the
/// other C1 controls, DEL, LINE and PARAGRAPH SEPARATOR, BOM), and bidi controls that
/// reorder what a terminal or a reviewer sees: escaped, never raw.
fn is_yaml_unsafe_char(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// A double-quoted scalar with JSON's escapes (valid in YAML double-quoted style),
/// byte for byte what `serde_json::to_string` writes, without its allocation; and
/// `\uXXXX` for the characters of [`is_yaml_unsafe_char`], which JSON leaves raw.
fn push_quoted(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if !s.chars().any(is_yaml_unsafe_char) {
        return push_quoted_json(out, s);
    }
    // Rare: split at the unsafe characters, escape each piece as JSON does, join.
    let mut quoted = String::with_capacity(s.len() + 16);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if is_yaml_unsafe_char(c) {
            let mut piece = String::new();
            push_quoted_json(&mut piece, &s[start..i]);
            quoted.push_str(&piece[1..piece.len() - 1]);
            quoted.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                quoted.push(char::from(HEX[((u32::from(c) >> shift) & 0xf) as usize]));
            }
            start = i + c.len_utf8();
        }
    }
    let mut piece = String::new();
    push_quoted_json(&mut piece, &s[start..]);
    quoted.push_str(&piece[1..piece.len() - 1]);
    out.push('"');
    out.push_str(&quoted);
    out.push('"');
}

fn push_quoted_json(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Words that YAML 1.1 or 1.2 read as something other than a string.
const RESERVED: &[&str] = &[
    "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

/// The bytes a plain scalar may hold: ASCII letters and digits, `_.-/@=+:` and space.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-' | b'@' | b'=' | b'+' | b':' | b' ');
        c += 1;
    }
    t
};

/// Plain only if every byte is in a small safe set and the word cannot be read as a
/// bool, null or number. Digits first, `.`, `-` and `+` first, and anything with `: ` or
/// ` #` are quoted.
pub fn is_plain_safe(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    // `--flag` is plain; `-1`, `- x` and `-.inf` are not.
    let dash_word = first == b'-' && b.len() > 1 && (b[1] == b'-' || b[1].is_ascii_alphabetic());
    if !(first.is_ascii_alphabetic() || first == b'/' || first == b'_' || dash_word) {
        return false;
    }
    let last = b[b.len() - 1];
    if last == b':' || last == b' ' {
        return false;
    }
    if RESERVED.contains(&s) {
        return false;
    }
    let mut prev = 0u8;
    for &c in b {
        if !PLAIN[usize::from(c)] || (prev == b':' && c == b' ') || (prev == b' ' && (c == b'#' || c == b' ')) {
            return false;
        }
        prev = c;
    }
    true
}

/// A literal block can hold the text exactly: printable, no CR or tabs, does not start
/// with a space or newline (that would need an indentation indicator), at most one
/// trailing newline, and no line with trailing spaces that editors strip.
fn is_block_safe(s: &str) -> bool {
    if s.starts_with([' ', '\n']) || s.ends_with("\n\n") || s.ends_with(' ') {
        return false;
    }
    // One pass over the bytes: ASCII controls but the newline, a space before a newline;
    // non-ASCII text is checked by character (C1 controls, separators, bidi controls).
    let (mut newline, mut ascii, mut prev) = (false, true, 0u8);
    for &c in s.as_bytes() {
        match c {
            b'\n' if prev == b' ' => return false,
            b'\n' => newline = true,
            0x00..=0x1f | 0x7f => return false,
            0x80.. => ascii = false,
            _ => {}
        }
        prev = c;
    }
    newline && (ascii || !s.chars().any(|c| (c.is_control() && c != '\n') || is_yaml_unsafe_char(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(v: &Value) {
        let text = to_string(v);
        let back: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, v, "round trip of\n{text}");
    }

    #[test]
    fn tricky_scalars_round_trip() {
        for s in [
            "on",
            "yes",
            "No",
            "0777",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#x",
            "-x",
            "1e3",
            ".5",
            "0x1F",
            "2001-12-14",
            "1:20",
            "$(SECRET)",
            "${POD_NAME}",
            "(.+);",
            "0;|.+;.+",
            "multi\nline\n",
            "multi\nline",
            "x\n\n",
            "\nlead",
            "tab\there",
            "ünïcödé",
            "quote\"d",
            "back\\slash",
            "*alias",
            "&anchor",
            "!tag",
            "%p",
            "@at",
            "`tick",
            "a  b",
            "null",
            "~",
            "sum by (job) (rate(x[5m]))\n  > 1\n",
        ] {
            roundtrip(&json!({ "k": s, s: [s, {"n": s}] }));
        }
    }

    #[test]
    fn structures_round_trip() {
        roundtrip(&json!({"a": [], "b": {}, "c": [[1, 2], [], [{"x": null}]], "d": {"e": [true, false, 1.5, -3]}}));
        roundtrip(&json!([{"a": 1}, [1, [2]], "s"]));
    }

    #[test]
    fn quoting_matches_json() {
        let all: String = (0u8..0x7f).map(char::from).collect();
        for s in [all.as_str(), "", "plain", "ünïcödé", "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}"] {
            let mut out = String::new();
            push_quoted(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
        let mut out = String::new();
        indent(&mut out, 150);
        assert_eq!(out, " ".repeat(150));
    }

    /// NEL and the other characters a YAML reader may read as a line
    /// break are escaped, never emitted raw, and the value reads back the same.
    #[test]
    fn line_break_characters_are_escaped_in_quoted_yaml() {
        for s in ["a\u{85}b", "x\u{2028}y\u{2029}", "\u{feff}bom", "del\u{7f}", "q\"\u{85}\"", "\u{85}", "l1\nl2\u{85}"]
        {
            let mut out = String::new();
            write_string(&mut out, s, 0);
            assert!(!out.chars().any(is_yaml_unsafe_char), "{out:?}");
            roundtrip(&json!({ "k": s }));
        }
        let mut out = String::new();
        push_quoted(&mut out, "a\u{85}\"b");
        assert_eq!(out, "\"a\\u0085\\\"b\"");
    }

    /// The one-pass [`is_block_safe`] decides as the five-pass definition it replaced.
    #[test]
    fn block_policy_is_the_definition() {
        fn definition(s: &str) -> bool {
            s.contains('\n')
                && !s.starts_with([' ', '\n'])
                && !s.ends_with("\n\n")
                && !s.chars().any(|c| (c.is_control() && c != '\n') || is_yaml_unsafe_char(c))
                && !s.split('\n').any(|l| l.ends_with(' '))
        }
        let atoms = ["a", " ", "\n", "\t", "\r", "#", "\u{7f}", "\u{85}", "\u{2028}", "\u{202e}", "ü", "\u{0}", ":"];
        // Every string of up to four atoms: 13^4 + ... cases.
        let mut cases = vec![String::new()];
        for _ in 0..4 {
            let next: Vec<String> = cases.iter().flat_map(|c| atoms.iter().map(move |a| format!("{c}{a}"))).collect();
            cases.extend(next);
        }
        for s in &cases {
            assert_eq!(is_block_safe(s), definition(s), "{s:?}");
        }
    }

    #[test]
    fn plain_policy() {
        assert!(is_plain_safe("quay.io/prometheus/prometheus:v3.5.0"));
        assert!(is_plain_safe("app.kubernetes.io/name"));
        assert!(!is_plain_safe("10.0.0.5"));
        assert!(!is_plain_safe("on"));
        assert_eq!(to_string(&json!({"a": "x\ny\n"})), "a: |\n  x\n  y\n");
    }
}
