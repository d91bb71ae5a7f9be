use super::*;
use crate::appset::params::{list, path_params};
use serde_json::json;

fn set(go: bool, name: &str, spec: Value) -> ApplicationSet {
    let mut s: ApplicationSet = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "guestbooks", "namespace": "ferry", "uid": "u-1"},
        "spec": {"goTemplate": go, "generators": [],
                 "template": {"metadata": {"name": name, "labels": {"env": "{{env}}"},
                                           "finalizers": ["ferry.dev/resources-finalizer"]},
                              "spec": spec}}
    }))
    .expect("a set");
    s.spec.template.metadata.labels.insert("team".into(), "web".into());
    s
}

fn app_spec() -> Value {
    json!({"source": {"repoURL": "git://x/r.git", "path": "{{path}}"},
           "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{path.basename}}"},
           "syncPolicy": {"automated": {"prune": true}}})
}

#[test]
fn fasttemplate_replaces_known_keys_and_leaves_unknown_ones() {
    let params: BTreeMap<String, String> =
        [("name".into(), "eu".into()), ("path.basename".into(), "web".into())].into();
    assert_eq!(fasttemplate("{{name}}-{{ path.basename }}", &params), "eu-web");
    assert_eq!(fasttemplate("{{nope}}/{{name}}", &params), "{{nope}}/eu");
    assert_eq!(fasttemplate("{{name", &params), "{{name");
}

#[test]
fn a_directory_becomes_an_application_marked_as_the_sets() {
    let s = set(false, "app-{{path.basenameNormalized}}", app_spec());
    let mut p = path_params("apps/web_1", None);
    p.insert("env".into(), json!("dev"));
    let apps = applications(&s, &[p]).expect("rendered");
    let app = &apps[0];
    assert_eq!(app.metadata.name.as_deref(), Some("app-web-1"));
    assert_eq!(app.spec.source.path, "apps/web_1");
    assert_eq!(app.spec.destination.namespace, "web_1");
    let labels = app.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(LABEL_APPLICATION_SET).map(String::as_str), Some("guestbooks"));
    assert_eq!(labels.get("env").map(String::as_str), Some("dev"));
    let owner = &app.metadata.owner_references.clone().unwrap_or_default()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("ApplicationSet", "u-1", Some(true))
    );
    assert_eq!(
        app.metadata.finalizers.clone().unwrap_or_default(),
        ["ferry.dev/resources-finalizer"]
    );
}

#[test]
fn go_templates_read_nested_parameters() {
    let mut s = set(true, "{{ index .path.segments 0 }}-{{ .path.basename }}", app_spec());
    s.spec.template.metadata.labels.insert("env".into(), "{{ .path.basename | upper }}".into());
    s.spec.template.spec["source"]["path"] = json!("{{ .path.path }}");
    s.spec.template.spec["destination"]["namespace"] = json!("{{ .path.basename }}");
    let apps = applications(&s, &[path_params("apps/web", None)]).expect("rendered");
    assert_eq!(apps[0].metadata.name.as_deref(), Some("apps-web"));
    assert_eq!(apps[0].spec.source.path, "apps/web");
    assert_eq!(apps[0].metadata.labels.clone().unwrap_or_default()["env"], "WEB");
}

#[test]
fn preserving_resources_drops_the_cascade_finalizer_and_rolling_sync_drops_automation() {
    let mut s = set(false, "a-{{path.basename}}", app_spec());
    s.spec.sync_policy = Some(crate::appset::SetSyncPolicy {
        preserve_resources_on_deletion: true,
        ..Default::default()
    });
    s.spec.strategy =
        Some(crate::appset::Strategy { type_: "RollingSync".into(), rolling_sync: None });
    let apps = applications(&s, &[path_params("apps/web", None)]).expect("rendered");
    assert_eq!(apps[0].metadata.finalizers, None);
    assert_eq!(apps[0].spec.sync_policy.as_ref().and_then(|p| p.automated.clone()), None);
}

#[test]
fn an_invalid_name_is_an_error_naming_the_parameter_set_and_the_name() {
    let s = set(false, "App_{{path.basename}}", app_spec());
    let err = applications(&s, &[path_params("apps/web", None)]).unwrap_err();
    assert_eq!(err, TemplateError::InvalidName { index: 0, name: "App_web".into() });
}

#[test]
fn two_sets_rendering_one_name_is_an_error_naming_both() {
    let s = set(false, "same", app_spec());
    let sets = list(&[json!({"path": "a"}), json!({"path": "b"})]).expect("list");
    let err = applications(&s, &sets).unwrap_err();
    assert_eq!(err, TemplateError::Duplicate { name: "same".into(), first: 0, second: 1 });
}

#[test]
fn a_spec_that_is_not_an_application_spec_names_the_app() {
    let s = set(false, "a-{{path.basename}}", json!({"source": "nope"}));
    let err = applications(&s, &[path_params("apps/web", None)]).unwrap_err();
    assert!(matches!(&err, TemplateError::Spec { name, .. } if name == "a-web"), "{err}");
}

#[test]
fn names_are_dns_1123_subdomains() {
    for (name, ok) in [
        ("web", true),
        ("web-1.eu", true),
        ("Web", false),
        ("-web", false),
        ("web-", false),
        ("", false),
        ("a..b", false),
    ] {
        assert_eq!(is_dns1123_subdomain(name), ok, "{name}");
    }
    assert!(!is_dns1123_subdomain(&"a".repeat(254)));
}
