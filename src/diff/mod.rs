//! `stackgen diff`: object-by-object comparison of the render of a stack with a
//! previous render (`--against FILE|DIR`), live objects (`--against -` fed by
//! `kubectl get -o yaml`), or the render of another stack (`--base OLD_STACK`), with
//! risk markers on changes Kubernetes rejects or that delete, strand or move data.
//!
//! Objects are keyed by apiVersion, kind, namespace and name. Live objects are reduced
//! to what stackgen sets (tanka's subset rule, `compare::subset`), so server-set fields
//! and API defaults are never a change. [`diff`] returns a [`Report`]; the command line
//! prints it (human or JSON) and maps it to diff(1)'s exit codes.
//!
//! `--target helm-values` ([`helm`]) compares in the chart's world instead: the values
//! key by key, stackgen's companion objects object by object, and risks named with the
//! Prometheus Operator's StatefulSets and claims.
//!
//! `--target operator` ([`operator`]) compares the operator render object by object,
//! with the risks of a `Prometheus` resource change named with the operator's objects
//! (the helm-values machinery over each side's resource).

pub(crate) mod compare;
pub mod helm;
pub mod input;
pub mod operator;
mod report;
pub mod risk;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::Stack;
use crate::render::{yaml, Documents};
use risk::{Move, Risk, ShardView};

/// The "before" side of a comparison.
pub enum Before {
    /// Another stack (`--base OLD_STACK`), checked; `label` names it in the report.
    Base { label: String, stack: Box<Stack> },
    /// What `--against` read (a render, an `-o` directory, live objects; with
    /// `--target helm-values` maybe the chart's values); `label` names it in the report.
    Against { label: String, input: input::Before },
}

/// Identity of an object: apiVersion, kind, namespace (none when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Key {
    pub fn of(v: &Value) -> Option<Key> {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
        Some(Key {
            api_version: s("/apiVersion")?,
            kind: s("/kind")?,
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name")?,
        })
    }
    /// `Kind namespace/name` or `Kind name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// One object of either side.
#[derive(Debug, Clone)]
pub struct Doc {
    pub key: Key,
    pub value: Value,
    /// Read from a cluster: compared by the subset rule.
    pub live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// One object that differs.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: Key,
    pub change: Change,
    /// Unified diff of the YAML, before → after (changed objects only).
    pub diff: Option<String>,
    pub risks: Vec<Risk>,
}

/// The result of a comparison.
#[derive(Debug, Clone)]
pub struct Report {
    pub stack: String,
    /// `against` or `base`.
    pub mode: &'static str,
    pub before: String,
    pub entries: Vec<Entry>,
    pub unchanged: usize,
    /// Live objects on the "before" side that stackgen does not manage.
    pub ignored: usize,
    /// Risks not about one object (shard count, storage backend).
    pub stack_risks: Vec<Risk>,
    pub sharding: Option<(ShardView, ShardView)>,
    pub moves: Vec<Move>,
    /// `--target helm-values`: the values document key by key (`None` in manifests mode;
    /// `Some` with no source when the "before" side has no values).
    pub values: Option<helm::ValuesDiff>,
    /// What the comparison left out and why (`note:` lines on stderr), in order.
    pub notes: Vec<String>,
}

impl Report {
    /// Every risk, object risks in object order, then stack-wide ones.
    pub fn risks(&self) -> impl Iterator<Item = &Risk> {
        self.entries.iter().flat_map(|e| e.risks.iter()).chain(self.stack_risks.iter())
    }
    pub fn has_changes(&self) -> bool {
        !self.entries.is_empty()
            || !self.stack_risks.is_empty()
            || self.values.as_ref().is_some_and(|v| !v.changes.is_empty())
    }
    pub fn count(&self, c: Change) -> usize {
        self.entries.iter().filter(|e| e.change == c).count()
    }
    /// The human report (coloured with `color`). Live objects and values documents may
    /// hold credentials (a ConfigMap with a password, a chart's `adminPassword`) and names
    /// with terminal escapes: every string is scrubbed of credential shapes, and the YAML
    /// texts and names have no raw control characters (see [`compare_docs`], [`input`]).
    pub fn human(&self, color: bool) -> String {
        crate::secrets::scrub(&report::human(self, color)).into_owned()
    }
    /// The JSON report (README.md, "diff"), scrubbed as [`Report::human`] is.
    pub fn json(&self) -> Value {
        let mut v = report::json(self);
        scrub_json(&mut v);
        v
    }
}

/// The render of `stack` as the objects of one side.
fn rendered(stack: &Stack) -> Vec<Doc> {
    docs_of(&Documents::new(stack), |_| true)
}

/// The render of `stack` as the objects `diff --against` compares (built once for
/// [`against_text_each`]).
pub fn rendered_docs(stack: &Stack) -> Vec<Doc> {
    rendered(stack)
}

/// The documents of `docs` for which `keep` holds, as values, in apply order.
fn docs_of(docs: &Documents, keep: impl Fn(usize) -> bool) -> Vec<Doc> {
    (0..docs.len())
        .filter(|&i| keep(i))
        .filter_map(|i| {
            let o = docs.object(i);
            Some(Doc { key: Key::of(&o.value)?, value: o.value, live: false })
        })
        .collect()
}

/// The key of document `i` of a render, without building its value.
fn key_of(docs: &Documents, i: usize) -> Key {
    let (kind, ns, name) = docs.meta(i);
    Key {
        api_version: docs.api_version(i).unwrap_or_default().to_string(),
        kind: kind.to_string(),
        namespace: ns.map(std::borrow::Cow::into_owned),
        name: name.into_owned(),
    }
}

/// `--base`: the documents of two renders that differ, as values (new, old), and how many
/// are the same text under the same key. Identical texts are identical objects, so only
/// the others are built and compared.
fn differing(new: &Documents, old: &Documents) -> (Vec<Doc>, Vec<Doc>, usize) {
    let old_keys: BTreeMap<Key, usize> = (0..old.len()).map(|i| (key_of(old, i), i)).collect();
    let mut same_new = vec![false; new.len()];
    let mut same_old = vec![false; old.len()];
    let (mut a, mut b) = (String::new(), String::new());
    for (i, same) in same_new.iter_mut().enumerate() {
        let Some(&j) = old_keys.get(&key_of(new, i)) else { continue };
        a.clear();
        b.clear();
        new.write(i, &mut a);
        old.write(j, &mut b);
        if a == b {
            *same = true;
            same_old[j] = true;
        }
    }
    let count = same_new.iter().filter(|s| **s).count();
    (docs_of(new, |i| !same_new[i]), docs_of(old, |j| !same_old[j]), count)
}

/// Compare the render of `stack` (`label` names it in the report) with `before`;
/// `helm` compares in the chart's world (`--target helm-values`, [`helm`]).
pub fn diff(label: &str, stack: &Stack, before: Before, helm: bool) -> Report {
    diff_rendered(label, stack, before, helm, None)
}

/// [`diff`], with the render of `stack` as objects already built (`news`, from
/// [`rendered_docs`]) when one stack is compared with many inputs.
fn diff_rendered(label: &str, stack: &Stack, before: Before, helm: bool, news: Option<&[Doc]>) -> Report {
    if helm {
        return helm::diff(label, stack, before);
    }
    let new_view = risk::view_of_stack(stack);
    let name = stack.name.as_str();
    let (mut report, old_view, stack_risks) = match before {
        Before::Base { label: before, stack: old_stack } => {
            let stack_risks = backend_risk(&old_stack, stack).into_iter().collect();
            let (news, olds, same) = differing(&Documents::new(stack), &Documents::new(&old_stack));
            let mut report = compare_docs(label, "base", &before, &news, olds, name);
            report.unchanged += same;
            (report, Some(risk::view_of_stack(&old_stack)), stack_risks)
        }
        Before::Against { label: before, input: mut b } => {
            let mut verbatim = b.verbatim.take().filter(|v| v.count() > 0);
            // Live objects beside verbatim ones (rare): compare everything as values.
            if let Some(vb) = verbatim.as_ref().filter(|_| b.docs.iter().any(|d| d.live)) {
                b.docs.extend(docs_of(&vb.rendered, |i| vb.matched[i]));
                verbatim = None;
            }
            let (news, same, view) = match verbatim {
                // A render read back: only the documents not found verbatim are built; the
                // old side's shard view reads the verbatim shard objects as the render has
                // them (its ConfigMaps; the StatefulSets when it has none).
                Some(vb) => {
                    let news = docs_of(&vb.rendered, |i| !vb.matched[i]);
                    let prefix = format!("{name}-prometheus-shard-");
                    let shard_doc = |i: usize, kind: &str| {
                        let (k, _, n) = vb.rendered.meta(i);
                        vb.matched[i] && k == kind && n.starts_with(&prefix)
                    };
                    let mut extra = docs_of(&vb.rendered, |i| shard_doc(i, "ConfigMap"));
                    if extra.is_empty() {
                        extra = docs_of(&vb.rendered, |i| shard_doc(i, "StatefulSet"));
                    }
                    let view = risk::view_of_objects(b.docs.iter().chain(&extra).map(|d| (&d.key, &d.value)), name);
                    (news, vb.count(), view)
                }
                None => {
                    let view = risk::view_of_objects(b.docs.iter().map(|d| (&d.key, &d.value)), name);
                    (news.map_or_else(|| rendered(stack), <[Doc]>::to_vec), 0, view)
                }
            };
            let mut live_risks = risk::unbindable_volumes(news.iter().map(|d| &d.key), &b.docs);
            live_risks.extend(risk::claims_fit(&news, &b.docs));
            compare::as_string_data(&news, &mut b.docs);
            let mut report = compare_docs(label, "against", &before, &news, b.docs, name);
            report.unchanged += same;
            (report, view, live_risks)
        }
    };
    add_sharding(&mut report, old_view, new_view, stack_risks, name);
    if report.ignored > 0 {
        report.notes.push(format!(
            "ignored {} live object(s) that are not this stack's (no app.kubernetes.io/managed-by=stackgen and \
             app.kubernetes.io/instance={} labels, or owned by a controller)",
            report.ignored, stack.name
        ));
    }
    report
}

fn scrub_json(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(c) = crate::secrets::scrub(s) {
                *s = c;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub_json),
        Value::Object(m) => m.values_mut().for_each(scrub_json),
        _ => {}
    }
}

fn add_sharding(
    report: &mut Report,
    old_view: Option<ShardView>,
    new_view: ShardView,
    mut stack_risks: Vec<Risk>,
    name: &str,
) {
    if let Some(old_view) = old_view {
        let moves = risk::moves(&old_view, &new_view);
        stack_risks.extend(risk::sharding(&old_view, &new_view, &moves, name));
        report.moves = moves;
        report.sharding = Some((old_view, new_view));
    }
    report.stack_risks = stack_risks;
}

/// The whole `--against` comparison of a checked stack with "before" text (a render or
/// `kubectl get -o yaml` output): what the fuzz target `diff_against` drives. `Err` is
/// why the text cannot be read.
pub fn against_text(stack: &Stack, before_text: &str) -> Result<Report, String> {
    let input = input::from_text("<fuzz>", before_text)?;
    Ok(diff("stack.toml", stack, Before::Against { label: "<fuzz>".to_string(), input }, false))
}

/// [`against_text`] against each of `stacks` (each with its [`rendered_docs`]), the text
/// read once: what the fuzz target runs, the same comparison for a fraction of the work.
pub fn against_text_each(stacks: &[(Stack, Vec<Doc>)], before_text: &str) -> Result<Vec<Report>, String> {
    let input = input::from_text("<fuzz>", before_text)?;
    Ok(stacks
        .iter()
        .map(|(stack, news)| {
            let input = input.duplicate().expect("read without a render");
            let before = Before::Against { label: "<fuzz>".to_string(), input };
            diff_rendered("stack.toml", stack, before, false, Some(news))
        })
        .collect())
}

/// The stack-wide risk of a `[storage] backend` change (`--base`).
fn backend_risk(old: &Stack, new: &Stack) -> Option<Risk> {
    let (ob, nb) = (old.storage.backend.name(), new.storage.backend.name());
    (ob != nb).then(|| Risk {
        code: risk::Code::StorageBackend,
        category: risk::Category::DataLoss,
        object: None,
        path: None,
        message: format!(
            "storage backend {ob} → {nb}: Prometheus starts on new, empty volumes; the TSDB on the {ob} \
             volumes is not migrated (copy it first, or rely on Thanos for the history)"
        ),
        action: None,
    })
}

/// Whether a live object belongs to this stack's render.
fn ours(v: &Value, stack: &str) -> bool {
    let labels = &v["metadata"]["labels"];
    labels["app.kubernetes.io/managed-by"] == "stackgen"
        && labels["app.kubernetes.io/instance"] == stack
        && v["metadata"]["ownerReferences"].as_array().is_none_or(Vec::is_empty)
}

/// Compare the rendered objects (`news`, in apply order) with the "before" side.
pub fn compare_docs(stack: &str, mode: &'static str, before: &str, news: &[Doc], olds: Vec<Doc>, name: &str) -> Report {
    let mut old_by_key: BTreeMap<Key, Doc> = olds.into_iter().map(|d| (d.key.clone(), d)).collect();
    let mut report = Report {
        stack: stack.to_string(),
        mode,
        before: before.to_string(),
        entries: Vec::new(),
        unchanged: 0,
        ignored: 0,
        stack_risks: Vec::new(),
        sharding: None,
        moves: Vec::new(),
        values: None,
        notes: Vec::new(),
    };
    for new in news {
        let Some(old) = old_by_key.remove(&new.key) else {
            report.entries.push(Entry { key: new.key.clone(), change: Change::Added, diff: None, risks: Vec::new() });
            continue;
        };
        let mut ov = old.value.clone();
        compare::strip_server_fields(&mut ov);
        if old.live {
            let last = compare::last_applied(&old.value);
            ov = compare::subset(&ov, Some(&new.value), last.as_ref());
        }
        let ov = compare::align(&ov, &new.value);
        if ov == new.value {
            report.unchanged += 1;
            continue;
        }
        let title = new.key.display();
        let (old_text, new_text) = (yaml::to_string(&ov), yaml::to_string(&new.value));
        // Never a credential of a live object in the output (the human report is scrubbed
        // as a whole too; here the diff lines are, before they are paired).
        let (old_text, new_text) = (crate::secrets::scrub(&old_text), crate::secrets::scrub(&new_text));
        let diff = unified_between(&format!("{title} ({before})"), &format!("{title} ({stack})"), &old_text, &new_text);
        let risks = risk::changed(&new.key, &ov, &new.value);
        report.entries.push(Entry { key: new.key.clone(), change: Change::Changed, diff: Some(diff), risks });
    }
    for (key, old) in old_by_key {
        if old.live && !ours(&old.value, name) {
            report.ignored += 1;
            continue;
        }
        let risks = risk::removed(&key, &old.value);
        report.entries.push(Entry { key, change: Change::Removed, diff: None, risks });
    }
    report
}

/// A unified diff with three lines of context, `old_label` → `new_label`.
pub fn unified_between(old_label: &str, new_label: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(old_label, new_label).to_string()
}

/// A unified diff of a committed file with its render (`render --check`).
pub fn unified(name: &str, committed: &str, rendered: &str) -> String {
    unified_between(&format!("{name} (committed)"), &format!("{name} (rendered)"), committed, rendered)
}
