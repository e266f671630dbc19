//! Consolidation on real (or emulated, or dry-run) hosts: `slivers live` on
//! a scenario with `[consolidation]`.
//!
//! The decisions are the simulation's: a [`ConsRun`] of the chosen policy
//! (the policy crate's `plan`, the same code as `slivers run`) records each
//! placement, migration and removal with its simulated time, and each is
//! then carried out through an [`Executor`] in that order: `create` on the
//! host chosen, `migrate` between the two hosts, `destroy` when the VM's
//! trace ends. The utilisation that drives the decisions is the trace's
//! (a live site would read it from its monitoring); the executor's own
//! timing does not feed back into the plan, so a dry run's transcript is
//! exactly the simulated run's decisions as `xl` commands.
//!
//! A VM becomes a one-vCPU domain of its sliver's memory, uncapped, with a
//! scheduler weight proportional to its MIPS (256 per 1,000 MIPS) so that
//! an overloaded host shares its CPUs as the model does (in proportion).
//! Real hosts cannot overbook memory: scenarios whose memory ratio is
//! above 1 are refused.

use std::sync::Arc;

use slivers_policy::consolidation::Consolidation;
use slivers_policy::{HostId, Resources, VmId};
use slivers_xl_emu::HostConfig;
use slivers_xl_emu::cluster::EmuCluster;

use super::executor::{ExecError, Executor, VmSpec};
use crate::engine::SimTime;
use crate::experiment::consolidate::{ConsRun, ConsRunError, ConsRunResult, Decision};
use crate::scenario::consolidation::ConsScenario;
use crate::trace::utilization::UtilizationTrace;

/// Why a live consolidation run stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveConsError {
    /// The scenario cannot run on real hosts.
    #[error("{0}")]
    Unsupported(String),
    /// The simulation of the decisions failed.
    #[error(transparent)]
    Run(#[from] ConsRunError),
    /// An executor operation failed.
    #[error("at {at}, {what}")]
    Exec {
        /// The decision's simulated time.
        at: SimTime,
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<ExecError>,
    },
}

/// The hosts of `scenario` as emulated hosts named `names` (each type's
/// memory and cores).
pub fn emulated_cluster(scenario: &ConsScenario, names: &[String]) -> Arc<EmuCluster> {
    let cluster = Arc::new(EmuCluster::new());
    for (name, t) in names.iter().zip(scenario.host_layout()) {
        let ty = &scenario.host_types[t];
        cluster.add_host(HostConfig::new(name, ty.capacity.memory_mib(), ty.cores as u32));
    }
    cluster
}

/// The domain of VM `vm` with sliver `size`, named `{prefix}{index}`.
pub fn vm_spec(prefix: &str, vm: VmId, size: Resources) -> VmSpec {
    VmSpec {
        name: format!("{prefix}{}", vm.0),
        memory_mib: size.memory_mib(),
        max_memory_mib: size.memory_mib(),
        vcpus: 1,
        max_vcpus: 1,
        // CPU is in MIPS in a consolidation scenario.
        cpu_weight: (size.0[0] * 256 / 1000).clamp(1, 65_535) as u32,
        cap_percent: 0,
        bandwidth_mbps: size.0[2],
        disk_gib: size.0[3],
    }
}

/// Refuses what a live run of `scenario` on hosts `names` cannot do, before
/// anything is started: overbooked memory, or a host count that differs.
pub fn check(scenario: &ConsScenario, names: &[String]) -> Result<(), LiveConsError> {
    if scenario.overbooking[1] > 1.0 {
        return Err(LiveConsError::Unsupported(format!(
            "{}: key `consolidation.overbooking.memory`: expected at most 1 for a live run (real hosts cannot overbook memory), found {}",
            scenario.file.display(),
            scenario.overbooking[1]
        )));
    }
    if names.len() != scenario.hosts as usize {
        return Err(LiveConsError::Unsupported(format!(
            "--hosts: expected {} host names (the scenario's hosts), found {}",
            scenario.hosts,
            names.len()
        )));
    }
    Ok(())
}

/// Runs `policy` on `scenario` with `trace` and carries out its decisions
/// on `executor` (call [`check`] first, before anything is started), whose hosts are `names` (one per scenario host, in host
/// order); `progress` is told each decision done. Returns what the run
/// measured and the number of executor operations.
pub fn run_live(
    scenario: &ConsScenario,
    policy: Consolidation,
    trace: &UtilizationTrace,
    executor: &dyn Executor,
    names: &[String],
    prefix: &str,
    progress: &dyn Fn(usize, usize),
) -> Result<(ConsRunResult, u64), LiveConsError> {
    let result = ConsRun::new(scenario, policy, trace, scenario.seed, true, true)?.run()?;
    let sizes = scenario.vm_sizes(trace);
    let host = |h: HostId| names[h.index()].as_str();
    let mut ops = 0;
    let total = result.decisions.len();
    for (i, d) in result.decisions.iter().enumerate() {
        let (at, what, outcome) = match *d {
            Decision::Place { at, vm, host: h } => {
                let spec = vm_spec(prefix, vm, sizes[vm.0 as usize]);
                let what = format!("creating {} on {}", spec.name, host(h));
                (at, what, executor.create(host(h), &spec))
            }
            Decision::Migrate { at, vm, from, to } => {
                let name = format!("{prefix}{}", vm.0);
                let what = format!("migrating {name} from {} to {}", host(from), host(to));
                (at, what, executor.migrate(host(from), host(to), &name))
            }
            Decision::Remove {
                at,
                vm,
                host: h,
                migrating_to,
            } => {
                let name = format!("{prefix}{}", vm.0);
                let what = format!("destroying {name} on {}", host(h));
                let mut outcome = executor.destroy(host(h), &name);
                if let (Ok(()), Some(t)) = (&outcome, migrating_to) {
                    outcome = executor.destroy(host(t), &name);
                }
                (at, what, outcome)
            }
        };
        outcome.map_err(|source| LiveConsError::Exec {
            at,
            what,
            source: Box::new(source),
        })?;
        ops += 1;
        progress(i + 1, total);
    }
    Ok((result, ops))
}
