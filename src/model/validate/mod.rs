//! Raw stack → validated [`Stack`], one module per table of stack.toml. Each turns its
//! raw table into its validated type and reports, through the one [`Reporter`], every
//! reason it cannot, at the span of the key concerned.
//!
//! The input has passed the JSON Schema (`check` runs it first, and leaves out of the
//! raw stack every value it rejected), so shapes, ranges and formats are not checked
//! again here: this is what the schema cannot say (cross-key rules, counts, arithmetic).
//! Warnings are lint's business; this module reports only what makes a stack impossible
//! to render correctly.

mod alertmanager;
mod expose;
mod grafana;
mod probe;
mod prometheus;
mod resources;
mod scrape;
mod sharding;
mod stack;
mod storage;
mod thanos;

use std::collections::BTreeMap;
use std::ops::Range;

use super::capacity::pod_figures;
use super::raw::RawStack;
use super::units::{parse_volume_size, Bytes, Duration, Quantity};
use super::{Image, Stack};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Parsed;

/// Turn a raw stack that passed the schema into the validated model, or every reason
/// it cannot be.
pub fn validate(raw: &RawStack, parsed: &Parsed) -> Result<Stack, Vec<Diagnostic>> {
    let mut r = Reporter { parsed, diags: Vec::new() };
    let meta = stack::validate(&raw.stack, &mut r);
    let sharding = sharding::validate(raw.sharding.as_ref(), &mut r);
    // Retired shards keep their volumes: static backends need a volume for them too.
    let pods = Pods { shards: sharding.kept(), replicas: prometheus::replicas(raw.prometheus.as_ref()) };
    // `size = "auto"` and `resources = "auto"` take one pod's figures from the plan.
    let thanos_on = raw.thanos.is_some();
    let mut prometheus = prometheus::validate(raw.prometheus.as_ref(), sharding.shards, thanos_on, &mut r);
    let pod = pod_figures(&prometheus, sharding.shards, thanos_on).ok();
    let storage = storage::validate(raw.storage.as_ref(), &meta, pods, pod.as_ref(), &mut r);
    prometheus.retention_size =
        prometheus::retention_size(raw.prometheus.as_ref().and_then(|p| p.retention_size.as_deref()), &storage, &mut r);
    let thanos = raw.thanos.as_ref().map(|t| thanos::validate(t, &prometheus, pods, &mut r));
    let alertmanager = raw.alertmanager.as_ref().map(|a| alertmanager::validate(a, &mut r));
    let grafana = raw.grafana.as_ref().map(|g| grafana::validate(g, &mut r));
    let (scrape, kubernetes) =
        scrape::validate(&raw.scrape, raw.kubernetes.as_ref(), &prometheus, alertmanager.is_some(), &mut r);
    let present = expose::Present {
        grafana: grafana.is_some(),
        thanos: thanos.is_some(),
        alertmanager: alertmanager.is_some(),
        shards: sharding.shards,
    };
    let expose = expose::validate(raw.expose.as_ref(), &present, &mut r);
    let probes = probe::validate(&raw.probe, &scrape, &kubernetes, &prometheus, alertmanager.is_some(), &mut r);
    let rules = probe::rules(raw.rules.as_ref());
    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    Ok(Stack {
        name: meta.name,
        namespace: meta.namespace,
        kubernetes_version: meta.kubernetes_version,
        labels: meta.labels,
        prometheus,
        storage,
        sharding,
        thanos,
        alertmanager,
        grafana,
        scrape,
        probes,
        rules,
        kubernetes,
        network_policies: raw.security.as_ref().and_then(|s| s.network_policies).unwrap_or(true),
        create_namespace: meta.create_namespace,
        expose,
    })
}

/// The Prometheus pods of the stack: shards x replicas, each with a volume of its own.
#[derive(Debug, Clone, Copy)]
struct Pods {
    shards: u16,
    replicas: u32,
}

impl Pods {
    fn total(self) -> u32 {
        u32::from(self.shards) * self.replicas
    }
}

/// Collects the diagnostics of a validation, each at the span of its key path.
struct Reporter<'a> {
    parsed: &'a Parsed,
    diags: Vec<Diagnostic>,
}

impl Reporter<'_> {
    /// An error about the value at `ptr` (at the key of its table when it is missing).
    fn error(&mut self, code: Code, ptr: &str, msg: impl Into<String>, help: impl Into<String>) {
        let span = self.parsed.span(ptr);
        self.diags.push(Diagnostic::error(code, msg, span).with_help(help).with_path(ptr));
    }

    /// An error about the key at `ptr` itself (a key that should not be there).
    fn error_at_key(&mut self, code: Code, ptr: &str, msg: impl Into<String>, help: impl Into<String>) {
        let span = self.parsed.place(ptr).key;
        self.diags.push(Diagnostic::error(code, msg, span).with_help(help).with_path(ptr));
    }

    /// An error at the value of `ptr` that names a second place (`related`, labelled).
    fn conflict(&mut self, code: Code, ptr: String, msg: String, related: (Range<usize>, &str), help: &str) {
        let span = self.parsed.place(&ptr).value;
        self.diags
            .push(Diagnostic::error(code, msg, span).with_related(related.0, related.1).with_help(help).with_path(ptr));
    }

    /// The span of the value at `ptr`.
    fn value_span(&self, ptr: &str) -> Range<usize> {
        self.parsed.place(ptr).value
    }

    fn duration(&mut self, ptr: &str, v: Option<&String>, default: &str) -> Duration {
        match v.map_or(default, String::as_str).parse() {
            Ok(d) => d,
            Err(e) => {
                self.error(Code::InvalidValue, ptr, e, "Prometheus durations: 15d, 6h, 1h30m");
                Duration::from_millis(0)
            }
        }
    }

    fn volume(&mut self, ptr: &str, v: Option<&String>, default: &str) -> Bytes {
        match parse_volume_size(v.map_or(default, String::as_str)) {
            Ok(b) => b,
            Err(e) => {
                self.error(Code::InvalidValue, ptr, e, "binary units: 1Ti, 500Gi");
                Bytes::new(1)
            }
        }
    }

    fn quantity(&mut self, ptr: &str, v: Option<&String>, default: &str) -> Quantity {
        match v.map_or(default, String::as_str).parse() {
            Ok(q) => q,
            Err(e) => {
                self.error(Code::InvalidValue, ptr, e, "Kubernetes quantities: 500m, 2, 8Gi");
                "0".parse().expect("0 is a quantity")
            }
        }
    }

    /// Each item of the list at `ptr` may back one volume only: report every repeat.
    fn duplicates(&mut self, ptr: &str, items: &[String], what: &str) {
        let mut first: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, it) in items.iter().enumerate() {
            if let Some(f) = first.insert(it, i) {
                let first_span = self.value_span(&format!("{ptr}/{f}"));
                self.conflict(
                    Code::DuplicateVolume,
                    format!("{ptr}/{i}"),
                    format!("{what} `{it}` is listed twice"),
                    (first_span, "first listed here"),
                    &format!("each {what} can back only one Prometheus volume"),
                );
            }
        }
    }
}

/// An image from the usual three keys (`image`, `version`, `image_digest`) and defaults.
fn image(
    repo: Option<&String>,
    default_repo: &str,
    tag: Option<&String>,
    default_tag: &str,
    digest: Option<&String>,
) -> Image {
    Image {
        repository: repo.map_or(default_repo, String::as_str).to_string(),
        tag: tag.map_or(default_tag, String::as_str).to_string(),
        digest: digest.cloned(),
    }
}
