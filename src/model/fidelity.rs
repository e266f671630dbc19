//! Fidelity (paper, sec. 4.1): the allotment a guest receives compared to
//! what it is owed, `allotted / min(promised, demanded)`, capped at 1.
//!
//! Measured on CPU (millicores):
//! * *promised*: the slivers the broker granted the guest, counting each VM
//!   from the moment its create completes (setting a VM up is the lease's
//!   setup, not a lapse);
//! * *demanded*: a web guest's demand for the period in units
//!   (requests per minute / `requests_per_unit`, without headroom); a batch
//!   guest demands all it was promised;
//! * *allotted*: what its running VMs hold on their hosts now; a VM paused
//!   by a migration (final pre-copy round, switchover, stop-and-copy) gets
//!   nothing, and one pulling pages after a post-copy switch gets its
//!   sliver less the slowdown.
//!
//! A guest owed nothing has fidelity 1. The meter keeps each guest's value
//! as a step function of time: its time-weighted mean, its minimum, and a
//! series of every change.

use crate::engine::SimTime;

/// One guest's fidelity over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuestFidelity {
    /// Time-weighted mean over the run.
    pub mean: f64,
    /// Lowest value reached.
    pub min: f64,
}

/// How much of the fidelity step function a run keeps for its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesForm {
    /// Every change of every guest's value (`fidelity.csv` with one row
    /// per change): exact, and as long as the run has changes.
    Changes,
    /// Per guest and period of this length: the time-weighted mean and the
    /// minimum (one row per guest and period, whatever the cluster's size).
    Periods(SimTime),
}

/// One period of one guest's fidelity ([`SeriesForm::Periods`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodFidelity {
    /// Start of the period.
    pub start: SimTime,
    /// The guest's index.
    pub guest: u32,
    /// Time-weighted mean over the period (up to the run's end).
    pub mean: f64,
    /// Lowest value in the period.
    pub min: f64,
}

/// The series a run keeps, in the form it was asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum FidelitySeries {
    /// Every change: `(time, guest index, new value)`, in time order,
    /// starting with every guest at 1 at time zero.
    Changes(Vec<(SimTime, u32, f64)>),
    /// Per period, in time order, then guest order.
    Periods(Vec<PeriodFidelity>),
}

/// The open period of one guest: its start, the integral so far and the minimum.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    start: SimTime,
    integral: f64,
    min: f64,
}

/// Integrates each guest's fidelity over time. Each guest is integrated
/// lazily, when its value changes, so recording one guest costs O(1)
/// however many guests there are.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityMeter {
    value: Vec<f64>,
    min: Vec<f64>,
    /// Integral of fidelity over `[0, since)`, per guest, in ms.
    integral: Vec<f64>,
    since: Vec<SimTime>,
    form: SeriesForm,
    changes: Vec<(SimTime, u32, f64)>,
    buckets: Vec<Bucket>,
    periods: Vec<PeriodFidelity>,
}

impl FidelityMeter {
    /// `guests` guests at fidelity 1 at time zero, keeping a series of `form`.
    pub fn new(guests: usize, form: SeriesForm) -> Self {
        let changes = match form {
            SeriesForm::Changes => (0..guests as u32).map(|g| (SimTime::ZERO, g, 1.0)).collect(),
            SeriesForm::Periods(_) => Vec::new(),
        };
        FidelityMeter {
            value: vec![1.0; guests],
            min: vec![1.0; guests],
            integral: vec![0.0; guests],
            since: vec![SimTime::ZERO; guests],
            form,
            changes,
            buckets: vec![
                Bucket {
                    start: SimTime::ZERO,
                    integral: 0.0,
                    min: 1.0,
                };
                guests
            ],
            periods: Vec::new(),
        }
    }

    /// Records guest `g`'s fidelity from `now` on.
    pub fn set(&mut self, now: SimTime, g: usize, v: f64) {
        if g >= self.value.len() || v == self.value[g] {
            return;
        }
        self.advance(g, now);
        self.value[g] = v;
        self.min[g] = self.min[g].min(v);
        match self.form {
            SeriesForm::Changes => self.changes.push((now, g as u32, v)),
            SeriesForm::Periods(_) => {
                let b = &mut self.buckets[g];
                b.min = b.min.min(v);
            }
        }
    }

    /// Integrates guest `g` up to `now` at its current value, closing the
    /// periods that end by then.
    fn advance(&mut self, g: usize, now: SimTime) {
        let since = self.since[g];
        if now <= since {
            return;
        }
        let v = self.value[g];
        self.integral[g] += v * (now.0 - since.0) as f64;
        self.since[g] = now;
        let SeriesForm::Periods(len) = self.form else {
            return;
        };
        let len = len.0.max(1);
        let mut at = since.0;
        while self.buckets[g].start.0 + len <= now.0 {
            let b = &mut self.buckets[g];
            let end = b.start.0 + len;
            b.integral += v * (end - at) as f64;
            self.periods.push(PeriodFidelity {
                start: b.start,
                guest: g as u32,
                mean: b.integral / len as f64,
                min: b.min,
            });
            *b = Bucket {
                start: SimTime(end),
                integral: 0.0,
                min: v,
            };
            at = end;
        }
        self.buckets[g].integral += v * (now.0 - at) as f64;
    }

    /// Each guest's mean and minimum over `[0, end)`.
    pub fn summary(&self, end: SimTime) -> Vec<GuestFidelity> {
        (0..self.value.len())
            .map(|g| {
                let tail = end.0.saturating_sub(self.since[g].0) as f64;
                GuestFidelity {
                    mean: if end.0 == 0 {
                        self.value[g]
                    } else {
                        (self.integral[g] + self.value[g] * tail) / end.0 as f64
                    },
                    min: self.min[g],
                }
            })
            .collect()
    }

    /// The series over `[0, end)`, in the meter's form.
    pub fn series(&self, end: SimTime) -> FidelitySeries {
        match self.form {
            SeriesForm::Changes => FidelitySeries::Changes(self.changes.clone()),
            SeriesForm::Periods(len) => {
                // Close every guest's periods up to `end`; the last one may be short.
                let mut m = self.clone();
                for g in 0..m.value.len() {
                    m.advance(g, end);
                    let b = m.buckets[g];
                    let span = end.0.saturating_sub(b.start.0).min(len.0.max(1));
                    if span > 0 {
                        m.periods.push(PeriodFidelity {
                            start: b.start,
                            guest: g as u32,
                            mean: b.integral / span as f64,
                            min: b.min,
                        });
                    }
                }
                m.periods.sort_by_key(|p| (p.start, p.guest));
                FidelitySeries::Periods(m.periods)
            }
        }
    }
}

impl FidelitySeries {
    /// Every change, if the series kept them.
    pub fn changes(&self) -> Option<&[(SimTime, u32, f64)]> {
        match self {
            FidelitySeries::Changes(c) => Some(c),
            FidelitySeries::Periods(_) => None,
        }
    }

    /// True if some guest's fidelity fell below 1.
    pub fn has_drop(&self) -> bool {
        match self {
            FidelitySeries::Changes(c) => c.iter().any(|p| p.2 < 1.0),
            FidelitySeries::Periods(p) => p.iter().any(|p| p.min < 1.0),
        }
    }
}

/// Fidelity from its three terms: `allotted / min(promised, demanded)`,
/// capped at 1; 1 when nothing is owed.
pub fn fidelity(allotted: f64, promised: f64, demanded: f64) -> f64 {
    let owed = promised.min(demanded);
    if owed <= 0.0 {
        1.0
    } else {
        (allotted / owed).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_min_of_a_step_function() {
        let mut m = FidelityMeter::new(2, SeriesForm::Changes);
        // Guest 0 drops to 0.5 for 10 s out of 100 s, guest 1 stays at 1.
        m.set(SimTime::from_secs(40), 0, 0.5);
        m.set(SimTime::from_secs(40), 1, 1.0);
        m.set(SimTime::from_secs(50), 0, 1.0);
        m.set(SimTime::from_secs(50), 1, 1.0);
        let s = m.summary(SimTime::from_secs(100));
        assert_eq!(s[0].min, 0.5);
        assert!((s[0].mean - 0.95).abs() < 1e-12);
        assert_eq!((s[1].mean, s[1].min), (1.0, 1.0));
        let FidelitySeries::Changes(c) = m.series(SimTime::from_secs(100)) else {
            panic!("asked for changes")
        };
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn periods_hold_each_guests_mean_and_min() {
        // Periods of 60 s over 150 s. Guest 0: 1 until 30 s, 0.5 until 90 s,
        // 0 until 100 s, then 1. Guest 1 stays at 1.
        let mut m = FidelityMeter::new(2, SeriesForm::Periods(SimTime::from_secs(60)));
        m.set(SimTime::from_secs(30), 0, 0.5);
        m.set(SimTime::from_secs(90), 0, 0.0);
        m.set(SimTime::from_secs(100), 0, 1.0);
        let FidelitySeries::Periods(p) = m.series(SimTime::from_secs(150)) else {
            panic!("asked for periods")
        };
        let rows: Vec<(u64, u32, f64, f64)> = p
            .iter()
            .map(|p| (p.start.0 / 1000, p.guest, p.mean, p.min))
            .collect();
        assert_eq!(
            rows,
            vec![
                (0, 0, 0.75, 0.5),
                (0, 1, 1.0, 1.0),
                (60, 0, (30.0 * 0.5 + 20.0) / 60.0, 0.0),
                (60, 1, 1.0, 1.0),
                (120, 0, 1.0, 1.0),
                (120, 1, 1.0, 1.0),
            ]
        );
        // The summary is the same in either form.
        let s = m.summary(SimTime::from_secs(150));
        assert!((s[0].mean - (30.0 + 30.0 + 50.0) / 150.0).abs() < 1e-12);
        assert_eq!(s[0].min, 0.0);
    }

    #[test]
    fn owed_is_the_lesser_of_promise_and_demand() {
        assert_eq!(fidelity(4.0, 4.0, 3.0), 1.0);
        assert_eq!(fidelity(2.0, 4.0, 3.0), 2.0 / 3.0);
        assert_eq!(fidelity(2.0, 4.0, 8.0), 0.5);
        assert_eq!(fidelity(0.0, 0.0, 8.0), 1.0);
    }
}
