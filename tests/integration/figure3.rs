//! The paper's qualitative result (section 5.1) on the embedded default
//! traces and on the real traces in ../shared/traces.

use slivers::experiment::{RunOptions, run_scenario};
use slivers::scenario::Scenario;

use crate::root;

/// Site migrations of the four pairs, in the order of `Pair::figure3`:
/// rfg/fb, rfg/ea, mig/fb, mig/ea.
fn migrations(file: &str) -> [u64; 4] {
    let s = Scenario::load(&root().join(file)).unwrap();
    let r = run_scenario(
        &s,
        RunOptions {
            check_invariants: true,
            ..RunOptions::default()
        },
        |_| {},
    )
    .unwrap();
    let labels: Vec<String> = r.iter().map(|r| r.pair.label()).collect();
    assert_eq!(
        labels,
        [
            "room-for-growth/follow-broker",
            "room-for-growth/energy-aware",
            "migrating/follow-broker",
            "migrating/energy-aware"
        ]
    );
    // Under follow-broker every site migration is a broker migration the site followed.
    assert_eq!(r[2].site.migrations(), r[2].broker.broker_migrations);
    [0, 1, 2, 3].map(|i| r[i].site.migrations())
}

fn assert_paper_ordering(m: [u64; 4]) {
    let [rfg_fb, rfg_ea, mig_fb, mig_ea] = m;
    assert_eq!(rfg_fb, 0, "room-for-growth/follow-broker must not migrate: {m:?}");
    assert!(
        mig_fb < rfg_ea,
        "migrating/follow-broker < room-for-growth/energy-aware: {m:?}"
    );
    assert!(
        rfg_ea < mig_ea,
        "room-for-growth/energy-aware < migrating/energy-aware: {m:?}"
    );
    assert!(
        rfg_ea < 500,
        "room-for-growth/energy-aware under 500 a month: {m:?}"
    );
    assert!(mig_fb > 0, "the migrating broker moves something: {m:?}");
}

#[test]
fn default_traces_reproduce_the_paper_ordering() {
    assert_paper_ordering(migrations("scenarios/figure3.toml"));
}

#[test]
fn real_traces_reproduce_the_paper_ordering() {
    assert_paper_ordering(migrations("scenarios/figure3-real.toml"));
}
