//! How long each operation takes: the `MigrationModel` seam.
//!
//! The simulator asks the model for the duration of every step it starts.
//! [`SimpleMigration`] is the first-order model of the core issue: a live
//! migration copies the VM's memory once over the migration network; a
//! stop-and-copy writes the memory image to shared storage and reads it back
//! on the target, plus fixed suspend and resume times. A pre-copy model with
//! dirty pages can replace it behind the same trait.

use slivers_policy::plan::Step;

use crate::engine::SimTime;

/// The duration of each step a site executes.
pub trait MigrationModel: Send + Sync {
    /// How long `step` takes from start to completion.
    fn duration(&self, step: &Step) -> SimTime;
}

/// Memory / bandwidth, plus fixed costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleMigration {
    /// Migration network bandwidth per transfer, Mbit/s (> 0).
    pub bandwidth_mbps: u64,
    /// Fixed time to suspend a VM (stop-and-copy, first half).
    pub suspend: SimTime,
    /// Fixed time to resume a VM from its image (stop-and-copy, second half).
    pub resume: SimTime,
    /// Time to create, resize or destroy a VM.
    pub op_latency: SimTime,
}

impl Default for SimpleMigration {
    fn default() -> Self {
        SimpleMigration {
            bandwidth_mbps: 1000,
            suspend: SimTime::from_secs(5),
            resume: SimTime::from_secs(5),
            op_latency: SimTime::from_secs(1),
        }
    }
}

impl SimpleMigration {
    /// Time to copy `memory_mib` over the migration network, rounded up to
    /// the millisecond: MiB * 8 * 2^20 bits / (Mbit/s * 10^6) seconds.
    pub fn transfer(&self, memory_mib: u64) -> SimTime {
        let bits = memory_mib as u128 * 8 * 1024 * 1024;
        let per_ms = (self.bandwidth_mbps.max(1) as u128) * 1000; // bits per ms
        SimTime(bits.div_ceil(per_ms) as u64)
    }
}

impl MigrationModel for SimpleMigration {
    fn duration(&self, step: &Step) -> SimTime {
        match *step {
            Step::Migrate { size_from, .. } => self.transfer(size_from.memory_mib()),
            Step::Suspend { size, .. } => self.suspend.plus(self.transfer(size.memory_mib())),
            Step::Restore { size, .. } => self.resume.plus(self.transfer(size.memory_mib())),
            Step::Create { .. } | Step::Resize { .. } | Step::Destroy { .. } => self.op_latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slivers_policy::{HostId, Resources, VmId};

    #[test]
    fn hand_computed_durations() {
        let m = SimpleMigration::default();
        // 1000 MiB at 1000 Mbit/s: 1000 * 8.388608 Mbit / 1000 Mbit/s = 8.388608 s.
        assert_eq!(m.transfer(1000), SimTime(8389));
        let size = Resources::new(4000, 8192, 500, 100);
        let mv = Step::Migrate {
            vm: VmId(1),
            from: HostId(0),
            to: HostId(1),
            size_from: size,
            size_to: size,
        };
        // 8192 MiB: 68.719476736 s, rounded up to the ms.
        assert_eq!(m.duration(&mv), SimTime(68720));
        let sus = Step::Suspend {
            vm: VmId(1),
            host: HostId(0),
            size,
        };
        assert_eq!(m.duration(&sus), SimTime(73720));
        let cr = Step::Create {
            vm: VmId(1),
            host: HostId(0),
            size,
        };
        assert_eq!(m.duration(&cr), SimTime::from_secs(1));
    }
}
