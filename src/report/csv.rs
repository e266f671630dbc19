//! A tiny deterministic CSV writer (RFC 4180 quoting, `\n` line endings).

use std::fmt;
use std::path::Path;

use super::{ReportError, write_atomic};

/// An in-memory CSV table with a fixed header; fields are quoted per
/// RFC 4180 only when needed (comma, quote, CR or LF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with the given column names and no rows.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| (*s).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row. Fails (and leaves the table unchanged) if the row
    /// does not have exactly as many fields as the header.
    pub fn push(&mut self, row: Vec<String>) -> Result<(), ReportError> {
        if row.len() != self.header.len() {
            return Err(ReportError::RowLength {
                row: self.rows.len(),
                got: row.len(),
                expected: self.header.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// Column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Data rows (without the header).
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if there are no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the table (see [`fmt::Display`]) atomically to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        write_atomic(path, self.to_string().as_bytes())
    }
}

/// Renders the CSV text: header line, then one line per row, each ended by
/// `\n` (so the text has a trailing newline). `table.to_string()` gives it
/// as a `String`.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_record(f, &self.header)?;
        for row in &self.rows {
            write_record(f, row)?;
        }
        Ok(())
    }
}

fn write_record(f: &mut fmt::Formatter<'_>, fields: &[String]) -> fmt::Result {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write_field(f, field)?;
    }
    f.write_str("\n")
}

fn write_field(f: &mut fmt::Formatter<'_>, field: &str) -> fmt::Result {
    if field.contains([',', '"', '\n', '\r']) {
        f.write_str("\"")?;
        f.write_str(&field.replace('"', "\"\""))?;
        f.write_str("\"")
    } else {
        f.write_str(field)
    }
}

/// Formats a float deterministically for CSV.
///
/// * integers (|x| < 1e15) without a decimal point: `12`, `-3`, `0`
///   (negative zero is written as `0`);
/// * other values with |x| in [1e-6, 1e15): fixed point, rounded to 6
///   decimals, trailing zeros trimmed: `0.5`, `12.345678`, `0.333333`;
/// * nonzero |x| < 1e-6 or |x| >= 1e15: scientific notation with up to 6
///   significant digits (`1e-7`, `1.5e15`, `-2.34568e-9`);
/// * `NaN`, `inf`, `-inf`.
pub fn fmt_f64(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let a = x.abs();
    if !(1e-6..1e15).contains(&a) {
        return fmt_sci(x);
    }
    if x.fract() == 0.0 {
        // |x| < 1e15 < 2^63: the conversion is exact.
        return (x as i64).to_string();
    }
    let s = format!("{x:.6}");
    let s = trim_fraction(&s);
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

/// Scientific notation with at most 6 significant digits, mantissa trimmed.
fn fmt_sci(x: f64) -> String {
    let s = format!("{x:.5e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{}", trim_fraction(mantissa), exp),
        None => s,
    }
}

/// Drops trailing zeros after a decimal point, and the point itself if
/// nothing remains after it.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_util::TempDir;

    fn row(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn plain_table() {
        let mut t = Table::new(&["time", "count"]);
        assert!(t.is_empty());
        t.push(row(&["0", "1"])).unwrap();
        t.push(row(&["0.5", "2"])).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.to_string(), "time,count\n0,1\n0.5,2\n");
    }

    #[test]
    fn header_only_has_trailing_newline() {
        assert_eq!(Table::new(&["a", "b"]).to_string(), "a,b\n");
    }

    #[test]
    fn quoting_only_when_needed() {
        let mut t = Table::new(&["name", "note, with comma"]);
        t.push(row(&["plain", "a,b"])).unwrap();
        t.push(row(&["say \"hi\"", "line1\nline2"])).unwrap();
        t.push(row(&["cr\r", " spaced "])).unwrap();
        t.push(row(&["", "\""])).unwrap();
        assert_eq!(
            t.to_string(),
            "name,\"note, with comma\"\n\
             plain,\"a,b\"\n\
             \"say \"\"hi\"\"\",\"line1\nline2\"\n\
             \"cr\r\", spaced \n\
             ,\"\"\"\"\n"
        );
    }

    #[test]
    fn row_length_mismatch_is_error() {
        let mut t = Table::new(&["a", "b"]);
        t.push(row(&["1", "2"])).unwrap();
        let err = t.push(row(&["1"])).unwrap_err();
        assert!(matches!(
            err,
            ReportError::RowLength {
                row: 1,
                got: 1,
                expected: 2
            }
        ));
        assert_eq!(err.to_string(), "CSV row 1 has 1 fields but the header has 2");
        assert!(t.push(row(&["1", "2", "3"])).is_err());
        // Failed pushes leave the table unchanged.
        assert_eq!(t.to_string(), "a,b\n1,2\n");
    }

    #[test]
    fn write_is_atomic_and_replaces() {
        let tmp = TempDir::new("csv");
        let path = tmp.path().join("sub/out.csv");
        let mut t = Table::new(&["x"]);
        t.push(row(&["1"])).unwrap();
        t.push(row(&["2"])).unwrap();
        t.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n1\n2\n");
        let t2 = Table::new(&["y"]);
        t2.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "y\n");
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.csv")]);
    }

    #[test]
    fn fmt_f64_cases() {
        assert_eq!(fmt_f64(0.0), "0");
        assert_eq!(fmt_f64(-0.0), "0");
        assert_eq!(fmt_f64(1.0), "1");
        assert_eq!(fmt_f64(12.0), "12");
        assert_eq!(fmt_f64(-3.0), "-3");
        assert_eq!(fmt_f64(0.5), "0.5");
        assert_eq!(fmt_f64(1.0 / 3.0), "0.333333");
        assert_eq!(fmt_f64(2.0 / 3.0), "0.666667");
        assert_eq!(fmt_f64(12.345678), "12.345678");
        assert_eq!(fmt_f64(12.3456784), "12.345678");
        assert_eq!(fmt_f64(0.1 + 0.2), "0.3");
        assert_eq!(fmt_f64(0.9999999), "1");
        assert_eq!(fmt_f64(1234567.0), "1234567");
        assert_eq!(fmt_f64(-2.5), "-2.5");
        assert_eq!(fmt_f64(1e-6), "0.000001");
        assert_eq!(fmt_f64(1e-7), "1e-7");
        assert_eq!(fmt_f64(-2.3456789e-9), "-2.34568e-9");
        assert_eq!(fmt_f64(1e14), "100000000000000");
        assert_eq!(fmt_f64(123456789012.5), "123456789012.5");
        assert_eq!(fmt_f64(1e15), "1e15");
        assert_eq!(fmt_f64(1.5e20), "1.5e20");
        assert_eq!(fmt_f64(f64::NAN), "NaN");
        assert_eq!(fmt_f64(f64::INFINITY), "inf");
        assert_eq!(fmt_f64(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn fmt_f64_never_scientific_in_plain_range() {
        let mut x: f64 = 1e-6;
        while x < 1e15 {
            for v in [x, -x, x * 1.2345678, x * 9.87654321] {
                if v.abs() < 1e15 {
                    let s = fmt_f64(v);
                    assert!(!s.contains('e'), "{v} -> {s}");
                    let back: f64 = s.parse().unwrap();
                    assert!((back - v).abs() <= 5e-7 + 1e-9 * v.abs(), "{v} -> {s}");
                }
            }
            x *= 10.0;
        }
    }
}
