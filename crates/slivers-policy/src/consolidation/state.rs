//! The state consolidation decides over: hosts, the VMs on them with their
//! measured utilisation, and the site's fit rules.
//!
//! The simulator owns one [`ConsolidationState`] for the whole run and
//! updates it in place (a VM's new demand, a migration started or ended, a
//! host switched on or off); every update costs O(what changed): a VM's
//! history is a fixed ring of [`HISTORY_LEN`] values, and hosts keep their
//! VM lists sorted by id. The policies only read it.

use std::collections::BTreeMap;

use super::power::PowerModel;
use crate::{DIMS, HostId, Resources, VmId};

/// How many interval values a VM's utilisation history keeps (CloudSim's
/// `HISTORY_LENGTH`).
pub const HISTORY_LEN: usize = 30;

/// The last up to [`HISTORY_LEN`] utilisation values of a VM, oldest
/// first, the last being the current one: a fixed ring, so a push never
/// allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    buf: [f64; HISTORY_LEN],
    /// Index of the oldest value.
    start: u8,
    len: u8,
}

impl Default for History {
    fn default() -> Self {
        History {
            buf: [0.0; HISTORY_LEN],
            start: 0,
            len: 0,
        }
    }
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// A history of `values`, oldest first (only the last [`HISTORY_LEN`] kept).
    pub fn from_values(values: &[f64]) -> Self {
        let mut h = Self::new();
        for &v in values {
            h.push(v);
        }
        h
    }

    /// Appends the newest value, dropping the oldest when full.
    pub fn push(&mut self, value: f64) {
        if (self.len as usize) < HISTORY_LEN {
            self.buf[(self.start as usize + self.len as usize) % HISTORY_LEN] = value;
            self.len += 1;
        } else {
            self.buf[self.start as usize] = value;
            self.start = ((self.start as usize + 1) % HISTORY_LEN) as u8;
        }
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True if it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th value, oldest first.
    pub fn get(&self, i: usize) -> Option<f64> {
        (i < self.len()).then(|| self.buf[(self.start as usize + i) % HISTORY_LEN])
    }

    /// The newest value.
    pub fn last(&self) -> Option<f64> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The values, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = f64> + ExactSizeIterator + '_ {
        (0..self.len()).map(move |i| self.buf[(self.start as usize + i) % HISTORY_LEN])
    }

    /// The values, oldest first, as a vector.
    pub fn to_vec(&self) -> Vec<f64> {
        self.iter().collect()
    }
}

/// What a host's load is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum PlaceBy {
    /// CPU by measured use: the current demands of a host's VMs must fit in
    /// its CPU capacity, as CloudSim checks requested MIPS. The other
    /// dimensions go by reservation.
    #[default]
    Use,
    /// Every dimension by reservation (times the overbooking ratio).
    Reservation,
}

/// The site's fit rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// What load is checked against capacity.
    pub place_by: PlaceBy,
    /// Per dimension, how far reservations on a host may exceed its capacity:
    /// they may reach `ratio x capacity` (rounded down). With
    /// [`PlaceBy::Use`] the CPU ratio is unused.
    pub overbooking: [f64; DIMS],
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            place_by: PlaceBy::Use,
            overbooking: [1.0; DIMS],
        }
    }
}

impl Rules {
    /// The most reservations a host of `capacity` may hold, per dimension.
    pub fn limits(&self, capacity: &Resources) -> Resources {
        let mut out = *capacity;
        for (o, r) in out.0.iter_mut().zip(self.overbooking) {
            *o = (*o as f64 * r).floor() as u64;
        }
        out
    }

    /// True if a host of `capacity` holding `reserved` with a total CPU
    /// demand `demand_mips` keeps to the rules.
    pub fn allows(&self, capacity: &Resources, reserved: &Resources, demand_mips: f64) -> bool {
        let limits = self.limits(capacity);
        match self.place_by {
            PlaceBy::Reservation => reserved.fits_in(&limits),
            PlaceBy::Use => {
                demand_mips <= capacity.0[0] as f64 && (1..DIMS).all(|d| reserved.0[d] <= limits.0[d])
            }
        }
    }
}

/// A change to the state that does not fit it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    /// No host of that id.
    #[error("consolidation state: no {0} (it has {1} hosts)")]
    UnknownHost(HostId, usize),
    /// No VM of that id.
    #[error("consolidation state: no {0}")]
    UnknownVm(VmId),
    /// The VM is there already.
    #[error("consolidation state: {0} is there already")]
    DuplicateVm(VmId),
    /// A VM must reserve some CPU (its utilisation is a share of it).
    #[error("consolidation state: {0} reserves no CPU; expected a CPU reservation > 0 MIPS")]
    NoCpu(VmId),
    /// A demand that is not a finite number >= 0.
    #[error("consolidation state: {vm}'s CPU demand must be a finite number >= 0 MIPS, not {found}")]
    BadDemand {
        /// The VM.
        vm: VmId,
        /// The value given.
        found: f64,
    },
    /// A migration of a VM that is migrating already, or to its own host.
    #[error("consolidation state: cannot migrate {vm} to {to}: {why}")]
    BadMigration {
        /// The VM.
        vm: VmId,
        /// The destination given.
        to: HostId,
        /// "it is migrating already" or "it is there already".
        why: &'static str,
    },
    /// Ending a migration of a VM that is not migrating.
    #[error("consolidation state: {0} is not migrating")]
    NotMigrating(VmId),
    /// An overbooking ratio or interval that is not a positive number.
    #[error("consolidation state: {what} must be a finite number > 0, not {found}")]
    BadRule {
        /// Which value.
        what: &'static str,
        /// The value given.
        found: f64,
    },
}

/// One host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    capacity: Resources,
    /// MIPS of one core: a VM (of one virtual core) needs at most this.
    core_mips: u64,
    power: PowerModel,
    active: bool,
    /// Sorted by VM id; includes VMs migrating in.
    vms: Vec<VmId>,
}

impl HostState {
    /// Capacity: dimension 0 is CPU in MIPS, 1 memory in MiB, 2 bandwidth
    /// in Mbit/s, 3 disk.
    pub fn capacity(&self) -> Resources {
        self.capacity
    }

    /// CPU capacity, MIPS.
    pub fn mips(&self) -> f64 {
        self.capacity.0[0] as f64
    }

    /// MIPS of one of its cores.
    pub fn core_mips(&self) -> u64 {
        self.core_mips
    }

    /// True if a VM reserving `reserved` and demanding `demand_mips` can
    /// run on one of its cores: a VM has one virtual core, which no host
    /// core runs faster than its own MIPS (CloudSim's per-PE check). By use
    /// the VM's current demand must fit a core (as CloudSim checks the
    /// current requested MIPS); by reservation its whole sliver (a
    /// 2,500-MIPS VM then needs a 2,660-MIPS core, not one of 1,860).
    pub fn takes(&self, place_by: PlaceBy, reserved: &Resources, demand_mips: f64) -> bool {
        match place_by {
            PlaceBy::Use => demand_mips <= self.core_mips as f64,
            PlaceBy::Reservation => reserved.0[0] <= self.core_mips,
        }
    }

    /// Its power model.
    pub fn power(&self) -> &PowerModel {
        &self.power
    }

    /// True if it is switched on.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The VMs on it in id order, including VMs migrating in (which also
    /// appear on their source).
    pub fn vms(&self) -> &[VmId] {
        &self.vms
    }
}

/// One VM.
#[derive(Debug, Clone, PartialEq)]
pub struct VmState {
    id: VmId,
    reserved: Resources,
    demand_mips: f64,
    host: HostId,
    migrating_to: Option<HostId>,
    history: History,
}

impl VmState {
    /// Its id.
    pub fn id(&self) -> VmId {
        self.id
    }

    /// What it reserves (dimension 0: MIPS; 1: memory, MiB).
    pub fn reserved(&self) -> Resources {
        self.reserved
    }

    /// Its current CPU demand, MIPS.
    pub fn demand_mips(&self) -> f64 {
        self.demand_mips
    }

    /// Its current demand as a share of its reserved MIPS.
    pub fn utilization(&self) -> f64 {
        self.demand_mips / self.reserved.0[0] as f64
    }

    /// The host it runs on (the source while it migrates).
    pub fn host(&self) -> HostId {
        self.host
    }

    /// Where it is migrating to, if it is.
    pub fn migrating_to(&self) -> Option<HostId> {
        self.migrating_to
    }

    /// True while it migrates.
    pub fn is_migrating(&self) -> bool {
        self.migrating_to.is_some()
    }

    /// Its utilisation per interval, as shares of its reserved MIPS, oldest
    /// first, the last being the current one.
    pub fn history(&self) -> &History {
        &self.history
    }
}

/// Hosts, VMs and rules: what the simulator keeps and lends to
/// [`super::Consolidation::plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConsolidationState {
    hosts: Vec<HostState>,
    vms: BTreeMap<VmId, VmState>,
    rules: Rules,
    interval_s: f64,
}

impl ConsolidationState {
    /// No hosts, no VMs; `interval_s` is the time between consolidation
    /// steps (300 s in the paper), which local regression needs.
    pub fn new(rules: Rules, interval_s: f64) -> Result<Self, StateError> {
        for r in rules.overbooking {
            if !(r.is_finite() && r > 0.0) {
                return Err(StateError::BadRule {
                    what: "overbooking ratio",
                    found: r,
                });
            }
        }
        if !(interval_s.is_finite() && interval_s > 0.0) {
            return Err(StateError::BadRule {
                what: "consolidation interval (s)",
                found: interval_s,
            });
        }
        Ok(ConsolidationState {
            hosts: Vec::new(),
            vms: BTreeMap::new(),
            rules,
            interval_s,
        })
    }

    /// Adds a host, numbered after the others.
    pub fn add_host(&mut self, capacity: Resources, power: PowerModel, active: bool) -> HostId {
        self.add_host_with_cores(capacity, 1, power, active)
    }

    /// Adds a host of `cores` equal cores (at least 1) sharing the CPU
    /// capacity, numbered after the others.
    pub fn add_host_with_cores(
        &mut self,
        capacity: Resources,
        cores: u64,
        power: PowerModel,
        active: bool,
    ) -> HostId {
        self.hosts.push(HostState {
            capacity,
            core_mips: capacity.0[0] / cores.max(1),
            power,
            active,
            vms: Vec::new(),
        });
        HostId(self.hosts.len() as u32 - 1)
    }

    /// Switches a host on or off (the simulator's decision; the planner only
    /// reads it).
    pub fn set_active(&mut self, host: HostId, active: bool) -> Result<(), StateError> {
        self.host_mut(host)?.active = active;
        Ok(())
    }

    /// Adds a VM on `host` with an empty history and no demand.
    pub fn add_vm(&mut self, id: VmId, reserved: Resources, host: HostId) -> Result<(), StateError> {
        if self.vms.contains_key(&id) {
            return Err(StateError::DuplicateVm(id));
        }
        if reserved.0[0] == 0 {
            return Err(StateError::NoCpu(id));
        }
        insert_sorted(&mut self.host_mut(host)?.vms, id);
        self.vms.insert(
            id,
            VmState {
                id,
                reserved,
                demand_mips: 0.0,
                host,
                migrating_to: None,
                history: History::new(),
            },
        );
        Ok(())
    }

    /// Removes a VM (from both hosts if it was migrating).
    pub fn remove_vm(&mut self, id: VmId) -> Result<(), StateError> {
        let vm = self.vms.remove(&id).ok_or(StateError::UnknownVm(id))?;
        for h in std::iter::once(vm.host).chain(vm.migrating_to) {
            remove_sorted(&mut self.hosts[h.index()].vms, id);
        }
        Ok(())
    }

    /// The VM's demand this interval, in MIPS: sets its current demand and
    /// appends `demand / reserved MIPS` to its history.
    pub fn record(&mut self, id: VmId, demand_mips: f64) -> Result<(), StateError> {
        self.set_demand(id, demand_mips)?;
        let vm = self.vm_mut(id)?;
        let u = demand_mips / vm.reserved.0[0] as f64;
        vm.history.push(u);
        Ok(())
    }

    /// Sets the VM's current demand without adding to its history (a change
    /// within an interval).
    pub fn set_demand(&mut self, id: VmId, demand_mips: f64) -> Result<(), StateError> {
        let vm = self.vm_mut(id)?;
        if !(demand_mips.is_finite() && demand_mips >= 0.0) {
            return Err(StateError::BadDemand {
                vm: id,
                found: demand_mips,
            });
        }
        vm.demand_mips = demand_mips;
        Ok(())
    }

    /// Starts migrating a VM to `to`: it now counts on both hosts.
    pub fn start_migration(&mut self, id: VmId, to: HostId) -> Result<(), StateError> {
        if to.index() >= self.hosts.len() {
            return Err(StateError::UnknownHost(to, self.hosts.len()));
        }
        let vm = self.vm_mut(id)?;
        if vm.migrating_to.is_some() {
            return Err(StateError::BadMigration {
                vm: id,
                to,
                why: "it is migrating already",
            });
        }
        if vm.host == to {
            return Err(StateError::BadMigration {
                vm: id,
                to,
                why: "it is there already",
            });
        }
        vm.migrating_to = Some(to);
        insert_sorted(&mut self.hosts[to.index()].vms, id);
        Ok(())
    }

    /// Ends a VM's migration: it leaves its source and runs on the destination.
    pub fn finish_migration(&mut self, id: VmId) -> Result<(), StateError> {
        let vm = self.vm_mut(id)?;
        let to = vm.migrating_to.take().ok_or(StateError::NotMigrating(id))?;
        let from = std::mem::replace(&mut vm.host, to);
        remove_sorted(&mut self.hosts[from.index()].vms, id);
        Ok(())
    }

    /// Abandons a VM's migration: it stays on its source.
    pub fn cancel_migration(&mut self, id: VmId) -> Result<(), StateError> {
        let vm = self.vm_mut(id)?;
        let to = vm.migrating_to.take().ok_or(StateError::NotMigrating(id))?;
        remove_sorted(&mut self.hosts[to.index()].vms, id);
        Ok(())
    }

    /// The hosts, by id.
    pub fn hosts(&self) -> &[HostState] {
        &self.hosts
    }

    /// One host.
    pub fn host(&self, id: HostId) -> Option<&HostState> {
        self.hosts.get(id.index())
    }

    /// The VMs, in id order.
    pub fn vms(&self) -> impl ExactSizeIterator<Item = &VmState> + '_ {
        self.vms.values()
    }

    /// One VM.
    pub fn vm(&self, id: VmId) -> Option<&VmState> {
        self.vms.get(&id)
    }

    /// The fit rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Seconds between consolidation steps.
    pub fn interval_s(&self) -> f64 {
        self.interval_s
    }

    /// The VMs on `h` (including those migrating in), in id order.
    pub fn vms_on(&self, h: HostId) -> impl Iterator<Item = &VmState> + '_ {
        self.hosts
            .get(h.index())
            .map(|host| host.vms.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter_map(|id| self.vms.get(id))
    }

    /// The sum of the reservations on `h`.
    pub fn host_reserved(&self, h: HostId) -> Resources {
        self.vms_on(h)
            .fold(Resources::ZERO, |acc, vm| acc.plus(&vm.reserved))
    }

    /// The sum of the current CPU demands on `h`, MIPS.
    pub fn host_demand_mips(&self, h: HostId) -> f64 {
        self.vms_on(h).map(|vm| vm.demand_mips).sum()
    }

    /// The host's CPU utilisation: its VMs' current demands (VMs migrating
    /// in or out counted in full, as CloudSim's overload checks count them)
    /// over its MIPS. Not clamped: above 1 means demand exceeds capacity.
    pub fn host_utilization(&self, h: HostId) -> f64 {
        match self.host(h) {
            Some(host) if host.capacity.0[0] > 0 => self.host_demand_mips(h) / host.mips(),
            _ => 0.0,
        }
    }

    /// The host's utilisation history, oldest first: at each past interval,
    /// the sum over the VMs on it now of their utilisation times their
    /// reserved MIPS, over the host's MIPS (CloudSim's
    /// `PowerHost.getUtilizationHistory`). Histories are aligned at the
    /// newest value; the result is as long as the longest, a VM with a
    /// shorter one adding nothing to the older values.
    pub fn host_history(&self, h: HostId) -> Vec<f64> {
        let mut out = [0.0; HISTORY_LEN];
        let n = self.host_history_into(h, &mut out);
        out[HISTORY_LEN - n..].to_vec()
    }

    /// [`Self::host_history`] without allocating: fills the last `n` slots
    /// of `out` and returns `n`.
    pub fn host_history_into(&self, h: HostId, out: &mut [f64; HISTORY_LEN]) -> usize {
        *out = [0.0; HISTORY_LEN];
        let Some(host) = self.host(h) else { return 0 };
        let mut n = 0;
        for vm in self.vms_on(h) {
            add_history(out, &vm.history, vm.reserved.0[0] as f64 / host.mips());
            n = n.max(vm.history.len());
        }
        n
    }

    /// True if `vm` fits on `h` under the rules, counting everything on `h`
    /// now (VMs migrating in included). A VM already on `h` does not fit
    /// there again.
    pub fn fits(&self, vm: VmId, h: HostId) -> bool {
        let (Some(v), Some(host)) = (self.vm(vm), self.host(h)) else {
            return false;
        };
        if host.vms.binary_search(&vm).is_ok() || !host.takes(self.rules.place_by, &v.reserved, v.demand_mips)
        {
            return false;
        }
        self.rules.allows(
            &host.capacity,
            &self.host_reserved(h).plus(&v.reserved),
            self.host_demand_mips(h) + v.demand_mips,
        )
    }

    fn host_mut(&mut self, h: HostId) -> Result<&mut HostState, StateError> {
        let n = self.hosts.len();
        self.hosts.get_mut(h.index()).ok_or(StateError::UnknownHost(h, n))
    }

    fn vm_mut(&mut self, id: VmId) -> Result<&mut VmState, StateError> {
        self.vms.get_mut(&id).ok_or(StateError::UnknownVm(id))
    }
}

/// Adds `weight x history` into `out`, aligned at the newest value (the
/// last slot of `out`).
pub(crate) fn add_history(out: &mut [f64; HISTORY_LEN], history: &History, weight: f64) {
    let off = HISTORY_LEN - history.len();
    for (o, u) in out[off..].iter_mut().zip(history.iter()) {
        *o += u * weight;
    }
}

fn insert_sorted(v: &mut Vec<VmId>, id: VmId) {
    if let Err(i) = v.binary_search(&id) {
        v.insert(i, id);
    }
}

fn remove_sorted(v: &mut Vec<VmId>, id: VmId) {
    if let Ok(i) = v.binary_search(&id) {
        v.remove(i);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A host of `mips` MIPS, 4096 MiB, 1000 Mbit/s, on.
    pub fn host_cap(mips: u64) -> Resources {
        Resources::new(mips, 4096, 1000, 1000)
    }

    /// A VM of `mips` MIPS and `ram` MiB, 100 Mbit/s.
    pub fn vm_res(mips: u64, ram: u64) -> Resources {
        Resources::new(mips, ram, 100, 1)
    }

    #[test]
    fn history_is_a_ring_of_the_last_values() {
        let mut h = History::new();
        assert!(h.is_empty());
        assert_eq!(h.last(), None);
        for i in 0..40 {
            h.push(i as f64);
        }
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h.get(0), Some(10.0));
        assert_eq!(h.last(), Some(39.0));
        assert_eq!(h.get(30), None);
        assert_eq!(h.to_vec(), (10..40).map(|i| i as f64).collect::<Vec<_>>());
        assert_eq!(History::from_values(&[1.0, 2.0]).to_vec(), vec![1.0, 2.0]);
    }

    #[test]
    fn host_history_weights_by_mips_and_aligns_at_the_newest() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let h = s.add_host(host_cap(2000), PowerModel::hp_proliant_ml110_g4(), true);
        s.add_vm(VmId(1), vm_res(1000, 512), h).unwrap();
        s.add_vm(VmId(2), vm_res(500, 512), h).unwrap();
        for u in [0.2, 0.4, 0.6] {
            s.record(VmId(1), u * 1000.0).unwrap();
        }
        s.record(VmId(2), 400.0).unwrap(); // 0.8 of 500
        let hist = s.host_history(h);
        // VM 1 weighs 1000/2000, VM 2 weighs 500/2000 and only at the newest.
        let want = [0.1, 0.2, 0.3 + 0.2];
        assert_eq!(hist.len(), 3);
        for (a, b) in hist.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{hist:?}");
        }
        assert!((s.host_utilization(h) - 1000.0 / 2000.0).abs() < 1e-12);
    }

    #[test]
    fn migrations_count_on_both_hosts_until_they_end() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let a = s.add_host(host_cap(1000), PowerModel::hp_proliant_ml110_g4(), true);
        let b = s.add_host(host_cap(1000), PowerModel::hp_proliant_ml110_g4(), true);
        s.add_vm(VmId(5), vm_res(500, 3000), a).unwrap();
        s.add_vm(VmId(3), vm_res(500, 1000), a).unwrap();
        assert_eq!(s.host(a).unwrap().vms(), &[VmId(3), VmId(5)]);
        assert!(!s.fits(VmId(5), a));
        assert!(s.fits(VmId(5), b));
        s.start_migration(VmId(5), b).unwrap();
        assert_eq!(s.host(b).unwrap().vms(), &[VmId(5)]);
        // 3000 MiB on b now: VM 3 (1000) still fits in 4096, a 2nd copy of 5 would not.
        assert!(s.fits(VmId(3), b));
        assert_eq!(s.host_reserved(a).memory_mib(), 4000);
        assert!(matches!(
            s.start_migration(VmId(5), a),
            Err(StateError::BadMigration { .. })
        ));
        s.finish_migration(VmId(5)).unwrap();
        assert_eq!(s.host(a).unwrap().vms(), &[VmId(3)]);
        assert_eq!(s.vm(VmId(5)).unwrap().host(), b);
        assert_eq!(
            s.finish_migration(VmId(5)),
            Err(StateError::NotMigrating(VmId(5)))
        );
        s.start_migration(VmId(3), b).unwrap();
        s.cancel_migration(VmId(3)).unwrap();
        assert_eq!(s.host(b).unwrap().vms(), &[VmId(5)]);
        s.remove_vm(VmId(5)).unwrap();
        assert!(s.host(b).unwrap().vms().is_empty());
    }

    #[test]
    fn fit_rules_by_use_or_by_reservation() {
        let mut rules = Rules::default();
        let mut s = ConsolidationState::new(rules, 300.0).unwrap();
        let a = s.add_host(host_cap(1000), PowerModel::hp_proliant_ml110_g4(), true);
        let b = s.add_host(host_cap(1000), PowerModel::hp_proliant_ml110_g4(), true);
        s.add_vm(VmId(1), vm_res(800, 100), a).unwrap();
        s.add_vm(VmId(2), vm_res(800, 100), b).unwrap();
        s.record(VmId(1), 100.0).unwrap();
        s.record(VmId(2), 100.0).unwrap();
        // By use: 200 MIPS of demand on 1000.
        assert!(s.fits(VmId(1), b));
        rules.place_by = PlaceBy::Reservation;
        s.rules = rules;
        assert!(!s.fits(VmId(1), b));
        rules.overbooking[0] = 2.0;
        s.rules = rules;
        assert!(s.fits(VmId(1), b));
        assert!(matches!(
            ConsolidationState::new(
                Rules {
                    overbooking: [1.0, 0.0, 1.0, 1.0],
                    ..rules
                },
                300.0
            ),
            Err(StateError::BadRule { .. })
        ));
    }

    #[test]
    fn bad_updates_are_typed_errors() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let a = s.add_host(host_cap(1000), PowerModel::hp_proliant_ml110_g4(), false);
        assert_eq!(
            s.add_vm(VmId(1), vm_res(100, 1), HostId(4))
                .unwrap_err()
                .to_string(),
            "consolidation state: no host4 (it has 1 hosts)"
        );
        s.add_vm(VmId(1), vm_res(100, 1), a).unwrap();
        assert_eq!(
            s.add_vm(VmId(1), vm_res(100, 1), a),
            Err(StateError::DuplicateVm(VmId(1)))
        );
        assert_eq!(
            s.add_vm(VmId(2), vm_res(0, 1), a),
            Err(StateError::NoCpu(VmId(2)))
        );
        assert!(matches!(
            s.record(VmId(1), f64::NAN),
            Err(StateError::BadDemand { .. })
        ));
        assert_eq!(s.record(VmId(9), 1.0), Err(StateError::UnknownVm(VmId(9))));
        assert!(!s.host(a).unwrap().is_active());
        s.set_active(a, true).unwrap();
        assert!(s.host(a).unwrap().is_active());
    }
}
