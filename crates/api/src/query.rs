//! The app list's query: filters, sort and page of `GET /api/v1/applications`, with counts by
//! state and the values each filter can take. Pure: the handler hands it the apps the caller may
//! see, so 5,000 apps are filtered on the server and the browser receives one page.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::dto::AppSummary;

/// Query parameters the list understands; any other is refused rather than ignored, so a
/// misspelt filter does not silently return everything.
pub const PARAMETERS: &[&str] = &[
    "namespace",
    "sync",
    "health",
    "project",
    "cluster",
    "destNamespace",
    "repo",
    "label",
    "q",
    "sort",
    "offset",
    "limit",
];

/// A page holds at most this many apps.
pub const MAX_LIMIT: usize = 1000;

/// What was wrong with a query parameter, and what would be right.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("unknown query parameter {0:?}")]
    Unknown(String),
    #[error("query parameter {name}={value:?} is not {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

impl QueryError {
    pub fn hint(&self) -> String {
        match self {
            QueryError::Unknown(_) => format!(
                "parameters are {}, e.g. ?sync=OutOfSync&health=Degraded&sort=-health&limit=100",
                PARAMETERS.join(", ")
            ),
            QueryError::Invalid { .. } => "sort is a comma-separated list of name, namespace, project, cluster, destNamespace, sync, health, repo, reconciled (prefix - for descending); offset and limit are whole numbers; label is key or key=value".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Namespace,
    Project,
    Cluster,
    DestNamespace,
    Sync,
    Health,
    Repo,
    Reconciled,
}

/// A validated list query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    equal: Vec<(Field, String)>,
    labels: Vec<(String, Option<String>)>,
    text: Option<String>,
    /// Keys in order of precedence; the name breaks ties.
    sort: Vec<(SortKey, bool)>,
    offset: usize,
    limit: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Namespace,
    Sync,
    Health,
    Project,
    Cluster,
    DestNamespace,
    Repo,
}

impl Field {
    fn of(self, app: &AppSummary) -> &str {
        match self {
            Field::Namespace => &app.namespace,
            Field::Sync => &app.sync.status,
            Field::Health => &app.health.status,
            Field::Project => &app.project,
            Field::Cluster => &app.cluster,
            Field::DestNamespace => &app.destination_namespace,
            Field::Repo => &app.source.repo_url,
        }
    }

    /// Sync and health are filtered apart from the others, for the counts.
    fn is_state(self) -> bool {
        matches!(self, Field::Sync | Field::Health)
    }
}

/// Apps by sync status and by health status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub sync: BTreeMap<String, usize>,
    pub health: BTreeMap<String, usize>,
}

/// The distinct values of each filter among the apps the caller may see.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facets {
    pub project: Vec<String>,
    pub cluster: Vec<String>,
    pub namespace: Vec<String>,
    pub dest_namespace: Vec<String>,
    pub repo: Vec<String>,
    pub label: Vec<String>,
}

/// One page of matches, how many matched, the counts and the facets.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<AppSummary>,
    pub total: usize,
    pub counts: Counts,
    pub facets: Facets,
}

impl ListQuery {
    /// Parses the query string's parameters (each named once; `label` may repeat as `a=b,c`).
    pub fn parse(params: &BTreeMap<String, String>) -> Result<Self, QueryError> {
        let mut query = ListQuery::default();
        for (name, value) in params {
            let field = match name.as_str() {
                "namespace" => Some(Field::Namespace),
                "sync" => Some(Field::Sync),
                "health" => Some(Field::Health),
                "project" => Some(Field::Project),
                "cluster" => Some(Field::Cluster),
                "destNamespace" => Some(Field::DestNamespace),
                "repo" => Some(Field::Repo),
                _ => None,
            };
            if let Some(field) = field {
                query.equal.push((field, value.clone()));
                continue;
            }
            match name.as_str() {
                "label" => query.labels = parse_labels(value),
                "q" => query.text = Some(value.trim().to_lowercase()).filter(|t| !t.is_empty()),
                "sort" => {
                    query.sort = value
                        .split(',')
                        .filter(|k| !k.trim().is_empty())
                        .map(|k| parse_sort(k.trim()))
                        .collect::<Result<_, _>>()?
                }
                "offset" => query.offset = number("offset", value)?,
                "limit" => query.limit = Some(number("limit", value)?.min(MAX_LIMIT)),
                _ => return Err(QueryError::Unknown(name.clone())),
            }
        }
        Ok(query)
    }

    /// Filters, counts, sorts and pages `apps` (the apps the caller may see).
    pub fn run(&self, apps: Vec<AppSummary>) -> Page {
        let facets = facets(&apps);
        let mut counts = Counts::default();
        let mut matched = Vec::new();
        for app in apps {
            if !self.matches_besides_state(&app) {
                continue;
            }
            *counts.sync.entry(app.sync.status.clone()).or_default() += 1;
            *counts.health.entry(app.health.status.clone()).or_default() += 1;
            if self.matches_state(&app) {
                matched.push(app);
            }
        }
        let by_name =
            |a: &AppSummary, b: &AppSummary| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace));
        if self.sort.is_empty() {
            matched.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        } else {
            matched.sort_by(|a, b| {
                self.sort
                    .iter()
                    .map(|(key, descending)| {
                        let order = compare(*key, a, b);
                        if *descending { order.reverse() } else { order }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| by_name(a, b))
            });
        }
        let total = matched.len();
        let items = match self.limit {
            Some(limit) => matched.into_iter().skip(self.offset).take(limit).collect(),
            None => matched.into_iter().skip(self.offset).collect(),
        };
        Page { items, total, counts, facets }
    }

    fn matches_besides_state(&self, app: &AppSummary) -> bool {
        let fields = self.equal.iter().filter(|(f, _)| !f.is_state()).all(|(f, v)| f.of(app) == v);
        let labels = self.labels.iter().all(|(key, value)| match (app.labels.get(key), value) {
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
            (None, _) => false,
        });
        let text = self.text.as_deref().is_none_or(|t| {
            [&app.name, &app.namespace, &app.project, &app.source.repo_url, &app.source.path]
                .iter()
                .any(|s| s.to_lowercase().contains(t))
        });
        fields && labels && text
    }

    fn matches_state(&self, app: &AppSummary) -> bool {
        self.equal
            .iter()
            .filter(|(f, _)| f.is_state())
            .all(|(f, v)| f.of(app).eq_ignore_ascii_case(v))
    }
}

fn parse_labels(value: &str) -> Vec<(String, Option<String>)> {
    value
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), Some(v.trim().to_owned())),
            None => (l.to_owned(), None),
        })
        .collect()
}

fn parse_sort(value: &str) -> Result<(SortKey, bool), QueryError> {
    let (descending, name) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let key = match name {
        "name" => SortKey::Name,
        "namespace" => SortKey::Namespace,
        "project" => SortKey::Project,
        "cluster" => SortKey::Cluster,
        "destNamespace" => SortKey::DestNamespace,
        "sync" => SortKey::Sync,
        "health" => SortKey::Health,
        "repo" => SortKey::Repo,
        "reconciled" => SortKey::Reconciled,
        _ => {
            return Err(QueryError::Invalid {
                name: "sort",
                value: value.to_owned(),
                expected: "a sort key",
            });
        }
    };
    Ok((key, descending))
}

fn number(name: &'static str, value: &str) -> Result<usize, QueryError> {
    value.trim().parse().map_err(|_| QueryError::Invalid {
        name,
        value: value.to_owned(),
        expected: "a whole number",
    })
}

/// Worst first when sorted ascending: what needs attention comes to the top.
fn health_rank(status: &str) -> u8 {
    match status {
        "Degraded" => 0,
        "Missing" => 1,
        "Unknown" => 2,
        "Progressing" => 3,
        "Suspended" => 4,
        "Healthy" => 5,
        _ => 6,
    }
}

fn sync_rank(status: &str) -> u8 {
    match status {
        "OutOfSync" => 0,
        "Unknown" => 1,
        "Synced" => 2,
        _ => 3,
    }
}

fn compare(key: SortKey, a: &AppSummary, b: &AppSummary) -> Ordering {
    match key {
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::Namespace => a.namespace.cmp(&b.namespace),
        SortKey::Project => a.project.cmp(&b.project),
        SortKey::Cluster => a.cluster.cmp(&b.cluster),
        SortKey::DestNamespace => a.destination_namespace.cmp(&b.destination_namespace),
        SortKey::Sync => sync_rank(&a.sync.status).cmp(&sync_rank(&b.sync.status)),
        SortKey::Health => health_rank(&a.health.status).cmp(&health_rank(&b.health.status)),
        SortKey::Repo => a.source.repo_url.cmp(&b.source.repo_url),
        SortKey::Reconciled => a.reconciled_at.cmp(&b.reconciled_at),
    }
}

fn facets(apps: &[AppSummary]) -> Facets {
    let distinct = |f: &dyn Fn(&AppSummary) -> &str| -> Vec<String> {
        apps.iter()
            .map(f)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let label = apps
        .iter()
        .flat_map(|a| a.labels.iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<BTreeSet<_>>()
        .into_iter()
        // Labels such as a hash per app would make the facet as long as the list.
        .take(200)
        .collect();
    Facets {
        project: distinct(&|a| &a.project),
        cluster: distinct(&|a| &a.cluster),
        namespace: distinct(&|a| &a.namespace),
        dest_namespace: distinct(&|a| &a.destination_namespace),
        repo: distinct(&|a| &a.source.repo_url),
        label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::{HealthDto, SourceDto, SyncDto};

    fn app(name: &str, project: &str, sync: &str, health: &str) -> AppSummary {
        AppSummary {
            namespace: "ferry".into(),
            name: name.into(),
            project: project.into(),
            cluster: "in-cluster".into(),
            labels: [("team".to_owned(), format!("team-{project}"))].into(),
            sync: SyncDto { status: sync.into(), revision: String::new(), checked_at: None },
            health: HealthDto { status: health.into(), message: String::new() },
            source: SourceDto {
                repo_url: format!("https://git.example/{project}.git"),
                path: format!("apps/{name}"),
                target_revision: "main".into(),
            },
            destination_namespace: name.into(),
            auto_sync: true,
            suspended: false,
            pinned: None,
            last_operation: None,
            reconciled_at: None,
            problems: Vec::new(),
        }
    }

    fn fleet() -> Vec<AppSummary> {
        vec![
            app("web", "shop", "Synced", "Healthy"),
            app("cart", "shop", "OutOfSync", "Degraded"),
            app("ledger", "bank", "Synced", "Progressing"),
            app("audit", "bank", "OutOfSync", "Healthy"),
        ]
    }

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, QueryError> {
        ListQuery::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn names(page: &Page) -> Vec<&str> {
        page.items.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn counts_by_state_ignore_the_state_filters_but_honour_the_others() {
        let page = query(&[("project", "shop"), ("sync", "OutOfSync")]).unwrap().run(fleet());
        assert_eq!(names(&page), ["cart"]);
        assert_eq!(page.total, 1);
        assert_eq!(page.counts.sync, [("OutOfSync".into(), 1), ("Synced".into(), 1)].into());
        assert_eq!(page.facets.project, ["bank", "shop"]);
    }

    #[test]
    fn sorting_by_health_puts_the_worst_first_and_a_page_is_a_window_of_the_total() {
        let page =
            query(&[("sort", "health"), ("offset", "1"), ("limit", "2")]).unwrap().run(fleet());
        assert_eq!(page.total, 4);
        assert_eq!(names(&page), ["ledger", "audit"]);
        let page = query(&[("sort", "-name")]).unwrap().run(fleet());
        assert_eq!(names(&page), ["web", "ledger", "cart", "audit"]);
        let page = query(&[("sort", "project,-sync")]).unwrap().run(fleet());
        assert_eq!(names(&page), ["ledger", "audit", "web", "cart"]);
    }

    #[test]
    fn text_search_and_labels_narrow_the_list() {
        let page = query(&[("q", "LED")]).unwrap().run(fleet());
        assert_eq!(names(&page), ["ledger"]);
        let page = query(&[("label", "team=team-bank")]).unwrap().run(fleet());
        assert_eq!(names(&page), ["audit", "ledger"]);
        let page = query(&[("label", "tier")]).unwrap().run(fleet());
        assert!(page.items.is_empty());
    }

    #[test]
    fn a_misspelt_parameter_or_sort_key_is_refused_with_what_is_allowed() {
        let err = query(&[("helth", "Degraded")]).unwrap_err();
        assert_eq!(err, QueryError::Unknown("helth".into()));
        assert!(err.hint().contains("health"));
        let err = query(&[("sort", "colour")]).unwrap_err();
        assert!(err.to_string().contains("sort=\"colour\""), "{err}");
        assert!(query(&[("limit", "many")]).is_err());
    }
}
