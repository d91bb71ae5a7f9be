//! The same objects applied to the same embedded cluster by Ferry (a one-shot sync of a
//! directory), `kubectl apply --server-side` and `kpt live apply`, then a no-op re-apply.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ferry_apply::tracking::AppId;
use serde_json::{Value, json};

use super::{Options, Window, round3};
use crate::manifests::mixed;
use crate::world::Stage;
use crate::{BenchError, Report};

/// Where kpt is installed with the Google Cloud SDK; `KPT` overrides, then `kpt` on PATH.
const KPT_SDK: &str = "/usr/lib/google-cloud-sdk/bin/kpt";
const PER_FILE: usize = 100;

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let objects = opts.size.unwrap_or(opts.pick(30, 1000));
    let stage = Stage::start()?;
    let tmp = tempfile::tempdir()
        .map_err(|source| BenchError::Io { what: "create a temporary directory".into(), source })?;
    let kubeconfig = stage.cluster.kubeconfig_path().to_owned();

    // Ferry.
    let dir = write_package(tmp.path(), "ferry", objects)?;
    stage.create_namespace("avk-ferry")?;
    let app = AppId::new("bench", "apply-vs-kubectl");
    let mut ferry = Vec::new();
    for run in ["apply", "noop"] {
        let window = Window::open(&stage);
        let started = Instant::now();
        let done = stage.block_on(crate::oneshot::sync_directory(
            &stage.client,
            &dir,
            &app,
            "avk-ferry",
        ))?;
        let seconds = started.elapsed().as_secs_f64();
        let costs = window.close(&stage);
        if run == "noop" && done.applied != 0 {
            return Err(BenchError::Ferry {
                what: "the no-op re-apply".into(),
                message: format!("{} objects were sent again", done.applied),
            });
        }
        ferry.push((
            seconds,
            json!({
                "seconds": round3(seconds), "objects": done.objects, "sent": done.applied,
                "unchanged": done.unchanged, "cpu_s": round3(costs.cpu.other),
                "requests": costs.served.total(), "writes": costs.served.writes(),
                "cluster_cpu_s": round3(costs.cpu.cluster),
            }),
        ));
    }
    report.set("objects", objects);
    report.set("ferry", json!({"apply": ferry[0].1, "noop": ferry[1].1}));

    // kubectl.
    let dir = write_package(tmp.path(), "kubectl", objects)?;
    stage.create_namespace("avk-kubectl")?;
    let mut kubectl = Vec::new();
    for _ in ["apply", "noop"] {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&kubeconfig).args(["apply", "--server-side", "-f"]).arg(&dir);
        kubectl.push(timed(&stage, "kubectl", cmd)?);
    }
    report.set("kubectl", json!({"apply": kubectl[0].1, "noop": kubectl[1].1}));
    report.ratio("kubectl-apply", kubectl[0].0, ferry[0].0);
    report.ratio("kubectl-noop", kubectl[1].0, ferry[1].0);

    // kpt.
    match kpt_program() {
        None => report.note(format!("kpt not found (looked at $KPT, {KPT_SDK} and PATH): the kpt columns are skipped; install kpt (Google Cloud SDK component) to fill them")),
        Some(kpt) => {
            let dir = write_package(tmp.path(), "kpt", objects)?;
            stage.create_namespace("avk-kpt")?;
            let mut init = Command::new(&kpt);
            init.args(["pkg", "init"]).arg(&dir);
            run_quiet("kpt pkg init", init)?;
            let mut init = Command::new(&kpt);
            init.args(["live", "init", "--namespace", "avk-kpt", "--name", "apply-vs-kubectl"]).arg(&dir).arg("--kubeconfig").arg(&kubeconfig);
            run_quiet("kpt live init", init)?;
            let mut install = Command::new(&kpt);
            install.args(["live", "install-resource-group", "--kubeconfig"]).arg(&kubeconfig);
            run_quiet("kpt live install-resource-group", install)?;
            let mut kpt_runs = Vec::new();
            for _ in ["apply", "noop"] {
                let mut cmd = Command::new(&kpt);
                cmd.args(["live", "apply", "--server-side", "--reconcile-timeout=10m", "--output=events", "--kubeconfig"]).arg(&kubeconfig).arg(&dir);
                kpt_runs.push(timed(&stage, "kpt live apply", cmd)?);
            }
            report.set("kpt", json!({"apply": kpt_runs[0].1, "noop": kpt_runs[1].1}));
            report.ratio("kpt-apply", kpt_runs[0].0, ferry[0].0);
            report.ratio("kpt-noop", kpt_runs[1].0, ferry[1].0);
        }
    }
    report.note("ferry and kpt wait for the applied objects to be healthy/current, kubectl apply does not; each tool applies the same objects into its own namespace of the same cluster; a no-op re-apply follows each first apply");
    report.note("ferry runs in this process (cpu_s: the harness thread); kubectl and kpt are child processes (cpu_s: their CPU); requests and cluster_cpu_s are the embedded cluster's");
    Ok(())
}

/// Writes `objects` manifests, PER_FILE to a file, into `base/name`, namespaced `avk-NAME`.
fn write_package(base: &Path, name: &str, objects: usize) -> Result<PathBuf, BenchError> {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir)
        .map_err(|source| BenchError::Io { what: format!("create {}", dir.display()), source })?;
    let namespace = format!("avk-{name}");
    for f in 0..objects.div_ceil(PER_FILE) {
        let count = PER_FILE.min(objects - f * PER_FILE);
        let yaml = mixed(&format!("o{f}"), count, Some(&namespace));
        let path = dir.join(format!("part-{f:04}.yaml"));
        std::fs::write(&path, yaml).map_err(|source| BenchError::Io {
            what: format!("write {}", path.display()),
            source,
        })?;
    }
    Ok(dir)
}

fn timed(stage: &Stage, tool: &str, mut cmd: Command) -> Result<(f64, Value), BenchError> {
    let window = Window::open(stage);
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| BenchError::Tool {
        tool: tool.to_owned(),
        message: format!("cannot run it: {e} (is it installed?)"),
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let costs = window.close(stage);
    if !out.status.success() {
        return Err(BenchError::Tool { tool: tool.to_owned(), message: tail(&out.stderr) });
    }
    Ok((
        seconds,
        json!({
            "seconds": round3(seconds), "cpu_s": round3(costs.cpu.children),
            "requests": costs.served.total(), "writes": costs.served.writes(),
            "cluster_cpu_s": round3(costs.cpu.cluster),
        }),
    ))
}

fn run_quiet(tool: &str, mut cmd: Command) -> Result<(), BenchError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BenchError::Tool { tool: tool.to_owned(), message: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::Tool { tool: tool.to_owned(), message: tail(&out.stderr) })
    }
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// `$KPT`, then the Google Cloud SDK's kpt, then `kpt` on PATH.
fn kpt_program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KPT") {
        return Some(PathBuf::from(p));
    }
    if Path::new(KPT_SDK).exists() {
        return Some(PathBuf::from(KPT_SDK));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("kpt")).find(|p| p.exists())
}
