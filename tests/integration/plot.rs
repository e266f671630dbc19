//! `slivers plot` on the folders `slivers run` writes: the same figures,
//! byte for byte, from the CSVs and the manifest alone.

use std::path::Path;

use crate::{golden_scenario_text, slivers, temp_dir};

/// The bytes of every figure (`.png`, `.svg`, `.pdf`) in `dir`, by name.
fn figures(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".png") || n.ends_with(".svg") || n.ends_with(".pdf")
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `slivers run scenario --out out -q`, which must succeed.
fn run_quietly(scenario: &Path, out: &Path) {
    let (ok, _, err) = slivers(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
}

/// Runs `scenario` into `out`, removes its figures, redraws them with
/// `slivers plot` and checks they are the bytes `run` wrote; returns the
/// figures' names.
fn redrawn_as_written(scenario: &Path, out: &Path) -> Vec<String> {
    run_quietly(scenario, out);
    let written = figures(out);
    for (name, _) in &written {
        std::fs::remove_file(out.join(name)).unwrap();
    }
    let (ok, stdout, err) = slivers(&["plot", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains(&format!("wrote {} figures in", written.len())),
        "{stdout}"
    );
    let redrawn = figures(out);
    assert_eq!(
        redrawn.iter().map(|f| &f.0).collect::<Vec<_>>(),
        written.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in written.iter().zip(&redrawn) {
        assert!(a == b, "{name}: slivers plot drew other bytes than slivers run");
    }
    written.into_iter().map(|f| f.0).collect()
}

#[test]
fn plot_redraws_a_run_folder_byte_for_byte() {
    let dir = temp_dir("plot-run");
    let scenario = dir.join("small.toml");
    std::fs::write(&scenario, golden_scenario_text()).unwrap();
    let names = redrawn_as_written(&scenario, &dir.join("out"));
    // Both figures: the golden run lowers the web guest's fidelity.
    assert_eq!(
        names,
        [
            "fidelity.pdf",
            "fidelity.png",
            "fidelity.svg",
            "figure3.pdf",
            "figure3.png",
            "figure3.svg"
        ]
    );
    // The per-period form of the series too.
    let periods = dir.join("periods.toml");
    std::fs::write(
        &periods,
        golden_scenario_text().replacen("name = \"small\"", "name = \"small\"\nseries = \"periods\"", 1),
    )
    .unwrap();
    let out = dir.join("periods-out");
    assert_eq!(redrawn_as_written(&periods, &out).len(), 6);
    let svg = std::fs::read_to_string(out.join("fidelity.svg")).unwrap();
    assert!(svg.contains("lowest per period"), "not the per-period figure");
}

#[test]
fn plot_names_what_a_run_folder_lacks() {
    let dir = temp_dir("plot-run-missing");
    let scenario = dir.join("small.toml");
    std::fs::write(&scenario, golden_scenario_text()).unwrap();
    let out = dir.join("out");
    run_quietly(&scenario, &out);
    std::fs::remove_file(out.join("fidelity.csv")).unwrap();
    let (ok, _, err) = slivers(&["plot", out.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("fidelity.csv"), "{err}");
    // A guest the manifest does not list.
    let m = std::fs::read_to_string(out.join("manifest.toml")).unwrap();
    std::fs::write(out.join("manifest.toml"), m.replace("\"batch\"", "\"other\"")).unwrap();
    let fid = "run,provisioning,placement,guest,time_s,fidelity\n0,room-for-growth,follow-broker,batch,0,1\n";
    std::fs::write(out.join("fidelity.csv"), fid).unwrap();
    let (ok, _, err) = slivers(&["plot", out.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("fidelity.csv:2") && err.contains("a guest of manifest.toml"),
        "{err}"
    );
}
