//! VM-request traces: VMs that arrive with a fixed size and leave later.
//!
//! # Formats (auto-detected by the header line; `.gz` is read transparently)
//!
//! * **Huawei** (the public Huawei Cloud VM placement dataset, e.g.
//!   Huawei-East-1 as shipped with VMAgent): header `vmid,cpu,memory,time,type`;
//!   one row per event: `cpu` in **cores**, `memory` in **GB**, `time` in
//!   seconds from the start of the trace, `type` 0 for a creation and 1 for a
//!   deletion. A deletion names a VM created earlier; deletions of VMs the
//!   trace never created are counted in [`VmRequestTrace::orphan_deletions`]
//!   and skipped. A VM with no deletion runs to the end of the run.
//! * **Generic**: header `vm_id,start_s,end_s,cpu,memory` (further columns
//!   are ignored); one row per VM: start and end in seconds, `end_s` empty or
//!   `-1` for a VM that never leaves, `cpu` in cores, `memory` in GB.
//!
//! Units: one core is 1000 millicores and one GB is read as one GiB (1024
//! MiB), the convention of the dataset's flavour names (`2U4G`) and of
//! VMAgent; values may have decimals (`0.5` cores is 500 millicores) and are
//! rounded to the nearest millicore, MiB and millisecond. Bandwidth and disk
//! are not in the traces and are 0. Every error names the file, the 1-based
//! line and the column, what was expected and what was found.
//!
//! # Synthetic traces ([`generate_vm_requests`])
//!
//! `vms` VMs over `days` days for `hosts` hosts of a given capacity, in the
//! Huawei format (`slivers trace generate vm-requests`):
//!
//! * **Sizes**: flavours `cores U mem G` with probabilities ([`FLAVOURS`])
//!   1U1G 30 %, 1U2G 30 %, 1U4G 5 %, 2U4G 15 %, 2U8G 4 %, 4U8G 8 %, 4U16G 3 %,
//!   8U16G 2.5 %, 8U32G 1 %, 16U32G 1 %, 16U64G 0.3 %, 32U64G 0.2 %: the
//!   four small flavours are the body of Huawei-East-1, and two thirds of
//!   its requests are 1 core with at most 2 GB. Flavours larger than a host
//!   are left out and the others' probabilities rescaled.
//! * **Arrivals**: each VM's creation time is drawn independently with
//!   density proportional to `1 + 0.5 cos(2π (h − 14) / 24)` over the days
//!   (`h` the hour of day): a diurnal cycle peaking at 14:00 and three times
//!   lower at 02:00 ([`DIURNAL_AMPLITUDE`], [`DIURNAL_PEAK_HOUR`]), by
//!   rejection sampling; times are whole seconds, then sorted.
//! * **Lifetimes**: log-normal with log standard deviation 2
//!   ([`LIFETIME_SIGMA`]), heavy-tailed (the median is e^-2 = 13.5 % of the
//!   mean; 2.3 % of VMs live more than 7 times the mean), at least 60 s, in
//!   whole seconds. The mean is set by Little's law so that in steady state
//!   the bottleneck dimension (cpu or memory) of the cluster is `load` busy
//!   (default [`DEFAULT_LOAD`]): `mean = load × hosts × capacity_d /
//!   (E[size_d] × arrival rate)`. A VM still alive at the end of the trace
//!   has no deletion row.
//!
//! Every number comes from the one [`SimRng`] given, in a fixed order, so a
//! seed gives the same trace byte for byte.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use slivers_policy::Resources;

use super::{TraceError, parse_plain_number, write_atomic};
use crate::engine::SimTime;
use crate::rng::SimRng;

/// One VM of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmRequest {
    /// Its id in the trace.
    pub id: u64,
    /// Creation time, ms from the start of the trace.
    pub start: u64,
    /// Deletion time in ms, or [`NEVER`].
    pub end: u64,
    /// Index of its size in [`VmRequestTrace::shapes`].
    pub shape: u32,
}

/// The `end` of a VM that is never deleted.
pub const NEVER: u64 = u64::MAX;

impl VmRequest {
    /// The creation time.
    pub fn start_time(&self) -> SimTime {
        SimTime(self.start)
    }

    /// The lifetime, if the VM is ever deleted.
    pub fn lifetime(&self) -> Option<SimTime> {
        (self.end != NEVER).then(|| SimTime(self.end - self.start))
    }
}

/// A whole VM-request trace, VMs sorted by creation time (ties in file order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VmRequestTrace {
    /// The distinct VM sizes, in order of first appearance.
    pub shapes: Vec<Resources>,
    /// The VMs.
    pub vms: Vec<VmRequest>,
    /// Deletion rows naming a VM the trace never created (skipped).
    pub orphan_deletions: usize,
}

impl VmRequestTrace {
    /// The size of `vm`.
    pub fn size(&self, vm: &VmRequest) -> Resources {
        self.shapes[vm.shape as usize]
    }

    /// Renumbers the shapes in order of first use by a VM and drops unused
    /// ones, as a reader of the written trace would number them.
    pub fn number_shapes_by_appearance(&mut self) {
        let mut map = vec![u32::MAX; self.shapes.len()];
        let mut shapes = Vec::new();
        for v in &mut self.vms {
            let m = &mut map[v.shape as usize];
            if *m == u32::MAX {
                *m = shapes.len() as u32;
                shapes.push(self.shapes[v.shape as usize]);
            }
            v.shape = *m;
        }
        self.shapes = shapes;
    }

    /// Keeps the VMs created in `[from, from + len)`, shifted to start at 0
    /// (a VM's deletion after the window is kept; the run ends it).
    pub fn window(&mut self, from: SimTime, len: SimTime) {
        let (from, to) = (from.0, from.0.saturating_add(len.0));
        self.vms.retain(|v| v.start >= from && v.start < to);
        for v in &mut self.vms {
            v.start -= from;
            if v.end != NEVER {
                v.end -= from;
            }
        }
    }
}

/// Which of the two formats a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmTraceFormat {
    /// `vmid,cpu,memory,time,type`.
    Huawei,
    /// `vm_id,start_s,end_s,cpu,memory[,...]`.
    Generic,
}

const HUAWEI_HEADER: [&str; 5] = ["vmid", "cpu", "memory", "time", "type"];
const GENERIC_HEADER: [&str; 5] = ["vm_id", "start_s", "end_s", "cpu", "memory"];

/// Reads a VM-request trace in either format; `.gz` files (by extension or
/// by the gzip magic bytes) are decompressed.
pub fn read_vm_requests(path: &Path) -> Result<VmRequestTrace, TraceError> {
    let reader = super::open_text(path, "a VM-request CSV (text, or gzip-compressed text)")?;
    parse_vm_requests(reader, &path.display().to_string())
}

struct Parser<'a> {
    origin: &'a str,
    line: usize,
    shapes: Vec<Resources>,
    shape_ids: BTreeMap<Resources, u32>,
}

impl Parser<'_> {
    fn err(&self, message: String) -> TraceError {
        TraceError::Parse {
            path: self.origin.to_string(),
            line: self.line,
            message,
        }
    }

    /// A plain non-negative decimal in column `col` (1-based) named `name`,
    /// times `scale`, rounded.
    fn number(
        &self,
        fields: &[&str],
        col: usize,
        name: &str,
        what: &str,
        scale: f64,
    ) -> Result<u64, TraceError> {
        let raw = fields.get(col - 1).map(|s| s.trim()).unwrap_or("");
        match parse_plain_number(raw) {
            Some(v) if v >= 0.0 && v * scale < 9e15 => Ok((v * scale).round() as u64),
            _ => Err(self.err(format!("column {col} ({name}): expected {what}, found \"{raw}\""))),
        }
    }

    fn shape(&mut self, fields: &[&str], cpu_col: usize, mem_col: usize) -> Result<u32, TraceError> {
        let cpu = self.number(fields, cpu_col, "cpu", "a number of cores >= 0", 1000.0)?;
        let mem = self.number(fields, mem_col, "memory", "a number of GB >= 0", 1024.0)?;
        let r = Resources::new(cpu, mem, 0, 0);
        if let Some(&i) = self.shape_ids.get(&r) {
            return Ok(i);
        }
        let i = self.shapes.len() as u32;
        self.shapes.push(r);
        self.shape_ids.insert(r, i);
        Ok(i)
    }
}

/// Parses a VM-request trace from `reader`; `origin` names it in errors.
pub fn parse_vm_requests<R: BufRead>(mut reader: R, origin: &str) -> Result<VmRequestTrace, TraceError> {
    let mut p = Parser {
        origin,
        line: 0,
        shapes: Vec::new(),
        shape_ids: BTreeMap::new(),
    };
    let mut format = None;
    let mut vms: Vec<VmRequest> = Vec::new();
    // Huawei: the VM each live id names.
    let mut live: BTreeMap<u64, usize> = BTreeMap::new();
    let mut orphans = 0;
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = reader.read_line(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                TraceError::Parse {
                    path: origin.to_string(),
                    line: p.line + 1,
                    message: "expected UTF-8 text, found invalid bytes".into(),
                }
            } else {
                TraceError::Io {
                    path: origin.to_string(),
                    source: e,
                }
            }
        })?;
        if n == 0 {
            break;
        }
        p.line += 1;
        let text = buf.trim();
        if text.is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').collect();
        let Some(fmt) = format else {
            let head: Vec<String> = fields.iter().map(|f| f.trim().to_ascii_lowercase()).collect();
            format = if head == HUAWEI_HEADER {
                Some(VmTraceFormat::Huawei)
            } else if head.len() >= 5 && head[..5] == GENERIC_HEADER {
                Some(VmTraceFormat::Generic)
            } else {
                return Err(p.err(format!(
                    "expected a header `{}` (Huawei VM placement dataset) or `{}[,...]`, found `{text}`",
                    HUAWEI_HEADER.join(","),
                    GENERIC_HEADER.join(",")
                )));
            };
            continue;
        };
        match fmt {
            VmTraceFormat::Huawei => {
                if fields.len() != 5 {
                    return Err(p.err(format!(
                        "expected 5 columns (vmid,cpu,memory,time,type), found {}",
                        fields.len()
                    )));
                }
                let id = p.number(&fields, 1, "vmid", "an integer id >= 0", 1.0)?;
                let time = p.number(&fields, 4, "time", "seconds >= 0", 1000.0)?;
                let kind = fields[4].trim();
                match kind {
                    "0" => {
                        let shape = p.shape(&fields, 2, 3)?;
                        if live.insert(id, vms.len()).is_some() {
                            return Err(p.err(format!(
                                "column 1 (vmid): expected a VM not already alive, found a second creation of {id}"
                            )));
                        }
                        vms.push(VmRequest {
                            id,
                            start: time,
                            end: NEVER,
                            shape,
                        });
                    }
                    "1" => match live.remove(&id) {
                        Some(i) if time < vms[i].start => {
                            return Err(p.err(format!(
                                "column 4 (time): expected a deletion at or after the creation of VM {id} at {} s, found {} s",
                                vms[i].start as f64 / 1000.0,
                                time as f64 / 1000.0
                            )));
                        }
                        Some(i) => vms[i].end = time,
                        None => orphans += 1,
                    },
                    _ => {
                        return Err(p.err(format!(
                            "column 5 (type): expected 0 (creation) or 1 (deletion), found \"{kind}\""
                        )));
                    }
                }
            }
            VmTraceFormat::Generic => {
                if fields.len() < 5 {
                    return Err(p.err(format!(
                        "expected at least 5 columns (vm_id,start_s,end_s,cpu,memory), found {}",
                        fields.len()
                    )));
                }
                let id = p.number(&fields, 1, "vm_id", "an integer id >= 0", 1.0)?;
                let start = p.number(&fields, 2, "start_s", "seconds >= 0", 1000.0)?;
                let end_raw = fields[2].trim();
                let end = if end_raw.is_empty() || end_raw == "-1" {
                    NEVER
                } else {
                    p.number(&fields, 3, "end_s", "seconds >= start_s, empty or -1", 1000.0)?
                };
                if end < start {
                    return Err(p.err(format!(
                        "column 3 (end_s): expected seconds >= start_s ({}), found {end_raw}",
                        fields[1].trim()
                    )));
                }
                let shape = p.shape(&fields, 4, 5)?;
                vms.push(VmRequest {
                    id,
                    start,
                    end,
                    shape,
                });
            }
        }
    }
    if format.is_none() {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: format!(
                "expected a header `{}` or `{}` and VM rows, found an empty file",
                HUAWEI_HEADER.join(","),
                GENERIC_HEADER.join(",")
            ),
        });
    }
    // Stable: VMs created at the same time stay in file order.
    vms.sort_by_key(|v| v.start);
    Ok(VmRequestTrace {
        shapes: p.shapes,
        vms,
        orphan_deletions: orphans,
    })
}

fn fmt_scaled(v: u64, per: u64) -> String {
    if v.is_multiple_of(per) {
        (v / per).to_string()
    } else {
        // Exact in decimal for per = 1000; 1024 needs up to 10 decimals.
        let s = format!("{:.10}", v as f64 / per as f64);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The trace in the Huawei format: creations and deletions merged in time
/// order (at one instant, creations first, each in VM order).
pub fn format_huawei(trace: &VmRequestTrace) -> String {
    let mut deletions: Vec<(u64, usize)> = trace
        .vms
        .iter()
        .enumerate()
        .filter(|(_, v)| v.end != NEVER)
        .map(|(i, v)| (v.end, i))
        .collect();
    deletions.sort_unstable();
    let mut out = String::with_capacity(trace.vms.len() * 48 + 32);
    out.push_str("vmid,cpu,memory,time,type\n");
    let row = |out: &mut String, v: &VmRequest, time: u64, kind: u8| {
        let s = trace.size(v);
        out.push_str(&format!(
            "{},{},{},{},{kind}\n",
            v.id,
            fmt_scaled(s.0[0], 1000),
            fmt_scaled(s.0[1], 1024),
            fmt_scaled(time, 1000)
        ));
    };
    let mut d = deletions.iter().peekable();
    for v in &trace.vms {
        while let Some(&&(t, i)) = d.peek() {
            if t >= v.start {
                break;
            }
            row(&mut out, &trace.vms[i], t, 1);
            d.next();
        }
        row(&mut out, v, v.start, 0);
    }
    for &(t, i) in d {
        row(&mut out, &trace.vms[i], t, 1);
    }
    out
}

/// Writes the trace in the Huawei format, atomically.
pub fn write_vm_requests(trace: &VmRequestTrace, path: &Path) -> Result<(), TraceError> {
    write_atomic(path, format_huawei(trace).as_bytes())
}

/// Flavours of the generator: (cores, GB, probability).
pub const FLAVOURS: [(u64, u64, f64); 12] = [
    (1, 1, 0.30),
    (1, 2, 0.30),
    (1, 4, 0.05),
    (2, 4, 0.15),
    (2, 8, 0.04),
    (4, 8, 0.08),
    (4, 16, 0.03),
    (8, 16, 0.025),
    (8, 32, 0.01),
    (16, 32, 0.01),
    (16, 64, 0.003),
    (32, 64, 0.002),
];
/// Relative amplitude of the diurnal arrival cycle.
pub const DIURNAL_AMPLITUDE: f64 = 0.5;
/// Hour of day (UTC) of the arrival peak.
pub const DIURNAL_PEAK_HOUR: f64 = 14.0;
/// Log standard deviation of lifetimes.
pub const LIFETIME_SIGMA: f64 = 2.0;
/// Shortest lifetime, seconds.
pub const MIN_LIFETIME_S: f64 = 60.0;
/// Default steady-state load of the bottleneck dimension.
pub const DEFAULT_LOAD: f64 = 0.7;

/// Parameters of [`generate_vm_requests`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmReqParams {
    /// VMs to create.
    pub vms: u64,
    /// Hosts of the cluster the load is calibrated for.
    pub hosts: u32,
    /// Capacity of each host.
    pub capacity: Resources,
    /// Days of arrivals.
    pub days: u32,
    /// Steady-state fraction of the bottleneck dimension in use.
    pub load: f64,
}

impl VmReqParams {
    /// Checks the ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        if self.vms == 0 || self.vms > 1_000_000_000 {
            return Err(format!("vms: expected 1 to 10^9, found {}", self.vms));
        }
        if self.hosts == 0 {
            return Err("hosts: expected at least 1, found 0".into());
        }
        if self.days == 0 || self.days > 3650 {
            return Err(format!("days: expected 1 to 3650, found {}", self.days));
        }
        if !(self.load.is_finite() && self.load > 0.0 && self.load <= 10.0) {
            return Err(format!("load: expected a number in (0, 10], found {}", self.load));
        }
        if self.flavours().is_empty() {
            return Err(format!(
                "host capacity {}: expected room for at least the smallest flavour (1 core, 1 GB)",
                self.capacity
            ));
        }
        Ok(())
    }

    /// The flavours that fit a host, with probabilities summing to 1.
    pub fn flavours(&self) -> Vec<(Resources, f64)> {
        let fit: Vec<(Resources, f64)> = FLAVOURS
            .iter()
            .map(|&(c, g, p)| (Resources::new(c * 1000, g * 1024, 0, 0), p))
            .filter(|(r, _)| r.fits_in(&self.capacity))
            .collect();
        let total: f64 = fit.iter().map(|(_, p)| p).sum();
        fit.into_iter().map(|(r, p)| (r, p / total)).collect()
    }

    /// The mean lifetime in seconds that gives `load` by Little's law.
    pub fn mean_lifetime_s(&self) -> f64 {
        let fl = self.flavours();
        let rate = self.vms as f64 / (self.days as f64 * 86_400.0);
        (0..2)
            .map(|d| {
                let mean: f64 = fl.iter().map(|(r, p)| r.0[d] as f64 * p).sum();
                self.load * self.hosts as f64 * self.capacity.0[d] as f64 / (mean * rate)
            })
            .fold(f64::INFINITY, f64::min)
    }
}

/// A synthetic trace; see the [module documentation](self).
pub fn generate_vm_requests(p: &VmReqParams, rng: &mut SimRng) -> VmRequestTrace {
    generate_vm_requests_observed(p, rng, &mut |_, _| {})
}

/// VMs between two calls of the progress hook of
/// [`generate_vm_requests_observed`].
pub const PROGRESS_VMS: u64 = 1 << 16;

/// [`generate_vm_requests`], calling `progress(done, 2 * vms)` every
/// [`PROGRESS_VMS`] VMs of each of its two passes (start times drawn, then
/// sizes and lifetimes) and at the end (the trace does not depend on it).
pub fn generate_vm_requests_observed(
    p: &VmReqParams,
    rng: &mut SimRng,
    progress: &mut dyn FnMut(u64, u64),
) -> VmRequestTrace {
    let total = 2 * p.vms;
    let flavours = p.flavours();
    let span_s = p.days as u64 * 86_400;
    let mut starts: Vec<u64> = Vec::with_capacity(p.vms as usize);
    let top = 1.0 + DIURNAL_AMPLITUDE;
    while (starts.len() as u64) < p.vms {
        let t = rng.below(span_s);
        let hour = (t % 86_400) as f64 / 3600.0;
        let level =
            1.0 + DIURNAL_AMPLITUDE * (std::f64::consts::TAU * (hour - DIURNAL_PEAK_HOUR) / 24.0).cos();
        if rng.uniform() * top < level {
            starts.push(t);
            if (starts.len() as u64).is_multiple_of(PROGRESS_VMS) {
                progress(starts.len() as u64, total);
            }
        }
    }
    starts.sort_unstable();
    let mean = p.mean_lifetime_s();
    let mu = mean.ln() - LIFETIME_SIGMA * LIFETIME_SIGMA / 2.0;
    let mut cumulative = Vec::with_capacity(flavours.len());
    let mut acc = 0.0;
    for (_, q) in &flavours {
        acc += q;
        cumulative.push(acc);
    }
    let vms = starts
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            if (i as u64 + 1).is_multiple_of(PROGRESS_VMS) {
                progress(p.vms + i as u64 + 1, total);
            }
            let u = rng.uniform() * acc;
            let shape = cumulative
                .iter()
                .position(|&c| u < c)
                .unwrap_or(flavours.len() - 1) as u32;
            let life = rng.lognormal(mu, LIFETIME_SIGMA).max(MIN_LIFETIME_S).ceil();
            let end_s = s as f64 + life;
            VmRequest {
                id: i as u64,
                start: s * 1000,
                end: if end_s >= span_s as f64 {
                    NEVER
                } else {
                    end_s as u64 * 1000
                },
                shape,
            }
        })
        .collect();
    let mut trace = VmRequestTrace {
        shapes: flavours.into_iter().map(|(r, _)| r).collect(),
        vms,
        orphan_deletions: 0,
    };
    trace.number_shapes_by_appearance();
    progress(total, total);
    trace
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<VmRequestTrace, TraceError> {
        parse_vm_requests(text.as_bytes(), "t.csv")
    }

    #[test]
    fn reads_huawei_rows() {
        let t = parse(
            "vmid,cpu,memory,time,type\n7,2,4,10,0\n8,1,1,10,0\n7,2,4,25,1\n9,0.5,0.5,30,0\n99,1,1,31,1\n",
        )
        .unwrap();
        assert_eq!(t.vms.len(), 3);
        assert_eq!(
            t.vms[0],
            VmRequest {
                id: 7,
                start: 10_000,
                end: 25_000,
                shape: 0
            }
        );
        assert_eq!(t.vms[1].end, NEVER);
        assert_eq!(t.size(&t.vms[0]), Resources::new(2000, 4096, 0, 0));
        assert_eq!(t.size(&t.vms[2]), Resources::new(500, 512, 0, 0));
        assert_eq!(t.orphan_deletions, 1);
        assert_eq!(t.shapes.len(), 3);
    }

    #[test]
    fn reads_generic_rows_sorted_by_start() {
        let t =
            parse("vm_id,start_s,end_s,cpu,memory,extra\n1,50,60,1,2,x\n2,5,,4,8,y\n3,5,-1,1,2,z\n").unwrap();
        assert_eq!(t.vms.iter().map(|v| v.id).collect::<Vec<_>>(), vec![2, 3, 1]);
        assert_eq!(t.vms[0].end, NEVER);
        assert_eq!(t.vms[2].lifetime(), Some(SimTime(10_000)));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("vmid,cpu,memory,time,type\n1,2,4,10,0\n2,two,4,10,0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:3: column 2 (cpu): expected a number of cores >= 0, found \"two\""
        );
        let e = parse("vmid,cpu,memory,time,type\n1,2,4,10,2\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:2: column 5 (type)"), "{e}");
        let e = parse("id,start\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.csv:1: expected a header `vmid,cpu,memory,time,type`"),
            "{e}"
        );
        let e = parse("vm_id,start_s,end_s,cpu,memory\n1,50,40,1,2\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:2: column 3 (end_s)"), "{e}");
        let e = parse("vmid,cpu,memory,time,type\n1,2,4,10,0\n1,2,4,5,1\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:3: column 4 (time)"), "{e}");
        let e = parse("vmid,cpu,memory,time,type\n1,2,4,10,0\n1,2,4,11,0\n").unwrap_err();
        assert!(e.to_string().contains("second creation"), "{e}");
        assert!(parse("").unwrap_err().to_string().contains("empty file"));
    }

    fn params() -> VmReqParams {
        VmReqParams {
            vms: 2000,
            hosts: 10,
            capacity: Resources::new(8000, 16384, 1000, 200),
            days: 3,
            load: DEFAULT_LOAD,
        }
    }

    #[test]
    fn progress_covers_both_passes_and_changes_nothing() {
        let p = VmReqParams {
            vms: 3 * PROGRESS_VMS / 2,
            ..params()
        };
        let mut calls = Vec::new();
        let observed =
            generate_vm_requests_observed(&p, &mut SimRng::seed_from_u64(4), &mut |d, n| calls.push((d, n)));
        let n = 2 * p.vms;
        assert_eq!(calls, [(PROGRESS_VMS, n), (p.vms + PROGRESS_VMS, n), (n, n)]);
        let plain = generate_vm_requests(&p, &mut SimRng::seed_from_u64(4));
        assert_eq!(format_huawei(&observed), format_huawei(&plain));
    }

    #[test]
    fn generated_trace_round_trips_and_is_seeded() {
        let p = params();
        p.validate().unwrap();
        let a = generate_vm_requests(&p, &mut SimRng::seed_from_u64(5));
        let b = generate_vm_requests(&p, &mut SimRng::seed_from_u64(5));
        assert_eq!(a, b);
        assert_eq!(a.vms.len(), 2000);
        assert!(a.vms.windows(2).all(|w| w[0].start <= w[1].start));
        // Flavours above 8 cores / 16 GB do not fit these hosts.
        assert_eq!(a.shapes.len(), 8);
        let text = format_huawei(&a);
        let back = parse(&text).unwrap();
        assert_eq!(back, a);
        assert_ne!(a, generate_vm_requests(&p, &mut SimRng::seed_from_u64(6)));
    }

    #[test]
    fn generated_load_is_near_the_target() {
        // Mean cpu in use over the last of 10 days, by sweeping the events.
        let p = VmReqParams {
            vms: 40_000,
            days: 10,
            ..params()
        };
        let t = generate_vm_requests(&p, &mut SimRng::seed_from_u64(1));
        let (from, to) = (5 * 86_400_000u64, 10 * 86_400_000u64);
        let mut busy = 0.0;
        for v in &t.vms {
            let (s, e) = (v.start.max(from), v.end.min(to));
            if e > s {
                busy += (e - s) as f64 * t.size(v).0[0] as f64;
            }
        }
        let load = busy / ((to - from) as f64 * 10.0 * 8000.0);
        // Heavy tails converge slowly; the second half of 10 days is close.
        assert!((0.45..0.85).contains(&load), "load {load}");
    }

    #[test]
    fn window_shifts_and_drops() {
        let mut t = parse("vm_id,start_s,end_s,cpu,memory\n1,5,20,1,1\n2,15,,1,1\n3,40,50,1,1\n").unwrap();
        t.window(SimTime(10_000), SimTime(20_000));
        assert_eq!(
            t.vms,
            vec![VmRequest {
                id: 2,
                start: 5_000,
                end: NEVER,
                shape: 0
            }]
        );
    }

    #[test]
    fn validate_names_the_parameter() {
        let p = VmReqParams {
            capacity: Resources::new(500, 16384, 1, 1),
            ..params()
        };
        assert!(p.validate().unwrap_err().starts_with("host capacity"));
        assert!(
            VmReqParams { days: 0, ..params() }
                .validate()
                .unwrap_err()
                .starts_with("days")
        );
    }
}
