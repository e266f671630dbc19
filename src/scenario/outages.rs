//! `[failures]` and `[[maintenance]]`: when hosts go down, as written and
//! as validated ([`Outages`]).

use std::path::Path;

use serde::Deserialize;
use slivers_policy::HostId;

use super::ScenarioError;
use super::context::Ctx;
use super::raw::RawDuration;
use crate::engine::SimTime;
use crate::model::Checkpoints;
use crate::rng::SimRng;
use crate::trace::failures::{
    Distribution, FailureModel, FailurePreset, FailureTrace, GroupSize, read_failures,
};

/// `[failures]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawFailures {
    pub trace: Option<String>,
    pub preset: Option<FailurePreset>,
    pub interval: Option<Distribution>,
    pub duration: Option<Distribution>,
    pub group: Option<GroupSize>,
    pub restart: Option<RawDuration>,
    pub checkpoint: Option<RawDuration>,
    pub checkpoint_cost: Option<RawDuration>,
}

/// `hosts` of a `[[maintenance]]` window: a list of host indices, or a
/// range `"first-last"` (both included).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum RawHostSet {
    List(Vec<i64>),
    Range(String),
}

/// `[[maintenance]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawMaintenance {
    pub hosts: RawHostSet,
    pub start: RawDuration,
    pub duration: RawDuration,
    pub drain: Option<RawDuration>,
    pub stagger: Option<RawDuration>,
}

/// Where host failures come from.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureSource {
    /// A trace file, read at validation.
    Trace(FailureTrace),
    /// A sampled model: each run draws its failures from its own RNG,
    /// after its workloads (so the same seed gives every pair the same
    /// failures, and a scenario without failures draws nothing more).
    Model(FailureModel),
}

/// One host's maintenance window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// When the site starts draining it.
    pub drain: SimTime,
    /// When it goes down.
    pub start: SimTime,
    /// When it is back.
    pub end: SimTime,
    /// The host.
    pub host: HostId,
}

/// Failures and maintenance of a scenario, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outages {
    /// Host failures, if any.
    pub failures: Option<FailureSource>,
    /// How long a lost VM takes to restart from its image, beyond its
    /// create: the wait before its create begins.
    pub restart: SimTime,
    /// How batch jobs checkpoint.
    pub checkpoints: Checkpoints,
    /// Maintenance windows, ordered by (drain, start, end, host).
    pub maintenance: Vec<Window>,
}

/// Default restart delay of a lost VM (boot from its image).
pub const DEFAULT_RESTART: SimTime = SimTime::from_secs(120);
/// Default drain lead of a maintenance window.
pub const DEFAULT_DRAIN: SimTime = SimTime::from_secs(3600);

impl Outages {
    /// True if the scenario has neither failures nor maintenance.
    pub fn is_empty(&self) -> bool {
        self.failures.is_none() && self.maintenance.is_empty()
    }

    /// Every host outage of one run over `[0, horizon)`: `(start, end,
    /// host)` of each failure, in (start, host) order, drawn from `rng`
    /// if the failures are a model.
    pub fn failures(
        &self,
        rng: &mut SimRng,
        hosts: u32,
        horizon: SimTime,
    ) -> Vec<(SimTime, SimTime, HostId)> {
        let trace = match &self.failures {
            None => return Vec::new(),
            Some(FailureSource::Trace(t)) => t.clone(),
            // Validated when the scenario was read.
            Some(FailureSource::Model(m)) => m.generate(rng, hosts, horizon).unwrap_or_default(),
        };
        trace
            .failures
            .iter()
            .filter(|f| f.start < horizon)
            .map(|f| (f.start, f.end(), HostId(f.host)))
            .collect()
    }
}

/// Validates `[failures]` and `[[maintenance]]` for `hosts` hosts over a
/// run of `duration`; traces resolve against `base`.
pub(super) fn validate(
    cx: &Ctx,
    base: &Path,
    failures: Option<&RawFailures>,
    maintenance: &[RawMaintenance],
    hosts: u32,
) -> Result<Outages, ScenarioError> {
    let mut out = Outages {
        restart: DEFAULT_RESTART,
        ..Outages::default()
    };
    if let Some(f) = failures {
        out.failures = Some(failure_source(cx, base, f, hosts)?);
        out.restart = cx.duration("failures.restart", f.restart.as_ref(), DEFAULT_RESTART)?;
        let interval = match &f.checkpoint {
            None => None,
            Some(d) => Some(cx.duration("failures.checkpoint", Some(d), SimTime::ZERO)?),
        };
        if interval == Some(SimTime::ZERO) {
            return Err(cx.invalid("failures.checkpoint", "a positive interval of work", "0"));
        }
        let cost = cx.duration(
            "failures.checkpoint_cost",
            f.checkpoint_cost.as_ref(),
            SimTime::ZERO,
        )?;
        if interval.is_none() && f.checkpoint_cost.is_some() {
            return Err(cx.invalid(
                "failures.checkpoint_cost",
                "no cost unless `failures.checkpoint` sets an interval",
                "a cost without an interval",
            ));
        }
        out.checkpoints = Checkpoints { interval, cost };
    }
    for (i, m) in maintenance.iter().enumerate() {
        let key = |k: &str| format!("maintenance[{i}].{k}");
        let list = host_set(cx, &key("hosts"), &m.hosts, hosts)?;
        let start = cx.duration(&key("start"), Some(&m.start), SimTime::ZERO)?;
        let duration = cx.duration(&key("duration"), Some(&m.duration), SimTime::ZERO)?;
        if duration == SimTime::ZERO {
            return Err(cx.invalid(key("duration"), "a positive duration", "0"));
        }
        let drain = cx.duration(&key("drain"), m.drain.as_ref(), DEFAULT_DRAIN)?;
        let stagger = cx.duration(&key("stagger"), m.stagger.as_ref(), SimTime::ZERO)?;
        for (k, host) in list.into_iter().enumerate() {
            let start = start.plus(SimTime(stagger.0.saturating_mul(k as u64)));
            out.maintenance.push(Window {
                drain: SimTime(start.0.saturating_sub(drain.0)),
                start,
                end: start.plus(duration),
                host,
            });
        }
    }
    out.maintenance.sort();
    let mut by_host = out.maintenance.clone();
    by_host.sort_by_key(|w| (w.host, w.drain));
    if let Some(w) = by_host
        .windows(2)
        .find(|w| w[0].host == w[1].host && w[1].drain < w[0].end)
    {
        return Err(cx.invalid(
            "maintenance",
            "windows of one host (drain lead included) that do not overlap",
            format!(
                "{} in maintenance until {} s and draining again from {} s",
                w[0].host,
                w[0].end.as_secs_f64(),
                w[1].drain.as_secs_f64()
            ),
        ));
    }
    Ok(out)
}

fn failure_source(
    cx: &Ctx,
    base: &Path,
    f: &RawFailures,
    hosts: u32,
) -> Result<FailureSource, ScenarioError> {
    let given = [
        f.trace.is_some(),
        f.preset.is_some(),
        f.interval.is_some() || f.duration.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(cx.invalid(
            "failures",
            "exactly one of `trace`, `preset`, or `interval` with `duration`",
            match given.iter().filter(|g| **g).count() {
                0 => "none of them".to_string(),
                _ => "more than one".to_string(),
            },
        ));
    }
    if let Some(t) = &f.trace {
        if f.group.is_some() {
            return Err(cx.invalid(
                "failures.group",
                "no group with a trace (it names each host)",
                "a group",
            ));
        }
        let trace = read_failures(&base.join(t))?;
        trace.check(hosts, t)?;
        return Ok(FailureSource::Trace(trace));
    }
    let model = match (f.preset, f.interval, f.duration) {
        (Some(p), _, _) => FailureModel {
            group: f.group.unwrap_or(p.model().group),
            ..p.model()
        },
        (None, Some(interval), Some(duration)) => FailureModel {
            interval,
            duration,
            group: f.group.unwrap_or(GroupSize::Share {
                share: 1.0 / hosts.max(1) as f64,
            }),
        },
        (None, None, _) => {
            return Err(cx.invalid("failures.interval", "a distribution with `duration`", "none"));
        }
        (None, _, None) => {
            return Err(cx.invalid("failures.duration", "a distribution with `interval`", "none"));
        }
    };
    model
        .validate()
        .map_err(|e| cx.invalid("failures", "valid distribution parameters", e.0))?;
    Ok(FailureSource::Model(model))
}

pub(super) fn host_set(
    cx: &Ctx,
    key: &str,
    set: &RawHostSet,
    hosts: u32,
) -> Result<Vec<HostId>, ScenarioError> {
    let bad = |found: String| {
        cx.invalid(
            key,
            format!(
                "host indices from 0 to {}: a list, or a range \"first-last\"",
                hosts.saturating_sub(1)
            ),
            found,
        )
    };
    let list: Vec<i64> = match set {
        RawHostSet::List(l) => l.clone(),
        RawHostSet::Range(r) => {
            let (a, b) = r.split_once('-').ok_or_else(|| bad(format!("{r:?}")))?;
            let (a, b) = match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) if a <= b => (a, b),
                _ => return Err(bad(format!("{r:?}"))),
            };
            (a..=b).collect()
        }
    };
    if list.is_empty() {
        return Err(bad("an empty list".into()));
    }
    let mut out = Vec::with_capacity(list.len());
    for h in list {
        if h < 0 || h >= hosts as i64 {
            return Err(bad(h.to_string()));
        }
        if out.contains(&HostId(h as u32)) {
            return Err(bad(format!("host {h} twice")));
        }
        out.push(HostId(h as u32));
    }
    Ok(out)
}
