//! The per-rack recirculation model without its matrix: the same `D·P` as
//! [`Recirculation::per_rack`], in O(hosts) time and memory instead of
//! O(hosts²), and the peak rise after one host's power changes in O(1).
//!
//! Host `i` in rack `r`:
//!
//! ```text
//! (D·P)_i = own·P_i + above·Σ_{j below i in r} P_j + neighbour·(R_{r−1} + R_{r+1})
//! ```
//!
//! with `R_k` the power of rack `k` (a missing rack draws nothing).

use super::{RackCoefficients, RackLayout, Recirculation, ThermalError};

/// A rack layout with its [`RackCoefficients`], kept as racks (hosts by
/// position) rather than as a matrix: what a site of 10^5 hosts can afford.
#[derive(Debug, Clone, PartialEq)]
pub struct RackRecirculation {
    coefficients: RackCoefficients,
    layout: RackLayout,
    /// Host indices sorted by (rack, position).
    order: Vec<u32>,
    /// For each host, its place in `order`.
    place: Vec<u32>,
    /// For each host, its rack (dense index into `starts`).
    rack_of: Vec<u32>,
    /// `order[starts[k]..starts[k + 1]]` are the hosts of dense rack `k`.
    starts: Vec<usize>,
    /// For each dense rack, the dense racks beside it (rack number ± 1).
    beside: Vec<[Option<u32>; 2]>,
}

/// `D·P` of one power snapshot, arranged for [`RackRecirculation::peak_after`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RackRises {
    /// Each host's rise, °C, by host index.
    pub rise: Vec<f64>,
    /// By place in the rack order: the highest rise at or below it in its rack.
    below_max: Vec<f64>,
    /// By place in the rack order: the highest rise at or above it in its rack.
    above_max: Vec<f64>,
    /// Per dense rack: its highest rise.
    rack_max: Vec<f64>,
    /// The (up to) four hottest racks, hottest first: `(rise, rack)`.
    top: Vec<(f64, u32)>,
}

impl RackRises {
    /// The hottest inlet's rise, °C (0 with no hosts).
    pub fn peak(&self) -> f64 {
        self.top.first().map_or(0.0, |t| t.0.max(0.0))
    }
}

impl RackRecirculation {
    /// The model of `layout` with `coefficients`, checked as
    /// [`Recirculation::per_rack`] checks them.
    pub fn new(layout: &RackLayout, coefficients: &RackCoefficients) -> Result<Self, ThermalError> {
        coefficients.check()?;
        let slots = layout.slots();
        let mut order: Vec<u32> = (0..slots.len() as u32).collect();
        order.sort_by_key(|&h| slots[h as usize]);
        let mut place = vec![0; slots.len()];
        let mut rack_of = vec![0; slots.len()];
        let mut starts = Vec::new();
        let mut numbers: Vec<u32> = Vec::new();
        for (k, &h) in order.iter().enumerate() {
            let rack = slots[h as usize].rack;
            if numbers.last() != Some(&rack) {
                numbers.push(rack);
                starts.push(k);
            }
            place[h as usize] = k as u32;
            rack_of[h as usize] = (numbers.len() - 1) as u32;
        }
        starts.push(order.len());
        let beside = (0..numbers.len())
            .map(|k| {
                let left = (k > 0 && numbers[k - 1] + 1 == numbers[k]).then(|| k as u32 - 1);
                let right = (k + 1 < numbers.len() && numbers[k] + 1 == numbers[k + 1]).then(|| k as u32 + 1);
                [left, right]
            })
            .collect();
        Ok(RackRecirculation {
            coefficients: *coefficients,
            layout: layout.clone(),
            order,
            place,
            rack_of,
            starts,
            beside,
        })
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.order.len()
    }

    /// The coefficients.
    pub fn coefficients(&self) -> &RackCoefficients {
        &self.coefficients
    }

    /// The layout.
    pub fn layout(&self) -> &RackLayout {
        &self.layout
    }

    /// The same model as a full matrix ([`Recirculation::per_rack`]):
    /// O(hosts²), for small rooms and tests.
    pub fn to_matrix(&self) -> Result<Recirculation, ThermalError> {
        Recirculation::per_rack(&self.layout, &self.coefficients)
    }

    /// `Σ_i D[i][host]`: how much one watt on `host` raises the sum of
    /// every inlet, °C/W (so the mean inlet rise is `Σ_j w_j P_j / hosts`).
    /// `None` for a host outside the layout.
    pub fn column_sum(&self, host: usize) -> Option<f64> {
        let k = *self.rack_of.get(host)? as usize;
        let c = &self.coefficients;
        let above = self.starts[k + 1] - self.place[host] as usize - 1;
        let beside: usize = self.beside[k]
            .iter()
            .flatten()
            .map(|&n| self.starts[n as usize + 1] - self.starts[n as usize])
            .sum();
        Some(c.own + c.above * above as f64 + c.neighbour * beside as f64)
    }

    /// Every host's rise over the supply, °C: `D·P`, in O(hosts).
    pub fn rise(&self, power_w: &[f64]) -> Result<Vec<f64>, ThermalError> {
        self.check_power(power_w)?;
        Ok(self.rises_unchecked(power_w).rise)
    }

    /// The hottest inlet's rise, °C: `max_i (D·P)_i` (0 with no hosts).
    pub fn peak_rise(&self, power_w: &[f64]) -> Result<f64, ThermalError> {
        self.check_power(power_w)?;
        Ok(self.rises_unchecked(power_w).peak())
    }

    /// [`Self::rise`] with what [`Self::peak_after`] needs.
    pub fn rises(&self, power_w: &[f64]) -> Result<RackRises, ThermalError> {
        self.check_power(power_w)?;
        Ok(self.rises_unchecked(power_w))
    }

    /// Checks a power vector: one finite value `>= 0` per host; returns its sum.
    pub fn check_power(&self, power_w: &[f64]) -> Result<f64, ThermalError> {
        if power_w.len() != self.hosts() {
            return Err(ThermalError::PowerLength {
                expected: self.hosts(),
                found: power_w.len(),
            });
        }
        if let Some((host, &p)) = power_w
            .iter()
            .enumerate()
            .find(|(_, p)| !(p.is_finite() && **p >= 0.0))
        {
            return Err(ThermalError::InvalidPower { host, found: p });
        }
        Ok(power_w.iter().sum())
    }

    fn rises_unchecked(&self, power_w: &[f64]) -> RackRises {
        let c = &self.coefficients;
        let racks = self.starts.len() - 1;
        let mut own_part = vec![0.0; self.order.len()];
        let mut total = vec![0.0; racks];
        for (k, rack_total) in total.iter_mut().enumerate() {
            let mut below = 0.0;
            for p in self.starts[k]..self.starts[k + 1] {
                let w = power_w[self.order[p] as usize];
                own_part[p] = c.own * w + c.above * below;
                below += w;
            }
            *rack_total = below;
        }
        let mut rise = vec![0.0; self.order.len()];
        let mut by_place = own_part;
        let mut below_max = vec![0.0; self.order.len()];
        let mut above_max = vec![0.0; self.order.len()];
        let mut rack_max = vec![f64::NEG_INFINITY; racks];
        for (k, rack_max) in rack_max.iter_mut().enumerate() {
            let heat: f64 = self.beside[k].iter().flatten().map(|&n| total[n as usize]).sum();
            let (a, b) = (self.starts[k], self.starts[k + 1]);
            let mut m = f64::NEG_INFINITY;
            for p in a..b {
                by_place[p] += c.neighbour * heat;
                rise[self.order[p] as usize] = by_place[p];
                m = m.max(by_place[p]);
                below_max[p] = m;
            }
            let mut m = f64::NEG_INFINITY;
            for p in (a..b).rev() {
                m = m.max(by_place[p]);
                above_max[p] = m;
            }
            *rack_max = m;
        }
        let mut top: Vec<(f64, u32)> = Vec::with_capacity(5);
        for (k, &m) in rack_max.iter().enumerate() {
            let at = top.partition_point(|t| t.0 >= m);
            if at < 4 {
                top.insert(at, (m, k as u32));
                top.truncate(4);
            }
        }
        RackRises {
            rise,
            below_max,
            above_max,
            rack_max,
            top,
        }
    }

    /// The hottest inlet's rise, °C, after `host` draws `delta_w` more
    /// watts than in `rises` (negative: fewer), in O(1): its rack below
    /// it, itself (`own`), its rack above it (`above`), the racks beside
    /// (`neighbour`), and the hottest other rack. `None` for a host
    /// outside the layout.
    pub fn peak_after(&self, rises: &RackRises, host: usize, delta_w: f64) -> Option<f64> {
        let k = *self.rack_of.get(host)? as usize;
        let p = self.place[host] as usize;
        let c = &self.coefficients;
        let (a, b) = (self.starts[k], self.starts[k + 1]);
        let mut peak = rises.rise[host] + c.own * delta_w;
        if p > a {
            peak = peak.max(rises.below_max[p - 1]);
        }
        if p + 1 < b {
            peak = peak.max(rises.above_max[p + 1] + c.above * delta_w);
        }
        let beside = self.beside[k];
        for n in beside.iter().flatten() {
            peak = peak.max(rises.rack_max[*n as usize] + c.neighbour * delta_w);
        }
        if let Some(t) = rises
            .top
            .iter()
            .find(|t| t.1 as usize != k && !beside.contains(&Some(t.1)))
        {
            peak = peak.max(t.0);
        }
        Some(peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thermal::RackSlot;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_rises_and_peak_after() {
        // Hosts 0 (bottom) and 1 (top) in rack 0, host 2 alone in rack 1;
        // own 0.001, above 0.002, neighbour 0.0005; P = [200, 100, 300]:
        // D·P = [0.35, 0.65, 0.45] (as the matrix gives it).
        let s = |rack, position| RackSlot { rack, position };
        let layout = RackLayout::new(vec![s(0, 0), s(0, 1), s(1, 0)]).unwrap();
        let r = RackRecirculation::new(&layout, &RackCoefficients::default()).unwrap();
        let p = [200.0, 100.0, 300.0];
        let rises = r.rises(&p).unwrap();
        for (g, w) in rises.rise.iter().zip([0.35, 0.65, 0.45]) {
            assert!(close(*g, w), "{:?}", rises.rise);
        }
        assert!(close(rises.peak(), 0.65));
        // +100 W on host 0: host 1 rises by 0.2 (above) to 0.85.
        assert!(close(r.peak_after(&rises, 0, 100.0).unwrap(), 0.85));
        // +100 W on host 2: itself 0.55, rack 0 by 0.05: host 1 at 0.7.
        assert!(close(r.peak_after(&rises, 2, 100.0).unwrap(), 0.7));
        assert_eq!(r.peak_after(&rises, 3, 1.0), None);
        // Column sums: host 0 heats itself, host 1 above and host 2 beside.
        assert!(close(r.column_sum(0).unwrap(), 0.001 + 0.002 + 0.0005));
        assert!(close(r.column_sum(1).unwrap(), 0.001 + 0.0005));
        assert!(close(r.column_sum(2).unwrap(), 0.001 + 0.001));
    }

    /// Layouts of up to 5 racks (numbers possibly with gaps) of up to 4
    /// hosts, coefficients, powers, a host and a change.
    fn room() -> impl Strategy<Value = (Vec<RackSlot>, RackCoefficients, Vec<f64>, usize, f64)> {
        prop::collection::vec((0u32..7, 0u32..4), 1..16)
            .prop_map(|mut v| {
                v.sort();
                v.dedup();
                v.into_iter()
                    .map(|(rack, position)| RackSlot { rack, position })
                    .collect::<Vec<_>>()
            })
            .prop_flat_map(|slots| {
                let n = slots.len();
                (
                    Just(slots).prop_shuffle(),
                    (0.0..0.005f64, 0.0..0.005f64, 0.0..0.005f64).prop_map(|(own, above, neighbour)| {
                        RackCoefficients {
                            own,
                            above,
                            neighbour,
                        }
                    }),
                    prop::collection::vec(0.0..400.0f64, n),
                    0..n,
                    -100.0..300.0f64,
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Rises, peak, column sums and the peak after a change are those of
        /// the full matrix.
        #[test]
        fn matches_the_matrix((slots, c, power, host, delta) in room()) {
            let layout = RackLayout::new(slots).unwrap();
            let r = RackRecirculation::new(&layout, &c).unwrap();
            let d = r.to_matrix().unwrap();
            let rises = r.rises(&power).unwrap();
            let want = d.rise(&power).unwrap();
            for (g, w) in rises.rise.iter().zip(&want) {
                prop_assert!((g - w).abs() < 1e-9);
            }
            prop_assert!((rises.peak() - d.peak_rise(&power).unwrap()).abs() < 1e-9);
            let col: f64 = (0..power.len()).map(|i| d.coefficient(i, host).unwrap()).sum();
            prop_assert!((r.column_sum(host).unwrap() - col).abs() < 1e-12);
            let delta = delta.max(-power[host]);
            let mut after = power.clone();
            after[host] += delta;
            let want = d.rise(&after).unwrap().into_iter().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!((r.peak_after(&rises, host, delta).unwrap() - want).abs() < 1e-9);
        }
    }
}
