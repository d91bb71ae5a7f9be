//! User health rules in CEL, per group/kind, like Flux's `spec.healthCheckExprs`.
//!
//! ```yaml
//! healthChecks:
//!   - apiVersion: cert-manager.io/v1
//!     kind: Certificate
//!     current: status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')
//!     failed: status.conditions.exists(c, c.type == 'Ready' && c.status == 'False')
//! ```
//!
//! # Guarantees
//! - Expressions are compiled once, when the rules are built; a rule that does not compile is
//!   kept as an error and every object it applies to is judged `Unknown` with that error as the
//!   message (the bad rule is visible where its effect is, and never panics).
//! - Evaluation is bounded by size rather than by a clock (a CEL evaluation cannot be interrupted
//!   from outside): expressions are at most [`MAX_EXPRESSION_BYTES`] long and nest comprehension
//!   macros (`all`, `exists`, `map`, `filter`, …) at most [`MAX_COMPREHENSION_DEPTH`] deep, so an
//!   evaluation costs at most O(n²) in the length n of the longest list in the object, and CEL
//!   itself has no loops or recursion.
//!
//! # Semantics (Flux's)
//! The object is bound to `self`, and each top-level field (`apiVersion`, `kind`, `metadata`,
//! `spec`, `status`) also as its own variable so Flux expressions work unchanged. `inProgress` is
//! tried first, then `failed`, then `current`; when none is true the object is `Progressing`.
//! Only the group of `apiVersion` is matched (versions of one kind share their status shape).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::{Context, Env, Program, Value as CelValue};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::object::group_of;
use crate::status::Health;

/// Longest accepted expression, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest accepted nesting of comprehension macros.
pub const MAX_COMPREHENSION_DEPTH: usize = 2;

/// The standard CEL environment, built once: building it registers every standard function,
/// which costs far more than evaluating a typical health expression.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// One user rule as written in the Application (`spec.healthChecks[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `group/version` of the objects this rule judges, as in Flux (`cert-manager.io/v1`); only
    /// the group is matched. Give this or `group`; neither means the core group (`v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The API group of the objects this rule judges (`apps`, `cert-manager.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The kind of the objects this rule judges.
    pub kind: String,
    /// CEL: true when the object is healthy.
    pub current: String,
    /// CEL: true while the object is still working towards health (tried first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// CEL: true when the object failed (tried second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Errors of user rules, as data: each names the rule and the expression.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleError {
    #[error(
        "rule for {target}: apiVersion {api_version:?} is in group {from_api_version:?} but group says {group:?}"
    )]
    GroupMismatch { target: String, api_version: String, from_api_version: String, group: String },
    #[error("rule for {target}: {field} expression `{expression}` does not compile: {source}")]
    Compile {
        target: String,
        field: &'static str,
        expression: String,
        #[source]
        source: Arc<cel::ParseErrors>,
    },
    #[error(
        "rule for {target}: {field} expression is {len} bytes long, more than the {max} allowed"
    )]
    TooLong { target: String, field: &'static str, len: usize, max: usize },
    #[error(
        "rule for {target}: {field} expression `{expression}` nests comprehensions {depth} deep, more than the {max} allowed"
    )]
    TooDeep { target: String, field: &'static str, expression: String, depth: usize, max: usize },
    #[error("rule for {target}: the object cannot be given to CEL: {source}")]
    Input {
        target: String,
        #[source]
        source: Arc<cel::SerializationError>,
    },
    #[error("rule for {target}: {field} expression `{expression}` failed: {source}")]
    Evaluate {
        target: String,
        field: &'static str,
        expression: String,
        #[source]
        source: Arc<cel::ExecutionError>,
    },
    #[error("rule for {target}: {field} expression `{expression}` returned {found}, not a bool")]
    NotBool { target: String, field: &'static str, expression: String, found: String },
}

/// Compiled user rules. Built from (and serialized as) the list of [`HealthCheck`]s.
#[derive(Clone, Default)]
pub struct Rules {
    checks: Vec<Arc<CompiledCheck>>,
}

struct CompiledCheck {
    spec: HealthCheck,
    group: String,
    programs: Result<Programs, RuleError>,
}

struct Programs {
    /// Names the expressions read (`self`, `status`, …): only those are handed to CEL, since
    /// converting the object is most of the cost of an evaluation.
    variables: BTreeSet<String>,
    in_progress: Option<(String, Program)>,
    failed: Option<(String, Program)>,
    current: (String, Program),
}

impl Rules {
    /// Compiles every rule once. Never fails: a broken rule is kept as its error (see
    /// [`Rules::problems`]) and judges its objects `Unknown`.
    pub fn new(checks: impl IntoIterator<Item = HealthCheck>) -> Rules {
        let checks =
            checks.into_iter().map(|spec| Arc::new(CompiledCheck::compile(spec))).collect();
        Rules { checks }
    }

    /// The rules as written.
    pub fn checks(&self) -> impl Iterator<Item = &HealthCheck> {
        self.checks.iter().map(|check| &check.spec)
    }

    /// Rules that do not compile, for validation and status before any object is judged.
    pub fn problems(&self) -> Vec<RuleError> {
        self.checks.iter().filter_map(|check| check.programs.as_ref().err().cloned()).collect()
    }

    /// The first rule for `group`/`kind` judges `obj`; `None` when no rule applies.
    pub(crate) fn judge(&self, group: &str, kind: &str, obj: &Value) -> Option<Health> {
        let check =
            self.checks.iter().find(|check| check.group == group && check.spec.kind == kind)?;
        Some(match check.judge(obj) {
            Ok(health) => health,
            Err(error) => Health::unknown(error.to_string()),
        })
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.checks.iter().map(|check| &check.spec)).finish()
    }
}

impl PartialEq for Rules {
    fn eq(&self, other: &Self) -> bool {
        self.checks().eq(other.checks())
    }
}

impl From<Vec<HealthCheck>> for Rules {
    fn from(checks: Vec<HealthCheck>) -> Rules {
        Rules::new(checks)
    }
}

impl From<Rules> for Vec<HealthCheck> {
    fn from(rules: Rules) -> Vec<HealthCheck> {
        rules.checks().cloned().collect()
    }
}

impl Serialize for Rules {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.checks())
    }
}

impl<'de> Deserialize<'de> for Rules {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Rules, D::Error> {
        Vec::<HealthCheck>::deserialize(deserializer).map(Rules::new)
    }
}

impl JsonSchema for Rules {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HealthChecks")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        Vec::<HealthCheck>::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

impl CompiledCheck {
    fn compile(spec: HealthCheck) -> CompiledCheck {
        let (group, group_error) = resolve_group(&spec);
        let target = target_name(&group, &spec.kind);
        let programs = match group_error {
            Some(error) => Err(error),
            None => compile_programs(&spec, &target),
        };
        CompiledCheck { spec, group, programs }
    }

    fn judge(&self, obj: &Value) -> Result<Health, RuleError> {
        let programs = self.programs.as_ref().map_err(Clone::clone)?;
        let target = target_name(&self.group, &self.spec.kind);
        let context = context_for(obj, &programs.variables).map_err(|source| RuleError::Input {
            target: target.clone(),
            source: Arc::new(source),
        })?;
        let run = |field: &'static str, (expression, program): &(String, Program)| {
            evaluate(&context, program).map_err(|failure| match failure {
                Failure::Execution(source) => RuleError::Evaluate {
                    target: target.clone(),
                    field,
                    expression: expression.clone(),
                    source: Arc::new(source),
                },
                Failure::NotBool(found) => RuleError::NotBool {
                    target: target.clone(),
                    field,
                    expression: expression.clone(),
                    found,
                },
            })
        };
        if let Some(in_progress) = &programs.in_progress
            && run("inProgress", in_progress)?
        {
            return Ok(Health::progressing(format!(
                "rule for {target}: inProgress `{}` is true",
                in_progress.0
            )));
        }
        if let Some(failed) = &programs.failed
            && run("failed", failed)?
        {
            return Ok(Health::degraded(format!(
                "rule for {target}: failed `{}` is true",
                failed.0
            )));
        }
        if run("current", &programs.current)? {
            return Ok(Health::healthy(format!(
                "rule for {target}: current `{}` is true",
                programs.current.0
            )));
        }
        Ok(Health::progressing(format!(
            "rule for {target}: waiting for current `{}` to become true",
            programs.current.0
        )))
    }
}

fn resolve_group(spec: &HealthCheck) -> (String, Option<RuleError>) {
    let from_api_version = spec.api_version.as_deref().map(group_of);
    match (from_api_version, spec.group.as_deref()) {
        (Some(from_api), Some(group)) if from_api != group => {
            let error = RuleError::GroupMismatch {
                target: target_name(group, &spec.kind),
                api_version: spec.api_version.clone().unwrap_or_default(),
                from_api_version: from_api.to_string(),
                group: group.to_string(),
            };
            (group.to_string(), Some(error))
        }
        (_, Some(group)) => (group.to_string(), None),
        (Some(from_api), None) => (from_api.to_string(), None),
        (None, None) => (String::new(), None),
    }
}

fn target_name(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_string() } else { format!("{group}/{kind}") }
}

fn compile_programs(spec: &HealthCheck, target: &str) -> Result<Programs, RuleError> {
    let compile_optional = |field, expression: &Option<String>| {
        expression.as_ref().map(|expression| compile_one(target, field, expression)).transpose()
    };
    let in_progress = compile_optional("inProgress", &spec.in_progress)?;
    let failed = compile_optional("failed", &spec.failed)?;
    let current = compile_one(target, "current", &spec.current)?;
    let mut variables = BTreeSet::new();
    for (_, program) in
        [in_progress.as_ref(), failed.as_ref(), Some(&current)].into_iter().flatten()
    {
        let references = program.references();
        variables.extend(references.variables().into_iter().map(str::to_string));
    }
    Ok(Programs { variables, in_progress, failed, current })
}

fn compile_one(
    target: &str,
    field: &'static str,
    expression: &str,
) -> Result<(String, Program), RuleError> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(RuleError::TooLong {
            target: target.to_string(),
            field,
            len: expression.len(),
            max: MAX_EXPRESSION_BYTES,
        });
    }
    let program = ENV.compile(expression).map_err(|source| RuleError::Compile {
        target: target.to_string(),
        field,
        expression: expression.to_string(),
        source: Arc::new(source),
    })?;
    let depth = comprehension_depth(program.expression());
    if depth > MAX_COMPREHENSION_DEPTH {
        return Err(RuleError::TooDeep {
            target: target.to_string(),
            field,
            expression: expression.to_string(),
            depth,
            max: MAX_COMPREHENSION_DEPTH,
        });
    }
    Ok((expression.to_string(), program))
}

/// How deeply comprehensions (the expansion of `all`, `exists`, `map`, `filter`, …) nest.
fn comprehension_depth(expr: &IdedExpr) -> usize {
    let deepest = |children: &mut dyn Iterator<Item = &IdedExpr>| {
        children.map(comprehension_depth).max().unwrap_or(0)
    };
    match &expr.expr {
        Expr::Comprehension(comprehension) => {
            1 + deepest(
                &mut [
                    &comprehension.iter_range,
                    &comprehension.accu_init,
                    &comprehension.loop_cond,
                    &comprehension.loop_step,
                    &comprehension.result,
                ]
                .into_iter(),
            )
        }
        Expr::Call(call) => deepest(&mut call.target.as_deref().into_iter().chain(&call.args)),
        Expr::List(list) => deepest(&mut list.elements.iter()),
        Expr::Map(map) => deepest(&mut map.entries.iter().flat_map(entry_children)),
        Expr::Struct(structure) => deepest(&mut structure.entries.iter().flat_map(entry_children)),
        Expr::Select(select) => comprehension_depth(&select.operand),
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => 0,
    }
}

fn entry_children(entry: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::StructField(field) => vec![&field.value],
        EntryExpr::MapEntry(map_entry) => vec![&map_entry.key, &map_entry.value],
    }
}

/// Binds `self` and the object's top-level fields that the expressions read.
fn context_for(
    obj: &Value,
    variables: &BTreeSet<String>,
) -> Result<Context<'static, 'static>, cel::SerializationError> {
    let mut context = Context::with_env(Arc::clone(&ENV));
    for name in variables {
        // `self` is ours: an object field of that name cannot shadow it. Names that are not
        // fields (comprehension variables, typos) stay unbound and CEL reports them by name.
        let value = if name == "self" { Some(obj) } else { obj.get(name) };
        if let Some(value) = value {
            context.add_variable_from_value(name.as_str(), cel::to_value(value)?);
        }
    }
    Ok(context)
}

enum Failure {
    Execution(cel::ExecutionError),
    NotBool(String),
}

fn evaluate(context: &Context<'_, '_>, program: &Program) -> Result<bool, Failure> {
    match program.execute(context).map_err(Failure::Execution)? {
        CelValue::Bool(value) => Ok(value),
        other => Err(Failure::NotBool(format!("{:?}", other.type_of()))),
    }
}
