//! Any bytes through the YAML/JSON loader: an error or documents, never a panic, a hang or
//! unbounded memory (small limits make the caps bite).
#![no_main]

use ferry_render::{Limits, RepoPath, canonical_json, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_file_bytes: 64 * 1024,
        max_alias_events: 10_000,
        max_depth: 64,
        ..Limits::default()
    };
    for name in ["f.yaml", "f.json"] {
        let file = RepoPath::new(name).expect("valid name");
        if let Ok(docs) = yaml::load_documents(&file, data, &limits) {
            for doc in docs {
                // Whatever loads must hash and serialise.
                let _ = canonical_json(&doc.value);
            }
        }
    }
});
