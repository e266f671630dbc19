//! Where the hosts stand, and the per-rack recirculation coefficients.

use super::ThermalError;

/// A host's place: its rack and its position in the rack, counted from the
/// bottom (0 = lowest). Racks are numbered along the aisle, so racks `r`
/// and `r + 1` stand side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RackSlot {
    /// The rack.
    pub rack: u32,
    /// Position in the rack, 0 at the bottom.
    pub position: u32,
}

/// The place of every host, host `i` (a [`crate::HostId`] of index `i`) at
/// `slots()[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RackLayout {
    slots: Vec<RackSlot>,
}

impl RackLayout {
    /// A layout from each host's slot, checked: no two hosts in one slot.
    pub fn new(slots: Vec<RackSlot>) -> Result<Self, ThermalError> {
        let mut order: Vec<(RackSlot, usize)> = slots.iter().copied().zip(0..).collect();
        order.sort();
        for w in order.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(ThermalError::DuplicateSlot {
                    first: w[0].1,
                    second: w[1].1,
                    rack: w[0].0.rack,
                    position: w[0].0.position,
                });
            }
        }
        Ok(RackLayout { slots })
    }

    /// `hosts` hosts filling racks of `per_rack` from the bottom up: host
    /// `i` in rack `i / per_rack` at position `i % per_rack`.
    pub fn filled(hosts: usize, per_rack: u32) -> Result<Self, ThermalError> {
        if per_rack == 0 {
            return Err(ThermalError::EmptyRack);
        }
        let per = per_rack as usize;
        let slots = (0..hosts)
            .map(|i| RackSlot {
                rack: (i / per) as u32,
                position: (i % per) as u32,
            })
            .collect();
        Ok(RackLayout { slots })
    }

    /// Each host's slot, by host index.
    pub fn slots(&self) -> &[RackSlot] {
        &self.slots
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.slots.len()
    }
}

/// The coefficients of [`super::Recirculation::per_rack`], in °C of inlet
/// rise per watt drawn by the heating host. For host `i` heated by host `j`:
///
/// * `own` if `i == j` (a host's exhaust curling back into its own inlet);
/// * `above` if both are in the same rack and `i` is higher up than `j`
///   (hot exhaust rises along the rack front, so upper hosts breathe the
///   air lower hosts heated); a host below or beside is not heated;
/// * `neighbour` if `i` is in the rack next to `j`'s (racks `r ± 1`),
///   whatever the positions (air spilling round the rack ends and over the
///   top);
/// * 0 otherwise.
///
/// The defaults — `own` 0.001, `above` 0.002, `neighbour` 0.0005 °C/W,
/// i.e. 1, 2 and 0.5 °C per kW — are illustrative, chosen here and taken
/// from neither paper: they make the top host of a lone rack of ten 200 W
/// hosts breathe air 3.8 °C above the supply (0.2 °C of its own, 3.6 °C
/// from the nine below), plus 1 °C per full neighbouring rack. A site with
/// a measured or CFD-fitted matrix should give it in full with
/// [`super::Recirculation::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RackCoefficients {
    /// Host to its own inlet, °C/W.
    pub own: f64,
    /// Host to every host above it in its rack, °C/W.
    pub above: f64,
    /// Host to every host in a neighbouring rack, °C/W.
    pub neighbour: f64,
}

impl Default for RackCoefficients {
    fn default() -> Self {
        RackCoefficients {
            own: 0.001,
            above: 0.002,
            neighbour: 0.0005,
        }
    }
}

impl RackCoefficients {
    /// `Ok` if every coefficient is a finite number >= 0.
    pub fn check(&self) -> Result<(), ThermalError> {
        for (name, v) in [
            ("own", self.own),
            ("above", self.above),
            ("neighbour", self.neighbour),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ThermalError::NegativeRackCoefficient { name, found: v });
            }
        }
        Ok(())
    }

    /// `D[i][j]` for host `i` at `at` heated by host `j` at `from` (`same`:
    /// whether they are one host).
    pub(super) fn between(&self, at: RackSlot, from: RackSlot, same: bool) -> f64 {
        if same {
            self.own
        } else if at.rack == from.rack {
            if at.position > from.position {
                self.above
            } else {
                0.0
            }
        } else if at.rack.abs_diff(from.rack) == 1 {
            self.neighbour
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_layout_fills_racks_from_the_bottom() {
        let l = RackLayout::filled(5, 2).unwrap();
        let got: Vec<(u32, u32)> = l.slots().iter().map(|s| (s.rack, s.position)).collect();
        assert_eq!(got, vec![(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]);
        assert_eq!(RackLayout::filled(3, 0), Err(ThermalError::EmptyRack));
    }

    #[test]
    fn two_hosts_in_one_slot_are_named() {
        let s = |rack, position| RackSlot { rack, position };
        let e = RackLayout::new(vec![s(0, 0), s(1, 2), s(0, 1), s(1, 2)]).unwrap_err();
        assert_eq!(
            e,
            ThermalError::DuplicateSlot {
                first: 1,
                second: 3,
                rack: 1,
                position: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "rack layout: hosts 1 and 3 are both at rack 1, position 2"
        );
    }

    #[test]
    fn negative_rack_coefficients_are_named() {
        let c = RackCoefficients {
            above: -0.1,
            ..RackCoefficients::default()
        };
        assert_eq!(
            c.check(),
            Err(ThermalError::NegativeRackCoefficient {
                name: "above",
                found: -0.1
            })
        );
        assert!(RackCoefficients::default().check().is_ok());
    }
}
