//! [`XenExecutor`]: the [`Executor`] over Xen's `xl`, through a
//! [`Transport`].
//!
//! Command mapping (see `docs/live.md`):
//!
//! | operation | commands (before / change / after) |
//! |---|---|
//! | `host_info` | `xl info` |
//! | `list` | `xl list -l` |
//! | `create` | `xl list -l NAME`; write `CONFIG_DIR/NAME.cfg`; `xl create CFG`; `xl list -l NAME` |
//! | `resize` | `xl list -l NAME`; `xl mem-set NAME Mm`, `xl vcpu-set NAME N`, `xl sched-credit2 -d NAME -w W -c C` (only what differs; `sched-credit` on credit hosts); `xl list -l NAME` |
//! | `migrate` | `xl list -l` on both; `xl migrate [-s SSHCMD] NAME DESTHOST`; `xl list -l NAME` on both |
//! | `save` | `xl list -l NAME`; `xl save NAME IMAGE`; `xl list -l NAME` |
//! | `restore` | `xl list -l NAME`; write the cfg; `xl restore CFG IMAGE`; `xl list -l NAME` |
//! | `destroy` | `xl domid NAME`; `xl destroy NAME`; `xl domid NAME` |
//!
//! Failures are classified from stderr ([`classify`]) and then confirmed by
//! reading the state again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::executor::{
    ExecError, Executor, HostInfo, INCOMING_SUFFIX, MIGRATEDAWAY_SUFFIX, VmInfo, VmSpec, validate_name,
};
use super::transport::{CmdOutput, Transport, excerpt};

/// How the executor writes configs and reaches hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenConfig {
    /// Directory on each host where `NAME.cfg` is written (absolute).
    pub config_dir: String,
    /// Extra lines copied into every cfg (e.g. `type = "pvh"`,
    /// `kernel = "/boot/vmlinuz-guest"`).
    pub cfg_extra: Vec<String>,
    /// The vif spec without its rate (e.g. `bridge=xenbr0`); `None`: no
    /// network interface. The spec's bandwidth is appended as
    /// `rate=NMb/s@50ms`.
    pub vif: Option<String>,
    /// A disk spec template; `{name}` and `{disk_gib}` are replaced (e.g.
    /// `format=raw, vdev=xvda, access=rw, target=/srv/xen/{name}.img`).
    /// `None`: no disk.
    pub disk: Option<String>,
    /// `xl migrate -s SSHCMD` (`None`: xl's default, `ssh`).
    pub migrate_ssh: Option<String>,
    /// The DESTHOST `xl migrate` is given per host name (e.g. an address on
    /// the migration network); default the host name itself.
    pub migrate_host: BTreeMap<String, String>,
    /// Timeout of quick commands (info, list, create, resize, destroy).
    pub command_timeout: Duration,
    /// Timeout of migrate, save and restore.
    pub transfer_timeout: Duration,
}

impl Default for XenConfig {
    fn default() -> Self {
        XenConfig {
            config_dir: "/etc/xen/slivers".into(),
            cfg_extra: vec!["type = \"pvh\"".into()],
            vif: Some("bridge=xenbr0".into()),
            disk: None,
            migrate_ssh: None,
            migrate_host: BTreeMap::new(),
            command_timeout: Duration::from_secs(120),
            transfer_timeout: Duration::from_secs(3600),
        }
    }
}

/// Which operation a failed command belonged to (for [`classify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// A read (info, list, domid).
    Query,
    /// `xl create`.
    Create,
    /// `xl mem-set`, `vcpu-set`, `sched-credit*`.
    Resize,
    /// `xl migrate` to this destination.
    Migrate {
        /// Destination host.
        to: String,
    },
    /// `xl save`.
    Save,
    /// `xl restore`.
    Restore,
    /// `xl destroy`, `rename`, `unpause`.
    Destroy,
}

/// Classifies a failed `xl` command from its stderr. The caller confirms
/// by reading the state again (a migration's `resumed_at_sender` in
/// particular is only a first guess here).
pub fn classify(op: &OpKind, host: &str, vm: &str, argv: &[String], out: &CmdOutput) -> ExecError {
    let err = &out.stderr;
    let has = |s: &str| err.contains(s);
    let (host, vm, stderr) = (host.to_string(), vm.to_string(), excerpt(err));
    let no_such = has("is an invalid domain identifier (rc=-6)");
    match op {
        OpKind::Migrate { to } if !no_such => {
            return ExecError::MigrationFailed {
                from: host,
                to: to.clone(),
                vm,
                resumed_at_sender: !has("Domain state is now undefined"),
                stderr,
            };
        }
        OpKind::Save if has("Failed to save domain, resuming domain") => {
            return ExecError::SaveFailed { host, vm, stderr };
        }
        _ => {}
    }
    if no_such {
        ExecError::NoSuchVm { host, vm, stderr }
    } else if has("already exists") {
        ExecError::AlreadyExists { host, vm, stderr }
    } else if has("memory_dynamic_max must be less than or equal to memory_static_max")
        || has("however maxcpus is")
        || has("You are overcommmitting")
        || has("Cpu cap out of range")
    {
        ExecError::ExceedsMax { host, vm, stderr }
    } else if has("failed to free memory for the domain")
        || has("not enough free memory")
        || has("Out of memory")
        || has("Cannot allocate memory")
    {
        ExecError::NoMemory { host, vm, stderr }
    } else {
        ExecError::Command {
            host,
            argv: argv.to_vec(),
            code: out.code,
            stderr,
        }
    }
}

/// Parses `xl info` output (`key : value` lines).
pub fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Parses `xl list -l` JSON into guest VMs (dom0 left out). Fields at
/// their defaults may be missing: no `avail_vcpus` means all `max_vcpus`
/// are online, no `sched_params` means default weight and cap.
pub fn parse_list_json(text: &str) -> Result<Vec<VmInfo>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let items = match &v {
        serde_json::Value::Array(a) => a.as_slice(),
        serde_json::Value::Object(_) => std::slice::from_ref(&v),
        _ => return Err("expected a JSON array".into()),
    };
    let mut out = Vec::new();
    for item in items {
        let domid = item["domid"]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .ok_or("a domain without a numeric domid")?;
        let c = &item["config"];
        let name = c["c_info"]["name"]
            .as_str()
            .ok_or("a domain without c_info.name")?
            .to_string();
        if domid == 0 || name == "Domain-0" {
            continue;
        }
        let b = &c["b_info"];
        let u = |x: &serde_json::Value| x.as_u64();
        let max_vcpus = u(&b["max_vcpus"])
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1);
        let vcpus = match b["avail_vcpus"].as_array() {
            Some(a) => u32::try_from(a.len()).map_err(|e| e.to_string())?,
            None => max_vcpus,
        };
        let target = u(&b["target_memkb"]).ok_or_else(|| format!("{name}: no target_memkb"))?;
        let max = u(&b["max_memkb"]).unwrap_or(target);
        let sched = &b["sched_params"];
        // libxl uses -1 for "default"; as_u64 gives None for it.
        let weight = u(&sched["weight"]).and_then(|n| u32::try_from(n).ok());
        let cap = u(&sched["cap"]).and_then(|n| u32::try_from(n).ok());
        out.push(VmInfo {
            name,
            domid,
            memory_mib: target / 1024,
            max_memory_mib: max / 1024,
            vcpus,
            max_vcpus,
            weight,
            cap,
        });
    }
    Ok(out)
}

/// One step of a [`ReconcilePlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconcileAction {
    /// `xl destroy NAME` on the host.
    Destroy {
        /// The host.
        host: String,
        /// The domain.
        name: String,
    },
    /// `xl rename FROM TO` then `xl unpause TO` on the host.
    Promote {
        /// The host.
        host: String,
        /// The leftover name (`NAME--incoming` or `NAME--migratedaway`).
        from: String,
        /// The VM name.
        to: String,
    },
}

/// Which copy of a VM survives a failed or interrupted migration and how
/// to clean up the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilePlan {
    /// The host the VM runs on afterwards (`None`: no copy was found).
    pub survivor: Option<String>,
    /// What to do, in order (promote first, then destroy).
    pub actions: Vec<ReconcileAction>,
}

/// Decides which copy of `name` survives, given the guests on the
/// migration's source (`from`) and destination (`to`):
///
/// 1. a running `NAME` on the destination (it got permission to start, so
///    it has the newest state);
/// 2. else a running `NAME` on the source (it never switched over);
/// 3. else the destination's `NAME--incoming` if the source holds
///    `NAME--migratedaway` (the source renames only after the destination
///    acknowledged the complete transfer): renamed and unpaused;
/// 4. else the source's `NAME--migratedaway` (renamed back, unpaused);
/// 5. else the destination's `NAME--incoming`, the only copy left.
///
/// Every other copy (`NAME`, `NAME--incoming`, `NAME--migratedaway` on
/// either host) is destroyed.
pub fn plan_reconcile(
    name: &str,
    from: &str,
    from_vms: &[VmInfo],
    to: &str,
    to_vms: &[VmInfo],
) -> ReconcilePlan {
    let incoming = format!("{name}{INCOMING_SUFFIX}");
    let away = format!("{name}{MIGRATEDAWAY_SUFFIX}");
    let has = |vms: &[VmInfo], n: &str| vms.iter().any(|v| v.name == n);
    // (host, copy name) of every copy.
    let mut copies: Vec<(&str, &str)> = Vec::new();
    for (host, vms) in [(from, from_vms), (to, to_vms)] {
        for n in [name, incoming.as_str(), away.as_str()] {
            if has(vms, n) {
                copies.push((host, n));
            }
        }
    }
    let keep: Option<(&str, &str)> = if has(to_vms, name) {
        Some((to, name))
    } else if has(from_vms, name) {
        Some((from, name))
    } else if has(to_vms, &incoming) && has(from_vms, &away) {
        Some((to, &incoming))
    } else if has(from_vms, &away) {
        Some((from, &away))
    } else if has(to_vms, &incoming) {
        Some((to, &incoming))
    } else {
        None
    };
    let mut actions = Vec::new();
    if let Some((host, n)) = keep
        && n != name
    {
        actions.push(ReconcileAction::Promote {
            host: host.to_string(),
            from: n.to_string(),
            to: name.to_string(),
        });
    }
    for (host, n) in copies {
        if Some((host, n)) != keep {
            actions.push(ReconcileAction::Destroy {
                host: host.to_string(),
                name: n.to_string(),
            });
        }
    }
    ReconcilePlan {
        survivor: keep.map(|(h, _)| h.to_string()),
        actions,
    }
}

/// The [`Executor`] over `xl`. Cheap to share (`Arc`) between threads.
pub struct XenExecutor {
    transport: Arc<dyn Transport>,
    config: XenConfig,
    schedulers: Mutex<BTreeMap<String, String>>,
}

fn args(v: &[&str]) -> Vec<String> {
    std::iter::once("xl")
        .chain(v.iter().copied())
        .map(String::from)
        .collect()
}

impl XenExecutor {
    /// An executor sending commands through `transport`.
    pub fn new(transport: Arc<dyn Transport>, config: XenConfig) -> Self {
        XenExecutor {
            transport,
            config,
            schedulers: Mutex::new(BTreeMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &XenConfig {
        &self.config
    }

    /// Where the VM's config file goes on its host.
    pub fn cfg_path(&self, name: &str) -> String {
        format!("{}/{name}.cfg", self.config.config_dir.trim_end_matches('/'))
    }

    /// The `xl.cfg` text for a spec.
    pub fn cfg_text(&self, spec: &VmSpec) -> String {
        let mut s = String::from("# Written by slivers; replaced on every create and restore.\n");
        let _ = writeln!(s, "name = \"{}\"", spec.name);
        for line in &self.config.cfg_extra {
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s, "memory = {}", spec.memory_mib);
        let _ = writeln!(s, "maxmem = {}", spec.max_memory_mib);
        let _ = writeln!(s, "vcpus = {}", spec.vcpus);
        let _ = writeln!(s, "maxvcpus = {}", spec.max_vcpus);
        let _ = writeln!(s, "cpu_weight = {}", spec.cpu_weight);
        let _ = writeln!(s, "cap = {}", spec.cap_percent);
        if let Some(vif) = &self.config.vif {
            let mut v = vif.clone();
            if spec.bandwidth_mbps > 0 {
                if !v.is_empty() {
                    v.push(',');
                }
                let _ = write!(v, "rate={}Mb/s@50ms", spec.bandwidth_mbps);
            }
            let _ = writeln!(s, "vif = [ '{v}' ]");
        }
        if let Some(disk) = &self.config.disk {
            let d = disk
                .replace("{name}", &spec.name)
                .replace("{disk_gib}", &spec.disk_gib.to_string());
            let _ = writeln!(s, "disk = [ '{d}' ]");
        }
        s
    }

    fn xl(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError> {
        self.transport.run(host, argv, timeout)
    }

    fn quick(&self, host: &str, argv: &[String]) -> Result<CmdOutput, ExecError> {
        self.xl(host, argv, self.config.command_timeout)
    }

    /// The VM `name` on `host` (`xl list -l NAME`), `None` if absent.
    pub fn find(&self, host: &str, name: &str) -> Result<Option<VmInfo>, ExecError> {
        let argv = args(&["list", "-l", name]);
        let out = self.quick(host, &argv)?;
        if !out.success() {
            return match classify(&OpKind::Query, host, name, &argv, &out) {
                ExecError::NoSuchVm { .. } => Ok(None),
                e => Err(e),
            };
        }
        let vms = parse_list_json(&out.stdout).map_err(|message| ExecError::BadOutput {
            host: host.to_string(),
            argv: argv.clone(),
            message,
        })?;
        Ok(vms.into_iter().find(|v| v.name == name))
    }

    fn scheduler(&self, host: &str) -> Result<String, ExecError> {
        if let Some(s) = self
            .schedulers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
        {
            return Ok(s.clone());
        }
        Ok(self.host_info(host)?.scheduler)
    }

    fn write_cfg(&self, host: &str, spec: &VmSpec) -> Result<String, ExecError> {
        let path = self.cfg_path(&spec.name);
        self.transport
            .write_file(host, &path, self.cfg_text(spec).as_bytes())?;
        Ok(path)
    }

    fn unconfirmed(host: &str, vm: &str, message: impl Into<String>) -> ExecError {
        ExecError::Unconfirmed {
            host: host.to_string(),
            vm: vm.to_string(),
            message: message.into(),
        }
    }

    /// Shared by create and restore: Ok if the VM already runs with this
    /// spec, `AlreadyExists` if it runs with another.
    fn check_existing(&self, host: &str, spec: &VmSpec) -> Result<bool, ExecError> {
        match self.find(host, &spec.name)? {
            None => Ok(false),
            Some(vm) if spec.matches(&vm) => Ok(true),
            Some(vm) => Err(ExecError::AlreadyExists {
                host: host.to_string(),
                vm: spec.name.clone(),
                stderr: format!("running with a different configuration: {vm:?}"),
            }),
        }
    }

    /// Creates or restores (`image`), then confirms.
    fn bring_up(&self, host: &str, spec: &VmSpec, image: Option<&str>) -> Result<(), ExecError> {
        spec.validate()?;
        if self.check_existing(host, spec)? {
            return Ok(());
        }
        let cfg = self.write_cfg(host, spec)?;
        let (argv, op, timeout) = match image {
            None => (
                args(&["create", &cfg]),
                OpKind::Create,
                self.config.command_timeout,
            ),
            Some(img) => (
                args(&["restore", &cfg, img]),
                OpKind::Restore,
                self.config.transfer_timeout,
            ),
        };
        let out = self.xl(host, &argv, timeout)?;
        if !out.success() {
            let err = classify(&op, host, &spec.name, &argv, &out);
            // Confirm: another attempt may have won the race.
            return match self.find(host, &spec.name)? {
                Some(vm) if spec.matches(&vm) => Ok(()),
                _ => Err(err),
            };
        }
        match self.find(host, &spec.name)? {
            Some(_) => Ok(()),
            None => Err(Self::unconfirmed(
                host,
                &spec.name,
                format!("`{}` succeeded but the VM is not listed", argv.join(" ")),
            )),
        }
    }

    /// Resolves the leftovers of a failed or interrupted live migration of
    /// `name` from `from` to `to` ([`plan_reconcile`]), applies the plan and
    /// checks that exactly one copy named `name` remains. Returns the plan
    /// that was applied (empty if there was nothing to do).
    pub fn reconcile(&self, from: &str, to: &str, name: &str) -> Result<ReconcilePlan, ExecError> {
        validate_name(name)?;
        let plan = plan_reconcile(name, from, &self.list(from)?, to, &self.list(to)?);
        for action in &plan.actions {
            match action {
                ReconcileAction::Promote { host, from, to } => {
                    self.step(host, to, &args(&["rename", from, to]))?;
                    self.step(host, to, &args(&["unpause", to]))?;
                }
                ReconcileAction::Destroy { host, name } => {
                    let argv = args(&["destroy", name]);
                    let out = self.quick(host, &argv)?;
                    if !out.success() {
                        match classify(&OpKind::Destroy, host, name, &argv, &out) {
                            ExecError::NoSuchVm { .. } => {}
                            e => return Err(e),
                        }
                    }
                }
            }
        }
        let Some(survivor) = &plan.survivor else {
            return Err(ExecError::NoSuchVm {
                host: from.to_string(),
                vm: name.to_string(),
                stderr: format!("no copy of {name} on {from} or {to}"),
            });
        };
        let count = |vms: &[VmInfo]| {
            vms.iter()
                .filter(|v| {
                    v.name == name
                        || v.name == format!("{name}{INCOMING_SUFFIX}")
                        || v.name == format!("{name}{MIGRATEDAWAY_SUFFIX}")
                })
                .count()
        };
        let (on_from, on_to) = (self.list(from)?, self.list(to)?);
        let here = if survivor == from { &on_from } else { &on_to };
        if count(&on_from) + count(&on_to) != 1 || !here.iter().any(|v| v.name == name) {
            return Err(Self::unconfirmed(
                survivor,
                name,
                "after reconciling, the VM is not there exactly once",
            ));
        }
        Ok(plan)
    }

    fn step(&self, host: &str, vm: &str, argv: &[String]) -> Result<(), ExecError> {
        let out = self.quick(host, argv)?;
        if out.success() {
            Ok(())
        } else {
            Err(classify(&OpKind::Resize, host, vm, argv, &out))
        }
    }

    fn has_incoming(&self, host: &str, name: &str) -> Result<bool, ExecError> {
        let incoming = format!("{name}{INCOMING_SUFFIX}");
        Ok(self.list(host)?.iter().any(|v| v.name == incoming))
    }
}

impl Executor for XenExecutor {
    fn reconcile_migration(&self, from: &str, to: &str, name: &str) -> Result<Option<String>, ExecError> {
        Ok(self.reconcile(from, to, name)?.survivor)
    }

    fn power(&self, host: &str, on: bool) -> Result<bool, ExecError> {
        self.transport.power(host, on)
    }

    fn host_info(&self, host: &str) -> Result<HostInfo, ExecError> {
        let argv = args(&["info"]);
        let out = self.quick(host, &argv)?;
        if !out.success() {
            return Err(classify(&OpKind::Query, host, "", &argv, &out));
        }
        let kv = parse_info(&out.stdout);
        let bad = |message: String| ExecError::BadOutput {
            host: host.to_string(),
            argv: argv.clone(),
            message,
        };
        let num = |k: &str| -> Result<u64, ExecError> {
            kv.get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(format!("no numeric `{k}`")))
        };
        let info = HostInfo {
            host: host.to_string(),
            total_memory_mib: num("total_memory")?,
            free_memory_mib: num("free_memory")?,
            nr_cpus: u32::try_from(num("nr_cpus")?).map_err(|e| bad(e.to_string()))?,
            scheduler: kv
                .get("xen_scheduler")
                .cloned()
                .ok_or_else(|| bad("no `xen_scheduler`".into()))?,
        };
        self.schedulers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string(), info.scheduler.clone());
        Ok(info)
    }

    fn list(&self, host: &str) -> Result<Vec<VmInfo>, ExecError> {
        let argv = args(&["list", "-l"]);
        let out = self.quick(host, &argv)?;
        if !out.success() {
            return Err(classify(&OpKind::Query, host, "", &argv, &out));
        }
        parse_list_json(&out.stdout).map_err(|message| ExecError::BadOutput {
            host: host.to_string(),
            argv,
            message,
        })
    }

    fn create(&self, host: &str, spec: &VmSpec) -> Result<(), ExecError> {
        self.bring_up(host, spec, None)
    }

    fn resize(&self, host: &str, spec: &VmSpec) -> Result<(), ExecError> {
        spec.validate()?;
        let name = spec.name.as_str();
        let Some(vm) = self.find(host, name)? else {
            return Err(ExecError::NoSuchVm {
                host: host.to_string(),
                vm: name.to_string(),
                stderr: String::new(),
            });
        };
        if vm.memory_mib != spec.memory_mib {
            self.step(
                host,
                name,
                &args(&["mem-set", name, &format!("{}m", spec.memory_mib)]),
            )?;
        }
        if vm.vcpus != spec.vcpus {
            self.step(host, name, &args(&["vcpu-set", name, &spec.vcpus.to_string()]))?;
        }
        if vm.weight.unwrap_or(super::executor::DEFAULT_WEIGHT) != spec.cpu_weight
            || vm.cap.unwrap_or(0) != spec.cap_percent
        {
            let sub = if self.scheduler(host)? == "credit" {
                "sched-credit"
            } else {
                "sched-credit2"
            };
            let (w, c) = (spec.cpu_weight.to_string(), spec.cap_percent.to_string());
            self.step(host, name, &args(&[sub, "-d", name, "-w", &w, "-c", &c]))?;
        }
        match self.find(host, name)? {
            Some(vm) if spec.runtime_matches(&vm) => Ok(()),
            other => Err(Self::unconfirmed(
                host,
                name,
                format!("after resizing to {spec:?} the VM reads {other:?}"),
            )),
        }
    }

    fn migrate(&self, from: &str, to: &str, name: &str) -> Result<(), ExecError> {
        validate_name(name)?;
        if from == to {
            return Err(ExecError::InvalidSpec {
                vm: name.to_string(),
                message: format!("cannot migrate from {from} to itself"),
            });
        }
        let (src, dst) = (self.list(from)?, self.list(to)?);
        let has = |vms: &[VmInfo], n: &str| vms.iter().any(|v| v.name == n);
        let leftovers = [
            (&src, INCOMING_SUFFIX),
            (&src, MIGRATEDAWAY_SUFFIX),
            (&dst, INCOMING_SUFFIX),
            (&dst, MIGRATEDAWAY_SUFFIX),
        ]
        .iter()
        .any(|(vms, suffix)| has(vms, &format!("{name}{suffix}")));
        if leftovers {
            return Err(ExecError::MigrationFailed {
                from: from.to_string(),
                to: to.to_string(),
                vm: name.to_string(),
                resumed_at_sender: false,
                stderr: "leftover copies of an earlier migration: reconcile first".into(),
            });
        }
        match (has(&src, name), has(&dst, name)) {
            (false, true) => return Ok(()),
            (false, false) => {
                return Err(ExecError::NoSuchVm {
                    host: from.to_string(),
                    vm: name.to_string(),
                    stderr: String::new(),
                });
            }
            (true, true) => {
                return Err(ExecError::AlreadyExists {
                    host: to.to_string(),
                    vm: name.to_string(),
                    stderr: format!("{name} runs on both {from} and {to}: reconcile first"),
                });
            }
            (true, false) => {}
        }
        let dest = self.config.migrate_host.get(to).map_or(to, String::as_str);
        let mut v = vec!["migrate"];
        if let Some(ssh) = &self.config.migrate_ssh {
            v.extend(["-s", ssh.as_str()]);
        }
        v.extend([name, dest]);
        let argv = args(&v);
        let out = self.xl(from, &argv, self.config.transfer_timeout)?;
        if out.success() {
            let (at_src, at_dst) = (self.find(from, name)?, self.find(to, name)?);
            if at_src.is_none() && at_dst.is_some() {
                return Ok(());
            }
            return Err(Self::unconfirmed(
                to,
                name,
                format!(
                    "`xl migrate` succeeded but the VM is on {from}: {}, on {to}: {}",
                    at_src.is_some(),
                    at_dst.is_some()
                ),
            ));
        }
        let mut err = classify(&OpKind::Migrate { to: to.to_string() }, from, name, &argv, &out);
        if let ExecError::MigrationFailed {
            resumed_at_sender, ..
        } = &mut err
            && *resumed_at_sender
        {
            // Confirm: the source still runs the VM under its own name. (It
            // renames it away before letting the destination start, so then
            // no copy can run there.)
            *resumed_at_sender = self.find(from, name)?.is_some();
            // The receiver normally removes its copy; make sure, if the
            // destination can be reached at all.
            if *resumed_at_sender && self.has_incoming(to, name).unwrap_or(false) {
                let argv = args(&["destroy", &format!("{name}{INCOMING_SUFFIX}")]);
                let _ = self.quick(to, &argv);
            }
        }
        Err(err)
    }

    fn save(&self, host: &str, name: &str, image: &str) -> Result<(), ExecError> {
        validate_name(name)?;
        if self.find(host, name)?.is_none() {
            return Err(ExecError::NoSuchVm {
                host: host.to_string(),
                vm: name.to_string(),
                stderr: String::new(),
            });
        }
        let argv = args(&["save", name, image]);
        let out = self.xl(host, &argv, self.config.transfer_timeout)?;
        let present = self.find(host, name)?.is_some();
        if out.success() {
            return if present {
                Err(Self::unconfirmed(
                    host,
                    name,
                    "`xl save` succeeded but the VM still runs",
                ))
            } else {
                Ok(())
            };
        }
        match classify(&OpKind::Save, host, name, &argv, &out) {
            ExecError::SaveFailed { .. } if !present => Err(Self::unconfirmed(
                host,
                name,
                format!("save failed and the VM was not resumed: {}", excerpt(&out.stderr)),
            )),
            e => Err(e),
        }
    }

    fn restore(&self, host: &str, spec: &VmSpec, image: &str) -> Result<(), ExecError> {
        self.bring_up(host, spec, Some(image))
    }

    fn destroy(&self, host: &str, name: &str) -> Result<(), ExecError> {
        validate_name(name)?;
        let domid = args(&["domid", name]);
        let absent = |out: &CmdOutput| {
            !out.success() && (out.stderr.contains("Can't get domid") || out.stderr.contains("(rc=-6)"))
        };
        let before = self.quick(host, &domid)?;
        if absent(&before) {
            return Ok(());
        }
        if !before.success() {
            return Err(classify(&OpKind::Query, host, name, &domid, &before));
        }
        let argv = args(&["destroy", name]);
        let out = self.quick(host, &argv)?;
        if !out.success() {
            match classify(&OpKind::Destroy, host, name, &argv, &out) {
                ExecError::NoSuchVm { .. } => {}
                e => return Err(e),
            }
        }
        let after = self.quick(host, &domid)?;
        if absent(&after) {
            Ok(())
        } else {
            Err(Self::unconfirmed(host, name, "still present after `xl destroy`"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::transport::{InProcessTransport, RecordingTransport};
    use slivers_xl_emu::HostConfig;
    use slivers_xl_emu::cluster::EmuCluster;

    fn spec(name: &str, mem: u64) -> VmSpec {
        VmSpec {
            name: name.into(),
            memory_mib: mem,
            max_memory_mib: 4096,
            vcpus: 1,
            max_vcpus: 4,
            cpu_weight: 256,
            cap_percent: 0,
            bandwidth_mbps: 100,
            disk_gib: 20,
        }
    }

    type Buf = crate::live::transport::SharedBuf;

    /// The commands recorded since the last call, as `[host, argv...]`.
    fn take(buf: &Buf) -> Vec<Vec<String>> {
        let text = String::from_utf8(std::mem::take(&mut *buf.0.lock().unwrap())).unwrap();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let mut words = vec![v["host"].as_str().unwrap().to_string()];
                words.extend(
                    v["argv"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string()),
                );
                words
            })
            .collect()
    }

    fn setup() -> (XenExecutor, Arc<EmuCluster>, Buf) {
        let cluster = Arc::new(EmuCluster::new());
        cluster.add_host(HostConfig::new("h1", 8192, 4));
        let mut credit = HostConfig::new("h2", 8192, 4);
        credit.scheduler = "credit".into();
        cluster.add_host(credit);
        let buf = Buf::default();
        let t = RecordingTransport::new(InProcessTransport::new(cluster.clone()), Box::new(buf.clone()));
        let config = XenConfig {
            migrate_ssh: Some("ssh -p 2222".into()),
            migrate_host: [("h2".to_string(), "h2-mig".to_string())].into(),
            ..XenConfig::default()
        };
        (XenExecutor::new(Arc::new(t), config), cluster, buf)
    }

    fn cmd(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cfg_text_has_every_key() {
        let (x, _, _) = setup();
        let text = x.cfg_text(&spec("vm1", 1024));
        assert_eq!(
            text,
            "# Written by slivers; replaced on every create and restore.\nname = \"vm1\"\ntype = \"pvh\"\n\
             memory = 1024\nmaxmem = 4096\nvcpus = 1\nmaxvcpus = 4\ncpu_weight = 256\ncap = 0\n\
             vif = [ 'bridge=xenbr0,rate=100Mb/s@50ms' ]\n"
        );
        assert_eq!(x.cfg_path("vm1"), "/etc/xen/slivers/vm1.cfg");
    }

    #[test]
    fn argv_of_each_operation() {
        let (x, cluster, buf) = setup();
        x.create("h1", &spec("vm1", 1024)).unwrap();
        assert_eq!(
            take(&buf),
            [
                cmd(&["h1", "xl", "list", "-l", "vm1"]),
                cmd(&["h1", "xl", "create", "/etc/xen/slivers/vm1.cfg"]),
                cmd(&["h1", "xl", "list", "-l", "vm1"]),
            ]
        );
        assert!(cluster.read_file("/etc/xen/slivers/vm1.cfg").is_some());
        let mut s = spec("vm1", 2048);
        s.vcpus = 2;
        s.cpu_weight = 512;
        s.cap_percent = 150;
        x.resize("h1", &s).unwrap();
        assert_eq!(
            take(&buf),
            [
                cmd(&["h1", "xl", "list", "-l", "vm1"]),
                cmd(&["h1", "xl", "mem-set", "vm1", "2048m"]),
                cmd(&["h1", "xl", "vcpu-set", "vm1", "2"]),
                cmd(&["h1", "xl", "info"]),
                cmd(&["h1", "xl", "sched-credit2", "-d", "vm1", "-w", "512", "-c", "150"]),
                cmd(&["h1", "xl", "list", "-l", "vm1"]),
            ]
        );
        x.migrate("h1", "h2", "vm1").unwrap_err(); // h2-mig is not an emulated host
        let log = take(&buf);
        assert_eq!(
            log[2],
            cmd(&["h1", "xl", "migrate", "-s", "ssh -p 2222", "vm1", "h2-mig"])
        );
        x.destroy("h1", "vm1").unwrap();
        assert_eq!(
            take(&buf),
            [
                cmd(&["h1", "xl", "domid", "vm1"]),
                cmd(&["h1", "xl", "destroy", "vm1"]),
                cmd(&["h1", "xl", "domid", "vm1"]),
            ]
        );
        x.destroy("h1", "vm1").unwrap();
        assert_eq!(take(&buf).len(), 1);
    }

    #[test]
    fn credit_hosts_get_sched_credit_and_state_travels() {
        let (x, _, buf) = setup();
        x.create("h2", &spec("vm2", 1024)).unwrap();
        let mut s = spec("vm2", 1024);
        s.cap_percent = 50;
        x.resize("h2", &s).unwrap();
        assert!(take(&buf).contains(&cmd(&[
            "h2",
            "xl",
            "sched-credit",
            "-d",
            "vm2",
            "-w",
            "256",
            "-c",
            "50"
        ])));
        x.save("h2", "vm2", "/shared/vm2.img").unwrap();
        assert!(x.list("h2").unwrap().is_empty());
        x.restore("h1", &s, "/shared/vm2.img").unwrap();
        let vm = x.find("h1", "vm2").unwrap().unwrap();
        assert_eq!((vm.memory_mib, vm.cap), (1024, Some(50)));
        // Idempotent.
        x.restore("h1", &s, "/shared/vm2.img").unwrap();
        x.create("h1", &s).unwrap();
        assert!(matches!(
            x.create("h1", &spec("vm2", 512)),
            Err(ExecError::AlreadyExists { .. })
        ));
    }

    #[test]
    fn errors_are_classified() {
        let (x, cluster, _) = setup();
        x.create("h1", &spec("vm1", 1024)).unwrap();
        let mut big = spec("vm1", 6000);
        big.max_memory_mib = 8192;
        assert!(matches!(x.resize("h1", &big), Err(ExecError::ExceedsMax { .. })));
        let mut s = spec("vm1", 1024);
        s.max_vcpus = 8;
        s.vcpus = 8;
        assert!(matches!(x.resize("h1", &s), Err(ExecError::ExceedsMax { .. })));
        let mut huge = spec("huge", 8000);
        huge.max_memory_mib = 8000;
        assert!(matches!(x.create("h1", &huge), Err(ExecError::NoMemory { .. })));
        assert!(matches!(
            x.resize("h1", &spec("nope", 1024)),
            Err(ExecError::NoSuchVm { .. })
        ));
        assert!(matches!(
            x.save("h1", "nope", "/x"),
            Err(ExecError::NoSuchVm { .. })
        ));
        assert!(matches!(x.host_info("h9"), Err(ExecError::Unreachable { .. })));
        cluster.inject("h1", "save".parse().unwrap());
        assert!(matches!(
            x.save("h1", "vm1", "/img"),
            Err(ExecError::SaveFailed { .. })
        ));
        cluster.inject("h1", "timeout".parse().unwrap());
        assert!(matches!(x.list("h1"), Err(ExecError::Timeout { .. })));
        assert!(matches!(
            x.create("h1", &spec("bad name", 1)),
            Err(ExecError::InvalidSpec { .. })
        ));
    }

    #[test]
    fn classify_texts() {
        let out = |stderr: &str| CmdOutput {
            code: Some(1),
            stdout: String::new(),
            stderr: stderr.to_string(),
        };
        let argv = args(&["x"]);
        let c = |op: OpKind, s: &str| classify(&op, "h", "vm", &argv, &out(s));
        assert!(matches!(
            c(OpKind::Destroy, "vm is an invalid domain identifier (rc=-6)\n"),
            ExecError::NoSuchVm { .. }
        ));
        assert!(matches!(
            c(
                OpKind::Create,
                "libxl: error: libxl_create.c:720:libxl__domain_make: Domain with name \"vm\" already exists.\n"
            ),
            ExecError::AlreadyExists { .. }
        ));
        assert!(matches!(
            c(
                OpKind::Resize,
                "libxl: error: libxl_mem.c:286:libxl_set_memory_target: Domain 3:memory_dynamic_max must be less than or equal to memory_static_max\n"
            ),
            ExecError::ExceedsMax { .. }
        ));
        assert!(matches!(
            c(
                OpKind::Resize,
                "libxl: error: libxl_domain.c:1869:libxl_set_vcpuonline: Domain 7:Requested 8 VCPUs, however maxcpus is 1!: Function not implemented\n"
            ),
            ExecError::ExceedsMax { .. }
        ));
        assert!(matches!(
            c(
                OpKind::Create,
                "Parsing config from /x\nfailed to free memory for the domain\n"
            ),
            ExecError::NoMemory { .. }
        ));
        assert!(matches!(
            c(
                OpKind::Migrate { to: "b".into() },
                "Migration failed, resuming at sender.\n"
            ),
            ExecError::MigrationFailed {
                resumed_at_sender: true,
                ..
            }
        ));
        assert!(matches!(
            c(
                OpKind::Migrate { to: "b".into() },
                "** Migration failed during final handshake **\nDomain state is now undefined !\n"
            ),
            ExecError::MigrationFailed {
                resumed_at_sender: false,
                ..
            }
        ));
        assert!(matches!(
            c(
                OpKind::Migrate { to: "b".into() },
                "vm is an invalid domain identifier (rc=-6)\n"
            ),
            ExecError::NoSuchVm { .. }
        ));
        assert!(matches!(
            c(OpKind::Save, "Failed to save domain, resuming domain\n"),
            ExecError::SaveFailed { .. }
        ));
        match c(OpKind::Create, "something else\n") {
            ExecError::Command { code, stderr, .. } => {
                assert_eq!((code, stderr.as_str()), (Some(1), "something else"))
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn list_json_with_defaults_left_out() {
        let text = r#"[{"domid":0,"config":{"c_info":{"name":"Domain-0"},"b_info":{"max_memkb":1,"target_memkb":1}}},
            {"domid":5,"config":{"c_info":{"name":"a"},"b_info":{"max_vcpus":2,"target_memkb":1048576,"max_memkb":2097152}}},
            {"domid":6,"config":{"c_info":{"name":"b"},"b_info":{"max_vcpus":4,"avail_vcpus":[0,1,2],"target_memkb":1024,
             "sched_params":{"weight":-1,"cap":20}}}}]"#;
        let vms = parse_list_json(text).unwrap();
        assert_eq!(vms.len(), 2);
        assert_eq!(
            (
                vms[0].vcpus,
                vms[0].memory_mib,
                vms[0].max_memory_mib,
                vms[0].weight
            ),
            (2, 1024, 2048, None)
        );
        assert_eq!(
            (vms[1].vcpus, vms[1].weight, vms[1].cap, vms[1].max_memory_mib),
            (3, None, Some(20), 1)
        );
        assert!(parse_list_json("").unwrap().is_empty());
        assert!(parse_list_json("[{\"domid\":1}]").is_err());
        assert!(parse_list_json("nope").is_err());
    }

    fn vm(name: &str) -> VmInfo {
        VmInfo {
            name: name.into(),
            domid: 1,
            memory_mib: 1,
            max_memory_mib: 1,
            vcpus: 1,
            max_vcpus: 1,
            weight: None,
            cap: None,
        }
    }

    #[test]
    fn reconcile_plans() {
        let d = |h: &str, n: &str| ReconcileAction::Destroy {
            host: h.into(),
            name: n.into(),
        };
        let p = |h: &str, n: &str| ReconcileAction::Promote {
            host: h.into(),
            from: n.into(),
            to: "v".into(),
        };
        // Both leftovers: the acknowledged incoming copy wins.
        let plan = plan_reconcile("v", "a", &[vm("v--migratedaway")], "b", &[vm("v--incoming")]);
        assert_eq!(plan.survivor.as_deref(), Some("b"));
        assert_eq!(plan.actions, [p("b", "v--incoming"), d("a", "v--migratedaway")]);
        // The destination started it.
        let plan = plan_reconcile("v", "a", &[vm("v--migratedaway")], "b", &[vm("v")]);
        assert_eq!(
            (plan.survivor.as_deref(), plan.actions),
            (Some("b"), vec![d("a", "v--migratedaway")])
        );
        // The source kept it.
        let plan = plan_reconcile("v", "a", &[vm("v"), vm("w")], "b", &[vm("v--incoming")]);
        assert_eq!(
            (plan.survivor.as_deref(), plan.actions),
            (Some("a"), vec![d("b", "v--incoming")])
        );
        // Only the migrated-away copy.
        let plan = plan_reconcile("v", "a", &[vm("v--migratedaway")], "b", &[]);
        assert_eq!(
            (plan.survivor.as_deref(), plan.actions),
            (Some("a"), vec![p("a", "v--migratedaway")])
        );
        // Nothing to do, or nothing left.
        let plan = plan_reconcile("v", "a", &[vm("v")], "b", &[]);
        assert!(plan.actions.is_empty());
        assert_eq!(plan_reconcile("v", "a", &[], "b", &[]).survivor, None);
    }

    #[test]
    fn migration_faults_then_reconcile() {
        let cluster = Arc::new(EmuCluster::new());
        for h in ["a", "b"] {
            cluster.add_host(HostConfig::new(h, 8192, 4));
        }
        let x = XenExecutor::new(
            Arc::new(InProcessTransport::new(cluster.clone())),
            XenConfig::default(),
        );
        x.create("a", &spec("v", 1024)).unwrap();
        cluster.inject("a", "migrate-before-handshake".parse().unwrap());
        assert!(matches!(
            x.migrate("a", "b", "v"),
            Err(ExecError::MigrationFailed {
                resumed_at_sender: true,
                ..
            })
        ));
        cluster.inject("a", "migrate-after-handshake".parse().unwrap());
        assert!(matches!(
            x.migrate("a", "b", "v"),
            Err(ExecError::MigrationFailed {
                resumed_at_sender: false,
                ..
            })
        ));
        // A retry refuses until reconciled.
        assert!(matches!(
            x.migrate("a", "b", "v"),
            Err(ExecError::MigrationFailed { .. })
        ));
        let plan = x.reconcile("a", "b", "v").unwrap();
        assert_eq!(plan.survivor.as_deref(), Some("b"));
        assert_eq!(x.list("a").unwrap(), []);
        assert_eq!(x.list("b").unwrap()[0].name, "v");
        assert!(x.reconcile("a", "b", "v").unwrap().actions.is_empty());
        // Lost report: the destination runs it; the source copy goes.
        cluster.inject("b", "migrate-lost-report".parse().unwrap());
        assert!(matches!(
            x.migrate("b", "a", "v"),
            Err(ExecError::MigrationFailed {
                resumed_at_sender: false,
                ..
            })
        ));
        assert_eq!(x.reconcile("b", "a", "v").unwrap().survivor.as_deref(), Some("a"));
        x.migrate("a", "b", "v").unwrap();
        x.migrate("a", "b", "v").unwrap();
        assert_eq!(cluster.host("b").unwrap().domains.len(), 1);
    }
}
