//! `stackgen plan`: capacity per shard, derived from the load the stack declares.
//!
//! Every figure comes from a named [`Factor`] with its source, so `stackgen explain plan`
//! can list them and a reviewer can check each one. The arithmetic is deliberately
//! simple and monotone: more samples, longer retention or fewer shards never give a
//! smaller figure (property-tested).

use serde::Serialize;

pub use crate::model::capacity::{
    ceil_u64, round_up_size, shard_figures, Factor, Load, LoadSource, PlanError, ShardPlan, AUTO_MEMORY_LIMIT,
    AUTO_SAMPLES_PER_CORE, BYTES_PER_SAMPLE, COMPACT_SPAN, DISK_FILL, FACTORS, HEAD_BYTES_PER_SERIES, STORE_CHUNK_POOL,
    STORE_INDEX_CACHE, STORE_OVERHEAD, THANOS_MAX_COMPACTION, WAL_BYTES_PER_SAMPLE, WAL_HOURS, WAL_MIN_SEGMENTS,
    WAL_SEGMENT,
};
use crate::model::capacity::{DAY_S, HOUR_S, KIB};
use crate::model::{Bytes, Stack};

/// Thanos components, when the stack has Thanos.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThanosPlan {
    /// Raw blocks in the bucket for `retention_raw` (every replica uploads its own); with
    /// `retention_raw = "0d"` (kept forever), what one year adds.
    pub bucket_raw_bytes: u64,
    /// `retention_raw = "0d"`: raw blocks are never deleted, the bucket grows without bound.
    pub bucket_raw_forever: bool,
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
    /// `[sharding] retired`: the shards kept beside the plan's, scraping nothing, with
    /// the volumes they keep and until when (in the table only).
    #[serde(skip)]
    pub retired: Option<String>,
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
    /// The stack let the plan choose (`size = "auto"`, `resources = "auto"`): shown in the
    /// table, not a JSON field.
    #[serde(skip)]
    pub auto: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Short,
    /// The stack sets no value (no limit, no size): nothing to compare.
    Unset,
}

/// The plan of a stack.
pub fn plan(stack: &Stack) -> Result<Plan, PlanError> {
    let load = Load::of(&stack.prometheus)?;
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
        let forever = t.compactor.retention_raw.millis() == 0;
        let raw_s = if forever { 365.0 * DAY_S } else { t.compactor.retention_raw.millis() as f64 / 1000.0 };
        let stream_days = (THANOS_MAX_COMPACTION.value * DAY_S).min(raw_s.max(2.0 * HOUR_S));
        let group = rate * stream_days * bps;
        ThanosPlan {
            bucket_raw_bytes: ceil_u64(load.samples_per_second * f64::from(p.replicas) * raw_s * bps),
            bucket_raw_forever: forever,
            compactor_disk_bytes: round_up_size(ceil_u64(2.0 * group / DISK_FILL.value)),
            store_memory_bytes: crate::model::capacity::store_memory_bytes(),
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
        retired: stack.sharding.retired.map(|r| {
            let n = u32::from(r.shards.saturating_sub(shards)) * p.replicas;
            let size = stack.storage.size.map_or_else(|| "emptyDir".to_string(), |b| human_bytes(b.get()));
            format!(
                "retired shards {}..{}: {n} more pod(s) keep their {size} volumes, scraping nothing, until {} \
                 ([sharding] retired)",
                shards,
                r.shards - 1,
                r.until_date(p.retention.millis())
            )
        }),
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
    Check { what, key, stack_bytes: stack, plan_bytes: need, verdict: verdict(stack, need), auto: false }
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
    for c in &mut out {
        c.auto = match c.what {
            "volume" => stack.storage.size_auto,
            "memory_request" | "memory_limit" => p.resources_auto,
            _ => false,
        };
    }
    if let (Some(tp), Some(t)) = (thanos, stack.thanos.as_ref()) {
        out.push(check(
            "compactor_volume",
            "thanos.compactor.size",
            Some(t.compactor.size.get()),
            tp.compactor_disk_bytes,
        ));
        // The flags' chunk pool and index cache must fit under the limit (SG147).
        out.push(check(
            "store_memory_limit",
            "thanos.store.resources.memory_limit",
            Some(t.store_resources.memory_limit.value() as u64),
            tp.store_memory_bytes,
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
        if let Some(r) = &self.retired {
            out.push_str(&format!("{r}\n"));
        }
        if let Some(t) = &self.thanos {
            out.push('\n');
            let rows = vec![
                if t.bucket_raw_forever {
                    ("bucket, raw resolution", format!("{} a year, kept forever", human_bytes(t.bucket_raw_bytes)))
                } else {
                    ("bucket, raw resolution", human_bytes(t.bucket_raw_bytes))
                },
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
                    Verdict::Ok if c.auto => format!("ok     {have} >= {} (auto)", human_bytes(c.plan_bytes)),
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
