//! stackgen: compile one `stack.toml` into deterministic Kubernetes manifests for a
//! durable, sharded, highly available Prometheus + Thanos stack.
//!
//! The pipeline: parse TOML with spans → JSON Schema (all errors at once) → raw serde
//! types → validated model → lint → render. Render only ever sees a validated
//! [`model::Stack`], so an invalid stack cannot produce output.

pub mod alerting;
pub mod diagnostic;
pub mod diff;
#[doc(hidden)]
pub mod fuzzing;
pub mod init;
#[cfg(test)]
mod layering;
pub mod lifecycle;
pub mod lint;
pub mod model;
pub mod read;
pub mod render;
pub mod rulefiles;
pub mod secrets;
pub mod source;

use diagnostic::{Code, Diagnostic};
use serde::Deserialize;
use source::Source;

/// A stack that passed every check, with the warnings found on the way.
#[derive(Debug)]
pub struct Checked {
    pub stack: model::Stack,
    /// Warnings, including those the lint configuration allowed (marked `suppressed`).
    pub warnings: Vec<Diagnostic>,
    /// The file's `[lint] allow` and `# stackgen: allow` comments, for diagnostics raised
    /// after the check (`lint --target helm-values`).
    pub allows: lint::suppress::FileAllows,
}

/// Check a stack file: every problem of the file in one pass. `Err` holds all
/// diagnostics (errors and warnings) when there is at least one error.
///
/// One path: parse → JSON Schema → raw types → validated model → lint. "Every problem"
/// means the typed model's checks run on every part of the file the schema accepted:
/// values the schema rejects are left out (their table key removed, so no array index
/// moves) and the rest goes through the model; lint runs on a stack the schema accepted
/// whole. A credential (SG124) blocks the render but not the other checks.
/// A stack text checked for a unit test (`t.toml`); panics with the diagnostics.
#[cfg(test)]
pub(crate) fn test_stack(text: &str) -> model::Stack {
    let src = Source::new("t.toml", text);
    check(&src).unwrap_or_else(|d| panic!("{d:#?}")).stack
}

pub fn check(src: &Source) -> Result<Checked, Vec<Diagnostic>> {
    let parsed = source::parse(&src.text).map_err(|mut d| {
        redact_near_secrets(&src.text, &mut d);
        d
    })?;
    let (allows, bad_allows) = lint::suppress::FileAllows::read(src, &parsed);
    let mut diags = lint::secret_values(&parsed);
    let schema = schema_check(&parsed);
    let mut stack = if schema.iter().any(Diagnostic::is_error) {
        // The model still checks the parts the schema accepted; lint waits for a file
        // the schema accepts whole.
        diags.extend(check_accepted_part(&parsed, &schema));
        diags.extend(schema);
        None
    } else {
        diags.extend(schema);
        read_raw(src, &parsed).and_then(|raw| model::validate(&raw, &parsed)).map_err(|d| diags.extend(d)).ok()
    };
    if let Some(stack) = &stack {
        diags.extend(lint::lint(stack, &parsed));
        diags.extend(output_limit(stack, &parsed));
    }
    redact_near_secrets(&src.text, &mut diags);
    one_finding_per_inline_secret(&mut diags);
    allows.apply(src, &mut diags);
    diags.extend(bad_allows);
    // Rule files are other files: their diagnostics point into them (`file`), so they
    // join after the stack file's own redaction and suppressions.
    if let Some(stack) = stack.as_mut().filter(|s| !s.rules.patterns.is_empty()) {
        diags.extend(rulefiles::load(src, &parsed, stack));
    }
    diagnostic::sort(&mut diags);
    match stack {
        Some(stack) if !diags.iter().any(Diagnostic::is_error) => Ok(Checked { stack, warnings: diags, allows }),
        _ => Err(diags),
    }
}

/// The JSON Schema's findings. A stack that `quick_accepts` (the same schema, compiled
/// to Rust) has none, and needs neither the schema parsed nor the jsonschema validator
/// compiled: together about 4 ms, most of a whole render.
fn schema_check(parsed: &source::Parsed) -> Vec<Diagnostic> {
    if model::schema::quick_accepts(&parsed.json) {
        return Vec::new();
    }
    model::schema::check(parsed)
}

/// The raw stack of a file the schema accepted. It is read from the JSON already
/// parsed when that holds the TOML's values exactly (tests/fuzz.rs asserts both reads
/// agree), else from the text, whose errors carry spans.
fn read_raw(src: &Source, parsed: &source::Parsed) -> Result<model::raw::RawStack, Vec<Diagnostic>> {
    if parsed.exact {
        if let Ok(raw) = model::raw::RawStack::deserialize(&parsed.json) {
            return Ok(raw);
        }
    }
    // The schema should have caught this; keep serde's word, at its key.
    toml::from_str(&src.text).map_err(|e| vec![serde_fallback(parsed, &e)])
}

/// The model's findings on the parts of a file the schema accepted: what it rejected is
/// removed (the key of its nearest table), the rest is read and validated, and findings
/// about a removed value are left to the schema's.
fn check_accepted_part(parsed: &source::Parsed, schema: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut json = parsed.json.clone();
    let pruned: Vec<String> = schema.iter().filter_map(|d| d.path.as_ref()).map(|p| prune(&mut json, p)).collect();
    match model::raw::RawStack::deserialize(&json).map(|raw| model::validate(&raw, parsed)) {
        Ok(Err(model_diags)) => model_diags.into_iter().filter(|m| !covered(m, &pruned, schema)).collect(),
        _ => Vec::new(),
    }
}

/// A credential key with a credential-shaped value is one problem, not two: keep the
/// inline-secret finding (SG111, which names where the value belongs) and drop the
/// secret-value one (SG124) at the same key.
fn one_finding_per_inline_secret(diags: &mut Vec<Diagnostic>) {
    let inline: Vec<String> =
        diags.iter().filter(|d| d.code == Code::InlineSecret).filter_map(|d| d.path.clone()).collect();
    if !inline.is_empty() {
        diags.retain(|d| d.code != Code::SecretValue || d.path.as_ref().is_none_or(|p| !inline.contains(p)));
    }
}

/// Remove the value a schema error is about, as the key of its nearest table (never an
/// array item: later indices would move). Returns the pointer removed.
fn prune(json: &mut serde_json::Value, pointer: &str) -> String {
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    // The deepest prefix whose last segment is a key of an object.
    let mut cut = None;
    let mut node = &*json;
    for (i, seg) in segs.iter().enumerate() {
        let key = seg.replace("~1", "/").replace("~0", "~");
        match node {
            serde_json::Value::Object(m) => {
                cut = Some(i);
                match m.get(&key) {
                    Some(n) => node = n,
                    None => break,
                }
            }
            serde_json::Value::Array(a) => match seg.parse::<usize>().ok().and_then(|n| a.get(n)) {
                Some(n) => node = n,
                None => break,
            },
            _ => break,
        }
    }
    let Some(cut) = cut else {
        return String::new();
    };
    let parent = segs[..cut].iter().fold(String::new(), |acc, s| format!("{acc}/{s}"));
    let key = segs[cut].replace("~1", "/").replace("~0", "~");
    if let Some(serde_json::Value::Object(m)) = json.pointer_mut(&parent) {
        m.remove(&key);
    }
    format!("{parent}/{}", segs[cut])
}

/// A model diagnostic about a value the schema already reported (removed before the
/// model ran): at or under a removed pointer, a missing-key report of one, or the same
/// place and message as a schema diagnostic.
fn covered(d: &Diagnostic, pruned: &[String], schema: &[Diagnostic]) -> bool {
    let path = d.path.as_deref().unwrap_or("");
    let under = |p: &String| path == p || path.starts_with(&format!("{p}/"));
    let missing_of = |p: &String| d.code == Code::MissingKey && p.starts_with(&format!("{path}/"));
    pruned.iter().any(|p| !p.is_empty() && (under(p) || missing_of(p)))
        || schema.iter().any(|s| s.span == d.span && s.message == d.message)
}

/// serde's error, when the schema let something through that the typed model cannot
/// read (a float where an integer goes: `shards = 1e3`), at the key it is about.
fn serde_fallback(parsed: &source::Parsed, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let found = parsed.places.iter().find(|(_, p)| p.value == span && !span.is_empty());
    match found {
        Some((ptr, _)) => {
            let key = ptr.trim_start_matches('/').replace('/', ".");
            let float = parsed.json.pointer(ptr).is_some_and(|v| v.is_f64());
            let msg = if float {
                format!("`{key}` must be an integer, not a float")
            } else {
                format!("`{key}`: {}", e.message().trim())
            };
            Diagnostic::error(Code::WrongType, msg, span)
                .with_help(if float {
                    "write a whole number without a decimal point or exponent: shards = 1000".to_string()
                } else {
                    "see `stackgen schema` for the expected shape".to_string()
                })
                .with_path(ptr.clone())
        }
        None => Diagnostic::error(Code::WrongType, e.message().trim().to_string(), span)
            .with_help("see `stackgen schema` for the expected shape"),
    }
}

/// A diagnostic on a line that holds a credential shows no source text, and none
/// quotes it: the renderers scrub every credential shape, this catches the lines the
/// renderers could not tell (a value SG124 or SG111 flagged).
fn redact_near_secrets(text: &str, diags: &mut [Diagnostic]) {
    if !diags.iter().any(|d| matches!(d.code, Code::SecretValue | Code::InlineSecret)) {
        return;
    }
    // Line numbers by binary search in the line starts: linear in the diagnostics.
    let starts: Vec<usize> =
        std::iter::once(0).chain(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1)).collect();
    let line = |at: usize| starts.partition_point(|&s| s <= at.min(text.len())).saturating_sub(1);
    let lines = |d: &Diagnostic| line(d.span.start)..=line(d.span.end.max(d.span.start));
    let flagged: Vec<std::ops::RangeInclusive<usize>> =
        diags.iter().filter(|d| matches!(d.code, Code::SecretValue | Code::InlineSecret)).map(lines).collect();
    for d in diags.iter_mut() {
        let r = lines(d);
        if flagged.iter().any(|f| f.start() <= r.end() && r.start() <= f.end()) {
            d.redact = true;
        }
    }
}

/// The most a render may write (stdout, `-o DIR`, what `--check` and `diff` build).
pub const MAX_RENDER_BYTES: u64 = 256 << 20;

/// An upper estimate of the render's size, from what multiplies it: every shard carries
/// a prometheus.yml with every scrape job and target (measured: ~600 bytes per job and
/// ~25 bytes per target per shard, ~60 KiB of other objects per shard).
pub fn estimated_render_bytes(stack: &model::Stack) -> u64 {
    let per_shard: u64 = 64 * 1024
        + stack
            .scrape
            .iter()
            .map(|j| {
                800 + j.targets.iter().map(|t| t.len() as u64 + 32).sum::<u64>()
                    + j.labels.iter().map(|(k, v)| (k.len() + v.len()) as u64 + 16).sum::<u64>()
            })
            .sum::<u64>();
    256 * 1024 + per_shard * u64::from(stack.sharding.shards)
}

fn output_limit(stack: &model::Stack, parsed: &source::Parsed) -> Option<Diagnostic> {
    let est = estimated_render_bytes(stack);
    if est <= MAX_RENDER_BYTES {
        return None;
    }
    let ptr = if parsed.has("/sharding/shards") { "/sharding/shards" } else { "/scrape" };
    let targets: usize = stack.scrape.iter().map(|j| j.targets.len()).sum();
    Some(
        Diagnostic::error(
            Code::OutputTooLarge,
            format!(
                "the render would be about {} MiB ({} shard(s) x {} scrape job(s), {targets} target(s)), over the {} MiB limit",
                est >> 20,
                stack.sharding.shards,
                stack.scrape.len(),
                MAX_RENDER_BYTES >> 20
            ),
            parsed.place(ptr).value,
        )
        .with_help("use fewer shards or scrape jobs, or split the stack; every shard carries every job")
        .with_path(ptr),
    )
}

/// The largest stack file stackgen reads (the largest example is 3 KB).
pub const MAX_STACK_BYTES: u64 = 1 << 20;

/// Read a stack file (`-` for standard input), at most [`MAX_STACK_BYTES`]. Errors are
/// for exit code 2 and name the file; invalid UTF-8 is reported at its line and column.
/// A UTF-8 byte order mark is dropped (columns on line 1 count from the text).
pub fn load(path: &str) -> Result<Source, String> {
    use std::io::Read;
    let name = if path == "-" { "<stdin>".to_string() } else { path.to_string() };
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().lock().take(MAX_STACK_BYTES + 1).read_to_end(&mut bytes)
    } else {
        match std::fs::File::open(path) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                return Err(format!("cannot read {name}: it is a directory"));
            }
            Ok(f) => f.take(MAX_STACK_BYTES + 1).read_to_end(&mut bytes),
            Err(e) => Err(e),
        }
    };
    read.map_err(|e| format!("cannot read {name}: {e}"))?;
    if bytes.len() as u64 > MAX_STACK_BYTES {
        return Err(format!(
            "{name} is larger than {} MiB, the most stackgen reads as a stack file",
            MAX_STACK_BYTES >> 20
        ));
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).map(<[u8]>::to_vec).unwrap_or(bytes);
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        let byte = e.as_bytes()[good.len()];
        format!("{name}:{line}:{col}: not UTF-8 text (byte 0x{byte:02x})")
    })?;
    Ok(Source::new(name, text))
}

/// Render a checked stack to one multi-document YAML stream.
pub fn render_manifests(stack: &model::Stack) -> String {
    let mut out = Vec::with_capacity(64 * 1024);
    render::write_stream(stack, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the emitter writes UTF-8")
}
