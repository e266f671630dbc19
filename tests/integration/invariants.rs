//! Invariants checked after every event: no host over capacity in any
//! dimension, every VM in exactly one state, the broker's assignment
//! feasible, and broker and site agreeing on every VM (none lost).

use proptest::prelude::*;
use slivers::experiment::{RunOptions, run_pair};
use slivers::scenario::{Pair, Scenario};
use slivers_policy::{PlacementKind, Policy, PolicyKind, ProvisioningKind};

fn scenario(hosts: u32, quantum: f64, period_m: u32, peak: u32, load: f64, bw: u32) -> Scenario {
    let text = format!(
        r#"
duration = "2d"
period = "{period_m}m"
[hosts]
count = {hosts}
[sliver]
quantum = {quantum}
[migration]
bandwidth_mbps = {bw}
[[guest]]
kind = "web"
trace = {{ generate = "web", base_rate = 1000, flash_crowds = 2 }}
peak_units = {peak}
hysteresis = 0.1
[[guest]]
kind = "batch"
trace = {{ generate = "batch", nodes = {hosts}, target_load = {load} }}
"#
    );
    Scenario::parse(&text, std::path::Path::new("prop.toml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random small clusters, loads and policy pairs: every run completes
    /// with every invariant holding after every event.
    #[test]
    fn random_scenarios_keep_every_invariant(
        hosts in 2u32..12,
        quantum in prop::sample::select(vec![0.25, 0.5, 1.0]),
        period_m in prop::sample::select(vec![15u32, 60, 240]),
        peak_frac in 0.2f64..1.5,
        load in 0.1f64..=1.0,
        bw in prop::sample::select(vec![100u32, 1000, 10000]),
        prov in prop::sample::select(ProvisioningKind::ALL.to_vec()),
        place in prop::sample::select(PlacementKind::ALL.to_vec()),
        // Each parameter of the placement drawn over its whole range.
        param in 0.0f64..1.0,
        seed in 0u64..1000,
    ) {
        let units = (hosts as f64 / quantum).floor();
        let peak = ((units * peak_frac).ceil() as u32).max(1);
        let s = scenario(hosts, quantum, period_m, peak, load, bw);
        // Every policy of the lists the CLI resolves names from, with every
        // parameter it takes drawn in its range.
        let given: Vec<(&str, f64)> = place
            .parameters()
            .iter()
            .map(|p| (p.name, p.min + (p.max - p.min) * param))
            .collect();
        let placement = Policy::with(place, given).unwrap();
        let pair = Pair { provisioning: prov.into(), placement };
        let r = run_pair(&s, pair, 0, seed, RunOptions { check_invariants: true, ..RunOptions::default() });
        prop_assert!(r.is_ok(), "{:?}", r.err());
        let r = r.unwrap();
        prop_assert!(r.broker.granted > 0 && r.events > 20, "a trivial run: {:?}", r);
        prop_assert!(r.site.peak_active_hosts <= hosts);
        prop_assert_eq!(r.broker.requests, r.broker.granted + r.broker.rejected);
        if place == PlacementKind::FollowBroker {
            prop_assert_eq!(r.site.migrations(), r.broker.broker_migrations);
        }
    }
}

#[test]
fn a_web_guest_is_capped_at_the_cluster_when_validated() {
    // 6 hosts of 2 half-host units: no web guest asks beyond 12 units, and
    // the validated scenario already says so (no placeholder filled per run).
    let s = scenario(6, 0.5, 60, 10, 0.6, 1000);
    let Some(slivers::scenario::GuestSpec::Web { workload, .. }) = s.guests.first() else {
        panic!("web guest first")
    };
    assert_eq!(workload.sizing().max_units, 12);
    let mut rng = slivers::rng::SimRng::seed_from_u64(1);
    let Some(slivers::scenario::Workload::Web { sizing, .. }) = s.workloads(&mut rng).first().cloned() else {
        panic!("web workload")
    };
    assert_eq!(sizing.max_units, 12);
    assert_eq!(s.cluster_units(), 12);
}

#[test]
fn a_vm_is_never_lost_and_ends_in_one_state() {
    use slivers::model::{Hosting, HostingConfig, Input};
    // Drive the hosting system by hand and look at every VM after each step.
    let s = scenario(6, 0.5, 60, 10, 0.6, 1000);
    let mut rng = slivers::rng::SimRng::seed_from_u64(3);
    let workloads = s.workloads(&mut rng);
    let Some(slivers::scenario::Workload::Batch { jobs, .. }) = workloads.get(1) else {
        panic!("batch workload")
    };
    let config = HostingConfig {
        hosts: s.hosts,
        capacity: s.capacity,
        quantum: s.quantum,
        guests: vec![slivers::model::GuestConfig::Batch],
        provisioning: ProvisioningKind::Migrating.into(),
        placement: PlacementKind::EnergyAware.into(),
        power: s.power,
        series: s.series,
        checkpoints: Default::default(),
        federation: None,
        thermal: None,
    };
    let mut h = Hosting::new(&config);
    let mut pending = std::collections::VecDeque::new();
    for (_, job) in jobs.iter().take(40) {
        h.handle(
            slivers::engine::SimTime::ZERO,
            Input::JobArrival {
                guest: slivers_policy::GuestId(0),
                job: *job,
            },
        )
        .unwrap();
    }
    let mut t = slivers::engine::SimTime::ZERO;
    let mut ended = 0;
    for _ in 0..20 {
        let out = h.handle(t, Input::Tick).unwrap();
        pending.extend(out.started.into_iter().map(|(op, _)| op));
        let mut timers = out.timers;
        // Complete every step, then end every lease that was granted.
        complete_all(&mut h, t, &mut pending);
        for (_, input) in timers.drain(..) {
            let out = h.handle(t, input).unwrap();
            ended += 1;
            pending.extend(out.started.into_iter().map(|(op, _)| op));
        }
        complete_all(&mut h, t, &mut pending);
        t = t.plus(s.period);
    }
    assert!(ended > 0, "some leases were granted and ended");
    // Every lease that ended left its VMs finished; nothing is running.
    assert!(h.site().vms().is_empty(), "{:?}", h.site().vms());
    assert!(h.broker().granted_vms() > 0);
    assert_eq!(h.site().stats().finished_vms, h.broker().granted_vms());
    assert!(h.broker().assignment().is_empty());
    assert!(h.site().used().iter().all(|u| u.is_zero()));
}

/// Completes every pending step (and the steps they unblock) at time `t`,
/// checking every invariant after each.
fn complete_all(
    h: &mut slivers::model::Hosting,
    t: slivers::engine::SimTime,
    pending: &mut std::collections::VecDeque<slivers::model::OpId>,
) {
    while let Some(op) = pending.pop_front() {
        let out = h.handle(t, slivers::model::Input::OpDone(op)).unwrap();
        pending.extend(out.started.into_iter().map(|(op, _)| op));
        h.check().unwrap();
    }
}
