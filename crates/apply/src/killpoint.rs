//! Kill points, for the kill-point matrix that proves a sync killed at any step loses nothing:
//! with `FERRY_KILL_POINT=<point>[:<n>]` in its environment the process SIGKILLs itself the
//! `n`-th time (default: the first) it passes `<point>` — no destructor runs, no buffer is
//! flushed, as when a node dies. Without the variable (production) a point is one load of an
//! initialized `OnceLock`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable naming the point and the hit to die at.
pub const ENV: &str = "FERRY_KILL_POINT";

/// Every kill point, in the order a sync passes them.
pub const POINTS: [&str; 9] = [
    AFTER_PLAN,
    AFTER_INVENTORY,
    MID_HOOK,
    MID_APPLY,
    BETWEEN_WAVES,
    MID_PRUNE,
    AFTER_SYNC,
    BEFORE_STATUS,
    AFTER_STATUS,
];

/// The sync is planned; nothing is recorded or applied yet.
pub const AFTER_PLAN: &str = "after-plan";
/// The planned inventory is written; nothing is applied yet.
pub const AFTER_INVENTORY: &str = "after-inventory";
/// A hook was created.
pub const MID_HOOK: &str = "mid-hook";
/// An object was applied (the next one of the wave is not).
pub const MID_APPLY: &str = "mid-apply";
/// A wave is done and healthy; the next one has not started.
pub const BETWEEN_WAVES: &str = "between-waves";
/// An object was pruned (the next one is not).
pub const MID_PRUNE: &str = "mid-prune";
/// The executor finished; the result is not recorded yet.
pub const AFTER_SYNC: &str = "after-sync";
/// A status (with inventory, operation state, history) is about to be written.
pub const BEFORE_STATUS: &str = "before-status";
/// A status was written.
pub const AFTER_STATUS: &str = "after-status";

static TARGET: OnceLock<Option<(String, usize)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

fn target() -> &'static Option<(String, usize)> {
    TARGET.get_or_init(|| parse(&std::env::var(ENV).ok()?))
}

/// `point` or `point:n` (n ≥ 1).
fn parse(raw: &str) -> Option<(String, usize)> {
    let (point, n) = match raw.split_once(':') {
        Some((p, n)) => (p, n.trim().parse().ok().filter(|n| *n >= 1)?),
        None => (raw, 1),
    };
    let point = point.trim();
    POINTS.contains(&point).then(|| (point.to_owned(), n))
}

/// Passes `point`: dies here if this is the configured hit.
pub fn pass(point: &str) {
    let Some((wanted, n)) = target() else { return };
    if wanted != point {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        eprintln!("{ENV}: reached {point} (hit {n}); killing this process");
        // SIGKILL on ourselves: the closest a process can come to a power cut.
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_and_its_hit_are_read_and_unknown_points_ignored() {
        assert_eq!(parse("mid-apply:3"), Some(("mid-apply".into(), 3)));
        assert_eq!(parse("after-plan"), Some(("after-plan".into(), 1)));
        assert_eq!(parse("after-plan:0"), None);
        assert_eq!(parse("nowhere"), None);
    }
}
