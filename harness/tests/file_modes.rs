//! What leakgate writes is the user's alone whatever the umask: a run under `umask 000`, with
//! every output it has (reports, JUnit, JSON, kept heap snapshots and app logs), leaves only
//! `0600` files in `0700` folders.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every entry under `dir` (itself included), with its mode bits.
fn modes(dir: &Path, out: &mut Vec<(PathBuf, u32, bool)>) {
    let meta = std::fs::symlink_metadata(dir).unwrap();
    out.push((
        dir.to_path_buf(),
        meta.permissions().mode() & 0o777,
        meta.is_dir(),
    ));
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            modes(&entry.unwrap().path(), out);
        }
    }
}

#[test]
fn a_run_under_umask_000_writes_private_files() {
    let tmp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/hello.js");
    let spec = tmp.path().join("hello.yaml");
    std::fs::write(
        &spec,
        format!(
            "app:\n  script: {}\nload:\n  requests: [\"GET /\"]\ncheckpoints: [1000, 2000, 3000]\nexplain: never\n",
            script.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_leakgate"))
        .arg("run")
        .arg(&spec)
        .args([
            "--report-dir",
            "out/reports",
            "--junit",
            "out/junit/junit.xml",
        ])
        .args(["--json", "out/run.json", "--keep-snapshots", "always"])
        .args(["--artifacts", "out/artifacts"])
        .current_dir(tmp.path())
        .env("TMPDIR", tmp.path())
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.code().is_some_and(|c| c < 2), "{stderr}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        modes(&entry.unwrap().path(), &mut found);
    }
    let snapshots = found
        .iter()
        .filter(|(p, ..)| p.extension().is_some_and(|e| e == "heapsnapshot"))
        .count();
    assert!(snapshots >= 4, "kept snapshots: {found:?}");
    assert!(
        found.iter().any(|(p, ..)| p.ends_with("junit.xml")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(p, ..)| p.ends_with("run.json")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(p, ..)| p.ends_with("app.log")),
        "{found:?}"
    );
    let loose: Vec<_> = found
        .iter()
        .filter(|(_, mode, dir)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(p, mode, _)| format!("{:o} {}", mode, p.display()))
        .collect();
    assert!(loose.is_empty(), "not private under umask 000: {loose:#?}");
    // Nothing else was left in the temporary folder but the per-user lock folder, if any.
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            ["hello.yaml", "out"].contains(&name.as_str()) || name.starts_with("leakgate-locks-"),
            "left behind: {}",
            path.display()
        );
    }
}
