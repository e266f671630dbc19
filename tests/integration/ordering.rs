//! The ordering map (issue 15): `scenarios/sweep-ordering.toml`, the tidy
//! `ordering.csv` and the figure `ordering.png` / `ordering.svg` that
//! `slivers sweep`, `merge` and `plot` derive from `runs.csv`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::sweep::sweep;
use crate::{root, slivers, temp_dir};

/// The swept keys' columns in runs.csv, ordering.csv and `--list`.
const PARAMS: [&str; 6] = [
    "guest0_peak_units",
    "guest1_trace_target_load",
    "guest1_procs_per_vm",
    "guest1_trace_nodes",
    "guest1_vm_units",
    "sliver_quantum",
];

const INEQUALITIES: [&str; 5] = [
    "rfg_fb_eq_0",
    "mig_fb_gt_0",
    "mig_fb_lt_rfg_ea",
    "rfg_ea_lt_mig_ea",
    "ordering",
];

/// The shipped sweep's scenario (everything before `[sweep]`), 2 days long,
/// with a tiny zipped sweep: a light point and a heavy one, 3 replicates.
fn tiny_sweep(dir: &Path, pairs: &str) -> String {
    let text = std::fs::read_to_string(root().join("scenarios/sweep-ordering.toml")).unwrap();
    let scenario = &text[..text.find("[sweep]").expect("a [sweep] table")];
    assert!(scenario.contains("duration = \"30d\""));
    let scenario = scenario.replace("duration = \"30d\"", "duration = \"2d\"");
    let text = format!(
        "{scenario}{pairs}\n[sweep]\nmode = \"zip\"\nreplicates = 3\n\
         \"guest[0].peak_units\" = [60, 140]\n\"guest[1].trace.target_load\" = [0.2, 0.6]\n\
         \"guest[1].procs_per_vm\" = [1, 2]\n\"guest[1].trace.nodes\" = [100, 200]\n\
         \"guest[1].vm_units\" = [1, 1]\n\"sliver.quantum\" = [0.5, 0.5]\n"
    );
    let p = dir.join("ordering.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

fn lines(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // No field of these files is quoted (no commas in values or names).
    text.lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// Per (point, replicate): the four pairs' migrations in the order
/// rfg/fb, mig/fb, rfg/ea, mig/ea, read from runs.csv.
fn migrations_by_replicate(runs: &[Vec<String>]) -> BTreeMap<(u64, u64), [f64; 4]> {
    let col = |name: &str| runs[0].iter().position(|h| h == name).unwrap();
    let (point, replicate, prov, place, migs) = (
        col("point"),
        col("replicate"),
        col("provisioning"),
        col("placement"),
        col("migrations"),
    );
    let mut out: BTreeMap<(u64, u64), [f64; 4]> = BTreeMap::new();
    for r in &runs[1..] {
        let side = match (r[prov].as_str(), r[place].as_str()) {
            ("room-for-growth", "follow-broker") => 0,
            ("migrating", "follow-broker") => 1,
            ("room-for-growth", "energy-aware") => 2,
            ("migrating", "energy-aware") => 3,
            other => panic!("unexpected pair {other:?}"),
        };
        let key = (r[point].parse().unwrap(), r[replicate].parse().unwrap());
        out.entry(key).or_insert([f64::NAN; 4])[side] = r[migs].parse().unwrap();
    }
    out
}

#[test]
fn the_shipped_sweep_is_the_documented_grid() {
    let f = root().join("scenarios/sweep-ordering.toml");
    let out = sweep(&["sweep", f.to_str().unwrap(), "--list"]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    let mut header = vec!["run", "point", "replicate", "seed"];
    header.extend(PARAMS);
    header.extend(["provisioning", "placement"]);
    assert_eq!(rows[0], header);
    // 3 web shares x 3 batch loads x 3 processors per VM x 2 quanta, 10
    // replicates, the paper's 4 pairs.
    assert_eq!(rows.len(), 1 + 54 * 10 * 4);
    let mut grid = std::collections::BTreeSet::new();
    for r in &rows[1..] {
        let v: Vec<f64> = r[4..10].iter().map(|s| s.parse().unwrap()).collect();
        let (peak, load, ppv, nodes, vm_units, q) = (v[0], v[1], v[2], v[3], v[4], v[5]);
        // The derived keys: the web peak in hosts, a machine of 100 x p
        // processors, a batch VM of half a host.
        let share = peak * q / 100.0;
        assert_eq!(nodes, 100.0 * ppv, "{r:?}");
        assert_eq!(vm_units * q, 0.5, "{r:?}");
        grid.insert(format!("{share:.2}/{load}/{ppv}/{q}"));
    }
    assert_eq!(grid.len(), 54);
    for share in ["0.30", "0.50", "0.70"] {
        assert!(grid.contains(&format!("{share}/0.6/4/0.25")), "{grid:?}");
    }
}

#[test]
fn tiny_ordering_sweep_writes_the_tidy_csv_and_plot_redraws_it() {
    let d = temp_dir("ord-tiny");
    let f = tiny_sweep(&d, "");
    let out = d.join("out");
    sweep(&["sweep", &f, "--out", out.to_str().unwrap(), "-q", "--jobs", "2"]);

    // A zip sweep's keys change together: its totals are drawn against the
    // point, never against one key.
    assert!(out.join("total-vs-point.png").exists() && out.join("total-vs-point.svg").exists());
    let per_key: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("total-vs-") && !n.starts_with("total-vs-point."))
        .collect();
    assert!(per_key.is_empty(), "{per_key:?}");

    let csv = lines(&out.join("ordering.csv"));
    let header = format!(
        "point,{},inequality,statement,replicates,holds,share,lo95,hi95,left_mean,right_mean",
        PARAMS.join(",")
    );
    assert_eq!(csv[0].join(","), header);
    let header: Vec<&str> = header.split(',').collect();
    assert_eq!(csv.len(), 1 + 2 * INEQUALITIES.len());
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();

    // Recompute every count from runs.csv, independently of the library.
    let runs = lines(&out.join("runs.csv"));
    let by_rep = migrations_by_replicate(&runs);
    for (i, row) in csv[1..].iter().enumerate() {
        let (point, q) = ((i / INEQUALITIES.len()) as u64, i % INEQUALITIES.len());
        assert_eq!(row[0], point.to_string());
        assert_eq!(row[col("inequality")], INEQUALITIES[q]);
        let (n, k): (usize, usize) = (
            row[col("replicates")].parse().unwrap(),
            row[col("holds")].parse().unwrap(),
        );
        assert_eq!(n, 3, "{row:?}");
        let holds = |m: &[f64; 4]| {
            let each = [m[0] == 0.0, 0.0 < m[1], m[1] < m[2], m[2] < m[3]];
            if q == 4 { each.iter().all(|&h| h) } else { each[q] }
        };
        let want = by_rep
            .iter()
            .filter(|((p, _), m)| *p == point && holds(m))
            .count();
        assert_eq!(k, want, "{row:?}");
        let share: f64 = row[col("share")].parse().unwrap();
        let lo: f64 = row[col("lo95")].parse().unwrap();
        let hi: f64 = row[col("hi95")].parse().unwrap();
        assert!((share - k as f64 / n as f64).abs() < 1e-6, "{row:?}");
        assert!(
            (0.0..=1.0).contains(&lo) && lo <= share && share <= hi && hi <= 1.0,
            "{row:?}"
        );
        // With 3 replicates the Wilson interval is wide, never a point.
        assert!(hi - lo > 0.3, "{row:?}");
        // The sides' means are those of runs.csv; the whole ordering has none.
        if q == 4 {
            assert_eq!(
                (row[col("left_mean")].as_str(), row[col("right_mean")].as_str()),
                ("", "")
            );
        } else {
            let side = [
                (Some(0), None),
                (None, Some(1)),
                (Some(1), Some(2)),
                (Some(2), Some(3)),
            ][q];
            for (s, c) in [(side.0, "left_mean"), (side.1, "right_mean")] {
                let mean = by_rep
                    .iter()
                    .filter(|((p, _), _)| *p == point)
                    .map(|(_, m)| s.map_or(0.0, |s| m[s]))
                    .sum::<f64>()
                    / 3.0;
                let got: f64 = row[col(c)].parse().unwrap();
                assert!((got - mean).abs() < 1e-6, "{c} {row:?}");
            }
        }
    }
    // The point's swept values are copied from runs.csv.
    assert_eq!(csv[1][1..7], runs[1][4..10]);
    assert_eq!(csv[6][1..7], runs[runs.len() - 1][4..10]);

    let svg = std::fs::read_to_string(out.join("ordering.svg")).unwrap();
    for text in [
        "rfg/fb = 0",
        "the whole ordering",
        "procs per vm 2",
        "y: ecommerce peak units",
        "x: batch trace target load",
    ] {
        assert!(svg.contains(text), "ordering.svg lacks {text:?}");
    }
    // The manifest keeps the raw keys beside their columns and labels.
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).unwrap();
    for line in [
        "params = [\"guest[0].peak_units\", \"guest[1].trace.target_load\", \"guest[1].procs_per_vm\", \"guest[1].trace.nodes\", \"guest[1].vm_units\", \"sliver.quantum\"]",
        "columns = [\"guest0_peak_units\", \"guest1_trace_target_load\", \"guest1_procs_per_vm\", \"guest1_trace_nodes\", \"guest1_vm_units\", \"sliver_quantum\"]",
        "labels = [\"ecommerce peak units\", \"batch trace target load\", \"batch procs per vm\", \"batch trace nodes\", \"batch vm units\", \"sliver quantum\"]",
    ] {
        assert!(manifest.contains(line), "manifest lacks {line}:\n{manifest}");
    }
    let png = std::fs::read(out.join("ordering.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // `slivers plot` redraws the same bytes from the CSVs and the manifest
    // (which names the keys).
    let files = ["ordering.csv", "ordering.png", "ordering.svg", "ordering.pdf"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    for f in files {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    std::fs::remove_dir_all(out.join("runs")).unwrap();
    let said = sweep(&["plot", out.to_str().unwrap()]);
    // Two points' curves, the totals against the point and the map, each
    // as PNG, SVG and PDF.
    assert!(
        said.starts_with("wrote 12 figures and ordering.csv in "),
        "{said}"
    );
    for (f, bytes) in files.iter().zip(&before) {
        assert!(
            std::fs::read(out.join(f)).unwrap() == *bytes,
            "{f} differs after slivers plot"
        );
    }
}

#[test]
fn no_map_without_the_four_pairs_and_a_fresh_sweep_removes_an_old_one() {
    let d = temp_dir("ord-pairs");
    let out = d.join("out");
    let four = tiny_sweep(&d, "");
    sweep(&["sweep", &four, "--out", out.to_str().unwrap(), "-q"]);
    assert!(out.join("ordering.csv").exists());
    let two_pairs = "[[pairs]]\nprovisioning = \"migrating\"\nplacement = \"follow-broker\"\n\
                     [[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"energy-aware\"\n";
    let other_dir = temp_dir("ord-pairs-2");
    let two = tiny_sweep(&other_dir, two_pairs);
    sweep(&["sweep", &two, "--out", out.to_str().unwrap(), "-q", "--overwrite"]);
    assert!(out.join("runs.csv").exists() && out.join("curves-point0.png").exists());
    for f in ["ordering.csv", "ordering.png", "ordering.svg", "ordering.pdf"] {
        assert!(!out.join(f).exists(), "{f} is left from the earlier sweep");
    }
    // plot on these CSVs draws no map either.
    let (ok, _, err) = slivers(&["plot", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(!out.join("ordering.csv").exists());
}
