//! What a project allows, checked as pure functions: the app's spec (its namespace, repository
//! and destination) before anything is fetched, and every rendered object (kind and namespace)
//! before anything is applied. Argo CD's rules: globs everywhere, `!` before a repository or
//! destination glob refuses what it matches, a blacklist beats a whitelist, an empty
//! `clusterResourceWhitelist` allows no cluster-scoped kind, an empty
//! `namespaceResourceWhitelist` allows every namespaced kind.

use globset::GlobBuilder;

use super::{GroupKind, Project, ProjectDestination};

/// Why a project refuses an app or one of its objects; each names the project field that
/// refused and the object or value it refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "Application namespace {namespace:?} is not in project {project}'s sourceNamespaces ({allowed})"
    )]
    SourceNamespace { project: String, namespace: String, allowed: String },
    #[error("repository {repo} is not permitted by project {project}'s sourceRepos ({allowed})")]
    SourceRepo { project: String, repo: String, allowed: String },
    #[error(
        "destination {cluster} namespace {namespace:?}{what} is not permitted by project {project}'s destinations ({allowed})"
    )]
    Destination {
        project: String,
        cluster: String,
        namespace: String,
        what: String,
        allowed: String,
    },
    #[error("{object}: kind {group_kind} is refused by project {project}'s {field}")]
    Kind { project: String, object: String, group_kind: String, field: &'static str },
    #[error(
        "project {project} lists destinationServiceAccounts, but none matches destination {server} namespace {namespace:?}; the app's objects are applied only as a ServiceAccount the project names"
    )]
    NoServiceAccount { project: String, server: String, namespace: String },
    #[error(
        "project {project}'s destinationServiceAccounts entry {entry:?} is not NAME or NAMESPACE:NAME"
    )]
    BadServiceAccount { project: String, entry: String },
    #[error(
        "project {project}'s {field} has a pattern that does not parse, {pattern:?}: {message}"
    )]
    BadPattern { project: String, field: &'static str, pattern: String, message: String },
}

impl Violation {
    /// The condition reason: which kind of rule refused.
    pub fn reason(&self) -> &'static str {
        match self {
            Violation::SourceNamespace { .. } => "SourceNamespaceNotPermitted",
            Violation::SourceRepo { .. } => "SourceRepoNotPermitted",
            Violation::Destination { .. } => "DestinationNotPermitted",
            Violation::Kind { .. } => "ResourceNotPermitted",
            Violation::NoServiceAccount { .. } => "NoServiceAccount",
            Violation::BadServiceAccount { .. } => "InvalidProject",
            Violation::BadPattern { .. } => "InvalidProject",
        }
    }
}

/// The destination cluster as both its server URL and its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cluster {
    pub server: String,
    pub name: String,
}

/// What the spec check reads of an app.
#[derive(Clone, Debug, Default)]
pub struct AppFacts<'a> {
    /// The namespace the Application lives in.
    pub namespace: &'a str,
    /// Ferry's own namespace: its Applications need no `sourceNamespaces` entry.
    pub home_namespace: &'a str,
    pub repo_url: &'a str,
    pub cluster: Cluster,
    pub dest_namespace: &'a str,
}

/// One rendered object as the object check reads it.
#[derive(Clone, Debug, Default)]
pub struct ObjectFacts<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    /// `None` for a cluster-scoped object.
    pub namespace: Option<&'a str>,
    /// `Kind namespace/name`, as messages show it.
    pub display: String,
}

fn glob(project: &str, field: &'static str, pattern: &str, text: &str) -> Result<bool, Violation> {
    // `*` crosses `/` (a URL or a group has them), as Argo CD's globs do; case matters.
    let matcher = GlobBuilder::new(pattern).literal_separator(false).build().map_err(|e| {
        Violation::BadPattern {
            project: project.to_owned(),
            field,
            pattern: pattern.to_owned(),
            message: e.kind().to_string(),
        }
    })?;
    Ok(matcher.compile_matcher().is_match(text))
}

/// Allowed when a plain pattern matches and no `!` pattern does.
fn allowed_by(
    project: &str,
    field: &'static str,
    patterns: &[String],
    text: &str,
) -> Result<bool, Violation> {
    let mut allowed = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if glob(project, field, neg, text)? => return Ok(false),
            Some(_) => {}
            None => allowed |= glob(project, field, p, text)?,
        }
    }
    Ok(allowed)
}

/// The app's namespace, repository and destination, before anything is fetched.
pub fn check_spec(project: &Project, app: &AppFacts<'_>) -> Result<(), Violation> {
    let name = project_name(project);
    let spec = &project.spec;
    if app.namespace != app.home_namespace
        && !allowed_by(&name, "sourceNamespaces", &spec.source_namespaces, app.namespace)?
    {
        return Err(Violation::SourceNamespace {
            project: name,
            namespace: app.namespace.to_owned(),
            allowed: list(&spec.source_namespaces),
        });
    }
    if !allowed_by(&name, "sourceRepos", &spec.source_repos, app.repo_url)? {
        return Err(Violation::SourceRepo {
            project: name,
            repo: app.repo_url.to_owned(),
            allowed: list(&spec.source_repos),
        });
    }
    check_destination(project, &app.cluster, app.dest_namespace, "")
}

/// Whether the project's destinations allow `namespace` in `cluster`.
fn check_destination(
    project: &Project,
    cluster: &Cluster,
    namespace: &str,
    what: &str,
) -> Result<(), Violation> {
    let name = project_name(project);
    if destination_matches(&name, &project.spec.destinations, cluster, namespace)? {
        return Ok(());
    }
    let allowed: Vec<String> = project.spec.destinations.iter().map(show_destination).collect();
    Err(Violation::Destination {
        project: name,
        cluster: if cluster.name.is_empty() {
            cluster.server.clone()
        } else {
            cluster.name.clone()
        },
        namespace: namespace.to_owned(),
        what: what.to_owned(),
        allowed: list(&allowed),
    })
}

/// Whether `destinations` allow `namespace` in `cluster`: one plain entry matches and no entry
/// with a `!` server, name or namespace matches.
pub fn destination_matches(
    project: &str,
    destinations: &[ProjectDestination],
    cluster: &Cluster,
    namespace: &str,
) -> Result<bool, Violation> {
    let field = "destinations";
    let mut allowed = false;
    for d in destinations {
        let (server, neg_server) = negated(d.server.as_deref());
        let (name, neg_name) = negated(d.name.as_deref());
        let (ns, neg_ns) = negated(Some(&d.namespace));
        let cluster_ok = match (server, name) {
            (Some(s), _) if glob(project, field, s, &cluster.server)? => true,
            (_, Some(n)) => glob(project, field, n, &cluster.name)?,
            _ => false,
        };
        let ns_ok = glob(project, field, ns.unwrap_or("*"), namespace)?;
        if neg_server || neg_name || neg_ns {
            // A deny entry: refuses when the negated parts match and the others do too.
            if cluster_ok && ns_ok {
                return Ok(false);
            }
        } else {
            allowed |= cluster_ok && ns_ok;
        }
    }
    Ok(allowed)
}

fn negated(p: Option<&str>) -> (Option<&str>, bool) {
    match p {
        Some(p) => match p.strip_prefix('!') {
            Some(rest) => (Some(rest), true),
            None => (Some(p), false),
        },
        None => (None, false),
    }
}

/// Every rendered object: its kind by the resource lists, its namespace by the destinations.
pub fn check_objects<'a>(
    project: &Project,
    cluster: &Cluster,
    objects: impl IntoIterator<Item = ObjectFacts<'a>>,
) -> Result<(), Violation> {
    for o in objects {
        check_kind(project, &o)?;
        if let Some(ns) = o.namespace {
            check_destination(project, cluster, ns, &format!(" (of {})", o.display))?;
        }
    }
    Ok(())
}

/// The user the app's objects are applied as: `system:serviceaccount:NS:NAME` of the first
/// `destinationServiceAccounts` entry matching the destination (Argo CD's rule), `None` when the
/// project lists none (Ferry's own identity), and an error when it lists some but none matches.
pub fn service_account(
    project: &Project,
    cluster: &Cluster,
    dest_namespace: &str,
) -> Result<Option<String>, Violation> {
    let name = project_name(project);
    let entries = &project.spec.destination_service_accounts;
    if entries.is_empty() {
        return Ok(None);
    }
    let field = "destinationServiceAccounts";
    for e in entries {
        let server = if e.server.is_empty() { "*" } else { e.server.as_str() };
        let matched = glob(&name, field, server, &cluster.server)?
            && glob(&name, field, &e.namespace, dest_namespace)?;
        if !matched {
            continue;
        }
        let (ns, sa) = match e.default_service_account.split_once(':') {
            Some((ns, sa)) => (ns, sa),
            None => (dest_namespace, e.default_service_account.as_str()),
        };
        // Kubernetes names: what an `Impersonate-User` header can always carry.
        let dns = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        if !dns(ns) || !dns(sa) {
            return Err(Violation::BadServiceAccount {
                project: name,
                entry: e.default_service_account.clone(),
            });
        }
        return Ok(Some(format!("system:serviceaccount:{ns}:{sa}")));
    }
    Err(Violation::NoServiceAccount {
        project: name,
        server: cluster.server.clone(),
        namespace: dest_namespace.to_owned(),
    })
}

fn check_kind(project: &Project, o: &ObjectFacts<'_>) -> Result<(), Violation> {
    let spec = &project.spec;
    let (white, white_field, black, black_field, empty_allows) = match o.namespace {
        None => (
            &spec.cluster_resource_whitelist,
            "clusterResourceWhitelist",
            &spec.cluster_resource_blacklist,
            "clusterResourceBlacklist",
            false,
        ),
        Some(_) => (
            &spec.namespace_resource_whitelist,
            "namespaceResourceWhitelist",
            &spec.namespace_resource_blacklist,
            "namespaceResourceBlacklist",
            true,
        ),
    };
    let name = project_name(project);
    let refuse = |field| Violation::Kind {
        project: name.clone(),
        object: o.display.clone(),
        group_kind: show_group_kind(o.group, o.kind),
        field,
    };
    if any_kind(&name, black_field, black, o)? {
        return Err(refuse(black_field));
    }
    let whitelisted = (empty_allows && white.is_empty()) || any_kind(&name, white_field, white, o)?;
    if !whitelisted {
        return Err(refuse(white_field));
    }
    Ok(())
}

fn any_kind(
    project: &str,
    field: &'static str,
    list: &[GroupKind],
    o: &ObjectFacts<'_>,
) -> Result<bool, Violation> {
    for gk in list {
        if glob(project, field, &gk.group, o.group)? && glob(project, field, &gk.kind, o.kind)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn project_name(project: &Project) -> String {
    project.metadata.name.clone().unwrap_or_default()
}

fn show_group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") }
}

fn show_destination(d: &ProjectDestination) -> String {
    let cluster = d.server.as_deref().or(d.name.as_deref()).unwrap_or("*");
    format!("{cluster} {}", if d.namespace.is_empty() { "*" } else { &d.namespace })
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

#[cfg(test)]
mod tests;
