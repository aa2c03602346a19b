//! Which shard scrapes a target. stackgen shards as the Prometheus Operator does: each
//! shard's relabel rules join the source label values with `;`, take Prometheus'
//! `hashmod` of that modulo the shard count, and keep the targets whose result is the
//! shard's number (render writes those rules; diff predicts which targets move). The
//! arithmetic lives here, once, so the rules rendered and the moves predicted cannot
//! disagree.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// `[sharding]`: the hashmod modulus (one StatefulSet per shard) and the labels hashed.
#[derive(Debug, Clone)]
pub struct Sharding {
    pub shards: u16,
    pub source_labels: Vec<String>,
    /// `[sharding] retired`: shards `shards..retired.shards` kept after a shrink.
    pub retired: Option<Retired>,
}

/// Shards kept after the shard count shrank (the operator's `shardRetentionPolicy:
/// Retain`): they keep their StatefulSets, Services and volumes exactly as before, scrape
/// nothing, and stay queryable until their newest sample is past retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retired {
    /// The shard count before the shrink.
    pub shards: u16,
    /// The day the shrink is applied, in days since 1970-01-01 (the stack's date, never
    /// the clock).
    pub since: i64,
}

impl Retired {
    pub fn since_date(&self) -> String {
        super::date::format_date(self.since)
    }
    /// The first day the retired shards hold nothing within `retention_ms`: `since` plus
    /// the retention in whole days, plus one for the block still open on `since`.
    pub fn until(&self, retention_ms: u64) -> i64 {
        let days = i64::try_from(retention_ms.div_ceil(86_400_000)).unwrap_or(i64::MAX);
        self.since.saturating_add(days).saturating_add(1)
    }
    pub fn until_date(&self, retention_ms: u64) -> String {
        super::date::format_date(self.until(retention_ms))
    }
}

impl Sharding {
    /// Shards that have StatefulSets: the active ones and the retired ones.
    pub fn kept(&self) -> u16 {
        self.retired.map_or(self.shards, |r| r.shards.max(self.shards))
    }
    /// Whether shard `i` is retired (kept, scraping nothing).
    pub fn is_retired(&self, i: u16) -> bool {
        i >= self.shards && i < self.kept()
    }
    /// The shard that scrapes a static target of a job with these labels. Only
    /// `__address__` and the job's own labels are known before discovery.
    pub fn shard_of_target(&self, address: &str, job_labels: &BTreeMap<String, String>) -> u64 {
        shard_of(&self.source_labels, u64::from(self.shards), address, |l| job_labels.get(l).map(String::as_str))
    }
}

/// Prometheus' `hashmod`: md5 of the value, its last 8 bytes as a big-endian u64,
/// modulo `modulus` (relabel.go). `value` is the `;`-joined source label values.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let sum = Md5::digest(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&sum[8..16]);
    u64::from_be_bytes(tail) % modulus
}

/// The shard of a static target at `address` when `source_labels` are hashed modulo
/// `modulus`; `label` gives the target's other label values (missing ones hash as
/// empty, as in Prometheus). With one shard (or a modulus of 0 read from a broken
/// render) every target is on shard 0.
pub(crate) fn shard_of<'a, S: AsRef<str>>(
    source_labels: &[S],
    modulus: u64,
    address: &'a str,
    label: impl Fn(&str) -> Option<&'a str>,
) -> u64 {
    if modulus <= 1 {
        return 0;
    }
    let joined: Vec<&str> = source_labels
        .iter()
        .map(|l| match l.as_ref() {
            "__address__" => address,
            l => label(l).unwrap_or(""),
        })
        .collect();
    hashmod(&joined.join(";"), modulus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_takes_every_target_and_labels_join_with_semicolons() {
        let labels = BTreeMap::from([("zone".to_string(), "a".to_string())]);
        let one = Sharding { shards: 1, source_labels: vec!["__address__".into()], retired: None };
        assert_eq!(one.shard_of_target("10.0.0.1:9100", &labels), 0);
        let two = Sharding {
            shards: 7,
            source_labels: vec!["__address__".into(), "zone".into(), "none".into()],
            retired: None,
        };
        assert_eq!(two.shard_of_target("10.0.0.1:9100", &labels), hashmod("10.0.0.1:9100;a;", 7));
        assert_eq!(shard_of(&["__address__"], 0, "x", |_| None), 0);
    }

    #[test]
    fn retired_shards_stay_until_the_day_after_since_plus_retention() {
        let since = crate::model::date::parse_date("2026-12-01").unwrap();
        let r = Retired { shards: 4, since };
        assert_eq!(r.until_date(15 * 86_400_000), "2026-12-17");
        assert_eq!(r.until_date(36 * 3_600_000), "2026-12-04");
        let s = Sharding { shards: 2, source_labels: vec!["__address__".into()], retired: Some(r) };
        assert_eq!(s.kept(), 4);
        assert!(!s.is_retired(1) && s.is_retired(2) && s.is_retired(3) && !s.is_retired(4));
    }
}
