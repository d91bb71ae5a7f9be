//! Commit signature verification for a resolved revision.
//!
//! `git verify-commit` is the verifier: it speaks both SSH signatures (`gpg.format=ssh`, checked
//! with `ssh-keygen -Y verify` against an allowed-signers list) and OpenPGP (checked by `gpg`
//! against a dedicated keyring built from the configured public keys only). Nothing from the
//! machine's own keyrings or configuration is consulted.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::cache::{CacheError, RepoCache};
use crate::git::{GitError, GitRun};
use crate::resolve::CommitId;
use crate::url::RepoUrl;

/// Who may sign. At least one of the two must be set for verification to mean anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Content of an SSH allowed-signers file (`principal [namespaces="git"] key-type key`).
    pub ssh_allowed_signers: Option<String>,
    /// ASCII-armored OpenPGP public keys.
    pub gpg_public_keys: Vec<String>,
}

/// A verified signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    Ssh { principal: String, key: String },
    Gpg { fingerprint: String, user_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "signature verification is on but no trusted SSH signers or OpenPGP keys are configured"
    )]
    NoTrust,
    #[error("{url}: commit {commit} is not signed")]
    Unsigned { url: String, commit: CommitId },
    #[error("{url}: commit {commit} is signed by a key that is not trusted: {detail}")]
    UnknownSigner { url: String, commit: CommitId, detail: String },
    #[error("{url}: commit {commit} has an invalid signature: {detail}")]
    BadSignature { url: String, commit: CommitId, detail: String },
    #[error("preparing the verification keyring: {message}")]
    Keyring { message: String },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Git(#[from] GitError),
}

impl RepoCache {
    /// Verifies the signature of a fetched `commit` against `policy`.
    ///
    /// # Guarantees
    /// `Ok` only for a good signature by a configured signer; unsigned commits, unknown signers
    /// and bad signatures are errors.
    pub async fn verify_commit(
        &self,
        url: &RepoUrl,
        commit: &CommitId,
        policy: &TrustPolicy,
    ) -> Result<Signer, VerifyError> {
        if policy.ssh_allowed_signers.is_none() && policy.gpg_public_keys.is_empty() {
            return Err(VerifyError::NoTrust);
        }
        let signature_kind = self.signature_kind(url, commit)?;
        let Some(kind) = signature_kind else {
            return Err(VerifyError::Unsigned { url: url.to_string(), commit: commit.clone() });
        };
        let scratch =
            tempfile::tempdir().map_err(|e| VerifyError::Keyring { message: e.to_string() })?;
        let signers = scratch.path().join("allowed_signers");
        std::fs::write(&signers, policy.ssh_allowed_signers.as_deref().unwrap_or(""))
            .map_err(|e| VerifyError::Keyring { message: e.to_string() })?;
        let gnupg = scratch.path().join("gnupg");
        if kind == SignatureKind::Gpg {
            import_keys(&gnupg, &policy.gpg_public_keys).await?;
        }
        let mut args: Vec<OsString> = vec!["-c".into()];
        args.push(format!("gpg.ssh.allowedSignersFile={}", signers.display()).into());
        args.extend(["verify-commit", "--raw", commit.as_str()].map(OsString::from));
        let dir = self.repo_dir(url);
        let run = GitRun {
            action: "verify-commit",
            url,
            args,
            git_dir: Some(&dir),
            env: vec![("GNUPGHOME".into(), gnupg.clone().into())],
            secrets: vec![],
            timeout: Duration::from_secs(60),
            max_stdout: 1 << 20,
            pack_cap: None,
        };
        let (ok, output) = match run.run().await {
            // verify-commit reports on stderr; success output is captured below via `--raw`.
            Ok(_) => (true, String::new()),
            Err(GitError::Failed { stderr, .. }) => (false, stderr),
            Err(e) => return Err(e.into()),
        };
        if ok {
            // Run again to capture the report (git prints it on stderr even on success).
            return self.signer_on_success(url, commit, kind, &dir, &signers, &gnupg).await;
        }
        let unknown = output.contains("No principal matched")
            || output.contains("NO_PUBKEY")
            || output.contains("ERRSIG")
            || output.contains("Good \"git\" signature with");
        let detail = output.lines().last().unwrap_or_default().to_owned();
        if unknown {
            Err(VerifyError::UnknownSigner { url: url.to_string(), commit: commit.clone(), detail })
        } else {
            Err(VerifyError::BadSignature { url: url.to_string(), commit: commit.clone(), detail })
        }
    }

    fn signature_kind(
        &self,
        url: &RepoUrl,
        commit: &CommitId,
    ) -> Result<Option<SignatureKind>, VerifyError> {
        let repo = self.open(url)?.to_thread_local();
        let id = gix::ObjectId::from_hex(commit.as_str().as_bytes())
            .expect("CommitId holds validated hex");
        let object = repo
            .find_commit(id)
            .map_err(|_| CacheError::NotFetched { url: url.to_string(), commit: commit.clone() })?;
        let data = &object.data;
        let header_end = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
        let header = &data[..header_end];
        let Some(pos) = header.windows(8).position(|w| w == b"\ngpgsig ") else { return Ok(None) };
        let rest = &header[pos..];
        Ok(Some(if rest.windows(9).any(|w| w == b"BEGIN SSH") {
            SignatureKind::Ssh
        } else {
            SignatureKind::Gpg
        }))
    }

    async fn signer_on_success(
        &self,
        url: &RepoUrl,
        commit: &CommitId,
        kind: SignatureKind,
        dir: &Path,
        signers: &Path,
        gnupg: &Path,
    ) -> Result<Signer, VerifyError> {
        // `git log --format` exposes the verified signer without parsing free text.
        let format = "--format=%G?%x00%GS%x00%GK%x00%GF";
        let mut args: Vec<OsString> =
            vec!["-c".into(), format!("gpg.ssh.allowedSignersFile={}", signers.display()).into()];
        args.extend(["log", "-1", "--no-walk", format, commit.as_str()].map(OsString::from));
        let out = GitRun {
            action: "log",
            url,
            args,
            git_dir: Some(dir),
            env: vec![("GNUPGHOME".into(), gnupg.into())],
            secrets: vec![],
            timeout: Duration::from_secs(60),
            max_stdout: 1 << 20,
            pack_cap: None,
        }
        .run()
        .await?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let fields: Vec<&str> = text.split('\0').collect();
        // `U` is a good signature by a key of unknown trust. The keyring holds only the
        // configured keys, so for OpenPGP that is trusted by construction; for SSH, `U` means the
        // key is not in the allowed signers and stays refused.
        let status = fields.first().copied().unwrap_or_default();
        if !(status == "G" || (status == "U" && kind == SignatureKind::Gpg)) {
            return Err(VerifyError::BadSignature {
                url: url.to_string(),
                commit: commit.clone(),
                detail: format!("git reports signature status {:?}", fields.first().unwrap_or(&"")),
            });
        }
        let field = |i: usize| fields.get(i).copied().unwrap_or_default().to_owned();
        Ok(match kind {
            SignatureKind::Ssh => Signer::Ssh { principal: field(1), key: field(2) },
            SignatureKind::Gpg => Signer::Gpg { fingerprint: field(3), user_id: field(1) },
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignatureKind {
    Ssh,
    Gpg,
}

async fn import_keys(gnupg: &Path, keys: &[String]) -> Result<(), VerifyError> {
    use std::os::unix::fs::PermissionsExt;
    let keyring = |e: std::io::Error| VerifyError::Keyring { message: e.to_string() };
    std::fs::create_dir_all(gnupg).map_err(keyring)?;
    std::fs::set_permissions(gnupg, std::fs::Permissions::from_mode(0o700)).map_err(keyring)?;
    for (i, key) in keys.iter().enumerate() {
        let file = gnupg.join(format!("key-{i}.asc"));
        std::fs::write(&file, key).map_err(keyring)?;
        let out = crate::process::Program::new("gpg")
            .args(["--batch", "--quiet", "--no-autostart", "--homedir"])
            .arg(gnupg)
            .arg("--import")
            .arg(&file)
            .timeout(std::time::Duration::from_secs(30))
            .run_async()
            .await
            .map_err(|e| VerifyError::Keyring {
                message: format!("running gpg (install gnupg): {e}"),
            })?;
        if !out.status.success() {
            return Err(VerifyError::Keyring {
                message: format!(
                    "importing OpenPGP key #{i}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
    }
    Ok(())
}
