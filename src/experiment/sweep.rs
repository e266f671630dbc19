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
//! are taken in file order. Every point is validated as a full scenario,
//! so errors name the key, what was expected and what was found. Runs are
//! numbered point by point, then replicate, then policy pair; a replicate's
//! seed depends only on the point's seed and the replicate index, so every
//! pair at a point sees the same workload (common random numbers).

use std::path::{Path, PathBuf};

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
    /// The points.
    pub points: Vec<Point>,
    /// Every run, in index order.
    pub runs: Vec<SweepRun>,
    /// The cap on runs it was loaded with (Slurm tasks load it with the same).
    pub max_runs: usize,
}

/// The most runs one sweep may expand to.
pub const MAX_RUNS: usize = 10_000_000;

impl Sweep {
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
        let params: Vec<String> = ranges.iter().map(|(k, _)| k.clone()).collect();
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
        let lists: Vec<Vec<toml::Value>> = ranges.iter().map(|(_, v)| v.expand()).collect();
        let combos: Vec<Vec<toml::Value>> = match mode {
            Mode::Grid => {
                let mut combos = vec![Vec::new()];
                for values in &lists {
                    let mut next = Vec::with_capacity(combos.len() * values.len());
                    for c in &combos {
                        for v in values {
                            let mut c = c.clone();
                            c.push(v.clone());
                            next.push(c);
                        }
                    }
                    combos = next;
                }
                combos
            }
            Mode::Zip => (0..point_count as usize)
                .map(|i| lists.iter().map(|v| v[i].clone()).collect())
                .collect(),
        };

        let mut cache = TraceCache::default();
        let mut points = Vec::with_capacity(combos.len());
        for (p, combo) in combos.into_iter().enumerate() {
            let mut table = root.clone();
            for (key, value) in params.iter().zip(&combo) {
                set_path(&mut table, key, value.clone())
                    .map_err(|e| invalid(&format!("sweep.\"{key}\""), &e, value.to_string()))?;
            }
            let values: Vec<String> = combo.iter().map(format_value).collect();
            let point_text = toml::to_string(&table)
                .map_err(|e| invalid("sweep", "values TOML can hold", e.to_string()))?;
            let scenario = Scenario::parse_cached(&point_text, path, &mut cache).map_err(|source| {
                SweepError::Point {
                    path: shown.clone(),
                    point: p,
                    values: params
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
                }
            })?;
            points.push(Point { values, scenario });
        }
        let Some(first) = points.first() else {
            return Err(invalid("sweep", "at least one point", "none".into()));
        };
        let name = first.scenario.name.clone();
        let output = first.scenario.output.clone();
        let total = points.iter().map(|p| p.scenario.pairs.len()).sum::<usize>() * replicates as usize;
        debug_assert!(total as u128 <= max_runs as u128, "counted before expanding");
        let mut runs = Vec::with_capacity(total);
        for (p, point) in points.iter().enumerate() {
            for replicate in 0..replicates {
                for pair in &point.scenario.pairs {
                    runs.push(SweepRun {
                        index: runs.len(),
                        point: p,
                        replicate,
                        seed: point.scenario.seed.wrapping_add(replicate as u64),
                        pair: *pair,
                    });
                }
            }
        }
        Ok(Sweep {
            name,
            file: path.to_path_buf(),
            sha256: sha256_hex(text),
            output,
            mode,
            replicates,
            params,
            points,
            runs,
            max_runs,
        })
    }
}

/// A swept key's values: a list, or an inclusive range `{ from, to, step }`
/// known by its length until expanded.
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

    /// The values (call only once the length is known to be within the cap).
    fn expand(&self) -> Vec<toml::Value> {
        match *self {
            Values::List(ref a) => a.clone(),
            Values::Int { from, step, len } => (0..len as i64)
                .map(|i| toml::Value::Integer(from + i * step))
                .collect(),
            // Each value from its index, so errors do not accumulate.
            Values::Float { from, step, len } => (0..len as i64)
                .map(|i| toml::Value::Float(round12(from + i as f64 * step)))
                .collect(),
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
