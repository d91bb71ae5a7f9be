//! Field errors as kube-apiserver words them (`k8s.io/apimachinery/pkg/util/validation/field`):
//! `spec.replicas: Invalid value: "string": …`, one `details.causes` entry each.

use serde_json::{Value, json};

use crate::error::ApiError;

/// What is wrong with a field; the names are the Status cause reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Required,
    Invalid,
    /// A value of the wrong JSON type (worded as `Invalid value`).
    TypeInvalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Duplicate,
}

impl Kind {
    pub fn reason(self) -> &'static str {
        match self {
            Kind::Required => "FieldValueRequired",
            Kind::Invalid => "FieldValueInvalid",
            Kind::TypeInvalid => "FieldValueTypeInvalid",
            Kind::NotSupported => "FieldValueNotSupported",
            Kind::Forbidden => "FieldValueForbidden",
            Kind::TooLong => "FieldValueTooLong",
            Kind::TooMany => "FieldValueTooMany",
            Kind::Duplicate => "FieldValueDuplicate",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Kind::Required => "Required value",
            Kind::Invalid | Kind::TypeInvalid => "Invalid value",
            Kind::NotSupported => "Unsupported value",
            Kind::Forbidden => "Forbidden",
            Kind::TooLong => "Too long",
            Kind::TooMany => "Too many",
            Kind::Duplicate => "Duplicate value",
        }
    }

    /// The reason a CEL rule names (`x-kubernetes-validations[].reason`).
    pub fn from_reason(reason: &str) -> Kind {
        match reason {
            "FieldValueRequired" => Kind::Required,
            "FieldValueForbidden" => Kind::Forbidden,
            "FieldValueDuplicate" => Kind::Duplicate,
            _ => Kind::Invalid,
        }
    }
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub kind: Kind,
    /// The bad value as Go's `%q`/`%v` prints it; `None` where the real server omits it.
    pub value: Option<String>,
    pub detail: String,
}

/// A value as the real server prints a bad value: strings quoted, numbers and booleans bare.
pub fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The JSON type name of a value, as schema errors name it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: Kind::Required, value: None, detail: detail.into() }
    }

    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: Kind::Invalid,
            value: Some(shown(value)),
            detail: detail.into(),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: Kind::Forbidden,
            value: None,
            detail: detail.into(),
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &Value, allowed: &[String]) -> Self {
        let quoted: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError {
            field: field.into(),
            kind: Kind::NotSupported,
            value: Some(shown(value)),
            detail,
        }
    }

    /// The message without the field name (a cause's `message`).
    pub fn body(&self) -> String {
        let mut s = self.kind.words().to_string();
        let omit = matches!(self.kind, Kind::Required | Kind::Forbidden | Kind::TooLong);
        if let (false, Some(v)) = (omit, &self.value) {
            s.push_str(": ");
            s.push_str(v);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// The 422 `Invalid` Status for `errors` (duplicates dropped, as the real aggregate does).
pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> ApiError {
    let mut seen: Vec<String> = Vec::new();
    let mut causes = Vec::new();
    for e in errors {
        let text = e.to_string();
        if seen.contains(&text) {
            continue;
        }
        seen.push(text);
        causes.push(json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}));
    }
    let all = if seen.len() == 1 { seen.join("") } else { format!("[{}]", seen.join(", ")) };
    let group_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
    let mut details = json!({"name": name, "kind": kind, "causes": causes});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    ApiError::new(422, "Invalid", format!("{group_kind} \"{name}\" is invalid: {all}"))
        .with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_error_reads_like_kube_apiserver_and_several_are_bracketed() {
        let one = [FieldError::required("spec.source.repoURL", "")];
        let err = invalid("argoproj.io", "Application", "x", &one);
        assert_eq!(
            err.message,
            "Application.argoproj.io \"x\" is invalid: spec.source.repoURL: Required value"
        );
        let details = err.details.expect("an Invalid error has details");
        assert_eq!(details["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(details["causes"][0]["field"], "spec.source.repoURL");
        assert_eq!(details["group"], "argoproj.io");
        let two = [
            FieldError::invalid(
                "spec.replicas",
                &json!("string"),
                "spec.replicas in body must be of type integer: \"string\"",
            ),
            FieldError::not_supported("spec.mode", &json!("c"), &["a".into(), "b".into()]),
        ];
        let err = invalid("", "Widget", "w", &two);
        assert_eq!(
            err.message,
            "Widget \"w\" is invalid: [spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\", spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\"]"
        );
    }
}
