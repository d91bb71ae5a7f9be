//! A private `sshd` on 127.0.0.1 accepting one client key for the current user (test only).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server::{Server, start_on_free_port};

/// OpenSSH's server with its own host key, config and `authorized_keys` under a directory.
/// Killed with its process group on drop.
pub struct Sshd {
    _server: Server,
    pub port: u16,
    /// `known_hosts` content for this server.
    pub known_hosts_line: String,
    pub client_key: PathBuf,
    pub user: String,
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ferry-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen must be available (apt install openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

impl Sshd {
    /// Starts the server with its files in `dir`; panics saying what to install when it cannot.
    pub fn start(dir: &Path) -> Self {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(sshd.exists(), "/usr/sbin/sshd is missing: apt install openssh-server");
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd (tests run as root)");
        std::fs::create_dir_all(dir).expect("sshd dir");
        let host_key = dir.join("host_ed25519");
        let client_key = dir.join("client_ed25519");
        keygen(&host_key);
        keygen(&client_key);
        let authorized = dir.join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).expect("authorized_keys");
        let user =
            std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into());
        let config = dir.join("sshd_config");
        let server = start_on_free_port("sshd", "apt install openssh-server", |port| {
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {}\nAllowUsers {user}\n",
                    host_key.display(),
                    authorized.display(),
                    dir.join("sshd.pid").display()
                ),
            )
            .expect("sshd_config");
            let mut command = Command::new(sshd);
            command.args(["-D", "-e", "-f"]).arg(&config);
            command
        })
        .unwrap_or_else(|error| panic!("{error}"));
        let port = server.port;
        let host_pub = std::fs::read_to_string(host_key.with_extension("pub")).expect("host pub");
        let mut fields = host_pub.split_whitespace();
        let known_hosts_line = format!(
            "[127.0.0.1]:{port} {} {}\n",
            fields.next().expect("key type"),
            fields.next().expect("key")
        );
        Self { _server: server, port, known_hosts_line, client_key, user }
    }

    /// `ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH` for a repository on this machine.
    pub fn url(&self, repo: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, repo.display())
    }
}
