//! One TSDB layout in both render formats: the Prometheus Operator
//! mounts the data volume with subPath `prometheus-db`, and so does manifests mode, so a
//! TSDB is at `<volume>/prometheus-db/` whichever format runs it (checked against the
//! StatefulSet the real operator makes from `helm template` of chart 88.5.3, and by the
//! real Prometheus serving a TSDB migrated there); diff flags a change of that layout as
//! data loss, with a move command that really moves the TSDB.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::apiserver::ApiServer;
use crate::common::{bin, docs, free_port, real, root, run, stacks, stem};
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
    let text = std::fs::read_to_string(crate::common::golden_path(&root().join("stacks/ceph-thanos.toml"))).unwrap();
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
    let current = crate::common::golden_path(&root().join("stacks/ceph-thanos.toml"));
    let (_, out, _) = run(Command::new(bin())
        .args(["diff", "stacks/ceph-thanos.toml", "--format", "json", "--against"])
        .arg(&current)
        .current_dir(root()));
    let j: Value = serde_json::from_str(&out).unwrap();
    assert!(!j["risks"].as_array().unwrap().iter().any(|r| r["code"] == "data-layout"), "same layout: no risk");
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string())
}

/// Behaviour, with the real Prometheus: a TSDB migrated into `<volume>/prometheus-db/`
/// (README, and where the operator keeps it) is the TSDB the rendered Prometheus serves.
/// The volume is a directory; the container's view of it is resolved from the rendered
/// mount (volume + subPath at the path of `--storage.tsdb.path`), and every other flag
/// is the rendered one except the loopback address and the config file path.
#[test]
fn a_tsdb_migrated_into_prometheus_db_is_what_prometheus_serves() {
    let _real = crate::common::real_components_lock();
    let (Some(prometheus), Some(promtool)) = (real("prometheus"), real("promtool")) else { return };
    // An existing TSDB moved onto local SSDs (stacks/migrated-local-ssd.toml).
    let src = stackgen::load(root().join("stacks/migrated-local-ssd.toml").to_str().unwrap()).unwrap();
    let s = stackgen::check(&src).unwrap().stack;
    let objs = docs(&stackgen::render_manifests(&s));
    let sts = objs
        .iter()
        .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"].as_str().unwrap().contains("prometheus"))
        .unwrap();
    let containers = sts["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    let prom = containers.iter().find(|c| flag(c, "--storage.tsdb.path").is_some()).unwrap();
    let tsdb_path = flag(prom, "--storage.tsdb.path").unwrap();
    let (_, sub_path) = mount_at(prom, tsdb_path).expect("the data volume is mounted at the TSDB path");

    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    // The migration: blocks hours old, written into <volume>/prometheus-db/.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let start = now - 6 * 3600;
    let mut om = String::from("# HELP migrated_sample A series of the migrated TSDB.\n# TYPE migrated_sample gauge\n");
    for i in 0..60 {
        om.push_str(&format!("migrated_sample{{origin=\"migrated\"}} 1 {}\n", start + i * 60));
    }
    om.push_str("# EOF\n");
    let om_file = dir.path().join("migrated.om");
    std::fs::write(&om_file, om).unwrap();
    let (code, _, err) = run(Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om_file)
        .arg(volume.join("prometheus-db")));
    assert_eq!(code, 0, "{err}");

    // What the container sees at --storage.tsdb.path: the volume at the rendered subPath.
    let seen = if sub_path.is_empty() { volume.clone() } else { volume.join(&sub_path) };
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = free_port();
    let args: Vec<String> = prom["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .map(|a| match a.split_once('=') {
            Some(("--config.file", _)) => format!("--config.file={}", config.display()),
            Some(("--storage.tsdb.path", _)) => format!("--storage.tsdb.path={}", seen.display()),
            Some(("--web.listen-address", _)) => format!("--web.listen-address=127.0.0.1:{port}"),
            _ => a.to_string(),
        })
        .collect();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _p = Kill(
        Command::new(&prometheus).args(&args).stdout(Stdio::null()).stderr(log).spawn().expect("prometheus starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let query = format!("/api/v1/query?query=migrated_sample&time={}", start + 1800);
    let body = loop {
        if http_get(port, "/-/ready").is_some() {
            break http_get(port, &query).expect("query answers");
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "the migrated series is served from {} (subPath `{sub_path}`): {body}", seen.display());
    assert_eq!(result[0]["metric"]["origin"], "migrated");
}

/// `kubectl get … -o json` until it answers, within `secs`.
pub(crate) fn get_json(kubectl: &Path, kubeconfig: &Path, args: &[&str], secs: u64, log: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (code, out, _) =
            run(Command::new(kubectl).arg("--kubeconfig").arg(kubeconfig).args(args).args(["-o", "json"]));
        if code == 0 {
            return serde_json::from_str(&out).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} never appeared; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default().lines().rev().take(15).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The TSDB mounts of a pod template: (path of --storage.tsdb.path, subPath) of the
/// Prometheus container and (path of --tsdb.path, subPath) of the Thanos sidecar.
fn tsdb_layout(template: &Value) -> ((String, String), Option<(String, String)>) {
    let containers = template["spec"]["containers"].as_array().unwrap();
    let prom = containers.iter().find(|c| flag(c, "--storage.tsdb.path").is_some()).expect("a Prometheus container");
    let p = flag(prom, "--storage.tsdb.path").unwrap();
    let prom_layout = (p.to_string(), mount_at(prom, p).expect("the data volume at the TSDB path").1);
    let side = containers.iter().find(|c| flag(c, "--tsdb.path").is_some()).map(|c| {
        let p = flag(c, "--tsdb.path").unwrap();
        (p.to_string(), mount_at(c, p).expect("the sidecar mounts the data volume").1)
    });
    (prom_layout, side)
}

/// Behaviour, with the real Prometheus Operator (v0.93.1, the chart's) on a loopback API
/// server: the StatefulSet it makes from `helm template` of chart 88.5.3 with the stack's
/// values mounts the TSDB (Prometheus and sidecar) exactly as manifests mode does, and
/// the Prometheus config it generates carries the stack's external labels and no
/// `prometheus` label.
#[test]
fn the_operator_lays_out_the_tsdb_as_manifests_mode_does() {
    let _real = crate::common::real_components_lock();
    let [Some(operator), Some(helm_bin)] = ["operator", "helm"].map(real) else { return };
    let Some(mut server) = ApiServer::start() else { return };
    let d = server.path("");
    let path = |n: &str| d.join(n);
    let kubectl = server.kubectl_path().to_path_buf();
    let kubeconfig = server.kubeconfig.clone();

    // The stack, its companion manifests and the chart's objects, as a user applies them.
    let stack_file = root().join("stacks/ceph-thanos.toml");
    let s = stackgen::check(&stackgen::load(stack_file.to_str().unwrap()).unwrap()).unwrap().stack;
    server.apply_chart_world(&helm_bin, &s);
    server.spawn(
        &operator,
        [
            server.operator_flags(),
            vec![format!("--web.listen-address=127.0.0.1:{}", free_port()), format!("--namespaces={}", s.namespace)],
        ]
        .concat(),
        "operator.log",
    );
    let ns = s.namespace.as_str();
    let sts = get_json(
        &kubectl,
        &kubeconfig,
        &["-n", ns, "get", "statefulset", &helm::statefulset_name(&s, 0)],
        90,
        &path("operator.log"),
    );
    let (operator_prom, operator_side) = tsdb_layout(&sts["spec"]["template"]);

    // Manifests mode, same stack.
    let manifests = docs(&stackgen::render_manifests(&s));
    let ours = manifests
        .iter()
        .find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "ha-prometheus-shard-0")
        .expect("shard 0");
    let (our_prom, our_side) = tsdb_layout(&ours["spec"]["template"]);
    assert_eq!(our_prom, operator_prom, "Prometheus: (TSDB path, subPath) in manifests mode vs the operator's");
    assert!(operator_side.is_some(), "the operator's sidecar");
    assert_eq!(our_side, operator_side, "Thanos sidecar: (TSDB path, subPath)");

    // The config the operator generates: the stack's external labels, no `prometheus`.
    let secret = get_json(
        &kubectl,
        &kubeconfig,
        &["-n", ns, "get", "secret", &format!("prometheus-{}", helm::prometheus_cr(&s))],
        60,
        &path("operator.log"),
    );
    let gz = secret["data"]["prometheus.yaml.gz"].as_str().expect("the generated config");
    let mut child = Command::new("sh")
        .args(["-c", "base64 -d | gzip -dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(gz.as_bytes()).unwrap();
    let text = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let cfg: Value = serde_saphyr::from_str(&text).unwrap();
    let labels: Vec<&str> = cfg["global"]["external_labels"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut want: Vec<&str> = s.prometheus.external_labels.keys().map(String::as_str).collect();
    want.push(s.replica_label());
    want.sort_unstable();
    let mut got = labels.clone();
    got.sort_unstable();
    assert_eq!(got, want, "external labels of the operator's config");
}
