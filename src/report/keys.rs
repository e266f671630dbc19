//! Swept scenario keys as people and tools read them.
//!
//! A sweep key is a dotted path into the scenario, such as
//! `guest[0].peak_units` or `hosts.count`. Written raw, it reads badly in a
//! figure and breaks tools that read `runs.csv` (R's `read.csv` turns
//! `guest[0].peak_units` into `guest.0..peak_units`; pandas cannot use it
//! as an attribute). So each key gets:
//!
//! * a **column name** ([`column_names`]) for `runs.csv`, `ordering.csv`
//!   and figure file names: `[A-Za-z_][A-Za-z0-9_]*`, e.g.
//!   `guest0_peak_units`, `hosts_count`, unique among the sweep's columns;
//! * a **label** ([`key_label`]) for titles and axes, with the guest's name
//!   for its index: `web peak units`, `hosts`.
//!
//! The sweep's `manifest.toml` keeps the raw keys with their column names
//! and labels, so nothing is lost and `slivers plot` labels figures from
//! the CSVs and the manifest alone.

use crate::outcome::{FEDERATION_METRICS, METRICS, OUTAGE_METRICS};

/// The columns of `runs.csv` that are not swept keys; a key's column never
/// takes one of these names.
pub fn fixed_columns() -> impl Iterator<Item = &'static str> {
    ["run", "point", "replicate", "seed", "provisioning", "placement"]
        .into_iter()
        .chain(METRICS.iter().map(|m| m.name))
        .chain(OUTAGE_METRICS.iter().map(|m| m.name))
        .chain(FEDERATION_METRICS.iter().map(|m| m.name))
}

/// The parts of a key: `guest[0].peak_units` gives `guest`, `0`,
/// `peak_units`.
fn key_parts(key: &str) -> impl Iterator<Item = &str> {
    key.split(['.', '[', ']']).filter(|p| !p.is_empty())
}

/// A key as a CSV-safe name, before making it unique: the parts joined by
/// `_`, an index glued to the part before it (`guest[0].peak_units` ->
/// `guest0_peak_units`), every other character outside `[A-Za-z0-9_]`
/// replaced by `_`, runs of `_` collapsed, and `_` put first if the name
/// would start with a digit (`key` if nothing is left).
pub fn column_name(key: &str) -> String {
    let mut name = String::new();
    let mut after_index_base = false;
    for part in key_parts(key) {
        let index = part.bytes().all(|b| b.is_ascii_digit());
        // An index follows its base with no separator: `guest0`.
        let glued = index && after_index_base;
        if !name.is_empty() && !glued {
            name.push('_');
        }
        name.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
        after_index_base = !index;
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('_').to_owned();
    match out.chars().next() {
        None => "key".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        Some(_) => out,
    }
}

/// The column names of `keys`, in order: each key's [`column_name`], with
/// `_2`, `_3`, ... appended to one that would repeat an earlier key's
/// column or a [fixed column](fixed_columns) (a key swept as `seed` becomes
/// `seed_2`). The same keys always give the same names.
pub fn column_names(keys: &[String]) -> Vec<String> {
    let mut taken: Vec<String> = fixed_columns().map(str::to_owned).collect();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let base = column_name(key);
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        taken.push(name.clone());
        out.push(name);
    }
    out
}

/// A key as figures show it: `hosts.count` is `hosts`; a guest's key
/// starts with the guest's name (`guest_names[i]`, else `guest i`), then
/// the rest of its parts, with spaces for dots and underscores:
/// `guest[0].peak_units` is `web peak units`, `sliver.quantum` is
/// `sliver quantum`.
pub fn key_label(key: &str, guest_names: &[String]) -> String {
    if key == "hosts.count" {
        return "hosts".to_owned();
    }
    let parts: Vec<&str> = key_parts(key).collect();
    let mut words: Vec<String> = Vec::new();
    let mut rest = &parts[..];
    if let ["guest", index, tail @ ..] = &parts[..]
        && let Ok(i) = index.parse::<usize>()
    {
        words.push(match guest_names.get(i) {
            Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => format!("guest {i}"),
        });
        rest = tail;
    }
    words.extend(rest.iter().map(|p| p.replace('_', " ")));
    words.join(" ")
}

/// The label of a `runs.csv` column when the manifest gives none (a
/// folder from before labels, or CSVs alone): [`key_label`] of it read as
/// a key, so `hosts_count` is `hosts count` and `guest[0].peak_units` is
/// `guest 0 peak units`.
pub fn column_label(column: &str) -> String {
    key_label(column, &[])
}

/// The last part of a key, with spaces for underscores:
/// `guest[1].procs_per_vm` is `procs per vm` (short headers of the
/// ordering map's panels).
pub fn short_label(key: &str) -> String {
    key_parts(key).last().unwrap_or(key).replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn column_names_are_safe_stable_and_unique() {
        assert_eq!(column_name("guest[0].peak_units"), "guest0_peak_units");
        assert_eq!(
            column_name("guest[12].trace.target_load"),
            "guest12_trace_target_load"
        );
        assert_eq!(column_name("hosts.count"), "hosts_count");
        assert_eq!(column_name("sliver.quantum"), "sliver_quantum");
        assert_eq!(column_name("pairs[1].provisioning"), "pairs1_provisioning");
        assert_eq!(column_name("a-b.c d"), "a_b_c_d");
        assert_eq!(column_name("0.x"), "_0_x");
        assert_eq!(column_name("[]"), "key");
        assert_eq!(column_name("é.x"), "x");
        let safe = |s: &str| {
            let mut c = s.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let all = keys(&[
            "guest[0].peak_units",
            "guest0.peak_units",
            "guest[0].peak.units",
            "seed",
            "hosts",
            "migrations",
            "0",
            "a..b",
        ]);
        let names = column_names(&all);
        assert_eq!(
            names,
            [
                "guest0_peak_units",
                "guest0_peak_units_2",
                "guest0_peak_units_3",
                "seed_2",
                "hosts_2",
                "migrations_2",
                "_0",
                "a_b"
            ]
        );
        assert!(names.iter().all(|n| safe(n)), "{names:?}");
        assert_eq!(column_names(&all), names, "stable");
        assert!(fixed_columns().all(|c| !names.iter().any(|n| n == c)));
    }

    #[test]
    fn labels_name_the_guest() {
        let guests = keys(&["web", "batch"]);
        assert_eq!(key_label("guest[0].peak_units", &guests), "web peak units");
        assert_eq!(
            key_label("guest[1].trace.target_load", &guests),
            "batch trace target load"
        );
        assert_eq!(key_label("guest[2].peak_units", &guests), "guest 2 peak units");
        assert_eq!(key_label("guest[0].peak_units", &[]), "guest 0 peak units");
        assert_eq!(key_label("hosts.count", &guests), "hosts");
        assert_eq!(key_label("sliver.quantum", &guests), "sliver quantum");
        assert_eq!(column_label("hosts_count"), "hosts count");
        assert_eq!(column_label("guest0_peak_units"), "guest0 peak units");
        assert_eq!(short_label("guest[1].procs_per_vm"), "procs per vm");
        assert_eq!(short_label("sliver.quantum"), "quantum");
    }
}
