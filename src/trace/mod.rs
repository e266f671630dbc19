//! Workload traces: reading real ones, generating synthetic ones.
//!
//! Two kinds of trace drive the two guests of the migration experiment:
//!
//! * a **request-rate series** for the web-service guest: requests per
//!   fixed step (normally one minute), stored as a two-column CSV
//!   ([`series`]); the real example is the WorldCup98 per-minute count,
//!   the synthetic one comes from [`generate::generate_web`];
//! * a **batch job trace** for the cluster guest, in the Standard Workload
//!   Format of the Parallel Workloads Archive ([`swf`]); the real example is
//!   the KTH SP2 log, the synthetic one comes from
//!   [`generate::generate_batch`].
//!
//! A third kind, **VM-request traces** ([`vmreq`]: VMs of fixed size that
//! arrive and leave, as in the public Huawei Cloud VM placement dataset),
//! drives the placement-at-scale runs of [`crate::experiment::vmreq`].
//!
//! [`time`] converts between civil UTC date-times and unix seconds without
//! an external crate. Every reader reports errors as a [`TraceError`] naming
//! the file and (for content errors) the 1-based line; every writer writes
//! `<path>.tmp` in the same directory and renames it over `<path>`, so a
//! reader never sees a half-written file.

pub mod failures;
pub mod generate;
pub mod series;
pub mod swf;
pub mod time;
pub mod utilization;
pub mod vmreq;

pub use series::{Gap, Series, read_series_csv, read_series_csv_gaps, write_series_csv};
pub use swf::{Job, SwfTrace, parse_swf, read_swf, write_swf};
pub use vmreq::{VmRequest, VmRequestTrace, read_vm_requests, write_vm_requests};

use std::io::{BufRead, BufReader};
use std::path::Path;

/// Everything that can go wrong reading or writing a trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened, read, decompressed or written.
    #[error("{path}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the file is malformed; `message` says which field, what was
    /// expected and what was found.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file concerned.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// The file (or the value to be written) is well-formed line by line but
    /// unusable as a whole, e.g. a trace with no jobs or a window with no data.
    #[error("{path}: {message}")]
    Invalid {
        /// The file concerned.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Writes `contents` atomically ([`crate::fsutil::write_atomic`]); the
/// error names the file that failed.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), TraceError> {
    crate::fsutil::write_atomic(path, contents).map_err(|(p, source)| TraceError::Io {
        path: p.display().to_string(),
        source,
    })
}

/// What a file whose first bytes are `head` looks like when it is not text:
/// `"a gzip archive"`, `"a tar archive"`, ... or `None` for anything that
/// may be text. Errors say this instead of quoting the bytes.
pub fn sniff_binary(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 6] = [
        (&[0x1f, 0x8b], "a gzip archive"),
        (b"BZh", "a bzip2 archive"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "an xz archive"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "a zstd archive"),
        (b"PK\x03\x04", "a zip archive"),
        (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "a 7-zip archive"),
    ];
    if let Some((_, kind)) = KINDS.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(kind);
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Some("a tar archive");
    }
    if head.iter().take(4096).any(|&b| b == 0) {
        return Some("binary data (it contains NUL bytes)");
    }
    None
}

/// Opens a trace file for reading as text: a gzip file (by its magic bytes
/// or a `.gz` extension) is decompressed on the fly; any other archive or
/// binary file, or binary data inside the gzip file, is a
/// [`TraceError::Invalid`] saying what it looks like, "expected `what`".
pub(crate) fn open_text(path: &Path, what: &str) -> Result<Box<dyn BufRead>, TraceError> {
    let name = path.display().to_string();
    let io = |source| TraceError::Io {
        path: name.clone(),
        source,
    };
    let not_text = |kind: &str| TraceError::Invalid {
        path: name.clone(),
        message: format!("expected {what}, found {kind}"),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let kind = sniff_binary(reader.fill_buf().map_err(io)?);
    let gz_ext = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if let Some(k) = kind.filter(|k| !k.starts_with("a gzip")) {
        return Err(not_text(k));
    }
    if kind.is_none() && !gz_ext {
        return Ok(Box::new(reader));
    }
    let dec = flate2::bufread::MultiGzDecoder::new(reader);
    let mut inner = BufReader::with_capacity(1 << 16, dec);
    if let Some(k) = sniff_binary(inner.fill_buf().map_err(io)?) {
        return Err(not_text(&format!("{k} inside a gzip archive")));
    }
    Ok(Box::new(inner))
}

/// Parses a plain decimal number: optional sign, digits, optional fraction
/// (`-1`, `42`, `552.21`, `.5`). Rejects exponents, `inf`, `nan` and
/// anything else `f64::from_str` would otherwise accept.
pub(crate) fn parse_plain_number(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !digits(int) || !digits(frac) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        assert_eq!(parse_plain_number("42"), Some(42.0));
        assert_eq!(parse_plain_number("-1"), Some(-1.0));
        assert_eq!(parse_plain_number("552.21"), Some(552.21));
        assert_eq!(parse_plain_number(".5"), Some(0.5));
        assert_eq!(parse_plain_number("7."), Some(7.0));
        for bad in ["", "-", ".", "abc", "1e5", "inf", "NaN", "1.2.3", "--1", "1 2"] {
            assert_eq!(parse_plain_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_tmp() {
        let dir = std::env::temp_dir().join(format!("slivers-trace-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("a.txt")],
            "no temporary file left"
        );
        // A parent that is a file: the error names it.
        let err = write_atomic(&p.join("b.txt"), b"x").unwrap_err();
        assert!(matches!(err, TraceError::Io { .. }));
        assert!(err.to_string().contains("a.txt"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
