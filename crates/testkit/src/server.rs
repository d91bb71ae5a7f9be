//! A long-running child process (a server) in its own process group, stopped with the group.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot find a free loopback port: {0}")]
    Port(#[source] std::io::Error),
    #[error("cannot start {what} ({hint}): {source}")]
    Spawn {
        what: &'static str,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} exited before it listened on 127.0.0.1:{port} ({status})")]
    Exited { what: &'static str, port: u16, status: std::process::ExitStatus },
    #[error("{what} did not listen on 127.0.0.1:{port} within {seconds} s")]
    NotListening { what: &'static str, port: u16, seconds: u64 },
}

/// A port that was free a moment ago (the server binds it right after).
pub fn free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(ServerError::Port)?;
    Ok(listener.local_addr().map_err(ServerError::Port)?.port())
}

/// A server process listening on `port`. `stop()` and `Drop` kill its whole process group:
/// servers such as `git daemon` re-execute themselves and fork one child per connection, so
/// killing only the first process would leave the server running.
pub struct Server {
    child: Child,
    what: &'static str,
    pub port: u16,
}

impl Server {
    /// Spawns `command` in its own process group with stdio closed, and waits until `port`
    /// accepts connections (or the process exits, or 15 s pass).
    pub fn start(
        mut command: Command,
        port: u16,
        what: &'static str,
        hint: &'static str,
    ) -> Result<Self, ServerError> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| ServerError::Spawn { what, hint, source })?;
        // From here on, an early return drops `server` and so kills what was started.
        let mut server = Self { child, what, port };
        let wait = Duration::from_secs(15);
        let deadline = Instant::now() + wait;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(ServerError::Exited { what, port, status });
            }
            if Instant::now() > deadline {
                return Err(ServerError::NotListening { what, port, seconds: wait.as_secs() });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Stops the server and every process of its group (an outage, in a test), and waits until
    /// its port refuses connections.
    pub fn stop(&mut self) {
        ferry_source::process::kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Children of the group die asynchronously: wait until the port refuses.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the server is, for messages.
    pub fn what(&self) -> &'static str {
        self.what
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a server on a fresh port, retrying on another port when the first was taken between
/// [`free_port`] and the server's bind. `command` builds the command for a port.
pub fn start_on_free_port(
    what: &'static str,
    hint: &'static str,
    mut command: impl FnMut(u16) -> Command,
) -> Result<Server, ServerError> {
    let mut last = None;
    for _ in 0..5 {
        let port = free_port()?;
        match Server::start(command(port), port, what, hint) {
            Ok(server) => return Ok(server),
            Err(error @ ServerError::Spawn { .. }) => return Err(error),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or(ServerError::NotListening { what, port: 0, seconds: 0 }))
}
