//! Which apps declare which objects. Two apps may render the same object; the engine must then
//! neither fight over it (heal it back and forth), nor let one app's prune or cascade delete
//! remove what the other still declares, and a change to it (a delete behind Ferry's back
//! included) must reach every app that declares it, not only the one whose mark it carries.

use std::collections::HashMap;
use std::sync::RwLock;

use ferry_apply::ObjKey;
use ferry_apply::tracking::AppId;

#[derive(Default)]
pub struct Claims {
    by_key: RwLock<HashMap<ObjKey, Vec<AppId>>>,
}

impl Claims {
    /// `app` now declares `new` instead of `old`.
    pub fn update<'k>(
        &self,
        app: &AppId,
        old: impl IntoIterator<Item = &'k ObjKey>,
        new: impl IntoIterator<Item = &'k ObjKey>,
    ) {
        let mut by_key = self.by_key.write().unwrap_or_else(|p| p.into_inner());
        for key in old {
            if let Some(apps) = by_key.get_mut(key) {
                apps.retain(|a| a != app);
                if apps.is_empty() {
                    by_key.remove(key);
                }
            }
        }
        for key in new {
            let apps = by_key.entry(key.clone()).or_default();
            if !apps.contains(app) {
                apps.push(app.clone());
            }
        }
    }

    /// Every app that declares `key`.
    pub fn claimants(&self, key: &ObjKey) -> Vec<AppId> {
        self.by_key.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned().unwrap_or_default()
    }

    /// The apps other than `app` that declare `key`.
    pub fn others(&self, key: &ObjKey, app: &AppId) -> Vec<AppId> {
        let mut apps = self.claimants(key);
        apps.retain(|a| a != app);
        apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjKey {
        ObjKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: "demo".into(),
            name: name.into(),
        }
    }

    #[test]
    fn an_object_declared_by_two_apps_names_the_other_to_each() {
        let claims = Claims::default();
        let (a, b) = (AppId::new("ferry", "a"), AppId::new("ferry", "b"));
        claims.update(&a, [], [&key("shared"), &key("only-a")]);
        claims.update(&b, [], [&key("shared")]);
        assert_eq!(claims.others(&key("shared"), &a), vec![b.clone()]);
        assert_eq!(claims.others(&key("shared"), &b), vec![a.clone()]);
        assert!(claims.others(&key("only-a"), &a).is_empty());
    }

    #[test]
    fn a_new_render_replaces_what_an_app_declared_before() {
        let claims = Claims::default();
        let a = AppId::new("ferry", "a");
        claims.update(&a, [], [&key("one")]);
        claims.update(&a, [&key("one")], [&key("two")]);
        assert!(claims.claimants(&key("one")).is_empty());
        assert_eq!(claims.claimants(&key("two")), vec![a]);
    }
}
