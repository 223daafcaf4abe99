//! Every way a run can end, against the real `leakgate` binary and real Node apps: an app that
//! dies mid-load or never answers is reported fast, and nothing is left behind (no process of
//! the app's tree, no temporary folder) after an end, an error, a panic, SIGINT, SIGTERM,
//! SIGKILL or `timeout`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

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
