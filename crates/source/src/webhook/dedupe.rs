//! Dropping redelivered webhooks: providers retry, and users press "redeliver".

use std::collections::{HashSet, VecDeque};

use super::{Provider, WebhookError, WebhookEvent};

/// Remembers the last `capacity` delivery ids (per provider).
#[derive(Debug)]
pub struct Dedupe {
    capacity: usize,
    order: VecDeque<(Provider, String)>,
    seen: HashSet<(Provider, String)>,
}

impl Dedupe {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), order: VecDeque::new(), seen: HashSet::new() }
    }

    /// Records `event`'s delivery id; a repeat is [`WebhookError::Duplicate`]. Events without a
    /// delivery id cannot be deduplicated and always pass.
    pub fn record(&mut self, event: &WebhookEvent) -> Result<(), WebhookError> {
        let Some(delivery) = &event.delivery else { return Ok(()) };
        let key = (event.provider, delivery.clone());
        if self.seen.contains(&key) {
            return Err(WebhookError::Duplicate {
                provider: event.provider,
                delivery: delivery.clone(),
            });
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(key.clone());
        self.seen.insert(key);
        Ok(())
    }
}

impl Default for Dedupe {
    fn default() -> Self {
        Self::new(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::WebhookKind;

    fn event(id: &str) -> WebhookEvent {
        WebhookEvent {
            provider: Provider::GitHub,
            delivery: Some(id.into()),
            kind: WebhookKind::Ping,
        }
    }

    #[test]
    fn the_oldest_ids_are_forgotten_beyond_capacity() {
        let mut d = Dedupe::new(2);
        d.record(&event("a")).unwrap();
        d.record(&event("b")).unwrap();
        assert!(d.record(&event("b")).is_err());
        d.record(&event("c")).unwrap();
        d.record(&event("a")).unwrap();
    }
}
