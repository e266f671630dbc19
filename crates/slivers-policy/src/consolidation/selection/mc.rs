//! Maximum correlation (MC): the VM whose utilisation history is best
//! explained by the other candidates' histories: the largest coefficient of
//! determination R^2 of a least squares fit of its history on theirs plus
//! an intercept (the squared multiple correlation coefficient; CloudSim's
//! `PowerSelectionPolicyMaximumCorrelation`).
//!
//! The histories are aligned at their newest value and cut to the shortest
//! one. When the fit is undefined (one history too short: no more values
//! than coefficients, or collinear histories) the policy falls back to
//! [`super::mmt`], as CloudSim's experiment configures it; a single
//! candidate is simply chosen.
//!
//! Differences from CloudSim: it fills each row with the VM's whole history
//! into an array of the shortest length (an exception when lengths differ;
//! its own comment notes the bug) and aligns at the oldest value; here the
//! newest values line up. A constant history has R^2 = 0 here (NaN there,
//! never chosen unless all are NaN).

use crate::consolidation::{VmState, stats};

/// The index of the VM to move, or `None` for the fallback.
pub(super) fn select(candidates: &[&VmState]) -> Option<usize> {
    let n = candidates.len();
    if n == 1 {
        return Some(0);
    }
    let m = candidates.iter().map(|vm| vm.history().len()).min()?;
    let rows: Vec<Vec<f64>> = candidates
        .iter()
        .map(|vm| vm.history().iter().skip(vm.history().len() - m).collect())
        .collect();
    let mut best: Option<(usize, f64)> = None;
    for i in 0..n {
        let others: Vec<&[f64]> = (0..n).filter(|&j| j != i).map(|j| rows[j].as_slice()).collect();
        let r2 = stats::r_squared(&rows[i], &others)?;
        if best.is_none_or(|(_, b)| r2 > b) {
            best = Some((i, r2));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::super::tests::state_with;
    use super::super::{Draw, SelectionKind};
    use super::*;

    struct NoDraw;
    impl Draw for NoDraw {
        fn below(&mut self, _: u64) -> u64 {
            unreachable!("mc draws nothing")
        }
    }

    #[test]
    fn the_history_the_others_explain_best() {
        // VM 1 and VM 2 move together (2 is about twice 1), VM 3 is noise:
        // VM 1 or 2 has the largest R^2.
        let a = [0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.2, 0.3];
        let noise = [0.01, -0.01, 0.02, 0.0, -0.02, 0.01, 0.0, -0.01];
        let b: Vec<f64> = a.iter().zip(noise).map(|(x, e)| 2.0 * x + e).collect();
        let c = [0.5, 0.1, 0.4, 0.2, 0.6, 0.3, 0.5, 0.1];
        let s = state_with(&[(1, 1000, 1000, &a), (2, 1000, 1000, &b), (3, 1000, 500, &c)]);
        let v: Vec<_> = s.vms().collect();
        let pick = select(&v).unwrap();
        assert!(pick == 0 || pick == 1, "{pick}");
        assert_eq!(SelectionKind::Mc.select(&v, 1000, &mut NoDraw), Some(pick));
    }

    #[test]
    fn too_little_history_falls_back_to_mmt() {
        // Two values for three candidates: no fit; MMT picks VM 3 (least RAM).
        let s = state_with(&[
            (1, 1000, 1000, &[0.1, 0.2]),
            (2, 1000, 1000, &[0.3, 0.1]),
            (3, 1000, 500, &[0.2, 0.2]),
        ]);
        let v: Vec<_> = s.vms().collect();
        assert_eq!(select(&v), None);
        assert_eq!(SelectionKind::Mc.select(&v, 1000, &mut NoDraw), Some(2));
        assert_eq!(select(&v[..1]), Some(0));
    }
}
