//! Everything leakgate starts must end with it: the app's whole process tree, and the run's
//! temporary folders, on every path out (end, error, panic, `SIGINT`, `SIGTERM`, `timeout`).
//!
//! # Why a process group is not enough
//! The app runs in its own process group, and a signal to the group reaches what Node starts
//! itself (`cluster` workers, `child_process.spawn`). But a child started with
//! `{detached: true}` gets a session and group of its own, and a child whose parent exits is
//! handed to init, where nothing knows it came from the app. So leakgate also
//!
//! * becomes a **child subreaper** (`PR_SET_CHILD_SUBREAPER`, unprivileged, no cgroup): a
//!   process of the app's tree whose parent exits is re-parented to leakgate instead of init;
//! * **records the app's descendants** (by `/proc/PID/stat` parent links, with each process's
//!   start time, so that a reused pid is never signalled) when the app starts and every half
//!   second while load runs, and at the end kills every recorded process still alive, then
//!   reaps those re-parented to it.
//!
//! # Signals
//! [`exit_on_signals`] turns `SIGINT` and `SIGTERM` into an orderly stop: every app tree is
//! killed, every temporary run folder removed, and leakgate exits with 130 or 143.
//!
//! # When leakgate itself is killed (`SIGKILL`)
//! No code of leakgate runs then. The app dies with it (`PR_SET_PDEATHSIG`, see the parent
//! module), but not what the app started. So the first app start also starts a **watchdog**:
//! a small `node` script ([`WATCHDOG_JS`]) in a process group of its own, reading a pipe from
//! leakgate. Every recorded process (pid and start time) and every temporary run folder is
//! written to that pipe; when the pipe closes (leakgate has exited, however it died), the
//! watchdog kills the recorded processes that still run and removes the folders, then exits.
//! As a last resort a temporary run folder is named after the process that made it
//! (`leakgate-PID-…`), and the next leakgate removes the folders of processes that no longer
//! exist ([`remove_stale_temp_dirs`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Tracked {
    pid: u32,
    start_time: u64,
}

/// The descendants recorded so far, by the pid of the app they belong to.
static APPS: Mutex<BTreeMap<u32, Vec<Tracked>>> = Mutex::new(BTreeMap::new());
/// Temporary run folders that exist now.
static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set once a signal asked leakgate to stop: no new app starts.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// The pipe to the watchdog (see the module docs), once started; `None` inside when it could
/// not be started.
static WATCHDOG: Mutex<Option<Option<std::process::ChildStdin>>> = Mutex::new(None);

/// The watchdog: collects `P pid start_time` and `D "folder"` lines until its input closes,
/// then kills the processes that are still the ones recorded and removes the folders.
pub const WATCHDOG_JS: &str = r#"
const fs = require("fs");
const procs = [], dirs = [];
let buf = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (data) => {
  buf += data;
  for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
    const line = buf.slice(0, i);
    if (line.startsWith("P ")) procs.push(line.slice(2).split(" "));
    else if (line.startsWith("D ")) dirs.push(JSON.parse(line.slice(2)));
  }
});
process.stdin.on("end", () => {
  for (const [pid, start] of procs) {
    try {
      const stat = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[19] === start) process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
  for (const dir of dirs) {
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch {}
  }
});
"#;

/// Sends one line to the watchdog, starting it first if needed. Best effort: without a
/// watchdog, everything but `SIGKILL` of leakgate is still covered.
fn tell_watchdog(line: &str) {
    use std::io::Write as _;
    let mut watchdog = lock(&WATCHDOG);
    let pipe = watchdog.get_or_insert_with(start_watchdog);
    if let Some(stdin) = pipe.as_mut() {
        if stdin.write_all(format!("{line}\n").as_bytes()).is_err() {
            *pipe = None;
        }
    }
}

fn start_watchdog() -> Option<std::process::ChildStdin> {
    use std::os::unix::process::CommandExt as _;
    let node = super::find_on_path("node")?;
    let mut child = std::process::Command::new(node)
        .args(["-e", WATCHDOG_JS])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Out of the terminal's reach: a Ctrl-C must not end it before it has done its work.
        .process_group(0)
        .spawn()
        .ok()?;
    child.stdin.take()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The prefix of temporary run folders; the pid of the process that made one follows it.
pub const TEMP_PREFIX: &str = "leakgate-";

/// Makes this process a child subreaper, once. Orphans of the app's tree are then re-parented
/// here, where [`kill_tree`] finds and reaps them.
pub(super) fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(target_os = "linux")]
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong);
        }
    });
}

/// `true` once a signal asked leakgate to stop.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Starts recording the descendants of the app led by `pid`.
pub(super) fn register_app(pid: u32) {
    lock(&APPS).entry(pid).or_default();
    if let Some(start_time) = start_time(pid) {
        tell_watchdog(&format!("P {pid} {start_time}"));
    }
    record_descendants(pid);
}

/// Adds the current descendants of `pid` to its record.
pub(super) fn record_descendants(pid: u32) {
    let found = descendants(pid);
    let mut apps = lock(&APPS);
    if let Some(known) = apps.get_mut(&pid) {
        for process in found {
            if !known.contains(&process) {
                known.push(process);
                tell_watchdog(&format!("P {} {}", process.pid, process.start_time));
            }
        }
    }
}

/// Kills the app led by `pid` and everything it started: its process group, its current
/// descendants and every descendant recorded earlier (when still the same process), then
/// reaps those that were re-parented to leakgate. The leader itself is left for its
/// `std::process::Child` to reap.
pub(super) fn kill_tree(pid: u32) {
    let mut victims = lock(&APPS).remove(&pid).unwrap_or_default();
    for process in descendants(pid) {
        if !victims.contains(&process) {
            victims.push(process);
        }
    }
    super::signal_group(pid, libc::SIGKILL);
    for process in &victims {
        if start_time(process.pid) == Some(process.start_time) {
            if let Ok(p) = libc::pid_t::try_from(process.pid) {
                // SAFETY: kill has no memory effects; a process already gone gives ESRCH.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
            }
        }
    }
    reap(&victims);
}

/// Waits (up to a second in all) for killed processes re-parented to leakgate, so that no
/// zombie stays. Processes that are not leakgate's children are skipped at once.
fn reap(victims: &[Tracked]) {
    let own = std::process::id();
    let began = Instant::now();
    for process in victims {
        let Ok(p) = libc::pid_t::try_from(process.pid) else {
            continue;
        };
        loop {
            if parent_of(process.pid) != Some(own) {
                break;
            }
            let mut status = 0;
            // SAFETY: waitpid on one pid, WNOHANG; `status` is a valid out-pointer.
            let got = unsafe { libc::waitpid(p, &mut status, libc::WNOHANG) };
            if got != 0 || began.elapsed() > Duration::from_secs(1) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Fields of `/proc/PID/stat` after the command name: (parent pid, start time).
fn stat_of(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Field 4 is the parent, field 22 the start time; field 3 (the state) is index 0 here.
    let parent = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((parent, start))
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_of(pid).map(|(parent, _)| parent)
}

fn start_time(pid: u32) -> Option<u64> {
    stat_of(pid).map(|(_, start)| start)
}

/// Every process below `root` now, by parent links.
fn descendants(root: u32) -> Vec<Tracked> {
    let mut children: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
    for pid in super::owner::proc_pids() {
        if let Some((parent, start)) = stat_of(pid) {
            children.entry(parent).or_default().push((pid, start));
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for &(child, start_time) in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
            if out.len() < 100_000 && !out.iter().any(|t: &Tracked| t.pid == child) {
                out.push(Tracked {
                    pid: child,
                    start_time,
                });
                queue.push(child);
            }
        }
    }
    out
}

/// Notes a temporary run folder, removed on a signal if still there.
pub fn register_temp_dir(path: &Path) {
    lock(&TEMP_DIRS).push(path.to_path_buf());
    if let Ok(json) = serde_json::to_string(&path.to_string_lossy()) {
        tell_watchdog(&format!("D {json}"));
    }
}

/// Forgets a temporary run folder (it was removed).
pub fn unregister_temp_dir(path: &Path) {
    lock(&TEMP_DIRS).retain(|p| p != path);
}

/// Kills every app tree and removes every temporary run folder of this process.
pub fn stop_everything() {
    STOPPING.store(true, Ordering::SeqCst);
    let apps: Vec<u32> = lock(&APPS).keys().copied().collect();
    for pid in apps {
        kill_tree(pid);
    }
    for dir in lock(&TEMP_DIRS).drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Handles `SIGINT` and `SIGTERM` on a thread of their own: stop everything (see
/// [`stop_everything`]), say so on stderr, and exit with 128 + the signal's number.
pub fn exit_on_signals() {
    let spawned = std::thread::Builder::new()
        .name("leakgate-signals".to_string())
        .spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                let (name, number) = tokio::select! {
                    _ = int.recv() => ("SIGINT", libc::SIGINT),
                    _ = term.recv() => ("SIGTERM", libc::SIGTERM),
                };
                eprintln!("leakgate: {name}: stopping the apps and removing temporary folders");
                stop_everything();
                std::process::exit(128 + number);
            });
        });
    if let Err(e) = spawned {
        eprintln!("leakgate: cannot watch for SIGINT and SIGTERM: {e}");
    }
}

/// Removes the temporary run folders (`leakgate-PID-…` in the system temp folder) left by
/// leakgate processes that no longer exist, such as one killed with `SIGKILL`. Only folders
/// owned by this user are touched.
pub fn remove_stale_temp_dirs() {
    use std::os::unix::fs::MetadataExt;
    let dir = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_children_with_start_times() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let own = descendants(std::process::id());
        let found = own.iter().find(|t| t.pid == child.id()).copied();
        child.kill().unwrap();
        child.wait().unwrap();
        let found = found.expect("the child is a descendant");
        assert!(found.start_time > 0);
        assert_eq!(
            stat_of(std::process::id()).map(|s| s.0),
            Some(std::os::unix::process::parent_id())
        );
    }
}
