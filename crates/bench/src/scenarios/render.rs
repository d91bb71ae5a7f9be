//! Rendering many manifests read from git objects (the engine's repository cache): time and
//! peak memory, against a floor run in the same process (the same files read from a checkout
//! and parsed by the YAML parser alone, so a slower machine moves both). No cluster, no engine.
//!
//! `kubectl kustomize` (1.32) is no reference at this size: it grows with the square of the
//! objects a kustomization lists (1,000 ConfigMaps 0.76 s, 3,000 7.3 s; these 10,000 objects
//! ran for over seven minutes).

use std::path::Path;
use std::time::{Duration, Instant};

use ferry_render::{RenderContext, RenderOptions, RepoPath};
use ferry_source::{Credentials, Limits, RepoCache, RepoUrl};
use serde_json::json;

use super::Options;
use crate::manifests::mixed;
use crate::measure::{Memory, reset_peak, round};
use crate::{BenchError, Report};
use ferry_testkit::{GitDaemon, Repo};

const PER_FILE: usize = 10;

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let objects = opts.size.unwrap_or(opts.pick(300, 10_000));
    let files = objects.div_ceil(PER_FILE);
    let tmp = tempfile::tempdir()
        .map_err(|source| BenchError::Io { what: "create a temporary directory".into(), source })?;
    let repo_dir = tmp.path().join("git/render.git");
    let repo = Repo::init(&repo_dir)?;
    for f in 0..files {
        let count = PER_FILE.min(objects - f * PER_FILE);
        repo.write(&format!("manifests/part-{f:05}.yaml"), &mixed(&format!("o{f}"), count, None))?;
    }
    repo.commit("many manifests")?;
    let daemon = GitDaemon::start(&tmp.path().join("git"))?;
    let fail = |what: &str, e: String| BenchError::Ferry { what: what.to_owned(), message: e };
    let url = RepoUrl::parse(&daemon.url("render.git"))
        .map_err(|e| fail("parse the URL", e.to_string()))?;
    let cache = RepoCache::new(tmp.path().join("cache"), Limits::default())
        .map_err(|e| fail("create the cache", e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::Runtime { source })?;
    let started = Instant::now();
    let fetched = runtime
        .block_on(cache.fetch(&url, &Credentials::None, "main"))
        .map_err(|e| fail("fetch", e.to_string()))?;
    let fetch_s = started.elapsed().as_secs_f64();
    let tree =
        cache.tree(&url, &fetched.commit).map_err(|e| fail("open the tree", e.to_string()))?;
    let path = RepoPath::new("manifests").map_err(|e| fail("path", e.to_string()))?;
    let ctx = RenderContext::new("render").with_namespace("render");

    let runs = 3;
    let mut times = Vec::with_capacity(runs);
    let mut peak_growth = 0.0f64;
    let mut rendered = 0;
    for _ in 0..runs {
        let base = Memory::now();
        let peak_reset = reset_peak();
        let started = Instant::now();
        let out = ferry_render::render(&tree, &path, &RenderOptions::default(), &ctx)
            .map_err(|e| fail("render", e.to_string()))?;
        times.push(started.elapsed());
        rendered = out.objects.len();
        drop(out);
        if peak_reset {
            peak_growth = peak_growth.max(Memory::now().peak_mib - base.rss_mib);
        }
    }
    times.sort();
    let floor = parse_floor(&repo_dir.join("manifests"), runs)?;
    let ms = |d: Duration| super::round3(d.as_secs_f64() * 1000.0);
    report.set("objects", rendered);
    report.set("files", files);
    report.set("fetch", json!({"seconds": super::round3(fetch_s), "bytes": fetched.bytes}));
    report.set(
        "render",
        json!({
            "runs": runs,
            "min_ms": ms(times[0]),
            "median_ms": ms(times[runs / 2]),
            "objects_per_s": round(rendered as f64 / times[runs / 2].as_secs_f64()),
            "peak_memory_growth_mib": round(peak_growth),
            "process_peak_rss_mib": round(Memory::now().peak_mib),
        }),
    );
    report.set(
        "parse_floor",
        json!({
            "runs": runs,
            "median_ms": ms(floor.time),
            "documents": floor.documents,
            "objects_per_s": round(floor.documents as f64 / floor.time.as_secs_f64()),
        }),
    );
    report.ratio("parse-floor", floor.time.as_secs_f64(), times[runs / 2].as_secs_f64());
    report.note("parse_floor: the same files read from a checkout and parsed into JSON values by serde-saphyr alone, no checks, no hashes (the least a render can do; the ratio is floor time / render time, 1.0 = no overhead)");
    report.note("render reads the files from git objects in the repository cache (as the engine does) and parses, checks and hashes every object; peak_memory_growth is the process's peak RSS during a render above its RSS before it");
    Ok(())
}

/// What the floor run did: its median time and how many documents it parsed.
struct Floor {
    time: Duration,
    documents: usize,
}

/// The median of `runs` passes that read every file of `dir` and parse it as YAML documents.
fn parse_floor(dir: &Path, runs: usize) -> Result<Floor, BenchError> {
    let io = |what: String| move |source| BenchError::Io { what, source };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(format!("list {}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    let mut times = Vec::with_capacity(runs);
    let mut documents = 0;
    for _ in 0..runs {
        let started = Instant::now();
        documents = 0;
        for path in &paths {
            let text =
                std::fs::read_to_string(path).map_err(io(format!("read {}", path.display())))?;
            let docs: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(&text).map_err(|e| BenchError::Ferry {
                    what: format!("parse {}", path.display()),
                    message: e.to_string(),
                })?;
            documents += docs.len();
        }
        times.push(started.elapsed());
    }
    times.sort();
    Ok(Floor { time: times[runs / 2], documents })
}
