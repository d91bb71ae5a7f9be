//! Any text as an image reference and as an image policy (semver range, tag filter): a value or
//! an error, never a panic; a parsed reference prints back to one that parses the same.
#![no_main]

use ferry_image::ImageRef;
use ferry_image::policy::ImagePolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = ImageRef::parse(&text) {
        let shown = r.to_string();
        let again = ImageRef::parse(&shown).expect("a printed reference parses");
        assert_eq!(again.to_string(), shown);
    }
    if let Ok(policy) = serde_json::from_slice::<ImagePolicy>(data) {
        if let Ok(compiled) = policy.compile() {
            let tags: Vec<String> = ["1.0.0", "v2.1", "latest", "0.0.1-rc.1", "10"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let _ = compiled.candidates(&tags);
        }
    }
});
