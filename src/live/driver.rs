//! The live driver: the same [`Hosting`] the simulator drives, fed from a
//! clock, with its steps carried out by an [`Executor`].
//!
//! Inputs are the simulator's (from [`prepare`]): demand updates, job
//! arrivals and ticks at their scheduled times, lease ends when the model
//! asks, and a completion for every operation when the executor finishes
//! it. The decisions are the model's; this module only paces inputs, maps
//! steps to executor calls, keeps one operation per host at a time, and
//! journals everything (see [`super::journal`]).
//!
//! Two paces:
//! * [`Pace::Virtual`]: no wall clock. Each operation runs at once and
//!   completes after its modelled duration in simulated time; the run is
//!   as deterministic as a simulation (the dry-run executor uses it).
//! * [`Pace::Wall`]: simulated time is wall time × `scale`. Operations run
//!   on worker threads and complete when the executor returns.
//!
//! Host outages are the model's (`Input::HostDown`, `HostUp`, `Drain`):
//! those the scenario schedules (`[failures]`, `[[maintenance]]`) come in
//! at their times like any input, and the executor is told (emulated hosts
//! fail and come back, [`Executor::power`]; on real hosts the driver
//! destroys the VMs of a host that goes down). A host an operation finds
//! unreachable (after its retries) stops the run, or, with
//! [`HostLoss::Recover`], is a host failure at that instant: journaled,
//! given to the model, which stops the steps on it and re-creates its VMs
//! elsewhere, through the executor as any create, after the scenario's
//! restart delay. Steps the model stops are dropped and never reported
//! done; where one had already acted on a host that is still up, the VM
//! there is made what the model says it is (created or destroyed).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slivers_policy::plan::Step;
use slivers_policy::{HostId, Resources, VmId};

use super::executor::{ExecError, Executor, VmSpec, validate_name};
use super::journal::{JInput, Journal, JournalError, Record, RunHeader};
use super::setup::host_capacity;
use crate::engine::{EventQueue, ScheduleError, SimTime};
use crate::experiment::{Measured, Prepared, RunResult, prepare};
use crate::model::migration::run_alone;
use crate::model::{DownCause, Hosting, Input, MigrationCost, ModelError, OpId, OutageStats};
use crate::scenario::{Pair, Scenario};

/// How inputs are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Simulated time only; operations take their modelled durations.
    Virtual,
    /// Simulated time runs `scale` times faster than the wall clock.
    Wall {
        /// Simulated seconds per wall second (> 0).
        scale: f64,
    },
}

/// What a live run does when an operation finds its host unreachable
/// (after its retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostLoss {
    /// Stop the run ([`LiveError::Unreachable`]): the host's VMs are
    /// unknown, not gone; fix the host and resume.
    Stop,
    /// The host failed: journal it, give the model its failure at that
    /// instant, and go on (the model re-creates its VMs elsewhere).
    Recover,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The policy pair.
    pub pair: Pair,
    /// The run's seed.
    pub seed: u64,
    /// How inputs are paced.
    pub pace: Pace,
    /// The journal file.
    pub journal: PathBuf,
    /// Continue the run the journal records (else the journal must be empty).
    pub resume: bool,
    /// The executor's name of each host, indexed by `HostId`.
    pub hosts: Vec<String>,
    /// Where stop-and-copy images go (storage every host sees).
    pub image_dir: String,
    /// VM names are this prefix and the VM id.
    pub vm_prefix: String,
    /// Attempts after the first for an operation that fails.
    pub retries: u32,
    /// What a host found unreachable means.
    pub on_host_loss: HostLoss,
}

/// Why a live run stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The scenario has another number of hosts.
    #[error("the scenario has {expected} hosts but {found} host names were given")]
    Hosts {
        /// Hosts in the scenario.
        expected: usize,
        /// Names given.
        found: usize,
    },
    /// Two scenario hosts were given the same name.
    #[error("host name `{0}` is given twice (--hosts): each scenario host needs a host of its own")]
    DuplicateHost(String),
    /// A journal exists and `--resume` was not given.
    #[error("journal {0} already records a run: pass --resume to continue it, or remove it")]
    JournalExists(PathBuf),
    /// `--resume` was given and there is no journal to resume.
    #[error(
        "nothing to resume in {}: its journal {} is missing or empty (is --out the folder of the run?); drop --resume to start a new run",
        .0.parent().unwrap_or(Path::new("")).display(),
        .0.display()
    )]
    NoJournal(PathBuf),
    /// The journal does not match the scenario.
    #[error(
        "journal {path}, line {line}: expected {expected}, found {found} (was it written for another scenario or pair?)"
    )]
    JournalMismatch {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the scenario schedules there.
        expected: String,
        /// What the journal has.
        found: String,
    },
    /// The journal's header names another run.
    #[error(
        "journal {} records another run: its {field} is {found}, but this run's is {expected}; resume with the same scenario file, pair, seed and hosts, or start afresh with another --out",
        path.display()
    )]
    OtherRun {
        /// The journal.
        path: PathBuf,
        /// What differs, in words.
        field: &'static str,
        /// This run's value.
        expected: String,
        /// The journal's value.
        found: String,
    },
    /// The journal has no header: an older slivers wrote it.
    #[error(
        "journal {} does not start with the line naming its run (scenario file, pair, seed, hosts), so it was written by an older slivers and cannot be checked against this run: finish it with that version, or start afresh with another --out",
        .0.display()
    )]
    NoHeader(PathBuf),
    /// Replaying the journal, the model refused one of its inputs.
    #[error(
        "journal {}, line {line}: the model refuses this input on replay (was the journal edited, or written by another version of slivers?)",
        path.display()
    )]
    ReplayRefused {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The model's reason.
        #[source]
        source: ModelError,
    },
    /// Replaying the journal, the model broke one of its invariants
    /// ([`Hosting::check`]) after an input.
    #[error(
        "journal {}, line {line}: after replaying this input the model breaks its invariants: {reason}",
        path.display()
    )]
    ReplayBroken {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The broken invariant.
        reason: String,
    },
    /// Journal I/O.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The model broke its protocol (a bug).
    #[error("model")]
    Model(#[from] ModelError),
    /// Scheduling in the past (a bug).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// A host stopped answering; the VMs the model has there are unknown,
    /// not gone.
    #[error(
        "{host} is unreachable while running operation {op} ({step}); its VMs are unknown, not gone: {}; fix the host and run again with --resume",
        if vms.is_empty() { "none".to_string() } else { vms.join(", ") }
    )]
    Unreachable {
        /// The host.
        host: String,
        /// The operation.
        op: u64,
        /// The step.
        step: String,
        /// VMs the model has on the host.
        vms: Vec<String>,
    },
    /// The executor could not carry out a host outage (fail a host or
    /// bring it back), or make a VM what the model says after a step on a
    /// failed host was stopped.
    #[error("{host}: {doing} failed (fix the cause and run again with --resume)")]
    Outage {
        /// The host.
        host: String,
        /// What was being done, in words.
        doing: String,
        /// The executor's error.
        #[source]
        source: Box<ExecError>,
    },
    /// An operation failed after its retries (and, for a live migration,
    /// after the stop-and-copy fallback). The journal says where it stopped.
    #[error(
        "operation {op} ({step}) failed (the journal records it; fix the cause and run again with --resume)"
    )]
    Failed {
        /// The operation.
        op: u64,
        /// The step.
        step: String,
        /// The last error.
        #[source]
        source: Box<ExecError>,
    },
}

/// The end of a live run.
#[derive(Debug, Clone)]
pub struct LiveOutcome {
    /// The same measurements as a simulated run.
    pub result: RunResult,
    /// Operations run.
    pub ops: u64,
    /// Attempts repeated after a failure.
    pub retries: u64,
    /// Live migrations that fell back to stop-and-copy.
    pub fallbacks: u64,
    /// Operations found half-done in the journal and run again on resume.
    pub resumed: u64,
    /// Hosts found unreachable and recovered from as failures (this
    /// process only).
    pub hosts_lost: u64,
    /// What host failures and maintenance did (the model's account: VMs
    /// lost, re-created, ...).
    pub outages: OutageStats,
    /// Per site, in order: the VMs it has placed at the end, by id (one
    /// site unless the scenario has `[[site]]`s; where each is, in the
    /// run's host numbering: `result.final_placement`).
    pub site_vms: Vec<Vec<VmId>>,
}

/// One operation, with everything a worker needs.
#[derive(Debug, Clone)]
struct Job {
    op: OpId,
    step: Step,
    hosts: Vec<String>,
    name: String,
    image: String,
    /// Spec at the step's (final) size.
    spec: VmSpec,
    /// Spec at the size the VM moves with.
    spec_from: VmSpec,
    retries: u32,
    /// When its first command is due, in simulated time: when it starts,
    /// or after a lost VM's restart delay (counted from its first start,
    /// for an operation run again on resume).
    begin: SimTime,
    /// Set when the model stops the step: a worker still waiting skips it.
    cancelled: Arc<AtomicBool>,
}

/// What an operation took beyond one clean attempt.
#[derive(Debug, Clone, Copy, Default)]
struct Effort {
    retries: u64,
    fallback: bool,
}

/// What both phases of a run keep: the model, the inputs it is still to
/// be given, and the operations it started. Replaying the journal builds
/// it ([`State::replay`]); the live phase continues from it.
struct State<'a> {
    scenario: &'a Scenario,
    hosting: Hosting,
    queue: EventQueue<Input>,
    /// Started by the model, not yet handed to the executor.
    waiting: VecDeque<(OpId, Step)>,
    /// Handed to the executor, not yet complete: step and start time.
    running: BTreeMap<OpId, (Step, SimTime)>,
    busy: BTreeSet<HostId>,
    cost: MigrationCost,
    last: SimTime,
    events: u64,
    /// Replay only: steps the model stopped while they were running (a host
    /// went down); the live phase makes their VMs what the model says.
    stopped: Vec<Step>,
    /// Operations found half-done by the replay, with their first start:
    /// run again, they are timed from it, as if never interrupted (their
    /// completion, a restart delay).
    half_done: BTreeMap<OpId, SimTime>,
}

/// The live driver: the state to go live with, the journal every input and
/// operation start is written to before it is acted on, and the executor.
struct Driver<'a> {
    scenario: &'a Scenario,
    opts: &'a LiveOptions,
    exec: Arc<dyn Executor>,
    state: State<'a>,
    journal: Journal,
    /// Virtual pace: completion times.
    completions: BTreeSet<(SimTime, OpId)>,
    /// Virtual pace: operations waiting to begin (a restart delay).
    deferred: BTreeMap<(SimTime, OpId), Job>,
    /// Wall pace: operations on worker threads. One the model stopped
    /// stays here (and its hosts busy) until its worker returns.
    in_worker: BTreeMap<OpId, Job>,
    hosts_lost: u64,
    ops: u64,
    effort: Effort,
    fallbacks: u64,
    resumed: u64,
    /// Told the simulated time and the operations run after every input.
    progress: &'a dyn Fn(SimTime, u64),
}

/// Runs `opts.pair` of `scenario` live through `exec`.
pub fn run_live(
    scenario: &Scenario,
    exec: Arc<dyn Executor>,
    opts: &LiveOptions,
) -> Result<LiveOutcome, LiveError> {
    run_live_observed(scenario, exec, opts, &|_, _| {})
}

/// [`run_live`], telling `progress` the simulated time reached and the
/// operations run after every input given to the model (replayed ones too).
pub fn run_live_observed(
    scenario: &Scenario,
    exec: Arc<dyn Executor>,
    opts: &LiveOptions,
    progress: &dyn Fn(SimTime, u64),
) -> Result<LiveOutcome, LiveError> {
    if opts.hosts.len() != scenario.hosts as usize {
        return Err(LiveError::Hosts {
            expected: scenario.hosts as usize,
            found: opts.hosts.len(),
        });
    }
    let mut names: Vec<&String> = opts.hosts.iter().collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(LiveError::DuplicateHost(w[0].clone()));
    }
    let records = check_journal(&opts.journal, opts.resume)?;
    let header = RunHeader {
        scenario_sha256: scenario.sha256.clone(),
        pair: opts.pair.label(),
        seed: opts.seed,
        hosts: opts.hosts.clone(),
    };
    let to_replay = after_header(&records, &header, &opts.journal)?;
    let Prepared {
        hosting,
        inputs,
        jobs,
        ..
    } = prepare(scenario, opts.pair, opts.seed);
    let (state, resumed) =
        State::new(scenario, hosting, inputs)?.replay(to_replay, &opts.journal, &Hosting::check)?;
    let mut journal = Journal::open(&opts.journal)?;
    if records.is_empty() {
        journal.append(&Record::Run { run: header })?;
    }
    let mut d = Driver {
        scenario,
        opts,
        exec,
        state,
        journal,
        completions: BTreeSet::new(),
        deferred: BTreeMap::new(),
        in_worker: BTreeMap::new(),
        hosts_lost: 0,
        ops: 0,
        effort: Effort::default(),
        fallbacks: 0,
        resumed,
        progress,
    };
    d.after_replay()?;
    match opts.pace {
        Pace::Virtual => d.run_virtual()?,
        Pace::Wall { scale } => d.run_wall(scale)?,
    }
    let result = RunResult::collect(
        scenario,
        opts.pair,
        0,
        opts.seed,
        Measured {
            hosting: &d.state.hosting,
            cost: d.state.cost,
            events: d.state.events,
            jobs,
        },
    );
    Ok(LiveOutcome {
        result,
        ops: d.ops,
        retries: d.effort.retries,
        fallbacks: d.fallbacks,
        resumed: d.resumed,
        hosts_lost: d.hosts_lost,
        outages: d.state.hosting.outages(d.scenario.duration),
        site_vms: d
            .state
            .hosting
            .sites()
            .iter()
            .map(|s| s.planned().iter().map(|(vm, _)| vm).collect())
            .collect(),
    })
}

/// Reads the journal at `path` and checks it suits `resume`: a fresh run
/// needs no journal (or an empty one), a resumed run needs one with
/// records. Call it before touching the output folder or the hosts.
pub fn check_journal(path: &Path, resume: bool) -> Result<Vec<(usize, Record)>, LiveError> {
    let records = Journal::read(path)?;
    match (records.is_empty(), resume) {
        (false, false) => Err(LiveError::JournalExists(path.to_path_buf())),
        (true, true) => Err(LiveError::NoJournal(path.to_path_buf())),
        _ => Ok(records),
    }
}

/// The records of a journal after its header, which must name `header`'s
/// run (an empty journal has none: the run is new).
fn after_header<'r>(
    records: &'r [(usize, Record)],
    header: &RunHeader,
    path: &Path,
) -> Result<&'r [(usize, Record)], LiveError> {
    match records.split_first() {
        None => Ok(records),
        Some(((_, Record::Run { run }), rest)) => match header.difference(run) {
            None => Ok(rest),
            Some((field, expected, found)) => Err(LiveError::OtherRun {
                path: path.to_path_buf(),
                field,
                expected,
                found,
            }),
        },
        Some(_) => Err(LiveError::NoHeader(path.to_path_buf())),
    }
}

impl<'a> State<'a> {
    /// The model as the scenario starts it, with the inputs it schedules.
    fn new(
        scenario: &'a Scenario,
        hosting: Hosting,
        inputs: Vec<(SimTime, Input)>,
    ) -> Result<Self, LiveError> {
        let mut queue = EventQueue::new();
        for (t, i) in inputs {
            queue.schedule(t, i)?;
        }
        Ok(State {
            scenario,
            hosting,
            queue,
            waiting: VecDeque::new(),
            running: BTreeMap::new(),
            busy: BTreeSet::new(),
            cost: MigrationCost::default(),
            last: SimTime::ZERO,
            events: 0,
            stopped: Vec::new(),
            half_done: BTreeMap::new(),
        })
    }

    /// Replays the journal's records into the model as the scenario starts
    /// it, without executing anything, and returns the state to go live
    /// with and how many operations it found half-done: started before the
    /// crash but not completed. Those wait at the front, to run again
    /// (every operation is idempotent by VM name). After every input the
    /// model's invariants are checked with `check` ([`Hosting::check`]).
    fn replay(
        mut self,
        records: &[(usize, Record)],
        path: &Path,
        check: &dyn Fn(&Hosting) -> Result<(), String>,
    ) -> Result<(Self, u64), LiveError> {
        // A host an operation found unreachable: its failure is the next
        // record (a crash may have come in between).
        let mut lost: Option<u32> = None;
        for &(line, ref r) in records {
            let found = lost.take();
            match r {
                Record::Input { input, t } => {
                    let at = SimTime(*t);
                    let given = Input::from(input);
                    if let JInput::OpDone { op } = input {
                        self.finish_running(OpId(*op), at);
                    } else if let JInput::HostDown {
                        host,
                        maintenance: false,
                    } = input
                        && found == Some(*host)
                    {
                        // Found by the driver, not scheduled: nothing to pop.
                    } else {
                        // An input may be given later than scheduled (after a
                        // completion the wall clock put later), never earlier.
                        let expected = self.queue.pop();
                        if !expected.as_ref().is_some_and(|(t, i)| *i == given && *t <= at) {
                            return Err(LiveError::JournalMismatch {
                                path: path.to_path_buf(),
                                line,
                                expected: expected
                                    .map_or("the end of the scenario's inputs".into(), |(t, i)| {
                                        format!("{} at {t}", JInput::from(&i))
                                    }),
                                found: format!("{input} at {at}"),
                            });
                        }
                    }
                    match self.give(at, given) {
                        Ok(stopped) => {
                            for (_, step) in stopped {
                                self.free(&step);
                                self.stopped.push(step);
                            }
                        }
                        Err(LiveError::Model(source)) => {
                            return Err(LiveError::ReplayRefused {
                                path: path.to_path_buf(),
                                line,
                                source,
                            });
                        }
                        Err(e) => return Err(e),
                    }
                    check(&self.hosting).map_err(|reason| LiveError::ReplayBroken {
                        path: path.to_path_buf(),
                        line,
                        reason,
                    })?;
                }
                Record::Start { start, t } => {
                    let op = OpId(*start);
                    if let Some(pos) = self.waiting.iter().position(|(o, _)| *o == op) {
                        let (_, step) = self.waiting.remove(pos).expect("position is valid");
                        self.running.insert(op, (step, SimTime(*t)));
                    }
                }
                Record::Fail { .. } => {}
                Record::Lost { lost: host, .. } => lost = Some(*host),
                Record::Run { .. } => {
                    return Err(LiveError::JournalMismatch {
                        path: path.to_path_buf(),
                        line,
                        expected: "an input, an operation's start or its failure".into(),
                        found: "a second header".into(),
                    });
                }
            }
        }
        let half_done = std::mem::take(&mut self.running);
        let resumed = half_done.len() as u64;
        for (op, (step, started)) in half_done.into_iter().rev() {
            self.waiting.push_front((op, step));
            self.half_done.insert(op, started);
        }
        Ok((self, resumed))
    }

    /// Gives `input` to the model at `at` (or at the last input's time, if
    /// later) and keeps what it decides: its timers and the steps it starts.
    /// Steps it stops (their host went down) are dropped: waiting ones
    /// silently; running ones are returned, their hosts still busy.
    fn give(&mut self, at: SimTime, input: Input) -> Result<Vec<(OpId, Step)>, LiveError> {
        let at = at.max(self.last);
        self.last = at;
        self.events += 1;
        let out = self.hosting.handle(at, input)?;
        for (t, i) in out.timers {
            self.queue.schedule(t, i)?;
        }
        let mut stopped = Vec::new();
        if !out.aborted.is_empty() {
            let aborted: BTreeSet<OpId> = out.aborted.iter().copied().collect();
            self.waiting.retain(|(op, _)| !aborted.contains(op));
            for op in aborted {
                if let Some((step, _)) = self.running.remove(&op) {
                    stopped.push((op, step));
                }
            }
        }
        self.waiting.extend(out.started);
        self.hosting.meter_fidelity(at, |_| None);
        Ok(stopped)
    }

    /// Frees the hosts of a step that no longer runs.
    fn free(&mut self, step: &Step) {
        for h in step_hosts(step) {
            self.busy.remove(&h);
        }
    }

    /// True if the driver still has to carry out a step of `vm` on `host`.
    fn pending_on(&self, vm: VmId, host: HostId) -> bool {
        let on = |s: &Step| s.vm() == vm && step_hosts(s).contains(&host);
        self.waiting.iter().any(|(_, s)| on(s)) || self.running.values().any(|(s, _)| on(s))
    }

    /// Marks `op` complete at `at`: frees its hosts and counts its cost.
    fn finish_running(&mut self, op: OpId, at: SimTime) {
        if let Some((step, started)) = self.running.remove(&op) {
            for h in step_hosts(&step) {
                self.busy.remove(&h);
            }
            if matches!(
                step,
                Step::Migrate { .. } | Step::Suspend { .. } | Step::Restore { .. }
            ) {
                let dirty = self.dirty_of(step.vm());
                let e = run_alone(&self.scenario.migration, &step, dirty);
                self.cost.migration_ms += at.0.saturating_sub(started.0);
                self.cost.downtime_ms += e.downtime.as_millis();
                self.cost.degraded_ms += e.degraded.as_millis();
                self.cost.mib_sent += e.sent_mib;
                if matches!(step, Step::Migrate { .. }) {
                    self.cost.precopy_rounds += e.rounds as u64;
                    self.cost.non_converged += u64::from(!e.converged);
                }
            }
        }
    }

    /// The median dirty rate of a VM's guest (live runs do not draw per VM).
    fn dirty_of(&self, vm: VmId) -> f64 {
        let guest = self.hosting.guest_of(vm).map_or(0, |g| g.0 as usize);
        self.scenario
            .guests
            .get(guest)
            .map_or(0.0, |g| g.dirty().median_mibps)
    }
}

impl Driver<'_> {
    /// Journals `input`, then gives it to the model at `at`; drops the
    /// steps it stops and carries out a host's outage on the executor.
    fn feed(&mut self, at: SimTime, input: Input) -> Result<(), LiveError> {
        self.journal.append(&Record::Input {
            input: JInput::from(&input),
            t: at.max(self.state.last).as_millis(),
        })?;
        let outage = match input {
            Input::HostDown { host, .. } => Some((host, false)),
            Input::HostUp { host } => Some((host, true)),
            _ => None,
        };
        for (op, step) in self.state.give(at, input)? {
            self.stop(op, step)?;
        }
        match outage {
            Some((host, false)) => self.take_away(host)?,
            // Up only when every outage it was in is over.
            Some((host, true)) if !self.state.hosting.is_down(host) => {
                let name = self.opts.hosts[host.index()].clone();
                self.exec.power(&name, true).map_err(|e| LiveError::Outage {
                    host: name.clone(),
                    doing: "bringing the host back".into(),
                    source: Box::new(e),
                })?;
            }
            _ => {}
        }
        (self.progress)(self.state.last, self.ops);
        Ok(())
    }

    /// The state built by the replay, made true on the hosts: hosts the
    /// model has down are taken away again, and the VMs of steps it
    /// stopped are made what it says (both are idempotent).
    fn after_replay(&mut self) -> Result<(), LiveError> {
        for i in 0..self.scenario.hosts {
            if self.state.hosting.is_down(HostId(i)) {
                self.take_away(HostId(i))?;
            }
        }
        for step in std::mem::take(&mut self.state.stopped) {
            self.settle(&step)?;
        }
        Ok(())
    }

    /// Drops a step the model stopped while it was running. A worker still
    /// at it keeps its hosts busy until it returns ([`Self::settle`] then);
    /// otherwise its hosts are freed and its VM settled now.
    fn stop(&mut self, op: OpId, step: Step) -> Result<(), LiveError> {
        if let Some(job) = self.in_worker.get(&op) {
            job.cancelled.store(true, Ordering::SeqCst);
            return Ok(());
        }
        self.completions.retain(|(_, o)| *o != op);
        self.state.free(&step);
        let deferred = self.deferred.keys().find(|(_, o)| *o == op).copied();
        match deferred {
            // Not begun: nothing to undo.
            Some(key) => {
                self.deferred.remove(&key);
                Ok(())
            }
            None => self.settle(&step),
        }
    }

    /// After a stopped step: on each of its hosts that is up, makes its VM
    /// what the model says, created at the size it holds there or gone
    /// (a step still to run for it there decides instead). A step stopped
    /// after it acted (in virtual time every step acts as it starts) may
    /// have left its VM where the model does not have it.
    fn settle(&mut self, step: &Step) -> Result<(), LiveError> {
        let vm = step.vm();
        let name = format!("{}{}", self.opts.vm_prefix, vm.0);
        for h in step_hosts(step) {
            if self.state.hosting.is_down(h) {
                continue;
            }
            let held = self.state.hosting.held_on(vm, h);
            let host = self.opts.hosts[h.index()].clone();
            let fail = |e: ExecError| LiveError::Outage {
                host: host.clone(),
                doing: format!("making {name} what the model says after its step ({step}) was stopped"),
                source: Box::new(e),
            };
            match held {
                None => match self.exec.destroy(&host, &name) {
                    Ok(()) | Err(ExecError::NoSuchVm { .. }) => {}
                    Err(e) => return Err(fail(e)),
                },
                Some(_) if self.state.pending_on(vm, h) => {}
                Some(size) => {
                    let there = self
                        .exec
                        .list(&host)
                        .map_err(fail)?
                        .iter()
                        .any(|v| v.name == name);
                    if !there {
                        let spec = vm_spec(&name, &size, &host_capacity(self.scenario, h));
                        self.exec.create(&host, &spec).map_err(fail)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A host the model has down: emulated, it fails ([`Executor::power`]);
    /// real, the run's VMs on it are destroyed, if it answers at all.
    fn take_away(&mut self, host: HostId) -> Result<(), LiveError> {
        let name = self.opts.hosts[host.index()].clone();
        let fail = |e: ExecError| LiveError::Outage {
            host: name.clone(),
            doing: "taking the host down".into(),
            source: Box::new(e),
        };
        if self.exec.power(&name, false).map_err(fail)? {
            return Ok(());
        }
        let vms = match self.exec.list(&name) {
            Ok(vms) => vms,
            Err(ExecError::Unreachable { .. }) => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        let ours = vms
            .into_iter()
            .filter(|v| v.name.starts_with(&self.opts.vm_prefix) && validate_name(&v.name).is_ok());
        for vm in ours {
            match self.exec.destroy(&name, &vm.name) {
                Ok(()) | Err(ExecError::NoSuchVm { .. }) | Err(ExecError::Unreachable { .. }) => {}
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(())
    }

    /// The host `e` found unreachable, if the run recovers from it: one of
    /// the run's hosts, used by the job's step, and up in the model.
    fn lost_host(&self, job: &Job, e: &ExecError) -> Option<HostId> {
        let ExecError::Unreachable { host, .. } = e else {
            return None;
        };
        if self.opts.on_host_loss != HostLoss::Recover {
            return None;
        }
        let h = HostId(self.opts.hosts.iter().position(|n| n == host)? as u32);
        (step_hosts(&job.step).contains(&h) && !self.state.hosting.is_down(h)).then_some(h)
    }

    /// An operation failed at `now`: a host lost is a host failure the
    /// model recovers from (journaled first); anything else stops the run.
    fn on_error(&mut self, job: Job, e: ExecError, now: SimTime) -> Result<(), LiveError> {
        let Some(host) = self.lost_host(&job, &e) else {
            return Err(self.failed(&job, e));
        };
        self.journal.append(&Record::Lost {
            lost: host.0,
            op: job.op.0,
            error: crate::error_chain(&e),
        })?;
        self.hosts_lost += 1;
        self.feed(
            now,
            Input::HostDown {
                host,
                cause: DownCause::Failure,
            },
        )
    }

    /// The next waiting operations whose hosts are free, in order; marks
    /// them running and journals their start.
    fn take_ready(&mut self, now: SimTime) -> Result<Vec<Job>, LiveError> {
        let mut ready = Vec::new();
        let mut kept = VecDeque::new();
        let mut claimed: BTreeSet<HostId> = BTreeSet::new();
        while let Some((op, step)) = self.state.waiting.pop_front() {
            let hosts = step_hosts(&step);
            // Per host, operations keep their order: one waiting blocks those behind it.
            if hosts
                .iter()
                .any(|h| self.state.busy.contains(h) || claimed.contains(h))
            {
                claimed.extend(hosts);
                kept.push_back((op, step));
                continue;
            }
            self.state.busy.extend(hosts.iter().copied());
            self.journal.append(&Record::Start {
                start: op.0,
                t: now.as_millis(),
            })?;
            let since = self.state.half_done.remove(&op).unwrap_or(now);
            self.state.running.insert(op, (step, since));
            self.ops += 1;
            let delay = self
                .state
                .hosting
                .start_delay(op, &step, self.scenario.outages.restart);
            ready.push(self.job(op, step, since, delay));
        }
        self.state.waiting = kept;
        Ok(ready)
    }

    /// The job of `op`, first started at `since` (before now if it is run
    /// again on resume: it is timed from then, as if never interrupted).
    fn job(&self, op: OpId, step: Step, since: SimTime, delay: SimTime) -> Job {
        let name = format!("{}{}", self.opts.vm_prefix, step.vm().0);
        let (from_size, size) = match step {
            Step::Create { size, .. }
            | Step::Restore { size, .. }
            | Step::Suspend { size, .. }
            | Step::Destroy { size, .. } => (size, size),
            Step::Resize { from, to, .. } => (from, to),
            Step::Migrate {
                size_from, size_to, ..
            } => (size_from, size_to),
        };
        // A lost VM restarts from its image, a VM moved from another site
        // crosses the WAN: its create waits first, as in the simulation
        // (`Hosting::start_delay`).
        let begin = since.plus(delay);
        // A step's hosts are of one site (a move between sites is a destroy
        // and a create): its VM is described for that site's hosts.
        let capacity = host_capacity(self.scenario, step_hosts(&step)[0]);
        Job {
            op,
            step,
            hosts: step_hosts(&step)
                .iter()
                .map(|h| self.opts.hosts[h.index()].clone())
                .collect(),
            image: format!("{}/{name}.img", self.opts.image_dir.trim_end_matches('/')),
            spec: vm_spec(&name, &size, &capacity),
            spec_from: vm_spec(&name, &from_size, &capacity),
            name,
            retries: self.opts.retries,
            begin,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    fn failed(&mut self, job: &Job, e: ExecError) -> LiveError {
        let _ = self.journal.append(&Record::Fail {
            fail: job.op.0,
            error: crate::error_chain(&e),
        });
        let step = format!("{}, as {} on {}", job.step, job.name, job.hosts.join(" and "));
        if let ExecError::Unreachable { host, .. } = &e {
            let idx = self.opts.hosts.iter().position(|h| h == host);
            let vms = idx
                .map(|i| self.state.hosting.vms_on(HostId(i as u32)))
                .unwrap_or_default()
                .into_iter()
                .map(|v| format!("{}{}", self.opts.vm_prefix, v.0))
                .collect();
            return LiveError::Unreachable {
                host: host.clone(),
                op: job.op.0,
                step,
                vms,
            };
        }
        LiveError::Failed {
            op: job.op.0,
            step,
            source: Box::new(e),
        }
    }

    fn record(&mut self, effort: Effort) {
        self.effort.retries += effort.retries;
        self.fallbacks += u64::from(effort.fallback);
    }

    /// Virtual pace: carries out `job` at `at`; it completes after its
    /// modelled duration.
    fn perform_at(&mut self, job: Job, at: SimTime) -> Result<(), LiveError> {
        match perform(&*self.exec, &job) {
            Ok(effort) => {
                self.record(effort);
                let dur = self.modelled(&job.step);
                self.completions.insert((at.plus(dur), job.op));
                Ok(())
            }
            Err(e) => self.on_error(job, e, at),
        }
    }

    fn run_virtual(&mut self) -> Result<(), LiveError> {
        loop {
            let now = self.state.last;
            for job in self.take_ready(now)? {
                if job.begin > now {
                    self.deferred.insert((job.begin, job.op), job);
                } else {
                    let at = job.begin;
                    self.perform_at(job, at)?;
                }
            }
            let next_input = self
                .state
                .queue
                .peek_time()
                .filter(|t| *t < self.scenario.duration);
            let next_begin = self.deferred.keys().next().map(|(t, _)| *t);
            let next_done = self.completions.first().map(|(t, _)| *t);
            let Some(t) = [next_input, next_begin, next_done].into_iter().flatten().min() else {
                return Ok(());
            };
            // At equal times: inputs first (they were scheduled earlier),
            // then operations that begin, then completions.
            if next_input == Some(t) {
                let (t, input) = self.state.queue.pop().expect("peeked");
                self.feed(t, input)?;
            } else if next_begin == Some(t) {
                let (_, job) = self.deferred.pop_first().expect("peeked");
                self.perform_at(job, t)?;
            } else {
                let (t, op) = self.completions.pop_first().expect("peeked");
                self.state.finish_running(op, t);
                self.feed(t, Input::OpDone(op))?;
            }
        }
    }

    /// A step's modelled duration, alone on the network.
    fn modelled(&self, step: &Step) -> SimTime {
        run_alone(&self.scenario.migration, step, self.state.dirty_of(step.vm())).total
    }

    fn run_wall(&mut self, scale: f64) -> Result<(), LiveError> {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let (tx, rx) = mpsc::channel::<(OpId, Result<Effort, ExecError>)>();
        let origin = Instant::now();
        let offset = self.state.last;
        let sim_now = |last: SimTime| {
            let ms = origin.elapsed().as_secs_f64() * scale * 1000.0;
            offset.plus(SimTime(ms as u64)).max(last)
        };
        loop {
            let now = sim_now(self.state.last);
            for job in self.take_ready(now)? {
                let exec = Arc::clone(&self.exec);
                let tx = tx.clone();
                let j = job.clone();
                self.in_worker.insert(job.op, job);
                let wait = SimTime(j.begin.0.saturating_sub(now.0));
                std::thread::spawn(move || {
                    if wait > SimTime::ZERO {
                        std::thread::sleep(Duration::from_secs_f64(wait.as_secs_f64() / scale));
                    }
                    // Stopped while it waited: nothing to do.
                    let r = match j.cancelled.load(Ordering::SeqCst) {
                        true => Ok(Effort::default()),
                        false => perform(&*exec, &j),
                    };
                    let _ = tx.send((j.op, r));
                });
            }
            let next_input = self
                .state
                .queue
                .peek_time()
                .filter(|t| *t < self.scenario.duration);
            if next_input.is_none() && self.state.running.is_empty() && self.in_worker.is_empty() {
                return Ok(());
            }
            let wait = match next_input {
                Some(t) => {
                    let ms_ahead = t.0.saturating_sub(sim_now(self.state.last).0) as f64;
                    Duration::from_secs_f64(ms_ahead / 1000.0 / scale)
                }
                None => Duration::from_secs(3600),
            };
            match rx.recv_timeout(wait) {
                Ok((op, r)) => {
                    let job = self
                        .in_worker
                        .remove(&op)
                        .expect("every op on a worker has its job");
                    if !self.state.running.contains_key(&op) {
                        // Stopped by the model while its worker was at it.
                        self.state.free(&job.step);
                        self.settle(&job.step)?;
                        for h in step_hosts(&job.step) {
                            if self.state.hosting.is_down(h) {
                                self.take_away(h)?;
                            }
                        }
                        continue;
                    }
                    let r = match r {
                        Err(e) if self.lost_host(&job, &e).is_none() => return Err(self.failed(&job, e)),
                        r => r,
                    };
                    let now = sim_now(self.state.last);
                    // Inputs due by now go first, at their scheduled times, so
                    // the model sees every scheduled input exactly when the
                    // simulation does, however late the executor answers.
                    while let Some(t) = self
                        .state
                        .queue
                        .peek_time()
                        .filter(|t| *t <= now && *t < self.scenario.duration)
                    {
                        let (_, input) = self.state.queue.pop().expect("peeked");
                        self.feed(t, input)?;
                    }
                    // One of them may have stopped it (its host went down).
                    if !self.state.running.contains_key(&op) {
                        continue;
                    }
                    match r {
                        Ok(effort) => {
                            self.record(effort);
                            self.state.finish_running(op, now);
                            self.feed(now, Input::OpDone(op))?;
                        }
                        Err(e) => self.on_error(job, e, now)?,
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if next_input.is_some() {
                        let (t, input) = self.state.queue.pop().expect("peeked");
                        self.feed(t, input)?;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }
}

/// The hosts a step occupies (a migration occupies both ends).
fn step_hosts(step: &Step) -> Vec<HostId> {
    match *step {
        Step::Migrate { from, to, .. } => vec![from, to],
        Step::Create { host, .. }
        | Step::Resize { host, .. }
        | Step::Suspend { host, .. }
        | Step::Restore { host, .. }
        | Step::Destroy { host, .. } => vec![host],
    }
}

/// The Xen description of a sliver of `size` on hosts of `capacity`: memory
/// as its target (the host's memory as maximum, so it can grow in place),
/// whole vCPUs covering its CPU (the host's CPUs as maximum), a credit
/// weight of a quarter of its millicores and a cap of its millicores / 10
/// (percent of one CPU), its bandwidth as the vif rate.
pub fn vm_spec(name: &str, size: &Resources, capacity: &Resources) -> VmSpec {
    let max_vcpus = (capacity.cpu_millicores() / 1000).max(1) as u32;
    VmSpec {
        name: name.to_string(),
        memory_mib: size.memory_mib(),
        max_memory_mib: capacity.memory_mib().max(size.memory_mib()),
        vcpus: (size.cpu_millicores().div_ceil(1000) as u32).clamp(1, max_vcpus),
        max_vcpus,
        cpu_weight: (size.cpu_millicores() / 4).clamp(1, 65_535) as u32,
        cap_percent: (size.cpu_millicores() / 10).min(max_vcpus as u64 * 100) as u32,
        bandwidth_mbps: size.0[2],
        disk_gib: size.0[3],
    }
}

/// Retries `f` on transient errors, up to `retries` more times.
fn with_retries<T>(
    retries: u32,
    effort: &mut Effort,
    mut f: impl FnMut() -> Result<T, ExecError>,
) -> Result<T, ExecError> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if e.is_transient() && attempt < retries => {
                attempt += 1;
                effort.retries += 1;
                std::thread::sleep(Duration::from_millis(20 * attempt as u64));
            }
            r => return r,
        }
    }
}

/// Carries out one step through the executor.
fn perform(exec: &dyn Executor, job: &Job) -> Result<Effort, ExecError> {
    let mut effort = Effort::default();
    let host = &job.hosts[0];
    let retries = job.retries;
    match job.step {
        Step::Create { .. } => with_retries(retries, &mut effort, || exec.create(host, &job.spec))?,
        Step::Resize { .. } => with_retries(retries, &mut effort, || exec.resize(host, &job.spec))?,
        Step::Destroy { .. } => with_retries(retries, &mut effort, || exec.destroy(host, &job.name))?,
        Step::Restore { .. } => {
            with_retries(retries, &mut effort, || exec.restore(host, &job.spec, &job.image))?
        }
        Step::Suspend { .. } => {
            match with_retries(retries, &mut effort, || exec.save(host, &job.name, &job.image)) {
                // Gone from its host: an earlier attempt saved it (see docs/live.md).
                Ok(()) | Err(ExecError::NoSuchVm { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Step::Migrate {
            size_from, size_to, ..
        } => {
            let to = &job.hosts[1];
            migrate(exec, job, host, to, &mut effort)?;
            if size_to != size_from {
                with_retries(retries, &mut effort, || exec.resize(to, &job.spec))?;
            }
        }
    }
    Ok(effort)
}

/// A live move with retries; a migration that fails leaves the VM at its
/// source (or is reconciled to one copy), and after the retries the move
/// falls back to stop-and-copy through storage.
fn migrate(
    exec: &dyn Executor,
    job: &Job,
    from: &str,
    to: &str,
    effort: &mut Effort,
) -> Result<(), ExecError> {
    let mut last = None;
    for attempt in 0..=job.retries {
        if attempt > 0 {
            effort.retries += 1;
        }
        match exec.migrate(from, to, &job.name) {
            Ok(()) => return Ok(()),
            // Neither host has it: a stop-and-copy fallback saved it before a crash.
            Err(ExecError::NoSuchVm { .. }) => {
                return with_retries(job.retries, effort, || {
                    exec.restore(to, &job.spec_from, &job.image)
                });
            }
            Err(
                // Failed, cut short, or found on both hosts: keep exactly one copy.
                e @ (ExecError::MigrationFailed { .. }
                | ExecError::Timeout { .. }
                | ExecError::Io { .. }
                | ExecError::AlreadyExists { .. }),
            ) => {
                if exec.reconcile_migration(from, to, &job.name)?.as_deref() == Some(to) {
                    return Ok(());
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    // Stop-and-copy through storage.
    effort.fallback = true;
    match with_retries(job.retries, effort, || exec.save(from, &job.name, &job.image)) {
        // Already saved by an attempt cut short.
        Ok(()) | Err(ExecError::NoSuchVm { .. }) => {}
        Err(e) => return Err(last.unwrap_or(e)),
    }
    with_retries(job.retries, effort, || {
        exec.restore(to, &job.spec_from, &job.image)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use slivers_xl_emu::HostConfig;
    use slivers_xl_emu::cluster::EmuCluster;

    use super::*;
    use crate::live::executor::{HostInfo, VmInfo};
    use crate::live::transport::InProcessTransport;
    use crate::live::xen::{XenConfig, XenExecutor};

    /// An emulated cluster whose first `save` succeeds but reports a
    /// timeout (the report was lost), and whose live migrations all fail
    /// with the VM resumed at its source.
    struct LostSaveReport {
        inner: XenExecutor,
        saves: AtomicU32,
    }

    impl Executor for LostSaveReport {
        fn host_info(&self, h: &str) -> Result<HostInfo, ExecError> {
            self.inner.host_info(h)
        }
        fn list(&self, h: &str) -> Result<Vec<VmInfo>, ExecError> {
            self.inner.list(h)
        }
        fn create(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
            self.inner.create(h, s)
        }
        fn resize(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
            self.inner.resize(h, s)
        }
        fn migrate(&self, f: &str, t: &str, n: &str) -> Result<(), ExecError> {
            Err(ExecError::MigrationFailed {
                from: f.into(),
                to: t.into(),
                vm: n.into(),
                resumed_at_sender: true,
                stderr: "migration sender: Migration failed, resuming at sender.".into(),
            })
        }
        fn save(&self, h: &str, n: &str, i: &str) -> Result<(), ExecError> {
            self.inner.save(h, n, i)?;
            if self.saves.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(ExecError::Timeout {
                    host: h.into(),
                    argv: vec!["xl".into(), "save".into(), n.into(), i.into()],
                    after: Duration::from_secs(1),
                });
            }
            Ok(())
        }
        fn restore(&self, h: &str, s: &VmSpec, i: &str) -> Result<(), ExecError> {
            self.inner.restore(h, s, i)
        }
        fn destroy(&self, h: &str, n: &str) -> Result<(), ExecError> {
            self.inner.destroy(h, n)
        }
        fn reconcile_migration(&self, f: &str, t: &str, n: &str) -> Result<Option<String>, ExecError> {
            self.inner.reconcile_migration(f, t, n)
        }
    }

    fn setup() -> (LostSaveReport, VmSpec) {
        let cluster = Arc::new(EmuCluster::new());
        for h in ["h0", "h1"] {
            cluster.add_host(HostConfig::new(h, 8192, 4));
        }
        let inner = XenExecutor::new(Arc::new(InProcessTransport::new(cluster)), XenConfig::default());
        let spec = VmSpec {
            name: "sliver-1".into(),
            ..crate::live::executor::tests::spec()
        };
        inner.create("h0", &spec).unwrap();
        let exec = LostSaveReport {
            inner,
            saves: AtomicU32::new(0),
        };
        (exec, spec)
    }

    fn job(step: Step, hosts: &[&str], spec: &VmSpec) -> Job {
        Job {
            op: OpId(1),
            step,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            name: spec.name.clone(),
            image: "/images/sliver-1.save".into(),
            spec: spec.clone(),
            spec_from: spec.clone(),
            retries: 2,
            begin: SimTime::ZERO,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    fn names(exec: &LostSaveReport, host: &str) -> Vec<String> {
        exec.list(host).unwrap().into_iter().map(|v| v.name).collect()
    }

    /// The journal's records of a whole run of `scenario`'s first pair on
    /// emulated hosts, and where the journal was.
    fn journal_of_a_whole_run(scenario: &Scenario, tag: &str) -> (Vec<(usize, Record)>, PathBuf) {
        let dir = std::env::temp_dir().join(format!("slivers-replay-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cluster = crate::live::setup::emulated_cluster(scenario, &["host0".into(), "host1".into()]);
        let exec = XenExecutor::new(Arc::new(InProcessTransport::new(cluster)), XenConfig::default());
        let opts = LiveOptions {
            pair: scenario.pairs[0],
            seed: scenario.seed,
            pace: Pace::Virtual,
            journal: dir.join("journal.jsonl"),
            resume: false,
            hosts: vec!["host0".into(), "host1".into()],
            image_dir: "/images".into(),
            vm_prefix: "sliver-".into(),
            retries: 0,
            on_host_loss: HostLoss::Stop,
        };
        run_live(scenario, Arc::new(exec), &opts).unwrap();
        let records = Journal::read(&opts.journal).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (records, opts.journal)
    }

    fn golden() -> Scenario {
        Scenario::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/small/scenario.toml"),
        )
        .unwrap()
    }

    fn fresh(scenario: &Scenario) -> State<'_> {
        let p = prepare(scenario, scenario.pairs[0], scenario.seed);
        State::new(scenario, p.hosting, p.inputs).unwrap()
    }

    #[test]
    fn replay_checks_the_models_invariants_after_every_input() {
        let s = golden();
        let (mut records, path) = journal_of_a_whole_run(&s, "check");
        assert!(
            matches!(records.remove(0), (1, Record::Run { .. })),
            "a header first"
        );
        let inputs: Vec<usize> = records
            .iter()
            .filter(|(_, r)| matches!(r, Record::Input { .. }))
            .map(|(line, _)| *line)
            .collect();
        assert!(inputs.len() > 10, "{} inputs", inputs.len());
        // Once per input, never for an operation's start.
        let checks = std::cell::Cell::new(0);
        let (state, _) = fresh(&s)
            .replay(&records, &path, &|h| {
                checks.set(checks.get() + 1);
                h.check()
            })
            .unwrap();
        assert_eq!(checks.get(), inputs.len());
        assert_eq!(state.events, inputs.len() as u64);
        // A broken invariant stops the replay there, naming the line.
        let broken_at = inputs[inputs.len() / 2];
        let checks = std::cell::Cell::new(0);
        let err = fresh(&s)
            .replay(&records, &path, &|_| {
                checks.set(checks.get() + 1);
                if checks.get() == inputs.len() / 2 + 1 {
                    return Err("host 0 holds more than its capacity".into());
                }
                Ok(())
            })
            .err()
            .expect("the replay stops");
        assert!(
            matches!(err, LiveError::ReplayBroken { line, .. } if line == broken_at),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "journal {}, line {broken_at}: after replaying this input the model breaks its invariants: host 0 holds more than its capacity",
                path.display()
            )
        );
    }

    #[test]
    fn replay_takes_a_host_failure_only_after_the_operation_that_found_it() {
        let s = golden();
        let (mut records, path) = journal_of_a_whole_run(&s, "lost");
        records.remove(0);
        let (line, t) = match records.last() {
            Some(&(line, Record::Input { t, .. })) => (line, t),
            other => panic!("{other:?}"),
        };
        let down = Record::Input {
            input: JInput::HostDown {
                host: 1,
                maintenance: false,
            },
            t,
        };
        // Unscheduled, and no operation found it: another run's journal.
        let mut alone = records.clone();
        alone.push((line + 1, down.clone()));
        let err = fresh(&s)
            .replay(&alone, &path, &Hosting::check)
            .err()
            .expect("refused");
        assert!(
            matches!(&err, LiveError::JournalMismatch { line: l, found, .. } if *l == line + 1 && found.starts_with("the failure of host 1")),
            "{err}"
        );
        // After the record of the operation that found the host gone, it
        // is the host's failure: the model takes the host down.
        let lost = Record::Lost {
            lost: 1,
            op: 99,
            error: "host1: unreachable".into(),
        };
        let mut found = records.clone();
        found.push((line + 1, lost.clone()));
        found.push((line + 2, down.clone()));
        let (state, _) = fresh(&s).replay(&found, &path, &Hosting::check).unwrap();
        assert!(state.hosting.is_down(HostId(1)));
        assert_eq!(state.hosting.outages(s.duration).host_failures, 1);
        // The marker holds for the very next record only.
        let mut stale = records;
        stale.push((line + 1, lost));
        stale.push((line + 2, Record::Start { start: 99, t }));
        stale.push((line + 3, down));
        assert!(matches!(
            fresh(&s).replay(&stale, &path, &Hosting::check),
            Err(LiveError::JournalMismatch { line: l, .. }) if l == line + 3
        ));
    }

    #[test]
    fn a_save_retried_after_one_that_succeeded_is_done() {
        let (exec, spec) = setup();
        let size = Resources([1000, 1024, 100, 10]);
        let suspend = Step::Suspend {
            vm: VmId(1),
            host: HostId(0),
            size,
        };
        // The first save worked but its report was lost; the retry finds
        // the VM gone from its host and counts the save as done.
        let effort = perform(&exec, &job(suspend, &["h0"], &spec)).unwrap();
        assert_eq!(effort.retries, 1);
        assert!(names(&exec, "h0").is_empty());
        let restore = Step::Restore {
            vm: VmId(1),
            host: HostId(1),
            size,
        };
        perform(&exec, &job(restore, &["h1"], &spec)).unwrap();
        assert_eq!(names(&exec, "h1"), vec!["sliver-1".to_string()]);
    }

    #[test]
    fn a_fallback_save_retried_after_one_that_succeeded_still_restores() {
        let (exec, spec) = setup();
        let size = Resources([1000, 1024, 100, 10]);
        let migrate = Step::Migrate {
            vm: VmId(1),
            from: HostId(0),
            to: HostId(1),
            size_from: size,
            size_to: size,
        };
        // Live moves fail; stop-and-copy's save reports a timeout after
        // saving; the retried save finds the VM gone; the restore runs.
        let effort = perform(&exec, &job(migrate, &["h0", "h1"], &spec)).unwrap();
        assert!(effort.fallback);
        assert!(names(&exec, "h0").is_empty());
        assert_eq!(names(&exec, "h1"), vec!["sliver-1".to_string()]);
    }
}
