//! Commit signature verification with real `ssh-keygen` and `gpg` signatures.
#![allow(clippy::unwrap_used)] // tests may unwrap: a failure is the test failing

mod common;

use std::path::Path;
use std::process::Command;

use common::{GitDaemon, Sandbox};
use ferry_source::{Credentials, Limits, RepoCache, RepoUrl, Signer, TrustPolicy, VerifyError};

fn ssh_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen must be available (apt install openssh-client)");
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    let mut parts = public.split_whitespace();
    (path, format!("{} {}", parts.next().unwrap(), parts.next().unwrap()))
}

fn gpg(sandbox: &Sandbox, args: &[&str]) -> String {
    let home = sandbox.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new("gpg")
        .args(["--batch", "--homedir"])
        .arg(&home)
        .args(args)
        .output()
        .expect("gpg must be available (apt install gnupg)");
    assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Signed {
    sandbox: Sandbox,
    _daemon: GitDaemon,
    url: RepoUrl,
    cache: RepoCache,
    ssh_allowed: String,
    gpg_public: String,
}

/// A repository whose branches hold an SSH-signed, a GPG-signed, an unsigned and a commit signed
/// by an unknown SSH key.
async fn signed_repo() -> Signed {
    let sandbox = Sandbox::new();
    let work = sandbox.work_repo("signed", "argocd-example-apps/guestbook");
    let keys = sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (ssh_private, ssh_public) = ssh_key(&keys, "trusted");
    let (stranger_private, _) = ssh_key(&keys, "stranger");

    let commit_signed = |branch: &str, extra: &[&str]| {
        sandbox.git(&work, &["checkout", "-q", "-b", branch, "main"]);
        std::fs::write(work.join(format!("{branch}.txt")), branch).unwrap();
        sandbox.git(&work, &["add", "-A"]);
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["commit", "-q", "-m", branch]);
        sandbox.git(&work, &args);
    };
    let ssh_key_cfg = format!("user.signingkey={}", ssh_private.display());
    commit_signed(
        "ssh-signed",
        &["-c", "gpg.format=ssh", "-c", &ssh_key_cfg, "-c", "commit.gpgsign=true"],
    );
    let stranger_cfg = format!("user.signingkey={}", stranger_private.display());
    commit_signed(
        "stranger-signed",
        &["-c", "gpg.format=ssh", "-c", &stranger_cfg, "-c", "commit.gpgsign=true"],
    );
    commit_signed("unsigned", &[]);

    gpg(
        &sandbox,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            "Ferry Signer <signer@ferry.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let gpg_public = gpg(&sandbox, &["--armor", "--export", "signer@ferry.invalid"]);
    commit_signed(
        "gpg-signed",
        &["-c", "user.signingkey=signer@ferry.invalid", "-c", "commit.gpgsign=true"],
    );

    sandbox.publish(&work, "signed");
    let daemon = common::daemon(&sandbox);
    let url = RepoUrl::parse(&daemon.url("signed.git")).unwrap();
    let cache = RepoCache::new(sandbox.path().join("cache"), Limits::default()).unwrap();
    Signed {
        ssh_allowed: format!("trusted@ferry.invalid namespaces=\"git\" {ssh_public}\n"),
        gpg_public,
        sandbox,
        _daemon: daemon,
        url,
        cache,
    }
}

async fn verify(s: &Signed, branch: &str, policy: &TrustPolicy) -> Result<Signer, VerifyError> {
    let outcome = s.cache.fetch(&s.url, &Credentials::None, branch).await.unwrap();
    s.cache.verify_commit(&s.url, &outcome.commit, policy).await
}

#[tokio::test]
async fn ssh_and_gpg_signatures_by_trusted_keys_verify_and_everything_else_is_refused() {
    let s = signed_repo().await;
    let policy = TrustPolicy {
        ssh_allowed_signers: Some(s.ssh_allowed.clone()),
        gpg_public_keys: vec![s.gpg_public.clone()],
    };

    let signer = verify(&s, "ssh-signed", &policy).await.unwrap();
    assert!(
        matches!(&signer, Signer::Ssh { principal, .. } if principal == "trusted@ferry.invalid"),
        "{signer:?}"
    );

    let signer = verify(&s, "gpg-signed", &policy).await.unwrap();
    assert!(
        matches!(&signer, Signer::Gpg { user_id, .. } if user_id.contains("signer@ferry.invalid")),
        "{signer:?}"
    );

    let err = verify(&s, "unsigned", &policy).await.unwrap_err();
    assert!(matches!(err, VerifyError::Unsigned { .. }), "{err}");

    let err = verify(&s, "stranger-signed", &policy).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownSigner { .. }), "{err}");

    // A GPG signature when only SSH signers are trusted: unknown signer.
    let ssh_only =
        TrustPolicy { ssh_allowed_signers: Some(s.ssh_allowed.clone()), gpg_public_keys: vec![] };
    let err = verify(&s, "gpg-signed", &ssh_only).await.unwrap_err();
    assert!(matches!(err, VerifyError::UnknownSigner { .. }), "{err}");

    let err = verify(&s, "ssh-signed", &TrustPolicy::default()).await.unwrap_err();
    assert!(matches!(err, VerifyError::NoTrust), "{err}");
    drop(s.sandbox);
}
