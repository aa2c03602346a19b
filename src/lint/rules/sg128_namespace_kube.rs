//! SG128 `namespace-kube`.

use crate::diagnostic::Code;
use crate::lint::Checker;
use crate::model::cluster_owned_namespace;

crate::lint::rule_doc! {
    /// the stack would run in a kube-* namespace
    ///
    /// ## What it does
    /// Reports an error when `[stack] namespace` is `kube-system`, `kube-public`,
    /// `kube-node-lease` or any other `kube-*` namespace.
    ///
    /// ## Why is this bad?
    /// Those namespaces belong to the cluster. Labelling kube-system `enforce: restricted`
    /// would block kube-proxy's and the CNI's next pods; the stack's default-deny
    /// NetworkPolicies would select nothing of the cluster's but mix with its policies.
    /// stackgen never creates or labels them, and refuses to render into them.
    ///
    /// ## Example
    /// ```toml
    /// [stack]
    /// name = "prod"
    /// namespace = "kube-system"   # write "monitoring"
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let ns = cx.stack.namespace.as_str();
    if ns != "default" && cluster_owned_namespace(ns) {
        cx.report(
            Code::NamespaceKube,
            "/stack/namespace",
            format!("namespace = \"{ns}\" belongs to the cluster; stackgen never renders into kube-* namespaces"),
            "use a namespace of its own, e.g. namespace = \"monitoring\"",
        );
    }
}
