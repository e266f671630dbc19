//! Guests: what each `[[guest]]` table becomes once validated (a
//! [`GuestSpec`] holding its workload's trace, read or to be generated),
//! with the trace-fit report of its window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slivers_policy::Resources;

use super::context::{Ctx, DAY};
use super::raw::{self, RawGenerate, RawGuest, RawTrace};
use super::workloads::cluster_vms;
use super::{ScenarioError, fit};
use crate::engine::SimTime;
use crate::model::{Quantum, WebSizing};
use crate::rng::SimRng;
use crate::trace::generate::{BatchParams, WebParams, generate_web};
use crate::trace::{Gap, Series, SwfTrace, TraceError, read_series_csv_gaps, read_swf, time};

/// Where a guest's trace comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceSource {
    /// A file, already read.
    File(PathBuf),
    /// A synthetic generator, run with the run's RNG.
    Generated,
}

/// A web guest's trace: read from a file, or generated per run.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum WebData {
    Series(Series),
    Generated(WebParams),
}

/// A batch guest's trace: read from a file, or generated per run.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum BatchData {
    Trace(SwfTrace),
    Generated(BatchParams),
}

/// A web guest's workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WebWorkload {
    /// Where the trace came from.
    pub source: TraceSource,
    pub(super) data: WebData,
    /// Unix time of simulated time zero.
    pub start: i64,
    /// `Some(units)`: the peak of the window maps to this many units.
    pub(super) peak_units: Option<f64>,
    /// Sizing, except `requests_per_unit` when `peak_units` is set.
    pub(super) sizing: WebSizing,
}

impl WebWorkload {
    /// Its sizing as validated: `max_units` is the cluster's size in units;
    /// `requests_per_unit` is resolved per run when `peak_units` is set.
    pub fn sizing(&self) -> WebSizing {
        self.sizing
    }
}

/// A batch guest's workload.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchWorkload {
    /// Where the trace came from.
    pub source: TraceSource,
    pub(super) data: BatchData,
    /// Unix time of simulated time zero.
    pub start: i64,
    /// Processors of a job per VM.
    pub procs_per_vm: u32,
    /// Sliver units of each VM.
    pub vm_units: u32,
    /// Jobs arrive at their recorded start (`submit + wait`) rather than submit.
    pub arrive_at_start: bool,
}

/// How fast a guest's VMs dirty memory: lognormal around a median, drawn
/// once per VM from the run's RNG (constant when `sigma` is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirtyRate {
    /// Median dirty rate, MiB/s.
    pub median_mibps: f64,
    /// Spread: the standard deviation of its natural log.
    pub sigma: f64,
}

impl DirtyRate {
    /// One VM's dirty rate.
    pub fn draw(&self, rng: &mut SimRng) -> f64 {
        if self.sigma > 0.0 {
            rng.lognormal(self.median_mibps.max(f64::MIN_POSITIVE).ln(), self.sigma)
        } else {
            self.median_mibps
        }
    }
}

/// A guest.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestSpec {
    /// A web service.
    Web {
        /// Its name.
        name: String,
        /// Its workload.
        workload: WebWorkload,
        /// Its VMs' dirty rate.
        dirty: DirtyRate,
    },
    /// A batch cluster.
    Batch {
        /// Its name.
        name: String,
        /// Its workload.
        workload: BatchWorkload,
        /// Its VMs' dirty rate.
        dirty: DirtyRate,
    },
}

impl GuestSpec {
    /// The guest's name.
    pub fn name(&self) -> &str {
        match self {
            GuestSpec::Web { name, .. } | GuestSpec::Batch { name, .. } => name,
        }
    }

    /// Its VMs' dirty rate.
    pub fn dirty(&self) -> DirtyRate {
        match self {
            GuestSpec::Web { dirty, .. } | GuestSpec::Batch { dirty, .. } => *dirty,
        }
    }
}

/// What validating a guest needs to know of the rest of the scenario.
pub(super) struct Cluster {
    /// The scenario's seed (a generated web trace's peak is sampled with it).
    pub(super) seed: u64,
    pub(super) hosts: u32,
    pub(super) capacity: Resources,
    pub(super) quantum: Quantum,
    pub(super) duration: SimTime,
    pub(super) period: SimTime,
}

/// Traces already read, by path.
#[derive(Debug, Default)]
pub struct TraceCache {
    series: BTreeMap<PathBuf, (Series, Vec<Gap>)>,
    swf: BTreeMap<PathBuf, SwfTrace>,
}

impl TraceCache {
    /// The series as read, and the points missing from the file.
    pub(super) fn series(&mut self, path: &Path) -> Result<(Series, Vec<Gap>), TraceError> {
        if let Some(s) = self.series.get(path) {
            return Ok(s.clone());
        }
        let s = read_series_csv_gaps(path)?;
        self.series.insert(path.to_path_buf(), s.clone());
        Ok(s)
    }

    pub(super) fn swf(&mut self, path: &Path) -> Result<SwfTrace, TraceError> {
        if let Some(t) = self.swf.get(path) {
            return Ok(t.clone());
        }
        let t = read_swf(path)?;
        self.swf.insert(path.to_path_buf(), t.clone());
        Ok(t)
    }
}

/// Generated traces start on this Monday, like the embedded ones.
const GENERATED_START: i64 = 1_767_571_200; // 2026-01-05 00:00:00 UTC

/// What a generated trace of `days` days covers: `[from, to)`, unix seconds.
fn generated_span(days: u32) -> (i64, i64) {
    (GENERATED_START, GENERATED_START + days as i64 * DAY)
}

/// A `start` whose window of `span` seconds misses the generated trace of
/// `days` days (which would run on no demand at all) is an error.
fn generated_reaches(cx: &Ctx, key: &str, start: i64, span: i64, days: u32) -> Result<(), ScenarioError> {
    let (from, to) = generated_span(days);
    if start < to && start.saturating_add(span) > from {
        return Ok(());
    }
    Err(cx.invalid(
        key,
        format!(
            "a start whose window reaches the generated trace, which covers {} .. {} (leave `start` out to begin with it)",
            time::format_datetime(from),
            time::format_datetime(to)
        ),
        format!(
            "{} (a window of {:.1} days)",
            time::format_datetime(start),
            span as f64 / 86_400.0
        ),
    ))
}

fn generator<'a>(
    cx: &Ctx,
    key: &str,
    t: &'a Option<RawTrace>,
    kind: &str,
) -> Result<Option<&'a RawGenerate>, ScenarioError> {
    match t {
        None => Err(cx.invalid(key, "a trace path or { generate = \"...\" }", "nothing")),
        Some(RawTrace::Path(_)) => Ok(None),
        Some(RawTrace::Other(v)) => Err(cx.invalid(
            key,
            format!("a trace path (a string) or a generator table {{ generate = \"{kind}\", ... }}"),
            raw::describe_mismatch::<RawGenerate>(v),
        )),
        Some(RawTrace::Generate(g)) if g.generate == kind => Ok(Some(g)),
        Some(RawTrace::Generate(g)) => Err(cx.invalid(
            format!("{key}.generate"),
            format!("\"{kind}\" for this guest"),
            format!("\"{}\"", g.generate),
        )),
    }
}

pub(super) fn validate_guest(
    cx: &Ctx,
    base: &Path,
    i: usize,
    g: &RawGuest,
    cluster: &Cluster,
    cache: &mut TraceCache,
) -> Result<(GuestSpec, fit::GuestFit), ScenarioError> {
    let (duration, max_units) = (cluster.duration, cluster.quantum.max_units);
    let key = |k: &str| format!("guest[{i}].{k}");
    let mut report = fit::GuestFit {
        key: format!("guest[{i}]"),
        guest: String::new(),
        report: String::new(),
        findings: Vec::new(),
    };
    let days = duration.as_millis().div_ceil(86_400_000) as u32;
    let span = (duration.as_millis() / 1000) as i64;
    let resolve = |p: &str| base.join(p);
    match g {
        RawGuest::Web(w) => {
            let name = w.name.clone().unwrap_or_else(|| "web".into());
            let mut read = None;
            let (source, data, start) = match generator(cx, &key("trace"), &w.trace, "web")? {
                Some(gen_) => {
                    let p = WebParams {
                        start: GENERATED_START,
                        days,
                        base_rate: cx.fraction(
                            &key("trace.base_rate"),
                            gen_.base_rate,
                            2000.0,
                            1e-3,
                            1e12,
                        )?,
                        flash_crowds: cx.count(&key("trace.flash_crowds"), gen_.flash_crowds, 3, 1000)?
                            as u32,
                    };
                    reject_batch_keys(cx, &key("trace"), gen_)?;
                    p.validate()
                        .map_err(|e| cx.invalid(key("trace"), "valid generator parameters", e))?;
                    let start = cx.start(&key("start"), &w.start, GENERATED_START)?;
                    generated_reaches(cx, &key("start"), start, span, days)?;
                    (TraceSource::Generated, WebData::Generated(p), start)
                }
                None => {
                    let Some(RawTrace::Path(p)) = &w.trace else {
                        unreachable!()
                    };
                    let file = resolve(p);
                    let (raw, gaps) = cache.series(&file)?;
                    // Demand is requests per minute whatever the file's step.
                    let series = raw.per_minute();
                    let start = cx.start(&key("start"), &w.start, raw.start)?;
                    if series.max_in(start, start + span) <= 0.0 {
                        return Err(cx.invalid(
                            key("start"),
                            format!(
                                "a window with demand inside the trace ({} .. {})",
                                time::format_datetime(series.start),
                                time::format_datetime(series.end())
                            ),
                            time::format_datetime(start),
                        ));
                    }
                    read = Some((raw, gaps));
                    (TraceSource::File(file), WebData::Series(series), start)
                }
            };
            let headroom = cx.fraction(&key("headroom"), w.headroom, 0.1, 0.0, 10.0)?;
            let hysteresis = cx.fraction(&key("hysteresis"), w.hysteresis, 0.2, 0.0, 0.99)?;
            let min_units = cx.count(&key("min_units"), w.min_units, 1, 1 << 30)? as u32;
            let (peak_units, rpu) = match (w.peak_units, w.requests_per_unit) {
                (Some(_), Some(_)) => {
                    return Err(cx.invalid(
                        key("peak_units"),
                        "either peak_units or requests_per_unit, not both",
                        "both",
                    ));
                }
                (None, Some(r)) => (
                    None,
                    cx.fraction(&key("requests_per_unit"), Some(r), 0.0, 1e-9, 1e15)?,
                ),
                (p, None) => {
                    let p = cx.fraction(&key("peak_units"), p.or(Some(100.0)), 0.0, 1.0, 1e9)?;
                    (Some(p), 1.0)
                }
            };
            let cluster_units = cluster.hosts as u64 * max_units as u64;
            let sizing = WebSizing {
                requests_per_unit: rpu,
                headroom,
                hysteresis,
                min_units,
                // A guest never asks for more than the whole cluster.
                max_units: cluster_units.min(u32::MAX as u64) as u32,
            };
            let units = |top: f64| match peak_units {
                Some(u) => u * (1.0 + headroom),
                None => top * (1.0 + headroom) / rpu,
            };
            let window = fit::Window { start, span };
            match (&read, &data) {
                (Some((raw, gaps)), WebData::Series(minute)) => {
                    fit::web_file(&mut report, raw, gaps, minute, window, units, cluster_units)
                }
                (_, WebData::Generated(p)) => {
                    fit::generated(
                        &mut report,
                        window,
                        generated_span(days),
                        fit::COVERAGE_ERROR_BELOW,
                        "web".into(),
                    );
                    // Sized by `requests_per_unit`, the peak depends on the
                    // draw: one sample with the scenario's seed stands for it.
                    let sampled = peak_units.is_none().then(|| {
                        let sample = generate_web(p, &mut SimRng::seed_from_u64(cluster.seed));
                        (sample.max_in(start, start + span), cluster.seed)
                    });
                    let top = sampled.map_or(0.0, |s| s.0);
                    fit::web_peak(&mut report, units(top), cluster_units, sampled);
                }
                (_, WebData::Series(_)) => unreachable!("a series is read from a file"),
            }
            let accept = accepted(cx, &key("accept"), &w.accept)?;
            report.guest = name.clone();
            report.accept(&accept);
            let spec = GuestSpec::Web {
                dirty: dirty_rate(cx, &key, w.dirty_mibps, w.dirty_sigma, 25.0)?,
                name,
                workload: WebWorkload {
                    source,
                    data,
                    start,
                    peak_units,
                    sizing,
                },
            };
            Ok((spec, report))
        }
        RawGuest::Batch(b) => {
            let name = b.name.clone().unwrap_or_else(|| "batch".into());
            let (source, data, start) = match generator(cx, &key("trace"), &b.trace, "batch")? {
                Some(gen_) => {
                    if gen_.base_rate.is_some() || gen_.flash_crowds.is_some() {
                        return Err(cx.invalid(
                            key("trace"),
                            "only nodes and target_load for a batch generator",
                            "web keys",
                        ));
                    }
                    let p = BatchParams {
                        start: GENERATED_START,
                        days,
                        nodes: cx.positive(&key("trace.nodes"), gen_.nodes, 100, 1 << 24)? as u32,
                        target_load: cx.fraction(
                            &key("trace.target_load"),
                            gen_.target_load,
                            0.35,
                            0.0,
                            1.0,
                        )?,
                    };
                    let start = cx.start(&key("start"), &b.start, GENERATED_START)?;
                    p.validate()
                        .map_err(|e| cx.invalid(key("trace"), "valid generator parameters", e))?;
                    generated_reaches(cx, &key("start"), start, span, days)?;
                    (TraceSource::Generated, BatchData::Generated(p), start)
                }
                None => {
                    let Some(RawTrace::Path(p)) = &b.trace else {
                        unreachable!()
                    };
                    let file = resolve(p);
                    let trace = cache.swf(&file)?;
                    let first = trace.jobs.first().map(|j| j.submit).unwrap_or(trace.unix_start);
                    let start = cx.start(&key("start"), &b.start, first)?;
                    (TraceSource::File(file), BatchData::Trace(trace), start)
                }
            };
            let procs_per_vm = cx.positive(&key("procs_per_vm"), b.procs_per_vm, 1, 1 << 30)? as u32;
            let vm_units = match b.vm_units.unwrap_or(1) {
                u if u >= 1 && u <= max_units as i64 => u as u32,
                u => {
                    return Err(cx.invalid(
                        key("vm_units"),
                        format!("from 1 to {max_units} units (a VM is at most one host)"),
                        u,
                    ));
                }
            };
            let arrive_at_start = match b.arrival.as_deref() {
                None | Some("start") => true,
                Some("submit") => false,
                Some(other) => {
                    return Err(cx.invalid(
                        key("arrival"),
                        "\"start\" or \"submit\"",
                        format!("\"{other}\""),
                    ));
                }
            };
            let shape = fit::BatchShape {
                procs_per_vm,
                vm_units,
                arrive_at_start,
                cluster_vms: cluster_vms(&cluster.capacity, &cluster.quantum, cluster.hosts, vm_units),
                period: (cluster.period.as_millis() / 1000) as i64,
            };
            let window = fit::Window { start, span };
            match &data {
                BatchData::Trace(trace) => {
                    fit::batch_file(&mut report, trace, window, &shape).map_err(|o| {
                        cx.invalid(
                            key("start"),
                            format!(
                                "a start whose window reaches the trace's jobs, which arrive from {} to {}",
                                time::format_datetime(o.first),
                                time::format_datetime(o.last)
                            ),
                            format!(
                                "{} (a window of {:.1} days)",
                                time::format_datetime(start),
                                span as f64 / 86_400.0
                            ),
                        )
                    })?
                }
                BatchData::Generated(p) => {
                    fit::batch_generated(&mut report, window, generated_span(days), &shape, p)
                }
            }
            let accept = accepted(cx, &key("accept"), &b.accept)?;
            report.guest = name.clone();
            report.accept(&accept);
            let spec = GuestSpec::Batch {
                dirty: dirty_rate(cx, &key, b.dirty_mibps, b.dirty_sigma, 50.0)?,
                name,
                workload: BatchWorkload {
                    source,
                    data,
                    start,
                    procs_per_vm,
                    vm_units,
                    arrive_at_start,
                },
            };
            Ok((spec, report))
        }
    }
}

/// The checks a guest's `accept` key names: a list of check names, or one
/// name alone.
fn accepted(cx: &Ctx, key: &str, accept: &Option<toml::Value>) -> Result<Vec<fit::Check>, ScenarioError> {
    let expected = || {
        let names: Vec<String> = (fit::Check::ALL.iter())
            .map(|c| format!("\"{}\"", c.name()))
            .collect();
        format!("a list of checks from {}", names.join(", "))
    };
    let one = |v: &toml::Value| match v {
        toml::Value::String(a) => {
            fit::Check::parse(a).ok_or_else(|| cx.invalid(key, expected(), format!("\"{a}\"")))
        }
        other => Err(cx.invalid(key, expected(), raw::describe_value(other))),
    };
    match accept {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items.iter().map(one).collect(),
        Some(v) => one(v).map(|c| vec![c]),
    }
}

fn dirty_rate(
    cx: &Ctx,
    key: &dyn Fn(&str) -> String,
    median: Option<f64>,
    sigma: Option<f64>,
    default: f64,
) -> Result<DirtyRate, ScenarioError> {
    Ok(DirtyRate {
        median_mibps: cx.fraction(&key("dirty_mibps"), median, default, 0.0, 1e6)?,
        sigma: cx.fraction(&key("dirty_sigma"), sigma, 0.0, 0.0, 5.0)?,
    })
}

fn reject_batch_keys(cx: &Ctx, key: &str, g: &RawGenerate) -> Result<(), ScenarioError> {
    if g.nodes.is_some() || g.target_load.is_some() {
        return Err(cx.invalid(
            key,
            "only base_rate and flash_crowds for a web generator",
            "batch keys",
        ));
    }
    Ok(())
}
