//! The command line: raw arguments (clap) become validated objects, then
//! calls into the library. `main.rs` only maps errors to exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use slivers_policy::{PlacementKind, PolicyKind, ProvisioningKind, SiteSelectionKind};

use slivers::experiment::shard::{Shard, SweepOptions, merge, run_sweep};
use slivers::experiment::sweep::{Sweep, is_sweep_file};
use slivers::experiment::vmreq::{
    VmRunConfig, run_vm_requests_observed, summary_text as vm_summary_text, write_outputs as write_vm_outputs,
};
use slivers::experiment::{RunOptions, run_scenario_observed};
use slivers::report::folder::{OutputLock, replace_folder};
use slivers::report::outputs;
use slivers::rng::SimRng;
use slivers::scenario::Scenario;
use slivers::scenario::consolidation::{ConsScenario, is_consolidation_scenario_file};
use slivers::scenario::vmreq::{VmScenario, VmSource, is_vm_scenario_file};
use slivers::trace::generate::{BatchParams, WebParams, batch_header_comments};
use slivers::trace::vmreq::VmReqParams;
use slivers::trace::{time, write_series_csv, write_swf, write_vm_requests};
use slivers_policy::consolidation::{Consolidation, OverloadKind, SelectionKind};

/// slivers: deterministic simulation of brokered VM hosting (Shirako slivers).
#[derive(Debug, Parser)]
#[command(name = "slivers", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Parses the process's arguments. Every option that takes a value
/// accepts a leading minus sign, so `--seed -1` is reported as a bad value
/// of `--seed` (with what was expected), not as an unknown option `-1`.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = accept_negative_numbers(Cli::command());
    let parsed = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    parsed.unwrap_or_else(|e| {
        let e = e.format(&mut cmd);
        // An error that echoes a very long value (a 300-digit number) says
        // the same with the value cut; help and other messages go as clap
        // writes them.
        let rendered = e.render().to_string();
        let shown = slivers::text::elide_long_lines(&rendered, slivers::text::MAX_LINE);
        if e.use_stderr() && matches!(shown, std::borrow::Cow::Owned(_)) {
            eprint!("{shown}");
            std::process::exit(e.exit_code());
        }
        e.exit()
    })
}

/// `cmd` and its subcommands with negative numbers allowed as option
/// values, and unsigned integer options parsed by [`unsigned`].
fn accept_negative_numbers(cmd: clap::Command) -> clap::Command {
    use std::any::TypeId;
    cmd.mut_args(|a| {
        if !a.get_action().takes_values() || a.is_positional() {
            return a;
        }
        let a = a.allow_negative_numbers(true);
        let ty = a.get_value_parser().type_id();
        if ty == TypeId::of::<u64>() {
            a.value_parser(unsigned::<u64>(u64::MAX))
        } else if ty == TypeId::of::<u32>() {
            a.value_parser(unsigned::<u32>(u32::MAX.into()))
        } else if ty == TypeId::of::<usize>() {
            a.value_parser(unsigned::<usize>(usize::MAX as u64))
        } else {
            a
        }
    })
    .mut_subcommands(accept_negative_numbers)
}

/// A parser of unsigned integers up to `max`, whose message says what is
/// expected (clap's own says "invalid digit found in string").
fn unsigned<T>(max: u64) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    move |s| {
        let n = s.parse::<u64>().ok().filter(|n| *n <= max);
        n.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
            if s.starts_with('-') {
                "expected a non-negative integer (0 or more)".to_string()
            } else {
                format!("expected a whole number from 0 to {max}")
            }
        })
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every policy pair of a scenario and write its results.
    Run(RunArgs),
    /// Check a scenario or a sweep file (and read its traces) without running it.
    Validate {
        /// The scenario or sweep file.
        scenario: PathBuf,
        /// A sweep file: refuse more runs than this (as `slivers sweep --max-runs`).
        #[arg(long, value_name = "N", default_value_t = slivers::experiment::sweep::MAX_RUNS)]
        max_runs: usize,
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
        /// Replace another sweep's results in --out.
        #[arg(long)]
        overwrite: bool,
    },
    /// Redraw every figure of a run's or a sweep's folder from its CSVs alone.
    Plot {
        /// The output folder of slivers run or slivers sweep.
        dir: PathBuf,
    },
    /// List the built-in policies with a description of each.
    Policies,
    /// Trace tools.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Migration model tools.
    #[command(subcommand)]
    Migration(MigrationCommand),
    /// Run one policy pair live: the same decisions, carried out by an
    /// executor (dry-run, emulated hosts, or Xen's xl), paced by a clock.
    Live(Box<LiveArgs>),
}

/// `slivers live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Who carries out the steps.
    #[arg(long, value_enum, default_value_t = ExecutorArg::DryRun)]
    pub executor: ExecutorArg,
    /// The pair to run: its index in the scenario's pairs, or
    /// `provisioning/placement` (default: the first pair).
    #[arg(long)]
    pub pair: Option<String>,
    /// Simulated seconds per wall-clock second (emulated and xen).
    #[arg(long, default_value_t = 3600.0)]
    pub time_scale: f64,
    /// Write results, the journal (and the dry-run's commands) here
    /// (default: the scenario's output folder, then `live`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run the journal records, after a crash.
    #[arg(long)]
    pub resume: bool,
    /// The hosts' names, comma-separated, one per scenario host (default host0, host1, ...).
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// How xl reaches the hosts (xen executor).
    #[arg(long, value_enum, default_value_t = TransportArg::Ssh)]
    pub transport: TransportArg,
    /// The ssh command (xen over ssh).
    #[arg(long)]
    pub ssh_command: Option<String>,
    /// The ssh user (xen over ssh; default root).
    #[arg(long)]
    pub ssh_user: Option<String>,
    /// The ssh key (xen over ssh).
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// The xl program (xen over the local transport).
    #[arg(long, default_value = "xl")]
    pub xl: PathBuf,
    /// Set this environment variable to the host's name for each local xl
    /// call (for an emulated xl that serves several hosts).
    #[arg(long)]
    pub xl_host_env: Option<String>,
    /// The SSHCMD xl migrate uses to reach the destination (xl's default: ssh).
    #[arg(long)]
    pub migrate_ssh: Option<String>,
    /// Where VM configs are written on each host.
    #[arg(long, default_value = "/etc/xen/slivers")]
    pub config_dir: String,
    /// An extra line for every VM config, verbatim (repeatable; default `type = "pvh"`).
    #[arg(long)]
    pub cfg_extra: Vec<String>,
    /// The vif spec without its rate (default `bridge=xenbr0`; `none`: no network).
    #[arg(long)]
    pub vif: Option<String>,
    /// A disk spec template; `{name}` and `{disk_gib}` are replaced.
    #[arg(long)]
    pub disk: Option<String>,
    /// Where stop-and-copy images go (storage every host sees).
    #[arg(long, default_value = "/srv/slivers/images")]
    pub image_dir: String,
    /// Attempts after the first for an operation that fails.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// What a host an operation finds unreachable (after its retries)
    /// means: `stop` the run (its VMs are unknown, not gone; fix it and
    /// --resume), or `recover`: the host failed, and the model re-creates
    /// its VMs on the other hosts, as in the simulation of `[failures]`.
    /// Default: recover if the scenario has `[failures]`, else stop.
    #[arg(long, value_enum)]
    pub on_host_loss: Option<HostLossArg>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `slivers live --executor`: who carries out the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArg {
    /// Record the xl commands, answered by an in-memory emulation (no
    /// clock: simulated time).
    DryRun,
    /// Emulated hosts, kept in the output folder's `emulated/`, with the
    /// migration model's delays.
    Emulated,
    /// xl on real hosts.
    Xen,
}

/// `slivers live --on-host-loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostLossArg {
    /// Stop the run.
    Stop,
    /// A host failure: the model re-creates its VMs elsewhere.
    Recover,
}

/// `slivers live --transport`: how xl reaches the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// xl on each host over ssh.
    Ssh,
    /// A local xl program.
    Local,
}

/// `slivers migration estimate --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[allow(clippy::enum_variant_names)] // the words users type
pub enum ModeArg {
    /// Live, pre-copy rounds.
    PreCopy,
    /// Live, post-copy.
    PostCopy,
    /// Suspend to storage, then resume on the target.
    StopCopy,
}

/// `slivers migration estimate --on-non-convergence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[allow(clippy::enum_variant_names)] // the words users type
pub enum NonConvergenceArg {
    /// Run the rounds to their limit, then stop and send the rest.
    Force,
    /// Switch to post-copy.
    PostCopy,
    /// Pause the VM and send its memory once.
    StopCopy,
}

/// The name clap shows for `v` (as given on the command line).
fn arg_name(v: impl ValueEnum) -> String {
    v.to_possible_value()
        .map_or_else(String::new, |p| p.get_name().to_string())
}

/// `slivers migration ...`.
#[derive(Debug, Subcommand)]
pub enum MigrationCommand {
    /// What one migration costs under the model, alone on the network:
    /// prints one CSV line with a header.
    Estimate(EstimateArgs),
}

/// `slivers migration estimate`.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// The VM's memory, MiB.
    #[arg(long)]
    pub memory_mib: u64,
    /// The migration network's bandwidth, Mbit/s.
    #[arg(long)]
    pub bandwidth_mbps: u64,
    /// How fast the VM dirties memory, MiB/s.
    #[arg(long, default_value_t = 0.0)]
    pub dirty_mibps: f64,
    /// Pre-copy stops iterating once the rest fits in this downtime, ms.
    #[arg(long, default_value_t = 300)]
    pub max_downtime_ms: u64,
    /// How the VM moves.
    #[arg(long, value_enum, default_value_t = ModeArg::PreCopy)]
    pub mode: ModeArg,
    /// Pre-copy: most rounds before the final one.
    #[arg(long, default_value_t = 29)]
    pub max_rounds: u32,
    /// Pre-copy: most MiB sent, as a multiple of the memory.
    #[arg(long, default_value_t = 3.0)]
    pub max_sent_factor: f64,
    /// Pre-copy: what to do when the dirty rate reaches the bandwidth.
    #[arg(long, value_enum, default_value_t = NonConvergenceArg::Force)]
    pub on_non_convergence: NonConvergenceArg,
    /// Fixed time to resume the VM on the target after a live move, ms.
    #[arg(long, default_value_t = 100)]
    pub switchover_ms: u64,
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
    /// With --check, check after every N-th event and at the end instead
    /// (the check is O(hosts + VMs); sample it on 10^4 hosts and more).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub check_every: u64,
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
    /// Refuse a sweep of more runs than this (docs/sweeps.md, "How many runs").
    #[arg(long, value_name = "N", default_value_t = slivers::experiment::sweep::MAX_RUNS)]
    pub max_runs: usize,
    /// Worker threads (default: every core). Results do not depend on it.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Skip runs already complete in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Start afresh in an output folder that holds another sweep's results
    /// (without it such a folder is refused).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
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
        Command::Validate { scenario, max_runs } if is_sweep_file(&scenario) => {
            validate_sweep(&scenario, max_runs)
        }
        Command::Validate { scenario, .. } if is_consolidation_scenario_file(&scenario) => {
            let s = ConsScenario::load(&scenario)?;
            let vms = s.vm_count();
            println!(
                "{}: ok: {} hosts of {} types, {vms} VMs of {} types, {} policies ({}) over {} h, every {}, {} migrations (scenario \"{}\")",
                scenario.display(),
                s.hosts,
                s.host_types.len(),
                s.vm_types.len(),
                s.policies.len(),
                s.policies
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                s.duration.as_secs_f64() / 3600.0,
                s.period,
                s.migration_model.name(),
                s.name
            );
            Ok(())
        }
        Command::Validate { scenario, .. } if is_vm_scenario_file(&scenario) => {
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
        Command::Validate { scenario, .. } => {
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
            for f in &s.fit {
                println!("{} \"{}\": {}", f.key, f.guest, f.report);
            }
            print_fit_warnings(&s);
            Ok(())
        }
        Command::Sweep(args) => sweep_command(&args),
        Command::Merge { dirs, out, overwrite } => {
            let out = out.unwrap_or_else(|| dirs[0].clone());
            let _lock = OutputLock::acquire(&out)?;
            let files = merge(&dirs, &out, overwrite)?;
            println!(
                "merged {} folders into {}: {} files",
                dirs.len(),
                out.display(),
                files.len()
            );
            Ok(())
        }
        Command::Plot { dir } => {
            let _lock = OutputLock::acquire(&dir)?;
            let files = slivers::report::plot_folder(&dir)?;
            // Figures, and the ordering map's table when the sweep has one.
            let tables = files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "csv"))
                .count();
            let figures = files.len() - tables;
            match tables {
                0 => println!("wrote {figures} figures in {}", dir.display()),
                _ => println!("wrote {figures} figures and ordering.csv in {}", dir.display()),
            }
            Ok(())
        }
        Command::Policies => {
            println!("provisioning (broker):");
            for p in ProvisioningKind::ALL {
                print_policy(p, p.description());
            }
            println!("placement (site):");
            for p in PlacementKind::ALL {
                print_policy(p, p.description());
            }
            println!("site selection (broker over its sites, [[broker]] site_selection):");
            for p in SiteSelectionKind::ALL {
                print_policy(p, p.description());
            }
            println!(
                "A policy with parameters is written {{ name = \"energy-aware\", max_utilization = 0.8 }} in [[pairs]]."
            );
            println!(
                "consolidation (site, [consolidation] scenarios), written DETECTOR-SELECTION-PARAMETER:"
            );
            println!("  {:<16} {}", "npa", Consolidation::Npa.description());
            println!("  {:<16} {}", "dvfs", Consolidation::Dvfs.description());
            println!("  {:<16} {}", "exact", Consolidation::Exact.description());
            println!("  overload detectors:");
            for k in OverloadKind::ALL {
                print_policy(k, k.description());
            }
            println!("  VM selections:");
            for k in SelectionKind::ALL {
                println!("  {:<16} {}", k.name(), k.description());
            }
            println!(
                "e.g. \"THR-MMT-0.8\", \"LR-MC-1.2\", or \"MAD-MMT-2.5(fallback_threshold=0.6)\" for another parameter."
            );
            Ok(())
        }
        Command::Trace(TraceCommand::Generate(g)) => generate(g),
        Command::Migration(MigrationCommand::Estimate(a)) => estimate(&a),
        Command::Live(a) => live(&a),
    }
}

/// `slivers validate` on a sweep file: every point validated as a full
/// scenario (traces read), and the size of the sweep.
fn validate_sweep(path: &Path, max_runs: usize) -> Result<()> {
    // A file that is not text is named for what it looks like, not quoted.
    slivers::scenario::read_text(path)?;
    let sweep = Sweep::load_capped(path, max_runs)?;
    if !sweep.all_points_checked() {
        // A large sweep checked only each key's values: build every point
        // now, one at a time.
        for p in 0..sweep.point_count() {
            sweep.point(p)?;
        }
    }
    let m = slivers::experiment::shard::SweepManifest::of(&sweep);
    let pairs = sweep.pairs;
    println!(
        "{}: ok: sweep \"{}\" ({}): {} points x {} replicates x {pairs} pairs = {} runs, swept: {}",
        path.display(),
        m.name,
        m.mode,
        m.points,
        m.replicates,
        m.runs,
        if m.params.is_empty() {
            "nothing".to_string()
        } else {
            m.params.join(", ")
        }
    );
    Ok(())
}

fn live(a: &LiveArgs) -> Result<()> {
    use slivers::live::driver::{HostLoss, LiveOptions, run_live_observed};
    use slivers::live::setup::{Access, connect};
    use slivers::live::xen::XenConfig;
    use slivers::report::folder::{LIVE_KEPT, replace_folder_keeping};

    if !(a.time_scale.is_finite() && a.time_scale > 0.0) {
        bail!("--time-scale: expected a positive number, found {}", a.time_scale);
    }
    if is_vm_scenario_file(&a.scenario) {
        return Err(slivers::scenario::vmreq::not_a_guest_scenario(&a.scenario).into());
    }
    if is_consolidation_scenario_file(&a.scenario) {
        return live_consolidation(a);
    }
    let scenario = load(&a.scenario)?;
    let pair = match a.pair.as_deref() {
        None => scenario.pairs[0],
        Some(p) => match p.parse::<usize>() {
            Ok(i) => *scenario
                .pairs
                .get(i)
                .with_context(|| format!("--pair {i}: the scenario has {} pairs", scenario.pairs.len()))?,
            Err(_) => *scenario.pairs.iter().find(|x| x.label() == p).with_context(|| {
                let labels: Vec<String> = scenario.pairs.iter().map(|x| x.label()).collect();
                format!("--pair {p}: expected one of {}", labels.join(", "))
            })?,
        },
    };
    let hosts: Vec<String> = if a.hosts.is_empty() {
        (0..scenario.hosts).map(|i| format!("host{i}")).collect()
    } else {
        a.hosts.clone()
    };
    let out = a.out.clone().unwrap_or_else(|| scenario.output.join("live"));
    slivers::report::folder::check_output_path(&out)?;
    // One controller per folder; the results replace the last ones as a
    // set, beside the journal, transcript and emulated hosts (finishing a
    // replacement an interrupted controller left half done). A folder
    // holding anything else is refused before the run.
    let _lock = OutputLock::acquire(&out)?;
    slivers::report::folder::prepare_folder(&out, &LIVE_KEPT)?;
    // Before the folder is created or a host touched: a mistyped --out
    // with --resume must not start a second run on the same hosts.
    let journal = out.join("journal.jsonl");
    slivers::live::driver::check_journal(&journal, a.resume)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let defaults = XenConfig::default();
    let config = XenConfig {
        config_dir: a.config_dir.clone(),
        migrate_ssh: a.migrate_ssh.clone(),
        cfg_extra: if a.cfg_extra.is_empty() {
            defaults.cfg_extra.clone()
        } else {
            a.cfg_extra.clone()
        },
        vif: match a.vif.as_deref() {
            None => defaults.vif.clone(),
            Some("none") => None,
            Some(v) => Some(v.to_string()),
        },
        disk: a.disk.clone(),
        ..defaults
    };
    let access = match (a.executor, a.transport) {
        (ExecutorArg::DryRun, _) => Access::DryRun {
            commands: out.join("commands.jsonl"),
            append: a.resume,
        },
        (ExecutorArg::Emulated, _) => Access::Emulated {
            state: out.join("emulated"),
            resume: a.resume,
        },
        (ExecutorArg::Xen, TransportArg::Local) => Access::Local {
            xl: a.xl.clone(),
            host_env: a.xl_host_env.clone(),
        },
        (ExecutorArg::Xen, TransportArg::Ssh) => Access::Ssh {
            command: a.ssh_command.clone(),
            user: a.ssh_user.clone(),
            key: a.ssh_key.clone(),
        },
    };
    let (exec, pace) = connect(&scenario, &hosts, &access, config, a.time_scale).with_context(|| {
        format!(
            "setting up the {} executor in {}",
            arg_name(a.executor),
            out.display()
        )
    })?;
    let opts = LiveOptions {
        pair,
        seed: a.seed.unwrap_or(scenario.seed),
        pace,
        journal,
        resume: a.resume,
        hosts,
        image_dir: a.image_dir.clone(),
        vm_prefix: "sliver-".into(),
        retries: a.retries,
        on_host_loss: match a.on_host_loss {
            Some(HostLossArg::Stop) => HostLoss::Stop,
            Some(HostLossArg::Recover) => HostLoss::Recover,
            None if scenario.outages.failures.is_some() => HostLoss::Recover,
            None => HostLoss::Stop,
        },
    };
    // A bar over the simulated time: day reached, operations run, time left.
    let span = scenario.duration.as_secs_f64();
    let bar = sim_time_bar(span, a.quiet);
    let show = |now: slivers::engine::SimTime, ops: u64| {
        bar.set_position(now.as_secs_f64() as u64);
        let days = span / 86_400.0;
        bar.set_message(if now < scenario.duration {
            format!("day {:.2} of {days:.0}, {ops} operations", now.as_days_f64())
        } else {
            format!("past day {days:.0}: finishing the running operations, {ops} operations")
        });
    };
    let outcome = run_live_observed(&scenario, exec, &opts, &show);
    bar.finish_and_clear();
    let outcome = outcome?;
    let files = replace_folder_keeping(&out, &LIVE_KEPT, |dir| {
        outputs::write_all(&scenario, std::slice::from_ref(&outcome.result), dir)
    })
    .with_context(|| format!("writing results to {}", out.display()))?;
    if !a.quiet {
        print!(
            "{}",
            outputs::summary_table(std::slice::from_ref(&outcome.result))
        );
        if let Some(t) = slivers::report::federation::terminal_table(std::slice::from_ref(&outcome.result)) {
            print!("{t}");
        }
        let o = &outcome.outages;
        if o.host_failures + o.maintenance_windows > 0 {
            println!(
                "{} host failures ({} found unreachable), {} maintenance windows; {} VMs lost, {} re-created",
                o.host_failures, outcome.hosts_lost, o.maintenance_windows, o.vms_lost, o.vms_recovered
            );
        }
        println!(
            "{} operations ({} retried attempts, {} stop-and-copy fallbacks, {} resumed); wrote {} files in {}",
            outcome.ops,
            outcome.retries,
            outcome.fallbacks,
            outcome.resumed,
            files.len(),
            out.display()
        );
    }
    Ok(())
}

fn estimate(a: &EstimateArgs) -> Result<()> {
    use slivers::engine::SimTime;
    use slivers::model::migration::{EstimateMode, MigrationParams, NonConvergence, estimate};
    if a.memory_mib == 0 || a.bandwidth_mbps == 0 {
        bail!("--memory-mib and --bandwidth-mbps must be positive");
    }
    if !(a.dirty_mibps.is_finite() && a.dirty_mibps >= 0.0) {
        bail!("--dirty-mibps: expected a number >= 0, found {}", a.dirty_mibps);
    }
    if !(a.max_sent_factor.is_finite() && a.max_sent_factor >= 1.0) || a.max_rounds == 0 {
        bail!("--max-sent-factor must be at least 1 and --max-rounds at least 1");
    }
    let mode = match a.mode {
        ModeArg::PreCopy => EstimateMode::PreCopy,
        ModeArg::PostCopy => EstimateMode::PostCopy,
        ModeArg::StopCopy => EstimateMode::StopCopy,
    };
    let on_non_convergence = match a.on_non_convergence {
        NonConvergenceArg::Force => NonConvergence::Force,
        NonConvergenceArg::PostCopy => NonConvergence::PostCopy,
        NonConvergenceArg::StopCopy => NonConvergence::StopCopy,
    };
    let params = MigrationParams {
        bandwidth_mbps: a.bandwidth_mbps,
        max_downtime: SimTime::from_millis(a.max_downtime_ms),
        max_rounds: a.max_rounds,
        max_sent_factor: a.max_sent_factor,
        on_non_convergence,
        switchover: SimTime::from_millis(a.switchover_ms),
        ..MigrationParams::default()
    };
    let e = estimate(&params, mode, a.memory_mib, a.dirty_mibps);
    // A count of bytes past 2^64 would print as u64::MAX: refuse it.
    let bytes_sent = e.sent_mib * 1024.0 * 1024.0;
    if bytes_sent.is_nan() || bytes_sent >= u64::MAX as f64 {
        bail!(
            "--memory-mib {}: the migration would send {:.3e} bytes, more than a 64-bit count holds; expected a VM memory of at most about {} MiB",
            a.memory_mib,
            bytes_sent,
            (u64::MAX as f64 / 1024.0 / 1024.0 / (e.sent_mib / a.memory_mib as f64)).floor()
        );
    }
    println!("total_time_s,downtime_ms,rounds,bytes_sent,converged,degraded_s");
    println!(
        "{},{},{},{},{},{}",
        slivers::report::csv::fmt_f64(e.total.as_secs_f64()),
        e.downtime.as_millis(),
        e.rounds,
        bytes_sent.round() as u64,
        e.converged,
        slivers::report::csv::fmt_f64(e.degraded.as_secs_f64()),
    );
    Ok(())
}

fn load(path: &Path) -> Result<Scenario> {
    Ok(Scenario::load(path)?)
}

fn run_command(args: &RunArgs) -> Result<()> {
    if is_vm_scenario_file(&args.scenario) {
        return run_vm_command(args);
    }
    if is_consolidation_scenario_file(&args.scenario) {
        return run_consolidation_command(args);
    }
    let mut scenario = load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if !args.quiet {
        for f in &scenario.fit {
            eprintln!("{} \"{}\": {}", f.key, f.guest, f.report);
        }
    }
    print_fit_warnings(&scenario);
    let out = args.out.clone().unwrap_or_else(|| scenario.output.clone());
    let _lock = OutputLock::acquire(&out)?;
    // One bar over the simulated time of every run (the runs go in
    // parallel): days done, events per second, and the time left.
    let runs = scenario.pairs.len();
    let span = scenario.duration.as_secs_f64();
    let bar = sim_time_bar(runs as f64 * span, args.quiet);
    let reached = Reached::new(runs);
    let started = std::time::Instant::now();
    let show = |p: slivers::experiment::Progress| {
        if bar.is_hidden() {
            return;
        }
        let (done, events) = reached.update(p.run, p.now, p.events);
        bar.set_position(done);
        bar.set_message(format!(
            "day {:.1} of {:.0} ({} runs), {}",
            done as f64 / runs.max(1) as f64 / 86_400.0,
            span / 86_400.0,
            runs,
            event_rate(events, started)
        ));
    };
    let results = run_scenario_observed(
        &scenario,
        RunOptions {
            check_invariants: args.check,
            check_every: args.check_every,
        },
        |_| {},
        &show,
    )?;
    bar.finish_and_clear();
    let written = replace_folder(&out, |dir| outputs::write_all(&scenario, &results, dir))
        .with_context(|| format!("writing results to {}", out.display()))?;
    for r in &results {
        if r.jobs_never_started() > 0 || r.jobs_too_large > 0 {
            eprintln!(
                "warning: {}: {} of {} batch jobs never started and {} were dropped as larger than the cluster (summary.csv: jobs_arrived, jobs_started, jobs_too_large)",
                r.pair.label(),
                r.jobs_never_started(),
                r.jobs_arrived + r.jobs_too_large,
                r.jobs_too_large
            );
        }
    }
    if !args.quiet {
        print!("{}", outputs::summary_table(&results));
        if let Some(t) = slivers::report::thermal::terminal_table(&results) {
            print!("{t}");
        }
        if let Some(t) = slivers::report::failures::terminal_table(&results) {
            print!("{t}");
        }
        if let Some(t) = slivers::report::federation::terminal_table(&results) {
            print!("{t}");
        }
        println!(
            "{} runs in {:.2} s; wrote {}",
            results.len(),
            started.elapsed().as_secs_f64(),
            joined(&written)
        );
    }
    Ok(())
}

/// `slivers live` on a consolidation scenario: the decisions of one policy
/// (`--pair`: its label or index; default the first) carried out through a
/// dry-run executor, whose `commands.jsonl` is the transcript.
fn live_consolidation(a: &LiveArgs) -> Result<()> {
    use slivers::live::consolidate::{check, emulated_cluster, run_live};
    use slivers::live::transport::dry_run;
    use slivers::live::xen::{XenConfig, XenExecutor};

    let mut scenario = ConsScenario::load(&a.scenario)?;
    if let Some(seed) = a.seed {
        scenario.seed = seed;
    }
    if a.executor != ExecutorArg::DryRun {
        bail!(
            "{}: a consolidation scenario runs live only with --executor dry-run for now, not {}",
            a.scenario.display(),
            arg_name(a.executor)
        );
    }
    if a.resume {
        bail!("--resume: a consolidation dry run has nothing to resume; drop --resume");
    }
    let policy = match a.pair.as_deref() {
        None => scenario.policies[0],
        Some(p) => match p.parse::<usize>() {
            Ok(i) => *scenario.policies.get(i).with_context(|| {
                format!(
                    "--pair {i}: the scenario has {} policies",
                    scenario.policies.len()
                )
            })?,
            Err(_) => {
                let labels: Vec<String> = scenario.policies.iter().map(|x| x.to_string()).collect();
                let i = labels
                    .iter()
                    .position(|l| l.eq_ignore_ascii_case(p))
                    .with_context(|| format!("--pair {p}: expected one of {}", labels.join(", ")))?;
                scenario.policies[i]
            }
        },
    };
    let hosts: Vec<String> = if a.hosts.is_empty() {
        (0..scenario.hosts).map(|i| format!("host{i}")).collect()
    } else {
        a.hosts.clone()
    };
    check(&scenario, &hosts)?;
    let out = a.out.clone().unwrap_or_else(|| scenario.output.join("live"));
    slivers::report::folder::check_output_path(&out)?;
    let _lock = OutputLock::acquire(&out)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let commands = out.join("commands.jsonl");
    let file =
        std::fs::File::create(&commands).with_context(|| format!("creating {}", commands.display()))?;
    let transport = dry_run(emulated_cluster(&scenario, &hosts), Box::new(file));
    let exec = XenExecutor::new(
        std::sync::Arc::new(transport),
        XenConfig {
            config_dir: a.config_dir.clone(),
            ..XenConfig::default()
        },
    );
    let trace = scenario.trace(scenario.seed);
    let bar = sim_time_bar(1.0, a.quiet);
    let show = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!("{done} of {total} decisions"));
    };
    let (result, ops) = run_live(&scenario, policy, &trace, &exec, &hosts, "vm-", &show)?;
    bar.finish_and_clear();
    let written = replace_folder(&out.join("results"), |dir| {
        slivers::report::consolidation::write_all(&scenario, std::slice::from_ref(&result), dir)
    })?;
    if !a.quiet {
        print!(
            "{}",
            slivers::report::consolidation::summary_text(std::slice::from_ref(&result))
        );
        println!(
            "{ops} operations; transcript {}; wrote {} files in {}",
            commands.display(),
            written.len(),
            out.join("results").display()
        );
    }
    Ok(())
}

/// `slivers run` on a scenario with `[consolidation]`: every policy, in
/// parallel, on the same utilisation trace.
fn run_consolidation_command(args: &RunArgs) -> Result<()> {
    use slivers::experiment::consolidate::run_all_observed;
    let mut scenario = ConsScenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let out = args.out.clone().unwrap_or_else(|| scenario.output.clone());
    let _lock = OutputLock::acquire(&out)?;
    let started = std::time::Instant::now();
    let trace = scenario.trace(scenario.seed);
    let loaded = started.elapsed();
    // One bar over the simulated time of every policy's run (they go in
    // parallel): hours done, events per second, and the time left.
    let runs = scenario.policies.len();
    let span = scenario.duration.as_secs_f64();
    let bar = sim_time_bar(runs as f64 * span, args.quiet);
    let reached = Reached::new(runs);
    let show = |run: usize, now: slivers::engine::SimTime, events: u64| {
        if bar.is_hidden() {
            return;
        }
        let (done, events) = reached.update(run, now, events);
        bar.set_position(done);
        bar.set_message(format!(
            "hour {:.1} of {:.0} ({runs} policies, {} VMs), {}",
            done as f64 / runs.max(1) as f64 / 3600.0,
            span / 3600.0,
            trace.vms.len(),
            event_rate(events, started + loaded)
        ));
    };
    let results = run_all_observed(&scenario, &trace, args.check, &show);
    bar.finish_and_clear();
    let results = results?;
    let ran = started.elapsed() - loaded;
    let written = replace_folder(&out, |dir| {
        slivers::report::consolidation::write_all(&scenario, &results, dir)
    })
    .with_context(|| format!("writing results to {}", out.display()))?;
    if !args.quiet {
        print!("{}", slivers::report::consolidation::summary_text(&results));
        println!(
            "{} policies, {} VMs on {} hosts; trace {:.2} s, runs {:.2} s; wrote {}",
            results.len(),
            trace.vms.len(),
            scenario.hosts,
            loaded.as_secs_f64(),
            ran.as_secs_f64(),
            joined(&written)
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
    let _lock = OutputLock::acquire(&out)?;
    let started = std::time::Instant::now();
    let what = match &scenario.source {
        VmSource::File { .. } => "reading the VM-request trace".to_string(),
        VmSource::Generated(p) => format!("generating {} VMs", p.vms),
    };
    let trace = with_spinner_unless(args.quiet, what, || scenario.trace(scenario.seed));
    let loaded = started.elapsed();
    // A bar over the simulated time: day reached, events per second, time left.
    let config = VmRunConfig::of(&scenario, args.check);
    let span = config.duration.as_secs_f64();
    let bar = sim_time_bar(span, args.quiet);
    let show = |now: slivers::engine::SimTime, events: u64| {
        bar.set_position(now.as_secs_f64() as u64);
        bar.set_message(format!(
            "day {:.1} of {:.0}, {}",
            now.as_days_f64(),
            span / 86_400.0,
            event_rate(events, started + loaded)
        ));
    };
    let r = run_vm_requests_observed(&trace, &config, &show)?;
    bar.finish_and_clear();
    let ran = started.elapsed() - loaded;
    let written = replace_folder(&out, |dir| write_vm_outputs(&scenario, &r, dir))
        .with_context(|| format!("writing results to {}", out.display()))?;
    if !args.quiet {
        print!("{}", vm_summary_text(&scenario, &r));
        println!(
            "{} VMs, {} events; trace {:.2} s, run {:.2} s ({:.0} ns/event); wrote {}",
            trace.vms.len(),
            r.events,
            loaded.as_secs_f64(),
            ran.as_secs_f64(),
            ran.as_nanos() as f64 / r.events.max(1) as f64,
            joined(&written)
        );
    }
    Ok(())
}

/// Prints the scenario's trace-fit warnings to stderr (even with
/// `--quiet`: a warning is never hidden).
fn print_fit_warnings(s: &Scenario) {
    for w in s.fit.iter().flat_map(|f| f.warnings()) {
        eprintln!("warning: {}: {w}", s.file.display());
    }
}

/// One policy of `slivers policies`: its name and description, then each
/// parameter with its meaning, default and range.
fn print_policy(kind: impl PolicyKind, description: &str) {
    println!("  {:<16} {}", kind.name(), description);
    for p in kind.parameters() {
        println!(
            "  {:<16}   {} = {} (default; from {} to {}): {}",
            "", p.name, p.default, p.min, p.max, p.meaning
        );
    }
}

/// Writes with `write` to stdout, buffered; a closed pipe
/// (`slivers ... | head`) ends quietly.
fn print_with(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// How far each of several runs in parallel has got, for one progress bar
/// over all of them.
struct Reached {
    /// Simulated seconds reached, per run.
    secs: Vec<std::sync::atomic::AtomicU64>,
    /// Events handled, per run.
    events: Vec<std::sync::atomic::AtomicU64>,
}

impl Reached {
    fn new(runs: usize) -> Self {
        Reached {
            secs: (0..runs).map(|_| Default::default()).collect(),
            events: (0..runs).map(|_| Default::default()).collect(),
        }
    }

    /// Records that `run` reached `now` after `events` events; returns the
    /// simulated seconds and the events of all runs together.
    fn update(&self, run: usize, now: slivers::engine::SimTime, events: u64) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.secs[run].store(now.as_secs_f64() as u64, Relaxed);
        self.events[run].store(events, Relaxed);
        let sum = |v: &[std::sync::atomic::AtomicU64]| v.iter().map(|a| a.load(Relaxed)).sum();
        (sum(&self.secs), sum(&self.events))
    }
}

/// The files written, as one comma-separated list for the terminal.
fn joined(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Progress is shown on a terminal, unless --quiet.
fn shows_progress(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar over `span_s` seconds of simulated time, its message set by the
/// caller; hidden unless [`shows_progress`].
fn sim_time_bar(span_s: f64, quiet: bool) -> indicatif::ProgressBar {
    if !shows_progress(quiet) {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(span_s as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {msg}  {elapsed} elapsed, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

/// Runs `work` under a spinner saying `what` (work with no measure of how
/// far it has got: reading or generating a trace), on a terminal.
fn with_spinner<T>(what: String, work: impl FnOnce() -> T) -> T {
    with_spinner_unless(false, what, work)
}

/// [`with_spinner`], hidden with --quiet.
fn with_spinner_unless<T>(quiet: bool, what: String, work: impl FnOnce() -> T) -> T {
    if !shows_progress(quiet) {
        return work();
    }
    let s = indicatif::ProgressBar::new_spinner();
    s.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}  {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    s.set_message(what);
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    let out = work();
    s.finish_and_clear();
    out
}

/// `events` since `since`, as millions per second.
fn event_rate(events: u64, since: std::time::Instant) -> String {
    format!(
        "{:.2} M events/s",
        events as f64 / since.elapsed().as_secs_f64().max(1e-9) / 1e6
    )
}

fn progress_bar(total: usize, quiet: bool) -> indicatif::ProgressBar {
    if !shows_progress(quiet) {
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
    // A file that is not text is named for what it looks like, not quoted.
    slivers::scenario::read_text(&args.file)?;
    let sweep = Sweep::load_capped(&args.file, args.max_runs)?;
    if !is_sweep_file(&args.file) {
        // Shown even with --quiet, like every warning.
        eprintln!(
            "warning: {}: no [sweep] table, so a sweep of one point and {} runs (one per pair); `slivers run` runs a plain scenario",
            args.file.display(),
            sweep.run_count()
        );
    }
    if args.list {
        // Row by row, each point built when reached: a long list starts at
        // once and ends at a closed pipe (or at a point that is not valid).
        let mut bad_point = None;
        print_with(|out| {
            let mut header = vec![
                "run".to_string(),
                "point".into(),
                "replicate".into(),
                "seed".into(),
            ];
            header.extend(slivers::report::keys::column_names(&sweep.params));
            header.extend(["provisioning".to_string(), "placement".to_string()]);
            writeln!(out, "{}", header.join(","))?;
            for p in 0..sweep.point_count() {
                let point = match sweep.point(p) {
                    Ok(point) => point,
                    Err(e) => {
                        bad_point = Some(e);
                        return out.flush();
                    }
                };
                for r in sweep.runs_of(p, &point) {
                    write!(out, "{},{},{},{},", r.index, r.point, r.replicate, r.seed)?;
                    for v in &point.values {
                        write!(out, "{v},")?;
                    }
                    writeln!(out, "{},{}", r.pair.provisioning, r.pair.placement)?;
                }
            }
            Ok(())
        })?;
        return bad_point.map_or(Ok(()), |e| Err(e.into()));
    }
    if args.slurm {
        return slurm_command(args, &sweep);
    }
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let out = args.out.clone().unwrap_or_else(|| sweep.output.clone());
    // The shards of one sweep may share a folder and run at once: only a
    // whole sweep claims the folder.
    let _lock = match shard {
        None => Some(OutputLock::acquire(&out)?),
        Some(_) => None,
    };
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
            overwrite: args.overwrite,
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
    let _lock = OutputLock::acquire(&out)?;
    let options = SlurmOptions {
        shards: args.shards,
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        sbatch_args: args.sbatch_arg.clone(),
        dry_run: args.dry_run,
        resume: args.resume,
        check: args.check,
        overwrite: args.overwrite,
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
                    sweep.run_count(),
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
    use slivers::trace::generate::{generate_batch_observed, generate_web_observed};
    use slivers::trace::vmreq::generate_vm_requests_observed;
    let parse_start = |s: &str| time::parse_datetime(s).map_err(|e| anyhow::anyhow!("--start: {e}"));
    // A bar over the simulated days generated (web, batch) on a terminal;
    // then a spinner while the file is written.
    let days_bar = |days: u32| {
        let bar = sim_time_bar(f64::from(days) * 86_400.0, false);
        move |done: u64, total: u64| {
            bar.set_position(done * 86_400);
            bar.set_message(format!("day {done} of {total}"));
            if done == total {
                bar.finish_and_clear();
            }
        }
    };
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
            // A bar over both passes: start times drawn, then VMs sized.
            let bar = sim_time_bar(2.0 * p.vms as f64, false);
            let trace =
                generate_vm_requests_observed(&p, &mut SimRng::seed_from_u64(a.seed), &mut |done, total| {
                    bar.set_position(done);
                    bar.set_message(match done <= p.vms {
                        true => format!("{done} of {} VM start times drawn", p.vms),
                        false => format!("{} of {} VMs sized", done - p.vms, p.vms),
                    });
                    if done == total {
                        bar.finish_and_clear();
                    }
                });
            with_spinner(format!("writing {}", a.out.display()), || {
                write_vm_requests(&trace, &a.out)
            })?;
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
            let series = generate_web_observed(&p, &mut SimRng::seed_from_u64(seed), &mut days_bar(days));
            with_spinner(format!("writing {}", out.display()), || {
                write_series_csv(&series, &out)
            })?;
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
            let trace = generate_batch_observed(&p, &mut SimRng::seed_from_u64(seed), &mut days_bar(days));
            with_spinner(format!("writing {}", out.display()), || {
                write_swf(&trace, &batch_header_comments(&p, seed), &out)
            })?;
            println!("wrote {} ({} jobs)", out.display(), trace.jobs.len());
        }
    }
    Ok(())
}
