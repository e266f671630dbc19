//! first-fit placement: the lowest-numbered host with room. A grown sliver
//! stays on its host if it still fits.

use crate::{ClusterView, HostId, PlaceRequest, Placement, fit};

/// First-fit placement.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstFitPlacement;

impl Placement for FirstFitPlacement {
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId> {
        req.stay_put(view)
            .or_else(|| fit::first_fit(view, &req.size, req.current_host()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;
    use crate::{Resources, VmId};

    #[test]
    fn lowest_host_with_room() {
        let hs = hosts(&[4, 3, 1]);
        let v = ClusterView::new(&hs);
        let req = PlaceRequest {
            vm: VmId(1),
            size: Resources([2; 4]),
            current: None,
            home: Some(HostId(0)),
        };
        assert_eq!(FirstFitPlacement.place(&v, &req), Some(HostId(2)));
    }
}
