//! energy-aware (paper, sec. 5): greedy best-fit packing, so that as many
//! hosts as possible stay idle and can be powered down. A grown sliver stays
//! on its host if it still fits; otherwise it goes to the best-fit host.
//!
//! One parameter, `max_utilization` (default 1, the paper's policy): a host
//! counts as having room only if it stays at or under that share of its
//! capacity in every dimension (rounded down to whole units), leaving the
//! rest for its slivers to grow into, as the upper utilisation threshold of
//! power-aware best fit does.

use crate::fit::{self, Scale};
use crate::{ClusterView, HostId, HostView, PlaceRequest, Placement, Resources};

/// Tight packing for energy.
#[derive(Debug, Clone, Copy)]
pub struct EnergyAware {
    /// The share of each host's capacity it may fill, in (0, 1].
    pub max_utilization: f64,
}

impl Default for EnergyAware {
    fn default() -> Self {
        EnergyAware { max_utilization: 1.0 }
    }
}

impl EnergyAware {
    /// What `max_utilization` leaves free on a host of `capacity`: its
    /// capacity less the usable part, rounded down.
    fn reserve(&self, capacity: &Resources) -> Resources {
        Resources(
            capacity
                .0
                .map(|c| c - (c as f64 * self.max_utilization).floor() as u64),
        )
    }

    /// True if `req` fits on `h` under the cap, counting what it holds there
    /// (the sliver and the host's reserve fit in its capacity).
    fn fits_under(&self, view: &ClusterView, req: &PlaceRequest, h: &HostView) -> bool {
        view.fits(
            h.id,
            req.held_on(h.id),
            &req.size.plus(&self.reserve(&h.capacity)),
        )
    }
}

impl Placement for EnergyAware {
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId> {
        if self.max_utilization >= 1.0 {
            return req
                .stay_put(view)
                .or_else(|| fit::best_fit(view, &req.size, req.current_host()));
        }
        if let Some(h) = req.current_host().and_then(|h| view.host(h))
            && self.fits_under(view, req, h)
        {
            return Some(h.id);
        }
        match view.index() {
            // One capacity: the same reserve on every host, so asking for the
            // sliver plus the reserve ranks hosts as best fit of the sliver
            // alone would, over the hosts that stay under the cap.
            Some(ix) if !ix.is_mixed() => {
                let padded = req.size.plus(&self.reserve(&ix.capacity()));
                ix.best_fit(&padded, req.current_host())
            }
            // Mixed capacities (or no index): each host with its own reserve,
            // ranked by the exact best-fit score of the sliver, lowest id on
            // ties: a pass over the hosts.
            _ => view
                .hosts
                .iter()
                .filter(|h| Some(h.id) != req.current_host() && self.fits_under(view, req, h))
                .map(|h| {
                    (
                        Scale::of(&h.capacity).score(&h.free().saturating_minus(&req.size)),
                        h.id,
                    )
                })
                .reduce(|best, c| if c.0 < best.0 { c } else { best })
                .map(|(_, id)| id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;
    use crate::{HostTable, VmId};

    #[test]
    fn packs_tightly_and_moves_grown_slivers_only_when_needed() {
        let hs = hosts(&[0, 2, 3, 4]);
        let v = ClusterView::new(&hs);
        let new = PlaceRequest {
            vm: VmId(1),
            size: Resources([1; 4]),
            current: None,
            home: Some(HostId(0)),
        };
        let ea = EnergyAware::default();
        assert_eq!(ea.place(&v, &new), Some(HostId(2)));
        // On host 1 with 1 unit, growing to 3: 2 - 1 + 3 = 4 fits, so it stays.
        let grow = PlaceRequest {
            current: Some((HostId(1), Resources([1; 4]))),
            size: Resources([3; 4]),
            ..new
        };
        assert_eq!(ea.place(&v, &grow), Some(HostId(1)));
        // Growing to 4 does not fit there; only the empty host 0 has room.
        let bigger = PlaceRequest {
            size: Resources([4; 4]),
            ..grow
        };
        assert_eq!(ea.place(&v, &bigger), Some(HostId(0)));
    }

    #[test]
    fn max_utilization_keeps_hosts_under_the_cap_with_and_without_the_index() {
        // Hosts of 4 used 0, 2, 3 and 4: at 0.75 a host may fill 3 units.
        let ea = EnergyAware {
            max_utilization: 0.75,
        };
        let hs = hosts(&[0, 2, 3, 4]);
        let mut table = HostTable::new(4, Resources([4; 4]));
        for h in &hs {
            table.add(h.id, &h.used);
        }
        let new = PlaceRequest {
            vm: VmId(1),
            size: Resources([1; 4]),
            current: None,
            home: None,
        };
        let two = PlaceRequest {
            size: Resources([2; 4]),
            ..new
        };
        // Host 2 (3 used) would reach 4 > 3: host 1 is the fullest under
        // the cap; two units fit only on the empty host 0.
        for v in [ClusterView::new(&hs), table.view()] {
            assert_eq!(
                ea.place(&v, &new),
                Some(HostId(1)),
                "index: {}",
                v.index().is_some()
            );
            assert_eq!(ea.place(&v, &two), Some(HostId(0)));
        }
        // A grown sliver on host 1 (2 used, 1 of them its own) may grow to
        // 2 there (3 used), not to 3 (4 used): then it moves to host 0.
        let grow = PlaceRequest {
            current: Some((HostId(1), Resources([1; 4]))),
            ..two
        };
        let v = ClusterView::new(&hs);
        assert_eq!(ea.place(&v, &grow), Some(HostId(1)));
        let more = PlaceRequest {
            size: Resources([3; 4]),
            ..grow
        };
        assert_eq!(ea.place(&v, &more), Some(HostId(0)));
        // At the default, the paper's policy: host 2 fills up to 4.
        assert_eq!(EnergyAware::default().place(&v, &new), Some(HostId(2)));
    }
}
