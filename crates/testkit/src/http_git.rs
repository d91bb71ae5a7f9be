//! Smart HTTP over `git http-backend` (CGI) behind a small axum server with basic auth (test
//! only).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use base64::Engine;
use ferry_source::process::Program;

/// Serves the repositories under a root, requiring `user:password`. Stopped on drop.
pub struct HttpGit {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct Backend {
    root: PathBuf,
    user: String,
    password: String,
}

impl HttpGit {
    pub fn start(root: &Path, user: &str, password: &str) -> Self {
        let backend =
            Backend { root: root.to_owned(), user: user.into(), password: password.into() };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // Its own runtime on its own thread, so sync and async tests alike can use it.
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let backend = backend.clone();
                    async move { serve(backend, req).await }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Self { addr, shutdown: Some(tx), thread: Some(thread) }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}", self.addr)
    }
}

impl Drop for HttpGit {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn authorized(headers: &HeaderMap, backend: &Backend) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    decoded == format!("{}:{}", backend.user, backend.password).as_bytes()
}

async fn serve(backend: Backend, req: Request<Body>) -> Response<Body> {
    if !authorized(req.headers(), &backend) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Basic realm=\"git\"")
            .body(Body::from("authentication required"))
            .expect("response");
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 512 << 20).await.expect("request body");
    let header =
        |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let out = Program::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &backend.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", &backend.user)
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(body.to_vec())
        .timeout(Duration::from_secs(120))
        .max_stdout(1 << 30)
        .run_async()
        .await
        .expect("git http-backend runs (apt install git)");
    cgi_response(&out.stdout)
}

/// A CGI answer (headers, a blank line, the body) as an HTTP response.
fn cgi_response(raw: &[u8]) -> Response<Body> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let split = split.or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (end, sep) = split.unwrap_or((raw.len(), 0));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut response = Response::builder();
    let mut status = StatusCode::OK;
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("status") {
                status = value
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            } else {
                response = response.header(name.trim(), value);
            }
        }
    }
    response
        .status(status)
        .body(Body::from(raw[(end + sep).min(raw.len())..].to_vec()))
        .expect("response")
}
