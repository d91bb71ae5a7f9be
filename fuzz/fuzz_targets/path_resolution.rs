//! Any (directory, reference) pair: a resolved path never leaves the repository.
#![no_main]

use ferry_render::{RepoPath, resolve_in_repo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (dir, reference) = text.split_once('\n').unwrap_or(("", &text));
    let Ok(dir) = RepoPath::new(dir) else { return };
    if let Some(path) = resolve_in_repo(&dir, reference) {
        let s = path.as_str();
        assert!(!s.starts_with('/'), "{s:?} is absolute");
        assert!(s.split('/').all(|c| c != ".." && c != "."), "{s:?} has a relative component");
        assert!(
            s.is_empty() || s.split('/').all(|c| !c.is_empty()),
            "{s:?} has an empty component"
        );
        // Resolving is idempotent: the result is already normal.
        assert_eq!(RepoPath::new(s).expect("a resolved path is valid").as_str(), s);
    }
});
