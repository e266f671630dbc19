//! The consolidation policy a scenario names: CloudSim's labels for the
//! PlanetLab experiment (`NPA`, `DVFS`, `THR-MMT-0.8`, `LR-MMT-1.2`, ...)
//! plus `exact`, resolved through serde.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::overload::OverloadKind;
use super::pabfd::SwitchOnCost;
use super::repack::{self, RepackError, RepackLimits};
use super::selection::{Draw, SelectionKind};
use super::{ConsolidationState, Migration, step};
use crate::params::{ParamError, Parameter, Policy, PolicyKind};

/// How a site consolidates its VMs each interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Consolidation {
    /// Non power aware: no migrations; hosts draw full power whenever on
    /// (the simulator computes the energy).
    Npa,
    /// Power follows CPU utilisation; no migrations (the simulator computes
    /// the energy).
    Dvfs,
    /// Dynamic consolidation: an overload detector and a VM selection
    /// policy, with PABFD placement ([`super::step`]).
    Dynamic {
        /// Which hosts are overloaded, with its parameters.
        overload: Policy<OverloadKind>,
        /// Which VMs leave an overloaded host.
        selection: SelectionKind,
    },
    /// The exact global repacker ([`mod@super::repack`]): fewest active hosts,
    /// then fewest migrations. Small sites only.
    Exact,
}

/// What [`Consolidation::plan_with`] may be told beyond the policy.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanOptions {
    /// How PABFD counts switching a host on.
    pub switch_on: SwitchOnCost,
    /// The exact repacker's limits.
    pub repack: RepackLimits,
}

/// A consolidation policy name that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsolidationNameError {
    /// Not a name of the forms listed.
    #[error(
        "\"{found}\" is not a consolidation policy; expected NPA, DVFS, exact, or OVERLOAD-SELECTION[-PARAMETER][(name=value,...)] with OVERLOAD one of thr, iqr, mad, lr, lrr and SELECTION one of mmt, mc, rs, mu (e.g. THR-MMT-0.8, MAD-MC-2.5, LR-MMT-1.2)"
    )]
    Unknown {
        /// The name given.
        found: String,
    },
    /// The parameter in the name is not a number in the detector's range.
    #[error("consolidation policy \"{found}\": {source}")]
    Parameter {
        /// The name given.
        found: String,
        /// What is wrong with the value.
        source: ParamError,
    },
}

impl Consolidation {
    /// The policy of CloudSim label `name` (any case), e.g. `THR-MMT-0.8`;
    /// without the parameter (`THR-MMT`) the paper's default.
    pub fn from_name(name: &str) -> Result<Self, ConsolidationNameError> {
        let lower = name.trim().to_ascii_lowercase();
        let unknown = || ConsolidationNameError::Unknown {
            found: name.to_string(),
        };
        match lower.as_str() {
            "npa" => return Ok(Consolidation::Npa),
            "dvfs" => return Ok(Consolidation::Dvfs),
            "exact" => return Ok(Consolidation::Exact),
            _ => {}
        }
        // `LABEL` or `LABEL(name=value,...)` for the other parameters.
        let (label, extra) = match lower.split_once('(') {
            Some((l, rest)) => (l, Some(rest.strip_suffix(')').ok_or_else(unknown)?)),
            None => (lower.as_str(), None),
        };
        let mut parts = label.splitn(3, '-');
        let kind = parts
            .next()
            .and_then(|p| OverloadKind::from_name(p).ok())
            .ok_or_else(unknown)?;
        let selection = parts
            .next()
            .and_then(|p| SelectionKind::from_name(p).ok())
            .ok_or_else(unknown)?;
        let param = kind.label_parameter();
        let value = match parts.next() {
            None => param.default,
            Some(v) => v.parse::<f64>().map_err(|_| unknown())?,
        };
        let mut given = vec![(param.name.to_string(), value)];
        for kv in extra
            .iter()
            .flat_map(|e| e.split(','))
            .filter(|kv| !kv.trim().is_empty())
        {
            let (k, v) = kv.split_once('=').ok_or_else(unknown)?;
            given.push((
                k.trim().to_string(),
                v.trim().parse::<f64>().map_err(|_| unknown())?,
            ));
        }
        let overload = Policy::with(kind, given.iter().map(|(k, v)| (k.as_str(), *v))).map_err(|source| {
            ConsolidationNameError::Parameter {
                found: name.to_string(),
                source,
            }
        })?;
        Ok(Consolidation::Dynamic { overload, selection })
    }

    /// The label: `NPA`, `DVFS`, `THR-MMT-0.8` (the label parameter always
    /// shown; other parameters off their defaults in parentheses), `exact`.
    pub fn label(&self) -> String {
        self.to_string()
    }

    /// The policies of the paper's PlanetLab experiment, then `exact`: NPA,
    /// DVFS, and every detector (THR 0.8, IQR 1.5, MAD 2.5, LR 1.2, LRR 1.2)
    /// with every selection policy.
    pub fn paper_set() -> Vec<Consolidation> {
        let mut out = vec![Consolidation::Npa, Consolidation::Dvfs];
        for kind in OverloadKind::ALL {
            for selection in SelectionKind::ALL {
                let p = kind.label_parameter();
                if let Ok(overload) = Policy::with(kind, [(p.name, p.default)]) {
                    out.push(Consolidation::Dynamic { overload, selection });
                }
            }
        }
        out.push(Consolidation::Exact);
        out
    }

    /// One line for `slivers policies`.
    pub fn description(&self) -> String {
        match self {
            Consolidation::Npa => "no power awareness: hosts always at full power, no migrations".to_string(),
            Consolidation::Dvfs => "power follows CPU utilisation (DVFS), no migrations".to_string(),
            Consolidation::Dynamic { overload, selection } => format!(
                "{}; {}; PABFD placement",
                overload.kind().description(),
                selection.description()
            ),
            Consolidation::Exact => {
                "exact global repacking: fewest active hosts, then fewest migrations (small sites only)"
                    .to_string()
            }
        }
    }

    /// True if the policy ever migrates.
    pub fn migrates(&self) -> bool {
        matches!(self, Consolidation::Dynamic { .. } | Consolidation::Exact)
    }

    /// The migrations of one interval, with the default options.
    pub fn plan(
        &self,
        state: &ConsolidationState,
        draw: &mut dyn Draw,
    ) -> Result<Vec<Migration>, RepackError> {
        self.plan_with(state, draw, &PlanOptions::default())
    }

    /// The migrations of one interval. Only [`Consolidation::Exact`] can
    /// fail (too large an instance, or its node budget spent).
    pub fn plan_with(
        &self,
        state: &ConsolidationState,
        draw: &mut dyn Draw,
        options: &PlanOptions,
    ) -> Result<Vec<Migration>, RepackError> {
        match self {
            Consolidation::Npa | Consolidation::Dvfs => Ok(Vec::new()),
            Consolidation::Dynamic { overload, selection } => {
                Ok(step::plan(state, overload, *selection, options.switch_on, draw))
            }
            Consolidation::Exact => Ok(repack::repack(state, &options.repack)?.migrations),
        }
    }
}

impl fmt::Display for Consolidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Consolidation::Npa => f.write_str("NPA"),
            Consolidation::Dvfs => f.write_str("DVFS"),
            Consolidation::Exact => f.write_str("exact"),
            Consolidation::Dynamic { overload, selection } => {
                let kind = overload.kind();
                let label: &Parameter = kind.label_parameter();
                write!(
                    f,
                    "{}-{}-{}",
                    kind.name().to_ascii_uppercase(),
                    selection.name().to_ascii_uppercase(),
                    overload.label_value()
                )?;
                let mut sep = '(';
                for p in kind.parameters().iter().filter(|p| p.name != label.name) {
                    let v = overload.value(p.name).unwrap_or(p.default);
                    if v != p.default {
                        write!(f, "{sep}{}={v}", p.name)?;
                        sep = ',';
                    }
                }
                if sep == ',' {
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Consolidation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Consolidation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Consolidation::from_name(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_other_parameters_round_trip() {
        let c = Consolidation::from_name("MAD-MMT-2.5(fallback_threshold=0.6)").unwrap();
        assert_eq!(c.to_string(), "MAD-MMT-2.5(fallback_threshold=0.6)");
        assert_eq!(Consolidation::from_name(&c.to_string()), Ok(c));
        assert!(Consolidation::from_name("thr-mmt-0.8(nope=1)").is_err());
        assert!(Consolidation::from_name("thr-mmt-0.8(threshold").is_err());
    }

    #[test]
    fn labels_round_trip_like_cloudsim() {
        for c in Consolidation::paper_set() {
            assert_eq!(Consolidation::from_name(&c.label()), Ok(c), "{c}");
            assert!(!c.description().is_empty());
        }
        let labels: Vec<String> = Consolidation::paper_set().iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), 23);
        for want in [
            "NPA",
            "DVFS",
            "THR-MMT-0.8",
            "IQR-MC-1.5",
            "MAD-RS-2.5",
            "LR-MMT-1.2",
            "LRR-MU-1.2",
            "exact",
        ] {
            assert!(labels.iter().any(|l| l == want), "{want} not in {labels:?}");
        }
        assert_eq!(
            Consolidation::from_name("thr-mmt"),
            Consolidation::from_name("THR-MMT-0.8")
        );
        let c = Consolidation::from_name("thr-mmt-0.6").unwrap();
        assert_eq!(c.label(), "THR-MMT-0.6");
        assert!(!Consolidation::Npa.migrates() && c.migrates());
        let extra = Consolidation::Dynamic {
            overload: Policy::with(OverloadKind::Iqr, [("safety", 1.5), ("min_history", 6.0)]).unwrap(),
            selection: SelectionKind::Mmt,
        };
        assert_eq!(extra.label(), "IQR-MMT-1.5(min_history=6)");
    }

    #[test]
    fn bad_names_say_what_is_valid() {
        let e = Consolidation::from_name("THR-XYZ-0.8").unwrap_err().to_string();
        assert!(
            e.starts_with("\"THR-XYZ-0.8\" is not a consolidation policy; expected NPA, DVFS, exact"),
            "{e}"
        );
        assert!(e.contains("thr, iqr, mad, lr, lrr") && e.contains("mmt, mc, rs, mu"));
        assert!(Consolidation::from_name("thr-mmt-abc").is_err());
        let e = Consolidation::from_name("THR-MMT-1.5").unwrap_err().to_string();
        assert_eq!(
            e,
            "consolidation policy \"THR-MMT-1.5\": thr's threshold must be from 0.01 to 1, not 1.5"
        );
    }

    #[test]
    fn serde_uses_the_labels() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let de: StrDeserializer<Error> = "LR-MMT-1.2".into_deserializer();
        let c = Consolidation::deserialize(de).unwrap();
        assert_eq!(c, Consolidation::from_name("lr-mmt").unwrap());
        let de: StrDeserializer<Error> = "greedy".into_deserializer();
        let e = Consolidation::deserialize(de).unwrap_err().to_string();
        assert!(e.contains("expected NPA, DVFS, exact"), "{e}");
    }
}
