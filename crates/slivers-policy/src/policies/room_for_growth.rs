//! room-for-growth (paper, sec. 5): greedy worst-fit over the logical
//! inventory, so each sliver has the most room to grow on renewal. A grow that
//! no longer fits on its logical host is refused.

use crate::{ClusterView, GrowDecision, HostId, Provisioning, Resources, fit};

/// Worst-fit provisioning without broker migration.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoomForGrowth;

impl Provisioning for RoomForGrowth {
    fn place_new(&self, inventory: &ClusterView, size: &Resources) -> Option<HostId> {
        fit::worst_fit(inventory, size, None)
    }

    fn on_grow_overflow(&self, _: &ClusterView, _: HostId, _: &Resources) -> GrowDecision {
        GrowDecision::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;

    #[test]
    fn spreads_and_refuses_overflowing_grows() {
        let hs = hosts(&[2, 0, 1]);
        let v = ClusterView::new(&hs);
        assert_eq!(RoomForGrowth.place_new(&v, &Resources([1; 4])), Some(HostId(1)));
        assert_eq!(
            RoomForGrowth.on_grow_overflow(&v, HostId(0), &Resources([4; 4])),
            GrowDecision::Refuse
        );
    }
}
