//! The health stage: each declared resource judged from the watch cache; the app's health is
//! the worst.

use ferry_health::{Health, Rules, aggregate_named, assess};

use ferry_apply::ObjKey;
use ferry_apply::tracking::AppId;

use crate::application::AppHealth;
use crate::compare::{Comparison, resource_version};

use super::cycle::Cycle;

pub(crate) fn health(cy: &mut Cycle<'_>, cmp: &mut Comparison) -> Health {
    let rules = Rules::new(cy.app.spec.health_checks.clone());
    if rules.problems().is_empty() {
        cy.clear("HealthChecksValid");
    } else {
        let problems: Vec<String> = rules.problems().iter().map(|p| p.to_string()).collect();
        cy.set("HealthChecksValid", false, "InvalidExpression", problems.join("; "));
    }
    let resources = cy.mem.prepared.resources.clone();
    let (epoch, generation) = (cy.mem.epoch, cy.app.metadata.generation);
    cy.mem.verdicts.keep_for(epoch, generation, resources.len());
    let mut items = Vec::with_capacity(resources.len());
    for (i, r) in resources.iter().enumerate() {
        let version = cy.cluster.live.version(&r.key);
        let h = match cy.mem.verdicts.health_at(i, version) {
            Some(judged) => judged.clone(),
            None => judge(cy, i, &r.key, &rules),
        };
        if let Some(s) = cmp.resources.get_mut(i) {
            s.health = Some(AppHealth { status: h.status, message: h.message.clone() });
        }
        items.push((r.key.to_string(), h));
    }
    if items.is_empty() {
        return Health::healthy("the app declares no objects");
    }
    aggregate_named(items)
}

/// Reads the live object and judges it, remembering the verdict for its version.
fn judge(cy: &mut Cycle<'_>, index: usize, key: &ObjKey, rules: &Rules) -> Health {
    match cy.cluster.live.get(key) {
        // An app that declares itself (Ferry managing itself, `ferry bootstrap`) would read
        // its own health back each cycle, a loop; it is as healthy as the rest it declares.
        Some(_) if is_itself(key, cy.id) => {
            Health::healthy("this Application itself (it manages itself)")
        }
        Some(obj) => {
            let health = assess(&obj, rules);
            cy.mem.verdicts.record_health(index, resource_version(&obj), &health);
            health
        }
        None => Health::missing("not in the cluster"),
    }
}

fn is_itself(key: &ObjKey, id: &AppId) -> bool {
    key.group == "ferry.dev"
        && key.kind == "Application"
        && key.name == id.name
        && key.namespace == id.namespace
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_application_itself_is_itself() {
        let id = AppId::new("ferry", "ferry");
        let key = |group: &str, kind: &str, ns: &str, name: &str| ObjKey {
            group: group.into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        };
        assert!(is_itself(&key("ferry.dev", "Application", "ferry", "ferry"), &id));
        assert!(!is_itself(&key("ferry.dev", "Application", "ferry", "child"), &id));
        assert!(!is_itself(&key("ferry.dev", "Application", "other", "ferry"), &id));
        assert!(!is_itself(&key("apps", "Deployment", "ferry", "ferry"), &id));
    }
}
