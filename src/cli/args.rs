//! Command-line arguments (clap derive); README.md documents the commands.

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "stackgen",
    version,
    about = "Compile stack.toml into deterministic Kubernetes manifests for a durable, sharded, HA Prometheus + Thanos stack"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render the stack: YAML on stdout, or one file per object with -o DIR.
    Render {
        /// The stack file; `-` reads standard input.
        #[arg(default_value = "stack.toml")]
        stack: String,
        /// Write one file per object plus kustomization.yaml into DIR (atomically).
        #[arg(short = 'o', long = "output", value_name = "DIR", conflicts_with = "check")]
        output: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RenderFormat::Manifests)]
        format: RenderFormat,
        /// Compare with a committed render (a file or an -o directory); exit 1 with a diff when stale.
        #[arg(long, value_name = "FILE|DIR")]
        check: Option<String>,
        /// With -o: keep files stackgen wrote earlier that this render no longer has (by default
        /// -o makes DIR exactly the render; files without stackgen's header are never touched).
        #[arg(long, requires = "output")]
        keep_stale: bool,
        /// Accepted for compatibility: -o removes stackgen's stale files by default now.
        #[arg(long, requires = "output", hide = true, conflicts_with = "keep_stale")]
        prune: bool,
        #[command(flatten)]
        policy: LintPolicy,
    },
    /// Check stack files and report every problem.
    Lint {
        /// Stack files; `-` reads standard input.
        #[arg(default_value = "stack.toml")]
        stacks: Vec<String>,
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
        /// Exit 1 on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Also report what the given render target cannot express (helm-values: SG125, operator: SG160).
        #[arg(long, value_enum, default_value_t = RenderFormat::Manifests)]
        target: RenderFormat,
        #[command(flatten)]
        policy: LintPolicy,
    },
    /// Compare the render with a previous render, live objects, or another stack.
    Diff {
        /// The stack file; `-` reads standard input.
        #[arg(default_value = "stack.toml")]
        stack: String,
        /// A previous render (file or -o directory), or `-` for `kubectl get -o yaml` output on stdin.
        #[arg(long, value_name = "FILE|DIR|-", conflicts_with = "base", required_unless_present = "base")]
        against: Option<String>,
        /// Another stack.toml (e.g. from the main branch) to render and compare against.
        #[arg(long, value_name = "OLD_STACK")]
        base: Option<String>,
        /// Output format; `helm-values` is short for `--target helm-values --format human`.
        #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
        format: DiffFormat,
        /// What to compare: stackgen's manifests (default), the chart's world (values key by key,
        /// companion objects, risks named with the operator's objects), or the operator render.
        #[arg(long, value_enum)]
        target: Option<RenderFormat>,
    },
    /// Capacity per shard from the load the stack declares (ingestion_rate or active_series).
    Plan {
        /// The stack file; `-` reads standard input.
        #[arg(default_value = "stack.toml")]
        stack: String,
        #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
        format: PlanFormat,
    },
    /// Print a runbook (a shell script) that moves an existing TSDB into one pod's volume.
    Migrate {
        /// The stack file.
        #[arg(default_value = "stack.toml")]
        stack: String,
        /// The old TSDB: HOST:PATH (reached by ssh) or a local path.
        #[arg(long, value_name = "HOST:PATH", required_unless_present = "resize")]
        from: Option<String>,
        /// Instead: the runbook that grows every Prometheus claim to [storage] size (from claims_size).
        #[arg(long, conflicts_with_all = ["from", "shard", "replica", "bwlimit"])]
        resize: bool,
        /// The shard whose pod receives the data.
        #[arg(long, default_value_t = 0)]
        shard: u16,
        /// The replica (pod ordinal) that receives the data.
        #[arg(long, default_value_t = 0)]
        replica: u32,
        /// rsync's --bwlimit for the copies.
        #[arg(long, value_name = "RATE", default_value = "200M")]
        bwlimit: String,
        /// The render the data moves into: stackgen's manifests or the chart (operator names).
        #[arg(long, value_enum, default_value_t = RenderFormat::Manifests)]
        target: RenderFormat,
    },
    /// Print the JSON Schema of stack.toml.
    Schema,
    /// Print a commented stack.toml to start from (or write it with -o FILE).
    Init {
        /// Where Prometheus keeps its TSDB.
        #[arg(long, value_enum, default_value_t = InitBackend::Class)]
        backend: InitBackend,
        /// Add Thanos (sidecar, Query, Store Gateway, Compactor) with S3 object storage.
        #[arg(long)]
        thanos: bool,
        /// The stack name: a DNS-1123 label of at most 30 characters.
        #[arg(long, default_value = stackgen::init::DEFAULT_NAME, value_parser = parse_name)]
        name: String,
        /// Write the file instead of printing it; an existing file is kept unless --force.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<String>,
        /// With -o: replace an existing file.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// Print the long explanation of a diagnostic code (SG101 or no-persistent-storage); `list` lists them,
    /// `plan` the factors of `stackgen plan` with their sources.
    Explain { code: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenderFormat {
    Manifests,
    HelmValues,
    /// Prometheus Operator resources (Prometheus, Alertmanager, PrometheusRule) plus companions.
    Operator,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Json,
    Github,
    /// SARIF 2.1.0, one log for all files (GitHub code scanning).
    Sarif,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitBackend {
    /// Static local PVs, one per node.
    Local,
    /// Static NFS PVs (lint warns: NFS is not a supported TSDB filesystem).
    Nfs,
    /// Static iSCSI PVs, one per LUN.
    Iscsi,
    /// Ceph RBD through CSI (Rook's class or ceph-csi).
    Ceph,
    /// Any existing StorageClass.
    Class,
    /// emptyDir (lint warns: history is lost on restart).
    Ephemeral,
}

impl From<InitBackend> for stackgen::init::Backend {
    fn from(b: InitBackend) -> Self {
        use stackgen::init::Backend as B;
        match b {
            InitBackend::Local => B::Local,
            InitBackend::Nfs => B::Nfs,
            InitBackend::Iscsi => B::Iscsi,
            InitBackend::Ceph => B::Ceph,
            InitBackend::Class => B::Class,
            InitBackend::Ephemeral => B::Ephemeral,
        }
    }
}

fn parse_name(s: &str) -> Result<String, String> {
    stackgen::init::check_name(s).map(|()| s.to_string())
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Human,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Human,
    Json,
    /// `--target helm-values`, human output.
    HelmValues,
}

/// `--allow` / `--deny`: the command line's lint configuration (over the file's `[lint]`).
#[derive(clap::Args, Debug, Default)]
pub struct LintPolicy {
    /// Allow a warning (code such as SG102, or its name); repeatable, comma-separated. Errors cannot be allowed.
    #[arg(long, value_name = "CODE")]
    pub allow: Vec<String>,
    /// Make a warning an error (wins over every allow); repeatable, comma-separated.
    #[arg(long, value_name = "CODE")]
    pub deny: Vec<String>,
}
