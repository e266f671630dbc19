//! One dynamic consolidation step (Beloglazov & Buyya, CCPE 2012, sec. 6;
//! CloudSim's `PowerVmAllocationPolicyMigrationAbstract.optimizeAllocation`):
//!
//! 1. find the overloaded hosts (the overload detector, on every host with
//!    VMs);
//! 2. on each, in id order, select VMs (not migrating) one at a time until
//!    the host is no longer overloaded;
//! 3. place the selected VMs with PABFD, the overloaded hosts excluded; a
//!    VM no host takes stays where it is;
//! 4. repeatedly take the least utilised host (lowest id on ties) that has
//!    VMs, is below 100 %, has no VM migrating in, not all of its VMs
//!    migrating out, and is not excluded; try to place all its VMs that are
//!    not migrating elsewhere with PABFD, over the hosts that had VMs after
//!    step 3 and are not excluded. If all find a host they all migrate (the
//!    host will be empty and can switch off), else none does; the host is
//!    excluded either way, and so are the hosts that receive its VMs.
//!
//! Differences from CloudSim, which are bugs there:
//! * CloudSim means to exclude the hosts that received VMs in step 3 from
//!   the search for underloaded hosts (its comment says so) but adds the
//!   hosts of an empty list; a VM could then be moved twice in one plan.
//!   Here they are excluded.
//! * CloudSim's `areAllVmsMigratingOutOrAnyVmMigratingIn` returns at the
//!   first VM that is not migrating, so a VM migrating in behind it is
//!   missed. Here the test is what its name says.
//! * When a VM selected in step 2 finds no host, CloudSim leaves it off its
//!   source for the rest of the step. Here it is put back.
//! * CloudSim decides which hosts are off (not destinations in step 4) by
//!   their utilisation at the last update, so a host switched on by step 3
//!   still counts as off. Here: the hosts with no VMs after step 3.
//!
//! Every move is checked against the site's rules on its destination with
//! everything already there or planned to arrive (VMs migrating in
//! included), so all the planned migrations may run at once.

use super::overload::OverloadKind;
use super::pabfd::{SwitchOnCost, by_decreasing_demand, decreasing, find_host};
use super::selection::{Draw, SelectionKind};
use super::work::Work;
use super::{ConsolidationState, Migration, Reason, VmState};
use crate::HostId;
use crate::params::Policy;

/// The migrations of one step.
pub(crate) fn plan(
    state: &ConsolidationState,
    overload: &Policy<OverloadKind>,
    selection: SelectionKind,
    switch_on: SwitchOnCost,
    draw: &mut dyn Draw,
) -> Vec<Migration> {
    let mut w = Work::new(state, overload.kind().needs_history());
    let n = state.hosts().len();
    let all: Vec<u32> = (0..n as u32).collect();
    let mut out = Vec::new();

    // 1-2: overloaded hosts and the VMs to take off them.
    let over: Vec<bool> = (0..n)
        .map(|h| !w.is_empty(h) && w.overloaded(h, overload))
        .collect();
    let mut selected: Vec<(u32, usize)> = Vec::new();
    for h in (0..n).filter(|&h| over[h]) {
        let bw = state.hosts()[h].capacity().0[2];
        loop {
            let cands = w.movable(h);
            let vms: Vec<&VmState> = cands.iter().filter_map(|&i| w.items[i as usize].vm).collect();
            let Some(k) = selection.select(&vms, bw, draw) else {
                break;
            };
            w.remove(h, cands[k]);
            selected.push((cands[k], h));
            if !w.overloaded(h, overload) {
                break;
            }
        }
    }

    // 3: place them, overloaded hosts excluded.
    selected.sort_by(|a, b| by_decreasing_demand(&w, a.0, b.0));
    let mut under_excluded = over.clone();
    for (i, from) in selected {
        let it = w.items[i as usize];
        match find_host(&w, &it, &all, &over, overload, switch_on) {
            Some(to) => {
                w.add(to, i);
                under_excluded[to] = true;
                out.push(migration(&w, i, from, to, Reason::Overload));
            }
            None => w.add(from, i),
        }
    }

    // 4: underloaded hosts. Hosts with no VMs now are off: neither sources
    // nor destinations.
    let mut place_excluded = over;
    let mut scan = Vec::new();
    for h in 0..n {
        if w.is_empty(h) {
            place_excluded[h] = true;
            under_excluded[h] = true;
        } else if !place_excluded[h] {
            scan.push(h as u32);
        }
    }
    // The loads of the hosts still candidates cannot change before they are
    // taken (a host that receives VMs is excluded), so one sort will do.
    let mut cands: Vec<(f64, usize)> = (0..n)
        .filter(|&h| !under_excluded[h] && w.utilization(h) < 1.0 && may_empty(&w, h))
        .map(|h| (w.utilization(h), h))
        .collect();
    cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (_, u) in cands {
        if under_excluded[u] {
            continue;
        }
        under_excluded[u] = true;
        place_excluded[u] = true;
        let mut vms = w.movable(u);
        if vms.is_empty() {
            continue;
        }
        decreasing(&w, &mut vms);
        let mut placed: Vec<(u32, usize)> = Vec::with_capacity(vms.len());
        for &i in &vms {
            let it = w.items[i as usize];
            match find_host(&w, &it, &scan, &place_excluded, overload, switch_on) {
                Some(to) => {
                    w.add(to, i);
                    placed.push((i, to));
                }
                None => break,
            }
        }
        if placed.len() < vms.len() {
            for (i, to) in placed {
                w.remove(to, i);
            }
            continue;
        }
        for (i, to) in placed {
            w.remove(u, i);
            under_excluded[to] = true;
            out.push(migration(&w, i, u, to, Reason::Underload));
        }
    }
    out
}

/// A host whose VMs could all leave: no VM migrating in, and at least one
/// VM not migrating.
fn may_empty(w: &Work, h: usize) -> bool {
    let id = HostId(h as u32);
    let mut any_staying = false;
    for &i in &w.on[h] {
        match w.items[i as usize].vm {
            Some(vm) if vm.migrating_to() == Some(id) => return false,
            Some(vm) if vm.is_migrating() => {}
            _ => any_staying = true,
        }
    }
    any_staying
}

fn migration(w: &Work, i: u32, from: usize, to: usize, reason: Reason) -> Migration {
    Migration {
        vm: w.items[i as usize].id,
        from: HostId(from as u32),
        to: HostId(to as u32),
        reason,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::consolidation::repack::{RepackLimits, repack};
    use crate::consolidation::state::tests::{host_cap, vm_res};
    use crate::consolidation::{Consolidation, History, NewVm, Order, PlaceBy, PowerModel, Rules, place_new};
    use crate::{Resources, VmId};
    use proptest::prelude::*;

    /// A deterministic `Draw` and generator for the tests.
    pub struct Lcg(pub u64);

    impl Lcg {
        pub fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n.max(1)
        }

        pub fn unit(&mut self) -> f64 {
            self.next(1 << 20) as f64 / (1u64 << 20) as f64
        }
    }

    impl Draw for Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.next(n)
        }
    }

    const VM_TYPES: [(u64, u64); 4] = [(2500, 870), (2000, 1740), (1000, 1740), (500, 613)];

    /// A PlanetLab-like site: G4 (3720 MIPS) and G5 (5320 MIPS) hosts with
    /// 4096 MiB and 1 Gbit/s; VMs of CloudSim's four types placed with
    /// PABFD, each with a random history of up to 30 values around
    /// `mean`; then a last value with spikes, and a few migrations under way.
    pub fn planetlab(
        g: &mut Lcg,
        n_hosts: usize,
        n_vms: usize,
        mean: f64,
        rules: Rules,
    ) -> ConsolidationState {
        let mut s = ConsolidationState::new(rules, 300.0).unwrap();
        for h in 0..n_hosts {
            let (mips, power) = if h % 2 == 0 {
                (3720, PowerModel::hp_proliant_ml110_g4())
            } else {
                (5320, PowerModel::hp_proliant_ml110_g5())
            };
            s.add_host(host_cap(mips), power, g.next(4) != 0);
        }
        let mut histories = Vec::new();
        let mut specs = Vec::new();
        for i in 0..n_vms {
            let (mips, ram) = VM_TYPES[g.next(4) as usize];
            let len = g.next(31) as usize;
            let mut u = (mean * 2.0 * g.unit()).min(1.0);
            let mut h = Vec::with_capacity(len);
            for _ in 0..len {
                u = (u + (g.unit() - 0.5) * 0.2).clamp(0.0, 1.0);
                h.push(u);
            }
            histories.push(History::from_values(&h));
            specs.push((
                VmId(i as u64),
                vm_res(mips, ram),
                mips as f64 * h.last().copied().unwrap_or(u),
            ));
        }
        let new: Vec<NewVm> = specs
            .iter()
            .zip(&histories)
            .map(|(&(id, reserved, demand_mips), history)| NewVm {
                id,
                reserved,
                demand_mips,
                history,
            })
            .collect();
        let thr = Policy::new(OverloadKind::Thr);
        let placed = place_new(&s, &new, &thr, SwitchOnCost::Ignored, Order::DecreasingDemand);
        for ((v, hist), host) in new.iter().zip(&histories).zip(placed) {
            let Some(host) = host else { continue };
            s.add_vm(v.id, v.reserved, host).unwrap();
            for u in hist.iter() {
                s.record(v.id, u * v.reserved.0[0] as f64).unwrap();
            }
            // A spike now and then.
            if g.next(8) == 0 {
                s.record(v.id, v.reserved.0[0] as f64 * (0.5 + 0.5 * g.unit()))
                    .unwrap();
            }
        }
        let ids: Vec<VmId> = s.vms().map(|v| v.id()).collect();
        for id in ids {
            if g.next(20) == 0 {
                let to = HostId(g.next(n_hosts as u64) as u32);
                let _ = s.start_migration(id, to);
            }
        }
        s
    }

    /// Checks a plan against the state: each VM once, from its host, not
    /// migrating; every destination within the rules with everything there
    /// and everything planned to arrive.
    pub fn check_feasible(s: &ConsolidationState, plan: &[Migration]) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        let n = s.hosts().len();
        let mut reserved: Vec<Resources> = (0..n).map(|h| s.host_reserved(HostId(h as u32))).collect();
        let mut demand: Vec<f64> = (0..n).map(|h| s.host_demand_mips(HostId(h as u32))).collect();
        let mut dest = vec![false; n];
        for m in plan {
            let vm = s.vm(m.vm).ok_or(format!("{} unknown", m.vm))?;
            if !seen.insert(m.vm) {
                return Err(format!("{} moves twice", m.vm));
            }
            if vm.is_migrating() || vm.host() != m.from || m.from == m.to {
                return Err(format!("bad move {m:?}"));
            }
            let t = m.to.index();
            reserved[t] = reserved[t].plus(&vm.reserved());
            demand[t] += vm.demand_mips();
            dest[t] = true;
        }
        for h in (0..n).filter(|&h| dest[h]) {
            if !s
                .rules()
                .allows(&s.hosts()[h].capacity(), &reserved[h], demand[h])
            {
                return Err(format!("host{h} over its rules: {} / {}", reserved[h], demand[h]));
            }
        }
        Ok(())
    }

    fn dynamic(label: &str) -> Consolidation {
        Consolidation::from_name(label).unwrap()
    }

    #[test]
    fn overloaded_host_sheds_its_smallest_memory_vm() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let g4 = PowerModel::hp_proliant_ml110_g4();
        let a = s.add_host(host_cap(1000), g4, true);
        let b = s.add_host(host_cap(1000), g4, true);
        s.add_vm(VmId(1), vm_res(500, 1000), a).unwrap();
        s.add_vm(VmId(2), vm_res(500, 500), a).unwrap();
        s.add_vm(VmId(3), vm_res(500, 500), b).unwrap();
        s.record(VmId(1), 450.0).unwrap();
        s.record(VmId(2), 450.0).unwrap(); // a at 90 %
        s.record(VmId(3), 300.0).unwrap(); // b at 30 %
        let plan = dynamic("THR-MMT-0.8").plan(&s, &mut Lcg(1)).unwrap();
        // VM 2 (less memory) leaves a for b (75 %); then b is not underloaded
        // (it received), a (45 %) has nowhere to go: b would be 120 %.
        assert_eq!(
            plan,
            vec![Migration {
                vm: VmId(2),
                from: a,
                to: b,
                reason: Reason::Overload
            }]
        );
        // MU picks by utilisation share: both 0.9, so the lower id, VM 1.
        let plan = dynamic("THR-MU-0.8").plan(&s, &mut Lcg(1)).unwrap();
        assert_eq!(plan[0].vm, VmId(1));
        check_feasible(&s, &plan).unwrap();
    }

    #[test]
    fn underloaded_hosts_are_emptied_least_utilised_first() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let g4 = PowerModel::hp_proliant_ml110_g4();
        let hosts: Vec<HostId> = (0..3).map(|_| s.add_host(host_cap(1000), g4, true)).collect();
        for (i, (&h, d)) in hosts.iter().zip([300.0, 100.0, 200.0]).enumerate() {
            s.add_vm(VmId(i as u64), vm_res(500, 500), h).unwrap();
            s.record(VmId(i as u64), d).unwrap();
        }
        let plan = dynamic("THR-MMT-0.8").plan(&s, &mut Lcg(1)).unwrap();
        // Host 1 (10 %) first: its VM goes where the power rises least:
        // host 0 at 30 -> 40 % costs 3.5 W, host 2 at 20 -> 30 % 3.4 W: host
        // 2, which is then excluded as a source. Host 0 (30 %) next: its VM
        // joins host 2 (now 30 %, then 60 %; host 1 is emptied, not a
        // destination).
        check_feasible(&s, &plan).unwrap();
        assert_eq!(plan.len(), 2, "{plan:?}");
        assert!(plan.iter().all(|m| m.reason == Reason::Underload));
        assert_eq!((plan[0].vm, plan[0].to), (VmId(1), hosts[2]));
        assert_eq!((plan[1].vm, plan[1].to), (VmId(0), hosts[2]));
    }

    #[test]
    fn migrating_vms_stay_and_hosts_receiving_them_are_not_emptied() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let g4 = PowerModel::hp_proliant_ml110_g4();
        let a = s.add_host(host_cap(1000), g4, true);
        let b = s.add_host(host_cap(1000), g4, true);
        let c = s.add_host(host_cap(1000), g4, true);
        s.add_vm(VmId(1), vm_res(500, 500), a).unwrap();
        s.add_vm(VmId(2), vm_res(500, 500), b).unwrap();
        s.add_vm(VmId(3), vm_res(500, 500), c).unwrap();
        for (v, d) in [(1, 100.0), (2, 150.0), (3, 400.0)] {
            s.record(VmId(v), d).unwrap();
        }
        s.start_migration(VmId(1), b).unwrap();
        let plan = dynamic("THR-MMT-0.8").plan(&s, &mut Lcg(1)).unwrap();
        check_feasible(&s, &plan).unwrap();
        // a: its only VM migrates out; b: a VM migrates in. Only c may be
        // emptied, and its VM has room on b (25 % + 40 %).
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert_eq!((plan[0].vm, plan[0].from), (VmId(3), c));
    }

    #[test]
    fn a_host_that_cannot_be_emptied_keeps_all_its_vms() {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let g4 = PowerModel::hp_proliant_ml110_g4();
        let a = s.add_host(host_cap(1000), g4, true);
        let b = s.add_host(host_cap(1000), g4, true);
        s.add_vm(VmId(1), vm_res(500, 500), a).unwrap();
        s.add_vm(VmId(2), vm_res(500, 500), a).unwrap();
        s.add_vm(VmId(3), vm_res(500, 3500), b).unwrap();
        for (v, d) in [(1, 100.0), (2, 100.0), (3, 500.0)] {
            s.record(VmId(v), d).unwrap();
        }
        // a (20 %) first: one of its VMs fits on b (3500 + 500 MiB of 4096)
        // but not both, so neither moves. Then b (50 %): its 3500 MiB do not
        // fit on a (1000 used).
        let plan = dynamic("THR-MMT-0.8").plan(&s, &mut Lcg(1)).unwrap();
        assert_eq!(plan, vec![]);
        let _ = (a, b);
    }

    #[test]
    fn the_paper_policies_plan_feasibly_and_deterministically() {
        let mut g = Lcg(3);
        let s = planetlab(&mut g, 40, 60, 0.3, Rules::default());
        for c in Consolidation::paper_set() {
            if c == Consolidation::Exact {
                continue;
            }
            let p1 = c.plan(&s, &mut Lcg(11)).unwrap();
            let p2 = c.plan(&s, &mut Lcg(11)).unwrap();
            assert_eq!(p1, p2, "{c}");
            check_feasible(&s, &p1).unwrap_or_else(|e| panic!("{c}: {e}"));
            if c.migrates() {
                assert!(!p1.is_empty(), "{c} moved nothing");
            } else {
                assert!(p1.is_empty());
            }
        }
    }

    /// Hosts with a VM once `plan` is applied.
    fn hosts_used_after(s: &ConsolidationState, plan: &[Migration]) -> usize {
        let mut used = vec![false; s.hosts().len()];
        for vm in s.vms() {
            let h = plan.iter().find(|m| m.vm == vm.id()).map_or(vm.host(), |m| m.to);
            used[h.index()] = true;
            if let Some(t) = vm.migrating_to() {
                used[t.index()] = true;
            }
        }
        used.iter().filter(|&&u| u).count()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn plans_never_break_the_rules(
            seed in any::<u64>(),
            n_hosts in 1usize..16,
            n_vms in 0usize..45,
            mean in 0.05f64..0.6,
            by_reservation in any::<bool>(),
            overbook in 1.0f64..2.0,
            which in 0usize..20,
        ) {
            let rules = Rules {
                place_by: if by_reservation { PlaceBy::Reservation } else { PlaceBy::Use },
                overbooking: [overbook, 1.0, 1.0, 1.0],
            };
            let mut g = Lcg(seed);
            let s = planetlab(&mut g, n_hosts, n_vms, mean, rules);
            let c = Consolidation::paper_set()[2 + which];
            for switch_on in [SwitchOnCost::Ignored, SwitchOnCost::Counted] {
                let options = crate::consolidation::PlanOptions { switch_on, ..Default::default() };
                let plan = c.plan_with(&s, &mut Lcg(seed ^ 1), &options).unwrap();
                if let Err(e) = check_feasible(&s, &plan) {
                    return Err(TestCaseError::fail(format!("{c}: {e}")));
                }
            }
        }

        #[test]
        fn the_heuristic_never_beats_the_exact_repacker(
            seed in any::<u64>(),
            n_hosts in 1usize..7,
            n_vms in 0usize..10,
            which in 0usize..20,
        ) {
            let rules = Rules { place_by: PlaceBy::Reservation, ..Rules::default() };
            let mut g = Lcg(seed);
            let mut s = ConsolidationState::new(rules, 300.0).unwrap();
            for _ in 0..n_hosts {
                s.add_host(host_cap(3720), PowerModel::hp_proliant_ml110_g4(), true);
            }
            for i in 0..n_vms {
                let (mips, ram) = VM_TYPES[g.next(4) as usize];
                let id = VmId(i as u64);
                // Wherever it fits now (a feasible current placement).
                let Some(h) = (0..n_hosts as u32).map(HostId).find(|&h| {
                    let host = s.host(h).unwrap();
                    rules.allows(&host.capacity(), &s.host_reserved(h).plus(&vm_res(mips, ram)), 0.0)
                }) else { continue };
                s.add_vm(id, vm_res(mips, ram), h).unwrap();
                for _ in 0..g.next(20) {
                    s.record(id, mips as f64 * g.unit()).unwrap();
                }
            }
            let exact = repack(&s, &RepackLimits::default()).unwrap();
            let c = Consolidation::paper_set()[2 + which];
            let plan = c.plan(&s, &mut Lcg(seed)).unwrap();
            prop_assert!(check_feasible(&s, &plan).is_ok());
            prop_assert!(hosts_used_after(&s, &plan) >= exact.hosts_used);
            let exact_plan = Consolidation::Exact.plan(&s, &mut Lcg(0)).unwrap();
            prop_assert_eq!(hosts_used_after(&s, &exact_plan), exact.hosts_used);
        }
    }

    /// One plan on a PlanetLab-sized site (800 hosts, 1,052 VMs, mean
    /// utilisation 12 %), timed. `cargo test -p slivers-policy -- --ignored
    /// plan_timing --nocapture`.
    #[test]
    #[ignore]
    fn plan_timing() {
        let mut g = Lcg(2012);
        let s = planetlab(&mut g, 800, 1052, 0.12, Rules::default());
        for c in Consolidation::paper_set() {
            if c == Consolidation::Exact {
                continue;
            }
            let start = std::time::Instant::now();
            let runs = 5;
            let mut n = 0;
            for r in 0..runs {
                n = c.plan(&s, &mut Lcg(r)).unwrap().len();
            }
            let per = start.elapsed() / runs as u32;
            println!("{c:<14} {n:>4} migrations  {per:?} per plan");
        }
    }
}
