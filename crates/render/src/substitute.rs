//! Flux `postBuild` substitution: `${var}`, `${var:=default}` (and `${var:-default}`), with `$${var}`
//! for a literal `${var}`. Like Flux, it works on each object's YAML text and reads the result
//! back, so `replicas: ${REPLICAS}` becomes a number. Objects annotated
//! `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::Limits;
use crate::error::RenderError;
use crate::object::Origin;
use crate::options::Substitute;
use crate::yaml;

const DISABLE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Substitutes variables in one object.
pub(crate) fn apply(
    value: Value,
    origin: &Origin,
    subst: &Substitute,
    limits: &Limits,
) -> Result<Value, RenderError> {
    let disabled = value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DISABLE_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|v| v == "disabled");
    if disabled {
        return Ok(value);
    }
    let text = serde_saphyr::to_string(&value).map_err(|e| RenderError::Substitution {
        origin: origin.clone(),
        message: format!("cannot write the object as YAML for substitution: {e}"),
    })?;
    if !text.contains("${") {
        return Ok(value);
    }
    let replaced = substitute_text(&text, &subst.vars, subst.strict)
        .map_err(|var| RenderError::UnsetVariable { origin: origin.clone(), var })?;
    let mut docs =
        yaml::load_documents(&origin.file, replaced.as_bytes(), limits).map_err(|e| {
            RenderError::Substitution {
                origin: origin.clone(),
                message: format!("after substitution: {e}"),
            }
        })?;
    match docs.len() {
        1 => Ok(docs.remove(0).value),
        n => Err(RenderError::Substitution {
            origin: origin.clone(),
            message: format!(
                "after substitution the object became {n} documents; a value must not contain a document separator"
            ),
        }),
    }
}

/// Replaces variables in `text`. In strict mode an unset variable without default is an error
/// (the name is returned); otherwise it becomes empty.
pub fn substitute_text(
    text: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(escaped) = after.strip_prefix("$${") {
            // `$${var}` is the escape for a literal `${var}`.
            out.push_str("${");
            rest = escaped;
            continue;
        }
        if let Some(body) = after.strip_prefix("${")
            && let Some(end) = body.find('}')
        {
            let expr = &body[..end];
            if let Some((name, default)) = split_default(expr)
                && is_name(name)
            {
                match vars.get(name) {
                    Some(v) if !v.is_empty() || default.is_none() => out.push_str(v),
                    _ => match default {
                        Some(d) => out.push_str(d),
                        None if strict => return Err(name.to_owned()),
                        None => {}
                    },
                }
                rest = &body[end + 1..];
                continue;
            }
        }
        out.push('$');
        rest = &after[1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn split_default(expr: &str) -> Option<(&str, Option<&str>)> {
    for op in [":=", ":-", "="] {
        if let Some((name, default)) = expr.split_once(op) {
            return Some((name, Some(default)));
        }
    }
    Some((expr, None))
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn variables_defaults_and_escapes_follow_flux() {
        let v = vars(&[("env", "prod"), ("empty", "")]);
        assert_eq!(substitute_text("a-${env}-b", &v, false).unwrap(), "a-prod-b");
        assert_eq!(substitute_text("${region:=eu}", &v, true).unwrap(), "eu");
        assert_eq!(substitute_text("${env:=eu}", &v, true).unwrap(), "prod");
        assert_eq!(substitute_text("${empty:=x}", &v, true).unwrap(), "x");
        assert_eq!(substitute_text("$${env} costs $5", &v, true).unwrap(), "${env} costs $5");
        assert_eq!(substitute_text("${missing}", &v, false).unwrap(), "");
        assert_eq!(substitute_text("${missing}", &v, true).unwrap_err(), "missing");
    }
}
