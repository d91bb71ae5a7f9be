//! `image set` on a directory tree: read every candidate file, plan all edits in memory, and
//! write only when every file planned cleanly (a malformed file changes nothing anywhere).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::plan::{self, PlanError};
use crate::update::ImageUpdate;

/// Largest YAML file read; bigger ones are refused, not skipped.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Most files looked at under one path.
pub const MAX_FILES: usize = 20_000;

/// One changed reference: `file:line old → new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub file: PathBuf,
    pub line: usize,
    pub old: String,
    pub new: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {} → {}", self.file.display(), self.line, self.old, self.new)
    }
}

/// Something seen but left alone, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// The outcome of `image set`, as data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SetReport {
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
    /// References to a requested image found, including those already up to date.
    pub matched: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is {size} bytes, more than the {MAX_FILE_BYTES} allowed", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("more than {MAX_FILES} files under {}", path.display())]
    TooManyFiles { path: PathBuf },
    #[error("{}: {source}; nothing was changed", file.display())]
    Plan {
        file: PathBuf,
        #[source]
        source: PlanError,
    },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Planned edits, not yet written.
#[derive(Debug)]
pub struct PlannedSet {
    report: SetReport,
    /// (path, original text, new text) of files that change.
    files: Vec<(PathBuf, String, String)>,
}

impl PlannedSet {
    pub fn report(&self) -> &SetReport {
        &self.report
    }

    /// Files that change.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(path, _, _)| path.as_path())
    }

    /// Writes every changed file (each through a temporary file and a rename). If one write
    /// fails, the files already written are restored to their original text.
    pub fn write(self) -> Result<SetReport, SetError> {
        let mut written: Vec<(&Path, &str)> = Vec::new();
        for (path, original, new) in &self.files {
            if let Err(source) = write_atomically(path, new) {
                for (done, text) in written {
                    // Best effort: the error below is what the caller must see.
                    let _ = write_atomically(done, text);
                }
                return Err(SetError::Write { path: path.clone(), source });
            }
            written.push((path, original));
        }
        Ok(self.report)
    }
}

/// Reads and plans every YAML file under `root` (a file or a directory).
///
/// # Guarantees
/// Nothing is written. Any malformed candidate file fails the whole plan, naming the file and
/// line. Files that cannot mention a requested image (by its last path component) or a setter
/// marker are not parsed at all, so an unrelated broken file does not block a release.
///
/// # Caveats
/// Symbolic links are not followed; hidden directories (`.git`) and Helm chart `templates/`
/// (Go templates, not YAML) are skipped.
pub fn plan_set(root: &Path, updates: &[ImageUpdate]) -> Result<PlannedSet, SetError> {
    let metadata = fs::symlink_metadata(root).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SetError::NotFound { path: root.to_path_buf() },
        _ => SetError::Read { path: root.to_path_buf(), source },
    })?;
    let mut candidates = Vec::new();
    if metadata.is_dir() {
        walk(root, root, &mut candidates)?;
    } else {
        candidates.push(root.to_path_buf());
    }
    candidates.sort();
    let needles: Vec<String> = updates
        .iter()
        .map(|update| {
            let last = update.image.rsplit('/').next().unwrap_or(&update.image);
            last.to_string()
        })
        .chain(["$imagepolicy".to_string(), "$ferry-image".to_string()])
        .collect();

    let mut report = SetReport::default();
    let mut files = Vec::new();
    for path in candidates {
        let text = read_capped(&path)?;
        if !needles.iter().any(|needle| text.contains(needle.as_str())) {
            continue;
        }
        let file_name =
            path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let planned = plan::plan_file(&text, &file_name, updates)
            .map_err(|source| SetError::Plan { file: path.clone(), source })?;
        report.matched += planned.matched;
        report.notes.extend(planned.notes.into_iter().map(|(line, message)| Note {
            file: path.clone(),
            line,
            message,
        }));
        report.changes.extend(planned.changes.into_iter().map(|change| Change {
            file: path.clone(),
            line: change.line,
            old: change.old,
            new: change.new,
        }));
        if planned.new_text != text {
            files.push((path, text, planned.new_text));
        }
    }
    Ok(PlannedSet { report, files })
}

/// Plans and writes: see [`plan_set`] and [`PlannedSet::write`].
pub fn set_images(root: &Path, updates: &[ImageUpdate]) -> Result<SetReport, SetError> {
    plan_set(root, updates)?.write()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SetError> {
    let read_error = |source| SetError::Read { path: dir.to_path_buf(), source };
    let is_chart_templates = dir.file_name().is_some_and(|name| name == "templates")
        && dir.parent().is_some_and(|parent| parent.join("Chart.yaml").is_file());
    if is_chart_templates {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(read_error)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if file_type.is_dir() {
            if !name.starts_with('.') {
                walk(root, &path, out)?;
            }
        } else if file_type.is_file()
            && (name.ends_with(".yaml") || name.ends_with(".yml") || name == "Kustomization")
        {
            if out.len() >= MAX_FILES {
                return Err(SetError::TooManyFiles { path: root.to_path_buf() });
            }
            out.push(path);
        }
    }
    Ok(())
}

fn read_capped(path: &Path) -> Result<String, SetError> {
    let read_error = |source| SetError::Read { path: path.to_path_buf(), source };
    let size = fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(SetError::TooLarge { path: path.to_path_buf(), size });
    }
    fs::read_to_string(path).map_err(read_error)
}

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let permissions = fs::metadata(path)?.permissions();
    let file_name =
        path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.ferry-tmp"));
    fs::write(&temporary, text)?;
    fs::set_permissions(&temporary, permissions)?;
    fs::rename(&temporary, path).inspect_err(|_| {
        let _ = fs::remove_file(&temporary);
    })
}
