//! Sets of field paths, as `metadata.managedFields[].fieldsV1` records them.
//!
//! A set is a tree: `members` are paths that belong to the set themselves, `children` hold
//! deeper paths. `{"f:spec":{"f:replicas":{}}}` holds `.spec.replicas` but not `.spec`.

mod json;
mod of_object;

use std::collections::{BTreeMap, BTreeSet};

pub use json::{MAX_FIELDS_DEPTH, parse_fields_v1, parse_fields_v1_str};
pub use of_object::{fields_of, fields_of_subtree, item_key};

use crate::path::{Path, PathElement};

/// Errors reading or computing a field set.
#[derive(Debug, thiserror::Error)]
pub enum FieldSetError {
    /// `fieldsV1` is not valid JSON.
    #[error("fieldsV1 is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// A node of `fieldsV1` is not a JSON object.
    #[error("fieldsV1 at {path}: expected an object, found {found}")]
    NotAnObject { path: String, found: String },
    /// A key of `fieldsV1` is not `.`, `f:`, `k:`, `v:` or `i:`.
    #[error("fieldsV1 at {path}: invalid path element {element:?}")]
    BadElement { path: String, element: String },
    /// The set or object nests deeper than the cap.
    #[error("{what} at {path} nests deeper than {max} levels")]
    TooDeep { what: &'static str, path: String, max: usize },
    /// An item of an associative list lacks one of its key fields.
    #[error("{path}: associative list item omits key field {key:?}")]
    MissingKey { path: String, key: String },
    /// An item of an associative list is not an object.
    #[error("{path}: associative list item must be an object")]
    ItemNotObject { path: String },
    /// Two items of an associative list or set have the same key.
    #[error("{path}: duplicate entries for key {key}")]
    DuplicateKey { path: String, key: String },
}

impl FieldSetError {
    /// The same error, one step further from the root (errors are built leaf first, so a
    /// successful walk never formats a path).
    pub(crate) fn under(mut self, pe: &PathElement) -> Self {
        if let Some(p) = self.path_mut() {
            *p = format!("{pe}{p}");
        }
        self
    }

    /// The same error under a whole path.
    pub(crate) fn under_path(mut self, at: &Path) -> Self {
        if let Some(p) = self.path_mut() {
            *p = format!("{at}{p}");
        }
        self
    }

    /// The same error with the root written as `.` (paths are built from the leaf up).
    pub(crate) fn rooted(mut self) -> Self {
        if let Some(p) = self.path_mut()
            && p.is_empty()
        {
            p.push('.');
        }
        self
    }

    fn path_mut(&mut self) -> Option<&mut String> {
        match self {
            FieldSetError::TooDeep { path, .. }
            | FieldSetError::NotAnObject { path, .. }
            | FieldSetError::BadElement { path, .. }
            | FieldSetError::MissingKey { path, .. }
            | FieldSetError::ItemNotObject { path }
            | FieldSetError::DuplicateKey { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub(crate) members: BTreeSet<PathElement>,
    pub(crate) children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the root path is ignored: it is never a member).
    pub fn insert(&mut self, path: &Path) {
        let Some((last, parents)) = path.0.split_last() else { return };
        let mut node = self;
        for pe in parents {
            node = node.children.entry(pe.clone()).or_default();
        }
        node.members.insert(last.clone());
    }

    /// Whether `path` itself is a member.
    pub fn contains(&self, path: &Path) -> bool {
        let Some((last, parents)) = path.0.split_last() else { return false };
        let mut node = self;
        for pe in parents {
            match node.children.get(pe) {
                Some(n) => node = n,
                None => return false,
            }
        }
        node.members.contains(last)
    }

    /// Whether `path` or one of its ancestors is a member.
    pub fn covers(&self, path: &Path) -> bool {
        let mut node = self;
        for pe in &path.0 {
            if node.members.contains(pe) {
                return true;
            }
            match node.children.get(pe) {
                Some(n) => node = n,
                None => return false,
            }
        }
        false
    }

    /// Whether some member lies strictly under `path`.
    pub fn has_members_under(&self, path: &Path) -> bool {
        self.subtree(path).is_some_and(|s| !s.is_empty())
    }

    /// Whether `path` is a member or some member lies under it.
    pub fn touches(&self, path: &Path) -> bool {
        self.contains(path) || self.has_members_under(path)
    }

    /// The set of paths under `path`, relative to it.
    pub fn subtree(&self, path: &Path) -> Option<&FieldSet> {
        let mut node = self;
        for pe in &path.0 {
            node = node.children.get(pe)?;
        }
        Some(node)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.extend(other);
        out
    }

    /// Adds every path of `other` to `self`.
    pub fn extend(&mut self, other: &FieldSet) {
        self.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            match self.children.get_mut(pe) {
                Some(mine) => mine.extend(child),
                None => {
                    self.children.insert(pe.clone(), child.clone());
                }
            }
        }
    }

    /// Paths of `self` that are not members of `other` (exact paths; descendants stay).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            let c = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    /// Paths of `self` that are neither members of `other` nor under one of its members.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let c = match other.children.get(pe) {
                Some(o) => child.recursive_difference(o),
                None => child.clone(),
            };
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    /// Paths that are members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.intersection(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let c = child.intersection(o);
                if !c.is_empty() {
                    out.children.insert(pe.clone(), c);
                }
            }
        }
        out
    }

    /// Every member path, parents before children, in serialization order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        let keys: BTreeSet<&PathElement> =
            self.members.iter().chain(self.children.keys()).collect();
        for pe in keys {
            prefix.push(pe.clone());
            if self.members.contains(pe) {
                out.push(Path(prefix.clone()));
            }
            if let Some(child) = self.children.get(pe) {
                child.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Removes `path` and everything under it.
    pub fn remove_subtree(&mut self, path: &Path) {
        let Some((last, parents)) = path.0.split_last() else {
            *self = FieldSet::new();
            return;
        };
        let mut node = &mut *self;
        for pe in parents {
            match node.children.get_mut(pe) {
                Some(n) => node = n,
                None => return,
            }
        }
        node.members.remove(last);
        node.children.remove(last);
        self.prune_empty();
    }

    /// Drops children that hold no path, so an emptied branch does not linger.
    fn prune_empty(&mut self) {
        self.children.retain(|_, c| {
            c.prune_empty();
            !c.is_empty()
        });
    }

    /// The number of member paths.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Path>>(iter: I) -> Self {
        let mut s = FieldSet::new();
        for p in iter {
            s.insert(&p);
        }
        s
    }
}
