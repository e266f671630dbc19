//! The files of a federated run (`[[site]]`s): `sites.csv` (per run and
//! site), `brokers.csv` (per run and broker), `site-migrations.csv` (each
//! site's cumulative migrations over time) and the `site-migrations`
//! figure drawn from it.

use std::path::{Path, PathBuf};

use super::ReportError;
use super::csv::{CsvFile, Table, fmt_f64};
use super::outputs::run_columns;
use super::plot::{draw_cumulative, step_curves};
use crate::outcome::RunResult;
use crate::scenario::Scenario;

/// The tables [`write_all`] writes besides the figure.
pub const FILES: [&str; 3] = ["sites.csv", "brokers.csv", "site-migrations.csv"];

/// `sites.csv`: per run and site, its hosts, migrations, active hosts,
/// energy and the VMs that arrived from other sites.
pub fn sites(results: &[RunResult]) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "site",
        "hosts",
        "migrations",
        "live_migrations",
        "stop_copy_migrations",
        "forced_placements",
        "peak_active_hosts",
        "mean_active_hosts",
        "energy_kwh",
        "finished_vms",
        "arrivals",
    ]);
    for r in results {
        let Some(f) = &r.federation else { continue };
        for s in &f.sites {
            let mut row = run_columns(r);
            row.extend([
                s.name.clone(),
                s.hosts.to_string(),
                s.stats.migrations().to_string(),
                s.stats.live_migrations.to_string(),
                s.stats.stop_copy_migrations.to_string(),
                s.stats.forced_placements.to_string(),
                s.stats.peak_active_hosts.to_string(),
                fmt_f64(s.mean_active_hosts),
                fmt_f64(s.energy_kwh),
                s.stats.finished_vms.to_string(),
                s.arrivals.to_string(),
            ]);
            t.push(row)?;
        }
    }
    Ok(t)
}

/// `brokers.csv`: per run and broker, what it was delegated and what it
/// did with it, and the mean fidelity of the guests it served first.
pub fn brokers(results: &[RunResult], scenario: &Scenario) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "broker",
        "sites",
        "delegated_cores",
        "requests",
        "granted",
        "rejected",
        "resizes",
        "broker_migrations",
        "cross_site_moves",
        "guests",
        "guests_fidelity_mean",
    ]);
    let fed = scenario.federation.as_ref();
    for r in results {
        let Some(f) = &r.federation else { continue };
        for (i, b) in f.brokers.iter().enumerate() {
            // The guests whose first broker this is.
            let guests: Vec<usize> = fed
                .map(|c| {
                    c.guest_brokers
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.first() == Some(&(i as u32)))
                        .map(|(g, _)| g)
                        .collect()
                })
                .unwrap_or_default();
            let fidelity = match guests.len() {
                0 => 1.0,
                n => {
                    guests
                        .iter()
                        .filter_map(|&g| r.fidelity.get(g))
                        .map(|f| f.mean)
                        .sum::<f64>()
                        / n as f64
                }
            };
            let names: Vec<&str> = guests
                .iter()
                .filter_map(|&g| scenario.guests.get(g))
                .map(|g| g.name())
                .collect();
            let mut row = run_columns(r);
            row.extend([
                b.name.clone(),
                b.sites.to_string(),
                fmt_f64(b.delegated_cores),
                b.stats.requests.to_string(),
                b.stats.granted.to_string(),
                b.stats.rejected.to_string(),
                b.stats.resizes.to_string(),
                b.stats.broker_migrations.to_string(),
                b.stats.cross_site_moves.to_string(),
                names.join(" "),
                fmt_f64(fidelity),
            ]);
            t.push(row)?;
        }
    }
    Ok(t)
}

/// `site-migrations.csv`: per run and site, the cumulative migrations as
/// a step function from time zero to the run's end.
pub fn site_migrations(results: &[RunResult]) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "site",
        "time_s",
        "cumulative_migrations",
    ]);
    for r in results {
        let Some(f) = &r.federation else { continue };
        for s in &f.sites {
            let mut points = vec![(0.0, 0)];
            for &(at, n) in &s.stats.migration_series {
                let x = at.as_secs_f64();
                match points.last_mut() {
                    Some(last) if last.0 == x => last.1 = n,
                    _ => points.push((x, n)),
                }
            }
            points.push((r.end.as_secs_f64(), s.stats.migrations()));
            for (x, n) in points {
                let mut row = run_columns(r);
                row.extend([s.name.clone(), fmt_f64(x), n.to_string()]);
                t.push(row)?;
            }
        }
    }
    Ok(t)
}

/// Draws `site-migrations.png`/`.svg`/`.pdf` from `site-migrations.csv`:
/// one curve per pair and site.
pub(crate) fn draw(name: &str, table: &CsvFile, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let curves = step_curves(table, Some("site"), "cumulative_migrations")?;
    let title = format!("Cumulative migrations per site: {name}");
    draw_cumulative(
        &title,
        "cumulative migrations",
        &curves,
        &dir.join("site-migrations"),
    )
}

/// Writes a federated run's tables into `dir` and draws the figure;
/// returns the files written. Nothing for a scenario of one site.
pub fn write_all(
    scenario: &Scenario,
    results: &[RunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    if scenario.federation.is_none() {
        return Ok(Vec::new());
    }
    let tables = [
        sites(results)?,
        brokers(results, scenario)?,
        site_migrations(results)?,
    ];
    let mut files = Vec::new();
    for (name, t) in FILES.iter().zip(&tables) {
        t.write(&dir.join(name))?;
        files.push(dir.join(name));
    }
    let [.., series] = tables;
    let series = CsvFile::of_table(&dir.join(FILES[2]), series);
    files.extend(draw(&scenario.name, &series, dir)?);
    Ok(files)
}

/// Redraws the figure of a run folder if it has `site-migrations.csv`.
pub fn replot(name: &str, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let path = dir.join(FILES[2]);
    if !path.exists() {
        return Ok(Vec::new());
    }
    draw(name, &super::csv::read_csv(&path)?, dir)
}

/// Per site and pair, for the terminal, if the runs are federated.
pub fn terminal_table(results: &[RunResult]) -> Option<String> {
    if results.iter().all(|r| r.federation.is_none()) {
        return None;
    }
    let mut s = format!(
        "{:<34} {:<10} {:>10} {:>9} {:>8} {:>8}\n",
        "provisioning/placement", "site", "migrations", "arrivals", "mean", "kWh"
    );
    for r in results {
        let Some(f) = &r.federation else { continue };
        for site in &f.sites {
            s += &format!(
                "{:<34} {:<10} {:>10} {:>9} {:>8.1} {:>8.0}\n",
                r.pair.label(),
                site.name,
                site.stats.migrations(),
                site.arrivals,
                site.mean_active_hosts,
                site.energy_kwh
            );
        }
    }
    Some(s)
}
