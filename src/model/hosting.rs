//! The hosting system: guests, one broker and one site, driven by events.
//!
//! [`Hosting::handle`] takes one [`Input`] at a time, with the time it
//! happens, and returns the steps the site started and the timers it wants.
//! It never reads a clock and never touches an event queue: the simulator
//! feeds it from its event queue and applies the steps with modelled
//! durations; a live driver can feed it from a wall clock and apply the
//! steps through an executor. Both call this code.

use slivers_policy::plan::Step;
use slivers_policy::{GuestId, HostId, PlacementKind, Policy, ProvisioningKind, Resources, VmId};

use super::broker::{Broker, BrokerError, BrokerStats, Grant, Outcome, Request};
use super::energy::PowerParams;
use super::fidelity::{self, FidelityMeter, SeriesForm};
use super::guest::{BatchGuest, BatchJob, Checkpoints, Guest, LeaseId, Quantum, WebGuest, WebSizing};
use super::site::{DownCause, OpId, Site, SiteError, SiteStats};
use super::thermal::{ThermalConfig, ThermalMeter};
use crate::engine::SimTime;

/// Something that happens to the hosting system.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An allocation period begins: guests renew and request, the broker
    /// provisions, the site places.
    Tick,
    /// A web guest's demand (requests per minute) for the coming period.
    Demand {
        /// The guest.
        guest: GuestId,
        /// Its demand.
        rate: f64,
    },
    /// A batch job arrives at its guest.
    JobArrival {
        /// The guest.
        guest: GuestId,
        /// The job.
        job: BatchJob,
    },
    /// A batch lease reaches its end.
    LeaseEnd {
        /// The guest.
        guest: GuestId,
        /// The lease.
        lease: LeaseId,
    },
    /// A step the site started has completed.
    OpDone(OpId),
    /// A host goes down: it failed, or its maintenance window begins. Its
    /// VMs are lost; batch jobs with a VM there go back to their queue;
    /// the site re-creates the other lost VMs where there is room.
    HostDown {
        /// The host.
        host: HostId,
        /// Why.
        cause: DownCause,
    },
    /// A host is back (repaired, or its maintenance is over).
    HostUp {
        /// The host.
        host: HostId,
    },
    /// A maintenance window is coming: the site closes the host to new
    /// VMs and moves its VMs away.
    Drain {
        /// The host.
        host: HostId,
    },
}

/// What the system asks of its driver after an input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Steps started now; report each back with [`Input::OpDone`].
    pub started: Vec<(OpId, Step)>,
    /// Inputs to deliver at the given times.
    pub timers: Vec<(SimTime, Input)>,
    /// Steps stopped before they completed (their host went down): the
    /// driver drops them and never reports them done.
    pub aborted: Vec<OpId>,
}

/// How to build a guest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GuestConfig {
    /// A web guest with its sizing.
    Web(WebSizing),
    /// A batch guest.
    Batch,
}

/// Everything that defines a hosting system.
#[derive(Debug, Clone, PartialEq)]
pub struct HostingConfig {
    /// Number of identical hosts.
    pub hosts: u32,
    /// Capacity of each.
    pub capacity: Resources,
    /// The sliver quantum.
    pub quantum: Quantum,
    /// The guests, in the fixed order the broker serves them.
    pub guests: Vec<GuestConfig>,
    /// The broker's policy.
    pub provisioning: Policy<ProvisioningKind>,
    /// The site's policy.
    pub placement: Policy<PlacementKind>,
    /// The hosts' power model.
    pub power: PowerParams,
    /// What the fidelity meter keeps of its series.
    pub series: SeriesForm,
    /// How batch jobs checkpoint (what a job interrupted by a host
    /// failure keeps of its work).
    pub checkpoints: Checkpoints,
    /// The machine room's thermal model (`[thermal]`), if any.
    pub thermal: Option<ThermalConfig>,
}

/// Errors: a driver or the model broke the protocol. Never user input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// From the broker.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// From the site.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// An input named a guest that does not exist or is of the wrong kind.
    #[error("{0} cannot take this input")]
    WrongGuest(GuestId),
}

/// The hosting system.
pub struct Hosting {
    follows_broker: bool,
    unit: Resources,
    guests: Vec<Guest>,
    broker: Broker,
    site: Site,
    meter: FidelityMeter,
    /// Guests to meter at the next [`Self::meter_fidelity`] (web guests
    /// whose demand changed; possibly repeated), kept to reuse its allocation.
    to_meter: Vec<GuestId>,
    /// The broker's grants to the site in one [`Self::provision`], empty
    /// between calls (kept to reuse its allocation).
    grants: Vec<Grant>,
}

impl Hosting {
    /// A system with no VMs.
    pub fn new(config: &HostingConfig) -> Self {
        let guests = config
            .guests
            .iter()
            .map(|g| match *g {
                GuestConfig::Web(sizing) => Guest::Web(WebGuest::new(config.quantum, sizing)),
                GuestConfig::Batch => Guest::Batch(BatchGuest::new(config.quantum, config.checkpoints)),
            })
            .collect();
        Hosting {
            follows_broker: config.placement.kind() == PlacementKind::FollowBroker,
            unit: config.quantum.unit,
            meter: FidelityMeter::new(config.guests.len(), config.series),
            to_meter: Vec::new(),
            grants: Vec::new(),
            guests,
            broker: Broker::new(config.provisioning.build(), config.hosts, config.capacity),
            site: {
                // Validated at load: the room can be built.
                let room = config
                    .thermal
                    .as_ref()
                    .and_then(|t| t.context(config.hosts, &config.power).ok());
                let site = Site::new(
                    config.placement.build_with(room.as_ref()),
                    config.hosts,
                    config.capacity,
                    config.power,
                );
                match &config.thermal {
                    Some(t) => {
                        site.with_thermal(ThermalMeter::new(t, config.hosts, config.capacity, &config.power))
                    }
                    None => site,
                }
            },
        }
    }

    /// The broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The site.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The guests.
    pub fn guests(&self) -> &[Guest] {
        &self.guests
    }

    /// Broker counters.
    pub fn broker_stats(&self) -> BrokerStats {
        self.broker.stats()
    }

    /// Site counters.
    pub fn site_stats(&self) -> &SiteStats {
        self.site.stats()
    }

    /// The fidelity meter: every guest's fidelity so far.
    pub fn fidelity(&self) -> &FidelityMeter {
        &self.meter
    }

    /// Meters, from `now` on, the fidelity of every guest whose value may
    /// have changed: those whose VMs or demand changed since the last call,
    /// and those with a VM in live migration (what it gets moves with the
    /// migration's phase). `in_flight` gives the CPU a VM gets while a
    /// migration step of it is in flight (`None`: nothing, as for any VM
    /// that is not running). Costs O(guests touched + their VMs in
    /// migration), not a pass over the VMs.
    pub fn meter_fidelity(&mut self, now: SimTime, in_flight: impl Fn(VmId) -> Option<f64>) {
        let mut guests = std::mem::take(&mut self.to_meter);
        self.site.drain_changed_guests(&mut guests);
        guests.extend(self.site.accounts().moving().iter().copied());
        guests.sort_unstable();
        guests.dedup();
        for &g in &guests {
            let Some(guest) = self.guests.get(g.0 as usize) else {
                continue;
            };
            let demanded = match guest {
                Guest::Web(w) => w.demand_units() * self.unit.cpu_millicores() as f64,
                Guest::Batch(_) => f64::INFINITY,
            };
            let (promised, allotted) = match self.site.accounts().get(g) {
                Some(a) => (
                    a.promised as f64,
                    a.migrating
                        .iter()
                        .fold(a.running as f64, |sum, vm| sum + in_flight(*vm).unwrap_or(0.0)),
                ),
                None => (0.0, 0.0),
            };
            self.meter.set(
                now,
                g.0 as usize,
                fidelity::fidelity(allotted, promised, demanded),
            );
        }
        guests.clear();
        self.to_meter = guests;
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: SimTime, input: Input) -> Result<Output, ModelError> {
        let mut out = Output::default();
        self.handle_into(now, input, &mut out)?;
        Ok(out)
    }

    /// [`Self::handle`], appending to `out`: a driver that handles many
    /// inputs reuses one buffer. What one input appends is in the order
    /// `handle` would return it.
    pub fn handle_into(&mut self, now: SimTime, input: Input, out: &mut Output) -> Result<(), ModelError> {
        match input {
            Input::Tick => {
                let requests: Vec<(GuestId, Vec<Request>)> = self
                    .guests
                    .iter_mut()
                    .enumerate()
                    .map(|(i, g)| {
                        let rs = match g {
                            Guest::Web(w) => w.requests(),
                            Guest::Batch(b) => b.requests(),
                        };
                        (GuestId(i as u32), rs)
                    })
                    .collect();
                let outcomes = self.serve(now, &requests, out)?;
                self.site
                    .place_waiting(now, self.broker.assignment(), &mut out.started)?;
                for ((guest, _), outs) in requests.iter().zip(outcomes) {
                    match &mut self.guests[guest.0 as usize] {
                        Guest::Web(w) => w.on_outcomes(&outs),
                        Guest::Batch(b) => {
                            for (end, lease) in b.on_outcomes(now, outs) {
                                out.timers.push((end, Input::LeaseEnd { guest: *guest, lease }));
                            }
                        }
                    }
                }
            }
            Input::Demand { guest, rate } => match self.guests.get_mut(guest.0 as usize) {
                Some(Guest::Web(w)) => {
                    w.observe(rate);
                    self.to_meter.push(guest);
                }
                _ => return Err(ModelError::WrongGuest(guest)),
            },
            Input::JobArrival { guest, job } => match self.guests.get_mut(guest.0 as usize) {
                Some(Guest::Batch(b)) => b.arrive(job),
                _ => return Err(ModelError::WrongGuest(guest)),
            },
            Input::LeaseEnd { guest, lease } => {
                let vms = match self.guests.get_mut(guest.0 as usize) {
                    Some(Guest::Batch(b)) => b.on_lease_end(lease),
                    _ => return Err(ModelError::WrongGuest(guest)),
                };
                // Releases only: the broker takes them all back, in order,
                // as it would in a period (where releases come first).
                self.provision(now, out, |broker, grants| {
                    vms.iter().try_for_each(|&vm| broker.release(vm, grants))
                })?;
            }
            Input::OpDone(op) => self.site.complete(now, op, &mut out.started)?,
            Input::HostDown { host, cause } => {
                let mut lost = Vec::new();
                self.site.take_down(now, host, cause, &mut out.aborted, &mut lost);
                // Batch leases that lost a VM end now (their jobs go back
                // to the queue); the other lost VMs wait to be re-created.
                let mut ended = Vec::new();
                for &vm in &lost {
                    let guest = self.site.vms().get(vm).map(|r| r.guest);
                    if let Some(Guest::Batch(b)) = guest.and_then(|g| self.guests.get_mut(g.0 as usize)) {
                        ended.extend(b.interrupt(now, vm));
                    }
                }
                self.provision(now, out, |broker, grants| {
                    ended.iter().try_for_each(|&vm| broker.release(vm, grants))
                })?;
                self.site
                    .place_waiting(now, self.broker.assignment(), &mut out.started)?;
            }
            Input::HostUp { host } => {
                self.site
                    .bring_up(now, host, self.broker.assignment(), &mut out.started)?
            }
            Input::Drain { host } => {
                self.site
                    .drain(now, host, self.broker.assignment(), &mut out.started)?
            }
        }
        Ok(())
    }

    fn serve(
        &mut self,
        now: SimTime,
        requests: &[(GuestId, Vec<Request>)],
        out: &mut Output,
    ) -> Result<Vec<Vec<Outcome>>, ModelError> {
        self.provision(now, out, |broker, grants| broker.serve(requests, grants))
    }

    /// Lets `decide` act on the broker, then has the site apply the grants
    /// it made (in the reused grant buffer), appending the started steps.
    fn provision<T>(
        &mut self,
        now: SimTime,
        out: &mut Output,
        decide: impl FnOnce(&mut Broker, &mut Vec<Grant>) -> Result<T, BrokerError>,
    ) -> Result<T, ModelError> {
        let mut grants = std::mem::take(&mut self.grants);
        let decided = decide(&mut self.broker, &mut grants);
        let applied = match decided {
            Ok(_) => self
                .site
                .apply(now, &grants, self.broker.assignment(), &mut out.started),
            Err(_) => Ok(()),
        };
        grants.clear();
        self.grants = grants;
        let decided = decided?;
        applied?;
        Ok(decided)
    }

    /// Checks every invariant: broker and site are each consistent and
    /// within capacity, and every VM the broker provisions is planned at the
    /// site with the same size, and vice versa; every VM ever granted is
    /// live at the site or finished (no VM is lost).
    pub fn check(&self) -> Result<(), String> {
        self.broker.check()?;
        self.site.check()?;
        let accounted = self.site.vms().len() as u64 + self.site.stats().finished_vms;
        if accounted != self.broker.granted_vms() {
            return Err(format!(
                "{} VMs granted, but the site has {} live and {} finished",
                self.broker.granted_vms(),
                self.site.vms().len(),
                self.site.stats().finished_vms
            ));
        }
        let logical = self.broker.assignment();
        let physical = self.site.planned();
        let waiting = self.site.waiting();
        if logical.len() != physical.len() + waiting.len() {
            return Err(format!(
                "broker holds {} VMs but the site plans {} and has {} waiting for a place",
                logical.len(),
                physical.len(),
                waiting.len()
            ));
        }
        for (vm, &(lh, ls)) in logical.iter() {
            let (ph, ps) = match (physical.get(vm), waiting.get(&vm)) {
                (Some(&(ph, ps)), None) => (Some(ph), ps),
                (None, Some(&ps)) => (None, ps),
                _ => {
                    return Err(format!(
                        "broker has {vm} at {ls}, the site neither plans it nor has it waiting"
                    ));
                }
            };
            if ls != ps {
                return Err(format!("broker has {vm} at {ls}, site has it at {ps}"));
            }
            if let Some(ph) = ph
                && self.follows_broker
                && lh != ph
                && !self.site.displaced().contains(&vm)
            {
                return Err(format!(
                    "follow-broker site plans {vm} on {ph}, the broker on {lh}"
                ));
            }
        }
        Ok(())
    }
}
