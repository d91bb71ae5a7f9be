//! What a reconcile judged of each declared object, by the live version it judged: the next
//! reconcile of the same render reads and compares again only the objects whose version moved.
//! A drift in one object of an app of 100 then costs one parse and one diff, not 200 parses
//! (the watch cache keeps objects as JSON and parses them on read).

use ferry_health::Health;

/// Verdicts for one render (`AppMemory::epoch`) and one spec generation (ignore rules and
/// health checks live in the spec); anything else resets them.
#[derive(Clone, Debug, Default)]
pub struct Verdicts {
    made_for: (u64, Option<i64>),
    /// By the resource's index in the prepared render: the live resourceVersion found in sync
    /// with the desired object (0: none).
    in_sync: Vec<u64>,
    /// By index: the live resourceVersion judged, and the health it was judged to have.
    health: Vec<Option<(u64, Health)>>,
}

impl Verdicts {
    /// Keeps the verdicts only if they were made for this render and generation.
    pub fn keep_for(&mut self, epoch: u64, generation: Option<i64>, resources: usize) {
        if self.made_for != (epoch, generation) || self.in_sync.len() != resources {
            *self = Self {
                made_for: (epoch, generation),
                in_sync: vec![0; resources],
                health: vec![None; resources],
            };
        }
    }

    /// Whether resource `index` was found in sync at live version `version`.
    pub fn in_sync_at(&self, index: usize, version: Option<u64>) -> bool {
        version.is_some_and(|v| v != 0 && self.in_sync.get(index) == Some(&v))
    }

    /// Records what a comparison found: these resources in sync at these versions, the rest not.
    pub fn record_in_sync(&mut self, found: &[(usize, u64)]) {
        self.in_sync.iter_mut().for_each(|v| *v = 0);
        for &(index, version) in found {
            if let Some(slot) = self.in_sync.get_mut(index) {
                *slot = version;
            }
        }
    }

    /// The health judged of resource `index` at live version `version`, if it was.
    pub fn health_at(&self, index: usize, version: Option<u64>) -> Option<&Health> {
        let version = version.filter(|v| *v != 0)?;
        match self.health.get(index)? {
            Some((v, health)) if *v == version => Some(health),
            _ => None,
        }
    }

    pub fn record_health(&mut self, index: usize, version: u64, health: &Health) {
        if let Some(slot) = self.health.get_mut(index) {
            *slot = (version != 0).then(|| (version, health.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_holds_only_for_the_version_it_was_made_at() {
        let mut v = Verdicts::default();
        v.keep_for(1, Some(3), 2);
        v.record_in_sync(&[(0, 17)]);
        assert!(v.in_sync_at(0, Some(17)));
        assert!(!v.in_sync_at(0, Some(18)), "the object changed since");
        assert!(!v.in_sync_at(1, Some(17)), "never found in sync");
        assert!(!v.in_sync_at(0, None), "gone from the cluster");
    }

    #[test]
    fn a_new_render_or_spec_forgets_every_verdict() {
        let mut v = Verdicts::default();
        v.keep_for(1, Some(3), 1);
        v.record_in_sync(&[(0, 17)]);
        v.record_health(0, 17, &Health::healthy("ok"));
        v.keep_for(1, Some(3), 1);
        assert!(v.in_sync_at(0, Some(17)) && v.health_at(0, Some(17)).is_some());
        v.keep_for(2, Some(3), 1);
        assert!(!v.in_sync_at(0, Some(17)) && v.health_at(0, Some(17)).is_none());
        v.record_in_sync(&[(0, 17)]);
        v.keep_for(2, Some(4), 1);
        assert!(!v.in_sync_at(0, Some(17)), "ignore rules may have changed with the spec");
    }

    #[test]
    fn an_unknown_version_is_never_a_verdict() {
        let mut v = Verdicts::default();
        v.keep_for(1, None, 1);
        v.record_in_sync(&[(0, 0)]);
        v.record_health(0, 0, &Health::healthy("ok"));
        assert!(!v.in_sync_at(0, Some(0)) && v.health_at(0, Some(0)).is_none());
    }
}
