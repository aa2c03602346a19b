//! Reading the "before" side of `--against`: a multi-document file, an `-o` directory
//! (files with the stackgen header; kustomization.yaml is not an object), or live
//! objects as `kubectl get -o yaml` prints them (a `v1` `List` with `items`), from a
//! file or standard input.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::compare;
use super::{Doc, Key};
use crate::render::{Documents, HEADER};

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
    /// With [`read_for`]: the render compared with, and which of its documents the input
    /// holds byte for byte (not parsed; their value is the render's).
    pub verbatim: Option<Box<Verbatim>>,
}

impl Before {
    /// A copy of objects read without a render to compare with ([`from_text`]); `None`
    /// for one read with [`read_for`] (its verbatim documents belong to that render).
    pub fn duplicate(&self) -> Option<Before> {
        self.verbatim.is_none().then(|| Before {
            docs: self.docs.clone(),
            notes: self.notes.clone(),
            values: self.values.clone(),
            helm: self.helm,
            index: self.index.clone(),
            verbatim: None,
        })
    }
}

/// The documents of a render that `--against` found verbatim in its input.
pub struct Verbatim {
    pub rendered: Documents,
    /// Per document of `rendered`: whether the input holds its exact text.
    pub matched: Vec<bool>,
    /// The keys of the matched documents.
    keys: BTreeMap<Key, usize>,
    texts: Vec<String>,
    by_text: BTreeMap<u64, Vec<usize>>,
}

impl Verbatim {
    fn new(rendered: Documents) -> Verbatim {
        let texts: Vec<String> = (0..rendered.len()).map(|i| rendered.text(i)).collect();
        let mut by_text: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, t) in texts.iter().enumerate() {
            by_text.entry(fingerprint(t)).or_default().push(i);
        }
        Verbatim { matched: vec![false; texts.len()], rendered, keys: BTreeMap::new(), texts, by_text }
    }

    /// The rendered document whose text `piece` is, if it is not matched yet.
    fn find(&self, piece: &str) -> Option<usize> {
        self.by_text.get(&fingerprint(piece))?.iter().copied().find(|&i| !self.matched[i] && self.texts[i] == piece)
    }

    /// The key of rendered document `i`.
    pub fn key(&self, i: usize) -> Key {
        let (kind, ns, name) = self.rendered.meta(i);
        Key {
            api_version: self.rendered.api_version(i).unwrap_or_default().to_string(),
            kind: kind.to_string(),
            namespace: ns.map(|n| n.into_owned()),
            name: name.into_owned(),
        }
    }

    /// How many documents were found verbatim.
    pub fn count(&self) -> usize {
        self.keys.len()
    }
}

/// A cheap fingerprint of a document's text (length and a sample of bytes): what finds
/// the candidates a full comparison then confirms.
fn fingerprint(t: &str) -> u64 {
    let b = t.as_bytes();
    let mut h = b.len() as u64;
    let step = (b.len() / 64).max(1);
    for &c in b.iter().step_by(step) {
        h = h.wrapping_mul(0x100_0000_01b3) ^ u64::from(c);
    }
    h
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

/// [`read`] against the render it is compared with: a document whose text is byte for
/// byte one of `rendered`'s (a render read back, the usual `--against`) is not parsed;
/// [`Before::verbatim`] says which. The result is what [`read`] gives otherwise: a text
/// with anything else (an error, a note, a duplicate) is read as [`read`] reads it.
pub fn read_for(spec: &str, rendered: Documents) -> Result<Before, String> {
    read_with(spec, false, Some(Box::new(Verbatim::new(rendered))))
}

fn read_as(spec: &str, helm: bool) -> Result<Before, String> {
    read_with(spec, helm, None)
}

fn read_with(spec: &str, helm: bool, verbatim: Option<Box<Verbatim>>) -> Result<Before, String> {
    let mut before =
        Before { docs: Vec::new(), notes: Vec::new(), values: None, helm, index: BTreeMap::new(), verbatim };
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
    let mut before = Before {
        docs: Vec::new(),
        notes: Vec::new(),
        values: None,
        helm: false,
        index: BTreeMap::new(),
        verbatim: None,
    };
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
    if before.verbatim.is_some() && add_verbatim(before, name, text) {
        return Ok(());
    }
    for (i, v) in parse_stream(name, text)?.into_iter().enumerate() {
        add_value(before, &format!("{name}: document {}", i + 1), v, false)?;
    }
    Ok(())
}

/// The documents of `text` split at `---` lines (a document marker at the start of a
/// line ends a document in YAML, block scalars included); a leading stackgen header is
/// left out, as a file of `-o DIR` has it.
fn pieces(text: &str) -> Vec<&str> {
    let text = text.strip_prefix(HEADER).unwrap_or(text);
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(off) = text[at..].find("---\n") {
        let p = at + off;
        if p == 0 || text.as_bytes()[p - 1] == b'\n' {
            out.push(&text[start..p]);
            start = p + 4;
        }
        at = p + 4;
    }
    out.push(&text[start..]);
    out.retain(|p| !p.is_empty());
    out
}

/// Add `text` with its verbatim documents matched and only the others parsed; `false`
/// (and `before` untouched) when anything in it is not plain: a parse error, a note, a
/// values document, a key seen twice. The caller then reads it the usual way, so
/// messages and notes are exactly those of a full parse.
fn add_verbatim(before: &mut Before, name: &str, text: &str) -> bool {
    let Some(vb) = before.verbatim.as_ref() else { return false };
    let mut matched = Vec::new();
    let mut scratch = Before {
        docs: Vec::new(),
        notes: Vec::new(),
        values: None,
        helm: false,
        index: BTreeMap::new(),
        verbatim: None,
    };
    for piece in pieces(text) {
        if let Some(i) = vb.find(piece).filter(|i| !matched.contains(i)) {
            matched.push(i);
            continue;
        }
        let Ok(values) = parse_stream(name, piece) else { return false };
        for v in values {
            if add_value(&mut scratch, name, v, false).is_err() {
                return false;
            }
        }
    }
    if !scratch.notes.is_empty() || scratch.values.is_some() {
        return false;
    }
    let keys: Vec<Key> = matched.iter().map(|&i| vb.key(i)).collect();
    let mut seen: std::collections::BTreeSet<&Key> = before.index.keys().chain(vb.keys.keys()).collect();
    for k in keys.iter().chain(scratch.docs.iter().map(|d| &d.key)) {
        if !seen.insert(k) {
            return false;
        }
    }
    for d in scratch.docs {
        before.index.insert(d.key.clone(), before.docs.len());
        before.docs.push(d);
    }
    let vb = before.verbatim.as_mut().expect("checked above");
    for (i, k) in matched.into_iter().zip(keys) {
        vb.matched[i] = true;
        vb.keys.insert(k, i);
    }
    true
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
    // A key an earlier file held verbatim: this one is the last, as below.
    if let Some(vb) = before.verbatim.as_mut() {
        if let Some(j) = vb.keys.remove(&key) {
            vb.matched[j] = false;
            before.notes.push(format!("{at}: {} appears twice; the last one is used", key.display()));
        }
    }
    if let Some(&i) = before.index.get(&key) {
        before.notes.push(format!("{at}: {} appears twice; the last one is used", key.display()));
        before.docs[i] = Doc { key, value: v, live };
    } else {
        before.index.insert(key.clone(), before.docs.len());
        before.docs.push(Doc { key, value: v, live });
    }
    Ok(())
}
