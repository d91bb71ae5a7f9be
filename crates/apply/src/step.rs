//! The sync as an explicit state machine: given the plan, the wave that just ran and how it
//! ended, what runs next. Pure, so every path (success, failure, SyncFail hooks) is unit-tested
//! without a cluster; the executor only carries the steps out.

use crate::plan::{Phase, Plan};

/// How a wave ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaveOutcome {
    Succeeded,
    Failed(String),
}

/// Where the sync is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    Start,
    /// Wave `index` of the plan ran; `failure` is the first failure seen so far.
    After {
        index: usize,
        failure: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Run wave `index`; `wait_healthy` says whether its resources must be healthy before the
    /// next wave (only when a later wave of the main path depends on them).
    Run {
        index: usize,
        wait_healthy: bool,
    },
    Finish(SyncPhase),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncPhase {
    Succeeded,
    Failed(String),
}

/// Decides the next step.
pub fn next_step(plan: &Plan, cursor: &Cursor, outcome: Option<&WaveOutcome>) -> Step {
    let run = |index: usize| {
        let wait_healthy =
            plan.waves[index].phase != Phase::SyncFail && plan.main_waves().any(|(i, _)| i > index);
        Step::Run { index, wait_healthy }
    };
    match cursor {
        Cursor::Start => match plan.main_waves().next() {
            Some((i, _)) => run(i),
            None => Step::Finish(SyncPhase::Succeeded),
        },
        Cursor::After { index, failure } => {
            let in_fail_phase = plan.waves[*index].phase == Phase::SyncFail;
            let failure = failure.clone().or_else(|| match outcome {
                Some(WaveOutcome::Failed(m)) => Some(m.clone()),
                _ => None,
            });
            if in_fail_phase {
                // SyncFail hooks all run, whatever each one does; the sync stays failed.
                return match plan.fail_waves().find(|(i, _)| i > index) {
                    Some((i, _)) => run(i),
                    None => Step::Finish(SyncPhase::Failed(failure.unwrap_or_default())),
                };
            }
            match failure {
                None => match plan.main_waves().find(|(i, _)| i > index) {
                    Some((i, _)) => run(i),
                    None => Step::Finish(SyncPhase::Succeeded),
                },
                Some(message) => match plan.fail_waves().next() {
                    Some((i, _)) => run(i),
                    None => Step::Finish(SyncPhase::Failed(message)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Wave;

    fn plan(phases: &[Phase]) -> Plan {
        Plan {
            waves: phases.iter().map(|p| Wave { phase: *p, wave: 0, tasks: vec![] }).collect(),
            skipped: vec![],
        }
    }

    fn walk(plan: &Plan, outcomes: &[WaveOutcome]) -> (Vec<usize>, SyncPhase) {
        let mut cursor = Cursor::Start;
        let mut ran = Vec::new();
        let mut last: Option<WaveOutcome> = None;
        let mut failure = None;
        loop {
            match next_step(plan, &cursor, last.as_ref()) {
                Step::Run { index, .. } => {
                    ran.push(index);
                    let outcome = outcomes.get(index).cloned().unwrap_or(WaveOutcome::Succeeded);
                    if let (None, WaveOutcome::Failed(m)) = (&failure, &outcome) {
                        failure = Some(m.clone());
                    }
                    cursor = Cursor::After { index, failure: failure.clone() };
                    last = Some(outcome);
                }
                Step::Finish(phase) => return (ran, phase),
            }
        }
    }

    #[test]
    fn a_successful_sync_runs_every_main_wave_and_no_sync_fail_hook() {
        let p = plan(&[Phase::PreSync, Phase::Sync, Phase::PostSync, Phase::SyncFail]);
        assert_eq!(walk(&p, &[]), (vec![0, 1, 2], SyncPhase::Succeeded));
    }

    #[test]
    fn a_failed_wave_stops_the_main_path_and_runs_the_sync_fail_hooks() {
        let p =
            plan(&[Phase::PreSync, Phase::Sync, Phase::PostSync, Phase::SyncFail, Phase::SyncFail]);
        let outcomes = [WaveOutcome::Succeeded, WaveOutcome::Failed("web is Degraded".into())];
        assert_eq!(
            walk(&p, &outcomes),
            (vec![0, 1, 3, 4], SyncPhase::Failed("web is Degraded".into()))
        );
    }

    #[test]
    fn only_waves_followed_by_another_main_wave_wait_for_health() {
        let p = plan(&[Phase::Sync, Phase::PostSync]);
        assert_eq!(next_step(&p, &Cursor::Start, None), Step::Run { index: 0, wait_healthy: true });
        let after = Cursor::After { index: 0, failure: None };
        assert_eq!(
            next_step(&p, &after, Some(&WaveOutcome::Succeeded)),
            Step::Run { index: 1, wait_healthy: false }
        );
    }

    #[test]
    fn an_empty_plan_succeeds_at_once() {
        assert_eq!(
            next_step(&Plan::default(), &Cursor::Start, None),
            Step::Finish(SyncPhase::Succeeded)
        );
    }
}
