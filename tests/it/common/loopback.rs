//! Rendered pods as processes on 127.0.0.1: the tests' stand-in for a kubelet.
//!
//! A [`Cluster`] holds the rendered objects and runs the containers of chosen pods as
//! local processes with the rendered flags, environment and config files. Only what cannot
//! be the same on one host changes, and every such change goes through one function,
//! [`Cluster::to_loopback`]:
//! - **ports**: in Kubernetes every pod has its own network namespace; here all share
//!   127.0.0.1, so each declared `containerPort` of each pod gets its own free loopback
//!   port, and `:9090`, `0.0.0.0:9090`, `localhost:9090` and `$(POD_IP):9090` name it in
//!   that pod. A listen or peer port the pod does not declare is a test failure.
//! - **hostnames**: `<pod>.<service>.<ns>.svc.<domain>` is that pod's loopback address;
//!   `dnssrv+_<port-name>._tcp.<service>.<ns>.svc.<domain>` (Thanos' DNS SRV) becomes one
//!   address per running pod the Service selects, as cluster DNS answers for a headless
//!   Service (so a Service whose selector or port name is wrong finds nothing here either).
//! - **paths**: a `mountPath` is that volume's directory under the test's temp dir:
//!   ConfigMaps and Secrets are written out key by key, emptyDirs and claims start empty,
//!   and the service-account token Kubernetes mounts when `automountServiceAccountToken`
//!   is on holds a dummy token and CA. A path on no volume is a test failure.
//!
//! Environment: exactly the container's rendered `env` (literal values, `fieldRef`,
//! `secretKeyRef` from the rendered Secrets or from those the test provides in place of
//! the user's own, `configMapKeyRef`); `$(VAR)` in args is expanded from it as the
//! kubelet does. Processes are killed when the cluster is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The service-account mount Kubernetes adds when `automountServiceAccountToken` is on.
pub const SA_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const SA_VOLUME: &str = "kube-api-access";
/// The pod IP every pod has here.
pub const POD_IP: &str = "127.0.0.1";

pub struct Pod {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// The pod template's spec.
    pub spec: Value,
    /// The headless Service that gives the pod its DNS name (a StatefulSet's serviceName).
    subdomain: Option<String>,
    /// containerPort → loopback port.
    ports: BTreeMap<i64, u16>,
    /// volume name → directory.
    volumes: BTreeMap<String, PathBuf>,
    running: bool,
}

struct Proc {
    pod: String,
    container: String,
    child: Child,
    log: PathBuf,
}

pub struct Cluster {
    docs: Vec<Value>,
    domain: String,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// Secrets neither rendered nor provided read as empty (for checks that only read
    /// config files, never credentials).
    placeholder_secrets: bool,
    pods: Vec<Pod>,
    procs: Vec<Proc>,
    root: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

pub use super::free_port;

/// `host:port` with a numeric port, the host without `/`.
fn split_addr(s: &str) -> Option<(&str, i64)> {
    let (host, port) = s.rsplit_once(':')?;
    if host.contains('/') || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Kubernetes' `$(VAR)` expansion of command and args from the container's environment:
/// `$$` escapes, unknown references stay as written.
pub fn expand_kube(s: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match env.iter().rev().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

impl Cluster {
    /// `docs`: the rendered objects; `domain`: the cluster DNS domain the render used.
    pub fn new(docs: Vec<Value>, domain: &str) -> Self {
        Cluster {
            docs,
            domain: domain.to_string(),
            secrets: BTreeMap::new(),
            placeholder_secrets: false,
            pods: Vec::new(),
            procs: Vec::new(),
            root: tempfile::tempdir().unwrap(),
        }
    }

    /// A Secret the stack references but does not render (the user creates it).
    pub fn with_secret(mut self, name: &str, data: &[(&str, &str)]) -> Self {
        self.secrets.insert(name.to_string(), data.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect());
        self
    }

    /// Secrets the user would create read as empty (pods are only inspected, not run).
    pub fn with_placeholder_secrets(mut self) -> Self {
        self.placeholder_secrets = true;
        self
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn docs(&self) -> &[Value] {
        &self.docs
    }

    pub fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    }

    pub fn object(&self, kind: &str, name: &str) -> &Value {
        self.find(kind, name).unwrap_or_else(|| panic!("the render has no {kind} {name}"))
    }

    /// Edit a rendered object before pods using it are added (used only for what a test
    /// must attach and says so).
    pub fn object_mut(&mut self, kind: &str, name: &str) -> &mut Value {
        self.docs
            .iter_mut()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("the render has no {kind} {name}"))
    }

    /// Names of the workloads (StatefulSet, Deployment) whose pod template carries `labels`.
    pub fn workloads(&self, labels: &[(&str, &str)]) -> Vec<(String, String)> {
        self.docs
            .iter()
            .filter(|d| d["kind"] == "StatefulSet" || d["kind"] == "Deployment")
            .filter(|d| labels.iter().all(|(k, v)| d["spec"]["template"]["metadata"]["labels"][*k] == *v))
            .map(|d| (d["kind"].as_str().unwrap().to_string(), d["metadata"]["name"].as_str().unwrap().to_string()))
            .collect()
    }

    /// Create (not start) every pod of a rendered StatefulSet or Deployment: `<name>-<i>`
    /// for i < spec.replicas, each with its ports and volumes. Returns the pod names.
    pub fn add_pods(&mut self, kind: &str, name: &str) -> Vec<String> {
        let w = self.object(kind, name).clone();
        let replicas = w["spec"]["replicas"].as_i64().unwrap_or(1);
        (0..replicas).map(|i| self.add_pod(&w, &format!("{name}-{i}"))).collect()
    }

    /// Create only the first pod (`<name>-0`) of a workload.
    pub fn add_first_pod(&mut self, kind: &str, name: &str) -> String {
        let w = self.object(kind, name).clone();
        self.add_pod(&w, &format!("{name}-0"))
    }

    fn add_pod(&mut self, workload: &Value, name: &str) -> String {
        assert!(self.pods.iter().all(|p| p.name != name), "pod {name} added twice");
        let template = &workload["spec"]["template"];
        let spec = template["spec"].clone();
        let namespace = workload["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
        let labels: BTreeMap<String, String> = template["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut ports = BTreeMap::new();
        for c in spec["containers"].as_array().unwrap() {
            for p in c["ports"].as_array().into_iter().flatten() {
                ports.insert(p["containerPort"].as_i64().unwrap(), free_port());
            }
        }
        let dir = self.root.path().join("pods").join(name);
        let mut volumes = BTreeMap::new();
        for v in spec["volumes"].as_array().into_iter().flatten() {
            let vname = v["name"].as_str().unwrap();
            let vdir = dir.join("volumes").join(vname);
            std::fs::create_dir_all(&vdir).unwrap();
            if let Some(cm) = v.get("configMap") {
                let data = self.config_map_data(cm["name"].as_str().unwrap());
                self.write_items(&vdir, &data, &cm["items"]);
            } else if let Some(sec) = v.get("secret") {
                let data = self.secret_data(sec["secretName"].as_str().unwrap());
                self.write_items(&vdir, &data, &sec["items"]);
            } else if v.get("emptyDir").is_some() || v.get("persistentVolumeClaim").is_some() {
                // Starts empty (a claim: a fresh volume).
            } else {
                panic!("pod {name}: volume {vname} is of a kind the loopback kubelet does not know: {v}");
            }
            volumes.insert(vname.to_string(), vdir);
        }
        for t in workload["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
            let vname = t["metadata"]["name"].as_str().unwrap();
            let vdir = dir.join("volumes").join(vname);
            std::fs::create_dir_all(&vdir).unwrap();
            volumes.insert(vname.to_string(), vdir);
        }
        // The kubelet creates a mount's subPath directory on the volume.
        for c in spec["containers"].as_array().unwrap() {
            for vm in c["volumeMounts"].as_array().into_iter().flatten() {
                if let (Some(sub), Some(vdir)) = (vm["subPath"].as_str(), volumes.get(vm["name"].as_str().unwrap())) {
                    std::fs::create_dir_all(vdir.join(sub)).unwrap();
                }
            }
        }
        if spec["automountServiceAccountToken"].as_bool().unwrap_or(true) {
            let vdir = dir.join("volumes").join(SA_VOLUME);
            std::fs::create_dir_all(&vdir).unwrap();
            std::fs::write(vdir.join("token"), "loopback-token").unwrap();
            std::fs::write(vdir.join("ca.crt"), "").unwrap();
            std::fs::write(vdir.join("namespace"), &namespace).unwrap();
            volumes.insert(SA_VOLUME.to_string(), vdir);
        }
        let subdomain = workload["spec"]["serviceName"].as_str().or(spec["subdomain"].as_str()).map(str::to_string);
        self.pods.push(Pod {
            name: name.to_string(),
            namespace,
            labels,
            spec,
            subdomain,
            ports,
            volumes,
            running: false,
        });
        name.to_string()
    }

    fn write_items(&self, dir: &Path, data: &BTreeMap<String, String>, items: &Value) {
        match items.as_array() {
            Some(items) => {
                for it in items {
                    let key = it["key"].as_str().unwrap();
                    let path = dir.join(it["path"].as_str().unwrap());
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, data.get(key).unwrap_or_else(|| panic!("no key {key}"))).unwrap();
                }
            }
            None => {
                for (k, v) in data {
                    std::fs::write(dir.join(k), v).unwrap();
                }
            }
        }
    }

    fn config_map_data(&self, name: &str) -> BTreeMap<String, String> {
        let cm = self.object("ConfigMap", name);
        cm["data"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    }

    /// A rendered Secret (stringData, or data in base64), else one the test provided.
    fn secret_data(&self, name: &str) -> BTreeMap<String, String> {
        if let Some(s) = self.find("Secret", name) {
            let mut m: BTreeMap<String, String> = s["stringData"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            for (k, v) in s["data"].as_object().into_iter().flatten() {
                m.insert(k.clone(), String::from_utf8(base64_decode(v.as_str().unwrap())).unwrap());
            }
            return m;
        }
        match self.secrets.get(name) {
            Some(s) => s.clone(),
            None if self.placeholder_secrets => BTreeMap::new(),
            None => panic!("Secret {name} is neither rendered nor provided by the test"),
        }
    }

    pub fn pod(&self, name: &str) -> &Pod {
        self.pods.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no pod {name}"))
    }

    fn pod_mut(&mut self, name: &str) -> &mut Pod {
        self.pods.iter_mut().find(|p| p.name == name).unwrap_or_else(|| panic!("no pod {name}"))
    }

    pub fn container(&self, pod: &str, container: &str) -> Value {
        self.pod(pod).spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == container)
            .unwrap_or_else(|| panic!("pod {pod} has no container {container}"))
            .clone()
    }

    /// Container names of a pod, in order.
    pub fn containers(&self, pod: &str) -> Vec<String> {
        self.pod(pod).spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// The directory of a pod's volume (claims included).
    pub fn volume_dir(&self, pod: &str, volume: &str) -> PathBuf {
        self.pod(pod).volumes.get(volume).unwrap_or_else(|| panic!("pod {pod} has no volume {volume}")).clone()
    }

    /// Loopback address of a pod's port, by containerPort name or number.
    pub fn addr(&self, pod: &str, port: &str) -> String {
        let p = self.pod(pod);
        let number = self.port_number(p, port);
        format!("{POD_IP}:{}", p.ports.get(&number).unwrap_or_else(|| panic!("pod {pod} declares no port {port}")))
    }

    fn port_number(&self, p: &Pod, port: &str) -> i64 {
        if let Ok(n) = port.parse() {
            return n;
        }
        p.spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .find(|cp| cp["name"] == port)
            .and_then(|cp| cp["containerPort"].as_i64())
            .unwrap_or_else(|| panic!("pod {} has no port named {port}", p.name))
    }

    /// The container's environment as the kubelet gives it.
    pub fn env(&self, pod: &str, container: &str) -> Vec<(String, String)> {
        let p = self.pod(pod);
        let c = self.container(pod, container);
        let mut env: Vec<(String, String)> = Vec::new();
        for e in c["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap().to_string();
            let value = if let Some(v) = e["value"].as_str() {
                expand_kube(v, &env)
            } else if let Some(f) = e["valueFrom"].get("fieldRef") {
                match f["fieldPath"].as_str().unwrap() {
                    "metadata.name" => p.name.clone(),
                    "metadata.namespace" => p.namespace.clone(),
                    "status.podIP" | "status.hostIP" => POD_IP.to_string(),
                    "spec.nodeName" => "loopback".to_string(),
                    other => panic!("pod {pod}: fieldRef {other} is not known to the loopback kubelet"),
                }
            } else if let Some(s) = e["valueFrom"].get("secretKeyRef") {
                let key = s["key"].as_str().unwrap();
                match self.secret_data(s["name"].as_str().unwrap()).get(key) {
                    Some(v) => v.clone(),
                    None if self.placeholder_secrets => format!("placeholder-{key}"),
                    None => panic!("Secret {} has no key {key}", s["name"]),
                }
            } else if let Some(s) = e["valueFrom"].get("configMapKeyRef") {
                let key = s["key"].as_str().unwrap();
                self.config_map_data(s["name"].as_str().unwrap()).get(key).unwrap().clone()
            } else {
                panic!("pod {pod}: env {name} has a source the loopback kubelet does not know: {e}");
            };
            env.push((name, value));
        }
        assert!(c.get("envFrom").is_none(), "envFrom is not supported by the loopback kubelet");
        env
    }

    /// The container's volume mounts, longest mount path first, plus the service-account
    /// mount Kubernetes adds.
    fn mounts(&self, pod: &str, container: &str) -> Vec<(String, PathBuf)> {
        let p = self.pod(pod);
        let c = self.container(pod, container);
        let mut m: Vec<(String, PathBuf)> = c["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|vm| {
                let vol = vm["name"].as_str().unwrap();
                let dir = p.volumes.get(vol).unwrap_or_else(|| panic!("pod {pod}: mount of unknown volume {vol}"));
                let dir = match vm["subPath"].as_str() {
                    Some(sub) => dir.join(sub),
                    None => dir.clone(),
                };
                (vm["mountPath"].as_str().unwrap().trim_end_matches('/').to_string(), dir)
            })
            .collect();
        if let Some(sa) = p.volumes.get(SA_VOLUME) {
            m.push((SA_MOUNT.to_string(), sa.clone()));
        }
        m.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        m
    }

    /// A path inside the container, on the volume that holds it.
    pub fn path(&self, pod: &str, container: &str, path: &str) -> Option<PathBuf> {
        for (mount, dir) in self.mounts(pod, container) {
            if path == mount {
                return Some(dir);
            }
            if let Some(rest) = path.strip_prefix(&format!("{mount}/")) {
                return Some(dir.join(rest));
            }
        }
        None
    }

    /// A config file's text as the container would read it here: every path under a
    /// key ending in `_file`/`_files` (or `files`) that lies on one of the container's
    /// volumes points at that volume's directory (the temp copies). Nothing else changes.
    pub fn config_to_loopback(&self, pod: &str, container: &str, text: &str) -> String {
        fn walk(v: &mut Value, is_path: bool, map: &dyn Fn(&str) -> Option<String>) {
            match v {
                Value::Object(m) => {
                    for (k, child) in m.iter_mut() {
                        walk(child, k.ends_with("_file") || k.ends_with("_files") || k == "files", map);
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(|c| walk(c, is_path, map)),
                Value::String(s) if is_path => {
                    if let Some(p) = map(s) {
                        *s = p;
                    }
                }
                _ => {}
            }
        }
        let mut cfg: Value = serde_saphyr::from_str(text).expect("config parses");
        walk(&mut cfg, false, &|s| self.path(pod, container, s).map(|p| p.display().to_string()));
        stackgen::render::yaml::to_string(&cfg)
    }

    /// THE mapping function: one rendered flag value (or address, URL, path) as it must
    /// read on loopback; several values for a DNS SRV name (one per running pod behind the
    /// Service), none when no pod runs there. Anything else is returned unchanged.
    pub fn to_loopback(&self, pod: &str, container: &str, value: &str) -> Vec<String> {
        if let Some(srv) = value.strip_prefix("dnssrv+") {
            return self.resolve_srv(srv);
        }
        if let Some((scheme, rest)) = value.split_once("://") {
            let (hostport, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            return vec![format!("{scheme}://{}{tail}", self.addr_to_loopback(pod, hostport))];
        }
        if value.starts_with('/') {
            let p = self
                .path(pod, container, value)
                .unwrap_or_else(|| panic!("pod {pod}/{container}: {value} is on no volume of the container"));
            return vec![p.display().to_string()];
        }
        if split_addr(value).is_some() {
            return vec![self.addr_to_loopback(pod, value)];
        }
        vec![value.to_string()]
    }

    fn addr_to_loopback(&self, pod: &str, hostport: &str) -> String {
        let Some((host, port)) = split_addr(hostport) else {
            return hostport.to_string();
        };
        let own = ["", "0.0.0.0", "[::]", "localhost", POD_IP];
        let target = if own.contains(&host) {
            pod.to_string()
        } else if let Some(p) = self.pod_by_dns(host) {
            p
        } else {
            return hostport.to_string(); // outside the stack (object storage, targets)
        };
        let p = self.pod(&target);
        let lp = p
            .ports
            .get(&port)
            .unwrap_or_else(|| panic!("{hostport}: port {port} is not a containerPort of pod {target}"));
        format!("{POD_IP}:{lp}")
    }

    /// `<pod>.<service>.<ns>.svc.<domain>` → the pod, when that Service selects it.
    fn pod_by_dns(&self, host: &str) -> Option<String> {
        let suffix = format!(".svc.{}", self.domain);
        let rest = host.strip_suffix(&suffix)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [pod, svc, ns] = parts[..] else { return None };
        let p = self.pods.iter().find(|p| p.name == pod && p.namespace == ns)?;
        let s = self
            .docs
            .iter()
            .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == svc && d["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("{host} would not resolve: no Service {svc} in {ns}"));
        // Cluster DNS publishes <pod>.<service> only for the pod's own headless Service.
        assert_eq!(p.subdomain.as_deref(), Some(svc), "{host} would not resolve: pod {pod}'s subdomain is not {svc}");
        assert_eq!(s["spec"]["clusterIP"], "None", "{host} would not resolve: Service {svc} is not headless");
        assert!(self.selects(s, p), "{host} would not resolve: Service {svc} does not select pod {pod}");
        Some(pod.to_string())
    }

    fn selects(&self, svc: &Value, p: &Pod) -> bool {
        let sel = svc["spec"]["selector"].as_object();
        sel.is_some_and(|sel| {
            !sel.is_empty() && sel.iter().all(|(k, v)| p.labels.get(k).map(String::as_str) == v.as_str())
        })
    }

    /// `_<port-name>._tcp.<service>.<ns>.svc.<domain>`: one address per running pod the
    /// headless Service selects, at the container port its named port targets.
    fn resolve_srv(&self, name: &str) -> Vec<String> {
        let (port_name, rest) = name
            .strip_prefix('_')
            .and_then(|n| n.split_once("._tcp."))
            .unwrap_or_else(|| panic!("{name}: not a DNS SRV name"));
        let suffix = format!(".svc.{}", self.domain);
        let svc_ns = rest.strip_suffix(&suffix).unwrap_or_else(|| panic!("{name}: not in {}", self.domain));
        let (svc, ns) = svc_ns.split_once('.').unwrap();
        let s = self
            .docs
            .iter()
            .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == svc && d["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("{name}: no Service {svc} in {ns}"));
        assert_eq!(s["spec"]["clusterIP"], "None", "{name}: SRV records per pod need a headless Service");
        let sp = s["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == port_name)
            .unwrap_or_else(|| panic!("{name}: Service {svc} has no port named {port_name}"));
        let target = sp["targetPort"].clone();
        let mut out = Vec::new();
        for p in self.pods.iter().filter(|p| p.running && p.namespace == ns && self.selects(s, p)) {
            let number = match &target {
                Value::String(n) => self.port_number(p, n),
                Value::Number(n) => n.as_i64().unwrap(),
                _ => sp["port"].as_i64().unwrap(),
            };
            out.push(format!("{POD_IP}:{}", p.ports[&number]));
        }
        out
    }

    /// The container's args as they would run here: `$(VAR)` expanded from its env, then
    /// every `--flag=value` through [`Cluster::to_loopback`].
    pub fn args(&self, pod: &str, container: &str) -> Vec<String> {
        let c = self.container(pod, container);
        assert!(c.get("command").is_none(), "{pod}/{container}: command is not supported here, only args");
        let env = self.env(pod, container);
        let mut out = Vec::new();
        for a in c["args"].as_array().into_iter().flatten() {
            let a = expand_kube(a.as_str().unwrap(), &env);
            match a.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    out.extend(self.to_loopback(pod, container, value).into_iter().map(|v| format!("{flag}={v}")));
                }
                _ => out.push(a),
            }
        }
        out
    }

    /// The loopback value of `--flag=` in the container's args (the first one).
    pub fn arg(&self, pod: &str, container: &str, flag: &str) -> Option<String> {
        let prefix = format!("{flag}=");
        self.args(pod, container).into_iter().find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
    }

    /// Start a container with its rendered args and env; `edit` may change the args (each
    /// test says why it does).
    pub fn start_with(&mut self, pod: &str, container: &str, bin: &Path, edit: impl FnOnce(&mut Vec<String>)) {
        let mut args = self.args(pod, container);
        edit(&mut args);
        let env = self.env(pod, container);
        let log = self.root.path().join("logs").join(format!("{pod}.{container}.log"));
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let file = std::fs::File::create(&log).unwrap();
        let workdir = self.root.path().join("pods").join(pod);
        std::fs::create_dir_all(&workdir).unwrap();
        let child = Command::new(bin)
            .args(&args)
            .env_clear()
            .envs(env)
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        self.procs.push(Proc { pod: pod.into(), container: container.into(), child, log });
        self.pod_mut(pod).running = true;
    }

    pub fn start(&mut self, pod: &str, container: &str, bin: &Path) {
        self.start_with(pod, container, bin, |_| {});
    }

    /// Start every container of a pod whose image repository ends with one of `bins`'
    /// names (`("prometheus/prometheus", path)`); containers without a binary here are
    /// listed on stderr and not run. Returns the started container names.
    pub fn start_pod(&mut self, pod: &str, bins: &[(&str, &Path)]) -> Vec<String> {
        let mut started = Vec::new();
        for c in self.pod(pod).spec["containers"].as_array().unwrap().clone() {
            let name = c["name"].as_str().unwrap();
            let image = c["image"].as_str().unwrap();
            let repo = image.split('@').next().unwrap().rsplit_once(':').map_or(image, |(r, _)| r);
            match bins.iter().find(|(suffix, _)| repo.ends_with(&format!("/{suffix}"))) {
                Some((_, bin)) => {
                    self.start(pod, name, bin);
                    started.push(name.to_string());
                }
                None => eprintln!("loopback: {pod}/{name} ({image}) has no local binary; not run"),
            }
        }
        started
    }

    /// Run a container to completion (a one-shot job), bounded by `timeout`; returns
    /// whether it exited 0 and its log.
    pub fn run_to_completion(
        &mut self,
        pod: &str,
        container: &str,
        bin: &Path,
        edit: impl FnOnce(&mut Vec<String>),
        timeout: Duration,
    ) -> (bool, String) {
        self.start_with(pod, container, bin, edit);
        let deadline = Instant::now() + timeout;
        let i = self.procs.iter().rposition(|p| p.pod == pod && p.container == container).unwrap();
        loop {
            if let Some(status) = self.procs[i].child.try_wait().unwrap() {
                self.pod_mut(pod).running = false;
                return (status.success(), self.log(pod, container));
            }
            if Instant::now() > deadline {
                let _ = self.procs[i].child.kill();
                panic!("{pod}/{container} did not finish within {timeout:?}:\n{}", self.log(pod, container));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kill every process of a pod (it leaves DNS: SRV lookups no longer list it).
    pub fn stop_pod(&mut self, pod: &str) {
        for p in self.procs.iter_mut().filter(|p| p.pod == pod) {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.procs.retain(|p| p.pod != pod);
        self.pod_mut(pod).running = false;
    }

    /// The latest log of a container (stdout and stderr).
    pub fn log(&self, pod: &str, container: &str) -> String {
        let log = self
            .procs
            .iter()
            .rev()
            .find(|p| p.pod == pod && p.container == container)
            .map(|p| p.log.clone())
            .unwrap_or_else(|| self.root.path().join("logs").join(format!("{pod}.{container}.log")));
        std::fs::read_to_string(log).unwrap_or_default()
    }

    fn tail(&self, pod: &str, container: &str) -> String {
        let log = self.log(pod, container);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Wait until the container's rendered readinessProbe (httpGet) answers 200; fail with
    /// its log if it exits or the deadline passes.
    pub fn wait_ready(&mut self, pod: &str, container: &str, timeout: Duration) {
        let c = self.container(pod, container);
        let probe = &c["readinessProbe"]["httpGet"];
        let path = probe["path"].as_str().unwrap_or_else(|| panic!("{pod}/{container} has no httpGet readinessProbe"));
        let port = match &probe["port"] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let addr = self.addr(pod, &port);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.procs.iter_mut().rev().find(|p| p.pod == pod && p.container == container) {
                if let Some(status) = p.child.try_wait().unwrap() {
                    panic!("{pod}/{container} exited ({status}):\n{}", self.tail(pod, container));
                }
            }
            if http("GET", &addr, path, None).is_some_and(|(code, _)| code == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pod}/{container} not ready at {addr}{path} within {timeout:?}:\n{}",
                self.tail(pod, container)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Fail with the container's log tail (for assertions about what a process did).
    pub fn explain(&self, pod: &str, container: &str) -> String {
        format!("--- {pod}/{container} log (tail) ---\n{}", self.tail(pod, container))
    }

    pub fn running(&self) -> BTreeSet<String> {
        self.pods.iter().filter(|p| p.running).map(|p| p.name.clone()).collect()
    }
}

/// A minimal HTTP/1.1 request to a loopback address; `(status, body)`, or None when the
/// connection fails.
pub fn http(method: &str, addr: &str, path: &str, body: Option<(&str, &[u8])>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((ctype, b)) = body {
        req.push_str(&format!("Content-Type: {ctype}\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    if let Some((_, b)) = body {
        s.write_all(b).ok()?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let out = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Some((code, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// GET returning parsed JSON (None on any failure or non-200).
pub fn get_json(addr: &str, path: &str) -> Option<Value> {
    let (code, body) = http("GET", addr, path, None)?;
    if code != 200 {
        return None;
    }
    serde_json::from_str(&body).ok()
}

/// Percent-encoding for a query-string value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One request a [`serve`]d handler sees.
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP server on a free loopback port, serving until the test process ends:
/// `handler` returns (status, content type, body). Returns the address.
pub fn serve(handler: impl Fn(&Request) -> (u16, String, String) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || serve_one(s, &*handler));
        }
    });
    addr
}

fn serve_one(mut s: TcpStream, handler: &dyn Fn(&Request) -> (u16, String, String)) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let req = Request { method, target, headers, body };
    let (code, ctype, resp) = handler(&req);
    let _ = write!(
        s,
        "HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
        resp.len()
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = table.iter().position(|t| *t == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Poll `f` until it returns Some, at most `timeout`; panics with `what` and the last
/// value seen by `describe` otherwise.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>, describe: impl Fn() -> String) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}\n{}", describe());
        std::thread::sleep(Duration::from_millis(300));
    }
}
