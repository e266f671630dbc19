//! A simple thermal model of a machine room: hosts in racks, heat
//! recirculation between them, a redline on inlet temperatures, and the
//! power the air conditioners (CRAC units) spend removing the heat.
//!
//! Pure arithmetic over a snapshot: no clock, no I/O. The simulator gives
//! each host's power draw (watts) at an instant; this module answers what
//! the inlet temperatures are, how warm the supply air may be, and what the
//! cooling costs.
//!
//! # The model
//!
//! **Heat.** Every watt a host draws leaves it as heat in its exhaust air,
//! so a host's heat output is its power `P_j` (W).
//!
//! **Recirculation.** Part of that exhaust leaks back into the inlets of
//! other hosts (and of the host itself) instead of returning to the CRAC.
//! Following Tang, Gupta & Varsamopoulos, the inlet temperature of every
//! host is linear in the powers:
//!
//! ```text
//! T_in = T_supply · 1 + D · P            (°C, one row per host)
//! ```
//!
//! where `D` is the *heat-recirculation* (cross-interference) matrix,
//! `D[i][j]` the rise in °C of host `i`'s inlet per watt drawn by host `j`
//! (°C/W, every entry `>= 0`). See [`Recirculation`]; a matrix can be given
//! in full (for example fitted from CFD runs, as Tang et al. do) or built
//! from a rack layout by [`Recirculation::per_rack`].
//!
//! **Redline and supply temperature.** No inlet may exceed the redline
//! `T_red`. Since every inlet is `T_supply + (D·P)_i`, the warmest supply
//! temperature that keeps all inlets at or below the redline is, in closed
//! form,
//!
//! ```text
//! T_supply = T_red − max_i (D·P)_i
//! ```
//!
//! **Cooling power.** The CRAC removes the IT heat `ΣP` with a coefficient
//! of performance that improves with warmer supply air; Moore et al.
//! measured, for the water-chilled CRAC units of the HP Utility Data Center,
//!
//! ```text
//! CoP(T) = 0.0068 T² + 0.0008 T + 0.458  (T = supply temperature, °C)
//! P_cooling = ΣP / CoP(T_supply)
//! ```
//!
//! (see [`CopCurve`]). Lowering the peak recirculated heat `max_i (D·P)_i`
//! therefore raises the admissible supply temperature and cuts cooling
//! power: that is what the thermal-aware placement policy
//! ([`crate::policies::thermal_aware`]) aims at.
//!
//! The curve was fitted over the supply temperatures a machine room actually
//! runs at (roughly 10 to 30 °C); a model whose recirculation is so high that
//! `T_supply` falls far below that range still gets a number (the curve is
//! positive for every `T`), but not a measured one.
//!
//! # References
//!
//! * Q. Tang, S. K. S. Gupta, G. Varsamopoulos, "Energy-efficient
//!   thermal-aware task scheduling for homogeneous high-performance
//!   computing data centers: a cyber-physical approach", *IEEE Transactions
//!   on Parallel and Distributed Systems* 19(11), 2008, pp. 1458–1472 (the
//!   linear recirculation model `T_in = T_sup + D·P`).
//! * J. Moore, J. Chase, P. Ranganathan, R. Sharma, "Making scheduling
//!   'cool': temperature-aware workload placement in data centers",
//!   *USENIX Annual Technical Conference*, 2005 (the CoP curve).
//!
//! ```
//! use slivers_policy::thermal::{CopCurve, RackCoefficients, RackLayout, Recirculation, ThermalModel};
//!
//! // Two racks of two hosts.
//! let layout = RackLayout::filled(4, 2).unwrap();
//! let d = Recirculation::per_rack(&layout, &RackCoefficients::default()).unwrap();
//! let model = ThermalModel::new(d, 27.0, CopCurve::HP_UTILITY_DATA_CENTER).unwrap();
//! let power = [200.0, 200.0, 100.0, 100.0];
//! let state = model.cooling(&power).unwrap();
//! // The top host of the busier rack is the hottest; it sits at the redline.
//! let inlets = model.inlet_temperatures(state.supply_c, &power).unwrap();
//! assert!((inlets[1] - 27.0).abs() < 1e-9);
//! assert!(state.cooling_w > 0.0 && state.cooling_w < state.it_w);
//! ```

mod cop;
mod layout;
mod racks;
mod recirculation;

pub use cop::CopCurve;
pub use layout::{RackCoefficients, RackLayout, RackSlot};
pub use racks::{RackRecirculation, RackRises};
pub use recirculation::Recirculation;

/// A thermal model or its input that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThermalError {
    /// The recirculation matrix is not square: `found` coefficients where
    /// `expected` (hosts²) were due.
    #[error(
        "recirculation matrix: expected {hosts}×{hosts} = {expected} coefficients (one row per host), found {found}"
    )]
    MatrixShape {
        /// Hosts (rows).
        hosts: usize,
        /// hosts².
        expected: usize,
        /// Coefficients given.
        found: usize,
    },
    /// One row of a matrix given by rows has the wrong length.
    #[error("recirculation matrix: row {row} has {found} coefficients, expected {expected} (one per host)")]
    RowLength {
        /// The row (host index).
        row: usize,
        /// Hosts.
        expected: usize,
        /// Coefficients in that row.
        found: usize,
    },
    /// A recirculation coefficient is negative or not a finite number.
    #[error(
        "recirculation matrix: coefficient [{row}][{col}] must be a finite number >= 0 (°C per W), not {found}"
    )]
    NegativeCoefficient {
        /// Row: the host whose inlet is heated.
        row: usize,
        /// Column: the host whose exhaust heats it.
        col: usize,
        /// The value given.
        found: f64,
    },
    /// A per-rack coefficient is negative or not a finite number.
    #[error("rack recirculation: coefficient `{name}` must be a finite number >= 0 (°C per W), not {found}")]
    NegativeRackCoefficient {
        /// The coefficient's field name.
        name: &'static str,
        /// The value given.
        found: f64,
    },
    /// A rack layout of zero hosts per rack.
    #[error("rack layout: hosts per rack must be at least 1, found 0")]
    EmptyRack,
    /// Two hosts in the same place.
    #[error("rack layout: hosts {first} and {second} are both at rack {rack}, position {position}")]
    DuplicateSlot {
        /// The first host (index).
        first: usize,
        /// The second host (index).
        second: usize,
        /// Their rack.
        rack: u32,
        /// Their position in it.
        position: u32,
    },
    /// A power vector whose length is not the number of hosts.
    #[error("host powers: expected one value per host ({expected}), found {found}")]
    PowerLength {
        /// Hosts in the model.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A host power that is negative or not a finite number.
    #[error("host powers: host {host} must draw a finite number of watts >= 0, not {found}")]
    InvalidPower {
        /// The host (index).
        host: usize,
        /// The value given.
        found: f64,
    },
    /// A temperature that is not a finite number.
    #[error("{what}: expected a finite temperature in °C, found {found}")]
    InvalidTemperature {
        /// Which temperature ("redline", "supply temperature").
        what: &'static str,
        /// The value given.
        found: f64,
    },
    /// A CoP curve coefficient that is not a finite number.
    #[error("CoP curve: coefficient `{name}` must be a finite number, not {found}")]
    InvalidCopCoefficient {
        /// "a", "b" or "c".
        name: &'static str,
        /// The value given.
        found: f64,
    },
    /// A CoP curve that is not positive at the supply temperature, so the
    /// cooling power would be infinite or negative.
    #[error("CoP curve: the coefficient of performance at {supply_c} °C is {cop}, expected a number > 0")]
    NonPositiveCop {
        /// The supply temperature, °C.
        supply_c: f64,
        /// The CoP there.
        cop: f64,
    },
    /// A host id outside the model.
    #[error("thermal view: host {host} is not in the recirculation model of {hosts} hosts")]
    UnknownHost {
        /// The host (index).
        host: usize,
        /// Hosts in the model.
        hosts: usize,
    },
}

/// The cooling needed by one snapshot of host powers: see [`ThermalModel::cooling`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoolingState {
    /// The warmest supply temperature that keeps every inlet at or below
    /// the redline, °C: `T_red − max_i (D·P)_i`.
    pub supply_c: f64,
    /// The hottest inlet's rise over the supply, °C: `max_i (D·P)_i`.
    pub peak_rise_c: f64,
    /// The CRAC's coefficient of performance at `supply_c`.
    pub cop: f64,
    /// IT power, W: `ΣP`.
    pub it_w: f64,
    /// Cooling power, W: `ΣP / CoP(supply_c)`.
    pub cooling_w: f64,
}

/// A machine room: recirculation between its hosts, the redline and the
/// CRAC's CoP curve.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalModel {
    recirculation: Recirculation,
    redline_c: f64,
    cop: CopCurve,
}

impl ThermalModel {
    /// A model, checked: the redline is a finite temperature.
    pub fn new(recirculation: Recirculation, redline_c: f64, cop: CopCurve) -> Result<Self, ThermalError> {
        check_temperature("redline", redline_c)?;
        Ok(ThermalModel {
            recirculation,
            redline_c,
            cop,
        })
    }

    /// The recirculation matrix.
    pub fn recirculation(&self) -> &Recirculation {
        &self.recirculation
    }

    /// The redline: the highest admissible inlet temperature, °C.
    pub fn redline_c(&self) -> f64 {
        self.redline_c
    }

    /// The CRAC's CoP curve.
    pub fn cop(&self) -> CopCurve {
        self.cop
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.recirculation.hosts()
    }

    /// Inlet temperatures, °C, one per host: `T_supply + D·P`.
    pub fn inlet_temperatures(&self, supply_c: f64, power_w: &[f64]) -> Result<Vec<f64>, ThermalError> {
        self.recirculation.inlet_temperatures(supply_c, power_w)
    }

    /// The warmest supply temperature that keeps every inlet at or below
    /// the redline, °C: `T_red − max_i (D·P)_i`.
    pub fn supply_temperature(&self, power_w: &[f64]) -> Result<f64, ThermalError> {
        Ok(self.redline_c - self.recirculation.peak_rise(power_w)?)
    }

    /// Cooling power, W, at a given supply temperature: `ΣP / CoP(T_supply)`.
    pub fn cooling_power(&self, supply_c: f64, power_w: &[f64]) -> Result<f64, ThermalError> {
        check_temperature("supply temperature", supply_c)?;
        let it = self.recirculation.check_power(power_w)?;
        self.cop.cooling_power(it, supply_c)
    }

    /// Everything at once for a snapshot of host powers: the supply
    /// temperature chosen as the warmest that respects the redline, and the
    /// cooling power at that temperature.
    pub fn cooling(&self, power_w: &[f64]) -> Result<CoolingState, ThermalError> {
        let peak_rise_c = self.recirculation.peak_rise(power_w)?;
        let supply_c = self.redline_c - peak_rise_c;
        let it_w: f64 = power_w.iter().sum();
        let cop = self.cop.at(supply_c);
        let cooling_w = self.cop.cooling_power(it_w, supply_c)?;
        Ok(CoolingState {
            supply_c,
            peak_rise_c,
            cop,
            it_w,
            cooling_w,
        })
    }
}

/// `Ok` if `t` is a finite temperature.
fn check_temperature(what: &'static str, t: f64) -> Result<(), ThermalError> {
    if t.is_finite() {
        Ok(())
    } else {
        Err(ThermalError::InvalidTemperature { what, found: t })
    }
}
