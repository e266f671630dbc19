//! Running a sweep as a Slurm job array: one array task per shard.
//!
//! `slivers sweep FILE --slurm` writes `<out>/slurm/<name>.sbatch`, submits it
//! with `sbatch --parsable`, polls `squeue` until no task of the job is left,
//! then checks every shard's marker (`<out>/shards/I-of-N.toml`). If all
//! shards finished it merges them into `<out>`; otherwise it names each failed
//! array task and its log (`<out>/slurm/logs/<job>_<task>.out`) and fails.
//! `--resume` resubmits only the shards without a marker.
//!
//! Each task runs `slivers sweep FILE --shard $SLURM_ARRAY_TASK_ID/N --resume`,
//! so a requeued or resubmitted task skips the runs it already completed.
//! Paths in the script are absolute: the tasks may start in another folder
//! (or on another node sharing the file system).
//!
//! The commands are `sbatch` and `squeue` unless the environment variables
//! `SLIVERS_SBATCH` and `SLIVERS_SQUEUE` name others (tests use fakes);
//! `SLIVERS_SLURM_POLL_MS` sets the polling interval (default 2000 ms).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::shard::{
    ShardError, ShardMarker, check_sweep_folder, clear_sweep_folder, manifest, merge, read_toml,
};
use super::sweep::Sweep;
use crate::report::{ReportError, write_atomic};
use crate::shell;

/// Everything that can go wrong running a sweep on Slurm.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// `sbatch` is not on the `PATH`.
    #[error("{program} not found: is Slurm installed? use --dry-run to only write the script")]
    SbatchNotFound {
        /// The command tried.
        program: String,
    },
    /// `squeue` is not on the `PATH`.
    #[error(
        "{program} not found: is Slurm installed? the job was submitted as {job}; \
             once it has finished, rerun with --slurm --resume to merge"
    )]
    SqueueNotFound {
        /// The command tried.
        program: String,
        /// The job submitted.
        job: String,
    },
    /// A command could not be started, or failed.
    #[error("{command} failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status, or why it could not run.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// `sbatch --parsable` printed something other than `ID` or `ID;CLUSTER`.
    #[error("cannot read a job id from the output of {command}: {output:?}")]
    BadJobId {
        /// The command line.
        command: String,
        /// What it printed.
        output: String,
    },
    /// A flag or path that cannot go into an sbatch script.
    #[error("{0}")]
    Invalid(String),
    /// The job of an earlier submission is still queued or running.
    #[error(
        "Slurm job {job} of an earlier submission still has {tasks} task(s) queued or running; \
         wait for it (or scancel {job}) before submitting again"
    )]
    StillRunning {
        /// The job id.
        job: String,
        /// Tasks left.
        tasks: usize,
    },
    /// Some array tasks finished without their shard marker.
    #[error("{}", failed_message(.job, .shards, .failed, .resume))]
    TasksFailed {
        /// The job id.
        job: String,
        /// Shards in all (N).
        shards: usize,
        /// The failed tasks.
        failed: Vec<FailedTask>,
        /// The command that resubmits them.
        resume: String,
    },
    /// Reading the output folder failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing the script failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The folder holds another sweep, or merging failed.
    #[error(transparent)]
    Shard(#[from] ShardError),
}

/// An array task that did not finish its shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTask {
    /// Its array index, which is its shard number.
    pub index: usize,
    /// Its log file.
    pub log: PathBuf,
    /// The last non-empty line of the log, if there is one.
    pub last_line: Option<String>,
}

fn failed_message(job: &str, shards: &usize, failed: &[FailedTask], resume: &str) -> String {
    let mut s = format!(
        "{} of {shards} array tasks of Slurm job {job} did not finish:",
        failed.len()
    );
    for t in failed {
        let _ = write!(
            s,
            "\n  task {} (shard {}/{shards}): log {}",
            t.index,
            t.index,
            t.log.display()
        );
        match &t.last_line {
            Some(l) => {
                let _ = write!(s, "\n    {l}");
            }
            None if !t.log.is_file() => s.push_str(" (not written: the task never started?)"),
            None => {}
        }
    }
    let _ = write!(s, "\nresubmit only the failed shards with:\n  {resume}");
    s
}

/// How to run a sweep on Slurm (the `--slurm` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmOptions {
    /// Array tasks, one shard each (default: min(16, runs)).
    pub shards: Option<usize>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--cpus-per-task`, also each task's `--jobs` (default 1).
    pub cpus_per_task: Option<usize>,
    /// Extra `#SBATCH` lines, verbatim.
    pub sbatch_args: Vec<String>,
    /// Write the script and print the sbatch command; submit nothing.
    pub dry_run: bool,
    /// Resubmit only the shards without a marker.
    pub resume: bool,
    /// Tasks check invariants after every event.
    pub check: bool,
    /// A fresh submission may replace another sweep's results.
    pub overwrite: bool,
}

/// The Slurm commands to call and how often to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// `sbatch`, or `$SLIVERS_SBATCH`.
    pub sbatch: OsString,
    /// `squeue`, or `$SLIVERS_SQUEUE`.
    pub squeue: OsString,
    /// Polling interval: 2 s, or `$SLIVERS_SLURM_POLL_MS`.
    pub poll: Duration,
}

impl Tools {
    /// The commands named by the environment, else `sbatch` and `squeue`.
    pub fn from_env() -> Tools {
        let var = |k: &str, d: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| d.into())
        };
        let poll = std::env::var("SLIVERS_SLURM_POLL_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(2), Duration::from_millis);
        Tools {
            sbatch: var("SLIVERS_SBATCH", "sbatch"),
            squeue: var("SLIVERS_SQUEUE", "squeue"),
            poll,
        }
    }
}

/// What a `--slurm` invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlurmOutcome {
    /// `--dry-run`: the script was written and this command would submit it.
    DryRun {
        /// The script.
        script: PathBuf,
        /// The sbatch command line, quoted for sh.
        command: String,
        /// The shards it would run.
        shards: Vec<usize>,
        /// Shards in all.
        of: usize,
    },
    /// Every shard finished and the folder was merged.
    Merged {
        /// The job submitted now (`None` if every shard had already finished).
        job: Option<String>,
        /// The shards submitted now.
        submitted: Vec<usize>,
        /// Shards in all.
        of: usize,
        /// The merged files.
        files: Vec<PathBuf>,
    },
}

/// An `--array` spec for `shards` (sorted, 1-based): consecutive numbers
/// become ranges, e.g. `1-4,7,9-10`.
pub fn array_spec(shards: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let mut j = i;
        while j + 1 < shards.len() && shards[j + 1] == shards[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", shards[i], shards[j])
        } else {
            shards[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Parses the output of `sbatch --parsable`: `ID` or `ID;CLUSTER`.
pub fn parse_job_id(output: &str) -> Option<String> {
    let line = output.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let id = line.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

/// The default number of shards: min(16, runs), at least 1.
pub fn default_shards(runs: usize) -> usize {
    runs.clamp(1, 16)
}

fn io_err(path: &Path, source: std::io::Error) -> SlurmError {
    SlurmError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn utf8<'a>(path: &'a Path, what: &str) -> Result<&'a str, SlurmError> {
    let s = path.to_str().ok_or_else(|| {
        SlurmError::Invalid(format!(
            "{what} {}: not UTF-8, cannot go into an sbatch script",
            path.display()
        ))
    })?;
    if s.contains(['\n', '\r']) {
        return Err(SlurmError::Invalid(format!(
            "{what} {s:?}: a line break cannot go into an sbatch script"
        )));
    }
    Ok(s)
}

/// A job or file name: letters, digits, `.`, `_` and `-` only.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("sweep{s}")
    } else {
        s
    }
}

/// The `--output` value for logs in `logs` (a folder): `%` in the folder is
/// escaped (`%%`, since `%A` and `%a` are filename patterns), and Slurm reads
/// double quotes around a value with spaces.
fn sbatch_log_pattern(logs: &str) -> Result<String, SlurmError> {
    if logs.contains('"') {
        return Err(SlurmError::Invalid(format!(
            "{logs:?}: a double quote cannot go into an #SBATCH line"
        )));
    }
    let s = format!("{}/%A_%a.out", logs.replace('%', "%%"));
    Ok(if s.contains(char::is_whitespace) {
        format!("\"{s}\"")
    } else {
        s
    })
}

fn marker(out: &Path, i: usize, n: usize) -> PathBuf {
    out.join("shards").join(format!("{i}-of-{n}.toml"))
}

/// `<out>/slurm/job.toml`: the last submission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct JobState {
    /// Slurm's job id.
    job_id: String,
    /// The sweep file's SHA-256.
    sweep_sha256: String,
    /// The split: shards `1..=shards`.
    shards: usize,
    /// The array submitted, e.g. `1-16` or `3,7`.
    array: String,
    /// The script submitted.
    script: String,
}

/// True if shard `i` of `n` has a marker from this sweep file.
fn finished(sweep: &Sweep, out: &Path, i: usize, n: usize) -> Result<bool, SlurmError> {
    let m: Option<ShardMarker> = read_toml(&marker(out, i, n), "a shard marker")?;
    Ok(m.is_some_and(|m| m.sweep_sha256 == sweep.sha256))
}

/// The split counts of the markers in `<out>/shards`.
fn marker_splits(out: &Path) -> Result<Vec<usize>, SlurmError> {
    let dir = out.join("shards");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&dir, e)),
    };
    let mut ns: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (_, n) = name.strip_suffix(".toml")?.split_once("-of-")?;
            n.parse().ok()
        })
        .collect();
    ns.sort_unstable();
    ns.dedup();
    Ok(ns)
}

/// The state of the last submission, `<out>/slurm/job.toml`.
fn state_path(out: &Path) -> PathBuf {
    out.join("slurm").join("job.toml")
}

/// The script's file: `<out>/slurm/<name>.sbatch`.
pub fn script_path(sweep: &Sweep, out: &Path) -> PathBuf {
    out.join("slurm").join(format!("{}.sbatch", slug(&sweep.name)))
}

/// Everything the script needs.
#[derive(Debug, Clone)]
pub struct ScriptSpec<'a> {
    /// The sweep.
    pub sweep: &'a Sweep,
    /// The sweep file, absolute.
    pub file: &'a Path,
    /// The output folder, absolute.
    pub out: &'a Path,
    /// The slivers binary, absolute.
    pub binary: &'a Path,
    /// Shards in all (N).
    pub n: usize,
    /// The shards to run.
    pub shards: &'a [usize],
    /// The options.
    pub options: &'a SlurmOptions,
}

/// The sbatch script.
pub fn script(spec: &ScriptSpec) -> Result<String, SlurmError> {
    let o = spec.options;
    let (file, out, binary) = (
        utf8(spec.file, "sweep file")?,
        utf8(spec.out, "output folder")?,
        utf8(spec.binary, "slivers binary")?,
    );
    let cpus = o.cpus_per_task.unwrap_or(1);
    let logs = sbatch_log_pattern(&format!("{out}/slurm/logs"))?;
    let mut s = String::new();
    s.push_str("#!/bin/sh\n");
    let _ = writeln!(s, "#SBATCH --job-name=slivers-{}", slug(&spec.sweep.name));
    let _ = writeln!(s, "#SBATCH --array={}", array_spec(spec.shards));
    let _ = writeln!(s, "#SBATCH --output={logs}");
    let _ = writeln!(s, "#SBATCH --cpus-per-task={cpus}");
    for (flag, v) in [("partition", &o.partition), ("time", &o.time)] {
        if let Some(v) = v {
            if v.is_empty() || v.contains(char::is_whitespace) || v.contains('"') {
                return Err(SlurmError::Invalid(format!("--{flag} {v:?}: expected one word")));
            }
            let _ = writeln!(s, "#SBATCH --{flag}={v}");
        }
    }
    for a in &o.sbatch_args {
        if a.contains(['\n', '\r']) {
            return Err(SlurmError::Invalid(format!(
                "--sbatch-arg {a:?}: a line break cannot go into an #SBATCH line"
            )));
        }
        let _ = writeln!(s, "#SBATCH {a}");
    }
    let _ = write!(
        s,
        "\n# Written by slivers sweep --slurm: sweep {name:?} (sha256 {sha}), {runs} runs in {n} shards.\n\
         # Each array task runs shard $SLURM_ARRAY_TASK_ID of {n}; --resume skips its runs\n\
         # already complete, so a requeued task picks up where it stopped.\n\
         exec {bin} sweep {file} --shard \"$SLURM_ARRAY_TASK_ID\"/{n} --out {out} --jobs {cpus} --quiet --resume{check}{cap}\n",
        name = spec.sweep.name,
        sha = spec.sweep.sha256,
        runs = spec.sweep.run_count(),
        n = spec.n,
        bin = shell::quote(binary),
        file = shell::quote(file),
        out = shell::quote(out),
        check = if o.check { " --check" } else { "" },
        cap = max_runs_flag(spec.sweep).unwrap_or_default(),
    );
    Ok(s)
}

/// The command that resubmits the failed shards of this invocation.
fn resume_command(sweep: &Sweep, out: &Path, o: &SlurmOptions, n: usize) -> String {
    let mut c = vec![
        "slivers".to_string(),
        "sweep".into(),
        shell::quote(&sweep.file.display().to_string()),
    ];
    c.extend(["--slurm".into(), "--resume".into()]);
    if out != sweep.output {
        c.extend(["--out".into(), shell::quote(&out.display().to_string())]);
    }
    if o.shards.is_some() {
        c.extend(["--shards".into(), n.to_string()]);
    }
    if let Some(p) = &o.partition {
        c.extend(["--partition".into(), shell::quote(p)]);
    }
    if let Some(t) = &o.time {
        c.extend(["--time".into(), shell::quote(t)]);
    }
    if let Some(cpus) = o.cpus_per_task {
        c.extend(["--cpus-per-task".into(), cpus.to_string()]);
    }
    for a in &o.sbatch_args {
        c.push(format!("--sbatch-arg={}", shell::quote(a)));
    }
    if o.check {
        c.push("--check".into());
    }
    c.extend(max_runs_flag(sweep).map(|f| f.trim_start().to_string()));
    c.join(" ")
}

/// ` --max-runs N` when the sweep was loaded with a cap other than the default.
fn max_runs_flag(sweep: &Sweep) -> Option<String> {
    (sweep.max_runs != super::sweep::MAX_RUNS).then(|| format!(" --max-runs {}", sweep.max_runs))
}

fn display_command(program: &OsString, args: &[&str]) -> String {
    let mut c = vec![shell::quote(&program.to_string_lossy())];
    c.extend(args.iter().map(|a| shell::quote(a)));
    c.join(" ")
}

/// Runs `program args`; `Ok(None)` if the program does not exist.
fn call(program: &OsString, args: &[&str]) -> Result<Option<std::process::Output>, SlurmError> {
    match Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SlurmError::CommandFailed {
            command: display_command(program, args),
            status: e.to_string(),
            stderr: String::new(),
        }),
    }
}

/// Tasks of `job` still known to squeue (`None` if squeue does not exist).
/// An unknown job id counts as finished.
fn tasks_left(tools: &Tools, job: &str) -> Result<Option<usize>, SlurmError> {
    let args = ["-h", "-r", "-j", job, "-o", "%i"];
    let Some(o) = call(&tools.squeue, &args)? else {
        return Ok(None);
    };
    let stderr = String::from_utf8_lossy(&o.stderr).trim().to_string();
    if !o.status.success() {
        if stderr.contains("Invalid job id") {
            return Ok(Some(0));
        }
        return Err(SlurmError::CommandFailed {
            command: display_command(&tools.squeue, &args),
            status: o.status.to_string(),
            stderr,
        });
    }
    Ok(Some(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count(),
    ))
}

/// Polls squeue until `job` has no task left, reporting now and then.
fn wait(tools: &Tools, job: &str, log: &mut dyn FnMut(&str)) -> Result<(), SlurmError> {
    let started = Instant::now();
    let mut last: Option<(usize, Instant)> = None;
    let mut failures = 0;
    loop {
        std::thread::sleep(tools.poll);
        let left = match tasks_left(tools, job) {
            Ok(Some(left)) => left,
            Ok(None) => {
                return Err(SlurmError::SqueueNotFound {
                    program: tools.squeue.to_string_lossy().into_owned(),
                    job: job.to_string(),
                });
            }
            // slurmctld may be briefly unreachable: retry for a while.
            Err(e) => {
                failures += 1;
                if failures >= 10 {
                    return Err(e);
                }
                continue;
            }
        };
        failures = 0;
        if left == 0 {
            return Ok(());
        }
        let due = last.is_none_or(|(n, at)| n != left || at.elapsed() >= Duration::from_secs(60));
        if due {
            let secs = started.elapsed().as_secs();
            log(&format!(
                "job {job}: {left} task{} queued or running ({}:{:02} elapsed)",
                if left == 1 { "" } else { "s" },
                secs / 60,
                secs % 60
            ));
            last = Some((left, Instant::now()));
        }
    }
}

fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

/// Runs `sweep` on Slurm into `out` with the shard tasks executing `binary`;
/// `log` receives progress lines.
pub fn run_slurm(
    sweep: &Sweep,
    out: &Path,
    options: &SlurmOptions,
    tools: &Tools,
    binary: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<SlurmOutcome, SlurmError> {
    let runs = sweep.run_count();
    if options.cpus_per_task == Some(0) {
        return Err(SlurmError::Invalid("--cpus-per-task must be at least 1".into()));
    }
    let abs = |p: &Path| std::path::absolute(p).map_err(|e| io_err(p, e));
    let (file, out_abs, binary) = (abs(&sweep.file)?, abs(out)?, abs(binary)?);
    std::fs::create_dir_all(&out_abs).map_err(|e| io_err(&out_abs, e))?;

    // A folder holding another sweep file is only replaced by a fresh
    // submission with --overwrite (a dry run touches no results).
    check_sweep_folder(
        &out_abs,
        sweep,
        options.resume,
        options.overwrite || options.dry_run,
    )?;

    // The split: --shards, else that of the last submission or of the markers.
    let state: Option<JobState> = read_toml(&state_path(&out_abs), "the state of a Slurm submission")?;
    let splits = marker_splits(&out_abs)?;
    let n = match options.shards {
        Some(n) => n,
        None if options.resume => state
            .as_ref()
            .map(|s| s.shards)
            .or_else(|| (splits.len() == 1).then(|| splits[0]))
            .unwrap_or_else(|| default_shards(runs)),
        None => default_shards(runs),
    };
    if n == 0 || n > runs.max(1) {
        return Err(SlurmError::Invalid(format!(
            "--shards must be between 1 and {} (the runs of the sweep), found {n}",
            runs.max(1)
        )));
    }
    if options.resume
        && let Some(other) = splits.iter().find(|m| **m != n)
    {
        return Err(SlurmError::Invalid(format!(
            "{} holds shards split {other} ways, not {n}; resume with --shards {other} \
             or run without --resume",
            out_abs.join("shards").display()
        )));
    }

    let mut todo = Vec::new();
    for i in 1..=n {
        if !(options.resume && finished(sweep, &out_abs, i, n)?) {
            todo.push(i);
        }
    }
    if todo.is_empty() {
        log(&format!("all {n} shards have finished; merging"));
        let files = merge(std::slice::from_ref(&out_abs), &out_abs, false)?;
        return Ok(SlurmOutcome::Merged {
            job: None,
            submitted: todo,
            of: n,
            files,
        });
    }

    let script_file = script_path(sweep, &out_abs);
    let text = script(&ScriptSpec {
        sweep,
        file: &file,
        out: &out_abs,
        binary: &binary,
        n,
        shards: &todo,
        options,
    })?;
    write_atomic(&script_file, text.as_bytes())?;
    // Slurm does not create the folder of --output: a task would fail silently.
    let logs = out_abs.join("slurm").join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| io_err(&logs, e))?;
    let script_str = utf8(&script_file, "script")?;
    let sbatch_args = ["--parsable", script_str];
    let command = display_command(&tools.sbatch, &sbatch_args);
    if options.dry_run {
        return Ok(SlurmOutcome::DryRun {
            script: script_file,
            command,
            shards: todo,
            of: n,
        });
    }

    // Never race (or wipe the folder under) the tasks of the previous submission.
    if let Some(job) = state.as_ref().map(|s| s.job_id.clone()).filter(|j| !j.is_empty())
        && let Ok(Some(tasks)) = tasks_left(tools, &job)
        && tasks > 0
    {
        return Err(SlurmError::StillRunning { job, tasks });
    }
    if !options.resume {
        // A fresh submission starts from an empty folder, as a plain sweep does.
        clear_sweep_folder(&out_abs)?;
        write_atomic(&out_abs.join("manifest.toml"), manifest(sweep)?.as_bytes())?;
    }

    let output = call(&tools.sbatch, &sbatch_args)?.ok_or_else(|| SlurmError::SbatchNotFound {
        program: tools.sbatch.to_string_lossy().into_owned(),
    })?;
    if !output.status.success() {
        return Err(SlurmError::CommandFailed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job = parse_job_id(&stdout).ok_or_else(|| SlurmError::BadJobId {
        command: command.clone(),
        output: stdout.trim().to_string(),
    })?;
    let state = JobState {
        job_id: job.clone(),
        sweep_sha256: sweep.sha256.clone(),
        shards: n,
        array: array_spec(&todo),
        script: script_str.to_string(),
    };
    let state_text = crate::report::toml_file(
        "# Written by slivers sweep --slurm: the last submission.\n",
        &state,
    )?;
    write_atomic(&state_path(&out_abs), state_text.as_bytes())?;
    log(&format!(
        "submitted Slurm job {job}: {} of {n} shards (--array={}); logs in {}",
        todo.len(),
        array_spec(&todo),
        logs.display()
    ));

    wait(tools, &job, log)?;

    let mut failed = Vec::new();
    for &i in &todo {
        if !finished(sweep, &out_abs, i, n)? {
            let log_file = logs.join(format!("{job}_{i}.out"));
            failed.push(FailedTask {
                index: i,
                last_line: last_line(&log_file),
                log: log_file,
            });
        }
    }
    if !failed.is_empty() {
        return Err(SlurmError::TasksFailed {
            job,
            shards: n,
            failed,
            resume: resume_command(sweep, out, options, n),
        });
    }
    log(&format!(
        "job {job} finished ({} of {n} shards); merging {n} shards",
        todo.len()
    ));
    let files = merge(std::slice::from_ref(&out_abs), &out_abs, false)?;
    Ok(SlurmOutcome::Merged {
        job: Some(job),
        submitted: todo,
        of: n,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_ranges() {
        assert_eq!(array_spec(&[1, 2, 3, 4]), "1-4");
        assert_eq!(array_spec(&[3, 7]), "3,7");
        assert_eq!(array_spec(&[1, 2, 5, 7, 8, 9]), "1-2,5,7-9");
        assert_eq!(array_spec(&[2]), "2");
    }

    #[test]
    fn job_ids() {
        assert_eq!(parse_job_id("12345\n").as_deref(), Some("12345"));
        assert_eq!(parse_job_id("12345;cluster\n").as_deref(), Some("12345"));
        assert_eq!(parse_job_id("Submitted batch job 12345\n"), None);
        assert_eq!(parse_job_id(""), None);
    }

    #[test]
    fn default_shard_count() {
        assert_eq!(default_shards(0), 1);
        assert_eq!(default_shards(5), 5);
        assert_eq!(default_shards(100), 16);
    }

    #[test]
    fn sbatch_values() {
        assert_eq!(sbatch_log_pattern("/o/1%").unwrap(), "/o/1%%/%A_%a.out");
        assert_eq!(sbatch_log_pattern("/a b/x").unwrap(), "\"/a b/x/%A_%a.out\"");
        assert!(sbatch_log_pattern("/a\"b").is_err());
        assert_eq!(slug("my sweep/1"), "my_sweep_1");
    }
}
