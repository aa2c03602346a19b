//! `stackgen plan`: capacity per shard, derived from the load the stack declares.
//!
//! Every figure comes from a named [`Factor`] with its source, so `stackgen explain plan`
//! can list them and a reviewer can check each one. The arithmetic is deliberately
//! simple and monotone: more samples, longer retention or fewer shards never give a
//! smaller figure (property-tested).

use serde::Serialize;

use crate::model::{Bytes, Stack};

const KIB: f64 = 1024.0;
const MIB: f64 = KIB * KIB;
const GIB: f64 = MIB * KIB;
const HOUR_S: f64 = 3600.0;
const DAY_S: f64 = 24.0 * HOUR_S;

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

/// Thanos components, when the stack has Thanos.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThanosPlan {
    /// Raw blocks in the bucket for `retention_raw` (every replica uploads its own).
    pub bucket_raw_bytes: u64,
    /// The Compactor's disk: twice one stream's largest compaction group, with the
    /// compaction headroom.
    pub compactor_disk_bytes: u64,
    /// The Store Gateway's memory: chunk pool + index cache + overhead.
    pub store_memory_bytes: u64,
}

/// The plan of a whole stack.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub stack: String,
    pub shards: u16,
    pub replicas: u32,
    pub load_from: LoadSource,
    pub retention: String,
    pub bytes_per_sample: f64,
    /// One entry per shard; shards are equal because hashmod spreads targets evenly and
    /// stackgen knows no per-target load.
    pub per_shard: Vec<ShardPlan>,
    /// Sums over all pods (shards x replicas).
    pub total: Totals,
    pub thanos: Option<ThanosPlan>,
    /// The stack's own figures against the plan.
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    pub pods: u32,
    pub volume_bytes: u64,
    pub memory_bytes: u64,
}

/// One comparison of what the stack sets with what the plan needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    /// `volume`, `retention_size`, `memory_request`, `memory_limit`,
    /// `compactor_volume`, `store_memory_limit`.
    pub what: &'static str,
    /// The stack.toml key that sets it.
    pub key: &'static str,
    pub stack_bytes: Option<u64>,
    pub plan_bytes: u64,
    /// `ok`, `short` or `unset`.
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Short,
    /// The stack sets no value (no limit, no size): nothing to compare.
    Unset,
}

impl Load {
    /// The load the stack declares, if any. `ingestion_rate` is samples/s of the whole
    /// stack; `active_series` with the scrape interval gives the other figure.
    pub fn of(stack: &Stack) -> Result<Load, PlanError> {
        let p = &stack.prometheus;
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

fn ceil_u64(x: f64) -> u64 {
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

/// The plan of a stack.
pub fn plan(stack: &Stack) -> Result<Plan, PlanError> {
    let load = Load::of(stack)?;
    let p = &stack.prometheus;
    let shards = stack.sharding.shards.max(1);
    let bps = p.bytes_per_sample;
    let retention_s = p.retention.millis() as f64 / 1000.0;
    let rate = load.samples_per_second / f64::from(shards);
    let series = load.active_series / f64::from(shards);
    let per_shard: Vec<ShardPlan> =
        (0..shards).map(|i| shard_figures(i, rate, series, retention_s, bps, stack.thanos.is_some())).collect();
    let one = per_shard[0].clone();
    let pods = stack.pod_count();
    let total = Totals {
        pods,
        volume_bytes: one.volume_bytes.saturating_mul(u64::from(pods)),
        memory_bytes: one.memory_bytes.saturating_mul(u64::from(pods)),
    };
    let thanos = stack.thanos.as_ref().map(|t| {
        let raw_s = t.compactor.retention_raw.millis() as f64 / 1000.0;
        let stream_days = (THANOS_MAX_COMPACTION.value * DAY_S).min(raw_s.max(2.0 * HOUR_S));
        let group = rate * stream_days * bps;
        ThanosPlan {
            bucket_raw_bytes: ceil_u64(load.samples_per_second * f64::from(p.replicas) * raw_s * bps),
            compactor_disk_bytes: round_up_size(ceil_u64(2.0 * group / DISK_FILL.value)),
            store_memory_bytes: round_up_size(ceil_u64(
                (STORE_CHUNK_POOL.value + STORE_INDEX_CACHE.value) * (1.0 + STORE_OVERHEAD.value),
            )),
        }
    });
    let checks = checks(stack, &one, thanos.as_ref());
    Ok(Plan {
        stack: stack.name.as_str().to_string(),
        shards,
        replicas: p.replicas,
        load_from: load.from,
        retention: p.retention.as_str().to_string(),
        bytes_per_sample: bps,
        per_shard,
        total,
        thanos,
        checks,
    })
}

fn verdict(stack: Option<u64>, need: u64) -> Verdict {
    match stack {
        None => Verdict::Unset,
        Some(s) if s >= need => Verdict::Ok,
        Some(_) => Verdict::Short,
    }
}

fn check(what: &'static str, key: &'static str, stack: Option<u64>, need: u64) -> Check {
    Check { what, key, stack_bytes: stack, plan_bytes: need, verdict: verdict(stack, need) }
}

fn checks(stack: &Stack, one: &ShardPlan, thanos: Option<&ThanosPlan>) -> Vec<Check> {
    let p = &stack.prometheus;
    let mut out = Vec::new();
    if !matches!(stack.storage.backend, crate::model::Backend::Ephemeral) {
        out.push(check("volume", "storage.size", stack.storage.size.map(Bytes::get), one.volume_bytes));
    }
    // The TSDB must fit under the retention size, or Prometheus deletes blocks early.
    out.push(check("retention_size", "prometheus.retention_size", p.retention_size.map(Bytes::get), one.tsdb_bytes));
    out.push(check(
        "memory_request",
        "prometheus.resources.memory",
        Some(p.resources.memory.value() as u64),
        one.memory_bytes,
    ));
    out.push(check(
        "memory_limit",
        "prometheus.resources.memory_limit",
        Some(p.resources.memory_limit.value() as u64),
        one.memory_bytes,
    ));
    if let (Some(tp), Some(t)) = (thanos, stack.thanos.as_ref()) {
        out.push(check(
            "compactor_volume",
            "thanos.compactor.size",
            Some(t.compactor.size.get()),
            tp.compactor_disk_bytes,
        ));
    }
    out
}

/// Binary-unit text of a byte count: `1.5 GiB`, `870 MiB`, `12 KiB`, `800 B`.
pub fn human_bytes(b: u64) -> String {
    // TiB only from 10 TiB on, so two sizes near 1 TiB still read apart (`1024 GiB`).
    let units = [("PiB", 5u32, 1.0), ("TiB", 4, 10.0), ("GiB", 3, 1.0), ("MiB", 2, 1.0), ("KiB", 1, 1.0)];
    for (u, p, from) in units {
        let m = 1024f64.powi(p as i32);
        if b as f64 >= m * from {
            let v = b as f64 / m;
            return if v >= 100.0 { format!("{v:.0} {u}") } else { format!("{v:.1} {u}") };
        }
    }
    format!("{b} B")
}

/// Thousands-grouped integer: `1,234,567`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Plan {
    /// The JSON document `plan --format json` prints (stable field names).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The aligned table `plan` prints.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let from = match self.load_from {
            LoadSource::IngestionRate => "ingestion_rate",
            LoadSource::ActiveSeries => "active_series",
            LoadSource::Both => "ingestion_rate and active_series",
        };
        out.push_str(&format!(
            "plan for {}: {} shard{} x {} replica{}, retention {}, {} B/sample (load from {from})\n\n",
            self.stack,
            self.shards,
            if self.shards == 1 { "" } else { "s" },
            self.replicas,
            if self.replicas == 1 { "" } else { "s" },
            self.retention,
            self.bytes_per_sample,
        ));
        let one = &self.per_shard[0];
        let rows: Vec<(&str, String)> = vec![
            ("samples/s", grouped(one.samples_per_second)),
            ("active series", grouped(one.active_series)),
            ("blocks for the retention", human_bytes(one.blocks_bytes)),
            ("WAL", human_bytes(one.wal_bytes)),
            ("head chunks", human_bytes(one.head_chunks_bytes)),
            ("TSDB (retention size counts this)", human_bytes(one.tsdb_bytes)),
            ("volume (with compaction headroom)", human_bytes(one.volume_bytes)),
            ("retention_size for that volume", human_bytes(one.retention_size_bytes)),
            ("head memory (queries on top)", human_bytes(one.memory_bytes)),
        ];
        let label = if self.shards == 1 { "per pod" } else { "per pod (every shard alike)" };
        table(&mut out, label, &rows);
        out.push_str(&format!(
            "\nall {} pods: {} of volumes, {} of head memory\n",
            self.total.pods,
            human_bytes(self.total.volume_bytes),
            human_bytes(self.total.memory_bytes)
        ));
        if let Some(t) = &self.thanos {
            out.push('\n');
            let rows = vec![
                ("bucket, raw resolution", human_bytes(t.bucket_raw_bytes)),
                ("Compactor disk", human_bytes(t.compactor_disk_bytes)),
                ("Store Gateway memory", human_bytes(t.store_memory_bytes)),
            ];
            table(&mut out, "Thanos", &rows);
        }
        if !self.checks.is_empty() {
            out.push_str("\nthe stack against the plan\n");
            let w = self.checks.iter().map(|c| c.key.len()).max().unwrap_or(0);
            for c in &self.checks {
                let have = c.stack_bytes.map_or_else(|| "unset".to_string(), human_bytes);
                let line = match c.verdict {
                    Verdict::Ok => format!("ok     {have} >= {}", human_bytes(c.plan_bytes)),
                    Verdict::Short => format!(
                        "SHORT  {have} < {} (short by {})",
                        human_bytes(c.plan_bytes),
                        human_bytes(c.plan_bytes - c.stack_bytes.unwrap_or(0))
                    ),
                    Verdict::Unset => format!("unset  plan: {}", human_bytes(c.plan_bytes)),
                };
                out.push_str(&format!("  {:<w$}  {line}\n", c.key));
            }
        }
        out
    }
}

fn table(out: &mut String, title: &str, rows: &[(&str, String)]) {
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let v = rows.iter().map(|(_, x)| x.len()).max().unwrap_or(0);
    out.push_str(title);
    out.push('\n');
    for (k, x) in rows {
        out.push_str(&format!("  {k:<w$}  {x:>v$}\n"));
    }
}

/// `stackgen explain plan`: every factor with its source.
pub fn explain() -> String {
    let mut out = String::from(
        "stackgen plan derives each shard's capacity from [prometheus] ingestion_rate (samples/s of the whole stack)\n\
         or active_series (with the scrape interval), divided evenly over the shards. The factors:\n\n",
    );
    for f in FACTORS {
        let value = match f.unit {
            "B" if f.value >= KIB => human_bytes(f.value as u64),
            _ => format!("{} {}", f.value, f.unit),
        };
        out.push_str(&format!("{} = {value}\n  {}\n  source: {}\n\n", f.name, f.what, f.source));
    }
    out.push_str(
        "Per pod: blocks = rate x retention x bytes_per_sample; WAL = max(wal_min_segments x wal_segment_bytes,\n\
         rate x wal_hours x wal_bytes_per_sample); head chunks = rate x wal_hours x bytes_per_sample; the volume =\n\
         max(TSDB / disk_fill_ratio, TSDB + the largest block compaction writes), rounded up to a GiB; head memory =\n\
         series x head_bytes_per_series.\n",
    );
    out
}
