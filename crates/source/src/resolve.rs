//! Turning a revision as users write it (branch, tag, SHA, `HEAD`, semver constraint) into a
//! remote ref or a commit id, against the ref list a remote advertised. Pure: no I/O.

use std::collections::BTreeMap;

use crate::constraint::{Constraint, ConstraintError, tag_version};

/// A full (40 or 64 hex digit) git object id of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    /// Accepts a full hex object id (SHA-1 or SHA-256), normalised to lower case.
    pub fn parse(hex: &str) -> Result<Self, ResolveError> {
        let ok = (hex.len() == 40 || hex.len() == 64) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(hex.to_ascii_lowercase()))
        } else {
            Err(ResolveError::NotACommitId { text: hex.to_owned() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 7 hex digits, for messages (see [`short_revision`]).
    pub fn short(&self) -> &str {
        short_revision(&self.0)
    }
}

/// A revision as people read it: a commit id (more than 7 hex digits) cut to its first 7, as
/// `git log --oneline` shows it; anything else (a branch, a tag, `HEAD`, an empty string) as it
/// is. The one rule for every message, table and status line that names a revision.
pub fn short_revision(rev: &str) -> &str {
    if rev.len() > 7 && rev.bytes().all(|b| b.is_ascii_hexdigit()) { &rev[..7] } else { rev }
}

impl std::fmt::Display for CommitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refs a remote advertised: full ref name → commit (annotated tags already peeled), plus
/// `HEAD`.
pub type RemoteRefs = BTreeMap<String, CommitId>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("{text:?} is not a full commit id")]
    NotACommitId { text: String },
    #[error("revision {revision:?} matches no branch, tag or ref of the repository")]
    UnknownRevision { revision: String },
    #[error("revision {revision:?}: no tag satisfies the semver constraint")]
    NoMatchingTag { revision: String },
    #[error("revision {revision:?}: the remote advertises no HEAD")]
    NoHead { revision: String },
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
}

/// What a revision points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A ref the remote advertises (`HEAD`, `refs/heads/main`, `refs/tags/v1.2.0`).
    Ref { name: String, commit: CommitId },
    /// A commit id or an abbreviation of one (4 to 63 hex digits), to be looked up in objects.
    Commit { prefix: String },
}

fn is_hex_prefix(s: &str) -> bool {
    (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `revision` reads as a semver constraint rather than a ref name.
fn looks_like_constraint(revision: &str) -> bool {
    let first = revision.chars().next().unwrap_or(' ');
    "<>=!~^*".contains(first)
        || revision.contains("||")
        || revision.contains(' ')
        || revision.contains(',')
        || revision.split('.').any(|p| matches!(p, "x" | "X" | "*"))
}

/// Resolves `revision` against `refs`.
///
/// Order: `HEAD` (or empty), a full ref name, a tag, a branch (tags first, as `git rev-parse`
/// does), a commit id or prefix, then a semver constraint over tags (also a bare version such as
/// `1.2.3` matching tag `v1.2.3`).
pub fn resolve(refs: &RemoteRefs, revision: &str) -> Result<Resolution, ResolveError> {
    let revision = revision.trim();
    let found = |name: &str| {
        refs.get(name).map(|c| Resolution::Ref { name: name.to_owned(), commit: c.clone() })
    };
    if revision.is_empty() || revision == "HEAD" {
        return found("HEAD").ok_or_else(|| ResolveError::NoHead { revision: revision.to_owned() });
    }
    if revision.starts_with("refs/") {
        return found(revision)
            .ok_or_else(|| ResolveError::UnknownRevision { revision: revision.to_owned() });
    }
    if !looks_like_constraint(revision) {
        for candidate in [format!("refs/tags/{revision}"), format!("refs/heads/{revision}")] {
            if let Some(hit) = found(&candidate) {
                return Ok(hit);
            }
        }
        if is_hex_prefix(revision) {
            return Ok(Resolution::Commit { prefix: revision.to_ascii_lowercase() });
        }
    }
    let constraint = match Constraint::parse(revision) {
        Ok(c) => c,
        Err(e) if looks_like_constraint(revision) => return Err(e.into()),
        Err(_) => return Err(ResolveError::UnknownRevision { revision: revision.to_owned() }),
    };
    let tags: Vec<(&str, semver::Version)> = refs
        .keys()
        .filter_map(|name| name.strip_prefix("refs/tags/").map(|t| (name.as_str(), t)))
        .filter_map(|(name, tag)| tag_version(tag).map(|v| (name, v)))
        .collect();
    let (name, _) = constraint
        .best(tags.iter().map(|(n, v)| (*n, v)))
        .ok_or_else(|| ResolveError::NoMatchingTag { revision: revision.to_owned() })?;
    Ok(found(name).expect("the tag name came from refs"))
}

/// Parses `git ls-remote` output (`<oid>\t<ref>` lines). Annotated tags appear twice, once as
/// the tag object and once peeled (`refs/tags/x^{}`); the peeled commit wins.
pub fn parse_ls_remote(output: &str) -> Result<RemoteRefs, ResolveError> {
    let mut refs = RemoteRefs::new();
    let mut peeled = Vec::new();
    for line in output.lines() {
        let Some((oid, name)) = line.split_once('\t') else { continue };
        let id = CommitId::parse(oid.trim())?;
        match name.strip_suffix("^{}") {
            Some(tag) => peeled.push((tag.to_owned(), id)),
            None => {
                refs.insert(name.to_owned(), id);
            }
        }
    }
    for (name, id) in peeled {
        refs.insert(name, id);
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_shortened_only_when_they_are_commit_ids() {
        let sha1 = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(short_revision(sha1), "0123456");
        assert_eq!(short_revision(&"ab".repeat(32)), "abababa", "SHA-256 ids too");
        assert_eq!(short_revision("0123456789ab"), "0123456", "an abbreviated id");
        for kept in ["main", "feature-branch-with-a-long-name", "v1.2.3", "HEAD", "", "abc"] {
            assert_eq!(short_revision(kept), kept);
        }
        assert_eq!(CommitId::parse(sha1).expect("a commit id").short(), "0123456");
    }

    fn id(c: char) -> CommitId {
        CommitId::parse(&c.to_string().repeat(40)).unwrap()
    }

    fn refs() -> RemoteRefs {
        let text = format!(
            "{a}\tHEAD\n{a}\trefs/heads/main\n{b}\trefs/heads/dev\n{c}\trefs/tags/v1.2.0\n{d}\trefs/tags/v1.2.0^{{}}\n{e}\trefs/tags/v1.3.0\n{f}\trefs/tags/v2.0.0\n{b}\trefs/tags/dev\n",
            a = "a".repeat(40),
            b = "b".repeat(40),
            c = "c".repeat(40),
            d = "d".repeat(40),
            e = "e".repeat(40),
            f = "f".repeat(40),
        );
        parse_ls_remote(&text).unwrap()
    }

    #[test]
    fn annotated_tags_resolve_to_the_peeled_commit() {
        let r = resolve(&refs(), "v1.2.0").unwrap();
        assert_eq!(r, Resolution::Ref { name: "refs/tags/v1.2.0".into(), commit: id('d') });
    }

    #[test]
    fn head_branches_and_full_ref_names_resolve() {
        assert_eq!(
            resolve(&refs(), "HEAD").unwrap(),
            Resolution::Ref { name: "HEAD".into(), commit: id('a') }
        );
        assert_eq!(
            resolve(&refs(), "").unwrap(),
            Resolution::Ref { name: "HEAD".into(), commit: id('a') }
        );
        assert_eq!(
            resolve(&refs(), "main").unwrap(),
            Resolution::Ref { name: "refs/heads/main".into(), commit: id('a') }
        );
        assert_eq!(
            resolve(&refs(), "refs/heads/dev").unwrap(),
            Resolution::Ref { name: "refs/heads/dev".into(), commit: id('b') }
        );
        // A tag and a branch both called `dev`: the tag wins, as in `git rev-parse`.
        assert_eq!(
            resolve(&refs(), "dev").unwrap(),
            Resolution::Ref { name: "refs/tags/dev".into(), commit: id('b') }
        );
    }

    #[test]
    fn hex_strings_that_are_not_refs_are_commit_prefixes() {
        assert_eq!(
            resolve(&refs(), "ABCD123").unwrap(),
            Resolution::Commit { prefix: "abcd123".into() }
        );
    }

    #[test]
    fn semver_constraints_pick_the_highest_matching_tag() {
        let r = resolve(&refs(), "^1").unwrap();
        assert_eq!(r, Resolution::Ref { name: "refs/tags/v1.3.0".into(), commit: id('e') });
        let r = resolve(&refs(), ">=1.0 <2.0").unwrap();
        assert_eq!(r, Resolution::Ref { name: "refs/tags/v1.3.0".into(), commit: id('e') });
        let r = resolve(&refs(), "1.2.x").unwrap();
        assert_eq!(r, Resolution::Ref { name: "refs/tags/v1.2.0".into(), commit: id('d') });
        assert_eq!(
            resolve(&refs(), "2.0.0").unwrap(),
            Resolution::Ref { name: "refs/tags/v2.0.0".into(), commit: id('f') }
        );
    }

    #[test]
    fn unknown_revisions_and_unsatisfiable_constraints_are_errors() {
        assert!(matches!(resolve(&refs(), "nope"), Err(ResolveError::UnknownRevision { .. })));
        assert!(matches!(resolve(&refs(), "^9"), Err(ResolveError::NoMatchingTag { .. })));
        assert!(matches!(resolve(&refs(), ">=banana"), Err(ResolveError::Constraint(_))));
        assert!(matches!(resolve(&RemoteRefs::new(), "HEAD"), Err(ResolveError::NoHead { .. })));
    }
}
