//! `stackgen diff --target operator`: the operator render compared object by object
//! (every object of it is stackgen's: the custom resources and the companions), with the
//! manifests-mode machinery ([`super::compare_docs`], [`super::risk`]), plus the risks of
//! a change of the `Prometheus` resource named with the objects the operator makes from
//! it: the resource on each side is read as the chart's values would hold it
//! ([`super::helm::values_of_cr`]), so the helm-values risks (claim template changes
//! that re-create StatefulSets, removed shards, renamed resources) apply unchanged. The
//! target moves of a shard-count change come from the jobs of the
//! `additionalScrapeConfigs` Secret.

use serde_json::Value;

use super::helm::{value_risks, values_of_cr, Chart};
use super::{backend_risk, compare_docs, Before, Doc, Key, Report};
use crate::model::Stack;

fn rendered(stack: &Stack) -> Vec<Doc> {
    crate::render::operator::render(stack)
        .into_iter()
        .filter_map(|o| Some(Doc { key: Key::of(&o.value)?, value: o.value, live: false }))
        .collect()
}

/// The Prometheus resource of one side, as the chart's values would hold it (with the
/// jobs of its `additionalScrapeConfigs` Secret when that is readable), and its names.
fn as_values(docs: &[Doc], want: Option<&Key>) -> Option<(Value, Chart)> {
    let crs: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.key.kind == "Prometheus" && d.key.api_version.starts_with("monitoring.coreos.com/"))
        .collect();
    let cr = want
        .and_then(|k| crs.iter().find(|d| d.key.name == k.name && d.key.namespace == k.namespace))
        .or_else(|| if crs.len() == 1 { crs.first() } else { None })?;
    let mut v = values_of_cr(&cr.value);
    let ns = cr.key.namespace.clone().unwrap_or_default();
    let secret = &cr.value["spec"]["additionalScrapeConfigs"];
    if let (Some(name), Some(key)) = (secret["name"].as_str(), secret["key"].as_str()) {
        let text = docs
            .iter()
            .find(|d| d.key.kind == "Secret" && d.key.name == name && d.key.namespace.as_deref() == Some(&ns))
            .and_then(|d| d.value["stringData"][key].as_str());
        if let Some(jobs) = text.and_then(|t| serde_saphyr::from_str::<Value>(t).ok()) {
            v["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"] = jobs;
        }
    }
    Some((v, Chart { cr: cr.key.name.clone(), namespace: ns }))
}

/// `--target operator`: the operator render of `stack` against `before`.
pub fn diff(label: &str, stack: &Stack, before: Before) -> Report {
    let news = rendered(stack);
    let (mode, before_label, olds, mut stack_risks) = match before {
        Before::Base { label, stack: old } => {
            let risks = backend_risk(&old, stack).into_iter().collect();
            ("base", label, rendered(&old), risks)
        }
        Before::Against { label, input: mut b } => {
            let risks = super::risk::unbindable_volumes(news.iter().map(|d| &d.key), &b.docs);
            super::compare::as_string_data(&news, &mut b.docs);
            ("against", label, b.docs, risks)
        }
    };
    let new_side = as_values(&news, None);
    let old_side = as_values(&olds, new_side.as_ref().map(|(_, c)| c.key()).as_ref());
    let name = stack.name.as_str();
    let mut report = compare_docs(label, mode, &before_label, &news, olds, name);
    if let (Some((old, oc)), Some((new, nc))) = (old_side, new_side) {
        let mut risks = value_risks(&old, &new, &oc, &nc);
        super::helm::shard_moves(&mut report, &mut risks, &old, &new);
        risks.append(&mut stack_risks);
        stack_risks = risks;
    } else {
        report.notes.push(format!(
            "{before_label} has no Prometheus resource: only objects compared (include `kubectl get prometheus` \
             in live input)"
        ));
    }
    report.stack_risks = stack_risks;
    if report.ignored > 0 {
        report.notes.push(format!(
            "ignored {} live object(s) that are not this stack's (the operator's StatefulSets, Services and \
             Secrets are compared through the Prometheus resource)",
            report.ignored
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> Stack {
        crate::test_stack(text)
    }

    #[test]
    fn fewer_shards_name_the_operators_statefulsets() {
        let base = "[stack]\nname = \"ha\"\n[storage]\nbackend = \"class\"\nsize = \"10Gi\"\n[storage.class]\nname = \"fast\"\n\
                    [[scrape]]\njob = \"x\"\nstatic_targets = [\"a:1\", \"b:1\", \"c:1\", \"d:1\"]\n[sharding]\nshards = ";
        let old = stack(&format!("{base}3\n"));
        let new = stack(&format!("{base}2\n"));
        let r = diff("new.toml", &new, Before::Base { label: "old.toml".into(), stack: Box::new(old.clone()) });
        let sc =
            r.stack_risks.iter().find(|r| r.code == super::super::risk::Code::ShardCount).expect("a shard-count risk");
        assert!(sc.message.contains("prometheus-ha-prometheus-shard-2"), "{}", sc.message);
        assert!(sc.message.contains("static targets move"), "{}", sc.message);
        assert!(r.entries.iter().any(|e| e.key.kind == "Prometheus"));
        let same = diff("s.toml", &old, Before::Base { label: "s.toml".into(), stack: Box::new(old.clone()) });
        assert!(!same.has_changes());
    }
}
