//! Compiled CRD schemas, one entry per CRD, recompiled only when the CRD's resourceVersion
//! changes: a request for a custom resource never compiles a schema or a CEL rule.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::SchemaError;
use super::schema::{Node, compile};
use crate::resources::ResourceType;
use crate::store::{Key, Store};

struct Compiled {
    resource_version: String,
    /// By version name; a version without a schema is absent (anything is accepted).
    versions: HashMap<String, Arc<Node>>,
}

/// The cache, kept in the server's shared state.
#[derive(Default)]
pub struct CrdSchemas {
    by_crd: RwLock<HashMap<String, Arc<Compiled>>>,
}

/// Compiles the schema of every version of `crd`.
pub fn compile_crd(crd: &Value) -> Result<HashMap<String, Arc<Node>>, SchemaError> {
    let mut out = HashMap::new();
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array);
    for (i, v) in versions.into_iter().flatten().enumerate() {
        let (Some(name), Some(schema)) =
            (v.get("name").and_then(Value::as_str), v.pointer("/schema/openAPIV3Schema"))
        else {
            continue;
        };
        let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
        out.insert(name.to_string(), Arc::new(compile(schema, &path)?));
    }
    Ok(out)
}

impl CrdSchemas {
    /// The compiled schema of custom resource type `rt`, or `None` for built-in kinds and
    /// versions without a schema.
    pub fn for_type(&self, store: &Store, rt: &ResourceType) -> Option<Arc<Node>> {
        let crd_name = rt.crd.as_ref()?;
        let key = Key {
            storage: "apiextensions.k8s.io/customresourcedefinitions".into(),
            namespace: String::new(),
            name: crd_name.clone(),
        };
        let crd = store.get(&key)?;
        let rv = crd.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("");
        {
            let cached = self.by_crd.read().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = cached.get(crd_name).filter(|c| c.resource_version == rv) {
                return c.versions.get(&rt.version).cloned();
            }
        }
        let versions = match compile_crd(&crd) {
            Ok(v) => v,
            Err(e) => {
                // Only a CRD stored before its schema was checked can get here (a new one
                // with a bad schema is refused): serve it unvalidated rather than not at all.
                tracing::warn!(crd = %crd_name, error = %e, "a CRD schema does not compile; its objects are not validated");
                HashMap::new()
            }
        };
        let found = versions.get(&rt.version).cloned();
        let entry = Arc::new(Compiled { resource_version: rv.to_string(), versions });
        self.by_crd.write().unwrap_or_else(|e| e.into_inner()).insert(crd_name.clone(), entry);
        found
    }
}
