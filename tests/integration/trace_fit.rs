//! Traces that do not fit the scenario are caught (issue 17): coverage of
//! the duration, gaps, empty windows, peaks against the cluster, the unit of
//! web demand, jobs that never started, binary files; and the errors of
//! untagged keys (issue 14). Every trace here is small and generated.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use slivers::scenario::Scenario;
use slivers::scenario::vmreq::VmScenario;

use crate::{slivers, temp_dir};

/// 2026-01-05 00:00:00 UTC.
const T0: i64 = 1_767_571_200;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// A per-`step` series of `n` points from T0, value `f(i)`; points for
/// which `f` gives `None` are left out of the file.
fn series(step: i64, n: i64, f: impl Fn(i64) -> Option<u64>) -> String {
    let mut s = "timestamp,count\n".to_string();
    for i in 0..n {
        if let Some(v) = f(i) {
            let _ = writeln!(s, "{},{v}", T0 + i * step);
        }
    }
    s
}

/// An SWF log: `(submit, wait, run, procs)` per job, times from T0.
fn swf(max_procs: u32, jobs: &[(i64, i64, i64, u32)]) -> String {
    let mut s = format!("; UnixStartTime: {T0}\n; MaxProcs: {max_procs}\n");
    for (i, (submit, wait, run, procs)) in jobs.iter().enumerate() {
        let _ = writeln!(
            s,
            "{} {submit} {wait} {run} {procs} -1 -1 {procs} {run} -1 1 1 1 -1 -1 -1 -1 -1",
            i + 1
        );
    }
    s
}

/// A scenario on 2 hosts of 2 units (4 units, 4 one-unit VMs) with one
/// guest given as TOML lines.
fn scenario(dir: &Path, top: &str, guest: &str) -> String {
    write(
        dir,
        "s.toml",
        &format!(
            "{top}\n[hosts]\ncount = 2\ncpu_millicores = 2000\nmemory_mib = 2048\n\
             [sliver]\nquantum = 0.5\n[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"follow-broker\"\n\
             [[guest]]\n{guest}\n"
        ),
    )
}

fn validate(path: &str) -> (bool, String, String) {
    let (ok, out, err) = slivers(&["validate", path]);
    assert!(!err.contains("panicked"), "{err}");
    (ok, out, err)
}

/// A web guest on `web.csv`, sized to 2 units at its peak unless `extra`
/// sizes it by `requests_per_unit`.
/// Validates `path`, which must fail with an error containing each of `wants`.
fn fails_with(path: &str, wants: &[&str]) -> String {
    let (ok, out, err) = validate(path);
    assert!(!ok, "expected an error, got: {out}");
    for w in wants {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
    err
}

fn web_guest(extra: &str) -> String {
    let sizing = if extra.contains("requests_per_unit") {
        ""
    } else {
        "peak_units = 2\n"
    };
    format!("kind = \"web\"\ntrace = \"web.csv\"\n{sizing}{extra}")
}

fn batch_guest(extra: &str) -> String {
    format!("kind = \"batch\"\ntrace = \"b.swf\"\n{extra}")
}

#[test]
fn a_batch_log_far_larger_than_the_cluster_is_an_error_unless_accepted() {
    let d = temp_dir("fit-big");
    // A 24-processor machine (6x the 4 VMs the cluster holds), its jobs
    // using all of it at once.
    let jobs: Vec<_> = (0..6).map(|i| (i * 600, 0, 7200, 4)).collect();
    write(&d, "b.swf", &swf(24, &jobs));
    let s = scenario(&d, "duration = \"3h\"", &batch_guest(""));
    let (ok, _, err) = validate(&s);
    assert!(!ok);
    assert!(
        err.contains("key `guest[0].trace`") && err.contains("MaxProcs 24") && err.contains("6.0×"),
        "{err}"
    );
    assert!(err.contains("accept = [\"peak\"]"), "{err}");

    let s = scenario(&d, "duration = \"3h\"", &batch_guest("accept = [\"peak\"]"));
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(
        out.contains("6 jobs") && out.contains("MaxProcs 24 = 24 VMs"),
        "{out}"
    );
    assert!(err.contains("warning:") && err.contains("accepted"), "{err}");
}

#[test]
fn a_batch_peak_over_the_cluster_but_under_the_threshold_is_a_warning() {
    let d = temp_dir("fit-warn-peak");
    // Six one-processor jobs at once: 6 VMs against 4 (1.5x).
    let jobs: Vec<_> = (0..6).map(|_| (0, 0, 3600, 1)).collect();
    write(&d, "b.swf", &swf(4, &jobs));
    let s = scenario(&d, "duration = \"2h\"", &batch_guest(""));
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(out.contains("peak 6 VMs at once"), "{out}");
    assert!(err.contains("warning:") && err.contains("1.5×"), "{err}");
}

#[test]
fn an_empty_batch_window_is_an_error_and_a_start_outside_names_the_span() {
    let d = temp_dir("fit-empty");
    // Jobs on day 0 and day 10; a window on day 3 is empty.
    write(&d, "b.swf", &swf(4, &[(0, 0, 60, 1), (10 * 86_400, 0, 60, 1)]));
    let s = scenario(&d, "duration = \"1d\"", &batch_guest("start = \"2026-01-08\""));
    fails_with(&s, &["no job arrives", "accept = [\"empty\"]"]);
    let s = scenario(
        &d,
        "duration = \"1d\"",
        &batch_guest("start = \"2026-01-08\"\naccept = [\"empty\"]"),
    );
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(out.contains("0 jobs"), "{out}");

    // Issue 14: a start after the trace is an error naming its span.
    let s = scenario(
        &d,
        "duration = \"1d\"",
        &batch_guest("start = \"2027-01-01\"\naccept = [\"empty\"]"),
    );
    let (ok, _, err) = validate(&s);
    assert!(!ok);
    assert!(
        err.contains("key `guest[0].start`")
            && err.contains("2026-01-05 00:00:00 to 2026-01-15 00:00:00")
            && err.contains("found 2027-01-01 00:00:00"),
        "{err}"
    );
}

#[test]
fn a_web_trace_covering_a_week_of_a_month_is_an_error_and_gaps_are_warned() {
    let d = temp_dir("fit-cover");
    write(&d, "web.csv", &series(3600, 7 * 24, |_| Some(100)));
    let s = scenario(&d, "duration = \"30d\"", &web_guest(""));
    fails_with(&s, &["guest[0].trace", "23.3 % (7.0 days of 30.0 days)"]);
    let s = scenario(&d, "duration = \"30d\"", &web_guest("accept = [\"coverage\"]"));
    let (ok, _, err) = validate(&s);
    assert!(ok && err.contains("warning:") && err.contains("23.3 %"), "{err}");

    // 20 of 30 days: a warning only.
    write(&d, "web.csv", &series(3600, 20 * 24, |_| Some(100)));
    let s = scenario(&d, "duration = \"30d\"", &web_guest(""));
    let (ok, _, err) = validate(&s);
    assert!(ok && err.contains("66.7 %"), "{err}");

    // A full day with ten minutes missing in one run: covered, one gap.
    write(
        &d,
        "web.csv",
        &series(60, 1440, |i| (!(600..610).contains(&i)).then_some(100)),
    );
    let s = scenario(&d, "duration = \"1d\"", &web_guest(""));
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(out.contains("10 missing points, 1 gaps over 5 steps"), "{out}");
    assert!(
        err.contains("1 gaps of more than 5 steps")
            && err.contains("longest 10 steps of 60 s from 2026-01-05 10:00:00"),
        "{err}"
    );
}

/// summary.csv of `slivers run` on `scenario`.
fn run_summary(scenario: &str, out: &Path) -> (String, String, String) {
    let (ok, stdout, err) = slivers(&["run", scenario, "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    (
        std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        stdout,
        err,
    )
}

#[test]
fn per_second_per_minute_and_per_five_minute_traces_give_the_same_run() {
    let d = temp_dir("fit-unit");
    // Demand in requests per minute, constant over 5-minute blocks.
    let per_min = |m: i64| 600 + 60 * ((m / 5) % 7) as u64 * 10;
    let guest = web_guest("requests_per_unit = 1000\nheadroom = 0.0");
    let top = "duration = \"6h\"\nperiod = \"15m\"";
    let mut summaries = Vec::new();
    for (tag, text) in [
        ("minute", series(60, 360, |m| Some(per_min(m)))),
        ("second", series(1, 360 * 60, |s| Some(per_min(s / 60) / 60))),
        ("five", series(300, 72, |b| Some(per_min(b * 5) * 5))),
    ] {
        let dir = d.join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "web.csv", &text);
        let s = scenario(&dir, top, &guest);
        summaries.push(run_summary(&s, &dir.join("out")).0);
    }
    assert!(summaries[0].lines().count() == 2, "{}", summaries[0]);
    assert_eq!(summaries[0], summaries[1], "per-second differs from per-minute");
    assert_eq!(summaries[0], summaries[2], "per-5-minute differs from per-minute");
    // And the demand is per minute: the busiest minute has 4,200 requests
    // (not 70 a second), 4.2 units of 1,000 requests a minute.
    let sc = Scenario::load(&d.join("second/s.toml")).unwrap();
    let report = &sc.fit[0].report;
    assert!(report.contains("peak 4200 requests/minute, 4 units"), "{report}");
}

#[test]
fn jobs_that_never_started_and_jobs_too_large_are_shown_and_warned() {
    let d = temp_dir("fit-unstarted");
    // Four jobs each needing the whole cluster for 5 h, arriving together,
    // and one needing twice the cluster: in 3 h one starts, three never do.
    let mut jobs: Vec<_> = (0..4).map(|_| (0, 0, 5 * 3600, 4)).collect();
    jobs.push((60, 0, 600, 8));
    write(&d, "b.swf", &swf(4, &jobs));
    let s = scenario(&d, "duration = \"3h\"", &batch_guest("accept = [\"peak\"]"));
    let (summary, stdout, err) = run_summary(&s, &d.join("out"));
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (col("jobs_arrived"), col("jobs_started"), col("jobs_too_large")),
        ("4", "1", "1")
    );
    let head = stdout.lines().next().unwrap();
    assert!(
        head.contains("unstarted") && head.contains("too_large"),
        "{stdout}"
    );
    let line = stdout.lines().nth(1).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cells[cells.len() - 2..], ["3", "1"], "{stdout}");
    assert!(
        err.contains(
            "warning: room-for-growth/follow-broker: 3 of 5 batch jobs never started and 1 were dropped"
        ),
        "{err}"
    );
    // --quiet hides the table, never the warnings.
    let (ok, stdout, err) = slivers(&["run", &s, "--quiet", "--out", d.join("q").to_str().unwrap()]);
    assert!(ok && stdout.is_empty(), "{stdout}");
    assert!(err.contains("never started") && err.contains("accepted"), "{err}");
}

/// A generic VM-request trace: ten VMs, one an hour from `t0` (seconds),
/// each living 30 minutes.
fn vm_trace(t0: i64) -> String {
    let mut trace = "vm_id,start_s,end_s,cpu,memory\n".to_string();
    for i in 0..10 {
        let _ = writeln!(trace, "{i},{},{},1,1", t0 + i * 3600, t0 + i * 3600 + 1800);
    }
    trace
}

/// A 5-hour VM-request scenario on `file` from `start` (TOML text).
fn vm_scenario(dir: &Path, file: &str, start: &str) -> String {
    write(
        dir,
        "v.toml",
        &format!("duration = \"5h\"\n[vm_requests]\ntrace = \"{file}\"\nstart = {start}\n"),
    )
}

#[test]
fn vm_requests_start_accepts_a_date_like_a_guest_start() {
    let d = temp_dir("fit-vmstart");
    write(&d, "vms.csv", &vm_trace(0));
    let load = |start: &str| VmScenario::load(Path::new(&vm_scenario(&d, "vms.csv", start)));
    let by_offset = load("\"2h\"").unwrap();
    let by_date = load("\"1970-01-01 02:00:00\"").unwrap();
    assert_eq!(by_offset.start, by_date.start);
    assert_eq!(by_offset.source, by_date.source);
    let by_day = load("\"1970-01-01\"").unwrap();
    assert_eq!(by_day.start, slivers::engine::SimTime::ZERO);
    let err = load("\"1970-13-01\"").unwrap_err().to_string();
    assert!(
        err.contains("vm_requests.start") && err.contains("UTC date-time") && err.contains("1970-13-01"),
        "{err}"
    );
}

/// A tar archive holding one file, as `tar` writes it (header only).
fn tar_bytes() -> Vec<u8> {
    let mut h = vec![0u8; 1024];
    h[..7].copy_from_slice(b"web.csv");
    h[100..107].copy_from_slice(b"0000644");
    h[257..263].copy_from_slice(b"ustar\0");
    h
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn binary_and_compressed_files_are_named_not_pasted() {
    let d = temp_dir("fit-binary");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("web.csv", tar_bytes(), "found a tar archive"),
        (
            "web.csv",
            b"BZh91AY&SY\x01\x02\x03".to_vec(),
            "found a bzip2 archive",
        ),
        (
            "web.csv",
            gzip(&tar_bytes()),
            "found a tar archive inside a gzip archive",
        ),
        ("web.csv", b"PK\x03\x04\x14\0\0\0".to_vec(), "found a zip archive"),
        ("web.csv", b"\xfd7zXZ\0\0\x04".to_vec(), "found an xz archive"),
    ];
    for (name, bytes, want) in cases {
        std::fs::write(d.join(name), &bytes).unwrap();
        let s = scenario(&d, "duration = \"1h\"", &web_guest(""));
        let (ok, _, err) = validate(&s);
        assert!(!ok);
        assert!(err.contains(want) && err.contains("web.csv"), "{want}: {err}");
        assert!(!err.contains("ustar") && !err.contains('\0'), "raw bytes: {err}");
    }
    // The SWF reader says the same.
    std::fs::write(d.join("b.swf"), gzip(&tar_bytes())).unwrap();
    let s = scenario(&d, "duration = \"1h\"", &batch_guest(""));
    let (ok, _, err) = validate(&s);
    assert!(
        !ok && err.contains("expected an SWF job log") && err.contains("a tar archive inside a gzip archive"),
        "{err}"
    );
    // A gzip-compressed series is read as the series itself.
    std::fs::write(d.join("web.csv"), gzip(series(60, 60, |_| Some(5)).as_bytes())).unwrap();
    let s = scenario(&d, "duration = \"1h\"", &web_guest(""));
    let (ok, _, err) = validate(&s);
    assert!(ok, "{err}");
}

#[test]
fn untagged_keys_name_the_key_the_forms_and_what_was_found() {
    let d = temp_dir("fit-untagged");
    write(&d, "web.csv", &series(60, 60, |_| Some(5)));
    let cases = [
        (
            "duration = 1.5",
            web_guest(""),
            "key `duration`",
            "\"30d\"",
            "the float 1.5",
        ),
        (
            "duration = [1]",
            web_guest(""),
            "key `duration`",
            "\"1h\"",
            "an array of 1 values",
        ),
        (
            "duration = \"1h\"",
            web_guest("").replace("\"web.csv\"", "5"),
            "key `guest[0].trace`",
            "a trace path (a string) or a generator table",
            "the integer 5",
        ),
        (
            "duration = \"1h\"",
            web_guest("").replace("\"web.csv\"", "{ generate = \"web\", base_rte = 5 }"),
            "key `guest[0].trace`",
            "{ generate = \"web\", ... }",
            "unknown field `base_rte`",
        ),
        (
            "duration = \"1h\"",
            web_guest("").replace("\"web.csv\"", "{ file = \"web.csv\" }"),
            "key `guest[0].trace`",
            "a trace path",
            "a table with keys file",
        ),
        (
            "duration = \"1h\"\n[migration]\nswitchover = true",
            web_guest(""),
            "key `migration.switchover`",
            "a duration",
            "the boolean true",
        ),
    ];
    for (top, guest, key, forms, found) in cases {
        let s = scenario(&d, top, &guest);
        let (ok, _, err) = validate(&s);
        assert!(!ok);
        assert!(!err.contains("did not match any variant"), "{err}");
        assert!(
            err.contains(key) && err.contains(forms) && err.contains(found),
            "{key}: {err}"
        );
    }
    let s = write(
        &d,
        "v.toml",
        "duration = \"1h\"\n[vm_requests]\ntrace = { generate = \"vm-requests\", vmz = 3 }\n",
    );
    let (ok, _, err) = validate(&s);
    assert!(
        !ok && err.contains("key `vm_requests.trace`") && err.contains("unknown field `vmz`"),
        "{err}"
    );
    assert!(!err.contains("did not match any variant"), "{err}");
}

#[test]
fn missing_points_are_counted_inside_the_window_only() {
    let d = temp_dir("fit-missing");
    // Two days per minute; ten minutes missing at 10:00 on day 0 and five
    // more straddling midnight (23:58 .. 00:02).
    let missing = |i: i64| (600..610).contains(&i) || (1438..1443).contains(&i);
    write(&d, "web.csv", &series(60, 2880, |i| (!missing(i)).then_some(100)));
    let report = |start: &str| {
        let s = scenario(
            &d,
            "duration = \"12h\"",
            &web_guest(&format!("start = \"{start}\"")),
        );
        let (ok, out, err) = validate(&s);
        assert!(ok, "{err}");
        out
    };
    let day0 = report("2026-01-05");
    assert!(day0.contains("10 missing points, 1 gaps over 5 steps"), "{day0}");
    let day1 = report("2026-01-06 12:00:00");
    assert!(day1.contains("0 missing points, 0 gaps over 5 steps"), "{day1}");
    assert!(day1.contains("covered 100.0 %"), "{day1}");
    // The gap over midnight: its 3 points after midnight are in the window.
    let midnight = report("2026-01-06");
    assert!(midnight.contains(" 3 missing points, 0 gaps"), "{midnight}");
}

#[test]
fn a_batch_log_spanning_part_of_the_window_is_a_warning() {
    let d = temp_dir("fit-batch-cover");
    // Jobs over the first 3 days of a 10-day window: a log's quiet stretch
    // is part of its workload, so only a warning (a web trace would fail).
    let jobs: Vec<_> = (0..4).map(|i| (i * 86_400, 0, 3600, 1)).collect();
    write(&d, "b.swf", &swf(4, &jobs));
    let s = scenario(&d, "duration = \"10d\"", &batch_guest(""));
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(out.contains("4 jobs"), "{out}");
    assert!(
        err.contains("warning:") && err.contains("the trace's jobs span 30.4 % (3.0 days of 10.0 days)"),
        "{err}"
    );
}

#[test]
fn a_vm_requests_window_with_no_vm_is_an_error_naming_the_trace_times() {
    let d = temp_dir("fit-vmempty");
    // Times from 0 (as in the Huawei trace), and unix times from 2020-01-01.
    for (file, t0) in [("rel.csv", 0), ("unix.csv", 1_577_836_800)] {
        write(&d, file, &vm_trace(t0));
    }
    let validate_vm = |file: &str, start: &str| validate(&vm_scenario(&d, file, start));
    // A date on a trace timed from 0.
    let (ok, _, err) = validate_vm("rel.csv", "\"2020-01-01\"");
    assert!(!ok, "a window with no VM ran");
    assert!(
        err.contains("key `vm_requests.start`")
            && err.contains("created from 0 s to 32400 s")
            && err.contains("found 1577836800 s (2020-01-01 00:00:00)"),
        "{err}"
    );
    // An offset on a trace in unix seconds: the error gives the dates.
    let (ok, _, err) = validate_vm("unix.csv", "\"1h\"");
    assert!(!ok);
    assert!(
        err.contains("as dates, 2020-01-01 00:00:00 to 2020-01-01 09:00:00"),
        "{err}"
    );
    let (ok, out, err) = validate_vm("unix.csv", "\"2020-01-01 02:00:00\"");
    assert!(ok && out.contains("5 VMs"), "{out}{err}");
}

#[test]
fn start_accepts_unquoted_toml_dates_for_guests_and_vm_requests() {
    let d = temp_dir("fit-unquoted");
    write(&d, "web.csv", &series(60, 2880, |_| Some(100)));
    let window = |start: &str| {
        let s = scenario(&d, "duration = \"1d\"", &web_guest(&format!("start = {start}")));
        let (ok, out, err) = validate(&s);
        assert!(ok, "{start}: {err}");
        out.lines().nth(1).unwrap().to_string()
    };
    let quoted = window("\"2026-01-06\"");
    assert!(quoted.contains("window 2026-01-06 00:00:00"), "{quoted}");
    assert_eq!(window("2026-01-06"), quoted);
    assert_eq!(window("2026-01-06T00:00:00Z"), quoted);
    assert_eq!(window("2026-01-06T00:00:00"), quoted);
    // Not UTC, or not a date-time: the error names the key and the forms.
    for (start, found) in [
        (
            "2026-01-06T00:00:00+02:00",
            "the TOML date-time 2026-01-06T00:00:00+02:00",
        ),
        ("5", "the integer 5"),
        ("\"2h\"", "\"2h\""),
    ] {
        let s = scenario(&d, "duration = \"1d\"", &web_guest(&format!("start = {start}")));
        fails_with(&s, &["key `guest[0].start`", "a UTC date-time", found]);
    }

    write(&d, "vms.csv", &vm_trace(0));
    let load = |start: &str| VmScenario::load(Path::new(&vm_scenario(&d, "vms.csv", start)));
    let by_offset = load("\"2h\"").unwrap();
    for start in [
        "1970-01-01T02:00:00Z",
        "1970-01-01T02:00:00",
        "\"1970-01-01T02:00:00Z\"",
    ] {
        let v = load(start).unwrap();
        assert_eq!(
            (v.start, &v.source),
            (by_offset.start, &by_offset.source),
            "{start}"
        );
    }
    let err = load("1970-01-01T02:00:00+01:00").unwrap_err().to_string();
    assert!(
        err.contains("key `vm_requests.start`")
            && err.contains("the TOML date-time 1970-01-01T02:00:00+01:00"),
        "{err}"
    );
}

#[test]
fn generated_traces_are_checked_for_their_window_and_peak() {
    let d = temp_dir("fit-generated");
    let web =
        |extra: &str| format!("kind = \"web\"\ntrace = {{ generate = \"web\", base_rate = 2000 }}\n{extra}");
    let batch =
        |extra: &str| format!("kind = \"batch\"\ntrace = {{ generate = \"batch\", nodes = 4 }}\n{extra}");
    // A start copied from another scenario: the window misses the
    // generated trace (2026-01-05 + 2 days) and would run on no demand.
    for guest in [web("start = \"1998-05-01\""), batch("start = \"1998-05-01\"")] {
        let s = scenario(&d, "duration = \"2d\"", &guest);
        fails_with(
            &s,
            &[
                "key `guest[0].start`",
                "covers 2026-01-05 00:00:00 .. 2026-01-07 00:00:00",
                "found 1998-05-01 00:00:00",
            ],
        );
    }
    // Half the window past the generated trace: "covered" no longer claimed.
    let s = scenario(&d, "duration = \"2d\"", &batch("start = \"2026-01-06\""));
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(out.contains("covered 50.0 % (24.0 h of 2.0 days)"), "{out}");
    assert!(err.contains("the generated trace covers 50.0 %"), "{err}");
    // Sized by requests_per_unit, a generated web trace's peak is checked
    // (drawn with the scenario's seed) against the cluster's 4 units.
    let s = scenario(&d, "duration = \"2d\"", &web("requests_per_unit = 100"));
    let err = fails_with(
        &s,
        &[
            "key `guest[0].trace`",
            "the window's peak demand",
            "accept = [\"peak\"]",
        ],
    );
    assert!(err.contains("the 4 units the cluster holds"), "{err}");
    let s = scenario(&d, "duration = \"2d\"", &web("requests_per_unit = 100000"));
    let (ok, out, err) = validate(&s);
    assert!(ok, "{err}");
    assert!(out.contains("requests/minute (drawn with seed 1)"), "{out}");
}

#[test]
fn a_binary_file_given_as_the_scenario_is_named_not_pasted() {
    let d = temp_dir("fit-binary-scenario");
    let mut tar = tar_bytes();
    tar.extend_from_slice(b"period,count\n");
    for (name, bytes, want) in [
        ("s.tar", tar.clone(), "found a tar archive"),
        ("s.tar.gz", gzip(&tar), "found a gzip archive"),
        (
            "s.toml",
            b"name = \"caf\xe9\"\n".to_vec(),
            "found a byte that is not UTF-8 on line 1",
        ),
    ] {
        let path = d.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let p = path.to_str().unwrap();
        for cmd in [&["validate", p][..], &["run", p], &["sweep", p, "--list"]] {
            let (ok, _, err) = slivers(cmd);
            assert!(!ok, "{cmd:?}");
            assert!(
                err.contains(name)
                    && err.contains("expected a TOML scenario (UTF-8 text)")
                    && err.contains(want),
                "{cmd:?}: {err}"
            );
            assert!(
                !err.contains("ustar") && !err.contains('\0') && !err.contains('\u{fffd}'),
                "raw bytes: {err}"
            );
        }
    }
}

#[test]
fn accept_takes_a_list_or_one_name_and_errors_name_the_key() {
    let d = temp_dir("fit-accept");
    write(&d, "web.csv", &series(3600, 24, |_| Some(100)));
    // One day of a 10-day window: a coverage error unless accepted.
    for accept in ["[\"coverage\"]", "\"coverage\"", "[\"peak\", \"coverage\"]"] {
        let s = scenario(
            &d,
            "duration = \"10d\"",
            &web_guest(&format!("accept = {accept}")),
        );
        let (ok, _, err) = validate(&s);
        assert!(ok && err.contains("accepted"), "{accept}: {err}");
    }
    for (accept, found) in [
        ("[\"peaks\"]", "found \"peaks\""),
        ("\"peaks\"", "found \"peaks\""),
        ("[1]", "found the integer 1"),
        ("{ a = 1 }", "found a table with keys a"),
    ] {
        let s = scenario(
            &d,
            "duration = \"10d\"",
            &web_guest(&format!("accept = {accept}")),
        );
        fails_with(
            &s,
            &[
                "key `guest[0].accept`",
                "\"coverage\", \"peak\", \"empty\"",
                found,
            ],
        );
    }
}
