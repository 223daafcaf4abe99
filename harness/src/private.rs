//! Files and folders leakgate writes: readable by the user alone, and never written through a
//! symlink.
//!
//! Heap snapshots hold every secret in the app's memory, app logs often too, and reports name
//! paths and classes of the app. So every folder leakgate creates is `0700` and every file
//! `0600`, set explicitly (not left to the umask) and also on files and folders that existed
//! before. A folder given by the user (`--artifacts`, `--report-dir`) may be shared: a file is
//! opened with `O_NOFOLLOW`, so a symlink planted where leakgate writes is refused rather than
//! followed, and a run folder must be a real folder owned by the user.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the folders leakgate creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files leakgate writes.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and its missing parents as `0700` folders. An existing folder is left as it
/// is (it may be the user's, e.g. the current folder).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Makes `path` a private folder for one run: created `0700` when missing; when it exists it
/// must be a real folder (not a symlink) owned by this user, and is made `0700`.
pub fn run_dir(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(io::Error::other(
            "it is a symlink or not a folder; refusing to use it",
        ));
    }
    // SAFETY: getuid cannot fail.
    if meta.uid() != unsafe { libc::getuid() } {
        return Err(io::Error::other(
            "it belongs to another user; refusing to use it",
        ));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
}

fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::other("it is a symlink; refusing to write through it")
            } else {
                e
            }
        })?;
    // A file that existed keeps its mode when opened: make it private too.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Creates or truncates `path` as a `0600` file, refusing a symlink.
pub fn create(path: &Path) -> io::Result<File> {
    open(
        path,
        OpenOptions::new().write(true).create(true).truncate(true),
    )
}

/// Opens `path` for appending (created `0600`), refusing a symlink.
pub fn append(path: &Path) -> io::Result<File> {
    open(path, OpenOptions::new().append(true).create(true))
}

/// Writes `bytes` to `path` (see [`create`]).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    create(path)?.write_all(bytes.as_ref())
}

/// Removes whatever non-folder entry is at `path` (a symlink is removed, not followed), so
/// that a file another program writes there (Node writing a heap snapshot) is a new one.
pub fn clear(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_dir() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::other("it is a folder")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn files_and_folders_are_private_and_symlinks_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("a/b/run");
        run_dir(&run).unwrap();
        assert_eq!(mode(&run), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let file = run.join("report.json");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        write(&file, "new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");

        let target = dir.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        let link = run.join("app.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(append(&link).unwrap_err().to_string().contains("symlink"));
        assert!(write(&link, "x")
            .unwrap_err()
            .to_string()
            .contains("symlink"));
        clear(&link).unwrap();
        assert!(!link.exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");

        let linked_dir = dir.path().join("linked");
        std::os::unix::fs::symlink(dir.path(), &linked_dir).unwrap();
        assert!(run_dir(&linked_dir).is_err());
    }
}
