//! Experiments: one run per policy pair of a scenario.

pub mod consolidate;
pub mod run;
pub mod shard;
pub mod slurm;
pub mod sweep;
pub mod vmreq;

pub use crate::outcome::RunResult;
pub use run::{
    Measured, PROGRESS_EVERY, Prepared, Progress, RunError, RunOptions, prepare, run_pair, run_pair_observed,
};

use rayon::prelude::*;

use crate::scenario::Scenario;

/// Runs every pair of `scenario` with the scenario's seed, the pairs in
/// parallel (each run is independent and owns its RNG, so the results are
/// the same whatever the thread count), calling `done` after each run.
/// Results are in pair order.
pub fn run_scenario(
    scenario: &Scenario,
    options: RunOptions,
    done: impl Fn(&RunResult) + Sync,
) -> Result<Vec<RunResult>, RunError> {
    run_scenario_observed(scenario, options, done, &|_| {})
}

/// [`run_scenario`], also reporting each run's [`Progress`].
pub fn run_scenario_observed(
    scenario: &Scenario,
    options: RunOptions,
    done: impl Fn(&RunResult) + Sync,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<RunResult>, RunError> {
    scenario
        .pairs
        .par_iter()
        .enumerate()
        .map(|(i, pair)| {
            let r = run_pair_observed(scenario, *pair, i, scenario.seed, options, progress)?;
            done(&r);
            Ok(r)
        })
        .collect()
}
