//! Resource quantities (`500m`, `0.5`, `1Gi`, `1024Mi`) compared by amount.

use serde_json::Value;

/// The amount in nano-units, when `s` is a Kubernetes quantity.
fn nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    // `1e3` is an exponent; a bare `E` is the exa suffix.
    let exp10 = match suffix.strip_prefix(['e', 'E']).map(str::parse::<i32>) {
        Some(Ok(e)) => e,
        _ => 0,
    };
    let is_exponent = suffix.len() > 1 && suffix.starts_with(['e', 'E']);
    let (mult, scale10): (i128, i32) = match if is_exponent { "" } else { suffix } {
        "" => (1, 0),
        "n" => (1, -9),
        "u" => (1, -6),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "E" => (1, 18),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        "Ei" => (1 << 60, 0),
        _ => return None,
    };
    let (neg, digits) = match num.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !(int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let mantissa: i128 = format!("{int}{frac}").parse().ok()?;
    let exp = 9 + scale10 + exp10 - frac.len() as i32;
    let scaled = if exp >= 0 {
        mantissa.checked_mul(10i128.checked_pow(exp as u32)?)?
    } else {
        // Below a nano-unit: Kubernetes rounds up, so keep the remainder visible.
        let d = 10i128.checked_pow((-exp) as u32)?;
        (mantissa + d - 1) / d
    };
    let v = scaled.checked_mul(mult)?;
    Some(if neg { -v } else { v })
}

/// Whether two JSON values are the same resource quantity (`"500m"` and `0.5`).
pub fn quantities_equal(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match (text(a).as_deref().and_then(nanos), text(b).as_deref().and_then(nanos)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}
