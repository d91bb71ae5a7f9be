//! Real servers for notification sinks: an HTTP server on 127.0.0.1 (a runtime-chosen port)
//! that records every request and answers as scripted, and aiosmtpd (PyPI) as an SMTP server
//! that writes each message into a maildir.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::server::{Server, ServerError, start_on_free_port};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An answer the server gives to the next request (200 once the script is used up).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: "{}".into() }
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[derive(Clone, Default)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

/// A recording HTTP server; stopped when dropped.
pub struct Recorder {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Shared::default();
        let app = axum::Router::new().fallback(record).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, shared, task })
    }

    /// The next requests are answered with `replies`, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap_or_else(|p| p.into_inner()).extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many requests arrived (without copying them).
    pub fn count(&self) -> usize {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits until at least `n` requests arrived (or `timeout` passed), and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.count() >= n || Instant::now() >= deadline {
                return self.requests();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn record(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let path =
        uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let recorded = Recorded {
        method: method.to_string(),
        path,
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    };
    shared.requests.lock().unwrap_or_else(|p| p.into_inner()).push(recorded);
    let reply = shared.script.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
    let reply = reply.unwrap_or(Reply::status(200));
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

/// aiosmtpd listening on 127.0.0.1, each message a file in `<dir>/new`.
pub struct Smtp {
    pub port: u16,
    dir: PathBuf,
    _server: Server,
}

impl Smtp {
    /// Starts `python3 -m aiosmtpd` with its Mailbox handler writing into `dir`.
    pub fn start(dir: &Path) -> Result<Self, ServerError> {
        let maildir = dir.join("maildir");
        let server = start_on_free_port("aiosmtpd", "python3 -m pip install aiosmtpd", |port| {
            let mut command = Command::new("python3");
            command
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir);
            command
        })?;
        Ok(Self { port: server.port, dir: maildir, _server: server })
    }

    /// The messages received so far, as text (headers and body).
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else { return Vec::new() };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect()
    }

    /// Waits until `n` messages arrived (or `timeout` passed).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
