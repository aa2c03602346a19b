//! Changes that delete, strand or hide data, or that need work by hand before the data
//! is safe: storage classes, reclaim policies, retention, growing claims, the TSDB's
//! directory on its volume, volumes that cannot bind, and removed objects.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{arg, ns_flag, risk, show, Category, Code, Risk};
use crate::diff::{Doc, Key};
use crate::model::units::{parse_prometheus_bytes, quantity_nanos};
use crate::model::Duration;

/// A StatefulSet's claim templates (class, size, the TSDB's directory) and the retention
/// of the Prometheus or Thanos Compactor it runs.
pub(super) fn statefulset(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
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
                Code::StorageClass,
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
                Code::RetentionShorter,
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
                Code::RetentionSizeSmaller,
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
                    Code::ObjectStorageRetentionShorter,
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
    Some((quantity_nanos(s)? / 1_000_000_000, s))
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
        Code::VolumeGrow,
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
                Code::RetentionOverClaims,
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
pub fn claims_fit(news: &[Doc], live: &[Doc]) -> Vec<Risk> {
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
            let Some((bytes, text)) = cap.and_then(|s| Some((quantity_nanos(s)? / 1_000_000_000, s))) else {
                continue;
            };
            if smallest.as_ref().is_none_or(|(b, _, _)| bytes < *b) {
                smallest = Some((bytes, text.to_string(), name));
            }
        }
        let Some((bytes, text, claim)) = smallest else { continue };
        if i128::from(limit.get()) * 100 > bytes * 85 {
            let mut r = risk(
                Code::RetentionOverClaims,
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
/// Pending forever while apply reports success.
pub fn unbindable_volumes<'a>(needed: impl Iterator<Item = &'a Key>, live: &[Doc]) -> Vec<Risk> {
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
            Code::VolumeReleased,
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
            Code::DataLayout,
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

/// A PV's class, reclaim policy and claim.
pub(super) fn pv(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
    let empty = serde_json::Map::new();
    let os = old["spec"].as_object().unwrap_or(&empty);
    let ns = new["spec"].as_object().unwrap_or(&empty);
    let (oc, nc) = (os.get("storageClassName"), ns.get("storageClassName"));
    if oc != nc {
        out.push(risk(
            Code::StorageClass,
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
            Code::VolumeRebind,
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
            Code::ReclaimPolicy,
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

/// A claim's class.
pub(super) fn pvc(key: &Key, old: &Value, new: &Value, base: &str, out: &mut Vec<Risk>) {
    let (oc, nc) = (old.pointer(&format!("{base}/storageClassName")), new.pointer(&format!("{base}/storageClassName")));
    if oc != nc {
        out.push(risk(
            Code::StorageClass,
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

/// A StorageClass's reclaim policy.
pub(super) fn storage_class(key: &Key, old: &Value, new: &Value, out: &mut Vec<Risk>) {
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
    vec![risk(Code::VolumeRemoved, Category::DataLoss, key, "", msg)]
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
