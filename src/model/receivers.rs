//! The validated `[[alertmanager.receivers]]` and `[alertmanager.route]`: who is
//! notified and how alerts are routed. Credentials are never here: a receiver names the
//! Secret that holds its URL, key or password, and `alerting::receivers` writes the
//! Alertmanager config that reads them from files.

use super::units::Duration;

/// One receiver: its name, its type and the Secret holding its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    pub kind: ReceiverKind,
    /// The Secret with the URL, key or password (see [`ReceiverKind::secret_key`]);
    /// `None` only for an email receiver that does not authenticate.
    pub secret: Option<String>,
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
    /// PagerDuty: Events API v2 (`routing_key`) or v1 (`service_key`); `severity` fixed,
    /// or Alertmanager's default (the alert's severity label, else critical).
    PagerDuty { api: PagerDutyApi, severity: Option<String> },
    /// Email through an SMTP relay; the password in the Secret when `auth_username` is set.
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
            ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV2, .. } => "routing_key",
            ReceiverKind::PagerDuty { api: PagerDutyApi::EventsV1, .. } => "service_key",
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

/// The route's `group_by` when `[alertmanager.route]` does not say (what the rendered
/// config grouped by before receivers existed).
pub const DEFAULT_GROUP_BY: [&str; 2] = ["alertname", "namespace"];

/// Where every pod of Alertmanager finds the receivers' Secrets: Secret `s` at
/// `<dir>/<s>/`, the layout the Prometheus Operator uses for `spec.secrets`, so both
/// render targets write the same `*_file` paths.
pub const SECRETS_DIR: &str = "/etc/alertmanager/secrets";
