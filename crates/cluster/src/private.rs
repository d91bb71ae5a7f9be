//! The data directory holds secrets: the CA and admin keys, the token, the kubeconfig and the
//! stored objects (with every Secret's data). Whatever the umask, they are created readable by
//! their owner only — files 0600 in directories 0700 — and files left by an earlier version with
//! wider modes are narrowed when they are opened again.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its missing parents) as 0700; narrows it to 0700 if it exists.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    narrow(dir, DIR_MODE)
}

/// Writes `bytes` to `path` as a 0600 file (replacing what was there).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut file = open(path, OpenOptions::new().write(true).create(true).truncate(true))?;
    file.write_all(bytes.as_ref())
}

/// Opens `path` with `options`, creating it 0600 and narrowing an existing file to 0600.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options.mode(FILE_MODE).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Narrows `path` to `mode` when it allows more (it never widens).
pub fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

/// Narrows an existing file to 0600 (a file an earlier version wrote 0644).
pub fn narrow_file(path: &Path) -> io::Result<()> {
    narrow(path, FILE_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_private_whatever_the_umask() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a/b");
        create_dir(&dir).expect("dir");
        write(&dir.join("key"), "secret").expect("write");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("key")), 0o600);
    }

    #[test]
    fn a_file_left_world_readable_is_narrowed_when_written_or_opened_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("objects.log");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        open(&path, OpenOptions::new().append(true)).expect("open");
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(tmp.path(), Permissions::from_mode(0o755)).expect("chmod");
        create_dir(tmp.path()).expect("dir");
        assert_eq!(mode(tmp.path()), 0o700);
    }
}
