//! Runs the embedded cluster in the foreground: `cargo run -p ferry-cluster --example serve -- DIR [ADDR]`.

use std::net::SocketAddr;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "ferry-cluster-data".into()));
    let listen: SocketAddr = args.next().unwrap_or_else(|| "127.0.0.1:0".into()).parse()?;
    ferry_cluster::serve_command(dir, listen, None, ferry_cluster::event_ttl::DEFAULT_EVENT_TTL)
        .await?;
    Ok(())
}
