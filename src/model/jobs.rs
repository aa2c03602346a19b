//! Scrape jobs: the `[[scrape]]` jobs of the stack and the jobs stackgen writes itself.
//! The list of built-in job names is here, once: validation refuses a `[[scrape]]` job
//! that takes one of them, and diff leaves them out of the target moves it predicts.

use std::collections::BTreeMap;

use super::Duration;

/// One `[[scrape]]` job with static targets.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    pub job: String,
    pub targets: Vec<String>,
    pub metrics_path: String,
    pub scheme: String,
    pub scrape_interval: Option<Duration>,
    pub labels: BTreeMap<String, String>,
    pub sharded: bool,
}

/// `[kubernetes]`: the built-in discovery jobs and what the cluster's DNS looks like.
#[derive(Debug, Clone)]
pub struct KubernetesJobs {
    pub discovery: bool,
    pub control_plane: bool,
    pub cluster_domain: String,
    /// CIDRs of resolvers the DNS egress rule allows besides kube-dns pods.
    pub dns_addresses: Vec<String>,
}

/// Names of the jobs stackgen writes itself: Prometheus scraping itself, the Kubernetes
/// discovery jobs (`discovery`), the control-plane jobs (`control_plane`), Alertmanager.
pub(crate) fn builtin_job_names(k: &KubernetesJobs, alertmanager: bool) -> Vec<&'static str> {
    let mut v = vec!["prometheus"];
    if k.discovery {
        v.extend([
            "kubernetes-apiservers",
            "kubernetes-nodes",
            "kubernetes-cadvisor",
            "kubernetes-pods",
            "kubernetes-service-endpoints",
        ]);
    }
    if k.control_plane {
        v.extend(["kube-etcd", "kube-scheduler", "kube-controller-manager"]);
    }
    if alertmanager {
        v.push("alertmanager");
    }
    // The self-monitoring jobs (`alerting::stack`), reserved whether or not they are on.
    v.extend([
        "prometheus-shards",
        "thanos-sidecar",
        "thanos-query",
        "thanos-store",
        "thanos-compactor",
        "grafana",
        "blackbox-exporter",
    ]);
    v
}
