//! The tentative placement a consolidation step edits while it decides:
//! per-host sums and histories of the VMs that would be there, built once
//! per step in O(hosts + VMs) (histories only when the overload detector
//! reads them) and updated per host touched. The simulator's state is never
//! copied or changed.

use super::overload::{HostLoad, OverloadKind};
use super::state::{HISTORY_LEN, History, add_history};
use super::{ConsolidationState, VmState};
use crate::params::Policy;
use crate::{Resources, VmId};

/// A VM as the step sees it: one of the state's, or a new one being placed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'a> {
    pub id: VmId,
    pub reserved: Resources,
    pub demand: f64,
    pub history: &'a History,
    /// The state's VM, if it is one.
    pub vm: Option<&'a VmState>,
}

impl<'a> Item<'a> {
    fn of(vm: &'a VmState) -> Self {
        Item {
            id: vm.id(),
            reserved: vm.reserved(),
            demand: vm.demand_mips(),
            history: vm.history(),
            vm: Some(vm),
        }
    }

    /// True if it is migrating (never a candidate to move).
    pub fn is_migrating(&self) -> bool {
        self.vm.is_some_and(VmState::is_migrating)
    }
}

pub(crate) struct Work<'a> {
    pub state: &'a ConsolidationState,
    /// The state's VMs in id order, then new ones.
    pub items: Vec<Item<'a>>,
    /// Per host: the items that would be on it.
    pub on: Vec<Vec<u32>>,
    reserved: Vec<Resources>,
    demand: Vec<f64>,
    power_now: Vec<f64>,
    max_ram: Vec<u64>,
    hist: Vec<[f64; HISTORY_LEN]>,
    hist_len: Vec<u8>,
    with_history: bool,
}

impl<'a> Work<'a> {
    pub fn new(state: &'a ConsolidationState, with_history: bool) -> Self {
        let items: Vec<Item<'a>> = state.vms().map(Item::of).collect();
        let n = state.hosts().len();
        let mut on = vec![Vec::new(); n];
        for (h, host) in state.hosts().iter().enumerate() {
            on[h] = host
                .vms()
                .iter()
                .filter_map(|id| items.binary_search_by_key(id, |it| it.id).ok())
                .map(|i| i as u32)
                .collect();
        }
        let mut w = Work {
            state,
            items,
            on,
            reserved: vec![Resources::ZERO; n],
            demand: vec![0.0; n],
            power_now: vec![0.0; n],
            max_ram: vec![0; n],
            hist: if with_history {
                vec![[0.0; HISTORY_LEN]; n]
            } else {
                Vec::new()
            },
            hist_len: vec![0; n],
            with_history,
        };
        for h in 0..n {
            w.refresh(h);
        }
        w
    }

    /// Adds a new VM (not in the state) and returns its item index.
    pub fn push_item(&mut self, item: Item<'a>) -> u32 {
        self.items.push(item);
        self.items.len() as u32 - 1
    }

    fn refresh(&mut self, h: usize) {
        let host = &self.state.hosts()[h];
        let (mut reserved, mut demand, mut max_ram) = (Resources::ZERO, 0.0, 0);
        for &i in &self.on[h] {
            let it = &self.items[i as usize];
            reserved = reserved.plus(&it.reserved);
            demand += it.demand;
            max_ram = max_ram.max(it.reserved.memory_mib());
        }
        self.reserved[h] = reserved;
        self.demand[h] = demand;
        self.max_ram[h] = max_ram;
        self.power_now[h] = host.power().watts(self.utilization(h));
        if self.with_history {
            let mut out = [0.0; HISTORY_LEN];
            let mut len = 0;
            for &i in &self.on[h] {
                let it = &self.items[i as usize];
                add_history(&mut out, it.history, it.reserved.0[0] as f64 / host.mips());
                len = len.max(it.history.len());
            }
            self.hist[h] = out;
            self.hist_len[h] = len as u8;
        }
    }

    /// Puts item `i` on host `h`.
    pub fn add(&mut self, h: usize, i: u32) {
        let id = self.items[i as usize].id;
        let items = &self.items;
        let pos = self.on[h].partition_point(|&j| items[j as usize].id < id);
        self.on[h].insert(pos, i);
        self.refresh(h);
    }

    /// Takes item `i` off host `h`.
    pub fn remove(&mut self, h: usize, i: u32) {
        self.on[h].retain(|&j| j != i);
        self.refresh(h);
    }

    pub fn is_empty(&self, h: usize) -> bool {
        self.on[h].is_empty()
    }

    /// Current demand over capacity.
    pub fn utilization(&self, h: usize) -> f64 {
        let mips = self.state.hosts()[h].mips();
        if mips > 0.0 { self.demand[h] / mips } else { 0.0 }
    }

    fn bw(&self, h: usize) -> u64 {
        self.state.hosts()[h].capacity().0[2]
    }

    fn migration_s(&self, h: usize, ram: u64) -> f64 {
        let bw = self.bw(h);
        if bw == 0 {
            0.0
        } else {
            ram as f64 * 16.0 / bw as f64
        }
    }

    /// True if the host, as it would be now, is overloaded.
    pub fn overloaded(&self, h: usize, policy: &Policy<OverloadKind>) -> bool {
        let len = self.hist_len[h] as usize;
        let history = if self.with_history {
            &self.hist[h][HISTORY_LEN - len..]
        } else {
            &[]
        };
        policy.is_overloaded(&HostLoad {
            utilization: self.utilization(h),
            history,
            max_migration_s: self.migration_s(h, self.max_ram[h]),
            interval_s: self.state.interval_s(),
        })
    }

    /// True if the host would be overloaded with `it` added.
    pub fn overloaded_with(&self, h: usize, it: &Item, policy: &Policy<OverloadKind>) -> bool {
        let host = &self.state.hosts()[h];
        let mut hist = [0.0; HISTORY_LEN];
        let mut len = 0;
        if self.with_history {
            hist = self.hist[h];
            add_history(&mut hist, it.history, it.reserved.0[0] as f64 / host.mips());
            len = (self.hist_len[h] as usize).max(it.history.len());
        }
        let mips = host.mips();
        policy.is_overloaded(&HostLoad {
            utilization: if mips > 0.0 {
                (self.demand[h] + it.demand) / mips
            } else {
                0.0
            },
            history: &hist[HISTORY_LEN - len..],
            max_migration_s: self.migration_s(h, self.max_ram[h].max(it.reserved.memory_mib())),
            interval_s: self.state.interval_s(),
        })
    }

    /// True if `it` fits on `h` under the rules, with what would be there.
    pub fn fits(&self, h: usize, it: &Item) -> bool {
        let host = &self.state.hosts()[h];
        host.takes(self.state.rules().place_by, &it.reserved, it.demand)
            && self.state.rules().allows(
                &host.capacity(),
                &self.reserved[h].plus(&it.reserved),
                self.demand[h] + it.demand,
            )
    }

    /// The rise in the host's power if `it` were added; `count_switch_on`:
    /// a host that is off and would be empty costs its whole power after.
    pub fn power_increase(&self, h: usize, it: &Item, count_switch_on: bool) -> f64 {
        let host = &self.state.hosts()[h];
        let mips = host.mips();
        let after = if mips > 0.0 {
            (self.demand[h] + it.demand) / mips
        } else {
            1.0
        };
        let before = if count_switch_on && !host.is_active() && self.is_empty(h) {
            0.0
        } else {
            self.power_now[h]
        };
        host.power().watts(after) - before
    }

    /// The state's VMs on `h` that may move (not migrating), in id order.
    pub fn movable(&self, h: usize) -> Vec<u32> {
        self.on[h]
            .iter()
            .copied()
            .filter(|&i| !self.items[i as usize].is_migrating() && self.items[i as usize].vm.is_some())
            .collect()
    }
}
