//! The volumes a stack needs besides Prometheus' own: which component pods keep data,
//! under which names, and whether stackgen writes static PVs for them. Render writes the
//! claims and PVs from this; lint checks that a static backend has a place for each.

use super::{Backend, Bytes, Stack};

/// A component other than Prometheus that keeps data on a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Alertmanager,
    ThanosStore,
    ThanosCompactor,
    Grafana,
}

/// The volume of one component pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentVolume {
    pub component: Component,
    /// The StatefulSet or Deployment that owns the claim: `<stack>-alertmanager`.
    pub owner: String,
    /// The claim the pod makes: `data-<owner>-<ordinal>`, or `<owner>` for Grafana.
    pub claim: String,
    /// The pod's directory on a shared static volume: `<owner>-<ordinal>`, or `<owner>`.
    pub dir: String,
    pub size: Bytes,
}

/// The component pods that need a volume, in a fixed order: Alertmanager, Store Gateway,
/// Compactor, Grafana (so PV `n` of a static backend always goes to the same pod).
pub fn component_volumes(s: &Stack) -> Vec<ComponentVolume> {
    let mut v = Vec::new();
    let mut sts = |component: Component, suffix: &str, replicas: u32, size: Bytes| {
        let owner = format!("{}-{suffix}", s.name);
        for i in 0..replicas {
            v.push(ComponentVolume {
                component,
                owner: owner.clone(),
                claim: format!("data-{owner}-{i}"),
                dir: format!("{owner}-{i}"),
                size,
            });
        }
    };
    if let Some(am) = &s.alertmanager {
        sts(Component::Alertmanager, "alertmanager", am.replicas, am.size);
    }
    if let Some(t) = &s.thanos {
        sts(Component::ThanosStore, "thanos-store", t.store_replicas, t.store_size);
        sts(Component::ThanosCompactor, "thanos-compactor", 1, t.compactor.size);
    }
    if let Some(g) = &s.grafana {
        let owner = format!("{}-grafana", s.name);
        v.push(ComponentVolume {
            component: Component::Grafana,
            claim: owner.clone(),
            dir: owner.clone(),
            owner,
            size: g.size,
        });
    }
    v
}

/// Whether stackgen writes static PVs for Alertmanager, Grafana, Store Gateway and
/// Compactor: on NFS always (a directory per pod on the same export), on local volumes
/// with `component_path`, on iSCSI with `component_luns`; never when `component_class`
/// or `ephemeral_components` says otherwise.
pub fn static_components(s: &Stack) -> bool {
    let st = &s.storage;
    if st.component_class.is_some() || st.ephemeral_components {
        return false;
    }
    match &st.backend {
        Backend::Nfs { .. } => true,
        Backend::Local { component_path, .. } => component_path.is_some(),
        Backend::Iscsi { component_luns, .. } => !component_luns.is_empty(),
        _ => false,
    }
}
