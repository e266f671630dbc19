//! A run's thermal outputs, written only when its scenario has `[thermal]`:
//! `thermal.csv` (one row per run per sample), `thermal-summary.csv` (one
//! row per run) and the figures `thermal.png`/`.svg`/`.pdf` (peak inlet
//! temperature per pair against days) and, when the supply temperature
//! moves (`supply = "redline"`), `thermal-supply.png`/`.svg`/`.pdf`.

use std::path::{Path, PathBuf};

use super::ReportError;
use super::csv::{CsvFile, Table, fmt_f64, parse_number};
use super::outputs::RunManifest;
use super::outputs::run_columns;
use super::plot::{Curve, LinePlot, PlotOptions, draw_lines_with};
use crate::outcome::RunResult;

/// The columns of `thermal.csv`.
pub const SERIES_COLUMNS: [&str; 10] = [
    "run",
    "provisioning",
    "placement",
    "time_s",
    "supply_c",
    "peak_inlet_c",
    "mean_inlet_c",
    "it_w",
    "cooling_w",
    "hosts_above_redline",
];

/// `thermal.csv`, tidy: every run's samples; `None` if no run has a
/// thermal meter.
pub fn series(results: &[RunResult]) -> Result<Option<Table>, ReportError> {
    if results.iter().all(|r| r.thermal.is_none()) {
        return Ok(None);
    }
    let mut t = Table::new(&SERIES_COLUMNS);
    for r in results {
        for s in r.thermal.iter().flat_map(|t| &t.samples) {
            let mut row = run_columns(r);
            row.extend([
                fmt_f64(s.time.as_secs_f64()),
                fmt_f64(s.supply_c),
                fmt_f64(s.peak_inlet_c),
                fmt_f64(s.mean_inlet_c),
                fmt_f64(s.it_w),
                fmt_f64(s.cooling_w),
                s.hosts_above_redline.to_string(),
            ]);
            t.push(row)?;
        }
    }
    Ok(Some(t))
}

/// `thermal-summary.csv`: one row per run with a thermal meter.
/// `energy_kwh` is the hosts' energy of `summary.csv` (boots and shutdowns
/// included); `total_kwh` adds the cooling.
pub fn summary(results: &[RunResult]) -> Result<Option<Table>, ReportError> {
    if results.iter().all(|r| r.thermal.is_none()) {
        return Ok(None);
    }
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "seed",
        "peak_inlet_c",
        "mean_inlet_c",
        "mean_supply_c",
        "above_redline_s",
        "it_kwh",
        "cooling_kwh",
        "energy_kwh",
        "total_kwh",
    ]);
    for r in results {
        let Some(th) = &r.thermal else { continue };
        let mut row = run_columns(r);
        row.extend([
            r.seed.to_string(),
            fmt_f64(th.peak_inlet_c),
            fmt_f64(th.mean_inlet_c),
            fmt_f64(th.mean_supply_c),
            fmt_f64(th.above_redline_s),
            fmt_f64(th.it_kwh),
            fmt_f64(th.cooling_kwh),
            fmt_f64(r.energy_kwh),
            fmt_f64(r.energy_kwh + th.cooling_kwh),
        ]);
        t.push(row)?;
    }
    Ok(Some(t))
}

/// A fixed-width table for the terminal, or `None` without thermal runs.
pub fn terminal_table(results: &[RunResult]) -> Option<String> {
    if results.iter().all(|r| r.thermal.is_none()) {
        return None;
    }
    let mut s = format!(
        "{:<34} {:>10} {:>10} {:>10} {:>12} {:>11} {:>9}\n",
        "provisioning/placement",
        "peak_in_C",
        "mean_in_C",
        "supply_C",
        "above_red_h",
        "cooling_kWh",
        "total_kWh"
    );
    for r in results {
        let Some(t) = &r.thermal else { continue };
        s += &format!(
            "{:<34} {:>10.2} {:>10.2} {:>10.2} {:>12.2} {:>11.0} {:>9.0}\n",
            r.pair.label(),
            t.peak_inlet_c,
            t.mean_inlet_c,
            t.mean_supply_c,
            t.above_redline_s / 3600.0,
            t.cooling_kwh,
            r.energy_kwh + t.cooling_kwh,
        );
    }
    Some(s)
}

/// One run's rows of `thermal.csv`: `(days, °C)` points.
struct RunSeries {
    run: u64,
    /// `provisioning/placement`.
    label: String,
    peak: Vec<(f64, f64)>,
    supply: Vec<(f64, f64)>,
}

/// Draws the thermal figures into `dir` from `thermal.csv` (as written, or
/// read back by `slivers plot`); returns the files written.
pub(crate) fn draw_figures(
    m: &RunManifest,
    thermal: &CsvFile,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let (c_run, c_prov, c_place, c_time, c_peak, c_supply) = (
        thermal.column("run")?,
        thermal.column("provisioning")?,
        thermal.column("placement")?,
        thermal.column("time_s")?,
        thermal.column("peak_inlet_c")?,
        thermal.column("supply_c")?,
    );
    // Runs in the file's order.
    let mut runs: Vec<RunSeries> = Vec::new();
    for (line, row) in &thermal.records {
        let run = thermal.integer(*line, "run", &row[c_run])?;
        let t = thermal.count(*line, "time_s", &row[c_time])? / 86_400.0;
        let number = |c: usize, name: &str| {
            parse_number(&row[c]).ok_or_else(|| thermal.bad(*line, name, "a number", &row[c]))
        };
        let (peak, supply) = (number(c_peak, "peak_inlet_c")?, number(c_supply, "supply_c")?);
        let at = match runs.iter().position(|r| r.run == run) {
            Some(i) => i,
            None => {
                runs.push(RunSeries {
                    run,
                    label: format!("{}/{}", row[c_prov], row[c_place]),
                    peak: Vec::new(),
                    supply: Vec::new(),
                });
                runs.len() - 1
            }
        };
        runs[at].peak.push((t, peak));
        runs[at].supply.push((t, supply));
    }
    let curves = |pick: fn(&RunSeries) -> &Vec<(f64, f64)>| -> Vec<Curve> {
        runs.iter()
            .map(|r| Curve {
                label: r.label.clone(),
                points: pick(r).clone(),
                spread: None,
            })
            .collect()
    };
    let title = format!("Peak inlet temperature: {} ({} hosts)", m.name, m.hosts);
    let opts = PlotOptions {
        y_from_data: true,
        ..PlotOptions::default()
    };
    let mut files = draw_lines_with(
        &LinePlot {
            title: &title,
            x_label: "time (days)",
            y_label: "peak inlet (°C)",
            curves: &curves(|r| &r.peak),
            step: true,
        },
        &opts,
        &dir.join("thermal"),
    )?;
    let moves = runs.iter().any(|r| r.supply.windows(2).any(|w| w[0].1 != w[1].1));
    if moves {
        let title = format!(
            "Supply temperature at the redline: {} ({} hosts)",
            m.name, m.hosts
        );
        files.extend(draw_lines_with(
            &LinePlot {
                title: &title,
                x_label: "time (days)",
                y_label: "CRAC supply (°C)",
                curves: &curves(|r| &r.supply),
                step: true,
            },
            &opts,
            &dir.join("thermal-supply"),
        )?);
    }
    Ok(files)
}
