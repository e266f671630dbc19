//! Commands on an in-memory [`EmuCluster`] that take time: each `xl`
//! command that changes a domain is a [`Timed`] kind, and a [`Delay`] says
//! how long each kind takes (the live runtime's emulated executor asks its
//! migration model). [`InProcess`] runs commands with those delays and a
//! timeout.

use std::sync::Arc;
use std::time::Duration;

use crate::XlCommand;
use crate::cfg::{self, CfgValue};
use crate::cluster::{EmuCluster, EmuOutcome};

/// A command whose duration the emulation models, with the memory it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed {
    /// `create`, `mem-set`, `vcpu-set` or `destroy`: a fixed operation.
    Operation,
    /// `migrate` of a domain of this many MiB.
    Migrate {
        /// The domain's memory target, MiB (0 if it is not on the host).
        memory_mib: u64,
    },
    /// `save` of a domain to storage.
    Save {
        /// The domain's memory target, MiB (0 if it is not on the host).
        memory_mib: u64,
    },
    /// `restore` of a domain from storage.
    Restore {
        /// `memory` of the config it is restored with, MiB (0 without one).
        memory_mib: u64,
    },
}

/// How long each kind of command takes.
pub type Delay = Box<dyn Fn(Timed) -> Duration + Send + Sync>;

impl Timed {
    /// What `argv` is on `host` of `cluster`: `None` for a command that
    /// takes no modelled time (a query, a rename) or does not parse.
    pub fn of(cluster: &EmuCluster, host: &str, argv: &[String]) -> Option<Timed> {
        let memory_of = |domain: &str| {
            cluster
                .host(host)
                .and_then(|s| s.domains.get(domain).map(|d| d.target_memkb / 1024))
                .unwrap_or(0)
        };
        match XlCommand::parse(argv).ok()? {
            XlCommand::Create { .. }
            | XlCommand::MemSet { .. }
            | XlCommand::VcpuSet { .. }
            | XlCommand::Destroy { .. } => Some(Timed::Operation),
            XlCommand::Migrate { domain, .. } => Some(Timed::Migrate {
                memory_mib: memory_of(&domain),
            }),
            XlCommand::Save { domain, .. } => Some(Timed::Save {
                memory_mib: memory_of(&domain),
            }),
            XlCommand::Restore { cfg, .. } => Some(Timed::Restore {
                memory_mib: cfg.map_or(0, |c| cfg_memory(cluster, &c)),
            }),
            _ => None,
        }
    }
}

/// `memory` of the config file `path` in the cluster's shared files.
fn cfg_memory(cluster: &EmuCluster, path: &str) -> u64 {
    let Some(bytes) = cluster.read_file(path) else {
        return 0;
    };
    match cfg::parse(&String::from_utf8_lossy(&bytes), path).map(|c| c.get("memory").cloned()) {
        Ok(Some(CfgValue::Int(mib))) => u64::try_from(mib).unwrap_or(0),
        _ => 0,
    }
}

/// Runs commands on an [`EmuCluster`], each taking the time its [`Delay`]
/// says (none without one). A live migration takes its time between
/// admitting `NAME--incoming` on the destination and switching over; any
/// other command before it runs. A command whose delay is longer than the
/// timeout hangs for the timeout without running.
pub struct InProcess {
    cluster: Arc<EmuCluster>,
    delay: Option<Delay>,
}

impl InProcess {
    /// Commands run at once.
    pub fn new(cluster: Arc<EmuCluster>) -> Self {
        InProcess { cluster, delay: None }
    }

    /// Commands take the time `delay` gives their kind.
    pub fn with_delay(mut self, delay: Delay) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The emulated hosts.
    pub fn cluster(&self) -> &Arc<EmuCluster> {
        &self.cluster
    }

    /// Runs `argv` on `host`: `None` if there is no such host,
    /// [`EmuOutcome::Hung`] if it did not end within `timeout`.
    pub fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Option<EmuOutcome> {
        let timed = self.delay.as_ref().and_then(|d| {
            let t = Timed::of(&self.cluster, host, argv)?;
            Some((t, d(t)))
        });
        let delay = timed.map_or(Duration::ZERO, |(_, d)| d);
        if delay > timeout {
            std::thread::sleep(timeout);
            return Some(EmuOutcome::Hung);
        }
        let is_migrate = matches!(timed, Some((Timed::Migrate { .. }, _)));
        if !is_migrate && !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let transfer = || {
            if is_migrate && !delay.is_zero() {
                std::thread::sleep(delay);
            }
        };
        self.cluster.run(host, argv, &transfer)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::HostConfig;

    fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn each_command_has_its_kind_and_memory() {
        let cluster = EmuCluster::new();
        cluster.add_host(HostConfig::new("h1", 4096, 2));
        cluster
            .write_file("/c/vm1.cfg", b"name = \"vm1\"\nmemory = 512\nvcpus = 1\n")
            .unwrap();
        let t = |line: &str| Timed::of(&cluster, "h1", &argv(line));
        assert_eq!(t("xl create /c/vm1.cfg"), Some(Timed::Operation));
        assert!(matches!(
            cluster.run("h1", &argv("xl create /c/vm1.cfg"), &|| {}),
            Some(EmuOutcome::Exited(o)) if o.code == 0
        ));
        assert_eq!(t("xl mem-set vm1 256"), Some(Timed::Operation));
        assert_eq!(t("xl vcpu-set vm1 1"), Some(Timed::Operation));
        assert_eq!(t("xl destroy vm1"), Some(Timed::Operation));
        assert_eq!(t("xl migrate vm1 h2"), Some(Timed::Migrate { memory_mib: 512 }));
        assert_eq!(t("xl migrate vm9 h2"), Some(Timed::Migrate { memory_mib: 0 }));
        assert_eq!(t("xl save vm1 /img/vm1"), Some(Timed::Save { memory_mib: 512 }));
        assert_eq!(
            t("xl restore /c/vm1.cfg /img/vm1"),
            Some(Timed::Restore { memory_mib: 512 })
        );
        assert_eq!(t("xl restore /img/vm1"), Some(Timed::Restore { memory_mib: 0 }));
        assert_eq!(t("xl list"), None);
        assert_eq!(t("xl info"), None);
    }

    #[test]
    fn a_delay_longer_than_the_timeout_hangs() {
        let cluster = Arc::new(EmuCluster::new());
        cluster.add_host(HostConfig::new("h1", 1024, 1));
        let run = InProcess::new(cluster).with_delay(Box::new(|t| match t {
            Timed::Operation => Duration::from_millis(30),
            _ => Duration::ZERO,
        }));
        let start = Instant::now();
        let out = run.run("h1", &argv("xl destroy vm1"), Duration::from_secs(1));
        assert!(matches!(out, Some(EmuOutcome::Exited(_))), "{out:?}");
        assert!(start.elapsed() >= Duration::from_millis(30));
        let out = run.run("h1", &argv("xl destroy vm1"), Duration::from_millis(5));
        assert_eq!(out, Some(EmuOutcome::Hung));
        assert_eq!(run.run("h2", &argv("xl info"), Duration::from_secs(1)), None);
    }
}
