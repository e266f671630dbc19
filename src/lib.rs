//! # slivers
//!
//! A deterministic discrete-event simulator of brokered virtual-machine
//! hosting, after Shirako (Grit et al., VTDC 2006): guests lease VM
//! *slivers*, a **broker** provisions them from a logical inventory with its
//! provisioning policy, and a **site authority** places them on physical
//! hosts with its placement policy, migrating VMs when the two disagree.
//!
//! ## The contract
//!
//! * **Time** is an integer number of **milliseconds** since the start of a
//!   run ([`engine::SimTime`]). Trace times in seconds are converted exactly.
//! * **Ordering**: the event queue pops events by `(time, insertion
//!   sequence)`; events at the same instant are handled in the order they
//!   were scheduled ([`engine::EventQueue`]). Scheduling in the past is a
//!   typed error.
//! * **Seeding**: each run owns exactly one RNG, ChaCha8 seeded with the
//!   run's seed ([`rng::SimRng`]); it is only used to generate synthetic
//!   traces, so file traces make a run independent of the seed. Every
//!   collection a decision iterates is ordered (`Vec`, `BTreeMap`).
//! * **Determinism**: the same scenario and seed give byte-identical
//!   outputs, whatever the thread count: the pairs of a scenario (and the
//!   runs of a sweep) run in parallel, each with its own RNG, and results
//!   are collected in run order.
//! * **Cost**: each event costs what it touches, not the size of the
//!   cluster (docs/model.md, "Scale").
//! * **Invariants** ([`model::Hosting::check`]), checked after every event
//!   in debug builds and with `slivers run --check` (sampled with
//!   [`experiment::RunOptions::check_every`], and always at the end): no host exceeds its
//!   capacity in any dimension, every VM is pending, running, migrating,
//!   suspended or finished, the broker's logical assignment is feasible, and
//!   broker and site agree on every VM.
//!
//! ## Layout
//!
//! [`engine`] is the domain-free kernel; [`model`] holds guests, broker,
//! site and migration cost, driven by events and returning commands;
//! [`trace`] reads and generates workloads; [`scenario`] parses then
//! validates scenario files; [`experiment`] runs them; [`report`] writes
//! CSVs and plots. Policies live in the pure crate [`slivers_policy`].
//!
//! ## Example
//!
//! ```
//! use slivers::experiment::{RunOptions, run_pair};
//! use slivers::scenario::{Pair, Scenario};
//!
//! let text = r#"
//!     duration = "2d"
//!     [hosts]
//!     count = 10
//!     [[guest]]
//!     kind = "web"
//!     trace = { generate = "web", base_rate = 1000 }
//!     peak_units = 12
//!     [[guest]]
//!     kind = "batch"
//!     trace = { generate = "batch", nodes = 10, target_load = 0.4 }
//! "#;
//! let scenario = Scenario::parse(text, std::path::Path::new("example.toml")).unwrap();
//! let [rfg_fb, _, _, _] = Pair::figure3()[..] else { unreachable!() };
//! let result = run_pair(&scenario, rfg_fb, 0, 42, RunOptions { check_invariants: true, ..RunOptions::default() }).unwrap();
//! // A site that follows a broker that never moves VMs never migrates.
//! assert_eq!(result.site.migrations(), 0);
//! assert!(result.broker.granted > 0);
//! ```

#![warn(missing_docs)]

pub mod engine;
pub mod experiment;
pub mod fsutil;
pub mod live;
pub mod model;
pub mod outcome;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod shell;
pub mod text;
pub mod trace;

pub use slivers_policy;

/// An error followed by its causes, `error: cause: cause...`, as the binary
/// prints it. Every error type of the crate says in its message only what
/// failed at its own level and leaves the cause to `source()` (never both),
/// so library code that keeps an error as text uses this, not `to_string`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
