//! The command line: raw arguments (clap) become validated objects, then
//! calls into the library. `main.rs` only maps errors to exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use slivers_policy::{PlacementKind, ProvisioningKind};

use slivers::experiment::shard::{Shard, SweepOptions, merge, plot, run_sweep};
use slivers::experiment::sweep::Sweep;
use slivers::experiment::vmreq::{
    VmRunConfig, run_vm_requests, summary_table as vm_summary_table, write_outputs as write_vm_outputs,
};
use slivers::experiment::{RunOptions, run_scenario};
use slivers::report::outputs;
use slivers::rng::SimRng;
use slivers::scenario::Scenario;
use slivers::scenario::vmreq::{VmScenario, VmSource, is_vm_scenario_file};
use slivers::trace::generate::{BatchParams, WebParams, batch_header_comments, generate_batch, generate_web};
use slivers::trace::vmreq::{VmReqParams, generate_vm_requests};
use slivers::trace::{time, write_series_csv, write_swf, write_vm_requests};

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
    /// Run a parameter sweep (a scenario with a [sweep] table), in parallel.
    Sweep(SweepArgs),
    /// Join the shards of a sweep into the files of an unsharded run.
    Merge {
        /// Folders holding shard results (the first is the default output).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Write the merged files here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Redraw every figure of a sweep folder from its CSVs alone.
    Plot {
        /// The sweep's output folder.
        dir: PathBuf,
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

/// `slivers sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The sweep file.
    pub file: PathBuf,
    /// Print the runs it would do, with their parameters, and stop.
    #[arg(long)]
    pub list: bool,
    /// Worker threads (default: every core). Results do not depend on it.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Skip runs already complete in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Run one deterministic slice I/N of the runs (join with `slivers merge`).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Write results here instead of the scenario's `output`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Check every invariant after every event.
    #[arg(long)]
    pub check: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run on Slurm as a job array, one task per shard, wait, then merge.
    #[arg(long, conflicts_with_all = ["shard", "jobs"])]
    pub slurm: bool,
    /// Array tasks (shards) for --slurm (default: min(16, runs)).
    #[arg(long, value_name = "N", requires = "slurm")]
    pub shards: Option<usize>,
    /// Slurm partition for --slurm.
    #[arg(long, value_name = "P", requires = "slurm")]
    pub partition: Option<String>,
    /// Slurm time limit per task for --slurm (e.g. 1:00:00).
    #[arg(long, value_name = "T", requires = "slurm")]
    pub time: Option<String>,
    /// CPUs per Slurm task, also its worker threads (default 1).
    #[arg(long, value_name = "C", requires = "slurm")]
    pub cpus_per_task: Option<usize>,
    /// An extra #SBATCH line for --slurm, verbatim (repeatable).
    #[arg(long, value_name = "ARG", requires = "slurm", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
    /// With --slurm: write the sbatch script and print the command; submit nothing.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
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
    /// A VM-request trace (Huawei format `vmid,cpu,memory,time,type`).
    VmRequests(VmRequestsArgs),
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

/// `slivers trace generate vm-requests`: sizes, diurnal arrivals and
/// heavy-tailed lifetimes as documented in `slivers::trace::vmreq`.
#[derive(Debug, Args)]
pub struct VmRequestsArgs {
    /// VMs to create.
    #[arg(long)]
    pub vms: u64,
    /// Hosts the load is calibrated for.
    #[arg(long)]
    pub hosts: u32,
    /// Days of arrivals.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the generator's ChaCha8 stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// CPU per host, millicores (as `[hosts] cpu_millicores`).
    #[arg(long, default_value_t = 8000)]
    pub cpu_millicores: u64,
    /// Memory per host, MiB (as `[hosts] memory_mib`).
    #[arg(long, default_value_t = 16384)]
    pub memory_mib: u64,
    /// Steady-state fraction of the bottleneck dimension in use.
    #[arg(long, default_value_t = slivers::trace::vmreq::DEFAULT_LOAD)]
    pub load: f64,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Validate { scenario } if is_vm_scenario_file(&scenario) => {
            let s = VmScenario::load(&scenario)?;
            let vms = match &s.source {
                VmSource::File { trace, .. } => trace.vms.len() as u64,
                VmSource::Generated(p) => p.vms,
            };
            println!(
                "{}: ok: {} hosts, {vms} VMs, {} with on_full = {} over {} days, sampled every {} (scenario \"{}\")",
                scenario.display(),
                s.hosts,
                s.policy,
                s.on_full.name(),
                s.duration.as_days_f64(),
                s.period,
                s.name
            );
            Ok(())
        }
        Command::Validate { scenario } => {
            let s = load(&scenario)?;
            println!(
                "{}: ok: {} hosts, {} guests, {} pairs over {} days, period {} (scenario \"{}\")",
                scenario.display(),
                s.hosts,
                s.guests.len(),
                s.pairs.len(),
                s.duration.as_days_f64(),
                s.period,
                s.name
            );
            Ok(())
        }
        Command::Sweep(args) => sweep_command(&args),
        Command::Merge { dirs, out } => {
            let out = out.unwrap_or_else(|| dirs[0].clone());
            let files = merge(&dirs, &out)?;
            println!(
                "merged {} folders into {}: {} files",
                dirs.len(),
                out.display(),
                files.len()
            );
            Ok(())
        }
        Command::Plot { dir } => {
            let files = plot(&dir)?;
            println!("wrote {} figures in {}", files.len(), dir.display());
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
    if is_vm_scenario_file(&args.scenario) {
        return run_vm_command(args);
    }
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

/// `slivers run` on a scenario with `[vm_requests]`.
fn run_vm_command(args: &RunArgs) -> Result<()> {
    let mut scenario = VmScenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let out = args.out.clone().unwrap_or_else(|| scenario.output.clone());
    let started = std::time::Instant::now();
    let trace = scenario.trace(scenario.seed);
    let loaded = started.elapsed();
    let r = run_vm_requests(&trace, &VmRunConfig::of(&scenario, args.check))?;
    let ran = started.elapsed() - loaded;
    let written = write_vm_outputs(&scenario, &r, &out)
        .with_context(|| format!("writing results to {}", out.display()))?;
    if !args.quiet {
        print!("{}", vm_summary_table(&scenario, &r));
        println!(
            "{} VMs, {} events; trace {:.2} s, run {:.2} s ({:.0} ns/event); wrote {}",
            trace.vms.len(),
            r.events,
            loaded.as_secs_f64(),
            ran.as_secs_f64(),
            ran.as_nanos() as f64 / r.events.max(1) as f64,
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Prints `text`; a closed pipe (`slivers ... | head`) ends quietly.
fn print_all(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn progress_bar(total: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(total as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} runs  {elapsed} elapsed  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

fn sweep_command(args: &SweepArgs) -> Result<()> {
    let sweep = Sweep::load(&args.file)?;
    if args.list {
        let mut header = vec![
            "run".to_string(),
            "point".into(),
            "replicate".into(),
            "seed".into(),
        ];
        header.extend(sweep.params.iter().cloned());
        header.extend(["provisioning".to_string(), "placement".to_string()]);
        let mut text = header.join(",") + "\n";
        for r in &sweep.runs {
            let mut row = vec![
                r.index.to_string(),
                r.point.to_string(),
                r.replicate.to_string(),
                r.seed.to_string(),
            ];
            row.extend(sweep.points[r.point].values.iter().cloned());
            row.extend([r.pair.provisioning.to_string(), r.pair.placement.to_string()]);
            text += &(row.join(",") + "\n");
        }
        return print_all(&text);
    }
    if args.slurm {
        return slurm_command(args, &sweep);
    }
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let out = args.out.clone().unwrap_or_else(|| sweep.output.clone());
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = progress_bar(0, args.quiet);
    let started = std::time::Instant::now();
    let report = run_sweep(
        &sweep,
        &out,
        SweepOptions {
            jobs,
            resume: args.resume,
            shard,
            check_invariants: args.check,
        },
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    if !args.quiet {
        let what = match shard {
            Some(s) => format!("shard {}/{}", s.i, s.n),
            None => "sweep".to_string(),
        };
        println!(
            "{what}: {} runs done, {} already complete, in {:.2} s with {jobs} threads; results in {}",
            report.ran,
            report.skipped,
            started.elapsed().as_secs_f64(),
            out.display()
        );
    }
    Ok(())
}

/// `slivers sweep FILE --slurm`: see `slivers::experiment::slurm`.
fn slurm_command(args: &SweepArgs, sweep: &Sweep) -> Result<()> {
    use slivers::experiment::slurm::{SlurmOptions, SlurmOutcome, Tools, run_slurm};
    let out = args.out.clone().unwrap_or_else(|| sweep.output.clone());
    let options = SlurmOptions {
        shards: args.shards,
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        sbatch_args: args.sbatch_arg.clone(),
        dry_run: args.dry_run,
        resume: args.resume,
        check: args.check,
    };
    let binary = std::env::current_exe().context("finding the slivers binary for the Slurm tasks")?;
    let quiet = args.quiet;
    let mut log = |line: &str| {
        if !quiet {
            println!("{line}");
        }
    };
    let started = std::time::Instant::now();
    match run_slurm(sweep, &out, &options, &Tools::from_env(), &binary, &mut log)? {
        SlurmOutcome::DryRun {
            script,
            command,
            shards,
            of,
        } => {
            if !quiet {
                println!(
                    "wrote {} ({} of {of} shards); submit it with:",
                    script.display(),
                    shards.len()
                );
            }
            println!("{command}");
        }
        SlurmOutcome::Merged {
            job,
            submitted,
            of,
            files,
        } => {
            if !quiet {
                let how = match job {
                    Some(j) => format!("Slurm job {j} ran {} of {of} shards", submitted.len()),
                    None => format!("all {of} shards had finished"),
                };
                println!(
                    "sweep: {how}; merged {} runs in {:.1} s; results in {} ({} files)",
                    sweep.runs.len(),
                    started.elapsed().as_secs_f64(),
                    out.display(),
                    files.len()
                );
            }
        }
    }
    Ok(())
}

fn generate(g: GenerateCommand) -> Result<()> {
    let parse_start = |s: &str| time::parse_datetime(s).map_err(|e| anyhow::anyhow!("--start: {e}"));
    match g {
        GenerateCommand::VmRequests(a) => {
            let p = VmReqParams {
                vms: a.vms,
                hosts: a.hosts,
                capacity: slivers_policy::Resources::new(a.cpu_millicores, a.memory_mib, 1, 1),
                days: a.days,
                load: a.load,
            };
            if let Err(e) = p.validate() {
                bail!("{e}");
            }
            let trace = generate_vm_requests(&p, &mut SimRng::seed_from_u64(a.seed));
            write_vm_requests(&trace, &a.out)?;
            println!(
                "wrote {} ({} VMs, {} deleted within the trace; mean lifetime {:.0} s)",
                a.out.display(),
                trace.vms.len(),
                trace.vms.iter().filter(|v| v.lifetime().is_some()).count(),
                p.mean_lifetime_s()
            );
        }
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
