//! Any text as an RBAC policy (Argo CD's `policy.csv`, `policy.default`, `scopes`) and any
//! question asked of it: an error naming the line, or a policy that answers, never a panic; the
//! same question gets the same answer, and a deny line for a subject always wins.
#![no_main]

use ferry_api::access::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\u{0}');
    let csv = parts.next().unwrap_or_default();
    let default_role = parts.next().unwrap_or_default();
    let scopes = parts.next().unwrap_or_default();
    let question = parts.next().unwrap_or_default();
    let Ok(policy) = Policy::parse(csv, default_role, scopes, "fuzz") else { return };
    let mut q = question.splitn(4, ',').map(str::trim);
    let subject = q.next().unwrap_or_default().to_owned();
    let resource = q.next().unwrap_or("applications");
    let action = q.next().unwrap_or("sync");
    let object = q.next().unwrap_or("default/ns/app");
    let subjects = vec![subject.clone()];
    let first = policy.allows(&subjects, resource, action, object);
    assert_eq!(first, policy.allows(&subjects, resource, action, object), "answers are stable");
    let _ = policy.expand(&subjects);
    // A deny line for exactly this subject, resource, action and object always wins (checked
    // for plain names, so no glob or CSV syntax changes what the line says).
    let plain = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || ":-@./_".contains(c))
    };
    if [subject.as_str(), resource, action, object].iter().all(|s| plain(s)) && !csv.contains('"') {
        let denied = format!("{csv}\np, {subject}, {resource}, {action}, {object}, deny\n");
        if let Ok(strict) = Policy::parse(&denied, default_role, scopes, "fuzz") {
            assert!(
                !strict.allows(&subjects, resource, action, object),
                "a deny line for {subject:?} did not win"
            );
        }
    }
});
