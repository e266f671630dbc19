//! The files of a run whose scenario has `[failures]` or `[[maintenance]]`:
//! `failures.csv` (one row per run), `availability.csv` (one row per run
//! and guest), `drains.csv` (each maintenance window that began before its
//! host was empty), `vms-lost.csv` (the cumulative VMs lost over time) and
//! the `vms-lost` figure drawn from it.

use std::path::{Path, PathBuf};

use super::ReportError;
use super::csv::{CsvFile, Table, fmt_f64};
use super::outputs::{metric_field, run_columns};
use super::plot::{draw_cumulative, step_curves};
use crate::outcome::{MS_PER_HOUR, OUTAGE_METRICS, RunResult};
use crate::scenario::Scenario;

/// The files [`write_all`] writes besides the figure.
pub const FILES: [&str; 4] = ["failures.csv", "availability.csv", "drains.csv", "vms-lost.csv"];

/// The outage figures per pair for the terminal, if any run has outages.
pub fn terminal_table(results: &[RunResult]) -> Option<String> {
    if results.iter().all(|r| r.outages.is_none()) {
        return None;
    }
    let mut s = format!(
        "{:<34} {:>8} {:>8} {:>9} {:>11} {:>13} {:>8} {:>13} {:>7}\n",
        "provisioning/placement",
        "down",
        "vms_lost",
        "recovered",
        "recovery_s",
        "availability",
        "jobs_hit",
        "lost_work_vmh",
        "missed"
    );
    for r in results {
        let Some(o) = &r.outages else { continue };
        let t = o.totals(r.end);
        s += &format!(
            "{:<34} {:>8} {:>8} {:>9} {:>11.1} {:>13.6} {:>8} {:>13.1} {:>7}\n",
            r.pair.label(),
            o.site.host_failures + o.site.maintenance_windows,
            o.site.vms_lost,
            o.site.vms_recovered,
            o.mean_recovery_s(),
            t.availability,
            t.interrupted,
            t.lost_work_vm_ms as f64 / MS_PER_HOUR,
            o.site.missed_drains.len(),
        );
    }
    Some(s)
}

/// `failures.csv`: per run, what the outages did.
pub fn failures(results: &[RunResult]) -> Result<Table, ReportError> {
    // The outage metrics a sweep's `runs.csv` carries, then the run's own.
    let header: Vec<&str> = ["run", "provisioning", "placement", "seed"]
        .into_iter()
        .chain(OUTAGE_METRICS.iter().map(|m| m.name))
        .chain(["waiting_at_end", "migrations", "energy_kwh"])
        .collect();
    let mut t = Table::new(&header);
    for r in results {
        let Some(o) = &r.outages else { continue };
        let mut row = run_columns(r);
        row.push(r.seed.to_string());
        row.extend(OUTAGE_METRICS.iter().map(|m| metric_field((m.value)(r))));
        row.extend([
            o.waiting_at_end.to_string(),
            r.site.migrations().to_string(),
            fmt_f64(r.energy_kwh),
        ]);
        t.push(row)?;
    }
    Ok(t)
}

/// `availability.csv`: per run and guest, its leased and lost VM-hours,
/// availability (the share of its leased VM-time its VMs were not lost),
/// batch leases interrupted and work lost, and its mean fidelity.
pub fn availability(results: &[RunResult], scenario: &Scenario) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "guest",
        "vm_hours",
        "lost_vm_hours",
        "availability",
        "jobs_interrupted",
        "lost_work_vm_hours",
        "fidelity_mean",
    ]);
    for r in results {
        let Some(o) = &r.outages else { continue };
        for (g, spec) in scenario.guests.iter().enumerate() {
            let uptime = o.site.guests.get(g).copied().unwrap_or_default();
            let (vm_ms, lost_ms) = uptime.totals(r.end);
            let (interrupted, lost_work) = o.jobs.get(g).copied().unwrap_or_default();
            let mut row = run_columns(r);
            row.extend([
                spec.name().to_string(),
                fmt_f64(vm_ms as f64 / MS_PER_HOUR),
                fmt_f64(lost_ms as f64 / MS_PER_HOUR),
                fmt_f64(uptime.availability(r.end)),
                interrupted.to_string(),
                fmt_f64(lost_work as f64 / MS_PER_HOUR),
                fmt_f64(r.fidelity.get(g).map_or(1.0, |f| f.mean)),
            ]);
            t.push(row)?;
        }
    }
    Ok(t)
}

/// `drains.csv`: each maintenance window that began with VMs still
/// planned on its host (they were lost with it).
pub fn drains(results: &[RunResult]) -> Result<Table, ReportError> {
    let mut t = Table::new(&["run", "provisioning", "placement", "time_s", "host", "vms_left"]);
    for r in results {
        let Some(o) = &r.outages else { continue };
        for m in &o.site.missed_drains {
            let mut row = run_columns(r);
            row.extend([
                fmt_f64(m.at.as_secs_f64()),
                m.host.0.to_string(),
                m.vms.to_string(),
            ]);
            t.push(row)?;
        }
    }
    Ok(t)
}

/// `vms-lost.csv`: per run, the cumulative VMs lost as a step function,
/// `(time_s, cumulative_vms_lost)` from time zero to the run's end.
pub fn vms_lost(results: &[RunResult]) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "time_s",
        "cumulative_vms_lost",
    ]);
    for r in results {
        let Some(o) = &r.outages else { continue };
        let mut points = vec![(0.0, 0)];
        points.extend(o.site.lost_series.iter().map(|(at, n)| (at.as_secs_f64(), *n)));
        points.push((r.end.as_secs_f64(), o.site.vms_lost));
        for (s, n) in points {
            let mut row = run_columns(r);
            row.extend([fmt_f64(s), n.to_string()]);
            t.push(row)?;
        }
    }
    Ok(t)
}

/// Draws `vms-lost.png`/`.svg`/`.pdf` from `vms-lost.csv`: the cumulative
/// VMs lost per pair over time.
pub(crate) fn draw(name: &str, lost: &CsvFile, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let curves = step_curves(lost, None, "cumulative_vms_lost")?;
    let title = format!("VMs lost to host outages: {name}");
    draw_cumulative(&title, "cumulative VMs lost", &curves, &dir.join("vms-lost"))
}

/// Writes the outage files of a run into `dir` and draws the figure;
/// returns the files written. Nothing if no run had outages.
pub fn write_all(
    scenario: &Scenario,
    results: &[RunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    if results.iter().all(|r| r.outages.is_none()) {
        return Ok(Vec::new());
    }
    let tables = [
        failures(results)?,
        availability(results, scenario)?,
        drains(results)?,
        vms_lost(results)?,
    ];
    let mut files = Vec::new();
    for (name, t) in FILES.iter().zip(&tables) {
        t.write(&dir.join(name))?;
        files.push(dir.join(name));
    }
    let [.., lost] = tables;
    let lost = CsvFile::of_table(&dir.join(FILES[3]), lost);
    files.extend(draw(&scenario.name, &lost, dir)?);
    Ok(files)
}

/// Redraws the outage figure of a run folder if it has `vms-lost.csv`.
pub fn replot(name: &str, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let path = dir.join(FILES[3]);
    if !path.exists() {
        return Ok(Vec::new());
    }
    draw(name, &super::csv::read_csv(&path)?, dir)
}
