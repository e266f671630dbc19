//! The CRAC's coefficient of performance as a function of the supply
//! temperature.

use super::ThermalError;

/// A quadratic coefficient-of-performance curve `CoP(T) = a T² + b T + c`,
/// `T` the supply (outlet) temperature of the CRAC in °C: watts of heat
/// removed per watt of cooling power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopCurve {
    /// Quadratic coefficient, 1/°C².
    pub a: f64,
    /// Linear coefficient, 1/°C.
    pub b: f64,
    /// Constant term.
    pub c: f64,
}

impl CopCurve {
    /// The curve Moore, Chase, Ranganathan & Sharma measured for the
    /// chilled-water CRAC units of the HP Utility Data Center ("Making
    /// scheduling 'cool': temperature-aware workload placement in data
    /// centers", USENIX ATC 2005): `0.0068 T² + 0.0008 T + 0.458`. It is
    /// positive for every `T` (its discriminant is negative).
    pub const HP_UTILITY_DATA_CENTER: CopCurve = CopCurve {
        a: 0.0068,
        b: 0.0008,
        c: 0.458,
    };

    /// A curve, checked: every coefficient finite. (Positivity is checked
    /// where the curve is used, at the supply temperature.)
    pub fn new(a: f64, b: f64, c: f64) -> Result<Self, ThermalError> {
        for (name, v) in [("a", a), ("b", b), ("c", c)] {
            if !v.is_finite() {
                return Err(ThermalError::InvalidCopCoefficient { name, found: v });
            }
        }
        Ok(CopCurve { a, b, c })
    }

    /// The coefficient of performance at supply temperature `t_c` (°C).
    pub fn at(&self, t_c: f64) -> f64 {
        (self.a * t_c + self.b) * t_c + self.c
    }

    /// Cooling power, W, to remove `heat_w` watts with supply air at
    /// `supply_c`: `heat_w / CoP(supply_c)`. An error if the CoP there is
    /// not a positive finite number.
    pub fn cooling_power(&self, heat_w: f64, supply_c: f64) -> Result<f64, ThermalError> {
        let cop = self.at(supply_c);
        if cop.is_finite() && cop > 0.0 {
            Ok(heat_w / cop)
        } else {
            Err(ThermalError::NonPositiveCop { supply_c, cop })
        }
    }
}

impl Default for CopCurve {
    /// [`CopCurve::HP_UTILITY_DATA_CENTER`].
    fn default() -> Self {
        CopCurve::HP_UTILITY_DATA_CENTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moore_curve_at_hand_computed_points() {
        let c = CopCurve::HP_UTILITY_DATA_CENTER;
        // 0.458 at 0 °C; 0.0068·400 + 0.0008·20 + 0.458 = 2.72 + 0.016 + 0.458 = 3.194 at 20 °C.
        assert!((c.at(0.0) - 0.458).abs() < 1e-12);
        assert!((c.at(20.0) - 3.194).abs() < 1e-12);
        // 1000 W at 20 °C: 1000 / 3.194 = 313.08... W.
        let w = c.cooling_power(1000.0, 20.0).unwrap();
        assert!((w - 313.087_038_196_618_66).abs() < 1e-9, "{w}");
    }

    #[test]
    fn a_curve_that_is_not_positive_is_an_error_not_a_division_by_zero() {
        let flat = CopCurve::new(0.0, 0.1, -1.0).unwrap(); // zero at 10 °C
        assert_eq!(
            flat.cooling_power(100.0, 10.0),
            Err(ThermalError::NonPositiveCop {
                supply_c: 10.0,
                cop: 0.0
            })
        );
        assert!(matches!(
            CopCurve::new(f64::NAN, 0.0, 1.0),
            Err(ThermalError::InvalidCopCoefficient { name: "a", .. })
        ));
    }
}
