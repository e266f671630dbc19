//! Static threshold (THR): a host is overloaded when its current CPU
//! utilisation exceeds a fixed share of its capacity (CloudSim's
//! `PowerVmAllocationPolicyMigrationStaticThreshold`; `THR-MMT-0.8` is a
//! threshold of 0.8). It is also every other detector's fallback while a
//! host's history is too short.

/// True if `utilization` is above `threshold`.
pub(super) fn overloaded(utilization: f64, threshold: f64) -> bool {
    utilization > threshold
}

#[cfg(test)]
mod tests {
    #[test]
    fn strictly_above_the_threshold() {
        assert!(super::overloaded(0.81, 0.8));
        assert!(!super::overloaded(0.8, 0.8));
    }
}
