//! Interquartile range (IQR): the host's threshold adapts to how much its
//! utilisation varies: `1 - s x IQR` of its history, and it is overloaded
//! when its current utilisation exceeds that (CloudSim's
//! `PowerVmAllocationPolicyMigrationInterQuartileRange`).
//!
//! At least `min_history` (12) values are needed, leading zeros not
//! counted; the quartiles are computed over those values. CloudSim (since
//! its histories became oldest-first) computes them over the whole array,
//! zeros included, and counts the nonzero values from the wrong end; here
//! the history is oldest first as everywhere in this module.

use super::{HostLoad, trimmed};
use crate::consolidation::stats;

/// `Some(overloaded)`, or `None` if the history is too short.
pub(super) fn overloaded(load: &HostLoad, safety: f64, min_history: usize) -> Option<bool> {
    let h = trimmed(load.history);
    if h.len() < min_history {
        return None;
    }
    Some(load.utilization > 1.0 - safety * stats::iqr(h)?)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn threshold_falls_as_the_spread_grows() {
        let steady = [0.5; 12];
        // IQR 0: threshold 1.
        assert_eq!(overloaded(&load(0.95, &steady), 1.5, 12), Some(false));
        // Values 0.1..=1.2: ranks 3 and 10 of 12 -> IQR 0.7, threshold 1 - 1.05 < 0.
        let wide: Vec<f64> = (1..=12).map(|i| i as f64 / 10.0).collect();
        assert_eq!(overloaded(&load(0.01, &wide), 1.5, 12), Some(true));
        // s = 0.5: threshold 1 - 0.35 = 0.65.
        assert_eq!(overloaded(&load(0.6, &wide), 0.5, 12), Some(false));
        assert_eq!(overloaded(&load(0.7, &wide), 0.5, 12), Some(true));
        assert_eq!(overloaded(&load(0.7, &wide[1..]), 0.5, 12), None);
    }
}
