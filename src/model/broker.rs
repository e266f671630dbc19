//! The broker: provisions slivers from its logical inventory (paper, sec. 5).
//!
//! Each allocation period the broker serves the requests it collected in a
//! fixed order: releases, then shrinks, then grows, then new leases; within
//! each class, in the order the guests (in scenario order) submitted them.
//! Freeing first gives every grow and new lease the most room. The logical
//! assignment it keeps is always feasible, and it is the "home" the site
//! falls back to when its own placement has no room.

use super::VmMap;

use slivers_policy::{ClusterView, GrowDecision, GuestId, HostId, HostTable, Provisioning, Resources, VmId};

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
}

/// Errors that mean a guest or driver broke the protocol (a bug, not user input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// A request named a VM the broker does not hold.
    #[error("{0} is not provisioned by the broker")]
    UnknownVm(VmId),
}

/// The broker and its logical inventory.
pub struct Broker {
    policy: Box<dyn Provisioning>,
    hosts: HostTable,
    vms: VmMap<(HostId, Resources)>,
    next_vm: u64,
    stats: BrokerStats,
}

impl Broker {
    /// A broker over `hosts` identical hosts of `capacity`, delegated in full.
    pub fn new(policy: Box<dyn Provisioning>, hosts: u32, capacity: Resources) -> Self {
        Broker {
            policy,
            hosts: HostTable::new(hosts, capacity),
            vms: VmMap::new(),
            next_vm: 0,
            stats: BrokerStats::default(),
        }
    }

    /// The logical host and size of a VM.
    pub fn home(&self, vm: VmId) -> Option<(HostId, Resources)> {
        self.vms.get(vm).copied()
    }

    /// The logical inventory.
    pub fn inventory(&mut self) -> ClusterView<'_> {
        self.hosts.view()
    }

    /// Every provisioned VM with its logical host and size.
    pub fn assignment(&self) -> &VmMap<(HostId, Resources)> {
        &self.vms
    }

    /// VMs granted so far, over the whole run.
    pub fn granted_vms(&self) -> u64 {
        self.next_vm
    }

    /// Counters so far.
    pub fn stats(&self) -> BrokerStats {
        self.stats
    }

    /// Serves one period's requests. `requests` holds each guest's requests in
    /// submission order; the result has one outcome per request, aligned.
    /// The grants for the site are appended to `grants`, in decision order.
    pub fn serve(
        &mut self,
        requests: &[(GuestId, Vec<Request>)],
        grants: &mut Vec<Grant>,
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

    /// 0 release, 1 shrink, 2 grow, 3 new.
    fn class_of(&self, r: &Request) -> u8 {
        match r {
            Request::Release { .. } => 0,
            Request::Resize { vm, size } => match self.vms.get(*vm) {
                Some((_, cur)) if size.fits_in(cur) => 1,
                _ => 2,
            },
            Request::New { .. } => 3,
        }
    }

    fn serve_one(
        &mut self,
        guest: GuestId,
        r: &Request,
        grants: &mut Vec<Grant>,
    ) -> Result<Outcome, BrokerError> {
        match r {
            Request::Release { vm } => {
                self.release(*vm, grants)?;
                Ok(Outcome::Done)
            }
            Request::Resize { vm, size } => {
                self.stats.requests += 1;
                let (host, cur) = *self.vms.get(*vm).ok_or(BrokerError::UnknownVm(*vm))?;
                let view = self.hosts.view();
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
                    self.stats.rejected += 1;
                    return Ok(Outcome::Rejected);
                };
                if to == host {
                    self.hosts.replace(host, &cur, size);
                } else {
                    self.unuse(host, cur);
                    self.hosts.add(to, size);
                }
                self.vms.insert(*vm, (to, *size));
                self.stats.granted += 1;
                self.stats.resizes += 1;
                grants.push(Grant::Resize { vm: *vm, size: *size });
                Ok(Outcome::Done)
            }
            Request::New { sizes } => {
                self.stats.requests += 1;
                // Tentatively place every VM of the lease; undo all on
                // failure. The lease's VMs take the next ids in order.
                let first = grants.len();
                for size in sizes {
                    let view = self.hosts.view();
                    let host = self
                        .policy
                        .place_new(&view, size)
                        .filter(|&h| view.fits(h, Resources::ZERO, size));
                    let Some(host) = host else {
                        for g in grants.drain(first..) {
                            if let Grant::New { vm, size, .. } = g
                                && let Some((h, _)) = self.vms.remove(vm)
                            {
                                self.unuse(h, size);
                            }
                        }
                        self.stats.rejected += 1;
                        return Ok(Outcome::Rejected);
                    };
                    self.hosts.add(host, size);
                    let vm = VmId(self.next_vm + (grants.len() - first) as u64);
                    self.vms.insert(vm, (host, *size));
                    grants.push(Grant::New {
                        vm,
                        guest,
                        size: *size,
                    });
                }
                self.next_vm += sizes.len() as u64;
                self.stats.granted += 1;
                Ok(Outcome::Granted(
                    (self.next_vm - sizes.len() as u64..self.next_vm)
                        .map(VmId)
                        .collect(),
                ))
            }
        }
    }

    /// Takes `vm` back (a release request, which is always granted) and
    /// appends its grant to `grants`.
    pub fn release(&mut self, vm: VmId, grants: &mut Vec<Grant>) -> Result<(), BrokerError> {
        let (host, size) = self.vms.remove(vm).ok_or(BrokerError::UnknownVm(vm))?;
        self.unuse(host, size);
        grants.push(Grant::Release { vm });
        Ok(())
    }

    fn unuse(&mut self, host: HostId, size: Resources) {
        self.hosts.remove(host, &size);
    }

    /// Checks that the cached per-host totals match the assignment and fit.
    pub fn check(&self) -> Result<(), String> {
        let mut sums = vec![Resources::ZERO; self.hosts.hosts().len()];
        for (vm, (h, s)) in &self.vms {
            let slot = sums
                .get_mut(h.index())
                .ok_or_else(|| format!("broker: {vm} on unknown {h}"))?;
            *slot = slot.plus(s);
        }
        for (h, sum) in self.hosts.hosts().iter().zip(sums) {
            if h.used != sum {
                return Err(format!("broker: {} caches {} but holds {}", h.id, h.used, sum));
            }
            if !sum.fits_in(&h.capacity) {
                return Err(format!(
                    "broker: logical {} over capacity: {} > {}",
                    h.id, sum, h.capacity
                ));
            }
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
        Ok((out, grants))
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
                broker_migrations: 0
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
