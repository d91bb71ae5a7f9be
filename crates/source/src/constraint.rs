//! Semver constraints in the Masterminds syntax that Argo CD and Flux users write for tags:
//! `1.2.x`, `~1.2`, `^1`, `>=1.0 <2.0`, `>= 1.0, < 2.0`, `1.2 - 1.4.5`, `^1 || ^2`, `*`.
//!
//! Differences from Cargo's syntax (the `semver` crate): a bare version is an exact match
//! (`1.2.3` means `=1.2.3`, not `^1.2.3`), missing parts are wildcards (`1.2` = `1.2.x`), spaces
//! as well as commas separate ANDed comparators, and `||` separates alternatives. Pre-releases
//! only match a comparator that itself names a pre-release.

use semver::Version;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConstraintError {
    #[error("semver constraint {constraint:?} is empty")]
    Empty { constraint: String },
    #[error("semver constraint {constraint:?}: {part:?} is not a version")]
    BadVersion { constraint: String, part: String },
    #[error("semver constraint {constraint:?}: dangling operator or range in {part:?}")]
    Dangling { constraint: String, part: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Tilde,
    Caret,
}

/// A version as written in a constraint: given parts, then wildcards.
/// `n + 1`, or `None` at `u64::MAX` (no version is above it: the range has no upper bound).
fn bump(n: u64) -> Option<u64> {
    n.checked_add(1)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: semver::Prerelease,
}

impl Partial {
    fn floor(&self) -> Version {
        let mut v =
            Version::new(self.major.unwrap_or(0), self.minor.unwrap_or(0), self.patch.unwrap_or(0));
        v.pre = self.pre.clone();
        v
    }

    /// The first version above everything this partial version covers, or `None` for `*` and
    /// when no such version exists (a component at `u64::MAX`: nothing is above it).
    fn ceiling(&self) -> Option<Version> {
        match (self.major, self.minor, self.patch) {
            (None, _, _) => None,
            (Some(m), None, _) => Some(Version::new(bump(m)?, 0, 0)),
            (Some(m), Some(n), None) => Some(Version::new(m, bump(n)?, 0)),
            (Some(m), Some(n), Some(p)) => Some(Version::new(m, n, bump(p)?)),
        }
    }

    fn is_exact(&self) -> bool {
        self.patch.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Partial,
}

/// A lower bound (inclusive) and an upper bound (exclusive unless `upper_inclusive`).
struct Range {
    lower: Option<Version>,
    upper: Option<Version>,
    upper_inclusive: bool,
}

impl Range {
    fn contains(&self, v: &Version) -> bool {
        let above = self.lower.as_ref().is_none_or(|l| cmp(v, l).is_ge());
        let below = match &self.upper {
            None => true,
            Some(u) if self.upper_inclusive => cmp(v, u).is_le(),
            Some(u) => cmp(v, u).is_lt(),
        };
        above && below
    }
}

/// Version order ignoring build metadata (semver's `Ord` also orders by build).
fn cmp(a: &Version, b: &Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch, &a.pre).cmp(&(b.major, b.minor, b.patch, &b.pre))
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        // A pre-release only matches comparators that name a pre-release of the same version.
        if !v.pre.is_empty() {
            let f = self.version.floor();
            if self.version.pre.is_empty()
                || (f.major, f.minor, f.patch) != (v.major, v.minor, v.patch)
            {
                return false;
            }
        }
        let p = &self.version;
        let floor = p.floor();
        let range = match self.op {
            Op::Eq | Op::Ne => {
                let inside = if p.is_exact() {
                    cmp(v, &floor).is_eq()
                } else {
                    Range { lower: Some(floor), upper: p.ceiling(), upper_inclusive: false }
                        .contains(v)
                };
                return inside == (self.op == Op::Eq);
            }
            Op::Gt if p.is_exact() => {
                return cmp(v, &floor).is_gt();
            }
            Op::Gt => match p.ceiling() {
                Some(c) => Range { lower: Some(c), upper: None, upper_inclusive: false },
                None => return false,
            },
            Op::Ge => Range { lower: Some(floor), upper: None, upper_inclusive: false },
            Op::Lt => Range { lower: None, upper: Some(floor), upper_inclusive: false },
            Op::Le if p.is_exact() => {
                Range { lower: None, upper: Some(floor), upper_inclusive: true }
            }
            Op::Le => Range { lower: None, upper: p.ceiling(), upper_inclusive: false },
            Op::Tilde => {
                let upper = match (p.major, p.minor) {
                    (None, _) => None,
                    (Some(m), None) => bump(m).map(|m| Version::new(m, 0, 0)),
                    (Some(m), Some(n)) => bump(n).map(|n| Version::new(m, n, 0)),
                };
                Range { lower: Some(floor), upper, upper_inclusive: false }
            }
            Op::Caret => {
                let upper = match (p.major, p.minor, p.patch) {
                    (None, _, _) => None,
                    (Some(m), _, _) if m > 0 => bump(m).map(|m| Version::new(m, 0, 0)),
                    (Some(0), None, _) => Some(Version::new(1, 0, 0)),
                    (Some(0), Some(n), _) if n > 0 => bump(n).map(|n| Version::new(0, n, 0)),
                    (Some(0), Some(0), None) => Some(Version::new(0, 1, 0)),
                    (Some(0), Some(0), Some(p)) => bump(p).map(|p| Version::new(0, 0, p)),
                    _ => None,
                };
                Range { lower: Some(floor), upper, upper_inclusive: false }
            }
        };
        range.contains(v)
    }
}

/// A parsed constraint: alternatives (`||`) of comparator sets that must all match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    alternatives: Vec<Vec<Comparator>>,
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Self, ConstraintError> {
        let mut alternatives = Vec::new();
        for group in text.split("||") {
            alternatives.push(parse_group(text, group)?);
        }
        if alternatives.iter().all(Vec::is_empty) {
            return Err(ConstraintError::Empty { constraint: text.to_owned() });
        }
        if alternatives.iter().any(Vec::is_empty) {
            return Err(ConstraintError::Dangling {
                constraint: text.to_owned(),
                part: "||".into(),
            });
        }
        Ok(Self { alternatives })
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.alternatives.iter().any(|all| all.iter().all(|c| c.matches(v)))
    }

    /// The highest of `candidates` (name, version) that matches.
    pub fn best<'a, T>(
        &self,
        candidates: impl IntoIterator<Item = (T, &'a Version)>,
    ) -> Option<(T, &'a Version)> {
        candidates.into_iter().filter(|(_, v)| self.matches(v)).max_by(|(_, a), (_, b)| cmp(a, b))
    }
}

/// Parses a tag name as a version: an optional `v`, and missing minor/patch read as 0.
pub fn tag_version(tag: &str) -> Option<Version> {
    let t = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    if let Ok(v) = Version::parse(t) {
        return Some(v);
    }
    // Coerce `1` and `1.2` (common tag spellings) to `1.0.0` and `1.2.0`.
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 2
        || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let padded = format!("{}{}{rest}", core, ".0".repeat(3 - parts.len()));
    Version::parse(&padded).ok()
}

fn parse_group(whole: &str, group: &str) -> Result<Vec<Comparator>, ConstraintError> {
    let tokens: Vec<&str> = group.split([' ', ',', '\t']).filter(|t| !t.is_empty()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    let dangling = |part: &str| ConstraintError::Dangling {
        constraint: whole.to_owned(),
        part: part.to_owned(),
    };
    while i < tokens.len() {
        let mut token = tokens[i].to_owned();
        // An operator written apart from its version: `>= 1.0`.
        if token.chars().all(|c| "<>=!~^".contains(c)) {
            let next = tokens.get(i + 1).ok_or_else(|| dangling(&token))?;
            token.push_str(next);
            i += 1;
        }
        // A hyphen range: `1.2 - 1.4.5`.
        if tokens.get(i + 1) == Some(&"-") {
            let upper = tokens.get(i + 2).ok_or_else(|| dangling(group))?;
            let lo = parse_partial(whole, &token)?;
            let hi = parse_partial(whole, upper)?;
            out.push(Comparator { op: Op::Ge, version: lo });
            out.push(Comparator { op: Op::Le, version: hi });
            i += 3;
            continue;
        }
        if token == "-" {
            return Err(dangling(group));
        }
        out.push(parse_comparator(whole, &token)?);
        i += 1;
    }
    Ok(out)
}

fn parse_comparator(whole: &str, token: &str) -> Result<Comparator, ConstraintError> {
    const OPS: [(&str, Op); 11] = [
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    for (prefix, op) in OPS {
        if let Some(rest) = token.strip_prefix(prefix) {
            return Ok(Comparator { op, version: parse_partial(whole, rest)? });
        }
    }
    Ok(Comparator { op: Op::Eq, version: parse_partial(whole, token)? })
}

fn parse_partial(whole: &str, text: &str) -> Result<Partial, ConstraintError> {
    let bad =
        || ConstraintError::BadVersion { constraint: whole.to_owned(), part: text.to_owned() };
    let t = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let t = t.split_once('+').map_or(t, |(core, _build)| core);
    let (core, pre) = match t.split_once('-') {
        Some((core, pre)) => (core, semver::Prerelease::new(pre).map_err(|_| bad())?),
        None => (t, semver::Prerelease::EMPTY),
    };
    if core.is_empty() {
        return Err(bad());
    }
    let mut nums: Vec<Option<u64>> = Vec::new();
    for part in core.split('.') {
        match part {
            "x" | "X" | "*" => nums.push(None),
            p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                // A number after a wildcard (`1.x.3`) means nothing.
                if nums.iter().any(Option::is_none) {
                    return Err(bad());
                }
                nums.push(Some(p.parse().map_err(|_| bad())?));
            }
            _ => return Err(bad()),
        }
    }
    if nums.len() > 3 {
        return Err(bad());
    }
    nums.resize(3, None);
    Ok(Partial { major: nums[0], minor: nums[1], patch: nums[2], pre })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, yes: &[&str], no: &[&str]) {
        let c = Constraint::parse(constraint).unwrap();
        for v in yes {
            assert!(c.matches(&tag_version(v).unwrap()), "{constraint} should match {v}");
        }
        for v in no {
            assert!(!c.matches(&tag_version(v).unwrap()), "{constraint} should not match {v}");
        }
    }

    #[test]
    fn wildcards_cover_the_missing_parts() {
        check("1.2.x", &["1.2.0", "1.2.9"], &["1.3.0", "1.1.9", "1.2.5-rc.1"]);
        check("1.2", &["1.2.0", "1.2.7"], &["1.3.0"]);
        check("*", &["0.0.1", "9.9.9"], &["1.0.0-alpha"]);
        check(">= 1.2.x", &["1.2.0", "2.0.0"], &["1.1.9"]);
        check("<= 2.x", &["2.9.9", "1.0.0"], &["3.0.0"]);
    }

    #[test]
    fn a_bare_version_is_exact_unlike_cargo() {
        check("1.2.3", &["1.2.3", "v1.2.3"], &["1.2.4", "1.3.0"]);
        check("=1.2.3", &["1.2.3"], &["1.2.4"]);
        check("!=1.2.3", &["1.2.4"], &["1.2.3"]);
    }

    #[test]
    fn tilde_and_caret_follow_masterminds() {
        check("~1.2.3", &["1.2.3", "1.2.9"], &["1.3.0", "1.2.2"]);
        check("~1.2", &["1.2.0", "1.2.9"], &["1.3.0"]);
        check("~1", &["1.0.0", "1.9.0"], &["2.0.0"]);
        check("~>1.2", &["1.2.5"], &["1.3.0"]);
        check("^1", &["1.0.0", "1.9.9"], &["2.0.0", "0.9.0"]);
        check("^1.2.3", &["1.2.3", "1.9.0"], &["2.0.0", "1.2.2"]);
        check("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0"]);
        check("^0.0.3", &["0.0.3"], &["0.0.4"]);
        check("^0.0", &["0.0.9"], &["0.1.0"]);
        check("^0", &["0.9.0"], &["1.0.0"]);
    }

    #[test]
    fn a_component_at_the_largest_number_has_no_upper_bound_instead_of_overflowing() {
        // Found by the fuzzer (`fuzz/fuzz_targets/source_strings.rs`): `m + 1` overflowed.
        let max = u64::MAX;
        for text in [format!("{max}.1"), format!("~{max}"), format!("^{max}.0"), format!("<={max}")]
        {
            let c = Constraint::parse(&text).expect("parses");
            assert!(c.matches(&Version::new(max, 1, 0)), "{text}");
            assert!(!c.matches(&Version::new(1, 0, 0)) || text.starts_with("<="), "{text}");
        }
    }

    #[test]
    fn comparators_are_anded_by_space_or_comma_and_ored_by_bars() {
        check(">=1.0 <2.0", &["1.0.0", "1.9.9"], &["2.0.0", "0.9.9"]);
        check(">= 1.0, < 2.0", &["1.5.0"], &["2.0.0"]);
        check(">1.2.3", &["1.2.4"], &["1.2.3"]);
        check(">1.2", &["1.3.0"], &["1.2.9"]);
        check("<1.2", &["1.1.9"], &["1.2.0"]);
        check("<=1.2.3", &["1.2.3"], &["1.2.4"]);
        check("^1 || ^3", &["1.5.0", "3.0.0"], &["2.0.0"]);
        check("1.2 - 1.4.5", &["1.2.0", "1.4.5"], &["1.4.6", "1.1.0"]);
        check("1.2 - 1.4", &["1.4.9"], &["1.5.0"]);
    }

    #[test]
    fn prereleases_match_only_comparators_that_name_one() {
        check(
            ">=1.2.3-beta.1",
            &["1.2.3-beta.2", "1.2.3", "1.3.0"],
            &["1.2.3-alpha", "1.3.0-rc.1"],
        );
        check("^1", &["1.4.0"], &["1.5.0-rc.1"]);
    }

    #[test]
    fn malformed_constraints_are_errors_naming_the_part() {
        assert!(matches!(Constraint::parse(""), Err(ConstraintError::Empty { .. })));
        let err = Constraint::parse(">=1.0 <banana").unwrap_err();
        assert_eq!(
            err,
            ConstraintError::BadVersion {
                constraint: ">=1.0 <banana".into(),
                part: "banana".into()
            }
        );
        assert!(matches!(Constraint::parse(">="), Err(ConstraintError::Dangling { .. })));
        assert!(matches!(Constraint::parse("^1 ||"), Err(ConstraintError::Dangling { .. })));
        assert!(Constraint::parse("1.x.3").is_err());
    }

    #[test]
    fn the_highest_matching_tag_wins() {
        let tags = ["v1.0.0", "v1.2.0", "v1.10.0", "v2.0.0", "v1.11.0-rc.1", "latest"];
        let versions: Vec<(&str, Version)> =
            tags.iter().filter_map(|t| tag_version(t).map(|v| (*t, v))).collect();
        let c = Constraint::parse("^1").unwrap();
        let best = c.best(versions.iter().map(|(t, v)| (*t, v))).unwrap();
        assert_eq!(best.0, "v1.10.0");
        assert_eq!(tag_version("v2"), Some(Version::new(2, 0, 0)));
        assert_eq!(tag_version("latest"), None);
    }
}
