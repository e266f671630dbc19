//! `slivers live` on a consolidation scenario: the simulation's decisions
//! as `xl` commands (a dry run), checked against a golden transcript and
//! against the run's own counts.

use crate::{root, slivers, temp_dir};

#[test]
fn consolidation_dry_run_transcript_is_golden_and_follows_the_run() {
    let dir = temp_dir("live-cons");
    let (ok, _, err) = slivers(&[
        "live",
        "tests/golden/consolidation/tiny.toml",
        "--pair",
        "THR-MMT-0.8",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    let got = std::fs::read_to_string(dir.join("commands.jsonl")).unwrap();
    let golden = root().join("tests/golden/live/consolidation-dry-run.jsonl");
    if std::env::var_os("SLIVERS_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(
        got,
        std::fs::read_to_string(&golden).unwrap(),
        "regenerate with SLIVERS_BLESS=1"
    );
    // One `xl create` per VM placed (all 20 start at 0 and run to the end;
    // those that never find a host are never created), one
    // `xl migrate` per migration the run counted.
    let count = |verb: &str| {
        got.lines()
            .filter(|l| l.contains(&format!("[\"xl\",\"{verb}\"")))
            .count()
    };
    let summary = std::fs::read_to_string(dir.join("results/summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    let column = |name: &str| -> usize {
        row[header.iter().position(|h| *h == name).unwrap()]
            .parse()
            .unwrap()
    };
    assert_eq!(count("create"), 20 - column("unplaced"));
    assert!(column("migrations") > 0, "the tiny scenario migrates");
    assert_eq!(count("migrate"), column("migrations"));
}

#[test]
fn a_live_run_refuses_overbooked_memory() {
    let dir = temp_dir("live-cons-mem");
    let (ok, _, err) = slivers(&[
        "live",
        "tests/golden/consolidation/small.toml",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(!ok);
    assert!(
        err.contains("small.toml: key `consolidation.overbooking.memory`: expected at most 1 for a live run"),
        "{err}"
    );
    assert!(!dir.join("commands.jsonl").exists(), "nothing is started");
}
