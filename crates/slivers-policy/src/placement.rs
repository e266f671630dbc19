//! Site placement: which physical host a granted sliver runs on.

use serde::{Deserialize, Serialize};

use crate::params::{Parameter, Policy, PolicyKind};
use crate::policies::thermal_aware::{ThermalContext, ThermalPlacement};
use crate::policies::{BestFitPlacement, EnergyAware, FirstFitPlacement, FollowBroker, WorstFitPlacement};
use crate::{ClusterView, HostId, Resources, VmId};

/// A sliver the site must put somewhere: new, or grown on lease renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaceRequest {
    /// The VM.
    pub vm: VmId,
    /// The size it must have.
    pub size: Resources,
    /// Where it runs now and at what size, if it exists already.
    pub current: Option<(HostId, Resources)>,
    /// The broker's logical host for it: the placement that is always
    /// feasible. `None` where no broker provisions (a VM-request run).
    pub home: Option<HostId>,
}

impl PlaceRequest {
    /// True if the request fits on `host` in `view`, counting what the VM
    /// already holds there.
    pub fn fits_on(&self, view: &ClusterView, host: HostId) -> bool {
        view.fits(host, self.held_on(host), &self.size)
    }

    /// What the VM holds on `host` now: its current size there, else zero.
    pub fn held_on(&self, host: HostId) -> Resources {
        match self.current {
            Some((h, size)) if h == host => size,
            _ => Resources::ZERO,
        }
    }

    /// The current host, if the grown sliver still fits there.
    pub fn stay_put(&self, view: &ClusterView) -> Option<HostId> {
        self.current.map(|(h, _)| h).filter(|&h| self.fits_on(view, h))
    }

    /// The host to exclude from a search for a new host (the current one).
    pub fn current_host(&self) -> Option<HostId> {
        self.current.map(|(h, _)| h)
    }
}

/// A site placement policy: a pure decision over the site's snapshot.
///
/// Returning `None` means "no host has room where I would put it": the site
/// then migrates VMs toward the broker's logical assignment, which is always
/// feasible (paper, sec. 5).
pub trait Placement: Send + Sync {
    /// The host for `req`.
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId>;
}

/// Every placement policy by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementKind {
    /// See [`FollowBroker`].
    FollowBroker,
    /// See [`EnergyAware`].
    EnergyAware,
    /// See [`FirstFitPlacement`].
    FirstFit,
    /// See [`BestFitPlacement`].
    BestFit,
    /// See [`WorstFitPlacement`].
    WorstFit,
    /// See [`ThermalPlacement`].
    ThermalAware,
}

impl PlacementKind {
    /// All of them, in the order `slivers policies` lists them.
    pub const ALL: [PlacementKind; 6] = [
        PlacementKind::FollowBroker,
        PlacementKind::EnergyAware,
        PlacementKind::FirstFit,
        PlacementKind::BestFit,
        PlacementKind::WorstFit,
        PlacementKind::ThermalAware,
    ];

    /// The policy object. `thermal-aware` built here knows no room (see
    /// [`ThermalPlacement`]); build it with [`Policy::build_with`].
    pub fn build(self) -> Box<dyn Placement> {
        match self {
            PlacementKind::FollowBroker => Box::new(FollowBroker),
            PlacementKind::EnergyAware => Box::new(EnergyAware::default()),
            PlacementKind::FirstFit => Box::new(FirstFitPlacement),
            PlacementKind::BestFit => Box::new(BestFitPlacement),
            PlacementKind::WorstFit => Box::new(WorstFitPlacement),
            PlacementKind::ThermalAware => Box::new(ThermalPlacement { context: None }),
        }
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlacementKind::FollowBroker => "follow-broker",
            PlacementKind::EnergyAware => "energy-aware",
            PlacementKind::FirstFit => "first-fit",
            PlacementKind::BestFit => "best-fit",
            PlacementKind::WorstFit => "worst-fit",
            PlacementKind::ThermalAware => "thermal-aware",
        }
    }

    /// One line for `slivers policies`.
    pub fn description(self) -> &'static str {
        match self {
            PlacementKind::FollowBroker => "physical host = the broker's logical host (paper, sec. 5.1)",
            PlacementKind::EnergyAware => {
                "greedy best-fit packing so idle hosts can be powered down; a grown sliver stays put if it fits (paper, sec. 5)"
            }
            PlacementKind::FirstFit => {
                "the lowest-numbered host with room; a grown sliver stays put if it fits"
            }
            PlacementKind::BestFit => {
                "the fullest host with room (energy-aware's packing without the paper's name); a grown sliver stays put if it fits"
            }
            PlacementKind::WorstFit => "spread: the emptiest host; a grown sliver stays put if it fits",
            PlacementKind::ThermalAware => {
                "the host whose extra power raises the hottest inlet least (heat recirculation, Tang et al. 2008; needs [thermal]); a grown sliver stays put if it fits"
            }
        }
    }

    /// True if the policy needs the broker's logical host
    /// ([`PlaceRequest::home`]), so it cannot run where no broker provisions.
    pub fn needs_broker(self) -> bool {
        matches!(self, PlacementKind::FollowBroker)
    }

    /// True if the policy needs the room's thermal model
    /// ([`ThermalContext`]): a scenario must then have a `[thermal]` table.
    pub fn needs_thermal(self) -> bool {
        matches!(self, PlacementKind::ThermalAware)
    }

    /// Parses a name, or says which names are valid.
    pub fn from_name(name: &str) -> Result<Self, crate::UnknownPolicy> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| crate::UnknownPolicy::new("placement", name, Self::ALL.map(|k| k.name())))
    }
}

/// energy-aware's parameter.
const MAX_UTILIZATION: Parameter = Parameter {
    name: "max_utilization",
    meaning: "the share of each host's capacity it may fill (1: the paper's policy)",
    default: 1.0,
    min: 0.01,
    max: 1.0,
};

impl PolicyKind for PlacementKind {
    fn name(self) -> &'static str {
        PlacementKind::name(self)
    }

    fn parameters(self) -> &'static [Parameter] {
        match self {
            PlacementKind::EnergyAware => &[MAX_UTILIZATION],
            PlacementKind::FollowBroker
            | PlacementKind::FirstFit
            | PlacementKind::BestFit
            | PlacementKind::WorstFit
            | PlacementKind::ThermalAware => &[],
        }
    }
}

impl Policy<PlacementKind> {
    /// The policy object, with the values given.
    pub fn build(&self) -> Box<dyn Placement> {
        match self.kind() {
            PlacementKind::EnergyAware => Box::new(EnergyAware {
                max_utilization: self
                    .value(MAX_UTILIZATION.name)
                    .unwrap_or(MAX_UTILIZATION.default),
            }),
            kind => kind.build(),
        }
    }

    /// [`Self::build`], giving a policy that needs it ([`PlacementKind::needs_thermal`])
    /// the room's thermal model; the others ignore it.
    pub fn build_with(&self, thermal: Option<&ThermalContext>) -> Box<dyn Placement> {
        match self.kind() {
            PlacementKind::ThermalAware => Box::new(ThermalPlacement {
                context: thermal.cloned(),
            }),
            _ => self.build(),
        }
    }
}

impl std::fmt::Display for PlacementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
