//! The files of a VM-request run (`slivers run` on a scenario with
//! `[vm_requests]`) besides its CSVs: `manifest.toml`, and the figure of
//! active hosts and CPU and memory utilisation over time
//! (`utilization.png`, `.svg`, `.pdf`), drawn from `utilization.csv` as written,
//! so that `slivers plot` redraws the same bytes.

use std::path::{Path, PathBuf};

use super::ReportError;
use super::csv::{CsvFile, read_csv};
use super::plot::{Curve, LinePlot, draw_lines};
use crate::scenario::vmreq::VmScenario;

/// `kind` in a VM-request run's manifest, which tells its folder from the
/// others (`slivers plot`).
pub const KIND: &str = "vm-requests";

/// `manifest.toml` of a VM-request run's folder: what produced its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VmRunManifest {
    /// Always [`KIND`].
    pub kind: String,
    /// The scenario file, as given.
    pub scenario: String,
    /// Its SHA-256.
    pub scenario_sha256: String,
    /// The scenario's name.
    pub name: String,
    /// The seed (the generator's; a trace file does not depend on it).
    pub seed: u64,
    /// Hosts of the cluster.
    pub hosts: u32,
    /// The placement policy.
    pub policy: String,
    /// What happens to a VM that fits nowhere: `reject` or `queue`.
    pub on_full: String,
    /// The slivers version.
    pub slivers_version: String,
    /// The git revision the binary was built from (with `-dirty` if its
    /// sources differed from that commit).
    pub git_revision: String,
}

impl VmRunManifest {
    /// The manifest of a run of `scenario` (with its seed), for this binary.
    pub fn of(scenario: &VmScenario) -> VmRunManifest {
        VmRunManifest {
            kind: KIND.to_string(),
            scenario: scenario.file.display().to_string(),
            scenario_sha256: scenario.sha256.clone(),
            name: scenario.name.clone(),
            seed: scenario.seed,
            hosts: scenario.hosts,
            policy: scenario.policy.name().to_string(),
            on_full: scenario.on_full.name().to_string(),
            slivers_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env!("SLIVERS_GIT_REVISION").to_string(),
        }
    }

    /// As TOML.
    pub fn to_toml(&self) -> Result<String, ReportError> {
        super::toml_file(
            "# Written by slivers; enough to reproduce the results in this folder.\n",
            self,
        )
    }
}

/// Draws `utilization.png`, `.svg` and `.pdf` into `dir` from `utilization.csv`
/// (`time_s,active_hosts,...,cpu_util,memory_util`): the active hosts as a
/// share of the cluster, and the CPU and memory the running VMs hold as a
/// share of the cluster's, against days. Returns the files written.
pub(crate) fn draw_utilization(
    m: &VmRunManifest,
    utilization: &CsvFile,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let f = utilization;
    let columns = ["active_hosts", "cpu_util", "memory_util"];
    let (c_time, cols) = (f.column("time_s")?, columns.map(|c| f.column(c)));
    let cols = cols.into_iter().collect::<Result<Vec<usize>, _>>()?;
    let hosts = f64::from(m.hosts.max(1));
    let labels = [
        format!("active hosts (of {})", m.hosts),
        "CPU held by VMs".to_string(),
        "memory held by VMs".to_string(),
    ];
    let mut curves: Vec<Curve> = labels
        .into_iter()
        .map(|label| Curve {
            label,
            points: Vec::with_capacity(f.records.len()),
            spread: None,
        })
        .collect();
    for (line, row) in &f.records {
        let days = f.count(*line, "time_s", &row[c_time])? / 86_400.0;
        for (k, (&c, name)) in cols.iter().zip(columns).enumerate() {
            let v = f.count(*line, name, &row[c])?;
            let share = if k == 0 { v / hosts } else { v };
            curves[k].points.push((days, share));
        }
    }
    let title = format!(
        "Cluster use: {} ({} hosts, {}, on_full = {})",
        m.name, m.hosts, m.policy, m.on_full
    );
    draw_lines(
        &LinePlot {
            title: &title,
            x_label: "time (days)",
            y_label: "share of the cluster",
            curves: &curves,
            step: false,
        },
        &dir.join("utilization"),
    )
}

/// Writes `manifest.toml` and the utilisation figure of a VM-request run
/// into `dir`, `utilization.csv` being the table just written there.
pub fn write_manifest_and_figure(
    scenario: &VmScenario,
    utilization: super::csv::Table,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let m = VmRunManifest::of(scenario);
    let manifest = dir.join("manifest.toml");
    super::write_atomic(&manifest, m.to_toml()?.as_bytes())?;
    let util = CsvFile::of_table(&dir.join("utilization.csv"), utilization);
    let mut files = vec![manifest];
    files.extend(draw_utilization(&m, &util, dir)?);
    Ok(files)
}

/// Redraws the figure of a VM-request run's folder `dir` (`slivers plot`)
/// from its `manifest.toml` and `utilization.csv`.
pub fn replot(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let m: VmRunManifest = super::read_manifest(&dir.join("manifest.toml"), "a VM-request run's manifest")?;
    draw_utilization(&m, &read_csv(&dir.join("utilization.csv"))?, dir)
}
