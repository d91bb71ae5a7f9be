//! Who may do what: Argo CD's RBAC policy in its CSV form, evaluated here.
//!
//! ```text
//! p, role:dev, applications, sync, team-a/*, allow    # subject, resource, action, object, effect
//! g, my-oidc-group, role:dev                           # a user or group gets a role
//! ```
//!
//! Built in: `role:readonly` (`get` on everything) and `role:admin` (everything). `policy.default`
//! is a role every authenticated caller has. Resources, actions and objects are globs (`*`
//! matches `/` too, so `team-a/*` covers `team-a/NAMESPACE/NAME`). A `deny` wins over any `allow`.
//!
//! Written here rather than with casbin: the model is five fields and two rules, and casbin
//! would bring its own model language, a Rhai interpreter and an async adapter layer for it.

use std::collections::{BTreeSet, HashMap};

use globset::{Glob, GlobMatcher};

/// The built-in role that may read everything.
pub const ROLE_READONLY: &str = "role:readonly";
/// The built-in role that may do everything.
pub const ROLE_ADMIN: &str = "role:admin";

/// Resources a policy line may name (Argo CD's, plus `audit`). A typo is refused at load rather
/// than silently granting nothing.
pub const RESOURCES: &[&str] = &[
    "applications",
    "applicationsets",
    "clusters",
    "repositories",
    "projects",
    "accounts",
    "certificates",
    "gpgkeys",
    "logs",
    "exec",
    "audit",
    "notifications",
    "*",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{source_name} line {line}: {message}")]
    Line { source_name: String, line: usize, message: String },
    #[error("{source_name}: policy.default {role:?} is not a role: {message}")]
    Default { source_name: String, role: String, message: String },
}

impl PolicyError {
    pub fn hint(&self) -> &'static str {
        "policy lines are `p, SUBJECT, RESOURCE, ACTION, OBJECT, allow|deny` or `g, SUBJECT, ROLE`; the previous policy stays in force until this one loads"
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
struct Rule {
    subject: String,
    resource: GlobMatcher,
    action: GlobMatcher,
    object: GlobMatcher,
    effect: Effect,
}

/// A loaded policy: the built-in roles, the CSV's rules and groupings, the default role and the
/// OIDC claims that hold groups.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Rules by subject, so a check reads only the caller's (a policy may have thousands).
    rules: HashMap<String, Vec<Rule>>,
    /// Roles by subject (`g` lines).
    groupings: HashMap<String, Vec<String>>,
    default_role: Option<String>,
    scopes: Vec<String>,
}

impl Default for Policy {
    /// The built-in roles only, no default role, groups from the `groups` claim.
    fn default() -> Self {
        Self::parse("", "", "", "built-in policy").expect("the built-in policy parses")
    }
}

impl Policy {
    /// Parses a `policy.csv`, a `policy.default` and `scopes` (`[groups, email]`). `source_name`
    /// names where they came from in errors (e.g. `ConfigMap ferry/ferry-rbac-cm policy.csv`).
    pub fn parse(
        csv: &str,
        default_role: &str,
        scopes: &str,
        source_name: &str,
    ) -> Result<Self, PolicyError> {
        let mut policy = Policy {
            rules: builtin_rules().into_iter().map(|r| (r.subject.clone(), vec![r])).collect(),
            groupings: HashMap::new(),
            default_role: None,
            scopes: parse_scopes(scopes),
        };
        for (n, raw) in csv.lines().enumerate() {
            let err = |message: String| PolicyError::Line {
                source_name: source_name.to_owned(),
                line: n + 1,
                message,
            };
            policy.add_line(raw).map_err(err)?;
        }
        let default_role = default_role.trim();
        if !default_role.is_empty() {
            if !policy.defines(default_role) {
                return Err(PolicyError::Default {
                    source_name: source_name.to_owned(),
                    role: default_role.to_owned(),
                    message: "no `p` line grants it anything and it is not built in".into(),
                });
            }
            policy.default_role = Some(default_role.to_owned());
        }
        Ok(policy)
    }

    fn add_line(&mut self, raw: &str) -> Result<(), String> {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        match fields.as_slice() {
            ["p", subject, resource, action, object, effect] => {
                let rule = rule(subject, resource, action, object, effect)?;
                self.rules.entry(rule.subject.clone()).or_default().push(rule);
                Ok(())
            }
            ["p", ..] => Err(format!(
                "a `p` line has 6 fields (p, subject, resource, action, object, effect), this one has {}",
                fields.len()
            )),
            ["g", subject, role] if !subject.is_empty() && !role.is_empty() => {
                let roles = self.groupings.entry((*subject).to_owned()).or_default();
                roles.push((*role).to_owned());
                Ok(())
            }
            ["g", ..] => Err(format!(
                "a `g` line has 3 non-empty fields (g, user or group, role), this one has {}",
                fields.len()
            )),
            [other, ..] => {
                Err(format!("unknown line type {other:?}: a line starts with `p` or `g`"))
            }
            [] => Ok(()),
        }
    }

    /// Whether `role` is built in or named by a `p` or `g` line.
    pub fn defines(&self, role: &str) -> bool {
        self.rules.contains_key(role) || self.groupings.values().flatten().any(|r| r == role)
    }

    /// The claims of an OIDC token whose values are subjects (groups) for `g` lines.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether any of `subjects` (a user, its groups, its roles), with the default role, may do
    /// `action` on `resource` `object`. Deny wins; nothing granted means no.
    pub fn allows(&self, subjects: &[String], resource: &str, action: &str, object: &str) -> bool {
        self.grants(subjects).allows(resource, action, object)
    }

    /// The rules that apply to `subjects` (roles followed once), to ask many questions of.
    pub fn grants(&self, subjects: &[String]) -> Grants<'_> {
        let all = self.expand(subjects);
        Grants { rules: all.iter().filter_map(|s| self.rules.get(s)).flatten().collect() }
    }

    /// The subjects with every role they reach through `g` lines (roles of roles too), and the
    /// default role.
    pub fn expand(&self, subjects: &[String]) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = subjects.iter().cloned().collect();
        all.extend(self.default_role.clone());
        let mut todo: Vec<String> = all.iter().cloned().collect();
        while let Some(subject) = todo.pop() {
            for role in self.groupings.get(&subject).into_iter().flatten() {
                if all.insert(role.clone()) {
                    todo.push(role.clone());
                }
            }
        }
        all
    }
}

/// The rules of one caller: [`Policy::grants`].
pub struct Grants<'p> {
    rules: Vec<&'p Rule>,
}

impl Grants<'_> {
    /// Deny wins; nothing granted means no.
    pub fn allows(&self, resource: &str, action: &str, object: &str) -> bool {
        let mut allowed = false;
        for rule in &self.rules {
            if rule.resource.is_match(resource)
                && rule.action.is_match(action)
                && rule.object.is_match(object)
            {
                match rule.effect {
                    Effect::Deny => return false,
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed
    }
}

fn rule(
    subject: &str,
    resource: &str,
    action: &str,
    object: &str,
    effect: &str,
) -> Result<Rule, String> {
    if subject.is_empty() {
        return Err("the subject (second field) is empty".into());
    }
    if !RESOURCES.contains(&resource) {
        return Err(format!(
            "unknown resource {resource:?}; resources are {}",
            RESOURCES.join(", ")
        ));
    }
    let effect = match effect {
        "allow" => Effect::Allow,
        "deny" => Effect::Deny,
        other => return Err(format!("the effect is {other:?}; it must be allow or deny")),
    };
    Ok(Rule {
        subject: subject.to_owned(),
        resource: glob(resource, "resource")?,
        action: glob(action, "action")?,
        object: glob(object, "object")?,
        effect,
    })
}

fn glob(pattern: &str, field: &str) -> Result<GlobMatcher, String> {
    if pattern.is_empty() {
        return Err(format!("the {field} is empty (use * for any)"));
    }
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("the {field} {pattern:?} is not a valid glob: {e}"))
}

fn builtin_rules() -> Vec<Rule> {
    let any = || glob("*", "object").expect("* is a glob");
    let get = glob("get", "action").expect("get is a glob");
    vec![
        Rule {
            subject: ROLE_READONLY.into(),
            resource: any(),
            action: get,
            object: any(),
            effect: Effect::Allow,
        },
        Rule {
            subject: ROLE_ADMIN.into(),
            resource: any(),
            action: any(),
            object: any(),
            effect: Effect::Allow,
        },
    ]
}

/// `[groups, email]`, `groups,email` or empty (then `groups`, Argo CD's default).
fn parse_scopes(raw: &str) -> Vec<String> {
    let scopes: Vec<String> = raw
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if scopes.is_empty() { vec!["groups".to_owned()] } else { scopes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    const CSV: &str = "\
# developers sync their team's apps
p, role:dev, applications, get, team-a/*, allow
p, role:dev, applications, sync, team-a/*, allow
p, role:dev, applications, sync, team-a/prod/*, deny
g, dev-group, role:dev
g, role:lead, role:dev
g, carol@example.com, role:lead
";

    #[test]
    fn readonly_may_get_anything_and_nothing_else() {
        let p = Policy::default();
        let ro = subjects(&[ROLE_READONLY]);
        assert!(p.allows(&ro, "applications", "get", "default/ns/web"));
        assert!(p.allows(&ro, "audit", "get", "*"));
        assert!(!p.allows(&ro, "applications", "sync", "default/ns/web"));
        assert!(p.allows(&subjects(&[ROLE_ADMIN]), "applications", "delete", "x/y/z"));
    }

    #[test]
    fn a_group_gets_its_roles_through_g_lines_and_deny_wins() {
        let p = Policy::parse(CSV, "", "", "test").unwrap();
        let dev = subjects(&["alice", "dev-group"]);
        assert!(p.allows(&dev, "applications", "sync", "team-a/staging/web"));
        assert!(!p.allows(&dev, "applications", "sync", "team-a/prod/web"));
        assert!(!p.allows(&dev, "applications", "sync", "team-b/staging/web"));
        assert!(!p.allows(&subjects(&["alice"]), "applications", "get", "team-a/staging/web"));
    }

    #[test]
    fn roles_of_roles_are_followed() {
        let p = Policy::parse(CSV, "", "", "test").unwrap();
        assert!(p.allows(
            &subjects(&["carol@example.com"]),
            "applications",
            "sync",
            "team-a/s/web"
        ));
    }

    #[test]
    fn the_default_role_applies_to_everyone_and_must_exist() {
        let p = Policy::parse(CSV, "role:readonly", "", "test").unwrap();
        assert!(p.allows(&subjects(&["nobody"]), "applications", "get", "any/ns/app"));
        let err = Policy::parse(CSV, "role:nope", "", "cm").unwrap_err();
        assert!(err.to_string().contains("role:nope"), "{err}");
    }

    #[test]
    fn a_line_that_does_not_parse_is_refused_with_its_line_number() {
        let cases = [
            ("p, role:x, applications, sync, */*\n", "line 1", "6 fields"),
            ("\n\np, role:x, aplications, sync, */*, allow\n", "line 3", "unknown resource"),
            ("p, role:x, applications, sync, */*, maybe\n", "line 1", "allow or deny"),
            ("g, only-one\n", "line 1", "3 non-empty fields"),
            ("x, a, b\n", "line 1", "unknown line type"),
            ("p, role:x, applications, sync, [, allow\n", "line 1", "not a valid glob"),
        ];
        for (csv, line, why) in cases {
            let err = Policy::parse(csv, "", "", "ConfigMap ferry/ferry-rbac-cm").unwrap_err();
            let text = err.to_string();
            assert!(text.contains(line) && text.contains(why), "{csv:?}: {text}");
            assert!(text.contains("ferry-rbac-cm"), "{text}");
        }
    }

    #[test]
    fn scopes_read_argo_cd_s_list_form() {
        let p = Policy::parse("", "", "[groups, email]", "t").unwrap();
        assert_eq!(p.scopes(), ["groups", "email"]);
        assert_eq!(Policy::default().scopes(), ["groups"]);
    }
}
