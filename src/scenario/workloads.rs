//! Workloads: each guest's demand or job arrivals for one run, in
//! simulated time, from its trace (generated with the run's RNG when the
//! scenario asks for a generator).

use slivers_policy::Resources;

use super::Scenario;
use super::guests::{BatchData, GuestSpec, WebData};
use crate::engine::SimTime;
use crate::model::{Quantum, WebSizing};
use crate::rng::SimRng;
use crate::trace::Series;
use crate::trace::generate::{generate_batch, generate_web};

/// One guest's workload for one run, in simulated time.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// Demand per period for a web guest, and its sizing.
    Web {
        /// Peak demand (requests per minute) of the period starting at each
        /// tick of [`Scenario::ticks`], in order.
        demand: Vec<f64>,
        /// Sizing with `requests_per_unit` resolved.
        sizing: WebSizing,
    },
    /// Job arrivals for a batch guest, in time order.
    Batch {
        /// `(arrival, job)`.
        jobs: Vec<(SimTime, crate::model::BatchJob)>,
        /// Jobs of the window too big for the whole cluster, left out.
        too_large: usize,
    },
}

impl Scenario {
    /// The allocation period ticks: `0, period, 2 period, ...` before `duration`.
    pub fn ticks(&self) -> impl Iterator<Item = SimTime> + '_ {
        (0u64..)
            .map(|k| SimTime(k * self.period.0))
            .take_while(|t| *t < self.duration)
    }

    /// Every guest's workload for a run with `rng` (used by generated traces
    /// only; file traces are the same for every seed).
    pub fn workloads(&self, rng: &mut SimRng) -> Vec<Workload> {
        self.guests.iter().map(|g| self.workload(g, rng)).collect()
    }

    /// Sliver units the whole cluster holds.
    pub fn cluster_units(&self) -> u64 {
        self.hosts as u64 * self.quantum.max_units as u64
    }

    fn workload(&self, g: &GuestSpec, rng: &mut SimRng) -> Workload {
        let span = (self.duration.as_millis() / 1000) as i64;
        match g {
            GuestSpec::Web { workload: w, .. } => {
                let generated;
                let series = match &w.data {
                    WebData::Series(s) => s,
                    WebData::Generated(p) => {
                        generated = generate_web(p, rng);
                        &generated
                    }
                };
                let start_ms = w.start as i128 * 1000;
                let demand = self
                    .ticks()
                    .map(|t| {
                        let from = start_ms + t.0 as i128;
                        peak_overlapping(series, from, from + self.period.0 as i128)
                    })
                    .collect();
                let mut sizing = w.sizing;
                if let Some(units) = w.peak_units {
                    let peak = peak_overlapping(series, start_ms, start_ms + self.duration.0 as i128);
                    sizing.requests_per_unit = if peak > 0.0 { peak / units } else { 1.0 };
                }
                Workload::Web { demand, sizing }
            }
            GuestSpec::Batch { workload: w, .. } => {
                let generated;
                let trace = match &w.data {
                    BatchData::Trace(t) => t,
                    BatchData::Generated(p) => {
                        generated = generate_batch(p, rng);
                        &generated
                    }
                };
                let cluster_vms = cluster_vms(&self.capacity, &self.quantum, self.hosts, w.vm_units);
                let mut jobs = Vec::new();
                let mut too_large = 0;
                for j in &trace.jobs {
                    let at = if w.arrive_at_start { j.start() } else { j.submit };
                    if at < w.start || at >= w.start + span {
                        continue;
                    }
                    let vms = j.procs.div_ceil(w.procs_per_vm).max(1);
                    if vms as u64 > cluster_vms {
                        too_large += 1;
                        continue;
                    }
                    let job = crate::model::BatchJob {
                        id: j.id,
                        run: SimTime::from_secs(j.run),
                        vms,
                        vm_units: w.vm_units,
                    };
                    jobs.push((SimTime::from_secs((at - w.start) as u64), job));
                }
                jobs.sort_by_key(|(t, j)| (*t, j.id));
                Workload::Batch { jobs, too_large }
            }
        }
    }
}

/// VMs of `vm_units` the whole cluster holds: those that fit one host in
/// every dimension, times the hosts.
pub(super) fn cluster_vms(capacity: &Resources, quantum: &Quantum, hosts: u32, vm_units: u32) -> u64 {
    let vm = quantum.size(vm_units);
    let per_host = (0..4)
        .map(|d| capacity.0[d].checked_div(vm.0[d]).unwrap_or(u64::MAX))
        .min()
        .unwrap_or(0);
    per_host.saturating_mul(hosts as u64)
}

/// The largest value among the points of `series` whose interval
/// `[t, t + step)` overlaps `[from_ms, to_ms)` (milliseconds since the
/// epoch); 0 if none does.
fn peak_overlapping(series: &Series, from_ms: i128, to_ms: i128) -> f64 {
    let step = series.step.max(1) as i128 * 1000;
    let origin = series.start as i128 * 1000;
    let first = (from_ms - origin).div_euclid(step).max(0);
    let last = (to_ms - origin + step - 1)
        .div_euclid(step)
        .min(series.values.len() as i128);
    if first >= last {
        return 0.0;
    }
    series.values[first as usize..last as usize]
        .iter()
        .copied()
        .fold(0.0, f64::max)
}
