//! The validation context: the scenario file's name for errors, and the
//! checks of single values every part of validation uses (ranges,
//! durations, date-times), each naming the key it checks.

use std::path::Path;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::ScenarioError;
use super::raw::{self, RawDuration};
use crate::engine::SimTime;
use crate::model::MigrationParams;

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;

/// What a `start` date-time may be, for errors.
pub(super) const START_FORMS: &str = "a UTC date-time such as \"1998-05-01\" or \"1998-05-01 00:00:00\" (quoted or not; 'T' between and a trailing 'Z' allowed)";

/// Parses `"500ms"`, `"90s"`, `"15m"`, `"1h"`, `"30d"` or integer seconds.
pub fn parse_duration(d: &RawDuration) -> Result<SimTime, String> {
    match d {
        RawDuration::Secs(s) if (0..=1_000_000_000_000).contains(s) => Ok(SimTime::from_secs(*s as u64)),
        RawDuration::Secs(s) => Err(format!("{s}")),
        RawDuration::Other(v) => Err(raw::describe_value(v)),
        RawDuration::Text(t) => {
            let t = t.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: f64 = num.parse().map_err(|_| format!("\"{t}\""))?;
            let ms_per = match unit.trim() {
                "ms" => 1.0,
                "s" | "" => 1e3,
                "m" | "min" => 6e4,
                "h" => 3.6e6,
                "d" => 8.64e7,
                _ => return Err(format!("\"{t}\"")),
            };
            let ms = n * ms_per;
            if !ms.is_finite() || !(0.0..=1e15).contains(&ms) {
                return Err(format!("\"{t}\""));
            }
            Ok(SimTime(ms.round() as u64))
        }
    }
}

/// The file being validated, as errors name it.
pub(super) struct Ctx<'a> {
    pub(super) path: &'a str,
}

impl Ctx<'_> {
    /// The file's text read as `T`: a syntax error or an unknown key is a
    /// [`ScenarioError::Parse`] with the parser's line and column.
    pub(super) fn parse_toml<T: DeserializeOwned>(&self, text: &str) -> Result<T, ScenarioError> {
        toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: self.path.to_string(),
            message: crate::text::elide_long_lines(e.to_string().trim_end(), crate::text::MAX_LINE)
                .into_owned(),
        })
    }

    pub(super) fn invalid(
        &self,
        key: impl Into<String>,
        expected: impl Into<String>,
        found: impl ToString,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_string(),
            key: key.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    /// An integer from 1 to `max` (`default` when absent).
    pub(super) fn positive(
        &self,
        key: &str,
        v: Option<i64>,
        default: i64,
        max: i64,
    ) -> Result<u64, ScenarioError> {
        self.integer(key, v.unwrap_or(default), 1, max)
    }

    /// An integer from 0 to `max` (`default` when absent).
    pub(super) fn count(
        &self,
        key: &str,
        v: Option<i64>,
        default: i64,
        max: i64,
    ) -> Result<u64, ScenarioError> {
        self.integer(key, v.unwrap_or(default), 0, max)
    }

    fn integer(&self, key: &str, v: i64, min: i64, max: i64) -> Result<u64, ScenarioError> {
        if v < min || v > max {
            return Err(self.invalid(key, format!("an integer from {min} to {max}"), v));
        }
        Ok(v as u64)
    }

    pub(super) fn fraction(
        &self,
        key: &str,
        v: Option<f64>,
        default: f64,
        lo: f64,
        hi: f64,
    ) -> Result<f64, ScenarioError> {
        let v = v.unwrap_or(default);
        if !(v.is_finite() && v >= lo && v <= hi) {
            return Err(self.invalid(key, format!("a number from {lo} to {hi}"), v));
        }
        Ok(v)
    }

    pub(super) fn duration(
        &self,
        key: &str,
        v: Option<&RawDuration>,
        default: SimTime,
    ) -> Result<SimTime, ScenarioError> {
        match v {
            None => Ok(default),
            Some(d) => parse_duration(d).map_err(|found| {
                self.invalid(
                    key,
                    "a duration of at most 10^12 s, such as 90, \"90s\", \"15m\", \"1h\" or \"30d\"",
                    found,
                )
            }),
        }
    }

    /// `[migration]`: the migration model's parameters, each checked and
    /// defaulted (the same keys in every kind of scenario that migrates).
    pub(super) fn migration(
        &self,
        raw: Option<&raw::RawMigration>,
    ) -> Result<MigrationParams, ScenarioError> {
        self.migration_at("migration", raw, MigrationParams::default())
    }

    /// [`Self::migration`] for the table at `table` (`site[2].migration`,
    /// say), its defaults `d`.
    pub(super) fn migration_at(
        &self,
        table: &str,
        raw: Option<&raw::RawMigration>,
        d: MigrationParams,
    ) -> Result<MigrationParams, ScenarioError> {
        let cx = self;
        let key = |k: &str| format!("{table}.{k}");
        let m = raw.cloned().unwrap_or_default();
        let big = 1 << 40;
        Ok(MigrationParams {
            bandwidth_mbps: cx.positive(
                &key("bandwidth_mbps"),
                m.bandwidth_mbps,
                d.bandwidth_mbps as i64,
                big,
            )?,
            mode: m.mode.unwrap_or(d.mode),
            max_downtime: cx.duration(&key("max_downtime"), m.max_downtime.as_ref(), d.max_downtime)?,
            max_rounds: cx.positive(&key("max_rounds"), m.max_rounds, d.max_rounds as i64, 10_000)? as u32,
            max_sent_factor: cx.fraction(
                &key("max_sent_factor"),
                m.max_sent_factor,
                d.max_sent_factor,
                1.0,
                1000.0,
            )?,
            on_non_convergence: m.on_non_convergence.unwrap_or(d.on_non_convergence),
            switchover: cx.duration(&key("switchover"), m.switchover.as_ref(), d.switchover)?,
            postcopy_working_set_mib: cx.count(
                &key("postcopy_working_set_mib"),
                m.postcopy_working_set_mib,
                d.postcopy_working_set_mib as i64,
                big,
            )?,
            postcopy_slowdown: cx.fraction(
                &key("postcopy_slowdown"),
                m.postcopy_slowdown,
                d.postcopy_slowdown,
                0.0,
                1.0,
            )?,
            suspend: cx.duration(&key("suspend"), m.suspend.as_ref(), d.suspend)?,
            resume: cx.duration(&key("resume"), m.resume.as_ref(), d.resume)?,
            op_latency: cx.duration(&key("op_latency"), m.op_latency.as_ref(), d.op_latency)?,
        })
    }

    /// A `start` date-time as unix seconds (`fallback` when absent).
    pub(super) fn start(
        &self,
        key: &str,
        start: &Option<toml::Value>,
        fallback: i64,
    ) -> Result<i64, ScenarioError> {
        let Some(v) = start else {
            return Ok(fallback);
        };
        raw::start_datetime(v)
            .unwrap_or_else(|| Err(raw::describe_value(v)))
            .map_err(|found| self.invalid(key, START_FORMS, found))
    }
}

/// Reads a scenario (or sweep) file as text. A file that is not UTF-8 text
/// (an archive or a trace given by mistake) is a [`ScenarioError::Parse`]
/// saying what it looks like ("a gzip archive", "a tar archive", ...), never
/// quoting its bytes.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Io {
        path: shown.clone(),
        source,
    })?;
    let not_text = |found: String| ScenarioError::Parse {
        path: shown.clone(),
        message: format!("expected a TOML scenario (UTF-8 text), found {found}"),
    };
    if let Some(kind) = crate::trace::sniff_binary(&bytes) {
        return Err(not_text(kind.to_string()));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        not_text(format!("a byte that is not UTF-8 on line {line}"))
    })
}

/// The SHA-256 of `text`, in lowercase hexadecimal (as manifests name files).
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
