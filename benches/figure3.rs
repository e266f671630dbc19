//! The whole Figure 3 experiment, end to end in the library.
//!
//! * `figure3/load`: `Scenario::load` of `scenarios/figure3.toml`, i.e.
//!   reading and validating the TOML and reading and parsing both traces.
//! * `figure3/run_scenario`: `run_scenario` over all four policy pairs with
//!   `RunOptions::default()` (no per-event invariant checks), the scenario
//!   loaded once outside the timing loop. No files are written.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use slivers::experiment::{RunOptions, run_scenario};
use slivers::scenario::Scenario;

fn scenario_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/figure3.toml")
}

fn figure3(c: &mut Criterion) {
    let path = scenario_path();
    let scenario = Scenario::load(&path).expect("scenarios/figure3.toml loads");

    let mut group = c.benchmark_group("figure3");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    group.bench_function("load", |b| {
        b.iter(|| Scenario::load(black_box(&path)).expect("loads"))
    });

    group.bench_function("run_scenario", |b| {
        b.iter(|| {
            let results = run_scenario(black_box(&scenario), RunOptions::default(), |r| {
                black_box(r);
            })
            .expect("figure3 runs");
            assert_eq!(results.len(), scenario.pairs.len());
            results
        })
    });

    group.finish();
}

// Plots are off: the plotters backend needs system fonts, which minimal
// machines and CI images lack (it panics with `FontUnavailable`).
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = figure3
}
criterion_main!(benches);
