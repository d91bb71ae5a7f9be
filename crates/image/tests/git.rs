//! Commit and push against a real `git daemon` on 127.0.0.1 (random port, receive-pack on):
//! plain push, a lost race retried by rebase, a lost race on the same line retried by
//! re-applying, a pull-request branch, and a push the server refuses.

mod support;

use std::path::Path;

use ferry_image::git::{CommitOptions, GitError, Push, set_commit_push};
use ferry_image::message::MessageTemplate;
use ferry_image::parse_updates;
use support::{
    AUTHOR_EMAIL, AUTHOR_NAME, GitDaemon, bare_repo_with, clone, commit_all, daemon, git,
};

const DEPLOYMENT: &str = "guestbook/guestbook-ui-deployment.yaml";

fn deployment_text() -> String {
    std::fs::read_to_string(support::corpus(
        "argocd-example-apps/guestbook/guestbook-ui-deployment.yaml",
    ))
    .expect("corpus file")
}

fn options(push: Option<Push>) -> CommitOptions {
    CommitOptions {
        repo_dir: None,
        message: MessageTemplate::parse("Deploy {images}\n\n{changes}\n").expect("valid template"),
        author_name: Some(AUTHOR_NAME.into()),
        author_email: Some(AUTHOR_EMAIL.into()),
        push,
        user_git_config: false,
    }
}

/// A served bare repository with the guestbook Deployment, and a clone of it.
fn served_clone(base: &Path, work: &Path) -> (GitDaemon, String) {
    bare_repo_with(base, "app.git", &[(DEPLOYMENT, &deployment_text()), ("README.md", "app\n")]);
    let daemon = daemon(base);
    let url = daemon.url("app.git");
    clone(&url, work);
    (daemon, url)
}

fn remote_file(base: &Path, branch: &str, path: &str) -> String {
    git(&base.join("app.git"), &["show", &format!("{branch}:{path}")])
}

#[test]
fn a_commit_is_pushed_with_the_templated_message_and_author() {
    let dirs = tempfile::tempdir().expect("temp dir");
    let (base, work) = (dirs.path().join("served"), dirs.path().join("work"));
    std::fs::create_dir_all(&base).expect("mkdir");
    let (_daemon, _url) = served_clone(&base, &work);

    let updates = parse_updates(&["gcr.io/google-samples/gb-frontend:v6"]).expect("valid");
    let (report, outcome) =
        set_commit_push(&work.join("guestbook"), &updates, &options(Some(Push::default())))
            .expect("pushed");

    assert_eq!(report.changes.len(), 1);
    assert_eq!(outcome.push_attempts, 1);
    assert_eq!(outcome.pushed_to.as_deref(), Some("origin/main"));
    assert!(
        remote_file(&base, "main", DEPLOYMENT)
            .contains("image: gcr.io/google-samples/gb-frontend:v6")
    );
    let log = git(&base.join("app.git"), &["log", "-1", "--format=%an <%ae>%n%B", "main"]);
    assert_eq!(
        log.trim(),
        format!(
            "{AUTHOR_NAME} <{AUTHOR_EMAIL}>\nDeploy gcr.io/google-samples/gb-frontend:v6\n\n{DEPLOYMENT}:17 gcr.io/google-samples/gb-frontend:v5 → gcr.io/google-samples/gb-frontend:v6"
        )
    );
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
}

#[test]
fn a_push_that_lost_a_race_is_rebased_and_retried() {
    let dirs = tempfile::tempdir().expect("temp dir");
    let (base, work, other) =
        (dirs.path().join("served"), dirs.path().join("work"), dirs.path().join("other"));
    std::fs::create_dir_all(&base).expect("mkdir");
    let (_daemon, url) = served_clone(&base, &work);
    // Another writer pushes first, touching another file.
    clone(&url, &other);
    std::fs::write(other.join("README.md"), "app, changed elsewhere\n").expect("writable");
    commit_all(&other, "someone else");
    git(&other, &["push", "--quiet", "origin", "main"]);

    let updates = parse_updates(&["gcr.io/google-samples/gb-frontend:v6"]).expect("valid");
    let (_, outcome) = set_commit_push(&work, &updates, &options(Some(Push::default())))
        .expect("pushed after a retry");

    assert_eq!(outcome.push_attempts, 2);
    // The test kit's git trims what it prints.
    assert_eq!(remote_file(&base, "main", "README.md"), "app, changed elsewhere");
    assert!(remote_file(&base, "main", DEPLOYMENT).contains("gb-frontend:v6"));
    let subjects = git(&base.join("app.git"), &["log", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().collect::<Vec<_>>(),
        ["Deploy gcr.io/google-samples/gb-frontend:v6", "someone else", "initial"]
    );
}

#[test]
fn a_race_on_the_same_line_is_resolved_by_applying_the_edit_again_on_the_remote_state() {
    let dirs = tempfile::tempdir().expect("temp dir");
    let (base, work, other) =
        (dirs.path().join("served"), dirs.path().join("work"), dirs.path().join("other"));
    std::fs::create_dir_all(&base).expect("mkdir");
    let (_daemon, url) = served_clone(&base, &work);
    // Another CI job bumped the same image to another tag: a rebase would conflict.
    clone(&url, &other);
    let file = other.join(DEPLOYMENT);
    let bumped = std::fs::read_to_string(&file)
        .expect("readable")
        .replace("gb-frontend:v5", "gb-frontend:v5.1");
    std::fs::write(&file, bumped).expect("writable");
    commit_all(&other, "other job");
    git(&other, &["push", "--quiet", "origin", "main"]);

    let updates = parse_updates(&["gcr.io/google-samples/gb-frontend:v6"]).expect("valid");
    let (report, outcome) = set_commit_push(&work, &updates, &options(Some(Push::default())))
        .expect("pushed after re-applying");

    assert_eq!(outcome.push_attempts, 2);
    assert_eq!(report.changes[0].old, "gcr.io/google-samples/gb-frontend:v5.1");
    assert!(remote_file(&base, "main", DEPLOYMENT).contains("gb-frontend:v6"));
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
}

#[test]
fn a_branch_push_leaves_the_target_branch_alone_for_a_pull_request() {
    let dirs = tempfile::tempdir().expect("temp dir");
    let (base, work) = (dirs.path().join("served"), dirs.path().join("work"));
    std::fs::create_dir_all(&base).expect("mkdir");
    let (_daemon, _url) = served_clone(&base, &work);

    let updates = parse_updates(&["gcr.io/google-samples/gb-frontend:v6"]).expect("valid");
    let push = Push { branch: Some("ferry/gb-frontend-v6".into()), ..Push::default() };
    let (_, outcome) = set_commit_push(&work, &updates, &options(Some(push))).expect("pushed");

    assert_eq!(outcome.pushed_to.as_deref(), Some("origin/ferry/gb-frontend-v6"));
    assert!(remote_file(&base, "ferry/gb-frontend-v6", DEPLOYMENT).contains("gb-frontend:v6"));
    assert!(remote_file(&base, "main", DEPLOYMENT).contains("gb-frontend:v5"));
}

#[test]
fn a_push_the_server_refuses_is_a_clear_error_and_the_local_repository_is_restored() {
    let dirs = tempfile::tempdir().expect("temp dir");
    let (base, work) = (dirs.path().join("served"), dirs.path().join("work"));
    std::fs::create_dir_all(&base).expect("mkdir");
    let (_daemon, _url) = served_clone(&base, &work);
    let hook = base.join("app.git/hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'permission denied: ci-bot may not push to main' >&2\nexit 1\n",
    )
    .expect("writable");
    make_executable(&hook);
    let before = git(&work, &["rev-parse", "HEAD"]);

    let updates = parse_updates(&["gcr.io/google-samples/gb-frontend:v6"]).expect("valid");
    let error =
        set_commit_push(&work, &updates, &options(Some(Push::default()))).expect_err("refused");

    assert!(matches!(error, GitError::Rejected { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("permission denied: ci-bot may not push to main"), "{message}");
    assert!(message.contains("the local repository was restored"), "{message}");
    assert_eq!(git(&work, &["rev-parse", "HEAD"]), before);
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
}

#[test]
fn commit_without_push_commits_only_the_edited_files() {
    let dirs = tempfile::tempdir().expect("temp dir");
    let work = dirs.path().join("work");
    std::fs::create_dir_all(work.join("guestbook")).expect("mkdir");
    std::fs::write(work.join(DEPLOYMENT), deployment_text()).expect("writable");
    std::fs::write(work.join("notes.txt"), "draft\n").expect("writable");
    support::init_repo(&work);
    std::fs::write(work.join("notes.txt"), "unfinished local edit\n").expect("writable");

    let updates = parse_updates(&["gcr.io/google-samples/gb-frontend:v6"]).expect("valid");
    let (_, outcome) = set_commit_push(&work, &updates, &options(None)).expect("committed");

    assert!(outcome.commit.is_some());
    assert_eq!(git(&work, &["show", "--name-only", "--format=", "HEAD"]).trim(), DEPLOYMENT);
    assert_eq!(git(&work, &["status", "--porcelain"]).trim(), "M notes.txt");
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
