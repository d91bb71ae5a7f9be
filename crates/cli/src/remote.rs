//! The CLI's side of the Ferry API: `ferry login URL --token-stdin` checks the token and stores
//! the URL and token in `~/.config/ferry/config.json` (0600; `FERRY_CONFIG` overrides the
//! path), and the commands that ask the API (`ferry auth can-i`, `ferry audit`) use them.
//! `--server` / `FERRY_SERVER` and `FERRY_TOKEN` override what is stored.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Login {
    pub server: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
}

/// Which server to ask, for commands that call the API.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServerArgs {
    /// The Ferry API URL (default: the one `ferry login` stored).
    #[arg(long, env = "FERRY_SERVER")]
    pub server: Option<String>,
}

#[derive(clap::Args)]
pub struct LoginArgs {
    /// The Ferry API URL, e.g. http://127.0.0.1:8080.
    pub url: String,
    /// Read the token from stdin (from `ferry token create`, an OIDC ID token, or --api-token).
    #[arg(long)]
    pub token_stdin: bool,
}

fn config_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("FERRY_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context("neither XDG_CONFIG_HOME nor HOME is set; set FERRY_CONFIG to a file path")?;
    Ok(base.join("ferry").join("config.json"))
}

fn load() -> anyhow::Result<Option<Login>> {
    let path = config_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).with_context(|| {
            format!("{} is not a Ferry CLI config; `ferry login` rewrites it", path.display())
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the config 0600 (it holds a token) in a 0700 directory.
fn store(login: &Login) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = config_path()?;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(serde_json::to_string_pretty(login)?.as_bytes())?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The server and token to use: flags and environment first, then the stored login.
fn resolve(args: &ServerArgs) -> anyhow::Result<Login> {
    let stored = load()?.unwrap_or_default();
    let server = args.server.clone().unwrap_or(stored.server);
    if server.is_empty() {
        bail!("no Ferry server: `ferry login URL --token-stdin` first, or pass --server URL");
    }
    let token = std::env::var("FERRY_TOKEN").ok().filter(|t| !t.is_empty()).unwrap_or(stored.token);
    Ok(Login { server: server.trim_end_matches('/').to_owned(), token })
}

/// GETs `path` (with its query) from the API; an error answer becomes the API's error and hint.
pub async fn get(args: &ServerArgs, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
    let login = resolve(args)?;
    call(&login, path, query).await
}

async fn call(login: &Login, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
    let url = format!("{}{path}", login.server);
    let mut request = reqwest::Client::new().get(&url).query(query);
    if !login.token.is_empty() {
        request = request.bearer_auth(&login.token);
    }
    let response = request.send().await.with_context(|| {
        format!(
            "cannot reach the Ferry API at {}; is the URL right and the server up?",
            login.server
        )
    })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let error = body["error"].as_str().unwrap_or("no error message");
        let hint = body["hint"].as_str().map(|h| format!("\nhint: {h}")).unwrap_or_default();
        bail!("the Ferry API answered {status}: {error}{hint}");
    }
    Ok(body)
}

pub async fn login(args: LoginArgs) -> anyhow::Result<String> {
    if !args.token_stdin {
        bail!(
            "pass the token on stdin with --token-stdin (a token in argv would show in `ps` and shell history)"
        );
    }
    let mut token = String::new();
    std::io::stdin().read_to_string(&mut token).context("reading the token from stdin")?;
    let login =
        Login { server: args.url.trim_end_matches('/').to_owned(), token: token.trim().to_owned() };
    let me = call(&login, "/api/v1/account", &[])
        .await
        .context("the token was not accepted; nothing was stored")?;
    let path = store(&login)?;
    let roles = me["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    Ok(format!(
        "logged in to {} as {} (roles: {}); stored in {}",
        login.server,
        me["user"].as_str().unwrap_or("?"),
        if roles.is_empty() { "none" } else { &roles },
        path.display()
    ))
}
