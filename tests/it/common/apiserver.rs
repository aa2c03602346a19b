//! A bare API server for the tests that run the real Prometheus Operator: etcd and
//! kube-apiserver on loopback ports, a token user and an admin client certificate (the
//! operator takes `--apiserver` and a certificate, not a kubeconfig), both in
//! `system:masters`. No controller manager or scheduler: the control_plane module runs the
//! whole control plane through scripts/control-plane.sh.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{real, run, tool};

pub struct ApiServer {
    dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub secure_port: u16,
    kubectl: PathBuf,
    procs: Vec<Child>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Run a command that must succeed; its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{cmd:?}: {err}");
    out
}

impl ApiServer {
    /// Start etcd and kube-apiserver and wait until `/readyz` answers. `None` (the test
    /// skips, or fails under CI=true through `real`/`tool`) when a program is missing.
    pub fn start() -> Option<ApiServer> {
        let (etcd, apiserver, kubectl) = (real("etcd")?, real("kube-apiserver")?, real("kubectl")?);
        let openssl = tool("openssl")?;
        let dir = tempfile::tempdir().unwrap();
        let path = |n: &str| dir.path().join(n);
        let ssl = |args: &[&str]| {
            ok(Command::new(&openssl).args(args).current_dir(dir.path()));
        };
        ssl(&["genrsa", "-out", "sa.key", "2048"]);
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=stackgen-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=admin/O=system:masters",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
        ]);
        ssl(&[
            "x509",
            "-req",
            "-days",
            "1",
            "-CAcreateserial",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-out",
            "client.crt",
        ]);
        std::fs::write(path("tokens.csv"), "stackgen-test-token,admin,admin,system:masters\n").unwrap();
        let (client, peer, secure) = (super::free_port(), super::free_port(), super::free_port());
        let kubeconfig = path("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"https://127.0.0.1:{secure}\", insecure-skip-tls-verify: true}}}}]\n\
                 users: [{{name: u, user: {{token: stackgen-test-token}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
            ),
        )
        .unwrap();
        let mut server = ApiServer { kubeconfig, secure_port: secure, kubectl, procs: Vec::new(), dir };
        server.spawn(
            &etcd,
            vec![
                format!("--data-dir={}", server.path("etcd").display()),
                format!("--listen-client-urls=http://127.0.0.1:{client}"),
                format!("--advertise-client-urls=http://127.0.0.1:{client}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                format!("--initial-cluster=default=http://127.0.0.1:{peer}"),
            ],
            "etcd.log",
        );
        server.spawn(
            &apiserver,
            vec![
                format!("--etcd-servers=http://127.0.0.1:{client}"),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={secure}"),
                format!("--cert-dir={}", server.path("certs").display()),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-account-key-file={}", server.path("sa.key").display()),
                format!("--service-account-signing-key-file={}", server.path("sa.key").display()),
                "--service-cluster-ip-range=10.96.0.0/16".into(),
                "--authorization-mode=AlwaysAllow".into(),
                format!("--token-auth-file={}", server.path("tokens.csv").display()),
                format!("--client-ca-file={}", server.path("ca.crt").display()),
                "--endpoint-reconciler-type=none".into(),
                "--disable-admission-plugins=TaintNodesByCondition".into(),
            ],
            "apiserver.log",
        );
        let deadline = Instant::now() + Duration::from_secs(90);
        while run(server.kubectl().args(["get", "--raw", "/readyz"])).0 != 0 {
            assert!(
                Instant::now() < deadline,
                "apiserver not ready:\n{}",
                std::fs::read_to_string(server.path("apiserver.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        Some(server)
    }

    /// A file in the server's temporary directory (logs are `<program>.log` there).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// kubectl with the admin kubeconfig.
    pub fn kubectl(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        c
    }

    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// Start a program with its output in `<dir>/<log>`; stopped with the server.
    pub fn spawn(&mut self, bin: &Path, args: Vec<String>, log: &str) {
        let log = std::fs::File::create(self.path(log)).unwrap();
        let child = Command::new(bin).args(args).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("starts");
        self.procs.push(child);
    }

    /// The flags that connect the Prometheus Operator to this server as the admin.
    pub fn operator_flags(&self) -> Vec<String> {
        vec![
            format!("--apiserver=https://127.0.0.1:{}", self.secure_port),
            "--tls-insecure".into(),
            format!("--cert-file={}", self.path("client.crt").display()),
            format!("--key-file={}", self.path("client.key").display()),
        ]
    }
}

impl ApiServer {
    /// The chart's world, as a user applies it: the stack's helm values and companion
    /// manifests (`values.yaml`, `manifests.yaml` in the server's directory), `helm
    /// template` of kube-prometheus-stack 88.5.3 with them, its CRDs (established), the
    /// companions, the StorageClass the claims name (a real cluster has it; the operator
    /// checks it), and the chart's Secrets, ConfigMaps, ServiceAccounts, Services and
    /// Prometheus resource. Returns the chart's objects.
    pub fn apply_chart_world(&self, helm_bin: &Path, s: &stackgen::model::Stack) -> Vec<serde_json::Value> {
        let path = |n: &str| self.path(n);
        let out = stackgen::render::helm::render(s);
        std::fs::write(path("values.yaml"), &out.values).unwrap();
        std::fs::write(path("manifests.yaml"), &out.manifests).unwrap();
        let chart_objs = helm_template(helm_bin, s, &path("values.yaml"));
        std::fs::write(path("crds.yaml"), pick_kinds(&chart_objs, &["CustomResourceDefinition"])).unwrap();
        std::fs::write(
            path("chart.yaml"),
            pick_kinds(&chart_objs, &["Secret", "ConfigMap", "ServiceAccount", "Service", "Prometheus"]),
        )
        .unwrap();
        ok(self.kubectl().args(["apply", "--server-side", "-f"]).arg(path("crds.yaml")));
        ok(self.kubectl().args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/prometheuses.monitoring.coreos.com",
        ]));
        ok(self.kubectl().args(["apply", "--server-side", "-f"]).arg(path("manifests.yaml")));
        let cr = chart_objs.iter().find(|o| o["kind"] == "Prometheus").expect("the chart's Prometheus");
        let class = cr["spec"]["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"].as_str().unwrap();
        std::fs::write(
            path("class.yaml"),
            format!("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: {class}}}\nprovisioner: example.com/test\n"),
        )
        .unwrap();
        ok(self.kubectl().args(["apply", "-f"]).arg(path("class.yaml")));
        ok(self.kubectl().args(["apply", "--server-side", "-f"]).arg(path("chart.yaml")));
        chart_objs
    }
}

/// `helm template` of kube-prometheus-stack 88.5.3 (with its CRDs) for the stack's
/// release and namespace with these values: the chart's objects.
pub fn helm_template(helm_bin: &Path, s: &stackgen::model::Stack, values: &Path) -> Vec<serde_json::Value> {
    let chart = ok(Command::new(helm_bin)
        .args(["template", s.name.as_str()])
        .arg(super::root().join("../shared/reference-data/charts/kube-prometheus-stack-88.5.3.tgz"))
        .args(["--include-crds", "--namespace", s.namespace.as_str(), "--values"])
        .arg(values));
    super::docs(&chart).into_iter().filter(|o| !o.is_null()).collect()
}

/// The objects of these kinds as a multi-document stream for `kubectl apply -f`.
pub fn pick_kinds(objs: &[serde_json::Value], kinds: &[&str]) -> String {
    objs.iter()
        .filter(|o| kinds.contains(&o["kind"].as_str().unwrap_or_default()))
        .map(|o| format!("---\n{}\n", serde_json::to_string(o).unwrap()))
        .collect()
}
