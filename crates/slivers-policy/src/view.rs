//! Read-only snapshots that policies decide over.

use std::collections::BTreeMap;

use crate::{GuestId, HostId, HostIndex, Resources, VmId};

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
    #[inline]
    pub fn free(&self) -> Resources {
        self.capacity.saturating_minus(&self.used)
    }

    /// True if `size` more fits on this host.
    #[inline]
    pub fn has_room(&self, size: &Resources) -> bool {
        self.used.plus(size).fits_in(&self.capacity)
    }

    /// True if nothing is committed on it (an energy-aware site powers it down).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.used.is_zero()
    }
}

/// One VM as a policy sees it: whose it is, where it is (or is heading)
/// and its sliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmView {
    /// The VM.
    pub vm: VmId,
    /// Its guest.
    pub guest: GuestId,
    /// Its host.
    pub host: HostId,
    /// Its sliver.
    pub size: Resources,
}

/// The VMs behind a [`ClusterView`], for policies that choose VMs (which to
/// move off a host, which to evict, which to drain): a lookup into the
/// owner's state, never a copy of every VM.
pub trait VmsView {
    /// The VMs on `host`, in id order, appended to `out`.
    fn on_host(&self, host: HostId, out: &mut Vec<VmView>);

    /// One VM, if the view holds it.
    fn vm(&self, vm: VmId) -> Option<VmView>;
}

/// A snapshot of every host, indexed by `HostId`: `hosts[i].id == HostId(i)`,
/// optionally a [`HostIndex`] over the same hosts, which the fit functions
/// then use instead of scanning (same answers, O(log hosts)), and
/// optionally the VMs on them ([`VmsView`]).
#[derive(Clone, Copy)]
pub struct ClusterView<'a> {
    /// The hosts, in id order.
    pub hosts: &'a [HostView],
    index: Option<&'a HostIndex>,
    vms: Option<&'a dyn VmsView>,
}

impl std::fmt::Debug for ClusterView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterView")
            .field("hosts", &self.hosts)
            .field("index", &self.index.is_some())
            .field("vms", &self.vms.is_some())
            .finish()
    }
}

impl<'a> ClusterView<'a> {
    /// A view over `hosts`, which must be in id order.
    pub fn new(hosts: &'a [HostView]) -> Self {
        debug_assert!(hosts.iter().enumerate().all(|(i, h)| h.id.index() == i));
        ClusterView {
            hosts,
            index: None,
            vms: None,
        }
    }

    /// The same view, showing the VMs of `vms` too.
    pub fn with_vms(self, vms: &'a dyn VmsView) -> Self {
        ClusterView {
            vms: Some(vms),
            ..self
        }
    }

    /// The VMs on the hosts, if the view shows them.
    #[inline]
    pub fn vms(&self) -> Option<&'a dyn VmsView> {
        self.vms
    }

    /// The index over these hosts, if the view has one.
    #[inline]
    pub fn index(&self) -> Option<&'a HostIndex> {
        self.index
    }

    /// One host, if it exists.
    #[inline]
    pub fn host(&self, id: HostId) -> Option<&'a HostView> {
        self.hosts.get(id.index())
    }

    /// True if a VM now holding `current` on `host` (zero if it is elsewhere
    /// or new) could hold `size` there.
    #[inline]
    pub fn fits(&self, host: HostId, current: Resources, size: &Resources) -> bool {
        self.host(host)
            .is_some_and(|h| h.used.saturating_minus(&current).plus(size).fits_in(&h.capacity))
    }
}

/// Hosts with what is committed on each, and a [`HostIndex`] over them
/// (when their capacities have exact scores, [`crate::fit::Scale::exact`];
/// mixed capacities are indexed per host type): the one place a broker or
/// a site changes its hosts' use.
///
/// The hosts are always current; the index catches up lazily. A change
/// marks its host stale, and [`Self::view`] brings the stale hosts into the
/// index before lending it out. A host changed many times between two
/// decisions costs one index update, and a table whose policy never asks
/// the index (a site that follows the broker) costs none.
#[derive(Debug, Clone)]
pub struct HostTable {
    hosts: Vec<HostView>,
    index: Option<HostIndex>,
    /// Hosts changed since the index last saw them, each once.
    stale: Vec<HostId>,
    /// Bit `i` is set if host `i` is in `stale` (a bit per host keeps the
    /// flags of 10^5 hosts in 12.5 KB, in cache).
    is_stale: Vec<u64>,
    /// The closed hosts ([`Self::close`]) and their capacity when open.
    closed: BTreeMap<HostId, Resources>,
}

impl HostTable {
    /// `n` idle hosts of `capacity`.
    pub fn new(n: u32, capacity: Resources) -> Self {
        Self::with_capacities(&vec![capacity; n as usize])
    }

    /// Idle hosts of the given capacities: `HostId(i)` has `capacities[i]`.
    /// Hosts of one capacity share one index; mixed ones are indexed per
    /// host type ([`HostIndex::with_capacities`]). Either way the index has
    /// no first-fit tree (its first fit asks each bucket).
    pub fn with_capacities(capacities: &[Resources]) -> Self {
        HostTable {
            index: HostIndex::with_capacities_without_tree(capacities).ok(),
            ..Self::without_index(capacities)
        }
    }

    /// `n` idle hosts of `capacity` with a first-fit tree in the index (the
    /// broker's and site's tables do without: their first fits are rare):
    /// for runs where every decision may be a first fit.
    pub fn with_tree(n: u32, capacity: Resources) -> Result<Self, crate::IndexError> {
        let index = HostIndex::new(n as usize, capacity)?;
        Ok(HostTable {
            index: Some(index),
            ..Self::without_index(&vec![capacity; n as usize])
        })
    }

    fn without_index(capacities: &[Resources]) -> Self {
        HostTable {
            hosts: capacities
                .iter()
                .enumerate()
                .map(|(i, &capacity)| HostView {
                    id: HostId(i as u32),
                    capacity,
                    used: Resources::ZERO,
                })
                .collect(),
            index: None,
            stale: Vec::new(),
            is_stale: vec![0; capacities.len().div_ceil(64)],
            closed: BTreeMap::new(),
        }
    }

    /// A view for policies, with the index brought up to date.
    #[inline]
    pub fn view(&mut self) -> ClusterView<'_> {
        if let Some(ix) = &mut self.index {
            for h in self.stale.drain(..) {
                self.is_stale[h.index() / 64] &= !(1 << (h.index() % 64));
                // The index sees a closed host as full.
                let used = match self.closed.contains_key(&h) {
                    true => ix.capacity_of(h),
                    false => self.hosts[h.index()].used,
                };
                ix.update(h, used);
            }
        }
        ClusterView {
            hosts: &self.hosts,
            index: self.index.as_ref(),
            vms: None,
        }
    }

    /// The hosts, in id order.
    #[inline]
    pub fn hosts(&self) -> &[HostView] {
        &self.hosts
    }

    /// One host. Panics on an unknown id (ids come from this table).
    #[inline]
    pub fn host(&self, id: HostId) -> &HostView {
        &self.hosts[id.index()]
    }

    /// Commits `amount` more on `host`.
    #[inline]
    pub fn add(&mut self, host: HostId, amount: &Resources) {
        let used = self.hosts[host.index()].used.plus(amount);
        self.set(host, used);
    }

    /// Releases `amount` from `host` (saturating at zero).
    #[inline]
    pub fn remove(&mut self, host: HostId, amount: &Resources) {
        let used = self.hosts[host.index()].used.saturating_minus(amount);
        self.set(host, used);
    }

    /// Replaces `old` by `new` on `host` (one update of the index).
    #[inline]
    pub fn replace(&mut self, host: HostId, old: &Resources, new: &Resources) {
        let used = self.hosts[host.index()].used.saturating_minus(old).plus(new);
        self.set(host, used);
    }

    /// Closes `host` to new commitments (it failed, or is drained for
    /// maintenance): until [`Self::open`], its capacity as policies see it
    /// is what it holds, so nothing more fits, and it shrinks as what it
    /// holds is removed. Nothing if it is closed already.
    pub fn close(&mut self, host: HostId) {
        let h = &mut self.hosts[host.index()];
        if let std::collections::btree_map::Entry::Vacant(e) = self.closed.entry(host) {
            e.insert(h.capacity);
            h.capacity = h.used;
            let used = h.used;
            self.set(host, used);
        }
    }

    /// Opens a closed `host` again at its full capacity.
    pub fn open(&mut self, host: HostId) {
        if let Some(capacity) = self.closed.remove(&host) {
            let h = &mut self.hosts[host.index()];
            h.capacity = capacity;
            let used = h.used;
            self.set(host, used);
        }
    }

    /// True unless `host` is closed.
    #[inline]
    pub fn is_open(&self, host: HostId) -> bool {
        self.closed.is_empty() || !self.closed.contains_key(&host)
    }

    /// `host`'s capacity when open, whether it is open or not.
    #[inline]
    pub fn nominal(&self, host: HostId) -> Resources {
        match self.closed.get(&host) {
            Some(c) => *c,
            None => self.hosts[host.index()].capacity,
        }
    }

    /// The closed hosts, in id order.
    pub fn closed(&self) -> impl Iterator<Item = HostId> + '_ {
        self.closed.keys().copied()
    }

    fn set(&mut self, host: HostId, used: Resources) {
        self.hosts[host.index()].used = used;
        if !self.closed.is_empty() && self.closed.contains_key(&host) {
            // A closed host's capacity follows what it holds.
            self.hosts[host.index()].capacity = used;
        }
        let (word, bit) = (host.index() / 64, 1u64 << (host.index() % 64));
        if self.index.is_some() && self.is_stale[word] & bit == 0 {
            self.is_stale[word] |= bit;
            self.stale.push(host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FitKind;
    use proptest::prelude::*;

    proptest! {
        /// However changes and views interleave, a view's index agrees with
        /// its hosts, and the indexed fits answer as the linear scans.
        #[test]
        fn the_lazy_index_is_current_in_every_view(
            mixed in any::<bool>(),
            ops in prop::collection::vec((0u8..6, 0u32..6, 0u64..3), 0..200)
        ) {
            // One capacity, or three host types (2 and 4 units make scores tie across types).
            let capacities: Vec<Resources> = if mixed {
                [4, 2, 4, 3, 2, 4].map(|c| Resources([c; 4])).to_vec()
            } else {
                vec![Resources([4; 4]); 6]
            };
            let mut table = if mixed {
                HostTable::with_capacities(&capacities)
            } else {
                HostTable::new(6, capacities[0])
            };
            prop_assert_eq!(table.hosts().iter().map(|h| h.capacity).collect::<Vec<_>>(), capacities.clone());
            for (op, h, u) in ops {
                let host = HostId(h);
                let amount = Resources([u, u, u, u]);
                match op {
                    0 => {
                        if table.host(host).has_room(&amount) {
                            table.add(host, &amount);
                        }
                    }
                    1 => table.remove(host, &amount),
                    2 => {
                        let used = table.host(host).used;
                        if amount.fits_in(&capacities[h as usize]) {
                            table.replace(host, &used, &amount);
                        }
                    }
                    3 => {
                        table.close(host);
                        prop_assert!(!table.is_open(host));
                        prop_assert_eq!(table.nominal(host), capacities[h as usize]);
                    }
                    4 => {
                        table.open(host);
                        prop_assert!(table.is_open(host));
                        prop_assert_eq!(table.host(host).capacity, capacities[h as usize]);
                    }
                    _ => {
                        let closed: Vec<HostId> = table.closed().collect();
                        let view = table.view();
                        let ix = view.index().expect("exact capacities are indexed");
                        prop_assert_eq!(ix.is_mixed(), mixed);
                        prop_assert_eq!(ix.check(), Ok(()));
                        for v in view.hosts {
                            if closed.contains(&v.id) {
                                // Closed: full to the index, no room to the view.
                                prop_assert_eq!(ix.used(v.id), ix.capacity_of(v.id));
                                prop_assert_eq!(v.capacity, v.used);
                            } else {
                                prop_assert_eq!(ix.used(v.id), v.used);
                            }
                        }
                        let plain = ClusterView::new(view.hosts);
                        for kind in FitKind::ALL {
                            for exclude in [None, Some(host)] {
                                prop_assert_eq!(ix.choose(kind, &amount, exclude), kind.linear(&plain, &amount, exclude));
                            }
                        }
                    }
                }
            }
        }
    }
}
