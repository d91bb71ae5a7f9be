//! Built-in kinds. Only the parts that differ from the defaults (granular structs, atomic
//! lists) are spelled out; the markers follow the Kubernetes 1.32 OpenAPI (`+listType`,
//! `+listMapKey`, `+patchMergeKey`, `+structType=atomic`).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::Value;

use super::{List, ListKind, MapKey, Node, ObjectType, PatchStrategy, Struct};

fn st(fields: Vec<(&str, Node)>) -> Node {
    Node::Struct(Struct {
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>(),
        atomic: false,
        rest: Box::new(Node::Loose),
        defaults: BTreeMap::new(),
    })
}

fn atomic_struct() -> Node {
    Node::Struct(Struct {
        fields: BTreeMap::new(),
        atomic: true,
        rest: Box::new(Node::Loose),
        defaults: BTreeMap::new(),
    })
}

fn atomic_list() -> Node {
    Node::List(List {
        kind: ListKind::Atomic,
        elem: Box::new(Node::Loose),
        patch: PatchStrategy::Replace,
    })
}

fn string_map() -> Node {
    Node::Map { elem: Box::new(Node::Scalar), atomic: false }
}

/// An associative list keyed by `keys` (a `(name, default)` pair each), merged by `merge_key`
/// under strategic merge patch.
fn list_map(keys: &[(&str, Option<&str>)], merge_key: &str, elem: Node) -> Node {
    Node::List(List {
        kind: ListKind::Map(
            keys.iter()
                .map(|(k, d)| MapKey {
                    name: k.to_string(),
                    default: d.map(|s| Value::String(s.to_string())),
                })
                .collect(),
        ),
        elem: Box::new(elem),
        patch: PatchStrategy::MergeKey(merge_key.to_string()),
    })
}

fn by_name() -> Node {
    list_map(&[("name", None)], "name", Node::Loose)
}

fn conditions() -> Node {
    list_map(&[("type", None)], "type", Node::Loose)
}

fn metadata() -> Node {
    st(vec![
        ("labels", string_map()),
        ("annotations", string_map()),
        (
            "finalizers",
            Node::List(List {
                kind: ListKind::Set,
                elem: Box::new(Node::Scalar),
                patch: PatchStrategy::MergePrimitives,
            }),
        ),
        ("ownerReferences", list_map(&[("uid", None)], "uid", Node::Loose)),
        ("managedFields", atomic_list()),
    ])
}

fn resources() -> Node {
    st(vec![
        ("limits", string_map()),
        ("requests", string_map()),
        ("claims", list_map(&[("name", None)], "name", Node::Loose)),
    ])
}

fn container() -> Node {
    st(vec![
        (
            "ports",
            list_map(
                &[("containerPort", None), ("protocol", Some("TCP"))],
                "containerPort",
                Node::Loose,
            ),
        ),
        ("env", by_name()),
        ("volumeMounts", list_map(&[("mountPath", None)], "mountPath", Node::Loose)),
        ("volumeDevices", list_map(&[("devicePath", None)], "devicePath", Node::Loose)),
        ("resources", resources()),
    ])
}

fn pod_spec() -> Node {
    st(vec![
        ("containers", list_map(&[("name", None)], "name", container())),
        ("initContainers", list_map(&[("name", None)], "name", container())),
        ("ephemeralContainers", list_map(&[("name", None)], "name", container())),
        ("volumes", by_name()),
        ("imagePullSecrets", by_name()),
        ("hostAliases", list_map(&[("ip", None)], "ip", Node::Loose)),
        (
            "topologySpreadConstraints",
            list_map(
                &[("topologyKey", None), ("whenUnsatisfiable", None)],
                "topologyKey",
                Node::Loose,
            ),
        ),
        ("resourceClaims", by_name()),
        ("schedulingGates", by_name()),
        ("nodeSelector", string_map()),
        ("overhead", string_map()),
    ])
}

fn pod_template() -> Node {
    st(vec![("metadata", metadata()), ("spec", pod_spec())])
}

fn pod_status() -> Node {
    st(vec![
        ("conditions", conditions()),
        ("podIPs", list_map(&[("ip", None)], "ip", Node::Loose)),
        ("hostIPs", list_map(&[("ip", None)], "ip", Node::Loose)),
    ])
}

fn object(spec: Node, status: Node) -> Node {
    st(vec![("metadata", metadata()), ("spec", spec), ("status", status)])
}

fn status_conditions() -> Node {
    st(vec![("conditions", conditions())])
}

fn workload(extra: Vec<(&str, Node)>) -> Node {
    let mut fields = vec![("selector", atomic_struct()), ("template", pod_template())];
    fields.extend(extra);
    object(st(fields), status_conditions())
}

fn ty(root: Node, status_subresource: bool) -> ObjectType {
    ObjectType { root, status_subresource, strategic_merge: true }
}

fn table() -> HashMap<(&'static str, &'static str), ObjectType> {
    let mut t = HashMap::new();
    let plain = || st(vec![("metadata", metadata())]);
    t.insert(("", "Pod"), ty(object(pod_spec(), pod_status()), true));
    t.insert(
        ("", "PodTemplate"),
        ty(st(vec![("metadata", metadata()), ("template", pod_template())]), false),
    );
    t.insert(
        ("", "ReplicationController"),
        ty(
            object(
                st(vec![("selector", string_map()), ("template", pod_template())]),
                status_conditions(),
            ),
            true,
        ),
    );
    for kind in ["Deployment", "ReplicaSet", "DaemonSet"] {
        t.insert(("apps", kind), ty(workload(vec![]), true));
    }
    t.insert(
        ("apps", "StatefulSet"),
        ty(workload(vec![("volumeClaimTemplates", atomic_list())]), true),
    );
    t.insert(
        ("batch", "Job"),
        ty(
            object(
                st(vec![("selector", atomic_struct()), ("template", pod_template())]),
                st(vec![]),
            ),
            true,
        ),
    );
    let job_template =
        st(vec![("spec", st(vec![("selector", atomic_struct()), ("template", pod_template())]))]);
    t.insert(
        ("batch", "CronJob"),
        ty(object(st(vec![("jobTemplate", job_template)]), st(vec![])), true),
    );
    let service_ports = list_map(&[("port", None), ("protocol", Some("TCP"))], "port", Node::Loose);
    t.insert(
        ("", "Service"),
        ty(
            object(
                st(vec![("ports", service_ports), ("selector", string_map())]),
                status_conditions(),
            ),
            true,
        ),
    );
    for kind in ["ConfigMap", "Secret"] {
        t.insert(
            ("", kind),
            ty(
                st(vec![
                    ("metadata", metadata()),
                    ("data", string_map()),
                    ("stringData", string_map()),
                    ("binaryData", string_map()),
                ]),
                false,
            ),
        );
    }
    for kind in ["Namespace", "Node", "PersistentVolumeClaim", "PersistentVolume"] {
        t.insert(("", kind), ty(object(st(vec![]), status_conditions()), true));
    }
    for (group, kind) in [
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("networking.k8s.io", "Ingress"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
    ] {
        t.insert((group, kind), ty(object(st(vec![]), status_conditions()), true));
    }
    for kind in ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"] {
        t.insert(
            ("admissionregistration.k8s.io", kind),
            ty(st(vec![("metadata", metadata()), ("webhooks", by_name())]), false),
        );
    }
    t.insert(("", "ServiceAccount"), ty(plain(), false));
    t
}

const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "admissionregistration.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "scheduling.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "resource.k8s.io",
];

/// The built-in shape of `kind` in `group`; other built-ins are loose structs, anything else
/// (custom resources nobody described) is untyped.
pub(super) fn lookup(group: &str, kind: &str) -> &'static ObjectType {
    static TABLE: OnceLock<HashMap<(&'static str, &'static str), ObjectType>> = OnceLock::new();
    static LOOSE_BUILTIN: OnceLock<ObjectType> = OnceLock::new();
    static UNTYPED: OnceLock<ObjectType> = OnceLock::new();
    let table = TABLE.get_or_init(table);
    if let Some(t) = table.iter().find(|((g, k), _)| *g == group && *k == kind).map(|(_, t)| t) {
        return t;
    }
    if BUILTIN_GROUPS.contains(&group) {
        return LOOSE_BUILTIN.get_or_init(|| ty(st(vec![("metadata", metadata())]), false));
    }
    UNTYPED.get_or_init(|| ObjectType {
        root: Node::Struct(Struct {
            fields: [("metadata".to_string(), metadata())].into_iter().collect(),
            atomic: false,
            rest: Box::new(Node::Untyped),
            defaults: BTreeMap::new(),
        }),
        status_subresource: false,
        strategic_merge: false,
    })
}

/// The typed `metadata` node, shared with CRD schemas.
pub(super) fn metadata_node() -> Node {
    metadata()
}
