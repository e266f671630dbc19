//! best-fit provisioning (baseline): the fullest logical host that still has
//! room; grows that do not fit are refused.

use crate::{ClusterView, GrowDecision, HostId, Provisioning, Resources, fit};

/// Best-fit provisioning.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFitProvisioning;

impl Provisioning for BestFitProvisioning {
    fn place_new(&self, inventory: &ClusterView, size: &Resources) -> Option<HostId> {
        fit::best_fit(inventory, size, None)
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
    fn packs_the_fullest_host_with_room() {
        let hs = hosts(&[0, 2, 3, 4]);
        let v = ClusterView::new(&hs);
        assert_eq!(
            BestFitProvisioning.place_new(&v, &Resources([1; 4])),
            Some(HostId(2))
        );
        assert_eq!(
            BestFitProvisioning.place_new(&v, &Resources([2; 4])),
            Some(HostId(1))
        );
    }
}
