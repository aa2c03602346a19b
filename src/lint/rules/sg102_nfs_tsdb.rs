//! SG102 `nfs-tsdb`.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::Backend;

crate::lint::rule_doc! {
    /// NFS holds the Prometheus TSDB
    ///
    /// ## What it does
    /// Warns when the Prometheus data is on NFS: `backend = "nfs"`, with static PVs or
    /// with the NFS subdir provisioner.
    ///
    /// ## Why is this bad?
    /// Prometheus' storage docs: non-POSIX filesystems such as NFS are not supported and
    /// "unrecoverable corruptions may happen" (prometheus#5342). One large query can
    /// saturate the NIC that every shard shares, and NFS ignores fsGroup, so a pod whose
    /// files were written under another uid (472 for Grafana, 1000 for Prometheus) gets
    /// "permission denied".
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// backend = "nfs"
    ///
    /// [storage.nfs]
    /// server = "10.0.0.5"
    /// path = "/exports/prometheus"
    /// ```
    ///
    /// Use instead local SSDs, iSCSI, Ceph RBD or a cloud block class. If NFS must stay,
    /// export it with no_root_squash, chown the directories to run_as_user:fs_group by
    /// hand, and allow the warning: `backend = "nfs"  # stackgen: allow SG102`.
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if matches!(cx.stack.storage.backend, Backend::Nfs { .. } | Backend::NfsProvisioner { .. }) {
        cx.report(
            Code::NfsTsdb,
            "/storage/backend",
            "NFS is not a supported filesystem for the Prometheus TSDB".into(),
            "prefer local SSDs, iSCSI, Ceph RBD or a block StorageClass; see `stackgen explain SG102`",
        );
    }
}
