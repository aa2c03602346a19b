//! The risks of a values change, named with the operator's objects.

use serde_json::{json, Value};

use super::{count, show, spec, Chart, SPEC};
use crate::diff::risk::{Category, Code, Risk};

fn template(v: &Value) -> &Value {
    &spec(v)["storageSpec"]["volumeClaimTemplate"]
}

/// The claim template's name, `prometheus-<cr>-db` unless the values set one.
fn template_name(v: &Value, chart: &Chart) -> String {
    template(v)["metadata"]["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("prometheus-{}-db", chart.cr), String::from)
}

/// Every claim the operator made for these values.
fn claims(v: &Value, chart: &Chart) -> Vec<String> {
    let t = template_name(v, chart);
    let mut out = Vec::new();
    for shard in 0..count(v, "shards") {
        for r in 0..count(v, "replicas") {
            out.push(chart.claim(&t, shard, r));
        }
    }
    out
}

fn statefulsets(v: &Value, chart: &Chart) -> Vec<String> {
    (0..count(v, "shards")).map(|s| chart.statefulset(s)).collect()
}

fn risk(code: Code, category: Category, chart: &Chart, path: &str, message: String) -> Risk {
    Risk { code, category, object: Some(chart.key()), path: Some(path.to_string()), message, action: None }
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

/// Risks of a values change, named with the operator's objects: `old_chart` names what
/// exists (the old values' Prometheus resource), `new_chart` what the new values make.
/// `old` may be a [`project`]ion (live values): only what it has is compared.
pub fn value_risks(old: &Value, new: &Value, old_chart: &Chart, new_chart: &Chart) -> Vec<Risk> {
    let mut out = Vec::new();
    let ns = &old_chart.namespace;
    if old_chart != new_chart {
        let mut r = risk(
            Code::ReleaseRenamed,
            Category::DataLoss,
            new_chart,
            "fullnameOverride",
            format!(
                "the Prometheus resource {}/{} becomes {}/{}: the operator creates new StatefulSets ({}) on new, \
                 empty claims and deletes {} when the chart drops the old resource; the old claims ({}) stay \
                 with data nothing reads",
                old_chart.namespace,
                old_chart.cr,
                new_chart.namespace,
                new_chart.cr,
                list(&statefulsets(new, new_chart)),
                list(&statefulsets(old, old_chart)),
                list(&claims(old, old_chart)),
            ),
        );
        r.action = Some(format!(
            "keep the stack name and namespace, or copy the TSDB of each old claim to the new one; \
             `kubectl get pvc -n {ns}` lists the old claims to delete afterwards"
        ));
        out.push(r);
        return out;
    }
    let chart = new_chart;
    let ps = |v: &Value, k: &str| spec(v).get(k).cloned();
    // Shards: the operator adds or deletes the StatefulSets of the shards beyond the
    // smaller count; the deleted ones' claims stay.
    let (os, nsh) = (count(old, "shards"), count(new, "shards"));
    if ps(old, "shards").is_some() && os != nsh {
        let (lo, hi) = (os.min(nsh), os.max(nsh));
        let names: Vec<String> = (lo..hi).map(|i| chart.statefulset(i)).collect();
        let mut msg = format!("shard count {os} → {nsh}: ");
        let mut r;
        if nsh > os {
            msg.push_str(&format!(
                "the operator creates StatefulSet(s) {}; the hashmod modulus of every shard changes, so series move \
                 between shards and each one's history stays on the shard that scraped it (queryable through \
                 Thanos Query, otherwise split)",
                list(&names)
            ));
            r = risk(Code::ShardCount, Category::DataMoves, chart, &format!("{SPEC}.shards"), msg);
        } else if spec(new)["shardRetentionPolicy"]["whenScaled"] == "Retain" {
            let period = spec(new)["shardRetentionPolicy"]["retain"]["retentionPeriod"]
                .as_str()
                .map_or_else(|| "the retention".to_string(), String::from);
            msg.push_str(&format!(
                "shardRetentionPolicy Retain: the operator keeps StatefulSet(s) {} and their claims, their pods \
                 scrape nothing (a keep rule on the shard number) and stay queryable, and it deletes them {period} \
                 after it first sees them scaled down (the claims stay); series move between the remaining shards. \
                 The operator needs its PrometheusShardRetentionPolicy feature gate (on by default in {}; the values \
                 set it)",
                list(&names),
                crate::model::PROMETHEUS_OPERATOR_VERSION,
            ));
            r = risk(Code::ShardCount, Category::DataMoves, chart, &format!("{SPEC}.shards"), msg);
        } else {
            let t = template_name(old, chart);
            let orphaned: Vec<String> = (lo..hi)
                .flat_map(|s| (0..count(old, "replicas")).map(move |o| (s, o)))
                .map(|(s, o)| chart.claim(&t, s, o))
                .collect();
            let kept = if template(old).is_object() {
                format!("their claims {} stay with data nothing serves", list(&orphaned))
            } else {
                "their emptyDir data is gone".to_string()
            };
            let sidecar = if spec(old).get("thanos").is_some() {
                "the head block and any block the Thanos sidecar has not uploaded yet are lost"
            } else {
                "without Thanos their history is no longer queried"
            };
            msg.push_str(&format!(
                "the operator deletes StatefulSet(s) {} (their pods stop; {sidecar}); {kept}, and series move \
                 between the remaining shards",
                list(&names),
            ));
            r = risk(Code::ShardCount, Category::DataLoss, chart, &format!("{SPEC}.shards"), msg);
            if template(old).is_object() {
                r.action = Some(format!(
                    "once the data of the removed shards is no longer needed (or is in object storage): kubectl delete pvc {} -n {ns}",
                    orphaned.join(" ")
                ));
            }
        }
        out.push(r);
    }
    // Replicas: scaling down keeps the claims of the removed ordinals.
    let (or, nr) = (count(old, "replicas"), count(new, "replicas"));
    if ps(old, "replicas").is_some() && nr < or && template(old).is_object() {
        let t = template_name(old, chart);
        let kept: Vec<String> =
            (0..os.min(nsh)).flat_map(|s| (nr..or).map(move |o| (s, o))).map(|(s, o)| chart.claim(&t, s, o)).collect();
        let mut r = risk(
            Code::ReplicasFewer,
            Category::ActionNeeded,
            chart,
            &format!("{SPEC}.replicas"),
            format!(
                "replicas {or} → {nr}: the operator scales {} down; the claims {} stay (a scale-up later \
                 reuses their old data)",
                list(&statefulsets(new, chart)),
                list(&kept)
            ),
        );
        r.action = Some(format!("kubectl delete pvc {} -n {ns}", kept.join(" ")));
        out.push(r);
    }
    let (ot, nt) = (template(old), template(new));
    let had_storage = spec(old).get("storageSpec").is_some();
    if had_storage && spec(old)["storageSpec"] != spec(new)["storageSpec"] {
        let sts = list(&statefulsets(new, chart));
        out.push(risk(
            Code::StatefulsetRecreate,
            Category::Restart,
            chart,
            &format!("{SPEC}.storageSpec"),
            format!(
                "the claim template changes, which a StatefulSet cannot take: the operator deletes and re-creates \
                 {sts} (foreground delete: every pod of a shard stops at once, both HA replicas, until the new \
                 StatefulSet's pods are ready and have replayed their WAL); the re-created StatefulSets reuse the \
                 existing claims as they are"
            ),
        ));
        if ot.is_object() != nt.is_object() {
            let msg = if nt.is_object() {
                format!("Prometheus moves from emptyDir to claims: the data in emptyDir of the pods of {sts} is lost")
            } else {
                format!(
                    "Prometheus moves from its claims ({}) to emptyDir: the pods start empty and the claims stay with data nothing reads",
                    list(&claims(old, chart))
                )
            };
            out.push(risk(Code::StorageBackend, Category::DataLoss, chart, &format!("{SPEC}.storageSpec"), msg));
        }
    }
    if ot.is_object() && nt.is_object() {
        let path = format!("{SPEC}.storageSpec.volumeClaimTemplate.spec");
        let existing = claims(&merge_counts(old, new), chart);
        let (oc, nc) = (ot.pointer("/spec/storageClassName"), nt.pointer("/spec/storageClassName"));
        if oc != nc {
            let (oc, nc) = (show(oc), show(nc));
            let mut r = risk(
                Code::StorageClass,
                Category::DataLoss,
                chart,
                &format!("{path}.storageClassName"),
                format!(
                    "StorageClass {oc} → {nc}: the existing claims ({}) stay on {oc} (a claim's class never changes) \
                     and only claims made later start, empty, on {nc}; moving a pod to {nc} means deleting its claim \
                     and its data",
                    list(&existing)
                ),
            );
            let t = template_name(new, chart);
            let mut steps = vec![
                "for each pod, one at a time (its HA peer keeps serving), once its blocks are in object storage or copied".to_string(),
            ];
            for s in 0..nsh.min(os) {
                for o in 0..nr.min(or) {
                    let pod = format!("{}-{o}", chart.statefulset(s));
                    steps.push(format!(
                        "kubectl delete pvc {} -n {ns} --wait=false && kubectl delete pod {pod} -n {ns}",
                        chart.claim(&t, s, o)
                    ));
                }
            }
            r.action = Some(steps.join("; "));
            out.push(r);
        }
        let size = |t: &Value| {
            let s = t.pointer("/spec/resources/requests/storage")?.as_str()?;
            Some((crate::model::units::quantity_nanos(s)?, s.to_string()))
        };
        if let (Some((o, osz)), Some((n, nsz))) = (size(ot), size(nt)) {
            if n != o && oc == nt.pointer("/spec/storageClassName") {
                let mut r;
                if n > o {
                    r = risk(
                        Code::VolumeGrow,
                        Category::ActionNeeded,
                        chart,
                        &format!("{path}.resources.requests.storage"),
                        format!(
                            "claims grow {osz} → {nsz}: the operator re-creates the StatefulSets with the new template \
                             but never resizes the claims they made ({}); until each claim is patched the volumes stay {osz}",
                            list(&existing)
                        ),
                    );
                    let patch = format!("{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{nsz}\"}}}}}}}}");
                    let class = show(nt.pointer("/spec/storageClassName"));
                    let mut steps = Vec::new();
                    if nt.pointer("/spec/selector").is_some() {
                        steps.push(format!(
                            "grow each disk, LUN or NFS quota behind the static {class} PVs to {nsz} yourself (a static PV has no driver to expand it)"
                        ));
                    } else {
                        steps.push(format!(
                            "kubectl get storageclass {class} -o jsonpath='{{.allowVolumeExpansion}}' must print true"
                        ));
                    }
                    for c in &existing {
                        steps.push(format!("kubectl patch pvc {c} -n {ns} -p '{patch}'"));
                    }
                    steps.push(format!("kubectl get pvc -n {ns} until each reports {nsz}"));
                    r.action = Some(steps.join("; "));
                    // The retention size must fit the claims that exist until they are resized.
                    let limit = spec(new)["retentionSize"]
                        .as_str()
                        .and_then(|s| crate::model::units::parse_prometheus_bytes(s).ok());
                    if let Some(limit) = limit {
                        if i128::from(limit.get()) * 1_000_000_000 > o / 100 * 85 {
                            let mut over = risk(
                                Code::RetentionOverClaims,
                                Category::DataLoss,
                                chart,
                                &format!("{SPEC}.retentionSize"),
                                format!(
                                    "retentionSize {} is over 85% of the existing {osz} claims: their disks fill before \
                                     Prometheus deletes blocks, until each claim is resized",
                                    limit.prometheus()
                                ),
                            );
                            over.action = Some(format!(
                                "set [storage] claims_size = \"{osz}\" until the claims are resized (retention_size = \"auto\" then stays at 85% of {osz})"
                            ));
                            out.push(r);
                            r = over;
                        }
                    }
                } else {
                    r = risk(
                        Code::VolumeShrink,
                        Category::ActionNeeded,
                        chart,
                        &format!("{path}.resources.requests.storage"),
                        format!(
                            "claims {osz} → {nsz}: a claim never shrinks; the existing claims ({}) stay {osz}, only claims made later get {nsz}",
                            list(&existing)
                        ),
                    );
                }
                out.push(r);
            }
        }
    }
    components(old, new, chart, &mut out);
    // Retention: the operator passes it as a flag, so a change restarts the pods and the
    // blocks beyond it are deleted.
    let dur = |v: &Value| spec(v)["retention"].as_str().and_then(|s| s.parse::<crate::model::Duration>().ok());
    if let (Some(o), Some(n)) = (dur(old), dur(new)) {
        if n.millis() > 0 && n.millis() < o.millis() {
            out.push(risk(
                Code::RetentionShorter,
                Category::DataLoss,
                chart,
                &format!("{SPEC}.retention"),
                format!(
                    "retention {} → {}: after the operator's rollout of {}, blocks older than {} are deleted",
                    o.as_str(),
                    n.as_str(),
                    list(&statefulsets(new, chart)),
                    n.as_str()
                ),
            ));
        }
    }
    let bytes =
        |v: &Value| spec(v)["retentionSize"].as_str().and_then(|s| crate::model::units::parse_prometheus_bytes(s).ok());
    if let Some(n) = bytes(new) {
        if bytes(old).is_some_and(|o| n.get() < o.get())
            || (bytes(old).is_none() && spec(old).get("retention").is_some())
        {
            out.push(risk(
                Code::RetentionSizeSmaller,
                Category::DataLoss,
                chart,
                &format!("{SPEC}.retentionSize"),
                format!(
                    "retentionSize {} → {}: the oldest blocks over the limit are deleted on every pod of {}",
                    show(spec(old).get("retentionSize")),
                    show(spec(new).get("retentionSize")),
                    list(&statefulsets(new, chart))
                ),
            ));
        }
    }
    // Anything else the operator puts in the pod template: a rolling restart.
    let restart: Vec<&str> =
        ["image", "resources", "securityContext", "retention", "retentionSize", "containers", "volumes", "thanos"]
            .into_iter()
            .filter(|k| spec(old).get(*k).is_some() && spec(old).get(*k) != spec(new).get(*k))
            .collect();
    let thanos_image = old.pointer("/prometheusOperator/thanosImage").is_some()
        && old.pointer("/prometheusOperator/thanosImage") != new.pointer("/prometheusOperator/thanosImage");
    if !restart.is_empty() || thanos_image {
        let mut what: Vec<String> = restart.iter().map(|k| format!("{SPEC}.{k}")).collect();
        if thanos_image {
            what.push("prometheusOperator.thanosImage".into());
        }
        out.push(risk(
            Code::PodRestart,
            Category::Restart,
            chart,
            &what[0],
            format!(
                "{} changed: the operator updates {} and their pods restart one at a time, highest ordinal \
                 first; each Prometheus replays its WAL before it is ready, while its HA peer serves",
                what.join(", "),
                list(&statefulsets(new, chart))
            ),
        ));
    }
    out
}

/// Storage changes of the chart's Alertmanager (the operator's StatefulSet
/// `alertmanager-<cr>`, claims `alertmanager-<cr>-db-alertmanager-<cr>-<ordinal>`) and
/// Grafana (the chart's own StatefulSet `<release>-grafana`, claims
/// `storage-<release>-grafana-<ordinal>`; `helm upgrade` itself fails on it).
fn components(old: &Value, new: &Value, chart: &Chart, out: &mut Vec<Risk>) {
    let ns = &chart.namespace;
    // The Alertmanager resource is `<fullname>-alertmanager` like the Prometheus one.
    let am_cr = match chart.cr.strip_suffix("-prometheus") {
        Some(full) => format!("{full}-alertmanager"),
        None => chart.cr.clone(),
    };
    let am = |v: &Value| v.pointer("/alertmanager/alertmanagerSpec/storage/volumeClaimTemplate/spec").cloned();
    if let (Some(o), Some(n)) = (am(old), am(new)) {
        if o != n {
            let sts = format!("alertmanager-{am_cr}");
            let replicas = old.pointer("/alertmanager/alertmanagerSpec/replicas").and_then(Value::as_u64).unwrap_or(1);
            let claims: Vec<String> = (0..replicas).map(|i| format!("alertmanager-{am_cr}-db-{sts}-{i}")).collect();
            out.push(component_risk(
                "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec",
                &o,
                &n,
                format!("the operator deletes and re-creates StatefulSet {sts} (every Alertmanager pod at once)"),
                &claims,
                ns,
            ));
        }
    }
    let gf = |v: &Value| v.pointer("/grafana/persistence").filter(|p| p["type"] == "sts").cloned();
    if let (Some(o), Some(n)) = (gf(old), gf(new)) {
        let spec = |p: &Value| json!({"storageClassName": p["storageClassName"], "resources": {"requests": {"storage": p["size"]}}});
        let (o, n) = (spec(&o), spec(&n));
        if o != n {
            let release = chart.cr.strip_suffix("-prometheus").unwrap_or(&chart.cr);
            let g = if release.contains("grafana") { release.to_string() } else { format!("{release}-grafana") };
            let mut r = component_risk(
                "grafana.persistence",
                &o,
                &n,
                format!(
                    "the chart's StatefulSet {g} gets another volumeClaimTemplate, which the API server refuses: \
                     `helm upgrade` fails until it is deleted with `kubectl delete statefulset {g} -n {ns} --cascade=orphan`"
                ),
                &[format!("storage-{g}-0")],
                ns,
            );
            r.category = Category::Rejected;
            r.action = Some(format!(
                "kubectl delete statefulset {g} -n {ns} --cascade=orphan, then helm upgrade again; {}",
                r.action.unwrap_or_default()
            ));
            out.push(r);
        }
    }
}

fn component_risk(path: &str, old: &Value, new: &Value, what: String, claims: &[String], ns: &str) -> Risk {
    let (oc, nc) = (show(old.get("storageClassName")), show(new.get("storageClassName")));
    let size = |v: &Value| show(v.pointer("/resources/requests/storage"));
    let (os, nsz) = (size(old), size(new));
    let mut msg = format!("{what}; the existing claims ({}) keep ", claims.join(", "));
    let mut fix = Vec::new();
    if oc != nc {
        msg.push_str(&format!("StorageClass {oc} (not {nc}; only claims made later use it, empty)"));
        fix.push(format!(
            "to move to {nc}: kubectl delete pvc {} -n {ns} (their data is lost), then delete their pods",
            claims.join(" ")
        ));
    } else {
        msg.push_str(&format!("their size {os} (not {nsz})"));
        for c in claims {
            fix.push(format!(
                "kubectl patch pvc {c} -n {ns} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{nsz}\"}}}}}}}}'"
            ));
        }
    }
    let mut r = Risk {
        code: Code::ComponentStorage,
        category: Category::ActionNeeded,
        object: None,
        path: Some(path.to_string()),
        message: msg,
        action: Some(fix.join("; ")),
    };
    if oc != nc {
        r.category = Category::DataLoss;
    }
    r
}

/// `new` with the smaller shard and replica counts of both: the claims that exist on both sides.
fn merge_counts(old: &Value, new: &Value) -> Value {
    let mut v = new.clone();
    for k in ["shards", "replicas"] {
        v["prometheus"]["prometheusSpec"][k] = json!(count(old, k).min(count(new, k)));
    }
    v
}
