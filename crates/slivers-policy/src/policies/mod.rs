//! The built-in policies, one file each.

mod best_fit_placement;
mod best_fit_provisioning;
mod energy_aware;
mod first_fit_placement;
mod first_fit_provisioning;
mod follow_broker;
mod migrating;
mod room_for_growth;
pub mod thermal_aware;
mod worst_fit_placement;

pub use best_fit_placement::BestFitPlacement;
pub use best_fit_provisioning::BestFitProvisioning;
pub use energy_aware::EnergyAware;
pub use first_fit_placement::FirstFitPlacement;
pub use first_fit_provisioning::FirstFitProvisioning;
pub use follow_broker::FollowBroker;
pub use migrating::Migrating;
pub use room_for_growth::RoomForGrowth;
pub use worst_fit_placement::WorstFitPlacement;
