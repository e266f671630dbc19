//! The live driver end to end: the dry-run transcript, the Xen executor
//! over the local transport against the emulated `xl` on 4 hosts compared
//! with the simulation, a failing migration, and a controller killed with
//! SIGKILL and resumed from its journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slivers::experiment::{RunOptions, run_scenario};
use slivers::live::executor::{ExecError, Executor, HostInfo, VmInfo, VmSpec};
use slivers::live::transport::LocalTransport;
use slivers::live::xen::{XenConfig, XenExecutor};
use slivers::scenario::Scenario;
use slivers_xl_emu::HostConfig;
use slivers_xl_emu::dir::init_host;

use crate::{TempDir, root, slivers, temp_dir};

const SCENARIO: &str = "tests/golden/live/four-hosts.toml";
const HOSTS: [&str; 4] = ["h0", "h1", "h2", "h3"];

/// Four emulated hosts of the scenario's size, `xl` on a bin dir, and the
/// SSHCMD `xl migrate` uses between them.
struct Lab {
    dir: TempDir,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let dir = temp_dir(&format!("live-{tag}"));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let emu = Path::new(env!("CARGO_BIN_EXE_slivers-xl-emu"));
        std::os::unix::fs::symlink(emu, bin.join("xl")).unwrap();
        for h in HOSTS {
            init_host(&dir.join("state"), &HostConfig::new(h, 4096, 4)).unwrap();
        }
        let ssh = bin.join("mig-ssh");
        std::fs::write(
            &ssh,
            format!(
                "#!/bin/sh\nhost=\"$1\"\nshift\nexec env SLIVERS_XL_EMU_HOST=\"$host\" {} \"$@\"\n",
                emu.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.join("images")).unwrap();
        Lab { dir }
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// `slivers live` over the local transport against the emulator.
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_slivers"));
        c.current_dir(root())
            .args([
                "live",
                SCENARIO,
                "--executor",
                "xen",
                "--transport",
                "local",
                "-q",
            ])
            .args(["--hosts", &HOSTS.join(",")])
            .arg("--xl")
            .arg(self.dir.join("bin/xl"))
            .args(["--xl-host-env", "SLIVERS_XL_EMU_HOST"])
            .arg("--migrate-ssh")
            .arg(self.dir.join("bin/mig-ssh"))
            .arg("--config-dir")
            .arg(self.dir.join("cfg"))
            .arg("--image-dir")
            .arg(self.dir.join("images"))
            .arg("--out")
            .arg(self.out())
            .args(["--time-scale", "20000"])
            .args(extra)
            .env("SLIVERS_XL_EMU_DIR", self.dir.join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Every guest on every host, as `name -> hosts it is on`.
    fn actual(&self) -> BTreeMap<String, Vec<String>> {
        let t = LocalTransport::new(self.dir.join("bin/xl"))
            .env(
                "SLIVERS_XL_EMU_DIR",
                &self.dir.join("state").display().to_string(),
            )
            .host_name_var("SLIVERS_XL_EMU_HOST");
        let x = XenExecutor::new(std::sync::Arc::new(t), XenConfig::default());
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for h in HOSTS {
            for vm in x.list(h).unwrap() {
                out.entry(vm.name).or_default().push(h.to_string());
            }
        }
        out
    }

    fn fault(&self, host: &str, fault: &str) {
        std::fs::write(
            self.dir.join("state").join(host).join("faults"),
            format!("{fault}\n"),
        )
        .unwrap();
    }
}

/// The simulated run of the scenario: (migrations, final placement as `sliver-ID -> hN`).
fn simulated() -> (u64, BTreeMap<String, Vec<String>>) {
    let s = Scenario::load(&root().join(SCENARIO)).unwrap();
    let r = run_scenario(&s, RunOptions::default(), |_| {}).unwrap().remove(0);
    assert!(
        r.site.migrations() > 0,
        "the scenario must migrate for the test to mean anything"
    );
    let placement = r
        .final_placement
        .iter()
        .map(|&(vm, h)| (format!("sliver-{vm}"), vec![format!("h{h}")]))
        .collect();
    (r.site.migrations(), placement)
}

fn summary_migrations(dir: &Path) -> u64 {
    let s = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let header: Vec<&str> = s.lines().next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == "migrations").unwrap();
    s.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(i)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn xen_over_local_emulated_xl_matches_the_simulation() {
    let lab = Lab::new("e2e");
    let out = lab.command(&[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (migrations, placement) = simulated();
    assert_eq!(summary_migrations(&lab.out()), migrations);
    // Every VM the simulation ends with runs exactly once, on the same host.
    assert_eq!(lab.actual(), placement);
}

#[test]
fn dry_run_transcript_is_golden() {
    let dir = temp_dir("live-dry");
    let (ok, _, err) = slivers(&[
        "live",
        "tests/golden/small/scenario.toml",
        "--pair",
        "room-for-growth/energy-aware",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    let got = std::fs::read_to_string(dir.join("commands.jsonl")).unwrap();
    let golden = root().join("tests/golden/live/small-dry-run.jsonl");
    if std::env::var_os("SLIVERS_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(
        got,
        std::fs::read_to_string(&golden).unwrap(),
        "regenerate with SLIVERS_BLESS=1"
    );
    // The dry run follows the model exactly: the golden scenario's one migration.
    assert_eq!(summary_migrations(&dir), 1);
    // Without --resume, an existing journal is not clobbered.
    let (ok, _, err) = slivers(&[
        "live",
        "tests/golden/small/scenario.toml",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("journal.jsonl") && err.contains("--resume"), "{err}");
    // ... and refused before the dry run's transcript is started afresh.
    assert_eq!(std::fs::read_to_string(dir.join("commands.jsonl")).unwrap(), got);
}

#[test]
fn resume_without_a_journal_is_an_error_naming_the_folder() {
    let dir = temp_dir("live-nojournal");
    let out = dir.join("mistyped");
    for executor in ["dry-run", "emulated"] {
        let (ok, stdout, err) = slivers(&[
            "live",
            "tests/golden/small/scenario.toml",
            "--executor",
            executor,
            "--out",
            out.to_str().unwrap(),
            "--resume",
        ]);
        assert!(!ok, "{stdout}");
        assert_eq!(
            err.trim(),
            format!(
                "error: nothing to resume in {}: its journal {} is missing or empty (is --out the folder of the run?); drop --resume to start a new run",
                out.display(),
                out.join("journal.jsonl").display()
            )
        );
        assert!(!out.exists(), "nothing is created for a run that does not start");
    }
    // An empty journal (a run killed before its first record) is no run either.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("journal.jsonl"), "").unwrap();
    let (ok, _, err) = slivers(&[
        "live",
        "tests/golden/small/scenario.toml",
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ]);
    assert!(!ok && err.contains("nothing to resume"), "{err}");
    assert!(!out.join("summary.csv").exists());
}

#[test]
fn failed_migrations_are_retried_and_the_vm_exists_once() {
    let lab = Lab::new("faults");
    // The simulation's first migration leaves h0 or h1..h3; fail the first
    // migration out of every host, once before and once after the handshake.
    for (i, h) in HOSTS.iter().enumerate() {
        lab.fault(
            h,
            if i % 2 == 0 {
                "migrate-before-handshake"
            } else {
                "migrate-after-handshake"
            },
        );
    }
    let out = lab.command(&[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let consumed = HOSTS
        .iter()
        .filter(|h| {
            // The emulator empties a fault's line once it has fired.
            std::fs::read_to_string(lab.dir.join("state").join(h).join("faults"))
                .is_ok_and(|f| f.trim().is_empty())
        })
        .count();
    assert!(consumed > 0, "some injected migration failure was hit");
    let (migrations, placement) = simulated();
    assert_eq!(summary_migrations(&lab.out()), migrations);
    assert_eq!(lab.actual(), placement, "no VM lost or duplicated");
    let journal = std::fs::read_to_string(lab.out().join("journal.jsonl")).unwrap();
    assert!(!journal.contains("\"fail\""), "retries recovered every failure");
}

#[test]
fn a_killed_controller_resumes_from_its_journal() {
    let lab = Lab::new("kill");
    let (migrations, placement) = simulated();
    let journal = lab.out().join("journal.jsonl");
    // Kill it three times part way (each time once the journal has grown
    // past a mark), resuming after each kill, then let it finish.
    for (i, mark) in [3_000u64, 7_000, 12_000].into_iter().enumerate() {
        let mut child = lab
            .command(if i == 0 { &[] } else { &["--resume"] })
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while std::fs::metadata(&journal).map_or(0, |m| m.len()) < mark {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the run did not get going"
            );
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(
        !lab.out().join("summary.csv").exists(),
        "every kill came before the end"
    );
    let out = lab.command(&["--resume"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary_migrations(&lab.out()), migrations);
    assert_eq!(lab.actual(), placement, "no VM lost or duplicated");
}

/// An executor whose one host never answers (as ssh exiting 255 reports).
struct HostDown {
    inner: slivers::live::xen::XenExecutor,
    down: &'static str,
}

impl HostDown {
    fn check(&self, host: &str) -> Result<(), ExecError> {
        if host == self.down {
            return Err(ExecError::Unreachable {
                host: host.to_string(),
                stderr: "ssh: connect to host port 22: No route to host".into(),
            });
        }
        Ok(())
    }
}

impl Executor for HostDown {
    fn host_info(&self, h: &str) -> Result<HostInfo, ExecError> {
        self.check(h)?;
        self.inner.host_info(h)
    }
    fn list(&self, h: &str) -> Result<Vec<VmInfo>, ExecError> {
        self.check(h)?;
        self.inner.list(h)
    }
    fn create(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.check(h)?;
        self.inner.create(h, s)
    }
    fn resize(&self, h: &str, s: &VmSpec) -> Result<(), ExecError> {
        self.check(h)?;
        self.inner.resize(h, s)
    }
    fn migrate(&self, f: &str, t: &str, n: &str) -> Result<(), ExecError> {
        self.check(f)?;
        self.check(t)?;
        self.inner.migrate(f, t, n)
    }
    fn save(&self, h: &str, n: &str, i: &str) -> Result<(), ExecError> {
        self.check(h)?;
        self.inner.save(h, n, i)
    }
    fn restore(&self, h: &str, s: &VmSpec, i: &str) -> Result<(), ExecError> {
        self.check(h)?;
        self.inner.restore(h, s, i)
    }
    fn destroy(&self, h: &str, n: &str) -> Result<(), ExecError> {
        self.check(h)?;
        self.inner.destroy(h, n)
    }
    fn reconcile_migration(&self, f: &str, t: &str, n: &str) -> Result<Option<String>, ExecError> {
        self.check(f)?;
        self.check(t)?;
        self.inner.reconcile_migration(f, t, n)
    }
}

/// The golden scenario's first pair (follow-broker), virtually paced on
/// hosts `host0` and `host1`, journaled in `dir`.
fn golden_on_two_hosts(dir: &Path, retries: u32) -> (Scenario, slivers::live::driver::LiveOptions) {
    use slivers::live::driver::{LiveOptions, Pace};
    let s = Scenario::load(&root().join("tests/golden/small/scenario.toml")).unwrap();
    let opts = LiveOptions {
        pair: s.pairs[0],
        seed: s.seed,
        pace: Pace::Virtual,
        journal: dir.join("journal.jsonl"),
        resume: false,
        hosts: vec!["host0".into(), "host1".into()],
        image_dir: "/images".into(),
        vm_prefix: "sliver-".into(),
        retries,
        on_host_loss: slivers::live::driver::HostLoss::Stop,
    };
    (s, opts)
}

#[test]
fn an_unreachable_host_is_reported_with_its_vms_unknown_not_gone() {
    use slivers::live::driver::{LiveError, run_live};
    use slivers::live::transport::InProcessTransport;
    use slivers_xl_emu::cluster::EmuCluster;
    let dir = temp_dir("live-down");
    let cluster = std::sync::Arc::new(EmuCluster::new());
    for h in ["host0", "host1"] {
        cluster.add_host(HostConfig::new(h, 2048, 2));
    }
    let exec = HostDown {
        inner: XenExecutor::new(
            std::sync::Arc::new(InProcessTransport::new(cluster)),
            XenConfig::default(),
        ),
        down: "host1",
    };
    // The golden scenario under follow-broker: vm1 (the batch job) goes to host1 at 0 s.
    let (s, opts) = golden_on_two_hosts(&dir, 2);
    let err = run_live(&s, std::sync::Arc::new(exec), &opts).unwrap_err();
    let LiveError::Unreachable { host, vms, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        (host.as_str(), vms.clone()),
        ("host1", vec!["sliver-1".to_string()])
    );
    assert!(err.to_string().contains("unknown, not gone"), "{err}");
    // The failure is journaled before the run stops.
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(journal.lines().last().unwrap().contains("\"fail\""), "{journal}");
}

#[test]
fn with_recovery_an_unreachable_host_is_a_failure_and_the_run_goes_on() {
    use slivers::live::driver::{HostLoss, run_live};
    use slivers::live::transport::InProcessTransport;
    use slivers_xl_emu::cluster::EmuCluster;
    let dir = temp_dir("live-down-recover");
    let cluster = std::sync::Arc::new(EmuCluster::new());
    for h in ["host0", "host1"] {
        cluster.add_host(HostConfig::new(h, 2048, 2));
    }
    let exec = HostDown {
        inner: XenExecutor::new(
            std::sync::Arc::new(InProcessTransport::new(cluster.clone())),
            XenConfig::default(),
        ),
        down: "host1",
    };
    let (s, mut opts) = golden_on_two_hosts(&dir, 2);
    opts.on_host_loss = HostLoss::Recover;
    let outcome = run_live(&s, std::sync::Arc::new(exec), &opts).unwrap();
    // The batch job's VM was to go to host1 at 0 s: host1 failed there,
    // before anything ran on it, and everything ran on host0.
    assert_eq!(outcome.hosts_lost, 1);
    assert_eq!(outcome.outages.host_failures, 1);
    assert!(outcome.result.final_placement.iter().all(|&(_, h)| h == 0));
    assert!(cluster.host("host1").unwrap().domains.is_empty());
    let on_host0: Vec<String> = cluster.host("host0").unwrap().domains.into_keys().collect();
    let planned: Vec<String> = outcome
        .result
        .final_placement
        .iter()
        .map(|&(vm, _)| format!("sliver-{vm}"))
        .collect();
    // What the model planned runs there (the web VM that host0 cannot
    // grow waits for a place, running where it is).
    assert!(!planned.is_empty());
    assert!(
        planned.iter().all(|p| on_host0.contains(p)),
        "{planned:?} {on_host0:?}"
    );
    // The batch job's VM ran on host0 instead, and is gone with its lease.
    assert!(!on_host0.contains(&"sliver-1".to_string()), "{on_host0:?}");
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(journal.contains("{\"lost\":1,\"op\":1,"), "{journal}");
    assert!(!journal.contains("\"fail\""), "{journal}");
}

#[test]
fn the_emulated_executor_makes_the_simulations_decisions() {
    // In-memory hosts with modelled delays, at a time scale where every
    // operation is far slower than the clock: the decisions do not change.
    let dir = temp_dir("live-emulated");
    let (ok, _, err) = slivers(&[
        "live",
        SCENARIO,
        "--executor",
        "emulated",
        "--time-scale",
        "1000000",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    let sim = temp_dir("live-emulated-sim");
    let (ok, _, err) = slivers(&["run", SCENARIO, "--out", sim.to_str().unwrap(), "-q"]);
    assert!(ok, "{err}");
    let columns = |d: &Path| -> Vec<String> {
        let s = std::fs::read_to_string(d.join("summary.csv")).unwrap();
        let header: Vec<String> = s.lines().next().unwrap().split(',').map(String::from).collect();
        let row: Vec<String> = s.lines().nth(1).unwrap().split(',').map(String::from).collect();
        [
            "migrations",
            "requests",
            "granted",
            "rejected",
            "resizes",
            "jobs_started",
        ]
        .iter()
        .map(|c| row[header.iter().position(|h| h == c).unwrap()].clone())
        .collect()
    };
    assert_eq!(columns(&dir), columns(&sim));
}

#[test]
fn duplicate_host_names_are_refused_before_any_operation() {
    let dir = temp_dir("live-dup-hosts");
    let (ok, _, err) = slivers(&[
        "live",
        "tests/golden/small/scenario.toml",
        "--hosts",
        "a,a",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "error: host name `a` is given twice (--hosts): each scenario host needs a host of its own"
    );
    assert!(!dir.join("journal.jsonl").exists(), "nothing journaled");
}

#[test]
fn a_failed_operation_reads_as_words_with_its_cause_once() {
    use slivers::live::driver::{LiveError, run_live};
    use slivers::live::transport::InProcessTransport;
    use slivers_xl_emu::cluster::EmuCluster;
    let dir = temp_dir("live-fail-words");
    // host1 is far too small for the batch job's VM the model puts there.
    let cluster = std::sync::Arc::new(EmuCluster::new());
    cluster.add_host(HostConfig::new("host0", 2048, 2));
    cluster.add_host(HostConfig::new("host1", 16, 2));
    let exec = XenExecutor::new(
        std::sync::Arc::new(InProcessTransport::new(cluster)),
        XenConfig::default(),
    );
    let (s, opts) = golden_on_two_hosts(&dir, 0);
    let err = run_live(&s, std::sync::Arc::new(exec), &opts).unwrap_err();
    assert!(matches!(err, LiveError::Failed { .. }), "{err}");
    let text = slivers::error_chain(&err);
    assert!(
        text.starts_with("operation 1 (create vm1 on host1 at {cpu ")
            && text.contains(", as sliver-1 on host1) failed"),
        "{text}"
    );
    assert!(
        !text.contains("VmId(") && !text.contains("Resources(["),
        "no Debug structs: {text}"
    );
    // The executor's message appears once, after the driver's.
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(text.matches(&cause).count(), 1, "{text}");
    assert!(text.ends_with(&cause), "{text}");
}
