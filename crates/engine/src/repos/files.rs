//! Key material on disk, where `ssh` reads it: SSH private keys (mode 0600, named by a hash of
//! the key so a changed Secret writes a new file) and the known hosts, under one directory.
//! Files no Secret uses any more are removed by [`KeyFiles::sweep`].

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::Digest;

#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} {path}: {source}; check that Ferry's data directory is writable")]
pub struct FileError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// The directory of key files.
#[derive(Clone, Debug)]
pub struct KeyFiles {
    dir: PathBuf,
}

impl KeyFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Writes an SSH private key (once per content) and returns its path.
    pub fn ssh_key(&self, key: &str) -> Result<PathBuf, FileError> {
        let digest = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        self.write(&format!("key-{}", &digest[..24]), key.as_bytes(), "SSH key file")
    }

    /// Writes the known hosts (once per content) and returns its path.
    pub fn known_hosts(&self, text: &str) -> Result<PathBuf, FileError> {
        let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
        self.write(&format!("known_hosts-{}", &digest[..24]), text.as_bytes(), "known hosts file")
    }

    fn write(&self, name: &str, bytes: &[u8], what: &'static str) -> Result<PathBuf, FileError> {
        let path = self.dir.join(name);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            return Ok(path);
        }
        let err = |source| FileError { what, path: path.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        // Created 0600 from the start, then renamed into place: no moment where another user
        // could read it, and no git run ever sees half a key.
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(bytes).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        Ok(path)
    }

    /// Removes the files not in `keep`.
    pub fn sweep(&self, keep: &HashSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if !keep.contains(&path) && !is_temporary(&path) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

fn is_temporary(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_named_by_content_and_swept_when_unused() {
        let tmp = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(tmp.path().join("ssh"));
        let a = files.ssh_key("key a\n").unwrap();
        assert_eq!(files.ssh_key("key a\n").unwrap(), a);
        let b = files.ssh_key("key b\n").unwrap();
        assert_ne!(a, b);
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        files.sweep(&HashSet::from([b.clone()]));
        assert!(!a.exists() && b.exists());
    }
}
