//! SG138 `memory-estimate`.

use crate::diagnostic::Code;
use crate::lifecycle::plan::{self, human_bytes};
use crate::lint::Checker;

crate::lint::rule_doc! {
    /// the planned head memory is above the Prometheus memory request or limit
    ///
    /// ## What it does
    /// With `[prometheus] ingestion_rate` or `active_series` set, runs `stackgen plan`
    /// and warns when `[prometheus] resources` requests or limits less memory than the
    /// head block of one shard needs: about 8 KiB per active series, the rule Prometheus
    /// maintainers give (`stackgen explain plan`). Queries and rule evaluation come on top.
    ///
    /// ## Why is this bad?
    /// Under its limit, Prometheus is OOM-killed, replays its WAL on restart (which needs
    /// the same memory again) and crash-loops; under its request, the scheduler places it
    /// on a node that cannot hold it.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// active_series = 3000000     # x 8 KiB = 23 GiB of head
    /// resources = { cpu = "2", memory = "8Gi", memory_limit = "12Gi" }   # add shards or memory
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let s = cx.stack;
    let Ok(p) = plan::plan(s) else { return };
    let one = &p.per_shard[0];
    let r = &s.prometheus.resources;
    for (what, q, ptr) in [
        ("request", &r.memory, "/prometheus/resources/memory"),
        ("limit", &r.memory_limit, "/prometheus/resources/memory_limit"),
    ] {
        let have = q.value() as u64;
        if have < one.memory_bytes {
            cx.report(
                Code::MemoryEstimate,
                ptr,
                format!(
                    "{} active series per shard need about {} of head memory; the memory {what} is {}: short by {}",
                    plan::grouped(one.active_series),
                    human_bytes(one.memory_bytes),
                    q.as_str(),
                    human_bytes(one.memory_bytes - have)
                ),
                "raise [prometheus] resources memory and memory_limit, or add shards",
            );
        }
    }
}
