//! How the long-running commands hold memory: mimalloc (see `main.rs`), no transparent huge
//! pages, and freed pages handed back to the system at once.
//!
//! Measured on `ferry controller` at 10,000 managed objects (release build, `ferry bench
//! engine-memory --size 10000`): anonymous memory 104 MiB with the defaults, 76 MiB without
//! huge pages, 70 MiB with freed pages returned at once as well.

use std::ffi::OsString;

/// The environment variable mimalloc reads, at process start only, for how long freed pages
/// wait before they are returned to the system (its default is a second, and a page is only
/// returned when its thread allocates again: a quiet engine kept what a busy minute freed).
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

/// Turns transparent huge pages off for this process (Linux, where the machine's setting is
/// `always` or `madvise`, the latter being what the allocator asks for). A huge page is 2 MiB
/// that the kernel backs whole as soon as one byte of it is touched, and a heap of many small,
/// long-lived objects (the engine's caches) touches a little of many. Failing to turn them off
/// (an old kernel) costs memory, not correctness.
pub(crate) fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// For a command that runs for days (`up`, `controller`, `cluster serve`): unless the
/// environment already says how long freed pages wait, runs this same binary again, in this same
/// process (exec: same PID, same arguments), with them returned at once. mimalloc reads its
/// options before `main`, and setting them from Rust would need `unsafe`, which this workspace
/// forbids. If the exec fails (the binary was replaced meanwhile), this process goes on as is.
pub(crate) fn return_freed_pages_at_once() {
    if std::env::var_os(PURGE_DELAY).is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else { return };
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        let err = std::process::Command::new(exe).args(args).env(PURGE_DELAY, "0").exec();
        tracing::debug!(error = %err, "could not run again with {PURGE_DELAY}=0; going on as is");
    }
}
