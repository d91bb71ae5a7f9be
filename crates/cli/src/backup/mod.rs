//! `ferry export` and `ferry import`: Ferry's state out of a cluster and back — Applications
//! (spec and status: history, inventory, the synced revision), Projects, ApplicationSets, image
//! automation objects, Ferry's ConfigMaps and its repository, repo-creds, cluster and settings Secrets (omitted,
//! sealed with age through SOPS, or in clear only when asked for). With Git, that is everything
//! needed to rebuild a lost Ferry (docs/disaster-recovery.md). Import is server-side apply:
//! running it twice changes nothing.

pub mod format;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_secrets::{EncryptOptions, Format, Keyring};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{Value, json};

use crate::app::connect::{ClusterArgs, connect};
use format::{Export, SecretsMode};

/// The field manager of what import writes.
const FIELD_MANAGER: &str = "ferry-import";

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write the export to FILE (mode 0600) instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Ferry's namespace: its repository, cluster and settings Secrets and ConfigMaps.
    #[arg(long, default_value = "ferry")]
    pub namespace: String,
    /// Secrets: `omit` (default without --age-recipient), `encrypt` (default with it), `plain`.
    #[arg(long, value_enum)]
    pub secrets: Option<SecretsMode>,
    /// An age recipient (`age1…`) the Secrets are sealed for; repeat for several.
    #[arg(long = "age-recipient")]
    pub age_recipients: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The file `ferry export` wrote.
    pub file: PathBuf,
    /// The age identity file that opens an encrypted export (default: SOPS_AGE_KEY_FILE,
    /// SOPS_AGE_KEY).
    #[arg(long)]
    pub age_key: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Ferry's custom resources in an export: (group, kind, plural), all `v1alpha1`.
const FERRY_KINDS: &[(&str, &str, &str)] = &[
    ("ferry.dev", "Project", "projects"),
    ("ferry.dev", "Application", "applications"),
    ("ferry.dev", "ApplicationSet", "applicationsets"),
    ("image.ferry.dev", "ImageRepository", "imagerepositories"),
    ("image.ferry.dev", "ImagePolicy", "imagepolicies"),
    ("image.ferry.dev", "ImageUpdateAutomation", "imageupdateautomations"),
];

fn ferry_resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1alpha1", kind), plural)
}

fn secrets_mode(args: &ExportArgs) -> anyhow::Result<SecretsMode> {
    let mode = args.secrets.unwrap_or(if args.age_recipients.is_empty() {
        SecretsMode::Omit
    } else {
        SecretsMode::Encrypt
    });
    if mode == SecretsMode::Encrypt && args.age_recipients.is_empty() {
        bail!(
            "--secrets encrypt needs at least one --age-recipient (make a key with `ferry secret keygen`)"
        );
    }
    Ok(mode)
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let mode = secrets_mode(&args)?;
    let conn = connect(&args.cluster).await?;
    let mut objects = Vec::new();
    for (group, kind, plural) in FERRY_KINDS {
        let resource = ferry_resource(group, kind, plural);
        let api: Api<DynamicObject> = Api::all_with(conn.client.clone(), &resource);
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for o in list.items {
                    let mut value = serde_json::to_value(o).context("reading a listed object")?;
                    value["apiVersion"] = format!("{group}/v1alpha1").into();
                    value["kind"] = (*kind).into();
                    objects.push(format::clean(value, *kind == "Application"));
                }
            }
            // The CRD is not installed: there is nothing of that kind to export.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("listing {plural}.{group}")),
        }
    }
    let cms: Api<ConfigMap> = Api::namespaced(conn.client.clone(), &args.namespace);
    let list = cms.list(&ListParams::default()).await.context("listing ConfigMaps")?;
    for cm in list.items {
        let mut value = serde_json::to_value(cm).context("reading a ConfigMap")?;
        value["apiVersion"] = "v1".into();
        value["kind"] = "ConfigMap".into();
        if format::is_ferry_config_map(&value) {
            objects.push(format::clean(value, false));
        }
    }
    let (secrets, omitted) = collect_secrets(&conn.client, &args.namespace, mode).await?;
    objects.extend(secrets);
    let mut export = Export::new(jiff::Timestamp::now().to_string(), mode, objects);
    export.omitted_secrets = omitted;
    let bytes = encode(&export, &args.age_recipients)?;
    write_output(args.output.as_deref(), &bytes)?;
    report_export(&export, args.output.as_deref());
    Ok(ExitCode::SUCCESS)
}

async fn collect_secrets(
    client: &kube::Client,
    namespace: &str,
    mode: SecretsMode,
) -> anyhow::Result<(Vec<Value>, Vec<String>)> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let list = api.list(&ListParams::default()).await.context("listing Secrets")?;
    let (mut kept, mut omitted) = (Vec::new(), Vec::new());
    for secret in list.items {
        let mut value = serde_json::to_value(secret).context("reading a Secret")?;
        value["apiVersion"] = "v1".into();
        value["kind"] = "Secret".into();
        if !format::is_ferry_secret(&value) {
            continue;
        }
        if mode == SecretsMode::Omit {
            omitted.push(format::describe(&value));
        } else {
            kept.push(format::clean(value, false));
        }
    }
    Ok((kept, omitted))
}

/// The export as YAML; with recipients, a SOPS file whose Secret values are sealed for them.
fn encode(export: &Export, recipients: &[String]) -> anyhow::Result<Vec<u8>> {
    let value = serde_json::to_value(export).context("encoding the export")?;
    let yaml = serde_saphyr::to_string(&value).context("encoding the export as YAML")?;
    if export.secrets != SecretsMode::Encrypt {
        return Ok(yaml.into_bytes());
    }
    let options = EncryptOptions {
        age: recipients.to_vec(),
        encrypted_regex: Some(format::ENCRYPTED_REGEX.into()),
        ..Default::default()
    };
    ferry_secrets::encrypt(Format::Yaml, yaml.as_bytes(), &options)
        .context("sealing the Secrets for the age recipients")
}

fn write_output(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(path) = path else {
        std::io::stdout().lock().write_all(bytes).context("writing the export to stdout")?;
        return Ok(());
    };
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

fn report_export(export: &Export, path: Option<&Path>) {
    let count = |kind: &str| export.objects.iter().filter(|o| o["kind"] == kind).count();
    let to = path.map_or("stdout".to_string(), |p| p.display().to_string());
    eprintln!(
        "exported {} Applications, {} Projects, {} ApplicationSets, {} image automation objects, {} ConfigMaps and {} Secrets ({}) to {to}",
        count("Application"),
        count("Project"),
        count("ApplicationSet"),
        count("ImageRepository") + count("ImagePolicy") + count("ImageUpdateAutomation"),
        count("ConfigMap"),
        count("Secret"),
        match export.secrets {
            SecretsMode::Omit => "omitted",
            SecretsMode::Encrypt => "sealed for the age recipients",
            SecretsMode::Plain => "IN CLEAR: keep the file safe",
        }
    );
    if !export.omitted_secrets.is_empty() {
        eprintln!(
            "{} Secrets left out: {}",
            export.omitted_secrets.len(),
            export.omitted_secrets.join(", ")
        );
        crate::app::output::hint("ferry export --age-recipient age1… to include them, sealed");
    }
}

pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {name}"))?;
    let export = decode(&name, &bytes, args.age_key.as_deref())?;
    let conn = connect(&args.cluster).await?;
    let mut objects = export.objects.clone();
    objects.sort_by_key(format::restore_rank);
    let namespaces: std::collections::BTreeSet<&str> =
        objects.iter().filter_map(|o| o["metadata"]["namespace"].as_str()).collect();
    let mut all: Vec<Value> = namespaces
        .iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();
    all.extend(objects);
    let failed = restore_all(&conn.client, &all).await;
    if !failed.is_empty() {
        eprintln!(
            "{} of {} objects were not restored: {}",
            failed.len(),
            all.len(),
            failed.join(", ")
        );
        crate::app::output::hint(
            "fix what the errors above name, then import again (it is idempotent)",
        );
        return Ok(ExitCode::from(1));
    }
    eprintln!(
        "imported {} objects from {name} (exported {} by ferry {})",
        export.objects.len(),
        export.exported_at,
        export.ferry_version
    );
    if !export.omitted_secrets.is_empty() {
        eprintln!(
            "the export left out {} Secrets: {}",
            export.omitted_secrets.len(),
            export.omitted_secrets.join(", ")
        );
        crate::app::output::hint("recreate them: ferry repo add …, ferry cluster add …");
    }
    Ok(ExitCode::SUCCESS)
}

/// How many objects of one rank are restored at once.
const PARALLEL: usize = 16;

/// Restores `objects` (sorted by rank) rank after rank, each rank's objects in parallel. One
/// bad object does not stop the others: every failure is told, and the failed are returned.
async fn restore_all(client: &kube::Client, objects: &[Value]) -> Vec<String> {
    use futures::StreamExt as _;
    let mut failed = Vec::new();
    for rank in objects.chunk_by(|a, b| format::restore_rank(a) == format::restore_rank(b)) {
        let results: Vec<(String, anyhow::Result<()>)> = futures::stream::iter(rank)
            .map(|o| async move { (format::describe(o), restore(client, o).await) })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for (what, result) in results {
            if let Err(e) = result {
                eprintln!("error: {e:#}");
                failed.push(what);
            }
        }
    }
    failed
}

/// Reads an export, opening a sealed one with the age identities given.
fn decode(name: &str, bytes: &[u8], age_key: Option<&Path>) -> anyhow::Result<Export> {
    let plain = if ferry_secrets::is_encrypted(Format::Yaml, bytes) {
        let keyring = import_keyring(age_key)?;
        let opened = ferry_secrets::decrypt(Format::Yaml, bytes, &keyring)
            .with_context(|| format!("opening the sealed Secrets of {name}"))?
            .with_context(|| format!("{name}: SOPS metadata vanished while reading"))?;
        opened.to_bytes().with_context(|| format!("re-reading {name} after decryption"))?
    } else {
        bytes.to_vec()
    };
    let text = std::str::from_utf8(&plain).with_context(|| format!("{name} is not UTF-8 text"))?;
    let doc: Value = serde_saphyr::from_str(text).with_context(|| format!("{name} is not YAML"))?;
    Ok(Export::from_value(name, doc)?)
}

fn import_keyring(age_key: Option<&Path>) -> anyhow::Result<Keyring> {
    let mut ring = Keyring::new();
    let file = age_key
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SOPS_AGE_KEY_FILE").map(PathBuf::from));
    if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the age key {}", file.display()))?;
        ring.add_age(&text, &file.display().to_string())?;
    }
    if let Ok(key) = std::env::var("SOPS_AGE_KEY") {
        ring.add_age(&key, "SOPS_AGE_KEY")?;
    }
    if ring.is_empty() {
        bail!(
            "the export's Secrets are sealed: pass --age-key FILE (the identity `ferry secret keygen` printed) or set SOPS_AGE_KEY_FILE"
        );
    }
    Ok(ring)
}

/// Server-side applies one object; an Application's status (history, inventory) goes back
/// through its status subresource.
async fn restore(client: &kube::Client, o: &Value) -> anyhow::Result<()> {
    let what = format::describe(o);
    let kind = o["kind"].as_str().unwrap_or_default();
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let resource = match kind {
        "Namespace" => ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")),
        "ConfigMap" | "Secret" => ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", kind)),
        _ => match FERRY_KINDS.iter().find(|(_, k, _)| *k == kind) {
            Some((group, k, plural)) => ferry_resource(group, k, plural),
            None => bail!("{what}: an export holds no such kind; was the file edited?"),
        },
    };
    let api: Api<DynamicObject> = match o["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut body = o.clone();
    let status = body.as_object_mut().and_then(|b| b.remove("status"));
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(&body)).await.with_context(|| {
        format!("restoring {what} (is Ferry installed? `ferry install` creates its CRDs)")
    })?;
    if let Some(status) = status.filter(|_| kind == "Application") {
        let patch = json!({"status": status});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("restoring the status (history) of {what}"))?;
    }
    Ok(())
}
