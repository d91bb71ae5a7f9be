//! `ferry render PATH`: render a local directory to stdout, as a user runs it in CI or to debug.
//! The tree is the enclosing git work tree (so values files and bases elsewhere in the repository
//! resolve as they would from git), or PATH itself outside a repository.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_source::{FsTree, RepoPath};

use crate::config::{RenderConfig, RenderContext};
use crate::error::RenderError;
use crate::options::{
    DirectoryOptions, HelmOptions, HelmParameter, JsonnetOptions, JsonnetVar, RenderOptions,
    SourceKind, Substitute,
};

/// Arguments of `ferry render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// Directory of the app to render.
    pub path: PathBuf,
    /// Render kind (default: detected from the files).
    #[arg(long, value_parser = clap::value_parser!(SourceKind))]
    pub kind: Option<SourceKind>,
    /// Directory apps: also read subdirectories.
    #[arg(long)]
    pub recurse: bool,
    /// Directory apps: only files matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub include: Option<String>,
    /// Directory apps: skip files matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Option<String>,
    /// Helm values file, relative to the chart (repeatable).
    #[arg(long = "helm-values", value_name = "FILE")]
    pub helm_values: Vec<String>,
    /// Helm `--set name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Helm `--set-string name=value` (repeatable).
    #[arg(long = "set-string", value_name = "NAME=VALUE")]
    pub set_string: Vec<String>,
    /// Namespace (Helm release namespace).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Helm release name (default: the directory name).
    #[arg(long)]
    pub release: Option<String>,
    /// Jsonnet top-level argument as a string (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    pub tla: Vec<String>,
    /// Jsonnet top-level argument as code (repeatable).
    #[arg(long = "tla-code", value_name = "NAME=CODE")]
    pub tla_code: Vec<String>,
    /// Jsonnet external variable as a string (repeatable).
    #[arg(long = "ext-var", value_name = "NAME=VALUE")]
    pub ext_var: Vec<String>,
    /// Jsonnet external variable as code (repeatable).
    #[arg(long = "ext-code", value_name = "NAME=CODE")]
    pub ext_code: Vec<String>,
    /// Jsonnet library path, repository-relative (repeatable).
    #[arg(long = "jpath", value_name = "DIR")]
    pub jpath: Vec<String>,
    /// `${var}` substitution value (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub var: Vec<String>,
    /// Fail on `${var}` without a value.
    #[arg(long)]
    pub strict_vars: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", default_value = "yaml", value_parser = ["yaml", "json"])]
    pub output: String,
    /// kubectl executable (for kustomize).
    #[arg(long, env = "FERRY_KUBECTL", default_value = "kubectl")]
    pub kubectl: PathBuf,
    /// Standalone kustomize executable (preferred over `kubectl kustomize` when set).
    #[arg(long, env = "FERRY_KUSTOMIZE")]
    pub kustomize: Option<PathBuf>,
    /// helm executable.
    #[arg(long, env = "FERRY_HELM", default_value = "helm")]
    pub helm: PathBuf,
    /// age identities for SOPS-encrypted files (as `sops` reads them).
    #[arg(long, env = "SOPS_AGE_KEY_FILE", value_name = "FILE")]
    pub sops_age_key_file: Option<PathBuf>,
    /// An armored OpenPGP secret key for SOPS-encrypted files (repeatable).
    #[arg(long, value_name = "FILE")]
    pub sops_pgp_key: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{path}: {source}")]
    Path {
        path: String,
        #[source]
        source: ferry_source::TreeError,
    },
    #[error("{flag} {value:?}: expected NAME=VALUE")]
    Pair { flag: &'static str, value: String },
    #[error("writing output: {0}")]
    Output(String),
    #[error("reading the key file {path}: {message}")]
    Key { path: String, message: String },
    #[error("--helm-values {path}: {message}")]
    Values { path: String, message: String },
}

/// `--helm-values` as `helm template` reads it: a path that exists relative to the working
/// directory (or absolute) is that file; anything else is relative to the chart, as in an
/// Application. Files inside the repository become chart-relative paths (Helm then reads them
/// from the scratch copy); files outside it are read here and merged, in order, into one values
/// object, which Helm applies after the repository's files.
fn helm_value_files(
    given: &[String],
    root: &Path,
    chart_dir: &Path,
) -> Result<(Vec<String>, Option<serde_json::Value>), CliError> {
    let mut files = Vec::new();
    let mut outside: Option<serde_json::Value> = None;
    for v in given {
        let here = Path::new(v);
        if !here.is_file() {
            files.push(v.clone());
            continue;
        }
        let err = |message: String| CliError::Values { path: v.clone(), message };
        let abs = here.canonicalize().map_err(|e| err(e.to_string()))?;
        if let Ok(in_repo) = abs.strip_prefix(root) {
            files.push(relative_to(chart_dir.strip_prefix(root).unwrap_or(Path::new("")), in_repo));
            continue;
        }
        let bytes = std::fs::read(&abs).map_err(|e| err(e.to_string()))?;
        let name = RepoPath::new("values.yaml").map_err(|e| err(e.to_string()))?;
        let docs = crate::yaml::load_documents(&name, &bytes, &crate::config::Limits::default())
            .map_err(|e| err(e.to_string()))?;
        let value =
            docs.into_iter().next().map(|d| d.value).unwrap_or_else(|| serde_json::json!({}));
        if !value.is_object() {
            return Err(err("not a YAML map of values".into()));
        }
        match outside.as_mut() {
            Some(base) => merge(base, value),
            None => outside = Some(value),
        }
    }
    Ok((files, outside))
}

/// `to` (repository-relative) as seen from the directory `from` (repository-relative).
fn relative_to(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// Helm's merge of values files: maps merge, anything else is replaced.
fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Runs `ferry render` and writes the objects to `out`.
pub fn run(args: &RenderArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let dir = args.path.canonicalize().map_err(|source| CliError::Path {
        path: args.path.display().to_string(),
        source: ferry_source::TreeError::Io { path: args.path.display().to_string(), source },
    })?;
    let root = repository_root(&dir).unwrap_or_else(|| dir.clone());
    let tree = FsTree::new(&root)
        .map_err(|source| CliError::Path { path: root.display().to_string(), source })?;
    let rel = dir.strip_prefix(tree.root()).unwrap_or(Path::new("")).to_string_lossy().into_owned();
    let app = RepoPath::new(&rel).map_err(|source| CliError::Path { path: rel.clone(), source })?;
    let mut opts = options(args)?;
    if let Some(helm) = opts.helm.as_mut() {
        let (files, outside) = helm_value_files(&args.helm_values, tree.root(), &dir)?;
        helm.value_files = files;
        helm.values_object = outside;
    }
    // On the command line only --kind forces a kind: flags such as --recurse or --set must not
    // turn a kustomize app into a directory app (as a lone option block does in an Application).
    if opts.kind.is_none() {
        opts.kind = Some(crate::detect_kind(&tree, &app, &RenderOptions::default())?);
    }
    let app_name =
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".into());
    let mut config = RenderConfig::default().with_kubectl(&args.kubectl).with_helm(&args.helm);
    if let Some(k) = &args.kustomize {
        config = config.with_kustomize(k);
    }
    let mut ctx =
        RenderContext::new(app_name).with_config(config).with_decryption(keyring(args)?.into());
    if let Some(ns) = &args.namespace {
        ctx = ctx.with_namespace(ns);
    }
    let rendered = crate::render(&tree, &app, &opts, &ctx)?;
    let text = match args.output.as_str() {
        "json" => {
            let values: Vec<&serde_json::Value> = rendered.values().collect();
            let mut s = serde_json::to_string_pretty(&values)
                .map_err(|e| CliError::Output(e.to_string()))?;
            s.push('\n');
            s
        }
        _ => to_yaml_stream(rendered.values())?,
    };
    // `ferry render` shows what the repository declares, Secrets included (the user's own
    // files); it says so, so that output bound for a CI log is a choice.
    let secrets =
        rendered.values().filter(|o| o["apiVersion"] == "v1" && o["kind"] == "Secret").count();
    if secrets > 0 {
        eprintln!(
            "note: {secrets} Secret(s) printed with their values as rendered; keep this output out of shared logs"
        );
    }
    out.write_all(text.as_bytes()).map_err(|e| CliError::Output(e.to_string()))
}

/// The objects as one YAML stream, `---` between documents.
pub fn to_yaml_stream<'a>(
    values: impl Iterator<Item = &'a serde_json::Value>,
) -> Result<String, CliError> {
    let mut s = String::new();
    for value in values {
        s.push_str("---\n");
        s.push_str(&serde_saphyr::to_string(value).map_err(|e| CliError::Output(e.to_string()))?);
        if !s.ends_with('\n') {
            s.push('\n');
        }
    }
    Ok(s)
}

fn repository_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

fn options(args: &RenderArgs) -> Result<RenderOptions, CliError> {
    let mut opts = RenderOptions { kind: args.kind, ..RenderOptions::default() };
    let jsonnet = JsonnetOptions {
        tlas: vars(&args.tla, "--tla", false)?
            .into_iter()
            .chain(vars(&args.tla_code, "--tla-code", true)?)
            .collect(),
        ext_vars: vars(&args.ext_var, "--ext-var", false)?
            .into_iter()
            .chain(vars(&args.ext_code, "--ext-code", true)?)
            .collect(),
        libs: args.jpath.clone(),
    };
    let has_jsonnet = jsonnet != JsonnetOptions::default();
    if args.recurse || args.include.is_some() || args.exclude.is_some() || has_jsonnet {
        opts.directory = Some(DirectoryOptions {
            recurse: args.recurse,
            include: args.include.clone(),
            exclude: args.exclude.clone(),
            jsonnet: has_jsonnet.then_some(jsonnet),
        });
    }
    let mut parameters = Vec::new();
    for (list, flag, force_string) in
        [(&args.set, "--set", false), (&args.set_string, "--set-string", true)]
    {
        for raw in list {
            let (name, value) = pair(raw, flag)?;
            parameters.push(HelmParameter { name, value, force_string });
        }
    }
    if !args.helm_values.is_empty() || !parameters.is_empty() || args.release.is_some() {
        opts.helm = Some(HelmOptions {
            release_name: args.release.clone(),
            value_files: args.helm_values.clone(),
            parameters,
            ..HelmOptions::default()
        });
    }
    if !args.var.is_empty() || args.strict_vars {
        let mut subst = Substitute { strict: args.strict_vars, ..Substitute::default() };
        for raw in &args.var {
            let (k, v) = pair(raw, "--var")?;
            subst.vars.insert(k, v);
        }
        opts.substitute = Some(subst);
    }
    Ok(opts)
}

fn vars(raw: &[String], flag: &'static str, code: bool) -> Result<Vec<JsonnetVar>, CliError> {
    raw.iter()
        .map(|r| pair(r, flag).map(|(name, value)| JsonnetVar { name, value, code }))
        .collect()
}

fn pair(raw: &str, flag: &'static str) -> Result<(String, String), CliError> {
    match raw.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(CliError::Pair { flag, value: raw.to_owned() }),
    }
}

/// The SOPS keys named on the command line (or by `SOPS_AGE_KEY_FILE`).
fn keyring(args: &RenderArgs) -> Result<ferry_secrets::Keyring, CliError> {
    let mut ring = ferry_secrets::Keyring::new();
    let files = args.sops_age_key_file.iter().map(|p| (p, true));
    for (path, age) in files.chain(args.sops_pgp_key.iter().map(|p| (p, false))) {
        let name = path.display().to_string();
        let fail = |message: String| CliError::Key { path: name.clone(), message };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let added = if age { ring.add_age(&text, &name) } else { ring.add_pgp(&text, &name) };
        added.map_err(|e| fail(e.to_string()))?;
    }
    Ok(ring)
}
