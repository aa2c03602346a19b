//! SG110 `shards-without-query`.

use crate::diagnostic::Code;
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// several shards and no Thanos Query
    ///
    /// ## What it does
    /// Warns when `[sharding] shards` is above 1 and the stack has no `[thanos]` table.
    ///
    /// ## Why is this bad?
    /// Each shard holds only its share of the series. Without Thanos Query there is no
    /// single place to query or alert on the whole; Grafana gets one datasource per
    /// shard, and a dashboard shows one shard at a time.
    ///
    /// ## Example
    /// ```toml
    /// [sharding]
    /// shards = 4
    /// # add a [thanos] table (with [thanos.objstore]) for a global Query
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let s = cx.stack;
    if s.sharding.shards > 1 && s.thanos.is_none() {
        cx.report(
            Code::ShardsWithoutQuery,
            "/sharding/shards",
            format!("{} shards and no [thanos]: no single place sees all series", s.sharding.shards),
            "add [thanos] for a global Query; Grafana gets one datasource per shard meanwhile",
        );
    }
}
