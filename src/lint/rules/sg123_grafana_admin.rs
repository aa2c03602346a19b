//! SG123 `grafana-admin`.

use crate::diagnostic::Code;
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// Grafana has no admin secret
    ///
    /// ## What it does
    /// Warns when the stack has a `[grafana]` table without `admin_secret`.
    ///
    /// ## Why is this bad?
    /// Without an admin Secret Grafana starts with admin/admin, a password everyone
    /// knows. stackgen never generates one: a random password would change the output on
    /// every render. Name an existing Secret with the keys admin-user and admin-password.
    ///
    /// ## Example
    /// ```toml
    /// [grafana]
    /// admin_secret = "grafana-admin"   # kubectl create secret generic grafana-admin --from-literal=admin-user=... --from-literal=admin-password=...
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    if cx.stack.grafana.as_ref().is_some_and(|g| g.admin_secret.is_none()) {
        cx.report(
            Code::GrafanaAdmin,
            "/grafana",
            "Grafana has no admin_secret and starts with admin/admin".into(),
            "set admin_secret to a Secret with admin-user and admin-password",
        );
    }
}
