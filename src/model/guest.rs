//! Guests (service managers): they turn a trace into requests to the broker.
//!
//! * [`WebGuest`] (the e-commerce service) sizes itself from its demand: each
//!   period it needs `ceil(demand * (1 + headroom) / requests_per_unit)`
//!   sliver units (at least `min_units`). When it needs more, it grows its
//!   VMs (oldest first) to full size before it adds new VMs, which start at
//!   full size except for the remainder. When the need falls far enough
//!   below what it holds (hysteresis), it shrinks its VMs (newest first)
//!   toward one unit, and releases its newest VMs only when one unit each is
//!   still too much: the service keeps its replicas and breathes by resizing
//!   them on renewal, as in the paper's Figure 2.
//! * [`BatchGuest`] (the job cluster) turns each job into one lease of VMs
//!   for the job's run time. A job that is not granted stays queued and is
//!   requested again every period, in arrival order.
//!
//! Guests see time only as the `now` they are given.

use std::collections::{BTreeSet, VecDeque};

use slivers_policy::{GuestId, Resources, VmId};

use super::broker::{Outcome, Request};
use crate::engine::{DenseId, IdSlab, SimTime};

/// Sizes slivers in whole quanta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantum {
    /// One unit of sliver.
    pub unit: Resources,
    /// The most units in one VM (a VM is at most one host).
    pub max_units: u32,
}

impl Quantum {
    /// A sliver of `units` quanta.
    pub fn size(&self, units: u32) -> Resources {
        self.unit.times(units as u64)
    }

    /// `units` split into VMs of at most `max_units`, full ones first.
    pub fn split(&self, units: u32) -> Vec<u32> {
        if self.max_units == 0 {
            return Vec::new();
        }
        let mut left = units;
        let mut out = Vec::new();
        while left > 0 {
            let u = left.min(self.max_units);
            out.push(u);
            left -= u;
        }
        out
    }
}

/// How a web guest maps demand to units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebSizing {
    /// Demand (requests per minute) one unit serves.
    pub requests_per_unit: f64,
    /// Extra fraction provisioned above demand.
    pub headroom: f64,
    /// Shrink only when the need falls to `(1 - hysteresis)` of what is held.
    pub hysteresis: f64,
    /// Units held even at zero demand.
    pub min_units: u32,
    /// Units never asked beyond (the cluster's size).
    pub max_units: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebAction {
    Grow(VmId, u32),
    Shrink(VmId, u32),
    Release(VmId),
    New(u32),
}

/// The e-commerce guest.
#[derive(Debug, Clone)]
pub struct WebGuest {
    quantum: Quantum,
    sizing: WebSizing,
    demand: f64,
    /// VMs in creation order with their units. The broker numbers VMs in
    /// grant order, so this is also id order: a VM is found by binary search.
    vms: Vec<(VmId, u32)>,
    /// VMs whose last grow the broker refused: the guest scales out with new
    /// VMs instead of asking again, until the VM shrinks.
    capped: BTreeSet<VmId>,
    asked: Vec<WebAction>,
}

impl WebGuest {
    /// A guest with no VMs yet.
    pub fn new(quantum: Quantum, sizing: WebSizing) -> Self {
        WebGuest {
            quantum,
            sizing,
            demand: 0.0,
            vms: Vec::new(),
            capped: BTreeSet::new(),
            asked: Vec::new(),
        }
    }

    /// The demand (requests per minute) to provision for in the next period.
    pub fn observe(&mut self, demand: f64) {
        self.demand = demand.max(0.0);
    }

    /// The current demand in units, without headroom (what fidelity owes).
    pub fn demand_units(&self) -> f64 {
        let u = self.demand / self.sizing.requests_per_unit;
        if u.is_finite() { u } else { 0.0 }
    }

    /// Units the current demand needs.
    pub fn needed_units(&self) -> u32 {
        let raw = self.demand * (1.0 + self.sizing.headroom) / self.sizing.requests_per_unit;
        let units = if raw.is_finite() {
            raw.ceil().min(u32::MAX as f64) as u32
        } else {
            0
        };
        units.max(self.sizing.min_units)
    }

    /// Units held now.
    pub fn held_units(&self) -> u32 {
        self.vms.iter().map(|(_, u)| u).sum()
    }

    /// The VMs held, in creation order, with their units.
    pub fn vms(&self) -> &[(VmId, u32)] {
        &self.vms
    }

    /// This period's requests: renewals with a new size, new VMs, releases.
    pub fn requests(&mut self) -> Vec<Request> {
        let need = self.needed_units();
        let held = self.held_units();
        let q = self.quantum;
        self.asked.clear();
        if need > held {
            let mut more = need - held;
            for &(vm, u) in &self.vms {
                if more == 0 {
                    break;
                }
                if u < q.max_units && !self.capped.contains(&vm) {
                    let add = more.min(q.max_units - u);
                    self.asked.push(WebAction::Grow(vm, u + add));
                    more -= add;
                }
            }
            self.asked.extend(q.split(more).into_iter().map(WebAction::New));
        } else if (need as f64) <= held as f64 * (1.0 - self.sizing.hysteresis) && need < held {
            // Shrink the newest VMs toward one unit first, so the service
            // keeps its replicas; release the newest VMs only when even one
            // unit each is more than it needs.
            let keep = (need as usize).min(self.vms.len());
            let mut less = held - need;
            for (i, &(vm, u)) in self.vms.iter().enumerate().rev() {
                if i >= keep {
                    self.asked.push(WebAction::Release(vm));
                    less = less.saturating_sub(u);
                }
            }
            for &(vm, u) in self.vms[..keep].iter().rev() {
                let cut = less.min(u - 1);
                if cut > 0 {
                    self.asked.push(WebAction::Shrink(vm, u - cut));
                    less -= cut;
                }
            }
        }
        self.asked
            .iter()
            .map(|a| match *a {
                WebAction::Grow(vm, u) | WebAction::Shrink(vm, u) => Request::Resize { vm, size: q.size(u) },
                WebAction::Release(vm) => Request::Release { vm },
                WebAction::New(u) => Request::New {
                    sizes: vec![q.size(u)],
                },
            })
            .collect()
    }

    /// Where `vm` is in [`Self::vms`].
    fn slot(&self, vm: VmId) -> Option<usize> {
        self.vms.binary_search_by_key(&vm, |(v, _)| *v).ok()
    }

    /// The broker's answers to this period's requests, aligned with them.
    pub fn on_outcomes(&mut self, outcomes: &[Outcome]) {
        for (a, o) in self.asked.iter().zip(outcomes) {
            match (*a, o) {
                (WebAction::Grow(vm, u) | WebAction::Shrink(vm, u), Outcome::Done) => {
                    if let Some(slot) = self.slot(vm).map(|i| &mut self.vms[i]) {
                        if u < slot.1 {
                            self.capped.remove(&vm);
                        }
                        slot.1 = u;
                    }
                }
                (WebAction::Grow(vm, _), Outcome::Rejected) => {
                    self.capped.insert(vm);
                }
                (WebAction::Release(vm), Outcome::Done) => {
                    if let Some(i) = self.slot(vm) {
                        self.vms.remove(i);
                    }
                    self.capped.remove(&vm);
                }
                (WebAction::New(u), Outcome::Granted(ids)) => {
                    let sorted = self
                        .vms
                        .last()
                        .is_none_or(|(last, _)| ids.first().is_none_or(|f| last < f));
                    self.vms.extend(ids.iter().map(|&id| (id, u)));
                    // With several brokers, ids of one period need not
                    // follow the earlier ones (each broker has its own).
                    if !sorted {
                        self.vms.sort_unstable_by_key(|(v, _)| *v);
                    }
                }
                _ => {}
            }
        }
        debug_assert!(self.vms.windows(2).all(|w| w[0].0 < w[1].0), "VMs in id order");
        self.asked.clear();
    }
}

/// A batch job as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchJob {
    /// The job's id in its trace.
    pub id: u64,
    /// How long it runs once granted.
    pub run: SimTime,
    /// VMs it needs.
    pub vms: u32,
    /// Sliver units of each VM.
    pub vm_units: u32,
}

/// A granted batch lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseId(pub u64);

impl DenseId for LeaseId {
    fn number(self) -> u64 {
        self.0
    }
    fn from_number(n: u64) -> Self {
        LeaseId(n)
    }
}

/// How batch jobs checkpoint their work.
///
/// A job of `W` of work that checkpoints every `interval` of work, each
/// checkpoint taking `cost`, runs `W + n·cost` where `n` is the number of
/// checkpoints it takes before it ends (one after each full `interval`
/// of work that leaves work to do). When its lease loses a VM (a host
/// failure) `e` after it started, the job keeps the work of the
/// checkpoints it completed, `k·interval` with `k = ⌊e / (interval +
/// cost)⌋`, and goes back to the front of its guest's queue with the rest;
/// the work since its last checkpoint is lost. Without checkpoints
/// (`interval` = `None`) it restarts from the beginning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoints {
    /// Work between checkpoints; `None`: jobs do not checkpoint.
    pub interval: Option<SimTime>,
    /// What one checkpoint takes.
    pub cost: SimTime,
}

impl Checkpoints {
    /// How long a job of `work` runs, checkpoints included.
    pub fn wall(&self, work: SimTime) -> SimTime {
        match self.interval {
            Some(i) if i.0 > 0 && work.0 > 0 => SimTime(work.0 + (work.0 - 1) / i.0 * self.cost.0),
            _ => work,
        }
    }

    /// A job of `work` interrupted `elapsed` after it started: the work
    /// its checkpoints saved, and the time it ran since its last
    /// checkpoint (lost).
    pub fn interrupted(&self, work: SimTime, elapsed: SimTime) -> (SimTime, SimTime) {
        let ran = elapsed.0.min(self.wall(work).0);
        match self.interval {
            Some(i) if i.0 > 0 => {
                let k = ran / (i.0 + self.cost.0);
                let saved = (k * i.0).min(work.0);
                (SimTime(saved), SimTime(ran - k * (i.0 + self.cost.0)))
            }
            _ => (SimTime::ZERO, SimTime(ran)),
        }
    }
}

/// A batch lease that is running: its job, when it started, its VMs.
#[derive(Debug, Clone)]
struct RunningJob {
    job: BatchJob,
    start: SimTime,
    vms: Vec<VmId>,
}

/// The batch guest.
#[derive(Debug, Clone)]
pub struct BatchGuest {
    quantum: Quantum,
    checkpoints: Checkpoints,
    queue: VecDeque<BatchJob>,
    /// Each running lease (lease ids are dense).
    running: IdSlab<LeaseId, RunningJob>,
    next_lease: u64,
    asked: usize,
    /// Jobs granted so far (a job interrupted and granted again counts again).
    pub started: u64,
    /// Leases ended early because a host failure took one of their VMs.
    pub interrupted: u64,
    /// Work lost by interrupted jobs (run since their last checkpoint),
    /// VM-milliseconds.
    pub lost_work_vm_ms: u128,
}

impl BatchGuest {
    /// A guest with no jobs, whose jobs checkpoint as `checkpoints` says.
    pub fn new(quantum: Quantum, checkpoints: Checkpoints) -> Self {
        BatchGuest {
            quantum,
            checkpoints,
            queue: VecDeque::new(),
            running: IdSlab::new(),
            next_lease: 0,
            asked: 0,
            started: 0,
            interrupted: 0,
            lost_work_vm_ms: 0,
        }
    }

    /// A job arrives; it waits for the next period.
    pub fn arrive(&mut self, job: BatchJob) {
        self.queue.push_back(job);
    }

    /// Jobs waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// One lease request per queued job, in arrival order.
    pub fn requests(&mut self) -> Vec<Request> {
        self.asked = self.queue.len();
        self.queue
            .iter()
            .map(|j| Request::New {
                sizes: vec![self.quantum.size(j.vm_units); j.vms as usize],
            })
            .collect()
    }

    /// The broker's answers; returns each granted lease with its end time.
    pub fn on_outcomes(&mut self, now: SimTime, outcomes: Vec<Outcome>) -> Vec<(SimTime, LeaseId)> {
        let mut ends = Vec::new();
        let mut waiting = VecDeque::with_capacity(self.queue.len());
        let asked = std::mem::take(&mut self.asked);
        let mut outcomes = outcomes.into_iter().take(asked);
        for job in self.queue.drain(..) {
            match outcomes.next() {
                Some(Outcome::Granted(vms)) => {
                    let lease = LeaseId(self.next_lease);
                    self.next_lease += 1;
                    self.started += 1;
                    ends.push((now.plus(self.checkpoints.wall(job.run)), lease));
                    self.running.insert(lease, RunningJob { job, start: now, vms });
                }
                _ => waiting.push_back(job),
            }
        }
        self.queue = waiting;
        ends
    }

    /// A lease ends: its VMs, to release now (none if it is not running).
    pub fn on_lease_end(&mut self, lease: LeaseId) -> Vec<VmId> {
        self.running.remove(lease).map(|r| r.vms).unwrap_or_default()
    }

    /// `vm` was lost at `now` with its host: the lease holding it ends
    /// early and its job goes back to the front of the queue with the
    /// work its checkpoints did not save. Returns the lease's VMs, to
    /// release now (none if no running lease holds `vm`).
    pub fn interrupt(&mut self, now: SimTime, vm: VmId) -> Vec<VmId> {
        let Some(lease) = self
            .running
            .iter()
            .find(|(_, r)| r.vms.contains(&vm))
            .map(|(l, _)| l)
        else {
            return Vec::new();
        };
        let Some(r) = self.running.remove(lease) else {
            return Vec::new();
        };
        let elapsed = SimTime(now.0.saturating_sub(r.start.0));
        let (saved, lost) = self.checkpoints.interrupted(r.job.run, elapsed);
        self.interrupted += 1;
        self.lost_work_vm_ms += lost.0 as u128 * r.vms.len() as u128;
        self.queue.push_front(BatchJob {
            run: SimTime(r.job.run.0 - saved.0),
            ..r.job
        });
        r.vms
    }
}

/// Any guest.
#[derive(Debug, Clone)]
pub enum Guest {
    /// An e-commerce service.
    Web(WebGuest),
    /// A batch job cluster.
    Batch(BatchGuest),
}

/// A guest and its id.
pub type GuestSlot = (GuestId, Guest);

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quantum = Quantum {
        unit: Resources([1; 4]),
        max_units: 2,
    };
    const SIZING: WebSizing = WebSizing {
        requests_per_unit: 100.0,
        headroom: 0.0,
        hysteresis: 0.25,
        min_units: 1,
        max_units: 1000,
    };

    fn units(reqs: &[Request]) -> Vec<String> {
        reqs.iter()
            .map(|r| match r {
                Request::New { sizes } => format!("new{}", sizes[0].0[0]),
                Request::Resize { vm, size } => format!("{vm}->{}", size.0[0]),
                Request::Release { vm } => format!("rel {vm}"),
            })
            .collect()
    }

    #[test]
    fn web_grows_partial_vms_before_adding_and_shrinks_newest_first() {
        let mut w = WebGuest::new(Q, SIZING);
        w.observe(250.0); // 3 units: one full VM and one of 1 unit
        let r = w.requests();
        assert_eq!(units(&r), vec!["new2", "new1"]);
        w.on_outcomes(&[Outcome::Granted(vec![VmId(0)]), Outcome::Granted(vec![VmId(1)])]);
        assert_eq!(w.vms(), &[(VmId(0), 2), (VmId(1), 1)]);
        w.observe(480.0); // 5 units: grow vm1 to 2, add a 1-unit VM
        let r = w.requests();
        assert_eq!(units(&r), vec!["vm1->2", "new1"]);
        w.on_outcomes(&[Outcome::Done, Outcome::Granted(vec![VmId(2)])]);
        assert_eq!(w.held_units(), 5);
        w.observe(410.0); // 5 units still: nothing to ask
        assert!(w.requests().is_empty());
        w.observe(390.0); // 4 units: 4 > 5 * 0.75, hysteresis holds
        assert!(w.requests().is_empty());
        w.observe(150.0); // 2 units: keep two VMs at one unit each, release vm2
        let r = w.requests();
        assert_eq!(units(&r), vec!["rel vm2", "vm1->1", "vm0->1"]);
        w.on_outcomes(&[Outcome::Done, Outcome::Done, Outcome::Done]);
        assert_eq!(w.vms(), &[(VmId(0), 1), (VmId(1), 1)]);
        w.observe(400.0); // 4 units: grow both, oldest first
        assert_eq!(units(&w.requests()), vec!["vm0->2", "vm1->2"]);
        // The broker refuses vm0's grow: vm0 keeps its size and is capped, so
        // next period the guest scales out with a new VM instead.
        w.on_outcomes(&[Outcome::Rejected, Outcome::Done]);
        assert_eq!(w.vms(), &[(VmId(0), 1), (VmId(1), 2)]);
        assert_eq!(units(&w.requests()), vec!["new1"]);
        w.on_outcomes(&[Outcome::Granted(vec![VmId(3)])]);
        w.observe(0.0); // min_units 1: release the newest two, then shrink
        assert_eq!(units(&w.requests()), vec!["rel vm3", "rel vm1"]);
    }

    #[test]
    fn checkpoints_lengthen_a_job_and_keep_its_completed_work() {
        let h = SimTime::from_secs(3600);
        let m = SimTime::from_secs(60);
        let none = Checkpoints::default();
        assert_eq!(none.wall(SimTime(10 * h.0)), SimTime(10 * h.0));
        // Interrupted after 2.5 h without checkpoints: all lost.
        assert_eq!(
            none.interrupted(SimTime(10 * h.0), SimTime(5 * h.0 / 2)),
            (SimTime::ZERO, SimTime(5 * h.0 / 2))
        );
        let every_hour = Checkpoints {
            interval: Some(h),
            cost: m,
        };
        // 3 h of work: checkpoints after hours 1 and 2 (none at the end).
        assert_eq!(every_hour.wall(SimTime(3 * h.0)), SimTime(3 * h.0 + 2 * m.0));
        assert_eq!(
            every_hour.wall(SimTime(3 * h.0 + 1)),
            SimTime(3 * h.0 + 1 + 3 * m.0)
        );
        // Interrupted 2 h 30 min in: two cycles of 61 min done (2 h saved),
        // 28 min since the last checkpoint lost.
        let (saved, lost) = every_hour.interrupted(SimTime(3 * h.0), SimTime(150 * m.0));
        assert_eq!(saved, SimTime(2 * h.0));
        assert_eq!(lost, SimTime(28 * m.0));
        // Interrupted during the first checkpoint: nothing saved yet.
        assert_eq!(
            every_hour.interrupted(SimTime(3 * h.0), SimTime(h.0 + 30_000)),
            (SimTime::ZERO, SimTime(h.0 + 30_000))
        );
    }

    #[test]
    fn an_interrupted_lease_requeues_its_job_first_with_the_work_left() {
        let h = SimTime::from_secs(3600);
        let cp = Checkpoints {
            interval: Some(h),
            cost: SimTime::ZERO,
        };
        let mut b = BatchGuest::new(Q, cp);
        let job = |id, hours| BatchJob {
            id,
            run: SimTime(hours * h.0),
            vms: 2,
            vm_units: 1,
        };
        b.arrive(job(1, 5));
        b.requests();
        let ends = b.on_outcomes(SimTime::ZERO, vec![Outcome::Granted(vec![VmId(0), VmId(1)])]);
        assert_eq!(ends, vec![(SimTime(5 * h.0), LeaseId(0))]);
        b.arrive(job(2, 1));
        // VM 1 lost 3.5 h in: 3 h saved, 0.5 h of 2 VMs lost, the lease's VMs released.
        assert_eq!(b.interrupt(SimTime(7 * h.0 / 2), VmId(1)), vec![VmId(0), VmId(1)]);
        assert_eq!(b.interrupted, 1);
        assert_eq!(b.lost_work_vm_ms, 2 * h.0 as u128 / 2);
        assert!(b.on_lease_end(LeaseId(0)).is_empty(), "the lease ended early");
        assert_eq!(b.interrupt(SimTime(4 * h.0), VmId(1)), Vec::<VmId>::new());
        // The job is first again, with 2 h left.
        let reqs = b.requests();
        assert_eq!(reqs.len(), 2);
        let ends = b.on_outcomes(
            SimTime(4 * h.0),
            vec![Outcome::Granted(vec![VmId(2), VmId(3)]), Outcome::Rejected],
        );
        assert_eq!(ends, vec![(SimTime(6 * h.0), LeaseId(1))]);
    }

    #[test]
    fn batch_jobs_wait_and_retry_in_order() {
        let mut b = BatchGuest::new(Q, Checkpoints::default());
        b.arrive(BatchJob {
            id: 1,
            run: SimTime::from_secs(60),
            vms: 2,
            vm_units: 1,
        });
        b.arrive(BatchJob {
            id: 2,
            run: SimTime::from_secs(30),
            vms: 1,
            vm_units: 2,
        });
        let r = b.requests();
        assert_eq!(
            r[0],
            Request::New {
                sizes: vec![Q.size(1), Q.size(1)]
            }
        );
        assert_eq!(
            r[1],
            Request::New {
                sizes: vec![Q.size(2)]
            }
        );
        let ends = b.on_outcomes(
            SimTime::from_secs(100),
            vec![Outcome::Rejected, Outcome::Granted(vec![VmId(7)])],
        );
        assert_eq!(ends, vec![(SimTime::from_secs(130), LeaseId(0))]);
        assert_eq!(b.queued(), 1);
        assert_eq!(b.on_lease_end(LeaseId(0)), vec![VmId(7)]);
        assert!(b.on_lease_end(LeaseId(0)).is_empty());
        let r = b.requests();
        assert_eq!(r.len(), 1);
        let ends = b.on_outcomes(
            SimTime::from_secs(200),
            vec![Outcome::Granted(vec![VmId(8), VmId(9)])],
        );
        assert_eq!(ends, vec![(SimTime::from_secs(260), LeaseId(1))]);
        assert_eq!(b.queued(), 0);
    }
}
