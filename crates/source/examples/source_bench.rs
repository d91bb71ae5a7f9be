//! Source-stage measurements on a synthetic 5,000-file / 10,000-manifest repository served by a
//! local `git daemon`:
//! - cold and incremental fetch, git CLI (what `RepoCache` uses) vs gix,
//! - an unchanged poll (`ls-remote`),
//! - the change set of a one-file commit,
//! - reading every file of the commit through `GitTree`.
//!
//! Run: `cargo run --release -p ferry-source --example source_bench [-- FILES]`.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ferry_source::{Credentials, Limits, RepoCache, RepoPath, RepoUrl, Tree};
use ferry_testkit::{GitDaemon, Repo};

/// `files` files under 250 app directories, two manifests per file.
fn synthesize(work: &Path, files: usize) {
    for i in 0..files {
        let dir = work.join(format!("apps/app-{:03}", i % 250));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let body = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: app-{ns}\ndata:\n  key: value-{i}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: app-{ns}\nspec:\n  ports:\n  - port: {port}\n",
            ns = i % 250,
            port = 1000 + i % 50000
        );
        std::fs::write(dir.join(format!("m-{i:05}.yaml")), body).expect("write");
    }
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let m = e.metadata().expect("metadata");
            total += if m.is_dir() { dir_size(&e.path()) } else { m.len() };
        }
    }
    total
}

fn gix_fetch(repo_dir: &Path, url: &str) -> Duration {
    let start = Instant::now();
    let repo = if repo_dir.exists() {
        gix::open(repo_dir).expect("open")
    } else {
        gix::init_bare(repo_dir).expect("init")
    };
    let remote = repo
        .remote_at(url)
        .expect("remote")
        .with_refspecs(["+refs/heads/main:refs/heads/main"], gix::remote::Direction::Fetch)
        .expect("refspec");
    let interrupt = AtomicBool::new(false);
    remote
        .connect(gix::remote::Direction::Fetch)
        .expect("connect")
        .prepare_fetch(gix::progress::Discard, Default::default())
        .expect("prepare")
        .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
            NonZeroU32::new(1).expect("1 > 0"),
        ))
        .receive(gix::progress::Discard, &interrupt)
        .expect("receive");
    start.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let files: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().join("work");
    let served = tmp.path().join("served");
    let repo = Repo::init(&work).expect("git init");
    synthesize(&work, files);
    repo.commit("synthetic").expect("commit");
    let bare = served.join("bench.git");
    repo.publish(&bare).expect("publish");
    let mut daemon = GitDaemon::start(&served).expect("git daemon");
    let url_text = daemon.url("bench.git");
    let url = RepoUrl::parse(&url_text).expect("url");
    println!("repository: {files} files, {} manifests, served by git daemon at {url}", files * 2);

    // git CLI through RepoCache.
    let cache = RepoCache::new(tmp.path().join("cache"), Limits::default()).expect("cache");
    let start = Instant::now();
    let cold = cache.fetch(&url, &Credentials::None, "main").await.expect("cold fetch");
    let cold_cli = start.elapsed();
    // gix cold.
    let gix_dir = tmp.path().join("gix.git");
    let cold_gix = gix_fetch(&gix_dir, &url_text);

    // Unchanged poll and unchanged fetch.
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        cache.ls_remote(&url, &Credentials::None).await.expect("poll");
    }
    let poll = start.elapsed() / rounds;
    let start = Instant::now();
    let same = cache.fetch(&url, &Credentials::None, "main").await.expect("unchanged fetch");
    let unchanged_fetch = start.elapsed();
    assert_eq!(same.bytes, 0);

    // One-file commit, then incremental fetches.
    std::fs::write(
        work.join("apps/app-007/m-00007.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: changed\n",
    )
    .expect("edit");
    repo.commit("one file").expect("commit");
    repo.publish(&bare).expect("push");
    let start = Instant::now();
    let incr = cache.fetch(&url, &Credentials::None, "main").await.expect("incremental fetch");
    let incr_cli = start.elapsed();
    let incr_gix = gix_fetch(&gix_dir, &url_text);

    // Change set of the one-file commit.
    let start = Instant::now();
    let mut changed = Default::default();
    for _ in 0..rounds {
        changed = cache.changed_paths(&url, &cold.commit, &incr.commit).expect("changed paths");
    }
    let change_set = start.elapsed() / rounds;

    // Read every file of the commit from objects.
    let tree = cache.tree(&url, &incr.commit).expect("tree");
    let start = Instant::now();
    let mut bytes = 0usize;
    let mut stack = vec![RepoPath::root()];
    while let Some(dir) = stack.pop() {
        for entry in tree.list(&dir).expect("list") {
            match entry.kind {
                ferry_source::EntryKind::Dir => stack.push(entry.path),
                _ => bytes += tree.read(&entry.path, 1 << 20).expect("read").len(),
            }
        }
    }
    let read_all = start.elapsed();

    println!(
        "cold fetch (depth 1)       git CLI {:>10}   gix {:>10}   ({} pack bytes)",
        ms(cold_cli),
        ms(cold_gix),
        cold.bytes
    );
    println!(
        "incremental fetch (1 file) git CLI {:>10}   gix {:>10}   ({} pack bytes)",
        ms(incr_cli),
        ms(incr_gix),
        incr.bytes
    );
    println!("unchanged poll (ls-remote) {:>10} (mean of {rounds})", ms(poll));
    println!(
        "unchanged fetch            {:>10} (ls-remote + local check, 0 bytes)",
        ms(unchanged_fetch)
    );
    println!(
        "change set of 1-file commit {:>9} (mean of {rounds}; {} path: {:?})",
        ms(change_set),
        changed.len(),
        changed.iter().next()
    );
    println!("read all {files} files via GitTree {:>10} ({bytes} bytes)", ms(read_all));
    println!(
        "cache size on disk: git CLI {} bytes, gix {} bytes",
        dir_size(&cache.repo_dir(&url)),
        dir_size(&gix_dir)
    );
    daemon.stop();
}
