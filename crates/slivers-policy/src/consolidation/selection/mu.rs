//! Minimum utilisation (MU): the VM using the smallest share of its
//! reserved CPU now (CloudSim's `SelectionPolicyMinimumUtilization`).

use super::argmin;
use crate::consolidation::VmState;

pub(super) fn select(candidates: &[&VmState]) -> usize {
    argmin(candidates, VmState::utilization)
}

#[cfg(test)]
mod tests {
    use super::super::tests::state_with;
    use super::*;

    #[test]
    fn smallest_share_of_its_reservation() {
        // VM 3 uses 250 of 2500 MIPS (0.1), VM 5 uses 100 of 500 (0.2).
        let s = state_with(&[
            (3, 2500, 870, &[0.1]),
            (5, 500, 613, &[0.2]),
            (8, 1000, 613, &[0.1]),
        ]);
        let c: Vec<_> = s.vms().collect();
        assert_eq!(select(&c), 0);
        assert_eq!(select(&c[1..]), 1);
    }
}
