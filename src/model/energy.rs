//! Host power: a linear model per host, integrated over the run.
//!
//! A host that holds nothing is powered down and draws nothing. A host that
//! holds anything draws `idle_watts + (peak_watts − idle_watts) × load`,
//! where `load` is the CPU it has reserved over its CPU capacity. Each power
//! up costs `boot` at `boot_watts`, each power down `shutdown` at
//! `shutdown_watts`. That time is charged in energy; the model assumes a
//! host can take a VM at once (boot time does not delay steps).

use slivers_policy::Resources;

use crate::engine::SimTime;

/// The power model's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerParams {
    /// Draw of a powered host with nothing running, W.
    pub idle_watts: f64,
    /// Draw of a fully loaded host, W.
    pub peak_watts: f64,
    /// Time to power a host up.
    pub boot: SimTime,
    /// Draw while booting, W.
    pub boot_watts: f64,
    /// Time to power a host down.
    pub shutdown: SimTime,
    /// Draw while shutting down, W.
    pub shutdown_watts: f64,
}

impl Default for PowerParams {
    /// A typical 2-socket server of the paper's era: 150 W idle, 250 W at
    /// full load, 2 minutes to boot at peak draw, 30 s to shut down at idle draw.
    fn default() -> Self {
        PowerParams {
            idle_watts: 150.0,
            peak_watts: 250.0,
            boot: SimTime::from_secs(120),
            boot_watts: 250.0,
            shutdown: SimTime::from_secs(30),
            shutdown_watts: 150.0,
        }
    }
}

/// Integrates the cluster's power draw. The draw is kept as two integers,
/// the powered hosts and their reserved CPU, so it never drifts however
/// many changes it sees.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyMeter {
    params: PowerParams,
    capacity: Resources,
    powered: u64,
    cpu_used: u64,
    since: SimTime,
    joules: f64,
    boots: u64,
    shutdowns: u64,
}

impl EnergyMeter {
    /// Hosts of `capacity`, all powered down at time zero.
    pub fn new(params: PowerParams, capacity: Resources) -> Self {
        EnergyMeter {
            params,
            capacity,
            powered: 0,
            cpu_used: 0,
            since: SimTime::ZERO,
            joules: 0.0,
            boots: 0,
            shutdowns: 0,
        }
    }

    /// The cluster's draw now, W.
    pub fn watts(&self) -> f64 {
        let cap = self.capacity.cpu_millicores().max(1) as f64;
        let p = &self.params;
        self.powered as f64 * p.idle_watts + (p.peak_watts - p.idle_watts) * self.cpu_used as f64 / cap
    }

    /// One host's reservations change from `old` to `new` at `now`.
    pub fn change(&mut self, now: SimTime, old: &Resources, new: &Resources) {
        self.joules += self.watts() * now.0.saturating_sub(self.since.0) as f64 / 1000.0;
        self.since = self.since.max(now);
        match (old.is_zero(), new.is_zero()) {
            (true, false) => {
                self.boots += 1;
                self.powered += 1;
                self.joules += self.params.boot_watts * self.params.boot.as_secs_f64();
            }
            (false, true) => {
                self.shutdowns += 1;
                self.powered -= 1;
                self.joules += self.params.shutdown_watts * self.params.shutdown.as_secs_f64();
            }
            _ => {}
        }
        let cap = self.capacity.cpu_millicores();
        self.cpu_used = self.cpu_used + new.cpu_millicores().min(cap) - old.cpu_millicores().min(cap);
    }

    /// Energy used over `[0, end)`, in kWh (hosts still powered draw until `end`).
    pub fn kwh(&self, end: SimTime) -> f64 {
        let tail = self.watts() * end.0.saturating_sub(self.since.0) as f64 / 1000.0;
        (self.joules + tail) / 3.6e6
    }

    /// Hosts powered up so far.
    pub fn boots(&self) -> u64 {
        self.boots
    }

    /// Hosts powered down so far.
    pub fn shutdowns(&self) -> u64 {
        self.shutdowns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_energy() {
        let cap = Resources::new(8000, 16384, 1000, 200);
        let p = PowerParams {
            idle_watts: 100.0,
            peak_watts: 200.0,
            boot: SimTime::from_secs(10),
            boot_watts: 300.0,
            shutdown: SimTime::from_secs(5),
            shutdown_watts: 60.0,
        };
        let mut m = EnergyMeter::new(p, cap);
        let (half, zero) = (Resources::new(4000, 8192, 500, 100), Resources::ZERO);
        // One host at half load for an hour: boot 3000 J, then 150 W × 3600 s.
        m.change(SimTime::ZERO, &zero, &half);
        // Then both hosts full for an hour, then host 0 powers down.
        m.change(SimTime::from_secs(3600), &half, &cap);
        m.change(SimTime::from_secs(3600), &zero, &cap);
        assert_eq!(m.watts(), 400.0);
        m.change(SimTime::from_secs(7200), &cap, &zero);
        let j = 3000.0 + 150.0 * 3600.0 + 3000.0 + 400.0 * 3600.0 + 300.0 + 200.0 * 1800.0;
        assert!((m.kwh(SimTime::from_secs(9000)) - j / 3.6e6).abs() < 1e-12);
        assert_eq!((m.boots(), m.shutdowns()), (2, 1));
    }
}
