//! Installing the app's dependencies with `npm ci`, at most once per folder even when many
//! threads or processes prepare the same folder at once (an exclusive `flock`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use super::{find_on_path, AppError, ERROR_TAIL_LINES};

/// What [`prepare`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareOutcome {
    /// The folder has no `package-lock.json`: nothing to install.
    NoLockfile,
    /// `node_modules` was already up to date with `package-lock.json`.
    UpToDate,
    /// `npm ci` ran and succeeded.
    Installed,
}

/// Installs the app's dependencies with `npm ci` when `cwd` has a `package-lock.json` and its
/// `node_modules` is missing or older than the lock file.
///
/// Runs `npm ci` at most once per folder even when many threads or processes prepare the same
/// folder at once (see the module docs). Up to date means `node_modules/.package-lock.json`
/// (written by npm) or `node_modules/.leakgate-prepared` (written here after a successful
/// install, since npm writes nothing for a package without dependencies) is not older than
/// `package-lock.json`.
pub async fn prepare(cwd: &Path) -> Result<PrepareOutcome, AppError> {
    let cwd = cwd.to_path_buf();
    tokio::task::spawn_blocking(move || prepare_blocking(&cwd))
        .await
        .map_err(|e| AppError::Io {
            context: "the thread preparing node_modules failed".to_string(),
            source: io::Error::other(e.to_string()),
        })?
}

/// The stamp written after a successful `npm ci`.
const STAMP: &str = ".leakgate-prepared";

fn prepare_blocking(cwd: &Path) -> Result<PrepareOutcome, AppError> {
    let lockfile = cwd.join("package-lock.json");
    if !lockfile.is_file() {
        return Ok(PrepareOutcome::NoLockfile);
    }
    if node_modules_fresh(cwd)? {
        return Ok(PrepareOutcome::UpToDate);
    }
    find_on_path("node").ok_or(AppError::NodeNotFound)?;
    let npm = find_on_path("npm").ok_or(AppError::NpmNotFound)?;

    let canonical = cwd
        .canonicalize()
        .map_err(AppError::io_at("resolve", cwd))?;
    let lock_path = std::env::temp_dir().join(format!(
        "leakgate-npm-{:016x}.lock",
        fnv1a(canonical.as_os_str().as_bytes())
    ));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(AppError::io_at("open", &lock_path))?;
    flock_exclusive(&lock).map_err(AppError::io_at("lock", &lock_path))?;

    // Another thread or process may have installed while this one waited for the lock.
    if node_modules_fresh(cwd)? {
        return Ok(PrepareOutcome::UpToDate);
    }
    let output = Command::new(&npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| AppError::Spawn {
            program: npm.display().to_string(),
            cwd: cwd.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return Err(AppError::NpmFailed {
            cwd: cwd.to_path_buf(),
            code: output.status.code(),
            log_tail: last_lines(&text, ERROR_TAIL_LINES),
        });
    }
    let stamp = cwd.join("node_modules").join(STAMP);
    std::fs::create_dir_all(cwd.join("node_modules"))
        .and_then(|()| std::fs::write(&stamp, "installed by leakgate with `npm ci`\n"))
        .map_err(AppError::io_at("write", &stamp))?;
    drop(lock);
    Ok(PrepareOutcome::Installed)
}

/// `true` when npm's hidden lock file or leakgate's stamp is at least as new as the lock file.
fn node_modules_fresh(cwd: &Path) -> Result<bool, AppError> {
    let lockfile = cwd.join("package-lock.json");
    let locked = modified(&lockfile)?
        .ok_or_else(|| AppError::io_at("read", &lockfile)(io::ErrorKind::NotFound.into()))?;
    for marker in [".package-lock.json", STAMP] {
        if let Some(installed) = modified(&cwd.join("node_modules").join(marker))? {
            if installed >= locked {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The modification time of `path`, `None` when it does not exist.
fn modified(path: &Path) -> Result<Option<SystemTime>, AppError> {
    match std::fs::metadata(path).and_then(|m| m.modified()) {
        Ok(time) => Ok(Some(time)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::io_at("read", path)(e)),
    }
}

/// Blocks until this open file description holds an exclusive `flock`.
fn flock_exclusive(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: flock on a valid, open file descriptor owned by `file`.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// 64-bit FNV-1a: a hash that stays the same across builds, so separately built binaries
/// agree on the lock file name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
