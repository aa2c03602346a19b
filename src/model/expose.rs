//! The validated `[expose.<component>]` tables: how Grafana, Prometheus, Thanos Query and
//! Alertmanager are reached from outside the cluster, and by whom.

/// The components that can be exposed, in the order their tables are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exposed {
    Grafana,
    Prometheus,
    Query,
    Alertmanager,
}

impl Exposed {
    pub const ALL: [Exposed; 4] = [Exposed::Grafana, Exposed::Prometheus, Exposed::Query, Exposed::Alertmanager];
    /// Its key under `[expose]`.
    pub fn key(self) -> &'static str {
        match self {
            Exposed::Grafana => "grafana",
            Exposed::Prometheus => "prometheus",
            Exposed::Query => "query",
            Exposed::Alertmanager => "alertmanager",
        }
    }
    /// The component's `app.kubernetes.io/name` (and object name suffix).
    pub fn component(self) -> &'static str {
        match self {
            Exposed::Grafana => "grafana",
            Exposed::Prometheus => "prometheus",
            Exposed::Query => "thanos-query",
            Exposed::Alertmanager => "alertmanager",
        }
    }
    /// Its HTTP port: container port, in-cluster Service port and the exposed port.
    pub fn port(self) -> i32 {
        match self {
            Exposed::Grafana => 3000,
            Exposed::Prometheus => 9090,
            Exposed::Query => 10902,
            Exposed::Alertmanager => 9093,
        }
    }
}

/// How one component is exposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExposeKind {
    /// A Service of type NodePort; `node_port` or one the cluster allocates.
    NodePort { node_port: Option<i32> },
    /// A Service of type LoadBalancer (its node port as above).
    LoadBalancer { node_port: Option<i32> },
    /// An Ingress to the in-cluster Service.
    Ingress { host: String, class: Option<String>, tls_secret: Option<String>, controller_namespace: String },
}

/// `[expose.<component>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expose {
    pub component: Exposed,
    pub kind: ExposeKind,
    /// Client networks (CIDRs) admitted; empty: anyone.
    pub from: Vec<String>,
}

/// The ingress controller's namespace when `controller_namespace` is unset.
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "ingress-nginx";

/// A `[grafana] egress` entry: a network and a TCP port Grafana may connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    pub cidr: String,
    pub port: u16,
}
