//! `ferry bootstrap --repo URL --path P`: Ferry manages itself from Git, as `flux bootstrap`
//! does. Writes Ferry's install manifests and an Application `ferry` (that repository, that
//! path; automated, self-healing, never pruning) under P, commits and pushes them (the git CLI,
//! with the user's own git configuration and credentials), then installs Ferry into the cluster
//! and creates the Application. Run twice, it changes nothing: no empty commit, the same apply.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ferry_source::process::Program;
use serde_json::{Value, json};

use crate::app::connect::{ClusterArgs, connect};
use crate::app::install::manifests::{InstallOptions, manifests};
use crate::app::install::{apply_all, to_yaml};

/// The files bootstrap writes under `--path`.
pub const INSTALL_FILE: &str = "ferry-install.yaml";
pub const APPLICATION_FILE: &str = "ferry-application.yaml";
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(clap::Args, Debug)]
pub struct BootstrapArgs {
    /// The Git repository Ferry's own manifests go to (it must accept a push from here).
    #[arg(long)]
    pub repo: String,
    /// The directory in the repository (created when missing).
    #[arg(long)]
    pub path: String,
    /// The branch to commit to (created when missing).
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Namespace, image and replicas, as `ferry install` takes them (the Application `ferry`
    /// lives in that namespace too).
    #[command(flatten)]
    pub install: InstallOptions,
    /// The commit's author (and committer) name.
    #[arg(long, default_value = "Ferry")]
    pub author_name: String,
    /// The commit's author (and committer) email.
    #[arg(long, default_value = "ferry@localhost")]
    pub author_email: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `--path` as a clean relative directory: no `..`, not absolute, not empty.
fn check_path(path: &str) -> anyhow::Result<String> {
    let trimmed = path.trim_matches('/');
    let bad = trimmed.is_empty()
        || path.starts_with('/')
        || trimmed.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        bail!("--path {path:?}: give a directory inside the repository, like clusters/production");
    }
    Ok(trimmed.to_string())
}

/// The Application through which Ferry manages itself. Prune stays off: a file moved or
/// deleted by mistake must not delete Ferry's CRDs, and with them every Application.
pub fn application(args: &BootstrapArgs, path: &str) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "ferry", "namespace": args.install.namespace},
        "spec": {
            "source": {"repoURL": args.repo, "targetRevision": args.branch, "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": args.install.namespace},
            "syncPolicy": {"automated": {"prune": false, "selfHeal": true}}
        }
    })
}

pub async fn run(args: BootstrapArgs) -> anyhow::Result<ExitCode> {
    let path = check_path(&args.path)?;
    let install = manifests(&args.install)?;
    let app = application(&args, &path);
    let files = [
        (INSTALL_FILE, to_yaml(&install)?),
        (APPLICATION_FILE, to_yaml(std::slice::from_ref(&app))?),
    ];
    let work = tempfile::tempdir().context("creating a temporary directory for the clone")?;
    let git = Git { dir: work.path().to_path_buf(), args: &args };
    match git.commit_and_push(&path, &files)? {
        Some(commit) => eprintln!(
            "committed {path}/{INSTALL_FILE} and {path}/{APPLICATION_FILE} as {commit} and pushed to {} {}",
            git.shown_url(),
            args.branch
        ),
        None => eprintln!(
            "{path} in {} {} is up to date: nothing to commit",
            git.shown_url(),
            args.branch
        ),
    }
    let conn = connect(&args.cluster).await?;
    // As the engine applies: the Application then owns these fields without a conflict.
    apply_all(&conn.client, &install, ferry_apply::FIELD_MANAGER).await?;
    apply_application(&conn.client, &app).await?;
    eprintln!(
        "ferry is installed in namespace {:?} and manages itself from {path}",
        args.install.namespace
    );
    crate::app::output::hint(&format!("ferry app get ferry -n {}", args.install.namespace));
    crate::app::output::hint(&format!(
        "a private repository needs credentials in the cluster: ferry repo add {} …",
        git.shown_url()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The CRD was just created: the API server may take a moment to serve it.
async fn apply_application(client: &kube::Client, app: &Value) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..50 {
        match apply_all(client, std::slice::from_ref(app), ferry_apply::FIELD_MANAGER).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(last.map(anyhow::Error::from).unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
        .context("creating the Application ferry (the CRD was applied but is not served yet?)")
}

struct Git<'a> {
    dir: std::path::PathBuf,
    args: &'a BootstrapArgs,
}

impl Git<'_> {
    fn shown_url(&self) -> String {
        ferry_source::url::mask_credentials(&self.args.repo)
    }

    /// Runs git in the clone; the exit status and output, or an error naming the command.
    fn run(&self, git_args: &[&str]) -> anyhow::Result<(bool, String)> {
        let out = Program::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(["-c", &format!("user.name={}", self.args.author_name)])
            .args(["-c", &format!("user.email={}", self.args.author_email)])
            .user_git_config()
            .args(git_args)
            .timeout(GIT_TIMEOUT)
            .run()
            .with_context(|| format!("running git {}", git_args.join(" ")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), ferry_source::url::mask_credentials(&text)))
    }

    fn ok(&self, git_args: &[&str]) -> anyhow::Result<String> {
        let (ok, text) = self.run(git_args)?;
        if !ok {
            bail!("git {} failed: {}", git_args.join(" "), text.trim());
        }
        Ok(text)
    }

    /// Checks the branch out (or starts it), writes the files, commits and pushes them.
    /// `None` when the repository already held exactly these files.
    fn commit_and_push(
        &self,
        path: &str,
        files: &[(&str, String)],
    ) -> anyhow::Result<Option<String>> {
        let branch = self.args.branch.as_str();
        self.ok(&["init", "--quiet"])?;
        self.ok(&["remote", "add", "origin", &self.args.repo])?;
        let heads = self.ok(&["ls-remote", "--heads", "origin", branch]).with_context(|| {
            format!(
                "reading {} (is the URL right, and may this machine read it?)",
                self.shown_url()
            )
        })?;
        if heads.trim().is_empty() {
            self.ok(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")])?;
        } else {
            self.ok(&["fetch", "--quiet", "--depth=1", "origin", branch])?;
            self.ok(&["checkout", "--quiet", "-B", branch, "FETCH_HEAD"])?;
        }
        let dir = self.dir.join(path);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {path}"))?;
        for (name, text) in files {
            std::fs::write(dir.join(name), text)
                .with_context(|| format!("writing {path}/{name}"))?;
        }
        self.ok(&["add", "--", path])?;
        let (unchanged, _) = self.run(&["diff", "--cached", "--quiet"])?;
        if unchanged && !heads.trim().is_empty() {
            return Ok(None);
        }
        let message = format!("ferry bootstrap: Ferry {} in {path}", env!("CARGO_PKG_VERSION"));
        self.ok(&["commit", "--quiet", "-m", &message])?;
        let pushed = self.ok(&["push", "--quiet", "origin", &format!("HEAD:refs/heads/{branch}")]);
        pushed.with_context(|| {
            format!("pushing to {} {branch} (may this machine push there?)", self.shown_url())
        })?;
        Ok(Some(self.ok(&["rev-parse", "HEAD"])?.trim().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_outside_the_repository_or_empty_is_refused() {
        for bad in ["", "/", "/abs", "../up", "a/../b", "a//b"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_path("clusters/prod/").expect("ok"), "clusters/prod");
    }
}
