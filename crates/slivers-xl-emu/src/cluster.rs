//! Several emulated hosts in memory, with a shared file namespace (the
//! "shared storage" for config files and saved images). Used by the
//! in-process and dry-run transports: nothing touches a real host.
//!
//! A cluster may also be kept in a directory ([`EmuCluster::stored`]), so
//! that a process started later finds the domains an earlier one left, as
//! a controller restarted against real hosts does:
//! * `DIR/hosts/<host>/`: each host as the `slivers-xl-emu` binary keeps
//!   it ([`crate::dir`]), so that the binary can read it too;
//! * `DIR/files/PATH`: the shared file at `/PATH`.
//!
//! Every command's changes are written before it returns: a host's new and
//! changed domains before the ones it dropped, and a migration's
//! destination before its source, so that a process killed while writing
//! leaves a domain on two hosts at worst (which reconciliation resolves),
//! never on none.
//!
//! A host can fail ([`EmuCluster::power_off`], or an injected `host-down`
//! fault): it loses its domains and answers nothing (the transports report
//! it unreachable) until [`EmuCluster::power_on`]. A stored cluster marks
//! it with the file `DIR/hosts/<host>/unreachable`, as the binary does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::dir::{init_host, load_host, store_host, write_atomic};
use super::{
    EmuFiles, FAILED_BADLY, Fault, FaultKind, HostConfig, HostState, MIGRATION_SUCCESSFUL,
    RESUMING_AT_SENDER, SENDER_ACKED, SENDER_GO, SUSPEND_FAILED, TARGET_FAILURE, TARGET_READY,
    TARGET_STARTED, TARGET_STARTUP_FAILED, TARGET_TRANSFER_COMPLETE, UNREACHABLE, XlCommand, XlOutput,
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
    files: Files,
    faults: BTreeMap<String, Vec<Fault>>,
    /// A stored cluster: each host as last written.
    stored: BTreeMap<String, HostState>,
    /// Hosts that failed and answer nothing.
    down: BTreeSet<String>,
}

/// The shared files: in memory, or in a stored cluster's `files/`.
#[derive(Default)]
struct Files {
    memory: BTreeMap<String, Vec<u8>>,
    dir: Option<PathBuf>,
}

impl Files {
    /// Where the shared file `path` is kept in `dir`: `dir/path` without
    /// its leading `/`; a path that would leave `dir` is refused.
    fn on_disk(dir: &Path, path: &str) -> std::io::Result<PathBuf> {
        let rel = Path::new(path.trim_start_matches('/'));
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{path}: not a path the emulated hosts share"),
            ));
        }
        Ok(dir.join(rel))
    }
}

impl EmuFiles for Files {
    fn read(&mut self, path: &str) -> std::io::Result<Vec<u8>> {
        match &self.dir {
            Some(dir) => std::fs::read(Self::on_disk(dir, path)?),
            None => self.memory.read(path),
        }
    }

    fn write(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        match &self.dir {
            Some(dir) => write_atomic(&Self::on_disk(dir, path)?, bytes),
            None => self.memory.write(path, bytes),
        }
    }
}

/// Emulated hosts in memory (and, for a stored cluster, in a directory).
/// All methods take `&self` and are safe to call from several threads.
#[derive(Default)]
pub struct EmuCluster {
    inner: Mutex<Inner>,
    /// A stored cluster's `DIR/hosts`.
    hosts_dir: Option<PathBuf>,
}

impl EmuCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cluster of `hosts` kept in `dir` (see the module's documentation):
    /// a host already stored there keeps its domains and takes its
    /// capacity from `hosts`; the others start empty. Files already stored
    /// stay readable.
    pub fn stored(dir: &Path, hosts: &[HostConfig]) -> std::io::Result<EmuCluster> {
        let hosts_dir = dir.join("hosts");
        let mut inner = Inner {
            files: Files {
                memory: BTreeMap::new(),
                dir: Some(dir.join("files")),
            },
            ..Inner::default()
        };
        for config in hosts {
            init_host(&hosts_dir, config)?;
            let state = load_host(&hosts_dir, &config.host)?;
            if hosts_dir.join(&config.host).join(UNREACHABLE).exists() {
                inner.down.insert(config.host.clone());
            }
            inner.stored.insert(config.host.clone(), state.clone());
            inner.hosts.insert(config.host.clone(), state);
        }
        Ok(EmuCluster {
            inner: Mutex::new(inner),
            hosts_dir: Some(hosts_dir),
        })
    }

    /// Writes what changed on `hosts`, in order, to a stored cluster.
    fn store(&self, inner: &mut Inner, hosts: &[&str]) -> std::io::Result<()> {
        let Some(root) = &self.hosts_dir else {
            return Ok(());
        };
        for &host in hosts {
            let Some(new) = inner.hosts.get(host) else {
                continue;
            };
            let old = match inner.stored.get(host) {
                Some(old) => old.clone(),
                // Added after the cluster was opened: stored afresh.
                None => {
                    init_host(root, &new.config)?;
                    load_host(root, host)?
                }
            };
            if *new != old {
                store_host(root, &old, new)?;
                inner.stored.insert(host.to_string(), new.clone());
            }
        }
        Ok(())
    }

    /// `out`, unless writing what changed on `hosts` fails.
    fn stored_or_failed(&self, hosts: &[&str], out: XlOutput) -> XlOutput {
        match self.store(&mut self.lock(), hosts) {
            Ok(()) => out,
            Err(e) => XlOutput::fail(format!("slivers-xl-emu: {}: {e}\n", hosts.join(", "))),
        }
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

    /// Makes `host` fail: it loses its domains and answers no command
    /// until [`Self::power_on`]. False if there is no such host. A stored
    /// cluster writes the host's `unreachable` file first, then drops its
    /// domains.
    pub fn power_off(&self, host: &str) -> std::io::Result<bool> {
        let mut inner = self.lock();
        if !inner.hosts.contains_key(host) {
            return Ok(false);
        }
        if let Some(root) = &self.hosts_dir {
            write_atomic(&root.join(host).join(UNREACHABLE), b"")?;
        }
        inner.down.insert(host.to_string());
        if let Some(state) = inner.hosts.get_mut(host) {
            state.domains.clear();
        }
        self.store(&mut inner, &[host])?;
        Ok(true)
    }

    /// Brings a failed `host` back, with no domains (a failed host lost
    /// them). False if there is no such host.
    pub fn power_on(&self, host: &str) -> std::io::Result<bool> {
        let mut inner = self.lock();
        let Some(state) = inner.hosts.get_mut(host) else {
            return Ok(false);
        };
        state.domains.clear();
        self.store(&mut inner, &[host])?;
        if let Some(root) = &self.hosts_dir {
            match std::fs::remove_file(root.join(host).join(UNREACHABLE)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        inner.down.remove(host);
        Ok(true)
    }

    /// True if `host` failed and has not been powered on again.
    pub fn is_down(&self, host: &str) -> bool {
        self.lock().down.contains(host)
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
    pub fn write_file(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.lock().files.write(path, bytes)
    }

    /// Reads a file from the shared namespace.
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        self.lock().files.read(path).ok()
    }

    /// Runs an `xl` argv on `host`; `None` if there is no such host. A
    /// live migration calls `transfer` between admitting the domain on the
    /// destination (`NAME--incoming`) and switching over, without holding
    /// the cluster lock (the in-process transport sleeps there).
    pub fn run(&self, host: &str, argv: &[String], transfer: &dyn Fn()) -> Option<EmuOutcome> {
        let mut inner = self.lock();
        if !inner.hosts.contains_key(host) || inner.down.contains(host) {
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
        match fault {
            Some(FaultKind::Timeout) => return Some(EmuOutcome::Hung),
            Some(FaultKind::HostDown) => {
                drop(inner);
                return match self.power_off(host) {
                    Ok(_) => None,
                    Err(e) => Some(EmuOutcome::Exited(XlOutput::fail(format!(
                        "slivers-xl-emu: {host}: {e}\n"
                    )))),
                };
            }
            _ => {}
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
                let out = self.migrate(host, ssh.as_deref(), &domain, &dest, fault, transfer);
                // The source failed during the move: its ssh session is gone.
                if self.is_down(host) {
                    return None;
                }
                return Some(EmuOutcome::Exited(self.stored_or_failed(&[&dest, host], out)));
            }
            XlCommand::MigrateReceive => {
                XlOutput::fail("migrate-receive: no migration stream on stdin\n".into())
            }
            cmd => state.apply(cmd, files),
        };
        drop(inner);
        Some(EmuOutcome::Exited(self.stored_or_failed(&[host], out)))
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
            let dest_up = !inner.down.contains(dest);
            let Some(dst) = inner.hosts.get_mut(dest).filter(|_| dest_up) else {
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
        c.write_file("/c/vm.cfg", b"name = \"vm\"\nmemory = 1024\n")
            .unwrap();
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
    fn a_stored_cluster_is_found_again_by_the_next_process() {
        let dir = std::env::temp_dir().join(format!("slivers-emu-stored-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let hosts = [HostConfig::new("a", 4096, 4), HostConfig::new("b", 4096, 4)];
        let c = EmuCluster::stored(&dir, &hosts).unwrap();
        c.write_file("/c/vm.cfg", b"name = \"vm\"\nmemory = 1024\n")
            .unwrap();
        c.write_file("/c/keep.cfg", b"name = \"keep\"\nmemory = 512\n")
            .unwrap();
        assert_eq!(exited(c.run("a", &argv("xl create /c/vm.cfg"), &|| {})).code, 0);
        assert_eq!(exited(c.run("a", &argv("xl create /c/keep.cfg"), &|| {})).code, 0);
        assert_eq!(exited(c.run("a", &argv("xl migrate vm b"), &|| {})).code, 0);
        assert_eq!(
            exited(c.run("a", &argv("xl save keep /img/keep"), &|| {})).code,
            0
        );
        let before = (c.host("a").unwrap(), c.host("b").unwrap());
        drop(c);
        // Another process: the same domains, files and domids.
        let c = EmuCluster::stored(&dir, &hosts).unwrap();
        assert_eq!((c.host("a").unwrap(), c.host("b").unwrap()), before);
        assert!(c.host("a").unwrap().domains.is_empty());
        assert!(c.host("b").unwrap().domains.contains_key("vm"));
        assert_eq!(
            exited(c.run("b", &argv("xl restore /c/keep.cfg /img/keep"), &|| {})).code,
            0
        );
        // The binary's layout: it reads the hosts too.
        let b = crate::dir::load_host(&dir.join("hosts"), "b").unwrap();
        assert_eq!(b, c.host("b").unwrap());
        assert_eq!(b.domains.keys().collect::<Vec<_>>(), ["keep", "vm"]);
        assert!(dir.join("files/img/keep").is_file());
        // Shared files stay inside the directory.
        assert!(c.write_file("/c/../../escape", b"x").is_err());
        assert!(!dir.join("escape").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_host_loses_its_domains_and_answers_nothing_until_powered_on() {
        let c = cluster();
        // A move to a failed host leaves the domain at its source.
        assert!(c.power_off("b").unwrap());
        assert!(c.is_down("b"));
        assert!(c.run("b", &argv("xl list"), &|| {}).is_none());
        let out = exited(c.run("a", &argv("xl migrate vm b"), &|| {}));
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("Could not resolve hostname b"), "{out:?}");
        assert!(c.host("a").unwrap().domains.contains_key("vm"));
        assert!(c.power_on("b").unwrap());
        assert_eq!(exited(c.run("b", &argv("xl list"), &|| {})).code, 0);
        // A `host-down` fault: the host fails as the command begins.
        c.inject("a", "host-down:vm".parse().unwrap());
        assert_eq!(
            exited(c.run("a", &argv("xl list"), &|| {})).code,
            0,
            "other domains: no"
        );
        assert!(c.run("a", &argv("xl destroy vm"), &|| {}).is_none());
        assert!(c.is_down("a"));
        assert!(c.host("a").unwrap().domains.is_empty(), "its domains are lost");
        assert!(!c.power_off("nohost").unwrap());
        // Back, empty, and reachable.
        assert!(c.power_on("a").unwrap());
        assert!(!c.is_down("a"));
        assert_eq!(exited(c.run("a", &argv("xl destroy vm"), &|| {})).code, 1);
    }

    #[test]
    fn a_host_failed_during_a_migration_from_it_is_unreachable() {
        let c = cluster();
        let out = c.run("a", &argv("xl migrate vm b"), &|| {
            c.power_off("a").unwrap();
        });
        assert!(out.is_none(), "{out:?}");
        assert!(c.host("a").unwrap().domains.is_empty());
        // The switch-over never came: the destination drops its copy.
        assert!(c.host("b").unwrap().domains.is_empty());
    }

    #[test]
    fn a_stored_cluster_keeps_a_failed_host_down() {
        let dir = std::env::temp_dir().join(format!("slivers-emu-down-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let hosts = [HostConfig::new("a", 4096, 4), HostConfig::new("b", 4096, 4)];
        let c = EmuCluster::stored(&dir, &hosts).unwrap();
        c.write_file("/c/vm.cfg", b"name = \"vm\"\nmemory = 1024\n")
            .unwrap();
        assert_eq!(exited(c.run("a", &argv("xl create /c/vm.cfg"), &|| {})).code, 0);
        c.power_off("a").unwrap();
        drop(c);
        let c = EmuCluster::stored(&dir, &hosts).unwrap();
        assert!(c.is_down("a") && !c.is_down("b"));
        assert!(c.host("a").unwrap().domains.is_empty());
        assert!(
            dir.join("hosts/a").join(UNREACHABLE).exists(),
            "as the binary marks it"
        );
        c.power_on("a").unwrap();
        drop(c);
        let c = EmuCluster::stored(&dir, &hosts).unwrap();
        assert!(!c.is_down("a"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn migration_refused_by_a_full_target() {
        let c = cluster();
        c.write_file("/c/fill.cfg", b"name = \"fill\"\nmemory = 3500\n")
            .unwrap();
        assert_eq!(exited(c.run("b", &argv("xl create /c/fill.cfg"), &|| {})).code, 0);
        let out = exited(c.run("a", &argv("xl migrate vm b"), &|| {}));
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("failed to free memory for the domain"));
        assert!(out.stderr.ends_with("Migration failed, resuming at sender.\n"));
        assert!(c.host("a").unwrap().domains.contains_key("vm"));
    }
}
