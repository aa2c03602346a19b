//! SG105 `reclaim-delete`.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::{Backend, ReclaimPolicy};

const WEEK_MS: u64 = 7 * 86_400_000;

crate::lint::rule_doc! {
    /// reclaim policy Delete on long-lived data
    ///
    /// ## What it does
    /// Warns when `[storage] reclaim_policy = "Delete"` on a persistent backend and the
    /// Prometheus retention is over a week.
    ///
    /// ## Why is this bad?
    /// With persistentVolumeReclaimPolicy Delete, deleting the claim (a `helm uninstall`,
    /// a renamed StatefulSet) deletes the disk and its history. With Retain the PV is
    /// kept as Released, and is re-bound by deleting and re-creating the PV object.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retention = "90d"
    ///
    /// [storage]
    /// reclaim_policy = "Delete"   # keep the default, "Retain"
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let s = cx.stack;
    if s.storage.reclaim_policy == ReclaimPolicy::Delete
        && s.prometheus.retention.millis() > WEEK_MS
        && !matches!(s.storage.backend, Backend::Ephemeral)
    {
        cx.report(
            Code::ReclaimDelete,
            "/storage/reclaim_policy",
            format!(
                "reclaim_policy = \"Delete\" with {} of retention: deleting a claim deletes the history",
                s.prometheus.retention
            ),
            "keep reclaim_policy = \"Retain\" for long-lived data",
        );
    }
}
