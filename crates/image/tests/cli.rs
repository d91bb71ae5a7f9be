//! The `ferry image set` glue: what it prints and which exit code it returns.

mod support;

use ferry_image::cli::{EXIT_NOTHING_MATCHED, SetArgs, run_set};
use support::copy_corpus;

fn args(path: &std::path::Path, images: &[&str]) -> SetArgs {
    SetArgs {
        path: path.to_path_buf(),
        images: images.iter().map(|s| s.to_string()).collect(),
        commit: false,
        message: None,
        push: false,
        branch: None,
        remote: "origin".into(),
        repo_dir: None,
        author_name: None,
        author_email: None,
        json: false,
    }
}

fn run(args: &SetArgs) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_set(args, &mut out, &mut err).expect("runs");
    (code, String::from_utf8(out).expect("utf-8"), String::from_utf8(err).expect("utf-8"))
}

#[test]
fn changes_are_printed_as_file_line_old_arrow_new_and_exit_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("deployment.yaml");
    copy_corpus("argocd-example-apps/guestbook/guestbook-ui-deployment.yaml", &file);

    let (code, out, err) = run(&args(dir.path(), &["gcr.io/google-samples/gb-frontend=:v6"]));

    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "{}:17 gcr.io/google-samples/gb-frontend:v5 → gcr.io/google-samples/gb-frontend:v6\n",
            file.display()
        )
    );
    assert_eq!(err, "changed 1 reference\n");
}

#[test]
fn nothing_matched_exits_2_with_a_hint_on_stderr() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_corpus(
        "argocd-example-apps/guestbook/guestbook-ui-deployment.yaml",
        &dir.path().join("d.yaml"),
    );

    let (code, out, err) = run(&args(dir.path(), &["ghcr.io/org/other:1.0.0"]));

    assert_eq!(code, EXIT_NOTHING_MATCHED);
    assert_eq!(out, "");
    assert!(err.starts_with("no reference to ghcr.io/org/other:1.0.0 found under"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn json_output_carries_the_report_as_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_corpus(
        "argocd-example-apps/guestbook/guestbook-ui-deployment.yaml",
        &dir.path().join("d.yaml"),
    );
    let mut json_args = args(dir.path(), &["gcr.io/google-samples/gb-frontend:v6"]);
    json_args.json = true;

    let (code, out, _) = run(&json_args);

    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(value["report"]["changes"][0]["line"], 17);
    assert_eq!(value["report"]["changes"][0]["new"], "gcr.io/google-samples/gb-frontend:v6");
    assert_eq!(value["git"], serde_json::Value::Null);
}

#[test]
fn an_invalid_new_reference_is_an_error_before_any_file_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = run_set(&args(dir.path(), &["app=app:bad tag"]), &mut Vec::new(), &mut Vec::new())
        .expect_err("invalid");
    assert!(error.to_string().contains("is not an image reference"), "{error}");
}
