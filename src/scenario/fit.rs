//! Whether each guest's trace fits the scenario: how much of the duration
//! the trace window covers, gaps inside it, the jobs in it, and its peak
//! against the cluster (scenarios/README.md, "Trace fit").
//!
//! [`super::Scenario::parse`] computes one [`GuestFit`] per guest. A
//! finding over an error threshold stops validation with a
//! [`super::ScenarioError::Invalid`] unless the guest's `accept` key names
//! its [`Check`]; milder findings (and accepted errors) are warnings the
//! command line prints before a run.

use crate::trace::generate::BatchParams;
use crate::trace::time::format_datetime;
use crate::trace::{Gap, Series, SwfTrace};

/// A web trace (file or generated) covering less than this fraction of the
/// duration is an error. A batch log's span is only warned about: a log's
/// quiet stretches are part of its workload.
pub const COVERAGE_ERROR_BELOW: f64 = 0.5;
/// A trace covering less than this fraction of the duration is a warning.
pub const COVERAGE_WARN_BELOW: f64 = 0.99;
/// A peak above this many times the cluster is an error (above 1× a warning).
pub const PEAK_ERROR_ABOVE: f64 = 2.0;
/// Gaps of more than this many steps inside the window are a warning.
pub const GAP_WARN_STEPS: i64 = 5;

/// One kind of check, named in a guest's `accept` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// The share of the duration the trace covers, and gaps inside it.
    Coverage,
    /// The peak demand against the cluster.
    Peak,
    /// A window with no jobs.
    Empty,
}

impl Check {
    /// Every check, in the order of their names in the docs.
    pub const ALL: [Check; 3] = [Check::Coverage, Check::Peak, Check::Empty];

    /// Its name in `accept`.
    pub fn name(self) -> &'static str {
        match self {
            Check::Coverage => "coverage",
            Check::Peak => "peak",
            Check::Empty => "empty",
        }
    }

    /// The check named `s`.
    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Something about a guest's trace worth saying before a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// `Some(expected)` when over the error threshold: what would have fit.
    pub error: Option<String>,
    /// An error the guest's `accept` key accepts (a warning then).
    pub accepted: bool,
    /// What was found.
    pub message: String,
}

/// How one guest's trace window fits the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestFit {
    /// `guest[i]`.
    pub key: String,
    /// The guest's name.
    pub guest: String,
    /// One line: the data span against the duration, gaps, jobs, peak.
    pub report: String,
    /// Warnings and errors, in check order.
    pub findings: Vec<Finding>,
}

impl GuestFit {
    /// The warnings to print before a run: findings under the error
    /// thresholds, and accepted errors.
    pub fn warnings(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.error.is_none() || f.accepted)
            .map(|f| {
                let accepted = if f.accepted {
                    format!(" (accepted by accept = [\"{}\"])", f.check.name())
                } else {
                    String::new()
                };
                format!("{} \"{}\": {}{accepted}", self.key, self.guest, f.message)
            })
            .collect()
    }

    /// The first error not accepted: `(check, expected, found)`.
    pub fn error(&self) -> Option<(Check, &str, &str)> {
        self.findings.iter().find_map(|f| match &f.error {
            Some(expected) if !f.accepted => Some((f.check, expected.as_str(), f.message.as_str())),
            _ => None,
        })
    }

    fn push(&mut self, check: Check, error: Option<String>, message: String) {
        self.findings.push(Finding {
            check,
            error,
            accepted: false,
            message,
        });
    }

    /// Marks the errors of the checks in `accept` as accepted.
    pub(super) fn accept(&mut self, accept: &[Check]) {
        for f in &mut self.findings {
            f.accepted = f.error.is_some() && accept.contains(&f.check);
        }
        self.findings.sort_by_key(|f| f.check);
    }
}

/// The window replayed: `[start, start + span)`, unix seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub start: i64,
    pub span: i64,
}

impl Window {
    fn end(&self) -> i64 {
        self.start.saturating_add(self.span)
    }

    /// Seconds of `[from, to)` inside the window.
    fn overlap(&self, from: i64, to: i64) -> i64 {
        (to.min(self.end()) - from.max(self.start)).max(0)
    }

    /// How many of the `gap.steps` points of `step` seconds from
    /// `gap.from` overlap the window.
    fn points_of(&self, gap: &Gap, step: i64) -> i64 {
        let step = step.max(1);
        let first = (self.start.saturating_sub(gap.from)).div_euclid(step).max(0);
        let past = (self.end().saturating_sub(gap.from))
            .saturating_add(step - 1)
            .div_euclid(step)
            .min(gap.steps);
        (past - first).max(0)
    }

    fn describe(&self) -> String {
        format!(
            "window {} + {}",
            format_datetime(self.start),
            span_text(self.span)
        )
    }

    /// The coverage part of a report, and a finding when short.
    fn coverage(&self, fit: &mut GuestFit, covered: i64, error_below: f64, what: &str) -> String {
        let share = covered as f64 / self.span.max(1) as f64;
        let text = format!(
            "{:.1} % ({} of {})",
            share * 100.0,
            span_text(covered),
            span_text(self.span)
        );
        if share < COVERAGE_WARN_BELOW {
            let error = (share < error_below).then(|| {
                format!(
                    "a trace covering at least {:.0} % of the duration (or accept = [\"coverage\"] on the guest)",
                    error_below * 100.0
                )
            });
            fit.push(
                Check::Coverage,
                error,
                format!("{what} {text} of the {}", self.describe()),
            );
        }
        text
    }
}

/// `secs` in days, or hours under two days, or seconds under two hours.
fn span_text(secs: i64) -> String {
    match secs {
        s if s >= 2 * 86_400 => format!("{:.1} days", s as f64 / 86_400.0),
        s if s >= 7200 => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{s} s"),
    }
}

/// The peak check: `need` against `cluster`, both in `unit`.
fn peak(fit: &mut GuestFit, need: f64, cluster: f64, unit: &str, what: &str) {
    let ratio = need / cluster.max(1.0);
    if ratio > 1.0 {
        let error = (ratio > PEAK_ERROR_ABOVE).then(|| {
            format!(
                "a peak of at most {PEAK_ERROR_ABOVE}× the cluster's {cluster} {unit} (or accept = [\"peak\"] on the guest)"
            )
        });
        fit.push(
            Check::Peak,
            error,
            format!("{what}: {need:.0} {unit}, {ratio:.1}× the {cluster} {unit} the cluster holds"),
        );
    }
}

/// A web guest's trace file: `raw` as read (its step and gaps), `minute`
/// normalised to requests per minute, and the units its peak needs.
pub(super) fn web_file(
    fit: &mut GuestFit,
    raw: &Series,
    gaps: &[Gap],
    minute: &Series,
    w: Window,
    units: impl Fn(f64) -> f64,
    cluster_units: u64,
) {
    let overlap = w.overlap(raw.start, raw.end());
    // Seconds and points missing inside the window (a gap may straddle it).
    let (mut missing, mut missing_points) = (0, 0);
    let (mut long, mut longest) = (0, None::<Gap>);
    for g in gaps {
        let inside = w.overlap(g.from, g.from.saturating_add(g.steps.saturating_mul(raw.step)));
        missing += inside;
        missing_points += w.points_of(g, raw.step);
        if inside > 0 && g.steps > GAP_WARN_STEPS {
            long += 1;
            if longest.is_none_or(|l| g.steps > l.steps) {
                longest = Some(*g);
            }
        }
    }
    let covered = w.coverage(
        fit,
        overlap - missing,
        COVERAGE_ERROR_BELOW,
        "the trace's data covers",
    );
    if let Some(l) = longest {
        fit.push(
            Check::Coverage,
            None,
            format!(
                "{long} gaps of more than {GAP_WARN_STEPS} steps inside the window, read as no demand (longest {} steps of {} s from {})",
                l.steps,
                raw.step,
                format_datetime(l.from)
            ),
        );
    }
    let top = minute.max_in(w.start, w.end());
    let need = units(top);
    web_peak_finding(fit, need, cluster_units);
    fit.report = format!(
        "trace {} .. {} at {} s steps; {}: covered {covered}, {} missing points, {long} gaps over {GAP_WARN_STEPS} steps; peak {top:.0} requests/minute, {need:.0} units of the cluster's {cluster_units}",
        format_datetime(raw.start),
        format_datetime(raw.end()),
        raw.step,
        w.describe(),
        missing_points,
    );
}

/// The peak check of a web guest: `need` units against the cluster's.
fn web_peak_finding(fit: &mut GuestFit, need: f64, cluster_units: u64) {
    peak(
        fit,
        need,
        cluster_units as f64,
        "units",
        "the window's peak demand",
    );
}

/// The peak check of a generated web trace: `need` units, sized by
/// `peak_units` or, from `sampled = (peak requests a minute, seed)`, by
/// `requests_per_unit`.
pub(super) fn web_peak(fit: &mut GuestFit, need: f64, cluster_units: u64, sampled: Option<(f64, u64)>) {
    web_peak_finding(fit, need, cluster_units);
    if let Some((top, seed)) = sampled {
        fit.report += &format!("; peak {top:.0} requests/minute (drawn with seed {seed})");
    }
    fit.report += &format!("; peak {need:.0} units of the cluster's {cluster_units}");
}

/// A generated trace spanning `[from, to)` (unix seconds): the share of
/// the window it covers.
pub(super) fn generated(
    fit: &mut GuestFit,
    w: Window,
    (from, to): (i64, i64),
    error_below: f64,
    what: String,
) {
    let covered = w.coverage(
        fit,
        w.overlap(from, to),
        error_below,
        "the generated trace covers",
    );
    fit.report = format!(
        "generated per run ({what}), {} .. {}; {}: covered {covered}",
        format_datetime(from),
        format_datetime(to),
        w.describe()
    );
}

/// What a batch guest's VMs are.
pub(super) struct BatchShape {
    pub procs_per_vm: u32,
    pub vm_units: u32,
    pub arrive_at_start: bool,
    /// VMs of `vm_units` the whole cluster holds.
    pub cluster_vms: u64,
    /// The allocation period, seconds.
    pub period: i64,
}

impl BatchShape {
    fn vms(&self, procs: u32) -> u64 {
        procs.div_ceil(self.procs_per_vm).max(1) as u64
    }

    /// The peak check of a batch guest: `top` VMs at once in the window
    /// (if known) and the machine the log was recorded on (`label procs`,
    /// e.g. `MaxProcs 100`, if the header says), whichever is larger,
    /// against the cluster. Returns the machine's part of the report.
    fn peak(&self, fit: &mut GuestFit, top: Option<u64>, procs: Option<u32>, label: &str) -> String {
        let machine = procs.map(|p| (p, self.vms(p)));
        let mut what = Vec::new();
        if let Some(t) = top {
            what.push(format!(
                "the window's jobs need {t} VMs at once (as the trace scheduled them)"
            ));
        }
        if let Some((p, vms)) = machine {
            what.push(format!("the log's machine ({label} {p}) is {vms} VMs"));
        }
        let need = top.into_iter().chain(machine.map(|m| m.1)).max().unwrap_or(0);
        peak(
            fit,
            need as f64,
            self.cluster_vms as f64,
            "VMs",
            &format!("{}; the peak", what.join(" and ")),
        );
        match machine {
            Some((p, vms)) => format!("{label} {p} = {vms} VMs"),
            None => format!("no {label} in the header"),
        }
    }
}

/// Why a batch window cannot run at all: its start is outside the trace.
pub(super) struct OutsideTrace {
    /// The first and last arrival of the trace, unix seconds.
    pub first: i64,
    pub last: i64,
}

/// A batch guest's trace file.
pub(super) fn batch_file(
    fit: &mut GuestFit,
    trace: &SwfTrace,
    w: Window,
    shape: &BatchShape,
) -> Result<(), OutsideTrace> {
    let arrival = |j: &crate::trace::Job| {
        if shape.arrive_at_start {
            j.start()
        } else {
            j.submit
        }
    };
    let first = trace.jobs.iter().map(arrival).min().unwrap_or(trace.unix_start);
    let last = trace.jobs.iter().map(arrival).max().unwrap_or(trace.unix_start);
    let end = trace
        .jobs
        .iter()
        .map(|j| arrival(j).saturating_add(j.run as i64))
        .max();
    if w.end() <= first || w.start > last {
        return Err(OutsideTrace { first, last });
    }
    let (mut jobs, mut too_large, mut short) = (0u64, 0u64, 0u64);
    let mut events: Vec<(i64, i64)> = Vec::new();
    for j in &trace.jobs {
        let at = arrival(j);
        if at < w.start || at >= w.end() {
            continue;
        }
        jobs += 1;
        let vms = shape.vms(j.procs);
        if vms > shape.cluster_vms {
            too_large += 1;
            continue;
        }
        if (j.run as i64) < shape.period {
            short += 1;
        }
        events.push((at, vms as i64));
        events.push((at.saturating_add(j.run as i64), -(vms as i64)));
    }
    // Ends before starts at the same instant.
    events.sort_unstable();
    let (mut busy, mut top) = (0i64, 0i64);
    for (_, d) in events {
        busy += d;
        top = top.max(busy);
    }
    let covered = w.coverage(
        fit,
        w.overlap(first, end.unwrap_or(last).max(last)),
        0.0,
        "the trace's jobs span",
    );
    if jobs == 0 {
        fit.push(
            Check::Empty,
            Some("at least one job arriving in the window (or accept = [\"empty\"] on the guest)".into()),
            format!("no job arrives in the {}", w.describe()),
        );
    }
    if too_large > 0 {
        fit.push(
            Check::Peak,
            None,
            format!(
                "{too_large} of the window's {jobs} jobs need more than the {} VMs the cluster holds and are left out",
                shape.cluster_vms
            ),
        );
    }
    let (procs, label) = match (trace.max_procs, trace.max_nodes) {
        (Some(p), _) => (Some(p), "MaxProcs"),
        (None, n) => (n, "MaxNodes"),
    };
    let machine = shape.peak(fit, Some(top as u64), procs, label);
    fit.report = format!(
        "jobs {} .. {}; {}: covered {covered}, {jobs} jobs ({short} shorter than the period, {too_large} too large); peak {top} VMs at once, {machine}, cluster {} VMs of {} unit(s)",
        format_datetime(first),
        format_datetime(last),
        w.describe(),
        shape.cluster_vms,
        shape.vm_units
    );
    Ok(())
}

/// A generated batch trace spanning `span`.
pub(super) fn batch_generated(
    fit: &mut GuestFit,
    w: Window,
    span: (i64, i64),
    shape: &BatchShape,
    p: &BatchParams,
) {
    let machine = shape.peak(fit, None, Some(p.nodes), "nodes");
    generated(
        fit,
        w,
        span,
        0.0,
        format!("{machine}, target load {}", p.target_load),
    );
    fit.report += &format!(
        ", cluster {} VMs of {} unit(s)",
        shape.cluster_vms, shape.vm_units
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit() -> GuestFit {
        GuestFit {
            key: "guest[0]".into(),
            guest: "g".into(),
            report: String::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn check_names_round_trip() {
        for c in Check::ALL {
            assert_eq!(Check::parse(c.name()), Some(c));
        }
        assert_eq!(Check::parse("peaks"), None);
    }

    #[test]
    fn peak_thresholds() {
        let mut f = fit();
        peak(&mut f, 100.0, 100.0, "units", "x");
        assert!(f.findings.is_empty(), "at the cluster: nothing");
        peak(&mut f, 150.0, 100.0, "units", "x");
        assert!(f.error().is_none() && f.warnings().len() == 1);
        peak(&mut f, 250.0, 100.0, "units", "x");
        let (check, _, found) = f.error().unwrap();
        assert_eq!(check, Check::Peak);
        assert!(found.contains("2.5×"), "{found}");
        f.accept(&[Check::Peak]);
        assert!(f.error().is_none());
        assert_eq!(f.warnings().len(), 2);
        assert!(f.warnings()[1].contains("accepted"), "{:?}", f.warnings());
    }

    #[test]
    fn coverage_of_a_week_in_a_month_is_an_error() {
        let w = Window {
            start: 0,
            span: 30 * 86_400,
        };
        let mut f = fit();
        let text = w.coverage(&mut f, 7 * 86_400, COVERAGE_ERROR_BELOW, "data");
        assert_eq!(text, "23.3 % (7.0 days of 30.0 days)");
        assert_eq!(f.error().unwrap().0, Check::Coverage);
        let mut f = fit();
        w.coverage(&mut f, 20 * 86_400, COVERAGE_ERROR_BELOW, "data");
        assert!(f.error().is_none() && f.warnings().len() == 1);
        let mut f = fit();
        w.coverage(&mut f, 30 * 86_400, COVERAGE_ERROR_BELOW, "data");
        assert!(f.findings.is_empty());
    }
}
