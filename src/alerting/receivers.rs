//! Alertmanager receivers and the route tree, from `[[alertmanager.receivers]]` and
//! `[alertmanager.route]`.
//!
//! Credentials never appear in the configuration: every URL, key and password is read by
//! Alertmanager from a file, a key of a Secret mounted at
//! `<secrets_dir>/<secret>/<key>` (the layout the Prometheus Operator uses for
//! `spec.secrets`, `/etc/alertmanager/secrets/<name>/<key>`). The `*_file` keys of
//! Alertmanager v0.28 used here:
//!
//! | type      | secret key in the Secret | Alertmanager key                         |
//! |-----------|--------------------------|------------------------------------------|
//! | webhook   | `url`                    | `webhook_configs[].url_file`             |
//! | slack     | `api_url`                | `slack_configs[].api_url_file`           |
//! | pagerduty | `routing_key` (Events v2)| `pagerduty_configs[].routing_key_file`   |
//! | pagerduty | `service_key` (Events v1)| `pagerduty_configs[].service_key_file`   |
//! | email     | `password`               | `email_configs[].auth_password_file`     |
//!
//! Fields without a `_file` variant in v0.28 are not offered: the email `auth_secret`
//! (CRAM-MD5) has none, so email authenticates with PLAIN/LOGIN and a password file, and
//! `require_tls` is on by default. The SMTP `smarthost`, `from` and `auth_username`, the
//! Slack channel and the addresses are not secrets and are written in the config.
//!
//! The route uses Alertmanager's documented defaults unless set: `group_wait` 30s,
//! `group_interval` 5m, `repeat_interval` 4h; they are always written out, so the file
//! says what Alertmanager does. Children routes keep their order (Alertmanager matches
//! them in order). An inhibition keeps a `warning` quiet while a `critical` alert of the
//! same name fires in the same namespace (as kube-prometheus does).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::model::units::Duration;

/// What an Alertmanager config is generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    pub receivers: Vec<Receiver>,
    pub route: Route,
    /// Where the receivers' Secrets are mounted in the Alertmanager container: Secret `s`
    /// at `<secrets_dir>/<s>/` (e.g. `/etc/alertmanager/secrets`).
    pub secrets_dir: String,
}

/// One receiver: its name, its type and the Secret holding its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    pub kind: ReceiverKind,
    /// The Secret with the URL, key or password (see [`ReceiverKind::secret_key`]).
    pub secret: String,
    /// Notify when alerts resolve (`send_resolved`); `None` keeps Alertmanager's default
    /// for the type (true for webhook, Slack off, PagerDuty on, email off).
    pub send_resolved: Option<bool>,
}

/// The type of a receiver and its non-secret settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    /// An HTTP POST of the alerts' JSON to the URL in the Secret.
    Webhook,
    /// A Slack incoming webhook (the URL in the Secret), to `channel` if set.
    Slack { channel: Option<String> },
    /// PagerDuty: Events API v2 (`routing_key`) or v1 (`service_key`).
    PagerDuty { api: PagerDutyApi },
    /// Email through an SMTP relay; the password in the Secret.
    Email { to: String, from: String, smarthost: String, auth_username: Option<String> },
}

/// Which PagerDuty integration key the Secret holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagerDutyApi {
    /// Events API v2: an integration (routing) key.
    EventsV2,
    /// Events API v1 (a "Prometheus" service integration): a service key.
    EventsV1,
}

impl ReceiverKind {
    /// The key of the Secret the credential is read from.
    pub fn secret_key(&self) -> &'static str {
        match self {
            ReceiverKind::Webhook => "url",
            ReceiverKind::Slack { .. } => "api_url",
            ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV2 } => "routing_key",
            ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV1 } => "service_key",
            ReceiverKind::Email { .. } => "password",
        }
    }
    /// The type's word in stack.toml.
    pub fn type_name(&self) -> &'static str {
        match self {
            ReceiverKind::Webhook => "webhook",
            ReceiverKind::Slack { .. } => "slack",
            ReceiverKind::PagerDuty { .. } => "pagerduty",
            ReceiverKind::Email { .. } => "email",
        }
    }
}

/// The top of the route tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub receiver: String,
    /// Labels alerts are grouped by (`["..."]` groups by every label).
    pub group_by: Vec<String>,
    pub group_wait: Option<Duration>,
    pub group_interval: Option<Duration>,
    pub repeat_interval: Option<Duration>,
    /// Child routes, matched in order.
    pub routes: Vec<ChildRoute>,
}

/// A child route: alerts matching every matcher go to `receiver`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRoute {
    pub receiver: String,
    /// Alertmanager matchers: `severity="critical"`, `team=~"db|storage"`.
    pub matchers: Vec<String>,
    /// Go on matching the next siblings after this one.
    pub continue_: bool,
    /// `None` inherits the parent's.
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<Duration>,
    pub group_interval: Option<Duration>,
    pub repeat_interval: Option<Duration>,
}

/// Alertmanager's defaults (docs: configuration, `<route>`).
pub const DEFAULT_GROUP_WAIT: &str = "30s";
pub const DEFAULT_GROUP_INTERVAL: &str = "5m";
pub const DEFAULT_REPEAT_INTERVAL: &str = "4h";

/// A Secret the Alertmanager pod must mount, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretMount {
    /// The Secret's name.
    pub secret: String,
    /// The directory it is mounted at (`<secrets_dir>/<secret>`).
    pub mount_path: String,
}

impl AlertmanagerConfig {
    /// The file Alertmanager reads a receiver's credential from.
    pub fn credential_file(&self, r: &Receiver) -> String {
        format!("{}/{}/{}", self.secrets_dir.trim_end_matches('/'), r.secret, r.kind.secret_key())
    }

    /// The Secrets to mount (each once, sorted by name).
    pub fn mounts(&self) -> Vec<SecretMount> {
        let names: BTreeSet<&str> = self.receivers.iter().map(|r| r.secret.as_str()).collect();
        names
            .into_iter()
            .map(|s| SecretMount {
                secret: s.to_string(),
                mount_path: format!("{}/{s}", self.secrets_dir.trim_end_matches('/')),
            })
            .collect()
    }

    /// Problems the model should report (each a sentence): receiver names used twice or
    /// empty, a route naming a receiver that does not exist, a group_by label that is not
    /// a label name, a matcher without an operator. Empty when the config is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut names = BTreeSet::new();
        for r in &self.receivers {
            if r.name.is_empty() {
                out.push("a receiver has an empty name".to_string());
            } else if !names.insert(r.name.as_str()) {
                out.push(format!("receiver `{}` is defined twice", r.name));
            }
            if r.secret.is_empty() || r.secret.contains('/') {
                out.push(format!("receiver `{}`: `{}` is not a Secret name", r.name, r.secret));
            }
            if let ReceiverKind::Email { to, from, smarthost, .. } = &r.kind {
                for (key, addr) in [("to", to), ("from", from)] {
                    if !addr.contains('@') {
                        out.push(format!("receiver `{}`: {key} `{addr}` is not an email address", r.name));
                    }
                }
                let port_ok =
                    smarthost.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
                if !port_ok {
                    out.push(format!(
                        "receiver `{}`: smarthost `{smarthost}` must be host:port (e.g. smtp.example.com:587)",
                        r.name
                    ));
                }
            }
        }
        let mut check_receiver = |name: &str, at: &str| {
            if !names.contains(name) {
                out.push(format!("{at} sends to receiver `{name}`, which is not defined"));
            }
        };
        check_receiver(&self.route.receiver, "the route");
        for (i, c) in self.route.routes.iter().enumerate() {
            check_receiver(&c.receiver, &format!("route {}", i + 1));
        }
        let group_bys =
            std::iter::once(&self.route.group_by).chain(self.route.routes.iter().filter_map(|c| c.group_by.as_ref()));
        for g in group_bys {
            for l in g {
                if l != "..." && !super::rules::is_label_name(l) {
                    out.push(format!("group_by `{l}` is not a label name"));
                }
            }
        }
        for c in &self.route.routes {
            for m in &c.matchers {
                if !["=", "!=", "=~", "!~"].iter().any(|op| m.contains(op)) {
                    out.push(format!("matcher `{m}` has no operator (=, !=, =~, !~)"));
                }
            }
        }
        out
    }
}

fn duration_or(d: &Option<Duration>, default: &str) -> Value {
    json!(d.as_ref().map_or(default, Duration::as_str))
}

fn receiver_value(cfg: &AlertmanagerConfig, r: &Receiver) -> Value {
    let file = cfg.credential_file(r);
    let mut c = Map::new();
    if let Some(b) = r.send_resolved {
        c.insert("send_resolved".into(), json!(b));
    }
    let key = match &r.kind {
        ReceiverKind::Webhook => {
            c.insert("url_file".into(), json!(file));
            "webhook_configs"
        }
        ReceiverKind::Slack { channel } => {
            c.insert("api_url_file".into(), json!(file));
            if let Some(ch) = channel {
                c.insert("channel".into(), json!(ch));
            }
            "slack_configs"
        }
        ReceiverKind::PagerDuty { api } => {
            let k = match api {
                PagerDutyApi::EventsV2 => "routing_key_file",
                PagerDutyApi::EventsV1 => "service_key_file",
            };
            c.insert(k.into(), json!(file));
            "pagerduty_configs"
        }
        ReceiverKind::Email { to, from, smarthost, auth_username } => {
            c.insert("to".into(), json!(to));
            c.insert("from".into(), json!(from));
            c.insert("smarthost".into(), json!(smarthost));
            if let Some(u) = auth_username {
                c.insert("auth_username".into(), json!(u));
                c.insert("auth_password_file".into(), json!(file));
            }
            c.insert("require_tls".into(), json!(true));
            "email_configs"
        }
    };
    json!({"name": r.name, key: [Value::Object(c)]})
}

fn child_value(c: &ChildRoute) -> Value {
    let mut m = Map::new();
    m.insert("receiver".into(), json!(c.receiver));
    if !c.matchers.is_empty() {
        m.insert("matchers".into(), json!(c.matchers));
    }
    if let Some(g) = &c.group_by {
        m.insert("group_by".into(), json!(g));
    }
    for (k, v) in
        [("group_wait", &c.group_wait), ("group_interval", &c.group_interval), ("repeat_interval", &c.repeat_interval)]
    {
        if let Some(d) = v {
            m.insert(k.into(), json!(d.as_str()));
        }
    }
    if c.continue_ {
        m.insert("continue".into(), json!(true));
    }
    Value::Object(m)
}

/// The alertmanager.yml for `cfg`, as a JSON value (route, inhibit_rules, receivers).
pub fn config_value(cfg: &AlertmanagerConfig) -> Value {
    let r = &cfg.route;
    let mut route = Map::new();
    route.insert("receiver".into(), json!(r.receiver));
    route.insert("group_by".into(), json!(r.group_by));
    route.insert("group_wait".into(), duration_or(&r.group_wait, DEFAULT_GROUP_WAIT));
    route.insert("group_interval".into(), duration_or(&r.group_interval, DEFAULT_GROUP_INTERVAL));
    route.insert("repeat_interval".into(), duration_or(&r.repeat_interval, DEFAULT_REPEAT_INTERVAL));
    if !r.routes.is_empty() {
        route.insert("routes".into(), Value::Array(r.routes.iter().map(child_value).collect()));
    }
    json!({
        "route": Value::Object(route),
        "inhibit_rules": [{
            "source_matchers": ["severity=\"critical\""],
            "target_matchers": ["severity=\"warning\""],
            "equal": ["namespace", "alertname"],
        }],
        "receivers": cfg.receivers.iter().map(|rc| receiver_value(cfg, rc)).collect::<Vec<_>>(),
    })
}

/// The alertmanager.yml text for `cfg` (deterministic).
pub fn config_yaml(cfg: &AlertmanagerConfig) -> String {
    super::yaml::to_string(&config_value(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> AlertmanagerConfig {
        AlertmanagerConfig {
            receivers: vec![
                Receiver {
                    name: "oncall".into(),
                    kind: ReceiverKind::Webhook,
                    secret: "am-oncall".into(),
                    send_resolved: None,
                },
                Receiver {
                    name: "pager".into(),
                    kind: ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV2 },
                    secret: "am-pd".into(),
                    send_resolved: Some(true),
                },
            ],
            route: Route {
                receiver: "oncall".into(),
                group_by: vec!["alertname".into(), "cluster".into()],
                group_wait: None,
                group_interval: None,
                repeat_interval: Some("12h".parse().unwrap()),
                routes: vec![ChildRoute {
                    receiver: "pager".into(),
                    matchers: vec!["severity=\"critical\"".into()],
                    continue_: false,
                    group_by: None,
                    group_wait: Some("10s".parse().unwrap()),
                    group_interval: None,
                    repeat_interval: None,
                }],
            },
            secrets_dir: "/etc/alertmanager/secrets/".into(),
        }
    }

    #[test]
    fn credentials_are_files_and_defaults_are_written() {
        let c = sample();
        assert!(c.problems().is_empty());
        let text = config_yaml(&c);
        assert_eq!(text, config_yaml(&c));
        assert!(text.contains("url_file: /etc/alertmanager/secrets/am-oncall/url"), "{text}");
        assert!(text.contains("routing_key_file: /etc/alertmanager/secrets/am-pd/routing_key"), "{text}");
        assert!(text.contains("group_wait: \"30s\"") && text.contains("repeat_interval: \"12h\""), "{text}");
        assert_eq!(
            c.mounts(),
            vec![
                SecretMount { secret: "am-oncall".into(), mount_path: "/etc/alertmanager/secrets/am-oncall".into() },
                SecretMount { secret: "am-pd".into(), mount_path: "/etc/alertmanager/secrets/am-pd".into() },
            ]
        );
    }

    #[test]
    fn problems_are_reported() {
        let mut c = sample();
        c.receivers.push(c.receivers[0].clone());
        c.route.receiver = "nobody".into();
        c.route.group_by.push("bad-label".into());
        c.route.routes[0].matchers.push("severity".into());
        c.receivers.push(Receiver {
            name: "mail".into(),
            kind: ReceiverKind::Email {
                to: "oncall".into(),
                from: "am@example.com".into(),
                smarthost: "smtp.example.com".into(),
                auth_username: None,
            },
            secret: "am-mail".into(),
            send_resolved: None,
        });
        let p = c.problems();
        assert_eq!(p.len(), 6, "{p:#?}");
    }
}
