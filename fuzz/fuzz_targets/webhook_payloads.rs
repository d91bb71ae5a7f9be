//! Any body, signed correctly, in every provider's form: a verified event or an error naming
//! the field, never a panic. (Unsigned bodies never reach the payload parser.)
#![no_main]

use ferry_source::Secret;
use ferry_source::webhook::{Headers, WebhookConfig, parse, sign};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz";

fuzz_target!(|data: &[u8]| {
    let s = Some(Secret::new(SECRET));
    let config = WebhookConfig {
        github_secret: s.clone(),
        gitlab_token: s.clone(),
        gitea_secret: s.clone(),
        bitbucket_secret: s.clone(),
        generic_secret: s,
        max_body_bytes: 64 * 1024,
    };
    // The first byte picks the provider and event, the rest is the body.
    let Some((&pick, body)) = data.split_first() else { return };
    let sig = sign(SECRET, body);
    let bare = sig.trim_start_matches("sha256=").to_owned();
    let pairs: Vec<(&str, String)> = match pick % 8 {
        0 => vec![("x-github-event", "push".into()), ("x-hub-signature-256", sig)],
        1 => vec![("x-gitlab-event", "Push Hook".into()), ("x-gitlab-token", SECRET.into())],
        2 => vec![("x-gitlab-event", "Tag Push Hook".into()), ("x-gitlab-token", SECRET.into())],
        3 => vec![("x-gitea-event", "push".into()), ("x-gitea-signature", bare)],
        4 => vec![("x-gogs-event", "push".into()), ("x-gogs-signature", bare)],
        5 => vec![("x-event-key", "repo:push".into()), ("x-hub-signature", sig)],
        6 => vec![("x-event-key", "repo:refs_changed".into()), ("x-hub-signature", sig)],
        _ => vec![("x-ferry-signature", sig)],
    };
    let headers = Headers::new(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    let _ = parse(&headers, body, &config);
});
