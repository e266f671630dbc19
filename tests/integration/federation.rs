//! Federation (`[[site]]`, `[[broker]]`, `[[delegation]]`, `[wan]`): every
//! broker's promises stay within what the sites delegate to it and every
//! site honours them, after every event; a migrating broker moves tickets
//! between sites over the WAN; bad federations are named; one implicit
//! site and broker give what a scenario without them gives.

use std::path::Path;

use proptest::prelude::*;
use slivers::experiment::{RunOptions, run_pair};
use slivers::scenario::{Pair, Scenario};
use slivers_policy::{PlacementKind, ProvisioningKind, SiteSelectionKind};

use crate::root;

fn check() -> RunOptions {
    RunOptions {
        check_invariants: true,
        ..RunOptions::default()
    }
}

fn pair(prov: ProvisioningKind, place: PlacementKind) -> Pair {
    Pair {
        provisioning: prov.into(),
        placement: place.into(),
    }
}

const GUESTS: &str = r#"
[[guest]]
name = "web"
kind = "web"
trace = { generate = "web", base_rate = 1000, flash_crowds = 2 }
peak_units = PEAK
hysteresis = 0.1
WEB
[[guest]]
name = "batch"
kind = "batch"
trace = { generate = "batch", nodes = NODES, target_load = 0.7 }
BATCH
"#;

fn guests(peak: u32, nodes: u32, web: &str, batch: &str) -> String {
    GUESTS
        .replace("PEAK", &peak.to_string())
        .replace("NODES", &nodes.to_string())
        .replace("WEB", web)
        .replace("BATCH", batch)
}

#[test]
fn one_explicit_site_and_broker_give_the_implicit_ones_results() {
    let g = guests(10, 6, "", "");
    let plain = format!("duration = \"2d\"\n[hosts]\ncount = 6\n{g}");
    let explicit = format!(
        "duration = \"2d\"\n[[site]]\nname = \"only\"\nhosts = 6\n[[broker]]\nname = \"b\"\n[[delegation]]\nsite = \"only\"\nbroker = \"b\"\n{g}"
    );
    let a = Scenario::parse(&plain, Path::new("plain.toml")).unwrap();
    let b = Scenario::parse(&explicit, Path::new("explicit.toml")).unwrap();
    assert_eq!(b.hosts, 6);
    for p in [
        pair(ProvisioningKind::Migrating, PlacementKind::EnergyAware),
        pair(ProvisioningKind::RoomForGrowth, PlacementKind::FollowBroker),
    ] {
        let ra = run_pair(&a, p, 0, 1, check()).unwrap();
        let rb = run_pair(&b, p, 0, 1, check()).unwrap();
        assert_eq!(ra.site, rb.site, "{}", p.label());
        assert_eq!(ra.broker, rb.broker);
        assert_eq!(ra.fidelity, rb.fidelity);
        assert_eq!(ra.final_placement, rb.final_placement);
        assert!(ra.federation.is_none() && rb.federation.is_some());
    }
}

#[test]
fn a_migrating_broker_moves_tickets_between_sites_over_the_wan() {
    // figure3's workload on four sites of 25 under one broker: a grown
    // sliver with no room at its site moves to another site.
    let s = Scenario::load(&root().join("scenarios/federation-a.toml")).unwrap();
    let mut s = s;
    s.header.duration = slivers::engine::SimTime::from_secs(5 * 86_400);
    let r = run_pair(
        &s,
        pair(ProvisioningKind::Migrating, PlacementKind::FollowBroker),
        0,
        1,
        check(),
    )
    .unwrap();
    let f = r.federation.as_ref().unwrap();
    let moves = f.brokers[0].stats.cross_site_moves;
    assert!(moves > 0, "{:?}", f.brokers[0].stats);
    assert_eq!(f.wan_moves.0, moves);
    assert_eq!(f.sites.iter().map(|s| s.arrivals).sum::<u64>(), moves);
    // Each crossing takes at least the latency and a 8 GiB image at 1 Gbit/s.
    assert!(f.wan_moves.1 >= moves * (50 + 68_000), "{:?}", f.wan_moves);
    // Room-for-growth refuses the same grows instead.
    let r = run_pair(
        &s,
        pair(ProvisioningKind::RoomForGrowth, PlacementKind::FollowBroker),
        0,
        1,
        check(),
    )
    .unwrap();
    assert_eq!(r.federation.unwrap().brokers[0].stats.cross_site_moves, 0);
}

#[test]
fn pinned_guests_stay_at_their_site() {
    // Both guests pinned to the small site: the large one is never used,
    // although it has room (least-loaded alone would prefer it).
    let g = guests(4, 2, "site = \"north\"\n", "site = \"north\"\n");
    let text = format!(
        "duration = \"1d\"\n[[site]]\nname = \"north\"\nhosts = 2\n[[site]]\nname = \"south\"\nhosts = 4\n[[broker]]\nname = \"b\"\nsite_selection = \"pinned\"\n[[delegation]]\nsite = \"north\"\nbroker = \"b\"\n[[delegation]]\nsite = \"south\"\nbroker = \"b\"\n{g}"
    );
    let s = Scenario::parse(&text, Path::new("pin.toml")).unwrap();
    let r = run_pair(
        &s,
        pair(ProvisioningKind::Migrating, PlacementKind::EnergyAware),
        0,
        3,
        check(),
    )
    .unwrap();
    let f = r.federation.unwrap();
    assert_eq!(
        (f.sites[0].name.as_str(), f.sites[1].name.as_str()),
        ("north", "south")
    );
    assert!(r.broker.granted > 0 && f.sites[0].energy_kwh > 0.0);
    assert_eq!(f.sites[1].energy_kwh, 0.0);
    assert_eq!(f.sites[1].stats.finished_vms, 0);
    assert!(
        r.final_placement.iter().all(|(_, h)| *h < 2),
        "{:?}",
        r.final_placement
    );
    // Unpinned, the same guests use the large site too.
    let text = text.replace(&g, &guests(4, 2, "", ""));
    let s = Scenario::parse(&text, Path::new("free.toml")).unwrap();
    let r = run_pair(
        &s,
        pair(ProvisioningKind::Migrating, PlacementKind::EnergyAware),
        0,
        3,
        check(),
    )
    .unwrap();
    assert!(r.federation.unwrap().sites[1].energy_kwh > 0.0);
}

#[test]
fn bad_federations_are_named() {
    let g = guests(4, 4, "", "");
    let two = "[[site]]\nname = \"a\"\nhosts = 4\n[[site]]\nname = \"b\"\nhosts = 4\n[[broker]]\nname = \"x\"\n[[broker]]\nname = \"y\"\n";
    let cases: Vec<(String, &str)> = vec![
        (
            format!(
                "{two}[[delegation]]\nsite = \"a\"\nbroker = \"x\"\nshare = 0.6\n[[delegation]]\nsite = \"a\"\nbroker = \"y\"\nshare = 0.6\n{g}"
            ),
            "delegation[1].share",
        ),
        (
            format!("{two}[[delegation]]\nsite = \"a\"\nbroker = \"x\"\n{g}"),
            "broker[1]",
        ),
        (
            format!(
                "{two}[[delegation]]\nsite = \"a\"\nbroker = \"x\"\n[[delegation]]\nsite = \"b\"\nbroker = \"y\"\n{}",
                guests(4, 4, "brokers = [\"z\"]\n", "")
            ),
            "guest[0].brokers",
        ),
        (
            format!("{two}[[delegation]]\nsite = \"c\"\nbroker = \"x\"\n{g}"),
            "delegation[0].site",
        ),
        (
            format!(
                "{two}[[delegation]]\nsite = \"a\"\nbroker = \"x\"\nhosts = [4]\n[[delegation]]\nsite = \"b\"\nbroker = \"y\"\n{g}"
            ),
            "delegation[0].hosts",
        ),
        (
            format!("[hosts]\ncount = 9\n[[site]]\nname = \"a\"\nhosts = 4\n{g}"),
            "hosts.count",
        ),
        (format!("[[broker]]\nname = \"x\"\n{g}"), "broker"),
        (guests(4, 4, "site = \"a\"\n", ""), "guest[0].site"),
        (
            format!(
                "[[site]]\nname = \"a\"\nhosts = 4\n{}",
                guests(4, 4, "site = \"a\"\n", "")
            ),
            "pinned",
        ),
        (
            format!("[[site]]\nname = \"a\"\nhosts = 4\n[[site]]\nname = \"a\"\nhosts = 2\n{g}"),
            "site[1].name",
        ),
        (
            format!(
                "[[site]]\nname = \"a\"\nhosts = 4\n[[broker]]\nname = \"x\"\nsite_selection = \"nearest\"\n[[delegation]]\nsite = \"a\"\nbroker = \"x\"\n{g}"
            ),
            "least-loaded",
        ),
    ];
    for (text, needle) in cases {
        let err = Scenario::parse(&text, Path::new("fed.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fed.toml") && err.contains(needle),
            "{needle}: {err}"
        );
    }
}

fn random_federation(
    sites: &[(u32, u64)],
    brokers: usize,
    shares: &[f64],
    web_brokers: &str,
    selection: SiteSelectionKind,
    failures: bool,
) -> Scenario {
    let mut text = String::from("duration = \"2d\"\nperiod = \"30m\"\n[sliver]\nquantum = 0.5\n");
    if failures {
        text += "[failures]\ninterval = { dist = \"exponential\", mean = 3.0 }\nduration = { dist = \"exponential\", mean = 2.0 }\n";
    }
    for (k, (hosts, cpu)) in sites.iter().enumerate() {
        text += &format!(
            "[[site]]\nname = \"s{k}\"\nhosts = {hosts}\ncpu_millicores = {cpu}\nidle_watts = {}\n",
            100 + 20 * k
        );
    }
    for b in 0..brokers {
        text += &format!(
            "[[broker]]\nname = \"b{b}\"\nsite_selection = \"{}\"\n",
            selection.name()
        );
    }
    // Site k delegates a share of every host to each broker in turn (a
    // broker with no share of any site gets site 0's leftover hosts).
    for (k, (hosts, _)) in sites.iter().enumerate() {
        let share = shares[k % shares.len()];
        match brokers {
            1 => text += &format!("[[delegation]]\nsite = \"s{k}\"\nbroker = \"b0\"\nshare = {share}\n"),
            _ => {
                let b = k % brokers;
                let cut = hosts / 2;
                text += &format!(
                    "[[delegation]]\nsite = \"s{k}\"\nbroker = \"b{b}\"\nhosts = \"0-{}\"\n",
                    cut.max(1) - 1
                );
                if cut < *hosts && *hosts > 1 {
                    text += &format!(
                        "[[delegation]]\nsite = \"s{k}\"\nbroker = \"b{}\"\nhosts = \"{}-{}\"\n",
                        (b + 1) % brokers,
                        cut.max(1),
                        hosts - 1
                    );
                }
            }
        }
    }
    let total: u32 = sites.iter().map(|(h, _)| h).sum();
    text += &guests(total, total, web_brokers, "");
    Scenario::parse(&text, Path::new("random-federation.toml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random federations (sites of different sizes, whole-host or shared
    /// delegations, one to three brokers, every site-selection policy) and
    /// every policy pair: every invariant holds after every event (each
    /// broker within each delegation, each site honouring every ticket at
    /// its size, no host over capacity, every VM accounted for).
    #[test]
    fn federations_keep_every_invariant(
        sites in prop::collection::vec((1u32..5, prop::sample::select(vec![8000u64, 16000])), 1..4),
        brokers in 1usize..4,
        shares in prop::collection::vec(prop::sample::select(vec![0.5, 1.0]), 1..3),
        web_brokers in prop::sample::select(vec!["", "brokers = [\"b0\"]\n"]),
        selection in prop::sample::select(SiteSelectionKind::ALL.to_vec()),
        failures in any::<bool>(),
        prov in prop::sample::select(ProvisioningKind::ALL.to_vec()),
        place in prop::sample::select(PlacementKind::ALL.to_vec()),
        seed in 0u64..1000,
    ) {
        // Every broker gets the first half of one site (broker b of site b).
        let brokers = brokers.min(sites.len());
        let shares = if brokers > 1 { vec![1.0] } else { shares };
        let s = random_federation(&sites, brokers, &shares, web_brokers, selection, failures);
        let r = run_pair(&s, pair(prov, place), 0, seed, check());
        prop_assert!(r.is_ok(), "{:?}", r.err());
        let r = r.unwrap();
        let f = r.federation.as_ref().unwrap();
        prop_assert_eq!(f.sites.len(), sites.len());
        prop_assert!(r.broker.granted > 0 && r.events > 100, "a trivial run: {} events", r.events);
        prop_assert_eq!(r.broker.requests, r.broker.granted + r.broker.rejected);
        let per_site: u64 = f.sites.iter().map(|s| s.stats.migrations()).sum();
        prop_assert_eq!(per_site, r.site.migrations());
        if failures {
            prop_assert!(r.outages.as_ref().is_some_and(|o| o.site.host_failures > 0), "no failure in 2 days at a mean of 3 h");
        }
    }
}

#[test]
fn each_site_migrates_by_its_own_model() {
    // federation-a over 5 days; only site4's migration bandwidth changes:
    // its migrations take longer, and so the run's total.
    let path = root().join("scenarios/federation-a.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let with = |mbps: u32| {
        let t = text.replace(
            "name = \"site4\"\nhosts = 25\n",
            &format!("name = \"site4\"\nhosts = 25\n[site.migration]\nbandwidth_mbps = {mbps}\n"),
        );
        assert_ne!(t, text);
        Scenario::parse(&t, &path)
    };
    let p = pair(ProvisioningKind::Migrating, PlacementKind::EnergyAware);
    let run = |mbps| {
        let mut s = with(mbps).unwrap();
        s.header.duration = slivers::engine::SimTime::from_secs(5 * 86_400);
        run_pair(&s, p, 0, 1, check()).unwrap()
    };
    let (quick, slow) = (run(1000), run(100));
    let site4 = |r: &slivers::outcome::RunResult| r.federation.as_ref().unwrap().sites[3].stats.migrations();
    assert!(site4(&quick) > 0, "{:?}", quick.federation);
    assert!(
        slow.cost.migration_ms > quick.cost.migration_ms,
        "{} ms with site4 at 100 Mbit/s, {} ms at 1 Gbit/s",
        slow.cost.migration_ms,
        quick.cost.migration_ms
    );
    let err = with(0).unwrap_err().to_string();
    assert!(err.contains("site[3].migration.bandwidth_mbps"), "{err}");
}
