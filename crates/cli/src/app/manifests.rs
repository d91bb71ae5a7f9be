//! `ferry app manifests`: the app's objects as YAML, either what Git declares (rendered and
//! prepared the way the engine applies them) or what is live in the cluster (the objects the
//! app's inventory records, without server bookkeeping).

use std::process::ExitCode;

use ferry_apply::discovery::Discovery;
use ferry_apply::object::str_at;
use serde_json::Value;

use super::connect::Connection;
use super::error::CliError;
use super::output::{Format, print, short, write_data};

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManifestSource {
    /// Rendered from the repository at the revision the app follows (or --revision).
    #[default]
    Git,
    /// Read from the cluster: the objects the app deployed.
    Live,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ManifestsArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Where the manifests come from.
    #[arg(long, value_enum, default_value_t)]
    pub source: ManifestSource,
    /// With --source git: render this revision instead of the one the app follows.
    #[arg(long)]
    pub revision: Option<String>,
    /// yaml (a `---` stream, the default), json (a list) or name (kind/name lines).
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// Print Secret values as they are (masked by default, so output pasted into a ticket or a
    /// CI log leaks nothing).
    #[arg(long)]
    pub show_secrets: bool,
}

pub async fn run(conn: &Connection, ns: &str, args: ManifestsArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, &args.name).await?;
    let status = app.status.clone().unwrap_or_default();
    let discovery = Discovery::new();
    let objects: Vec<Value> = match args.source {
        ManifestSource::Git => {
            let revision = args
                .revision
                .clone()
                .or(status.pinned.as_ref().map(|p| p.revision.clone()))
                .unwrap_or_else(|| app.spec.source.target_revision.clone());
            let checkout =
                super::source::checkout(conn, &args.name, &app.spec.source, &revision).await?;
            eprintln!("{} rendered at {}", args.name, short(&checkout.commit));
            let (_, prepared) =
                super::diff::desired(conn, &discovery, &app, &checkout.tree, &checkout.path)
                    .await?;
            prepared.resources.iter().map(|r| (*r.object).clone()).collect()
        }
        ManifestSource::Live => {
            if args.revision.is_some() {
                return Err(CliError::Usage {
                    flag: "--revision".into(),
                    message: "applies to --source git only; the cluster has one revision".into(),
                });
            }
            let wanted = status.inventory.iter().map(|e| (e.key(), e.api_version())).collect();
            let live = super::diff::read_live(conn, &discovery, wanted).await?;
            let objects: Vec<Value> = status
                .inventory
                .iter()
                .filter_map(|e| live.get(&e.key()))
                .map(|v| clean((**v).clone()))
                .collect();
            if objects.len() < status.inventory.len() {
                eprintln!(
                    "{} of {} inventoried objects are not in the cluster (`ferry app resources {}` shows which)",
                    status.inventory.len() - objects.len(),
                    status.inventory.len(),
                    args.name
                );
            }
            objects
        }
    };
    let objects = if args.show_secrets { objects } else { masked(objects) };
    write(&objects, args.output)?;
    Ok(ExitCode::SUCCESS)
}

/// The objects with every Secret's `data` and `stringData` values masked; says so on stderr.
fn masked(mut objects: Vec<Value>) -> Vec<Value> {
    let mut count = 0;
    for object in objects.iter_mut().filter(|o| ferry_diff::diff::is_secret(o)) {
        ferry_diff::mask_secret(object, "");
        count += 1;
    }
    if count > 0 {
        eprintln!("{count} Secret(s) shown with their values masked; --show-secrets prints them");
    }
    objects
}

/// A live object without what the server adds for its own bookkeeping.
fn clean(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    v
}

fn write(objects: &[Value], format: Format) -> Result<(), CliError> {
    match format {
        Format::Json => write_data(&mut std::io::stdout().lock(), format, &objects),
        Format::Name => {
            let lines: String = objects
                .iter()
                .map(|o| {
                    let kind = str_at(o, &["kind"]).unwrap_or_default().to_ascii_lowercase();
                    let name = str_at(o, &["metadata", "name"]).unwrap_or_default();
                    format!("{kind}/{name}\n")
                })
                .collect();
            print(&lines)
        }
        _ => {
            let stream = ferry_render::cli::to_yaml_stream(objects.iter())
                .map_err(|e| CliError::Output(e.to_string()))?;
            print(&stream)
        }
    }
}
