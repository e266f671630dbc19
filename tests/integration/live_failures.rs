//! Host failures in live runs: an emulated host that disappears mid-run is
//! a host failure the model recovers from (`HostLoss::Recover`), resumed
//! runs replay it, and a scenario's `[failures]` and `[[maintenance]]`
//! reach the emulated hosts in virtual time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use slivers::experiment::{RunOptions, run_scenario};
use slivers::live::driver::{HostLoss, LiveError, LiveOptions, LiveOutcome, Pace, run_live};
use slivers::live::executor::{ExecError, Executor, HostInfo, VmInfo, VmSpec};
use slivers::live::setup::emulated_cluster;
use slivers::live::xen::XenExecutor;
use slivers::scenario::Scenario;
use slivers_xl_emu::cluster::EmuCluster;

use crate::live_resume::{executor, model_placement, vms_on};
use crate::{root, temp_dir};

const SCENARIO: &str = "tests/golden/live/four-hosts.toml";
const HOSTS: [&str; 4] = ["host0", "host1", "host2", "host3"];
/// host1 fails at the first command naming this VM there (its destroy,
/// about a third into the run), with a web VM and two batch VMs on it.
const FAULT: (&str, &str) = ("host1", "host-down:sliver-31");

fn hosts() -> Vec<String> {
    HOSTS.iter().map(|h| h.to_string()).collect()
}

fn options(s: &Scenario, dir: &Path, resume: bool, on_host_loss: HostLoss) -> LiveOptions {
    LiveOptions {
        pair: s.pairs[0],
        seed: s.seed,
        pace: Pace::Virtual,
        journal: dir.join("journal.jsonl"),
        resume,
        hosts: hosts(),
        image_dir: dir.join("images").display().to_string(),
        vm_prefix: "sliver-".into(),
        retries: 1,
        on_host_loss,
    }
}

/// The end of a run as the hosts show it: every VM the model has is on
/// the host it says, once, and no other VM runs.
fn assert_hosts_match_the_model(cluster: &Arc<EmuCluster>, outcome: &LiveOutcome, what: &str) {
    let actual = vms_on(cluster, &HOSTS);
    assert!(!actual.is_empty(), "{what}: VMs run at the end");
    let mut names: Vec<&String> = actual.iter().map(|(_, n)| n).collect();
    names.dedup();
    assert_eq!(names.len(), actual.len(), "{what}: each VM once: {actual:?}");
    assert_eq!(actual, model_placement(outcome, &HOSTS), "{what}");
    assert_eq!(outcome.result.queued_at_end, 0, "{what}: every step done");
}

/// The emulated executor, counting the hosts each VM name was created on.
struct Counting {
    inner: XenExecutor,
    creates: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Executor for Counting {
    fn host_info(&self, h: &str) -> Result<HostInfo, ExecError> {
        self.inner.host_info(h)
    }
    fn list(&self, h: &str) -> Result<Vec<VmInfo>, ExecError> {
        self.inner.list(h)
    }
    fn create(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.inner.create(h, s)?;
        let mut c = self.creates.lock().unwrap();
        c.entry(s.name.clone()).or_default().push(h.to_string());
        Ok(())
    }
    fn resize(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.inner.resize(h, s)
    }
    fn migrate(&self, f: &str, t: &str, n: &str) -> Result<(), ExecError> {
        self.inner.migrate(f, t, n)
    }
    fn save(&self, h: &str, n: &str, i: &str) -> Result<(), ExecError> {
        self.inner.save(h, n, i)
    }
    fn restore(&self, h: &str, s: &VmSpec, i: &str) -> Result<(), ExecError> {
        self.inner.restore(h, s, i)
    }
    fn destroy(&self, h: &str, n: &str) -> Result<(), ExecError> {
        self.inner.destroy(h, n)
    }
    fn reconcile_migration(&self, f: &str, t: &str, n: &str) -> Result<Option<String>, ExecError> {
        self.inner.reconcile_migration(f, t, n)
    }
    fn power(&self, h: &str, on: bool) -> Result<bool, ExecError> {
        self.inner.power(h, on)
    }
}

/// The four-host scenario with `FAULT` injected, run to its end.
fn run_with_a_lost_host(s: &Scenario, dir: &Path) -> (LiveOutcome, Arc<EmuCluster>, Counting) {
    let cluster = emulated_cluster(s, &hosts());
    cluster.inject(FAULT.0, FAULT.1.parse().unwrap());
    let exec = Arc::new(Counting {
        inner: executor(&cluster),
        creates: Mutex::new(BTreeMap::new()),
    });
    let outcome = run_live(s, exec.clone(), &options(s, dir, false, HostLoss::Recover)).unwrap();
    let exec = Arc::try_unwrap(exec).ok().expect("the run is over");
    (outcome, cluster, exec)
}

#[test]
fn a_host_that_disappears_mid_run_is_a_failure_the_model_recovers_from() {
    let s = Scenario::load(&root().join(SCENARIO)).unwrap();
    let dir = temp_dir("failures-lost");
    let (outcome, cluster, counting) = run_with_a_lost_host(&s, &dir);
    assert_eq!(outcome.hosts_lost, 1);
    assert!(cluster.is_down("host1"), "the host stays gone");
    let o = &outcome.outages;
    assert_eq!((o.host_failures, o.maintenance_windows), (1, 0));
    assert!(o.vms_lost >= 2, "the host held VMs: {o:?}");
    assert!(o.vms_recovered >= 1, "{o:?}");
    assert_eq!(
        o.vms_recovered + o.lost_for_good,
        o.vms_lost,
        "every lost VM is running again or released"
    );
    // The recovered VMs were created again, through the executor, on
    // another host; no other VM was created twice.
    let creates = counting.creates.into_inner().unwrap();
    let again: Vec<(&String, &Vec<String>)> = creates.iter().filter(|(_, h)| h.len() > 1).collect();
    assert_eq!(again.len() as u64, o.vms_recovered, "{again:?}");
    for (name, on) in &again {
        assert_eq!(on.len(), 2, "{name}: {on:?}");
        assert_eq!(on[0], "host1", "{name} was lost with host1: {on:?}");
        assert_ne!(on[1], "host1", "{name}");
    }
    assert_hosts_match_the_model(&cluster, &outcome, "after the failure");
    // The journal: the operation that found the host gone, then its failure.
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    let lost: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("{\"lost\":1,"))
        .collect();
    assert_eq!(lost.len(), 1, "{journal}");
    assert!(lines[lost[0]].contains("unreachable"), "{}", lines[lost[0]]);
    assert!(
        lines[lost[0] + 1].starts_with("{\"in\":{\"host_down\":{\"host\":1,\"maintenance\":false}},"),
        "{}",
        lines[lost[0] + 1]
    );
    assert!(!journal.contains("\"fail\""), "nothing failed for good");
    // A lost VM restarts after the scenario's restart delay (120 s by
    // default) before its create: its recovery takes at least that.
    let restart = s.outages.restart.as_millis() as u128;
    assert!(restart > 0);
    assert!(
        o.recovery_ms >= o.vms_recovered as u128 * restart,
        "{} ms for {} VMs",
        o.recovery_ms,
        o.vms_recovered
    );
}

#[test]
fn in_stop_mode_the_same_lost_host_stops_the_run() {
    let s = Scenario::load(&root().join(SCENARIO)).unwrap();
    let dir = temp_dir("failures-stop");
    let cluster = emulated_cluster(&s, &hosts());
    cluster.inject(FAULT.0, FAULT.1.parse().unwrap());
    let err = run_live(
        &s,
        Arc::new(executor(&cluster)),
        &options(&s, &dir, false, HostLoss::Stop),
    )
    .unwrap_err();
    let LiveError::Unreachable { host, vms, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(host, "host1");
    assert!(vms.len() >= 2, "{vms:?}");
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(!journal.contains("\"lost\""), "{journal}");
}

/// An executor whose `stop_at`-th change (1-based) fails for good, before
/// it takes effect.
struct StopsAt {
    inner: XenExecutor,
    changes: AtomicU32,
    stop_at: u32,
}

impl StopsAt {
    fn change<T>(&self, host: &str, f: impl FnOnce() -> Result<T, ExecError>) -> Result<T, ExecError> {
        if self.changes.fetch_add(1, Ordering::SeqCst) + 1 != self.stop_at {
            return f();
        }
        Err(ExecError::Command {
            host: host.to_string(),
            argv: vec!["xl".into()],
            code: Some(1),
            stderr: "injected failure".into(),
        })
    }
}

impl Executor for StopsAt {
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
    fn power(&self, h: &str, on: bool) -> Result<bool, ExecError> {
        self.inner.power(h, on)
    }
}

#[test]
fn a_run_stopped_before_or_after_a_lost_host_resumes_to_the_same_end() {
    let s = Scenario::load(&root().join(SCENARIO)).unwrap();
    let whole_dir = temp_dir("failures-whole");
    let (whole, whole_cluster, _) = run_with_a_lost_host(&s, &whole_dir);
    let whole_hosts = vms_on(&whole_cluster, &HOSTS);
    let (mut before, mut after) = (0, 0);
    for stop_at in [5, 50, 65, 80, whole.ops as u32 - 3] {
        let dir = temp_dir(&format!("failures-resume-{stop_at}"));
        // The hosts outlive the controller: both runs see the same cluster
        // (and its fault, if it has not struck yet).
        let cluster = emulated_cluster(&s, &hosts());
        cluster.inject(FAULT.0, FAULT.1.parse().unwrap());
        let stopping = StopsAt {
            inner: executor(&cluster),
            changes: AtomicU32::new(0),
            stop_at,
        };
        let err = run_live(
            &s,
            Arc::new(stopping),
            &options(&s, &dir, false, HostLoss::Recover),
        )
        .unwrap_err();
        assert!(matches!(err, LiveError::Failed { .. }), "{err}");
        let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
        if journal.contains("{\"lost\":") {
            after += 1;
        } else {
            before += 1;
        }
        let resumed = run_live(
            &s,
            Arc::new(executor(&cluster)),
            &options(&s, &dir, true, HostLoss::Recover),
        )
        .unwrap();
        assert_eq!(
            resumed.result, whole.result,
            "stopped at change {stop_at}: the same measurements as the uninterrupted run"
        );
        assert_eq!(resumed.outages, whole.outages, "stopped at change {stop_at}");
        assert_eq!(
            vms_on(&cluster, &HOSTS),
            whole_hosts,
            "stopped at change {stop_at}"
        );
        assert!(cluster.is_down("host1"));
        let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
        assert_eq!(
            journal.matches("{\"lost\":").count(),
            1,
            "stopped at change {stop_at}"
        );
    }
    assert!(
        before > 0 && after > 0,
        "stops before ({before}) and after ({after}) the failure"
    );
}

/// The four-host scenario with `extra` appended, written in `dir` with
/// the failure trace `csv`.
fn scenario_with(dir: &Path, csv: &str, extra: &str) -> Scenario {
    let text = std::fs::read_to_string(root().join(SCENARIO)).unwrap();
    std::fs::write(dir.join("failures.csv"), csv).unwrap();
    let file = dir.join("scenario.toml");
    std::fs::write(&file, format!("{text}\n{extra}")).unwrap();
    Scenario::load(&file).unwrap()
}

#[test]
fn scheduled_failures_and_maintenance_reach_the_emulated_hosts_in_virtual_time() {
    let dir = temp_dir("failures-trace");
    // host1 fails at 8 h for 4 h; host3 at 20 h until after the end;
    // host2 is drained from 15 h and maintained from 16 h to 18 h.
    let s = scenario_with(
        &dir,
        "host,start_s,duration_s\n1,28800,14400\n3,72000,43200\n",
        "[failures]\ntrace = \"failures.csv\"\nrestart = \"30m\"\n\n\
         [[maintenance]]\nhosts = [2]\nstart = \"16h\"\nduration = \"2h\"\ndrain = \"1h\"\n",
    );
    let cluster = emulated_cluster(&s, &hosts());
    let exec = Arc::new(executor(&cluster));
    let outcome = run_live(&s, exec, &options(&s, &dir, false, HostLoss::Stop)).unwrap();
    let o = &outcome.outages;
    assert_eq!(outcome.hosts_lost, 0, "nothing was found unreachable");
    assert_eq!((o.host_failures, o.maintenance_windows), (2, 1), "{o:?}");
    assert!(o.vms_lost >= 1 && o.vms_recovered >= 1, "{o:?}");
    assert!(
        o.drain_migrations >= 1,
        "the drain moved VMs through the executor: {o:?}"
    );
    // Each recovery waited its 30 min restart.
    assert!(
        o.recovery_ms >= o.vms_recovered as u128 * 1_800_000,
        "{} ms for {} VMs",
        o.recovery_ms,
        o.vms_recovered
    );
    // host1 and host2 are back; host3 is still down, and empty.
    assert!(!cluster.is_down("host1") && !cluster.is_down("host2"));
    assert!(cluster.is_down("host3"));
    assert!(cluster.host("host3").unwrap().domains.is_empty());
    assert_hosts_match_the_model(&cluster, &outcome, "scheduled outages");
    // The journal has the scenario's outages as inputs.
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    for (input, t) in [
        ("{\"host_down\":{\"host\":1,\"maintenance\":false}}", 28_800_000),
        ("{\"host_up\":{\"host\":1}}", 43_200_000),
        ("{\"drain\":{\"host\":2}}", 54_000_000),
        ("{\"host_down\":{\"host\":2,\"maintenance\":true}}", 57_600_000),
        ("{\"host_up\":{\"host\":2}}", 64_800_000),
        ("{\"host_down\":{\"host\":3,\"maintenance\":false}}", 72_000_000),
    ] {
        let line = format!("{{\"in\":{input},\"t\":{t}}}");
        assert_eq!(journal.matches(&line).count(), 1, "{line}");
    }
    // The model's account of the outages is the simulation's (a VM still
    // on host2 when its window began included: no other host had room).
    let sim = run_scenario(&s, RunOptions::default(), |_| {}).unwrap().remove(0);
    let sim = sim.outages.expect("the scenario has outages").site;
    let account = |o: &slivers::model::OutageStats| {
        (
            o.host_failures,
            o.maintenance_windows,
            o.vms_lost,
            o.vms_recovered,
            o.drain_migrations,
            o.missed_drains.clone(),
        )
    };
    assert_eq!(account(o), account(&sim));
}

#[test]
fn the_emulated_executor_on_the_wall_clock_carries_out_scheduled_failures() {
    let dir = temp_dir("failures-wall");
    scenario_with(
        &dir,
        "host,start_s,duration_s\n1,28800,14400\n3,72000,43200\n",
        "[failures]\ntrace = \"failures.csv\"\nrestart = \"30m\"\n",
    );
    let out = dir.join("out");
    let (ok, stdout, err) = crate::slivers(&[
        "live",
        dir.join("scenario.toml").to_str().unwrap(),
        "--executor",
        "emulated",
        "--time-scale",
        "1000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("2 host failures (0 found unreachable), 0 maintenance windows;"),
        "{stdout}"
    );
    // The hosts as the emulated executor kept them: host3 failed for good
    // (its VMs gone), host1 is back.
    let hosts = out.join("emulated/hosts");
    assert!(hosts.join("host3/unreachable").exists());
    assert!(!hosts.join("host1/unreachable").exists());
    let domains = |h: &str| std::fs::read_dir(hosts.join(h).join("domains")).unwrap().count();
    assert_eq!(domains("host3"), 0);
    assert!((0..3).map(|i| domains(&format!("host{i}"))).sum::<usize>() > 0);
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(journal.contains("{\"in\":{\"host_down\":{\"host\":3,\"maintenance\":false}},\"t\":72000000}"));
    assert!(
        out.join("failures.csv").exists(),
        "the outage outputs are written"
    );
}

#[test]
fn a_scenario_with_failures_recovers_from_a_lost_host_unless_told_to_stop() {
    let dir = temp_dir("failures-default");
    // A failure trace whose one failure comes after the end: the scenario
    // has `[failures]`, but only the lost host fails.
    scenario_with(
        &dir,
        "host,start_s,duration_s\n0,90000,60\n",
        "[failures]\ntrace = \"failures.csv\"\n",
    );
    let scenario = dir.join("scenario.toml");
    let live = |out: &Path, extra: &[&str]| {
        // host1 of the emulated hosts is down before the run begins.
        let marker = out.join("emulated/hosts/host1/unreachable");
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(&marker, "").unwrap();
        let mut args = vec![
            "live",
            scenario.to_str().unwrap(),
            "--executor",
            "emulated",
            "--time-scale",
            "1000000",
            "--retries",
            "0",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        crate::slivers(&args)
    };
    let (ok, stdout, err) = live(&dir.join("recover"), &[]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("1 host failures (1 found unreachable)"),
        "{stdout}"
    );
    let (ok, _, err) = live(&dir.join("stop"), &["--on-host-loss", "stop"]);
    assert!(!ok);
    assert!(
        err.contains("host1 is unreachable while running operation"),
        "{err}"
    );
}

/// The emulated executor, whose creates on `host` wait until the host is
/// first powered off (an operation in flight when its host fails).
struct CreateInFlight {
    inner: XenExecutor,
    host: &'static str,
    off: std::sync::atomic::AtomicBool,
    returned: AtomicU32,
}

impl Executor for CreateInFlight {
    fn host_info(&self, h: &str) -> Result<HostInfo, ExecError> {
        self.inner.host_info(h)
    }
    fn list(&self, h: &str) -> Result<Vec<VmInfo>, ExecError> {
        self.inner.list(h)
    }
    fn create(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        if h == self.host && !self.off.load(Ordering::SeqCst) {
            let t0 = std::time::Instant::now();
            while !self.off.load(Ordering::SeqCst) && t0.elapsed() < std::time::Duration::from_secs(20) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let r = self.inner.create(h, s);
            self.returned.fetch_add(1, Ordering::SeqCst);
            return r;
        }
        self.inner.create(h, s)
    }
    fn resize(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.inner.resize(h, s)
    }
    fn migrate(&self, f: &str, t: &str, n: &str) -> Result<(), ExecError> {
        self.inner.migrate(f, t, n)
    }
    fn save(&self, h: &str, n: &str, i: &str) -> Result<(), ExecError> {
        self.inner.save(h, n, i)
    }
    fn restore(&self, h: &str, s: &VmSpec, i: &str) -> Result<(), ExecError> {
        self.inner.restore(h, s, i)
    }
    fn destroy(&self, h: &str, n: &str) -> Result<(), ExecError> {
        self.inner.destroy(h, n)
    }
    fn reconcile_migration(&self, f: &str, t: &str, n: &str) -> Result<Option<String>, ExecError> {
        self.inner.reconcile_migration(f, t, n)
    }
    fn power(&self, h: &str, on: bool) -> Result<bool, ExecError> {
        let done = self.inner.power(h, on)?;
        if h == self.host && !on {
            self.off.store(true, Ordering::SeqCst);
        }
        Ok(done)
    }
}

#[test]
fn on_the_wall_clock_an_operation_whose_host_fails_is_dropped_when_it_returns() {
    let dir = temp_dir("failures-in-flight");
    // The golden scenario, host1 failing at 10 min for an hour: the batch
    // job's VM is being created there since 0 s (60 ms of wall time).
    std::fs::write(dir.join("failures.csv"), "host,start_s,duration_s\n1,600,3600\n").unwrap();
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        crate::golden_scenario_text() + "\n[failures]\ntrace = \"failures.csv\"\n",
    )
    .unwrap();
    let s = Scenario::load(&file).unwrap();
    let names = vec!["host0".to_string(), "host1".to_string()];
    let cluster = emulated_cluster(&s, &names);
    let exec = Arc::new(CreateInFlight {
        inner: executor(&cluster),
        host: "host1",
        off: std::sync::atomic::AtomicBool::new(false),
        returned: AtomicU32::new(0),
    });
    let opts = LiveOptions {
        pace: Pace::Wall { scale: 1e4 },
        hosts: names,
        ..options(&s, &dir, false, HostLoss::Recover)
    };
    let outcome = run_live(&s, exec.clone(), &opts).unwrap();
    assert_eq!(
        exec.returned.load(Ordering::SeqCst),
        1,
        "the create in flight returned, late"
    );
    assert_eq!(outcome.hosts_lost, 0, "its error was not a new failure");
    assert_eq!(outcome.outages.host_failures, 1);
    assert!(!cluster.is_down("host1"), "back after its hour");
    // Every VM the model has is where it says, once; nothing else runs.
    let x = executor(&cluster);
    let mut actual: Vec<(String, String)> = ["host0", "host1"]
        .iter()
        .flat_map(|h| x.list(h).unwrap().into_iter().map(|vm| (h.to_string(), vm.name)))
        .collect();
    actual.sort();
    let mut planned: Vec<(String, String)> = outcome
        .result
        .final_placement
        .iter()
        .map(|&(vm, h)| (format!("host{h}"), format!("sliver-{vm}")))
        .collect();
    planned.sort();
    assert!(!planned.is_empty());
    assert_eq!(actual, planned);
    // The failure came in at its scheduled time, however late the create.
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(journal.contains("{\"in\":{\"host_down\":{\"host\":1,\"maintenance\":false}},\"t\":600000}"));
}
