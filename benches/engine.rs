//! Event-queue throughput in the classic *hold* model.
//!
//! The queue is pre-filled with `N` pending events whose times come from a
//! deterministic xorshift stream; each measured iteration then pops the
//! earliest event, runs a trivial handler and schedules one new event at
//! `now + increment`, so the queue stays at exactly `N` pending events.
//! One iteration is one event handled (`Throughput::Elements(1)`).
//!
//! Three variants run side by side in one group (`hold/<variant>/<N>`), so
//! their ratio is visible even on a noisy machine:
//!
//! * `slivers/schedule`: [`EventQueue::schedule`] (the checked call, `Result`)
//! * `slivers/schedule_in`: [`EventQueue::schedule_in`] (delay from now)
//! * `binaryheap`: `std::collections::BinaryHeap<(Reverse<(u64, u64)>, u64)>`,
//!   i.e. `(time, seq)` keys with a `u64` payload alongside: the same order
//!   (time, then FIFO), with no clock or check. (`EventQueue` is a radix
//!   heap that gets FIFO from bucket order, so its entries are `(time,
//!   payload)`, 16 bytes, against the baseline's 24.)
//!
//! The queues live outside the timing closure and persist across samples,
//! so the measurement is of a queue in steady state, not of a fresh one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use slivers::engine::{EventQueue, SimTime};

/// Steady-state numbers of pending events.
const SIZES: [usize; 2] = [1_000, 100_000];

/// Increments are uniform in `0..=INC_MASK` milliseconds (mean ~1 s).
const INC_MASK: u64 = 2047;

/// xorshift64*: tiny, deterministic, and the same stream for every variant.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    #[inline(always)]
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[inline(always)]
    fn increment(&mut self) -> u64 {
        self.next() & INC_MASK
    }
}

/// The trivial handler: derive the next event's payload from the popped one.
#[inline(always)]
fn handle(payload: u64) -> u64 {
    black_box(payload).wrapping_add(1)
}

fn prefilled_slivers(n: usize, rng: &mut XorShift) -> EventQueue<u64> {
    let mut q = EventQueue::new();
    for i in 0..n as u64 {
        q.schedule(SimTime(rng.increment()), i).unwrap();
    }
    q
}

/// The baseline: `(time, seq)` keys, reversed into a min-heap, payload alongside.
type Baseline = BinaryHeap<(Reverse<(u64, u64)>, u64)>;

fn prefilled_heap(n: usize, rng: &mut XorShift) -> (Baseline, u64) {
    let mut h = BinaryHeap::with_capacity(n);
    let mut seq = 0u64;
    for i in 0..n as u64 {
        h.push((Reverse((rng.increment(), seq)), i));
        seq += 1;
    }
    (h, seq)
}

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    for &n in &SIZES {
        // slivers EventQueue, checked `schedule(at, e)`.
        {
            let mut rng = XorShift::new(0x5EED_0001);
            let mut q = prefilled_slivers(n, &mut rng);
            group.bench_function(BenchmarkId::new("slivers/schedule", n), move |b| {
                b.iter(|| {
                    let (t, e) = q.pop().unwrap();
                    let at = SimTime(t.0 + rng.increment());
                    q.schedule(at, handle(e)).unwrap();
                });
                assert_eq!(q.len(), n);
            });
        }

        // slivers EventQueue, `schedule_in(delay, e)`.
        {
            let mut rng = XorShift::new(0x5EED_0001);
            let mut q = prefilled_slivers(n, &mut rng);
            group.bench_function(BenchmarkId::new("slivers/schedule_in", n), move |b| {
                b.iter(|| {
                    let (_, e) = q.pop().unwrap();
                    q.schedule_in(SimTime(rng.increment()), handle(e));
                });
                assert_eq!(q.len(), n);
            });
        }

        // Baseline: a bare std BinaryHeap with the same keys and payload.
        {
            let mut rng = XorShift::new(0x5EED_0001);
            let (mut h, mut seq) = prefilled_heap(n, &mut rng);
            group.bench_function(BenchmarkId::new("binaryheap", n), move |b| {
                b.iter(|| {
                    let (Reverse((t, _)), e) = h.pop().unwrap();
                    h.push((Reverse((t + rng.increment(), seq)), handle(e)));
                    seq += 1;
                });
                assert_eq!(h.len(), n);
            });
        }
    }
    group.finish();
}

// Plots are off: the plotters backend needs system fonts, which minimal
// machines and CI images lack (it panics with `FontUnavailable`).
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = hold
}
criterion_main!(benches);
