//! An emulated `xl`: the subset of Xen's toolstack the executor uses, as a
//! state machine over one host's domains.
//!
//! It speaks the same argv, prints the same output formats and the same
//! error texts with the same exit codes (0 / 1) as `xl` 4.17 (see
//! `docs/live.md` for what it models and what not), and it enforces the
//! host's capacity: a domain is refused when its memory target does not fit
//! in the free memory, and a VM above its `maxmem` or `maxvcpus` is refused
//! with libxl's texts.
//!
//! * [`HostState`] is one host; [`HostState::apply`] runs every command but
//!   the two halves of a live migration, whose steps are separate methods
//!   so that both the in-memory [`cluster::EmuCluster`] and the
//!   `slivers-xl-emu` binary ([`dir`]) can drive them.
//! * [`XlCommand::parse`] reads an `xl` command line.
//! * [`Fault`] describes an injected failure.
//! * [`timed::InProcess`] runs commands on an [`cluster::EmuCluster`] with
//!   an explicit delay per command kind ([`timed::Timed`]): what the live
//!   runtime's in-process and dry-run transports answer from.
//!
//! Nothing here knows the simulator: `slivers` drives it through its `xl`
//! command lines (`slivers::live::transport`).

#![warn(missing_docs)]

pub mod cfg;
pub mod cluster;
pub mod dir;
pub mod timed;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The file in a host's directory that marks it failed (unreachable).
pub const UNREACHABLE: &str = "unreachable";
/// Suffix `xl migrate-receive` gives the domain while it arrives.
pub const INCOMING_SUFFIX: &str = "--incoming";
/// Suffix `xl migrate` gives the source domain after the handshake.
pub const MIGRATEDAWAY_SUFFIX: &str = "--migratedaway";

/// A host's fixed capacity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    /// Host name (`xl info` `host`).
    pub host: String,
    /// Physical memory in MiB.
    pub total_memory_mib: u64,
    /// Physical CPUs.
    pub nr_cpus: u32,
    /// `credit2` or `credit`.
    pub scheduler: String,
    /// Memory held by Domain-0, in MiB (not free for guests).
    #[serde(default)]
    pub dom0_memory_mib: u64,
}

impl HostConfig {
    /// A host with `credit2` and no memory held by dom0.
    pub fn new(host: &str, total_memory_mib: u64, nr_cpus: u32) -> Self {
        HostConfig {
            host: host.to_string(),
            total_memory_mib,
            nr_cpus,
            scheduler: "credit2".to_string(),
            dom0_memory_mib: 0,
        }
    }
}

/// One vif's rate limit, as libxl stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    /// Bytes per interval (`None`: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bytes_per_interval: Option<u64>,
    /// Interval in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_interval_usecs: Option<u64>,
}

/// One guest domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// Domain name.
    pub name: String,
    /// Domain id, unique on its host.
    pub domid: u32,
    /// Balloon target in KiB (the emulated guest reaches it at once).
    pub target_memkb: u64,
    /// Static maximum in KiB.
    pub max_memkb: u64,
    /// Online vCPUs.
    pub vcpus: u32,
    /// Maximum vCPUs.
    pub max_vcpus: u32,
    /// Scheduler weight (`None`: default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Scheduler cap in percent (`None`: default, no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u32>,
    /// Paused (an incoming or migrated-away copy).
    #[serde(default)]
    pub paused: bool,
    /// Network interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nics: Vec<Nic>,
}

/// An injected failure: the kind, optionally limited to one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What fails.
    pub kind: FaultKind,
    /// Only commands naming this domain fail (`None`: any).
    pub name: Option<String>,
}

/// Kinds of injected failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `xl migrate` fails before the handshake: the VM stays untouched on
    /// the source (`Migration failed, resuming at sender.`).
    MigrateBeforeHandshake,
    /// `xl migrate` fails after the handshake: the source is left as
    /// `NAME--migratedaway`, the destination as `NAME--incoming` (complete
    /// but paused), and the state is undefined.
    MigrateAfterHandshake,
    /// The destination started the VM but its report was lost: the source
    /// is left as `NAME--migratedaway`, the destination runs `NAME`, and the
    /// state is undefined.
    MigrateLostReport,
    /// `xl save` fails and the domain is resumed.
    Save,
    /// The command hangs (the binary sleeps for an hour).
    Timeout,
    /// The host fails as the command begins: it loses its domains and
    /// answers nothing more (as ssh to a dead machine) until it is powered
    /// on again ([`cluster::EmuCluster::power_on`]; the binary: remove its
    /// `unreachable` file).
    HostDown,
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `KIND[:NAME]` with KIND one of `migrate-before-handshake`,
    /// `migrate-after-handshake`, `migrate-lost-report`, `save`, `timeout`,
    /// `host-down`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (kind, name) = match s.split_once(':') {
            Some((k, n)) => (k, Some(n.to_string())),
            None => (s, None),
        };
        let kind = match kind {
            "migrate-before-handshake" => FaultKind::MigrateBeforeHandshake,
            "migrate-after-handshake" => FaultKind::MigrateAfterHandshake,
            "migrate-lost-report" => FaultKind::MigrateLostReport,
            "save" => FaultKind::Save,
            "timeout" => FaultKind::Timeout,
            "host-down" => FaultKind::HostDown,
            _ => return Err(format!("unknown fault {s:?}")),
        };
        Ok(Fault { kind, name })
    }
}

impl Fault {
    /// Whether this fault applies to `cmd`.
    pub fn applies_to(&self, cmd: &XlCommand) -> bool {
        let kind_matches = match self.kind {
            FaultKind::MigrateBeforeHandshake
            | FaultKind::MigrateAfterHandshake
            | FaultKind::MigrateLostReport => matches!(cmd, XlCommand::Migrate { .. }),
            FaultKind::Save => matches!(cmd, XlCommand::Save { .. }),
            FaultKind::Timeout | FaultKind::HostDown => !matches!(cmd, XlCommand::MigrateReceive),
        };
        kind_matches
            && match &self.name {
                None => true,
                Some(n) => cmd.domain() == Some(n.as_str()),
            }
    }
}

/// What an `xl` invocation printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XlOutput {
    /// 0 on success, 1 on failure.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl XlOutput {
    fn ok(stdout: String) -> Self {
        XlOutput {
            code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    fn ok_err(stderr: String) -> Self {
        XlOutput {
            code: 0,
            stdout: String::new(),
            stderr,
        }
    }

    fn fail(stderr: String) -> Self {
        XlOutput {
            code: 1,
            stdout: String::new(),
            stderr,
        }
    }
}

/// An `xl` command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XlCommand {
    /// `xl info [KEY]`.
    Info {
        /// Print only this key's value.
        key: Option<String>,
    },
    /// `xl list [-l] [DOMAIN]`.
    List {
        /// `-l`: JSON.
        long: bool,
        /// Only this domain.
        domain: Option<String>,
    },
    /// `xl domid NAME`.
    Domid {
        /// The name.
        domain: String,
    },
    /// `xl create CFG`.
    Create {
        /// Config file path.
        cfg: String,
    },
    /// `xl mem-set DOMAIN SIZE`.
    MemSet {
        /// The domain.
        domain: String,
        /// Size with an optional unit suffix (default MiB).
        size: String,
    },
    /// `xl vcpu-set [-i] DOMAIN N`.
    VcpuSet {
        /// The domain.
        domain: String,
        /// The count.
        count: String,
        /// `-i`: allow more vCPUs than the host has CPUs.
        ignore_host: bool,
    },
    /// `xl sched-credit2|sched-credit -d DOMAIN [-w W] [-c C]`.
    Sched {
        /// Which scheduler's command.
        scheduler: String,
        /// The domain.
        domain: String,
        /// New weight.
        weight: Option<String>,
        /// New cap.
        cap: Option<String>,
    },
    /// `xl migrate [-s SSHCMD] [-C CFG] DOMAIN HOST`.
    Migrate {
        /// The ssh command (default `ssh`).
        ssh: Option<String>,
        /// The domain.
        domain: String,
        /// Destination host.
        dest: String,
    },
    /// `xl migrate-receive` (run by `xl migrate` on the destination).
    MigrateReceive,
    /// `xl save DOMAIN FILE`.
    Save {
        /// The domain.
        domain: String,
        /// Image file.
        file: String,
    },
    /// `xl restore [CFG] FILE`.
    Restore {
        /// Config file whose settings replace the saved ones.
        cfg: Option<String>,
        /// Image file.
        file: String,
    },
    /// `xl destroy DOMAIN`.
    Destroy {
        /// The domain.
        domain: String,
    },
    /// `xl rename DOMAIN NEWNAME`.
    Rename {
        /// The domain.
        domain: String,
        /// Its new name.
        new_name: String,
    },
    /// `xl pause DOMAIN`.
    Pause {
        /// The domain.
        domain: String,
    },
    /// `xl unpause DOMAIN`.
    Unpause {
        /// The domain.
        domain: String,
    },
}

fn usage(cmd: &str, args: &str) -> XlOutput {
    XlOutput::fail(format!("Usage: xl [-v] {cmd} {args}\n"))
}

impl XlCommand {
    /// Parses an `xl` argv. `argv[0]` is the program (any name); when it is
    /// followed by a literal `xl` (the emulator binary invoked as
    /// `slivers-xl-emu xl ...`) that is skipped too, as is a global `-v`.
    /// An unknown or malformed command line gives `xl`'s complaint.
    pub fn parse(argv: &[String]) -> Result<XlCommand, XlOutput> {
        let mut args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
        if args.first() == Some(&"xl") {
            args.remove(0);
        }
        while args.first().is_some_and(|a| *a == "-v") {
            args.remove(0);
        }
        let Some((&sub, rest)) = args.split_first() else {
            return Err(usage("<subcommand>", "[args]"));
        };
        let (flags, pos) = split_options(rest, &["-s", "-C", "-d", "-w", "-c", "-p"]);
        let flag = |f: &str| flags.iter().find(|(k, _)| *k == f).map(|(_, v)| v.clone());
        let has = |f: &str| flags.iter().any(|(k, _)| *k == f);
        let p = |i: usize| pos.get(i).map(|s| s.to_string());
        let cmd = match (sub, pos.len()) {
            ("info", 0 | 1) => XlCommand::Info { key: p(0) },
            ("list", 0 | 1) => XlCommand::List {
                long: has("-l") || has("--long"),
                domain: p(0),
            },
            ("domid", 1) => XlCommand::Domid {
                domain: pos[0].into(),
            },
            ("create", 1) => XlCommand::Create { cfg: pos[0].into() },
            ("mem-set", 2) => XlCommand::MemSet {
                domain: pos[0].into(),
                size: pos[1].into(),
            },
            ("vcpu-set", 2) => XlCommand::VcpuSet {
                domain: pos[0].into(),
                count: pos[1].into(),
                ignore_host: has("-i") || has("--ignore-host"),
            },
            ("sched-credit2" | "sched-credit", 0) if flag("-d").is_some() => XlCommand::Sched {
                scheduler: sub.trim_start_matches("sched-").to_string(),
                domain: flag("-d").unwrap_or_default(),
                weight: flag("-w"),
                cap: flag("-c"),
            },
            ("migrate", 2) => XlCommand::Migrate {
                ssh: flag("-s"),
                domain: pos[0].into(),
                dest: pos[1].into(),
            },
            ("migrate-receive", 0) => XlCommand::MigrateReceive,
            ("save", 2) => XlCommand::Save {
                domain: pos[0].into(),
                file: pos[1].into(),
            },
            ("restore", 1) => XlCommand::Restore {
                cfg: None,
                file: pos[0].into(),
            },
            ("restore", 2) => XlCommand::Restore {
                cfg: Some(pos[0].into()),
                file: pos[1].into(),
            },
            ("destroy", 1) => XlCommand::Destroy {
                domain: pos[0].into(),
            },
            ("rename", 2) => XlCommand::Rename {
                domain: pos[0].into(),
                new_name: pos[1].into(),
            },
            ("pause", 1) => XlCommand::Pause {
                domain: pos[0].into(),
            },
            ("unpause", 1) => XlCommand::Unpause {
                domain: pos[0].into(),
            },
            (
                "info" | "list" | "domid" | "create" | "mem-set" | "vcpu-set" | "sched-credit2"
                | "sched-credit" | "migrate" | "migrate-receive" | "save" | "restore" | "destroy" | "rename"
                | "pause" | "unpause",
                _,
            ) => {
                return Err(usage(sub, usage_args(sub)));
            }
            _ => return Err(XlOutput::fail("command not implemented\n".to_string())),
        };
        Ok(cmd)
    }

    /// The domain the command names, if any.
    pub fn domain(&self) -> Option<&str> {
        match self {
            XlCommand::List { domain, .. } => domain.as_deref(),
            XlCommand::Domid { domain }
            | XlCommand::MemSet { domain, .. }
            | XlCommand::VcpuSet { domain, .. }
            | XlCommand::Sched { domain, .. }
            | XlCommand::Migrate { domain, .. }
            | XlCommand::Save { domain, .. }
            | XlCommand::Destroy { domain }
            | XlCommand::Rename { domain, .. }
            | XlCommand::Pause { domain }
            | XlCommand::Unpause { domain } => Some(domain),
            XlCommand::Info { .. }
            | XlCommand::Create { .. }
            | XlCommand::MigrateReceive
            | XlCommand::Restore { .. } => None,
        }
    }
}

fn usage_args(sub: &str) -> &'static str {
    match sub {
        "info" => "[-n] [key]",
        "list" => "[options] [Domain]",
        "domid" => "<DomainName>",
        "create" => "<ConfigFile> [options] [vars]",
        "mem-set" => "<Domain> <MemMB(suffix)>",
        "vcpu-set" => "[option] <Domain> <vCPUs>",
        "sched-credit2" | "sched-credit" => "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]",
        "migrate" => "[options] <Domain> <host>",
        "save" => "[options] <Domain> <CheckpointFile> [<ConfigFile>]",
        "restore" => "[options] [<ConfigFile>] <CheckpointFile>",
        "rename" => "<Domain> <NewDomainName>",
        _ => "<Domain>",
    }
}

/// Splits arguments into options (with their value for those in
/// `with_value`) and positional arguments. `-wVALUE` and `--x=VALUE` are
/// accepted too.
fn split_options<'a>(args: &[&'a str], with_value: &[&str]) -> (Vec<(String, String)>, Vec<&'a str>) {
    let mut flags = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a.len() > 1 && a.starts_with('-') && pos.is_empty() {
            if let Some((k, v)) = a.split_once('=') {
                flags.push((k.to_string(), v.to_string()));
            } else if with_value.contains(&a) {
                flags.push((a.to_string(), args.get(i + 1).unwrap_or(&"").to_string()));
                i += 1;
            } else if let (Some(k), Some(v)) = (a.get(..2), a.get(2..))
                && !v.is_empty()
                && !a.starts_with("--")
                && with_value.contains(&k)
            {
                flags.push((k.to_string(), v.to_string()));
            } else {
                flags.push((a.to_string(), String::new()));
            }
        } else {
            pos.push(a);
        }
        i += 1;
    }
    (flags, pos)
}

/// `NAME is an invalid domain identifier (rc=-6)`.
pub fn invalid_domain(id: &str) -> XlOutput {
    XlOutput::fail(format!("{id} is an invalid domain identifier (rc=-6)\n"))
}

/// Parses `xl`'s memory sizes: a number with an optional `b`/`k`/`m`/`g`/`t`
/// suffix, MiB by default; the size in KiB.
pub fn parse_mem_kb(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    match s[digits..].to_ascii_lowercase().as_str() {
        "" | "m" => n.checked_mul(1 << 10),
        "k" => Some(n),
        "b" => Some(n >> 10),
        "g" => n.checked_mul(1 << 20),
        "t" => n.checked_mul(1 << 30),
        _ => None,
    }
}

/// The saved image `xl save` writes in the emulator: a JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Image {
    slivers_xl_emu_image: u32,
    domain: Domain,
}

/// One host's state: its capacity and its guest domains by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// Capacity.
    pub config: HostConfig,
    /// The domid the next domain gets.
    pub next_domid: u32,
    /// Guest domains by name.
    pub domains: BTreeMap<String, Domain>,
}

/// File access for `create`, `save` and `restore` (the real file system in
/// the binary, a map in the in-memory cluster).
pub trait EmuFiles {
    /// Reads a whole file.
    fn read(&mut self, path: &str) -> std::io::Result<Vec<u8>>;
    /// Writes a whole file (atomically where it matters).
    fn write(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()>;
}

/// Files kept in memory, by path (the in-process emulator's storage).
impl EmuFiles for BTreeMap<String, Vec<u8>> {
    fn read(&mut self, path: &str) -> std::io::Result<Vec<u8>> {
        self.get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn write(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.insert(path.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// Pretty JSON with four-space indentation, as `xl` prints it.
fn pretty<T: Serialize>(value: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serialising plain structs into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

#[derive(Serialize)]
struct JsonDomain<'a> {
    domid: u32,
    config: JsonConfig<'a>,
}

#[derive(Serialize)]
struct JsonConfig<'a> {
    c_info: JsonCInfo<'a>,
    b_info: JsonBInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nics: Vec<JsonNic>,
}

#[derive(Serialize)]
struct JsonCInfo<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct JsonBInfo {
    max_vcpus: u32,
    avail_vcpus: Vec<u32>,
    max_memkb: u64,
    target_memkb: u64,
    #[serde(skip_serializing_if = "JsonSched::is_default")]
    sched_params: JsonSched,
}

#[derive(Serialize)]
struct JsonSched {
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cap: Option<u32>,
}

impl JsonSched {
    fn is_default(&self) -> bool {
        self.weight.is_none() && self.cap.is_none()
    }
}

#[derive(Serialize)]
struct JsonNic {
    devid: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_bytes_per_interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_interval_usecs: Option<u64>,
}

/// Reads a config value as a non-negative integer.
fn cfg_u64(map: &BTreeMap<String, cfg::CfgValue>, key: &str) -> Result<Option<u64>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(cfg::CfgValue::Int(n)) if *n >= 0 => Ok(Some(*n as u64)),
        Some(_) => Err(format!("xl: invalid value for {key}\n")),
    }
}

fn cfg_u32(map: &BTreeMap<String, cfg::CfgValue>, key: &str) -> Result<Option<u32>, String> {
    cfg_u64(map, key)?
        .map(|n| u32::try_from(n).map_err(|_| format!("xl: invalid value for {key}\n")))
        .transpose()
}

/// A domain described by a config file (name, memory, maxmem, vcpus,
/// maxvcpus, cpu_weight, cap, vif rates). `base` supplies defaults (the
/// saved domain for `xl restore CFG FILE`).
fn domain_from_cfg(text: &str, path: &str, base: Option<&Domain>) -> Result<Domain, String> {
    let map =
        cfg::parse(text, path).map_err(|e| format!("{e}\nFailed to parse config: Invalid argument\n"))?;
    let name = match map.get("name") {
        Some(cfg::CfgValue::Str(s)) if !s.is_empty() => s.clone(),
        None if base.is_some() => base.map(|b| b.name.clone()).unwrap_or_default(),
        _ => return Err("Domain name must be specified.\n".to_string()),
    };
    let memory = cfg_u64(&map, "memory")?
        .or(base.map(|b| b.target_memkb >> 10))
        .unwrap_or(128);
    let maxmem = cfg_u64(&map, "maxmem")?
        .or(base.map(|b| b.max_memkb >> 10))
        .unwrap_or(memory);
    let vcpus = cfg_u32(&map, "vcpus")?.or(base.map(|b| b.vcpus)).unwrap_or(1);
    let max_vcpus = cfg_u32(&map, "maxvcpus")?
        .or(base.map(|b| b.max_vcpus))
        .unwrap_or(vcpus);
    let weight = cfg_u32(&map, "cpu_weight")?.or(base.and_then(|b| b.weight));
    let cap = cfg_u32(&map, "cap")?.or(base.and_then(|b| b.cap));
    let nics = match map.get("vif") {
        None => base.map(|b| b.nics.clone()).unwrap_or_default(),
        Some(cfg::CfgValue::List(items)) => {
            let mut nics = Vec::new();
            for item in items {
                let cfg::CfgValue::Str(spec) = item else {
                    return Err("xl: invalid vif specification\n".to_string());
                };
                let mut nic = Nic {
                    rate_bytes_per_interval: None,
                    rate_interval_usecs: None,
                };
                for kv in spec.split(',') {
                    if let Some(rate) = kv.trim().strip_prefix("rate=") {
                        let r = cfg::parse_rate(rate)
                            .ok_or_else(|| format!("Invalid rate '{rate}' for vif\n"))?;
                        nic.rate_bytes_per_interval = Some(r.bytes_per_interval);
                        nic.rate_interval_usecs = Some(r.interval_usecs);
                    }
                }
                nics.push(nic);
            }
            nics
        }
        Some(_) => return Err("xl: invalid vif specification\n".to_string()),
    };
    let (Some(target_memkb), Some(max_memkb)) = (memory.checked_mul(1024), maxmem.checked_mul(1024)) else {
        return Err("xl: invalid value for memory\n".to_string());
    };
    Ok(Domain {
        name,
        domid: 0,
        target_memkb,
        max_memkb,
        vcpus,
        max_vcpus,
        weight,
        cap,
        paused: false,
        nics,
    })
}

/// libxl's line prefix for an error about a domain.
fn libxl_err(file_line_func: &str, domid: u32, msg: &str) -> String {
    format!("libxl: error: {file_line_func}: Domain {domid}:{msg}\n")
}

impl HostState {
    /// A host with no guests.
    pub fn new(config: HostConfig) -> Self {
        HostState {
            config,
            next_domid: 1,
            domains: BTreeMap::new(),
        }
    }

    /// Memory in KiB not held by dom0 or any domain's target.
    pub fn free_memory_kb(&self) -> u64 {
        let used = self
            .domains
            .values()
            .fold(0u64, |acc, d| acc.saturating_add(d.target_memkb));
        (self.config.total_memory_mib << 10)
            .saturating_sub(self.config.dom0_memory_mib << 10)
            .saturating_sub(used)
    }

    /// The name of the domain `id` (a name or a domid) designates.
    pub fn resolve(&self, id: &str) -> Option<String> {
        if self.domains.contains_key(id) {
            return Some(id.to_string());
        }
        let domid: u32 = id.parse().ok()?;
        self.domains
            .values()
            .find(|d| d.domid == domid)
            .map(|d| d.name.clone())
    }

    fn alloc_domid(&mut self) -> u32 {
        let id = self.next_domid.max(1);
        self.next_domid = id.wrapping_add(1).max(1);
        id
    }

    /// `xl info` (all lines, or one key's value).
    pub fn info(&self, key: Option<&str>) -> XlOutput {
        let c = &self.config;
        let free = self.free_memory_kb() >> 10;
        let lines: Vec<(&str, String)> = vec![
            ("host", c.host.clone()),
            ("release", "6.1.0-emulated".into()),
            ("machine", "x86_64".into()),
            ("nr_cpus", c.nr_cpus.to_string()),
            ("max_cpu_id", c.nr_cpus.saturating_sub(1).to_string()),
            ("nr_nodes", "1".into()),
            ("cores_per_socket", c.nr_cpus.to_string()),
            ("threads_per_core", "1".into()),
            ("virt_caps", "pv hvm hap shadow".into()),
            ("total_memory", c.total_memory_mib.to_string()),
            ("free_memory", free.to_string()),
            ("sharing_freed_memory", "0".into()),
            ("sharing_used_memory", "0".into()),
            ("outstanding_claims", "0".into()),
            ("free_cpus", "0".into()),
            ("xen_major", "4".into()),
            ("xen_minor", "17".into()),
            ("xen_extra", ".0-emu".into()),
            ("xen_version", "4.17.0-emu".into()),
            ("xen_scheduler", c.scheduler.clone()),
            ("xen_pagesize", "4096".into()),
            ("xend_config_format", "4".into()),
        ];
        match key {
            None => {
                let mut out = String::new();
                for (k, v) in &lines {
                    let _ = writeln!(out, "{k:<23}: {v}");
                }
                XlOutput::ok(out)
            }
            Some(key) => match lines.iter().find(|(k, _)| *k == key) {
                Some((_, v)) => XlOutput::ok(format!("{v}\n")),
                None => XlOutput::fail(format!("xl: unknown info key {key}\n")),
            },
        }
    }

    /// `xl list [-l] [DOMAIN]`.
    pub fn list(&self, long: bool, domain: Option<&str>) -> XlOutput {
        let dom0 = Domain {
            name: "Domain-0".into(),
            domid: 0,
            target_memkb: self.config.dom0_memory_mib << 10,
            max_memkb: self.config.dom0_memory_mib << 10,
            vcpus: self.config.nr_cpus,
            max_vcpus: self.config.nr_cpus,
            weight: None,
            cap: None,
            paused: false,
            nics: Vec::new(),
        };
        let mut doms: Vec<&Domain> = vec![&dom0];
        let mut by_id: Vec<&Domain> = self.domains.values().collect();
        by_id.sort_by_key(|d| d.domid);
        doms.extend(by_id);
        if let Some(id) = domain {
            let Some(d) = doms.iter().find(|d| d.name == id || d.domid.to_string() == id) else {
                return invalid_domain(id);
            };
            doms = vec![*d];
        }
        if long {
            let json: Vec<JsonDomain> = doms
                .iter()
                .map(|d| JsonDomain {
                    domid: d.domid,
                    config: JsonConfig {
                        c_info: JsonCInfo {
                            kind: if d.domid == 0 { "pv" } else { "pvh" },
                            name: &d.name,
                        },
                        b_info: JsonBInfo {
                            max_vcpus: d.max_vcpus,
                            avail_vcpus: (0..d.vcpus).collect(),
                            max_memkb: d.max_memkb,
                            target_memkb: d.target_memkb,
                            sched_params: JsonSched {
                                weight: d.weight,
                                cap: d.cap,
                            },
                        },
                        nics: d
                            .nics
                            .iter()
                            .enumerate()
                            .map(|(devid, n)| JsonNic {
                                devid,
                                rate_bytes_per_interval: n.rate_bytes_per_interval,
                                rate_interval_usecs: n.rate_interval_usecs,
                            })
                            .collect(),
                    },
                })
                .collect();
            XlOutput::ok(pretty(&json) + "\n")
        } else {
            let mut out =
                "Name                                        ID   Mem VCPUs\tState\tTime(s)\n".to_string();
            for d in doms {
                let state = if d.paused { "--p---" } else { "r-----" };
                let _ = writeln!(
                    out,
                    "{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1}",
                    d.name,
                    d.domid,
                    d.target_memkb >> 10,
                    d.vcpus,
                    state,
                    0.0
                );
            }
            XlOutput::ok(out)
        }
    }

    /// Whether a domain arriving by migration or restore may be added: no
    /// domain of that name (or its incoming name) exists and its memory
    /// target fits. The error is what `xl` prints.
    pub fn check_admit(&self, dom: &Domain, name: &str) -> Result<(), String> {
        if self.domains.contains_key(name) {
            return Err(format!(
                "libxl: error: libxl_create.c:720:libxl__domain_make: Domain with name \"{name}\" already exists.\n"
            ));
        }
        if dom.target_memkb > dom.max_memkb {
            return Err(format!(
                "libxl: error: libxl_create.c:1220:libxl__domain_config_setdefault: {}",
                "memory_dynamic_max must be less than or equal to memory_static_max\n"
            ));
        }
        if dom.vcpus > dom.max_vcpus {
            return Err(libxl_err(
                "libxl_domain.c:1869:libxl_set_vcpuonline",
                0,
                &format!(
                    "Requested {} VCPUs, however maxcpus is {}!: Function not implemented",
                    dom.vcpus, dom.max_vcpus
                ),
            ));
        }
        if let Some(cap) = dom.cap
            && u64::from(cap) > u64::from(dom.max_vcpus) * 100
        {
            return Err(format!(
                "libxl: error: libxl_sched.c:400:sched_credit2_domain_set: Cpu cap out of range, valid range is from 0 to {} for specified number of vcpus\n",
                u64::from(dom.max_vcpus) * 100
            ));
        }
        if let Some(w) = dom.weight
            && !(1..=65535).contains(&w)
        {
            return Err(
                "libxl: error: libxl_sched.c:390:sched_credit2_domain_set: Cpu weight out of range, valid values are within range from 1 to 65535\n"
                    .to_string(),
            );
        }
        if dom.target_memkb > self.free_memory_kb() {
            return Err("failed to free memory for the domain\n".to_string());
        }
        Ok(())
    }

    /// Adds `dom` under `name` with a new domid; returns the domid.
    pub fn admit(&mut self, mut dom: Domain, name: &str, paused: bool) -> u32 {
        dom.domid = self.alloc_domid();
        dom.name = name.to_string();
        dom.paused = paused;
        let id = dom.domid;
        self.domains.insert(name.to_string(), dom);
        id
    }

    /// Admits `dom` running under its own name if the host has room
    /// (`xl create` and `xl restore`); `err` is what the command printed
    /// on stderr so far.
    fn admit_running(&mut self, dom: Domain, err: String) -> XlOutput {
        let name = dom.name.clone();
        if let Err(e) = self.check_admit(&dom, &name) {
            return XlOutput::fail(err + &e);
        }
        self.admit(dom, &name, false);
        XlOutput::ok_err(err)
    }

    /// Renames a domain; fails if it is missing or the new name is taken.
    pub fn rename(&mut self, old: &str, new: &str) -> XlOutput {
        let Some(name) = self.resolve(old) else {
            return invalid_domain(old);
        };
        if self.domains.contains_key(new) {
            return XlOutput::fail(format!(
                "libxl: error: libxl_domain.c:470:libxl__domain_rename: Domain with name \"{new}\" already exists.\n"
            ));
        }
        if let Some(mut d) = self.domains.remove(&name) {
            d.name = new.to_string();
            self.domains.insert(new.to_string(), d);
        }
        XlOutput::default()
    }

    /// The output of a save that fails (the domain is resumed).
    pub fn save_failure(&self, domain: &str) -> XlOutput {
        let domid = self
            .resolve(domain)
            .and_then(|n| self.domains.get(&n))
            .map_or(0, |d| d.domid);
        XlOutput::fail(format!(
            "Saving to image new xl format (info 0x3/0x0/1780)\n\
             xc: error: Save failed (5 = Input/output error): Internal error\n\
             libxl: error: libxl_stream_write.c:347:libxl__xc_domain_save_done: Domain {domid}:saving domain: domain responded to suspend request: Input/output error\n\
             Failed to save domain, resuming domain\n"
        ))
    }

    /// Runs every command but `migrate` and `migrate-receive` (which need
    /// two hosts: see [`cluster::EmuCluster`] and [`dir`]).
    pub fn apply(&mut self, cmd: &XlCommand, files: &mut dyn EmuFiles) -> XlOutput {
        match cmd {
            XlCommand::Info { key } => self.info(key.as_deref()),
            XlCommand::List { long, domain } => self.list(*long, domain.as_deref()),
            XlCommand::Domid { domain } => {
                if domain == "Domain-0" {
                    return XlOutput::ok("0\n".into());
                }
                match self.domains.get(domain) {
                    Some(d) => XlOutput::ok(format!("{}\n", d.domid)),
                    None => XlOutput::fail(format!(
                        "Can't get domid of domain name '{domain}', maybe this domain does not exist.\n"
                    )),
                }
            }
            XlCommand::Create { cfg } => {
                let text = match files.read(cfg) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => {
                        return XlOutput::fail(format!(
                            "Parsing config from {cfg}\nFailed to read config file: {cfg}: {e}\n"
                        ));
                    }
                };
                let err = format!("Parsing config from {cfg}\n");
                let dom = match domain_from_cfg(&text, cfg, None) {
                    Ok(d) => d,
                    Err(e) => return XlOutput::fail(err + &e),
                };
                self.admit_running(dom, err)
            }
            XlCommand::MemSet { domain, size } => {
                let Some(kb) = parse_mem_kb(size) else {
                    return XlOutput::fail(format!("invalid memory size: {size}\n"));
                };
                let Some(name) = self.resolve(domain) else {
                    return invalid_domain(domain);
                };
                let free = self.free_memory_kb();
                let Some(d) = self.domains.get_mut(&name) else {
                    return invalid_domain(domain);
                };
                if kb > d.max_memkb {
                    return XlOutput::fail(libxl_err(
                        "libxl_mem.c:286:libxl_set_memory_target",
                        d.domid,
                        "memory_dynamic_max must be less than or equal to memory_static_max",
                    ));
                }
                if kb > d.target_memkb && kb - d.target_memkb > free {
                    return XlOutput::fail(libxl_err(
                        "libxl_mem.c:330:libxl_set_memory_target",
                        d.domid,
                        &format!(
                            "not enough free memory on host: {} KiB more wanted, {} KiB free (emulator)",
                            kb - d.target_memkb,
                            free
                        ),
                    ));
                }
                d.target_memkb = kb;
                XlOutput::default()
            }
            XlCommand::VcpuSet {
                domain,
                count,
                ignore_host,
            } => {
                let Ok(n) = count.parse::<u32>() else {
                    return XlOutput::fail(format!(
                        "Error: Invalid argument {count} as a number of vCPUs.\n"
                    ));
                };
                let Some(name) = self.resolve(domain) else {
                    return invalid_domain(domain);
                };
                let host_cpus = self.config.nr_cpus;
                let Some(d) = self.domains.get_mut(&name) else {
                    return invalid_domain(domain);
                };
                if !ignore_host && n > d.vcpus && n > host_cpus {
                    return XlOutput::fail(format!(
                        "You are overcommmitting! You have {host_cpus} physical CPUs and want {n} vCPUs! Aborting, use --ignore-host to continue\n"
                    ));
                }
                if n == 0 {
                    return XlOutput::fail(
                        libxl_err(
                            "libxl_domain.c:1862:libxl_set_vcpuonline",
                            d.domid,
                            "Requested 0 VCPUs!: Function not implemented",
                        ) + &format!(
                            "libxl_set_vcpuonline failed domid={} max_vcpus=0, rc: -3\n",
                            d.domid
                        ),
                    );
                }
                if n > d.max_vcpus {
                    return XlOutput::fail(
                        libxl_err(
                            "libxl_domain.c:1869:libxl_set_vcpuonline",
                            d.domid,
                            &format!(
                                "Requested {n} VCPUs, however maxcpus is {}!: Function not implemented",
                                d.max_vcpus
                            ),
                        ) + &format!(
                            "libxl_set_vcpuonline failed domid={} max_vcpus={n}, rc: -3\n",
                            d.domid
                        ),
                    );
                }
                d.vcpus = n;
                XlOutput::default()
            }
            XlCommand::Sched {
                scheduler,
                domain,
                weight,
                cap,
            } => self.sched(scheduler, domain, weight.as_deref(), cap.as_deref()),
            XlCommand::Save { domain, file } => {
                let Some(name) = self.resolve(domain) else {
                    return invalid_domain(domain);
                };
                let Some(d) = self.domains.get(&name) else {
                    return invalid_domain(domain);
                };
                let mut saved = d.clone();
                saved.paused = false;
                let image = Image {
                    slivers_xl_emu_image: 1,
                    domain: saved,
                };
                let bytes = pretty(&image) + "\n";
                if let Err(e) = files.write(file, bytes.as_bytes()) {
                    return XlOutput::fail(format!("Failed to open temp file {file} for writing: {e}\n"));
                }
                self.domains.remove(&name);
                XlOutput::ok_err(format!(
                    "Saving to {file} new xl format (info 0x3/0x0/{})\n",
                    bytes.len()
                ))
            }
            XlCommand::Restore { cfg, file } => {
                let image: Image = match files.read(file) {
                    Ok(bytes) => match serde_json::from_slice(&bytes) {
                        Ok(img) => img,
                        Err(_) => {
                            return XlOutput::fail(
                                "File has wrong magic number - corrupt or for a different tool?\n".into(),
                            );
                        }
                    },
                    Err(e) => return XlOutput::fail(format!("Failed to open restore file {file}: {e}\n")),
                };
                let mut err = format!(
                    "Loading new save file {file} (new xl fmt info 0x3/0x0/1780)\n Savefile contains xl domain config in JSON format\n"
                );
                let dom = match cfg {
                    None => image.domain,
                    Some(cfg) => {
                        let text = match files.read(cfg) {
                            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                            Err(e) => {
                                return XlOutput::fail(format!("Failed to read config file: {cfg}: {e}\n"));
                            }
                        };
                        err += &format!("Parsing config from {cfg}\n");
                        match domain_from_cfg(&text, cfg, Some(&image.domain)) {
                            Ok(d) => d,
                            Err(e) => return XlOutput::fail(err + &e),
                        }
                    }
                };
                self.admit_running(dom, err)
            }
            XlCommand::Destroy { domain } => match self.resolve(domain) {
                Some(name) => {
                    self.domains.remove(&name);
                    XlOutput::default()
                }
                None => invalid_domain(domain),
            },
            XlCommand::Rename { domain, new_name } => self.rename(domain, new_name),
            XlCommand::Pause { domain } | XlCommand::Unpause { domain } => {
                let pause = matches!(cmd, XlCommand::Pause { .. });
                match self.resolve(domain).and_then(|n| self.domains.get_mut(&n)) {
                    Some(d) => {
                        d.paused = pause;
                        XlOutput::default()
                    }
                    None => invalid_domain(domain),
                }
            }
            XlCommand::Migrate { .. } | XlCommand::MigrateReceive => {
                XlOutput::fail("xl: migration needs the emulator's driver\n".into())
            }
        }
    }

    fn sched(&mut self, scheduler: &str, domain: &str, weight: Option<&str>, cap: Option<&str>) -> XlOutput {
        let Some(name) = self.resolve(domain) else {
            return invalid_domain(domain);
        };
        let host_sched = self.config.scheduler.clone();
        let Some(d) = self.domains.get_mut(&name) else {
            return invalid_domain(domain);
        };
        let set_fail = |msg: String| XlOutput::fail(msg + "libxl_domain_sched_params_set failed.\n");
        if scheduler != host_sched {
            return set_fail(libxl_err(
                &format!("libxl_sched.c:{}:sched_{scheduler}_domain_set", 300),
                d.domid,
                &format!("Setting domain sched {scheduler}: Invalid argument"),
            ));
        }
        if weight.is_none() && cap.is_none() {
            let mut out = format!("{:<33} {:>4} {:>6} {:>4}\n", "Name", "ID", "Weight", "Cap");
            let _ = writeln!(
                out,
                "{:<33} {:>4} {:>6} {:>4}",
                d.name,
                d.domid,
                d.weight.unwrap_or(256),
                d.cap.unwrap_or(0)
            );
            return XlOutput::ok(out);
        }
        let parse = |s: &str| s.parse::<u32>().ok();
        let new_weight = match weight {
            None => None,
            Some(w) => match parse(w) {
                Some(w) if (1..=65535).contains(&w) => Some(w),
                _ => {
                    return set_fail(libxl_err(
                        &format!("libxl_sched.c:390:sched_{scheduler}_domain_set"),
                        d.domid,
                        "Cpu weight out of range, valid values are within range from 1 to 65535",
                    ));
                }
            },
        };
        let max_cap = u64::from(d.max_vcpus) * 100;
        let new_cap = match cap {
            None => None,
            Some(c) => match parse(c) {
                Some(c) if u64::from(c) <= max_cap => Some(c),
                _ => {
                    return set_fail(libxl_err(
                        &format!("libxl_sched.c:400:sched_{scheduler}_domain_set"),
                        d.domid,
                        &format!(
                            "Cpu cap out of range, valid range is from 0 to {max_cap} for specified number of vcpus"
                        ),
                    ));
                }
            },
        };
        if let Some(w) = new_weight {
            d.weight = Some(w);
        }
        if let Some(c) = new_cap {
            d.cap = Some(c);
        }
        XlOutput::default()
    }

    // ---- live migration steps, shared by the cluster and the binary ----

    /// Sender, start: the domain to send (a copy), or `xl`'s error.
    pub fn migrate_out_begin(&self, domain: &str) -> Result<Domain, XlOutput> {
        self.resolve(domain)
            .and_then(|n| self.domains.get(&n))
            .cloned()
            .ok_or_else(|| invalid_domain(domain))
    }

    /// Receiver, start: admits `dom` as `NAME--incoming`, paused. The error
    /// is what the receiver prints.
    pub fn migrate_in_begin(&mut self, dom: &Domain) -> Result<(), String> {
        let incoming = format!("{}{INCOMING_SUFFIX}", dom.name);
        if self.domains.contains_key(&dom.name) {
            return Err(format!(
                "libxl: error: libxl_create.c:720:libxl__domain_make: Domain with name \"{}\" already exists.\n\
                 migration target: Domain creation failed (code -3).\n",
                dom.name
            ));
        }
        if let Err(e) = self.check_admit(dom, &incoming) {
            return Err(e + "migration target: Domain creation failed (code -3).\n");
        }
        self.admit(dom.clone(), &incoming, true);
        Ok(())
    }

    /// Receiver, aborted transfer: destroys `NAME--incoming`.
    pub fn migrate_in_abort(&mut self, name: &str) {
        self.domains.remove(&format!("{name}{INCOMING_SUFFIX}"));
    }

    /// Sender, after the receiver acknowledged the transfer: renames the
    /// domain `NAME--migratedaway` and pauses it.
    pub fn migrate_out_rename_away(&mut self, name: &str) -> Result<(), XlOutput> {
        let away = format!("{name}{MIGRATEDAWAY_SUFFIX}");
        let out = self.rename(name, &away);
        if out.code != 0 {
            return Err(out);
        }
        if let Some(d) = self.domains.get_mut(&away) {
            d.paused = true;
        }
        Ok(())
    }

    /// Receiver, on permission to go: renames `NAME--incoming` to `NAME`
    /// and unpauses it.
    pub fn migrate_in_finish(&mut self, name: &str) -> Result<(), String> {
        let out = self.rename(&format!("{name}{INCOMING_SUFFIX}"), name);
        if out.code != 0 {
            return Err(out.stderr);
        }
        if let Some(d) = self.domains.get_mut(name) {
            d.paused = false;
        }
        Ok(())
    }

    /// Sender, after success: destroys `NAME--migratedaway`.
    pub fn migrate_out_finish(&mut self, name: &str) {
        self.domains.remove(&format!("{name}{MIGRATEDAWAY_SUFFIX}"));
    }

    /// Sender, after the target failed: renames the domain back and resumes.
    pub fn migrate_out_resume(&mut self, name: &str) {
        let away = format!("{name}{MIGRATEDAWAY_SUFFIX}");
        let _ = self.rename(&away, name);
        if let Some(d) = self.domains.get_mut(name) {
            d.paused = false;
        }
    }
}

/// What `xl migrate` prints on stderr when the state is undefined.
pub const FAILED_BADLY: &str = "** Migration failed during final handshake **\n\
Domain state is now undefined !\n\
Please CHECK AT BOTH ENDS for running instances, before renaming and\n \
resuming at most one instance.  Two simultaneous instances of the domain\n \
would probably result in SEVERE DATA LOSS and it is now your\n \
responsibility to avoid that.  Sorry.\n";

/// What `xl migrate` prints on stderr when it resumes the domain.
pub const RESUMING_AT_SENDER: &str = "Migration failed, resuming at sender.\n";

/// What the receiver prints first.
pub const TARGET_READY: &str = "migration target: Ready to receive domain.\n";
/// What the receiver prints once the stream is in.
pub const TARGET_TRANSFER_COMPLETE: &str =
    "migration target: Transfer complete, requesting permission to start domain.\n";
/// What the receiver prints on permission to go (the typo is `xl`'s own).
pub const TARGET_STARTED: &str =
    "migration target: Got permission, starting domain.\nmigration target: Domain started successsfully.\n";
/// What the receiver prints when it gives up its copy.
pub const TARGET_FAILURE: &str = "migration target: Failure, destroying our copy.\n";
/// What the sender prints when the stream breaks before the handshake.
pub const SUSPEND_FAILED: &str = "migration sender: libxl_domain_suspend failed (rc=-3)\n";
/// What the sender prints after the receiver acknowledged the transfer.
pub const SENDER_ACKED: &str = "migration sender: Target has acknowledged transfer.\n";
/// What the sender prints before the point of no return.
pub const SENDER_GO: &str = "migration sender: Giving target permission to start.\n";
/// What the sender prints when the target failed to start the domain and
/// the sender took it back.
pub const TARGET_STARTUP_FAILED: &str = "migration sender: Target reports startup failure (status code 3).\n\
migration sender: Trying to resume at our end.\nmigration sender: Resumed OK.\n\
Migration failed due to problems at target.\n";

/// What `xl migrate` prints on stderr after a successful migration.
pub const MIGRATION_SUCCESSFUL: &str =
    "migration sender: Target reports successful startup.\nmigration sender: Migration successful.\n";

#[cfg(test)]
mod tests {
    use super::*;

    type Files = BTreeMap<String, Vec<u8>>;

    fn run(h: &mut HostState, files: &mut Files, line: &str) -> XlOutput {
        let argv: Vec<String> = std::iter::once("xl")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect();
        match XlCommand::parse(&argv) {
            Ok(cmd) => h.apply(&cmd, files),
            Err(out) => out,
        }
    }

    fn setup() -> (HostState, Files) {
        let mut cfg = HostConfig::new("h1", 8192, 4);
        cfg.dom0_memory_mib = 1024;
        let mut files = Files::new();
        files.write(
            "/cfg/vm1.cfg",
            b"name = \"vm1\"\nmemory = 1024\nmaxmem = 2048\nvcpus = 1\nmaxvcpus = 2\ncpu_weight = 512\ncap = 50\nvif = [ 'bridge=xenbr0,rate=100Mb/s@50ms' ]\n",
        )
        .unwrap();
        files
            .write("/cfg/big.cfg", b"name = \"big\"\nmemory = 7000\n")
            .unwrap();
        (HostState::new(cfg), files)
    }

    #[test]
    fn info_lines_and_single_key() {
        let (mut h, mut f) = setup();
        let out = run(&mut h, &mut f, "info");
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("host                   : h1\n"));
        assert!(out.stdout.contains("total_memory           : 8192\n"));
        assert!(out.stdout.contains("free_memory            : 7168\n"));
        assert!(out.stdout.contains("nr_cpus                : 4\n"));
        assert!(out.stdout.contains("xen_scheduler          : credit2\n"));
        assert_eq!(run(&mut h, &mut f, "info free_memory").stdout, "7168\n");
        run(&mut h, &mut f, "create /cfg/vm1.cfg");
        assert_eq!(run(&mut h, &mut f, "info free_memory").stdout, "6144\n");
    }

    #[test]
    fn create_list_and_json() {
        let (mut h, mut f) = setup();
        let out = run(&mut h, &mut f, "create /cfg/vm1.cfg");
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stderr, "Parsing config from /cfg/vm1.cfg\n");
        let table = run(&mut h, &mut f, "list").stdout;
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "Name                                        ID   Mem VCPUs\tState\tTime(s)"
        );
        assert!(
            lines[1].starts_with("Domain-0                                     0  1024     4     r-----")
        );
        assert!(
            lines[2].starts_with("vm1                                          1  1024     1     r-----")
        );
        let json = run(&mut h, &mut f, "list -l vm1").stdout;
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let b = &v[0]["config"]["b_info"];
        assert_eq!(v[0]["domid"], 1);
        assert_eq!(v[0]["config"]["c_info"]["name"], "vm1");
        assert_eq!(b["target_memkb"], 1024 * 1024);
        assert_eq!(b["max_memkb"], 2048 * 1024);
        assert_eq!(b["avail_vcpus"], serde_json::json!([0]));
        assert_eq!(b["sched_params"]["weight"], 512);
        assert_eq!(b["sched_params"]["cap"], 50);
        assert_eq!(v[0]["config"]["nics"][0]["rate_bytes_per_interval"], 625_000);
        assert!(json.contains("\n    {\n        \"domid\": 1,"), "{json}");
        // Defaults are left out.
        f.write("/cfg/plain.cfg", b"name = \"plain\"\nmemory = 256\n")
            .unwrap();
        run(&mut h, &mut f, "create /cfg/plain.cfg");
        let v: serde_json::Value =
            serde_json::from_str(&run(&mut h, &mut f, "list -l plain").stdout).unwrap();
        assert!(v[0]["config"]["b_info"].get("sched_params").is_none());
        assert!(v[0]["config"].get("nics").is_none());
        // The whole list has dom0 first.
        let all: serde_json::Value = serde_json::from_str(&run(&mut h, &mut f, "list -l").stdout).unwrap();
        assert_eq!(all[0]["config"]["c_info"]["name"], "Domain-0");
        assert_eq!(all.as_array().unwrap().len(), 3);
        assert_eq!(run(&mut h, &mut f, "domid plain").stdout, "2\n");
    }

    #[test]
    fn error_texts() {
        let (mut h, mut f) = setup();
        let out = run(&mut h, &mut f, "destroy nope");
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (1, "nope is an invalid domain identifier (rc=-6)\n")
        );
        assert_eq!(run(&mut h, &mut f, "list -l nope").code, 1);
        run(&mut h, &mut f, "create /cfg/vm1.cfg");
        let out = run(&mut h, &mut f, "create /cfg/vm1.cfg");
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("Domain with name \"vm1\" already exists."),
            "{}",
            out.stderr
        );
        let out = run(&mut h, &mut f, "mem-set vm1 4096m");
        assert_eq!(out.code, 1);
        assert!(
            out.stderr
                .contains("memory_dynamic_max must be less than or equal to memory_static_max")
        );
        let out = run(&mut h, &mut f, "vcpu-set vm1 3");
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("Requested 3 VCPUs, however maxcpus is 2!"),
            "{}",
            out.stderr
        );
        let out = run(&mut h, &mut f, "sched-credit -d vm1 -w 10");
        assert_eq!(out.code, 1);
        assert!(out.stderr.ends_with("libxl_domain_sched_params_set failed.\n"));
        let out = run(&mut h, &mut f, "sched-credit2 -d vm1 -c 201");
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("Cpu cap out of range"));
        let out = run(&mut h, &mut f, "frobnicate");
        assert_eq!((out.code, out.stderr.as_str()), (1, "command not implemented\n"));
        assert_eq!(run(&mut h, &mut f, "mem-set vm1").code, 1);
        assert_eq!(
            run(&mut h, &mut f, "mem-set vm1 12q").stderr,
            "invalid memory size: 12q\n"
        );
        let out = run(&mut h, &mut f, "create /cfg/missing.cfg");
        assert_eq!(out.code, 1);
    }

    #[test]
    fn capacity_is_enforced() {
        let (mut h, mut f) = setup();
        run(&mut h, &mut f, "create /cfg/vm1.cfg");
        // 8192 - 1024 (dom0) - 1024 (vm1) = 6144 free: 7000 does not fit.
        let out = run(&mut h, &mut f, "create /cfg/big.cfg");
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("failed to free memory for the domain"));
        assert!(!h.domains.contains_key("big"));
        // Growing within maxmem but beyond free memory is refused too.
        f.write("/cfg/fill.cfg", b"name = \"fill\"\nmemory = 5500\n")
            .unwrap();
        assert_eq!(run(&mut h, &mut f, "create /cfg/fill.cfg").code, 0);
        let out = run(&mut h, &mut f, "mem-set vm1 2048");
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("not enough free memory"));
        assert_eq!(run(&mut h, &mut f, "mem-set vm1 1500m").code, 0);
        assert_eq!(h.domains["vm1"].target_memkb, 1500 * 1024);
        // vCPUs beyond the host's CPUs need -i.
        f.write(
            "/cfg/wide.cfg",
            b"name = \"wide\"\nmemory = 1\nvcpus = 1\nmaxvcpus = 8\n",
        )
        .unwrap();
        assert_eq!(run(&mut h, &mut f, "create /cfg/wide.cfg").code, 0);
        let out = run(&mut h, &mut f, "vcpu-set wide 6");
        assert!(
            out.stderr.starts_with("You are overcommmitting!"),
            "{}",
            out.stderr
        );
        assert_eq!(run(&mut h, &mut f, "vcpu-set -i wide 6").code, 0);
        // A config above its maximums is refused.
        f.write(
            "/cfg/over.cfg",
            b"name = \"over\"\nmemory = 10\nvcpus = 3\nmaxvcpus = 2\n",
        )
        .unwrap();
        let out = run(&mut h, &mut f, "create /cfg/over.cfg");
        assert!(
            out.stderr.contains("Requested 3 VCPUs, however maxcpus is 2!"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn save_restore_and_rename() {
        let (mut h, mut f) = setup();
        run(&mut h, &mut f, "create /cfg/vm1.cfg");
        run(&mut h, &mut f, "mem-set vm1 1536m");
        run(&mut h, &mut f, "vcpu-set vm1 2");
        let out = run(&mut h, &mut f, "save vm1 /img/vm1.save");
        assert_eq!(out.code, 0, "{out:?}");
        assert!(h.domains.is_empty());
        let out = run(&mut h, &mut f, "restore /img/vm1.save");
        assert_eq!(out.code, 0, "{out:?}");
        let d = &h.domains["vm1"];
        assert_eq!(
            (d.target_memkb, d.vcpus, d.weight, d.domid),
            (1536 * 1024, 2, Some(512), 2)
        );
        // Restore with a config: its settings win.
        run(&mut h, &mut f, "save vm1 /img/vm1.save");
        f.write(
            "/cfg/vm1b.cfg",
            b"name = \"vm1\"\nmemory = 512\nmaxmem = 2048\nvcpus = 1\nmaxvcpus = 2\n",
        )
        .unwrap();
        assert_eq!(run(&mut h, &mut f, "restore /cfg/vm1b.cfg /img/vm1.save").code, 0);
        assert_eq!(h.domains["vm1"].target_memkb, 512 * 1024);
        assert_eq!(h.domains["vm1"].weight, Some(512));
        f.write("/img/bad", b"garbage").unwrap();
        assert!(
            run(&mut h, &mut f, "restore /img/bad")
                .stderr
                .contains("wrong magic number")
        );
        assert_eq!(run(&mut h, &mut f, "rename vm1 vm2").code, 0);
        assert_eq!(run(&mut h, &mut f, "pause vm2").code, 0);
        assert!(run(&mut h, &mut f, "list vm2").stdout.contains("--p---"));
    }

    #[test]
    fn migration_steps() {
        let (mut a, mut f) = setup();
        let mut b = HostState::new(HostConfig::new("h2", 4096, 2));
        run(&mut a, &mut f, "create /cfg/vm1.cfg");
        let dom = a.migrate_out_begin("vm1").unwrap();
        b.migrate_in_begin(&dom).unwrap();
        assert!(b.domains["vm1--incoming"].paused);
        a.migrate_out_rename_away("vm1").unwrap();
        b.migrate_in_finish("vm1").unwrap();
        a.migrate_out_finish("vm1");
        assert!(a.domains.is_empty());
        assert_eq!(b.domains["vm1"].weight, Some(512));
        assert!(!b.domains["vm1"].paused);
        // A domain that does not fit is refused at the receiver.
        let mut small = HostState::new(HostConfig::new("h3", 512, 2));
        let err = small.migrate_in_begin(&dom).unwrap_err();
        assert!(err.contains("failed to free memory for the domain"));
    }

    #[test]
    fn faults_parse_and_match() {
        let f: Fault = "save:vm1".parse().unwrap();
        assert_eq!(f.kind, FaultKind::Save);
        let save = XlCommand::parse(&["xl".into(), "save".into(), "vm1".into(), "/x".into()]).unwrap();
        let save2 = XlCommand::parse(&["xl".into(), "save".into(), "vm2".into(), "/x".into()]).unwrap();
        assert!(f.applies_to(&save));
        assert!(!f.applies_to(&save2));
        assert!("timeout".parse::<Fault>().unwrap().applies_to(&save2));
        assert!("bogus".parse::<Fault>().is_err());
    }

    #[test]
    fn argv_forms() {
        let p = |s: &str| XlCommand::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>());
        assert_eq!(
            p("xl migrate -s /bin/fake vm1 h2").unwrap(),
            XlCommand::Migrate {
                ssh: Some("/bin/fake".into()),
                domain: "vm1".into(),
                dest: "h2".into()
            }
        );
        assert_eq!(
            p("slivers-xl-emu xl sched-credit2 -d vm1 -w 300 -c 0").unwrap(),
            XlCommand::Sched {
                scheduler: "credit2".into(),
                domain: "vm1".into(),
                weight: Some("300".into()),
                cap: Some("0".into())
            }
        );
        assert_eq!(parse_mem_kb("2048m"), Some(2048 * 1024));
        assert_eq!(parse_mem_kb("2g"), Some(2 << 20));
        assert_eq!(parse_mem_kb("512"), Some(512 * 1024));
        assert_eq!(parse_mem_kb("m"), None);
        // Odd input never panics.
        for odd in [
            "xl -é",
            "xl sched-credit2 -dé",
            "xl list -l é",
            "xl mem-set x 99999999999999999999g",
            "",
        ] {
            let _ = p(odd);
        }
        assert_eq!(
            p("xl sched-credit2 -dvm1 -w5").unwrap(),
            XlCommand::Sched {
                scheduler: "credit2".into(),
                domain: "vm1".into(),
                weight: Some("5".into()),
                cap: None
            }
        );
    }
}
