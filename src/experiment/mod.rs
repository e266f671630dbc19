//! Experiments: one run per policy pair of a scenario.

pub mod run;
pub mod shard;
pub mod slurm;
pub mod sweep;
pub mod vmreq;

pub use run::{Measured, Prepared, RunError, RunOptions, RunResult, prepare, run_pair};

use crate::scenario::Scenario;

/// Runs every pair of `scenario` with the scenario's seed, in order, calling
/// `progress` after each run. Results are in pair order.
pub fn run_scenario(
    scenario: &Scenario,
    options: RunOptions,
    mut progress: impl FnMut(&RunResult),
) -> Result<Vec<RunResult>, RunError> {
    let mut out = Vec::with_capacity(scenario.pairs.len());
    for (i, pair) in scenario.pairs.iter().enumerate() {
        let r = run_pair(scenario, *pair, i, scenario.seed, options)?;
        progress(&r);
        out.push(r);
    }
    Ok(out)
}
