//! Scenarios: parse the TOML file into raw serde structs ([`raw`]), then
//! validate them into a [`Scenario`] whose every field is checked.
//!
//! Errors name the file, the key (or the line, for syntax errors), what was
//! expected and what was found. Trace paths are relative to the scenario
//! file; the output folder is relative to the current directory.

pub mod consolidation;
mod context;
mod federation;
pub mod fit;
mod guests;
mod header;
pub mod outages;
pub mod raw;
mod thermal;
pub mod vmreq;
mod workloads;

use std::path::Path;

use slivers_policy::{PlacementKind, Policy, PolicyKind, ProvisioningKind, Resources};

use crate::model::{MigrationParams, PowerParams, Quantum, SeriesForm, ThermalConfig};
use crate::trace::TraceError;
use context::Ctx;
pub use context::{parse_duration, read_text, sha256_hex};
pub use guests::{BatchWorkload, DirtyRate, GuestSpec, TraceCache, TraceSource, WebWorkload};
use guests::{Cluster, validate_guest};
pub use header::Header;
use header::{PeriodUse, deref_header, raw_header};
use raw::RawScenario;
pub use workloads::Workload;

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

/// One provisioning/placement pair to run, each policy with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    /// The broker's policy.
    pub provisioning: Policy<ProvisioningKind>,
    /// The site's policy.
    pub placement: Policy<PlacementKind>,
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
                    provisioning: provisioning.into(),
                    placement: placement.into(),
                });
            }
        }
        v
    }
}

/// A validated scenario: its [`Header`], the sliver, migration and energy
/// models, the guests and the policy pairs.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The keys every scenario has (name, seed, output, duration, period,
    /// hosts), read through the scenario itself: `scenario.seed`.
    pub header: Header,
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
    /// Host failures and maintenance windows (`[failures]`, `[[maintenance]]`).
    pub outages: outages::Outages,
    /// The machine room's thermal model (`[thermal]`), if any.
    pub thermal: Option<ThermalConfig>,
    /// Several sites and brokers (`[[site]]`, `[[broker]]`,
    /// `[[delegation]]`, `[wan]`); `None`: one site and one broker.
    pub federation: Option<crate::model::FederationConfig>,
}

/// Up to this many hosts, `series = "auto"` keeps every change.
pub const FULL_SERIES_MAX_HOSTS: u32 = 1000;

deref_header!(Scenario);

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
        let cx = Ctx { path: &shown };
        let raw: RawScenario = cx.parse_toml(text)?;
        if raw.sweep.is_some() {
            return Err(cx.invalid(
                "sweep",
                "a scenario without a [sweep] table (run sweeps with `slivers sweep`)",
                "a [sweep] table",
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let header = cx.header(path, text, raw_header!(raw), PeriodUse::Allocation)?;
        let (seed, hosts, capacity) = (header.seed, header.hosts, header.capacity);
        let (duration, period) = (header.duration, header.period);

        let s = raw.sliver.clone().unwrap_or_default();
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

        let migration = cx.migration(raw.migration.as_ref())?;

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
        let federation = federation::validate(
            &cx,
            &raw.site,
            &raw.broker,
            &raw.delegation,
            raw.wan.as_ref(),
            &raw.guest,
            &federation::Defaults {
                capacity,
                power,
                unit,
                migration,
                count: raw.hosts.as_ref().and_then(|h| h.count),
            },
        )?;
        let mut header = header;
        let hosts = match &federation {
            Some((_, total)) => *total,
            None => hosts,
        };
        header.hosts = hosts;
        let federation = federation.map(|(f, _)| f);
        if federation.is_some() && raw.thermal.is_some() {
            return Err(cx.invalid(
                "thermal",
                "one site (a machine room per site is not modelled yet)",
                "[thermal] with [[site]]s",
            ));
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
                .enumerate()
                .map(|(i, p)| {
                    Ok(Pair {
                        provisioning: policy(&cx, format!("pairs[{i}].provisioning"), &p.provisioning)?,
                        placement: policy(&cx, format!("pairs[{i}].placement"), &p.placement)?,
                    })
                })
                .collect::<Result<_, ScenarioError>>()?,
        };
        if let Some((i, p)) = pairs.iter().enumerate().find(|(i, p)| pairs[..*i].contains(p)) {
            let first = pairs.iter().position(|q| q == p).unwrap_or(0);
            return Err(cx.invalid(
                format!("pairs[{i}]"),
                "distinct pairs",
                format!("{} again (pairs[{first}])", p.label()),
            ));
        }
        let thermal = match &raw.thermal {
            Some(t) => Some(thermal::validate(&cx, t, hosts, &power, period)?),
            None => None,
        };
        if thermal.is_none()
            && let Some((i, p)) = pairs
                .iter()
                .enumerate()
                .find(|(_, p)| p.placement.kind().needs_thermal())
        {
            return Err(cx.invalid(
                format!("pairs[{i}].placement"),
                "a [thermal] table (it places by the room's heat recirculation), or another placement policy",
                format!("{} in pair {} and no [thermal] table", p.placement, p.label()),
            ));
        }
        let series = match raw.series.unwrap_or(raw::RawSeries::Auto) {
            raw::RawSeries::Changes => SeriesForm::Changes,
            raw::RawSeries::Periods => SeriesForm::Periods(period),
            raw::RawSeries::Auto if hosts <= FULL_SERIES_MAX_HOSTS => SeriesForm::Changes,
            raw::RawSeries::Auto => SeriesForm::Periods(period),
        };

        let outages = outages::validate(&cx, base, raw.failures.as_ref(), &raw.maintenance, hosts)?;

        Ok(Scenario {
            header,
            quantum,
            migration,
            power,
            guests,
            pairs,
            series,
            fit: fits,
            outages,
            thermal,
            federation,
        })
    }
}

/// A policy of `[[pairs]]` with its parameters checked, or an error naming
/// `key`.
fn policy<K: PolicyKind>(cx: &Ctx, key: String, raw: &raw::RawPolicy<K>) -> Result<Policy<K>, ScenarioError> {
    Policy::with(raw.name, raw.params.iter().map(|(k, v)| (k.as_str(), *v)))
        .map_err(|e| cx.invalid(key, "parameters the policy takes", e))
}
