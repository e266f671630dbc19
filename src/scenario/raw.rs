//! The scenario file as written: plain serde structs, no checks beyond types.
//! Unknown keys are errors everywhere. Each field is the key of the same
//! name, documented in `scenarios/README.md`; [`super::Scenario::parse`]
//! validates them.
#![allow(missing_docs)]

use serde::Deserialize;
use slivers_policy::{PlacementKind, ProvisioningKind};

use crate::model::{LiveMode, NonConvergence};

/// A duration: integer seconds, or a string with a unit (`"500ms"`, `"90s"`,
/// `"15m"`, `"1h"`, `"30d"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    /// Whole seconds.
    Secs(i64),
    /// A number with a unit.
    Text(String),
    /// Anything else (a float, an array, a table), kept so that validation
    /// names the key, the accepted forms and what was found.
    Other(toml::Value),
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub seed: Option<i64>,
    pub output: Option<String>,
    pub duration: Option<RawDuration>,
    pub period: Option<RawDuration>,
    pub hosts: Option<RawHosts>,
    pub sliver: Option<RawSliver>,
    pub migration: Option<RawMigration>,
    pub energy: Option<RawEnergy>,
    #[serde(default)]
    pub guest: Vec<RawGuest>,
    pub pairs: Option<Vec<RawPair>>,
    pub series: Option<RawSeries>,
    pub failures: Option<super::outages::RawFailures>,
    #[serde(default)]
    pub site: Vec<super::federation::RawSite>,
    #[serde(default)]
    pub broker: Vec<super::federation::RawBroker>,
    #[serde(default)]
    pub delegation: Vec<super::federation::RawDelegation>,
    pub wan: Option<super::federation::RawWan>,
    #[serde(default)]
    pub maintenance: Vec<super::outages::RawMaintenance>,
    pub thermal: Option<RawThermal>,
    /// Read by `slivers sweep` only; a scenario run directly must not have it.
    pub sweep: Option<toml::Table>,
}

/// `series`: the form of `fidelity.csv` and `migrations.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawSeries {
    /// Every change up to 1,000 hosts, per period above.
    Auto,
    /// Every change.
    Changes,
    /// One row per period.
    Periods,
}

/// `[hosts]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHosts {
    pub count: Option<i64>,
    pub cpu_millicores: Option<i64>,
    pub memory_mib: Option<i64>,
    pub bandwidth_mbps: Option<i64>,
    pub disk_gib: Option<i64>,
}

/// `[sliver]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSliver {
    pub quantum: Option<f64>,
    pub max_units: Option<i64>,
}

/// `[migration]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMigration {
    pub bandwidth_mbps: Option<i64>,
    pub mode: Option<LiveMode>,
    pub max_downtime: Option<RawDuration>,
    pub max_rounds: Option<i64>,
    pub max_sent_factor: Option<f64>,
    pub on_non_convergence: Option<NonConvergence>,
    pub switchover: Option<RawDuration>,
    pub postcopy_working_set_mib: Option<i64>,
    pub postcopy_slowdown: Option<f64>,
    pub suspend: Option<RawDuration>,
    pub resume: Option<RawDuration>,
    pub op_latency: Option<RawDuration>,
}

/// `[thermal]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThermal {
    pub hosts_per_rack: Option<i64>,
    pub own: Option<f64>,
    pub above: Option<f64>,
    pub neighbour: Option<f64>,
    pub redline_c: Option<f64>,
    /// `"redline"` or a temperature in °C.
    pub supply: Option<toml::Value>,
    pub cop_a: Option<f64>,
    pub cop_b: Option<f64>,
    pub cop_c: Option<f64>,
}

/// `[energy]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnergy {
    pub idle_watts: Option<f64>,
    pub peak_watts: Option<f64>,
    pub boot: Option<RawDuration>,
    pub boot_watts: Option<f64>,
    pub shutdown: Option<RawDuration>,
    pub shutdown_watts: Option<f64>,
}

/// `[[guest]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RawGuest {
    Web(RawWeb),
    Batch(RawBatch),
}

/// A trace: a file, or a generator run with the run's seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawTrace {
    Path(String),
    Generate(RawGenerate),
    /// Neither: validation says why, naming the key.
    Other(toml::Value),
}

/// `trace = { generate = "web" | "batch", ... }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGenerate {
    pub generate: String,
    pub base_rate: Option<f64>,
    pub flash_crowds: Option<i64>,
    pub nodes: Option<i64>,
    pub target_load: Option<f64>,
}

/// `kind = "web"`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub name: Option<String>,
    pub trace: Option<RawTrace>,
    /// A UTC date-time: a string, or an unquoted TOML date-time.
    pub start: Option<toml::Value>,
    pub peak_units: Option<f64>,
    pub requests_per_unit: Option<f64>,
    pub headroom: Option<f64>,
    pub hysteresis: Option<f64>,
    pub min_units: Option<i64>,
    pub dirty_mibps: Option<f64>,
    pub dirty_sigma: Option<f64>,
    /// With `[[broker]]`s: the brokers it leases from, in the order it asks.
    pub brokers: Option<Vec<String>>,
    /// With `[[site]]`s: the site it asks for.
    pub site: Option<String>,
    /// Trace-fit checks whose errors are accepted (run with a warning): a
    /// list of names, or one name.
    pub accept: Option<toml::Value>,
}

/// `kind = "batch"`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    pub name: Option<String>,
    pub trace: Option<RawTrace>,
    /// A UTC date-time: a string, or an unquoted TOML date-time.
    pub start: Option<toml::Value>,
    pub procs_per_vm: Option<i64>,
    pub vm_units: Option<i64>,
    pub arrival: Option<String>,
    pub dirty_mibps: Option<f64>,
    pub dirty_sigma: Option<f64>,
    /// With `[[broker]]`s: the brokers it leases from, in the order it asks.
    pub brokers: Option<Vec<String>>,
    /// With `[[site]]`s: the site it asks for.
    pub site: Option<String>,
    /// Trace-fit checks whose errors are accepted (run with a warning): a
    /// list of names, or one name.
    pub accept: Option<toml::Value>,
}

/// A `start` read as UTC unix seconds: a string such as `"1998-05-01"` or
/// `"1998-05-01 00:00:00"`, or the same as an unquoted TOML date or
/// date-time (`1998-05-01`, `1998-05-01T00:00:00Z`). `None` when `v` is
/// neither a string nor a TOML date-time; `Some(Err(found))` when it is
/// one that is not a UTC date-time (an offset other than `Z`, a time
/// alone, fractions of a second).
pub fn start_datetime(v: &toml::Value) -> Option<Result<i64, String>> {
    let (text, found) = match v {
        toml::Value::String(s) => (s.trim().to_string(), format!("\"{s}\"")),
        toml::Value::Datetime(d) => (d.to_string(), format!("the TOML date-time {d}")),
        _ => return None,
    };
    Some(crate::trace::time::parse_datetime(&text).map_err(|_| found))
}

/// What a TOML value is, for error messages: `1.5 (a float)`, `an array`,
/// `a table with keys a, b`, ...
pub fn describe_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the float {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the unquoted TOML date-time {d} (write it in quotes)"),
        toml::Value::Array(a) => format!("an array of {} values", a.len()),
        toml::Value::Table(t) if t.is_empty() => "an empty table".to_string(),
        toml::Value::Table(t) => format!(
            "a table with keys {}",
            t.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// [`describe_value`], and for a table why it is not a `T` (the first key
/// or type that `T` does not accept).
pub fn describe_mismatch<T: serde::de::DeserializeOwned>(v: &toml::Value) -> String {
    match v.clone().try_into::<T>() {
        Err(e) if v.is_table() => format!("{} ({})", describe_value(v), e.to_string().trim_end()),
        _ => describe_value(v),
    }
}

/// `[[pairs]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPair {
    pub provisioning: RawPolicy<ProvisioningKind>,
    pub placement: RawPolicy<PlacementKind>,
}

/// A policy of a pair: its name (`"energy-aware"`), or a table of its name
/// and parameters (`{ name = "energy-aware", max_utilization = 0.8 }`). An
/// unknown name is serde's error, with its line and the valid names.
#[derive(Debug, Clone)]
pub struct RawPolicy<K> {
    pub name: K,
    /// The parameters given, in file order (checked against the policy's
    /// list at validation).
    pub params: Vec<(String, f64)>,
}

impl<'de, K: Deserialize<'de>> Deserialize<'de> for RawPolicy<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
        struct V<K>(std::marker::PhantomData<K>);
        impl<'de, K: Deserialize<'de>> Visitor<'de> for V<K> {
            type Value = RawPolicy<K>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a policy name, or a table { name = \"...\", <parameter> = <number>, ... }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(RawPolicy {
                    name: K::deserialize(s.into_deserializer())?,
                    params: Vec::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                /// TOML writes 1 and 1.0 differently; both are numbers here.
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Number {
                    Int(i64),
                    Float(f64),
                }
                let mut name = None;
                let mut params = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "name" {
                        name = Some(map.next_value::<K>()?);
                    } else {
                        let value = match map.next_value::<Number>() {
                            Ok(Number::Int(i)) => i as f64,
                            Ok(Number::Float(x)) => x,
                            Err(_) => {
                                return Err(de::Error::custom(format!("parameter `{key}` must be a number")));
                            }
                        };
                        params.push((key, value));
                    }
                }
                let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                Ok(RawPolicy { name, params })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
