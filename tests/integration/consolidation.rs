//! Consolidation runs (`[consolidation]` scenarios, issue 12): invariants
//! for every policy kind, exact energy and migration-time numbers, the
//! metrics' definitions, determinism across seeds and thread counts, bad
//! input, the output folder, the two migration models, and VMs arriving and
//! leaving.
//!
//! Runs use `tests/golden/consolidation/{small,tiny}.toml` and short slices
//! of the real PlanetLab day in `../shared/traces/planetlab/20110303`
//! (through `scenarios/planetlab-20110303.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use slivers::engine::SimTime;
use slivers::experiment::consolidate::{ConsRun, ConsRunError, ConsRunResult, Decision, run_all};
use slivers::model::migration::CloudSimMigration;
use slivers::scenario::consolidation::ConsScenario;
use slivers::trace::utilization::UtilizationTrace;
use slivers_policy::consolidation::{Consolidation, PowerModel};
use slivers_policy::{HostId, VmId};

use crate::{root, temp_dir};

const SMALL: &str = "tests/golden/consolidation/small.toml";
const TINY: &str = "tests/golden/consolidation/tiny.toml";
const PLANETLAB: &str = "scenarios/planetlab-20110303.toml";

/// The scenario file `file` (relative to the repository) as a TOML table,
/// its trace path made absolute so that the text can be written anywhere.
fn table(file: &str) -> toml::Table {
    let path = root().join(file);
    let mut t: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let base = path.parent().unwrap().to_path_buf();
    if let Some(trace) = cons(&mut t).get_mut("trace").and_then(|v| v.as_table_mut()) {
        for key in ["planetlab", "csv", "opendc"] {
            if let Some(p) = trace.get_mut(key) {
                let abs = base.join(p.as_str().unwrap());
                *p = toml::Value::String(abs.to_str().unwrap().to_string());
            }
        }
    }
    t
}

/// The `[consolidation]` table of `t`.
fn cons(t: &mut toml::Table) -> &mut toml::Table {
    t.get_mut("consolidation").unwrap().as_table_mut().unwrap()
}

fn set_policies(t: &mut toml::Table, policies: &[&str]) {
    cons(t).insert(
        "policies".into(),
        toml::Value::Array(
            policies
                .iter()
                .map(|p| toml::Value::String(p.to_string()))
                .collect(),
        ),
    );
}

fn parse(t: &toml::Table) -> ConsScenario {
    ConsScenario::parse(&toml::to_string(t).unwrap(), Path::new("edited.toml")).unwrap()
}

fn policy(name: &str) -> Consolidation {
    Consolidation::from_name(name).unwrap()
}

/// One run of `p` with the invariant checker on after every event.
fn run(s: &ConsScenario, trace: &UtilizationTrace, p: Consolidation, seed: u64, log: bool) -> ConsRunResult {
    ConsRun::new(s, p, trace, seed, true, log)
        .and_then(ConsRun::run)
        .unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
}

/// The metrics as CCPE 2012 defines them, and the counts agreeing with one
/// another and with the timeline (and the decisions, when logged).
fn assert_consistent(r: &ConsRunResult) {
    let p = &r.policy;
    assert!(
        close(r.slav, r.slatah * r.pdm),
        "{p}: SLAV {} != SLATAH {} x PDM {}",
        r.slav,
        r.slatah,
        r.pdm
    );
    assert!(
        close(r.esv, r.energy_kwh * r.slav),
        "{p}: ESV {} != energy x SLAV",
        r.esv
    );
    assert_eq!(
        r.overload_migrations + r.underload_migrations,
        r.migrations,
        "{p}"
    );
    let per_tick: u64 = r.timeline.iter().map(|row| u64::from(row.migrations)).sum();
    assert_eq!(per_tick, r.migrations, "{p}: the timeline's migrations");
    if !r.decisions.is_empty() {
        let logged = r
            .decisions
            .iter()
            .filter(|d| matches!(d, Decision::Migrate { .. }))
            .count();
        assert_eq!(logged as u64, r.migrations, "{p}: logged migrations");
    }
    assert!(
        (0.0..=1.0).contains(&r.slatah) && (0.0..=1.0).contains(&r.pdm),
        "{p}"
    );
    // CPU is lost to migrations exactly when there are migrations.
    assert_eq!(
        r.pdm > 0.0,
        r.migrations > 0,
        "{p}: PDM {} with {} migrations",
        r.pdm,
        r.migrations
    );
    assert!(r.energy_kwh > 0.0 && r.mean_active_hosts > 0.0, "{p}");
    assert!(r.mean_active_hosts <= f64::from(r.hosts), "{p}");
}

// ---------------------------------------------------------------- invariants

#[test]
fn every_policy_kind_keeps_the_invariants_on_the_small_scenario() {
    let s = ConsScenario::load(&root().join(SMALL)).unwrap();
    let trace = s.trace(s.seed);
    // NPA, DVFS, and every detector with every selection (the paper's set);
    // `exact` needs the tiny site.
    let policies: Vec<Consolidation> = Consolidation::paper_set()
        .into_iter()
        .filter(|p| *p != Consolidation::Exact)
        .collect();
    assert_eq!(policies.len(), 2 + 5 * 4);
    let ticks = (s.duration.0 / s.period.0) as usize;
    for p in policies {
        let r = run(&s, &trace, p, s.seed, true);
        assert_consistent(&r);
        assert_eq!(r.timeline.len(), ticks, "{p}");
        assert_eq!(r.unplaced, 0, "{p}");
        assert!(r.events >= ticks as u64, "{p}");
        if p.migrates() {
            assert!(
                r.migrations > 0 && r.host_shutdowns > 0,
                "{p} never consolidated: {r:?}"
            );
            assert!(r.mean_active_hosts < 20.0, "{p}: {}", r.mean_active_hosts);
        } else {
            assert_eq!((r.migrations, r.host_shutdowns), (0, 0), "{p}");
        }
    }
}

#[test]
fn the_invariants_hold_by_reservation_and_with_the_slivers_model() {
    for (key, value) in [("place_by", "reservation"), ("migration", "slivers")] {
        let mut t = table(SMALL);
        cons(&mut t).insert(key.into(), toml::Value::String(value.into()));
        set_policies(&mut t, &["thr-mmt-0.8", "mad-mc-2.5", "lr-rs-1.2", "lrr-mu-1.2"]);
        let s = parse(&t);
        let trace = s.trace(s.seed);
        for &p in &s.policies {
            let r = run(&s, &trace, p, s.seed, true);
            assert_consistent(&r);
            assert!(r.migrations > 0, "{key} = {value}, {p}: no migration");
        }
    }
}

#[test]
fn the_exact_repacker_keeps_the_invariants_and_uses_fewest_hosts() {
    let s = ConsScenario::load(&root().join(TINY)).unwrap();
    let trace = s.trace(s.seed);
    let results: BTreeMap<String, ConsRunResult> = s
        .policies
        .iter()
        .map(|&p| {
            let r = run(&s, &trace, p, s.seed, true);
            assert_consistent(&r);
            (r.policy.clone(), r)
        })
        .collect();
    let exact = &results["exact"];
    assert!(exact.migrations > 0, "{exact:?}");
    // Every interval the repacker reaches the fewest active hosts, so over
    // the run it keeps no more hosts on than the heuristics.
    for name in ["DVFS", "THR-MMT-0.8", "LR-MMT-1.2"] {
        assert!(
            exact.mean_active_hosts <= results[name].mean_active_hosts + 1e-9,
            "exact {} > {name} {}",
            exact.mean_active_hosts,
            results[name].mean_active_hosts
        );
    }
}

/// The real PlanetLab day, cut to its first `vms` VMs and `hours`, with `policies`.
fn planetlab_slice(vms: i64, hours: u32, policies: &[&str]) -> ConsScenario {
    let mut t = table(PLANETLAB);
    t.insert("duration".into(), toml::Value::String(format!("{hours}h")));
    cons(&mut t).insert("vms".into(), toml::Value::Integer(vms));
    set_policies(&mut t, policies);
    parse(&t)
}

#[test]
fn a_slice_of_the_planetlab_day_keeps_the_invariants() {
    let s = planetlab_slice(
        200,
        3,
        &[
            "npa",
            "dvfs",
            "thr-mmt-0.8",
            "iqr-mc-1.5",
            "mad-rs-2.5",
            "lr-mu-1.2",
            "lrr-mmt-1.2",
        ],
    );
    let trace = s.trace(s.seed);
    assert_eq!((s.hosts, trace.vms.len()), (800, 200));
    // The CLI's path: every policy in parallel, the checker on.
    let results = run_all(&s, &trace, true).unwrap();
    assert_eq!(results.len(), 7);
    for r in &results {
        assert_consistent(r);
        assert_eq!((r.hosts, r.vms, r.unplaced), (800, 200, 0), "{}", r.policy);
        assert_eq!(r.timeline.len(), 36, "{}", r.policy);
    }
    let [npa, dvfs, dynamic @ ..] = results.as_slice() else {
        unreachable!()
    };
    assert_eq!((npa.migrations, dvfs.migrations), (0, 0));
    assert!(dvfs.energy_kwh < npa.energy_kwh);
    for r in dynamic {
        assert!(r.migrations > 0, "{}", r.policy);
        assert!(
            r.energy_kwh < dvfs.energy_kwh,
            "{}: {} >= DVFS {}",
            r.policy,
            r.energy_kwh,
            dvfs.energy_kwh
        );
    }
}

#[test]
fn a_slice_of_the_planetlab_day_keeps_the_invariants_with_the_slivers_model() {
    // Pre-copy over shared links: migrations may outlast an interval.
    let mut t = table(PLANETLAB);
    t.insert("duration".into(), toml::Value::String("3h".into()));
    cons(&mut t).insert("vms".into(), toml::Value::Integer(300));
    cons(&mut t).insert("migration".into(), toml::Value::String("slivers".into()));
    set_policies(&mut t, &["thr-mmt-0.8", "lr-mc-1.2", "mad-rs-2.5"]);
    let s = parse(&t);
    let trace = s.trace(s.seed);
    for r in run_all(&s, &trace, true).unwrap() {
        assert_consistent(&r);
        assert!(r.migrations > 0 && r.downtime_s > 0.0, "{}", r.policy);
        assert_eq!(r.unplaced, 0, "{}", r.policy);
    }
}

// -------------------------------------------------------------- exact numbers

/// Watts at 0, 10, ..., 100 % CPU as issue 12 gives them (SPECpower).
const G4: [f64; 11] = [
    86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0, 114.0, 117.0,
];
const G5: [f64; 11] = [
    93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0, 129.0, 133.0, 135.0,
];

#[test]
fn the_power_presets_are_the_specpower_tables() {
    for (model, table) in [
        (PowerModel::hp_proliant_ml110_g4(), G4),
        (PowerModel::hp_proliant_ml110_g5(), G5),
    ] {
        for (i, w) in table.iter().enumerate() {
            assert_eq!(model.watts(i as f64 / 10.0), *w, "{model:?} at {} %", i * 10);
        }
        // Linear between the points.
        assert!(close(model.watts(0.05), (table[0] + table[1]) / 2.0));
    }
}

#[test]
fn npa_draws_every_host_at_full_power_for_the_whole_day() {
    let mut t = table(PLANETLAB);
    set_policies(&mut t, &["npa"]);
    let s = parse(&t);
    let trace = s.trace(s.seed);
    assert_eq!((s.hosts, trace.vms.len()), (800, 1052));
    let r = run(&s, &trace, Consolidation::Npa, s.seed, false);
    // 400 G4 at 117 W and 400 G5 at 135 W for 24 h.
    let hours = 24.0;
    let expected_kwh = (400.0 * G4[10] + 400.0 * G5[10]) * hours / 1000.0;
    assert!(close(expected_kwh, 2419.2));
    assert!(close(r.energy_kwh, expected_kwh), "{} kWh", r.energy_kwh);
    assert!(
        r.timeline
            .iter()
            .all(|row| close(row.power_w, 400.0 * (G4[10] + G5[10])))
    );
    assert_eq!((r.migrations, r.pdm, r.slav), (0, 0.0, 0.0));
}

#[test]
fn a_cloudsim_migration_of_870_mib_over_a_gigabit_takes_13_92_s() {
    let model = CloudSimMigration { bandwidth_mbps: 1000 };
    assert_eq!(model.duration(870), SimTime(13_920));
    assert_eq!(model.duration(1740), SimTime(27_840));
    // A run where every VM has 870 MiB: each migration took 13.92 s.
    let mut t = table(SMALL);
    t.remove("vm_type");
    let vm: toml::Table = "name = \"medium\"\nmips = 1000\nmemory_mib = 870\n"
        .parse()
        .unwrap();
    t.insert("vm_type".into(), toml::Value::Array(vec![toml::Value::Table(vm)]));
    set_policies(&mut t, &["thr-mmt-0.8", "mad-mc-2.5"]);
    let s = parse(&t);
    // The generator gives every VM a size of its own, which takes
    // precedence over the VM types: drop it.
    let mut trace = s.trace(s.seed);
    assert!(trace.vms.iter().any(|v| v.memory_mib != Some(870)));
    for v in &mut trace.vms {
        (v.cpu_mips, v.cores, v.memory_mib) = (None, None, None);
    }
    for &p in &s.policies {
        let r = run(&s, &trace, p, s.seed, false);
        assert!(r.migrations > 10, "{p}: {r:?}");
        assert_eq!(
            (r.migration_time_s * 1000.0).round() as u64,
            13_920 * r.migrations,
            "{p}: {} s over {} migrations",
            r.migration_time_s,
            r.migrations
        );
        assert_eq!(r.downtime_s, 0.0, "{p}: CloudSim's model never pauses a VM");
    }
}

#[test]
fn the_baselines_never_migrate_and_dvfs_draws_less_than_npa() {
    let s = ConsScenario::load(&root().join(SMALL)).unwrap();
    let trace = s.trace(s.seed);
    let npa = run(&s, &trace, Consolidation::Npa, s.seed, true);
    let dvfs = run(&s, &trace, Consolidation::Dvfs, s.seed, true);
    for r in [&npa, &dvfs] {
        assert_eq!((r.migrations, r.host_shutdowns, r.migration_time_s), (0, 0, 0.0));
        assert!(r.decisions.iter().all(|d| matches!(d, Decision::Place { .. })));
        assert_eq!(r.decisions.len(), 60, "every VM placed once");
    }
    // NPA: 20 G4 and 20 G5 at full power for 6 h.
    assert!(
        close(npa.energy_kwh, 20.0 * (G4[10] + G5[10]) * 6.0 / 1000.0),
        "{}",
        npa.energy_kwh
    );
    assert!(dvfs.energy_kwh < npa.energy_kwh);
    // DVFS: the hosts on draw between their idle and their full power.
    let hours = 6.0;
    assert!(
        dvfs.energy_kwh > dvfs.mean_active_hosts * G4[0] * hours / 1000.0,
        "{dvfs:?}"
    );
    assert!(
        dvfs.energy_kwh < dvfs.mean_active_hosts * G5[10] * hours / 1000.0,
        "{dvfs:?}"
    );
}

// ---------------------------------------------------------------- determinism

/// Runs the binary; returns (exit code, stdout, stderr).
fn slivers_code(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slivers"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("run slivers");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The files of a consolidation run's folder.
const FILES: [&str; 9] = slivers::report::consolidation::FILES;

#[test]
fn one_or_two_threads_write_identical_bytes() {
    let a = temp_dir("cons-det-1");
    let b = temp_dir("cons-det-2");
    for (dir, threads) in [(&a, "1"), (&b, "2")] {
        let out = dir.join("out");
        let (code, _, err) = slivers_code(
            &["run", SMALL, "--out", out.to_str().unwrap(), "-q"],
            &[("RAYON_NUM_THREADS", threads)],
        );
        assert_eq!(code, Some(0), "{err}");
    }
    for file in FILES {
        let x = std::fs::read(a.join("out").join(file)).unwrap();
        let y = std::fs::read(b.join("out").join(file)).unwrap();
        assert!(!x.is_empty(), "{file} is empty");
        assert!(x == y, "{file} differs between 1 and 2 threads");
    }
}

fn migrations(r: &ConsRunResult) -> Vec<Decision> {
    r.decisions
        .iter()
        .copied()
        .filter(|d| matches!(d, Decision::Migrate { .. }))
        .collect()
}

#[test]
fn random_selection_follows_the_seed_and_only_it() {
    let s = ConsScenario::load(&root().join(SMALL)).unwrap();
    // One trace for every run: only the policies' draws depend on the seed.
    let trace = s.trace(s.seed);
    let rs = policy("thr-rs-0.8");
    let (a, b, c) = (
        run(&s, &trace, rs, 1, true),
        run(&s, &trace, rs, 1, true),
        run(&s, &trace, rs, 2, true),
    );
    assert_eq!(a, b, "one seed, two runs");
    assert!(!migrations(&a).is_empty());
    assert_ne!(migrations(&a), migrations(&c), "RS draws from the run's seed");
    // The other selections draw nothing.
    for name in ["thr-mmt-0.8", "iqr-mc-1.5", "mad-mu-2.5"] {
        let p = policy(name);
        let (x, y) = (run(&s, &trace, p, 1, true), run(&s, &trace, p, 2, true));
        assert_eq!(x, y, "{name} depends on the seed");
    }
}

// ------------------------------------------------------------------ bad input

/// `slivers validate FILE` and `slivers run FILE --out DIR/out` both fail
/// with exit code 1 and the same message, leave no output folder, lock or
/// temporary folder behind; returns the message.
fn refused(dir: &Path, scenario: &Path) -> String {
    let before: Vec<_> = ls(dir);
    let (code, out, err) = slivers_code(&["validate", scenario.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "validate: {out}{err}");
    let out_dir = dir.join("out");
    let (code, out, err2) = slivers_code(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "-q",
        ],
        &[],
    );
    assert_eq!(code, Some(1), "run: {out}{err2}");
    assert_eq!(err, err2, "validate and run say the same");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(ls(dir), before, "run left files behind");
    err
}

fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `small.toml` edited by `edit`, written to `dir/s.toml`.
fn write_small(dir: &Path, edit: impl FnOnce(&mut toml::Table)) -> std::path::PathBuf {
    let mut t = table(SMALL);
    edit(&mut t);
    let p = dir.join("s.toml");
    std::fs::write(&p, toml::to_string(&t).unwrap()).unwrap();
    p
}

#[test]
fn an_unknown_policy_lists_the_valid_forms() {
    let d = temp_dir("cons-bad-policy");
    let s = write_small(&d, |t| set_policies(t, &["npa", "thr-xyz-0.8"]));
    let err = refused(&d, &s);
    assert!(err.contains("s.toml: key `consolidation.policies[1]`"), "{err}");
    assert!(
        err.contains("\"thr-xyz-0.8\" is not a consolidation policy"),
        "{err}"
    );
    assert!(
        err.contains("NPA, DVFS, exact, or OVERLOAD-SELECTION")
            && err.contains("thr, iqr, mad, lr, lrr")
            && err.contains("mmt, mc, rs, mu"),
        "{err}"
    );
    // A parameter out of the detector's range names the parameter.
    let s = write_small(&d, |t| set_policies(t, &["thr-mmt-7"]));
    let err = refused(&d, &s);
    assert!(
        err.contains("consolidation.policies[0]") && err.contains("thr-mmt-7"),
        "{err}"
    );
}

#[test]
fn duplicate_policies_are_refused() {
    let d = temp_dir("cons-bad-dup");
    let s = write_small(&d, |t| set_policies(t, &["thr-mmt-0.8", "npa", "THR-MMT-0.8"]));
    let err = refused(&d, &s);
    assert!(
        err.contains("key `consolidation.policies[2]`: expected distinct policies, found THR-MMT-0.8 twice"),
        "{err}"
    );
}

#[test]
fn a_hosts_table_is_refused_with_advice() {
    let d = temp_dir("cons-bad-hosts");
    let s = write_small(&d, |t| {
        t.insert("hosts".into(), toml::Value::Table("count = 4".parse().unwrap()));
    });
    let err = refused(&d, &s);
    assert!(
        err.contains("s.toml: key `hosts`: expected [[host_type]] tables")
            && err.contains("found a [hosts] table"),
        "{err}"
    );
}

#[test]
fn a_missing_or_empty_planetlab_folder_is_named() {
    let d = temp_dir("cons-bad-trace");
    let missing = d.join("no-such-day");
    let s = write_small(&d, |t| {
        let trace: toml::Table = format!("planetlab = {:?}", missing.to_str().unwrap())
            .parse()
            .unwrap();
        cons(t).insert("trace".into(), toml::Value::Table(trace));
    });
    let err = refused(&d, &s);
    assert!(err.contains("no-such-day"), "{err}");
    assert!(
        err.contains("s.toml") && err.contains("consolidation.trace.planetlab"),
        "{err}"
    );
    std::fs::create_dir(&missing).unwrap();
    let err = refused(&d, &s);
    assert!(
        err.contains("no-such-day") && err.contains("empty folder"),
        "{err}"
    );
}

#[test]
fn a_vm_type_that_fits_no_core_is_refused() {
    let d = temp_dir("cons-bad-vm");
    let s = write_small(&d, |t| {
        let vm = &mut t["vm_type"].as_array_mut().unwrap()[1];
        vm.as_table_mut()
            .unwrap()
            .insert("mips".into(), toml::Value::Integer(3000));
    });
    let err = refused(&d, &s);
    assert!(err.contains("s.toml: key `vm_type[1].mips`"), "{err}");
    assert!(
        err.contains("fits in at least one host type, within one of its cores"),
        "{err}"
    );
    assert!(err.contains("3000"), "{err}");
}

#[test]
fn a_power_table_of_ten_values_is_refused() {
    let d = temp_dir("cons-bad-power");
    let s = write_small(&d, |t| {
        let host = t["host_type"].as_array_mut().unwrap()[1].as_table_mut().unwrap();
        let watts: toml::Table = "table = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133]"
            .parse()
            .unwrap();
        host.insert("power".into(), toml::Value::Table(watts));
    });
    let err = refused(&d, &s);
    assert!(
        err.contains("s.toml: key `host_type[1].power`: expected a table of 11 watts")
            && err.contains("found 10 values"),
        "{err}"
    );
}

#[test]
fn a_bad_place_by_or_overbooking_key_is_refused() {
    let d = temp_dir("cons-bad-rules");
    let s = write_small(&d, |t| {
        cons(t).insert("place_by".into(), toml::Value::String("usage".into()));
    });
    let err = refused(&d, &s);
    assert!(
        err.contains("key `consolidation.place_by`: expected \"use\" or \"reservation\", found \"usage\""),
        "{err}"
    );
    let s = write_small(&d, |t| {
        let ob: toml::Table = "ram = 2".parse().unwrap();
        cons(t).insert("overbooking".into(), toml::Value::Table(ob));
    });
    let err = refused(&d, &s);
    assert!(
        err.contains(
            "key `consolidation.overbooking.ram`: expected one of cpu, memory, bandwidth, disk, found \"ram\""
        ),
        "{err}"
    );
    let s = write_small(&d, |t| {
        let ob: toml::Table = "memory = 0.5".parse().unwrap();
        cons(t).insert("overbooking".into(), toml::Value::Table(ob));
    });
    let err = refused(&d, &s);
    assert!(
        err.contains("consolidation.overbooking.memory") && err.contains("0.5"),
        "{err}"
    );
}

#[test]
fn exact_on_too_large_a_site_is_refused() {
    let d = temp_dir("cons-bad-exact-big");
    let s = write_small(&d, |t| set_policies(t, &["thr-mmt-0.8", "exact"]));
    let err = refused(&d, &s);
    assert!(
        err.contains(
            "key `consolidation.policies[1]`: expected `exact` only on sites of at most 12 hosts (the exact repacker's limit), found exact on 40 hosts"
        ),
        "{err}"
    );
}

#[test]
fn a_run_that_fails_midway_leaves_the_previous_results_alone() {
    // `exact` with more than 30 VMs is refused (the repacker's limit): the
    // run fails with exit code 1 and the folder of an earlier run is left
    // as it was.
    let d = temp_dir("cons-bad-exact");
    let out = d.join("out");
    let (code, _, err) = slivers_code(&["run", TINY, "--out", out.to_str().unwrap(), "-q"], &[]);
    assert_eq!(code, Some(0), "{err}");
    let before: Vec<Vec<u8>> = FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    let mut t = table(TINY);
    cons(&mut t).insert(
        "trace".into(),
        toml::Value::Table("generate = \"utilization\"\nvms = 40".parse().unwrap()),
    );
    cons(&mut t).insert(
        "overbooking".into(),
        toml::Value::Table("memory = 4".parse().unwrap()),
    );
    let s = d.join("s.toml");
    std::fs::write(&s, toml::to_string(&t).unwrap()).unwrap();
    let listing = ls(&d);
    let (code, _, err) = slivers_code(
        &["run", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "expected `exact` only with at most 30 VMs (the exact repacker's limit), found exact with 40 VMs"
        ),
        "{err}"
    );
    assert_eq!(ls(&d), listing, "no lock or temporary folder left");
    let after: Vec<Vec<u8>> = FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert!(before == after, "the earlier results changed");
}

// -------------------------------------------------------------------- outputs

#[test]
fn a_run_writes_its_files_and_plot_redraws_the_same_figures() {
    let d = temp_dir("cons-out");
    let out = d.join("out");
    let (code, stdout, err) = slivers_code(&["run", SMALL, "--out", out.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("7 policies, 60 VMs on 40 hosts"), "{stdout}");
    let mut names = ls(&out);
    names.sort();
    let mut want: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    want.sort();
    assert_eq!(names, want);

    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = summary.lines();
    let header: Vec<&str> = slivers::report::consolidation::SUMMARY
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(lines.next().unwrap(), header.join(","));
    let policies: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        policies,
        [
            "NPA",
            "DVFS",
            "THR-MMT-0.8",
            "IQR-MC-1.5",
            "MAD-MU-2.5",
            "LR-RS-1.2",
            "LRR-MMT-1.2"
        ]
    );
    // The rows are the library's results.
    let s = ConsScenario::load(&root().join(SMALL)).unwrap();
    let trace = s.trace(s.seed);
    let results = run_all(&s, &trace, false).unwrap();
    let table = slivers::report::consolidation::summary_table(&results).unwrap();
    assert_eq!(summary, table.to_string());
    assert!(summary.contains("\nNPA,30.24,0,0,0,0,0,"), "{summary}");

    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert!(timeline.starts_with("policy,time_s,active_hosts,overloaded_hosts,power_w,migrations,pending\n"));
    assert_eq!(
        timeline.lines().count(),
        1 + 7 * 72,
        "one row per policy and 5-minute tick of 6 h"
    );
    assert!(timeline.contains("\nTHR-MMT-0.8,21300,"), "the last tick");

    let manifest = std::fs::read_to_string(out.join("manifest.toml")).unwrap();
    for line in [
        "kind = \"consolidation\"",
        "seed = 7",
        "hosts = 40",
        "migration_model = \"cloudsim\"",
        "name = \"consolidation-small\"",
    ] {
        assert!(manifest.contains(line), "{line} not in {manifest}");
    }

    let figures = [
        "energy-vs-slav.png",
        "energy-vs-slav.svg",
        "active-hosts.png",
        "active-hosts.svg",
    ];
    let before: Vec<Vec<u8>> = figures
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert_eq!(&before[0][..8], b"\x89PNG\r\n\x1a\n");
    let svg = String::from_utf8(before[1].clone()).unwrap();
    assert!(
        svg.contains("THR-MMT") && svg.contains("SLAV"),
        "the figure's curves and axis"
    );
    for f in figures {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    let (code, _, err) = slivers_code(&["plot", out.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    for (f, b) in figures.iter().zip(&before) {
        let a = std::fs::read(out.join(f)).unwrap();
        assert!(&a == b, "{f} redrawn differently");
    }
}

#[test]
fn the_planetlab_scenarios_validate() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("planetlab-") && n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let path = format!("scenarios/{f}");
        let (code, out, err) = slivers_code(&["validate", &path], &[]);
        assert_eq!(code, Some(0), "{path}: {err}");
        assert!(
            out.starts_with(&format!("{path}: ok: 800 hosts of 2 types, 1052 VMs of 4 types")),
            "{out}"
        );
    }
}

// ----------------------------------------------------------- migration models

#[test]
fn slivers_precopy_degrades_less_than_cloudsim_but_pauses() {
    let run_with = |model: &str| {
        let mut t = table(SMALL);
        cons(&mut t).insert("migration".into(), toml::Value::String(model.into()));
        set_policies(&mut t, &["thr-mmt-0.8"]);
        let s = parse(&t);
        let trace = s.trace(s.seed);
        run(&s, &trace, s.policies[0], s.seed, false)
    };
    let (cloudsim, slivers) = (run_with("cloudsim"), run_with("slivers"));
    eprintln!(
        "THR-MMT-0.8 on small.toml: cloudsim PDM {:e}, {} migrations, {:.2} s migrating, downtime {} s; \
         slivers PDM {:e}, {} migrations, {:.2} s migrating, downtime {:.3} s",
        cloudsim.pdm,
        cloudsim.migrations,
        cloudsim.migration_time_s,
        cloudsim.downtime_s,
        slivers.pdm,
        slivers.migrations,
        slivers.migration_time_s,
        slivers.downtime_s
    );
    assert!(cloudsim.migrations > 0 && slivers.migrations > 0);
    assert!(slivers.pdm > 0.0, "paused VMs lose CPU");
    assert!(
        slivers.pdm < cloudsim.pdm,
        "slivers PDM {} >= cloudsim PDM {}",
        slivers.pdm,
        cloudsim.pdm
    );
    assert_eq!(cloudsim.downtime_s, 0.0);
    assert!(slivers.downtime_s > 0.0);
    // Pre-copy pauses a VM for well under a second per migration.
    assert!(
        slivers.downtime_s / (slivers.migrations as f64) < 1.0,
        "{slivers:?}"
    );
}

// ---------------------------------------------------- arrivals and departures

/// A consolidation scenario in `dir` over a tidy CSV trace `csv`.
fn tidy_scenario(dir: &Path, csv: &str, hosts: &str, vm: &str, extra: &str) -> ConsScenario {
    std::fs::write(dir.join("u.csv"), csv).unwrap();
    let text = format!(
        "duration = \"4h\"\nperiod = \"5m\"\n{hosts}\n{vm}\n[consolidation]\ntrace = {{ csv = \"u.csv\" }}\n{extra}\n"
    );
    ConsScenario::parse(&text, &dir.join("s.toml")).unwrap()
}

#[test]
fn vms_are_placed_when_they_start_and_removed_when_they_end() {
    // One host with room (memory) for two VMs: `a` and `b` take it, `c`
    // waits until `a` leaves at 1 h, `d` (from 2 h) waits to the end, and
    // `e` starts and ends between two ticks, never seen. New VMs are
    // placed as if they used their whole sliver, under the policy's
    // detector: with THR 0.8, `a` and `b` at 1000 MIPS each are 100 % of
    // the host, so `b` waits one tick (until `a` is measured at 10 %).
    let d = temp_dir("cons-churn-1");
    let csv = "vm_id,time_s,cpu,end_s\n\
               a,0,0.1,3600\n\
               b,0,0.1,\n\
               c,0,0.1,\n\
               d,7200,0.1,\n\
               e,1850,0.5,1900\n";
    let s = tidy_scenario(
        &d,
        csv,
        "[[host_type]]\ncount = 1\ncores = 2\nmips = 1000\nmemory_mib = 4096\npower = \"ml110-g4\"",
        "[[vm_type]]\nmips = 1000\nmemory_mib = 1740",
        "policies = [\"dvfs\", \"thr-mmt-1.0\", \"thr-mmt-0.8\"]",
    );
    let trace = s.trace(s.seed);
    let names: Vec<&str> = trace.vms.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let (h, t) = (HostId(0), |s: u64| SimTime(s * 1000));
    for (&p, b_waits) in s.policies.iter().zip([0, 0, 300]) {
        let r = run(&s, &trace, p, s.seed, true);
        assert_consistent(&r);
        assert_eq!(
            r.decisions,
            [
                Decision::Place {
                    at: t(0),
                    vm: VmId(0),
                    host: h
                },
                Decision::Place {
                    at: t(b_waits),
                    vm: VmId(1),
                    host: h
                },
                Decision::Remove {
                    at: t(3600),
                    vm: VmId(0),
                    host: h,
                    migrating_to: None
                },
                Decision::Place {
                    at: t(3600),
                    vm: VmId(2),
                    host: h
                },
            ],
            "{p}"
        );
        // c waited 1 h, d waits from 2 h to the end at 4 h.
        assert_eq!(r.pending_s, 3600.0 + 7200.0 + b_waits as f64, "{p}");
        // Never placed: d (waits from 2 h to the end) and e (starts and ends
        // between two ticks).
        assert_eq!(r.unplaced, 2, "{p}");
        let pending: Vec<u32> = r.timeline.iter().map(|row| row.pending).collect();
        let want: Vec<u32> = (0..48)
            .map(|i| u32::from(!(12..24).contains(&i)) + u32::from(i == 0 && b_waits > 0))
            .collect();
        assert_eq!(pending, want, "{p}: pending VMs per tick");
        // The host is on all along, two VMs at 10 % of 1000 MIPS each on
        // its 2000: 10 % CPU, 89.4 W for 4 h (5 %, 87.7 W, while `b` waits).
        assert_eq!(r.mean_active_hosts, 1.0, "{p}");
        // (Utilisation is an f32: 0.1 is read as 0.100000001.)
        let w = b_waits as f64;
        let kwh = (G4[1] * (14_400.0 - w) + (G4[0] + G4[1]) / 2.0 * w) / 3600.0 / 1000.0;
        assert!((r.energy_kwh - kwh).abs() < 1e-8 * kwh, "{p}: {}", r.energy_kwh);
        // Running at the end (b, c), pending (d), finished (a removed, e
        // never placed): all five accounted for.
        let end = SimTime(4 * 3600 * 1000);
        let running: Vec<&str> = (trace.vms.iter())
            .filter(|v| v.is_running(end))
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(running, ["b", "c", "d"]);
        let placed = r
            .decisions
            .iter()
            .filter(|d| matches!(d, Decision::Place { .. }))
            .count();
        let removed = r
            .decisions
            .iter()
            .filter(|d| matches!(d, Decision::Remove { .. }))
            .count();
        // Placed and not removed (b, c) and never placed (d, e): the VMs
        // running at the end (b, c, d) and e, which ran between two ticks.
        assert_eq!((placed - removed) + r.unplaced as usize, running.len() + 1, "{p}");
    }
}

/// A tidy CSV of `n` VMs starting and ending at various times (some off the
/// ticks, some never ending), a sample every 5 minutes.
fn churn_csv(n: u64, end_s: u64) -> String {
    let mut out = String::from("vm_id,time_s,cpu,end_s\n");
    for i in 0..n {
        let start = (i * 7 % 13) * 600 + (i % 3) * 100;
        // Ends a whole tick before the run's end (or never), so every VM
        // that ends is seen ending.
        let end = (i % 5 != 0).then(|| (start + 3600 + (i * 11 % 17) * 600).min(end_s - 600));
        let mut t = start;
        let mut k = 0;
        while t < end.unwrap_or(end_s) {
            let cpu = ((i * 31 + k * 17) % 90 + 5) as f64 / 100.0;
            let e = end.map_or(String::new(), |e| e.to_string());
            out += &format!("vm{i:02},{t},{cpu},{e}\n");
            t += 300;
            k += 1;
        }
    }
    out
}

#[test]
fn churn_never_loses_a_vm() {
    let d = temp_dir("cons-churn-2");
    let end_s = 4 * 3600;
    let s = tidy_scenario(
        &d,
        &churn_csv(40, end_s),
        "[[host_type]]\ncount = 4\ncores = 2\nmips = 1860\nmemory_mib = 4096\npower = \"ml110-g4\"\n\
         [[host_type]]\ncount = 4\ncores = 2\nmips = 2660\nmemory_mib = 4096\npower = \"ml110-g5\"",
        "[[vm_type]]\nmips = 1000\nmemory_mib = 613",
        "policies = [\"thr-mmt-0.8\", \"lr-mc-1.2\", \"mad-rs-2.5\"]",
    );
    let trace = s.trace(s.seed);
    let end = SimTime(end_s * 1000);
    let period = s.period.0;
    for &p in &s.policies {
        let r = run(&s, &trace, p, s.seed, true);
        assert_consistent(&r);
        assert!(r.migrations > 0, "{p}: no migration");
        // Replay the decisions: where every VM is.
        let mut at: BTreeMap<VmId, HostId> = BTreeMap::new();
        let mut removed: Vec<VmId> = Vec::new();
        let mut last = SimTime::ZERO;
        for d in &r.decisions {
            let (when, vm) = match *d {
                Decision::Place { at: w, vm, host } => {
                    assert!(
                        at.insert(vm, host).is_none() && !removed.contains(&vm),
                        "{p}: {d:?} twice"
                    );
                    (w, vm)
                }
                Decision::Migrate { at: w, vm, from, to } => {
                    assert_ne!(from, to);
                    // A CloudSim migration ends within its interval.
                    assert_eq!(
                        at.insert(vm, to),
                        Some(from),
                        "{p}: {d:?} not from where the VM is"
                    );
                    (w, vm)
                }
                Decision::Remove { at: w, vm, host, .. } => {
                    assert_eq!(at.remove(&vm), Some(host), "{p}: {d:?}");
                    removed.push(vm);
                    (w, vm)
                }
            };
            assert!(when >= last, "{p}: decisions out of time order");
            assert_eq!(when.0 % period, 0, "{p}: {d:?} off a tick");
            last = when;
            let usage = &trace.vms[vm.0 as usize];
            match d {
                Decision::Place { .. } | Decision::Migrate { .. } => {
                    assert!(
                        usage.is_running(when),
                        "{p}: {d:?} while {} is not running",
                        usage.name
                    )
                }
                // Removed at the first tick after its end.
                Decision::Remove { .. } => {
                    let e = usage.end.unwrap().0;
                    assert!(when.0 >= e && when.0 < e + period, "{p}: {d:?}, end {e}")
                }
            }
        }
        // Placed at the first tick at or after its start, unless it waited.
        for d in &r.decisions {
            if let Decision::Place { at: w, vm, .. } = d {
                let start = trace.vms[vm.0 as usize].start().unwrap().0;
                assert!(
                    w.0 >= start && (w.0 < start + period || r.pending_s > 0.0),
                    "{p}: {d:?}"
                );
            }
        }
        // Every VM is running at the end, waiting, or finished.
        let running_at_end = trace.vms.iter().filter(|v| v.is_running(end)).count();
        let ended = trace.vms.iter().filter(|v| !v.is_running(end)).count();
        assert!(running_at_end > 0 && ended > 0);
        let placed: Vec<VmId> = (r.decisions.iter())
            .filter_map(|d| match d {
                Decision::Place { vm, .. } => Some(*vm),
                _ => None,
            })
            .collect();
        // VMs that ended while waiting were never placed.
        let ended_unplaced = (0..trace.vms.len())
            .filter(|&j| !trace.vms[j].is_running(end) && !placed.contains(&VmId(j as u64)))
            .count();
        assert_eq!(at.len() + r.unplaced as usize, running_at_end, "{p}");
        assert_eq!(
            removed.len() + ended_unplaced,
            ended,
            "{p}: every VM placed that ended was removed"
        );
        if r.pending_s == 0.0 {
            assert_eq!(ended_unplaced, 0, "{p}");
        }
        assert_eq!(
            at.len() + r.unplaced as usize + removed.len() + ended_unplaced,
            trace.vms.len(),
            "{p}"
        );
        for vm in at.keys() {
            assert!(trace.vms[vm.0 as usize].is_running(end), "{p}: {vm} still placed");
        }
    }
}

/// Keeps `ConsRunError` in the module's vocabulary: a failed plan is a
/// policy error naming the policy.
#[test]
fn a_policy_error_names_the_policy() {
    let s = ConsScenario::load(&root().join(TINY)).unwrap();
    let mut trace = s.trace(s.seed);
    // Twice the VMs: more than the repacker takes.
    trace.vms.extend(trace.vms.clone());
    let e = ConsRun::new(&s, Consolidation::Exact, &trace, s.seed, true, false)
        .and_then(ConsRun::run)
        .unwrap_err();
    let ConsRunError::Policy { policy, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(policy, "exact");
    assert!(message.contains("vms is over the limit of 30"), "{message}");
}

#[test]
fn post_copy_migrations_keep_the_invariants() {
    // In slivers' model a post-copy VM resumes on its target while it
    // pulls its pages: its CPU is the target's then (checked after every
    // event: no host serves more than it has).
    let mut t = table(SMALL);
    cons(&mut t).insert("migration".into(), toml::Value::String("slivers".into()));
    t.insert(
        "migration".into(),
        toml::Value::Table("mode = \"post-copy\"".parse().unwrap()),
    );
    set_policies(&mut t, &["thr-mmt-0.8", "lr-mmt-1.2"]);
    let s = parse(&t);
    let trace = s.trace(s.seed);
    for &p in &s.policies {
        let r = run(&s, &trace, p, s.seed, true);
        assert_consistent(&r);
        assert!(r.migrations > 0 && r.pdm > 0.0, "{p}");
    }
}

#[test]
fn a_trace_vm_that_fits_no_host_is_refused_by_name() {
    let d = temp_dir("cons-bad-trace-size");
    std::fs::write(
        d.join("u.csv"),
        "vm_id,time_s,cpu,cpu_mips\nsmall,0,0.1,500\nhuge,0,0.1,3000\n",
    )
    .unwrap();
    let s = write_small(&d, |t| {
        cons(t).insert(
            "trace".into(),
            toml::Value::Table("csv = \"u.csv\"".parse().unwrap()),
        );
    });
    let err = refused(&d, &s);
    assert!(
        err.contains("key `consolidation.trace`: expected VMs that fit one core and the memory of some host type, found VM \"huge\""),
        "{err}"
    );
}
