//! `resources = { cpu, memory, memory_limit, cpu_limit }`: one reading for `[prometheus]`
//! and every component table that takes it (Query, Store Gateway, Compactor,
//! Alertmanager, Grafana).

use super::Reporter;
use crate::diagnostic::Code;
use crate::model::raw::RawResources;
use crate::model::units::Quantity;
use crate::model::Resources;

/// A component's defaults. A limit left unset is its default, raised to the request
/// when the request is higher (`None`: the memory limit is the request; no CPU limit).
pub(super) struct Defaults {
    pub cpu: &'static str,
    pub memory: &'static str,
    pub memory_limit: Option<&'static str>,
    pub cpu_limit: Option<&'static str>,
}

/// Query, Store Gateway, Compactor, Alertmanager and Grafana: what stackgen rendered
/// before the keys existed, except the Store Gateway's memory limit (2Gi could not hold
/// Thanos' default 2GiB chunk pool plus 250MiB index cache; see SG147).
pub(super) const QUERY: Defaults =
    Defaults { cpu: "200m", memory: "512Mi", memory_limit: Some("1Gi"), cpu_limit: Some("2") };
pub(super) const STORE: Defaults =
    Defaults { cpu: "200m", memory: "1Gi", memory_limit: Some("4Gi"), cpu_limit: Some("2") };
pub(super) const COMPACTOR: Defaults =
    Defaults { cpu: "500m", memory: "1Gi", memory_limit: Some("4Gi"), cpu_limit: Some("2") };
pub(super) const ALERTMANAGER: Defaults =
    Defaults { cpu: "50m", memory: "128Mi", memory_limit: Some("256Mi"), cpu_limit: Some("500m") };
pub(super) const GRAFANA: Defaults =
    Defaults { cpu: "100m", memory: "256Mi", memory_limit: Some("512Mi"), cpu_limit: Some("1") };

/// The table at `ptr` (`/thanos/store/resources`), or the defaults without it.
pub(super) fn resources(raw: Option<&RawResources>, ptr: &str, d: &Defaults, r: &mut Reporter<'_>) -> Resources {
    let cpu = r.quantity(&format!("{ptr}/cpu"), raw.and_then(|x| x.cpu.as_ref()), d.cpu);
    let memory = r.quantity(&format!("{ptr}/memory"), raw.and_then(|x| x.memory.as_ref()), d.memory);
    let memory_limit = match raw.and_then(|x| x.memory_limit.as_ref()) {
        Some(m) => {
            let limit = r.quantity(&format!("{ptr}/memory_limit"), Some(m), "0");
            if limit.value() < memory.value() {
                r.error(
                    Code::InvalidValue,
                    &format!("{ptr}/memory_limit"),
                    format!("memory_limit {} is below the request {}", limit.as_str(), memory.as_str()),
                    "the limit must be at least the request",
                );
            }
            limit
        }
        None => at_least(d.memory_limit, &memory),
    };
    let cpu_limit = match raw.and_then(|x| x.cpu_limit.as_ref()) {
        Some(c) => {
            let limit = r.quantity(&format!("{ptr}/cpu_limit"), Some(c), "0");
            if limit.value() < cpu.value() {
                r.error(
                    Code::InvalidValue,
                    &format!("{ptr}/cpu_limit"),
                    format!("cpu_limit {} is below the request {}", limit.as_str(), cpu.as_str()),
                    "the limit must be at least the request",
                );
            }
            Some(limit)
        }
        None => d.cpu_limit.map(|_| at_least(d.cpu_limit, &cpu)),
    };
    Resources { cpu, memory, memory_limit, cpu_limit }
}

/// `default`, or `request` when that is higher (or there is no default).
fn at_least(default: Option<&str>, request: &Quantity) -> Quantity {
    match default.map(|d| d.parse::<Quantity>().expect("defaults are quantities")) {
        Some(d) if d.value() >= request.value() => d,
        _ => request.clone(),
    }
}
