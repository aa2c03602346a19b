//! Small builders for the k8s-openapi types every component uses: metadata, the
//! restricted security contexts, probes, ports, volumes and claims.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, Namespace, ObjectFieldSelector,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, Probe, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Names, Object};
use crate::model::Bytes;

/// A ConfigMap of `data` (file name → text).
pub fn config_map(name: &str, ns: &str, labels: BTreeMap<String, String>, data: BTreeMap<String, String>) -> Object {
    Object::new(&k8s_openapi::api::core::v1::ConfigMap {
        metadata: meta(name, Some(ns), labels),
        data: Some(data),
        ..Default::default()
    })
}

/// A ServiceAccount; `token`: whether its pods get an API token mounted.
pub fn service_account(name: &str, ns: &str, labels: BTreeMap<String, String>, token: bool) -> Object {
    Object::new(&k8s_openapi::api::core::v1::ServiceAccount {
        metadata: meta(name, Some(ns), labels),
        automount_service_account_token: Some(token),
        ..Default::default()
    })
}

pub fn meta(name: &str, namespace: Option<&str>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels),
        ..Default::default()
    }
}

pub fn namespace(n: &Names<'_>) -> Object {
    let mut labels = n.labels("namespace", "namespace", None);
    // Pod Security Admission: every pod of the stack meets "restricted", except the NFS
    // subdir provisioner, which mounts an NFS volume and runs as root (lint SG121).
    let level = if matches!(n.stack.storage.backend, crate::model::Backend::NfsProvisioner { .. }) {
        "baseline"
    } else {
        "restricted"
    };
    labels.insert("pod-security.kubernetes.io/enforce".into(), level.into());
    labels.insert("pod-security.kubernetes.io/warn".into(), "restricted".into());
    labels.insert("pod-security.kubernetes.io/audit".into(), "restricted".into());
    Object::new(&Namespace { metadata: meta(&n.ns(), None, labels), ..Default::default() })
}

pub fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector { match_labels: Some(labels), ..Default::default() }
}

pub fn q(s: impl Into<String>) -> Quantity {
    Quantity(s.into())
}

pub fn resources(cpu: &str, memory: &str, memory_limit: &str, cpu_limit: Option<&str>) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    requests.insert("cpu".to_string(), q(cpu));
    requests.insert("memory".to_string(), q(memory));
    let mut limits = BTreeMap::new();
    limits.insert("memory".to_string(), q(memory_limit));
    if let Some(c) = cpu_limit {
        limits.insert("cpu".to_string(), q(c));
    }
    ResourceRequirements { requests: Some(requests), limits: Some(limits), ..Default::default() }
}

/// A component's `resources` from the model, as a container's requirements.
pub fn requirements(r: &crate::model::Resources) -> ResourceRequirements {
    resources(r.cpu.as_str(), r.memory.as_str(), r.memory_limit.as_str(), r.cpu_limit.as_ref().map(|c| c.as_str()))
}

/// The Pod Security "restricted" pod context.
pub fn pod_security(user: i64, group: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_user: Some(user),
        run_as_group: Some(group),
        fs_group: Some(group),
        // Re-owning a large migrated TSDB on every start takes minutes; only do it when
        // the volume root is not already ours.
        fs_group_change_policy: Some("OnRootMismatch".into()),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

/// The Pod Security "restricted" container context, with a read-only root filesystem.
pub fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

pub fn http_probe(path: &str, port: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port.into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

pub fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

pub fn service_port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port: number,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

/// A ClusterIP Service (headless: `clusterIP: None`) selecting `selector`.
pub fn service(
    name: &str,
    ns: &str,
    labels: BTreeMap<String, String>,
    selector: BTreeMap<String, String>,
    ports: Vec<ServicePort>,
    headless: bool,
) -> Service {
    Service {
        metadata: meta(name, Some(ns), labels),
        spec: Some(ServiceSpec {
            cluster_ip: headless.then(|| "None".to_string()),
            type_: Some("ClusterIP".into()),
            selector: Some(selector),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

pub fn config_map_volume(name: &str, config_map: &str) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(k8s_openapi::api::core::v1::ConfigMapVolumeSource {
            name: config_map.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn empty_dir(name: &str, limit: Option<Bytes>) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(k8s_openapi::api::core::v1::EmptyDirVolumeSource {
            size_limit: limit.map(|b| q(b.quantity())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn env_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: secret.into(), key: key.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn env_value(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() }
}

/// A claim (template) with an explicit class: never left empty, so a default
/// StorageClass cannot take a claim meant for a static PV (an empty class means the
/// default one, whose provisioner would make a new, empty volume).
pub fn claim(
    name: &str,
    namespace: Option<&str>,
    labels: BTreeMap<String, String>,
    class: &str,
    size: Bytes,
    selector: Option<BTreeMap<String, String>>,
) -> PersistentVolumeClaim {
    let mut requests = BTreeMap::new();
    requests.insert("storage".to_string(), q(size.quantity()));
    PersistentVolumeClaim {
        metadata: meta(name, namespace, labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: Some(class.into()),
            // A selector, even an empty one, blocks dynamic provisioning (provisioners refuse
            // claims with one):
            // only static PVs get one.
            selector: selector.map(super::k8s::selector),
            resources: Some(VolumeResourceRequirements { requests: Some(requests), ..Default::default() }),
            volume_mode: Some("Filesystem".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A container with the restricted context and the given essentials.
pub fn container(name: &str, image: String, args: Vec<String>) -> Container {
    Container {
        name: name.into(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(args),
        security_context: Some(container_security()),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    }
}
