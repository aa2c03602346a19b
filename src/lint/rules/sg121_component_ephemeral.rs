//! SG121 `component-ephemeral`.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::volumes::{component_volumes, static_components, Component};
use crate::model::Backend;

crate::lint::rule_doc! {
    /// Alertmanager, Grafana, Store Gateway or Compactor data would silently be an emptyDir
    ///
    /// ## What it does
    /// On a static backend (local, nfs, iscsi), where stackgen writes the PVs itself,
    /// reports an error for each component with data (Alertmanager, Grafana, Thanos Store
    /// Gateway, Thanos Compactor) whose storage the stack does not say.
    ///
    /// ## Why is this bad?
    /// Without a place of their own, Alertmanager's silences and notification log,
    /// Grafana's database (users, dashboards saved in the UI) and the Thanos work
    /// directories would live in an emptyDir and be lost on every restart, with nothing
    /// in the output to say so. The error names the component.
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// backend = "local"
    ///
    /// [grafana]          # where does Grafana keep its database?
    /// ```
    ///
    /// Fix, one of:
    /// ```toml
    /// component_class = "<an existing StorageClass>"   # in [storage]
    /// backend = "nfs" (static)                          # a directory per pod on the same export, automatically
    /// component_path = "/mnt/disks/components"         # in [storage.local]: <path>/<pod> on the listed nodes
    /// component_luns = [3, 4, 5]                         # in [storage.iscsi]: one LUN per component pod
    /// ephemeral_components = true                        # in [storage]: emptyDir on purpose
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let s = cx.stack;
    let st = &s.storage;
    if !st.backend.is_static() || st.component_class.is_some() || st.ephemeral_components || static_components(s) {
        return;
    }
    let how = match st.backend {
        Backend::Local { .. } => "component_path in [storage.local]",
        _ => "component_luns in [storage.iscsi]",
    };
    let mut seen = Vec::new();
    for v in component_volumes(s) {
        if seen.contains(&v.component) {
            continue;
        }
        seen.push(v.component);
        let (name, key, what) = match v.component {
            Component::Alertmanager => ("Alertmanager", "/alertmanager", "silences and notification log"),
            Component::Grafana => ("Grafana", "/grafana", "database (users, dashboards saved in the UI)"),
            Component::ThanosStore => ("Thanos Store Gateway", "/thanos", "index cache"),
            Component::ThanosCompactor => ("Thanos Compactor", "/thanos", "work directory"),
        };
        cx.report(
            Code::ComponentEphemeral,
            key,
            format!(
                "{name} would keep its {what} in an emptyDir on the static {} backend: lost on every restart",
                st.backend.name()
            ),
            format!("set [storage] component_class, or {how}, or [storage] ephemeral_components = true"),
        );
    }
}
