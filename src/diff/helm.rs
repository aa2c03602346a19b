//! `stackgen diff --target helm-values`: the comparison in the chart's world. A chart
//! user has the kube-prometheus-stack release (its values), the objects the Prometheus
//! Operator makes from the chart's Prometheus resource (StatefulSets
//! `prometheus-<cr>[-shard-<i>]`, claims `prometheus-<cr>-db-<statefulset>-<ordinal>`),
//! and stackgen's companion objects (manifests.yaml). So this compares:
//!
//! - the values document key by key ([`diff_values`]): added, removed and changed paths,
//!   with old → new, in document order (the new side's keys, then keys only the old side
//!   has);
//! - the companion objects object by object, with the manifests-mode machinery
//!   ([`super::compare_docs`], [`super::risk`]);
//! - the risks of value changes ([`value_risks`]), named with the operator's objects: the
//!   operator re-creates a StatefulSet whose claim template changes (foreground delete:
//!   every pod of it at once), never resizes or moves a claim, and deletes the StatefulSets
//!   of removed shards and keeps their claims.
//!
//! With `--against` live objects, the chart's and the operator's objects are not compared
//! one by one (they are Helm's and the operator's, not stackgen's); the values the live
//! Prometheus resource `<cr>` shows ([`values_of_cr`]) stand in for the release's values.

use serde_json::{json, Map, Value};

use super::risk::{Category, Risk};
use super::{compare, Change, Key};

/// One key of the values document that differs.
#[derive(Debug, Clone)]
pub struct ValueChange {
    /// `prometheus.prometheusSpec.shards`; dots inside a key escaped as `helm --set` takes
    /// them (`commonLabels.app\.kubernetes\.io/team`), list items as `[i]`.
    pub path: String,
    pub change: Change,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The values comparison of a report.
#[derive(Debug, Clone)]
pub struct ValuesDiff {
    /// Where the old values came from: `values` (a values document) or `Prometheus <ns>/<cr>`.
    pub source: String,
    pub changes: Vec<ValueChange>,
    /// Keys compared and equal (leaves).
    pub unchanged: usize,
}

fn join(path: &str, key: &str) -> String {
    let k = key.replace('.', "\\.");
    if path.is_empty() {
        k
    } else {
        format!("{path}.{k}")
    }
}

/// Key-by-key comparison of two values documents. Quantities equal in value (`1024Gi`
/// and `1Ti`) are equal. A map or list only one side has is one change (its whole value).
pub fn diff_values(old: &Value, new: &Value) -> (Vec<ValueChange>, usize) {
    let old = compare::align(old, new);
    let mut out = Vec::new();
    let mut same = 0;
    walk("", &old, new, &mut out, &mut same);
    (out, same)
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<ValueChange>, same: &mut usize) {
    let one = |path: String, change, o: Option<&Value>, n: Option<&Value>| ValueChange {
        path,
        change,
        old: o.cloned(),
        new: n.cloned(),
    };
    match (old, new) {
        (Value::Object(om), Value::Object(nm)) => {
            for (k, nv) in nm {
                match om.get(k) {
                    Some(ov) => walk(&join(path, k), ov, nv, out, same),
                    None => out.push(one(join(path, k), Change::Added, None, Some(nv))),
                }
            }
            for (k, ov) in om.iter().filter(|(k, _)| !nm.contains_key(*k)) {
                out.push(one(join(path, k), Change::Removed, Some(ov), None));
            }
        }
        (Value::Array(oa), Value::Array(na)) => {
            for i in 0..oa.len().max(na.len()) {
                let p = format!("{path}[{i}]");
                match (oa.get(i), na.get(i)) {
                    (Some(o), Some(n)) => walk(&p, o, n, out, same),
                    (None, Some(n)) => out.push(one(p, Change::Added, None, Some(n))),
                    (Some(o), None) => out.push(one(p, Change::Removed, Some(o), None)),
                    (None, None) => {}
                }
            }
        }
        _ if old == new => *same += 1,
        _ => out.push(one(path.to_string(), Change::Changed, Some(old), Some(new))),
    }
}

/// A value as the human report shows it: strings bare, everything else as JSON.
pub fn show(v: Option<&Value>) -> String {
    match v {
        None => "(unset)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// The operator's names for the chart's Prometheus resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The Prometheus resource: `<fullname>-prometheus`.
    pub cr: String,
    pub namespace: String,
}

impl Chart {
    /// The chart's `kube-prometheus-stack.prometheus.crname` for these values, released as
    /// `release` into `namespace` (stackgen's header installs the release under the stack
    /// name; `fullnameOverride` is the stack name).
    pub fn from_values(v: &Value, release: &str, namespace: &str) -> Chart {
        let cut = |s: &str| s[..s.len().min(26)].trim_end_matches('-').to_string();
        let fullname = match v["fullnameOverride"].as_str().filter(|s| !s.is_empty()) {
            Some(f) => cut(f),
            None => {
                let name = v["nameOverride"].as_str().filter(|s| !s.is_empty()).unwrap_or("kube-prometheus-stack");
                if release.contains(name) {
                    cut(release)
                } else {
                    cut(&format!("{release}-{name}"))
                }
            }
        };
        let cr =
            if v["cleanPrometheusOperatorObjectNames"] == true { fullname } else { format!("{fullname}-prometheus") };
        let namespace = v["namespaceOverride"].as_str().filter(|s| !s.is_empty()).unwrap_or(namespace).to_string();
        Chart { cr, namespace }
    }
    /// The operator's StatefulSet of one shard (`prometheusNameByShard`).
    pub fn statefulset(&self, shard: u64) -> String {
        if shard == 0 {
            format!("prometheus-{}", self.cr)
        } else {
            format!("prometheus-{}-shard-{shard}", self.cr)
        }
    }
    /// The claim of one pod: the claim template is `prometheus-<cr>-db` (the operator's
    /// `volumeName`) unless the values name it.
    pub fn claim(&self, template: &str, shard: u64, ordinal: u64) -> String {
        format!("{template}-{}-{ordinal}", self.statefulset(shard))
    }
    pub fn key(&self) -> Key {
        Key {
            api_version: "monitoring.coreos.com/v1".into(),
            kind: "Prometheus".into(),
            namespace: Some(self.namespace.clone()),
            name: self.cr.clone(),
        }
    }
}

/// `prometheus.prometheusSpec` keys the Prometheus resource shows under the same name
/// (the chart copies them), and their resource field.
const CR_KEYS: &[(&str, &str)] = &[
    ("replicas", "replicas"),
    ("shards", "shards"),
    ("retention", "retention"),
    ("retentionSize", "retentionSize"),
    ("scrapeInterval", "scrapeInterval"),
    ("scrapeTimeout", "scrapeTimeout"),
    ("evaluationInterval", "evaluationInterval"),
    ("externalLabels", "externalLabels"),
    ("replicaExternalLabelName", "replicaExternalLabelName"),
    ("resources", "resources"),
    ("securityContext", "securityContext"),
    ("storageSpec", "storage"),
];

/// The values a live Prometheus resource made by the chart shows: [`CR_KEYS`] under
/// `prometheus.prometheusSpec`, with the operator's defaults (1 replica, 1 shard) where
/// the resource leaves them out. Compare it with [`project`] of the new values.
pub fn values_of_cr(cr: &Value) -> Value {
    let spec = &cr["spec"];
    let mut ps = Map::new();
    for (key, field) in CR_KEYS {
        match spec.get(*field) {
            Some(v) => {
                ps.insert((*key).into(), v.clone());
            }
            None if matches!(*key, "replicas" | "shards") => {
                ps.insert((*key).into(), json!(1));
            }
            None => {}
        }
    }
    if spec["prometheusExternalLabelName"] == "" {
        ps.insert("prometheusExternalLabelNameClear".into(), json!(true));
    }
    json!({"prometheus": {"prometheusSpec": ps}})
}

/// The part of a values document a live Prometheus resource can show.
pub fn project(values: &Value) -> Value {
    let spec = &values["prometheus"]["prometheusSpec"];
    let mut ps = Map::new();
    for (key, _) in CR_KEYS.iter().chain([&("prometheusExternalLabelNameClear", "")]) {
        if let Some(v) = spec.get(*key) {
            ps.insert((*key).into(), v.clone());
        }
    }
    json!({"prometheus": {"prometheusSpec": ps}})
}

const SPEC: &str = "prometheus.prometheusSpec";

fn spec(v: &Value) -> &Value {
    &v["prometheus"]["prometheusSpec"]
}

fn count(v: &Value, key: &str) -> u64 {
    spec(v)[key].as_u64().unwrap_or(1).max(1)
}

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

fn risk(code: &'static str, category: Category, chart: &Chart, path: &str, message: String) -> Risk {
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
            "release-renamed",
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
            r = risk("shard-count", Category::DataMoves, chart, &format!("{SPEC}.shards"), msg);
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
            r = risk("shard-count", Category::DataLoss, chart, &format!("{SPEC}.shards"), msg);
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
            "replicas-fewer",
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
            "statefulset-recreate",
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
            out.push(risk("storage-backend", Category::DataLoss, chart, &format!("{SPEC}.storageSpec"), msg));
        }
    }
    if ot.is_object() && nt.is_object() {
        let path = format!("{SPEC}.storageSpec.volumeClaimTemplate.spec");
        let existing = claims(&merge_counts(old, new), chart);
        let (oc, nc) = (ot.pointer("/spec/storageClassName"), nt.pointer("/spec/storageClassName"));
        if oc != nc {
            let (oc, nc) = (show(oc), show(nc));
            let mut r = risk(
                "storage-class",
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
            Some((compare::quantity(s)?, s.to_string()))
        };
        if let (Some((o, osz)), Some((n, nsz))) = (size(ot), size(nt)) {
            if n != o && oc == nt.pointer("/spec/storageClassName") {
                let mut r;
                if n > o {
                    r = risk(
                        "volume-grow",
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
                                "retention-over-claims",
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
                        "volume-shrink",
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
                "retention-shorter",
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
                "retention-size-smaller",
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
            "pod-restart",
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
        code: "component-storage",
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

/// How the operator spreads the static targets of `additionalScrapeConfigs` over the
/// shards: `hashmod` of `__address__` modulo `shards` (targets labelled
/// `__tmp_disable_sharding` are on every shard and never move).
pub fn shard_view(values: &Value) -> super::risk::ShardView {
    use crate::model::sharding::shard_of;
    let shards = count(values, "shards");
    let mut assign = std::collections::BTreeMap::new();
    for j in spec(values)["additionalScrapeConfigs"].as_array().into_iter().flatten() {
        let job = j["job_name"].as_str().unwrap_or_default();
        for sc in j["static_configs"].as_array().into_iter().flatten() {
            if sc["labels"].get("__tmp_disable_sharding").is_some() {
                continue;
            }
            for t in sc["targets"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let shard = shard_of(&["__address__"], shards, t, |_| None);
                assign.insert((job.to_string(), t.to_string()), shard);
            }
        }
    }
    super::risk::ShardView { shards, source_labels: vec!["__address__".into()], assign }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> crate::model::Stack {
        let src = crate::source::Source::new("t.toml", text);
        crate::check(&src).unwrap_or_else(|d| panic!("{d:#?}")).stack
    }

    #[test]
    fn names_agree_with_the_helm_render() {
        let s = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 3\n");
        let v = crate::render::helm::values(&s);
        let c = Chart::from_values(&v, s.name.as_str(), s.namespace.as_str());
        assert_eq!(c.cr, crate::render::helm::prometheus_cr(&s));
        for shard in 0..3u16 {
            assert_eq!(c.statefulset(u64::from(shard)), crate::render::helm::statefulset_name(&s, shard));
            assert_eq!(
                c.claim(&format!("prometheus-{}-db", c.cr), u64::from(shard), 1),
                crate::render::helm::claim_name(&s, shard, 1)
            );
        }
    }

    #[test]
    fn chart_names_without_override() {
        let c = Chart::from_values(&json!({}), "monitoring", "mon");
        assert_eq!(c.cr, "monitoring-kube-prometheus-prometheus");
        let c = Chart::from_values(&json!({}), "kube-prometheus-stack", "mon");
        assert_eq!(c.statefulset(1), "prometheus-kube-prometheus-stack-prometheus-shard-1");
        let c =
            Chart::from_values(&json!({"cleanPrometheusOperatorObjectNames": true, "fullnameOverride": "x"}), "r", "n");
        assert_eq!(c.statefulset(0), "prometheus-x");
    }

    #[test]
    fn fewer_shards_without_claims_names_no_claim() {
        let old = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n[sharding]\nshards = 3\n");
        let new = stack("[stack]\nname = \"ha\"\n[storage]\nbackend = \"ephemeral\"\n");
        let (ov, nv) = (crate::render::helm::values(&old), crate::render::helm::values(&new));
        let c = Chart::from_values(&nv, "ha", "monitoring");
        let risks = value_risks(&ov, &nv, &c, &c);
        let r = risks.iter().find(|r| r.code == "shard-count").expect("a shard-count risk");
        assert!(
            r.message.contains("prometheus-ha-prometheus-shard-1, prometheus-ha-prometheus-shard-2"),
            "{}",
            r.message
        );
        assert!(r.message.contains("emptyDir") && !r.message.contains("-db-"), "{}", r.message);
        assert!(r.action.is_none());
    }

    #[test]
    fn values_diff_is_key_by_key() {
        let old = json!({"a": {"b": 1, "storage": "2Gi", "d": [1, 2]}, "gone": true, "x.y": 1});
        let new = json!({"a": {"b": 2, "storage": "2048Mi", "d": [1]}, "new": {"k": 1}, "x.y": 2});
        let (d, same) = diff_values(&old, &new);
        let got: Vec<(String, &str)> = d.iter().map(|c| (c.path.clone(), c.change.as_str())).collect();
        assert_eq!(
            got,
            [
                ("a.b".to_string(), "changed"),
                ("a.d[1]".to_string(), "removed"),
                ("new".to_string(), "added"),
                ("x\\.y".to_string(), "changed"),
                ("gone".to_string(), "removed"),
            ]
        );
        assert_eq!(same, 2);
    }
}
