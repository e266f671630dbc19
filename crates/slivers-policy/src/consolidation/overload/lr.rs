//! Local regression (LR, Loess after Cleveland): a line fitted to the last
//! `window` (10) values of the host's history, weighted toward the newest
//! by the tricube function, is extended to the end of the migrations a
//! decision now would start; the host is overloaded when `s x` that
//! prediction reaches 1 (CloudSim's
//! `PowerVmAllocationPolicyMigrationLocalRegression`).
//!
//! With `n` values at x = 1..n, the fit is centred on the newest (x = n):
//! the weight of x_i is `T((n - x_i) / (n - 1))`, `T(u) = (1 - u^3)^3`, so
//! the newest weighs 1 and the oldest 0. The prediction is at
//! `x = n + ceil(longest migration / interval)`.
//!
//! Differences from CloudSim, which are bugs there:
//! * CloudSim's `getTricubeWeigts` returns `1 / T` (the oldest values weigh
//!   most), and `createWeigthedLinearRegression` only applies weights when
//!   40 % of them are zero, which tricube weights never are: its fit is in
//!   effect unweighted least squares. Here the fit is the paper's weighted one.
//! * Since CloudSim's histories became oldest-first, it takes the first 10
//!   values (the oldest) where it meant the newest. Here: the newest.

use super::HostLoad;
use crate::consolidation::stats;

/// `Some(overloaded)`, or `None` if the history is shorter than `window`
/// or the fit is degenerate.
pub(super) fn overloaded(load: &HostLoad, safety: f64, window: usize) -> Option<bool> {
    let (x, y) = window_of(load.history, window)?;
    let (a, b) = stats::weighted_line(&x, y, &tricube(window))?;
    Some(safety * predict(a, b, load, window) >= 1.0)
}

/// The last `window` values and their x = 1..=window.
pub(super) fn window_of(history: &[f64], window: usize) -> Option<(Vec<f64>, &[f64])> {
    if window < 3 || history.len() < window {
        return None;
    }
    let y = &history[history.len() - window..];
    Some(((1..=window).map(|i| i as f64).collect(), y))
}

/// Tricube weights of x = 1..=n about x = n.
pub(super) fn tricube(n: usize) -> Vec<f64> {
    let spread = (n - 1) as f64;
    (1..=n)
        .map(|i| {
            let u = (n - i) as f64 / spread;
            let t = 1.0 - u * u * u;
            (t * t * t).max(0.0)
        })
        .collect()
}

/// The fitted line at the end of the migrations started now.
pub(super) fn predict(a: f64, b: f64, load: &HostLoad, window: usize) -> f64 {
    let ahead = if load.interval_s > 0.0 && load.max_migration_s.is_finite() {
        (load.max_migration_s / load.interval_s).ceil().max(0.0)
    } else {
        0.0
    };
    a + b * (window as f64 + ahead)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn a_rising_trend_is_overloaded_before_it_arrives() {
        // 0.40, 0.45, ..., 0.85: a line, predicted 0.90 one interval ahead.
        let h: Vec<f64> = (0..10).map(|i| 0.4 + 0.05 * i as f64).collect();
        let mut l = load(0.85, &h);
        l.max_migration_s = 30.0;
        // 1.2 x 0.90 = 1.08 >= 1.
        assert_eq!(overloaded(&l, 1.2, 10), Some(true));
        // 1.1 x 0.90 = 0.99.
        assert_eq!(overloaded(&l, 1.1, 10), Some(false));
        // Three intervals ahead: 1.1 x 1.0 >= 1.
        l.max_migration_s = 700.0;
        assert_eq!(overloaded(&l, 1.1, 10), Some(true));
        assert_eq!(overloaded(&l, 1.1, 11), None);
    }

    #[test]
    fn the_newest_values_weigh_most() {
        let w = tricube(10);
        assert_eq!(w[9], 1.0);
        assert_eq!(w[0], 0.0);
        assert!(w.windows(2).all(|p| p[0] < p[1]));
        // Flat, then a jump in the last two values: the weighted slope is
        // steeper than the unweighted one.
        let mut h = vec![0.3; 8];
        h.extend([0.6, 0.7]);
        let (x, y) = window_of(&h, 10).unwrap();
        let (_, weighted) = stats::weighted_line(&x, y, &w).unwrap();
        let (_, plain) = stats::weighted_line(&x, y, &[1.0; 10]).unwrap();
        assert!(weighted > plain, "{weighted} vs {plain}");
    }
}
