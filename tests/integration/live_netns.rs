//! The live driver over real ssh: four emulated hosts, each in its own
//! Linux network namespace with its own sshd, on a bridge. The controller
//! reaches each dom0 with `SshTransport`, and `xl migrate` on a source runs
//! ssh to the destination's sshd, as on real Xen hosts.
//!
//! Needs root, `ip` (iproute2) and `sshd` (openssh-server): `.ci/run`
//! installs them and sets `SLIVERS_NETNS=1`; without it the test returns
//! at once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use slivers::experiment::{RunOptions, run_scenario};
use slivers::live::driver::{LiveOptions, Pace, run_live};
use slivers::live::executor::Executor;
use slivers::live::transport::SshTransport;
use slivers::live::xen::{XenConfig, XenExecutor};
use slivers::scenario::Scenario;
use slivers_xl_emu::HostConfig;
use slivers_xl_emu::dir::init_host;

use crate::{TempDir, root, temp_dir};

const N: usize = 4;

fn sh(cmd: &str) {
    let ok = Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "failed: {cmd}");
}

fn ip(i: usize) -> String {
    format!("10.77.0.{}", 10 + i)
}

/// The namespaces, the bridge and the sshds; torn down on drop.
struct Net {
    dir: TempDir,
}

impl Net {
    fn teardown() {
        let _ = Command::new("sh")
            .args([
                "-c",
                "pkill -f 'netns/[c]m-' ; for i in 0 1 2 3; do ip netns pids slvns$i 2>/dev/null | xargs -r kill; \
                 ip netns del slvns$i 2>/dev/null; ip link del slvv$i 2>/dev/null; done; ip link del slvbr 2>/dev/null; true",
            ])
            .status();
    }

    fn up() -> Net {
        Net::teardown();
        let dir = temp_dir("netns");
        let d = dir.display().to_string();
        let emu = Path::new(env!("CARGO_BIN_EXE_slivers-xl-emu"));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::os::unix::fs::symlink(emu, dir.join("bin/xl")).unwrap();
        sh(&format!(
            "ssh-keygen -q -t ed25519 -N '' -f {d}/id && ssh-keygen -q -t ed25519 -N '' -f {d}/hostkey \
             && cp {d}/id.pub {d}/authorized_keys && chmod 600 {d}/authorized_keys && mkdir -p /run/sshd"
        ));
        sh("ip link add slvbr type bridge && ip addr add 10.77.0.254/24 dev slvbr && ip link set slvbr up");
        for i in 0..N {
            init_host(&dir.join("state"), &HostConfig::new(&format!("n{i}"), 4096, 4)).unwrap();
            sh(&format!(
                "ip netns add slvns{i} && ip netns exec slvns{i} ip link set lo up \
                 && ip link add slvv{i} type veth peer name eth0 netns slvns{i} \
                 && ip link set slvv{i} master slvbr && ip link set slvv{i} up \
                 && ip netns exec slvns{i} ip addr add {a}/24 dev eth0 \
                 && ip netns exec slvns{i} ip link set eth0 up",
                a = ip(i)
            ));
            std::fs::write(
                dir.join(format!("sshd{i}.conf")),
                format!(
                    "ListenAddress {a}\nHostKey {d}/hostkey\nPidFile {d}/sshd{i}.pid\n\
                     AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                     SetEnv SLIVERS_XL_EMU_HOST=n{i} SLIVERS_XL_EMU_DIR={d}/state PATH={d}/bin:/usr/bin:/bin\n",
                    a = ip(i)
                ),
            )
            .unwrap();
            sh(&format!(
                "ip netns exec slvns{i} /usr/sbin/sshd -f {d}/sshd{i}.conf -E {d}/sshd{i}.log"
            ));
        }
        Net { dir }
    }

    /// The controller's ssh: one multiplexed connection per host.
    fn ssh_command(&self) -> String {
        format!(
            "{} -o ControlMaster=auto -o ControlPath={}/cm-%h -o ControlPersist=30",
            self.migrate_ssh(),
            self.dir.display()
        )
    }

    /// The ssh `xl migrate` runs on a source host to reach its destination.
    fn migrate_ssh(&self) -> String {
        format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
             -o ConnectTimeout=5 -i {}/id -l root",
            self.dir.display()
        )
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        Net::teardown();
    }
}

#[test]
#[ignore = "needs root, sshd and iproute2; .ci/run runs it with SLIVERS_NETNS=1 and --ignored"]
fn live_run_over_ssh_between_network_namespaces_matches_the_simulation() {
    assert!(
        std::env::var_os("SLIVERS_NETNS").is_some(),
        "this test sets up network namespaces as root: run it with SLIVERS_NETNS=1 (see .ci/run)"
    );
    let net = Net::up();
    let ssh = net.ssh_command();
    let transport = SshTransport::new().ssh_command(&ssh).user(Some("root"));
    let exec = Arc::new(XenExecutor::new(
        Arc::new(transport),
        XenConfig {
            config_dir: net.dir.join("cfg").display().to_string(),
            migrate_ssh: Some(net.migrate_ssh()),
            ..XenConfig::default()
        },
    ));
    let hosts: Vec<String> = (0..N).map(ip).collect();
    let scenario = Scenario::load(&root().join("tests/golden/live/four-hosts.toml")).unwrap();
    let opts = LiveOptions {
        pair: scenario.pairs[0],
        seed: scenario.seed,
        pace: Pace::Wall { scale: 7200.0 },
        journal: net.dir.join("journal.jsonl"),
        resume: false,
        hosts: hosts.clone(),
        image_dir: net.dir.join("images").display().to_string(),
        vm_prefix: "sliver-".into(),
        retries: 3,
        on_host_loss: slivers::live::driver::HostLoss::Stop,
    };
    let live = run_live(&scenario, exec.clone(), &opts).unwrap();
    let sim = run_scenario(&scenario, RunOptions::default(), |_| {})
        .unwrap()
        .remove(0);
    assert!(sim.site.migrations() > 0);
    assert_eq!(live.result.site.migrations(), sim.site.migrations());
    let mut actual: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        for vm in exec.list(h).unwrap() {
            actual.entry(vm.name).or_default().push(format!("h{i}"));
        }
    }
    let want: BTreeMap<String, Vec<String>> = sim
        .final_placement
        .iter()
        .map(|&(vm, h)| (format!("sliver-{vm}"), vec![format!("h{h}")]))
        .collect();
    assert_eq!(actual, want, "every VM once, where the simulation put it");
    // The migrations really went host to host over ssh: sshd logged the
    // destination's xl migrate-receive sessions from a source namespace.
    let logs: String = (0..N)
        .map(|i| std::fs::read_to_string(net.dir.join(format!("sshd{i}.log"))).unwrap_or_default())
        .collect();
    assert!(
        (0..N).any(|i| logs.contains(&format!("from {}", ip(i)))),
        "no ssh session came from a host namespace:\n{logs}"
    );
}
