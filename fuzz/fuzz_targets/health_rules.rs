//! Any CEL expression as a health rule, judged against a real-looking object: health or a rule
//! error naming the expression, never a panic or a hang (expressions are capped in size and
//! comprehension depth).
#![no_main]

use ferry_health::{HealthCheck, Rules, assess};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (current, failed) = text.split_once('\n').unwrap_or((&text, ""));
    let check = HealthCheck {
        api_version: Some("example.com/v1".into()),
        group: None,
        kind: "Widget".into(),
        current: current.to_owned(),
        in_progress: None,
        failed: (!failed.is_empty()).then(|| failed.to_owned()),
    };
    let rules = Rules::new([check]);
    let _ = rules.problems();
    let object = serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "generation": 2, "labels": {"a": "b"}},
        "spec": {"replicas": 3, "items": [1, 2, 3]},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}
    });
    let _ = assess(&object, &rules);
});
