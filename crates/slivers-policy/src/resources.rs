//! Multi-dimensional resource vectors.

use std::fmt;

/// The number of resource dimensions of a sliver.
pub const DIMS: usize = 4;

/// The names of the dimensions, in vector order, with their integer units.
pub const DIM_NAMES: [&str; DIMS] = ["cpu_millicores", "memory_mib", "bandwidth_mbps", "disk_gib"];

/// An amount of each dimension, in integer units: CPU in millicores, memory
/// in MiB, network bandwidth in Mbit/s and disk in GiB. Integers keep every
/// capacity check exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Resources(pub [u64; DIMS]);

impl Resources {
    /// Nothing in every dimension.
    pub const ZERO: Resources = Resources([0; DIMS]);

    /// A vector from its four dimensions.
    pub const fn new(cpu_millicores: u64, memory_mib: u64, bandwidth_mbps: u64, disk_gib: u64) -> Self {
        Resources([cpu_millicores, memory_mib, bandwidth_mbps, disk_gib])
    }

    /// CPU, millicores.
    #[inline]
    pub fn cpu_millicores(&self) -> u64 {
        self.0[0]
    }

    /// Memory, MiB.
    #[inline]
    pub fn memory_mib(&self) -> u64 {
        self.0[1]
    }

    /// True if every dimension of `self` is at most that of `other`.
    #[inline]
    pub fn fits_in(&self, other: &Resources) -> bool {
        self.0.iter().zip(other.0.iter()).all(|(a, b)| a <= b)
    }

    /// True if every dimension is zero.
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&x| x == 0)
    }

    /// Sum, saturating at `u64::MAX`.
    #[inline]
    pub fn plus(&self, other: &Resources) -> Resources {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(other.0.iter()) {
            *o = o.saturating_add(*b);
        }
        out
    }

    /// Difference per dimension, flooring at zero.
    #[inline]
    pub fn saturating_minus(&self, other: &Resources) -> Resources {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(other.0.iter()) {
            *o = o.saturating_sub(*b);
        }
        out
    }

    /// `self - other`, or `None` if some dimension would go negative.
    #[inline]
    pub fn checked_minus(&self, other: &Resources) -> Option<Resources> {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(other.0.iter()) {
            *o = o.checked_sub(*b)?;
        }
        Some(out)
    }

    /// `self * k` per dimension, saturating.
    #[inline]
    pub fn times(&self, k: u64) -> Resources {
        let mut out = *self;
        for o in out.0.iter_mut() {
            *o = o.saturating_mul(k);
        }
        out
    }

    /// The sum over dimensions of `self[d] / capacity[d]`: a scalar size
    /// relative to a host, used to rank hosts. Zero-capacity dimensions count 0.
    pub fn relative_to(&self, capacity: &Resources) -> f64 {
        self.0
            .iter()
            .zip(capacity.0.iter())
            .map(|(&a, &c)| if c == 0 { 0.0 } else { a as f64 / c as f64 })
            .sum()
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [c, m, b, d] = self.0;
        write!(f, "{{cpu {c} mcores, mem {m} MiB, bw {b} Mbps, disk {d} GiB}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let a = Resources::new(4000, 8192, 500, 100);
        let b = Resources::new(2000, 4096, 250, 50);
        assert!(b.fits_in(&a));
        assert!(!a.fits_in(&b));
        assert_eq!(b.times(2), a);
        assert_eq!(a.checked_minus(&b), Some(b));
        assert_eq!(b.checked_minus(&a), None);
        assert_eq!(b.saturating_minus(&a), Resources::ZERO);
        assert_eq!(b.plus(&b), a);
        assert!((b.relative_to(&a) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn fits_needs_every_dimension() {
        let cap = Resources::new(1000, 1000, 1000, 1000);
        assert!(!Resources::new(1, 1001, 1, 1).fits_in(&cap));
        assert!(Resources::new(1000, 1000, 1000, 1000).fits_in(&cap));
    }
}
