//! The entry point: one object in, one [`Health`] out.

use serde_json::Value;

use crate::kinds;
use crate::object::{at, display_name, group_of, str_at};
use crate::rules::Rules;
use crate::status::Health;

/// Judges one live object.
///
/// In order: an object being deleted is `Progressing`; a user rule for its group/kind decides
/// next (it overrides the built-in judgement, as Argo CD's custom checks do); then the built-in
/// rule for its kind; any other kind is judged by the standard conditions, and is `Healthy` when
/// it has no status at all.
///
/// # Assumptions
/// `obj` is an object as the API server returns it (defaults applied, zero counters omitted).
/// Hooks are not special here: the caller decides what a hook's health means for a sync.
///
/// # Caveats
/// `Missing` is never returned: only the caller knows that an object it expects is absent.
pub fn assess(obj: &Value, rules: &Rules) -> Health {
    let (Some(api_version), Some(kind)) = (str_at(obj, &["apiVersion"]), str_at(obj, &["kind"]))
    else {
        return Health::unknown(format!(
            "{} has no apiVersion or kind, so its health cannot be judged",
            display_name(obj)
        ));
    };
    if at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|stamp| !stamp.is_null()) {
        return Health::progressing("pending deletion");
    }
    let group = group_of(api_version);
    if let Some(health) = rules.judge(group, kind, obj) {
        return health;
    }
    kinds::builtin(group, kind, obj)
}
