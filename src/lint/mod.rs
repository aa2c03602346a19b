//! Lint rules over a validated stack: warnings about choices that are legal but lose data
//! or surprise operators. Each rule reports at the key that causes it; codes and long
//! texts live in the registry (`diagnostic/codes.rs`).

pub mod suppress;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Backend, ReclaimPolicy, Stack};
use crate::source::Parsed;

const GIB: u64 = 1 << 30;
const WEEK_MS: u64 = 7 * 86_400_000;

struct Out<'a> {
    parsed: &'a Parsed,
    diags: Vec<Diagnostic>,
}

impl Out<'_> {
    fn at(&mut self, code: Code, ptr: &str, msg: String, help: &str) {
        let place = self.parsed.place(ptr);
        let span = if self.parsed.has(ptr) { place.value } else { place.key };
        self.diags.push(Diagnostic::new(code, msg, span).with_help(help).with_path(ptr));
    }
}

/// All lint findings for a valid stack.
pub fn lint(stack: &Stack, parsed: &Parsed) -> Vec<Diagnostic> {
    let mut o = Out { parsed, diags: Vec::new() };
    let s = stack;
    let p = &s.prometheus;
    match &s.storage.backend {
        Backend::Ephemeral => o.at(
            Code::Ephemeral,
            "/storage/backend",
            "backend = \"ephemeral\": Prometheus data is an emptyDir and is lost on every restart".into(),
            "use a persistent backend unless this is a throw-away stack",
        ),
        Backend::Nfs { .. } | Backend::NfsProvisioner { .. } => o.at(
            Code::NfsTsdb,
            "/storage/backend",
            "NFS is not a supported filesystem for the Prometheus TSDB".into(),
            "prefer local SSDs, iSCSI, Ceph RBD or a block StorageClass; see `stackgen explain SG102`",
        ),
        _ => {}
    }
    if matches!(s.storage.backend, Backend::NfsProvisioner { .. }) {
        o.at(
            Code::RootProvisioner,
            "/storage/nfs/provisioner",
            "the NFS subdir provisioner runs as root; the namespace enforces Pod Security \"baseline\", not \"restricted\"".into(),
            "prefer static NFS PVs (provisioner = false) or a CSI driver",
        );
    }
    if s.storage.reclaim_policy == ReclaimPolicy::Delete
        && p.retention.millis() > WEEK_MS
        && !matches!(s.storage.backend, Backend::Ephemeral)
    {
        o.at(
            Code::ReclaimDelete,
            "/storage/reclaim_policy",
            format!(
                "reclaim_policy = \"Delete\" with {} of retention: deleting a claim deletes the history",
                p.retention
            ),
            "keep reclaim_policy = \"Retain\" for long-lived data",
        );
    }
    if let Some(full) = s.storage.size {
        // While claims are resized, the volumes that exist are `claims_size`.
        let size = s.storage.claims_size.map_or(full, |c| c.min(full));
        let (what, size_ptr) =
            if size < full { ("the existing claims", "/storage/claims_size") } else { ("the volume", "/storage/size") };
        if let Some(rs) = p.retention_size {
            let ptr = "/prometheus/retention_size";
            if rs >= size {
                let mut d = Diagnostic::error(
                    Code::RetentionSize,
                    format!("retention_size {} is not below {what} size {}: the disk fills before Prometheus deletes blocks", rs.prometheus(), size.quantity()),
                    parsed.place(ptr).value,
                )
                .with_help(format!("use retention_size = \"auto\" ({}) or at most 85% of the volume", size.percent_floor(85).prometheus()))
                .with_path(ptr);
                d.related.push((parsed.place(size_ptr).value, "volume size set here".into()));
                o.diags.push(d);
            } else if rs.get() as f64 > size.get() as f64 * 0.85 {
                o.at(
                    Code::RetentionSize,
                    ptr,
                    format!(
                        "retention_size {} is over 85% of {what} {}: little room is left for the WAL and compaction",
                        rs.prometheus(),
                        size.quantity()
                    ),
                    "the Prometheus docs recommend at most 80-85% of the disk; retention_size = \"auto\" picks 85%",
                );
                if let Some(d) = o.diags.last_mut() {
                    d.severity = crate::diagnostic::Severity::Warning;
                }
            }
        }
        if let Some(rate) = p.ingestion_rate {
            let per_shard = rate as f64 / f64::from(s.sharding.shards);
            let need = per_shard * (p.retention.millis() as f64 / 1000.0) * 2.0;
            let limit = p.retention_size.map_or(size.get(), crate::model::Bytes::get) as f64;
            if need > limit {
                o.at(
                    Code::DiskEstimate,
                    "/prometheus/ingestion_rate",
                    format!(
                        "{} of retention at {:.0} samples/s per shard needs about {:.0} GiB per volume; {} holds {:.0} GiB",
                        p.retention,
                        per_shard,
                        need / GIB as f64,
                        if p.retention_size.is_some() { "retention_size" } else { "the volume" },
                        limit / GIB as f64
                    ),
                    "raise [storage] size, add shards, or shorten retention",
                );
            }
        }
        if size.get() < GIB {
            o.at(
                Code::SmallVolume,
                "/storage/size",
                format!("volume size {} is under 1Gi", size.quantity()),
                "Prometheus needs room for the WAL and 2h blocks",
            );
        }
    }
    if s.sharding.shards > 1 && s.thanos.is_none() {
        o.at(
            Code::ShardsWithoutThanos,
            "/sharding/shards",
            format!("{} shards and no [thanos]: no single place sees all series", s.sharding.shards),
            "add [thanos] for a global Query; Grafana gets one datasource per shard meanwhile",
        );
    }
    if let Some(t) = &s.thanos {
        let c = &t.compactor;
        if c.retention_raw.millis() != 0 && c.retention_raw.millis() < 40 * 3_600_000 {
            o.at(
                Code::CompactorRetention,
                "/thanos/compactor/retention_raw",
                format!(
                    "retention_raw {} is under 40h: raw data is deleted before it is downsampled to 5m",
                    c.retention_raw
                ),
                "use at least 40h, or 0d to keep it forever",
            );
        }
        if c.retention_5m.millis() != 0 && c.retention_5m.millis() < 10 * 86_400_000 {
            o.at(
                Code::CompactorRetention,
                "/thanos/compactor/retention_5m",
                format!(
                    "retention_5m {} is under 10d: 5m data is deleted before it is downsampled to 1h",
                    c.retention_5m
                ),
                "use at least 10d, or 0d to keep it forever",
            );
        }
    }
    component_storage(&mut o, s);
    let ns = s.namespace.as_str();
    if ns == "default" {
        o.at(
            Code::NamespaceDefault,
            "/stack/namespace",
            "namespace = \"default\": stackgen renders no Namespace and sets no Pod Security labels there".into(),
            "give the stack a namespace of its own, e.g. namespace = \"monitoring\"",
        );
    } else if crate::model::cluster_owned_namespace(ns) {
        o.at(
            Code::NamespaceKube,
            "/stack/namespace",
            format!("namespace = \"{ns}\" belongs to the cluster; stackgen never renders into kube-* namespaces"),
            "use a namespace of its own, e.g. namespace = \"monitoring\"",
        );
    }
    if s.kubernetes.control_plane {
        o.at(
            Code::ControlPlaneLocalhost,
            "/kubernetes/control_plane",
            "control_plane = true scrapes etcd, kube-scheduler and kube-controller-manager on their pod IPs; kubeadm binds their metrics to 127.0.0.1".into(),
            "on kubeadm clusters set etcd listen-metrics-urls=http://0.0.0.0:2381 and bind-address=0.0.0.0 for kube-scheduler and kube-controller-manager, or keep control_plane = false",
        );
    }
    if let Some(g) = &s.grafana {
        if g.admin_secret.is_none() {
            o.at(
                Code::GrafanaAdmin,
                "/grafana",
                "Grafana has no admin_secret and starts with admin/admin".into(),
                "set admin_secret to a Secret with admin-user and admin-password",
            );
        }
    }
    o.diags
}

/// SG121: on a static backend every component with data says where it lives; SG103:
/// enough `component_luns` for the component pods.
fn component_storage(o: &mut Out<'_>, s: &Stack) {
    let st = &s.storage;
    if !st.backend.is_static() || st.component_class.is_some() || st.ephemeral_components {
        return;
    }
    let n = crate::render::Names { stack: s };
    let volumes = crate::render::storage::component_volumes(&n);
    match &st.backend {
        Backend::Nfs { .. } | Backend::Local { component_path: Some(_), .. } => {}
        Backend::Iscsi { component_luns, .. } if !component_luns.is_empty() => {
            if component_luns.len() < volumes.len() {
                let pods: Vec<&str> = volumes.iter().map(|v| v.2.as_str()).collect();
                o.at(
                    Code::VolumeCount,
                    "/storage/iscsi/component_luns",
                    format!(
                        "{} component LUN(s) for {} component volumes ({}): each needs a LUN of its own",
                        component_luns.len(),
                        volumes.len(),
                        pods.join(", ")
                    ),
                    &format!("list {} LUNs in component_luns, or set component_class", volumes.len()),
                );
            }
        }
        backend => {
            let how = match backend {
                Backend::Local { .. } => "component_path in [storage.local]",
                _ => "component_luns in [storage.iscsi]",
            };
            let mut seen = Vec::new();
            for (owner, ..) in &volumes {
                let (component, key, what) = if owner.ends_with("-alertmanager") {
                    ("Alertmanager", "/alertmanager", "silences and notification log")
                } else if owner.ends_with("-grafana") {
                    ("Grafana", "/grafana", "database (users, dashboards saved in the UI)")
                } else if owner.ends_with("-thanos-store") {
                    ("Thanos Store Gateway", "/thanos", "index cache")
                } else {
                    ("Thanos Compactor", "/thanos", "work directory")
                };
                if seen.contains(&component) {
                    continue;
                }
                seen.push(component);
                o.at(
                    Code::ComponentEphemeral,
                    key,
                    format!(
                        "{component} would keep its {what} in an emptyDir on the static {} backend: lost on every restart",
                        backend.name()
                    ),
                    &format!("set [storage] component_class, or {how}, or [storage] ephemeral_components = true"),
                );
            }
        }
    }
}

/// Values and keys that look like credentials, wherever they are (the shapes of
/// [`crate::secrets`]). The message names the key path, never the value; a key that is
/// itself a credential is reported by its table, never by name.
pub fn secret_values(parsed: &Parsed) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    scan(&parsed.json, String::new(), parsed, &mut out);
    out
}

fn dotted(ptr: &str) -> String {
    ptr.trim_start_matches('/').replace('/', ".").replace("~1", "/").replace("~0", "~")
}

fn secret_diag(msg: String, span: std::ops::Range<usize>, ptr: String) -> Diagnostic {
    let mut d = Diagnostic::new(Code::SecretValue, msg, span)
        .with_help("remove it; put credentials in a Secret and reference it by name")
        .with_path(ptr);
    d.redact = true;
    d
}

fn scan(v: &serde_json::Value, ptr: String, parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    match v {
        serde_json::Value::String(s) if crate::secrets::contains(s) => {
            let what = if crate::secrets::find(s).iter().any(|r| s[r.clone()].contains('@')) {
                "holds credentials in a URL (user:password@)"
            } else {
                "looks like a credential"
            };
            out.push(secret_diag(format!("the value of `{}` {what}", dotted(&ptr)), parsed.place(&ptr).key, ptr));
        }
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let child = format!("{ptr}/{}", crate::source::pointer_escape(k));
                if crate::secrets::contains(k) {
                    let table =
                        if ptr.is_empty() { "the top level".to_string() } else { format!("`{}`", dotted(&ptr)) };
                    out.push(secret_diag(
                        format!("a key in {table} looks like a credential"),
                        parsed.place(&child).key,
                        ptr.clone(),
                    ));
                    continue;
                }
                scan(v, child, parsed, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                scan(v, format!("{ptr}/{i}"), parsed, out);
            }
        }
        _ => {}
    }
}
