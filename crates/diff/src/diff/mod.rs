//! Desired vs live: does what Ferry declares and owns match the cluster, and if not, what
//! differs and who changed it.
//!
//! # Guarantees
//! - Only fields the desired object sets are compared (both sides defaulted the way the API
//!   server would), plus fields Ferry applied before, no longer declares and nobody else owns
//!   (an apply would remove them). Fields only other managers set are never drift.
//! - `status` and server-managed metadata are ignored.
//! - Values under `data`/`stringData` of a v1 Secret never appear in a [`FieldChange`] or in
//!   [`render_unified`]: they are masked, with a short keyed hash so a change stays visible.
//!
//! # Caveats
//! A field the desired object declares is drift when the live value differs, whoever owns it
//! now: `kubectl scale` on a Ferry-owned `replicas` moves ownership to `kubectl`, and that is
//! exactly the drift to report. To tolerate a co-owner (an HPA), leave the field out of the
//! manifest or name its manager in [`DiffOptions::ignore_manager`].

mod compute;
mod declared;
mod mask;
mod quantity;
mod render;

use std::sync::Arc;

use serde_json::Value;

pub use compute::diff_object;
pub use mask::{MASK, is_secret, mask_secret, mask_value};
pub use quantity::quantities_equal;
pub use render::render_unified;

use crate::fieldset::FieldSetError;
use crate::schema::Schema;
use crate::ssa::{ManagedFieldsError, Operation};

/// How to compare.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// The field manager whose declarations are compared (`ferry`).
    pub manager: String,
    /// JSON pointers (`/spec/replicas`) ignored on both sides, like Argo CD's `jsonPointers`.
    pub ignore_pointers: Vec<String>,
    /// Fields these managers own are ignored, like Argo CD's `managedFieldsManagers`.
    pub ignore_managers: Vec<String>,
    /// Git's values of ignored pointers the caller took out of the desired object before it
    /// was applied (pointer → value): reported in [`ObjectDiff::ignored`] against the live value.
    pub stripped: Vec<(String, Value)>,
    /// Shapes of built-in kinds and known CRDs.
    pub schema: Arc<Schema>,
    /// Key for the hashes shown next to masked Secret values; set a per-installation secret so
    /// a hash cannot be checked against guessed values.
    pub mask_key: String,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            manager: "ferry".to_string(),
            ignore_pointers: Vec::new(),
            ignore_managers: Vec::new(),
            stripped: Vec::new(),
            schema: Arc::new(Schema::builtin()),
            mask_key: String::new(),
        }
    }
}

impl DiffOptions {
    /// Compares what `manager` declares.
    pub fn manager(mut self, manager: impl Into<String>) -> Self {
        self.manager = manager.into();
        self
    }

    /// Ignores a JSON pointer on both sides.
    pub fn ignore_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.ignore_pointers.push(pointer.into());
        self
    }

    /// Ignores fields owned by this manager.
    pub fn ignore_manager(mut self, manager: impl Into<String>) -> Self {
        self.ignore_managers.push(manager.into());
        self
    }

    /// Uses these shapes (built-ins plus CRDs).
    pub fn schema(mut self, schema: Arc<Schema>) -> Self {
        self.schema = schema;
        self
    }

    /// Keys the masked-value hashes.
    pub fn mask_key(mut self, key: impl Into<String>) -> Self {
        self.mask_key = key.into();
        self
    }
}

/// Who last wrote a field, from managedFields.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChangedBy {
    pub manager: String,
    pub operation: Operation,
    pub time: Option<String>,
    /// `""` for the main resource.
    pub subresource: String,
}

/// One field that differs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FieldChange {
    /// The field, as `.spec.template.spec.containers[name="web"].image`.
    pub path: String,
    /// What Ferry declares (`None`: Ferry no longer declares it and an apply would remove it).
    pub desired: Option<Value>,
    /// What the cluster has (`None`: missing).
    pub live: Option<Value>,
    /// The manager that owns the live value, preferring one other than Ferry.
    pub changed_by: Option<ChangedBy>,
}

/// The comparison of one object.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ObjectDiff {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Empty when in sync.
    pub changes: Vec<FieldChange>,
    /// Differences the ignore rules leave out (never drift, never applied), each with its rule,
    /// so a reader sees them greyed instead of not at all. Secret values masked as in `changes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<IgnoredChange>,
}

/// A difference an ignore rule leaves out.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IgnoredChange {
    #[serde(flatten)]
    pub change: FieldChange,
    /// The rule, as the app states it: `jsonPointers /spec/replicas`,
    /// `managedFieldsManagers hpa-controller`.
    pub rule: String,
}

impl ObjectDiff {
    /// Whether live matches desired.
    pub fn in_sync(&self) -> bool {
        self.changes.is_empty()
    }
}

impl serde::Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Errors comparing an object.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The desired or live object is not a JSON object with apiVersion, kind and name.
    #[error("{side} object: {problem}")]
    Invalid { side: &'static str, problem: String },
    /// The desired and live objects are not the same object.
    #[error("desired {desired} and live {live} are different objects")]
    Mismatch { desired: String, live: String },
    /// The desired object's fields do not fit its schema.
    #[error("{side} {name}: invalid fields")]
    Fields {
        side: &'static str,
        name: String,
        #[source]
        source: FieldSetError,
    },
    /// The live object's managedFields do not parse.
    #[error("live {name}: invalid managedFields")]
    ManagedFields {
        name: String,
        #[source]
        source: ManagedFieldsError,
    },
}
