//! SG101 `no-persistent-storage`.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::Backend;

crate::lint::rule_doc! {
    /// Prometheus data lives in an emptyDir and is lost when the pod goes
    ///
    /// ## What it does
    /// Warns when `[storage] backend = "ephemeral"`.
    ///
    /// ## Why is this bad?
    /// With backend = "ephemeral" the TSDB is an emptyDir: every restart, reschedule or
    /// node drain throws the history away. A chart's default `storage: {}` does exactly
    /// this without saying so. Use it only for throw-away development stacks.
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// backend = "ephemeral"
    /// ```
    ///
    /// Use instead a persistent backend with its table: backend = "local", "ceph",
    /// "class", "iscsi" or "nfs" with a [storage.*] table.
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if matches!(cx.stack.storage.backend, Backend::Ephemeral) {
        cx.report(
            Code::NoPersistentStorage,
            "/storage/backend",
            "backend = \"ephemeral\": Prometheus data is an emptyDir and is lost on every restart".into(),
            "use a persistent backend unless this is a throw-away stack",
        );
    }
}
