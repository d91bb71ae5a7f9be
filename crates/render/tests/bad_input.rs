//! Hostile and broken repositories: each gives a clear error naming the file, reads nothing outside
//! the tree, and leaves the process unharmed.
#![allow(clippy::unwrap_used)] // test helpers may unwrap: a failure is the test failing

mod support;

use ferry_render::{
    DirectoryOptions, HelmOptions, JsonnetOptions, KustomizeOptions, RenderError, RenderOptions,
    SourceKind, Substitute,
};
use ferry_source::TreeError;
use support::*;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

fn render(root: &std::path::Path, app: &str, opts: &RenderOptions) -> RenderError {
    render_dir(root, app, opts, &context("app")).expect_err("the render must fail")
}

#[test]
fn a_values_file_outside_the_repository_is_refused_naming_it() {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&corpus().join("argocd-example-apps/helm-guestbook"), &repo.path().join("guestbook"));
    let opts = RenderOptions {
        helm: Some(HelmOptions {
            value_files: vec!["../../etc/passwd".into()],
            ..HelmOptions::default()
        }),
        ..RenderOptions::default()
    };
    let err = render(repo.path(), "guestbook", &opts);
    assert!(
        matches!(&err, RenderError::OutsideTree { reference, .. } if reference == "../../etc/passwd"),
        "{err}"
    );
    assert!(err.to_string().contains("guestbook/Chart.yaml"), "{err}");
}

#[test]
fn a_values_file_that_stays_inside_a_deeper_repository_is_looked_up_there_not_on_the_host() {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(
        &corpus().join("argocd-example-apps/helm-guestbook"),
        &repo.path().join("apps/guestbook"),
    );
    let opts = RenderOptions {
        helm: Some(HelmOptions {
            value_files: vec!["../../etc/passwd".into()],
            ..HelmOptions::default()
        }),
        ..RenderOptions::default()
    };
    let err = render(repo.path(), "apps/guestbook", &opts);
    assert!(
        matches!(&err, RenderError::Tree { path, source: TreeError::NotFound { .. } } if path.as_str() == "etc/passwd"),
        "{err}"
    );
}

#[test]
fn a_symlink_out_of_the_tree_is_refused_naming_it() {
    let repo = repo(&[("app/a.yaml", CM)]);
    std::os::unix::fs::symlink("/etc/hostname", repo.path().join("app/evil.yaml")).unwrap();
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(
        matches!(&err, RenderError::Tree { source: TreeError::SymlinkEscapes { .. }, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("app/evil.yaml"), "{err}");
}

#[test]
fn a_symlink_out_of_the_tree_inside_a_kustomize_app_is_refused_before_kustomize_runs() {
    let repo = repo(&[("app/kustomization.yaml", "resources:\n- cm.yaml\n"), ("app/cm.yaml", CM)]);
    std::os::unix::fs::symlink("/etc", repo.path().join("app/etc")).unwrap();
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(
        matches!(&err, RenderError::Tree { source: TreeError::SymlinkEscapes { .. }, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("app/etc"), "{err}");
}

#[test]
fn a_jsonnet_import_of_an_absolute_path_is_refused_naming_the_importing_file() {
    let repo = repo(&[(
        "app/main.jsonnet",
        "local hosts = importstr '/etc/hosts'; { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { h: hosts } }\n",
    )]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(
        matches!(&err, RenderError::OutsideTree { file, reference } if file.as_str() == "app/main.jsonnet" && reference == "/etc/hosts"),
        "{err}"
    );
}

#[test]
fn a_jsonnet_import_that_climbs_out_of_the_repository_is_refused() {
    let repo = repo(&[("app/main.jsonnet", "import '../../../../etc/hosts'\n")]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::OutsideTree { .. }), "{err}");
}

#[test]
fn jsonnet_library_paths_resolve_inside_the_repository() {
    let repo = repo(&[
        (
            "lib/k.libsonnet",
            "{ cm(name):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name } } }\n",
        ),
        ("app/main.jsonnet", "local k = import 'k.libsonnet'; [k.cm(std.extVar('env'))]\n"),
    ]);
    let opts = RenderOptions {
        directory: Some(DirectoryOptions {
            jsonnet: Some(JsonnetOptions {
                libs: vec!["lib".into()],
                ext_vars: vec![ferry_render::JsonnetVar {
                    name: "env".into(),
                    value: "prod".into(),
                    code: false,
                }],
                ..JsonnetOptions::default()
            }),
            ..DirectoryOptions::default()
        }),
        ..RenderOptions::default()
    };
    let rendered = render_dir(repo.path(), "app", &opts, &context("app")).unwrap();
    assert_eq!(rendered.objects[0].object["metadata"]["name"], "prod");
    assert!(rendered.read_set.contains(&ferry_render::RepoPath::new("lib/k.libsonnet").unwrap()));
}

#[test]
fn a_kustomization_resource_outside_the_repository_is_refused_naming_the_kustomization() {
    let repo = repo(&[("apps/web/kustomization.yaml", "resources:\n- ../../..\n")]);
    let err = render(repo.path(), "apps/web", &RenderOptions::default());
    assert!(
        matches!(&err, RenderError::OutsideTree { file, .. } if file.as_str() == "apps/web/kustomization.yaml"),
        "{err}"
    );
}

#[test]
fn a_remote_kustomize_base_is_refused_unless_allowed() {
    let repo = repo(&[(
        "app/kustomization.yaml",
        "resources:\n- https://github.com/argoproj/argocd-example-apps//guestbook?ref=master\n",
    )]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::RemoteBase { .. }), "{err}");
    assert!(err.to_string().contains("allowRemoteBases"), "{err}");
}

#[test]
fn kustomize_options_edit_the_kustomization_like_argo_cd() {
    let repo = repo(&[
        ("app/kustomization.yaml", "resources:\n- deploy.yaml\n"),
        (
            "app/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.0\n",
        ),
    ]);
    let opts = RenderOptions {
        kustomize: Some(KustomizeOptions {
            name_prefix: Some("prod-".into()),
            images: vec!["nginx=nginx:1.27".into()],
            namespace: Some("shop".into()),
            ..KustomizeOptions::default()
        }),
        ..RenderOptions::default()
    };
    let rendered = render_dir(repo.path(), "app", &opts, &context("app")).unwrap();
    let o = &rendered.objects[0].object;
    assert_eq!(o["metadata"]["name"], "prod-web");
    assert_eq!(o["metadata"]["namespace"], "shop");
    assert_eq!(o["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
}

#[test]
fn a_billion_laughs_document_is_refused_naming_the_file() {
    let mut doc = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(",");
        doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let repo = repo(&[("app/lol.yaml", &doc)]);
    let started = std::time::Instant::now();
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::AliasBudget { .. }), "{err}");
    assert!(err.to_string().contains("app/lol.yaml"), "{err}");
    assert!(started.elapsed().as_secs() < 10, "the budget stops expansion early");
}

#[test]
fn a_small_file_reusing_a_long_anchor_renders_as_kubectl_reads_it() {
    // 690 bytes that expand to about 1,800: kubectl accepts it, and so must Ferry.
    let long = "x".repeat(600);
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: reuse\ndata:\n  a: &long {long}\n  b: *long\n  c: *long\n"
    );
    let repo = repo(&[
        ("app/cm.yaml", &doc),
        ("kubectl/cm.yaml", &doc),
        ("kubectl/kustomization.yaml", "resources: [cm.yaml]\n"),
    ]);
    let rendered = render_dir(repo.path(), "app", &RenderOptions::default(), &context("app"))
        .expect("renders");
    let ours = &rendered.objects[0].object["data"];
    let kubectl = std::process::Command::new("kubectl")
        .args(["kustomize", &repo.path().join("kubectl").display().to_string()])
        .output()
        .expect("kubectl runs");
    assert!(kubectl.status.success(), "{}", String::from_utf8_lossy(&kubectl.stderr));
    let theirs: serde_json::Value =
        serde_saphyr::from_slice(&kubectl.stdout).expect("kubectl's output is YAML");
    assert_eq!(ours, &theirs["data"]);
    assert_eq!(ours["c"].as_str().map(str::len), Some(600));
}

#[test]
fn long_strings_multiplied_by_aliases_are_refused_past_the_budget() {
    let long = "y".repeat(100_000);
    let refs = vec!["*s"; 200].join(", ");
    let doc = format!("s: &s {long}\nmany: [{refs}]\n");
    let repo = repo(&[("app/wide.yaml", &doc)]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::AliasBudget { .. }), "20 MB from 100 KB: {err}");
}

#[test]
fn an_object_over_the_api_servers_size_limit_is_refused_at_render_naming_it() {
    let big = "z".repeat(2 * 1024 * 1024);
    let doc =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: {big}\n");
    let repo = repo(&[("app/cm.yaml", CM), ("app/huge.yaml", &doc)]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::ObjectTooLarge { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("app/huge.yaml") && text.contains("ConfigMap huge"), "{text}");
    assert!(!text.contains("zzzz"), "the error does not carry the content");
}

#[test]
fn a_100_mb_file_is_refused_without_being_read() {
    let repo = repo(&[("app/a.yaml", CM)]);
    let big = std::fs::File::create(repo.path().join("app/huge.yaml")).unwrap();
    big.set_len(100 * 1024 * 1024).unwrap();
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::Tree { source: TreeError::TooLarge { .. }, .. }), "{err}");
    assert!(err.to_string().contains("app/huge.yaml"), "{err}");
}

#[test]
fn invalid_utf8_is_refused_naming_the_file() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("app")).unwrap();
    std::fs::write(
        repo.path().join("app/latin1.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n",
    )
    .unwrap();
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(
        matches!(&err, RenderError::InvalidUtf8 { file, .. } if file.as_str() == "app/latin1.yaml"),
        "{err}"
    );
}

#[test]
fn deeply_nested_yaml_is_refused_naming_the_file() {
    let flow = format!("a: {}1{}\n", "[".repeat(500), "]".repeat(500));
    let block: String = (0..300).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
    for doc in [flow, block] {
        let repo = repo(&[("app/deep.yaml", &doc)]);
        let err = render(repo.path(), "app", &RenderOptions::default());
        assert!(matches!(&err, RenderError::TooDeep { .. }), "{err}");
        assert!(err.to_string().contains("app/deep.yaml"), "{err}");
    }
}

#[test]
fn the_same_object_twice_is_an_error_naming_both_origins() {
    let repo = repo(&[("app/a.yaml", CM), ("app/b.yaml", &format!("---\n{CM}"))]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    let text = err.to_string();
    assert!(matches!(&err, RenderError::Duplicate { .. }), "{text}");
    assert!(
        text.contains("ConfigMap a") && text.contains("app/a.yaml") && text.contains("app/b.yaml"),
        "{text}"
    );
}

#[test]
fn a_document_that_is_not_an_object_is_an_error_naming_file_and_document() {
    let repo = repo(&[("app/a.yaml", &format!("{CM}---\njust a string\n"))]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(
        matches!(&err, RenderError::NotAnObject { origin, .. } if origin.file.as_str() == "app/a.yaml" && origin.document == 1),
        "{err}"
    );
}

#[test]
fn a_missing_app_path_is_an_error_not_an_empty_render() {
    let repo = repo(&[("other/a.yaml", CM)]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::AppPathMissing { .. }), "{err}");
}

#[test]
fn a_failing_kustomize_build_is_an_error_carrying_kustomizes_message() {
    let repo = repo(&[("app/kustomization.yaml", "resources:\n- missing.yaml\n")]);
    let err = render(repo.path(), "app", &RenderOptions::default());
    assert!(matches!(&err, RenderError::ToolFailed { .. }), "{err}");
    assert!(err.to_string().contains("missing.yaml"), "{err}");
    assert!(!err.to_string().contains("ferry-kustomize-"), "scratch paths are hidden: {err}");
}

#[test]
fn a_missing_tool_says_what_to_install() {
    let repo = repo(&[("app/kustomization.yaml", "resources: []\n")]);
    let mut ctx = context("app");
    ctx.config = ctx.config.with_kubectl("/nonexistent/kubectl");
    let err = render_dir(repo.path(), "app", &RenderOptions::default(), &ctx).unwrap_err();
    assert!(matches!(&err, RenderError::ToolMissing { .. }), "{err}");
    assert!(err.to_string().contains("install kubectl"), "{err}");
}

#[test]
fn strict_substitution_fails_on_an_unset_variable_naming_the_object_origin() {
    let repo = repo(&[(
        "app/a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a-${env}\ndata:\n  r: ${region}\n",
    )]);
    let mut opts = RenderOptions {
        substitute: Some(Substitute {
            vars: [("env".to_owned(), "prod".to_owned())].into(),
            strict: true,
        }),
        ..RenderOptions::default()
    };
    let err = render(repo.path(), "app", &opts);
    assert!(
        matches!(&err, RenderError::UnsetVariable { var, origin } if var == "region" && origin.file.as_str() == "app/a.yaml"),
        "{err}"
    );

    opts.substitute.as_mut().unwrap().vars.insert("region".into(), "eu".into());
    let rendered = render_dir(repo.path(), "app", &opts, &context("app")).unwrap();
    assert_eq!(rendered.objects[0].object["metadata"]["name"], "a-prod");
    assert_eq!(rendered.objects[0].object["data"]["r"], "eu");
}

#[test]
fn substituted_numbers_become_numbers_as_in_flux() {
    let repo = repo(&[(
        "app/d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\nspec:\n  replicas: ${replicas:=2}\n",
    )]);
    let opts =
        RenderOptions { substitute: Some(Substitute::default()), ..RenderOptions::default() };
    let rendered = render_dir(repo.path(), "app", &opts, &context("app")).unwrap();
    assert_eq!(rendered.objects[0].object["spec"]["replicas"], 2);
}

#[test]
fn recurse_include_and_exclude_select_files_like_argo_cd() {
    let cm = |name: &str| CM.replace("name: a", &format!("name: {name}"));
    let repo = repo(&[
        ("app/a.yaml", &cm("a")),
        ("app/sub/b.yaml", &cm("b")),
        ("app/sub/c.yml", &cm("c")),
        ("app/sub/skip.yaml", &cm("skip")),
        ("app/README.md", "not a manifest"),
    ]);
    let names = |opts: DirectoryOptions| -> Vec<String> {
        let opts = RenderOptions { directory: Some(opts), ..RenderOptions::default() };
        render_dir(repo.path(), "app", &opts, &context("app"))
            .unwrap()
            .values()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(DirectoryOptions::default()), ["a"]);
    assert_eq!(
        names(DirectoryOptions { recurse: true, ..Default::default() }),
        ["a", "b", "c", "skip"]
    );
    assert_eq!(
        names(DirectoryOptions {
            recurse: true,
            exclude: Some("*skip*".into()),
            ..Default::default()
        }),
        ["a", "b", "c"]
    );
    assert_eq!(
        names(DirectoryOptions {
            recurse: true,
            include: Some("{a.yaml,sub/c.yml}".into()),
            ..Default::default()
        }),
        ["a", "c"]
    );
}

#[test]
fn a_forced_kind_overrides_detection() {
    let repo = repo(&[("app/kustomization.yaml", "resources: []\n"), ("app/cm.yaml", CM)]);
    let opts = RenderOptions { kind: Some(SourceKind::Directory), ..RenderOptions::default() };
    let err = render(repo.path(), "app", &opts);
    // As a directory, the kustomization itself is read as a manifest and has no kind.
    assert!(matches!(&err, RenderError::NotAnObject { .. }), "{err}");
}
