//! The one random number generator a run owns.
//!
//! Every run (and every trace generator) draws from exactly one [`SimRng`]:
//! ChaCha8 from `rand_chacha`, seeded with [`SimRng::seed_from_u64`]. The
//! algorithm is fixed by name so that a seed means the same stream on every
//! platform and in every release. Nothing in slivers uses `thread_rng` or
//! `StdRng`.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A seeded ChaCha8 stream with the few distributions slivers needs.
#[derive(Debug, Clone)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The stream for `seed`.
    pub fn seed_from_u64(seed: u64) -> Self {
        SimRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A raw 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)`, with 53 bits of precision.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`, safe to take the logarithm of.
    pub fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Uniform integer in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        // Lemire's multiply-shift; the tiny bias is irrelevant for workloads.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.uniform_open0().ln()
    }

    /// Weibull with shape `k` and scale `lambda`, by inverse transform:
    /// `lambda * (-ln U)^(1/k)` with `U` from [`SimRng::uniform_open0`]
    /// (one draw). Its mean is `lambda * Γ(1 + 1/k)`.
    pub fn weibull(&mut self, shape: f64, scale: f64) -> f64 {
        scale * (-self.uniform_open0().ln()).powf(1.0 / shape)
    }

    /// Standard normal (Box-Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform_open0();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal whose logarithm has mean `mu` and standard deviation `sigma`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// Poisson-distributed count with the given mean (Knuth for small means,
    /// a rounded normal approximation above 30).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            let x = mean + mean.sqrt() * self.normal();
            return x.round().max(0.0) as u64;
        }
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.uniform_open0();
        while p > limit {
            k += 1;
            p *= self.uniform_open0();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SimRng::seed_from_u64(7);
        let mut b = SimRng::seed_from_u64(7);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut c = SimRng::seed_from_u64(8);
        assert_ne!(xs[0], c.next_u64());
    }

    #[test]
    fn uniform_in_range_and_mean_near_half() {
        let mut r = SimRng::seed_from_u64(1);
        let n = 20_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            sum += u;
        }
        let mean = sum / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn weibull_mean_matches_and_shape_one_is_exponential() {
        let mut r = SimRng::seed_from_u64(5);
        let n = 40_000;
        // Shape 2, scale 3: mean 3 Γ(1.5) = 3 × 0.886227 = 2.658681.
        let mean = (0..n).map(|_| r.weibull(2.0, 3.0)).sum::<f64>() / n as f64;
        assert!((mean - 2.658681).abs() < 0.02, "mean {mean}");
        // Shape 1 is the exponential: the same draw gives the same value.
        let (mut a, mut b) = (SimRng::seed_from_u64(9), SimRng::seed_from_u64(9));
        for _ in 0..100 {
            let (x, y) = (a.weibull(1.0, 4.0), b.exponential(4.0));
            assert!((x - y).abs() <= 1e-12 * y.max(1.0), "{x} vs {y}");
        }
    }

    #[test]
    fn poisson_mean_matches() {
        let mut r = SimRng::seed_from_u64(3);
        for &m in &[0.5, 4.0, 50.0] {
            let n = 20_000;
            let s: u64 = (0..n).map(|_| r.poisson(m)).sum();
            let mean = s as f64 / n as f64;
            assert!((mean - m).abs() < 0.05 * m + 0.05, "mean {mean} vs {m}");
        }
    }
}
