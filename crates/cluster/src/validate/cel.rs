//! `x-kubernetes-validations`: CEL rules on a schema node, with `self` bound to the value there
//! and `oldSelf` to the stored one on updates (transition rules). The `cel` crate is the one
//! `ferry-health` already evaluates user rules with.

use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Program, Value as CelValue};
use serde_json::Value;

use super::SchemaError;
use super::field::{FieldError, Kind, type_name};

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// One compiled rule.
pub struct Rule {
    rule: String,
    program: Program,
    message: Option<String>,
    message_expression: Option<Program>,
    field_path: Option<String>,
    kind: Kind,
    /// Transition rules read `oldSelf` and run only on updates where an old value exists.
    transition: bool,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("rule", &self.rule).finish_non_exhaustive()
    }
}

/// Compiles the rules of `schema` (at `path`), refusing a rule that does not compile.
pub fn compile_rules(schema: &Value, path: &str) -> Result<Vec<Rule>, SchemaError> {
    let Some(list) = schema.get("x-kubernetes-validations").and_then(Value::as_array) else {
        return Ok(vec![]);
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let at = format!("{path}.x-kubernetes-validations[{i}]");
        let rule = r.get("rule").and_then(Value::as_str).unwrap_or_default().to_string();
        let program = ENV.compile(&rule).map_err(|e| SchemaError::Rule {
            path: format!("{at}.rule"),
            rule: rule.clone(),
            message: e.to_string(),
        })?;
        let message_expression = match r.get("messageExpression").and_then(Value::as_str) {
            None => None,
            Some(expr) => Some(ENV.compile(expr).map_err(|e| SchemaError::Rule {
                path: format!("{at}.messageExpression"),
                rule: expr.to_string(),
                message: e.to_string(),
            })?),
        };
        out.push(Rule {
            transition: rule.contains("oldSelf"),
            rule,
            program,
            message: r.get("message").and_then(Value::as_str).map(str::to_string),
            message_expression,
            field_path: r.get("fieldPath").and_then(Value::as_str).map(str::to_string),
            kind: r.get("reason").and_then(Value::as_str).map_or(Kind::Invalid, Kind::from_reason),
        });
    }
    Ok(out)
}

fn context(value: &Value, old: Option<&Value>) -> Result<Context<'static, 'static>, String> {
    let mut context = Context::with_env(Arc::clone(&ENV));
    context.add_variable_from_value("self", cel::to_value(value).map_err(|e| e.to_string())?);
    if let Some(old) = old {
        context.add_variable_from_value("oldSelf", cel::to_value(old).map_err(|e| e.to_string())?);
    }
    Ok(context)
}

impl Rule {
    /// Evaluates the rule on `value` at `path`; a failure is a field error.
    pub fn check(&self, value: &Value, old: Option<&Value>, path: &str) -> Option<FieldError> {
        if self.transition && old.is_none() {
            return None;
        }
        let field = match &self.field_path {
            Some(fp) if fp.starts_with('.') => format!("{path}{fp}"),
            Some(fp) => format!("{path}.{fp}"),
            None => path.to_string(),
        };
        let ctx = match context(value, old) {
            Ok(c) => c,
            Err(e) => {
                return Some(self.error(
                    field,
                    value,
                    format!("rule input cannot be evaluated: {e}"),
                ));
            }
        };
        match self.program.execute(&ctx) {
            Ok(CelValue::Bool(true)) => None,
            Ok(CelValue::Bool(false)) => Some(self.error(field, value, self.message(&ctx))),
            Ok(other) => Some(self.error(
                field,
                value,
                format!("rule {:?} evaluated to {:?}, not a bool", self.rule, other.type_of()),
            )),
            Err(e) => Some(self.error(field, value, format!("{e} evaluating rule: {}", self.rule))),
        }
    }

    fn message(&self, ctx: &Context<'_, '_>) -> String {
        if let Some(expr) = &self.message_expression
            && let Ok(CelValue::String(s)) = expr.execute(ctx)
            && !s.trim().is_empty()
        {
            return s.to_string();
        }
        self.message.clone().unwrap_or_else(|| format!("failed rule: {}", self.rule))
    }

    fn error(&self, field: String, value: &Value, detail: String) -> FieldError {
        let shown = match self.kind {
            Kind::Invalid | Kind::Duplicate => Some(format!("{:?}", type_name(value))),
            _ => None,
        };
        FieldError { field, kind: self.kind, value: shown, detail }
    }
}
