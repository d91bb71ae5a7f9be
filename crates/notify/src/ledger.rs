//! Deduplication: one notification per (app, trigger, condition, service, recipient) and
//! `oncePer` value; a condition without `oncePer` sends when it becomes true and again only
//! after it was false. Pure and in memory: after a restart a condition that still holds may be
//! sent once more.

use std::collections::{HashMap, HashSet, VecDeque};

/// `oncePer` values remembered per key (older ones may be sent again if they come back).
const VALUES_KEPT: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub trigger: String,
    pub condition: usize,
    pub service: String,
    pub recipient: String,
}

#[derive(Debug, Default)]
struct Seen {
    /// Edge-triggered: the condition held at the last evaluation.
    held: bool,
    values: VecDeque<String>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    apps: HashMap<String, HashMap<Target, Seen>>,
}

impl Ledger {
    /// Whether to send to `target` for a condition that holds now (with its `oncePer`
    /// value); records it as sent.
    pub fn claim(&mut self, app: &str, target: &Target, once_per: Option<&str>) -> bool {
        let seen = self.apps.entry(app.to_owned()).or_default().entry(target.clone()).or_default();
        match once_per {
            Some(value) => {
                if seen.values.iter().any(|v| v == value) {
                    return false;
                }
                if seen.values.len() >= VALUES_KEPT {
                    seen.values.pop_front();
                }
                seen.values.push_back(value.to_owned());
                true
            }
            None => !std::mem::replace(&mut seen.held, true),
        }
    }

    /// After an evaluation of `app`: edge-triggered targets whose condition did not hold
    /// (not in `holding`, as `(trigger, condition)`) are armed again.
    pub fn rearm(&mut self, app: &str, holding: &HashSet<(String, usize)>) {
        if let Some(targets) = self.apps.get_mut(app) {
            for (target, seen) in targets.iter_mut() {
                if !holding.contains(&(target.trigger.clone(), target.condition)) {
                    seen.held = false;
                }
            }
        }
    }

    /// Forgets a deleted app.
    pub fn forget(&mut self, app: &str) {
        self.apps.remove(app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            trigger: "on-deployed".into(),
            condition: 0,
            service: "hook".into(),
            recipient: String::new(),
        }
    }

    #[test]
    fn a_once_per_value_is_sent_once_and_a_new_value_again() {
        let mut ledger = Ledger::default();
        assert!(ledger.claim("apps/a", &target(), Some("r1")));
        assert!(!ledger.claim("apps/a", &target(), Some("r1")));
        assert!(ledger.claim("apps/a", &target(), Some("r2")));
        assert!(ledger.claim("apps/b", &target(), Some("r1")), "another app is another key");
    }

    #[test]
    fn an_edge_condition_sends_again_only_after_it_was_false() {
        let mut ledger = Ledger::default();
        assert!(ledger.claim("a", &target(), None));
        assert!(!ledger.claim("a", &target(), None));
        ledger.rearm("a", &HashSet::new());
        assert!(ledger.claim("a", &target(), None));
    }
}
