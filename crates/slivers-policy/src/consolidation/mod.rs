//! Dynamic VM consolidation on measured utilisation (Beloglazov & Buyya,
//! "Optimal online deterministic algorithms and adaptive heuristics for
//! energy and performance efficient dynamic consolidation of virtual
//! machines in cloud data centers", CCPE 2012), as CloudSim's PlanetLab
//! experiment runs it, plus an exact repacker to compare against.
//!
//! The simulator owns a [`ConsolidationState`] and updates it in place each
//! interval; once per interval it calls [`Consolidation::plan`], a pure
//! function of the state (and of a [`Draw`] for random selection), which
//! returns the [`Migration`]s to start.
//!
//! * [`power`]: host power models (linear, SPECpower tables; the HP
//!   ProLiant ML110 G4 and G5 of the experiment).
//! * [`overload`]: is a host overloaded ([`OverloadKind`]: thr, iqr, mad,
//!   lr, lrr).
//! * [`selection`]: which VM leaves an overloaded host ([`SelectionKind`]:
//!   mmt, mc, rs, mu).
//! * [`pabfd`]: where VMs go (power-aware best fit decreasing), also for
//!   the initial placement ([`place_new`]).
//! * [`step`]: one consolidation step: overloaded hosts, then underloaded.
//! * [`mod@repack`]: the exact global repacker.
//! * [`Consolidation`]: the policy by its CloudSim label (`THR-MMT-0.8`).
//!
//! Differences from CloudSim where CloudSim has a bug are listed in the doc
//! comment of the file concerned.

pub mod overload;
pub mod pabfd;
mod policy;
pub mod power;
pub mod repack;
pub mod selection;
mod state;
mod stats;
pub mod step;
mod work;

pub use overload::{HostLoad, OverloadKind};
pub use pabfd::{NewVm, Order, SwitchOnCost, place_new};
pub use policy::{Consolidation, ConsolidationNameError, PlanOptions};
pub use power::{PowerModel, PowerModelError};
pub use repack::{RepackError, RepackLimits, Repacking, repack};
pub use selection::{Draw, SelectionKind};
pub use state::{ConsolidationState, HISTORY_LEN, History, HostState, PlaceBy, Rules, StateError, VmState};

use crate::{HostId, VmId};

/// Why a VM moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Its host is overloaded.
    Overload,
    /// Its host is underloaded and is being emptied to switch off.
    Underload,
    /// The exact repacker moved it.
    Repack,
}

/// One migration to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Migration {
    /// The VM.
    pub vm: VmId,
    /// Its host now.
    pub from: HostId,
    /// Its destination.
    pub to: HostId,
    /// Why.
    pub reason: Reason,
}
