//! The registry of diagnostic codes. Codes are stable and never reused: SG0xx are input
//! and schema problems, SG1xx semantic problems of a stack, SG2xx render problems.
//! Each rule has a code, a kebab-case name, a default severity, and the long text that
//! `stackgen explain CODE` prints (what it does, why it matters, an example).

use super::Severity;

#[derive(Debug)]
pub struct Rule {
    pub code: Code,
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub explain: &'static str,
}

macro_rules! rules {
    ($( $variant:ident = $id:literal, $name:literal, $sev:ident, $summary:literal, $explain:literal; )*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( $variant, )* }

        pub static RULES: &[Rule] = &[ $( Rule {
            code: Code::$variant, id: $id, name: $name, severity: Severity::$sev,
            summary: $summary, explain: $explain,
        }, )* ];
    };
}

impl Code {
    pub fn rule(self) -> &'static Rule {
        RULES.iter().find(|r| r.code == self).expect("every code has a rule")
    }
    pub fn id(self) -> &'static str {
        self.rule().id
    }
    /// Look a rule up by `SG103`, `sg103` or its kebab name.
    pub fn lookup(s: &str) -> Option<&'static Rule> {
        RULES.iter().find(|r| r.id.eq_ignore_ascii_case(s) || r.name == s)
    }
}

rules! {
    TomlSyntax = "SG001", "toml-syntax", Error,
        "the file is not valid TOML",
        "stack.toml must be valid TOML 1.0. stackgen reports every syntax error it can recover from, \
with its line and column.\n\nExample:\n    [stack\n    name = prod        # strings need quotes: name = \"prod\"";
    UnknownKey = "SG002", "unknown-key", Error,
        "a key that stack.toml does not have",
        "Every table of stack.toml has a fixed set of keys (see `stackgen schema`). An unknown key is \
an error rather than being ignored, because a misspelt key silently keeps its default: \
`retension = \"180d\"` would leave you with 15 days of history.\n\nstackgen suggests the nearest \
known key when one is within three edits.";
    WrongType = "SG003", "wrong-type", Error,
        "a value of the wrong type",
        "Each key takes one TOML type: strings for durations and sizes (`retention = \"15d\"`), integers \
for counts (`replicas = 2`), booleans, tables or arrays.\n\nExample:\n    replicas = \"2\"    # write replicas = 2";
    InvalidValue = "SG004", "invalid-value", Error,
        "a value outside what the key accepts",
        "Durations use Prometheus syntax (`15d`, `6h`, `1h30m`); Prometheus byte sizes need the `B` suffix \
(`700GiB`: the operator's retentionSize pattern rejects `700Gi`, pitfall 1); volume sizes use binary \
units (`1Ti`, `500Gi`); names are DNS-1123 labels; enumerations accept only the listed words.";
    MissingKey = "SG005", "missing-key", Error,
        "a required key is missing",
        "Some keys have no safe default: `[stack] name`, `[storage]` for every persistent backend and the \
backend's own table (`[storage.nfs]` for backend = \"nfs\"), `[thanos.objstore]` when Thanos is on.";
    Unreadable = "SG006", "unreadable-input", Error,
        "the stack file cannot be read",
        "The file does not exist, is not readable, or is not UTF-8 text. stackgen exits with code 2 (bad usage or \
unreadable input), distinct from 1 (the stack has errors), so CI can tell a broken pipeline from a broken stack.";
    NameTooLong = "SG007", "name-too-long", Error,
        "the stack name makes object names too long",
        "Every object is named `<stack>-<component>`; StatefulSet pods add `-shard-<n>-<ordinal>` and \
Kubernetes adds a revision hash to a label whose value is limited to 63 characters. Stack names of \
at most 30 characters always fit.";
    BadSuppression = "SG030", "bad-suppression", Error,
        "a lint allow names a code that does not exist, or an error",
        "`[lint] allow`, `# stackgen: allow` comments and `--allow` take warning codes (`SG102`) or their \
kebab names (`nfs-tsdb`). A code that does not exist is reported rather than ignored, so a typo cannot \
silently keep a warning alive or hide one; errors cannot be allowed at all, because a stack with an \
error does not render.\n\nExample:\n    [lint]\n    allow = [\"SG102\"]     # NFS chosen deliberately\n\n    \
[storage]\n    backend = \"nfs\"   # stackgen: allow SG102 -- the NAS is all we have";
    Ephemeral = "SG101", "no-persistent-storage", Warning,
        "Prometheus data lives in an emptyDir and is lost when the pod goes",
        "With backend = \"ephemeral\" the TSDB is an emptyDir: every restart, reschedule or node drain \
throws the history away (seed 001: the chart's default `storage: {}` did exactly this). Use it only \
for throw-away development stacks.\n\nFix: backend = \"local\", \"ceph\", \"class\", \"iscsi\" or \"nfs\" with a [storage.*] table.";
    NfsTsdb = "SG102", "nfs-tsdb", Warning,
        "NFS holds the Prometheus TSDB",
        "Prometheus' storage docs: non-POSIX filesystems such as NFS are not supported and \"unrecoverable \
corruptions may happen\" (prometheus#5342, pitfall 3). Seed 000 saw one large query saturate the NIC; \
seed 001 hit permission denied because NFS ignores fsGroup (files owned by uid 472 and 1000).\n\n\
Fix: local SSDs, iSCSI, Ceph RBD or a cloud block class. If NFS must stay, export it with \
no_root_squash and chown the directories to run_as_user:fs_group by hand.";
    VolumeCount = "SG103", "static-volume-count", Error,
        "fewer static volumes than Prometheus pods",
        "Every Prometheus pod (shards x replicas) needs a volume of its own: two servers on one TSDB \
directory corrupt it, and a claim with no free PV stays Pending (helm-charts#798, pitfall 5). \
Local volumes need one node per pod, iSCSI one LUN per pod.\n\nExample: 2 shards x 2 replicas need\n    \
nodes = [\"a\", \"b\", \"c\", \"d\"]";
    DuplicateVolume = "SG104", "duplicate-volume", Error,
        "the same node or LUN is listed twice",
        "Each static PV must be a distinct disk. Listing a node or LUN twice would give two pods the same \
data directory.";
    ReclaimDelete = "SG105", "reclaim-delete", Warning,
        "reclaim policy Delete on long-lived data",
        "With persistentVolumeReclaimPolicy Delete, deleting the claim (a `helm uninstall`, a renamed \
StatefulSet) deletes the disk and its history. For retention over a week keep Retain (seeds 000, 001); \
a Released PV is then re-bound by deleting and re-creating the PV object.";
    RetentionSize = "SG106", "retention-size-vs-volume", Error,
        "retention_size does not leave room on the volume",
        "--storage.tsdb.retention.size counts blocks, WAL and head chunks, and Prometheus only deletes \
whole blocks, so a limit at or above the volume size fills the disk (\"no space left on device\", \
prometheus#8884, pitfall 2). The Prometheus docs recommend at most 80-85% of the disk.\n\n\
Fix: retention_size = \"auto\" (85% of the volume) or a value at most 85% of [storage] size.";
    DiskEstimate = "SG107", "disk-estimate", Warning,
        "the estimated TSDB size exceeds the volume",
        "With ingestion_rate set, stackgen estimates each shard's disk need as retention x samples per \
second per shard x ~2 bytes per sample (Prometheus' storage docs give 1-2 bytes). If that is above the \
volume, the size limit will delete data before the retention time is reached.";
    ReplicaLabel = "SG108", "replica-label", Error,
        "the replica label is missing or collides with an external label",
        "Thanos Query deduplicates HA pairs by dropping the replica label (`--query.replica-label`), and \
the compactor by `--deduplication.replica-label`; both must name the label Prometheus sets \
(bitnami/charts#14167, thanos#7586, pitfall 11). stackgen sets the same name on all three from \
[thanos] replica_label; it must not also be one of the external labels.";
    ThanosRetention = "SG109", "thanos-local-retention", Error,
        "local retention too short for the Thanos sidecar",
        "The sidecar uploads 2h blocks; Prometheus needs local retention of at least three block \
durations (6h) or blocks are deleted before they are uploaded (sidecar.md, pitfall 13).";
    ShardsWithoutThanos = "SG110", "shards-without-query", Warning,
        "several shards and no Thanos Query",
        "Each shard holds only its share of the series. Without Thanos Query there is no single place to \
query or alert on the whole; Grafana would show one shard.";
    InlineSecret = "SG111", "inline-secret", Error,
        "a credential value is written in stack.toml",
        "Credentials are referenced by the name of an existing Secret (`credentials_secret`), never \
written inline: stack.toml is committed and rendered output is reviewed in pull requests. \
stackgen never repeats the value in a diagnostic.\n\nFix: kubectl create secret generic \
thanos-objstore-credentials --from-literal=... and set credentials_secret.";
    RootUser = "SG112", "root-user", Error,
        "Prometheus would run as root or without a group",
        "run_as_user = 0 breaks the Pod Security restricted profile; fs_group = 0 gives the volume to root. \
Migrated TSDB data must be owned by run_as_user:fs_group (seed 000: `mkdir data/: permission denied` \
until runAsUser 1000 / fsGroup 2000; pitfall 7).";
    CompactorRetention = "SG113", "compactor-retention", Warning,
        "compactor retention shorter than the downsampling windows",
        "The compactor downsamples raw data older than 40h to 5m and 5m data older than 10d to 1h \
(compact.md). A raw retention under 40h or a 5m retention under 10d deletes data before it is \
downsampled (pitfall 14). 0d means keep forever.";
    ObjstoreKey = "SG114", "objstore-key", Error,
        "an object storage type or key Thanos would not read",
        "Thanos upper-cases `type` and reads only its known providers; `oss` is spelled `aliyunoss` \
(pitfall 15). COS, OSS and FILESYSTEM configs are read without strict checking, so a misspelt key \
there is silently ignored: stackgen accepts only the keys each provider reads.";
    DuplicateJob = "SG115", "duplicate-job", Error,
        "two scrape jobs share a name",
        "Prometheus refuses a configuration with two scrape_configs of the same job_name (\"found multiple scrape \
configs with job name\"), and the whole server fails to start. stackgen writes built-in jobs too (prometheus, \
kubernetes-*, kube-etcd, kube-scheduler, kube-controller-manager, alertmanager); a [[scrape]] job must not reuse \
their names.\n\nExample:\n    [[scrape]]\n    job = \"kubernetes-pods\"   # clashes with the built-in job; name it \"pods-extra\"";
    UnsupportedVersion = "SG116", "unsupported-kubernetes", Error,
        "a Kubernetes version stackgen does not target",
        "stackgen emits API versions and validates output for Kubernetes 1.33 and later (k8s-openapi feature v1_33, \
the oldest cluster supported); kubernetes-validate checks every render against the version named here. Older \
clusters lack APIs the output relies on, and 1.31 removed the in-tree rbd volume.\n\nFix: kubernetes_version = \"1.33\" \
(or a newer minor stackgen lists in `stackgen schema`).";
    InTreeRbd = "SG117", "in-tree-rbd", Error,
        "the in-tree rbd volume is gone",
        "Kubernetes removed the in-tree Ceph RBD volume plugin in 1.31 (kubernetes#124546, pitfall 16). \
stackgen emits claims on a ceph-csi (`rbd.csi.ceph.com`) or Rook class instead.";
    ScrapeTarget = "SG118", "scrape-target", Error,
        "a static target is not host:port",
        "static_targets are Prometheus `targets`: `host:port` without a scheme or path. Prometheus would otherwise \
refuse the config or scrape a wrong address; the scheme and path go in `scheme` and `metrics_path`.\n\nExample:\n    \
static_targets = [\"http://10.0.0.1:9100/metrics\"]   # write \"10.0.0.1:9100\"";
    SmallVolume = "SG119", "volume-too-small", Warning,
        "a volume size is very small",
        "A Prometheus volume under 1Gi holds little more than the WAL and a few 2h blocks: retention by size will \
delete history within hours, or the disk fills during compaction. Size volumes from the ingestion rate \
(samples/s x retention x ~2 bytes, see SG107).";
    NoStorageTable = "SG120", "backend-table", Error,
        "the storage backend and its table disagree",
        "Each backend reads its own table: backend = \"nfs\" reads [storage.nfs]. A table for another \
backend would be ignored, so it is an error.";
    ComponentEphemeral = "SG121", "component-ephemeral", Error,
        "Alertmanager, Grafana, Store Gateway or Compactor data would silently be an emptyDir",
        "On a static backend (local, nfs, iscsi) stackgen writes PVs for Prometheus; the other components \
need their storage said. Otherwise Alertmanager silences and notification log, Grafana's database \
(users, dashboards saved in the UI) and the Thanos work directories would live in an emptyDir and be \
lost on every restart (seed 001 lost Grafana and Alertmanager data exactly so). The error names the \
component.\n\nFix, one of:\n    component_class = \"<an existing StorageClass>\"   # in [storage]\n    \
backend = \"nfs\" (static)                          # a directory per pod on the same export, automatically\n    \
component_path = \"/mnt/disks/components\"         # in [storage.local]: <path>/<pod> on the listed nodes\n    \
component_luns = [3, 4, 5]                         # in [storage.iscsi]: one LUN per component pod\n    \
ephemeral_components = true                        # in [storage]: emptyDir on purpose";
    RootProvisioner = "SG122", "root-provisioner", Warning,
        "the NFS provisioner runs as root",
        "The NFS subdir provisioner mounts the export and creates a directory per claim as root, so its \
namespace can only enforce the Pod Security \"baseline\" profile (restricted is still warned and audited). \
Seed 002 exported the share with no_root_squash for this reason. Prefer a CSI driver or static PVs.";
    GrafanaAdmin = "SG123", "grafana-admin", Warning,
        "Grafana has no admin secret",
        "Without [grafana] admin_secret Grafana starts with admin/admin. Name an existing Secret with the \
keys admin-user and admin-password (the chart's random password breaks golden diffs, pitfall 18).";
    SecretValue = "SG124", "secret-value", Error,
        "a value looks like a credential",
        "A string in stack.toml looks like an access key, token or private key. stackgen refuses it and \
never prints it: credentials live in Secrets, referenced by name.";
    HelmUnsupported = "SG125", "helm-unsupported", Warning,
        "the kube-prometheus-stack chart cannot express part of the stack",
        "With --format helm-values, stackgen emits values for kube-prometheus-stack plus companion \
manifests. Some choices of a stack have no chart value (the chart renders its own Prometheus config, \
for example); stackgen says so instead of dropping them silently. It also names what the chart leaves \
open: its pods (Prometheus, Alertmanager, Grafana, the operator, kube-state-metrics, node-exporter) get no \
NetworkPolicy unless its networkPolicy values are turned on; stackgen's policies cover only the pods it \
writes itself (Thanos Query, Store Gateway, Compactor, the NFS provisioner).";
    ObjstoreUnusable = "SG126", "objstore-unusable", Error,
        "an object storage config that cannot work",
        "Some object storage configs pass every schema and still cannot work: `type = \"filesystem\"` with more \
than one Prometheus pod gives each pod its own \"bucket\" (a directory on its own read-only root filesystem), \
so Query, Store Gateway and Compactor never see the blocks; an S3 or Azure `endpoint` written as a URL \
(`https://minio:9000`) is refused by the client (minio-go: \"Endpoint url cannot have fully qualified \
paths\"), and the sidecar never uploads.\n\nFix: endpoint = \"minio.minio.svc:9000\" (insecure = true for \
plain HTTP); a shared object store for more than one pod.";
    NamespaceDefault = "SG127", "namespace-default", Warning,
        "the stack runs in the `default` namespace",
        "stackgen never creates or labels `default`: applying its Namespace with \
`pod-security.kubernetes.io/enforce: restricted` would enforce that profile on every other workload \
there. So with namespace = \"default\" no Namespace object is rendered and the Pod Security labels are \
yours to set. A namespace of its own (the default `monitoring`) keeps the stack's policies, quotas and \
RBAC apart.";
    NamespaceKube = "SG128", "namespace-kube", Error,
        "the stack would run in a kube-* namespace",
        "`kube-system`, `kube-public`, `kube-node-lease` and every `kube-*` namespace belong to the cluster. \
Labelling kube-system `enforce: restricted` would block kube-proxy's and the CNI's next pods; the \
stack's default-deny NetworkPolicies would select nothing of the cluster's but mix with its policies. \
stackgen never creates or labels them, and refuses to render into them.\n\nFix: namespace = \"monitoring\".";
    ControlPlaneLocalhost = "SG129", "control-plane-localhost", Warning,
        "control-plane jobs scrape pod IPs where kubeadm binds to 127.0.0.1",
        "With [kubernetes] control_plane = true stackgen scrapes etcd (2381), kube-scheduler (10259) and \
kube-controller-manager (10257) on their static pods' IPs. kubeadm binds all three to 127.0.0.1 by \
default (etcd --listen-metrics-urls=http://127.0.0.1:2381, --bind-address=127.0.0.1 for the other two), \
so the targets are down until they listen on the node address: set \
etcd.local.extraArgs.listen-metrics-urls=http://0.0.0.0:2381 and bind-address=0.0.0.0 for the scheduler \
and controller manager in the kubeadm ClusterConfiguration (and allow the ports from the Prometheus \
pods). Managed clusters (EKS, GKE, AKS) expose none of them: keep control_plane = false there.";
    RenderFailed = "SG201", "render-internal", Error,
        "stackgen produced an object that failed its own check",
        "Every file stackgen renders from a template (Alertmanager config, Grafana provisioning) is parsed back before \
it is embedded. A failure means a bug in stackgen, not in your stack; please report it with the stack file.";
    OutputTooLarge = "SG202", "output-too-large", Error,
        "the render would exceed the output limit",
        "Every shard carries a prometheus.yml with every scrape job and target, so the render grows with \
shards x jobs: 100,000 jobs at 64 shards would write 3.7 GB. stackgen refuses a stack whose render it \
estimates above 256 MiB, before writing anything (stdout, `-o DIR`, `--check`, `diff`).\n\nUse fewer shards \
or jobs, or split the stack into several.";
}
