//! Every render applied to a real Kubernetes control plane (`scripts/control-plane.sh`:
//! etcd, kube-apiserver with Pod Security admission, kube-controller-manager,
//! kube-scheduler, fake Ready nodes, all on 127.0.0.1), with `kubectl apply --server-side`:
//!
//! - admission: every golden (manifests mode, and the helm-values companions) is accepted
//!   with no warning (Pod Security "restricted" is enforced for real);
//! - binding and scheduling: every claim the StatefulSet controller creates binds exactly
//!   the PV stackgen pre-bound for it, pods with local volumes land on the node their PV
//!   pins, dynamic claims carry no selector, a claim that stays Pending fails with its events;
//! - diff agrees with the server: `kubectl get … -o yaml | stackgen diff STACK --against -`
//!   reports no changes after each golden is applied, and for each `rejected` risk diff
//!   knows (and for changes it lets through) the server rejects the update iff diff said so;
//! - helm-values for real: the Prometheus Operator (its flags taken from the chart's
//!   rendered Deployment) turns `helm template` of kube-prometheus-stack 88.5.3 with
//!   stackgen's values into StatefulSets whose claims bind stackgen's static PVs.
//!
//! One control plane per run, shared by the sections of one `#[test]` (they run one after
//! the other: stacks share namespace names) and stopped by a Drop guard. Everything is
//! generic over `stacks/*.toml` and the objects the goldens hold.
//!
//! Debugging: `STACKGEN_CP_KEEP=1` leaves the control plane running at the end (its
//! kubeconfig path is printed); stop it with `STACKGEN_CP_DIR=<dir> scripts/control-plane.sh down`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};

/// How long a claim may stay Pending, a pod unscheduled, a controller idle.
pub(crate) const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(300);
const MANAGER: &str = "stackgen";
const CHART: &str = "kube-prometheus-stack-88.5.3.tgz";

// ---- the control plane ------------------------------------------------------------------

pub(crate) struct ControlPlane {
    dir: Option<tempfile::TempDir>,
}

impl ControlPlane {
    /// `scripts/control-plane.sh up --nodes …` in a temporary state directory; the guard
    /// exists before `up` runs, so a failed start still stops what it started.
    pub(crate) fn up(nodes: &[String]) -> (ControlPlane, PathBuf) {
        let dir = tempfile::Builder::new().prefix("stackgen-cp-").tempdir().unwrap();
        let cp = ControlPlane { dir: Some(dir) };
        let t = Instant::now();
        let out = cp.script().arg("up").arg("--nodes").arg(nodes.join(",")).output().expect("control-plane.sh runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "scripts/control-plane.sh up failed:\n{stderr}");
        let kubeconfig = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(kubeconfig.is_file(), "up printed {kubeconfig:?}, not a kubeconfig");
        eprintln!("control plane up in {:.1}s ({} nodes)", t.elapsed().as_secs_f64(), nodes.len());
        (cp, kubeconfig)
    }

    fn script(&self) -> Command {
        let mut c = Command::new(root().join("scripts/control-plane.sh"));
        c.env("STACKGEN_CP_DIR", self.dir.as_ref().unwrap().path());
        c.env("STACKGEN_TESTBIN", testbin_dir().parent().unwrap());
        c.stdin(Stdio::null());
        c
    }
}

impl ControlPlane {
    /// CPU seconds the control plane's processes have used (from /proc; Linux).
    fn cpu_seconds(&self) -> f64 {
        let pids = std::fs::read_to_string(self.dir.as_ref().unwrap().path().join("pids")).unwrap_or_default();
        let mut ticks = 0u64;
        for pid in pids.lines().filter_map(|l| l.split_whitespace().nth(1)) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command (which may hold spaces): utime and stime are 14, 15.
            if let Some(rest) = stat.rsplit_once(") ").map(|x| x.1) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                ticks += f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
                ticks += f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            }
        }
        ticks as f64 / 100.0
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if std::env::var("STACKGEN_CP_KEEP").is_ok_and(|v| v == "1") {
            let dir = self.dir.take().unwrap().keep();
            eprintln!("STACKGEN_CP_KEEP=1: control plane left running; KUBECONFIG={}/kubeconfig", dir.display());
            eprintln!("stop it with: STACKGEN_CP_DIR={} scripts/control-plane.sh down", dir.display());
            return;
        }
        let _ = self.script().arg("down").stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// A process started by the test (the operator), killed on drop.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- kubectl ------------------------------------------------------------------------------

pub(crate) struct Kube {
    pub(crate) kubectl: PathBuf,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) cache: PathBuf,
}

pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Kube {
    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(&self.cache).arg("--request-timeout=30s");
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Out {
        let (code, stdout, stderr) = run(self.cmd().args(args).stdin(Stdio::null()));
        Out { code, stdout, stderr }
    }

    fn run_stdin(&self, args: &[&str], input: &str) -> Out {
        let (code, stdout, stderr) = pipe(self.cmd().args(args), input);
        Out { code, stdout, stderr }
    }

    /// `kubectl get ARGS -o json`: the items (or the object); empty on error.
    pub(crate) fn items(&self, args: &[&str]) -> Vec<Value> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let o = self.run(&a);
        if o.code != 0 {
            return Vec::new();
        }
        let v: Value = serde_json::from_str(&o.stdout).unwrap_or(Value::Null);
        match v["items"].as_array() {
            Some(items) => items.clone(),
            None if v.is_object() => vec![v],
            None => Vec::new(),
        }
    }

    pub(crate) fn apply_file(&self, file: &Path) -> Out {
        self.run(&["apply", "--server-side", "--field-manager", MANAGER, "-f", file.to_str().unwrap()])
    }

    /// A large render applied as kubectl would, in dependency order (namespaces; then
    /// what pods need: service accounts, config, volumes, RBAC, services; then the rest),
    /// each step in four parallel `kubectl apply --server-side` calls: kubectl applies one
    /// object per request, and the 64-shard render has ~300.
    pub(crate) fn apply_in_parallel(&self, objs: &[Value]) -> Out {
        const FIRST: &[&str] = &["Namespace", "CustomResourceDefinition"];
        const SECOND: &[&str] = &[
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "StorageClass",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Service",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ];
        let step =
            |pred: &dyn Fn(&str) -> bool| objs.iter().filter(|o| pred(s(o, "/kind"))).cloned().collect::<Vec<_>>();
        let steps = [
            step(&|k| FIRST.contains(&k)),
            step(&|k| SECOND.contains(&k)),
            step(&|k| !FIRST.contains(&k) && !SECOND.contains(&k)),
        ];
        let mut all = Out { code: 0, stdout: String::new(), stderr: String::new() };
        for objs in steps.iter().filter(|s| !s.is_empty()) {
            let o = self.parallel(&["apply", "--server-side", "--field-manager", MANAGER], objs);
            all.code = all.code.max(o.code);
            all.stdout.push_str(&o.stdout);
            all.stderr.push_str(&o.stderr);
            if all.code != 0 {
                break;
            }
        }
        all
    }

    pub(crate) fn apply_objects(&self, objs: &[Value]) -> Out {
        self.run_stdin(&["apply", "--server-side", "--field-manager", MANAGER, "-f", "-"], &list_json(objs))
    }

    /// `kubectl ARGS -f -` on `objs` in four parallel calls (kubectl makes one request per
    /// object), outputs concatenated in order (YAML as separate documents).
    fn parallel(&self, args: &[&str], objs: &[Value]) -> Out {
        let chunks: Vec<Vec<Value>> = (0..4)
            .map(|i| objs.iter().skip(i).step_by(4).cloned().collect())
            .filter(|c: &Vec<Value>| !c.is_empty())
            .collect();
        let mut a: Vec<&str> = args.to_vec();
        a.extend_from_slice(&["-f", "-"]);
        let outs: Vec<Out> = std::thread::scope(|sc| {
            let a = &a;
            let hs: Vec<_> = chunks.iter().map(|c| sc.spawn(move || self.run_stdin(a, &list_json(c)))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all = Out { code: 0, stdout: String::new(), stderr: String::new() };
        let yaml = args.contains(&"yaml");
        for o in outs {
            all.code = all.code.max(o.code);
            if yaml && !all.stdout.is_empty() {
                all.stdout.push_str("---\n");
            }
            all.stdout.push_str(&o.stdout);
            if !o.stdout.ends_with('\n') {
                all.stdout.push('\n');
            }
            all.stderr.push_str(&o.stderr);
        }
        all
    }
}

fn pipe(cmd: &mut Command, input: &str) -> (i32, String, String) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn list_json(objs: &[Value]) -> String {
    serde_json::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": objs})).unwrap()
}

pub(crate) fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn id(o: &Value) -> String {
    let ns = s(o, "/metadata/namespace");
    let name = s(o, "/metadata/name");
    if ns.is_empty() {
        format!("{} {name}", s(o, "/kind"))
    } else {
        format!("{} {ns}/{name}", s(o, "/kind"))
    }
}

/// The objects of a YAML stream; a `List` (the chart renders some, possibly without
/// items) stands for its items.
pub(crate) fn objects(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for d in docs(text).into_iter().filter(|d| d.is_object() && d.get("kind").is_some()) {
        if s(&d, "/kind").ends_with("List") && d.get("metadata").is_none_or(|m| m.get("name").is_none()) {
            out.extend(d["items"].as_array().into_iter().flatten().filter(|i| i.is_object()).cloned());
        } else {
            out.push(d);
        }
    }
    out
}

/// Namespaces a render lives in.
fn namespaces(objs: &[Value]) -> BTreeSet<String> {
    let mut v: BTreeSet<String> = objs
        .iter()
        .filter_map(|o| o.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from))
        .collect();
    v.extend(objs.iter().filter(|o| o["kind"] == "Namespace").map(|o| s(o, "/metadata/name").to_string()));
    v
}

pub(crate) fn until<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(t) = f() {
            return Some(t);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Events about one object (by uid when known), as `reason: message` lines.
pub(crate) fn events_of(kube: &Kube, ns: &str, name: &str, uid: Option<&str>) -> String {
    let evs = kube.items(&["events", "-n", ns, "--field-selector", &format!("involvedObject.name={name}")]);
    let lines: Vec<String> = evs
        .iter()
        .filter(|e| uid.is_none_or(|u| s(e, "/involvedObject/uid") == u))
        .map(|e| format!("    {} {}: {}", s(e, "/type"), s(e, "/reason"), s(e, "/message")))
        .collect();
    if lines.is_empty() {
        "    (no events)".into()
    } else {
        lines.join("\n")
    }
}

// ---- admission ----------------------------------------------------------------------------

/// Apply a render; a failure or any warning (Pod Security's "would violate PodSecurity",
/// deprecations) fails, naming the objects (found by a server-side dry run of each).
fn admit(
    kube: &Kube,
    what: &str,
    file: &Path,
    objs: &[Value],
    expected: &dyn Fn(&Value, &str) -> bool,
    failures: &mut Vec<String>,
) -> bool {
    let o = if objs.len() > 60 { kube.apply_in_parallel(objs) } else { kube.apply_file(file) };
    let warnings: Vec<&str> = o.stderr.lines().filter(|l| l.starts_with("Warning:")).collect();
    if o.code != 0 {
        failures.push(format!("{what}: kubectl apply --server-side failed (exit {}):\n{}", o.code, o.stderr.trim()));
        return false;
    }
    if !warnings.is_empty() {
        let mut named = Vec::new();
        let mut explained = 0;
        // Pod Security warns on objects with pod templates: those first.
        let mut suspects: Vec<&Value> = objs.iter().filter(|o| o.pointer("/spec/template/spec").is_some()).collect();
        suspects.extend(objs.iter().filter(|o| o.pointer("/spec/template/spec").is_none()));
        for obj in suspects {
            let d = kube.run_stdin(
                &["apply", "--server-side", "--field-manager", MANAGER, "--dry-run=server", "-f", "-"],
                &list_json(std::slice::from_ref(obj)),
            );
            for w in d.stderr.lines().filter(|l| l.starts_with("Warning:")) {
                if expected(obj, w) {
                    explained += 1;
                    eprintln!("  {what}: expected (lint SG122): {}: {w}", id(obj));
                } else {
                    named.push(format!("  {}: {w}", id(obj)));
                }
            }
            if named.len() >= 20 || named.len() + explained >= warnings.len() {
                break;
            }
        }
        if !named.is_empty() {
            failures.push(format!("{what}: the server warned on apply:\n{}", named.join("\n")));
        }
    }
    true
}

/// Pod Security levels, weakest first.
fn psa_level(l: &str) -> usize {
    ["privileged", "baseline", "restricted"].iter().position(|x| *x == l).unwrap_or(0)
}

/// A Pod Security warning stackgen asks for on purpose: the namespace enforces a weaker
/// level than it warns at (the NFS provisioner's namespace, lint SG122, which the stack
/// reports), the warning is at the warned level, and the enforced level admits the pod
/// (checked by `pods_created`: enforcement rejects the pods otherwise).
fn deliberate_psa_warning(stack: &Path, objs: &[Value]) -> impl Fn(&Value, &str) -> bool {
    let (_, out, _) = run(Command::new(bin()).args(["lint", "--format", "json"]).arg(stack));
    let sg122 = serde_json::from_str::<Value>(&out)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .any(|d| d["code"] == "SG122");
    let labels: BTreeMap<String, Value> = objs
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .map(|o| (s(o, "/metadata/name").to_string(), o["metadata"]["labels"].clone()))
        .collect();
    move |obj: &Value, warning: &str| {
        let Some(l) = labels.get(s(obj, "/metadata/namespace")) else { return false };
        let (enforce, warn) =
            (l["pod-security.kubernetes.io/enforce"].as_str(), l["pod-security.kubernetes.io/warn"].as_str());
        let (Some(enforce), Some(warn)) = (enforce, warn) else { return false };
        sg122
            && psa_level(enforce) < psa_level(warn)
            && warning.contains(&format!("would violate PodSecurity \"{warn}:"))
    }
}

// ---- controllers: pods ----------------------------------------------------------------------

/// Wait until every StatefulSet and Deployment in `workloads` has its pods; a controller
/// that cannot create them (Pod Security rejects the pod) fails at once with its events.
pub(crate) fn pods_created(kube: &Kube, what: &str, workloads: &[Value], failures: &mut Vec<String>) -> bool {
    let nss: BTreeSet<String> = workloads.iter().map(|w| s(w, "/metadata/namespace").to_string()).collect();
    let mut last = String::new();
    let done = until(WAIT, || {
        let mut missing = Vec::new();
        for ns in &nss {
            let live = kube.items(&["pods,statefulsets.apps,deployments.apps,replicasets.apps,events", "-n", ns]);
            fn of_k<'a>(live: &'a [Value], k: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
                live.iter().filter(move |o| o["kind"] == k)
            }
            for w in workloads.iter().filter(|w| s(w, "/metadata/namespace") == ns) {
                let name = s(w, "/metadata/name");
                let want = w.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as usize;
                let Some(lw) = of_k(&live, s(w, "/kind")).find(|o| s(o, "/metadata/name") == name) else {
                    missing.push(format!("{}: not found", id(w)));
                    continue;
                };
                // The controllers that create the pods: the StatefulSet, or the
                // Deployment's ReplicaSets.
                let mut owners = vec![s(lw, "/metadata/uid").to_string()];
                if w["kind"] == "Deployment" {
                    owners = of_k(&live, "ReplicaSet")
                        .filter(|rs| s(rs, "/metadata/ownerReferences/0/uid") == s(lw, "/metadata/uid"))
                        .map(|rs| s(rs, "/metadata/uid").to_string())
                        .collect();
                }
                let have = of_k(&live, "Pod")
                    .filter(|p| owners.iter().any(|u| s(p, "/metadata/ownerReferences/0/uid") == u))
                    .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
                    .count();
                if have >= want {
                    continue;
                }
                let fails: Vec<String> = of_k(&live, "Event")
                    .filter(|e| {
                        owners.iter().any(|u| s(e, "/involvedObject/uid") == u) && e["reason"] == "FailedCreate"
                    })
                    .map(|e| format!("    {}", s(e, "/message")))
                    .collect();
                if !fails.is_empty() {
                    return Some(Err(format!("{what}: {} cannot create its pods:\n{}", id(w), fails.join("\n"))));
                }
                missing.push(format!("{}: {have} of {want} pods", id(w)));
            }
        }
        last = missing.join("\n  ");
        missing.is_empty().then_some(Ok(()))
    });
    match done {
        Some(Ok(())) => return true,
        Some(Err(e)) => failures.push(e),
        None => failures.push(format!("{what}: pods not created within {WAIT:?}:\n  {last}")),
    }
    false
}

// ---- binding and scheduling ---------------------------------------------------------------

/// The claims the StatefulSets make: `<template>-<statefulset>-<ordinal>`.
fn template_claims(statefulsets: &[Value]) -> Vec<(String, String, Value)> {
    let mut v = Vec::new();
    for sts in statefulsets {
        let ns = s(sts, "/metadata/namespace");
        let name = s(sts, "/metadata/name");
        let replicas = sts.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1);
        for t in sts.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array).into_iter().flatten() {
            for i in 0..replicas {
                v.push((ns.to_string(), format!("{}-{name}-{i}", s(t, "/metadata/name")), t.clone()));
            }
        }
    }
    v
}

/// The node names a PV's required nodeAffinity allows (`kubernetes.io/hostname In`).
fn pinned_nodes(pv: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for term in
        pv.pointer("/spec/nodeAffinity/required/nodeSelectorTerms").and_then(Value::as_array).into_iter().flatten()
    {
        for e in term["matchExpressions"].as_array().into_iter().flatten() {
            if e["key"] == "kubernetes.io/hostname" && e["operator"] == "In" {
                v.extend(e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from));
            }
        }
    }
    v
}

/// For the StatefulSets `statefulsets` (rendered, or made by the operator) and the PVs
/// `pvs` of a render: each pre-bound PV binds exactly its claim, which a controller made;
/// every other claim is dynamic and has no selector; a pod whose claims are all bound is
/// scheduled, onto the node its local PV pins.
pub(crate) fn binding(
    kube: &Kube,
    what: &str,
    statefulsets: &[Value],
    claims_in_render: &[Value],
    pvs: &[Value],
) -> Vec<String> {
    let mut failures = Vec::new();
    let prebound: BTreeMap<(String, String), &Value> = pvs
        .iter()
        .filter(|pv| pv.pointer("/spec/claimRef/name").is_some())
        .map(|pv| ((s(pv, "/spec/claimRef/namespace").to_string(), s(pv, "/spec/claimRef/name").to_string()), pv))
        .collect();
    let mut expected: BTreeMap<(String, String), String> = BTreeMap::new(); // claim -> who makes it
    for (ns, name, _) in template_claims(statefulsets) {
        expected.insert((ns, name), "StatefulSet".into());
    }
    for c in claims_in_render {
        expected.insert((s(c, "/metadata/namespace").to_string(), s(c, "/metadata/name").to_string()), "render".into());
    }
    for (key, pv) in &prebound {
        if !expected.contains_key(key) {
            failures.push(format!(
                "{what}: PersistentVolume {} is pre-bound to claim {}/{}, which no StatefulSet of the render makes \
                 (claims made: {})",
                s(pv, "/metadata/name"),
                key.0,
                key.1,
                expected.keys().map(|(n, c)| format!("{n}/{c}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let nss: BTreeSet<String> = expected.keys().map(|(n, _)| n.clone()).collect();
    let mut problems: Vec<String> = Vec::new();
    let ok = until(WAIT, || {
        problems.clear();
        let mut live_claims = BTreeMap::new();
        let mut pods = Vec::new();
        for ns in &nss {
            for o in kube.items(&["pvc,pods", "-n", ns]) {
                if o["kind"] == "Pod" {
                    pods.push(o);
                } else {
                    live_claims.insert((ns.clone(), s(&o, "/metadata/name").to_string()), o);
                }
            }
        }
        for (key, _) in expected.iter() {
            let Some(c) = live_claims.get(key) else {
                problems.push(format!("claim {}/{} was not created", key.0, key.1));
                continue;
            };
            match prebound.get(key) {
                Some(pv) => {
                    let pvname = s(pv, "/metadata/name");
                    if s(c, "/status/phase") != "Bound" || s(c, "/spec/volumeName") != pvname {
                        problems.push(format!(
                            "claim {}/{} is {} (volumeName {:?}), not bound to its pre-bound PV {pvname}",
                            key.0,
                            key.1,
                            s(c, "/status/phase"),
                            s(c, "/spec/volumeName")
                        ));
                    }
                }
                None => {
                    if c.pointer("/spec/selector").is_some() {
                        return Some(Err(format!(
                            "claim {}/{} has a selector {} but no PV of the render is pre-bound to it: \
                             a dynamic claim with a selector is never provisioned",
                            key.0, key.1, c["spec"]["selector"]
                        )));
                    }
                }
            }
        }
        for p in &pods {
            let claims: Vec<(String, String)> = p
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str))
                .map(|c| (s(p, "/metadata/namespace").to_string(), c.to_string()))
                .collect();
            let all_bound = claims.iter().all(|k| live_claims.get(k).is_some_and(|c| s(c, "/status/phase") == "Bound"));
            if !all_bound {
                continue; // a dynamic claim with no provisioner here: the pod waits, as it should
            }
            let node = s(p, "/spec/nodeName");
            if node.is_empty() {
                problems.push(format!("pod {} is not scheduled", s(p, "/metadata/name")));
                continue;
            }
            for k in &claims {
                if let Some(pv) = prebound.get(k) {
                    let pins = pinned_nodes(pv);
                    if !pins.is_empty() && !pins.iter().any(|n| n == node) {
                        return Some(Err(format!(
                            "pod {} was scheduled onto {node}, but its claim {} is bound to PV {} pinned to {pins:?}",
                            s(p, "/metadata/name"),
                            k.1,
                            s(pv, "/metadata/name")
                        )));
                    }
                }
            }
        }
        problems.is_empty().then_some(Ok(()))
    });
    match ok {
        Some(Ok(())) => {}
        Some(Err(e)) => failures.push(format!("{what}: {e}")),
        None => {
            let mut msg = format!("{what}: not bound or not scheduled after {WAIT:?}:");
            for p in problems.iter().take(12) {
                msg.push_str(&format!("\n  {p}"));
                // The events of the claim or pod named first in the line.
                let words: Vec<&str> = p.split_whitespace().collect();
                if let (Some(kind), Some(obj)) = (words.first(), words.get(1)) {
                    let (ns, name) = obj.split_once('/').unwrap_or((nss.iter().next().unwrap(), obj));
                    msg.push_str(&format!("\n{}", events_of(kube, ns, name, None)));
                    // A claim waits for its pod: the pod's events say why (the scheduler's).
                    if *kind == "claim" {
                        for pod in kube.items(&["pods", "-n", ns]).iter().filter(|p| {
                            p.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().any(|v| {
                                v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str) == Some(name)
                            })
                        }) {
                            let pname = s(pod, "/metadata/name");
                            msg.push_str(&format!("\n    pod {pname}:\n{}", events_of(kube, ns, pname, None)));
                        }
                    }
                }
            }
            failures.push(msg);
        }
    }
    failures
}

// ---- diff against the live objects --------------------------------------------------------

fn stackgen_diff(stack: &Path, against: &str, input: Option<&str>, json: bool) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.arg("diff").arg(stack).arg("--against").arg(against).env("NO_COLOR", "1");
    if json {
        c.args(["--format", "json"]);
    }
    match input {
        Some(i) => pipe(&mut c, i),
        None => run(c.stdin(Stdio::null())),
    }
}

/// `kubectl get -f RENDER -o yaml | stackgen diff` and the README's
/// `kubectl get -n NS <kinds> -o yaml | stackgen diff` report no changes.
fn diff_live(kube: &Kube, what: &str, stack: &Path, file: &Path, objs: &[Value]) -> Vec<String> {
    let mut failures = Vec::new();
    // The exact objects (`kubectl get -f`), for renders of a few dozen objects; the large
    // ones are read by kind below, which holds the same objects and more.
    let got = if objs.len() > 60 {
        Out { code: 0, stdout: String::new(), stderr: String::new() }
    } else {
        kube.run(&["get", "-f", file.to_str().unwrap(), "-o", "yaml"])
    };
    if got.code != 0 {
        return vec![format!("{what}: kubectl get -f failed: {}", got.stderr.trim())];
    }
    let (code, out, err) = if got.stdout.is_empty() {
        (0, String::new(), String::new())
    } else {
        stackgen_diff(stack, "-", Some(&got.stdout), false)
    };
    if code != 0 {
        failures.push(format!(
            "{what}: `kubectl get -f {} -o yaml | stackgen diff {} --against -` exits {code}, not 0:\n{}{}",
            file.display(),
            stack.display(),
            out.lines().take(60).collect::<Vec<_>>().join("\n"),
            err
        ));
    }
    // By kind, as README shows: every object of those kinds in the namespaces (pods and
    // claims the controllers made among them) and the cluster-scoped kinds cluster-wide.
    let kind_arg = |namespaced: bool| {
        let mut kinds: BTreeSet<String> = objs
            .iter()
            .filter(|o| o.pointer("/metadata/namespace").is_some() == namespaced && o["kind"] != "Namespace")
            .map(|o| {
                let kind = s(o, "/kind").to_lowercase();
                match s(o, "/apiVersion").split_once('/') {
                    Some((group, _)) => format!("{kind}.{group}"),
                    None => kind,
                }
            })
            .collect();
        if namespaced {
            kinds.insert("pods".into());
            kinds.insert("persistentvolumeclaims".into());
        }
        kinds.into_iter().collect::<Vec<_>>().join(",")
    };
    let mut live = String::new();
    for ns in namespaces(objs) {
        let g = kube.run(&["get", "-n", &ns, &kind_arg(true), "-o", "yaml"]);
        live.push_str(&g.stdout);
        live.push_str("\n---\n");
    }
    let cluster = kind_arg(false);
    if !cluster.is_empty() {
        live.push_str(&kube.run(&["get", &cluster, "-o", "yaml"]).stdout);
        live.push_str("\n---\n");
    }
    let nsnames: Vec<String> = namespaces(objs).into_iter().collect();
    live.push_str(&kube.run(&["get", "namespaces", "-o", "yaml"]).stdout);
    let (code, out, err) = stackgen_diff(stack, "-", Some(&live), false);
    if code != 0 {
        failures.push(format!(
            "{what}: `kubectl get -n {} <kinds> -o yaml | stackgen diff {} --against -` exits {code}, not 0:\n{}{}",
            nsnames.join(","),
            stack.display(),
            out.lines().take(60).collect::<Vec<_>>().join("\n"),
            err
        ));
    }
    failures
}

// ---- cleanup between stacks -----------------------------------------------------------------

/// Delete what a render made (its objects but the Namespaces, which the next render takes
/// over by server-side apply), the pods and claims its controllers made (pods are forced:
/// no kubelet ever confirms their end), and wait until they are gone.
fn cleanup(kube: &Kube, objs: &[Value], extra_namespaces: &[String]) {
    let deletable: Vec<Value> =
        objs.iter().filter(|o| o["kind"] != "Namespace" && o["kind"] != "CustomResourceDefinition").cloned().collect();
    let mut nss = namespaces(objs);
    nss.extend(extra_namespaces.iter().cloned());
    let mut errors = String::new();
    let mut round = 0;
    let gone = until(WAIT, || {
        // Delete (again every few rounds: a delete that raced with a controller, or a
        // chunk kubectl gave up on, is retried).
        if round % 8 == 0 {
            let d = kube.parallel(&["delete", "--ignore-not-found", "--wait=false"], &deletable);
            if d.code != 0 {
                errors = d.stderr;
            }
        }
        round += 1;
        let mut left = 0;
        for ns in &nss {
            kube.run(&["delete", "pods", "--all", "-n", ns, "--force", "--grace-period=0", "--wait=false"]);
            kube.run(&["delete", "pvc", "--all", "-n", ns, "--wait=false"]);
            left += kube.items(&["pods,pvc,statefulsets.apps,replicasets.apps,daemonsets.apps", "-n", ns]).len();
        }
        (left == 0).then_some(())
    });
    // Then every object of the render is gone (cluster-scoped ones included).
    let mut left = String::new();
    let gone = gone.and_then(|_| {
        until(WAIT, || {
            let o = kube.parallel(&["get", "--ignore-not-found", "-o", "name"], &deletable);
            left = o.stdout.trim().to_string();
            if !left.is_empty() {
                kube.parallel(&["delete", "--ignore-not-found", "--wait=false"], &deletable);
            }
            left.is_empty().then_some(())
        })
    });
    let mut live = String::new();
    for ns in &nss {
        let o =
            kube.run(&["get", "pods,pvc,statefulsets.apps,replicasets.apps,daemonsets.apps", "-n", ns, "-o", "name"]);
        live.push_str(&o.stdout);
    }
    assert!(
        gone.is_some(),
        "cleanup did not finish within {WAIT:?} (namespaces {nss:?}); left: {left}\n{live}\nkubectl delete said: {errors}"
    );
}

// ---- the sections -----------------------------------------------------------------------------

struct Golden {
    stack: PathBuf,
    name: String,
    file: PathBuf,
    objs: Vec<Value>,
}

/// The stacks to apply: all of `stacks/`, or those `STACKGEN_CP_ONLY` names (comma
/// separated stems, for debugging; a name that matches nothing fails).
fn selected_stacks() -> Vec<PathBuf> {
    let all = stacks();
    match std::env::var("STACKGEN_CP_ONLY") {
        Ok(only) if !only.is_empty() => {
            let want: Vec<&str> = only.split(',').collect();
            for w in &want {
                assert!(all.iter().any(|s| stem(s) == *w), "STACKGEN_CP_ONLY: no stack {w} in stacks/");
            }
            all.into_iter().filter(|s| want.contains(&stem(s).as_str())).collect()
        }
        _ => all,
    }
}

fn goldens() -> Vec<Golden> {
    stacks()
        .into_iter()
        .map(|stack| {
            let file = golden_path(&stack);
            let objs = objects(&std::fs::read_to_string(&file).unwrap());
            Golden { name: stem(&stack), stack, file, objs }
        })
        .collect()
}

fn helm_file(stack: &Path, what: &str) -> PathBuf {
    root().join("golden/helm").join(format!("{}.{what}.yaml", stem(stack)))
}

fn of_kind(objs: &[Value], kind: &str) -> Vec<Value> {
    objs.iter().filter(|o| o["kind"] == kind).cloned().collect()
}

/// Manifests mode: admission, pods, binding and scheduling, diff against the live objects.
fn manifests_section(kube: &Kube, failures: &mut Vec<String>) {
    let mut static_backends = BTreeSet::new();
    let selected = selected_stacks();
    for g in goldens().into_iter().filter(|g| selected.contains(&g.stack)) {
        let t = Instant::now();
        let model = crate::common::check_file(&g.stack);
        if model.storage.backend.is_static() {
            static_backends.insert(model.storage.backend.name());
        }
        let what = format!("golden/{}.yaml", g.name);
        let before = failures.len();
        let mut phases = Vec::new();
        let mut lap = Instant::now();
        let mut phase = |name: &str| {
            phases.push(format!("{name} {:.1}s", lap.elapsed().as_secs_f64()));
            lap = Instant::now();
        };
        let fixtures = cluster_classes(&g.objs);
        if !fixtures.is_empty() {
            let o = kube.apply_objects(&fixtures);
            assert_eq!(o.code, 0, "cluster StorageClasses: {}", o.stderr);
        }
        if admit(kube, &what, &g.file, &g.objs, &deliberate_psa_warning(&g.stack, &g.objs), failures) {
            phase("apply");
            let workloads: Vec<Value> =
                g.objs.iter().filter(|o| o["kind"] == "StatefulSet" || o["kind"] == "Deployment").cloned().collect();
            // Without their pods, StatefulSets make no claims: binding is not checked then.
            let pods = pods_created(kube, &what, &workloads, failures);
            phase("pods");
            if pods {
                failures.extend(binding(
                    kube,
                    &what,
                    &of_kind(&g.objs, "StatefulSet"),
                    &of_kind(&g.objs, "PersistentVolumeClaim"),
                    &of_kind(&g.objs, "PersistentVolume"),
                ));
            }
            phase("binding");
            failures.extend(diff_live(kube, &what, &g.stack, &g.file, &g.objs));
            phase("diff");
        }
        let mut made = g.objs.clone();
        made.extend(fixtures);
        cleanup(kube, &made, &[]);
        phase("cleanup");
        eprintln!(
            "  {what}: {} objects, {} ({:.1}s: {})",
            g.objs.len(),
            if failures.len() == before { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64(),
            phases.join(", ")
        );
    }
    for b in ["local", "nfs", "iscsi"] {
        if selected.len() == stacks().len() && !static_backends.contains(b) {
            failures.push(format!("no stack in stacks/ uses the static backend {b}: binding is untested for it"));
        }
    }
}

/// Every `storageClassName` a value names (recursively).
fn class_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("storageClassName", Value::String(s)) if !s.is_empty() => {
                        out.insert(s.clone());
                    }
                    _ => class_names(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| class_names(x, out)),
        _ => {}
    }
}

/// The StorageClasses a stack names but does not render (`[storage.class] name`,
/// `component_class`, an existing Ceph class): the cluster provides them. Here they exist
/// with a provisioner nobody runs, so their claims stay Pending as dynamic claims should,
/// and the operator, which refuses a storage class that does not exist, goes on.
pub(crate) fn cluster_classes(objs: &[Value]) -> Vec<Value> {
    let mut named = BTreeSet::new();
    objs.iter().for_each(|o| class_names(o, &mut named));
    for o in objs.iter().filter(|o| o["kind"] == "StorageClass") {
        named.remove(s(o, "/metadata/name"));
    }
    named
        .into_iter()
        .map(|n| {
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": n, "labels": {"stackgen.test/fixture": "cluster-provided"}},
                   "provisioner": "example.com/cluster-provided", "volumeBindingMode": "WaitForFirstConsumer"})
        })
        .collect()
}

/// The Prometheus Operator's flags from the chart's rendered operator Deployment; only
/// what the test environment needs changes: the API server address, a loopback listen
/// address and no TLS (the chart's certificate comes from its admission-webhook jobs).
fn operator_args(tpl: &[Value], kubeconfig: &Path) -> Option<Vec<String>> {
    let dep = tpl.iter().find(|o| {
        o["kind"] == "Deployment"
            && o.pointer("/spec/template/spec/containers/0/args").and_then(Value::as_array).is_some_and(|a| {
                a.iter().any(|x| x.as_str().is_some_and(|x| x.starts_with("--prometheus-config-reloader=")))
            })
    })?;
    let mut args: Vec<String> = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|a| {
            !["--web.enable-tls=", "--web.cert-file=", "--web.key-file=", "--web.listen-address=", "--web.tls-"]
                .iter()
                .any(|p| a.starts_with(p))
        })
        .map(String::from)
        .collect();
    args.push("--web.enable-tls=false".into());
    args.push(format!("--web.listen-address=127.0.0.1:{}", free_port()));
    // The operator has no --kubeconfig: --apiserver and the control plane's admin client
    // certificate.
    let certs = kubeconfig.parent().unwrap().join("certs");
    let server = std::fs::read_to_string(kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(String::from))
        .expect("kubeconfig has a server");
    args.push(format!("--apiserver={server}"));
    args.push("--tls-insecure".into());
    args.push(format!("--cert-file={}", certs.join("admin.crt").display()));
    args.push(format!("--key-file={}", certs.join("admin.key").display()));
    Some(args)
}

/// helm-values: the chart's CRDs, then per stack the companions and `helm template` of the
/// chart with stackgen's values, reconciled by the real operator.
fn helm_section(kube: &Kube, work: &Path, failures: &mut Vec<String>) {
    let chart = root().join("../shared/reference-data/charts").join(CHART);
    let chart = if chart.is_file() { chart } else { PathBuf::from("/work/shared/reference-data/charts").join(CHART) };
    if !chart.is_file() {
        assert!(!in_ci(), "{CHART} is required under CI=true");
        skipped(&format!("helm-values for real: {CHART} not found"));
        return;
    }
    let (Some(helm), Some(operator)) = (real("helm"), real("operator")) else { return };
    // The chart and the operator run for the stacks whose companions carry what the
    // operator's objects use: static PVs (its claims must bind them) and, for the first
    // stack with one, the Thanos objstore Secret. For the others (dynamic claims only),
    // `helm template` and the companions' admission; their values are checked key by key
    // in the helm module.
    let mut thanos_done = false;
    // The CRDs of the chart's crds subchart.
    let unpacked = work.join("chart");
    std::fs::create_dir_all(&unpacked).unwrap();
    let (code, _, err) = run(Command::new("tar").arg("xzf").arg(&chart).arg("-C").arg(&unpacked));
    assert_eq!(code, 0, "tar: {err}");
    let crds = unpacked.join("kube-prometheus-stack/charts/crds/crds");
    let o = kube.apply_file(&crds);
    assert_eq!(o.code, 0, "CRDs of {CHART}: {}", o.stderr);
    let o = kube.run(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    assert_eq!(o.code, 0, "CRDs not established: {}", o.stderr);

    for stack in selected_stacks() {
        let t = Instant::now();
        let before = failures.len();
        let name = stem(&stack);
        let values_file = helm_file(&stack, "values");
        let comp_file = helm_file(&stack, "manifests");
        let values: Value = serde_saphyr::from_str(&std::fs::read_to_string(&values_file).unwrap()).unwrap();
        let release = values["fullnameOverride"].as_str().expect("values set fullnameOverride").to_string();
        let ns = values["namespaceOverride"].as_str().expect("values set namespaceOverride").to_string();
        let companions = objects(&std::fs::read_to_string(&comp_file).unwrap());
        let what = format!("golden/helm/{name}");
        let has_secret = companions.iter().any(|o| o["kind"] == "Secret");
        let full = companions.iter().any(|o| o["kind"] == "PersistentVolume") || (has_secret && !thanos_done);
        thanos_done |= full && has_secret;
        // The chart's admission webhooks need their certificate jobs and a running
        // webhook server: off; everything else is stackgen's values.
        let (code, tpl_text, err) = run(Command::new(&helm)
            .args(["template", &release])
            .arg(&chart)
            .args(["--namespace", &ns, "--kube-version", "1.33.5", "-f"])
            .arg(&values_file)
            .args(["--set", "prometheusOperator.admissionWebhooks.enabled=false"])
            // `helm install` does not create the chart's test pods (`helm test` does).
            .arg("--skip-tests"));
        if code != 0 {
            failures.push(format!("{what}: helm template failed: {err}"));
            continue;
        }
        let tpl = objects(&tpl_text);
        let tpl_file = work.join(format!("{name}.chart.yaml"));
        std::fs::write(&tpl_file, &tpl_text).unwrap();
        if !full {
            let none = |_: &Value, _: &str| false;
            admit(kube, &format!("{what}.manifests.yaml"), &comp_file, &companions, &none, failures);
            cleanup(kube, &companions, std::slice::from_ref(&ns));
            eprintln!(
                "  {what}: helm template ({} objects) + {} companions applied, {} ({:.1}s)",
                tpl.len(),
                companions.len(),
                if failures.len() == before { "ok" } else { "FAILED" },
                t.elapsed().as_secs_f64()
            );
            continue;
        }
        let Some(args) = operator_args(&tpl, &kube.kubeconfig) else {
            failures.push(format!("{what}: the chart rendered no operator Deployment"));
            continue;
        };
        let log = work.join(format!("{name}.operator.log"));
        let logf = std::fs::File::create(&log).unwrap();
        let op = Proc(
            Command::new(&operator)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(logf.try_clone().unwrap())
                .stderr(logf)
                .spawn()
                .expect("operator starts"),
        );
        let mut named = tpl.clone();
        named.extend(companions.iter().cloned());
        let fixtures = cluster_classes(&named);
        if !fixtures.is_empty() {
            let o = kube.apply_objects(&fixtures);
            assert_eq!(o.code, 0, "cluster StorageClasses: {}", o.stderr);
        }
        let none = |_: &Value, _: &str| false;
        if admit(kube, &format!("{what}.manifests.yaml"), &comp_file, &companions, &none, failures)
            && admit(
                kube,
                &format!("helm template {release} {CHART} -f {what}.values.yaml"),
                &tpl_file,
                &tpl,
                &none,
                failures,
            )
        {
            // The StatefulSets the operator makes from the Prometheus and Alertmanager
            // resources, as many as the resources ask for.
            let mut want = 0;
            for p in tpl.iter().filter(|o| o["kind"] == "Prometheus") {
                want += p.pointer("/spec/shards").and_then(Value::as_u64).unwrap_or(1);
            }
            want += tpl.iter().filter(|o| o["kind"] == "Alertmanager").count() as u64;
            let mut sts = Vec::new();
            let made = until(WAIT, || {
                sts = kube
                    .items(&["statefulsets.apps", "-n", &ns])
                    .into_iter()
                    .filter(|o| {
                        o.pointer("/metadata/ownerReferences/0/apiVersion")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .starts_with("monitoring.coreos.com/")
                    })
                    .collect();
                (sts.len() as u64 >= want).then_some(())
            });
            if made.is_none() {
                failures.push(format!(
                    "{what}: the operator made {} of {want} StatefulSets within {WAIT:?}; its log ends:\n{}",
                    sts.len(),
                    tail(&log, 20)
                ));
            } else {
                if pods_created(kube, &what, &sts, failures) {
                    let mut claims = of_kind(&companions, "PersistentVolumeClaim");
                    claims.extend(of_kind(&tpl, "PersistentVolumeClaim"));
                    failures.extend(binding(kube, &what, &sts, &claims, &of_kind(&companions, "PersistentVolume")));
                }
            }
        }
        drop(op);
        named.extend(fixtures);
        cleanup(kube, &named, std::slice::from_ref(&ns));
        eprintln!(
            "  {what}: {} chart objects + {} companions, operator, {} ({:.1}s)",
            tpl.len(),
            companions.len(),
            if failures.len() == before { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        );
    }
}

pub(crate) fn tail(p: &Path, n: usize) -> String {
    let t = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---- diff agrees with the server ------------------------------------------------------------

/// A change to one rendered object: `old` is what the cluster has, the render is new.
struct Case {
    name: String,
    golden: usize,
    index: usize,
    old: Value,
}

type Mutation = (&'static str, &'static str, fn(&Value, usize) -> Option<Value>);

fn with(o: &Value, f: impl FnOnce(&mut Value) -> Option<()>) -> Option<Value> {
    let mut v = o.clone();
    f(&mut v)?;
    (v != *o).then_some(v)
}

fn flip(v: &mut Value, a: &str, b: &str) -> Option<()> {
    let now = v.as_str()?.to_string();
    *v = json!(if now == a { b } else { a });
    Some(())
}

fn double_quantity(q: &str) -> String {
    let digits: String = q.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = &q[digits.len()..];
    format!("{}{unit}", digits.parse::<u64>().unwrap_or(1) * 2)
}

/// The one change the server accepts only in some states: a claim's request grows. diff
/// lets it through, as the server does for a Bound claim whose class allows expansion;
/// the case sets that up (the class as rendered, or one the cluster provides, expandable).
const GROW: &str = "PersistentVolumeClaim larger storage request (bound, expandable class: allowed)";

fn half_quantity(q: &str) -> Option<String> {
    let digits: String = q.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    (n >= 2).then(|| format!("{}{}", n / 2, &q[digits.len()..]))
}

/// Every change diff marks `rejected`, and changes it lets through: (case, kind, mutation
/// of the rendered object into the old one). The Service cases take a cluster IP from the
/// test's own range.
fn mutations() -> Vec<Mutation> {
    vec![
        ("StatefulSet spec.selector", "StatefulSet", |o, _| {
            with(o, |v| {
                v.pointer_mut("/spec/selector/matchLabels")?
                    .as_object_mut()?
                    .insert("stackgen.dev/old".into(), json!("x"));
                v.pointer_mut("/spec/template/metadata/labels")?
                    .as_object_mut()?
                    .insert("stackgen.dev/old".into(), json!("x"));
                Some(())
            })
        }),
        ("StatefulSet spec.serviceName", "StatefulSet", |o, _| {
            with(o, |v| {
                let n = format!("{}-old", v.pointer("/spec/serviceName")?.as_str()?);
                v["spec"]["serviceName"] = json!(n);
                Some(())
            })
        }),
        ("StatefulSet spec.volumeClaimTemplates", "StatefulSet", |o, _| {
            with(o, |v| {
                let q = v.pointer_mut("/spec/volumeClaimTemplates/0/spec/resources/requests/storage")?;
                *q = json!(double_quantity(q.as_str()?));
                Some(())
            })
        }),
        ("StatefulSet spec.podManagementPolicy", "StatefulSet", |o, _| {
            with(o, |v| flip(v.pointer_mut("/spec/podManagementPolicy")?, "Parallel", "OrderedReady"))
        }),
        ("StatefulSet spec.template (allowed)", "StatefulSet", |o, _| {
            with(o, |v| {
                let meta = v.pointer_mut("/spec/template/metadata")?.as_object_mut()?;
                let ann = meta.entry("annotations").or_insert(json!({}));
                ann.as_object_mut()?.insert("stackgen.dev/old".into(), json!("x"));
                Some(())
            })
        }),
        ("StatefulSet spec.updateStrategy (allowed)", "StatefulSet", |o, _| {
            with(o, |v| {
                v["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
                Some(())
            })
        }),
        ("Deployment spec.selector", "Deployment", |o, _| {
            with(o, |v| {
                v.pointer_mut("/spec/selector/matchLabels")?
                    .as_object_mut()?
                    .insert("stackgen.dev/old".into(), json!("x"));
                v.pointer_mut("/spec/template/metadata/labels")?
                    .as_object_mut()?
                    .insert("stackgen.dev/old".into(), json!("x"));
                Some(())
            })
        }),
        ("Deployment spec.template (allowed)", "Deployment", |o, _| {
            with(o, |v| {
                let meta = v.pointer_mut("/spec/template/metadata")?.as_object_mut()?;
                let ann = meta.entry("annotations").or_insert(json!({}));
                ann.as_object_mut()?.insert("stackgen.dev/old".into(), json!("x"));
                Some(())
            })
        }),
        ("Service spec.clusterIP (headless in the render)", "Service", |o, i| {
            (s(o, "/spec/clusterIP") == "None").then(|| {
                let mut v = o.clone();
                v["spec"]["clusterIP"] = json!(format!("10.96.200.{}", 10 + i));
                v
            })
        }),
        ("Service spec.clusterIP (unset in the render, allowed)", "Service", |o, i| {
            o.pointer("/spec/clusterIP").is_none().then(|| {
                let mut v = o.clone();
                v["spec"]["clusterIP"] = json!(format!("10.96.201.{}", 10 + i));
                v
            })
        }),
        ("Service spec.ports (allowed)", "Service", |o, _| {
            with(o, |v| {
                let p = v.pointer_mut("/spec/ports/0/port")?;
                *p = json!(p.as_u64()? + 1);
                Some(())
            })
        }),
        ("PersistentVolume source (local)", "PersistentVolume", |o, _| pv_source(o, "local")),
        ("PersistentVolume source (nfs)", "PersistentVolume", |o, _| pv_source(o, "nfs")),
        ("PersistentVolume source (iscsi)", "PersistentVolume", |o, _| pv_source(o, "iscsi")),
        ("PersistentVolume spec.volumeMode", "PersistentVolume", |o, _| {
            with(o, |v| flip(v.pointer_mut("/spec/volumeMode")?, "Filesystem", "Block"))
        }),
        ("PersistentVolume spec.nodeAffinity", "PersistentVolume", |o, _| {
            with(o, |v| {
                let val =
                    v.pointer_mut("/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/0/values/0")?;
                *val = json!(format!("{}-old", val.as_str()?));
                Some(())
            })
        }),
        ("PersistentVolume spec.claimRef (allowed)", "PersistentVolume", |o, _| {
            with(o, |v| {
                let n = v.pointer_mut("/spec/claimRef/name")?;
                *n = json!(format!("{}-old", n.as_str()?));
                Some(())
            })
        }),
        ("PersistentVolume spec.capacity (allowed)", "PersistentVolume", |o, _| {
            with(o, |v| {
                let q = v.pointer_mut("/spec/capacity/storage")?;
                *q = json!(double_quantity(q.as_str()?));
                Some(())
            })
        }),
        ("PersistentVolumeClaim spec.accessModes", "PersistentVolumeClaim", |o, _| {
            with(o, |v| {
                v["spec"]["accessModes"] = json!(["ReadWriteOncePod"]);
                Some(())
            })
        }),
        ("PersistentVolumeClaim smaller storage request", "PersistentVolumeClaim", |o, _| {
            with(o, |v| {
                let q = v.pointer_mut("/spec/resources/requests/storage")?;
                *q = json!(double_quantity(q.as_str()?));
                Some(())
            })
        }),
        (GROW, "PersistentVolumeClaim", |o, _| {
            with(o, |v| {
                let q = v.pointer_mut("/spec/resources/requests/storage")?;
                *q = json!(half_quantity(q.as_str()?)?);
                Some(())
            })
        }),
        ("StorageClass provisioner", "StorageClass", |o, _| {
            with(o, |v| {
                v["provisioner"] = json!(format!("old.{}", v["provisioner"].as_str()?).replace('/', "-"));
                Some(())
            })
        }),
        ("StorageClass parameters", "StorageClass", |o, _| {
            with(o, |v| {
                v.get_mut("parameters")?.as_object_mut()?.insert("stackgen.dev/old".into(), json!("x"));
                Some(())
            })
        }),
        ("StorageClass reclaimPolicy", "StorageClass", |o, _| {
            with(o, |v| {
                let p = v.as_object_mut()?.entry("reclaimPolicy").or_insert(json!("Delete"));
                flip(p, "Delete", "Retain")
            })
        }),
        ("StorageClass volumeBindingMode", "StorageClass", |o, _| {
            with(o, |v| {
                let p = v.as_object_mut()?.entry("volumeBindingMode").or_insert(json!("Immediate"));
                flip(p, "Immediate", "WaitForFirstConsumer")
            })
        }),
        ("StorageClass allowVolumeExpansion (allowed)", "StorageClass", |o, _| {
            with(o, |v| {
                let b = v.get("allowVolumeExpansion").and_then(Value::as_bool).unwrap_or(false);
                v["allowVolumeExpansion"] = json!(!b);
                Some(())
            })
        }),
        ("ConfigMap data (allowed)", "ConfigMap", |o, _| {
            with(o, |v| {
                v.as_object_mut()?.entry("data").or_insert(json!({})).as_object_mut()?.insert("old".into(), json!("x"));
                Some(())
            })
        }),
    ]
}

fn pv_source(o: &Value, source: &str) -> Option<Value> {
    with(o, |v| {
        let src = v.pointer_mut(&format!("/spec/{source}"))?.as_object_mut()?;
        let (k, val) =
            src.iter_mut().find(|(k, _)| ["path", "server", "lun", "iqn", "targetPortal"].contains(&k.as_str()))?;
        let _ = k;
        *val = match val {
            Value::Number(n) => json!(n.as_u64()? + 10),
            Value::String(t) => json!(format!("{t}-old")),
            _ => return None,
        };
        Some(())
    })
}

/// For each mutation, the first rendered object (over the goldens, in order) it applies to.
fn cases(goldens: &[Golden]) -> (Vec<Case>, Vec<String>) {
    let mut v = Vec::new();
    let mut none = Vec::new();
    for (i, (name, kind, f)) in mutations().into_iter().enumerate() {
        let found = goldens.iter().enumerate().find_map(|(gi, g)| {
            g.objs
                .iter()
                .enumerate()
                .filter(|(_, o)| o["kind"] == kind)
                .find_map(|(oi, o)| f(o, i).map(|old| (gi, oi, old)))
        });
        match found {
            Some((golden, index, old)) => v.push(Case { name: name.to_string(), golden, index, old }),
            None => none.push(name.to_string()),
        }
    }
    (v, none)
}

/// The object as the server side of a case sees it: renamed per case and moved to the
/// cases' namespace so that all cases run side by side, and scaled to zero (the update
/// rules do not depend on replicas; no pods are needed).
fn for_server(o: &Value, n: usize, ns: &str) -> Value {
    let mut v = o.clone();
    let name = format!("{}-c{n}", s(o, "/metadata/name"));
    v["metadata"]["name"] = json!(name);
    if v.pointer("/metadata/namespace").is_some() {
        v["metadata"]["namespace"] = json!(ns);
    }
    if matches!(s(o, "/kind"), "StatefulSet" | "Deployment") {
        v["spec"]["replicas"] = json!(0);
    }
    v
}

/// Bind a case's claim: its StorageClass (as the render has it, or an expandable one the
/// cluster is assumed to provide) and a PV pre-bound to it with the old request.
fn bind_case_claim(kube: &Kube, g: &Golden, claim: &Value, n: usize) -> Result<(), String> {
    let class = s(claim, "/spec/storageClassName");
    let sc =
        g.objs.iter().find(|o| o["kind"] == "StorageClass" && s(o, "/metadata/name") == class).cloned().unwrap_or_else(
            || {
                json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": class},
                   "provisioner": "stackgen.test/none", "allowVolumeExpansion": true})
            },
        );
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("stackgen-case-{n}")},
        "spec": {"capacity": {"storage": s(claim, "/spec/resources/requests/storage")},
                 "accessModes": claim["spec"]["accessModes"], "storageClassName": class,
                 "persistentVolumeReclaimPolicy": "Retain",
                 "claimRef": {"namespace": s(claim, "/metadata/namespace"), "name": s(claim, "/metadata/name")},
                 "csi": {"driver": "stackgen.test", "volumeHandle": format!("case-{n}")}}});
    let o = kube.apply_objects(&[sc, pv]);
    if o.code != 0 {
        return Err(format!("cannot create its class and PV: {}", o.stderr.trim()));
    }
    let ns = s(claim, "/metadata/namespace");
    let name = s(claim, "/metadata/name");
    until(WAIT, || {
        let c = kube.items(&["pvc", name, "-n", ns]);
        (c.first().map(|c| s(c, "/status/phase")) == Some("Bound")).then_some(())
    })
    .ok_or_else(|| format!("claim {ns}/{name} not Bound within {WAIT:?}:\n{}", events_of(kube, ns, name, None)))
}

/// One case: diff's verdict on the old render, and the server's on old then new.
fn run_case(
    kube: &Kube,
    goldens: &[Golden],
    c: &Case,
    n: usize,
    ns: &str,
    work: &Path,
) -> (Option<String>, Vec<String>) {
    let mut fails = Vec::new();
    let g = &goldens[c.golden];
    let new = &g.objs[c.index];
    // diff: the golden with this one object old.
    let mut old_render = g.objs.clone();
    old_render[c.index] = c.old.clone();
    // A previous render (documents, not a `List`, which diff reads as live objects).
    let old_file = work.join(format!("case-{n}.yaml"));
    let text: Vec<String> = old_render.iter().map(|o| serde_json::to_string(o).unwrap()).collect();
    std::fs::write(&old_file, text.join("\n---\n")).unwrap();
    let (code, out, err) = stackgen_diff(&g.stack, old_file.to_str().unwrap(), None, true);
    if code != 1 {
        fails.push(format!("diff vs server: {}: stackgen diff exits {code}, not 1: {err}", c.name));
        return (None, fails);
    }
    let j: Value = serde_json::from_str(&out).unwrap();
    let rejected: Vec<String> = j["risks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["category"] == "rejected"
                && r["object"]["kind"] == new["kind"]
                && r["object"]["name"] == new["metadata"]["name"]
        })
        .map(|r| r["message"].as_str().unwrap_or("").to_string())
        .collect();
    // The server: create the old object, then apply the new one.
    let (old_s, new_s) = (for_server(&c.old, n, ns), for_server(new, n, ns));
    let created = kube.apply_objects(std::slice::from_ref(&old_s));
    if created.code != 0 {
        fails.push(format!("diff vs server: {}: the old object is not accepted: {}", c.name, created.stderr.trim()));
        return (None, fails);
    }
    if c.name == GROW {
        if let Err(e) = bind_case_claim(kube, g, &old_s, n) {
            fails.push(format!("diff vs server: {}: {e}", c.name));
            return (None, fails);
        }
    }
    let upd = kube.apply_objects(&[new_s]);
    let server_rejects = upd.code != 0;
    let server_msg = upd
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("Warning:"))
        .unwrap_or("")
        .chars()
        .take(400)
        .collect::<String>();
    let row = format!(
        "  {:<55} {:<45} diff: {:<9} server: {}",
        c.name,
        id(new),
        if rejected.is_empty() { "accepted" } else { "rejected" },
        if server_rejects { "rejected" } else { "accepted" }
    );
    let diff_rejects = !rejected.is_empty();
    if server_rejects != diff_rejects {
        fails.push(format!(
            "diff vs server: {} on {} (golden/{}.yaml): diff says {}, the server {}:\n    diff: {}\n    server: {}",
            c.name,
            id(new),
            g.name,
            if rejected.is_empty() { "it applies" } else { "it is rejected" },
            if server_rejects { "rejects it" } else { "accepts it" },
            if rejected.is_empty() { "(no rejected risk)".to_string() } else { rejected.join("; ") },
            if server_rejects { server_msg } else { "(applied)".into() }
        ));
    }
    (Some(row), fails)
}

/// Apply the old object then the new one (the render) to the server, and compare its
/// verdict with diff's `rejected` risks on that object.
fn diff_agrees_section(kube: &Kube, work: &Path, failures: &mut Vec<String>) {
    let goldens = goldens();
    let (cases, none) = cases(&goldens);
    for n in none.iter().filter(|n| !n.contains("(allowed)")) {
        failures.push(format!("diff vs server: no golden has an object for the case \"{n}\""));
    }
    let ns = "stackgen-diff-cases";
    let o = kube.apply_objects(&[json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The cases are independent (each has its own objects): four at a time.
    let results: Vec<(Option<String>, Vec<String>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|k| {
                let (goldens, cases) = (&goldens, &cases);
                sc.spawn(move || {
                    cases
                        .iter()
                        .enumerate()
                        .skip(k)
                        .step_by(4)
                        .map(|(n, c)| (n, run_case(kube, goldens, c, n, ns, work)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_by_key(|(n, _)| *n);
        all.into_iter().map(|(_, r)| r).collect()
    });
    let mut table = Vec::new();
    for (row, fails) in results {
        table.extend(row);
        failures.extend(fails);
    }
    eprintln!("  diff vs server, {} cases:\n{}", cases.len(), table.join("\n"));
}

// ---- the test -------------------------------------------------------------------------------

/// Node names the local PVs of every render pin, and three of our own.
fn node_names() -> Vec<String> {
    let mut names: BTreeSet<String> = ["node-a", "node-b", "node-c"].into_iter().map(String::from).collect();
    for stack in stacks() {
        for f in [golden_path(&stack), helm_file(&stack, "manifests")] {
            for pv in objects(&std::fs::read_to_string(f).unwrap()).iter().filter(|o| o["kind"] == "PersistentVolume") {
                names.extend(pinned_nodes(pv));
            }
        }
    }
    names.into_iter().collect()
}

#[test]
fn renders_on_a_real_control_plane() {
    let _real = crate::common::real_components_lock();
    let mut found = BTreeMap::new();
    for b in ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"] {
        match real(b) {
            Some(p) => {
                found.insert(b, p);
            }
            None => return,
        }
    }
    // control-plane.sh needs openssl (keys, certificates) and curl (health checks).
    if tool("openssl").is_none() || tool("curl").is_none() {
        return;
    }
    let t = Instant::now();
    let work = tempfile::Builder::new().prefix("stackgen-cp-test-").tempdir().unwrap();
    let (cp, kubeconfig) = ControlPlane::up(&node_names());
    let kube = Kube { kubectl: found["kubectl"].clone(), kubeconfig, cache: work.path().join("kube-cache") };
    let mut failures = Vec::new();
    type Section<'a> = (&'a str, &'a dyn Fn(&mut Vec<String>));
    let sections: [Section; 3] = [
        ("manifests: admission, binding, scheduling, diff against live objects", &|f| manifests_section(&kube, f)),
        ("helm: helm-values companions, the chart and the real operator", &|f| helm_section(&kube, work.path(), f)),
        ("diff: it agrees with the server on every rejected change", &|f| diff_agrees_section(&kube, work.path(), f)),
    ];
    // STACKGEN_CP_SECTIONS=manifests,helm,diff runs some of them (for debugging).
    let only = std::env::var("STACKGEN_CP_SECTIONS").unwrap_or_default();
    for (name, section) in sections {
        if !only.is_empty() && !only.split(',').any(|o| name.starts_with(o)) {
            continue;
        }
        let s = Instant::now();
        eprintln!("{name}:");
        section(&mut failures);
        eprintln!("  ({:.1}s)", s.elapsed().as_secs_f64());
    }
    eprintln!(
        "control-plane tests: {:.1}s in all; the control plane's processes used {:.0} CPU seconds",
        t.elapsed().as_secs_f64(),
        cp.cpu_seconds()
    );
    assert!(failures.is_empty(), "{} failures on the control plane:\n\n{}", failures.len(), failures.join("\n\n"));
}
