//! The files `slivers run` writes: `summary.csv`, `migrations.csv`,
//! `fidelity.csv`, the Figure 3 plot, the fidelity plot and
//! `manifest.toml`, plus the terminal summary table.

use std::path::{Path, PathBuf};

use super::csv::{Table, fmt_f64};
use super::plot::{Curve, LinePlot, PlotOptions, draw_lines, draw_lines_with};
use super::{ReportError, write_atomic};
use crate::engine::SimTime;
use crate::model::{FidelitySeries, SeriesForm};
use crate::outcome::{METRICS, RunResult, Value};
use crate::scenario::Scenario;

/// The identifying columns of `summary.csv`, before the metrics.
pub const SUMMARY_ID_COLUMNS: [&str; 4] = ["run", "provisioning", "placement", "seed"];

/// A metric's value as a CSV field.
pub fn metric_field(v: Value) -> String {
    match v {
        Value::Count(n) => n.to_string(),
        Value::Real(x) => fmt_f64(x),
    }
}

/// The metric fields of one run, aligned with [`METRICS`].
pub fn metric_fields(r: &RunResult) -> Vec<String> {
    METRICS.iter().map(|m| metric_field((m.value)(r))).collect()
}

/// The summary table, one row per run.
pub fn summary(results: &[RunResult]) -> Result<Table, ReportError> {
    let header: Vec<&str> = SUMMARY_ID_COLUMNS
        .iter()
        .copied()
        .chain(METRICS.iter().map(|m| m.name))
        .collect();
    let mut t = Table::new(&header);
    for r in results {
        let mut row = vec![
            r.run.to_string(),
            r.pair.provisioning.to_string(),
            r.pair.placement.to_string(),
            r.seed.to_string(),
        ];
        row.extend(metric_fields(r));
        t.push(row)?;
    }
    Ok(t)
}

/// `migrations.csv`: tidy (long) table `run,provisioning,placement,time_s,cumulative_migrations`.
pub fn migrations(results: &[RunResult], form: SeriesForm) -> Result<Table, ReportError> {
    let mut t = Table::new(&[
        "run",
        "provisioning",
        "placement",
        "time_s",
        "cumulative_migrations",
    ]);
    for r in results {
        for (s, n) in r.migration_steps(form) {
            t.push(vec![
                r.run.to_string(),
                r.pair.provisioning.to_string(),
                r.pair.placement.to_string(),
                fmt_f64(s),
                n.to_string(),
            ])?;
        }
    }
    Ok(t)
}

/// `fidelity.csv`, tidy. In the scenario's series form: every change of
/// every guest's fidelity, `run,provisioning,placement,guest,time_s,fidelity`;
/// or per period, `run,provisioning,placement,guest,time_s,fidelity_mean,fidelity_min`
/// with `time_s` the period's start.
pub fn fidelity(results: &[RunResult], scenario: &Scenario) -> Result<Table, ReportError> {
    let guest = |g: u32| {
        scenario
            .guests
            .get(g as usize)
            .map_or("?", |g| g.name())
            .to_string()
    };
    let mut t = match scenario.series {
        SeriesForm::Changes => {
            Table::new(&["run", "provisioning", "placement", "guest", "time_s", "fidelity"])
        }
        SeriesForm::Periods(_) => Table::new(&[
            "run",
            "provisioning",
            "placement",
            "guest",
            "time_s",
            "fidelity_mean",
            "fidelity_min",
        ]),
    };
    for r in results {
        let id = || {
            vec![
                r.run.to_string(),
                r.pair.provisioning.to_string(),
                r.pair.placement.to_string(),
            ]
        };
        match &r.fidelity_series {
            FidelitySeries::Changes(changes) => {
                for &(at, g, v) in changes {
                    let mut row = id();
                    row.extend([guest(g), fmt_f64(at.as_secs_f64()), fmt_f64(v)]);
                    t.push(row)?;
                }
            }
            FidelitySeries::Periods(periods) => {
                for p in periods {
                    let mut row = id();
                    row.extend([
                        guest(p.guest),
                        fmt_f64(p.start.as_secs_f64()),
                        fmt_f64(p.mean),
                        fmt_f64(p.min),
                    ]);
                    t.push(row)?;
                }
            }
        }
    }
    Ok(t)
}

/// The fidelity plot of the run with the most site migrations among those
/// that lowered some guest's fidelity; `None` if none did. With every
/// change kept, each guest's fidelity around the deepest drop (the idea of
/// the paper's Figure 1); per period, each guest's lowest fidelity in each
/// period over the whole run. Returns the title, the x label and the curves.
pub fn fidelity_plot(
    results: &[RunResult],
    scenario: &Scenario,
) -> Option<(String, &'static str, Vec<Curve>)> {
    let r = results
        .iter()
        .filter(|r| r.fidelity_series.has_drop())
        .max_by_key(|r| (r.site.migrations(), std::cmp::Reverse(r.run)))?;
    match &r.fidelity_series {
        FidelitySeries::Changes(series) => {
            let (title, curves) = fidelity_window(r, series, scenario)?;
            Some((title, "seconds from the drop", curves))
        }
        FidelitySeries::Periods(periods) => {
            let curves = scenario
                .guests
                .iter()
                .enumerate()
                .map(|(g, spec)| Curve {
                    label: format!("{} (lowest per period)", spec.name()),
                    points: periods
                        .iter()
                        .filter(|p| p.guest == g as u32)
                        .map(|p| (p.start.as_secs_f64() / 86_400.0, p.min))
                        .collect(),
                    spread: None,
                })
                .collect();
            let title = format!("Fidelity per period: {}", r.pair.label());
            Some((title, "time (days)", curves))
        }
    }
}

/// Each guest's fidelity around the deepest drop of `series`: the level
/// before the drop (at most 5 minutes of it) and the drop, plus a tenth of
/// that span (at least 1 s) on each side.
fn fidelity_window(
    r: &RunResult,
    series: &[(SimTime, u32, f64)],
    scenario: &Scenario,
) -> Option<(String, Vec<Curve>)> {
    // The deepest drop (the first of equals), and around it the level
    // before it (at most 5 minutes of it) and the drop itself.
    let (i, &(at, guest, _)) = series.iter().enumerate().min_by(|a, b| a.1.2.total_cmp(&b.1.2))?;
    let t0 = at.as_secs_f64();
    let mine = |p: &&(SimTime, u32, f64)| p.1 == guest;
    let start = series[..i]
        .iter()
        .rev()
        .find(mine)
        .map_or(0.0, |p| p.0.as_secs_f64())
        .max(t0 - 300.0);
    let end = series[i + 1..]
        .iter()
        .find(mine)
        .map_or(r.end, |p| p.0)
        .as_secs_f64();
    let pad = ((end - start) * 0.1).max(1.0);
    let (before, after) = (t0 - start + pad, end - t0 + pad);
    let curves = scenario
        .guests
        .iter()
        .enumerate()
        .map(|(g, spec)| {
            // The value in force at the window's start, every change in it, and its end.
            let mut value = 1.0;
            let mut points = Vec::new();
            for &(at, _, v) in series.iter().filter(|p| p.1 == g as u32) {
                let s = at.as_secs_f64() - t0;
                if s <= -before {
                    value = v;
                } else if s < after {
                    if points.is_empty() {
                        points.push((-before, value));
                    }
                    points.push((s, v));
                    value = v;
                }
            }
            if points.is_empty() {
                points.push((-before, value));
            }
            points.push((after, value));
            Curve {
                label: spec.name().to_string(),
                points,
                spread: None,
            }
        })
        .collect();
    let title = format!(
        "Fidelity around the deepest drop: {} (day {:.2})",
        r.pair.label(),
        t0 / 86_400.0
    );
    Some((title, curves))
}

/// `manifest.toml` of a run's folder: what produced its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunManifest {
    /// The scenario file, as given.
    pub scenario: String,
    /// Its SHA-256.
    pub scenario_sha256: String,
    /// The scenario's name.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// The policy pairs, `provisioning/placement`.
    pub pairs: Vec<String>,
    /// The slivers version.
    pub slivers_version: String,
    /// The git revision the binary was built from (with `-dirty` if its
    /// sources differed from that commit).
    pub git_revision: String,
}

/// `manifest.toml`: what produced these files, as TOML.
pub fn manifest(scenario: &Scenario) -> Result<String, ReportError> {
    let m = RunManifest {
        scenario: scenario.file.display().to_string(),
        scenario_sha256: scenario.sha256.clone(),
        name: scenario.name.clone(),
        seed: scenario.seed,
        pairs: scenario.pairs.iter().map(|p| p.label()).collect(),
        slivers_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: env!("SLIVERS_GIT_REVISION").to_string(),
    };
    super::toml_file(
        "# Written by slivers; enough to reproduce the results in this folder.\n",
        &m,
    )
}

/// Writes every output of a run into `dir`; returns the files written.
pub fn write_all(
    scenario: &Scenario,
    results: &[RunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = vec![
        dir.join("summary.csv"),
        dir.join("migrations.csv"),
        dir.join("fidelity.csv"),
        dir.join("figure3.png"),
        dir.join("figure3.svg"),
        dir.join("manifest.toml"),
    ];
    summary(results)?.write(&files[0])?;
    migrations(results, scenario.series)?.write(&files[1])?;
    fidelity(results, scenario)?.write(&files[2])?;
    let curves: Vec<Curve> = results
        .iter()
        .map(|r| Curve {
            label: r.pair.label(),
            points: r
                .migration_steps(scenario.series)
                .into_iter()
                .map(|(s, n)| (s / 86_400.0, n as f64))
                .collect(),
            spread: None,
        })
        .collect();
    let title = format!(
        "Cumulative site migrations: {} ({} hosts)",
        scenario.name, scenario.hosts
    );
    draw_lines_with(
        &LinePlot {
            title: &title,
            x_label: "time (days)",
            y_label: "cumulative migrations",
            curves: &curves,
            step: true,
        },
        &PlotOptions {
            y_integer: true,
            ..PlotOptions::default()
        },
        &files[3],
        &files[4],
    )?;
    write_atomic(&files[5], manifest(scenario)?.as_bytes())?;
    if let Some((title, x_label, curves)) = fidelity_plot(results, scenario) {
        let (png, svg) = (dir.join("fidelity.png"), dir.join("fidelity.svg"));
        draw_lines(
            &LinePlot {
                title: &title,
                x_label,
                y_label: "fidelity",
                curves: &curves,
                step: true,
            },
            &png,
            &svg,
        )?;
        files.extend([png, svg]);
    }
    Ok(files)
}

/// A fixed-width table for the terminal.
pub fn summary_table(results: &[RunResult]) -> String {
    let mut s = format!(
        "{:<34} {:>10} {:>6} {:>9} {:>7} {:>9} {:>8} {:>8} {:>6} {:>10} {:>9} {:>8} {:>9} {:>9}\n",
        "provisioning/placement",
        "migrations",
        "live",
        "stop-copy",
        "broker",
        "requests",
        "rejected",
        "peak",
        "mean",
        "downtime_s",
        "fidelity",
        "kWh",
        "unstarted",
        "too_large"
    );
    for r in results {
        s += &format!(
            "{:<34} {:>10} {:>6} {:>9} {:>7} {:>9} {:>8} {:>8} {:>6.1} {:>10.1} {:>9.6} {:>8.0} {:>9} {:>9}\n",
            r.pair.label(),
            r.site.migrations(),
            r.site.live_migrations,
            r.site.stop_copy_migrations,
            r.broker.broker_migrations,
            r.broker.requests,
            r.broker.rejected,
            r.site.peak_active_hosts,
            r.mean_active_hosts,
            r.cost.downtime_ms as f64 / 1000.0,
            r.fidelity_mean(),
            r.energy_kwh,
            r.jobs_never_started(),
            r.jobs_too_large,
        );
    }
    s
}
