//! The pure core of `image set`: one file's text and the requested updates in, the byte edits
//! and the changes they make out. Nothing outside the edited scalars changes.

use crate::reference::ImageRef;
use crate::sites::{self, Field, ScalarSite};
use crate::update::ImageUpdate;
use crate::yaml::{self, Kind, Node, Style};

/// Why a file cannot be edited; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("malformed YAML at {0}")]
    Yaml(#[source] yaml::YamlError),
    #[error("{0}")]
    Site(#[source] sites::SiteError),
    #[error("line {line}: {message}")]
    Unsupported { line: usize, message: String },
}

/// One replacement of the bytes `start..end`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// What changed in one file (line numbers are 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineChange {
    pub(crate) line: usize,
    pub(crate) old: String,
    pub(crate) new: String,
}

#[derive(Debug, Default)]
pub(crate) struct FilePlan {
    pub(crate) new_text: String,
    pub(crate) changes: Vec<LineChange>,
    pub(crate) notes: Vec<(usize, String)>,
    /// Sites of any requested image, changed or already up to date.
    pub(crate) matched: usize,
}

/// Plans every update on one file's text.
pub(crate) fn plan_file(
    text: &str,
    file_name: &str,
    updates: &[ImageUpdate],
) -> Result<FilePlan, PlanError> {
    let documents = yaml::parse_documents(text).map_err(PlanError::Yaml)?;
    let mut edits = Vec::new();
    let mut plan = FilePlan::default();
    for doc in &documents {
        let found = sites::find(text, doc, file_name).map_err(PlanError::Site)?;
        plan.notes.extend(found.notes);
        for site in &found.scalars {
            let Some(update) = updates.iter().find(|u| u.matches(&site.image)) else {
                continue;
            };
            plan.matched += 1;
            if let Some((edit, change)) = plan_scalar(site, update)? {
                edits.push(edit);
                plan.changes.push(change);
            }
        }
        for entry in &found.kustomize_entries {
            let name = entry.get_str("name").unwrap_or_default();
            let new_name = entry.get_str("newName");
            let Some(update) =
                updates.iter().find(|u| u.matches(name) || new_name.is_some_and(|n| u.matches(n)))
            else {
                continue;
            };
            plan.matched += 1;
            if let Some((entry_edits, change)) = plan_kustomize_entry(text, entry, update)? {
                edits.extend(entry_edits);
                plan.changes.push(change);
            }
        }
    }
    plan.changes.sort_by_key(|change| change.line);
    plan.new_text = apply(text, edits);
    Ok(plan)
}

fn plan_scalar(
    site: &ScalarSite<'_>,
    update: &ImageUpdate,
) -> Result<Option<(Edit, LineChange)>, PlanError> {
    let node = site.node;
    let Kind::Scalar { value, style } = &node.kind else {
        return Ok(None);
    };
    let unsupported = |message: String| PlanError::Unsupported { line: node.line, message };
    let new_value = match site.field {
        Field::Full => {
            let current = ImageRef::parse(value)
                .map_err(|source| unsupported(format!("marked value: {source}")))?;
            update.apply_to(&current).to_string()
        }
        Field::Name => match &update.new_name {
            Some(name) => name.clone(),
            None => return Ok(None),
        },
        Field::Tag if !update.sets_version() => return Ok(None),
        Field::Tag => match &update.tag {
            Some(tag) => tag.clone(),
            None => {
                return Err(unsupported(format!(
                    "this field holds a tag, but {} gives only a digest; give IMAGE=NAME:TAG@DIGEST",
                    update.arg
                )));
            }
        },
        Field::Digest if !update.sets_version() => return Ok(None),
        // A tag without a digest clears an old digest, which would pin the old image.
        Field::Digest => update.digest.clone().unwrap_or_default(),
    };
    if &new_value == value {
        return Ok(None);
    }
    if *style == Style::Block {
        return Err(unsupported(
            "the value is a block scalar (| or >); write it on one line so it can be edited"
                .to_string(),
        ));
    }
    Ok(Some((
        Edit { start: node.start, end: node.end, text: yaml::render_scalar(&new_value, *style) },
        LineChange { line: node.line, old: value.clone(), new: new_value },
    )))
}

/// A kustomization `images:` entry (`name`, `newName`, `newTag`, `digest`): sets, adds or
/// removes the fields so the entry yields the new reference.
fn plan_kustomize_entry(
    text: &str,
    entry: &Node,
    update: &ImageUpdate,
) -> Result<Option<(Vec<Edit>, LineChange)>, PlanError> {
    let name = entry.get_str("name").unwrap_or_default();
    let effective = entry.get_str("newName").unwrap_or(name);
    let current = ImageRef::new(
        effective.to_string(),
        entry.get_str("newTag").map(str::to_string),
        entry.get_str("digest").map(str::to_string),
    );
    let new = update.apply_to(&current);
    if new == current {
        return Ok(None);
    }
    let wanted = [
        ("newName", (new.name() != effective).then(|| new.name().to_string()), true),
        ("newTag", new.tag().map(str::to_string), false),
        ("digest", new.digest().map(str::to_string), false),
    ];
    let mut edits = Vec::new();
    let mut inserted = String::new();
    for (key, value, keep_if_unset) in wanted {
        let present = entry.entries().iter().find(|(k, _)| k.as_scalar() == Some(key));
        match (present, value) {
            (Some((_, node)), Some(value)) => {
                if node.as_scalar() != Some(value.as_str()) {
                    let style = scalar_style(node);
                    if style == Style::Block || node.as_scalar().is_none() {
                        return Err(PlanError::Unsupported {
                            line: node.line,
                            message: format!(
                                "{key} is not a one-line scalar, so it cannot be edited"
                            ),
                        });
                    }
                    edits.push(Edit {
                        start: node.start,
                        end: node.end,
                        text: yaml::render_scalar(&value, style),
                    });
                }
            }
            (Some((key_node, value_node)), None) if !keep_if_unset => {
                edits.push(remove_pair(text, entry, key_node, value_node)?);
            }
            (Some(_), None) => {}
            (None, Some(value)) => {
                if entry.is_flow() {
                    return Err(PlanError::Unsupported {
                        line: entry.line,
                        message: format!(
                            "cannot add {key} to an images entry written in flow style ({{…}}); write the entry in block style"
                        ),
                    });
                }
                let indent = entry.entries().first().map_or(entry.column, |(k, _)| k.column);
                inserted.push_str(&format!(
                    "\n{}{key}: {}",
                    " ".repeat(indent),
                    yaml::render_scalar(&value, Style::Plain)
                ));
            }
            (None, None) => {}
        }
    }
    if !inserted.is_empty() {
        let last_end = entry.entries().last().map_or(entry.end, |(_, value)| value.end);
        let line_end = text[last_end..].find('\n').map_or(text.len(), |offset| last_end + offset);
        edits.push(Edit { start: line_end, end: line_end, text: inserted });
    }
    Ok(Some((
        edits,
        LineChange { line: entry.line, old: current.to_string(), new: new.to_string() },
    )))
}

fn scalar_style(node: &Node) -> Style {
    match &node.kind {
        Kind::Scalar { style, .. } => *style,
        _ => Style::Plain,
    }
}

/// Removes a `key: value` line of a block mapping; refused when the pair shares its line with
/// something else (`- digest: …` starts a list item).
fn remove_pair(text: &str, entry: &Node, key: &Node, value: &Node) -> Result<Edit, PlanError> {
    let line_start = text[..key.start].rfind('\n').map_or(0, |offset| offset + 1);
    let alone_on_line = text[line_start..key.start].trim().is_empty();
    if entry.is_flow() || !alone_on_line {
        return Err(PlanError::Unsupported {
            line: key.line,
            message: format!(
                "{} must be removed but shares its line with other content; put it on its own line",
                key.as_scalar().unwrap_or("the field")
            ),
        });
    }
    let line_end = text[value.end..].find('\n').map_or(text.len(), |offset| value.end + offset + 1);
    Ok(Edit { start: line_start, end: line_end, text: String::new() })
}

/// Applies non-overlapping edits, last first so earlier offsets stay valid.
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|edit| std::cmp::Reverse((edit.start, edit.end)));
    let mut out = text.to_string();
    for edit in edits {
        out.replace_range(edit.start..edit.end, &edit.text);
    }
    out
}
