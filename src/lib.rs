//! stackgen: compile one `stack.toml` into deterministic Kubernetes manifests for a
//! durable, sharded, highly available Prometheus + Thanos stack.
//!
//! The pipeline: parse TOML with spans → JSON Schema (all errors at once) → raw serde
//! types → validated model → lint → render. Render only ever sees a validated
//! [`model::Stack`], so an invalid stack cannot produce output.

pub mod diagnostic;
pub mod diff;
#[doc(hidden)]
pub mod fuzzing;
pub mod init;
pub mod lint;
pub mod model;
pub mod output;
pub mod render;
pub mod source;

use diagnostic::{Code, Diagnostic};
use source::Source;

/// A stack that passed every check, with the warnings found on the way.
#[derive(Debug)]
pub struct Checked {
    pub stack: model::Stack,
    pub warnings: Vec<Diagnostic>,
}

/// Check a stack file: every problem of the file in one pass. `Err` holds all
/// diagnostics (errors and warnings) when there is at least one error.
pub fn check(src: &Source) -> Result<Checked, Vec<Diagnostic>> {
    let parsed = source::parse(&src.text)?;
    let mut diags = lint::secret_values(&parsed);
    // Fast path: parsing the schema and compiling the jsonschema validator cost about 4 ms,
    // most of a whole render. A stack that `quick_accepts` (the same schema, compiled to
    // Rust by build.rs) and the typed model both accept needs neither; whenever anything
    // is wrong the full validator runs, to report every problem at once. The typed model
    // is read from the JSON already parsed when it holds the TOML's values exactly.
    // tests/fuzz.rs asserts on every generated input that what passes here passes the
    // full validator, and that reading the model from the JSON equals reading the text.
    if diags.is_empty() && parsed.exact && model::schema::quick_accepts(&parsed.json) {
        if let Ok(raw) = <model::raw::RawStack as serde::Deserialize>::deserialize(&parsed.json) {
            if let Ok(stack) = model::validate(&raw, &parsed) {
                let mut warnings = lint::lint(&stack, &parsed);
                diagnostic::sort(&mut warnings);
                if !warnings.iter().any(Diagnostic::is_error) {
                    return Ok(Checked { stack, warnings });
                }
                return Err(warnings);
            }
        }
    }
    diags.extend(model::schema::check(&parsed));
    if diags.iter().any(Diagnostic::is_error) {
        diagnostic::sort(&mut diags);
        return Err(diags);
    }
    let raw: model::raw::RawStack = match toml::from_str(&src.text) {
        Ok(r) => r,
        Err(e) => {
            // The schema should have caught this; keep serde's word as a fallback.
            let span = e.span().unwrap_or(0..0);
            return Err(vec![Diagnostic::error(Code::WrongType, e.message().trim().to_string(), span)
                .with_help("see `stackgen schema` for the expected shape")]);
        }
    };
    let stack = model::validate(&raw, &parsed)?;
    diags.extend(lint::lint(&stack, &parsed));
    diagnostic::sort(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok(Checked { stack, warnings: diags })
    }
}

/// Read a stack file (`-` for standard input). Errors are for exit code 2.
pub fn load(path: &str) -> Result<Source, String> {
    use std::io::Read;
    let bytes = if path == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map_err(|e| format!("cannot read standard input: {e}"))?;
        b
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?
    };
    let name = if path == "-" { "<stdin>".to_string() } else { path.to_string() };
    let text = String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8 text"))?;
    Ok(Source::new(name, text))
}

/// Render a checked stack to one multi-document YAML stream.
pub fn render_manifests(stack: &model::Stack) -> String {
    let mut out = Vec::with_capacity(64 * 1024);
    render::write_stream(stack, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the emitter writes UTF-8")
}
