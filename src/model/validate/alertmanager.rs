//! `[alertmanager]`: its presence enables Alertmanager; `[[alertmanager.receivers]]` and
//! `[alertmanager.route]` say who is notified of what.

use std::collections::BTreeMap;

use super::{image, Reporter};
use crate::diagnostic::Code;
use crate::model::raw::{
    RawAlertmanager, RawChildRoute, RawPagerDutyApi, RawPagerDutySeverity, RawReceiver, RawReceiverKind, RawRoute,
};
use crate::model::receivers::{ChildRoute, PagerDutyApi, Receiver, ReceiverKind, Route, DEFAULT_GROUP_BY};
use crate::model::units::Duration;
use crate::model::{Alertmanager, DEFAULT_ALERTMANAGER_IMAGE, DEFAULT_ALERTMANAGER_VERSION};

pub(super) fn validate(raw: &RawAlertmanager, r: &mut Reporter<'_>) -> Alertmanager {
    let receivers: Vec<Receiver> = raw
        .receivers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, rc)| receiver(rc, &format!("/alertmanager/receivers/{i}"), r))
        .collect();
    let names = unique_names(&receivers, r);
    let route = route(raw.route.as_ref(), &receivers, &names, r);
    Alertmanager {
        image: image(
            raw.image.as_ref(),
            DEFAULT_ALERTMANAGER_IMAGE,
            raw.version.as_ref(),
            DEFAULT_ALERTMANAGER_VERSION,
            raw.image_digest.as_ref(),
        ),
        replicas: raw.replicas.unwrap_or(1),
        size: r.volume("/alertmanager/storage_size", raw.storage_size.as_ref(), "1Gi"),
        resources: super::resources::resources(
            raw.resources.as_ref(),
            "/alertmanager/resources",
            &super::resources::ALERTMANAGER,
            r,
        ),
        receivers,
        route,
    }
}

fn receiver(raw: &RawReceiver, ptr: &str, r: &mut Reporter<'_>) -> Receiver {
    let kind = match raw.kind {
        RawReceiverKind::Webhook => ReceiverKind::Webhook,
        RawReceiverKind::Slack => ReceiverKind::Slack { channel: raw.channel.clone() },
        RawReceiverKind::Pagerduty => ReceiverKind::PagerDuty {
            api: match raw.api {
                Some(RawPagerDutyApi::EventsV1) => PagerDutyApi::EventsV1,
                Some(RawPagerDutyApi::EventsV2) | None => PagerDutyApi::EventsV2,
            },
            severity: raw.severity.map(|s| {
                match s {
                    RawPagerDutySeverity::Critical => "critical",
                    RawPagerDutySeverity::Error => "error",
                    RawPagerDutySeverity::Warning => "warning",
                    RawPagerDutySeverity::Info => "info",
                }
                .to_string()
            }),
        },
        RawReceiverKind::Email => {
            let mut required = |key: &str, v: &Option<String>| -> String {
                if v.is_none() {
                    r.error(
                        Code::AlertmanagerRoute,
                        ptr,
                        format!("email receiver `{}` has no `{key}`", raw.name),
                        "an email receiver needs to, from and smarthost (host:port of the SMTP relay)",
                    );
                }
                v.clone().unwrap_or_default()
            };
            let to = required("to", &raw.to);
            let from = required("from", &raw.from);
            let smarthost = required("smarthost", &raw.smarthost);
            for (key, addr) in [("to", &raw.to), ("from", &raw.from)] {
                if addr.as_ref().is_some_and(|a| !a.contains('@')) {
                    r.error(
                        Code::AlertmanagerRoute,
                        &format!("{ptr}/{key}"),
                        format!("`{key}` of receiver `{}` is not an email address", raw.name),
                        "write an address: oncall@example.com",
                    );
                }
            }
            let port_ok = raw.smarthost.as_ref().is_none_or(|s| {
                s.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
            });
            if !port_ok {
                r.error(
                    Code::AlertmanagerRoute,
                    &format!("{ptr}/smarthost"),
                    format!("`smarthost` of receiver `{}` is not host:port", raw.name),
                    "write the SMTP relay with its port: smtp.example.com:587",
                );
            }
            ReceiverKind::Email { to, from, smarthost, auth_username: raw.auth_username.clone() }
        }
    };
    // Keys another type reads would be silently ignored.
    let foreign: [(&str, bool, &str); 7] = [
        ("channel", raw.channel.is_some(), "slack"),
        ("api", raw.api.is_some(), "pagerduty"),
        ("severity", raw.severity.is_some(), "pagerduty"),
        ("to", raw.to.is_some(), "email"),
        ("from", raw.from.is_some(), "email"),
        ("smarthost", raw.smarthost.is_some(), "email"),
        ("auth_username", raw.auth_username.is_some(), "email"),
    ];
    for (key, set, owner) in foreign {
        if set && owner != kind.type_name() {
            r.error_at_key(
                Code::AlertmanagerRoute,
                &format!("{ptr}/{key}"),
                format!("`{key}` is read only by {owner} receivers; `{}` is a {}", raw.name, kind.type_name()),
                "remove it, or change the receiver's type",
            );
        }
    }
    // Which receivers read a credential from the Secret.
    let needs_secret = match &kind {
        ReceiverKind::Email { auth_username, .. } => auth_username.is_some(),
        _ => true,
    };
    match (&raw.secret, needs_secret) {
        (None, true) => r.error(
            Code::AlertmanagerRoute,
            ptr,
            format!(
                "{} receiver `{}` has no `secret`: Alertmanager reads its credential from key `{}` of an existing Secret",
                kind.type_name(),
                raw.name,
                kind.secret_key()
            ),
            format!(
                "secret = \"<Secret name>\"; create it with kubectl create secret generic NAME --from-literal={}=...",
                kind.secret_key()
            ),
        ),
        (Some(_), false) => r.error_at_key(
            Code::AlertmanagerRoute,
            &format!("{ptr}/secret"),
            format!("receiver `{}` reads no credential: an email receiver uses its Secret's password only with auth_username", raw.name),
            "set auth_username (the SMTP user), or remove secret",
        ),
        _ => {}
    }
    Receiver { name: raw.name.clone(), kind, secret: raw.secret.clone(), send_resolved: raw.send_resolved }
}

/// Report every receiver name used twice; the defined names, each with its index.
fn unique_names(receivers: &[Receiver], r: &mut Reporter<'_>) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    for (i, rc) in receivers.iter().enumerate() {
        if let Some(&first) = names.get(&rc.name) {
            let first_span = r.value_span(&format!("/alertmanager/receivers/{first}/name"));
            r.conflict(
                Code::AlertmanagerRoute,
                format!("/alertmanager/receivers/{i}/name"),
                format!("receiver `{}` is defined twice", rc.name),
                (first_span, "first defined here"),
                "Alertmanager refuses two receivers of one name: rename one",
            );
        } else {
            names.insert(rc.name.clone(), i);
        }
    }
    names
}

fn check_receiver(name: &str, ptr: &str, names: &BTreeMap<String, usize>, r: &mut Reporter<'_>) {
    if names.contains_key(name) {
        return;
    }
    let known: Vec<&str> = names.keys().map(String::as_str).collect();
    let help = match crate::model::schema::did_you_mean(name, &known) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "define it in [[alertmanager.receivers]] (name, type, secret)".to_string(),
        None => format!("the receivers are: {}", known.join(", ")),
    };
    r.error(Code::AlertmanagerRoute, ptr, format!("the route sends to receiver `{name}`, which is not defined"), help);
}

fn durations(
    ptr: &str,
    wait: Option<&String>,
    interval: Option<&String>,
    repeat: Option<&String>,
    r: &mut Reporter<'_>,
) -> [Option<Duration>; 3] {
    let mut one = |key: &str, v: Option<&String>, nonzero: bool| {
        let at = format!("{ptr}/{key}");
        let d = v.map(|v| r.duration(&at, Some(v), "0s"));
        if nonzero && d.as_ref().is_some_and(|d| d.millis() == 0) {
            r.error(
                Code::AlertmanagerRoute,
                &at,
                format!("`{key}` cannot be zero"),
                "Alertmanager refuses a zero interval: write e.g. 5m",
            );
        }
        d
    };
    [one("group_wait", wait, false), one("group_interval", interval, true), one("repeat_interval", repeat, true)]
}

/// `...` (group by every label) must stand alone, as Alertmanager requires.
fn group_by(ptr: &str, labels: &[String], r: &mut Reporter<'_>) {
    if labels.len() > 1 && labels.iter().any(|l| l == "...") {
        r.error(
            Code::AlertmanagerRoute,
            ptr,
            "group_by `...` (every label) with other labels".to_string(),
            "write group_by = [\"...\"] alone, or list the labels",
        );
    }
}

fn route(
    raw: Option<&RawRoute>,
    receivers: &[Receiver],
    names: &BTreeMap<String, usize>,
    r: &mut Reporter<'_>,
) -> Option<Route> {
    if receivers.is_empty() && raw.is_none() {
        return None;
    }
    let receiver = match raw.and_then(|x| x.receiver.clone()) {
        Some(name) => {
            check_receiver(&name, "/alertmanager/route/receiver", names, r);
            name
        }
        None if receivers.len() == 1 => receivers[0].name.clone(),
        None => {
            let ptr = if raw.is_some() { "/alertmanager/route" } else { "/alertmanager" };
            r.error(
                Code::AlertmanagerRoute,
                ptr,
                if receivers.is_empty() {
                    "[alertmanager.route] without receivers".to_string()
                } else {
                    "several receivers and no route receiver".to_string()
                },
                "set [alertmanager.route] receiver = the receiver of every alert no child route takes",
            );
            String::new()
        }
    };
    let group_by_labels = raw
        .and_then(|x| x.group_by.clone())
        .unwrap_or_else(|| DEFAULT_GROUP_BY.iter().map(|s| (*s).to_string()).collect());
    group_by("/alertmanager/route/group_by", &group_by_labels, r);
    let [group_wait, group_interval, repeat_interval] = match raw {
        Some(x) => durations(
            "/alertmanager/route",
            x.group_wait.as_ref(),
            x.group_interval.as_ref(),
            x.repeat_interval.as_ref(),
            r,
        ),
        None => [None, None, None],
    };
    let routes = raw
        .and_then(|x| x.routes.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| child(c, &format!("/alertmanager/route/routes/{i}"), names, r))
        .collect();
    Some(Route { receiver, group_by: group_by_labels, group_wait, group_interval, repeat_interval, routes })
}

fn child(raw: &RawChildRoute, ptr: &str, names: &BTreeMap<String, usize>, r: &mut Reporter<'_>) -> ChildRoute {
    check_receiver(&raw.receiver, &format!("{ptr}/receiver"), names, r);
    let matchers = raw.matchers.clone().unwrap_or_default();
    for (i, m) in matchers.iter().enumerate() {
        if let Err(why) = matcher(m) {
            r.error(
                Code::AlertmanagerRoute,
                &format!("{ptr}/matchers/{i}"),
                format!("matcher `{m}` {why}"),
                "write label, operator (=, !=, =~, !~) and a quoted value: severity=\"critical\"",
            );
        }
    }
    let [group_wait, group_interval, repeat_interval] =
        durations(ptr, raw.group_wait.as_ref(), raw.group_interval.as_ref(), raw.repeat_interval.as_ref(), r);
    if let Some(g) = &raw.group_by {
        group_by(&format!("{ptr}/group_by"), g, r);
    }
    ChildRoute {
        receiver: raw.receiver.clone(),
        matchers,
        continue_: raw.continue_.unwrap_or(false),
        group_by: raw.group_by.clone(),
        group_wait,
        group_interval,
        repeat_interval,
    }
}

/// An Alertmanager matcher as stackgen accepts it: a classic label name, an operator and
/// a double-quoted value (or a bare one without quotes, spaces or commas).
fn matcher(m: &str) -> Result<(), &'static str> {
    let m = m.trim();
    let name_end = m.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).ok_or("has no operator")?;
    let (name, rest) = m.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("does not start with a label name");
    }
    let rest = rest.trim_start();
    let op = ["=~", "!~", "!=", "="].into_iter().find(|op| rest.starts_with(op)).ok_or("has no operator")?;
    let value = rest[op.len()..].trim();
    let ok = match value.strip_prefix('"') {
        Some(v) => v.strip_suffix('"').is_some_and(|inner| {
            let mut escaped = false;
            inner.chars().all(|c| {
                let ok = escaped || c != '"';
                escaped = !escaped && c == '\\';
                ok
            }) && !escaped
        }),
        None => !value.contains(['"', ' ', ',', '{', '}']),
    };
    if ok {
        Ok(())
    } else {
        Err("has a value that is not closed or quoted")
    }
}

#[cfg(test)]
mod tests {
    use super::matcher;

    #[test]
    fn matchers() {
        for ok in ["severity=\"critical\"", "team =~ \"db|storage\"", "a!=b", "x!~\"a\\\"b\"", "a=\"\""] {
            assert_eq!(matcher(ok), Ok(()), "{ok}");
        }
        for bad in ["severity", "=x", "1a=b", "a=\"x", "a=b c", "a==\"x\"\""] {
            assert!(matcher(bad).is_err(), "{bad}");
        }
    }
}
