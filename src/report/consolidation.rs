//! The files of a consolidation run (`slivers run` on a scenario with
//! `[consolidation]`): `summary.csv` (one row per policy), `timeline.csv`
//! (per policy and interval), `manifest.toml`, and two figures drawn from
//! the CSVs alone, so that `slivers plot` redraws the same bytes:
//! `energy-vs-slav` (energy against SLAV, one curve per detector and
//! selection, its points the safety parameters) and `active-hosts` (hosts
//! on over time per policy), each as PNG, SVG and PDF.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::csv::{CsvFile, Table, fmt_f64, fmt_ratio, read_csv};
use super::plot::{Curve, LinePlot, Spread, draw_lines};
use crate::experiment::consolidate::ConsRunResult;
use crate::scenario::consolidation::ConsScenario;

/// `kind` in a consolidation run's manifest.
pub const KIND: &str = "consolidation";

/// The files a consolidation run writes.
pub const FILES: [&str; 9] = [
    "summary.csv",
    "timeline.csv",
    "manifest.toml",
    "energy-vs-slav.png",
    "energy-vs-slav.svg",
    "energy-vs-slav.pdf",
    "active-hosts.png",
    "active-hosts.svg",
    "active-hosts.pdf",
];

/// `manifest.toml` of a consolidation run's folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConsManifest {
    /// Always [`KIND`].
    pub kind: String,
    /// The scenario file, as given.
    pub scenario: String,
    /// Its SHA-256.
    pub scenario_sha256: String,
    /// The scenario's name.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// Hosts of the cluster.
    pub hosts: u32,
    /// The migration model (`cloudsim` or `slivers`).
    pub migration_model: String,
    /// The policies, in the scenario's order.
    pub policies: Vec<String>,
    /// The slivers version.
    pub slivers_version: String,
    /// The git revision the binary was built from.
    pub git_revision: String,
}

impl ConsManifest {
    /// The manifest of a run of `scenario`.
    pub fn of(scenario: &ConsScenario) -> ConsManifest {
        ConsManifest {
            kind: KIND.to_string(),
            scenario: scenario.file.display().to_string(),
            scenario_sha256: scenario.sha256.clone(),
            name: scenario.name.clone(),
            seed: scenario.seed,
            hosts: scenario.hosts,
            migration_model: scenario.migration_model.name().to_string(),
            policies: scenario.policies.iter().map(|p| p.to_string()).collect(),
            slivers_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env!("SLIVERS_GIT_REVISION").to_string(),
        }
    }
}

/// The columns of `summary.csv`, with how each is read from a result.
#[allow(clippy::type_complexity)]
pub const SUMMARY: [(&str, fn(&ConsRunResult) -> String); 20] = [
    ("policy", |r| r.policy.clone()),
    ("energy_kwh", |r| fmt_f64(r.energy_kwh)),
    ("slav", |r| fmt_ratio(r.slav)),
    ("esv", |r| fmt_ratio(r.esv)),
    ("slatah", |r| fmt_ratio(r.slatah)),
    ("pdm", |r| fmt_ratio(r.pdm)),
    ("migrations", |r| r.migrations.to_string()),
    ("overload_migrations", |r| r.overload_migrations.to_string()),
    ("underload_migrations", |r| r.underload_migrations.to_string()),
    ("host_shutdowns", |r| r.host_shutdowns.to_string()),
    ("mean_time_before_shutdown_s", |r| {
        fmt_f64(r.mean_time_before_shutdown_s)
    }),
    ("mean_time_before_migration_s", |r| {
        fmt_f64(r.mean_time_before_migration_s)
    }),
    ("mean_active_hosts", |r| fmt_f64(r.mean_active_hosts)),
    ("overload_loss", |r| fmt_ratio(r.overload_loss)),
    ("migration_time_s", |r| fmt_f64(r.migration_time_s)),
    ("downtime_s", |r| fmt_f64(r.downtime_s)),
    ("pending_s", |r| fmt_f64(r.pending_s)),
    ("unplaced", |r| r.unplaced.to_string()),
    ("hosts", |r| r.hosts.to_string()),
    ("vms", |r| r.vms.to_string()),
];

/// `summary.csv`: one row per policy.
pub fn summary_table(results: &[ConsRunResult]) -> Result<Table, ReportError> {
    let mut t = Table::new(&SUMMARY.map(|c| c.0));
    for r in results {
        t.push(SUMMARY.iter().map(|(_, f)| f(r)).collect())?;
    }
    Ok(t)
}

/// `timeline.csv`: per policy, the state at each interval's start.
pub fn timeline_table(results: &[ConsRunResult]) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "policy",
        "time_s",
        "active_hosts",
        "overloaded_hosts",
        "power_w",
        "migrations",
        "pending",
    ]);
    for r in results {
        for row in &r.timeline {
            t.push(vec![
                r.policy.clone(),
                fmt_f64(row.time.as_secs_f64()),
                row.active_hosts.to_string(),
                row.overloaded_hosts.to_string(),
                fmt_f64(row.power_w),
                row.migrations.to_string(),
                row.pending.to_string(),
            ])?;
        }
    }
    Ok(t)
}

/// The results as a fixed-width table for the terminal, in the units of
/// CCPE 2012's tables (SLAV x 1e-5, ESV x 1e-3, SLATAH and PDM in %).
pub fn summary_text(results: &[ConsRunResult]) -> String {
    let mut s = format!(
        "{:<14} {:>10} {:>9} {:>9} {:>8} {:>7} {:>10} {:>10}\n",
        "policy", "energy kWh", "SLAV e-5", "ESV e-3", "SLATAH%", "PDM%", "migrations", "shutdowns"
    );
    for r in results {
        s += &format!(
            "{:<14} {:>10.2} {:>9.2} {:>9.2} {:>8.2} {:>7.3} {:>10} {:>10}\n",
            r.policy,
            r.energy_kwh,
            r.slav * 1e5,
            r.esv * 1e3,
            r.slatah * 100.0,
            r.pdm * 100.0,
            r.migrations,
            r.host_shutdowns
        );
    }
    s
}

/// Writes every file of a consolidation run into `dir`.
pub fn write_all(
    scenario: &ConsScenario,
    results: &[ConsRunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let summary = summary_table(results)?;
    let timeline = timeline_table(results)?;
    let (s, t, m) = (
        dir.join("summary.csv"),
        dir.join("timeline.csv"),
        dir.join("manifest.toml"),
    );
    summary.write(&s)?;
    timeline.write(&t)?;
    let manifest = ConsManifest::of(scenario);
    super::write_atomic(
        &m,
        super::toml_file(
            "# Written by slivers; enough to reproduce the results in this folder.\n",
            &manifest,
        )?
        .as_bytes(),
    )?;
    let mut files = vec![s, t, m];
    files.extend(draw(
        &manifest,
        &CsvFile::of_table(&dir.join("summary.csv"), summary),
        &CsvFile::of_table(&dir.join("timeline.csv"), timeline),
        dir,
    )?);
    Ok(files)
}

/// Redraws the figures of a consolidation run's folder (`slivers plot`).
pub fn replot(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let m: ConsManifest = super::read_manifest(&dir.join("manifest.toml"), "a consolidation run's manifest")?;
    draw(
        &m,
        &read_csv(&dir.join("summary.csv"))?,
        &read_csv(&dir.join("timeline.csv"))?,
        dir,
    )
}

/// A policy label's family and parameter: `THR-MMT-0.8` is (`THR-MMT`, 0.8);
/// a label without a numeric last part is its own family.
fn family(label: &str) -> (&str, Option<f64>) {
    match label.rsplit_once('-') {
        Some((f, p)) => match p.parse::<f64>() {
            Ok(x) => (f, Some(x)),
            Err(_) => (label, None),
        },
        None => (label, None),
    }
}

fn draw(
    m: &ConsManifest,
    summary: &CsvFile,
    timeline: &CsvFile,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    // Energy against SLAV, one curve per family, points by parameter. The
    // baselines never migrate (SLAV 0) and are left out.
    let (c_policy, c_energy, c_slav) = (
        summary.column("policy")?,
        summary.column("energy_kwh")?,
        summary.column("slav")?,
    );
    let mut families: BTreeMap<&str, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (line, row) in &summary.records {
        let label = row[c_policy].as_str();
        let (fam, param) = family(label);
        let slav = summary.count(*line, "slav", &row[c_slav])?;
        let energy = summary.count(*line, "energy_kwh", &row[c_energy])?;
        if slav == 0.0 && param.is_none() {
            continue;
        }
        if !families.contains_key(fam) {
            order.push(fam);
        }
        families
            .entry(fam)
            .or_default()
            .push((param.unwrap_or(0.0), slav * 1e5, energy));
    }
    let curves: Vec<Curve> = order
        .iter()
        .map(|fam| {
            let mut pts = families[fam].clone();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Curve {
                label: fam.to_string(),
                points: pts.iter().map(|p| (p.1, p.2)).collect(),
                spread: Some(Spread::ErrorBars(pts.iter().map(|p| (p.1, p.2, p.2)).collect())),
            }
        })
        .collect();
    let title = format!(
        "Energy against SLA violation: {} ({} hosts, {} migrations)",
        m.name, m.hosts, m.migration_model
    );
    let mut files = draw_lines(
        &LinePlot {
            title: &title,
            x_label: "SLAV (x 1e-5)",
            y_label: "energy (kWh)",
            curves: &curves,
            step: false,
        },
        &dir.join("energy-vs-slav"),
    )?;

    // Hosts on over time, one curve per policy.
    let (c_pol, c_time, c_active) = (
        timeline.column("policy")?,
        timeline.column("time_s")?,
        timeline.column("active_hosts")?,
    );
    let mut curves: Vec<Curve> = Vec::new();
    for (line, row) in &timeline.records {
        let hours = timeline.count(*line, "time_s", &row[c_time])? / 3600.0;
        let active = timeline.count(*line, "active_hosts", &row[c_active])?;
        if curves.last().is_none_or(|c| c.label != row[c_pol]) {
            curves.push(Curve {
                label: row[c_pol].clone(),
                points: Vec::new(),
                spread: None,
            });
        }
        if let Some(c) = curves.last_mut() {
            c.points.push((hours, active));
        }
    }
    let title = format!("Hosts on: {} ({} hosts)", m.name, m.hosts);
    files.extend(draw_lines(
        &LinePlot {
            title: &title,
            x_label: "time (hours)",
            y_label: "hosts on",
            curves: &curves,
            step: true,
        },
        &dir.join("active-hosts"),
    )?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_into_family_and_parameter() {
        assert_eq!(family("THR-MMT-0.8"), ("THR-MMT", Some(0.8)));
        assert_eq!(family("LRR-MC-1.2"), ("LRR-MC", Some(1.2)));
        assert_eq!(family("NPA"), ("NPA", None));
        assert_eq!(family("EXACT"), ("EXACT", None));
    }
}
