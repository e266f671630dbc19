//! VM-request scenarios: a file with a `[vm_requests]` table instead of
//! guests. Hosts, duration and the sampling period come from the usual keys;
//! see `scenarios/README.md`.
//!
//! ```toml
//! duration = "30d"
//! period = "1h"                 # utilization.csv sampling interval
//! [hosts]
//! count = 100
//! [vm_requests]
//! trace = { generate = "vm-requests", vms = 125000 }   # or a path
//! policy = "best-fit"           # first-fit | best-fit | worst-fit | energy-aware
//! on_full = "reject"            # reject | queue
//! ```

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use slivers_policy::PlacementKind;

use super::ScenarioError;
use super::context::{Ctx, DAY, START_FORMS, parse_duration, read_text};
use super::header::{Header, PeriodUse, deref_header, raw_header};
use super::raw::{RawDuration, RawHosts};
use crate::engine::SimTime;
use crate::rng::SimRng;
use crate::trace::vmreq::{
    DEFAULT_LOAD, VmReqParams, VmRequestTrace, generate_vm_requests, read_vm_requests,
};

/// What to do with a VM no host has room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFull {
    /// Refuse it; its deletion is ignored.
    Reject,
    /// Keep it waiting, in arrival order, until a departure makes room; it
    /// then runs for its full lifetime.
    Queue,
}

impl OnFull {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            OnFull::Reject => "reject",
            OnFull::Queue => "queue",
        }
    }
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawVmScenario {
    pub name: Option<String>,
    pub seed: Option<i64>,
    pub output: Option<String>,
    pub duration: Option<RawDuration>,
    pub period: Option<RawDuration>,
    pub hosts: Option<RawHosts>,
    pub vm_requests: RawVmRequests,
}

/// `[vm_requests]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawVmRequests {
    pub trace: RawVmTrace,
    pub policy: Option<PlacementKind>,
    pub on_full: Option<OnFull>,
    pub start: Option<RawDuration>,
}

/// A trace file, or `{ generate = "vm-requests", vms, days, load }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum RawVmTrace {
    Path(String),
    Generate(RawVmGenerate),
    /// Neither: validation says why, naming the key.
    Other(toml::Value),
}

/// `trace = { generate = "vm-requests", ... }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawVmGenerate {
    pub generate: String,
    pub vms: i64,
    pub days: Option<i64>,
    pub load: Option<f64>,
}

/// Where the VMs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum VmSource {
    /// A trace file, read and cut to the window.
    File {
        /// The file.
        path: PathBuf,
        /// Its VMs created in `[start, start + duration)`, shifted to 0.
        trace: VmRequestTrace,
    },
    /// The synthetic generator, run with the scenario's seed.
    Generated(VmReqParams),
}

/// A validated VM-request scenario.
#[derive(Debug, Clone)]
pub struct VmScenario {
    /// The keys every scenario has; `period` is the sampling interval of
    /// `utilization.csv` and `seed` the generator's. Read through the
    /// scenario itself: `scenario.hosts`.
    pub header: Header,
    /// Host choice: a placement policy that needs no broker.
    pub policy: PlacementKind,
    /// Reject or queue.
    pub on_full: OnFull,
    /// Offset of the window into a trace file.
    pub start: SimTime,
    /// The VMs.
    pub source: VmSource,
}

deref_header!(VmScenario);

/// True if `text` is TOML with a `[vm_requests]` table (such a scenario is
/// loaded with [`VmScenario::load`], others with `Scenario::load`).
pub fn is_vm_scenario(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("vm_requests"))
}

/// What a command that runs guests (`slivers sweep`, `slivers live`)
/// expected instead of a VM-request scenario.
pub const GUESTS_NOT_VM_REQUESTS: &str =
    "a scenario with guests (a VM-request scenario, with [vm_requests], runs only with `slivers run`)";

/// The error for a VM-request scenario at `path` given to a command that
/// runs guests.
pub fn not_a_guest_scenario(path: &Path) -> ScenarioError {
    ScenarioError::Invalid {
        path: path.display().to_string(),
        key: "vm_requests".into(),
        expected: GUESTS_NOT_VM_REQUESTS.into(),
        found: "a [vm_requests] table".into(),
    }
}

/// True if the file at `path` is a VM-request scenario (false if unreadable:
/// the ordinary loader then reports the error).
pub fn is_vm_scenario_file(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| is_vm_scenario(&t))
}

impl VmScenario {
    /// Reads and validates a VM-request scenario, reading its trace.
    pub fn load(path: &Path) -> Result<VmScenario, ScenarioError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<VmScenario, ScenarioError> {
        let shown = path.display().to_string();
        let cx = Ctx { path: &shown };
        let raw: RawVmScenario = cx.parse_toml(text)?;
        let header = cx.header(path, text, raw_header!(raw), PeriodUse::Sampling)?;
        let (hosts, capacity, duration) = (header.hosts, header.capacity, header.duration);
        if !slivers_policy::fit::Scale::of(&capacity).exact() {
            return Err(cx.invalid(
                "hosts",
                "capacities whose least common multiple is at most 2^60 (for exact host scores)",
                capacity,
            ));
        }
        let v = &raw.vm_requests;
        let policy = v.policy.unwrap_or(PlacementKind::BestFit);
        if policy.needs_broker() {
            return Err(cx.invalid(
                "vm_requests.policy",
                "a placement policy that needs no broker (first-fit, best-fit, worst-fit or energy-aware)",
                format!(
                    "{policy}, which follows the broker's logical hosts, and a VM-request run has no broker"
                ),
            ));
        }
        if policy.needs_thermal() {
            return Err(cx.invalid(
                "vm_requests.policy",
                "a placement policy that needs no thermal model (first-fit, best-fit, worst-fit or energy-aware)",
                format!("{policy}, and a VM-request run has no [thermal] table"),
            ));
        }
        let start = vm_start(&cx, v.start.as_ref())?;
        let source = match &v.trace {
            RawVmTrace::Path(p) => {
                let file = path.parent().unwrap_or(Path::new(".")).join(p);
                let mut trace = read_vm_requests(&file)?;
                let created = (trace.vms.iter().map(|v| v.start))
                    .fold(None, |span: Option<(u64, u64)>, t| {
                        Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
                    });
                trace.window(start, duration);
                if trace.vms.is_empty() {
                    return Err(empty_window(&cx, &file, created, start, duration));
                }
                VmSource::File { path: file, trace }
            }
            RawVmTrace::Other(v) => {
                return Err(cx.invalid(
                    "vm_requests.trace",
                    "a trace path (a string) or a generator table { generate = \"vm-requests\", vms = N, ... }",
                    super::raw::describe_mismatch::<RawVmGenerate>(v),
                ));
            }
            RawVmTrace::Generate(g) => {
                if g.generate != "vm-requests" {
                    return Err(cx.invalid(
                        "vm_requests.trace.generate",
                        "\"vm-requests\"",
                        format!("\"{}\"", g.generate),
                    ));
                }
                if start != SimTime::ZERO {
                    return Err(cx.invalid(
                        "vm_requests.start",
                        "no start with a generated trace (it starts at 0)",
                        format!("{start}"),
                    ));
                }
                let whole_days = duration.0.div_ceil(DAY as u64 * 1000) as i64;
                let p = VmReqParams {
                    vms: cx.positive("vm_requests.trace.vms", Some(g.vms), 1, 1_000_000_000)?,
                    hosts,
                    capacity,
                    days: cx.positive("vm_requests.trace.days", g.days, whole_days, 3650)? as u32,
                    load: cx.fraction("vm_requests.trace.load", g.load, DEFAULT_LOAD, 1e-6, 10.0)?,
                };
                p.validate()
                    .map_err(|m| cx.invalid("vm_requests.trace", "parameters the generator accepts", m))?;
                VmSource::Generated(p)
            }
        };
        Ok(VmScenario {
            header,
            policy,
            on_full: v.on_full.unwrap_or(OnFull::Reject),
            start,
            source,
        })
    }

    /// The VMs of the run: the file's, or generated with `seed`.
    pub fn trace(&self, seed: u64) -> Cow<'_, VmRequestTrace> {
        match &self.source {
            VmSource::File { trace, .. } => Cow::Borrowed(trace),
            VmSource::Generated(p) => Cow::Owned(generate_vm_requests(p, &mut SimRng::seed_from_u64(seed))),
        }
    }
}

/// The error of a window in which the trace creates no VM: it names the
/// times at which the trace creates its VMs (`created`, ms), as offsets and
/// as the UTC date-times a date `start` would need.
fn empty_window(
    cx: &Ctx,
    file: &Path,
    created: Option<(u64, u64)>,
    start: SimTime,
    duration: SimTime,
) -> ScenarioError {
    let when = |ms: u64| {
        let secs = ms / 1000;
        let date = i64::try_from(secs).map_or_else(|_| "?".into(), crate::trace::time::format_datetime);
        (format!("{secs} s"), date)
    };
    let expected = match created {
        Some((first, last)) => {
            let ((a, da), (b, db)) = (when(first), when(last));
            format!(
                "a start whose window reaches the VMs of {}, created from {a} to {b} (as dates, {da} to {db})",
                file.display()
            )
        }
        None => format!("a trace with VMs ({} creates none)", file.display()),
    };
    let (at, date) = when(start.0);
    cx.invalid(
        "vm_requests.start",
        expected,
        format!("{at} ({date}), a window of {} s with no VM", duration.0 / 1000),
    )
}

/// `[vm_requests] start`: an offset (a duration, as before) or, as a
/// guest's `start`, a UTC date-time, read as unix seconds (for traces whose
/// times are unix seconds).
fn vm_start(cx: &Ctx, v: Option<&RawDuration>) -> Result<SimTime, ScenarioError> {
    let Some(v) = v else {
        return Ok(SimTime::ZERO);
    };
    let date = match v {
        RawDuration::Text(t) => Some(toml::Value::String(t.clone())),
        RawDuration::Other(d @ toml::Value::Datetime(_)) => Some(d.clone()),
        _ => None,
    };
    let parsed = date.as_ref().and_then(super::raw::start_datetime);
    if let (Some(d), Some(Ok(unix))) = (&date, &parsed) {
        return u64::try_from(*unix).map(SimTime::from_secs).map_err(|_| {
            cx.invalid(
                "vm_requests.start",
                "a date-time from 1970-01-01 on",
                super::raw::describe_value(d),
            )
        });
    }
    let found = match (v, parsed) {
        // An unquoted TOML date-time that is not a UTC one.
        (RawDuration::Other(_), Some(Err(found))) => Err(found),
        _ => parse_duration(v),
    };
    found.map_err(|found| {
        cx.invalid(
            "vm_requests.start",
            format!(
                "an offset such as 0, \"90s\", \"15m\", \"1h\" or \"30d\", or {} (unix seconds)",
                START_FORMS
            ),
            found,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<VmScenario, ScenarioError> {
        VmScenario::parse(text, Path::new("s.toml"))
    }

    #[test]
    fn defaults_and_detection() {
        let text = "[vm_requests]\ntrace = { generate = \"vm-requests\", vms = 100 }\n";
        assert!(is_vm_scenario(text));
        assert!(!is_vm_scenario("[hosts]\ncount = 3\n"));
        let s = parse(text).unwrap();
        assert_eq!(
            (s.policy, s.on_full, s.hosts),
            (PlacementKind::BestFit, OnFull::Reject, 100)
        );
        let VmSource::Generated(p) = s.source else {
            panic!()
        };
        assert_eq!((p.vms, p.days), (100, 30));
    }

    #[test]
    fn errors_name_the_key_and_the_valid_names() {
        let e =
            parse("[vm_requests]\ntrace = { generate = \"vm-requests\", vms = 10 }\npolicy = \"next-fit\"\n")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("next-fit") && e.contains("first-fit") && e.contains("worst-fit"),
            "{e}"
        );
        let e = parse(
            "[vm_requests]\ntrace = { generate = \"vm-requests\", vms = 10 }\npolicy = \"follow-broker\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("vm_requests.policy") && e.contains("follow-broker") && e.contains("no broker"),
            "{e}"
        );
        let e =
            parse("[vm_requests]\ntrace = { generate = \"vm-requests\", vms = 10 }\non_full = \"drop\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("reject") && e.contains("queue"), "{e}");
        let e = parse("[vm_requests]\ntrace = { generate = \"vm-requests\", vms = 0 }\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.toml: key `vm_requests.trace.vms`: expected an integer from 1 to 1000000000, found 0"
        );
        let e = parse("[vm_requests]\ntrace = { generate = \"web\", vms = 3 }\n").unwrap_err();
        assert!(e.to_string().contains("vm_requests.trace.generate"), "{e}");
        let e = parse("[vm_requests]\ntrace = \"missing.csv\"\n").unwrap_err();
        assert!(e.to_string().contains("missing.csv"), "{e}");
    }
}
