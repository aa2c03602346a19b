//! `stackgen diff`: against goldens, `-o` directories, synthetic live objects and other
//! stacks; risk markers; target moves predicted by stackgen's own hashmod; JSON output.

use std::path::Path;
use std::process::Command;

use crate::common::{bin, diff, diff_stdin, docs, golden_path, root, run, variant};
use serde_json::{json, Value};
use stackgen::model::sharding::hashmod;

fn changed_ceph(dir: &Path) -> String {
    variant(
        dir,
        "stacks/ceph-thanos.toml",
        &[
            ("shards = 4", "shards = 5"),
            ("retention = \"2d\"", "retention = \"1d\""),
            ("storage_class = \"rook-ceph-block\"", "storage_class = \"ceph-ssd\""),
        ],
    )
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("JSON output does not parse: {e}\n{out}"))
}

#[test]
fn every_stack_against_its_golden_is_unchanged() {
    for stack in crate::common::stacks() {
        let golden = golden_path(&stack);
        let (code, out, err) = diff(&[stack.to_str().unwrap(), "--against", golden.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {out}{err}", stack.display());
        assert!(out.starts_with("no changes"), "{out}");
    }
}

/// Probes beside static targets in a sharded stack: `diff --against` the stack's own
/// render is unchanged (probe jobs hash `__param_target`; the stack's source labels are
/// read from the other jobs), and a shard-count change lists the probe targets that move,
/// each per Prometheus' hashmod of the probed target.
#[test]
fn probes_in_a_sharded_render_are_no_change_and_move_with_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = "\n[[probe]]\nmodule = \"http_2xx\"\ntargets = [\"https://a.example.com\", \"https://b.example.com\", \
                 \"https://c.example.com\", \"https://d.example.com\"]\n";
    let text = std::fs::read_to_string(root().join("stacks/ceph-thanos.toml")).unwrap() + probe;
    let old = tmp.path().join("old.toml");
    std::fs::write(&old, &text).unwrap();
    let (code, render, err) = run(Command::new(bin()).args(["render"]).arg(&old).current_dir(root()));
    assert_eq!(code, 0, "{err}");
    let rendered = tmp.path().join("old.yaml");
    std::fs::write(&rendered, render).unwrap();
    let (code, out, err) = diff(&[old.to_str().unwrap(), "--against", rendered.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("no changes"), "{out}");

    let new = tmp.path().join("new.toml");
    std::fs::write(&new, text.replace("shards = 4", "shards = 5")).unwrap();
    let (code, out, _) = diff(&[new.to_str().unwrap(), "--against", rendered.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let j = json_of(&out);
    let moves = j["sharding"]["target_moves"].as_array().unwrap();
    let mut expected = Vec::new();
    for t in ["https://a.example.com", "https://b.example.com", "https://c.example.com", "https://d.example.com"] {
        let (from, to) = (hashmod(t, 4), hashmod(t, 5));
        if from != to {
            expected.push(json!({"job": "blackbox-http_2xx", "target": t, "from": from, "to": to}));
        }
    }
    assert!(!expected.is_empty(), "some probe target moves from 4 to 5 shards");
    let probe_moves: Vec<&Value> = moves.iter().filter(|m| m["job"] == "blackbox-http_2xx").collect();
    assert_eq!(probe_moves, expected.iter().collect::<Vec<_>>());
    let (_, human, _) = diff(&[new.to_str().unwrap(), "--against", rendered.to_str().unwrap()]);
    assert!(
        human.contains("hashmod of __address__; probe targets: of the probed target):"),
        "the header says how probe targets are hashed:\n{human}"
    );
    // Chart users see the same probe moves, read from the values' additionalScrapeConfigs.
    let (code, out, err) =
        diff(&[new.to_str().unwrap(), "--base", old.to_str().unwrap(), "--target", "helm-values", "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let j = json_of(&out);
    let helm_moves: Vec<&Value> = j["sharding"]["target_moves"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"))
        .iter()
        .filter(|m| m["job"] == "blackbox-http_2xx")
        .collect();
    assert_eq!(helm_moves, expected.iter().collect::<Vec<_>>(), "helm-values");
}

#[test]
fn base_identical_is_exit_0() {
    let (code, out, err) = diff(&["stacks/ceph-thanos.toml", "--base", "stacks/ceph-thanos.toml"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = diff(&["stacks/ceph-thanos.toml", "--base", "stacks/ceph-thanos.toml", "--format", "json"]);
    assert_eq!(code, 0);
    let j = json_of(&out);
    assert_eq!(j["changed"], false);
    assert_eq!(j["objects"], json!([]));
    assert_eq!(j["sharding"]["target_moves"], json!([]));
}

#[test]
fn against_an_output_directory_is_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let (code, _, err) =
        run(Command::new(bin()).args(["render", "stacks/ceph-thanos.toml", "-o"]).arg(&dir).current_dir(root()));
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("kustomization.yaml").is_file());
    let (code, out, err) = diff(&["stacks/ceph-thanos.toml", "--against", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // A removed file is an added object.
    std::fs::remove_file(dir.join("statefulset-ha-prometheus-shard-3.yaml")).unwrap();
    let (code, out, _) = diff(&["stacks/ceph-thanos.toml", "--against", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("+ added StatefulSet monitoring/ha-prometheus-shard-3"), "{out}");
}

#[test]
fn against_stdin_golden() {
    let golden = std::fs::read_to_string(root().join("golden/static-nfs.yaml")).unwrap();
    let (code, out, err) = diff_stdin(&["stacks/static-nfs.toml", "--against", "-"], &golden);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = diff_stdin(&["-", "--against", "-"], &golden);
    assert_eq!(code, 2, "{err}");
}

/// What `kubectl get -o yaml` prints for the golden after an apply: a v1 List whose
/// items carry server-set fields, API defaults and the last-applied annotation, plus
/// objects stackgen does not manage.
fn live_list(golden: &str) -> Value {
    let mut items = Vec::new();
    for (i, mut d) in docs(golden).into_iter().enumerate() {
        let applied = d.to_string();
        let kind = d["kind"].as_str().unwrap().to_string();
        let m = d["metadata"].as_object_mut().unwrap();
        m.insert("uid".into(), json!(format!("0b7c6f7e-0000-4000-8000-{i:012}")));
        m.insert("resourceVersion".into(), json!(format!("{}", 1000 + i)));
        m.insert("generation".into(), json!(3));
        m.insert("creationTimestamp".into(), json!("2025-01-02T03:04:05Z"));
        m.insert(
            "managedFields".into(),
            json!([{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubectl-client-side-apply", "operation": "Update"}]),
        );
        let ann = m.entry("annotations").or_insert_with(|| json!({}));
        ann["kubectl.kubernetes.io/last-applied-configuration"] = json!(applied);
        d["status"] = json!({"observedGeneration": 3});
        match kind.as_str() {
            "Namespace" => {
                d["metadata"]["labels"]["kubernetes.io/metadata.name"] = d["metadata"]["name"].clone();
                d["spec"] = json!({"finalizers": ["kubernetes"]});
                d["status"] = json!({"phase": "Active"});
            }
            "Service" => {
                let s = &mut d["spec"];
                if s.get("clusterIP").is_none() {
                    s["clusterIP"] = json!("10.96.12.34");
                }
                let ip = s["clusterIP"].clone();
                set_default(s, "clusterIPs", json!([ip]));
                set_default(s, "ipFamilies", json!(["IPv4"]));
                set_default(s, "ipFamilyPolicy", json!("SingleStack"));
                set_default(s, "sessionAffinity", json!("None"));
                set_default(s, "internalTrafficPolicy", json!("Cluster"));
                for p in s["ports"].as_array_mut().unwrap() {
                    set_default(p, "protocol", json!("TCP"));
                }
            }
            "StatefulSet" | "Deployment" => {
                let s = &mut d["spec"];
                set_default(s, "revisionHistoryLimit", json!(10));
                if kind == "StatefulSet" {
                    set_default(
                        s,
                        "persistentVolumeClaimRetentionPolicy",
                        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                    );
                    set_default(
                        s,
                        "updateStrategy",
                        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                    );
                    for t in s["volumeClaimTemplates"].as_array_mut().into_iter().flatten() {
                        t["status"] = json!({"phase": "Pending"});
                    }
                } else {
                    set_default(s, "progressDeadlineSeconds", json!(600));
                }
                s["template"]["metadata"]["creationTimestamp"] = Value::Null;
                let pod = &mut s["template"]["spec"];
                set_default(pod, "dnsPolicy", json!("ClusterFirst"));
                set_default(pod, "restartPolicy", json!("Always"));
                set_default(pod, "schedulerName", json!("default-scheduler"));
                pod["serviceAccount"] = pod["serviceAccountName"].clone();
                for c in pod["containers"].as_array_mut().unwrap() {
                    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
                    set_default(c, "terminationMessagePolicy", json!("File"));
                    set_default(c, "imagePullPolicy", json!("IfNotPresent"));
                    for p in c["ports"].as_array_mut().into_iter().flatten() {
                        set_default(p, "protocol", json!("TCP"));
                    }
                }
                for v in pod["volumes"].as_array_mut().into_iter().flatten() {
                    if let Some(cm) = v.get_mut("configMap") {
                        set_default(cm, "defaultMode", json!(420));
                    }
                }
            }
            "PersistentVolumeClaim" => {
                set_default(&mut d["spec"], "volumeMode", json!("Filesystem"));
                d["spec"]["volumeName"] = json!("pvc-1234");
                d["status"] = json!({"phase": "Bound"});
            }
            _ => {}
        }
        items.push(d);
    }
    // Objects of the namespace that stackgen does not manage.
    items.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": "monitoring", "uid": "x"},
        "data": {"ca.crt": "..."}
    }));
    items.push(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "ha-prometheus-shard-0-0", "namespace": "monitoring",
            "labels": {"app.kubernetes.io/managed-by": "stackgen", "app.kubernetes.io/instance": "ha"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ha-prometheus-shard-0", "uid": "y"}]},
        "spec": {"containers": []}
    }));
    json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
}

/// Set an API default only where stackgen left the field unset, as the API server does.
fn set_default(v: &mut Value, key: &str, value: Value) {
    if v.get(key).is_none() {
        v[key] = value;
    }
}

fn list_yaml(list: &Value) -> String {
    stackgen::render::yaml::to_string(list)
}

#[test]
fn live_objects_with_server_fields_and_defaults_are_unchanged() {
    let golden = std::fs::read_to_string(root().join("golden/ceph-thanos.yaml")).unwrap();
    let list = live_list(&golden);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("live.yaml");
    std::fs::write(&path, list_yaml(&list)).unwrap();
    let (code, out, err) = diff(&["stacks/ceph-thanos.toml", "--against", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("ignored 2 live object"), "{err}");
    // The same on standard input.
    let (code, out, err) = diff_stdin(&["stacks/ceph-thanos.toml", "--against", "-"], &list_yaml(&list));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn live_objects_with_a_real_change_are_exit_1() {
    let golden = std::fs::read_to_string(root().join("golden/ceph-thanos.yaml")).unwrap();
    let mut list = live_list(&golden);
    let items = list["items"].as_array_mut().unwrap();
    let sts = items
        .iter_mut()
        .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == "ha-prometheus-shard-1")
        .unwrap();
    // Someone scaled it by hand, and a key stackgen sets is missing live.
    sts["spec"]["replicas"] = json!(1);
    sts["spec"].as_object_mut().unwrap().remove("podManagementPolicy");
    let (code, out, err) =
        diff_stdin(&["stacks/ceph-thanos.toml", "--against", "-", "--format", "json"], &list_yaml(&list));
    assert_eq!(code, 1, "{out}{err}");
    let j = json_of(&out);
    assert_eq!(j["summary"]["changed"], 1, "{out}");
    let o = &j["objects"][0];
    assert_eq!(o["name"], "ha-prometheus-shard-1");
    let d = o["diff"].as_str().unwrap();
    assert!(d.contains("-  replicas: 1\n") && d.contains("+  replicas: 2\n"), "{d}");
    assert!(d.contains("+  podManagementPolicy: Parallel"), "{d}");
    // podManagementPolicy is immutable.
    assert_eq!(o["risks"][0]["code"], "immutable-field");
    // Nothing about server fields or defaults in the diff.
    for noise in ["uid", "managedFields", "dnsPolicy", "terminationMessagePath", "status", "revisionHistoryLimit"] {
        assert!(!d.contains(noise), "{noise} in {d}");
    }
}

#[test]
fn a_key_removed_from_the_render_shows_through_last_applied() {
    // The live object was applied from a render that had an extra label; the new render
    // no longer sets it, so apply removes it: a change.
    let golden = std::fs::read_to_string(root().join("golden/static-nfs.yaml")).unwrap();
    let mut list = live_list(&golden);
    let sa = list["items"].as_array_mut().unwrap().iter_mut().find(|d| d["kind"] == "ServiceAccount").unwrap();
    sa["metadata"]["labels"]["team"] = json!("sre");
    let mut applied: Value = serde_json::from_str(
        sa["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap(),
    )
    .unwrap();
    applied["metadata"]["labels"]["team"] = json!("sre");
    sa["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json!(applied.to_string());
    let (code, out, _) = diff_stdin(&["stacks/static-nfs.toml", "--against", "-"], &list_yaml(&list));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("-    team: sre"), "{out}");
}

#[test]
fn base_with_risky_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let new = changed_ceph(tmp.path());
    let (code, out, err) = diff(&[&new, "--base", "stacks/ceph-thanos.toml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("+ added StatefulSet monitoring/ha-prometheus-shard-4"), "{out}");
    assert!(out.contains("kubectl delete statefulset ha-prometheus-shard-0 -n monitoring --cascade=orphan"), "{out}");
    assert!(out.contains("[storage-class]") && out.contains("rook-ceph-block → ceph-ssd"), "{out}");
    assert!(out.contains("[retention-shorter]") && out.contains("2d → 1d"), "{out}");
    assert!(out.contains("[shard-count]") && out.contains("shard count 4 → 5"), "{out}");
    assert!(out.contains("target moves (4 → 5 shards"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("4 added, 0 removed,") && last.contains("risks"), "{last}");
}

/// Every moved target, and only those, per Prometheus' hashmod on both shard counts.
fn assert_moves_agree_with_hashmod(j: &Value) {
    let targets =
        ["10.0.0.1:9100", "10.0.0.2:9100", "10.0.0.3:9100", "10.0.0.4:9100", "10.0.0.5:9100", "10.0.0.6:9100"];
    let moves = j["sharding"]["target_moves"].as_array().unwrap();
    assert_eq!(j["sharding"]["old_shards"], 4);
    assert_eq!(j["sharding"]["new_shards"], 5);
    let mut expected = Vec::new();
    for t in targets {
        let (from, to) = (hashmod(t, 4), hashmod(t, 5));
        if from != to {
            expected.push(json!({"job": "node", "target": t, "from": from, "to": to}));
        }
    }
    assert!(!expected.is_empty());
    assert_eq!(moves, &expected);
}

#[test]
fn json_output_has_the_documented_fields_and_moves_agree_with_hashmod() {
    let tmp = tempfile::tempdir().unwrap();
    let new = changed_ceph(tmp.path());
    let (code, out, _) = diff(&[&new, "--base", "stacks/ceph-thanos.toml", "--format", "json"]);
    assert_eq!(code, 1);
    let j = json_of(&out);
    for k in ["version", "stack", "mode", "before", "changed", "summary", "objects", "risks", "sharding"] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    assert_eq!(j["mode"], "base");
    assert_eq!(j["changed"], true);
    for k in [
        "added",
        "removed",
        "changed",
        "unchanged",
        "ignored",
        "risks",
        "rejected",
        "data_loss",
        "data_moves",
        "action_needed",
        "restarts",
    ] {
        assert!(j["summary"][k].is_u64(), "summary.{k}");
    }
    assert_eq!(j["summary"]["added"], 4);
    for o in j["objects"].as_array().unwrap() {
        for k in ["change", "api_version", "kind", "namespace", "name", "diff", "risks"] {
            assert!(o.get(k).is_some(), "object field {k}");
        }
        assert_eq!(o["diff"].is_string(), o["change"] == "changed");
    }
    let risks = j["risks"].as_array().unwrap();
    assert_eq!(risks.len() as u64, j["summary"]["risks"].as_u64().unwrap());
    for r in risks {
        for k in ["code", "category", "object", "path", "message", "action"] {
            assert!(r.get(k).is_some(), "risk field {k}");
        }
        assert!(["rejected", "data-loss", "data-moves", "action-needed", "restart"]
            .contains(&r["category"].as_str().unwrap()));
    }
    let codes: Vec<&str> = risks.iter().map(|r| r["code"].as_str().unwrap()).collect();
    for c in ["immutable-field", "storage-class", "retention-shorter", "shard-count"] {
        assert!(codes.contains(&c), "{c} not in {codes:?}");
    }
    let immutable =
        risks.iter().find(|r| r["code"] == "immutable-field" && r["object"]["kind"] == "StatefulSet").unwrap();
    assert_eq!(immutable["category"], "rejected");
    assert!(immutable["action"].as_str().unwrap().contains("--cascade=orphan"));
    assert_eq!(risks.iter().find(|r| r["code"] == "shard-count").unwrap()["object"], Value::Null);
    assert_moves_agree_with_hashmod(&j);
}

#[test]
fn against_an_old_render_infers_the_old_shard_count_and_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let new = changed_ceph(tmp.path());
    let (code, out, _) = diff(&[&new, "--against", "golden/ceph-thanos.yaml", "--format", "json"]);
    assert_eq!(code, 1);
    let j = json_of(&out);
    assert_eq!(j["mode"], "against");
    assert_moves_agree_with_hashmod(&j);
}

#[test]
fn reclaim_policy_retain_to_delete_and_backend_change() {
    let tmp = tempfile::tempdir().unwrap();
    let new = variant(
        tmp.path(),
        "stacks/static-nfs.toml",
        &[("size = \"200Gi\"", "size = \"200Gi\"\nreclaim_policy = \"Delete\"")],
    );
    let (code, out, _) = diff(&[&new, "--base", "stacks/static-nfs.toml", "--format", "json"]);
    assert_eq!(code, 1);
    let j = json_of(&out);
    let r = j["risks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "reclaim-policy" && r["object"]["kind"] == "PersistentVolume")
        .expect("reclaim-policy risk on the PVs");
    assert_eq!(r["category"], "data-loss");

    let (code, out, _) = diff(&["stacks/eks-gp3.toml", "--base", "stacks/ceph-thanos.toml", "--format", "json"]);
    assert_eq!(code, 1);
    let j = json_of(&out);
    assert!(j["risks"].as_array().unwrap().iter().any(|r| r["code"] == "storage-backend"), "{out}");
    assert!(j["summary"]["removed"].as_u64().unwrap() > 0);
}

#[test]
fn errors_are_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = variant(tmp.path(), "stacks/ceph-thanos.toml", &[("shards = 4", "shards = 0")]);
    let (code, _, err) = diff(&["stacks/ceph-thanos.toml", "--base", &bad]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing to compare"), "{err}");
    let (code, _, _) = diff(&["stacks/ceph-thanos.toml", "--against", "/nonexistent/render.yaml"]);
    assert_eq!(code, 2);
    let garbage = tmp.path().join("garbage.yaml");
    std::fs::write(&garbage, "a: [unclosed\n").unwrap();
    let (code, _, err) = diff(&["stacks/ceph-thanos.toml", "--against", garbage.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = diff(&["stacks/ceph-thanos.toml"]);
    assert_eq!(code, 2);
}

/// `diff --against` reads a render back without parsing the documents it holds verbatim
/// (`input::read_for`); the report must be exactly the one a full parse gives
/// (`input::read`), notes and errors included, whatever the input: the render itself, a
/// render of another stack (changed objects, other shards), an `-o` directory, a
/// document repeated or edited, live objects, broken YAML.
#[test]
fn against_reads_verbatim_documents_as_a_full_parse_does() {
    use stackgen::diff::{self, input, Before};
    let tmp = tempfile::tempdir().unwrap();
    let sharded = std::fs::read_to_string(root().join("stacks/sharded-64.toml")).unwrap();
    let stack = crate::common::check_text("sharded-64.toml", &sharded);
    let render = stackgen::render_manifests(&stack);
    let other = |edits: &[(&str, &str)]| {
        let mut t = sharded.clone();
        for (a, b) in edits {
            assert!(t.contains(a), "{a}");
            t = t.replacen(a, b, 1);
        }
        stackgen::render_manifests(&crate::common::check_text("other.toml", &t))
    };
    let fewer = other(&[("\nshards = 64\n", "\nshards = 4\n")]);
    let mut inputs: Vec<(&str, String)> = vec![
        ("itself", render.clone()),
        ("four shards", fewer.clone()),
        ("retention", other(&[("retention = ", "retention = \"3d\"\n# was ")])),
        ("leading separator", format!("---\n{render}")),
        ("a document twice", format!("{render}---\n{}", render.split("\n---\n").nth(3).unwrap())),
        ("an edited document", render.replacen("replicas: 2", "replicas: 3", 1)),
        ("broken yaml", render.replacen("kind: Service\n", "kind: [Service\n", 1)),
        ("live", format!("{render}---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: x\n  namespace: monitoring\n  uid: u\n  resourceVersion: \"1\"\n")),
        ("comments only", format!("# a comment\n---\n{render}")),
    ];
    inputs.push(("empty", String::new()));
    for (name, text) in &inputs {
        let path = tmp.path().join(format!("{}.yaml", name.replace(' ', "-")));
        std::fs::write(&path, text).unwrap();
        let spec = path.to_str().unwrap();
        let classic = input::read(spec);
        let fast = input::read_for(spec, stackgen::render::Documents::new(&stack));
        match (classic, fast) {
            (Err(a), Err(b)) => assert_eq!(a, b, "{name}"),
            (Ok(a), Ok(b)) => {
                assert_eq!(a.notes, b.notes, "{name}");
                let ra = diff::diff("s", &stack, Before::Against { label: "x".into(), input: a }, false);
                let rb = diff::diff("s", &stack, Before::Against { label: "x".into(), input: b }, false);
                assert_eq!(ra.human(false), rb.human(false), "{name}");
                assert_eq!(ra.json(), rb.json(), "{name}");
                assert_eq!(ra.notes, rb.notes, "{name}");
            }
            (a, b) => panic!("{name}: {:?} vs {:?}", a.err(), b.err()),
        }
    }
    // An -o directory of the 4-shard render, against the 64-shard stack, and of itself.
    for (name, text) in [("dir-four", &fewer), ("dir-self", &render)] {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for (i, doc) in text.split("\n---\n").enumerate() {
            let doc = if doc.ends_with('\n') { doc.to_string() } else { format!("{doc}\n") };
            std::fs::write(dir.join(format!("{i:03}.yaml")), format!("{}{doc}", stackgen::render::HEADER)).unwrap();
        }
        let spec = dir.to_str().unwrap();
        let a = input::read(spec).unwrap();
        let b = input::read_for(spec, stackgen::render::Documents::new(&stack)).unwrap();
        assert_eq!(a.notes, b.notes, "{name}");
        let ra = diff::diff("s", &stack, Before::Against { label: "x".into(), input: a }, false);
        let rb = diff::diff("s", &stack, Before::Against { label: "x".into(), input: b }, false);
        assert_eq!(ra.json(), rb.json(), "{name}");
    }
}

/// `--base` compares the texts of both renders first and builds only the objects that
/// differ; the report is the one of comparing every object.
#[test]
fn base_compares_only_differing_documents_with_the_same_report() {
    use stackgen::diff::{self, Before};
    let sharded = std::fs::read_to_string(root().join("stacks/sharded-64.toml")).unwrap();
    let stack = crate::common::check_text("new.toml", &sharded);
    for (a, b) in [("\nshards = 64\n", "\nshards = 5\n"), ("retention = ", "retention = \"3d\"\n# was "), ("", "")] {
        let old = crate::common::check_text("old.toml", &sharded.replacen(a, b, 1));
        let old_text = stackgen::render_manifests(&old);
        let base = diff::diff("s", &stack, Before::Base { label: "old".into(), stack: Box::new(old) }, false);
        let full = diff::input::from_text("old", &old_text).unwrap();
        let against = diff::diff("s", &stack, Before::Against { label: "old".into(), input: full }, false);
        assert_eq!((base.entries.len(), base.unchanged), (against.entries.len(), against.unchanged), "{a} → {b}");
        for (x, y) in base.entries.iter().zip(&against.entries) {
            assert_eq!((&x.key, x.change, &x.diff), (&y.key, y.change, &y.diff), "{a} → {b}");
        }
    }
}
