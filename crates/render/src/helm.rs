//! Helm charts: `helm template` on a materialised copy of the chart (vendored `charts/` included),
//! with values files read through the tree — never from outside the repository — and written
//! into the scratch directory. Helm itself renders; Ferry only assembles the command line.

use std::path::Path;

use ferry_source::{EntryKind, RepoPath};
use serde_json::Value;

use crate::config::RenderConfig;
use crate::error::RenderError;
use crate::exec::{self, Invocation};
use crate::materialize::{Reader, write_file};
use crate::object::Origin;
use crate::options::HelmOptions;
use crate::yaml;

/// Ferry's `helm` shim (`helm template` over Helm's Go SDK through the PyPI package
/// `helm-python-sdk`), shipped in the binary so that `ferry helm-shim install DIR` can write it
/// on machines where no `helm` binary can be installed. The source of truth is
/// `crates/render/helm-shim/helm`.
pub const HELM_SHIM: &str = include_str!("../helm-shim/helm");

/// What to do when no `helm` runs: a Ferry installation problem, not something to fix in Git.
pub const HELM_INSTALL_HINT: &str = "install Helm 3 or 4 on the PATH, or run `ferry helm-shim \
    install DIR` (real Helm through its Go SDK; needs python3 and `pip install helm-python-sdk`) \
    and set FERRY_HELM=DIR/helm";

pub(crate) fn render(
    reader: &mut Reader<'_>,
    app: &RepoPath,
    opts: &HelmOptions,
    app_name: &str,
    namespace: Option<&str>,
    config: &RenderConfig,
) -> Result<Vec<(Value, Origin)>, RenderError> {
    let chart_file = app.join("Chart.yaml").map_err(RenderError::tree(app))?;
    if !matches!(reader.stat(&chart_file)?, Some(EntryKind::File)) {
        return Err(RenderError::InvalidOption {
            what: app.to_string(),
            message: "no Chart.yaml here; set the kind to directory or point the path at a chart"
                .into(),
        });
    }
    let work = tempfile::Builder::new()
        .prefix("ferry-helm-")
        .tempdir()
        .map_err(|source| RenderError::WorkDir { app: app.clone(), source })?;
    let work_err = |source| RenderError::WorkDir { app: app.clone(), source };
    let tree_root = work.path().join("tree");
    let values_dir = work.path().join("values");
    let home = work.path().join("home");
    for dir in [&values_dir, &home] {
        std::fs::create_dir_all(dir).map_err(work_err)?;
    }
    reader.materialize_dir(app, &tree_root)?;

    let release = opts.release_name.clone().unwrap_or_else(|| app_name.to_owned());
    if release.is_empty() {
        return Err(RenderError::InvalidOption {
            what: "helm.releaseName".into(),
            message: "no release name: set helm.releaseName or give the app a name".into(),
        });
    }
    let mut args = vec!["template".to_owned(), release, path_arg(&tree_root.join(app.as_str()))];
    if let Some(ns) = opts.namespace.as_deref().or(namespace) {
        args.extend(["--namespace".into(), ns.into()]);
    }
    for (i, value_file) in opts.value_files.iter().enumerate() {
        let path = values_file_path(app, &chart_file, value_file)?;
        let content = reader.read_content(&path)?;
        let target = values_dir.join(format!("{i:03}-file.yaml"));
        write_file(&target, &content).map_err(work_err)?;
        args.extend(["--values".into(), path_arg(&target)]);
    }
    if let Some(values) = opts.values.as_deref().filter(|v| !v.trim().is_empty()) {
        let target = values_dir.join("inline-values.yaml");
        std::fs::write(&target, values).map_err(work_err)?;
        args.extend(["--values".into(), path_arg(&target)]);
    }
    if let Some(object) = &opts.values_object {
        // JSON is YAML, so Helm reads the object as a values file.
        let target = values_dir.join("inline-values-object.yaml");
        std::fs::write(&target, object.to_string()).map_err(work_err)?;
        args.extend(["--values".into(), path_arg(&target)]);
    }
    for p in &opts.parameters {
        let flag = if p.force_string { "--set-string" } else { "--set" };
        args.extend([flag.into(), format!("{}={}", p.name, p.value)]);
    }
    if !opts.skip_crds {
        args.push("--include-crds".into());
    }
    if let Some(kube_version) = &opts.kube_version {
        args.extend(["--kube-version".into(), kube_version.clone()]);
    }
    for api in &opts.api_versions {
        args.extend(["--api-versions".into(), api.clone()]);
    }

    let home_str = path_arg(&home);
    let env = vec![
        ("HOME".into(), home_str.clone()),
        ("HELM_CACHE_HOME".into(), format!("{home_str}/cache")),
        ("HELM_CONFIG_HOME".into(), format!("{home_str}/config")),
        ("HELM_DATA_HOME".into(), format!("{home_str}/data")),
    ];
    let stdout = exec::run(Invocation {
        tool: "helm",
        program: &config.tools.helm,
        args,
        cwd: work.path(),
        env,
        app,
        timeout: config.limits.tool_timeout,
        max_output: config.limits.max_total_bytes,
        tree_root: &tree_root,
        install_hint: HELM_INSTALL_HINT,
    })?;
    reader.count_bytes(app, stdout.len() as u64)?;
    parse_output(app, &chart_file, &stdout, reader)
}

/// A values file named relative to the chart; it must stay inside the repository and must not be
/// a URL.
fn values_file_path(
    app: &RepoPath,
    chart_file: &RepoPath,
    value_file: &str,
) -> Result<RepoPath, RenderError> {
    crate::paths::resolve_in_repo(app, value_file).ok_or_else(|| RenderError::OutsideTree {
        file: chart_file.clone(),
        reference: value_file.to_owned(),
    })
}

/// Splits `helm template` output at its `---` separators and attributes each document to the
/// template named by its `# Source:` comment (a path inside the chart).
fn parse_output(
    app: &RepoPath,
    chart_file: &RepoPath,
    stdout: &[u8],
    reader: &Reader<'_>,
) -> Result<Vec<(Value, Origin)>, RenderError> {
    let text = std::str::from_utf8(stdout).map_err(|e| RenderError::ToolFailed {
        tool: "helm",
        app: app.clone(),
        message: format!("output is not UTF-8 at byte {}", e.valid_up_to()),
    })?;
    let mut out = Vec::new();
    let mut per_source: std::collections::HashMap<RepoPath, usize> =
        std::collections::HashMap::new();
    for chunk in split_documents(text) {
        let source = chunk
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .and_then(|s| s.split_once('/').map(|(_, rest)| rest))
            .and_then(|rest| app.join(rest).ok())
            .unwrap_or_else(|| chart_file.clone());
        for doc in yaml::load_documents(&source, chunk.as_bytes(), reader.limits)? {
            let index = per_source.entry(source.clone()).or_default();
            for value in yaml::flatten_lists(doc.value) {
                out.push((value, Origin { file: source.clone(), document: *index }));
            }
            *index += 1;
        }
    }
    Ok(out)
}

/// Cuts at lines that are exactly `---` (Helm's separator), keeping each piece whole.
fn split_documents(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            pieces.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    pieces.push(&text[start..]);
    pieces.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_files_outside_the_repository_are_refused() {
        let app = RepoPath::new("apps/web").unwrap();
        let chart = app.join("Chart.yaml").unwrap();
        assert_eq!(
            values_file_path(&app, &chart, "values-prod.yaml").unwrap().as_str(),
            "apps/web/values-prod.yaml"
        );
        assert_eq!(
            values_file_path(&app, &chart, "../shared/v.yaml").unwrap().as_str(),
            "apps/shared/v.yaml"
        );
        for bad in ["../../../etc/passwd", "/etc/passwd", "https://example.com/v.yaml"] {
            let err = values_file_path(&app, &chart, bad).unwrap_err();
            assert!(matches!(err, RenderError::OutsideTree { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn helm_output_is_split_at_separator_lines_only() {
        let text = "---\n# Source: c/templates/a.yaml\na: 1\n---\n# Source: c/templates/b.yaml\nb: \"---\"\n";
        assert_eq!(split_documents(text).len(), 2);
    }
}
