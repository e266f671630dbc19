//! Consolidation runs: VMs of fixed types run for the whole scenario, a
//! utilisation trace says how much CPU each uses, and every interval the
//! site's consolidation policy may migrate VMs (the experiment of
//! Beloglazov and Buyya, CCPE 2012). See `docs/consolidation.md`.
//!
//! * **Time**: an interval tick every `period`, and the ends of migration
//!   phases from [`Execution`]. At one instant migration phases end first
//!   (they free room), then the tick. At a tick: VMs whose trace has ended
//!   leave, every running VM's utilisation is read, VMs whose trace has
//!   started are placed (power-aware best fit, as if each used its whole
//!   sliver: nothing is known of its use yet, as CloudSim places them), and
//!   from the second tick on the policy plans its migrations. A VM that
//!   finds no host waits for the next tick (it is *pending*).
//! * **CPU**: a VM demands `utilisation × its MIPS`. A VM migrating out
//!   gets its availability's share on its source (CloudSim model: 90 %;
//!   slivers' pre-copy: all of it while rounds run, nothing while paused),
//!   and the target spends a share of the VM's demand on receiving it
//!   (CloudSim: 10 %; slivers: none). When the demands on a host exceed its
//!   capacity, each gets the same fraction of its demand (CloudSim's
//!   oversubscription scheduler) and loses the rest.
//! * **Energy**: a host holding a VM (on it or arriving) is on and draws
//!   its power model's watts at its CPU utilisation; an empty host is off
//!   and draws nothing (switching is instantaneous, as in CloudSim). The
//!   non-power-aware baseline (NPA) draws every host's full power all the
//!   time.
//! * **Metrics** (as CCPE 2012 defines them): SLATAH = the mean over hosts
//!   of the share of their active time during which their CPU demand was
//!   not met; PDM = the mean over VMs of the CPU lost to migrations over the
//!   CPU demanded;
//!   SLAV = SLATAH × PDM; ESV = energy × SLAV.
//! * **Invariants** (checked after every event with `check`, and in debug
//!   builds): every VM of the trace is pending, running (on one host),
//!   migrating (on its source and its target) or finished, and the counts add
//!   up; each host's reservations stay within its overbooking ratios in
//!   every dimension; no host serves more CPU than it has; a host is on
//!   exactly when it holds a VM.

use slivers_policy::consolidation::{
    Consolidation, ConsolidationState, Draw, History, Migration, NewVm, Order, OverloadKind, PlaceBy, Reason,
    Rules, StateError, SwitchOnCost, place_new,
};
use slivers_policy::plan::Step;
use slivers_policy::{DIMS, HostId, Policy, Resources, VmId};

use crate::engine::SimTime;
use crate::model::OpId;
use crate::model::execution::Execution;
use crate::model::migration::{Availability, CloudSimMigration, MigrationModel};
use crate::rng::SimRng;
use crate::scenario::consolidation::{ConsScenario, MigrationModelKind};
use crate::trace::utilization::{UtilizationCursor, UtilizationTrace};

/// Why a consolidation run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsRunError {
    /// The policy could not plan (the exact repacker on too large a site).
    #[error("{policy}: {message}")]
    Policy {
        /// The policy's label.
        policy: String,
        /// Why.
        message: String,
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

/// One row of `timeline.csv`: the state at a tick, after the policy planned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineRow {
    /// The tick.
    pub time: SimTime,
    /// Hosts on.
    pub active_hosts: u32,
    /// Hosts whose CPU demand exceeds their capacity.
    pub overloaded_hosts: u32,
    /// Watts drawn.
    pub power_w: f64,
    /// Migrations the policy started.
    pub migrations: u32,
    /// VMs waiting for a host.
    pub pending: u32,
}

/// A decision of a run, for an executor to carry out (`slivers live`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Create the VM on the host.
    Place {
        /// When.
        at: SimTime,
        /// The VM (its index in the trace).
        vm: VmId,
        /// Where.
        host: HostId,
    },
    /// Live-migrate the VM.
    Migrate {
        /// When it starts.
        at: SimTime,
        /// The VM.
        vm: VmId,
        /// From.
        from: HostId,
        /// To.
        to: HostId,
    },
    /// Destroy the VM (its trace ended).
    Remove {
        /// When.
        at: SimTime,
        /// The VM.
        vm: VmId,
        /// Where it ran.
        host: HostId,
        /// Where it was migrating to, if it was (an executor that finished
        /// the migration finds it there).
        migrating_to: Option<HostId>,
    },
}

/// What one consolidation run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsRunResult {
    /// The policy's label (`THR-MMT-0.8`).
    pub policy: String,
    /// Hosts of the cluster.
    pub hosts: u32,
    /// VMs of the trace.
    pub vms: u32,
    /// Energy drawn by the hosts, kWh.
    pub energy_kwh: f64,
    /// SLA violation time per active host: the mean over hosts that were on
    /// of the share of their time on with their CPU demand unmet.
    pub slatah: f64,
    /// Performance degradation due to migration: the mean over VMs of the
    /// CPU lost to migrations over the CPU demanded.
    pub pdm: f64,
    /// SLATAH × PDM.
    pub slav: f64,
    /// Energy × SLAV.
    pub esv: f64,
    /// Migrations started.
    pub migrations: u64,
    /// Of which from overloaded hosts.
    pub overload_migrations: u64,
    /// Of which draining underloaded hosts (or repacking).
    pub underload_migrations: u64,
    /// Hosts switched off (emptied after being on).
    pub host_shutdowns: u64,
    /// Mean time a host was on before being switched off, s.
    pub mean_time_before_shutdown_s: f64,
    /// Mean time a VM stayed on a host before it migrated, s.
    pub mean_time_before_migration_s: f64,
    /// Time-weighted mean of the hosts on.
    pub mean_active_hosts: f64,
    /// CPU demand lost on overloaded hosts over all CPU demand.
    pub overload_loss: f64,
    /// Migration time summed over migrations, s.
    pub migration_time_s: f64,
    /// Time VMs were paused by migrations, summed, s.
    pub downtime_s: f64,
    /// VM-seconds spent waiting for a host.
    pub pending_s: f64,
    /// VMs whose trace started but that never found a host.
    pub unplaced: u32,
    /// Events handled (ticks and migration phase ends).
    pub events: u64,
    /// The state per tick.
    pub timeline: Vec<TimelineRow>,
    /// Every placement, migration and removal in time order, if asked for.
    pub decisions: Vec<Decision>,
}

/// The run's RNG as the policies' [`Draw`].
struct RngDraw<'a>(&'a mut SimRng);

impl Draw for RngDraw<'_> {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
}

/// Where a VM of the trace is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its trace has not started, or it waits for a host.
    Pending,
    /// In the state (on a host, or migrating).
    Running,
    /// Its trace ended.
    Finished,
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
    /// CPU demanded of it now, MIPS.
    demanded: f64,
    /// The fraction of its demands it serves now (1 unless overloaded).
    served_share: f64,
}

/// What the simulator tracks per VM.
#[derive(Debug, Clone)]
struct VmAcct {
    phase: Phase,
    /// It has had a host.
    ran: bool,
    size: Resources,
    /// Demand now, MIPS.
    demand: f64,
    /// The share of its demand its migration leaves it now (1 if none).
    availability: f64,
    /// MIPS·ms demanded.
    demanded: f64,
    /// MIPS·ms lost to migrations.
    migration_lost: f64,
    /// MIPS·ms lost to overloaded hosts.
    overload_lost: f64,
    /// When it arrived on its current host.
    placed_at: SimTime,
}

/// One run of a policy on a scenario's cluster with a utilisation trace.
pub struct ConsRun<'a> {
    scenario: &'a ConsScenario,
    policy: Consolidation,
    /// The detector that bounds initial placements (the policy's own; THR
    /// 1.0 for the baselines and the repacker).
    placement_check: Policy<OverloadKind>,
    state: ConsolidationState,
    hosts: Vec<HostAcct>,
    vms: Vec<VmAcct>,
    trace: &'a UtilizationTrace,
    cursor: UtilizationCursor,
    exec: Execution,
    /// CPU share the target spends on a VM arriving.
    target_share: f64,
    /// A degraded migrating VM runs on its target (slivers' post-copy), not
    /// on its source (CloudSim's 10 % loss).
    post_copy_on_target: bool,
    rng: SimRng,
    now: SimTime,
    check: bool,
    log: bool,
    energy_j: f64,
    active_host_ms: f64,
    pending_ms: f64,
    migrations: u64,
    overload_migrations: u64,
    underload_migrations: u64,
    shutdowns: Vec<SimTime>,
    stays: Vec<SimTime>,
    next_op: u64,
    events: u64,
    timeline: Vec<TimelineRow>,
    decisions: Vec<Decision>,
}

impl<'a> ConsRun<'a> {
    /// An empty cluster for `policy`; VMs arrive at the first tick. With
    /// `log`, the result lists every decision.
    pub fn new(
        scenario: &'a ConsScenario,
        policy: Consolidation,
        trace: &'a UtilizationTrace,
        seed: u64,
        check: bool,
        log: bool,
    ) -> Result<Self, ConsRunError> {
        let bug = |e: StateError| ConsRunError::Invariant {
            at: SimTime::ZERO,
            message: e.to_string(),
        };
        let rules = Rules {
            place_by: scenario.place_by,
            overbooking: scenario.overbooking,
        };
        let mut state = ConsolidationState::new(rules, scenario.period.as_secs_f64()).map_err(bug)?;
        let layout = scenario.host_layout();
        for &t in &layout {
            let ty = &scenario.host_types[t];
            state.add_host_with_cores(ty.capacity, ty.cores, ty.power, false);
        }
        let vms = scenario
            .vm_sizes(trace)
            .into_iter()
            .map(|size| VmAcct {
                phase: Phase::Pending,
                ran: false,
                size,
                demand: 0.0,
                availability: 1.0,
                demanded: 0.0,
                migration_lost: 0.0,
                overload_lost: 0.0,
                placed_at: SimTime::ZERO,
            })
            .collect();
        let (model, target_share): (Box<dyn MigrationModel>, f64) = match scenario.migration_model {
            MigrationModelKind::Cloudsim => (
                Box::new(CloudSimMigration {
                    bandwidth_mbps: scenario.migration.bandwidth_mbps,
                }),
                0.1,
            ),
            MigrationModelKind::Slivers => (Box::new(scenario.migration), 0.0),
        };
        let placement_check = match policy {
            Consolidation::Dynamic { overload, .. } => overload,
            _ => Policy::with(OverloadKind::Thr, [("threshold", 1.0)]).map_err(|e| bug_msg(e.to_string()))?,
        };
        Ok(ConsRun {
            scenario,
            policy,
            placement_check,
            state,
            hosts: vec![HostAcct::default(); layout.len()],
            vms,
            trace,
            cursor: trace.cursor(),
            exec: Execution::new(model, scenario.migration.bandwidth_mibps()),
            target_share,
            post_copy_on_target: scenario.migration_model == MigrationModelKind::Slivers,
            rng: SimRng::seed_from_u64(seed),
            now: SimTime::ZERO,
            check: check || cfg!(debug_assertions),
            log,
            energy_j: 0.0,
            active_host_ms: 0.0,
            pending_ms: 0.0,
            migrations: 0,
            overload_migrations: 0,
            underload_migrations: 0,
            shutdowns: Vec::new(),
            stays: Vec::new(),
            next_op: 0,
            events: 0,
            timeline: Vec::new(),
            decisions: Vec::new(),
        })
    }

    /// Runs to the scenario's end and returns what it measured.
    pub fn run(self) -> Result<ConsRunResult, ConsRunError> {
        self.run_observed(&|_, _| {})
    }

    /// [`Self::run`], telling `progress` the time of each tick handled and
    /// the events so far.
    pub fn run_observed(mut self, progress: &dyn Fn(SimTime, u64)) -> Result<ConsRunResult, ConsRunError> {
        let end = self.scenario.duration;
        let period = self.scenario.period;
        let mut tick = SimTime::ZERO;
        let mut completed = Vec::new();
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
                    self.finish(step)?;
                }
                self.share();
            } else {
                // (A tick shares the CPU itself, before it records.)
                self.tick(tick == SimTime::ZERO)?;
                progress(tick, self.events);
                tick = tick.plus(period);
            }
            if self.check {
                self.check_invariants()?;
            }
        }
        Ok(self.result())
    }

    fn bug(&self, e: StateError) -> ConsRunError {
        ConsRunError::Invariant {
            at: self.now,
            message: e.to_string(),
        }
    }

    /// One tick: departures, utilisation, arrivals, then the policy's plan
    /// (not at the first tick: nothing has been measured yet).
    fn tick(&mut self, first: bool) -> Result<(), ConsRunError> {
        let now = self.now;
        let mut arriving = Vec::new();
        for j in 0..self.vms.len() {
            let usage = &self.trace.vms[j];
            let running = usage.is_running(now);
            match self.vms[j].phase {
                Phase::Running if !running => self.remove(j)?,
                Phase::Running => {
                    let u = self.cursor.at(self.trace, j, now).unwrap_or(0.0) as f64;
                    self.vms[j].demand = u * self.vms[j].size.0[0] as f64;
                    let demand = self.vms[j].demand;
                    self.state
                        .record(VmId(j as u64), demand)
                        .map_err(|e| self.bug(e))?;
                }
                Phase::Pending if running => arriving.push(j),
                Phase::Pending if usage.end.is_some_and(|e| e <= now) => self.vms[j].phase = Phase::Finished,
                Phase::Pending | Phase::Finished => {}
            }
        }
        self.arrive(&arriving)?;
        let started = if first { 0 } else { self.consolidate()? };
        self.share();
        self.record(started);
        Ok(())
    }

    /// Places the VMs `arriving` (trace indices) by PABFD at their full
    /// sliver; those that fit start running.
    fn arrive(&mut self, arriving: &[usize]) -> Result<(), ConsRunError> {
        if arriving.is_empty() {
            return Ok(());
        }
        let empty = History::new();
        let new: Vec<NewVm> = arriving
            .iter()
            .map(|&j| NewVm {
                id: VmId(j as u64),
                reserved: self.vms[j].size,
                demand_mips: self.vms[j].size.0[0] as f64,
                history: &empty,
            })
            .collect();
        let hosts = place_new(
            &self.state,
            &new,
            &self.placement_check,
            SwitchOnCost::Ignored,
            Order::AsGiven,
        );
        for (&j, host) in arriving.iter().zip(hosts) {
            let Some(h) = host else { continue };
            let id = VmId(j as u64);
            self.state
                .add_vm(id, self.vms[j].size, h)
                .map_err(|e| self.bug(e))?;
            let u = self.cursor.at(self.trace, j, self.now).unwrap_or(0.0) as f64;
            let v = &mut self.vms[j];
            v.phase = Phase::Running;
            v.ran = true;
            v.placed_at = self.now;
            v.demand = u * v.size.0[0] as f64;
            let demand = v.demand;
            self.state.record(id, demand).map_err(|e| self.bug(e))?;
            self.switch_on(h)?;
            if self.log {
                self.decisions.push(Decision::Place {
                    at: self.now,
                    vm: id,
                    host: h,
                });
            }
        }
        Ok(())
    }

    /// A VM whose trace ended leaves (a migration in flight is abandoned:
    /// its transfer runs on, and its completion is ignored).
    fn remove(&mut self, j: usize) -> Result<(), ConsRunError> {
        let id = VmId(j as u64);
        let vm = self
            .state
            .vm(id)
            .ok_or_else(|| self.bug(StateError::UnknownVm(id)))?;
        let (host, migrating_to) = (vm.host(), vm.migrating_to());
        self.state.remove_vm(id).map_err(|e| self.bug(e))?;
        let v = &mut self.vms[j];
        v.phase = Phase::Finished;
        v.demand = 0.0;
        v.availability = 1.0;
        if self.log {
            self.decisions.push(Decision::Remove {
                at: self.now,
                vm: id,
                host,
                migrating_to,
            });
        }
        for h in std::iter::once(host).chain(migrating_to) {
            self.switch_off_if_empty(h)?;
        }
        Ok(())
    }

    /// The policy's plan at `now`, started; the number of migrations.
    fn consolidate(&mut self) -> Result<u32, ConsRunError> {
        let plan = self
            .policy
            .plan(&self.state, &mut RngDraw(&mut self.rng))
            .map_err(|e| ConsRunError::Policy {
                policy: self.policy.to_string(),
                message: e.to_string(),
            })?;
        let n = plan.len() as u32;
        for m in plan {
            self.start(m)?;
        }
        Ok(n)
    }

    fn start(&mut self, m: Migration) -> Result<(), ConsRunError> {
        let j = m.vm.0 as usize;
        let size = self.vms[j].size;
        self.migrations += 1;
        match m.reason {
            Reason::Overload => self.overload_migrations += 1,
            Reason::Underload | Reason::Repack => self.underload_migrations += 1,
        }
        self.stays.push(SimTime(self.now.0 - self.vms[j].placed_at.0));
        self.state.start_migration(m.vm, m.to).map_err(|e| self.bug(e))?;
        self.switch_on(m.to)?;
        let utilization = self.vms[j].demand / size.0[0] as f64;
        let dirty = self.scenario.dirty_mibps * utilization;
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
        if self.log {
            self.decisions.push(Decision::Migrate {
                at: self.now,
                vm: m.vm,
                from: m.from,
                to: m.to,
            });
        }
        Ok(())
    }

    fn finish(&mut self, step: Step) -> Result<(), ConsRunError> {
        let Step::Migrate { vm, from, .. } = step else {
            return Ok(());
        };
        let j = vm.0 as usize;
        if self.vms[j].phase != Phase::Running {
            return Ok(());
        }
        self.state.finish_migration(vm).map_err(|e| self.bug(e))?;
        self.vms[j].placed_at = self.now;
        self.switch_off_if_empty(from)
    }

    fn switch_on(&mut self, h: HostId) -> Result<(), ConsRunError> {
        let a = &mut self.hosts[h.index()];
        if a.on_since.is_none() {
            a.on_since = Some(self.now);
            self.state.set_active(h, true).map_err(|e| self.bug(e))?;
        }
        Ok(())
    }

    fn switch_off_if_empty(&mut self, h: HostId) -> Result<(), ConsRunError> {
        let empty = self.state.host(h).is_none_or(|s| s.vms().is_empty());
        if empty && let Some(since) = self.hosts[h.index()].on_since.take() {
            self.shutdowns.push(SimTime(self.now.0 - since.0));
            self.state.set_active(h, false).map_err(|e| self.bug(e))?;
        }
        Ok(())
    }

    /// Recomputes what every host is asked for and what share it serves.
    fn share(&mut self) {
        for a in &mut self.hosts {
            a.demanded = 0.0;
        }
        for (j, v) in self.vms.iter_mut().enumerate() {
            if v.phase != Phase::Running {
                continue;
            }
            let id = VmId(j as u64);
            let Some(s) = self.state.vm(id) else { continue };
            let availability = self.exec.availability(id);
            v.availability = availability.map_or(1.0, Availability::fraction);
            // Where the VM runs: on its source, except in slivers' model
            // once a post-copy switch resumed it on the target (degraded
            // while it pulls its pages); CloudSim's degraded phase runs on
            // the source.
            let resumed = self.post_copy_on_target && matches!(availability, Some(Availability::Degraded(_)));
            let runs_on = match (resumed, s.migrating_to()) {
                (true, Some(t)) => t,
                _ => s.host(),
            };
            self.hosts[runs_on.index()].demanded += v.demand * v.availability;
            if let Some(t) = s.migrating_to()
                && !resumed
                && availability != Some(Availability::Down)
            {
                self.hosts[t.index()].demanded += v.demand * self.target_share;
            }
        }
        for (a, h) in self.hosts.iter_mut().zip(self.state.hosts()) {
            a.served_share = if a.demanded > h.mips() {
                h.mips() / a.demanded
            } else {
                1.0
            };
        }
    }

    /// Integrates energy, violation time and CPU from the last event to `to`.
    fn account(&mut self, to: SimTime) {
        let dt = (to.0 - self.now.0) as f64;
        if dt > 0.0 {
            let npa = self.policy == Consolidation::Npa;
            for (a, host) in self.hosts.iter_mut().zip(self.state.hosts()) {
                if npa {
                    self.energy_j += host.power().max_watts() * dt / 1000.0;
                }
                if a.on_since.is_none() {
                    continue;
                }
                if !npa {
                    let u = (a.demanded * a.served_share / host.mips()).min(1.0);
                    self.energy_j += host.power().watts(u) * dt / 1000.0;
                }
                a.active_ms += dt as u64;
                self.active_host_ms += dt;
                if a.served_share < 1.0 {
                    a.violation_ms += dt as u64;
                }
            }
            for (j, v) in self.vms.iter_mut().enumerate() {
                match v.phase {
                    Phase::Running => {
                        let host = self.state.vm(VmId(j as u64)).map(|s| s.host().index());
                        let share = host.map_or(1.0, |h| self.hosts[h].served_share);
                        v.demanded += v.demand * dt;
                        v.migration_lost += v.demand * (1.0 - v.availability) * dt;
                        v.overload_lost += v.demand * v.availability * (1.0 - share) * dt;
                    }
                    Phase::Pending if self.trace.vms[j].is_running(self.now) => self.pending_ms += dt,
                    Phase::Pending | Phase::Finished => {}
                }
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
            pending: 0,
        };
        let npa = self.policy == Consolidation::Npa;
        for (a, host) in self.hosts.iter().zip(self.state.hosts()) {
            if npa {
                row.power_w += host.power().max_watts();
            }
            if a.on_since.is_some() {
                row.active_hosts += 1;
                if !npa {
                    row.power_w += host
                        .power()
                        .watts((a.demanded * a.served_share / host.mips()).min(1.0));
                }
                if a.served_share < 1.0 {
                    row.overloaded_hosts += 1;
                }
            }
        }
        row.pending = (self.vms.iter().enumerate())
            .filter(|(j, v)| v.phase == Phase::Pending && self.trace.vms[*j].is_running(self.now))
            .count() as u32;
        self.timeline.push(row);
    }

    fn check_invariants(&self) -> Result<(), ConsRunError> {
        let fail = |message: String| ConsRunError::Invariant {
            at: self.now,
            message,
        };
        let rules = self.state.rules();
        for (h, (a, host)) in self.hosts.iter().zip(self.state.hosts()).enumerate() {
            // By use, CPU reservations are not bounded (demands are, and
            // an overloaded host shares its CPU).
            let reserved = self.state.host_reserved(HostId(h as u32));
            let limits = rules.limits(&host.capacity());
            let first = usize::from(rules.place_by == PlaceBy::Use);
            if (first..DIMS).any(|d| reserved.0[d] > limits.0[d]) {
                return Err(fail(format!(
                    "host {h} reserves {reserved}, over its limits {}",
                    rules.limits(&host.capacity())
                )));
            }
            let served = a.demanded * a.served_share;
            if served > host.mips() * (1.0 + 1e-9) {
                return Err(fail(format!("host {h} serves {served} MIPS of {}", host.mips())));
            }
            if a.on_since.is_some() == host.vms().is_empty() || host.is_active() != a.on_since.is_some() {
                return Err(fail(format!(
                    "host {h} is {} but holds {} VMs",
                    if a.on_since.is_some() { "on" } else { "off" },
                    host.vms().len()
                )));
            }
        }
        let mut running = 0;
        for (j, v) in self.vms.iter().enumerate() {
            let id = VmId(j as u64);
            let in_state = self.state.vm(id);
            match (v.phase, in_state) {
                (Phase::Running, Some(s)) => {
                    running += 1;
                    let on = |h: HostId| {
                        self.state
                            .host(h)
                            .is_some_and(|x| x.vms().binary_search(&id).is_ok())
                    };
                    if !on(s.host()) || s.migrating_to().is_some_and(|t| !on(t)) {
                        return Err(fail(format!("{id} is not on the hosts it runs or migrates on")));
                    }
                }
                (Phase::Running, None) => return Err(fail(format!("{id} runs but is not placed"))),
                (Phase::Pending | Phase::Finished, Some(_)) => {
                    return Err(fail(format!("{id} is placed but not running")));
                }
                (Phase::Pending | Phase::Finished, None) => {}
            }
        }
        if running != self.state.vms().len() {
            return Err(fail(format!(
                "{} VMs placed, {running} running",
                self.state.vms().len()
            )));
        }
        Ok(())
    }

    fn result(self) -> ConsRunResult {
        let per_host: Vec<f64> = (self.hosts.iter())
            .filter(|a| a.active_ms > 0)
            .map(|a| a.violation_ms as f64 / a.active_ms as f64)
            .collect();
        let slatah = mean(&per_host);
        let per_vm: Vec<f64> = (self.vms.iter())
            .filter(|v| v.demanded > 0.0)
            .map(|v| v.migration_lost / v.demanded)
            .collect();
        let pdm = mean(&per_vm);
        let demanded: f64 = self.vms.iter().map(|v| v.demanded).sum();
        let overload_lost: f64 = self.vms.iter().map(|v| v.overload_lost).sum();
        let energy_kwh = self.energy_j / 3.6e6;
        let secs = |xs: &[SimTime]| mean(&xs.iter().map(|t| t.as_secs_f64()).collect::<Vec<_>>());
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
            mean_time_before_shutdown_s: secs(&self.shutdowns),
            mean_time_before_migration_s: secs(&self.stays),
            mean_active_hosts: self.active_host_ms / self.scenario.duration.0.max(1) as f64,
            overload_loss: if demanded > 0.0 {
                overload_lost / demanded
            } else {
                0.0
            },
            migration_time_s: cost.migration_ms as f64 / 1000.0,
            downtime_s: cost.downtime_ms as f64 / 1000.0,
            pending_s: self.pending_ms / 1000.0,
            unplaced: (self.vms.iter().enumerate())
                .filter(|(j, v)| !v.ran && self.trace.vms[*j].start().is_some_and(|t| t < self.now))
                .count() as u32,
            events: self.events,
            timeline: self.timeline,
            decisions: self.decisions,
        }
    }
}

fn bug_msg(message: String) -> ConsRunError {
    ConsRunError::Invariant {
        at: SimTime::ZERO,
        message,
    }
}

/// The mean of `xs` (0 when empty).
fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Runs every policy of `scenario` (in parallel; results in policy order).
pub fn run_all(
    scenario: &ConsScenario,
    trace: &UtilizationTrace,
    check: bool,
) -> Result<Vec<ConsRunResult>, ConsRunError> {
    run_all_observed(scenario, trace, check, &|_, _, _| {})
}

/// [`run_all`], telling `progress` (policy index, tick time, events) as
/// each policy's run handles its ticks.
pub fn run_all_observed(
    scenario: &ConsScenario,
    trace: &UtilizationTrace,
    check: bool,
    progress: &(dyn Fn(usize, SimTime, u64) + Sync),
) -> Result<Vec<ConsRunResult>, ConsRunError> {
    use rayon::prelude::*;
    (scenario.policies.par_iter().enumerate())
        .map(|(i, &p)| {
            ConsRun::new(scenario, p, trace, scenario.seed, check, false)?
                .run_observed(&|now, events| progress(i, now, events))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::consolidation::ConsScenario;

    fn tiny() -> ConsScenario {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/consolidation/tiny.toml");
        ConsScenario::load(&path).unwrap()
    }

    /// A run after its first tick (every VM placed), checked sound.
    fn placed<'a>(s: &'a ConsScenario, trace: &'a UtilizationTrace) -> ConsRun<'a> {
        let mut r = ConsRun::new(s, Consolidation::Dvfs, trace, 1, true, false).unwrap();
        r.tick(true).unwrap();
        r.share();
        r.check_invariants().unwrap();
        assert!(r.state.vms().len() > 1);
        r
    }

    fn fails_with(r: &ConsRun, what: &str) {
        match r.check_invariants() {
            Err(ConsRunError::Invariant { message, .. }) => assert!(message.contains(what), "{message}"),
            other => panic!("expected an invariant violation ({what}), got {other:?}"),
        }
    }

    /// The host holding most VMs.
    fn busiest(r: &ConsRun) -> HostId {
        let h = (0..r.hosts.len())
            .max_by_key(|&h| r.state.hosts()[h].vms().len())
            .unwrap();
        assert!(r.state.hosts()[h].vms().len() >= 2);
        HostId(h as u32)
    }

    #[test]
    fn the_checker_catches_each_broken_rule() {
        let s = tiny();
        let trace = s.trace(s.seed);

        // A host holding VMs but switched off.
        let mut r = placed(&s, &trace);
        let h = busiest(&r);
        r.hosts[h.index()].on_since = None;
        fails_with(&r, &format!("host {} is off but holds", h.0));

        // A host serving more CPU than it has.
        let mut r = placed(&s, &trace);
        let a = &mut r.hosts[h.index()];
        a.demanded = 1e9;
        a.served_share = 1.0;
        fails_with(&r, "MIPS of");

        // A host reserving more memory than its overbooking ratio allows.
        let mut r = placed(&s, &trace);
        let big = Resources::new(1, 1 << 20, 1, 0);
        r.state.add_vm(VmId(1_000), big, h).unwrap();
        fails_with(&r, "over its limits");

        // A VM in the state that the run says is waiting.
        let mut r = placed(&s, &trace);
        let vm = r.state.hosts()[h.index()].vms()[0];
        r.vms[vm.0 as usize].phase = Phase::Pending;
        fails_with(&r, "is placed but not running");

        // A VM running but in no host.
        let mut r = placed(&s, &trace);
        r.state.remove_vm(vm).unwrap();
        fails_with(&r, "runs but is not placed");

        // A VM in the state that the run does not know.
        let mut r = placed(&s, &trace);
        r.state
            .add_vm(VmId(1_000), Resources::new(1, 1, 1, 0), h)
            .unwrap();
        fails_with(&r, "VMs placed");
    }
}
