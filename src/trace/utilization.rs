//! Per-VM CPU utilisation over time: the workload of dynamic VM
//! consolidation studies (the CloudSim PlanetLab experiment).
//!
//! A [`UtilizationTrace`] holds one [`VmUsage`] per VM: a step function of
//! the VM's CPU utilisation, a fraction in `[0, 1]` of **its own** CPU, each
//! sample holding from its time until the next one (the first sample is at
//! the VM's start), optionally with the VM's end and its size as the trace
//! gives it. Times are [`SimTime`] milliseconds from the start of the trace.
//! VMs are ordered by name (byte order), ties in the order found. A
//! simulator that samples every VM at increasing times looks values up
//! through a [`UtilizationCursor`] in O(1) amortised time.
//!
//! # Formats
//!
//! * **PlanetLab** ([`read_planetlab`]): a folder with one file per VM, as
//!   in CloudSim's `workload/planetlab/<day>` folders. The VM's name is the
//!   file name (names may contain spaces; a `.gz` suffix is dropped and the
//!   file decompressed); each line holds one integer percent `0..=100` for
//!   one 5-minute interval ([`PLANETLAB_STEP`]), from time 0; the VM ends
//!   after its last interval (288 lines: one day). Files starting with `.`
//!   are skipped; trailing blank lines are ignored, any other blank line is
//!   an error (it would shift the timeline).
//! * **OpenDC workload, CSV form** ([`read_opendc`]): a folder with
//!   `tasks.csv` and `fragments.csv` (or `.csv.gz`), the two tables of
//!   OpenDC's `workload` trace format (`opendc-trace`, `WorkloadTraceFormat`,
//!   which stores them as Parquet). Each file has a header row; columns are
//!   found by name, in any order; other columns are ignored.
//!   - `tasks`: `id` (the VM's name), `submission_time` (unix
//!     **milliseconds**, or a UTC date-time `YYYY-MM-DD[ HH:MM:SS]`),
//!     `duration` (ms), `cpu_count` (cores), `cpu_capacity` (**MHz**, the
//!     whole VM: OpenDC's CPU weigher divides it by `cpu_count` for a core)
//!     and `mem_capacity` (**KiB**, as in the Bitbrains traces OpenDC
//!     converts: `2097152` is 2 GiB).
//!   - `fragments`: `id` (the task), `duration` (ms) and `cpu_usage` (MHz);
//!     a task's fragments, in file order (they may be interleaved with other
//!     tasks'), follow one another from its submission time.
//!
//!   Mapping: utilisation = `cpu_usage / cpu_capacity`, clamped to `[0, 1]`
//!   (values above 1 are counted in [`UtilizationTrace::clamped`]);
//!   [`VmUsage::cpu_mips`] = `cpu_capacity` (MHz read as MIPS, CloudSim's
//!   convention), [`VmUsage::cores`] = `cpu_count`,
//!   [`VmUsage::memory_mib`] = `mem_capacity / 1024` rounded (OpenDC's own
//!   loader divides by 1000 and calls the result MB; KiB to MiB is exact).
//!   The VM starts at `submission_time` minus the earliest submission of the
//!   trace (kept in [`UtilizationTrace::origin_unix_ms`]) and ends
//!   `duration` later; fragments of zero duration are skipped, and those
//!   starting at or after the end are dropped (the last value before the
//!   end holds until it). Like OpenDC, a task with no fragments is skipped,
//!   as is one of zero duration (both counted in
//!   [`UtilizationTrace::skipped`]); a fragment naming no task is an error.
//! * **Tidy CSV** ([`read_utilization_csv`], [`write_utilization_csv`]):
//!   header row with columns `vm_id`, `time_s` (seconds, up to millisecond
//!   precision) and `cpu` (a fraction in `[0, 1]`), in any order, and
//!   optionally per-VM columns `end_s`, `cpu_mips`, `cores` and
//!   `memory_mib` (empty for unknown; a VM's value must be the same on every
//!   row); other columns are ignored. Fields are not quoted, so a `vm_id`
//!   is taken verbatim and may not contain a comma or a double quote. One
//!   row per sample; a VM's rows are in strictly increasing time (rows of
//!   different VMs may interleave).
//!
//! Every error names the file and, for content errors, the 1-based line
//! and the column, what was expected and what was found.
//!
//! # Synthetic traces ([`generate_utilization`])
//!
//! PlanetLab-like: each VM's level is log-normal across VMs (log standard
//! deviation [`LEVEL_SIGMA`]: the median VM is at about half the mean, one
//! in ten at 2.3 times it), times a diurnal factor `1 + a cos(2π (h − 14) /
//! 24)` (`h` the hour of day, SimTime 0 being midnight; PlanetLab's
//! 2011-03-03 aggregate peaks at 14:00 and is ±8 % around its mean, the
//! default `a`), capped at [`MAX_LEVEL`]. Each sample adds noise to the
//! logit of that: normal with standard deviation [`NOISE_SIGMA`] and lag-one
//! autocorrelation [`NOISE_PHI`] (a PlanetLab VM's median coefficient of
//! variation is 0.76 and its samples are nearly uncorrelated); for small
//! values this is a log-normal multiplier of mean 1, and it never reaches
//! one. Values are rounded to a whole percent like PlanetLab's. With the
//! defaults ([`UtilGenParams::planetlab_day`]) the mean is 12.0 % and the
//! quantiles 10/25/50/75/90 % are 1, 3, 6, 14, 30 % (PlanetLab 2011-03-03:
//! 0, 2, 6, 15, 36 %; mean 12.3 %). Sizes are CloudSim's four PlanetLab VM
//! types ([`VM_TYPES`]), one core each, drawn uniformly. Every number comes from the one [`SimRng`] given, in a fixed
//! order, so a seed gives the same trace.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, Read as _};
use std::ops::Range;
use std::path::Path;

use super::{TraceError, parse_plain_number, write_atomic};
use crate::engine::SimTime;
use crate::rng::SimRng;

/// The interval of one PlanetLab sample: 5 minutes.
pub const PLANETLAB_STEP: SimTime = SimTime(300_000);

/// One VM's CPU utilisation over time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VmUsage {
    /// Its name in the trace (PlanetLab: the file name).
    pub name: String,
    /// `(time, utilisation)`: strictly increasing times, the first at the
    /// VM's start; a utilisation is a fraction in `[0, 1]` of the VM's own
    /// CPU and holds until the next sample's time (the last one until
    /// [`end`](Self::end), or for ever).
    pub samples: Vec<(SimTime, f32)>,
    /// When the VM ends (after its last sample), if the trace says.
    pub end: Option<SimTime>,
    /// The VM's whole CPU capacity in MIPS (all cores), if the trace says.
    pub cpu_mips: Option<f64>,
    /// Its number of cores, if the trace says.
    pub cores: Option<u32>,
    /// Its memory in MiB, if the trace says.
    pub memory_mib: Option<u64>,
}

impl VmUsage {
    /// The time of the first sample (the VM's start); `None` without samples.
    pub fn start(&self) -> Option<SimTime> {
        self.samples.first().map(|s| s.0)
    }

    /// Whether the VM runs at `t`: at or after its start and before its end.
    pub fn is_running(&self, t: SimTime) -> bool {
        self.start().is_some_and(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }

    /// The utilisation at `t`, by binary search; `None` when the VM does
    /// not run at `t`. For many lookups at increasing times use a
    /// [`UtilizationCursor`].
    pub fn at(&self, t: SimTime) -> Option<f32> {
        if !self.is_running(t) {
            return None;
        }
        let i = self.samples.partition_point(|s| s.0 <= t);
        i.checked_sub(1).map(|i| self.samples[i].1)
    }

    /// The plain mean of the samples (time-weighted when they are evenly
    /// spaced, as in PlanetLab); `None` without samples.
    pub fn mean(&self) -> Option<f64> {
        (!self.samples.is_empty())
            .then(|| self.samples.iter().map(|s| s.1 as f64).sum::<f64>() / self.samples.len() as f64)
    }
}

/// A whole utilisation trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UtilizationTrace {
    /// The VMs, by name (byte order), ties in the order found.
    pub vms: Vec<VmUsage>,
    /// Unix milliseconds of time 0, when the trace has absolute times
    /// (OpenDC: the earliest submission).
    pub origin_unix_ms: Option<i64>,
    /// Samples above the VM's capacity that were clamped to 1 (OpenDC).
    pub clamped: usize,
    /// Tasks skipped because they had no fragments or no duration (OpenDC).
    pub skipped: usize,
}

impl UtilizationTrace {
    /// Number of samples over all VMs.
    pub fn sample_count(&self) -> usize {
        self.vms.iter().map(|v| v.samples.len()).sum()
    }

    /// The plain mean of every sample of every VM; `None` without samples.
    pub fn sample_mean(&self) -> Option<f64> {
        let n = self.sample_count();
        (n > 0).then(|| {
            self.vms
                .iter()
                .flat_map(|v| v.samples.iter().map(|s| s.1 as f64))
                .sum::<f64>()
                / n as f64
        })
    }

    /// A cursor over this trace, every VM at its first sample.
    pub fn cursor(&self) -> UtilizationCursor {
        UtilizationCursor {
            pos: vec![0; self.vms.len()],
        }
    }

    /// Checks what the readers guarantee: every VM has a name without a
    /// comma, double quote, CR or LF, at least one sample, strictly
    /// increasing times, utilisations in `[0, 1]`, an end (if any) after
    /// its last sample and a positive finite `cpu_mips` (if any). The
    /// message names the VM.
    pub fn validate(&self) -> Result<(), String> {
        for v in &self.vms {
            let name = &v.name;
            if name.trim().is_empty() || name.contains([',', '"', '\r', '\n']) {
                return Err(format!(
                    "VM name: expected a name not blank and without comma, double quote or line break, found {name:?}"
                ));
            }
            let Some(&(last, _)) = v.samples.last() else {
                return Err(format!("VM `{name}`: expected at least one sample, found none"));
            };
            if let Some(w) = v.samples.windows(2).find(|w| w[0].0 >= w[1].0) {
                return Err(format!(
                    "VM `{name}`: expected strictly increasing sample times, found {} then {}",
                    w[0].0, w[1].0
                ));
            }
            if let Some(s) = v.samples.iter().find(|s| !(0.0..=1.0).contains(&s.1)) {
                return Err(format!(
                    "VM `{name}`: expected utilisations in [0, 1], found {} at {}",
                    s.1, s.0
                ));
            }
            if let Some(e) = v.end.filter(|&e| e <= last) {
                return Err(format!(
                    "VM `{name}`: expected an end after the last sample ({last}), found {e}"
                ));
            }
            if let Some(m) = v.cpu_mips.filter(|m| !(m.is_finite() && *m > 0.0)) {
                return Err(format!("VM `{name}`: expected cpu_mips > 0, found {m}"));
            }
        }
        Ok(())
    }

    /// Sorts the VMs by name, stably.
    fn sort_by_name(&mut self) {
        self.vms.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Where each VM of a trace was last looked up: lookups at non-decreasing
/// times cost O(1) amortised per VM (a step back falls back to a binary
/// search). Made by [`UtilizationTrace::cursor`]; use it with that trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtilizationCursor {
    pos: Vec<usize>,
}

impl UtilizationCursor {
    /// The utilisation of VM `vm` (its index in `trace.vms`) at `t`; `None`
    /// when the VM does not run at `t` or `vm` is not a VM of the trace.
    pub fn at(&mut self, trace: &UtilizationTrace, vm: usize, t: SimTime) -> Option<f32> {
        let v = trace.vms.get(vm)?;
        let p = self.pos.get_mut(vm)?;
        if !v.is_running(t) {
            return None;
        }
        let s = &v.samples;
        if *p >= s.len() || s[*p].0 > t {
            // A step back (or a cursor of another trace): search.
            *p = s.partition_point(|x| x.0 <= t) - 1;
        } else {
            // A few steps forward by walking, a long jump by searching.
            let mut walked = 0;
            while *p + 1 < s.len() && s[*p + 1].0 <= t {
                *p += 1;
                walked += 1;
                if walked == 8 {
                    *p += s[*p..].partition_point(|x| x.0 <= t) - 1;
                    break;
                }
            }
        }
        Some(s[*p].1)
    }
}

fn io_err(path: &str) -> impl Fn(std::io::Error) -> TraceError + '_ {
    move |source| TraceError::Io {
        path: path.to_string(),
        source,
    }
}

fn parse_err(path: &str, line: usize, message: String) -> TraceError {
    TraceError::Parse {
        path: path.to_string(),
        line,
        message,
    }
}

/// Reads a PlanetLab folder: one file per VM; see the
/// [module documentation](self).
pub fn read_planetlab(dir: &Path) -> Result<UtilizationTrace, TraceError> {
    let dname = dir.display().to_string();
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(&dname))? {
        let entry = entry.map_err(io_err(&dname))?;
        let os_name = entry.file_name();
        let Some(name) = os_name.to_str() else {
            return Err(TraceError::Invalid {
                path: entry.path().display().to_string(),
                message: format!(
                    "expected a UTF-8 file name (the VM's name), found {}",
                    os_name.to_string_lossy()
                ),
            });
        };
        if !name.starts_with('.') {
            files.push((name.to_string(), entry.path()));
        }
    }
    if files.is_empty() {
        return Err(TraceError::Invalid {
            path: dname,
            message: "expected one PlanetLab utilisation file per VM, found an empty folder".into(),
        });
    }
    files.sort();
    let mut vms = Vec::with_capacity(files.len());
    let mut bytes = Vec::with_capacity(4096);
    for (name, path) in files {
        let pname = path.display().to_string();
        bytes.clear();
        super::open_text(
            &path,
            "a PlanetLab utilisation file (one integer percent per line)",
        )?
        .read_to_end(&mut bytes)
        .map_err(io_err(&pname))?;
        let samples = parse_planetlab(&bytes, &pname)?;
        let end = SimTime(samples.len() as u64 * PLANETLAB_STEP.0);
        let name = match name.strip_suffix(".gz") {
            Some(base) if !base.is_empty() => base.to_string(),
            _ => name,
        };
        vms.push(VmUsage {
            name,
            samples,
            end: Some(end),
            ..VmUsage::default()
        });
    }
    let mut trace = UtilizationTrace {
        vms,
        ..UtilizationTrace::default()
    };
    // The file names are sorted; a `.gz` suffix dropped may reorder them.
    trace.sort_by_name();
    Ok(trace)
}

/// Parses one PlanetLab file's contents; `origin` names it in errors.
pub fn parse_planetlab(bytes: &[u8], origin: &str) -> Result<Vec<(SimTime, f32)>, TraceError> {
    let mut samples = Vec::with_capacity(288);
    // The first blank line not yet followed by a value.
    let mut blank: Option<usize> = None;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() {
            blank.get_or_insert(i + 1);
            continue;
        }
        if let Some(b) = blank {
            return Err(parse_err(
                origin,
                b,
                "expected an integer percent in 0..=100, found an empty line".into(),
            ));
        }
        let value = (line.len() <= 3 && line.iter().all(u8::is_ascii_digit))
            .then(|| line.iter().fold(0u32, |a, &d| a * 10 + (d - b'0') as u32))
            .filter(|&v| v <= 100);
        let Some(v) = value else {
            return Err(parse_err(
                origin,
                i + 1,
                format!(
                    "expected an integer percent in 0..=100, found \"{}\"",
                    String::from_utf8_lossy(line)
                ),
            ));
        };
        samples.push((SimTime(samples.len() as u64 * PLANETLAB_STEP.0), v as f32 / 100.0));
    }
    if samples.is_empty() {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: "expected one integer percent per line, found an empty file".into(),
        });
    }
    Ok(samples)
}

/// A CSV file read row by row: a header, then rows with as many fields.
/// Fields are split on commas, without quoting.
struct CsvRows<R> {
    reader: R,
    origin: String,
    line: usize,
    buf: String,
    header: Vec<String>,
    fields: Vec<Range<usize>>,
}

impl<R: BufRead> CsvRows<R> {
    /// Reads the header (the first non-blank line); `what` says what the
    /// file should be, for an empty file's error.
    fn new(reader: R, origin: &str, what: &str) -> Result<Self, TraceError> {
        let mut rows = CsvRows {
            reader,
            origin: origin.to_string(),
            line: 0,
            buf: String::new(),
            header: Vec::new(),
            fields: Vec::new(),
        };
        if !rows.read_line()? {
            return Err(TraceError::Invalid {
                path: origin.to_string(),
                message: format!("expected {what}, found an empty file"),
            });
        }
        let text = rows.buf.strip_prefix('\u{feff}').unwrap_or(&rows.buf);
        rows.header = text.split(',').map(|f| f.trim().to_string()).collect();
        for (i, name) in rows.header.iter().enumerate() {
            if let Some(j) = rows.header[..i].iter().position(|h| h == name) {
                return Err(rows.err(format!(
                    "expected distinct column names, found `{name}` in columns {} and {}",
                    j + 1,
                    i + 1
                )));
            }
        }
        Ok(rows)
    }

    /// Reads the next non-blank line into `buf`, without its line end.
    fn read_line(&mut self) -> Result<bool, TraceError> {
        loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    parse_err(
                        &self.origin,
                        self.line + 1,
                        "expected UTF-8 text, found invalid bytes".into(),
                    )
                } else {
                    TraceError::Io {
                        path: self.origin.clone(),
                        source: e,
                    }
                }
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            let len = self.buf.trim_end_matches(['\n', '\r']).len();
            self.buf.truncate(len);
            if !self.buf.trim().is_empty() {
                return Ok(true);
            }
        }
    }

    /// Reads the next row; false at the end of the file.
    fn next_row(&mut self) -> Result<bool, TraceError> {
        if !self.read_line()? {
            return Ok(false);
        }
        self.fields.clear();
        let mut start = 0;
        for (i, b) in self.buf.bytes().enumerate() {
            if b == b',' {
                self.fields.push(start..i);
                start = i + 1;
            }
        }
        self.fields.push(start..self.buf.len());
        if self.fields.len() != self.header.len() {
            return Err(self.err(format!(
                "expected {} columns as in the header ({}), found {}",
                self.header.len(),
                self.header.join(","),
                self.fields.len()
            )));
        }
        Ok(true)
    }

    /// The index of column `name`, if the header has it.
    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The indices of the `required` columns; the error lists them all and
    /// says which is missing.
    fn require(&self, required: &[&str], optional: &str) -> Result<Vec<usize>, TraceError> {
        required
            .iter()
            .map(|name| {
                self.column(name).ok_or_else(|| {
                    self.err(format!(
                        "expected a header with columns {} (any order{optional}), found `{}` (no column `{name}`)",
                        required.join(", "),
                        self.header.join(",")
                    ))
                })
            })
            .collect()
    }

    /// Field `col` of the current row, verbatim.
    fn raw(&self, col: usize) -> &str {
        &self.buf[self.fields[col].clone()]
    }

    /// Field `col` of the current row, trimmed.
    fn field(&self, col: usize) -> &str {
        self.raw(col).trim()
    }

    fn err(&self, message: String) -> TraceError {
        parse_err(&self.origin, self.line, message)
    }

    /// "column N (name): expected `expected`, found "field"".
    fn bad(&self, col: usize, expected: &str) -> TraceError {
        self.err(format!(
            "column {} ({}): expected {expected}, found \"{}\"",
            col + 1,
            self.header[col],
            self.field(col)
        ))
    }

    /// A plain decimal `>= 0` in `col`.
    fn non_negative(&self, col: usize, expected: &str) -> Result<f64, TraceError> {
        parse_plain_number(self.field(col))
            .filter(|&v| v >= 0.0)
            .ok_or_else(|| self.bad(col, expected))
    }

    /// Seconds `>= 0` in `col`, as milliseconds.
    fn seconds(&self, col: usize, expected: &str) -> Result<SimTime, TraceError> {
        let v = self.non_negative(col, expected)?;
        if v * 1000.0 >= 9e15 {
            return Err(self.bad(col, expected));
        }
        Ok(SimTime((v * 1000.0).round() as u64))
    }

    /// Milliseconds `>= 0` in `col`, rounded.
    fn millis(&self, col: usize) -> Result<u64, TraceError> {
        let v = self.non_negative(col, "milliseconds >= 0")?;
        if v >= 9e15 {
            return Err(self.bad(col, "milliseconds >= 0"));
        }
        Ok(v.round() as u64)
    }

    /// A plain integer in `min..=max` in `col`.
    fn integer(&self, col: usize, min: u64, max: u64, expected: &str) -> Result<u64, TraceError> {
        let s = self.field(col);
        (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| self.bad(col, expected))
    }
}

/// Column names of the tidy CSV, in the order the writer writes them.
pub const TIDY_COLUMNS: [&str; 7] = [
    "vm_id",
    "time_s",
    "cpu",
    "end_s",
    "cpu_mips",
    "cores",
    "memory_mib",
];

/// Reads a tidy utilisation CSV; `.gz` files (by extension or by the gzip
/// magic bytes) are decompressed. See the [module documentation](self).
pub fn read_utilization_csv(path: &Path) -> Result<UtilizationTrace, TraceError> {
    let reader = super::open_text(path, "a utilisation CSV (text, or gzip-compressed text)")?;
    parse_utilization_csv(reader, &path.display().to_string())
}

/// A VM of a tidy CSV being read: the lines of its first and last rows.
struct TidyVm {
    vm: VmUsage,
    first_line: usize,
    last_line: usize,
}

/// Parses a tidy utilisation CSV from `reader`; `origin` names it in errors.
pub fn parse_utilization_csv<R: BufRead>(reader: R, origin: &str) -> Result<UtilizationTrace, TraceError> {
    let mut rows = CsvRows::new(
        reader,
        origin,
        "a header `vm_id,time_s,cpu[,end_s,cpu_mips,cores,memory_mib]` and rows",
    )?;
    let req = rows.require(
        &TIDY_COLUMNS[..3],
        "; optional end_s, cpu_mips, cores, memory_mib",
    )?;
    let (c_vm, c_time, c_cpu) = (req[0], req[1], req[2]);
    let c_end = rows.column("end_s");
    let c_mips = rows.column("cpu_mips");
    let c_cores = rows.column("cores");
    let c_mem = rows.column("memory_mib");
    let mut vms: Vec<TidyVm> = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    while rows.next_row()? {
        let name = rows.raw(c_vm);
        if name.trim().is_empty() {
            return Err(rows.bad(c_vm, "a VM name"));
        }
        let time = rows.seconds(c_time, "seconds >= 0")?;
        let cpu_s = rows.field(c_cpu);
        let cpu = parse_plain_number(cpu_s)
            .and_then(|_| cpu_s.parse::<f32>().ok())
            .filter(|c| (0.0..=1.0).contains(c))
            // `-0` reads as 0.
            .map(f32::abs)
            .ok_or_else(|| rows.bad(c_cpu, "a utilisation fraction in [0, 1]"))?;
        let opt = |c: Option<usize>| c.filter(|&c| !rows.field(c).is_empty());
        let end = opt(c_end)
            .map(|c| rows.seconds(c, "seconds >= 0 after the VM's last time_s, or empty"))
            .transpose()?;
        let cpu_mips = opt(c_mips)
            .map(|c| {
                rows.non_negative(c, "MIPS > 0, or empty").and_then(|m| {
                    if m > 0.0 {
                        Ok(m)
                    } else {
                        Err(rows.bad(c, "MIPS > 0, or empty"))
                    }
                })
            })
            .transpose()?;
        let cores = opt(c_cores)
            .map(|c| rows.integer(c, 1, u32::MAX as u64, "an integer number of cores >= 1, or empty"))
            .transpose()?
            .map(|v| v as u32);
        let memory_mib = opt(c_mem)
            .map(|c| rows.integer(c, 0, u64::MAX, "an integer number of MiB >= 0, or empty"))
            .transpose()?;
        let idx = match by_name.get(name) {
            Some(&i) => i,
            None => {
                by_name.insert(name.to_string(), vms.len());
                vms.push(TidyVm {
                    vm: VmUsage {
                        name: name.to_string(),
                        samples: Vec::new(),
                        end,
                        cpu_mips,
                        cores,
                        memory_mib,
                    },
                    first_line: rows.line,
                    last_line: rows.line,
                });
                vms.len() - 1
            }
        };
        let t = &mut vms[idx];
        let v = &t.vm;
        // Per-VM values agree with the VM's first row.
        let differs = [
            v.end != end,
            v.cpu_mips != cpu_mips,
            v.cores != cores,
            v.memory_mib != memory_mib,
        ];
        for (k, col) in [c_end, c_mips, c_cores, c_mem].into_iter().enumerate() {
            let (Some(c), true) = (col, differs[k]) else {
                continue;
            };
            let first = match k {
                0 => v.end.map(fmt_secs),
                1 => v.cpu_mips.map(|m| m.to_string()),
                2 => v.cores.map(|n| n.to_string()),
                _ => v.memory_mib.map(|m| m.to_string()),
            };
            return Err(rows.err(format!(
                "column {} ({}): expected {} as on line {} (the first row of VM `{}`), found \"{}\"",
                c + 1,
                rows.header[c],
                first.unwrap_or_else(|| "an empty field".into()),
                t.first_line,
                v.name,
                rows.field(c)
            )));
        }
        if let Some(&(prev, _)) = v.samples.last() {
            if time == prev {
                return Err(rows.err(format!(
                    "column {} (time_s): expected a time after {} s (line {}, the previous row of VM `{}`), found the same time again",
                    c_time + 1,
                    fmt_secs(prev),
                    t.last_line,
                    v.name
                )));
            }
            if time < prev {
                return Err(rows.err(format!(
                    "column {} (time_s): expected the rows of VM `{}` in increasing time, after {} s (line {}), found {} s",
                    c_time + 1,
                    v.name,
                    fmt_secs(prev),
                    t.last_line,
                    fmt_secs(time)
                )));
            }
        }
        if let Some(e) = v.end.filter(|&e| time >= e) {
            return Err(rows.err(format!(
                "column {} (time_s): expected a time before the VM's end_s ({} s), found {} s",
                c_time + 1,
                fmt_secs(e),
                fmt_secs(time)
            )));
        }
        t.vm.samples.push((time, cpu));
        t.last_line = rows.line;
    }
    if vms.is_empty() {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: "expected rows after the header, found none".into(),
        });
    }
    // BTreeMap order is byte order of the names.
    let mut slots: Vec<Option<TidyVm>> = vms.into_iter().map(Some).collect();
    let vms = by_name
        .values()
        .filter_map(|&i| slots[i].take().map(|t| t.vm))
        .collect();
    Ok(UtilizationTrace {
        vms,
        ..UtilizationTrace::default()
    })
}

/// Milliseconds as seconds: `300`, `0.5`, `12.345`.
fn fmt_secs(t: SimTime) -> String {
    let (s, ms) = (t.0 / 1000, t.0 % 1000);
    if ms == 0 {
        s.to_string()
    } else {
        format!("{s}.{ms:03}").trim_end_matches('0').to_string()
    }
}

/// The trace as a tidy CSV: `vm_id,time_s,cpu`, then those of `end_s`,
/// `cpu_mips`, `cores` and `memory_mib` that some VM has; one row per
/// sample, VMs in trace order. Errors if [`UtilizationTrace::validate`]
/// does.
pub fn format_utilization_csv(trace: &UtilizationTrace) -> Result<String, String> {
    trace.validate()?;
    let has = [
        trace.vms.iter().any(|v| v.end.is_some()),
        trace.vms.iter().any(|v| v.cpu_mips.is_some()),
        trace.vms.iter().any(|v| v.cores.is_some()),
        trace.vms.iter().any(|v| v.memory_mib.is_some()),
    ];
    let mut out = String::with_capacity(trace.sample_count() * 24 + 64);
    out.push_str("vm_id,time_s,cpu");
    for (name, _) in TIDY_COLUMNS[3..].iter().zip(has).filter(|(_, h)| *h) {
        out.push(',');
        out.push_str(name);
    }
    out.push('\n');
    for v in &trace.vms {
        let mut tail = String::new();
        let opt = |tail: &mut String, on: bool, x: Option<String>| {
            if on {
                tail.push(',');
                tail.push_str(&x.unwrap_or_default());
            }
        };
        opt(&mut tail, has[0], v.end.map(fmt_secs));
        opt(&mut tail, has[1], v.cpu_mips.map(|m| m.to_string()));
        opt(&mut tail, has[2], v.cores.map(|c| c.to_string()));
        opt(&mut tail, has[3], v.memory_mib.map(|m| m.to_string()));
        for &(t, u) in &v.samples {
            let _ = writeln!(out, "{},{},{u}{tail}", v.name, fmt_secs(t));
        }
    }
    Ok(out)
}

/// Writes the trace as a tidy CSV ([`format_utilization_csv`]), atomically.
pub fn write_utilization_csv(trace: &UtilizationTrace, path: &Path) -> Result<(), TraceError> {
    let text = format_utilization_csv(trace).map_err(|message| TraceError::Invalid {
        path: path.display().to_string(),
        message,
    })?;
    write_atomic(path, text.as_bytes())
}

/// Opens `<dir>/<table>.csv`, or `<dir>/<table>.csv.gz` if only that exists.
fn open_table(dir: &Path, table: &str) -> Result<(Box<dyn BufRead>, String), TraceError> {
    let plain = dir.join(format!("{table}.csv"));
    let gz = dir.join(format!("{table}.csv.gz"));
    let path = if !plain.exists() && gz.exists() { gz } else { plain };
    let what = format!("the OpenDC `{table}` table as CSV (text, or gzip-compressed text)");
    Ok((super::open_text(&path, &what)?, path.display().to_string()))
}

/// A task of an OpenDC trace being read.
struct Task {
    id: String,
    submit_ms: i64,
    duration_ms: u64,
    cores: u32,
    capacity_mhz: f64,
    memory_kib: f64,
    /// `(duration ms, cpu_usage MHz)` in file order.
    fragments: Vec<(u64, f64)>,
}

/// Reads an OpenDC workload trace in CSV form: `tasks.csv` and
/// `fragments.csv` in `dir`; see the [module documentation](self).
pub fn read_opendc(dir: &Path) -> Result<UtilizationTrace, TraceError> {
    let (reader, tpath) = open_table(dir, "tasks")?;
    let mut rows = CsvRows::new(
        reader,
        &tpath,
        "the OpenDC tasks table: a header and one row per task",
    )?;
    let c = rows.require(
        &[
            "id",
            "submission_time",
            "duration",
            "cpu_count",
            "cpu_capacity",
            "mem_capacity",
        ],
        "; others ignored",
    )?;
    let mut tasks: Vec<Task> = Vec::new();
    let mut by_id: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    while rows.next_row()? {
        let id = rows.field(c[0]);
        if id.is_empty() {
            return Err(rows.bad(c[0], "a task id"));
        }
        if let Some(&(_, line)) = by_id.get(id) {
            return Err(rows.err(format!(
                "column {} (id): expected a task id not seen before, found `{id}` again (first on line {line})",
                c[0] + 1
            )));
        }
        let st = rows.field(c[1]);
        let submit_ms = if !st.is_empty()
            && st
                .strip_prefix('-')
                .unwrap_or(st)
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            st.parse::<i64>().ok()
        } else {
            super::time::parse_datetime(st)
                .ok()
                .map(|s| s.saturating_mul(1000))
        }
        .filter(|v| v.unsigned_abs() < 4_000_000_000_000_000_000)
        .ok_or_else(|| rows.bad(c[1], "unix milliseconds or a UTC date-time YYYY-MM-DD[ HH:MM:SS]"))?;
        let duration_ms = rows.millis(c[2])?;
        let cores = rows.integer(c[3], 1, u32::MAX as u64, "an integer number of cores >= 1")? as u32;
        let capacity_mhz = rows.non_negative(c[4], "MHz > 0")?;
        if capacity_mhz <= 0.0 {
            return Err(rows.bad(c[4], "MHz > 0"));
        }
        let memory_kib = rows.non_negative(c[5], "KiB >= 0")?;
        by_id.insert(id.to_string(), (tasks.len(), rows.line));
        tasks.push(Task {
            id: id.to_string(),
            submit_ms,
            duration_ms,
            cores,
            capacity_mhz,
            memory_kib,
            fragments: Vec::new(),
        });
    }
    if tasks.is_empty() {
        return Err(TraceError::Invalid {
            path: tpath,
            message: "expected task rows after the header, found none".into(),
        });
    }
    let (reader, fpath) = open_table(dir, "fragments")?;
    let mut rows = CsvRows::new(
        reader,
        &fpath,
        "the OpenDC fragments table: a header and one row per fragment",
    )?;
    let c = rows.require(&["id", "duration", "cpu_usage"], "; others ignored")?;
    while rows.next_row()? {
        let id = rows.field(c[0]);
        let Some(&(i, _)) = by_id.get(id) else {
            return Err(rows.bad(c[0], &format!("the id of a task in {tpath}")));
        };
        let d = rows.millis(c[1])?;
        let usage = rows.non_negative(c[2], "MHz >= 0")?;
        tasks[i].fragments.push((d, usage));
    }
    let kept = |t: &Task| t.duration_ms > 0 && t.fragments.iter().any(|f| f.0 > 0);
    let Some(origin) = tasks.iter().filter(|t| kept(t)).map(|t| t.submit_ms).min() else {
        return Err(TraceError::Invalid {
            path: dir.display().to_string(),
            message: format!(
                "expected a task with a duration and fragments, found {} tasks without",
                tasks.len()
            ),
        });
    };
    let mut trace = UtilizationTrace {
        origin_unix_ms: Some(origin),
        ..UtilizationTrace::default()
    };
    for t in tasks {
        if !kept(&t) {
            trace.skipped += 1;
            continue;
        }
        let start = (t.submit_ms - origin) as u64;
        let end = start.saturating_add(t.duration_ms);
        let mut samples = Vec::with_capacity(t.fragments.len());
        let mut at = start;
        for &(d, usage) in &t.fragments {
            if at >= end {
                break;
            }
            if d == 0 {
                continue;
            }
            let u = usage / t.capacity_mhz;
            if u > 1.0 {
                trace.clamped += 1;
            }
            samples.push((SimTime(at), u.min(1.0) as f32));
            at = at.saturating_add(d);
        }
        trace.vms.push(VmUsage {
            name: t.id,
            samples,
            end: Some(SimTime(end)),
            cpu_mips: Some(t.capacity_mhz),
            cores: Some(t.cores),
            memory_mib: Some((t.memory_kib / 1024.0).round() as u64),
        });
    }
    trace.sort_by_name();
    Ok(trace)
}

/// Log standard deviation of the VMs' levels across VMs.
pub const LEVEL_SIGMA: f64 = 1.1;
/// Log standard deviation of a VM's sample-to-sample multiplier.
pub const NOISE_SIGMA: f64 = 0.65;
/// Lag-one autocorrelation of the (log) multiplier.
pub const NOISE_PHI: f64 = 0.1;
/// The level mean of [`UtilGenParams::planetlab_day`]: a realised mean of
/// 12.0 % (20,000 VMs), between PlanetLab's 12.3 % of 2011-03-03 and 11.4 %
/// of 2011-03-06.
pub const PLANETLAB_LEVEL_MEAN: f64 = 0.134;
/// The highest a VM's level (times the diurnal factor) may be.
pub const MAX_LEVEL: f64 = 0.95;
/// Hour of day of the diurnal peak.
pub const PEAK_HOUR: f64 = 14.0;
/// CloudSim's PlanetLab VM types: (MIPS, memory MiB), one core each.
pub const VM_TYPES: [(f64, u64); 4] = [(2500.0, 870), (2000.0, 1740), (1000.0, 1740), (500.0, 613)];

/// The longest trace [`generate_utilization`] makes: 100 years.
pub const MAX_DURATION: SimTime = SimTime::from_secs(100 * 365 * 86_400);

/// Parameters of [`generate_utilization`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtilGenParams {
    /// VMs to generate.
    pub vms: usize,
    /// Length of the trace; every VM runs from 0 to here.
    pub duration: SimTime,
    /// Time between samples.
    pub step: SimTime,
    /// Mean of the VMs' levels. The realised mean is about 10 % lower, as
    /// the noise of busy VMs is bounded below 1: [`PLANETLAB_LEVEL_MEAN`]
    /// gives 12.0 %.
    pub level_mean: f64,
    /// Relative amplitude `a` of the diurnal factor.
    pub diurnal_amplitude: f64,
}

impl UtilGenParams {
    /// One PlanetLab-like day: `vms` VMs, 24 h in steps of 5 minutes, a
    /// realised mean of 12 %, diurnal amplitude 0.08.
    pub fn planetlab_day(vms: usize) -> Self {
        UtilGenParams {
            vms,
            duration: SimTime::from_secs(86_400),
            step: PLANETLAB_STEP,
            level_mean: PLANETLAB_LEVEL_MEAN,
            diurnal_amplitude: 0.08,
        }
    }

    /// Samples per VM: `ceil(duration / step)`.
    pub fn steps(&self) -> u64 {
        self.duration.0.div_ceil(self.step.0.max(1))
    }

    /// Checks the ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        if self.vms == 0 || self.vms > 10_000_000 {
            return Err(format!("vms: expected 1 to 10^7, found {}", self.vms));
        }
        if self.step.0 == 0 {
            return Err("step: expected a positive time, found 0".into());
        }
        if self.duration.0 == 0 || self.duration.0 > MAX_DURATION.0 {
            return Err(format!(
                "duration: expected a positive time of at most 100 years, found {}",
                self.duration
            ));
        }
        if (self.vms as u64).saturating_mul(self.steps()) > 1_000_000_000 {
            return Err(format!(
                "duration / step: expected at most 10^9 samples in all, found {} VMs x {} steps",
                self.vms,
                self.steps()
            ));
        }
        if !(self.level_mean > 0.0 && self.level_mean < 1.0) {
            return Err(format!(
                "level_mean: expected a fraction in (0, 1), found {}",
                self.level_mean
            ));
        }
        if !(0.0..1.0).contains(&self.diurnal_amplitude) {
            return Err(format!(
                "diurnal_amplitude: expected a number in [0, 1), found {}",
                self.diurnal_amplitude
            ));
        }
        Ok(())
    }
}

/// A synthetic PlanetLab-like trace; see the [module documentation](self).
/// VMs are named `vm0`, `vm1`, ... zero-padded to one width, so name order
/// is number order. `p` should pass [`UtilGenParams::validate`].
pub fn generate_utilization(p: &UtilGenParams, rng: &mut SimRng) -> UtilizationTrace {
    let steps = p.steps();
    let width = p.vms.saturating_sub(1).to_string().len();
    let median = p.level_mean / (LEVEL_SIGMA * LEVEL_SIGMA / 2.0).exp();
    let innovation = (1.0 - NOISE_PHI * NOISE_PHI).sqrt();
    let noise_shift = NOISE_SIGMA * NOISE_SIGMA / 2.0;
    let diurnal: Vec<f64> = (0..steps)
        .map(|k| {
            let hour = (k * p.step.0 % 86_400_000) as f64 / 3_600_000.0;
            1.0 + p.diurnal_amplitude * (std::f64::consts::TAU * (hour - PEAK_HOUR) / 24.0).cos()
        })
        .collect();
    let vms = (0..p.vms)
        .map(|i| {
            let (mips, mem) = VM_TYPES[rng.below(VM_TYPES.len() as u64) as usize];
            let level = median * (LEVEL_SIGMA * rng.normal()).exp();
            let mut e = rng.normal();
            let samples = diurnal
                .iter()
                .enumerate()
                .map(|(k, d)| {
                    if k > 0 {
                        e = NOISE_PHI * e + innovation * rng.normal();
                    }
                    // Noise on the logit: multiplicative for small values,
                    // never past 1 for large ones.
                    let m = (level * d).clamp(1e-6, MAX_LEVEL);
                    let x = (m / (1.0 - m)).ln() + NOISE_SIGMA * e - noise_shift;
                    let pct = (100.0 / (1.0 + (-x).exp())).round();
                    (SimTime(k as u64 * p.step.0), pct as f32 / 100.0)
                })
                .collect();
            VmUsage {
                name: format!("vm{i:0width$}"),
                samples,
                end: Some(p.duration),
                cpu_mips: Some(mips),
                cores: Some(1),
                memory_mib: Some(mem),
            }
        })
        .collect();
    UtilizationTrace {
        vms,
        ..UtilizationTrace::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const PLANETLAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/traces/planetlab");
    const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/utilization");

    /// A fresh temporary folder for one test.
    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("slivers-util-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn tidy(text: &str) -> Result<UtilizationTrace, TraceError> {
        parse_utilization_csv(text.as_bytes(), "u.csv")
    }

    fn tidy_err(text: &str) -> String {
        tidy(text).unwrap_err().to_string()
    }

    #[test]
    fn real_planetlab_day() {
        let day = Path::new(PLANETLAB).join("20110303");
        let t0 = std::time::Instant::now();
        let t = read_planetlab(&day).unwrap();
        eprintln!("read_planetlab 20110303: {:?}", t0.elapsed());
        assert_eq!(t.vms.len(), 1052);
        assert!(t.vms.iter().all(|v| v.samples.len() == 288));
        assert!(t.vms.iter().all(|v| v.end == Some(SimTime::from_secs(86_400))));
        assert!(t.vms.windows(2).all(|w| w[0].name < w[1].name));
        // Names as the files: byte order, with the 50 containing a space.
        let mut files: Vec<String> = std::fs::read_dir(&day)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(
            t.vms.iter().map(|v| &v.name).collect::<Vec<_>>(),
            files.iter().collect::<Vec<_>>()
        );
        assert_eq!(t.vms.iter().filter(|v| v.name.contains(' ')).count(), 50);
        let v = t
            .vms
            .iter()
            .find(|v| v.name == "aladdin_planetlab_extranet_uni-passau_de_ rnp_dcc_ufjf")
            .unwrap();
        let text = std::fs::read_to_string(day.join(&v.name)).unwrap();
        let first: f32 = text.lines().next().unwrap().parse::<f32>().unwrap() / 100.0;
        assert_eq!(v.samples[0], (SimTime::ZERO, first));
        // This day's mean is 12.31 %; the README's 11.9 % is both days together.
        let mean = t.sample_mean().unwrap();
        assert!((mean - 0.12314).abs() < 0.001, "mean {mean}");
        let max = t
            .vms
            .iter()
            .flat_map(|v| &v.samples)
            .map(|s| s.1)
            .fold(0.0, f32::max);
        assert_eq!(max, 0.99);
        let other = read_planetlab(&Path::new(PLANETLAB).join("20110306")).unwrap();
        assert_eq!(other.vms.len(), 898);
        assert_eq!(other.vms.iter().filter(|v| v.name.contains(' ')).count(), 55);
        let both = (mean * t.sample_count() as f64
            + other.sample_mean().unwrap() * other.sample_count() as f64)
            / (t.sample_count() + other.sample_count()) as f64;
        assert!((both - 0.119).abs() < 0.001, "both days {both}");
    }

    #[test]
    fn planetlab_fixture_folder() {
        let t = read_planetlab(&Path::new(GOLDEN).join("planetlab")).unwrap();
        let names: Vec<&str> = t.vms.iter().map(|v| v.name.as_str()).collect();
        // Byte order: upper case before `_` before lower case; the hidden
        // file is skipped; the gzip file is read and loses `.gz`.
        assert_eq!(names, vec!["Zeta", "a node_with space", "b_node", "c_gz"]);
        assert_eq!(
            t.vms[1].samples,
            vec![
                (SimTime(0), 0.0),
                (SimTime(300_000), 0.05),
                (SimTime(600_000), 1.0)
            ]
        );
        assert_eq!(t.vms[1].end, Some(SimTime(900_000)));
        assert_eq!(t.vms[3].samples.len(), 3);
        assert_eq!(t.vms[3].samples[2].1, 0.07);
        assert_eq!(t.vms[0].at(SimTime(299_999)), Some(0.12));
    }

    #[test]
    fn planetlab_errors_name_file_and_line() {
        let d = temp_dir("pl-err");
        let check = |content: &str, expect: &str| {
            std::fs::write(d.join("vm one"), content).unwrap();
            let e = read_planetlab(&d).unwrap_err().to_string();
            let want = format!("{}{expect}", d.join("vm one").display());
            assert!(e.starts_with(&want), "{e} / {want}");
        };
        check(
            "1\n2\n3.5\n",
            ":3: expected an integer percent in 0..=100, found \"3.5\"",
        );
        check(
            "1\n101\n",
            ":2: expected an integer percent in 0..=100, found \"101\"",
        );
        check("-1\n", ":1: expected an integer percent in 0..=100, found \"-1\"");
        check(
            "7\nabc\n",
            ":2: expected an integer percent in 0..=100, found \"abc\"",
        );
        check(
            "7\n\n8\n",
            ":2: expected an integer percent in 0..=100, found an empty line",
        );
        check("", ": expected one integer percent per line, found an empty file");
        check(
            "\n\n",
            ": expected one integer percent per line, found an empty file",
        );
        // Trailing blank lines and CRLF are fine.
        std::fs::write(d.join("vm one"), "5\r\n6\r\n\n\n").unwrap();
        assert_eq!(read_planetlab(&d).unwrap().vms[0].samples.len(), 2);
        // A binary file is named as such.
        std::fs::write(d.join("vm one"), b"PK\x03\x04zip").unwrap();
        let e = read_planetlab(&d).unwrap_err().to_string();
        assert!(e.contains("vm one") && e.contains("zip archive"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
        let empty = temp_dir("pl-empty");
        let e = read_planetlab(&empty).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", empty.display())), "{e}");
        assert!(e.ends_with("found an empty folder"), "{e}");
        std::fs::remove_dir_all(&empty).unwrap();
        let e = read_planetlab(&empty).unwrap_err();
        assert!(matches!(e, TraceError::Io { .. }), "{e}");
    }

    #[test]
    fn tidy_reads_interleaved_rows_and_hints() {
        let t = tidy(
            "cpu,time_s,vm_id,memory_mib,extra\n0.5,0,b,1024,x\n0.25,0,a,,y\n0.75,300.5,b,1024,z\n1,600,a,,\n",
        )
        .unwrap();
        assert_eq!(t.vms.len(), 2);
        assert_eq!(t.vms[0].name, "a");
        assert_eq!(
            t.vms[0].samples,
            vec![(SimTime(0), 0.25), (SimTime(600_000), 1.0)]
        );
        assert_eq!(t.vms[0].memory_mib, None);
        assert_eq!(
            t.vms[1].samples,
            vec![(SimTime(0), 0.5), (SimTime(300_500), 0.75)]
        );
        assert_eq!(t.vms[1].memory_mib, Some(1024));
        assert_eq!(t.vms[1].end, None);
        assert_eq!(t.vms[1].at(SimTime(300_499)), Some(0.5));
        assert_eq!(t.vms[1].at(SimTime(10_000_000)), Some(0.75));
        let z = tidy("vm_id,time_s,cpu\nz,0,-0\n").unwrap();
        assert!(z.vms[0].samples[0].1.is_sign_positive());
    }

    #[test]
    fn tidy_errors_name_line_column_expected_found() {
        assert_eq!(
            tidy_err("vm_id,cpu\na,0.5\n"),
            "u.csv:1: expected a header with columns vm_id, time_s, cpu (any order; optional end_s, cpu_mips, cores, memory_mib), found `vm_id,cpu` (no column `time_s`)"
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\na,0,0.5\na,300,1.5\n"),
            "u.csv:3: column 3 (cpu): expected a utilisation fraction in [0, 1], found \"1.5\""
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\na,0,0.5\na,300,-0.1\n"),
            "u.csv:3: column 3 (cpu): expected a utilisation fraction in [0, 1], found \"-0.1\""
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\na,0,0.5\nb,0,0.5\na,300,0.1\na,300,0.2\n"),
            "u.csv:5: column 2 (time_s): expected a time after 300 s (line 4, the previous row of VM `a`), found the same time again"
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\na,600,0.5\na,300,0.1\n"),
            "u.csv:3: column 2 (time_s): expected the rows of VM `a` in increasing time, after 600 s (line 2), found 300 s"
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\na,x,0.5\n"),
            "u.csv:2: column 2 (time_s): expected seconds >= 0, found \"x\""
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\na,0\n"),
            "u.csv:2: expected 3 columns as in the header (vm_id,time_s,cpu), found 2"
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu,memory_mib\na,0,0.5,512\na,300,0.5,1024\n"),
            "u.csv:3: column 4 (memory_mib): expected 512 as on line 2 (the first row of VM `a`), found \"1024\""
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu,cpu_mips\na,0,0.5,\nb,0,0.5,1000\na,300,0.5,500\n"),
            "u.csv:4: column 4 (cpu_mips): expected an empty field as on line 2 (the first row of VM `a`), found \"500\""
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu,end_s\na,0,0.5,300\na,300,0.5,300\n"),
            "u.csv:3: column 2 (time_s): expected a time before the VM's end_s (300 s), found 300 s"
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu,cores\na,0,0.5,0\n"),
            "u.csv:2: column 4 (cores): expected an integer number of cores >= 1, or empty, found \"0\""
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu,cpu\n"),
            "u.csv:1: expected distinct column names, found `cpu` in columns 3 and 4"
        );
        assert_eq!(
            tidy_err(" ,0,0.5\n".replace(' ', "vm_id,time_s,cpu\n").as_str()),
            "u.csv:2: column 1 (vm_id): expected a VM name, found \"\""
        );
        assert_eq!(
            tidy_err(""),
            "u.csv: expected a header `vm_id,time_s,cpu[,end_s,cpu_mips,cores,memory_mib]` and rows, found an empty file"
        );
        assert_eq!(
            tidy_err("vm_id,time_s,cpu\n"),
            "u.csv: expected rows after the header, found none"
        );
    }

    #[test]
    fn opendc_fixture_maps_usage_to_fraction() {
        let dir = Path::new(GOLDEN).join("opendc");
        let t = read_opendc(&dir).unwrap();
        // Task 3 has no fragments: skipped like OpenDC does.
        assert_eq!(t.skipped, 1);
        assert_eq!(t.clamped, 1);
        assert_eq!(t.origin_unix_ms, Some(1_376_314_846_000));
        let names: Vec<&str> = t.vms.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, vec!["1", "2"]);
        let a = &t.vms[0];
        // 2 cores of 2600 MHz in all, 2 GiB in KiB; 650 MHz used = 25 %.
        assert_eq!(a.cpu_mips, Some(2600.0));
        assert_eq!(a.cores, Some(2));
        assert_eq!(a.memory_mib, Some(2048));
        assert_eq!(
            a.samples,
            vec![
                (SimTime(0), 0.25),
                (SimTime(300_000), 0.5),
                (SimTime(600_000), 1.0)
            ]
        );
        assert_eq!(a.end, Some(SimTime(900_000)));
        let b = &t.vms[1];
        // Submitted 10 minutes after task 1; a fragment of 0 ms is skipped
        // and the one starting at the task's end is dropped.
        assert_eq!(b.samples, vec![(SimTime(600_000), 0.1), (SimTime(660_000), 0.0)]);
        assert_eq!(b.end, Some(SimTime(720_000)));
        assert_eq!(b.at(SimTime(719_999)), Some(0.0));
        assert_eq!(b.at(SimTime(720_000)), None);
        assert_eq!(b.at(SimTime(599_999)), None);
    }

    #[test]
    fn opendc_errors_name_file_line_column() {
        let d = temp_dir("odc-err");
        let tasks =
            "id,submission_time,duration,cpu_count,cpu_capacity,mem_capacity\n1,0,600000,1,1000,1024\n";
        let run = |tasks: &str, fragments: &str| {
            std::fs::write(d.join("tasks.csv"), tasks).unwrap();
            std::fs::write(d.join("fragments.csv"), fragments).unwrap();
            read_opendc(&d).unwrap_err().to_string()
        };
        let tp = d.join("tasks.csv").display().to_string();
        let fp = d.join("fragments.csv").display().to_string();
        assert_eq!(
            run(tasks, "id,duration,cpu_usage\n1,300000,100\n7,300000,100\n"),
            format!("{fp}:3: column 1 (id): expected the id of a task in {tp}, found \"7\"")
        );
        assert_eq!(
            run(tasks, "id,duration,cpu_usage\n1,300000,-5\n"),
            format!("{fp}:2: column 3 (cpu_usage): expected MHz >= 0, found \"-5\"")
        );
        assert_eq!(
            run(tasks, "id,duration\n1,300000\n"),
            format!(
                "{fp}:1: expected a header with columns id, duration, cpu_usage (any order; others ignored), found `id,duration` (no column `cpu_usage`)"
            )
        );
        let bad_tasks =
            "id,submission_time,duration,cpu_count,cpu_capacity,mem_capacity\n1,0,600000,1,0,1024\n";
        assert_eq!(
            run(bad_tasks, "id,duration,cpu_usage\n"),
            format!("{tp}:2: column 5 (cpu_capacity): expected MHz > 0, found \"0\"")
        );
        let dup = format!("{tasks}1,5,600000,1,1000,1024\n");
        assert_eq!(
            run(&dup, "id,duration,cpu_usage\n"),
            format!(
                "{tp}:3: column 1 (id): expected a task id not seen before, found `1` again (first on line 2)"
            )
        );
        let when = "id,submission_time,duration,cpu_count,cpu_capacity,mem_capacity\n1,yesterday,600000,1,1000,1024\n";
        assert_eq!(
            run(when, ""),
            format!(
                "{tp}:2: column 2 (submission_time): expected unix milliseconds or a UTC date-time YYYY-MM-DD[ HH:MM:SS], found \"yesterday\""
            )
        );
        assert!(run(tasks, "").ends_with("found an empty file"));
        std::fs::remove_file(d.join("fragments.csv")).unwrap();
        let e = read_opendc(&d).unwrap_err();
        assert!(matches!(&e, TraceError::Io { path, .. } if path == &fp), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn opendc_dates_and_gzip() {
        let d = temp_dir("odc-gz");
        std::fs::write(
            d.join("tasks.csv"),
            "mem_capacity,cpu_capacity,cpu_count,duration,submission_time,id,name\n0,500,1,1000,2011-03-03 00:00:01,x,n\n",
        )
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"cpu_usage,id,duration\n250,x,1000\n").unwrap();
        std::fs::write(d.join("fragments.csv.gz"), gz.finish().unwrap()).unwrap();
        let t = read_opendc(&d).unwrap();
        assert_eq!(t.origin_unix_ms, Some(1_299_110_401_000));
        assert_eq!(t.vms[0].samples, vec![(SimTime(0), 0.5)]);
        assert_eq!(t.vms[0].memory_mib, Some(0));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn generator_is_seeded_and_round_trips() {
        let p = UtilGenParams {
            vms: 12,
            ..UtilGenParams::planetlab_day(12)
        };
        p.validate().unwrap();
        let a = generate_utilization(&p, &mut SimRng::seed_from_u64(3));
        let b = generate_utilization(&p, &mut SimRng::seed_from_u64(3));
        assert_eq!(a, b);
        assert_ne!(a, generate_utilization(&p, &mut SimRng::seed_from_u64(4)));
        assert_eq!(a.vms.len(), 12);
        assert_eq!(a.vms[0].name, "vm00");
        assert_eq!(a.vms[11].name, "vm11");
        assert!(a.vms.iter().all(|v| v.samples.len() == 288));
        let text = format_utilization_csv(&a).unwrap();
        assert!(
            text.starts_with("vm_id,time_s,cpu,end_s,cpu_mips,cores,memory_mib\nvm00,0,"),
            "{}",
            &text[..80]
        );
        assert_eq!(tidy(&text).unwrap(), a);
        // Through a file too, atomically.
        let d = temp_dir("gen-rt");
        let f = d.join("u.csv");
        write_utilization_csv(&a, &f).unwrap();
        assert_eq!(read_utilization_csv(&f).unwrap(), a);
        std::fs::remove_dir_all(&d).unwrap();
        // Odd steps: the last sample is partial, times keep milliseconds.
        let q = UtilGenParams {
            vms: 3,
            duration: SimTime(1_000_500),
            step: SimTime(250_250),
            ..p
        };
        let c = generate_utilization(&q, &mut SimRng::seed_from_u64(1));
        assert_eq!(c.vms[0].samples.len(), 4);
        assert_eq!(tidy(&format_utilization_csv(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn generator_statistics_are_planetlab_like() {
        let p = UtilGenParams::planetlab_day(1000);
        let t = generate_utilization(&p, &mut SimRng::seed_from_u64(11));
        let mean = t.sample_mean().unwrap();
        assert!((0.10..0.14).contains(&mean), "mean {mean}");
        let mut all: Vec<f32> = t.vms.iter().flat_map(|v| v.samples.iter().map(|s| s.1)).collect();
        assert!(all.iter().all(|u| (0.0..=1.0).contains(u)));
        all.sort_by(f32::total_cmp);
        let q = |f: f64| all[(all.len() as f64 * f) as usize];
        // Heavy-ish tail: the median well below the mean, p99 far above.
        assert!(q(0.5) < mean as f32 * 0.75, "median {}", q(0.5));
        assert!(q(0.99) > 0.6, "p99 {}", q(0.99));
        // Diurnal: the afternoon is busier than the late evening.
        let hour_mean = |h: usize| {
            let ks = h * 12..(h + 1) * 12;
            t.vms
                .iter()
                .flat_map(|v| v.samples[ks.clone()].iter())
                .map(|s| s.1 as f64)
                .sum::<f64>()
                / (12 * t.vms.len()) as f64
        };
        assert!(
            hour_mean(14) > hour_mean(2) * 1.08,
            "{} vs {}",
            hour_mean(14),
            hour_mean(2)
        );
        // VMs differ: per-VM means spread over an order of magnitude.
        let mut means: Vec<f64> = t.vms.iter().map(|v| v.mean().unwrap()).collect();
        means.sort_by(f64::total_cmp);
        assert!(means[900] > 8.0 * means[100], "{} {}", means[100], means[900]);
    }

    #[test]
    fn cursor_matches_binary_search() {
        let p = UtilGenParams {
            vms: 5,
            duration: SimTime::from_secs(3600),
            step: SimTime::from_secs(60),
            ..UtilGenParams::planetlab_day(5)
        };
        let mut t = generate_utilization(&p, &mut SimRng::seed_from_u64(2));
        // One VM starts late and ends early.
        t.vms[2].samples.retain(|s| s.0 >= SimTime::from_secs(600));
        t.vms[2].end = Some(SimTime::from_secs(1800));
        let mut c = t.cursor();
        let mut rng = SimRng::seed_from_u64(9);
        let mut now = 0u64;
        for _ in 0..2000 {
            // Mostly forward by up to 20 minutes, sometimes back.
            now = if rng.below(10) == 0 {
                rng.below(3_700_000)
            } else {
                now + rng.below(1_200_000)
            };
            for vm in 0..t.vms.len() {
                let at = SimTime(now);
                assert_eq!(c.at(&t, vm, at), t.vms[vm].at(at), "vm {vm} at {at}");
            }
        }
        assert_eq!(c.at(&t, 2, SimTime::from_secs(599)), None);
        assert_eq!(c.at(&t, 2, SimTime::from_secs(600)), Some(t.vms[2].samples[0].1));
        assert_eq!(c.at(&t, 2, SimTime::from_secs(1800)), None);
        assert_eq!(c.at(&t, 9, SimTime::ZERO), None);
    }

    #[test]
    fn writer_refuses_what_the_reader_cannot_read() {
        let mut t = generate_utilization(&UtilGenParams::planetlab_day(2), &mut SimRng::seed_from_u64(1));
        t.vms[1].name = "a,b".into();
        assert!(format_utilization_csv(&t).unwrap_err().starts_with("VM name"));
        t.vms[1].name = "b".into();
        t.vms[1].samples[5].1 = 1.5;
        assert!(format_utilization_csv(&t).unwrap_err().contains("[0, 1]"));
        t.vms[1].samples[5].1 = 0.5;
        t.vms[1].samples[5].0 = SimTime::ZERO;
        assert!(format_utilization_csv(&t).unwrap_err().contains("increasing"));
        let d = temp_dir("writer");
        let e = write_utilization_csv(&t, &d.join("u.csv")).unwrap_err();
        assert!(e.to_string().contains("u.csv"), "{e}");
        assert!(!d.join("u.csv").exists());
        std::fs::remove_dir_all(&d).unwrap();
        assert!(
            UtilGenParams {
                vms: 0,
                ..UtilGenParams::planetlab_day(1)
            }
            .validate()
            .unwrap_err()
            .starts_with("vms")
        );
        assert!(
            UtilGenParams {
                level_mean: 1.0,
                ..UtilGenParams::planetlab_day(1)
            }
            .validate()
            .unwrap_err()
            .starts_with("level_mean")
        );
    }
}
