//! The values document key by key, and the part of it a live Prometheus resource shows.

use serde_json::{json, Map, Value};

use crate::diff::{compare, Change};

/// One key of the values document that differs.
#[derive(Debug, Clone)]
pub struct ValueChange {
    /// `prometheus.prometheusSpec.shards`; dots inside a key escaped as `helm --set` takes
    /// them (`commonLabels.app\.kubernetes\.io/team`), list items as `[i]`.
    pub path: String,
    pub change: Change,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The values comparison of a report.
#[derive(Debug, Clone)]
pub struct ValuesDiff {
    /// Where the old values came from: `values` (a values document) or `Prometheus <ns>/<cr>`.
    pub source: String,
    pub changes: Vec<ValueChange>,
    /// Keys compared and equal (leaves).
    pub unchanged: usize,
}

fn join(path: &str, key: &str) -> String {
    let k = key.replace('.', "\\.");
    if path.is_empty() {
        k
    } else {
        format!("{path}.{k}")
    }
}

/// Key-by-key comparison of two values documents. Quantities equal in value (`1024Gi`
/// and `1Ti`) are equal. A map or list only one side has is one change (its whole value).
pub fn diff_values(old: &Value, new: &Value) -> (Vec<ValueChange>, usize) {
    let old = compare::align(old, new);
    let mut out = Vec::new();
    let mut same = 0;
    walk("", &old, new, &mut out, &mut same);
    (out, same)
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<ValueChange>, same: &mut usize) {
    let one = |path: String, change, o: Option<&Value>, n: Option<&Value>| ValueChange {
        path,
        change,
        old: o.cloned(),
        new: n.cloned(),
    };
    match (old, new) {
        (Value::Object(om), Value::Object(nm)) => {
            for (k, nv) in nm {
                match om.get(k) {
                    Some(ov) => walk(&join(path, k), ov, nv, out, same),
                    None => out.push(one(join(path, k), Change::Added, None, Some(nv))),
                }
            }
            for (k, ov) in om.iter().filter(|(k, _)| !nm.contains_key(*k)) {
                out.push(one(join(path, k), Change::Removed, Some(ov), None));
            }
        }
        (Value::Array(oa), Value::Array(na)) => {
            for i in 0..oa.len().max(na.len()) {
                let p = format!("{path}[{i}]");
                match (oa.get(i), na.get(i)) {
                    (Some(o), Some(n)) => walk(&p, o, n, out, same),
                    (None, Some(n)) => out.push(one(p, Change::Added, None, Some(n))),
                    (Some(o), None) => out.push(one(p, Change::Removed, Some(o), None)),
                    (None, None) => {}
                }
            }
        }
        _ if old == new => *same += 1,
        _ => out.push(one(path.to_string(), Change::Changed, Some(old), Some(new))),
    }
}

/// A value as the human report shows it: strings bare, everything else as JSON.
pub fn show(v: Option<&Value>) -> String {
    match v {
        None => "(unset)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// `prometheus.prometheusSpec` keys the Prometheus resource shows under the same name
/// (the chart copies them), and their resource field.
const CR_KEYS: &[(&str, &str)] = &[
    ("replicas", "replicas"),
    ("shards", "shards"),
    ("retention", "retention"),
    ("retentionSize", "retentionSize"),
    ("scrapeInterval", "scrapeInterval"),
    ("scrapeTimeout", "scrapeTimeout"),
    ("evaluationInterval", "evaluationInterval"),
    ("externalLabels", "externalLabels"),
    ("replicaExternalLabelName", "replicaExternalLabelName"),
    ("resources", "resources"),
    ("securityContext", "securityContext"),
    ("storageSpec", "storage"),
];

/// The values a live Prometheus resource made by the chart shows: [`CR_KEYS`] under
/// `prometheus.prometheusSpec`, with the operator's defaults (1 replica, 1 shard) where
/// the resource leaves them out. Compare it with [`project`] of the new values.
pub fn values_of_cr(cr: &Value) -> Value {
    let spec = &cr["spec"];
    let mut ps = Map::new();
    for (key, field) in CR_KEYS {
        match spec.get(*field) {
            Some(v) => {
                ps.insert((*key).into(), v.clone());
            }
            None if matches!(*key, "replicas" | "shards") => {
                ps.insert((*key).into(), json!(1));
            }
            None => {}
        }
    }
    if spec["prometheusExternalLabelName"] == "" {
        ps.insert("prometheusExternalLabelNameClear".into(), json!(true));
    }
    json!({"prometheus": {"prometheusSpec": ps}})
}

/// The part of a values document a live Prometheus resource can show.
pub fn project(values: &Value) -> Value {
    let spec = &values["prometheus"]["prometheusSpec"];
    let mut ps = Map::new();
    for (key, _) in CR_KEYS.iter().chain([&("prometheusExternalLabelNameClear", "")]) {
        if let Some(v) = spec.get(*key) {
            ps.insert((*key).into(), v.clone());
        }
    }
    json!({"prometheus": {"prometheusSpec": ps}})
}
