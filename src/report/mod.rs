//! Report output: CSV tables and line plots (PNG + SVG).
//!
//! Everything written here is deterministic (identical input gives
//! byte-identical files) and every file is written atomically via
//! [`write_atomic`]: the bytes go to a temporary file in the target's
//! directory, which is flushed, synced and then renamed over the target.

pub mod consolidation;
pub mod csv;
pub mod failures;
pub mod federation;
pub mod folder;
pub mod keys;
pub mod ordering;
pub mod outputs;
mod pdf;
pub mod plot;
mod png;
pub mod sweep;
pub mod thermal;
pub mod vmrun;

use std::path::{Path, PathBuf};

/// Errors produced while writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be created, written, synced or renamed.
    #[error("cannot write {path}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A plot could not be drawn (invalid data range, drawing backend error, ...).
    #[error("cannot draw {path}: {message}")]
    Plot {
        /// The image file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An input file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input file is malformed: `message` says what was expected and
    /// what was found.
    #[error("{path}:{line}: {message}")]
    Input {
        /// The file.
        path: String,
        /// 1-based line number (the line a record starts on).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An output folder path is empty (`--out ""`).
    #[error("the output folder is an empty path: expected a folder such as results/NAME")]
    EmptyOutput,
    /// An output path that names no folder (`.`, `..`, `/`).
    #[error("{path}: expected an output folder with a name, found a path ending in `.`, `..` or the root")]
    NotAFolderName {
        /// The path given.
        path: String,
    },
    /// Another process holds the folder's lock.
    #[error(
        "{folder} is in use by slivers process {pid} (lock file {lock}); wait for it to finish, \
         or if that process is gone remove {lock}"
    )]
    InUse {
        /// The output folder.
        folder: String,
        /// The lock file.
        lock: String,
        /// The pid the lock file holds.
        pid: String,
    },
    /// An existing output folder holds files a run does not write, which
    /// replacing the folder would lose.
    #[error(
        "{folder} holds `{entry}`{}, which slivers run does not write: replacing the folder would lose it; \
         choose another --out or move it away",
        if *more > 0 { format!(" and {more} more") } else { String::new() }
    )]
    Foreign {
        /// The output folder.
        folder: String,
        /// The first such entry (by name).
        entry: String,
        /// How many more there are.
        more: usize,
    },
    /// A manifest could not be represented as TOML.
    #[error("cannot write a manifest as TOML: {message}")]
    Toml {
        /// The serialiser's message.
        message: String,
    },
    /// A CSV row does not have as many fields as the header.
    #[error("CSV row {row} has {got} fields but the header has {expected}")]
    RowLength {
        /// Zero-based index the row would have had in the table.
        row: usize,
        /// Fields in the row.
        got: usize,
        /// Fields in the header.
        expected: usize,
    },
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// A TOML file: the comment `header` (lines starting with `#`), then
/// `value` serialised by the `toml` crate (so strings and paths are escaped
/// as TOML, whatever they hold).
pub fn toml_file<T: serde::Serialize>(header: &str, value: &T) -> Result<String, ReportError> {
    let body = toml::to_string(value).map_err(|e| ReportError::Toml {
        message: e.to_string(),
    })?;
    Ok(format!("{header}{body}"))
}

/// Reads the manifest `path` as a `T`: [`ReportError::Read`] if it cannot
/// be read, [`ReportError::Input`] if it is not `what`.
pub(crate) fn read_manifest<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<T, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| 1 + text[..s.start].matches('\n').count());
        csv::input_error(
            &path.display().to_string(),
            line,
            format!("expected {what}, found a file that is not one ({})", e.message()),
        )
    })
}

/// What wrote a folder, by the keys of its `manifest.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// `slivers sweep` or `merge` (`sweep_sha256`), or no manifest.
    Sweep,
    /// `slivers run` on guests (`scenario_sha256`).
    Run,
    /// `slivers run` on VM requests (`kind = "vm-requests"`).
    VmRequests,
    /// `slivers run` on a consolidation scenario (`kind = "consolidation"`).
    Consolidation,
}

/// The kind of folder `dir` is, from its `manifest.toml`: a sweep's when it
/// names a sweep file or is missing, a run's when it names a scenario.
pub fn folder_kind(dir: &Path) -> Result<FolderKind, ReportError> {
    let path = dir.join("manifest.toml");
    if !path.exists() {
        return Ok(FolderKind::Sweep);
    }
    let t: toml::Table = read_manifest(&path, "a manifest written by slivers")?;
    let kind = t.get("kind").and_then(|k| k.as_str());
    if kind == Some(vmrun::KIND) {
        Ok(FolderKind::VmRequests)
    } else if kind == Some(consolidation::KIND) {
        Ok(FolderKind::Consolidation)
    } else if t.contains_key("scenario_sha256") {
        Ok(FolderKind::Run)
    } else {
        Ok(FolderKind::Sweep)
    }
}

/// Redraws every figure of a folder `slivers run` or `slivers sweep` wrote,
/// from its CSVs alone (`slivers plot`); returns the files written, sorted.
pub fn plot_folder(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = match folder_kind(dir)? {
        FolderKind::Sweep => sweep::plot_sweep(dir)?,
        FolderKind::Run => outputs::replot(dir)?,
        FolderKind::VmRequests => vmrun::replot(dir)?,
        FolderKind::Consolidation => consolidation::replot(dir)?,
    };
    files.sort();
    Ok(files)
}

/// Write bytes atomically (temp file in the same dir, fsync, rename), via
/// [`crate::fsutil::write_atomic`]. Creates parent dirs. Readers see either
/// the old content or the complete new content, never a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|(p, e)| ReportError::io(&p, e))
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A unique temporary directory, removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir =
                std::env::temp_dir().join(format!("slivers-report-{tag}-{}-{n}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::TempDir;
    use super::*;
    use std::fs;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_write_creates_dirs_replaces_and_leaves_no_tmp() {
        let tmp = TempDir::new("atomic");
        let target = tmp.path().join("a/b/out.txt");
        write_atomic(&target, b"first version, longer").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"first version, longer");
        write_atomic(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        let dir = tmp.path().join("a/b");
        assert_eq!(entries(&dir), vec!["out.txt".to_string()]);
        assert!(entries(&dir).iter().all(|n| !n.ends_with(".tmp")));
    }

    #[test]
    fn atomic_write_error_is_typed_and_leaves_no_tmp() {
        let tmp = TempDir::new("atomic-err");
        // The target is an existing non-empty directory: the rename must fail.
        let target = tmp.path().join("dir");
        fs::create_dir_all(target.join("x")).unwrap();
        let err = write_atomic(&target, b"data").unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot write "), "{err}");
        assert_eq!(entries(tmp.path()), vec!["dir".to_string()]);
    }

    #[test]
    fn atomic_write_rejects_path_without_file_name() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }));
    }
}
