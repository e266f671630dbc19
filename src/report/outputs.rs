//! The files `slivers run` writes: `summary.csv`, `migrations.csv`,
//! `fidelity.csv`, the Figure 3 plot, the fidelity plot and
//! `manifest.toml`, plus the terminal summary table.

use std::path::{Path, PathBuf};

use super::csv::{CsvFile, Table, fmt_f64, parse_number, read_csv};
use super::plot::{Curve, LinePlot, draw_cumulative, draw_lines};
use super::{ReportError, write_atomic};
use crate::model::{FidelitySeries, SeriesForm};
use crate::outcome::{METRICS, RunResult, Value};
use crate::scenario::Scenario;

/// The identifying columns of `summary.csv`, before the metrics.
pub const SUMMARY_ID_COLUMNS: [&str; 4] = ["run", "provisioning", "placement", "seed"];

/// The columns that name a run in every per-run table:
/// `run,provisioning,placement`.
pub(crate) fn run_columns(r: &RunResult) -> Vec<String> {
    vec![
        r.run.to_string(),
        r.pair.provisioning.to_string(),
        r.pair.placement.to_string(),
    ]
}

/// A metric's value as a CSV field.
pub fn metric_field(v: Value) -> String {
    match v {
        Value::Count(n) => n.to_string(),
        Value::Real(x) => fmt_f64(x),
    }
}

/// The metric fields of one run, aligned with [`METRICS`].
pub fn metric_fields(r: &RunResult) -> Vec<String> {
    METRICS.iter().map(|m| metric_field((m.value)(r))).collect()
}

/// The summary table, one row per run.
pub fn summary(results: &[RunResult]) -> Result<Table, ReportError> {
    let header: Vec<&str> = SUMMARY_ID_COLUMNS
        .iter()
        .copied()
        .chain(METRICS.iter().map(|m| m.name))
        .collect();
    let mut t = Table::new(&header);
    for r in results {
        let mut row = run_columns(r);
        row.push(r.seed.to_string());
        row.extend(metric_fields(r));
        t.push(row)?;
    }
    Ok(t)
}

/// `migrations.csv`: tidy (long) table `run,provisioning,placement,time_s,cumulative_migrations`.
pub fn migrations(results: &[RunResult], form: SeriesForm) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "time_s",
        "cumulative_migrations",
    ]);
    for r in results {
        for (s, n) in r.migration_steps(form) {
            let mut row = run_columns(r);
            row.extend([fmt_f64(s), n.to_string()]);
            t.push(row)?;
        }
    }
    Ok(t)
}

/// `fidelity.csv`, tidy. In the scenario's series form: every change of
/// every guest's fidelity, `run,provisioning,placement,guest,time_s,fidelity`;
/// or per period, `run,provisioning,placement,guest,time_s,fidelity_mean,fidelity_min`
/// with `time_s` the period's start.
pub fn fidelity(results: &[RunResult], scenario: &Scenario) -> Result<Table, ReportError> {
    let guest = |g: u32| {
        scenario
            .guests
            .get(g as usize)
            .map_or("?", |g| g.name())
            .to_string()
    };
    let mut t = match scenario.series {
        SeriesForm::Changes => {
            Table::new(&["run", "provisioning", "placement", "guest", "time_s", "fidelity"])
        }
        SeriesForm::Periods(_) => Table::new(&[
            "run",
            "provisioning",
            "placement",
            "guest",
            "time_s",
            "fidelity_mean",
            "fidelity_min",
        ]),
    };
    for r in results {
        let id = || run_columns(r);
        match &r.fidelity_series {
            FidelitySeries::Changes(changes) => {
                for &(at, g, v) in changes {
                    let mut row = id();
                    row.extend([guest(g), fmt_f64(at.as_secs_f64()), fmt_f64(v)]);
                    t.push(row)?;
                }
            }
            FidelitySeries::Periods(periods) => {
                for p in periods {
                    let mut row = id();
                    row.extend([
                        guest(p.guest),
                        fmt_f64(p.start.as_secs_f64()),
                        fmt_f64(p.mean),
                        fmt_f64(p.min),
                    ]);
                    t.push(row)?;
                }
            }
        }
    }
    Ok(t)
}

/// One run of a folder, as its figures read it from the folder's tables.
struct RunRows {
    run: u64,
    /// `provisioning/placement`.
    label: String,
    /// Site migrations (`summary.csv`).
    migrations: u64,
    /// `(time_s, cumulative_migrations)`; the last is the run's end.
    steps: Vec<(f64, f64)>,
    /// `(guest index, time_s, fidelity)`: every change, or per period its
    /// start and lowest fidelity.
    fidelity: Vec<(usize, f64, f64)>,
}

impl RunRows {
    fn end_s(&self) -> f64 {
        self.steps.last().map_or(0.0, |p| p.0)
    }
}

/// The runs of `summary.csv` in its order, with their rows of
/// `migrations.csv` and `fidelity.csv` (guests named as in `guests`), and
/// whether `fidelity.csv` is per period.
fn read_runs(
    guests: &[String],
    summary: &CsvFile,
    migrations: &CsvFile,
    fidelity: &CsvFile,
) -> Result<(Vec<RunRows>, bool), ReportError> {
    let (c_run, c_prov, c_place, c_mig) = (
        summary.column("run")?,
        summary.column("provisioning")?,
        summary.column("placement")?,
        summary.column("migrations")?,
    );
    let mut runs = Vec::new();
    let mut index = std::collections::BTreeMap::new();
    for (line, row) in &summary.records {
        let run = summary.integer(*line, "run", &row[c_run])?;
        if index.insert(run, runs.len()).is_some() {
            return Err(summary.bad(*line, "run", "a run listed once", &row[c_run]));
        }
        runs.push(RunRows {
            run,
            label: format!("{}/{}", row[c_prov], row[c_place]),
            migrations: summary.integer(*line, "migrations", &row[c_mig])?,
            steps: Vec::new(),
            fidelity: Vec::new(),
        });
    }
    let find = |f: &CsvFile, line: usize, s: &str| -> Result<usize, ReportError> {
        let run = f.integer(line, "run", s)?;
        index
            .get(&run)
            .copied()
            .ok_or_else(|| f.bad(line, "run", "a run of summary.csv", s))
    };
    let (c_run, c_time, c_n) = (
        migrations.column("run")?,
        migrations.column("time_s")?,
        migrations.column("cumulative_migrations")?,
    );
    for (line, row) in &migrations.records {
        let i = find(migrations, *line, &row[c_run])?;
        let t = migrations.count(*line, "time_s", &row[c_time])?;
        let n = migrations.count(*line, "cumulative_migrations", &row[c_n])?;
        runs[i].steps.push((t, n));
    }
    let periods = fidelity.header.iter().any(|h| h == "fidelity_min");
    let value = if periods { "fidelity_min" } else { "fidelity" };
    let (c_run, c_guest, c_time, c_value) = (
        fidelity.column("run")?,
        fidelity.column("guest")?,
        fidelity.column("time_s")?,
        fidelity.column(value)?,
    );
    for (line, row) in &fidelity.records {
        let i = find(fidelity, *line, &row[c_run])?;
        let g = guests
            .iter()
            .position(|g| *g == row[c_guest])
            .ok_or_else(|| fidelity.bad(*line, "guest", "a guest of manifest.toml", &row[c_guest]))?;
        let t = fidelity.count(*line, "time_s", &row[c_time])?;
        let v = parse_number(&row[c_value])
            .ok_or_else(|| fidelity.bad(*line, value, "a number", &row[c_value]))?;
        runs[i].fidelity.push((g, t, v));
    }
    Ok((runs, periods))
}

/// The fidelity plot of the run with the most site migrations among those
/// that lowered some guest's fidelity; `None` if none did. With every
/// change kept, each guest's fidelity around the deepest drop (the idea of
/// the paper's Figure 1); per period, each guest's lowest fidelity in each
/// period over the whole run. Returns the title, the x label and the curves.
fn fidelity_plot(
    runs: &[RunRows],
    guests: &[String],
    periods: bool,
) -> Option<(String, &'static str, Vec<Curve>)> {
    let r = runs
        .iter()
        .filter(|r| r.fidelity.iter().any(|p| p.2 < 1.0))
        .max_by_key(|r| (r.migrations, std::cmp::Reverse(r.run)))?;
    if !periods {
        let (title, curves) = fidelity_window(r, guests)?;
        return Some((title, "seconds from the drop", curves));
    }
    let curves = guests
        .iter()
        .enumerate()
        .map(|(g, name)| Curve {
            label: format!("{name} (lowest per period)"),
            points: r
                .fidelity
                .iter()
                .filter(|p| p.0 == g)
                .map(|p| (p.1 / 86_400.0, p.2))
                .collect(),
            spread: None,
        })
        .collect();
    let title = format!("Fidelity per period: {}", r.label);
    Some((title, "time (days)", curves))
}

/// Each guest's fidelity around the deepest drop of the run's changes: the
/// level before the drop (at most 5 minutes of it) and the drop, plus a
/// tenth of that span (at least 1 s) on each side.
fn fidelity_window(r: &RunRows, guests: &[String]) -> Option<(String, Vec<Curve>)> {
    let series = &r.fidelity;
    // The deepest drop (the first of equals), and around it the level
    // before it (at most 5 minutes of it) and the drop itself.
    let (i, &(guest, t0, _)) = series.iter().enumerate().min_by(|a, b| a.1.2.total_cmp(&b.1.2))?;
    let mine = |p: &&(usize, f64, f64)| p.0 == guest;
    let start = series[..i]
        .iter()
        .rev()
        .find(mine)
        .map_or(0.0, |p| p.1)
        .max(t0 - 300.0);
    let end = series[i + 1..].iter().find(mine).map_or(r.end_s(), |p| p.1);
    let pad = ((end - start) * 0.1).max(1.0);
    let (before, after) = (t0 - start + pad, end - t0 + pad);
    let curves = guests
        .iter()
        .enumerate()
        .map(|(g, name)| {
            // The value in force at the window's start, every change in it, and its end.
            let mut value = 1.0;
            let mut points = Vec::new();
            for &(_, at, v) in series.iter().filter(|p| p.0 == g) {
                let s = at - t0;
                if s <= -before {
                    value = v;
                } else if s < after {
                    if points.is_empty() {
                        points.push((-before, value));
                    }
                    points.push((s, v));
                    value = v;
                }
            }
            if points.is_empty() {
                points.push((-before, value));
            }
            points.push((after, value));
            Curve {
                label: name.clone(),
                points,
                spread: None,
            }
        })
        .collect();
    let title = format!(
        "Fidelity around the deepest drop: {} (day {:.2})",
        r.label,
        t0 / 86_400.0
    );
    Some((title, curves))
}

/// Draws a run folder's figures into `dir` from its tables (what
/// [`write_all`] writes, or what `slivers plot` reads back, so both give
/// the same bytes): `figure3.png`/`.svg`/`.pdf`, the cumulative site migrations
/// per pair, and `fidelity.png`/`.svg`/`.pdf` when some guest's fidelity dropped.
/// Returns the files written.
pub(crate) fn draw_figures(
    m: &RunManifest,
    summary: &CsvFile,
    migrations: &CsvFile,
    fidelity: &CsvFile,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let (runs, periods) = read_runs(&m.guests, summary, migrations, fidelity)?;
    let curves: Vec<Curve> = runs
        .iter()
        .map(|r| Curve {
            label: r.label.clone(),
            points: r.steps.iter().map(|&(s, n)| (s / 86_400.0, n)).collect(),
            spread: None,
        })
        .collect();
    let title = format!("Cumulative site migrations: {} ({} hosts)", m.name, m.hosts);
    let mut files = draw_cumulative(&title, "cumulative migrations", &curves, &dir.join("figure3"))?;
    if let Some((title, x_label, curves)) = fidelity_plot(&runs, &m.guests, periods) {
        files.extend(draw_lines(
            &LinePlot {
                title: &title,
                x_label,
                y_label: "fidelity",
                curves: &curves,
                step: true,
            },
            &dir.join("fidelity"),
        )?);
    }
    Ok(files)
}

/// Redraws the figures of a run's folder `dir` (`slivers plot`) from its
/// `manifest.toml`, `summary.csv`, `migrations.csv` and `fidelity.csv`
/// alone; returns the files written.
pub fn replot(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let m: RunManifest = super::read_manifest(&dir.join("manifest.toml"), "a run's manifest")?;
    let summary = read_csv(&dir.join("summary.csv"))?;
    let migrations = read_csv(&dir.join("migrations.csv"))?;
    let fidelity = read_csv(&dir.join("fidelity.csv"))?;
    let mut files = draw_figures(&m, &summary, &migrations, &fidelity, dir)?;
    files.extend(super::failures::replot(&m.name, dir)?);
    files.extend(super::federation::replot(&m.name, dir)?);
    let thermal = dir.join("thermal.csv");
    if thermal.exists() {
        files.extend(super::thermal::draw_figures(&m, &read_csv(&thermal)?, dir)?);
    }
    Ok(files)
}

/// `manifest.toml` of a run's folder: what produced its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunManifest {
    /// The scenario file, as given.
    pub scenario: String,
    /// Its SHA-256.
    pub scenario_sha256: String,
    /// The scenario's name.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// Hosts of the cluster.
    pub hosts: u32,
    /// The guests' names, in the scenario's order.
    pub guests: Vec<String>,
    /// The policy pairs, `provisioning/placement`.
    pub pairs: Vec<String>,
    /// The slivers version.
    pub slivers_version: String,
    /// The git revision the binary was built from (with `-dirty` if its
    /// sources differed from that commit).
    pub git_revision: String,
}

impl RunManifest {
    /// The manifest of a run of `scenario`, for this binary.
    pub fn of(scenario: &Scenario) -> RunManifest {
        RunManifest {
            scenario: scenario.file.display().to_string(),
            scenario_sha256: scenario.sha256.clone(),
            name: scenario.name.clone(),
            seed: scenario.seed,
            hosts: scenario.hosts,
            guests: scenario.guests.iter().map(|g| g.name().to_string()).collect(),
            pairs: scenario.pairs.iter().map(|p| p.label()).collect(),
            slivers_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env!("SLIVERS_GIT_REVISION").to_string(),
        }
    }
}

/// `manifest.toml`: what produced these files, as TOML.
pub fn manifest(scenario: &Scenario) -> Result<String, ReportError> {
    super::toml_file(
        "# Written by slivers; enough to reproduce the results in this folder.\n",
        &RunManifest::of(scenario),
    )
}

/// Writes every output of a run into `dir`; returns the files written.
/// The figures are drawn from the tables as written (`draw_figures`).
pub fn write_all(
    scenario: &Scenario,
    results: &[RunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let tables = [
        ("summary.csv", summary(results)?),
        ("migrations.csv", migrations(results, scenario.series)?),
        ("fidelity.csv", fidelity(results, scenario)?),
    ];
    let mut files = Vec::new();
    for (name, t) in &tables {
        files.push(dir.join(name));
        t.write(&dir.join(name))?;
    }
    let m = RunManifest::of(scenario);
    files.push(dir.join("manifest.toml"));
    write_atomic(&dir.join("manifest.toml"), manifest(scenario)?.as_bytes())?;
    let [s, mig, fid] = tables.map(|(name, t)| CsvFile::of_table(&dir.join(name), t));
    files.extend(draw_figures(&m, &s, &mig, &fid, dir)?);
    files.extend(super::failures::write_all(scenario, results, dir)?);
    files.extend(super::federation::write_all(scenario, results, dir)?);
    // With [thermal] only: nothing changes for other scenarios.
    if let Some(t) = super::thermal::summary(results)? {
        files.push(dir.join("thermal-summary.csv"));
        t.write(&dir.join("thermal-summary.csv"))?;
    }
    if let Some(t) = super::thermal::series(results)? {
        let path = dir.join("thermal.csv");
        files.push(path.clone());
        t.write(&path)?;
        files.extend(super::thermal::draw_figures(
            &m,
            &CsvFile::of_table(&path, t),
            dir,
        )?);
    }
    Ok(files)
}

/// A fixed-width table for the terminal.
pub fn summary_table(results: &[RunResult]) -> String {
    let mut s = format!(
        "{:<34} {:>10} {:>6} {:>9} {:>7} {:>9} {:>8} {:>8} {:>6} {:>10} {:>9} {:>8} {:>9} {:>9}\n",
        "provisioning/placement",
        "migrations",
        "live",
        "stop-copy",
        "broker",
        "requests",
        "rejected",
        "peak",
        "mean",
        "downtime_s",
        "fidelity",
        "kWh",
        "unstarted",
        "too_large"
    );
    for r in results {
        s += &format!(
            "{:<34} {:>10} {:>6} {:>9} {:>7} {:>9} {:>8} {:>8} {:>6.1} {:>10.1} {:>9.6} {:>8.0} {:>9} {:>9}\n",
            r.pair.label(),
            r.site.migrations(),
            r.site.live_migrations,
            r.site.stop_copy_migrations,
            r.broker.broker_migrations,
            r.broker.requests,
            r.broker.rejected,
            r.site.peak_active_hosts,
            r.mean_active_hosts,
            r.cost.downtime_ms as f64 / 1000.0,
            r.fidelity_mean(),
            r.energy_kwh,
            r.jobs_never_started(),
            r.jobs_too_large,
        );
    }
    s
}
