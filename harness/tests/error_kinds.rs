//! Whose failure a run that could not run was, against the real `leakgate` binary and real
//! Node processes: the JSON's `error_kind` and, under `--detailed-exit-codes`, the exit code
//! (2 spec, 3 app, 4 environment, 5 leakgate; without the flag always 2). One spec per kind
//! that a real process can produce: the spec's (a load script that cannot be imported), the
//! app's (it exits at boot), the environment's (another process holds the spec's `app.port`).
//! leakgate's own kind (a snapshot V8 wrote that cannot be read, an inspector answer of an
//! unexpected shape) cannot be caused on purpose by a real app: its mapping is unit-tested in
//! `runner/error.rs`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

mod common;
use common::{apps_dir, leakgate};

/// Writes `NAME.yaml` into `dir`: the app `script` (under `tests/apps`) and `extra` YAML.
fn write_spec(dir: &Path, name: &str, script: &str, extra: &str) -> PathBuf {
    let text = format!(
        "name: {name}\napp:\n  script: {}\n{extra}expect: clean\n",
        apps_dir().join(script).display()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

const REQUESTS: &str = "load:\n  requests: [\"GET /\"]\n";

/// A spec whose load script throws when imported: the spec's failure.
fn spec_fault(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("load.mjs"),
        "throw new Error('load.mjs: this script does not load');\n",
    )
    .unwrap();
    write_spec(
        dir,
        "unloadable-script",
        "hello.js",
        "load:\n  script: ./load.mjs\n",
    )
}

/// An app that exits before it listens: the app's failure.
fn app_fault(dir: &Path) -> PathBuf {
    write_spec(dir, "crashes-at-boot", "crash.js", REQUESTS)
}

/// An app whose fixed `app.port` is held by `squatter`, a listener of this test that answers
/// HTTP as any server would: the environment's failure (the app itself survives its
/// `EADDRINUSE`, so only port ownership tells the two apart).
fn environment_fault(dir: &Path, squatter: &TcpListener) -> PathBuf {
    let port = squatter.local_addr().unwrap().port();
    write_spec(
        dir,
        "port-held",
        "survives-eaddrinuse.js",
        &format!("  port: {port}\n{REQUESTS}"),
    )
}

fn squat() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let serving = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        for mut stream in serving.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    listener
}

/// `leakgate run SPECS... --json FILE [flags]`: its exit code and the JSON's specs.
fn run(dir: &Path, specs: &[&Path], flags: &[&str]) -> (Option<i32>, Vec<Value>, Output) {
    let json = dir.join("run.json");
    let _ = std::fs::remove_file(&json);
    let out = leakgate()
        .arg("run")
        .args(specs)
        .arg("--json")
        .arg(&json)
        .args(flags)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("LEAKGATE_KEEP_SNAPSHOTS")
        .env_remove("LEAKGATE_ARTIFACTS")
        .output()
        .expect("leakgate runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let specs = match std::fs::read_to_string(&json) {
        Ok(text) => {
            let value: Value = serde_json::from_str(&text).expect("run JSON");
            value["specs"].as_array().cloned().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    };
    eprintln!("leakgate {flags:?}: {}\n{stderr}", out.status);
    (out.status.code(), specs, out)
}

fn kinds(specs: &[Value]) -> Vec<(String, String)> {
    specs
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["error_kind"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_load_script_that_does_not_load_is_the_specs_fault_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_fault(dir.path());
    let (code, specs, out) = run(dir.path(), &[&spec], &["--detailed-exit-codes"]);
    assert_eq!(kinds(&specs), [("unloadable-script".into(), "spec".into())]);
    assert_eq!(specs[0]["verdict"], "error");
    let message = specs[0]["error"].as_str().unwrap_or("");
    assert!(message.contains("this script does not load"), "{message}");
    assert_eq!(code, Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_app_that_exits_at_boot_is_the_apps_fault_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let spec = app_fault(dir.path());
    let (code, specs, out) = run(dir.path(), &[&spec], &["--detailed-exit-codes"]);
    assert_eq!(kinds(&specs), [("crashes-at-boot".into(), "app".into())]);
    assert_eq!(code, Some(3));
    // The app's last words are reported once, apart from the message.
    let said = "crash.js: missing DATABASE_URL, giving up";
    let message = specs[0]["error"].as_str().unwrap_or("");
    assert!(
        message.starts_with("the app exited with code 3 before it was ready"),
        "{message}"
    );
    assert!(!message.contains(said), "{message}");
    let tail: Vec<&str> = specs[0]["app_log_tail"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(tail.last(), Some(&said), "{tail:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches(said).count(), 1, "{stderr}");
    assert!(
        stderr.contains("  last lines of the app's output:\n"),
        "{stderr}"
    );
}

#[test]
fn a_fixed_port_held_by_another_process_is_the_environments_fault_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let squatter = squat();
    let spec = environment_fault(dir.path(), &squatter);
    let (code, specs, _) = run(dir.path(), &[&spec], &["--detailed-exit-codes"]);
    assert_eq!(kinds(&specs), [("port-held".into(), "environment".into())]);
    let message = specs[0]["error"].as_str().unwrap_or("");
    assert!(
        message.contains("is answered by another process"),
        "{message}"
    );
    assert_eq!(code, Some(4));
}

#[test]
fn every_kind_exits_2_by_default_and_the_highest_code_wins_when_detailed() {
    let dir = tempfile::tempdir().unwrap();
    let squatter = squat();
    let specs = [
        spec_fault(dir.path()),
        app_fault(dir.path()),
        environment_fault(dir.path(), &squatter),
    ];
    let specs: Vec<&Path> = specs.iter().map(PathBuf::as_path).collect();
    let expected: Vec<(String, String)> = [
        ("unloadable-script", "spec"),
        ("crashes-at-boot", "app"),
        ("port-held", "environment"),
    ]
    .map(|(n, k)| (n.to_string(), k.to_string()))
    .to_vec();
    let (code, json, _) = run(dir.path(), &specs, &[]);
    assert_eq!(kinds(&json), expected);
    assert_eq!(code, Some(2), "the default contract: 2 for any error");
    let (code, json, _) = run(dir.path(), &specs, &["--detailed-exit-codes"]);
    assert_eq!(kinds(&json), expected);
    assert_eq!(code, Some(4), "environment (4) over app (3) and spec (2)");
    // Without the app's and the environment's faults, the spec's code is left.
    let (code, _, _) = run(dir.path(), &specs[..1], &["--detailed-exit-codes"]);
    assert_eq!(code, Some(2));
}

#[test]
fn bad_input_found_before_anything_runs_exits_2_when_detailed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "app:\n  scrpt: server.js\n").unwrap();
    let (code, specs, out) = run(dir.path(), &[&bad], &["--detailed-exit-codes"]);
    assert!(specs.is_empty(), "nothing ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:2:3"), "{stderr}");
    assert_eq!(code, Some(2));
    // A bad command line too (clap's own usage error).
    let out = leakgate()
        .args(["run", "--detailed-exit-codes", "--jobs", "0"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // An output path that cannot be written, found before anything runs.
    let spec = app_fault(dir.path());
    let (code, specs, _) = run(
        dir.path(),
        &[&spec],
        &[
            "--detailed-exit-codes",
            "--junit",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(specs.is_empty(), "nothing ran");
    assert_eq!(code, Some(2));
}

#[test]
fn a_missed_expect_still_exits_1_when_detailed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "hello-expects-leak",
        "hello.js",
        &format!("{REQUESTS}checkpoints: [1000, 2000, 3000]\nexplain: never\n"),
    );
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("expect: clean", "expect: leak");
    std::fs::write(&spec, text).unwrap();
    let (code, specs, _) = run(dir.path(), &[&spec], &["--detailed-exit-codes"]);
    assert_eq!(
        kinds(&specs),
        [("hello-expects-leak".into(), "none".into())]
    );
    assert_eq!(specs[0]["verdict"], "clean");
    assert_eq!(code, Some(1));
}

#[test]
fn a_kept_run_folders_log_gives_only_this_runs_tail() {
    let dir = tempfile::tempdir().unwrap();
    let spec = app_fault(dir.path());
    let artifacts = dir.path().join("artifacts");
    let flags = ["--artifacts", artifacts.to_str().unwrap()];
    let said = "crash.js: missing DATABASE_URL, giving up";
    for _ in 0..2 {
        let (code, specs, _) = run(dir.path(), &[&spec], &flags);
        assert_eq!(code, Some(2));
        let tail: Vec<&str> = specs[0]["app_log_tail"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(tail.iter().filter(|l| **l == said).count(), 1, "{tail:?}");
    }
    // The kept log itself holds both runs.
    let log = std::fs::read_to_string(artifacts.join("crashes-at-boot/app.log")).unwrap();
    assert_eq!(log.matches(said).count(), 2, "{log}");
}
