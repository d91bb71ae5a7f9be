//! Any text as a repository URL, a Go duration, a semver constraint and a tag: a value or an
//! error, never a panic.
#![no_main]

use ferry_source::RepoUrl;
use ferry_source::constraint::{Constraint, tag_version};
use ferry_source::duration::parse_seconds_or_go_duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(url) = RepoUrl::parse(&text) {
        let _ = (url.key(), url.to_string());
    }
    let _ = parse_seconds_or_go_duration(&text);
    let (range, tag) = text.split_once('\n').unwrap_or((&text, "1.2.3"));
    if let (Ok(c), Some(v)) = (Constraint::parse(range), tag_version(tag)) {
        let _ = c.matches(&v);
    }
});
