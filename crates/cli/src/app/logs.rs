//! `ferry app logs`: the logs of the app's pods, from the cluster's pod log API (`GET
//! …/pods/NAME/log`), found through the app's workloads (their `spec.selector`) and pods.
//! Several streams are prefixed with `[pod/container]`, as `kubectl logs --prefix` does.

use std::process::ExitCode;
use std::time::Duration;

use ferry_apply::discovery::{Discovery, gvk_of};
use ferry_engine::application::ResourceStatus;
use futures::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DynamicObject, ListParams, LogParams};
use kube::{Api, ResourceExt};

use super::connect::Connection;
use super::error::CliError;
use super::output::{hint, io_error};
use super::wait::parse_timeout;

/// Kinds whose pods are found through `spec.selector.matchLabels`.
const WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"];

#[derive(clap::Args, Debug, Clone)]
pub struct LogsArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Only the app's objects of this kind (Deployment, StatefulSet, DaemonSet, Job, Pod …).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only the app's object of this name.
    #[arg(long = "name", id = "object_name", value_name = "NAME")]
    pub object_name: Option<String>,
    /// Only this container.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Keep streaming new lines until the pods end (Ctrl-C stops).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The last N lines of each container.
    #[arg(long)]
    pub tail: Option<i64>,
    /// Only lines newer than this (30s, 5m, 1h).
    #[arg(long, value_parser = parse_timeout)]
    pub since: Option<Duration>,
    /// Prefix each line with its RFC 3339 time.
    #[arg(long)]
    pub timestamps: bool,
}

/// One container's log stream.
#[derive(Clone, Debug)]
struct Stream {
    namespace: String,
    pod: String,
    container: String,
}

pub async fn run(conn: &Connection, ns: &str, args: LogsArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, &args.name).await?;
    let resources = app.status.unwrap_or_default().resources;
    let chosen: Vec<&ResourceStatus> = resources
        .iter()
        .filter(|r| args.kind.as_ref().is_none_or(|k| k.eq_ignore_ascii_case(&r.kind)))
        .filter(|r| args.object_name.as_ref().is_none_or(|n| *n == r.name))
        .filter(|r| r.kind == "Pod" || WORKLOADS.contains(&r.kind.as_str()))
        .collect();
    let pods = pods_of(conn, &chosen).await?;
    let streams = streams(&pods, args.container.as_deref());
    if streams.is_empty() {
        return Err(nothing_found(&args, &chosen, &pods));
    }
    let params = LogParams {
        container: None,
        follow: args.follow,
        since_seconds: args.since.map(|d| d.as_secs() as i64),
        tail_lines: args.tail,
        timestamps: args.timestamps,
        ..LogParams::default()
    };
    let prefix = streams.len() > 1;
    let failed = if args.follow {
        follow(conn, streams.clone(), params, prefix).await?
    } else {
        read_all(conn, &streams, &params, prefix).await?
    };
    Ok(if failed == streams.len() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn nothing_found(args: &LogsArgs, chosen: &[&ResourceStatus], pods: &[Pod]) -> CliError {
    let name = &args.name;
    match (&args.container, chosen.is_empty(), pods.is_empty()) {
        (_, true, _) => CliError::Failed(format!(
            "{name} has no workload or pod{} (`ferry app resources {name}` lists its objects)",
            filter_words(args)
        )),
        (_, false, true) => CliError::Failed(format!(
            "{name}'s workloads have no pods yet; `ferry app wait {name} --health` waits for them"
        )),
        (Some(c), false, false) => CliError::Failed(format!(
            "no pod of {name} has a container {c:?}; its containers are: {}",
            containers_of(pods).join(", ")
        )),
        (None, false, false) => CliError::Failed(format!("{name}'s pods have no containers")),
    }
}

fn filter_words(args: &LogsArgs) -> String {
    match (&args.kind, &args.object_name) {
        (Some(k), Some(n)) => format!(" {k} {n}"),
        (Some(k), None) => format!(" of kind {k}"),
        (None, Some(n)) => format!(" named {n}"),
        (None, None) => String::new(),
    }
}

fn containers_of(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter().map(|c| c.name.clone())))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The pods of the chosen objects: pods themselves, and the pods matching each workload's
/// selector, each once, sorted by namespace and name.
async fn pods_of(conn: &Connection, chosen: &[&ResourceStatus]) -> Result<Vec<Pod>, CliError> {
    let discovery = Discovery::new();
    let mut pods: Vec<Pod> = Vec::new();
    for r in chosen {
        let pod_api: Api<Pod> = Api::namespaced(conn.client.clone(), &r.namespace);
        if r.kind == "Pod" {
            let found = pod_api.get_opt(&r.name).await;
            pods.extend(found.map_err(|e| CliError::api(e, format!("reading pod {}", r.name)))?);
            continue;
        }
        let api_version = if r.group.is_empty() {
            r.version.clone()
        } else {
            format!("{}/{}", r.group, r.version)
        };
        let resolved = discovery
            .resolve(&conn.client, &gvk_of(&api_version, &r.kind))
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(conn.client.clone(), &r.namespace, &resolved.resource);
        let what = format!("reading {} {}/{}", r.kind, r.namespace, r.name);
        let Some(obj) = api.get_opt(&r.name).await.map_err(|e| CliError::api(e, &what))? else {
            continue;
        };
        let Some(labels) =
            obj.data.pointer("/spec/selector/matchLabels").and_then(|v| v.as_object())
        else {
            continue;
        };
        let selector: Vec<String> =
            labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        let list = pod_api
            .list(&ListParams::default().labels(&selector.join(",")))
            .await
            .map_err(|e| CliError::api(e, format!("listing the pods of {} {}", r.kind, r.name)))?;
        pods.extend(list.items);
    }
    pods.sort_by_key(|p| (p.namespace().unwrap_or_default(), p.name_any()));
    pods.dedup_by_key(|p| (p.namespace().unwrap_or_default(), p.name_any()));
    Ok(pods)
}

fn streams(pods: &[Pod], container: Option<&str>) -> Vec<Stream> {
    let mut out = Vec::new();
    for pod in pods {
        for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            if container.is_none_or(|want| want == c.name) {
                out.push(Stream {
                    namespace: pod.namespace().unwrap_or_default(),
                    pod: pod.name_any(),
                    container: c.name.clone(),
                });
            }
        }
    }
    out
}

fn label(s: &Stream) -> String {
    format!("[{}/{}] ", s.pod, s.container)
}

/// Reads each stream in turn; a stream the server refuses (a container still waiting for its
/// image) is reported and skipped. Returns how many failed.
async fn read_all(
    conn: &Connection,
    streams: &[Stream],
    params: &LogParams,
    prefix: bool,
) -> Result<usize, CliError> {
    let mut failed = 0;
    for s in streams {
        let api: Api<Pod> = Api::namespaced(conn.client.clone(), &s.namespace);
        let lp = LogParams { container: Some(s.container.clone()), ..params.clone() };
        match api.logs(&s.pod, &lp).await {
            Ok(text) => {
                let p = if prefix { label(s) } else { String::new() };
                let out: String = text.lines().map(|l| format!("{p}{l}\n")).collect();
                super::output::print(&out)?;
            }
            Err(e) => {
                failed += 1;
                warn(s, &e);
            }
        }
    }
    Ok(failed)
}

fn warn(s: &Stream, e: &kube::Error) {
    let message = match e {
        kube::Error::Api(status) => status.message.clone(),
        other => super::error::root_cause(other),
    };
    eprintln!("warning: no logs from pod {} container {}: {message}", s.pod, s.container);
    hint(&format!("kubectl describe pod {} -n {}", s.pod, s.namespace));
}

/// Streams every container at once, lines interleaved as they come, until all streams end.
async fn follow(
    conn: &Connection,
    streams: Vec<Stream>,
    params: LogParams,
    prefix: bool,
) -> Result<usize, CliError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<String, String>>(256);
    for s in streams {
        let api: Api<Pod> = Api::namespaced(conn.client.clone(), &s.namespace);
        let lp = LogParams { container: Some(s.container.clone()), ..params.clone() };
        let tx = tx.clone();
        tokio::spawn(async move {
            let p = if prefix { label(&s) } else { String::new() };
            match api.log_stream(&s.pod, &lp).await {
                Ok(reader) => {
                    let mut lines = reader.lines();
                    while let Some(Ok(line)) = futures::StreamExt::next(&mut lines).await {
                        if tx.send(Ok(format!("{p}{line}\n"))).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    warn(&s, &e);
                    let _ = tx.send(Err(s.pod.clone())).await;
                }
            }
        });
    }
    drop(tx);
    let mut failed = 0;
    let mut out = std::io::stdout();
    while let Some(item) = rx.recv().await {
        match item {
            Ok(line) => {
                use std::io::Write;
                out.write_all(line.as_bytes()).map_err(io_error)?;
                out.flush().map_err(io_error)?;
            }
            Err(_) => failed += 1,
        }
    }
    Ok(failed)
}
