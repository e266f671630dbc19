//! Parameter sweeps: a scenario plus a `[sweep]` table.
//!
//! ```toml
//! [sweep]
//! mode = "grid"                  # or "zip": paired lists
//! replicates = 10                # seeds per point: seed + 0, seed + 1, ...
//! "sliver.quantum" = [0.25, 0.5, 1.0]
//! "hosts.count" = { from = 50, to = 200, step = 50 }
//! "guest[0].peak_units" = [80, 120]
//! ```
//!
//! Each swept key is a dotted path to a scalar key of the scenario (arrays
//! indexed as `guest[0]`); its value is a list or an inclusive range. Keys
//! are taken in file order. Runs are numbered point by point, then
//! replicate, then policy pair; a replicate's seed depends only on the
//! point's seed and the replicate index, so every pair at a point sees the
//! same workload (common random numbers).
//!
//! Nothing is expanded up front: the number of runs is a product checked
//! against the cap first, a point is built from its index (a mixed-radix
//! number in grid mode, the index of every list in zip mode) and a run from
//! its index and its point. Each point is validated as a full scenario, so
//! errors name the point, the key, what was expected and what was found: a
//! sweep of at most [`KEPT_POINTS`] points validates (and keeps) them all
//! when loaded; a larger one validates each key's values when loaded, and
//! every other point when it is built.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::report::csv::fmt_f64;
use crate::scenario::{Pair, Scenario, ScenarioError, TraceCache, sha256_hex};

/// Everything wrong a sweep file can be.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or the `[sweep]` table is malformed.
    #[error("{path}: key `{key}`: expected {expected}, found {found}")]
    Invalid {
        /// The file.
        path: String,
        /// The key, e.g. `sweep."sliver.quantum"`.
        key: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A point of the sweep is not a valid scenario. The file is named
    /// once: here only if the scenario error does not start with it.
    #[error("{}sweep point {point} ({values})", file_prefix(path, source))]
    Point {
        /// The file.
        path: String,
        /// The point's index.
        point: usize,
        /// Its swept values.
        values: String,
        /// The scenario error.
        #[source]
        source: Box<ScenarioError>,
    },
    /// The TOML parser's message.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// With line and column.
        message: String,
    },
}

/// True if the file at `path` is TOML with a `[sweep]` table (false if
/// unreadable: the loader then reports the error).
pub fn is_sweep_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .is_ok_and(|t| t.parse::<toml::Table>().is_ok_and(|t| t.contains_key("sweep")))
}

/// `"{path}: "`, or nothing when `source`'s message already starts with the path.
fn file_prefix(path: &str, source: &ScenarioError) -> String {
    match source {
        ScenarioError::Parse { path: p, .. } | ScenarioError::Invalid { path: p, .. } if p == path => {
            String::new()
        }
        _ => format!("{path}: "),
    }
}

/// How swept lists combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The cartesian product (first key varies slowest).
    Grid,
    /// The i-th values of every list together; lists must be equally long.
    Zip,
}

/// One parameter point: its values and the validated scenario.
#[derive(Debug, Clone)]
pub struct Point {
    /// The swept values, aligned with [`Sweep::params`], formatted for CSV.
    pub values: Vec<String>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

/// One run of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepRun {
    /// Its index: the row of `runs.csv`.
    pub index: usize,
    /// Its point.
    pub point: usize,
    /// Its replicate.
    pub replicate: u32,
    /// Its seed: the point's seed plus the replicate.
    pub seed: u64,
    /// Its policy pair.
    pub pair: Pair,
}

/// A validated sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Its name (the scenario's name).
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// The output folder.
    pub output: PathBuf,
    /// Grid or zip.
    pub mode: Mode,
    /// Replicates per point.
    pub replicates: u32,
    /// Swept keys, in file order.
    pub params: Vec<String>,
    /// The cap on runs it was loaded with (Slurm tasks load it with the same).
    pub max_runs: usize,
    /// Policy pairs at every point (`pairs` is a list of tables: a swept
    /// key may change a pair, never their number).
    pub pairs: usize,
    /// Number of points.
    points: usize,
    /// The scenario's table without `[sweep]`, which each point edits.
    root: toml::Table,
    /// Each swept key's values, aligned with `params`.
    values: Vec<Values>,
    /// The points kept: all of a sweep of at most [`KEPT_POINTS`] points,
    /// else point 0 only.
    built: Vec<Arc<Point>>,
    /// Traces read by the points built so far.
    cache: Arc<Mutex<TraceCache>>,
}

/// A sweep of at most this many points keeps them all, each validated when
/// loaded; a larger one builds each point when needed (from its index), after
/// checking each swept key's values on a line of the grid through point 0.
pub const KEPT_POINTS: usize = 1000;

/// The most runs one sweep may expand to.
pub const MAX_RUNS: usize = 10_000_000;

impl Sweep {
    /// The metric columns `runs.csv` has after [`crate::outcome::METRICS`]
    /// for this sweep's scenario: the outage ones with `[failures]` or
    /// `[[maintenance]]`, the federation ones with `[[site]]`.
    pub fn extra_metrics(&self) -> Vec<&'static crate::outcome::Metric> {
        let has = |k: &str| self.root.contains_key(k);
        let mut m: Vec<&'static crate::outcome::Metric> = Vec::new();
        if has("failures") || has("maintenance") {
            m.extend(crate::outcome::OUTAGE_METRICS.iter());
        }
        if has("site") {
            m.extend(crate::outcome::FEDERATION_METRICS.iter());
        }
        m
    }

    /// Reads and validates a sweep file (a scenario file without `[sweep]`
    /// is a sweep of one point and one replicate), of at most [`MAX_RUNS`] runs.
    pub fn load(path: &Path) -> Result<Sweep, SweepError> {
        Self::load_capped(path, MAX_RUNS)
    }

    /// [`Sweep::load`] with a cap of `max_runs` runs.
    pub fn load_capped(path: &Path, max_runs: usize) -> Result<Sweep, SweepError> {
        let bytes = std::fs::read(path).map_err(|source| SweepError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Self::parse_capped(&text, path, max_runs)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Sweep, SweepError> {
        Self::parse_capped(text, path, MAX_RUNS)
    }

    /// [`Sweep::parse`] with a cap of `max_runs` runs: a sweep over it is
    /// refused, naming its size, before any point is built.
    pub fn parse_capped(text: &str, path: &Path, max_runs: usize) -> Result<Sweep, SweepError> {
        let shown = path.display().to_string();
        let invalid = |key: &str, expected: &str, found: String| SweepError::Invalid {
            path: shown.clone(),
            key: key.to_string(),
            expected: expected.to_string(),
            found,
        };
        let mut root: toml::Table = toml::from_str(text).map_err(|e| SweepError::Parse {
            path: shown.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if root.contains_key("vm_requests") {
            let found = "a [vm_requests] table".to_string();
            return Err(invalid(
                "vm_requests",
                crate::scenario::vmreq::GUESTS_NOT_VM_REQUESTS,
                found,
            ));
        }
        let spec = match root.remove("sweep") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(other) => return Err(invalid("sweep", "a table", other.type_str().to_string())),
        };
        let mut mode = Mode::Grid;
        let mut replicates = 1u32;
        let mut ranges: Vec<(String, Values)> = Vec::new();
        for (k, v) in &spec {
            match k.as_str() {
                "mode" => {
                    mode = match v.as_str() {
                        Some("grid") => Mode::Grid,
                        Some("zip") => Mode::Zip,
                        _ => return Err(invalid("sweep.mode", "\"grid\" or \"zip\"", v.to_string())),
                    }
                }
                "replicates" => {
                    replicates = match v.as_integer() {
                        Some(n) if (1..=1_000_000).contains(&n) => n as u32,
                        _ => {
                            return Err(invalid(
                                "sweep.replicates",
                                "an integer from 1 to 1000000",
                                v.to_string(),
                            ));
                        }
                    }
                }
                key => {
                    let key_shown = format!("sweep.\"{key}\"");
                    let values = Values::of(v).map_err(|e| invalid(&key_shown, &e, v.to_string()))?;
                    if values.len() > max_runs as u128 {
                        return Err(invalid(
                            &key_shown,
                            &format!("at most {max_runs} values (the cap on runs; raise it with --max-runs)"),
                            format!("a range of {} values", values.len()),
                        ));
                    }
                    check_path(&root, key).map_err(|e| invalid(&key_shown, &e, key.to_string()))?;
                    ranges.push((key.to_string(), values));
                }
            }
        }
        if mode == Mode::Zip {
            let n = ranges.first().map_or(1, |(_, v)| v.len());
            if let Some((k, v)) = ranges.iter().find(|(_, v)| v.len() != n) {
                return Err(invalid(
                    &format!("sweep.\"{k}\""),
                    &format!("{n} values, as many as `{}` (mode = \"zip\")", ranges[0].0),
                    format!("{}", v.len()),
                ));
            }
        }
        // Count the runs before building anything (the pairs cannot be
        // swept: `pairs` is a list of tables, or absent and then the four
        // default pairs).
        let point_count: u128 = match mode {
            Mode::Grid => ranges.iter().fold(1u128, |n, (_, v)| n.saturating_mul(v.len())),
            Mode::Zip => ranges.first().map_or(1, |(_, v)| v.len()),
        };
        let pair_count = root
            .get("pairs")
            .and_then(toml::Value::as_array)
            .map_or(Pair::figure3().len(), Vec::len);
        let total = point_count
            .saturating_mul(u128::from(replicates))
            .saturating_mul(pair_count as u128);
        if total > max_runs as u128 {
            return Err(invalid(
                "sweep",
                &format!("at most {max_runs} runs (the cap; raise it with --max-runs)"),
                format!("{point_count} points x {replicates} replicates x {pair_count} pairs = {total} runs"),
            ));
        }
        let (params, values): (Vec<String>, Vec<Values>) = ranges.into_iter().unzip();
        let mut sweep = Sweep {
            name: String::new(),
            file: path.to_path_buf(),
            sha256: sha256_hex(text),
            output: PathBuf::new(),
            mode,
            replicates,
            params,
            max_runs,
            pairs: pair_count,
            points: point_count as usize,
            root,
            values,
            built: Vec::new(),
            cache: Arc::new(Mutex::new(TraceCache::default())),
        };
        // Point 0 names the sweep and its folder. A small sweep keeps its
        // points (checking each now, as the runs reuse them); a large one
        // checks each key's values now and every other point when built.
        let first = Arc::new(sweep.build(0)?);
        sweep.name = first.scenario.name.clone();
        sweep.output = first.scenario.output.clone();
        sweep.built.push(first);
        if sweep.points <= KEPT_POINTS {
            for p in 1..sweep.points {
                let point = Arc::new(sweep.build(p)?);
                sweep.built.push(point);
            }
        } else {
            for p in sweep.probes() {
                sweep.build(p)?;
            }
        }
        Ok(sweep)
    }

    /// Number of parameter points.
    pub fn point_count(&self) -> usize {
        self.points
    }

    /// Runs at each point: replicates times policy pairs.
    pub fn runs_per_point(&self) -> usize {
        self.replicates as usize * self.pairs
    }

    /// Number of runs (at most the cap it was loaded with).
    pub fn run_count(&self) -> usize {
        self.points * self.runs_per_point()
    }

    /// True if every point was validated when the sweep was loaded (a
    /// sweep of at most [`KEPT_POINTS`] points); otherwise a point is
    /// validated when [`Sweep::point`] builds it.
    pub fn all_points_checked(&self) -> bool {
        self.built.len() == self.points
    }

    /// Point `p` (below [`Sweep::point_count`]): kept if the sweep is small,
    /// else built now from its index, an error if not a valid scenario.
    pub fn point(&self, p: usize) -> Result<Arc<Point>, SweepError> {
        match self.built.get(p) {
            Some(point) => Ok(Arc::clone(point)),
            None => self.build(p).map(Arc::new),
        }
    }

    /// The point of run `index`.
    pub fn point_of(&self, index: usize) -> usize {
        index / self.runs_per_point().max(1)
    }

    /// Run `index` (below [`Sweep::run_count`]), whose point is `point`
    /// (as [`Sweep::point`] of [`Sweep::point_of`] the index): the seed and
    /// the pair are the point's, since both may be swept.
    pub fn run(&self, index: usize, point: &Point) -> SweepRun {
        let pairs = self.pairs.max(1);
        let replicate = (index / pairs % self.replicates.max(1) as usize) as u32;
        SweepRun {
            index,
            point: self.point_of(index),
            replicate,
            seed: point.scenario.seed.wrapping_add(u64::from(replicate)),
            pair: point.scenario.pairs[index % pairs],
        }
    }

    /// The runs of point `p`, in index order.
    pub fn runs_of<'a>(&'a self, p: usize, point: &'a Point) -> impl Iterator<Item = SweepRun> + 'a {
        let per = self.runs_per_point();
        (p * per..(p + 1) * per).map(move |i| self.run(i, point))
    }

    /// Every run with its point, in index order, building each point once
    /// (and stopping at the first that is not valid).
    pub fn runs(&self) -> impl Iterator<Item = Result<(SweepRun, Arc<Point>), SweepError>> + '_ {
        (0..self.points).flat_map(move |p| {
            let runs: Vec<Result<(SweepRun, Arc<Point>), SweepError>> = match self.point(p) {
                Ok(point) => self
                    .runs_of(p, &point)
                    .map(|r| Ok((r, Arc::clone(&point))))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            runs
        })
    }

    /// Each key's value index at point `p`: a mixed-radix number whose
    /// first key varies slowest (grid), or `p` for every key (zip).
    fn indices(&self, p: usize) -> Vec<usize> {
        match self.mode {
            Mode::Zip => vec![p; self.values.len()],
            Mode::Grid => {
                let mut rest = p;
                let mut out = vec![0; self.values.len()];
                for (slot, v) in out.iter_mut().zip(&self.values).rev() {
                    let len = v.len() as usize;
                    *slot = rest % len;
                    rest /= len;
                }
                out
            }
        }
    }

    /// The points checked when a large sweep is loaded. Grid: each key's
    /// values with the other keys at their first (every value of a key of
    /// at most [`KEPT_POINTS`] values, else its first and last), each a
    /// point of the grid. Zip: the first [`KEPT_POINTS`] points and the last.
    fn probes(&self) -> Vec<usize> {
        let mut out = Vec::new();
        match self.mode {
            Mode::Zip => {
                out.extend(1..KEPT_POINTS.min(self.points));
                out.push(self.points - 1);
            }
            Mode::Grid => {
                let mut stride = 1usize;
                for v in self.values.iter().rev() {
                    let len = v.len() as usize;
                    if len <= KEPT_POINTS {
                        out.extend((1..len).map(|i| i * stride));
                    } else {
                        out.push((len - 1) * stride);
                    }
                    stride *= len;
                }
                out.sort_unstable();
                out.dedup();
            }
        }
        out.retain(|&p| p > 0);
        out
    }

    /// Builds and validates point `p`.
    fn build(&self, p: usize) -> Result<Point, SweepError> {
        let shown = self.file.display().to_string();
        let combo: Vec<toml::Value> = self
            .indices(p)
            .into_iter()
            .zip(&self.values)
            .map(|(i, v)| v.at(i))
            .collect();
        let mut table = self.root.clone();
        for (key, value) in self.params.iter().zip(&combo) {
            set_path(&mut table, key, value.clone()).map_err(|e| SweepError::Invalid {
                path: shown.clone(),
                key: format!("sweep.\"{key}\""),
                expected: e,
                found: value.to_string(),
            })?;
        }
        let values: Vec<String> = combo.iter().map(format_value).collect();
        let point_text = toml::to_string(&table).map_err(|e| SweepError::Invalid {
            path: shown.clone(),
            key: "sweep".into(),
            expected: "values TOML can hold".into(),
            found: e.to_string(),
        })?;
        let parsed = {
            // A poisoned lock only means another point's parse panicked:
            // the cache of traces read is still sound.
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            Scenario::parse_cached(&point_text, &self.file, &mut cache)
        };
        let scenario = parsed.map_err(|source| SweepError::Point {
            path: shown.clone(),
            point: p,
            values: self
                .params
                .iter()
                .zip(&values)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            source: Box::new(match source {
                // The point's text is generated: its line numbers mean
                // nothing to the user, so keep only the parser's verdict.
                ScenarioError::Parse { path, message } => ScenarioError::Parse {
                    path,
                    message: message.lines().last().unwrap_or_default().to_string(),
                },
                other => other,
            }),
        })?;
        if scenario.pairs.len() != self.pairs {
            return Err(SweepError::Invalid {
                path: shown,
                key: "pairs".into(),
                expected: format!("{} policy pairs at every point", self.pairs),
                found: format!("{} at point {p}", scenario.pairs.len()),
            });
        }
        Ok(Point { values, scenario })
    }
}

/// A swept key's values: a list, or an inclusive range `{ from, to, step }`
/// known by its length; each value is made from its index when needed.
#[derive(Debug, Clone)]
enum Values {
    List(Vec<toml::Value>),
    Int { from: i64, step: i64, len: u128 },
    Float { from: f64, step: f64, len: u128 },
}

impl Values {
    fn of(v: &toml::Value) -> Result<Values, String> {
        const EXPECTED: &str =
            "a non-empty list of scalars, or a range { from, to, step } with step > 0 and from <= to";
        match v {
            toml::Value::Array(a) if !a.is_empty() && a.iter().all(is_scalar) => Ok(Values::List(a.clone())),
            toml::Value::Table(t) => {
                if t.keys().any(|k| !["from", "to", "step"].contains(&k.as_str())) || t.len() != 3 {
                    return Err(EXPECTED.into());
                }
                let (from, to, step) = (&t["from"], &t["to"], &t["step"]);
                if let (Some(f), Some(tt), Some(s)) = (from.as_integer(), to.as_integer(), step.as_integer())
                {
                    if s <= 0 || f > tt {
                        return Err(EXPECTED.into());
                    }
                    let len = (i128::from(tt) - i128::from(f)) as u128 / s as u128 + 1;
                    return Ok(Values::Int {
                        from: f,
                        step: s,
                        len,
                    });
                }
                let num = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
                match (num(from), num(to), num(step)) {
                    (Some(f), Some(tt), Some(s)) if s > 0.0 && f <= tt && ((tt - f) / s).is_finite() => {
                        let len = (((tt - f) / s + 1e-9).floor() as u128).saturating_add(1);
                        Ok(Values::Float {
                            from: f,
                            step: s,
                            len,
                        })
                    }
                    _ => Err(EXPECTED.into()),
                }
            }
            _ => Err(EXPECTED.into()),
        }
    }

    fn len(&self) -> u128 {
        match self {
            Values::List(a) => a.len() as u128,
            Values::Int { len, .. } | Values::Float { len, .. } => *len,
        }
    }

    /// Value `i` (below [`Values::len`]); a range's from its index, so
    /// errors do not accumulate.
    fn at(&self, i: usize) -> toml::Value {
        match *self {
            Values::List(ref a) => a[i].clone(),
            Values::Int { from, step, .. } => toml::Value::Integer(from + i as i64 * step),
            Values::Float { from, step, .. } => toml::Value::Float(round12(from + i as f64 * step)),
        }
    }
}

fn round12(x: f64) -> f64 {
    (x * 1e12).round() / 1e12
}

fn is_scalar(v: &toml::Value) -> bool {
    !matches!(v, toml::Value::Array(_) | toml::Value::Table(_))
}

fn format_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => fmt_f64(*f),
        other => other.to_string(),
    }
}

/// Splits `a.b[2].c` into segments: `Key("a")`, `Key("b")`, `Index(2)`, `Key("c")`.
fn segments(path: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() {
            return Err("a dotted key such as \"sliver.quantum\" or \"guest[0].peak_units\"".into());
        }
        out.push(Seg::Key(name.to_string()));
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or("a closing ] in the key")?;
            let i = r[..end]
                .parse::<usize>()
                .map_err(|_| "an array index such as [0]".to_string())?;
            out.push(Seg::Index(i));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return Err("a dotted key such as \"guest[0].peak_units\"".into());
        }
    }
    Ok(out)
}

enum Seg {
    Key(String),
    Index(usize),
}

/// The key may be set: arrays it indexes exist and are long enough, and it
/// does not name a table or an array.
fn check_path(root: &toml::Table, path: &str) -> Result<(), String> {
    let mut probe = root.clone();
    set_path(&mut probe, path, toml::Value::Integer(0))
}

fn set_path(root: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    set_in_table(root, &segments(path)?, value)
}

const THROUGH: &str = "a path through tables and arrays of the scenario";

fn set_in_table(t: &mut toml::Table, segs: &[Seg], value: toml::Value) -> Result<(), String> {
    let Some((Seg::Key(k), rest)) = segs.split_first() else {
        return Err(THROUGH.into());
    };
    if rest.is_empty() {
        if matches!(t.get(k), Some(v) if !is_scalar(v)) {
            return Err("a scalar key (not a table or an array)".into());
        }
        t.insert(k.clone(), value);
        return Ok(());
    }
    let next = t
        .entry(k.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    set_in_value(next, rest, value)
}

fn set_in_value(v: &mut toml::Value, segs: &[Seg], value: toml::Value) -> Result<(), String> {
    match (v, segs.first()) {
        (toml::Value::Table(t), Some(Seg::Key(_))) => set_in_table(t, segs, value),
        (toml::Value::Array(a), Some(Seg::Index(n))) => {
            let len = a.len();
            let elem = a.get_mut(*n).ok_or(format!("an index below {len}"))?;
            if segs.len() == 1 {
                return Err("a key inside the array element, such as guest[0].peak_units".into());
            }
            set_in_value(elem, &segs[1..], value)
        }
        _ => Err(THROUGH.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = include_str!("../../tests/golden/small/scenario.toml");

    fn sweep(table: &str, max_runs: usize) -> Result<Sweep, SweepError> {
        let text = format!("{BASE}\n[sweep]\n{table}\n");
        // The golden scenario's traces are read beside it.
        Sweep::parse_capped(&text, Path::new("tests/golden/small/scenario.toml"), max_runs)
    }

    #[test]
    fn a_grid_point_is_a_mixed_radix_number_first_key_slowest() {
        let s = sweep(
            "replicates = 2\n\"hosts.count\" = [2, 3]\n\"sliver.quantum\" = { from = 0.5, to = 1.0, step = 0.25 }",
            MAX_RUNS,
        )
        .unwrap();
        assert_eq!((s.point_count(), s.runs_per_point(), s.run_count()), (6, 8, 48));
        let values: Vec<Vec<String>> = (0..6).map(|p| s.point(p).unwrap().values.clone()).collect();
        let expected: Vec<Vec<String>> = [2, 3]
            .iter()
            .flat_map(|h| {
                ["0.5", "0.75", "1"]
                    .iter()
                    .map(move |q| vec![h.to_string(), q.to_string()])
            })
            .collect();
        assert_eq!(values, expected);
        assert_eq!(s.point(4).unwrap().scenario.hosts, 3);
        // Run 13: point 1, replicate 1, pair 1; seed = the point's + 1.
        let point = s.point(s.point_of(13)).unwrap();
        let r = s.run(13, &point);
        assert_eq!((r.point, r.replicate, r.seed), (1, 1, 2));
        assert_eq!(r.pair, point.scenario.pairs[1]);
        let all: Vec<SweepRun> = s.runs().map(|r| r.unwrap().0).collect();
        assert_eq!(all.len(), 48);
        assert!(all.iter().enumerate().all(|(i, r)| r.index == i));
    }

    #[test]
    fn a_swept_seed_or_pair_makes_each_points_runs() {
        let s = sweep(
            "mode = \"zip\"\nseed = [5, 9]\n\"pairs[0].placement\" = [\"follow-broker\", \"energy-aware\"]",
            MAX_RUNS,
        );
        // The golden scenario has no [[pairs]]: the key does not exist.
        assert!(s.is_err());
        let text = format!(
            "{BASE}\n[[pairs]]\nprovisioning = \"migrating\"\nplacement = \"follow-broker\"\n\
             [sweep]\nmode = \"zip\"\nseed = [5, 9]\n\"pairs[0].placement\" = [\"follow-broker\", \"energy-aware\"]\n"
        );
        let s = Sweep::parse(&text, Path::new("tests/golden/small/scenario.toml")).unwrap();
        let runs: Vec<SweepRun> = s.runs().map(|r| r.unwrap().0).collect();
        assert_eq!(runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [5, 9]);
        assert_eq!(runs[1].pair.placement.to_string(), "energy-aware");
    }

    #[test]
    fn the_cap_fires_before_any_point_is_built() {
        // A point of this grid would fail to build (hosts.count = 0), but
        // the size is refused first, naming it.
        let e = sweep(
            "replicates = 1000\n\"hosts.count\" = { from = 0, to = 99999, step = 1 }",
            MAX_RUNS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("100000 points x 1000 replicates x 4 pairs = 400000000 runs"),
            "{e}"
        );
    }

    #[test]
    fn a_large_grid_builds_only_probes_and_finds_a_bad_value_of_a_key() {
        // 3 x 2000 points: too many to keep, so each key's values are
        // checked on a line through point 0; the bad value is at point 2000.
        let e = sweep(
            "\"guest[0].requests_per_unit\" = [100, -5, 200]\n\"hosts.count\" = { from = 2, to = 2001, step = 1 }",
            MAX_RUNS,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "sweep point 2000 (guest[0].requests_per_unit = -5, hosts.count = 2)"
        );
        let why = std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            why.contains("key `guest[0].requests_per_unit`") && why.ends_with("found -5"),
            "{why}"
        );
        let s = sweep(
            "\"guest[0].requests_per_unit\" = [100, 200]\n\"hosts.count\" = { from = 2, to = 2001, step = 1 }",
            MAX_RUNS,
        )
        .unwrap();
        assert!(!s.all_points_checked());
        assert_eq!(s.built.len(), 1);
        let p = s.point(3999).unwrap();
        assert_eq!(p.values, ["200", "2001"]);
        assert_eq!(p.scenario.hosts, 2001);
    }

    #[test]
    fn a_large_zip_reports_a_bad_point_when_it_is_built() {
        let list: Vec<String> = (0..3000)
            .map(|i| {
                if i == 1500 {
                    "-5".into()
                } else {
                    (100 + i).to_string()
                }
            })
            .collect();
        let s = sweep(
            &format!(
                "mode = \"zip\"\n\"hosts.count\" = {{ from = 2, to = 3001, step = 1 }}\n\"guest[0].requests_per_unit\" = [{}]",
                list.join(", ")
            ),
            MAX_RUNS,
        )
        .unwrap();
        assert!(s.point(1499).is_ok());
        let e = s.point(1500).unwrap_err().to_string();
        assert_eq!(
            e,
            "sweep point 1500 (hosts.count = 1502, guest[0].requests_per_unit = -5)"
        );
        let listed = s.runs().take_while(Result::is_ok).count();
        assert_eq!(listed, 1500 * s.runs_per_point());
    }
}
