//! Running a sweep: in parallel, resumably, in shards, and merging shards.
//!
//! Layout of a sweep's output folder:
//!
//! ```text
//! manifest.toml                 sweep file hash, version, git revision, run count
//! runs/000042.migrations.csv    one run's series, written atomically
//! runs/000042.summary.csv       one run's row; written last, so its presence
//!                               means the run is complete
//! shards/3-of-16.toml           written when shard 3 of 16 has finished
//! runs.csv, migrations.csv      every run in index order (after all runs)
//! *.png, *.svg                  figures, regenerated from the CSVs alone
//! ```
//!
//! Every file is written to a temporary file and renamed, so a crash never
//! leaves a truncated file under its final name, and a run's row is
//! assembled into `runs.csv` only when both of its files are complete.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::run::{RunError, RunOptions, run_pair};
use super::sweep::{Sweep, SweepRun};
use crate::report::csv::Table;
use crate::report::outputs::{METRIC_COLUMNS, metric_fields, migration_steps};
use crate::report::{ReportError, write_atomic};

/// Errors of running or merging a sweep.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// A run failed (a bug in the model).
    #[error(transparent)]
    Run(#[from] RunError),
    /// Writing failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Reading a results folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The folders do not hold a consistent, complete sweep.
    #[error("{0}")]
    Inconsistent(String),
    /// `--shard` is malformed.
    #[error("--shard: expected I/N with 1 <= I <= N, found \"{0}\"")]
    BadShard(String),
}

/// A slice of a sweep's runs: those whose index is `i - 1` modulo `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub i: usize,
    /// Number of shards.
    pub n: usize,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard { i, n })
    }

    /// True if run `index` belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.n == self.i - 1
    }

    fn marker(&self, dir: &Path) -> PathBuf {
        dir.join("shards").join(format!("{}-of-{}.toml", self.i, self.n))
    }
}

/// How to run a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOptions {
    /// Worker threads (each run is single-threaded).
    pub jobs: usize,
    /// Skip runs whose files are complete.
    pub resume: bool,
    /// Run only this slice.
    pub shard: Option<Shard>,
    /// Check invariants after every event.
    pub check_invariants: bool,
}

/// What a sweep invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Runs executed now.
    pub ran: usize,
    /// Runs skipped because complete (`--resume`).
    pub skipped: usize,
    /// Files assembled at the end (empty for a shard).
    pub assembled: Vec<PathBuf>,
}

fn run_file(dir: &Path, index: usize, kind: &str) -> PathBuf {
    dir.join("runs").join(format!("{index:06}.{kind}.csv"))
}

/// The header of `runs.csv`.
pub fn runs_header(sweep: &Sweep) -> Vec<String> {
    let mut h: Vec<String> = ["run", "point", "replicate", "seed"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    h.extend(sweep.params.iter().cloned());
    h.extend(["provisioning", "placement"].iter().map(|s| s.to_string()));
    h.extend(METRIC_COLUMNS.iter().map(|s| s.to_string()));
    h
}

const MIGRATIONS_HEADER: [&str; 3] = ["run", "time_s", "cumulative_migrations"];

/// The manifest of a sweep's folder.
pub fn manifest(sweep: &Sweep) -> String {
    let params: Vec<String> = sweep.params.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "# Written by slivers sweep.\n\
         sweep = {:?}\n\
         sweep_sha256 = \"{}\"\n\
         name = {:?}\n\
         mode = \"{}\"\n\
         replicates = {}\n\
         params = [{}]\n\
         points = {}\n\
         runs = {}\n\
         slivers_version = \"{}\"\n\
         git_revision = \"{}\"\n",
        sweep.file.display().to_string(),
        sweep.sha256,
        sweep.name,
        match sweep.mode {
            super::sweep::Mode::Grid => "grid",
            super::sweep::Mode::Zip => "zip",
        },
        sweep.replicates,
        params.join(", "),
        sweep.points.len(),
        sweep.runs.len(),
        env!("CARGO_PKG_VERSION"),
        env!("SLIVERS_GIT_REVISION"),
    )
}

fn read(path: &Path) -> Result<Option<String>, ShardError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ShardError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// `key = "value"` or `key = number` from a manifest line.
fn manifest_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(" = ")?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Runs the sweep (or one shard of it) into `dir`, calling `progress` after
/// each run with (done, total).
pub fn run_sweep(
    sweep: &Sweep,
    dir: &Path,
    options: SweepOptions,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<SweepReport, ShardError> {
    let manifest_path = dir.join("manifest.toml");
    if let Some(old) = read(&manifest_path)? {
        let old_sha = manifest_field(&old, "sweep_sha256").unwrap_or_default();
        if old_sha != sweep.sha256 && (options.resume || options.shard.is_some()) {
            return Err(ShardError::Inconsistent(format!(
                "{} holds results of a different sweep file (sha256 {old_sha}, this one is {}); \
                 refusing to mix them: choose another --out or run without --resume",
                dir.display(),
                sweep.sha256
            )));
        }
    }
    if !options.resume && options.shard.is_none() {
        for sub in ["runs", "shards"] {
            match std::fs::remove_dir_all(dir.join(sub)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ShardError::Io {
                        path: dir.join(sub).display().to_string(),
                        source: e,
                    });
                }
                _ => {}
            }
        }
    }
    write_atomic(&manifest_path, manifest(sweep).as_bytes())?;
    if let Some(shard) = options.shard {
        // A rerun of a shard must finish again before merge trusts it.
        let _ = std::fs::remove_file(shard.marker(dir));
    }

    let mine: Vec<&SweepRun> = sweep
        .runs
        .iter()
        .filter(|r| options.shard.is_none_or(|s| s.contains(r.index)))
        .collect();
    let todo: Vec<&SweepRun> = mine
        .iter()
        .copied()
        .filter(|r| {
            !(options.resume
                && run_file(dir, r.index, "summary").is_file()
                && run_file(dir, r.index, "migrations").is_file())
        })
        .collect();
    let skipped = mine.len() - todo.len();
    let done = AtomicUsize::new(0);
    let first_error: Mutex<Option<ShardError>> = Mutex::new(None);
    let header = runs_header(sweep);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| {
            ShardError::Inconsistent(format!("cannot start {} worker threads: {e}", options.jobs))
        })?;
    pool.install(|| {
        todo.par_iter().for_each(|r| {
            if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                return;
            }
            if let Err(e) = run_one(sweep, r, dir, &header, options.check_invariants) {
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(e);
                }
                return;
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, todo.len());
        })
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let assembled = match options.shard {
        Some(shard) => {
            let marker = format!(
                "sweep_sha256 = \"{}\"\nshard = {}\nof = {}\nruns = {}\n",
                sweep.sha256,
                shard.i,
                shard.n,
                mine.len()
            );
            write_atomic(&shard.marker(dir), marker.as_bytes())?;
            Vec::new()
        }
        None => assemble(dir, &[dir.to_path_buf()], &header, sweep.runs.len())?,
    };
    Ok(SweepReport {
        ran: todo.len(),
        skipped,
        assembled,
    })
}

fn run_one(
    sweep: &Sweep,
    r: &SweepRun,
    dir: &Path,
    header: &[String],
    check: bool,
) -> Result<(), ShardError> {
    let point = &sweep.points[r.point];
    let result = run_pair(
        &point.scenario,
        r.pair,
        r.index,
        r.seed,
        RunOptions {
            check_invariants: check,
            ..RunOptions::default()
        },
    )?;
    let mut series = Table::new(&MIGRATIONS_HEADER);
    for (t, n) in migration_steps(&result, point.scenario.series) {
        series.push(vec![
            r.index.to_string(),
            crate::report::csv::fmt_f64(t),
            n.to_string(),
        ])?;
    }
    series.write(&run_file(dir, r.index, "migrations"))?;
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut row = Table::new(&cols);
    let mut fields = vec![
        r.index.to_string(),
        r.point.to_string(),
        r.replicate.to_string(),
        r.seed.to_string(),
    ];
    fields.extend(point.values.iter().cloned());
    fields.push(r.pair.provisioning.to_string());
    fields.push(r.pair.placement.to_string());
    fields.extend(metric_fields(&result, point.scenario.hosts));
    row.push(fields)?;
    row.write(&run_file(dir, r.index, "summary"))?;
    Ok(())
}

/// Joins the per-run files of `sources` (searched in order) into
/// `runs.csv` and `migrations.csv` in `out`, then draws the figures.
fn assemble(
    out: &Path,
    sources: &[PathBuf],
    header: &[String],
    total: usize,
) -> Result<Vec<PathBuf>, ShardError> {
    let header_line = header.join(",");
    let mut runs = header_line.clone() + "\n";
    let mut series = MIGRATIONS_HEADER.join(",") + "\n";
    let mut missing = Vec::new();
    for index in 0..total {
        let found = sources.iter().find(|d| run_file(d, index, "summary").is_file());
        let Some(src) = found else {
            missing.push(index);
            continue;
        };
        for (kind, buf, head) in [
            ("summary", &mut runs, header_line.as_str()),
            ("migrations", &mut series, &MIGRATIONS_HEADER.join(",")[..]),
        ] {
            let path = run_file(src, index, kind);
            let text = read(&path)?
                .ok_or_else(|| ShardError::Inconsistent(format!("{} is missing", path.display())))?;
            let mut lines = text.lines();
            if lines.next() != Some(head) {
                return Err(ShardError::Inconsistent(format!(
                    "{}: expected the header \"{head}\" of this sweep",
                    path.display()
                )));
            }
            for l in lines {
                buf.push_str(l);
                buf.push('\n');
            }
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        return Err(ShardError::Inconsistent(format!(
            "{} of {total} runs are missing (runs {}{})",
            missing.len(),
            shown.join(", "),
            if missing.len() > 20 { ", ..." } else { "" }
        )));
    }
    let (runs_path, series_path) = (out.join("runs.csv"), out.join("migrations.csv"));
    write_atomic(&series_path, series.as_bytes())?;
    write_atomic(&runs_path, runs.as_bytes())?;
    let mut files = vec![runs_path, series_path];
    files.extend(plot(out)?);
    Ok(files)
}

/// Draws the sweep figures from the CSVs in `dir`.
pub fn plot(dir: &Path) -> Result<Vec<PathBuf>, ShardError> {
    Ok(crate::report::sweep::plot_sweep(dir)?)
}

/// Merges the shards found in `dirs` into `out`: checks that they come from
/// one sweep file, that every shard 1..N finished and every run is present,
/// then writes the same files as an unsharded sweep.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>, ShardError> {
    let mut sha: Option<(String, PathBuf)> = None;
    let mut manifest_text = String::new();
    let mut shards: Vec<(usize, usize, PathBuf)> = Vec::new();
    for d in dirs {
        let m = d.join("manifest.toml");
        let text = read(&m)?.ok_or_else(|| {
            ShardError::Inconsistent(format!("{} is missing: not a sweep folder", m.display()))
        })?;
        let this = manifest_field(&text, "sweep_sha256").unwrap_or_default();
        match &sha {
            None => {
                sha = Some((this, d.clone()));
                manifest_text = text;
            }
            Some((s, first)) if *s != this => {
                return Err(ShardError::Inconsistent(format!(
                    "{} and {} come from different sweep files (sha256 {s} and {this}); refusing to merge",
                    first.display(),
                    d.display()
                )));
            }
            _ => {}
        }
        let shard_dir = d.join("shards");
        let entries = match std::fs::read_dir(&shard_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ShardError::Io {
                    path: shard_dir.display().to_string(),
                    source,
                });
            }
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for p in names {
            let Some(text) = read(&p)? else { continue };
            let num = |k: &str| manifest_field(&text, k).and_then(|v| v.parse::<usize>().ok());
            match (num("shard"), num("of"), manifest_field(&text, "sweep_sha256")) {
                (Some(i), Some(n), Some(s)) if Some(&s) == sha.as_ref().map(|x| &x.0) => {
                    shards.push((i, n, d.clone()))
                }
                (Some(_), Some(_), Some(s)) => {
                    return Err(ShardError::Inconsistent(format!(
                        "{} belongs to another sweep file (sha256 {s}); refusing to merge",
                        p.display()
                    )));
                }
                _ => {
                    return Err(ShardError::Inconsistent(format!(
                        "{}: not a shard marker",
                        p.display()
                    )));
                }
            }
        }
    }
    if sha.is_none() {
        return Err(ShardError::Inconsistent("no folders to merge".into()));
    }
    let n = shards.first().map(|s| s.1).ok_or_else(|| {
        ShardError::Inconsistent("no finished shards (shards/I-of-N.toml) in the folders given".into())
    })?;
    if let Some(s) = shards.iter().find(|s| s.1 != n) {
        return Err(ShardError::Inconsistent(format!(
            "shards split {n} ways and {} ways are mixed ({}); refusing to merge",
            s.1,
            s.2.display()
        )));
    }
    let missing: Vec<String> = (1..=n)
        .filter(|i| !shards.iter().any(|s| s.0 == *i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ShardError::Inconsistent(format!(
            "shard{} {} of {n} missing or unfinished (no shards/I-of-{n}.toml); rerun them with --shard I/{n}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let total: usize = manifest_field(&manifest_text, "runs")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ShardError::Inconsistent("manifest.toml has no run count".into()))?;
    // The header comes from any run file; all must agree with it.
    let mut sources: Vec<PathBuf> = dirs.to_vec();
    sources.dedup();
    let header = first_header(&sources, total)?;
    write_atomic(&out.join("manifest.toml"), manifest_text.as_bytes())?;
    let mut files = vec![out.join("manifest.toml")];
    files.extend(assemble(out, &sources, &header, total)?);
    Ok(files)
}

fn first_header(sources: &[PathBuf], total: usize) -> Result<Vec<String>, ShardError> {
    for index in 0..total {
        for d in sources {
            if let Some(text) = read(&run_file(d, index, "summary"))? {
                return Ok(text
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_string)
                    .collect());
            }
        }
    }
    Err(ShardError::Inconsistent(
        "no completed runs in the folders given".into(),
    ))
}
