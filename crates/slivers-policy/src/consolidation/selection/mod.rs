//! VM selection: which VM to move off an overloaded host next.
//!
//! Four policies, as in Beloglazov & Buyya (CCPE 2012) and CloudSim's
//! `selectionPolicies`, one file each. The candidates are the host's VMs
//! that are not migrating, in id order; every policy breaks ties by the
//! lowest VM id (CloudSim keeps the first of its guest list, which is in
//! creation order).

mod mc;
mod mmt;
mod mu;
mod rs;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::VmState;

/// A source of uniform random integers: the simulator implements it from
/// its seeded ChaCha (this crate has no random number generator).
pub trait Draw {
    /// A uniform integer in `0..n` (`n >= 1`).
    fn below(&mut self, n: u64) -> u64;
}

/// Every VM selection policy by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionKind {
    /// Minimum migration time ("MMT").
    Mmt,
    /// Maximum correlation ("MC").
    Mc,
    /// Random selection ("RS").
    Rs,
    /// Minimum utilisation ("MU").
    Mu,
}

impl SelectionKind {
    /// All of them, in the paper's order.
    pub const ALL: [SelectionKind; 4] = [
        SelectionKind::Mmt,
        SelectionKind::Mc,
        SelectionKind::Rs,
        SelectionKind::Mu,
    ];

    /// The name in files and labels (lower case).
    pub fn name(self) -> &'static str {
        match self {
            SelectionKind::Mmt => "mmt",
            SelectionKind::Mc => "mc",
            SelectionKind::Rs => "rs",
            SelectionKind::Mu => "mu",
        }
    }

    /// One line for `slivers policies`.
    pub fn description(self) -> &'static str {
        match self {
            SelectionKind::Mmt => {
                "minimum migration time: the VM with the least memory to copy over the host's link"
            }
            SelectionKind::Mc => {
                "maximum correlation: the VM whose utilisation history the other candidates' histories explain best (R^2); too little history: mmt"
            }
            SelectionKind::Rs => "random selection: a uniformly drawn candidate (the run's seeded generator)",
            SelectionKind::Mu => "minimum utilisation: the VM using the smallest share of its reserved CPU",
        }
    }

    /// Parses a name (lower case), or says which names are valid.
    pub fn from_name(name: &str) -> Result<Self, crate::UnknownPolicy> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| crate::UnknownPolicy::new("VM selection", name, Self::ALL.map(|k| k.name())))
    }

    /// The index in `candidates` (VMs not migrating, in id order) of the VM
    /// to move, `None` if there is none. `host_bw_mbps` is the host's
    /// bandwidth.
    pub fn select(self, candidates: &[&VmState], host_bw_mbps: u64, draw: &mut dyn Draw) -> Option<usize> {
        if candidates.is_empty() {
            return None;
        }
        Some(match self {
            SelectionKind::Mmt => mmt::select(candidates, host_bw_mbps),
            SelectionKind::Mc => {
                mc::select(candidates).unwrap_or_else(|| mmt::select(candidates, host_bw_mbps))
            }
            SelectionKind::Rs => rs::select(candidates, draw),
            SelectionKind::Mu => mu::select(candidates),
        })
    }
}

impl fmt::Display for SelectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The index of the smallest `key`, the first on ties (candidates are in
/// id order). `candidates` is not empty.
fn argmin(candidates: &[&VmState], key: impl Fn(&VmState) -> f64) -> usize {
    let mut best = (0, key(candidates[0]));
    for (i, vm) in candidates.iter().enumerate().skip(1) {
        let k = key(vm);
        if k < best.1 {
            best = (i, k);
        }
    }
    best.0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::consolidation::{ConsolidationState, PowerModel, Rules};
    use crate::{HostId, Resources, VmId};

    /// A `Draw` that returns the values given, in turn, modulo n.
    pub struct Fixed(pub Vec<u64>, pub usize);

    impl Draw for Fixed {
        fn below(&mut self, n: u64) -> u64 {
            let v = self.0[self.1 % self.0.len()];
            self.1 += 1;
            v % n
        }
    }

    /// One host with VMs `(id, mips, ram, history)`; the demand is the last
    /// history value times the MIPS.
    pub fn state_with(vms: &[(u64, u64, u64, &[f64])]) -> ConsolidationState {
        let mut s = ConsolidationState::new(Rules::default(), 300.0).unwrap();
        let h = s.add_host(
            Resources::new(10_000, 16_384, 1000, 1000),
            PowerModel::hp_proliant_ml110_g4(),
            true,
        );
        for &(id, mips, ram, hist) in vms {
            s.add_vm(VmId(id), Resources::new(mips, ram, 100, 1), h).unwrap();
            for u in hist {
                s.record(VmId(id), u * mips as f64).unwrap();
            }
        }
        assert_eq!(h, HostId(0));
        s
    }

    #[test]
    fn names_and_empty_candidates() {
        assert_eq!(SelectionKind::from_name("mu"), Ok(SelectionKind::Mu));
        assert!(
            SelectionKind::from_name("max")
                .unwrap_err()
                .to_string()
                .ends_with("mmt, mc, rs, mu")
        );
        for k in SelectionKind::ALL {
            assert_eq!(k.select(&[], 1000, &mut Fixed(vec![0], 0)), None);
        }
    }
}
