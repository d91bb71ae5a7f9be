//! The health stage: each declared resource judged from the watch cache; the app's health is
//! the worst.

use ferry_health::{Health, Rules, aggregate_named, assess};

use ferry_apply::ObjKey;
use ferry_apply::tracking::AppId;

use crate::application::AppHealth;
use crate::compare::Comparison;

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
    let mut items = Vec::with_capacity(resources.len());
    for (i, r) in resources.iter().enumerate() {
        let h = match cy.cluster.live.get(&r.key) {
            // An app that declares itself (Ferry managing itself, `ferry bootstrap`) would read
            // its own health back each cycle, a loop; it is as healthy as the rest it declares.
            Some(_) if is_itself(&r.key, cy.id) => {
                Health::healthy("this Application itself (it manages itself)")
            }
            Some(obj) => assess(&obj, &rules),
            None => Health::missing("not in the cluster"),
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
