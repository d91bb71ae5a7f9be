//! What server-side apply and strategic merge patch need to know about a kind's shape: which
//! lists are maps keyed by which fields, which are sets, which values are atomic.
//!
//! Built-in kinds follow the `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` /
//! `x-kubernetes-patch-merge-key` markers of the Kubernetes 1.32 OpenAPI; custom resources
//! follow the `openAPIV3Schema` of their CRD ([`Schema::add_crd`]). Lists nobody described are
//! atomic, maps are granular.

mod builtin;
mod openapi;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

pub use openapi::node_from_openapi;

/// Errors reading a CRD or an OpenAPI schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The object is not an `apiextensions.k8s.io/v1` CustomResourceDefinition.
    #[error("{name}: not an apiextensions.k8s.io/v1 CustomResourceDefinition")]
    NotACrd { name: String },
    /// A required field of the CRD is missing or has the wrong type.
    #[error("CRD {crd}: field {field} is missing or not a {expected}")]
    MissingField { crd: String, field: &'static str, expected: &'static str },
    /// A `x-kubernetes-list-type: map` without `x-kubernetes-list-map-keys`.
    #[error("schema at {path}: list-type map needs x-kubernetes-list-map-keys")]
    MapListWithoutKeys { path: String },
    /// The schema nests deeper than the cap.
    #[error("schema at {path} nests deeper than {max} levels")]
    TooDeep { path: String, max: usize },
}

/// How a list merges under server-side apply.
#[derive(Clone, Debug, PartialEq)]
pub enum ListKind {
    /// Replaced as a whole (the default).
    Atomic,
    /// A set of scalars; each value is owned separately.
    Set,
    /// A map of items named by these key fields; each item is owned separately.
    Map(Vec<MapKey>),
}

/// A key field of an associative list; `default` stands in when an item omits it
/// (Service and container ports omit `protocol`: it means `TCP`).
#[derive(Clone, Debug, PartialEq)]
pub struct MapKey {
    pub name: String,
    pub default: Option<Value>,
}

/// How a list merges under strategic merge patch (`patchStrategy`/`patchMergeKey`).
#[derive(Clone, Debug, PartialEq)]
pub enum PatchStrategy {
    /// The patch replaces the list.
    Replace,
    /// Items are merged by this key field.
    MergeKey(String),
    /// A list of scalars merged as a union (`metadata.finalizers`).
    MergePrimitives,
}

/// The shape of one value.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A string, number, boolean or null.
    Scalar,
    /// An object with declared fields.
    Struct(Struct),
    /// An object whose keys are data (labels, `data` of a ConfigMap).
    Map { elem: Box<Node>, atomic: bool },
    /// A list.
    List(List),
    /// Nothing is known (a custom resource without schema, preserved unknown fields): objects
    /// are granular maps whose keys are owned themselves, lists are atomic.
    Untyped,
    /// A part of a built-in kind not spelled out here: objects are structs, lists are atomic.
    Loose,
}

/// An object with declared fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    pub fields: BTreeMap<String, Node>,
    /// `x-kubernetes-map-type: atomic` (LabelSelector, for one).
    pub atomic: bool,
    /// The shape of fields not declared.
    pub rest: Box<Node>,
    /// `default:` values of declared fields (custom resources; built-ins default in code).
    pub defaults: BTreeMap<String, Value>,
}

/// A list.
#[derive(Clone, Debug, PartialEq)]
pub struct List {
    pub kind: ListKind,
    pub elem: Box<Node>,
    pub patch: PatchStrategy,
}

/// What an object's value looks like at one node, given the value found there.
pub(crate) enum Shape<'a> {
    /// Owned as one value: a scalar, an atomic object or list, or a type mismatch.
    Leaf,
    /// A granular object.
    Object(&'a Node),
    /// A granular list (set or map).
    List(&'a List),
}

pub(crate) static UNTYPED: Node = Node::Untyped;
pub(crate) static LOOSE: Node = Node::Loose;

impl Node {
    pub(crate) fn shape(&self, v: &Value) -> Shape<'_> {
        match v {
            Value::Object(_) => match self {
                Node::Struct(s) if !s.atomic => Shape::Object(self),
                Node::Map { atomic: false, .. } | Node::Untyped | Node::Loose => {
                    Shape::Object(self)
                }
                _ => Shape::Leaf,
            },
            Value::Array(_) => match self {
                Node::List(l) if l.kind != ListKind::Atomic => Shape::List(l),
                _ => Shape::Leaf,
            },
            _ => Shape::Leaf,
        }
    }

    /// The node of field `name` of an object at this node, and whether that field is a member of
    /// field sets itself (map keys are; declared struct fields are not).
    pub(crate) fn field(&self, name: &str) -> (&Node, bool) {
        match self {
            Node::Struct(s) => match s.fields.get(name) {
                Some(n) => (n, false),
                None => (&s.rest, *s.rest == Node::Untyped),
            },
            Node::Map { elem, .. } => (elem, true),
            Node::Untyped => (&UNTYPED, true),
            Node::Loose => (&LOOSE, false),
            _ => (&LOOSE, false),
        }
    }

    /// The node of items of a list at this node.
    pub(crate) fn items(&self) -> &Node {
        match self {
            Node::List(l) => &l.elem,
            Node::Untyped => &UNTYPED,
            _ => &LOOSE,
        }
    }

    /// How a list at this node merges under strategic merge patch.
    pub fn patch_strategy(&self) -> &PatchStrategy {
        static REPLACE: PatchStrategy = PatchStrategy::Replace;
        match self {
            Node::List(l) => &l.patch,
            _ => &REPLACE,
        }
    }
}

/// The shape of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectType {
    pub root: Node,
    /// Whether `.status` is written through the `status` subresource only.
    pub status_subresource: bool,
    /// Whether strategic merge patch is supported (built-in kinds only, as in Kubernetes).
    pub strategic_merge: bool,
}

/// The shapes of all known kinds: built-ins plus the CRDs added.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    custom: HashMap<(String, String), ObjectType>,
}

fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

impl Schema {
    /// The built-in kinds of Kubernetes 1.32.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// Adds (or replaces) every served version of a CRD.
    pub fn add_crd(&mut self, crd: &Value) -> Result<(), SchemaError> {
        for (api_version, kind, ty) in openapi::crd_types(crd)? {
            self.custom.insert((api_version, kind), ty);
        }
        Ok(())
    }

    /// Forgets the kinds a CRD defined.
    pub fn remove_crd(&mut self, group: &str, kind: &str) {
        self.custom.retain(|(av, k), _| !(k == kind && group_of(av) == group));
    }

    /// Adds one kind with a shape built elsewhere.
    pub fn insert(&mut self, api_version: &str, kind: &str, ty: ObjectType) {
        self.custom.insert((api_version.to_string(), kind.to_string()), ty);
    }

    /// The shape of `kind` in `api_version`; unknown kinds are untyped.
    pub fn object_type(&self, api_version: &str, kind: &str) -> &ObjectType {
        if let Some(t) = self.custom.get(&(api_version.to_string(), kind.to_string())) {
            return t;
        }
        builtin::lookup(group_of(api_version), kind)
    }

    /// Fills in defaults the way the API server does before storing: the built-in rules of
    /// [`crate::defaults`] and, for custom resources, the `default:` values of the CRD schema.
    pub fn default_object(&self, obj: &mut Value) {
        crate::defaults::apply_defaults(obj);
        let root = &self.type_of(obj).root;
        let mut copy = std::mem::take(obj);
        structural_defaults(root, &mut copy, 0);
        *obj = copy;
    }

    /// The shape of an object, from its `apiVersion` and `kind`.
    pub fn type_of(&self, obj: &Value) -> &ObjectType {
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        self.object_type(av, kind)
    }
}

/// Kubernetes' structural defaulting: a declared field with a `default:` that is absent gets
/// it; then present values are defaulted by their own schema.
fn structural_defaults(node: &Node, v: &mut Value, depth: usize) {
    if depth > 96 {
        return;
    }
    match (node, v) {
        (Node::Struct(s), Value::Object(m)) => {
            for (k, d) in &s.defaults {
                if !m.contains_key(k) {
                    m.insert(k.clone(), d.clone());
                }
            }
            for (k, child) in m.iter_mut() {
                if let Some(n) = s.fields.get(k) {
                    structural_defaults(n, child, depth + 1);
                }
            }
        }
        (Node::Map { elem, .. }, Value::Object(m)) => {
            for child in m.values_mut() {
                structural_defaults(elem, child, depth + 1);
            }
        }
        (Node::List(l), Value::Array(items)) => {
            for item in items {
                structural_defaults(&l.elem, item, depth + 1);
            }
        }
        _ => {}
    }
}
