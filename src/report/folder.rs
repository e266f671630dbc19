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
//!   `.<name>.old-<pid>` folder, which the next writer removes. A live
//!   run's folder also holds its journal, transcript and emulated hosts
//!   ([`LIVE_KEPT`]), which [`replace_folder_keeping`] hard-links into each
//!   new set, so they are never out of `<out>`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::ReportError;

/// The files `slivers run` writes into its folder; anything else in an
/// existing folder is not replaced, so the folder is refused.
pub const RUN_FILES: [&str; 42] = [
    "summary.csv",
    "migrations.csv",
    "fidelity.csv",
    "utilization.csv",
    "utilization.png",
    "utilization.svg",
    "utilization.pdf",
    "figure3.png",
    "figure3.svg",
    "figure3.pdf",
    "fidelity.png",
    "fidelity.svg",
    "fidelity.pdf",
    "manifest.toml",
    "timeline.csv",
    "energy-vs-slav.png",
    "energy-vs-slav.svg",
    "energy-vs-slav.pdf",
    "active-hosts.png",
    "active-hosts.svg",
    "active-hosts.pdf",
    "failures.csv",
    "availability.csv",
    "drains.csv",
    "vms-lost.csv",
    "vms-lost.png",
    "vms-lost.svg",
    "vms-lost.pdf",
    "sites.csv",
    "brokers.csv",
    "site-migrations.csv",
    "site-migrations.png",
    "site-migrations.svg",
    "site-migrations.pdf",
    "thermal.csv",
    "thermal-summary.csv",
    "thermal.png",
    "thermal.svg",
    "thermal.pdf",
    "thermal-supply.png",
    "thermal-supply.svg",
    "thermal-supply.pdf",
];

/// What a live run's folder holds besides its results, kept across runs of
/// the controller: the journal, the dry run's transcript of commands and the
/// emulated hosts. [`replace_folder_keeping`] carries them into each new set.
pub const LIVE_KEPT: [&str; 3] = ["journal.jsonl", "commands.jsonl", "emulated"];

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
/// ([`RUN_FILES`]), the entries `keep` and temporary files: replacing it
/// would lose them.
fn check_replaceable(out: &Path, keep: &[&str]) -> Result<(), ReportError> {
    let entries = match fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::io(out, e)),
    };
    let mut foreign: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !RUN_FILES.contains(&n.as_str()) && !keep.contains(&n.as_str()) && !n.ends_with(".tmp"))
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

/// Readies `out` for [`replace_folder_keeping`] with `keep` before a long
/// run writes into it (a live run's journal): finishes or removes what an
/// interrupted replacement left beside it, and refuses a folder holding
/// anything but a run's files and `keep`, so that the run is not done in
/// vain. The caller holds `out`'s [`OutputLock`].
pub fn prepare_folder(out: &Path, keep: &[&str]) -> Result<(), ReportError> {
    remove_leftovers(out)?;
    check_replaceable(out, keep)
}

/// Makes `to` hold what `from` holds (a file or a folder tree) without
/// moving anything: files are hard-linked (copied where links are refused),
/// so `from` stays whole until it is removed.
fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    let kind = fs::symlink_metadata(from)?.file_type();
    if kind.is_dir() {
        fs::create_dir(to)?;
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(from)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for e in entries {
            link_tree(&e.path(), &to.join(e.file_name()))?;
        }
        return Ok(());
    }
    #[cfg(unix)]
    if kind.is_symlink() {
        return std::os::unix::fs::symlink(fs::read_link(from)?, to);
    }
    fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(drop))
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
    replace_folder_keeping(out, &[], write)
}

/// [`replace_folder`] for a folder that also holds the entries `keep`
/// (files or folders that outlive one set of results: [`LIVE_KEPT`]). Each
/// that exists is carried into the new set by hard links (copies where the
/// file system refuses links) after `write`, so until the swap `out` holds
/// them and the old results, and after it the new results beside the same
/// entries. The caller must not change them meanwhile.
pub fn replace_folder_keeping<E: From<ReportError>>(
    out: &Path,
    keep: &[&str],
    write: impl FnOnce(&Path) -> Result<Vec<PathBuf>, E>,
) -> Result<Vec<PathBuf>, E> {
    check_replaceable(out, keep)?;
    remove_leftovers(out)?;
    let pid = std::process::id();
    let new = sibling(out, ".", &format!(".new-{pid}"))?;
    let old = sibling(out, ".", &format!(".old-{pid}"))?;
    fs::create_dir_all(&new).map_err(|e| ReportError::io(&new, e))?;
    let filled = write(&new).and_then(|written| {
        for name in keep {
            let from = out.join(name);
            if fs::symlink_metadata(&from).is_ok() {
                link_tree(&from, &new.join(name)).map_err(|e| ReportError::io(&from, e))?;
            }
        }
        Ok(written)
    });
    let written = match filled {
        Ok(w) => w,
        Err(e) => {
            // `out` is untouched; the half-filled set goes (or the next
            // writer removes it).
            let _ = fs::remove_dir_all(&new);
            return Err(e);
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary folder.
    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("slivers-folder-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// A live folder: two result files saying `tag`, a journal and an
    /// emulated host's state.
    fn live_folder(out: &Path, tag: &str) {
        fs::create_dir_all(out.join("emulated/hosts/host0")).unwrap();
        fs::write(out.join("emulated/hosts/host0/state.json"), "{\"vms\":1}").unwrap();
        fs::write(out.join("journal.jsonl"), "{\"run\":1}\n").unwrap();
        for f in ["summary.csv", "manifest.toml"] {
            fs::write(out.join(f), format!("{tag} {f}")).unwrap();
        }
    }

    fn results(dir: &Path, tag: &str) -> Result<Vec<PathBuf>, ReportError> {
        ["summary.csv", "manifest.toml"]
            .iter()
            .map(|f| {
                let p = dir.join(f);
                fs::write(&p, format!("{tag} {f}")).map_err(|e| ReportError::io(&p, e))?;
                Ok(p)
            })
            .collect()
    }

    fn read(out: &Path, f: &str) -> String {
        fs::read_to_string(out.join(f)).unwrap()
    }

    /// Names beside `out` (the folder's parent holds nothing else).
    fn siblings(out: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(out.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_write_leaves_the_old_set_and_a_good_one_the_new_beside_the_kept_entries() {
        let d = scratch("keep");
        let out = d.join("out");
        live_folder(&out, "old");

        // The writer fails half way: the old set is whole, the journal and
        // the hosts are where they were, and no hidden folder is left.
        let failed = replace_folder_keeping(&out, &LIVE_KEPT, |dir| {
            results(dir, "new")?;
            Err(ReportError::io(
                &dir.join("fidelity.csv"),
                io::Error::other("disk full"),
            ))
        });
        assert!(failed.is_err());
        assert_eq!(read(&out, "summary.csv"), "old summary.csv");
        assert_eq!(read(&out, "manifest.toml"), "old manifest.toml");
        assert_eq!(read(&out, "journal.jsonl"), "{\"run\":1}\n");
        assert_eq!(siblings(&out), ["out"]);

        // A writer killed half way (a dead pid's hidden folder) is cleaned
        // up by the next one, which swaps in the whole new set.
        let dead = d.join(".out.new-4294967");
        fs::create_dir_all(&dead).unwrap();
        fs::write(dead.join("summary.csv"), "half").unwrap();
        let written = replace_folder_keeping(&out, &LIVE_KEPT, |dir| results(dir, "new")).unwrap();
        assert_eq!(written, [out.join("summary.csv"), out.join("manifest.toml")]);
        assert_eq!(read(&out, "summary.csv"), "new summary.csv");
        assert_eq!(read(&out, "manifest.toml"), "new manifest.toml");
        assert_eq!(read(&out, "journal.jsonl"), "{\"run\":1}\n");
        assert_eq!(read(&out, "emulated/hosts/host0/state.json"), "{\"vms\":1}");
        if cfg!(target_os = "linux") {
            // (Elsewhere a pid's death is not known: the folder stays.)
            assert_eq!(siblings(&out), ["out"]);
        }

        // The kept journal is the same file: appending to it after the swap
        // is appending to the folder's journal.
        fs::OpenOptions::new()
            .append(true)
            .open(out.join("journal.jsonl"))
            .and_then(|mut f| f.write_all(b"{\"op\":2}\n"))
            .unwrap();
        assert_eq!(read(&out, "journal.jsonl"), "{\"run\":1}\n{\"op\":2}\n");

        // Without `keep`, the live entries are foreign and refused.
        let refused = replace_folder(&out, |dir| results(dir, "x")).unwrap_err();
        assert!(matches!(refused, ReportError::Foreign { ref entry, .. } if entry == "emulated"));
        assert_eq!(read(&out, "summary.csv"), "new summary.csv");
        fs::write(out.join("notes.txt"), "mine").unwrap();
        let refused = prepare_folder(&out, &LIVE_KEPT).unwrap_err();
        assert!(matches!(refused, ReportError::Foreign { ref entry, .. } if entry == "notes.txt"));
        fs::remove_dir_all(&d).unwrap();
    }
}
