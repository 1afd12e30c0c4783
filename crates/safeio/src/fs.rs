//! Creating, replacing and appending to files without following a symbolic link at the file's
//! name, and private modes.
//!
//! Only the last component of a path is guarded: the folders above it are the admin's choice
//! (and may well be links, e.g. to another volume). Errors are plain `io::Error`s; a link in the
//! way comes back as [`symlink_refused`]'s error, which says what to do.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of files that hold names, subjects or secrets: owner read/write only.
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of folders Ferry creates for such files.
pub const PRIVATE_DIR: u32 = 0o700;

/// The error for a symbolic link where Ferry would create, replace or write a file.
pub fn symlink_refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a symbolic link is in the way, and Ferry never writes through one (it could point at \
         any file); remove the link or choose another folder",
    )
}

/// Maps the errno of an `O_NOFOLLOW` open of a link (ELOOP) to [`symlink_refused`].
fn explain(e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return symlink_refused();
    }
    e
}

fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

fn with_mode(options: &mut OpenOptions, mode: u32) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options
}

/// A regular file, or the error saying what else is there.
fn regular(file: File) -> io::Result<File> {
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a folder, device or pipe is in the way)",
        ))
    }
}

/// Creates `dir` and its missing parents with mode 0700. Folders that exist are left as they are
/// (they may be the admin's, e.g. an export folder they made readable for others).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR);
    }
    builder.create(dir)
}

/// Creates a new file with `mode`; fails when anything is at `path` already (a file, a folder, a
/// symbolic link, even a dangling one: `O_EXCL` never follows a link).
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    with_mode(OpenOptions::new().write(true).create_new(true), mode)
        .open(path)
        .map_err(explain)
}

/// Opens `path` for reading; a symbolic link there is refused.
pub fn open_read(path: &Path) -> io::Result<File> {
    let file = no_follow(OpenOptions::new().read(true))
        .open(path)
        .map_err(explain)?;
    regular(file)
}

/// Opens an existing regular file for writing in place (no truncation); a symbolic link there
/// is refused.
pub fn open_existing_for_write(path: &Path) -> io::Result<File> {
    let file = no_follow(OpenOptions::new().write(true))
        .open(path)
        .map_err(explain)?;
    regular(file)
}

/// Opens `path` for appending, creating it with `mode` when missing; a symbolic link there is
/// refused. An existing file keeps its mode unless `mode` is [`PRIVATE_FILE`]: then it is
/// narrowed to it (a file written by an older version may be wider).
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    let file = regular(
        with_mode(
            no_follow(OpenOptions::new().append(true).create(true)),
            mode,
        )
        .open(path)
        .map_err(explain)?,
    )?;
    if mode == PRIVATE_FILE {
        restrict(&file, mode)?;
    }
    Ok(file)
}

/// Sets the mode of an open file (no path involved, so no link can be followed).
pub fn restrict(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, mode);
        Ok(())
    }
}

/// Opens `path` for reading and writing (no truncation), creating it with mode 0600 when
/// missing, else narrowing an existing regular file to 0600; a symbolic link there is refused.
/// For a lock file, and for files another library then opens by name (SQLite).
pub fn open_private(path: &Path) -> io::Result<File> {
    let file = regular(
        with_mode(
            no_follow(OpenOptions::new().read(true).write(true).create(true)),
            PRIVATE_FILE,
        )
        .open(path)
        .map_err(explain)?,
    )?;
    restrict(&file, PRIVATE_FILE)?;
    Ok(file)
}

/// Narrows an existing regular file to `mode`; nothing when there is none (a symbolic link is
/// refused). For files another program creates beside ours (SQLite's `-wal` and `-shm`).
pub fn narrow_if_exists(path: &Path, mode: u32) -> io::Result<()> {
    match no_follow(OpenOptions::new().read(true)).open(path) {
        Ok(file) => restrict(&regular(file)?, mode),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(explain(e)),
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new temp file beside `path` (same folder, so the rename stays on one filesystem), created
/// with `O_EXCL`: a link planted at a predictable temp name cannot redirect the write.
fn new_temp_beside(path: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy()
        .into_owned();
    let mut last = None;
    for _ in 0..16 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = path.with_file_name(format!(
            ".{name}.tmp-{}-{n}-{nanos:08x}",
            std::process::id()
        ));
        match create_new(&tmp, mode) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temp file name")))
}

/// Replaces `path` with `bytes` atomically: a new temp file beside it (mode `mode`), fsync,
/// rename over `path`, fsync of the folder. A reader sees the old or the new content, never a
/// part. A symbolic link at `path` is refused (a rename would replace the link, not follow it,
/// but a link where Ferry writes is not the admin's intent, so it is reported instead).
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(symlink_refused());
    }
    let (tmp, mut file) = new_temp_beside(path, mode)?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename durable; not every filesystem lets a folder be opened.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_beside_and_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, _f) = new_temp_beside(&dir.path().join("a.txt"), PRIVATE_FILE).unwrap();
        assert_eq!(tmp.parent(), Some(dir.path()));
        let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".a.txt.tmp-"), "{name}");
    }
}
