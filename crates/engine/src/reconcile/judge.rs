//! The health stage: each declared resource judged from the watch cache; the app's health is
//! the worst.

use ferry_health::{Health, Rules, aggregate_named, assess};

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
