//! Messages to JSON as the Kubernetes JSON codec writes them: Go's embedded structs inlined,
//! `Time` as RFC 3339, `Quantity` and `IntOrString` as scalars, raw extensions as JSON.

use base64::Engine;
use serde_json::{Map, Number, Value, json};

use super::ProtoError;
use super::schema::{self, Field, Shape, Type};
use super::wire::{Raw, Reader, packed_varints};

/// Messages nest deeper than this only in hostile input (JSONSchemaProps recurse).
const MAX_DEPTH: usize = 100;

/// Fields whose zero or false is a choice (Go pointers or required values), kept where
/// other zero scalars are dropped like Go's `omitempty` drops them: gogo protobuf writes
/// every non-pointer field, so a zero on the wire usually means "unset".
const KEEP_ZERO: &[&str] = &[
    "replicas",
    "value",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "backoffLimit",
    "backoffLimitPerIndex",
    "maxFailedIndexes",
    "completions",
    "parallelism",
    "ttlSecondsAfterFinished",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "defaultMode",
    "mode",
    "optional",
    "privileged",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "allowPrivilegeEscalation",
    "automountServiceAccountToken",
    "suspend",
    "priority",
    "enableServiceLinks",
    "hostUsers",
    "shareProcessNamespace",
    "deletionGracePeriodSeconds",
    "gracePeriodSeconds",
    "expirationSeconds",
    "immutable",
    "minAvailable",
    "maxUnavailable",
    "maxSurge",
    "minReplicas",
    "maxReplicas",
    "port",
    "containerPort",
    "controller",
    "blockOwnerDeletion",
];

pub fn base64_bytes(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
}

/// Decodes `bytes` as message `name` of the schema.
pub fn decode_message(name: &str, bytes: &[u8]) -> Result<Value, ProtoError> {
    decode(name, bytes, 0)
}

fn field_error(message: &str, field: &str, why: impl Into<String>) -> ProtoError {
    ProtoError::Field { message: message.to_string(), field: field.to_string(), why: why.into() }
}

fn decode(name: &str, bytes: &[u8], depth: usize) -> Result<Value, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep { max: MAX_DEPTH });
    }
    let fields = schema::get()
        .messages
        .get(name)
        .ok_or_else(|| field_error(name, "", "the message is not in the server's schema"))?;
    let mut out = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((number, raw)) = reader.next_field()? {
        let Some(f) = fields.get(&number) else {
            return Err(field_error(name, &number.to_string(), "unknown field number"));
        };
        match f.shape {
            Shape::Single => {
                let v = scalar_or_message(name, f, raw, depth)?;
                if keep(f, &v) {
                    out.insert(f.json.clone(), v);
                }
            }
            Shape::Repeated => {
                let list = out.entry(f.json.clone()).or_insert_with(|| Value::Array(vec![]));
                let items = repeated(name, f, raw, depth)?;
                if let Value::Array(a) = list {
                    a.extend(items);
                }
            }
            Shape::Map => {
                let Raw::Bytes(entry) = raw else {
                    return Err(field_error(name, &f.json, "a map entry must be length-delimited"));
                };
                let (k, v) = map_entry(name, f, entry, depth)?;
                let map = out.entry(f.json.clone()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = map {
                    m.insert(k, v);
                }
            }
            Shape::Inline => {
                if let Value::Object(inner) = scalar_or_message(name, f, raw, depth)? {
                    out.extend(inner);
                }
            }
        }
    }
    special(name, out)
}

/// Whether a decoded single field belongs in the JSON (see `KEEP_ZERO`).
fn keep(f: &Field, v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Bool(false) => KEEP_ZERO.contains(&f.json.as_str()),
        Value::Number(n) if n.as_f64() == Some(0.0) => KEEP_ZERO.contains(&f.json.as_str()),
        _ => true,
    }
}

fn scalar_or_message(
    msg: &str,
    f: &Field,
    raw: Raw<'_>,
    depth: usize,
) -> Result<Value, ProtoError> {
    let wrong = || field_error(msg, &f.json, format!("wire type does not fit {:?}", f.ty));
    Ok(match (&f.ty, raw) {
        (Type::Str, Raw::Bytes(b)) => Value::String(
            String::from_utf8(b.to_vec()).map_err(|_| field_error(msg, &f.json, "not UTF-8"))?,
        ),
        (Type::Bytes, Raw::Bytes(b)) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        (Type::I32, Raw::Varint(v)) => json!(v as i64 as i32),
        (Type::I64, Raw::Varint(v)) => json!(v as i64),
        (Type::Bool, Raw::Varint(v)) => json!(v != 0),
        (Type::Double, Raw::Fixed64(v)) => {
            Number::from_f64(f64::from_bits(v)).map(Value::Number).unwrap_or(Value::Null)
        }
        (Type::Message(m), Raw::Bytes(b)) => decode(m, b, depth + 1)?,
        _ => return Err(wrong()),
    })
}

fn repeated(msg: &str, f: &Field, raw: Raw<'_>, depth: usize) -> Result<Vec<Value>, ProtoError> {
    match (&f.ty, raw) {
        (Type::I32 | Type::I64 | Type::Bool, Raw::Bytes(b)) => Ok(packed_varints(b)?
            .into_iter()
            .map(|v| match f.ty {
                Type::I32 => json!(v as i64 as i32),
                Type::Bool => json!(v != 0),
                _ => json!(v as i64),
            })
            .collect()),
        (_, raw) => Ok(vec![scalar_or_message(msg, f, raw, depth)?]),
    }
}

fn map_entry(
    msg: &str,
    f: &Field,
    entry: &[u8],
    depth: usize,
) -> Result<(String, Value), ProtoError> {
    let mut key = String::new();
    let mut value = match f.ty {
        Type::Str | Type::Bytes => json!(""),
        Type::Message(_) => json!({}),
        _ => json!(0),
    };
    let mut r = Reader::new(entry);
    while let Some((n, raw)) = r.next_field()? {
        match (n, raw) {
            (1, Raw::Bytes(b)) => {
                key = String::from_utf8(b.to_vec())
                    .map_err(|_| field_error(msg, &f.json, "a map key is not UTF-8"))?;
            }
            (2, raw) => value = scalar_or_message(msg, f, raw, depth)?,
            _ => return Err(field_error(msg, &f.json, "a map entry has an unexpected field")),
        }
    }
    Ok((key, value))
}

/// Year 1 in Unix seconds: Go's zero `time.Time`, which JSON writes as null.
const GO_ZERO_TIME: i64 = -62_135_596_800;

fn timestamp(m: &Map<String, Value>, micro: bool) -> Value {
    let seconds = m.get("seconds").and_then(Value::as_i64).unwrap_or(0);
    let nanos = m.get("nanos").and_then(Value::as_i64).unwrap_or(0);
    if m.is_empty() || seconds <= GO_ZERO_TIME {
        return Value::Null;
    }
    let Ok(t) = jiff::Timestamp::from_second(seconds) else { return Value::Null };
    let base = t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if micro { json!(format!("{base}.{:06}Z", nanos / 1000)) } else { json!(format!("{base}Z")) }
}

/// A Go `time.Duration` string (`1h2m3s`, `500ms`).
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", trim_fraction(ns, div));
    }
    let (h, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, s) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let secs = format!("{}s", trim_fraction(s, 1_000_000_000));
    match (h, m) {
        (0, 0) => format!("{sign}{secs}"),
        (0, m) => format!("{sign}{m}m{secs}"),
        (h, m) => format!("{sign}{h}h{m}m{secs}"),
    }
}

fn trim_fraction(value: u64, div: u64) -> String {
    let (whole, frac) = (value / div, value % div);
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn raw_json(m: &Map<String, Value>, msg: &str) -> Result<Value, ProtoError> {
    let bytes = base64_bytes(m.get("raw").and_then(Value::as_str).unwrap_or(""));
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    if bytes.starts_with(b"k8s\0") {
        return super::decode_body(&bytes);
    }
    serde_json::from_slice(&bytes).map_err(|e| field_error(msg, "raw", format!("not JSON: {e}")))
}

/// Messages whose JSON form is not an object of their fields.
fn special(name: &str, m: Map<String, Value>) -> Result<Value, ProtoError> {
    const META: &str = "apimachinery.pkg.apis.meta.v1.";
    const EXT: &str = "apiextensions_apiserver.pkg.apis.apiextensions.v1.";
    let short = name.strip_prefix(META).or_else(|| name.strip_prefix(EXT));
    Ok(match (name, short) {
        (_, Some("Time")) => timestamp(&m, false),
        (_, Some("MicroTime")) => timestamp(&m, true),
        (_, Some("Duration")) => {
            json!(go_duration(m.get("duration").and_then(Value::as_i64).unwrap_or(0)))
        }
        (_, Some("FieldsV1" | "Json")) | ("apimachinery.pkg.runtime.RawExtension", _) => {
            raw_json(&m, name)?
        }
        ("apimachinery.pkg.api.resource.Quantity", _) => {
            m.get("string").cloned().unwrap_or(json!("0"))
        }
        ("apimachinery.pkg.util.intstr.IntOrString", _) => {
            if m.get("type").and_then(Value::as_i64) == Some(1) {
                m.get("strVal").cloned().unwrap_or(json!(""))
            } else {
                m.get("intVal").cloned().unwrap_or(json!(0))
            }
        }
        (_, Some("JsonSchemaPropsOrArray")) => match m.get("jSonSchemas") {
            Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()),
            _ => m.get("schema").cloned().unwrap_or(json!({})),
        },
        (_, Some("JsonSchemaPropsOrBool")) => m
            .get("schema")
            .cloned()
            .unwrap_or_else(|| m.get("allows").cloned().unwrap_or(json!(false))),
        (_, Some("JsonSchemaPropsOrStringArray")) => match m.get("property") {
            Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()),
            _ => m.get("schema").cloned().unwrap_or(json!({})),
        },
        _ => Value::Object(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
    }

    #[test]
    fn times_are_rfc3339_and_the_zero_time_is_absent() {
        let mut m = Map::new();
        m.insert("seconds".into(), json!(1_767_225_600));
        assert_eq!(timestamp(&m, false), json!("2026-01-01T00:00:00Z"));
        m.insert("nanos".into(), json!(123_456_000));
        assert_eq!(timestamp(&m, true), json!("2026-01-01T00:00:00.123456Z"));
        m.insert("seconds".into(), json!(GO_ZERO_TIME));
        assert_eq!(timestamp(&m, false), Value::Null);
    }
}
