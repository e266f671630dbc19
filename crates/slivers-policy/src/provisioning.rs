//! Broker provisioning: where in its logical inventory a sliver goes.

use serde::{Deserialize, Serialize};

use crate::params::{Parameter, Policy, PolicyKind};
use crate::policies::{BestFitProvisioning, FirstFitProvisioning, Migrating, RoomForGrowth};
use crate::{ClusterView, HostId, Resources};

/// What the broker does with a grown sliver that no longer fits on its
/// logical host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowDecision {
    /// Refuse the resize; the sliver keeps its size.
    Refuse,
    /// Move the sliver to this logical host (a broker migration).
    Move(HostId),
}

/// A broker provisioning policy: pure decisions over the logical inventory.
///
/// The broker itself grants a resize in place whenever it fits, so a policy is
/// only asked about new slivers and about grows that overflow their host.
pub trait Provisioning: Send + Sync {
    /// The logical host for a new sliver of `size`, or `None` to reject it.
    fn place_new(&self, inventory: &ClusterView, size: &Resources) -> Option<HostId>;

    /// A sliver on `from` asks to grow to `new_size`, which does not fit there.
    fn on_grow_overflow(&self, inventory: &ClusterView, from: HostId, new_size: &Resources) -> GrowDecision;
}

/// Every provisioning policy by name. The serde names are the names used in
/// scenario files and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProvisioningKind {
    /// See [`RoomForGrowth`].
    RoomForGrowth,
    /// See [`Migrating`].
    Migrating,
    /// See [`FirstFitProvisioning`].
    FirstFit,
    /// See [`BestFitProvisioning`].
    BestFit,
}

impl ProvisioningKind {
    /// All of them, in the order `slivers policies` lists them.
    pub const ALL: [ProvisioningKind; 4] = [
        ProvisioningKind::RoomForGrowth,
        ProvisioningKind::Migrating,
        ProvisioningKind::FirstFit,
        ProvisioningKind::BestFit,
    ];

    /// The policy object.
    pub fn build(self) -> Box<dyn Provisioning> {
        match self {
            ProvisioningKind::RoomForGrowth => Box::new(RoomForGrowth),
            ProvisioningKind::Migrating => Box::new(Migrating),
            ProvisioningKind::FirstFit => Box::new(FirstFitProvisioning),
            ProvisioningKind::BestFit => Box::new(BestFitProvisioning),
        }
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ProvisioningKind::RoomForGrowth => "room-for-growth",
            ProvisioningKind::Migrating => "migrating",
            ProvisioningKind::FirstFit => "first-fit",
            ProvisioningKind::BestFit => "best-fit",
        }
    }

    /// One line for `slivers policies`.
    pub fn description(self) -> &'static str {
        match self {
            ProvisioningKind::RoomForGrowth => {
                "worst-fit: each new sliver goes to the emptiest logical host, leaving room to grow; a grow that does not fit is refused (paper, sec. 5)"
            }
            ProvisioningKind::Migrating => {
                "room-for-growth, but a grow that does not fit moves the sliver to the emptiest logical host with room (a broker migration)"
            }
            ProvisioningKind::FirstFit => {
                "baseline: the lowest-numbered logical host with room; grows that do not fit are refused"
            }
            ProvisioningKind::BestFit => {
                "baseline: the fullest logical host that still has room; grows that do not fit are refused"
            }
        }
    }

    /// Parses a name, or says which names are valid.
    pub fn from_name(name: &str) -> Result<Self, crate::UnknownPolicy> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| crate::UnknownPolicy::new("provisioning", name, Self::ALL.map(|k| k.name())))
    }
}

impl PolicyKind for ProvisioningKind {
    fn name(self) -> &'static str {
        ProvisioningKind::name(self)
    }

    /// No provisioning policy takes parameters yet.
    fn parameters(self) -> &'static [Parameter] {
        &[]
    }
}

impl Policy<ProvisioningKind> {
    /// The policy object, with the values given.
    pub fn build(&self) -> Box<dyn Provisioning> {
        self.kind().build()
    }
}

impl std::fmt::Display for ProvisioningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
