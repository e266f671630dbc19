//! The machine room's thermal state over a run (`[thermal]`): hosts in
//! racks, their inlet temperatures under heat recirculation, and the
//! cooling the CRAC spends (docs/model.md, "Thermal").
//!
//! Hosts fill racks of `hosts_per_rack` in id order (host `i` in rack
//! `i / hosts_per_rack` at position `i % hosts_per_rack` from the bottom).
//! Host `j` draws `P_j` W by the linear model of `[energy]` without its boot
//! and shutdown transients (0 W when it holds nothing), and every watt
//! becomes heat. Host `i`'s inlet is `T_supply + (D·P)_i`, `D` the per-rack
//! recirculation of [`slivers_policy::thermal::RackCoefficients`] (Tang,
//! Gupta & Varsamopoulos 2008):
//!
//! ```text
//! (D·P)_i = own·P_i + above·Σ_{j below i in its rack} P_j + neighbour·(R_{r−1} + R_{r+1})
//! ```
//!
//! (`R_k` the power of rack `k`). The supply is fixed, or the warmest that
//! keeps every inlet at the redline (`T_red − max_i (D·P)_i`); the cooling
//! power is `ΣP / CoP(T_supply)` (Moore et al. 2005).
//!
//! [`ThermalMeter`] is fed by the site at every change of a host's actual
//! reservations and integrates exactly over the piecewise-constant
//! intervals between changes. Cost: O(hosts per rack + log racks) per
//! change (the changed rack's inlets, a max-tree over racks), O(1) to
//! integrate an interval, O(hosts) per sample (once per allocation period),
//! O(hosts) memory: never the O(hosts²) matrix.

use slivers_policy::policies::thermal_aware::{HostPower, ThermalContext, ThermalRoom};
use slivers_policy::thermal::{RackCoefficients, RackLayout, RackRecirculation, ThermalError};
use slivers_policy::{CopCurve, HostId, Resources};

use super::energy::PowerParams;
use crate::engine::SimTime;

/// How the CRAC's supply temperature is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SupplyMode {
    /// A fixed supply temperature, °C: inlets may exceed the redline.
    Fixed(f64),
    /// The warmest supply that keeps every inlet at or below the redline:
    /// `T_red − max_i (D·P)_i` (inlets never exceed it).
    Redline,
}

/// The `[thermal]` table, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalConfig {
    /// Hosts per rack (racks filled in host-id order).
    pub hosts_per_rack: u32,
    /// Per-rack recirculation coefficients, °C/W.
    pub coefficients: RackCoefficients,
    /// The redline: the highest admissible inlet temperature, °C.
    pub redline_c: f64,
    /// How the supply temperature is set.
    pub supply: SupplyMode,
    /// The CRAC's CoP curve.
    pub cop: CopCurve,
    /// Time between two rows of the series (the allocation period).
    pub sample_every: SimTime,
}

impl ThermalConfig {
    /// The room of `hosts` hosts as a [`RackRecirculation`].
    pub fn room(&self, hosts: u32) -> Result<RackRecirculation, ThermalError> {
        let layout = RackLayout::filled(hosts as usize, self.hosts_per_rack)?;
        RackRecirculation::new(&layout, &self.coefficients)
    }

    /// What a thermal-aware placement needs: the room and the power model.
    pub fn context(&self, hosts: u32, power: &PowerParams) -> Result<ThermalContext, ThermalError> {
        Ok(ThermalContext {
            room: ThermalRoom::Racks(self.room(hosts)?),
            power: HostPower {
                idle_w: power.idle_watts,
                peak_w: power.peak_watts,
            },
        })
    }
}

/// One row of the series: the state in force just after `time`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalSample {
    /// When.
    pub time: SimTime,
    /// Supply temperature, °C.
    pub supply_c: f64,
    /// The hottest inlet, °C.
    pub peak_inlet_c: f64,
    /// The mean inlet over every host of the room (powered or not), °C.
    pub mean_inlet_c: f64,
    /// IT power, W.
    pub it_w: f64,
    /// Cooling power, W.
    pub cooling_w: f64,
    /// Hosts whose inlet is above the redline.
    pub hosts_above_redline: u32,
}

/// What the meter measured over `[0, end)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalResult {
    /// The series, one sample per allocation period from time 0.
    pub samples: Vec<ThermalSample>,
    /// The hottest inlet over the run, °C.
    pub peak_inlet_c: f64,
    /// The time-weighted mean of the mean inlet over every host, °C.
    pub mean_inlet_c: f64,
    /// The time-weighted mean supply temperature, °C.
    pub mean_supply_c: f64,
    /// Time with some inlet above the redline, s.
    pub above_redline_s: f64,
    /// IT energy of the linear power model (no boot or shutdown), kWh.
    pub it_kwh: f64,
    /// Cooling energy, kWh.
    pub cooling_kwh: f64,
}

/// The state between two changes.
#[derive(Debug, Clone, Copy)]
struct State {
    supply_c: f64,
    peak_inlet_c: f64,
    mean_inlet_c: f64,
    it_w: f64,
    cooling_w: f64,
    above: bool,
}

/// Integrates the room's thermal state over a run: see the module docs.
#[derive(Debug, Clone)]
pub struct ThermalMeter {
    config: ThermalConfig,
    idle_w: f64,
    /// W per millicore: `(peak − idle) / cpu capacity`.
    slope: f64,
    cap: u64,
    hosts: usize,
    /// Per host: powered, and CPU reserved (at most the capacity).
    on: Vec<bool>,
    cpu: Vec<u64>,
    /// Per rack: powered hosts, their CPU, the same weighted by the hosts
    /// above each, its hottest inlet's own-rack part (`own·P_i +
    /// above·Σ below`), and its neighbours' host counts.
    rack_on: Vec<u64>,
    rack_cpu: Vec<u64>,
    rack_max: Vec<f64>,
    adjacent: Vec<u64>,
    /// Room totals as integers (exact whatever the changes): powered hosts,
    /// CPU, both weighted by hosts above and by adjacent-rack hosts.
    on_total: u64,
    cpu_total: u64,
    on_above: u64,
    cpu_above: u128,
    on_adjacent: u128,
    cpu_adjacent: u128,
    /// Max-tree over racks of each rack's hottest rise.
    tree: Vec<f64>,
    leaves: usize,
    since: SimTime,
    next_sample: SimTime,
    samples: Vec<ThermalSample>,
    peak_inlet_c: f64,
    inlet_c_ms: f64,
    supply_c_ms: f64,
    above_ms: u64,
    it_j: f64,
    cooling_j: f64,
}

impl ThermalMeter {
    /// A room of `hosts` hosts of `capacity`, all powered down at time 0.
    pub fn new(config: &ThermalConfig, hosts: u32, capacity: Resources, power: &PowerParams) -> Self {
        let hosts = hosts as usize;
        let per = config.hosts_per_rack.max(1) as usize;
        let racks = hosts.div_ceil(per);
        let cap = capacity.cpu_millicores().max(1);
        let len = |k: usize| {
            if k < racks {
                per.min(hosts - k * per) as u64
            } else {
                0
            }
        };
        let adjacent = (0..racks)
            .map(|k| if k > 0 { len(k - 1) } else { 0 } + len(k + 1))
            .collect();
        let leaves = racks.next_power_of_two().max(1);
        let mut m = ThermalMeter {
            config: config.clone(),
            idle_w: power.idle_watts,
            slope: (power.peak_watts - power.idle_watts) / cap as f64,
            cap,
            hosts,
            on: vec![false; hosts],
            cpu: vec![0; hosts],
            rack_on: vec![0; racks],
            rack_cpu: vec![0; racks],
            rack_max: vec![0.0; racks],
            adjacent,
            on_total: 0,
            cpu_total: 0,
            on_above: 0,
            cpu_above: 0,
            on_adjacent: 0,
            cpu_adjacent: 0,
            tree: vec![f64::NEG_INFINITY; 2 * leaves],
            leaves,
            since: SimTime::ZERO,
            next_sample: SimTime::ZERO,
            samples: Vec::new(),
            peak_inlet_c: f64::NEG_INFINITY,
            inlet_c_ms: 0.0,
            supply_c_ms: 0.0,
            above_ms: 0,
            it_j: 0.0,
            cooling_j: 0.0,
        };
        for k in 0..racks {
            m.set_leaf(k, 0.0);
        }
        m
    }

    fn per(&self) -> usize {
        self.config.hosts_per_rack.max(1) as usize
    }

    fn racks(&self) -> usize {
        self.rack_on.len()
    }

    fn host_w(&self, h: usize) -> f64 {
        if self.on[h] {
            self.idle_w + self.slope * self.cpu[h] as f64
        } else {
            0.0
        }
    }

    fn rack_w(&self, k: usize) -> f64 {
        self.rack_on.get(k).map_or(0.0, |&on| {
            on as f64 * self.idle_w + self.slope * self.rack_cpu[k] as f64
        })
    }

    /// The recirculated heat of racks `k − 1` and `k + 1` at the inlets of
    /// rack `k`, °C.
    fn heat_beside(&self, k: usize) -> f64 {
        let left = if k > 0 { self.rack_w(k - 1) } else { 0.0 };
        self.config.coefficients.neighbour * (left + self.rack_w(k + 1))
    }

    fn set_leaf(&mut self, k: usize, v: f64) {
        let mut i = self.leaves + k;
        self.tree[i] = v;
        while i > 1 {
            i /= 2;
            self.tree[i] = self.tree[2 * i].max(self.tree[2 * i + 1]);
        }
    }

    /// The own-rack parts of rack `k`'s inlets, bottom up, into `f`.
    fn rack_rises(&self, k: usize, mut f: impl FnMut(f64)) {
        let c = &self.config.coefficients;
        let (a, b) = (k * self.per(), ((k + 1) * self.per()).min(self.hosts));
        let mut below = 0.0;
        for h in a..b {
            let w = self.host_w(h);
            f(c.own * w + c.above * below);
            below += w;
        }
    }

    /// Host `host`'s reservations become `new` at `now`.
    pub fn change(&mut self, now: SimTime, host: HostId, new: &Resources) {
        let h = host.index();
        if h >= self.hosts {
            return;
        }
        self.advance(now);
        let per = self.per();
        let k = h / per;
        let above = (((k + 1) * per).min(self.hosts) - h - 1) as u64;
        let (on, cpu) = (!new.is_zero(), new.cpu_millicores().min(self.cap));
        let (was_on, was_cpu) = (self.on[h], self.cpu[h]);
        let adj = self.adjacent[k] as u128;
        // Remove the old contribution, add the new one (integers: exact).
        let (on0, on1) = (was_on as u64, on as u64);
        self.rack_on[k] = self.rack_on[k] - on0 + on1;
        self.rack_cpu[k] = self.rack_cpu[k] - was_cpu + cpu;
        self.on_total = self.on_total - on0 + on1;
        self.cpu_total = self.cpu_total - was_cpu + cpu;
        self.on_above = self.on_above - above * on0 + above * on1;
        self.cpu_above = self.cpu_above - (above * was_cpu) as u128 + (above * cpu) as u128;
        self.on_adjacent = self.on_adjacent - adj * on0 as u128 + adj * on1 as u128;
        self.cpu_adjacent = self.cpu_adjacent - adj * was_cpu as u128 + adj * cpu as u128;
        self.on[h] = on;
        self.cpu[h] = cpu;
        let mut m = f64::NEG_INFINITY;
        self.rack_rises(k, |r| m = m.max(r));
        self.rack_max[k] = m;
        for j in k.saturating_sub(1)..(k + 2).min(self.racks()) {
            let v = self.rack_max[j] + self.heat_beside(j);
            self.set_leaf(j, v);
        }
    }

    /// The state now.
    fn state(&self) -> State {
        let c = &self.config.coefficients;
        let peak_rise = self.tree[1].max(0.0);
        let watts = |on: f64, cpu: f64| on * self.idle_w + self.slope * cpu;
        let it_w = watts(self.on_total as f64, self.cpu_total as f64);
        let weighted = c.own * it_w
            + c.above * watts(self.on_above as f64, self.cpu_above as f64)
            + c.neighbour * watts(self.on_adjacent as f64, self.cpu_adjacent as f64);
        let mean_rise = weighted / self.hosts.max(1) as f64;
        let supply_c = match self.config.supply {
            SupplyMode::Fixed(t) => t,
            SupplyMode::Redline => self.config.redline_c - peak_rise,
        };
        let peak_inlet_c = supply_c + peak_rise;
        let cop = self.config.cop.at(supply_c);
        State {
            supply_c,
            peak_inlet_c,
            mean_inlet_c: supply_c + mean_rise,
            it_w,
            cooling_w: if it_w > 0.0 { it_w / cop } else { 0.0 },
            above: matches!(self.config.supply, SupplyMode::Fixed(_)) && peak_inlet_c > self.config.redline_c,
        }
    }

    /// Hosts whose inlet is above the redline at supply `supply_c`: O(hosts).
    fn hosts_above(&self, supply_c: f64) -> u32 {
        if self.config.supply == SupplyMode::Redline {
            return 0;
        }
        let mut n = 0;
        for k in 0..self.racks() {
            let beside = self.heat_beside(k);
            self.rack_rises(k, |r| n += (supply_c + r + beside > self.config.redline_c) as u32);
        }
        n
    }

    /// Integrates the state in force over `[since, now)` and takes the
    /// samples due in it.
    fn advance(&mut self, now: SimTime) {
        if now <= self.since {
            return;
        }
        let s = self.state();
        let every = self.config.sample_every.0.max(1);
        if self.next_sample < now {
            let hosts_above = self.hosts_above(s.supply_c);
            while self.next_sample < now {
                self.samples.push(ThermalSample {
                    time: self.next_sample,
                    supply_c: s.supply_c,
                    peak_inlet_c: s.peak_inlet_c,
                    mean_inlet_c: s.mean_inlet_c,
                    it_w: s.it_w,
                    cooling_w: s.cooling_w,
                    hosts_above_redline: hosts_above,
                });
                self.next_sample = SimTime(self.next_sample.0 + every);
            }
        }
        let dt = now.0 - self.since.0;
        let secs = dt as f64 / 1000.0;
        self.peak_inlet_c = self.peak_inlet_c.max(s.peak_inlet_c);
        self.inlet_c_ms += s.mean_inlet_c * dt as f64;
        self.supply_c_ms += s.supply_c * dt as f64;
        if s.above {
            self.above_ms += dt;
        }
        self.it_j += s.it_w * secs;
        self.cooling_j += s.cooling_w * secs;
        self.since = now;
    }

    /// What the meter measured over `[0, end)` (the state in force at the
    /// last change lasts until `end`).
    pub fn result(&self, end: SimTime) -> ThermalResult {
        let mut m = self.clone();
        m.advance(end);
        if m.since.0 == 0 {
            // An empty run: the state at time 0.
            let s = m.state();
            m.peak_inlet_c = s.peak_inlet_c;
        }
        let span = m.since.0.max(1) as f64;
        ThermalResult {
            samples: m.samples,
            peak_inlet_c: m.peak_inlet_c,
            mean_inlet_c: m.inlet_c_ms / span,
            mean_supply_c: m.supply_c_ms / span,
            above_redline_s: m.above_ms as f64 / 1000.0,
            it_kwh: m.it_j / 3.6e6,
            cooling_kwh: m.cooling_j / 3.6e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(supply: SupplyMode) -> ThermalConfig {
        ThermalConfig {
            hosts_per_rack: 2,
            coefficients: RackCoefficients::default(),
            redline_c: 25.0,
            supply,
            cop: CopCurve::HP_UTILITY_DATA_CENTER,
            sample_every: SimTime::from_secs(3600),
        }
    }

    /// idle 100 W, peak 200 W, hosts of 1000 millicores.
    fn power() -> PowerParams {
        PowerParams {
            idle_watts: 100.0,
            peak_watts: 200.0,
            ..PowerParams::default()
        }
    }

    fn cpu(m: u64) -> Resources {
        Resources::new(m, 1, 1, 1)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_integrals_fixed_supply() {
        // Three hosts: 0 (bottom) and 1 (top) in rack 0, 2 in rack 1.
        // own 0.001, above 0.002, neighbour 0.0005 °C/W; supply 24 °C,
        // redline 25 °C.
        let cap = cpu(1000);
        let mut m = ThermalMeter::new(&config(SupplyMode::Fixed(24.0)), 3, cap, &power());
        // [0, 1 h): host 0 at half load (150 W): rises [0.15, 0.3, 0.075].
        m.change(SimTime::ZERO, HostId(0), &cpu(500));
        // [1 h, 3 h): host 0 full (200 W) and host 2 full (200 W):
        // rises [0.2 + 0.1, 0.4 + 0.1, 0.1 + 0.2] = [0.3, 0.5, 0.3].
        m.change(SimTime::from_secs(3600), HostId(0), &cap);
        m.change(SimTime::from_secs(3600), HostId(2), &cap);
        // [3 h, 4 h): host 0 off; host 2 at 200 W: rises [0.1, 0.1, 0.2].
        m.change(SimTime::from_secs(3 * 3600), HostId(0), &Resources::ZERO);
        let r = m.result(SimTime::from_secs(4 * 3600));
        // Peak inlet 24.5 (host 1 in [1 h, 3 h)): never above 25.
        assert!(close(r.peak_inlet_c, 24.5), "{}", r.peak_inlet_c);
        assert_eq!(r.above_redline_s, 0.0);
        // Mean rises: 0.525/3 = 0.175, 1.1/3, 0.4/3; weighted by 1, 2, 1 h over 4 h.
        let mean = 24.0 + (0.175 + 2.0 * 1.1 / 3.0 + 0.4 / 3.0) / 4.0;
        assert!(close(r.mean_inlet_c, mean), "{} {}", r.mean_inlet_c, mean);
        // IT: 150 W·1 h + 400 W·2 h + 200 W·1 h = 1150 Wh.
        assert!(close(r.it_kwh, 1.15));
        // Cooling: IT / CoP(24) = 1150 Wh / (0.0068·576 + 0.0008·24 + 0.458).
        let cop = 0.0068 * 576.0 + 0.0008 * 24.0 + 0.458;
        assert!(close(r.cooling_kwh, 1.15 / cop));
        // One sample an hour, at 0, 1, 2, 3 h.
        let it: Vec<f64> = r.samples.iter().map(|s| s.it_w).collect();
        assert_eq!(it, vec![150.0, 400.0, 400.0, 200.0]);
        assert!(close(r.samples[1].peak_inlet_c, 24.5));
        assert_eq!(r.samples[1].hosts_above_redline, 0);
    }

    #[test]
    fn time_above_redline_and_hosts_above_with_a_warm_supply() {
        // Supply 24.8 °C: in [1 h, 3 h) host 1 (24.8 + 0.5) and hosts 0 and 2
        // (24.8 + 0.3) are above 25 °C.
        let cap = cpu(1000);
        let mut m = ThermalMeter::new(&config(SupplyMode::Fixed(24.8)), 3, cap, &power());
        m.change(SimTime::ZERO, HostId(0), &cpu(500));
        m.change(SimTime::from_secs(3600), HostId(0), &cap);
        m.change(SimTime::from_secs(3600), HostId(2), &cap);
        m.change(SimTime::from_secs(3 * 3600), HostId(0), &Resources::ZERO);
        let r = m.result(SimTime::from_secs(4 * 3600));
        // [0, 1 h): peak 24.8 + 0.3 = 25.1 > 25 as well; [3 h, 4 h): 25.0, not above.
        assert!(close(r.above_redline_s, 3.0 * 3600.0), "{}", r.above_redline_s);
        let above: Vec<u32> = r.samples.iter().map(|s| s.hosts_above_redline).collect();
        // At 0: rises [0.15, 0.3, 0.075]: host 1 only.
        assert_eq!(above, vec![1, 3, 3, 0]);
    }

    #[test]
    fn redline_supply_keeps_the_peak_at_the_redline() {
        let cap = cpu(1000);
        let mut m = ThermalMeter::new(&config(SupplyMode::Redline), 3, cap, &power());
        m.change(SimTime::ZERO, HostId(0), &cap);
        m.change(SimTime::ZERO, HostId(2), &cap);
        let r = m.result(SimTime::from_secs(3600));
        // Rises [0.3, 0.5, 0.3]: supply 24.5, every inlet at or below 25.
        assert!(close(r.peak_inlet_c, 25.0) && close(r.mean_supply_c, 24.5));
        assert_eq!(r.above_redline_s, 0.0);
        let cop = CopCurve::HP_UTILITY_DATA_CENTER.at(24.5);
        assert!(close(r.cooling_kwh, 0.4 / cop));
    }

    #[test]
    fn matches_the_rack_model_after_many_changes() {
        // 11 hosts in racks of 3 (the last of 2); compare the peak and mean
        // rise with the policy crate's model after every change.
        let cap = cpu(1000);
        let mut c = config(SupplyMode::Fixed(0.0));
        c.hosts_per_rack = 3;
        let mut m = ThermalMeter::new(&c, 11, cap, &power());
        let room = c.room(11).unwrap();
        let d = room.to_matrix().unwrap();
        let mut p = vec![0.0; 11];
        let mut x: u64 = 7;
        for t in 0..200u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let h = (x >> 33) as usize % 11;
            let used = (x >> 13) % 1200;
            let used = if used > 1000 { 0 } else { used };
            let r = if used == 0 { Resources::ZERO } else { cpu(used) };
            m.change(SimTime::from_secs(t), HostId(h as u32), &r);
            p[h] = if used == 0 {
                0.0
            } else {
                100.0 + 100.0 * used as f64 / 1000.0
            };
            let s = m.state();
            let rise = d.rise(&p).unwrap();
            let peak = rise.iter().copied().fold(0.0, f64::max);
            let mean = rise.iter().sum::<f64>() / 11.0;
            assert!(
                (s.peak_inlet_c - peak).abs() < 1e-9,
                "{t}: {} {peak}",
                s.peak_inlet_c
            );
            assert!((s.mean_inlet_c - mean).abs() < 1e-9);
            assert!((s.it_w - p.iter().sum::<f64>()).abs() < 1e-9);
        }
    }
}
