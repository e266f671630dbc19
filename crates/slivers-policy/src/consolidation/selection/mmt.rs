//! Minimum migration time (MMT): the VM whose memory takes the least time
//! to copy: its RAM over the host's bandwidth. CloudSim
//! (`SelectionPolicyMinimumMigrationTime`) compares RAM alone, which ranks
//! the VMs of one host the same; the time is what the paper defines.

use super::argmin;
use crate::consolidation::VmState;

/// Seconds to copy `vm`'s memory (MiB) over half a link of `bw_mbps`, as
/// CloudSim's local regression estimates a migration.
pub(crate) fn migration_s(vm: &VmState, bw_mbps: u64) -> f64 {
    if bw_mbps == 0 {
        return 0.0;
    }
    vm.reserved().memory_mib() as f64 * 8.0 / (bw_mbps as f64 / 2.0)
}

pub(super) fn select(candidates: &[&VmState], bw_mbps: u64) -> usize {
    argmin(candidates, |vm| migration_s(vm, bw_mbps))
}

#[cfg(test)]
mod tests {
    use super::super::tests::state_with;
    use super::*;
    use crate::VmId;

    #[test]
    fn least_memory_first_lowest_id_on_ties() {
        let s = state_with(&[
            (4, 1000, 1740, &[0.1]),
            (7, 500, 613, &[0.9]),
            (9, 2500, 613, &[0.2]),
        ]);
        let c: Vec<_> = s.vms().collect();
        assert_eq!(select(&c, 1000), 1);
        // 1740 MiB over 500 Mbit/s: 27.84 s.
        assert!((migration_s(s.vm(VmId(4)).unwrap(), 1000) - 27.84).abs() < 1e-9);
    }
}
