//! Parameter sweeps: expansion, parallel determinism, resume, shards, merge.

use std::path::Path;

use crate::{golden_scenario_text, slivers, temp_dir};

/// The golden scenario with absolute trace paths and a small grid sweep:
/// 2 host counts x 2 web scalings x 3 replicates x 4 pairs = 48 runs.
pub(crate) fn sweep_file(dir: &Path, extra: &str) -> String {
    let text = golden_scenario_text();
    let text = format!(
        "{text}\n[sweep]\nmode = \"grid\"\nreplicates = 3\n\"hosts.count\" = {{ from = 2, to = 3, step = 1 }}\n\
         \"guest[0].requests_per_unit\" = [50, 100]\n{extra}"
    );
    let p = dir.join("sweep.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
}

pub(crate) fn sweep(args: &[&str]) -> String {
    let (ok, out, err) = slivers(args);
    assert!(ok, "slivers {args:?} failed: {err}");
    out
}

#[test]
fn list_prints_every_run_with_its_parameters() {
    let d = temp_dir("sw-list");
    let f = sweep_file(&d, "");
    let out = sweep(&["sweep", &f, "--list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "run,point,replicate,seed,hosts_count,guest0_requests_per_unit,provisioning,placement"
    );
    assert_eq!(lines.len(), 1 + 48);
    assert_eq!(lines[1], "0,0,0,1,2,50,room-for-growth,follow-broker");
    // Grid: the first key varies slowest; seeds follow the replicate only.
    assert_eq!(lines[5], "4,0,1,2,2,50,room-for-growth,follow-broker");
    assert_eq!(lines[13], "12,1,0,1,2,100,room-for-growth,follow-broker");
    assert_eq!(lines[48], "47,3,2,3,3,100,migrating,energy-aware");
}

#[test]
fn one_and_two_threads_write_the_same_bytes_and_plot_redraws_them() {
    let d = temp_dir("sw-jobs");
    let f = sweep_file(&d, "");
    let (a, b) = (d.join("a"), d.join("b"));
    sweep(&["sweep", &f, "--jobs", "1", "--out", a.to_str().unwrap(), "-q"]);
    sweep(&["sweep", &f, "--jobs", "2", "--out", b.to_str().unwrap(), "-q"]);
    for file in [
        "runs.csv",
        "migrations.csv",
        "curves-point0.svg",
        "curves-point0.pdf",
        "total-vs-hosts_count.png",
        "total-vs-guest0_requests_per_unit.pdf",
    ] {
        assert!(
            read(&a, file) == read(&b, file),
            "{file} differs between --jobs 1 and 2"
        );
    }
    let runs = String::from_utf8(read(&a, "runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 48);
    // CSV-safe columns; the figures name the guest.
    assert!(runs.starts_with("run,point,replicate,seed,hosts_count,guest0_requests_per_unit,provisioning,"));
    let svg = String::from_utf8(read(&a, "total-vs-guest0_requests_per_unit.svg")).unwrap();
    assert!(
        svg.contains("Total migrations against web requests per unit"),
        "{svg}"
    );
    let svg = String::from_utf8(read(&a, "curves-point0.svg")).unwrap();
    assert!(
        svg.contains("point 0: hosts = 2, web requests per unit = 50"),
        "{svg}"
    );
    // Row order follows the run index.
    for (i, l) in runs.lines().skip(1).enumerate() {
        assert!(l.starts_with(&format!("{i},")), "{l}");
    }
    // With 3 hosts the energy-aware site still migrates once per point (the
    // golden story), and follow-broker under room-for-growth never does.
    assert!(
        runs.lines()
            .filter(|l| l.contains("room-for-growth,follow-broker,0,"))
            .count()
            == 12,
        "{runs}"
    );
    let before = read(&a, "curves-point3.png");
    std::fs::remove_file(a.join("curves-point3.png")).unwrap();
    sweep(&["plot", a.to_str().unwrap()]);
    assert!(
        read(&a, "curves-point3.png") == before,
        "slivers plot redraws the same figure from the CSVs"
    );
}

#[test]
fn resume_redoes_only_missing_runs_and_ignores_half_written_files() {
    let d = temp_dir("sw-resume");
    let f = sweep_file(&d, "");
    let (full, crashed) = (d.join("full"), d.join("crashed"));
    sweep(&["sweep", &f, "--out", full.to_str().unwrap(), "-q"]);
    sweep(&["sweep", &f, "--out", crashed.to_str().unwrap(), "-q"]);
    // Simulate a crash: runs 5 and 40 never finished (one left a temp file
    // behind), and the final CSVs were never written.
    for i in [5, 40] {
        std::fs::remove_file(crashed.join(format!("runs/{i:06}.summary.csv"))).unwrap();
    }
    std::fs::write(crashed.join("runs/000005.summary.csv.123.0.tmp"), "run,poi").unwrap();
    std::fs::remove_file(crashed.join("runs.csv")).unwrap();
    let out = sweep(&["sweep", &f, "--resume", "--out", crashed.to_str().unwrap()]);
    assert!(out.contains("2 runs done, 46 already complete"), "{out}");
    assert!(read(&full, "runs.csv") == read(&crashed, "runs.csv"));
    assert!(read(&full, "migrations.csv") == read(&crashed, "migrations.csv"));
}

#[test]
fn shards_merge_into_the_bytes_of_an_unsharded_sweep() {
    let d = temp_dir("sw-shard");
    let f = sweep_file(&d, "");
    let whole = d.join("whole");
    sweep(&["sweep", &f, "--out", whole.to_str().unwrap(), "-q"]);
    let parts: Vec<_> = (1..=3).map(|i| d.join(format!("part{i}"))).collect();
    for (i, p) in parts.iter().enumerate() {
        sweep(&[
            "sweep",
            &f,
            "--shard",
            &format!("{}/3", i + 1),
            "--out",
            p.to_str().unwrap(),
            "-q",
        ]);
        assert!(!p.join("runs.csv").exists(), "a shard does not assemble");
    }
    // A shard missing is refused, and named.
    let merged = d.join("merged");
    let (ok, _, err) = slivers(&[
        "merge",
        parts[0].to_str().unwrap(),
        parts[2].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("shard 2 of 3 missing"), "{err}");
    let all: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
    let mut args = vec!["merge"];
    args.extend(&all);
    args.extend(["--out", merged.to_str().unwrap()]);
    sweep(&args);
    for file in ["runs.csv", "migrations.csv", "manifest.toml", "curves-point1.svg"] {
        assert!(
            read(&whole, file) == read(&merged, file),
            "{file} differs after merge"
        );
    }
    // Shards of a different sweep file are refused.
    let other_dir = temp_dir("sw-shard-other");
    let other = sweep_file(&other_dir, "# changed\n");
    let stranger = d.join("stranger");
    sweep(&[
        "sweep",
        &other,
        "--shard",
        "2/3",
        "--out",
        stranger.to_str().unwrap(),
        "-q",
    ]);
    let (ok, _, err) = slivers(&[
        "merge",
        parts[0].to_str().unwrap(),
        stranger.to_str().unwrap(),
        parts[2].to_str().unwrap(),
        "--out",
        d.join("bad").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("different sweep files"), "{err}");
}

#[test]
fn sweep_errors_name_the_key() {
    let d = temp_dir("sw-err");
    let f = sweep_file(&d, "\"sliver.quantm\" = [0.5]\n");
    let (ok, _, err) = slivers(&["sweep", &f, "--list"]);
    assert!(!ok);
    assert!(
        err.contains("sweep point 0") && err.contains("unknown field `quantm`"),
        "{err}"
    );
    let f = sweep_file(&d, "\"sliver.quantum\" = [0.5, 2.0]\n");
    let (ok, _, err) = slivers(&["sweep", &f, "--list"]);
    assert!(!ok);
    assert!(
        err.contains("sliver.quantum = 2") && err.contains("a sliver is at most one host"),
        "{err}"
    );
    // The file is named once, by the scenario error, after the point.
    assert_eq!(err.matches("sweep.toml").count(), 1, "{err}");
    assert!(err.starts_with(&format!("error: sweep point 1 (hosts.count = 2, guest[0].requests_per_unit = 50, sliver.quantum = 2): {f}: key `sliver.quantum`")), "{err}");
    let f = sweep_file(&d, "\"pairs\" = [1]\n");
    let (ok, _, err) = slivers(&["sweep", &f, "--list"]);
    assert!(!ok);
    assert!(
        err.contains("pairs = 1") && err.contains("invalid type: integer `1`, expected a sequence"),
        "{err}"
    );
    assert!(
        !err.contains("line 5"),
        "no line numbers of generated text: {err}"
    );
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("mode = \"grid\"", "mode = \"zip\"")
        .replace("\"pairs\" = [1]\n", "")
        .replace("[50, 100]", "[50, 100, 150]");
    std::fs::write(&f, text).unwrap();
    let (ok, _, err) = slivers(&["sweep", &f, "--list"]);
    assert!(!ok);
    assert!(
        err.contains(
            "key `sweep.\"guest[0].requests_per_unit\"`: expected 2 values, as many as `hosts.count`"
        ),
        "{err}"
    );
    assert!(err.contains("found 3"), "{err}");
    let f = sweep_file(&d, "");
    let (ok, _, err) = slivers(&["sweep", &f, "--shard", "4/3"]);
    assert!(!ok && err.contains("--shard"), "{err}");
}

#[test]
fn a_sweep_over_the_run_cap_is_refused_by_its_size_before_it_is_built() {
    let d = temp_dir("sw-cap");
    // One range of 10^9 values: named by its key and its size.
    let f = sweep_file(
        &d,
        "\"guest[0].peak_units\" = { from = 1, to = 1000000000, step = 1 }\n",
    );
    let (ok, _, err) = slivers(&["sweep", &f, "--list"]);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        format!(
            "error: {f}: key `sweep.\"guest[0].peak_units\"`: expected at most 10000000 values (the cap on runs; raise it with --max-runs), found a range of 1000000000 values"
        )
    );
    // 48 runs: over a cap of 47, within one of 48; the cap is counted
    // before any point is built, and named with the counts.
    let f = sweep_file(&d, "");
    let (ok, _, err) = slivers(&["sweep", &f, "--list", "--max-runs", "47"]);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        format!(
            "error: {f}: key `sweep`: expected at most 47 runs (the cap; raise it with --max-runs), found 4 points x 3 replicates x 4 pairs = 48 runs"
        )
    );
    let out = sweep(&["sweep", &f, "--list", "--max-runs", "48"]);
    assert_eq!(out.lines().count(), 1 + 48);
    // 10^5 points x 1000 replicates: refused at once (it took 6 s and
    // 475 MB when every point was built first).
    let f = sweep_file(
        &d,
        "\"guest[0].peak_units\" = { from = 1, to = 100000, step = 1 }\n",
    );
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, text.replace("replicates = 3", "replicates = 1000")).unwrap();
    let started = std::time::Instant::now();
    let (ok, _, err) = slivers(&["sweep", &f, "--list"]);
    assert!(!ok);
    assert!(
        err.contains("found 400000 points x 1000 replicates x 4 pairs = 1600000000 runs"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_vm_request_scenario_is_only_for_run() {
    let expected = "key `vm_requests`: expected a scenario with guests (a VM-request scenario, with [vm_requests], runs only with `slivers run`), found a [vm_requests] table";
    for command in ["sweep", "live"] {
        let (ok, _, err) = slivers(&[command, "scenarios/vm-requests-1k.toml"]);
        assert!(!ok);
        assert_eq!(
            err.trim(),
            format!("error: scenarios/vm-requests-1k.toml: {expected}"),
            "slivers {command}"
        );
    }
}

#[test]
fn validate_takes_sweep_files_and_sweep_warns_of_a_plain_scenario() {
    let d = temp_dir("sw-validate");
    let f = sweep_file(&d, "");
    let (ok, out, err) = slivers(&["validate", &f]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        format!(
            "{f}: ok: sweep \"small\" (grid): 4 points x 3 replicates x 4 pairs = 48 runs, swept: hosts.count, guest[0].requests_per_unit"
        )
    );
    let (ok, out, err) = slivers(&["validate", "scenarios/sweep-quantum.toml"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("(zip): 3 points x 10 replicates x 4 pairs = 120 runs"),
        "{out}"
    );
    // Every point is checked, and the cap applies as in `slivers sweep`.
    let bad = sweep_file(&d, "\"sliver.quantum\" = [0.5, 2.0]\n");
    let (ok, _, err) = slivers(&["validate", &bad]);
    assert!(
        !ok && err.contains("sweep point 1 (") && err.contains("a sliver is at most one host"),
        "{err}"
    );
    let f = sweep_file(&d, "");
    let (ok, _, err) = slivers(&["validate", &f, "--max-runs", "47"]);
    assert!(!ok && err.contains("expected at most 47 runs"), "{err}");
    // A plain scenario given to `slivers sweep` runs, with a warning (even with -q).
    let (ok, out, err) = slivers(&["sweep", "tests/golden/small/scenario.toml", "--list", "-q"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1 + 4);
    assert_eq!(
        err.trim(),
        "warning: tests/golden/small/scenario.toml: no [sweep] table, so a sweep of one point and 4 runs (one per pair); `slivers run` runs a plain scenario"
    );
}

#[test]
fn a_sweep_of_an_outage_scenario_adds_the_outage_columns() {
    let d = temp_dir("sweep-outages");
    std::fs::write(
        d.join("f.csv"),
        "host,start_s,duration_s\n0,1800,1800\n1,5400,1800\n",
    )
    .unwrap();
    let text = format!(
        "{}\n[failures]\ntrace = \"{}\"\n[sweep]\n\"failures.restart\" = [\"1m\", \"30m\"]\n",
        golden_scenario_text(),
        d.join("f.csv").display()
    );
    let file = d.join("sweep.toml");
    std::fs::write(&file, text).unwrap();
    let out = d.join("out");
    sweep(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let runs = String::from_utf8(read(&out, "runs.csv")).unwrap();
    let mut lines = runs.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    let (restart, failures, recovered, recovery) = (
        col("failures_restart"),
        col("host_failures"),
        col("vms_recovered"),
        col("mean_recovery_s"),
    );
    assert_eq!(header.last(), Some(&"missed_drains"));
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[failures], "2", "{line}");
        // A VM re-created waits the restart delay: the mean recovery is at least it.
        let min = if f[restart] == "30m" { 1800.0 } else { 60.0 };
        if f[recovered] != "0" {
            assert!(f[recovery].parse::<f64>().unwrap() >= min, "{line}");
        }
    }
    // A scenario without outages keeps the columns it had.
    let plain = sweep_file(&d, "");
    let out2 = d.join("plain");
    sweep(&["sweep", &plain, "--out", out2.to_str().unwrap(), "-q"]);
    let runs = String::from_utf8(read(&out2, "runs.csv")).unwrap();
    assert!(!runs.lines().next().unwrap().contains("availability"));
}
