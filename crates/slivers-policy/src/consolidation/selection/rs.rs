//! Random selection (RS): a candidate drawn uniformly with the run's seeded
//! generator (CloudSim's `SelectionPolicyRandomSelection`), so the choice
//! is the same on every run with the same seed.

use super::Draw;
use crate::consolidation::VmState;

pub(super) fn select(candidates: &[&VmState], draw: &mut dyn Draw) -> usize {
    let n = candidates.len() as u64;
    (draw.below(n) % n) as usize
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Fixed, state_with};
    use super::*;

    #[test]
    fn the_drawn_candidate() {
        let s = state_with(&[
            (1, 500, 613, &[0.1]),
            (2, 500, 613, &[0.1]),
            (3, 500, 613, &[0.1]),
        ]);
        let c: Vec<_> = s.vms().collect();
        let mut d = Fixed(vec![2, 0, 7], 0);
        assert_eq!(select(&c, &mut d), 2);
        assert_eq!(select(&c, &mut d), 0);
        assert_eq!(select(&c, &mut d), 1);
    }
}
