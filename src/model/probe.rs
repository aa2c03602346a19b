//! `[[probe]]`: blackbox_exporter probes, as the model holds them. The module and the
//! checks of a target against it live here (validation uses them); the exporter config
//! and the probe scrape jobs are `alerting::blackbox`'s.

use super::units::Duration;

/// A blackbox_exporter module a probe uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeModule {
    /// `http_2xx`: GET the URL, success on a 2xx status (redirects followed).
    Http2xx,
    /// `http_post_2xx`: POST to the URL, success on a 2xx status.
    HttpPost2xx,
    /// `tcp_connect`: a TCP connection to host:port.
    TcpConnect,
    /// `icmp`: an ICMP echo to the host.
    Icmp,
    /// `dns`: ask the target (a DNS server, host[:port]) for `query_name` (type A).
    Dns { query_name: String },
}

impl ProbeModule {
    /// The module's words in stack.toml (`dns` for every [`ProbeModule::Dns`]).
    pub const NAMES: [&'static str; 5] = ["http_2xx", "http_post_2xx", "tcp_connect", "icmp", "dns"];

    /// The module's name in the exporter config (`dns_<query name>` for DNS, one module per
    /// query name).
    pub fn name(&self) -> String {
        match self {
            ProbeModule::Http2xx => "http_2xx".into(),
            ProbeModule::HttpPost2xx => "http_post_2xx".into(),
            ProbeModule::TcpConnect => "tcp_connect".into(),
            ProbeModule::Icmp => "icmp".into(),
            ProbeModule::Dns { query_name } => {
                let safe: String = query_name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
                    .collect();
                format!("dns_{safe}")
            }
        }
    }

    /// Why `target` cannot be probed by this module, if it cannot: HTTP modules take
    /// `http://` or `https://` URLs; TCP takes host:port; ICMP a host; DNS host[:port].
    pub fn target_problem(&self, target: &str) -> Option<String> {
        let t = target.trim();
        if t.is_empty() || t != target || t.chars().any(char::is_whitespace) {
            return Some(format!("`{target}` is not a probe target"));
        }
        let url = is_url(t);
        match self {
            ProbeModule::Http2xx | ProbeModule::HttpPost2xx if !url => {
                Some(format!("`{t}`: the {} module probes URLs: write `https://{t}`", self.name()))
            }
            ProbeModule::TcpConnect if url || !has_port(t) => {
                Some(format!("`{t}`: tcp_connect probes host:port, e.g. `db.example.com:5432`"))
            }
            ProbeModule::Icmp if url || t.contains('/') => Some(format!("`{t}`: icmp probes a host name or address")),
            ProbeModule::Dns { .. } if url || t.contains('/') => {
                Some(format!("`{t}`: dns probes a DNS server, host or host:port (53 by default)"))
            }
            _ => None,
        }
    }
}

/// A URL (`scheme://...`): what `[[scrape]]` targets must not be (they go to `[[probe]]`).
pub fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) && !rest.is_empty()
    })
}

fn has_port(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// One `[[probe]]`: a job probing `targets` with `module` every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub job: String,
    pub module: ProbeModule,
    pub targets: Vec<String>,
    /// `None`: the global scrape interval.
    pub interval: Option<Duration>,
}
