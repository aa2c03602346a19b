//! SG147 `memory-limit-below-flags`.

use crate::diagnostic::Code;
use crate::lifecycle::plan::human_bytes;
use crate::lint::Checker;
use crate::model::capacity::{
    store_memory_bytes, STORE_CHUNK_POOL, STORE_CHUNK_POOL_FLAG, STORE_INDEX_CACHE, STORE_INDEX_CACHE_FLAG,
    STORE_OVERHEAD,
};

crate::lint::rule_doc! {
    /// a component's memory limit is below what its own flags let it use
    ///
    /// ## What it does
    /// Adds up the memory the flags stackgen renders let a component take, and warns
    /// when its `resources.memory_limit` is lower. Today that is the Store Gateway: its
    /// chunk pool (`--chunk-pool-size=2GB`, which Thanos reads in binary units: 2 GiB),
    /// its in-memory index cache (`--index-cache-size=250MB`: 250 MiB) and a quarter on
    /// top for the Go runtime, index headers and the series of queries in flight,
    /// rounded up to a whole GiB: 3 GiB, the Store Gateway memory `stackgen plan` shows.
    /// The two sizes are the Thanos defaults (Thanos docs, `docs/components/store.md`:
    /// the `thanos store` flags and "Index cache"), which stackgen passes explicitly.
    ///
    /// ## Why is this bad?
    /// The chunk pool and the index cache grow to their sizes under query load, not at
    /// start: a Store Gateway whose limit cannot hold them runs fine until someone looks
    /// at a long range in Grafana, and is then OOM-killed mid-query, again at every
    /// retry. Long-range queries fail exactly when they are needed.
    ///
    /// ## Example
    /// ```toml
    /// [thanos.store]
    /// resources = { memory = "1Gi", memory_limit = "2Gi" }   # 2 GiB pool + 250 MiB cache + 25%: 3Gi at least
    /// ```
}

pub(crate) fn check(cx: &mut Checker<'_>) {
    let Some(t) = &cx.stack.thanos else { return };
    let limit = &t.store_resources.memory_limit;
    let need = store_memory_bytes();
    if limit.value() >= need as f64 {
        return;
    }
    let gib = need.div_ceil(1 << 30);
    cx.report(
        Code::MemoryLimitBelowFlags,
        "/thanos/store/resources/memory_limit",
        format!(
            "the Store Gateway's memory limit {} is below the {} its flags let it use: --chunk-pool-size={} ({}) \
             + --index-cache-size={} ({}) + {:.0}% for the runtime and queries in flight",
            limit.as_str(),
            human_bytes(need),
            STORE_CHUNK_POOL_FLAG,
            human_bytes(STORE_CHUNK_POOL.value as u64),
            STORE_INDEX_CACHE_FLAG,
            human_bytes(STORE_INDEX_CACHE.value as u64),
            STORE_OVERHEAD.value * 100.0,
        ),
        format!(
            "raise [thanos.store] resources.memory_limit to at least {gib}Gi (the default is 4Gi): under query load \
             the pod is OOM-killed"
        ),
    );
}
