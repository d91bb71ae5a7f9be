//! `ferry app suspend|resume`: flips `spec.suspend`; the engine keeps status fresh but neither
//! syncs nor heals while it is set.

use std::process::ExitCode;

use kube::api::{Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::hint;

pub async fn run(
    conn: &Connection,
    ns: &str,
    name: &str,
    suspend: bool,
) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    super::fetch(&api, ns, name).await?;
    let patch = serde_json::json!({"spec": {"suspend": suspend}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| {
        CliError::on_app(e, name, ns, if suspend { "suspending" } else { "resuming" })
    })?;
    if suspend {
        eprintln!("{ns}/{name} suspended: Ferry reports its status but neither syncs nor heals it");
        hint(&format!("ferry app resume {name}"));
    } else {
        eprintln!("{ns}/{name} resumed");
        hint(&format!("ferry app wait {name} --sync"));
    }
    Ok(ExitCode::SUCCESS)
}
