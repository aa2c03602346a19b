//! The registry of diagnostic codes: for every code, its three names (the code `SG102`,
//! the type [`Code::NfsTsdb`], the kebab name `nfs-tsdb`), its one severity, where it is
//! raised, and its documentation. `stackgen explain CODE`, `stackgen explain list`, the
//! SARIF `rules` array and docs/rules.md are all generated from [`RULES`].
//!
//! Codes are the user interface (`[lint] allow`, `--deny`, CI filters): a code is never
//! changed, never reused, and a rule's kebab name never changes. SG0xx are input and
//! schema problems, SG1xx semantic problems of a stack, SG2xx render problems.
//!
//! A lint rule's documentation is the doc comment beside its code, in
//! `src/lint/rules/<code>_<name>.rs` (the entry's `rule` names the file); the other
//! codes, raised by the stages before lint, are documented here. Either way the first
//! line is the one-line summary and the rest the long text (`## What it does`,
//! `## Why is this bad?`, `## Example`).
//!
//! Retired codes stay reserved in [`RETIRED`] and are never given to another rule:
//! - SG201 `render-internal`: "a rendered template failed its own check". Never raised:
//!   the rendered Alertmanager and Grafana files are checked by the tests over every
//!   example and fuzzed stack, not at render time, so no stack could produce it.

use super::Severity;

/// One code of the registry.
#[derive(Debug)]
pub struct Rule {
    pub code: Code,
    /// `SG102`.
    pub id: &'static str,
    /// The kebab name: `nfs-tsdb`, the [`Code`] variant's name in kebab case.
    pub name: &'static str,
    pub severity: Severity,
    /// Where the code is raised, as module paths under `src/` (`lint::rules::sg102_nfs_tsdb`,
    /// `model::validate`); a lint rule's own file comes first.
    pub raised_by: &'static [&'static str],
    doc: &'static str,
}

impl Rule {
    /// The one-line summary: the first line of the documentation.
    pub fn summary(&self) -> &'static str {
        self.doc.lines().next().unwrap_or_default().trim()
    }

    /// The long text `stackgen explain` prints: the documentation after its first line.
    pub fn explain(&self) -> String {
        let body = self.doc.split_once('\n').map_or("", |(_, rest)| rest);
        // Doc comments keep the space after `///`; drop it.
        let lines: Vec<&str> = body.lines().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
        lines.join("\n").trim().to_string()
    }

    /// The lint rule's file under `src/lint/rules/`, if a lint rule raises the code.
    pub fn lint_rule(&self) -> Option<&'static str> {
        self.raised_by.iter().find_map(|p| p.strip_prefix("lint::rules::"))
    }
}

/// A code no longer raised. Its number and name stay reserved.
#[derive(Debug)]
pub struct Retired {
    pub id: &'static str,
    pub name: &'static str,
    pub why: &'static str,
}

/// Retired codes: never raised, never reused.
pub static RETIRED: &[Retired] = &[Retired {
    id: "SG201",
    name: "render-internal",
    why: "it stood for a rendered template failing its own check, which no stack can cause: \
the rendered Alertmanager and Grafana files are checked by stackgen's tests over every example \
and fuzzed stack, not at render time",
}];

impl Code {
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
    pub fn id(self) -> &'static str {
        self.rule().id
    }
    /// Look a rule up by `SG103`, `sg103` or its kebab name.
    pub fn lookup(s: &str) -> Option<&'static Rule> {
        RULES.iter().find(|r| r.id.eq_ignore_ascii_case(s) || r.name == s)
    }
    /// A retired code, by `SG201`, `sg201` or its kebab name.
    pub fn retired(s: &str) -> Option<&'static Retired> {
        RETIRED.iter().find(|r| r.id.eq_ignore_ascii_case(s) || r.name == s)
    }
}

macro_rules! registry {
    (@doc [$($doc:literal)*] $module:ident) => { crate::lint::rules::$module::DOC };
    (@doc [$($doc:literal)*]) => { concat!($($doc, "\n"),*) };
    (@by $module:ident [$($by:literal),*]) => { &[concat!("lint::rules::", stringify!($module)), $($by),*] };
    (@by [$($by:literal),*]) => { &[$($by),*] };
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $id:literal, $name:literal, $sev:ident, $(rule $module:ident,)? [$($by:literal),*];
    )*) => {
        /// A stable diagnostic code; see [`RULES`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( #[doc = concat!("`", $id, "` `", $name, "`")] $variant, )* }

        /// Every code, in code order (the index of a code's [`Rule`] is its place in
        /// [`Code`], and SARIF's `ruleIndex`).
        pub static RULES: &[Rule] = &[ $( Rule {
            code: Code::$variant,
            id: $id,
            name: $name,
            severity: Severity::$sev,
            raised_by: registry!(@by $($module)? [$($by),*]),
            doc: registry!(@doc [$($doc)*] $($module)?),
        }, )* ];
    };
}

registry! {
    /// the file is not valid TOML
    ///
    /// ## What it does
    /// Reports every TOML syntax error it can recover from, with its line and column.
    ///
    /// ## Why is this bad?
    /// stack.toml must be valid TOML 1.0; nothing else can be checked in a file that
    /// does not parse.
    ///
    /// ## Example
    /// ```toml
    /// [stack
    /// name = prod        # strings need quotes: name = "prod"
    /// ```
    TomlSyntax = "SG001", "toml-syntax", Error, ["source"];

    /// a key that stack.toml does not have
    ///
    /// ## What it does
    /// Reports a key that its table does not have (see `stackgen schema`), with the
    /// nearest known key when one is within three edits.
    ///
    /// ## Why is this bad?
    /// Every table of stack.toml has a fixed set of keys. An unknown key is an error
    /// rather than being ignored, because a misspelt key silently keeps its default:
    /// `retension = "180d"` would leave you with 15 days of history.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retension = "180d"   # did you mean `retention`?
    /// ```
    UnknownKey = "SG002", "unknown-key", Error, ["model::schema"];

    /// a value of the wrong type
    ///
    /// ## What it does
    /// Reports a value whose TOML type is not the one its key takes.
    ///
    /// ## Why is this bad?
    /// Each key takes one TOML type: strings for durations and sizes
    /// (`retention = "15d"`), integers for counts (`replicas = 2`), booleans, tables or
    /// arrays. Guessing what a value of another type meant would hide mistakes.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// replicas = "2"    # write replicas = 2
    /// ```
    WrongType = "SG003", "wrong-type", Error, ["model::schema", "lib"];

    /// a value outside what the key accepts
    ///
    /// ## What it does
    /// Reports a value of the right type that the key does not accept.
    ///
    /// ## Why is this bad?
    /// Durations use Prometheus syntax (`15d`, `6h`, `1h30m`); Prometheus byte sizes need
    /// the `B` suffix (`700GiB`: the Prometheus Operator's retentionSize pattern rejects
    /// `700Gi`); volume sizes use binary units (`1Ti`, `500Gi`); names are DNS-1123
    /// labels; enumerations accept only the listed words. A value outside these would
    /// be refused by Kubernetes or Prometheus later, far from the line that caused it.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retention_size = "700Gi"   # write "700GiB"
    /// ```
    InvalidValue = "SG004", "invalid-value", Error, ["model::schema", "model::validate"];

    /// a required key is missing
    ///
    /// ## What it does
    /// Reports a key that has no safe default and is not there.
    ///
    /// ## Why is this bad?
    /// Some keys have no safe default: `[stack] name`, `[storage]` for every persistent
    /// backend and the backend's own table (`[storage.nfs]` for backend = "nfs"),
    /// `[thanos.objstore]` when Thanos is on.
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// backend = "nfs"     # needs a [storage.nfs] table with server and path
    /// ```
    MissingKey = "SG005", "missing-key", Error, ["model::schema", "model::validate::storage", "model::validate::thanos"];

    /// the stack file cannot be read
    ///
    /// ## What it does
    /// Reports a stack file that does not exist, is not readable, or is not UTF-8 text.
    ///
    /// ## Why is this bad?
    /// Nothing can be checked. stackgen exits with code 2 (bad usage or unreadable
    /// input), distinct from 1 (the stack has errors), so CI can tell a broken pipeline
    /// from a broken stack.
    ///
    /// ## Example
    /// ```text
    /// stackgen lint stacks/prod.tmol    # a typo in the path: exit code 2
    /// ```
    UnreadableInput = "SG006", "unreadable-input", Error, ["cli::lint"];

    /// the stack name makes object names too long
    ///
    /// ## What it does
    /// Reports a stack name longer than 30 characters.
    ///
    /// ## Why is this bad?
    /// Every object is named `<stack>-<component>`; StatefulSet pods add
    /// `-shard-<n>-<ordinal>` and Kubernetes adds a revision hash to a label whose value
    /// is limited to 63 characters, so a longer name gives pods that are never created.
    /// Stack names of at most 30 characters always fit.
    ///
    /// ## Example
    /// ```toml
    /// [stack]
    /// name = "observability-production-europe-west"   # write "obs-prod-eu-west"
    /// ```
    NameTooLong = "SG007", "name-too-long", Error, ["model::validate::stack"];

    /// a lint allow names a code that does not exist, or an error
    ///
    /// ## What it does
    /// Checks the codes of `[lint] allow`, of `# stackgen: allow` comments and of
    /// `--allow`: each must be a warning's code (`SG102`) or kebab name (`nfs-tsdb`).
    ///
    /// ## Why is this bad?
    /// A code that does not exist is reported rather than ignored, so a typo cannot
    /// silently keep a warning alive or hide one; errors cannot be allowed at all,
    /// because a stack with an error does not render.
    ///
    /// ## Example
    /// ```toml
    /// [lint]
    /// allow = ["SG102"]     # NFS chosen deliberately
    ///
    /// [storage]
    /// backend = "nfs"   # stackgen: allow SG102 -- the NAS is all we have
    /// ```
    BadSuppression = "SG030", "bad-suppression", Error, ["lint::suppress"];

    NoPersistentStorage = "SG101", "no-persistent-storage", Warning, rule sg101_no_persistent_storage, [];
    NfsTsdb = "SG102", "nfs-tsdb", Warning, rule sg102_nfs_tsdb, [];
    StaticVolumeCount = "SG103", "static-volume-count", Error, rule sg103_static_volume_count, ["model::validate::storage"];

    /// the same node or LUN is listed twice
    ///
    /// ## What it does
    /// Reports a node (`[storage.local] nodes`) or LUN (`luns`, `component_luns`) listed
    /// twice, or in both LUN lists.
    ///
    /// ## Why is this bad?
    /// Each static PV must be a distinct disk. Listing a node or LUN twice would give two
    /// pods the same data directory, and two servers on one TSDB corrupt it.
    ///
    /// ## Example
    /// ```toml
    /// [storage.iscsi]
    /// luns = [0, 1, 1]   # write [0, 1, 2]
    /// ```
    DuplicateVolume = "SG104", "duplicate-volume", Error, ["model::validate::storage"];

    ReclaimDelete = "SG105", "reclaim-delete", Warning, rule sg105_reclaim_delete, [];
    RetentionSizeVsVolume = "SG106", "retention-size-vs-volume", Error, rule sg106_retention_size_vs_volume, [];
    DiskEstimate = "SG107", "disk-estimate", Warning, rule sg107_disk_estimate, [];

    /// the replica label is missing or collides with an external label
    ///
    /// ## What it does
    /// Checks `[thanos] replica_label`: not also one of `[prometheus] external_labels`,
    /// not `shard` (set per shard), and written once (not again in `[thanos.objstore]`).
    ///
    /// ## Why is this bad?
    /// Thanos Query deduplicates HA pairs by dropping the replica label
    /// (`--query.replica-label`), and the compactor by `--deduplication.replica-label`;
    /// both must name the label Prometheus sets (bitnami/charts#14167, thanos#7586).
    /// stackgen sets the same name on all three from `[thanos] replica_label`. An
    /// external label of the same name would be overwritten, or dropped with the
    /// replica, and series of different sources would merge.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// external_labels = { replica = "a" }   # clashes with replica_label below
    ///
    /// [thanos]
    /// replica_label = "replica"
    /// ```
    ReplicaLabel = "SG108", "replica-label", Error, ["model::validate::thanos"];

    /// local retention too short for the Thanos sidecar
    ///
    /// ## What it does
    /// With `[thanos]`, reports a `[prometheus] retention` under 6h.
    ///
    /// ## Why is this bad?
    /// The sidecar uploads 2h blocks; Prometheus needs local retention of at least three
    /// block durations (6h) or blocks are deleted before they are uploaded, and that
    /// history is lost.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// retention = "2h"   # with [thanos]: write at least "6h"
    /// ```
    ThanosLocalRetention = "SG109", "thanos-local-retention", Error, ["model::validate::thanos"];

    ShardsWithoutQuery = "SG110", "shards-without-query", Warning, rule sg110_shards_without_query, [];

    /// a credential value is written in stack.toml
    ///
    /// ## What it does
    /// Reports a credential key (an access key, a secret key, a password) written with a
    /// value anywhere in stack.toml.
    ///
    /// ## Why is this bad?
    /// Credentials are referenced by the name of an existing Secret
    /// (`credentials_secret`), never written inline: stack.toml is committed and rendered
    /// output is reviewed in pull requests. stackgen never repeats the value in a
    /// diagnostic.
    ///
    /// ## Example
    /// ```toml
    /// [thanos.objstore]
    /// secret_key = "..."   # kubectl create secret generic thanos-objstore-credentials
    ///                      # --from-literal=..., then credentials_secret = "thanos-objstore-credentials"
    /// ```
    InlineSecret = "SG111", "inline-secret", Error, ["model::schema"];

    /// Prometheus would run as root or without a group
    ///
    /// ## What it does
    /// Reports `[prometheus] run_as_user = 0` or `fs_group = 0`.
    ///
    /// ## Why is this bad?
    /// run_as_user = 0 breaks the Pod Security restricted profile; fs_group = 0 gives the
    /// volume to root. TSDB data migrated from another install must be owned by
    /// run_as_user:fs_group, or Prometheus stops with `mkdir data/: permission denied`.
    ///
    /// ## Example
    /// ```toml
    /// [prometheus]
    /// run_as_user = 0   # write the uid that owns the data, e.g. 1000 (fs_group = 2000)
    /// ```
    RootUser = "SG112", "root-user", Error, ["model::validate::prometheus"];

    CompactorRetention = "SG113", "compactor-retention", Warning, rule sg113_compactor_retention, [];

    /// an object storage type or key Thanos would not read
    ///
    /// ## What it does
    /// Checks `[thanos.objstore]`: `type` must be a provider Thanos knows, and every
    /// other key one that provider reads.
    ///
    /// ## Why is this bad?
    /// Thanos upper-cases `type` and reads only its known providers; `oss` is spelled
    /// `aliyunoss`. COS, OSS and FILESYSTEM configs are read without strict checking, so
    /// a misspelt key there is silently ignored: stackgen accepts only the keys each
    /// provider reads.
    ///
    /// ## Example
    /// ```toml
    /// [thanos.objstore]
    /// type = "oss"   # write "aliyunoss"
    /// ```
    ObjstoreKey = "SG114", "objstore-key", Error, ["model::validate::thanos"];

    /// two scrape jobs share a name
    ///
    /// ## What it does
    /// Reports a `[[scrape]]` job whose name is used twice, or is the name of a job
    /// stackgen writes itself.
    ///
    /// ## Why is this bad?
    /// Prometheus refuses a configuration with two scrape_configs of the same job_name
    /// ("found multiple scrape configs with job name"), and the whole server fails to
    /// start. stackgen writes built-in jobs too (prometheus, kubernetes-*, kube-etcd,
    /// kube-scheduler, kube-controller-manager, alertmanager); a [[scrape]] job must not
    /// reuse their names.
    ///
    /// ## Example
    /// ```toml
    /// [[scrape]]
    /// job = "kubernetes-pods"   # clashes with the built-in job; name it "pods-extra"
    /// ```
    DuplicateJob = "SG115", "duplicate-job", Error, ["model::validate::scrape", "model::validate::probe"];

    /// a Kubernetes version stackgen does not target
    ///
    /// ## What it does
    /// Reports a `[stack] kubernetes_version` that is not one of the minor versions
    /// stackgen targets (1.33 and later).
    ///
    /// ## Why is this bad?
    /// stackgen emits API versions and validates output for Kubernetes 1.33 and later
    /// (k8s-openapi feature v1_33, the oldest cluster supported); kubernetes-validate
    /// checks every render against the version named here. Older clusters lack APIs the
    /// output relies on, and 1.31 removed the in-tree rbd volume.
    ///
    /// ## Example
    /// ```toml
    /// [stack]
    /// kubernetes_version = "1.29"   # write "1.33" (or a newer minor `stackgen schema` lists)
    /// ```
    UnsupportedKubernetes = "SG116", "unsupported-kubernetes", Error, ["model::schema", "model::validate::stack"];

    /// the in-tree rbd volume is gone
    ///
    /// ## What it does
    /// Reports `backend = "rbd"` and a `[storage.rbd]` table.
    ///
    /// ## Why is this bad?
    /// Kubernetes removed the in-tree Ceph RBD volume plugin in 1.31
    /// (kubernetes#124546): a PV using it never mounts. stackgen emits claims on a
    /// ceph-csi (`rbd.csi.ceph.com`) or Rook class instead.
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// backend = "rbd"   # write backend = "ceph" with a [storage.ceph] table
    /// ```
    InTreeRbd = "SG117", "in-tree-rbd", Error, ["model::schema"];

    /// a static target is not host:port
    ///
    /// ## What it does
    /// Checks every `static_targets` entry of a `[[scrape]]` job: `host:port`, without a
    /// scheme or path.
    ///
    /// ## Why is this bad?
    /// static_targets are Prometheus `targets`. Prometheus would otherwise refuse the
    /// config or scrape a wrong address; the scheme and path go in `scheme` and
    /// `metrics_path`.
    ///
    /// ## Example
    /// ```toml
    /// [[scrape]]
    /// job = "nodes"
    /// static_targets = ["http://10.0.0.1:9100/metrics"]   # write "10.0.0.1:9100"
    /// ```
    ScrapeTarget = "SG118", "scrape-target", Error, ["model::validate::scrape"];

    VolumeTooSmall = "SG119", "volume-too-small", Warning, rule sg119_volume_too_small, [];

    /// the storage backend and its table disagree
    ///
    /// ## What it does
    /// Reports a `[storage.*]` table for another backend than `[storage] backend`.
    ///
    /// ## Why is this bad?
    /// Each backend reads its own table: backend = "nfs" reads [storage.nfs]. A table for
    /// another backend would be ignored, so what it says would silently not happen.
    ///
    /// ## Example
    /// ```toml
    /// [storage]
    /// backend = "nfs"
    ///
    /// [storage.iscsi]   # ignored with backend = "nfs"
    /// ```
    BackendTable = "SG120", "backend-table", Error, ["model::validate::storage"];

    ComponentEphemeral = "SG121", "component-ephemeral", Error, rule sg121_component_ephemeral, [];
    RootProvisioner = "SG122", "root-provisioner", Warning, rule sg122_root_provisioner, [];
    GrafanaAdmin = "SG123", "grafana-admin", Warning, rule sg123_grafana_admin, [];
    SecretValue = "SG124", "secret-value", Error, rule sg124_secret_value, [];
    HelmUnsupported = "SG125", "helm-unsupported", Warning, rule sg125_helm_unsupported, [];

    /// an object storage config that cannot work
    ///
    /// ## What it does
    /// Reports object storage configs that pass every schema and still cannot work.
    ///
    /// ## Why is this bad?
    /// `type = "filesystem"` with more than one Prometheus pod gives each pod its own
    /// "bucket" (a directory on its own read-only root filesystem), so Query, Store
    /// Gateway and Compactor never see the blocks; an S3 or Azure `endpoint` written as a
    /// URL (`https://minio:9000`) is refused by the client (minio-go: "Endpoint url
    /// cannot have fully qualified paths"), and the sidecar never uploads.
    ///
    /// ## Example
    /// ```toml
    /// [thanos.objstore]
    /// type = "s3"
    /// endpoint = "https://minio.minio.svc:9000"   # write "minio.minio.svc:9000" (insecure = true for plain HTTP)
    /// ```
    ObjstoreUnusable = "SG126", "objstore-unusable", Error, ["model::validate::thanos"];

    NamespaceDefault = "SG127", "namespace-default", Warning, rule sg127_namespace_default, [];
    NamespaceKube = "SG128", "namespace-kube", Error, rule sg128_namespace_kube, [];
    ControlPlaneLocalhost = "SG129", "control-plane-localhost", Warning, rule sg129_control_plane_localhost, [];
    RetentionSizeHeadroom = "SG130", "retention-size-headroom", Warning, rule sg130_retention_size_headroom, [];

    /// a rule file is not valid YAML
    ///
    /// ## What it does
    /// Reports a Prometheus rule file (`[rules] files`) that is not one valid YAML
    /// document, at the line and column of the syntax error.
    ///
    /// ## Why is this bad?
    /// Prometheus refuses to load a rule file it cannot read, and with it the whole
    /// configuration reload fails: no rule of any file is updated.
    ///
    /// ## Example
    /// ```yaml
    /// groups:
    ///   - name: [example     # an unclosed flow sequence
    /// ```
    RuleFileYaml = "SG131", "rule-file-yaml", Error, ["alerting::rules"];

    /// a rule file has a key or value Prometheus does not read
    ///
    /// ## What it does
    /// Checks the shape of a rule file as Prometheus' `rulefmt` reads it, strictly:
    /// `groups:`, each group with `name`, `rules` and optionally `interval`,
    /// `query_offset`, `limit`, `labels`; each rule with `expr` and exactly one of
    /// `alert` and `record`, and `for`, `keep_firing_for`, `annotations` only on alerts.
    ///
    /// ## Why is this bad?
    /// Prometheus refuses a rule file with an unknown key (`field x not found`) or a
    /// rule that is both or neither an alert and a recording rule, and the reload that
    /// reads it fails.
    ///
    /// ## Example
    /// ```yaml
    /// groups:
    ///   - name: example
    ///     rules:
    ///       - alert: Down
    ///         expr: up == 0
    ///         duration: 5m     # write `for: 5m`
    /// ```
    RuleFileShape = "SG132", "rule-file-shape", Error, ["alerting::rules"];

    /// two rule groups of one name in a file
    ///
    /// ## What it does
    /// Reports a rule group whose `name` is used by an earlier group of the same file.
    ///
    /// ## Why is this bad?
    /// Prometheus refuses the file (`groupname: "x" is repeated in the same file`); the
    /// group name is also the key of the group's state across reloads.
    ///
    /// ## Example
    /// ```yaml
    /// groups:
    ///   - name: node
    ///     rules: []
    ///   - name: node     # rename: node-disk
    ///     rules: []
    /// ```
    DuplicateRuleGroup = "SG133", "duplicate-rule-group", Error, ["alerting::rules"];

    /// a duration in a rule file that Prometheus does not read
    ///
    /// ## What it does
    /// Checks `interval`, `query_offset`, `for` and `keep_firing_for`: Prometheus
    /// durations, a number and a unit, largest unit first (`30s`, `5m`, `1h30m`).
    ///
    /// ## Why is this bad?
    /// Prometheus refuses the file (`not a valid duration string`).
    ///
    /// ## Example
    /// ```yaml
    /// for: 5mins     # write 5m
    /// ```
    RuleDuration = "SG134", "rule-duration", Error, ["alerting::rules"];

    /// a label, annotation or recording rule name that is not valid
    ///
    /// ## What it does
    /// Checks label and annotation names (`[a-zA-Z_][a-zA-Z0-9_]*`, never `__name__`
    /// for a label) and recording rule names (metric names, `[a-zA-Z_:][a-zA-Z0-9_:]*`,
    /// without braces).
    ///
    /// ## Why is this bad?
    /// Prometheus 2 refuses other names. Prometheus 3 accepts any UTF-8 name, but
    /// Alertmanager routes and inhibitions, Thanos and most dashboards match on classic
    /// names, so an alert labelled `team-name` silently misses its route; stackgen keeps
    /// to the names every consumer reads.
    ///
    /// ## Example
    /// ```yaml
    /// labels:
    ///   team-name: sre     # write team_name
    /// ```
    RuleLabelName = "SG135", "rule-label-name", Error, ["alerting::rules"];

    /// a rule expression that is not valid PromQL
    ///
    /// ## What it does
    /// Parses every `expr` of a rule file with a PromQL parser and reports the error at
    /// its line and column in the rule file, inside the expression (block scalars
    /// included).
    ///
    /// ## Why is this bad?
    /// Prometheus refuses the whole rule file (`could not parse expression`) and the
    /// reload fails, so an error in one alert stops every rule change from loading.
    ///
    /// ## Example
    /// ```yaml
    /// expr: sum(rate(http_requests_total[5m])    # a `)` is missing
    /// ```
    PromqlSyntax = "SG136", "promql-syntax", Error, ["alerting::rules"];

    /// an alert's label or annotation template is not closed
    ///
    /// ## What it does
    /// Checks the Go template delimiters of an alerting rule's labels and annotations:
    /// every `{{` closed by `}}` before the next `{{`, strings inside actions closed.
    /// The error is at its line and column in the rule file.
    ///
    /// ## Why is this bad?
    /// Prometheus parses the templates when it loads the rule file and refuses the whole
    /// file on an error (`template: __alert_X:1: unexpected "}" in operand`), so the
    /// reload fails.
    ///
    /// ## Example
    /// ```yaml
    /// annotations:
    ///   summary: "{{ $labels.instance } is down"    # write {{ $labels.instance }}
    /// ```
    RuleTemplate = "SG137", "rule-template", Error, ["alerting::rules"];
    MemoryEstimate = "SG138", "memory-estimate", Warning, rule sg138_memory_estimate, [];

    /// a probe target its module cannot probe
    ///
    /// ## What it does
    /// Checks every `targets` entry of a `[[probe]]` against its `module`: the http
    /// modules probe URLs (`https://...`), `tcp_connect` probes host:port, `icmp` a host
    /// name or address, `dns` a DNS server (host or host:port).
    ///
    /// ## Why is this bad?
    /// The blackbox_exporter reads the target as its module does: an http module given
    /// `api.example.com:443` probes `http://api.example.com:443` (plain HTTP to a TLS
    /// port), tcp_connect given a URL fails every probe. The probe reports
    /// `probe_success 0` for ever and its alert means nothing.
    ///
    /// ## Example
    /// ```toml
    /// [[probe]]
    /// module = "tcp_connect"
    /// targets = ["https://db.example.com"]   # write "db.example.com:5432"
    /// ```
    ProbeTarget = "SG145", "probe-target", Error, ["model::validate::probe"];

    /// a `[rules] files` entry matches no readable rule file
    ///
    /// ## What it does
    /// Resolves each `[rules] files` glob relative to the directory of stack.toml and
    /// reports a pattern that matches no file, a file that cannot be read (not a regular
    /// file, not UTF-8, larger than 4 MiB), a wildcard in a directory part, two files of
    /// the same name (they would share one key of the rules ConfigMap), and files that
    /// together would not fit the 1 MiB of that ConfigMap.
    ///
    /// ## Why is this bad?
    /// A rule file that is silently left out is an alert that never fires. Every file the
    /// stack names is loaded into the rules ConfigMap and checked (SG131-SG137) before
    /// anything is rendered.
    ///
    /// ## Example
    /// ```toml
    /// [rules]
    /// files = ["rule/*.yaml"]   # the directory is rules/
    /// ```
    RuleFiles = "SG146", "rule-files", Error, ["rulefiles"];
    MemoryLimitBelowFlags = "SG147", "memory-limit-below-flags", Warning, rule sg147_memory_limit_below_flags, [];
    NoReceivers = "SG155", "no-receivers", Warning, rule sg155_no_receivers, [];
    ExposedWithoutFrom = "SG156", "exposed-without-from", Warning, rule sg156_exposed_without_from, [];

    /// an Alertmanager receiver or route that cannot work
    ///
    /// ## What it does
    /// Checks `[[alertmanager.receivers]]` and `[alertmanager.route]` as Alertmanager
    /// would load them: receiver names unique, every route naming a defined receiver,
    /// each type's required keys there (email: `to`, `from`, `smarthost`; a `secret`
    /// for every type that reads a credential) and no key another type reads, matchers
    /// written `label op "value"`.
    ///
    /// ## Why is this bad?
    /// Alertmanager refuses a configuration whose route names an undefined receiver
    /// (`undefined receiver "x" used in route`) or that defines one twice, and keeps
    /// running the old one: the change silently never applies. A key another type
    /// reads would be ignored.
    ///
    /// ## Example
    /// ```toml
    /// [[alertmanager.receivers]]
    /// name = "oncall"
    /// type = "webhook"
    /// secret = "am-oncall"   # key url: kubectl create secret generic am-oncall --from-literal=url=https://...
    ///
    /// [alertmanager.route]
    /// receiver = "on-call"   # write "oncall"
    /// ```
    AlertmanagerRoute = "SG157", "alertmanager-route", Error, ["model::validate::alertmanager"];

    /// an exposure that cannot be rendered as written
    ///
    /// ## What it does
    /// Checks `[expose.<component>]` and `[grafana] egress`: the component exists, the
    /// keys fit the type (`node_port` for nodeport and loadbalancer; `host`, required,
    /// `ingress_class`, `tls_secret` and `controller_namespace` for ingress), node ports
    /// are unique, `from` and `egress` are networks (`10.0.0.0/8`, `10.0.0.25/32:587`),
    /// and Prometheus is exposed only when there is one shard.
    ///
    /// ## Why is this bad?
    /// The API server refuses a second Service on the same node port (`provided port is
    /// already allocated`); a NetworkPolicy with a malformed ipBlock is refused too. With
    /// several shards each Prometheus holds only its share of the series, so exposing
    /// one shard gives answers that look complete and are not: Thanos Query is the one
    /// endpoint that sees every shard.
    ///
    /// ## Example
    /// ```toml
    /// [sharding]
    /// shards = 4
    ///
    /// [expose.prometheus]   # write [expose.query]: Thanos Query reads every shard
    /// type = "nodeport"
    /// ```
    Expose = "SG158", "expose", Error, ["model::validate::expose"];
    OperatorUnsupported = "SG160", "operator-unsupported", Warning, rule sg160_operator_unsupported, [];

    /// the render would exceed the output limit
    ///
    /// ## What it does
    /// Estimates the size of the render from what multiplies it (shards x scrape jobs x
    /// targets) and refuses a stack whose render would be above 256 MiB, before writing
    /// anything (stdout, `-o DIR`, `--check`, `diff`).
    ///
    /// ## Why is this bad?
    /// Every shard carries a prometheus.yml with every scrape job and target, so the
    /// render grows with shards x jobs: 100,000 jobs at 64 shards would write 3.7 GB.
    ///
    /// ## Example
    /// ```toml
    /// [sharding]
    /// shards = 64   # with 100,000 [[scrape]] jobs: use fewer shards or jobs, or split the stack
    /// ```
    OutputTooLarge = "SG202", "output-too-large", Error, ["lib"];
}
