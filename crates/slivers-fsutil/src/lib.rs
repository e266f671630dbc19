//! Atomic file writes, the one implementation every writer uses.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temp files of concurrent writers within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file
/// `<name>.<pid>.<n>.tmp` in the same directory (created if needed), synced,
/// then renamed over `path`, and the directory synced (best effort).
/// Readers see the old content or the whole new content, never a part. On
/// failure the temporary file is removed and the error names the path that
/// failed (the temporary file or the target).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)> {
    let Some(name) = path.file_name() else {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "path does not name a file");
        return Err((path.to_path_buf(), e));
    };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent {
        fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    }
    let written = (|| -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err((tmp, e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err((path.to_path_buf(), e));
    }
    // Make the rename itself durable. Best effort: some filesystems do not
    // support syncing a directory handle, and the data is already in place.
    if let Ok(d) = fs::File::open(parent.unwrap_or(Path::new("."))) {
        let _ = d.sync_all();
    }
    Ok(())
}
