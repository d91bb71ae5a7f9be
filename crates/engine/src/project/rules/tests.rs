use serde_json::json;

use super::*;

fn project(spec: serde_json::Value) -> Project {
    serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Project",
        "metadata": {"name": "team-a", "namespace": "ferry"}, "spec": spec
    }))
    .expect("a valid Project")
}

fn local() -> Cluster {
    Cluster { server: "https://kubernetes.default.svc".into(), name: "in-cluster".into() }
}

fn app<'a>(namespace: &'a str, repo: &'a str, dest_ns: &'a str) -> AppFacts<'a> {
    AppFacts {
        namespace,
        home_namespace: "ferry",
        repo_url: repo,
        cluster: local(),
        dest_namespace: dest_ns,
    }
}

fn object<'a>(group: &'a str, kind: &'a str, namespace: Option<&'a str>) -> ObjectFacts<'a> {
    ObjectFacts { group, kind, namespace, display: format!("{kind} x") }
}

fn tenant() -> Project {
    project(json!({
        "sourceRepos": ["git://example.org/team-a/*", "!git://example.org/team-a/secret*"],
        "destinations": [
            {"server": "https://kubernetes.default.svc", "namespace": "team-a-*"},
            {"name": "in-cluster", "namespace": "!team-a-prod"}
        ],
        "sourceNamespaces": ["team-a"],
        "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}],
        "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        "clusterResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "*"}]
    }))
}

#[test]
fn the_builtin_default_project_allows_every_repository_destination_and_kind() {
    let p = Project::builtin_default();
    assert_eq!(check_spec(&p, &app("elsewhere", "https://any/repo.git", "anything")), Ok(()));
    let objects = [
        object("rbac.authorization.k8s.io", "ClusterRole", None),
        object("apps", "Deployment", Some("anything")),
    ];
    assert_eq!(check_objects(&p, &local(), objects), Ok(()));
}

#[test]
fn a_spec_check_names_the_project_field_that_refused() {
    let p = tenant();
    let cases: &[(AppFacts<'_>, Option<&str>)] = &[
        (app("team-a", "git://example.org/team-a/web", "team-a-dev"), None),
        (app("ferry", "git://example.org/team-a/web", "team-a-dev"), None),
        (app("team-b", "git://example.org/team-a/web", "team-a-dev"), Some("sourceNamespaces")),
        (app("team-a", "git://example.org/team-b/web", "team-a-dev"), Some("sourceRepos")),
        (app("team-a", "git://example.org/team-a/secrets", "team-a-dev"), Some("sourceRepos")),
        (app("team-a", "git://example.org/team-a/web", "kube-system"), Some("destinations")),
        (app("team-a", "git://example.org/team-a/web", "team-a-prod"), Some("destinations")),
    ];
    for (facts, refused_by) in cases {
        let got = check_spec(&p, facts);
        match refused_by {
            None => assert_eq!(got, Ok(()), "{facts:?}"),
            Some(field) => {
                let message = got.expect_err("refused").to_string();
                assert!(message.contains(field), "{facts:?}: {message}");
                assert!(message.contains("team-a"), "names the project: {message}");
            }
        }
    }
}

#[test]
fn an_object_check_names_the_object_and_the_resource_list_that_refused_it() {
    let p = tenant();
    let cases = [
        (object("apps", "Deployment", Some("team-a-dev")), None),
        (object("", "Namespace", None), None),
        (object("", "ResourceQuota", Some("team-a-dev")), Some("namespaceResourceBlacklist")),
        (
            object("rbac.authorization.k8s.io", "ClusterRole", None),
            Some("clusterResourceBlacklist"),
        ),
        (object("storage.k8s.io", "StorageClass", None), Some("clusterResourceWhitelist")),
        (object("", "ConfigMap", Some("kube-system")), Some("destinations")),
    ];
    for (o, refused_by) in cases {
        let display = o.display.clone();
        let got = check_objects(&p, &local(), [o]);
        match refused_by {
            None => assert_eq!(got, Ok(()), "{display}"),
            Some(field) => {
                let message = got.expect_err("refused").to_string();
                assert!(message.contains(field), "{display}: {message}");
                assert!(message.contains(&display), "names the object: {message}");
            }
        }
    }
}

#[test]
fn an_empty_cluster_whitelist_allows_no_cluster_scoped_kind_and_an_empty_namespaced_one_all() {
    let p =
        project(json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}));
    let refused = check_objects(&p, &local(), [object("", "Namespace", None)]);
    assert_eq!(refused.expect_err("refused").reason(), "ResourceNotPermitted");
    assert_eq!(check_objects(&p, &local(), [object("apps", "Deployment", Some("a"))]), Ok(()));
}

#[test]
fn a_namespaced_whitelist_allows_only_what_it_lists() {
    let p = project(json!({
        "destinations": [{"server": "*", "namespace": "*"}],
        "namespaceResourceWhitelist": [{"group": "apps", "kind": "*"}]
    }));
    assert_eq!(check_objects(&p, &local(), [object("apps", "Deployment", Some("a"))]), Ok(()));
    let got = check_objects(&p, &local(), [object("", "Secret", Some("a"))]);
    assert!(got.expect_err("refused").to_string().contains("namespaceResourceWhitelist"));
}

#[test]
fn a_pattern_that_does_not_parse_refuses_and_names_the_field_instead_of_allowing() {
    let p = project(json!({"sourceRepos": ["git://x/[oops"], "destinations": []}));
    let got = check_spec(&p, &app("ferry", "git://x/a", "a"));
    let e = got.expect_err("refused");
    assert_eq!(e.reason(), "InvalidProject");
    assert!(e.to_string().contains("sourceRepos"), "{e}");
}

#[test]
fn a_destination_matches_by_cluster_name_when_the_entry_names_no_server() {
    let p = project(
        json!({"sourceRepos": ["*"], "destinations": [{"name": "east", "namespace": "*"}]}),
    );
    let east = Cluster { server: "https://east:6443".into(), name: "east".into() };
    let mut facts = app("ferry", "git://x/a", "web");
    facts.cluster = east;
    assert_eq!(check_spec(&p, &facts), Ok(()));
    assert!(check_spec(&p, &app("ferry", "git://x/a", "web")).is_err(), "in-cluster is not east");
}

#[test]
fn the_first_matching_destination_service_account_is_the_user_objects_are_applied_as() {
    let p = project(json!({"destinationServiceAccounts": [
        {"server": "https://kubernetes.default.svc", "namespace": "team-a-*", "defaultServiceAccount": "deployer"},
        {"server": "*", "namespace": "shared", "defaultServiceAccount": "ops:deployer"}
    ]}));
    let got = |ns: &str| service_account(&p, &local(), ns);
    assert_eq!(got("team-a-dev"), Ok(Some("system:serviceaccount:team-a-dev:deployer".into())));
    assert_eq!(got("shared"), Ok(Some("system:serviceaccount:ops:deployer".into())));
    assert_eq!(got("elsewhere").expect_err("no match").reason(), "NoServiceAccount");
    assert_eq!(service_account(&tenant(), &local(), "team-a-dev"), Ok(None), "none listed");
    let bad = project(json!({"destinationServiceAccounts": [
        {"server": "*", "namespace": "*", "defaultServiceAccount": "a:b:c"}]}));
    assert_eq!(service_account(&bad, &local(), "x").expect_err("bad").reason(), "InvalidProject");
}
