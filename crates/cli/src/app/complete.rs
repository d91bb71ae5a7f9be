//! Shell completion of Application names: `source <(COMPLETE=bash ferry)` registers clap's
//! dynamic completion, which runs `ferry` itself on TAB; the name arguments then ask the cluster
//! for the Applications there. The static script (`ferry completion bash`) completes commands
//! and flags only.
//!
//! # Caveats
//! The candidates are read with the kubeconfig, context and namespace found on the partial
//! command line (else `KUBECONFIG`/`~/.kube/config`, namespace `ferry`), within 3 seconds;
//! an unreachable cluster completes nothing rather than hanging the shell.

use std::time::Duration;

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use kube::ResourceExt;
use kube::api::ListParams;

use super::connect::ClusterArgs;

/// The completer for an argument that names an Application.
pub fn app_names() -> ArgValueCandidates {
    ArgValueCandidates::new(candidates)
}

fn candidates() -> Vec<CompletionCandidate> {
    let words: Vec<String> = std::env::args().collect();
    let cluster = ClusterArgs {
        kubeconfig: flag(&words, "--kubeconfig").map(Into::into),
        context: flag(&words, "--context"),
    };
    let ns = flag(&words, "--namespace")
        .or_else(|| flag(&words, "--app-namespace"))
        .unwrap_or_else(|| "ferry".into());
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    let names = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(3), names(&cluster, &ns)).await.ok().flatten()
    });
    names.unwrap_or_default().into_iter().map(CompletionCandidate::new).collect()
}

async fn names(cluster: &ClusterArgs, ns: &str) -> Option<Vec<String>> {
    let conn = super::connect::connect(cluster).await.ok()?;
    let list = super::apps(&conn, ns).list(&ListParams::default()).await.ok()?;
    let mut names: Vec<String> = list.items.iter().map(|a| a.name_any()).collect();
    names.sort();
    Some(names)
}

/// The value of `--flag VALUE` or `--flag=VALUE` on the command line being completed.
pub fn flag(words: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    words.iter().enumerate().find_map(|(i, w)| {
        if w == name {
            words.get(i + 1).cloned()
        } else {
            w.strip_prefix(&prefix).map(str::to_owned)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_in_both_spellings() {
        let words: Vec<String> =
            ["ferry", "--", "ferry", "app", "get", "--kubeconfig", "/k", "--namespace=apps", ""]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        assert_eq!(flag(&words, "--kubeconfig").as_deref(), Some("/k"));
        assert_eq!(flag(&words, "--namespace").as_deref(), Some("apps"));
        assert_eq!(flag(&words, "--context"), None);
    }
}
