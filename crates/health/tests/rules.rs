//! User rules in CEL (Flux `healthCheckExprs` semantics): they override the built-in judgement
//! for their group/kind, and every failure is data (`Unknown` with a message), never a panic.

mod fixtures_support {
    use std::path::Path;

    pub fn load(name: &str) -> serde_json::Value {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).expect("fixture is readable");
        serde_saphyr::from_str(&text).expect("fixture is YAML")
    }
}

use ferry_health::{HealthCheck, HealthStatus, MAX_EXPRESSION_BYTES, Rules, assess};
use fixtures_support::load;

const CERT_MANAGER_RULES: &str = r#"
- apiVersion: cert-manager.io/v1
  kind: Certificate
  inProgress: status.conditions.exists(c, c.type == 'Issuing' && c.status == 'True')
  failed: status.conditions.exists(c, c.type == 'Ready' && c.status == 'False')
  current: status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')
"#;

fn rules_from_yaml(yaml: &str) -> Rules {
    serde_saphyr::from_str(yaml).expect("rules are valid YAML")
}

fn one_rule(current: &str) -> Rules {
    Rules::new([HealthCheck {
        api_version: Some("apps/v1".into()),
        group: None,
        kind: "Deployment".into(),
        current: current.into(),
        in_progress: None,
        failed: None,
    }])
}

#[test]
fn a_rule_overrides_the_builtin_judgement_in_flux_order_in_progress_first() {
    let certificate = load("generic/cert-manager-certificate-issuing");
    assert_eq!(assess(&certificate, &Rules::default()).status, HealthStatus::Degraded);

    let health = assess(&certificate, &rules_from_yaml(CERT_MANAGER_RULES));
    assert_eq!(health.status, HealthStatus::Progressing);
    assert_eq!(
        health.message,
        "rule for cert-manager.io/Certificate: inProgress `status.conditions.exists(c, c.type == 'Issuing' && c.status == 'True')` is true"
    );
}

#[test]
fn failed_is_tried_before_current() {
    let mut certificate = load("generic/cert-manager-certificate-issuing");
    certificate["status"]["conditions"][0]["status"] = "False".into();
    let health = assess(&certificate, &rules_from_yaml(CERT_MANAGER_RULES));
    assert_eq!(health.status, HealthStatus::Degraded);
}

#[test]
fn a_rule_that_matches_nothing_leaves_the_object_progressing() {
    let rules = Rules::new([HealthCheck {
        api_version: None,
        group: Some("apps".into()),
        kind: "Deployment".into(),
        current: "self.status.readyReplicas == 42".into(),
        in_progress: None,
        failed: Some("has(self.spec.paused) && self.spec.paused".into()),
    }]);
    let health = assess(&load("deployment/healthy"), &rules);
    assert_eq!(health.status, HealthStatus::Progressing);
    assert!(health.message.contains("waiting for current"), "{}", health.message);
}

#[test]
fn expressions_see_the_object_as_self_and_its_top_level_fields() {
    let by_self = one_rule("self.status.availableReplicas == self.spec.replicas");
    let by_field =
        one_rule("status.availableReplicas == spec.replicas && metadata.name == 'guestbook-ui'");
    for rules in [by_self, by_field] {
        let health = assess(&load("deployment/healthy"), &rules);
        assert_eq!(health.status, HealthStatus::Healthy, "{}", health.message);
    }
}

#[test]
fn a_rule_only_applies_to_its_group_and_kind() {
    let rules = rules_from_yaml(CERT_MANAGER_RULES);
    let health = assess(&load("deployment/progress-deadline-exceeded"), &rules);
    assert_eq!(health.status, HealthStatus::Degraded);
    assert!(health.message.contains("progress deadline"), "{}", health.message);
}

#[test]
fn an_expression_that_fails_at_runtime_is_unknown_with_a_message_naming_rule_and_expression() {
    let rules = one_rule("self.status.noSuchField == 1");
    let health = assess(&load("deployment/healthy"), &rules);
    assert_eq!(health.status, HealthStatus::Unknown);
    assert!(
        health.message.starts_with(
            "rule for apps/Deployment: current expression `self.status.noSuchField == 1` failed: "
        ),
        "{}",
        health.message
    );
}

#[test]
fn an_expression_that_is_not_boolean_is_unknown() {
    let health = assess(&load("deployment/healthy"), &one_rule("self.status.replicas"));
    assert_eq!(health.status, HealthStatus::Unknown);
    assert!(health.message.contains("not a bool"), "{}", health.message);
}

#[test]
fn a_rule_that_does_not_compile_is_reported_up_front_and_judges_its_objects_unknown() {
    let rules = one_rule("self.status.(");
    let problems = rules.problems();
    assert_eq!(problems.len(), 1);
    let problem = problems[0].to_string();
    assert!(
        problem.starts_with(
            "rule for apps/Deployment: current expression `self.status.(` does not compile"
        ),
        "{problem}"
    );
    let health = assess(&load("deployment/healthy"), &rules);
    assert_eq!(health.status, HealthStatus::Unknown);
    assert_eq!(health.message, problem);
}

#[test]
fn an_overlong_expression_is_refused() {
    let long = format!("self.kind == '{}'", "x".repeat(MAX_EXPRESSION_BYTES));
    let problems = one_rule(&long).problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].to_string().contains("more than the 4096 allowed"), "{}", problems[0]);
}

#[test]
fn deeply_nested_comprehensions_are_refused_so_evaluation_stays_bounded() {
    let nested = "self.status.conditions.all(a, self.status.conditions.all(b, self.status.conditions.all(c, true)))";
    let problems = one_rule(nested).problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].to_string().contains("nests comprehensions 3 deep"), "{}", problems[0]);

    let two_deep =
        "self.status.conditions.all(a, self.status.conditions.exists(b, b.type == a.type))";
    assert!(one_rule(two_deep).problems().is_empty());
}

#[test]
fn group_and_api_version_that_disagree_are_a_problem() {
    let rules = Rules::new([HealthCheck {
        api_version: Some("apps/v1".into()),
        group: Some("batch".into()),
        kind: "Job".into(),
        current: "true".into(),
        in_progress: None,
        failed: None,
    }]);
    let problems = rules.problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].to_string().contains("is in group \"apps\" but group says \"batch\""));
}

#[test]
fn rules_round_trip_through_camel_case_json_as_in_the_application_crd() {
    let json = serde_json::json!([{
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "current": "true",
        "inProgress": "false"
    }]);
    let rules: Rules = serde_json::from_value(json.clone()).expect("valid rules");
    assert_eq!(serde_json::to_value(&rules).expect("serializable"), json);
    let check = rules.checks().next().expect("one rule");
    assert_eq!(check.in_progress.as_deref(), Some("false"));
}

#[test]
fn the_rules_schema_is_an_array_of_checks_with_camel_case_fields() {
    let schema = serde_json::to_value(schemars::schema_for!(Rules)).expect("schema is JSON");
    assert_eq!(schema["type"], "array");
    let text = schema.to_string();
    for field in ["apiVersion", "inProgress", "failed", "current", "kind"] {
        assert!(text.contains(field), "schema lacks {field}: {text}");
    }
}

#[test]
fn compiled_rules_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Rules>();
}
