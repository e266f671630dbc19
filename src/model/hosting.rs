//! The hosting system: guests, one broker and one site, driven by events.
//!
//! [`Hosting::handle`] takes one [`Input`] at a time, with the time it
//! happens, and returns the steps the site started and the timers it wants.
//! It never reads a clock and never touches an event queue: the simulator
//! feeds it from its event queue and applies the steps with modelled
//! durations; a live driver can feed it from a wall clock and apply the
//! steps through an executor. Both call this code.

use slivers_policy::plan::Step;
use std::collections::BTreeMap;

use slivers_policy::{
    GuestId, HostId, PlacementKind, Policy, ProvisioningKind, Resources, SiteId, SiteSelectionKind, VmId,
};

use super::broker::{Broker, BrokerError, BrokerStats, Delegation, Grant, Outcome, Request, SiteGrant};
use super::energy::PowerParams;
use super::fidelity::{self, FidelityMeter, SeriesForm};
use super::guest::{BatchGuest, BatchJob, Checkpoints, Guest, LeaseId, Quantum, WebGuest, WebSizing};
use super::migration::MigrationParams;
use super::site::{DownCause, Homes, OpId, OutageStats, Site, SiteError, SiteStats};
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

/// One site of a federation.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// Its hosts, numbered after the previous sites' in the run.
    pub hosts: u32,
    /// Capacity of each.
    pub capacity: Resources,
    /// Its placement policy; `None`: the run's pair's.
    pub placement: Option<Policy<PlacementKind>>,
    /// Its hosts' power model.
    pub power: PowerParams,
    /// Its migration model (the driver's; `[migration]` unless the site
    /// has its own).
    pub migration: MigrationParams,
}

/// One broker of a federation.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// Its provisioning policy; `None`: the run's pair's.
    pub provisioning: Option<Policy<ProvisioningKind>>,
    /// How it chooses the site of a new lease.
    pub selection: Policy<SiteSelectionKind>,
    /// What each site delegates to it (one per site, in the sites' order).
    pub delegations: Vec<Delegation>,
}

/// Several sites and brokers (scenario `[[site]]`, `[[broker]]`,
/// `[[delegation]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FederationConfig {
    /// The sites, in order; their hosts are numbered one site after the other.
    pub sites: Vec<SiteConfig>,
    /// The brokers, in order.
    pub brokers: Vec<BrokerConfig>,
    /// Per guest: the brokers it leases from, in the order it asks them.
    pub guest_brokers: Vec<Vec<u32>>,
    /// Per guest: the site it asks its brokers for, if any.
    pub pins: Vec<Option<SiteId>>,
    /// How long a VM whose ticket a broker moved from site `i` to site `j`
    /// is down before its create at `j` begins: `wan[i][j]` gives the
    /// WAN's latency and bandwidth between them.
    pub wan: Vec<Vec<WanLink>>,
    /// The sites' names, in order (for reports).
    pub site_names: Vec<String>,
    /// The brokers' names, in order (for reports).
    pub broker_names: Vec<String>,
}

/// The wide-area link between two sites.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WanLink {
    /// One-way latency.
    pub latency: SimTime,
    /// Bandwidth, MiB/s.
    pub mibps: f64,
}

impl WanLink {
    /// How long a VM of `size` takes to cross: the latency, then its
    /// memory image at the link's bandwidth (a stop-and-copy over the WAN:
    /// the VM is down all along).
    pub fn transfer(&self, size: &Resources) -> SimTime {
        let secs = size.memory_mib() as f64 / self.mibps.max(1e-9);
        self.latency.plus(SimTime((secs * 1000.0).ceil() as u64))
    }
}

/// Everything that defines a hosting system.
#[derive(Debug, Clone, PartialEq)]
pub struct HostingConfig {
    /// Number of identical hosts (of the one site; with a federation, the
    /// sites say).
    pub hosts: u32,
    /// Capacity of each.
    pub capacity: Resources,
    /// The sliver quantum.
    pub quantum: Quantum,
    /// The guests, in the fixed order the brokers serve them.
    pub guests: Vec<GuestConfig>,
    /// The brokers' policy (unless a broker names its own).
    pub provisioning: Policy<ProvisioningKind>,
    /// The sites' policy (unless a site names its own).
    pub placement: Policy<PlacementKind>,
    /// The hosts' power model.
    pub power: PowerParams,
    /// What the fidelity meter keeps of its series.
    pub series: SeriesForm,
    /// How batch jobs checkpoint (what a job interrupted by a host
    /// failure keeps of its work).
    pub checkpoints: Checkpoints,
    /// The machine room's thermal model (`[thermal]`), if any (one site only).
    pub thermal: Option<ThermalConfig>,
    /// Several sites and brokers; `None`: one site of `hosts` hosts and
    /// one broker they are all delegated to.
    pub federation: Option<FederationConfig>,
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
    /// An input named a host of no site.
    #[error("{0} is in no site")]
    UnknownHost(HostId),
}

/// The homes of one site's VMs over every broker that delegates to it
/// (a VM's id names its broker).
struct FederatedHomes<'a> {
    brokers: &'a [Broker],
    site: u32,
}

impl Homes for FederatedHomes<'_> {
    fn home(&self, vm: VmId) -> Option<(HostId, Resources)> {
        let b = self.brokers.iter().find(|b| b.issues(vm))?;
        b.assignment_at(self.site)?.get(vm).copied()
    }
}

/// The hosting system: its guests, brokers and sites.
pub struct Hosting {
    follows_broker: Vec<bool>,
    unit: Resources,
    guests: Vec<Guest>,
    brokers: Vec<Broker>,
    sites: Vec<Site>,
    /// The first host of each site in the run's numbering.
    offsets: Vec<u32>,
    /// Per guest: its brokers, in the order it asks them.
    guest_brokers: Vec<Vec<u32>>,
    wan: Vec<Vec<WanLink>>,
    /// VMs moved to another site whose create there has not begun, each
    /// with the WAN transfer that delays it: `(site, vm)`.
    arriving: BTreeMap<(u32, VmId), SimTime>,
    /// VMs moved between sites so far, and the time they spent crossing.
    wan_moves: u64,
    wan_ms: u64,
    /// Per site: VMs that arrived from another site.
    arrivals: Vec<u64>,
    meter: FidelityMeter,
    /// Guests to meter at the next [`Self::meter_fidelity`] (web guests
    /// whose demand changed; possibly repeated), kept to reuse its allocation.
    to_meter: Vec<GuestId>,
    /// The brokers' grants in one [`Self::provision`], empty between
    /// calls (kept to reuse its allocation), and one site's share of them.
    grants: Vec<SiteGrant>,
    site_grants: Vec<Grant>,
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
        let (sites, brokers, guest_brokers, wan, follows_broker) = match &config.federation {
            None => {
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
                let site = match &config.thermal {
                    Some(t) => {
                        site.with_thermal(ThermalMeter::new(t, config.hosts, config.capacity, &config.power))
                    }
                    None => site,
                };
                (
                    vec![site],
                    vec![Broker::new(
                        config.provisioning.build(),
                        config.hosts,
                        config.capacity,
                    )],
                    vec![vec![0]; config.guests.len()],
                    vec![vec![WanLink {
                        latency: SimTime::ZERO,
                        mibps: 1.0,
                    }]],
                    vec![config.placement.kind() == PlacementKind::FollowBroker],
                )
            }
            Some(f) => {
                let n = f.sites.len() as u32;
                let placement = |s: &SiteConfig| s.placement.unwrap_or(config.placement);
                let sites = f
                    .sites
                    .iter()
                    .enumerate()
                    .map(|(k, s)| {
                        Site::new(placement(s).build(), s.hosts, s.capacity, s.power)
                            .numbering_ops(k as u32, n)
                    })
                    .collect();
                let nb = f.brokers.len() as u32;
                let brokers = f
                    .brokers
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        Broker::federated(
                            b.provisioning.unwrap_or(config.provisioning).build(),
                            b.selection.build(),
                            b.delegations.clone(),
                            f.pins.clone(),
                            (i as u32, nb),
                        )
                    })
                    .collect();
                let follows = f
                    .sites
                    .iter()
                    .map(|s| placement(s).kind() == PlacementKind::FollowBroker)
                    .collect();
                (sites, brokers, f.guest_brokers.clone(), f.wan.clone(), follows)
            }
        };
        let n_sites = sites.len();
        let offsets = {
            let mut next = 0;
            sites
                .iter()
                .map(|s: &Site| {
                    let first = next;
                    next += s.used().len() as u32;
                    first
                })
                .collect()
        };
        Hosting {
            follows_broker,
            unit: config.quantum.unit,
            meter: FidelityMeter::new(config.guests.len(), config.series),
            to_meter: Vec::new(),
            grants: Vec::new(),
            site_grants: Vec::new(),
            guests,
            brokers,
            sites,
            offsets,
            guest_brokers,
            wan,
            arriving: BTreeMap::new(),
            wan_moves: 0,
            wan_ms: 0,
            arrivals: vec![0; n_sites],
        }
    }

    /// The first broker (the only one unless federated).
    pub fn broker(&self) -> &Broker {
        &self.brokers[0]
    }

    /// The first site (the only one unless federated).
    pub fn site(&self) -> &Site {
        &self.sites[0]
    }

    /// Every broker, in order.
    pub fn brokers(&self) -> &[Broker] {
        &self.brokers
    }

    /// Every site, in order.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The first host of each site in the run's numbering.
    pub fn site_offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// The site of `host` (in the run's numbering) and its id there.
    pub fn locate(&self, host: HostId) -> Option<(usize, HostId)> {
        let s = self.offsets.partition_point(|&o| o <= host.0).checked_sub(1)?;
        let local = HostId(host.0 - self.offsets[s]);
        (local.index() < self.sites[s].used().len()).then_some((s, local))
    }

    /// The guests.
    pub fn guests(&self) -> &[Guest] {
        &self.guests
    }

    /// Broker counters, summed over the brokers.
    pub fn broker_stats(&self) -> BrokerStats {
        self.brokers
            .iter()
            .map(|b| b.stats())
            .fold(BrokerStats::default(), |a, b| BrokerStats {
                requests: a.requests + b.requests,
                granted: a.granted + b.granted,
                rejected: a.rejected + b.rejected,
                resizes: a.resizes + b.resizes,
                broker_migrations: a.broker_migrations + b.broker_migrations,
                cross_site_moves: a.cross_site_moves + b.cross_site_moves,
            })
    }

    /// Site counters at `end`: the site's, or with several sites their
    /// sums ([`SiteStats::merged`]).
    pub fn site_stats(&self, end: SimTime) -> SiteStats {
        match self.sites.as_slice() {
            [one] => one.stats().clone(),
            sites => SiteStats::merged(sites.iter().map(|s| s.stats()), end),
        }
    }

    /// What outages did at every site, as of `end` (one site's, or their
    /// merge: [`OutageStats::merged`]).
    pub fn outages(&self, end: SimTime) -> OutageStats {
        match self.sites.as_slice() {
            [one] => one.outages().clone(),
            sites => OutageStats::merged(
                sites
                    .iter()
                    .map(|s| s.outages())
                    .zip(self.offsets.iter().copied()),
                end,
            ),
        }
    }

    /// Where every live VM is planned, in the run's host numbering, by VM
    /// id: `(vm, host)`.
    pub fn placement(&self) -> Vec<(VmId, HostId)> {
        let mut all: Vec<(VmId, HostId)> = self
            .sites
            .iter()
            .zip(&self.offsets)
            .flat_map(|(s, off)| {
                s.planned()
                    .iter()
                    .map(move |(vm, (h, _))| (vm, HostId(h.0 + off)))
            })
            .collect();
        all.sort_unstable();
        all
    }

    /// True if `host` (in the run's numbering) is down.
    pub fn is_down(&self, host: HostId) -> bool {
        self.locate(host).is_some_and(|(s, h)| self.sites[s].is_down(h))
    }

    /// What `vm` holds on `host` (in the run's numbering) now, if anything.
    pub fn held_on(&self, vm: VmId, host: HostId) -> Option<Resources> {
        let (s, h) = self.locate(host)?;
        let rec = self.sites[s].vms().get(vm)?;
        rec.holds().iter().find(|(x, _)| *x == h).map(|(_, a)| *a)
    }

    /// The live VMs holding anything on `host` (in the run's numbering),
    /// in id order.
    pub fn vms_on(&self, host: HostId) -> Vec<VmId> {
        match self.locate(host) {
            Some((s, h)) => self.sites[s].holding_on(h),
            None => Vec::new(),
        }
    }

    /// The guest of a live VM, at whichever site holds it.
    pub fn guest_of(&self, vm: VmId) -> Option<GuestId> {
        self.sites.iter().find_map(|s| s.vms().get(vm)).map(|r| r.guest)
    }

    /// Steps in flight at every site.
    pub fn in_flight(&self) -> usize {
        self.sites.iter().map(|s| s.in_flight()).sum()
    }

    /// VMs moved between sites, and the time they spent crossing, ms.
    pub fn wan_moves(&self) -> (u64, u64) {
        (self.wan_moves, self.wan_ms)
    }

    /// Per site: VMs that arrived from another site.
    pub fn arrivals(&self) -> &[u64] {
        &self.arrivals
    }

    /// The fidelity meter: every guest's fidelity so far.
    pub fn fidelity(&self) -> &FidelityMeter {
        &self.meter
    }

    /// How long the step `op` just started waits before it begins: a
    /// re-created VM lost with its host waits `restart` (it boots from
    /// its image), a VM arriving from another site waits out its WAN
    /// transfer; anything else starts at once. The simulator and the live
    /// driver both ask.
    pub fn start_delay(&mut self, op: OpId, step: &Step, restart: SimTime) -> SimTime {
        let Step::Create { vm, .. } = *step else {
            return SimTime::ZERO;
        };
        let s = op.site(self.sites.len() as u32);
        if let Some(wait) = self.arriving.remove(&(s, vm)) {
            return wait;
        }
        match self.sites.get(s as usize).is_some_and(|site| site.is_lost(vm)) {
            true => restart,
            false => SimTime::ZERO,
        }
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
        for site in &mut self.sites {
            site.drain_changed_guests(&mut guests);
            guests.extend(site.accounts().moving().iter().copied());
        }
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
            let (promised, allotted) =
                self.sites
                    .iter()
                    .filter_map(|s| s.accounts().get(g))
                    .fold((0.0, 0.0), |(p, al), a| {
                        (
                            p + a.promised as f64,
                            a.migrating.iter().fold(al + a.running as f64, |sum, vm| {
                                sum + in_flight(*vm).unwrap_or(0.0)
                            }),
                        )
                    });
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
    /// `handle` would return it. Steps name hosts in the run's numbering
    /// (each site's hosts after the previous sites').
    pub fn handle_into(&mut self, now: SimTime, input: Input, out: &mut Output) -> Result<(), ModelError> {
        let first = out.started.len();
        self.handle_local(now, input, out)?;
        if self.sites.len() > 1 {
            let n = self.sites.len() as u32;
            for (op, step) in &mut out.started[first..] {
                let by = self.offsets[op.site(n) as usize];
                *step = step.map_hosts(|h| HostId(h.0 + by));
            }
        }
        Ok(())
    }

    fn handle_local(&mut self, now: SimTime, input: Input, out: &mut Output) -> Result<(), ModelError> {
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
                let outcomes = match self.brokers.len() {
                    1 => self.provision(now, out, |brokers, grants| brokers[0].serve(&requests, grants))?,
                    _ => self.serve_federated(now, &requests, out)?,
                };
                self.place_waiting(now, out)?;
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
                // Releases only: the brokers take them all back, in order,
                // as they would in a period (where releases come first).
                self.release(now, out, &vms)?;
            }
            Input::OpDone(op) => {
                let s = op.site(self.sites.len() as u32) as usize;
                self.sites[s].complete(now, op, &mut out.started)?
            }
            Input::HostDown { host, cause } => {
                let (s, local) = self.locate(host).ok_or(ModelError::UnknownHost(host))?;
                let mut lost = Vec::new();
                self.sites[s].take_down(now, local, cause, &mut out.aborted, &mut lost, &mut out.started)?;
                // Batch leases that lost a VM end now (their jobs go back
                // to the queue); the other lost VMs wait to be re-created.
                let mut ended = Vec::new();
                for &vm in &lost {
                    let guest = self.sites[s].vms().get(vm).map(|r| r.guest);
                    if let Some(Guest::Batch(b)) = guest.and_then(|g| self.guests.get_mut(g.0 as usize)) {
                        ended.extend(b.interrupt(now, vm));
                    }
                }
                self.release(now, out, &ended)?;
                self.place_waiting(now, out)?;
            }
            Input::HostUp { host } => {
                let (s, local) = self.locate(host).ok_or(ModelError::UnknownHost(host))?;
                let (sites, brokers) = (&mut self.sites, &self.brokers);
                with_homes(brokers, s, |homes| {
                    sites[s].bring_up(now, local, homes, &mut out.started)
                })?
            }
            Input::Drain { host } => {
                let (s, local) = self.locate(host).ok_or(ModelError::UnknownHost(host))?;
                let (sites, brokers) = (&mut self.sites, &self.brokers);
                with_homes(brokers, s, |homes| {
                    sites[s].drain(now, local, homes, &mut out.started)
                })?
            }
        }
        Ok(())
    }

    /// Every site tries the VMs waiting for a place.
    fn place_waiting(&mut self, now: SimTime, out: &mut Output) -> Result<(), ModelError> {
        let (sites, brokers) = (&mut self.sites, &self.brokers);
        for (s, site) in sites.iter_mut().enumerate() {
            if !site.waiting().is_empty() {
                with_homes(brokers, s, |homes| {
                    site.place_waiting(now, homes, &mut out.started)
                })?;
            }
        }
        Ok(())
    }

    /// The brokers that issued `vms` take them back, in order.
    fn release(&mut self, now: SimTime, out: &mut Output, vms: &[VmId]) -> Result<(), ModelError> {
        self.provision(now, out, |brokers, grants| {
            vms.iter()
                .try_for_each(|&vm| match brokers.iter_mut().find(|b| b.issues(vm)) {
                    Some(b) => b.release(vm, grants),
                    None => Err(BrokerError::UnknownVm(vm)),
                })
        })
    }

    /// Several brokers: each guest's new leases go to its first broker,
    /// and those it rejects to the guest's next one, round after round;
    /// resizes and releases go to the broker that issued the VM. Brokers
    /// serve in order within a round.
    fn serve_federated(
        &mut self,
        now: SimTime,
        requests: &[(GuestId, Vec<Request>)],
        out: &mut Output,
    ) -> Result<Vec<Vec<Outcome>>, ModelError> {
        let mut outcomes: Vec<Vec<Outcome>> = requests
            .iter()
            .map(|(_, rs)| vec![Outcome::Rejected; rs.len()])
            .collect();
        // (guest index, request index, the guest's broker to ask: an index into its list)
        let mut pending: Vec<(usize, usize, usize)> = Vec::new();
        for (g, (_, rs)) in requests.iter().enumerate() {
            pending.extend((0..rs.len()).map(|i| (g, i, 0)));
        }
        let rounds = self.guest_brokers.iter().map(Vec::len).max().unwrap_or(1).max(1);
        for _ in 0..rounds {
            if pending.is_empty() {
                break;
            }
            let mut next = Vec::new();
            for b in 0..self.brokers.len() {
                // This broker's share of the pending requests, per guest, in order.
                let mut mine: Vec<(GuestId, Vec<Request>)> = Vec::new();
                let mut slots: Vec<Vec<(usize, usize, usize)>> = Vec::new();
                for &(g, i, k) in &pending {
                    let r = &requests[g].1[i];
                    let target = match r {
                        Request::New { .. } => self
                            .guest_brokers
                            .get(g)
                            .and_then(|l| l.get(k))
                            .map(|&b| b as usize),
                        Request::Resize { vm, .. } | Request::Release { vm } => {
                            self.brokers.iter().position(|br| br.issues(*vm))
                        }
                    };
                    if target != Some(b) {
                        continue;
                    }
                    match mine.last_mut() {
                        Some((gid, rs)) if gid.0 as usize == g => {
                            rs.push(r.clone());
                            if let Some(v) = slots.last_mut() {
                                v.push((g, i, k));
                            }
                        }
                        _ => {
                            mine.push((GuestId(g as u32), vec![r.clone()]));
                            slots.push(vec![(g, i, k)]);
                        }
                    }
                }
                if mine.is_empty() {
                    continue;
                }
                let outs = self.provision(now, out, |brokers, grants| brokers[b].serve(&mine, grants))?;
                for (os, ss) in outs.into_iter().zip(slots) {
                    for (o, (g, i, k)) in os.into_iter().zip(ss) {
                        let retry = o == Outcome::Rejected
                            && matches!(requests[g].1[i], Request::New { .. })
                            && self.guest_brokers.get(g).is_some_and(|l| k + 1 < l.len());
                        if retry {
                            next.push((g, i, k + 1));
                        }
                        outcomes[g][i] = o;
                    }
                }
            }
            next.sort_unstable();
            pending = next;
        }
        Ok(outcomes)
    }

    /// Lets `decide` act on the brokers, then has each site apply the
    /// grants made for it (in the reused grant buffer), appending the
    /// started steps. A VM granted at a site while another site still
    /// holds it was moved by its broker: its create waits out the WAN.
    fn provision<T>(
        &mut self,
        now: SimTime,
        out: &mut Output,
        decide: impl FnOnce(&mut [Broker], &mut Vec<SiteGrant>) -> Result<T, BrokerError>,
    ) -> Result<T, ModelError> {
        let mut grants = std::mem::take(&mut self.grants);
        let decided = decide(&mut self.brokers, &mut grants);
        let applied = match decided {
            Ok(_) => self.apply(now, &grants, out),
            Err(_) => Ok(()),
        };
        grants.clear();
        self.grants = grants;
        let decided = decided?;
        applied?;
        Ok(decided)
    }

    fn apply(&mut self, now: SimTime, grants: &[SiteGrant], out: &mut Output) -> Result<(), ModelError> {
        if grants.is_empty() {
            return Ok(());
        }
        if self.sites.len() == 1 {
            let mut mine = std::mem::take(&mut self.site_grants);
            mine.extend(grants.iter().map(|(_, g)| *g));
            let r = with_homes(&self.brokers, 0, |homes| {
                self.sites[0].apply(now, &mine, homes, &mut out.started)
            });
            mine.clear();
            self.site_grants = mine;
            return Ok(r?);
        }
        for (s, g) in grants {
            if let Grant::New { vm, size, .. } = g
                && let Some(from) = self.sites.iter().position(|site| site.vms().contains(*vm))
                && from != *s as usize
            {
                let wait = self.wan[from][*s as usize].transfer(size);
                self.arriving.insert((*s, *vm), wait);
                self.arrivals[*s as usize] += 1;
                self.wan_moves += 1;
                self.wan_ms += wait.0;
            }
        }
        for s in 0..self.sites.len() {
            let mut mine = std::mem::take(&mut self.site_grants);
            mine.extend(
                grants
                    .iter()
                    .filter(|(site, _)| *site as usize == s)
                    .map(|(_, g)| *g),
            );
            let r = match mine.is_empty() {
                true => Ok(()),
                false => {
                    let (sites, brokers) = (&mut self.sites, &self.brokers);
                    with_homes(brokers, s, |homes| {
                        sites[s].apply(now, &mine, homes, &mut out.started)
                    })
                }
            };
            mine.clear();
            self.site_grants = mine;
            r?;
        }
        Ok(())
    }

    /// Checks every invariant: each broker and each site is consistent and
    /// within capacity (a broker within what each site delegates to it);
    /// every VM a broker holds at a site is planned there, or waiting for a
    /// place, at the same size, and vice versa (the site honours every
    /// ticket); follow-broker sites place each VM on its home unless an
    /// outage displaced it; no site's hosts are delegated beyond their
    /// capacity; every VM ever granted is live at a site or finished (no
    /// VM is lost).
    pub fn check(&self) -> Result<(), String> {
        for (i, b) in self.brokers.iter().enumerate() {
            b.check().map_err(|e| format!("broker {i}: {e}"))?;
        }
        for (s, site) in self.sites.iter().enumerate() {
            site.check().map_err(|e| match self.sites.len() {
                1 => e,
                _ => format!("site {s}: {e}"),
            })?;
        }
        let granted: u64 = self
            .brokers
            .iter()
            .map(|b| b.granted_vms() + b.stats().cross_site_moves)
            .sum();
        let live: u64 = self.sites.iter().map(|s| s.vms().len() as u64).sum();
        let finished: u64 = self.sites.iter().map(|s| s.stats().finished_vms).sum();
        if live + finished != granted {
            return Err(format!(
                "{granted} VMs granted (and moved between sites), but the sites have {live} live and {finished} finished"
            ));
        }
        for (s, site) in self.sites.iter().enumerate() {
            let physical = site.planned();
            let waiting = site.waiting();
            let mut held = 0;
            for b in &self.brokers {
                let Some(logical) = b.assignment_at(s as u32) else {
                    continue;
                };
                held += logical.len();
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
                        && self.follows_broker[s]
                        && lh != ph
                        && !site.displaced().contains(&vm)
                    {
                        return Err(format!(
                            "follow-broker site plans {vm} on {ph}, the broker on {lh}"
                        ));
                    }
                }
            }
            if held != physical.len() + waiting.len() {
                return Err(format!(
                    "the brokers hold {held} VMs at site {s}, which plans {} and has {} waiting for a place",
                    physical.len(),
                    waiting.len()
                ));
            }
        }
        Ok(())
    }
}

/// Lends `f` the homes of site `s`'s VMs: its only broker's assignment
/// there, or a look-up over every broker.
fn with_homes<T>(brokers: &[Broker], s: usize, f: impl FnOnce(&dyn Homes) -> T) -> T {
    match brokers {
        [one] => match one.assignment_at(s as u32) {
            Some(a) => f(a),
            None => f(&FederatedHomes {
                brokers,
                site: s as u32,
            }),
        },
        _ => f(&FederatedHomes {
            brokers,
            site: s as u32,
        }),
    }
}
