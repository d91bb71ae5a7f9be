//! How Ferry marks the objects it manages, so that watches can select them by label and prune can
//! prove ownership before deleting anything.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Label on every object Ferry applies; its value identifies the app (label-safe). Watches select
/// on this label, so Ferry never lists objects it does not manage.
pub const LABEL_APP: &str = "ferry.dev/app";
/// Annotation naming the owning Application exactly (`namespace/name`). Prune deletes an object only
/// when this matches, so a copy with the same label from another app is never touched.
pub const ANNOTATION_OWNER: &str = "ferry.dev/owner";
/// Annotation on hook objects: they are created per sync and are never drift or prune candidates.
pub const ANNOTATION_HOOK_OF: &str = "ferry.dev/hook-of";

/// The identity of an Application as written into its objects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppId {
    pub namespace: String,
    pub name: String,
}

impl AppId {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }

    /// The owner annotation's value.
    pub fn owner(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// A label value (at most 63 characters of `[a-z0-9A-Z-_.]`, alphanumeric at both ends): the
    /// app's name when it fits and is unambiguous, else a readable prefix plus a hash.
    pub fn label_value(&self) -> String {
        let plain = format!("{}.{}", self.namespace, self.name);
        if plain.len() <= 63 {
            return plain;
        }
        let digest = hex::encode(Sha256::digest(plain.as_bytes()));
        let prefix: String = self.name.chars().take(40).collect();
        format!("{}-{}", prefix.trim_end_matches(['-', '.', '_']), &digest[..16])
    }
}

impl std::fmt::Display for AppId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Writes Ferry's tracking label and owner annotation into `obj`.
pub fn mark(obj: &mut Value, app: &AppId) {
    set_metadata_entry(obj, "labels", LABEL_APP, &app.label_value());
    set_metadata_entry(obj, "annotations", ANNOTATION_OWNER, &app.owner());
}

/// The app whose ownership mark `obj` carries (`namespace/name`), if any.
pub fn owner_of(obj: &Value) -> Option<&str> {
    crate::object::annotation(obj, ANNOTATION_OWNER)
}

/// Whether `obj` carries `app`'s ownership mark.
pub fn is_owned_by(obj: &Value, app: &AppId) -> bool {
    crate::object::annotation(obj, ANNOTATION_OWNER) == Some(app.owner().as_str())
}

pub(crate) fn set_metadata_entry(obj: &mut Value, map: &str, key: &str, value: &str) {
    let Some(root) = obj.as_object_mut() else { return };
    let metadata = root.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else { return };
    let entries = metadata.entry(map).or_insert_with(|| json!({}));
    if !entries.is_object() {
        *entries = json!({});
    }
    if let Some(entries) = entries.as_object_mut() {
        entries.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_app_names_still_give_valid_label_values() {
        let app = AppId::new("ferry", "a".repeat(100));
        let v = app.label_value();
        assert!(v.len() <= 63, "{v}");
        assert_ne!(v, AppId::new("ferry", format!("{}b", "a".repeat(99))).label_value());
        assert_eq!(AppId::new("ferry", "guestbook").label_value(), "ferry.guestbook");
    }

    #[test]
    fn marking_an_object_makes_it_owned_by_that_app_only() {
        let mut obj = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}});
        let app = AppId::new("ferry", "one");
        mark(&mut obj, &app);
        assert!(is_owned_by(&obj, &app));
        assert!(!is_owned_by(&obj, &AppId::new("ferry", "two")));
        assert_eq!(obj["metadata"]["labels"][LABEL_APP], "ferry.one");
    }
}
