//! The three classic bin-packing host choices, shared by the policies.
//!
//! Every function scans hosts in id order and breaks ties by the lowest id, so
//! a choice depends only on the snapshot. Best and worst fit rank hosts by an
//! exact rational [`Score`] (integer numerators over a common denominator),
//! so equal scores really tie and go to the lowest id; a floating-point sum
//! would split some ties by rounding (0.1 + 0.2 > 0.3). These linear scans
//! cost O(hosts) per choice; [`crate::index::HostIndex`] gives the same
//! answers in about O(log hosts) per host type (hosts of one capacity), and
//! each function uses it when the view carries one
//! ([`crate::HostTable::view`]).

use crate::{ClusterView, HostId, HostView, Resources};

fn candidates<'a>(
    view: &ClusterView<'a>,
    size: &'a Resources,
    exclude: Option<HostId>,
) -> impl Iterator<Item = &'a HostView> + 'a {
    view.hosts
        .iter()
        .filter(move |h| Some(h.id) != exclude && h.has_room(size))
}

/// The lowest-id host with room for `size`.
pub fn first_fit(view: &ClusterView, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
    if let Some(ix) = view.index() {
        return ix.first_fit(size, exclude);
    }
    candidates(view, size, exclude).next().map(|h| h.id)
}

/// The host with room whose free capacity after placing `size` is smallest
/// (summed over dimensions, relative to capacity): tight packing.
pub fn best_fit(view: &ClusterView, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
    if let Some(ix) = view.index() {
        return ix.best_fit(size, exclude);
    }
    pick(view, size, exclude, |a, b| a < b)
}

/// The host with room whose free capacity after placing `size` is largest:
/// spreading, which leaves each VM the most room to grow.
pub fn worst_fit(view: &ClusterView, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
    if let Some(ix) = view.index() {
        return ix.worst_fit(size, exclude);
    }
    pick(view, size, exclude, |a, b| a > b)
}

/// The candidate whose score (free after placing, relative to capacity) is
/// `better` than every other's, lowest id on ties. Scores are exact
/// ([`Score`]), so "ties" means mathematically equal, not equal after
/// floating-point rounding.
fn pick(
    view: &ClusterView,
    size: &Resources,
    exclude: Option<HostId>,
    better: impl Fn(Score, Score) -> bool,
) -> Option<HostId> {
    let mut best: Option<(Score, HostId)> = None;
    // Hosts of one site almost always share a capacity: compute its scale once.
    let mut scale: Option<(Resources, Scale)> = None;
    for h in candidates(view, size, exclude) {
        let sc = match scale {
            Some((c, sc)) if c == h.capacity => sc,
            _ => {
                let sc = Scale::of(&h.capacity);
                scale = Some((h.capacity, sc));
                sc
            }
        };
        let s = sc.score(&h.free().saturating_minus(size));
        // Strictly better: an equal score keeps the lower id found first.
        if best.is_none_or(|(b, _)| better(s, b)) {
            best = Some((s, h.id));
        }
    }
    best.map(|(_, id)| id)
}

/// The largest common denominator [`Scale`] uses exactly: 2^60.
const MAX_DENOMINATOR: u64 = 1 << 60;

/// An exact host score: `Σ_d amount_d / capacity_d` as the fraction
/// `num / den`. Scores of hosts with different capacities compare exactly
/// too (by cross-multiplication, which fits in `u128`).
#[derive(Debug, Clone, Copy)]
pub struct Score {
    num: u64,
    den: u64,
}

impl Score {
    /// The score as a float, for reports.
    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // num <= 4 * 2^60 and den <= 2^60: the products fit in u128.
        (self.num as u128 * other.den as u128).cmp(&(other.num as u128 * self.den as u128))
    }
}

/// How to turn amounts on a host of one capacity into exact integer scores.
///
/// With `L` the least common multiple of the nonzero capacities, the score
/// of `amount` is `Σ_d amount_d * (L / capacity_d)` over `L`: an integer
/// numerator, so sums are exact and equal scores tie. A zero-capacity
/// dimension weighs 0 (as in [`Resources::relative_to`]). If `L` exceeds
/// 2^60 (capacities with large coprime factors, never seen in practice) the
/// denominator is 2^60 and each term is rounded down: still a total order,
/// no longer exact; [`Scale::exact`] says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    capacity: Resources,
    /// `L / capacity_d`, or 0 for a zero-capacity dimension; `None` if inexact.
    weights: Option<[u64; 4]>,
    den: u64,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Scale {
    /// The scale of hosts of `capacity`.
    pub fn of(capacity: &Resources) -> Scale {
        let mut l: u64 = 1;
        let mut exact = true;
        for &c in capacity.0.iter().filter(|&&c| c > 0) {
            match (l / gcd(l, c)).checked_mul(c) {
                Some(m) if m <= MAX_DENOMINATOR => l = m,
                _ => {
                    exact = false;
                    break;
                }
            }
        }
        if exact {
            let weights = capacity.0.map(|c| l.checked_div(c).unwrap_or(0));
            Scale {
                capacity: *capacity,
                weights: Some(weights),
                den: l,
            }
        } else {
            Scale {
                capacity: *capacity,
                weights: None,
                den: MAX_DENOMINATOR,
            }
        }
    }

    /// True if scores are exact (the common denominator is at most 2^60).
    pub fn exact(&self) -> bool {
        self.weights.is_some()
    }

    /// The integer numerator of `amount`'s score; each dimension is first
    /// capped at the capacity (a score is of something on the host).
    pub fn key(&self, amount: &Resources) -> u64 {
        let mut sum: u64 = 0;
        for d in 0..4 {
            let c = self.capacity.0[d];
            let a = amount.0[d].min(c);
            sum += match self.weights {
                Some(w) => a * w[d],
                None if c == 0 => 0,
                None => ((a as u128 * MAX_DENOMINATOR as u128) / c as u128) as u64,
            };
        }
        sum
    }

    /// The exact score of `amount` on a host of this capacity.
    pub fn score(&self, amount: &Resources) -> Score {
        Score {
            num: self.key(amount),
            den: self.den,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hosts of capacity 4 units in every dimension with the given used units.
    pub(crate) fn hosts(used: &[u64]) -> Vec<HostView> {
        used.iter()
            .enumerate()
            .map(|(i, &u)| HostView {
                id: HostId(i as u32),
                capacity: Resources([4; 4]),
                used: Resources([u; 4]),
            })
            .collect()
    }

    #[test]
    fn choices_on_a_hand_made_snapshot() {
        let hs = hosts(&[3, 1, 2, 0, 2]);
        let v = ClusterView::new(&hs);
        let one = Resources([1; 4]);
        let two = Resources([2; 4]);
        assert_eq!(first_fit(&v, &one, None), Some(HostId(0)));
        assert_eq!(first_fit(&v, &two, None), Some(HostId(1)));
        assert_eq!(best_fit(&v, &one, None), Some(HostId(0)));
        // Hosts 2 and 4 both end full; the lower id wins.
        assert_eq!(best_fit(&v, &two, None), Some(HostId(2)));
        assert_eq!(worst_fit(&v, &one, None), Some(HostId(3)));
        assert_eq!(worst_fit(&v, &one, Some(HostId(3))), Some(HostId(1)));
        assert_eq!(first_fit(&v, &Resources([5; 4]), None), None);
    }

    #[test]
    fn scores_are_exact_where_floats_round() {
        // 0.1 + 0.2 != 0.3 in f64; as exact scores they tie.
        let cap = Resources([10; 4]);
        let sc = Scale::of(&cap);
        assert!(sc.exact());
        assert_eq!(
            sc.score(&Resources([1, 2, 0, 0])),
            sc.score(&Resources([3, 0, 0, 0]))
        );
        // So best fit breaks the tie by the lowest id, as documented.
        let hs: Vec<HostView> = [[9, 8, 10, 10], [7, 10, 10, 10]]
            .iter()
            .enumerate()
            .map(|(i, &u)| HostView {
                id: HostId(i as u32),
                capacity: cap,
                used: Resources(u),
            })
            .collect();
        let v = ClusterView::new(&hs);
        assert_eq!(best_fit(&v, &Resources::ZERO, None), Some(HostId(0)));
        assert_eq!(worst_fit(&v, &Resources::ZERO, None), Some(HostId(0)));
        // Different capacities compare exactly too: 1/2 < 2/3.
        let a = Scale::of(&Resources([2, 0, 0, 0])).score(&Resources([1, 0, 0, 0]));
        let b = Scale::of(&Resources([3, 0, 0, 0])).score(&Resources([2, 0, 0, 0]));
        assert!(a < b);
        // Coprime capacities near 2^40 overflow 2^60: inexact, still ordered.
        let big = Scale::of(&Resources([(1 << 40) - 87, (1 << 40) - 167, 1000, 200]));
        assert!(!big.exact());
        assert!(big.score(&Resources([1, 0, 0, 0])) < big.score(&Resources([2, 0, 0, 0])));
    }
}
