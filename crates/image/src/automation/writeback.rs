//! Write-back of one ImageUpdateAutomation: bring a private work tree to the remote branch,
//! apply every update at once, and commit and push through [`crate::git::set_commit_push`]
//! (one commit, rebase-and-retry on a non-fast-forward, the work tree restored on failure).
//!
//! # Guarantees
//! - Nothing to change → no commit and no push, so the automation never reacts to its own
//!   commits with another one.
//! - The remote URL (which may carry an account) is never shown: errors are masked.
//! - `update.path` stays inside the work tree (no absolute paths, no `..`).

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::git::{CommitOptions, Git, GitCredentials, Push, mask_credentials, set_commit_push};
use crate::message::MessageTemplate;
use crate::set::Change;
use crate::update::ImageUpdate;

/// A remote URL that may contain an account; `Debug` masks it.
#[derive(Clone)]
pub(crate) struct RemoteUrl(pub(crate) String);

impl fmt::Debug for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_credentials(&self.0))
    }
}

#[derive(Debug)]
pub(crate) struct WriteBack {
    pub(crate) work_dir: PathBuf,
    pub(crate) url: RemoteUrl,
    /// The account for an http(s) remote, given to git through its environment.
    pub(crate) credentials: Option<GitCredentials>,
    pub(crate) checkout_branch: String,
    pub(crate) push_branch: Option<String>,
    pub(crate) path: String,
    pub(crate) author: (String, String),
    pub(crate) message: MessageTemplate,
    pub(crate) updates: Vec<ImageUpdate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteBackOutcome {
    /// The commit pushed, `None` when Git already had every chosen image.
    pub(crate) commit: Option<String>,
    pub(crate) branch: String,
    pub(crate) changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteBackError {
    #[error("spec.update.path {path:?} must be a relative path inside the repository")]
    Path { path: String },
    #[error("preparing the work tree {}: {message}", dir.display())]
    WorkTree { dir: PathBuf, message: String },
    /// Already masked: no account in it.
    #[error("{0}")]
    Git(String),
}

pub(crate) fn write_back(request: &WriteBack) -> Result<WriteBackOutcome, WriteBackError> {
    let relative = Path::new(&request.path);
    let inside =
        relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(WriteBackError::Path { path: request.path.clone() });
    }
    let dir = &request.work_dir;
    let masked =
        |error: crate::git::GitError| WriteBackError::Git(mask_credentials(&error.to_string()));
    std::fs::create_dir_all(dir)
        .map_err(|e| WriteBackError::WorkTree { dir: dir.clone(), message: e.to_string() })?;
    let git = Git {
        repo: dir.clone(),
        author: None,
        credentials: request.credentials.clone(),
        user_git_config: false,
    };
    if !dir.join(".git").exists() {
        git.run(&["init", "--quiet"]).map_err(masked)?;
    }
    // A run killed half-way (the process stopped) may have left a rebase or a lock behind; the
    // work tree is ours alone, so clear them before starting over.
    if dir.join(".git/rebase-merge").exists() || dir.join(".git/rebase-apply").exists() {
        let _ = git.run(&["rebase", "--abort"]);
    }
    let _ = std::fs::remove_file(dir.join(".git/index.lock"));
    let url = request.url.0.as_str();
    let target = request.push_branch.clone().unwrap_or_else(|| request.checkout_branch.clone());
    // A pull-request branch that exists already gets the new commit on top of it.
    let base = if target != request.checkout_branch
        && !git
            .run(&["ls-remote", "--heads", url, &format!("refs/heads/{target}")])
            .map_err(masked)?
            .trim()
            .is_empty()
    {
        target.clone()
    } else {
        request.checkout_branch.clone()
    };
    git.run(&["fetch", "--quiet", "--no-tags", url, &format!("refs/heads/{base}")])
        .map_err(masked)?;
    git.run(&["checkout", "--quiet", "--force", "-B", &target, "FETCH_HEAD"]).map_err(masked)?;
    git.run(&["clean", "--quiet", "-ffdx"]).map_err(masked)?;
    let options = CommitOptions {
        repo_dir: Some(dir.clone()),
        message: request.message.clone(),
        author_name: Some(request.author.0.clone()),
        author_email: Some(request.author.1.clone()),
        push: Some(Push {
            remote: url.to_string(),
            branch: Some(target.clone()),
            attempts: 5,
            credentials: request.credentials.clone(),
        }),
        user_git_config: false,
    };
    let (report, outcome) =
        set_commit_push(&dir.join(relative), &request.updates, &options).map_err(masked)?;
    let changes = report
        .changes
        .into_iter()
        .map(|mut change| {
            if let Ok(inside) = change.file.strip_prefix(dir) {
                change.file = inside.to_path_buf();
            }
            change
        })
        .collect();
    let commit = if outcome.pushed_to.is_some() { outcome.commit } else { None };
    Ok(WriteBackOutcome { commit, branch: target, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> WriteBack {
        WriteBack {
            work_dir: PathBuf::from("/nonexistent/ferry-test"),
            url: RemoteUrl("https://bot:s3cret@git.example.com/org/config.git".into()),
            credentials: Some(GitCredentials { username: "bot".into(), password: "t0ken".into() }),
            checkout_branch: "main".into(),
            push_branch: None,
            path: path.into(),
            author: ("ferry".into(), "ferry@localhost".into()),
            message: MessageTemplate::default(),
            updates: Vec::new(),
        }
    }

    #[test]
    fn a_path_leaving_the_repository_is_refused_before_any_git_command() {
        for path in ["/etc", "../other", "apps/../../x"] {
            assert_eq!(
                write_back(&request(path)),
                Err(WriteBackError::Path { path: path.into() }),
                "{path}"
            );
        }
    }

    #[test]
    fn the_remote_url_is_masked_in_debug_output() {
        let shown = format!("{:?}", request("."));
        assert!(!shown.contains("s3cret") && !shown.contains("t0ken"), "{shown}");
        assert!(shown.contains("https://***@git.example.com/org/config.git"), "{shown}");
    }
}
