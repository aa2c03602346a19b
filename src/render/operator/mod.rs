//! `--format operator`: Prometheus Operator resources (`Prometheus`, `Alertmanager`,
//! `PrometheusRule`, `Probe`) plus the companion objects the operator does not create,
//! for clusters that run the operator without the kube-prometheus-stack chart
//! (kube-prometheus users).
//!
//! Every field was checked against the CRD schemas of the operator version
//! [`OPERATOR_VERSION`] (tests/it/operator.rs validates every resource strictly against
//! them, and runs the real operator on the output). What a stack asks for and the
//! operator cannot express is reported by lint rule SG160
//! (`lint::rules::sg160_operator_unsupported`).
//!
//! Decisions, in short (docs/operator.md has the long form):
//! - Names: the Prometheus resource is `<stack>-prometheus` (cut as the chart cuts its
//!   fullname), the name kube-prometheus-stack gives it with stackgen's values. The
//!   operator's StatefulSets (`prometheus-<cr>[-shard-<i>]`), claims
//!   (`prometheus-<cr>-db-<statefulset>-<ordinal>`) and pods are then the same in
//!   helm-values and operator mode, so a stack can move between the two without new
//!   volumes, and the static PVs and companions of helm-values serve both. The
//!   Alertmanager resource is `<stack>` (StatefulSet `alertmanager-<stack>`, config
//!   Secret `alertmanager-<stack>`, claims `alertmanager-<stack>-db-…`).
//! - Scrape jobs: one `additionalScrapeConfigs` Secret holds exactly the jobs of
//!   manifests mode (built-in Kubernetes jobs, `[[scrape]]`, Alertmanager), without
//!   stackgen's hashmod relabelling: the operator appends its own to each job
//!   (`appendShardingRelabelingWithAddressIfMissing`), the same rules stackgen writes.
//!   Not `ScrapeConfig` resources: they are v1alpha1, their jobs are renamed
//!   `scrapeConfig/<ns>/<name>` and they cannot carry the relabelling the annotation and
//!   control-plane jobs need; one Secret keeps the three formats' jobs identical.
//! - External labels: the stack's, the replica label (`replicaExternalLabelName`), no
//!   `prometheus` label (`prometheusExternalLabelName: ""`), and with shards a per-shard
//!   `shard: $(SHARD)`, which the operator's config reloader expands as it does
//!   `$(POD_NAME)` for the replica label.
//! - Storage: the same data layout as the other modes (the operator mounts the claim
//!   with subPath `prometheus-db` at `/prometheus`); static PVs pre-bound to the
//!   operator's claims, selected by one stack-wide label (one claim template serves all
//!   shards).

mod alerting;
mod companions;
mod resources;

pub use alerting::{probe_resources, rule_resources, self_monitoring};
pub use companions::companion_objects;
pub use resources::{alertmanager_name, alertmanager_resource, prometheus_resource, scrape_jobs, SCRAPE_KEY};

use super::{Names, Object, HEADER};
use crate::model::Stack;

/// The Prometheus Operator version whose CRDs and behaviour this format is written for.
pub const OPERATOR_VERSION: &str = crate::model::PROMETHEUS_OPERATOR_VERSION;
/// The API group and version of the operator's resources.
pub const API_VERSION: &str = "monitoring.coreos.com/v1";

/// A custom resource as a rendered object.
pub(crate) fn custom(kind: &str, name: &str, namespace: &str, value: serde_json::Value) -> Object {
    Object { kind: kind.to_string(), namespace: Some(namespace.to_string()), name: name.to_string(), value }
}

/// Every object of the operator render, in apply order (the custom resources last, after
/// the Secrets and volumes they name).
pub fn render(stack: &Stack) -> Vec<Object> {
    let n = Names { stack };
    let mut objs = companion_objects(stack);
    objs.push(prometheus_resource(&n));
    if stack.alertmanager.is_some() {
        objs.push(alertmanager_resource(&n));
    }
    // `[[probe]]`: stackgen's blackbox_exporter (the operator has none) and one Probe per
    // job, which the operator turns into a scrape config sharded on the target.
    crate::render::blackbox::objects(&n, &mut objs);
    let exporter =
        format!("{}:{}", n.svc_fqdn(&n.obj("blackbox-exporter")), crate::alerting::blackbox::BLACKBOX_EXPORTER_PORT);
    objs.extend(probe_resources(&n, &stack.probes, &exporter));
    // The built-in self-monitoring rules and the stack's `[rules] files`, one
    // PrometheusRule each.
    let m = self_monitoring(stack);
    let builtin = stack.rules.self_monitoring.then_some(&m);
    objs.extend(rule_resources(&n, builtin, &[]).expect("built-in rules are valid YAML"));
    for f in &stack.rules.files {
        // Checked at lint time (SG131-SG137): a file that is no rule file never gets here.
        objs.extend(rule_resources(&n, None, &[(f.name.clone(), f.text.clone())]).unwrap_or_default());
    }
    super::sort(&mut objs);
    objs
}

/// The header of the operator stream: the operator version it is written for, how to apply it.
pub fn header(s: &Stack) -> String {
    format!(
        "{HEADER}# Prometheus Operator {OPERATOR_VERSION} resources (monitoring.coreos.com/v1) and the objects the\n\
         # operator does not create. Needs the operator and its CRDs ({OPERATOR_VERSION}) watching namespace {ns}:\n\
         #   kubectl apply --server-side -f operator.yaml\n",
        ns = s.namespace
    )
}

/// The whole render as one YAML stream with [`header`].
pub fn to_text(stack: &Stack) -> String {
    let mut text = header(stack);
    text.push_str(&super::to_yaml(&render(stack)));
    text
}
