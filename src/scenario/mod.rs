//! Scenarios: parse the TOML file into raw serde structs ([`raw`]), then
//! validate them into a [`Scenario`] whose every field is checked.
//!
//! Errors name the file, the key (or the line, for syntax errors), what was
//! expected and what was found. Trace paths are relative to the scenario
//! file; the output folder is relative to the current directory.

pub mod fit;
pub mod raw;
pub mod vmreq;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use slivers_policy::{PlacementKind, ProvisioningKind, Resources};

use crate::engine::SimTime;
use crate::model::{MigrationParams, PowerParams, Quantum, SeriesForm, WebSizing};
use crate::rng::SimRng;
use crate::trace::generate::{BatchParams, WebParams, generate_batch, generate_web};
use crate::trace::{Gap, Series, SwfTrace, TraceError, read_series_csv_gaps, read_swf, time};
use raw::{RawDuration, RawGenerate, RawGuest, RawScenario, RawTrace};

/// Everything wrong a scenario can be.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or a key or type the scenario format does not have.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value out of range or inconsistent.
    #[error("{path}: key `{key}`: expected {expected}, found {found}")]
    Invalid {
        /// The file.
        path: String,
        /// The key path, e.g. `guest[1].vm_units`.
        key: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A trace the scenario names is unreadable or malformed.
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// One provisioning/placement pair to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    /// The broker's policy.
    pub provisioning: ProvisioningKind,
    /// The site's policy.
    pub placement: PlacementKind,
}

impl Pair {
    /// `provisioning/placement`, as in the paper's figure legend.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provisioning, self.placement)
    }

    /// The paper's four pairs: room-for-growth and migrating against
    /// follow-broker and energy-aware.
    pub fn figure3() -> Vec<Pair> {
        let mut v = Vec::new();
        for provisioning in [ProvisioningKind::RoomForGrowth, ProvisioningKind::Migrating] {
            for placement in [PlacementKind::FollowBroker, PlacementKind::EnergyAware] {
                v.push(Pair {
                    provisioning,
                    placement,
                });
            }
        }
        v
    }
}

/// Where a guest's trace comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceSource {
    /// A file, already read.
    File(PathBuf),
    /// A synthetic generator, run with the run's RNG.
    Generated,
}

/// A web guest's trace: read from a file, or generated per run.
#[derive(Debug, Clone, PartialEq)]
enum WebData {
    Series(Series),
    Generated(WebParams),
}

/// A batch guest's trace: read from a file, or generated per run.
#[derive(Debug, Clone, PartialEq)]
enum BatchData {
    Trace(SwfTrace),
    Generated(BatchParams),
}

/// A web guest's workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WebWorkload {
    /// Where the trace came from.
    pub source: TraceSource,
    data: WebData,
    /// Unix time of simulated time zero.
    pub start: i64,
    /// `Some(units)`: the peak of the window maps to this many units.
    peak_units: Option<f64>,
    /// Sizing, except `requests_per_unit` when `peak_units` is set.
    sizing: WebSizing,
}

impl WebWorkload {
    /// Its sizing as validated: `max_units` is the cluster's size in units;
    /// `requests_per_unit` is resolved per run when `peak_units` is set.
    pub fn sizing(&self) -> WebSizing {
        self.sizing
    }
}

/// A batch guest's workload.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchWorkload {
    /// Where the trace came from.
    pub source: TraceSource,
    data: BatchData,
    /// Unix time of simulated time zero.
    pub start: i64,
    /// Processors of a job per VM.
    pub procs_per_vm: u32,
    /// Sliver units of each VM.
    pub vm_units: u32,
    /// Jobs arrive at their recorded start (`submit + wait`) rather than submit.
    pub arrive_at_start: bool,
}

/// How fast a guest's VMs dirty memory: lognormal around a median, drawn
/// once per VM from the run's RNG (constant when `sigma` is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirtyRate {
    /// Median dirty rate, MiB/s.
    pub median_mibps: f64,
    /// Spread: the standard deviation of its natural log.
    pub sigma: f64,
}

impl DirtyRate {
    /// One VM's dirty rate.
    pub fn draw(&self, rng: &mut SimRng) -> f64 {
        if self.sigma > 0.0 {
            rng.lognormal(self.median_mibps.max(f64::MIN_POSITIVE).ln(), self.sigma)
        } else {
            self.median_mibps
        }
    }
}

/// A guest.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestSpec {
    /// A web service.
    Web {
        /// Its name.
        name: String,
        /// Its workload.
        workload: WebWorkload,
        /// Its VMs' dirty rate.
        dirty: DirtyRate,
    },
    /// A batch cluster.
    Batch {
        /// Its name.
        name: String,
        /// Its workload.
        workload: BatchWorkload,
        /// Its VMs' dirty rate.
        dirty: DirtyRate,
    },
}

impl GuestSpec {
    /// The guest's name.
    pub fn name(&self) -> &str {
        match self {
            GuestSpec::Web { name, .. } | GuestSpec::Batch { name, .. } => name,
        }
    }

    /// Its VMs' dirty rate.
    pub fn dirty(&self) -> DirtyRate {
        match self {
            GuestSpec::Web { dirty, .. } | GuestSpec::Batch { dirty, .. } => *dirty,
        }
    }
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (default: the file stem).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The base seed.
    pub seed: u64,
    /// The output folder.
    pub output: PathBuf,
    /// Simulated time span.
    pub duration: SimTime,
    /// Allocation period (lease term of renewable leases).
    pub period: SimTime,
    /// Number of hosts.
    pub hosts: u32,
    /// Capacity of each host.
    pub capacity: Resources,
    /// Sliver quantum.
    pub quantum: Quantum,
    /// Migration cost model.
    pub migration: MigrationParams,
    /// Host power model.
    pub power: PowerParams,
    /// Guests, in the order the broker serves them.
    pub guests: Vec<GuestSpec>,
    /// Policy pairs to run.
    pub pairs: Vec<Pair>,
    /// The form of the fidelity and migration series (`series`).
    pub series: SeriesForm,
    /// How each guest's trace window fits the scenario, in guest order.
    pub fit: Vec<fit::GuestFit>,
}

/// Up to this many hosts, `series = "auto"` keeps every change.
pub const FULL_SERIES_MAX_HOSTS: u32 = 1000;

/// One guest's workload for one run, in simulated time.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// Demand per period for a web guest, and its sizing.
    Web {
        /// Peak demand (requests per minute) of the period starting at each
        /// tick of [`Scenario::ticks`], in order.
        demand: Vec<f64>,
        /// Sizing with `requests_per_unit` resolved.
        sizing: WebSizing,
    },
    /// Job arrivals for a batch guest, in time order.
    Batch {
        /// `(arrival, job)`.
        jobs: Vec<(SimTime, crate::model::BatchJob)>,
        /// Jobs of the window too big for the whole cluster, left out.
        too_large: usize,
    },
}

const DAY: i64 = 86_400;

/// Parses `"500ms"`, `"90s"`, `"15m"`, `"1h"`, `"30d"` or integer seconds.
pub fn parse_duration(d: &RawDuration) -> Result<SimTime, String> {
    match d {
        RawDuration::Secs(s) if (0..=1_000_000_000_000).contains(s) => Ok(SimTime::from_secs(*s as u64)),
        RawDuration::Secs(s) => Err(format!("{s}")),
        RawDuration::Other(v) => Err(raw::describe_value(v)),
        RawDuration::Text(t) => {
            let t = t.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: f64 = num.parse().map_err(|_| format!("\"{t}\""))?;
            let ms_per = match unit.trim() {
                "ms" => 1.0,
                "s" | "" => 1e3,
                "m" | "min" => 6e4,
                "h" => 3.6e6,
                "d" => 8.64e7,
                _ => return Err(format!("\"{t}\"")),
            };
            let ms = n * ms_per;
            if !ms.is_finite() || !(0.0..=1e15).contains(&ms) {
                return Err(format!("\"{t}\""));
            }
            Ok(SimTime(ms.round() as u64))
        }
    }
}

struct Ctx<'a> {
    path: &'a str,
}

/// The keys every kind of scenario shares, validated.
struct Common {
    name: String,
    seed: u64,
    output: PathBuf,
    duration: SimTime,
}

impl Ctx<'_> {
    /// `name` (default: the file stem), `seed` (default 1), `output`
    /// (default `results/NAME`) and `duration` (default 30 days, positive).
    fn common(
        &self,
        path: &Path,
        name: Option<&str>,
        seed: Option<i64>,
        output: Option<&str>,
        duration: Option<&RawDuration>,
    ) -> Result<Common, ScenarioError> {
        let name = name.map(str::to_string).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(self.invalid("name", "a non-empty name without slashes", format!("\"{name}\"")));
        }
        let seed = match seed {
            Some(s) if s < 0 => return Err(self.invalid("seed", "a non-negative integer", s)),
            Some(s) => s as u64,
            None => 1,
        };
        if output.is_some_and(|o| o.trim().is_empty()) {
            return Err(self.invalid("output", "a folder path", "an empty string"));
        }
        let output = PathBuf::from(
            output
                .map(str::to_string)
                .unwrap_or_else(|| format!("results/{name}")),
        );
        let duration = self.duration("duration", duration, SimTime::from_secs(30 * DAY as u64))?;
        if duration == SimTime::ZERO {
            return Err(self.invalid("duration", "a positive duration", "0"));
        }
        Ok(Common {
            name,
            seed,
            output,
            duration,
        })
    }

    fn invalid(
        &self,
        key: impl Into<String>,
        expected: impl Into<String>,
        found: impl ToString,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_string(),
            key: key.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    fn positive(&self, key: &str, v: Option<i64>, default: i64, max: i64) -> Result<u64, ScenarioError> {
        let v = v.unwrap_or(default);
        if v <= 0 || v > max {
            return Err(self.invalid(key, format!("an integer from 1 to {max}"), v));
        }
        Ok(v as u64)
    }

    fn count(&self, key: &str, v: Option<i64>, default: i64, max: i64) -> Result<u64, ScenarioError> {
        let v = v.unwrap_or(default);
        if v < 0 || v > max {
            return Err(self.invalid(key, format!("an integer from 0 to {max}"), v));
        }
        Ok(v as u64)
    }

    fn fraction(
        &self,
        key: &str,
        v: Option<f64>,
        default: f64,
        lo: f64,
        hi: f64,
    ) -> Result<f64, ScenarioError> {
        let v = v.unwrap_or(default);
        if !(v.is_finite() && v >= lo && v <= hi) {
            return Err(self.invalid(key, format!("a number from {lo} to {hi}"), v));
        }
        Ok(v)
    }

    fn duration(
        &self,
        key: &str,
        v: Option<&RawDuration>,
        default: SimTime,
    ) -> Result<SimTime, ScenarioError> {
        match v {
            None => Ok(default),
            Some(d) => parse_duration(d).map_err(|found| {
                self.invalid(
                    key,
                    "a duration of at most 10^12 s, such as 90, \"90s\", \"15m\", \"1h\" or \"30d\"",
                    found,
                )
            }),
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file, reading its traces.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Validates `text` as if read from `path` (traces resolve next to it).
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        Self::parse_cached(text, path, &mut TraceCache::default())
    }

    /// [`Scenario::parse`], reading each trace file at most once per cache
    /// (a sweep validates many variants of one file).
    pub fn parse_cached(text: &str, path: &Path, cache: &mut TraceCache) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: shown.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let cx = Ctx { path: &shown };
        if raw.sweep.is_some() {
            return Err(cx.invalid(
                "sweep",
                "a scenario without a [sweep] table (run sweeps with `slivers sweep`)",
                "a [sweep] table",
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let sha256 = hex(&Sha256::digest(text.as_bytes()));

        let Common {
            name,
            seed,
            output,
            duration,
        } = cx.common(
            path,
            raw.name.as_deref(),
            raw.seed,
            raw.output.as_deref(),
            raw.duration.as_ref(),
        )?;
        let period = cx.duration("period", raw.period.as_ref(), SimTime::from_secs(3600))?;
        if duration.0 / period.0.max(1) > 10_000_000 {
            return Err(cx.invalid(
                "period",
                format!(
                    "at most 10^7 periods in the duration, so a period of at least {}",
                    SimTime(duration.0 / 10_000_000)
                ),
                format!("{period}"),
            ));
        }
        if period < SimTime::from_secs(1) || period > duration {
            return Err(cx.invalid(
                "period",
                "a duration from 1s up to the scenario's duration",
                format!("{period}"),
            ));
        }

        let h = raw.hosts.clone().unwrap_or(raw::RawHosts {
            count: None,
            cpu_millicores: None,
            memory_mib: None,
            bandwidth_mbps: None,
            disk_gib: None,
        });
        let hosts = cx.positive("hosts.count", h.count, 100, 10_000_000)? as u32;
        let big = 1 << 40;
        let capacity = Resources::new(
            cx.positive("hosts.cpu_millicores", h.cpu_millicores, 8000, big)?,
            cx.positive("hosts.memory_mib", h.memory_mib, 16384, big)?,
            cx.positive("hosts.bandwidth_mbps", h.bandwidth_mbps, 1000, big)?,
            cx.positive("hosts.disk_gib", h.disk_gib, 200, big)?,
        );

        let s = raw.sliver.clone().unwrap_or(raw::RawSliver {
            quantum: None,
            max_units: None,
        });
        let q = s.quantum.unwrap_or(0.5);
        if !(q.is_finite() && q > 0.0 && q <= 1.0) {
            return Err(cx.invalid(
                "sliver.quantum",
                "a fraction of a host in (0, 1] (a sliver is at most one host)",
                q,
            ));
        }
        let mut unit = Resources::ZERO;
        for (u, c) in unit.0.iter_mut().zip(capacity.0) {
            *u = (c as f64 * q).floor() as u64;
        }
        if unit.0.contains(&0) {
            return Err(cx.invalid(
                "sliver.quantum",
                "a quantum that leaves every dimension at least 1",
                q,
            ));
        }
        let fit = (0..4).map(|d| capacity.0[d] / unit.0[d]).min().unwrap_or(1);
        if fit > 1_000_000 {
            return Err(cx.invalid(
                "sliver.quantum",
                "at most 10^6 units per host",
                format!("{q} ({fit} units)"),
            ));
        }
        let max_units = match s.max_units {
            None => fit,
            Some(m) if m >= 1 && (m as u64) <= fit => m as u64,
            Some(m) => {
                return Err(cx.invalid(
                    "sliver.max_units",
                    format!("at most {fit} units (a sliver is at most one host of {capacity})"),
                    m,
                ));
            }
        } as u32;
        let quantum = Quantum { unit, max_units };

        let m = raw.migration.clone().unwrap_or_default();
        let d = MigrationParams::default();
        let migration = MigrationParams {
            bandwidth_mbps: cx.positive(
                "migration.bandwidth_mbps",
                m.bandwidth_mbps,
                d.bandwidth_mbps as i64,
                big,
            )?,
            mode: m.mode.unwrap_or(d.mode),
            max_downtime: cx.duration("migration.max_downtime", m.max_downtime.as_ref(), d.max_downtime)?,
            max_rounds: cx.positive("migration.max_rounds", m.max_rounds, d.max_rounds as i64, 10_000)?
                as u32,
            max_sent_factor: cx.fraction(
                "migration.max_sent_factor",
                m.max_sent_factor,
                d.max_sent_factor,
                1.0,
                1000.0,
            )?,
            on_non_convergence: m.on_non_convergence.unwrap_or(d.on_non_convergence),
            switchover: cx.duration("migration.switchover", m.switchover.as_ref(), d.switchover)?,
            postcopy_working_set_mib: cx.count(
                "migration.postcopy_working_set_mib",
                m.postcopy_working_set_mib,
                d.postcopy_working_set_mib as i64,
                big,
            )?,
            postcopy_slowdown: cx.fraction(
                "migration.postcopy_slowdown",
                m.postcopy_slowdown,
                d.postcopy_slowdown,
                0.0,
                1.0,
            )?,
            suspend: cx.duration("migration.suspend", m.suspend.as_ref(), d.suspend)?,
            resume: cx.duration("migration.resume", m.resume.as_ref(), d.resume)?,
            op_latency: cx.duration("migration.op_latency", m.op_latency.as_ref(), d.op_latency)?,
        };

        let e = raw.energy.clone().unwrap_or_default();
        let d = PowerParams::default();
        let watts = |key: &str, v: Option<f64>, default: f64| cx.fraction(key, v, default, 0.0, 1e6);
        let idle_watts = watts("energy.idle_watts", e.idle_watts, d.idle_watts)?;
        let peak_watts = watts("energy.peak_watts", e.peak_watts, d.peak_watts.max(idle_watts))?;
        if peak_watts < idle_watts {
            return Err(cx.invalid(
                "energy.peak_watts",
                format!("at least idle_watts ({idle_watts})"),
                peak_watts,
            ));
        }
        let power = PowerParams {
            idle_watts,
            peak_watts,
            boot: cx.duration("energy.boot", e.boot.as_ref(), d.boot)?,
            boot_watts: watts("energy.boot_watts", e.boot_watts, peak_watts)?,
            shutdown: cx.duration("energy.shutdown", e.shutdown.as_ref(), d.shutdown)?,
            shutdown_watts: watts("energy.shutdown_watts", e.shutdown_watts, idle_watts)?,
        };

        if raw.guest.is_empty() {
            return Err(cx.invalid("guest", "at least one [[guest]] table", "none"));
        }
        let cluster = Cluster {
            seed,
            hosts,
            capacity,
            quantum,
            duration,
            period,
        };
        let mut guests = Vec::new();
        let mut fits = Vec::new();
        for (i, g) in raw.guest.iter().enumerate() {
            let (guest, fit) = validate_guest(&cx, base, i, g, &cluster, cache)?;
            if let Some((_, expected, found)) = fit.error() {
                return Err(cx.invalid(format!("guest[{i}].trace"), expected, found));
            }
            guests.push(guest);
            fits.push(fit);
        }
        let mut names: Vec<&str> = guests.iter().map(|g| g.name()).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(cx.invalid(
                "guest.name",
                "distinct guest names",
                format!("\"{}\" twice", w[0]),
            ));
        }

        let pairs = match &raw.pairs {
            None => Pair::figure3(),
            Some(ps) if ps.is_empty() => {
                return Err(cx.invalid("pairs", "at least one pair", "an empty list"));
            }
            Some(ps) => ps
                .iter()
                .map(|p| Pair {
                    provisioning: p.provisioning,
                    placement: p.placement,
                })
                .collect(),
        };
        if let Some((i, p)) = pairs.iter().enumerate().find(|(i, p)| pairs[..*i].contains(p)) {
            let first = pairs.iter().position(|q| q == p).unwrap_or(0);
            return Err(cx.invalid(
                format!("pairs[{i}]"),
                "distinct pairs",
                format!("{} again (pairs[{first}])", p.label()),
            ));
        }
        let series = match raw.series.unwrap_or(raw::RawSeries::Auto) {
            raw::RawSeries::Changes => SeriesForm::Changes,
            raw::RawSeries::Periods => SeriesForm::Periods(period),
            raw::RawSeries::Auto if hosts <= FULL_SERIES_MAX_HOSTS => SeriesForm::Changes,
            raw::RawSeries::Auto => SeriesForm::Periods(period),
        };

        Ok(Scenario {
            name,
            file: path.to_path_buf(),
            sha256,
            seed,
            output,
            duration,
            period,
            hosts,
            capacity,
            quantum,
            migration,
            power,
            guests,
            pairs,
            series,
            fit: fits,
        })
    }

    /// The allocation period ticks: `0, period, 2 period, ...` before `duration`.
    pub fn ticks(&self) -> impl Iterator<Item = SimTime> + '_ {
        (0u64..)
            .map(|k| SimTime(k * self.period.0))
            .take_while(|t| *t < self.duration)
    }

    /// Every guest's workload for a run with `rng` (used by generated traces
    /// only; file traces are the same for every seed).
    pub fn workloads(&self, rng: &mut SimRng) -> Vec<Workload> {
        self.guests.iter().map(|g| self.workload(g, rng)).collect()
    }

    /// Sliver units the whole cluster holds.
    pub fn cluster_units(&self) -> u64 {
        self.hosts as u64 * self.quantum.max_units as u64
    }

    fn workload(&self, g: &GuestSpec, rng: &mut SimRng) -> Workload {
        let span = (self.duration.as_millis() / 1000) as i64;
        match g {
            GuestSpec::Web { workload: w, .. } => {
                let generated;
                let series = match &w.data {
                    WebData::Series(s) => s,
                    WebData::Generated(p) => {
                        generated = generate_web(p, rng);
                        &generated
                    }
                };
                let start_ms = w.start as i128 * 1000;
                let demand = self
                    .ticks()
                    .map(|t| {
                        let from = start_ms + t.0 as i128;
                        peak_overlapping(series, from, from + self.period.0 as i128)
                    })
                    .collect();
                let mut sizing = w.sizing;
                if let Some(units) = w.peak_units {
                    let peak = peak_overlapping(series, start_ms, start_ms + self.duration.0 as i128);
                    sizing.requests_per_unit = if peak > 0.0 { peak / units } else { 1.0 };
                }
                Workload::Web { demand, sizing }
            }
            GuestSpec::Batch { workload: w, .. } => {
                let generated;
                let trace = match &w.data {
                    BatchData::Trace(t) => t,
                    BatchData::Generated(p) => {
                        generated = generate_batch(p, rng);
                        &generated
                    }
                };
                let cluster_vms = cluster_vms(&self.capacity, &self.quantum, self.hosts, w.vm_units);
                let mut jobs = Vec::new();
                let mut too_large = 0;
                for j in &trace.jobs {
                    let at = if w.arrive_at_start { j.start() } else { j.submit };
                    if at < w.start || at >= w.start + span {
                        continue;
                    }
                    let vms = j.procs.div_ceil(w.procs_per_vm).max(1);
                    if vms as u64 > cluster_vms {
                        too_large += 1;
                        continue;
                    }
                    let job = crate::model::BatchJob {
                        id: j.id,
                        run: SimTime::from_secs(j.run),
                        vms,
                        vm_units: w.vm_units,
                    };
                    jobs.push((SimTime::from_secs((at - w.start) as u64), job));
                }
                jobs.sort_by_key(|(t, j)| (*t, j.id));
                Workload::Batch { jobs, too_large }
            }
        }
    }
}

/// VMs of `vm_units` the whole cluster holds: those that fit one host in
/// every dimension, times the hosts.
fn cluster_vms(capacity: &Resources, quantum: &Quantum, hosts: u32, vm_units: u32) -> u64 {
    let vm = quantum.size(vm_units);
    let per_host = (0..4)
        .map(|d| capacity.0[d].checked_div(vm.0[d]).unwrap_or(u64::MAX))
        .min()
        .unwrap_or(0);
    per_host.saturating_mul(hosts as u64)
}

/// What validating a guest needs to know of the rest of the scenario.
struct Cluster {
    /// The scenario's seed (a generated web trace's peak is sampled with it).
    seed: u64,
    hosts: u32,
    capacity: Resources,
    quantum: Quantum,
    duration: SimTime,
    period: SimTime,
}

/// The largest value among the points of `series` whose interval
/// `[t, t + step)` overlaps `[from_ms, to_ms)` (milliseconds since the
/// epoch); 0 if none does.
fn peak_overlapping(series: &Series, from_ms: i128, to_ms: i128) -> f64 {
    let step = series.step.max(1) as i128 * 1000;
    let origin = series.start as i128 * 1000;
    let first = (from_ms - origin).div_euclid(step).max(0);
    let last = (to_ms - origin + step - 1)
        .div_euclid(step)
        .min(series.values.len() as i128);
    if first >= last {
        return 0.0;
    }
    series.values[first as usize..last as usize]
        .iter()
        .copied()
        .fold(0.0, f64::max)
}

/// Reads a scenario (or sweep) file as text. A file that is not UTF-8 text
/// (an archive or a trace given by mistake) is a [`ScenarioError::Parse`]
/// saying what it looks like ("a gzip archive", "a tar archive", ...), never
/// quoting its bytes.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Io {
        path: shown.clone(),
        source,
    })?;
    let not_text = |found: String| ScenarioError::Parse {
        path: shown.clone(),
        message: format!("expected a TOML scenario (UTF-8 text), found {found}"),
    };
    if let Some(kind) = crate::trace::sniff_binary(&bytes) {
        return Err(not_text(kind.to_string()));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        not_text(format!("a byte that is not UTF-8 on line {line}"))
    })
}

/// Traces already read, by path.
#[derive(Debug, Default)]
pub struct TraceCache {
    series: BTreeMap<PathBuf, (Series, Vec<Gap>)>,
    swf: BTreeMap<PathBuf, SwfTrace>,
}

impl TraceCache {
    /// The series as read, and the points missing from the file.
    fn series(&mut self, path: &Path) -> Result<(Series, Vec<Gap>), TraceError> {
        if let Some(s) = self.series.get(path) {
            return Ok(s.clone());
        }
        let s = read_series_csv_gaps(path)?;
        self.series.insert(path.to_path_buf(), s.clone());
        Ok(s)
    }

    fn swf(&mut self, path: &Path) -> Result<SwfTrace, TraceError> {
        if let Some(t) = self.swf.get(path) {
            return Ok(t.clone());
        }
        let t = read_swf(path)?;
        self.swf.insert(path.to_path_buf(), t.clone());
        Ok(t)
    }
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn default_start(
    cx: &Ctx,
    key: &str,
    start: &Option<toml::Value>,
    fallback: i64,
) -> Result<i64, ScenarioError> {
    let Some(v) = start else {
        return Ok(fallback);
    };
    raw::start_datetime(v)
        .unwrap_or_else(|| Err(raw::describe_value(v)))
        .map_err(|found| cx.invalid(key, START_FORMS, found))
}

/// What a `start` date-time may be, for errors.
const START_FORMS: &str = "a UTC date-time such as \"1998-05-01\" or \"1998-05-01 00:00:00\" (quoted or not; 'T' between and a trailing 'Z' allowed)";

/// Generated traces start on this Monday, like the embedded ones.
const GENERATED_START: i64 = 1_767_571_200; // 2026-01-05 00:00:00 UTC

/// What a generated trace of `days` days covers: `[from, to)`, unix seconds.
fn generated_span(days: u32) -> (i64, i64) {
    (GENERATED_START, GENERATED_START + days as i64 * DAY)
}

/// A `start` whose window of `span` seconds misses the generated trace of
/// `days` days (which would run on no demand at all) is an error.
fn generated_reaches(cx: &Ctx, key: &str, start: i64, span: i64, days: u32) -> Result<(), ScenarioError> {
    let (from, to) = generated_span(days);
    if start < to && start.saturating_add(span) > from {
        return Ok(());
    }
    Err(cx.invalid(
        key,
        format!(
            "a start whose window reaches the generated trace, which covers {} .. {} (leave `start` out to begin with it)",
            time::format_datetime(from),
            time::format_datetime(to)
        ),
        format!(
            "{} (a window of {:.1} days)",
            time::format_datetime(start),
            span as f64 / 86_400.0
        ),
    ))
}

fn generator<'a>(
    cx: &Ctx,
    key: &str,
    t: &'a Option<RawTrace>,
    kind: &str,
) -> Result<Option<&'a RawGenerate>, ScenarioError> {
    match t {
        None => Err(cx.invalid(key, "a trace path or { generate = \"...\" }", "nothing")),
        Some(RawTrace::Path(_)) => Ok(None),
        Some(RawTrace::Other(v)) => Err(cx.invalid(
            key,
            format!("a trace path (a string) or a generator table {{ generate = \"{kind}\", ... }}"),
            raw::describe_mismatch::<RawGenerate>(v),
        )),
        Some(RawTrace::Generate(g)) if g.generate == kind => Ok(Some(g)),
        Some(RawTrace::Generate(g)) => Err(cx.invalid(
            format!("{key}.generate"),
            format!("\"{kind}\" for this guest"),
            format!("\"{}\"", g.generate),
        )),
    }
}

fn validate_guest(
    cx: &Ctx,
    base: &Path,
    i: usize,
    g: &RawGuest,
    cluster: &Cluster,
    cache: &mut TraceCache,
) -> Result<(GuestSpec, fit::GuestFit), ScenarioError> {
    let (duration, max_units) = (cluster.duration, cluster.quantum.max_units);
    let key = |k: &str| format!("guest[{i}].{k}");
    let mut report = fit::GuestFit {
        key: format!("guest[{i}]"),
        guest: String::new(),
        report: String::new(),
        findings: Vec::new(),
    };
    let days = duration.as_millis().div_ceil(86_400_000) as u32;
    let span = (duration.as_millis() / 1000) as i64;
    let resolve = |p: &str| base.join(p);
    match g {
        RawGuest::Web(w) => {
            let name = w.name.clone().unwrap_or_else(|| "web".into());
            let mut read = None;
            let (source, data, start) = match generator(cx, &key("trace"), &w.trace, "web")? {
                Some(gen_) => {
                    let p = WebParams {
                        start: GENERATED_START,
                        days,
                        base_rate: cx.fraction(
                            &key("trace.base_rate"),
                            gen_.base_rate,
                            2000.0,
                            1e-3,
                            1e12,
                        )?,
                        flash_crowds: cx.count(&key("trace.flash_crowds"), gen_.flash_crowds, 3, 1000)?
                            as u32,
                    };
                    reject_batch_keys(cx, &key("trace"), gen_)?;
                    p.validate()
                        .map_err(|e| cx.invalid(key("trace"), "valid generator parameters", e))?;
                    let start = default_start(cx, &key("start"), &w.start, GENERATED_START)?;
                    generated_reaches(cx, &key("start"), start, span, days)?;
                    (TraceSource::Generated, WebData::Generated(p), start)
                }
                None => {
                    let Some(RawTrace::Path(p)) = &w.trace else {
                        unreachable!()
                    };
                    let file = resolve(p);
                    let (raw, gaps) = cache.series(&file)?;
                    // Demand is requests per minute whatever the file's step.
                    let series = raw.per_minute();
                    let start = default_start(cx, &key("start"), &w.start, raw.start)?;
                    if series.max_in(start, start + span) <= 0.0 {
                        return Err(cx.invalid(
                            key("start"),
                            format!(
                                "a window with demand inside the trace ({} .. {})",
                                time::format_datetime(series.start),
                                time::format_datetime(series.end())
                            ),
                            time::format_datetime(start),
                        ));
                    }
                    read = Some((raw, gaps));
                    (TraceSource::File(file), WebData::Series(series), start)
                }
            };
            let headroom = cx.fraction(&key("headroom"), w.headroom, 0.1, 0.0, 10.0)?;
            let hysteresis = cx.fraction(&key("hysteresis"), w.hysteresis, 0.2, 0.0, 0.99)?;
            let min_units = cx.count(&key("min_units"), w.min_units, 1, 1 << 30)? as u32;
            let (peak_units, rpu) = match (w.peak_units, w.requests_per_unit) {
                (Some(_), Some(_)) => {
                    return Err(cx.invalid(
                        key("peak_units"),
                        "either peak_units or requests_per_unit, not both",
                        "both",
                    ));
                }
                (None, Some(r)) => (
                    None,
                    cx.fraction(&key("requests_per_unit"), Some(r), 0.0, 1e-9, 1e15)?,
                ),
                (p, None) => {
                    let p = cx.fraction(&key("peak_units"), p.or(Some(100.0)), 0.0, 1.0, 1e9)?;
                    (Some(p), 1.0)
                }
            };
            let cluster_units = cluster.hosts as u64 * max_units as u64;
            let sizing = WebSizing {
                requests_per_unit: rpu,
                headroom,
                hysteresis,
                min_units,
                // A guest never asks for more than the whole cluster.
                max_units: cluster_units.min(u32::MAX as u64) as u32,
            };
            let units = |top: f64| match peak_units {
                Some(u) => u * (1.0 + headroom),
                None => top * (1.0 + headroom) / rpu,
            };
            let window = fit::Window { start, span };
            match (&read, &data) {
                (Some((raw, gaps)), WebData::Series(minute)) => {
                    fit::web_file(&mut report, raw, gaps, minute, window, units, cluster_units)
                }
                (_, WebData::Generated(p)) => {
                    fit::generated(
                        &mut report,
                        window,
                        generated_span(days),
                        fit::COVERAGE_ERROR_BELOW,
                        "web".into(),
                    );
                    // Sized by `requests_per_unit`, the peak depends on the
                    // draw: one sample with the scenario's seed stands for it.
                    let sampled = peak_units.is_none().then(|| {
                        let sample = generate_web(p, &mut SimRng::seed_from_u64(cluster.seed));
                        (sample.max_in(start, start + span), cluster.seed)
                    });
                    let top = sampled.map_or(0.0, |s| s.0);
                    fit::web_peak(&mut report, units(top), cluster_units, sampled);
                }
                (_, WebData::Series(_)) => unreachable!("a series is read from a file"),
            }
            let accept = accepted(cx, &key("accept"), &w.accept)?;
            report.guest = name.clone();
            report.accept(&accept);
            let spec = GuestSpec::Web {
                dirty: dirty_rate(cx, &key, w.dirty_mibps, w.dirty_sigma, 25.0)?,
                name,
                workload: WebWorkload {
                    source,
                    data,
                    start,
                    peak_units,
                    sizing,
                },
            };
            Ok((spec, report))
        }
        RawGuest::Batch(b) => {
            let name = b.name.clone().unwrap_or_else(|| "batch".into());
            let (source, data, start) = match generator(cx, &key("trace"), &b.trace, "batch")? {
                Some(gen_) => {
                    if gen_.base_rate.is_some() || gen_.flash_crowds.is_some() {
                        return Err(cx.invalid(
                            key("trace"),
                            "only nodes and target_load for a batch generator",
                            "web keys",
                        ));
                    }
                    let p = BatchParams {
                        start: GENERATED_START,
                        days,
                        nodes: cx.positive(&key("trace.nodes"), gen_.nodes, 100, 1 << 24)? as u32,
                        target_load: cx.fraction(
                            &key("trace.target_load"),
                            gen_.target_load,
                            0.35,
                            0.0,
                            1.0,
                        )?,
                    };
                    let start = default_start(cx, &key("start"), &b.start, GENERATED_START)?;
                    p.validate()
                        .map_err(|e| cx.invalid(key("trace"), "valid generator parameters", e))?;
                    generated_reaches(cx, &key("start"), start, span, days)?;
                    (TraceSource::Generated, BatchData::Generated(p), start)
                }
                None => {
                    let Some(RawTrace::Path(p)) = &b.trace else {
                        unreachable!()
                    };
                    let file = resolve(p);
                    let trace = cache.swf(&file)?;
                    let first = trace.jobs.first().map(|j| j.submit).unwrap_or(trace.unix_start);
                    let start = default_start(cx, &key("start"), &b.start, first)?;
                    (TraceSource::File(file), BatchData::Trace(trace), start)
                }
            };
            let procs_per_vm = cx.positive(&key("procs_per_vm"), b.procs_per_vm, 1, 1 << 30)? as u32;
            let vm_units = match b.vm_units.unwrap_or(1) {
                u if u >= 1 && u <= max_units as i64 => u as u32,
                u => {
                    return Err(cx.invalid(
                        key("vm_units"),
                        format!("from 1 to {max_units} units (a VM is at most one host)"),
                        u,
                    ));
                }
            };
            let arrive_at_start = match b.arrival.as_deref() {
                None | Some("start") => true,
                Some("submit") => false,
                Some(other) => {
                    return Err(cx.invalid(
                        key("arrival"),
                        "\"start\" or \"submit\"",
                        format!("\"{other}\""),
                    ));
                }
            };
            let shape = fit::BatchShape {
                procs_per_vm,
                vm_units,
                arrive_at_start,
                cluster_vms: cluster_vms(&cluster.capacity, &cluster.quantum, cluster.hosts, vm_units),
                period: (cluster.period.as_millis() / 1000) as i64,
            };
            let window = fit::Window { start, span };
            match &data {
                BatchData::Trace(trace) => {
                    fit::batch_file(&mut report, trace, window, &shape).map_err(|o| {
                        cx.invalid(
                            key("start"),
                            format!(
                                "a start whose window reaches the trace's jobs, which arrive from {} to {}",
                                time::format_datetime(o.first),
                                time::format_datetime(o.last)
                            ),
                            format!(
                                "{} (a window of {:.1} days)",
                                time::format_datetime(start),
                                span as f64 / 86_400.0
                            ),
                        )
                    })?
                }
                BatchData::Generated(p) => {
                    fit::batch_generated(&mut report, window, generated_span(days), &shape, p)
                }
            }
            let accept = accepted(cx, &key("accept"), &b.accept)?;
            report.guest = name.clone();
            report.accept(&accept);
            let spec = GuestSpec::Batch {
                dirty: dirty_rate(cx, &key, b.dirty_mibps, b.dirty_sigma, 50.0)?,
                name,
                workload: BatchWorkload {
                    source,
                    data,
                    start,
                    procs_per_vm,
                    vm_units,
                    arrive_at_start,
                },
            };
            Ok((spec, report))
        }
    }
}

/// The checks a guest's `accept` key names.
/// The checks a guest's `accept` key names: a list of check names, or one
/// name alone.
fn accepted(cx: &Ctx, key: &str, accept: &Option<toml::Value>) -> Result<Vec<fit::Check>, ScenarioError> {
    let expected = || {
        let names: Vec<String> = (fit::Check::ALL.iter())
            .map(|c| format!("\"{}\"", c.name()))
            .collect();
        format!("a list of checks from {}", names.join(", "))
    };
    let one = |v: &toml::Value| match v {
        toml::Value::String(a) => {
            fit::Check::parse(a).ok_or_else(|| cx.invalid(key, expected(), format!("\"{a}\"")))
        }
        other => Err(cx.invalid(key, expected(), raw::describe_value(other))),
    };
    match accept {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items.iter().map(one).collect(),
        Some(v) => one(v).map(|c| vec![c]),
    }
}

fn dirty_rate(
    cx: &Ctx,
    key: &dyn Fn(&str) -> String,
    median: Option<f64>,
    sigma: Option<f64>,
    default: f64,
) -> Result<DirtyRate, ScenarioError> {
    Ok(DirtyRate {
        median_mibps: cx.fraction(&key("dirty_mibps"), median, default, 0.0, 1e6)?,
        sigma: cx.fraction(&key("dirty_sigma"), sigma, 0.0, 0.0, 5.0)?,
    })
}

fn reject_batch_keys(cx: &Ctx, key: &str, g: &RawGenerate) -> Result<(), ScenarioError> {
    if g.nodes.is_some() || g.target_load.is_some() {
        return Err(cx.invalid(
            key,
            "only base_rate and flash_crowds for a web generator",
            "batch keys",
        ));
    }
    Ok(())
}
