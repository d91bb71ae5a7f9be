//! Write-back to Git with the `git` CLI: one commit for all changes, then a push that survives
//! concurrent writers.
//!
//! # Push and retry
//! `git push REMOTE HEAD:refs/heads/BRANCH`. When the remote moved on (non-fast-forward), fetch
//! it and rebase our commit onto it; if the rebase conflicts (someone else changed the same
//! line, e.g. another CI job bumped the same image), abort it, reset to the remote and apply the
//! edit again from scratch. Up to [`Push::attempts`] times.
//!
//! # Guarantees
//! - Any failure (rejected push, conflict, exhausted retries) leaves the repository at the
//!   commit it started from with a clean work tree: our commit and edits are undone.
//! - Re-applying never drops commits of others: it resets only when the local branch had nothing
//!   unpushed besides our commit.
//! - Credentials in remote URLs are masked in every error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_source::process::{GitAccount, ProcessError, Program};

use crate::message::MessageTemplate;
use crate::set::{SetError, SetReport, plan_set};
use crate::update::ImageUpdate;

/// Longest a single git command may run (a push to a slow remote included).
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// The repository; default: the one containing the edited path.
    pub repo_dir: Option<PathBuf>,
    pub message: MessageTemplate,
    /// Author and committer; default: git's own configuration and `GIT_AUTHOR_*` variables.
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub push: Option<Push>,
    /// Let git read the caller's own configuration, identity and credential helpers: true for
    /// `ferry image set`, which commits as the user in the user's repository; false for the
    /// controller, whose git sees nothing of the machine's.
    pub user_git_config: bool,
}

/// A Git account for HTTP(S) remotes, handed to git through the one credential path
/// (`ferry_source::process`). `Debug` shows the username only.
pub type GitCredentials = GitAccount;

#[derive(Debug, Clone)]
pub struct Push {
    pub remote: String,
    /// Push to this branch (e.g. for a pull request) instead of the current branch.
    pub branch: Option<String>,
    pub attempts: u32,
    /// An account for an http(s) remote (default: git's own credential configuration).
    pub credentials: Option<GitCredentials>,
}

impl Default for Push {
    fn default() -> Self {
        Push { remote: "origin".to_string(), branch: None, attempts: 5, credentials: None }
    }
}

/// What happened in Git, as data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GitOutcome {
    /// The commit made (after the last rebase or re-apply), if any.
    pub commit: Option<String>,
    /// `remote/branch` pushed to.
    pub pushed_to: Option<String>,
    /// Push attempts made (1 when the first push succeeded).
    pub push_attempts: u32,
    /// True when, after a retry, the remote already had these images and nothing was pushed.
    pub already_on_remote: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("running git {args}: {source}")]
    Run {
        args: String,
        #[source]
        source: ProcessError,
    },
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("{} is not inside a git repository", path.display())]
    NotARepository { path: PathBuf },
    #[error("the work tree of {} has uncommitted changes; commit or stash them before --push", repo.display())]
    Dirty { repo: PathBuf },
    #[error("HEAD is detached, so there is no branch to push to; pass --branch")]
    Detached,
    #[error(
        "the push to {remote} {branch} was rejected: {stderr}; the local repository was restored"
    )]
    Rejected { remote: String, branch: String, stderr: String },
    #[error(
        "the push to {remote} {branch} kept losing races with other writers after {attempts} attempts; the local repository was restored"
    )]
    GaveUp { remote: String, branch: String, attempts: u32 },
    #[error(
        "the remote changed and our edit could not be rebased, and the local branch has unpushed commits of its own, so it was not reset; the local repository was restored"
    )]
    Diverged,
    #[error(transparent)]
    Set(#[from] SetError),
}

/// Edits, commits and (optionally) pushes. Returns the report of the edit that was committed.
pub fn set_commit_push(
    root: &Path,
    updates: &[ImageUpdate],
    options: &CommitOptions,
) -> Result<(SetReport, GitOutcome), GitError> {
    let repo = match &options.repo_dir {
        Some(dir) => dir.clone(),
        None => toplevel(root)?,
    };
    let git = Git {
        repo: repo.clone(),
        author: options.author_name.clone().zip(options.author_email.clone()),
        credentials: options.push.as_ref().and_then(|p| p.credentials.clone()),
        user_git_config: options.user_git_config,
    };
    if options.push.is_some()
        && !git.run(&["status", "--porcelain", "--untracked-files=no"])?.trim().is_empty()
    {
        return Err(GitError::Dirty { repo });
    }
    let start = git.run(&["rev-parse", "HEAD"])?.trim().to_string();
    let mut outcome =
        GitOutcome { commit: None, pushed_to: None, push_attempts: 0, already_on_remote: false };
    let Some(report) = edit_and_commit(&git, root, updates, options)? else {
        let report = plan_set(root, updates)?.report().clone();
        return Ok((report, outcome));
    };
    outcome.commit = Some(git.run(&["rev-parse", "HEAD"])?.trim().to_string());
    let Some(push) = &options.push else {
        return Ok((report, outcome));
    };
    let result =
        push_with_retries(&git, root, updates, options, push, &start, report, &mut outcome);
    if result.is_err() {
        // Leave the repository as we found it; the error says why.
        let _ = git.run(&["rebase", "--abort"]);
        let _ = git.run(&["reset", "--hard", &start]);
    }
    result.map(|report| (report, outcome))
}

#[allow(clippy::too_many_arguments)]
fn push_with_retries(
    git: &Git,
    root: &Path,
    updates: &[ImageUpdate],
    options: &CommitOptions,
    push: &Push,
    start: &str,
    mut report: SetReport,
    outcome: &mut GitOutcome,
) -> Result<SetReport, GitError> {
    let branch = match &push.branch {
        Some(branch) => branch.clone(),
        None => git
            .run(&["symbolic-ref", "--short", "-q", "HEAD"])
            .map(|name| name.trim().to_string())
            .ok()
            .filter(|name| !name.is_empty())
            .ok_or(GitError::Detached)?,
    };
    let refspec = format!("HEAD:refs/heads/{branch}");
    for attempt in 1..=push.attempts.max(1) {
        outcome.push_attempts = attempt;
        match git.run(&["push", "--porcelain", &push.remote, &refspec]) {
            Ok(_) => {
                outcome.pushed_to = Some(format!("{}/{branch}", push.remote));
                outcome.commit = Some(git.run(&["rev-parse", "HEAD"])?.trim().to_string());
                return Ok(report);
            }
            Err(GitError::Failed { stderr, .. }) if is_non_fast_forward(&stderr) => {
                tracing::info!(attempt, %branch, "push lost a race with another writer; fetching and retrying");
            }
            Err(GitError::Failed { stderr, .. }) => {
                return Err(GitError::Rejected { remote: push.remote.clone(), branch, stderr });
            }
            Err(other) => return Err(other),
        }
        git.run(&["fetch", "--quiet", &push.remote, &format!("refs/heads/{branch}")])?;
        if git.run(&["rebase", "--quiet", "FETCH_HEAD"]).is_ok() {
            continue;
        }
        git.run(&["rebase", "--abort"])?;
        // Reset only if that drops nothing but our own commit.
        let unpushed = git.run(&["rev-list", "--count", &format!("FETCH_HEAD..{start}")])?;
        if unpushed.trim() != "0" {
            return Err(GitError::Diverged);
        }
        git.run(&["reset", "--hard", "--quiet", "FETCH_HEAD"])?;
        match edit_and_commit(git, root, updates, options)? {
            Some(new_report) => report = new_report,
            None => {
                outcome.already_on_remote = true;
                outcome.commit = None;
                return Ok(report);
            }
        }
    }
    Err(GitError::GaveUp { remote: push.remote.clone(), branch, attempts: push.attempts.max(1) })
}

/// Plans, writes and commits; `None` when nothing changes. A failed commit restores the files.
fn edit_and_commit(
    git: &Git,
    root: &Path,
    updates: &[ImageUpdate],
    options: &CommitOptions,
) -> Result<Option<SetReport>, GitError> {
    let planned = plan_set(root, updates)?;
    if planned.report().changes.is_empty() {
        return Ok(None);
    }
    // Absolute paths: `git -C REPO` reads relative ones from REPO, not from our directory.
    let files: Vec<PathBuf> = planned
        .files()
        .map(|file| std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()))
        .collect();
    let report = planned.write()?;
    let repo = git.repo.canonicalize().unwrap_or_else(|_| git.repo.clone());
    let in_repo: Vec<_> = report
        .changes
        .iter()
        .map(|change| {
            let mut change = change.clone();
            if let Ok(file) = change.file.canonicalize()
                && let Ok(relative) = file.strip_prefix(&repo)
            {
                change.file = relative.to_path_buf();
            }
            change
        })
        .collect();
    let message = options.message.render(updates, &in_repo, &repo);
    let mut args: Vec<String> =
        vec!["commit".into(), "--quiet".into(), "-m".into(), message, "--".into()];
    args.extend(files.iter().map(|file| file.to_string_lossy().into_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Err(error) = git.run(&args) {
        let mut restore = vec!["checkout", "--quiet", "HEAD", "--"];
        let names: Vec<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
        restore.extend(names.iter().map(String::as_str));
        let _ = git.run(&restore);
        return Err(error);
    }
    Ok(Some(report))
}

fn toplevel(path: &Path) -> Result<PathBuf, GitError> {
    let dir = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let git =
        Git { repo: dir.to_path_buf(), author: None, credentials: None, user_git_config: true };
    git.run(&["rev-parse", "--show-toplevel"])
        .map(|top| PathBuf::from(top.trim()))
        .map_err(|_| GitError::NotARepository { path: path.to_path_buf() })
}

/// Git's words for "the remote has commits you do not": retryable, unlike a hook or
/// permission refusal.
fn is_non_fast_forward(output: &str) -> bool {
    output.contains("non-fast-forward") || output.contains("fetch first")
}

pub(crate) struct Git {
    pub(crate) repo: PathBuf,
    pub(crate) author: Option<(String, String)>,
    pub(crate) credentials: Option<GitCredentials>,
    /// See [`CommitOptions::user_git_config`].
    pub(crate) user_git_config: bool,
}

impl Git {
    /// Runs git in the repository; stdout on success, stdout+stderr in the error.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let shown = mask_credentials(&args.join(" "));
        let mut program = Program::new("git").arg("-C").arg(&self.repo);
        if let Some((name, email)) = &self.author {
            program = program
                .arg("-c")
                .arg(format!("user.name={name}"))
                .arg("-c")
                .arg(format!("user.email={email}"));
        }
        if let Some(credentials) = &self.credentials {
            program = program.git_account(credentials);
        }
        if self.user_git_config {
            program = program.user_git_config();
        }
        let out = program
            .args(args)
            .timeout(GIT_TIMEOUT)
            .run()
            .map_err(|source| GitError::Run { args: shown.clone(), source })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let both = match (stdout.trim(), stderr.trim()) {
            ("", stderr) => stderr.to_string(),
            (stdout, stderr) => format!("{stdout}\n{stderr}"),
        };
        Err(GitError::Failed { args: shown, stderr: mask_credentials(&both) })
    }
}

/// The one URL masker, re-exported where image's callers have always found it.
pub use ferry_source::url::mask_credentials;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_fast_forward_rejections_are_retried() {
        assert!(is_non_fast_forward("! [rejected]        HEAD -> main (fetch first)"));
        assert!(is_non_fast_forward("!\tHEAD:refs/heads/main\t[rejected] (non-fast-forward)"));
        assert!(!is_non_fast_forward(
            "! [remote rejected] HEAD -> main (pre-receive hook declined)"
        ));
    }
}
