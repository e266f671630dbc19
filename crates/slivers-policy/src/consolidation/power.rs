//! Host power models: watts as a function of CPU utilisation.
//!
//! Two shapes, as in CloudSim's `power.models`: a straight line from idle to
//! full power, and a SPECpower-style table of eleven measured points (0 %,
//! 10 %, ..., 100 % CPU) between which power is interpolated linearly. The
//! PlanetLab experiment of Beloglazov & Buyya (CCPE 2012) uses the two HP
//! ProLiant tables below.

/// Watts at 0 %, 10 %, ..., 100 % CPU of the HP ProLiant ML110 G4 (Intel
/// Xeon 3040, 2 cores x 1860 MIPS), from SPECpower.
pub const HP_PROLIANT_ML110_G4: [f64; 11] = [
    86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0, 114.0, 117.0,
];

/// Watts at 0 %, 10 %, ..., 100 % CPU of the HP ProLiant ML110 G5 (Intel
/// Xeon 3075, 2 cores x 2660 MIPS), from SPECpower.
pub const HP_PROLIANT_ML110_G5: [f64; 11] = [
    93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0, 129.0, 133.0, 135.0,
];

/// A host's power draw as a function of its CPU utilisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PowerModel {
    /// `idle_w` at 0 % CPU rising linearly to `max_w` at 100 %.
    Linear {
        /// Watts at 0 % CPU (a host that is on and idle).
        idle_w: f64,
        /// Watts at 100 % CPU.
        max_w: f64,
    },
    /// Watts at 0 %, 10 %, ..., 100 % CPU, interpolated linearly between.
    Table([f64; 11]),
}

/// A power model that cannot describe a host.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PowerModelError {
    /// A wattage is negative or not a finite number.
    #[error("power model: watts at {at_percent} % CPU must be a finite number >= 0, not {found}")]
    Invalid {
        /// The utilisation point, percent.
        at_percent: u32,
        /// The value given.
        found: f64,
    },
    /// Power falls as utilisation rises.
    #[error(
        "power model: watts must not fall as CPU rises, but {at_percent} % gives {found} W after {previous} W"
    )]
    Decreasing {
        /// The utilisation point where it falls, percent.
        at_percent: u32,
        /// Watts there.
        found: f64,
        /// Watts at the point before.
        previous: f64,
    },
}

impl PowerModel {
    /// A linear model, checked: both finite and non-negative, `max_w >= idle_w`.
    pub fn linear(idle_w: f64, max_w: f64) -> Result<Self, PowerModelError> {
        check_points(&[(0, idle_w), (100, max_w)])?;
        Ok(PowerModel::Linear { idle_w, max_w })
    }

    /// A table model, checked: every point finite and non-negative, and
    /// never falling.
    pub fn table(watts: [f64; 11]) -> Result<Self, PowerModelError> {
        let points: Vec<(u32, f64)> = watts
            .iter()
            .enumerate()
            .map(|(i, &w)| (i as u32 * 10, w))
            .collect();
        check_points(&points)?;
        Ok(PowerModel::Table(watts))
    }

    /// The HP ProLiant ML110 G4 of the PlanetLab experiment.
    pub const fn hp_proliant_ml110_g4() -> Self {
        PowerModel::Table(HP_PROLIANT_ML110_G4)
    }

    /// The HP ProLiant ML110 G5 of the PlanetLab experiment.
    pub const fn hp_proliant_ml110_g5() -> Self {
        PowerModel::Table(HP_PROLIANT_ML110_G5)
    }

    /// Watts at `utilization` (a fraction of the CPU), clamped to [0, 1]; a
    /// NaN counts as 0.
    pub fn watts(&self, utilization: f64) -> f64 {
        let u = if utilization.is_nan() {
            0.0
        } else {
            utilization.clamp(0.0, 1.0)
        };
        match *self {
            PowerModel::Linear { idle_w, max_w } => idle_w + (max_w - idle_w) * u,
            PowerModel::Table(ref t) => {
                let x = u * 10.0;
                let i = (x.floor() as usize).min(9);
                t[i] + (t[i + 1] - t[i]) * (x - i as f64)
            }
        }
    }

    /// Watts of a host that is on and idle.
    pub fn idle_watts(&self) -> f64 {
        self.watts(0.0)
    }

    /// Watts at full CPU.
    pub fn max_watts(&self) -> f64 {
        self.watts(1.0)
    }
}

fn check_points(points: &[(u32, f64)]) -> Result<(), PowerModelError> {
    let mut previous: Option<f64> = None;
    for &(at_percent, w) in points {
        if !w.is_finite() || w < 0.0 {
            return Err(PowerModelError::Invalid { at_percent, found: w });
        }
        if let Some(p) = previous
            && w < p
        {
            return Err(PowerModelError::Decreasing {
                at_percent,
                found: w,
                previous: p,
            });
        }
        previous = Some(w);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_interpolates_and_clamps() {
        let g4 = PowerModel::hp_proliant_ml110_g4();
        assert_eq!(g4.watts(0.0), 86.0);
        assert_eq!(g4.watts(1.0), 117.0);
        assert_eq!(g4.watts(0.5), 102.0);
        // Halfway between 10 % (89.4) and 20 % (92.6).
        assert!((g4.watts(0.15) - 91.0).abs() < 1e-9);
        assert_eq!(g4.watts(-0.3), 86.0);
        assert_eq!(g4.watts(1.7), 117.0);
        assert_eq!(g4.watts(f64::NAN), 86.0);
        let g5 = PowerModel::hp_proliant_ml110_g5();
        assert_eq!(g5.idle_watts(), 93.7);
        assert_eq!(g5.max_watts(), 135.0);
        assert!((g5.watts(0.95) - 134.0).abs() < 1e-9);
    }

    #[test]
    fn linear_runs_from_idle_to_max() {
        let m = PowerModel::linear(100.0, 200.0).unwrap();
        assert_eq!(m.watts(0.25), 125.0);
        assert_eq!(m.watts(2.0), 200.0);
    }

    #[test]
    fn constructors_reject_bad_models() {
        assert_eq!(
            PowerModel::linear(-1.0, 5.0).unwrap_err(),
            PowerModelError::Invalid {
                at_percent: 0,
                found: -1.0
            }
        );
        let e = PowerModel::linear(200.0, 100.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "power model: watts must not fall as CPU rises, but 100 % gives 100 W after 200 W"
        );
        let mut t = HP_PROLIANT_ML110_G4;
        t[6] = 100.0;
        assert!(matches!(
            PowerModel::table(t),
            Err(PowerModelError::Decreasing { at_percent: 60, .. })
        ));
        t[6] = f64::INFINITY;
        assert!(matches!(
            PowerModel::table(t),
            Err(PowerModelError::Invalid { at_percent: 60, .. })
        ));
        assert_eq!(
            PowerModel::table(HP_PROLIANT_ML110_G5),
            Ok(PowerModel::hp_proliant_ml110_g5())
        );
    }
}
