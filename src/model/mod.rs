//! The hosting model: hosts, slivers, leases, guests, the broker, the site
//! and the cost of migration.
//!
//! Everything here is driven by events and returns commands; nothing reads
//! a clock or touches an event queue (see [`hosting`]).

use slivers_policy::VmId;

use crate::engine::{DenseId, IdSlab};

pub mod broker;
pub mod energy;
pub mod execution;
pub mod fidelity;
pub mod guest;
pub mod hosting;
pub mod migration;
pub mod network;
mod site;
pub mod thermal;

pub use broker::Delegation;
pub use broker::{Broker, BrokerStats, Grant, Outcome, Request};
pub use energy::PowerParams;
pub use execution::{Execution, MigrationCost};
pub use fidelity::{FidelityMeter, FidelitySeries, GuestFidelity, PeriodFidelity, SeriesForm};
pub use guest::{BatchJob, Checkpoints, Quantum, WebSizing};
pub use hosting::{
    BrokerConfig, FederationConfig, GuestConfig, Hosting, HostingConfig, Input, ModelError, Output,
    SiteConfig, WanLink,
};
pub use migration::{
    Availability, CloudSimMigration, LiveMode, MigrationModel, MigrationParams, NonConvergence, PerSite,
};
pub use thermal::{SupplyMode, ThermalConfig, ThermalMeter, ThermalResult, ThermalSample};
/// Values per VM, in VM-id order, with O(1) lookups ([`IdSlab`]).
pub type VmMap<V> = IdSlab<VmId, V>;

impl DenseId for VmId {
    fn number(self) -> u64 {
        self.0
    }
    fn from_number(n: u64) -> Self {
        VmId(n)
    }
}

pub use site::{
    DownCause, GuestAccount, GuestAccounts, GuestUptime, MissedDrain, OpId, OutageStats, Site, SiteStats,
    VmState,
};
