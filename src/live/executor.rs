//! The executor interface: the thin layer between the decision code and the
//! hosts. A driver turns site steps into calls on an [`Executor`]; the
//! [`XenExecutor`](super::xen::XenExecutor) implements it with `xl`.
//!
//! Every operation is idempotent by VM name: repeating a call that already
//! took effect succeeds without changing anything, so a driver may retry
//! after a crash or a lost answer.

use std::time::Duration;

/// What a host reports about its capacity (`xl info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// The host name as the executor addresses it.
    pub host: String,
    /// Physical memory of the host in MiB (`total_memory`).
    pub total_memory_mib: u64,
    /// Memory not held by any domain, in MiB (`free_memory`).
    pub free_memory_mib: u64,
    /// Physical CPUs (`nr_cpus`).
    pub nr_cpus: u32,
    /// Hypervisor scheduler (`xen_scheduler`): `credit2` or `credit`.
    pub scheduler: String,
}

/// One guest domain as `xl list -l` reports it (dom0 is never listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    /// Domain name; leftovers of a failed migration carry the suffixes
    /// `--incoming` (destination) and `--migratedaway` (source).
    pub name: String,
    /// Domain id on its host (changes with every create, restore, migration).
    pub domid: u32,
    /// Balloon target in MiB (`target_memkb`).
    pub memory_mib: u64,
    /// Static maximum memory in MiB (`max_memkb`).
    pub max_memory_mib: u64,
    /// Online vCPUs (entries of `avail_vcpus`).
    pub vcpus: u32,
    /// Maximum vCPUs (`max_vcpus`).
    pub max_vcpus: u32,
    /// Scheduler weight; `None` when left at the scheduler's default.
    pub weight: Option<u32>,
    /// Scheduler cap in percent of one CPU; `None` when left at the default
    /// (no cap).
    pub cap: Option<u32>,
}

/// The full description of a VM the executor creates, resizes or restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    /// Domain name: the idempotency key. Letters, digits, `.`, `_` and `-`
    /// only; must not end in `--incoming` or `--migratedaway`.
    pub name: String,
    /// Memory (balloon target) in MiB.
    pub memory_mib: u64,
    /// Static maximum memory in MiB; the target may grow up to it live.
    pub max_memory_mib: u64,
    /// Online vCPUs.
    pub vcpus: u32,
    /// Maximum vCPUs; the count may grow up to it live.
    pub max_vcpus: u32,
    /// Scheduler weight, 1..=65535 (256 is the default).
    pub cpu_weight: u32,
    /// Scheduler cap in percent of one CPU, `<= max_vcpus * 100`; 0 means
    /// no cap.
    pub cap_percent: u32,
    /// Outgoing network rate limit in Mbit/s (vif `rate=`); 0 means none.
    /// Set at create and restore only: `xl` cannot change it live.
    pub bandwidth_mbps: u64,
    /// Disk size in GiB; informational (disks are provisioned out of band
    /// and may appear in the disk template as `{disk_gib}`).
    pub disk_gib: u64,
}

/// Why an executor operation failed. Every variant names the host and (where
/// there is one) the VM, and carries an excerpt of the command's stderr.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The host could not be reached (ssh exited with 255).
    #[error("{host}: unreachable: {stderr}")]
    Unreachable {
        /// The host.
        host: String,
        /// ssh's stderr excerpt.
        stderr: String,
    },
    /// The VM does not exist on the host (`rc=-6`).
    #[error("{host}: no such VM {vm}")]
    NoSuchVm {
        /// The host.
        host: String,
        /// The VM name.
        vm: String,
        /// stderr excerpt (empty when found by listing).
        stderr: String,
    },
    /// A VM with this name already exists with a different configuration.
    #[error("{host}: VM {vm} already exists: {stderr}")]
    AlreadyExists {
        /// The host.
        host: String,
        /// The VM name.
        vm: String,
        /// stderr excerpt or what differs.
        stderr: String,
    },
    /// The request exceeds the VM's maximum memory or vCPUs (or the host's
    /// CPUs for a vCPU count).
    #[error("{host}: VM {vm}: request exceeds its maximum: {stderr}")]
    ExceedsMax {
        /// The host.
        host: String,
        /// The VM name.
        vm: String,
        /// stderr excerpt.
        stderr: String,
    },
    /// Not enough free memory on the host.
    #[error("{host}: not enough free memory for VM {vm}: {stderr}")]
    NoMemory {
        /// The host.
        host: String,
        /// The VM name.
        vm: String,
        /// stderr excerpt.
        stderr: String,
    },
    /// A live migration failed. `resumed_at_sender`: the VM runs on the
    /// source as before (checked); otherwise its state is undefined and
    /// [`XenExecutor::reconcile`](super::xen::XenExecutor::reconcile) must
    /// decide which copy survives.
    #[error(
        "migration of {vm} from {from} to {to} failed (resumed at sender: {resumed_at_sender}): {stderr}"
    )]
    MigrationFailed {
        /// Source host.
        from: String,
        /// Destination host.
        to: String,
        /// The VM name.
        vm: String,
        /// Whether the VM is running, under its name, on the source.
        resumed_at_sender: bool,
        /// stderr excerpt.
        stderr: String,
    },
    /// `xl save` failed; the VM was resumed on the host (checked).
    #[error("{host}: saving VM {vm} failed, VM resumed: {stderr}")]
    SaveFailed {
        /// The host.
        host: String,
        /// The VM name.
        vm: String,
        /// stderr excerpt.
        stderr: String,
    },
    /// The command did not finish in time and was killed; the state of the
    /// VM is unknown until read again.
    #[error("{host}: `{}` timed out after {after:?}", argv.join(" "))]
    Timeout {
        /// The host.
        host: String,
        /// The command.
        argv: Vec<String>,
        /// The timeout that expired.
        after: Duration,
    },
    /// A command failed for a reason not classified above.
    #[error("{host}: `{}` failed (exit code {code:?}): {stderr}", argv.join(" "))]
    Command {
        /// The host.
        host: String,
        /// The command.
        argv: Vec<String>,
        /// Exit code (`None`: killed by a signal).
        code: Option<i32>,
        /// stderr excerpt.
        stderr: String,
    },
    /// A command succeeded but its output could not be understood.
    #[error("{host}: cannot parse the output of `{}`: {message}", argv.join(" "))]
    BadOutput {
        /// The host.
        host: String,
        /// The command.
        argv: Vec<String>,
        /// What is wrong.
        message: String,
    },
    /// A command reported success but reading the state again does not
    /// show its effect.
    #[error("{host}: VM {vm}: {message}")]
    Unconfirmed {
        /// The host.
        host: String,
        /// The VM name.
        vm: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The spec (or a name) is not acceptable; nothing was run.
    #[error("invalid VM spec for {vm:?}: {message}")]
    InvalidSpec {
        /// The VM name.
        vm: String,
        /// What is wrong.
        message: String,
    },
    /// A local I/O error (spawning a command, writing a config file).
    #[error("{host}: {context}")]
    Io {
        /// The host.
        host: String,
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ExecError {
    /// The host the error concerns (the source for a migration, empty for
    /// [`ExecError::InvalidSpec`]).
    pub fn host(&self) -> &str {
        match self {
            ExecError::Unreachable { host, .. }
            | ExecError::NoSuchVm { host, .. }
            | ExecError::AlreadyExists { host, .. }
            | ExecError::ExceedsMax { host, .. }
            | ExecError::NoMemory { host, .. }
            | ExecError::SaveFailed { host, .. }
            | ExecError::Timeout { host, .. }
            | ExecError::Command { host, .. }
            | ExecError::BadOutput { host, .. }
            | ExecError::Unconfirmed { host, .. }
            | ExecError::Io { host, .. } => host,
            ExecError::MigrationFailed { from, .. } => from,
            ExecError::InvalidSpec { .. } => "",
        }
    }

    /// Whether retrying the same call later may succeed without any other
    /// change (unreachable host, timeout, I/O error).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ExecError::Unreachable { .. } | ExecError::Timeout { .. } | ExecError::Io { .. }
        )
    }
}

/// The operations a live driver needs from a virtualisation platform.
///
/// Implementations must be callable from several threads at once for
/// different hosts; keeping one operation per host at a time is the
/// driver's job.
pub trait Executor: Send + Sync {
    /// Capacity of `host`.
    fn host_info(&self, host: &str) -> Result<HostInfo, ExecError>;
    /// The guest VMs on `host` (leftovers of failed migrations included).
    fn list(&self, host: &str) -> Result<Vec<VmInfo>, ExecError>;
    /// Creates the VM on `host`; Ok if it already runs there with this spec.
    fn create(&self, host: &str, spec: &VmSpec) -> Result<(), ExecError>;
    /// Sets the VM's memory target, vCPU count and scheduler parameters to
    /// the spec (only what differs is changed). Maximums and bandwidth
    /// cannot change live.
    fn resize(&self, host: &str, spec: &VmSpec) -> Result<(), ExecError>;
    /// Live-migrates the VM from `from` to `to`; Ok if it already moved.
    fn migrate(&self, from: &str, to: &str, name: &str) -> Result<(), ExecError>;
    /// First half of a stop-and-copy migration: saves the VM to `image`
    /// (storage the destination sees) and destroys it.
    fn save(&self, host: &str, name: &str, image: &str) -> Result<(), ExecError>;
    /// Second half: restores the VM from `image` with the full spec; Ok if
    /// it already runs there with this spec.
    fn restore(&self, host: &str, spec: &VmSpec, image: &str) -> Result<(), ExecError>;
    /// Destroys the VM; Ok if it is already gone.
    fn destroy(&self, host: &str, name: &str) -> Result<(), ExecError>;
    /// After a failed or interrupted migration of `name` from `from` to
    /// `to`: leaves exactly one running copy and returns the host it runs
    /// on (`None` if no copy was found on either host).
    fn reconcile_migration(&self, from: &str, to: &str, name: &str) -> Result<Option<String>, ExecError>;
    /// A scenario's outage reaches `host`: it fails (`on` false: its VMs
    /// are lost and it answers nothing) or comes back (`on` true, with no
    /// VMs). Ok(true) if the executor did it (emulated hosts); Ok(false),
    /// the default, if it cannot (real hosts): the driver then destroys the
    /// host's VMs itself and leaves it alone while it is down.
    fn power(&self, host: &str, on: bool) -> Result<bool, ExecError> {
        let _ = (host, on);
        Ok(false)
    }
}

/// The suffixes `xl` gives a migrating domain (on the destination while it
/// arrives, on the source after the handshake).
pub use slivers_xl_emu::{INCOMING_SUFFIX, MIGRATEDAWAY_SUFFIX};

/// Checks a VM name: 1..=64 characters from `[A-Za-z0-9._-]`, not starting
/// with `-` or `.`, no temporary migration suffix, not `Domain-0`.
pub fn validate_name(name: &str) -> Result<(), ExecError> {
    let bad = |message: &str| {
        Err(ExecError::InvalidSpec {
            vm: name.to_string(),
            message: message.to_string(),
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("a VM name has 1 to 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("a VM name may only contain letters, digits, '.', '_' and '-'");
    }
    if name.starts_with(['-', '.']) {
        return bad("a VM name must not start with '-' or '.'");
    }
    if name.ends_with(INCOMING_SUFFIX) || name.ends_with(MIGRATEDAWAY_SUFFIX) {
        return bad("a VM name must not end in a temporary migration suffix");
    }
    if name == "Domain-0" {
        return bad("Domain-0 is the control domain");
    }
    Ok(())
}

impl VmSpec {
    /// Checks the spec against what `xl` accepts: a valid name, nonzero
    /// memory and vCPUs within their maximums, weight 1..=65535 and a cap
    /// at most `max_vcpus * 100`.
    pub fn validate(&self) -> Result<(), ExecError> {
        validate_name(&self.name)?;
        let bad = |message: String| {
            Err(ExecError::InvalidSpec {
                vm: self.name.clone(),
                message,
            })
        };
        if self.memory_mib == 0 || self.memory_mib > self.max_memory_mib {
            return bad(format!(
                "memory {} MiB must be in 1..=max_memory {} MiB",
                self.memory_mib, self.max_memory_mib
            ));
        }
        // xl takes MiB; keep KiB values within u64 and far below any host.
        if self.max_memory_mib > 1 << 40 {
            return bad(format!("max_memory {} MiB is too large", self.max_memory_mib));
        }
        if self.vcpus == 0 || self.vcpus > self.max_vcpus || self.max_vcpus > 4096 {
            return bad(format!(
                "vcpus {} must be in 1..=max_vcpus {} (at most 4096)",
                self.vcpus, self.max_vcpus
            ));
        }
        if !(1..=65535).contains(&self.cpu_weight) {
            return bad(format!("cpu_weight {} must be in 1..=65535", self.cpu_weight));
        }
        if u64::from(self.cap_percent) > u64::from(self.max_vcpus) * 100 {
            return bad(format!(
                "cap {}% exceeds max_vcpus * 100 = {}",
                self.cap_percent,
                u64::from(self.max_vcpus) * 100
            ));
        }
        Ok(())
    }

    /// Whether a running VM already has this spec's live parameters
    /// (memory target and maximum, vCPUs and maximum, weight, cap). A
    /// weight left at the default counts as 256, a missing cap as 0.
    pub fn matches(&self, vm: &VmInfo) -> bool {
        vm.name == self.name
            && vm.max_memory_mib == self.max_memory_mib
            && vm.max_vcpus == self.max_vcpus
            && self.runtime_matches(vm)
    }

    /// Whether the parameters `resize` can change (memory target, vCPUs,
    /// weight, cap) already have this spec's values.
    pub fn runtime_matches(&self, vm: &VmInfo) -> bool {
        vm.memory_mib == self.memory_mib
            && vm.vcpus == self.vcpus
            && vm.weight.unwrap_or(DEFAULT_WEIGHT) == self.cpu_weight
            && vm.cap.unwrap_or(0) == self.cap_percent
    }
}

/// The credit and credit2 schedulers' default weight.
pub const DEFAULT_WEIGHT: u32 = 256;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 1 GiB, one-vCPU VM named `vm1`, for tests of the live runtime.
    pub(crate) fn spec() -> VmSpec {
        VmSpec {
            name: "vm1".into(),
            memory_mib: 1024,
            max_memory_mib: 2048,
            vcpus: 1,
            max_vcpus: 2,
            cpu_weight: 256,
            cap_percent: 0,
            bandwidth_mbps: 100,
            disk_gib: 10,
        }
    }

    #[test]
    fn names_are_checked() {
        for ok in ["vm1", "a.b_c-d", "X"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".x",
            "a b",
            "a/b",
            "a;b",
            "vm--incoming",
            "vm--migratedaway",
            "Domain-0",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(validate_name(bad), Err(ExecError::InvalidSpec { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn specs_are_checked() {
        assert!(spec().validate().is_ok());
        let cases: [fn(&mut VmSpec); 6] = [
            |s| s.memory_mib = 0,
            |s| s.memory_mib = 4096,
            |s| s.vcpus = 3,
            |s| s.cpu_weight = 0,
            |s| s.cap_percent = 201,
            |s| s.max_memory_mib = u64::MAX,
        ];
        for f in cases {
            let mut s = spec();
            f(&mut s);
            assert!(matches!(s.validate(), Err(ExecError::InvalidSpec { .. })));
        }
    }

    #[test]
    fn defaults_match() {
        let s = spec();
        let vm = VmInfo {
            name: "vm1".into(),
            domid: 3,
            memory_mib: 1024,
            max_memory_mib: 2048,
            vcpus: 1,
            max_vcpus: 2,
            weight: None,
            cap: None,
        };
        assert!(s.matches(&vm));
        let mut other = vm.clone();
        other.cap = Some(50);
        assert!(!s.matches(&other));
    }
}
