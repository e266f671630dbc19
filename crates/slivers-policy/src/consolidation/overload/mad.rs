//! Median absolute deviation (MAD): the host's threshold is `1 - s x MAD`
//! of its utilisation history; it is overloaded when its current
//! utilisation exceeds that (CloudSim's
//! `PowerVmAllocationPolicyMigrationMedianAbsoluteDeviation`). The same
//! history rules as [`super::iqr`]: at least `min_history` (12) values,
//! leading zeros not counted.

use super::{HostLoad, trimmed};
use crate::consolidation::stats;

/// `Some(overloaded)`, or `None` if the history is too short.
pub(super) fn overloaded(load: &HostLoad, safety: f64, min_history: usize) -> Option<bool> {
    let h = trimmed(load.history);
    if h.len() < min_history {
        return None;
    }
    Some(load.utilization > 1.0 - safety * stats::mad(h)?)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn threshold_is_one_less_s_mads() {
        // Alternating 0.4 / 0.6: median 0.5, every deviation 0.1 -> MAD 0.1.
        let h: Vec<f64> = (0..12).map(|i| if i % 2 == 0 { 0.4 } else { 0.6 }).collect();
        // s = 2.5: threshold 0.75.
        assert_eq!(overloaded(&load(0.74, &h), 2.5, 12), Some(false));
        assert_eq!(overloaded(&load(0.76, &h), 2.5, 12), Some(true));
        assert_eq!(overloaded(&load(0.76, &h[..11]), 2.5, 12), None);
    }
}
