//! first-fit provisioning (baseline): the lowest-numbered logical host with
//! room; grows that do not fit are refused.

use crate::{ClusterView, GrowDecision, HostId, Provisioning, Resources, fit};

/// First-fit provisioning.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstFitProvisioning;

impl Provisioning for FirstFitProvisioning {
    fn place_new(&self, inventory: &ClusterView, size: &Resources) -> Option<HostId> {
        fit::first_fit(inventory, size, None)
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
    fn takes_the_lowest_host_with_room() {
        let hs = hosts(&[4, 3, 0]);
        let v = ClusterView::new(&hs);
        assert_eq!(
            FirstFitProvisioning.place_new(&v, &Resources([1; 4])),
            Some(HostId(1))
        );
        assert_eq!(
            FirstFitProvisioning.place_new(&v, &Resources([2; 4])),
            Some(HostId(2))
        );
    }
}
