//! Policies with parameters: each built-in policy declares what it takes
//! ([`Parameter`]), and a [`Policy`] is a policy name with the values a
//! scenario gave, checked against that list once, when it is made.

use std::cmp::Ordering;
use std::fmt;

/// One parameter of a policy: its name in files, its meaning, its default
/// and the closed range it must lie in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parameter {
    /// The key in a scenario file.
    pub name: &'static str,
    /// One line for `slivers policies`.
    pub meaning: &'static str,
    /// The value when none is given (the paper's behaviour).
    pub default: f64,
    /// The smallest value accepted.
    pub min: f64,
    /// The largest value accepted.
    pub max: f64,
}

/// A kind of policy: a name and the parameters it takes.
pub trait PolicyKind: Copy + Ord + fmt::Display {
    /// The name in files and on the command line.
    fn name(self) -> &'static str;
    /// The parameters it takes, in the order they are shown.
    fn parameters(self) -> &'static [Parameter];
}

/// A parameter value a policy does not take, or out of its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The policy takes no parameter of that name.
    #[error("{policy} takes no parameter \"{found}\"; it takes: {}", if valid.is_empty() { "none".to_string() } else { valid.join(", ") })]
    Unknown {
        /// The policy's name.
        policy: &'static str,
        /// The name given.
        found: String,
        /// The names it takes.
        valid: Vec<&'static str>,
    },
    /// The value is outside the parameter's range (or not a number).
    #[error("{policy}'s {name} must be from {min} to {max}, not {found}")]
    OutOfRange {
        /// The policy's name.
        policy: &'static str,
        /// The parameter.
        name: &'static str,
        /// Its smallest value.
        min: f64,
        /// Its largest value.
        max: f64,
        /// The value given.
        found: f64,
    },
}

/// A policy as a scenario names it: its kind and the values given for its
/// parameters (the others keep their defaults).
#[derive(Debug, Clone, Copy)]
pub struct Policy<K> {
    kind: K,
    /// Values by the index of their parameter in `kind.parameters()`; a
    /// policy takes at most [`MAX_PARAMETERS`].
    values: [Option<f64>; MAX_PARAMETERS],
}

/// The most parameters a built-in policy takes.
pub const MAX_PARAMETERS: usize = 4;

impl<K: PolicyKind> Policy<K> {
    /// `kind` with every parameter at its default.
    pub fn new(kind: K) -> Self {
        Policy {
            kind,
            values: [None; MAX_PARAMETERS],
        }
    }

    /// `kind` with the values `given` (name, value), each checked.
    pub fn with<'a>(kind: K, given: impl IntoIterator<Item = (&'a str, f64)>) -> Result<Self, ParamError> {
        let mut policy = Self::new(kind);
        let params = kind.parameters();
        for (name, value) in given {
            let Some(i) = params.iter().position(|p| p.name == name) else {
                return Err(ParamError::Unknown {
                    policy: kind.name(),
                    found: name.to_string(),
                    valid: params.iter().map(|p| p.name).collect(),
                });
            };
            let p = &params[i];
            if !(p.min..=p.max).contains(&value) {
                return Err(ParamError::OutOfRange {
                    policy: kind.name(),
                    name: p.name,
                    min: p.min,
                    max: p.max,
                    found: value,
                });
            }
            policy.values[i] = Some(value);
        }
        Ok(policy)
    }

    /// The kind.
    pub fn kind(&self) -> K {
        self.kind
    }

    /// The value of parameter `name`: the one given, or its default. `None`
    /// if the policy takes no such parameter.
    pub fn value(&self, name: &str) -> Option<f64> {
        let params = self.kind.parameters();
        let i = params.iter().position(|p| p.name == name)?;
        Some(self.values[i].unwrap_or(params[i].default))
    }

    /// The values given, in parameter order.
    fn given(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.kind
            .parameters()
            .iter()
            .zip(&self.values)
            .filter_map(|(p, v)| v.map(|v| (p.name, v)))
    }
}

impl<K: PolicyKind> From<K> for Policy<K> {
    fn from(kind: K) -> Self {
        Policy::new(kind)
    }
}

/// The name alone when every parameter is at its default, as before
/// policies took parameters (so outputs keep their labels); else
/// `name(key=value,...)` with the values given.
impl<K: PolicyKind> fmt::Display for Policy<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        let mut sep = '(';
        for (name, value) in self.given() {
            write!(f, "{sep}{name}={value}")?;
            sep = ',';
        }
        if sep == ',' {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Equal when the kind and every value given are equal (values compared
/// bit for bit: they are checked finite when given).
impl<K: PolicyKind> PartialEq for Policy<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: PolicyKind> Eq for Policy<K> {}

impl<K: PolicyKind> PartialOrd for Policy<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By kind, then by the values given, parameter by parameter (a value
/// left at its default sorts first; values by `f64::total_cmp`).
impl<K: PolicyKind> Ord for Policy<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.kind.cmp(&other.kind).then_with(|| {
            let by_value = |(a, b): (&Option<f64>, &Option<f64>)| match (a, b) {
                (Some(x), Some(y)) => x.total_cmp(y),
                _ => a.is_some().cmp(&b.is_some()),
            };
            self.values
                .iter()
                .zip(&other.values)
                .map(by_value)
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlacementKind, ProvisioningKind};

    #[test]
    fn values_are_checked_and_defaults_fill_in() {
        let ea = PlacementKind::EnergyAware;
        let p = Policy::with(ea, [("max_utilization", 0.8)]).unwrap();
        assert_eq!(p.value("max_utilization"), Some(0.8));
        assert_eq!(Policy::new(ea).value("max_utilization"), Some(1.0));
        assert_eq!(p.value("nope"), None);
        let e = Policy::with(ea, [("max_util", 0.8)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "energy-aware takes no parameter \"max_util\"; it takes: max_utilization"
        );
        let e = Policy::with(ea, [("max_utilization", 1.5)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "energy-aware's max_utilization must be from 0.01 to 1, not 1.5"
        );
        assert!(Policy::with(ea, [("max_utilization", f64::NAN)]).is_err());
        let e = Policy::with(ProvisioningKind::Migrating, [("x", 1.0)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "migrating takes no parameter \"x\"; it takes: none"
        );
    }

    #[test]
    fn labels_keep_the_bare_name_at_the_defaults() {
        let ea = PlacementKind::EnergyAware;
        assert_eq!(Policy::new(ea).to_string(), "energy-aware");
        assert_eq!(
            Policy::with(ea, [("max_utilization", 0.75)]).unwrap().to_string(),
            "energy-aware(max_utilization=0.75)"
        );
        // Given at its default value, it is still shown: the file said so.
        assert_eq!(
            Policy::with(ea, [("max_utilization", 1.0)]).unwrap().to_string(),
            "energy-aware(max_utilization=1)"
        );
    }

    #[test]
    fn order_is_by_kind_then_values() {
        let ea = PlacementKind::EnergyAware;
        let a = Policy::new(ea);
        let b = Policy::with(ea, [("max_utilization", 0.5)]).unwrap();
        let c = Policy::with(ea, [("max_utilization", 0.9)]).unwrap();
        let fb = Policy::new(PlacementKind::FollowBroker);
        let mut v = vec![c, fb, b, a];
        v.sort();
        assert_eq!(v, vec![fb, a, b, c]);
        assert_ne!(a, b);
        assert_eq!(b, Policy::with(ea, [("max_utilization", 0.5)]).unwrap());
    }
}
