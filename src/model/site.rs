//! The site authority: places granted slivers on physical hosts and executes
//! the steps that get them there (paper, sec. 4 and 5).
//!
//! The site keeps two views of its hosts:
//! * the **planned** placement, where every VM will be once the queued steps
//!   are done; policies decide over it;
//! * the **actual** reservations, which change as steps start and complete.
//!   A step reserves capacity when it starts (a live migration holds its
//!   target from the start, and its source until the end) and frees it when
//!   it completes.
//!
//! Steps start in the order they were planned. A step starts only when its
//! VM is idle and its reservation fits; otherwise it and every step behind
//! it wait. Because the plan is feasible when run one step at a time, the
//! head step always fits once the steps ahead of it complete: nothing
//! deadlocks, and no host is ever over capacity.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use slivers_policy::plan::{self, Change, PlanError, Step};
use slivers_policy::{
    GuestId, HostId, HostTable, HostView, PlaceRequest, Placement, Resources, VmId, VmView, VmsView, fit,
};

use super::VmMap;
use super::broker::Grant;
use super::energy::{EnergyMeter, PowerParams};
use super::thermal::ThermalMeter;
use crate::engine::{DenseId, IdSlab, SimTime};

/// Where the brokers hold each VM the site hosts: its logical home (a
/// host of this site) and its granted size. Forced placements and
/// follow-broker place by it.
pub trait Homes {
    /// `vm`'s home at this site, if a broker holds it here.
    fn home(&self, vm: VmId) -> Option<(HostId, Resources)>;
}

/// One broker's logical assignment (a single site's only broker).
impl Homes for VmMap<(HostId, Resources)> {
    fn home(&self, vm: VmId) -> Option<(HostId, Resources)> {
        self.get(vm).copied()
    }
}

/// An operation the site started, to be reported back when complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

impl OpId {
    /// The site that started this op, of `sites` sites numbering their
    /// ops as [`Site::numbering_ops`] says.
    pub fn site(self, sites: u32) -> u32 {
        (self.0 % sites.max(1) as u64) as u32
    }
}

impl DenseId for OpId {
    fn number(self) -> u64 {
        self.0
    }
    fn from_number(n: u64) -> Self {
        OpId(n)
    }
}

/// The life of a live VM at the site. Every VM the broker ever granted is
/// in exactly one of these states, or finished: a destroyed VM leaves the
/// site's table and is counted in [`SiteStats::finished_vms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    /// Granted; its create step has not completed.
    Pending,
    /// Running on one host.
    Running,
    /// Live-migrating: it holds capacity on its source and its target.
    Migrating,
    /// Suspended to storage (stop-and-copy), or being suspended or restored.
    Suspended,
}

/// A VM as the site knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmRecord {
    /// Its guest.
    pub guest: GuestId,
    /// Its state.
    pub state: VmState,
    /// The capacity it holds now, per host: the first `held` entries (a VM
    /// holds on at most two hosts, during a live migration; kept inline so
    /// that a step allocates nothing).
    holds: [(HostId, Resources); 2],
    held: u8,
    busy: bool,
    /// While planned: its place in its host's list of planned VMs.
    listed_at: u32,
    /// True while [`Site::apply`] has recorded it in a batch of grants.
    touched: bool,
}

impl VmRecord {
    fn new(guest: GuestId) -> Self {
        VmRecord {
            guest,
            state: VmState::Pending,
            holds: [(HostId(0), Resources::ZERO); 2],
            held: 0,
            busy: false,
            listed_at: 0,
            touched: false,
        }
    }

    /// The capacity it holds now, per host (at most two hosts).
    pub fn holds(&self) -> &[(HostId, Resources)] {
        &self.holds[..self.held as usize]
    }

    /// Adds `amount` on `host`. A third host would break the site's
    /// protocol (a step starts only on an idle VM); it is not recorded,
    /// and the site's check then reports the capacity it misses.
    fn hold(&mut self, host: HostId, amount: Resources) {
        let n = self.held as usize;
        match self.holds[..n].iter_mut().find(|(h, _)| *h == host) {
            Some((_, r)) => *r = r.plus(&amount),
            None if n < 2 => {
                self.holds[n] = (host, amount);
                self.held += 1;
            }
            None => debug_assert!(false, "a VM holds on at most two hosts"),
        }
    }

    fn release(&mut self, host: HostId, amount: Resources) {
        let n = self.held as usize;
        if let Some(i) = self.holds[..n].iter().position(|(h, _)| *h == host) {
            let left = self.holds[i].1.saturating_minus(&amount);
            if left.is_zero() {
                self.holds.copy_within(i + 1..n, i);
                self.held -= 1;
            } else {
                self.holds[i].1 = left;
            }
        }
    }
}

/// Counters and series of what the site did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteStats {
    /// Live migrations started.
    pub live_migrations: u64,
    /// Stop-and-copy migrations started (suspends).
    pub stop_copy_migrations: u64,
    /// Times the placement policy found no room and the site made room on
    /// the sliver's home by sending strangers to their own homes.
    pub forced_placements: u64,
    /// Strangers moved by those forced placements (each is one planned move).
    pub forced_moves: u64,
    /// `(time, cumulative migrations)` after each migration start.
    pub migration_series: Vec<(SimTime, u64)>,
    /// VMs destroyed (finished) so far.
    pub finished_vms: u64,
    /// Most hosts active (holding anything) at once.
    pub peak_active_hosts: u32,
    /// Integral of active hosts over time, in host-milliseconds.
    pub active_host_ms: u128,
    active_now: u32,
    last_change: SimTime,
}

impl SiteStats {
    /// Several sites' counters summed as of `end`: the migration series
    /// merged in time order (ties in site order), active hosts summed (the
    /// peak is the sum of the sites' peaks, an upper bound of the
    /// federation's).
    pub fn merged<'a>(sites: impl Iterator<Item = &'a SiteStats>, end: SimTime) -> SiteStats {
        let mut m = SiteStats {
            last_change: end,
            ..SiteStats::default()
        };
        let mut events: Vec<SimTime> = Vec::new();
        for s in sites {
            m.live_migrations += s.live_migrations;
            m.stop_copy_migrations += s.stop_copy_migrations;
            m.forced_placements += s.forced_placements;
            m.forced_moves += s.forced_moves;
            m.finished_vms += s.finished_vms;
            m.peak_active_hosts += s.peak_active_hosts;
            m.active_host_ms +=
                s.active_host_ms + s.active_now as u128 * end.0.saturating_sub(s.last_change.0) as u128;
            m.active_now += s.active_now;
            events.extend(s.migration_series.iter().map(|(t, _)| *t));
        }
        events.sort();
        m.migration_series = events.into_iter().zip(1..).collect();
        m
    }

    /// All physical migrations.
    pub fn migrations(&self) -> u64 {
        self.live_migrations + self.stop_copy_migrations
    }

    /// Time-weighted mean of active hosts over `[0, end)`.
    pub fn mean_active_hosts(&self, end: SimTime) -> f64 {
        let tail = self.active_now as u128 * end.0.saturating_sub(self.last_change.0) as u128;
        if end.0 == 0 {
            0.0
        } else {
            (self.active_host_ms + tail) as f64 / end.0 as f64
        }
    }
}

/// Why a host goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DownCause {
    /// It failed: its VMs are lost.
    Failure,
    /// Its maintenance window begins (it was drained before).
    Maintenance,
}

/// A maintenance window that began with VMs still on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissedDrain {
    /// When the window began.
    pub at: SimTime,
    /// The host.
    pub host: HostId,
    /// VMs planned or still running there (they were lost with it).
    pub vms: u32,
}

/// What failures and maintenance did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutageStats {
    /// Host failures.
    pub host_failures: u64,
    /// Maintenance windows begun.
    pub maintenance_windows: u64,
    /// VMs lost with a failed (or undrained) host.
    pub vms_lost: u64,
    /// Lost VMs running again (re-created or restored).
    pub vms_recovered: u64,
    /// Lost VMs released before they ran again.
    pub lost_for_good: u64,
    /// Sum over recovered VMs of loss to recovery, ms.
    pub recovery_ms: u128,
    /// VM-milliseconds lost VMs spent down (recovered or not).
    pub lost_vm_ms: u128,
    /// Migrations that moved a VM off a closed (draining) host.
    pub drain_migrations: u64,
    /// Maintenance windows that began before their host was empty.
    pub missed_drains: Vec<MissedDrain>,
    /// `(time, cumulative VMs lost)` after each outage that lost VMs.
    pub lost_series: Vec<(SimTime, u64)>,
    /// Per guest: leased and lost VM-time, for availability.
    pub guests: Vec<GuestUptime>,
}

impl OutageStats {
    /// Several sites' outages as one, as of `end`: counts summed, missed
    /// drains and the loss series merged in time order with each site's
    /// hosts moved up by its offset, every guest's VM-time summed.
    pub fn merged<'a>(sites: impl Iterator<Item = (&'a OutageStats, u32)>, end: SimTime) -> OutageStats {
        let mut m = OutageStats::default();
        let mut lost_at: Vec<(SimTime, u64)> = Vec::new();
        for (o, offset) in sites {
            m.host_failures += o.host_failures;
            m.maintenance_windows += o.maintenance_windows;
            m.vms_lost += o.vms_lost;
            m.vms_recovered += o.vms_recovered;
            m.lost_for_good += o.lost_for_good;
            m.recovery_ms += o.recovery_ms;
            m.lost_vm_ms += o.lost_vm_ms;
            m.drain_migrations += o.drain_migrations;
            m.missed_drains
                .extend(o.missed_drains.iter().map(|d| MissedDrain {
                    host: HostId(d.host.0 + offset),
                    ..*d
                }));
            let mut before = 0;
            for &(t, n) in &o.lost_series {
                lost_at.push((t, n - before));
                before = n;
            }
            for (g, u) in o.guests.iter().enumerate() {
                let (vm_ms, lost_ms) = u.totals(end);
                let mg = m.guest(GuestId(g as u32));
                mg.vm_ms += vm_ms;
                mg.lost_ms += lost_ms;
                mg.since = end;
            }
        }
        m.missed_drains.sort_by_key(|d| (d.at, d.host));
        lost_at.sort_by_key(|(t, _)| *t);
        let mut total = 0;
        for (t, n) in lost_at {
            total += n;
            match m.lost_series.last_mut() {
                Some(last) if last.0 == t => last.1 = total,
                _ => m.lost_series.push((t, total)),
            }
        }
        m
    }

    fn guest(&mut self, g: GuestId) -> &mut GuestUptime {
        let i = g.0 as usize;
        if self.guests.len() <= i {
            self.guests.resize_with(i + 1, GuestUptime::default);
        }
        &mut self.guests[i]
    }
}

/// One guest's VM-time: how many VMs it holds at the site (granted, not
/// finished) and how many of them are lost, integrated over time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestUptime {
    vms: i64,
    lost: i64,
    since: SimTime,
    vm_ms: u128,
    lost_ms: u128,
}

impl GuestUptime {
    fn change(&mut self, now: SimTime, vms: i64, lost: i64) {
        let dt = now.0.saturating_sub(self.since.0) as u128;
        self.vm_ms += self.vms.max(0) as u128 * dt;
        self.lost_ms += self.lost.max(0) as u128 * dt;
        self.since = now;
        self.vms += vms;
        self.lost += lost;
    }

    /// VM-milliseconds leased and VM-milliseconds lost over `[0, end)`.
    pub fn totals(&self, end: SimTime) -> (u128, u128) {
        let dt = end.0.saturating_sub(self.since.0) as u128;
        (
            self.vm_ms + self.vms.max(0) as u128 * dt,
            self.lost_ms + self.lost.max(0) as u128 * dt,
        )
    }

    /// The share of its leased VM-time the guest's VMs were up (not lost)
    /// over `[0, end)`; 1 if it leased nothing.
    pub fn availability(&self, end: SimTime) -> f64 {
        match self.totals(end) {
            (0, _) => 1.0,
            (vm, lost) => 1.0 - lost as f64 / vm as f64,
        }
    }
}

/// True if `step` acts on `host` (reserves or frees there).
fn touches(step: &Step, host: HostId) -> bool {
    step.reserves().is_some_and(|(h, _)| h == host) || step.frees().is_some_and(|(h, _)| h == host)
}

/// Protocol errors (bugs in a driver or in the model, not user input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    /// A grant named a VM the site does not know, or the broker has no home for.
    #[error("site: {0} is unknown")]
    UnknownVm(VmId),
    /// A completion named an operation that is not in flight.
    #[error("site: operation {0:?} is not in flight")]
    UnknownOp(OpId),
    /// The broker's assignment left no room even after every stranger left.
    #[error("site: no feasible placement for {vm}: {host} is full of its own VMs")]
    NoFeasiblePlacement {
        /// The VM.
        vm: VmId,
        /// Its home host.
        host: HostId,
    },
    /// The planner found the target infeasible.
    #[error("site: {0}")]
    Plan(#[from] PlanError),
}

/// The site authority of one cluster.
pub struct Site {
    policy: Box<dyn Placement>,
    planned: HostTable,
    planned_at: VmMap<(HostId, Resources)>,
    /// The planned VMs of each host, in no order: what a forced placement
    /// looks through, without a pass over every VM.
    on_host: HostLists,
    used: Vec<Resources>,
    vms: VmMap<VmRecord>,
    queue: StepQueue,
    /// [`Self::apply`]'s record of the VMs it touched, empty between calls
    /// (kept to reuse its buffers).
    touched: Touched,
    replanning: Replanning,
    in_flight: IdSlab<OpId, Step>,
    next_op: u64,
    /// Op ids are `next_op`, then every `op_stride` after: with several
    /// sites, site `k` of `n` numbers its ops `k, k + n, ...`, so an op
    /// names its site.
    op_stride: u64,
    stats: SiteStats,
    energy: EnergyMeter,
    accounts: GuestAccounts,
    /// Hosts down (failed, or in a maintenance window), each with how many
    /// outages hold it down (a failure during maintenance, say): they hold
    /// nothing and no step starts on them. Every down host is also closed in
    /// `planned`; a draining host is closed but up.
    down: BTreeMap<HostId, u32>,
    /// VMs the broker granted that have no place in the plan: their place
    /// was taken by a failure or a drain and no open host had room yet.
    /// Each with the size it is granted; [`Self::place_waiting`] tries
    /// them again in id order.
    waiting: BTreeMap<VmId, Resources>,
    /// VMs planned away from their broker home because their home was
    /// closed when they were placed (the follow-broker check spares them).
    displaced: BTreeSet<VmId>,
    /// VMs lost with a failed host and not yet running again, with when.
    lost_since: BTreeMap<VmId, SimTime>,
    /// VMs released while waiting and busy with a step that leaves them
    /// holding nothing: they finish when it completes.
    doomed: BTreeSet<VmId>,
    outages: OutageStats,
    thermal: Option<ThermalMeter>,
}

impl Site {
    /// A site of `hosts` identical hosts of `capacity`, all idle and
    /// powered down, drawing power as `power` says.
    pub fn new(policy: Box<dyn Placement>, hosts: u32, capacity: Resources, power: PowerParams) -> Self {
        Site {
            policy,
            planned: HostTable::new(hosts, capacity),
            planned_at: VmMap::new(),
            on_host: HostLists::new(hosts),
            used: vec![Resources::ZERO; hosts as usize],
            vms: VmMap::new(),
            queue: StepQueue::new(hosts),
            touched: Touched::default(),
            replanning: Replanning::default(),
            in_flight: IdSlab::new(),
            next_op: 0,
            op_stride: 1,
            stats: SiteStats::default(),
            energy: EnergyMeter::new(power, capacity),
            accounts: GuestAccounts::default(),
            down: BTreeMap::new(),
            waiting: BTreeMap::new(),
            displaced: BTreeSet::new(),
            lost_since: BTreeMap::new(),
            doomed: BTreeSet::new(),
            outages: OutageStats::default(),
            thermal: None,
        }
    }

    /// The site with a thermal meter, fed with every change of a host's
    /// actual reservations (as the energy meter is).
    pub fn with_thermal(mut self, meter: ThermalMeter) -> Self {
        self.thermal = Some(meter);
        self
    }

    /// The thermal meter, if the scenario has `[thermal]`.
    pub fn thermal(&self) -> Option<&ThermalMeter> {
        self.thermal.as_ref()
    }

    /// The site `k` of `n` sites: its op ids are `k, k + n, k + 2n, ...`
    /// ([`OpId::site`] gives `k` back).
    pub fn numbering_ops(mut self, k: u32, n: u32) -> Self {
        self.next_op = k as u64;
        self.op_stride = n.max(1) as u64;
        self
    }

    /// What each guest is promised and holds now, kept as VMs change.
    pub fn accounts(&self) -> &GuestAccounts {
        &self.accounts
    }

    /// Moves the guests whose account changed since the last call into
    /// `out` (unsorted, possibly repeated).
    pub fn drain_changed_guests(&mut self, out: &mut Vec<GuestId>) {
        out.append(&mut self.accounts.changed);
    }

    /// The energy used so far.
    pub fn energy(&self) -> &EnergyMeter {
        &self.energy
    }

    /// Counters so far.
    pub fn stats(&self) -> &SiteStats {
        &self.stats
    }

    /// Every live VM (granted and not yet destroyed).
    pub fn vms(&self) -> &VmMap<VmRecord> {
        &self.vms
    }

    /// Where each live VM will be once the queued steps are done.
    pub fn planned(&self) -> &VmMap<(HostId, Resources)> {
        &self.planned_at
    }

    /// Actual reservations per host.
    pub fn used(&self) -> &[Resources] {
        &self.used
    }

    /// Steps queued or in flight.
    pub fn busy_ops(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// Applies the broker's grants (in its decision order), plans the steps
    /// and starts those that can start now, appending them to `started`.
    /// `homes` is the broker's logical assignment after the grants.
    pub fn apply(
        &mut self,
        now: SimTime,
        grants: &[Grant],
        homes: &dyn Homes,
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        if grants.is_empty() {
            return Ok(());
        }
        let mut touched = std::mem::take(&mut self.touched);
        let taken = self.take_grants(now, grants, homes, &mut touched);
        for (vm, _) in &touched.order {
            if let Some(rec) = self.vms.get_mut(*vm) {
                rec.touched = false;
            }
        }
        let mut changes = std::mem::take(&mut touched.changes);
        if taken.is_ok() {
            changes.extend(touched.order.iter().filter_map(|&(vm, from)| {
                let to = self.planned_at.get(vm).copied();
                // A VM left waiting keeps what it holds until it has a place.
                let waits = !self.waiting.is_empty() && self.waiting.contains_key(&vm);
                (from != to && !waits).then_some(Change { vm, from, to })
            }));
        }
        touched.order.clear();
        self.touched = touched;
        let result = taken.and_then(|()| self.replan(now, &changes, started));
        changes.clear();
        self.touched.changes = changes;
        result
    }

    /// Orders `changes`, moves already made in the planned placement, into
    /// steps, starts each that can start now (appending it to `started`)
    /// and queues the others. This is the one entry to planning, whoever
    /// changed the plan: the broker's grants ([`Self::apply`]), and any
    /// other decision of the site's (a consolidation round, a drain).
    pub fn replan(
        &mut self,
        now: SimTime,
        changes: &[Change],
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        let mut replan = std::mem::take(&mut self.replanning);
        // The planner sees the touched hosts as they were before the
        // changes: what is planned there now, less the changes' targets,
        // plus their origins, sorted by host.
        // (What is planned now holds every target, so nothing saturates.)
        let before = &mut replan.before;
        before.extend(
            changes
                .iter()
                .flat_map(|c| c.from.into_iter().chain(c.to))
                .map(|(h, _)| (h, self.planned.host(h).used)),
        );
        before.sort_unstable_by_key(|(h, _)| *h);
        before.dedup_by_key(|(h, _)| *h);
        for c in changes {
            // Every host a change names is in `before`.
            if let Some((h, s)) = c.from
                && let Ok(i) = before.binary_search_by_key(&h, |(h, _)| *h)
            {
                before[i].1 = before[i].1.plus(&s);
            }
            if let Some((h, s)) = c.to
                && let Ok(i) = before.binary_search_by_key(&h, |(h, _)| *h)
            {
                before[i].1 = before[i].1.saturating_minus(&s);
            }
        }
        let planned = &self.planned;
        let before = &replan.before;
        let view = |h: HostId| {
            let i = before.binary_search_by_key(&h, |(h, _)| *h).ok()?;
            Some(HostView {
                used: before[i].1,
                capacity: planned.nominal(h),
                ..*planned.hosts().get(h.index())?
            })
        };
        let planning = replan.planner.plan_into(view, changes, &mut replan.steps);
        // In plan order, each step starts now if it would head its queues
        // and may start, and is queued otherwise. This is what queueing
        // them all and then starting the ready ones in op order gives: a
        // step blocked now stays blocked until a completion (starting a
        // step frees nothing, and one that starts leaves no queue behind
        // it), so no later step here can unblock an earlier one.
        for step in replan.steps.drain(..) {
            self.enqueue(now, step, started);
        }
        replan.before.clear();
        self.replanning = replan;
        planning?;
        Ok(())
    }

    /// Updates the plan for `grants`, in order, recording each VM touched
    /// (and marking its record touched) in `touched`.
    fn take_grants(
        &mut self,
        now: SimTime,
        grants: &[Grant],
        homes: &dyn Homes,
        touched: &mut Touched,
    ) -> Result<(), SiteError> {
        for g in grants {
            if !self.waiting.is_empty() && self.waiting_grant(now, g, touched) {
                continue;
            }
            match *g {
                Grant::Release { vm } => {
                    self.touch(vm, touched);
                    self.unplan(vm).ok_or(SiteError::UnknownVm(vm))?;
                }
                Grant::Resize { vm, size } => {
                    self.touch(vm, touched);
                    let (host, cur) = *self.planned_at.get(vm).ok_or(SiteError::UnknownVm(vm))?;
                    if size.fits_in(&cur) {
                        self.plan_at(vm, host, size);
                    } else {
                        self.place(vm, size, Some((host, cur)), homes, touched)?;
                    }
                }
                Grant::New { vm, guest, size } => {
                    // A pending VM counts in no account.
                    self.vms.insert(vm, VmRecord::new(guest));
                    self.outages.guest(guest).change(now, 1, 0);
                    self.touch(vm, touched);
                    self.place(vm, size, None, homes, touched)?;
                }
            }
        }
        Ok(())
    }

    /// Marks `op` complete and starts whatever can start now, appending it
    /// to `started`.
    pub fn complete(
        &mut self,
        now: SimTime,
        op: OpId,
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        let step = self.in_flight.remove(op).ok_or(SiteError::UnknownOp(op))?;
        let vm = step.vm();
        if !self.vms.contains(vm) {
            return Err(SiteError::UnknownVm(vm));
        }
        let freed = step.frees();
        if let Some((h, amount)) = freed {
            self.free_on(now, h, amount);
        }
        self.unaccount(vm);
        let rec = self.vms.get_mut(vm).ok_or(SiteError::UnknownVm(vm))?;
        rec.busy = false;
        if let Some((h, amount)) = freed {
            rec.release(h, amount);
        }
        match step {
            Step::Suspend { .. } => rec.state = VmState::Suspended,
            Step::Destroy { .. } => self.finish(now, vm),
            _ => rec.state = VmState::Running,
        }
        if matches!(step, Step::Create { .. } | Step::Restore { .. }) {
            self.recovered(now, vm);
        }
        if !self.doomed.is_empty() && self.doomed.contains(&vm) {
            self.finish_doomed(now, vm);
        }
        self.account(vm);
        self.queue.vm_idle(vm);
        self.start_ready(now, started);
        Ok(())
    }

    /// What `vm` adds to its guest's account now: nothing unless it is
    /// planned (a released VM is owed nothing) and created.
    fn contribution(&self, vm: VmId) -> Option<(GuestId, Contribution)> {
        let rec = self.vms.get(vm)?;
        let (_, size) = self.planned_at.get(vm)?;
        if rec.state == VmState::Pending {
            return None;
        }
        let running = match rec.state {
            VmState::Running => rec.holds().iter().map(|(_, r)| r.cpu_millicores()).sum(),
            _ => 0,
        };
        Some((
            rec.guest,
            Contribution {
                promised: size.cpu_millicores(),
                running,
                migrating: rec.state == VmState::Migrating,
            },
        ))
    }

    /// Takes `vm`'s contribution out of its guest's account, before a change.
    fn unaccount(&mut self, vm: VmId) {
        if let Some((g, c)) = self.contribution(vm) {
            self.accounts.apply(g, vm, c, false);
        }
    }

    /// Puts `vm`'s contribution back into its guest's account, after a change.
    fn account(&mut self, vm: VmId) {
        if let Some((g, c)) = self.contribution(vm) {
            self.accounts.apply(g, vm, c, true);
        }
    }

    /// Records `vm` in `touched` the first time a batch of grants touches it.
    fn touch(&mut self, vm: VmId, touched: &mut Touched) {
        let first = self
            .vms
            .get_mut(vm)
            .is_none_or(|rec| !std::mem::replace(&mut rec.touched, true));
        if first {
            touched.order.push((vm, self.planned_at.get(vm).copied()));
        }
    }

    fn unplan(&mut self, vm: VmId) -> Option<(HostId, Resources)> {
        self.unaccount(vm);
        let (h, s) = self.planned_at.remove(vm)?;
        self.planned.remove(h, &s);
        self.on_host.remove(h, vm, &mut self.vms);
        Some((h, s))
    }

    /// Plans `vm` at `size` on `host`, wherever it was planned before.
    fn plan_at(&mut self, vm: VmId, host: HostId, size: Resources) {
        self.unaccount(vm);
        match self.planned_at.insert(vm, (host, size)) {
            Some((h, s)) => {
                self.on_host.remove(h, vm, &mut self.vms);
                if h == host {
                    self.planned.replace(host, &s, &size);
                } else {
                    self.planned.remove(h, &s);
                    self.planned.add(host, &size);
                }
            }
            None => self.planned.add(host, &size),
        }
        self.on_host.add(host, vm, &mut self.vms);
        self.account(vm);
    }

    /// Puts a new or grown sliver where the policy wants it or, failing
    /// that, on its home after moving strangers (VMs whose home is another
    /// host) to their own homes (paper, sec. 5).
    fn place(
        &mut self,
        vm: VmId,
        size: Resources,
        current: Option<(HostId, Resources)>,
        homes: &dyn Homes,
        touched: &mut Touched,
    ) -> Result<(), SiteError> {
        let home = homes.home(vm).ok_or(SiteError::UnknownVm(vm))?.0;
        let req = PlaceRequest {
            vm,
            size,
            current,
            home: Some(home),
        };
        let vms = PlannedVms {
            on_host: &self.on_host,
            planned_at: &self.planned_at,
            records: &self.vms,
        };
        let view = self.planned.view().with_vms(&vms);
        let target = self.policy.place(&view, &req).filter(|&h| req.fits_on(&view, h));
        let host = match target {
            Some(h) => {
                self.displaced.remove(&vm);
                h
            }
            None if self.planned.closed().next().is_some() => {
                // Hosts are out of service, so the broker's promises may
                // exceed what is open: no forced placement (the home may be
                // closed, or full of VMs displaced from closed hosts).
                self.unplan(vm);
                match self.fallback(&size) {
                    Some(h) => {
                        self.note_home(vm, h, home);
                        h
                    }
                    None => {
                        self.wait(vm, size);
                        return Ok(());
                    }
                }
            }
            None => {
                self.displaced.remove(&vm);
                self.unplan(vm);
                self.stats.forced_placements += 1;
                match self.evict_one(&size) {
                    Some((host, other, to)) => {
                        self.touch(other, touched);
                        let (_, other_size) = self.unplan(other).ok_or(SiteError::UnknownVm(other))?;
                        self.plan_at(other, to, other_size);
                        self.stats.forced_moves += 1;
                        host
                    }
                    None => {
                        self.make_room(vm, home, &size, homes, touched)?;
                        home
                    }
                }
            }
        };
        self.plan_at(vm, host, size);
        Ok(())
    }

    /// The cheap repair: a host that would have room for `size` if one of
    /// its VMs moved to another host that has room for it now. Returns
    /// `(host, vm to move, where to)`: hosts in id order, the smallest VM
    /// first, its new host by best fit. `None` if one move is not enough.
    fn evict_one(&mut self, size: &Resources) -> Option<(HostId, VmId, HostId)> {
        let vms = PlannedVms {
            on_host: &self.on_host,
            planned_at: &self.planned_at,
            records: &self.vms,
        };
        let view = self.planned.view();
        let mut on = Vec::new();
        for h in 0..view.hosts.len() {
            let host = HostId(h as u32);
            on.clear();
            vms.on_host(host, &mut on);
            // In id order, so a stable sort gives (size, id) order.
            on.sort_by_key(|v| v.size);
            for v in &on {
                if view.fits(host, v.size, size)
                    && let Some(to) = fit::best_fit(&view, &v.size, Some(host))
                {
                    return Some((host, v.vm, to));
                }
            }
        }
        None
    }

    /// Moves strangers off `host` to their homes until `size` fits. The
    /// stranger to move first is one whose home has room for it now (so the
    /// move needs no further moves), then the largest, then the lowest id.
    /// Each stranger moved lands on its home, where it is no stranger, so
    /// this ends after at most one move per VM.
    fn make_room(
        &mut self,
        for_vm: VmId,
        host: HostId,
        size: &Resources,
        homes: &dyn Homes,
        touched: &mut Touched,
    ) -> Result<(), SiteError> {
        while !self.planned.host(host).has_room(size) {
            let stranger = self.on_host.lists[host.index()]
                .iter()
                .filter_map(|v| {
                    let s = &self.planned_at.get(*v)?.1;
                    let home = homes.home(*v)?.0;
                    (home != host).then(|| {
                        let cascades = !self.planned.host(home).has_room(s);
                        ((cascades, std::cmp::Reverse(*s), *v), *s)
                    })
                })
                .min()
                .map(|((_, _, v), s)| (v, s));
            let Some((s, s_size)) = stranger else {
                return Err(SiteError::NoFeasiblePlacement { vm: for_vm, host });
            };
            self.touch(s, touched);
            self.unplan(s);
            self.stats.forced_moves += 1;
            let s_home = homes.home(s).ok_or(SiteError::UnknownVm(s))?.0;
            self.make_room(s, s_home, &s_size, homes, touched)?;
            self.plan_at(s, s_home, s_size);
        }
        Ok(())
    }

    /// Starts every queued step that may start now, in plan order.
    ///
    /// A step may start when its VM is idle, no earlier queued step of its
    /// VM is waiting, no earlier queued step waits to reserve on the host it
    /// reserves on, and its reservation fits. So reservations on each host,
    /// and the steps of each VM, keep plan order, while steps on other hosts
    /// go ahead. No deadlock: once every step before the earliest waiting
    /// step completes, that step's host holds at most what the plan's
    /// one-at-a-time order left there (later steps reserved only elsewhere),
    /// and the plan is feasible in that order.
    ///
    /// Only the steps some change may have unblocked are looked at (see
    /// [`StepQueue`]); they start in op order, which is plan order.
    fn start_ready(&mut self, now: SimTime, started: &mut Vec<(OpId, Step)>) {
        while let Some((op, step)) = self.queue.next_candidate() {
            if self.may_start(&step) && self.queue.is_head(op, &step) {
                self.queue.remove_head(op, &step);
                self.start(now, op, step, started);
            }
        }
    }

    /// True if `step`'s VM is idle and its reservation fits now (whether it
    /// heads its queues is the [`StepQueue`]'s to say).
    fn may_start(&self, step: &Step) -> bool {
        let idle = self.vms.get(step.vm()).is_some_and(|r| !r.busy);
        idle && step.reserves().is_none_or(|(h, amount)| {
            (self.down.is_empty() || !self.down.contains_key(&h))
                && self.used[h.index()]
                    .plus(&amount)
                    .fits_in(&self.planned.nominal(h))
        })
    }

    /// Starts `op`, which is in no queue: reserves, marks its VM busy and
    /// appends it to `started`.
    fn start(&mut self, now: SimTime, op: OpId, step: Step, started: &mut Vec<(OpId, Step)>) {
        let vm = step.vm();
        let reserve = step.reserves();
        if let Some((h, amount)) = reserve {
            let more = self.used[h.index()].plus(&amount);
            self.set_used(now, h, more);
        }
        self.unaccount(vm);
        let Some(rec) = self.vms.get_mut(vm) else {
            return;
        };
        if let Some((h, amount)) = reserve {
            rec.hold(h, amount);
        }
        rec.busy = true;
        match step {
            Step::Migrate { .. } => {
                rec.state = VmState::Migrating;
                self.stats.live_migrations += 1;
            }
            Step::Suspend { .. } => {
                rec.state = VmState::Suspended;
                self.stats.stop_copy_migrations += 1;
            }
            _ => {}
        }
        self.account(vm);
        if matches!(step, Step::Migrate { .. } | Step::Suspend { .. }) {
            let total = self.stats.migrations();
            self.stats.migration_series.push((now, total));
            if let Some((from, _)) = step.frees()
                && !self.planned.is_open(from)
            {
                self.outages.drain_migrations += 1;
            }
        }
        self.in_flight.insert(op, step);
        started.push((op, step));
    }

    /// Steps started and not yet complete.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Steps planned but not yet started.
    pub fn queued_steps(&self) -> usize {
        self.queue.len()
    }

    /// Frees `amount` of `host`'s actual reservations: its next queued
    /// reservation may start.
    fn free_on(&mut self, now: SimTime, host: HostId, amount: Resources) {
        let left = self.used[host.index()].saturating_minus(&amount);
        self.set_used(now, host, left);
        self.queue.host_freed(host);
    }

    /// Sets a host's actual reservations, keeping the active-host and
    /// energy accounts (both change only here).
    fn set_used(&mut self, now: SimTime, host: HostId, new: Resources) {
        let old = std::mem::replace(&mut self.used[host.index()], new);
        self.energy.change(now, &old, &new);
        if let Some(t) = &mut self.thermal {
            t.change(now, host, &new);
        }
        let st = &mut self.stats;
        let active = match (old.is_zero(), new.is_zero()) {
            (true, false) => st.active_now + 1,
            (false, true) => st.active_now - 1,
            _ => return,
        };
        st.active_host_ms += st.active_now as u128 * now.0.saturating_sub(st.last_change.0) as u128;
        st.last_change = now;
        st.active_now = active;
        st.peak_active_hosts = st.peak_active_hosts.max(active);
    }

    /// True if `vm` was lost with a failed host and its re-creation (or
    /// restore) has not completed: a driver delays such a create by the
    /// restart time.
    pub fn is_lost(&self, vm: VmId) -> bool {
        !self.lost_since.is_empty() && self.lost_since.contains_key(&vm)
    }

    /// What failures and maintenance did so far.
    pub fn outages(&self) -> &OutageStats {
        &self.outages
    }

    /// The VMs waiting for a place, with their granted sizes, in id order.
    pub fn waiting(&self) -> &BTreeMap<VmId, Resources> {
        &self.waiting
    }

    /// VMs planned away from their broker home because it was closed.
    pub fn displaced(&self) -> &BTreeSet<VmId> {
        &self.displaced
    }

    /// The live VMs holding anything on `host` now, in id order (a pass
    /// over the VMs: for outages, not for every event).
    pub fn holding_on(&self, host: HostId) -> Vec<VmId> {
        self.vms
            .iter()
            .filter(|(_, r)| r.holds().iter().any(|(h, _)| *h == host))
            .map(|(vm, _)| vm)
            .collect()
    }

    /// True if `host` is down (failed, or in a maintenance window).
    pub fn is_down(&self, host: HostId) -> bool {
        !self.down.is_empty() && self.down.contains_key(&host)
    }

    /// True if `host` takes new VMs (it is neither down nor draining).
    pub fn is_open(&self, host: HostId) -> bool {
        self.planned.is_open(host)
    }

    /// Takes `host` down at `now` (a failure, or the start of a maintenance
    /// window). Steps in flight on it stop: their ops are appended to
    /// `aborted` (the driver drops them), a live migration *to* it leaves
    /// its VM running on the source, a restore onto it leaves its VM
    /// suspended, a destroy on it completes. Every VM that held anything
    /// on it is lost (appended to `lost`, in id order): it holds nothing
    /// and waits to be re-created elsewhere. Every VM planned on it, or
    /// lost, loses its queued steps and waits for a place: call
    /// [`Self::place_waiting`] once the guests have said which of the lost
    /// VMs they release. A maintenance window that finds VMs still there
    /// counts as a missed drain deadline.
    pub fn take_down(
        &mut self,
        now: SimTime,
        host: HostId,
        cause: DownCause,
        aborted: &mut Vec<OpId>,
        lost: &mut Vec<VmId>,
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        if host.index() >= self.used.len() {
            return Ok(());
        }
        match cause {
            DownCause::Failure => self.outages.host_failures += 1,
            DownCause::Maintenance if self.is_down(host) => self.outages.maintenance_windows += 1,
            DownCause::Maintenance => {
                self.outages.maintenance_windows += 1;
                // Planned there (no other host had room), or still there
                // (a move out not done, or waiting for a place).
                let mut left: BTreeSet<VmId> = self.holding_on(host).into_iter().collect();
                left.extend(self.on_host.lists[host.index()].iter().copied());
                let left = left.len();
                if left > 0 {
                    self.outages.missed_drains.push(MissedDrain {
                        at: now,
                        host,
                        vms: left as u32,
                    });
                }
            }
        }
        if let Some(n) = self.down.get_mut(&host) {
            // Down already: it stays down until both outages are over.
            *n += 1;
            return Ok(());
        }
        self.planned.close(host);
        self.down.insert(host, 1);
        // VMs planned there, and VMs with a step queued to reserve there
        // (a released VM may be on its way out through it).
        let mut affected: BTreeSet<VmId> = self.on_host.lists[host.index()].iter().copied().collect();
        affected.extend(self.queue.reserving_on(host));
        // Steps in flight on the host stop, in op order.
        let stopped: Vec<(OpId, Step)> = self
            .in_flight
            .iter()
            .filter(|(_, step)| touches(step, host))
            .map(|(op, step)| (op, *step))
            .collect();
        for (op, step) in stopped {
            self.in_flight.remove(op);
            aborted.push(op);
            let vm = step.vm();
            affected.insert(vm);
            self.unaccount(vm);
            if let Some((h, amount)) = step.reserves() {
                self.free_on(now, h, amount);
            }
            let Some(rec) = self.vms.get_mut(vm) else {
                continue;
            };
            rec.busy = false;
            if let Some((h, amount)) = step.reserves() {
                rec.release(h, amount);
            }
            match step {
                Step::Destroy { .. } => {
                    if let Some(&(h, amount)) = rec.holds().first() {
                        rec.release(h, amount);
                        let left = self.used[h.index()].saturating_minus(&amount);
                        self.set_used(now, h, left);
                    }
                    self.unplan(vm);
                    self.finish(now, vm);
                    continue;
                }
                Step::Restore { .. } => rec.state = VmState::Suspended,
                Step::Create { .. } => rec.state = VmState::Pending,
                _ => rec.state = VmState::Running,
            }
            self.account(vm);
            self.queue.vm_idle(vm);
        }
        // Every VM still holding on the host is lost with it.
        for vm in self.holding_on(host) {
            self.unaccount(vm);
            let Some(rec) = self.vms.get_mut(vm) else {
                continue;
            };
            // Only a step in flight makes a VM hold on two hosts, and every
            // step on this host has stopped: the VM holds here alone.
            if let Some(&(h, amount)) = rec.holds().iter().find(|(h, _)| *h == host) {
                rec.release(h, amount);
            }
            rec.state = VmState::Pending;
            let guest = rec.guest;
            self.account(vm);
            self.lost_since.insert(vm, now);
            self.outages.vms_lost += 1;
            self.outages.guest(guest).change(now, 0, 1);
            lost.push(vm);
            affected.insert(vm);
        }
        self.set_used(now, host, Resources::ZERO);
        if self.outages.lost_series.last().map(|(_, n)| *n) != Some(self.outages.vms_lost)
            && self.outages.vms_lost > 0
        {
            self.outages.lost_series.push((now, self.outages.vms_lost));
        }
        // Planned VMs wait for a place; released ones, on their way out,
        // are destroyed where they will be (or finish, holding nothing).
        let mut leaving = Vec::new();
        for vm in affected {
            if self.planned_at.contains(vm) {
                self.unplace(vm);
                continue;
            }
            self.queue.remove_vm(vm);
            if !self.waiting.contains_key(&vm) {
                self.send_off(now, vm, &mut leaving);
            }
        }
        self.replan(now, &leaving, started)
    }

    /// Closes `host` to new VMs ahead of a maintenance window and moves
    /// every VM planned there to another open host (live if there is room
    /// for the move, as any planned move). VMs no open host has room for
    /// stay where they are, waiting for a place.
    pub fn drain(
        &mut self,
        now: SimTime,
        host: HostId,
        homes: &dyn Homes,
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        if host.index() >= self.used.len() || !self.planned.is_open(host) {
            return Ok(());
        }
        self.planned.close(host);
        let on: Vec<VmId> = self.on_host.lists[host.index()].to_vec();
        for vm in on {
            self.unplace(vm);
        }
        self.place_waiting(now, homes, started)
    }

    /// Brings `host` back (repaired, or its maintenance window over) and
    /// open to new VMs; then the VMs displaced from their homes are placed
    /// again (follow-broker takes them home; the others keep them where
    /// they are if they fit) and the waiting VMs are tried.
    pub fn bring_up(
        &mut self,
        now: SimTime,
        host: HostId,
        homes: &dyn Homes,
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        if host.index() >= self.used.len() {
            return Ok(());
        }
        match self.down.get_mut(&host) {
            Some(n) if *n > 1 => {
                *n -= 1;
                return Ok(());
            }
            _ => {
                self.down.remove(&host);
            }
        }
        self.planned.open(host);
        let displaced: Vec<VmId> = std::mem::take(&mut self.displaced).into_iter().collect();
        for vm in displaced {
            self.unplace(vm);
        }
        self.place_waiting(now, homes, started)
    }

    /// Drops `vm`'s queued steps and takes it out of the plan: it waits
    /// for a place, holding what it holds now.
    fn unplace(&mut self, vm: VmId) {
        if let Some((_, size)) = self.unplan(vm) {
            self.wait(vm, size);
        }
    }

    /// `vm`, out of the plan, waits for a place at `size`: its queued
    /// steps go (they led to its old place; [`Self::place_waiting`] plans
    /// from where it will be once its step in flight completes).
    fn wait(&mut self, vm: VmId, size: Resources) {
        self.queue.remove_vm(vm);
        self.displaced.remove(&vm);
        self.waiting.insert(vm, size);
    }

    /// Tries to place every waiting VM, in id order: the site's policy
    /// first (a VM running on an open host is offered its host), then the
    /// best fit over the open hosts. A VM placed gets the steps that take
    /// it there from where it will be once its step in flight completes:
    /// a move (planned like any other), or a create (a lost or never
    /// created VM) or restore (a suspended one) on its new host.
    pub fn place_waiting(
        &mut self,
        now: SimTime,
        homes: &dyn Homes,
        started: &mut Vec<(OpId, Step)>,
    ) -> Result<(), SiteError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let waiting: Vec<(VmId, Resources)> = self.waiting.iter().map(|(v, s)| (*v, *s)).collect();
        let mut changes = Vec::new();
        let mut direct = Vec::new();
        for (vm, size) in waiting {
            let Some(rec) = self.vms.get(vm) else {
                self.waiting.remove(&vm);
                continue;
            };
            let state = rec.state;
            let settled = self.settled(vm);
            let home = homes.home(vm).map(|(h, _)| h);
            // The VM is out of the plan, so its own holdings are not in
            // the view: offered its host with nothing held there.
            let here = settled
                .filter(|(h, _)| self.planned.is_open(*h))
                .map(|(h, _)| (h, Resources::ZERO));
            let req = PlaceRequest {
                vm,
                size,
                current: here,
                home,
            };
            let vms = PlannedVms {
                on_host: &self.on_host,
                planned_at: &self.planned_at,
                records: &self.vms,
            };
            let view = self.planned.view().with_vms(&vms);
            let chosen = self.policy.place(&view, &req).filter(|&h| req.fits_on(&view, h));
            let (target, by_policy) = match chosen {
                Some(h) => (Some(h), true),
                None => (self.fallback(&size), false),
            };
            let Some(to) = target else {
                continue;
            };
            self.waiting.remove(&vm);
            self.plan_at(vm, to, size);
            match (by_policy, home) {
                (false, Some(home)) => self.note_home(vm, to, home),
                _ => {
                    self.displaced.remove(&vm);
                }
            }
            match settled {
                Some(from) => {
                    if from != (to, size) {
                        changes.push(Change {
                            vm,
                            from: Some(from),
                            to: Some((to, size)),
                        });
                    }
                }
                None if state == VmState::Suspended => direct.push(Step::Restore { vm, host: to, size }),
                None => direct.push(Step::Create { vm, host: to, size }),
            }
        }
        for step in direct {
            self.enqueue(now, step, started);
        }
        self.replan(now, &changes, started)
    }

    /// The best fit for `size` over the open hosts, if any has room.
    fn fallback(&mut self, size: &Resources) -> Option<HostId> {
        fit::best_fit(&self.planned.view(), size, None)
    }

    /// Records whether `vm`, placed on `host` by the fallback, is away from
    /// its broker `home`.
    fn note_home(&mut self, vm: VmId, host: HostId, home: HostId) {
        if host == home {
            self.displaced.remove(&vm);
        } else {
            self.displaced.insert(vm);
        }
    }

    /// Where `vm` will run once its step in flight completes (where it
    /// runs now if it is idle): `None` if it will hold nothing (pending,
    /// lost, suspended, or being destroyed).
    fn settled(&self, vm: VmId) -> Option<(HostId, Resources)> {
        let rec = self.vms.get(vm)?;
        if rec.busy {
            let step = self.in_flight.values().find(|s| s.vm() == vm)?;
            return match *step {
                Step::Create { host, size, .. } | Step::Restore { host, size, .. } => Some((host, size)),
                Step::Resize { host, to, .. } => Some((host, to)),
                Step::Migrate { to, size_to, .. } => Some((to, size_to)),
                Step::Suspend { .. } | Step::Destroy { .. } => None,
            };
        }
        match rec.state {
            VmState::Running => rec.holds().first().copied(),
            _ => None,
        }
    }

    /// A grant for a waiting VM: a release ends it (a destroy where it
    /// runs, or at once if it holds nothing), a resize changes the size it
    /// waits for. Returns false if the grant's VM is not waiting.
    fn waiting_grant(&mut self, now: SimTime, g: &Grant, touched: &mut Touched) -> bool {
        match *g {
            Grant::Release { vm } if self.waiting.contains_key(&vm) => {
                self.waiting.remove(&vm);
                self.send_off(now, vm, &mut touched.changes);
                true
            }
            Grant::Resize { vm, size } if self.waiting.contains_key(&vm) => {
                self.waiting.insert(vm, size);
                true
            }
            _ => false,
        }
    }

    /// `vm`, planned nowhere, leaves the site: a destroy where it will be
    /// once its step in flight completes (appended to `changes`), or, if
    /// it will hold nothing, it finishes then (doomed) or now.
    fn send_off(&mut self, now: SimTime, vm: VmId, changes: &mut Vec<Change>) {
        match self.settled(vm) {
            Some(from) => changes.push(Change {
                vm,
                from: Some(from),
                to: None,
            }),
            None if self.vms.get(vm).is_some_and(|r| r.busy) => {
                self.doomed.insert(vm);
            }
            None => {
                self.unaccount(vm);
                self.finish(now, vm);
            }
        }
    }

    /// A doomed VM's step completed: it finishes if it holds nothing.
    fn finish_doomed(&mut self, now: SimTime, vm: VmId) {
        if self.vms.get(vm).is_some_and(|r| r.held == 0 && !r.busy) {
            self.doomed.remove(&vm);
            self.unaccount(vm);
            self.finish(now, vm);
        }
    }

    /// `vm` leaves the site for good.
    fn finish(&mut self, now: SimTime, vm: VmId) {
        let Some(rec) = self.vms.remove(vm) else {
            return;
        };
        self.stats.finished_vms += 1;
        self.displaced.remove(&vm);
        self.doomed.remove(&vm);
        let down = match self.lost_since.remove(&vm) {
            Some(since) => {
                self.outages.lost_for_good += 1;
                self.outages.lost_vm_ms += now.0.saturating_sub(since.0) as u128;
                1
            }
            None => 0,
        };
        self.outages.guest(rec.guest).change(now, -1, -down);
    }

    /// `vm`'s create or restore completed: if it was lost, it is recovered.
    fn recovered(&mut self, now: SimTime, vm: VmId) {
        if let Some(since) = self.lost_since.remove(&vm) {
            let took = now.0.saturating_sub(since.0);
            self.outages.vms_recovered += 1;
            self.outages.recovery_ms += took as u128;
            self.outages.lost_vm_ms += took as u128;
            if let Some(guest) = self.vms.get(vm).map(|r| r.guest) {
                self.outages.guest(guest).change(now, 0, -1);
            }
        }
    }

    /// Starts `step` now if it heads its queues and may start, else queues
    /// it: what [`Self::replan`] does with each planned step.
    fn enqueue(&mut self, now: SimTime, step: Step, started: &mut Vec<(OpId, Step)>) {
        let op = OpId(self.next_op);
        self.next_op += self.op_stride;
        if self.queue.would_head(&step) && self.may_start(&step) {
            self.start(now, op, step, started);
        } else {
            self.queue.push(op, step);
        }
    }

    /// Checks the site's invariants: actual reservations equal the sum of
    /// what VMs hold and fit every host; each VM's holdings match its state;
    /// the planned placement is consistent and feasible.
    pub fn check(&self) -> Result<(), String> {
        let n = self.used.len();
        let mut sums = vec![Resources::ZERO; n];
        for (vm, rec) in &self.vms {
            for (h, r) in rec.holds() {
                let slot = sums
                    .get_mut(h.index())
                    .ok_or_else(|| format!("{vm} holds unknown {h}"))?;
                *slot = slot.plus(r);
            }
            let ok = match rec.state {
                VmState::Running => rec.holds().len() == 1,
                VmState::Migrating => rec.holds().len() == 2,
                VmState::Pending | VmState::Suspended => rec.holds().len() <= 1,
            };
            if !ok {
                return Err(format!("{vm} is {:?} but holds {:?}", rec.state, rec.holds()));
            }
        }
        for (i, sum) in sums.iter().enumerate() {
            if *sum != self.used[i] {
                return Err(format!(
                    "host{i}: reservations {} but VMs hold {}",
                    self.used[i], sum
                ));
            }
            let capacity = self.planned.nominal(HostId(i as u32));
            if !sum.fits_in(&capacity) {
                return Err(format!("host{i} over capacity: {sum} > {capacity}"));
            }
        }
        if let Some(h) = self.down.keys().find(|h| !self.used[h.index()].is_zero()) {
            return Err(format!("{h} is down but holds {}", self.used[h.index()]));
        }
        if let Some(h) = self.down.keys().find(|h| self.planned.is_open(**h)) {
            return Err(format!("{h} is down but open to new VMs"));
        }
        for vm in self.waiting.keys() {
            if !self.vms.contains(*vm) || self.planned_at.contains(*vm) {
                return Err(format!("{vm} waits for a place but is unknown or planned"));
            }
        }
        for vm in self.lost_since.keys() {
            match self.vms.get(*vm) {
                Some(r) if r.state != VmState::Running && r.state != VmState::Migrating => {}
                _ => return Err(format!("{vm} is counted lost but is running or unknown")),
            }
        }
        let mut planned = vec![Resources::ZERO; n];
        for (vm, (h, s)) in &self.planned_at {
            if !self.vms.contains(vm) {
                return Err(format!("{vm} is planned but unknown"));
            }
            planned[h.index()] = planned[h.index()].plus(s);
        }
        for (h, p) in self.planned.hosts().iter().zip(planned) {
            let capacity = self.planned.nominal(h.id);
            if h.used != p || !p.fits_in(&capacity) {
                return Err(format!(
                    "{}: planned {} (cached {}) of {}",
                    h.id, p, h.used, capacity
                ));
            }
        }
        let listed: usize = self.on_host.lists.iter().map(Vec::len).sum();
        if listed != self.planned_at.len()
            || self.planned_at.iter().any(|(vm, (h, _))| {
                self.vms
                    .get(vm)
                    .and_then(|r| self.on_host.lists[h.index()].get(r.listed_at as usize))
                    != Some(&vm)
            })
        {
            return Err("the per-host lists of planned VMs differ from the plan".into());
        }
        if let Some((vm, _)) = self.vms.iter().find(|(_, r)| r.touched) {
            return Err(format!("{vm} is still marked touched between batches of grants"));
        }
        let mut accounts = GuestAccounts::default();
        for (vm, _) in &self.vms {
            if let Some((g, c)) = self.contribution(vm) {
                accounts.apply(g, vm, c, true);
            }
        }
        let n = self.accounts.accounts.len().max(accounts.accounts.len());
        for g in 0..n {
            let kept = self.accounts.accounts.get(g).cloned().unwrap_or_default();
            let fresh = accounts.accounts.get(g).cloned().unwrap_or_default();
            if kept != fresh {
                return Err(format!("guest{g}: account {kept:?}, recomputed {fresh:?}"));
            }
        }
        if accounts.moving != self.accounts.moving {
            return Err("the guests' accounts differ from a recomputation".into());
        }
        Ok(())
    }
}

/// The planned VMs of each host, unordered; each VM's record knows its
/// place in its host's list, so adding and removing are O(1).
#[derive(Debug)]
struct HostLists {
    lists: Vec<Vec<VmId>>,
}

/// The site's planned VMs as policies see them ([`VmsView`]): each host's
/// list, where each VM is planned, and whose it is.
struct PlannedVms<'a> {
    on_host: &'a HostLists,
    planned_at: &'a VmMap<(HostId, Resources)>,
    records: &'a VmMap<VmRecord>,
}

impl VmsView for PlannedVms<'_> {
    fn on_host(&self, host: HostId, out: &mut Vec<VmView>) {
        let start = out.len();
        if let Some(list) = self.on_host.lists.get(host.index()) {
            out.extend(list.iter().filter_map(|&vm| self.vm(vm)));
        }
        out[start..].sort_unstable_by_key(|v| v.vm);
    }

    fn vm(&self, vm: VmId) -> Option<VmView> {
        let &(host, size) = self.planned_at.get(vm)?;
        Some(VmView {
            vm,
            guest: self.records.get(vm)?.guest,
            host,
            size,
        })
    }
}

impl HostLists {
    fn new(hosts: u32) -> Self {
        HostLists {
            lists: vec![Vec::new(); hosts as usize],
        }
    }

    fn add(&mut self, host: HostId, vm: VmId, vms: &mut VmMap<VmRecord>) {
        let list = &mut self.lists[host.index()];
        if let Some(rec) = vms.get_mut(vm) {
            rec.listed_at = list.len() as u32;
        }
        list.push(vm);
    }

    fn remove(&mut self, host: HostId, vm: VmId, vms: &mut VmMap<VmRecord>) {
        let Some(i) = vms.get(vm).map(|r| r.listed_at as usize) else {
            return;
        };
        let list = &mut self.lists[host.index()];
        if list.get(i) != Some(&vm) {
            return;
        }
        list.swap_remove(i);
        if let Some(rec) = list.get(i).and_then(|moved| vms.get_mut(*moved)) {
            rec.listed_at = i as u32;
        }
    }
}

/// The VMs a batch of grants touched, in the order first touched, each
/// with where it was planned before, and the changes they make.
#[derive(Debug, Default)]
struct Touched {
    /// Each VM once (its record is marked while the batch lasts).
    order: Vec<(VmId, Option<(HostId, Resources)>)>,
    /// The changes given to [`Site::replan`] (a buffer kept between calls).
    changes: Vec<Change>,
}

/// [`Site::replan`]'s working lists, kept between calls: the hosts as the
/// planner sees them, the planner, and its steps.
#[derive(Debug, Default)]
struct Replanning {
    before: Vec<(HostId, Resources)>,
    planner: plan::Planner,
    steps: Vec<Step>,
}

/// The steps planned and not yet started, with what lets each start.
///
/// A step can start only at the head of its VM's queue and, if it
/// reserves, at the head of its host's queue of reservations. Instead of
/// scanning every queued step after each change, the queue keeps the
/// *candidates*: steps some change may have unblocked (the head of a VM's
/// queue when the VM goes idle, the head of a host's queue when the host
/// frees capacity or its head starts). A step is queued only if it cannot
/// start when it is planned ([`Site::apply`] starts the others at once).
/// Every other step is blocked for a reason that has not changed.
/// Candidates come out in op order, and a step started makes candidates
/// only of later ops, so the steps start in the order one pass over the
/// whole queue would start them.
#[derive(Debug)]
struct StepQueue {
    steps: IdSlab<OpId, Step>,
    /// Each VM's queued steps in op order: the head, then the rest (most
    /// VMs have one step queued, which allocates nothing).
    by_vm: VmMap<(OpId, VecDeque<OpId>)>,
    /// Indexed by host.
    by_host: Vec<VecDeque<OpId>>,
    /// Smallest op first; an op may be in twice (checking it again is
    /// harmless: a started op is no longer queued, a blocked one stays so).
    candidates: BinaryHeap<Reverse<OpId>>,
}

impl StepQueue {
    fn new(hosts: u32) -> Self {
        StepQueue {
            steps: IdSlab::new(),
            by_vm: VmMap::new(),
            by_host: vec![VecDeque::new(); hosts as usize],
            candidates: BinaryHeap::new(),
        }
    }

    fn len(&self) -> usize {
        self.steps.len()
    }

    /// True if `step`, pushed now, would head its VM's queue and, if it
    /// reserves, its host's.
    fn would_head(&self, step: &Step) -> bool {
        // Most of the time nothing is queued: no per-VM or per-host look-up.
        self.steps.is_empty()
            || self.vm_head(step.vm()).is_none()
                && step
                    .reserves()
                    .is_none_or(|(h, _)| self.by_host.get(h.index()).is_some_and(VecDeque::is_empty))
    }

    /// Queues `op`, which cannot start now; it becomes a candidate when a
    /// completion frees its VM or its host, or when it comes to head them.
    fn push(&mut self, op: OpId, step: Step) {
        match self.by_vm.get_mut(step.vm()) {
            // Ops are numbered in plan order, so a push is the VM's last.
            Some((_, rest)) => rest.push_back(op),
            None => {
                self.by_vm.insert(step.vm(), (op, VecDeque::new()));
            }
        }
        if let Some((h, _)) = step.reserves() {
            self.by_host[h.index()].push_back(op);
        }
        self.steps.insert(op, step);
    }

    /// The next candidate in op order, if it is still queued.
    fn next_candidate(&mut self) -> Option<(OpId, Step)> {
        while let Some(Reverse(op)) = self.candidates.pop() {
            if let Some(step) = self.steps.get(op) {
                return Some((op, *step));
            }
        }
        None
    }

    /// The first queued step of `vm`.
    fn vm_head(&self, vm: VmId) -> Option<OpId> {
        self.by_vm.get(vm).map(|(head, _)| *head)
    }

    /// True if `op` heads its VM's queue and, if it reserves, its host's.
    fn is_head(&self, op: OpId, step: &Step) -> bool {
        self.vm_head(step.vm()) == Some(op)
            && step
                .reserves()
                .is_none_or(|(h, _)| self.by_host.get(h.index()).and_then(|q| q.front()) == Some(&op))
    }

    /// Removes `op`, which heads its queues; the next reservation on its
    /// host becomes a candidate.
    fn remove_head(&mut self, op: OpId, step: &Step) {
        self.steps.remove(op);
        let vm = step.vm();
        if let Some((head, rest)) = self.by_vm.get_mut(vm) {
            debug_assert_eq!(*head, op, "only a VM's head step is removed");
            match rest.pop_front() {
                Some(next) => *head = next,
                None => {
                    self.by_vm.remove(vm);
                }
            }
        }
        if let Some((h, _)) = step.reserves() {
            self.by_host[h.index()].pop_front();
            self.host_freed(h);
        }
    }

    /// The VMs of the steps queued to reserve on `host`.
    fn reserving_on(&self, host: HostId) -> Vec<VmId> {
        self.by_host
            .get(host.index())
            .into_iter()
            .flatten()
            .filter_map(|op| self.steps.get(*op).map(Step::vm))
            .collect()
    }

    /// Drops every queued step of `vm`; the steps that then head their
    /// hosts' queues become candidates.
    fn remove_vm(&mut self, vm: VmId) {
        let Some((head, rest)) = self.by_vm.remove(vm) else {
            return;
        };
        for op in std::iter::once(head).chain(rest) {
            let Some(step) = self.steps.remove(op) else {
                continue;
            };
            if let Some((h, _)) = step.reserves()
                && let Some(q) = self.by_host.get_mut(h.index())
                && let Some(i) = q.iter().position(|o| *o == op)
            {
                q.remove(i);
                if i == 0 {
                    self.host_freed(h);
                }
            }
        }
    }

    /// `vm` went idle: its next step may start.
    fn vm_idle(&mut self, vm: VmId) {
        if self.steps.is_empty() {
            return;
        }
        if let Some(op) = self.vm_head(vm) {
            self.candidates.push(Reverse(op));
        }
    }

    /// `host` has more room (or a new head): its next reservation may start.
    fn host_freed(&mut self, host: HostId) {
        if self.steps.is_empty() {
            return;
        }
        if let Some(&op) = self.by_host.get(host.index()).and_then(|q| q.front()) {
            self.candidates.push(Reverse(op));
        }
    }
}

/// What one VM adds to its guest's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Contribution {
    promised: u64,
    running: u64,
    migrating: bool,
}

/// One guest's CPU as fidelity sees it (docs in [`super::fidelity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestAccount {
    /// CPU (millicores) of the guest's created, planned VMs: what it is promised.
    pub promised: u64,
    /// CPU its running VMs hold on their hosts.
    pub running: u64,
    /// Its planned VMs that are live-migrating: what they get depends on
    /// the migration's phase, which the driver knows.
    pub migrating: BTreeSet<VmId>,
}

/// Every guest's account, kept in step with the site's VMs: each change of
/// a VM takes its old contribution out and puts the new one in, so reading
/// a guest's fidelity costs O(its VMs in migration), not a pass over all VMs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestAccounts {
    /// Indexed by guest.
    accounts: Vec<GuestAccount>,
    /// Guests with a VM in migration.
    moving: BTreeSet<GuestId>,
    /// Guests changed since the driver last looked (repeats are dropped
    /// when it looks).
    changed: Vec<GuestId>,
}

impl GuestAccounts {
    /// One guest's account (empty if it has no created VM).
    pub fn get(&self, guest: GuestId) -> Option<&GuestAccount> {
        self.accounts.get(guest.0 as usize)
    }

    /// Guests with a VM in live migration now.
    pub fn moving(&self) -> &BTreeSet<GuestId> {
        &self.moving
    }

    fn apply(&mut self, g: GuestId, vm: VmId, c: Contribution, add: bool) {
        let i = g.0 as usize;
        if self.accounts.len() <= i {
            self.accounts.resize_with(i + 1, GuestAccount::default);
        }
        let a = &mut self.accounts[i];
        if add {
            a.promised += c.promised;
            a.running += c.running;
            if c.migrating {
                a.migrating.insert(vm);
            }
        } else {
            a.promised -= c.promised;
            a.running -= c.running;
            if c.migrating {
                a.migrating.remove(&vm);
            }
        }
        if c.migrating {
            if a.migrating.is_empty() {
                self.moving.remove(&g);
            } else {
                self.moving.insert(g);
            }
        }
        if self.changed.last() != Some(&g) {
            self.changed.push(g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slivers_policy::PlacementKind;

    const U: Resources = Resources([1; 4]);

    fn homes(list: &[(u64, u32, u64)]) -> VmMap<(HostId, Resources)> {
        list.iter()
            .map(|&(v, h, u)| (VmId(v), (HostId(h), U.times(u))))
            .collect()
    }

    fn apply(site: &mut Site, now: SimTime, grants: &[Grant], homes: &dyn Homes) -> Vec<(OpId, Step)> {
        let mut ops = Vec::new();
        site.apply(now, grants, homes, &mut ops).unwrap();
        ops
    }

    fn finish_all(site: &mut Site, mut ops: Vec<(OpId, Step)>) -> Vec<Step> {
        let mut done = Vec::new();
        let mut t = 0;
        while let Some((op, step)) = ops.first().copied() {
            ops.remove(0);
            t += 1;
            site.complete(SimTime(t), op, &mut ops).unwrap();
            site.check().unwrap();
            done.push(step);
        }
        done
    }

    #[test]
    fn energy_aware_packs_then_migrates_a_grown_sliver() {
        let mut site = Site::new(
            PlacementKind::EnergyAware.build(),
            2,
            U.times(2),
            PowerParams::default(),
        );
        // The broker spread vm0 and vm1 over both hosts; the site packs them.
        let h = homes(&[(0, 0, 1), (1, 1, 1)]);
        let g = GuestId(0);
        let ops = apply(
            &mut site,
            SimTime(0),
            &[
                Grant::New {
                    vm: VmId(0),
                    guest: g,
                    size: U,
                },
                Grant::New {
                    vm: VmId(1),
                    guest: g,
                    size: U,
                },
            ],
            &h,
        );
        finish_all(&mut site, ops);
        assert_eq!(site.planned()[VmId(0)].0, HostId(0));
        assert_eq!(site.planned()[VmId(1)].0, HostId(0));
        assert_eq!(site.stats().peak_active_hosts, 1);
        // vm1 grows to a whole host (its logical host 1 has room): energy-aware
        // cannot grow it in place, so it moves it live to the idle host 1.
        let h = homes(&[(0, 0, 1), (1, 1, 2)]);
        let ops = apply(
            &mut site,
            SimTime(10),
            &[Grant::Resize {
                vm: VmId(1),
                size: U.times(2),
            }],
            &h,
        );
        assert_eq!(ops.len(), 1);
        assert!(matches!(
            ops[0].1,
            Step::Migrate {
                from: HostId(0),
                to: HostId(1),
                ..
            }
        ));
        assert_eq!(site.vms()[VmId(1)].state, VmState::Migrating);
        // During the move vm1 holds capacity on both hosts.
        assert_eq!(site.used(), &[U.times(2), U.times(2)]);
        finish_all(&mut site, ops);
        assert_eq!(site.stats().live_migrations, 1);
        assert_eq!(site.used(), &[U, U.times(2)]);
    }

    /// Worst-fit puts a(2) = vm0 and b(1) = vm1 on host 0, c(2) = vm2 and
    /// d(1) = vm3 on host 1 (each host holds 3 of 4). The broker's homes are
    /// host 0 for b, d and the new e(2) = vm4, host 1 for a and c.
    fn fragmented() -> (Site, VmMap<(HostId, Resources)>) {
        let mut site = Site::new(
            PlacementKind::WorstFit.build(),
            2,
            U.times(4),
            PowerParams::default(),
        );
        let h = homes(&[(0, 1, 2), (1, 0, 1), (2, 1, 2), (3, 0, 1), (4, 0, 2)]);
        let ops = apply(
            &mut site,
            SimTime(0),
            &[new(0, 2), new(2, 2), new(1, 1), new(3, 1)],
            &h,
        );
        finish_all(&mut site, ops);
        assert_eq!(placement(&site), vec![0, 0, 1, 1]);
        (site, h)
    }

    fn new(vm: u64, u: u64) -> Grant {
        Grant::New {
            vm: VmId(vm),
            guest: GuestId(0),
            size: U.times(u),
        }
    }

    fn placement(site: &Site) -> Vec<u32> {
        site.planned().values().map(|(h, _)| h.0).collect()
    }

    /// A placement that reads the VMs in its view: the host with the
    /// fewest planned VMs that has room (the lowest id on a tie).
    struct FewestVms;

    impl Placement for FewestVms {
        fn place(&self, view: &slivers_policy::ClusterView, req: &PlaceRequest) -> Option<HostId> {
            let vms = view.vms()?;
            let mut on = Vec::new();
            view.hosts
                .iter()
                .filter(|h| req.fits_on(view, h.id))
                .min_by_key(|h| {
                    on.clear();
                    vms.on_host(h.id, &mut on);
                    (on.len(), h.id)
                })
                .map(|h| h.id)
        }
    }

    #[test]
    fn placement_sees_the_planned_vms_of_each_host() {
        let mut site = Site::new(Box::new(FewestVms), 3, U.times(4), PowerParams::default());
        let h = homes(&[(0, 0, 2), (1, 0, 1), (2, 0, 1), (3, 0, 1)]);
        let ops = apply(
            &mut site,
            SimTime(0),
            &[new(0, 2), new(1, 1), new(2, 1), new(3, 1)],
            &h,
        );
        finish_all(&mut site, ops);
        // By count, not by room: host 0 holds 2 units after vm0, host 1
        // one after vm1, so vm3 goes back to host 0 (one VM each).
        assert_eq!(placement(&site), vec![0, 1, 2, 0]);
        let vms = PlannedVms {
            on_host: &site.on_host,
            planned_at: &site.planned_at,
            records: &site.vms,
        };
        let mut on = Vec::new();
        vms.on_host(HostId(0), &mut on);
        let view = |vm: u64, host: u32, u: u64| VmView {
            vm: VmId(vm),
            guest: GuestId(0),
            host: HostId(host),
            size: U.times(u),
        };
        assert_eq!(on, vec![view(0, 0, 2), view(3, 0, 1)]);
        assert_eq!(vms.vm(VmId(1)), Some(view(1, 1, 1)));
        assert_eq!(vms.vm(VmId(9)), None);
    }

    #[test]
    fn with_no_room_anywhere_one_small_vm_moves() {
        // No host has 2 free for e; moving b (the smallest VM that makes
        // room) to host 1 is enough: one live migration, then the create.
        let (mut site, h) = fragmented();
        let ops = apply(&mut site, SimTime(5), &[new(4, 2)], &h);
        let steps = finish_all(&mut site, ops);
        assert_eq!(placement(&site), vec![0, 1, 1, 1, 0]);
        assert_eq!(
            (site.stats().live_migrations, site.stats().stop_copy_migrations),
            (1, 0)
        );
        assert_eq!(
            (site.stats().forced_placements, site.stats().forced_moves),
            (1, 1)
        );
        assert!(matches!(
            steps[0],
            Step::Migrate {
                vm: VmId(1),
                from: HostId(0),
                to: HostId(1),
                ..
            }
        ));
        assert!(matches!(
            steps[1],
            Step::Create {
                vm: VmId(4),
                host: HostId(0),
                ..
            }
        ));
        assert!(site.vms().values().all(|r| r.state == VmState::Running));
    }

    #[test]
    fn the_home_cascade_sends_strangers_home_cheapest_first() {
        // The always-feasible fallback on the same state: to make room for
        // e on its home host 0, the stranger a (home host 1) must leave; host 1
        // has no room for a until its stranger d goes home to host 0.
        let (mut site, h) = fragmented();
        let mut touched = Touched::default();
        site.make_room(VmId(4), HostId(0), &U.times(2), &h, &mut touched)
            .unwrap();
        site.plan_at(VmId(4), HostId(0), U.times(2));
        assert_eq!(placement(&site), vec![1, 0, 1, 0, 0]);
        assert_eq!(
            touched.order.iter().map(|(v, _)| v.0).collect::<Vec<_>>(),
            vec![0, 3]
        );
        assert_eq!(site.stats().forced_moves, 2);
    }
}
