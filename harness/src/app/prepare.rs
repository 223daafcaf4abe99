//! Installing the app's dependencies with `npm ci`, at most once per folder even when many
//! threads or processes prepare the same folder at once (an exclusive `flock`).
//!
//! The lock file is named from a hash of the folder's canonical path, so separately built
//! binaries agree on it. It lives in a folder of this user's own (`leakgate-locks-UID` in the
//! system temp folder, `0700`, refused when it is a symlink or someone else's): in the shared
//! temp folder itself another user could create the name first and hold it. Waiting is
//! bounded by [`NPM_LOCK_TIMEOUT`]; the holder writes its pid into the file, so a waiter that
//! gives up names the process in its way.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::{find_on_path, AppError, ERROR_TAIL_LINES};

/// How long [`prepare`] waits for another process's `npm ci` in the same folder: longer than
/// a cold install of a large project takes, short of hanging a CI job for good.
pub const NPM_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

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
    tokio::task::spawn_blocking(move || prepare_blocking(&cwd, NPM_LOCK_TIMEOUT))
        .await
        .map_err(|e| AppError::Io {
            context: "the thread preparing node_modules failed".to_string(),
            source: io::Error::other(e.to_string()),
        })?
}

/// The stamp written after a successful `npm ci`.
const STAMP: &str = ".leakgate-prepared";

fn prepare_blocking(cwd: &Path, lock_timeout: Duration) -> Result<PrepareOutcome, AppError> {
    let lockfile = cwd.join("package-lock.json");
    if !lockfile.is_file() {
        return Ok(PrepareOutcome::NoLockfile);
    }
    if node_modules_fresh(cwd)? {
        return Ok(PrepareOutcome::UpToDate);
    }
    find_on_path("node").ok_or(AppError::NodeNotFound)?;
    let npm = find_on_path("npm").ok_or(AppError::NpmNotFound)?;

    let lock = lock_folder(cwd, lock_timeout)?;
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

/// The lock file of `cwd`'s installs, in this user's private lock folder.
fn lock_path(cwd: &Path) -> Result<std::path::PathBuf, AppError> {
    let canonical = cwd
        .canonicalize()
        .map_err(AppError::io_at("resolve", cwd))?;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let folder = std::env::temp_dir().join(format!("leakgate-locks-{uid}"));
    crate::private::run_dir(&folder).map_err(AppError::io_at("create", &folder))?;
    Ok(folder.join(format!(
        "npm-{:016x}.lock",
        fnv1a(canonical.as_os_str().as_bytes())
    )))
}

/// Takes the exclusive lock on `cwd`'s installs, waiting at most `timeout`, and records this
/// process as its holder.
fn lock_folder(cwd: &Path, timeout: Duration) -> Result<File, AppError> {
    use std::io::{Read, Seek, Write};
    let path = lock_path(cwd)?;
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(AppError::io_at("open", &path))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o600);
        lock.set_permissions(private)
            .map_err(AppError::io_at("protect", &path))?;
    }
    let began = Instant::now();
    while !try_flock_exclusive(&lock).map_err(AppError::io_at("lock", &path))? {
        if began.elapsed() >= timeout {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            return Err(AppError::NpmLockTimeout {
                cwd: cwd.to_path_buf(),
                lock: path,
                waited: timeout,
                holder: describe_holder(holder.trim()),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = lock
        .set_len(0)
        .and_then(|()| lock.rewind())
        .and_then(|()| writeln!(lock, "{}", std::process::id()));
    Ok(lock)
}

/// `pid 123 (node leakgate run specs/)` from the pid a holder wrote, or what is known.
fn describe_holder(pid: &str) -> String {
    let Ok(pid) = pid.parse::<u32>() else {
        return "a process that did not record itself".to_string();
    };
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) if !cmdline.is_empty() => {
            let words: Vec<String> = cmdline
                .split(|&b| b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            format!("pid {pid} (`{}`)", words.join(" "))
        }
        _ => format!("pid {pid}"),
    }
}

/// Takes an exclusive `flock` on this open file description if no one else holds one.
fn try_flock_exclusive(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a valid, open file descriptor owned by `file`.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder whose `node_modules` is stale, so `prepare` must install.
    fn stale_app() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"name":"x","version":"1.0.0"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("package-lock.json"),
            r#"{"name":"x","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"x","version":"1.0.0"}}}"#,
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_lock_is_private_and_a_held_lock_times_out_naming_its_holder() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let app = stale_app();
        let path = lock_path(app.path()).unwrap();
        let folder = std::fs::symlink_metadata(path.parent().unwrap()).unwrap();
        assert!(folder.is_dir());
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        // SAFETY: getuid cannot fail.
        assert_eq!(folder.uid(), unsafe { libc::getuid() });
        assert_ne!(path.parent(), Some(std::env::temp_dir().as_path()));

        // Another process holds the lock and keeps it: `flock(1)` runs `sleep` under it.
        let mut holder = std::process::Command::new("flock")
            .arg(&path)
            .args(["sleep", "30"])
            .spawn()
            .expect("flock(1) is installed");
        let began = Instant::now();
        while try_flock_probe(&path) {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "flock(1) took the lock"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // What a leakgate holding the lock writes (flock(1) does not).
        std::fs::write(&path, format!("{}\n", holder.id())).unwrap();
        let began = Instant::now();
        let result = prepare_blocking(app.path(), Duration::from_millis(500));
        let waited = began.elapsed();
        holder.kill().unwrap();
        holder.wait().unwrap();
        let error = result.expect_err("the lock is held").to_string();
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
        assert!(error.contains("another `npm ci`"), "{error}");
        assert!(error.contains(&format!("pid {}", holder.id())), "{error}");
        assert!(
            error.contains("flock"),
            "names the holder's command: {error}"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    /// `true` when the lock at `path` is free (taken and released at once).
    fn try_flock_probe(path: &Path) -> bool {
        File::open(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
            || try_flock_exclusive(&File::open(path).unwrap()).unwrap()
    }
}
