//! The Shirako hosting model at scale (issue 10): the scale family, the
//! invariant checker on 10^4 hosts (sampled, then at the end), the
//! per-period series form, and results that do not depend on the thread
//! count.

use slivers::engine::SimTime;
use slivers::experiment::{RunOptions, run_pair, run_scenario};
use slivers::model::{FidelitySeries, SeriesForm};
use slivers::report::outputs;
use slivers::scenario::Scenario;

use crate::{root, temp_dir};

fn scale(name: &str, days: u64) -> Scenario {
    let mut s = Scenario::load(&root().join("scenarios").join(name)).unwrap();
    s.duration = SimTime::from_secs(days * 86_400);
    s
}

#[test]
fn the_scale_family_grows_hosts_and_load_together() {
    let mut last = 0;
    for (name, hosts) in [
        ("scale-1e2.toml", 100),
        ("scale-1e3.toml", 1000),
        ("scale-1e4.toml", 10_000),
        ("scale-1e5.toml", 100_000),
    ] {
        let s = Scenario::load(&root().join("scenarios").join(name)).unwrap();
        assert_eq!(s.hosts, hosts, "{name}");
        assert_eq!(s.pairs.len(), 4, "{name}: the paper's four pairs");
        let expected = if hosts <= 1000 {
            SeriesForm::Changes
        } else {
            SeriesForm::Periods(s.period)
        };
        assert_eq!(s.series, expected, "{name}");
        assert!(hosts > last);
        last = hosts;
    }
}

#[test]
fn ten_thousand_hosts_keep_every_invariant_with_a_sampled_check() {
    // Two days of scale-1e4 under the energy-aware site, which migrates:
    // the full check after every 5,000th event and at the end.
    let s = scale("scale-1e4.toml", 2);
    let pair = s.pairs[1];
    assert_eq!(pair.label(), "room-for-growth/energy-aware");
    let r = run_pair(
        &s,
        pair,
        0,
        s.seed,
        RunOptions {
            check_invariants: true,
            check_every: 5000,
        },
    )
    .unwrap();
    assert!(r.events > 100_000, "{} events", r.events);
    assert!(r.site.migrations() > 0, "the energy-aware site migrates");
    assert!(r.jobs_started > 1000, "{} jobs", r.jobs_started);
    assert!(r.site.peak_active_hosts as u64 <= 10_000);
    // Above 1,000 hosts the fidelity series is one row per guest and period.
    let FidelitySeries::Periods(p) = &r.fidelity_series else {
        panic!("expected the per-period form")
    };
    assert_eq!(p.len(), 2 * 48, "two guests, 48 hours");
    assert!(p.iter().all(|p| (0.0..=1.0).contains(&p.min) && p.min <= p.mean));
}

#[test]
fn the_per_period_form_has_one_row_per_period() {
    // The golden scenario with the per-period form forced on.
    let dir = temp_dir("per-period");
    let text = crate::golden_scenario_text().replace("[hosts]", "series = \"periods\"\n\n[hosts]");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    let s = Scenario::load(&path).unwrap();
    assert_eq!(s.series, SeriesForm::Periods(s.period));
    let results = run_scenario(&s, RunOptions::default(), |_| {}).unwrap();
    let out = dir.join("out");
    outputs::write_all(&s, &results, &out).unwrap();
    let fidelity = std::fs::read_to_string(out.join("fidelity.csv")).unwrap();
    let mut lines = fidelity.lines();
    assert_eq!(
        lines.next(),
        Some("run,provisioning,placement,guest,time_s,fidelity_mean,fidelity_min")
    );
    let periods = s.ticks().count();
    assert_eq!(lines.count(), results.len() * s.guests.len() * periods);
    // migrations.csv keeps at most one change per period, plus time zero
    // and the end, and its last count is the run's total.
    let migrations = std::fs::read_to_string(out.join("migrations.csv")).unwrap();
    for r in &results {
        let rows: Vec<&str> = migrations
            .lines()
            .skip(1)
            .filter(|l| l.starts_with(&format!("{},", r.run)))
            .collect();
        assert!(rows.len() <= periods + 2, "{} rows", rows.len());
        let last: u64 = rows.last().unwrap().rsplit(',').next().unwrap().parse().unwrap();
        assert_eq!(last, r.site.migrations());
    }
    // The summary does not depend on the series form.
    let full = Scenario::load(&root().join("tests/golden/small/scenario.toml")).unwrap();
    let again = run_scenario(&full, RunOptions::default(), |_| {}).unwrap();
    for (a, b) in results.iter().zip(&again) {
        assert_eq!(a.fidelity, b.fidelity);
        assert_eq!(a.site, b.site);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut s = Scenario::load(&root().join("scenarios/figure3.toml")).unwrap();
    s.duration = SimTime::from_secs(5 * 86_400);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run_scenario(&s, RunOptions::default(), |_| {}).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
    assert_eq!(one.iter().map(|r| r.run).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}
