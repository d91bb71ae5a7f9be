//! Where image references live in a YAML document: container images of Kubernetes objects,
//! kustomization `images:` entries, and scalars marked with a setter comment.
//!
//! Markers (one per line, after the value):
//! - Flux: `# {"$imagepolicy": "NS:NAME"}` (whole reference), `…:tag`, `…:name`, `…:digest`.
//!   The marker names a policy, not an image: the image is read from the policy's whole-reference
//!   or `:name` field in the same document.
//! - Ferry: `# {"$ferry-image": "IMAGE"}` (whole reference), `IMAGE:tag`, `IMAGE:name`,
//!   `IMAGE:digest`. Self-contained: the marker names the image.

use std::collections::BTreeMap;

use crate::reference::ImageRef;
use crate::yaml::{Kind, Node};

/// Which part of a reference a scalar holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Full,
    Name,
    Tag,
    Digest,
}

/// A scalar to edit, with the image name it belongs to.
#[derive(Debug)]
pub(crate) struct ScalarSite<'a> {
    pub(crate) node: &'a Node,
    pub(crate) field: Field,
    pub(crate) image: String,
}

#[derive(Debug, Default)]
pub(crate) struct Sites<'a> {
    pub(crate) scalars: Vec<ScalarSite<'a>>,
    /// Entries of a kustomization's `images:` list.
    pub(crate) kustomize_entries: Vec<&'a Node>,
    /// Things seen but not usable, for the report (line, message).
    pub(crate) notes: Vec<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SiteError {
    pub line: usize,
    pub message: String,
}

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

pub(crate) fn find<'a>(text: &str, doc: &'a Node, file_name: &str) -> Result<Sites<'a>, SiteError> {
    let mut sites = Sites::default();
    let kind = doc.get_str("kind");
    let api_version = doc.get_str("apiVersion");
    let is_kustomization = match kind {
        Some("Kustomization") => {
            api_version.is_none_or(|version| version.starts_with("kustomize.config.k8s.io/"))
        }
        None => matches!(file_name, "kustomization.yaml" | "kustomization.yml" | "Kustomization"),
        Some(_) => false,
    };
    if is_kustomization {
        if let Some(images) = doc.get("images") {
            sites.kustomize_entries.extend(images.items().iter().filter(|entry| {
                matches!(entry.kind, Kind::Mapping { .. }) && entry.get_str("name").is_some()
            }));
        }
    } else if kind.is_some() && api_version.is_some() {
        collect_containers(doc, &mut sites);
    }
    collect_markers(text, doc, &mut sites)?;
    Ok(sites)
}

/// Any list under `containers`/`initContainers`/`ephemeralContainers` whose items have an
/// `image`: this covers every workload kind and custom resources with pod templates, without a
/// list of kinds to keep up to date.
fn collect_containers<'a>(node: &'a Node, sites: &mut Sites<'a>) {
    for (key, value) in node.entries() {
        if let Some(key) = key.as_scalar()
            && CONTAINER_LISTS.contains(&key)
            && let Kind::Sequence { items, .. } = &value.kind
        {
            for container in items {
                if let Some(image) = container.get("image")
                    && let Some(current) = image.as_scalar()
                    // Not a reference (e.g. `${IMAGE}` for a later substitution): not ours.
                    && let Ok(reference) = ImageRef::parse(current)
                {
                    sites.scalars.push(ScalarSite {
                        node: image,
                        field: Field::Full,
                        image: reference.name().to_string(),
                    });
                }
            }
        }
        collect_containers(value, sites);
    }
    for item in node.items() {
        collect_containers(item, sites);
    }
}

enum Marker {
    Flux { policy: String, field: Field },
    Ferry { image: String, field: Field },
}

#[derive(Default)]
struct PolicyGroup<'a> {
    fields: Vec<(&'a Node, Field)>,
}

fn collect_markers<'a>(text: &str, doc: &'a Node, sites: &mut Sites<'a>) -> Result<(), SiteError> {
    let mut scalars = Vec::new();
    all_scalars(doc, &mut scalars);
    let mut policies: BTreeMap<String, PolicyGroup<'a>> = BTreeMap::new();
    for node in scalars {
        let Some(marker) = marker_after(text, node)? else {
            continue;
        };
        match marker {
            Marker::Ferry { image, field } => {
                // A container image that also carries a marker is one site, not two.
                sites.scalars.retain(|site| site.node.start != node.start);
                sites.scalars.push(ScalarSite { node, field, image });
            }
            Marker::Flux { policy, field } => {
                policies.entry(policy).or_default().fields.push((node, field));
            }
        }
    }
    for (policy, group) in policies {
        let image = group.fields.iter().find_map(|(node, field)| {
            let value = node.as_scalar()?;
            match field {
                Field::Full => ImageRef::parse(value).ok().map(|r| r.name().to_string()),
                Field::Name => ImageRef::parse_name(value).ok(),
                Field::Tag | Field::Digest => None,
            }
        });
        let Some(image) = image else {
            let line = group.fields.first().map_or(0, |(node, _)| node.line);
            sites.notes.push((
                line,
                format!("Flux marker for policy {policy} has no whole-reference or :name field in this document, so its image is unknown; skipped"),
            ));
            continue;
        };
        for (node, field) in group.fields {
            sites.scalars.retain(|site| site.node.start != node.start);
            sites.scalars.push(ScalarSite { node, field, image: image.clone() });
        }
    }
    Ok(())
}

fn all_scalars<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    match &node.kind {
        Kind::Scalar { .. } => out.push(node),
        Kind::Mapping { entries, .. } => {
            for (_, value) in entries {
                all_scalars(value, out);
            }
        }
        Kind::Sequence { items, .. } => {
            for item in items {
                all_scalars(item, out);
            }
        }
        Kind::Alias => {}
    }
}

/// The setter marker in the comment that ends the scalar's line, if any.
fn marker_after(text: &str, node: &Node) -> Result<Option<Marker>, SiteError> {
    let rest = &text[node.end..];
    let line_rest = rest.split('\n').next().unwrap_or("");
    let Some(comment) = line_rest.trim_start().strip_prefix('#') else {
        return Ok(None);
    };
    let comment = comment.trim();
    if !comment.starts_with('{') {
        return Ok(None);
    }
    // Any other JSON-looking comment is just a comment.
    let Ok(object) = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(comment) else {
        return Ok(None);
    };
    let error = |message: String| SiteError { line: node.line, message };
    if let Some(value) = object.get("$imagepolicy") {
        let value = value
            .as_str()
            .ok_or_else(|| error(format!("marker {comment} must name a policy as a string")))?;
        let parts: Vec<&str> = value.split(':').collect();
        let (policy, field) = match parts.as_slice() {
            [namespace, name] => (format!("{namespace}:{name}"), Field::Full),
            [namespace, name, field] => (
                format!("{namespace}:{name}"),
                field_named(field).ok_or_else(|| {
                    error(format!("marker {comment}: {field:?} is not one of tag, name, digest"))
                })?,
            ),
            _ => {
                return Err(error(format!(
                    "marker {comment}: expected NAMESPACE:NAME[:tag|:name|:digest]"
                )));
            }
        };
        return Ok(Some(Marker::Flux { policy, field }));
    }
    if let Some(value) = object.get("$ferry-image") {
        let value = value
            .as_str()
            .ok_or_else(|| error(format!("marker {comment} must name an image as a string")))?;
        let (image, field) = match value.rsplit_once(':') {
            Some((image, suffix)) if field_named(suffix).is_some() => {
                (image, field_named(suffix).expect("checked just above"))
            }
            _ => (value, Field::Full),
        };
        let image = ImageRef::parse_name(image)
            .map_err(|source| error(format!("marker {comment}: {source}")))?;
        return Ok(Some(Marker::Ferry { image, field }));
    }
    Ok(None)
}

fn field_named(name: &str) -> Option<Field> {
    match name {
        "tag" => Some(Field::Tag),
        "name" => Some(Field::Name),
        "digest" => Some(Field::Digest),
        _ => None,
    }
}
