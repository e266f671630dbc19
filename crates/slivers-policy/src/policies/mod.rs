//! The built-in policies, one file each.

mod best_fit_placement;
mod best_fit_provisioning;
mod cheapest_energy;
mod energy_aware;
mod first_fit_placement;
mod first_fit_provisioning;
mod follow_broker;
mod least_loaded;
mod migrating;
mod most_free;
mod pinned;
mod room_for_growth;
pub mod thermal_aware;
mod worst_fit_placement;

pub use best_fit_placement::BestFitPlacement;
pub use best_fit_provisioning::BestFitProvisioning;
pub use cheapest_energy::CheapestEnergy;
pub use energy_aware::EnergyAware;
pub use first_fit_placement::FirstFitPlacement;
pub use first_fit_provisioning::FirstFitProvisioning;
pub use follow_broker::FollowBroker;
pub use least_loaded::LeastLoaded;
pub use migrating::Migrating;
pub use most_free::MostFree;
pub use pinned::Pinned;
pub use room_for_growth::RoomForGrowth;
pub use worst_fit_placement::WorstFitPlacement;
