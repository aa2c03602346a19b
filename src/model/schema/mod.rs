//! The JSON Schema of stack.toml (`schemas/stack.schema.json`, embedded at build time and
//! compiled once per process) and the mapping of its errors back onto the TOML text:
//! every schema error becomes a diagnostic at the key or value it is about, all of them
//! in one run.
//!
//! The schema is the one description of the file's shape and formats: the raw types
//! (`model::raw`) are checked against it by a drift test (`shape`), the model reads only
//! what it accepted, and the fast path ([`quick_accepts`], `accepts.rs`) is generated
//! from it (`generate`, with its own drift test).

#[rustfmt::skip]
#[allow(unused, clippy::all, clippy::pedantic)]
mod accepts;
#[cfg(test)]
mod generate;
#[cfg(test)]
mod shape;

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::units;
use crate::source::Parsed;

pub const SCHEMA_TEXT: &str = include_str!("../../../schemas/stack.schema.json");

/// Keys that hold a credential. Writing one in stack.toml is SG111, never SG002, and its
/// value is never shown.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "access_key",
    "secret_key",
    "session_token",
    "password",
    "service_account",
    "storage_account_key",
    "storage_connection_string",
    "client_secret",
    "access_key_id",
    "access_key_secret",
    "secret_id",
    "token",
    "api_key",
    "admin_password",
    "application_credential_secret",
];

pub fn schema_json() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(SCHEMA_TEXT).expect("embedded schema is JSON"))
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| jsonschema::validator_for(schema_json()).expect("embedded schema compiles"))
}

/// The schema node for an instance pointer, following properties, items and $refs; used
/// to list the keys a table accepts and to describe what a value should look like.
fn node_at(pointer: &str) -> Option<&'static Value> {
    let root = schema_json();
    let mut node = root;
    for seg in pointer.split('/').skip(1) {
        node = resolve(root, node);
        if let Some(items) = node.get("items") {
            if seg.parse::<usize>().is_ok() {
                node = items;
                continue;
            }
        }
        node = table_branch(root, node).get("properties")?.get(seg)?;
    }
    Some(table_branch(root, resolve(root, node)))
}

/// A word-or-table node (`anyOf` with an object branch) as its table; any other node as is.
fn table_branch<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let branches = node.get("anyOf").and_then(Value::as_array).into_iter().flatten();
    branches.map(|b| resolve(root, b)).find(|b| b.get("properties").is_some()).unwrap_or(node)
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r.strip_prefix("#/$defs/").and_then(|d| root["$defs"].get(d)).unwrap_or(node),
        None => node,
    }
}

pub fn known_keys(pointer: &str) -> Vec<&'static str> {
    node_at(pointer)
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The nearest candidate within edit distance 3 (cargo's rule).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // The distance is at least the difference in length: candidates more than 3 apart
    // cannot qualify, and are not measured (20,000 unknown keys in one file).
    let len = word.chars().count();
    candidates
        .iter()
        .filter(|c| c.chars().count().abs_diff(len) <= 3)
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= 3 && *d < word.len().max(2))
        .min()
        .map(|(_, c)| c)
}

fn ref_name(pointer: &str) -> Option<&'static str> {
    let root = schema_json();
    let mut node = root;
    for seg in pointer.split('/').skip(1) {
        node = resolve(root, node);
        node = if seg.parse::<usize>().is_ok() && node.get("items").is_some() {
            &node["items"]
        } else {
            table_branch(root, node).get("properties")?.get(seg)?
        };
    }
    node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
}

fn describe_pointer(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

/// Validate the JSON form of a stack against the schema; every error as a diagnostic.
pub fn check(parsed: &Parsed) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in validator().iter_errors(&parsed.json) {
        diagnose(parsed, &err, err.instance_path().as_str().to_string(), &mut out);
    }
    out
}

/// A key that takes a word or a table (`resources = "auto"`): a table that fails is
/// checked against the table's branch alone, so an unknown or bad key inside it is
/// reported as in any other table, at its own place.
fn diagnose_table_branch(
    parsed: &Parsed,
    err: &jsonschema::ValidationError<'_>,
    ptr: &str,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let Some(branch) = node_at(ptr).filter(|b| b.get("properties").is_some()) else { return false };
    let mut schema = branch.clone();
    schema["$defs"] = schema_json()["$defs"].clone();
    let Ok(v) = jsonschema::validator_for(&schema) else { return false };
    let before = out.len();
    for sub in v.iter_errors(err.instance()) {
        diagnose(parsed, &sub, format!("{ptr}{}", sub.instance_path().as_str()), out);
    }
    out.len() > before
}

fn diagnose(parsed: &Parsed, err: &jsonschema::ValidationError<'_>, ptr: String, out: &mut Vec<Diagnostic>) {
    {
        if matches!(err.kind(), ValidationErrorKind::AnyOf { .. })
            && err.instance().is_object()
            && diagnose_table_branch(parsed, err, &ptr, out)
        {
            return;
        }
        let key = describe_pointer(&ptr);
        let place = parsed.place(&ptr);
        let d = match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for k in unexpected {
                    out.push(unknown_key(parsed, &ptr, k));
                }
                return;
            }
            ValidationErrorKind::Required { property } => {
                let prop = property.as_str().unwrap_or_default();
                let table = if key.is_empty() { "the top level".to_string() } else { format!("[{key}]") };
                Diagnostic::new(Code::MissingKey, format!("missing key `{prop}` in {table}"), place.key)
                    .with_help(missing_help(&ptr, prop))
                    .with_path(format!("{ptr}/{prop}"))
            }
            ValidationErrorKind::Type { kind } => {
                let want = format!("{kind:?}").replace("Single(", "").replace(')', "").to_lowercase();
                Diagnostic::new(Code::WrongType, format!("`{key}` must be {} {want}", article(&want)), place.value)
                    .with_help(type_help(&want))
                    .with_path(ptr.clone())
            }
            ValidationErrorKind::Enum { options } => {
                let got = err.instance().as_str().unwrap_or_default().to_string();
                let opts: Vec<&str> =
                    options.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                let list = opts.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
                let code = match (ptr.as_str(), got.as_str()) {
                    ("/stack/kubernetes_version", _) => Code::UnsupportedKubernetes,
                    ("/storage/backend", "rbd") => Code::InTreeRbd,
                    _ => Code::InvalidValue,
                };
                let mut d =
                    Diagnostic::new(code, format!("`{key}` cannot be `{got}`; it takes one of {list}"), place.value)
                        .with_path(ptr.clone());
                d.help = Some(match (did_you_mean(&got.to_lowercase(), &opts), got.as_str()) {
                    (_, "oss" | "OSS") => "Thanos spells Alibaba OSS `aliyunoss`".to_string(),
                    (_, word) if ptr == "/storage/backend" && volume_class_word(word) => format!(
                        "`{}` is a kind of cloud or CSI volume: use backend = \"class\" with [storage.class] name = \"{}\" \
                         (the StorageClass that provides it)",
                        word.chars().filter(|c| !c.is_control()).take(40).collect::<String>(),
                        class_example(word)
                    ),
                    (_, "rbd") => {
                        "the in-tree rbd volume was removed in Kubernetes 1.31: use backend = \"ceph\" (ceph-csi or Rook)"
                            .to_string()
                    }
                    (Some(s), _) => format!("did you mean `{s}`?"),
                    (None, _) => format!("use one of {list}"),
                });
                d
            }
            ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::Pattern { .. } => {
                let got = err.instance().as_str().unwrap_or_default();
                let (msg, help) = value_problem(&ptr, &key, got);
                Diagnostic::new(Code::InvalidValue, msg, place.value).with_help(help).with_path(ptr.clone())
            }
            ValidationErrorKind::Minimum { limit } | ValidationErrorKind::ExclusiveMinimum { limit } => {
                Diagnostic::new(Code::InvalidValue, format!("`{key}` must be at least {limit}"), place.value)
                    .with_path(ptr.clone())
            }
            ValidationErrorKind::Maximum { limit } | ValidationErrorKind::ExclusiveMaximum { limit } => {
                Diagnostic::new(Code::InvalidValue, format!("`{key}` must be at most {limit}"), place.value)
                    .with_path(ptr.clone())
            }
            ValidationErrorKind::MinItems { .. } => {
                Diagnostic::new(Code::InvalidValue, format!("`{key}` cannot be empty"), place.value)
                    .with_path(ptr.clone())
            }
            ValidationErrorKind::MinLength { .. } => {
                Diagnostic::new(Code::InvalidValue, format!("`{key}` cannot be empty"), place.value)
                    .with_path(ptr.clone())
            }
            ValidationErrorKind::MaxLength { limit } => {
                Diagnostic::new(Code::InvalidValue, format!("`{key}` is longer than {limit} characters"), place.value)
                    .with_path(ptr.clone())
            }
            ValidationErrorKind::PropertyNames { .. } => Diagnostic::new(
                Code::InvalidValue,
                format!("`{key}` has a key that is not a valid label name"),
                place.value,
            )
            .with_help("label names match [a-zA-Z_][a-zA-Z0-9_]* (Kubernetes label keys: prefix/name)")
            .with_path(ptr.clone()),
            _ => Diagnostic::new(Code::InvalidValue, format!("`{key}`: {err}"), place.value).with_path(ptr.clone()),
        };
        let d = if d.help.is_none() {
            let desc = node_at(&ptr).and_then(|n| n.get("description")).and_then(Value::as_str);
            match desc {
                Some(desc) => d.with_help(format!("{key}: {desc}")),
                None => d.with_help(help_for(ref_name(&ptr))),
            }
        } else {
            d
        };
        out.push(d);
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn type_help(want: &str) -> String {
    match want {
        "string" => "quote the value: key = \"value\"".into(),
        "integer" => "write a whole number without quotes: replicas = 2".into(),
        "boolean" => "write true or false without quotes".into(),
        "object" => "this key is a table: [section] or key = { a = \"b\" }".into(),
        "array" => "this key is a list: key = [\"a\", \"b\"]".into(),
        _ => format!("write {} {want}", article(want)),
    }
}

fn missing_help(ptr: &str, prop: &str) -> String {
    match (ptr, prop) {
        ("", "stack") => "start the file with [stack] and name = \"prod\"".into(),
        ("/stack", "name") => "add name = \"prod\": a DNS-1123 label, prefix of every object name".into(),
        ("/thanos", "objstore") => "add [thanos.objstore] with type, bucket and credentials_secret".into(),
        (_, p) => format!("add `{p} = ...`; see `stackgen schema` for its type"),
    }
}

/// A precise message for a value that failed a format (duration, size, name...).
fn value_problem(ptr: &str, key: &str, got: &str) -> (String, String) {
    let problem = match ref_name(ptr) {
        Some("duration") => got.parse::<units::Duration>().err(),
        Some("prometheus_bytes") => units::parse_prometheus_bytes(got).err(),
        Some("volume_size") => units::parse_volume_size(got).err(),
        Some("quantity") => got.parse::<units::Quantity>().err(),
        Some("dns_label") => units::check_dns1123_label(got, 63).err(),
        _ => None,
    };
    if ptr == "/storage/size" {
        return match units::parse_volume_size(got).err() {
            Some(detail) => {
                (format!("`{key}`: {detail}"), "binary units: 1Ti, 500Gi; or auto (the plan's size)".into())
            }
            None => {
                (format!("`{key}` = `{got}` is not `auto` or a volume size"), "e.g. size = \"500Gi\", or auto".into())
            }
        };
    }
    if ptr == "/prometheus/resources" {
        return (
            format!("`{key}` = `{got}` is not `auto` or a table"),
            "resources = \"auto\" (needs ingestion_rate or active_series), or resources = { cpu = \"2\", memory = \"8Gi\" }"
                .into(),
        );
    }
    if ptr == "/prometheus/retention_size" {
        let detail = units::parse_prometheus_bytes(got).err().unwrap_or_default();
        return (
            format!("`{key}` = `{got}` is not `auto`, `none` or a Prometheus byte size"),
            if detail.is_empty() { "e.g. retention_size = \"700GiB\"".into() } else { detail },
        );
    }
    match problem {
        Some(p) => (format!("`{key}`: {p}"), help_for(ref_name(ptr))),
        None => (format!("`{key}` = `{got}` is not a valid value here"), help_for(ref_name(ptr))),
    }
}

fn help_for(kind: Option<&str>) -> String {
    match kind {
        Some("duration") => "Prometheus durations: 15d, 6h, 1h30m, 90s".into(),
        Some("prometheus_bytes") => "Prometheus byte sizes need the B suffix: 700GiB".into(),
        Some("volume_size") => "binary units: 1Ti, 500Gi".into(),
        Some("quantity") => "Kubernetes quantities: 500m, 2, 8Gi".into(),
        Some("dns_label") => "lower-case letters, digits and `-`: prod-eu-1".into(),
        Some("label_name") => "label names match [a-zA-Z_][a-zA-Z0-9_]*".into(),
        Some("image_tag") => "an image tag such as v3.5.0".into(),
        Some("digest") => "sha256: followed by 64 hex digits".into(),
        Some("secret_name") => "the name of an existing Secret: lower-case letters, digits, `-` and `.`".into(),
        _ => "see `stackgen schema` for what this key accepts".into(),
    }
}

/// Words that name a cloud or CSI volume type rather than a stackgen backend
/// (`backend = "ebs"`): they are all served by an existing StorageClass.
fn volume_class_word(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    [
        "ebs",
        "aws-ebs",
        "gp2",
        "gp3",
        "io1",
        "io2",
        "st1",
        "efs",
        "pd",
        "gce-pd",
        "gcp",
        "pd-ssd",
        "pd-standard",
        "pd-balanced",
        "premium-rwo",
        "standard-rwo",
        "azure",
        "azure-disk",
        "azuredisk",
        "managed-premium",
        "managed-csi",
        "longhorn",
        "openebs",
        "portworx",
        "cinder",
        "vsphere",
        "csi",
        "storageclass",
        "storage-class",
        "hostpath",
        "local-path",
    ]
    .contains(&w.as_str())
}

/// A plausible StorageClass name for such a word, for the help line.
fn class_example(word: &str) -> &'static str {
    match word.to_ascii_lowercase().as_str() {
        "pd" | "gce-pd" | "gcp" | "pd-ssd" | "pd-balanced" | "premium-rwo" => "premium-rwo",
        "pd-standard" | "standard-rwo" => "standard-rwo",
        "azure" | "azure-disk" | "azuredisk" | "managed-premium" | "managed-csi" => "managed-csi-premium",
        "longhorn" => "longhorn",
        "local-path" | "hostpath" => "local-path",
        _ => "gp3",
    }
}

/// Where a credential written inline belongs instead, by table.
fn credential_help(table_ptr: &str) -> &'static str {
    match table_ptr {
        "/grafana" => {
            "remove it; put the admin user and password in an existing Secret and name it in [grafana] admin_secret"
        }
        p if p.starts_with("/thanos") => {
            "remove it; put it in an existing Secret and name that Secret in [thanos.objstore] credentials_secret"
        }
        _ => "remove it; keep credentials in a Secret in the cluster: stack.toml never holds them",
    }
}

/// For a credential key written in an `[[alertmanager.receivers]]` entry, the key of the
/// receiver's Secret it belongs in (Alertmanager's `*_file` keys read it from there).
fn receiver_credential(table_ptr: &str, key: &str) -> Option<&'static str> {
    let index = table_ptr.strip_prefix("/alertmanager/receivers/")?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match key {
        "url" | "url_file" | "webhook_url" => "url",
        "api_url" | "slack_api_url" => "api_url",
        "routing_key" | "integration_key" => "routing_key",
        "service_key" => "service_key",
        "password" | "auth_password" | "auth_secret" | "smtp_password" => "password",
        _ => return None,
    })
}

fn unknown_key(parsed: &Parsed, table_ptr: &str, key: &str) -> Diagnostic {
    let ptr = format!("{table_ptr}/{}", crate::source::pointer_escape(key));
    let place = parsed.place(&ptr);
    let table = describe_pointer(table_ptr);
    let where_ = if table.is_empty() { "at the top level".to_string() } else { format!("in [{table}]") };
    if let Some(secret_key) = receiver_credential(table_ptr, key) {
        let mut d = Diagnostic::new(
            Code::InlineSecret,
            format!("`{key}` is a credential and must not be written in stack.toml ({where_})"),
            place.key,
        )
        .with_help(format!(
            "remove it; put it under key `{secret_key}` of an existing Secret and name that Secret in the receiver's \
             `secret` (kubectl create secret generic NAME --from-literal={secret_key}=...)"
        ))
        .with_path(ptr);
        d.redact = true;
        return d;
    }
    if CREDENTIAL_KEYS.contains(&key) {
        let mut d = Diagnostic::new(
            Code::InlineSecret,
            format!("`{key}` is a credential and must not be written in stack.toml ({where_})"),
            place.key,
        )
        .with_help(credential_help(table_ptr))
        .with_path(ptr);
        d.redact = true;
        return d;
    }
    if key == "rbd" && table_ptr == "/storage" {
        return Diagnostic::new(
            Code::InTreeRbd,
            "[storage.rbd]: the in-tree rbd volume was removed in Kubernetes 1.31",
            place.key,
        )
        .with_help(
            "use backend = \"ceph\" with [storage.ceph]: an existing Rook class or a ceph-csi (rbd.csi.ceph.com) class",
        )
        .with_path(ptr);
    }
    let known = known_keys(table_ptr);
    let mut d = Diagnostic::new(Code::UnknownKey, format!("unknown key `{key}` {where_}"), place.key).with_path(ptr);
    d.help = Some(match did_you_mean(key, &known) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "remove it".to_string(),
        None => format!("known keys here: {}", known.join(", ")),
    });
    d
}

/// Whether `instance` satisfies the schema, for the fast path of `check`: the schema
/// compiled to Rust (`accepts.rs`, one function per schema node), so a valid stack needs
/// neither the schema parsed nor the jsonschema validator compiled (together ~4 ms of a
/// ~5 ms budget). Patterns run on regex-lite, whose compile takes microseconds where
/// `regex`'s takes 30-300; on ASCII text the schema's patterns mean the same there, in
/// `regex` and in ECMA 262 (the validator's dialect), and a string with any other
/// character answers "no". "No" only sends the stack to the full validator, which reports
/// every problem; tests/fuzz.rs asserts on every generated input that "yes" here is "yes"
/// there.
pub fn quick_accepts(instance: &Value) -> bool {
    accepts::accepts(instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_pattern_compiles_for_the_fast_path() {
        assert_eq!(accepts::PATTERNS.len(), 29, "distinct patterns in the schema");
        for p in accepts::PATTERNS {
            regex_lite::Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn quick_accepts_the_examples_and_refuses_non_ascii_pattern_values() {
        for stack in ["sharded-64", "static-iscsi", "ceph-thanos"] {
            let text = std::fs::read_to_string(format!("{}/stacks/{stack}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let parsed = crate::source::parse(&text).unwrap();
            assert!(quick_accepts(&parsed.json), "{stack}");
            let mut bad = parsed.json.clone();
            bad["stack"]["name"] = Value::String("prométheus".into());
            assert!(!quick_accepts(&bad), "{stack}");
        }
    }
}
