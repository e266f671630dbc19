//! VM-request traces and runs at scale: readers, the generator, a
//! hand-checked run, reject against queue, determinism, and the invariant
//! checker on 10^4 hosts.

use std::io::Write;

use crate::{slivers, temp_dir};
use slivers::engine::SimTime;
use slivers::experiment::vmreq::{VmRunConfig, run_vm_requests};
use slivers::rng::SimRng;
use slivers::scenario::vmreq::OnFull;
use slivers::trace::vmreq::{VmReqParams, generate_vm_requests, read_vm_requests};
use slivers_policy::{PlacementKind, Resources};

/// Two hosts of 4 cores / 4 GiB; five VMs (cores, GiB).
const TINY_TRACE: &str = "vm_id,start_s,end_s,cpu,memory
1,0,100,2,2
2,10,60,3,1
3,20,,1,1
4,30,80,2,2
5,40,90,1,3
";

fn tiny_scenario(dir: &std::path::Path, on_full: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("tiny.csv"), TINY_TRACE).unwrap();
    let s = dir.join(format!("tiny-{on_full}.toml"));
    std::fs::write(
        &s,
        format!(
            "duration = 120\nperiod = 30\n[hosts]\ncount = 2\ncpu_millicores = 4000\nmemory_mib = 4096\n\
             [vm_requests]\ntrace = \"tiny.csv\"\npolicy = \"best-fit\"\non_full = \"{on_full}\"\n"
        ),
    )
    .unwrap();
    s
}

fn run_cli(scenario: &std::path::Path, out: &std::path::Path) -> (String, String) {
    let (ok, stdout, stderr) = slivers(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--check",
    ]);
    assert!(ok, "{stdout}{stderr}");
    (
        std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        std::fs::read_to_string(out.join("utilization.csv")).unwrap(),
    )
}

/// Best fit, by hand (free = (cores, GiB) per host; ties go to host 0):
///
/// * t=0   vm1 (2,2): both hosts empty, tie -> host0 (2,2 used).
/// * t=10  vm2 (3,1): host0 has 2 cores free -> host1 (3,1 used).
/// * t=20  vm3 (1,1): left after placing: host0 (1,1) = 1/4+1/4, host1
///   (0,2) = 0+2/4, a tie -> host0 (3,3 used).
/// * t=30  vm4 (2,2): host0 free (1,1), host1 free (1,3): no room -> rejected.
/// * t=40  vm5 (1,3): only host1 (free 1,3) -> host1 (4,4 used).
/// * t=60  vm2 leaves host1; t=90 vm5 leaves (host1 idle); t=100 vm1 leaves.
///
/// 5 arrivals + 3 departures = 8 events; vm3 runs at the end. Host0 is active
/// 0..120, host1 10..90: mean active (120 + 80) / 120 = 1.666667. Core-seconds:
/// 2x100 + 3x50 + 1x100 + 1x50 = 500 of 8 x 120: 0.520833; GiB-seconds:
/// 2x100 + 1x50 + 1x100 + 3x50 = 500: 0.520833. Samples (state before the
/// instant): t=30: vm1..3 (6 cores, 4 GiB); t=60: vm1, 2, 3, 5 (7, 7);
/// t=90: vm1, 3, 5 (4, 6).
///
/// With a queue, vm4 waits: vm2 leaving at 60 frees (3,1) on host1, not
/// enough memory; vm5 leaving at 90 empties host1 and vm4 starts there (its
/// 50 s end after the run). The departures are the same three.
#[test]
fn hand_checked_tiny_run_reject_and_queue() {
    let dir = temp_dir("scale-tiny");
    let (summary, util) = run_cli(&tiny_scenario(&dir, "reject"), &dir.join("reject"));
    assert_eq!(
        summary,
        "policy,on_full,hosts,arrived,placed,placed_from_queue,rejected,queued,queued_at_end,max_queued,finished,running_at_end,peak_active_hosts,mean_active_hosts,mean_cpu_util,mean_memory_util,events\n\
         best-fit,reject,2,5,4,0,1,0,0,0,3,1,2,1.666667,0.520833,0.520833,8\n"
    );
    assert_eq!(
        util,
        "time_s,active_hosts,running_vms,queued_vms,cpu_util,memory_util\n\
         0,0,0,0,0,0\n30,2,3,0,0.75,0.5\n60,2,4,0,0.875,0.875\n90,2,3,0,0.5,0.75\n"
    );
    let (summary, util) = run_cli(&tiny_scenario(&dir, "queue"), &dir.join("queue"));
    assert!(
        summary.ends_with("\nbest-fit,queue,2,5,5,1,0,1,0,1,3,2,2,1.916667,0.583333,0.583333,8\n"),
        "{summary}"
    );
    // vm4 waits from 30 to 90.
    assert!(util.contains("\n60,2,4,1,0.875,0.875\n"), "{util}");
}

/// A VM-request run writes a manifest and a figure of active hosts and
/// utilisation (which `slivers plot` redraws byte for byte), and prints a
/// summary in words, not CSV.
#[test]
fn a_run_writes_a_manifest_and_a_utilization_figure() {
    let dir = temp_dir("scale-figure");
    let (s, out) = (tiny_scenario(&dir, "reject"), dir.join("out"));
    let (ok, stdout, stderr) = slivers(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("policy,on_full"), "raw CSV printed: {stdout}");
    assert!(
        stdout.contains("best-fit on 2 hosts, on_full = reject: 5 VMs arrived, 4 placed")
            && stdout.contains("active hosts: peak 2, mean 1.7")
            && stdout.contains("manifest.toml")
            && stdout.contains("utilization.png"),
        "{stdout}"
    );
    let m: slivers::report::vmrun::VmRunManifest =
        toml::from_str(&std::fs::read_to_string(out.join("manifest.toml")).unwrap()).unwrap();
    assert_eq!(
        (m.kind.as_str(), m.hosts, m.policy.as_str(), m.on_full.as_str()),
        ("vm-requests", 2, "best-fit", "reject")
    );
    assert_eq!(m.scenario, s.display().to_string());
    let svg = std::fs::read_to_string(out.join("utilization.svg")).unwrap();
    for text in [
        "active hosts (of 2)",
        "CPU held by VMs",
        "memory held by VMs",
        "share of the cluster",
    ] {
        assert!(svg.contains(text), "no {text:?} in the figure");
    }
    let png = std::fs::read(out.join("utilization.png")).unwrap();
    let pdf = std::fs::read(out.join("utilization.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    std::fs::remove_file(out.join("utilization.png")).unwrap();
    std::fs::remove_file(out.join("utilization.pdf")).unwrap();
    let (ok, said, err) = slivers(&["plot", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(said.contains("wrote 3 figures"), "{said}");
    assert!(
        std::fs::read(out.join("utilization.pdf")).unwrap() == pdf,
        "plot drew another PDF"
    );
    assert!(
        std::fs::read(out.join("utilization.png")).unwrap() == png,
        "plot drew other bytes"
    );
    assert_eq!(std::fs::read_to_string(out.join("utilization.svg")).unwrap(), svg);
    // The folder is replaced as a set on a rerun (its files are a run's).
    let (ok, _, err) = slivers(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    assert!(ok, "{err}");
}

#[test]
fn generator_is_deterministic_and_reads_back() {
    let dir = temp_dir("scale-gen");
    let generate = |seed: &str, name: &str| {
        let out = dir.join(name);
        let (ok, stdout, stderr) = slivers(&[
            "trace",
            "generate",
            "vm-requests",
            "--vms",
            "3000",
            "--hosts",
            "20",
            "--days",
            "3",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("3000 VMs"), "{stdout}");
        std::fs::read(out).unwrap()
    };
    let a = generate("4", "a.csv");
    assert_eq!(a, generate("4", "b.csv"));
    assert_ne!(a, generate("5", "c.csv"));
    assert!(a.starts_with(b"vmid,cpu,memory,time,type\n"));
    // The file holds exactly what the library generates.
    let p = VmReqParams {
        vms: 3000,
        hosts: 20,
        capacity: Resources::new(8000, 16384, 1, 1),
        days: 3,
        load: 0.7,
    };
    let mine = generate_vm_requests(&p, &mut SimRng::seed_from_u64(4));
    assert_eq!(read_vm_requests(&dir.join("a.csv")).unwrap(), mine);
    // And gzip reads the same.
    let gz = dir.join("a.csv.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&a).unwrap();
    enc.finish().unwrap();
    assert_eq!(read_vm_requests(&gz).unwrap(), mine);
}

#[test]
fn bad_traces_and_scenarios_name_the_place() {
    let dir = temp_dir("scale-bad");
    std::fs::write(
        dir.join("tiny.csv"),
        "vmid,cpu,memory,time,type\n1,2,4,0,0\n1,2,4,x,1\n",
    )
    .unwrap();
    let s = dir.join("s.toml");
    std::fs::write(&s, "[vm_requests]\ntrace = \"tiny.csv\"\n").unwrap();
    let (ok, _, stderr) = slivers(&["validate", s.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("tiny.csv:3: column 4 (time): expected seconds >= 0, found \"x\""),
        "{stderr}"
    );
    std::fs::write(&s, "[vm_requests]\ntrace = \"tiny.csv\"\npolicy = \"fastest\"\n").unwrap();
    let (ok, _, stderr) = slivers(&["run", s.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("s.toml") && stderr.contains("`first-fit`, `best-fit`, `worst-fit`"),
        "{stderr}"
    );
    std::fs::write(dir.join("tiny.csv"), "vmid,cpu,memory,time,type\n1,2,4,0,0\n").unwrap();
    std::fs::write(&s, "[vm_requests]\ntrace = \"tiny.csv\"\n").unwrap();
    let (ok, stdout, stderr) = slivers(&["validate", s.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("100 hosts, 1 VMs, best-fit with on_full = reject"),
        "{stdout}"
    );
}

#[test]
fn outputs_are_deterministic() {
    let dir = temp_dir("scale-det");
    let s = dir.join("gen.toml");
    std::fs::write(
        &s,
        "duration = \"2d\"\nseed = 9\n[hosts]\ncount = 50\n[vm_requests]\n\
         trace = { generate = \"vm-requests\", vms = 4000, load = 0.9 }\non_full = \"queue\"\n",
    )
    .unwrap();
    let a = run_cli(&s, &dir.join("a"));
    let b = run_cli(&s, &dir.join("b"));
    assert_eq!(a, b);
    assert_eq!(a.1.lines().count(), 1 + 48);
    let (ok, _, _) = slivers(&[
        "run",
        s.to_str().unwrap(),
        "--out",
        dir.join("c").to_str().unwrap(),
        "-q",
        "--seed",
        "10",
    ]);
    assert!(ok);
    assert_ne!(std::fs::read_to_string(dir.join("c/summary.csv")).unwrap(), a.0);
}

/// 10^4 hosts, a reduced trace, every policy with a queue and best fit
/// rejecting: the checker (on in debug builds; forced here) runs after every
/// event and fully every 4096 events, including index == linear scan.
#[test]
fn invariants_hold_on_ten_thousand_hosts() {
    let capacity = Resources::new(32_000, 131_072, 1, 1);
    let p = VmReqParams {
        vms: 15_000,
        hosts: 10_000,
        capacity,
        days: 1,
        // Calibrated for 150 hosts' worth of load on 10^4 hosts would leave
        // them idle: overload a day's worth instead so hosts fill and queue.
        load: 1.5,
    };
    let mut trace = generate_vm_requests(&p, &mut SimRng::seed_from_u64(1));
    // Shorten lifetimes 100x-fold to get departures within the day.
    for v in &mut trace.vms {
        if v.end != u64::MAX {
            v.end = v.start + (v.end - v.start) / 100;
        }
    }
    for (policy, on_full) in [
        (PlacementKind::BestFit, OnFull::Queue),
        (PlacementKind::FirstFit, OnFull::Queue),
        (PlacementKind::WorstFit, OnFull::Queue),
        (PlacementKind::BestFit, OnFull::Reject),
    ] {
        let cfg = VmRunConfig {
            hosts: 300,
            capacity,
            policy,
            on_full,
            duration: SimTime::from_secs(86_400),
            sample_every: SimTime::from_secs(3600),
            check: true,
        };
        // A small cluster that fills up, then the 10^4-host one.
        let small = run_vm_requests(&trace, &cfg).unwrap();
        assert!(
            small.rejected + small.queued > 0,
            "{policy} {on_full:?}: the small cluster never filled"
        );
        let big = run_vm_requests(&trace, &VmRunConfig { hosts: 10_000, ..cfg }).unwrap();
        assert_eq!(big.placed + big.queued_at_end + big.rejected, 15_000);
        // Worst fit spreads over every host and leaves none empty for the
        // 32-core VMs; the packing policies place everything.
        if policy != PlacementKind::WorstFit {
            assert_eq!(big.placed, 15_000, "{policy}");
        }
        assert!(big.events >= 15_000);
    }
}
