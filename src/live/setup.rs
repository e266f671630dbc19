//! Building the executor a live run uses, from the choices `slivers live`
//! offers: the one place that knows how each executor is assembled.

use std::path::PathBuf;
use std::sync::Arc;

use super::driver::{Pace, emulated_cluster, emulated_executor};
use super::executor::Executor;
use super::transport::{LocalTransport, SshTransport, Transport, dry_run};
use super::xen::{XenConfig, XenExecutor};
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
    /// In-memory hosts with the migration model's delays, on the wall clock.
    Emulated,
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
        Access::Emulated => return Ok((Arc::new(emulated_executor(scenario, hosts, scale, config)), wall)),
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
