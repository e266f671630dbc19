//! `[thermal]` -> [`ThermalConfig`], every key checked and defaulted
//! (scenarios/README.md, "Thermal").

use slivers_policy::CopCurve;
use slivers_policy::thermal::RackCoefficients;

use super::ScenarioError;
use super::context::Ctx;
use super::raw::{self, RawThermal};
use crate::engine::SimTime;
use crate::model::{PowerParams, SupplyMode, ThermalConfig};

/// Default hosts per rack.
pub const HOSTS_PER_RACK: i64 = 20;
/// Default redline, °C: ASHRAE's recommended upper inlet temperature.
pub const REDLINE_C: f64 = 27.0;

/// Temperatures a scenario may name, °C.
const TEMPERATURES: (f64, f64) = (-50.0, 100.0);

/// Validates `[thermal]` for `hosts` hosts drawing power as `power`.
pub(super) fn validate(
    cx: &Ctx,
    t: &RawThermal,
    hosts: u32,
    power: &PowerParams,
    period: SimTime,
) -> Result<ThermalConfig, ScenarioError> {
    let hosts_per_rack = cx.positive(
        "thermal.hosts_per_rack",
        t.hosts_per_rack,
        HOSTS_PER_RACK,
        1_000_000,
    )? as u32;
    let d = RackCoefficients::default();
    let coefficient = |key: &str, v: Option<f64>, default: f64| cx.fraction(key, v, default, 0.0, 1.0);
    let coefficients = RackCoefficients {
        own: coefficient("thermal.own", t.own, d.own)?,
        above: coefficient("thermal.above", t.above, d.above)?,
        neighbour: coefficient("thermal.neighbour", t.neighbour, d.neighbour)?,
    };
    let (lo, hi) = TEMPERATURES;
    let redline_c = cx.fraction("thermal.redline_c", t.redline_c, REDLINE_C, lo, hi)?;
    let supply_forms = format!("\"redline\", or a supply temperature in °C from {lo} to {hi}");
    let supply = match &t.supply {
        None => SupplyMode::Redline,
        Some(toml::Value::String(s)) if s == "redline" => SupplyMode::Redline,
        Some(toml::Value::Integer(i)) if (lo..=hi).contains(&(*i as f64)) => SupplyMode::Fixed(*i as f64),
        Some(toml::Value::Float(x)) if (lo..=hi).contains(x) => SupplyMode::Fixed(*x),
        Some(v) => return Err(cx.invalid("thermal.supply", supply_forms, raw::describe_value(v))),
    };
    let m = CopCurve::HP_UTILITY_DATA_CENTER;
    let cop_coefficient = |key: &str, v: Option<f64>, default: f64| cx.fraction(key, v, default, -1e3, 1e3);
    let cop = CopCurve {
        a: cop_coefficient("thermal.cop_a", t.cop_a, m.a)?,
        b: cop_coefficient("thermal.cop_b", t.cop_b, m.b)?,
        c: cop_coefficient("thermal.cop_c", t.cop_c, m.c)?,
    };
    let config = ThermalConfig {
        hosts_per_rack,
        coefficients,
        redline_c,
        supply,
        cop,
        sample_every: period,
    };
    // The supply temperatures the run can reach: the fixed one, or from
    // the redline down to the redline less the peak rise with every host
    // at full power. The CoP must be positive over all of them.
    let (from, to) = match supply {
        SupplyMode::Fixed(s) => (s, s),
        SupplyMode::Redline => {
            let room = config
                .room(hosts)
                .map_err(|e| cx.invalid("thermal", "a room the rack model can build", e))?;
            let full = vec![power.peak_watts; hosts as usize];
            let rise = room
                .peak_rise(&full)
                .map_err(|e| cx.invalid("thermal", "host powers the rack model accepts", e))?;
            (redline_c - rise, redline_c)
        }
    };
    let vertex = if cop.a != 0.0 {
        -cop.b / (2.0 * cop.a)
    } else {
        from
    };
    let lowest = [from, to, vertex.clamp(from, to)]
        .into_iter()
        .map(|x| (cop.at(x), x))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((cop.at(from), from));
    if !(lowest.0.is_finite() && lowest.0 > 0.0) {
        return Err(cx.invalid(
            "thermal.cop_a, cop_b, cop_c",
            format!(
                "a CoP curve positive at every supply temperature the run can reach ({from:.2} to {to:.2} °C)"
            ),
            format!("CoP({:.2}) = {}", lowest.1, lowest.0),
        ));
    }
    Ok(config)
}
