//! Fidelity (paper, sec. 4.1): the allotment a guest receives compared to
//! what it is owed, `allotted / min(promised, demanded)`, capped at 1.
//!
//! Measured on CPU (millicores):
//! * *promised*: the slivers the broker granted the guest, counting each VM
//!   from the moment its create completes (setting a VM up is the lease's
//!   setup, not a lapse);
//! * *demanded*: a web guest's demand for the period in units
//!   (requests per minute / `requests_per_unit`, without headroom); a batch
//!   guest demands all it was promised;
//! * *allotted*: what its running VMs hold on their hosts now; a VM paused
//!   by a migration (final pre-copy round, switchover, stop-and-copy) gets
//!   nothing, and one pulling pages after a post-copy switch gets its
//!   sliver less the slowdown.
//!
//! A guest owed nothing has fidelity 1. The meter keeps each guest's value
//! as a step function of time: its time-weighted mean, its minimum, and a
//! series of every change.

use crate::engine::SimTime;

/// One guest's fidelity over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuestFidelity {
    /// Time-weighted mean over the run.
    pub mean: f64,
    /// Lowest value reached.
    pub min: f64,
}

/// Integrates each guest's fidelity over time.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityMeter {
    value: Vec<f64>,
    min: Vec<f64>,
    /// Integral of fidelity over time, per guest, in ms.
    integral: Vec<f64>,
    since: SimTime,
    series: Vec<(SimTime, u32, f64)>,
}

impl FidelityMeter {
    /// `guests` guests at fidelity 1 at time zero.
    pub fn new(guests: usize) -> Self {
        FidelityMeter {
            value: vec![1.0; guests],
            min: vec![1.0; guests],
            integral: vec![0.0; guests],
            since: SimTime::ZERO,
            series: (0..guests as u32).map(|g| (SimTime::ZERO, g, 1.0)).collect(),
        }
    }

    /// Records each guest's fidelity from `now` on.
    pub fn observe(&mut self, now: SimTime, values: &[f64]) {
        let dt = now.0.saturating_sub(self.since.0) as f64;
        self.since = self.since.max(now);
        for (g, &v) in values.iter().enumerate().take(self.value.len()) {
            self.integral[g] += self.value[g] * dt;
            if v != self.value[g] {
                self.value[g] = v;
                self.min[g] = self.min[g].min(v);
                self.series.push((now, g as u32, v));
            }
        }
    }

    /// Each guest's mean and minimum over `[0, end)`.
    pub fn summary(&self, end: SimTime) -> Vec<GuestFidelity> {
        let tail = end.0.saturating_sub(self.since.0) as f64;
        (0..self.value.len())
            .map(|g| GuestFidelity {
                mean: if end.0 == 0 {
                    self.value[g]
                } else {
                    (self.integral[g] + self.value[g] * tail) / end.0 as f64
                },
                min: self.min[g],
            })
            .collect()
    }

    /// Every change: `(time, guest index, new fidelity)`, in time order,
    /// starting with every guest at 1 at time zero.
    pub fn series(&self) -> &[(SimTime, u32, f64)] {
        &self.series
    }
}

/// Fidelity from its three terms: `allotted / min(promised, demanded)`,
/// capped at 1; 1 when nothing is owed.
pub fn fidelity(allotted: f64, promised: f64, demanded: f64) -> f64 {
    let owed = promised.min(demanded);
    if owed <= 0.0 {
        1.0
    } else {
        (allotted / owed).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_min_of_a_step_function() {
        let mut m = FidelityMeter::new(2);
        // Guest 0 drops to 0.5 for 10 s out of 100 s, guest 1 stays at 1.
        m.observe(SimTime::from_secs(40), &[0.5, 1.0]);
        m.observe(SimTime::from_secs(50), &[1.0, 1.0]);
        let s = m.summary(SimTime::from_secs(100));
        assert_eq!(s[0].min, 0.5);
        assert!((s[0].mean - 0.95).abs() < 1e-12);
        assert_eq!((s[1].mean, s[1].min), (1.0, 1.0));
        assert_eq!(m.series().len(), 4);
    }

    #[test]
    fn owed_is_the_lesser_of_promise_and_demand() {
        assert_eq!(fidelity(4.0, 4.0, 3.0), 1.0);
        assert_eq!(fidelity(2.0, 4.0, 3.0), 2.0 / 3.0);
        assert_eq!(fidelity(2.0, 4.0, 8.0), 0.5);
        assert_eq!(fidelity(0.0, 0.0, 8.0), 1.0);
    }
}
