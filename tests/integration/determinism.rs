//! Same scenario and seed: byte-identical outputs.

use crate::{slivers, temp_dir};

#[test]
fn two_runs_write_identical_bytes() {
    let a = temp_dir("det-a");
    let b = temp_dir("det-b");
    for dir in [&a, &b] {
        let (ok, _, err) = slivers(&[
            "run",
            "scenarios/figure3.toml",
            "--out",
            dir.to_str().unwrap(),
            "-q",
        ]);
        assert!(ok, "{err}");
    }
    for file in [
        "summary.csv",
        "migrations.csv",
        "fidelity.csv",
        "fidelity.png",
        "fidelity.svg",
        "fidelity.pdf",
        "figure3.svg",
        "figure3.png",
        "figure3.pdf",
        "manifest.toml",
    ] {
        let x = std::fs::read(a.join(file)).unwrap();
        let y = std::fs::read(b.join(file)).unwrap();
        assert!(x == y, "{file} differs between two identical runs");
        assert!(!x.is_empty());
    }
}

#[test]
fn generated_traces_depend_on_the_seed_only() {
    use slivers::experiment::{RunOptions, run_pair};
    use slivers::scenario::{Pair, Scenario};
    let text = r#"
duration = "3d"
[hosts]
count = 20
[[guest]]
kind = "web"
trace = { generate = "web", base_rate = 500 }
peak_units = 20
[[guest]]
kind = "batch"
trace = { generate = "batch", nodes = 10, target_load = 0.5 }
"#;
    let s = Scenario::parse(text, std::path::Path::new("inline.toml")).unwrap();
    let pair = Pair::figure3()[3];
    let run = |seed| run_pair(&s, pair, 0, seed, RunOptions::default()).unwrap();
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a, b);
    assert_ne!(
        (a.broker, a.jobs_arrived),
        (c.broker, c.jobs_arrived),
        "a new seed gives a new workload"
    );
}
