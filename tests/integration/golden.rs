//! The hand-checked scenario of `tests/golden/small` (derivation in its README).

use crate::{root, slivers, temp_dir};

#[test]
fn small_scenario_matches_the_hand_checked_files() {
    let out = temp_dir("golden");
    let (ok, _, err) = slivers(&[
        "run",
        "tests/golden/small/scenario.toml",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    for file in ["summary.csv", "migrations.csv", "fidelity.csv"] {
        let got = std::fs::read_to_string(out.join(file)).unwrap();
        let want = std::fs::read_to_string(root().join("tests/golden/small/expected").join(file)).unwrap();
        assert_eq!(got, want, "{file} differs from the hand-checked expectation");
    }
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).unwrap();
    assert!(manifest.contains("seed = 1"), "{manifest}");
    assert!(manifest.contains("scenario_sha256 = \""), "{manifest}");
    assert!(manifest.contains(&format!("slivers_version = \"{}\"", env!("CARGO_PKG_VERSION"))));
    let png = std::fs::read(out.join("figure3.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(out.join("figure3.svg")).unwrap();
    assert!(svg.contains("time (days)") && svg.contains("room-for-growth/energy-aware"));
}
