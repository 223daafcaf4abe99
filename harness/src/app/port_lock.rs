//! One app at a time on a fixed port. Specs that set the same `app.port` cannot run at once:
//! the second app would fail with `EADDRINUSE` (or, worse, survive it while the first app
//! answers its requests). So an app with a fixed port is started only while holding an
//! exclusive `flock` on a lock file named after the port, kept until the app has ended. The
//! lock covers threads of one leakgate and separate processes alike (cargo-nextest runs each
//! test in its own), and the kernel releases it when its holder dies, even by `SIGKILL`.
//!
//! The lock files live in a folder of the user's own (`leakgate-ports-UID` in the temporary
//! folder, mode 0700, checked to be a real folder owned by the user), so another local user
//! can neither hold them nor plant a link in their place.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// Pause between attempts to take a lock that another spec holds.
const RETRY: Duration = Duration::from_millis(100);

/// An exclusive hold on one port; released on drop.
#[derive(Debug)]
pub(super) struct PortLock {
    _file: File,
}

/// The user's private folder for port locks.
fn lock_dir() -> io::Result<PathBuf> {
    // SAFETY: getuid cannot fail and has no memory effects.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("leakgate-ports-{uid}"));
    match DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{} is not a private folder of this user (mode 0700); remove it",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Waits until no other app of leakgate's holds `port`, then holds it. `waiting` is called
/// once if the port is busy, so the caller can say why nothing happens.
pub(super) async fn lock_port(port: u16, waiting: impl FnOnce()) -> io::Result<PortLock> {
    let path = lock_dir()?.join(format!("port-{port}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    let mut waiting = Some(waiting);
    loop {
        // SAFETY: flock on a valid, open file descriptor owned by `file`.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(PortLock { _file: file });
        }
        let err = io::Error::last_os_error();
        if !matches!(
            err.raw_os_error(),
            Some(libc::EWOULDBLOCK) | Some(libc::EINTR)
        ) {
            return Err(err);
        }
        if let Some(tell) = waiting.take() {
            tell();
        }
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_held_port_waits_until_released() {
        let port = 1; // never used by an app under test
        let first = lock_port(port, || panic!("free at first")).await.unwrap();
        let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = waited.clone();
        let second = tokio::spawn(async move {
            lock_port(port, move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_finished());
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        drop(first);
        second.await.unwrap().unwrap();
    }
}
