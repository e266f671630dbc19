//! Read-only snapshots that policies decide over.

use crate::{HostId, Resources};

/// One host as a policy sees it: its capacity and what is committed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostView {
    /// The host.
    pub id: HostId,
    /// Capacity in every dimension.
    pub capacity: Resources,
    /// What is committed on it now (for the broker: logically; for the site:
    /// the placement it is heading to).
    pub used: Resources,
}

impl HostView {
    /// Unused capacity.
    pub fn free(&self) -> Resources {
        self.capacity.saturating_minus(&self.used)
    }

    /// True if `size` more fits on this host.
    pub fn has_room(&self, size: &Resources) -> bool {
        self.used.plus(size).fits_in(&self.capacity)
    }

    /// True if nothing is committed on it (an energy-aware site powers it down).
    pub fn is_idle(&self) -> bool {
        self.used.is_zero()
    }
}

/// A snapshot of every host, indexed by `HostId`: `hosts[i].id == HostId(i)`.
#[derive(Debug, Clone, Copy)]
pub struct ClusterView<'a> {
    /// The hosts, in id order.
    pub hosts: &'a [HostView],
}

impl<'a> ClusterView<'a> {
    /// A view over `hosts`, which must be in id order.
    pub fn new(hosts: &'a [HostView]) -> Self {
        debug_assert!(hosts.iter().enumerate().all(|(i, h)| h.id.index() == i));
        ClusterView { hosts }
    }

    /// One host, if it exists.
    pub fn host(&self, id: HostId) -> Option<&'a HostView> {
        self.hosts.get(id.index())
    }

    /// True if a VM now holding `current` on `host` (zero if it is elsewhere
    /// or new) could hold `size` there.
    pub fn fits(&self, host: HostId, current: Resources, size: &Resources) -> bool {
        self.host(host)
            .is_some_and(|h| h.used.saturating_minus(&current).plus(size).fits_in(&h.capacity))
    }
}
