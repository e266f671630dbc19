//! migrating (paper, sec. 5.1): room-for-growth, but when a grow does not fit
//! on the sliver's logical host the broker moves it to another logical host
//! in its inventory (a broker migration), granting a request that would
//! otherwise fail.

use crate::{ClusterView, GrowDecision, HostId, Provisioning, Resources, fit};

/// Worst-fit provisioning with broker migration on overflowing grows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrating;

impl Provisioning for Migrating {
    fn place_new(&self, inventory: &ClusterView, size: &Resources) -> Option<HostId> {
        fit::worst_fit(inventory, size, None)
    }

    fn on_grow_overflow(&self, inventory: &ClusterView, from: HostId, new_size: &Resources) -> GrowDecision {
        match fit::worst_fit(inventory, new_size, Some(from)) {
            Some(to) => GrowDecision::Move(to),
            None => GrowDecision::Refuse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;

    #[test]
    fn moves_an_overflowing_grow_to_the_emptiest_host() {
        // The grown sliver on the full host 0 needs its new size (3) elsewhere.
        let hs = hosts(&[4, 1, 0, 2]);
        let v = ClusterView::new(&hs);
        assert_eq!(
            Migrating.on_grow_overflow(&v, HostId(0), &Resources([3; 4])),
            GrowDecision::Move(HostId(2))
        );
        let full = hosts(&[4, 2, 2]);
        let v = ClusterView::new(&full);
        assert_eq!(
            Migrating.on_grow_overflow(&v, HostId(0), &Resources([3; 4])),
            GrowDecision::Refuse
        );
        assert_eq!(Migrating.place_new(&v, &Resources([2; 4])), Some(HostId(1)));
    }
}
