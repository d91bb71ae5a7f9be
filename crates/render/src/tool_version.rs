//! Tool versions, asked once per executable per process: part of the render cache key, so
//! upgrading kubectl or helm re-renders everything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ferry_source::process::Program;

static VERSIONS: OnceLock<Mutex<HashMap<(PathBuf, &'static str), String>>> = OnceLock::new();

/// `program args…` output, or a marker when the tool cannot be asked (the render itself then
/// reports the missing tool).
pub(crate) fn version(program: &Path, args: &'static [&'static str]) -> String {
    let key = (program.to_path_buf(), args.first().copied().unwrap_or(""));
    let map = VERSIONS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(v) = map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return v.clone();
    }
    let output = Program::new(program).args(args).timeout(Duration::from_secs(30)).run();
    let v = match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => return "unavailable".to_owned(),
    };
    map.lock().unwrap_or_else(|e| e.into_inner()).insert(key, v.clone());
    v
}
