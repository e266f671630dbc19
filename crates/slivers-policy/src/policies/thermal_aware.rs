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
//! # As a placement policy
//!
//! [`ThermalPlacement`] is the [`crate::Placement`] (`thermal-aware` in
//! scenario files): it reads each host's power from what is committed on
//! it in the site's snapshot ([`HostPower`]: 0 W for an idle host, which
//! is powered down; the idle power plus a share of the dynamic power
//! proportional to the CPU committed otherwise), takes the hosts the
//! sliver fits on as candidates ([`crate::PlaceRequest::fits_on`]; a grown
//! sliver that still fits on its host stays put, as with the other
//! policies), and chooses among them as [`ThermalAware::choose`] does. With
//! a per-rack room ([`ThermalRoom::Racks`]) one decision costs O(hosts):
//! the rises once, then O(1) per candidate ([`RackRecirculation::peak_after`]);
//! with a full matrix ([`ThermalRoom::Matrix`]) it is
//! [`ThermalAware::choose`] itself, O(hosts²).

use crate::thermal::{RackRecirculation, Recirculation, ThermalError};
use crate::{ClusterView, HostId, PlaceRequest, Placement, Resources};

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

/// A host's power draw from what is committed on it: the linear model of
/// the simulator's energy meter without its boot and shutdown transients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostPower {
    /// Draw of a powered host with nothing running, W.
    pub idle_w: f64,
    /// Draw of a fully loaded host, W.
    pub peak_w: f64,
}

impl HostPower {
    /// The draw, W, of a host of `capacity` with `used` committed: 0 if
    /// nothing is (the host is powered down), else `idle + (peak − idle) ×
    /// min(cpu used, cpu capacity) / cpu capacity`.
    pub fn watts(&self, used: &Resources, capacity: &Resources) -> f64 {
        if used.is_zero() {
            return 0.0;
        }
        let cap = capacity.cpu_millicores().max(1);
        let load = used.cpu_millicores().min(cap) as f64 / cap as f64;
        self.idle_w + (self.peak_w - self.idle_w) * load
    }
}

/// The recirculation a thermal-aware placement decides over.
#[derive(Debug, Clone, PartialEq)]
pub enum ThermalRoom {
    /// A full matrix: O(hosts²) per decision.
    Matrix(Recirculation),
    /// The per-rack model: O(hosts) per decision.
    Racks(RackRecirculation),
}

impl ThermalRoom {
    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        match self {
            ThermalRoom::Matrix(d) => d.hosts(),
            ThermalRoom::Racks(r) => r.hosts(),
        }
    }
}

/// What a thermal-aware placement needs besides the site's snapshot: the
/// room's recirculation and the hosts' power model.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalContext {
    /// The recirculation, hosts indexed as [`HostId::index`].
    pub room: ThermalRoom,
    /// The hosts' power model.
    pub power: HostPower,
}

/// thermal-aware as a [`Placement`]: the candidate whose extra power raises
/// the hottest inlet least (ties: least power increase, then lowest id).
///
/// Built without a context ([`crate::PlacementKind::build`]), or given a
/// snapshot whose host count differs from the room's, it sees no
/// recirculation: every candidate ties on the peak, and the least power
/// increase wins. The simulator always builds it with its room
/// ([`crate::Policy::build_with`]), and scenario validation refuses
/// `thermal-aware` without a `[thermal]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalPlacement {
    /// The room and power model; `None`: no recirculation known.
    pub context: Option<ThermalContext>,
}

impl ThermalPlacement {
    /// The choice for `req` over `view`, with its peak rise (None if the
    /// sliver fits nowhere but, possibly, where it is).
    pub fn choose(&self, view: &ClusterView, req: &PlaceRequest) -> Option<ThermalChoice> {
        let power = self.context.as_ref().map_or(
            HostPower {
                idle_w: 0.0,
                peak_w: 1.0,
            },
            |c| c.power,
        );
        let power_w: Vec<f64> = view
            .hosts
            .iter()
            .map(|h| power.watts(&h.used, &h.capacity))
            .collect();
        let candidates: Vec<ThermalCandidate> = view
            .hosts
            .iter()
            .filter(|h| Some(h.id) != req.current_host() && req.fits_on(view, h.id))
            .map(|h| ThermalCandidate {
                host: h.id,
                power_after_w: power.watts(
                    &h.used.saturating_minus(&req.held_on(h.id)).plus(&req.size),
                    &h.capacity,
                ),
            })
            .collect();
        let room = self
            .context
            .as_ref()
            .map(|c| &c.room)
            .filter(|r| r.hosts() == view.hosts.len());
        match room {
            Some(ThermalRoom::Matrix(d)) => ThermalAware
                .choose(&ThermalView {
                    recirculation: d,
                    power_w: &power_w,
                    candidates: &candidates,
                })
                .ok()
                .flatten(),
            Some(ThermalRoom::Racks(r)) => {
                let rises = r.rises(&power_w).ok()?;
                best(candidates.iter().filter_map(|c| {
                    let delta = c.power_after_w - power_w[c.host.index()];
                    Some(ThermalChoice {
                        host: c.host,
                        peak_rise_c: r.peak_after(&rises, c.host.index(), delta)?,
                        power_increase_w: delta,
                    })
                }))
            }
            None => best(candidates.iter().map(|c| ThermalChoice {
                host: c.host,
                peak_rise_c: 0.0,
                power_increase_w: c.power_after_w - power_w[c.host.index()],
            })),
        }
    }
}

/// The least peak rise, then the least power increase, then the lowest id.
fn best(choices: impl Iterator<Item = ThermalChoice>) -> Option<ThermalChoice> {
    choices.reduce(|b, c| {
        let better = c
            .peak_rise_c
            .total_cmp(&b.peak_rise_c)
            .then(c.power_increase_w.total_cmp(&b.power_increase_w))
            .then(c.host.cmp(&b.host))
            .is_lt();
        if better { c } else { b }
    })
}

impl Placement for ThermalPlacement {
    fn place(&self, view: &ClusterView, req: &PlaceRequest) -> Option<HostId> {
        req.stay_put(view)
            .or_else(|| self.choose(view, req).map(|c| c.host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thermal::{RackCoefficients, RackLayout, RackSlot};
    use crate::{PlaceRequest, Placement};
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

    fn hosts_used(used: &[u64]) -> Vec<crate::HostView> {
        used.iter()
            .enumerate()
            .map(|(i, &u)| crate::HostView {
                id: HostId(i as u32),
                capacity: Resources([4; 4]),
                used: Resources([u; 4]),
            })
            .collect()
    }

    fn placement(hosts: usize, per_rack: u32, racks: bool) -> ThermalPlacement {
        let layout = RackLayout::filled(hosts, per_rack).unwrap();
        let c = RackCoefficients::default();
        let room = if racks {
            ThermalRoom::Racks(RackRecirculation::new(&layout, &c).unwrap())
        } else {
            ThermalRoom::Matrix(Recirculation::per_rack(&layout, &c).unwrap())
        };
        ThermalPlacement {
            context: Some(ThermalContext {
                room,
                power: HostPower {
                    idle_w: 100.0,
                    peak_w: 200.0,
                },
            }),
        }
    }

    #[test]
    fn placement_avoids_the_hot_rack_stays_put_and_respects_fit() {
        // Three racks of two hosts; rack 0 (hosts 0, 1) is busy, rack 2
        // (hosts 4, 5) is far from it. Host 3 is full.
        let hs = hosts_used(&[3, 3, 0, 4, 0, 0]);
        let view = ClusterView::new(&hs);
        let req = PlaceRequest {
            vm: crate::VmId(1),
            size: Resources([1; 4]),
            current: None,
            home: None,
        };
        for racks in [true, false] {
            let p = placement(6, 2, racks);
            // Powers [175, 175, 0, 200, 0, 0] W; rises [0.275, 0.625,
            // 0.175, 0.375, 0.1, 0.1] °C, the peak at host 1 (top of rack 0).
            // +25 W on host 0 lifts host 1 to 0.675; +125 W (power up) on
            // host 2 lifts rack 0 by 0.0625, to 0.6875. On host 4 or 5 (rack
            // 2, away from rack 0) the peak stays 0.625: a tie on peak and on
            // power, so the lower id, host 4.
            assert_eq!(p.place(&view, &req), Some(HostId(4)), "racks: {racks}");
            let c = p.choose(&view, &req).unwrap();
            assert!((c.peak_rise_c - 0.625).abs() < 1e-12 && c.power_increase_w == 125.0);
            // A grown sliver that still fits on host 1 stays there.
            let grow = PlaceRequest {
                current: Some((HostId(1), Resources([1; 4]))),
                size: Resources([2; 4]),
                ..req
            };
            assert_eq!(p.place(&view, &grow), Some(HostId(1)));
            // Too big for host 1 (3 used, 1 its own): it goes to an empty host.
            let big = PlaceRequest {
                size: Resources([3; 4]),
                ..grow
            };
            assert_eq!(p.place(&view, &big), Some(HostId(4)));
            // Nothing fits a 5-unit sliver.
            let huge = PlaceRequest {
                size: Resources([5; 4]),
                ..req
            };
            assert_eq!(p.place(&view, &huge), None);
        }
        // Without a room: least power increase (a powered host), lowest id.
        let blind = ThermalPlacement { context: None };
        assert_eq!(blind.place(&view, &req), Some(HostId(0)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The per-rack path reaches the matrix path's least peak rise.
        #[test]
        fn racks_and_matrix_agree(used in prop::collection::vec(0u64..=4, 1..14), per in 1u32..4, size in 1u64..=3) {
            let hs = hosts_used(&used);
            let view = ClusterView::new(&hs);
            let req = PlaceRequest { vm: crate::VmId(1), size: Resources([size; 4]), current: None, home: None };
            let a = placement(used.len(), per, true).choose(&view, &req);
            let b = placement(used.len(), per, false).choose(&view, &req);
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!((a.peak_rise_c - b.peak_rise_c).abs() < 1e-9);
                prop_assert!(req.fits_on(&view, a.host));
            }
        }
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
