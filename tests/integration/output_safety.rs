//! Output folders: one writer at a time, a run's files replaced as a set,
//! interrupted sweeps resumed to the same bytes, and the errors of each.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use slivers::report::ReportError;
use slivers::report::folder::OutputLock;

use crate::sweep::{sweep as succeed, sweep_file};
use crate::{golden_scenario_text, slivers, temp_dir};

/// A temporary folder holding the golden scenario, and an output folder in it.
fn run_setup(tag: &str) -> (crate::TempDir, String, std::path::PathBuf) {
    let d = temp_dir(tag);
    let s = scenario(&d, "");
    let out = d.join("out");
    (d, s, out)
}

fn scenario(dir: &Path, extra: &str) -> String {
    let p = dir.join("scenario.toml");
    std::fs::write(&p, format!("{extra}\n{}", golden_scenario_text())).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_folder_is_locked_once_and_a_dead_holders_lock_is_taken_over() {
    let d = temp_dir("lock");
    let out = d.join("out");
    let lock = OutputLock::acquire(&out).unwrap();
    let lock_file = d.join("out.lock");
    assert_eq!(
        std::fs::read_to_string(&lock_file).unwrap().trim(),
        std::process::id().to_string()
    );
    let err = OutputLock::acquire(&out).unwrap_err();
    assert!(matches!(err, ReportError::InUse { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("process {}", std::process::id())), "{msg}");
    assert!(msg.contains("out.lock"), "{msg}");

    // Another process is refused too, and names the holder.
    let s = scenario(&d, "");
    let (ok, _, err) = slivers(&["run", &s, "--out", out.to_str().unwrap(), "-q"]);
    assert!(!ok);
    assert!(err.contains("is in use by slivers process"), "{err}");
    assert!(!out.exists(), "the refused run wrote nothing");

    drop(lock);
    assert!(!lock_file.exists(), "the lock is removed on drop");
    drop(OutputLock::acquire(&out).unwrap());

    // A lock left by a killed process (a pid with no /proc entry) is stale.
    std::fs::write(&lock_file, "4294967\n").unwrap();
    let again = OutputLock::acquire(&out);
    if cfg!(target_os = "linux") {
        assert!(again.is_ok(), "{again:?}");
    } else {
        assert!(again.is_err());
    }
}

#[test]
fn a_run_replaces_its_folder_as_a_set_and_refuses_foreign_files() {
    let (d, s, out) = run_setup("set");
    let o = out.to_str().unwrap();
    succeed(&["run", &s, "--out", o, "-q"]);
    let first = std::fs::read(out.join("summary.csv")).unwrap();
    // A stale file of an earlier set is not kept beside the new set.
    std::fs::write(out.join("fidelity.png"), b"old").unwrap();
    succeed(&["run", &s, "--out", o, "-q"]);
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), first);
    assert_ne!(std::fs::read(out.join("fidelity.png")).unwrap(), b"old");
    // Nothing but the folder and no lock is left beside it.
    let left: Vec<_> = std::fs::read_dir(&*d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "out" && n != "scenario.toml")
        .collect();
    assert!(left.is_empty(), "left beside the folder: {left:?}");

    // A folder holding something a run does not write is refused, untouched.
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let (ok, _, err) = slivers(&["run", &s, "--out", o, "-q"]);
    assert!(!ok);
    assert!(err.contains("holds `notes.txt`"), "{err}");
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), first);
}

#[test]
fn a_rerun_that_reproduces_the_bytes_keeps_the_old_revision() {
    let (_d, s, out) = run_setup("same");
    let o = out.to_str().unwrap();
    assert!(slivers(&["run", &s, "--out", o, "-q"]).0);
    let m = out.join("manifest.toml");
    let text = std::fs::read_to_string(&m).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let rev = table["git_revision"].as_str().unwrap().to_string();
    std::fs::write(&m, text.replace(&rev, "0123456789ab")).unwrap();
    assert!(slivers(&["run", &s, "--out", o, "-q"]).0);
    let after = std::fs::read_to_string(&m).unwrap();
    assert!(after.contains("git_revision = \"0123456789ab\""), "{after}");
    // A different result is a new set, with this binary's revision.
    assert!(slivers(&["run", &s, "--out", o, "--seed", "7", "-q"]).0);
    let after = std::fs::read_to_string(&m).unwrap();
    assert!(after.contains(&format!("git_revision = \"{rev}\"")), "{after}");
}

#[test]
fn manifest_paths_are_toml_strings() {
    let d = temp_dir("toml-path");
    let odd = d.join("a \"quoted\" \\ dir");
    std::fs::create_dir_all(&odd).unwrap();
    let s = scenario(&odd, "");
    let out = d.join("out");
    assert!(slivers(&["run", &s, "--out", out.to_str().unwrap(), "-q"]).0);
    let m: slivers::report::outputs::RunManifest =
        toml::from_str(&std::fs::read_to_string(out.join("manifest.toml")).unwrap()).unwrap();
    assert_eq!(m.scenario, s);
}

#[test]
fn an_empty_output_path_is_an_error() {
    let d = temp_dir("empty-out");
    let s = scenario(&d, "output = \"\"");
    let (ok, _, err) = slivers(&["run", &s]);
    assert!(!ok);
    assert!(
        err.contains("key `output`: expected a folder path, found an empty string"),
        "{err}"
    );
    let s = scenario(&d, "");
    let (ok, _, err) = slivers(&["run", &s, "--out="]);
    assert!(!ok, "{err}");
    assert_eq!(
        OutputLock::acquire(Path::new("")).unwrap_err().to_string(),
        ReportError::EmptyOutput.to_string()
    );
}

#[test]
fn an_os_error_is_printed_once() {
    let (ok, _, err) = slivers(&["run", "/nonexistent/slivers.toml"]);
    assert!(!ok);
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    assert!(err.contains("/nonexistent/slivers.toml"), "{err}");
}

#[test]
fn a_fresh_sweep_refuses_another_sweeps_folder_unless_overwrite() {
    let d = temp_dir("sw-other");
    let f = sweep_file(&d, "");
    let other_dir = temp_dir("sw-other-2");
    let other = sweep_file(&other_dir, "# changed\n");
    let out = d.join("out");
    let o = out.to_str().unwrap();
    succeed(&["sweep", &f, "--out", o, "-q"]);
    let runs = std::fs::read(out.join("runs.csv")).unwrap();
    let (ok, _, err) = slivers(&["sweep", &other, "--out", o, "-q"]);
    assert!(!ok);
    assert!(
        err.contains("different sweep file") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("runs.csv")).unwrap(), runs, "untouched");
    // The same sweep file starts afresh without the flag.
    succeed(&["sweep", &f, "--out", o, "-q"]);
    succeed(&["sweep", &other, "--out", o, "-q", "--overwrite"]);
    // A run's folder is not a sweep's.
    let run_out = d.join("run");
    let s = scenario(&d, "");
    assert!(slivers(&["run", &s, "--out", run_out.to_str().unwrap(), "-q"]).0);
    let (ok, _, err) = slivers(&["sweep", &f, "--out", run_out.to_str().unwrap(), "-q"]);
    assert!(!ok);
    assert!(err.contains("not a sweep's"), "{err}");
}

/// `merge` into a folder holding another sweep's results refuses, as a
/// fresh sweep does, unless `--overwrite`; then no file of the other sweep
/// is left beside the new manifest.
#[test]
fn merge_refuses_another_sweeps_folder_unless_overwrite() {
    let d = temp_dir("merge-other");
    let f = sweep_file(&d, "");
    let parts: Vec<String> = (1..=2)
        .map(|i| {
            let p = d.join(format!("part{i}"));
            succeed(&[
                "sweep",
                &f,
                "--shard",
                &format!("{i}/2"),
                "--out",
                p.to_str().unwrap(),
                "-q",
            ]);
            p.to_str().unwrap().to_string()
        })
        .collect();
    // Another sweep file's finished results, with a figure of a key this
    // sweep does not have.
    let other_dir = temp_dir("merge-other-2");
    let other = sweep_file(&other_dir, "# changed\n");
    let out = d.join("out");
    let o = out.to_str().unwrap();
    succeed(&["sweep", &other, "--out", o, "-q"]);
    std::fs::write(out.join("total-vs-stale.svg"), "<svg/>").unwrap();
    std::fs::write(out.join("total-vs-stale.pdf"), "%PDF-").unwrap();
    let before = std::fs::read(out.join("manifest.toml")).unwrap();
    let merge = |extra: &[&str]| {
        let mut args = vec!["merge", &parts[0], &parts[1], "--out", o];
        args.extend(extra);
        slivers(&args)
    };
    let (ok, _, err) = merge(&[]);
    assert!(!ok);
    assert!(
        err.contains("different sweep file") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("manifest.toml")).unwrap(),
        before,
        "untouched"
    );
    assert!(out.join("total-vs-stale.svg").exists());
    let (ok, _, err) = merge(&["--overwrite"]);
    assert!(ok, "{err}");
    assert!(
        !out.join("total-vs-stale.svg").exists() && !out.join("total-vs-stale.pdf").exists(),
        "the other sweep's figure is left"
    );
    assert_eq!(
        std::fs::read(out.join("manifest.toml")).unwrap(),
        std::fs::read(Path::new(&parts[0]).join("manifest.toml")).unwrap(),
        "the merged sweep's manifest"
    );
    // Merging the same sweep again needs no flag.
    let (ok, _, err) = merge(&[]);
    assert!(ok, "{err}");
}

/// Clearing a folder for a fresh sweep removes its manifest last: a
/// folder whose clearing fails part-way keeps its old manifest.
#[test]
fn clearing_a_sweep_folder_removes_the_manifest_last() {
    let d = temp_dir("clear-order");
    let out = d.join("out");
    std::fs::create_dir_all(out.join("runs")).unwrap();
    std::fs::write(out.join("manifest.toml"), "sweep_sha256 = \"x\"\n").unwrap();
    std::fs::write(out.join("runs.csv"), "run\n").unwrap();
    // A figure that cannot be removed (a non-empty folder under its name).
    std::fs::create_dir_all(out.join("total-vs-x.png").join("keep")).unwrap();
    assert!(slivers::experiment::shard::clear_sweep_folder(&out).is_err());
    assert!(
        out.join("manifest.toml").exists(),
        "manifest removed before the other files"
    );
    std::fs::remove_dir_all(out.join("total-vs-x.png")).unwrap();
    slivers::experiment::shard::clear_sweep_folder(&out).unwrap();
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Kills `slivers sweep` with `signal` after `after`, then resumes it.
fn interrupted_then_resumed(f: &str, out: &Path, signal: &str, after: Duration) {
    let o = out.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slivers"))
        .args(["sweep", f, "--out", o, "-q", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    let _ = child.wait();
    // Only whole files: no CSV under its final name lacks its last newline.
    for dir in [out.to_path_buf(), out.join("runs")] {
        let Ok(names) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in names.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "csv") {
                let b = std::fs::read(&p).unwrap();
                assert!(b.ends_with(b"\n"), "{} is cut short", p.display());
            }
        }
    }
    let (ok, _, err) = slivers(&["sweep", f, "--out", o, "-q", "--resume"]);
    assert!(ok, "resume after {signal} at {after:?}: {err}");
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_bytes() {
    let d = temp_dir("sw-kill");
    let (f, whole) = (sweep_file(&d, ""), d.join("whole"));
    succeed(&["sweep", &f, "--out", whole.to_str().unwrap(), "-q"]);
    for (i, (signal, ms)) in [
        ("KILL", 30),
        ("TERM", 80),
        ("KILL", 150),
        ("TERM", 300),
        ("KILL", 600),
    ]
    .into_iter()
    .enumerate()
    {
        let out = d.join(format!("cut{i}"));
        interrupted_then_resumed(&f, &out, signal, Duration::from_millis(ms));
        let lock = d.join(format!("cut{i}.lock"));
        for file in [
            "runs.csv",
            "migrations.csv",
            "curves-point0.svg",
            "curves-point0.png",
        ] {
            assert!(
                std::fs::read(whole.join(file)).unwrap() == std::fs::read(out.join(file)).unwrap(),
                "{file} differs after {signal} at {ms} ms and --resume"
            );
        }
        assert!(!lock.exists(), "the resumed sweep released the lock");
    }
}

/// The results of a live run are replaced as a set beside its journal:
/// a controller killed at any moment of writing them (here SIGKILL while
/// the new set is being written, at several delays) leaves the whole old
/// set or the whole new set, the journal as it was, and a folder that
/// `--resume` completes.
#[test]
fn a_killed_live_write_leaves_the_old_set_or_the_new_set() {
    let (d, s, out) = run_setup("live-set");
    let live = |resume: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_slivers"));
        c.current_dir(crate::root())
            .args(["live", &s, "--executor", "dry-run", "-q", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if resume {
            c.arg("--resume");
        }
        c
    };
    assert!(live(false).status().unwrap().success());
    let kept = ["journal.jsonl", "commands.jsonl"];
    let read_set = || -> std::collections::BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .map(|n| (n.clone(), std::fs::read(out.join(&n)).unwrap()))
            .collect()
    };
    let new_set = read_set();
    assert!(new_set.contains_key("summary.csv") && new_set.contains_key("journal.jsonl"));
    // An older set: every result file says so; the journal stays.
    let old_set: std::collections::BTreeMap<String, Vec<u8>> = new_set
        .iter()
        .map(|(n, b)| match kept.contains(&n.as_str()) {
            true => (n.clone(), b.clone()),
            false => (n.clone(), format!("old {n}").into_bytes()),
        })
        .collect();
    let hidden = || {
        std::fs::read_dir(&*d)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".out."))
    };
    for i in 0..12u32 {
        for (n, b) in &old_set {
            std::fs::write(out.join(n), b).unwrap();
        }
        let mut child = live(true).spawn().unwrap();
        // Wait until the new set is being written (a hidden folder beside
        // the output, or a changed file in it) or the run ended, then from
        // 0 to 132 ms more: writing the figures takes tens of milliseconds.
        let t0 = std::time::Instant::now();
        while !(hidden() || read_set() != old_set)
            && child.try_wait().unwrap().is_none()
            && t0.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_micros(100));
        }
        std::thread::sleep(Duration::from_millis(12 * u64::from(i)));
        let _ = child.kill();
        child.wait().unwrap();
        let now = read_set();
        let mixed: Vec<&String> = now.keys().filter(|n| now.get(*n) != new_set.get(*n)).collect();
        assert!(
            now == old_set || now == new_set,
            "kill {i}: a mixed set; differing from the new set: {mixed:?}"
        );
    }
    // Whatever was left, --resume finishes it, with nothing left beside.
    assert!(live(true).status().unwrap().success());
    assert_eq!(read_set(), new_set);
    assert!(!hidden(), "no hidden folder left beside the output");
}
