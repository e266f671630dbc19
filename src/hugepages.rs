//! Transparent huge pages for the heap, asked of glibc when the binary starts.
//!
//! At 10^5 hosts a run's per-host and per-VM tables take about 600 MB and
//! every event touches a few random entries of them, so much of its time goes
//! to TLB misses (benches/README.md, "The hosting model at scale": 17 % of
//! the user time at 10^5 hosts, 4 to 7 % at 10^4). glibc 2.35 and later
//! advise its heaps for transparent huge pages, growing them in whole huge
//! pages, when the tunable `glibc.malloc.hugetlb=1` is set. Tunables are read
//! only when a process starts, so where the kernel gives huge pages only to
//! memory that asks for them (`madvise` in
//! `/sys/kernel/mm/transparent_hugepage/enabled`, the usual default), the
//! binary executes itself again once, with the tunable added to
//! `GLIBC_TUNABLES`. Child processes (ssh, xl, sbatch) inherit the tunable,
//! which only changes how their heaps are laid out.
//!
//! Nothing changes where THP is `always` or `never`, on other C libraries
//! (the tunable is only read by glibc), or with `SLIVERS_HUGEPAGES=0`.
//! Outputs never depend on it: only where the heap's pages come from.

/// The tunable that asks glibc for huge pages.
const TUNABLE: &str = "glibc.malloc.hugetlb=1";

/// The `GLIBC_TUNABLES` value to restart with, or `None` to go on as is:
/// `current` is today's value, `thp` the kernel's THP setting (the text of
/// `/sys/kernel/mm/transparent_hugepage/enabled`), `opt_out` the value of
/// `SLIVERS_HUGEPAGES`.
fn tunables(current: Option<&str>, thp: &str, opt_out: Option<&str>) -> Option<String> {
    if opt_out == Some("0") || !thp.contains("[madvise]") {
        return None;
    }
    match current {
        // Already asked for (or refused, with `hugetlb=0`) by the user, or by
        // this binary before it restarted: never a second restart.
        Some(t) if t.contains("glibc.malloc.hugetlb") => None,
        Some(t) if !t.is_empty() => Some(format!("{t}:{TUNABLE}")),
        _ => Some(TUNABLE.to_owned()),
    }
}

/// Executes the binary again with huge pages asked for, when [`tunables`]
/// says so; returns (and the run goes on with ordinary pages) when it does
/// not, or when the restart fails.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn restart_with_huge_pages() {
    use std::os::unix::process::CommandExt;
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let current = match std::env::var("GLIBC_TUNABLES") {
        Ok(t) => Some(t),
        Err(std::env::VarError::NotPresent) => None,
        // A value that is not UTF-8 is the user's business: leave it alone.
        Err(std::env::VarError::NotUnicode(_)) => return,
    };
    let opt_out = std::env::var("SLIVERS_HUGEPAGES").ok();
    let Some(value) = tunables(current.as_deref(), &thp, opt_out.as_deref()) else {
        return;
    };
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // `exec` returns only if it failed; the run then goes on in this process.
    let _failed = command.args(args).env("GLIBC_TUNABLES", value).exec();
}

/// Elsewhere there is no glibc tunable to ask with.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn restart_with_huge_pages() {}

#[cfg(test)]
mod tests {
    use super::tunables;

    const MADVISE: &str = "always [madvise] never\n";

    #[test]
    fn asks_only_where_the_kernel_wants_advice() {
        assert_eq!(
            tunables(None, MADVISE, None).as_deref(),
            Some("glibc.malloc.hugetlb=1")
        );
        assert_eq!(tunables(None, "[always] madvise never\n", None), None);
        assert_eq!(tunables(None, "always madvise [never]\n", None), None);
        // No THP support at all: the file is missing, read as "".
        assert_eq!(tunables(None, "", None), None);
    }

    #[test]
    fn keeps_the_users_tunables_and_never_restarts_twice() {
        assert_eq!(
            tunables(Some("glibc.malloc.arena_max=2"), MADVISE, None).as_deref(),
            Some("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1")
        );
        assert_eq!(
            tunables(Some(""), MADVISE, None).as_deref(),
            Some("glibc.malloc.hugetlb=1")
        );
        assert_eq!(tunables(Some("glibc.malloc.hugetlb=1"), MADVISE, None), None);
        assert_eq!(tunables(Some("glibc.malloc.hugetlb=0"), MADVISE, None), None);
    }

    #[test]
    fn slivers_hugepages_0_opts_out() {
        assert_eq!(tunables(None, MADVISE, Some("0")), None);
        assert!(tunables(None, MADVISE, Some("1")).is_some());
    }
}
