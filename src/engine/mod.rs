//! The domain-free discrete-event kernel: simulated time and an event queue.
//!
//! Time is a [`SimTime`], an integer count of **milliseconds** since the start
//! of the run. The queue pops events in order of `(time, insertion sequence)`:
//! events at the same instant come out in the order they were scheduled
//! (FIFO), so a run never depends on the queue's internals. Scheduling an
//! event before the current time is a typed error, [`ScheduleError::InPast`].
//!
//! [`EventQueue`] is a monotone priority queue: because the clock never goes
//! backwards, it is a radix heap over the `u64` times (256 buckets indexed by
//! the highest base-16 digit where an event's time differs from now) rather
//! than a binary heap. Scheduling is O(1); an event is moved between buckets
//! at most 16 times, in practice about 3 times. FIFO order among equal times comes
//! from keeping every bucket in insertion order, so no sequence number is
//! stored. See `queue.rs` for the details and where the tie-break is enforced.

mod queue;
pub mod slab;

pub use queue::{EventQueue, ScheduleError};
pub use slab::{DenseId, IdSlab};

use std::fmt;

/// Simulated time in milliseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// Whole seconds.
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s.saturating_mul(1000))
    }

    /// Milliseconds.
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms)
    }

    /// Milliseconds since the start.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Seconds since the start, as a float for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Days since the start, as a float for plots.
    pub fn as_days_f64(self) -> f64 {
        self.0 as f64 / 86_400_000.0
    }

    /// `self + d`, saturating.
    pub const fn plus(self, d: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}
