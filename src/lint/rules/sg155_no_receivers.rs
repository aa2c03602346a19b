//! SG155 `no-receivers`.

use crate::diagnostic::Code;
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// Alertmanager runs with no receiver: alerts reach nobody
    ///
    /// ## What it does
    /// Warns when the stack has an `[alertmanager]` table without
    /// `[[alertmanager.receivers]]`.
    ///
    /// ## Why is this bad?
    /// Without receivers the rendered route ends at a receiver with no integration:
    /// Prometheus fires, Alertmanager groups and silences, and nobody is paged. The stack
    /// looks monitored and is not.
    ///
    /// ## Example
    /// ```toml
    /// [[alertmanager.receivers]]
    /// name = "oncall"
    /// type = "pagerduty"
    /// secret = "am-pagerduty"   # key routing_key: kubectl create secret generic am-pagerduty --from-literal=routing_key=...
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if cx.stack.alertmanager.as_ref().is_some_and(|a| a.receivers.is_empty()) {
        cx.report(
            Code::NoReceivers,
            "/alertmanager",
            "Alertmanager has no receivers: alerts reach nobody".into(),
            "add [[alertmanager.receivers]] (name, type, secret) and [alertmanager.route]; \
             or `# stackgen: allow SG155` while alerts are only looked at in its UI",
        );
    }
}
