//! Consolidation runs: VMs of fixed types run for the whole scenario, a
//! utilisation trace says how much CPU each uses, and every interval the
//! site's consolidation policy may migrate VMs (the experiment of
//! Beloglazov and Buyya, CCPE 2012). See `docs/consolidation.md`.
//!
//! * **Time**: an interval tick every `period` (utilisation is read, then
//!   the policy plans), and the ends of migration phases from
//!   [`Execution`]. At one instant migration phases end first (they free
//!   room), then the tick.
//! * **CPU**: a VM demands `utilisation × its MIPS`. A VM migrating out
//!   gets its availability's share on its source (CloudSim model: 90 %;
//!   slivers' pre-copy: all of it while rounds run, nothing while paused),
//!   and the target spends `target_share` of the VM's demand on receiving
//!   it (CloudSim: 10 %). When the demands on a host exceed its capacity,
//!   each VM gets a max-min fair share and loses the rest.
//! * **Energy**: a host holding a VM (on it or arriving) is on and draws
//!   its power model's watts at its CPU utilisation; an empty host is off
//!   and draws nothing (switching is instantaneous, as in CloudSim). The
//!   non-power-aware baseline (NPA) draws every host's full power all the
//!   time.
//! * **Metrics** (as CCPE 2012 defines them): SLATAH = the share of the
//!   hosts' active time during which their CPU demand was not met; PDM = the
//!   mean over VMs of the CPU lost to migrations over the CPU demanded;
//!   SLAV = SLATAH × PDM; ESV = energy × SLAV.
//! * **Invariants** (checked after every event with `check`): every VM is
//!   on exactly one host or migrating between two; each host's reservations
//!   stay within its overbooking ratio in every dimension; no host serves
//!   more CPU than it has.

use slivers_policy::consolidation::{Consolidation, ConsolidationState, Draw, Migration, MigrationReason};
use slivers_policy::plan::Step;
use slivers_policy::{HostId, Resources, VmId};

use crate::engine::SimTime;
use crate::model::execution::Execution;
use crate::model::migration::{Availability, CloudSimMigration, MigrationModel};
use crate::model::site::OpId;
use crate::rng::SimRng;
use crate::scenario::consolidation::{ConsScenario, MigrationModelKind};
use crate::trace::utilization::{UtilizationTrace, UtilCursor};

/// Why a consolidation run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsRunError {
    /// The VMs do not all fit at the start.
    #[error("the initial placement found no host for VM {vm} ({size}); the cluster is too small for the trace")]
    NoRoom {
        /// The VM (its index in the trace).
        vm: u64,
        /// Its sliver.
        size: Resources,
    },
    /// An invariant failed (a bug).
    #[error("at {at}: invariant violated: {message}")]
    Invariant {
        /// When.
        at: SimTime,
        /// What.
        message: String,
    },
}

/// One row of `timeline.csv`: the state over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineRow {
    /// The interval's start.
    pub time: SimTime,
    /// Hosts on.
    pub active_hosts: u32,
    /// Hosts whose CPU demand exceeds their capacity.
    pub overloaded_hosts: u32,
    /// Watts drawn at the interval's start.
    pub power_w: f64,
    /// Migrations the policy started at the interval's start.
    pub migrations: u32,
}

/// What one consolidation run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsRunResult {
    /// The policy's label (`THR-MMT-0.8`).
    pub policy: String,
    /// Hosts of the cluster.
    pub hosts: u32,
    /// VMs run.
    pub vms: u32,
    /// Energy drawn by the hosts, kWh.
    pub energy_kwh: f64,
    /// SLA violation time per active host (a fraction).
    pub slatah: f64,
    /// Performance degradation due to migration (a fraction).
    pub pdm: f64,
    /// SLATAH × PDM.
    pub slav: f64,
    /// Energy × SLAV.
    pub esv: f64,
    /// Migrations started.
    pub migrations: u64,
    /// Of which from overloaded hosts.
    pub overload_migrations: u64,
    /// Of which draining underloaded hosts.
    pub underload_migrations: u64,
    /// Hosts switched off (became empty).
    pub host_shutdowns: u64,
    /// Mean time a host was on before being switched off, s.
    pub mean_time_before_shutdown_s: f64,
    /// Mean time a VM stayed on a host before migrating, s.
    pub mean_time_before_migration_s: f64,
    /// Time-weighted mean of the hosts on.
    pub mean_active_hosts: f64,
    /// CPU demand lost to overloaded hosts over all demand.
    pub overload_loss: f64,
    /// Migration time summed over migrations, s.
    pub migration_time_s: f64,
    /// Time VMs were paused by migrations, summed, s.
    pub downtime_s: f64,
    /// Events handled (ticks and migration phase ends).
    pub events: u64,
    /// The state per interval.
    pub timeline: Vec<TimelineRow>,
}

/// The run's RNG as the policies' [`Draw`].
struct RngDraw<'a>(&'a mut SimRng);

impl Draw for RngDraw<'_> {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
}

/// What the simulator tracks per host besides the policy's state.
#[derive(Debug, Clone, Default)]
struct HostAcct {
    /// When it was last switched on, while on.
    on_since: Option<SimTime>,
    /// Time on, ms.
    active_ms: u64,
    /// Time on with its demand unmet, ms.
    violation_ms: u64,
    /// CPU it serves now, MIPS.
    served: f64,
    /// CPU demanded of it now, MIPS.
    demanded: f64,
}

/// What the simulator tracks per VM.
#[derive(Debug, Clone, Default)]
struct VmAcct {
    /// Demand now, MIPS.
    demand: f64,
    /// CPU served now, MIPS.
    served: f64,
    /// Demand lost to its migration now, MIPS.
    migration_loss: f64,
    /// MIPS·ms demanded.
    demanded: f64,
    /// MIPS·ms lost to migrations.
    migration_lost: f64,
    /// MIPS·ms lost to overloaded hosts.
    overload_lost: f64,
    /// When it arrived on its current host.
    placed_at: SimTime,
    /// The migration in flight: its target.
    target: Option<HostId>,
}

/// One run of `policy` on `scenario` with the utilisation `trace`.
pub struct ConsRun<'a> {
    scenario: &'a ConsScenario,
    policy: Consolidation,
    state: ConsolidationState,
    hosts: Vec<HostAcct>,
    vms: Vec<VmAcct>,
    cursors: Vec<UtilCursor<'a>>,
    trace: &'a UtilizationTrace,
    exec: Execution,
    /// CPU share the target spends on a VM arriving.
    target_share: f64,
    rng: SimRng,
    now: SimTime,
    check: bool,
    energy_j: f64,
    active_host_ms: f64,
    migrations: u64,
    overload_migrations: u64,
    underload_migrations: u64,
    shutdowns: Vec<SimTime>,
    stays: Vec<SimTime>,
    next_op: u64,
    events: u64,
    timeline: Vec<TimelineRow>,
}

impl<'a> ConsRun<'a> {
    /// Sets up the cluster and places every VM (power-aware best fit
    /// decreasing on the first utilisation values).
    pub fn new(
        scenario: &'a ConsScenario,
        policy: Consolidation,
        trace: &'a UtilizationTrace,
        seed: u64,
        check: bool,
    ) -> Result<Self, ConsRunError> {
        let layout = scenario.host_layout();
        let n = trace.vms.len();
        let sizes: Vec<Resources> = (0..n)
            .map(|j| trace.vms[j].size_hint().unwrap_or(scenario.vm_types[scenario.vm_type_of(j, n)].size))
            .collect();
        let hosts: Vec<_> = layout
            .iter()
            .map(|&t| (scenario.host_types[t].capacity, scenario.host_types[t].power))
            .collect();
        let state = ConsolidationState::new(&hosts, &sizes, scenario.place_by, scenario.overbooking);
        let (model, target_share): (Box<dyn MigrationModel>, f64) = match scenario.migration_model {
            MigrationModelKind::Cloudsim => (
                Box::new(CloudSimMigration {
                    bandwidth_mbps: scenario.migration.bandwidth_mbps,
                }),
                0.1,
            ),
            MigrationModelKind::Slivers => (Box::new(scenario.migration), 0.0),
        };
        let exec = Execution::new(model, scenario.migration.bandwidth_mibps());
        let mut run = ConsRun {
            scenario,
            policy,
            state,
            hosts: vec![HostAcct::default(); layout.len()],
            vms: vec![VmAcct::default(); n],
            cursors: trace.vms.iter().map(|v| v.cursor()).collect(),
            trace,
            exec,
            target_share,
            rng: SimRng::seed_from_u64(seed),
            now: SimTime::ZERO,
            check,
            energy_j: 0.0,
            active_host_ms: 0.0,
            migrations: 0,
            overload_migrations: 0,
            underload_migrations: 0,
            shutdowns: Vec::new(),
            stays: Vec::new(),
            next_op: 0,
            events: 0,
            timeline: Vec::new(),
        };
        run.read_utilization();
        let placement = run.policy.initial_placement(&run.state);
        for (j, host) in placement.into_iter().enumerate() {
            let Some(h) = host else {
                return Err(ConsRunError::NoRoom {
                    vm: j as u64,
                    size: sizes[j],
                });
            };
            run.state.place(VmId(j as u64), h);
            run.switch_on_if_empty(h);
        }
        run.share();
        Ok(run)
    }

    /// Runs to the scenario's end and returns what it measured.
    pub fn run(mut self) -> Result<ConsRunResult, ConsRunError> {
        let end = self.scenario.duration;
        let period = self.scenario.period;
        let mut tick = SimTime::ZERO;
        let mut completed = Vec::new();
        // The first tick's utilisation was read by `new`.
        let mut first = true;
        loop {
            let phase = self.exec.next_event();
            let next = phase.map_or(tick, |p| p.min(tick));
            if next >= end {
                self.account(end);
                break;
            }
            self.account(next);
            self.events += 1;
            if phase.is_some_and(|p| p <= next) {
                completed.clear();
                self.exec.advance(next, &mut completed);
                for (_, step) in completed.drain(..) {
                    self.finish(step);
                }
                self.share();
            } else {
                if !first {
                    self.read_utilization();
                    self.share();
                }
                first = false;
                let started = self.consolidate();
                self.record(started);
                tick = tick.plus(period);
            }
            if self.check {
                self.check_invariants()?;
            }
        }
        Ok(self.result())
    }

    /// Reads every VM's utilisation at `now` into the policy's state.
    fn read_utilization(&mut self) {
        for (j, c) in self.cursors.iter_mut().enumerate() {
            let u = c.at(self.now);
            self.state.record_utilization(VmId(j as u64), u);
        }
    }

    /// The policy's plan at `now`, started; the number of migrations.
    fn consolidate(&mut self) -> u32 {
        let plan = self.policy.plan(&self.state, &mut RngDraw(&mut self.rng));
        let n = plan.len() as u32;
        for m in plan {
            self.start(m);
        }
        n
    }

    fn start(&mut self, m: Migration) {
        let j = m.vm.0 as usize;
        let size = self.state.vm(m.vm).size;
        self.migrations += 1;
        match m.reason {
            MigrationReason::Overload => self.overload_migrations += 1,
            MigrationReason::Underload | MigrationReason::Repack => self.underload_migrations += 1,
        }
        self.stays.push(SimTime(self.now.0 - self.vms[j].placed_at.0));
        self.state.start_migration(m.vm, m.to);
        self.vms[j].target = Some(m.to);
        self.switch_on_if_empty(m.to);
        let dirty = self.scenario.dirty_mibps * self.state.vm(m.vm).utilization();
        let op = OpId(self.next_op);
        self.next_op += 1;
        self.exec.start(
            self.now,
            op,
            Step::Migrate {
                vm: m.vm,
                from: m.from,
                to: m.to,
                size_from: size,
                size_to: size,
            },
            dirty,
        );
    }

    fn finish(&mut self, step: Step) {
        let Step::Migrate { vm, from, .. } = step else {
            return;
        };
        self.state.finish_migration(vm);
        let j = vm.0 as usize;
        self.vms[j].target = None;
        self.vms[j].placed_at = self.now;
        self.switch_off_if_empty(from);
    }

    fn switch_on_if_empty(&mut self, h: HostId) {
        let a = &mut self.hosts[h.0 as usize];
        if a.on_since.is_none() {
            a.on_since = Some(self.now);
        }
    }

    fn switch_off_if_empty(&mut self, h: HostId) {
        if self.state.host(h).vms.is_empty() {
            let a = &mut self.hosts[h.0 as usize];
            if let Some(since) = a.on_since.take() {
                self.shutdowns.push(SimTime(self.now.0 - since.0));
            }
        }
    }

    /// Recomputes what every VM demands and gets, and every host serves.
    fn share(&mut self) {
        for a in &mut self.hosts {
            a.served = 0.0;
            a.demanded = 0.0;
        }
        for (j, v) in self.vms.iter_mut().enumerate() {
            let vm = VmId(j as u64);
            let s = self.state.vm(vm);
            v.demand = s.utilization() * s.size.cpu_millicores() as f64;
            let got = match self.exec.availability(vm) {
                Some(a) => a.fraction(),
                None => 1.0,
            };
            v.migration_loss = v.demand * (1.0 - got);
            v.served = v.demand * got;
            self.hosts[s.host.0 as usize].demanded += v.served;
            if let Some(t) = v.target
                && !matches!(self.exec.availability(vm), Some(Availability::Down))
            {
                self.hosts[t.0 as usize].demanded += v.demand * self.target_share;
            }
        }
        // Max-min fair shares on overloaded hosts: scale each VM's share
        // down to the water level.
        for h in 0..self.hosts.len() {
            let cap = self.state.host(HostId(h as u64)).capacity.cpu_millicores() as f64;
            let a = &mut self.hosts[h];
            if a.demanded <= cap {
                a.served = a.demanded;
                continue;
            }
            a.served = cap;
            let host = HostId(h as u64);
            let mut shares: Vec<(f64, usize)> = self
                .state
                .host(host)
                .vms
                .iter()
                .filter(|v| self.state.vm(**v).host == host)
                .map(|v| (self.vms[v.0 as usize].served, v.0 as usize))
                .collect();
            shares.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let arriving = a.demanded - shares.iter().map(|s| s.0).sum::<f64>();
            let mut left = cap - arriving.min(cap);
            let mut k = shares.len();
            for (want, j) in shares {
                let level = left / k as f64;
                let got = want.min(level);
                self.vms[j].served = got;
                left -= got;
                k -= 1;
            }
        }
    }

    /// Integrates energy, violation time and CPU from the last event to `to`.
    fn account(&mut self, to: SimTime) {
        let dt = (to.0 - self.now.0) as f64;
        if dt > 0.0 {
            let npa = self.policy.is_non_power_aware();
            for (h, a) in self.hosts.iter_mut().enumerate() {
                let host = self.state.host(HostId(h as u64));
                if npa {
                    self.energy_j += host.power.watts(1.0) * dt / 1000.0;
                }
                if a.on_since.is_none() {
                    continue;
                }
                let cap = host.capacity.cpu_millicores() as f64;
                if !npa {
                    self.energy_j += host.power.watts((a.served / cap).min(1.0)) * dt / 1000.0;
                }
                a.active_ms += dt as u64;
                self.active_host_ms += dt;
                if a.demanded > cap * (1.0 + 1e-12) {
                    a.violation_ms += dt as u64;
                }
            }
            for v in &mut self.vms {
                v.demanded += v.demand * dt;
                v.migration_lost += v.migration_loss * dt;
                v.overload_lost += (v.demand - v.migration_loss - v.served).max(0.0) * dt;
            }
        }
        self.now = to;
    }

    fn record(&mut self, migrations: u32) {
        let mut row = TimelineRow {
            time: self.now,
            active_hosts: 0,
            overloaded_hosts: 0,
            power_w: 0.0,
            migrations,
        };
        for (h, a) in self.hosts.iter().enumerate() {
            let host = self.state.host(HostId(h as u64));
            let cap = host.capacity.cpu_millicores() as f64;
            if a.on_since.is_some() {
                row.active_hosts += 1;
                row.power_w += host.power.watts((a.served / cap).min(1.0));
                if a.demanded > cap * (1.0 + 1e-12) {
                    row.overloaded_hosts += 1;
                }
            }
        }
        self.timeline.push(row);
    }

    fn check_invariants(&self) -> Result<(), ConsRunError> {
        let fail = |message: String| ConsRunError::Invariant { at: self.now, message };
        self.state.check().map_err(fail)?;
        for (h, a) in self.hosts.iter().enumerate() {
            let host = self.state.host(HostId(h as u64));
            let cap = host.capacity.cpu_millicores() as f64;
            if a.served > cap * (1.0 + 1e-9) {
                return Err(fail(format!("host {h} serves {} MIPS of {cap}", a.served)));
            }
            if a.on_since.is_some() != !host.vms.is_empty() {
                return Err(fail(format!(
                    "host {h} is {} but holds {} VMs",
                    if a.on_since.is_some() { "on" } else { "off" },
                    host.vms.len()
                )));
            }
        }
        Ok(())
    }

    fn result(self) -> ConsRunResult {
        let n = self.vms.len().max(1) as f64;
        let active: u64 = self.hosts.iter().map(|a| a.active_ms).sum();
        let violation: u64 = self.hosts.iter().map(|a| a.violation_ms).sum();
        let slatah = if active == 0 { 0.0 } else { violation as f64 / active as f64 };
        let pdm = self
            .vms
            .iter()
            .map(|v| if v.demanded > 0.0 { v.migration_lost / v.demanded } else { 0.0 })
            .sum::<f64>()
            / n;
        let demanded: f64 = self.vms.iter().map(|v| v.demanded).sum();
        let overload_lost: f64 = self.vms.iter().map(|v| v.overload_lost).sum();
        let energy_kwh = self.energy_j / 3.6e6;
        let mean_s = |xs: &[SimTime]| {
            if xs.is_empty() {
                0.0
            } else {
                xs.iter().map(|t| t.as_secs_f64()).sum::<f64>() / xs.len() as f64
            }
        };
        let cost = self.exec.cost();
        ConsRunResult {
            policy: self.policy.to_string(),
            hosts: self.hosts.len() as u32,
            vms: self.vms.len() as u32,
            energy_kwh,
            slatah,
            pdm,
            slav: slatah * pdm,
            esv: energy_kwh * slatah * pdm,
            migrations: self.migrations,
            overload_migrations: self.overload_migrations,
            underload_migrations: self.underload_migrations,
            host_shutdowns: self.shutdowns.len() as u64,
            mean_time_before_shutdown_s: mean_s(&self.shutdowns),
            mean_time_before_migration_s: mean_s(&self.stays),
            mean_active_hosts: self.active_host_ms / self.scenario.duration.0.max(1) as f64,
            overload_loss: if demanded > 0.0 { overload_lost / demanded } else { 0.0 },
            migration_time_s: cost.migration_ms as f64 / 1000.0,
            downtime_s: cost.downtime_ms as f64 / 1000.0,
            events: self.events,
            timeline: self.timeline,
        }
    }
}

/// Runs every policy of `scenario` (in parallel; results in policy order).
pub fn run_all(scenario: &ConsScenario, trace: &UtilizationTrace, check: bool) -> Result<Vec<ConsRunResult>, ConsRunError> {
    use rayon::prelude::*;
    scenario
        .policies
        .par_iter()
        .map(|&p| ConsRun::new(scenario, p, trace, scenario.seed, check)?.run())
        .collect()
}
