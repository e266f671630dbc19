//! The migration model end to end: `slivers migration estimate`, fidelity
//! around migrations, and what the new summary columns report.

use slivers::experiment::{RunOptions, RunResult, run_scenario};
use slivers::scenario::Scenario;

use crate::{golden_scenario_text, slivers, temp_dir};

fn run_text(text: &str) -> Vec<RunResult> {
    let dir = temp_dir("migration-scenario");
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    let s = Scenario::load(&path).unwrap();
    run_scenario(
        &s,
        RunOptions {
            check_invariants: true,
            ..RunOptions::default()
        },
        |_| {},
    )
    .unwrap()
}

/// `slivers migration estimate` for 1024 MiB over 1000 Mbit/s, plus `extra`.
fn estimate(extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "migration",
        "estimate",
        "--memory-mib",
        "1024",
        "--bandwidth-mbps",
        "1000",
    ];
    args.extend_from_slice(extra);
    slivers(&args)
}

#[test]
fn estimate_prints_one_csv_line_with_a_header() {
    let (ok, out, err) = estimate(&["--dirty-mibps", "50", "--max-downtime-ms", "30"]);
    assert!(ok, "{err}");
    // The rounds of the unit test's first hand-checked case (1024, 429.5,
    // 180.15, 75.6, 31.75, 13.35, 5.6 MiB live, then 2.35 MiB paused), with
    // the default 100 ms switchover.
    assert_eq!(
        out,
        "total_time_s,downtime_ms,rounds,bytes_sent,converged,degraded_s\n14.886,120,7,1847905485,true,0\n"
    );
    let (ok, out, _) = estimate(&["--dirty-mibps", "200"]);
    assert!(ok);
    assert!(
        out.ends_with(",false,0\n"),
        "dirtying faster than the link never converges: {out}"
    );
    let (ok, _, err) = estimate(&["--mode", "hybrid"]);
    assert!(!ok);
    assert!(err.contains("pre-copy, post-copy, stop-copy"), "{err}");
}

#[test]
fn fidelity_is_exactly_one_when_nothing_migrates() {
    // The golden scenario under follow-broker: demand never exceeds the
    // promise and no VM moves.
    let text = golden_scenario_text()
        + "\n[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"follow-broker\"\n";
    let r = &run_text(&text)[0];
    assert_eq!(r.site.migrations(), 0);
    assert_eq!((r.fidelity_mean(), r.fidelity_min()), (1.0, 1.0));
    assert_eq!(r.cost.downtime_ms, 0);
    assert_eq!(r.cost.bytes(), 0);
}

#[test]
fn a_stop_and_copy_drops_fidelity_by_the_expected_amount() {
    // The golden scenario's energy-aware migration at 3600 s, with the web
    // VM dirtying 200 MiB/s (faster than the 119.2 MiB/s link): pre-copy
    // cannot converge, and the site falls back to stop-and-copy. The VM
    // (1024 MiB) is paused for the whole copy, 8590 ms, plus the 100 ms
    // switchover, and the web guest gets nothing meanwhile.
    let text = golden_scenario_text()
        .replace(
            "[migration]\n",
            "[migration]\non_non_convergence = \"stop-copy\"\n",
        )
        .replace("min_units = 1\n", "min_units = 1\ndirty_mibps = 200\n")
        + "\n[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"energy-aware\"\n";
    let r = &run_text(&text)[0];
    assert_eq!(r.site.live_migrations, 1);
    assert_eq!(r.cost.non_converged, 1);
    assert_eq!(r.cost.downtime_ms, 8690);
    assert_eq!(r.cost.migration_ms, 8690);
    assert_eq!(r.cost.bytes(), 1024 * 1024 * 1024);
    let web: Vec<(u64, f64)> = r
        .fidelity_series
        .changes()
        .expect("every change is kept on 2 hosts")
        .iter()
        .filter(|p| p.1 == 0)
        .map(|p| (p.0.as_millis(), p.2))
        .collect();
    assert_eq!(web, vec![(0, 1.0), (3_600_000, 0.0), (3_608_690, 1.0)]);
    assert_eq!(r.fidelity[0].min, 0.0);
    let expected = 1.0 - 8.69 / 10_800.0;
    assert!(
        (r.fidelity[0].mean - expected).abs() < 1e-12,
        "{}",
        r.fidelity[0].mean
    );
    assert_eq!(
        (r.fidelity[1].mean, r.fidelity[1].min),
        (1.0, 1.0),
        "the batch guest is untouched"
    );
}

#[test]
fn post_copy_degrades_instead_of_pausing() {
    // The same move in post-copy: 64 MiB paused (537 ms) + 100 ms switchover,
    // then 960 MiB pulled (8054 ms) while the VM runs at half speed on its
    // new 2-unit sliver (fidelity 0.5 of the 2 units owed).
    let text = golden_scenario_text().replace("[migration]\n", "[migration]\nmode = \"post-copy\"\n")
        + "\n[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"energy-aware\"\n";
    let r = &run_text(&text)[0];
    assert_eq!(r.cost.downtime_ms, 637);
    assert_eq!(r.cost.degraded_ms, 8054);
    let web: Vec<(u64, f64)> = r
        .fidelity_series
        .changes()
        .expect("every change is kept on 2 hosts")
        .iter()
        .filter(|p| p.1 == 0)
        .map(|p| (p.0.as_millis(), p.2))
        .collect();
    assert_eq!(
        web,
        vec![(0, 1.0), (3_600_000, 0.0), (3_600_637, 0.5), (3_608_691, 1.0)]
    );
}

#[test]
fn the_new_columns_are_in_the_summary_and_deterministic() {
    let a = temp_dir("mig-cols-a");
    let (ok, _, err) = slivers(&[
        "run",
        "scenarios/figure3.toml",
        "--out",
        a.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    let summary = std::fs::read_to_string(a.join("summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let rows: Vec<Vec<&str>> = summary.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let num = |row: &Vec<&str>, name: &str| row[col(name)].parse::<f64>().unwrap();
    for row in &rows {
        let migrations = num(row, "migrations");
        // Time, downtime and bytes are zero exactly when nothing migrated.
        for c in ["migration_time_s_total", "downtime_s_total", "bytes_migrated"] {
            assert_eq!(num(row, c) == 0.0, migrations == 0.0, "{c} in {row:?}");
        }
        let (mean, min) = (num(row, "fidelity_mean"), num(row, "fidelity_min"));
        assert!(0.0 <= min && min <= mean && mean <= 1.0, "{row:?}");
        assert!(num(row, "energy_kwh") > 0.0);
    }
    // Packing saves energy: energy-aware uses less than follow-broker.
    let kwh = |i: usize| num(&rows[i], "energy_kwh");
    assert!(kwh(1) < kwh(0) && kwh(3) < kwh(2), "{summary}");
}
