use super::*;
use serde_json::json;

fn obj(v: Value) -> Params {
    v.as_object().expect("an object").clone()
}

fn paths(ps: &[(&str, bool)]) -> Vec<GitPath> {
    ps.iter().map(|(p, exclude)| GitPath { path: p.to_string(), exclude: *exclude }).collect()
}

fn names(sets: &[Params], key: &str) -> Vec<String> {
    sets.iter().map(|p| flatten(p).get(key).cloned().unwrap_or_default()).collect()
}

#[test]
fn list_elements_are_parameter_sets_and_a_scalar_element_is_named() {
    let sets = list(&[json!({"cluster": "a"}), json!({"cluster": "b"})]).expect("a list");
    assert_eq!(names(&sets, "cluster"), ["a", "b"]);
    let err = list(&[json!({"cluster": "a"}), json!("b")]).unwrap_err();
    assert_eq!(err, ParamsError::NotAnObject { index: 1, found: "a string".into() });
}

#[test]
fn directories_match_one_segment_per_star_and_excludes_win() {
    let all: Vec<String> =
        ["apps", "apps/web", "apps/api", "apps/api/sub", "apps/skip", "infra/db"]
            .map(String::from)
            .to_vec();
    let sets = directories(&all, &paths(&[("apps/*", false), ("apps/skip", true)])).expect("globs");
    assert_eq!(names(&sets, "path"), ["apps/api", "apps/web"]);
    assert_eq!(names(&sets, "path.basename"), ["api", "web"]);
    assert_eq!(names(&sets, "path[0]"), ["apps", "apps"]);
    assert_eq!(names(&sets, "path[1]"), ["api", "web"]);
    let deep = directories(&all, &paths(&[("**/sub", false)])).expect("globs");
    assert_eq!(names(&deep, "path"), ["apps/api/sub"]);
}

#[test]
fn a_basename_with_underscores_is_normalized_for_names() {
    let p = path_params("apps/My_App", None);
    assert_eq!(flatten(&p)["path.basenameNormalized"], "my-app");
    assert_eq!(p["path"]["segments"], json!(["apps", "My_App"]));
}

#[test]
fn a_json_file_yields_its_keys_flattened_and_its_directory_as_path() {
    let sets = file(
        "clusters/eu/config.json",
        br#"{"cluster": {"name": "eu-1", "address": "https://eu"}}"#,
    )
    .expect("a JSON object");
    let flat = flatten(&sets[0]);
    assert_eq!(flat["cluster.name"], "eu-1");
    assert_eq!(flat["cluster.address"], "https://eu");
    assert_eq!(flat["path"], "clusters/eu");
    assert_eq!(flat["path.basename"], "eu");
    assert_eq!(flat["path.filename"], "config.json");
}

#[test]
fn a_yaml_file_holding_a_list_yields_one_set_per_element() {
    let sets = file("envs.yaml", b"- env: dev\n- env: prod\n").expect("a YAML list");
    assert_eq!(names(&sets, "env"), ["dev", "prod"]);
    assert_eq!(names(&sets, "path"), [".", "."]);
}

#[test]
fn malformed_files_are_errors_that_name_the_file() {
    let err = file("cfg/a.json", b"{\"x\": ").unwrap_err();
    assert!(
        matches!(&err, ParamsError::Malformed { path, format: "JSON", .. } if path == "cfg/a.json"),
        "{err}"
    );
    let err = file("cfg/b.yaml", b"a: [1, 2\n").unwrap_err();
    assert!(err.to_string().contains("cfg/b.yaml") && err.to_string().contains("YAML"), "{err}");
    let err = file("cfg/c.yaml", b"just text\n").unwrap_err();
    assert!(matches!(err, ParamsError::FileShape { .. }), "{err}");
}

fn cluster(name: &str, env: &str) -> ClusterInfo {
    ClusterInfo {
        name: name.into(),
        server: format!("https://{name}"),
        labels: [("env".to_string(), env.to_string())].into(),
        annotations: BTreeMap::new(),
    }
}

#[test]
fn clusters_are_selected_by_their_labels_and_the_local_one_only_without_a_selector() {
    let known = [cluster("eu", "prod"), cluster("us", "dev")];
    let all = clusters(&ClustersGenerator::default(), &known).expect("all");
    assert_eq!(names(&all, "name"), ["eu", "us", "in-cluster"]);
    assert_eq!(names(&all, "server")[2], "https://kubernetes.default.svc");
    let g = ClustersGenerator {
        selector: Some(LabelSelector {
            match_labels: [("env".into(), "prod".into())].into(),
            ..Default::default()
        }),
        values: [("tier".into(), "gold".into())].into(),
    };
    let prod = clusters(&g, &known).expect("prod");
    assert_eq!(names(&prod, "name"), ["eu"]);
    assert_eq!(names(&prod, "metadata.labels.env"), ["prod"]);
    assert_eq!(names(&prod, "values.tier"), ["gold"]);
}

#[test]
fn a_matrix_pairs_every_set_of_one_generator_with_every_set_of_the_other() {
    let a = list(&[json!({"env": "dev"}), json!({"env": "prod"})]).expect("a");
    let b = list(&[json!({"region": "eu"}), json!({"region": "us"})]).expect("b");
    let m = matrix(&a, &b);
    let pairs: Vec<String> = m
        .iter()
        .map(|p| {
            format!("{}-{}", p["env"].as_str().unwrap_or(""), p["region"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(pairs, ["dev-eu", "dev-us", "prod-eu", "prod-us"]);
}

#[test]
fn a_merge_overrides_base_sets_that_share_the_merge_keys() {
    let base = vec![
        obj(json!({"server": "a", "replicas": "1"})),
        obj(json!({"server": "b", "replicas": "1"})),
    ];
    let over = vec![vec![
        obj(json!({"server": "b", "replicas": "3"})),
        obj(json!({"server": "z", "replicas": "9"})),
    ]];
    let merged = merge(&base, &over, &["server".into()]).expect("merged");
    assert_eq!(names(&merged, "replicas"), ["1", "3"]);
    assert_eq!(merged.len(), 2, "a set that joins no base set is dropped");
    assert_eq!(merge(&base, &over, &[]).unwrap_err(), ParamsError::NoMergeKeys);
}

#[test]
fn a_bad_glob_names_the_pattern() {
    let err = directories(&[], &paths(&[("apps/[", false)])).unwrap_err();
    assert!(err.to_string().contains("apps/["), "{err}");
}
