//! CSV: a tiny deterministic writer (RFC 4180 quoting, `\n` line
//! endings) and the one RFC 4180 reader (the sweep figures read their
//! `runs.csv` and `migrations.csv` back with it).

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
/// A small ratio with six significant digits: [`fmt_f64`] above 0.1, else
/// scientific (`1.52634e-5`), so that values far below 10^-6 keep their
/// digits (SLAV, ESV).
pub fn fmt_ratio(x: f64) -> String {
    if x.is_finite() && x != 0.0 && x.abs() < 0.1 {
        fmt_sci(x)
    } else {
        fmt_f64(x)
    }
}

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

/// A parsed CSV file: its header and its records, each with the 1-based
/// line it starts on.
pub(crate) struct CsvFile {
    pub(crate) path: String,
    pub(crate) header: Vec<String>,
    pub(crate) records: Vec<(usize, Vec<String>)>,
    /// The line after the last one (for errors about what is missing).
    pub(crate) end_line: usize,
}

pub(crate) fn input_error(path: &str, line: usize, message: impl Into<String>) -> ReportError {
    ReportError::Input {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

/// Parses RFC 4180 text: fields may be quoted (`""` is a quote inside a
/// quoted field, which may span lines), records end with `\n` or `\r\n`,
/// completely empty lines are ignored and a UTF-8 byte-order mark is
/// skipped; every record has as many fields as the header. Errors are
/// [`ReportError::Input`], naming the line on which the record starts.
pub(crate) fn parse_csv(path: &str, text: &str) -> Result<CsvFile, ReportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    loop {
        if chars.peek().is_none() {
            break;
        }
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_field = false;
        // One record.
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    let opened = line;
                    loop {
                        match chars.next() {
                            None => return Err(input_error(path, opened, "unterminated quoted field")),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',' | '\n' | '\r') => {}
                        Some(c) => {
                            return Err(input_error(
                                path,
                                line,
                                format!(
                                    "expected a comma or the end of the line after a closing quote, found {c:?}"
                                ),
                            ));
                        }
                    }
                }
                Some('"') => {
                    return Err(input_error(path, line, "a quote inside an unquoted field"));
                }
                Some(',') => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\r') => {
                    return Err(input_error(
                        path,
                        line,
                        "a carriage return not followed by a line feed",
                    ));
                }
                Some('\n') => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        let blank = fields.len() == 1 && fields[0].is_empty() && !quoted_field;
        if !blank {
            records.push((start, fields));
        }
    }
    let mut records = records.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(input_error(
            path,
            1,
            "expected a header line, found an empty file",
        ));
    };
    let records: Vec<(usize, Vec<String>)> = records.collect();
    for (l, fields) in &records {
        if fields.len() != header.len() {
            return Err(input_error(
                path,
                *l,
                format!(
                    "expected {} fields (as in the header), found {}",
                    header.len(),
                    fields.len()
                ),
            ));
        }
    }
    Ok(CsvFile {
        path: path.to_owned(),
        header,
        records,
        end_line: line,
    })
}

/// Reads and parses a CSV file.
pub(crate) fn read_csv(path: &Path) -> Result<CsvFile, ReportError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ReportError::Read {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count();
        input_error(
            &shown,
            line,
            "expected UTF-8 text, found an invalid byte sequence",
        )
    })?;
    parse_csv(&shown, &text)
}

impl CsvFile {
    /// The file `path` would be once `table` is written to it, without
    /// reading it back: the same fields and line numbers.
    pub(crate) fn of_table(path: &Path, table: Table) -> CsvFile {
        let n = table.rows.len();
        CsvFile {
            path: path.display().to_string(),
            header: table.header,
            records: table
                .rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r))
                .collect(),
            end_line: n + 2,
        }
    }

    /// Index of column `name`.
    pub(crate) fn column(&self, name: &str) -> Result<usize, ReportError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| input_error(&self.path, 1, format!("expected a column {name:?}")))
    }

    /// Header must not have empty or duplicate names.
    pub(crate) fn check_header(&self) -> Result<(), ReportError> {
        for (i, h) in self.header.iter().enumerate() {
            if h.is_empty() {
                return Err(input_error(
                    &self.path,
                    1,
                    format!("column {} has an empty name", i + 1),
                ));
            }
            if self.header[..i].contains(h) {
                return Err(input_error(&self.path, 1, format!("duplicate column {h:?}")));
            }
        }
        Ok(())
    }

    pub(crate) fn bad(&self, line: usize, column: &str, expected: &str, found: &str) -> ReportError {
        input_error(
            &self.path,
            line,
            format!("column {column:?}: expected {expected}, found {found:?}"),
        )
    }

    pub(crate) fn integer(&self, line: usize, column: &str, s: &str) -> Result<u64, ReportError> {
        s.parse::<u64>()
            .map_err(|_| self.bad(line, column, "a non-negative integer", s))
    }

    pub(crate) fn count(&self, line: usize, column: &str, s: &str) -> Result<f64, ReportError> {
        let v = parse_number(s).ok_or_else(|| self.bad(line, column, "a number", s))?;
        if v < 0.0 {
            return Err(self.bad(line, column, "a non-negative number", s));
        }
        Ok(v)
    }
}

/// A finite number, or `None`.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
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

    #[test]
    fn csv_parser_handles_quotes_and_line_endings() {
        let text = "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\",\"two\nlines\"\n\n\"\",,3";
        let f = parse_csv("t.csv", text).unwrap();
        assert_eq!(f.header, ["a", "b", "c"]);
        assert_eq!(f.records.len(), 2);
        assert_eq!(
            f.records[0],
            (2, vec!["1".into(), "x, \"y\"".into(), "two\nlines".into()])
        );
        assert_eq!(f.records[1], (5, vec!["".into(), "".into(), "3".into()]));
        for (text, want) in [
            ("", "t.csv:1: expected a header line, found an empty file"),
            ("a,b\n1,\"open\n\n", "t.csv:2: unterminated quoted field"),
            ("a,b\n1,x\"y\n", "t.csv:2: a quote inside an unquoted field"),
            (
                "a,b\n1,\"x\"y\n",
                "t.csv:2: expected a comma or the end of the line after a closing quote, found 'y'",
            ),
            (
                "a,b\n1,2\r3\n",
                "t.csv:2: a carriage return not followed by a line feed",
            ),
            (
                "a,b\n1,2\n1,2,3\n",
                "t.csv:3: expected 2 fields (as in the header), found 3",
            ),
        ] {
            let err = parse_csv("t.csv", text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            assert!(matches!(err, ReportError::Input { .. }));
            assert_eq!(err.to_string(), want, "{text:?}");
        }
    }
}
