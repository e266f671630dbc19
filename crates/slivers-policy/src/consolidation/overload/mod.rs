//! Host overload detection: is a host's CPU load too high, now or soon?
//!
//! Five detectors, as in Beloglazov & Buyya (CCPE 2012) and CloudSim's
//! `PowerVmAllocationPolicyMigration*` classes, one file each. All but the
//! static threshold need a history of the host's utilisation
//! ([`super::ConsolidationState::host_history`]); with too short a history
//! they fall back to a static threshold of 0.7 (as CloudSim's PlanetLab
//! experiment configures them), a parameter here.

mod iqr;
mod lr;
mod lrr;
mod mad;
mod thr;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::params::{Parameter, Policy, PolicyKind};

/// What an overload detector looks at for one host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostLoad<'a> {
    /// Current CPU demand over capacity (may exceed 1).
    pub utilization: f64,
    /// The host's utilisation history, oldest first, the last value the
    /// current one.
    pub history: &'a [f64],
    /// The longest migration of a VM on the host, in seconds: its memory
    /// over half the host's bandwidth (local regression only).
    pub max_migration_s: f64,
    /// Seconds between consolidation steps (local regression only).
    pub interval_s: f64,
}

/// Every overload detector by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverloadKind {
    /// Static threshold ("THR").
    Thr,
    /// Interquartile range ("IQR").
    Iqr,
    /// Median absolute deviation ("MAD").
    Mad,
    /// Local regression ("LR").
    Lr,
    /// Robust local regression ("LRR").
    Lrr,
}

pub(crate) const THRESHOLD: Parameter = Parameter {
    name: "threshold",
    meaning: "overloaded when CPU utilisation exceeds this share",
    default: 0.8,
    min: 0.01,
    max: 1.0,
};
const IQR_SAFETY: Parameter = Parameter {
    name: "safety",
    meaning: "s in the threshold 1 - s x IQR of the host's history",
    default: 1.5,
    min: 0.0,
    max: 10.0,
};
const MAD_SAFETY: Parameter = Parameter {
    name: "safety",
    meaning: "s in the threshold 1 - s x MAD of the host's history",
    default: 2.5,
    min: 0.0,
    max: 10.0,
};
const LR_SAFETY: Parameter = Parameter {
    name: "safety",
    meaning: "overloaded when s x the predicted utilisation is at least 1",
    default: 1.2,
    min: 0.01,
    max: 10.0,
};
const MIN_HISTORY: Parameter = Parameter {
    name: "min_history",
    meaning: "values of history needed (leading zeros not counted); fewer: the fallback threshold",
    default: 12.0,
    min: 2.0,
    max: 30.0,
};
const WINDOW: Parameter = Parameter {
    name: "window",
    meaning: "the regression fits the last this many values; fewer: the fallback threshold",
    default: 10.0,
    min: 3.0,
    max: 30.0,
};
const FALLBACK: Parameter = Parameter {
    name: "fallback_threshold",
    meaning: "the static threshold used while the history is too short",
    default: 0.7,
    min: 0.01,
    max: 1.0,
};

impl OverloadKind {
    /// All of them, in the paper's order.
    pub const ALL: [OverloadKind; 5] = [
        OverloadKind::Thr,
        OverloadKind::Iqr,
        OverloadKind::Mad,
        OverloadKind::Lr,
        OverloadKind::Lrr,
    ];

    /// The name in files and labels (lower case).
    pub fn name(self) -> &'static str {
        match self {
            OverloadKind::Thr => "thr",
            OverloadKind::Iqr => "iqr",
            OverloadKind::Mad => "mad",
            OverloadKind::Lr => "lr",
            OverloadKind::Lrr => "lrr",
        }
    }

    /// One line for `slivers policies`.
    pub fn description(self) -> &'static str {
        match self {
            OverloadKind::Thr => {
                "static threshold: overloaded when CPU utilisation exceeds the threshold (0.8)"
            }
            OverloadKind::Iqr => {
                "interquartile range: threshold 1 - s x IQR of the host's utilisation history (s = 1.5)"
            }
            OverloadKind::Mad => {
                "median absolute deviation: threshold 1 - s x MAD of the host's utilisation history (s = 2.5)"
            }
            OverloadKind::Lr => {
                "local regression: tricube-weighted line over the last 10 values, overloaded when s x the prediction a migration ahead >= 1 (s = 1.2)"
            }
            OverloadKind::Lrr => {
                "robust local regression: as lr with bisquare reweighting of outliers (s = 1.2)"
            }
        }
    }

    /// The parameter that CloudSim's labels carry (`THR-MMT-0.8`): the
    /// threshold or the safety parameter.
    pub fn label_parameter(self) -> &'static Parameter {
        match self {
            OverloadKind::Thr => &THRESHOLD,
            OverloadKind::Iqr => &IQR_SAFETY,
            OverloadKind::Mad => &MAD_SAFETY,
            OverloadKind::Lr | OverloadKind::Lrr => &LR_SAFETY,
        }
    }

    /// True if the detector reads the host's history.
    pub fn needs_history(self) -> bool {
        !matches!(self, OverloadKind::Thr)
    }

    /// Parses a name (lower case), or says which names are valid.
    pub fn from_name(name: &str) -> Result<Self, crate::UnknownPolicy> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| crate::UnknownPolicy::new("overload detection", name, Self::ALL.map(|k| k.name())))
    }
}

impl PolicyKind for OverloadKind {
    fn name(self) -> &'static str {
        OverloadKind::name(self)
    }

    fn parameters(self) -> &'static [Parameter] {
        match self {
            OverloadKind::Thr => &[THRESHOLD],
            OverloadKind::Iqr => &[IQR_SAFETY, MIN_HISTORY, FALLBACK],
            OverloadKind::Mad => &[MAD_SAFETY, MIN_HISTORY, FALLBACK],
            OverloadKind::Lr | OverloadKind::Lrr => &[LR_SAFETY, WINDOW, FALLBACK],
        }
    }
}

impl fmt::Display for OverloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Policy<OverloadKind> {
    fn param(&self, p: &Parameter) -> f64 {
        self.value(p.name).unwrap_or(p.default)
    }

    /// The value of the parameter its label carries (threshold or safety).
    pub fn label_value(&self) -> f64 {
        self.param(self.kind().label_parameter())
    }

    /// True if the host is overloaded.
    pub fn is_overloaded(&self, load: &HostLoad) -> bool {
        let fallback = || thr::overloaded(load.utilization, self.param(&FALLBACK));
        let count = |p: &Parameter| self.param(p).round() as usize;
        match self.kind() {
            OverloadKind::Thr => Some(thr::overloaded(load.utilization, self.param(&THRESHOLD))),
            OverloadKind::Iqr => iqr::overloaded(load, self.param(&IQR_SAFETY), count(&MIN_HISTORY)),
            OverloadKind::Mad => mad::overloaded(load, self.param(&MAD_SAFETY), count(&MIN_HISTORY)),
            OverloadKind::Lr => lr::overloaded(load, self.param(&LR_SAFETY), count(&WINDOW)),
            OverloadKind::Lrr => lrr::overloaded(load, self.param(&LR_SAFETY), count(&WINDOW)),
        }
        .unwrap_or_else(fallback)
    }
}

/// The history less its leading (oldest) zeros: values from before the
/// VMs did anything, which CloudSim's `countNonZeroBeginning` skips.
fn trimmed(history: &[f64]) -> &[f64] {
    let first = history.iter().position(|&u| u != 0.0).unwrap_or(history.len());
    &history[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn load(utilization: f64, history: &[f64]) -> HostLoad<'_> {
        HostLoad {
            utilization,
            history,
            max_migration_s: 0.0,
            interval_s: 300.0,
        }
    }

    #[test]
    fn short_histories_fall_back_to_the_static_threshold() {
        let short = [0.5; 5];
        for kind in [
            OverloadKind::Iqr,
            OverloadKind::Mad,
            OverloadKind::Lr,
            OverloadKind::Lrr,
        ] {
            let p = Policy::new(kind);
            assert!(p.is_overloaded(&load(0.71, &short)), "{kind}");
            assert!(!p.is_overloaded(&load(0.69, &short)), "{kind}");
            let q = Policy::with(kind, [("fallback_threshold", 0.9)]).unwrap();
            assert!(!q.is_overloaded(&load(0.8, &short)), "{kind}");
        }
        // Leading zeros do not count toward IQR's 12 values.
        let mut h = vec![0.0; 20];
        h.extend([0.5; 5]);
        assert!(Policy::new(OverloadKind::Iqr).is_overloaded(&load(0.75, &h)));
    }

    #[test]
    fn parameters_and_names() {
        let p = Policy::with(OverloadKind::Thr, [("threshold", 0.9)]).unwrap();
        assert_eq!(p.label_value(), 0.9);
        assert!(!p.is_overloaded(&load(0.85, &[])));
        assert!(Policy::new(OverloadKind::Thr).is_overloaded(&load(0.85, &[])));
        assert_eq!(Policy::new(OverloadKind::Mad).label_value(), 2.5);
        assert_eq!(OverloadKind::from_name("lrr"), Ok(OverloadKind::Lrr));
        assert!(
            OverloadKind::from_name("x")
                .unwrap_err()
                .to_string()
                .ends_with("thr, iqr, mad, lr, lrr")
        );
        assert!(Policy::with(OverloadKind::Iqr, [("window", 5.0)]).is_err());
    }
}
