//! Reading the "before" side of `--against`: a multi-document file, an `-o` directory
//! (files with the stackgen header; kustomization.yaml is not an object), or live
//! objects as `kubectl get -o yaml` prints them (a `v1` `List` with `items`), from a
//! file or standard input.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::compare;
use super::{Doc, Key};
use crate::render::HEADER;

/// Objects read from `--against`, and notes for stderr.
pub struct Before {
    pub docs: Vec<Doc>,
    pub notes: Vec<String>,
    /// `--target helm-values`: the values document (a mapping without apiVersion and
    /// kind, e.g. `values.yaml` of a `render --format helm-values -o DIR`, or the output of
    /// `helm get values RELEASE -o yaml`).
    pub values: Option<Value>,
    /// Whether a document without apiVersion and kind is a values document.
    helm: bool,
    index: BTreeMap<Key, usize>,
}

/// The most `--against` reads in all (a 64-shard render is 1.3 MB; a `kubectl get` of a
/// large monitoring namespace with managedFields a few tens of MB).
pub const MAX_AGAINST_BYTES: u64 = 64 << 20;

pub fn read(spec: &str) -> Result<Before, String> {
    read_as(spec, false)
}

/// [`read`] for `--target helm-values`: one document may be the chart's values.
pub fn read_helm(spec: &str) -> Result<Before, String> {
    read_as(spec, true)
}

fn read_as(spec: &str, helm: bool) -> Result<Before, String> {
    let mut before = Before { docs: Vec::new(), notes: Vec::new(), values: None, helm, index: BTreeMap::new() };
    if spec == "-" {
        let text = crate::read::read_bounded(std::io::stdin().lock(), MAX_AGAINST_BYTES, "standard input")
            .map_err(|e| format!("cannot read {e}"))?;
        add_text(&mut before, "<stdin>", &text)?;
        return Ok(before);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read {spec}: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        let mut skipped = 0;
        let mut budget = MAX_AGAINST_BYTES;
        for f in files {
            if f.file_name().is_some_and(|n| n == "kustomization.yaml" || n == "kustomization.yml") {
                continue;
            }
            let text = crate::read::read_regular(&f, budget).map_err(|e| format!("cannot read {e}"))?;
            budget -= text.len() as u64;
            if !text.starts_with(HEADER.trim_end()) && !text.starts_with("# Rendered by stackgen") {
                skipped += 1;
                continue;
            }
            add_text(&mut before, &f.display().to_string(), &text)?;
        }
        if skipped > 0 {
            before
                .notes
                .push(format!("{spec}: skipped {skipped} YAML file(s) without the `# Rendered by stackgen` header"));
        }
        return Ok(before);
    }
    // A file or a pipe (`--against <(kubectl get ...)`), bounded.
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {spec}: {e}"))?;
    let text = crate::read::read_bounded(file, MAX_AGAINST_BYTES, spec).map_err(|e| format!("cannot read {e}"))?;
    add_text(&mut before, spec, &text)?;
    Ok(before)
}

/// Objects from YAML text already in memory (`name` labels the notes and errors).
pub fn from_text(name: &str, text: &str) -> Result<Before, String> {
    let mut before = Before { docs: Vec::new(), notes: Vec::new(), values: None, helm: false, index: BTreeMap::new() };
    add_text(&mut before, name, text)?;
    Ok(before)
}

/// Parse a YAML stream (any size a cluster dump may have) into objects.
pub fn parse_stream(name: &str, text: &str) -> Result<Vec<Value>, String> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 100_000,
            max_nodes: 10_000_000,
            max_events: 20_000_000,
            max_total_scalar_bytes: MAX_AGAINST_BYTES as usize,
        },
    };
    serde_saphyr::from_multiple_with_options::<Value>(text, options)
        .map_err(|e| format!("{name} is not valid YAML: {e}"))
}

fn add_text(before: &mut Before, name: &str, text: &str) -> Result<(), String> {
    for (i, v) in parse_stream(name, text)?.into_iter().enumerate() {
        add_value(before, &format!("{name}: document {}", i + 1), v, false)?;
    }
    Ok(())
}

fn add_value(before: &mut Before, at: &str, v: Value, from_list: bool) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    if !v.is_object() {
        return Err(format!("{at} is not a Kubernetes object (a mapping with apiVersion, kind and metadata)"));
    }
    if before.helm && !from_list && v.get("kind").is_none() && v.get("apiVersion").is_none() {
        if before.values.is_some() {
            return Err(format!("{at} is a second values document (one values document at most)"));
        }
        before.values = Some(v);
        return Ok(());
    }
    let kind = v["kind"].as_str().unwrap_or_default();
    if kind == "Kustomization" {
        return Ok(());
    }
    if kind.ends_with("List") && v["items"].is_array() {
        let Value::Array(items) = v["items"].clone() else { unreachable!() };
        for (i, item) in items.into_iter().enumerate() {
            add_value(before, &format!("{at}, item {}", i + 1), item, true)?;
        }
        return Ok(());
    }
    let mut key = Key::of(&v).ok_or_else(|| {
        let hint = if v.get("kind").is_none() && v.get("apiVersion").is_none() {
            " (a kube-prometheus-stack values document? compare it with --target helm-values)"
        } else {
            ""
        };
        format!("{at} has no apiVersion, kind or metadata.name{hint}")
    })?;
    // Names from the input reach the terminal: no control characters (a rendered name
    // never has one, so matching is unchanged).
    for s in [&mut key.api_version, &mut key.kind, &mut key.name].into_iter().chain(key.namespace.as_mut()) {
        if s.chars().any(crate::diagnostic::render::is_terminal_control) {
            *s = crate::diagnostic::render::clean(s).into_owned();
        }
    }
    let live = from_list || compare::looks_live(&v);
    if let Some(&i) = before.index.get(&key) {
        before.notes.push(format!("{at}: {} appears twice; the last one is used", key.display()));
        before.docs[i] = Doc { key, value: v, live };
    } else {
        before.index.insert(key.clone(), before.docs.len());
        before.docs.push(Doc { key, value: v, live });
    }
    Ok(())
}
