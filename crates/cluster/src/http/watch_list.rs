//! Where a watch starts, with the watch-list rules kube-rs's streaming lists rely on:
//! `sendInitialEvents=true` needs `resourceVersionMatch=NotOlderThan` and `allowWatchBookmarks`,
//! and its initial events end with a bookmark annotated `k8s.io/initial-events-end`.

use super::path::Params;
use crate::error::ApiError;
use crate::validate::field::{FieldError, invalid};

/// What the watch sends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The current objects as ADDED events, then (for a watch-list) the initial-events-end bookmark.
    Initial { end_bookmark: bool },
    /// The changes after this resourceVersion.
    From(u64),
}

/// The start of a watch with `params`, when the store is at `current`.
pub fn plan(params: &Params, current: u64) -> Result<Start, ApiError> {
    let send = params.get("sendInitialEvents");
    let rv_match = params.get("resourceVersionMatch");
    let mut errs = Vec::new();
    match send {
        Some("true" | "false") => {
            if rv_match != Some("NotOlderThan") {
                errs.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if !params.flag("allowWatchBookmarks") {
                errs.push(FieldError::forbidden(
                    "allowWatchBookmarks",
                    "sendInitialEvents requires setting allowWatchBookmarks to true",
                ));
            }
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "sendInitialEvents {other:?} is not valid (true or false)"
            )));
        }
        None if rv_match.is_some() => errs.push(FieldError::forbidden(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        )),
        None => {}
    }
    if !errs.is_empty() {
        return Err(invalid("meta.k8s.io", "ListOptions", "", &errs));
    }
    let rv =
        match params.get("resourceVersion").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("resourceVersion {v:?} is not valid"))
            })?),
        };
    match (send, rv) {
        (Some("true"), Some(n)) if n > current => Err(ApiError::new(
            504,
            "Timeout",
            format!("Too large resource version: {n}, current: {current}"),
        )),
        (Some("true"), _) => Ok(Start::Initial { end_bookmark: true }),
        (Some(_), None | Some(0)) => Ok(Start::From(current)),
        (None, None | Some(0)) => Ok(Start::Initial { end_bookmark: false }),
        (_, Some(n)) => Ok(Start::From(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        let uri: axum::http::Uri = format!("/api/v1/configmaps?{q}").parse().expect("a URI");
        Params::from_uri(&uri)
    }

    #[test]
    fn a_watch_list_needs_not_older_than_and_bookmarks() {
        let err = plan(&params("watch=1&sendInitialEvents=true"), 5).expect_err("incomplete");
        assert_eq!(err.code, 422);
        assert!(err.message.contains("resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"), "{}", err.message);
        assert!(err.message.contains("allowWatchBookmarks: Forbidden"), "{}", err.message);
        let ok = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
        assert_eq!(plan(&params(ok), 5).ok(), Some(Start::Initial { end_bookmark: true }));
        assert!(plan(&params(&format!("{ok}&resourceVersion=9")), 5).is_err_and(|e| e.code == 504));
    }

    #[test]
    fn without_initial_events_a_watch_starts_now_or_where_asked() {
        let no = "watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
        assert_eq!(plan(&params(no), 7).ok(), Some(Start::From(7)));
        assert_eq!(plan(&params("watch=1"), 7).ok(), Some(Start::Initial { end_bookmark: false }));
        assert_eq!(plan(&params("watch=1&resourceVersion=3"), 7).ok(), Some(Start::From(3)));
        assert!(plan(&params("watch=1&resourceVersionMatch=NotOlderThan"), 7).is_err());
    }
}
