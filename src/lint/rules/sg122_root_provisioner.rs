//! SG122 `root-provisioner`.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::Backend;

crate::lint::rule_doc! {
    /// the NFS provisioner runs as root
    ///
    /// ## What it does
    /// Warns when `[storage.nfs] provisioner = true`: stackgen then runs the NFS subdir
    /// provisioner in the stack's namespace.
    ///
    /// ## Why is this bad?
    /// The NFS subdir provisioner mounts the export and creates a directory per claim as
    /// root, so its namespace can only enforce the Pod Security "baseline" profile
    /// (restricted is still warned and audited), and the export usually needs
    /// no_root_squash. Prefer a CSI driver or static PVs.
    ///
    /// ## Example
    /// ```toml
    /// [storage.nfs]
    /// server = "10.0.0.5"
    /// path = "/exports/prometheus"
    /// provisioner = true   # prefer false: static PVs, one directory per pod
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if matches!(cx.stack.storage.backend, Backend::NfsProvisioner { .. }) {
        cx.report(
            Code::RootProvisioner,
            "/storage/nfs/provisioner",
            "the NFS subdir provisioner runs as root; the namespace enforces Pod Security \"baseline\", not \"restricted\"".into(),
            "prefer static NFS PVs (provisioner = false) or a CSI driver",
        );
    }
}
