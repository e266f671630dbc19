//! The command line itself.

use crate::{root, slivers, temp_dir};

#[test]
fn policies_lists_every_policy_with_a_description() {
    let (ok, out, _) = slivers(&["policies"]);
    assert!(ok);
    for name in [
        "room-for-growth",
        "migrating",
        "first-fit",
        "best-fit",
        "follow-broker",
        "energy-aware",
        "worst-fit",
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(line.len() > name.len() + 20, "{line}");
    }
    // The site-selection policies have their own heading, after the
    // placement ones, each with its description.
    let heading = out
        .lines()
        .position(|l| l.starts_with("site selection"))
        .unwrap_or_else(|| panic!("no site-selection heading: {out}"));
    let placement = out.lines().position(|l| l.starts_with("placement")).unwrap();
    assert!(placement < heading, "{out}");
    let block: Vec<&str> = out
        .lines()
        .skip(heading + 1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    for kind in slivers_policy::SiteSelectionKind::ALL {
        let line = block
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{} ", kind.name())))
            .unwrap_or_else(|| panic!("{} not under the heading: {out}", kind.name()));
        assert!(line.contains(kind.description()), "{line}");
    }
    // Parameters are listed under their policy, with default and range.
    assert!(
        out.contains("max_utilization = 1 (default; from 0.01 to 1)"),
        "{out}"
    );
}

#[test]
fn run_prints_a_summary_table_and_writes_every_file() {
    let out = temp_dir("cli-run");
    let (ok, stdout, err) = slivers(&[
        "run",
        "tests/golden/small/scenario.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("provisioning/placement") && stdout.contains("migrating/energy-aware"),
        "{stdout}"
    );
    for f in [
        "summary.csv",
        "migrations.csv",
        "figure3.png",
        "figure3.svg",
        "figure3.pdf",
        "manifest.toml",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.starts_with(
        "run,provisioning,placement,seed,migrations,live_migrations,stop_copy_migrations,broker_migrations,\
         requests,granted,rejected,resizes,peak_active_hosts,mean_active_hosts"
    ));
}

#[test]
fn seed_flag_overrides_the_scenario() {
    let out = temp_dir("cli-seed");
    let (ok, _, err) = slivers(&[
        "run",
        "tests/golden/small/scenario.toml",
        "--seed",
        "42",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    let s = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(
        s.lines().skip(1).all(|l| l.split(',').nth(3) == Some("42")),
        "{s}"
    );
    assert!(
        std::fs::read_to_string(out.join("manifest.toml"))
            .unwrap()
            .contains("seed = 42")
    );
}

#[test]
fn trace_generate_reproduces_the_embedded_traces() {
    let out = temp_dir("cli-gen");
    let web = out.join("ecommerce-30d.csv");
    let batch = out.join("batch-30d.swf");
    let (ok, _, err) = slivers(&[
        "trace",
        "generate",
        "web",
        "--days",
        "30",
        "--seed",
        "1",
        "--start",
        "2026-01-05",
        "--base-rate",
        "2000",
        "--flash-crowds",
        "3",
        "--out",
        web.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = slivers(&[
        "trace",
        "generate",
        "batch",
        "--days",
        "30",
        "--seed",
        "2",
        "--start",
        "2026-01-05",
        "--nodes",
        "100",
        "--target-load",
        "0.35",
        "--out",
        batch.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(std::fs::read(&web).unwrap() == std::fs::read(root().join("traces/ecommerce-30d.csv")).unwrap());
    assert!(std::fs::read(&batch).unwrap() == std::fs::read(root().join("traces/batch-30d.swf")).unwrap());
}

#[test]
fn the_committed_figure3_results_are_current() {
    // results/figure3 is committed for the README; it must be what the
    // current code writes for scenarios/figure3.toml.
    let out = temp_dir("cli-f3");
    let (ok, _, err) = slivers(&[
        "run",
        "scenarios/figure3.toml",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(ok, "{err}");
    for f in ["summary.csv", "migrations.csv"] {
        let got = std::fs::read_to_string(out.join(f)).unwrap();
        let committed = std::fs::read_to_string(root().join("results/figure3").join(f)).unwrap();
        assert_eq!(
            got, committed,
            "results/figure3/{f} is stale: rerun `slivers run scenarios/figure3.toml`"
        );
    }
}

#[test]
fn live_names_the_executors_and_transports_it_knows() {
    let scenario = "tests/golden/small/scenario.toml";
    let (ok, _, err) = slivers(&["live", scenario, "--executor", "qemu"]);
    assert!(!ok);
    assert!(err.contains("dry-run, emulated, xen"), "{err}");
    let (ok, _, err) = slivers(&["live", scenario, "--executor", "xen", "--transport", "telnet"]);
    assert!(!ok);
    assert!(err.contains("ssh, local"), "{err}");
}

/// A policy with a parameter in `[[pairs]]`: the run labels it with its
/// value, and the value changes what the policy does; a parameter it does
/// not take is an error naming the pair's key and the parameters it takes.
#[test]
fn a_policy_parameter_is_labelled_and_takes_effect() {
    let d = temp_dir("policy-param");
    let base = std::fs::read_to_string(root().join("scenarios/scale-1e2.toml"))
        .unwrap()
        .replace("duration = \"30d\"", "duration = \"4d\"");
    let pairs = "[[pairs]]\nprovisioning = \"room-for-growth\"\nplacement = \"energy-aware\"\n\
                 [[pairs]]\nprovisioning = \"room-for-growth\"\n\
                 placement = { name = \"energy-aware\", max_utilization = 0.5 }\n";
    let s = d.0.join("p.toml");
    std::fs::write(&s, format!("{base}\n{pairs}")).unwrap();
    let out = d.0.join("out");
    let (ok, _, err) = slivers(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    assert!(ok, "{err}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = summary.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][col("placement")], "energy-aware");
    assert_eq!(rows[1][col("placement")], "energy-aware(max_utilization=0.5)");
    // Filling hosts only half way keeps more of them on.
    let active = |r: &Vec<&str>| r[col("mean_active_hosts")].parse::<f64>().unwrap();
    assert!(active(&rows[1]) > active(&rows[0]) * 1.1, "{summary}");

    let bad = d.0.join("bad.toml");
    let text = format!("{base}\n{pairs}").replace("max_utilization = 0.5", "max_util = 0.5");
    std::fs::write(&bad, text).unwrap();
    let (ok, _, err) = slivers(&["validate", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("pairs[1].placement")
            && err.contains("max_util")
            && err.contains("it takes: max_utilization"),
        "{err}"
    );
}

/// `slivers ARGS` on a terminal (util-linux `script` gives it one): what
/// the terminal showed, or `None` without `script`.
fn on_a_terminal(args: &[&str]) -> Option<String> {
    let line = std::iter::once(env!("CARGO_BIN_EXE_slivers"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(root())
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_bars_show_on_a_terminal_only_and_not_with_quiet() {
    let d = temp_dir("cli-progress");
    let out = |name: &str| d.join(name).to_str().unwrap().to_string();
    // Not a terminal (stderr is a pipe here): stderr stays empty.
    let commands: [Vec<String>; 3] = [
        vec![
            "run".into(),
            "scenarios/vm-requests-1k.toml".into(),
            "--out".into(),
            out("vm"),
        ],
        vec![
            "live".into(),
            "tests/golden/small/scenario.toml".into(),
            "--out".into(),
            out("live"),
        ],
        vec![
            "trace".into(),
            "generate".into(),
            "web".into(),
            "--days".into(),
            "1".into(),
            "--out".into(),
            out("web.csv"),
        ],
    ];
    for c in &commands {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let (ok, _, err) = slivers(&args);
        assert!(ok && err.is_empty(), "slivers {args:?}: {err}");
    }
    // On a terminal: a VM-request run's bar (simulated day, event rate) and
    // an emulated live run's (day, operations); --quiet hides them.
    let vm = ["run", "scenarios/vm-requests-1k.toml", "--out"];
    let Some(shown) = on_a_terminal(&[&vm[..], &[&out("vm-tty")]].concat()) else {
        eprintln!("no `script`: the terminal half of this test did not run");
        return;
    };
    assert!(
        shown.contains(" of 30, ") && shown.contains(" M events/s"),
        "{shown}"
    );
    let quiet = on_a_terminal(&[&vm[..], &[&out("vm-q"), "-q"]].concat()).unwrap();
    assert!(!quiet.contains("events/s"), "{quiet}");
    let live = [
        "live",
        "tests/golden/live/four-hosts.toml",
        "--executor",
        "emulated",
        "--time-scale",
        "200000",
        "--out",
    ];
    let shown = on_a_terminal(&[&live[..], &[&out("live-tty")]].concat()).unwrap();
    assert!(
        shown.contains(" operations  ") && shown.contains("day "),
        "{shown}"
    );
    let quiet = on_a_terminal(&[&live[..], &[&out("live-q"), "-q"]].concat()).unwrap();
    assert!(!quiet.contains("day "), "{quiet}");
}
