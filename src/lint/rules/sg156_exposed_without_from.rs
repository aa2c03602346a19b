//! SG156 `exposed-without-from`.

use crate::diagnostic::Code;
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// a component is exposed to anyone who can reach the cluster
    ///
    /// ## What it does
    /// Warns for every `[expose.<component>]` table without `from`.
    ///
    /// ## Why is this bad?
    /// Without `from` the component's NetworkPolicy admits every address on its port,
    /// and a LoadBalancer has no source ranges: Prometheus, Thanos Query and Alertmanager
    /// have no authentication of their own (anyone can read every series, or silence
    /// every alert), and Grafana's login page is open to password guessing. `from`
    /// names the networks allowed in.
    ///
    /// ## Example
    /// ```toml
    /// [expose.grafana]
    /// type = "nodeport"
    /// from = ["10.20.0.0/16"]   # the office VPN
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let open: Vec<&'static str> =
        cx.stack.expose.iter().filter(|e| e.from.is_empty()).map(|e| e.component.key()).collect();
    for key in open {
        cx.report(
            Code::ExposedWithoutFrom,
            &format!("/expose/{key}"),
            format!("[expose.{key}] has no `from`: anyone who reaches the cluster can connect"),
            "set from = [\"<network>/<prefix>\", ...] to the clients' networks; \
             `# stackgen: allow SG156` if the component is meant to be public",
        );
    }
}
