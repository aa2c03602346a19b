//! Thanos, end to end, on what stackgen renders: a 2-shard x 2-replica stack run on
//! loopback with Prometheus 3, the Thanos sidecar, Store Gateway, Query and Compactor,
//! every flag, environment variable and config file taken from the rendered objects
//! (tests/it/common/loopback.rs changes only ports, paths and cluster DNS names, through
//! `Cluster::to_loopback`).
//!
//! 1. History: `promtool tsdb create-blocks-from openmetrics` writes 52h of 2h blocks
//!    into each Prometheus pod's data volume (one series per pod; HA replicas sample 15s
//!    apart, as two scrapers do).
//! 2. The rendered Store Gateway reads the rendered S3 objstore.yml, credentials filled
//!    through the `$(OBJSTORE_*)` substitution from the Secret the stack names, against a
//!    fake S3 endpoint on loopback that checks the access key arrives.
//! 3. From then on a FILESYSTEM bucket stands in for S3 (`objstore_for_loopback`), still
//!    through the same substitution. Each pod runs Prometheus + sidecar; the sidecars
//!    upload every block with the rendered external labels (the replica label is the pod
//!    name); the Store Gateway serves the bucket; Query with the rendered args (its
//!    `--endpoint` DNS SRV names resolved to the running pods) deduplicates the replicas:
//!    one series per shard, both shards present, and four without dedup.
//! 4. The Compactor, run once with its rendered flags (only `--wait` dropped), compacts the
//!    replicas into one stream per shard (penalty dedup), downsamples the 48h block to 5m
//!    and exits 0.
//! 5. Raw data gone (Prometheus pods stopped, raw blocks deleted from the bucket): a range
//!    query to the rendered Query, without any resolution parameter, still answers from
//!    the 5m blocks (`--query.auto-downsampling`), as does Grafana's rendered datasource
//!    parameter; asking for raw data only returns nothing, so the answer came from the
//!    downsampled blocks.
//!
//! Between 3 and 5, every metric the rendered dashboard and alert rules read under a
//! Thanos job is on the `/metrics` of the running process behind it (sidecars, Store
//! Gateway and Query after the uploads and queries; the Compactor run as rendered, with
//! `--wait`, after an iteration).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::loopback::{enc, get_json, poll, serve, Cluster};
use crate::common::*;
use serde_json::{json, Value};

const STACK: &str = r#"
[stack]
name = "e2e"
[prometheus]
replicas = 2
external_labels = { cluster = "loopback" }
[storage]
backend = "class"
size = "10Gi"
[storage.class]
name = "standard"
[sharding]
shards = 2
[thanos]
[thanos.objstore]
type = "s3"
bucket = "thanos"
endpoint = "minio.minio.svc:9000"
insecure = true
credentials_secret = "thanos-objstore-credentials"
[grafana]
"#;

/// The Secret the stack names (users create it; stackgen never writes credentials).
const CREDENTIALS: &[(&str, &str)] = &[("access_key", "loopback-access-key"), ("secret_key", "loopback-secret-key")];

const HOUR: i64 = 3_600_000;
const METRIC: &str = "stackgen_e2e_value";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// OpenMetrics history of one pod: a gauge sampled every 60s over [from, to), the value
/// naming the shard; replica r samples 15s after replica 0, as two scrapers would.
fn history(shard: usize, replica: usize, from: i64, to: i64) -> String {
    let mut s = format!("# HELP {METRIC} A loopback series.\n# TYPE {METRIC} gauge\n");
    let mut t = from + replica as i64 * 15_000;
    while t < to {
        s.push_str(&format!("{METRIC}{{job=\"history\"}} {} {}.{:03}\n", 10 * (shard + 1), t / 1000, t % 1000));
        t += 60_000;
    }
    s.push_str("# EOF\n");
    s
}

/// A ULID (Crockford base32 of 48 bits of milliseconds and 80 bits of entropy).
fn ulid(ms: i64, entropy: &[u8]) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut v: u128 = (ms as u128) << 80;
    for (i, b) in entropy.iter().take(10).enumerate() {
        v |= u128::from(*b) << (72 - 8 * i);
    }
    (0..26).map(|i| ALPHABET[((v >> (5 * (25 - i))) & 31) as usize] as char).collect()
}

/// promtool names its blocks by the time it ran; Prometheus would have cut each of them
/// when it ended. Rename every block after its maxTime so the Compactor's consistency
/// delay (30m by default, by ULID time) sees history as history.
fn backdate_blocks(tsdb: &Path) -> usize {
    use md5::{Digest, Md5};
    let mut n = 0;
    for e in std::fs::read_dir(tsdb).unwrap().filter_map(Result::ok) {
        let meta_path = e.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta_path) else { continue };
        let mut meta: Value = serde_json::from_str(&text).unwrap();
        let old = meta["ulid"].as_str().unwrap().to_string();
        let new = ulid(meta["maxTime"].as_i64().unwrap(), &Md5::digest(format!("{}{old}", tsdb.display())));
        meta["ulid"] = json!(new);
        meta["compaction"]["sources"] = json!([new]);
        std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
        std::fs::rename(e.path(), tsdb.join(&new)).unwrap();
        n += 1;
    }
    n
}

/// The loopback stand-in for object storage: the rendered objstore.yml with `type`
/// FILESYSTEM and `config.directory` the local bucket. Every other rendered key stays,
/// `$(OBJSTORE_*)` placeholders included, so Thanos still substitutes them from the
/// container's environment (and fails on one the Secret does not fill); the FILESYSTEM
/// provider ignores keys it does not read.
fn objstore_for_loopback(rendered: &str, bucket: &Path) -> String {
    let mut cfg: Value = serde_saphyr::from_str(rendered).expect("rendered objstore.yml parses");
    assert!(cfg["config"].is_object(), "objstore.yml without config: {rendered}");
    cfg["type"] = json!("FILESYSTEM");
    cfg["config"]["directory"] = json!(bucket.display().to_string());
    stackgen::render::yaml::to_string(&cfg)
}

/// The rendered S3 objstore.yml with its endpoint on the loopback fake S3.
fn s3_endpoint_to_loopback(rendered: &str, endpoint: &str) -> String {
    let mut cfg: Value = serde_saphyr::from_str(rendered).expect("rendered objstore.yml parses");
    assert_eq!(cfg["type"], "S3", "the e2e stack renders S3");
    cfg["config"]["endpoint"] = json!(endpoint);
    stackgen::render::yaml::to_string(&cfg)
}

/// A fake S3 endpoint: an empty bucket for every list, the region for `?location`; it
/// records each request's Authorization header.
fn fake_s3() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let addr = serve(move |req| {
        s.lock().unwrap().push(format!("{} {} {}", req.method, req.target, req.header("authorization").unwrap_or("-")));
        let xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
        if req.target.contains("location") {
            return (
                200,
                "application/xml".into(),
                format!("<LocationConstraint xmlns=\"{xmlns}\">us-east-1</LocationConstraint>"),
            );
        }
        (
            200,
            "application/xml".into(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"{xmlns}\"><Name>thanos</Name>\
                 <Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>"
            ),
        )
    });
    (addr, seen)
}

/// Every block in the bucket: (ulid, meta.json). A meta.json still being written (the
/// sidecar uploads it last) counts as not there yet.
fn bucket_blocks(bucket: &Path) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(bucket).into_iter().flatten().filter_map(Result::ok) {
        let meta = std::fs::read_to_string(e.path().join("meta.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        if let Some(meta) = meta {
            m.insert(e.file_name().to_string_lossy().to_string(), meta);
        }
    }
    m
}

fn result(v: &Value) -> Vec<Value> {
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn labels_of(series: &Value) -> BTreeMap<String, String> {
    series["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

/// Query lists `sidecars` healthy sidecars and one healthy Store Gateway.
fn stores(q: &str, sidecars: usize) -> Option<()> {
    let v = get_json(q, "/api/v1/stores")?;
    let healthy =
        |kind: &str| v["data"][kind].as_array().map_or(0, |a| a.iter().filter(|s| s["lastError"].is_null()).count());
    (healthy("sidecar") == sidecars && healthy("store") == 1).then_some(())
}

#[test]
fn thanos_stack_runs_as_rendered() {
    let _real = crate::common::real_components_lock();
    let (Some(prometheus), Some(promtool), Some(thanos)) = (real("prometheus"), real("promtool"), real("thanos"))
    else {
        return;
    };
    let t0 = Instant::now();
    let stack = check_text("thanos-e2e.toml", STACK);
    let thanos_cfg = stack.thanos.as_ref().unwrap();
    let replica_label = thanos_cfg.replica_label.clone();
    let mut cluster = Cluster::new(docs(&stackgen::render_manifests(&stack)), &stack.kubernetes.cluster_domain)
        .with_secret("thanos-objstore-credentials", CREDENTIALS);
    let mut bins: Vec<(&str, &Path)> = vec![("prometheus/prometheus", &prometheus), ("thanos/thanos", &thanos)];
    // The config reloader beside Prometheus, when it is built (it plays no part here).
    let reloader = testbin_dir().join("prometheus-config-reloader");
    if reloader.is_file() {
        bins.push(("prometheus-operator/prometheus-config-reloader", &reloader));
    }
    let bins = &bins[..];

    let mut prom_pods = Vec::new();
    for (kind, name) in cluster.workloads(&[("app.kubernetes.io/name", "prometheus")]) {
        prom_pods.extend(cluster.add_pods(&kind, &name));
    }
    assert_eq!(prom_pods.len(), 4, "2 shards x 2 replicas: {prom_pods:?}");
    let one = |c: &Cluster, name: &str| {
        let w = c.workloads(&[("app.kubernetes.io/name", name)]);
        assert_eq!(w.len(), 1, "one {name} workload: {w:?}");
        w.into_iter().next().unwrap()
    };
    let (store_kind, store_name) = one(&cluster, "thanos-store");
    let store = cluster.add_pods(&store_kind, &store_name).remove(0);
    let (q_kind, q_name) = one(&cluster, "thanos-query");
    let query = cluster.add_pods(&q_kind, &q_name).remove(0); // one of its replicas is enough
    let (c_kind, c_name) = one(&cluster, "thanos-compactor");
    let compactor = cluster.add_pods(&c_kind, &c_name);
    assert_eq!(compactor.len(), 1, "exactly one compactor");
    let compactor = &compactor[0];

    // ---- 1. history in every Prometheus data volume ----------------------------------
    let w_end = (now_ms() - 5 * HOUR) / (48 * HOUR) * (48 * HOUR);
    let w0 = w_end - 48 * HOUR; // a whole 48h window: the Compactor makes one 48h block of it
    let to = w_end + 4 * HOUR; // two blocks past it, so the window counts as complete
    let block_duration = cluster
        .arg(&prom_pods[0], "prometheus", "--storage.tsdb.max-block-duration")
        .expect("Prometheus renders its block duration");
    let mut shard_of = BTreeMap::new();
    let mut jobs = Vec::new();
    for pod in &prom_pods {
        // <stack>-prometheus-shard-<s>-<r>
        let (sts, r) = pod.rsplit_once('-').unwrap();
        let s: usize = sts.rsplit_once('-').unwrap().1.parse().unwrap();
        shard_of.insert(pod.clone(), s.to_string());
        let tsdb = PathBuf::from(cluster.arg(pod, "prometheus", "--storage.tsdb.path").unwrap());
        let input = cluster.root().join(format!("{pod}.om"));
        std::fs::write(&input, history(s, r.parse().unwrap(), w0, to)).unwrap();
        let child = std::process::Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(format!("--max-block-duration={block_duration}"))
            .arg(&input)
            .arg(&tsdb)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        jobs.push((tsdb, child));
    }
    let mut expected_blocks = 0;
    for (tsdb, child) in jobs {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "promtool create-blocks-from: {}", String::from_utf8_lossy(&out.stderr));
        expected_blocks += backdate_blocks(&tsdb);
    }
    assert_eq!(expected_blocks, 4 * 26, "26 2h blocks per pod");
    eprintln!("history written: {:?}", t0.elapsed());

    // ---- 2. the rendered S3 config, credentials substituted, read by the Store Gateway ----
    let objstore_file = PathBuf::from(cluster.arg(&store, "thanos-store", "--objstore.config-file").unwrap());
    let rendered_objstore = std::fs::read_to_string(&objstore_file).unwrap();
    let (s3, s3_seen) = fake_s3();
    std::fs::write(&objstore_file, s3_endpoint_to_loopback(&rendered_objstore, &s3)).unwrap();
    cluster.start_pod(&store, bins);
    cluster.wait_ready(&store, "thanos-store", Duration::from_secs(60));
    let access_key = CREDENTIALS[0].1;
    let seen = s3_seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|r| r.contains(&format!("Credential={access_key}/"))),
        "the Store Gateway never listed the S3 bucket with the Secret's access key: {seen:#?}"
    );
    cluster.stop_pod(&store);
    std::fs::write(&objstore_file, &rendered_objstore).unwrap();

    // ---- 3. FILESYSTEM bucket; Prometheus + sidecar per pod; uploads; Store; Query -------
    let bucket = cluster.root().join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    for pod in prom_pods.iter().chain([&store, compactor]) {
        for c in cluster.containers(pod) {
            if let Some(f) = cluster.arg(pod, &c, "--objstore.config-file") {
                let f = PathBuf::from(f);
                let rendered = std::fs::read_to_string(&f).unwrap();
                assert_eq!(rendered, rendered_objstore, "{pod}/{c} reads the same objstore.yml");
                std::fs::write(&f, objstore_for_loopback(&rendered, &bucket)).unwrap();
            }
        }
    }
    let mut started = BTreeMap::new();
    for pod in &prom_pods {
        let s = cluster.start_pod(pod, bins);
        for c in ["prometheus", "thanos-sidecar"] {
            assert!(s.iter().any(|x| x == c), "{pod}: {c} not started: {s:?}");
        }
        started.insert(pod.clone(), s);
    }
    for (pod, containers) in &started {
        for c in containers {
            cluster.wait_ready(pod, c, Duration::from_secs(60));
        }
    }
    let uploaded = poll(
        Duration::from_secs(90),
        "the sidecars to upload every block",
        || {
            let b = bucket_blocks(&bucket);
            (b.len() >= expected_blocks).then_some(b)
        },
        || {
            format!(
                "{} of {expected_blocks} blocks\n{}",
                bucket_blocks(&bucket).len(),
                cluster.explain(&prom_pods[0], "thanos-sidecar")
            )
        },
    );
    eprintln!("uploaded: {:?}", t0.elapsed());
    cluster.start_pod(&store, bins);
    cluster.wait_ready(&store, "thanos-store", Duration::from_secs(60));
    cluster.start_pod(&query, bins);
    cluster.wait_ready(&query, "thanos-query", Duration::from_secs(60));
    let q = cluster.addr(&query, "http");
    poll(
        Duration::from_secs(60),
        "Query to see 4 sidecars and the Store Gateway",
        || stores(&q, 4),
        || format!("{:?}\n{}", get_json(&q, "/api/v1/stores"), cluster.explain(&query, "thanos-query")),
    );
    let at = (w0 + 20 * HOUR) / 1000;
    let instant = |dedup: bool| {
        result(
            &get_json(&q, &format!("/api/v1/query?query={METRIC}&time={at}&dedup={dedup}"))
                .expect("Query answers an instant query"),
        )
    };
    let deduped = instant(true);
    let shards: BTreeSet<String> = deduped.iter().map(|s| labels_of(s)["shard"].clone()).collect();
    assert_eq!(
        deduped.len(),
        2,
        "with dedup, one series per shard (replica label {replica_label} removed): {deduped:#?}"
    );
    assert_eq!(shards, BTreeSet::from(["0".to_string(), "1".to_string()]), "both shards: {deduped:#?}");
    for s in &deduped {
        let l = labels_of(s);
        assert!(!l.contains_key(&replica_label), "deduplicated series keep {replica_label}: {l:?}");
        let want = 10 * (l["shard"].parse::<usize>().unwrap() + 1);
        assert_eq!(s["value"][1], want.to_string(), "shard {} answers its own data", l["shard"]);
    }
    let all = instant(false);
    let replicas: BTreeSet<String> = all.iter().map(|s| labels_of(s)[&replica_label].clone()).collect();
    assert_eq!(all.len(), 4, "without dedup, every pod's series: {all:#?}");
    assert_eq!(replicas, prom_pods.iter().cloned().collect(), "one series per pod");
    // Each block carries its pod's external labels: the replica label is the pod name.
    let mut streams = BTreeSet::new();
    for meta in uploaded.values() {
        let l = &meta["thanos"]["labels"];
        assert_eq!(meta["thanos"]["source"], "sidecar");
        let pod = l[&replica_label].as_str().unwrap_or_else(|| panic!("no {replica_label} in {l}"));
        assert!(prom_pods.iter().any(|p| p == pod), "{replica_label}={pod} is not a pod name");
        assert_eq!(l["shard"].as_str(), Some(shard_of[pod].as_str()), "{pod}: {l}");
        assert_eq!(l["cluster"], "loopback");
        streams.insert(pod.to_string());
    }
    assert_eq!(streams.len(), 4, "blocks from every pod: {streams:?}");
    eprintln!("queried: {:?}", t0.elapsed());

    // The metrics the rendered dashboard and alert rules read under each Thanos job are
    // exported by the running process behind it (after uploads and queries).
    let wanted = crate::common::metrics::read_by_job(&docs(&stackgen::render_manifests(&stack)));
    for job in ["thanos-sidecar", "thanos-store", "thanos-query", "thanos-compactor"] {
        assert!(wanted.get(job).is_some_and(|m| !m.is_empty()), "the render reads no metric of {job}: {wanted:#?}");
    }
    let mut missing = Vec::new();
    let mut processes: Vec<(&str, &str)> = prom_pods.iter().map(|p| ("thanos-sidecar", p.as_str())).collect();
    processes.extend([("thanos-store", store.as_str()), ("thanos-query", query.as_str())]);
    for (job, pod) in processes {
        let addr = cluster.addr(pod, "http");
        missing.extend(
            crate::common::metrics::missing(job, &wanted, &addr).into_iter().map(|m| format!("{job} ({pod}): {m}")),
        );
    }
    assert!(
        missing.is_empty(),
        "read by the dashboard or the alert rules, exported by no process:\n{}",
        missing.join("\n")
    );

    // ---- 4. the Compactor, once --------------------------------------------------------
    let (ok, log) = cluster.run_to_completion(
        compactor,
        "thanos-compactor",
        &thanos,
        // Run once instead of every --wait-interval: the only change to its rendered args.
        |args| args.retain(|a| a != "--wait"),
        Duration::from_secs(180),
    );
    assert!(ok, "the Compactor failed:\n{log}");
    assert!(!log.to_lowercase().contains("halt"), "the Compactor halted:\n{log}");
    eprintln!("compacted: {:?}", t0.elapsed());
    let after = bucket_blocks(&bucket);
    let five_m: Vec<&Value> = after.values().filter(|m| m["thanos"]["downsample"]["resolution"] == 300_000).collect();
    let five_m_shards: BTreeSet<String> =
        five_m.iter().map(|m| m["thanos"]["labels"]["shard"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        five_m.len(),
        2,
        "one 5m block per shard (the replicas compacted into one stream):\n{:#?}\n{log}",
        five_m.iter().map(|m| &m["thanos"]).collect::<Vec<_>>()
    );
    assert_eq!(five_m_shards.len(), 2);
    for m in &five_m {
        assert!(m["thanos"]["labels"].get(&replica_label).is_none(), "a deduplicated block keeps {replica_label}: {m}");
        let span = m["maxTime"].as_i64().unwrap() - m["minTime"].as_i64().unwrap();
        assert!(span >= 40 * HOUR, "the 5m block spans {}h", span / HOUR);
    }

    // The 48h raw block of each shard holds one replica's samples, not both interleaved:
    // penalty dedup (`--deduplication.func=penalty`) picks a replica per span, where the
    // default one-to-one merge keeps every sample of both (15s apart).
    let one_replica_samples = 48 * 60;
    let raw_48h: Vec<&Value> = after
        .values()
        .filter(|m| {
            m["thanos"]["downsample"]["resolution"] == 0
                && m["maxTime"].as_i64().unwrap() - m["minTime"].as_i64().unwrap() >= 40 * HOUR
        })
        .collect();
    assert_eq!(raw_48h.len(), 2, "one compacted 48h raw block per shard");
    for m in raw_48h {
        let n = m["stats"]["numSamples"].as_i64().unwrap();
        assert!(
            n <= one_replica_samples * 5 / 4,
            "the compacted raw block of shard {} holds {n} samples for {one_replica_samples} scrapes of \
             one replica: the replicas were merged sample by sample, not deduplicated",
            m["thanos"]["labels"]["shard"]
        );
    }

    // The Compactor as rendered (with `--wait`) exports what is read under its job once
    // it has run an iteration; then it is stopped before the raw data goes.
    cluster.start_pod(compactor, bins);
    let caddr = cluster.addr(compactor, "http");
    poll(
        Duration::from_secs(90),
        "the rendered Compactor to export every metric the render reads under thanos-compactor",
        || {
            let have = crate::common::metrics::exported(&caddr)?;
            wanted["thanos-compactor"].iter().all(|m| have.contains(m)).then_some(())
        },
        || {
            let have = crate::common::metrics::exported(&caddr).unwrap_or_default();
            let gone: Vec<&String> = wanted["thanos-compactor"].iter().filter(|m| !have.contains(*m)).collect();
            format!("missing: {gone:?}\n{}", cluster.log(compactor, "thanos-compactor"))
        },
    );
    cluster.stop_pod(compactor);

    // ---- 5. raw data gone: only the downsampled blocks answer ---------------------------
    for pod in &prom_pods {
        cluster.stop_pod(pod);
    }
    cluster.stop_pod(&store);
    cluster.stop_pod(&query);
    for (id, m) in &after {
        if m["thanos"]["downsample"]["resolution"] == 0 {
            std::fs::remove_dir_all(bucket.join(id)).unwrap();
        }
    }
    cluster.start_pod(&store, bins);
    cluster.wait_ready(&store, "thanos-store", Duration::from_secs(60));
    cluster.start_pod(&query, bins); // its sidecar SRV name now resolves to no pod
    cluster.wait_ready(&query, "thanos-query", Duration::from_secs(60));
    let q = cluster.addr(&query, "http");
    poll(
        Duration::from_secs(60),
        "Query to see the Store Gateway alone",
        || stores(&q, 0),
        || format!("{:?}\n{}", get_json(&q, "/api/v1/stores"), cluster.explain(&query, "thanos-query")),
    );
    let range = |extra: &str| {
        let path = format!(
            "/api/v1/query_range?query={}&start={}&end={}&step=3600{extra}",
            enc(METRIC),
            (w0 + HOUR) / 1000,
            (w_end - HOUR) / 1000
        );
        result(&get_json(&q, &path).expect("Query answers a range query"))
    };
    let check_downsampled = |series: Vec<Value>, what: &str| {
        assert_eq!(series.len(), 2, "{what}: one series per shard from the 5m blocks: {series:#?}");
        for s in &series {
            let points = s["values"].as_array().unwrap().len();
            assert!(points >= 40, "{what}: only {points} hourly points over 46h");
        }
    };
    // No resolution parameter: --query.auto-downsampling picks step/5 (12m), so 5m data.
    check_downsampled(range(""), "a range query with Query's defaults");
    // What the rendered Grafana datasource adds to every query.
    let ds_cm = cluster.workloads(&[("app.kubernetes.io/name", "grafana")]);
    assert_eq!(ds_cm.len(), 1, "the stack renders Grafana");
    let datasources = cluster
        .docs()
        .iter()
        .filter(|d| d["kind"] == "ConfigMap")
        .find_map(|d| d["data"]["datasources.yaml"].as_str())
        .expect("Grafana datasource provisioning");
    let ds: Value = serde_saphyr::from_str(datasources).unwrap();
    let params = ds["datasources"][0]["jsonData"]["customQueryParameters"].as_str().expect("customQueryParameters");
    check_downsampled(range(&format!("&{params}")), "Grafana's datasource parameters");
    // Raw only: nothing, so the answers above came from the downsampled blocks alone.
    let raw = range("&max_source_resolution=0s");
    assert!(raw.is_empty(), "raw data should be gone from the bucket: {raw:#?}");
    eprintln!("downsampled data served: {:?}", t0.elapsed());
}
