//! worst-fit (spread) placement: the emptiest host with room, balancing load
//! (and heat). A grown sliver stays on its host if it still fits.

use crate::{ClusterView, HostId, PlaceRequest, Placement, fit};

/// Spread placement.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorstFitPlacement;

impl Placement for WorstFitPlacement {
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId> {
        req.stay_put(view)
            .or_else(|| fit::worst_fit(view, &req.size, req.current_host()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;
    use crate::{Resources, VmId};

    #[test]
    fn emptiest_host() {
        let hs = hosts(&[1, 0, 3]);
        let v = ClusterView::new(&hs);
        let req = PlaceRequest {
            vm: VmId(1),
            size: Resources([1; 4]),
            current: None,
            home: Some(HostId(2)),
        };
        assert_eq!(WorstFitPlacement.place(&v, &req), Some(HostId(1)));
        // Growing 1 -> 2 on host 2 (3 used): 3 - 1 + 2 = 4 fits, so it stays.
        let grow = PlaceRequest {
            current: Some((HostId(2), Resources([1; 4]))),
            size: Resources([2; 4]),
            ..req
        };
        assert_eq!(WorstFitPlacement.place(&v, &grow), Some(HostId(2)));
        // Growing 1 -> 3 does not fit there: the emptiest other host.
        let grow = PlaceRequest {
            size: Resources([3; 4]),
            ..grow
        };
        assert_eq!(WorstFitPlacement.place(&v, &grow), Some(HostId(1)));
    }
}
