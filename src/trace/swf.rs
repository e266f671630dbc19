//! The Standard Workload Format (SWF 2.2) of the Parallel Workloads Archive.
//!
//! Lines starting with `;` are header comments (`; UnixStartTime: N`,
//! `; MaxNodes: N`, ...); blank lines are skipped; every other line is one
//! job with exactly 18 whitespace-separated numbers:
//!
//! | # | field | # | field |
//! |---|---|---|---|
//! | 1 | job number | 10 | requested memory |
//! | 2 | submit time (s since UnixStartTime) | 11 | status (1 done, 0 failed, 5 cancelled) |
//! | 3 | wait time (s) | 12 | user id |
//! | 4 | run time (s) | 13 | group id |
//! | 5 | allocated processors | 14 | executable number |
//! | 6 | average CPU time | 15 | queue number |
//! | 7 | used memory | 16 | partition number |
//! | 8 | requested processors | 17 | preceding job number |
//! | 9 | requested time | 18 | think time |
//!
//! `-1` means unknown. Any field may be written as a decimal (`552.21`),
//! but fields 1, 2, 4, 5 and 8 must hold integral values (or `-1`). A job
//! runs from `submit + wait` for `run time` seconds on its processors.

use super::{TraceError, parse_plain_number, write_atomic};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

/// Names of the 18 SWF fields, index 0 = field 1.
pub const FIELD_NAMES: [&str; 18] = [
    "job number",
    "submit time",
    "wait time",
    "run time",
    "allocated processors",
    "average CPU time",
    "used memory",
    "requested processors",
    "requested time",
    "requested memory",
    "status",
    "user id",
    "group id",
    "executable number",
    "queue number",
    "partition number",
    "preceding job number",
    "think time",
];

/// One job of a batch trace, as the simulator needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Job {
    /// Job number (SWF field 1).
    pub id: u64,
    /// Submit time, absolute unix seconds (UnixStartTime + field 2).
    pub submit: i64,
    /// Wait time in seconds (field 3); 0 if the trace says unknown (-1).
    pub wait: i64,
    /// Run time in seconds (field 4), always positive.
    pub run: u64,
    /// Processors used: allocated processors (field 5), or requested
    /// processors (field 8) if field 5 is unknown. Always positive.
    pub procs: u32,
    /// Status (field 11): 1 completed, 0 failed, 5 cancelled, -1 unknown.
    pub status: i32,
}

impl Job {
    /// When the job started running: `submit + wait` (unix seconds).
    pub fn start(&self) -> i64 {
        self.submit.saturating_add(self.wait)
    }

    /// When the job finished: `start + run` (unix seconds).
    pub fn end(&self) -> i64 {
        self.start().saturating_add(self.run.min(i64::MAX as u64) as i64)
    }
}

/// A parsed SWF trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwfTrace {
    /// `; UnixStartTime:` of the header, 0 if absent.
    pub unix_start: i64,
    /// `; MaxNodes:` of the header, if present (and not -1).
    pub max_nodes: Option<u32>,
    /// `; MaxProcs:` of the header, if present (and not -1).
    pub max_procs: Option<u32>,
    /// The usable jobs, sorted by `(submit, id)`; times are absolute.
    pub jobs: Vec<Job>,
    /// Job lines dropped because the run time was not positive, the
    /// processor count was unknown (fields 5 and 8 both <= 0) or the submit
    /// time was unknown (-1).
    pub skipped: usize,
}

impl SwfTrace {
    /// Mean number of busy processors over `[from, to)`, each job counting
    /// its `procs` from [`Job::start`] to [`Job::end`]; computed by a sweep
    /// over start/end events. 0.0 if `to <= from`.
    pub fn mean_busy(&self, from: i64, to: i64) -> f64 {
        self.sweep(from, to).0
    }

    /// Largest number of processors busy at once during `[from, to)`.
    pub fn peak_busy(&self, from: i64, to: i64) -> u64 {
        self.sweep(from, to).1
    }

    /// (mean, peak) busy processors over `[from, to)`.
    fn sweep(&self, from: i64, to: i64) -> (f64, u64) {
        if to <= from {
            return (0.0, 0);
        }
        let mut events: Vec<(i64, i64)> = Vec::with_capacity(2 * self.jobs.len());
        for j in &self.jobs {
            let (s, e) = (j.start().max(from), j.end().min(to));
            if s < e {
                events.push((s, j.procs as i64));
                events.push((e, -(j.procs as i64)));
            }
        }
        // Ends before starts at the same instant: a job ending at t and one
        // starting at t never overlap.
        events.sort_unstable();
        let (mut busy, mut last, mut area, mut peak) = (0i64, from, 0i128, 0i64);
        for (t, delta) in events {
            area += busy as i128 * (t - last) as i128;
            last = t;
            busy += delta;
            peak = peak.max(busy);
        }
        (area as f64 / (to - from) as f64, peak as u64)
    }
}

/// How a job line's value failed.
fn field_error(path: &str, line: usize, field: usize, expected: &str, found: &str) -> TraceError {
    TraceError::Parse {
        path: path.to_string(),
        line,
        message: format!(
            "field {} ({}): expected {expected}, found \"{found}\"",
            field + 1,
            FIELD_NAMES[field]
        ),
    }
}

/// Parses one job line. `Ok(None)` means a well-formed but unusable job.
fn parse_job_line(text: &str, path: &str, line: usize) -> Result<Option<Job>, TraceError> {
    let toks: Vec<&str> = text.split_ascii_whitespace().collect();
    if toks.len() != 18 {
        return Err(TraceError::Parse {
            path: path.to_string(),
            line,
            message: format!("expected 18 whitespace-separated fields, found {}", toks.len()),
        });
    }
    let mut v = [0f64; 18];
    for (i, tok) in toks.iter().enumerate() {
        v[i] = parse_plain_number(tok).ok_or_else(|| field_error(path, line, i, "a number", tok))?;
    }
    // Fields 1, 2, 4, 5, 8 must be integral and >= -1; field 1 >= 0.
    for i in [0usize, 1, 3, 4, 7] {
        if v[i].fract() != 0.0 || v[i].abs() > 9.0e15 {
            return Err(field_error(
                path,
                line,
                i,
                "an integer (or -1 for unknown)",
                toks[i],
            ));
        }
        if v[i] < -1.0 || (i == 0 && v[i] < 0.0) {
            let what = if i == 0 {
                "a non-negative integer"
            } else {
                "a non-negative integer or -1"
            };
            return Err(field_error(path, line, i, what, toks[i]));
        }
    }
    if v[2] < 0.0 && v[2] != -1.0 {
        return Err(field_error(path, line, 2, "a non-negative number or -1", toks[2]));
    }
    let procs = if v[4] > 0.0 { v[4] } else { v[7] };
    if procs > u32::MAX as f64 {
        let f = if v[4] > 0.0 { 4 } else { 7 };
        return Err(field_error(
            path,
            line,
            f,
            "at most 4294967295 processors",
            toks[f],
        ));
    }
    if v[1] < 0.0 || v[3] <= 0.0 || procs <= 0.0 {
        return Ok(None);
    }
    Ok(Some(Job {
        id: v[0] as u64,
        submit: v[1] as i64, // made absolute once the header is known
        wait: if v[2] < 0.0 {
            0
        } else {
            v[2].round().min(9.0e15) as i64
        },
        run: v[3] as u64,
        procs: procs as u32,
        status: v[10].round().clamp(i32::MIN as f64, i32::MAX as f64) as i32,
    }))
}

/// Parses a header comment line (`; Key: value`) into the trace if it is one
/// of the keys slivers uses.
fn parse_header_line(text: &str, path: &str, line: usize, trace: &mut SwfTrace) -> Result<(), TraceError> {
    let body = text.trim_start().trim_start_matches(';').trim();
    let Some((key, value)) = body.split_once(':') else {
        return Ok(());
    };
    let (key, value) = (key.trim(), value.trim());
    let bad = |expected: &str| TraceError::Parse {
        path: path.to_string(),
        line,
        message: format!("header {key}: expected {expected}, found \"{value}\""),
    };
    match key {
        "UnixStartTime" => {
            trace.unix_start = value
                .parse::<i64>()
                .map_err(|_| bad("an integer (unix seconds)"))?;
        }
        "MaxNodes" | "MaxProcs" => {
            let n = if value == "-1" {
                None
            } else {
                Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| bad("a non-negative integer or -1"))?,
                )
            };
            if key == "MaxNodes" {
                trace.max_nodes = n;
            } else {
                trace.max_procs = n;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses an SWF trace from `reader`; `origin` names the source in errors.
///
/// Jobs whose run time is not positive, whose processor count is unknown
/// (fields 5 and 8 both <= 0) or whose submit time is -1 are dropped and
/// counted in [`SwfTrace::skipped`]. Errors: a job line without exactly 18
/// fields, a field that is not a plain decimal number, a non-integral or
/// below -1 value in fields 1, 2, 4, 5, 8, a malformed `UnixStartTime`,
/// `MaxNodes` or `MaxProcs` header (all [`TraceError::Parse`] with the
/// line); no usable job at all ([`TraceError::Invalid`]).
pub fn parse_swf<R: BufRead>(mut reader: R, origin: &str) -> Result<SwfTrace, TraceError> {
    let mut trace = SwfTrace::default();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| TraceError::Io {
                path: origin.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| TraceError::Parse {
            path: origin.to_string(),
            line,
            message: format!(
                "expected ASCII text, found a non-UTF-8 byte at column {}",
                e.valid_up_to() + 1
            ),
        })?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if text.starts_with(';') {
            parse_header_line(text, origin, line, &mut trace)?;
            continue;
        }
        match parse_job_line(text, origin, line)? {
            Some(job) => trace.jobs.push(job),
            None => trace.skipped += 1,
        }
    }
    if trace.jobs.is_empty() {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: format!(
                "expected at least one usable job, found none ({} job lines skipped for unknown submit time, run time or processors)",
                trace.skipped
            ),
        });
    }
    for j in &mut trace.jobs {
        j.submit = trace.unix_start.saturating_add(j.submit);
    }
    trace.jobs.sort_by_key(|j| (j.submit, j.id));
    Ok(trace)
}

/// Reads an SWF file; `.gz` files (by extension or by the gzip magic bytes)
/// are decompressed on the fly. See [`parse_swf`] for the rules.
pub fn read_swf(path: &Path) -> Result<SwfTrace, TraceError> {
    let reader = super::open_text(path, "an SWF job log (text, or gzip-compressed text)")?;
    parse_swf(reader, &path.display().to_string())
}

/// The `requested time` (field 9) written for a job: its run time rounded up
/// to the next multiple of 10 minutes ([`Job`] does not keep the original).
pub fn requested_time(run: u64) -> u64 {
    run.div_ceil(600).saturating_mul(600)
}

/// Renders `trace` as SWF text: `; Version: 2.2`, `; UnixStartTime: N`,
/// `; MaxNodes: N` and `; MaxProcs: N` (when known), then each of
/// `header_comments` as `; <comment>` (one per line of the comment), then a
/// lone `;`, then one 18-field line per job in order.
///
/// Job lines carry what [`Job`] holds: field 2 = `submit - unix_start`,
/// field 5 = field 8 = `procs`, field 9 = [`requested_time`], field 11 =
/// `status`; every other field is -1. Errors (as a message) if a job
/// submits before `unix_start`.
pub fn render_swf(trace: &SwfTrace, header_comments: &[String]) -> Result<String, String> {
    let mut out = String::with_capacity(256 + 80 * trace.jobs.len());
    out.push_str("; Version: 2.2\n");
    let _ = writeln!(out, "; UnixStartTime: {}", trace.unix_start);
    if let Some(n) = trace.max_nodes {
        let _ = writeln!(out, "; MaxNodes: {n}");
    }
    if let Some(n) = trace.max_procs {
        let _ = writeln!(out, "; MaxProcs: {n}");
    }
    for c in header_comments {
        for l in c.lines() {
            let l = l.trim_end();
            if l.is_empty() {
                out.push_str(";\n");
            } else {
                let _ = writeln!(out, "; {l}");
            }
        }
    }
    out.push_str(";\n");
    for j in &trace.jobs {
        let rel = j
            .submit
            .checked_sub(trace.unix_start)
            .filter(|r| *r >= 0)
            .ok_or_else(|| {
                format!(
                    "job {} submits at {}, before UnixStartTime {}; expected submit >= UnixStartTime",
                    j.id, j.submit, trace.unix_start
                )
            })?;
        let _ = writeln!(
            out,
            "{:>6} {:>8} {:>6} {:>7} {:>4} -1 -1 {:>4} {:>7} -1 {:>2} -1 -1 -1 -1 -1 -1 -1",
            j.id,
            rel,
            j.wait,
            j.run,
            j.procs,
            j.procs,
            requested_time(j.run),
            j.status
        );
    }
    Ok(out)
}

/// Writes `trace` to `path` atomically (via `<path>.tmp`) in the layout of
/// [`render_swf`].
pub fn write_swf(trace: &SwfTrace, header_comments: &[String], path: &Path) -> Result<(), TraceError> {
    let text = render_swf(trace, header_comments).map_err(|message| TraceError::Invalid {
        path: path.display().to_string(),
        message,
    })?;
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const KTH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/traces/pwa_swf/KTH-SP2-1996-2.1-cln.swf.gz"
    );
    const HPC2N: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/traces/pwa_swf/HPC2N-first3171jobs-from-alea.swf"
    );

    fn parse(s: &str) -> Result<SwfTrace, TraceError> {
        parse_swf(Cursor::new(s.as_bytes()), "t.swf")
    }

    fn parse_err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    const SMALL: &str = "\
; Version: 2.2
; UnixStartTime: 1000
; MaxNodes: 64
; MaxProcs: 128

    3   200   10   50   4 552.21 -1   4  600 -1  1 1 1 -1 -1 -1 -1 -1
    1   100   -1   30  -1   -1    -1  8   60 -1  0 1 1 -1 -1 -1 -1 -1
    2   100    5   -1   2   -1    -1  2   60 -1  5 1 1 -1 -1 -1 -1 -1
    4   150    0   20  -1   -1    -1 -1   60 -1  1 1 1 -1 -1 -1 -1 -1
    5   100    0    7   1   -1    -1  1   60 -1  1 1 1 -1 -1 -1 -1 -1
";

    #[test]
    fn parses_header_fallbacks_and_skips() {
        let t = parse(SMALL).unwrap();
        assert_eq!(t.unix_start, 1000);
        assert_eq!(t.max_nodes, Some(64));
        assert_eq!(t.max_procs, Some(128));
        assert_eq!(t.skipped, 2); // job 2: run -1; job 4: procs unknown
        let expect = vec![
            Job {
                id: 1,
                submit: 1100,
                wait: 0,
                run: 30,
                procs: 8,
                status: 0,
            },
            Job {
                id: 5,
                submit: 1100,
                wait: 0,
                run: 7,
                procs: 1,
                status: 1,
            },
            Job {
                id: 3,
                submit: 1200,
                wait: 10,
                run: 50,
                procs: 4,
                status: 1,
            },
        ];
        assert_eq!(t.jobs, expect);
        assert_eq!(t.jobs[2].start(), 1210);
        assert_eq!(t.jobs[2].end(), 1260);
    }

    #[test]
    fn header_absent_means_zero_start() {
        let t = parse("1 5 0 10 2 -1 -1 2 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n").unwrap();
        assert_eq!((t.unix_start, t.max_nodes, t.max_procs), (0, None, None));
        assert_eq!(t.jobs[0].submit, 5);
    }

    #[test]
    fn errors_name_line_field_expected_found() {
        let head = "; UnixStartTime: 0\n\n";
        assert_eq!(
            parse_err(&format!(
                "{head}1 0 0 abc 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n"
            )),
            "t.swf:3: field 4 (run time): expected a number, found \"abc\""
        );
        assert_eq!(
            parse_err(&format!(
                "{head}1 0 0 3.5 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n"
            )),
            "t.swf:3: field 4 (run time): expected an integer (or -1 for unknown), found \"3.5\""
        );
        assert_eq!(
            parse_err("1 0 0 3 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1\n"),
            "t.swf:1: expected 18 whitespace-separated fields, found 17"
        );
        assert_eq!(
            parse_err("1 -7 0 3 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n"),
            "t.swf:1: field 2 (submit time): expected a non-negative integer or -1, found \"-7\""
        );
        assert_eq!(
            parse_err("-1 0 0 3 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n"),
            "t.swf:1: field 1 (job number): expected a non-negative integer, found \"-1\""
        );
        assert_eq!(
            parse_err("1 0 0 3 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 1e3\n"),
            "t.swf:1: field 18 (think time): expected a number, found \"1e3\""
        );
        assert_eq!(
            parse_err("; MaxNodes: many\n"),
            "t.swf:1: header MaxNodes: expected a non-negative integer or -1, found \"many\""
        );
        assert_eq!(
            parse_err("; comment only\n1 0 0 -1 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n"),
            "t.swf: expected at least one usable job, found none (1 job lines skipped for unknown submit time, run time or processors)"
        );
        let e = parse_swf(Cursor::new(b"; x\n1 \xff\n".to_vec()), "t.swf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.swf:2: expected ASCII text, found a non-UTF-8 byte at column 3"
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let trace = SwfTrace {
            unix_start: 1_767_571_200,
            max_nodes: Some(100),
            max_procs: Some(100),
            jobs: vec![
                Job {
                    id: 1,
                    submit: 1_767_571_200,
                    wait: 0,
                    run: 601,
                    procs: 4,
                    status: 1,
                },
                Job {
                    id: 2,
                    submit: 1_767_571_260,
                    wait: 30,
                    run: 60,
                    procs: 1,
                    status: 0,
                },
            ],
            skipped: 0,
        };
        let text = render_swf(&trace, &["Synthetic.".to_string(), "two\nlines".to_string()]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..8],
            [
                "; Version: 2.2",
                "; UnixStartTime: 1767571200",
                "; MaxNodes: 100",
                "; MaxProcs: 100",
                "; Synthetic.",
                "; two",
                "; lines",
                ";"
            ]
        );
        assert_eq!(
            lines[8].split_ascii_whitespace().collect::<Vec<_>>(),
            [
                "1", "0", "0", "601", "4", "-1", "-1", "4", "1200", "-1", "1", "-1", "-1", "-1", "-1", "-1",
                "-1", "-1"
            ]
        );
        let dir = std::env::temp_dir().join(format!("slivers-swf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rt.swf");
        write_swf(&trace, &["Synthetic.".to_string()], &p).unwrap();
        assert_eq!(read_swf(&p).unwrap(), trace);
        assert!(!dir.join("rt.swf.tmp").exists());
        // A job before UnixStartTime cannot be written.
        let mut bad = trace.clone();
        bad.jobs[0].submit -= 1;
        let e = write_swf(&bad, &[], &p).unwrap_err().to_string();
        assert!(
            e.contains("job 1 submits at 1767571199, before UnixStartTime 1767571200"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn requested_time_rounds_up_to_ten_minutes() {
        assert_eq!(requested_time(1), 600);
        assert_eq!(requested_time(600), 600);
        assert_eq!(requested_time(601), 1200);
    }

    #[test]
    fn busy_sweep_hand_computed() {
        let trace = SwfTrace {
            jobs: vec![
                Job {
                    id: 1,
                    submit: 0,
                    wait: 0,
                    run: 10,
                    procs: 2,
                    status: 1,
                },
                Job {
                    id: 2,
                    submit: 5,
                    wait: 5,
                    run: 10,
                    procs: 3,
                    status: 1,
                }, // 10..20
                Job {
                    id: 3,
                    submit: 10,
                    wait: 0,
                    run: 5,
                    procs: 1,
                    status: 1,
                }, // 10..15
            ],
            ..Default::default()
        };
        // Over [0, 20): 2*10 + 3*10 + 1*5 = 55 proc-s -> 2.75.
        assert_eq!(trace.mean_busy(0, 20), 2.75);
        // Over [5, 15): 2*5 + 3*5 + 1*5 = 30 -> 3.0.
        assert_eq!(trace.mean_busy(5, 15), 3.0);
        // Job 1 ends at 10 as job 2 starts: the peak is 3 + 1, not 2 + 3 + 1.
        assert_eq!(trace.peak_busy(0, 20), 4);
        assert_eq!(trace.mean_busy(20, 20), 0.0);
    }

    #[test]
    fn missing_file_is_io_error_naming_it() {
        let e = read_swf(Path::new("/nonexistent/x.swf")).unwrap_err();
        assert!(matches!(e, TraceError::Io { .. }));
        let shown = crate::error_chain(&e);
        assert!(shown.starts_with("/nonexistent/x.swf: "), "{shown}");
    }

    #[test]
    fn reads_kth_gz() {
        let t = read_swf(Path::new(KTH)).unwrap();
        assert_eq!(t.unix_start, 843_480_031);
        assert_eq!(t.max_nodes, Some(100));
        assert_eq!(t.max_procs, Some(100));
        assert_eq!(t.jobs.len(), KTH_JOBS);
        assert_eq!(t.skipped, KTH_SKIPPED);
        assert!(
            t.jobs
                .windows(2)
                .all(|w| (w[0].submit, w[0].id) <= (w[1].submit, w[1].id))
        );
        assert!(t.jobs.iter().all(|j| j.procs >= 1 && j.procs <= 100 && j.run > 0));
        // First job line: "15 599850 192180 3477 4 ... status 1".
        let j15 = t.jobs.iter().find(|j| j.id == 15).unwrap();
        assert_eq!(
            *j15,
            Job {
                id: 15,
                submit: 843_480_031 + 599_850,
                wait: 192_180,
                run: 3477,
                procs: 4,
                status: 1
            }
        );
    }

    #[test]
    fn reads_hpc2n_plain() {
        let t = read_swf(Path::new(HPC2N)).unwrap();
        assert_eq!(t.unix_start, 1_027_839_845);
        assert_eq!(t.max_nodes, Some(240));
        assert_eq!(t.jobs.len() + t.skipped, 3170);
        assert_eq!(t.skipped, HPC2N_SKIPPED);
        // "12 342343 5 553 40 552.21 ..." : a decimal in field 6 is accepted.
        let j12 = t.jobs.iter().find(|j| j.id == 12).unwrap();
        assert_eq!(
            (j12.submit, j12.wait, j12.run, j12.procs),
            (1_027_839_845 + 342_343, 5, 553, 40)
        );
        // Job 16 has run time -1: skipped.
        assert!(t.jobs.iter().all(|j| j.id != 16));
    }

    // Measured independently with awk (job lines with submit != -1, run > 0
    // and field 5 or 8 > 0): KTH has 27,992 job lines, all usable; the HPC2N
    // fixture has 3,170 job lines (plus a blank last line), 25 without a run time.
    const KTH_JOBS: usize = 27_992;
    const KTH_SKIPPED: usize = 0;
    const HPC2N_SKIPPED: usize = 25;
}
