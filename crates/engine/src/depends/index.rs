//! Which apps depend on which: kept by the Application watch so that a dependency that becomes
//! ready (or appears, or goes) reconciles its dependents at once, not at the next poll.

use std::collections::{HashMap, HashSet};

use ferry_apply::tracking::AppId;

/// Dependency → dependents, with the forward edges kept to undo an app's old entries.
#[derive(Debug, Default)]
pub(crate) struct Dependents {
    forward: HashMap<AppId, Vec<AppId>>,
    reverse: HashMap<AppId, HashSet<AppId>>,
}

impl Dependents {
    /// Records that `app` depends on `deps` (replacing what it depended on before).
    pub fn set(&mut self, app: &AppId, deps: Vec<AppId>) {
        self.remove(app);
        for dep in &deps {
            self.reverse.entry(dep.clone()).or_default().insert(app.clone());
        }
        if !deps.is_empty() {
            self.forward.insert(app.clone(), deps);
        }
    }

    /// Forgets what `app` depends on (it was deleted).
    pub fn remove(&mut self, app: &AppId) {
        for dep in self.forward.remove(app).unwrap_or_default() {
            if let Some(set) = self.reverse.get_mut(&dep) {
                set.remove(app);
                if set.is_empty() {
                    self.reverse.remove(&dep);
                }
            }
        }
    }

    /// The apps that name `dep` in their `spec.dependsOn`, by name.
    pub fn of(&self, dep: &AppId) -> Vec<AppId> {
        let mut apps: Vec<AppId> =
            self.reverse.get(dep).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        apps.sort_by_key(ToString::to_string);
        apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> AppId {
        AppId::new("ferry", name)
    }

    #[test]
    fn a_dependency_knows_its_dependents_until_they_change_or_go() {
        let mut index = Dependents::default();
        index.set(&id("web"), vec![id("db"), id("cache")]);
        index.set(&id("worker"), vec![id("db")]);
        assert_eq!(index.of(&id("db")), vec![id("web"), id("worker")]);
        index.set(&id("web"), vec![id("cache")]);
        assert_eq!(index.of(&id("db")), vec![id("worker")]);
        index.remove(&id("worker"));
        assert!(index.of(&id("db")).is_empty());
        assert_eq!(index.of(&id("cache")), vec![id("web")]);
    }
}
