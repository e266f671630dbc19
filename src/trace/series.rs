//! Time series of request counts at a fixed step, read from and written to
//! a two-column CSV.
//!
//! File format: a header line with two column names (any names, e.g.
//! `timestamp,count` or `period,count`), then one row `time,count` per
//! point. `time` is a UTC date-time as accepted by
//! [`parse_datetime`] or a plain integer of
//! unix seconds; `count` is a non-negative plain decimal number. Rows are
//! strictly increasing in time. The step is the smallest gap between rows;
//! every gap must be a multiple of it, and the points inside a larger gap
//! are missing and read as 0 (the WorldCup98 file lacks 10 minutes).

use super::time::{format_datetime, parse_datetime};
use super::{TraceError, parse_plain_number, write_atomic};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

/// A dense series: point `i` covers `[start + i*step, start + (i+1)*step)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Seconds between points (e.g. 60); positive.
    pub step: i64,
    /// Unix seconds of the first point.
    pub start: i64,
    /// One value per point; points missing from the source are 0.0.
    pub values: Vec<f64>,
}

/// A run of points missing from a series file (read as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Unix seconds of the first missing point.
    pub from: i64,
    /// Number of missing points.
    pub steps: i64,
}

/// `ceil(a / b)` for `b > 0`, in i128 so no input overflows.
fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

impl Series {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Unix seconds just after the last point: `start + step * len`.
    pub fn end(&self) -> i64 {
        self.start
            .saturating_add(self.step.saturating_mul(self.values.len() as i64))
    }

    /// Unix seconds of point `i`.
    pub fn time_of(&self, i: usize) -> i64 {
        self.start.saturating_add(self.step.saturating_mul(i as i64))
    }

    /// The value of the point whose interval contains `t`; 0.0 outside the
    /// series.
    pub fn value_at(&self, t: i64) -> f64 {
        if self.step <= 0 || t < self.start {
            return 0.0;
        }
        let i = (t as i128 - self.start as i128) / self.step as i128;
        usize::try_from(i)
            .ok()
            .and_then(|i| self.values.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// Index range of the points with `from <= time < to`.
    fn index_range(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        if self.step <= 0 || to <= from {
            return 0..0;
        }
        let (s, n) = (self.step as i128, self.values.len() as i128);
        let lo = ceil_div(from as i128 - self.start as i128, s).clamp(0, n) as usize;
        let hi = ceil_div(to as i128 - self.start as i128, s).clamp(0, n) as usize;
        lo..hi.max(lo)
    }

    /// The points with `from <= time < to`, as a series starting at the
    /// first of them. Errors if there is none (no overlap, or `to <= from`).
    pub fn window(&self, from: i64, to: i64) -> Result<Series, String> {
        let r = self.index_range(from, to);
        if r.is_empty() {
            return Err(format!(
                "expected a window overlapping the series [{}, {}) (step {} s), found [{}, {})",
                format_datetime(self.start),
                format_datetime(self.end()),
                self.step,
                format_datetime(from),
                format_datetime(to)
            ));
        }
        Ok(Series {
            step: self.step,
            start: self.time_of(r.start),
            values: self.values[r].to_vec(),
        })
    }

    /// Maximum over the points with `from <= time < to`; 0.0 if none.
    pub fn max_in(&self, from: i64, to: i64) -> f64 {
        self.values[self.index_range(from, to)]
            .iter()
            .copied()
            .fold(0.0, f64::max)
    }

    /// Maximum value; 0.0 if empty.
    pub fn max(&self) -> f64 {
        self.values.iter().copied().fold(0.0, f64::max)
    }

    /// Mean value; 0.0 if empty.
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            0.0
        } else {
            self.sum() / self.values.len() as f64
        }
    }

    /// Sum of all values.
    pub fn sum(&self) -> f64 {
        self.values.iter().sum()
    }

    /// The same series in requests per minute, the unit of the web guest's
    /// `requests_per_unit`: a step of one minute is kept as it is; a
    /// step dividing the minute (1 s, 10 s, 30 s) is summed into calendar
    /// minutes (`floor(t / 60)`), so a per-second count and the per-minute
    /// count of the same requests give the same series; a step of whole
    /// minutes is spread evenly over its minutes (count × 60 / step); any
    /// other step (45 s, 90 s) keeps one point per step, at the per-minute
    /// rate count × 60 / step.
    pub fn per_minute(&self) -> Series {
        match self.step {
            60 => self.clone(),
            s if s > 60 && s % 60 == 0 => Series {
                step: 60,
                start: self.start,
                values: (self.values.iter())
                    .flat_map(|&v| std::iter::repeat_n(v * 60.0 / s as f64, (s / 60) as usize))
                    .collect(),
            },
            s if s > 0 && 60 % s == 0 => {
                let first = self.start.div_euclid(60);
                let last = self.time_of(self.len().saturating_sub(1)).div_euclid(60);
                let mut values = vec![0.0; (last - first + 1).max(0) as usize];
                for (i, &v) in self.values.iter().enumerate() {
                    values[(self.time_of(i).div_euclid(60) - first) as usize] += v;
                }
                Series {
                    step: 60,
                    start: first * 60,
                    values,
                }
            }
            // A step and the minute neither of which divides the other (45 s,
            // 90 s): summing points into minutes would give some minutes one
            // point more than others, so each point is kept at its own step,
            // at its per-minute rate.
            s if s > 0 => Series {
                step: s,
                start: self.start,
                values: self.values.iter().map(|&v| v * 60.0 / s as f64).collect(),
            },
            _ => self.clone(),
        }
    }

    /// Sums consecutive groups of points into a coarser series with step
    /// `step` (a positive multiple of `self.step`), aligned at `self.start`;
    /// a trailing partial group is summed as it is. E.g. per-minute counts
    /// to per-hour counts with `step = 3600`.
    pub fn resample_sum(&self, step: i64) -> Result<Series, String> {
        if self.step <= 0 || step <= 0 || step % self.step != 0 {
            return Err(format!(
                "expected a positive multiple of the step {} s, found {step} s",
                self.step
            ));
        }
        let k = (step / self.step) as usize;
        Ok(Series {
            step,
            start: self.start,
            values: self.values.chunks(k).map(|c| c.iter().sum()).collect(),
        })
    }
}

/// Parses a row's time: a plain integer (unix seconds) or a date-time.
fn parse_time(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map_err(|_| format!("expected unix seconds within the 64-bit range, found \"{s}\""));
    }
    parse_datetime(s).map_err(|e| format!("{e} or integer unix seconds"))
}

/// Parses series CSV `text`; `origin` names the source in errors.
pub fn parse_series_csv(text: &str, origin: &str) -> Result<Series, TraceError> {
    Ok(parse_series_csv_gaps(text, origin)?.0)
}

/// [`parse_series_csv`], with the runs of points missing from the file.
pub fn parse_series_csv_gaps(text: &str, origin: &str) -> Result<(Series, Vec<Gap>), TraceError> {
    let perr = |line: usize, message: String| TraceError::Parse {
        path: origin.to_string(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let header = lines.by_ref().find(|(_, l)| !l.is_empty());
    let Some((hline, header)) = header else {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: "expected a header line and rows, found an empty file".to_string(),
        });
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.len() != 2 || cols.iter().any(|c| c.is_empty()) {
        return Err(perr(
            hline,
            format!("expected a header with two column names like \"timestamp,count\", found \"{header}\""),
        ));
    }
    if parse_time(cols[0]).is_ok() {
        return Err(perr(
            hline,
            format!(
                "expected a header with two column names like \"timestamp,count\", found a data row \"{header}\""
            ),
        ));
    }
    let mut rows: Vec<(i64, f64, usize)> = Vec::with_capacity(text.len() / 24);
    for (line, l) in lines {
        if l.is_empty() {
            continue;
        }
        let Some((ts, cs)) = l.split_once(',') else {
            return Err(perr(
                line,
                format!("expected two comma-separated fields \"time,count\", found \"{l}\""),
            ));
        };
        let (ts, cs) = (ts.trim(), cs.trim());
        if cs.contains(',') {
            return Err(perr(
                line,
                format!("expected two comma-separated fields \"time,count\", found \"{l}\""),
            ));
        }
        let t = parse_time(ts).map_err(|e| perr(line, format!("field 1 (time): {e}")))?;
        let v = parse_plain_number(cs).ok_or_else(|| {
            perr(
                line,
                format!("field 2 (count): expected a number, found \"{cs}\""),
            )
        })?;
        if v < 0.0 {
            return Err(perr(
                line,
                format!("field 2 (count): expected a non-negative count, found \"{cs}\""),
            ));
        }
        if let Some(&(prev, _, _)) = rows.last()
            && t <= prev
        {
            return Err(perr(
                line,
                format!(
                    "field 1 (time): expected a time after the previous row's {}, found {}",
                    format_datetime(prev),
                    format_datetime(t)
                ),
            ));
        }
        rows.push((t, v, line));
    }
    if rows.len() < 2 {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: format!(
                "expected at least two rows to infer the step, found {}",
                rows.len()
            ),
        });
    }
    let step = rows
        .windows(2)
        .map(|w| w[1].0.saturating_sub(w[0].0))
        .min()
        .unwrap_or(1)
        .max(1);
    let start = rows[0].0;
    let span = (rows[rows.len() - 1].0 as i128 - start as i128) / step as i128 + 1;
    if span > (rows.len() as i128).saturating_mul(1000).max(10_000_000) {
        return Err(TraceError::Invalid {
            path: origin.to_string(),
            message: format!(
                "expected a mostly dense series, found {} rows spanning {span} steps of {step} s",
                rows.len()
            ),
        });
    }
    let mut values = vec![0.0; span as usize];
    let mut gaps = Vec::new();
    for w in rows.windows(2) {
        let gap = w[1].0 - w[0].0;
        if gap > step && gap % step == 0 {
            gaps.push(Gap {
                from: w[0].0 + step,
                steps: gap / step - 1,
            });
        }
        if gap % step != 0 {
            return Err(perr(
                w[1].2,
                format!(
                    "field 1 (time): expected a multiple of the step {step} s (the smallest gap) after the previous row's {}, found a gap of {gap} s",
                    format_datetime(w[0].0)
                ),
            ));
        }
    }
    for &(t, v, _) in &rows {
        values[((t as i128 - start as i128) / step as i128) as usize] = v;
    }
    Ok((Series { step, start, values }, gaps))
}

/// Reads a series CSV file (see the module documentation for the format).
pub fn read_series_csv(path: &Path) -> Result<Series, TraceError> {
    Ok(read_series_csv_gaps(path)?.0)
}

/// [`read_series_csv`], with the runs of points missing from the file. A
/// gzip-compressed file is read too; any other archive or binary file is
/// an error saying what it looks like.
pub fn read_series_csv_gaps(path: &Path) -> Result<(Series, Vec<Gap>), TraceError> {
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    super::open_text(
        path,
        "a CSV series \"time,count\" (text, or gzip-compressed text)",
    )?
    .read_to_end(&mut bytes)
    .map_err(|source| TraceError::Io {
        path: name.clone(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        TraceError::Parse {
            path: name.clone(),
            line,
            message: "expected UTF-8 text, found an invalid byte".to_string(),
        }
    })?;
    parse_series_csv_gaps(text, &name)
}

/// Formats a count: as an integer when it is one, else in the shortest
/// form that reads back to the same `f64`.
fn format_count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Renders `series` as CSV: header `timestamp,count`, then one row per
/// point (zeros included) with the time as `YYYY-MM-DD HH:MM:SS` and the
/// count as an integer when integral. Errors (as a message) if the step is
/// not positive or a value is negative or not finite.
pub fn render_series_csv(series: &Series) -> Result<String, String> {
    if series.step <= 0 {
        return Err(format!("expected a positive step, found {} s", series.step));
    }
    let mut out = String::with_capacity(16 + 27 * series.values.len());
    out.push_str("timestamp,count\n");
    for (i, &v) in series.values.iter().enumerate() {
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!(
                "expected finite non-negative counts, found {v} at {}",
                format_datetime(series.time_of(i))
            ));
        }
        let _ = writeln!(out, "{},{}", format_datetime(series.time_of(i)), format_count(v));
    }
    Ok(out)
}

/// Writes `series` to `path` atomically (via `<path>.tmp`) in the layout of
/// [`render_series_csv`].
pub fn write_series_csv(series: &Series, path: &Path) -> Result<(), TraceError> {
    let text = render_series_csv(series).map_err(|message| TraceError::Invalid {
        path: path.display().to_string(),
        message,
    })?;
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WC98: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/traces/worldcup98/wc98_requests_per_minute.csv"
    );

    fn parse(s: &str) -> Result<Series, TraceError> {
        parse_series_csv(s, "s.csv")
    }

    /// A series of `step` seconds from 0 with `values`.
    fn at(step: i64, values: Vec<f64>) -> Series {
        Series {
            step,
            start: 0,
            values,
        }
    }

    #[test]
    fn per_minute_sums_steps_dividing_the_minute_and_spreads_whole_minutes() {
        // 60 requests a minute, as 1 a second, 30 per 30 s, 300 per 5 min.
        let want = at(60, vec![60.0; 10]);
        assert_eq!(at(1, vec![1.0; 600]).per_minute(), want);
        assert_eq!(at(30, vec![30.0; 20]).per_minute(), want);
        assert_eq!(at(300, vec![300.0; 2]).per_minute(), want);
        assert_eq!(want.per_minute(), want);
        // A minute's requests all in its first second: the minute's count.
        let mut burst = vec![0.0; 120];
        burst[60] = 90.0;
        assert_eq!(at(1, burst).per_minute(), at(60, vec![0.0, 90.0]));
    }

    #[test]
    fn per_minute_keeps_steps_not_dividing_the_minute_at_their_rate() {
        // 45 requests every 45 s is 60 a minute throughout: summing the
        // points into calendar minutes would make every third minute 90.
        assert_eq!(at(45, vec![45.0; 8]).per_minute(), at(45, vec![60.0; 8]));
        assert_eq!(at(90, vec![90.0; 4]).per_minute(), at(90, vec![60.0; 4]));
    }

    fn perr(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn parses_mixed_times_and_fills_gaps() {
        let s =
            parse("period,count\n1998-05-01 00:00:00,5\n1998-05-01T00:01:00Z,7.5\n\n893980980,2\n").unwrap();
        assert_eq!(s.step, 60);
        assert_eq!(s.start, 893_980_800);
        assert_eq!(s.values, vec![5.0, 7.5, 0.0, 2.0]);
        assert_eq!(s.end(), 893_980_800 + 240);
        assert_eq!(s.value_at(893_980_800 + 61), 7.5);
        assert_eq!(s.value_at(893_980_800 - 1), 0.0);
        assert_eq!(s.value_at(s.end()), 0.0);
    }

    #[test]
    fn errors_name_line_expected_found() {
        assert_eq!(
            perr("t,c\n0,1\n60,x\n"),
            "s.csv:3: field 2 (count): expected a number, found \"x\""
        );
        assert_eq!(
            perr("t,c\n0,1\n60,-2\n"),
            "s.csv:3: field 2 (count): expected a non-negative count, found \"-2\""
        );
        assert_eq!(
            perr("t,c\n120,1\n60,2\n"),
            "s.csv:3: field 1 (time): expected a time after the previous row's 1970-01-01 00:02:00, found 1970-01-01 00:01:00"
        );
        assert_eq!(
            perr("t,c\n0,1\n60,1\n150,1\n"),
            "s.csv:4: field 1 (time): expected a multiple of the step 60 s (the smallest gap) after the previous row's 1970-01-01 00:01:00, found a gap of 90 s"
        );
        assert!(
            perr("t,c\n1998-02-30,1\n").starts_with("s.csv:2: field 1 (time): expected a day in 01..=28")
        );
        assert_eq!(
            perr("t,c\n0,1,2\n"),
            "s.csv:2: expected two comma-separated fields \"time,count\", found \"0,1,2\""
        );
        assert_eq!(
            perr("timestamp\n0,1\n"),
            "s.csv:1: expected a header with two column names like \"timestamp,count\", found \"timestamp\""
        );
        assert_eq!(
            perr("0,1\n60,1\n120,1\n"),
            "s.csv:1: expected a header with two column names like \"timestamp,count\", found a data row \"0,1\""
        );
        assert_eq!(
            perr(""),
            "s.csv: expected a header line and rows, found an empty file"
        );
        assert_eq!(
            perr("t,c\n0,1\n"),
            "s.csv: expected at least two rows to infer the step, found 1"
        );
    }

    #[test]
    fn window_max_mean() {
        let s = Series {
            step: 60,
            start: 600,
            values: vec![1.0, 4.0, 2.0, 8.0, 3.0],
        }; // 600..900
        assert_eq!(s.end(), 900);
        let w = s.window(650, 780).unwrap(); // points at 660, 720
        assert_eq!(
            w,
            Series {
                step: 60,
                start: 660,
                values: vec![4.0, 2.0]
            }
        );
        assert_eq!(s.window(0, 10_000).unwrap(), s);
        assert!(s.window(900, 1000).is_err());
        assert!(s.window(0, 600).is_err());
        assert!(s.window(700, 700).is_err());
        let e = s.window(901, 960).unwrap_err();
        assert_eq!(
            e,
            "expected a window overlapping the series [1970-01-01 00:10:00, 1970-01-01 00:15:00) (step 60 s), found [1970-01-01 00:15:01, 1970-01-01 00:16:00)"
        );
        assert_eq!(s.max_in(600, 780), 4.0);
        assert_eq!(s.max_in(780, 781), 8.0);
        assert_eq!(s.max_in(781, 840), 0.0);
        assert_eq!(s.max_in(2000, 3000), 0.0);
        assert_eq!(s.max(), 8.0);
        assert_eq!(s.mean(), 18.0 / 5.0);
        assert_eq!(Series::default().mean(), 0.0);
        assert_eq!(Series::default().max(), 0.0);
        let h = s.resample_sum(120).unwrap();
        assert_eq!(h.values, vec![5.0, 10.0, 3.0]);
        assert!(s.resample_sum(90).is_err());
    }

    #[test]
    fn write_read_round_trip() {
        let s = Series {
            step: 60,
            start: 1_767_571_200,
            values: vec![3.0, 0.0, 2.5, 1e6],
        };
        let text = render_series_csv(&s).unwrap();
        assert_eq!(
            text,
            "timestamp,count\n2026-01-05 00:00:00,3\n2026-01-05 00:01:00,0\n2026-01-05 00:02:00,2.5\n2026-01-05 00:03:00,1000000\n"
        );
        let dir = std::env::temp_dir().join(format!("slivers-series-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.csv");
        write_series_csv(&s, &p).unwrap();
        assert_eq!(read_series_csv(&p).unwrap(), s);
        let bad = Series {
            values: vec![1.0, -1.0],
            ..s.clone()
        };
        let e = write_series_csv(&bad, &p).unwrap_err().to_string();
        assert!(
            e.ends_with("expected finite non-negative counts, found -1 at 2026-01-05 00:01:00"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_worldcup98() {
        let s = read_series_csv(Path::new(WC98)).unwrap();
        assert_eq!(s.step, 60);
        assert_eq!(s.start, parse_datetime("1998-04-30 21:30:00").unwrap());
        // 1998-04-30 21:30 .. 1998-07-26 21:59: 87 days + 30 minutes.
        assert_eq!(s.len(), 87 * 1440 + 30);
        // No row has a count of 0, so the zeros are exactly the 10 absent minutes.
        assert_eq!(s.values.iter().filter(|&&v| v == 0.0).count(), 10);
        assert_eq!(s.sum(), 1_352_804_107.0);
        // Busiest minute: 1998-07-07 21:41 (measured with sort).
        assert_eq!(s.max(), 229_426.0);
        assert_eq!(
            s.value_at(parse_datetime("1998-07-07 21:41:00").unwrap()),
            229_426.0
        );
    }
}
