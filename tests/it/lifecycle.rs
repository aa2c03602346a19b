//! `stackgen plan` and `stackgen migrate`: the figures as snapshots and properties, the
//! runbooks through shellcheck, and a migration end to end with the real Prometheus.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::loopback::{http, Cluster};
use crate::common::{
    bin, check_text, docs, in_ci, real, real_components_lock, root, run, stacks, stem, tool, Snapshots,
};
use proptest::prelude::*;
use serde_json::Value;
use stackgen::lifecycle::plan;

/// The snapshot of `plan` (human and JSON) for every example stack.
#[test]
fn plan_figures_of_every_example_stack_match_their_snapshots() {
    let mut golden = Snapshots::tree(root().join("golden/plan"), "", "lifecycle::plan_figures");
    for stack in stacks() {
        for (format, ext) in [("human", "txt"), ("json", "json")] {
            let (code, out, err) =
                run(Command::new(bin()).args(["plan", "--format", format]).arg(&stack).current_dir(root()));
            assert_eq!(code, 0, "{}: {err}", stack.display());
            golden.compare_in_tree(&format!("{}.{ext}", stem(&stack)), &out);
        }
    }
    golden.finish();
}

/// The JSON document's field names are the interface: a fixed set, checked here so a
/// rename is a deliberate change.
#[test]
fn plan_json_field_names_are_stable() {
    let (code, out, err) =
        run(Command::new(bin()).args(["plan", "--format", "json", "stacks/ceph-thanos.toml"]).current_dir(root()));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>().join(",");
    assert_eq!(keys(&v), "stack,shards,replicas,load_from,retention,bytes_per_sample,per_shard,total,thanos,checks");
    assert_eq!(
        keys(&v["per_shard"][0]),
        "shard,samples_per_second,active_series,blocks_bytes,wal_bytes,head_chunks_bytes,tsdb_bytes,volume_bytes,\
         retention_size_bytes,memory_bytes"
    );
    assert_eq!(keys(&v["thanos"]), "bucket_raw_bytes,bucket_raw_forever,compactor_disk_bytes,store_memory_bytes");
    assert_eq!(keys(&v["checks"][0]), "what,key,stack_bytes,plan_bytes,verdict");
    assert_eq!(keys(&v["total"]), "pods,volume_bytes,memory_bytes");
}

#[test]
fn plan_without_a_load_says_which_key_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("stacks/eks-gp3.toml")).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("ingestion_rate") && !l.starts_with("active_series"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = run(Command::new(bin()).arg("plan").arg(&path));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty());
    assert!(err.contains("ingestion_rate") && err.contains("active_series"), "{err}");
}

#[test]
fn explain_plan_names_every_factor_with_its_source() {
    let (code, out, _) = run(Command::new(bin()).args(["explain", "plan"]));
    assert_eq!(code, 0);
    for f in plan::FACTORS {
        assert!(out.contains(f.name), "{} missing", f.name);
        assert!(out.contains(f.source), "source of {} missing", f.name);
    }
    assert!(out.contains("docs/storage.md") && out.contains("prometheus/prometheus#4553"));
}

fn stack_with(shards: u16, rate: u64, retention_days: u32) -> stackgen::model::Stack {
    check_text(
        "p.toml",
        &format!(
            "[stack]\nname = \"p\"\nnamespace = \"monitoring\"\n[prometheus]\nretention = \"{retention_days}d\"\n\
             ingestion_rate = {rate}\n[storage]\nbackend = \"class\"\nsize = \"100Gi\"\n[storage.class]\nname = \"gp3\"\n\
             [sharding]\nshards = {shards}\n"
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// More samples or a longer retention never need less; more shards never need more
    /// per pod.
    #[test]
    fn plan_is_monotone_in_rate_retention_and_shards(
        rate in 1u64..5_000_000, extra in 1u64..1_000_000,
        days in 1u32..400, more_days in 1u32..100,
        shards in 1u16..32, more_shards in 1u16..32,
    ) {
        let base = plan::plan(&stack_with(shards, rate, days)).unwrap();
        let faster = plan::plan(&stack_with(shards, rate + extra, days)).unwrap();
        let longer = plan::plan(&stack_with(shards, rate, days + more_days)).unwrap();
        let wider = plan::plan(&stack_with(shards + more_shards, rate, days)).unwrap();
        let (b, f, l, w) = (&base.per_shard[0], &faster.per_shard[0], &longer.per_shard[0], &wider.per_shard[0]);
        for (name, lo, hi) in [
            ("blocks", b.blocks_bytes, f.blocks_bytes),
            ("wal", b.wal_bytes, f.wal_bytes),
            ("volume", b.volume_bytes, f.volume_bytes),
            ("memory", b.memory_bytes, f.memory_bytes),
            ("blocks/retention", b.blocks_bytes, l.blocks_bytes),
            ("volume/retention", b.volume_bytes, l.volume_bytes),
            ("blocks/shards", w.blocks_bytes, b.blocks_bytes),
            ("volume/shards", w.volume_bytes, b.volume_bytes),
            ("memory/shards", w.memory_bytes, b.memory_bytes),
        ] {
            prop_assert!(lo <= hi, "{name}: {lo} > {hi}");
        }
        // The volume always holds the TSDB, and the retention size fits the volume.
        prop_assert!(b.volume_bytes >= b.tsdb_bytes);
        prop_assert!(b.retention_size_bytes <= b.volume_bytes);
    }
}

/// Every runbook passes shellcheck: every example stack, both targets.
#[test]
fn every_migrate_runbook_passes_shellcheck() {
    let Some(shellcheck) = tool_or_fail("shellcheck") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for stack in stacks() {
        for target in ["manifests", "helm-values"] {
            let (code, out, err) = run(Command::new(bin())
                .args(["migrate", "--from", "old-vm:/var/lib/prometheus/data", "--target", target])
                .arg(&stack)
                .current_dir(root()));
            if stem(&stack) == "dev-ephemeral" {
                assert_eq!(code, 2, "an emptyDir stack has no volume to migrate into");
                assert!(err.contains("emptyDir"), "{err}");
                continue;
            }
            assert_eq!(code, 0, "{}: {err}", stack.display());
            shellcheck_clean(&shellcheck, &dir.path().join(format!("{}-{target}.sh", stem(&stack))), &out);
            checked += 1;
        }
    }
    assert!(checked >= 14, "{checked} runbooks checked");
}

/// `migrate --resize`: every runbook passes shellcheck and lists every claim of the
/// stack under the names of the target's world.
#[test]
fn every_resize_runbook_passes_shellcheck_and_names_every_claim() {
    let Some(shellcheck) = tool_or_fail("shellcheck") else { return };
    let dir = tempfile::tempdir().unwrap();
    for stack in stacks() {
        for target in ["manifests", "helm-values"] {
            let (code, out, err) = run(Command::new(bin())
                .args(["migrate", "--resize", "--target", target])
                .arg(&stack)
                .current_dir(root()));
            if stem(&stack) == "dev-ephemeral" {
                assert_eq!(code, 2, "an emptyDir stack has no claims to grow");
                continue;
            }
            assert_eq!(code, 0, "{}: {err}", stack.display());
            shellcheck_clean(&shellcheck, &dir.path().join(format!("{}-{target}.sh", stem(&stack))), &out);
        }
    }
    let (_, out, _) =
        run(Command::new(bin()).args(["migrate", "--resize", "stacks/sharded-64.toml"]).current_dir(root()));
    let claims = sh_var(&out, "CLAIMS");
    assert_eq!(claims.split(' ').count(), 128, "64 shards x 2 replicas");
    assert!(
        claims
            .starts_with("data-big-prometheus-shard-0-0 data-big-prometheus-shard-0-1 data-big-prometheus-shard-1-0 "),
        "{claims}"
    );
    assert!(out.contains("--cascade=orphan") && out.contains("patch pvc"), "{out}");
    let (_, out, _) = run(Command::new(bin())
        .args(["migrate", "--resize", "--target", "helm-values", "stacks/sharded-64.toml"])
        .current_dir(root()));
    let sets = sh_var(&out, "STATEFULSETS");
    assert!(sets.starts_with("prometheus-big-prometheus prometheus-big-prometheus-shard-1 "), "{sets}");
    assert!(out.contains("helm upgrade --install"), "{out}");
}

#[test]
fn migrate_refuses_a_pod_the_stack_does_not_have_and_unsafe_arguments() {
    for (args, want) in [
        (vec!["--shard", "3"], "not a shard"),
        (vec!["--replica", "2"], "not a replica"),
        (vec!["--bwlimit", "1M;reboot"], "--bwlimit"),
    ] {
        let (code, out, err) = run(Command::new(bin())
            .args(["migrate", "stacks/migrated-local-ssd.toml", "--from", "vm:/data"])
            .args(&args)
            .current_dir(root()));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty() && err.contains(want), "{args:?}: {err}");
    }
    let (code, _, err) = run(Command::new(bin())
        .args(["migrate", "stacks/migrated-local-ssd.toml", "--from", "vm:/data; rm -rf /"])
        .current_dir(root()));
    assert_eq!(code, 2);
    assert!(err.contains("--from"), "{err}");
}

#[test]
fn a_runbook_is_deterministic_and_names_the_rendered_objects() {
    let args = ["migrate", "stacks/migrated-local-ssd.toml", "--from", "vm:/data", "--replica", "1"];
    let (_, a, _) = run(Command::new(bin()).args(args).current_dir(root()));
    let (_, b, _) = run(Command::new(bin()).args(args).current_dir(root()));
    assert_eq!(a, b);
    for want in [
        "PV='monitoring-vm-migrated-prometheus-shard-0-1'",
        "CLAIM='data-vm-migrated-prometheus-shard-0-1'",
        "OWNER=1000:2000",
        "DEST=${DEST:-'/mnt/disks/prometheus/prometheus-db'}",
        "BWLIMIT=${BWLIMIT:-'200M'}",
        "node-ssd-b",
        "set -eu",
    ] {
        assert!(a.contains(want), "missing {want}:\n{a}");
    }
    // The chart's world: the operator's StatefulSet and claim names.
    let (code, h, err) = run(Command::new(bin())
        .args(["migrate", "stacks/migrated-local-ssd.toml", "--from", "vm:/data", "--target", "helm-values"])
        .current_dir(root()));
    assert_eq!(code, 0, "{err}");
    assert!(h.contains("STS='prometheus-vm-migrated-prometheus'"), "{h}");
    assert!(h.contains("CLAIM='prometheus-vm-migrated-prometheus-db-prometheus-vm-migrated-prometheus-0'"), "{h}");
    // The companion PV pre-bound to the operator's claim.
    assert!(h.contains("PV='monitoring-vm-migrated-prometheus-shard-0-0'"), "{h}");
}

/// Write a runbook to `file` and assert shellcheck (POSIX sh) finds nothing in it.
fn shellcheck_clean(shellcheck: &Path, file: &Path, text: &str) {
    std::fs::write(file, text).unwrap();
    let (code, out, err) = run(Command::new(shellcheck).args(["-s", "sh"]).arg(file));
    assert_eq!(code, 0, "shellcheck {}:\n{out}{err}", file.display());
}

/// A tool the test needs: fails under CI, skips loudly otherwise.
fn tool_or_fail(name: &str) -> Option<std::path::PathBuf> {
    let t = tool(name);
    if t.is_none() {
        assert!(!in_ci(), "{name} is required under CI (scripts/install-test-deps.sh installs it)");
        eprintln!("SKIPPED: {name} not installed (scripts/install-test-deps.sh installs it)");
    }
    t
}

fn is_root() -> bool {
    let (code, out, _) = run(Command::new("id").arg("-u"));
    code == 0 && out.trim() == "0"
}

/// The migration of seed 000, end to end on loopback with the real Prometheus: blocks
/// made by promtool in a "VM" directory owned by another uid; the runbook's `copy` and
/// `final` phases (a local path standing in for the host, the pod's loopback volume for
/// the node's disk) copy them with rsync and chown them to the rendered securityContext;
/// the rendered Prometheus, run as that uid:gid, serves the oldest sample, and the
/// runbook's `verify` phase agrees.
#[test]
fn a_migrate_runbook_moves_a_tsdb_of_another_owner_into_the_pod_that_then_serves_it() {
    let (Some(prometheus), Some(promtool)) = (real("prometheus"), real("promtool")) else { return };
    let Some(_rsync) = tool_or_fail("rsync") else { return };
    let _lock = real_components_lock();
    if !is_root() {
        assert!(!in_ci(), "the migration test changes file owners: CI runs it as root");
        eprintln!("SKIPPED: the migration test needs root (chown, and running Prometheus as the pod's uid)");
        return;
    }
    let stack_file = "stacks/migrated-local-ssd.toml";
    let stack = stackgen::check(&stackgen::load(root().join(stack_file).to_str().unwrap()).unwrap()).unwrap().stack;
    let objs = docs(&stackgen::render_manifests(&stack));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // The old TSDB: 2h blocks from a day ago, owned by uid/gid 4242 (the VM's prometheus user).
    let vm = work.path().join("vm/data");
    std::fs::create_dir_all(&vm).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let oldest = (now - 30 * 3600) / 3600 * 3600;
    let mut om = String::from("# HELP migrated_sample A series of the old TSDB.\n# TYPE migrated_sample gauge\n");
    for i in 0..(6 * 60) {
        om.push_str(&format!("migrated_sample{{origin=\"vm\"}} {i} {}\n", oldest + i * 60));
    }
    om.push_str("# EOF\n");
    let om_file = work.path().join("old.om");
    std::fs::write(&om_file, om).unwrap();
    let (code, _, err) =
        run(Command::new(&promtool).args(["tsdb", "create-blocks-from", "openmetrics"]).arg(&om_file).arg(&vm));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(Command::new("chown").args(["-R", "4242:4242"]).arg(work.path().join("vm")));
    assert_eq!(code, 0, "{err}");

    // The runbook, for replica 1 of shard 0, from the VM's directory.
    let (code, script, err) =
        run(Command::new(bin()).args(["migrate", stack_file, "--replica", "1", "--from"]).arg(&vm).current_dir(root()));
    assert_eq!(code, 0, "{err}");
    let script_file = work.path().join("migrate.sh");
    std::fs::write(&script_file, &script).unwrap();

    // The pod the runbook names, on loopback; its data volume stands in for the node's disk.
    let pod = sh_var(&script, "POD");
    let sts = sh_var(&script, "STS");
    let pv_name = sh_var(&script, "PV");
    let pv = objs.iter().find(|o| o["kind"] == "PersistentVolume" && o["metadata"]["name"] == pv_name).unwrap();
    let pv_path = pv["spec"]["local"]["path"].as_str().unwrap();
    let dest_on_node = sh_default(&script, "DEST");
    let inside = dest_on_node.strip_prefix(pv_path).expect("DEST is on the PV's path");
    let mut cluster = Cluster::new(objs.clone(), &stack.kubernetes.cluster_domain).with_placeholder_secrets();
    std::fs::set_permissions(cluster.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pods = cluster.add_pods("StatefulSet", &sts);
    assert!(pods.contains(&pod), "{pod} not in {pods:?}");
    let volume = cluster.volume_dir(&pod, "data");
    let dest = format!("{}{inside}", volume.display());

    for phase in ["copy", "final"] {
        let (code, out, err) =
            run(Command::new("sh").arg(&script_file).arg(phase).env("DEST", &dest).current_dir(work.path()));
        assert_eq!(code, 0, "phase {phase}:\n{out}{err}");
        if phase == "final" {
            assert!(out.contains(&format!("oldest sample copied: {}", oldest * 1000)), "{out}");
        }
    }

    // The rendered pod security context: the process runs as runAsUser/runAsGroup with
    // fsGroup as a supplementary group, as the kubelet starts it.
    let sts_obj = objs.iter().find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == sts.as_str()).unwrap();
    let sc = &sts_obj["spec"]["template"]["spec"]["securityContext"];
    let (uid, gid, fs_group) =
        (sc["runAsUser"].as_i64().unwrap(), sc["runAsGroup"].as_i64().unwrap(), sc["fsGroup"].as_i64().unwrap());
    let bin_dir = work.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::copy(&prometheus, bin_dir.join("prometheus")).unwrap();
    let wrapper = bin_dir.join("prometheus-as-pod");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec setpriv --reuid={uid} --regid={gid} --groups={fs_group} {} \"$@\"\n",
            bin_dir.join("prometheus").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    cluster.start(&pod, "prometheus", &wrapper);
    cluster.wait_ready(&pod, "prometheus", Duration::from_secs(90));
    let addr = cluster.addr(&pod, "web");

    // The oldest sample, through the API.
    let q = format!("/api/v1/query?query=migrated_sample&time={}", oldest + 30);
    let (status, body) = http("GET", &addr, &q, None).expect("query answers");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "the oldest sample is served: {body}");
    assert_eq!(result[0]["value"][1], "0");

    // And the runbook's own check agrees.
    let (code, out, err) = run(Command::new("sh")
        .arg(&script_file)
        .arg("verify")
        .env("DEST", &dest)
        .env("PROM_URL", format!("http://{addr}"))
        .current_dir(work.path()));
    assert_eq!(code, 0, "verify:\n{out}{err}");
    assert!(out.contains("ok: the migrated history is served"), "{out}");
    // Prometheus wrote into the TSDB as the pod's user: nothing there is root's or the VM's.
    let (_, owners, _) = run(Command::new("find").arg(Path::new(&dest)).args(["-printf", "%U:%G\n"]));
    assert!(owners.lines().all(|l| l == format!("{uid}:{fs_group}") || l == format!("{uid}:{gid}")), "{owners}");
}

/// `NAME='value'` of a runbook.
fn sh_var(script: &str, name: &str) -> String {
    let prefix = format!("{name}='");
    let line = script.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name} in the runbook"));
    line[prefix.len()..line.len() - 1].to_string()
}

/// The default of `NAME=${NAME:-'value'}`.
fn sh_default(script: &str, name: &str) -> String {
    let prefix = format!("{name}=${{{name}:-'");
    let line = script.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name} in the runbook"));
    line[prefix.len()..line.len() - 2].to_string()
}

// Resharding without loss (`[sharding] retired`): the render keeps the retired shards'
// objects, diff says which shards retire or are lost and how many targets move, and the
// real Prometheus of a retired shard scrapes nothing.

const RESHARD: &str = "tests/fixtures/reshard/4.toml";
const RETIRE_2: [(&str, &str); 1] =
    [("shards = 4\n", "shards = 2\nretired = { shards = 4, since = \"2026-12-01\" }\n")];

/// The documents of a YAML stream, by (kind, name), each with its own text.
fn docs_by_name(stream: &str) -> std::collections::BTreeMap<(String, String), (String, Value)> {
    let mut m = std::collections::BTreeMap::new();
    for text in stream.split("\n---\n") {
        let text = text.trim_start_matches("---\n");
        let v: Value = serde_saphyr::from_str(text).unwrap();
        let key = (v["kind"].as_str().unwrap().to_string(), v["metadata"]["name"].as_str().unwrap().to_string());
        m.insert(key, (format!("{text}\n"), v));
    }
    m
}

fn render_file(path: &str) -> String {
    crate::common::render_stack(Path::new(path))
}

/// 4 → 2 shards with `retired`: every object of shards 2 and 3 is kept byte for byte,
/// except the ConfigMap, whose prometheus.yml has no scrape job (and says until when)
/// and whose annotations carry the dates; Thanos Query still reaches their sidecars.
#[test]
fn retiring_shards_keeps_their_objects_and_empties_their_scrape_config() {
    let dir = tempfile::tempdir().unwrap();
    let old = docs_by_name(&render_file(root().join(RESHARD).to_str().unwrap()));
    let new_path = crate::common::variant(dir.path(), RESHARD, &RETIRE_2);
    let new = docs_by_name(&render_file(&new_path));
    let mut kept = 0;
    for shard in [2, 3] {
        let name = format!("rs-prometheus-shard-{shard}");
        let theirs: Vec<_> = old.keys().filter(|(_, n)| *n == name).cloned().collect();
        assert!(theirs.len() >= 3, "shard {shard}: {theirs:?}");
        for key in theirs {
            let (old_text, old_v) = &old[&key];
            let (new_text, new_v) = new.get(&key).unwrap_or_else(|| panic!("{key:?} was removed"));
            kept += 1;
            if key.0 != "ConfigMap" {
                assert_eq!(old_text, new_text, "{key:?} changed");
                continue;
            }
            // The ConfigMap: the same but for prometheus.yml and the two date annotations.
            let ann = &new_v["metadata"]["annotations"];
            assert_eq!(ann["stackgen.dev/retired-since"], "2026-12-01");
            assert_eq!(ann["stackgen.dev/retired-until"], "2026-12-17", "15d after 2026-12-01, plus the open day");
            let strip = |v: &Value| {
                let mut v = v.clone();
                v["metadata"].as_object_mut().unwrap().remove("annotations");
                v["data"].as_object_mut().unwrap().remove("prometheus.yml");
                v
            };
            assert_eq!(strip(old_v), strip(new_v), "{key:?}: more than prometheus.yml changed");
            let cfg =
                |v: &Value| -> Value { serde_saphyr::from_str(v["data"]["prometheus.yml"].as_str().unwrap()).unwrap() };
            let (mut was, is) = (cfg(old_v), cfg(new_v));
            assert!(!was["scrape_configs"].as_array().unwrap().is_empty());
            assert_eq!(is["scrape_configs"], serde_json::json!([]), "a retired shard scrapes nothing");
            assert_eq!(is["global"]["external_labels"]["shard"], shard.to_string(), "its external labels stay");
            was["scrape_configs"] = serde_json::json!([]);
            assert_eq!(was, is, "{key:?}: only the scrape jobs go");
            let text = new_v["data"]["prometheus.yml"].as_str().unwrap();
            assert!(text.contains("on or after 2026-12-17") && text.contains("in the bucket"), "{text}");
        }
    }
    assert!(kept >= 6);
    // Thanos Query finds every sidecar through one Service whose selector the retired
    // pods still match.
    let (_, svc) = &new[&("Service".to_string(), "rs-thanos-sidecar".to_string())];
    let (_, sts) = &new[&("StatefulSet".to_string(), "rs-prometheus-shard-3".to_string())];
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&sts["spec"]["template"]["metadata"]["labels"][k], v, "selector {k}");
    }
    let (_, query) = &new[&("Deployment".to_string(), "rs-thanos-query".to_string())];
    assert!(query.to_string().contains("dnssrv+_grpc._tcp.rs-thanos-sidecar."), "{query}");
    // The active shards hash modulo 2.
    let (_, cm0) = &new[&("ConfigMap".to_string(), "rs-prometheus-shard-0".to_string())];
    assert!(cm0["data"]["prometheus.yml"].as_str().unwrap().contains("modulus: 2"));

    // Helm values: the operator's own retention policy, its feature gate, the new count.
    let (code, out, err) = run(Command::new(bin()).args(["render", "--format", "helm-values"]).arg(&new_path));
    assert_eq!(code, 0, "{err}");
    let values: Value = serde_saphyr::from_multiple::<Value>(&out).unwrap().remove(0);
    let spec = &values["prometheus"]["prometheusSpec"];
    assert_eq!(spec["shards"], 2);
    assert_eq!(
        spec["shardRetentionPolicy"],
        serde_json::json!({"whenScaled": "Retain", "retain": {"retentionPeriod": "15d"}})
    );
    assert_eq!(values["prometheusOperator"]["featureGates"]["PrometheusShardRetentionPolicy"], true);
}

/// Static volumes of retired shards stay, in both targets: the same PVs in manifests
/// mode, and companion PVs pre-bound to the operator's claims in helm-values mode.
#[test]
fn retired_shards_keep_their_static_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let four = crate::common::variant(
        dir.path(),
        "stacks/static-nfs.toml",
        &[("[storage]", "[sharding]\nshards = 4\n\n[storage]")],
    );
    let old = docs_by_name(&render_file(&four));
    let two_dir = tempfile::tempdir().unwrap();
    let two = crate::common::variant(
        two_dir.path(),
        "stacks/static-nfs.toml",
        &[("[storage]", "[sharding]\nshards = 2\nretired = { shards = 4, since = \"2026-12-01\" }\n\n[storage]")],
    );
    let new = docs_by_name(&render_file(&two));
    let pvs = |m: &std::collections::BTreeMap<(String, String), (String, Value)>| -> Vec<String> {
        m.iter()
            .filter(|((k, n), _)| k == "PersistentVolume" && n.contains("prometheus-shard-"))
            .map(|(_, (t, _))| t.clone())
            .collect()
    };
    assert_eq!(pvs(&old).len(), 8, "4 shards x 2 replicas");
    assert_eq!(pvs(&old), pvs(&new), "the retired shards' PVs are kept as they were");
    let stack = stackgen::check(&stackgen::load(&two).unwrap()).unwrap().stack;
    let companions = docs(&stackgen::render::helm::render(&stack).manifests);
    let claims: Vec<&str> = companions
        .iter()
        .filter(|d| d["kind"] == "PersistentVolume")
        .filter_map(|d| d["spec"]["claimRef"]["name"].as_str())
        .filter(|c| c.contains("-shard-3-"))
        .collect();
    assert_eq!(claims.len(), 2, "shard 3's two replicas keep their companion PVs: {claims:?}");
}

/// diff's text and JSON for a shard count change, as snapshots: 4 → 2 with and without
/// `retired` (which shards retire and until when, or that their data becomes unreachable
/// and how to keep it), 4 → 5 and 4 → 8 (the share of targets that move, and the count
/// that moves least).
#[test]
fn diff_of_a_shard_count_change_matches_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join(RESHARD), dir.path().join("before.toml")).unwrap();
    let text = std::fs::read_to_string(root().join(RESHARD)).unwrap();
    let mut snapshots = Snapshots::tree(root().join("tests/snapshots/reshard"), "", "lifecycle::diff_of_a_shard_count");
    for (case, to) in [
        ("4-to-2-retired", RETIRE_2[0].1),
        ("4-to-2", "shards = 2\n"),
        ("4-to-5", "shards = 5\n"),
        ("4-to-8", "shards = 8\n"),
    ] {
        std::fs::write(dir.path().join("after.toml"), text.replacen("shards = 4\n", to, 1)).unwrap();
        for (format, ext) in [("human", "txt"), ("json", "json")] {
            let (code, out, err) = run(Command::new(bin())
                .args(["diff", "after.toml", "--base", "before.toml", "--format", format])
                .current_dir(dir.path())
                .env("NO_COLOR", "1"));
            assert!(code == 0 || code == 1, "{case}: {err}");
            snapshots.compare_in_tree(&format!("{case}.{ext}"), &out);
            if format == "json" {
                let v: Value = serde_json::from_str(&out).unwrap();
                let reshard = &v["sharding"]["reshard"];
                match case {
                    "4-to-2-retired" => {
                        assert_eq!(reshard["retired"]["shards"], serde_json::json!([2, 3]));
                        assert_eq!(reshard["retired"]["until"], "2026-12-17");
                        assert_eq!(reshard["removed"], Value::Null);
                    }
                    "4-to-2" => {
                        assert_eq!(reshard["removed"], serde_json::json!({"first": 2, "last": 3}));
                        let r = v["risks"].as_array().unwrap().iter().find(|r| r["code"] == "shard-count").unwrap();
                        assert!(r["action"].as_str().unwrap().contains("retired = { shards = 4"), "{r}");
                    }
                    "4-to-5" => {
                        assert!((reshard["moved_share"].as_f64().unwrap() - 0.8).abs() < 1e-9);
                        assert_eq!(reshard["least_moving"]["shards"], 8);
                    }
                    _ => assert_eq!(reshard["moved_share"], 0.5),
                }
            }
        }
    }
    snapshots.finish();
}

/// The real Prometheus of a retired shard (2 shards → 1 with `retired`), run with its
/// rendered args and ConfigMap, loads that config, serves its API, and has no active
/// target, while the active shard scrapes every target.
#[test]
fn a_retired_shard_scrapes_nothing_in_the_real_prometheus() {
    use crate::common::loopback::get_json;
    let Some(prometheus) = real("prometheus") else { return };
    let _lock = real_components_lock();
    let targets: Vec<String> = (0..4).map(|_| serve_metrics()).collect();
    let list = targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    let stack = check_text(
        "retired.toml",
        &format!(
            "[stack]\nname = \"rt\"\n[prometheus]\nscrape_interval = \"2s\"\n[storage]\nbackend = \"ephemeral\"\n\
             [sharding]\nshards = 1\nretired = {{ shards = 2, since = \"2026-12-01\" }}\n\
             [kubernetes]\ndiscovery = false\n[[scrape]]\njob = \"e2e\"\nstatic_targets = [{list}]\n"
        ),
    );
    let mut cluster = Cluster::new(docs(&stackgen::render_manifests(&stack)), &stack.kubernetes.cluster_domain);
    let mut pods = Vec::new();
    for (kind, name) in cluster.workloads(&[("app.kubernetes.io/name", "prometheus")]) {
        pods.extend(cluster.add_pods(&kind, &name));
    }
    assert_eq!(pods.len(), 2, "the active shard and the retired one: {pods:?}");
    for pod in &pods {
        cluster.start(pod, "prometheus", &prometheus);
    }
    for pod in &pods {
        cluster.wait_ready(pod, "prometheus", Duration::from_secs(60));
    }
    let web = |i: u16| {
        let pod = pods.iter().find(|p| p.starts_with(&format!("rt-prometheus-shard-{i}-"))).unwrap();
        cluster.addr(pod, "web")
    };
    let (active, retired) = (web(0), web(1));
    let targets_of = |addr: &str| -> Vec<Value> {
        get_json(addr, "/api/v1/targets?state=active")
            .and_then(|v| v["data"]["activeTargets"].as_array().cloned())
            .unwrap_or_default()
    };
    // The active shard scrapes every target (the config works); by then the retired one
    // has long run its (empty) discovery.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let up = targets_of(&active).iter().filter(|t| t["labels"]["job"] == "e2e" && t["health"] == "up").count();
        if up == targets.len() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the active shard never scraped all targets: {up}");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    let cfg = get_json(&retired, "/api/v1/status/config").expect("the retired shard serves its API");
    let loaded = cfg["data"]["yaml"].as_str().unwrap_or_default();
    assert!(loaded.contains("shard: \"1\"") || loaded.contains("shard: '1'"), "it runs shard 1's config:\n{loaded}");
    let theirs = targets_of(&retired);
    assert!(theirs.is_empty(), "the retired shard has active targets: {theirs:?}");
}

/// A loopback /metrics endpoint served until the process ends.
fn serve_metrics() -> String {
    crate::common::loopback::serve(|_| (200, "text/plain; version=0.0.4".into(), "retired_e2e 1\n".into()))
}

// `size = "auto"` and `resources = "auto"`: the plan chooses, and every output agrees.

const AUTO: &str = "tests/fixtures/auto/stack.toml";

/// The auto-sized fixture: its render, helm values and plan as snapshots, and the figures
/// they share equal to the plan's: the claims and retention size from the plan's volume
/// (rounded up to a clean GiB figure), the requests and limits from its head memory and
/// rate, in both targets; lint finds nothing short.
#[test]
fn auto_size_and_resources_agree_in_render_helm_values_plan_and_lint() {
    let stack = stackgen::check(&stackgen::load(root().join(AUTO).to_str().unwrap()).unwrap()).unwrap();
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    let stack = stack.stack;
    let p = plan::plan(&stack).unwrap();
    let one = &p.per_shard[0];
    let gib = 1u64 << 30;
    let size = stack.storage.size.unwrap().get();
    assert!(size >= one.volume_bytes && size - one.volume_bytes < 10 * gib, "{size} for {}", one.volume_bytes);
    assert_eq!(size % gib, 0);
    assert!(p.checks.iter().all(|c| c.verdict == plan::Verdict::Ok), "{:?}", p.checks);

    let manifests = stackgen::render_manifests(&stack);
    let helm = stackgen::render::helm::render(&stack);
    let mut snapshots = Snapshots::tree(root().join("tests/snapshots/auto"), "", "lifecycle::auto_size");
    snapshots.compare_in_tree("manifests.yaml", &manifests);
    snapshots.compare_in_tree("values.yaml", &helm.values);
    snapshots.compare_in_tree("plan.txt", &p.to_human());
    snapshots.compare_in_tree("plan.json", &p.to_json());
    snapshots.finish();

    let quantity = format!("{}Gi", size / gib);
    let r = &stack.prometheus.resources;
    let (cpu, mem, limit) =
        (r.cpu.as_str().to_string(), r.memory.as_str().to_string(), r.memory_limit.as_str().to_string());
    assert_eq!(mem, format!("{}Gi", one.memory_bytes.div_ceil(gib)));
    assert_eq!(limit, format!("{}Gi", (one.memory_bytes.div_ceil(gib) * 3).div_ceil(2)));
    assert_eq!(cpu, "1", "100,000 samples/s per pod at 100k per core");
    let objs = docs(&manifests);
    for sts in objs
        .iter()
        .filter(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"].as_str().unwrap().contains("prometheus-shard"))
    {
        let claim = &sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"];
        assert_eq!(claim, &Value::from(quantity.clone()));
        let c = &sts["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["resources"]["requests"]["memory"], Value::from(mem.clone()));
        assert_eq!(c["resources"]["requests"]["cpu"], Value::from(cpu.clone()));
        assert_eq!(c["resources"]["limits"]["memory"], Value::from(limit.clone()));
        assert!(c["resources"]["limits"].get("cpu").is_none(), "no CPU limit");
        let retention =
            format!("--storage.tsdb.retention.size={}", stack.prometheus.retention_size.unwrap().prometheus());
        assert!(c["args"].as_array().unwrap().contains(&Value::from(retention)));
    }
    let values: Value = serde_saphyr::from_str(&helm.values).unwrap();
    let spec = &values["prometheus"]["prometheusSpec"];
    assert_eq!(
        spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"],
        Value::from(quantity)
    );
    assert_eq!(spec["resources"]["requests"]["memory"], Value::from(mem));
    assert_eq!(spec["resources"]["requests"]["cpu"], Value::from(cpu));
    assert_eq!(spec["resources"]["limits"]["memory"], Value::from(limit));
    assert_eq!(spec["retentionSize"], Value::from(stack.prometheus.retention_size.unwrap().prometheus()));
}

/// Shrinking to one shard with `retired`: shard 0 keeps its `shard` external label while
/// retired shards carry theirs, so its series and blocks stay apart from theirs.
#[test]
fn shrinking_to_one_shard_keeps_shard_labels_while_shards_are_retired() {
    let dir = tempfile::tempdir().unwrap();
    let one = crate::common::variant(
        dir.path(),
        RESHARD,
        &[("shards = 4\n", "shards = 1\nretired = { shards = 4, since = \"2026-12-01\" }\n")],
    );
    let configs = crate::common::prometheus_configs(&docs(&render_file(&one)));
    assert_eq!(configs.len(), 4);
    for (name, cfg) in &configs {
        let shard = name.rsplit('-').next().unwrap();
        assert_eq!(cfg["global"]["external_labels"]["shard"], shard, "{name}");
        let jobs = cfg["scrape_configs"].as_array().unwrap();
        assert_eq!(jobs.is_empty(), shard != "0", "{name}: only shard 0 scrapes");
    }
}

/// The retired stack's helm values through the real chart (`helm template` of
/// kube-prometheus-stack 88.5.3): the Prometheus resource carries the retention policy
/// and the new shard count, and the operator runs with the policy's feature gate.
#[test]
fn the_chart_turns_retired_into_the_operators_shard_retention_policy() {
    let Some(helm_bin) = real("helm") else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = crate::common::variant(dir.path(), RESHARD, &RETIRE_2);
    let stack = stackgen::check(&stackgen::load(&path).unwrap()).unwrap().stack;
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, stackgen::render::helm::render(&stack).values).unwrap();
    let objs = crate::common::apiserver::helm_template(&helm_bin, &stack, &values);
    let prom = objs.iter().find(|o| o["kind"] == "Prometheus").expect("the chart's Prometheus");
    assert_eq!(prom["spec"]["shards"], 2);
    assert_eq!(prom["spec"]["shardRetentionPolicy"]["whenScaled"], "Retain");
    assert_eq!(prom["spec"]["shardRetentionPolicy"]["retain"]["retentionPeriod"], "15d");
    let operator = objs
        .iter()
        .find(|o| {
            o["kind"] == "Deployment" && o["metadata"]["name"].as_str().unwrap_or_default().ends_with("-operator")
        })
        .expect("the operator Deployment");
    let args = operator["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--feature-gates=PrometheusShardRetentionPolicy=true"), "{args}");
}
