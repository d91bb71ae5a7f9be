//! Label and field selectors as `kubectl` and kube-rs send them in query strings.

use serde_json::Value;

/// Whether a `LabelSelector` object (`matchLabels`, `matchExpressions`) selects `labels`.
/// An empty selector selects everything.
pub fn label_selector_matches(
    sel: &Value,
    labels: Option<&serde_json::Map<String, Value>>,
) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let by_labels = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| get(k) == v.as_str()));
    let by_expressions = sel.get("matchExpressions").and_then(Value::as_array).is_none_or(|es| {
        es.iter().all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => get(key).is_some_and(|v| values.contains(&v)),
                Some("NotIn") => get(key).is_none_or(|v| !values.contains(&v)),
                Some("Exists") => get(key).is_some(),
                Some("DoesNotExist") => get(key).is_none(),
                _ => true,
            }
        })
    });
    by_labels && by_expressions
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid selector {selector:?}: {why}")]
pub struct SelectorError {
    pub selector: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    reqs: Vec<Req>,
}

/// Splits on commas that are not inside `( … )`.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let err = |why: &str| SelectorError { selector: text.to_string(), why: why.to_string() };
        let mut reqs = Vec::new();
        if text.trim().is_empty() {
            return Ok(Selector { reqs });
        }
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                return Err(err("empty term"));
            }
            let set = |rest: &str| -> Result<Vec<String>, SelectorError> {
                let rest = rest.trim();
                let inner = rest
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| err("expected a set in parentheses"))?;
                Ok(inner
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect())
            };
            if let Some(k) = term.strip_prefix('!') {
                reqs.push(Req::NotExists(k.trim().to_string()));
            } else if let Some((k, v)) = term.split_once("!=") {
                reqs.push(Req::NotEq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = term.split_once("==") {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = term.split_once('=') {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, rest)) = term.split_once(" notin ") {
                reqs.push(Req::NotIn(k.trim().into(), set(rest)?));
            } else if let Some((k, rest)) = term.split_once(" in ") {
                reqs.push(Req::In(k.trim().into(), set(rest)?));
            } else if term.contains(' ') || term.contains('(') {
                return Err(err(&format!("cannot parse term {term:?}")));
            } else {
                reqs.push(Req::Exists(term.to_string()));
            }
        }
        Ok(Selector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether a lookup function (label value or field value by key) satisfies every requirement.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => lookup(k).as_deref() == Some(v.as_str()),
            Req::NotEq(k, v) => lookup(k).as_deref() != Some(v.as_str()),
            Req::In(k, vs) => lookup(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => lookup(k).is_none_or(|x| !vs.contains(&x)),
            Req::Exists(k) => lookup(k).is_some(),
            Req::NotExists(k) => lookup(k).is_none(),
        })
    }

    pub fn matches_labels(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        self.matches(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str).map(str::to_string))
    }

    /// Field selectors address dotted paths (`metadata.name`, `status.phase`, `spec.nodeName`).
    pub fn matches_fields(&self, obj: &Value) -> bool {
        self.matches(|k| {
            let pointer = format!("/{}", k.replace('.', "/"));
            match obj.pointer(&pointer) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => match k {
                    // Real servers answer these for every object; an unset namespace is "".
                    "metadata.namespace" => Some(String::new()),
                    _ => None,
                },
                Some(other) => Some(other.to_string()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "front"}},
               "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selectors_support_equality_sets_and_existence() {
        let o = obj();
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("tier in (front, back)", true),
            ("tier notin (front)", false),
            ("app", true),
            ("!missing", true),
            ("missing", false),
            ("", true),
        ] {
            assert_eq!(
                Selector::parse(sel).expect("valid selector").matches_labels(&o),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn field_selectors_read_dotted_paths() {
        let o = obj();
        let sel =
            Selector::parse("metadata.name=web,status.phase!=Pending").expect("valid selector");
        assert!(sel.matches_fields(&o));
        assert!(!Selector::parse("metadata.namespace=other").expect("valid").matches_fields(&o));
    }

    #[test]
    fn a_malformed_selector_is_an_error_naming_it() {
        let e = Selector::parse("app in front").expect_err("sets need parentheses");
        assert!(e.to_string().contains("app in front"));
    }
}
