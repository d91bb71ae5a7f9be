//! Which tag to deploy, chosen from a registry's tag list (Flux `ImagePolicy` semantics):
//! an optional regex filter with extraction, then a semver range, or alphabetical or numerical
//! order of the (extracted) values.
//!
//! ```yaml
//! filterTags:
//!   pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
//!   extract: '$ts'
//! policy:
//!   numerical: { order: asc }
//! ```
//!
//! `policy: {newest: {}}` picks the most recently built image among the filtered tags; it needs
//! each candidate's creation time from the registry ([`CompiledPolicy::candidates`], then
//! [`CompiledPolicy::choose_newest`]).

use std::cmp::Ordering;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest accepted regex pattern, and the compiled-size limit given to the regex engine.
const MAX_PATTERN_BYTES: usize = 1024;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagFilter {
    /// A regex the tag must match.
    pub pattern: String,
    /// What to order by instead of the tag: a replacement with `$name`/`$1` capture groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Smallest first: the last one is chosen.
    #[default]
    Asc,
    /// Largest first: the last one (the smallest) is chosen.
    Desc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Policy {
    /// The highest version in a semver range (`>=1.0.0 <2.0.0`, `^1.2`, `*`); a leading `v`
    /// in tags is accepted.
    Semver { range: String },
    /// The last value in alphabetical order (`asc`) or the first (`desc`).
    Alphabetical {
        #[serde(default)]
        order: SortOrder,
    },
    /// Like alphabetical, comparing the values as numbers; values that are not numbers are
    /// skipped (a stray tag in the registry must not block every update).
    Numerical {
        #[serde(default)]
        order: SortOrder,
    },
    /// The most recently built image (the `created` time of its config), ties to the larger tag.
    Newest {},
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<TagFilter>,
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("tag filter pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("semver range {range:?}: {message}")]
    Range { range: String, message: String },
}

/// A validated policy, ready to choose.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    filter: Option<(Regex, Option<String>)>,
    order: Compiled,
}

#[derive(Debug, Clone)]
enum Compiled {
    /// Alternatives (`||`): a version matching any of them qualifies.
    Semver(Vec<semver::VersionReq>),
    Alphabetical(SortOrder),
    Numerical(SortOrder),
    Newest,
}

impl ImagePolicy {
    pub fn compile(&self) -> Result<CompiledPolicy, PolicyError> {
        let filter = match &self.filter_tags {
            Some(filter) => {
                let error = |message: String| PolicyError::Pattern {
                    pattern: filter.pattern.clone(),
                    message,
                };
                if filter.pattern.len() > MAX_PATTERN_BYTES {
                    return Err(error(format!("longer than {MAX_PATTERN_BYTES} bytes")));
                }
                let regex = regex::RegexBuilder::new(&filter.pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|source| error(source.to_string()))?;
                Some((regex, filter.extract.clone()))
            }
            None => None,
        };
        let order = match &self.policy {
            Policy::Semver { range } => Compiled::Semver(parse_range(range)?),
            Policy::Alphabetical { order } => Compiled::Alphabetical(*order),
            Policy::Numerical { order } => Compiled::Numerical(*order),
            Policy::Newest {} => Compiled::Newest,
        };
        Ok(CompiledPolicy { filter, order })
    }
}

impl CompiledPolicy {
    /// Whether choosing needs creation times ([`CompiledPolicy::choose_newest`]).
    pub fn needs_creation_times(&self) -> bool {
        matches!(self.order, Compiled::Newest)
    }

    /// The tags that pass the filter.
    pub fn candidates<'a>(&self, tags: &'a [String]) -> Vec<&'a str> {
        self.filtered(tags).map(|(tag, _)| tag).collect()
    }

    /// The newest of `(tag, created)` pairs (from [`CompiledPolicy::candidates`]); ties go to
    /// the larger tag.
    pub fn choose_newest<'a>(&self, created: &[(&'a str, jiff::Timestamp)]) -> Option<&'a str> {
        created.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0))).map(|(tag, _)| *tag)
    }

    /// The tag to deploy, or `None` when no tag qualifies. Ties go to the larger tag string so
    /// the choice does not depend on the registry's listing order. Always `None` for `newest`,
    /// which needs creation times: see [`CompiledPolicy::choose_newest`].
    pub fn choose<'a>(&self, tags: &'a [String]) -> Option<&'a str> {
        let candidates = self.filtered(tags);
        match &self.order {
            Compiled::Semver(range) => candidates
                .filter_map(|(tag, value)| {
                    let version =
                        semver::Version::parse(value.strip_prefix('v').unwrap_or(&value)).ok()?;
                    range.iter().any(|req| req.matches(&version)).then_some((version, tag))
                })
                .max()
                .map(|(_, tag)| tag),
            Compiled::Alphabetical(order) => pick(candidates.collect(), *order, |a, b| a.cmp(b)),
            Compiled::Numerical(order) => {
                let numbers: Vec<(&str, f64)> = candidates
                    .filter_map(|(tag, value)| {
                        value.trim().parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| (tag, n))
                    })
                    .collect();
                pick(numbers, *order, |a, b| a.total_cmp(b))
            }
            Compiled::Newest => None,
        }
    }

    /// `(tag, value to order by)` of the tags passing the filter.
    fn filtered<'s, 'a>(
        &'s self,
        tags: &'a [String],
    ) -> impl Iterator<Item = (&'a str, String)> + use<'s, 'a> {
        tags.iter().filter_map(|tag| {
            let value = match &self.filter {
                None => tag.clone(),
                Some((regex, extract)) => {
                    let captures = regex.captures(tag)?;
                    match extract {
                        Some(template) => {
                            let mut value = String::new();
                            captures.expand(template, &mut value);
                            value
                        }
                        None => tag.clone(),
                    }
                }
            };
            Some((tag.as_str(), value))
        })
    }
}

/// A range as Flux (Masterminds semver) writes it, for the `semver` crate: comparators separated
/// by spaces or commas (all must hold), alternatives separated by `||`, hyphen ranges
/// `1.2 - 1.4`, and an operator apart from its version (`>= 1.2`).
fn parse_range(range: &str) -> Result<Vec<semver::VersionReq>, PolicyError> {
    let error = |message: String| PolicyError::Range { range: range.to_string(), message };
    let mut alternatives = Vec::new();
    for alternative in range.split("||") {
        let tokens: Vec<&str> =
            alternative.split([' ', ',', '\t']).filter(|t| !t.is_empty()).collect();
        if tokens.is_empty() {
            return Err(error("an empty alternative".to_string()));
        }
        let mut comparators: Vec<String> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            if tokens.get(i + 1) == Some(&"-") {
                let upper = tokens
                    .get(i + 2)
                    .ok_or_else(|| error("a hyphen range without an upper bound".to_string()))?;
                comparators.push(format!(">={token}"));
                comparators.push(format!("<={upper}"));
                i += 3;
            } else if token.chars().all(|c| "<>=~^".contains(c)) {
                let version = tokens
                    .get(i + 1)
                    .ok_or_else(|| error(format!("{token:?} without a version")))?;
                comparators.push(format!("{token}{version}"));
                i += 2;
            } else {
                comparators.push(token.to_string());
                i += 1;
            }
        }
        let req = semver::VersionReq::parse(&comparators.join(", "))
            .map_err(|source| error(source.to_string()))?;
        alternatives.push(req);
    }
    Ok(alternatives)
}

fn pick<V>(
    candidates: Vec<(&str, V)>,
    order: SortOrder,
    compare: impl Fn(&V, &V) -> Ordering,
) -> Option<&str> {
    let ranked = |a: &(&str, V), b: &(&str, V)| compare(&a.1, &b.1).then_with(|| a.0.cmp(b.0));
    let chosen = match order {
        SortOrder::Asc => candidates.into_iter().max_by(|a, b| ranked(a, b)),
        SortOrder::Desc => candidates.into_iter().min_by(|a, b| ranked(a, b)),
    };
    chosen.map(|(tag, _)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn policy(yaml_like: serde_json::Value) -> CompiledPolicy {
        serde_json::from_value::<ImagePolicy>(yaml_like)
            .expect("valid policy")
            .compile()
            .expect("compiles")
    }

    #[test]
    fn semver_picks_the_highest_version_in_range_and_skips_prereleases_and_junk() {
        let chosen =
            policy(serde_json::json!({"policy": {"semver": {"range": ">=1.0.0, <2.0.0"}}}));
        let list = tags(&["1.2.0", "v1.10.1", "1.11.0-rc.1", "2.0.0", "latest", "sha-abc"]);
        assert_eq!(chosen.choose(&list), Some("v1.10.1"));
    }

    #[test]
    fn flux_range_syntax_is_understood() {
        let list = tags(&["1.2.0", "1.9.0", "2.0.0", "3.1.0", "4.0.0"]);
        let choose = |range: &str| {
            policy(serde_json::json!({"policy": {"semver": {"range": range}}}))
                .choose(&list)
                .map(str::to_string)
        };
        assert_eq!(choose(">=1.0.0 <2.0.0").as_deref(), Some("1.9.0"));
        assert_eq!(choose(">= 1.0.0, < 2.0.0").as_deref(), Some("1.9.0"));
        assert_eq!(choose("^1 || ^3").as_deref(), Some("3.1.0"));
        assert_eq!(choose("1.0.0 - 2.0.0").as_deref(), Some("2.0.0"));
    }

    #[test]
    fn a_filter_with_extraction_orders_by_the_extracted_number() {
        let chosen = policy(serde_json::json!({
            "filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)$", "extract": "$ts"},
            "policy": {"numerical": {"order": "asc"}}
        }));
        let list = tags(&["main-abc123-99", "main-def456-1000", "feature-x-5000", "main-000000-7"]);
        assert_eq!(chosen.choose(&list), Some("main-def456-1000"));
    }

    #[test]
    fn alphabetical_order_can_be_reversed() {
        let list = tags(&["2024-01-03", "2024-01-10", "2023-12-31"]);
        let asc = policy(serde_json::json!({"policy": {"alphabetical": {"order": "asc"}}}));
        let desc = policy(serde_json::json!({"policy": {"alphabetical": {"order": "desc"}}}));
        assert_eq!(asc.choose(&list), Some("2024-01-10"));
        assert_eq!(desc.choose(&list), Some("2023-12-31"));
    }

    #[test]
    fn newest_filters_first_then_picks_the_latest_creation_time() {
        let chosen = policy(serde_json::json!({
            "filterTags": {"pattern": "^main-"},
            "policy": {"newest": {}}
        }));
        let list = tags(&["main-a", "main-b", "feature-c"]);
        assert_eq!(chosen.candidates(&list), ["main-a", "main-b"]);
        assert_eq!(chosen.choose(&list), None, "newest needs creation times");
        let time = |s: &str| s.parse::<jiff::Timestamp>().expect("valid time");
        let created =
            [("main-a", time("2026-01-02T00:00:00Z")), ("main-b", time("2026-01-01T00:00:00Z"))];
        assert_eq!(chosen.choose_newest(&created), Some("main-a"));
    }

    #[test]
    fn nothing_qualifying_is_none_not_a_guess() {
        let chosen = policy(serde_json::json!({"policy": {"semver": {"range": "^3"}}}));
        assert_eq!(chosen.choose(&tags(&["1.0.0", "2.0.0"])), None);
    }

    #[test]
    fn bad_patterns_and_ranges_are_errors_naming_them() {
        let bad_regex = ImagePolicy {
            filter_tags: Some(TagFilter { pattern: "([a-z".into(), extract: None }),
            policy: Policy::Alphabetical { order: SortOrder::Asc },
        };
        assert!(matches!(bad_regex.compile(), Err(PolicyError::Pattern { .. })));
        let bad_range =
            ImagePolicy { filter_tags: None, policy: Policy::Semver { range: ">>1".into() } };
        let error = bad_range.compile().expect_err("bad range").to_string();
        assert!(error.starts_with("semver range \">>1\""), "{error}");
    }
}
