//! SG103 `static-volume-count`, for the component volumes. The Prometheus volumes are
//! counted where the stack is validated (`model::validate`): a stack without one for
//! each Prometheus pod is not a valid stack.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::volumes::{component_volumes, static_components};
use crate::model::Backend;

crate::lint::rule_doc! {
    /// fewer static volumes than pods
    ///
    /// ## What it does
    /// On a static backend (local, iscsi) checks that every pod has a volume of its
    /// own: one node in `nodes` or one LUN in `luns` per Prometheus pod (shards x
    /// replicas), and one LUN in `component_luns` per Alertmanager, Store Gateway,
    /// Compactor and Grafana pod.
    ///
    /// ## Why is this bad?
    /// Every pod needs a volume of its own: two servers on one TSDB directory corrupt
    /// it, and a claim with no free PV stays Pending (helm-charts#798), so the pod never
    /// starts. Local volumes need one node per pod, iSCSI one LUN per pod.
    ///
    /// ## Example
    /// 2 shards x 2 replicas need four nodes:
    /// ```toml
    /// [sharding]
    /// shards = 2
    ///
    /// [storage.local]
    /// nodes = ["a", "b", "c"]   # write ["a", "b", "c", "d"]
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let s = cx.stack;
    let Backend::Iscsi { component_luns, .. } = &s.storage.backend else { return };
    if !static_components(s) {
        return;
    }
    let volumes = component_volumes(s);
    if component_luns.len() < volumes.len() {
        let pods: Vec<&str> = volumes.iter().map(|v| v.dir.as_str()).collect();
        cx.report(
            Code::StaticVolumeCount,
            "/storage/iscsi/component_luns",
            format!(
                "{} component LUN(s) for {} component volumes ({}): each needs a LUN of its own",
                component_luns.len(),
                volumes.len(),
                pods.join(", ")
            ),
            format!("list {} LUNs in component_luns, or set component_class", volumes.len()),
        );
    }
}
