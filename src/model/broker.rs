//! The broker: provisions slivers from its logical inventory (paper, sec. 5).
//!
//! Each allocation period the broker serves the requests it collected in a
//! fixed order: releases, then shrinks, then grows, then new leases; within
//! each class, in the order the guests (in scenario order) submitted them.
//! Freeing first gives every grow and new lease the most room. The logical
//! assignment it keeps is always feasible, and it is the "home" the site
//! falls back to when its own placement has no room.

use super::VmMap;

use slivers_policy::{
    ClusterView, GrowDecision, GuestId, HostId, HostTable, Provisioning, Resources, SiteId, SiteSelection,
    SiteSelectionKind, SiteView, VmId,
};

/// A guest's request to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// New slivers, granted all together or not at all (one lease).
    New {
        /// One size per VM.
        sizes: Vec<Resources>,
    },
    /// Change a sliver's size on renewal.
    Resize {
        /// The VM.
        vm: VmId,
        /// Its new size.
        size: Resources,
    },
    /// Give a sliver back.
    Release {
        /// The VM.
        vm: VmId,
    },
}

/// The broker's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new lease, with one VM id per requested size (same order).
    Granted(Vec<VmId>),
    /// The resize or release took effect.
    Done,
    /// Refused; nothing changed.
    Rejected,
}

/// What the broker tells the site, in the order it decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// A new sliver with its logical host.
    New {
        /// The VM.
        vm: VmId,
        /// Its guest.
        guest: GuestId,
        /// Its size.
        size: Resources,
    },
    /// A resized sliver (its logical host may have changed).
    Resize {
        /// The VM.
        vm: VmId,
        /// Its new size.
        size: Resources,
    },
    /// A released sliver.
    Release {
        /// The VM.
        vm: VmId,
    },
}

/// Counters of what the broker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Requests served (new leases and resizes, retries included; releases excluded).
    pub requests: u64,
    /// Of those, granted.
    pub granted: u64,
    /// Of those, rejected.
    pub rejected: u64,
    /// Granted resizes (grows and shrinks).
    pub resizes: u64,
    /// Slivers the broker moved between logical hosts.
    pub broker_migrations: u64,
    /// Of those, moved to another site (a ticket moved; the sites move the
    /// VM over the WAN).
    pub cross_site_moves: u64,
}

/// Errors that mean a guest or driver broke the protocol (a bug, not user input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// A request named a VM the broker does not hold.
    #[error("{0} is not provisioned by the broker")]
    UnknownVm(VmId),
}

/// The hosts one site delegates to a broker: the broker's logical
/// inventory there, indexed by the site's own host ids (a host the site
/// does not delegate to this broker is closed in the table: it never
/// has room).
struct Slice {
    site: u32,
    hosts: HostTable,
    /// The broker's VMs at this site: logical host and size.
    vms: VmMap<(HostId, Resources)>,
    /// The delegated capacity, summed over hosts.
    capacity: Resources,
    /// What the broker granted here, summed.
    used: Resources,
    watts_per_core: f64,
}

impl Slice {
    fn add(&mut self, vm: VmId, host: HostId, size: Resources) {
        self.hosts.add(host, &size);
        self.used = self.used.plus(&size);
        self.vms.insert(vm, (host, size));
    }

    fn remove(&mut self, vm: VmId) -> Option<(HostId, Resources)> {
        let (h, size) = self.vms.remove(vm)?;
        self.hosts.remove(h, &size);
        self.used = self.used.saturating_minus(&size);
        Some((h, size))
    }
}

/// What one site delegates to a broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Delegation {
    /// The site's index.
    pub site: u32,
    /// Per host of the site (by its own id): the capacity delegated to
    /// this broker, or `None` if the host is not delegated to it.
    pub hosts: Vec<Option<Resources>>,
    /// The site's power per core at full load, W (for site selection).
    pub watts_per_core: f64,
}

/// A grant for one site: the broker's promise (a ticket, redeemed by the
/// guest at the site in the same instant) or a change to one.
pub type SiteGrant = (u32, Grant);

/// A grown sliver coming from another site: "from no host of this view".
const ELSEWHERE: HostId = HostId(u32::MAX);

/// The broker and its logical inventory: one slice per site that
/// delegates to it.
pub struct Broker {
    policy: Box<dyn Provisioning>,
    selection: Box<dyn SiteSelection>,
    slices: Vec<Slice>,
    /// Each VM's slice (index into `slices`).
    slice_of: VmMap<u32>,
    /// Each guest's pinned site, if any (by guest index).
    pins: Vec<Option<SiteId>>,
    /// VM ids are `first + stride · n`: brokers of one federation never
    /// share one, and a VM's id names its broker.
    first: u64,
    stride: u64,
    next_vm: u64,
    stats: BrokerStats,
    /// Sites ranked for one decision (a buffer kept between calls).
    ranked: Vec<SiteId>,
}

impl Broker {
    /// A broker over `hosts` identical hosts of `capacity` of one site,
    /// delegated in full.
    pub fn new(policy: Box<dyn Provisioning>, hosts: u32, capacity: Resources) -> Self {
        Self::federated(
            policy,
            SiteSelectionKind::LeastLoaded.build(),
            vec![Delegation {
                site: 0,
                hosts: vec![Some(capacity); hosts as usize],
                watts_per_core: 0.0,
            }],
            Vec::new(),
            (0, 1),
        )
    }

    /// Broker `ids.0` of `ids.1` brokers, over what `delegations` delegate
    /// to it (one per site, in the order its site selection breaks ties
    /// in), choosing sites with `selection`; guests may be pinned to a site.
    pub fn federated(
        policy: Box<dyn Provisioning>,
        selection: Box<dyn SiteSelection>,
        delegations: Vec<Delegation>,
        pins: Vec<Option<SiteId>>,
        ids: (u32, u32),
    ) -> Self {
        let slices = delegations
            .into_iter()
            .map(|d| {
                let capacities: Vec<Resources> =
                    d.hosts.iter().map(|c| c.unwrap_or(Resources::ZERO)).collect();
                let mut hosts = HostTable::with_capacities(&capacities);
                for (i, c) in d.hosts.iter().enumerate() {
                    if c.is_none() {
                        hosts.close(HostId(i as u32));
                    }
                }
                Slice {
                    site: d.site,
                    hosts,
                    vms: VmMap::new(),
                    capacity: capacities.iter().fold(Resources::ZERO, |a, c| a.plus(c)),
                    used: Resources::ZERO,
                    watts_per_core: d.watts_per_core,
                }
            })
            .collect();
        Broker {
            policy,
            selection,
            slices,
            slice_of: VmMap::new(),
            pins,
            first: ids.0 as u64,
            stride: ids.1.max(1) as u64,
            next_vm: 0,
            stats: BrokerStats::default(),
            ranked: Vec::new(),
        }
    }

    /// The logical host and size of a VM.
    pub fn home(&self, vm: VmId) -> Option<(HostId, Resources)> {
        let slice = self.slices.get(*self.slice_of.get(vm)? as usize)?;
        slice.vms.get(vm).copied()
    }

    /// The site (index) where the broker holds `vm`.
    pub fn site_of(&self, vm: VmId) -> Option<u32> {
        Some(self.slices.get(*self.slice_of.get(vm)? as usize)?.site)
    }

    /// The logical inventory at the broker's first site.
    pub fn inventory(&mut self) -> ClusterView<'_> {
        self.slices[0].hosts.view()
    }

    /// Every VM provisioned at the broker's first site (its only one
    /// unless federated) with its logical host and size.
    pub fn assignment(&self) -> &VmMap<(HostId, Resources)> {
        &self.slices[0].vms
    }

    /// The VMs the broker holds at `site`, with their logical hosts (the
    /// site's own host ids) and sizes; `None` if `site` delegates nothing
    /// to it.
    pub fn assignment_at(&self, site: u32) -> Option<&VmMap<(HostId, Resources)>> {
        self.slices.iter().find(|s| s.site == site).map(|s| &s.vms)
    }

    /// `(site, delegated capacity, granted)` per site that delegates to
    /// the broker, in its order.
    pub fn sites(&self) -> impl Iterator<Item = (u32, Resources, Resources)> + '_ {
        self.slices.iter().map(|s| (s.site, s.capacity, s.used))
    }

    /// VMs granted so far, over the whole run.
    pub fn granted_vms(&self) -> u64 {
        self.next_vm
    }

    /// True if `vm`'s id is one this broker gives out.
    pub fn issues(&self, vm: VmId) -> bool {
        vm.0 % self.stride == self.first
    }

    /// Counters so far.
    pub fn stats(&self) -> BrokerStats {
        self.stats
    }

    fn vm_id(&self, n: u64) -> VmId {
        VmId(self.first + self.stride * n)
    }

    /// Serves one period's requests. `requests` holds each guest's requests in
    /// submission order; the result has one outcome per request, aligned.
    /// The grants for the sites are appended to `grants`, in decision order.
    pub fn serve(
        &mut self,
        requests: &[(GuestId, Vec<Request>)],
        grants: &mut Vec<SiteGrant>,
    ) -> Result<Vec<Vec<Outcome>>, BrokerError> {
        let mut outcomes: Vec<Vec<Outcome>> = requests
            .iter()
            .map(|(_, rs)| vec![Outcome::Rejected; rs.len()])
            .collect();
        // Each request is classified once, before any is served, then served
        // by class; the sort is stable, so guest and submission order hold
        // within a class.
        let mut order: Vec<(u8, usize, usize)> = requests
            .iter()
            .enumerate()
            .flat_map(|(g, (_, rs))| rs.iter().enumerate().map(move |(i, r)| (g, i, r)))
            .map(|(g, i, r)| (self.class_of(r), g, i))
            .collect();
        order.sort_by_key(|&(class, _, _)| class);
        for (_, g, i) in order {
            let (guest, rs) = &requests[g];
            outcomes[g][i] = self.serve_one(*guest, &rs[i], grants)?;
        }
        Ok(outcomes)
    }

    /// 0: release, 1: shrink, 2: grow, 3: new lease.
    fn class_of(&self, r: &Request) -> u8 {
        match r {
            Request::Release { .. } => 0,
            Request::Resize { vm, size } => match self.home(*vm) {
                Some((_, cur)) if size.fits_in(&cur) => 1,
                _ => 2,
            },
            Request::New { .. } => 3,
        }
    }

    /// The sites to try for `guest`'s sliver of `size`, best first, as
    /// slice indices: the only one if there is one; else the site
    /// selection's order over the sites where `fits` says it has room.
    fn rank_sites(
        &mut self,
        guest: GuestId,
        size: &Resources,
        fits: impl Fn(&dyn Provisioning, &ClusterView) -> bool,
    ) -> Vec<usize> {
        if self.slices.len() == 1 {
            return vec![0];
        }
        let pin = self.pins.get(guest.0 as usize).copied().flatten();
        let views: Vec<SiteView> = self
            .slices
            .iter_mut()
            .map(|s| SiteView {
                id: SiteId(s.site),
                capacity: s.capacity,
                used: s.used,
                fits: fits(&*self.policy, &s.hosts.view()),
                watts_per_core: s.watts_per_core,
                pinned: pin == Some(SiteId(s.site)),
            })
            .collect();
        self.ranked.clear();
        self.selection.rank(&views, size, &mut self.ranked);
        self.ranked
            .iter()
            .filter_map(|id| self.slices.iter().position(|s| s.site == id.0))
            .collect()
    }

    fn serve_one(
        &mut self,
        guest: GuestId,
        r: &Request,
        grants: &mut Vec<SiteGrant>,
    ) -> Result<Outcome, BrokerError> {
        match r {
            Request::Release { vm } => {
                self.release(*vm, grants)?;
                Ok(Outcome::Done)
            }
            Request::Resize { vm, size } => {
                self.stats.requests += 1;
                let si = *self.slice_of.get(*vm).ok_or(BrokerError::UnknownVm(*vm))? as usize;
                let slice = &mut self.slices[si];
                let (host, cur) = *slice.vms.get(*vm).ok_or(BrokerError::UnknownVm(*vm))?;
                let view = slice.hosts.view();
                let target = if view.fits(host, cur, size) {
                    Some(host)
                } else {
                    match self.policy.on_grow_overflow(&view, host, size) {
                        GrowDecision::Move(to) if to != host && view.fits(to, Resources::ZERO, size) => {
                            self.stats.broker_migrations += 1;
                            Some(to)
                        }
                        _ => None,
                    }
                };
                let Some(to) = target else {
                    return self.move_across(guest, *vm, si, size, grants);
                };
                let site = slice.site;
                slice.remove(*vm);
                slice.add(*vm, to, *size);
                self.stats.granted += 1;
                self.stats.resizes += 1;
                grants.push((site, Grant::Resize { vm: *vm, size: *size }));
                Ok(Outcome::Done)
            }
            Request::New { sizes } => {
                self.stats.requests += 1;
                let Some(first) = sizes.first() else {
                    self.stats.rejected += 1;
                    return Ok(Outcome::Rejected);
                };
                // A lease is one ticket at one site: every VM of it there.
                let order = self.rank_sites(guest, first, |p, v| p.place_new(v, first).is_some());
                for si in order {
                    if self.lease_at(guest, si, sizes, grants) {
                        self.next_vm += sizes.len() as u64;
                        self.stats.granted += 1;
                        return Ok(Outcome::Granted(
                            (self.next_vm - sizes.len() as u64..self.next_vm)
                                .map(|n| self.vm_id(n))
                                .collect(),
                        ));
                    }
                }
                self.stats.rejected += 1;
                Ok(Outcome::Rejected)
            }
        }
    }

    /// Tentatively places every VM of a lease in slice `si`, undoing all
    /// and returning false if one does not fit. The lease's VMs take the
    /// next ids in order.
    fn lease_at(
        &mut self,
        guest: GuestId,
        si: usize,
        sizes: &[Resources],
        grants: &mut Vec<SiteGrant>,
    ) -> bool {
        let first = grants.len();
        let site = self.slices[si].site;
        for size in sizes {
            let slice = &mut self.slices[si];
            let view = slice.hosts.view();
            let host = self
                .policy
                .place_new(&view, size)
                .filter(|&h| view.fits(h, Resources::ZERO, size));
            let Some(host) = host else {
                for (_, g) in grants.drain(first..) {
                    if let Grant::New { vm, .. } = g {
                        self.slices[si].remove(vm);
                        self.slice_of.remove(vm);
                    }
                }
                return false;
            };
            let vm = VmId(self.first + self.stride * (self.next_vm + (grants.len() - first) as u64));
            slice.add(vm, host, *size);
            self.slice_of.insert(vm, si as u32);
            grants.push((
                site,
                Grant::New {
                    vm,
                    guest,
                    size: *size,
                },
            ));
        }
        true
    }

    /// A grow with no room at the VM's site: a broker whose policy moves
    /// grown slivers moves its ticket to another site that has room (a
    /// cross-site migration); otherwise the grow is refused.
    fn move_across(
        &mut self,
        guest: GuestId,
        vm: VmId,
        from: usize,
        size: &Resources,
        grants: &mut Vec<SiteGrant>,
    ) -> Result<Outcome, BrokerError> {
        let order = match self.slices.len() {
            1 => Vec::new(),
            _ => self.rank_sites(guest, size, |p, v| {
                matches!(p.on_grow_overflow(v, ELSEWHERE, size), GrowDecision::Move(to) if v.fits(to, Resources::ZERO, size))
            }),
        };
        for si in order.into_iter().filter(|&si| si != from) {
            let slice = &mut self.slices[si];
            let view = slice.hosts.view();
            let GrowDecision::Move(to) = self.policy.on_grow_overflow(&view, ELSEWHERE, size) else {
                continue;
            };
            if !view.fits(to, Resources::ZERO, size) {
                continue;
            }
            let site = slice.site;
            slice.add(vm, to, *size);
            let old = &mut self.slices[from];
            old.remove(vm);
            let old_site = old.site;
            self.slice_of.insert(vm, si as u32);
            self.stats.broker_migrations += 1;
            self.stats.cross_site_moves += 1;
            self.stats.granted += 1;
            self.stats.resizes += 1;
            grants.push((old_site, Grant::Release { vm }));
            grants.push((
                site,
                Grant::New {
                    vm,
                    guest,
                    size: *size,
                },
            ));
            return Ok(Outcome::Done);
        }
        self.stats.rejected += 1;
        Ok(Outcome::Rejected)
    }

    /// Takes `vm` back (its lease ended or its guest released it).
    pub fn release(&mut self, vm: VmId, grants: &mut Vec<SiteGrant>) -> Result<(), BrokerError> {
        let si = self.slice_of.remove(vm).ok_or(BrokerError::UnknownVm(vm))? as usize;
        let slice = self.slices.get_mut(si).ok_or(BrokerError::UnknownVm(vm))?;
        slice.remove(vm).ok_or(BrokerError::UnknownVm(vm))?;
        grants.push((slice.site, Grant::Release { vm }));
        Ok(())
    }

    /// Checks that every slice's cached usage equals the sum of its VMs,
    /// fits each delegated host, and that every VM is in the slice its
    /// record names.
    pub fn check(&self) -> Result<(), String> {
        let mut held = 0;
        for (i, slice) in self.slices.iter().enumerate() {
            let mut sums = vec![Resources::ZERO; slice.hosts.hosts().len()];
            for (vm, (h, s)) in &slice.vms {
                let slot = sums
                    .get_mut(h.index())
                    .ok_or_else(|| format!("broker: {vm} on unknown {h}"))?;
                *slot = slot.plus(s);
                if self.slice_of.get(vm) != Some(&(i as u32)) {
                    return Err(format!(
                        "broker: {vm} is at site {} but not recorded there",
                        slice.site
                    ));
                }
                held += 1;
            }
            for (h, sum) in slice.hosts.hosts().iter().zip(sums) {
                if h.used != sum {
                    return Err(format!("broker: {} caches {} but holds {}", h.id, h.used, sum));
                }
                let capacity = slice.hosts.nominal(h.id);
                if !sum.fits_in(&capacity) || (!slice.hosts.is_open(h.id) && !sum.is_zero()) {
                    return Err(format!(
                        "broker: logical {} at site {} over its delegation: {} > {}",
                        h.id, slice.site, sum, capacity
                    ));
                }
            }
        }
        if held != self.slice_of.len() {
            return Err(format!(
                "broker: {} VMs recorded, {} held",
                self.slice_of.len(),
                held
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slivers_policy::ProvisioningKind;

    const U: Resources = Resources([1; 4]);

    /// [`Broker::serve`] with a fresh grant list.
    fn serve(
        b: &mut Broker,
        requests: &[(GuestId, Vec<Request>)],
    ) -> Result<(Vec<Vec<Outcome>>, Vec<Grant>), BrokerError> {
        let mut grants = Vec::new();
        let out = b.serve(requests, &mut grants)?;
        assert!(grants.iter().all(|(site, _)| *site == 0), "one site");
        Ok((out, grants.into_iter().map(|(_, g)| g).collect()))
    }

    fn broker(kind: ProvisioningKind, hosts: u32) -> Broker {
        Broker::new(kind.build(), hosts, U.times(2))
    }

    #[test]
    fn room_for_growth_spreads_then_refuses_a_grow_with_no_room() {
        let mut b = broker(ProvisioningKind::RoomForGrowth, 2);
        let g = GuestId(0);
        let (out, grants) = serve(&mut b, &[(g, vec![Request::New { sizes: vec![U, U, U] }])]).unwrap();
        assert_eq!(out, vec![vec![Outcome::Granted(vec![VmId(0), VmId(1), VmId(2)])]]);
        assert_eq!(grants.len(), 3);
        // Worst-fit: vm0 -> host0, vm1 -> host1, vm2 -> host0 (tie, lowest id).
        assert_eq!(b.home(VmId(0)).unwrap().0, HostId(0));
        assert_eq!(b.home(VmId(1)).unwrap().0, HostId(1));
        assert_eq!(b.home(VmId(2)).unwrap().0, HostId(0));
        // vm1 can grow in place; vm0 cannot.
        let (out, _) = serve(
            &mut b,
            &[(
                g,
                vec![
                    Request::Resize {
                        vm: VmId(0),
                        size: U.times(2),
                    },
                    Request::Resize {
                        vm: VmId(1),
                        size: U.times(2),
                    },
                ],
            )],
        )
        .unwrap();
        assert_eq!(out, vec![vec![Outcome::Rejected, Outcome::Done]]);
        assert_eq!(
            b.stats(),
            BrokerStats {
                requests: 3,
                granted: 2,
                rejected: 1,
                resizes: 1,
                broker_migrations: 0,
                cross_site_moves: 0,
            }
        );
        b.check().unwrap();
    }

    #[test]
    fn migrating_moves_a_grow_and_releases_come_first() {
        let mut b = broker(ProvisioningKind::Migrating, 2);
        let g = GuestId(0);
        serve(&mut b, &[(g, vec![Request::New { sizes: vec![U, U, U] }])]).unwrap();
        // vm1 (host1) is released in the same period as vm0 (host0, shared
        // with vm2) grows: the release is served first, so vm0 moves to host1.
        let (out, grants) = serve(
            &mut b,
            &[(
                g,
                vec![
                    Request::Resize {
                        vm: VmId(0),
                        size: U.times(2),
                    },
                    Request::Release { vm: VmId(1) },
                ],
            )],
        )
        .unwrap();
        assert_eq!(out, vec![vec![Outcome::Done, Outcome::Done]]);
        assert_eq!(grants[0], Grant::Release { vm: VmId(1) });
        assert_eq!(b.home(VmId(0)), Some((HostId(1), U.times(2))));
        assert_eq!(b.stats().broker_migrations, 1);
        b.check().unwrap();
    }

    #[test]
    fn each_request_is_served_once_in_class_order() {
        let mut b = broker(ProvisioningKind::FirstFit, 2);
        let g = GuestId(0);
        // vm0 fills host0, vm1 half of host1.
        serve(
            &mut b,
            &[(
                g,
                vec![Request::New {
                    sizes: vec![U.times(2), U],
                }],
            )],
        )
        .unwrap();
        // Submitted new, grow, shrink: served shrink, grow, new, so the new
        // lease finds the unit vm0's shrink frees on host0.
        let (out, grants) = serve(
            &mut b,
            &[(
                g,
                vec![
                    Request::New { sizes: vec![U] },
                    Request::Resize {
                        vm: VmId(1),
                        size: U.times(2),
                    },
                    Request::Resize { vm: VmId(0), size: U },
                ],
            )],
        )
        .unwrap();
        assert_eq!(
            grants,
            vec![
                Grant::Resize { vm: VmId(0), size: U },
                Grant::Resize {
                    vm: VmId(1),
                    size: U.times(2)
                },
                Grant::New {
                    vm: VmId(2),
                    guest: g,
                    size: U
                },
            ]
        );
        assert_eq!(
            out,
            vec![vec![
                Outcome::Granted(vec![VmId(2)]),
                Outcome::Done,
                Outcome::Done
            ]]
        );
        assert_eq!(b.home(VmId(2)), Some((HostId(0), U)));
        // Two leases and two resizes served, each once.
        assert_eq!(b.stats().requests, 4);
        b.check().unwrap();
    }

    #[test]
    fn a_lease_is_all_or_nothing() {
        let mut b = broker(ProvisioningKind::FirstFit, 1);
        let (out, grants) = serve(
            &mut b,
            &[(GuestId(0), vec![Request::New { sizes: vec![U, U, U] }])],
        )
        .unwrap();
        assert_eq!(out, vec![vec![Outcome::Rejected]]);
        assert!(grants.is_empty());
        assert!(b.assignment().is_empty());
        assert_eq!(b.inventory().hosts[0].used, Resources::ZERO);
        assert!(matches!(
            serve(&mut b, &[(GuestId(0), vec![Request::Release { vm: VmId(5) }])]),
            Err(BrokerError::UnknownVm(VmId(5)))
        ));
    }
}
