//! Bad input gets a clear error naming the file and the line or key, with
//! what was expected and what was found, and never a panic.

use std::path::Path;

use slivers::scenario::Scenario;

use crate::{slivers, temp_dir};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

const GOOD_BATCH: &str = "; UnixStartTime: 0\n1 0 0 60 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1\n";
const GOOD_WEB: &str = "timestamp,count\n0,10\n60,20\n120,30\n";

fn scenario_with(dir: &Path, extra_top: &str, hosts: &str, sliver: &str) -> String {
    write(dir, "web.csv", GOOD_WEB);
    write(dir, "batch.swf", GOOD_BATCH);
    write(
        dir,
        "s.toml",
        &format!(
            "{extra_top}duration = \"3m\"\nperiod = \"1m\"\n[hosts]\n{hosts}\n[sliver]\n{sliver}\n\
             [[guest]]\nkind = \"web\"\ntrace = \"web.csv\"\npeak_units = 2\n\
             [[guest]]\nkind = \"batch\"\ntrace = \"batch.swf\"\n"
        ),
    )
}

fn validate_err(path: &str) -> String {
    let (ok, out, err) = slivers(&["validate", path]);
    assert!(!ok, "expected failure, got: {out}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_valid_scenario_validates() {
    let d = temp_dir("bad-ok");
    let s = scenario_with(&d, "", "count = 4", "quantum = 0.5");
    let (ok, out, err) = slivers(&["validate", &s]);
    assert!(ok, "{err}");
    assert!(out.contains("ok: 4 hosts, 2 guests, 4 pairs"), "{out}");
}

#[test]
fn an_unknown_key_names_the_line_and_the_valid_keys() {
    let d = temp_dir("bad-key");
    let s = scenario_with(&d, "", "count = 4\nsockets = 2", "quantum = 0.5");
    let err = validate_err(&s);
    assert!(err.contains("s.toml") && err.contains("line 5"), "{err}");
    assert!(
        err.contains("unknown field `sockets`") && err.contains("cpu_millicores"),
        "{err}"
    );
}

#[test]
fn a_negative_capacity_names_the_key() {
    let d = temp_dir("bad-neg");
    let s = scenario_with(&d, "", "count = 4\nmemory_mib = -512", "quantum = 0.5");
    let err = validate_err(&s);
    assert!(
        err.contains("key `hosts.memory_mib`: expected an integer from 1 to"),
        "{err}"
    );
    assert!(err.contains("found -512"), "{err}");
}

#[test]
fn a_sliver_larger_than_a_host_is_refused() {
    let d = temp_dir("bad-big");
    let s = scenario_with(&d, "", "count = 4", "quantum = 1.5");
    let err = validate_err(&s);
    assert!(
        err.contains("key `sliver.quantum`") && err.contains("a sliver is at most one host"),
        "{err}"
    );
    assert!(err.contains("found 1.5"), "{err}");
    let s = scenario_with(&d, "", "count = 4", "quantum = 0.5\nmax_units = 3");
    let err = validate_err(&s);
    assert!(
        err.contains("key `sliver.max_units`: expected at most 2 units"),
        "{err}"
    );
}

#[test]
fn an_unknown_policy_lists_the_valid_ones() {
    let d = temp_dir("bad-pol");
    write(&d, "web.csv", GOOD_WEB);
    let s = write(
        &d,
        "p.toml",
        "[[guest]]\nkind = \"web\"\ntrace = \"web.csv\"\n[[pairs]]\nprovisioning = \"greedy\"\nplacement = \"energy-aware\"\n",
    );
    let err = validate_err(&s);
    assert!(err.contains("p.toml") && err.contains("line 5"), "{err}");
    assert!(err.contains("unknown variant `greedy`"), "{err}");
    assert!(
        err.contains("room-for-growth") && err.contains("migrating") && err.contains("best-fit"),
        "{err}"
    );
}

#[test]
fn a_malformed_swf_line_names_file_line_and_field() {
    let d = temp_dir("bad-swf");
    let s = scenario_with(&d, "", "count = 4", "quantum = 0.5");
    write(
        &d,
        "batch.swf",
        &format!("{GOOD_BATCH}2 10 0 6x 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1\n"),
    );
    let err = validate_err(&s);
    assert!(
        err.contains("batch.swf:3:") && err.contains("field 4 (run time)") && err.contains("\"6x\""),
        "{err}"
    );
    write(&d, "batch.swf", &format!("{GOOD_BATCH}2 10 0 60 1\n"));
    let err = validate_err(&s);
    assert!(err.contains("batch.swf:3:") && err.contains("18"), "{err}");
}

#[test]
fn a_non_numeric_count_names_file_and_line() {
    let d = temp_dir("bad-csv");
    let s = scenario_with(&d, "", "count = 4", "quantum = 0.5");
    write(&d, "web.csv", "timestamp,count\n0,10\n60,lots\n");
    let err = validate_err(&s);
    assert!(err.contains("web.csv:3:") && err.contains("\"lots\""), "{err}");
}

#[test]
fn a_missing_trace_names_the_path() {
    let d = temp_dir("bad-missing");
    let s = scenario_with(&d, "", "count = 4", "quantum = 0.5");
    std::fs::remove_file(d.join("batch.swf")).unwrap();
    let err = validate_err(&s);
    assert!(err.contains("batch.swf"), "{err}");
}

#[test]
fn bad_durations_and_windows_are_explained() {
    let d = temp_dir("bad-dur");
    let s = scenario_with(&d, "seed = 3\n", "count = 4", "quantum = 0.5");
    let text = std::fs::read_to_string(&s)
        .unwrap()
        .replace("period = \"1m\"", "period = \"1 fortnight\"");
    let e = Scenario::parse(&text, Path::new(&s)).unwrap_err().to_string();
    assert!(e.contains("key `period`") && e.contains("\"1 fortnight\""), "{e}");
    let text = std::fs::read_to_string(&s)
        .unwrap()
        .replace("peak_units = 2", "peak_units = 2\nstart = \"2030-01-01\"");
    let e = Scenario::parse(&text, Path::new(&s)).unwrap_err().to_string();
    assert!(e.contains("guest[0].start") && e.contains("2030-01-01"), "{e}");
}

#[test]
fn a_failed_run_leaves_earlier_results_untouched() {
    // A run into an output folder that exists keeps the old files until the
    // new ones are complete; a scenario that fails validation writes nothing.
    let d = temp_dir("bad-keep");
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.csv"), "old\n").unwrap();
    let s = scenario_with(&d, "", "count = 4\nmemory_mib = 0", "quantum = 0.5");
    let (ok, _, _) = slivers(&["run", &s, "--out", out.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(std::fs::read_to_string(out.join("summary.csv")).unwrap(), "old\n");
    assert!(
        std::fs::read_dir(&out)
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
    );
}

#[test]
fn nonsense_is_refused_before_the_run() {
    let d = temp_dir("bad-nonsense");
    // A batch load above 1: more processors busy than the cluster has.
    let out = d.join("b.swf");
    for load in ["5", "1.5", "0", "-0.5"] {
        let (ok, _, err) = slivers(&[
            "trace",
            "generate",
            "batch",
            "--days",
            "1",
            "--target-load",
            load,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok, "--target-load {load}");
        assert_eq!(
            err.trim(),
            format!(
                "error: target load: expected the mean fraction of processors busy, in (0, 1], found {load}"
            )
        );
        assert!(!out.exists());
    }
    // ... and in a scenario's generated batch trace.
    let s = scenario_with(&d, "", "count = 4", "quantum = 0.5");
    let text = std::fs::read_to_string(&s).unwrap().replace(
        "trace = \"batch.swf\"",
        "trace = { generate = \"batch\", nodes = 4, target_load = 2.0 }",
    );
    let e = Scenario::parse(&text, Path::new(&s)).unwrap_err().to_string();
    assert!(
        e.contains("key `guest[1].trace.target_load`: expected a number from 0 to 1, found 2"),
        "{e}"
    );
    // The same pair twice.
    let pair = "[[pairs]]\nprovisioning = \"migrating\"\nplacement = \"energy-aware\"\n";
    let other = "[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"energy-aware\"\n";
    let text = format!("{}\n{pair}{other}{pair}", std::fs::read_to_string(&s).unwrap());
    std::fs::write(&s, text).unwrap();
    assert_eq!(
        validate_err(&s).trim(),
        format!(
            "error: {s}: key `pairs[2]`: expected distinct pairs, found migrating/energy-aware again (pairs[0])"
        )
    );
    // A migration whose byte count does not fit in 64 bits.
    let (ok, out, err) = slivers(&[
        "migration",
        "estimate",
        "--memory-mib",
        "18446744073709551615",
        "--bandwidth-mbps",
        "1",
    ]);
    assert!(!ok, "{out}");
    assert!(!out.contains("18446744073709551615"), "{out}");
    assert!(
        err.starts_with("error: --memory-mib 18446744073709551615: the migration would send 1.934e25 bytes, more than a 64-bit count holds; expected a VM memory of at most about "),
        "{err}"
    );
}

#[test]
fn negative_numbers_say_what_is_expected() {
    let cases: [&[&str]; 4] = [
        &["run", "tests/golden/small/scenario.toml", "--seed", "-1"],
        &["trace", "generate", "web", "--out", "x.csv", "--days", "-1"],
        &[
            "migration",
            "estimate",
            "--bandwidth-mbps",
            "1",
            "--memory-mib",
            "-5",
        ],
        &["sweep", "scenarios/sweep-quantum.toml", "--jobs", "-2"],
    ];
    for args in cases {
        let (ok, _, err) = slivers(args);
        assert!(!ok);
        let (flag, value) = (args[args.len() - 2], args[args.len() - 1]);
        assert!(
            err.starts_with(&format!("error: invalid value '{value}' for '{flag} <")),
            "{err}"
        );
        assert!(
            err.contains("expected a non-negative integer (0 or more)"),
            "{err}"
        );
        assert!(!err.contains("unexpected argument"), "{err}");
    }
    // A fraction is read as a number and checked by what it means.
    let (ok, _, err) = slivers(&[
        "trace",
        "generate",
        "batch",
        "--target-load",
        "-0.5",
        "--out",
        "x.swf",
    ]);
    assert!(
        !ok && err.contains("target load: expected the mean fraction"),
        "{err}"
    );
    let (ok, _, err) = slivers(&["run", "tests/golden/small/scenario.toml", "--seed", "1x"]);
    assert!(
        !ok && err.contains("expected a whole number from 0 to 18446744073709551615"),
        "{err}"
    );
}

/// A 300-digit number, in a scenario file or on the command line, is not
/// echoed back whole: the message keeps its sentence, with the value cut.
#[test]
fn a_huge_number_is_cut_in_the_message() {
    let d = temp_dir("bad-huge");
    let digits = "9".repeat(300);
    let s = write(
        &d,
        "h.toml",
        &format!("name = \"h\"\n[hosts]\ncount = {digits}\n"),
    );
    let err = validate_err(&s);
    assert!(err.contains("h.toml") && err.contains("line 3"), "{err}");
    assert!(!err.contains(&digits) && err.contains("characters)"), "{err}");
    let (ok, _, err) = slivers(&["run", "scenarios/figure3.toml", "--seed", &digits]);
    assert!(!ok);
    assert!(err.contains("--seed") || err.contains("invalid value"), "{err}");
    assert!(
        !err.contains(&digits) && err.lines().all(|l| l.chars().count() < 200),
        "{err}"
    );
}
