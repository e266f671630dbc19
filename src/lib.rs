//! slivers: placeholder, being written.
pub mod engine;
pub mod experiment;
pub mod model;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod trace;
