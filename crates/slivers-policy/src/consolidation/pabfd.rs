//! Power-aware best fit decreasing (PABFD; Beloglazov & Buyya, CCPE 2012,
//! Algorithm 1; CloudSim's `findHostForGuest`): VMs in decreasing order of
//! current CPU demand, each to the host whose power rises least, among the
//! hosts that are not excluded, where it fits under the site's rules, and
//! that the overload detector would not find overloaded with it. A host
//! with nothing on it is never refused as overloaded (CloudSim skips the
//! check when a host uses no CPU), so a VM bigger than the threshold can
//! still be placed. Ties go to the lowest host id.
//!
//! **A switched-off host's power increase.** CloudSim counts the power at
//! the new utilisation less the power at the current one, and the power of
//! an empty host at 0 % is its idle power, so switching a host on looks as
//! cheap as adding the same load to a running host ([`SwitchOnCost::Ignored`],
//! the default, for reproduction). [`SwitchOnCost::Counted`] charges an
//! inactive empty host its whole power after the placement (idle included),
//! which favours running hosts.
//!
//! Difference from CloudSim (its issue #167): it takes a host's power
//! "now" from the last update, ignoring VMs placed earlier in the same
//! step; here each placement sees the ones before it.
//!
//! The same function places all VMs at t = 0 ([`place_new`]); CloudSim
//! places them in id order ([`Order::AsGiven`]), each asking for its full
//! MIPS, and its adaptive detectors have no history then, so they use their
//! fallback threshold. CloudSim also checks a VM's MIPS against one core's
//! (a 2500 MIPS VM fits only a G5); this crate has no per-core check.

use super::ConsolidationState;
use super::overload::OverloadKind;
use super::state::History;
use super::work::{Item, Work};
use crate::params::Policy;
use crate::{HostId, Resources, VmId};

/// How PABFD counts the power increase of a host that is switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SwitchOnCost {
    /// As CloudSim: power after less power at 0 % (its idle power), as if
    /// the idle power were already being paid.
    #[default]
    Ignored,
    /// The whole power after, idle included: an inactive empty host costs
    /// its idle power to switch on.
    Counted,
}

/// The order in which [`place_new`] takes the VMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Order {
    /// By decreasing current CPU demand, then id (PABFD).
    #[default]
    DecreasingDemand,
    /// As given (CloudSim places the initial VMs in submission order).
    AsGiven,
}

/// A VM to place that is not in the state yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewVm<'a> {
    /// Its id.
    pub id: VmId,
    /// What it reserves.
    pub reserved: Resources,
    /// Its current CPU demand, MIPS.
    pub demand_mips: f64,
    /// Its utilisation history (empty for a new VM).
    pub history: &'a History,
}

/// The host for item `it`: the least power increase over the hosts of
/// `scan` (in id order) not `excluded`, where it fits and would not be
/// overloaded.
pub(crate) fn find_host(
    w: &Work,
    it: &Item,
    scan: &[u32],
    excluded: &[bool],
    overload: &Policy<OverloadKind>,
    switch_on: SwitchOnCost,
) -> Option<usize> {
    let counted = switch_on == SwitchOnCost::Counted;
    let mut best: Option<(usize, f64)> = None;
    for &h in scan {
        let h = h as usize;
        if excluded[h] {
            continue;
        }
        // The cheap test first: only a host that would beat the best so far
        // needs the fit and overload checks (the result is the same).
        let rise = w.power_increase(h, it, counted);
        if best.is_some_and(|(_, b)| rise >= b) {
            continue;
        }
        if !w.fits(h, it) || (!w.is_empty(h) && w.overloaded_with(h, it, overload)) {
            continue;
        }
        best = Some((h, rise));
    }
    best.map(|(h, _)| h)
}

/// The indices of `items` sorted by decreasing demand, then id.
pub(crate) fn decreasing(w: &Work, items: &mut [u32]) {
    items.sort_by(|&a, &b| by_decreasing_demand(w, a, b));
}

/// Items `a` and `b` by decreasing demand, then id.
pub(crate) fn by_decreasing_demand(w: &Work, a: u32, b: u32) -> std::cmp::Ordering {
    let (a, b) = (&w.items[a as usize], &w.items[b as usize]);
    b.demand.total_cmp(&a.demand).then(a.id.cmp(&b.id))
}

/// Places VMs that are not in the state yet (all VMs at t = 0, or new
/// arrivals) on the state's hosts with PABFD, each counting the ones placed
/// before it; no host is excluded. Returns each VM's host, in the order
/// given, `None` where no host fits.
pub fn place_new(
    state: &ConsolidationState,
    vms: &[NewVm],
    overload: &Policy<OverloadKind>,
    switch_on: SwitchOnCost,
    order: Order,
) -> Vec<Option<HostId>> {
    let mut w = Work::new(state, overload.kind().needs_history());
    let first = w.items.len() as u32;
    for v in vms {
        w.push_item(Item {
            id: v.id,
            reserved: v.reserved,
            demand: v.demand_mips,
            history: v.history,
            vm: None,
        });
    }
    let mut idx: Vec<u32> = (first..first + vms.len() as u32).collect();
    if order == Order::DecreasingDemand {
        decreasing(&w, &mut idx);
    }
    let scan: Vec<u32> = (0..state.hosts().len() as u32).collect();
    let excluded = vec![false; scan.len()];
    let mut out = vec![None; vms.len()];
    for i in idx {
        let it = w.items[i as usize];
        if let Some(h) = find_host(&w, &it, &scan, &excluded, overload, switch_on) {
            w.add(h, i);
            out[(i - first) as usize] = Some(HostId(h as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consolidation::state::tests::{host_cap, vm_res};
    use crate::consolidation::{PowerModel, Rules};

    fn new_vm(id: u64, mips: u64, ram: u64, demand: f64, h: &History) -> NewVm<'_> {
        NewVm {
            id: VmId(id),
            reserved: vm_res(mips, ram),
            demand_mips: demand,
            history: h,
        }
    }

    #[test]
    fn least_power_increase_where_it_fits_and_stays_under_the_threshold() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let g4 = PowerModel::hp_proliant_ml110_g4();
        let g5 = PowerModel::hp_proliant_ml110_g5();
        let a = s.add_host(host_cap(1000), g4, true);
        let b = s.add_host(host_cap(1000), g4, true);
        let c = s.add_host(host_cap(1000), g5, true);
        s.add_vm(VmId(1), vm_res(1000, 1000), a).unwrap();
        s.record(VmId(1), 500.0).unwrap(); // host a at 50 %
        let empty = History::new();
        let thr = Policy::new(OverloadKind::Thr);
        // 200 MIPS: a 50 -> 70 % costs 102 -> 108 = 6 W; b 0 -> 20 % costs
        // 86 -> 92.6 = 6.6 W; c (G5) 93.7 -> 101 = 7.3 W. Host a.
        let small = [new_vm(2, 1000, 100, 200.0, &empty)];
        assert_eq!(
            place_new(&s, &small, &thr, SwitchOnCost::Ignored, Order::AsGiven),
            vec![Some(a)]
        );
        // 400 MIPS would take a to 90 % > 0.8: b (0 -> 40 %: 13.5 W) beats
        // c (16.3 W).
        let big = [new_vm(2, 1000, 100, 400.0, &empty)];
        assert_eq!(
            place_new(&s, &big, &thr, SwitchOnCost::Ignored, Order::AsGiven),
            vec![Some(b)]
        );
        // Switching on is only counted for inactive hosts: all are active.
        assert_eq!(
            place_new(&s, &big, &thr, SwitchOnCost::Counted, Order::AsGiven),
            vec![Some(b)]
        );
        s.set_active(b, false).unwrap();
        s.set_active(c, false).unwrap();
        // b off: 0 -> 99.5 W, c off: 0 -> 110 W: still b, the cheaper.
        assert_eq!(
            place_new(&s, &big, &thr, SwitchOnCost::Counted, Order::AsGiven),
            vec![Some(b)]
        );
        // 200 MIPS: a (6 W) against b counted at 92.6 W.
        assert_eq!(
            place_new(&s, &small, &thr, SwitchOnCost::Counted, Order::AsGiven),
            vec![Some(a)]
        );
        // a at 75 %: 200 more MIPS would overload it; b (92.6 W) beats c (101 W).
        s.record(VmId(1), 750.0).unwrap();
        assert_eq!(
            place_new(&s, &small, &thr, SwitchOnCost::Counted, Order::AsGiven),
            vec![Some(b)]
        );
    }

    #[test]
    fn decreasing_order_and_refusals() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let g4 = PowerModel::hp_proliant_ml110_g4();
        let a = s.add_host(host_cap(1000), g4, true);
        let b = s.add_host(host_cap(1000), g4, true);
        let e = History::new();
        let thr = Policy::new(OverloadKind::Thr);
        // 300, then 600, then 2000 (fits nowhere). Decreasing: 600 to a (the
        // first of two equal hosts), 300 to a would be 90 %: b.
        let vms = [
            new_vm(1, 1000, 100, 300.0, &e),
            new_vm(2, 1000, 100, 600.0, &e),
            new_vm(3, 2000, 100, 2000.0, &e),
        ];
        let got = place_new(&s, &vms, &thr, SwitchOnCost::Ignored, Order::DecreasingDemand);
        assert_eq!(got, vec![Some(b), Some(a), None]);
        // As given: 300 to a, then 600 to a would be 90 %: b.
        let got = place_new(&s, &vms, &thr, SwitchOnCost::Ignored, Order::AsGiven);
        assert_eq!(got, vec![Some(a), Some(b), None]);
        // An empty host takes a VM above the threshold.
        let one = [new_vm(4, 1000, 100, 900.0, &e)];
        assert_eq!(
            place_new(&s, &one, &thr, SwitchOnCost::Ignored, Order::AsGiven),
            vec![Some(a)]
        );
    }
}
