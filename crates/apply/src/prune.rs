//! Which objects a sync may delete. Pure, and deliberately narrow: only what the previous
//! inventory recorded, no longer rendered, still carrying this app's ownership mark, with the UID
//! the inventory recorded, and not annotated prune-disabled.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::annotations::ObjectOptions;
use crate::object::{ObjKey, str_at};
use crate::plan::PruneTask;
use crate::tracking::{AppId, is_owned_by};

/// One object Ferry applied for an app, as recorded in the app's status.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct InventoryEntry {
    #[serde(default)]
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    /// The UID the object had when Ferry last applied it; prune deletes with this as precondition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

impl InventoryEntry {
    pub fn key(&self) -> ObjKey {
        ObjKey {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Why an inventory entry that Git no longer declares is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Already gone from the cluster: nothing to delete (the entry leaves the inventory).
    Gone,
    NotOwned {
        owner: Option<String>,
    },
    UidChanged {
        recorded: String,
        live: String,
    },
    PruneDisabled,
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Gone => f.write_str("already deleted"),
            Keep::NotOwned { owner: Some(o) } => write!(f, "kept: now owned by {o}"),
            Keep::NotOwned { owner: None } => {
                f.write_str("kept: it no longer carries this app's ownership mark")
            }
            Keep::UidChanged { recorded, live } => {
                write!(
                    f,
                    "kept: it was recreated by someone else (uid {live}, Ferry applied uid {recorded})"
                )
            }
            Keep::PruneDisabled => f.write_str("kept: annotated prune-disabled"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Prune(PruneTask),
    Keep(ObjKey, Keep),
}

/// Decides, for each inventory entry no longer desired, whether to prune it. `live` answers with
/// the object as the cluster has it now (`None` if absent).
pub fn select<'a>(
    inventory: &'a [InventoryEntry],
    desired: &BTreeSet<ObjKey>,
    app: &AppId,
    mut live: impl FnMut(&'a InventoryEntry) -> Option<&'a Value>,
) -> Vec<Verdict> {
    inventory
        .iter()
        .filter(|e| !desired.contains(&e.key()))
        .map(|entry| {
            let key = entry.key();
            let Some(obj) = live(entry) else { return Verdict::Keep(key, Keep::Gone) };
            if !is_owned_by(obj, app) {
                let owner = crate::object::annotation(obj, crate::tracking::ANNOTATION_OWNER)
                    .map(str::to_owned);
                return Verdict::Keep(key, Keep::NotOwned { owner });
            }
            let uid = str_at(obj, &["metadata", "uid"]).unwrap_or_default().to_owned();
            if !entry.uid.is_empty() && entry.uid != uid {
                return Verdict::Keep(
                    key,
                    Keep::UidChanged { recorded: entry.uid.clone(), live: uid },
                );
            }
            let options = ObjectOptions::of(obj);
            if options.as_ref().is_ok_and(|o| !o.prune) {
                return Verdict::Keep(key, Keep::PruneDisabled);
            }
            let wave = options.map(|o| o.wave).unwrap_or(0);
            let object = serde_json::json!({
                "apiVersion": entry.api_version(),
                "kind": entry.kind,
                "metadata": {"name": entry.name, "namespace": entry.namespace, "uid": uid},
            });
            Verdict::Prune(PruneTask { key, object, uid, wave })
        })
        .collect()
}

/// Refusal of a render that drops too much at once.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the new render has {now} objects where the last sync had {before}; Ferry refuses to prune more than half of an app at once. \
     If this is intended, set spec.syncPolicy.automated.allowEmpty (or sync with --prune explicitly)"
)]
pub struct ShrinkRefused {
    pub before: usize,
    pub now: usize,
}

/// A render that drops more than half of the objects, or all of them, is refused unless allowed.
pub fn check_shrink(before: usize, now: usize, allow: bool) -> Result<(), ShrinkRefused> {
    let sharp = before > 0 && (now == 0 || now * 2 < before);
    if sharp && !allow { Err(ShrinkRefused { before, now }) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::mark;
    use serde_json::json;

    fn entry(name: &str, uid: &str) -> InventoryEntry {
        InventoryEntry {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "app".into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    fn live_obj(name: &str, uid: &str, app: Option<&AppId>, annotations: Value) -> Value {
        let mut o = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"app","uid":uid,"annotations":annotations}});
        if let Some(app) = app {
            mark(&mut o, app);
        }
        o
    }

    #[test]
    fn only_owned_objects_with_the_recorded_uid_are_pruned() {
        let app = AppId::new("ferry", "web");
        let other = AppId::new("ferry", "other");
        let inventory = vec![
            entry("kept-in-git", "1"),
            entry("gone", "2"),
            entry("stolen", "3"),
            entry("recreated", "4"),
            entry("pinned", "5"),
            entry("vanished", "6"),
        ];
        let live = [
            live_obj("gone", "2", Some(&app), json!({})),
            live_obj("stolen", "3", Some(&other), json!({})),
            live_obj("recreated", "40", Some(&app), json!({})),
            live_obj(
                "pinned",
                "5",
                Some(&app),
                json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
            ),
        ];
        let desired: BTreeSet<ObjKey> = [entry("kept-in-git", "1").key()].into();
        let verdicts = select(&inventory, &desired, &app, |e| {
            live.iter().find(|o| o["metadata"]["name"] == e.name.as_str())
        });
        let pruned: Vec<_> = verdicts
            .iter()
            .filter_map(
                |v| if let Verdict::Prune(t) = v { Some(t.key.name.as_str()) } else { None },
            )
            .collect();
        assert_eq!(pruned, ["gone"]);
        assert!(
            verdicts.iter().any(
                |v| matches!(v, Verdict::Keep(k, Keep::NotOwned { .. }) if k.name == "stolen")
            )
        );
        assert!(verdicts.iter().any(
            |v| matches!(v, Verdict::Keep(k, Keep::UidChanged { .. }) if k.name == "recreated")
        ));
        assert!(
            verdicts
                .iter()
                .any(|v| matches!(v, Verdict::Keep(k, Keep::PruneDisabled) if k.name == "pinned"))
        );
        assert!(
            verdicts
                .iter()
                .any(|v| matches!(v, Verdict::Keep(k, Keep::Gone) if k.name == "vanished"))
        );
    }

    #[test]
    fn a_render_that_drops_most_objects_is_refused_unless_allowed() {
        assert!(check_shrink(10, 6, false).is_ok());
        assert_eq!(check_shrink(10, 4, false), Err(ShrinkRefused { before: 10, now: 4 }));
        assert!(check_shrink(10, 0, false).is_err());
        assert!(check_shrink(10, 0, true).is_ok());
        assert!(check_shrink(0, 0, false).is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the inventory, desired set and live state, nothing outside
            /// inventory ∩ owned ∩ same UID is ever chosen for deletion.
            #[test]
            fn prune_never_selects_outside_inventory_owned_and_same_uid(
                entries in proptest::collection::vec((0u8..8, 0u8..3, any::<bool>(), any::<bool>(), any::<bool>()), 0..12)
            ) {
                let app = AppId::new("ferry", "web");
                let other = AppId::new("ferry", "other");
                let mut inventory = Vec::new();
                let mut live = Vec::new();
                let mut desired = BTreeSet::new();
                for (i, (name, uid, owned, is_desired, exists)) in entries.iter().enumerate() {
                    let e = entry(&format!("o{name}-{i}"), &uid.to_string());
                    if *is_desired { desired.insert(e.key()); }
                    if *exists {
                        let live_uid = if i % 3 == 0 { "x".to_string() } else { uid.to_string() };
                        live.push(live_obj(&e.name, &live_uid, Some(if *owned { &app } else { &other }), json!({})));
                    }
                    inventory.push(e);
                }
                let verdicts = select(&inventory, &desired, &app, |e| live.iter().find(|o| o["metadata"]["name"] == e.name.as_str()));
                for v in verdicts {
                    if let Verdict::Prune(t) = v {
                        let e = inventory.iter().find(|e| e.key() == t.key).expect("pruned key comes from the inventory");
                        let o = live.iter().find(|o| o["metadata"]["name"] == e.name.as_str()).expect("pruned object exists");
                        prop_assert!(!desired.contains(&t.key));
                        prop_assert!(is_owned_by(o, &app));
                        prop_assert_eq!(o["metadata"]["uid"].as_str(), Some(e.uid.as_str()));
                        prop_assert_eq!(&t.uid, &e.uid);
                    }
                }
            }
        }
    }
}
