//! The hosting model at datacenter scale (issue 10): one policy pair of the
//! scale family (`scenarios/scale-1e*.toml`), run in the library.
//!
//! * `scale/1e3/<pair>`: 10^3 hosts, a month, for each of the four pairs;
//! * `scale/1e4/<pair>/3d`: 10^4 hosts, the first 3 days (a month at
//!   10^4 and 10^5 hosts is timed with the CLI, see benches/README.md).
//!
//! No per-event invariant checks and no files written.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use slivers::engine::SimTime;
use slivers::experiment::{RunOptions, run_pair};
use slivers::scenario::Scenario;

fn load(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    Scenario::load(&path).expect("the scale scenarios load")
}

fn scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let month = load("scale-1e3.toml");
    let mut short = load("scale-1e4.toml");
    short.duration = SimTime::from_secs(3 * 86_400);
    for (label, s) in [("1e3", &month), ("1e4", &short)] {
        for pair in &s.pairs {
            let suffix = if label == "1e4" { "/3d" } else { "" };
            let name = format!("{label}/{}{suffix}", pair.label());
            group.bench_function(name, |b| {
                b.iter(|| run_pair(black_box(s), *pair, 0, s.seed, RunOptions::default()).expect("runs"))
            });
        }
    }
    group.finish();
}

// Plots are off: the plotters backend needs system fonts, which minimal
// machines and CI images lack (it panics with `FontUnavailable`).
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = scale
}
criterion_main!(benches);
