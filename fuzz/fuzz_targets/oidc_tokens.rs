//! Any text as a bearer ID token, and any JSON object as the claims of a token the issuer really
//! signed: a refusal with a reason or an identity, never a panic; a signed token's identity is
//! its `sub` (and `email`), and its groups come only from the claims the policy's scopes name.
#![no_main]

use std::time::Duration;

use ferry_api::access::{Oidc, OidcConfig};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.fuzz.invalid";
const AUDIENCE: &str = "ferry";

/// A P-256 key made for this target only (it signs nothing else).
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4O0SRjV/vyCxv1Vj
ur3+EUn102hxAIRCmohay38zfkahRANCAAQwYVmJbixbSSEQrl7UwsNsbNbnmVX6
gXw8fM3T8cxurIc93t/YFtWsOoQli/u0BSkMdGHtKoIkbpvdcPJW2WNU
-----END PRIVATE KEY-----
";

fn verifier() -> Oidc {
    let keys: JwkSet = serde_json::from_value(json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": "MGFZiW4sW0khEK5e1MLDbGzW55lV-oF8PHzN0_HMbqw",
        "y": "hz3e39gW1aw6hCWL-7QFKQx0Ye0qgiRum91w8lbZY1Q"
    }]}))
    .expect("a valid key set");
    let mut config = OidcConfig::new(ISSUER, AUDIENCE);
    // Never fetch: an unknown key id is refused from the seeded set.
    config.min_refetch = Duration::from_secs(86_400);
    Oidc::with_keys(config, keys)
}

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let oidc = verifier();
    let text = String::from_utf8_lossy(data);
    let scopes = vec!["groups".to_owned(), "roles".to_owned()];
    // Any text as a token: refused or accepted, never a panic (it cannot be signed by KEY).
    let _ = runtime.block_on(oidc.verify(text.trim(), &scopes));

    let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(data) else { return };
    claims.insert("iss".into(), json!(ISSUER));
    claims.insert("aud".into(), json!(AUDIENCE));
    claims.insert("exp".into(), json!(4_102_444_800u64)); // 2100-01-01
    claims.remove("nbf");
    let has_sub = claims.contains_key("sub");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_ec_pem(KEY.as_bytes()).expect("the target's key parses");
    let Ok(token) = jsonwebtoken::encode(&header, &Value::Object(claims.clone()), &key) else {
        return;
    };
    match runtime.block_on(oidc.verify(&token, &scopes)) {
        Ok(identity) => {
            assert!(has_sub, "a token without sub was accepted");
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
            assert_eq!(identity.subject, sub);
            for group in &identity.groups {
                let named = scopes.iter().any(|s| match claims.get(s) {
                    Some(Value::String(g)) => g == group,
                    Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(group)),
                    _ => false,
                });
                assert!(named, "group {group:?} is not in a scope claim");
            }
        }
        Err(e) => {
            // A signed token with the right issuer, audience and expiry is refused only for a
            // missing or malformed required claim.
            let why = e.to_string();
            assert!(!has_sub || why.contains("claim") || why.contains("not valid"), "{why}");
        }
    }
});
