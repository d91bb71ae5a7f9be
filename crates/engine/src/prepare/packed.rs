//! [`Prepared`] as the engine keeps it between reconciles: each object as its compact JSON.
//! Parsed, a small ConfigMap takes ~3 KB (every JSON map is a B-tree node of eleven slots) against
//! ~400 bytes of JSON, and an app's desired objects are needed only while it reconciles.

use std::collections::HashSet;
use std::sync::Arc;

use ferry_apply::object::ObjKey;
use ferry_apply::plan::Desired;

use super::Prepared;
use crate::compare::Resource;

#[derive(Clone, Debug, Default)]
pub struct PackedPrepared {
    objects: Vec<PackedObject>,
    kinds: HashSet<(String, String)>,
}

#[derive(Clone, Debug)]
struct PackedObject {
    json: Box<[u8]>,
    origin: String,
    /// Set when the object is also a tracked resource: its key and `ignore_extraneous`.
    resource: Option<(ObjKey, bool)>,
    /// The resource's values `ignoreDifferences` stripped (usually none).
    stripped: Option<Arc<Vec<(String, serde_json::Value)>>>,
}

impl Prepared {
    /// The packed form; `None` if an object does not serialize (it always should: it is a
    /// `Value`), in which case the caller keeps the parsed form.
    pub fn pack(&self) -> Option<PackedPrepared> {
        let mut resources = self.resources.iter().peekable();
        let mut objects = Vec::with_capacity(self.desired.len());
        for d in self.desired.iter() {
            // Resources are the desired objects that are tracked, in the same order and the
            // same allocations.
            let matched = resources.next_if(|r| Arc::ptr_eq(&r.object, &d.object));
            let resource = matched.map(|r| (r.key.clone(), r.ignore_extraneous));
            let stripped = matched.and_then(|r| r.stripped.clone());
            let json = serde_json::to_vec(&*d.object).ok()?.into_boxed_slice();
            objects.push(PackedObject { json, origin: d.origin.clone(), resource, stripped });
        }
        if resources.next().is_some() {
            // A resource that is not among the desired objects: never built so; keep it parsed.
            return None;
        }
        Some(PackedPrepared { objects, kinds: self.kinds.clone() })
    }
}

impl PackedPrepared {
    /// One tracked resource parsed (the others stay packed), with its origin.
    pub fn resource(&self, key: &ObjKey) -> Option<(serde_json::Value, String)> {
        let o = self.objects.iter().find(|o| o.resource.as_ref().is_some_and(|(k, _)| k == key))?;
        Some((serde_json::from_slice(&o.json).ok()?, o.origin.clone()))
    }

    /// The parsed form back; `None` if an object no longer parses (it was serialized from a
    /// `Value`, so it always should).
    pub fn unpack(&self) -> Option<Prepared> {
        let mut desired = Vec::with_capacity(self.objects.len());
        let mut resources = Vec::new();
        for o in &self.objects {
            let object: Arc<serde_json::Value> = Arc::new(serde_json::from_slice(&o.json).ok()?);
            if let Some((key, ignore_extraneous)) = &o.resource {
                resources.push(Resource {
                    key: key.clone(),
                    object: object.clone(),
                    origin: o.origin.clone(),
                    ignore_extraneous: *ignore_extraneous,
                    stripped: o.stripped.clone(),
                });
            }
            desired.push(Desired { object, origin: o.origin.clone() });
        }
        Some(Prepared {
            resources: Arc::new(resources),
            desired: Arc::new(desired),
            kinds: self.kinds.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resource(name: &str) -> (Resource, Desired) {
        let object = Arc::new(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "a"}, "data": {"k": "v"}}));
        let key = ObjKey::of(&object).expect("a key");
        let origin = format!("{name}.yaml");
        let r = Resource {
            key,
            object: object.clone(),
            origin: origin.clone(),
            ignore_extraneous: true,
            stripped: Default::default(),
        };
        (r, Desired { object, origin })
    }

    #[test]
    fn a_packed_app_unpacks_to_the_same_objects_resources_and_kinds() {
        let (a, da) = resource("a");
        let (b, db) = resource("b");
        let hook = Desired { object: Arc::new(json!({"kind": "Job"})), origin: "hook.yaml".into() };
        let prepared = Prepared {
            resources: Arc::new(vec![a, b]),
            desired: Arc::new(vec![da, hook, db]),
            kinds: [("v1".to_owned(), "ConfigMap".to_owned())].into(),
        };
        let back = prepared.pack().expect("packs").unpack().expect("unpacks");
        let objects =
            |p: &Prepared| p.desired.iter().map(|d| (*d.object).clone()).collect::<Vec<_>>();
        assert_eq!(objects(&back), objects(&prepared));
        let keys = |p: &Prepared| p.resources.iter().map(|r| r.key.to_string()).collect::<Vec<_>>();
        assert_eq!(keys(&back), keys(&prepared));
        assert!(back.resources.iter().all(|r| r.ignore_extraneous));
        assert!(Arc::ptr_eq(&back.resources[1].object, &back.desired[2].object));
        assert_eq!(back.kinds, prepared.kinds);
    }
}
