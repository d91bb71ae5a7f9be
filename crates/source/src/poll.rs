//! Polling: when to look again, and what moved. Pure scheduling; the look itself is
//! [`crate::RepoCache::ls_remote`], which transfers no objects.

use std::time::Duration;

use crate::resolve::RemoteRefs;

#[derive(Clone, Debug, PartialEq)]
pub struct PollConfig {
    /// Time between polls while things work.
    pub interval: Duration,
    /// Each delay is scaled by a random factor in `1 ± jitter` so many repositories polled at
    /// the same interval do not hit a server at the same instant.
    pub jitter: f64,
    /// First delay after a failure; doubled per consecutive failure.
    pub backoff_base: Duration,
    /// Upper bound of the failure delay.
    pub backoff_max: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(180),
            jitter: 0.1,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(600),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    Unchanged,
    Changed,
    Failed,
}

/// The schedule of one repository.
#[derive(Clone, Debug)]
pub struct Poller {
    config: PollConfig,
    failures: u32,
}

impl Poller {
    pub fn new(config: PollConfig) -> Self {
        Self { config, failures: 0 }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// The delay before the next poll after `outcome`; `unit` is a random number in `[0, 1)`
    /// (passed in so tests are deterministic).
    pub fn next_delay_with(&mut self, outcome: PollOutcome, unit: f64) -> Duration {
        let base = match outcome {
            PollOutcome::Unchanged | PollOutcome::Changed => {
                self.failures = 0;
                self.config.interval
            }
            PollOutcome::Failed => {
                self.failures = self.failures.saturating_add(1);
                let factor = 2u32.saturating_pow(self.failures.saturating_sub(1).min(30));
                self.config.backoff_base.saturating_mul(factor).min(self.config.backoff_max)
            }
        };
        let jitter = self.config.jitter.clamp(0.0, 1.0);
        let scale = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let delay = base.mul_f64(scale);
        match outcome {
            // Jitter never pushes a backoff over its cap.
            PollOutcome::Failed => delay.min(self.config.backoff_max),
            _ => delay,
        }
    }

    /// [`Self::next_delay_with`] using a random number.
    pub fn next_delay(&mut self, outcome: PollOutcome) -> Duration {
        self.next_delay_with(outcome, fastrand::f64())
    }
}

/// Refs that were added, moved or removed between two listings, sorted.
pub fn moved_refs(before: &RemoteRefs, after: &RemoteRefs) -> Vec<String> {
    let mut out: Vec<String> = after
        .iter()
        .filter(|(name, id)| before.get(*name) != Some(*id))
        .map(|(name, _)| name.clone())
        .chain(before.keys().filter(|name| !after.contains_key(*name)).cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::CommitId;

    fn config() -> PollConfig {
        PollConfig {
            interval: Duration::from_secs(100),
            jitter: 0.2,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }

    #[test]
    fn successful_polls_wait_the_interval_give_or_take_the_jitter() {
        let mut p = Poller::new(config());
        assert_eq!(p.next_delay_with(PollOutcome::Unchanged, 0.5), Duration::from_secs(100));
        assert_eq!(p.next_delay_with(PollOutcome::Changed, 0.0), Duration::from_secs(80));
        assert_eq!(p.next_delay_with(PollOutcome::Unchanged, 1.0), Duration::from_secs(120));
        for _ in 0..100 {
            let d = p.next_delay(PollOutcome::Unchanged);
            assert!(d >= Duration::from_secs(80) && d <= Duration::from_secs(120), "{d:?}");
        }
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap_and_reset_on_success() {
        let mut p = Poller::new(config());
        let delays: Vec<u64> =
            (0..7).map(|_| p.next_delay_with(PollOutcome::Failed, 0.5).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(p.consecutive_failures(), 7);
        assert_eq!(p.next_delay_with(PollOutcome::Failed, 1.0), Duration::from_secs(30));
        assert_eq!(p.next_delay_with(PollOutcome::Unchanged, 0.5), Duration::from_secs(100));
        assert_eq!(p.consecutive_failures(), 0);
        assert_eq!(p.next_delay_with(PollOutcome::Failed, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn thousands_of_failures_do_not_overflow() {
        let mut p = Poller::new(config());
        for _ in 0..10_000 {
            assert!(p.next_delay_with(PollOutcome::Failed, 0.9) <= Duration::from_secs(30));
        }
    }

    #[test]
    fn moved_refs_lists_added_moved_and_deleted_refs() {
        let id = |c: char| CommitId::parse(&c.to_string().repeat(40)).unwrap();
        let before: RemoteRefs = [
            ("HEAD".into(), id('a')),
            ("refs/heads/main".into(), id('a')),
            ("refs/heads/old".into(), id('b')),
        ]
        .into();
        let after: RemoteRefs = [
            ("HEAD".into(), id('c')),
            ("refs/heads/main".into(), id('c')),
            ("refs/tags/v1".into(), id('b')),
        ]
        .into();
        assert_eq!(
            moved_refs(&before, &after),
            vec!["HEAD", "refs/heads/main", "refs/heads/old", "refs/tags/v1"]
        );
        assert!(moved_refs(&after, &after).is_empty());
    }
}
