//! AdmissionReview v1: the request a webhook gets and what its answer may say.

use base64::Engine;
use serde_json::{Value, json};

use super::matching::Attributes;
use crate::auth::UserInfo;

/// The review sent for a request, with a fresh uid the answer must echo.
pub fn request(
    a: &Attributes<'_>,
    uid: &str,
    user: &UserInfo,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Value {
    let rt = a.rt;
    let kind = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    let resource = json!({"group": rt.group, "version": rt.version, "resource": rt.plural});
    let options_kind = match a.operation {
        "CREATE" => "CreateOptions",
        "DELETE" => "DeleteOptions",
        _ => "UpdateOptions",
    };
    let mut req = json!({
        "uid": uid, "kind": kind, "resource": resource, "requestKind": kind, "requestResource": resource,
        "name": a.name, "operation": a.operation,
        "userInfo": user_info(user),
        "object": object.cloned().unwrap_or(Value::Null),
        "oldObject": old.cloned().unwrap_or(Value::Null),
        "dryRun": a.dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
    });
    if let Some(ns) = a.namespace.filter(|_| rt.namespaced) {
        req["namespace"] = json!(ns);
    }
    if let Some(sub) = a.subresource {
        req["subResource"] = json!(sub);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
}

/// `authentication.k8s.io/v1 UserInfo` as a review carries it (empty fields left out).
fn user_info(user: &UserInfo) -> Value {
    let mut info = json!({"username": user.username, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

/// What a webhook decided.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Allowed, with a JSON patch (an array of operations) when the webhook mutates.
    Allowed {
        patch: Option<Value>,
    },
    Denied {
        code: u16,
        message: String,
    },
}

/// Reads an answer; the error says what is wrong with it (kube-apiserver's "received invalid
/// webhook response").
pub fn answer(bytes: &[u8], uid: &str) -> Result<Verdict, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
    let r =
        v.get("response").filter(|r| r.is_object()).ok_or("the AdmissionReview has no response")?;
    let got = r.get("uid").and_then(Value::as_str).unwrap_or_default();
    if got != uid {
        return Err(format!("expected response.uid={uid:?}, got {got:?}"));
    }
    let allowed =
        r.get("allowed").and_then(Value::as_bool).ok_or("response.allowed is not a boolean")?;
    if !allowed {
        let status = r.get("status");
        let code = status
            .and_then(|s| s.get("code"))
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..600).contains(c))
            .unwrap_or(400);
        let message = status
            .and_then(|s| s.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        return Ok(Verdict::Denied { code, message });
    }
    let Some(patch) = r.get("patch").and_then(Value::as_str) else {
        return Ok(Verdict::Allowed { patch: None });
    };
    match r.get("patchType").and_then(Value::as_str) {
        Some("JSONPatch") => {}
        other => {
            return Err(format!(
                "response.patchType must be \"JSONPatch\" with a patch, got {other:?}"
            ));
        }
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| format!("response.patch is not base64: {e}"))?;
    let ops: Value = serde_json::from_slice(&raw)
        .map_err(|e| format!("response.patch is not a JSON patch: {e}"))?;
    if !ops.is_array() {
        return Err("response.patch is not a JSON patch (an array of operations)".into());
    }
    Ok(Verdict::Allowed { patch: Some(ops) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_must_echo_the_uid_and_say_allowed() {
        assert!(answer(b"garbage", "u1").is_err_and(|e| e.contains("not JSON")));
        let wrong = br#"{"response": {"uid": "u2", "allowed": true}}"#;
        assert!(answer(wrong, "u1").is_err_and(|e| e.contains("expected response.uid")));
        let ok = br#"{"response": {"uid": "u1", "allowed": true}}"#;
        assert_eq!(answer(ok, "u1"), Ok(Verdict::Allowed { patch: None }));
        let denied = br#"{"response": {"uid": "u1", "allowed": false, "status": {"code": 403, "message": "no"}}}"#;
        assert_eq!(answer(denied, "u1"), Ok(Verdict::Denied { code: 403, message: "no".into() }));
    }

    #[test]
    fn a_patch_is_a_base64_json_patch() {
        let ops = base64::engine::general_purpose::STANDARD
            .encode(r#"[{"op":"add","path":"/a","value":1}]"#);
        let text = format!(
            r#"{{"response": {{"uid": "u", "allowed": true, "patchType": "JSONPatch", "patch": "{ops}"}}}}"#
        );
        let Ok(Verdict::Allowed { patch: Some(p) }) = answer(text.as_bytes(), "u") else {
            panic!("a JSON patch is read");
        };
        assert_eq!(p[0]["path"], "/a");
        let untyped =
            format!(r#"{{"response": {{"uid": "u", "allowed": true, "patch": "{ops}"}}}}"#);
        assert!(answer(untyped.as_bytes(), "u").is_err());
    }
}
