//! Ferry's test kit: the real servers and repositories every crate's tests use, in one
//! well-behaved version each (a port chosen at runtime on 127.0.0.1, a readiness wait, `stop()`
//! and `Drop` killing the whole process group, git under an isolated configuration).
//!
//! - [`git`]: [`Repo`], a repository built with the git CLI (write, edit, commit, push).
//! - [`daemon`]: [`GitDaemon`], a real `git daemon` (fetch and push).
//! - [`server`]: [`Server`], a long-running child process in its own group, and [`free_port`].
//! - `http_git` (feature `http-git`): `HttpGit`, smart HTTP through `git http-backend`.
//! - [`sshd`]: [`Sshd`], a private OpenSSH server accepting one client key.
//! - `registry` (feature `registry`): Debian's `docker-registry`, image pushes, a token server.
//! - `world` (feature `world`): `World`, the embedded cluster, a served repository and an engine.
//! - [`helm`]: the `helm` wrapper over Helm's Go SDK; [`corpus`]: the shared manifests.
//!
//! `git`, `daemon` and `server` return errors, because `ferry bench` ships them; the other
//! fixtures exist only for tests and panic with a message naming what to install, so that a
//! fixture that cannot start fails the test that needs it.
//!
//! Only integration tests, examples and `ferry-bench` depend on this crate: a crate's unit
//! tests must not (they would see a second copy of the crate's own types).

pub mod daemon;
pub mod git;
#[cfg(feature = "http-git")]
pub mod http_git;
pub mod proxy;
#[cfg(feature = "recorder")]
pub mod recorder;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "world")]
pub mod remote;
pub mod server;
pub mod sshd;
#[cfg(feature = "world")]
pub mod world;

use std::path::{Path, PathBuf};

pub use daemon::GitDaemon;
pub use git::{GitError, Repo};
pub use proxy::{FaultProxy, WireFault};
pub use server::{Server, ServerError, free_port};
pub use sshd::Sshd;

/// The shared corpus of real-world manifests (`../shared/corpus` next to the workspace).
pub fn corpus_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    root.canonicalize().unwrap_or(root)
}

/// `rel` inside the shared corpus.
pub fn corpus(rel: &str) -> PathBuf {
    corpus_root().join(rel)
}

/// Copies a directory tree (regular files, made writable: the corpus may be read-only).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
            let mut perms = std::fs::metadata(&target)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms)?;
        }
    }
    Ok(())
}

/// The `helm` the tests use: real Helm (Helm's Go SDK through the PyPI package
/// `helm-python-sdk`) behind a `helm template`-compatible wrapper. Only the path: see
/// [`helm_checked`] to fail early, saying what to install, when the SDK is missing.
pub fn helm() -> PathBuf {
    // The shim Ferry ships (`ferry helm-shim install`) is the one the tests run: one copy.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../render/helm-shim/helm")
}

/// [`helm`], after checking that the wrapper runs; panics saying what to install otherwise.
pub fn helm_checked() -> PathBuf {
    let path = helm();
    let out = std::process::Command::new(&path).arg("version").output();
    match out {
        Ok(out) if out.status.success() => path,
        Ok(out) => panic!(
            "the helm test wrapper needs python3 and `pip install helm-python-sdk`: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => {
            panic!("the helm test wrapper needs python3 (apt-get install python3): {error}")
        }
    }
}
