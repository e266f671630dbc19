//! What a run measured ([`RunResult`]) and its metric columns
//! ([`METRICS`]), declared once as (name, accessor). Below both the
//! simulator, which produces results (`experiment`, `live`), and the
//! writers of tables and plots (`report`), which format them.

use crate::engine::SimTime;
use crate::model::{
    BrokerStats, FidelitySeries, GuestFidelity, MigrationCost, OutageStats, SeriesForm, SiteStats,
    ThermalResult,
};
use crate::scenario::Pair;

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Index of the run in its experiment.
    pub run: usize,
    /// The policy pair.
    pub pair: Pair,
    /// The seed of the run's RNG.
    pub seed: u64,
    /// Simulated span.
    pub end: SimTime,
    /// Hosts of the cluster.
    pub hosts: u32,
    /// Broker counters.
    pub broker: BrokerStats,
    /// Site counters and the migration series.
    pub site: SiteStats,
    /// Time-weighted mean of active hosts.
    pub mean_active_hosts: f64,
    /// Events handled.
    pub events: u64,
    /// Batch jobs that arrived in the window.
    pub jobs_arrived: u64,
    /// Batch jobs granted.
    pub jobs_started: u64,
    /// Batch jobs left out because they are larger than the cluster.
    pub jobs_too_large: u64,
    /// Site steps planned but not started when the run ended (a backlog
    /// means migrations are slow relative to the allocation period).
    pub queued_at_end: u64,
    /// What the migrations cost.
    pub cost: MigrationCost,
    /// Each guest's fidelity, in guest order.
    pub fidelity: Vec<GuestFidelity>,
    /// Each guest's fidelity over time, in the scenario's series form.
    pub fidelity_series: FidelitySeries,
    /// Energy the hosts used.
    pub energy_kwh: f64,
    /// Hosts powered up during the run.
    pub power_ups: u64,
    /// What the thermal meter measured, with `[thermal]`.
    pub thermal: Option<ThermalResult>,
    /// Where each live VM is planned at the end: `(vm id, host index)`.
    pub final_placement: Vec<(u64, u32)>,
    /// What failures and maintenance did, if the scenario has any.
    pub outages: Option<OutageSummary>,
    /// Per site and per broker, if the scenario is a federation.
    pub federation: Option<FederationResult>,
}

/// One site of a federated run (`sites.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteResult {
    /// Its name.
    pub name: String,
    /// Its hosts.
    pub hosts: u32,
    /// Its counters and migration series.
    pub stats: SiteStats,
    /// Time-weighted mean of its active hosts.
    pub mean_active_hosts: f64,
    /// Energy its hosts used.
    pub energy_kwh: f64,
    /// VMs that arrived from another site.
    pub arrivals: u64,
}

/// One broker of a federated run (`brokers.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerResult {
    /// Its name.
    pub name: String,
    /// Its counters.
    pub stats: BrokerStats,
    /// Cores delegated to it, over every site.
    pub delegated_cores: f64,
    /// Sites that delegate to it.
    pub sites: u32,
}

/// What a federated run measured per site and per broker.
#[derive(Debug, Clone, PartialEq)]
pub struct FederationResult {
    /// Per site, in order.
    pub sites: Vec<SiteResult>,
    /// Per broker, in order.
    pub brokers: Vec<BrokerResult>,
    /// VMs moved between sites, and the time they spent crossing, ms.
    pub wan_moves: (u64, u64),
}

/// What host failures and maintenance did in one run (`failures.csv`,
/// `availability.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutageSummary {
    /// The site's counters and per-guest VM-time.
    pub site: OutageStats,
    /// VMs waiting for a place when the run ended.
    pub waiting_at_end: u64,
    /// Per guest, in guest order: `(leases interrupted, work lost in
    /// VM-milliseconds)` (zero for web guests).
    pub jobs: Vec<(u64, u128)>,
}

/// A run's outage figures summed over its guests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutageTotals {
    /// VM-milliseconds leased.
    pub vm_ms: u128,
    /// VM-milliseconds lost VMs spent down.
    pub lost_ms: u128,
    /// 1 − lost / leased (1 if nothing was leased).
    pub availability: f64,
    /// Batch leases interrupted.
    pub interrupted: u64,
    /// Batch work lost, VM-milliseconds.
    pub lost_work_vm_ms: u128,
}

impl OutageSummary {
    /// Mean time from a VM's loss to its recovery, seconds (0 if none).
    pub fn mean_recovery_s(&self) -> f64 {
        match self.site.vms_recovered {
            0 => 0.0,
            n => self.site.recovery_ms as f64 / 1000.0 / n as f64,
        }
    }

    /// The guests' VM-time and the batch guests' losses summed, as of `end`.
    pub fn totals(&self, end: SimTime) -> OutageTotals {
        let (vm_ms, lost_ms) = self
            .site
            .guests
            .iter()
            .map(|g| g.totals(end))
            .fold((0u128, 0u128), |(a, b), (c, d)| (a + c, b + d));
        let (interrupted, lost_work_vm_ms) = self
            .jobs
            .iter()
            .fold((0u64, 0u128), |(a, b), (c, d)| (a + c, b + d));
        OutageTotals {
            vm_ms,
            lost_ms,
            availability: match vm_ms {
                0 => 1.0,
                v => 1.0 - lost_ms as f64 / v as f64,
            },
            interrupted,
            lost_work_vm_ms,
        }
    }
}

impl RunResult {
    /// Batch jobs that arrived in the window but were never granted.
    pub fn jobs_never_started(&self) -> u64 {
        self.jobs_arrived.saturating_sub(self.jobs_started)
    }

    /// The mean over guests of each guest's time-weighted mean fidelity.
    pub fn fidelity_mean(&self) -> f64 {
        if self.fidelity.is_empty() {
            return 1.0;
        }
        self.fidelity.iter().map(|f| f.mean).sum::<f64>() / self.fidelity.len() as f64
    }

    /// The lowest fidelity any guest reached.
    pub fn fidelity_min(&self) -> f64 {
        self.fidelity.iter().map(|f| f.min).fold(1.0, f64::min)
    }

    /// The cumulative migration count of the run as a step function:
    /// `(seconds, count)` at time zero, at each instant the count changes (the
    /// count after every migration starting then), and at the end. In the
    /// per-period form ([`SeriesForm::Periods`]) only the last change of each
    /// period is kept, so the series has at most one point per period.
    pub fn migration_steps(&self, form: SeriesForm) -> Vec<(f64, u64)> {
        let bucket = |t: SimTime| match form {
            SeriesForm::Changes => t.0,
            SeriesForm::Periods(len) => t.0 / len.0.max(1),
        };
        let mut pts: Vec<(f64, u64)> = vec![(0.0, 0)];
        let mut last_bucket = None;
        for &(t, n) in &self.site.migration_series {
            let s = t.as_secs_f64();
            let b = bucket(t);
            match pts.last_mut() {
                Some(last) if last.0 == s || last_bucket == Some(b) => *last = (s, n),
                _ => pts.push((s, n)),
            }
            last_bucket = Some(b);
        }
        let end = self.end.as_secs_f64();
        if pts.last().is_some_and(|p| p.0 < end) {
            pts.push((end, self.site.migrations()));
        }
        pts
    }
}

/// One metric's value for one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A count, written as an integer.
    Count(u64),
    /// A real number, written with `report::csv::fmt_f64`.
    Real(f64),
}

/// A metric column: its name and how to read it from a run.
#[derive(Clone, Copy)]
pub struct Metric {
    /// The column's name in `summary.csv` and a sweep's `runs.csv`.
    pub name: &'static str,
    /// Its value for a run.
    pub value: fn(&RunResult) -> Value,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Metric").field(&self.name).finish()
    }
}

/// `Metric { name, value }` from a name and an expression of `r`.
macro_rules! metric {
    ($name:literal, $kind:ident, |$r:ident| $e:expr) => {
        Metric {
            name: $name,
            value: |$r: &RunResult| Value::$kind($e),
        }
    };
}

/// The metric columns of a run, in order (after its identifying columns).
pub const METRICS: [Metric; 28] = [
    metric!("migrations", Count, |r| r.site.migrations()),
    metric!("live_migrations", Count, |r| r.site.live_migrations),
    metric!("stop_copy_migrations", Count, |r| r.site.stop_copy_migrations),
    metric!("broker_migrations", Count, |r| r.broker.broker_migrations),
    metric!("requests", Count, |r| r.broker.requests),
    metric!("granted", Count, |r| r.broker.granted),
    metric!("rejected", Count, |r| r.broker.rejected),
    metric!("resizes", Count, |r| r.broker.resizes),
    metric!("peak_active_hosts", Count, |r| r.site.peak_active_hosts as u64),
    metric!("mean_active_hosts", Real, |r| r.mean_active_hosts),
    metric!("forced_placements", Count, |r| r.site.forced_placements),
    metric!("forced_moves", Count, |r| r.site.forced_moves),
    metric!("jobs_arrived", Count, |r| r.jobs_arrived),
    metric!("jobs_started", Count, |r| r.jobs_started),
    metric!("jobs_too_large", Count, |r| r.jobs_too_large),
    metric!("queued_at_end", Count, |r| r.queued_at_end),
    metric!("migration_time_s_total", Real, |r| r.cost.migration_ms as f64
        / 1000.0),
    metric!("downtime_s_total", Real, |r| r.cost.downtime_ms as f64 / 1000.0),
    metric!("degraded_s_total", Real, |r| r.cost.degraded_ms as f64 / 1000.0),
    metric!("bytes_migrated", Count, |r| r.cost.bytes()),
    metric!("precopy_non_converged", Count, |r| r.cost.non_converged),
    metric!("fidelity_mean", Real, |r| r.fidelity_mean()),
    metric!("fidelity_min", Real, |r| r.fidelity_min()),
    metric!("energy_kwh", Real, |r| r.energy_kwh),
    metric!("power_ups", Count, |r| r.power_ups),
    metric!("events", Count, |r| r.events),
    metric!("days", Real, |r| r.end.as_days_f64()),
    metric!("hosts", Count, |r| r.hosts as u64),
];

/// Milliseconds per hour (VM-milliseconds to VM-hours).
pub(crate) const MS_PER_HOUR: f64 = 3.6e6;

/// A run's outage summary, or an empty one (a run with no outages).
fn outages(r: &RunResult) -> (OutageStats, OutageTotals, f64) {
    match &r.outages {
        Some(o) => (o.site.clone(), o.totals(r.end), o.mean_recovery_s()),
        None => (
            OutageStats::default(),
            OutageTotals {
                vm_ms: 0,
                lost_ms: 0,
                availability: 1.0,
                interrupted: 0,
                lost_work_vm_ms: 0,
            },
            0.0,
        ),
    }
}

/// The outage columns a sweep of a scenario with `[failures]` or
/// `[[maintenance]]` adds to `runs.csv` after [`METRICS`] (as in
/// `failures.csv`).
pub const OUTAGE_METRICS: [Metric; 12] = [
    metric!("host_failures", Count, |r| outages(r).0.host_failures),
    metric!("maintenance_windows", Count, |r| outages(r).0.maintenance_windows),
    metric!("vms_lost", Count, |r| outages(r).0.vms_lost),
    metric!("vms_recovered", Count, |r| outages(r).0.vms_recovered),
    metric!("vms_lost_for_good", Count, |r| outages(r).0.lost_for_good),
    metric!("mean_recovery_s", Real, |r| outages(r).2),
    metric!("lost_vm_hours", Real, |r| outages(r).1.lost_ms as f64
        / MS_PER_HOUR),
    metric!("availability", Real, |r| outages(r).1.availability),
    metric!("jobs_interrupted", Count, |r| outages(r).1.interrupted),
    metric!("lost_work_vm_hours", Real, |r| outages(r).1.lost_work_vm_ms
        as f64
        / MS_PER_HOUR),
    metric!("drain_migrations", Count, |r| outages(r).0.drain_migrations),
    metric!("missed_drains", Count, |r| outages(r).0.missed_drains.len()
        as u64),
];

/// The columns a sweep of a federation (`[[site]]`) adds to `runs.csv`.
pub const FEDERATION_METRICS: [Metric; 2] = [
    metric!("cross_site_moves", Count, |r| r.broker.cross_site_moves),
    metric!("wan_transfer_s_total", Real, |r| r
        .federation
        .as_ref()
        .map_or(0.0, |f| f.wan_moves.1 as f64 / 1000.0)),
];
