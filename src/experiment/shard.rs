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
//! *.png, *.svg, *.pdf           figures, regenerated from the CSVs alone
//! ```
//!
//! Every file is written to a temporary file and renamed, so a crash never
//! leaves a truncated file under its final name, and a run's row is
//! assembled into `runs.csv` only when both of its files are complete.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::run::{RunError, RunOptions, run_pair};
use super::sweep::{Point, Sweep, SweepError, SweepRun};
use crate::outcome::{FEDERATION_METRICS, METRICS, OUTAGE_METRICS};
use crate::report::csv::Table;
use crate::report::outputs::{metric_field, metric_fields};
use crate::report::plot::FIGURE_FORMATS;
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
    /// A point of the sweep is not a valid scenario.
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// Reading a results folder failed.
    #[error("{path}")]
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
    /// Start afresh in a folder holding another sweep's results.
    pub overwrite: bool,
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
    h.extend(crate::report::keys::column_names(&sweep.params));
    h.extend(["provisioning", "placement"].iter().map(|s| s.to_string()));
    h.extend(METRICS.iter().map(|m| m.name.to_string()));
    h.extend(sweep.extra_metrics().iter().map(|m| m.name.to_string()));
    h
}

const MIGRATIONS_HEADER: [&str; 3] = ["run", "time_s", "cumulative_migrations"];

/// `manifest.toml` of a sweep's folder, what produced its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepManifest {
    /// The sweep file, as given.
    pub sweep: String,
    /// Its SHA-256: the folder's identity.
    pub sweep_sha256: String,
    /// The sweep's name.
    pub name: String,
    /// `grid` or `zip`.
    pub mode: String,
    /// Seeds per point.
    pub replicates: u32,
    /// The swept keys.
    pub params: Vec<String>,
    /// Their `runs.csv` columns (CSV-safe names), in the same order.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Their labels in figures, in the same order.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Points of the grid.
    pub points: usize,
    /// Runs in all.
    pub runs: usize,
    /// The slivers version.
    pub slivers_version: String,
    /// The git revision the binary was built from.
    pub git_revision: String,
}

/// `shards/I-of-N.toml`: shard `I` of `N` finished its runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardMarker {
    /// The sweep file's SHA-256.
    pub sweep_sha256: String,
    /// 1-based shard number.
    pub shard: usize,
    /// Number of shards.
    pub of: usize,
    /// Runs in the shard.
    pub runs: usize,
}

impl SweepManifest {
    /// The manifest of `sweep`, for this binary.
    pub fn of(sweep: &Sweep) -> SweepManifest {
        SweepManifest {
            sweep: sweep.file.display().to_string(),
            sweep_sha256: sweep.sha256.clone(),
            name: sweep.name.clone(),
            mode: match sweep.mode {
                super::sweep::Mode::Grid => "grid",
                super::sweep::Mode::Zip => "zip",
            }
            .to_string(),
            replicates: sweep.replicates,
            params: sweep.params.clone(),
            columns: crate::report::keys::column_names(&sweep.params),
            labels: labels(sweep),
            points: sweep.point_count(),
            runs: sweep.run_count(),
            slivers_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env!("SLIVERS_GIT_REVISION").to_string(),
        }
    }
}

/// The figure labels of the swept keys, guests named as in the first point.
fn labels(sweep: &Sweep) -> Vec<String> {
    // Guest names from the first point (a sweep of one point at least).
    let guests: Vec<String> = (sweep.point(0).ok())
        .map(|p| p.scenario.guests.iter().map(|g| g.name().to_owned()).collect())
        .unwrap_or_default();
    let label = |k: &String| crate::report::keys::key_label(k, &guests);
    sweep.params.iter().map(label).collect()
}

/// The manifest of a sweep's folder, as TOML.
pub fn manifest(sweep: &Sweep) -> Result<String, ReportError> {
    crate::report::toml_file("# Written by slivers sweep.\n", &SweepManifest::of(sweep))
}

/// Reads and deserialises the TOML file `path`; `None` if it does not exist.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>, ShardError> {
    let Some(text) = read(path)? else { return Ok(None) };
    toml::from_str(&text).map(Some).map_err(|e| {
        ShardError::Inconsistent(format!(
            "{}: expected {what}, found a file that is not one ({})",
            path.display(),
            e.message()
        ))
    })
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

/// What `dir/manifest.toml` says about the folder: `None` if there is no
/// manifest, `Some(None)` if it is not a sweep's, else the sweep file's hash.
fn folder_sweep(dir: &Path) -> Result<Option<Option<String>>, ShardError> {
    Ok(read(&dir.join("manifest.toml"))?.map(|text| {
        toml::from_str::<SweepManifest>(&text)
            .ok()
            .map(|m| m.sweep_sha256)
    }))
}

/// Refuses a folder holding results of another sweep file (or a manifest
/// that is not a sweep's): always when `continuing` (`--resume`,
/// `--shard`), and for a fresh sweep unless `overwrite`.
pub fn check_sweep_folder(
    dir: &Path,
    sweep: &Sweep,
    continuing: bool,
    overwrite: bool,
) -> Result<(), ShardError> {
    check_folder_holds(dir, &sweep.sha256, continuing, overwrite)
}

/// [`check_sweep_folder`] for the sweep file whose SHA-256 is `sha256`.
fn check_folder_holds(dir: &Path, sha256: &str, continuing: bool, overwrite: bool) -> Result<(), ShardError> {
    let what = match folder_sweep(dir)? {
        None => return Ok(()),
        Some(Some(sha)) if sha == sha256 => return Ok(()),
        Some(Some(sha)) => format!("results of a different sweep file (sha256 {sha}, this one is {sha256})"),
        Some(None) => "a manifest.toml that is not a sweep's (the results of slivers run?)".to_string(),
    };
    if continuing {
        return Err(ShardError::Inconsistent(format!(
            "{} holds {what}; refusing to mix them: choose another --out, \
             or start afresh (without --resume or --shard) with --overwrite",
            dir.display()
        )));
    }
    if !overwrite {
        return Err(ShardError::Inconsistent(format!(
            "{} holds {what}; refusing to replace them: choose another --out, or pass --overwrite",
            dir.display()
        )));
    }
    Ok(())
}

/// Empties `dir` of a sweep's files before a fresh start: `runs/`,
/// `shards/`, the assembled CSVs, the figures and, last, the manifest (so
/// no file of an earlier sweep is left beside the new manifest, and an
/// interrupted clearing leaves the old manifest beside what is left of
/// the old files, never a folder that looks new). Other files stay.
pub fn clear_sweep_folder(dir: &Path) -> Result<(), ShardError> {
    let io = |p: &Path, source| ShardError::Io {
        path: p.display().to_string(),
        source,
    };
    for sub in ["runs", "shards"] {
        let d = dir.join(sub);
        match std::fs::remove_dir_all(&d) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&d, e)),
            _ => {}
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir, e)),
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let figure = ["curves-point", "total-vs-", "ordering."]
            .iter()
            .any(|p| name.starts_with(p))
            && FIGURE_FORMATS
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")));
        if figure || name == "ordering.csv" || ["runs.csv", "migrations.csv"].contains(&name.as_str()) {
            std::fs::remove_file(e.path()).map_err(|err| io(&e.path(), err))?;
        }
    }
    let manifest = dir.join("manifest.toml");
    match std::fs::remove_file(&manifest) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&manifest, e)),
        _ => Ok(()),
    }
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
    check_sweep_folder(
        dir,
        sweep,
        options.resume || options.shard.is_some(),
        options.overwrite,
    )?;
    // Runs by index, the points built as the runs need them.
    let total = sweep.run_count();
    let mine = (0..total)
        .filter(|&i| options.shard.is_none_or(|s| s.contains(i)))
        .count();
    let todo: Vec<usize> = (0..total)
        .filter(|&i| options.shard.is_none_or(|s| s.contains(i)))
        .filter(|&i| {
            !(options.resume
                && run_file(dir, i, "summary").is_file()
                && run_file(dir, i, "migrations").is_file())
        })
        .collect();
    if !sweep.all_points_checked() {
        // A large sweep's points were not all validated when loaded: check
        // those to run now (one at a time), before any file is touched.
        let mut last = None;
        for &i in &todo {
            let p = sweep.point_of(i);
            if last != Some(p) {
                sweep.point(p)?;
                last = Some(p);
            }
        }
    }
    if !options.resume && options.shard.is_none() {
        clear_sweep_folder(dir)?;
    }
    write_atomic(&manifest_path, manifest(sweep)?.as_bytes())?;
    if let Some(shard) = options.shard {
        // A rerun of a shard must finish again before merge trusts it.
        let _ = std::fs::remove_file(shard.marker(dir));
    }

    let skipped = mine - todo.len();
    let done = AtomicUsize::new(0);
    let first_error: Mutex<Option<ShardError>> = Mutex::new(None);
    let header = runs_header(sweep);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| {
            ShardError::Inconsistent(format!("cannot start {} worker threads: {e}", options.jobs))
        })?;
    let fail = |e: ShardError| {
        if let Ok(mut slot) = first_error.lock() {
            slot.get_or_insert(e);
        }
    };
    pool.install(|| {
        // Each worker keeps the point of its last run: neighbouring runs
        // share it.
        todo.par_iter().for_each_init(
            || None::<(usize, Arc<Point>)>,
            |last, &i| {
                if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    return;
                }
                let p = sweep.point_of(i);
                let point = match last {
                    Some((q, point)) if *q == p => Arc::clone(point),
                    _ => match sweep.point(p) {
                        Ok(point) => Arc::clone(&last.insert((p, point)).1),
                        Err(e) => return fail(e.into()),
                    },
                };
                let r = sweep.run(i, &point);
                if let Err(e) = run_one(&point, &r, dir, &header, options.check_invariants) {
                    return fail(e);
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, todo.len());
            },
        )
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let assembled = match options.shard {
        Some(shard) => {
            let marker = ShardMarker {
                sweep_sha256: sweep.sha256.clone(),
                shard: shard.i,
                of: shard.n,
                runs: mine,
            };
            write_atomic(
                &shard.marker(dir),
                crate::report::toml_file("", &marker)?.as_bytes(),
            )?;
            Vec::new()
        }
        None => {
            let mut files = assemble(dir, &[dir.to_path_buf()], &header, total)?;
            files.extend(plot(dir)?);
            files
        }
    };
    Ok(SweepReport {
        ran: todo.len(),
        skipped,
        assembled,
    })
}

fn run_one(
    point: &Point,
    r: &SweepRun,
    dir: &Path,
    header: &[String],
    check: bool,
) -> Result<(), ShardError> {
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
    for (t, n) in result.migration_steps(point.scenario.series) {
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
    fields.extend(metric_fields(&result));
    // The outage and federation columns the header has (`runs_header`;
    // their names are reserved: no swept key's column takes one).
    fields.extend(
        OUTAGE_METRICS
            .iter()
            .chain(FEDERATION_METRICS.iter())
            .filter(|m| header.iter().any(|h| h == m.name))
            .map(|m| metric_field((m.value)(&result))),
    );
    row.push(fields)?;
    row.write(&run_file(dir, r.index, "summary"))?;
    Ok(())
}

/// Joins the per-run files of `sources` (searched in order) into
/// `runs.csv` and `migrations.csv` in `out` (the figures are drawn after,
/// with the manifest in place: it names the keys and the mode).
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
    Ok(vec![runs_path, series_path])
}

/// Draws the sweep figures from the CSVs in `dir`.
pub fn plot(dir: &Path) -> Result<Vec<PathBuf>, ShardError> {
    Ok(crate::report::sweep::plot_sweep(dir)?)
}

/// Merges the shards found in `dirs` into `out`: checks that they come from
/// one sweep file, that every shard 1..N finished and every run is present,
/// then writes the same files as an unsharded sweep, the CSVs, the
/// manifest, then the figures (drawn with the manifest in place). An
/// `out` that is not one of `dirs` is refused if it holds another sweep's
/// results (or a run's) unless `overwrite`, and is cleared of a sweep's
/// files ([`clear_sweep_folder`]) before anything is written.
pub fn merge(dirs: &[PathBuf], out: &Path, overwrite: bool) -> Result<Vec<PathBuf>, ShardError> {
    let mut first: Option<(SweepManifest, PathBuf)> = None;
    let mut shards: Vec<(usize, usize, PathBuf)> = Vec::new();
    for d in dirs {
        let m = d.join("manifest.toml");
        let this: SweepManifest = read_toml(&m, "a sweep's manifest")?.ok_or_else(|| {
            ShardError::Inconsistent(format!("{} is missing: not a sweep folder", m.display()))
        })?;
        match &first {
            None => first = Some((this, d.clone())),
            Some((f, dir)) if f.sweep_sha256 != this.sweep_sha256 => {
                return Err(ShardError::Inconsistent(format!(
                    "{} and {} come from different sweep files (sha256 {} and {}); refusing to merge",
                    dir.display(),
                    d.display(),
                    f.sweep_sha256,
                    this.sweep_sha256
                )));
            }
            _ => {}
        }
        let sha = first
            .as_ref()
            .map(|f| f.0.sweep_sha256.clone())
            .unwrap_or_default();
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
            if p.extension().is_some_and(|e| e == "tmp") {
                continue;
            }
            let Some(marker) =
                read_toml::<ShardMarker>(&p, "a shard marker (sweep_sha256, shard, of, runs)")?
            else {
                continue;
            };
            if marker.sweep_sha256 != sha {
                return Err(ShardError::Inconsistent(format!(
                    "{} belongs to another sweep file (sha256 {}); refusing to merge",
                    p.display(),
                    marker.sweep_sha256
                )));
            }
            shards.push((marker.shard, marker.of, d.clone()));
        }
    }
    let Some((manifest, _)) = first else {
        return Err(ShardError::Inconsistent("no folders to merge".into()));
    };
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
    let total = manifest.runs;
    // The header comes from any run file; all must agree with it.
    let mut sources: Vec<PathBuf> = dirs.to_vec();
    sources.dedup();
    let header = first_header(&sources, total)?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if !dirs.iter().any(|d| same(d, out)) {
        check_folder_holds(out, &manifest.sweep_sha256, false, overwrite)?;
        clear_sweep_folder(out)?;
    }
    let mut files = assemble(out, &sources, &header, total)?;
    let text = crate::report::toml_file("# Written by slivers sweep.\n", &manifest)?;
    write_atomic(&out.join("manifest.toml"), text.as_bytes())?;
    files.insert(0, out.join("manifest.toml"));
    files.extend(plot(out)?);
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
