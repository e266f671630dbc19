//! Migration planning (paper, sec. 4): order the steps that take the site
//! from its current placement to a target placement without ever exceeding a
//! host's capacity.
//!
//! Steps are ordered under *sequential* semantics: each step's capacity
//! effects are complete before the next begins. A live migration needs room
//! for the VM on the target while it still runs on the source; when no
//! pending move has room (a cycle or a deadlock), one VM is suspended to
//! storage, which frees its source, and restored once its target has room
//! (stop-and-copy, sec. 5). Since storage is unbounded, any feasible target is
//! reached, and every VM moves at most once.

use std::collections::{BTreeMap, BTreeSet};

use crate::{HostId, HostView, Resources, VmId};

/// One VM's change: where and how big it is now, and where and how big it
/// must be. `None` means absent (a new VM, or one to destroy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The VM.
    pub vm: VmId,
    /// Its host and size now.
    pub from: Option<(HostId, Resources)>,
    /// Its host and size at the end.
    pub to: Option<(HostId, Resources)>,
}

/// One executable operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Start a new VM.
    Create {
        /// The VM.
        vm: VmId,
        /// Where.
        host: HostId,
        /// Its sliver.
        size: Resources,
    },
    /// Change a VM's sliver in place.
    Resize {
        /// The VM.
        vm: VmId,
        /// Where it runs.
        host: HostId,
        /// The old sliver.
        from: Resources,
        /// The new sliver.
        to: Resources,
    },
    /// Live-migrate a VM; it holds `size_from` on `from` and `size_to` on
    /// `to` until the move completes.
    Migrate {
        /// The VM.
        vm: VmId,
        /// Source host.
        from: HostId,
        /// Target host.
        to: HostId,
        /// Its sliver on the source.
        size_from: Resources,
        /// Its sliver on the target.
        size_to: Resources,
    },
    /// Stop-and-copy, first half: suspend the VM and save its image to storage.
    Suspend {
        /// The VM.
        vm: VmId,
        /// Where it ran.
        host: HostId,
        /// The sliver it frees.
        size: Resources,
    },
    /// Stop-and-copy, second half: restore a suspended VM from storage.
    Restore {
        /// The VM.
        vm: VmId,
        /// Where it resumes.
        host: HostId,
        /// Its sliver there.
        size: Resources,
    },
    /// Stop a VM for good.
    Destroy {
        /// The VM.
        vm: VmId,
        /// Where it ran.
        host: HostId,
        /// The sliver it frees.
        size: Resources,
    },
}

impl Step {
    /// The VM the step acts on.
    #[inline]
    pub fn vm(&self) -> VmId {
        match *self {
            Step::Create { vm, .. }
            | Step::Resize { vm, .. }
            | Step::Migrate { vm, .. }
            | Step::Suspend { vm, .. }
            | Step::Restore { vm, .. }
            | Step::Destroy { vm, .. } => vm,
        }
    }

    /// What the step reserves when it starts: (host, amount).
    #[inline]
    pub fn reserves(&self) -> Option<(HostId, Resources)> {
        match *self {
            Step::Create { host, size, .. } | Step::Restore { host, size, .. } => Some((host, size)),
            Step::Resize { host, from, to, .. } => Some((host, to.saturating_minus(&from))),
            Step::Migrate { to, size_to, .. } => Some((to, size_to)),
            Step::Suspend { .. } | Step::Destroy { .. } => None,
        }
    }

    /// The same step with every host `h` it names replaced by `f(h)` (a
    /// site's own host ids to a federation's, say).
    pub fn map_hosts(&self, f: impl Fn(HostId) -> HostId) -> Step {
        match *self {
            Step::Create { vm, host, size } => Step::Create {
                vm,
                host: f(host),
                size,
            },
            Step::Resize { vm, host, from, to } => Step::Resize {
                vm,
                host: f(host),
                from,
                to,
            },
            Step::Migrate {
                vm,
                from,
                to,
                size_from,
                size_to,
            } => Step::Migrate {
                vm,
                from: f(from),
                to: f(to),
                size_from,
                size_to,
            },
            Step::Suspend { vm, host, size } => Step::Suspend {
                vm,
                host: f(host),
                size,
            },
            Step::Restore { vm, host, size } => Step::Restore {
                vm,
                host: f(host),
                size,
            },
            Step::Destroy { vm, host, size } => Step::Destroy {
                vm,
                host: f(host),
                size,
            },
        }
    }

    /// What the step frees when it completes: (host, amount).
    #[inline]
    pub fn frees(&self) -> Option<(HostId, Resources)> {
        match *self {
            Step::Resize { host, from, to, .. } => Some((host, from.saturating_minus(&to))),
            Step::Migrate { from, size_from, .. } => Some((from, size_from)),
            Step::Suspend { host, size, .. } | Step::Destroy { host, size, .. } => Some((host, size)),
            Step::Create { .. } | Step::Restore { .. } => None,
        }
    }
}

/// In words, for messages: `resize vm0 on host0 from {..} to {..}`.
impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Step::Create { vm, host, size } => write!(f, "create {vm} on {host} at {size}"),
            Step::Resize { vm, host, from, to } => write!(f, "resize {vm} on {host} from {from} to {to}"),
            Step::Migrate {
                vm,
                from,
                to,
                size_from,
                size_to,
            } => match size_from == size_to {
                true => write!(f, "migrate {vm} from {from} to {to} at {size_to}"),
                false => write!(f, "migrate {vm} from {from} at {size_from} to {to} at {size_to}"),
            },
            Step::Suspend { vm, host, size } => write!(f, "suspend {vm} on {host} ({size})"),
            Step::Restore { vm, host, size } => write!(f, "restore {vm} on {host} at {size}"),
            Step::Destroy { vm, host, size } => write!(f, "destroy {vm} on {host} ({size})"),
        }
    }
}

/// An ordered plan and its cost in moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, to be started in this order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Live migrations in the plan.
    pub fn live_migrations(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Migrate { .. }))
            .count()
    }

    /// Stop-and-copy migrations (suspend + restore pairs) in the plan.
    pub fn stop_copy_migrations(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Suspend { .. }))
            .count()
    }
}

/// Why no plan exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The target placement does not fit: even with every movable VM
    /// suspended, this VM has no room on this host.
    #[error("target placement is infeasible: {vm} does not fit on {host}")]
    Infeasible {
        /// The VM left without room.
        vm: VmId,
        /// Its target host.
        host: HostId,
    },
    /// A change names a host outside the snapshot.
    #[error("{vm} names {host}, which does not exist")]
    UnknownHost {
        /// The VM.
        vm: VmId,
        /// The host.
        host: HostId,
    },
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    /// New VM, or a suspended one waiting to be restored.
    Arrive {
        vm: VmId,
        host: HostId,
        size: Resources,
        restore: bool,
    },
    /// Grow (or mixed resize) in place.
    Grow {
        vm: VmId,
        host: HostId,
        from: Resources,
        to: Resources,
    },
    /// Move, possibly growing on the way.
    Move {
        vm: VmId,
        from: HostId,
        to: HostId,
        size_from: Resources,
        size_to: Resources,
    },
}

/// Orders the steps from `hosts` (whose `used` includes every `from`) to the
/// target of `changes`. Deterministic: ties follow the order of `changes`.
pub fn plan(hosts: &[HostView], changes: &[Change]) -> Result<Plan, PlanError> {
    plan_over(|h| hosts.get(h.index()).copied(), changes)
}

/// [`plan`] over a lookup instead of a slice: `host(h)` gives a host as it
/// is before the changes (its `used` includes every `from` on it), or
/// `None` if it does not exist. Only the hosts the changes name are looked
/// up, so planning costs O(c log c) for c changes, whatever the cluster's
/// size.
pub fn plan_over(host: impl Fn(HostId) -> Option<HostView>, changes: &[Change]) -> Result<Plan, PlanError> {
    let mut steps = Vec::new();
    Planner::default().plan_into(host, changes, &mut steps)?;
    Ok(Plan { steps })
}

/// [`plan_over`] for a caller that plans often: it keeps its working lists
/// between plans and appends the steps to the caller's buffer.
#[derive(Debug, Default)]
pub struct Planner {
    /// The hosts the changes name, each with the first VM naming it.
    named: Vec<(HostId, VmId)>,
    hosts: Hosts,
    pending: Vec<Option<Pending>>,
}

impl Planner {
    /// Appends the plan of `changes` to `steps`; see [`plan_over`]. On an
    /// error `steps` is as it was.
    pub fn plan_into(
        &mut self,
        host: impl Fn(HostId) -> Option<HostView>,
        changes: &[Change],
        steps: &mut Vec<Step>,
    ) -> Result<(), PlanError> {
        let start = steps.len();
        let result = self.plan_steps(host, changes, steps);
        if result.is_err() {
            steps.truncate(start);
        }
        self.named.clear();
        self.hosts.0.clear();
        self.pending.clear();
        result
    }

    fn plan_steps(
        &mut self,
        host: impl Fn(HostId) -> Option<HostView>,
        changes: &[Change],
        steps: &mut Vec<Step>,
    ) -> Result<(), PlanError> {
        let named = &mut self.named;
        named.extend(
            changes
                .iter()
                .flat_map(|c| c.from.iter().chain(c.to.iter()).map(move |(h, _)| (*h, c.vm))),
        );
        // Stable: of a host's names, the first change's VM is kept (for the error).
        named.sort_by_key(|(h, _)| *h);
        named.dedup_by_key(|(h, _)| *h);
        let hosts = &mut self.hosts;
        for &(h, vm) in named.iter() {
            let Some(view) = host(h) else {
                return Err(PlanError::UnknownHost { vm, host: h });
            };
            hosts.0.push((h, view.used, view.capacity));
        }
        plan_hosts(hosts, &mut self.pending, changes, steps)
    }
}

/// The planner proper, over the hosts the changes name.
fn plan_hosts(
    hosts: &mut Hosts,
    pending: &mut Vec<Option<Pending>>,
    changes: &[Change],
    steps: &mut Vec<Step>,
) -> Result<(), PlanError> {
    // Phase 1: everything that only frees capacity.
    for c in changes {
        match (c.from, c.to) {
            (Some((host, size)), None) => {
                steps.push(Step::Destroy { vm: c.vm, host, size });
                hosts.free(host, &size);
            }
            (Some((from, mut size_from)), Some((to, size_to))) => {
                if size_to != size_from && size_to.fits_in(&size_from) {
                    steps.push(Step::Resize {
                        vm: c.vm,
                        host: from,
                        from: size_from,
                        to: size_to,
                    });
                    hosts.free(from, &size_from);
                    hosts.take(from, &size_to);
                    size_from = size_to;
                }
                if from != to {
                    pending.push(Some(Pending::Move {
                        vm: c.vm,
                        from,
                        to,
                        size_from,
                        size_to,
                    }));
                } else if size_from != size_to {
                    pending.push(Some(Pending::Grow {
                        vm: c.vm,
                        host: from,
                        from: size_from,
                        to: size_to,
                    }));
                }
            }
            (None, Some((host, size))) => pending.push(Some(Pending::Arrive {
                vm: c.vm,
                host,
                size,
                restore: false,
            })),
            (None, None) => {}
        }
    }

    // Phase 2: the first pending step with room goes next; when none has
    // room, a pending move is suspended to storage.
    //
    // Pending steps are checked lazily. `unchecked` holds those that might
    // have room; `blocked[h]` those known to have none on their target h.
    // A blocked step stays blocked until something frees capacity on its
    // target (a move's source, a mixed resize, a suspend), which puts it
    // back among the unchecked. So the lowest unchecked step with room is
    // the first pending step with room, as in a scan of the whole list,
    // but each step is checked again only when its host changes.
    //
    // Until the first step without room, the steps go in list order (each
    // is the first with room, and nothing is blocked yet): most plans end
    // here, with no set built.
    let mut first_blocked = pending.len();
    for (i, slot) in pending.iter_mut().enumerate() {
        let Some(p) = *slot else { continue };
        if !hosts.room_for(&p) {
            first_blocked = i;
            break;
        }
        *slot = None;
        steps.push(hosts.apply(p).0);
    }
    let mut unchecked: BTreeSet<usize> = (first_blocked..pending.len()).collect();
    let mut blocked: BTreeMap<HostId, Vec<usize>> = BTreeMap::new();
    let mut left = unchecked.len();
    while left > 0 {
        let mut ready = None;
        while let Some(i) = unchecked.pop_first() {
            let Some(p) = pending[i] else { continue };
            if hosts.room_for(&p) {
                ready = Some(i);
                break;
            }
            blocked.entry(p.target()).or_default().push(i);
        }
        if let Some(i) = ready {
            let Some(p) = pending[i].take() else { continue };
            left -= 1;
            let (step, freed) = hosts.apply(p);
            steps.push(step);
            if let Some(h) = freed {
                unchecked.extend(blocked.remove(&h).unwrap_or_default());
            }
            continue;
        }
        // Nothing has room. Suspend a move whose source some blocked step
        // is waiting for; failing that, the first pending move.
        let wanted = |h: HostId| blocked.get(&h).is_some_and(|b| !b.is_empty());
        let moves = || {
            pending.iter().enumerate().filter_map(|(i, p)| match *p {
                Some(Pending::Move { from, .. }) => Some((i, from)),
                _ => None,
            })
        };
        let chosen = moves()
            .find(|&(_, from)| wanted(from))
            .or_else(|| moves().next())
            .map(|(i, _)| i);
        let Some(i) = chosen else {
            let first = pending.iter().flatten().next();
            let (vm, host) = match first {
                Some(Pending::Arrive { vm, host, .. } | Pending::Grow { vm, host, .. }) => (*vm, *host),
                Some(Pending::Move { vm, to, .. }) => (*vm, *to),
                None => break,
            };
            return Err(PlanError::Infeasible { vm, host });
        };
        if let Some(Pending::Move {
            vm,
            from,
            to,
            size_from,
            size_to,
        }) = pending[i]
        {
            steps.push(Step::Suspend {
                vm,
                host: from,
                size: size_from,
            });
            hosts.free(from, &size_from);
            unchecked.extend(blocked.remove(&from).unwrap_or_default());
            // It now waits for room on its target, as the move did, so it
            // stays where it is blocked.
            pending[i] = Some(Pending::Arrive {
                vm,
                host: to,
                size: size_to,
                restore: true,
            });
        }
    }
    Ok(())
}

impl Pending {
    /// The host the step needs room on.
    fn target(&self) -> HostId {
        match *self {
            Pending::Arrive { host, .. } | Pending::Grow { host, .. } => host,
            Pending::Move { to, .. } => to,
        }
    }
}

/// What the planner tracks of the hosts the changes name, in id order:
/// `(host, used, capacity)`.
#[derive(Debug, Default)]
struct Hosts(Vec<(HostId, Resources, Resources)>);

impl Hosts {
    fn slot(&mut self, h: HostId) -> &mut Resources {
        let i = self
            .0
            .binary_search_by_key(&h, |s| s.0)
            .expect("every host a change names was looked up");
        &mut self.0[i].1
    }

    fn free(&mut self, h: HostId, size: &Resources) {
        let used = self.slot(h);
        *used = used.saturating_minus(size);
    }

    fn take(&mut self, h: HostId, size: &Resources) {
        let used = self.slot(h);
        *used = used.plus(size);
    }

    /// True if `size` fits on `h` once `held` (what the VM holds there) is freed.
    fn fits(&self, h: HostId, held: Resources, size: Resources) -> bool {
        self.0.binary_search_by_key(&h, |s| s.0).is_ok_and(|i| {
            self.0[i]
                .1
                .saturating_minus(&held)
                .plus(&size)
                .fits_in(&self.0[i].2)
        })
    }

    fn room_for(&self, p: &Pending) -> bool {
        match *p {
            Pending::Arrive { host, size, .. } => self.fits(host, Resources::ZERO, size),
            Pending::Grow { host, from, to, .. } => self.fits(host, from, to),
            Pending::Move { to, size_to, .. } => self.fits(to, Resources::ZERO, size_to),
        }
    }

    /// Carries out a step that has room; returns it and the host it freed
    /// capacity on, if any.
    fn apply(&mut self, p: Pending) -> (Step, Option<HostId>) {
        match p {
            Pending::Arrive {
                vm,
                host,
                size,
                restore,
            } => {
                self.take(host, &size);
                let step = if restore {
                    Step::Restore { vm, host, size }
                } else {
                    Step::Create { vm, host, size }
                };
                (step, None)
            }
            Pending::Grow { vm, host, from, to } => {
                self.free(host, &from);
                self.take(host, &to);
                // A mixed resize frees what it shrinks.
                let freed = (!from.fits_in(&to)).then_some(host);
                (Step::Resize { vm, host, from, to }, freed)
            }
            Pending::Move {
                vm,
                from,
                to,
                size_from,
                size_to,
            } => {
                self.take(to, &size_to);
                self.free(from, &size_from);
                let step = Step::Migrate {
                    vm,
                    from,
                    to,
                    size_from,
                    size_to,
                };
                (step, Some(from))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::hosts;

    #[test]
    fn steps_read_as_words() {
        let (a, b) = (
            Resources::new(2000, 2048, 500, 20),
            Resources::new(4000, 4096, 500, 20),
        );
        let resize = Step::Resize {
            vm: VmId(0),
            host: HostId(1),
            from: a,
            to: b,
        };
        assert_eq!(
            resize.to_string(),
            "resize vm0 on host1 from {cpu 2000 mcores, mem 2048 MiB, bw 500 Mbps, disk 20 GiB} \
             to {cpu 4000 mcores, mem 4096 MiB, bw 500 Mbps, disk 20 GiB}"
        );
        let migrate = Step::Migrate {
            vm: VmId(3),
            from: HostId(0),
            to: HostId(2),
            size_from: a,
            size_to: a,
        };
        assert_eq!(
            migrate.to_string(),
            "migrate vm3 from host0 to host2 at {cpu 2000 mcores, mem 2048 MiB, bw 500 Mbps, disk 20 GiB}"
        );
    }

    fn r(u: u64) -> Resources {
        Resources([u; 4])
    }

    /// Replays `plan` under sequential semantics and checks capacity after
    /// every step; returns the final used vector.
    fn replay(hs: &[HostView], p: &Plan) -> Vec<u64> {
        let mut used: Vec<Resources> = hs.iter().map(|h| h.used).collect();
        for s in &p.steps {
            if let Some((h, amt)) = s.reserves() {
                used[h.index()] = used[h.index()].plus(&amt);
                assert!(
                    used[h.index()].fits_in(&hs[h.index()].capacity),
                    "over capacity at {s:?}"
                );
            }
            if let Some((h, amt)) = s.frees() {
                used[h.index()] = used[h.index()].checked_minus(&amt).expect("freed more than held");
            }
        }
        used.iter().map(|u| u.0[0]).collect()
    }

    #[test]
    fn a_swap_of_two_full_hosts_needs_one_stop_and_copy() {
        // Host 0 holds A (4), host 1 holds B (4); the target swaps them.
        let hs = hosts(&[4, 4]);
        let changes = [
            Change {
                vm: VmId(1),
                from: Some((HostId(0), r(4))),
                to: Some((HostId(1), r(4))),
            },
            Change {
                vm: VmId(2),
                from: Some((HostId(1), r(4))),
                to: Some((HostId(0), r(4))),
            },
        ];
        let p = plan(&hs, &changes).unwrap();
        assert_eq!(p.stop_copy_migrations(), 1);
        assert_eq!(p.live_migrations(), 1);
        assert_eq!(
            p.steps,
            vec![
                Step::Suspend {
                    vm: VmId(1),
                    host: HostId(0),
                    size: r(4)
                },
                Step::Migrate {
                    vm: VmId(2),
                    from: HostId(1),
                    to: HostId(0),
                    size_from: r(4),
                    size_to: r(4)
                },
                Step::Restore {
                    vm: VmId(1),
                    host: HostId(1),
                    size: r(4)
                },
            ]
        );
        assert_eq!(replay(&hs, &p), vec![4, 4]);
    }

    #[test]
    fn frees_before_it_fills() {
        // Host 0: A (2) destroyed and B (2) shrinks to 1; C (3) is created there.
        let hs = hosts(&[4, 0]);
        let changes = [
            Change {
                vm: VmId(3),
                from: None,
                to: Some((HostId(0), r(3))),
            },
            Change {
                vm: VmId(1),
                from: Some((HostId(0), r(2))),
                to: None,
            },
            Change {
                vm: VmId(2),
                from: Some((HostId(0), r(2))),
                to: Some((HostId(0), r(1))),
            },
        ];
        let p = plan(&hs, &changes).unwrap();
        assert_eq!(p.live_migrations() + p.stop_copy_migrations(), 0);
        assert!(matches!(p.steps.last(), Some(Step::Create { .. })));
        assert_eq!(replay(&hs, &p), vec![4, 0]);
    }

    #[test]
    fn a_chain_of_moves_is_all_live() {
        // A on host 0 must go to host 1, where B must first leave for host 2.
        let hs = hosts(&[4, 4, 0]);
        let changes = [
            Change {
                vm: VmId(1),
                from: Some((HostId(0), r(4))),
                to: Some((HostId(1), r(4))),
            },
            Change {
                vm: VmId(2),
                from: Some((HostId(1), r(4))),
                to: Some((HostId(2), r(4))),
            },
        ];
        let p = plan(&hs, &changes).unwrap();
        assert_eq!((p.live_migrations(), p.stop_copy_migrations()), (2, 0));
        assert_eq!(p.steps[0].vm(), VmId(2));
        assert_eq!(replay(&hs, &p), vec![0, 4, 4]);
    }

    #[test]
    fn suspends_a_move_whose_source_is_wanted() {
        // h0 holds D(2), h1 holds B(4), h2 holds C(2); D and C go to h1, B to
        // h2. Nothing has room. Suspending D (the first move) frees h0, which
        // no step wants; suspending B frees h1 for both D and C, after which
        // B is restored on h2: one stop-and-copy instead of two.
        let hs = hosts(&[2, 4, 2]);
        let mv = |vm, f, t, u| Change {
            vm: VmId(vm),
            from: Some((HostId(f), r(u))),
            to: Some((HostId(t), r(u))),
        };
        let changes = [mv(1, 0, 1, 2), mv(2, 1, 2, 4), mv(3, 2, 1, 2)];
        let p = plan(&hs, &changes).unwrap();
        assert_eq!(
            (p.live_migrations(), p.stop_copy_migrations()),
            (2, 1),
            "{:?}",
            p.steps
        );
        assert_eq!(
            p.steps[0],
            Step::Suspend {
                vm: VmId(2),
                host: HostId(1),
                size: r(4)
            }
        );
        assert_eq!(replay(&hs, &p), vec![0, 4, 4]);
    }

    #[test]
    fn an_infeasible_target_is_an_error() {
        let hs = hosts(&[4]);
        let changes = [Change {
            vm: VmId(9),
            from: None,
            to: Some((HostId(0), r(1))),
        }];
        assert_eq!(
            plan(&hs, &changes),
            Err(PlanError::Infeasible {
                vm: VmId(9),
                host: HostId(0)
            })
        );
        let bad = [Change {
            vm: VmId(9),
            from: None,
            to: Some((HostId(5), r(1))),
        }];
        assert!(matches!(plan(&hs, &bad), Err(PlanError::UnknownHost { .. })));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Puts each sized VM on its chosen host if it fits there, else leaves it absent.
        fn assign(n: usize, picks: &[(u64, usize)]) -> Vec<Option<(HostId, Resources)>> {
            let mut used = vec![0u64; n];
            picks
                .iter()
                .map(|&(size, h)| {
                    let h = h % n;
                    (size > 0 && used[h] + size <= 4).then(|| {
                        used[h] += size;
                        (HostId(h as u32), r(size))
                    })
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// For random feasible current and target placements, the plan
            /// exists, never exceeds a host when replayed step by step,
            /// reaches the target, and moves each VM at most once.
            #[test]
            fn random_feasible_targets_plan_within_capacity(
                n in 1usize..6,
                vms in proptest::collection::vec(((0u64..4, 0usize..6), (0u64..4, 0usize..6)), 0..14),
            ) {
                let from = assign(n, &vms.iter().map(|v| v.0).collect::<Vec<_>>());
                let to = assign(n, &vms.iter().map(|v| v.1).collect::<Vec<_>>());
                let mut used = vec![0u64; n];
                for (h, s) in from.iter().flatten() {
                    used[h.index()] += s.0[0];
                }
                let hs = hosts(&used);
                let changes: Vec<Change> = (0..vms.len())
                    .filter(|&i| from[i] != to[i])
                    .map(|i| Change { vm: VmId(i as u64), from: from[i], to: to[i] })
                    .collect();
                let p = plan(&hs, &changes).expect("a feasible target has a plan");
                let end = replay(&hs, &p);
                let mut want = vec![0u64; n];
                for (h, s) in to.iter().flatten() {
                    want[h.index()] += s.0[0];
                }
                prop_assert_eq!(end, want);
                for c in &changes {
                    let moves = p.steps.iter().filter(|s| s.vm() == c.vm && matches!(s, Step::Migrate { .. } | Step::Suspend { .. })).count();
                    prop_assert!(moves <= 1, "{:?} moved {} times", c.vm, moves);
                }
            }
        }
    }
}
