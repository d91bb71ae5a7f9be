//! A unified-diff style rendering for the CLI.

use std::fmt::Write;

use serde_json::Value;

use super::{FieldChange, ObjectDiff};

fn lines(v: &Value) -> Vec<String> {
    match v {
        Value::Object(_) | Value::Array(_) => serde_json::to_string_pretty(v)
            .unwrap_or_else(|_| v.to_string())
            .lines()
            .map(str::to_string)
            .collect(),
        other => vec![other.to_string()],
    }
}

fn hunk(out: &mut String, c: &FieldChange) {
    let _ = write!(out, "@@ {} @@", c.path);
    if let Some(by) = &c.changed_by {
        let _ = write!(out, " last written by {:?} ({}", by.manager, by.operation);
        if !by.subresource.is_empty() {
            let _ = write!(out, ", subresource {}", by.subresource);
        }
        if let Some(t) = &by.time {
            let _ = write!(out, ", {t}");
        }
        out.push(')');
    }
    out.push('\n');
    for l in c.live.iter().flat_map(lines) {
        let _ = writeln!(out, "-{l}");
    }
    for l in c.desired.iter().flat_map(lines) {
        let _ = writeln!(out, "+{l}");
    }
}

/// `--- live` / `+++ desired` headers and one hunk per changed field; empty when in sync.
/// Secret values arrive already masked (see [`super::diff_object`]).
pub fn render_unified(diff: &ObjectDiff) -> String {
    if diff.in_sync() {
        return String::new();
    }
    let name = match &diff.namespace {
        Some(ns) => format!("{ns}/{}", diff.name),
        None => diff.name.clone(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "--- live {} {} {name}", diff.api_version, diff.kind);
    let _ = writeln!(out, "+++ desired {} {} {name}", diff.api_version, diff.kind);
    for c in &diff.changes {
        hunk(&mut out, c);
    }
    out
}
