//! The write path: admission (metadata, status rules, generation, defaults, validation) and the
//! integration point with the server-side apply model.

pub mod admit;
pub mod apply;
pub mod ops;
pub mod validate;

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds).
pub fn now() -> String {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_second(t.as_second()).unwrap_or(t).to_string()
}
