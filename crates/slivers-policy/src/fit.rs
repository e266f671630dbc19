//! The three classic bin-packing host choices, shared by the policies.
//!
//! Every function scans hosts in id order and breaks ties by the lowest id, so
//! a choice depends only on the snapshot.

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
    candidates(view, size, exclude).next().map(|h| h.id)
}

/// The host with room whose free capacity after placing `size` is smallest
/// (summed over dimensions, relative to capacity): tight packing.
pub fn best_fit(view: &ClusterView, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
    pick(view, size, exclude, |left| -left)
}

/// The host with room whose free capacity after placing `size` is largest:
/// spreading, which leaves each VM the most room to grow.
pub fn worst_fit(view: &ClusterView, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
    pick(view, size, exclude, |left| left)
}

/// The candidate maximising `score(free after placing, relative)`, lowest id on ties.
fn pick(
    view: &ClusterView,
    size: &Resources,
    exclude: Option<HostId>,
    score: impl Fn(f64) -> f64,
) -> Option<HostId> {
    let mut best: Option<(f64, HostId)> = None;
    for h in candidates(view, size, exclude) {
        let left = h.free().saturating_minus(size).relative_to(&h.capacity);
        let s = score(left);
        // Strictly greater: an equal score keeps the lower id found first.
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, h.id));
        }
    }
    best.map(|(_, id)| id)
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
}
