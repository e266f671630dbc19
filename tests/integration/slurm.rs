//! `slivers sweep --slurm` against fake `sbatch` and `squeue` scripts (and,
//! with `SLIVERS_REAL_SLURM=1`, against a real Slurm cluster).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::{golden_scenario_text, slivers_env, temp_dir};

/// A fake `sbatch --parsable SCRIPT`: reads `--array` and `--output` from the
/// script's `#SBATCH` lines, runs the script once per task (in order, with
/// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_JOB_ID set) writing each log where
/// `--output` says, except the tasks listed in `FAKE_SLURM_FAIL` (e.g. "2,3"),
/// which only log an error. Job ids count up from 101; every call is
/// recorded in `sbatch.calls` beside the script.
const FAKE_SBATCH: &str = r#"#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/sbatch.calls"
[ "$1" = --parsable ] || { echo "fake sbatch: expected --parsable, got $1" >&2; exit 2; }
script=$2
job=$(($(cat "$here/sbatch.job" 2>/dev/null || echo 100) + 1))
echo "$job" > "$here/sbatch.job"
array=$(sed -n 's/^#SBATCH --array=//p' "$script")
output=$(sed -n 's/^#SBATCH --output=//p' "$script")
for part in $(echo "$array" | tr ',' ' '); do
    case $part in
        *-*) lo=${part%-*}; hi=${part#*-} ;;
        *) lo=$part; hi=$part ;;
    esac
    i=$lo
    while [ "$i" -le "$hi" ]; do
        log=$(echo "$output" | sed -e "s/%A/$job/g" -e "s/%a/$i/g")
        case ",$FAKE_SLURM_FAIL," in
            *",$i,"*) echo "error: fake node failure in task $i" > "$log" ;;
            *) SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=$job sh "$script" > "$log" 2>&1 ;;
        esac
        i=$((i + 1))
    done
done
echo "$job;fakecluster"
"#;

/// A fake `squeue`: the job has always finished.
const FAKE_SQUEUE: &str = "#!/bin/sh\nexit 0\n";

struct Fake {
    bin: PathBuf,
}

impl Fake {
    /// Writes the fake commands into `dir/bin`.
    fn new(dir: &Path) -> Fake {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in [("sbatch", FAKE_SBATCH), ("squeue", FAKE_SQUEUE)] {
            write_exe(&bin.join(name), text);
        }
        Fake { bin }
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.join("sbatch.calls"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The golden scenario with absolute trace paths, swept over 2 host counts
/// with 2 replicates: 2 x 2 x 4 pairs = 16 runs.
fn sweep_file(dir: &Path) -> String {
    let text = golden_scenario_text();
    let p = dir.join("tiny.toml");
    std::fs::write(
        &p,
        format!("{text}\n[sweep]\nreplicates = 2\n\"hosts.count\" = [2, 3]\n"),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

/// Runs slivers with the fake Slurm commands and `extra` environment.
fn with_fake(fake: &Fake, args: &[&str], extra: &[(&str, &str)]) -> (bool, String, String) {
    let (sbatch, squeue) = (fake.bin.join("sbatch"), fake.bin.join("squeue"));
    let mut env = vec![
        ("SLIVERS_SBATCH", sbatch.to_str().unwrap()),
        ("SLIVERS_SQUEUE", squeue.to_str().unwrap()),
        ("SLIVERS_SLURM_POLL_MS", "10"),
    ];
    env.extend_from_slice(extra);
    slivers_env(args, &env)
}

/// `runs.csv` of a plain (local, unsharded) sweep of `file`.
fn plain_runs(file: &str, dir: &Path) -> Vec<u8> {
    let out = dir.join("plain");
    let (ok, _, err) = slivers_env(&["sweep", file, "--out", out.to_str().unwrap(), "-q"], &[]);
    assert!(ok, "{err}");
    std::fs::read(out.join("runs.csv")).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn array_line(script: &Path) -> String {
    read(script)
        .lines()
        .find(|l| l.starts_with("#SBATCH --array="))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn dry_run_writes_the_script_and_submits_nothing() {
    let d = temp_dir("slurm-dry");
    let fake = Fake::new(&d);
    let f = sweep_file(&d);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let (ok, stdout, err) = with_fake(
        &fake,
        &[
            "sweep",
            &f,
            "--slurm",
            "--dry-run",
            "--out",
            o,
            "--shards",
            "4",
            "--cpus-per-task",
            "2",
            "--partition",
            "short",
            "--time",
            "0:10:00",
            "--sbatch-arg=--mem=1G",
            "--sbatch-arg",
            "--account=sims",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        fake.calls().is_empty(),
        "dry run called sbatch: {:?}",
        fake.calls()
    );
    let script = out.join("slurm/small.sbatch");
    let sbatch = fake.bin.join("sbatch");
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("{} --parsable {}", sbatch.display(), script.display())),
        "{stdout}"
    );
    let text = read(&script);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#!/bin/sh");
    for want in [
        "#SBATCH --job-name=slivers-small".to_string(),
        "#SBATCH --array=1-4".into(),
        format!("#SBATCH --output={o}/slurm/logs/%A_%a.out"),
        "#SBATCH --cpus-per-task=2".into(),
        "#SBATCH --partition=short".into(),
        "#SBATCH --time=0:10:00".into(),
        "#SBATCH --mem=1G".into(),
        "#SBATCH --account=sims".into(),
    ] {
        assert!(lines.contains(&want.as_str()), "no line {want:?} in\n{text}");
    }
    let exec = lines
        .iter()
        .find(|l| l.starts_with("exec "))
        .expect("an exec line");
    assert_eq!(
        *exec,
        format!(
            "exec {} sweep {f} --shard \"$SLURM_ARRAY_TASK_ID\"/4 --out {o} --jobs 2 --quiet --resume",
            env!("CARGO_BIN_EXE_slivers")
        )
    );
    // Nothing ran and nothing was cleared.
    assert!(!out.join("runs").exists() && !out.join("shards").exists());
    assert!(
        out.join("slurm/logs").is_dir(),
        "the log folder must exist before submission"
    );
}

#[test]
fn a_run_cap_other_than_the_default_is_passed_to_the_array_tasks() {
    let d = temp_dir("slurm-cap");
    let fake = Fake::new(&d);
    let f = sweep_file(&d);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let args = ["sweep", &f, "--slurm", "--dry-run", "--out", o, "--shards", "2"];
    let (ok, _, err) = with_fake(&fake, &[&args[..], &["--max-runs", "1000"]].concat(), &[]);
    assert!(ok, "{err}");
    let exec = |text: String| text.lines().find(|l| l.starts_with("exec ")).unwrap().to_string();
    let script = out.join("slurm/small.sbatch");
    assert!(
        exec(read(&script)).ends_with(" --quiet --resume --max-runs 1000"),
        "{}",
        read(&script)
    );
    let (ok, _, err) = with_fake(&fake, &args, &[]);
    assert!(ok, "{err}");
    assert!(
        exec(read(&script)).ends_with(" --quiet --resume"),
        "{}",
        read(&script)
    );
}

#[test]
fn slurm_run_merges_into_the_same_bytes_as_a_plain_sweep() {
    let d = temp_dir("slurm-full");
    let fake = Fake::new(&d);
    let f = sweep_file(&d);
    let out = d.join("out");
    let (ok, stdout, err) = with_fake(
        &fake,
        &["sweep", &f, "--slurm", "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(fake.calls().len(), 1);
    assert!(
        stdout.contains("submitted Slurm job 101: 16 of 16 shards"),
        "{stdout}"
    );
    // 16 runs: min(16, runs) shards by default.
    assert_eq!(
        array_line(&out.join("slurm/small.sbatch")),
        "#SBATCH --array=1-16"
    );
    for i in 1..=16 {
        assert!(out.join(format!("shards/{i}-of-16.toml")).is_file(), "shard {i}");
        assert!(out.join(format!("slurm/logs/101_{i}.out")).is_file(), "log {i}");
    }
    assert!(
        std::fs::read(out.join("runs.csv")).unwrap() == plain_runs(&f, &d),
        "runs.csv differs"
    );
}

#[test]
fn a_failed_task_is_named_with_its_log_and_resume_resubmits_only_it() {
    let d = temp_dir("slurm-fail");
    let fake = Fake::new(&d);
    let f = sweep_file(&d);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let (ok, _, err) = with_fake(
        &fake,
        &["sweep", &f, "--slurm", "--out", o, "--shards", "4"],
        &[("FAKE_SLURM_FAIL", "2")],
    );
    assert!(!ok, "a failed task must fail the command");
    let log = format!("{o}/slurm/logs/101_2.out");
    assert!(err.contains(&format!("task 2 (shard 2/4): log {log}")), "{err}");
    assert!(
        err.contains("error: fake node failure in task 2"),
        "the log's last line: {err}"
    );
    assert!(!err.contains("task 1 ") && !err.contains("task 3 "), "{err}");
    assert!(err.contains("--slurm --resume"), "{err}");
    assert!(
        !out.join("runs.csv").exists(),
        "nothing is merged when a shard is missing"
    );

    let (ok, stdout, err) = with_fake(&fake, &["sweep", &f, "--slurm", "--resume", "--out", o], &[]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("submitted Slurm job 102: 1 of 4 shards"),
        "{stdout}"
    );
    assert_eq!(array_line(&out.join("slurm/small.sbatch")), "#SBATCH --array=2");
    assert!(out.join("slurm/logs/102_2.out").is_file());
    assert!(!out.join("slurm/logs/102_1.out").exists());
    assert!(
        std::fs::read(out.join("runs.csv")).unwrap() == plain_runs(&f, &d),
        "runs.csv differs"
    );

    // Nothing left to do: resume only merges.
    let (ok, stdout, err) = with_fake(&fake, &["sweep", &f, "--slurm", "--resume", "--out", o], &[]);
    assert!(ok, "{err}");
    assert!(stdout.contains("all 4 shards had finished"), "{stdout}");
    assert_eq!(fake.calls().len(), 2);
}

#[test]
fn resume_lists_every_missing_shard() {
    let d = temp_dir("slurm-fail2");
    let fake = Fake::new(&d);
    let f = sweep_file(&d);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let (ok, _, err) = with_fake(
        &fake,
        &["sweep", &f, "--slurm", "--out", o, "--shards", "8"],
        &[("FAKE_SLURM_FAIL", "3,7")],
    );
    assert!(!ok);
    assert!(
        err.contains("2 of 8 array tasks of Slurm job 101 did not finish"),
        "{err}"
    );
    assert!(
        err.contains("--shards 8"),
        "the resume hint keeps the split: {err}"
    );
    let (ok, _, err) = with_fake(
        &fake,
        &["sweep", &f, "--slurm", "--resume", "--out", o, "--shards", "8"],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(array_line(&out.join("slurm/small.sbatch")), "#SBATCH --array=3,7");
    assert!(std::fs::read(out.join("runs.csv")).unwrap() == plain_runs(&f, &d));
}

#[test]
fn sbatch_problems_are_clear_errors() {
    let d = temp_dir("slurm-errors");
    let fake = Fake::new(&d);
    let f = sweep_file(&d);
    let o = d.join("out");
    let o = o.to_str().unwrap();
    let args = ["sweep", &f, "--slurm", "--out", o];

    let (ok, _, err) = with_fake(&fake, &args, &[("SLIVERS_SBATCH", "/nonexistent/sbatch")]);
    assert!(!ok);
    assert!(
        err.contains("not found: is Slurm installed? use --dry-run to only write the script"),
        "{err}"
    );

    let failing = d.join("bin/sbatch-fails");
    write_exe(
        &failing,
        "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n",
    );
    let (ok, _, err) = with_fake(&fake, &args, &[("SLIVERS_SBATCH", failing.to_str().unwrap())]);
    assert!(!ok);
    assert!(err.contains("invalid partition specified: nope"), "{err}");

    let chatty = d.join("bin/sbatch-chatty");
    write_exe(&chatty, "#!/bin/sh\necho 'Submitted batch job 7'\n");
    let (ok, _, err) = with_fake(&fake, &args, &[("SLIVERS_SBATCH", chatty.to_str().unwrap())]);
    assert!(!ok);
    assert!(
        err.contains("cannot read a job id") && err.contains("Submitted batch job 7"),
        "{err}"
    );

    let (ok, _, err) = with_fake(&fake, &["sweep", &f, "--slurm", "--shard", "1/2"], &[]);
    assert!(!ok && err.contains("--shard"), "{err}");
    let (ok, _, err) = with_fake(&fake, &["sweep", &f, "--shards", "2"], &[]);
    assert!(!ok && err.contains("--slurm"), "{err}");
    assert!(fake.calls().is_empty());
}

/// Against a real cluster (`../shared/tools/slurm/start-slurm.sh`): ignored
/// unless asked for (`--ignored`), with `SLIVERS_REAL_SLURM=1`.
#[test]
#[ignore = "needs a running Slurm cluster; .ci/run starts one and runs it with SLIVERS_REAL_SLURM=1 and --ignored"]
fn real_slurm_run_matches_a_plain_sweep() {
    assert_eq!(
        std::env::var("SLIVERS_REAL_SLURM").as_deref(),
        Ok("1"),
        "this test submits to a real Slurm cluster: start one (../shared/tools/slurm/start-slurm.sh) and set SLIVERS_REAL_SLURM=1"
    );
    let d = temp_dir("slurm-real");
    let f = sweep_file(&d);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let poll = [("SLIVERS_SLURM_POLL_MS", "250")];
    let started = std::time::Instant::now();
    let (ok, stdout, err) = slivers_env(&["sweep", &f, "--slurm", "--out", o, "--shards", "4"], &poll);
    assert!(ok, "{stdout}\n{err}");
    eprintln!(
        "real Slurm: 4 tasks in {:.1} s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        std::fs::read(out.join("runs.csv")).unwrap() == plain_runs(&f, &d),
        "runs.csv differs"
    );
    // A shard lost after the fact is resubmitted alone.
    std::fs::remove_file(out.join("shards/3-of-4.toml")).unwrap();
    let (ok, stdout, err) = slivers_env(&["sweep", &f, "--slurm", "--resume", "--out", o], &poll);
    assert!(ok, "{stdout}\n{err}");
    assert_eq!(array_line(&out.join("slurm/small.sbatch")), "#SBATCH --array=3");
    assert!(
        std::fs::read(out.join("runs.csv")).unwrap() == plain_runs(&f, &d),
        "runs.csv differs"
    );
}

#[test]
fn waits_while_squeue_lists_tasks_and_never_races_a_running_job() {
    let d = temp_dir("slurm-wait");
    let fake = Fake::new(&d);
    // Lists two tasks of the job for its first two calls, then none.
    write_exe(
        &fake.bin.join("squeue"),
        "#!/bin/sh\nhere=$(dirname \"$0\")\necho \"$*\" >> \"$here/squeue.calls\"\n\
         n=$(($(cat \"$here/squeue.n\" 2>/dev/null || echo 0) + 1))\necho \"$n\" > \"$here/squeue.n\"\n\
         if [ \"$n\" -le 2 ]; then echo \"${4}_1\"; echo \"${4}_2\"; fi\n",
    );
    let f = sweep_file(&d);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let (ok, stdout, err) = with_fake(&fake, &["sweep", &f, "--slurm", "--out", o, "--shards", "2"], &[]);
    assert!(ok, "{err}");
    assert!(stdout.contains("job 101: 2 tasks queued or running"), "{stdout}");
    let calls = read(&fake.bin.join("squeue.calls"));
    assert_eq!(calls.lines().count(), 3, "{calls}");
    assert!(calls.lines().all(|l| l == "-h -r -j 101 -o %i"), "{calls}");

    // squeue still lists the job: a new submission must not wipe its folder.
    write_exe(&fake.bin.join("squeue"), "#!/bin/sh\necho \"${4}_2\"\n");
    let (ok, _, err) = with_fake(&fake, &["sweep", &f, "--slurm", "--out", o], &[]);
    assert!(!ok);
    assert!(
        err.contains("Slurm job 101 of an earlier submission still has 1 task(s)"),
        "{err}"
    );
    assert!(out.join("runs.csv").is_file() && out.join("shards/2-of-2.toml").is_file());
    // Nor may --resume resubmit a shard that task is still working on.
    std::fs::remove_file(out.join("shards/2-of-2.toml")).unwrap();
    let (ok, _, err) = with_fake(&fake, &["sweep", &f, "--slurm", "--resume", "--out", o], &[]);
    assert!(!ok);
    assert!(err.contains("wait for it (or scancel 101)"), "{err}");
    assert_eq!(fake.calls().len(), 1);
}
