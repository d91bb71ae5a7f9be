//! Benchmark: how fast `image set` plans edits (read, parse with spans, find sites, splice) on
//! the largest corpus manifest (Argo CD's install.yaml, ~1.9 MB, 59 objects). Nothing is written.
//!
//! `cargo run --release -p ferry-image --example plan_speed`

use std::path::Path;
use std::time::Instant;

use ferry_image::{parse_updates, plan_set};

fn main() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/argo-cd-install/install.yaml");
    let bytes = std::fs::metadata(&file).expect("corpus file").len();
    let updates = parse_updates(&["quay.io/argoproj/argocd=:v9.9.9"]).expect("valid update");
    let rounds = 20u32;
    let start = Instant::now();
    let mut changes = 0;
    for _ in 0..rounds {
        changes = plan_set(&file, &updates).expect("plans").report().changes.len();
    }
    let per_run = start.elapsed() / rounds;
    let mb_per_s = bytes as f64 / 1e6 / per_run.as_secs_f64();
    println!(
        "install.yaml: {bytes} bytes, {changes} image references planned in {per_run:.2?} ({mb_per_s:.1} MB/s)"
    );
}
