//! The recent events a watch can resume from. kube-apiserver serves watches from a watch cache
//! that keeps events for at least 75 seconds (its `eventFreshDuration`) and grows only while
//! that needs more room; here one window, bounded both by a number of events and by their age,
//! so a busy cluster holds a minute or two of history instead of a tail that grows with every
//! write. A watch from a resourceVersion older than the window gets 410 Gone and relists, as
//! it would from kube-apiserver.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::Event;

/// How much history watches can resume from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    /// At most this many events.
    pub events: usize,
    /// Events older than this are dropped at the next write.
    pub age: Duration,
}

impl WindowLimits {
    /// kube-apiserver's watch cache keeps events at least this long (`eventFreshDuration`).
    pub const DEFAULT_AGE: Duration = Duration::from_secs(75);
}

impl Default for WindowLimits {
    fn default() -> Self {
        WindowLimits { events: 100_000, age: Self::DEFAULT_AGE }
    }
}

pub(crate) struct EventWindow {
    limits: WindowLimits,
    events: VecDeque<(Instant, Arc<Event>)>,
}

impl EventWindow {
    pub(crate) fn new(limits: WindowLimits) -> Self {
        EventWindow { limits, events: VecDeque::new() }
    }

    /// Adds the newest event, dropping those past either limit.
    pub(crate) fn push(&mut self, event: Arc<Event>, now: Instant) {
        self.events.push_back((now, event));
        while self.events.len() > self.limits.events {
            self.events.pop_front();
        }
        while self
            .events
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > self.limits.age)
        {
            self.events.pop_front();
        }
    }

    /// The resourceVersion of the oldest event still held.
    pub(crate) fn oldest(&self) -> Option<u64> {
        self.events.front().map(|(_, e)| e.rv)
    }

    /// The events after `rv`, oldest first.
    pub(crate) fn after(&self, rv: u64) -> Vec<Arc<Event>> {
        // Events are in resourceVersion order: skip the older ones without looking at each.
        let start = self.events.partition_point(|(_, e)| e.rv <= rv);
        self.events.range(start..).map(|(_, e)| e.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventType, Key};

    fn event(rv: u64) -> Arc<Event> {
        Arc::new(Event {
            rv,
            kind: EventType::Added,
            key: Key { storage: "/configmaps".into(), namespace: "a".into(), name: "b".into() },
            object: Arc::new(serde_json::json!({})),
            prev: None,
            json: Default::default(),
        })
    }

    #[test]
    fn the_window_keeps_at_most_its_number_of_events() {
        let mut w = EventWindow::new(WindowLimits { events: 2, age: Duration::from_secs(60) });
        let now = Instant::now();
        for rv in 1..=3 {
            w.push(event(rv), now);
        }
        assert_eq!(w.oldest(), Some(2));
        assert_eq!(w.after(0).iter().map(|e| e.rv).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn events_older_than_the_age_limit_are_dropped_at_the_next_write() {
        let mut w = EventWindow::new(WindowLimits { events: 100, age: Duration::from_secs(60) });
        let start = Instant::now();
        w.push(event(1), start);
        w.push(event(2), start + Duration::from_secs(30));
        assert_eq!(w.oldest(), Some(1), "nothing is older than a minute yet");
        w.push(event(3), start + Duration::from_secs(75));
        assert_eq!(w.oldest(), Some(2), "the first event is 75 s old and goes");
        w.push(event(4), start + Duration::from_secs(200));
        assert_eq!(w.after(0).iter().map(|e| e.rv).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn after_returns_only_newer_events_in_order() {
        let mut w = EventWindow::new(WindowLimits::default());
        let now = Instant::now();
        for rv in [5, 7, 9] {
            w.push(event(rv), now);
        }
        assert_eq!(w.after(7).iter().map(|e| e.rv).collect::<Vec<_>>(), vec![9]);
        assert_eq!(w.after(6).iter().map(|e| e.rv).collect::<Vec<_>>(), vec![7, 9]);
        assert!(w.after(9).is_empty());
    }
}
