//! `[[scrape]]` and `[kubernetes]`: the jobs of the stack beside the built-in ones, and
//! the built-in discovery jobs with the cluster's DNS.

use std::collections::BTreeMap;

use super::Reporter;
use crate::diagnostic::Code;
use crate::model::jobs::builtin_job_names;
use crate::model::raw::{RawKubernetes, RawScheme, RawScrape};
use crate::model::{KubernetesJobs, Prometheus, ScrapeJob, DEFAULT_DNS_ADDRESSES};

/// `prometheus` is the validated `[prometheus]` (a job's interval must hold its scrape
/// timeout); `alertmanager` whether Alertmanager is on (it adds a built-in job).
pub(super) fn validate(
    raw: &[RawScrape],
    kubernetes: Option<&RawKubernetes>,
    prometheus: &Prometheus,
    alertmanager: bool,
    r: &mut Reporter<'_>,
) -> (Vec<ScrapeJob>, KubernetesJobs) {
    let kubernetes = kubernetes_jobs(kubernetes, r);
    let builtin = builtin_job_names(&kubernetes, alertmanager);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut jobs = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let ptr = format!("/scrape/{i}/job");
        if let Some(first) = seen.insert(&s.job, i) {
            let first_span = r.value_span(&format!("/scrape/{first}/job"));
            r.conflict(
                Code::DuplicateJob,
                ptr,
                format!("scrape job `{}` is defined twice", s.job),
                (first_span, "first defined here"),
                "give each [[scrape]] a distinct job",
            );
        } else if builtin.contains(&s.job.as_str()) {
            r.error(
                Code::DuplicateJob,
                &ptr,
                format!("scrape job `{}` clashes with a built-in job", s.job),
                "rename the job",
            );
        }
        for (n, t) in s.static_targets.iter().enumerate() {
            if crate::model::probe::is_url(t) {
                // A URL is what a blackbox probe checks, not a /metrics endpoint.
                r.error(
                    Code::ScrapeTarget,
                    &format!("/scrape/{i}/static_targets/{n}"),
                    format!("target `{t}` is a URL, not the host:port of a metrics endpoint"),
                    "to check that a URL answers, probe it: [[probe]] module = \"http_2xx\", targets = [\"<the URL>\"]; \
                     to scrape /metrics, write host:port and set scheme and metrics_path",
                );
            } else if !valid_target(t) {
                r.error(
                    Code::ScrapeTarget,
                    &format!("/scrape/{i}/static_targets/{n}"),
                    format!("target `{t}` is not host:port"),
                    "write host:port, without scheme or path: \"10.0.0.1:9100\"",
                );
            }
        }
        let interval_ptr = format!("/scrape/{i}/scrape_interval");
        let interval = s.scrape_interval.as_ref().map(|v| r.duration(&interval_ptr, Some(v), "30s"));
        let timeout = &prometheus.scrape_timeout;
        if let Some(iv) = interval.as_ref().filter(|iv| iv.millis() < timeout.millis()) {
            r.error(
                Code::InvalidValue,
                &interval_ptr,
                format!("scrape_interval {iv} is shorter than the scrape timeout {timeout}"),
                "raise it, or lower [prometheus] scrape_timeout",
            );
        }
        jobs.push(ScrapeJob {
            job: s.job.clone(),
            targets: s.static_targets.clone(),
            metrics_path: s.metrics_path.clone().unwrap_or_else(|| "/metrics".into()),
            scheme: match s.scheme {
                Some(RawScheme::Https) => "https".into(),
                Some(RawScheme::Http) | None => "http".into(),
            },
            scrape_interval: interval,
            labels: s.labels.clone().unwrap_or_default(),
            sharded: s.sharding.unwrap_or(true),
        });
    }
    (jobs, kubernetes)
}

fn kubernetes_jobs(k: Option<&RawKubernetes>, r: &mut Reporter<'_>) -> KubernetesJobs {
    let kubernetes = KubernetesJobs {
        discovery: k.and_then(|k| k.discovery).unwrap_or(true),
        control_plane: k.and_then(|k| k.control_plane).unwrap_or(false),
        cluster_domain: k.and_then(|k| k.cluster_domain.clone()).unwrap_or_else(|| "cluster.local".into()),
        dns_addresses: k
            .and_then(|k| k.dns_addresses.clone())
            .unwrap_or_else(|| DEFAULT_DNS_ADDRESSES.iter().map(|s| (*s).to_string()).collect()),
    };
    for (i, a) in kubernetes.dns_addresses.iter().enumerate() {
        if !valid_cidr(a) {
            r.error(
                Code::InvalidValue,
                &format!("/kubernetes/dns_addresses/{i}"),
                format!("`{a}` is not a CIDR"),
                "write an address with its prefix length: \"169.254.20.10/32\", \"10.96.0.10/32\"",
            );
        }
    }
    kubernetes
}

/// An IPv4 or IPv6 address with a prefix length that fits it.
pub(super) fn valid_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else { return false };
    let Ok(len) = len.parse::<u8>() else { return false };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

/// `host:port` as Prometheus dials it: a DNS name or IPv4 address (letters, digits, `.`,
/// `-`, `_`) or a bracketed IPv6 address, and a port of digits only (`+80` parses as a
/// u16 but is no port); nothing else (`user@`, `?query`, paths).
fn valid_target(t: &str) -> bool {
    let Some((host, port)) = t.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
        None => {
            !host.is_empty()
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                && !host.starts_with(['.', '-'])
        }
    };
    port_ok && host_ok
}
