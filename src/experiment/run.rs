//! One simulated run: a scenario, one policy pair, one seed.
//!
//! The run owns its event queue, its hosting system, the execution of the
//! site's steps and its RNG. It feeds every input to [`Hosting::handle`],
//! carries out the steps the site starts with the scenario's migration
//! model over the shared network ([`Execution`]), reports each completed
//! step back, and meters fidelity after every event.

use crate::engine::{EventQueue, ScheduleError, SimTime};
use crate::model::guest::Guest;
use crate::model::{
    DownCause, Execution, GuestConfig, Hosting, HostingConfig, Input, MigrationCost, ModelError, Output,
    PerSite, VmMap,
};
use crate::outcome::{BrokerResult, FederationResult, OutageSummary, RunResult, SiteResult};
use crate::rng::SimRng;
use crate::scenario::{DirtyRate, Pair, Scenario, Workload};
use slivers_policy::plan::Step;

/// What the run's event queue holds.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// An input for the hosting system.
    Input(Input),
    /// A phase of some step in flight may end now.
    Wake,
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The model broke its protocol (a bug).
    #[error("run {run} ({pair})")]
    Model {
        /// Run index.
        run: usize,
        /// Policy pair label.
        pair: String,
        /// The error.
        #[source]
        source: ModelError,
    },
    /// An invariant failed (a bug).
    #[error("run {run} ({pair}) at {at}: invariant violated: {message}")]
    Invariant {
        /// Run index.
        run: usize,
        /// Policy pair label.
        pair: String,
        /// When.
        at: SimTime,
        /// What.
        message: String,
    },
    /// Something was scheduled in the past (a bug).
    #[error("run {run}")]
    Schedule {
        /// Run index.
        run: usize,
        /// The error.
        #[source]
        source: ScheduleError,
    },
}

/// Options for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Check every invariant (always on in debug builds).
    pub check_invariants: bool,
    /// With checks on, check after every `check_every`-th event and at the
    /// end; 0 and 1 check after every event. The check is O(hosts + VMs),
    /// so runs of 10^4 hosts and more sample it.
    pub check_every: u64,
}

/// How far a run has got, reported every [`PROGRESS_EVERY`] events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The run's index.
    pub run: usize,
    /// Simulated time reached.
    pub now: SimTime,
    /// Events handled so far.
    pub events: u64,
}

/// Events between two [`Progress`] reports.
pub const PROGRESS_EVERY: u64 = 1 << 14;

/// A run before its first event: the hosting system, every input the
/// scenario schedules (in the order they must be delivered), the run's RNG
/// after the workloads were drawn, and the batch job counts. Both the
/// simulator and the live driver start from it.
pub struct Prepared {
    /// The hosting system, with no VMs.
    pub hosting: Hosting,
    /// `(time, input)`, in delivery order: job arrivals, then at each tick
    /// the web guests' demand for the period, then the tick.
    pub inputs: Vec<(SimTime, Input)>,
    /// The run's RNG, to draw from as the run goes.
    pub rng: SimRng,
    /// Batch jobs that arrive in the window, and those left out because
    /// they are larger than the cluster.
    pub jobs: (u64, u64),
}

/// Builds `pair` of `scenario` with `seed`, ready to run.
pub fn prepare(scenario: &Scenario, pair: Pair, seed: u64) -> Prepared {
    let mut rng = SimRng::seed_from_u64(seed);
    let workloads = scenario.workloads(&mut rng);
    let config = HostingConfig {
        hosts: scenario.hosts,
        capacity: scenario.capacity,
        quantum: scenario.quantum,
        guests: workloads
            .iter()
            .map(|w| match w {
                Workload::Web { sizing, .. } => GuestConfig::Web(*sizing),
                Workload::Batch { .. } => GuestConfig::Batch,
            })
            .collect(),
        provisioning: pair.provisioning,
        placement: pair.placement,
        power: scenario.power,
        series: scenario.series,
        checkpoints: scenario.outages.checkpoints,
        federation: scenario.federation.clone(),
        thermal: scenario.thermal.clone(),
    };
    // Arrivals go in first, so a job arriving exactly at a tick is
    // requested at that tick (FIFO among equal times). Then, at each tick,
    // the web guests' demand for the period, then the tick itself.
    let mut inputs = Vec::new();
    let (mut jobs_arrived, mut jobs_too_large) = (0, 0);
    for (g, w) in workloads.iter().enumerate() {
        if let Workload::Batch { jobs, too_large } = w {
            jobs_too_large += *too_large as u64;
            for (at, job) in jobs {
                jobs_arrived += 1;
                inputs.push((
                    *at,
                    Input::JobArrival {
                        guest: guest_id(g),
                        job: *job,
                    },
                ));
            }
        }
    }
    for (k, t) in scenario.ticks().enumerate() {
        for (g, w) in workloads.iter().enumerate() {
            if let Workload::Web { demand, .. } = w {
                let rate = demand.get(k).copied().unwrap_or(0.0);
                inputs.push((
                    t,
                    Input::Demand {
                        guest: guest_id(g),
                        rate,
                    },
                ));
            }
        }
        inputs.push((t, Input::Tick));
    }
    // Outages come after everything else at the same instant. Failures
    // are drawn after the workloads, so a scenario without them draws
    // nothing more from the RNG.
    let horizon = scenario.duration;
    for (start, end, host) in scenario.outages.failures(&mut rng, scenario.hosts, horizon) {
        inputs.push((
            start,
            Input::HostDown {
                host,
                cause: DownCause::Failure,
            },
        ));
        if end < horizon {
            inputs.push((end, Input::HostUp { host }));
        }
    }
    for w in &scenario.outages.maintenance {
        if w.start >= horizon {
            continue;
        }
        inputs.push((w.drain, Input::Drain { host: w.host }));
        inputs.push((
            w.start,
            Input::HostDown {
                host: w.host,
                cause: DownCause::Maintenance,
            },
        ));
        if w.end < horizon {
            inputs.push((w.end, Input::HostUp { host: w.host }));
        }
    }
    // Stable: equal times keep the order above.
    inputs.sort_by_key(|(t, _)| *t);
    Prepared {
        hosting: Hosting::new(&config),
        inputs,
        rng,
        jobs: (jobs_arrived, jobs_too_large),
    }
}

/// What a run measured, read at its end.
pub struct Measured<'a> {
    /// The hosting system at the end.
    pub hosting: &'a Hosting,
    /// What migrations cost.
    pub cost: MigrationCost,
    /// Inputs handled.
    pub events: u64,
    /// Batch jobs arrived and too large (from [`Prepared::jobs`]).
    pub jobs: (u64, u64),
}

impl RunResult {
    /// The result of run `run` of `pair` with `seed` over `scenario.duration`.
    pub fn collect(scenario: &Scenario, pair: Pair, run: usize, seed: u64, m: Measured) -> RunResult {
        let hosting = m.hosting;
        let jobs_started = hosting
            .guests()
            .iter()
            .map(|g| match g {
                Guest::Batch(b) => b.started,
                Guest::Web(_) => 0,
            })
            .sum();
        RunResult {
            run,
            pair,
            seed,
            end: scenario.duration,
            hosts: scenario.hosts,
            broker: hosting.broker_stats(),
            site: hosting.site_stats(scenario.duration),
            mean_active_hosts: hosting
                .site_stats(scenario.duration)
                .mean_active_hosts(scenario.duration),
            events: m.events,
            jobs_arrived: m.jobs.0,
            jobs_started,
            jobs_too_large: m.jobs.1,
            queued_at_end: hosting.sites().iter().map(|s| s.queued_steps() as u64).sum(),
            cost: m.cost,
            fidelity: hosting.fidelity().summary(scenario.duration),
            fidelity_series: hosting.fidelity().series(scenario.duration),
            energy_kwh: hosting
                .sites()
                .iter()
                .map(|s| s.energy().kwh(scenario.duration))
                .sum(),
            power_ups: hosting.sites().iter().map(|s| s.energy().boots()).sum(),
            thermal: hosting.site().thermal().map(|t| t.result(scenario.duration)),
            final_placement: hosting
                .placement()
                .into_iter()
                .map(|(vm, h)| (vm.0, h.0))
                .collect(),
            federation: scenario.federation.as_ref().map(|f| FederationResult {
                sites: hosting
                    .sites()
                    .iter()
                    .enumerate()
                    .map(|(k, site)| SiteResult {
                        name: f.site_names.get(k).cloned().unwrap_or_default(),
                        hosts: site.used().len() as u32,
                        stats: site.stats().clone(),
                        mean_active_hosts: site.stats().mean_active_hosts(scenario.duration),
                        energy_kwh: site.energy().kwh(scenario.duration),
                        arrivals: hosting.arrivals().get(k).copied().unwrap_or(0),
                    })
                    .collect(),
                brokers: hosting
                    .brokers()
                    .iter()
                    .enumerate()
                    .map(|(i, b)| BrokerResult {
                        name: f.broker_names.get(i).cloned().unwrap_or_default(),
                        stats: b.stats(),
                        delegated_cores: b
                            .sites()
                            .map(|(_, c, _)| c.cpu_millicores() as f64 / 1000.0)
                            .sum(),
                        sites: b.sites().count() as u32,
                    })
                    .collect(),
                wan_moves: hosting.wan_moves(),
            }),
            // With outages in the scenario, or hosts lost in a live run.
            outages: Some(hosting.outages(scenario.duration))
                .filter(|o| !scenario.outages.is_empty() || o.host_failures > 0)
                .map(|site| OutageSummary {
                    site,
                    waiting_at_end: hosting.sites().iter().map(|s| s.waiting().len() as u64).sum(),
                    jobs: hosting
                        .guests()
                        .iter()
                        .map(|g| match g {
                            Guest::Batch(b) => (b.interrupted, b.lost_work_vm_ms),
                            Guest::Web(_) => (0, 0),
                        })
                        .collect(),
                }),
        }
    }
}

/// Runs `pair` of `scenario` with `seed`.
pub fn run_pair(
    scenario: &Scenario,
    pair: Pair,
    run: usize,
    seed: u64,
    options: RunOptions,
) -> Result<RunResult, RunError> {
    run_pair_observed(scenario, pair, run, seed, options, &|_| {})
}

/// [`run_pair`], calling `progress` every [`PROGRESS_EVERY`] events (the
/// results do not depend on it).
pub fn run_pair_observed(
    scenario: &Scenario,
    pair: Pair,
    run: usize,
    seed: u64,
    options: RunOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunResult, RunError> {
    let label = pair.label();
    let Prepared {
        mut hosting,
        inputs,
        mut rng,
        jobs,
    } = prepare(scenario, pair, seed);
    let mut queue: EventQueue<Event> = EventQueue::new();
    let sched = |e: ScheduleError| RunError::Schedule { run, source: e };
    for (at, input) in inputs {
        queue.schedule(at, Event::Input(input)).map_err(sched)?;
    }

    let check = options.check_invariants || cfg!(debug_assertions);
    let model = scenario.migration;
    let mut exec = match &scenario.federation {
        None => Execution::new(Box::new(model), model.bandwidth_mibps()),
        // Each site migrates by its own model over its own links.
        Some(f) => {
            let per_site = PerSite {
                offsets: hosting.site_offsets().to_vec(),
                models: f.sites.iter().map(|s| s.migration).collect(),
            };
            let links = per_site.host_bandwidths(scenario.hosts);
            Execution::with_hosts(Box::new(per_site), model.bandwidth_mibps(), links)
        }
    };
    let dirty_rates: Vec<DirtyRate> = scenario.guests.iter().map(|g| g.dirty()).collect();
    let mut dirty: VmMap<f64> = VmMap::new();
    // The earliest Wake in the queue that the execution asked for.
    let mut wake_at: Option<SimTime> = None;
    let model_err = |source| RunError::Model {
        run,
        pair: label.clone(),
        source,
    };
    let mut events = 0;
    let mut popped: u64 = 0;
    let every = options.check_every.max(1);
    let invariant = |at: SimTime, hosting: &Hosting, exec: &Execution| {
        let in_flight = hosting.in_flight();
        let consistent = if in_flight == exec.len() {
            hosting.check()
        } else {
            Err(format!(
                "the site has {in_flight} steps in flight, the execution {}",
                exec.len()
            ))
        };
        consistent.map_err(|message| RunError::Invariant {
            run,
            pair: label.clone(),
            at,
            message,
        })
    };
    let mut last = SimTime::ZERO;
    // What the model asked for since the last pass (reused buffers).
    let mut out = Output::default();
    let mut done = Vec::new();
    while let Some((now, event)) = queue.pop() {
        if now >= scenario.duration {
            break;
        }
        last = now;
        popped += 1;
        if popped.is_multiple_of(PROGRESS_EVERY) {
            progress(Progress { run, now, events });
        }
        match event {
            Event::Input(input) => {
                events += 1;
                hosting.handle_into(now, input, &mut out).map_err(model_err)?;
            }
            Event::Wake => {
                if wake_at == Some(now) {
                    wake_at = None;
                }
            }
        }
        // Start what the site started; report what completed, at once, until
        // nothing more completes at this instant.
        loop {
            // Stopped steps first: a VM's new step may follow its stopped one.
            for op in out.aborted.drain(..) {
                exec.cancel(now, op);
            }
            for (op, step) in out.started.drain(..) {
                let vm = step.vm();
                let rate = match dirty.get(vm) {
                    Some(r) => *r,
                    None => {
                        let g = hosting.guest_of(vm).map_or(0, |g| g.0 as usize);
                        let r = dirty_rates.get(g).map_or(0.0, |d| d.draw(&mut rng));
                        dirty.insert(vm, r);
                        r
                    }
                };
                let restart = hosting.start_delay(op, &step, scenario.outages.restart);
                exec.start_after(now, restart, op, step, rate);
            }

            for (at, input) in out.timers.drain(..) {
                queue.schedule(at, Event::Input(input)).map_err(sched)?;
            }
            done.clear();
            exec.advance(now, &mut done);
            if done.is_empty() {
                break;
            }
            for &(op, step) in &done {
                if let Step::Destroy { vm, .. } = step {
                    dirty.remove(vm);
                }
                events += 1;
                hosting
                    .handle_into(now, Input::OpDone(op), &mut out)
                    .map_err(model_err)?;
            }
        }
        if let Some(next) = exec.next_event()
            && wake_at.is_none_or(|w| next < w)
        {
            queue.schedule(next, Event::Wake).map_err(sched)?;
            wake_at = Some(next);
        }
        hosting.meter_fidelity(now, |vm| exec.allotted_cpu(vm));
        if check && popped.is_multiple_of(every) {
            invariant(now, &hosting, &exec)?;
        }
    }
    if check {
        invariant(last, &hosting, &exec)?;
    }
    progress(Progress {
        run,
        now: scenario.duration,
        events,
    });
    Ok(RunResult::collect(
        scenario,
        pair,
        run,
        seed,
        Measured {
            hosting: &hosting,
            cost: *exec.cost(),
            events,
            jobs,
        },
    ))
}

fn guest_id(i: usize) -> slivers_policy::GuestId {
    slivers_policy::GuestId(i as u32)
}
