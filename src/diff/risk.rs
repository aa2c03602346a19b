//! Risk markers: changes Kubernetes rejects (immutable fields) and changes that delete,
//! strand or move data (storage class or backend, reclaim policy, shorter retention,
//! removed volumes, shard count). Shard moves of static targets are computed with
//! stackgen's own [`hashmod`](crate::model::sharding::hashmod), the function the generated
//! relabel rules run.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Key;
use crate::model::jobs::builtin_job_names;
use crate::model::sharding::shard_of;
use crate::model::{units::parse_prometheus_bytes, Duration, KubernetesJobs, Stack};

/// What a risk does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// The API server refuses the change: `kubectl apply` fails.
    Rejected,
    /// Data is deleted, or left on volumes nothing reads.
    DataLoss,
    /// Series move between Prometheus shards.
    DataMoves,
    /// Apply succeeds, but something must be done by hand first, or data stays out of
    /// reach (a claim Pending on a Released volume, a claim that must be resized).
    ActionNeeded,
    /// Pods are re-created (a rolling restart; Prometheus replays its WAL).
    Restart,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Rejected => "rejected",
            Category::DataLoss => "data-loss",
            Category::DataMoves => "data-moves",
            Category::ActionNeeded => "action-needed",
            Category::Restart => "restart",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Risk {
    /// Stable code: `immutable-field`, `storage-class`, `storage-backend`,
    /// `reclaim-policy`, `retention-shorter`, `retention-size-smaller`,
    /// `object-storage-retention-shorter`, `volume-removed`, `shard-count`, `targets-move`,
    /// `data-layout`.
    pub code: &'static str,
    pub category: Category,
    /// The object concerned; `None` for stack-wide risks.
    pub object: Option<Key>,
    /// JSON pointer of the field in the object.
    pub path: Option<String>,
    pub message: String,
    /// What to run or do about it.
    pub action: Option<String>,
}

fn risk(code: &'static str, category: Category, key: &Key, path: &str, message: String) -> Risk {
    Risk {
        code,
        category,
        object: Some(key.clone()),
        path: (!path.is_empty()).then(|| path.to_string()),
        message,
        action: None,
    }
}

/// A change Kubernetes rejects, with what to run instead.
fn immutable(key: &Key, path: &str, message: String, action: String) -> Risk {
    let mut r = risk("immutable-field", Category::Rejected, key, path, message);
    r.action = Some(action);
    r
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(unset)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn ns_flag(key: &Key) -> String {
    key.namespace.as_ref().map(|n| format!(" -n {n}")).unwrap_or_default()
}

/// Risks of one changed object; `old` is already reduced to what stackgen sets.
pub fn changed(key: &Key, old: &Value, new: &Value) -> Vec<Risk> {
    let mut out = Vec::new();
    if matches!(key.kind.as_str(), "StatefulSet" | "Deployment" | "DaemonSet")
        && old.pointer("/spec/template") != new.pointer("/spec/template")
    {
        out.push(restart(key, old, new));
    }
    match key.kind.as_str() {
        "StatefulSet" => statefulset(key, old, new, &mut out),
        "Deployment" if old.pointer("/spec/selector") != new.pointer("/spec/selector") => {
            out.push(immutable(
                key,
                "/spec/selector",
                format!("Deployment {} changes spec.selector, which is immutable: apply fails", key.name),
                format!("kubectl delete deployment {}{}, then apply again", key.name, ns_flag(key)),
            ));
        }
        "Service" => {
            let (o, n) = (old.pointer("/spec/clusterIP"), new.pointer("/spec/clusterIP"));
            if n.is_some() && o != n {
                out.push(immutable(
                    key,
                    "/spec/clusterIP",
                    format!(
                        "Service {} changes spec.clusterIP ({} → {}), which is immutable: apply fails",
                        key.name,
                        show(o),
                        show(n)
                    ),
                    format!("kubectl delete service {}{}, then apply again", key.name, ns_flag(key)),
                ));
            }
        }
        "PersistentVolume" => pv(key, old, new, &mut out),
        "PersistentVolumeClaim" => pvc(key, old, new, "/spec", &mut out),
        "StorageClass" => storage_class(key, old, new, &mut out),
        _ => {}
    }
    out
}

/// A pod template change: every pod is re-created. A change of prometheus.yml alone is
/// not one (the config reloader applies it in place), so this marks exactly the changes
/// that cost a restart.
fn restart(key: &Key, old: &Value, new: &Value) -> Risk {
    let (o, n) = (old.pointer("/spec/template"), new.pointer("/spec/template"));
    let mut what: Vec<String> = Vec::new();
    let ann = |v: Option<&Value>| v.and_then(|t| t.pointer("/metadata/annotations")).cloned().unwrap_or(Value::Null);
    let (oa, na) = (ann(o), ann(n));
    for (k, v) in na.as_object().into_iter().flatten() {
        if let Some(name) = k.strip_prefix("checksum/") {
            if oa.get(k) != Some(v) {
                what.push(format!("ConfigMap {name}"));
            }
        }
    }
    let spec = |v: Option<&Value>| v.and_then(|t| t.get("spec")).cloned();
    if spec(o) != spec(n) {
        what.push("the pod spec".into());
    }
    if what.is_empty() {
        what.push("the pod template metadata".into());
    }
    let prometheus = arg(new, "--storage.tsdb.path").is_some();
    let how = match key.kind.as_str() {
        "StatefulSet" => "one pod at a time, highest ordinal first",
        _ => "by the rollout strategy",
    };
    risk(
        "pod-restart",
        Category::Restart,
        key,
        "/spec/template",
        format!(
            "{} {}: pods restart ({how}) because {} changed{}",
            key.kind,
            key.name,
            what.join(" and "),
            if prometheus {
                "; each Prometheus replays its WAL before it is ready (minutes on a large TSDB), while its HA peer serves"
            } else {
                ""
            }
        ),
    )
}

fn statefulset(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let mut fields = Vec::new();
    for f in ["selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy"] {
        let p = format!("/spec/{f}");
        if old.pointer(&p) != new.pointer(&p) {
            fields.push(f);
        }
    }
    if !fields.is_empty() {
        out.push(immutable(
            key,
            &format!("/spec/{}", fields[0]),
            format!(
                "StatefulSet {} changes spec.{}, immutable: apply fails. Pods and claims survive an orphaning delete; \
                 existing claims keep their old spec (volumeClaimTemplates only shape new claims)",
                key.name,
                fields.join(", spec.")
            ),
            format!("kubectl delete statefulset {}{} --cascade=orphan, then apply again", key.name, ns_flag(key)),
        ));
    }
    // Claim templates by name: a class change strands the data of existing claims.
    let empty = Vec::new();
    let olds = old.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array).unwrap_or(&empty);
    let news = new.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array).unwrap_or(&empty);
    for (i, n) in news.iter().enumerate() {
        let name = n["metadata"]["name"].as_str().unwrap_or_default();
        let Some(o) = olds.iter().find(|o| o["metadata"]["name"].as_str() == Some(name)) else { continue };
        volume_grow(key, i, o, n, new, out);
        let (oc, nc) = (o.pointer("/spec/storageClassName"), n.pointer("/spec/storageClassName"));
        if oc != nc {
            out.push(risk(
                "storage-class",
                Category::DataLoss,
                key,
                &format!("/spec/volumeClaimTemplates/{i}/spec/storageClassName"),
                format!(
                    "claims `{name}-{}-<ordinal>` change StorageClass {} → {}: existing claims stay on {} and new ones \
                     start empty on {}; the data is not migrated, and deleting the old claims deletes it",
                    key.name,
                    show(oc),
                    show(nc),
                    show(oc),
                    show(nc)
                ),
            ));
        }
    }
    data_layout(key, old, new, olds, news, out);
    // Prometheus retention.
    let (ot, nt) = (arg(old, "--storage.tsdb.retention.time"), arg(new, "--storage.tsdb.retention.time"));
    if let (Some(o), Some(n)) =
        (ot.and_then(|s| s.parse::<Duration>().ok()), nt.and_then(|s| s.parse::<Duration>().ok()))
    {
        if n.millis() > 0 && n.millis() < o.millis() {
            out.push(risk(
                "retention-shorter",
                Category::DataLoss,
                key,
                "/spec/template/spec/containers",
                format!(
                    "Prometheus retention {} → {}: blocks older than {} are deleted after the rollout",
                    o.as_str(),
                    n.as_str(),
                    n.as_str()
                ),
            ));
        }
    }
    let (os, ns) = (arg(old, "--storage.tsdb.retention.size"), arg(new, "--storage.tsdb.retention.size"));
    let (osz, nsz) = (os.and_then(|s| parse_prometheus_bytes(s).ok()), ns.and_then(|s| parse_prometheus_bytes(s).ok()));
    if let Some(n) = nsz {
        if osz.is_none_or(|o| n.get() < o.get()) && (osz.is_some() || ot.is_some()) {
            out.push(risk(
                "retention-size-smaller",
                Category::DataLoss,
                key,
                "/spec/template/spec/containers",
                format!(
                    "Prometheus retention size {} → {}: the oldest blocks over the limit are deleted",
                    os.unwrap_or("(none)"),
                    ns.unwrap_or_default()
                ),
            ));
        }
    }
    // Thanos Compactor retention in object storage; 0d keeps forever.
    for res in ["raw", "5m", "1h"] {
        let flag = format!("--retention.resolution-{res}");
        let ms = |v: &Value| {
            arg(v, &flag).and_then(|s| s.parse::<Duration>().ok()).map(|d| {
                if d.millis() == 0 {
                    u64::MAX
                } else {
                    d.millis()
                }
            })
        };
        if let (Some(o), Some(n)) = (ms(old), ms(new)) {
            if n < o {
                out.push(risk(
                    "object-storage-retention-shorter",
                    Category::DataLoss,
                    key,
                    "/spec/template/spec/containers",
                    format!(
                        "Thanos Compactor {res} retention {} → {}: older blocks are deleted from object storage",
                        arg(old, &flag).unwrap_or_default(),
                        arg(new, &flag).unwrap_or_default()
                    ),
                ));
            }
        }
    }
}

/// A claim template's storage request in bytes (`quantity` counts in nano-units).
fn request(template: &Value) -> Option<(i128, &str)> {
    let s = template.pointer("/spec/resources/requests/storage")?.as_str()?;
    Some((super::compare::quantity(s)? / 1_000_000_000, s))
}

/// A growing claim template: a StatefulSet never resizes the claims it made, so each
/// existing claim is patched by hand, and the retention size must fit the claims that
/// exist until then (`[storage] claims_size`).
fn volume_grow(key: &Key, i: usize, old_t: &Value, new_t: &Value, new: &Value, out: &mut Vec<Risk>) {
    let (Some((o, os)), Some((n, ns))) = (request(old_t), request(new_t)) else { return };
    if n <= o {
        return;
    }
    let name = new_t["metadata"]["name"].as_str().unwrap_or_default();
    let replicas = new.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1);
    let class = new_t.pointer("/spec/storageClassName").and_then(Value::as_str).unwrap_or_default();
    let nsf = ns_flag(key);
    let patch = format!("{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{ns}\"}}}}}}}}");
    let mut steps = Vec::new();
    // Only static PVs' claims carry a selector: there is no driver to expand them.
    let static_pv = new_t.pointer("/spec/selector").is_some();
    if static_pv {
        steps.push(format!(
            "grow each disk, LUN or NFS quota behind the {class} PVs to {ns} yourself (a static PV has no driver to expand it; apply updates the PV capacity)"
        ));
    } else {
        steps.push(format!(
            "kubectl get storageclass {class} -o jsonpath='{{.allowVolumeExpansion}}' must print true (if its driver can expand: kubectl patch storageclass {class} -p '{{\"allowVolumeExpansion\":true}}')"
        ));
    }
    for r in 0..replicas {
        steps.push(format!("kubectl patch pvc {name}-{}-{r}{nsf} -p '{patch}'", key.name));
    }
    steps.push(format!("kubectl delete statefulset {}{nsf} --cascade=orphan", key.name));
    steps.push("kubectl apply the new render".into());
    steps.push(format!(
        "once every claim reports {ns} (kubectl get pvc{nsf}), remove [storage] claims_size (or set it to {ns}) so retention_size = \"auto\" follows"
    ));
    let mut r = risk(
        "volume-grow",
        Category::ActionNeeded,
        key,
        &format!("/spec/volumeClaimTemplates/{i}/spec/resources/requests/storage"),
        format!(
            "claims `{name}-{}-<ordinal>` grow {os} → {ns}: a StatefulSet never resizes the claims it made, and the template is immutable; until each claim is resized the volumes stay {os}",
            key.name
        ),
    );
    r.action = Some(steps.join("; "));
    out.push(r);
    // The retention size must fit the claims that exist, not the new size.
    if let Some(limit) = arg(new, "--storage.tsdb.retention.size").and_then(|s| parse_prometheus_bytes(s).ok()) {
        let cap = o * 85 / 100;
        if i128::from(limit.get()) > cap {
            let mut r = risk(
                "retention-over-claims",
                Category::DataLoss,
                key,
                "/spec/template/spec/containers",
                format!(
                    "--storage.tsdb.retention.size={} is over 85% of the existing {os} claims: the disks fill before Prometheus deletes blocks",
                    limit.prometheus()
                ),
            );
            r.action = Some(format!(
                "set [storage] claims_size = \"{os}\" until the claims are resized (retention_size = \"auto\" then stays at 85% of {os})"
            ));
            out.push(r);
        }
    }
}

/// Live claims smaller than the rendered retention size allows: for each rendered
/// StatefulSet with `--storage.tsdb.retention.size`, the live claims of its `data`
/// template (`data-<sts>-<ordinal>`, their `status.capacity`, else their request) must
/// hold it with 15% to spare. Catches `claims_size` removed before the resize finished.
pub fn claims_fit(news: &[super::Doc], live: &[super::Doc]) -> Vec<Risk> {
    let mut out = Vec::new();
    for sts in news.iter().filter(|d| d.key.kind == "StatefulSet") {
        let Some(limit) = arg(&sts.value, "--storage.tsdb.retention.size").and_then(|s| parse_prometheus_bytes(s).ok())
        else {
            continue;
        };
        let replicas = sts.value.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1);
        let mut smallest: Option<(i128, String, String)> = None;
        for r in 0..replicas {
            let name = format!("data-{}-{r}", sts.key.name);
            let Some(pvc) = live.iter().find(|d| {
                d.live
                    && d.key.kind == "PersistentVolumeClaim"
                    && d.key.name == name
                    && d.key.namespace == sts.key.namespace
            }) else {
                continue;
            };
            let cap = ["/status/capacity/storage", "/spec/resources/requests/storage"]
                .iter()
                .find_map(|p| pvc.value.pointer(p).and_then(Value::as_str));
            let Some((bytes, text)) = cap.and_then(|s| Some((super::compare::quantity(s)? / 1_000_000_000, s))) else {
                continue;
            };
            if smallest.as_ref().is_none_or(|(b, _, _)| bytes < *b) {
                smallest = Some((bytes, text.to_string(), name));
            }
        }
        let Some((bytes, text, claim)) = smallest else { continue };
        if i128::from(limit.get()) * 100 > bytes * 85 {
            let mut r = risk(
                "retention-over-claims",
                Category::DataLoss,
                &sts.key,
                "/spec/template/spec/containers",
                format!(
                    "--storage.tsdb.retention.size={} is over 85% of the live claim {claim} ({text}): the disk fills before Prometheus deletes blocks",
                    limit.prometheus()
                ),
            );
            r.action = Some(format!(
                "finish resizing the claims (kubectl get pvc{}), or set [storage] claims_size = \"{text}\" until they are",
                ns_flag(&sts.key)
            ));
            out.push(r);
        }
    }
    out
}

/// Live PersistentVolumes the render needs that no claim can bind: phase Released (its
/// claim was deleted; the PV keeps the old claim's uid in claimRef), or a claimRef uid
/// that is not the uid of the live claim of that name. The re-created claim stays
/// Pending forever (seeds 000, 001) while apply reports success.
pub fn unbindable_volumes<'a>(needed: impl Iterator<Item = &'a Key>, live: &[super::Doc]) -> Vec<Risk> {
    let find = |kind: &str, ns: Option<&str>, name: &str| {
        live.iter().find(|d| d.live && d.key.kind == kind && d.key.name == name && d.key.namespace.as_deref() == ns)
    };
    let mut out = Vec::new();
    for key in needed.filter(|k| k.kind == "PersistentVolume") {
        let Some(pv) = find("PersistentVolume", None, &key.name) else { continue };
        let v = &pv.value;
        let phase = v.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default();
        let claim = v.pointer("/spec/claimRef");
        let uid = claim.and_then(|c| c.get("uid")).and_then(Value::as_str);
        let claim_name = claim.and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or_default();
        let claim_ns = claim.and_then(|c| c.get("namespace")).and_then(Value::as_str);
        let live_uid = find("PersistentVolumeClaim", claim_ns, claim_name)
            .and_then(|c| c.value.pointer("/metadata/uid"))
            .and_then(Value::as_str);
        let why = if phase == "Released" {
            format!("is Released: its claim {claim_name} was deleted and the PV still holds that claim's uid")
        } else if let (Some(u), Some(l)) = (uid, live_uid) {
            if u == l {
                continue;
            }
            format!("names claim {claim_name} by uid {u}, but the live claim has uid {l}")
        } else {
            continue;
        };
        let mut r = risk(
            "volume-released",
            Category::ActionNeeded,
            key,
            "/spec/claimRef/uid",
            format!(
                "PersistentVolume {} {why}: the claim stays Pending forever and its pod never starts (the data is still on the volume)",
                key.name
            ),
        );
        r.action = Some(format!("kubectl patch pv {} -p '{{\"spec\":{{\"claimRef\":{{\"uid\":null}}}}}}'", key.name));
        out.push(r);
    }
    out
}

/// A claim volume mounted at the same path with another `subPath`: the containers see
/// another directory of the same volume, so the data already there is no longer read
/// (Prometheus starts an empty TSDB beside it). This is the change between manifests
/// renders before and after the TSDB moved to `<volume>/prometheus-db/`, and between a
/// volume mounted whole and the operator's `prometheus-db` subPath.
fn data_layout(key: &Key, old: &Value, new: &Value, olds: &[Value], news: &[Value], out: &mut Vec<Risk>) {
    let claims: Vec<&str> = olds.iter().chain(news).filter_map(|c| c["metadata"]["name"].as_str()).collect();
    // (container, volume, mountPath) → subPath ("" for the volume root).
    let mounts = |v: &Value| -> BTreeMap<(String, String, String), String> {
        let mut m = BTreeMap::new();
        let containers = v.pointer("/spec/template/spec/containers").and_then(Value::as_array);
        for c in containers.into_iter().flatten() {
            for vm in c["volumeMounts"].as_array().into_iter().flatten() {
                let name = vm["name"].as_str().unwrap_or_default();
                if claims.contains(&name) {
                    let k = (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        name.to_string(),
                        vm["mountPath"].as_str().unwrap_or_default().to_string(),
                    );
                    m.insert(k, vm["subPath"].as_str().unwrap_or_default().to_string());
                }
            }
        }
        m
    };
    let (om, nm) = (mounts(old), mounts(new));
    let mut seen = Vec::new();
    for ((container, volume, path), new_sub) in &nm {
        let Some(old_sub) = om.get(&(container.clone(), volume.clone(), path.clone())) else { continue };
        if old_sub == new_sub || seen.contains(&(volume, old_sub, new_sub)) {
            continue;
        }
        seen.push((volume, old_sub, new_sub));
        let dir = |s: &str| if s.is_empty() { "the volume root".to_string() } else { format!("{s}/") };
        let mut r = risk(
            "data-layout",
            Category::DataLoss,
            key,
            "/spec/template/spec/containers",
            format!(
                "StatefulSet {} mounts its volume `{volume}` at {path} from {} instead of {}: after the rollout \
                 the pods see an empty directory and start an empty TSDB, and the data at {} is no longer read \
                 (it still takes space on the volume)",
                key.name,
                dir(new_sub),
                dir(old_sub),
                dir(old_sub)
            ),
        );
        r.action = Some(format!(
            "before applying, move the data on every claim: `kubectl scale statefulset {sts}{ns} --replicas=0`; \
             then, in a pod that mounts the claim `{volume}-{sts}-<ordinal>` at /data (as run_as_user), run `{mv}`; \
             then apply. On a static PV the NFS directory or local path the PV names stays the same: the move \
             happens inside it",
            sts = key.name,
            ns = ns_flag(key),
            mv = move_command(old_sub, new_sub),
        ));
        out.push(r);
    }
}

/// Shell command, run at the volume root, that moves a TSDB from `from` to `to` (both
/// relative to the volume root; "" is the root itself).
fn move_command(from: &str, to: &str) -> String {
    match (from.is_empty(), to.is_empty()) {
        (true, false) => format!(
            "cd /data && mkdir -p {to} && find . -mindepth 1 -maxdepth 1 ! -name {to} ! -name lost+found -exec mv -t {to} {{}} +"
        ),
        (false, true) => format!(
            "cd /data && find {from} -mindepth 1 -maxdepth 1 -exec mv -t . {{}} + && rmdir {from}"
        ),
        _ => format!("cd /data && mkdir -p {to} && find {from} -mindepth 1 -maxdepth 1 -exec mv -t {to} {{}} +"),
    }
}

/// The value of `--flag=value` in any container of a pod template.
fn arg<'a>(v: &'a Value, flag: &str) -> Option<&'a str> {
    let containers = v.pointer("/spec/template/spec/containers")?.as_array()?;
    containers.iter().filter_map(|c| c["args"].as_array()).flatten().find_map(|a| {
        let s = a.as_str()?;
        s.strip_prefix(flag)?.strip_prefix('=')
    })
}

const PV_MUTABLE: &[&str] =
    &["persistentVolumeReclaimPolicy", "capacity", "claimRef", "storageClassName", "mountOptions", "accessModes"];

fn pv(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let empty = serde_json::Map::new();
    let os = old["spec"].as_object().unwrap_or(&empty);
    let ns = new["spec"].as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = os.keys().chain(ns.keys()).collect();
    keys.sort();
    keys.dedup();
    let fixed: Vec<&str> = keys
        .iter()
        .filter(|k| !PV_MUTABLE.contains(&k.as_str()) && os.get(**k) != ns.get(**k))
        .map(|k| k.as_str())
        .collect();
    if !fixed.is_empty() {
        out.push(immutable(key, &format!("/spec/{}", fixed[0]), format!(
                "PersistentVolume {} changes spec.{}: a PV's volume source is immutable, apply fails",
                key.name,
                fixed.join(", spec.")
            ), format!(
            "kubectl delete pv {} (kept until its claim is deleted; with Retain the data stays on the backend), then apply again and let the claim re-bind",
            key.name
        )));
    }
    let (oc, nc) = (os.get("storageClassName"), ns.get("storageClassName"));
    if oc != nc {
        out.push(risk(
            "storage-class",
            Category::DataLoss,
            key,
            "/spec/storageClassName",
            format!(
                "PersistentVolume {} changes StorageClass {} → {}: claims of the old class no longer match it",
                key.name,
                show(oc),
                show(nc)
            ),
        ));
    }
    reclaim(
        key,
        os.get("persistentVolumeReclaimPolicy"),
        ns.get("persistentVolumeReclaimPolicy"),
        "/spec/persistentVolumeReclaimPolicy",
        out,
    );
    if os.get("claimRef") != ns.get("claimRef") && os.contains_key("claimRef") {
        out.push(risk(
            "volume-rebind",
            Category::DataMoves,
            key,
            "/spec/claimRef",
            format!("PersistentVolume {} is bound to another claim: its data goes to a different pod", key.name),
        ));
    }
}

fn reclaim(key: &Key, old: Option<&Value>, new: Option<&Value>, path: &str, out: &mut Vec<Risk>) {
    let o = old.and_then(Value::as_str).unwrap_or("Delete");
    let n = new.and_then(Value::as_str).unwrap_or("Delete");
    if o == "Retain" && n == "Delete" {
        out.push(risk(
            "reclaim-policy",
            Category::DataLoss,
            key,
            path,
            format!(
                "{} {}: reclaim policy Retain → Delete: deleting a claim now deletes the volume and its data",
                key.kind, key.name
            ),
        ));
    }
}

fn pvc(key: &Key, old: &Value, new: &Value, base: &str, out: &mut Vec<Risk>) {
    let strip = |v: &Value| {
        let mut s = v.pointer(base).cloned().unwrap_or(Value::Null);
        if let Some(m) = s.as_object_mut() {
            m.remove("resources");
            m.remove("volumeAttributesClassName");
        }
        s
    };
    let size = |v: &Value| {
        v.pointer(&format!("{base}/resources/requests/storage"))
            .and_then(Value::as_str)
            .and_then(super::compare::quantity)
    };
    let mut why = Vec::new();
    if strip(old) != strip(new) {
        why.push("its spec (only the storage request may grow)".to_string());
    }
    if let (Some(o), Some(n)) = (size(old), size(new)) {
        if n < o {
            why.push("a smaller storage request (claims never shrink)".to_string());
        }
    }
    if !why.is_empty() {
        out.push(immutable(
            key,
            base,
            format!("PersistentVolumeClaim {} changes {}: apply fails", key.name, why.join(" and ")),
            format!(
                "copy the data to a new claim; deleting claim {}{} deletes or releases its volume",
                key.name,
                ns_flag(key)
            ),
        ));
    }
    let (oc, nc) = (old.pointer(&format!("{base}/storageClassName")), new.pointer(&format!("{base}/storageClassName")));
    if oc != nc {
        out.push(risk(
            "storage-class",
            Category::DataLoss,
            key,
            &format!("{base}/storageClassName"),
            format!(
                "PersistentVolumeClaim {} changes StorageClass {} → {}: the data stays on the old volume",
                key.name,
                show(oc),
                show(nc)
            ),
        ));
    }
}

fn storage_class(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let fixed: Vec<&str> = ["provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"]
        .into_iter()
        .filter(|f| old.get(*f) != new.get(*f))
        .collect();
    if !fixed.is_empty() {
        out.push(immutable(
            key,
            &format!("/{}", fixed[0]),
            format!("StorageClass {} changes {}, immutable: apply fails", key.name, fixed.join(", ")),
            format!(
            "kubectl delete storageclass {}, then apply again (existing volumes keep what they were provisioned with)",
            key.name
        ),
        ));
    }
    reclaim(key, old.get("reclaimPolicy"), new.get("reclaimPolicy"), "/reclaimPolicy", out);
}

/// Risks of an object the new render no longer has.
pub fn removed(key: &Key, old: &Value) -> Vec<Risk> {
    let msg = match key.kind.as_str() {
        "PersistentVolumeClaim" => format!(
            "PersistentVolumeClaim {} is removed: a pruning apply (kubectl apply --prune, Argo CD or Flux prune) deletes it, and with reclaim policy Delete its volume and data",
            key.name
        ),
        "PersistentVolume" => format!(
            "PersistentVolume {} is removed: with reclaim policy {} its data is {}",
            key.name,
            show(old.pointer("/spec/persistentVolumeReclaimPolicy")),
            if old.pointer("/spec/persistentVolumeReclaimPolicy").and_then(Value::as_str) == Some("Retain") {
                "kept on the backend but nothing binds it"
            } else {
                "deleted when it is released"
            }
        ),
        "StatefulSet" if old.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) => {
            format!(
                "StatefulSet {} is removed: its claims stay (retention policy Retain) but nothing reads them; data not uploaded to object storage is stranded",
                key.name
            )
        }
        _ => return Vec::new(),
    };
    vec![risk("volume-removed", Category::DataLoss, key, "", msg)]
}

/// Shard numbers above this are not read as shards from `--against` input (a stack has at
/// most 1024 shards; the margin keeps a hand-edited render readable).
pub const MAX_SHARDS: u64 = 65_536;
/// StatefulSet names listed in a shard-count message; the rest are counted.
const MAX_LISTED: usize = 16;

/// How static targets are spread over shards.
#[derive(Debug, Clone)]
pub struct ShardView {
    pub shards: u64,
    pub source_labels: Vec<String>,
    /// (job, target) → shard, for sharded static targets of [[scrape]] jobs.
    pub assign: BTreeMap<(String, String), u64>,
}

pub fn view_of_stack(stack: &Stack) -> ShardView {
    let mut assign = BTreeMap::new();
    for j in stack.scrape.iter().filter(|j| j.sharded) {
        for t in &j.targets {
            assign.insert((j.job.clone(), t.clone()), stack.sharding.shard_of_target(t, &j.labels));
        }
    }
    ShardView { shards: u64::from(stack.sharding.shards), source_labels: stack.sharding.source_labels.clone(), assign }
}

/// The sharding of a previous render or of live objects: the hashmod `modulus` and
/// source labels of the first shard's prometheus.yml, and its static targets; or, with
/// no config, the number of shard StatefulSets.
pub fn view_of_objects<'a>(objs: impl Iterator<Item = (&'a Key, &'a Value)> + Clone, stack: &str) -> Option<ShardView> {
    let prefix = format!("{stack}-prometheus-shard-");
    // Only numbers a stack can have are shards: a name such as `…-shard-18446744073709551614`
    // read from hostile input must not size anything (a loop, a list, `max + 1`).
    let shard_no =
        |k: &Key| k.name.strip_prefix(&prefix).and_then(|s| s.parse::<u64>().ok()).filter(|n| *n < MAX_SHARDS);
    let config = objs
        .clone()
        .filter(|(k, v)| k.kind == "ConfigMap" && shard_no(k).is_some() && v["data"]["prometheus.yml"].is_string())
        .min_by_key(|(k, _)| shard_no(k));
    let Some((_, cm)) = config else {
        let max = objs.filter(|(k, _)| k.kind == "StatefulSet").filter_map(|(k, _)| shard_no(k)).max()?;
        return Some(ShardView { shards: max + 1, source_labels: vec!["__address__".into()], assign: BTreeMap::new() });
    };
    let cfg: Value = serde_saphyr::from_str(cm["data"]["prometheus.yml"].as_str()?).ok()?;
    let jobs = cfg["scrape_configs"].as_array()?;
    let mut shards = 1;
    let mut source_labels = vec!["__address__".to_string()];
    for rc in jobs.iter().filter_map(|j| j["relabel_configs"].as_array()).flatten() {
        if rc["action"] == "hashmod" {
            // Any modulus is a number to compute with, never a length (see `sharding`).
            shards = rc["modulus"].as_u64().unwrap_or(1).max(1);
        }
        if rc["action"] == "replace" && rc["target_label"] == "__tmp_hash" {
            if let Some(src) = rc["source_labels"].as_array() {
                source_labels =
                    src.iter().filter_map(Value::as_str).filter(|s| *s != "__tmp_hash").map(String::from).collect();
            }
        }
    }
    let all = KubernetesJobs {
        discovery: true,
        control_plane: true,
        cluster_domain: String::new(),
        dns_addresses: Vec::new(),
    };
    let builtin = builtin_job_names(&all, true);
    let mut assign = BTreeMap::new();
    for j in jobs {
        let job = j["job_name"].as_str().unwrap_or_default();
        if builtin.contains(&job) {
            continue;
        }
        for sc in j["static_configs"].as_array().into_iter().flatten() {
            if sc["labels"].get("__tmp_disable_sharding").is_some() {
                continue;
            }
            for t in sc["targets"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let shard = shard_of(&source_labels, shards, t, |l| sc["labels"][l].as_str());
                assign.insert((job.to_string(), t.to_string()), shard);
            }
        }
    }
    Some(ShardView { shards, source_labels, assign })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub job: String,
    pub target: String,
    pub from: u64,
    pub to: u64,
}

pub fn moves(old: &ShardView, new: &ShardView) -> Vec<Move> {
    old.assign
        .iter()
        .filter_map(|((job, target), &from)| {
            let &to = new.assign.get(&(job.clone(), target.clone()))?;
            (to != from).then(|| Move { job: job.clone(), target: target.clone(), from, to })
        })
        .collect()
}

/// The stack-wide risk of a shard count or sharding change.
pub fn sharding(old: &ShardView, new: &ShardView, moved: &[Move], stack: &str) -> Option<Risk> {
    let common = old.assign.keys().filter(|k| new.assign.contains_key(*k)).count();
    if old.shards != new.shards {
        let mut msg = format!("shard count {} → {}", old.shards, new.shards);
        let (lo, hi) = (old.shards.min(new.shards), old.shards.max(new.shards));
        // The old count comes from the input (a `modulus` of 1e7 once printed 289 MB): name at
        // most MAX_LISTED StatefulSets and count the rest, so the message is bounded.
        let mut names: Vec<String> =
            (lo..hi).take(MAX_LISTED).map(|i| format!("{stack}-prometheus-shard-{i}")).collect();
        let more = (hi - lo).saturating_sub(MAX_LISTED as u64);
        if more > 0 {
            names.push(format!("and {more} more"));
        }
        if new.shards > old.shards {
            msg.push_str(&format!(": StatefulSet(s) {} added", names.join(", ")));
        } else {
            msg.push_str(&format!(
                ": StatefulSet(s) {} removed (their volumes keep data nothing serves)",
                names.join(", ")
            ));
        }
        msg.push_str(&format!(
            "; every shard's hashmod changes and series move between shards: {} of {common} static targets move; \
             their history stays on the old shard (queryable through Thanos Query, otherwise split)",
            moved.len()
        ));
        return Some(Risk {
            code: "shard-count",
            category: Category::DataMoves,
            object: None,
            path: None,
            message: msg,
            action: None,
        });
    }
    if !moved.is_empty() {
        return Some(Risk {
            code: "targets-move",
            category: Category::DataMoves,
            object: None,
            path: None,
            message: format!(
                "sharding source labels {:?} → {:?}: {} of {common} static targets move to another shard",
                old.source_labels,
                new.source_labels,
                moved.len()
            ),
            action: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::move_command;

    #[test]
    fn move_commands_cover_both_directions() {
        assert!(move_command("", "prometheus-db").contains("mkdir -p prometheus-db"));
        assert_eq!(
            move_command("prometheus-db", ""),
            "cd /data && find prometheus-db -mindepth 1 -maxdepth 1 -exec mv -t . {} + && rmdir prometheus-db"
        );
        assert!(move_command("a", "b").contains("find a -mindepth 1 -maxdepth 1 -exec mv -t b {} +"));
    }
}
