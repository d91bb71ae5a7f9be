//! A TCP proxy in front of a real server, for faults on the wire that the server itself cannot
//! make: every byte slowed, a transfer cut after a number of bytes (a pack cut mid-transfer),
//! connections refused. Plain threads, so any test can use it without a runtime.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy does to new connections (a connection keeps the mode it started with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFault {
    /// Bytes pass unchanged.
    Pass,
    /// Each chunk from the server waits this long.
    Slow(Duration),
    /// The server's answer is cut after this many bytes (both directions are closed).
    CutAfter(u64),
    /// Connections are accepted and closed at once.
    Refuse,
}

/// A proxy on 127.0.0.1 and a port chosen at runtime; stops when dropped.
pub struct FaultProxy {
    pub port: u16,
    fault: Arc<Mutex<WireFault>>,
    stopping: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Forwards to `upstream` (a port on 127.0.0.1).
    pub fn start(upstream: u16) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let fault = Arc::new(Mutex::new(WireFault::Pass));
        let stopping = Arc::new(AtomicBool::new(false));
        let (f, s) = (fault.clone(), stopping.clone());
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream));
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let mode = *f.lock().unwrap_or_else(|p| p.into_inner());
                thread::spawn(move || {
                    let _ = serve(client, upstream, mode);
                });
            }
        });
        Ok(Self { port, fault, stopping })
    }

    /// Sets the fault for the connections that follow.
    pub fn set(&self, fault: WireFault) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// `git://127.0.0.1:PORT/REPO` through the proxy (for a proxied `git daemon`).
    pub fn git_url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(client: TcpStream, upstream: SocketAddr, fault: WireFault) -> io::Result<()> {
    if fault == WireFault::Refuse {
        return client.shutdown(Shutdown::Both);
    }
    let server = TcpStream::connect(upstream)?;
    let (mut client_in, mut server_out) = (client.try_clone()?, server.try_clone()?);
    let upward = thread::spawn(move || {
        let _ = io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    let mut sent = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        let n = server_in.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        match fault {
            WireFault::Slow(d) => thread::sleep(d),
            WireFault::CutAfter(limit) => {
                let room = limit.saturating_sub(sent) as usize;
                if room < chunk.len() {
                    chunk = &chunk[..room];
                    client_out.write_all(chunk)?;
                    let _ = client_out.shutdown(Shutdown::Both);
                    let _ = server_in.shutdown(Shutdown::Both);
                    break;
                }
            }
            _ => {}
        }
        client_out.write_all(chunk)?;
        sent += chunk.len() as u64;
    }
    let _ = client_out.shutdown(Shutdown::Write);
    let _ = upward.join();
    Ok(())
}
