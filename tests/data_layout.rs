//! One TSDB layout in both render formats (issue 13, item 12): the Prometheus Operator
//! mounts the data volume with subPath `prometheus-db`, and so does manifests mode, so a
//! TSDB is at `<volume>/prometheus-db/` whichever format runs it; diff flags a change of
//! that layout as data loss, with a move command that really moves the TSDB.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, docs, root, run, stacks, stem};
use serde_json::Value;
use stackgen::render::helm;

/// The subPath the operator gives the data volume of every Prometheus (and its sidecar)
/// whose `storage` is set (prometheus-operator pkg/prometheus `SubPathForStorage`).
const OPERATOR_SUBPATH: &str = "prometheus-db";

fn flag<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["args"].as_array()?.iter().find_map(|a| a.as_str()?.strip_prefix(name)?.strip_prefix('='))
}

/// (volume, subPath) mounted at `path` in a container.
fn mount_at(container: &Value, path: &str) -> Option<(String, String)> {
    container["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["mountPath"] == path)
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["subPath"].as_str().unwrap_or_default().to_string()))
}

#[test]
fn prometheus_and_the_sidecar_read_the_tsdb_from_the_operators_subpath() {
    let mut sidecars = 0;
    for stack in stacks() {
        let src = stackgen::load(stack.to_str().unwrap()).unwrap();
        let s = stackgen::check(&src).unwrap().stack;
        let objs = docs(&stackgen::render_manifests(&s));
        let mut seen = 0;
        for sts in objs.iter().filter(|o| o["kind"] == "StatefulSet") {
            let containers = sts["spec"]["template"]["spec"]["containers"].as_array().unwrap();
            let Some(prom) = containers.iter().find(|c| flag(c, "--storage.tsdb.path").is_some()) else { continue };
            let path = flag(prom, "--storage.tsdb.path").unwrap();
            let (volume, sub) = mount_at(prom, path).unwrap_or_else(|| panic!("{}: nothing at {path}", stem(&stack)));
            assert_eq!(sub, OPERATOR_SUBPATH, "{}: {}", stem(&stack), sts["metadata"]["name"]);
            // The volume is the pod's data volume: its claim template, or (ephemeral) a pod volume.
            let claims = sts["spec"]["volumeClaimTemplates"].as_array();
            let claimed = claims.into_iter().flatten().any(|c| c["metadata"]["name"] == volume.as_str());
            let ephemeral = matches!(s.storage.backend, stackgen::model::Backend::Ephemeral);
            assert_eq!(claimed, !ephemeral, "{}", stem(&stack));
            for side in containers.iter().filter(|c| flag(c, "--tsdb.path").is_some()) {
                let p = flag(side, "--tsdb.path").unwrap();
                assert_eq!(
                    mount_at(side, p),
                    Some((volume.clone(), sub.clone())),
                    "{}: the sidecar sees the TSDB",
                    stem(&stack)
                );
                sidecars += 1;
            }
            seen += 1;
        }
        assert!(seen >= 1, "{}", stem(&stack));
        // Helm mode: the operator's layout, never `disableMountSubPath`.
        let values = helm::values(&s);
        assert!(values["prometheus"]["prometheusSpec"]["storageSpec"].get("disableMountSubPath").is_none());
    }
    assert!(sidecars > 0, "stacks with Thanos are covered");
}

/// A previous render that mounted the volume root: ceph-thanos as it rendered before the
/// TSDB moved into `prometheus-db/`.
fn root_layout_render(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(common::golden_path(&root().join("stacks/ceph-thanos.toml"))).unwrap();
    let old = text.replace("          subPath: prometheus-db\n", "");
    assert!(old != text, "the golden mounts prometheus-db");
    let path = dir.join("old.yaml");
    std::fs::write(&path, old).unwrap();
    path
}

#[test]
fn diff_flags_a_layout_change_as_data_loss_with_the_move() {
    let dir = tempfile::tempdir().unwrap();
    let old = root_layout_render(dir.path());
    let (code, out, err) = run(Command::new(bin())
        .args(["diff", "stacks/ceph-thanos.toml", "--format", "json", "--against"])
        .arg(&old)
        .current_dir(root()));
    assert_eq!(code, 1, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let layout: Vec<&Value> = j["risks"].as_array().unwrap().iter().filter(|r| r["code"] == "data-layout").collect();
    // One per Prometheus StatefulSet (4 shards), not one per container.
    assert_eq!(layout.len(), 4, "{layout:#?}");
    for r in layout {
        assert_eq!(r["category"], "data-loss");
        assert_eq!(r["object"]["kind"], "StatefulSet");
        let action = r["action"].as_str().unwrap();
        assert!(action.contains("--replicas=0"), "{action}");
        assert!(action.contains("mkdir -p prometheus-db"), "{action}");
    }
}

/// The move command of the risk, run on a volume laid out the old way, leaves the TSDB in
/// `prometheus-db/` (lost+found stays at the root).
#[test]
fn the_move_command_moves_the_tsdb_into_the_subdirectory() {
    let dir = tempfile::tempdir().unwrap();
    let old = root_layout_render(dir.path());
    let (_, out, _) = run(Command::new(bin())
        .args(["diff", "stacks/ceph-thanos.toml", "--format", "json", "--against"])
        .arg(&old)
        .current_dir(root()));
    let j: Value = serde_json::from_str(&out).unwrap();
    let action = j["risks"].as_array().unwrap().iter().find(|r| r["code"] == "data-layout").unwrap()["action"]
        .as_str()
        .unwrap()
        .to_string();
    let command = action.split("run `").nth(1).and_then(|t| t.split('`').next()).expect("the command in backquotes");
    let volume = dir.path().join("volume");
    for d in ["wal", "chunks_head", "01JABCDEFGHJKMNPQRSTVWXYZ0", "lost+found"] {
        std::fs::create_dir_all(volume.join(d)).unwrap();
    }
    std::fs::write(volume.join("wal/00000001"), "wal").unwrap();
    std::fs::write(volume.join("01JABCDEFGHJKMNPQRSTVWXYZ0/meta.json"), "{}").unwrap();
    std::fs::write(volume.join("queries.active"), "").unwrap();
    let sh = |cmd: &str| {
        let status = Command::new("sh").arg("-c").arg(cmd.replace("/data", volume.to_str().unwrap())).status().unwrap();
        assert!(status.success(), "{cmd}");
    };
    sh(command);
    let names = |p: &Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&volume), ["lost+found", "prometheus-db"]);
    assert_eq!(
        names(&volume.join("prometheus-db")),
        ["01JABCDEFGHJKMNPQRSTVWXYZ0", "chunks_head", "queries.active", "wal"]
    );
    assert_eq!(std::fs::read_to_string(volume.join("prometheus-db/wal/00000001")).unwrap(), "wal");

    // The same layout on both sides: no risk.
    let current = common::golden_path(&root().join("stacks/ceph-thanos.toml"));
    let (_, out, _) = run(Command::new(bin())
        .args(["diff", "stacks/ceph-thanos.toml", "--format", "json", "--against"])
        .arg(&current)
        .current_dir(root()));
    let j: Value = serde_json::from_str(&out).unwrap();
    assert!(!j["risks"].as_array().unwrap().iter().any(|r| r["code"] == "data-layout"), "same layout: no risk");
}
