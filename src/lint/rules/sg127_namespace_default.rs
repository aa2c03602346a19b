//! SG127 `namespace-default`.

use crate::diagnostic::Code;
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// the stack runs in the `default` namespace
    ///
    /// ## What it does
    /// Warns when `[stack] namespace = "default"`.
    ///
    /// ## Why is this bad?
    /// stackgen never creates or labels `default`: applying its Namespace with
    /// `pod-security.kubernetes.io/enforce: restricted` would enforce that profile on
    /// every other workload there. So with namespace = "default" no Namespace object is
    /// rendered and the Pod Security labels are yours to set. A namespace of its own (the
    /// default `monitoring`) keeps the stack's policies, quotas and RBAC apart.
    ///
    /// ## Example
    /// ```toml
    /// [stack]
    /// name = "prod"
    /// namespace = "default"   # write "monitoring"
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if cx.stack.namespace.as_str() == "default" {
        cx.report(
            Code::NamespaceDefault,
            "/stack/namespace",
            "namespace = \"default\": stackgen renders no Namespace and sets no Pod Security labels there".into(),
            "give the stack a namespace of its own, e.g. namespace = \"monitoring\"",
        );
    }
}
