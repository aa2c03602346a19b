//! Alertmanager receivers and the route tree, from `[[alertmanager.receivers]]` and
//! `[alertmanager.route]`.
//!
//! Built from the validated model (`AlertmanagerConfig::of`, the types of
//! `model::receivers`, re-exported here). Credentials never appear in the configuration: every URL, key and password is read by
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

pub use crate::model::receivers::{ChildRoute, PagerDutyApi, Receiver, ReceiverKind, Route, SECRETS_DIR};
use crate::model::units::Duration;
use crate::model::Alertmanager;

/// What an Alertmanager config is generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    pub receivers: Vec<Receiver>,
    pub route: Route,
    /// Where the receivers' Secrets are mounted in the Alertmanager container: Secret `s`
    /// at `<secrets_dir>/<s>/` (e.g. `/etc/alertmanager/secrets`).
    pub secrets_dir: String,
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
    /// The config of a stack's Alertmanager, its Secrets at [`SECRETS_DIR`]; `None`
    /// without receivers (the render keeps its receiver that notifies nobody).
    pub fn of(am: &Alertmanager) -> Option<AlertmanagerConfig> {
        let route = am.route.clone()?;
        Some(AlertmanagerConfig { receivers: am.receivers.clone(), route, secrets_dir: SECRETS_DIR.to_string() })
    }

    /// The file Alertmanager reads a receiver's credential from, if it reads one.
    pub fn credential_file(&self, r: &Receiver) -> Option<String> {
        let secret = r.secret.as_ref()?;
        Some(format!("{}/{secret}/{}", self.secrets_dir.trim_end_matches('/'), r.kind.secret_key()))
    }

    /// The Secrets to mount (each once, sorted by name).
    pub fn mounts(&self) -> Vec<SecretMount> {
        let names: BTreeSet<&str> = self.receivers.iter().filter_map(|r| r.secret.as_deref()).collect();
        names
            .into_iter()
            .map(|s| SecretMount {
                secret: s.to_string(),
                mount_path: format!("{}/{s}", self.secrets_dir.trim_end_matches('/')),
            })
            .collect()
    }
}

fn duration_or(d: &Option<Duration>, default: &str) -> Value {
    json!(d.as_ref().map_or(default, Duration::as_str))
}

fn receiver_value(cfg: &AlertmanagerConfig, r: &Receiver) -> Value {
    let file = cfg.credential_file(r).unwrap_or_default();
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
        ReceiverKind::PagerDuty { api, severity } => {
            let k = match api {
                PagerDutyApi::EventsV2 => "routing_key_file",
                PagerDutyApi::EventsV1 => "service_key_file",
            };
            c.insert(k.into(), json!(file));
            if let Some(s) = severity {
                c.insert("severity".into(), json!(s));
            }
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
    // Always written, empty too: kube-prometheus-stack merges `alertmanager.config` into
    // its default, whose `routes` would otherwise survive and name its `null` receiver.
    route.insert("routes".into(), Value::Array(r.routes.iter().map(child_value).collect()));
    json!({
        // Alertmanager's default, written out as the config without receivers does.
        "global": {"resolve_timeout": "5m"},
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
                    secret: Some("am-oncall".into()),
                    send_resolved: None,
                },
                Receiver {
                    name: "pager".into(),
                    kind: ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV2, severity: Some("critical".into()) },
                    secret: Some("am-pd".into()),
                    send_resolved: Some(true),
                },
                Receiver {
                    name: "mail".into(),
                    kind: ReceiverKind::Email {
                        to: "oncall@example.com".into(),
                        from: "am@example.com".into(),
                        smarthost: "smtp.example.com:587".into(),
                        auth_username: None,
                    },
                    secret: None,
                    send_resolved: None,
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
        let text = config_yaml(&c);
        assert_eq!(text, config_yaml(&c));
        assert!(text.contains("url_file: /etc/alertmanager/secrets/am-oncall/url"), "{text}");
        assert!(text.contains("routing_key_file: /etc/alertmanager/secrets/am-pd/routing_key"), "{text}");
        assert!(text.contains("group_wait: \"30s\"") && text.contains("repeat_interval: \"12h\""), "{text}");
        assert!(!text.contains("auth_password_file"), "the mail receiver does not authenticate:\n{text}");
        assert_eq!(
            c.mounts(),
            vec![
                SecretMount { secret: "am-oncall".into(), mount_path: "/etc/alertmanager/secrets/am-oncall".into() },
                SecretMount { secret: "am-pd".into(), mount_path: "/etc/alertmanager/secrets/am-pd".into() },
            ]
        );
    }

    #[test]
    fn routes_are_written_even_when_empty() {
        let mut c = sample();
        c.route.routes.clear();
        assert_eq!(config_value(&c)["route"]["routes"], json!([]));
    }
}
