//! One integration-test binary, one module per topic.

mod bad_input;
mod cli;
mod consolidation;
mod determinism;
mod federation;
mod figure3;
mod golden;
mod hosting_scale;
mod invariants;
mod live;
mod live_consolidation;
mod live_failures;
mod live_federation;
mod live_netns;
mod live_resume;
mod live_xl;
mod migration;
mod ordering;
mod outages;
mod output_safety;
mod plot;
mod scale;
mod slurm;
mod sweep;
mod thermal;
mod trace_fit;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty temporary directory, unique per test and process,
/// removed when dropped.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new [`TempDir`] named after `tag`.
pub fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("slivers-it-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

/// Runs the `slivers` binary; returns (success, stdout, stderr).
pub fn slivers(args: &[&str]) -> (bool, String, String) {
    slivers_env(args, &[])
}

/// Runs the `slivers` binary with extra environment variables (and without
/// an inherited `FAKE_SLURM_FAIL`); returns (success, stdout, stderr).
pub fn slivers_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slivers"))
        .args(args)
        .env_remove("FAKE_SLURM_FAIL")
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("run slivers");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The golden scenario's text with its trace paths made absolute, so it can
/// be written anywhere.
pub fn golden_scenario_text() -> String {
    let golden = root().join("tests/golden/small");
    std::fs::read_to_string(golden.join("scenario.toml"))
        .unwrap()
        .replace(
            "\"web.csv\"",
            &format!("{:?}", golden.join("web.csv").to_str().unwrap()),
        )
        .replace(
            "\"batch.swf\"",
            &format!("{:?}", golden.join("batch.swf").to_str().unwrap()),
        )
}
