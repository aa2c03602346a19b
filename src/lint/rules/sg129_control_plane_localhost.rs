//! SG129 `control-plane-localhost`.

use crate::diagnostic::Code;
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// control-plane jobs scrape pod IPs where kubeadm binds to 127.0.0.1
    ///
    /// ## What it does
    /// Warns when `[kubernetes] control_plane = true`: stackgen then scrapes etcd (2381),
    /// kube-scheduler (10259) and kube-controller-manager (10257) on their static pods'
    /// IPs.
    ///
    /// ## Why is this bad?
    /// kubeadm binds all three to 127.0.0.1 by default (etcd
    /// --listen-metrics-urls=http://127.0.0.1:2381, --bind-address=127.0.0.1 for the other
    /// two), so the targets are down until they listen on the node address. Managed
    /// clusters (EKS, GKE, AKS) expose none of them.
    ///
    /// ## Example
    /// ```toml
    /// [kubernetes]
    /// control_plane = true
    /// ```
    ///
    /// On kubeadm clusters set etcd.local.extraArgs.listen-metrics-urls=http://0.0.0.0:2381
    /// and bind-address=0.0.0.0 for the scheduler and controller manager in the kubeadm
    /// ClusterConfiguration (and allow the ports from the Prometheus pods), then allow
    /// the warning; on managed clusters keep control_plane = false.
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if cx.stack.kubernetes.control_plane {
        cx.report(
            Code::ControlPlaneLocalhost,
            "/kubernetes/control_plane",
            "control_plane = true scrapes etcd, kube-scheduler and kube-controller-manager on their pod IPs; kubeadm binds their metrics to 127.0.0.1".into(),
            "on kubeadm clusters set etcd listen-metrics-urls=http://0.0.0.0:2381 and bind-address=0.0.0.0 for kube-scheduler and kube-controller-manager, or keep control_plane = false",
        );
    }
}
