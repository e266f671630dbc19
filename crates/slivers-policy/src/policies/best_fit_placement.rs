//! best-fit placement: the fullest host with room, so the free capacity
//! left behind is in as few hosts as possible. A grown sliver stays on its
//! host if it still fits. energy-aware makes the same choices under the
//! paper's name; this one is the plain heuristic, for runs with no broker
//! (VM-request runs) and for comparisons with other simulators.

use crate::{ClusterView, HostId, PlaceRequest, Placement, fit};

/// Best-fit placement.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFitPlacement;

impl Placement for BestFitPlacement {
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
    fn fullest_host_with_room_without_a_broker() {
        // Used 4, 1 and 3 of 4: a size-1 VM fits on hosts 1 and 2, and host
        // 2 is the fuller.
        let hs = hosts(&[4, 1, 3]);
        let v = ClusterView::new(&hs);
        let req = PlaceRequest {
            vm: VmId(1),
            size: Resources([1; 4]),
            current: None,
            home: None,
        };
        assert_eq!(BestFitPlacement.place(&v, &req), Some(HostId(2)));
        let big = PlaceRequest {
            size: Resources([4; 4]),
            ..req
        };
        assert_eq!(BestFitPlacement.place(&v, &big), None);
    }
}
