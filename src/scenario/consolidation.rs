//! Consolidation scenarios: a file with a `[consolidation]` table. VMs of
//! fixed types run for the whole scenario while a per-VM utilisation trace
//! says how much of its CPU each one uses; every `period` the site may
//! migrate VMs to switch hosts off (or to relieve overloaded ones). This is
//! the dynamic-consolidation experiment of Beloglazov and Buyya (CCPE
//! 2012) on PlanetLab traces; see `docs/consolidation.md`.
//!
//! ```toml
//! duration = "24h"
//! period = "5m"                   # the consolidation interval (default 5m)
//! [[host_type]]
//! name = "HP ProLiant ML110 G4"
//! count = 400
//! cores = 2
//! mips = 1860                     # per core
//! memory_mib = 4096
//! bandwidth_mbps = 1000
//! power = "ml110-g4"              # or { table = [11 watts] } or { idle_w, max_w }
//! [[vm_type]]
//! name = "High-CPU Medium"
//! mips = 2500
//! memory_mib = 870
//! [consolidation]
//! trace = { planetlab = "../traces/planetlab/20110303" }
//! policies = ["npa", "dvfs", "thr-mmt-0.8", "lr-mmt-1.2"]
//! ```
//!
//! Capacities are [`Resources`] whose CPU dimension is in MIPS (not the
//! millicores of the other kinds of scenario); memory is MiB, bandwidth
//! Mbit/s and disk GiB, as everywhere.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use slivers_policy::consolidation::{Consolidation, PlaceBy, PowerModel, RepackLimits};
use slivers_policy::{DIM_NAMES, DIMS, Resources};

use super::ScenarioError;
use super::context::{Ctx, read_text};
use super::header::{Header, PeriodUse, deref_header, raw_header};
use super::raw::{RawDuration, RawHosts, RawMigration};
use crate::model::MigrationParams;
use crate::rng::SimRng;
use crate::trace::utilization::{self, UtilGenParams, UtilizationTrace};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawConsScenario {
    pub name: Option<String>,
    pub seed: Option<i64>,
    pub output: Option<String>,
    pub duration: Option<RawDuration>,
    pub period: Option<RawDuration>,
    /// Refused with advice: hosts are `[[host_type]]` tables here.
    pub hosts: Option<RawHosts>,
    #[serde(default)]
    pub host_type: Vec<RawHostType>,
    #[serde(default)]
    pub vm_type: Vec<RawVmType>,
    pub migration: Option<RawMigration>,
    pub consolidation: RawConsolidation,
}

/// `[[host_type]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawHostType {
    pub name: Option<String>,
    pub count: Option<i64>,
    pub cores: Option<i64>,
    pub mips: Option<i64>,
    pub memory_mib: Option<i64>,
    pub bandwidth_mbps: Option<i64>,
    pub disk_gib: Option<i64>,
    pub power: Option<RawPower>,
}

/// A power model: a preset's name, `{ table = [...] }` or `{ idle_w, max_w }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum RawPower {
    Preset(String),
    Table { table: Vec<f64> },
    Linear { idle_w: f64, max_w: f64 },
    Other(toml::Value),
}

/// `[[vm_type]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawVmType {
    pub name: Option<String>,
    pub mips: Option<i64>,
    pub memory_mib: Option<i64>,
    pub bandwidth_mbps: Option<i64>,
    pub disk_gib: Option<i64>,
}

/// `[consolidation]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawConsolidation {
    pub trace: toml::Value,
    pub vms: Option<i64>,
    pub place_by: Option<String>,
    pub overbooking: Option<toml::Table>,
    pub migration: Option<MigrationModelKind>,
    pub dirty_mibps: Option<f64>,
    pub policies: Option<Vec<toml::Value>>,
}

/// How migrations take time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationModelKind {
    /// CloudSim's: RAM / (bandwidth / 2), the VM losing 10 % of its CPU
    /// meanwhile, no network contention.
    Cloudsim,
    /// slivers' own: the `[migration]` model (pre-copy rounds by default)
    /// over each host's shared link.
    Slivers,
}

impl MigrationModelKind {
    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            MigrationModelKind::Cloudsim => "cloudsim",
            MigrationModelKind::Slivers => "slivers",
        }
    }
}

/// One kind of host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostType {
    /// Its name.
    pub name: String,
    /// How many.
    pub count: u32,
    /// Capacity: CPU in MIPS (cores × MIPS per core), memory MiB, bandwidth
    /// Mbit/s, disk GiB.
    pub capacity: Resources,
    /// Its cores (a VM needs at most one core's MIPS).
    pub cores: u64,
    /// Watts against CPU utilisation.
    pub power: PowerModel,
}

/// One kind of VM.
#[derive(Debug, Clone, PartialEq)]
pub struct VmType {
    /// Its name.
    pub name: String,
    /// Its sliver: CPU in MIPS, memory MiB, bandwidth Mbit/s, disk GiB.
    pub size: Resources,
}

/// Where the utilisation comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum UtilSource {
    /// A PlanetLab folder (one file per VM).
    PlanetLab(PathBuf),
    /// A tidy CSV `vm_id,time_s,cpu`.
    Tidy(PathBuf),
    /// An OpenDC-style folder with `tasks.csv` and `fragments.csv`.
    OpenDc(PathBuf),
    /// The synthetic generator, run with the scenario's seed.
    Generated {
        /// VMs generated.
        vms: u32,
    },
}

/// A validated consolidation scenario.
#[derive(Debug, Clone)]
pub struct ConsScenario {
    /// The keys every scenario has; `period` is the consolidation interval
    /// (and the step of `timeline.csv`). `hosts` is the total of the host
    /// types and `capacity` the first type's.
    pub header: Header,
    /// The kinds of host, in file order. Host `i` is of the type reached
    /// by dealing hosts to the types in turn (CloudSim's `i % types` when
    /// the counts are equal), skipping types already dealt their count.
    pub host_types: Vec<HostType>,
    /// The kinds of VM. VM `j` of `n` is of type `j / ceil(n / types)`
    /// (CloudSim's blocks), unless a trace file gives its size (a generated
    /// trace's sizes are dropped: the types decide).
    pub vm_types: Vec<VmType>,
    /// Where utilisation comes from.
    pub source: UtilSource,
    /// The trace (read once; generated traces are made per seed).
    trace: Option<UtilizationTrace>,
    /// At most this many VMs of the trace (the first in trace order).
    pub vms: Option<u32>,
    /// What the site places by.
    pub place_by: PlaceBy,
    /// Reservations on a host may reach this multiple of its capacity, per
    /// dimension (1 by default; with [`PlaceBy::Use`] the CPU ratio is
    /// unused: current demands are checked instead).
    pub overbooking: [f64; DIMS],
    /// How migrations take time.
    pub migration_model: MigrationModelKind,
    /// `[migration]` (used by the `slivers` model).
    pub migration: MigrationParams,
    /// MiB/s a VM dirties at 100 % CPU (`slivers` model; proportional below).
    pub dirty_mibps: f64,
    /// The policies to run, in file order.
    pub policies: Vec<Consolidation>,
}

deref_header!(ConsScenario);

/// True if `text` is TOML with a `[consolidation]` table.
pub fn is_consolidation_scenario(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("consolidation"))
}

/// True if the file at `path` is a consolidation scenario (false if
/// unreadable: the ordinary loader then reports the error).
pub fn is_consolidation_scenario_file(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| is_consolidation_scenario(&t))
}

/// The default policies: the baselines and the paper's five detectors with MMT.
pub const DEFAULT_POLICIES: [&str; 7] = [
    "npa",
    "dvfs",
    "thr-mmt-0.8",
    "iqr-mmt-1.5",
    "mad-mmt-2.5",
    "lr-mmt-1.2",
    "lrr-mmt-1.2",
];

impl ConsScenario {
    /// Reads and validates a consolidation scenario, reading its trace.
    pub fn load(path: &Path) -> Result<ConsScenario, ScenarioError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<ConsScenario, ScenarioError> {
        let shown = path.display().to_string();
        let cx = Ctx { path: &shown };
        let raw: RawConsScenario = cx.parse_toml(text)?;
        if raw.hosts.is_some() {
            return Err(cx.invalid(
                "hosts",
                "[[host_type]] tables (a consolidation scenario's hosts have types, CPU in MIPS)",
                "a [hosts] table",
            ));
        }
        let five_minutes = RawDuration::Secs(300);
        let mut raw_h = raw_header!(raw);
        raw_h.period = Some(raw.period.as_ref().unwrap_or(&five_minutes));
        let mut header = cx.header(path, text, raw_h, PeriodUse::Sampling)?;
        let big = 1 << 40;

        if raw.host_type.is_empty() {
            return Err(cx.invalid("host_type", "at least one [[host_type]] table", "none"));
        }
        let mut host_types = Vec::new();
        for (i, h) in raw.host_type.iter().enumerate() {
            let key = |k: &str| format!("host_type[{i}].{k}");
            let name = h.name.clone().unwrap_or_else(|| format!("type {i}"));
            let cores = cx.positive(&key("cores"), h.cores, 1, 1 << 20)?;
            let mips = cx.positive(&key("mips"), h.mips, 1000, 1 << 30)?;
            let capacity = Resources::new(
                cores * mips,
                cx.positive(&key("memory_mib"), h.memory_mib, 4096, big)?,
                cx.positive(&key("bandwidth_mbps"), h.bandwidth_mbps, 1000, big)?,
                cx.positive(&key("disk_gib"), h.disk_gib, 1000, big)?,
            );
            let power = power_model(&cx, &key("power"), h.power.as_ref())?;
            host_types.push(HostType {
                name,
                count: cx.positive(&key("count"), h.count, 1, 10_000_000)? as u32,
                capacity,
                cores,
                power,
            });
        }
        let hosts: u64 = host_types.iter().map(|t| t.count as u64).sum();
        if hosts > 10_000_000 {
            return Err(cx.invalid("host_type", "at most 10^7 hosts in all", hosts));
        }
        header.hosts = hosts as u32;
        header.capacity = host_types[0].capacity;

        if raw.vm_type.is_empty() {
            return Err(cx.invalid("vm_type", "at least one [[vm_type]] table", "none"));
        }
        let mut vm_types = Vec::new();
        for (i, v) in raw.vm_type.iter().enumerate() {
            let key = |k: &str| format!("vm_type[{i}].{k}");
            let size = Resources::new(
                cx.positive(&key("mips"), v.mips, 1000, big)?,
                cx.positive(&key("memory_mib"), v.memory_mib, 1024, big)?,
                cx.positive(&key("bandwidth_mbps"), v.bandwidth_mbps, 100, big)?,
                cx.count(&key("disk_gib"), v.disk_gib, 0, big)?,
            );
            if !host_types
                .iter()
                .any(|t| size.fits_in(&t.capacity) && size.0[0] <= t.capacity.0[0] / t.cores)
            {
                return Err(cx.invalid(
                    key("mips"),
                    "a VM type (of one core) that fits in at least one host type, within one of its cores",
                    size,
                ));
            }
            vm_types.push(VmType {
                name: v.name.clone().unwrap_or_else(|| format!("type {i}")),
                size,
            });
        }

        let c = &raw.consolidation;
        let base = path.parent().unwrap_or(Path::new("."));
        let source = util_source(&cx, base, &c.trace)?;
        let vms = c
            .vms
            .map(|v| cx.positive("consolidation.vms", Some(v), 1, 10_000_000))
            .transpose()?
            .map(|v| v as u32);
        // A trace that is not there is the scenario's error: name its key
        // (the readers' own errors name only the path).
        let missing = match &source {
            UtilSource::PlanetLab(p) if !p.is_dir() => Some(("planetlab", p, "a PlanetLab folder")),
            UtilSource::OpenDc(p) if !p.is_dir() => Some(("opendc", p, "an OpenDC workload folder")),
            UtilSource::Tidy(p) if !p.is_file() => Some(("csv", p, "a utilisation CSV file")),
            _ => None,
        };
        if let Some((k, p, what)) = missing {
            let found = if p.exists() { "not one" } else { "nothing there" };
            return Err(cx.invalid(
                format!("consolidation.trace.{k}"),
                what,
                format!("{}: {found}", p.display()),
            ));
        }
        let trace = match &source {
            UtilSource::PlanetLab(p) => Some(utilization::read_planetlab(p)?),
            UtilSource::Tidy(p) => Some(utilization::read_utilization_csv(p)?),
            UtilSource::OpenDc(p) => Some(utilization::read_opendc(p)?),
            UtilSource::Generated { .. } => None,
        };
        if let Some(t) = &trace
            && t.vms.is_empty()
        {
            return Err(cx.invalid("consolidation.trace", "a trace with at least one VM", "none"));
        }

        let mut overbooking = [1.0; DIMS];
        if let Some(table) = &c.overbooking {
            for (k, v) in table {
                let key = format!("consolidation.overbooking.{k}");
                let Some(d) = DIM_NAMES.iter().position(|n| dim_key(n) == k.as_str()) else {
                    return Err(cx.invalid(
                        key,
                        format!(
                            "one of {}",
                            DIM_NAMES
                                .iter()
                                .map(|n| dim_key(n))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        format!("\"{k}\""),
                    ));
                };
                let ratio = v
                    .as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .ok_or_else(|| cx.invalid(&key, "a number", super::raw::describe_value(v)))?;
                overbooking[d] = cx.fraction(&key, Some(ratio), 1.0, 1.0, 1e6)?;
            }
        }

        let policies = match &c.policies {
            None => DEFAULT_POLICIES
                .iter()
                .map(|p| Consolidation::from_name(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| cx.invalid("consolidation.policies", "built-in defaults", e))?,
            Some(list) if list.is_empty() => {
                return Err(cx.invalid("consolidation.policies", "at least one policy", "[]"));
            }
            Some(list) => {
                let mut out = Vec::new();
                for (i, v) in list.iter().enumerate() {
                    let key = format!("consolidation.policies[{i}]");
                    let Some(name) = v.as_str() else {
                        return Err(cx.invalid(
                            &key,
                            "a policy name such as \"THR-MMT-0.8\"",
                            super::raw::describe_value(v),
                        ));
                    };
                    let p = Consolidation::from_name(name).map_err(|e| {
                        cx.invalid(&key, "a consolidation policy (see `slivers policies`)", e)
                    })?;
                    if out.contains(&p) {
                        return Err(cx.invalid(key, "distinct policies", format!("{p} twice")));
                    }
                    // The repacker refuses larger sites at its first plan:
                    // say so now rather than after the other policies ran.
                    let limit = RepackLimits::default().max_hosts;
                    if p == Consolidation::Exact && hosts > limit as u64 {
                        return Err(cx.invalid(
                            key,
                            format!(
                                "`exact` only on sites of at most {limit} hosts (the exact repacker's limit)"
                            ),
                            format!("exact on {hosts} hosts"),
                        ));
                    }
                    out.push(p);
                }
                out
            }
        };

        let scenario = ConsScenario {
            header,
            host_types,
            vm_types,
            source,
            trace,
            vms,
            place_by: match c.place_by.as_deref() {
                None | Some("use") => PlaceBy::Use,
                Some("reservation") => PlaceBy::Reservation,
                Some(other) => {
                    return Err(cx.invalid(
                        "consolidation.place_by",
                        "\"use\" or \"reservation\"",
                        format!("\"{other}\""),
                    ));
                }
            },
            overbooking,
            migration_model: c.migration.unwrap_or(MigrationModelKind::Cloudsim),
            migration: cx.migration(raw.migration.as_ref())?,
            dirty_mibps: cx.fraction("consolidation.dirty_mibps", c.dirty_mibps, 0.0, 0.0, 1e6)?,
            policies,
        };
        // The repacker's VM limit, now that the VMs can be counted (its
        // host limit is checked with the policies above).
        let limit = RepackLimits::default().max_vms;
        if let Some(i) = scenario.policies.iter().position(|p| *p == Consolidation::Exact)
            && scenario.vm_count() > limit
        {
            return Err(cx.invalid(
                format!("consolidation.policies[{i}]"),
                format!("`exact` only with at most {limit} VMs (the exact repacker's limit)"),
                format!("exact with {} VMs", scenario.vm_count()),
            ));
        }
        // Sizes a trace file gives must fit a host, as [[vm_type]]s must.
        if let Some(t) = &scenario.trace {
            let sizes = scenario.vm_sizes(t);
            if let Some((v, size)) = t
                .vms
                .iter()
                .zip(&sizes)
                .find(|(_, s)| !fits_some_host(&scenario.host_types, s))
            {
                return Err(cx.invalid(
                    "consolidation.trace",
                    "VMs that fit one core and the memory of some host type",
                    format!("VM \"{}\" of {size}", v.name),
                ));
            }
        }
        Ok(scenario)
    }

    /// The utilisation trace of a run: the file's, or generated with `seed`;
    /// cut to [`Self::vms`] VMs.
    pub fn trace(&self, seed: u64) -> UtilizationTrace {
        let mut t = match (&self.trace, &self.source) {
            (Some(t), _) => t.clone(),
            (None, UtilSource::Generated { vms }) => utilization::generate_utilization(
                &UtilGenParams {
                    duration: self.duration,
                    ..UtilGenParams::planetlab_day(*vms as usize)
                },
                &mut SimRng::seed_from_u64(seed),
            ),
            (None, _) => UtilizationTrace::default(),
        };
        if let Some(n) = self.vms {
            t.vms.truncate(n as usize);
        }
        if matches!(self.source, UtilSource::Generated { .. }) {
            // The generator draws sizes; the scenario's [[vm_type]]s decide.
            for v in &mut t.vms {
                (v.cpu_mips, v.cores, v.memory_mib) = (None, None, None);
            }
        }
        t
    }

    /// Every VM's sliver, in trace order: its type's, with the CPU (one
    /// core's MIPS) and memory a trace file gives, if it does.
    pub fn vm_sizes(&self, trace: &UtilizationTrace) -> Vec<Resources> {
        let n = trace.vms.len();
        (trace.vms.iter().enumerate())
            .map(|(j, v)| {
                let mut size = self.vm_types[self.vm_type_of(j, n)].size;
                if let Some(mips) = v.cpu_mips {
                    let per_core = mips / f64::from(v.cores.unwrap_or(1).max(1));
                    size.0[0] = (per_core.round() as u64).max(1);
                }
                if let Some(m) = v.memory_mib {
                    size.0[1] = m;
                }
                size
            })
            .collect()
    }

    /// VMs of a run (of the trace file or the generator, cut to `vms`),
    /// without generating a trace.
    pub fn vm_count(&self) -> usize {
        let n = match (&self.trace, &self.source) {
            (Some(t), _) => t.vms.len(),
            (None, UtilSource::Generated { vms }) => *vms as usize,
            (None, _) => 0,
        };
        self.vms.map_or(n, |v| n.min(v as usize))
    }

    /// The type of every host, in host order.
    pub fn host_layout(&self) -> Vec<usize> {
        let mut left: Vec<u32> = self.host_types.iter().map(|t| t.count).collect();
        let mut out = Vec::with_capacity(self.hosts as usize);
        while out.len() < self.hosts as usize {
            for (i, l) in left.iter_mut().enumerate() {
                if *l > 0 {
                    *l -= 1;
                    out.push(i);
                }
            }
        }
        out
    }

    /// The type of VM `j` of `n` (CloudSim's blocks of `ceil(n / types)`).
    pub fn vm_type_of(&self, j: usize, n: usize) -> usize {
        let block = n.div_ceil(self.vm_types.len()).max(1);
        (j / block).min(self.vm_types.len() - 1)
    }
}

/// True if a VM of `size` fits one core (and the rest) of some host type.
fn fits_some_host(types: &[HostType], size: &Resources) -> bool {
    (types.iter()).any(|t| size.fits_in(&t.capacity) && size.0[0] <= t.capacity.0[0] / t.cores)
}

/// The file key of a dimension: `cpu`, `memory`, `bandwidth`, `disk`.
fn dim_key(name: &str) -> &str {
    name.split('_').next().unwrap_or(name)
}

/// `trace = { planetlab = DIR }`, `{ csv = FILE }`, `{ opendc = DIR }` or
/// `{ generate = "utilization", vms = N }`.
fn util_source(cx: &Ctx, base: &Path, v: &toml::Value) -> Result<UtilSource, ScenarioError> {
    const FORMS: &str = "{ planetlab = \"DIR\" }, { csv = \"FILE\" }, { opendc = \"DIR\" } or { generate = \"utilization\", vms = N }";
    let key = "consolidation.trace";
    let Some(t) = v.as_table() else {
        return Err(cx.invalid(key, FORMS, super::raw::describe_value(v)));
    };
    let path_of = |k: &str| -> Result<PathBuf, ScenarioError> {
        match t.get(k).and_then(|p| p.as_str()) {
            Some(p) if !p.trim().is_empty() => Ok(base.join(p)),
            _ => Err(cx.invalid(
                format!("{key}.{k}"),
                "a path",
                t.get(k).map(super::raw::describe_value).unwrap_or_default(),
            )),
        }
    };
    let only = |k: &str| {
        if t.len() == 1 {
            Ok(())
        } else {
            Err(cx.invalid(
                key,
                format!("only `{k}` in the table"),
                format!("keys {}", t.keys().cloned().collect::<Vec<_>>().join(", ")),
            ))
        }
    };
    if t.contains_key("planetlab") {
        only("planetlab")?;
        return Ok(UtilSource::PlanetLab(path_of("planetlab")?));
    }
    if t.contains_key("csv") {
        only("csv")?;
        return Ok(UtilSource::Tidy(path_of("csv")?));
    }
    if t.contains_key("opendc") {
        only("opendc")?;
        return Ok(UtilSource::OpenDc(path_of("opendc")?));
    }
    match t.get("generate").and_then(|g| g.as_str()) {
        Some("utilization") => {
            if let Some(k) = t.keys().find(|k| !["generate", "vms"].contains(&k.as_str())) {
                return Err(cx.invalid(
                    format!("{key}.{k}"),
                    "only `generate` and `vms`",
                    format!("`{k}`"),
                ));
            }
            let vms = t.get("vms").and_then(|v| v.as_integer());
            Ok(UtilSource::Generated {
                vms: cx.positive(&format!("{key}.vms"), vms, 100, 10_000_000)? as u32,
            })
        }
        Some(other) => Err(cx.invalid(
            format!("{key}.generate"),
            "\"utilization\"",
            format!("\"{other}\""),
        )),
        None => Err(cx.invalid(key, FORMS, super::raw::describe_value(v))),
    }
}

/// A host type's `power`.
fn power_model(cx: &Ctx, key: &str, raw: Option<&RawPower>) -> Result<PowerModel, ScenarioError> {
    let presets = ["ml110-g4", "ml110-g5"];
    match raw {
        None => Ok(PowerModel::hp_proliant_ml110_g4()),
        Some(RawPower::Preset(p)) => match p.as_str() {
            "ml110-g4" => Ok(PowerModel::hp_proliant_ml110_g4()),
            "ml110-g5" => Ok(PowerModel::hp_proliant_ml110_g5()),
            _ => Err(cx.invalid(key, format!("one of {}", presets.join(", ")), format!("\"{p}\""))),
        },
        Some(RawPower::Table { table }) => {
            let t: [f64; 11] = table.as_slice().try_into().map_err(|_| {
                cx.invalid(
                    key,
                    "a table of 11 watts (at 0, 10, ..., 100 % CPU)",
                    format!("{} values", table.len()),
                )
            })?;
            PowerModel::table(t).map_err(|e| cx.invalid(key, "a power table", e))
        }
        Some(RawPower::Linear { idle_w, max_w }) => {
            PowerModel::linear(*idle_w, *max_w).map_err(|e| cx.invalid(key, "a linear power model", e))
        }
        Some(RawPower::Other(v)) => Err(cx.invalid(
            key,
            format!(
                "a preset ({}), {{ table = [11 watts] }} or {{ idle_w = W, max_w = W }}",
                presets.join(", ")
            ),
            super::raw::describe_value(v),
        )),
    }
}
