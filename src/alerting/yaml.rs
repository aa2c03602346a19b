//! A small deterministic YAML emitter for the configuration files of this module (rule
//! files, the blackbox_exporter config, alertmanager.yml): mappings in insertion order,
//! strings plain when that is unambiguous, double-quoted (JSON escapes, valid YAML)
//! otherwise, multi-line strings as literal block scalars.

use serde_json::Value;

/// The YAML text of `v` (a mapping or list at the top), ending in a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if m.is_empty() => out.push_str("{}\n"),
        Value::Array(a) if a.is_empty() => out.push_str("[]\n"),
        Value::Object(_) | Value::Array(_) => write_block(&mut out, v, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn write_block(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                out.push_str(&pad);
                out.push_str(&key(k));
                out.push(':');
                write_value(out, val, indent, false);
            }
        }
        Value::Array(a) => {
            for item in a {
                out.push_str(&pad);
                out.push('-');
                write_value(out, item, indent, true);
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other, indent));
            out.push('\n');
        }
    }
}

/// After `key:` or `-`: a nested block on the next lines, or ` scalar`.
fn write_value(out: &mut String, v: &Value, indent: usize, in_list: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            if in_list {
                // `- key: value` with the rest of the mapping aligned under the first key.
                let mut first = true;
                for (k, val) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&key(k));
                    out.push(':');
                    write_value(out, val, indent + 2, false);
                }
            } else {
                out.push('\n');
                write_block(out, v, indent + 2);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_block(out, v, if in_list { indent + 2 } else { indent });
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn key(k: &str) -> String {
    if plain_safe(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::Array(_) | Value::Object(_) => quoted(&v.to_string()),
    }
}

fn string(s: &str, indent: usize) -> String {
    if s.contains('\n') && block_safe(s) {
        let body_pad = " ".repeat(indent);
        let chomp = if s.ends_with('\n') { "" } else { "-" };
        let mut out = format!("|{chomp}");
        for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&body_pad);
                out.push_str(line);
            }
        }
        return out;
    }
    if plain_safe(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// A literal block keeps the text as is when no line has trailing spaces, the text does
/// not start with a space (the indentation would be ambiguous) and has no other control
/// characters or several trailing newlines.
fn block_safe(s: &str) -> bool {
    !s.starts_with([' ', '\n'])
        && !s.ends_with("\n\n")
        && s.split('\n').all(|l| !l.ends_with(' ') && !l.ends_with('\t'))
        && !s.chars().any(|c| c.is_control() && c != '\n')
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// A string YAML 1.1 and 1.2 readers both take back as the same string when written
/// plain: letters, digits and a few punctuation marks, not a number, boolean or null.
pub fn plain_safe(s: &str) -> bool {
    if s.is_empty() || s.len() > 200 {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_alphabetic() || first == '_' || first == '/') {
        return false;
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:".contains(c)) || s.contains(": ") || s.ends_with(':') {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(lower.as_str(), "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips() {
        let v = json!({
            "groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0\nor vector(1)", "labels": {"severity": "critical"}}]}],
            "empty": [], "m": {}, "n": 1, "b": true, "s": "yes", "q": "a: b", "x": null, "l": [[1, 2], {"a": [1]}]
        });
        let text = to_string(&v);
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, v, "{text}");
    }
}
