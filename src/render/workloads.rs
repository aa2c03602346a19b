//! Alertmanager and Grafana. Their config files come from minijinja templates under
//! `templates/` (strict undefined), and each rendered file is parsed back before it is
//! embedded, so a template mistake fails in tests, not in a cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::k8s::{self, meta};
use super::pod::{checksum_annotation, pdb, spread, zone_spread};
use super::{storage, Names, Object};
use crate::alerting::receivers::{self, AlertmanagerConfig};
use crate::model::expose::Exposed;

/// Where Alertmanager's config is mounted: beside, not above, the receivers' Secrets at
/// `/etc/alertmanager/secrets/<name>` (a mount inside a read-only ConfigMap volume
/// would need a directory the runtime cannot create there), as the operator does.
const AM_CONFIG_DIR: &str = "/etc/alertmanager/config";
const AM_CONFIG_HEADER: &str = "# Rendered by stackgen from [[alertmanager.receivers]] and [alertmanager.route].\n\
# Credentials are read from files of the receivers' Secrets (the *_file keys).\n";
const ALERTMANAGER_TEMPLATE: &str = include_str!("../../templates/alertmanager.yml.j2");
const DATASOURCES_TEMPLATE: &str = include_str!("../../templates/grafana-datasources.yaml.j2");

/// Render a template strictly. That the result is YAML is checked by tests over every
/// example and fuzzed stack (tests/stream.rs, tests/fuzz.rs), not on every render.
pub fn render_template(name: &str, source: &str, ctx: serde_json::Value) -> String {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut text = env
        .render_str(source, minijinja::Value::from(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| panic!("template {name}: {e}"));
    text.push('\n');
    text
}

pub fn objects(n: &Names<'_>, out: &mut Vec<Object>) {
    let s = n.stack;
    if s.alertmanager.is_some() || s.grafana.is_some() {
        out.push(ui_service_account(n));
    }
    if s.alertmanager.is_some() {
        alertmanager(n, out);
    }
    if s.grafana.is_some() {
        let m = crate::alerting::stack::self_monitoring(s);
        grafana(n, super::dashboard::enabled(n).then_some(&m), out);
    }
}

/// The alertmanager.yml of the stack: with receivers, the config of
/// `alerting::receivers` (credentials read from the mounted Secrets); without, the
/// template's receiver that notifies nobody (SG155).
pub(crate) fn alertmanager_config(am: &crate::model::Alertmanager) -> String {
    match AlertmanagerConfig::of(am) {
        Some(cfg) => format!("{AM_CONFIG_HEADER}{}", receivers::config_yaml(&cfg)),
        None => render_template("alertmanager.yml", ALERTMANAGER_TEMPLATE, json!({})),
    }
}

/// The ServiceAccount of Alertmanager and Grafana (no token).
pub(crate) fn ui_service_account(n: &Names<'_>) -> Object {
    k8s::service_account(&n.obj("ui"), &n.ns(), n.labels("stackgen", "ui", None), false)
}

fn alertmanager(n: &Names<'_>, out: &mut Vec<Object>) {
    let am = n.stack.alertmanager.as_ref().expect("enabled");
    let ns = n.ns();
    let name = n.obj("alertmanager");
    let labels = n.labels("alertmanager", "alertmanager", None);
    let sel = n.selector("alertmanager", None);
    let receivers = AlertmanagerConfig::of(am);
    let config = alertmanager_config(am);
    let checksum = checksum_annotation(&name, &config);
    let mut data = BTreeMap::new();
    data.insert("alertmanager.yml".to_string(), config);
    out.push(k8s::config_map(&name, &ns, labels.clone(), data));

    let mut svc = k8s::service(
        &name,
        &ns,
        labels.clone(),
        sel.clone(),
        vec![k8s::service_port("web", 9093), k8s::service_port("cluster", 9094)],
        true,
    );
    // Peers must find each other before they are ready.
    if let Some(spec) = svc.spec.as_mut() {
        spec.publish_not_ready_addresses = Some(true);
    }
    out.push(Object::new(&svc));

    let mut args = vec![
        format!("--config.file={AM_CONFIG_DIR}/alertmanager.yml"),
        "--storage.path=/alertmanager".into(),
        "--web.listen-address=:9093".into(),
        "--cluster.listen-address=0.0.0.0:9094".into(),
        "--cluster.advertise-address=$(POD_IP):9094".into(),
    ];
    for i in 0..am.replicas {
        args.push(format!("--cluster.peer={name}-{i}.{}:9094", n.svc_fqdn(&name)));
    }
    if let Some(url) = super::expose::external_url(n, Exposed::Alertmanager) {
        // Links in notifications and silences point where users reach it.
        args.push(format!("--web.external-url={url}"));
    }
    let mut c = k8s::container("alertmanager", am.image.reference(), args);
    c.env = Some(vec![k8s::env_field("POD_IP", "status.podIP")]);
    c.ports = Some(vec![k8s::port("web", 9093), k8s::port("cluster", 9094)]);
    c.resources = Some(k8s::requirements(&am.resources));
    c.readiness_probe = Some(k8s::http_probe("/-/ready", "web", 10, 3));
    c.liveness_probe = Some(k8s::http_probe("/-/healthy", "web", 15, 4));
    let mut mounts = vec![k8s::mount("config", AM_CONFIG_DIR, true), k8s::mount("data", "/alertmanager", false)];
    let mut volumes = vec![k8s::config_map_volume("config", &name)];
    // Each receiver Secret at <SECRETS_DIR>/<secret>/, where the config's *_file keys
    // point (the layout the operator uses for spec.secrets).
    for (i, m) in receivers.iter().flat_map(AlertmanagerConfig::mounts).enumerate() {
        let volume = format!("receivers-{i}");
        mounts.push(k8s::mount(&volume, &m.mount_path, true));
        volumes.push(Volume {
            name: volume,
            secret: Some(k8s_openapi::api::core::v1::SecretVolumeSource {
                secret_name: Some(m.secret),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    c.volume_mounts = Some(mounts);
    let claims = match storage::component_class(n) {
        Some(class) => {
            Some(vec![k8s::claim("data", None, sel.clone(), &class, am.size, storage::component_selector(n, &name))])
        }
        None => {
            volumes.push(k8s::empty_dir("data", Some(am.size)));
            None
        }
    };
    // Scraped by the static `alertmanager` job of every shard, which works without
    // Kubernetes discovery too; no prometheus.io/scrape annotation, or the
    // kubernetes-pods job would scrape each pod a second time.
    let annotations = BTreeMap::from([checksum]);
    out.push(Object::new(&StatefulSet {
        metadata: meta(&name, Some(&ns), labels.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(am.replicas as i32),
            service_name: Some(name.clone()),
            pod_management_policy: Some("Parallel".into()),
            selector: k8s::selector(sel.clone()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(n.obj("ui")),
                    automount_service_account_token: Some(false),
                    security_context: Some(k8s::pod_security(65534, 65534)),
                    affinity: Some(spread(sel.clone())),
                    topology_spread_constraints: Some(zone_spread(sel.clone())),
                    containers: vec![c],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            volume_claim_templates: claims,
            ..Default::default()
        }),
        ..Default::default()
    }));
    if am.replicas > 1 {
        out.push(pdb(&name, &ns, labels, sel));
    }
}

/// Grafana with its datasources and, with `monitoring` (self-monitoring on), the
/// dashboard of the stack itself (`render::dashboard`) querying the default datasource.
pub(crate) fn grafana(
    n: &Names<'_>,
    monitoring: Option<&crate::alerting::builtin::SelfMonitoring>,
    out: &mut Vec<Object>,
) {
    let s = n.stack;
    let g = s.grafana.as_ref().expect("enabled");
    let ns = n.ns();
    let name = n.obj("grafana");
    let labels = n.labels("grafana", "grafana", None);
    let sel = n.selector("grafana", None);
    // Thanos Query when Thanos is on; else one datasource per shard, retired ones included
    // (named as before the shrink: their data is still served).
    let datasources: Vec<serde_json::Value> = if s.thanos.is_some() {
        vec![
            json!({"name": "Thanos", "uid": "thanos", "url": format!("http://{}:10902", n.svc_fqdn(&n.obj("thanos-query"))), "default": true, "thanos": true}),
        ]
    } else {
        let one = s.sharding.kept() == 1;
        (0..s.sharding.kept())
            .map(|i| {
                let label = if one { "Prometheus".to_string() } else { format!("Prometheus shard {i}") };
                let uid = if one { "prometheus".to_string() } else { format!("prometheus-shard-{i}") };
                json!({"name": label, "uid": uid, "url": format!("http://{}:9090", n.svc_fqdn(&n.shard(&i.to_string()))), "default": i == 0, "thanos": false})
            })
            .collect()
    };
    let text = render_template(
        "grafana-datasources.yaml",
        DATASOURCES_TEMPLATE,
        json!({"datasources": datasources, "scrape_interval": s.prometheus.scrape_interval.as_str()}),
    );
    // The dashboard queries the datasources provisioned here, by uid: Thanos Query (whose
    // series carry the shards' `shard` external label), or one of the shards.
    let source = crate::alerting::dashboard::Source {
        datasources: datasources
            .iter()
            .map(|d| {
                (d["name"].as_str().unwrap_or_default().to_string(), d["uid"].as_str().unwrap_or_default().to_string())
            })
            .collect(),
        shard_label: s.thanos.is_some(),
    };
    let cm = n.obj("grafana-datasources");
    let mut annotations = BTreeMap::from([checksum_annotation(&cm, &text)]);
    let mut data = BTreeMap::new();
    data.insert("datasources.yaml".to_string(), text);
    out.push(k8s::config_map(&cm, &ns, labels.clone(), data));
    out.push(Object::new(&k8s::service(
        &name,
        &ns,
        labels.clone(),
        sel.clone(),
        vec![k8s::service_port("http", 3000)],
        false,
    )));

    let mut volumes = vec![k8s::config_map_volume("datasources", &cm), k8s::empty_dir("tmp", None)];
    let mut mounts = vec![
        k8s::mount("data", "/var/lib/grafana", false),
        k8s::mount("datasources", "/etc/grafana/provisioning/datasources", true),
        k8s::mount("tmp", "/tmp", false),
    ];
    if let Some(m) = monitoring {
        let dash = super::dashboard::config_map(n, m, &source, true, &[]);
        let name = super::dashboard::config_map_name(n);
        let text: String =
            dash.value["data"].as_object().into_iter().flatten().filter_map(|(_, v)| v.as_str()).collect();
        annotations.extend([checksum_annotation(&name, &text)]);
        out.push(dash);
        volumes.push(k8s::config_map_volume("dashboards", &name));
        mounts.push(k8s::mount("dashboards", super::dashboard::PROVISIONING_DIR, true));
    }
    match storage::component_class(n) {
        Some(class) => {
            let selector = storage::component_selector(n, &name);
            out.push(Object::new(&k8s::claim(&name, Some(&ns), labels.clone(), &class, g.size, selector)));
            volumes.push(Volume {
                name: "data".into(),
                persistent_volume_claim: Some(k8s_openapi::api::core::v1::PersistentVolumeClaimVolumeSource {
                    claim_name: name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        None => volumes.push(k8s::empty_dir("data", Some(g.size))),
    }
    let mut c = k8s::container("grafana", g.image.reference(), Vec::new());
    c.args = None;
    let mut env = vec![
        k8s::env_value("GF_PATHS_DATA", "/var/lib/grafana"),
        k8s::env_value("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
        k8s::env_value("GF_ANALYTICS_REPORTING_ENABLED", "false"),
        k8s::env_value("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
        // Grafana 12 downloads its preinstalled plugins at start; the egress policy (and
        // many clusters) block it, and the volume would fill with what nobody asked for.
        k8s::env_value("GF_PLUGINS_PREINSTALL_DISABLED", "true"),
    ];
    if let Some(url) = super::expose::external_url(n, Exposed::Grafana) {
        // Redirects (login, SSO callbacks) and links in alerts use the Ingress host.
        env.push(k8s::env_value("GF_SERVER_ROOT_URL", &url));
    }
    if let Some(secret) = &g.admin_secret {
        // Grafana reads `<VAR>__FILE` from a file: the password never enters the
        // environment.
        env.push(k8s::env_value("GF_SECURITY_ADMIN_USER__FILE", "/etc/grafana/admin/admin-user"));
        env.push(k8s::env_value("GF_SECURITY_ADMIN_PASSWORD__FILE", "/etc/grafana/admin/admin-password"));
        mounts.push(k8s::mount("admin", "/etc/grafana/admin", true));
        volumes.push(Volume {
            name: "admin".into(),
            secret: Some(k8s_openapi::api::core::v1::SecretVolumeSource {
                secret_name: Some(secret.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    c.env = Some(env);
    c.ports = Some(vec![k8s::port("http", 3000)]);
    c.resources = Some(k8s::requirements(&g.resources));
    c.readiness_probe = Some(k8s::http_probe("/api/health", "http", 10, 3));
    c.liveness_probe = Some(k8s::http_probe("/api/health", "http", 15, 6));
    c.volume_mounts = Some(mounts);
    out.push(Object::new(&Deployment {
        metadata: meta(&name, Some(&ns), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: k8s::selector(sel),
            // A ReadWriteOnce volume cannot attach to the new pod while the old one runs
            // (Multi-Attach error): stop first, then start.
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".into()), ..Default::default() }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(n.obj("ui")),
                    automount_service_account_token: Some(false),
                    security_context: Some(k8s::pod_security(65534, 65534)),
                    containers: vec![c],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }));
}
