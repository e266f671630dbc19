//! Deterministic synthetic workloads standing in for the two unpublished
//! traces of the Shirako migration experiment.
//!
//! Both generators draw every random number from the one [`SimRng`] they are
//! given, in a fixed order, so a seed always yields the same trace. All
//! times of day and days of the week are UTC.
//!
//! # Web service ("e-commerce-like"), [`generate_web`]
//!
//! Requests per minute at minute start `t`:
//!
//! ```text
//! count(t) ~ Poisson( (baseline(t) + flash(t)) * noise(t) )
//! baseline(t) = base_rate * D(hour(t)) * W(t) / c
//! ```
//!
//! * **Daily cycle** `D(h) = 1 + (R - 1) * s(h)^2`, `R = 4` ([`WEB_PEAK_TROUGH`]):
//!   `s` rises from 0 at 04:00 ([`WEB_TROUGH_HOUR`]) to 1 at 20:00
//!   ([`WEB_PEAK_HOUR`]) along a half cosine, then falls back along a half
//!   cosine over the 8 night hours. Peak / trough = 4; peak / daily mean =
//!   4 / 2.125 = 1.88; the level is above half-way between trough and peak
//!   from about 14:10 to 22:55.
//! * **Weekly cycle** `W(t) = 1 - 0.25 * w(t)` ([`WEB_WEEKEND_FACTOR`] = 0.75),
//!   where the weekend weight `w` is 1 from Saturday 00:00 to Monday 00:00
//!   and 0 otherwise, switching along a half cosine over 3 hours centred on
//!   each midnight ([`WEEKEND_RAMP_HOURS`] either side).
//! * `c` is the mean of `D * W` over the 10,080 minutes of a week, so the
//!   baseline averages exactly `base_rate` over any whole week.
//! * **Smooth noise** `noise(t) = exp(x(t) - sd^2/2)`, `x` an AR(1) process
//!   in minute steps with stationary standard deviation `sd = 0.05`
//!   ([`WEB_NOISE_SD`]) and correlation time 30 minutes
//!   ([`WEB_NOISE_CORR_MINUTES`]): `x(0) ~ N(0, sd^2)`,
//!   `x(i) = phi * x(i-1) + sd * sqrt(1 - phi^2) * N(0, 1)`,
//!   `phi = exp(-1/30)`. Its mean is exactly 1.
//! * **Per-minute noise**: the count is a Poisson draw around the rate
//!   ([`SimRng::poisson`]; a rounded normal above a mean of 30), so about
//!   2 % at 2,000 requests/min.
//! * **Flash crowds** ([`FlashCrowd`]): `flash_crowds` of them, each with
//!   onset uniform over the trace minus its last 6 hours (the whole trace if
//!   shorter), rise time uniform in 10..30 minutes, multiplier `M` uniform in
//!   2..4 and decay time constant uniform in 1..3 hours. A crowd adds
//!   `(M - 1) * base_rate * W(onset) / c * mean(D)` requests/min (that is,
//!   `M - 1` times the day's mean level) at its top: rising along a half
//!   cosine over the rise time, then decaying as `exp(-(t - top) / decay)`.
//!   At an average time of day the rate thus reaches `M` times its normal
//!   level. Crowds overlap additively.
//!
//! # Batch cluster, [`generate_batch`]
//!
//! * **Arrivals**: a non-homogeneous Poisson process sampled by thinning,
//!   with intensity proportional to `A(t) = day(t) * (0.15 + 0.85 * b(h))`:
//!   `b` is 0 before 07:00, rises along a half cosine to 1 at 09:00, stays
//!   1 until 17:00 and falls along a half cosine to 0 at 20:00
//!   ([`BATCH_NIGHT_LEVEL`] = 0.15); `day` is 1 on weekdays and 0.3 on
//!   Saturdays and Sundays ([`BATCH_WEEKEND_FACTOR`]). The intensity is
//!   scaled so that its mean over the generated window is `lambda` (below).
//! * **Sizes** ([`BATCH_SIZES`]): 1 proc 40 %, 2: 18 %, 4: 14 %, 8: 11 %,
//!   16: 7 %, 32: 3.5 %, 64: 0.5 %, and 6 % a non-power of two drawn
//!   uniformly from [`BATCH_ODD_SIZES`] (3, 5, 6, 7, 9, ..., 24); every size
//!   is capped at `nodes`.
//! * **Run times**: log-normal with median 25 minutes ([`BATCH_RUN_MEDIAN`])
//!   and log standard deviation 1.3 ([`BATCH_RUN_SIGMA`]): 90 % of jobs
//!   between 3 minutes and 3.5 hours, about 1 in 1,100 longer than a day;
//!   capped at 3 days ([`BATCH_RUN_CAP`]) and rounded up to whole seconds.
//! * **Load**: `lambda = target_load * nodes / (E[procs] * E[run])` jobs per
//!   second (`E[run]` of the capped, rounded-up log-normal computed by
//!   quadrature), so by Little's law the mean number of busy processors is
//!   `target_load * nodes` when every job starts at submission.
//! * **Jobs**: ids 1, 2, ... in submit order; wait 0 (the job starts when
//!   submitted), status 1; [`write_swf`](super::swf::write_swf) writes
//!   requested procs = procs and requested time = run time rounded up to
//!   10 minutes.
//!
//! The embedded traces in `traces/` are [`default_web`] and
//! [`default_batch`]; the unit test `embedded_traces_match_generator`
//! checks they are byte for byte what the generators produce.

use super::series::Series;
use super::swf::{Job, SwfTrace};
use super::time::{DAY, format_datetime, format_datetime_arg, weekday};
use crate::rng::SimRng;
use std::f64::consts::PI;

/// 2026-01-05 00:00:00 UTC (a Monday): start of the embedded traces.
pub const DEFAULT_START: i64 = 1_767_571_200;

/// Web daily profile: peak / trough ratio.
pub const WEB_PEAK_TROUGH: f64 = 4.0;
/// Web daily profile: hour (UTC) of the trough.
pub const WEB_TROUGH_HOUR: f64 = 4.0;
/// Web daily profile: hour (UTC) of the peak.
pub const WEB_PEAK_HOUR: f64 = 20.0;
/// Web weekly profile: weekend level relative to weekdays.
pub const WEB_WEEKEND_FACTOR: f64 = 0.75;
/// Half-width, in hours, of the smooth switch into and out of the weekend.
pub const WEEKEND_RAMP_HOURS: f64 = 1.5;
/// Standard deviation of the smooth log-scale noise.
pub const WEB_NOISE_SD: f64 = 0.05;
/// Correlation time, in minutes, of the smooth log-scale noise.
pub const WEB_NOISE_CORR_MINUTES: f64 = 30.0;

/// Batch sizes that are powers of two and their probabilities (they sum to
/// 0.94; the remaining 6 % are drawn from [`BATCH_ODD_SIZES`]).
pub const BATCH_SIZES: [(u32, f64); 7] = [
    (1, 0.40),
    (2, 0.18),
    (4, 0.14),
    (8, 0.11),
    (16, 0.07),
    (32, 0.035),
    (64, 0.005),
];
/// Non-power-of-two batch sizes, drawn uniformly for 6 % of jobs.
pub const BATCH_ODD_SIZES: [u32; 19] = [
    3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 24,
];
/// Median batch run time, seconds (25 minutes).
pub const BATCH_RUN_MEDIAN: f64 = 1500.0;
/// Standard deviation of the logarithm of batch run times.
pub const BATCH_RUN_SIGMA: f64 = 1.3;
/// Longest batch run time, seconds (3 days).
pub const BATCH_RUN_CAP: u64 = 3 * 86_400;
/// Batch submission intensity at night relative to working hours.
pub const BATCH_NIGHT_LEVEL: f64 = 0.15;
/// Batch submission intensity on weekends relative to weekdays.
pub const BATCH_WEEKEND_FACTOR: f64 = 0.3;

/// Half-cosine step from 0 (at `x <= 0`) to 1 (at `x >= 1`).
fn smooth_step(x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x >= 1.0 {
        1.0
    } else {
        (1.0 - (PI * x).cos()) / 2.0
    }
}

/// Hour of day (UTC, fractional) of unix time `t`.
fn hour_of(t: f64) -> f64 {
    t.rem_euclid(DAY as f64) / 3600.0
}

/// Weekend weight in [0, 1] at unix time `t`: 1 from Saturday 00:00 to
/// Monday 00:00, switching smoothly over `WEEKEND_RAMP_HOURS` either side
/// of those midnights.
fn weekend_weight(t: f64) -> f64 {
    // Days since Monday 00:00, in [0, 7). 1970-01-01 was a Thursday.
    let d = (t / DAY as f64 + 3.0).rem_euclid(7.0);
    let r = WEEKEND_RAMP_HOURS / 24.0;
    let ramp = |x: f64| smooth_step((x + r) / (2.0 * r));
    ramp(d - 5.0) * (1.0 - ramp(d - 7.0)) + (1.0 - ramp(d))
}

/// Web daily profile `D(h)` (trough 1, peak [`WEB_PEAK_TROUGH`]).
fn web_daily(h: f64) -> f64 {
    let (a, b) = (WEB_TROUGH_HOUR, WEB_PEAK_HOUR);
    let s = if h >= a && h < b {
        smooth_step((h - a) / (b - a))
    } else {
        1.0 - smooth_step((h - b).rem_euclid(24.0) / (24.0 - (b - a)))
    };
    1.0 + (WEB_PEAK_TROUGH - 1.0) * s * s
}

/// Web weekly profile `W(t)`.
fn web_weekly(t: f64) -> f64 {
    1.0 - (1.0 - WEB_WEEKEND_FACTOR) * weekend_weight(t)
}

/// `(c, mean(D))`: mean of `D * W` over the minutes of a week and mean of
/// `D` over the minutes of a day.
fn web_norms() -> (f64, f64) {
    static NORMS: std::sync::OnceLock<(f64, f64)> = std::sync::OnceLock::new();
    *NORMS.get_or_init(compute_web_norms)
}

fn compute_web_norms() -> (f64, f64) {
    let week: f64 = (0..7 * 1440)
        .map(|i| {
            let t = (4 * DAY + 60 * i) as f64; // 1970-01-05 was a Monday
            web_daily(hour_of(t)) * web_weekly(t)
        })
        .sum();
    let day: f64 = (0..1440).map(|i| web_daily(i as f64 / 60.0)).sum();
    (week / (7.0 * 1440.0), day / 1440.0)
}

/// Expected requests per minute at unix time `t` without noise or flash
/// crowds: `base_rate * D(hour) * W(t) / c`. Its mean over a whole week is
/// `base_rate`.
pub fn web_baseline(base_rate: f64, t: i64) -> f64 {
    let (c, _) = web_norms();
    base_rate * web_daily(hour_of(t as f64)) * web_weekly(t as f64) / c
}

/// Parameters of the synthetic web-service trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebParams {
    /// Unix seconds of the first minute.
    pub start: i64,
    /// Length in days (`days * 1440` one-minute points).
    pub days: u32,
    /// Mean requests per minute of the daily and weekly baseline over a
    /// whole week (noise has mean 1; flash crowds come on top).
    pub base_rate: f64,
    /// Number of flash crowds.
    pub flash_crowds: u32,
}

impl WebParams {
    /// Checks the parameters are usable: 1..=3660 days, `base_rate` finite
    /// and in (0, 1e9], at most one flash crowd per hour of trace.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3660).contains(&self.days) {
            return Err(format!("days: expected 1..=3660, found {}", self.days));
        }
        if !(self.base_rate.is_finite() && self.base_rate > 0.0 && self.base_rate <= 1e9) {
            return Err(format!(
                "base rate: expected a number in (0, 1e9] requests/min, found {}",
                self.base_rate
            ));
        }
        if self.flash_crowds > self.days * 24 {
            return Err(format!(
                "flash crowds: expected at most {} (one per hour), found {}",
                self.days * 24,
                self.flash_crowds
            ));
        }
        Ok(())
    }
}

/// One flash crowd of the web trace (times in unix seconds, as `f64`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashCrowd {
    /// When the crowd starts to build.
    pub onset: f64,
    /// Seconds from onset to the top (10..30 minutes).
    pub rise: f64,
    /// Peak multiplier `M` of the day's mean level (2..4).
    pub multiplier: f64,
    /// Extra requests per minute at the top: `(M - 1)` times the day's mean
    /// level of the baseline at the onset.
    pub extra: f64,
    /// Time constant of the exponential decay after the top, seconds (1..3 h).
    pub decay: f64,
}

impl FlashCrowd {
    /// Extra requests per minute the crowd adds at unix time `t`.
    pub fn extra_at(&self, t: f64) -> f64 {
        let since = t - self.onset;
        if since < 0.0 {
            0.0
        } else if since < self.rise {
            self.extra * smooth_step(since / self.rise)
        } else {
            self.extra * (-(since - self.rise) / self.decay).exp()
        }
    }

    /// Unix time of the top.
    pub fn top(&self) -> f64 {
        self.onset + self.rise
    }
}

/// Draws the flash crowds of `p` from `rng`: the first draws
/// [`generate_web`] makes (4 uniforms per crowd: onset, rise, multiplier,
/// decay).
pub fn draw_flash_crowds(p: &WebParams, rng: &mut SimRng) -> Vec<FlashCrowd> {
    let (c, mean_d) = web_norms();
    let span = p.days as f64 * DAY as f64;
    let window = if span > 6.0 * 3600.0 {
        span - 6.0 * 3600.0
    } else {
        span
    };
    (0..p.flash_crowds)
        .map(|_| {
            let onset = p.start as f64 + (rng.uniform() * window).floor();
            let rise = 600.0 + 1200.0 * rng.uniform();
            let multiplier = 2.0 + 2.0 * rng.uniform();
            let decay = 3600.0 * (1.0 + 2.0 * rng.uniform());
            let day_mean = p.base_rate * web_weekly(onset) * mean_d / c;
            FlashCrowd {
                onset,
                rise,
                multiplier,
                extra: (multiplier - 1.0) * day_mean,
                decay,
            }
        })
        .collect()
}

/// Generates the per-minute request counts of a synthetic e-commerce-like
/// service (see the module documentation for the model). The series has
/// step 60 s, starts at `p.start` and has `p.days * 1440` non-negative
/// integral values. Call [`WebParams::validate`] first on untrusted input.
pub fn generate_web(p: &WebParams, rng: &mut SimRng) -> Series {
    generate_web_observed(p, rng, &mut |_, _| {})
}

/// [`generate_web`], calling `progress(days done, days)` after each
/// generated day (the series does not depend on it).
pub fn generate_web_observed(p: &WebParams, rng: &mut SimRng, progress: &mut dyn FnMut(u64, u64)) -> Series {
    let crowds = draw_flash_crowds(p, rng);
    let (c, _) = web_norms();
    let n = p.days as usize * 1440;
    let sd = WEB_NOISE_SD;
    let phi = (-1.0 / WEB_NOISE_CORR_MINUTES).exp();
    let innov = sd * (1.0 - phi * phi).sqrt();
    let mut x = sd * rng.normal();
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 {
            x = phi * x + innov * rng.normal();
        }
        let t = (p.start + 60 * i as i64) as f64;
        let base = p.base_rate * web_daily(hour_of(t)) * web_weekly(t) / c;
        let flash: f64 = crowds.iter().map(|f| f.extra_at(t)).sum();
        let rate = (base + flash) * (x - sd * sd / 2.0).exp();
        values.push(rng.poisson(rate) as f64);
        if (i + 1).is_multiple_of(1440) {
            progress((i as u64 + 1) / 1440, u64::from(p.days));
        }
    }
    Series {
        step: 60,
        start: p.start,
        values,
    }
}

/// Parameters of the synthetic batch trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchParams {
    /// Unix seconds of the start (also the SWF `UnixStartTime`).
    pub start: i64,
    /// Length in days of the submission window.
    pub days: u32,
    /// Cluster size; no job is larger (also `MaxNodes` and `MaxProcs`).
    pub nodes: u32,
    /// Mean fraction of the nodes busy, e.g. 0.6.
    pub target_load: f64,
}

impl BatchParams {
    /// Checks the parameters are usable: 1..=3660 days, 1..=1,000,000
    /// nodes, `target_load` finite and in (0, 1].
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3660).contains(&self.days) {
            return Err(format!("days: expected 1..=3660, found {}", self.days));
        }
        if !(1..=1_000_000).contains(&self.nodes) {
            return Err(format!("nodes: expected 1..=1000000, found {}", self.nodes));
        }
        // A fraction of the processors busy: above 1 the jobs would need
        // more processors than the cluster has and the queue grows forever.
        if !(self.target_load.is_finite() && self.target_load > 0.0 && self.target_load <= 1.0) {
            return Err(format!(
                "target load: expected the mean fraction of processors busy, in (0, 1], found {}",
                self.target_load
            ));
        }
        Ok(())
    }
}

/// Batch submission profile `A(t)` at unix time `t` (max 1).
fn batch_profile(t: f64) -> f64 {
    let h = hour_of(t);
    let b = smooth_step((h - 7.0) / 2.0) * (1.0 - smooth_step((h - 17.0) / 3.0));
    let day = if weekday(t.floor() as i64) >= 5 {
        BATCH_WEEKEND_FACTOR
    } else {
        1.0
    };
    day * (BATCH_NIGHT_LEVEL + (1.0 - BATCH_NIGHT_LEVEL) * b)
}

/// Mean job size (processors) for a cluster of `nodes`.
pub fn batch_mean_procs(nodes: u32) -> f64 {
    let pow2: f64 = BATCH_SIZES.iter().map(|&(s, p)| p * s.min(nodes) as f64).sum();
    let odd: f64 =
        BATCH_ODD_SIZES.iter().map(|&s| s.min(nodes) as f64).sum::<f64>() / BATCH_ODD_SIZES.len() as f64;
    let p_odd = 1.0 - BATCH_SIZES.iter().map(|&(_, p)| p).sum::<f64>();
    pow2 + p_odd * odd
}

/// Mean run time (seconds) of a job: `E[min(X, cap)] + 0.5` for the
/// log-normal `X` (the 0.5 accounts for rounding up to whole seconds),
/// by Simpson's rule over the standard normal on [-9, 9].
pub fn batch_mean_run() -> f64 {
    let mu = BATCH_RUN_MEDIAN.ln();
    let cap = BATCH_RUN_CAP as f64;
    let (a, b, n) = (-9.0f64, 9.0f64, 3600usize);
    let h = (b - a) / n as f64;
    let f = |z: f64| (-z * z / 2.0).exp() / (2.0 * PI).sqrt() * (mu + BATCH_RUN_SIGMA * z).exp().min(cap);
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0 + 0.5
}

/// Mean arrival rate (jobs per second) that gives `target_load * nodes`
/// busy processors on average.
pub fn batch_arrival_rate(p: &BatchParams) -> f64 {
    p.target_load * p.nodes as f64 / (batch_mean_procs(p.nodes) * batch_mean_run())
}

/// Generates a synthetic batch trace (see the module documentation for the
/// model): `UnixStartTime = p.start`, `MaxNodes = MaxProcs = p.nodes`, jobs
/// submitted in `[p.start, p.start + days)` sorted by submit time with ids
/// 1, 2, .... Empty if `nodes` is 0 or the load is not positive. Call
/// [`BatchParams::validate`] first on untrusted input.
pub fn generate_batch(p: &BatchParams, rng: &mut SimRng) -> SwfTrace {
    generate_batch_observed(p, rng, &mut |_, _| {})
}

/// [`generate_batch`], calling `progress(days done, days)` as the
/// submissions pass each day of the window and once at its end (the trace
/// does not depend on it).
pub fn generate_batch_observed(
    p: &BatchParams,
    rng: &mut SimRng,
    progress: &mut dyn FnMut(u64, u64),
) -> SwfTrace {
    let days = u64::from(p.days);
    let mut trace = SwfTrace {
        unix_start: p.start,
        max_nodes: Some(p.nodes),
        max_procs: Some(p.nodes),
        jobs: Vec::new(),
        skipped: 0,
    };
    let lambda = batch_arrival_rate(p);
    if p.nodes == 0 || p.days == 0 || !(lambda.is_finite() && lambda > 0.0) {
        progress(days, days);
        return trace;
    }
    let span = p.days as f64 * DAY as f64;
    // Mean of A over the window's minutes (midpoints), so that the expected
    // number of submissions is lambda * span.
    let minutes = p.days as usize * 1440;
    let a_mean = (0..minutes)
        .map(|i| batch_profile(p.start as f64 + 60.0 * i as f64 + 30.0))
        .sum::<f64>()
        / minutes as f64;
    let lambda_max = lambda / a_mean; // intensity where A = 1
    let mu = BATCH_RUN_MEDIAN.ln();
    let p_pow2: f64 = BATCH_SIZES.iter().map(|&(_, q)| q).sum();
    let mut t = 0.0f64;
    let mut reported = 0;
    loop {
        t += rng.exponential(1.0 / lambda_max);
        let day = ((t / DAY as f64) as u64).min(days);
        if day > reported {
            reported = day;
            progress(day, days);
        }
        if t >= span {
            break;
        }
        if rng.uniform() >= batch_profile(p.start as f64 + t) {
            continue;
        }
        let u = rng.uniform();
        let size = if u < p_pow2 {
            let mut acc = 0.0;
            BATCH_SIZES
                .iter()
                .find(|&&(_, q)| {
                    acc += q;
                    u < acc
                })
                .map_or(1, |&(s, _)| s)
        } else {
            BATCH_ODD_SIZES[rng.below(BATCH_ODD_SIZES.len() as u64) as usize]
        };
        let run = rng
            .lognormal(mu, BATCH_RUN_SIGMA)
            .min(BATCH_RUN_CAP as f64)
            .ceil()
            .max(1.0) as u64;
        trace.jobs.push(Job {
            id: trace.jobs.len() as u64 + 1,
            submit: p.start + t.floor() as i64,
            wait: 0,
            run,
            procs: size.min(p.nodes),
            status: 1,
        });
    }
    if reported < days {
        progress(days, days);
    }
    trace
}

/// The embedded web trace `traces/ecommerce-30d.csv`: 30 days from
/// 2026-01-05 (a Monday), 2,000 requests/min, 3 flash crowds; seed 1.
pub fn default_web() -> (WebParams, u64) {
    (
        WebParams {
            start: DEFAULT_START,
            days: 30,
            base_rate: 2000.0,
            flash_crowds: 3,
        },
        1,
    )
}

/// The embedded batch trace `traces/batch-30d.swf`: 30 days from
/// 2026-01-05, 100 nodes, target load 0.35; seed 2.
pub fn default_batch() -> (BatchParams, u64) {
    (
        BatchParams {
            start: DEFAULT_START,
            days: 30,
            nodes: 100,
            target_load: 0.35,
        },
        2,
    )
}

/// The `slivers` command line that generates the web trace `p` with `seed`
/// into `out`.
pub fn web_command(p: &WebParams, seed: u64, out: &str) -> String {
    format!(
        "slivers trace generate web --days {} --seed {seed} --start {} --base-rate {} --flash-crowds {} --out {out}",
        p.days,
        format_datetime_arg(p.start),
        p.base_rate,
        p.flash_crowds
    )
}

/// The `slivers` command line that generates the batch trace `p` with
/// `seed` into `out`.
pub fn batch_command(p: &BatchParams, seed: u64, out: &str) -> String {
    format!(
        "slivers trace generate batch --days {} --seed {seed} --start {} --nodes {} --target-load {} --out {out}",
        p.days,
        format_datetime_arg(p.start),
        p.nodes,
        p.target_load
    )
}

/// Header comments for an SWF file written from [`generate_batch`]`(p)`
/// with `seed`: says the trace is synthetic, gives the parameters, the
/// model and the command that regenerates it (with `--out <file>`, so the
/// bytes do not depend on where the file is written).
pub fn batch_header_comments(p: &BatchParams, seed: u64) -> Vec<String> {
    vec![
        "Synthetic batch workload generated by slivers (slivers::trace::generate::generate_batch); not a real trace.".to_string(),
        format!(
            "Parameters: start {} UTC, days {}, nodes {}, target_load {}, seed {seed}",
            format_datetime(p.start),
            p.days,
            p.nodes,
            p.target_load
        ),
        format!("Regenerate: {}", batch_command(p, seed, "<file>")),
        "Arrivals: Poisson, daily cycle (working hours 09-17 UTC; 0.15 at night; weekends x0.3).".to_string(),
        "Sizes: powers of two 1..64 (40% single-processor), 6% other sizes 3..24; capped at MaxNodes.".to_string(),
        format!(
            "Run times: log-normal, median {} s, log-sd {}, capped at {} s. Wait 0, status 1.",
            BATCH_RUN_MEDIAN, BATCH_RUN_SIGMA, BATCH_RUN_CAP
        ),
        "Requested time = run time rounded up to 10 minutes; unknown fields -1. See traces/README.md.".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::series::render_series_csv;
    use super::super::swf::render_swf;
    use super::super::time::second_of_day;
    use super::*;

    const TRACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/traces");

    fn web(p: &WebParams, seed: u64) -> Series {
        generate_web(p, &mut SimRng::seed_from_u64(seed))
    }

    fn batch(p: &BatchParams, seed: u64) -> SwfTrace {
        generate_batch(p, &mut SimRng::seed_from_u64(seed))
    }

    #[test]
    fn progress_is_reported_per_day_and_changes_nothing() {
        let (w, seed) = default_web();
        let w = WebParams { days: 4, ..w };
        let mut calls = Vec::new();
        let observed = generate_web_observed(&w, &mut SimRng::seed_from_u64(seed), &mut |d, n| {
            calls.push((d, n))
        });
        assert_eq!(calls, [(1, 4), (2, 4), (3, 4), (4, 4)]);
        assert_eq!(observed, web(&w, seed));

        let (b, seed) = default_batch();
        let b = BatchParams { days: 5, ..b };
        let mut calls = Vec::new();
        let observed = generate_batch_observed(&b, &mut SimRng::seed_from_u64(seed), &mut |d, n| {
            calls.push((d, n))
        });
        // Every day of the window once, in order (a day without a draw is
        // skipped), the last one at the end.
        assert_eq!(calls.last(), Some(&(5, 5)));
        assert!(calls.windows(2).all(|c| c[0].0 < c[1].0), "{calls:?}");
        assert!(calls.len() >= 4, "{calls:?}");
        assert_eq!(render_swf(&observed, &[]), render_swf(&batch(&b, seed), &[]));
    }

    #[test]
    fn profiles_hand_checked() {
        assert_eq!(web_daily(4.0), 1.0);
        assert_eq!(web_daily(20.0), 4.0);
        // Half-way up the rise (12:00): s = 0.5 -> 1 + 3 * 0.25.
        assert!((web_daily(12.0) - 1.75).abs() < 1e-12);
        // Half-way down the fall (00:00): s = 0.5.
        assert!((web_daily(0.0) - 1.75).abs() < 1e-12);
        let (c, mean_d) = web_norms();
        // mean of s^2 over a half-cosine is 3/8: mean(D) = 1 + 3 * 3/8.
        assert!((mean_d - 2.125).abs() < 1e-9, "{mean_d}");
        // Mean of W alone is (5 + 2 * 0.75) / 7; D*W is close to the product.
        assert!((c / (2.125 * 6.5 / 7.0) - 1.0).abs() < 0.01, "{c}");
        let mon = DEFAULT_START as f64;
        assert_eq!(weekend_weight(mon + 2.0 * 86400.0), 0.0); // Wednesday
        assert_eq!(weekend_weight(mon + 5.5 * 86400.0), 1.0); // Saturday noon
        assert!((weekend_weight(mon + 5.0 * 86400.0) - 0.5).abs() < 1e-12); // Sat 00:00
        assert!((weekend_weight(mon + 7.0 * 86400.0) - 0.5).abs() < 1e-9); // next Mon 00:00
        assert_eq!(weekend_weight(mon + 7.0 * 86400.0 + 2.0 * 3600.0), 0.0);
        // Batch: weekday 12:00 is 1, 03:00 is the night level, weekend x0.3.
        assert_eq!(batch_profile(mon + 12.0 * 3600.0), 1.0);
        assert_eq!(batch_profile(mon + 3.0 * 3600.0), BATCH_NIGHT_LEVEL);
        assert_eq!(batch_profile(mon + 5.0 * 86400.0 + 12.0 * 3600.0), 0.3);
        // Weekly mean of the baseline is base_rate.
        let week: f64 = (0..10080)
            .map(|i| web_baseline(1000.0, DEFAULT_START + 60 * i))
            .sum();
        assert!((week / 10080.0 - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn batch_expectations_hand_checked() {
        // 0.4 + 0.36 + 0.56 + 0.88 + 1.12 + 1.12 + 0.32 = 4.76, plus
        // 0.06 * mean(odd sizes) = 0.06 * 269/19.
        let expect = 4.76 + 0.06 * 269.0 / 19.0;
        assert!((batch_mean_procs(100) - expect).abs() < 1e-9);
        // Uncapped log-normal mean is median * exp(sigma^2 / 2) = 3491.9 s;
        // the 3-day cap removes only a little.
        let uncapped = 1500.0 * (1.3f64 * 1.3 / 2.0).exp();
        let m = batch_mean_run();
        assert!(m < uncapped + 0.5 && m > uncapped - 20.0, "{m} vs {uncapped}");
        // Sizes capped at 16 nodes.
        assert!(batch_mean_procs(16) < batch_mean_procs(100));
    }

    #[test]
    fn web_is_deterministic() {
        let p = WebParams {
            days: 3,
            ..default_web().0
        };
        assert_eq!(web(&p, 7), web(&p, 7));
        assert_ne!(web(&p, 7), web(&p, 8));
    }

    #[test]
    fn web_shape() {
        let (p, seed) = default_web();
        let s = web(&p, seed);
        assert_eq!((s.step, s.start, s.len()), (60, DEFAULT_START, 30 * 1440));
        assert!(s.values.iter().all(|&v| v >= 0.0 && v.fract() == 0.0));
        // Mean close to base_rate (30 days = 4 weeks + Mon, Tue; crowds add a little).
        let mean = s.mean();
        assert!(mean > 0.97 * 2000.0 && mean < 1.08 * 2000.0, "mean {mean}");
        // Hourly peak / mean.
        let hourly = s.resample_sum(3600).unwrap();
        let ratio = hourly.max() / hourly.mean();
        assert!((2.0..=6.0).contains(&ratio), "hourly peak/mean {ratio}");
        // Weekends lower than weekdays, by about a quarter.
        let (mut we, mut wd) = ((0.0, 0), (0.0, 0));
        for (i, &v) in s.values.iter().enumerate() {
            let acc = if weekday(s.time_of(i)) >= 5 {
                &mut we
            } else {
                &mut wd
            };
            acc.0 += v;
            acc.1 += 1;
        }
        let weekend_ratio = (we.0 / we.1 as f64) / (wd.0 / wd.1 as f64);
        assert!(
            weekend_ratio > 0.65 && weekend_ratio < 0.85,
            "weekend/weekday {weekend_ratio}"
        );
        // Night trough (03-05 h) well under the evening (18-22 h).
        let band = |a: i64, b: i64| {
            let v: Vec<f64> = (0..s.len())
                .filter(|&i| (a * 3600..b * 3600).contains(&second_of_day(s.time_of(i))))
                .map(|i| s.values[i])
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let (night, evening) = (band(3, 5), band(18, 22));
        assert!(
            evening / night > 3.0 && evening / night < 4.5,
            "evening/night {}",
            evening / night
        );
    }

    #[test]
    fn web_flash_crowds_visible() {
        let (p, seed) = default_web();
        let crowds = draw_flash_crowds(&p, &mut SimRng::seed_from_u64(seed));
        assert_eq!(crowds.len(), 3);
        let s = web(&p, seed);
        for f in &crowds {
            assert!(f.onset >= p.start as f64 && f.onset < (s.end() - 6 * 3600) as f64);
            assert!((600.0..1800.0).contains(&f.rise));
            assert!((2.0..4.0).contains(&f.multiplier));
            assert!((3600.0..3.0 * 3600.0).contains(&f.decay));
            // Ten minutes around the top against the noise-free baseline.
            let top = f.top() as i64;
            let (mut got, mut base) = (0.0, 0.0);
            for k in -5..5 {
                let t = top - top.rem_euclid(60) + 60 * k;
                got += s.value_at(t);
                base += web_baseline(p.base_rate, t);
            }
            let expect = (base + 10.0 * f.extra * 0.9) / base;
            assert!(
                got / base > 1.3 && got / base > 0.85 * expect,
                "crowd at {}: {}",
                f.onset,
                got / base
            );
        }
        let none = web(&WebParams { flash_crowds: 0, ..p }, seed);
        assert!(none.values.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn batch_is_deterministic() {
        let p = BatchParams {
            days: 5,
            ..default_batch().0
        };
        assert_eq!(batch(&p, 11), batch(&p, 11));
        assert_ne!(batch(&p, 11), batch(&p, 12));
    }

    fn check_batch_shape(p: &BatchParams, seed: u64) -> f64 {
        let t = batch(p, seed);
        let end = p.start + p.days as i64 * DAY;
        assert!(!t.jobs.is_empty());
        assert!(t.jobs.iter().enumerate().all(|(i, j)| j.id == i as u64 + 1));
        assert!(t.jobs.windows(2).all(|w| w[0].submit <= w[1].submit));
        assert!(t.jobs.iter().all(|j| j.submit >= p.start && j.submit < end));
        assert!(t.jobs.iter().all(|j| j.procs >= 1 && j.procs <= p.nodes));
        assert!(t.jobs.iter().all(|j| j.run >= 1 && j.run <= BATCH_RUN_CAP));
        assert!(t.jobs.iter().all(|j| j.wait == 0 && j.status == 1));
        let busy = t.mean_busy(p.start, end);
        let target = p.target_load * p.nodes as f64;
        assert!(
            (busy / target - 1.0).abs() <= 0.15,
            "seed {seed}: busy {busy} vs target {target}"
        );
        busy
    }

    #[test]
    fn batch_shape() {
        let (p, seed) = default_batch();
        check_batch_shape(&p, seed);
        let t = batch(&p, seed);
        let n = t.jobs.len() as f64;
        // Mostly powers of two, more small jobs than large ones.
        let pow2 = t.jobs.iter().filter(|j| j.procs.is_power_of_two()).count() as f64;
        assert!(pow2 / n > 0.9, "{}", pow2 / n);
        let count = |k: u32| t.jobs.iter().filter(|j| j.procs == k).count();
        assert!(count(1) > count(2) && count(2) > count(8) && count(8) > count(32) && count(32) > count(64));
        // Median run time 20-30 minutes; a heavy tail.
        let mut runs: Vec<u64> = t.jobs.iter().map(|j| j.run).collect();
        runs.sort_unstable();
        let median = runs[runs.len() / 2];
        assert!((1200..=1800).contains(&median), "median {median}");
        assert!(*runs.last().unwrap() > 12 * 3600);
        // Submissions: working hours busier than nights, weekdays than weekends.
        let per_hour = |pred: &dyn Fn(i64) -> bool| {
            let hours = (0..30 * 24).filter(|h| pred(p.start + h * 3600)).count() as f64;
            t.jobs.iter().filter(|j| pred(j.submit)).count() as f64 / hours
        };
        let work = per_hour(&|s| weekday(s) < 5 && (9..17).contains(&(second_of_day(s) / 3600)));
        let night = per_hour(&|s| weekday(s) < 5 && (0..6).contains(&(second_of_day(s) / 3600)));
        let weekday_rate = per_hour(&|s| weekday(s) < 5);
        let weekend_rate = per_hour(&|s| weekday(s) >= 5);
        assert!(work > 4.0 * night, "work {work}/h night {night}/h");
        assert!(
            weekend_rate < 0.5 * weekday_rate,
            "weekend {weekend_rate}/h weekday {weekday_rate}/h"
        );
    }

    #[test]
    fn batch_load_across_seeds_and_sizes() {
        for seed in [3, 4, 5] {
            check_batch_shape(
                &BatchParams {
                    target_load: 0.6,
                    ..default_batch().0
                },
                seed,
            );
        }
        // Small cluster: sizes capped at 16, load still on target.
        check_batch_shape(
            &BatchParams {
                nodes: 16,
                ..default_batch().0
            },
            6,
        );
    }

    #[test]
    fn degenerate_params_give_empty_not_panic() {
        let (p, _) = default_batch();
        assert!(batch(&BatchParams { nodes: 0, ..p }, 1).jobs.is_empty());
        assert!(
            batch(
                &BatchParams {
                    target_load: 0.0,
                    ..p
                },
                1
            )
            .jobs
            .is_empty()
        );
        assert!(
            batch(
                &BatchParams {
                    target_load: f64::NAN,
                    ..p
                },
                1
            )
            .jobs
            .is_empty()
        );
        assert!(batch(&BatchParams { days: 0, ..p }, 1).jobs.is_empty());
        assert!(
            web(
                &WebParams {
                    days: 0,
                    ..default_web().0
                },
                1
            )
            .is_empty()
        );
        assert!(BatchParams { nodes: 0, ..p }.validate().is_err());
        for target_load in [-1.0, 0.0, 1.01, 5.0, f64::NAN] {
            let e = BatchParams { target_load, ..p }.validate().unwrap_err();
            assert!(e.contains("fraction of processors busy, in (0, 1]"), "{e}");
        }
        assert!(
            BatchParams {
                target_load: 1.0,
                ..p
            }
            .validate()
            .is_ok()
        );
        assert!(p.validate().is_ok());
        let (w, _) = default_web();
        assert!(w.validate().is_ok());
        assert!(
            WebParams {
                base_rate: f64::INFINITY,
                ..w
            }
            .validate()
            .is_err()
        );
        assert!(
            WebParams {
                flash_crowds: 721,
                ..w
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn commands_match_the_cli_spelling() {
        let (w, ws) = default_web();
        assert_eq!(
            web_command(&w, ws, "traces/ecommerce-30d.csv"),
            "slivers trace generate web --days 30 --seed 1 --start 2026-01-05 --base-rate 2000 --flash-crowds 3 --out traces/ecommerce-30d.csv"
        );
        let (b, bs) = default_batch();
        assert_eq!(
            batch_command(&b, bs, "traces/batch-30d.swf"),
            "slivers trace generate batch --days 30 --seed 2 --start 2026-01-05 --nodes 100 --target-load 0.35 --out traces/batch-30d.swf"
        );
        let readme = std::fs::read_to_string(format!("{TRACES}/README.md")).unwrap();
        assert!(readme.contains(&web_command(&w, ws, "traces/ecommerce-30d.csv")));
        assert!(readme.contains(&batch_command(&b, bs, "traces/batch-30d.swf")));
    }

    /// The committed traces are exactly what the generators produce. With
    /// `SLIVERS_REGENERATE_TRACES=1` in the environment, rewrites them instead.
    #[test]
    fn embedded_traces_match_generator() {
        let (w, ws) = default_web();
        let series = web(&w, ws);
        let csv = render_series_csv(&series).unwrap();
        let (b, bs) = default_batch();
        let trace = batch(&b, bs);
        let swf = render_swf(&trace, &batch_header_comments(&b, bs)).unwrap();
        let files = [("ecommerce-30d.csv", csv), ("batch-30d.swf", swf)];
        let regenerate = std::env::var_os("SLIVERS_REGENERATE_TRACES").is_some_and(|v| v == "1");
        for (name, text) in files {
            let path = std::path::PathBuf::from(format!("{TRACES}/{name}"));
            if regenerate {
                super::super::write_atomic(&path, text.as_bytes()).unwrap();
            }
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == text.as_bytes(),
                "{} differs from the generator output; rerun with SLIVERS_REGENERATE_TRACES=1 if the change is intended",
                path.display()
            );
        }
        // And they read back to exactly the generated values.
        let csv_path = std::path::PathBuf::from(format!("{TRACES}/ecommerce-30d.csv"));
        assert_eq!(super::super::read_series_csv(&csv_path).unwrap(), series);
        let swf_path = std::path::PathBuf::from(format!("{TRACES}/batch-30d.swf"));
        assert_eq!(super::super::read_swf(&swf_path).unwrap(), trace);
    }
}
