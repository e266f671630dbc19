//! Figures of a parameter sweep, regenerated from its CSV files alone
//! (`slivers plot DIR`).
//!
//! Input, in the sweep directory (treated as external data and validated):
//!
//! * `runs.csv`, one row per run: `run,point,replicate,seed,<param_1>,...,
//!   <param_k>,provisioning,placement,migrations,...,days,...`. The swept
//!   parameters are exactly the columns between `seed` and `provisioning`
//!   (there may be none), named by their CSV-safe column names
//!   (`guest0_peak_units`). A parameter whose values all parse as finite
//!   numbers is numeric; otherwise it is categorical, its values ordered by
//!   first appearance.
//! * `manifest.toml` (optional): the swept keys (`params`) with their
//!   `columns` and `labels`, which name the parameters in the figures
//!   (`web peak units` rather than `guest0 peak units`).
//! * `migrations.csv`: `run,time_s,cumulative_migrations` (other columns are
//!   ignored), each run's cumulative migration count as a step function,
//!   the rows of a run contiguous and in time order.
//!
//! Output, in the same directory (PNG, SVG and PDF each, see [`plot_sweep`]):
//!
//! * `curves-point<p>`: per parameter point, the mean cumulative migrations
//!   of each policy pair over the point's replicates against time, with a
//!   shaded 95% confidence band;
//! * `total-vs-<column>`: per swept parameter, the mean total migrations of
//!   each pair at each value of the parameter (over all runs with that
//!   value: replicates and the other parameters), with 95% CI error bars.
//!   Categorical parameters are drawn at x = 0, 1, ... with their values
//!   as tick labels.
//!
//! Confidence intervals are `mean ± 1.96·sd/√n` (sample standard deviation),
//! the lower end clipped at 0 (all quantities are counts); there is none
//! for a single value.
//!
//! CSV files are read as RFC 4180 (the reader of [`super::csv`]). Errors name
//! the file, the 1-based line on which the offending record starts, and
//! what was expected and found.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::csv::{CsvFile, input_error, parse_number, read_csv};
use super::plot::{Curve, LinePlot, PlotOptions, Spread, draw_lines_with};

/// Number of intervals of the common time grid of the curves figures: the
/// step functions are evaluated at `GRID_STEPS + 1` equally spaced times
/// from 0 to the point's span (both included).
pub const GRID_STEPS: usize = 200;

/// The z value of a two-sided 95% interval.
const Z95: f64 = 1.96;

const SECONDS_PER_DAY: f64 = 86_400.0;

// ---------------------------------------------------------------------------
// Statistics

/// Mean and 95% confidence interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    /// Sample size.
    pub n: usize,
    /// Sample mean.
    pub mean: f64,
    /// `(max(0, mean - 1.96·sd/√n), mean + 1.96·sd/√n)` with the sample
    /// standard deviation `sd` (divisor n - 1); `None` if `n < 2`.
    pub ci: Option<(f64, f64)>,
}

/// [`MeanCi`] of `values`; `None` if there are none.
pub fn mean_ci(values: &[f64]) -> Option<MeanCi> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let ci = (n >= 2).then(|| {
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
        let half = Z95 * var.sqrt() / (n as f64).sqrt();
        ((mean - half).max(0.0), mean + half)
    });
    Some(MeanCi { n, mean, ci })
}

// ---------------------------------------------------------------------------
// Data model

/// One value of a swept parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// The value as first written in `runs.csv`.
    pub label: String,
    /// Position on the x axis: the value itself (numeric parameter) or the
    /// index in order of first appearance (categorical parameter).
    pub x: f64,
}

/// A swept parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Column name in `runs.csv` (the key's CSV-safe name, such as
    /// `sliver_quantum`; see [`super::keys`]).
    pub name: String,
    /// The scenario key (`sliver.quantum`), as the sweep's manifest lists
    /// it beside the column; the column name if there is no manifest (or
    /// it does not list this column).
    pub key: String,
    /// How figures name it (`sliver quantum`, `web peak units`): the
    /// manifest's label, else [`super::keys::column_label`] of the column.
    pub label: String,
    /// True if every value is a finite number.
    pub numeric: bool,
    /// Distinct values: numeric ones in increasing order (values equal as
    /// numbers, like `0.5` and `0.50`, are one level), categorical ones in
    /// order of first appearance.
    pub levels: Vec<Level>,
}

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Run index (`run` column).
    pub run: u64,
    /// Parameter point.
    pub point: u64,
    /// Replicate index.
    pub replicate: u64,
    /// Index into [`Sweep::pairs`].
    pub pair: usize,
    /// For each parameter, the index of this run's value in [`Param::levels`].
    pub levels: Vec<usize>,
    /// Total migrations (`migrations` column).
    pub migrations: f64,
    /// Span of the run in seconds: the `days` column, or the last time in
    /// `migrations.csv` if later.
    pub end_s: f64,
    /// The step function `(time_s, cumulative_migrations)`, in time order.
    pub steps: Vec<(f64, f64)>,
}

impl Run {
    /// Cumulative migrations at `t_s`: the value of the last step at or
    /// before `t_s` (0 before the first).
    pub fn value_at(&self, t_s: f64) -> f64 {
        let k = self.steps.partition_point(|&(t, _)| t <= t_s);
        if k == 0 { 0.0 } else { self.steps[k - 1].1 }
    }
}

/// A sweep read from its CSV files.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Swept parameters, in column order.
    pub params: Vec<Param>,
    /// Policy pairs (`provisioning/placement`), in order of first appearance.
    pub pairs: Vec<String>,
    /// The runs, in `runs.csv` order.
    pub runs: Vec<Run>,
}

impl Sweep {
    /// The parameter points, in increasing order.
    pub fn points(&self) -> Vec<u64> {
        let mut p: Vec<u64> = self.runs.iter().map(|r| r.point).collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    /// Title of the curves figure of `point`, e.g.
    /// `point 3: sliver quantum = 0.25, hosts = 100 (10 replicates)`
    /// (the parameters' [labels](Param::label)).
    pub fn point_title(&self, point: u64) -> String {
        let runs: Vec<&Run> = self.runs.iter().filter(|r| r.point == point).collect();
        let mut replicates: Vec<u64> = runs.iter().map(|r| r.replicate).collect();
        replicates.sort_unstable();
        replicates.dedup();
        let mut title = format!("point {point}");
        if let Some(run) = runs.first() {
            for (i, (param, &level)) in self.params.iter().zip(&run.levels).enumerate() {
                let sep = if i == 0 { ": " } else { ", " };
                let _ = write!(title, "{sep}{} = {}", param.label, param.levels[level].label);
            }
        }
        let n = replicates.len();
        let _ = write!(title, " ({n} replicate{})", if n == 1 { "" } else { "s" });
        title
    }
}

// ---------------------------------------------------------------------------
// Aggregation (pure)

/// The mean curve of one policy pair at one point; see [`replicate_bands`].
#[derive(Debug, Clone, PartialEq)]
pub struct PairBand {
    /// `provisioning/placement`.
    pub pair: String,
    /// Runs of this pair at the point.
    pub runs: usize,
    /// `(time in days, statistics of the runs still going at that time)`
    /// on the common grid; `None` where no run is.
    pub samples: Vec<(f64, Option<MeanCi>)>,
}

/// Per policy pair present at `point` (in [`Sweep::pairs`] order): the
/// mean and 95% CI across its runs of cumulative migrations, on a grid of
/// `GRID_STEPS + 1` equally spaced times from 0 to the point's span (the
/// longest run's). A run only counts at times up to its own end.
pub fn replicate_bands(sweep: &Sweep, point: u64) -> Vec<PairBand> {
    let runs: Vec<&Run> = sweep.runs.iter().filter(|r| r.point == point).collect();
    let span = runs.iter().map(|r| r.end_s).fold(0.0, f64::max);
    let grid: Vec<f64> = if span > 0.0 {
        (0..=GRID_STEPS)
            .map(|i| {
                if i == GRID_STEPS {
                    span
                } else {
                    span * i as f64 / GRID_STEPS as f64
                }
            })
            .collect()
    } else {
        vec![0.0]
    };
    // Runs whose span falls short of the point's by rounding still count at the end.
    let slack = 1e-6 * span;
    let mut out = Vec::new();
    for (pair_index, pair) in sweep.pairs.iter().enumerate() {
        let mine: Vec<&Run> = runs.iter().copied().filter(|r| r.pair == pair_index).collect();
        if mine.is_empty() {
            continue;
        }
        let samples = grid
            .iter()
            .map(|&t| {
                let values: Vec<f64> = mine
                    .iter()
                    .filter(|r| t <= r.end_s + slack)
                    .map(|r| r.value_at(t))
                    .collect();
                (t / SECONDS_PER_DAY, mean_ci(&values))
            })
            .collect();
        out.push(PairBand {
            pair: pair.clone(),
            runs: mine.len(),
            samples,
        });
    }
    out
}

/// Total migrations against one parameter; see [`totals_by_param`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamTotals {
    /// The parameter's column name (`point` for [`totals_by_point`]).
    pub param: String,
    /// Its label in figures.
    pub label: String,
    /// Whether its values are numbers (else categories).
    pub numeric: bool,
    /// Its values, as in [`Param::levels`].
    pub levels: Vec<Level>,
    /// Per policy pair (all pairs, in [`Sweep::pairs`] order): for each
    /// level, the statistics of the `migrations` of the pair's runs with
    /// that value; `None` if there are none.
    pub pairs: Vec<(String, Vec<Option<MeanCi>>)>,
}

/// Mean and 95% CI of the total migrations per policy pair and value of
/// parameter `param` (an index into [`Sweep::params`]), over all runs
/// with that value: replicates and the other parameters are marginalised.
/// `None` if there is no such parameter.
pub fn totals_by_param(sweep: &Sweep, param: usize) -> Option<ParamTotals> {
    let p = sweep.params.get(param)?;
    Some(totals_by(sweep, (&p.name, &p.label), p.numeric, &p.levels, |r| {
        r.levels[param]
    }))
}

/// Mean and 95% CI of the total migrations per policy pair and point, over
/// the point's replicates: what a zip sweep is drawn against, since its
/// keys change together and no one key explains a difference.
pub fn totals_by_point(sweep: &Sweep) -> ParamTotals {
    let points = sweep.points();
    let levels: Vec<Level> = points
        .iter()
        .map(|&p| Level {
            label: p.to_string(),
            x: p as f64,
        })
        .collect();
    totals_by(sweep, ("point", "point"), true, &levels, |r| {
        points.binary_search(&r.point).unwrap_or(usize::MAX)
    })
}

/// The totals of each pair's runs grouped by `level_of` (an index into
/// `levels`).
fn totals_by(
    sweep: &Sweep,
    (name, label): (&str, &str),
    numeric: bool,
    levels: &[Level],
    level_of: impl Fn(&Run) -> usize,
) -> ParamTotals {
    let pairs = sweep
        .pairs
        .iter()
        .enumerate()
        .map(|(pair_index, pair)| {
            let stats = (0..levels.len())
                .map(|level| {
                    let values: Vec<f64> = sweep
                        .runs
                        .iter()
                        .filter(|r| r.pair == pair_index && level_of(r) == level)
                        .map(|r| r.migrations)
                        .collect();
                    mean_ci(&values)
                })
                .collect();
            (pair.clone(), stats)
        })
        .collect();
    ParamTotals {
        param: name.to_string(),
        label: label.to_string(),
        numeric,
        levels: levels.to_vec(),
        pairs,
    }
}

// ---------------------------------------------------------------------------
// Reading a sweep

/// Reads and validates `runs.csv` and `migrations.csv` in `dir`; the
/// parameters' keys and labels come from `manifest.toml` if it lists them
/// (see [`Param::key`]).
pub fn read_sweep(dir: &Path) -> Result<Sweep, ReportError> {
    let runs_csv = read_csv(&dir.join("runs.csv"))?;
    let (mut params, pairs, mut runs, lines) = parse_runs(&runs_csv)?;
    let named = manifest_names(dir)?;
    for p in &mut params {
        if let Some((key, label)) = named.iter().find(|n| n.0 == p.name).map(|n| (&n.1, &n.2)) {
            p.key = key.clone();
            p.label = label.clone();
        }
    }
    let series = read_csv(&dir.join("migrations.csv"))?;
    attach_steps(&series, &mut runs, &lines)?;
    Ok(Sweep { params, pairs, runs })
}

/// `(column, key, label)` of each swept key the sweep's `manifest.toml`
/// lists (`params`, `columns` and `labels` of one length); none without a
/// manifest or those lists.
fn manifest_names(dir: &Path) -> Result<Vec<(String, String, String)>, ReportError> {
    let path = dir.join("manifest.toml");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let manifest: toml::Table = super::read_manifest(&path, "a sweep's manifest")?;
    let list = |name: &str| -> Option<Vec<String>> {
        manifest
            .get(name)?
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let (Some(keys), Some(columns), Some(labels)) = (list("params"), list("columns"), list("labels")) else {
        return Ok(Vec::new());
    };
    if keys.len() != columns.len() || keys.len() != labels.len() {
        return Ok(Vec::new());
    }
    Ok(columns
        .into_iter()
        .zip(keys)
        .zip(labels)
        .map(|((c, k), l)| (c, k, l))
        .collect())
}

type ParsedRuns = (Vec<Param>, Vec<String>, Vec<Run>, Vec<usize>);

/// Parses `runs.csv`; also returns each run's line.
fn parse_runs(f: &CsvFile) -> Result<ParsedRuns, ReportError> {
    f.check_header()?;
    let col = |name: &str| f.column(name);
    let (c_run, c_point, c_replicate) = (col("run")?, col("point")?, col("replicate")?);
    let (c_seed, c_prov, c_place) = (col("seed")?, col("provisioning")?, col("placement")?);
    let (c_migrations, c_days) = (col("migrations")?, col("days")?);
    if c_seed > c_prov {
        return Err(input_error(
            &f.path,
            1,
            "expected the column \"seed\" before \"provisioning\" (the swept parameters are the columns between them)",
        ));
    }
    let param_cols: Vec<usize> = (c_seed + 1..c_prov).collect();
    if f.records.is_empty() {
        return Err(input_error(
            &f.path,
            f.end_line,
            "expected at least one run, found none",
        ));
    }

    // Parameter values, as strings, per run; parameters classified afterwards.
    let mut pairs: Vec<String> = Vec::new();
    let mut runs = Vec::with_capacity(f.records.len());
    let mut lines = Vec::with_capacity(f.records.len());
    let mut run_lines: BTreeMap<u64, usize> = BTreeMap::new();
    let mut point_rows: BTreeMap<u64, usize> = BTreeMap::new();
    let mut replicate_lines: BTreeMap<(u64, usize, u64), usize> = BTreeMap::new();
    for (k, (line, rec)) in f.records.iter().enumerate() {
        let line = *line;
        let run = f.integer(line, "run", &rec[c_run])?;
        let point = f.integer(line, "point", &rec[c_point])?;
        let replicate = f.integer(line, "replicate", &rec[c_replicate])?;
        for c in [c_prov, c_place] {
            if rec[c].is_empty() {
                return Err(f.bad(line, &f.header[c], "a policy name", ""));
            }
        }
        let migrations = f.count(line, "migrations", &rec[c_migrations])?;
        let days = f.count(line, "days", &rec[c_days])?;
        let end_s = days * SECONDS_PER_DAY;
        if !end_s.is_finite() {
            return Err(f.bad(line, "days", "a number of days below 1e300", &rec[c_days]));
        }
        if let Some(prev) = run_lines.insert(run, line) {
            return Err(input_error(
                &f.path,
                line,
                format!("run {run} appears twice (also on line {prev})"),
            ));
        }
        match point_rows.entry(point) {
            Entry::Vacant(e) => {
                e.insert(k);
            }
            Entry::Occupied(e) => {
                let (first_line, first) = &f.records[*e.get()];
                for &c in &param_cols {
                    if rec[c] != first[c] {
                        return Err(input_error(
                            &f.path,
                            line,
                            format!(
                                "point {point} has {} = {:?} here but {:?} on line {first_line}",
                                f.header[c], rec[c], first[c]
                            ),
                        ));
                    }
                }
            }
        }
        let label = format!("{}/{}", rec[c_prov], rec[c_place]);
        let pair = match pairs.iter().position(|p| *p == label) {
            Some(i) => i,
            None => {
                pairs.push(label);
                pairs.len() - 1
            }
        };
        if let Some(prev) = replicate_lines.insert((point, pair, replicate), line) {
            return Err(input_error(
                &f.path,
                line,
                format!(
                    "replicate {replicate} of point {point} with {} appears twice (also on line {prev})",
                    pairs[pair]
                ),
            ));
        }
        runs.push(Run {
            run,
            point,
            replicate,
            pair,
            levels: Vec::new(),
            migrations,
            end_s,
            steps: Vec::new(),
        });
        lines.push(line);
    }

    let mut params = Vec::with_capacity(param_cols.len());
    for &c in &param_cols {
        let values: Vec<&str> = f.records.iter().map(|(_, rec)| rec[c].as_str()).collect();
        let (param, levels) = classify(&f.header[c], &values);
        for (run, level) in runs.iter_mut().zip(levels) {
            run.levels.push(level);
        }
        params.push(param);
    }
    Ok((params, pairs, runs, lines))
}

/// Builds a parameter from its values (one per run) and gives each run's
/// level index.
fn classify(name: &str, values: &[&str]) -> (Param, Vec<usize>) {
    let numbers: Option<Vec<f64>> = values
        .iter()
        .map(|s| parse_number(s).map(|v| if v == 0.0 { 0.0 } else { v }))
        .collect();
    match numbers {
        Some(numbers) => {
            // Distinct values in increasing order, each labelled as first written.
            let mut distinct: Vec<(f64, &str)> = Vec::new();
            for (&v, &s) in numbers.iter().zip(values) {
                if !distinct.iter().any(|&(d, _)| d == v) {
                    distinct.push((v, s));
                }
            }
            distinct.sort_by(|a, b| a.0.total_cmp(&b.0));
            let index = numbers
                .iter()
                .map(|v| distinct.iter().position(|(d, _)| d == v).unwrap_or(0))
                .collect();
            let levels = distinct
                .into_iter()
                .map(|(x, s)| Level {
                    label: s.to_owned(),
                    x,
                })
                .collect();
            let param = Param {
                name: name.to_owned(),
                key: name.to_owned(),
                label: super::keys::column_label(name),
                numeric: true,
                levels,
            };
            (param, index)
        }
        None => {
            let mut distinct: Vec<&str> = Vec::new();
            let index = values
                .iter()
                .map(|s| match distinct.iter().position(|d| d == s) {
                    Some(i) => i,
                    None => {
                        distinct.push(s);
                        distinct.len() - 1
                    }
                })
                .collect();
            let levels = distinct
                .into_iter()
                .enumerate()
                .map(|(i, s)| Level {
                    label: s.to_owned(),
                    x: i as f64,
                })
                .collect();
            let param = Param {
                name: name.to_owned(),
                key: name.to_owned(),
                label: super::keys::column_label(name),
                numeric: false,
                levels,
            };
            (param, index)
        }
    }
}

/// Reads `migrations.csv` into the runs' step functions.
fn attach_steps(f: &CsvFile, runs: &mut [Run], run_lines: &[usize]) -> Result<(), ReportError> {
    f.check_header()?;
    let (c_run, c_time, c_cum) = (
        f.column("run")?,
        f.column("time_s")?,
        f.column("cumulative_migrations")?,
    );
    let by_id: BTreeMap<u64, usize> = runs.iter().enumerate().map(|(i, r)| (r.run, i)).collect();
    // Line of the last row of each run seen so far.
    let mut last_line: BTreeMap<u64, usize> = BTreeMap::new();
    let mut current: Option<u64> = None;
    for (line, rec) in &f.records {
        let line = *line;
        let id = f.integer(line, "run", &rec[c_run])?;
        let t = f.count(line, "time_s", &rec[c_time])?;
        let n = f.count(line, "cumulative_migrations", &rec[c_cum])?;
        let Some(&i) = by_id.get(&id) else {
            return Err(input_error(&f.path, line, format!("run {id} is not in runs.csv")));
        };
        if let Some(prev) = last_line.get(&id).filter(|_| current != Some(id)) {
            return Err(input_error(
                &f.path,
                line,
                format!("the rows of run {id} are not together (an earlier one is on line {prev})"),
            ));
        }
        current = Some(id);
        last_line.insert(id, line);
        let run = &mut runs[i];
        if let Some(&(pt, pn)) = run.steps.last() {
            if t < pt {
                return Err(input_error(
                    &f.path,
                    line,
                    format!(
                        "column \"time_s\": expected at least {} (the previous row of run {id}), found {:?}",
                        pt, rec[c_time]
                    ),
                ));
            }
            if n < pn {
                return Err(input_error(
                    &f.path,
                    line,
                    format!(
                        "column \"cumulative_migrations\": expected at least {} (the previous row of run {id}), found {:?}",
                        pn, rec[c_cum]
                    ),
                ));
            }
        }
        run.steps.push((t, n));
    }
    for (run, &line) in runs.iter_mut().zip(run_lines) {
        let Some(&(t, _)) = run.steps.last() else {
            return Err(input_error(
                &f.path,
                f.end_line,
                format!(
                    "expected rows for run {} (runs.csv line {line}), found none",
                    run.run
                ),
            ));
        };
        run.end_s = run.end_s.max(t);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Figures

/// Reads `runs.csv` and `migrations.csv` from `dir`, writes the figures
/// into `dir`, returns the paths written (sorted).
///
/// Figures, each as PNG, SVG and PDF ([`super::plot::FIGURE_FORMATS`]):
/// * `curves-point<p>` for every point `p`: cumulative migrations against
///   time in days, one curve per policy pair: the mean across the pair's
///   replicates at that point with a shaded 95% confidence band (no band
///   where fewer than 2 runs count), see [`replicate_bands`];
/// * `total-vs-point` for a zip sweep of several keys (they change
///   together, so no one key is drawn alone); else
/// * `total-vs-<column>` for every swept parameter, named by its
///   `runs.csv` column (`total-vs-guest0_peak_units`; a column that is not
///   CSV-safe, from an older folder, as [`super::keys::column_name`] makes
///   it, and should two names collide, the later gets `-<column position
///   among the parameters, from 1>` appended) and labelled with its
///   [label](Param::label): the mean
///   total migrations per pair against the parameter's value with 95% CI
///   error bars, see [`totals_by_param`]. Categorical values are placed at
///   x = 0, 1, ... with the values as tick labels (so is a numeric
///   parameter with a single value). When several pairs are
///   drawn, each pair's points are shifted horizontally by a small amount
///   (1.2% of the x range, 0.08 of a category) so their error bars do not
///   hide each other.
///
/// Nothing is written if the input is invalid. Output is deterministic.
pub fn plot_sweep(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let sweep = read_sweep(dir)?;
    let mut written = Vec::new();
    for point in sweep.points() {
        written.extend(draw_point(
            &sweep,
            point,
            &dir.join(format!("curves-point{point}")),
        )?);
    }
    // A zip sweep's keys change together: one figure against the point,
    // not one per key (each would credit one key with what all of them did).
    if is_zip(dir)? && sweep.params.len() > 1 {
        written.extend(draw_totals(
            &totals_by_point(&sweep),
            &dir.join("total-vs-point"),
        )?);
        written.extend(super::ordering::write_ordering(&sweep, dir)?);
        written.sort();
        return Ok(written);
    }
    let mut used: Vec<String> = Vec::new();
    for i in 0..sweep.params.len() {
        let Some(totals) = totals_by_param(&sweep, i) else {
            continue;
        };
        let mut stem = super::keys::column_name(&totals.param);
        if used.contains(&stem) {
            stem = format!("{stem}-{}", i + 1);
        }
        used.push(stem.clone());
        written.extend(draw_totals(&totals, &dir.join(format!("total-vs-{stem}")))?);
    }
    written.extend(super::ordering::write_ordering(&sweep, dir)?);
    written.sort();
    Ok(written)
}

/// True if the sweep's `manifest.toml` says `mode = "zip"` (false without
/// a manifest or a mode: a grid, as sweeps were before zips).
fn is_zip(dir: &Path) -> Result<bool, ReportError> {
    let path = dir.join("manifest.toml");
    if !path.exists() {
        return Ok(false);
    }
    let manifest: toml::Table = super::read_manifest(&path, "a sweep's manifest")?;
    Ok(manifest.get("mode").and_then(toml::Value::as_str) == Some("zip"))
}

fn draw_point(sweep: &Sweep, point: u64, stem: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let curves: Vec<Curve> = replicate_bands(sweep, point)
        .into_iter()
        .map(|b| {
            let points = b
                .samples
                .iter()
                .map(|&(x, s)| (x, s.map_or(f64::NAN, |s| s.mean)))
                .collect();
            let band: Vec<(f64, f64, f64)> = b
                .samples
                .iter()
                .map(|&(x, s)| match s.and_then(|s| s.ci) {
                    Some((lo, hi)) => (x, lo, hi),
                    None => (x, f64::NAN, f64::NAN),
                })
                .collect();
            let has_band = band.iter().any(|t| t.1.is_finite());
            Curve {
                label: b.pair,
                points,
                spread: has_band.then_some(Spread::Band(band)),
            }
        })
        .collect();
    let title = sweep.point_title(point);
    draw_lines_with(
        &LinePlot {
            title: &title,
            x_label: "time (days)",
            y_label: "cumulative migrations (mean, 95% CI band)",
            curves: &curves,
            step: false,
        },
        &PlotOptions {
            x_categories: None,
            y_integer: false,
            ..PlotOptions::default()
        },
        stem,
    )
}

fn draw_totals(t: &ParamTotals, stem: &Path) -> Result<Vec<PathBuf>, ReportError> {
    // A numeric parameter with a single value is drawn as one category:
    // a numeric axis around one x has no natural scale.
    let categorical = !t.numeric || t.levels.len() < 2;
    let m = t.pairs.len();
    let dodge = if categorical {
        0.08
    } else {
        let lo = t.levels.iter().map(|l| l.x).fold(f64::INFINITY, f64::min);
        let hi = t.levels.iter().map(|l| l.x).fold(f64::NEG_INFINITY, f64::max);
        0.012 * (hi - lo)
    };
    let curves: Vec<Curve> = t
        .pairs
        .iter()
        .enumerate()
        .map(|(j, (pair, stats))| {
            let shift = if m > 1 {
                (j as f64 - (m - 1) as f64 / 2.0) * dodge
            } else {
                0.0
            };
            let mut points = Vec::new();
            let mut bars = Vec::new();
            for (i, (level, s)) in t.levels.iter().zip(stats).enumerate() {
                let x = if categorical { i as f64 } else { level.x } + shift;
                match s {
                    Some(s) => {
                        points.push((x, s.mean));
                        if let Some((lo, hi)) = s.ci {
                            bars.push((x, lo, hi));
                        }
                    }
                    None => points.push((x, f64::NAN)),
                }
            }
            Curve {
                label: pair.clone(),
                points,
                spread: Some(Spread::ErrorBars(bars)),
            }
        })
        .collect();
    let categories: Vec<String> = t.levels.iter().map(|l| l.label.clone()).collect();
    let label = &t.label;
    let title = format!("Total migrations against {label}");
    draw_lines_with(
        &LinePlot {
            title: &title,
            x_label: label,
            y_label: "total migrations (mean, 95% CI)",
            curves: &curves,
            step: false,
        },
        &PlotOptions {
            x_categories: categorical.then_some(categories.as_slice()),
            y_integer: false,
            ..PlotOptions::default()
        },
        stem,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_util::TempDir;

    const DAY: f64 = 86_400.0;
    const A: (&str, &str) = ("demand", "first-fit");
    const B: (&str, &str) = ("room-for-growth", "energy-aware");
    const HEADER: &str = "run,point,replicate,seed,sliver_quantum,hosts_count,guest0_kind,\
                          provisioning,placement,migrations,live_migrations,days,hosts";

    /// What `slivers sweep` writes beside the CSVs: the keys, their columns
    /// and their labels.
    const MANIFEST: &str = "sweep = \"s.toml\"\nmode = \"grid\"\n\
                            params = [\"sliver.quantum\", \"hosts.count\", \"guest[0].kind\"]\n\
                            columns = [\"sliver_quantum\", \"hosts_count\", \"guest0_kind\"]\n\
                            labels = [\"sliver quantum\", \"hosts\", \"web kind\"]\n";

    /// Totals by (point, pair): point 0 A [2,4,6], B [0,0,3]; point 1 A
    /// [10,10,10], B [1,2,3]. Runs are numbered point*6 + replicate*2 + pair.
    fn totals(point: usize, pair: usize) -> [u32; 3] {
        [[[2, 4, 6], [0, 0, 3]], [[10, 10, 10], [1, 2, 3]]][point][pair]
    }

    /// The step function of a run: hand-made for point 0 / pair A, else
    /// the whole total at day 5.
    fn steps(point: usize, pair: usize, replicate: usize) -> Vec<(f64, u32)> {
        let total = totals(point, pair)[replicate];
        match (point, pair, replicate) {
            (0, 0, 0) => vec![(0.0, 0), (2.0 * DAY, 1), (5.0 * DAY, 2), (10.0 * DAY, 2)],
            (0, 0, 1) => vec![(0.0, 0), (DAY, 2), (6.0 * DAY, 4), (10.0 * DAY, 4)],
            (0, 0, 2) => vec![(0.0, 0), (3.0 * DAY, 3), (3.0 * DAY, 6), (10.0 * DAY, 6)],
            _ => vec![(0.0, 0), (5.0 * DAY, total), (10.0 * DAY, total)],
        }
    }

    /// `(runs.csv, migrations.csv)` of the hand-made sweep: 2 points x 3
    /// replicates x 2 pairs, 10 days each.
    fn sweep_files() -> (String, String) {
        let mut runs = format!("{HEADER}\n");
        let mut series = "run,time_s,cumulative_migrations\n".to_owned();
        for point in 0..2 {
            let (quantum, kind) = [("0.25", "web"), ("0.5", "\"batch, big\"")][point];
            for replicate in 0..3 {
                for (pair, (prov, place)) in [A, B].into_iter().enumerate() {
                    let run = point * 6 + replicate * 2 + pair;
                    let total = totals(point, pair)[replicate];
                    runs += &format!(
                        "{run},{point},{replicate},{},{quantum},100,{kind},{prov},{place},{total},{total},10,100\n",
                        1000 + run
                    );
                    for (t, n) in steps(point, pair, replicate) {
                        series += &format!("{run},{t},{n}\n");
                    }
                }
            }
        }
        (runs, series)
    }

    fn write_sweep(dir: &Path, runs: &str, series: &str) {
        std::fs::write(dir.join("runs.csv"), runs).unwrap();
        std::fs::write(dir.join("migrations.csv"), series).unwrap();
    }

    /// The hand-made sweep with its manifest.
    fn hand_made(tag: &str) -> TempDir {
        let tmp = TempDir::new(tag);
        let (runs, series) = sweep_files();
        write_sweep(tmp.path(), &runs, &series);
        std::fs::write(tmp.path().join("manifest.toml"), MANIFEST).unwrap();
        tmp
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[track_caller]
    fn check(s: Option<MeanCi>, n: usize, mean: f64, ci: Option<(f64, f64)>) {
        let s = s.expect("statistics");
        assert_eq!(s.n, n, "{s:?}");
        assert!(close(s.mean, mean), "mean {s:?}, want {mean}");
        match (s.ci, ci) {
            (None, None) => {}
            (Some((lo, hi)), Some((want_lo, want_hi))) => {
                assert!(close(lo, want_lo) && close(hi, want_hi), "{s:?}, want {ci:?}")
            }
            _ => panic!("{s:?}, want ci {ci:?}"),
        }
    }

    #[test]
    fn mean_ci_by_hand() {
        assert_eq!(mean_ci(&[]), None);
        check(mean_ci(&[7.0]), 1, 7.0, None);
        // mean 2, sd 1: half width 1.96/sqrt(3) = 1.131607.
        check(mean_ci(&[1.0, 2.0, 3.0]), 3, 2.0, Some((0.868393, 3.131607)));
        // mean 1, sd sqrt(3): half width 1.96, lower end clipped at 0.
        check(mean_ci(&[0.0, 0.0, 3.0]), 3, 1.0, Some((0.0, 2.96)));
    }

    #[test]
    fn reads_the_hand_made_sweep() {
        let tmp = hand_made("sweep-read");
        let s = read_sweep(tmp.path()).unwrap();
        assert_eq!(s.pairs, ["demand/first-fit", "room-for-growth/energy-aware"]);
        assert_eq!(s.runs.len(), 12);
        assert_eq!(s.points(), [0, 1]);
        let names: Vec<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["sliver_quantum", "hosts_count", "guest0_kind"]);
        let keys: Vec<&str> = s.params.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["sliver.quantum", "hosts.count", "guest[0].kind"]);
        assert!(s.params[0].numeric && s.params[1].numeric && !s.params[2].numeric);
        let kinds: Vec<(&str, f64)> = s.params[2]
            .levels
            .iter()
            .map(|l| (l.label.as_str(), l.x))
            .collect();
        assert_eq!(kinds, [("web", 0.0), ("batch, big", 1.0)]);
        assert_eq!(s.runs[4].end_s, 10.0 * DAY);
        assert_eq!(s.runs[4].value_at(2.99 * DAY), 0.0);
        assert_eq!(s.runs[4].value_at(3.0 * DAY), 6.0);
        assert_eq!(
            s.point_title(0),
            "point 0: sliver quantum = 0.25, hosts = 100, web kind = web (3 replicates)"
        );
        assert_eq!(
            s.point_title(1),
            "point 1: sliver quantum = 0.5, hosts = 100, web kind = batch, big (3 replicates)"
        );
        // Without the manifest the columns name themselves.
        std::fs::remove_file(tmp.path().join("manifest.toml")).unwrap();
        let s = read_sweep(tmp.path()).unwrap();
        assert_eq!(
            s.point_title(0),
            "point 0: sliver quantum = 0.25, hosts count = 100, guest0 kind = web (3 replicates)"
        );
        assert_eq!(s.params[2].key, "guest0_kind");
    }

    #[test]
    fn replicate_bands_by_hand() {
        let tmp = hand_made("sweep-bands");
        let s = read_sweep(tmp.path()).unwrap();
        let bands = replicate_bands(&s, 0);
        assert_eq!(bands.len(), 2);
        let a = &bands[0];
        assert_eq!((a.pair.as_str(), a.runs), ("demand/first-fit", 3));
        assert_eq!(a.samples.len(), GRID_STEPS + 1);
        assert_eq!(a.samples[0].0, 0.0);
        assert_eq!(a.samples[GRID_STEPS].0, 10.0);
        check(a.samples[0].1, 3, 0.0, Some((0.0, 0.0)));
        // Day 2.5: values 1, 2, 0 -> mean 1, sd 1, half width 1.131607.
        assert_eq!(a.samples[50].0, 2.5);
        check(a.samples[50].1, 3, 1.0, Some((0.0, 2.131607)));
        // Day 5 (the step at 5 counts): 2, 2, 6 -> mean 10/3, sd sqrt(16/3),
        // half width 1.96 * 4/3 = 2.613333.
        assert_eq!(a.samples[100].0, 5.0);
        check(a.samples[100].1, 3, 10.0 / 3.0, Some((0.72, 5.946667)));
        // End: 2, 4, 6 -> mean 4, sd 2, half width 3.92/sqrt(3) = 2.263213.
        check(a.samples[GRID_STEPS].1, 3, 4.0, Some((1.736787, 6.263213)));
        // Pair B at the end: 0, 0, 3.
        assert_eq!(bands[1].pair, "room-for-growth/energy-aware");
        check(bands[1].samples[GRID_STEPS].1, 3, 1.0, Some((0.0, 2.96)));
        // Point 1: all 10 (no spread) and 1, 2, 3; nothing before day 5.
        let bands = replicate_bands(&s, 1);
        check(bands[0].samples[99].1, 3, 0.0, Some((0.0, 0.0)));
        check(bands[0].samples[GRID_STEPS].1, 3, 10.0, Some((10.0, 10.0)));
        check(bands[1].samples[100].1, 3, 2.0, Some((0.868393, 3.131607)));
        assert!(replicate_bands(&s, 7).is_empty());
    }

    #[test]
    fn totals_by_param_by_hand() {
        let tmp = hand_made("sweep-totals");
        let s = read_sweep(tmp.path()).unwrap();
        let q = totals_by_param(&s, 0).unwrap();
        assert_eq!(
            (q.param.as_str(), q.label.as_str()),
            ("sliver_quantum", "sliver quantum")
        );
        assert!(q.numeric);
        let xs: Vec<f64> = q.levels.iter().map(|l| l.x).collect();
        assert_eq!(xs, [0.25, 0.5]);
        let (a, b) = (&q.pairs[0].1, &q.pairs[1].1);
        check(a[0], 3, 4.0, Some((1.736787, 6.263213)));
        check(a[1], 3, 10.0, Some((10.0, 10.0)));
        check(b[0], 3, 1.0, Some((0.0, 2.96)));
        check(b[1], 3, 2.0, Some((0.868393, 3.131607)));
        // hosts.count is 100 everywhere: all six runs of a pair.
        // A: 2,4,6,10,10,10 -> mean 7, sd sqrt(12.4), half 1.96*3.521363/sqrt(6) = 2.817676.
        // B: 0,0,3,1,2,3 -> mean 1.5, sd sqrt(1.9), half 1.96*1.378405/sqrt(6) = 1.102953.
        let h = totals_by_param(&s, 1).unwrap();
        assert_eq!(h.levels.len(), 1);
        check(h.pairs[0].1[0], 6, 7.0, Some((4.182324, 9.817676)));
        check(h.pairs[1].1[0], 6, 1.5, Some((0.397047, 2.602953)));
        // The categorical parameter, in order of first appearance.
        let k = totals_by_param(&s, 2).unwrap();
        assert!(!k.numeric);
        check(k.pairs[0].1[0], 3, 4.0, Some((1.736787, 6.263213)));
        check(k.pairs[1].1[1], 3, 2.0, Some((0.868393, 3.131607)));
        assert!(totals_by_param(&s, 3).is_none());
    }

    fn dir_files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn plot_sweep_writes_deterministic_figures() {
        let tmp = hand_made("sweep-plot");
        let written = plot_sweep(tmp.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let want: Vec<String> = [
            "curves-point0",
            "curves-point1",
            "total-vs-guest0_kind",
            "total-vs-hosts_count",
            "total-vs-sliver_quantum",
        ]
        .iter()
        .flat_map(|stem| ["pdf", "png", "svg"].map(|ext| format!("{stem}.{ext}")))
        .collect();
        assert_eq!(names, want);
        assert!(written.iter().all(|p| p.parent() == Some(tmp.path())));
        let mut all: Vec<&str> = want.iter().map(String::as_str).collect();
        all.extend(["manifest.toml", "migrations.csv", "runs.csv"]);
        all.sort();
        assert_eq!(dir_files(tmp.path()), all);

        let svg = std::fs::read_to_string(tmp.path().join("curves-point0.svg")).unwrap();
        for text in [
            "point 0: sliver quantum = 0.25",
            "time (days)",
            "cumulative migrations (mean, 95% CI band)",
            "demand/first-fit",
            "room-for-growth/energy-aware",
        ] {
            assert!(svg.contains(text), "curves SVG lacks {text:?}");
        }
        let svg = std::fs::read_to_string(tmp.path().join("total-vs-guest0_kind.svg")).unwrap();
        for text in [
            "Total migrations against web kind",
            "total migrations (mean, 95% CI)",
            "web",
            "batch, big",
        ] {
            assert!(svg.contains(text), "totals SVG lacks {text:?}");
        }
        let pdf = std::fs::read(tmp.path().join("total-vs-guest0_kind.pdf")).unwrap();
        let words = crate::report::pdf::tests::text(&pdf);
        for text in ["Total migrations against web kind\n", "web\n", "batch, big\n"] {
            assert!(words.contains(text), "totals PDF lacks {text:?}: {words}");
        }

        // A second render, here and in another directory, gives the same bytes.
        let first: Vec<Vec<u8>> = written.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let again = plot_sweep(tmp.path()).unwrap();
        assert_eq!(again, written);
        let other = hand_made("sweep-plot-2");
        let elsewhere = plot_sweep(other.path()).unwrap();
        for ((a, b), bytes) in written.iter().zip(&elsewhere).zip(&first) {
            assert_eq!(&std::fs::read(a).unwrap(), bytes, "{}", a.display());
            assert_eq!(&std::fs::read(b).unwrap(), bytes, "{}", b.display());
        }

        // For looking at the figures: SLIVERS_SWEEP_DEMO_DIR=/some/dir.
        if let Some(demo) = std::env::var_os("SLIVERS_SWEEP_DEMO_DIR") {
            for (p, bytes) in written.iter().zip(&first) {
                let _ = crate::report::write_atomic(&Path::new(&demo).join(p.file_name().unwrap()), bytes);
            }
        }
    }

    #[test]
    fn no_params_gives_only_curves_and_single_replicates_no_band() {
        let tmp = TempDir::new("sweep-noparams");
        let runs = "run,point,replicate,seed,provisioning,placement,migrations,days\r\n\
                    0,0,0,1,demand,first-fit,3,2\r\n\
                    1,0,0,1,demand,best-fit,0,2\r\n";
        let series = "run,time_s,cumulative_migrations\r\n\
                      0,0,0\r\n0,3600,1\r\n0,7200,3\r\n0,172800,3\r\n\
                      1,0,0\r\n1,172800,0\r\n";
        write_sweep(tmp.path(), runs, series);
        let s = read_sweep(tmp.path()).unwrap();
        assert!(s.params.is_empty());
        assert_eq!(s.point_title(0), "point 0 (1 replicate)");
        let bands = replicate_bands(&s, 0);
        check(bands[0].samples[GRID_STEPS].1, 1, 3.0, None);
        let written = plot_sweep(tmp.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["curves-point0.pdf", "curves-point0.png", "curves-point0.svg"]
        );
    }

    /// Runs `plot_sweep` on the hand-made sweep edited by `edit`; returns
    /// the message of the error (which must be [`ReportError::Input`])
    /// without the directory, after checking that no figure was written.
    fn broken(edit: impl FnOnce(&mut String, &mut String)) -> String {
        let tmp = TempDir::new("sweep-bad");
        let (mut runs, mut series) = sweep_files();
        edit(&mut runs, &mut series);
        write_sweep(tmp.path(), &runs, &series);
        let err = plot_sweep(tmp.path()).expect_err("broken input must fail");
        assert_eq!(dir_files(tmp.path()), ["migrations.csv", "runs.csv"]);
        // The message names the file by its full path.
        let dir = format!("{}/", tmp.path().display());
        let msg = err.to_string();
        assert!(matches!(err, ReportError::Input { .. }), "{err:?}");
        msg.strip_prefix(&dir)
            .unwrap_or_else(|| panic!("{msg}"))
            .to_owned()
    }

    fn message(err: &ReportError) -> String {
        let s = err.to_string();
        match s.rfind('/') {
            Some(i) => s[i + 1..].to_owned(),
            None => s,
        }
    }

    /// Replaces the `n`-th line (1-based) of `text` by `f(line)`.
    fn edit_line(text: &mut String, n: usize, f: impl FnOnce(&str) -> String) {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[n - 1] = f(&lines[n - 1]);
        *text = lines.join("\n") + "\n";
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        // Line 7 is run 5; its migrations (10th field) becomes "x".
        let msg = broken(|runs, _| {
            edit_line(runs, 7, |l| {
                let mut f: Vec<&str> = l.split(',').collect();
                f[9] = "x";
                f.join(",")
            })
        });
        assert_eq!(
            msg,
            "runs.csv:7: column \"migrations\": expected a number, found \"x\""
        );

        let msg = broken(|runs, _| *runs = runs.replacen(",placement,", ",placing,", 1));
        assert_eq!(msg, "runs.csv:1: expected a column \"placement\"");

        let msg = broken(|_, series| series.push_str("99,0,0\n"));
        assert_eq!(msg, "migrations.csv:41: run 99 is not in runs.csv");

        let msg = broken(|runs, _| edit_line(runs, 3, |l| l.replacen("1,0,0,", "0,0,0,", 1)));
        assert_eq!(msg, "runs.csv:3: run 0 appears twice (also on line 2)");

        let msg = broken(|runs, _| edit_line(runs, 4, |l| l.replace(",0.25,", ",0.3,")));
        assert_eq!(
            msg,
            "runs.csv:4: point 0 has sliver_quantum = \"0.3\" here but \"0.25\" on line 2"
        );

        let msg = broken(|runs, _| edit_line(runs, 4, |l| l.replacen("2,0,1,", "2,0,0,", 1)));
        assert_eq!(
            msg,
            "runs.csv:4: replicate 0 of point 0 with demand/first-fit appears twice (also on line 2)"
        );

        let msg = broken(|runs, _| edit_line(runs, 2, |l| l.replacen("0,0,0,", "-1,0,0,", 1)));
        assert_eq!(
            msg,
            "runs.csv:2: column \"run\": expected a non-negative integer, found \"-1\""
        );

        let msg = broken(|runs, _| edit_line(runs, 2, |l| l.replace(",10,100", ",-10,100")));
        assert_eq!(
            msg,
            "runs.csv:2: column \"days\": expected a non-negative number, found \"-10\""
        );

        let msg = broken(|runs, _| *runs = runs.lines().next().unwrap().to_owned() + "\n");
        assert_eq!(msg, "runs.csv:2: expected at least one run, found none");

        let msg = broken(|runs, _| {
            *runs = runs.replacen("run,point,replicate,seed,", "run,point,replicate,sead,", 1)
        });
        assert_eq!(msg, "runs.csv:1: expected a column \"seed\"");

        let msg = broken(|runs, _| *runs = runs.replacen(",hosts_count,", ",sliver_quantum,", 1));
        assert_eq!(msg, "runs.csv:1: duplicate column \"sliver_quantum\"");

        // migrations.csv: the rows of run 0 (lines 2-5), then run 1 (6-8).
        let msg = broken(|_, series| edit_line(series, 7, |_| "0,500000,2".to_owned()));
        assert_eq!(
            msg,
            "migrations.csv:7: the rows of run 0 are not together (an earlier one is on line 5)"
        );

        let msg = broken(|_, series| edit_line(series, 4, |_| "0,100,1".to_owned()));
        assert_eq!(
            msg,
            "migrations.csv:4: column \"time_s\": expected at least 172800 (the previous row of run 0), found \"100\""
        );

        let msg = broken(|_, series| edit_line(series, 4, |_| "0,432000,0".to_owned()));
        assert_eq!(
            msg,
            "migrations.csv:4: column \"cumulative_migrations\": expected at least 1 (the previous row of run 0), found \"0\""
        );

        let msg = broken(|_, series| {
            *series = series
                .lines()
                .filter(|l| !l.starts_with("11,"))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        });
        assert_eq!(
            msg,
            "migrations.csv:38: expected rows for run 11 (runs.csv line 13), found none"
        );

        let msg = broken(|_, series| *series = "run,time,cumulative_migrations\n".to_owned());
        assert_eq!(msg, "migrations.csv:1: expected a column \"time_s\"");

        let msg = broken(|_, series| series.push_str("\"11,0,0\n"));
        assert_eq!(msg, "migrations.csv:41: unterminated quoted field");

        // A missing file.
        let tmp = TempDir::new("sweep-missing");
        let (runs, _) = sweep_files();
        std::fs::write(tmp.path().join("runs.csv"), runs).unwrap();
        let err = plot_sweep(tmp.path()).unwrap_err();
        assert!(matches!(err, ReportError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("migrations.csv"), "{err}");

        // Invalid UTF-8 on line 3.
        let tmp = TempDir::new("sweep-utf8");
        let (runs, series) = sweep_files();
        let mut bytes = series.into_bytes();
        let third = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .unwrap()
            .0
            + 1;
        bytes[third] = 0xFF;
        std::fs::write(tmp.path().join("runs.csv"), runs).unwrap();
        std::fs::write(tmp.path().join("migrations.csv"), bytes).unwrap();
        let err = plot_sweep(tmp.path()).unwrap_err();
        assert_eq!(
            message(&err),
            "migrations.csv:3: expected UTF-8 text, found an invalid byte sequence"
        );
    }

    #[test]
    fn an_older_folder_with_raw_keys_gets_safe_file_names() {
        // runs.csv as sweeps wrote it before CSV-safe columns.
        let tmp = TempDir::new("sweep-raw-keys");
        let (runs, series) = sweep_files();
        let runs = runs.replacen(
            "sliver_quantum,hosts_count,guest0_kind",
            "sliver.quantum,hosts.count,guest[0].kind",
            1,
        );
        write_sweep(tmp.path(), &runs, &series);
        let written = plot_sweep(tmp.path()).unwrap();
        for f in [
            "total-vs-guest0_kind.pdf",
            "total-vs-hosts_count.png",
            "total-vs-sliver_quantum.svg",
        ] {
            assert!(written.contains(&tmp.path().join(f)), "{f}: {written:?}");
        }
        let svg = std::fs::read_to_string(tmp.path().join("total-vs-guest0_kind.svg")).unwrap();
        assert!(svg.contains("Total migrations against guest 0 kind"));
    }
}
