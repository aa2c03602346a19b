//! `stackgen migrate`: a runbook (a POSIX shell script) that moves an existing TSDB into
//! the volume of one Prometheus pod of the stack.
//!
//! Every name, path and number in the runbook is read from the objects stackgen renders
//! for the stack (the pre-bound PersistentVolume, the StatefulSet, its securityContext
//! and data mount; in helm-values mode the operator's names and the companion PVs), so
//! the runbook and the render cannot disagree. The script is deterministic (same stack
//! and flags, same bytes), runs under `set -eu`, and every phase is safe to run again.

use std::fmt::Write as _;

use serde_json::Value;

use crate::model::Stack;

/// Which render the runbook moves data into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// stackgen's own manifests.
    Manifests,
    /// The kube-prometheus-stack chart with stackgen's values and companions.
    HelmValues,
}

/// What `stackgen migrate` was asked.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The stack file as the user named it (for the `stackgen render` line).
    pub stack_path: &'a str,
    /// `HOST:PATH` of the old TSDB (the directory holding `wal/` and the blocks), or a
    /// local path.
    pub from: &'a str,
    pub shard: u16,
    pub replica: u32,
    /// rsync's `--bwlimit` (`200M`).
    pub bwlimit: &'a str,
    pub target: Target,
}

/// Why no runbook can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrateError {
    /// `--shard` or `--replica` outside the stack.
    NoSuchPod(String),
    /// The stack keeps its TSDB in emptyDir: nothing survives a restart, nothing to migrate into.
    Ephemeral,
    /// `--from` or `--bwlimit` is not usable in a shell script.
    BadArgument(String),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::NoSuchPod(s) | MigrateError::BadArgument(s) => f.write_str(s),
            MigrateError::Ephemeral => f.write_str(
                "the stack keeps its TSDB in emptyDir ([storage] backend = \"ephemeral\"): there is no volume to move a TSDB into",
            ),
        }
    }
}

/// Where the data goes: read from the rendered PersistentVolume, or none for a class
/// that provisions volumes on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Volume {
    Local {
        path: String,
        node: String,
    },
    Nfs {
        server: String,
        path: String,
    },
    Iscsi {
        portal: String,
        iqn: String,
        lun: i64,
        fs_type: String,
    },
    /// A provisioner makes the volume when the claim appears.
    Dynamic {
        class: String,
        size: String,
    },
}

/// The facts of one pod, from the render.
#[derive(Debug, Clone)]
struct Pod {
    namespace: String,
    statefulset: String,
    pod: String,
    claim: String,
    pv: Option<String>,
    volume: Volume,
    uid: i64,
    gid: i64,
    /// The data volume's subPath that holds the TSDB (`prometheus-db`).
    sub_path: String,
    /// The image of the Prometheus container (the helper pod of dynamic volumes uses it).
    image: String,
    /// The external labels the pod's Prometheus carries (for `upload`).
    labels: Vec<(String, String)>,
    /// The Thanos objstore Secret and key, when the stack has Thanos.
    objstore: Option<(String, String)>,
    /// The replica label (dropped for upload: blocks of all replicas are deduplicated by it).
    replica_label: String,
}

/// Characters a value may have to be written between single quotes without escaping
/// surprises, and without looking like an option.
fn shell_safe(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:@+=,%~".contains(c))
}

fn q(s: &str) -> String {
    format!("'{s}'")
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// The PersistentVolume pre-bound to `claim`, if the render has one.
fn volume_of(pvs: &[&Value], claim: &str) -> Option<(String, Volume)> {
    let pv = pvs.iter().find(|pv| str_at(pv, "/spec/claimRef/name") == Some(claim))?;
    let name = str_at(pv, "/metadata/name")?.to_string();
    let spec = &pv["spec"];
    let vol = if let Some(path) = str_at(spec, "/local/path") {
        let node = str_at(spec, "/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/0/values/0")
            .unwrap_or_default()
            .to_string();
        Volume::Local { path: path.to_string(), node }
    } else if let Some(server) = str_at(spec, "/nfs/server") {
        Volume::Nfs { server: server.to_string(), path: str_at(spec, "/nfs/path").unwrap_or("/").to_string() }
    } else if let Some(portal) = str_at(spec, "/iscsi/targetPortal") {
        Volume::Iscsi {
            portal: portal.to_string(),
            iqn: str_at(spec, "/iscsi/iqn").unwrap_or_default().to_string(),
            lun: spec.pointer("/iscsi/lun").and_then(Value::as_i64).unwrap_or(0),
            fs_type: str_at(spec, "/iscsi/fsType").unwrap_or("ext4").to_string(),
        }
    } else {
        return None;
    };
    Some((name, vol))
}

fn pod_from_manifests(stack: &Stack, req: &Request<'_>) -> Result<Pod, MigrateError> {
    let objs = crate::render::render(stack);
    let shard = req.shard.to_string();
    let sts = objs
        .iter()
        .filter(|o| o.kind == "StatefulSet")
        .map(|o| &o.value)
        .find(|v| {
            str_at(v, "/metadata/labels/app.kubernetes.io~1name") == Some("prometheus")
                && str_at(v, "/metadata/labels/stackgen.dev~1shard") == Some(shard.as_str())
        })
        .ok_or_else(|| MigrateError::NoSuchPod(format!("the stack has no Prometheus shard {shard}")))?;
    let sts_name = str_at(sts, "/metadata/name").unwrap_or_default().to_string();
    let template = str_at(sts, "/spec/volumeClaimTemplates/0/metadata/name").ok_or(MigrateError::Ephemeral)?;
    let claim = format!("{template}-{sts_name}-{}", req.replica);
    let pod_spec = &sts["spec"]["template"]["spec"];
    let prom = pod_spec["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "prometheus"))
        .cloned()
        .unwrap_or(Value::Null);
    let sub_path = prom["volumeMounts"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == template))
        .and_then(|m| m["subPath"].as_str())
        .unwrap_or("")
        .to_string();
    let pvs: Vec<&Value> = objs.iter().filter(|o| o.kind == "PersistentVolume").map(|o| &o.value).collect();
    let (pv, volume) = match volume_of(&pvs, &claim) {
        Some((n, v)) => (Some(n), v),
        None => (
            None,
            Volume::Dynamic {
                class: str_at(sts, "/spec/volumeClaimTemplates/0/spec/storageClassName").unwrap_or("").to_string(),
                size: str_at(sts, "/spec/volumeClaimTemplates/0/spec/resources/requests/storage")
                    .unwrap_or("")
                    .to_string(),
            },
        ),
    };
    let objstore = stack.thanos.as_ref().map(|_| {
        let secret = objs
            .iter()
            .find(|o| o.kind == "Secret" && o.name.ends_with("-objstore"))
            .map(|o| o.name.clone())
            .unwrap_or_default();
        (secret, "objstore.yml".to_string())
    });
    Ok(Pod {
        namespace: stack.namespace.to_string(),
        pod: format!("{sts_name}-{}", req.replica),
        statefulset: sts_name,
        claim,
        pv,
        volume,
        uid: pod_spec.pointer("/securityContext/runAsUser").and_then(Value::as_i64).unwrap_or(0),
        gid: pod_spec.pointer("/securityContext/fsGroup").and_then(Value::as_i64).unwrap_or(0),
        sub_path,
        image: prom["image"].as_str().unwrap_or_default().to_string(),
        labels: external_labels(stack, req.shard),
        objstore,
        replica_label: stack.replica_label().to_string(),
    })
}

/// The external labels of a shard's Prometheus without the replica label: what its
/// sidecar stamps on the blocks it uploads (the replica label is per pod; uploaded old
/// blocks carry none, and the compactor and Query deduplicate by it).
fn external_labels(stack: &Stack, shard: u16) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> =
        stack.prometheus.external_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if stack.sharding.kept() > 1 {
        l.push(("shard".into(), shard.to_string()));
    }
    l.sort();
    l
}

/// The chart's world of a stack: the operator's names for its Prometheus resource, the
/// claim template's name, class and size, and the companion PersistentVolumes. `None`
/// when the values have no claim template (emptyDir).
struct ChartWorld {
    chart: crate::diff::helm::Chart,
    template: String,
    class: String,
    size: String,
    pvs: Vec<Value>,
}

impl ChartWorld {
    fn of(stack: &Stack) -> Option<ChartWorld> {
        let values = crate::render::helm::values(stack);
        let chart = crate::diff::helm::Chart::from_values(&values, stack.name.as_str(), stack.namespace.as_str());
        let t = values.pointer("/prometheus/prometheusSpec/storageSpec/volumeClaimTemplate")?;
        let at = |p: &str| t.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let template = t
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("prometheus-{}-db", chart.cr), str::to_string);
        Some(ChartWorld {
            template,
            class: at("/spec/storageClassName"),
            size: at("/spec/resources/requests/storage"),
            pvs: crate::render::helm::companion_objects(stack)
                .into_iter()
                .filter(|o| o.kind == "PersistentVolume")
                .map(|o| o.value)
                .collect(),
            chart,
        })
    }
}

fn pod_from_helm(stack: &Stack, req: &Request<'_>) -> Result<Pod, MigrateError> {
    let world = ChartWorld::of(stack).ok_or(MigrateError::Ephemeral)?;
    let chart = &world.chart;
    let sts = chart.statefulset(u64::from(req.shard));
    let claim = chart.claim(&world.template, u64::from(req.shard), u64::from(req.replica));
    let pvs: Vec<&Value> = world.pvs.iter().collect();
    let (pv, volume) = match volume_of(&pvs, &claim) {
        Some((n, v)) => (Some(n), v),
        None => (None, Volume::Dynamic { class: world.class.clone(), size: world.size.clone() }),
    };
    let image = stack.prometheus.image.reference();
    Ok(Pod {
        namespace: chart.namespace.clone(),
        pod: format!("{sts}-{}", req.replica),
        statefulset: sts,
        claim,
        pv,
        volume,
        // The chart's securityContext is the stack's (render::helm::values writes it).
        uid: stack.prometheus.run_as_user,
        gid: stack.prometheus.fs_group,
        // The operator mounts the data volume with subPath `prometheus-db` at /prometheus.
        sub_path: "prometheus-db".into(),
        image,
        labels: external_labels(stack, req.shard),
        objstore: stack.thanos.as_ref().map(|t| {
            (
                t.objstore.credentials_secret.clone().unwrap_or_else(|| format!("{}-objstore", stack.name)),
                "objstore.yml".into(),
            )
        }),
        replica_label: stack.replica_label().to_string(),
    })
}

/// The runbook for `req`, or why there is none.
pub fn runbook(stack: &Stack, req: &Request<'_>) -> Result<String, MigrateError> {
    let shards = stack.sharding.shards;
    if req.shard >= shards {
        return Err(MigrateError::NoSuchPod(format!(
            "--shard {} is not a shard of the stack: shards are 0..{}",
            req.shard,
            shards - 1
        )));
    }
    if req.replica >= stack.prometheus.replicas {
        return Err(MigrateError::NoSuchPod(format!(
            "--replica {} is not a replica of the stack: replicas are 0..{}",
            req.replica,
            stack.prometheus.replicas - 1
        )));
    }
    if matches!(stack.storage.backend, crate::model::Backend::Ephemeral) {
        return Err(MigrateError::Ephemeral);
    }
    if !shell_safe(req.from) || !req.from.contains('/') {
        return Err(MigrateError::BadArgument(format!(
            "--from `{}` must be HOST:PATH or a local path (letters, digits and / . _ - : @ + = , % ~ only)",
            crate::diagnostic::render::clean(req.from)
        )));
    }
    if !req.bwlimit.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') || req.bwlimit.is_empty() {
        return Err(MigrateError::BadArgument(format!(
            "--bwlimit `{}` is not an rsync rate such as 200M or 50000",
            crate::diagnostic::render::clean(req.bwlimit)
        )));
    }
    if !shell_safe(req.stack_path) {
        return Err(MigrateError::BadArgument(
            "the stack path has characters a runbook cannot quote safely; name a plain path".into(),
        ));
    }
    let pod = match req.target {
        Target::Manifests => pod_from_manifests(stack, req)?,
        Target::HelmValues => pod_from_helm(stack, req)?,
    };
    Ok(script(stack, req, &pod))
}

fn script(stack: &Stack, req: &Request<'_>, p: &Pod) -> String {
    let mut s = String::new();
    let helm = req.target == Target::HelmValues;
    let w = &mut s;
    let from_host = req.from.split_once(':').filter(|(h, _)| !h.contains('/')).map(|(h, _)| h);
    let render = if helm {
        format!("stackgen render {} --format helm-values -o \"$RENDER\"", req.stack_path)
    } else {
        format!("stackgen render {} -o \"$RENDER\"", req.stack_path)
    };
    let _ = writeln!(w, "#!/bin/sh");
    let _ = writeln!(
        w,
        "# Generated by stackgen migrate: move an existing Prometheus TSDB into pod {} of stack {}",
        p.pod, stack.name
    );
    let _ = writeln!(
        w,
        "# (namespace {}, shard {}, replica {}, {}).",
        p.namespace,
        req.shard,
        req.replica,
        if helm { "kube-prometheus-stack chart and the Prometheus Operator" } else { "stackgen manifests" }
    );
    let _ = writeln!(w, "#");
    let _ = writeln!(w, "# Run the phases in order; each is safe to run again:");
    let _ = writeln!(
        w,
        "#   sh migrate.sh prepare    create the volume and claim first, this shard's StatefulSet scaled to zero"
    );
    let _ = writeln!(
        w,
        "#   sh migrate.sh copy       initial copy while the old Prometheus still runs (repeat to catch up)"
    );
    let _ = writeln!(w, "#   (stop the old Prometheus)");
    if stack.prometheus.replicas > 1 {
        let _ = writeln!(
            w,
            "#   (with {} replicas, run prepare..final for each: stackgen migrate --replica 0..{}, then one cutover)",
            stack.prometheus.replicas,
            stack.prometheus.replicas - 1
        );
    }
    let _ = writeln!(
        w,
        "#   sh migrate.sh final      last copy of the stopped TSDB, then chown to the pod's user and group"
    );
    let _ = writeln!(w, "#   sh migrate.sh cutover    apply the whole render and wait for the pod");
    let _ = writeln!(
        w,
        "#   sh migrate.sh verify     the oldest sample the new Prometheus serves is the old TSDB's oldest"
    );
    let _ = writeln!(w, "#   sh migrate.sh rollback   stop the new pod; the copied data stays on the volume");
    if p.objstore.is_some() {
        let _ = writeln!(w, "#   sh migrate.sh upload     instead of copy/final: upload the old blocks to the bucket");
    }
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# Prometheus deletes blocks older than the stack's retention ({}) on its first start.",
        stack.prometheus.retention
    );
    let _ = writeln!(w, "set -eu\n");
    let _ = writeln!(w, "# The old TSDB: the directory that holds wal/ and the block directories.");
    let _ = writeln!(w, "SRC=${{SRC:-{}}}", q(req.from));
    let _ = writeln!(w, "BWLIMIT=${{BWLIMIT:-{}}}", q(req.bwlimit));
    let _ = writeln!(w, "RENDER=${{RENDER:-./stackgen-render}}");
    let _ = writeln!(w, "NS={}", q(&p.namespace));
    let _ = writeln!(w, "STS={}", q(&p.statefulset));
    let _ = writeln!(w, "POD={}", q(&p.pod));
    let _ = writeln!(w, "CLAIM={}", q(&p.claim));
    if let Some(pv) = &p.pv {
        let _ = writeln!(w, "PV={}", q(pv));
    }
    let _ = writeln!(w, "# The pod's securityContext: runAsUser and fsGroup own every file of the TSDB.");
    let _ = writeln!(w, "OWNER={}:{}", p.uid, p.gid);
    match &p.volume {
        Volume::Local { path, node } => {
            let _ = writeln!(w, "# Run prepare..final on node {node}: the local volume is {path} there.");
            let _ = writeln!(w, "DEST=${{DEST:-{}}}", q(&format!("{path}/{}", p.sub_path)));
        }
        Volume::Nfs { server, path } => {
            let _ = writeln!(w, "# Run copy and final on a host that can mount the export {server}:{path}.");
            let _ = writeln!(w, "MOUNT=${{MOUNT:-/mnt/stackgen-migrate}}");
            let _ = writeln!(w, "EXPORT={}", q(&format!("{server}:{path}")));
            let _ = writeln!(w, "DEST=${{DEST:-$MOUNT/{}}}", p.sub_path);
        }
        Volume::Iscsi { portal, iqn, lun, .. } => {
            let _ = writeln!(w, "# Run copy and final on a host with iscsiadm that can reach {portal}.");
            let _ = writeln!(w, "MOUNT=${{MOUNT:-/mnt/stackgen-migrate}}");
            let _ = writeln!(w, "DEVICE=${{DEVICE:-/dev/disk/by-path/ip-{portal}-iscsi-{iqn}-lun-{lun}}}");
            let _ = writeln!(w, "DEST=${{DEST:-$MOUNT/{}}}", p.sub_path);
        }
        Volume::Dynamic { .. } => {
            let _ = writeln!(w, "# The class provisions the volume for the claim; the copy goes through a helper pod.");
            let _ = writeln!(w, "HELPER=${{HELPER:-stackgen-migrate-{}}}", p.pod);
            let _ = writeln!(w, "DEST=/data/{}", p.sub_path);
        }
    }
    let _ = writeln!(w, "PROM_URL=${{PROM_URL:-}}\n");
    let _ = writeln!(w, "step() {{ printf '\\n== %s\\n' \"$*\"; }}");
    let _ = writeln!(w, "die() {{ printf 'error: %s\\n' \"$*\" >&2; exit 1; }}\n");

    // Helpers per volume kind.
    match &p.volume {
        Volume::Nfs { .. } => {
            let _ = writeln!(w, "mount_volume() {{");
            let _ = writeln!(w, "  mkdir -p \"$MOUNT\"");
            let _ = writeln!(w, "  mountpoint -q \"$MOUNT\" || mount -t nfs \"$EXPORT\" \"$MOUNT\"");
            let _ = writeln!(w, "}}\n");
        }
        Volume::Iscsi { portal, iqn, fs_type, .. } => {
            let _ = writeln!(w, "mount_volume() {{");
            let _ = writeln!(
                w,
                "  iscsiadm -m session 2>/dev/null | grep -q {} || iscsiadm -m node -T {} -p {} --login",
                q(iqn),
                q(iqn),
                q(portal)
            );
            let _ = writeln!(w, "  # kubelet formats an empty LUN on first use; format it the same way now.");
            let _ = writeln!(w, "  blkid \"$DEVICE\" >/dev/null 2>&1 || mkfs.{fs_type} \"$DEVICE\"");
            let _ = writeln!(w, "  mkdir -p \"$MOUNT\"");
            let _ = writeln!(w, "  mountpoint -q \"$MOUNT\" || mount \"$DEVICE\" \"$MOUNT\"");
            let _ = writeln!(w, "}}\n");
            let _ = writeln!(
                w,
                "# The LUN must not be mounted here when the pod starts (an iSCSI volume is ReadWriteOnce)."
            );
            let _ = writeln!(w, "unmount_volume() {{");
            let _ = writeln!(w, "  ! mountpoint -q \"$MOUNT\" || umount \"$MOUNT\"");
            let _ = writeln!(w, "  iscsiadm -m node -T {} -p {} --logout 2>/dev/null || true", q(iqn), q(portal));
            let _ = writeln!(w, "}}\n");
        }
        _ => {}
    }
    let sync = |w: &mut String, delete: bool| {
        let del = if delete { " --delete" } else { "" };
        match &p.volume {
            Volume::Dynamic { .. } => {
                let source = match from_host {
                    Some(h) => format!("ssh {h} tar -C \"${{SRC#*:}}\" --exclude=./lock -cf - ."),
                    None => "tar -C \"$SRC\" --exclude=./lock -cf - .".to_string(),
                };
                let _ = writeln!(w, "  # No rsync in the pod: a tar stream (no bandwidth limit; the final copy sends everything again).");
                if delete {
                    let _ = writeln!(
                        w,
                        "  kubectl -n \"$NS\" exec \"$HELPER\" -- sh -c \"rm -rf '$DEST' && mkdir -p '$DEST'\""
                    );
                } else {
                    let _ = writeln!(w, "  kubectl -n \"$NS\" exec \"$HELPER\" -- mkdir -p \"$DEST\"");
                }
                let _ = writeln!(w, "  {source} | kubectl -n \"$NS\" exec -i \"$HELPER\" -- tar -C \"$DEST\" -xf -");
            }
            _ => {
                if !matches!(p.volume, Volume::Local { .. }) {
                    let _ = writeln!(w, "  mount_volume");
                }
                let _ = writeln!(w, "  mkdir -p \"$DEST\"");
                let _ = writeln!(
                    w,
                    "  rsync -a --numeric-ids{del} --bwlimit=\"$BWLIMIT\" --exclude=/lock \"${{SRC%/}}/\" \"$DEST/\""
                );
            }
        }
    };

    let _ = writeln!(w, "prepare() {{");
    let _ = writeln!(w, "  step \"render the stack into $RENDER\"");
    let _ = writeln!(w, "  {render}");
    match &p.pv {
        Some(_) => {
            let _ = writeln!(w, "  step \"create the namespace and the volume $PV, pre-bound to claim $CLAIM\"");
            let _ = writeln!(w, "  for f in \"$RENDER\"/namespace-*.yaml \"$RENDER\"/storageclass-*.yaml; do");
            let _ = writeln!(w, "    [ ! -e \"$f\" ] || kubectl apply -f \"$f\"");
            let _ = writeln!(w, "  done");
            if helm {
                let _ = writeln!(w, "  kubectl apply -f \"$RENDER/manifests.yaml\"");
            } else {
                let _ = writeln!(w, "  kubectl apply -f \"$RENDER/persistentvolume-$PV.yaml\"");
            }
            let _ =
                writeln!(w, "  policy=$(kubectl get pv \"$PV\" -o jsonpath='{{.spec.persistentVolumeReclaimPolicy}}')");
            let _ = writeln!(w, "  [ \"$policy\" = Retain ] || die \"volume $PV has reclaim policy $policy; set [storage] reclaim_policy = \\\"Retain\\\" so a deleted claim never deletes the data\"");
            let _ =
                writeln!(w, "  # A volume Released by an earlier claim binds again only without the old claim's uid.");
            let _ = writeln!(w, "  phase=$(kubectl get pv \"$PV\" -o jsonpath='{{.status.phase}}')");
            let _ = writeln!(w, "  if [ \"$phase\" = Released ]; then");
            let _ = writeln!(w, "    kubectl patch pv \"$PV\" --type json -p '[{{\"op\":\"remove\",\"path\":\"/spec/claimRef/uid\"}},{{\"op\":\"remove\",\"path\":\"/spec/claimRef/resourceVersion\"}}]'");
            let _ = writeln!(w, "  fi");
        }
        None => {
            let (class, size) = match &p.volume {
                Volume::Dynamic { class, size } => (class.as_str(), size.as_str()),
                _ => ("", ""),
            };
            let _ = writeln!(w, "  step \"create claim $CLAIM ({size} of class {class}) before its StatefulSet: the StatefulSet adopts a claim of that name\"");
            let _ = writeln!(w, "  kubectl get namespace \"$NS\" >/dev/null 2>&1 || kubectl create namespace \"$NS\"");
            let _ = writeln!(w, "  kubectl -n \"$NS\" apply -f - <<EOF");
            let _ = writeln!(w, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: $CLAIM\n  namespace: $NS\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: {class}\n  resources:\n    requests:\n      storage: {size}\nEOF");
            let _ = writeln!(w, "  step \"a helper pod that mounts the claim as the pod's user ($OWNER)\"");
            let _ = writeln!(w, "  kubectl -n \"$NS\" apply -f - <<EOF");
            let _ = writeln!(
                w,
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: $HELPER\n  namespace: $NS\nspec:\n  restartPolicy: Never\n  securityContext:\n    runAsUser: {uid}\n    runAsGroup: {gid}\n    fsGroup: {gid}\n    runAsNonRoot: true\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: copy\n    image: {image}\n    command: [/bin/sh, -c, 'sleep 86400']\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities:\n        drop: [ALL]\n    volumeMounts:\n    - name: data\n      mountPath: /data\n  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: $CLAIM\nEOF",
                uid = p.uid,
                gid = p.gid,
                image = p.image,
            );
            let _ = writeln!(w, "  kubectl -n \"$NS\" wait --for=condition=Ready \"pod/$HELPER\" --timeout=5m");
        }
    }
    let _ = writeln!(w, "  step \"shard StatefulSet $STS at zero pods until the data is in place\"");
    let _ = writeln!(w, "  if kubectl -n \"$NS\" get statefulset \"$STS\" >/dev/null 2>&1; then");
    let _ = writeln!(w, "    kubectl -n \"$NS\" scale statefulset \"$STS\" --replicas=0");
    let _ = writeln!(w, "  fi");
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "copy() {{");
    let _ = writeln!(w, "  step \"copy $SRC to $DEST (the old Prometheus may still run; run again to catch up)\"");
    sync(w, false);
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "final() {{");
    let _ =
        writeln!(w, "  step \"final copy of the stopped TSDB (--delete: the destination becomes exactly the source)\"");
    sync(w, true);
    match &p.volume {
        Volume::Dynamic { .. } => {
            let _ = writeln!(w, "  # The helper pod runs as $OWNER, so the files it wrote are the pod's already.");
        }
        _ => {
            let _ = writeln!(w, "  step \"give the TSDB to the pod's user and group ($OWNER)\"");
            let _ = writeln!(w, "  chown -R \"$OWNER\" \"$DEST\"");
            let _ = writeln!(w, "  chmod -R u+rwX,g+rwX \"$DEST\"");
        }
    }
    let _ = writeln!(w, "  oldest=$(oldest_block)");
    let _ = writeln!(w, "  [ -n \"$oldest\" ] || die \"no block (meta.json) under $DEST: is SRC the TSDB directory?\"");
    let _ = writeln!(w, "  echo \"oldest sample copied: $oldest (ms since the epoch)\"");
    if matches!(p.volume, Volume::Iscsi { .. }) {
        let _ = writeln!(w, "  unmount_volume");
    }
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "# The smallest minTime of the copied blocks, in milliseconds.");
    let _ = writeln!(w, "oldest_block() {{");
    match &p.volume {
        Volume::Dynamic { .. } => {
            let _ = writeln!(
                w,
                "  kubectl -n \"$NS\" exec \"$HELPER\" -- sh -c \"cat '$DEST'/*/meta.json\" 2>/dev/null \\"
            );
        }
        _ => {
            let _ = writeln!(w, "  cat \"$DEST\"/*/meta.json 2>/dev/null \\");
        }
    }
    let _ = writeln!(w, "    | sed -n 's/.*\"minTime\": *\\([0-9]*\\).*/\\1/p' | sort -n | head -n 1");
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "cutover() {{");
    if matches!(p.volume, Volume::Dynamic { .. }) {
        let _ = writeln!(w, "  step \"remove the helper pod (the claim stays)\"");
        let _ = writeln!(w, "  kubectl -n \"$NS\" delete pod \"$HELPER\" --ignore-not-found --wait=true");
    }
    let _ = writeln!(w, "  step \"apply the render; the StatefulSet binds claim $CLAIM and starts $POD\"");
    if helm {
        let _ = writeln!(
            w,
            "  # The chart: install or upgrade the release with the rendered values (see the header of values.yaml)."
        );
        let _ = writeln!(w, "  kubectl apply -f \"$RENDER/manifests.yaml\"");
        let _ = writeln!(
            w,
            "  helm upgrade --install {name} prometheus-community/kube-prometheus-stack -n \"$NS\" -f \"$RENDER/values.yaml\"",
            name = stack.name
        );
    } else {
        let _ = writeln!(
            w,
            "  # The render's StatefulSet has replicas = {}: it scales the shard back up.",
            stack.prometheus.replicas
        );
        let _ = writeln!(w, "  kubectl apply -f \"$RENDER\"");
    }
    let _ = writeln!(w, "  kubectl -n \"$NS\" rollout status \"statefulset/$STS\" --timeout=15m");
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "verify() {{");
    let _ = writeln!(w, "  step \"the oldest sample $POD serves\"");
    let _ = writeln!(w, "  pf=");
    let _ = writeln!(w, "  if [ -z \"$PROM_URL\" ]; then");
    let _ = writeln!(w, "    kubectl -n \"$NS\" port-forward \"pod/$POD\" 19090:9090 >/dev/null 2>&1 &");
    let _ = writeln!(w, "    pf=$!");
    let _ = writeln!(w, "    PROM_URL=http://127.0.0.1:19090");
    let _ = writeln!(w, "    sleep 3");
    let _ = writeln!(w, "  fi");
    let _ = writeln!(w, "  served=$(curl -fsS \"$PROM_URL/metrics\" | sed -n 's/^prometheus_tsdb_lowest_timestamp \\([0-9.e+]*\\)$/\\1/p')");
    let _ = writeln!(w, "  [ -z \"$pf\" ] || kill \"$pf\"");
    let _ = writeln!(w, "  served=$(printf '%.0f' \"$served\")");
    let _ = writeln!(w, "  echo \"oldest sample served: $served (ms since the epoch)\"");
    match &p.volume {
        Volume::Dynamic { .. } => {
            let _ = writeln!(w, "  expected=${{EXPECTED:-}}");
            let _ = writeln!(w, "  [ -n \"$expected\" ] || die \"set EXPECTED to the oldest sample final printed\"");
        }
        _ => {
            let _ = writeln!(w, "  expected=${{EXPECTED:-$(oldest_block)}}");
        }
    }
    let _ = writeln!(w, "  [ \"$served\" -le \"$expected\" ] || die \"the new Prometheus serves from $served, the old TSDB from $expected: blocks are missing (older than the retention?)\"");
    let _ = writeln!(w, "  echo \"ok: the migrated history is served\"");
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "rollback() {{");
    let _ = writeln!(w, "  step \"stop $STS; its volume (Retain) keeps the copied data for a later attempt\"");
    let _ = writeln!(w, "  kubectl -n \"$NS\" scale statefulset \"$STS\" --replicas=0");
    let _ = writeln!(
        w,
        "  echo \"now start the old Prometheus again{}; its TSDB was only read\"",
        from_host.map(|h| format!(" on {h}")).unwrap_or_default()
    );
    let _ = writeln!(w, "}}\n");

    if let Some((secret, key)) = &p.objstore {
        let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("--label={k}=\\\"{v}\\\"")).collect();
        let _ = writeln!(w, "# With Thanos: upload the old blocks to the bucket instead of copying them (Query and");
        let _ = writeln!(w, "# the Store Gateway serve them; the pod starts empty). They get the external labels this");
        let _ = writeln!(w, "# shard's Prometheus carries, without the replica label {}.", p.replica_label);
        let _ = writeln!(w, "upload() {{");
        let _ = writeln!(w, "  step \"upload $SRC's blocks with thanos tools bucket upload-blocks\"");
        let _ = writeln!(w, "  objstore=${{OBJSTORE:-./objstore.yml}}");
        let _ = writeln!(w, "  [ -f \"$objstore\" ] || kubectl -n \"$NS\" get secret {} -o jsonpath='{{.data.{}}}' | base64 -d > \"$objstore\"", q(secret), key.replace('.', "\\."));
        let _ = writeln!(w, "  # thanos reads the blocks from a local directory: run this where SRC is local.");
        let _ = writeln!(
            w,
            "  thanos tools bucket upload-blocks --objstore.config-file=\"$objstore\" --path=\"${{SRC#*:}}\" {}",
            labels.join(" ")
        );
        let _ = writeln!(w, "}}\n");
    }

    let phases = if p.objstore.is_some() {
        "prepare|copy|final|cutover|verify|rollback|upload"
    } else {
        "prepare|copy|final|cutover|verify|rollback"
    };
    let _ = writeln!(w, "case \"${{1:-}}\" in");
    let _ = writeln!(w, "  {phases}) \"$1\" ;;");
    let _ = writeln!(w, "  *) echo \"usage: $0 {phases}\" >&2; exit 2 ;;");
    let _ = writeln!(w, "esac");
    s
}

/// One Prometheus StatefulSet and its claims, for the resize runbook.
struct Claims {
    statefulset: String,
    claims: Vec<String>,
}

/// `stackgen migrate --resize`: the runbook that grows every Prometheus claim of the
/// stack to `[storage] size` (from `claims_size`, the size they have now). A StatefulSet
/// never resizes the claims it made and its claim template is immutable, so: patch each
/// claim (dynamic classes) or grow the disks (static PVs), delete the StatefulSets
/// without their pods (`--cascade=orphan`), apply the render (the operator re-creates
/// its StatefulSets in helm-values mode), then let retention_size follow.
pub fn resize_runbook(stack: &Stack, stack_path: &str, target: Target) -> Result<String, MigrateError> {
    if matches!(stack.storage.backend, crate::model::Backend::Ephemeral) {
        return Err(MigrateError::Ephemeral);
    }
    if !shell_safe(stack_path) {
        return Err(MigrateError::BadArgument(
            "the stack path has characters a runbook cannot quote safely; name a plain path".into(),
        ));
    }
    let size = stack.storage.size.map(crate::model::Bytes::quantity).unwrap_or_default();
    let from = stack.storage.claims_size.map(crate::model::Bytes::quantity);
    let static_pv = stack.storage.backend.is_static();
    let (namespace, sets, class) = match target {
        Target::Manifests => {
            let objs = crate::render::render(stack);
            let mut sets = Vec::new();
            let mut class = String::new();
            for v in objs.iter().filter(|o| o.kind == "StatefulSet").map(|o| &o.value) {
                if str_at(v, "/metadata/labels/app.kubernetes.io~1name") != Some("prometheus") {
                    continue;
                }
                let name = str_at(v, "/metadata/name").unwrap_or_default().to_string();
                let Some(t) = str_at(v, "/spec/volumeClaimTemplates/0/metadata/name") else { continue };
                class = str_at(v, "/spec/volumeClaimTemplates/0/spec/storageClassName").unwrap_or("").to_string();
                let claims = (0..stack.prometheus.replicas).map(|r| format!("{t}-{name}-{r}")).collect();
                let shard: u32 =
                    str_at(v, "/metadata/labels/stackgen.dev~1shard").and_then(|n| n.parse().ok()).unwrap_or(0);
                sets.push((shard, Claims { statefulset: name, claims }));
            }
            // Shard order, not the render's name order (shard-10 before shard-2).
            sets.sort_by_key(|(shard, _)| *shard);
            (stack.namespace.to_string(), sets.into_iter().map(|(_, c)| c).collect::<Vec<_>>(), class)
        }
        Target::HelmValues => {
            let world = ChartWorld::of(stack).ok_or(MigrateError::Ephemeral)?;
            let (chart, t, class) = (&world.chart, &world.template, world.class.clone());
            // Retired shards (the operator's shardRetentionPolicy keeps them) have claims too.
            let sets = (0..stack.sharding.kept())
                .map(|i| Claims {
                    statefulset: chart.statefulset(u64::from(i)),
                    claims: (0..stack.prometheus.replicas)
                        .map(|r| chart.claim(t, u64::from(i), u64::from(r)))
                        .collect(),
                })
                .collect();
            (chart.namespace.clone(), sets, class)
        }
    };
    let helm = target == Target::HelmValues;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "#!/bin/sh");
    let _ = writeln!(
        w,
        "# Generated by stackgen migrate --resize: grow the Prometheus claims of stack {} to {size}",
        stack.name
    );
    let _ = writeln!(
        w,
        "# (namespace {namespace}, {} StatefulSet(s), {} claim(s); from {}).",
        sets.len(),
        sets.iter().map(|c| c.claims.len()).sum::<usize>(),
        from.as_deref().unwrap_or("their current size")
    );
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# A StatefulSet never resizes the claims it made and its claim template is immutable. Run in order:"
    );
    let _ = writeln!(
        w,
        "#   sh resize.sh check      the class can expand volumes (or: what to grow by hand for static PVs)"
    );
    let _ = writeln!(
        w,
        "#   sh resize.sh grow       {}",
        if static_pv {
            "after growing the disks: apply the PVs' new capacity"
        } else {
            "patch every claim to the new size"
        }
    );
    let _ = writeln!(w, "#   sh resize.sh wait       until every claim reports the new capacity");
    let _ = writeln!(
        w,
        "#   sh resize.sh recreate   delete the StatefulSets with --cascade=orphan (pods keep running), {}",
        if helm { "then upgrade the release: the operator re-creates them" } else { "then apply the render" }
    );
    let _ = writeln!(w, "# Keep [storage] claims_size until wait passes, then remove it: retention_size = \"auto\" then follows {size}.");
    let _ = writeln!(w, "set -eu\n");
    let _ = writeln!(w, "NS={}", q(&namespace));
    let _ = writeln!(w, "SIZE={}", q(&size));
    let _ = writeln!(w, "RENDER=${{RENDER:-./stackgen-render}}");
    let _ =
        writeln!(w, "STATEFULSETS={}", q(&sets.iter().map(|c| c.statefulset.as_str()).collect::<Vec<_>>().join(" ")));
    let claims: Vec<&str> = sets.iter().flat_map(|c| c.claims.iter().map(String::as_str)).collect();
    let _ = writeln!(w, "CLAIMS={}\n", q(&claims.join(" ")));
    let _ = writeln!(w, "step() {{ printf '\\n== %s\\n' \"$*\"; }}");
    let _ = writeln!(w, "die() {{ printf 'error: %s\\n' \"$*\" >&2; exit 1; }}\n");
    let render = if helm {
        format!("stackgen render {stack_path} --format helm-values -o \"$RENDER\"")
    } else {
        format!("stackgen render {stack_path} -o \"$RENDER\"")
    };

    let _ = writeln!(w, "check() {{");
    if static_pv {
        let _ = writeln!(w, "  step \"static PVs ({}) have no driver to expand them\"", stack.storage.backend.name());
        let _ = writeln!(
            w,
            "  echo \"grow each disk, LUN or NFS quota behind the claims to $SIZE yourself, and the filesystem on it\""
        );
        let _ = writeln!(w, "  echo \"(resize2fs for ext4, xfs_growfs for xfs); then run: sh $0 grow\"");
    } else {
        let _ = writeln!(w, "  step \"class {class} must allow volume expansion\"");
        let _ =
            writeln!(w, "  allow=$(kubectl get storageclass {} -o jsonpath='{{.allowVolumeExpansion}}')", q(&class));
        let _ = writeln!(w, "  [ \"$allow\" = true ] || die \"class {class} does not allow expansion; if its driver can expand, kubectl patch storageclass {class} -p '{{\\\"allowVolumeExpansion\\\":true}}'\"");
        let _ = writeln!(w, "  echo ok");
    }
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "grow() {{");
    let _ = writeln!(w, "  step \"render the stack into $RENDER\"");
    let _ = writeln!(w, "  {render}");
    if static_pv {
        let _ = writeln!(
            w,
            "  step \"the PVs' capacity becomes $SIZE (the claims keep their request: a static PV is not expanded)\""
        );
        if helm {
            let _ = writeln!(w, "  kubectl apply -f \"$RENDER/manifests.yaml\"");
        } else {
            let _ = writeln!(w, "  for f in \"$RENDER\"/persistentvolume-*.yaml; do kubectl apply -f \"$f\"; done");
        }
    } else {
        let _ = writeln!(w, "  step \"patch every claim to $SIZE\"");
        let _ = writeln!(w, "  for c in $CLAIMS; do");
        let _ = writeln!(w, "    kubectl -n \"$NS\" patch pvc \"$c\" -p \"{{\\\"spec\\\":{{\\\"resources\\\":{{\\\"requests\\\":{{\\\"storage\\\":\\\"$SIZE\\\"}}}}}}}}\"");
        let _ = writeln!(w, "  done");
    }
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "wait_claims() {{");
    let _ = writeln!(
        w,
        "  step \"every claim reports its new capacity (a filesystem resize may wait for the pod to restart)\""
    );
    let _ = writeln!(w, "  for c in $CLAIMS; do");
    let _ = writeln!(w, "    cap=$(kubectl -n \"$NS\" get pvc \"$c\" -o jsonpath='{{.status.capacity.storage}}')");
    let _ = writeln!(w, "    echo \"$c: $cap\"");
    let _ = writeln!(w, "  done");
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "recreate() {{");
    let _ = writeln!(w, "  step \"delete the StatefulSets, not their pods or claims\"");
    let _ = writeln!(w, "  for s in $STATEFULSETS; do");
    let _ = writeln!(w, "    kubectl -n \"$NS\" delete statefulset \"$s\" --cascade=orphan --ignore-not-found");
    let _ = writeln!(w, "  done");
    if helm {
        let _ = writeln!(
            w,
            "  step \"upgrade the release: the operator re-creates the StatefulSets with the new claim template\""
        );
        let _ = writeln!(w, "  {render}");
        let _ = writeln!(
            w,
            "  helm upgrade --install {} prometheus-community/kube-prometheus-stack -n \"$NS\" -f \"$RENDER/values.yaml\"",
            stack.name
        );
    } else {
        let _ = writeln!(
            w,
            "  step \"apply the render: the StatefulSets come back with the new claim template and adopt the pods\""
        );
        let _ = writeln!(w, "  {render}");
        let _ = writeln!(w, "  kubectl apply -f \"$RENDER\"");
    }
    let _ = writeln!(w, "  for s in $STATEFULSETS; do");
    let _ = writeln!(w, "    kubectl -n \"$NS\" rollout status \"statefulset/$s\" --timeout=15m");
    let _ = writeln!(w, "  done");
    let _ = writeln!(w, "}}\n");

    let _ = writeln!(w, "case \"${{1:-}}\" in");
    let _ = writeln!(w, "  check|grow|recreate) \"$1\" ;;");
    let _ = writeln!(w, "  wait) wait_claims ;;");
    let _ = writeln!(w, "  *) echo \"usage: $0 check|grow|wait|recreate\" >&2; exit 2 ;;");
    let _ = writeln!(w, "esac");
    Ok(s)
}
