//! The heat-recirculation (cross-interference) matrix `D` of Tang, Gupta &
//! Varsamopoulos (IEEE TPDS 2008): `T_in = T_supply + D·P`.

use super::{RackCoefficients, RackLayout, ThermalError, check_temperature};

/// The heat-recirculation matrix `D`: `D[i][j]` is the rise, in °C, of
/// host `i`'s inlet temperature per watt drawn by host `j` (every entry
/// finite and `>= 0`). Hosts are indexed as [`crate::HostId::index`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recirculation {
    hosts: usize,
    /// Row-major, `hosts × hosts`.
    d: Vec<f64>,
}

impl Recirculation {
    /// A matrix of `hosts` rows given row-major, checked: `hosts²`
    /// coefficients, each finite and `>= 0`.
    pub fn new(hosts: usize, coefficients: Vec<f64>) -> Result<Self, ThermalError> {
        let expected = hosts.checked_mul(hosts).ok_or(ThermalError::MatrixShape {
            hosts,
            expected: usize::MAX,
            found: coefficients.len(),
        })?;
        if coefficients.len() != expected {
            return Err(ThermalError::MatrixShape {
                hosts,
                expected,
                found: coefficients.len(),
            });
        }
        if let Some((k, &v)) = coefficients
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(ThermalError::NegativeCoefficient {
                row: k / hosts,
                col: k % hosts,
                found: v,
            });
        }
        Ok(Recirculation {
            hosts,
            d: coefficients,
        })
    }

    /// A matrix given row by row (one row per host), checked as [`Recirculation::new`].
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self, ThermalError> {
        let hosts = rows.len();
        if let Some((row, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != hosts) {
            return Err(ThermalError::RowLength {
                row,
                expected: hosts,
                found: r.len(),
            });
        }
        Recirculation::new(hosts, rows.concat())
    }

    /// The simple per-rack matrix of a layout: `D[i][j]` is
    /// `coefficients.own` on the diagonal, `coefficients.above` if host `i`
    /// is above host `j` in the same rack, `coefficients.neighbour` if they
    /// are in adjacent racks, and 0 otherwise (see [`RackCoefficients`]).
    pub fn per_rack(layout: &RackLayout, coefficients: &RackCoefficients) -> Result<Self, ThermalError> {
        coefficients.check()?;
        let slots = layout.slots();
        let d = slots
            .iter()
            .enumerate()
            .flat_map(|(i, &at)| {
                slots
                    .iter()
                    .enumerate()
                    .map(move |(j, &from)| coefficients.between(at, from, i == j))
            })
            .collect();
        Recirculation::new(slots.len(), d)
    }

    /// Number of hosts (rows, and columns).
    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// `D[at][from]`, °C per W; `None` outside the matrix.
    pub fn coefficient(&self, at: usize, from: usize) -> Option<f64> {
        (at < self.hosts && from < self.hosts).then(|| self.d[at * self.hosts + from])
    }

    /// Row `at` of the matrix: how every host heats host `at`'s inlet.
    pub fn row(&self, at: usize) -> Option<&[f64]> {
        (at < self.hosts).then(|| &self.d[at * self.hosts..(at + 1) * self.hosts])
    }

    /// Checks a power vector (one finite value `>= 0` per host, watts) and
    /// returns its sum, the IT power.
    pub fn check_power(&self, power_w: &[f64]) -> Result<f64, ThermalError> {
        if power_w.len() != self.hosts {
            return Err(ThermalError::PowerLength {
                expected: self.hosts,
                found: power_w.len(),
            });
        }
        if let Some((host, &p)) = power_w
            .iter()
            .enumerate()
            .find(|(_, p)| !(p.is_finite() && **p >= 0.0))
        {
            return Err(ThermalError::InvalidPower { host, found: p });
        }
        Ok(power_w.iter().sum())
    }

    /// Every host's inlet rise over the supply, °C: `D·P`.
    pub fn rise(&self, power_w: &[f64]) -> Result<Vec<f64>, ThermalError> {
        self.check_power(power_w)?;
        Ok(self.rise_unchecked(power_w))
    }

    /// `D·P` for a power vector already checked.
    pub(crate) fn rise_unchecked(&self, power_w: &[f64]) -> Vec<f64> {
        if self.hosts == 0 {
            return Vec::new();
        }
        self.d
            .chunks_exact(self.hosts)
            .map(|row| row.iter().zip(power_w).map(|(d, p)| d * p).sum())
            .collect()
    }

    /// The hottest inlet's rise over the supply, °C: `max_i (D·P)_i`
    /// (0 with no hosts).
    pub fn peak_rise(&self, power_w: &[f64]) -> Result<f64, ThermalError> {
        Ok(self.rise(power_w)?.into_iter().fold(0.0, f64::max))
    }

    /// Inlet temperatures, °C, one per host: `T_supply + D·P`.
    pub fn inlet_temperatures(&self, supply_c: f64, power_w: &[f64]) -> Result<Vec<f64>, ThermalError> {
        check_temperature("supply temperature", supply_c)?;
        Ok(self.rise(power_w)?.into_iter().map(|r| supply_c + r).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thermal::{CopCurve, RackSlot, ThermalModel};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn all_close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close(*x, *y))
    }

    /// D = [[0.001, 0.002], [0.0005, 0.001]] °C/W, P = [100, 200] W.
    fn two_by_two() -> Recirculation {
        Recirculation::from_rows(&[vec![0.001, 0.002], vec![0.0005, 0.001]]).unwrap()
    }

    #[test]
    fn two_hosts_by_hand() {
        let d = two_by_two();
        let p = [100.0, 200.0];
        // D·P = [0.1 + 0.4, 0.05 + 0.2] = [0.5, 0.25].
        assert!(all_close(&d.rise(&p).unwrap(), &[0.5, 0.25]));
        assert!(all_close(
            &d.inlet_temperatures(20.0, &p).unwrap(),
            &[20.5, 20.25]
        ));
        let m = ThermalModel::new(d, 25.0, CopCurve::HP_UTILITY_DATA_CENTER).unwrap();
        // T_sup = 25 − max(0.5, 0.25) = 24.5 °C.
        assert!(close(m.supply_temperature(&p).unwrap(), 24.5));
        // CoP(24.5) = 0.0068·600.25 + 0.0008·24.5 + 0.458 = 4.0817 + 0.0196 + 0.458 = 4.5593;
        // cooling = 300 W / 4.5593 = 65.7996 W.
        let s = m.cooling(&p).unwrap();
        assert!(close(s.cop, 4.5593), "{}", s.cop);
        assert!(close(s.it_w, 300.0));
        assert!((s.cooling_w - 65.799_574_496).abs() < 1e-6, "{}", s.cooling_w);
        assert!(close(m.cooling_power(24.5, &p).unwrap(), s.cooling_w));
        // At that supply temperature the hottest inlet is exactly at the redline.
        let inlets = m.inlet_temperatures(s.supply_c, &p).unwrap();
        assert!(close(inlets[0], 25.0) && inlets[1] < 25.0);
    }

    /// Hosts 0 (bottom) and 1 (top) in rack 0, host 2 alone in rack 1, with
    /// the default coefficients own 0.001, above 0.002, neighbour 0.0005.
    fn three_hosts() -> Recirculation {
        let s = |rack, position| RackSlot { rack, position };
        let layout = RackLayout::new(vec![s(0, 0), s(0, 1), s(1, 0)]).unwrap();
        Recirculation::per_rack(&layout, &RackCoefficients::default()).unwrap()
    }

    #[test]
    fn per_rack_matrix_by_hand() {
        let d = three_hosts();
        // Host 0 is not heated by host 1 above it; host 1 is heated by host 0 below.
        assert_eq!(d.row(0).unwrap(), &[0.001, 0.0, 0.0005]);
        assert_eq!(d.row(1).unwrap(), &[0.002, 0.001, 0.0005]);
        assert_eq!(d.row(2).unwrap(), &[0.0005, 0.0005, 0.001]);
        assert_eq!(d.coefficient(1, 0), Some(0.002));
        assert_eq!(d.coefficient(3, 0), None);
        // Racks two apart do not interfere.
        let far = RackLayout::new(vec![
            RackSlot { rack: 0, position: 0 },
            RackSlot { rack: 2, position: 0 },
        ])
        .unwrap();
        let d = Recirculation::per_rack(&far, &RackCoefficients::default()).unwrap();
        assert_eq!(d.row(0).unwrap(), &[0.001, 0.0]);
    }

    #[test]
    fn three_hosts_by_hand() {
        let d = three_hosts();
        let p = [200.0, 100.0, 300.0];
        // D·P: host 0: 0.2 + 0 + 0.15 = 0.35; host 1: 0.4 + 0.1 + 0.15 = 0.65;
        // host 2: 0.1 + 0.05 + 0.3 = 0.45.
        assert!(all_close(&d.rise(&p).unwrap(), &[0.35, 0.65, 0.45]));
        assert!(all_close(
            &d.inlet_temperatures(18.0, &p).unwrap(),
            &[18.35, 18.65, 18.45]
        ));
        let m = ThermalModel::new(d, 27.0, CopCurve::default()).unwrap();
        // T_sup = 27 − 0.65 = 26.35 °C; CoP = 0.0068·694.3225 + 0.0008·26.35 + 0.458
        // = 4.721393 + 0.02108 + 0.458 = 5.200473; cooling = 600 / 5.200473 = 115.3741 W.
        let s = m.cooling(&p).unwrap();
        assert!(close(s.supply_c, 26.35) && close(s.peak_rise_c, 0.65));
        assert!(close(s.cop, 5.200473), "{}", s.cop);
        assert!((s.cooling_w - 115.374_120_777).abs() < 1e-6, "{}", s.cooling_w);
        // More load on the top host lowers the admissible supply and costs more cooling.
        let hotter = m.cooling(&[200.0, 300.0, 100.0]).unwrap();
        assert!(hotter.supply_c < s.supply_c && hotter.cooling_w > s.cooling_w);
    }

    #[test]
    fn bad_matrices_and_powers_are_typed_errors() {
        assert_eq!(
            Recirculation::new(2, vec![0.0; 3]),
            Err(ThermalError::MatrixShape {
                hosts: 2,
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            Recirculation::from_rows(&[vec![0.0, 0.0], vec![0.0]]),
            Err(ThermalError::RowLength {
                row: 1,
                expected: 2,
                found: 1
            })
        );
        let e = Recirculation::new(2, vec![0.0, 0.0, -0.001, 0.0]).unwrap_err();
        assert_eq!(
            e,
            ThermalError::NegativeCoefficient {
                row: 1,
                col: 0,
                found: -0.001
            }
        );
        assert!(
            e.to_string()
                .contains("coefficient [1][0] must be a finite number >= 0")
        );
        assert!(matches!(
            Recirculation::new(1, vec![f64::NAN]),
            Err(ThermalError::NegativeCoefficient { row: 0, col: 0, .. })
        ));
        let d = two_by_two();
        assert_eq!(
            d.rise(&[1.0]),
            Err(ThermalError::PowerLength {
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            d.rise(&[1.0, -5.0]),
            Err(ThermalError::InvalidPower { host: 1, found: -5.0 })
        );
        assert!(matches!(
            d.inlet_temperatures(f64::INFINITY, &[1.0, 1.0]),
            Err(ThermalError::InvalidTemperature {
                what: "supply temperature",
                ..
            })
        ));
        assert!(matches!(
            ThermalModel::new(d, f64::NAN, CopCurve::default()),
            Err(ThermalError::InvalidTemperature { what: "redline", .. })
        ));
    }

    #[test]
    fn no_hosts_is_no_heat() {
        let d = Recirculation::new(0, vec![]).unwrap();
        assert_eq!(d.rise(&[]), Ok(vec![]));
        assert_eq!(d.peak_rise(&[]), Ok(0.0));
    }
}
