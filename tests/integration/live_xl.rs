//! The Xen executor against the emulated `xl` binary: four emulated hosts
//! in a temporary directory, `slivers-xl-emu` symlinked as `xl`, driven
//! over the local transport and over an ssh-like transport (a fake ssh
//! script), with fault injection; and the dry-run transcript golden file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slivers::live::executor::{ExecError, Executor, VmSpec};
use slivers::live::transport::{LocalTransport, SshTransport, Transport, dry_run};
use slivers::live::xen::{XenConfig, XenExecutor};
use slivers_xl_emu::HostConfig;
use slivers_xl_emu::cluster::EmuCluster;
use slivers_xl_emu::dir::{init_host, load_host};

use super::{TempDir, root, temp_dir};

const HOSTS: [&str; 4] = ["h1", "h2", "h3", "h4"];

/// Four emulated hosts, an `xl` on a bin dir, fake ssh scripts.
struct Lab {
    dir: TempDir,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let dir = temp_dir(&format!("live-xl-{tag}"));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let emu = Path::new(env!("CARGO_BIN_EXE_slivers-xl-emu"));
        std::os::unix::fs::symlink(emu, bin.join("xl")).unwrap();
        let state = dir.join("state");
        for (i, h) in HOSTS.iter().enumerate() {
            let mut c = HostConfig::new(h, 8192, 4);
            c.dom0_memory_mib = 1024;
            if i == 2 {
                // h3 is small: 3072 - 1024 = 2048 MiB free.
                c.total_memory_mib = 3072;
            }
            if i == 3 {
                c.scheduler = "credit".into();
            }
            init_host(&state, &c).unwrap();
        }
        let unreachable = format!(
            "if [ -e \"{state}/$host/unreachable\" ]; then\n  \
             echo \"ssh: connect to host $host port 22: Connection refused\" >&2\n  exit 255\nfi\n",
            state = state.display()
        );
        // The SSHCMD `xl migrate -s` runs: `SSHCMD DESTHOST xl migrate-receive`.
        script(
            &bin.join("mig-ssh"),
            &format!(
                "#!/bin/sh\nhost=\"$1\"\nshift\n{unreachable}exec env SLIVERS_XL_EMU_HOST=\"$host\" {emu} \"$@\"\n",
                emu = emu.display()
            ),
        );
        // An ssh for the transport: `ssh [-o X] [-i KEY] USER@HOST -- CMDLINE`.
        script(
            &bin.join("fake-ssh"),
            &format!(
                "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    -o|-i) shift 2 ;;\n    *) break ;;\n  esac\ndone\n\
                 host=\"${{1#*@}}\"\nshift\n[ \"$1\" = \"--\" ] && shift\n{unreachable}\
                 exec env SLIVERS_XL_EMU_HOST=\"$host\" PATH=\"{bin}:$PATH\" sh -c \"$*\"\n",
                bin = bin.display()
            ),
        );
        Lab { dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn config(&self) -> XenConfig {
        XenConfig {
            config_dir: self.dir.join("cfg").display().to_string(),
            migrate_ssh: Some(self.dir.join("bin/mig-ssh").display().to_string()),
            command_timeout: Duration::from_secs(30),
            transfer_timeout: Duration::from_secs(60),
            ..XenConfig::default()
        }
    }

    fn local(&self) -> XenExecutor {
        let t = LocalTransport::new(self.dir.join("bin/xl"))
            .env("SLIVERS_XL_EMU_DIR", &self.state().display().to_string())
            .host_name_var("SLIVERS_XL_EMU_HOST");
        XenExecutor::new(Arc::new(t), self.config())
    }

    fn ssh(&self) -> XenExecutor {
        // The fake ssh finds the state dir in the environment it inherits;
        // set it for this process's children through a wrapper script.
        let wrapper = self.dir.join("bin/ssh-wrapper");
        script(
            &wrapper,
            &format!(
                "#!/bin/sh\nSLIVERS_XL_EMU_DIR=\"{}\" exec {} \"$@\"\n",
                self.state().display(),
                self.dir.join("bin/fake-ssh").display()
            ),
        );
        let t = SshTransport::new()
            .ssh_command(&format!("{} -o BatchMode=yes", wrapper.display()))
            .key(Some(Path::new("/nonexistent/id_ed25519")));
        XenExecutor::new(Arc::new(t), self.config())
    }

    fn image(&self, name: &str) -> String {
        self.dir
            .join("images")
            .join(format!("{name}.save"))
            .display()
            .to_string()
    }

    /// Names of the guests on a host, read from the emulator's files.
    fn names(&self, host: &str) -> Vec<String> {
        load_host(&self.state(), host)
            .unwrap()
            .domains
            .into_keys()
            .collect()
    }

    /// Copies of `name` (under any temporary name) on all hosts.
    fn copies(&self, name: &str) -> Vec<(String, String)> {
        HOSTS
            .iter()
            .flat_map(|h| {
                self.names(h)
                    .into_iter()
                    .filter(|n| n.starts_with(name) && (n == name || n.starts_with(&format!("{name}--"))))
                    .map(|n| (h.to_string(), n))
            })
            .collect()
    }

    fn fault(&self, host: &str, fault: &str) {
        std::fs::write(self.state().join(host).join("faults"), format!("{fault}\n")).unwrap();
    }
}

fn script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn spec(name: &str, memory_mib: u64) -> VmSpec {
    VmSpec {
        name: name.into(),
        memory_mib,
        max_memory_mib: 4096,
        vcpus: 1,
        max_vcpus: 4,
        cpu_weight: 256,
        cap_percent: 0,
        bandwidth_mbps: 100,
        disk_gib: 20,
    }
}

fn once(lab: &Lab, name: &str, host: &str) {
    assert_eq!(lab.copies(name), [(host.to_string(), name.to_string())]);
}

/// The whole life of a VM, the same over either transport.
fn lifecycle(lab: &Lab, x: &XenExecutor) {
    let info = x.host_info("h1").unwrap();
    assert_eq!(
        (info.total_memory_mib, info.free_memory_mib, info.nr_cpus),
        (8192, 7168, 4)
    );
    assert_eq!(info.scheduler, "credit2");
    assert_eq!(x.list("h1").unwrap(), []);

    let s = spec("web", 1024);
    x.create("h1", &s).unwrap();
    x.create("h1", &s).unwrap(); // idempotent
    once(lab, "web", "h1");
    assert_eq!(x.host_info("h1").unwrap().free_memory_mib, 6144);
    assert!(Path::new(&format!("{}/web.cfg", lab.config().config_dir)).exists());

    let mut grown = spec("web", 2048);
    grown.vcpus = 3;
    grown.cpu_weight = 512;
    grown.cap_percent = 250;
    x.resize("h1", &grown).unwrap();
    x.resize("h1", &grown).unwrap(); // nothing to change
    let vm = &x.list("h1").unwrap()[0];
    assert_eq!(
        (vm.memory_mib, vm.vcpus, vm.weight, vm.cap),
        (2048, 3, Some(512), Some(250))
    );

    x.migrate("h1", "h2", "web").unwrap();
    once(lab, "web", "h2");
    x.migrate("h1", "h2", "web").unwrap(); // already there
    let vm = &x.list("h2").unwrap()[0];
    assert_eq!(
        (vm.memory_mib, vm.vcpus, vm.weight, vm.cap),
        (2048, 3, Some(512), Some(250))
    );

    // Stop-and-copy to the credit host.
    let image = lab.image("web");
    std::fs::create_dir_all(Path::new(&image).parent().unwrap()).unwrap();
    x.save("h2", "web", &image).unwrap();
    assert_eq!(lab.copies("web"), []);
    x.restore("h4", &grown, &image).unwrap();
    x.restore("h4", &grown, &image).unwrap(); // idempotent
    once(lab, "web", "h4");
    let mut capped = grown.clone();
    capped.cap_percent = 100;
    x.resize("h4", &capped).unwrap(); // sched-credit here
    assert_eq!(x.list("h4").unwrap()[0].cap, Some(100));

    // Capacity: h3 has 2048 MiB free; 2048 + 1 more does not fit.
    assert!(matches!(
        x.create("h3", &spec("big", 3000)),
        Err(ExecError::NoMemory { .. })
    ));
    x.create("h3", &spec("filler", 1024)).unwrap();
    match x.migrate("h4", "h3", "web") {
        Err(ExecError::MigrationFailed {
            resumed_at_sender: true,
            stderr,
            ..
        }) => assert!(
            stderr.contains("failed to free memory for the domain"),
            "{stderr}"
        ),
        other => panic!("{other:?}"),
    }
    once(lab, "web", "h4");
    assert!(matches!(
        x.resize("h4", &spec("web", 5000)),
        Err(ExecError::InvalidSpec { .. })
    ));
    let mut over = capped.clone();
    over.max_memory_mib = 8192;
    over.memory_mib = 5000;
    assert!(matches!(x.resize("h4", &over), Err(ExecError::ExceedsMax { .. })));

    x.destroy("h4", "web").unwrap();
    x.destroy("h4", "web").unwrap(); // already gone
    x.destroy("h3", "filler").unwrap();
    assert_eq!(lab.copies("web"), []);
    assert!(matches!(
        x.migrate("h1", "h2", "web"),
        Err(ExecError::NoSuchVm { .. })
    ));
}

#[test]
fn local_transport_lifecycle() {
    let lab = Lab::new("local");
    lifecycle(&lab, &lab.local());
}

#[test]
fn ssh_transport_lifecycle() {
    let lab = Lab::new("ssh");
    lifecycle(&lab, &lab.ssh());
}

#[test]
fn migration_fails_before_the_handshake() {
    let lab = Lab::new("mig-before");
    let x = lab.local();
    x.create("h1", &spec("db", 1024)).unwrap();
    lab.fault("h1", "migrate-before-handshake:db");
    match x.migrate("h1", "h2", "db") {
        Err(ExecError::MigrationFailed {
            resumed_at_sender: true,
            stderr,
            ..
        }) => assert!(
            stderr.contains("Migration failed, resuming at sender."),
            "{stderr}"
        ),
        other => panic!("{other:?}"),
    }
    once(&lab, "db", "h1");
    // Nothing to reconcile; a retry goes through.
    assert!(x.reconcile("h1", "h2", "db").unwrap().actions.is_empty());
    x.migrate("h1", "h2", "db").unwrap();
    once(&lab, "db", "h2");
}

#[test]
fn migration_fails_after_the_handshake() {
    let lab = Lab::new("mig-after");
    let x = lab.ssh();
    x.create("h1", &spec("db", 1024)).unwrap();
    lab.fault("h1", "migrate-after-handshake");
    match x.migrate("h1", "h2", "db") {
        Err(ExecError::MigrationFailed {
            resumed_at_sender: false,
            stderr,
            ..
        }) => assert!(stderr.contains("Domain state is now undefined"), "{stderr}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lab.copies("db"),
        [
            ("h1".to_string(), "db--migratedaway".to_string()),
            ("h2".to_string(), "db--incoming".to_string())
        ]
    );
    // The incoming copy holds its memory on h2 meanwhile.
    assert_eq!(x.host_info("h2").unwrap().free_memory_mib, 6144);
    // A retry refuses until reconciled.
    assert!(matches!(
        x.migrate("h1", "h2", "db"),
        Err(ExecError::MigrationFailed { .. })
    ));
    let plan = x.reconcile("h1", "h2", "db").unwrap();
    assert_eq!(plan.survivor.as_deref(), Some("h2"));
    once(&lab, "db", "h2");
    assert!(!load_host(&lab.state(), "h2").unwrap().domains["db"].paused);
    assert_eq!(x.host_info("h1").unwrap().free_memory_mib, 7168);
}

#[test]
fn migration_report_lost() {
    let lab = Lab::new("mig-lost");
    let x = lab.local();
    x.create("h1", &spec("db", 1024)).unwrap();
    lab.fault("h1", "migrate-lost-report:db");
    assert!(matches!(
        x.migrate("h1", "h2", "db"),
        Err(ExecError::MigrationFailed {
            resumed_at_sender: false,
            ..
        })
    ));
    assert_eq!(
        lab.copies("db"),
        [
            ("h1".to_string(), "db--migratedaway".to_string()),
            ("h2".to_string(), "db".to_string())
        ]
    );
    assert_eq!(
        x.reconcile("h1", "h2", "db").unwrap().survivor.as_deref(),
        Some("h2")
    );
    once(&lab, "db", "h2");
}

#[test]
fn failed_save_resumes_the_vm() {
    let lab = Lab::new("save");
    let x = lab.local();
    x.create("h1", &spec("job", 512)).unwrap();
    lab.fault("h1", "save");
    let image = lab.image("job");
    std::fs::create_dir_all(Path::new(&image).parent().unwrap()).unwrap();
    match x.save("h1", "job", &image) {
        Err(ExecError::SaveFailed { stderr, .. }) => {
            assert!(stderr.contains("Failed to save domain, resuming domain"))
        }
        other => panic!("{other:?}"),
    }
    once(&lab, "job", "h1");
    x.save("h1", "job", &image).unwrap();
    x.restore("h2", &spec("job", 512), &image).unwrap();
    once(&lab, "job", "h2");
}

#[test]
fn unreachable_host_and_timeout() {
    let lab = Lab::new("unreach");
    std::fs::write(lab.state().join("h3/unreachable"), "").unwrap();
    let x = lab.ssh();
    match x.host_info("h3") {
        Err(ExecError::Unreachable { host, stderr }) => {
            assert_eq!(host, "h3");
            assert!(stderr.contains("Connection refused"));
        }
        other => panic!("{other:?}"),
    }
    // A live migration towards it (listed through the local transport,
    // reached by `xl migrate` through the ssh script) fails before the
    // handshake.
    x.create("h1", &spec("vm", 256)).unwrap();
    let mut config = lab.config();
    config.command_timeout = Duration::from_millis(700);
    let t = LocalTransport::new(lab.dir.join("bin/xl"))
        .env("SLIVERS_XL_EMU_DIR", &lab.state().display().to_string())
        .host_name_var("SLIVERS_XL_EMU_HOST");
    let local = XenExecutor::new(Arc::new(t), config);
    match local.migrate("h1", "h3", "vm") {
        Err(ExecError::MigrationFailed {
            resumed_at_sender: true,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    once(&lab, "vm", "h1");
    lab.fault("h1", "timeout:vm");
    let start = std::time::Instant::now();
    assert!(matches!(
        local.destroy("h1", "vm"),
        Err(ExecError::Timeout { .. })
    ));
    assert!(start.elapsed() < Duration::from_secs(10));
    once(&lab, "vm", "h1");
}

#[test]
fn hosts_in_parallel() {
    let lab = Lab::new("parallel");
    let x = Arc::new(lab.local());
    let threads: Vec<_> = HOSTS
        .iter()
        .map(|h| {
            let x = Arc::clone(&x);
            let h = h.to_string();
            std::thread::spawn(move || {
                for i in 0..3 {
                    x.create(&h, &spec(&format!("{h}-vm{i}"), 256)).unwrap();
                }
                x.list(&h).unwrap().len()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 3);
    }
    // Two migrations in opposite directions at once do not deadlock.
    let a = {
        let x = Arc::clone(&x);
        std::thread::spawn(move || x.migrate("h1", "h2", "h1-vm0"))
    };
    let b = {
        let x = Arc::clone(&x);
        std::thread::spawn(move || x.migrate("h2", "h1", "h2-vm0"))
    };
    a.join().unwrap().unwrap();
    b.join().unwrap().unwrap();
    once(&lab, "h1-vm0", "h2");
    once(&lab, "h2-vm0", "h1");
}

#[test]
fn emulator_binary_speaks_xl() {
    let lab = Lab::new("binary");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(lab.dir.join("bin/xl"))
            .args(args)
            .env("SLIVERS_XL_EMU_DIR", lab.state())
            .env("SLIVERS_XL_EMU_HOST", "h1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&["info", "free_memory"]),
        (Some(0), "7168\n".into(), String::new())
    );
    let (code, out, _) = run(&["info"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("xen_scheduler          : credit2\n"));
    let (code, _, err) = run(&["destroy", "ghost"]);
    assert_eq!(
        (code, err.as_str()),
        (Some(1), "ghost is an invalid domain identifier (rc=-6)\n")
    );
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with(
        "Name                                        ID   Mem VCPUs\tState\tTime(s)\nDomain-0 "
    ));
    // Without state for the host, it answers like xl without Xen.
    let out = std::process::Command::new(lab.dir.join("bin/xl"))
        .arg("info")
        .env("SLIVERS_XL_EMU_DIR", lab.state())
        .env("SLIVERS_XL_EMU_HOST", "elsewhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot init xl context"));
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn dry_run_transcript_is_golden() {
    let cluster = Arc::new(EmuCluster::new());
    for h in ["h1", "h2", "h3"] {
        cluster.add_host(HostConfig::new(h, 16384, 8));
    }
    let buf = Shared::default();
    let t = dry_run(cluster.clone(), Box::new(buf.clone()));
    let transport: Arc<dyn Transport> = Arc::new(t);
    let x = XenExecutor::new(
        transport,
        XenConfig {
            migrate_ssh: Some("ssh -o BatchMode=yes".into()),
            ..XenConfig::default()
        },
    );
    let web = spec("web", 1024);
    x.host_info("h1").unwrap();
    x.list("h1").unwrap();
    x.create("h1", &web).unwrap();
    x.create("h1", &web).unwrap();
    let mut grown = spec("web", 2048);
    grown.vcpus = 2;
    grown.cap_percent = 150;
    x.resize("h1", &grown).unwrap();
    x.migrate("h1", "h2", "web").unwrap();
    x.migrate("h1", "h2", "web").unwrap();
    x.save("h2", "web", "/srv/xen/images/web.save").unwrap();
    x.restore("h3", &grown, "/srv/xen/images/web.save").unwrap();
    x.destroy("h3", "web").unwrap();
    x.destroy("h3", "web").unwrap();
    let batch = spec("batch", 512);
    x.create("h1", &batch).unwrap();
    cluster.inject("h1", "migrate-after-handshake:batch".parse().unwrap());
    assert!(x.migrate("h1", "h2", "batch").is_err());
    x.reconcile("h1", "h2", "batch").unwrap();
    x.destroy("h2", "batch").unwrap();

    let got = buf.0.lock().unwrap().clone();
    let golden = root().join("tests/golden/live/dry-run.jsonl");
    if std::env::var_os("SLIVERS_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read(&golden).expect("golden transcript (regenerate with SLIVERS_BLESS=1)");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "transcript differs from {} (regenerate with SLIVERS_BLESS=1)",
        golden.display()
    );
}
