//! How the CLI reaches a cluster: like kubectl (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`,
//! `--context`), or the in-cluster service account inside a pod.

use std::path::Path;

use anyhow::Context;

/// A kube client for `kubeconfig` / `context`, or the inferred configuration.
pub async fn kube_client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<kube::Client> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).with_context(|| {
                format!("cannot read kubeconfig {}; is the path right? (`ferry up` writes one to .ferry/kubeconfig)", path.display())
            })?;
            kube::Config::from_custom_kubeconfig(kc, &options).await.context("the kubeconfig is not usable")?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options).await.context("cannot load the kubeconfig context")?,
        None => kube::Config::infer().await.context(
            "no cluster configured: pass --kubeconfig, set KUBECONFIG, or run `ferry up` and use .ferry/kubeconfig",
        )?,
    };
    kube::Client::try_from(config).context("cannot create a client for the cluster")
}
