//! Capacity arithmetic: the figures of one Prometheus pod from the load the stack
//! declares, every factor named with its source. `stackgen plan` prints them; the model
//! uses them too, to choose `[storage] size = "auto"` and `[prometheus] resources =
//! "auto"`, so render, helm-values, plan and lint agree by construction.

use serde::Serialize;

use super::Prometheus;
pub const KIB: f64 = 1024.0;
pub const MIB: f64 = KIB * KIB;
pub const GIB: f64 = MIB * KIB;
pub const HOUR_S: f64 = 3600.0;
pub const DAY_S: f64 = 24.0 * HOUR_S;

/// One number the plan uses, with where it comes from.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Factor {
    /// Stable name, used in JSON and by `explain plan`.
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    /// What it means.
    pub what: &'static str,
    /// Where the figure comes from.
    pub source: &'static str,
}

/// Bytes per sample in a compacted block (the `[prometheus] bytes_per_sample` default).
pub const BYTES_PER_SAMPLE: Factor = Factor {
    name: "bytes_per_sample",
    value: crate::model::DEFAULT_BYTES_PER_SAMPLE,
    unit: "B",
    what: "bytes one sample takes in a persisted block (chunks and index), the upper end of the documented range",
    source: "Prometheus docs/storage.md, \"Operational aspects\": \"On average, Prometheus uses only around 1-2 bytes per sample\"; \
             needed_disk_space = retention_time_seconds * ingested_samples_per_second * bytes_per_sample. \
             Measure yours: rate(prometheus_tsdb_compaction_chunk_size_bytes_sum[1h]) / rate(prometheus_tsdb_compaction_chunk_samples_sum[1h])",
};
pub const WAL_SEGMENT: Factor = Factor {
    name: "wal_segment_bytes",
    value: 128.0 * MIB,
    unit: "B",
    what: "size of one write-ahead-log segment",
    source: "Prometheus docs/storage.md, \"On-disk layout\": WAL files are stored in 128MB segments",
};
pub const WAL_MIN_SEGMENTS: Factor = Factor {
    name: "wal_min_segments",
    value: 3.0,
    unit: "segments",
    what: "segments the WAL always keeps",
    source: "Prometheus docs/storage.md: \"Prometheus will retain a minimum of three write-ahead log files\"",
};
pub const WAL_HOURS: Factor = Factor {
    name: "wal_hours",
    value: 3.0,
    unit: "h",
    what: "hours of raw samples the WAL and the in-memory head hold before the head is cut into a 2h block \
           (the head spans up to 1.5 block ranges)",
    source: "Prometheus docs/storage.md: high-traffic servers keep WAL files for \"at least two hours of raw data\"; \
             tsdb/head.go compacts the head when it spans 1.5x the 2h block range",
};
pub const WAL_BYTES_PER_SAMPLE: Factor = Factor {
    name: "wal_bytes_per_sample",
    value: 7.0,
    unit: "B",
    what: "bytes one sample takes in the WAL: a sample record is a series-reference varint (~4 B), a timestamp delta \
           (~1 B) and an 8 B value, ~13 B, halved by WAL compression (on by default)",
    source: "Prometheus tsdb/docs/format/wal.md (sample records); docs/storage.md, --storage.tsdb.wal-compression \
             (\"you can expect the WAL size to be halved\")",
};
pub const HEAD_BYTES_PER_SERIES: Factor = Factor {
    name: "head_bytes_per_series",
    value: 8.0 * KIB,
    unit: "B",
    what: "memory per active series in the head block, excluding queries",
    source: "the empirical rule Prometheus maintainers give: \"8kB per active series\" (prometheus/prometheus#4553); \
             queries and rule evaluation come on top",
};
pub const DISK_FILL: Factor = Factor {
    name: "disk_fill_ratio",
    value: 0.85,
    unit: "ratio",
    what: "share of the volume the TSDB may fill; the rest is headroom for compaction, which writes a block before \
           it deletes its sources",
    source: "Prometheus docs/storage.md: set the retention size to at most 80-85% of the disk",
};
pub const COMPACT_SPAN: Factor = Factor {
    name: "local_compaction_span",
    value: 0.1,
    unit: "ratio of retention",
    what: "the largest block local compaction writes spans 10% of the retention or 31 days, whichever is smaller \
           (with Thanos the sidecar needs min = max block duration = 2h, so blocks stay 2h)",
    source: "Prometheus docs/storage.md, \"Compaction\"",
};
pub const THANOS_MAX_COMPACTION: Factor = Factor {
    name: "thanos_max_compaction_days",
    value: 14.0,
    unit: "d",
    what: "the largest compaction level of the Thanos Compactor (2h, 8h, 2d, 14d); it downloads every block of a \
           group and writes the result beside them, so it needs about twice one stream's 14 days (the docs' rule of \
           thumb, about 100 GB whatever the load, is only a starting point)",
    source: "Thanos docs/components/compact.md (compaction levels; \"The compactor needs local disk space to store \
             intermediate data for its processing\")",
};
pub const STORE_CHUNK_POOL: Factor = Factor {
    name: "store_chunk_pool_bytes",
    value: 2.0 * GIB,
    unit: "B",
    what: "the Store Gateway's chunk pool (--chunk-pool-size default)",
    source: "thanos store --help: --chunk-pool-size=2GB",
};
pub const STORE_INDEX_CACHE: Factor = Factor {
    name: "store_index_cache_bytes",
    value: 250.0 * MIB,
    unit: "B",
    what: "the Store Gateway's in-memory index cache (--index-cache-size default)",
    source: "thanos store --help: --index-cache-size=250MB",
};
/// The Store Gateway's `--chunk-pool-size` and `--index-cache-size` as stackgen renders
/// them: the Thanos defaults written out (kingpin reads them in binary units, so 2GB is
/// [`STORE_CHUNK_POOL`]'s 2 GiB). SG147 and `plan` hold the memory limit against them.
pub const STORE_CHUNK_POOL_FLAG: &str = "2GB";
pub const STORE_INDEX_CACHE_FLAG: &str = "250MB";

pub const STORE_OVERHEAD: Factor = Factor {
    name: "store_overhead_ratio",
    value: 0.25,
    unit: "ratio",
    what:
        "Go runtime and index-header headroom on top of the two caches (stackgen's assumption, not a measured figure)",
    source:
        "stackgen: the Go GC lets the heap reach twice the live set (GOGC=100); a quarter on top of fixed caches is \
             a conservative floor",
};

pub const AUTO_MEMORY_LIMIT: Factor = Factor {
    name: "auto_memory_limit_ratio",
    value: 1.5,
    unit: "ratio",
    what: "resources = \"auto\": the memory limit over the request (the head memory, rounded up to a GiB, at least \
           1 GiB): queries, rule evaluation and compaction allocate on top of the head",
    source: "stackgen's assumption; the head figure is prometheus/prometheus#4553's, which leaves queries on top",
};
pub const AUTO_SAMPLES_PER_CORE: Factor = Factor {
    name: "auto_samples_per_core",
    value: 100_000.0,
    unit: "samples/s",
    what: "resources = \"auto\": ingested samples per second one CPU core is requested for (at least 500m, in steps \
           of 250m); no CPU limit, since throttling stalls WAL replay, compaction and queries",
    source: "stackgen's assumption, conservative: measure yours with rate(process_cpu_seconds_total[1h]) against \
             rate(prometheus_tsdb_head_samples_appended_total[1h])",
};

/// Every factor, in the order `explain plan` lists them.
pub const FACTORS: &[Factor] = &[
    BYTES_PER_SAMPLE,
    WAL_SEGMENT,
    WAL_MIN_SEGMENTS,
    WAL_HOURS,
    WAL_BYTES_PER_SAMPLE,
    HEAD_BYTES_PER_SERIES,
    DISK_FILL,
    COMPACT_SPAN,
    THANOS_MAX_COMPACTION,
    STORE_CHUNK_POOL,
    STORE_INDEX_CACHE,
    STORE_OVERHEAD,
    AUTO_MEMORY_LIMIT,
    AUTO_SAMPLES_PER_CORE,
];

/// The load a plan starts from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Samples per second of the whole stack (all shards, one replica).
    pub samples_per_second: f64,
    /// Active series of the whole stack.
    pub active_series: f64,
    /// Where the two figures came from.
    pub from: LoadSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadSource {
    /// `ingestion_rate`; series = rate x scrape interval.
    IngestionRate,
    /// `active_series`; rate = series / scrape interval.
    ActiveSeries,
    /// Both given.
    Both,
}

/// What the plan needs and the stack does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// Neither `ingestion_rate` nor `active_series` is set.
    NoLoad,
}

/// Capacity of one Prometheus pod (one shard, one replica: every replica holds the same).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShardPlan {
    pub shard: u16,
    pub samples_per_second: u64,
    pub active_series: u64,
    /// Persisted blocks for the retention.
    pub blocks_bytes: u64,
    /// The write-ahead log.
    pub wal_bytes: u64,
    /// Memory-mapped head chunks (`chunks_head/`), the head's compressed samples.
    pub head_chunks_bytes: u64,
    /// What `--storage.tsdb.retention.size` counts: blocks + WAL + head chunks.
    pub tsdb_bytes: u64,
    /// The volume that holds the TSDB with compaction headroom.
    pub volume_bytes: u64,
    /// The retention size that fits that volume.
    pub retention_size_bytes: u64,
    /// Head memory (the memory request); queries come on top.
    pub memory_bytes: u64,
}

impl Load {
    /// The load the stack declares, if any. `ingestion_rate` is samples/s of the whole
    /// stack; `active_series` with the scrape interval gives the other figure.
    pub fn of(p: &Prometheus) -> Result<Load, PlanError> {
        let interval_s = (p.scrape_interval.millis() as f64 / 1000.0).max(0.001);
        match (p.ingestion_rate, p.active_series) {
            (Some(r), Some(s)) => {
                Ok(Load { samples_per_second: r as f64, active_series: s as f64, from: LoadSource::Both })
            }
            (Some(r), None) => Ok(Load {
                samples_per_second: r as f64,
                active_series: r as f64 * interval_s,
                from: LoadSource::IngestionRate,
            }),
            (None, Some(s)) => Ok(Load {
                samples_per_second: s as f64 / interval_s,
                active_series: s as f64,
                from: LoadSource::ActiveSeries,
            }),
            (None, None) => Err(PlanError::NoLoad),
        }
    }
}

/// The memory a Store Gateway with the rendered flags may use: its chunk pool and index
/// cache plus [`STORE_OVERHEAD`], rounded up as sizes are (`plan`, SG147).
pub fn store_memory_bytes() -> u64 {
    round_up_size(ceil_u64((STORE_CHUNK_POOL.value + STORE_INDEX_CACHE.value) * (1.0 + STORE_OVERHEAD.value)))
}

pub fn ceil_u64(x: f64) -> u64 {
    if x <= 0.0 {
        0
    } else if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        x.ceil() as u64
    }
}

/// Round up to a whole GiB (or MiB under 1 GiB), as a volume request would be written.
pub fn round_up_size(b: u64) -> u64 {
    let (gib, mib) = (1u64 << 30, 1u64 << 20);
    let unit = if b >= gib { gib } else { mib };
    b.div_ceil(unit).saturating_mul(unit)
}

/// One pod's figures for a per-shard load.
pub fn shard_figures(shard: u16, rate: f64, series: f64, retention_s: f64, bps: f64, thanos: bool) -> ShardPlan {
    let blocks = rate * retention_s * bps;
    let wal_raw = rate * WAL_HOURS.value * HOUR_S * WAL_BYTES_PER_SAMPLE.value;
    let wal = wal_raw.max(WAL_MIN_SEGMENTS.value * WAL_SEGMENT.value);
    let head_chunks = rate * WAL_HOURS.value * HOUR_S * bps;
    let tsdb = blocks + wal + head_chunks;
    // Compaction writes its output before deleting its inputs: the largest block local
    // compaction writes must fit beside the data (2h blocks with Thanos' sidecar).
    let span_s = if thanos { 2.0 * HOUR_S } else { (retention_s * COMPACT_SPAN.value).min(31.0 * DAY_S) };
    let largest_block = rate * span_s * bps;
    let volume = (tsdb / DISK_FILL.value).max(tsdb + largest_block);
    let volume = round_up_size(ceil_u64(volume));
    let retention_size = (volume as f64 * DISK_FILL.value).floor().max(0.0) as u64;
    ShardPlan {
        shard,
        samples_per_second: ceil_u64(rate),
        active_series: ceil_u64(series),
        blocks_bytes: ceil_u64(blocks),
        wal_bytes: ceil_u64(wal),
        head_chunks_bytes: ceil_u64(head_chunks),
        tsdb_bytes: ceil_u64(tsdb),
        volume_bytes: volume,
        retention_size_bytes: retention_size,
        memory_bytes: round_up_size(ceil_u64(series * HEAD_BYTES_PER_SERIES.value)),
    }
}

/// The figures of one pod (every shard alike) of a stack with `shards` shards.
pub fn pod_figures(p: &Prometheus, shards: u16, thanos: bool) -> Result<ShardPlan, PlanError> {
    let load = Load::of(p)?;
    let shards = f64::from(shards.max(1));
    let retention_s = p.retention.millis() as f64 / 1000.0;
    Ok(shard_figures(
        0,
        load.samples_per_second / shards,
        load.active_series / shards,
        retention_s,
        p.bytes_per_sample,
        thanos,
    ))
}

/// A clean size in GiB at or above `b`: whole GiB (at least 1), tens above 100 GiB,
/// hundreds above 1000 GiB.
pub fn clean_gib(b: u64) -> u64 {
    let gib = b.div_ceil(1 << 30).max(1);
    let step = if gib > 1000 {
        100
    } else if gib > 100 {
        10
    } else {
        1
    };
    gib.div_ceil(step) * step
}

/// `[storage] size = "auto"`: the pod's volume (the TSDB with compaction headroom),
/// rounded up to a clean figure, in GiB.
pub fn auto_volume_gib(one: &ShardPlan) -> u64 {
    clean_gib(one.volume_bytes)
}

/// `[prometheus] resources = "auto"`, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoResources {
    pub cpu: String,
    pub memory: String,
    pub memory_limit: String,
}

/// The memory request is the head memory in whole GiB (at least 1), the limit that times
/// [`AUTO_MEMORY_LIMIT`] rounded up; the CPU request one core per
/// [`AUTO_SAMPLES_PER_CORE`] samples/s, at least 500m, in steps of 250m.
pub fn auto_resources(one: &ShardPlan) -> AutoResources {
    let request = one.memory_bytes.div_ceil(1 << 30).max(1);
    let limit = ceil_u64(request as f64 * AUTO_MEMORY_LIMIT.value);
    let milli = ceil_u64(one.samples_per_second as f64 / AUTO_SAMPLES_PER_CORE.value * 1000.0 / 250.0) * 250;
    let milli = milli.max(500);
    let cpu = if milli % 1000 == 0 { format!("{}", milli / 1000) } else { format!("{milli}m") };
    AutoResources { cpu, memory: format!("{request}Gi"), memory_limit: format!("{limit}Gi") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_sizes_round_up_to_whole_tens_or_hundreds_of_gib() {
        let g = 1u64 << 30;
        assert_eq!(clean_gib(1), 1);
        assert_eq!(clean_gib(g), 1);
        assert_eq!(clean_gib(g + 1), 2);
        assert_eq!(clean_gib(100 * g), 100);
        assert_eq!(clean_gib(101 * g), 110);
        assert_eq!(clean_gib(1001 * g), 1100);
    }

    #[test]
    fn auto_resources_follow_the_head_and_the_rate() {
        let one = shard_figures(0, 250_000.0, 500_000.0, 15.0 * DAY_S, 2.0, false);
        let r = auto_resources(&one);
        // 500k series x 8 KiB = 3.8 GiB of head: 4Gi requested, 6Gi limit; 2.5 cores.
        assert_eq!(r, AutoResources { cpu: "2500m".into(), memory: "4Gi".into(), memory_limit: "6Gi".into() });
        let small = shard_figures(0, 100.0, 1000.0, DAY_S, 2.0, false);
        assert_eq!(
            auto_resources(&small),
            AutoResources { cpu: "500m".into(), memory: "1Gi".into(), memory_limit: "2Gi".into() }
        );
    }

    #[test]
    fn store_flags_are_the_factors_in_binary_units() {
        // kingpin's Bytes flags: KB, MB, GB are powers of 1024.
        let bytes = |f: &str| -> f64 {
            let (n, unit) = f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap());
            n.parse::<f64>().unwrap()
                * match unit {
                    "MB" => MIB,
                    "GB" => GIB,
                    u => panic!("{u}"),
                }
        };
        assert_eq!(bytes(STORE_CHUNK_POOL_FLAG), STORE_CHUNK_POOL.value);
        assert_eq!(bytes(STORE_INDEX_CACHE_FLAG), STORE_INDEX_CACHE.value);
        assert_eq!(store_memory_bytes(), 3 << 30);
    }
}
