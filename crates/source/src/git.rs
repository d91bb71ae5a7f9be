//! Running the `git` CLI for the verbs that need a transport (ls-remote, fetch) or that gix does
//! not offer (verify-commit). Every run is isolated from the machine's git configuration, has a
//! timeout and an output cap (all through [`crate::process`]), receives credentials only through
//! its environment, and has its error output masked before it reaches an error value.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::credentials::{Access, Credentials};
use crate::process::{ProcessError, Program};
use crate::url::RepoUrl;

/// Why a git command failed, coarse enough to decide whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Wrong or missing credentials: retrying will not help.
    Auth,
    /// The SSH host key is unknown or changed: retrying will not help.
    HostKey,
    /// The repository or revision does not exist.
    NotFound,
    /// The server could not be reached or the connection broke.
    Network,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("could not run `git` (install the git package): {source}")]
    Spawn {
        #[source]
        source: std::io::Error,
    },
    #[error("git {action} of {url} timed out after {after:?}")]
    TimedOut { action: &'static str, url: String, after: Duration },
    #[error("git {action} of {url} transferred more than {limit} bytes, the configured cap")]
    TooLarge { action: &'static str, url: String, limit: u64 },
    #[error("git {action} of {url} failed ({kind:?}): {stderr}")]
    Failed { action: &'static str, url: String, kind: FailureKind, stderr: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{url}: ssh URLs need an SSH private key and a known_hosts file (host keys are never trusted on first use)"
    )]
    SshNeedsKey { url: String },
    #[error("{url}: an SSH key was given for a non-ssh URL")]
    KeyForNonSsh { url: String },
}

impl GitError {
    /// Whether the same call may succeed later (network trouble, timeouts) as opposed to a
    /// configuration problem that needs a human.
    pub fn is_retryable(&self) -> bool {
        match self {
            GitError::TimedOut { .. } => true,
            GitError::Failed { kind, .. } => {
                matches!(kind, FailureKind::Network | FailureKind::Other)
            }
            _ => false,
        }
    }

    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            GitError::Failed { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

fn classify(stderr: &str) -> FailureKind {
    let s = stderr.to_ascii_lowercase();
    if s.contains("host key verification failed")
        || s.contains("remote host identification has changed")
        || s.contains("host key for") && s.contains("has changed")
    {
        FailureKind::HostKey
    } else if s.contains("authentication failed")
        || s.contains("could not read username")
        || s.contains("could not read password")
        || s.contains("permission denied")
        || s.contains("401")
        || s.contains("403")
    {
        FailureKind::Auth
    } else if s.contains("not found")
        || s.contains("does not appear to be a git repository")
        || s.contains("couldn't find remote ref")
        || s.contains("no such remote ref")
        || s.contains("not our ref")
        || s.contains("no such file or directory")
    {
        FailureKind::NotFound
    } else if s.contains("could not resolve host")
        || s.contains("connection refused")
        || s.contains("unable to connect")
        || s.contains("connection timed out")
        || s.contains("connection reset")
        || s.contains("early eof")
        || s.contains("the remote end hung up")
    {
        FailureKind::Network
    } else {
        FailureKind::Other
    }
}

/// Environment that hands credentials to `git` without putting them on a command line.
pub(crate) struct TransportEnv {
    pub vars: Vec<(String, OsString)>,
    pub secrets: Vec<String>,
}

/// The askpass helper: git calls it with a prompt; it answers from the environment.
const ASKPASS: &str = "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s\\n' \"$FERRY_GIT_USERNAME\" ;;\n  *) printf '%s\\n' \"$FERRY_GIT_PASSWORD\" ;;\nesac\n";

/// Writes the askpass helper into `dir` (once) and returns its path.
pub(crate) fn ensure_askpass(dir: &Path) -> Result<PathBuf, GitError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("ferry-askpass.sh");
    if std::fs::read_to_string(&path).is_ok_and(|s| s == ASKPASS) {
        return Ok(path);
    }
    let io = |source| GitError::Io { what: "writing askpass helper", path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Write then rename so a concurrent git never runs a half-written script.
    let tmp = dir.join(format!(".ferry-askpass.{}.tmp", std::process::id()));
    std::fs::write(&tmp, ASKPASS).map_err(io)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

pub(crate) fn transport_env(
    url: &RepoUrl,
    access: &Access,
    askpass: &Path,
    connect_timeout: Duration,
) -> Result<TransportEnv, GitError> {
    let creds = &access.credentials;
    let mut vars: Vec<(String, OsString)> = vec![("GIT_ASKPASS".into(), askpass.into())];
    let mut secrets = Vec::new();
    let (user, password) = match creds {
        Credentials::Basic { username, password } => {
            (Some(username.clone()), Some(password.clone()))
        }
        Credentials::Token(token) => {
            (Some(url.user().unwrap_or("x-access-token").to_owned()), Some(token.clone()))
        }
        Credentials::None => (url.user().map(str::to_owned), url.embedded_password().cloned()),
        Credentials::SshKey { .. } => (None, None),
    };
    if let Some(user) = user {
        vars.push(("FERRY_GIT_USERNAME".into(), user.into()));
    }
    if let Some(password) = password {
        secrets.push(password.expose().to_owned());
        vars.push(("FERRY_GIT_PASSWORD".into(), password.expose().into()));
    }
    let ssh_base = format!(
        "ssh -F /dev/null -o BatchMode=yes -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout={}",
        connect_timeout.as_secs().max(1)
    );
    match (url.is_ssh(), creds) {
        (true, Credentials::SshKey { private_key_path, known_hosts_path }) => {
            // Argo CD's `insecure` is the one way to skip the host key check.
            let host_keys = if access.insecure {
                "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null".to_owned()
            } else {
                format!(
                    "-o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                    shell_quote(known_hosts_path)
                )
            };
            let command = format!(
                "{ssh_base} {host_keys} -o IdentitiesOnly=yes -o IdentityAgent=none -i {}",
                shell_quote(private_key_path)
            );
            vars.push(("GIT_SSH_COMMAND".into(), command.into()));
            vars.push(("GIT_SSH_VARIANT".into(), "ssh".into()));
        }
        (true, _) => return Err(GitError::SshNeedsKey { url: url.to_string() }),
        (false, Credentials::SshKey { .. }) => {
            return Err(GitError::KeyForNonSsh { url: url.to_string() });
        }
        (false, _) => {}
    }
    // Configuration through the environment (git >= 2.31), never argv, where every local user
    // could read a proxy's password.
    let mut config: Vec<(&str, String)> = Vec::new();
    if access.insecure && !url.is_ssh() {
        config.push(("http.sslVerify", "false".into()));
    }
    if let Some(proxy) = &access.proxy {
        secrets.push(proxy.expose().to_owned());
        config.push(("http.proxy", proxy.expose().to_owned()));
    }
    if !config.is_empty() {
        vars.push(("GIT_CONFIG_COUNT".into(), config.len().to_string().into()));
        for (i, (key, value)) in config.into_iter().enumerate() {
            vars.push((format!("GIT_CONFIG_KEY_{i}"), key.into()));
            vars.push((format!("GIT_CONFIG_VALUE_{i}"), value.into()));
        }
    }
    Ok(TransportEnv { vars, secrets })
}

/// One git invocation.
pub(crate) struct GitRun<'a> {
    pub action: &'static str,
    pub url: &'a RepoUrl,
    pub args: Vec<OsString>,
    pub git_dir: Option<&'a Path>,
    pub env: Vec<(String, OsString)>,
    pub secrets: Vec<String>,
    pub timeout: Duration,
    pub max_stdout: u64,
    /// Kill the command when the pack being received in this directory grows over the cap.
    pub pack_cap: Option<(PathBuf, u64)>,
}

/// Options every run gets: no system or global config, no prompts, no helpers, no `ext::`.
fn base_args() -> Vec<OsString> {
    [
        "-c",
        "credential.helper=",
        "-c",
        "protocol.version=2",
        "-c",
        "protocol.ext.allow=never",
        // `file://` and local paths are documented repository forms; GIT_PROTOCOL_FROM_USER=0
        // below would otherwise refuse them.
        "-c",
        "protocol.file.allow=always",
        "-c",
        "core.askPass=",
        "-c",
        "gc.auto=0",
        "-c",
        "fetch.unpackLimit=1",
        "-c",
        "http.lowSpeedLimit=1000",
        "-c",
        "http.lowSpeedTime=30",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

pub(crate) struct Output {
    pub stdout: Vec<u8>,
}

/// stderr kept for classifying a failure; more is a failure of its own.
const MAX_STDERR: u64 = 1 << 20;

impl GitRun<'_> {
    pub async fn run(self) -> Result<Output, GitError> {
        let mut program = Program::new("git")
            .env("GIT_PROTOCOL_FROM_USER", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(base_args())
            .args(&self.args)
            .timeout(self.timeout)
            .max_stdout(self.max_stdout)
            .max_stderr(MAX_STDERR);
        if let Some(dir) = self.git_dir {
            program = program.env("GIT_DIR", dir);
        }
        for secret in &self.secrets {
            program = program.secret(secret.clone());
        }
        if let Some((dir, cap)) = self.pack_cap.clone() {
            // Checked while git runs, so an oversized pack is stopped before it is complete.
            program = program.stop_when(Duration::from_millis(10), move || {
                (incoming_pack_bytes(&dir) > cap).then(|| PACK_CAP_REASON.to_owned())
            });
        }
        // Masking needs the program's secrets after the run has consumed it.
        let masker = Program::new("git").secrets(&self.secrets);
        let (action, url) = (self.action, self.url.to_string());
        let out = program.run_async().await.map_err(|error| match error {
            ProcessError::Spawn { source, .. } | ProcessError::Wait { source, .. } => {
                GitError::Spawn { source }
            }
            ProcessError::TimedOut { .. } => {
                GitError::TimedOut { action, url: url.clone(), after: self.timeout }
            }
            ProcessError::TooMuchOutput { stream: "stdout", limit, .. } => {
                GitError::TooLarge { action, url: url.clone(), limit }
            }
            ProcessError::Stopped { reason, .. } if reason == PACK_CAP_REASON => {
                let limit = self.pack_cap.as_ref().map(|(_, cap)| *cap).unwrap_or_default();
                GitError::TooLarge { action, url: url.clone(), limit }
            }
            other => GitError::Failed {
                action,
                url: url.clone(),
                kind: FailureKind::Other,
                stderr: masker.mask(&other.to_string()),
            },
        })?;
        if !out.status.success() {
            let text = masker.mask(String::from_utf8_lossy(&out.stderr).trim());
            let kind = classify(&text);
            return Err(GitError::Failed { action, url, kind, stderr: summarize(&text, kind) });
        }
        Ok(Output { stdout: out.stdout })
    }
}

/// How the pack-size check names its stop, to tell it from other stops.
const PACK_CAP_REASON: &str = "the incoming pack grew over the cap";

/// Removes lock files a killed git left in `git_dir`. Only call while holding the repository's
/// lock, when no other git process can be working in it.
pub(crate) fn remove_stale_locks(git_dir: &Path) {
    fn walk(dir: &Path, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && depth < 8 {
                walk(&path, depth + 1);
            } else if path.extension().is_some_and(|e| e == "lock") {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    for name in ["shallow.lock", "packed-refs.lock", "HEAD.lock", "config.lock"] {
        let _ = std::fs::remove_file(git_dir.join(name));
    }
    walk(&git_dir.join("refs"), 0);
}

/// Size of packs being received (`tmp_pack_*`) and loose incoming objects under `objects/`.
fn incoming_pack_bytes(git_dir: &Path) -> u64 {
    let pack_dir = git_dir.join("objects/pack");
    let Ok(entries) = std::fs::read_dir(pack_dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("tmp_pack_"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// The lines of git's (and ssh's) error output that say what went wrong, with a hint for the
/// failures users hit most; ssh's banner of `@` lines and advice is dropped.
fn summarize(stderr: &str, kind: FailureKind) -> String {
    let useful: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            lower.starts_with("fatal:")
                || lower.starts_with("error:")
                || lower.starts_with("remote:")
                || lower.contains("host key")
                || lower.contains("permission denied")
        })
        .collect();
    let mut text = if useful.is_empty() {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join("; ")
    } else {
        useful.join("; ")
    };
    let hint = match kind {
        FailureKind::HostKey => {
            "hint: the server's SSH host key is not in the configured known_hosts file or has changed; connection refused"
        }
        FailureKind::Auth => "hint: check the credentials configured for this repository",
        _ => "",
    };
    if !hint.is_empty() {
        text = format!("{text} ({hint})");
    }
    text
}

/// Total size of pack files in `git_dir`, used to report bytes received by a fetch.
pub(crate) fn pack_bytes(git_dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(git_dir.join("objects/pack")) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env_of(url: &str, access: &Access) -> Vec<(String, String)> {
        let url = RepoUrl::parse(url).unwrap();
        let env = transport_env(&url, access, Path::new("/a"), Duration::from_secs(5)).unwrap();
        env.vars.into_iter().map(|(k, v)| (k, v.to_string_lossy().into_owned())).collect()
    }

    #[test]
    fn insecure_and_proxy_reach_git_through_its_environment_only() {
        let proxy = Access {
            insecure: true,
            proxy: Some(crate::Secret::new("http://u:p@proxy:3128")),
            ..Access::default()
        };
        let env = env_of("https://h/r.git", &proxy);
        let has = |k: &str, v: &str| env.iter().any(|(a, b)| a == k && b == v);
        assert!(has("GIT_CONFIG_COUNT", "2"), "{env:?}");
        assert!(has("GIT_CONFIG_KEY_0", "http.sslVerify") && has("GIT_CONFIG_VALUE_0", "false"));
        assert!(has("GIT_CONFIG_KEY_1", "http.proxy"));
        let secure = env_of("https://h/r.git", &Access::default());
        assert!(!secure.iter().any(|(k, _)| k.starts_with("GIT_CONFIG")), "{secure:?}");
    }

    #[test]
    fn only_insecure_skips_the_ssh_host_key_check() {
        let key = |insecure| Access {
            credentials: Credentials::SshKey {
                private_key_path: "/k".into(),
                known_hosts_path: "/known".into(),
            },
            insecure,
            proxy: None,
        };
        let command = |insecure| {
            let env = env_of("ssh://git@h/r.git", &key(insecure));
            env.into_iter().find(|(k, _)| k == "GIT_SSH_COMMAND").unwrap().1
        };
        assert!(
            command(false).contains("StrictHostKeyChecking=yes -o UserKnownHostsFile='/known'")
        );
        assert!(command(true).contains("StrictHostKeyChecking=no"));
    }

    #[test]
    fn failures_are_classified_by_what_git_printed() {
        assert_eq!(classify("fatal: Authentication failed for 'http://x/'"), FailureKind::Auth);
        assert_eq!(
            classify("Host key verification failed.\nfatal: Could not read"),
            FailureKind::HostKey
        );
        assert_eq!(
            classify("fatal: couldn't find remote ref refs/heads/nope"),
            FailureKind::NotFound
        );
        assert_eq!(classify("fatal: unable to connect to 127.0.0.1"), FailureKind::Network);
    }
}
