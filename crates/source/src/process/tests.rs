use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

/// Whether `pid` is gone (or a zombie waiting for its new parent to reap it).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if is_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn read_pid(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && text.ends_with('\n')
        {
            return text.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "the shell never wrote its child's pid");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_environment_is_the_allow_list_and_what_the_caller_adds() {
    let out = Program::new("env").env("EXTRA", "yes").run().expect("env runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for wanted in
        ["GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LANG=C"]
    {
        assert!(text.lines().any(|l| l == wanted), "{wanted} missing from:\n{text}");
    }
    assert!(text.lines().any(|l| l == "EXTRA=yes"), "{text}");
    // cargo sets these for the test process; none of the caller's variables may leak.
    assert!(!text.contains("CARGO_"), "the caller's environment leaked:\n{text}");
}

#[test]
fn bytes_given_for_stdin_reach_the_program() {
    let out = Program::new("cat").stdin(b"hello\n".to_vec()).run().expect("cat runs");
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello\n");
}

#[test]
fn a_timeout_kills_the_whole_process_group_and_names_the_program() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let started = Instant::now();
    let error = Program::new("sh")
        .args(["-c", &script])
        .timeout(Duration::from_millis(300))
        .run()
        .expect_err("sleep 30 outlives a 300 ms timeout");
    assert!(error.is_timeout(), "{error}");
    assert!(error.to_string().starts_with("sh did not finish within"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let grandchild = read_pid(&pidfile);
    assert!(wait_gone(&grandchild), "the background sleep {grandchild} outlived the timeout");
}

#[test]
fn output_over_the_cap_is_an_error_and_stops_the_program() {
    let error = Program::new("yes").max_stdout(1000).run().expect_err("yes never stops on its own");
    assert!(
        matches!(error, ProcessError::TooMuchOutput { stream: "stdout", limit: 1000, .. }),
        "{error}"
    );
}

#[test]
fn output_just_over_the_cap_is_never_taken_for_the_whole() {
    let error = Program::new("printf")
        .arg("0123456789")
        .max_stdout(9)
        .run()
        .expect_err("ten bytes exceed a cap of nine");
    assert!(matches!(error, ProcessError::TooMuchOutput { .. }), "{error}");
    let out = Program::new("printf").arg("0123456789").max_stdout(10).run().expect("fits");
    assert_eq!(out.stdout, b"0123456789");
}

#[test]
fn secrets_and_url_credentials_are_masked_in_errors() {
    let error = Program::new("sh")
        .args([
            "-c",
            "echo 'fatal: https://bot:hunter2@git.example/x' >&2; echo hunter2 >&2; sleep 5",
        ])
        .secret("hunter2")
        .timeout(Duration::from_millis(300))
        .run()
        .expect_err("times out");
    let text = error.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("https://***@git.example/x"), "{text}");
}

#[test]
fn a_missing_program_is_a_spawn_error_naming_it() {
    let error = Program::new("/nonexistent/ferry-tool").run().expect_err("no such file");
    assert!(error.to_string().starts_with("could not start ferry-tool"), "{error}");
}

#[test]
fn a_stop_condition_stops_the_program_with_its_reason() {
    let error = Program::new("sleep")
        .arg("30")
        .stop_when(Duration::from_millis(10), || Some("the pack grew over the cap".into()))
        .run()
        .expect_err("stopped");
    assert!(error.to_string().contains("the pack grew over the cap"), "{error}");
}

#[tokio::test]
async fn dropping_an_async_run_kills_the_program() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
    let run = Program::new("sh").args(["-c", &script]).timeout(Duration::from_secs(60)).run_async();
    let waited = tokio::time::timeout(Duration::from_millis(300), run).await;
    assert!(waited.is_err(), "sleep 30 is still running after 300 ms");
    let pid = read_pid(&pidfile);
    assert!(wait_gone(&pid), "sleep {pid} outlived the dropped future");
}

#[test]
fn the_credential_helper_answers_git_from_the_environment_only() {
    let account = GitAccount { username: "bot".into(), password: "p@ss w:rd".into() };
    let out = Program::new("git")
        .git_account(&account)
        .args(["credential", "fill"])
        .stdin(b"protocol=https\nhost=git.example.com\n\n".to_vec())
        .run()
        .expect("git credential fill runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("username=bot\n") && text.contains("password=p@ss w:rd\n"), "{text}");
    assert!(!ENV_CREDENTIAL_HELPER.contains("p@ss"), "no secret on a command line");
    assert!(!format!("{account:?}").contains("p@ss"), "Debug hides the password");
}

#[test]
fn masking_removes_every_occurrence_of_a_secret_but_not_short_words() {
    let program = Program::new("git").secret("hunter2").secret("ab");
    let text = "fatal: could not read hunter2 from https://alice:hunter2@host, ab";
    assert_eq!(program.mask(text), "fatal: could not read *** from https://***@host, ab");
}
