//! thermal-aware: place away from hot spots. Of the hosts the sliver fits
//! on, choose the one whose extra power raises the hottest inlet in the room
//! least, under the heat-recirculation model `T_in = T_supply + D·P` of
//! Tang, Gupta & Varsamopoulos (IEEE TPDS 2008; see [`crate::thermal`]).
//!
//! With host `c` drawing `ΔP_c` more watts, every inlet `i` rises by
//! `D[i][c]·ΔP_c`, so the peak inlet after placing on `c` is
//!
//! ```text
//! T_supply + max_i ( (D·P)_i + D[i][c] · ΔP_c )
//! ```
//!
//! and the policy takes the candidate that minimises it; ties go to the
//! least power increase `ΔP_c`, then to the lowest host id. The supply
//! temperature is the same for every candidate, so the decision only needs
//! the rises. Minimising the peak rise also maximises the supply
//! temperature the redline admits (`T_red − max_i (D·P)_i`), hence the CRAC's
//! coefficient of performance: less cooling power for the same IT power.
//!
//! # How a site calls it
//!
//! This is not (yet) a [`crate::Placement`]: a [`crate::ClusterView`] holds
//! resources, not power or temperatures. A site that keeps a
//! [`Recirculation`] matrix for its hosts (indexed by [`HostId::index`])
//! and a power model per host would, for each sliver to place:
//!
//! 1. list the hosts the sliver fits on (for example with
//!    [`crate::ClusterView::fits`]);
//! 2. compute every host's power now (`power_w`, 0 W for a host that is
//!    off) and, for each candidate, its power with the sliver added
//!    (`power_after_w`, including the idle power of a host that must be
//!    switched on);
//! 3. call [`ThermalAware::choose`] on a [`ThermalView`] of these and place
//!    the sliver on the returned host (none if there were no candidates).

use crate::HostId;
use crate::thermal::{Recirculation, ThermalError};

/// One host the sliver fits on, and the power it would draw with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalCandidate {
    /// The host.
    pub host: HostId,
    /// Its power draw with the sliver added, W.
    pub power_after_w: f64,
}

/// The snapshot a thermal-aware decision reads.
#[derive(Debug, Clone, Copy)]
pub struct ThermalView<'a> {
    /// The room's recirculation matrix, hosts indexed by [`HostId::index`].
    pub recirculation: &'a Recirculation,
    /// Every host's power draw now, W, by host index (one per host of the
    /// matrix).
    pub power_w: &'a [f64],
    /// The hosts the sliver fits on, in any order.
    pub candidates: &'a [ThermalCandidate],
}

/// What [`ThermalAware::choose`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalChoice {
    /// The host chosen.
    pub host: HostId,
    /// The hottest inlet's rise over the supply after placing there, °C:
    /// the peak inlet temperature is the supply temperature plus this.
    pub peak_rise_c: f64,
    /// The host's power increase, W.
    pub power_increase_w: f64,
}

/// Thermal-aware placement: least peak inlet temperature after placement.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThermalAware;

impl ThermalAware {
    /// The candidate whose placement leaves the lowest peak inlet
    /// temperature (ties: least power increase, then lowest id); `None` if
    /// there are no candidates. An error if a power is not a finite number
    /// `>= 0`, `power_w` is not one value per host, or a candidate is not a
    /// host of the matrix.
    pub fn choose(&self, view: &ThermalView) -> Result<Option<ThermalChoice>, ThermalError> {
        let d = view.recirculation;
        d.check_power(view.power_w)?;
        let base = d.rise_unchecked(view.power_w);
        let mut best: Option<ThermalChoice> = None;
        for c in view.candidates {
            let choice = evaluate(d, view.power_w, &base, c)?;
            let better = match &best {
                None => true,
                Some(b) => choice
                    .peak_rise_c
                    .total_cmp(&b.peak_rise_c)
                    .then(choice.power_increase_w.total_cmp(&b.power_increase_w))
                    .then(choice.host.cmp(&b.host))
                    .is_lt(),
            };
            if better {
                best = Some(choice);
            }
        }
        Ok(best)
    }

    /// The peak rise after placing on each candidate, in the candidates'
    /// order: what [`ThermalAware::choose`] minimises, for reports and tests.
    pub fn evaluate_all(&self, view: &ThermalView) -> Result<Vec<ThermalChoice>, ThermalError> {
        let d = view.recirculation;
        d.check_power(view.power_w)?;
        let base = d.rise_unchecked(view.power_w);
        view.candidates
            .iter()
            .map(|c| evaluate(d, view.power_w, &base, c))
            .collect()
    }
}

/// Peak rise after placing on `c`, given the rises `base = D·P` now:
/// `max_i (base_i + D[i][c]·ΔP_c)`.
fn evaluate(
    d: &Recirculation,
    power_w: &[f64],
    base: &[f64],
    c: &ThermalCandidate,
) -> Result<ThermalChoice, ThermalError> {
    let hosts = d.hosts();
    let k = c.host.index();
    if k >= hosts {
        return Err(ThermalError::UnknownHost { host: k, hosts });
    }
    if !(c.power_after_w.is_finite() && c.power_after_w >= 0.0) {
        return Err(ThermalError::InvalidPower {
            host: k,
            found: c.power_after_w,
        });
    }
    let delta = c.power_after_w - power_w[k];
    let peak = base
        .iter()
        .enumerate()
        .map(|(i, r)| r + d.coefficient(i, k).unwrap_or(0.0) * delta)
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(ThermalChoice {
        host: c.host,
        peak_rise_c: peak,
        power_increase_w: delta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thermal::{RackCoefficients, RackLayout, RackSlot};
    use proptest::prelude::*;

    fn cand(host: u32, power_after_w: f64) -> ThermalCandidate {
        ThermalCandidate {
            host: HostId(host),
            power_after_w,
        }
    }

    fn choose(d: &Recirculation, power_w: &[f64], candidates: &[ThermalCandidate]) -> Option<ThermalChoice> {
        ThermalAware
            .choose(&ThermalView {
                recirculation: d,
                power_w,
                candidates,
            })
            .unwrap()
    }

    #[test]
    fn prefers_the_host_whose_exhaust_recirculates_least() {
        // Host 0's exhaust heats host 1's inlet hard (0.004 °C/W); host 1's
        // barely reaches host 0 (0.0005). P = [100, 100]: rises now
        // [0.1 + 0.05, 0.4 + 0.1] = [0.15, 0.5].
        let d = Recirculation::from_rows(&[vec![0.001, 0.0005], vec![0.004, 0.001]]).unwrap();
        let p = [100.0, 100.0];
        // +100 W on host 0: [0.25, 0.9], peak 0.9. On host 1: [0.2, 0.6], peak 0.6.
        // Host 1, although it is the hotter host now.
        let c = choose(&d, &p, &[cand(0, 200.0), cand(1, 200.0)]).unwrap();
        assert_eq!(c.host, HostId(1));
        assert!((c.peak_rise_c - 0.6).abs() < 1e-12);
        assert!((c.power_increase_w - 100.0).abs() < 1e-12);
    }

    #[test]
    fn places_away_from_the_hot_rack() {
        // Hosts 0 (bottom) and 1 (top) in rack 0, host 2 alone in rack 1;
        // own 0.001, above 0.002, neighbour 0.0005 °C/W; every host at 100 W.
        // Rises now: [0.1 + 0.05, 0.2 + 0.1 + 0.05, 0.05 + 0.05 + 0.1] = [0.15, 0.35, 0.2].
        let s = |rack, position| RackSlot { rack, position };
        let layout = RackLayout::new(vec![s(0, 0), s(0, 1), s(1, 0)]).unwrap();
        let d = Recirculation::per_rack(&layout, &RackCoefficients::default()).unwrap();
        let p = [100.0; 3];
        let all = [cand(0, 150.0), cand(1, 150.0), cand(2, 150.0)];
        // +50 W on host 0 heats host 1 above it: peak 0.35 + 0.1 = 0.45.
        // On host 1: 0.35 + 0.05 = 0.4. On host 2: max(0.375, 0.25) = 0.375.
        let got = ThermalAware
            .evaluate_all(&ThermalView {
                recirculation: &d,
                power_w: &p,
                candidates: &all,
            })
            .unwrap();
        let peaks: Vec<f64> = got.iter().map(|c| c.peak_rise_c).collect();
        for (g, want) in peaks.iter().zip([0.45, 0.4, 0.375]) {
            assert!((g - want).abs() < 1e-12, "{peaks:?}");
        }
        assert_eq!(choose(&d, &p, &all).unwrap().host, HostId(2));
        // Without host 2, the top of the rack beats the bottom.
        assert_eq!(choose(&d, &p, &all[..2]).unwrap().host, HostId(1));
    }

    #[test]
    fn ties_go_to_the_least_power_increase_then_the_lowest_id() {
        // No cross-talk; host 2 at 300 W holds the peak (0.3) whatever happens
        // to hosts 0 and 1 at 100 W.
        let d = Recirculation::from_rows(&[
            vec![0.001, 0.0, 0.0],
            vec![0.0, 0.001, 0.0],
            vec![0.0, 0.0, 0.001],
        ])
        .unwrap();
        let p = [100.0, 100.0, 300.0];
        let c = choose(&d, &p, &[cand(0, 200.0), cand(1, 150.0)]).unwrap();
        assert_eq!((c.host, c.power_increase_w), (HostId(1), 50.0));
        assert_eq!(c.peak_rise_c, 0.3);
        assert_eq!(
            choose(&d, &p, &[cand(1, 150.0), cand(0, 150.0)]).unwrap().host,
            HostId(0)
        );
        // Host 2 itself would raise the peak: never preferred over a cooler tie.
        assert_eq!(
            choose(&d, &p, &[cand(2, 301.0), cand(1, 250.0)]).unwrap().host,
            HostId(1)
        );
    }

    #[test]
    fn no_candidates_no_host_and_bad_input_is_an_error() {
        let d = Recirculation::from_rows(&[vec![0.001, 0.0], vec![0.0, 0.001]]).unwrap();
        assert_eq!(choose(&d, &[1.0, 1.0], &[]), None);
        let run = |power_w: &[f64], candidates: &[ThermalCandidate]| {
            ThermalAware.choose(&ThermalView {
                recirculation: &d,
                power_w,
                candidates,
            })
        };
        assert_eq!(
            run(&[1.0, 1.0], &[cand(0, 2.0), cand(5, 2.0)]),
            Err(ThermalError::UnknownHost { host: 5, hosts: 2 })
        );
        assert_eq!(
            run(&[1.0, 1.0], &[cand(1, f64::NAN)]).unwrap_err().to_string(),
            "host powers: host 1 must draw a finite number of watts >= 0, not NaN"
        );
        assert_eq!(
            run(&[1.0], &[cand(0, 2.0)]),
            Err(ThermalError::PowerLength {
                expected: 2,
                found: 1
            })
        );
    }

    /// A room: hosts, matrix (row-major), powers now, and candidates (host
    /// index, watts the sliver adds).
    type Room = (usize, Vec<f64>, Vec<f64>, Vec<(usize, f64)>);

    /// A room of 1 to 6 hosts.
    fn room() -> impl Strategy<Value = Room> {
        (1usize..=6).prop_flat_map(|n| {
            (
                Just(n),
                prop::collection::vec(0.0..0.005f64, n * n),
                prop::collection::vec(0.0..400.0f64, n),
                prop::collection::vec((0..n, 0.0..200.0f64), 1..=n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The chosen host's peak inlet, recomputed from scratch as the
        /// maximum of `T_sup + D·P'`, is the minimum over the candidates.
        #[test]
        fn the_choice_has_the_least_peak_inlet((n, coefficients, power, adds) in room()) {
            let d = Recirculation::new(n, coefficients).unwrap();
            // One candidate per host (the first drawn).
            let mut candidates: Vec<ThermalCandidate> = Vec::new();
            for &(h, w) in &adds {
                if candidates.iter().all(|c| c.host.index() != h) {
                    candidates.push(cand(h as u32, power[h] + w));
                }
            }
            let supply = 18.0;
            let peak_after = |c: &ThermalCandidate| {
                let mut p = power.clone();
                p[c.host.index()] = c.power_after_w;
                d.inlet_temperatures(supply, &p).unwrap().into_iter().fold(f64::NEG_INFINITY, f64::max)
            };
            let chosen = choose(&d, &power, &candidates).unwrap();
            prop_assert!(candidates.iter().any(|c| c.host == chosen.host));
            let chosen_cand = candidates.iter().find(|c| c.host == chosen.host).unwrap();
            let mine = peak_after(chosen_cand);
            prop_assert!((mine - (supply + chosen.peak_rise_c)).abs() < 1e-9);
            let least = candidates.iter().map(peak_after).fold(f64::INFINITY, f64::min);
            prop_assert!(mine <= least + 1e-9, "chose {:?} at {}, least {}", chosen.host, mine, least);
        }
    }
}
