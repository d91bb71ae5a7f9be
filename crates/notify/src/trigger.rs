//! Triggers: when to send which templates, as Argo CD Notifications writes them —
//! `trigger.<name>` is a YAML list of `{when, send, oncePer}` — with conditions in CEL.
//!
//! `when` and `oncePer` are CEL over `app` (the Application as its JSON: `app.metadata.name`,
//! `app.status.sync.status`, `app.status.operationState.phase`, …) and Ferry's `event`
//! (`event.syncKind`: `auto`, `manual`, `heal` or empty; `event.author`).
//!
//! Argo CD writes conditions in expr; an expr condition works unchanged where the two languages
//! coincide: field access (`app.status.sync.status`), string literals in single or double
//! quotes, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`, `in [..]` with a list literal,
//! parentheses and the ternary `c ? a : b`. Not supported (rewrite them in CEL): the keywords
//! `and`, `or`, `not`; `time.Now()`, `time.Parse(…)` and durations written the expr way;
//! `len(x)` (CEL: `size(x)`); infix `matches` (CEL: `x.matches(re)`); `repo.*` functions.
//! A field the app does not have makes its condition false (not an error), so
//! `app.status.operationState.phase == 'Failed'` is simply false before the first sync.

use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Program, Value as CelValue};
use serde::Deserialize;
use serde_json::Value;

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("trigger.{trigger}: not a YAML list of {{when, send, oncePer}}: {message}")]
    Yaml { trigger: String, message: String },
    #[error(
        "trigger.{trigger}: condition {index}: `{field}: {expression}` is not CEL: {message}. Argo CD's expr works only where it coincides with CEL (==, &&, ||, in [..]); see the ferry-notify docs"
    )]
    Compile {
        trigger: String,
        index: usize,
        field: &'static str,
        expression: String,
        message: String,
    },
    #[error("trigger.{trigger}: condition {index} sends no template: add `send: [<template>]`")]
    NoSend { trigger: String, index: usize },
    #[error("trigger.{trigger}: has no condition: add `- when: …` entries")]
    Empty { trigger: String },
}

/// One condition as written.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConditionSpec {
    pub when: String,
    #[serde(default)]
    pub send: Vec<String>,
    #[serde(default, rename = "oncePer")]
    pub once_per: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Clone)]
pub struct Condition {
    pub spec: ConditionSpec,
    when: Arc<Program>,
    once_per: Option<Arc<Program>>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition").field("spec", &self.spec).finish()
    }
}

#[derive(Clone, Debug)]
pub struct Trigger {
    pub name: String,
    pub conditions: Vec<Condition>,
}

/// A condition that holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    pub trigger: String,
    pub condition: usize,
    pub templates: Vec<String>,
    /// The `oncePer` value, when the condition has one (sent once per distinct value).
    pub once_per: Option<String>,
}

/// The variables conditions read, bound once per event.
pub struct Vars {
    context: Context<'static, 'static>,
}

impl Vars {
    pub fn new(app: &Value, event: &Value) -> Self {
        let mut context = Context::with_env(Arc::clone(&ENV));
        for (name, value) in [("app", app), ("event", event)] {
            // A JSON value always converts; were it not to, the variable stays unbound and
            // every condition reading it is false.
            if let Ok(value) = cel::to_value(value) {
                context.add_variable_from_value(name, value);
            }
        }
        Self { context }
    }
}

impl Trigger {
    /// Parses `trigger.<name>`'s YAML.
    pub fn parse(name: &str, yaml: &str) -> Result<Self, TriggerError> {
        let specs: Vec<ConditionSpec> = serde_saphyr::from_str(yaml)
            .map_err(|e| TriggerError::Yaml { trigger: name.to_owned(), message: e.to_string() })?;
        Self::new(name, specs)
    }

    pub fn new(name: &str, specs: Vec<ConditionSpec>) -> Result<Self, TriggerError> {
        if specs.is_empty() {
            return Err(TriggerError::Empty { trigger: name.to_owned() });
        }
        let compile = |index: usize, field: &'static str, expression: &str| {
            Program::compile(expression).map(Arc::new).map_err(|e| TriggerError::Compile {
                trigger: name.to_owned(),
                index,
                field,
                expression: expression.to_owned(),
                message: e.to_string(),
            })
        };
        let mut conditions = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            if spec.send.is_empty() {
                return Err(TriggerError::NoSend { trigger: name.to_owned(), index });
            }
            let when = compile(index, "when", &spec.when)?;
            let once_per = match spec.once_per.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(expr) => Some(compile(index, "oncePer", expr)?),
                None => None,
            };
            conditions.push(Condition { spec, when, once_per });
        }
        Ok(Self { name: name.to_owned(), conditions })
    }

    /// The conditions that hold for `vars`. A condition that cannot be evaluated (a missing
    /// field, a value of the wrong type) does not hold.
    pub fn evaluate(&self, vars: &Vars) -> Vec<Fired> {
        let mut fired = Vec::new();
        for (index, condition) in self.conditions.iter().enumerate() {
            let holds = matches!(condition.when.execute(&vars.context), Ok(CelValue::Bool(true)));
            if !holds {
                continue;
            }
            let once_per = condition.once_per.as_ref().map(|p| match p.execute(&vars.context) {
                Ok(value) => text(&value),
                Err(_) => String::new(),
            });
            fired.push(Fired {
                trigger: self.name.clone(),
                condition: index,
                templates: condition.spec.send.clone(),
                once_per,
            });
        }
        fired
    }
}

fn text(value: &CelValue) -> String {
    match value {
        CelValue::String(s) => s.to_string(),
        CelValue::Int(i) => i.to_string(),
        CelValue::UInt(u) => u.to_string(),
        CelValue::Float(f) => f.to_string(),
        CelValue::Bool(b) => b.to_string(),
        CelValue::Null => String::new(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(phase: &str, health: &str, revision: &str) -> Value {
        json!({"metadata": {"name": "guestbook"},
               "status": {"sync": {"status": "Synced", "revision": revision},
                          "health": {"status": health},
                          "operationState": {"phase": phase, "revision": revision}}})
    }

    #[test]
    fn an_argo_cd_trigger_in_the_common_subset_reads_as_cel() {
        let yaml = "- description: Application syncing has succeeded\n  send: [app-sync-succeeded]\n  when: app.status.operationState.phase in ['Succeeded'] && app.status.health.status == \"Healthy\"\n  oncePer: app.status.sync.revision\n";
        let trigger = Trigger::parse("on-sync-succeeded", yaml).expect("parses");
        let fired = trigger.evaluate(&Vars::new(&app("Succeeded", "Healthy", "abc"), &json!({})));
        assert_eq!(
            fired,
            vec![Fired {
                trigger: "on-sync-succeeded".into(),
                condition: 0,
                templates: vec!["app-sync-succeeded".into()],
                once_per: Some("abc".into()),
            }]
        );
        assert!(
            trigger.evaluate(&Vars::new(&app("Running", "Healthy", "abc"), &json!({}))).is_empty()
        );
    }

    #[test]
    fn a_missing_field_makes_the_condition_false() {
        let trigger = Trigger::new(
            "t",
            vec![ConditionSpec {
                when: "app.status.operationState.phase == 'Failed'".into(),
                send: vec!["x".into()],
                ..Default::default()
            }],
        )
        .expect("compiles");
        assert!(trigger.evaluate(&Vars::new(&json!({"metadata": {}}), &json!({}))).is_empty());
    }

    #[test]
    fn expr_only_syntax_is_refused_naming_the_trigger_and_what_to_do() {
        let yaml = "- when: app.status.sync.status == 'Synced' and time.Now() > 1\n  send: [x]\n";
        let err = Trigger::parse("on-x", yaml).expect_err("expr's `and`");
        let message = err.to_string();
        assert!(message.starts_with("trigger.on-x: condition 0: `when:"), "{message}");
        assert!(message.contains("coincides with CEL"), "{message}");
        let err = Trigger::parse("on-y", "- when: 'true'\n").expect_err("no send");
        assert_eq!(err, TriggerError::NoSend { trigger: "on-y".into(), index: 0 });
    }
}
