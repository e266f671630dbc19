//! Robust local regression (LRR): [`super::lr`]'s fit, then refitted with
//! each value's tricube weight times the bisquare weight of its residual,
//! `B(r / 6 median|r|)`, `B(u) = (1 - u^2)^2` for |u| < 1 else 0, so that
//! outliers count less (CloudSim's
//! `PowerVmAllocationPolicyMigrationLocalRegressionRobust`, after
//! Cleveland). When the median residual is 0 the first fit already passes
//! through most values and is kept; so is it when the refit is degenerate.
//!
//! CloudSim inverts the weights and then, in effect, ignores them (see
//! [`super::lr`]), so there LRR and LR both reduce to unweighted least
//! squares. Here the reweighting is applied as the paper describes.

use super::HostLoad;
use super::lr::{predict, tricube, window_of};
use crate::consolidation::stats;

/// `Some(overloaded)`, or `None` if the history is shorter than `window`
/// or the first fit is degenerate.
pub(super) fn overloaded(load: &HostLoad, safety: f64, window: usize) -> Option<bool> {
    let (x, y) = window_of(load.history, window)?;
    let (a, b) = robust_fit(&x, y, &tricube(window))?;
    Some(safety * predict(a, b, load, window) >= 1.0)
}

/// The bisquare-reweighted fit.
fn robust_fit(x: &[f64], y: &[f64], tricube: &[f64]) -> Option<(f64, f64)> {
    let (a, b) = stats::weighted_line(x, y, tricube)?;
    let residuals: Vec<f64> = x.iter().zip(y).map(|(xi, yi)| yi - (a + b * xi)).collect();
    let abs: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
    let s6 = 6.0 * stats::median(&abs)?;
    if s6.is_nan() || s6 <= 0.0 {
        return Some((a, b));
    }
    let w: Vec<f64> = residuals
        .iter()
        .zip(tricube)
        .map(|(r, t)| {
            let u = r / s6;
            if u.abs() < 1.0 {
                t * (1.0 - u * u) * (1.0 - u * u)
            } else {
                0.0
            }
        })
        .collect();
    Some(stats::weighted_line(x, y, &w).unwrap_or((a, b)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn one_outlier_moves_lr_more_than_lrr() {
        // A gentle rise with one spike two intervals back.
        let mut h: Vec<f64> = (0..10).map(|i| 0.5 + 0.01 * i as f64).collect();
        h[7] = 0.95;
        let (x, y) = window_of(&h, 10).unwrap();
        let w = tricube(10);
        let (_, plain) = stats::weighted_line(&x, y, &w).unwrap();
        let (_, robust) = robust_fit(&x, y, &w).unwrap();
        assert!(
            (robust - 0.01).abs() < (plain - 0.01).abs(),
            "{robust} vs {plain}"
        );
        // On a clean line both agree.
        let line: Vec<f64> = (0..10).map(|i| 0.5 + 0.01 * i as f64).collect();
        let (x, y) = window_of(&line, 10).unwrap();
        let (_, b) = robust_fit(&x, y, &w).unwrap();
        assert!((b - 0.01).abs() < 1e-9);
        assert_eq!(overloaded(&load(0.6, &line), 1.2, 10), Some(false));
        assert_eq!(overloaded(&load(0.6, &line), 2.0, 10), Some(true));
    }
}
