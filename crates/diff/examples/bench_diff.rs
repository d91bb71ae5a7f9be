//! Throughput of apply, defaulting and diff over the shared corpus (argo-cd install.yaml:
//! 59 objects, 3 large CRDs). Run: `cargo run --release -p ferry-diff --example bench_diff -- [FILE.yaml]
//! [--without-crds] [--rounds N]`.

use std::time::Instant;

use ferry_diff::{DiffOptions, Schema, apply, apply_defaults, diff_object};
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".yaml") || a.ends_with(".yml"))
        .unwrap_or_else(|| "/work/shared/corpus/argo-cd-install/install.yaml".into());
    let text = std::fs::read_to_string(&path)?;
    let only_small = std::env::args().any(|a| a == "--without-crds");
    let objs: Vec<Value> = serde_saphyr::from_multiple::<Value>(&text)?
        .into_iter()
        .filter(Value::is_object)
        .filter(|o| !only_small || o["kind"] != "CustomResourceDefinition")
        .collect();
    let schema = Schema::builtin();
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    // Warm up once (builds the built-in schema tables) so rounds measure steady state.
    for o in &objs {
        apply(None, o, "ferry", false, "2026-11-22T01:00:00Z", &schema)?;
    }

    let mut lives = Vec::new();
    let start = Instant::now();
    for _ in 0..rounds {
        lives.clear();
        for o in &objs {
            let mut live = apply(None, o, "ferry", false, "2026-11-22T01:00:00Z", &schema)?.object;
            apply_defaults(&mut live);
            lives.push(live);
        }
    }
    let apply_time = start.elapsed();

    let opts = DiffOptions::default();
    let start = Instant::now();
    let mut drift = 0;
    for _ in 0..rounds {
        for (o, l) in objs.iter().zip(&lives) {
            drift += usize::from(!diff_object(o, l, &opts)?.in_sync());
        }
    }
    let diff_time = start.elapsed();

    let start = Instant::now();
    for _ in 0..rounds {
        for (o, l) in objs.iter().zip(&lives) {
            let again = apply(Some(l), o, "ferry", false, "2026-11-22T02:00:00Z", &schema)?;
            drift += usize::from(again.changed);
        }
    }
    let reapply_time = start.elapsed();

    let n = (objs.len() * rounds) as f64;
    println!(
        "objects: {} x {rounds} rounds, {} bytes of YAML, drift found: {drift}",
        objs.len(),
        text.len()
    );
    for (what, t) in [
        ("create-apply+defaults", apply_time),
        ("diff", diff_time),
        ("no-op re-apply", reapply_time),
    ] {
        println!(
            "{what:>22}: {:>8.1} objects/s ({:.3} ms/object)",
            n / t.as_secs_f64(),
            t.as_secs_f64() * 1000.0 / n
        );
    }
    Ok(())
}
