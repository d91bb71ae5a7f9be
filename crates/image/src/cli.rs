//! `ferry image …`: argument definitions and the glue from arguments to the library, so the
//! binary only dispatches. Data goes to `stdout`, notes and hints to `stderr`.

use std::io::Write;
use std::path::PathBuf;

use crate::git::{CommitOptions, GitError, GitOutcome, Push, set_commit_push};
use crate::message::{MessageTemplate, TemplateError};
use crate::set::{SetError, SetReport, set_images};
use crate::update::{UpdateError, parse_updates};

/// Exit code when no reference to any requested image was found.
pub const EXIT_NOTHING_MATCHED: u8 = 2;

#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// Set image references in YAML files in place (containers, kustomization `images:`,
    /// fields marked `# {"$imagepolicy": …}` or `# {"$ferry-image": …}`), changing only
    /// those bytes. Exits 2 when nothing matched.
    Set(SetArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct SetArgs {
    /// File or directory to update.
    pub path: PathBuf,
    /// IMAGE=NEWREF (e.g. `ghcr.io/org/app=ghcr.io/org/app:1.2.0`, `app=:1.2.0`,
    /// `app=@sha256:…`), or just NEWREF to match by its name.
    #[arg(required = true, value_name = "IMAGE=NEWREF")]
    pub images: Vec<String>,
    /// Commit the changed files (one commit).
    #[arg(long)]
    pub commit: bool,
    /// Commit message template: {images}, {changes} and {count} are replaced; {{ and }} are
    /// literal braces.
    #[arg(long, value_name = "TEMPLATE")]
    pub message: Option<String>,
    /// Push the commit (implies --commit), retrying when the remote moved on.
    #[arg(long)]
    pub push: bool,
    /// Push to this branch (e.g. for a pull request) instead of the current branch.
    #[arg(long, requires = "push")]
    pub branch: Option<String>,
    /// Remote to push to.
    #[arg(long, default_value = "origin")]
    pub remote: String,
    /// The git repository (default: the one containing PATH).
    #[arg(long)]
    pub repo_dir: Option<PathBuf>,
    /// Commit author and committer name (default: git configuration).
    #[arg(long, env = "FERRY_GIT_AUTHOR_NAME", requires = "author_email")]
    pub author_name: Option<String>,
    /// Commit author and committer email.
    #[arg(long, env = "FERRY_GIT_AUTHOR_EMAIL", requires = "author_name")]
    pub author_email: Option<String>,
    /// Print the report as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Errors of the command. Each variant shows its whole cause in its message and deliberately
/// reports no `source()`: the binary prints error chains, and the inner errors already include
/// their causes, so a chain would repeat them.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Update(UpdateError),
    #[error("{0}")]
    Template(TemplateError),
    #[error("{0}")]
    Set(SetError),
    #[error("{0}")]
    Git(GitError),
    #[error("writing the output: {0}")]
    Output(std::io::Error),
    #[error("encoding the report: {0}")]
    Json(serde_json::Error),
}

macro_rules! run_error_from {
    ($($variant:ident($error:ty)),*) => {
        $(impl From<$error> for RunError {
            fn from(error: $error) -> RunError {
                RunError::$variant(error)
            }
        })*
    };
}
run_error_from!(Update(UpdateError), Template(TemplateError), Set(SetError), Git(GitError));

/// Runs a command; returns the process exit code.
pub fn run(
    command: &ImageCommand,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<u8, RunError> {
    match command {
        ImageCommand::Set(args) => run_set(args, stdout, stderr),
    }
}

pub fn run_set(
    args: &SetArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<u8, RunError> {
    let updates = parse_updates(&args.images)?;
    let message = match &args.message {
        Some(template) => MessageTemplate::parse(template)?,
        None => MessageTemplate::default(),
    };
    let (report, outcome) = if args.commit || args.push {
        let options = CommitOptions {
            repo_dir: args.repo_dir.clone(),
            message,
            author_name: args.author_name.clone(),
            author_email: args.author_email.clone(),
            push: args.push.then(|| Push {
                remote: args.remote.clone(),
                branch: args.branch.clone(),
                ..Push::default()
            }),
            // `ferry image set` commits as the user, in the user's repository.
            user_git_config: true,
        };
        let (report, outcome) = set_commit_push(&args.path, &updates, &options)?;
        (report, Some(outcome))
    } else {
        (set_images(&args.path, &updates)?, None)
    };
    print_report(args, &report, outcome.as_ref(), stdout, stderr)?;
    Ok(if report.matched == 0 { EXIT_NOTHING_MATCHED } else { 0 })
}

fn print_report(
    args: &SetArgs,
    report: &SetReport,
    outcome: Option<&GitOutcome>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), RunError> {
    if args.json {
        let json = serde_json::json!({ "report": report, "git": outcome });
        let text = serde_json::to_string_pretty(&json).map_err(RunError::Json)?;
        writeln!(stdout, "{text}").map_err(RunError::Output)?;
    } else {
        for change in &report.changes {
            writeln!(stdout, "{change}").map_err(RunError::Output)?;
        }
    }
    for note in &report.notes {
        writeln!(stderr, "note: {}:{}: {}", note.file.display(), note.line, note.message)
            .map_err(RunError::Output)?;
    }
    let summary = match (report.matched, report.changes.is_empty()) {
        (0, _) => format!(
            "no reference to {} found under {}",
            args.images.join(", "),
            args.path.display()
        ),
        (1, true) => "1 reference found, already up to date".to_string(),
        (matched, true) => format!("{matched} references found, all already up to date"),
        (_, false) if report.changes.len() == 1 => "changed 1 reference".to_string(),
        (_, false) => format!("changed {} references", report.changes.len()),
    };
    writeln!(stderr, "{summary}").map_err(RunError::Output)?;
    if let Some(outcome) = outcome {
        if let Some(commit) = &outcome.commit {
            writeln!(stderr, "committed {commit}").map_err(RunError::Output)?;
        }
        if let Some(target) = &outcome.pushed_to {
            writeln!(stderr, "pushed to {target} after {} attempt(s)", outcome.push_attempts)
                .map_err(RunError::Output)?;
        }
        if outcome.already_on_remote {
            writeln!(stderr, "the remote already had these images; nothing pushed")
                .map_err(RunError::Output)?;
        }
    } else if report.matched == 0 {
        writeln!(
            stderr,
            "hint: IMAGE is compared by name without tag (nginx matches docker.io/library/nginx)"
        )
        .map_err(RunError::Output)?;
    }
    Ok(())
}
