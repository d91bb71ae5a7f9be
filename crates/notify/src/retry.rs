//! When to try a delivery again: exponential backoff with jitter on timeouts, connection
//! errors, 5xx and 429 (whose `Retry-After` wins), never on another 4xx. Pure: the attempt
//! number and the answer in, a decision out.

use std::time::Duration;

/// The longest `Retry-After` honoured: a sink asking for more is given up on later attempts.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 5, base: Duration::from_millis(500), max: Duration::from_secs(60) }
    }
}

/// How one attempt ended, as far as retrying is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 2xx (or an accepted email).
    Ok,
    /// An HTTP status other than 2xx, with the `Retry-After` it carried.
    Status { code: u16, retry_after: Option<Duration> },
    /// No answer: timeout, refused or cut connection.
    Transport,
    /// Will not get better by trying again (a request that cannot be built, a refused address).
    Permanent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    RetryAfter(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// What to do after attempt `attempt` (1-based) answered `answer`; `jitter` in `[0, 1)`.
    pub fn next(&self, attempt: u32, answer: &Answer, jitter: f64) -> Next {
        let retryable = match answer {
            Answer::Ok => return Next::Done,
            Answer::Permanent => false,
            Answer::Transport => true,
            Answer::Status { code, .. } => *code == 429 || *code >= 500,
        };
        if !retryable || attempt >= self.attempts {
            return Next::GiveUp;
        }
        if let Answer::Status { retry_after: Some(after), .. } = answer {
            return Next::RetryAfter((*after).min(MAX_RETRY_AFTER));
        }
        Next::RetryAfter(self.backoff(attempt, jitter))
    }

    /// `base · 2^(attempt-1)`, capped, then between half and all of it ("equal jitter").
    fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)));
        let capped = exp.min(self.max);
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110), relative to `now`.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { attempts: 4, base: Duration::from_millis(100), max: Duration::from_secs(1) }
    }

    #[test]
    fn server_errors_and_timeouts_are_retried_with_growing_jittered_backoff() {
        let p = policy();
        let e500 = Answer::Status { code: 500, retry_after: None };
        assert_eq!(p.next(1, &e500, 0.0), Next::RetryAfter(Duration::from_millis(50)));
        assert_eq!(p.next(2, &e500, 1.0), Next::RetryAfter(Duration::from_millis(200)));
        assert_eq!(
            p.next(3, &Answer::Transport, 1.0),
            Next::RetryAfter(Duration::from_millis(400))
        );
        assert_eq!(p.next(4, &e500, 0.5), Next::GiveUp);
    }

    #[test]
    fn too_many_requests_waits_as_long_as_retry_after_says_up_to_the_cap() {
        let p = policy();
        let answer = Answer::Status { code: 429, retry_after: Some(Duration::from_secs(2)) };
        assert_eq!(p.next(1, &answer, 0.3), Next::RetryAfter(Duration::from_secs(2)));
        let long = Answer::Status { code: 429, retry_after: Some(Duration::from_secs(9999)) };
        assert_eq!(p.next(1, &long, 0.3), Next::RetryAfter(MAX_RETRY_AFTER));
    }

    #[test]
    fn other_client_errors_are_not_retried() {
        for code in [400, 401, 403, 404, 422] {
            assert_eq!(
                policy().next(1, &Answer::Status { code, retry_after: None }, 0.5),
                Next::GiveUp
            );
        }
        assert_eq!(policy().next(1, &Answer::Ok, 0.5), Next::Done);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("a timestamp");
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
