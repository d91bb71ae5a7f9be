//! Embedded Kubernetes-compatible API server for local runs, tests and benchmarks.
//!
//! [`Cluster::start`] serves the Kubernetes REST API over HTTPS on loopback and writes a
//! kubeconfig that `kubectl` and kube-rs accept. See `DESIGN.md`, "The embedded cluster".
//!
//! # Guarantees
//! - One cluster-wide resourceVersion counter; every stored change is one event.
//! - Every write goes through the same admission (metadata, defaults, validation) whoever writes.
//! - Request bodies may be JSON, YAML or Kubernetes protobuf (what kubectl's typed commands
//!   send: `create ns`, `create deployment`, `run` …); answers are JSON. Clients that ask for
//!   protobuf (kubectl, client-go) list JSON as their fallback in `Accept`, and kube-rs asks for
//!   JSON: a protobuf encoder for every answer would buy wire size only, which no benchmark
//!   shows as a cost here (listing 10k objects takes 116–143 ms).
//! - Fields a built-in kind does not declare fail `fieldValidation=Strict` (kubectl's default)
//!   naming them, and are dropped otherwise, as decoding drops them on a real server.
//! - core/v1 and events.k8s.io/v1 Events are two views of one storage (see [`convert`]).
//! - Dependents are found by owner uid through an index: deletes cost no scan of the store.
//! - Custom resources are pruned, defaulted and validated against their CRD's schema (CEL rules
//!   included) and built-in kinds against their own rules, with kube-apiserver's messages
//!   ([`validate`]); admission webhooks are called on writes ([`admission`]).
//! - `LoadBalancer` Services and Ingresses get an address, as on k3s ([`loadbalancer`]).
//! - Authentication and RBAC as a real server (see [`auth`]): the kubeconfig holds the admin
//!   client certificate (`kubernetes-admin`, `system:masters`); the data directory's static
//!   `token` also authenticates as that admin, for tools that send a bearer token.
//! # Caveats
//! - A stand-in for tests, demos and benchmarks, never presented as a production cluster.
//! - Admission webhooks are told the request came from the admin, whoever sent it (the
//!   authenticated user does not reach [`admission`] yet).
//! - `/openapi/v2` has no definitions (kubectl reads it only to validate `v1 List` documents);
//!   `/openapi/v3` has the built-in kinds' schemas, not those of custom resources.
//! - Objects are kept as `serde_json::Value`: about 14 KiB resident per small object.

pub mod admission;
pub mod auth;
mod config;
pub mod convert;
pub mod error;
pub mod event_ttl;
pub mod faults;
mod gc;
mod http;
mod kubeconfig;
pub mod loadbalancer;
pub mod private;
mod proto;
pub mod resources;
pub mod selector;
mod serve;
pub mod simulated;
pub mod simulator;
pub mod stats;
pub mod store;
pub mod testing;
mod tls;
pub mod validate;
mod window;
pub mod write;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};

pub use config::ClusterConfig;
pub use faults::Faults;
pub use serve::serve_command;
pub use stats::RequestStats;
pub use window::WindowLimits;

use crate::http::{AppState, Shared};
use crate::resources::Registry;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot open the cluster state")]
    Store(#[from] store::StoreError),
    #[error("cannot set up TLS")]
    Tls(#[from] tls::TlsError),
    #[error("cannot set up authentication")]
    Auth(#[from] auth::AuthSetupError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the unpullable-image pattern {pattern:?} is not a valid regex")]
    Pattern {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("cannot build a kube client from {path}")]
    Client {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Entry point: `Cluster::start(config)`.
pub struct Cluster;

/// A running server. Stops on [`RunningCluster::shutdown`] (or when dropped, without a checkpoint).
pub struct RunningCluster {
    url: String,
    addr: SocketAddr,
    kubeconfig_path: PathBuf,
    ca_pem: String,
    token: String,
    data_dir: Option<PathBuf>,
    state: Shared,
    stop: tokio::sync::watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

impl Cluster {
    pub async fn start(config: ClusterConfig) -> Result<RunningCluster, ClusterError> {
        regex::Regex::new(&config.unpullable_images).map_err(|source| ClusterError::Pattern {
            pattern: config.unpullable_images.clone(),
            source,
        })?;
        let temp = match (&config.data_dir, &config.kubeconfig_path) {
            (None, None) => Some(
                tempfile::tempdir()
                    .map_err(|source| ClusterError::Write { path: std::env::temp_dir(), source })?,
            ),
            _ => None,
        };
        let data_dir = config.data_dir.clone();
        let window =
            window::WindowLimits { events: config.watch_window, age: config.watch_window_age };
        let store = Store::open(data_dir.as_deref(), window)?;
        let certs = tls::load_or_generate(data_dir.as_deref())?;
        let token = match (&config.token, &data_dir) {
            (Some(t), _) => t.clone(),
            (None, Some(dir)) => load_or_make_token(dir)?,
            (None, None) => uuid::Uuid::new_v4().simple().to_string(),
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ClusterError::Listen { addr: config.listen, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ClusterError::Listen { addr: config.listen, source })?;
        let mut config = config;
        config.listen = addr;
        let kubeconfig_path = config
            .kubeconfig_path
            .clone()
            .or_else(|| data_dir.as_ref().map(|d| d.join("kubeconfig")))
            .or_else(|| temp.as_ref().map(|t| t.path().join("kubeconfig")))
            .unwrap_or_else(|| PathBuf::from("kubeconfig"));

        let mut registry = Registry::builtin();
        let mut schema = ferry_diff::Schema::builtin();
        let (crds, _) = store.list("apiextensions.k8s.io/customresourcedefinitions", None);
        for crd in crds {
            let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            registry.set_crd_types(name, resources::types_from_crd(&crd));
            if let Err(e) = schema.add_crd(&crd) {
                tracing::warn!(crd = name, error = %e, "a CRD schema cannot be used for apply");
            }
        }
        let auth = auth_state(&config, data_dir.as_deref(), &certs, &token)?;
        let authz = auth.authz.clone();
        store.set_observer(Box::new(move |event| authz.observe(event)));
        auth.authz.load(&store);
        let ca = auth.authn.ca.clone();
        let state: Shared = Arc::new(AppState {
            store,
            registry: RwLock::new(registry),
            stats: stats::Stats::default(),
            token: token.clone(),
            auth,
            config: config.clone(),
            faults: Mutex::new(Faults::default()),
            schema: RwLock::new(Arc::new(schema)),
            crd_schemas: validate::CrdSchemas::default(),
        });
        bootstrap(&state);
        let tls_config = tls::server_config(&certs)?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let app = http::router(state.clone());
        let server = tokio::spawn(http::serve_tls(listener, tls_config, app, ca, stop_rx.clone()));
        event_ttl::spawn(state.clone(), stop_rx.clone());
        if config.simulator {
            simulator::spawn(state.clone(), stop_rx);
        }
        let url = format!("https://{addr}");
        let text =
            kubeconfig::render(&url, &certs.ca_pem, &certs.admin_cert_pem, &certs.admin_key_pem);
        if let Some(parent) = kubeconfig_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A directory the user already has keeps its mode; one made here is private.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| ClusterError::Write { path: parent.to_path_buf(), source })?;
        }
        // Written whole (temp file, then rename): a reader never sees half a kubeconfig. It holds
        // the admin key: 0600.
        let partial = kubeconfig_path.with_extension("partial");
        private::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &kubeconfig_path))
            .map_err(|source| ClusterError::Write { path: kubeconfig_path.clone(), source })?;
        Ok(RunningCluster {
            url,
            addr,
            kubeconfig_path,
            ca_pem: certs.ca_pem,
            token,
            data_dir,
            state,
            stop,
            server: Some(server),
            _temp: temp,
        })
    }
}

fn load_or_make_token(dir: &Path) -> Result<String, ClusterError> {
    let path = dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        private::narrow_file(&path).map_err(|source| ClusterError::Write { path, source })?;
        return Ok(t.trim().to_string());
    }
    let t = uuid::Uuid::new_v4().simple().to_string();
    private::write(&path, &t).map_err(|source| ClusterError::Write { path, source })?;
    Ok(t)
}

/// Authentication (the admin's static token, the token file, the CA, the ServiceAccount key)
/// and an empty RBAC index.
fn auth_state(
    config: &ClusterConfig,
    data_dir: Option<&Path>,
    certs: &tls::Certs,
    admin_token: &str,
) -> Result<auth::Auth, ClusterError> {
    let mut tokens = auth::static_tokens::StaticTokens::default();
    let admin = auth::UserInfo {
        username: auth::ADMIN_USER.to_string(),
        groups: vec![auth::MASTERS.to_string()],
        ..auth::UserInfo::default()
    };
    tokens.insert(admin_token, admin.with_authenticated());
    if let Some(path) = &config.token_auth_file {
        tokens.load_file(path)?;
    }
    let authn = auth::Authenticator::new(
        auth::cert::ClientCa::from_pem(&certs.ca_pem)?,
        tokens,
        auth::jwt::ServiceAccountKeys::load_or_generate(data_dir)?,
    );
    Ok(auth::Auth {
        authn,
        authz: Arc::new(auth::Authorizer::default()),
        ca_pem: certs.ca_pem.clone(),
    })
}

/// The namespaces every cluster has (each with its defaults), and the bootstrap RBAC policy.
fn bootstrap(st: &Shared) {
    auth::rbac::bootstrap::ensure(st);
    let Some(rt) = st.registry().find("", "v1", "namespaces").cloned() else { return };
    for ns in SYSTEM_NAMESPACES {
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        match write::ops::create(st, &rt, None, obj, "kube-apiserver", false) {
            Ok(_) => {}
            Err(e) if e.code == 409 => auth::namespace_defaults::ensure(st, ns),
            Err(e) => {
                tracing::warn!(namespace = ns, error = %e, "cannot create a system namespace")
            }
        }
    }
}

impl RunningCluster {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The static admin token (user `kubernetes-admin`, group `system:masters`), for tools
    /// that send `Authorization: Bearer` instead of the kubeconfig's client certificate.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Authorization decisions for `user` without HTTP (for benchmarks and tests).
    pub fn authorizer(&self) -> std::sync::Arc<auth::Authorizer> {
        self.state.auth.authz.clone()
    }

    /// A kube client configured from the written kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        let err = |e: Box<dyn std::error::Error + Send + Sync>| ClusterError::Client {
            path: self.kubeconfig_path.clone(),
            source: e,
        };
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig_path)
            .map_err(|e| err(Box::new(e)))?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| err(Box::new(e)))?;
        kube::Client::try_from(config).map_err(|e| err(Box::new(e)))
    }

    /// Request counters so far.
    pub fn stats(&self) -> RequestStats {
        self.state.stats.snapshot()
    }

    /// Number of stored objects.
    pub fn object_count(&self) -> usize {
        self.state.store.count()
    }

    /// The cluster-wide resourceVersion now.
    pub fn resource_version(&self) -> u64 {
        self.state.store.resource_version()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Stops serving and writes a checkpoint of the state into the data directory.
    pub async fn shutdown(mut self) -> Result<(), ClusterError> {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(dir) = &self.data_dir {
            self.state.store.checkpoint(dir)?;
        }
        self.state.store.close();
        Ok(())
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
