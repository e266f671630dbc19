//! What each step costs: the `MigrationModel` seam and its phased processes.
//!
//! A step the site starts is carried out by a [`Process`]: a sequence of
//! [`Phase`]s, each either a fixed wait or a transfer of some MiB over the
//! migration network, and each with the VM's [`Availability`] while it
//! lasts. A process decides its next phase from how the previous one went,
//! so a pre-copy migration can size each round by the pages dirtied during
//! the last one. The same process runs against a constant bandwidth in
//! [`estimate`] (the `slivers migration estimate` command) and against the
//! shared, fair-share network in the simulator ([`super::execution`]).
//!
//! The model ([`MigrationParams`], documented in `docs/model.md`):
//! * **pre-copy** (Xen's live migration): round 0 sends all memory; each
//!   later round resends what was dirtied during the previous round at the
//!   VM's dirty rate. Rounds stop when the dirty set can be sent within
//!   `max_downtime` at the rate the last round achieved (converged), or when
//!   `max_rounds` rounds were sent or the total would exceed
//!   `max_sent_factor` × memory (not converged). A final stop-and-copy round
//!   then sends the rest with the VM paused, and `switchover` resumes it on
//!   the target. Downtime = final round + switchover.
//! * **post-copy**: the VM pauses while its CPU state and a minimal working
//!   set move, resumes on the target after `switchover`, and runs degraded
//!   by `postcopy_slowdown` while the rest of its memory is pulled.
//! * **stop-and-copy through storage** (the planner's `Suspend` and
//!   `Restore` steps): suspend, write the image, and later read it back and
//!   resume. The VM is down for the whole time.
//! * create, resize, destroy: a fixed `op_latency`.

use serde::Deserialize;
use slivers_policy::HostId;
use slivers_policy::plan::Step;

use crate::engine::SimTime;

/// MiB per second carried by one Mbit/s: 10^6 / (8 × 2^20).
pub const MIBPS_PER_MBPS: f64 = 1_000_000.0 / (8.0 * 1024.0 * 1024.0);

/// How the site moves a VM that it migrates live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveMode {
    /// Iterative pre-copy rounds, then a short stop (Xen's `xl migrate`).
    PreCopy,
    /// Stop briefly, resume on the target and pull the memory on demand.
    PostCopy,
}

/// What a pre-copy migration does when it cannot converge (the VM dirties
/// memory at least as fast as the link carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NonConvergence {
    /// Run the rounds to their limit, then stop and send the rest (what
    /// Xen does): a long downtime.
    Force,
    /// Switch to post-copy.
    PostCopy,
    /// Pause the VM and send its memory once (a direct stop-and-copy).
    StopCopy,
}

/// The modes `slivers migration estimate` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstimateMode {
    /// See [`LiveMode::PreCopy`].
    PreCopy,
    /// See [`LiveMode::PostCopy`].
    PostCopy,
    /// Suspend to storage, write, read and resume.
    StopCopy,
}

/// The parameters of the migration model. Bandwidths are per host and per
/// direction: every host can send and receive `bandwidth_mbps` at once, and
/// concurrent transfers share it fairly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MigrationParams {
    /// Migration network capacity of each host, per direction, Mbit/s (> 0).
    pub bandwidth_mbps: u64,
    /// How live moves are done.
    pub mode: LiveMode,
    /// Pre-copy stops iterating once the dirty set fits in this downtime.
    pub max_downtime: SimTime,
    /// Pre-copy sends at most this many rounds before the final one (Xen: 29).
    pub max_rounds: u32,
    /// Pre-copy stops once the total sent would exceed this multiple of the
    /// VM's memory (Xen: 3).
    pub max_sent_factor: f64,
    /// What pre-copy does when the dirty rate reaches the bandwidth.
    pub on_non_convergence: NonConvergence,
    /// Fixed time to resume a VM on the target after a live move.
    pub switchover: SimTime,
    /// Post-copy: MiB sent while the VM is paused (CPU state and working set).
    pub postcopy_working_set_mib: u64,
    /// Post-copy: fraction of its allotment a VM loses while it pulls pages.
    pub postcopy_slowdown: f64,
    /// Stop-and-copy: fixed time to suspend a VM (before writing its image).
    pub suspend: SimTime,
    /// Stop-and-copy: fixed time to resume a VM (after reading its image).
    pub resume: SimTime,
    /// Time to create, resize or destroy a VM.
    pub op_latency: SimTime,
}

impl Default for MigrationParams {
    fn default() -> Self {
        MigrationParams {
            bandwidth_mbps: 1000,
            mode: LiveMode::PreCopy,
            max_downtime: SimTime::from_millis(300),
            max_rounds: 29,
            max_sent_factor: 3.0,
            on_non_convergence: NonConvergence::Force,
            switchover: SimTime::from_millis(100),
            postcopy_working_set_mib: 64,
            postcopy_slowdown: 0.5,
            suspend: SimTime::from_secs(5),
            resume: SimTime::from_secs(5),
            op_latency: SimTime::from_secs(1),
        }
    }
}

impl MigrationParams {
    /// The link bandwidth in MiB/s.
    pub fn bandwidth_mibps(&self) -> f64 {
        self.bandwidth_mbps as f64 * MIBPS_PER_MBPS
    }

    fn post_copy(&self, memory: f64, path: Path, converged: bool) -> Process {
        let ws = (self.postcopy_working_set_mib as f64).min(memory);
        Process {
            converged,
            ..Process::fixed([
                Phase::transfer(ws, path, Availability::Down),
                Phase::wait(self.switchover, Availability::Down),
                Phase::transfer(memory - ws, path, Availability::Degraded(self.postcopy_slowdown)),
            ])
        }
    }
}

/// Produces the process that carries out each step.
pub trait MigrationModel: Send + Sync {
    /// The process for `step` of a VM that dirties `dirty_mibps` MiB/s.
    fn process(&self, step: &Step, dirty_mibps: f64) -> Process;
}

/// Each site's own migration model: a step runs by the model of the site
/// of the first host it names (a migration never leaves its site).
#[derive(Debug, Clone, PartialEq)]
pub struct PerSite {
    /// The first host of each site in the run's numbering.
    pub offsets: Vec<u32>,
    /// Each site's model.
    pub models: Vec<MigrationParams>,
}

impl PerSite {
    fn model(&self, step: &Step) -> Option<&MigrationParams> {
        let host = match *step {
            Step::Create { host, .. }
            | Step::Resize { host, .. }
            | Step::Suspend { host, .. }
            | Step::Restore { host, .. }
            | Step::Destroy { host, .. } => host,
            Step::Migrate { from, .. } => from,
        };
        let s = self.offsets.partition_point(|&o| o <= host.0).checked_sub(1)?;
        self.models.get(s)
    }

    /// Every host's migration bandwidth, MiB/s, in the run's numbering, for
    /// `hosts` hosts.
    pub fn host_bandwidths(&self, hosts: u32) -> Vec<f64> {
        (0..hosts)
            .map(|h| {
                let s = self.offsets.partition_point(|&o| o <= h).saturating_sub(1);
                self.models.get(s).map_or(0.0, |m| m.bandwidth_mibps())
            })
            .collect()
    }
}

impl MigrationModel for PerSite {
    fn process(&self, step: &Step, dirty_mibps: f64) -> Process {
        match self.model(step) {
            Some(m) => m.process(step, dirty_mibps),
            None => Process::fixed([]),
        }
    }
}

impl MigrationModel for MigrationParams {
    fn process(&self, step: &Step, dirty_mibps: f64) -> Process {
        match *step {
            Step::Create { .. } | Step::Resize { .. } | Step::Destroy { .. } => {
                Process::fixed([Phase::wait(self.op_latency, Availability::Up)])
            }
            Step::Suspend { host, size, .. } => Process::fixed([
                Phase::wait(self.suspend, Availability::Down),
                Phase::transfer(
                    size.memory_mib() as f64,
                    Path::ToStorage(host),
                    Availability::Down,
                ),
            ]),
            Step::Restore { host, size, .. } => Process::fixed([
                Phase::transfer(
                    size.memory_mib() as f64,
                    Path::FromStorage(host),
                    Availability::Down,
                ),
                Phase::wait(self.resume, Availability::Down),
            ]),
            Step::Migrate {
                from, to, size_from, ..
            } => {
                let memory = size_from.memory_mib() as f64;
                let path = Path::Hosts { from, to };
                let dirty = dirty_mibps.max(0.0);
                let converges = dirty < self.bandwidth_mibps();
                match (self.mode, converges, self.on_non_convergence) {
                    // Post-copy always completes; as a fallback it marks the
                    // pre-copy that could not converge.
                    (LiveMode::PostCopy, _, _) => self.post_copy(memory, path, true),
                    (LiveMode::PreCopy, false, NonConvergence::PostCopy) => {
                        self.post_copy(memory, path, false)
                    }
                    (LiveMode::PreCopy, false, NonConvergence::StopCopy) => Process {
                        converged: false,
                        ..Process::fixed([
                            Phase::transfer(memory, path, Availability::Down),
                            Phase::wait(self.switchover, Availability::Down),
                        ])
                    },
                    (LiveMode::PreCopy, ..) => Process {
                        kind: Kind::PreCopy(PreCopy {
                            memory,
                            dirty,
                            path,
                            max_downtime_s: self.max_downtime.as_secs_f64(),
                            max_rounds: self.max_rounds,
                            max_sent: self.max_sent_factor * memory,
                            switchover: self.switchover,
                            stage: Stage::Rounds,
                        }),
                        converged: converges,
                        rounds: 0,
                        sent: 0.0,
                    },
                }
            }
        }
    }
}

/// CloudSim's migration model, for comparisons with published CloudSim
/// results: a live migration takes the VM's memory over half the link
/// (`memory / (bandwidth / 2)`, memory in MiB taken as MB as CloudSim does,
/// bandwidth in Mbit/s), the VM loses 10 % of its CPU meanwhile, and
/// concurrent migrations do not slow each other (no network contention).
/// Other steps take no time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CloudSimMigration {
    /// Each host's link, Mbit/s.
    pub bandwidth_mbps: u64,
}

/// The share of its CPU a VM loses while CloudSim migrates it.
pub const CLOUDSIM_DEGRADATION: f64 = 0.1;

impl CloudSimMigration {
    /// How long CloudSim takes to migrate a VM of `memory_mib`.
    pub fn duration(&self, memory_mib: u64) -> SimTime {
        let mb_per_s = self.bandwidth_mbps as f64 / 8.0 / 2.0;
        SimTime((memory_mib as f64 / mb_per_s * 1000.0).round() as u64)
    }
}

impl MigrationModel for CloudSimMigration {
    fn process(&self, step: &Step, _dirty_mibps: f64) -> Process {
        match *step {
            Step::Migrate { size_from, .. } => Process::fixed([Phase::wait(
                self.duration(size_from.memory_mib()),
                Availability::Degraded(CLOUDSIM_DEGRADATION),
            )]),
            _ => Process::fixed([]),
        }
    }
}

/// How much of its sliver a VM gets while a phase lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Availability {
    /// Running normally.
    Up,
    /// Paused: it gets nothing.
    Down,
    /// Running, but losing this fraction of its allotment.
    Degraded(f64),
}

impl Availability {
    /// The fraction of its sliver the VM gets.
    pub fn fraction(self) -> f64 {
        match self {
            Availability::Up => 1.0,
            Availability::Down => 0.0,
            Availability::Degraded(s) => (1.0 - s).clamp(0.0, 1.0),
        }
    }
}

/// Where a transfer flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Path {
    /// From one host to another.
    Hosts {
        /// Sender.
        from: HostId,
        /// Receiver.
        to: HostId,
    },
    /// From a host to shared storage (storage itself is not a bottleneck).
    ToStorage(HostId),
    /// From shared storage to a host.
    FromStorage(HostId),
}

/// The work of a phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Work {
    /// A fixed time.
    Wait(SimTime),
    /// Send this many MiB along the path.
    Transfer {
        /// MiB to send.
        mib: f64,
        /// Where.
        path: Path,
    },
}

/// One phase of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// What it does.
    pub work: Work,
    /// The VM's availability meanwhile.
    pub vm: Availability,
}

impl Phase {
    fn wait(t: SimTime, vm: Availability) -> Phase {
        Phase {
            work: Work::Wait(t),
            vm,
        }
    }

    fn transfer(mib: f64, path: Path, vm: Availability) -> Phase {
        Phase {
            work: Work::Transfer { mib, path },
            vm,
        }
    }

    /// MiB this phase sends (0 for a wait).
    pub fn mib(&self) -> f64 {
        match self.work {
            Work::Wait(_) => 0.0,
            Work::Transfer { mib, .. } => mib,
        }
    }
}

/// A step in progress: yields its phases one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    kind: Kind,
    /// False if a pre-copy did not converge (it hit a limit, or fell back).
    pub converged: bool,
    /// Pre-copy rounds sent while the VM ran (the final stop-and-copy
    /// round is not counted).
    pub rounds: u32,
    sent: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Fixed(FixedPhases),
    PreCopy(PreCopy),
}

/// The most phases a fixed process has (post-copy's three).
const MAX_FIXED: usize = 3;

/// Fixed phases, inline: a process is built for every step, so this list
/// costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FixedPhases {
    phases: [Phase; MAX_FIXED],
    len: usize,
    next: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct PreCopy {
    memory: f64,
    dirty: f64,
    path: Path,
    max_downtime_s: f64,
    max_rounds: u32,
    max_sent: f64,
    switchover: SimTime,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// Sending rounds while the VM runs.
    Rounds,
    /// The final round is under way; the switchover comes next.
    Final,
    /// Everything was sent.
    Done,
}

impl Process {
    fn fixed<const N: usize>(list: [Phase; N]) -> Process {
        const { assert!(N <= MAX_FIXED) };
        let mut phases = [Phase::wait(SimTime::ZERO, Availability::Up); MAX_FIXED];
        phases[..N].copy_from_slice(&list);
        Process {
            kind: Kind::Fixed(FixedPhases {
                phases,
                len: N,
                next: 0,
            }),
            converged: true,
            rounds: 0,
            sent: 0.0,
        }
    }

    /// MiB sent so far.
    pub fn sent_mib(&self) -> f64 {
        self.sent
    }

    /// The next phase, given how the previous one went: `sent` MiB in
    /// `elapsed` (`None` before the first phase). `None` when done.
    pub fn next(&mut self, last: Option<(f64, SimTime)>) -> Option<Phase> {
        if let Some((mib, _)) = last {
            self.sent += mib;
        }
        match &mut self.kind {
            Kind::Fixed(f) => {
                let phase = f.phases[..f.len].get(f.next).copied();
                f.next += usize::from(phase.is_some());
                phase
            }
            Kind::PreCopy(p) => match (p.stage, last) {
                (Stage::Rounds, None) => {
                    self.rounds = 1;
                    Some(Phase::transfer(p.memory, p.path, Availability::Up))
                }
                (Stage::Rounds, Some((sent, elapsed))) => {
                    let secs = elapsed.as_secs_f64();
                    // The pages dirtied while the last round was sent.
                    let dirty_set = (p.dirty * secs).min(p.memory);
                    // The rate that round achieved (the link's, for a round of nothing).
                    let rate = if secs > 0.0 { sent / secs } else { f64::INFINITY };
                    let fits = dirty_set <= rate * p.max_downtime_s;
                    let limited = self.rounds >= p.max_rounds || self.sent + dirty_set > p.max_sent;
                    if fits || limited {
                        if !fits {
                            self.converged = false;
                        }
                        p.stage = Stage::Final;
                        Some(Phase::transfer(dirty_set, p.path, Availability::Down))
                    } else {
                        self.rounds += 1;
                        Some(Phase::transfer(dirty_set, p.path, Availability::Up))
                    }
                }
                (Stage::Final, _) => {
                    p.stage = Stage::Done;
                    Some(Phase::wait(p.switchover, Availability::Down))
                }
                (Stage::Done, _) => None,
            },
        }
    }
}

/// What one migration costs at a constant bandwidth: the figures of
/// `slivers migration estimate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// From start to completion.
    pub total: SimTime,
    /// Time the VM was paused.
    pub downtime: SimTime,
    /// Degraded time (post-copy pull).
    pub degraded: SimTime,
    /// Pre-copy rounds, the final one included (0 for other modes).
    pub rounds: u32,
    /// MiB sent over the network (twice the memory through storage).
    pub sent_mib: f64,
    /// False if pre-copy hit a limit or fell back.
    pub converged: bool,
}

/// Runs `mode` for a VM of `memory_mib` dirtying `dirty_mibps` at the full
/// link bandwidth of `params`, alone on the network.
pub fn estimate(params: &MigrationParams, mode: EstimateMode, memory_mib: u64, dirty_mibps: f64) -> Estimate {
    let size = slivers_policy::Resources::new(1, memory_mib, 1, 1);
    let (a, b) = (HostId(0), HostId(1));
    let steps: Vec<Step> = match mode {
        EstimateMode::StopCopy => vec![
            Step::Suspend {
                vm: slivers_policy::VmId(0),
                host: a,
                size,
            },
            Step::Restore {
                vm: slivers_policy::VmId(0),
                host: b,
                size,
            },
        ],
        EstimateMode::PreCopy | EstimateMode::PostCopy => vec![Step::Migrate {
            vm: slivers_policy::VmId(0),
            from: a,
            to: b,
            size_from: size,
            size_to: size,
        }],
    };
    let params = MigrationParams {
        mode: if mode == EstimateMode::PostCopy {
            LiveMode::PostCopy
        } else {
            LiveMode::PreCopy
        },
        ..*params
    };
    steps.iter().fold(Estimate::default(), |e, step| {
        e.then(&run_alone(&params, step, dirty_mibps))
    })
}

impl Default for Estimate {
    fn default() -> Self {
        Estimate {
            total: SimTime::ZERO,
            downtime: SimTime::ZERO,
            degraded: SimTime::ZERO,
            rounds: 0,
            sent_mib: 0.0,
            converged: true,
        }
    }
}

impl Estimate {
    /// This, then `next`, one after the other.
    fn then(&self, next: &Estimate) -> Estimate {
        Estimate {
            total: self.total.plus(next.total),
            downtime: self.downtime.plus(next.downtime),
            degraded: self.degraded.plus(next.degraded),
            rounds: self.rounds + next.rounds,
            sent_mib: self.sent_mib + next.sent_mib,
            converged: self.converged && next.converged,
        }
    }
}

/// Runs one step's process alone on the network, at the full link bandwidth.
pub fn run_alone(params: &MigrationParams, step: &Step, dirty_mibps: f64) -> Estimate {
    let bw = params.bandwidth_mibps();
    let mut e = Estimate::default();
    let mut p = params.process(step, dirty_mibps);
    let mut last = None;
    while let Some(phase) = p.next(last) {
        let elapsed = match phase.work {
            Work::Wait(t) => t,
            Work::Transfer { mib, .. } => transfer_time(mib, bw),
        };
        e.total = e.total.plus(elapsed);
        match phase.vm {
            Availability::Down => e.downtime = e.downtime.plus(elapsed),
            Availability::Degraded(_) => e.degraded = e.degraded.plus(elapsed),
            Availability::Up => {}
        }
        last = Some((phase.mib(), elapsed));
    }
    e.rounds = p.rounds;
    e.sent_mib = p.sent_mib();
    e.converged = p.converged;
    e
}

/// What a migration plan costs: its moves, the bytes they send and the
/// downtime they cause, each move estimated alone on the network. A
/// stop-and-copy (suspend, then restore) is one move, down from the start
/// of its suspend to the end of its restore, not counting any wait between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanCost {
    /// Live moves plus stop-and-copy moves.
    pub moves: usize,
    /// Bytes sent (an image through storage counts written and read).
    pub bytes: u64,
    /// Total downtime.
    pub downtime: SimTime,
}

/// The cost of `plan` for VMs dirtying `dirty_mibps`.
pub fn plan_cost(params: &MigrationParams, plan: &slivers_policy::plan::Plan, dirty_mibps: f64) -> PlanCost {
    let moving = plan.steps.iter().filter(|s| {
        matches!(
            s,
            Step::Migrate { .. } | Step::Suspend { .. } | Step::Restore { .. }
        )
    });
    let e = moving.fold(Estimate::default(), |e, s| {
        e.then(&run_alone(params, s, dirty_mibps))
    });
    PlanCost {
        moves: plan.live_migrations() + plan.stop_copy_migrations(),
        bytes: (e.sent_mib * 1024.0 * 1024.0).round() as u64,
        downtime: e.downtime,
    }
}

/// Time to send `mib` at `mibps`, rounded up to the millisecond.
pub fn transfer_time(mib: f64, mibps: f64) -> SimTime {
    if mib <= 0.0 {
        return SimTime::ZERO;
    }
    let ms = (mib / mibps * 1000.0).ceil();
    SimTime(if ms.is_finite() {
        ms.min(u64::MAX as f64) as u64
    } else {
        u64::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MigrationParams {
        MigrationParams {
            // 1000 Mbit/s = 119.209 MiB/s.
            bandwidth_mbps: 1000,
            max_downtime: SimTime::from_millis(30),
            switchover: SimTime::from_millis(20),
            ..MigrationParams::default()
        }
    }

    #[test]
    fn zero_dirty_rate_is_one_round_of_all_memory() {
        let e = estimate(&params(), EstimateMode::PreCopy, 1024, 0.0);
        // 1024 MiB at 119.2093 MiB/s = 8.589935 s -> 8590 ms; the final round
        // sends nothing, the switchover adds 20 ms.
        assert_eq!(e.total, SimTime(8590 + 20));
        assert_eq!(e.downtime, SimTime(20));
        assert_eq!(e.rounds, 1, "one round; the final one sends nothing");
        assert_eq!(e.sent_mib, 1024.0);
        assert!(e.converged);
    }

    /// With bandwidth B and dirty rate d, round k resends the pages dirtied
    /// during round k - 1: M (d/B)^k, a geometric series of ratio r = d/B.
    /// Each round's time is rounded up to the millisecond, so the sizes
    /// below (worked by hand from d × the rounded time of the round
    /// before) differ from M r^k in the second decimal. 1000 Mbit/s =
    /// 119.209 MiB/s; the final round is the first whose dirty set fits in
    /// 30 ms at the rate the round before it achieved (about 3.5 MiB).
    #[test]
    fn constant_dirty_rate_follows_the_geometric_series() {
        // (memory, dirty, live rounds, MiB sent, total ms, downtime ms):
        // 1024 @ 50: 1024, 429.5, 180.15, 75.6, 31.75, 13.35, 5.6 | 2.35
        // 8192 @ 10: 8192, 687.2, 57.65, 4.84 | 0.41
        // 4096 @ 60: 4096, 2061.6, 1037.64, ..., 8.52, 4.32 | 2.22
        let cases = [
            (1024, 50.0, 7, 1762.30, 14806, 40),
            (8192, 10.0, 4, 8942.10, 75034, 24),
            (4096, 60.0, 11, 8245.06, 69190, 39),
        ];
        for (m, d, rounds, sent, total, down) in cases {
            let e = estimate(&params(), EstimateMode::PreCopy, m, d);
            assert_eq!(e.rounds, rounds, "memory {m} dirty {d}");
            assert!((e.sent_mib - sent).abs() < 0.01, "{} vs {sent}", e.sent_mib);
            assert_eq!(e.total, SimTime(total));
            assert_eq!(e.downtime, SimTime(down));
            assert!(e.converged);
            // And the closed form of the series agrees within 0.1% (the
            // rounding of round times to the ms is all that differs).
            let r = d / params().bandwidth_mibps();
            let n = rounds as i32 + 1;
            let geometric = m as f64 * (1.0 - r.powi(n)) / (1.0 - r);
            assert!(
                (e.sent_mib - geometric).abs() / geometric < 1e-3,
                "{} vs {geometric}",
                e.sent_mib
            );
        }
    }

    #[test]
    fn non_convergence_is_detected() {
        let bw = params().bandwidth_mibps();
        // Dirtying faster than the link: every round resends all memory
        // until 3x memory is sent; the rest goes with the VM paused.
        let e = estimate(&params(), EstimateMode::PreCopy, 1024, bw * 1.5);
        assert!(!e.converged);
        assert_eq!(
            e.sent_mib,
            4.0 * 1024.0,
            "three rounds of everything, then the final one"
        );
        assert_eq!(e.rounds, 3);
        assert!(e.downtime > SimTime::from_secs(8));
        // Below the link rate but with a round limit of 2: not converged either.
        let p = MigrationParams {
            max_rounds: 2,
            ..params()
        };
        let e = estimate(&p, EstimateMode::PreCopy, 1024, 100.0);
        assert!(!e.converged);
        assert_eq!(e.rounds, 2);
        // The fallbacks.
        let p = MigrationParams {
            on_non_convergence: NonConvergence::StopCopy,
            ..params()
        };
        let e = estimate(&p, EstimateMode::PreCopy, 1024, bw * 1.5);
        assert!(!e.converged);
        assert_eq!(
            (e.total, e.downtime, e.sent_mib),
            (SimTime(8610), SimTime(8610), 1024.0)
        );
    }

    #[test]
    fn a_plans_cost_sums_its_moves() {
        use slivers_policy::plan::{Change, plan};
        use slivers_policy::{HostView, Resources, VmId};
        // Two full hosts swap their VMs: one live move is impossible, so the
        // plan suspends one VM, moves the other live, and restores the first.
        let size = Resources::new(1000, 1024, 100, 10);
        let hosts: Vec<HostView> = (0..2)
            .map(|i| HostView {
                id: HostId(i),
                capacity: size,
                used: size,
            })
            .collect();
        let changes = [
            Change {
                vm: VmId(0),
                from: Some((HostId(0), size)),
                to: Some((HostId(1), size)),
            },
            Change {
                vm: VmId(1),
                from: Some((HostId(1), size)),
                to: Some((HostId(0), size)),
            },
        ];
        let p = plan(&hosts, &changes).unwrap();
        let cost = plan_cost(&params(), &p, 0.0);
        assert_eq!(cost.moves, 2);
        // 1024 MiB live (one round, 20 ms switchover down) + 1024 written
        // and read back (5 + 8.59 + 8.59 + 5 s down).
        assert_eq!(cost.bytes, 3 * 1024 * 1024 * 1024);
        assert_eq!(cost.downtime, SimTime(20 + 5000 + 8590 + 8590 + 5000));
    }

    #[test]
    fn post_copy_and_stop_copy() {
        let e = estimate(&params(), EstimateMode::PostCopy, 1024, 500.0);
        // 64 MiB paused (537 ms) + 20 ms switchover, then 960 MiB degraded (8054 ms).
        assert_eq!(e.downtime, SimTime(537 + 20));
        assert_eq!(e.degraded, SimTime(8054));
        assert_eq!(e.total, SimTime(537 + 20 + 8054));
        assert_eq!(e.sent_mib, 1024.0);
        let e = estimate(&params(), EstimateMode::StopCopy, 1024, 500.0);
        // Suspend 5 s, write 8590 ms, read 8590 ms, resume 5 s; all down.
        assert_eq!(e.total, SimTime(5000 + 8590 + 8590 + 5000));
        assert_eq!(e.downtime, e.total);
        assert_eq!(e.sent_mib, 2048.0);
    }
}
