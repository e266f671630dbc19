//! The command line: raw arguments (clap) become validated objects, then
//! calls into the library. `main.rs` only maps errors to exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use slivers_policy::{PlacementKind, ProvisioningKind};

use slivers::experiment::{RunOptions, run_scenario};
use slivers::report::outputs;
use slivers::rng::SimRng;
use slivers::scenario::Scenario;
use slivers::trace::generate::{BatchParams, WebParams, batch_header_comments, generate_batch, generate_web};
use slivers::trace::{time, write_series_csv, write_swf};

/// slivers: deterministic simulation of brokered VM hosting (Shirako slivers).
#[derive(Debug, Parser)]
#[command(name = "slivers", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every policy pair of a scenario and write its results.
    Run(RunArgs),
    /// Check a scenario (and read its traces) without running it.
    Validate {
        /// The scenario file.
        scenario: PathBuf,
    },
    /// List the built-in policies with a description of each.
    Policies,
    /// Trace tools.
    #[command(subcommand)]
    Trace(TraceCommand),
}

/// `slivers run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Write results here instead of the scenario's `output`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Check every invariant after every event (slower; always on in debug builds).
    #[arg(long)]
    pub check: bool,
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `slivers trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Write a synthetic trace.
    #[command(subcommand)]
    Generate(GenerateCommand),
}

/// `slivers trace generate ...`.
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// An e-commerce-like request series (per minute, CSV `timestamp,count`).
    Web {
        /// Days to generate.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed of the generator's ChaCha8 stream.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First day, UTC (`YYYY-MM-DD`).
        #[arg(long, default_value = "2026-01-05")]
        start: String,
        /// Mean requests per minute of the daily/weekly baseline.
        #[arg(long, default_value_t = 2000.0)]
        base_rate: f64,
        /// Number of flash crowds.
        #[arg(long, default_value_t = 3)]
        flash_crowds: u32,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// A batch job trace in SWF.
    Batch {
        /// Days to generate.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed of the generator's ChaCha8 stream.
        #[arg(long, default_value_t = 2)]
        seed: u64,
        /// First day, UTC (`YYYY-MM-DD`).
        #[arg(long, default_value = "2026-01-05")]
        start: String,
        /// Processors of the cluster.
        #[arg(long, default_value_t = 100)]
        nodes: u32,
        /// Mean fraction of processors busy.
        #[arg(long, default_value_t = 0.35)]
        target_load: f64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Validate { scenario } => {
            let s = load(&scenario)?;
            println!(
                "{}: ok: {} hosts, {} guests, {} pairs, {} over {} days, period {}",
                scenario.display(),
                s.hosts,
                s.guests.len(),
                s.pairs.len(),
                s.name,
                s.duration.as_days_f64(),
                s.period
            );
            Ok(())
        }
        Command::Policies => {
            println!("provisioning (broker):");
            for p in ProvisioningKind::ALL {
                println!("  {:<16} {}", p.name(), p.description());
            }
            println!("placement (site):");
            for p in PlacementKind::ALL {
                println!("  {:<16} {}", p.name(), p.description());
            }
            Ok(())
        }
        Command::Trace(TraceCommand::Generate(g)) => generate(g),
    }
}

fn load(path: &Path) -> Result<Scenario> {
    Ok(Scenario::load(path)?)
}

fn run_command(args: &RunArgs) -> Result<()> {
    let mut scenario = load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let out = args.out.clone().unwrap_or_else(|| scenario.output.clone());
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(scenario.pairs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed} elapsed  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let started = std::time::Instant::now();
    let results = run_scenario(
        &scenario,
        RunOptions {
            check_invariants: args.check,
        },
        |r| {
            bar.set_message(r.pair.label());
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let written = outputs::write_all(&scenario, &results, &out)
        .with_context(|| format!("writing results to {}", out.display()))?;
    if !args.quiet {
        print!("{}", outputs::summary_table(&results));
        println!(
            "{} runs in {:.2} s; wrote {}",
            results.len(),
            started.elapsed().as_secs_f64(),
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn generate(g: GenerateCommand) -> Result<()> {
    let parse_start = |s: &str| time::parse_datetime(s).map_err(|e| anyhow::anyhow!("--start: {e}"));
    match g {
        GenerateCommand::Web {
            days,
            seed,
            start,
            base_rate,
            flash_crowds,
            out,
        } => {
            let p = WebParams {
                start: parse_start(&start)?,
                days,
                base_rate,
                flash_crowds,
            };
            if let Err(e) = p.validate() {
                bail!("{e}");
            }
            let series = generate_web(&p, &mut SimRng::seed_from_u64(seed));
            write_series_csv(&series, &out)?;
            println!("wrote {} ({} points)", out.display(), series.values.len());
        }
        GenerateCommand::Batch {
            days,
            seed,
            start,
            nodes,
            target_load,
            out,
        } => {
            let p = BatchParams {
                start: parse_start(&start)?,
                days,
                nodes,
                target_load,
            };
            if let Err(e) = p.validate() {
                bail!("{e}");
            }
            let trace = generate_batch(&p, &mut SimRng::seed_from_u64(seed));
            write_swf(&trace, &batch_header_comments(&p, seed), &out)?;
            println!("wrote {} ({} jobs)", out.display(), trace.jobs.len());
        }
    }
    Ok(())
}
