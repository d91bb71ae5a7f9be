//! ConfigMap and Secret: values that decode, keys a file name can be made of, sizes.

use base64::Engine;
use serde_json::{Map, Value};

use crate::validate::field::{FieldError, Kind, type_name};

const KEY_FMT: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
/// A ConfigMap or Secret holds at most 1 MiB of data.
const MAX_DATA_BYTES: usize = 1024 * 1024;

/// A map field of strings (`data`, `stringData`): why it does not decode, if it does not.
fn string_map(obj: &Value, kind: &str, field: &str) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => m.iter().find(|(_, v)| !v.is_string() && !v.is_null()).map(|(k, v)| {
            format!(
                "json: cannot unmarshal {} into Go struct field {kind}.{field} of type string (key {k:?})",
                type_name(v)
            )
        }),
        Some(other) => Some(format!(
            "json: cannot unmarshal {} into Go struct field {kind}.{field} of type map[string]string",
            type_name(other)
        )),
    }
}

/// A map of base64 strings (`binaryData`, Secret `data`).
fn bytes_map(obj: &Value, kind: &str, field: &str) -> Option<String> {
    if let Some(why) = string_map(obj, kind, field) {
        return Some(why.replace("map[string]string", "map[string][]uint8"));
    }
    let m = obj.get(field).and_then(Value::as_object)?;
    m.iter().find_map(|(k, v)| {
        let text = v.as_str()?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .err()
            .map(|e| format!("illegal base64 data in {field}[{k}]: {e}"))
    })
}

pub fn decode_config_map(obj: &Value) -> Option<String> {
    string_map(obj, "ConfigMap", "data").or_else(|| bytes_map(obj, "ConfigMap", "binaryData"))
}

pub fn decode_secret(obj: &Value) -> Option<String> {
    string_map(obj, "Secret", "stringData").or_else(|| bytes_map(obj, "Secret", "data"))
}

fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && !k.starts_with("..")
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn check_keys(field: &str, m: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for k in m.keys() {
        if !is_config_key(k) {
            let detail = match k.as_str() {
                "." => "must not be '.'",
                ".." => "must not be '..'",
                _ if k.starts_with("..") => "must not start with '..'",
                _ => KEY_FMT,
            };
            errs.push(FieldError::invalid(
                format!("{field}[{k}]"),
                &Value::String(k.clone()),
                detail,
            ));
        }
    }
}

fn too_long(field: &str) -> FieldError {
    FieldError {
        field: field.into(),
        kind: Kind::TooLong,
        value: None,
        detail: format!("must have at most {MAX_DATA_BYTES} bytes"),
    }
}

fn size(m: Option<&Map<String, Value>>) -> usize {
    m.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum())
}

pub fn check_config_map(obj: &Value, errs: &mut Vec<FieldError>) {
    let data = obj.get("data").and_then(Value::as_object);
    let binary = obj.get("binaryData").and_then(Value::as_object);
    if let Some(d) = data {
        check_keys("data", d, errs);
    }
    if let Some(b) = binary {
        check_keys("binaryData", b, errs);
        for k in b.keys().filter(|k| data.is_some_and(|d| d.contains_key(*k))) {
            errs.push(FieldError::invalid(
                format!("data[{k}]"),
                &Value::String(k.clone()),
                "duplicate of key present in binaryData",
            ));
        }
    }
    // binaryData is counted decoded on a real server; base64 is 4/3 of it.
    if size(data) + size(binary) * 3 / 4 > MAX_DATA_BYTES {
        errs.push(too_long(""));
    }
}

pub fn check_secret(obj: &Value, errs: &mut Vec<FieldError>) {
    let data = obj.get("data").and_then(Value::as_object);
    if let Some(d) = data {
        check_keys("data", d, errs);
        if size(data) * 3 / 4 > MAX_DATA_BYTES {
            errs.push(too_long("data"));
        }
    }
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("Opaque");
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let needs: &[&str] = match ty {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for k in needs.iter().filter(|k| !has(k)) {
        errs.push(FieldError::required(format!("data[{k}]"), ""));
    }
    if ty == "kubernetes.io/basic-auth" && !has("username") && !has("password") {
        errs.push(FieldError::required("data[username]", ""));
    }
}
