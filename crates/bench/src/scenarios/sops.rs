//! SOPS: what decryption costs per value and per file, and a render of an app of encrypted
//! Secrets against the same app in clear (a ratio). No cluster, no engine: files on disk through
//! the render stage, keys in memory.

use std::time::{Duration, Instant};

use ferry_render::{Keyring, RenderContext, RenderOptions, RepoPath};
use ferry_secrets::{EncryptOptions, Format};
use ferry_source::FsTree;
use serde_json::json;

use super::Options;
use crate::measure::round;
use crate::{BenchError, Report};

/// Values per Secret (`stringData` entries).
const VALUES: usize = 5;

fn secret(i: usize) -> String {
    let mut s = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i:05}\n  labels:\n    app: bench\ntype: Opaque\nstringData:\n"
    );
    for v in 0..VALUES {
        s.push_str(&format!("  key{v}: value-{i}-{v}-0123456789abcdef\n"));
    }
    s
}

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let n = opts.size.unwrap_or(opts.pick(20, 500));
    let fail = |what: &str, e: String| BenchError::Ferry { what: what.to_owned(), message: e };
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| BenchError::Io { what, source }
    };
    let tmp = tempfile::tempdir().map_err(io("create a temporary directory"))?;
    let (identity, recipient) = ferry_secrets::generate_age();
    let enc_opts = EncryptOptions {
        age: vec![recipient],
        encrypted_regex: Some("^(data|stringData)$".into()),
        ..EncryptOptions::default()
    };
    let mut encrypted = Vec::with_capacity(n);
    for i in 0..n {
        let plain = secret(i);
        let enc = ferry_secrets::encrypt(Format::Yaml, plain.as_bytes(), &enc_opts)
            .map_err(|e| fail("encrypt", e.to_string()))?;
        for (dir, bytes) in [("plain", plain.as_bytes()), ("sops", &enc[..])] {
            std::fs::create_dir_all(tmp.path().join(dir)).map_err(io("create an app directory"))?;
            std::fs::write(tmp.path().join(format!("{dir}/s{i:05}.yaml")), bytes)
                .map_err(io("write a manifest"))?;
        }
        encrypted.push(enc);
    }
    let mut ring = Keyring::new();
    ring.add_age(&identity, "bench identity").map_err(|e| fail("key", e.to_string()))?;
    let ring = std::sync::Arc::new(ring);

    let started = Instant::now();
    let mut values = 0;
    for enc in &encrypted {
        let plain = ferry_secrets::decrypt(Format::Yaml, enc, &ring)
            .map_err(|e| fail("decrypt", e.to_string()))?
            .ok_or_else(|| fail("decrypt", "not a SOPS file".into()))?;
        values += plain.values;
    }
    let decrypt = started.elapsed();

    let tree = FsTree::new(tmp.path()).map_err(|e| fail("open the tree", e.to_string()))?;
    let ctx = RenderContext::new("sops").with_namespace("sops").with_decryption(ring);
    let render = |app: &str| -> Result<Duration, BenchError> {
        let path = RepoPath::new(app).map_err(|e| fail("path", e.to_string()))?;
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let out = ferry_render::render(&tree, &path, &RenderOptions::default(), &ctx)
                .map_err(|e| fail("render", e.to_string()))?;
            times.push(started.elapsed());
            if out.objects.len() != n {
                return Err(fail("render", format!("{} objects, expected {n}", out.objects.len())));
            }
        }
        times.sort();
        Ok(times[1])
    };
    let plain_render = render("plain")?;
    let sops_render = render("sops")?;

    let ms = |d: Duration| super::round3(d.as_secs_f64() * 1000.0);
    report.set("secrets", n);
    report.set("values_per_secret", VALUES);
    report.set(
        "decrypt",
        json!({
            "files": n,
            "values": values,
            "total_ms": ms(decrypt),
            "per_file_ms": super::round3(decrypt.as_secs_f64() * 1000.0 / n as f64),
            "per_value_us": round(decrypt.as_secs_f64() * 1e6 / values.max(1) as f64),
        }),
    );
    report.set(
        "render",
        json!({"plain_median_ms": ms(plain_render), "sops_median_ms": ms(sops_render)}),
    );
    // How many times longer the encrypted app takes to render than the same app in clear.
    report.ratio("sops_render_vs_plain", sops_render.as_secs_f64(), plain_render.as_secs_f64());
    report.note("each file is opened with its own data key (one age X25519 unwrap per file), then its values are decrypted with AES-GCM and the MAC checked; per_value_us is the whole decrypt divided by the values, so it includes the per-file unwrap");
    Ok(())
}
