//! Kustomize apps: `kubectl kustomize` (or a configured `kustomize` binary) on a materialised copy
//! of exactly the directories the kustomization graph references, with the load restrictor on.
//!
//! Before anything runs, the graph of `resources`/`bases`/`components` (and generator/transformer
//! paths) is walked through the tree: a reference that climbs out of the repository is an error
//! here, and remote bases are refused unless the app opted in. The tool then only ever sees the
//! copied directories.

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

use ferry_source::{EntryKind, RepoPath};
use serde_json::{Map, Value};

use crate::config::RenderConfig;
use crate::error::RenderError;
use crate::exec::{self, Invocation};
use crate::materialize::Reader;
use crate::object::Origin;
use crate::options::KustomizeOptions;
use crate::yaml;

/// The file names kustomize accepts, in its order of preference.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields of a kustomization that name other files or directories.
const REFERENCE_FIELDS: [&str; 6] =
    ["resources", "bases", "components", "generators", "transformers", "validators"];

/// The kustomization file in `dir`, if there is one.
pub(crate) fn kustomization_file(
    reader: &mut Reader<'_>,
    dir: &RepoPath,
) -> Result<Option<RepoPath>, RenderError> {
    for name in KUSTOMIZATION_FILES {
        let path = dir.join(name).map_err(RenderError::tree(dir))?;
        if let Some(EntryKind::File) = reader.stat(&path)? {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

pub(crate) fn render(
    reader: &mut Reader<'_>,
    app: &RepoPath,
    opts: &KustomizeOptions,
    config: &RenderConfig,
) -> Result<Vec<(Value, Origin)>, RenderError> {
    let Some(root_file) = kustomization_file(reader, app)? else {
        return Err(RenderError::Kustomization {
            file: app.clone(),
            message: "no kustomization.yaml, kustomization.yml or Kustomization here; \
                      set the kind to directory or add a kustomization"
                .into(),
        });
    };
    let work = tempfile::Builder::new()
        .prefix("ferry-kustomize-")
        .tempdir()
        .map_err(|source| RenderError::WorkDir { app: app.clone(), source })?;
    let tree_root = work.path().join("tree");
    let (dirs, files) = reference_graph(reader, app, opts)?;
    for dir in &dirs {
        reader.materialize_dir(dir, &tree_root)?;
    }
    for file in &files {
        reader.materialize_file(file, &tree_root)?;
    }
    if opts.edits_anything() {
        apply_edits(reader, &root_file, &tree_root, opts)?;
    }

    let target = tree_root.join(app.as_str());
    let (tool, program, mut args) = match &config.tools.kustomize {
        Some(kustomize) => ("kustomize", kustomize.as_path(), vec!["build".to_owned()]),
        None => ("kubectl kustomize", config.tools.kubectl.as_path(), vec!["kustomize".to_owned()]),
    };
    args.push(path_arg(&target));
    args.push("--load-restrictor=LoadRestrictionsRootOnly".into());
    let home = work.path().join("home");
    std::fs::create_dir_all(&home)
        .map_err(|source| RenderError::WorkDir { app: app.clone(), source })?;
    let stdout = exec::run(Invocation {
        tool,
        program,
        args,
        cwd: work.path(),
        env: vec![("HOME".into(), path_arg(&home))],
        app,
        timeout: config.limits.tool_timeout,
        max_output: config.limits.max_total_bytes,
        tree_root: &tree_root,
        install_hint: "install kubectl (which includes kustomize) or configure the kustomize binary",
    })?;
    reader.count_bytes(app, stdout.len() as u64)?;
    let mut out = Vec::new();
    for doc in yaml::load_documents(&root_file, &stdout, reader.limits)? {
        for value in yaml::flatten_lists(doc.value) {
            out.push((value, Origin { file: root_file.clone(), document: doc.index }));
        }
    }
    Ok(out)
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Walks the kustomization graph from `app`: the directories to copy (each recursively) and the
/// single files referenced from elsewhere.
fn reference_graph(
    reader: &mut Reader<'_>,
    app: &RepoPath,
    opts: &KustomizeOptions,
) -> Result<(BTreeSet<RepoPath>, BTreeSet<RepoPath>), RenderError> {
    let mut dirs = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut queue = VecDeque::from([app.clone()]);
    while let Some(dir) = queue.pop_front() {
        if !dirs.insert(dir.clone()) {
            continue;
        }
        let Some(file) = kustomization_file(reader, &dir)? else { continue };
        let kustomization = read_kustomization(reader, &file)?;
        for field in REFERENCE_FIELDS {
            let Some(entries) = kustomization.get(field) else { continue };
            let Some(entries) = entries.as_array() else {
                return Err(RenderError::Kustomization {
                    file: file.clone(),
                    message: format!("{field} must be a list"),
                });
            };
            for entry in entries {
                // Inline generator/transformer configs are mappings, not paths.
                let Some(reference) = entry.as_str() else { continue };
                if is_remote(reference) {
                    if opts.allow_remote_bases {
                        continue;
                    }
                    return Err(RenderError::RemoteBase {
                        file: file.clone(),
                        url: reference.into(),
                    });
                }
                let target = dir.join(reference).map_err(|_| RenderError::OutsideTree {
                    file: file.clone(),
                    reference: reference.into(),
                })?;
                match reader.stat(&target)? {
                    Some(EntryKind::Dir) => queue.push_back(target),
                    Some(_) => {
                        files.insert(target);
                    }
                    // Missing: kustomize names it in its own error.
                    None => {}
                }
            }
        }
    }
    // A directory below another one is copied with it.
    let all: Vec<RepoPath> = dirs.iter().cloned().collect();
    dirs.retain(|d| !all.iter().any(|other| other != d && is_below(d, other)));
    files.retain(|f| !dirs.iter().any(|d| is_below(f, d)));
    Ok((dirs, files))
}

fn is_below(path: &RepoPath, dir: &RepoPath) -> bool {
    dir.is_root()
        || path.as_str().strip_prefix(dir.as_str()).is_some_and(|rest| rest.starts_with('/'))
}

fn read_kustomization(
    reader: &mut Reader<'_>,
    file: &RepoPath,
) -> Result<Map<String, Value>, RenderError> {
    let bytes = reader.read(file)?;
    let mut docs = yaml::load_documents(file, &bytes, reader.limits)?;
    match docs.len() {
        0 => Ok(Map::new()),
        1 => match docs.remove(0).value {
            Value::Object(map) => Ok(map),
            _ => Err(RenderError::Kustomization {
                file: file.clone(),
                message: "a kustomization must be a mapping".into(),
            }),
        },
        _ => Err(RenderError::Kustomization {
            file: file.clone(),
            message: "a kustomization must be a single YAML document".into(),
        }),
    }
}

/// Kustomize's own test for a remote target: a URL or a host-qualified git path.
fn is_remote(reference: &str) -> bool {
    reference.contains("://")
        || reference.starts_with("git@")
        || reference.starts_with("github.com/")
        || reference.starts_with("gitlab.com/")
        || reference.starts_with("bitbucket.org/")
        || reference.contains("?ref=")
        || reference.contains("//")
}

/// Applies Argo CD's kustomize options the way `kustomize edit` would: by setting fields of the
/// app's kustomization in the working copy.
fn apply_edits(
    reader: &mut Reader<'_>,
    root_file: &RepoPath,
    tree_root: &Path,
    opts: &KustomizeOptions,
) -> Result<(), RenderError> {
    let mut k = read_kustomization(reader, root_file)?;
    if let Some(prefix) = &opts.name_prefix {
        k.insert("namePrefix".into(), Value::String(prefix.clone()));
    }
    if let Some(suffix) = &opts.name_suffix {
        k.insert("nameSuffix".into(), Value::String(suffix.clone()));
    }
    if let Some(namespace) = &opts.namespace {
        k.insert("namespace".into(), Value::String(namespace.clone()));
    }
    for (field, extra) in
        [("commonLabels", &opts.common_labels), ("commonAnnotations", &opts.common_annotations)]
    {
        if extra.is_empty() {
            continue;
        }
        let entry = k.entry(field).or_insert_with(|| Value::Object(Map::new()));
        let Some(map) = entry.as_object_mut() else {
            return Err(RenderError::Kustomization {
                file: root_file.clone(),
                message: format!("{field} must be a mapping"),
            });
        };
        for (key, value) in extra {
            map.insert(key.clone(), Value::String(value.clone()));
        }
    }
    if !opts.images.is_empty() {
        let entry = k.entry("images").or_insert_with(|| Value::Array(Vec::new()));
        let Some(images) = entry.as_array_mut() else {
            return Err(RenderError::Kustomization {
                file: root_file.clone(),
                message: "images must be a list".into(),
            });
        };
        for spec in &opts.images {
            let image = parse_image(spec).ok_or_else(|| RenderError::InvalidOption {
                what: format!("kustomize.images {spec:?}"),
                message: "expected name=newName:tag, name:tag or name@digest".into(),
            })?;
            let name = image.get("name").cloned();
            images.retain(|i| i.get("name") != name.as_ref());
            images.push(Value::Object(image));
        }
    }
    let text =
        serde_saphyr::to_string(&Value::Object(k)).map_err(|e| RenderError::Kustomization {
            file: root_file.clone(),
            message: format!("writing the edited kustomization: {e}"),
        })?;
    std::fs::write(tree_root.join(root_file.as_str()), text)
        .map_err(|source| RenderError::WorkDir { app: root_file.clone(), source })
}

/// `kustomize edit set image` syntax → an `images:` entry.
fn parse_image(spec: &str) -> Option<Map<String, Value>> {
    let (name, target) = match spec.split_once('=') {
        Some((name, target)) => (name, target),
        None => {
            let name_end = spec.find('@').or_else(|| tag_colon(spec)).unwrap_or(spec.len());
            (&spec[..name_end], spec)
        }
    };
    if name.is_empty() {
        return None;
    }
    let mut image = Map::new();
    image.insert("name".into(), Value::String(name.into()));
    let (rest, digest) = match target.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (target, None),
    };
    let (new_name, tag) = match tag_colon(rest) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    if !new_name.is_empty() && new_name != name {
        image.insert("newName".into(), Value::String(new_name.into()));
    }
    if let Some(tag) = tag {
        image.insert("newTag".into(), Value::String(tag.into()));
    }
    if let Some(digest) = digest {
        image.insert("digest".into(), Value::String(digest.into()));
    }
    Some(image)
}

/// The colon before a tag (not a registry port: it must come after the last `/`).
fn tag_colon(s: &str) -> Option<usize> {
    let last_slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    s[last_slash..].find(':').map(|i| i + last_slash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_overrides_follow_kustomize_edit_syntax() {
        let i = parse_image("nginx=registry:5000/web:1.2").unwrap();
        assert_eq!(
            Value::Object(i),
            serde_json::json!({"name": "nginx", "newName": "registry:5000/web", "newTag": "1.2"})
        );
        let i = parse_image("registry:5000/web:1.3").unwrap();
        assert_eq!(
            Value::Object(i),
            serde_json::json!({"name": "registry:5000/web", "newTag": "1.3"})
        );
        let i = parse_image("web@sha256:abc").unwrap();
        assert_eq!(Value::Object(i), serde_json::json!({"name": "web", "digest": "sha256:abc"}));
    }

    #[test]
    fn urls_and_host_paths_are_remote_and_relative_paths_are_not() {
        assert!(is_remote(
            "https://github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v1.0.6"
        ));
        assert!(is_remote("github.com/argoproj/argo-cd/manifests/cluster-install?ref=v2.0.0"));
        assert!(!is_remote("../base"));
        assert!(!is_remote("deployment.yaml"));
    }
}
