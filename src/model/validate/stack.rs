//! `[stack]`: the name every object starts with, the namespace, the Kubernetes version
//! and the labels put on every object.

use std::collections::BTreeMap;

use super::Reporter;
use crate::diagnostic::Code;
use crate::model::raw::RawMeta;
use crate::model::{K8sName, KUBERNETES_VERSIONS, MAX_STACK_NAME};
use crate::source::pointer_escape;

/// The validated `[stack]` table.
pub(super) struct Meta {
    pub name: K8sName,
    pub namespace: K8sName,
    pub kubernetes_version: String,
    pub labels: BTreeMap<String, String>,
    pub create_namespace: bool,
}

pub(super) fn validate(raw: &RawMeta, r: &mut Reporter<'_>) -> Meta {
    let name: K8sName = raw.name.parse().unwrap_or_else(|e| {
        r.error(Code::InvalidValue, "/stack/name", e, "lower-case letters, digits and `-`: prod-eu-1");
        "invalid".parse().expect("valid")
    });
    if name.as_str().len() > MAX_STACK_NAME {
        r.error(
            Code::NameTooLong,
            "/stack/name",
            format!(
                "stack name `{name}` is {} characters; at most {MAX_STACK_NAME} keep every object name within 63",
                name.as_str().len()
            ),
            "shorten the name; it prefixes every object (`<name>-prometheus-shard-0`)",
        );
    }
    let namespace: K8sName = raw.namespace.as_deref().unwrap_or("monitoring").parse().unwrap_or_else(|e| {
        r.error(Code::InvalidValue, "/stack/namespace", e, "a DNS-1123 label such as `monitoring`");
        "monitoring".parse().expect("valid")
    });
    let kubernetes_version = raw.kubernetes_version.clone().unwrap_or_else(|| KUBERNETES_VERSIONS[0].to_string());
    if !KUBERNETES_VERSIONS.contains(&kubernetes_version.as_str()) {
        r.error(
            Code::UnsupportedKubernetes,
            "/stack/kubernetes_version",
            format!("Kubernetes {kubernetes_version} is not a version stackgen targets"),
            format!("use one of {}", KUBERNETES_VERSIONS.join(", ")),
        );
    }
    let labels = raw.labels.clone().unwrap_or_default();
    for k in labels.keys() {
        if k.starts_with("app.kubernetes.io/") || k.starts_with("stackgen.dev/") {
            r.error_at_key(
                Code::InvalidValue,
                &format!("/stack/labels/{}", pointer_escape(k)),
                format!("label `{k}` is set by stackgen itself"),
                "choose another key; stackgen owns app.kubernetes.io/* and stackgen.dev/*",
            );
        }
    }
    Meta { name, namespace, kubernetes_version, labels, create_namespace: raw.create_namespace.unwrap_or(true) }
}
