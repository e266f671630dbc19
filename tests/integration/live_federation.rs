//! The live driver over a federation: two sites with hosts of different
//! sizes, two brokers each delegated hosts of both, one guest per broker.
//! Each site's hosts are its slice of the run's host list.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use slivers::live::driver::{HostLoss, LiveError, LiveOptions, Pace, run_live};
use slivers::live::executor::Executor;
use slivers::live::setup::emulated_cluster;
use slivers::scenario::Scenario;

use crate::live_resume::{FailsOnce, executor, model_placement, vms_on};
use crate::{slivers, temp_dir};

/// Site "small": hosts 0-1 of the run (2 cores, 2 GiB); site "big": hosts
/// 2-4 (4 cores, 4 GiB). Broker "east" has one host of "small" and two of
/// "big", broker "west" the others; the web guest leases from "east", the
/// batch guest from "west".
const SCENARIO: &str = r#"
name = "federation-live"
seed = 1
duration = "24h"
period = "1h"

[hosts]
cpu_millicores = 2000
memory_mib = 2048
bandwidth_mbps = 1000
disk_gib = 20

[sliver]
quantum = 0.25

[[site]]
name = "small"
hosts = 2

[[site]]
name = "big"
hosts = 3
cpu_millicores = 4000
memory_mib = 4096

[[broker]]
name = "east"

[[broker]]
name = "west"

[[delegation]]
site = "small"
broker = "east"
hosts = [0]

[[delegation]]
site = "small"
broker = "west"
hosts = [1]

[[delegation]]
site = "big"
broker = "east"
hosts = "0-1"

[[delegation]]
site = "big"
broker = "west"
hosts = [2]

[[guest]]
name = "web"
kind = "web"
trace = { generate = "web", base_rate = 2000, flash_crowds = 1 }
peak_units = 12
brokers = ["east"]

[[guest]]
name = "batch"
kind = "batch"
trace = { generate = "batch", nodes = 3, target_load = 0.6 }
brokers = ["west"]

[[pairs]]
provisioning = "migrating"
placement = "energy-aware"
"#;

/// The executor hosts: site "small"'s two, then site "big"'s three.
const HOSTS: [&str; 5] = ["small0", "small1", "big0", "big1", "big2"];
/// Each site's slice of [`HOSTS`].
const SITES: [&[&str]; 2] = [&["small0", "small1"], &["big0", "big1", "big2"]];

fn write_scenario(dir: &Path) -> PathBuf {
    let path = dir.join("federation.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    path
}

fn hosts() -> Vec<String> {
    HOSTS.iter().map(|h| h.to_string()).collect()
}

fn options(s: &Scenario, dir: &Path, resume: bool) -> LiveOptions {
    LiveOptions {
        pair: s.pairs[0],
        seed: s.seed,
        pace: Pace::Virtual,
        journal: dir.join("journal.jsonl"),
        resume,
        hosts: hosts(),
        image_dir: dir.join("images").display().to_string(),
        vm_prefix: "sliver-".into(),
        retries: 0,
        on_host_loss: HostLoss::Stop,
    }
}

#[test]
fn a_federated_run_puts_each_sites_vms_on_its_own_hosts_and_resumes() {
    let dir = temp_dir("live-federation");
    let s = Scenario::load(&write_scenario(&dir)).unwrap();
    assert_eq!(s.hosts, 5, "the hosts of both sites");

    // The emulated hosts have their own site's size.
    let cluster = emulated_cluster(&s, &hosts());
    let x = executor(&cluster);
    for (host, mib, cpus) in [("small1", 2048, 2), ("big0", 4096, 4), ("big2", 4096, 4)] {
        let info = x.host_info(host).unwrap();
        assert_eq!((info.total_memory_mib, info.nr_cpus), (mib, cpus), "{host}");
    }

    let whole_dir = dir.join("whole");
    std::fs::create_dir_all(&whole_dir).unwrap();
    let whole = run_live(&s, Arc::new(executor(&cluster)), &options(&s, &whole_dir, false)).unwrap();
    assert!(
        whole.result.site.migrations() > 0 && whole.ops > 30,
        "the run must migrate and run many operations for the test to mean anything"
    );
    let federation = whole.result.federation.as_ref().expect("a federated result");
    assert_eq!(federation.sites.len(), 2);

    // Every VM the model has is on its host, once; nothing else is anywhere.
    let placed = model_placement(&whole, &HOSTS);
    assert!(!placed.is_empty());
    assert_eq!(vms_on(&cluster, &HOSTS), placed);

    // Each site's VMs are on that site's hosts, and both sites hold some
    // (the big site's hosts carry VMs larger than a small host).
    assert_eq!(whole.site_vms.len(), 2);
    let found = vms_on(&cluster, &HOSTS);
    for (site, vms) in whole.site_vms.iter().enumerate() {
        assert!(!vms.is_empty(), "site {site} holds no VM at the end");
        for vm in vms {
            let name = format!("sliver-{}", vm.0);
            let where_: Vec<&str> = found
                .iter()
                .filter(|(_, n)| *n == name)
                .map(|(h, _)| h.as_str())
                .collect();
            assert_eq!(where_.len(), 1, "{name}: {where_:?}");
            assert!(
                SITES[site].contains(&where_[0]),
                "{name} of site {site} on {}",
                where_[0]
            );
        }
    }

    // Stopped at a change in the middle of the run (after it took effect,
    // its report lost) and resumed over the same hosts: the same end.
    let cluster = emulated_cluster(&s, &hosts());
    let stopped_dir = dir.join("stopped");
    std::fs::create_dir_all(&stopped_dir).unwrap();
    let fail_at = whole.ops as u32 / 2;
    let failing = FailsOnce {
        inner: executor(&cluster),
        changes: AtomicU32::new(0),
        fail_at,
        after: true,
    };
    let err = run_live(&s, Arc::new(failing), &options(&s, &stopped_dir, false)).unwrap_err();
    assert!(matches!(err, LiveError::Failed { .. }), "{err}");
    let resumed = run_live(&s, Arc::new(executor(&cluster)), &options(&s, &stopped_dir, true)).unwrap();
    assert!(resumed.resumed >= 1, "the failed operation is run again");
    assert!(resumed.ops < whole.ops, "it continued the run");
    assert_eq!(resumed.result, whole.result);
    assert_eq!(resumed.site_vms, whole.site_vms);
    assert_eq!(vms_on(&cluster, &HOSTS), placed);
}

#[test]
fn slivers_live_runs_a_federation_on_emulated_hosts_and_writes_sites_csv() {
    let dir = temp_dir("live-federation-cli");
    let scenario = write_scenario(&dir);
    let out = dir.join("out");
    let (ok, _, err) = slivers(&[
        "live",
        scenario.to_str().unwrap(),
        "--executor",
        "emulated",
        "--time-scale",
        "1000000",
        "--hosts",
        &HOSTS.join(","),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    let sites = std::fs::read_to_string(out.join("sites.csv")).unwrap();
    let rows: Vec<Vec<&str>> = sites.lines().map(|l| l.split(',').collect()).collect();
    let col = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    let (site, hosts) = (col("site"), col("hosts"));
    let named: Vec<(&str, &str)> = rows[1..].iter().map(|r| (r[site], r[hosts])).collect();
    assert_eq!(named, [("small", "2"), ("big", "3")], "{sites}");
    assert!(out.join("brokers.csv").is_file());
    // The emulated hosts kept in the folder are the five named, each with
    // its site's memory and CPUs.
    for (host, size) in [
        ("small0", "2048"),
        ("small1", "2048"),
        ("big0", "4096"),
        ("big2", "4096"),
    ] {
        let file = out.join("emulated/hosts").join(host).join("host.json");
        let json = std::fs::read_to_string(&file).unwrap();
        let line = json
            .lines()
            .find(|l| l.contains("total_memory_mib"))
            .unwrap_or_else(|| panic!("{json}"));
        assert!(line.contains(size), "{host}: {line}");
    }
}
