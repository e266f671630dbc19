//! Small statistics for the overload detectors and VM selection: median,
//! quartiles, weighted line fits and multiple regression, with no
//! dependency. Every function is deterministic (sorts with
//! `f64::total_cmp`) and returns `None` where the result is undefined.

/// The median (the mean of the two middle values for an even count).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median absolute deviation from the median.
pub(crate) fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// The interquartile range Q3 - Q1, each quartile the order statistic of
/// rank `round(p (n + 1))` (1-based, clamped to the data), as CloudSim's
/// `MathUtil.iqr` takes them.
pub(crate) fn iqr(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let at = |p: f64| {
        let rank = (p * (n as f64 + 1.0)).round() as usize;
        v[rank.clamp(1, n) - 1]
    };
    Some(at(0.75) - at(0.25))
}

/// Weighted least squares line through `(x, y)`: `(intercept, slope)`.
/// `None` if the weighted spread of `x` is zero.
pub(crate) fn weighted_line(x: &[f64], y: &[f64], w: &[f64]) -> Option<(f64, f64)> {
    let sw: f64 = w.iter().sum();
    if sw.is_nan() || sw <= 0.0 {
        return None;
    }
    let mx = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let my = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for ((&xi, &yi), &wi) in x.iter().zip(y).zip(w) {
        sxx += wi * (xi - mx) * (xi - mx);
        sxy += wi * (xi - mx) * (yi - my);
    }
    if sxx.is_nan() || sxx <= 1e-12 * sw {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The coefficient of determination R^2 of the least squares fit of `y` on
/// the columns `xs` plus an intercept. `None` if there are not more
/// observations than coefficients, or the columns are (numerically)
/// collinear. A constant `y` is fitted exactly: R^2 = 0 by convention (it
/// explains nothing).
pub(crate) fn r_squared(y: &[f64], xs: &[&[f64]]) -> Option<f64> {
    let m = y.len();
    let p = xs.len() + 1;
    if m <= p || xs.iter().any(|c| c.len() != m) {
        return None;
    }
    // Modified Gram-Schmidt on [1, x1, .., xk]; the residual of y after
    // projecting on the orthonormal basis.
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(p);
    let columns = std::iter::once(vec![1.0; m]).chain(xs.iter().map(|c| c.to_vec()));
    for mut c in columns {
        let norm0 = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        for b in &q {
            let d: f64 = c.iter().zip(b).map(|(a, b)| a * b).sum();
            c.iter_mut().zip(b).for_each(|(a, b)| *a -= d * b);
        }
        let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm.is_nan() || norm <= 1e-10 * norm0.max(1e-300) {
            return None;
        }
        c.iter_mut().for_each(|a| *a /= norm);
        q.push(c);
    }
    let my = y.iter().sum::<f64>() / m as f64;
    let sst: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    if sst.is_nan() || sst <= 0.0 {
        return Some(0.0);
    }
    let mut r = y.to_vec();
    for b in &q {
        let d: f64 = r.iter().zip(b).map(|(a, b)| a * b).sum();
        r.iter_mut().zip(b).for_each(|(a, b)| *a -= d * b);
    }
    let sse: f64 = r.iter().map(|v| v * v).sum();
    Some((1.0 - sse / sst).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // Deviations from 2: 1, 1, 0, 2, 7 -> median 1.
        assert_eq!(mad(&[1.0, 3.0, 2.0, 4.0, 9.0]), Some(1.0));
        // n = 7: ranks round(2) = 2 and round(6) = 6 -> 2 and 6.
        assert_eq!(iqr(&[7.0, 1.0, 6.0, 2.0, 5.0, 3.0, 4.0]), Some(4.0));
        // n = 30: ranks round(7.75) = 8 and round(23.25) = 23.
        let v: Vec<f64> = (1..=30).map(f64::from).collect();
        assert_eq!(iqr(&v), Some(15.0));
        assert_eq!(iqr(&[5.0]), Some(0.0));
    }

    #[test]
    fn weighted_line_fits_and_ignores_zero_weights() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [2.0, 4.0, 6.0, 100.0];
        let (a, b) = weighted_line(&x, &y, &[1.0, 1.0, 1.0, 0.0]).unwrap();
        assert!(a.abs() < 1e-9 && (b - 2.0).abs() < 1e-9);
        assert_eq!(weighted_line(&x, &y, &[0.0, 0.0, 1.0, 0.0]), None);
        assert_eq!(weighted_line(&x, &y, &[0.0; 4]), None);
    }

    #[test]
    fn r_squared_of_exact_noisy_and_degenerate_fits() {
        let x1 = [1.0, 2.0, 3.0, 4.0, 5.0];
        let x2 = [2.0, 1.0, 4.0, 3.0, 6.0];
        let y: Vec<f64> = x1.iter().zip(&x2).map(|(a, b)| 3.0 * a - b + 1.0).collect();
        assert!((r_squared(&y, &[&x1, &x2]).unwrap() - 1.0).abs() < 1e-9);
        let noisy = [1.0, 3.0, 2.0, 5.0, 4.0];
        let r = r_squared(&noisy, &[&x1]).unwrap();
        assert!((r - 0.64).abs() < 1e-9, "{r}");
        // Collinear columns, too few observations, constant y.
        let twice: Vec<f64> = x1.iter().map(|a| 2.0 * a).collect();
        assert_eq!(r_squared(&noisy, &[&x1, &twice]), None);
        assert_eq!(r_squared(&noisy[..2], &[&x1[..2]]), None);
        assert_eq!(r_squared(&[1.0; 5], &[&x1]), Some(0.0));
    }
}
