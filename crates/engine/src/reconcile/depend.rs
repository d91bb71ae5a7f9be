//! The dependency stage: reads the apps `spec.dependsOn` names from the watch's store and sets
//! the `DependsOn` condition; the decide step holds any sync while it says the app waits.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_apply::tracking::AppId;
use kube::ResourceExt;

use crate::application::Application;
use crate::depends::{Verdict, dependencies, judge};

use super::cycle::Cycle;

/// Condition type for what the app waits for.
pub(crate) const CONDITION: &str = "DependsOn";

/// Why the app may not sync yet (the condition's message), or `None` when it may.
pub(crate) fn review(cy: &mut Cycle<'_>) -> Option<String> {
    let deps = dependencies(cy.app);
    if deps.is_empty() {
        cy.clear(CONDITION);
        return None;
    }
    let apps: HashMap<AppId, Arc<Application>> = cy
        .inner
        .apps
        .state()
        .into_iter()
        .map(|a| (AppId::new(a.namespace().unwrap_or_default(), a.name_any()), a))
        .collect();
    let verdict = judge(cy.id, &deps, |id| apps.get(id).map(|a| a.as_ref()));
    if verdict == Verdict::Ready {
        cy.clear(CONDITION);
        return None;
    }
    let message = verdict.message();
    cy.set(CONDITION, false, verdict.reason(), message.clone());
    Some(message)
}
