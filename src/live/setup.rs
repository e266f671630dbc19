//! Building the executor a live run uses, from the choices `slivers live`
//! offers: the one place that knows how each executor is assembled.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use slivers_policy::plan::Step;
use slivers_policy::{HostId, Resources, VmId};
use slivers_xl_emu::HostConfig;
use slivers_xl_emu::cluster::EmuCluster;
use slivers_xl_emu::timed::{Delay, Timed};

use super::driver::Pace;
use super::executor::Executor;
use super::transport::{InProcessTransport, LocalTransport, SshTransport, Transport, dry_run};
use super::xen::{XenConfig, XenExecutor};
use crate::model::migration::run_alone;
use crate::scenario::Scenario;

/// Who carries out the steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Record every xl command to `commands` (appending if `append`) and
    /// answer from in-memory hosts; simulated time only.
    DryRun {
        /// The transcript file.
        commands: PathBuf,
        /// Append (a resumed run) rather than truncate.
        append: bool,
    },
    /// Emulated hosts kept in the directory `state` (so that a resumed run
    /// finds the VMs an interrupted one created), with the migration
    /// model's delays, on the wall clock.
    Emulated {
        /// Where the hosts are kept ([`EmuCluster::stored`]).
        state: PathBuf,
        /// Continue a run: its VMs are expected there. A new run refuses
        /// hosts that hold VMs.
        resume: bool,
    },
    /// xl on each host over ssh.
    Ssh {
        /// The ssh command (default `ssh -o BatchMode=yes`).
        command: Option<String>,
        /// The user (default root).
        user: Option<String>,
        /// The key.
        key: Option<PathBuf>,
    },
    /// xl run locally (`xl`, or an emulator that serves several hosts, told
    /// the host by the environment variable `host_env`).
    Local {
        /// The xl program.
        xl: PathBuf,
        /// Variable set to the host's name for each call.
        host_env: Option<String>,
    },
}

/// The executor for `access` over `hosts` of `scenario`, and the pace it
/// runs at (`scale` simulated seconds per wall second, except for a dry
/// run, which has no clock).
pub fn connect(
    scenario: &Scenario,
    hosts: &[String],
    access: &Access,
    config: XenConfig,
    scale: f64,
) -> std::io::Result<(Arc<dyn Executor>, Pace)> {
    let wall = Pace::Wall { scale };
    let transport: Arc<dyn Transport> = match access {
        Access::DryRun { commands, append } => {
            let file = if *append {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(commands)?
            } else {
                std::fs::File::create(commands)?
            };
            let t = dry_run(emulated_cluster(scenario, hosts), Box::new(file));
            return Ok((Arc::new(XenExecutor::new(Arc::new(t), config)), Pace::Virtual));
        }
        Access::Emulated { state, resume } => {
            let cluster = Arc::new(EmuCluster::stored(state, &host_configs(scenario, hosts))?);
            if !resume {
                refuse_leftovers(&cluster, state)?;
            }
            return Ok((
                Arc::new(emulated_executor(scenario, cluster, scale, config)),
                wall,
            ));
        }
        Access::Ssh { command, user, key } => {
            let mut t = SshTransport::new().user(user.as_deref()).key(key.as_deref());
            if let Some(cmd) = command {
                t = t.ssh_command(cmd);
            }
            Arc::new(t)
        }
        Access::Local { xl, host_env } => {
            let mut t = LocalTransport::new(xl);
            if let Some(var) = host_env {
                t = t.host_name_var(var);
            }
            Arc::new(t)
        }
    };
    Ok((Arc::new(XenExecutor::new(transport, config)), wall))
}

/// The size of host `host` of `scenario`, in the run's numbering: with
/// `[[site]]`s, its site's (site k's hosts follow sites 0..k-1's), else
/// the scenario's one size. A host past the last site's is given the
/// scenario's `[hosts]` size.
pub fn host_capacity(scenario: &Scenario, host: HostId) -> Resources {
    let Some(fed) = &scenario.federation else {
        return scenario.capacity;
    };
    let mut first = 0u64;
    for site in &fed.sites {
        let end = first + u64::from(site.hosts);
        if u64::from(host.0) < end {
            return site.capacity;
        }
        first = end;
    }
    scenario.capacity
}

/// One emulated host per scenario host (its site's memory and whole
/// CPUs), named `hosts` (the i-th is host i in the run's numbering).
fn host_configs(scenario: &Scenario, hosts: &[String]) -> Vec<HostConfig> {
    hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let size = host_capacity(scenario, HostId(i as u32));
            let cpus = (size.cpu_millicores() / 1000).max(1) as u32;
            HostConfig::new(h, size.memory_mib(), cpus)
        })
        .collect()
}

/// In-memory emulated hosts, one per scenario host (its site's memory and
/// whole CPUs), named `hosts`.
pub fn emulated_cluster(scenario: &Scenario, hosts: &[String]) -> Arc<EmuCluster> {
    let cluster = Arc::new(EmuCluster::new());
    for config in host_configs(scenario, hosts) {
        cluster.add_host(config);
    }
    cluster
}

/// An error if the emulated hosts kept in `state` hold VMs: a new run
/// would find another run's VMs there.
fn refuse_leftovers(cluster: &EmuCluster, state: &Path) -> std::io::Result<()> {
    let held: Vec<String> = cluster
        .hosts()
        .iter()
        .filter_map(|h| cluster.host(h))
        .filter(|s| !s.domains.is_empty())
        .map(|s| {
            let names: Vec<&str> = s.domains.keys().map(String::as_str).collect();
            format!("{}: {}", s.config.host, names.join(", "))
        })
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "the emulated hosts in {} hold the VMs of an earlier run ({}): continue it with --resume, or remove {} to start afresh",
        state.display(),
        held.join("; "),
        state.display()
    )))
}

/// The `emulated` executor: `cluster` reached through the Xen executor,
/// every command delayed by its modelled duration divided by `scale`.
pub fn emulated_executor(
    scenario: &Scenario,
    cluster: Arc<EmuCluster>,
    scale: f64,
    config: XenConfig,
) -> XenExecutor {
    let params = scenario.migration;
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    // Each kind of command takes what the migration model says of the
    // step it carries out (alone on the network, not dirtying memory).
    let size = |mib: u64| Resources::new(0, mib, 0, 0);
    let (vm, a, b) = (VmId(0), HostId(0), HostId(1));
    let delay: Delay = Box::new(move |timed: Timed| {
        let modelled = match timed {
            Timed::Operation => params.op_latency,
            Timed::Migrate { memory_mib } => {
                let size = size(memory_mib);
                run_alone(
                    &params,
                    &Step::Migrate {
                        vm,
                        from: a,
                        to: b,
                        size_from: size,
                        size_to: size,
                    },
                    0.0,
                )
                .total
            }
            Timed::Save { memory_mib } => {
                let size = size(memory_mib);
                run_alone(&params, &Step::Suspend { vm, host: a, size }, 0.0).total
            }
            Timed::Restore { memory_mib } => {
                let size = size(memory_mib);
                run_alone(&params, &Step::Restore { vm, host: a, size }, 0.0).total
            }
        };
        Duration::from_secs_f64(modelled.as_secs_f64() / scale)
    });
    let transport = InProcessTransport::new(cluster).with_delay(delay);
    XenExecutor::new(Arc::new(transport), config)
}
