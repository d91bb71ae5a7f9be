//! Intervals as Flux writes them: `30s`, `5m`, `1h30m`, `500ms`.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interval {text:?}: {message} (expected e.g. 30s, 5m, 1h30m)")]
pub struct IntervalError {
    pub text: String,
    pub message: String,
}

/// Parses a Go-style duration of `h`, `m`, `s` and `ms` parts.
pub fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let error = |message: &str| IntervalError { text: text.to_string(), message: message.into() };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(error("empty"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(error("a number must come before each unit"));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| error("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "h" => Duration::from_secs(3600),
            "m" => Duration::from_secs(60),
            "s" => Duration::from_secs(1),
            "ms" => Duration::from_millis(1),
            "" => return Err(error("missing unit")),
            _ => return Err(error("unknown unit")),
        };
        rest = &rest[unit_len..];
        let part = u32::try_from(number)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(|| error("too long"))?;
        total = total.checked_add(part).ok_or_else(|| error("too long"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_intervals_are_read() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn bad_intervals_name_the_text() {
        for bad in ["", "5", "m", "5 minutes", "1d", "99999999999999999999s"] {
            let error = parse_interval(bad).expect_err(bad);
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }
}
