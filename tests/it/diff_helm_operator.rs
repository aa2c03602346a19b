//! `diff --target helm-values` names what the real Prometheus Operator (v0.93.1, the
//! chart's) makes: it runs on a loopback API server with the objects of `helm template` of
//! chart 88.5.3 (ceph-thanos: 4 shards x 2 replicas), and the StatefulSets and claims the
//! diff names for a storage-class change and for 4 → 2 shards are exactly the operator's
//! (for the shard change: the StatefulSets the operator deletes when the chart's
//! Prometheus resource gets the new values).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::apiserver::{helm_template, ok, pick_kinds, ApiServer};
use crate::common::{bin, free_port, real, root, run};
use serde_json::Value;
use stackgen::render::helm;

/// The operator's StatefulSets of the chart's Prometheus resource, by name, with the
/// claims each makes (`<claim template>-<statefulset>-<ordinal>`); those being deleted
/// (deletionTimestamp set: no garbage collector runs here) are left out.
fn operator_statefulsets(kubectl: &Path, kubeconfig: &Path, ns: &str, cr: &str) -> Vec<(String, Vec<String>)> {
    let (code, out, err) = run(Command::new(kubectl).arg("--kubeconfig").arg(kubeconfig).args([
        "-n",
        ns,
        "get",
        "statefulset",
        "-l",
        &format!("operator.prometheus.io/name={cr}"),
        "-o",
        "json",
    ]));
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let mut v: Vec<(String, Vec<String>)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metadata"].get("deletionTimestamp").is_none())
        .map(|s| {
            let name = s["metadata"]["name"].as_str().unwrap().to_string();
            let replicas = s["spec"]["replicas"].as_u64().unwrap();
            let claims = s["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|t| {
                    let t = t["metadata"]["name"].as_str().unwrap().to_string();
                    let name = name.clone();
                    (0..replicas).map(move |i| format!("{t}-{name}-{i}"))
                })
                .collect();
            (name, claims)
        })
        .collect();
    v.sort();
    v
}

fn wait_for<T>(secs: u64, log: &Path, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{what}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default().lines().rev().take(15).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn diff_json(new: &Path) -> Value {
    let (code, out, err) = run(Command::new(bin())
        .arg("diff")
        .arg(new)
        .args(["--target", "helm-values", "--format", "json", "--base", "stacks/ceph-thanos.toml"])
        .current_dir(root()));
    assert_eq!(code, 1, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

fn risk<'a>(j: &'a Value, code: &str) -> &'a Value {
    j["risks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code && r["object"]["kind"] == "Prometheus")
        .unwrap_or_else(|| panic!("no {code} risk: {j:#}"))
}

#[test]
fn the_names_diff_prints_are_the_operators() {
    let _real = crate::common::real_components_lock();
    let [Some(operator), Some(helm_bin)] = ["operator", "helm"].map(real) else { return };
    let Some(mut server) = ApiServer::start() else { return };
    let d = server.path("");
    let path = |n: &str| d.join(n);
    let kubectl = server.kubectl_path().to_path_buf();
    let kubeconfig = server.kubeconfig.clone();

    let stack_file = root().join("stacks/ceph-thanos.toml");
    let s = stackgen::check(&stackgen::load(stack_file.to_str().unwrap()).unwrap()).unwrap().stack;
    let ns = s.namespace.as_str().to_string();
    let chart_objs = server.apply_chart_world(&helm_bin, &s);
    // The Prometheus resource as the chart names it: the one the diff reports on.
    let cr_obj = chart_objs.iter().find(|o| o["kind"] == "Prometheus").expect("the chart's Prometheus");
    let cr = cr_obj["metadata"]["name"].as_str().unwrap().to_string();
    let shards = cr_obj["spec"]["shards"].as_u64().unwrap();
    assert!(shards > 2, "the stack must have more than 2 shards");
    server.spawn(
        &operator,
        [
            server.operator_flags(),
            vec![format!("--web.listen-address=127.0.0.1:{}", free_port()), format!("--namespaces={ns}")],
        ]
        .concat(),
        "operator.log",
    );
    let log = path("operator.log");
    let before = wait_for(120, &log, "the operator never made every shard's StatefulSet", || {
        let v = operator_statefulsets(&kubectl, &kubeconfig, &ns, &cr);
        (v.len() as u64 == shards).then_some(v)
    });

    // A storage-class change: every StatefulSet re-created, every claim and its pod named.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&stack_file).unwrap();
    let class_stack = tmp.path().join("class.toml");
    std::fs::write(
        &class_stack,
        text.replacen("storage_class = \"rook-ceph-block\"", "storage_class = \"ceph-ssd\"", 1),
    )
    .unwrap();
    let j = diff_json(&class_stack);
    let recreate = risk(&j, "statefulset-recreate")["message"].as_str().unwrap();
    let class = risk(&j, "storage-class");
    let (msg, action) = (class["message"].as_str().unwrap(), class["action"].as_str().unwrap());
    for (sts, claims) in &before {
        assert!(
            recreate.contains(&format!(" {sts},")) || recreate.contains(&format!(" {sts} ")),
            "{sts} not in: {recreate}"
        );
        assert!(!claims.is_empty());
        for (i, c) in claims.iter().enumerate() {
            assert!(msg.contains(c.as_str()), "claim {c} not in: {msg}");
            assert!(
                action.contains(&format!(
                    "kubectl delete pvc {c} -n {ns} --wait=false && kubectl delete pod {sts}-{i} -n {ns}"
                )),
                "{c}: {action}"
            );
        }
    }
    let all_claims: usize = before.iter().map(|(_, c)| c.len()).sum();
    assert_eq!(action.matches("kubectl delete pvc ").count(), all_claims, "{action}");

    // 4 → 2 shards: the StatefulSets the diff says the operator deletes are the ones it
    // deletes once the chart's Prometheus resource has the new values.
    let fewer_stack = tmp.path().join("fewer.toml");
    std::fs::write(&fewer_stack, text.replacen(&format!("shards = {shards}"), "shards = 2", 1)).unwrap();
    let j = diff_json(&fewer_stack);
    let sc = risk(&j, "shard-count");
    let (msg, action) = (sc["message"].as_str().unwrap(), sc["action"].as_str().unwrap());
    let fewer = stackgen::check(&stackgen::load(fewer_stack.to_str().unwrap()).unwrap()).unwrap().stack;
    std::fs::write(path("fewer-values.yaml"), helm::render(&fewer).values).unwrap();
    let fewer_objs = helm_template(&helm_bin, &s, &path("fewer-values.yaml"));
    std::fs::write(path("fewer.yaml"), pick_kinds(&fewer_objs, &["Prometheus"])).unwrap();
    ok(server.kubectl().args(["apply", "--server-side", "--force-conflicts", "-f"]).arg(path("fewer.yaml")));
    let after = wait_for(120, &log, "the operator never removed the extra shards", || {
        let v = operator_statefulsets(&kubectl, &kubeconfig, &ns, &cr);
        (v.len() == 2).then_some(v)
    });
    let kept: BTreeSet<&String> = after.iter().map(|(n, _)| n).collect();
    let deleted: Vec<&(String, Vec<String>)> = before.iter().filter(|(n, _)| !kept.contains(n)).collect();
    assert_eq!(deleted.len() as u64, shards - 2);
    let names: Vec<&str> = deleted.iter().map(|(n, _)| n.as_str()).collect();
    assert!(msg.contains(&format!("the operator deletes StatefulSet(s) {} (", names.join(", "))), "{names:?}: {msg}");
    let claims: Vec<&str> = deleted.iter().flat_map(|(_, c)| c.iter().map(String::as_str)).collect();
    assert!(action.ends_with(&format!("kubectl delete pvc {} -n {ns}", claims.join(" "))), "{claims:?}: {action}");
    for (n, _) in &after {
        assert!(!msg.contains(&format!("{n},")) && !msg.contains(&format!("{n} (")), "{n} is kept: {msg}");
    }
}
