//! The demo that `ferry up` sets up on first run: a Git repository with a small app, and an
//! Application that follows it with automated sync, prune and self-heal.

use ferry_source::process::Program;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

pub const APP_NAME: &str = "demo";
pub const APP_NAMESPACE: &str = "ferry";
pub const TARGET_NAMESPACE: &str = "demo";

const DEPLOYMENT: &str = r#"# The demo web app. Change replicas or the message in configmap.yaml, commit, and watch Ferry apply it.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  labels:
    app: demo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: demo
  template:
    metadata:
      labels:
        app: demo
    spec:
      containers:
        - name: web
          image: ghcr.io/stefanprodan/podinfo:6.7.1
          ports:
            - name: http
              containerPort: 9898
          envFrom:
            - configMapRef:
                name: demo-config
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector:
    app: demo
  ports:
    - name: http
      port: 80
      targetPort: http
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-config
data:
  PODINFO_UI_MESSAGE: "Hello from Git, applied by Ferry"
"#;

/// The demo repository's working copy under the data directory.
pub fn repo_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-repo")
}

/// Creates the demo repository (once) and returns its URL.
pub fn ensure_repo(data_dir: &Path) -> anyhow::Result<String> {
    let dir = repo_dir(data_dir);
    if !dir.join(".git").exists() {
        std::fs::create_dir_all(dir.join("apps/demo"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("apps/demo/deployment.yaml"), DEPLOYMENT)?;
        std::fs::write(dir.join("apps/demo/service.yaml"), SERVICE)?;
        std::fs::write(dir.join("apps/demo/configmap.yaml"), CONFIGMAP)?;
        std::fs::write(
            dir.join("README.md"),
            "# Ferry demo repository\n\nFerry deploys `apps/demo`. Edit a file, `git commit -am '...'`, and watch it apply.\n",
        )?;
        git(&dir, &["init", "-q", "-b", "main"])?;
        // A local identity, so the walkthrough's `git commit` works on a machine with none set.
        git(&dir, &["config", "user.name", "Ferry Demo"])?;
        git(&dir, &["config", "user.email", "demo@ferry.invalid"])?;
        git(&dir, &["add", "-A"])?;
        git(&dir, &["commit", "-q", "-m", "Demo app: Deployment, Service and ConfigMap"])?;
    }
    let canonical = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
    Ok(format!("file://{}", canonical.display()))
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Program::new("git")
        .args(args)
        .current_dir(dir)
        .run()
        .context("running git (is it installed? `apt-get install git`)")?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The demo Application.
pub fn application(repo_url: &str) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": APP_NAME, "namespace": APP_NAMESPACE},
        "spec": {
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "apps/demo"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": TARGET_NAMESPACE},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"]
            }
        }
    })
}
