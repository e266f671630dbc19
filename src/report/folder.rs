//! Output folders: one writer at a time (a lock file beside the folder),
//! and a run's files replaced as a set (written into a fresh folder that
//! then takes the old one's place in one step).
//!
//! * **Lock**: `<out>.lock`, created with `create_new` and holding the
//!   writer's pid, removed when the [`OutputLock`] is dropped. A second
//!   writer gets [`ReportError::InUse`]. A process killed with SIGKILL (or
//!   SIGTERM, which runs no destructors) leaves its lock behind; on Linux a
//!   lock whose pid has no `/proc/<pid>` is stale and is taken over, and
//!   elsewhere the error names the pid and the file to remove.
//! * **Set replacement** ([`replace_folder`]): the files are written into
//!   `.<name>.new-<pid>` beside `<out>`, which then takes `<out>`'s place
//!   (on Linux with one `renameat2(RENAME_EXCHANGE)`; elsewhere with two
//!   renames). Readers see the old set or the new set, never a mix; an
//!   interrupted writer leaves at most a hidden `.<name>.new-<pid>` or
//!   `.<name>.old-<pid>` folder, which the next writer removes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::ReportError;

/// The files `slivers run` writes into its folder; anything else in an
/// existing folder is not replaced, so the folder is refused.
pub const RUN_FILES: [&str; 16] = [
    "summary.csv",
    "migrations.csv",
    "fidelity.csv",
    "utilization.csv",
    "utilization.png",
    "utilization.svg",
    "figure3.png",
    "figure3.svg",
    "fidelity.png",
    "fidelity.svg",
    "manifest.toml",
    "timeline.csv",
    "energy-vs-slav.png",
    "energy-vs-slav.svg",
    "active-hosts.png",
    "active-hosts.svg",
];

/// Refuses an empty output path (`--out ""`).
pub fn check_output_path(out: &Path) -> Result<(), ReportError> {
    if out.as_os_str().is_empty() {
        return Err(ReportError::EmptyOutput);
    }
    Ok(())
}

/// `<parent>/<prefix><name><suffix>`, beside `out`.
fn sibling(out: &Path, prefix: &str, suffix: &str) -> Result<PathBuf, ReportError> {
    check_output_path(out)?;
    let abs = std::path::absolute(out).map_err(|e| ReportError::io(out, e))?;
    let name = abs
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| ReportError::NotAFolderName {
            path: out.display().to_string(),
        })?;
    let mut n = std::ffi::OsString::from(prefix);
    n.push(name);
    n.push(suffix);
    Ok(abs.with_file_name(n))
}

/// True unless the process `pid` is known to be gone.
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// An exclusive claim on an output folder, released on drop.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Takes the lock `<out>.lock` beside `out` (creating `out`'s parent),
    /// or fails with [`ReportError::InUse`] naming the holder's pid.
    pub fn acquire(out: &Path) -> Result<OutputLock, ReportError> {
        let path = sibling(out, "", ".lock")?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
        }
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let lock = OutputLock { path };
                    writeln!(f, "{}", std::process::id())
                        .and_then(|()| f.sync_all())
                        .map_err(|e| ReportError::io(&lock.path, e))?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        // A stale lock of a killed writer (Linux): take it over.
                        Ok(pid) if !alive(pid) => {
                            let _ = fs::remove_file(&path);
                        }
                        pid => {
                            return Err(ReportError::InUse {
                                folder: out.display().to_string(),
                                lock: path.display().to_string(),
                                pid: pid.map_or_else(|_| format!("{:?}", text.trim()), |p| p.to_string()),
                            });
                        }
                    }
                }
                Err(e) => return Err(ReportError::io(&path, e)),
            }
        }
        Err(ReportError::InUse {
            folder: out.display().to_string(),
            lock: path.display().to_string(),
            pid: "another process".into(),
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes the hidden folders interrupted writers left beside `out`.
fn remove_leftovers(out: &Path) -> Result<(), ReportError> {
    let new = sibling(out, ".", ".new-")?;
    let Some(dir) = new.parent() else { return Ok(()) };
    let stem = new
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old_stem = stem.replacen(".new-", ".old-", 1);
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::io(dir, e)),
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(&stem)
            .or_else(|| name.strip_prefix(&old_stem))
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p == std::process::id() || !alive(p)) {
            // A writer killed between its two renames (not on Linux, which
            // swaps in one step) left the old set here and none at `out`.
            if name.starts_with(&old_stem) && !out.exists() {
                fs::rename(e.path(), out).map_err(|err| ReportError::io(out, err))?;
                continue;
            }
            fs::remove_dir_all(e.path()).map_err(|err| ReportError::io(&e.path(), err))?;
        }
    }
    Ok(())
}

/// Refuses an existing `out` holding anything but the files of a run
/// ([`RUN_FILES`]) and temporary files: replacing it would lose them.
fn check_replaceable(out: &Path) -> Result<(), ReportError> {
    let entries = match fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::io(out, e)),
    };
    let mut foreign: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !RUN_FILES.contains(&n.as_str()) && !n.ends_with(".tmp"))
        .collect();
    foreign.sort();
    match foreign.first() {
        None => Ok(()),
        Some(first) => Err(ReportError::Foreign {
            folder: out.display().to_string(),
            entry: first.clone(),
            more: foreign.len() - 1,
        }),
    }
}

/// True if folders `a` and `b` hold the same file names with the same
/// bytes, except that their `manifest.toml` may differ in `git_revision`.
fn same_but_revision(a: &Path, b: &Path) -> bool {
    let names = |d: &Path| -> Option<Vec<std::ffi::OsString>> {
        let mut v: Vec<_> = fs::read_dir(d).ok()?.flatten().map(|e| e.file_name()).collect();
        v.sort();
        Some(v)
    };
    let manifest = |d: &Path| -> Option<toml::Table> {
        let mut t: toml::Table = fs::read_to_string(d.join("manifest.toml")).ok()?.parse().ok()?;
        t.remove("git_revision");
        Some(t)
    };
    match (names(a), names(b)) {
        (Some(x), Some(y)) if x == y => x.iter().all(|n| {
            if n == "manifest.toml" {
                manifest(a).is_some_and(|m| Some(m) == manifest(b))
            } else {
                matches!((fs::read(a.join(n)), fs::read(b.join(n))), (Ok(p), Ok(q)) if p == q)
            }
        }),
        _ => false,
    }
}

/// Exchanges the folders `out` and `new` in one step where the kernel can
/// (Linux `renameat2(RENAME_EXCHANGE)`); elsewhere `out` moves to `old`
/// and `new` to `out`. Either way the old files end up in the returned
/// folder, for the caller to remove.
fn swap_in(out: &Path, new: &Path, old: &Path) -> io::Result<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
        let (co, cn) = (c(out)?, c(new)?);
        // SAFETY: two valid NUL-terminated paths, which the call only reads.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                co.as_ptr(),
                libc::AT_FDCWD,
                cn.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(new.to_path_buf());
        }
        let err = io::Error::last_os_error();
        // Kernels or file systems without RENAME_EXCHANGE: two renames.
        if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(err);
        }
    }
    fs::rename(out, old)?;
    fs::rename(new, out)?;
    Ok(old.to_path_buf())
}

/// Writes a run's files as a set: `write` fills a fresh hidden folder
/// beside `out` and returns the files it wrote there; that folder then
/// takes `out`'s place. The caller holds `out`'s [`OutputLock`]. An
/// existing `out` must hold only [`RUN_FILES`]. If the new files equal the
/// old ones byte for byte but for the manifest's `git_revision`, `out` is
/// left untouched, keeping the revision that first wrote those bytes (so
/// rerunning a committed result does not dirty a checkout). Returns the
/// files' final paths.
pub fn replace_folder<E: From<ReportError>>(
    out: &Path,
    write: impl FnOnce(&Path) -> Result<Vec<PathBuf>, E>,
) -> Result<Vec<PathBuf>, E> {
    check_replaceable(out)?;
    remove_leftovers(out)?;
    let pid = std::process::id();
    let new = sibling(out, ".", &format!(".new-{pid}"))?;
    let old = sibling(out, ".", &format!(".old-{pid}"))?;
    fs::create_dir_all(&new).map_err(|e| ReportError::io(&new, e))?;
    let written = write(&new)?;
    let finals: Vec<PathBuf> = written
        .iter()
        .map(|p| p.file_name().map_or_else(|| p.clone(), |n| out.join(n)))
        .collect();
    let gone = if out.is_dir() && same_but_revision(out, &new) {
        new
    } else if out.is_dir() {
        swap_in(out, &new, &old).map_err(|e| ReportError::io(out, e))?
    } else {
        fs::rename(&new, out).map_err(|e| ReportError::io(out, e))?;
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
        if let Ok(d) = fs::File::open(parent.unwrap_or(Path::new("."))) {
            let _ = d.sync_all();
        }
        return Ok(finals);
    };
    fs::remove_dir_all(&gone).map_err(|e| ReportError::io(&gone, e))?;
    Ok(finals)
}
