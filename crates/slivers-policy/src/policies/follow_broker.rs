//! follow-broker (paper, sec. 5.1): the physical host is the broker's logical
//! host, so the site migrates exactly when the broker does.

use crate::{ClusterView, HostId, PlaceRequest, Placement};

/// Follow the broker's logical assignment.
#[derive(Debug, Clone, Copy, Default)]
pub struct FollowBroker;

impl Placement for FollowBroker {
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId> {
        req.home.filter(|&h| req.fits_on(view, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;
    use crate::{Resources, VmId};

    #[test]
    fn goes_home_or_reports_no_room() {
        let hs = hosts(&[3, 1]);
        let v = ClusterView::new(&hs);
        let mut req = PlaceRequest {
            vm: VmId(1),
            size: Resources([2; 4]),
            current: None,
            home: Some(HostId(1)),
        };
        assert_eq!(FollowBroker.place(&v, &req), Some(HostId(1)));
        req.home = Some(HostId(0));
        assert_eq!(FollowBroker.place(&v, &req), None);
        // Growing 1 -> 2 units in place on host 0 (3 used, one of them ours).
        req.current = Some((HostId(0), Resources([1; 4])));
        assert_eq!(FollowBroker.place(&v, &req), Some(HostId(0)));
    }
}
