//! SG124 `secret-value`. Runs on the parsed file before validation, so a credential is
//! found wherever it is, even in a table the schema rejects.

use serde_json::Value;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Parsed;

crate::lint::rule_doc! {
    /// a value looks like a credential
    ///
    /// ## What it does
    /// Reports an error for every string, and every key, in stack.toml that has the shape
    /// of a credential: an access key, a token, a private key, a URL with
    /// `user:password@`. The message names the key path, never the value; a key that is
    /// itself a credential is reported by its table. The `[rules] files` are scanned
    /// too (they go into the rules ConfigMap as they are): a credential there is reported
    /// at its line in the rule file.
    ///
    /// ## Why is this bad?
    /// stack.toml is committed, and its render is reviewed in pull requests. stackgen
    /// refuses the value and never prints it: credentials live in Secrets, referenced by
    /// name.
    ///
    /// ## Example
    /// ```toml
    /// [stack]
    /// name = "prod"
    /// labels = { token = "ghp_…" }   # a GitHub token: keep it in a Secret, never here
    /// ```
}

/// The findings for a parsed file, in document order.
pub(crate) fn check(parsed: &Parsed) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    scan(&parsed.json, String::new(), parsed, &mut out);
    out
}

fn dotted(ptr: &str) -> String {
    ptr.trim_start_matches('/').replace('/', ".").replace("~1", "/").replace("~0", "~")
}

fn secret_diag(msg: String, span: std::ops::Range<usize>, ptr: String) -> Diagnostic {
    let mut d = Diagnostic::new(Code::SecretValue, msg, span)
        .with_help("remove it; put credentials in a Secret and reference it by name")
        .with_path(ptr);
    d.redact = true;
    d
}

fn scan(v: &Value, ptr: String, parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    match v {
        Value::String(s) if crate::secrets::contains(s) => {
            let what = if crate::secrets::find(s).iter().any(|r| s[r.clone()].contains('@')) {
                "holds credentials in a URL (user:password@)"
            } else {
                "looks like a credential"
            };
            out.push(secret_diag(format!("the value of `{}` {what}", dotted(&ptr)), parsed.place(&ptr).key, ptr));
        }
        Value::Object(m) => {
            for (k, v) in m {
                let child = format!("{ptr}/{}", crate::source::pointer_escape(k));
                if crate::secrets::contains(k) {
                    let table =
                        if ptr.is_empty() { "the top level".to_string() } else { format!("`{}`", dotted(&ptr)) };
                    out.push(secret_diag(
                        format!("a key in {table} looks like a credential"),
                        parsed.place(&child).key,
                        ptr.clone(),
                    ));
                    continue;
                }
                scan(v, child, parsed, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                scan(v, format!("{ptr}/{i}"), parsed, out);
            }
        }
        _ => {}
    }
}
