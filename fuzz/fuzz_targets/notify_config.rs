//! Any text as a notifications ConfigMap value (a template, a trigger, a service) and any
//! template rendered against an app: an error naming the key or a config that works, never a
//! panic; a rendered template is never over its cap.
#![no_main]

use std::collections::BTreeMap;

use ferry_notify::gotmpl::{MAX_OUTPUT, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let app = serde_json::json!({"app": {"metadata": {"name": "web", "labels": {"a": "b"}},
        "status": {"sync": {"status": "Synced"}, "history": [{"revision": "r1"}, {"revision": "r2"}]}},
        "context": {"argocdUrl": "https://cd"}});
    if let Ok(template) = Template::parse(&text) {
        if let Ok(out) = template.render(&app) {
            assert!(out.len() <= MAX_OUTPUT, "a rendered template is within its cap");
        }
    }
    let mut parts = text.splitn(2, '\u{0}');
    let key = parts.next().unwrap_or_default().chars().take(64).collect::<String>();
    let value = parts.next().unwrap_or_default().to_owned();
    let data: BTreeMap<String, String> = [(key, value)].into();
    let secret: BTreeMap<String, String> = [("token".to_owned(), "s3cret".to_owned())].into();
    let config = ferry_notify::Config::parse(&data, &secret);
    // The value itself may spell the secret out; only a resolved `$token` must not show.
    if text.contains("s3cret") {
        return;
    }
    for error in &config.errors {
        assert!(!config.masker.mask(&error.to_string()).contains("s3cret"));
    }
});
