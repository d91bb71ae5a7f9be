//! Label selectors (`matchLabels`, `matchExpressions`) over a label map: which cluster Secrets a
//! `clusters` generator takes and which apps a RollingSync step selects. Pure.

use std::collections::BTreeMap;

use super::{LabelSelector, LabelSelectorRequirement};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(
        "matchExpressions operator {operator:?} (key {key:?}) is not one of In, NotIn, Exists, DoesNotExist"
    )]
    Operator { key: String, operator: String },
    #[error("matchExpressions key {key:?} with operator {operator} needs at least one value")]
    NoValues { key: String, operator: String },
}

/// Whether `labels` satisfy every requirement of `selector` (an empty selector selects all).
pub fn matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectError> {
    let by_label = selector.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v));
    Ok(by_label && all_expressions(&selector.match_expressions, labels)?)
}

/// Whether `labels` satisfy every expression (checked even when an earlier one fails, so a
/// malformed expression is reported whatever the labels).
pub fn all_expressions(
    expressions: &[LabelSelectorRequirement],
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectError> {
    let mut all = true;
    for e in expressions {
        all &= expression(e, labels)?;
    }
    Ok(all)
}

fn expression(
    e: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectError> {
    let value = labels.get(&e.key);
    let needs_values = || {
        if e.values.is_empty() {
            Err(SelectError::NoValues { key: e.key.clone(), operator: e.operator.clone() })
        } else {
            Ok(())
        }
    };
    match e.operator.as_str() {
        "In" => {
            needs_values()?;
            Ok(value.is_some_and(|v| e.values.contains(v)))
        }
        "NotIn" => {
            needs_values()?;
            Ok(value.is_none_or(|v| !e.values.contains(v)))
        }
        "Exists" => Ok(value.is_some()),
        "DoesNotExist" => Ok(value.is_none()),
        other => Err(SelectError::Operator { key: e.key.clone(), operator: other.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn selectors_read_as_kubernetes_reads_them() {
        let prod = labels(&[("env", "prod"), ("region", "eu")]);
        let table: Vec<(LabelSelector, bool)> = vec![
            (LabelSelector::default(), true),
            (
                LabelSelector { match_labels: labels(&[("env", "prod")]), ..Default::default() },
                true,
            ),
            (
                LabelSelector { match_labels: labels(&[("env", "dev")]), ..Default::default() },
                false,
            ),
            (
                LabelSelector {
                    match_expressions: vec![req("env", "In", &["staging", "prod"])],
                    ..Default::default()
                },
                true,
            ),
            (
                LabelSelector {
                    match_expressions: vec![req("region", "NotIn", &["eu"])],
                    ..Default::default()
                },
                false,
            ),
            (
                LabelSelector {
                    match_expressions: vec![
                        req("tier", "DoesNotExist", &[]),
                        req("env", "Exists", &[]),
                    ],
                    ..Default::default()
                },
                true,
            ),
        ];
        for (selector, want) in table {
            assert_eq!(matches(&selector, &prod), Ok(want), "{selector:?}");
        }
    }

    #[test]
    fn an_unknown_operator_is_an_error_that_names_it() {
        let selector = LabelSelector {
            match_expressions: vec![req("env", "Equals", &["prod"])],
            ..Default::default()
        };
        let err = matches(&selector, &labels(&[])).unwrap_err();
        assert!(err.to_string().contains("\"Equals\""), "{err}");
    }
}
