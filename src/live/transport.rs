//! How `xl` command lines reach a host.
//!
//! * [`LocalTransport`]: runs the command on this machine (a dom0 driving
//!   itself, or the emulator with per-host environment variables);
//! * [`SshTransport`]: `ssh -o BatchMode=yes [-i KEY] USER@HOST -- xl ...`;
//! * [`InProcessTransport`]: answers from an in-memory
//!   [`EmuCluster`] (the crate `slivers-xl-emu`), with an optional delay
//!   per kind of command (the emulated executor);
//! * [`RecordingTransport`]: appends each command as one JSON line to a
//!   writer, then delegates; [`dry_run`] records over an in-process
//!   cluster so that nothing touches a host.
//!
//! The executor's argv starts with `xl`; a transport replaces that word
//! with its configured program.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::executor::ExecError;
use crate::shell;
use slivers_xl_emu::cluster::{EmuCluster, EmuOutcome};
use slivers_xl_emu::timed::{Delay, InProcess};

/// The last 2000 bytes of trimmed stderr (at a character boundary): what
/// an error keeps of a command's output.
pub fn excerpt(stderr: &str) -> String {
    let s = stderr.trim();
    let mut start = s.len().saturating_sub(2000);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// What a command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmdOutput {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl CmdOutput {
    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs commands on hosts. Implementations must be safe to call from
/// several threads for different hosts.
pub trait Transport: Send + Sync {
    /// Runs `argv` (starting with `xl`) on `host`; a command still running
    /// after `timeout` is killed and gives [`ExecError::Timeout`].
    fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError>;

    /// Writes a file on `host` atomically (temporary file, then rename),
    /// creating its directory: how config files reach the host.
    fn write_file(&self, host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError>;

    /// Fails `host` (`on` false) or brings it back (`on` true) where the
    /// hosts are emulated ([`Executor::power`](super::executor::Executor::power));
    /// Ok(false), the default, where they are real.
    fn power(&self, host: &str, on: bool) -> Result<bool, ExecError> {
        let _ = (host, on);
        Ok(false)
    }
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError> {
        (**self).run(host, argv, timeout)
    }

    fn write_file(&self, host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError> {
        (**self).write_file(host, path, contents)
    }

    fn power(&self, host: &str, on: bool) -> Result<bool, ExecError> {
        (**self).power(host, on)
    }
}

/// Runs a prepared command with a timeout: feeds `stdin`, collects stdout
/// and stderr, kills the child when time is up.
fn run_process(
    mut cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    host: &str,
    argv: &[String],
) -> Result<CmdOutput, ExecError> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| ExecError::Io {
        host: host.to_string(),
        context: format!("cannot run `{}`", argv.join(" ")),
        source,
    })?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    for (is_out, pipe) in [
        (
            true,
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            false,
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        if let Some(mut pipe) = pipe {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send((is_out, buf));
            });
        }
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                return Err(ExecError::Io {
                    host: host.to_string(),
                    context: format!("waiting for `{}`", argv.join(" ")),
                    source,
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ExecError::Timeout {
                host: host.to_string(),
                argv: argv.to_vec(),
                after: timeout,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // The pipes close when the child exits, unless it left a process
    // behind that holds them: then take what arrived within a grace period.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let grace = Instant::now() + Duration::from_secs(2);
    for _ in 0..2 {
        let left = grace.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((true, b)) => stdout = b,
            Ok((false, b)) => stderr = b,
            Err(_) => break,
        }
    }
    Ok(CmdOutput {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

fn write_local(host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError> {
    let io = |context: String| {
        move |source| ExecError::Io {
            host: host.to_string(),
            context,
            source,
        }
    };
    let p = Path::new(path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    crate::fsutil::write_atomic(p, contents)
        .map_err(|(_, e)| e)
        .map_err(io(format!("cannot write {path}")))
}

/// Runs `xl` on this machine.
///
/// For a real dom0 this only makes sense for the local host; with the
/// emulator, [`LocalTransport::host_name_var`] (or per-host variables)
/// selects the emulated host per call.
pub struct LocalTransport {
    program: PathBuf,
    env: Vec<(String, String)>,
    host_env: BTreeMap<String, Vec<(String, String)>>,
    host_name_var: Option<String>,
}

impl LocalTransport {
    /// Runs `program` (e.g. `/usr/sbin/xl`, or the emulator) for `xl`.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        LocalTransport {
            program: program.into(),
            env: Vec::new(),
            host_env: BTreeMap::new(),
            host_name_var: None,
        }
    }

    /// Sets an environment variable for every command.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets an environment variable for commands on `host` only.
    pub fn host_env(mut self, host: &str, key: &str, value: &str) -> Self {
        self.host_env
            .entry(host.to_string())
            .or_default()
            .push((key.to_string(), value.to_string()));
        self
    }

    /// Sets `var` to the host's name for every command (for the emulator:
    /// `SLIVERS_XL_EMU_HOST`).
    pub fn host_name_var(mut self, var: &str) -> Self {
        self.host_name_var = Some(var.to_string());
        self
    }
}

impl Transport for LocalTransport {
    fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(argv.iter().skip(1));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(var) = &self.host_name_var {
            cmd.env(var, host);
        }
        if let Some(vars) = self.host_env.get(host) {
            cmd.envs(vars.iter().map(|(k, v)| (k, v)));
        }
        run_process(cmd, None, timeout, host, argv)
    }

    fn write_file(&self, host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError> {
        write_local(host, path, contents)
    }
}

/// Runs `xl` on each host over ssh: `SSHCMD [-i KEY] USER@HOST -- xl ...`.
/// ssh's own failure (exit code 255) is [`ExecError::Unreachable`].
#[derive(Debug, Clone)]
pub struct SshTransport {
    ssh: Vec<String>,
    user: Option<String>,
    key: Option<PathBuf>,
    remote_xl: String,
}

impl Default for SshTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl SshTransport {
    /// `ssh -o BatchMode=yes root@HOST -- xl ...`.
    pub fn new() -> Self {
        SshTransport {
            ssh: vec!["ssh".into(), "-o".into(), "BatchMode=yes".into()],
            user: Some("root".into()),
            key: None,
            remote_xl: "xl".into(),
        }
    }

    /// The ssh command and its options, split at whitespace (e.g.
    /// `ssh -o BatchMode=yes -o ConnectTimeout=10`).
    pub fn ssh_command(mut self, command: &str) -> Self {
        let words: Vec<String> = command.split_whitespace().map(String::from).collect();
        if !words.is_empty() {
            self.ssh = words;
        }
        self
    }

    /// The remote user (`None`: ssh's default).
    pub fn user(mut self, user: Option<&str>) -> Self {
        self.user = user.map(String::from);
        self
    }

    /// An identity file passed as `-i KEY`.
    pub fn key(mut self, key: Option<&Path>) -> Self {
        self.key = key.map(Path::to_path_buf);
        self
    }

    /// The `xl` program on the hosts (default `xl`).
    pub fn remote_xl(mut self, program: &str) -> Self {
        self.remote_xl = program.to_string();
        self
    }

    /// The local argv that runs the remote shell command `remote` on `host`.
    pub fn argv(&self, host: &str, remote: &str) -> Vec<String> {
        let mut v = self.ssh.clone();
        if let Some(key) = &self.key {
            v.push("-i".into());
            v.push(key.display().to_string());
        }
        v.push(match &self.user {
            Some(u) => format!("{u}@{host}"),
            None => host.to_string(),
        });
        v.push("--".into());
        v.push(remote.to_string());
        v
    }

    fn exec(
        &self,
        host: &str,
        remote: &str,
        stdin: Option<Vec<u8>>,
        timeout: Duration,
        argv: &[String],
    ) -> Result<CmdOutput, ExecError> {
        let local = self.argv(host, remote);
        let mut cmd = Command::new(&local[0]);
        cmd.args(&local[1..]);
        let out = run_process(cmd, stdin, timeout, host, argv)?;
        if out.code == Some(255) {
            return Err(ExecError::Unreachable {
                host: host.to_string(),
                stderr: excerpt(&out.stderr),
            });
        }
        Ok(out)
    }
}

impl Transport for SshTransport {
    fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError> {
        let remote: Vec<String> = std::iter::once(self.remote_xl.as_str())
            .chain(argv.iter().skip(1).map(String::as_str))
            .map(shell::quote)
            .collect();
        self.exec(host, &remote.join(" "), None, timeout, argv)
    }

    fn write_file(&self, host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError> {
        let p = Path::new(path);
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = format!("{path}.tmp.slivers");
        let remote = format!(
            "mkdir -p {d} && cat > {t} && mv -f {t} {p}",
            d = shell::quote(&dir.display().to_string()),
            t = shell::quote(&tmp),
            p = shell::quote(path)
        );
        let argv = vec!["write".to_string(), path.to_string()];
        let out = self.exec(
            host,
            &remote,
            Some(contents.to_vec()),
            Duration::from_secs(60),
            &argv,
        )?;
        if !out.success() {
            return Err(ExecError::Command {
                host: host.to_string(),
                argv,
                code: out.code,
                stderr: excerpt(&out.stderr),
            });
        }
        Ok(())
    }
}

/// Answers from an in-memory [`EmuCluster`] through
/// [`slivers_xl_emu::timed::InProcess`]: an unknown host is unreachable; an
/// injected `timeout` fault gives [`ExecError::Timeout`] at once. With a
/// [`Delay`] each command takes the time its kind is given (a live
/// migration sleeps between admitting `NAME--incoming` on the destination
/// and switching over); a delay longer than the timeout gives
/// [`ExecError::Timeout`] after the timeout, without running the command.
pub struct InProcessTransport {
    inner: InProcess,
}

impl InProcessTransport {
    /// Commands run at once.
    pub fn new(cluster: Arc<EmuCluster>) -> Self {
        InProcessTransport {
            inner: InProcess::new(cluster),
        }
    }

    /// Commands take the time `delay` gives their kind.
    pub fn with_delay(self, delay: Delay) -> Self {
        InProcessTransport {
            inner: self.inner.with_delay(delay),
        }
    }

    /// The emulated hosts.
    pub fn cluster(&self) -> &Arc<EmuCluster> {
        self.inner.cluster()
    }
}

impl Transport for InProcessTransport {
    fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError> {
        match self.inner.run(host, argv, timeout) {
            None => Err(ExecError::Unreachable {
                host: host.to_string(),
                stderr: format!("ssh: Could not resolve hostname {host}: Name or service not known"),
            }),
            Some(EmuOutcome::Hung) => Err(ExecError::Timeout {
                host: host.to_string(),
                argv: argv.to_vec(),
                after: timeout,
            }),
            Some(EmuOutcome::Exited(out)) => Ok(CmdOutput {
                code: Some(out.code),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
        }
    }

    fn write_file(&self, host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError> {
        self.inner
            .cluster()
            .write_file(path, contents)
            .map_err(|source| ExecError::Io {
                host: host.to_string(),
                context: format!("writing {path}"),
                source,
            })
    }

    fn power(&self, host: &str, on: bool) -> Result<bool, ExecError> {
        let cluster = self.inner.cluster();
        let done = if on {
            cluster.power_on(host)
        } else {
            cluster.power_off(host)
        };
        done.map_err(|source| ExecError::Io {
            host: host.to_string(),
            context: format!("powering the emulated host {}", if on { "on" } else { "off" }),
            source,
        })
    }
}

/// One transcript line.
#[derive(serde::Serialize)]
struct Record<'a> {
    host: &'a str,
    argv: &'a [String],
}

/// Appends every command as one JSON line `{"host":..,"argv":[..]}` to a
/// writer (flushed per line), then runs it on the inner transport. File
/// writes are passed on unrecorded.
pub struct RecordingTransport<T> {
    inner: T,
    out: Mutex<Box<dyn Write + Send>>,
}

impl<T: Transport> RecordingTransport<T> {
    /// Records commands to `out` and delegates to `inner`.
    pub fn new(inner: T, out: Box<dyn Write + Send>) -> Self {
        RecordingTransport {
            inner,
            out: Mutex::new(out),
        }
    }

    /// The inner transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: Transport> Transport for RecordingTransport<T> {
    fn run(&self, host: &str, argv: &[String], timeout: Duration) -> Result<CmdOutput, ExecError> {
        let line = serde_json::to_string(&Record { host, argv }).unwrap_or_default();
        {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|source| ExecError::Io {
                    host: host.to_string(),
                    context: "cannot write the command transcript".into(),
                    source,
                })?;
        }
        self.inner.run(host, argv, timeout)
    }

    fn write_file(&self, host: &str, path: &str, contents: &[u8]) -> Result<(), ExecError> {
        self.inner.write_file(host, path, contents)
    }

    fn power(&self, host: &str, on: bool) -> Result<bool, ExecError> {
        self.inner.power(host, on)
    }
}

/// The dry-run transport: records every command and answers from the
/// in-memory emulator, so nothing touches a host.
pub type DryRunTransport = RecordingTransport<InProcessTransport>;

/// A [`DryRunTransport`] over `cluster`, writing the transcript to `out`.
pub fn dry_run(cluster: Arc<EmuCluster>, out: Box<dyn Write + Send>) -> DryRunTransport {
    RecordingTransport::new(InProcessTransport::new(cluster), out)
}

/// A writer whose bytes the test keeps a handle on (for recorded transcripts).
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct SharedBuf(pub(crate) Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_the_last_2000_bytes_at_a_character_boundary() {
        assert_eq!(excerpt(&"é".repeat(1500)).len(), 2000);
        assert_eq!(excerpt("  short\n"), "short");
    }

    #[test]
    fn ssh_argv() {
        let t = SshTransport::new().key(Some(Path::new("/k/id")));
        assert_eq!(
            t.argv("h1", "xl list -l"),
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "-i",
                "/k/id",
                "root@h1",
                "--",
                "xl list -l"
            ]
        );
        let t = SshTransport::new().ssh_command("/bin/fake-ssh").user(None);
        assert_eq!(t.argv("h1", "xl info"), ["/bin/fake-ssh", "h1", "--", "xl info"]);
    }

    #[test]
    fn local_runs_with_env_and_times_out() {
        let t = LocalTransport::new("sh").host_name_var("EMU_HOST").env("A", "1");
        let argv: Vec<String> = ["xl", "-c", "echo $EMU_HOST$A; echo err >&2; exit 3"]
            .map(String::from)
            .to_vec();
        let out = t.run("h7", &argv, Duration::from_secs(10)).unwrap();
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(3), "h71\n", "err\n")
        );
        let argv: Vec<String> = ["xl", "-c", "sleep 5"].map(String::from).to_vec();
        let start = Instant::now();
        let err = t.run("h7", &argv, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(4));
        let err = LocalTransport::new("/nonexistent/xl")
            .run("h", &argv, Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(err, ExecError::Io { .. }));
    }

    #[test]
    fn ssh_exit_255_is_unreachable() {
        // `sh -c 'exit 255' -- ...` stands in for an ssh that cannot connect.
        let t = SshTransport {
            ssh: vec![
                "sh".into(),
                "-c".into(),
                "echo 'ssh: connect to host h1 port 22: Connection refused' >&2; exit 255".into(),
            ],
            user: None,
            key: None,
            remote_xl: "xl".into(),
        };
        let err = t
            .run("h1", &["xl".into(), "info".into()], Duration::from_secs(5))
            .unwrap_err();
        match err {
            ExecError::Unreachable { host, stderr } => {
                assert_eq!(host, "h1");
                assert!(stderr.contains("Connection refused"));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn recording_writes_json_lines() {
        let cluster = Arc::new(EmuCluster::new());
        cluster.add_host(slivers_xl_emu::HostConfig::new("h1", 1024, 1));
        let buf = SharedBuf::default();
        let t = dry_run(cluster, Box::new(buf.clone()));
        let out = t
            .run(
                "h1",
                &["xl".into(), "info".into(), "free_memory".into()],
                Duration::from_secs(1),
            )
            .unwrap();
        assert_eq!(out.stdout, "1024\n");
        assert!(matches!(
            t.run("h2", &["xl".into(), "info".into()], Duration::from_secs(1)),
            Err(ExecError::Unreachable { .. })
        ));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "{\"host\":\"h1\",\"argv\":[\"xl\",\"info\",\"free_memory\"]}\n{\"host\":\"h2\",\"argv\":[\"xl\",\"info\"]}\n"
        );
    }

    #[test]
    fn in_process_delay_and_timeout() {
        let cluster = Arc::new(EmuCluster::new());
        cluster.add_host(slivers_xl_emu::HostConfig::new("h1", 1024, 1));
        let t = InProcessTransport::new(cluster).with_delay(Box::new(|_| Duration::from_millis(30)));
        let destroy = ["xl".to_string(), "destroy".into(), "vm1".into()];
        let start = Instant::now();
        t.run("h1", &destroy, Duration::from_secs(1)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
        let err = t.run("h1", &destroy, Duration::from_millis(5)).unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }));
    }
}
