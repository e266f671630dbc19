//! Resuming a live run from its journal: a run stopped at any operation
//! and resumed over the same hosts ends as the uninterrupted run does.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use slivers::live::driver::{LiveError, LiveOptions, LiveOutcome, Pace, run_live};
use slivers::live::executor::{ExecError, Executor, HostInfo, VmInfo, VmSpec};
use slivers::live::setup::emulated_cluster;
use slivers::live::transport::InProcessTransport;
use slivers::live::xen::{XenConfig, XenExecutor};
use slivers::scenario::Scenario;
use slivers_xl_emu::cluster::EmuCluster;

use crate::{golden_scenario_text, root, slivers, temp_dir};

const SCENARIO: &str = "tests/golden/live/four-hosts.toml";
const HOSTS: [&str; 4] = ["h0", "h1", "h2", "h3"];

/// An executor whose `fail_at`-th change (create, resize, migrate, save,
/// restore or destroy; 1-based) fails for good: before it takes effect, or
/// after (its report lost) if `after`.
pub(crate) struct FailsOnce {
    pub(crate) inner: XenExecutor,
    pub(crate) changes: AtomicU32,
    pub(crate) fail_at: u32,
    pub(crate) after: bool,
}

impl FailsOnce {
    fn change<T>(&self, host: &str, f: impl FnOnce() -> Result<T, ExecError>) -> Result<T, ExecError> {
        if self.changes.fetch_add(1, Ordering::SeqCst) + 1 != self.fail_at {
            return f();
        }
        if self.after {
            f()?;
        }
        Err(ExecError::Command {
            host: host.to_string(),
            argv: vec!["xl".into()],
            code: Some(1),
            stderr: "injected failure".into(),
        })
    }
}

impl Executor for FailsOnce {
    fn host_info(&self, h: &str) -> Result<HostInfo, ExecError> {
        self.inner.host_info(h)
    }
    fn list(&self, h: &str) -> Result<Vec<VmInfo>, ExecError> {
        self.inner.list(h)
    }
    fn create(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.change(h, || self.inner.create(h, s))
    }
    fn resize(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.change(h, || self.inner.resize(h, s))
    }
    fn migrate(&self, f: &str, t: &str, n: &str) -> Result<(), ExecError> {
        self.change(f, || self.inner.migrate(f, t, n))
    }
    fn save(&self, h: &str, n: &str, i: &str) -> Result<(), ExecError> {
        self.change(h, || self.inner.save(h, n, i))
    }
    fn restore(&self, h: &str, s: &VmSpec, i: &str) -> Result<(), ExecError> {
        self.change(h, || self.inner.restore(h, s, i))
    }
    fn destroy(&self, h: &str, n: &str) -> Result<(), ExecError> {
        self.change(h, || self.inner.destroy(h, n))
    }
    fn reconcile_migration(&self, f: &str, t: &str, n: &str) -> Result<Option<String>, ExecError> {
        self.inner.reconcile_migration(f, t, n)
    }
}

fn scenario() -> Scenario {
    Scenario::load(&root().join(SCENARIO)).unwrap()
}

/// The scenario's first pair, virtually paced on [`HOSTS`], journaled in `dir`.
fn options(s: &Scenario, dir: &Path, resume: bool) -> LiveOptions {
    LiveOptions {
        pair: s.pairs[0],
        seed: s.seed,
        pace: Pace::Virtual,
        journal: dir.join("journal.jsonl"),
        resume,
        hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
        image_dir: dir.join("images").display().to_string(),
        vm_prefix: "sliver-".into(),
        retries: 0,
        on_host_loss: slivers::live::driver::HostLoss::Stop,
    }
}

fn hosts() -> Vec<String> {
    HOSTS.iter().map(|h| h.to_string()).collect()
}

/// The xl executor over an emulated cluster, in process.
pub(crate) fn executor(cluster: &Arc<EmuCluster>) -> XenExecutor {
    XenExecutor::new(
        Arc::new(InProcessTransport::new(Arc::clone(cluster))),
        XenConfig::default(),
    )
}

/// Every VM on the up hosts of `hosts`, as `(host, name)`, sorted (a VM
/// on two hosts appears twice).
pub(crate) fn vms_on(cluster: &Arc<EmuCluster>, hosts: &[&str]) -> Vec<(String, String)> {
    let x = executor(cluster);
    let mut out: Vec<(String, String)> = hosts
        .iter()
        .filter(|h| !cluster.is_down(h))
        .flat_map(|h| x.list(h).unwrap().into_iter().map(|vm| (h.to_string(), vm.name)))
        .collect();
    out.sort();
    out
}

/// Where the model has each VM at the end, as `(host, name)` over
/// `hosts` (the run's host numbering), sorted.
pub(crate) fn model_placement(outcome: &LiveOutcome, hosts: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = outcome
        .result
        .final_placement
        .iter()
        .map(|&(vm, h)| (hosts[h as usize].to_string(), format!("sliver-{vm}")))
        .collect();
    out.sort();
    out
}

fn uninterrupted(s: &Scenario) -> (LiveOutcome, Vec<(String, String)>) {
    let dir = temp_dir("resume-whole");
    let cluster = emulated_cluster(s, &hosts());
    let outcome = run_live(s, Arc::new(executor(&cluster)), &options(s, &dir, false)).unwrap();
    (outcome, vms_on(&cluster, &HOSTS))
}

#[test]
fn a_run_stopped_at_an_operation_resumes_to_the_uninterrupted_result() {
    let s = scenario();
    let (whole, whole_placement) = uninterrupted(&s);
    assert!(
        whole.result.site.migrations() > 0 && whole.ops > 20,
        "the run must migrate and run many operations for the test to mean anything"
    );
    for (fail_at, after) in [
        (1, false),
        (2, true),
        (7, false),
        (13, true),
        (whole.ops as u32 - 3, true),
    ] {
        let dir = temp_dir(&format!("resume-{fail_at}"));
        // The hosts outlive the controller: both runs see the same cluster.
        let cluster = emulated_cluster(&s, &hosts());
        let failing = FailsOnce {
            inner: executor(&cluster),
            changes: AtomicU32::new(0),
            fail_at,
            after,
        };
        let err = run_live(&s, Arc::new(failing), &options(&s, &dir, false)).unwrap_err();
        assert!(matches!(err, LiveError::Failed { .. }), "{err}");
        let resumed = run_live(&s, Arc::new(executor(&cluster)), &options(&s, &dir, true)).unwrap();
        assert!(
            resumed.resumed >= 1,
            "the failed operation was started, so it is run again"
        );
        if fail_at > 1 {
            // It continued the run rather than starting it again.
            assert!(resumed.ops < whole.ops, "stopped at change {fail_at}");
        }
        assert_eq!(
            resumed.result, whole.result,
            "stopped at change {fail_at}: the same measurements as the uninterrupted run"
        );
        assert_eq!(
            vms_on(&cluster, &HOSTS),
            whole_placement,
            "stopped at change {fail_at}"
        );
    }
}

/// `slivers live SCENARIO --out OUT -q EXTRA...` (a dry run unless told).
fn live_dry_run(scenario: &str, out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["live", scenario, "--out", out.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    slivers(&args)
}

#[test]
fn a_journaled_input_the_model_refuses_is_named_by_its_line() {
    let dir = temp_dir("resume-refused");
    let live = |extra: &[&str]| live_dry_run("tests/golden/small/scenario.toml", &dir, extra);
    let (ok, _, err) = live(&[]);
    assert!(ok, "{err}");
    // The completion of an operation the model never started.
    let journal = dir.join("journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"in\":{\"op_done\":{\"op\":999}},\"t\":1}\n");
    std::fs::write(&journal, &text).unwrap();
    let line = text.lines().count();
    let (ok, _, err) = live(&["--resume"]);
    assert!(!ok);
    let said = format!(
        "error: journal {}, line {line}: the model refuses this input on replay",
        journal.display()
    );
    assert!(err.starts_with(&said), "{err}");
    assert!(err.trim_end().ends_with("is not in flight"), "{err}");
}

#[test]
fn a_journal_names_its_run_and_resume_refuses_another() {
    let dir = temp_dir("resume-header");
    // The golden scenario written elsewhere, so that the file can change.
    let file = dir.join("scenario.toml");
    std::fs::write(&file, golden_scenario_text()).unwrap();
    let out = dir.join("out");
    let live = |extra: &[&str]| live_dry_run(file.to_str().unwrap(), &out, extra);
    let (ok, _, err) = live(&[]);
    assert!(ok, "{err}");
    let journal = out.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let sha = Scenario::load(&file).unwrap().sha256.clone();
    assert_eq!(
        text.lines().next().unwrap(),
        format!(
            "{{\"run\":{{\"scenario_sha256\":\"{sha}\",\"pair\":\"room-for-growth/follow-broker\",\"seed\":1,\"hosts\":[\"host0\",\"host1\"]}}}}"
        )
    );
    assert_eq!(text.matches("\"run\"").count(), 1, "one header");
    // The same run resumes (it had finished: nothing is left to do).
    let (ok, _, err) = live(&["--resume"]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&journal).unwrap();
    let refused = |extra: &[&str], field: &str, found: &str, expected: &str| {
        let mut args = vec!["--resume"];
        args.extend_from_slice(extra);
        let (ok, _, err) = live(&args);
        assert!(!ok);
        assert_eq!(
            err.trim(),
            format!(
                "error: journal {} records another run: its {field} is {found}, but this run's is {expected}; resume with the same scenario file, pair, seed and hosts, or start afresh with another --out",
                journal.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&journal).unwrap(),
            text,
            "a refused journal is left as it was"
        );
    };
    refused(
        &["--pair", "migrating/energy-aware"],
        "policy pair",
        "room-for-growth/follow-broker",
        "migrating/energy-aware",
    );
    refused(&["--seed", "7"], "seed", "1", "7");
    refused(&["--hosts", "a,b"], "list of hosts", "host0, host1", "a, b");
    std::fs::write(&file, golden_scenario_text() + "\n# edited\n").unwrap();
    let edited = Scenario::load(&file).unwrap().sha256.clone();
    refused(&[], "scenario file's sha256", &sha, &edited);
    std::fs::write(&file, golden_scenario_text()).unwrap();
    // The header belongs on the first line only.
    let header = text.lines().next().unwrap();
    std::fs::write(&journal, format!("{text}{header}\n")).unwrap();
    let (ok, _, err) = live(&["--resume"]);
    assert!(!ok);
    let line = text.lines().count() + 1;
    assert!(
        err.contains(&format!(
            "line {line}: expected an input, an operation's start or its failure, found a second header"
        )),
        "{err}"
    );
    // A journal from before journals had a header is refused too.
    let old: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&journal, &old).unwrap();
    let (ok, _, err) = live(&["--resume"]);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        format!(
            "error: journal {} does not start with the line naming its run (scenario file, pair, seed, hosts), so it was written by an older slivers and cannot be checked against this run: finish it with that version, or start afresh with another --out",
            journal.display()
        )
    );
}

/// The values of `columns` in the one-row `summary.csv` of `dir`.
fn summary_columns(dir: &Path, columns: &[&str]) -> Vec<String> {
    let s = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let header: Vec<&str> = s.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = s.lines().nth(1).unwrap().split(',').collect();
    columns
        .iter()
        .map(|c| row[header.iter().position(|h| h == c).unwrap()].to_string())
        .collect()
}

#[test]
fn an_emulated_run_killed_at_any_point_resumes_to_the_simulations_end() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = temp_dir("emulated-kills");
    let out = dir.join("out");
    let journal = out.join("journal.jsonl");
    let live = |resume: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_slivers"));
        c.current_dir(root())
            .args([
                "live",
                SCENARIO,
                "--executor",
                "emulated",
                "--time-scale",
                "20000",
                "-q",
            ])
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if resume {
            c.arg("--resume");
        }
        c
    };
    // 20 kill points spread over the run (a whole journal is about 18 kB),
    // each at a pseudo-random place in its slot, by SIGKILL, SIGINT and
    // SIGTERM in turn; the emulated hosts outlive each controller.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for (i, slot) in (0..20u64).enumerate() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mark = 400 + slot * 700 + x % 700;
        let mut child = live(i > 0).spawn().unwrap();
        let t0 = Instant::now();
        while std::fs::metadata(&journal).map_or(0, |m| m.len()) < mark {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                panic!("kill {i}: the run ended ({status}) before {mark} bytes of journal: {err}");
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "kill {i}: no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        let signal = ["-KILL", "-INT", "-TERM"][i % 3];
        let sent = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert!(!status.success(), "kill {i} ({signal}) stopped it");
    }
    assert!(
        !out.join("summary.csv").exists(),
        "every kill came before the end"
    );
    let done = live(true).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    // The simulation's decisions and counts, and its final placement.
    let sim = dir.join("sim");
    let (ok, _, err) = slivers(&["run", SCENARIO, "--out", sim.to_str().unwrap(), "-q"]);
    assert!(ok, "{err}");
    let columns = [
        "migrations",
        "live_migrations",
        "stop_copy_migrations",
        "requests",
        "granted",
        "rejected",
        "resizes",
        "jobs_started",
        "peak_active_hosts",
    ];
    assert_eq!(summary_columns(&out, &columns), summary_columns(&sim, &columns));
    let s = scenario();
    let r = slivers::experiment::run_scenario(&s, slivers::experiment::RunOptions::default(), |_| {})
        .unwrap()
        .remove(0);
    let mut expected: Vec<(String, String)> = r
        .final_placement
        .iter()
        .map(|&(vm, h)| (format!("host{h}"), format!("sliver-{vm}")))
        .collect();
    expected.sort();
    let hosts_dir = out.join("emulated/hosts");
    let mut found: Vec<(String, String)> = (0..s.hosts)
        .flat_map(|h| {
            let host = format!("host{h}");
            let state = slivers_xl_emu::dir::load_host(&hosts_dir, &host).unwrap();
            state.domains.into_keys().map(move |vm| (host.clone(), vm))
        })
        .collect();
    found.sort();
    assert_eq!(found, expected, "every VM once, where the simulation ends it");
    // A new run does not start over another run's VMs.
    let again = live(false).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    // The journal is looked at first (before the folder or any host is
    // touched) ...
    assert!(
        err.contains("already records a run: pass --resume to continue it"),
        "{err}"
    );
    // ... and without it, the emulated hosts still hold the earlier VMs.
    std::fs::remove_file(out.join("journal.jsonl")).unwrap();
    let again = live(false).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(
        err.contains(&format!(
            "the emulated hosts in {} hold the VMs of an earlier run (host",
            out.join("emulated").display()
        )) && err.contains("continue it with --resume"),
        "{err}"
    );
}
