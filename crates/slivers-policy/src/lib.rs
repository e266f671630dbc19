//! Pure policy logic for slivers: identifiers, read-only snapshot views,
//! decisions, the policy traits and the built-in policies.
//!
//! Nothing here knows about time, event queues, command lines or plots. The
//! simulator and the live executor both call exactly this code.
//!
//! * A **provisioning** policy ([`Provisioning`]) runs in the broker and
//!   chooses a *logical* host for each sliver from the inventory sites
//!   delegated to it.
//! * A **site-selection** policy ([`SiteSelection`]) runs in a broker whose
//!   inventory spans several sites and ranks the sites for a new sliver,
//!   before its provisioning policy picks the logical host within one.
//! * A **placement** policy ([`Placement`]) runs in the site authority and
//!   chooses the *physical* host.
//! * The **planner** ([`plan::plan`]) orders the steps that take a site from
//!   one placement to another within capacity.
//!
//! Policy names resolve in one place: the serde enums [`ProvisioningKind`],
//! [`SiteSelectionKind`] and [`PlacementKind`].
//!
//! ```
//! use slivers_policy::{ClusterView, HostId, HostView, PlacementKind, PlaceRequest, Resources, VmId};
//!
//! let hosts: Vec<HostView> = (0..3)
//!     .map(|i| HostView { id: HostId(i), capacity: Resources([2; 4]), used: Resources([i as u64 % 2; 4]) })
//!     .collect();
//! let view = ClusterView::new(&hosts);
//! let req = PlaceRequest { vm: VmId(7), size: Resources([1; 4]), current: None, home: Some(HostId(0)) };
//! // Energy-aware packs the half-full host 1; follow-broker goes home to host 0.
//! assert_eq!(PlacementKind::EnergyAware.build().place(&view, &req), Some(HostId(1)));
//! assert_eq!(PlacementKind::FollowBroker.build().place(&view, &req), Some(HostId(0)));
//! ```

#![warn(missing_docs)]

pub mod consolidation;
pub mod fit;
mod ids;
mod idset;
pub mod index;
mod params;
mod placement;
pub mod plan;
pub mod policies;
mod provisioning;
mod resources;
pub mod site_selection;
pub mod thermal;
mod view;

pub use consolidation::{
    Consolidation, ConsolidationState, Draw, Migration, OverloadKind, PowerModel, Reason, SelectionKind,
};
pub use ids::{BrokerId, GuestId, HostId, SiteId, VmId};
pub use index::{FitKind, HostIndex, IndexError};
pub use params::{MAX_PARAMETERS, ParamError, Parameter, Policy, PolicyKind};
pub use placement::{PlaceRequest, Placement, PlacementKind};
pub use provisioning::{GrowDecision, Provisioning, ProvisioningKind};
pub use resources::{DIM_NAMES, DIMS, Resources};
pub use site_selection::{SiteSelection, SiteSelectionKind, SiteView};
pub use thermal::{
    CoolingState, CopCurve, RackCoefficients, RackLayout, RackSlot, Recirculation, ThermalError, ThermalModel,
};
pub use view::{ClusterView, HostTable, HostView, VmView, VmsView};

/// A policy name that is not one of the built-in policies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {role} policy \"{found}\"; expected one of: {}", valid.join(", "))]
pub struct UnknownPolicy {
    /// "provisioning", "placement" or "site-selection".
    pub role: &'static str,
    /// The name given.
    pub found: String,
    /// The valid names.
    pub valid: Vec<&'static str>,
}

impl UnknownPolicy {
    fn new<const N: usize>(role: &'static str, found: &str, valid: [&'static str; N]) -> Self {
        UnknownPolicy {
            role,
            found: found.to_string(),
            valid: valid.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Pair {
        provisioning: ProvisioningKind,
        placement: PlacementKind,
    }

    #[test]
    fn serde_names_match_the_listed_names() {
        for p in ProvisioningKind::ALL {
            for q in PlacementKind::ALL {
                let text = format!("provisioning = \"{}\"\nplacement = \"{}\"\n", p.name(), q.name());
                let pair: Pair = toml_like(&text);
                assert_eq!((pair.provisioning, pair.placement), (p, q));
                assert_eq!(ProvisioningKind::from_name(p.name()), Ok(p));
                assert_eq!(PlacementKind::from_name(q.name()), Ok(q));
            }
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = ProvisioningKind::from_name("greedy").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown provisioning policy \"greedy\"; expected one of: room-for-growth, migrating, first-fit, best-fit"
        );
        let e = PlacementKind::from_name("spread").unwrap_err();
        assert!(
            e.to_string()
                .contains("follow-broker, energy-aware, first-fit, best-fit, worst-fit")
        );
    }

    /// A two-line `key = "value"` reader, so the test needs no TOML crate.
    fn toml_like(text: &str) -> Pair {
        use serde::de::value::{Error, MapDeserializer};
        let kv = text.lines().map(|l| {
            let (k, v) = l.split_once(" = ").unwrap();
            (k.to_string(), v.trim_matches('"').to_string())
        });
        serde::Deserialize::deserialize(MapDeserializer::<_, Error>::new(kv)).unwrap()
    }
}
