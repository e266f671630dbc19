//! The keys every kind of scenario shares: name, seed, output, duration,
//! period and hosts, read from the file as [`RawHeader`] and validated into
//! a [`Header`] (the same defaults, ranges and errors for a guest scenario
//! and a VM-request scenario).

use std::path::{Path, PathBuf};

use slivers_policy::Resources;

use super::ScenarioError;
use super::context::{Ctx, DAY, sha256_hex};
use super::raw::{RawDuration, RawHosts};
use crate::engine::SimTime;

/// The validated keys every scenario has.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Its name (default: the file stem).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The base seed.
    pub seed: u64,
    /// The output folder.
    pub output: PathBuf,
    /// Simulated time span.
    pub duration: SimTime,
    /// The allocation period (lease term of renewable leases) of a guest
    /// scenario; the sampling interval of `utilization.csv` of a VM-request
    /// scenario.
    pub period: SimTime,
    /// Number of hosts.
    pub hosts: u32,
    /// Capacity of each host.
    pub capacity: Resources,
}

/// The header's keys as written (borrowed from either kind of raw file).
pub(super) struct RawHeader<'a> {
    pub(super) name: Option<&'a str>,
    pub(super) seed: Option<i64>,
    pub(super) output: Option<&'a str>,
    pub(super) duration: Option<&'a RawDuration>,
    pub(super) period: Option<&'a RawDuration>,
    pub(super) hosts: Option<&'a RawHosts>,
}

/// The [`RawHeader`] of a raw file struct whose fields include the
/// header's keys (`name`, `seed`, `output`, `duration`, `period`, `hosts`).
macro_rules! raw_header {
    ($raw:expr) => {
        $crate::scenario::header::RawHeader {
            name: $raw.name.as_deref(),
            seed: $raw.seed,
            output: $raw.output.as_deref(),
            duration: $raw.duration.as_ref(),
            period: $raw.period.as_ref(),
            hosts: $raw.hosts.as_ref(),
        }
    };
}
pub(super) use raw_header;

/// Reads a scenario type's [`Header`] (its field `header`) as its own
/// fields: `scenario.seed`, `scenario.duration = ...`.
macro_rules! deref_header {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = $crate::scenario::Header;

            fn deref(&self) -> &$crate::scenario::Header {
                &self.header
            }
        }

        impl std::ops::DerefMut for $t {
            fn deref_mut(&mut self) -> &mut $crate::scenario::Header {
                &mut self.header
            }
        }
    };
}
pub(super) use deref_header;

/// What `period` means, and so what bounds it.
#[derive(Debug, Clone, Copy)]
pub(super) enum PeriodUse {
    /// The allocation period: from 1 s up to the duration, at most 10^7 of
    /// them in the duration.
    Allocation,
    /// A sampling interval: from 1 s up to the duration, at most 10^6
    /// samples.
    Sampling,
}

impl Ctx<'_> {
    /// Validates the header of the file at `path` whose text is `text`:
    /// `name` (default: the file stem), `seed` (default 1), `output`
    /// (default `results/NAME`), `duration` (default 30 days, positive),
    /// `period` (default 1 h, bounded as `use_` says) and `[hosts]` (100
    /// hosts of 8,000 millicores, 16 GiB, 1 Gb/s and 200 GiB by default).
    pub(super) fn header(
        &self,
        path: &Path,
        text: &str,
        raw: RawHeader,
        use_: PeriodUse,
    ) -> Result<Header, ScenarioError> {
        let name = raw.name.map(str::to_string).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(self.invalid("name", "a non-empty name without slashes", format!("\"{name}\"")));
        }
        let seed = match raw.seed {
            Some(s) if s < 0 => return Err(self.invalid("seed", "a non-negative integer", s)),
            Some(s) => s as u64,
            None => 1,
        };
        if raw.output.is_some_and(|o| o.trim().is_empty()) {
            return Err(self.invalid("output", "a folder path", "an empty string"));
        }
        let output = PathBuf::from(
            raw.output
                .map(str::to_string)
                .unwrap_or_else(|| format!("results/{name}")),
        );
        let duration = self.duration("duration", raw.duration, SimTime::from_secs(30 * DAY as u64))?;
        if duration == SimTime::ZERO {
            return Err(self.invalid("duration", "a positive duration", "0"));
        }
        let period = self.duration("period", raw.period, SimTime::from_secs(3600))?;
        self.check_period(period, duration, use_)?;

        let h = raw.hosts.cloned().unwrap_or_default();
        let hosts = self.positive("hosts.count", h.count, 100, 10_000_000)? as u32;
        let big = 1 << 40;
        let capacity = Resources::new(
            self.positive("hosts.cpu_millicores", h.cpu_millicores, 8000, big)?,
            self.positive("hosts.memory_mib", h.memory_mib, 16384, big)?,
            self.positive("hosts.bandwidth_mbps", h.bandwidth_mbps, 1000, big)?,
            self.positive("hosts.disk_gib", h.disk_gib, 200, big)?,
        );
        Ok(Header {
            name,
            file: path.to_path_buf(),
            sha256: sha256_hex(text),
            seed,
            output,
            duration,
            period,
            hosts,
            capacity,
        })
    }

    fn check_period(&self, period: SimTime, duration: SimTime, use_: PeriodUse) -> Result<(), ScenarioError> {
        let in_range = period >= SimTime::from_secs(1) && period <= duration;
        match use_ {
            PeriodUse::Allocation => {
                if duration.0 / period.0.max(1) > 10_000_000 {
                    return Err(self.invalid(
                        "period",
                        format!(
                            "at most 10^7 periods in the duration, so a period of at least {}",
                            SimTime(duration.0 / 10_000_000)
                        ),
                        format!("{period}"),
                    ));
                }
                if !in_range {
                    return Err(self.invalid(
                        "period",
                        "a duration from 1s up to the scenario's duration",
                        format!("{period}"),
                    ));
                }
            }
            PeriodUse::Sampling => {
                if !in_range || duration.0 / period.0 > 1_000_000 {
                    return Err(self.invalid(
                        "period",
                        "a sampling interval from 1s up to the duration, at most 10^6 samples",
                        format!("{period}"),
                    ));
                }
            }
        }
        Ok(())
    }
}
