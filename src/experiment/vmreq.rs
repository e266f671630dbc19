//! VM-request runs: place every VM of a trace on a fixed cluster with one
//! bin-packing policy, event by event.
//!
//! * **Events**: a VM's arrival and its departure, nothing else. Arrivals
//!   are read from the trace (already in time order) through a cursor that
//!   is merged with the [`EventQueue`] of departures, so the queue holds one
//!   entry per running VM, not one per VM of the trace. At one instant
//!   departures go first (they free room), then arrivals in trace order.
//! * **Placement**: [`HostIndex`] chooses the host (first, best or worst fit,
//!   the same answers as the linear scans of `slivers_policy::fit`) in about
//!   O(log hosts).
//! * **Full cluster**: `reject` refuses the VM; `queue` keeps it until a
//!   departure makes room. No polling: only a departure can make room, and
//!   only on its own host, so a departure retries the waiting VMs against
//!   that host, earliest arrival first. Waiting VMs are kept in one FIFO per
//!   distinct size, so a retry costs O(distinct sizes) and never scans the
//!   whole queue: a later VM of a size can never fit where an earlier one of
//!   the same size did not. A queued VM runs its full lifetime from the
//!   moment it is placed. After every event no waiting VM fits any host (the
//!   checker verifies this).
//! * **Outputs**: counts, time-weighted means of active hosts (holding any
//!   VM) and of cpu and memory utilization over `[0, duration)`, kept as
//!   running integrals updated at each event in O(1); `utilization.csv`
//!   samples the state every `period` (the state after every event strictly
//!   before the sample time), also in O(1) per sample and without events of
//!   its own.
//! * **Invariants** (after every event in debug builds and with `--check`):
//!   the touched host is within capacity and no waiting VM fits anywhere;
//!   every [`FULL_CHECK_EVERY`] events and at the end also: every host's
//!   committed resources equal the sum of its running VMs and are within
//!   capacity, every VM is pending, queued, running, rejected or finished and
//!   the counts add up, the index is consistent with a recomputation, and the
//!   index chooses what the linear scans choose for every VM size.

use std::collections::{BTreeSet, VecDeque};

use slivers_policy::{
    ClusterView, DIMS, HostId, HostIndex, HostTable, IndexError, PlaceRequest, Placement, PlacementKind,
    Resources, VmId,
};

use crate::engine::{EventQueue, ScheduleError, SimTime};
use crate::report::csv::{Table, fmt_f64};
use crate::scenario::vmreq::{OnFull, VmScenario};
use crate::trace::vmreq::{NEVER, VmRequestTrace};

/// Events between two full invariant checks (the cheap ones run after every event).
pub const FULL_CHECK_EVERY: u64 = 4096;

/// Why a VM-request run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VmRunError {
    /// The cluster cannot be indexed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// An invariant failed (a bug).
    #[error("at {at}: invariant violated: {message}")]
    Invariant {
        /// When.
        at: SimTime,
        /// What.
        message: String,
    },
    /// A departure in the past (a bug).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// The cluster and the rules of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmRunConfig {
    /// Number of hosts.
    pub hosts: u32,
    /// Capacity of each.
    pub capacity: Resources,
    /// Host choice (a placement policy that needs no broker).
    pub policy: PlacementKind,
    /// Reject or queue.
    pub on_full: OnFull,
    /// Nothing at or after this time is handled.
    pub duration: SimTime,
    /// Sampling interval of the utilization series.
    pub sample_every: SimTime,
    /// Check invariants (always on in debug builds).
    pub check: bool,
}

impl VmRunConfig {
    /// The configuration of `scenario`.
    pub fn of(scenario: &VmScenario, check: bool) -> VmRunConfig {
        VmRunConfig {
            hosts: scenario.hosts,
            capacity: scenario.capacity,
            policy: scenario.policy,
            on_full: scenario.on_full,
            duration: scenario.duration,
            sample_every: scenario.period,
            check,
        }
    }
}

/// The state at one sample time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The sample time.
    pub time: SimTime,
    /// Hosts holding at least one VM.
    pub active_hosts: u64,
    /// VMs running.
    pub running: u64,
    /// VMs waiting.
    pub queued: u64,
    /// Committed cpu / cluster cpu.
    pub cpu_util: f64,
    /// Committed memory / cluster memory.
    pub memory_util: f64,
}

/// What a VM-request run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct VmRunResult {
    /// VMs of the trace created before the end of the run.
    pub arrived: u64,
    /// VMs that started on a host (at arrival or from the queue).
    pub placed: u64,
    /// VMs placed from the queue (included in `placed`).
    pub placed_from_queue: u64,
    /// VMs refused (`reject`), and VMs larger than a host (either rule).
    pub rejected: u64,
    /// VMs that ever waited (`queue`).
    pub queued: u64,
    /// VMs still waiting at the end.
    pub queued_at_end: u64,
    /// The longest the queue was.
    pub max_queued: u64,
    /// VMs that left.
    pub finished: u64,
    /// VMs running at the end.
    pub running_at_end: u64,
    /// The most hosts active at once.
    pub peak_active_hosts: u64,
    /// Active hosts, time-weighted over `[0, duration)`.
    pub mean_active_hosts: f64,
    /// Cpu committed over cluster cpu, time-weighted.
    pub mean_cpu_util: f64,
    /// Memory committed over cluster memory, time-weighted.
    pub mean_memory_util: f64,
    /// Arrivals and departures handled.
    pub events: u64,
    /// The utilization series.
    pub samples: Vec<Sample>,
}

const PENDING: u32 = u32::MAX;
const QUEUED: u32 = u32::MAX - 1;
const REJECTED: u32 = u32::MAX - 2;
const FINISHED: u32 = u32::MAX - 3;

struct Sim<'a> {
    trace: &'a VmRequestTrace,
    cfg: VmRunConfig,
    /// The hosts and their index (with a first-fit tree).
    table: HostTable,
    policy: Box<dyn Placement>,
    /// Per VM: a host id, or one of the state codes above.
    state: Vec<u32>,
    departures: EventQueue<u32>,
    /// Waiting VMs per shape, in arrival order.
    waiting: Vec<VecDeque<u32>>,
    /// `(first waiting VM, shape)` of every non-empty FIFO.
    heads: BTreeSet<(u32, u32)>,
    r: VmRunResult,
    queue_len: u64,
    running: u64,
    last: SimTime,
    next_sample: SimTime,
    active_ms: u128,
    cpu_ms: u128,
    mem_ms: u128,
}

impl Sim<'_> {
    fn size(&self, vm: u32) -> Resources {
        self.trace.shapes[self.trace.vms[vm as usize].shape as usize]
    }

    /// The index, brought up to date (the table always has one).
    fn index(&mut self) -> Option<&HostIndex> {
        self.table.view().index()
    }

    /// Hosts holding something.
    fn active_hosts(&mut self) -> u64 {
        self.index().map_or(0, |ix| ix.active_hosts() as u64)
    }

    /// The host the policy chooses for a new VM of `size`.
    fn choose(&mut self, vm: u32, size: Resources) -> Option<HostId> {
        let req = PlaceRequest {
            vm: VmId(vm as u64),
            size,
            current: None,
            home: None,
        };
        self.policy.place(&self.table.view(), &req)
    }

    /// Advances the clock to `t`: integrals and samples.
    fn advance(&mut self, t: SimTime) {
        let cap = self.cfg.capacity;
        let total = self.index().map_or([0; DIMS], |ix| ix.total_used());
        let active = self.active_hosts();
        while self.next_sample <= t && self.next_sample < self.cfg.duration {
            let n = self.cfg.hosts as f64;
            self.r.samples.push(Sample {
                time: self.next_sample,
                active_hosts: active,
                running: self.running,
                queued: self.queue_len,
                cpu_util: total[0] as f64 / (cap.0[0] as f64 * n),
                memory_util: total[1] as f64 / (cap.0[1] as f64 * n),
            });
            self.next_sample = self.next_sample.plus(self.cfg.sample_every);
        }
        let dt = (t.0 - self.last.0) as u128;
        self.active_ms += dt * active as u128;
        self.cpu_ms += dt * total[0];
        self.mem_ms += dt * total[1];
        self.last = t;
    }

    fn place(&mut self, vm: u32, host: HostId, now: SimTime) -> Result<(), VmRunError> {
        let size = self.size(vm);
        self.table.add(host, &size);
        self.state[vm as usize] = host.0;
        self.running += 1;
        self.r.placed += 1;
        let active = self.active_hosts();
        self.r.peak_active_hosts = self.r.peak_active_hosts.max(active);
        let v = &self.trace.vms[vm as usize];
        if v.end != NEVER {
            let at = now.plus(SimTime(v.end - v.start));
            if at < self.cfg.duration {
                self.departures.schedule(at, vm)?;
            }
        }
        Ok(())
    }

    fn arrive(&mut self, vm: u32, now: SimTime) -> Result<Option<HostId>, VmRunError> {
        self.r.arrived += 1;
        let size = self.size(vm);
        if !size.fits_in(&self.cfg.capacity) {
            self.state[vm as usize] = REJECTED;
            self.r.rejected += 1;
            return Ok(None);
        }
        match self.choose(vm, size) {
            Some(h) => {
                self.place(vm, h, now)?;
                return Ok(Some(h));
            }
            None if self.cfg.on_full == OnFull::Reject => {
                self.state[vm as usize] = REJECTED;
                self.r.rejected += 1;
            }
            None => {
                let shape = self.trace.vms[vm as usize].shape;
                let q = &mut self.waiting[shape as usize];
                if q.is_empty() {
                    self.heads.insert((vm, shape));
                }
                q.push_back(vm);
                self.state[vm as usize] = QUEUED;
                self.r.queued += 1;
                self.queue_len += 1;
                self.r.max_queued = self.r.max_queued.max(self.queue_len);
            }
        }
        Ok(None)
    }

    fn depart(&mut self, vm: u32, now: SimTime) -> Result<HostId, VmRunError> {
        let host = HostId(self.state[vm as usize]);
        let size = self.size(vm);
        self.table.remove(host, &size);
        self.state[vm as usize] = FINISHED;
        self.running -= 1;
        self.r.finished += 1;
        // Only `host` gained room: retry the waiting VMs, earliest first.
        while !self.heads.is_empty() {
            let free = self.table.host(host).free();
            let Some(&(first, shape)) = self
                .heads
                .iter()
                .find(|&&(_, s)| self.trace.shapes[s as usize].fits_in(&free))
            else {
                break;
            };
            let to = self
                .choose(first, self.trace.shapes[shape as usize])
                .unwrap_or(host);
            self.heads.remove(&(first, shape));
            let q = &mut self.waiting[shape as usize];
            q.pop_front();
            if let Some(&next) = q.front() {
                self.heads.insert((next, shape));
            }
            self.queue_len -= 1;
            self.r.placed_from_queue += 1;
            self.place(first, to, now)?;
        }
        Ok(host)
    }

    fn invariant(&self, at: SimTime, message: String) -> VmRunError {
        VmRunError::Invariant { at, message }
    }

    /// After every event: `host` within capacity, no waiting VM fits anywhere.
    fn check_event(&mut self, at: SimTime, host: Option<HostId>) -> Result<(), VmRunError> {
        if let Some(h) = host {
            let used = self.table.host(h).used;
            if !used.fits_in(&self.cfg.capacity) {
                return Err(self.invariant(
                    at,
                    format!("{h} holds {used}, over its capacity {}", self.cfg.capacity),
                ));
            }
        }
        let view = self.table.view();
        for &(vm, shape) in &self.heads {
            if let Some(h) = slivers_policy::fit::first_fit(&view, &self.trace.shapes[shape as usize], None) {
                return Err(VmRunError::Invariant {
                    at,
                    message: format!("waiting vm{vm} fits on {h}"),
                });
            }
        }
        Ok(())
    }

    /// The whole state, recomputed: O(VMs + hosts × sizes).
    fn check_full(&mut self, at: SimTime, next_arrival: usize) -> Result<(), VmRunError> {
        let n = self.cfg.hosts as usize;
        let mut used = vec![Resources::ZERO; n];
        let (mut pending, mut queued, mut running, mut rejected, mut finished) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        for (i, &s) in self.state.iter().enumerate() {
            match s {
                PENDING => pending += 1,
                QUEUED => queued += 1,
                REJECTED => rejected += 1,
                FINISHED => finished += 1,
                h if (h as usize) < n => {
                    running += 1;
                    used[h as usize] = used[h as usize].plus(&self.size(i as u32));
                }
                h => return Err(self.invariant(at, format!("vm{i} is on host{h}, which does not exist"))),
            }
        }
        let expect_pending = (self.trace.vms.len() - next_arrival) as u64;
        let waiting: u64 = self.waiting.iter().map(|q| q.len() as u64).sum();
        for (what, got, want) in [
            ("pending", pending, expect_pending),
            ("queued", queued, self.queue_len),
            ("queued (FIFOs)", waiting, self.queue_len),
            ("running", running, self.running),
            ("rejected", rejected, self.r.rejected),
            ("finished", finished, self.r.finished),
        ] {
            if got != want {
                return Err(self.invariant(at, format!("{got} VMs are {what}, the counters say {want}")));
            }
        }
        if pending + queued + running + rejected + finished != self.trace.vms.len() as u64 {
            return Err(self.invariant(at, "VM states do not add up to the trace".into()));
        }
        for (i, u) in used.iter().enumerate() {
            let h = HostId(i as u32);
            let held = self.table.host(h).used;
            if *u != held {
                return Err(self.invariant(at, format!("{h}: its VMs hold {u}, the host table says {held}")));
            }
            if !u.fits_in(&self.cfg.capacity) {
                return Err(self.invariant(
                    at,
                    format!("{h} holds {u}, over its capacity {}", self.cfg.capacity),
                ));
            }
        }
        if let Some(ix) = self.index() {
            ix.check()
                .map_err(|message| VmRunError::Invariant { at, message })?;
        }
        // The policy over the index chooses what it chooses over a linear scan.
        let view = self.table.view();
        let scan = ClusterView::new(view.hosts);
        for size in &self.trace.shapes {
            let req = PlaceRequest {
                vm: VmId(0),
                size: *size,
                current: None,
                home: None,
            };
            let (a, b) = (self.policy.place(&view, &req), self.policy.place(&scan, &req));
            if a != b {
                return Err(VmRunError::Invariant {
                    at,
                    message: format!("{} of {size}: index {a:?}, linear scan {b:?}", self.cfg.policy),
                });
            }
        }
        self.check_event(at, None)
    }
}

/// Runs `trace` (VMs sorted by creation time) on the cluster of `cfg`.
pub fn run_vm_requests(trace: &VmRequestTrace, cfg: &VmRunConfig) -> Result<VmRunResult, VmRunError> {
    run_vm_requests_observed(trace, cfg, &|_, _| {})
}

/// [`run_vm_requests`], telling `progress` the simulated time reached and
/// the events handled every [`PROGRESS_EVERY`](super::PROGRESS_EVERY) events.
pub fn run_vm_requests_observed(
    trace: &VmRequestTrace,
    cfg: &VmRunConfig,
    progress: &dyn Fn(SimTime, u64),
) -> Result<VmRunResult, VmRunError> {
    let check = cfg.check || cfg!(debug_assertions);
    let mut sim = Sim {
        trace,
        cfg: *cfg,
        table: HostTable::with_tree(cfg.hosts, cfg.capacity)?,
        policy: cfg.policy.build(),
        state: vec![PENDING; trace.vms.len()],
        departures: EventQueue::new(),
        waiting: vec![VecDeque::new(); trace.shapes.len()],
        heads: BTreeSet::new(),
        r: VmRunResult {
            arrived: 0,
            placed: 0,
            placed_from_queue: 0,
            rejected: 0,
            queued: 0,
            queued_at_end: 0,
            max_queued: 0,
            finished: 0,
            running_at_end: 0,
            peak_active_hosts: 0,
            mean_active_hosts: 0.0,
            mean_cpu_util: 0.0,
            mean_memory_util: 0.0,
            events: 0,
            samples: Vec::with_capacity((cfg.duration.0 / cfg.sample_every.0.max(1)) as usize + 1),
        },
        queue_len: 0,
        running: 0,
        last: SimTime::ZERO,
        next_sample: SimTime::ZERO,
        active_ms: 0,
        cpu_ms: 0,
        mem_ms: 0,
    };
    let mut next = 0usize;
    loop {
        let arrival = trace.vms.get(next).map(|v| SimTime(v.start));
        let departure = sim.departures.peek_time();
        let (t, is_departure) = match (departure, arrival) {
            (Some(d), Some(a)) if d <= a => (d, true),
            (_, Some(a)) => (a, false),
            (Some(d), None) => (d, true),
            (None, None) => break,
        };
        if t >= cfg.duration {
            break;
        }
        sim.advance(t);
        let touched = if is_departure {
            let (_, vm) = sim.departures.pop().expect("peeked");
            Some(sim.depart(vm, t)?)
        } else {
            next += 1;
            sim.arrive((next - 1) as u32, t)?
        };
        sim.r.events += 1;
        if sim.r.events.is_multiple_of(super::PROGRESS_EVERY) {
            progress(t, sim.r.events);
        }
        if check {
            sim.check_event(t, touched)?;
            if sim.r.events.is_multiple_of(FULL_CHECK_EVERY) {
                sim.check_full(t, next)?;
            }
        }
    }
    sim.advance(cfg.duration);
    if check {
        sim.check_full(cfg.duration, next)?;
    }
    let span = cfg.duration.0.max(1) as f64;
    let n = cfg.hosts as f64;
    let mut r = sim.r;
    r.queued_at_end = sim.queue_len;
    r.running_at_end = sim.running;
    r.mean_active_hosts = sim.active_ms as f64 / span;
    r.mean_cpu_util = sim.cpu_ms as f64 / (span * n * cfg.capacity.0[0] as f64);
    r.mean_memory_util = sim.mem_ms as f64 / (span * n * cfg.capacity.0[1] as f64);
    Ok(r)
}

/// Runs a VM-request scenario with `seed` (the generator's; a file trace
/// does not depend on it).
pub fn run_vm_scenario(scenario: &VmScenario, seed: u64, check: bool) -> Result<VmRunResult, VmRunError> {
    let trace = scenario.trace(seed);
    run_vm_requests(&trace, &VmRunConfig::of(scenario, check))
}

/// `summary.csv`: one row, every count and mean of the run.
pub fn summary_table(scenario: &VmScenario, r: &VmRunResult) -> Table {
    let mut t = Table::new(&[
        "policy",
        "on_full",
        "hosts",
        "arrived",
        "placed",
        "placed_from_queue",
        "rejected",
        "queued",
        "queued_at_end",
        "max_queued",
        "finished",
        "running_at_end",
        "peak_active_hosts",
        "mean_active_hosts",
        "mean_cpu_util",
        "mean_memory_util",
        "events",
    ]);
    let row = vec![
        scenario.policy.name().to_string(),
        scenario.on_full.name().to_string(),
        scenario.hosts.to_string(),
        r.arrived.to_string(),
        r.placed.to_string(),
        r.placed_from_queue.to_string(),
        r.rejected.to_string(),
        r.queued.to_string(),
        r.queued_at_end.to_string(),
        r.max_queued.to_string(),
        r.finished.to_string(),
        r.running_at_end.to_string(),
        r.peak_active_hosts.to_string(),
        fmt_f64(r.mean_active_hosts),
        fmt_f64(r.mean_cpu_util),
        fmt_f64(r.mean_memory_util),
        r.events.to_string(),
    ];
    t.push(row).expect("row matches header");
    t
}

/// `utilization.csv`: one row per sample.
pub fn utilization_table(r: &VmRunResult) -> Table {
    let mut t = Table::new(&[
        "time_s",
        "active_hosts",
        "running_vms",
        "queued_vms",
        "cpu_util",
        "memory_util",
    ]);
    for s in &r.samples {
        t.push(vec![
            fmt_f64(s.time.as_secs_f64()),
            s.active_hosts.to_string(),
            s.running.to_string(),
            s.queued.to_string(),
            fmt_f64(s.cpu_util),
            fmt_f64(s.memory_util),
        ])
        .expect("row matches header");
    }
    t
}

/// Writes `summary.csv`, `utilization.csv`, `manifest.toml` and the
/// utilisation figure (drawn from `utilization.csv`,
/// [`crate::report::vmrun`]) into `dir`, each atomically; returns the paths.
/// Wall time is not written, so outputs are deterministic.
pub fn write_outputs(
    scenario: &VmScenario,
    r: &VmRunResult,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, crate::report::ReportError> {
    let summary = dir.join("summary.csv");
    let util = dir.join("utilization.csv");
    summary_table(scenario, r).write(&summary)?;
    let table = utilization_table(r);
    table.write(&util)?;
    let mut files = vec![summary, util];
    files.extend(crate::report::vmrun::write_manifest_and_figure(
        scenario, table, dir,
    )?);
    Ok(files)
}

/// The run in a few lines for the terminal: the policy, what became of the
/// VMs, and the cluster's use.
pub fn summary_text(scenario: &VmScenario, r: &VmRunResult) -> String {
    format!(
        "{} on {} hosts, on_full = {}: {} VMs arrived, {} placed ({} from the queue), {} rejected, \
         {} queued ({} still waiting at the end, at most {}), {} finished, {} running at the end\n\
         active hosts: peak {}, mean {:.1}; mean utilization: cpu {:.1} %, memory {:.1} %\n",
        scenario.policy.name(),
        scenario.hosts,
        scenario.on_full.name(),
        r.arrived,
        r.placed,
        r.placed_from_queue,
        r.rejected,
        r.queued,
        r.queued_at_end,
        r.max_queued,
        r.finished,
        r.running_at_end,
        r.peak_active_hosts,
        r.mean_active_hosts,
        100.0 * r.mean_cpu_util,
        100.0 * r.mean_memory_util,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::vmreq::VmRequest;

    fn cfg(hosts: u32, on_full: OnFull, policy: PlacementKind) -> VmRunConfig {
        VmRunConfig {
            hosts,
            capacity: Resources::new(4000, 4096, 1, 1),
            policy,
            on_full,
            duration: SimTime::from_secs(100),
            sample_every: SimTime::from_secs(10),
            check: true,
        }
    }

    fn trace(rows: &[(u64, u64, u64)]) -> VmRequestTrace {
        // (start s, end s or 0 for never, cores): memory = cores GiB.
        let mut shapes: Vec<Resources> = Vec::new();
        let vms = rows
            .iter()
            .enumerate()
            .map(|(i, &(s, e, c))| {
                let r = Resources::new(c * 1000, c * 1024, 0, 0);
                let shape = shapes.iter().position(|x| *x == r).unwrap_or_else(|| {
                    shapes.push(r);
                    shapes.len() - 1
                }) as u32;
                VmRequest {
                    id: i as u64,
                    start: s * 1000,
                    end: if e == 0 { NEVER } else { e * 1000 },
                    shape,
                }
            })
            .collect();
        VmRequestTrace {
            shapes,
            vms,
            orphan_deletions: 0,
        }
    }

    #[test]
    fn queue_waits_for_a_departure_and_keeps_the_lifetime() {
        // One host of 4 cores: a 3-core VM 0..50, then a 2-core VM at 10 that
        // waits until 50 and runs 5 s; a 1-core VM at 20 fits beside the first.
        let t = trace(&[(0, 50, 3), (10, 15, 2), (20, 0, 1)]);
        let r = run_vm_requests(&t, &cfg(1, OnFull::Queue, PlacementKind::BestFit)).unwrap();
        assert_eq!(
            (r.placed, r.placed_from_queue, r.queued, r.rejected),
            (3, 1, 1, 0)
        );
        assert_eq!(
            (r.finished, r.running_at_end, r.queued_at_end, r.max_queued),
            (2, 1, 0, 1)
        );
        // Events: 3 arrivals, departures at 50 and 55.
        assert_eq!(r.events, 5);
        let r = run_vm_requests(&t, &cfg(1, OnFull::Reject, PlacementKind::BestFit)).unwrap();
        assert_eq!((r.placed, r.rejected, r.finished), (2, 1, 1));
        // Active host time: 0..100 with a VM on it = 1 host.
        assert!((r.mean_active_hosts - 1.0).abs() < 1e-12);
        // Cpu: 3 cores 0..50, 1 core 20..100 over 4 cores x 100 s.
        assert!((r.mean_cpu_util - (150.0 + 80.0) / 400.0).abs() < 1e-12);
        assert_eq!(r.samples.len(), 10);
        assert_eq!(r.samples[3].running, 2);
        assert_eq!(r.samples[6].running, 1);
    }

    #[test]
    fn too_large_vms_are_rejected_even_with_a_queue() {
        let t = trace(&[(0, 0, 5)]);
        let r = run_vm_requests(&t, &cfg(2, OnFull::Queue, PlacementKind::FirstFit)).unwrap();
        assert_eq!((r.rejected, r.queued), (1, 0));
    }
}
