//! The `slivers-xl-emu` binary's logic: each host's state lives in a
//! directory, and a live migration runs `SSHCMD DESTHOST xl
//! migrate-receive` as a child process, as the real `xl` does.
//!
//! Layout of `$SLIVERS_XL_EMU_DIR/<host>/`:
//! * `host.json`: the [`HostConfig`] plus `next_domid`;
//! * `domains/<name>.json`: one [`Domain`] per file, written atomically;
//! * `lock`: locked (Linux `flock(2)`, which the kernel releases when its
//!   holder exits, so no lock is ever stale) while the state is read and
//!   changed; it holds the last holder's pid;
//! * `faults`: optional, one fault per line (`KIND[:NAME]`), each consumed
//!   by the first command it applies to;
//! * `unreachable`: optional: the host is down (written by a `host-down`
//!   fault, or by hand). The test ssh scripts look at it (ssh exits 255);
//!   so does a stored [`crate::cluster::EmuCluster`]; the binary itself,
//!   `xl` on the machine, does not.
//!
//! Environment: `SLIVERS_XL_EMU_DIR` (required), `SLIVERS_XL_EMU_HOST`
//! (default: the machine's hostname), `SLIVERS_XL_EMU_FAULT` (a fault that
//! applies to every matching command, never consumed).
//!
//! The migration stream is a line protocol on the receiver's stdin/stdout:
//! receiver `SLIVERS-XL-EMU migrate-receive v1`; sender `DOMAIN <json>`;
//! receiver (after admitting `NAME--incoming`) `READY`; sender `GO` (or
//! `ABORT`, or the fault-injection `CRASH`); receiver `REPORT <code>`, and
//! after a nonzero report `GO` (the sender may have its domain back).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    Domain, EmuFiles, FAILED_BADLY, Fault, FaultKind, HostConfig, HostState, MIGRATION_SUCCESSFUL,
    RESUMING_AT_SENDER, SENDER_ACKED, SENDER_GO, SUSPEND_FAILED, TARGET_FAILURE, TARGET_READY,
    TARGET_STARTED, TARGET_STARTUP_FAILED, TARGET_TRANSFER_COMPLETE, UNREACHABLE, XlCommand, XlOutput,
};

/// The first line `migrate-receive` prints.
pub const BANNER: &str = "SLIVERS-XL-EMU migrate-receive v1";

/// How long a command waits for a host's lock before giving up.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// `host.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct HostFile {
    #[serde(flatten)]
    config: HostConfig,
    #[serde(default = "one")]
    next_domid: u32,
}

fn one() -> u32 {
    1
}

/// Writes `bytes` to `path` atomically ([`slivers_fsutil::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    slivers_fsutil::write_atomic(path, bytes).map_err(|(_, e)| e)
}

fn check_host_name(host: &str) -> std::io::Result<()> {
    if host.is_empty()
        || host.starts_with('.')
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid host name {host:?}"),
        ));
    }
    Ok(())
}

/// Creates (or resets the capacity of) an emulated host under `root`;
/// existing domains are kept.
pub fn init_host(root: &Path, config: &HostConfig) -> std::io::Result<()> {
    check_host_name(&config.host)?;
    let dir = root.join(&config.host);
    std::fs::create_dir_all(dir.join("domains"))?;
    let next_domid = load_host(root, &config.host).map_or(1, |s| s.next_domid);
    let file = HostFile {
        config: config.clone(),
        next_domid,
    };
    write_atomic(&dir.join("host.json"), &json_bytes(&file))
}

fn json_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

fn invalid_data(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

/// Reads an emulated host's state from `root/<host>/`.
pub fn load_host(root: &Path, host: &str) -> std::io::Result<HostState> {
    check_host_name(host)?;
    let dir = root.join(host);
    let file: HostFile =
        serde_json::from_slice(&std::fs::read(dir.join("host.json"))?).map_err(invalid_data)?;
    let mut domains = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("domains"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let d: Domain = serde_json::from_slice(&std::fs::read(&path)?).map_err(invalid_data)?;
            domains.insert(d.name.clone(), d);
        }
    }
    Ok(HostState {
        config: file.config,
        next_domid: file.next_domid,
        domains,
    })
}

/// Writes what changed between `old` and `new`: new and changed domains
/// before removing the ones `new` dropped.
pub(crate) fn store_host(root: &Path, old: &HostState, new: &HostState) -> std::io::Result<()> {
    let dir = root.join(&new.config.host);
    if old.next_domid != new.next_domid || old.config != new.config {
        let file = HostFile {
            config: new.config.clone(),
            next_domid: new.next_domid,
        };
        write_atomic(&dir.join("host.json"), &json_bytes(&file))?;
    }
    let path = |name: &str| dir.join("domains").join(format!("{name}.json"));
    for (name, d) in &new.domains {
        if old.domains.get(name) != Some(d) {
            write_atomic(&path(name), &json_bytes(d))?;
        }
    }
    for name in old.domains.keys() {
        if !new.domains.contains_key(name) {
            std::fs::remove_file(path(name))?;
        }
    }
    Ok(())
}

/// An exclusive lock on a host directory, released on drop.
///
/// On Linux, `flock(2)` on the file `lock` (holding the last holder's pid,
/// for people): the kernel releases it when its holder exits however it
/// dies, so there is never a stale lock to break, and two processes can
/// never both hold it. The file stays (removing it would let a waiter lock
/// an unlinked file while a newcomer locks a fresh one).
#[cfg(target_os = "linux")]
struct HostLock(#[allow(dead_code)] std::fs::File);

#[cfg(target_os = "linux")]
fn lock_host(dir: &Path) -> std::io::Result<HostLock> {
    use std::os::fd::AsRawFd;
    let path = dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            file.set_len(0)?;
            let _ = write!(file, "{}", std::process::id());
            return Ok(HostLock(file));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::WouldBlock {
            return Err(e);
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("cannot lock {}: held for over {LOCK_TIMEOUT:?}", path.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// An exclusive lock on a host directory, released on drop.
///
/// Elsewhere than Linux, the file `lock` created exclusively, holding the
/// pid, removed on drop. A holder that dies leaves it behind; it is not
/// broken (there is no portable check that the pid is gone): remove
/// `<host>/lock` by hand once no emulator runs.
#[cfg(not(target_os = "linux"))]
struct HostLock(PathBuf);

#[cfg(not(target_os = "linux"))]
impl Drop for HostLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(not(target_os = "linux"))]
fn lock_host(dir: &Path) -> std::io::Result<HostLock> {
    let path = dir.join("lock");
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let _ = write!(f, "{}", std::process::id());
                return Ok(HostLock(path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if Instant::now() > deadline {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "cannot lock {}: held for over {LOCK_TIMEOUT:?}; if no emulator runs, remove it",
                            path.display()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `f` on the host's state under its lock and stores what changed.
fn with_host<T>(root: &Path, host: &str, f: impl FnOnce(&mut HostState) -> T) -> std::io::Result<T> {
    let _lock = lock_host(&root.join(host))?;
    let old = load_host(root, host)?;
    let mut new = old.clone();
    let out = f(&mut new);
    if new != old {
        store_host(root, &old, &new)?;
    }
    Ok(out)
}

/// Takes the first fault that applies to `cmd`: the environment's (kept),
/// else the first matching line of the host's `faults` file (removed).
fn take_fault(root: &Path, host: &str, env_fault: Option<&str>, cmd: &XlCommand) -> Option<FaultKind> {
    if let Some(f) = env_fault.and_then(|s| s.parse::<Fault>().ok())
        && f.applies_to(cmd)
    {
        return Some(f.kind);
    }
    let dir = root.join(host);
    let path = dir.join("faults");
    if !path.exists() {
        return None;
    }
    let _lock = lock_host(&dir).ok()?;
    let text = std::fs::read_to_string(&path).ok()?;
    let mut lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.parse::<Fault>().is_ok_and(|f| f.applies_to(cmd)))?;
    let kind = lines.remove(i).parse::<Fault>().ok()?.kind;
    let rest: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let _ = write_atomic(&path, rest.as_bytes());
    Some(kind)
}

struct FsFiles;

impl EmuFiles for FsFiles {
    fn read(&mut self, path: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn write(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        write_atomic(Path::new(path), bytes)
    }
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            let s = std::fs::read_to_string(p).ok()?;
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// The binary's entry point: runs `argv` (program name first) with the
/// given environment, printing on the process's stdout and stderr; returns
/// the exit code.
pub fn main(argv: &[String], env: &BTreeMap<String, String>) -> i32 {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let mut stderr = std::io::stderr();
    run(argv, env, &mut stdin, &mut stdout, &mut stderr)
}

/// [`main`] with explicit streams (stdin and stdout carry the migration
/// stream for `migrate-receive`).
pub fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let Some(root) = env.get("SLIVERS_XL_EMU_DIR").map(PathBuf::from) else {
        let _ = writeln!(stderr, "slivers-xl-emu: SLIVERS_XL_EMU_DIR is not set");
        return 1;
    };
    let host = env.get("SLIVERS_XL_EMU_HOST").cloned().unwrap_or_else(hostname);
    if argv.get(1).map(String::as_str) == Some("emu-init") {
        return emu_init(&root, &host, &argv[2..], stderr);
    }
    let cmd = match XlCommand::parse(argv) {
        Ok(cmd) => cmd,
        Err(out) => return emit(&out, stdout, stderr),
    };
    if check_host_name(&host).is_err() || !root.join(&host).join("host.json").exists() {
        // What the real xl says where no hypervisor runs.
        let _ = write!(
            stderr,
            "ERROR:  Can't find hypervisor information in sysfs!\ncannot init xl context\n"
        );
        return 1;
    }
    let fault = take_fault(
        &root,
        &host,
        env.get("SLIVERS_XL_EMU_FAULT").map(String::as_str),
        &cmd,
    );
    if fault == Some(FaultKind::HostDown) {
        // The machine dies (its ssh session with it): marked down first,
        // so that a crash in between leaves it down, then its domains go.
        let down = write_atomic(&root.join(&host).join(UNREACHABLE), b"")
            .and_then(|()| with_host(&root, &host, |state| state.domains.clear()));
        if let Err(e) = down {
            let _ = writeln!(stderr, "slivers-xl-emu: {host}: {e}");
            return 1;
        }
        let _ = writeln!(stderr, "ssh: connect to host {host} port 22: No route to host");
        return 255;
    }
    if fault == Some(FaultKind::Timeout) {
        std::thread::sleep(Duration::from_secs(3600));
        return 1;
    }
    let io_fail = |e: std::io::Error, stderr: &mut dyn Write| {
        let _ = writeln!(stderr, "slivers-xl-emu: {host}: {e}");
        1
    };
    match cmd {
        XlCommand::Migrate {
            ssh, domain, dest, ..
        } => match migrate_send(&root, &host, ssh.as_deref(), &domain, &dest, fault, stderr) {
            Ok(code) => code,
            Err(e) => io_fail(e, stderr),
        },
        XlCommand::MigrateReceive => match migrate_receive(&root, &host, stdin, stdout, stderr) {
            Ok(code) => code,
            Err(e) => io_fail(e, stderr),
        },
        cmd => {
            let result = with_host(&root, &host, |state| match &cmd {
                XlCommand::Save { domain, .. } if fault == Some(FaultKind::Save) => {
                    match state.resolve(domain) {
                        Some(_) => state.save_failure(domain),
                        None => super::invalid_domain(domain),
                    }
                }
                cmd => state.apply(cmd, &mut FsFiles),
            });
            match result {
                Ok(out) => emit(&out, stdout, stderr),
                Err(e) => io_fail(e, stderr),
            }
        }
    }
}

fn emit(out: &XlOutput, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let _ = stdout.write_all(out.stdout.as_bytes());
    let _ = stdout.flush();
    let _ = stderr.write_all(out.stderr.as_bytes());
    let _ = stderr.flush();
    out.code
}

/// `slivers-xl-emu emu-init --memory MIB --cpus N [--scheduler S]
/// [--dom0-memory MIB]`: creates the host directory.
fn emu_init(root: &Path, host: &str, args: &[String], stderr: &mut dyn Write) -> i32 {
    let mut config = HostConfig::new(host, 16384, 8);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().map(String::as_str).unwrap_or("");
        let ok = match a.as_str() {
            "--memory" => v.parse().map(|n| config.total_memory_mib = n).is_ok(),
            "--cpus" => v.parse().map(|n| config.nr_cpus = n).is_ok(),
            "--dom0-memory" => v.parse().map(|n| config.dom0_memory_mib = n).is_ok(),
            "--scheduler" if v == "credit" || v == "credit2" => {
                config.scheduler = v.to_string();
                true
            }
            _ => false,
        };
        if !ok {
            let _ = writeln!(
                stderr,
                "usage: slivers-xl-emu emu-init [--memory MIB] [--cpus N] [--scheduler credit|credit2] [--dom0-memory MIB]"
            );
            return 1;
        }
    }
    match init_host(root, &config) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(stderr, "slivers-xl-emu: {e}");
            1
        }
    }
}

fn read_line(r: &mut dyn BufRead) -> String {
    let mut s = String::new();
    match r.read_line(&mut s) {
        Ok(_) => s.trim_end().to_string(),
        Err(_) => String::new(),
    }
}

/// The sender's half of `xl migrate`.
fn migrate_send(
    root: &Path,
    host: &str,
    ssh: Option<&str>,
    domain: &str,
    dest: &str,
    fault: Option<FaultKind>,
    stderr: &mut dyn Write,
) -> std::io::Result<i32> {
    let dom = match with_host(root, host, |s| s.migrate_out_begin(domain))? {
        Ok(d) => d,
        Err(out) => return Ok(emit(&out, &mut std::io::sink(), stderr)),
    };
    let name = dom.name.clone();
    let rune = format!("exec {} {dest} xl migrate-receive", ssh.unwrap_or("ssh"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&rune)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let (Some(mut to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("no pipes to the migration child"));
    };
    let mut from = BufReader::new(from);
    let mut say = |s: &str| {
        let _ = stderr.write_all(s.as_bytes());
        let _ = stderr.flush();
    };
    let mut finish = |to: std::process::ChildStdin, code: i32, msg: &str, say: &mut dyn FnMut(&str)| {
        drop(to);
        let _ = child.wait();
        say(msg);
        Ok(code)
    };
    if read_line(&mut from) != BANNER {
        return finish(
            to,
            1,
            &format!("{rune}: reading banner: unexpected end of stream\n"),
            &mut say,
        );
    }
    let sent = serde_json::to_string(&dom).map_err(invalid_data)?;
    if writeln!(to, "DOMAIN {sent}").and_then(|()| to.flush()).is_err() {
        return finish(to, 1, &format!("{SUSPEND_FAILED}{RESUMING_AT_SENDER}"), &mut say);
    }
    if fault == Some(FaultKind::MigrateBeforeHandshake) {
        let _ = writeln!(to, "ABORT");
        return finish(to, 1, &format!("{SUSPEND_FAILED}{RESUMING_AT_SENDER}"), &mut say);
    }
    if read_line(&mut from) != "READY" {
        return finish(to, 1, &format!("{SUSPEND_FAILED}{RESUMING_AT_SENDER}"), &mut say);
    }
    if let Err(out) = with_host(root, host, |s| s.migrate_out_rename_away(&name))? {
        let _ = writeln!(to, "ABORT");
        return finish(to, 1, &format!("{}{RESUMING_AT_SENDER}", out.stderr), &mut say);
    }
    say(SENDER_ACKED);
    if fault == Some(FaultKind::MigrateAfterHandshake) {
        let _ = writeln!(to, "CRASH");
        return finish(to, 1, FAILED_BADLY, &mut say);
    }
    say(SENDER_GO);
    if writeln!(to, "GO").and_then(|()| to.flush()).is_err() {
        return finish(to, 1, FAILED_BADLY, &mut say);
    }
    let report = read_line(&mut from);
    if fault == Some(FaultKind::MigrateLostReport) || !report.starts_with("REPORT ") {
        return finish(to, 1, FAILED_BADLY, &mut say);
    }
    if report != "REPORT 0" {
        if read_line(&mut from) != "GO" {
            return finish(to, 1, FAILED_BADLY, &mut say);
        }
        with_host(root, host, |s| s.migrate_out_resume(&name))?;
        return finish(to, 1, TARGET_STARTUP_FAILED, &mut say);
    }
    with_host(root, host, |s| s.migrate_out_finish(&name))?;
    finish(to, 0, MIGRATION_SUCCESSFUL, &mut say)
}

/// `xl migrate-receive`: the receiver's half, over stdin/stdout.
fn migrate_receive(
    root: &Path,
    host: &str,
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> std::io::Result<i32> {
    let _ = stderr.write_all(TARGET_READY.as_bytes());
    writeln!(stdout, "{BANNER}")?;
    stdout.flush()?;
    let line = read_line(stdin);
    let Some(json) = line.strip_prefix("DOMAIN ") else {
        return Ok(1);
    };
    let dom: Domain = serde_json::from_str(json).map_err(invalid_data)?;
    let name = dom.name.clone();
    if let Err(e) = with_host(root, host, |s| s.migrate_in_begin(&dom))? {
        let _ = stderr.write_all(e.as_bytes());
        return Ok(1);
    }
    let _ = stderr.write_all(TARGET_TRANSFER_COMPLETE.as_bytes());
    let ready = writeln!(stdout, "READY").and_then(|()| stdout.flush());
    let line = if ready.is_ok() {
        read_line(stdin)
    } else {
        String::new()
    };
    match line.as_str() {
        "GO" => match with_host(root, host, |s| s.migrate_in_finish(&name))? {
            Ok(()) => {
                let _ = stderr.write_all(TARGET_STARTED.as_bytes());
                writeln!(stdout, "REPORT 0")?;
                stdout.flush()?;
                Ok(0)
            }
            Err(e) => {
                with_host(root, host, |s| s.migrate_in_abort(&name))?;
                let _ = write!(stderr, "{e}{TARGET_FAILURE}");
                writeln!(stdout, "REPORT 3\nGO")?;
                stdout.flush()?;
                Ok(1)
            }
        },
        // Injected: the receiver dies holding its paused copy.
        "CRASH" => Ok(1),
        _ => {
            with_host(root, host, |s| s.migrate_in_abort(&name))?;
            let _ = stderr.write_all(TARGET_FAILURE.as_bytes());
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("slivers-emu-dir-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn xl(root: &Path, host: &str, line: &str) -> (i32, String, String) {
        let argv: Vec<String> = std::iter::once("xl")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect();
        let env: BTreeMap<String, String> = [
            ("SLIVERS_XL_EMU_DIR".to_string(), root.display().to_string()),
            ("SLIVERS_XL_EMU_HOST".to_string(), host.to_string()),
        ]
        .into();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&argv, &env, &mut std::io::empty(), &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn state_persists_in_files() {
        let root = temp("persist");
        init_host(&root, &HostConfig::new("h1", 4096, 2)).unwrap();
        std::fs::write(
            root.join("vm.cfg"),
            "name = \"vm\"\nmemory = 512\nmaxmem = 1024\n",
        )
        .unwrap();
        let cfg = root.join("vm.cfg").display().to_string();
        assert_eq!(xl(&root, "h1", &format!("create {cfg}")).0, 0);
        assert!(root.join("h1/domains/vm.json").exists());
        assert_eq!(xl(&root, "h1", "mem-set vm 1024m").0, 0);
        let s = load_host(&root, "h1").unwrap();
        assert_eq!(s.domains["vm"].target_memkb, 1024 * 1024);
        assert_eq!(s.next_domid, 2);
        assert_eq!(xl(&root, "h1", "info free_memory").1, "3072\n");
        // Faults from the file are consumed once.
        std::fs::write(root.join("h1/faults"), "save:vm\n").unwrap();
        let (code, _, err) = xl(&root, "h1", &format!("save vm {}", root.join("img").display()));
        assert_eq!(code, 1);
        assert!(err.contains("Failed to save domain, resuming domain"));
        assert_eq!(
            xl(&root, "h1", &format!("save vm {}", root.join("img").display())).0,
            0
        );
        assert!(!root.join("h1/domains/vm.json").exists());
        assert_eq!(
            xl(&root, "h1", &format!("restore {}", root.join("img").display())).0,
            0
        );
        assert_eq!(xl(&root, "h1", "destroy vm").0, 0);
        assert_eq!(
            xl(&root, "h1", "destroy vm").2,
            "vm is an invalid domain identifier (rc=-6)\n"
        );
        // A host without a directory looks like a machine without Xen.
        let (code, _, err) = xl(&root, "h9", "info");
        assert_eq!(code, 1);
        assert!(err.contains("cannot init xl context"));
        // Every command let go of the lock.
        drop(lock_host(&root.join("h1")).unwrap());
        let _ = std::fs::remove_dir_all(&root);
    }

    /// Threads contend for one host whose lock file names a dead process
    /// (what a killed emulator leaves): at most one holds it at a time.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_host_down_fault_loses_the_domains_and_marks_the_host_down() {
        let root = temp("down");
        init_host(&root, &HostConfig::new("h1", 4096, 2)).unwrap();
        std::fs::write(root.join("vm.cfg"), "name = \"vm\"\nmemory = 512\n").unwrap();
        let cfg = root.join("vm.cfg").display().to_string();
        assert_eq!(xl(&root, "h1", &format!("create {cfg}")).0, 0);
        std::fs::write(root.join("h1/faults"), "host-down\n").unwrap();
        let (code, _, err) = xl(&root, "h1", "list");
        assert_eq!(code, 255, "as ssh to a dead machine");
        assert!(err.contains("No route to host"), "{err}");
        assert!(root.join("h1").join(UNREACHABLE).exists(), "for the ssh scripts");
        assert!(load_host(&root, "h1").unwrap().domains.is_empty());
        assert_eq!(xl(&root, "h1", "destroy vm").0, 1, "its domains are gone");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn one_holder_at_a_time_even_from_a_stale_lock() {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        let root = temp("contend");
        init_host(&root, &HostConfig::new("h1", 1024, 1)).unwrap();
        let dir = root.join("h1");
        std::fs::write(dir.join("lock"), format!("{}", u32::MAX - 1)).unwrap();
        let inside = AtomicBool::new(false);
        let entered = AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    for _ in 0..40 {
                        let _lock = lock_host(&dir).unwrap();
                        assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                        entered.fetch_add(1, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.store(false, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(entered.load(Ordering::SeqCst), 240);
        let pid = std::fs::read_to_string(dir.join("lock")).unwrap();
        assert_eq!(pid, std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn stale_locks_are_broken() {
        let root = temp("stale");
        init_host(&root, &HostConfig::new("h1", 1024, 1)).unwrap();
        // No process has pid u32::MAX - 1.
        std::fs::write(root.join("h1/lock"), format!("{}", u32::MAX - 1)).unwrap();
        assert_eq!(xl(&root, "h1", "list").0, 0);
        let _ = std::fs::remove_dir_all(&root);
    }
}
