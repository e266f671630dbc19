//! energy-aware (paper, sec. 5): greedy best-fit packing, so that as many
//! hosts as possible stay idle and can be powered down. A grown sliver stays
//! on its host if it still fits; otherwise it goes to the best-fit host.

use crate::{ClusterView, HostId, PlaceRequest, Placement, fit};

/// Tight packing for energy.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnergyAware;

impl Placement for EnergyAware {
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId> {
        req.stay_put(view)
            .or_else(|| fit::best_fit(view, &req.size, req.current_host()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;
    use crate::{Resources, VmId};

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
        assert_eq!(EnergyAware.place(&v, &new), Some(HostId(2)));
        // On host 1 with 1 unit, growing to 3: 2 - 1 + 3 = 4 fits, so it stays.
        let grow = PlaceRequest {
            current: Some((HostId(1), Resources([1; 4]))),
            size: Resources([3; 4]),
            ..new
        };
        assert_eq!(EnergyAware.place(&v, &grow), Some(HostId(1)));
        // On host 2 with 1 unit, growing to 3: 3 - 1 + 3 = 5 > 4, so it moves;
        // only the empty host 0 has room for 3.
        let grow = PlaceRequest {
            current: Some((HostId(2), Resources([1; 4]))),
            ..grow
        };
        assert_eq!(EnergyAware.place(&v, &grow), Some(HostId(0)));
        let full = hosts(&[4, 4]);
        assert_eq!(EnergyAware.place(&ClusterView::new(&full), &new), None);
    }
}
