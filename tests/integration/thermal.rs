//! `[thermal]` (docs/model.md, "Thermal"): thermal-aware placement against
//! energy-aware on a small room, bad values named by key, byte-identical
//! outputs, and a thermal meter that changes nothing else.

use std::path::Path;

use slivers::experiment::{RunOptions, run_pair};
use slivers::scenario::Scenario;

use crate::{root, slivers, temp_dir};

/// 12 hosts in 3 racks of 4, a web guest needing up to half the cluster,
/// 2 days; `thermal` is the `[thermal]` table's body (`None`: no table),
/// `placements` the pairs' placement policies (room-for-growth provisioning).
fn scenario_text(thermal: Option<&str>, placements: &[&str]) -> String {
    let trace = root().join("traces/ecommerce-30d.csv");
    let mut s = format!(
        "name = \"thermal-small\"\nduration = \"2d\"\nperiod = \"1h\"\n[hosts]\ncount = 12\n\
         [[guest]]\nname = \"web\"\nkind = \"web\"\ntrace = {:?}\npeak_units = 12\n",
        trace.to_str().unwrap()
    );
    if let Some(t) = thermal {
        s += &format!("[thermal]\n{t}\n");
    }
    for p in placements {
        s += &format!("[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"{p}\"\n");
    }
    s
}

const ROOM: &str = "hosts_per_rack = 4\nsupply = 20.0\nredline_c = 21.8";

fn parse(text: &str) -> Result<Scenario, String> {
    Scenario::parse(text, Path::new("thermal-small.toml")).map_err(|e| e.to_string())
}

#[test]
fn thermal_aware_keeps_the_middle_rack_cooler_and_the_peak_inlet_lower() {
    let s = parse(&scenario_text(Some(ROOM), &["energy-aware", "thermal-aware"])).unwrap();
    let runs: Vec<_> = s
        .pairs
        .iter()
        .enumerate()
        .map(|(i, p)| run_pair(&s, *p, i, s.seed, RunOptions::default()).unwrap())
        .collect();
    let (ea, ta) = (&runs[0], &runs[1]);
    let (te, tt) = (ea.thermal.as_ref().unwrap(), ta.thermal.as_ref().unwrap());
    // Energy-aware packs hosts in id order (rack 0, then the middle rack 1,
    // which its two neighbours heat); thermal-aware spreads the heat.
    assert!(
        tt.peak_inlet_c + 0.3 < te.peak_inlet_c,
        "thermal-aware peak {} °C, energy-aware {} °C",
        tt.peak_inlet_c,
        te.peak_inlet_c
    );
    assert!(tt.above_redline_s < te.above_redline_s, "{tt:?} {te:?}");
    assert!(te.above_redline_s > 0.0);
    // At the end, energy-aware has VMs on the middle rack; thermal-aware
    // keeps fewer there.
    let middle = |r: &slivers::experiment::RunResult| {
        r.final_placement
            .iter()
            .filter(|(_, h)| (4..8).contains(h))
            .count()
    };
    assert!(
        middle(ta) < middle(ea),
        "{:?} {:?}",
        ta.final_placement,
        ea.final_placement
    );
    // The samples: one an hour over 2 days, at the fixed supply.
    assert_eq!(tt.samples.len(), 48);
    assert!(tt.samples.iter().all(|x| x.supply_c == 20.0));
    // The series agrees with the totals: the highest sampled peak is at most the run's.
    let sampled = te.samples.iter().map(|x| x.peak_inlet_c).fold(0.0, f64::max);
    assert!(sampled <= te.peak_inlet_c + 1e-12);
}

#[test]
fn the_thermal_meter_observes_and_changes_nothing_else() {
    let with = parse(&scenario_text(Some(ROOM), &["energy-aware"])).unwrap();
    let without = parse(&scenario_text(None, &["energy-aware"])).unwrap();
    let a = run_pair(&with, with.pairs[0], 0, 1, RunOptions::default()).unwrap();
    let b = run_pair(&without, without.pairs[0], 0, 1, RunOptions::default()).unwrap();
    assert!(a.thermal.is_some() && b.thermal.is_none());
    let tables = |r| slivers::report::outputs::summary(std::slice::from_ref(r)).unwrap();
    assert_eq!(tables(&a).rows(), tables(&b).rows());
    assert_eq!(a.final_placement, b.final_placement);
}

#[test]
fn bad_thermal_values_name_the_key() {
    let cases: [(&str, &str, &[&str]); 7] = [
        ("own = -0.001", "thermal.own", &["from 0 to 1", "-0.001"]),
        ("hosts_per_rack = 0", "thermal.hosts_per_rack", &["from 1", "0"]),
        (
            "supply = \"cold\"",
            "thermal.supply",
            &["\"redline\"", "\"cold\""],
        ),
        ("supply = 500", "thermal.supply", &["from -50 to 100", "500"]),
        (
            "redline_c = nan",
            "thermal.redline_c",
            &["from -50 to 100", "NaN"],
        ),
        // CoP(T) = 1 − 0.05 T is negative above 20 °C.
        (
            "cop_a = 0\ncop_b = -0.05\ncop_c = 1\nsupply = 25",
            "thermal.cop_a, cop_b, cop_c",
            &["positive", "CoP(25.00)"],
        ),
        // In redline mode the supply may fall to 27 − the full room's peak rise.
        (
            "cop_a = 0\ncop_b = 0.1\ncop_c = -2.6",
            "thermal.cop_a, cop_b, cop_c",
            &["positive", "to 27.00 °C"],
        ),
    ];
    for (body, key, words) in cases {
        let e = parse(&scenario_text(Some(body), &["energy-aware"])).unwrap_err();
        assert!(e.starts_with("thermal-small.toml: key `"), "{e}");
        assert!(e.contains(&format!("key `{key}`")), "{body}: {e}");
        for w in words {
            assert!(e.contains(w), "{body}: {e} lacks {w}");
        }
    }
    // An unknown key: the parser's error names it and the line.
    let e = parse(&scenario_text(Some("recirculation = 1"), &["energy-aware"])).unwrap_err();
    assert!(e.contains("recirculation") && e.contains("line"), "{e}");
    // thermal-aware without the table names the pair and the missing table.
    let e = parse(&scenario_text(None, &["energy-aware", "thermal-aware"])).unwrap_err();
    assert!(
        e.contains("key `pairs[1].placement`")
            && e.contains("room-for-growth/thermal-aware")
            && e.contains("no [thermal] table"),
        "{e}"
    );
}

#[test]
fn thermal_outputs_are_byte_identical_across_runs_and_absent_without_the_table() {
    let dir = temp_dir("thermal-out");
    let s = dir.join("s.toml");
    std::fs::write(&s, scenario_text(Some(ROOM), &["energy-aware", "thermal-aware"])).unwrap();
    let files = [
        "thermal.csv",
        "thermal-summary.csv",
        "thermal.png",
        "thermal.svg",
        "thermal.pdf",
        "summary.csv",
    ];
    let mut outs = Vec::new();
    for k in 0..2 {
        let out = dir.join(format!("out{k}"));
        let (ok, stdout, err) = slivers(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert!(ok, "{err}");
        assert!(stdout.contains("peak_in_C") && stdout.contains("room-for-growth/thermal-aware"));
        outs.push(files.map(|f| std::fs::read(out.join(f)).unwrap()));
    }
    assert!(outs[0] == outs[1], "a rerun changed a thermal output");
    let csv = String::from_utf8(outs[0][0].clone()).unwrap();
    assert!(csv.starts_with(
        "run,provisioning,placement,time_s,supply_c,peak_inlet_c,mean_inlet_c,it_w,cooling_w,hosts_above_redline\n"
    ));
    // 48 samples per pair.
    assert_eq!(csv.lines().count(), 1 + 2 * 48);
    // `slivers plot` redraws the thermal figures byte for byte.
    let out0 = dir.join("out0");
    std::fs::remove_file(out0.join("thermal.png")).unwrap();
    let (ok, _, err) = slivers(&["plot", out0.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(out0.join("thermal.png")).unwrap(), outs[0][2]);
    // Without [thermal]: no thermal file at all.
    std::fs::write(&s, scenario_text(None, &["energy-aware"])).unwrap();
    let out = dir.join("off");
    let (ok, _, err) = slivers(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    assert!(ok, "{err}");
    for f in std::fs::read_dir(&out).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        assert!(!name.starts_with("thermal"), "{name} written without [thermal]");
    }
}

#[test]
fn the_shipped_thermal_scenarios_validate_and_list_the_policy() {
    for f in ["scenarios/thermal.toml", "scenarios/thermal-fixed.toml"] {
        let (ok, _, err) = slivers(&["validate", f]);
        assert!(ok, "{f}: {err}");
    }
    let (ok, out, _) = slivers(&["policies"]);
    assert!(ok && out.contains("thermal-aware"), "{out}");
}
