//! Every way a run can end, against the real `leakgate` binary and real Node apps: an app that
//! dies mid-load or never answers is reported fast, and nothing is left behind (no process of
//! the app's tree, no temporary folder) after an end, an error, a panic, SIGINT, SIGTERM,
//! SIGKILL or `timeout`.

mod common;

use common::apps_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

/// Writes a spec for `app` (a script under `tests/apps`) with `extra` YAML lines into `dir`.
fn write_spec(dir: &Path, name: &str, app: &str, extra: &str) -> PathBuf {
    let script = apps_dir().join(app);
    let text = format!(
        "name: {name}\napp:\n  script: {}\n{extra}",
        script.display()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn leakgate(tmp: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakgate"));
    // Temporary folders go where the test can count them.
    cmd.env("TMPDIR", tmp).env_remove("GITHUB_ACTIONS");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_app_that_dies_mid_load_is_reported_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "dies",
        "dies-mid-load.js",
        "load:\n  requests: [\"GET /\"]\n",
    );
    let out = leakgate(dir.path()).arg("run").arg(&spec).output().unwrap();
    let ended = SystemTime::now();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("exited with code 3"), "{text}");
    let exited_at: u64 = text
        .lines()
        .find_map(|l| l.split("dies-mid-load: exiting at ").nth(1))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no exit time in {text}"));
    let exited_at = SystemTime::UNIX_EPOCH + Duration::from_millis(exited_at);
    let took = ended.duration_since(exited_at).unwrap();
    eprintln!("mid-load crash reported {took:?} after the app exited");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_route_that_never_answers_stops_the_run_early() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "silent",
        "never-answers.js",
        "  ready: {path: /health}\nload:\n  requests: [\"GET /work\"]\n",
    );
    let began = Instant::now();
    let out = leakgate(dir.path()).arg("run").arg(&spec).output().unwrap();
    let took = began.elapsed();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("failed during warm-up"), "{text}");
    assert!(text.contains("timed out"), "{text}");
    eprintln!("a never-answering route reported after {took:?}");
    // One request timeout (10 s by default) and the boot, not 500 timeouts.
    assert!(took < Duration::from_secs(25), "{took:?}");
}

/// Fields of `/proc/PID/stat` after the command name, or `None` when the process is gone or a
/// zombie.
fn running_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<String> = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (!matches!(fields.first().map(String::as_str), Some("Z" | "X"))).then_some(fields)
}

fn parent_of(pid: u32) -> Option<u32> {
    running_stat(pid)?.get(1)?.parse().ok()
}

/// Processes still running of `pids`, after up to `grace` for them to go.
fn survivors(pids: &[u32], grace: Duration) -> Vec<u32> {
    let began = Instant::now();
    loop {
        let left: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&p| running_stat(p).is_some())
            .collect();
        if left.is_empty() || began.elapsed() > grace {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Temporary run folders left in `tmp`, after up to `grace` for them to go.
fn temp_folders(tmp: &Path, grace: Duration) -> Vec<PathBuf> {
    let began = Instant::now();
    loop {
        let left: Vec<PathBuf> = std::fs::read_dir(tmp)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("leakgate-"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if left.is_empty() || began.elapsed() > grace {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first child of `parent` whose command name is `name`.
fn descendants_named(parent: u32, name: &str) -> Option<u32> {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(5) {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == name && parent_of(pid) == Some(parent) {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Running processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
                        && running_stat(pid).is_some()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The pids of the forking app's two children, read from its log in a run folder under `tmp`,
/// and the app's own pid.
fn wait_for_children(tmp: &Path, limit: Duration) -> Vec<u32> {
    let began = Instant::now();
    loop {
        for dir in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let log = std::fs::read_to_string(dir.path().join("app.log")).unwrap_or_default();
            if let Some(line) = log.lines().find_map(|l| l.strip_prefix("child pids ")) {
                let mut pids: Vec<u32> = line
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                if let Some(app) = pids.first().and_then(|&c| parent_of(c)) {
                    pids.push(app);
                }
                return pids;
            }
        }
        assert!(began.elapsed() < limit, "the forking app never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How a run of the forking app is ended.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// It runs to its verdict.
    End,
    /// Every request fails: an error.
    Error,
    /// leakgate gets this signal mid-run.
    Signal(i32),
    /// `timeout 4 leakgate …` ends it.
    Timeout,
}

/// Runs the forking app under leakgate, ends the run as `ending` says, and returns the exit
/// code, the processes of the app's tree (and leakgate's watchdog) still running and the
/// temporary folders left.
fn end_forking_run(ending: Ending) -> (Option<i32>, Vec<u32>, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let load = match ending {
        Ending::End => {
            "load:\n  warmup: 100\n  requests: [\"GET /\"]\ncheckpoints: [200, 400, 600]\n"
        }
        Ending::Error => "load:\n  requests: [\"GET /fail\"]\n",
        // Long enough to be interrupted.
        Ending::Signal(_) | Ending::Timeout => {
            "load:\n  warmup: 10000000\n  requests: [\"GET /\"]\n"
        }
    };
    let spec = write_spec(dir.path(), "forks", "forks-detached.js", load);
    let mut cmd = match ending {
        Ending::Timeout => {
            let mut cmd = Command::new("timeout");
            cmd.arg("4").arg(env!("CARGO_BIN_EXE_leakgate"));
            cmd.env("TMPDIR", &tmp).env_remove("GITHUB_ACTIONS");
            cmd
        }
        _ => leakgate(&tmp),
    };
    let mut child = cmd
        .arg("run")
        .arg(&spec)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut tree = wait_for_children(&tmp, Duration::from_secs(30));
    assert_eq!(tree.len(), 3, "two children and the app: {tree:?}");
    // leakgate's watchdog must be gone at the end too (under `timeout`, leakgate is a child of
    // `timeout`).
    let leakgate_pid = match ending {
        Ending::Timeout => descendants_named(child.id(), "leakgate"),
        _ => Some(child.id()),
    };
    let watchdogs: Vec<u32> = processes_with("const procs = [], dirs = []")
        .into_iter()
        .filter(|&pid| parent_of(pid).is_some() && parent_of(pid) == leakgate_pid)
        .collect();
    assert_eq!(watchdogs.len(), 1, "one watchdog: {watchdogs:?}");
    tree.extend(watchdogs);
    if let Ending::Signal(signal) = ending {
        // Let the load start, then signal leakgate.
        std::thread::sleep(Duration::from_millis(700));
        // SAFETY: kill on our own child.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
    }
    let status = child.wait().unwrap();
    let code = status
        .code()
        .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s));
    let left = survivors(&tree, Duration::from_secs(3));
    let folders = temp_folders(&tmp, Duration::from_secs(3));
    (code, left, folders)
}

fn check_nothing_left(ending: Ending, expected_code: i32) {
    let (code, left, folders) = end_forking_run(ending);
    eprintln!(
        "{ending:?}: exit {code:?}, {} processes of the app's tree left, {} temporary folders left",
        left.len(),
        folders.len()
    );
    assert_eq!(code, Some(expected_code), "{ending:?}");
    assert!(left.is_empty(), "{ending:?}: still running: {left:?}");
    assert!(folders.is_empty(), "{ending:?}: left {folders:?}");
}

#[test]
fn nothing_is_left_after_a_normal_end() {
    check_nothing_left(Ending::End, 0);
}

#[test]
fn nothing_is_left_after_an_error() {
    check_nothing_left(Ending::Error, 2);
}

#[test]
fn nothing_is_left_after_sigint() {
    check_nothing_left(Ending::Signal(libc::SIGINT), 130);
}

#[test]
fn nothing_is_left_after_sigterm() {
    check_nothing_left(Ending::Signal(libc::SIGTERM), 143);
}

#[test]
fn nothing_is_left_after_timeout() {
    // `timeout` sends SIGTERM and exits with 124.
    check_nothing_left(Ending::Timeout, 124);
}

#[test]
fn nothing_is_left_after_sigkill() {
    // No code of leakgate runs: the app dies with it, the watchdog kills the rest and removes
    // the temporary folder.
    check_nothing_left(Ending::Signal(libc::SIGKILL), 137);
}

#[test]
fn nothing_is_left_after_a_panic() {
    use leakgate::app::{AppConfig, AppProcess};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    let log = dir.path().join("run/app.log");
    let mut cfg = AppConfig::new("forks-detached.js", apps_dir());
    cfg.log_path = Some(log.clone());
    let tree = std::sync::Mutex::new(Vec::new());
    let panicked = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let _app = AppProcess::start(&cfg).await.unwrap();
                    let pids = wait_for_children(dir.path(), Duration::from_secs(10));
                    *tree.lock().unwrap() = pids;
                    panic!("a panic while the app runs");
                })
            })
            .join()
            .is_err()
    });
    assert!(panicked);
    let tree = tree.into_inner().unwrap();
    assert_eq!(tree.len(), 3, "{tree:?}");
    let left = survivors(&tree, Duration::from_secs(3));
    eprintln!("panic: {} processes of the app's tree left", left.len());
    assert!(left.is_empty(), "still running: {left:?}");
}
