//! `[[probe]]` and `[rules]`: blackbox_exporter probe jobs, each target checked against
//! its module, and the rule-file patterns (the files are read by `check`, which knows
//! where stack.toml is).

use std::collections::BTreeMap;

use super::Reporter;
use crate::diagnostic::Code;
use crate::model::jobs::builtin_job_names;
use crate::model::probe::{ProbeModule, ProbeSpec};
use crate::model::raw::{RawProbe, RawRules};
use crate::model::{KubernetesJobs, Prometheus, Rules, ScrapeJob};

pub(super) fn validate(
    raw: &[RawProbe],
    scrape: &[ScrapeJob],
    kubernetes: &KubernetesJobs,
    prometheus: &Prometheus,
    alertmanager: bool,
    r: &mut Reporter<'_>,
) -> Vec<ProbeSpec> {
    let builtin = builtin_job_names(kubernetes, alertmanager);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let module_name = p.module.as_deref().unwrap_or("http_2xx");
        let module = match module_name {
            "http_2xx" => ProbeModule::Http2xx,
            "http_post_2xx" => ProbeModule::HttpPost2xx,
            "tcp_connect" => ProbeModule::TcpConnect,
            "icmp" => ProbeModule::Icmp,
            _ => match &p.query_name {
                Some(q) => ProbeModule::Dns { query_name: q.clone() },
                None => {
                    r.error(
                        Code::MissingKey,
                        &format!("/probe/{i}/module"),
                        "module = \"dns\" needs `query_name`, the name to resolve",
                        "add query_name = \"example.com\" to this [[probe]]",
                    );
                    continue;
                }
            },
        };
        if p.query_name.is_some() && !matches!(module, ProbeModule::Dns { .. }) {
            r.error(
                Code::InvalidValue,
                &format!("/probe/{i}/query_name"),
                format!("`query_name` is read only by the dns module, not by {module_name}"),
                "remove query_name, or set module = \"dns\"",
            );
        }
        let job = p.job.clone().unwrap_or_else(|| format!("blackbox-{module_name}"));
        let job_ptr = if p.job.is_some() { format!("/probe/{i}/job") } else { format!("/probe/{i}") };
        if let Some(first) = seen.insert(job.clone(), i) {
            let first_span = r.value_span(&format!("/probe/{first}"));
            r.conflict(
                Code::DuplicateJob,
                job_ptr.clone(),
                format!("probe job `{job}` is defined twice"),
                (first_span, "first defined here"),
                "give each [[probe]] a distinct `job` (the default is blackbox-<module>)",
            );
        } else if builtin.contains(&job.as_str()) || scrape.iter().any(|s| s.job == job) {
            r.error(
                Code::DuplicateJob,
                &job_ptr,
                format!("probe job `{job}` clashes with a scrape job of the same name"),
                "rename the probe job",
            );
        }
        for (n, t) in p.targets.iter().enumerate() {
            if let Some(problem) = module.target_problem(t) {
                r.error(
                    Code::ProbeTarget,
                    &format!("/probe/{i}/targets/{n}"),
                    format!("probe target {problem}"),
                    target_help(&module),
                );
            }
        }
        let interval_ptr = format!("/probe/{i}/interval");
        let interval = p.interval.as_ref().map(|v| r.duration(&interval_ptr, Some(v), "30s"));
        let timeout = &prometheus.scrape_timeout;
        if let Some(iv) = interval.as_ref().filter(|iv| iv.millis() < timeout.millis()) {
            r.error(
                Code::InvalidValue,
                &interval_ptr,
                format!("interval {iv} is shorter than the scrape timeout {timeout}"),
                "raise it, or lower [prometheus] scrape_timeout",
            );
        }
        out.push(ProbeSpec { job, module, targets: p.targets.clone(), interval });
    }
    out
}

fn target_help(m: &ProbeModule) -> &'static str {
    match m {
        ProbeModule::Http2xx | ProbeModule::HttpPost2xx => {
            "http modules probe a URL: targets = [\"https://api.example.com/healthz\"]"
        }
        ProbeModule::TcpConnect => "tcp_connect probes host:port: targets = [\"db.example.com:5432\"]",
        ProbeModule::Icmp => "icmp pings a host name or address: targets = [\"10.0.0.1\"]",
        ProbeModule::Dns { .. } => "dns asks a DNS server, host or host:port: targets = [\"10.96.0.10:53\"]",
    }
}

pub(super) fn rules(raw: Option<&RawRules>) -> Rules {
    Rules {
        patterns: raw.and_then(|r| r.files.clone()).unwrap_or_default(),
        files: Vec::new(),
        self_monitoring: raw.and_then(|r| r.self_monitoring).unwrap_or(true),
    }
}
