//! slivers: placeholder, being written.
pub mod report;
pub mod rng;
pub mod trace;
