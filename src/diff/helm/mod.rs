//! `stackgen diff --target helm-values`: the comparison in the chart's world. A chart
//! user has the kube-prometheus-stack release (its values), the objects the Prometheus
//! Operator makes from the chart's Prometheus resource (StatefulSets
//! `prometheus-<cr>[-shard-<i>]`, claims `prometheus-<cr>-db-<statefulset>-<ordinal>`),
//! and stackgen's companion objects (manifests.yaml). So this compares:
//!
//! - the values document key by key (`values::diff_values`): added, removed and changed paths,
//!   with old → new, in document order (the new side's keys, then keys only the old side
//!   has);
//! - the companion objects object by object, with the manifests-mode machinery
//!   ([`super::compare_docs`], [`super::risk`]);
//! - the risks of value changes (`risks::value_risks`), named with the operator's objects: the
//!   operator re-creates a StatefulSet whose claim template changes (foreground delete:
//!   every pod of it at once), never resizes or moves a claim, and deletes the StatefulSets
//!   of removed shards and keeps their claims.
//!
//! With `--against` live objects, the chart's and the operator's objects are not compared
//! one by one (they are Helm's and the operator's, not stackgen's); the values the live
//! Prometheus resource `<cr>` shows (`values::values_of_cr`) stand in for the release's values.

mod risks;
mod sharding;
mod values;

use serde_json::Value;

pub use values::{show, ValueChange, ValuesDiff};

pub(super) use risks::value_risks;
pub(super) use sharding::shard_view;
pub(super) use values::values_of_cr;
use values::{diff_values, project};

use super::risk::{Code, Risk};
use super::{backend_risk, compare_docs, Before, Doc, Key, Report};
use crate::model::Stack;

/// The operator's names for the chart's Prometheus resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The Prometheus resource: `<fullname>-prometheus`.
    pub cr: String,
    pub namespace: String,
}

impl Chart {
    /// The chart's `kube-prometheus-stack.prometheus.crname` for these values, released as
    /// `release` into `namespace` (stackgen's header installs the release under the stack
    /// name; `fullnameOverride` is the stack name).
    pub fn from_values(v: &Value, release: &str, namespace: &str) -> Chart {
        let cut = crate::render::helm::cut_fullname;
        let fullname = match v["fullnameOverride"].as_str().filter(|s| !s.is_empty()) {
            Some(f) => cut(f),
            None => {
                let name = v["nameOverride"].as_str().filter(|s| !s.is_empty()).unwrap_or("kube-prometheus-stack");
                if release.contains(name) {
                    cut(release)
                } else {
                    cut(&format!("{release}-{name}"))
                }
            }
        };
        let cr =
            if v["cleanPrometheusOperatorObjectNames"] == true { fullname } else { format!("{fullname}-prometheus") };
        let namespace = v["namespaceOverride"].as_str().filter(|s| !s.is_empty()).unwrap_or(namespace).to_string();
        Chart { cr, namespace }
    }
    /// The operator's StatefulSet of one shard (`prometheusNameByShard`).
    pub fn statefulset(&self, shard: u64) -> String {
        crate::render::helm::operator_statefulset(&self.cr, shard)
    }
    /// The claim of one pod: the claim template is `prometheus-<cr>-db` (the operator's
    /// `volumeName`) unless the values name it.
    pub fn claim(&self, template: &str, shard: u64, ordinal: u64) -> String {
        format!("{template}-{}-{ordinal}", self.statefulset(shard))
    }
    pub fn key(&self) -> Key {
        Key {
            api_version: "monitoring.coreos.com/v1".into(),
            kind: "Prometheus".into(),
            namespace: Some(self.namespace.clone()),
            name: self.cr.clone(),
        }
    }
}

/// Where the chart keeps the Prometheus resource's spec in its values.
const SPEC: &str = "prometheus.prometheusSpec";

pub(super) fn spec(v: &Value) -> &Value {
    &v["prometheus"]["prometheusSpec"]
}

/// A count of the spec (`shards`, `replicas`), the operator's default 1 when unset.
pub(super) fn count(v: &Value, key: &str) -> u64 {
    spec(v)[key].as_u64().unwrap_or(1).max(1)
}

/// stackgen's companion objects of the helm-values render, in apply order.
fn companions(stack: &Stack) -> Vec<Doc> {
    crate::render::helm::companion_objects(stack)
        .into_iter()
        .filter_map(|o| Some(Doc { key: Key::of(&o.value)?, value: o.value, live: false }))
        .collect()
}

/// `--target helm-values` ([`helm`]): values key by key, companions object by object,
/// risks with the operator's names.
pub(super) fn diff(label: &str, new_stack: &Stack, before: Before) -> Report {
    let name = new_stack.name.as_str();
    let mut notes = Vec::new();
    let new_values = crate::render::helm::values(new_stack);
    let new_chart = Chart::from_values(&new_values, name, new_stack.namespace.as_str());
    let news = companions(new_stack);
    let mut skip_objects = false;
    // (mode, before label, old objects, old values, where they came from, old names,
    // whether the old values are a live projection, stack risks)
    let (mode, before, olds, old_values, source, old_chart, live, mut stack_risks) = match before {
        Before::Base { label, stack: old_stack } => {
            let v = crate::render::helm::values(&old_stack);
            let chart = Chart::from_values(&v, old_stack.name.as_str(), old_stack.namespace.as_str());
            let risks: Vec<Risk> = backend_risk(&old_stack, new_stack).into_iter().collect();
            ("base", label, companions(&old_stack), Some(v), "values".to_string(), chart, false, risks)
        }
        Before::Against { label, input: mut b } => {
            let released = super::risk::unbindable_volumes(news.iter().map(|d| &d.key), &b.docs);
            super::compare::as_string_data(&news, &mut b.docs);
            let crs: Vec<&Doc> = b
                .docs
                .iter()
                .filter(|d| d.key.kind == "Prometheus" && d.key.api_version.starts_with("monitoring.coreos.com/"))
                .collect();
            let cr = crs
                .iter()
                .find(|d| {
                    d.key.name == new_chart.cr && d.key.namespace.as_deref() == Some(new_chart.namespace.as_str())
                })
                .or_else(|| if crs.len() == 1 { crs.first() } else { None });
            let (values, source, chart, live) = match (&b.values, cr) {
                (Some(v), _) => (
                    Some(v.clone()),
                    "values".to_string(),
                    Chart::from_values(v, name, new_stack.namespace.as_str()),
                    false,
                ),
                (None, Some(cr)) => {
                    let chart = Chart {
                        cr: cr.key.name.clone(),
                        namespace: cr.key.namespace.clone().unwrap_or_else(|| new_chart.namespace.clone()),
                    };
                    (Some(values_of_cr(&cr.value)), format!("Prometheus {}/{}", chart.namespace, chart.cr), chart, true)
                }
                (None, None) => {
                    notes.push(format!(
                        "{label} has no values document and no Prometheus resource: values not compared \
                         (pass `helm get values {name} -n {} -o yaml` output, or include `kubectl get prometheus`)",
                        new_chart.namespace
                    ));
                    (None, String::new(), new_chart.clone(), false)
                }
            };
            let docs = if b.docs.is_empty() && b.values.is_some() {
                notes.push(format!(
                    "{label} is a values document only: companion objects not compared (pass the `render -o` \
                     directory, or manifests.yaml and values.yaml concatenated, or live objects)"
                ));
                skip_objects = true;
                Vec::new()
            } else {
                b.docs
            };
            ("against", label, docs, values, source, chart, live, released)
        }
    };
    let news = if skip_objects { Vec::new() } else { news };
    let mut report = compare_docs(label, mode, &before, &news, olds, name);
    if let Some(old) = &old_values {
        let (old, new) = if live {
            let new = project(&new_values);
            (super::compare::subset(old, Some(&new), None), new)
        } else {
            (old.clone(), new_values.clone())
        };
        let (changes, unchanged) = diff_values(&old, &new);
        let mut risks = value_risks(&old, &new, &old_chart, &new_chart);
        if !live {
            shard_moves(&mut report, &mut risks, &old, &new);
        }
        risks.append(&mut stack_risks);
        stack_risks = risks;
        report.values = Some(ValuesDiff { source, changes, unchanged });
    } else {
        report.values = Some(ValuesDiff { source, changes: Vec::new(), unchanged: 0 });
    }
    report.stack_risks = stack_risks;
    if report.ignored > 0 {
        notes.push(format!(
            "ignored {} live object(s) that are not stackgen's companions (the chart's and the operator's \
             objects are compared through the values{})",
            report.ignored,
            if live { format!(" of Prometheus {}/{}", old_chart.namespace, old_chart.cr) } else { String::new() }
        ));
    }
    report.notes = notes;
    report
}

/// The target moves between two Prometheus specs (the chart's values or the operator's
/// resource read as them) into `report`, and their count into the shard-count risk.
pub(super) fn shard_moves(report: &mut Report, risks: &mut [Risk], old: &Value, new: &Value) {
    let (ov, nv) = (shard_view(old), shard_view(new));
    let moves = super::risk::moves(&ov, &nv);
    if let Some(r) = risks.iter_mut().find(|r| r.code == Code::ShardCount) {
        let common = ov.assign.keys().filter(|k| nv.assign.contains_key(*k)).count();
        r.message.push_str(&format!(" ({} of {common} static targets move)", moves.len()));
    }
    report.moves = moves;
    report.sharding = Some((ov, nv));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stack(text: &str) -> crate::model::Stack {
        crate::test_stack(text)
    }

    #[test]
    fn names_agree_with_the_helm_render() {
        let s = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 3\n");
        let v = crate::render::helm::values(&s);
        let c = Chart::from_values(&v, s.name.as_str(), s.namespace.as_str());
        assert_eq!(c.cr, crate::render::helm::prometheus_cr(&s));
        for shard in 0..3u16 {
            assert_eq!(c.statefulset(u64::from(shard)), crate::render::helm::statefulset_name(&s, shard));
            assert_eq!(
                c.claim(&format!("prometheus-{}-db", c.cr), u64::from(shard), 1),
                crate::render::helm::claim_name(&s, shard, 1)
            );
        }
    }

    #[test]
    fn chart_names_without_override() {
        let c = Chart::from_values(&json!({}), "monitoring", "mon");
        assert_eq!(c.cr, "monitoring-kube-prometheus-prometheus");
        let c = Chart::from_values(&json!({}), "kube-prometheus-stack", "mon");
        assert_eq!(c.statefulset(1), "prometheus-kube-prometheus-stack-prometheus-shard-1");
        let c =
            Chart::from_values(&json!({"cleanPrometheusOperatorObjectNames": true, "fullnameOverride": "x"}), "r", "n");
        assert_eq!(c.statefulset(0), "prometheus-x");
    }

    #[test]
    fn fewer_shards_without_claims_names_no_claim() {
        let old = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 3\n");
        let new = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n");
        let (ov, nv) = (crate::render::helm::values(&old), crate::render::helm::values(&new));
        let c = Chart::from_values(&nv, "ha", "monitoring");
        let risks = value_risks(&ov, &nv, &c, &c);
        let r = risks.iter().find(|r| r.code == Code::ShardCount).expect("a shard-count risk");
        assert!(
            r.message.contains("prometheus-ha-prometheus-shard-1, prometheus-ha-prometheus-shard-2"),
            "{}",
            r.message
        );
        assert!(r.message.contains("emptyDir") && !r.message.contains("-db-"), "{}", r.message);
        assert!(r.action.is_none());
    }

    #[test]
    fn values_diff_is_key_by_key() {
        let old = json!({"a": {"b": 1, "storage": "2Gi", "d": [1, 2]}, "gone": true, "x.y": 1});
        let new = json!({"a": {"b": 2, "storage": "2048Mi", "d": [1]}, "new": {"k": 1}, "x.y": 2});
        let (d, same) = diff_values(&old, &new);
        let got: Vec<(String, &str)> = d.iter().map(|c| (c.path.clone(), c.change.as_str())).collect();
        assert_eq!(
            got,
            [
                ("a.b".to_string(), "changed"),
                ("a.d[1]".to_string(), "removed"),
                ("new".to_string(), "added"),
                ("x\\.y".to_string(), "changed"),
                ("gone".to_string(), "removed"),
            ]
        );
        assert_eq!(same, 2);
    }

    #[test]
    fn a_credential_in_the_old_values_is_never_printed() {
        let s = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n");
        let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0".repeat(2).get(..36).unwrap());
        let mut input = crate::diff::input::from_text("values.yaml", "").unwrap();
        input.values = Some(json!({"grafana": {"adminPassword": token}}));
        let report = diff("stack.toml", &s, Before::Against { label: "values.yaml".into(), input });
        assert!(report.values.as_ref().is_some_and(|v| !v.changes.is_empty()));
        assert!(!report.human(false).contains(&token));
        assert!(!report.json().to_string().contains(&token));
    }
}
