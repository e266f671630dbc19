//! The live driver's journal: one JSON object per line, appended and
//! fsynced before the driver acts on it, so a controller killed at any
//! point can be resumed.
//!
//! * `{"run": {"scenario_sha256": "...", "pair": "...", "seed": N, "hosts":
//!   [...]}}`: the first line, naming the run ([`RunHeader`]); a resumed
//!   run must be the same run.
//! * `{"in": {...}, "t": MS}`: an input the hosting system was given at
//!   simulated time `t` (every input, completions included). Replaying the
//!   inputs in order rebuilds the decision state exactly: the model is
//!   deterministic.
//! * `{"start": OP, "t": MS}`: operation `OP` was handed to the executor
//!   (written before the first command). An operation started but not
//!   completed is half-done: on resume it is reconciled and re-run (every
//!   executor operation is idempotent by VM name).
//! * `{"fail": OP, "error": "..."}`: operation `OP` failed for good; the run
//!   stopped there.
//! * `{"lost": HOST, "op": OP, "error": "..."}`: operation `OP` found host
//!   `HOST` (its index) unreachable and the run recovers (`--on-host-loss
//!   recover`): the next record is the host's failure
//!   (`{"in": {"host_down": {"host": HOST, "maintenance": false}}, ...}`),
//!   an input the scenario did not schedule.
//!
//! A last line cut short by a crash (no newline) is ignored.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slivers_policy::{GuestId, HostId};

use crate::engine::SimTime;
use crate::model::guest::LeaseId;
use crate::model::{BatchJob, DownCause, Input, OpId};

/// Journal errors.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("journal {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a journal record.
    #[error("journal {path}, line {line}: expected a journal record, found {found:?} ({reason})")]
    Bad {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line, shortened.
        found: String,
        /// The parser's reason.
        reason: String,
    },
}

/// An input as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JInput {
    /// [`Input::Tick`].
    Tick,
    /// [`Input::Demand`].
    Demand {
        /// Guest index.
        guest: u32,
        /// Requests per minute.
        rate: f64,
    },
    /// [`Input::JobArrival`].
    Job {
        /// Guest index.
        guest: u32,
        /// Job id.
        id: u64,
        /// Run time, ms.
        run_ms: u64,
        /// VMs.
        vms: u32,
        /// Units per VM.
        vm_units: u32,
    },
    /// [`Input::LeaseEnd`].
    LeaseEnd {
        /// Guest index.
        guest: u32,
        /// Lease id.
        lease: u64,
    },
    /// [`Input::OpDone`].
    OpDone {
        /// The operation.
        op: u64,
    },
    /// [`Input::HostDown`].
    HostDown {
        /// Host index.
        host: u32,
        /// True for a maintenance window, false for a failure.
        maintenance: bool,
    },
    /// [`Input::HostUp`].
    HostUp {
        /// Host index.
        host: u32,
    },
    /// [`Input::Drain`].
    Drain {
        /// Host index.
        host: u32,
    },
}

/// In words, for messages.
impl std::fmt::Display for JInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            JInput::Tick => write!(f, "a tick"),
            JInput::Demand { guest, rate } => write!(f, "guest {guest}'s demand of {rate} requests/min"),
            JInput::Job {
                guest,
                id,
                run_ms,
                vms,
                vm_units,
            } => write!(
                f,
                "job {id} of guest {guest} ({vms} VMs of {vm_units} units for {run_ms} ms)"
            ),
            JInput::LeaseEnd { guest, lease } => write!(f, "the end of lease {lease} of guest {guest}"),
            JInput::OpDone { op } => write!(f, "the completion of operation {op}"),
            JInput::HostDown { host, maintenance } => match maintenance {
                true => write!(f, "the maintenance of host {host}"),
                false => write!(f, "the failure of host {host}"),
            },
            JInput::HostUp { host } => write!(f, "host {host} coming back"),
            JInput::Drain { host } => write!(f, "the drain of host {host}"),
        }
    }
}

impl From<&Input> for JInput {
    fn from(i: &Input) -> Self {
        match *i {
            Input::Tick => JInput::Tick,
            Input::Demand { guest, rate } => JInput::Demand { guest: guest.0, rate },
            Input::JobArrival { guest, job } => JInput::Job {
                guest: guest.0,
                id: job.id,
                run_ms: job.run.as_millis(),
                vms: job.vms,
                vm_units: job.vm_units,
            },
            Input::LeaseEnd { guest, lease } => JInput::LeaseEnd {
                guest: guest.0,
                lease: lease.0,
            },
            Input::OpDone(op) => JInput::OpDone { op: op.0 },
            Input::HostDown { host, cause } => JInput::HostDown {
                host: host.0,
                maintenance: cause == DownCause::Maintenance,
            },
            Input::HostUp { host } => JInput::HostUp { host: host.0 },
            Input::Drain { host } => JInput::Drain { host: host.0 },
        }
    }
}

impl From<&JInput> for Input {
    fn from(j: &JInput) -> Self {
        match *j {
            JInput::Tick => Input::Tick,
            JInput::Demand { guest, rate } => Input::Demand {
                guest: GuestId(guest),
                rate,
            },
            JInput::Job {
                guest,
                id,
                run_ms,
                vms,
                vm_units,
            } => Input::JobArrival {
                guest: GuestId(guest),
                job: BatchJob {
                    id,
                    run: SimTime(run_ms),
                    vms,
                    vm_units,
                },
            },
            JInput::LeaseEnd { guest, lease } => Input::LeaseEnd {
                guest: GuestId(guest),
                lease: LeaseId(lease),
            },
            JInput::OpDone { op } => Input::OpDone(OpId(op)),
            JInput::HostDown { host, maintenance } => Input::HostDown {
                host: HostId(host),
                cause: match maintenance {
                    true => DownCause::Maintenance,
                    false => DownCause::Failure,
                },
            },
            JInput::HostUp { host } => Input::HostUp { host: HostId(host) },
            JInput::Drain { host } => Input::Drain { host: HostId(host) },
        }
    }
}

/// The run a journal records, on its first line: a journal is resumed only
/// by the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// SHA-256 of the scenario file's bytes, hex.
    pub scenario_sha256: String,
    /// The policy pair, `provisioning/placement`.
    pub pair: String,
    /// The run's seed.
    pub seed: u64,
    /// The executor's name of each host, in the scenario's host order.
    pub hosts: Vec<String>,
}

impl RunHeader {
    /// The first field in which `found` differs from `self`, in words: its
    /// name, then `self`'s value and `found`'s.
    pub fn difference(&self, found: &RunHeader) -> Option<(&'static str, String, String)> {
        if self.scenario_sha256 != found.scenario_sha256 {
            return Some((
                "scenario file's sha256",
                self.scenario_sha256.clone(),
                found.scenario_sha256.clone(),
            ));
        }
        if self.pair != found.pair {
            return Some(("policy pair", self.pair.clone(), found.pair.clone()));
        }
        if self.seed != found.seed {
            return Some(("seed", self.seed.to_string(), found.seed.to_string()));
        }
        if self.hosts != found.hosts {
            return Some(("list of hosts", self.hosts.join(", "), found.hosts.join(", ")));
        }
        None
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Record {
    /// An input given at `t` ms.
    Input {
        /// The input.
        #[serde(rename = "in")]
        input: JInput,
        /// Simulated time, ms.
        t: u64,
    },
    /// An operation handed to the executor at `t` ms.
    Start {
        /// The operation.
        start: u64,
        /// Simulated time, ms.
        t: u64,
    },
    /// An operation that failed for good.
    Fail {
        /// The operation.
        fail: u64,
        /// Why.
        error: String,
    },
    /// An operation found a host unreachable; the host's failure, given
    /// to the model, follows.
    Lost {
        /// The host's index.
        lost: u32,
        /// The operation.
        op: u64,
        /// What the executor said.
        error: String,
    },
    /// The run the journal records (its first line).
    Run {
        /// The run.
        run: RunHeader,
    },
}

/// An open journal, appended to.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends `r` and waits until it is on disk.
    pub fn append(&mut self, r: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_string(r).unwrap_or_default();
        line.push('\n');
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }

    /// Every complete record of the journal at `path`, in order, with its
    /// 1-based line (a missing file has none; blank lines are skipped). A
    /// last line without its newline was cut by a crash and is dropped, and
    /// the file is truncated to its complete lines so that appending
    /// continues cleanly.
    pub fn read(path: &Path) -> Result<Vec<(usize, Record)>, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            let f = OpenOptions::new().write(true).open(path).map_err(io)?;
            f.set_len(complete as u64).map_err(io)?;
            f.sync_data().map_err(io)?;
        }
        text[..complete]
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let record = serde_json::from_str(l).map_err(|e| JournalError::Bad {
                    path: path.to_path_buf(),
                    line: i + 1,
                    found: l.chars().take(80).collect(),
                    reason: e.to_string(),
                })?;
                Ok((i + 1, record))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_last_line_is_dropped() {
        let dir = std::env::temp_dir().join(format!("slivers-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("j.jsonl");
        let recs = vec![
            Record::Run {
                run: RunHeader {
                    scenario_sha256: "ab12".into(),
                    pair: "migrating/energy-aware".into(),
                    seed: u64::MAX,
                    hosts: vec!["h0".into(), "h1".into()],
                },
            },
            Record::Input {
                input: JInput::Demand {
                    guest: 1,
                    rate: 0.1 + 0.2,
                },
                t: 5,
            },
            Record::Start { start: 3, t: 5 },
            Record::Input {
                input: JInput::OpDone { op: 3 },
                t: 9,
            },
            Record::Fail {
                fail: 4,
                error: "x".into(),
            },
            Record::Lost {
                lost: 1,
                op: 5,
                error: "host1: unreachable: ssh: no route to host".into(),
            },
            Record::Input {
                input: JInput::HostDown {
                    host: 1,
                    maintenance: false,
                },
                t: 11,
            },
        ];
        let mut j = Journal::open(&path).unwrap();
        for r in &recs {
            j.append(r).unwrap();
        }
        drop(j);
        // A crash in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"start\": 7, \"t").unwrap();
        drop(f);
        let numbered: Vec<(usize, Record)> = (1..).zip(recs.iter().cloned()).collect();
        assert_eq!(Journal::read(&path).unwrap(), numbered);
        // The torn tail is gone, so appending continues on a fresh line.
        let mut j = Journal::open(&path).unwrap();
        j.append(&Record::Start { start: 8, t: 10 }).unwrap();
        assert_eq!(Journal::read(&path).unwrap().len(), 8);
        // Inputs convert both ways exactly (f64 rates included).
        let input = Input::Demand {
            guest: GuestId(1),
            rate: 0.1 + 0.2,
        };
        assert_eq!(Input::from(&JInput::from(&input)), input);
        // Lines are counted in the file, blank ones included.
        std::fs::write(&path, "\n{\"start\": 1, \"t\": 2}\n").unwrap();
        assert_eq!(
            Journal::read(&path).unwrap(),
            vec![(2, Record::Start { start: 1, t: 2 })]
        );
        std::fs::write(&path, "{\"start\": 1, \"t\": 2}\nnot json\n").unwrap();
        let err = Journal::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("not json"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
