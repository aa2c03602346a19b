//! Render a validated [`Stack`] into Kubernetes objects. Objects are typed k8s-openapi
//! structs, converted to JSON values once and sorted by (kind rank, namespace, name);
//! `yaml.rs` writes them. Nothing here reads the clock, the environment or a hash map,
//! so the same stack gives the same bytes everywhere.

pub mod helm;
pub mod k8s;
pub mod network;
pub mod prometheus;
pub mod scanners;
pub mod storage;
pub mod thanos;
pub mod workloads;
pub mod yaml;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::Stack;

/// Kinds in apply order: what others depend on comes first.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "StorageClass",
    "PersistentVolume",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "StatefulSet",
    "Deployment",
    "PodDisruptionBudget",
    "NetworkPolicy",
];

/// One rendered object.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub value: Value,
}

impl Object {
    pub fn new<
        T: Serialize
            + k8s_openapi::Resource
            + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    >(
        o: &T,
    ) -> Self {
        let meta = o.metadata();
        Object {
            kind: T::KIND.to_string(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            value: serde_json::to_value(o).expect("k8s objects serialize"),
        }
    }
    fn rank(&self) -> usize {
        KIND_ORDER.iter().position(|k| *k == self.kind).unwrap_or(KIND_ORDER.len())
    }
    /// `<kind>-<name>.yaml`, lower case, for `-o DIR`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.kind.to_lowercase(), self.name)
    }
}

/// Names and labels shared by every builder.
pub struct Names<'a> {
    pub stack: &'a Stack,
}

impl Names<'_> {
    pub fn ns(&self) -> String {
        self.stack.namespace.to_string()
    }
    /// `<stack>-<suffix>` for namespaced objects.
    pub fn obj(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.stack.name)
    }
    /// `<namespace>-<stack>-<suffix>` for cluster-scoped objects, so two stacks of the
    /// same name in different namespaces do not collide.
    pub fn cluster(&self, suffix: &str) -> String {
        format!("{}-{}-{suffix}", self.stack.namespace, self.stack.name)
    }
    pub fn shard(&self, i: u16) -> String {
        self.obj(&format!("prometheus-shard-{i}"))
    }
    /// Selector labels of a component: stable for the life of the stack.
    pub fn selector(&self, name: &str, shard: Option<u16>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("app.kubernetes.io/name".into(), name.to_string());
        m.insert("app.kubernetes.io/instance".into(), self.stack.name.to_string());
        if let Some(s) = shard {
            m.insert("stackgen.dev/shard".into(), s.to_string());
        }
        m
    }
    /// All labels of an object: selector labels, component, part-of, managed-by, and the
    /// stack's own labels.
    pub fn labels(&self, name: &str, component: &str, shard: Option<u16>) -> BTreeMap<String, String> {
        let mut m = self.stack.labels.clone();
        m.extend(self.selector(name, shard));
        m.insert("app.kubernetes.io/component".into(), component.to_string());
        m.insert("app.kubernetes.io/part-of".into(), "stackgen".into());
        m.insert("app.kubernetes.io/managed-by".into(), "stackgen".into());
        m
    }
    pub fn cluster_domain(&self) -> &str {
        &self.stack.kubernetes.cluster_domain
    }
    /// Fully qualified name of a Service in the stack's namespace.
    pub fn svc_fqdn(&self, svc: &str) -> String {
        format!("{svc}.{}.svc.{}", self.stack.namespace, self.cluster_domain())
    }
}

/// Every object of the stack, in apply order.
pub fn render(stack: &Stack) -> Vec<Object> {
    let n = Names { stack };
    let mut objs = Vec::with_capacity(16 + 4 * usize::from(stack.sharding.shards));
    objs.push(k8s::namespace(&n));
    storage::objects(&n, &mut objs);
    prometheus::objects(&n, &mut objs);
    if stack.thanos.is_some() {
        thanos::objects(&n, &mut objs);
    }
    workloads::objects(&n, &mut objs);
    network::objects(&n, &mut objs);
    scanners::annotate(&mut objs);
    sort(&mut objs);
    objs
}

pub fn sort(objs: &mut [Object]) {
    objs.sort_by(|a, b| (a.rank(), &a.namespace, &a.name).cmp(&(b.rank(), &b.namespace, &b.name)));
}

/// The whole render as one multi-document YAML stream.
pub fn to_yaml(objs: &[Object]) -> String {
    yaml::to_stream(objs.iter().map(|o| &o.value))
}
