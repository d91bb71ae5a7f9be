//! Durations as Go writes them (`time.ParseDuration`): `30s`, `5m`, `1h30m`, `1.5h`, `250ms`,
//! the spelling of Argo CD's retry backoff and Flux's intervals. The one parser for both.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a duration: {problem} (expected e.g. 30s, 5m, 1h30m, 250ms)")]
pub struct DurationError {
    pub text: String,
    pub problem: &'static str,
}

/// Parses a Go duration: one or more `NUMBER UNIT` parts, the number possibly with a
/// fraction, the unit one of `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`; `0` alone is zero. Negative
/// durations are refused (nothing in Ferry waits a negative time).
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |problem| DurationError { text: text.to_owned(), problem };
    let mut rest = text.trim();
    rest = rest.strip_prefix('+').unwrap_or(rest);
    if rest.starts_with('-') {
        return Err(error("negative"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(error("empty"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(error("a number must come before each unit"));
        }
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per_unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(error("missing unit")),
            _ => return Err(error("unknown unit")),
        };
        rest = &rest[unit_len..];
        let part = scaled(number, nanos_per_unit).ok_or_else(|| error("too long"))?;
        total = total.checked_add(part).ok_or_else(|| error("too long"))?;
    }
    Ok(total)
}

/// Argo CD's rule for a retry backoff: a whole number alone is seconds (`"5"` = 5 s), anything
/// else a Go duration.
pub fn parse_seconds_or_go_duration(text: &str) -> Result<Duration, DurationError> {
    match text.trim().parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => parse_go_duration(text),
    }
}

/// `number` (digits, at most one `.`) times `nanos_per_unit`, exactly, as a [`Duration`].
fn scaled(number: &str, nanos_per_unit: u128) -> Option<Duration> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = whole.checked_mul(nanos_per_unit)?;
    // Digits past the unit's precision cannot change the result by a nanosecond: drop them so
    // the arithmetic stays in range.
    let fraction = &fraction[..fraction.len().min(18)];
    if !fraction.is_empty() {
        let value: u128 = fraction.parse().ok()?;
        nanos = nanos.checked_add(value * nanos_per_unit / 10u128.pow(fraction.len() as u32))?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_are_read_as_go_reads_them() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h30m", Duration::from_secs(5400)),
            ("1m30s", Duration::from_secs(90)),
            ("250ms", Duration::from_millis(250)),
            ("1.5h", Duration::from_secs(5400)),
            ("0.5s", Duration::from_millis(500)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("+2s", Duration::from_secs(2)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_durations_name_the_text_and_the_problem() {
        for (bad, problem) in [
            ("", "empty"),
            ("5", "missing unit"),
            ("m", "a number must come before each unit"),
            ("5 minutes", "unknown unit"),
            ("1d", "unknown unit"),
            ("-5s", "negative"),
            ("1..5s", "a number must come before each unit"),
            ("99999999999999999999h", "too long"),
        ] {
            let error = parse_go_duration(bad).expect_err(bad);
            assert_eq!(error.problem, problem, "{bad}");
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn a_bare_number_is_seconds_only_where_argo_cd_says_so() {
        assert_eq!(parse_seconds_or_go_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_seconds_or_go_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_seconds_or_go_duration("5x").is_err());
    }
}
