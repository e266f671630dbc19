//! Carrying out the site's steps in simulated time.
//!
//! [`Execution`] runs each started step's [`Process`] phase by phase: waits
//! end at a fixed time, transfers go through the shared [`Network`]. The
//! driver asks [`Execution::next_event`] when something will next happen,
//! and calls [`Execution::advance`] then, which returns the steps that
//! completed. It also knows each migrating VM's [`Availability`], which the
//! fidelity meter reads, and it totals what migrations cost.

use slivers_policy::VmId;
use slivers_policy::plan::Step;

use super::VmMap;
use super::migration::{Availability, MigrationModel, Phase, Process, Work};
use super::network::{FlowId, Network};
use super::site::OpId;
use crate::engine::{EventQueue, IdSlab, SimTime};

/// What the migrations of a run cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MigrationCost {
    /// Start to completion of every migration step (live moves, suspends
    /// and restores), summed, ms.
    pub migration_ms: u64,
    /// Time VMs were paused by migrations, summed, ms: the final rounds and
    /// switchovers of live moves, and for stop-and-copy everything from the
    /// suspend's start to the restore's end.
    pub downtime_ms: u64,
    /// Time VMs ran degraded (post-copy), summed, ms.
    pub degraded_ms: u64,
    /// MiB sent by migrations (an image through storage counts twice: written and read).
    pub mib_sent: f64,
    /// Live moves whose pre-copy did not converge.
    pub non_converged: u64,
    /// Pre-copy rounds sent while VMs ran.
    pub precopy_rounds: u64,
}

impl MigrationCost {
    /// Bytes migrated.
    pub fn bytes(&self) -> u64 {
        (self.mib_sent * 1024.0 * 1024.0).round() as u64
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Running {
    step: Step,
    process: Process,
    started: SimTime,
    phase: Phase,
    phase_start: SimTime,
    /// True while the step waits out a delay before its process's first
    /// phase ([`Execution::start_after`]).
    delayed: bool,
}

/// The steps in flight.
pub struct Execution {
    model: Box<dyn MigrationModel>,
    network: Network,
    ops: IdSlab<OpId, Running>,
    /// The fixed ends of the wait phases in flight, in time order: what
    /// [`Self::next_event`] and [`Self::advance`] look at instead of every op.
    /// The engine's radix-heap queue: ends are never before the last one
    /// taken out, and [`Self::advance`] sorts what is due by op, so its
    /// first-in, first-out ties do not matter.
    waits: EventQueue<OpId>,
    by_vm: VmMap<OpId>,
    /// Suspended VMs and when their suspend started (their downtime runs on).
    suspended_since: VmMap<SimTime>,
    cost: MigrationCost,
    /// [`Self::advance`]'s list of phases due, kept to reuse its buffer.
    due: Vec<OpId>,
}

impl Execution {
    /// Nothing in flight; transfers share `capacity_mibps` per host and direction.
    pub fn new(model: Box<dyn MigrationModel>, capacity_mibps: f64) -> Self {
        Execution {
            model,
            network: Network::new(capacity_mibps),
            ops: IdSlab::new(),
            waits: EventQueue::new(),
            by_vm: VmMap::new(),
            suspended_since: VmMap::new(),
            cost: MigrationCost::default(),
            due: Vec::new(),
        }
    }

    /// [`Self::new`] over a network whose host `i` has `per_host[i]` MiB/s
    /// (a federation's sites, each with its own migration bandwidth).
    pub fn with_hosts(model: Box<dyn MigrationModel>, capacity_mibps: f64, per_host: Vec<f64>) -> Self {
        Execution {
            network: Network::with_hosts(capacity_mibps, per_host),
            ..Self::new(model, capacity_mibps)
        }
    }

    /// What migrations cost so far.
    pub fn cost(&self) -> &MigrationCost {
        &self.cost
    }

    /// The availability of a VM whose step is in flight, if any.
    pub fn availability(&self, vm: VmId) -> Option<Availability> {
        self.by_vm
            .get(vm)
            .and_then(|op| self.ops.get(*op))
            .map(|r| r.phase.vm)
    }

    /// The CPU a VM gets now if a migration step of it is in flight: its
    /// source sliver while pre-copy runs it there, nothing while paused, its
    /// target sliver less the slowdown while it pulls pages after a
    /// post-copy switch. `None` if no migration step of it is in flight.
    pub fn allotted_cpu(&self, vm: VmId) -> Option<f64> {
        let r = self.ops.get(*self.by_vm.get(vm)?)?;
        match r.step {
            Step::Migrate {
                size_from, size_to, ..
            } => Some(match r.phase.vm {
                Availability::Up => size_from.cpu_millicores() as f64,
                a => a.fraction() * size_to.cpu_millicores() as f64,
            }),
            Step::Suspend { .. } | Step::Restore { .. } => Some(0.0),
            Step::Create { .. } | Step::Resize { .. } | Step::Destroy { .. } => None,
        }
    }

    /// Steps in flight.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Starts `step` as `op` at `now`, for a VM dirtying `dirty_mibps`.
    pub fn start(&mut self, now: SimTime, op: OpId, step: Step, dirty_mibps: f64) {
        self.start_after(now, SimTime::ZERO, op, step, dirty_mibps);
    }

    /// [`Self::start`], with the step's process beginning only `delay`
    /// after `now` (the VM is down meanwhile): a VM re-created after its
    /// host failed first waits out the restart delay.
    pub fn start_after(&mut self, now: SimTime, delay: SimTime, op: OpId, step: Step, dirty_mibps: f64) {
        let mut process = self.model.process(&step, dirty_mibps);
        let vm = step.vm();
        if matches!(step, Step::Suspend { .. }) {
            self.suspended_since.insert(vm, now);
        }
        self.by_vm.insert(vm, op);
        if delay > SimTime::ZERO {
            let r = Running {
                step,
                process,
                started: now,
                phase: Phase {
                    work: Work::Wait(delay),
                    vm: Availability::Down,
                },
                phase_start: now,
                delayed: true,
            };
            self.ops.insert(op, r);
            self.begin(now, op);
            return;
        }
        let first = process.next(None);
        match first {
            Some(phase) => {
                let r = Running {
                    step,
                    process,
                    started: now,
                    phase,
                    phase_start: now,
                    delayed: false,
                };
                self.ops.insert(op, r);
                self.begin(now, op);
            }
            None => {
                // A process with no phases completes at once.
                let r = Running {
                    step,
                    process,
                    started: now,
                    phase: Phase {
                        work: Work::Wait(SimTime::ZERO),
                        vm: Availability::Up,
                    },
                    phase_start: now,
                    delayed: false,
                };
                self.ops.insert(op, r);
                self.wait_until(now, op);
            }
        }
    }

    fn begin(&mut self, now: SimTime, op: OpId) {
        let r = self.ops.get_mut(op).expect("begin is called on a running op");
        r.phase_start = now;
        match r.phase.work {
            Work::Wait(t) => {
                self.wait_until(now.plus(t), op);
            }
            Work::Transfer { mib, path } => {
                self.network.add(now, FlowId(op.0), path, mib);
            }
        }
    }

    /// Files a wait of `op` ending at `at`, which is never before the last
    /// end taken out (every end is at or after the `now` it was filed at).
    fn wait_until(&mut self, at: SimTime, op: OpId) {
        self.waits
            .schedule_in(SimTime(at.0.saturating_sub(self.waits.now().0)), op);
    }

    /// Stops `op` at `now` without completing it (its host failed): its
    /// transfer, if any, stops and frees its share of the links; its wait,
    /// if any, is skipped when due. What it sent so far stays counted.
    /// Nothing if `op` is not in flight.
    pub fn cancel(&mut self, now: SimTime, op: OpId) {
        let Some(r) = self.ops.remove(op) else {
            return;
        };
        if let Work::Transfer { .. } = r.phase.work {
            self.network.cancel(now, FlowId(op.0));
        }
        let vm = r.step.vm();
        if self.by_vm.get(vm) == Some(&op) {
            self.by_vm.remove(vm);
        }
        if let Step::Suspend { .. } = r.step {
            self.suspended_since.remove(vm);
        }
    }

    /// When the next phase ends, if anything is in flight.
    pub fn next_event(&self) -> Option<SimTime> {
        let waits = self.waits.peek_time();
        match (waits, self.network.next_done()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ends every phase due by `now` (starting the next ones) and appends
    /// the steps that completed to `completed`, in op order.
    pub fn advance(&mut self, now: SimTime, completed: &mut Vec<(OpId, Step)>) {
        let first = completed.len();
        let mut due = std::mem::take(&mut self.due);
        loop {
            due.clear();
            while self.waits.peek_time().is_some_and(|t| t <= now) {
                due.extend(self.waits.pop().map(|(_, op)| op));
            }
            due.extend(self.network.take_done(now).into_iter().map(|f| OpId(f.0)));
            if due.is_empty() {
                break;
            }
            due.sort();
            for &op in &due {
                if let Some(step) = self.end_phase(now, op) {
                    completed.push((op, step));
                }
            }
        }
        self.due = due;
        completed[first..].sort_by_key(|(op, _)| *op);
    }

    /// Ends the current phase of `op` at `now`; returns its step if it was the last.
    fn end_phase(&mut self, now: SimTime, op: OpId) -> Option<Step> {
        let r = self.ops.get_mut(op)?;
        let elapsed = SimTime(now.0.saturating_sub(r.phase_start.0));
        let migrating = matches!(
            r.step,
            Step::Migrate { .. } | Step::Suspend { .. } | Step::Restore { .. }
        );
        if migrating {
            self.cost.mib_sent += r.phase.mib();
            match r.phase.vm {
                // A stop-and-copy's downtime is counted whole at its restore.
                Availability::Down if matches!(r.step, Step::Migrate { .. }) => {
                    self.cost.downtime_ms += elapsed.0;
                }
                Availability::Degraded(_) => self.cost.degraded_ms += elapsed.0,
                _ => {}
            }
        }
        let mib = r.phase.mib();
        let next = if std::mem::take(&mut r.delayed) {
            r.process.next(None)
        } else {
            r.process.next(Some((mib, elapsed)))
        };
        match next {
            Some(phase) => {
                r.phase = phase;
                self.begin(now, op);
                None
            }
            None => {
                let r = self.ops.remove(op)?;
                let vm = r.step.vm();
                self.by_vm.remove(vm);
                if migrating {
                    self.cost.migration_ms += now.0.saturating_sub(r.started.0);
                }
                if let Step::Migrate { .. } = r.step {
                    self.cost.precopy_rounds += r.process.rounds as u64;
                    if !r.process.converged {
                        self.cost.non_converged += 1;
                    }
                }
                if let Step::Restore { .. } = r.step
                    && let Some(since) = self.suspended_since.remove(vm)
                {
                    self.cost.downtime_ms += now.0.saturating_sub(since.0);
                }
                Some(r.step)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::migration::MigrationParams;
    use slivers_policy::{HostId, Resources};

    fn mv(vm: u64, from: u32, to: u32, mem: u64) -> Step {
        let size = Resources::new(1000, mem, 100, 10);
        Step::Migrate {
            vm: VmId(vm),
            from: HostId(from),
            to: HostId(to),
            size_from: size,
            size_to: size,
        }
    }

    fn exec() -> Execution {
        // 1000 Mbit/s, no switchover, so times are pure transfer times.
        let p = MigrationParams {
            switchover: SimTime::ZERO,
            ..MigrationParams::default()
        };
        Execution::new(Box::new(p), p.bandwidth_mibps())
    }

    fn finish(e: &mut Execution) -> Vec<(SimTime, OpId)> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        while let Some(t) = e.next_event() {
            done.clear();
            e.advance(t, &mut done);
            out.extend(done.iter().map(|&(op, _)| (t, op)));
        }
        out
    }

    #[test]
    fn two_moves_out_of_one_host_take_twice_as_long_as_one() {
        let mut one = exec();
        one.start(SimTime::ZERO, OpId(0), mv(0, 0, 1, 1024), 0.0);
        let alone = finish(&mut one)[0].0;
        // 1024 MiB at 119.209 MiB/s.
        assert_eq!(alone, SimTime(8590));
        let mut two = exec();
        two.start(SimTime::ZERO, OpId(0), mv(0, 0, 1, 1024), 0.0);
        two.start(SimTime::ZERO, OpId(1), mv(1, 0, 2, 1024), 0.0);
        let done = finish(&mut two);
        assert_eq!(done.len(), 2);
        for (t, _) in &done {
            assert!(t.0.abs_diff(2 * alone.0) <= 2, "{t} vs twice {alone}");
        }
        assert_eq!(two.cost().mib_sent, 2048.0);
    }

    #[test]
    fn a_move_speeds_up_when_the_other_ends() {
        let mut e = exec();
        e.start(SimTime::ZERO, OpId(0), mv(0, 0, 1, 1024), 0.0);
        e.start(SimTime(1000), OpId(1), mv(1, 0, 2, 4096), 0.0);
        let done = finish(&mut e);
        // Op 0: 119.2 MiB alone in 1 s, the other 904.8 MiB at half rate
        // (15.18 s): done at about 16.18 s. Op 1 sent 904.8 meanwhile and
        // sends its other 3191.2 MiB alone (26.77 s): done at about 42.95 s,
        // against 69.7 s had it kept half the link.
        assert_eq!(done[0].1, OpId(0));
        assert!(done[0].0.0.abs_diff(16_180) <= 2, "{:?}", done);
        assert!(done[1].0.0.abs_diff(42_950) <= 2, "{:?}", done);
        let fixed_half = 1000 + (4096.0 / (119.209 / 2.0) * 1000.0) as u64;
        assert!(done[1].0.0 < fixed_half - 20_000);
    }

    #[test]
    fn stop_and_copy_downtime_runs_from_suspend_to_restore() {
        let mut e = exec();
        let size = Resources::new(1000, 1024, 100, 10);
        e.start(
            SimTime::ZERO,
            OpId(0),
            Step::Suspend {
                vm: VmId(0),
                host: HostId(0),
                size,
            },
            0.0,
        );
        assert_eq!(e.availability(VmId(0)), Some(Availability::Down));
        let done = finish(&mut e);
        // 5 s suspend + 8.59 s write.
        assert_eq!(done, vec![(SimTime(13_590), OpId(0))]);
        assert_eq!(e.availability(VmId(0)), None);
        e.start(
            SimTime(20_000),
            OpId(1),
            Step::Restore {
                vm: VmId(0),
                host: HostId(1),
                size,
            },
            0.0,
        );
        let done = finish(&mut e);
        assert_eq!(done, vec![(SimTime(20_000 + 8590 + 5000), OpId(1))]);
        assert_eq!(e.cost().downtime_ms, 33_590);
        assert_eq!(e.cost().migration_ms, 13_590 + 13_590);
        assert_eq!(e.cost().mib_sent, 2048.0);
    }
}
