//! `ferry helm-shim install [DIR]`: writes the `helm` shim shipped in the binary
//! (`ferry_render::HELM_SHIM`: `helm template` over Helm's Go SDK through the PyPI package
//! `helm-python-sdk`) for machines where no `helm` binary can be installed, and checks that it
//! runs.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, bail};

#[derive(clap::Subcommand)]
pub enum HelmShimCommand {
    /// Write DIR/helm (default DIR: ~/.local/bin) and check that it runs.
    Install {
        dir: Option<PathBuf>,
        /// Replace an existing DIR/helm that is not Ferry's shim.
        #[arg(long)]
        force: bool,
    },
    /// Print the shim to stdout.
    Print,
}

pub fn run(command: HelmShimCommand) -> anyhow::Result<()> {
    match command {
        HelmShimCommand::Print => {
            use std::io::Write;
            std::io::stdout().lock().write_all(ferry_render::HELM_SHIM.as_bytes())?;
            Ok(())
        }
        HelmShimCommand::Install { dir, force } => install(dir, force),
    }
}

fn install(dir: Option<PathBuf>, force: bool) -> anyhow::Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set; name a DIR")?)
            .join(".local/bin"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("helm");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if !existing.contains("Ferry's `helm` shim") && !force {
            bail!(
                "{} exists and is not Ferry's shim (a real Helm?); keep it, or pass --force to replace it",
                path.display()
            );
        }
    } else if path.exists() && !force {
        bail!(
            "{} exists and is not Ferry's shim (a real Helm?); keep it, or pass --force to replace it",
            path.display()
        );
    }
    std::fs::write(&path, ferry_render::HELM_SHIM)
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))?;
    eprintln!("wrote {}", path.display());
    let check = std::process::Command::new(&path).arg("version").output();
    match check {
        Ok(out) if out.status.success() => {
            eprintln!("it runs: helm {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        Ok(out) => eprintln!(
            "warning: it does not run yet: {}\nhint: pip install helm-python-sdk",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("warning: it does not run yet ({e}); it needs python3 on the PATH"),
    }
    eprintln!(
        "hint: export FERRY_HELM={} (read by `ferry render`, `ferry up` and `ferry controller`), or put {} first on PATH",
        path.display(),
        dir.display()
    );
    Ok(())
}
