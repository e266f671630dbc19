//! Several emulated hosts in memory, with a shared file namespace (the
//! "shared storage" for config files and saved images). Used by the
//! in-process and dry-run transports: nothing touches a real host or disk.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    FAILED_BADLY, Fault, FaultKind, HostConfig, HostState, MIGRATION_SUCCESSFUL, RESUMING_AT_SENDER,
    SENDER_ACKED, SENDER_GO, SUSPEND_FAILED, TARGET_FAILURE, TARGET_READY, TARGET_STARTED,
    TARGET_STARTUP_FAILED, TARGET_TRANSFER_COMPLETE, XlCommand, XlOutput,
};

/// How an emulated command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmuOutcome {
    /// It exited with this output.
    Exited(XlOutput),
    /// It hangs (an injected `timeout` fault); nothing changed.
    Hung,
}

#[derive(Default)]
struct Inner {
    hosts: BTreeMap<String, HostState>,
    files: BTreeMap<String, Vec<u8>>,
    faults: BTreeMap<String, Vec<Fault>>,
}

/// Emulated hosts in memory. All methods take `&self` and are safe to call
/// from several threads.
#[derive(Default)]
pub struct EmuCluster {
    inner: Mutex<Inner>,
}

impl EmuCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the maps half-updated in a way that
        // matters more than losing the cluster; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) a host with no guests.
    pub fn add_host(&self, config: HostConfig) {
        let name = config.host.clone();
        self.lock().hosts.insert(name, HostState::new(config));
    }

    /// A snapshot of a host's state.
    pub fn host(&self, host: &str) -> Option<HostState> {
        self.lock().hosts.get(host).cloned()
    }

    /// The hosts' names.
    pub fn hosts(&self) -> Vec<String> {
        self.lock().hosts.keys().cloned().collect()
    }

    /// Injects a fault on `host`, consumed by the first command it applies
    /// to (for a migration, the source host's faults count).
    pub fn inject(&self, host: &str, fault: Fault) {
        self.lock()
            .faults
            .entry(host.to_string())
            .or_default()
            .push(fault);
    }

    /// Writes a file into the shared namespace.
    pub fn write_file(&self, path: &str, bytes: &[u8]) {
        self.lock().files.insert(path.to_string(), bytes.to_vec());
    }

    /// Reads a file from the shared namespace.
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        self.lock().files.get(path).cloned()
    }

    /// Runs an `xl` argv on `host`; `None` if there is no such host. A
    /// live migration calls `transfer` between admitting the domain on the
    /// destination (`NAME--incoming`) and switching over, without holding
    /// the cluster lock (the in-process transport sleeps there).
    pub fn run(&self, host: &str, argv: &[String], transfer: &dyn Fn()) -> Option<EmuOutcome> {
        let mut inner = self.lock();
        if !inner.hosts.contains_key(host) {
            return None;
        }
        let cmd = match XlCommand::parse(argv) {
            Ok(cmd) => cmd,
            Err(out) => return Some(EmuOutcome::Exited(out)),
        };
        let fault = inner.faults.get_mut(host).and_then(|list| {
            let i = list.iter().position(|f| f.applies_to(&cmd))?;
            Some(list.remove(i).kind)
        });
        if fault == Some(FaultKind::Timeout) {
            return Some(EmuOutcome::Hung);
        }
        let Inner { hosts, files, .. } = &mut *inner;
        let state = hosts.get_mut(host)?;
        let out = match &cmd {
            XlCommand::Save { domain, .. } if fault == Some(FaultKind::Save) => match state.resolve(domain) {
                Some(_) => state.save_failure(domain),
                None => super::invalid_domain(domain),
            },
            XlCommand::Migrate {
                ssh, domain, dest, ..
            } => {
                let (ssh, domain, dest) = (ssh.clone(), domain.clone(), dest.clone());
                drop(inner);
                self.migrate(host, ssh.as_deref(), &domain, &dest, fault, transfer)
            }
            XlCommand::MigrateReceive => {
                XlOutput::fail("migrate-receive: no migration stream on stdin\n".into())
            }
            cmd => state.apply(cmd, files),
        };
        Some(EmuOutcome::Exited(out))
    }

    fn migrate(
        &self,
        src: &str,
        ssh: Option<&str>,
        domain: &str,
        dest: &str,
        fault: Option<FaultKind>,
        transfer: &dyn Fn(),
    ) -> XlOutput {
        let rune = format!("exec {} {dest} xl migrate-receive", ssh.unwrap_or("ssh"));
        let fail = |s: String| XlOutput {
            code: 1,
            stdout: String::new(),
            stderr: s,
        };
        let name;
        {
            let mut inner = self.lock();
            let dom = match inner.hosts.get(src).map(|h| h.migrate_out_begin(domain)) {
                Some(Ok(d)) => d,
                Some(Err(out)) => return out,
                None => return fail(format!("{src}: no such host\n")),
            };
            name = dom.name.clone();
            let Some(dst) = inner.hosts.get_mut(dest) else {
                return fail(format!(
                    "ssh: Could not resolve hostname {dest}: Name or service not known\n\
                     {rune}: reading banner: unexpected end of stream\n"
                ));
            };
            if fault == Some(FaultKind::MigrateBeforeHandshake) {
                return fail(format!(
                    "{TARGET_READY}{SUSPEND_FAILED}{TARGET_FAILURE}{RESUMING_AT_SENDER}"
                ));
            }
            if let Err(e) = dst.migrate_in_begin(&dom) {
                return fail(format!("{TARGET_READY}{e}{SUSPEND_FAILED}{RESUMING_AT_SENDER}"));
            }
        }
        transfer();
        let mut inner = self.lock();
        let mut log = format!("{TARGET_READY}{TARGET_TRANSFER_COMPLETE}");
        let renamed = match inner.hosts.get_mut(src) {
            Some(h) => h.migrate_out_rename_away(&name),
            None => Err(XlOutput::default()),
        };
        if let Err(out) = renamed {
            if let Some(d) = inner.hosts.get_mut(dest) {
                d.migrate_in_abort(&name);
            }
            return fail(log + &out.stderr + TARGET_FAILURE + RESUMING_AT_SENDER);
        }
        log += SENDER_ACKED;
        if fault == Some(FaultKind::MigrateAfterHandshake) {
            return fail(log + FAILED_BADLY);
        }
        log += SENDER_GO;
        let finished = match inner.hosts.get_mut(dest) {
            Some(d) => d.migrate_in_finish(&name),
            None => Err(String::new()),
        };
        if let Err(e) = finished {
            if let Some(d) = inner.hosts.get_mut(dest) {
                d.migrate_in_abort(&name);
            }
            if let Some(s) = inner.hosts.get_mut(src) {
                s.migrate_out_resume(&name);
            }
            return fail(log + &e + TARGET_FAILURE + TARGET_STARTUP_FAILED);
        }
        log += TARGET_STARTED;
        if fault == Some(FaultKind::MigrateLostReport) {
            return fail(log + FAILED_BADLY);
        }
        if let Some(s) = inner.hosts.get_mut(src) {
            s.migrate_out_finish(&name);
        }
        XlOutput {
            code: 0,
            stdout: String::new(),
            stderr: log + MIGRATION_SUCCESSFUL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn exited(o: Option<EmuOutcome>) -> XlOutput {
        match o {
            Some(EmuOutcome::Exited(out)) => out,
            other => panic!("{other:?}"),
        }
    }

    fn cluster() -> EmuCluster {
        let c = EmuCluster::new();
        c.add_host(HostConfig::new("a", 4096, 4));
        c.add_host(HostConfig::new("b", 4096, 4));
        c.write_file("/c/vm.cfg", b"name = \"vm\"\nmemory = 1024\n");
        assert_eq!(exited(c.run("a", &argv("xl create /c/vm.cfg"), &|| {})).code, 0);
        c
    }

    #[test]
    fn live_migration_moves_the_domain() {
        let c = cluster();
        let seen = std::cell::Cell::new(false);
        let out = exited(c.run("a", &argv("xl migrate vm b"), &|| {
            seen.set(true);
        }));
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stderr.ends_with("migration sender: Migration successful.\n"));
        assert!(seen.get());
        assert!(c.host("a").unwrap().domains.is_empty());
        assert!(c.host("b").unwrap().domains.contains_key("vm"));
        assert!(c.run("nohost", &argv("xl info"), &|| {}).is_none());
    }

    #[test]
    fn migration_faults() {
        let c = cluster();
        c.inject("a", "migrate-before-handshake".parse().unwrap());
        let out = exited(c.run("a", &argv("xl migrate vm b"), &|| {}));
        assert_eq!(out.code, 1);
        assert!(out.stderr.ends_with("Migration failed, resuming at sender.\n"));
        assert!(c.host("a").unwrap().domains.contains_key("vm"));
        assert!(c.host("b").unwrap().domains.is_empty());

        c.inject("a", "migrate-after-handshake:vm".parse().unwrap());
        let out = exited(c.run("a", &argv("xl migrate vm b"), &|| {}));
        assert!(out.stderr.contains("Domain state is now undefined"));
        assert!(c.host("a").unwrap().domains.contains_key("vm--migratedaway"));
        assert!(c.host("b").unwrap().domains.contains_key("vm--incoming"));

        let c = cluster();
        c.inject("a", "timeout".parse().unwrap());
        assert_eq!(c.run("a", &argv("xl list"), &|| {}), Some(EmuOutcome::Hung));
        // Consumed once.
        assert_eq!(exited(c.run("a", &argv("xl list"), &|| {})).code, 0);
        c.inject("a", "save".parse().unwrap());
        let out = exited(c.run("a", &argv("xl save vm /img"), &|| {}));
        assert!(out.stderr.contains("Failed to save domain, resuming domain"));
        assert!(c.host("a").unwrap().domains.contains_key("vm"));
        assert!(c.read_file("/img").is_none());
    }

    #[test]
    fn migration_refused_by_a_full_target() {
        let c = cluster();
        c.write_file("/c/fill.cfg", b"name = \"fill\"\nmemory = 3500\n");
        assert_eq!(exited(c.run("b", &argv("xl create /c/fill.cfg"), &|| {})).code, 0);
        let out = exited(c.run("a", &argv("xl migrate vm b"), &|| {}));
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("failed to free memory for the domain"));
        assert!(out.stderr.ends_with("Migration failed, resuming at sender.\n"));
        assert!(c.host("a").unwrap().domains.contains_key("vm"));
    }
}
