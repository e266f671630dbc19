//! One simulated run: a scenario, one policy pair, one seed.
//!
//! The run owns its event queue, its hosting system and its RNG. It feeds
//! every event to [`Hosting::handle`] and applies the steps the site starts
//! with the durations of the scenario's migration model.

use crate::engine::{EventQueue, ScheduleError, SimTime};
use crate::model::{BrokerStats, GuestConfig, Hosting, HostingConfig, Input, ModelError, SiteStats};
use crate::rng::SimRng;
use crate::scenario::{Pair, Scenario, Workload};

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The model broke its protocol (a bug).
    #[error("run {run} ({pair}): {source}")]
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
    #[error("run {run}: {source}")]
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
    /// Check every invariant after every event (always on in debug builds).
    pub check_invariants: bool,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Index of the run in its experiment.
    pub run: usize,
    /// The policy pair.
    pub pair: Pair,
    /// The seed of the run's RNG.
    pub seed: u64,
    /// Simulated span.
    pub end: SimTime,
    /// Broker counters.
    pub broker: BrokerStats,
    /// Site counters and the migration series.
    pub site: SiteStats,
    /// Time-weighted mean of active hosts.
    pub mean_active_hosts: f64,
    /// Events handled.
    pub events: u64,
    /// Batch jobs that arrived in the window.
    pub jobs_arrived: u64,
    /// Batch jobs granted.
    pub jobs_started: u64,
    /// Batch jobs left out because they are larger than the cluster.
    pub jobs_too_large: u64,
    /// Site steps planned but not started when the run ended (a backlog
    /// means migrations are slow relative to the allocation period).
    pub queued_at_end: u64,
}

/// Runs `pair` of `scenario` with `seed`.
pub fn run_pair(
    scenario: &Scenario,
    pair: Pair,
    run: usize,
    seed: u64,
    options: RunOptions,
) -> Result<RunResult, RunError> {
    let label = pair.label();
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
    };
    let mut hosting = Hosting::new(&config);
    let mut queue: EventQueue<Input> = EventQueue::new();
    let sched = |e: ScheduleError| RunError::Schedule { run, source: e };

    // Arrivals go in first, so a job arriving exactly at a tick is
    // requested at that tick (FIFO among equal times). Then, at each tick,
    // the web guests' demand for the period, then the tick itself.
    let (mut jobs_arrived, mut jobs_too_large) = (0, 0);
    for (g, w) in workloads.iter().enumerate() {
        if let Workload::Batch { jobs, too_large } = w {
            jobs_too_large += *too_large as u64;
            for (at, job) in jobs {
                jobs_arrived += 1;
                queue
                    .schedule(
                        *at,
                        Input::JobArrival {
                            guest: guest_id(g),
                            job: *job,
                        },
                    )
                    .map_err(sched)?;
            }
        }
    }
    for (k, t) in scenario.ticks().enumerate() {
        for (g, w) in workloads.iter().enumerate() {
            if let Workload::Web { demand, .. } = w {
                let rate = demand.get(k).copied().unwrap_or(0.0);
                queue
                    .schedule(
                        t,
                        Input::Demand {
                            guest: guest_id(g),
                            rate,
                        },
                    )
                    .map_err(sched)?;
            }
        }
        queue.schedule(t, Input::Tick).map_err(sched)?;
    }

    let check = options.check_invariants || cfg!(debug_assertions);
    let model = scenario.migration_model();
    let mut events = 0;
    while let Some((now, input)) = queue.pop() {
        if now >= scenario.duration {
            break;
        }
        events += 1;
        let out = hosting.handle(now, input).map_err(|source| RunError::Model {
            run,
            pair: label.clone(),
            source,
        })?;
        for (op, step) in out.started {
            queue.schedule_in(model.duration(&step), Input::OpDone(op));
        }
        for (at, input) in out.timers {
            queue.schedule(at, input).map_err(sched)?;
        }
        if check {
            hosting.check().map_err(|message| RunError::Invariant {
                run,
                pair: label.clone(),
                at: now,
                message,
            })?;
        }
    }
    let jobs_started = hosting
        .guests()
        .iter()
        .map(|g| match g {
            crate::model::guest::Guest::Batch(b) => b.started,
            crate::model::guest::Guest::Web(_) => 0,
        })
        .sum();
    Ok(RunResult {
        run,
        pair,
        seed,
        end: scenario.duration,
        broker: hosting.broker_stats(),
        site: hosting.site_stats().clone(),
        mean_active_hosts: hosting.site_stats().mean_active_hosts(scenario.duration),
        events,
        jobs_arrived,
        jobs_started,
        jobs_too_large,
        queued_at_end: hosting.site().queued_steps() as u64,
    })
}

fn guest_id(i: usize) -> slivers_policy::GuestId {
    slivers_policy::GuestId(i as u32)
}
