//! Issue 22: the web UI end to end in a real browser. Starts the real `ferry up` (embedded
//! cluster, engine, API and UI, demo repository) on free loopback ports, then runs the
//! Playwright suite `crates/api/ui/e2e/run.mjs` in headless Chromium against it: the list and
//! its filters, live update after a commit, the sync dialog, the resource tree, a diff after drift
//! made with real `kubectl`, history and rollback. Screenshots go to `target/ui-screenshots/`.
//!
//! Needs Debian's `chromium` and `npm ci` in `crates/api/ui` (both done by `.ci/run`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::free_port;

/// `ferry up` as a child process, stopped (SIGKILL) when the test ends, pass or fail.
struct Up {
    child: Child,
    url: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace")
}

/// Starts `ferry up` in `data_dir` and waits for "Ferry is up." and the UI's address.
fn ferry_up(data_dir: &Path, home: &Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("up")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{}", free_port().expect("a free port"))])
        .args(["--cluster-listen", &format!("127.0.0.1:{}", free_port().expect("a free port"))])
        .args(["--poll-interval", "1s"])
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the ferry binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut up = Up { child, url: String::new() };
    let deadline = Instant::now() + Duration::from_secs(180);
    while up.url.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = seen.recv_timeout(left).expect("ferry up prints its UI address within 180s");
        if let Some(rest) = line.trim().strip_prefix("Web UI and API") {
            up.url = rest.trim().to_owned();
        }
    }
    up
}

#[test]
fn the_web_ui_lists_filters_syncs_diffs_rolls_back_and_updates_live_in_headless_chromium() {
    let ui = workspace().join("crates/api/ui");
    assert!(
        ui.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {} (.ci/run does)",
        ui.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: `apt-get install chromium` (.ci/run does) or set CHROMIUM"
    );
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("a home directory");
    let data_dir = tmp.path().join("data");
    let up = ferry_up(&data_dir, &home);
    let screenshots = workspace().join("target/ui-screenshots");

    let out = Command::new("node")
        .arg(ui.join("e2e/run.mjs"))
        .current_dir(&ui)
        .env("FERRY_URL", &up.url)
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .env("KUBECONFIG", data_dir.join("kubeconfig"))
        .env("DEMO_REPO", data_dir.join("demo-repo"))
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium)
        .env("HOME", &home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("node runs (Node 20 is on CI machines)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser suite failed (screenshots in {}):\n{stdout}\n{stderr}",
        screenshots.display()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    for shot in ["01-list", "04-sync-dialog", "05-app-tree", "06-app-diff", "08-app-history"] {
        let png = screenshots.join(format!("{shot}.png"));
        assert!(png.is_file(), "no screenshot {}", png.display());
    }
}
