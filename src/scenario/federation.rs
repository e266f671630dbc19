//! `[[site]]`, `[[broker]]`, `[[delegation]]`, `[wan]` and the guests'
//! `brokers` and `site`: a federation of sites and brokers, as written
//! and as validated ([`FederationConfig`]).

use serde::Deserialize;
use slivers_policy::{HostId, PlacementKind, ProvisioningKind, Resources, SiteId, SiteSelectionKind};

use super::ScenarioError;
use super::context::Ctx;
use super::outages::RawHostSet;
use super::raw::{RawDuration, RawGuest, RawPolicy};
use crate::engine::SimTime;
use crate::model::{
    BrokerConfig, Delegation, FederationConfig, MigrationParams, PowerParams, SiteConfig, WanLink,
};

/// `[[site]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawSite {
    pub name: String,
    pub hosts: i64,
    pub cpu_millicores: Option<i64>,
    pub memory_mib: Option<i64>,
    pub bandwidth_mbps: Option<i64>,
    pub disk_gib: Option<i64>,
    pub placement: Option<RawPolicy<PlacementKind>>,
    pub idle_watts: Option<f64>,
    pub peak_watts: Option<f64>,
    pub migration: Option<super::raw::RawMigration>,
}

/// `[[broker]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawBroker {
    pub name: String,
    pub provisioning: Option<RawPolicy<ProvisioningKind>>,
    pub site_selection: Option<RawPolicy<SiteSelectionKind>>,
}

/// `[[delegation]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawDelegation {
    pub site: String,
    pub broker: String,
    pub hosts: Option<RawHostSet>,
    pub share: Option<f64>,
}

/// `[wan]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawWan {
    pub bandwidth_mbps: Option<i64>,
    pub latency: Option<RawDuration>,
}

/// Default WAN bandwidth between sites, Mbit/s.
pub const DEFAULT_WAN_MBPS: i64 = 1000;
/// Default WAN latency between sites.
pub const DEFAULT_WAN_LATENCY: SimTime = SimTime(50);

/// What the rest of the scenario gives the federation.
pub(super) struct Defaults {
    /// `[hosts]`' size of a host.
    pub capacity: Resources,
    /// `[energy]`.
    pub power: PowerParams,
    /// `[migration]`.
    pub migration: MigrationParams,
    /// The sliver quantum's unit.
    pub unit: Resources,
    /// `[hosts] count`, if written.
    pub count: Option<i64>,
}

/// The federation of a scenario, if it has `[[site]]`s; with them, the
/// total number of hosts.
pub(super) fn validate(
    cx: &Ctx,
    sites: &[RawSite],
    brokers: &[RawBroker],
    delegations: &[RawDelegation],
    wan: Option<&RawWan>,
    guests: &[RawGuest],
    d: &Defaults,
) -> Result<Option<(FederationConfig, u32)>, ScenarioError> {
    let routes: Vec<(Option<&Vec<String>>, Option<&String>)> = guests
        .iter()
        .map(|g| match g {
            RawGuest::Web(w) => (w.brokers.as_ref(), w.site.as_ref()),
            RawGuest::Batch(b) => (b.brokers.as_ref(), b.site.as_ref()),
        })
        .collect();
    if sites.is_empty() {
        let key = if !brokers.is_empty() {
            Some("broker")
        } else if !delegations.is_empty() {
            Some("delegation")
        } else if wan.is_some() {
            Some("wan")
        } else {
            None
        };
        if let Some(key) = key {
            return Err(cx.invalid(key, "[[site]] tables to go with it (a federation)", "no [[site]]"));
        }
        if let Some((i, (b, s))) = routes
            .iter()
            .enumerate()
            .find(|(_, (b, s))| b.is_some() || s.is_some())
        {
            let key = if b.is_some() { "brokers" } else { "site" };
            let _ = s;
            return Err(cx.invalid(
                format!("guest[{i}].{key}"),
                "[[site]] and [[broker]] tables to name",
                "a scenario of one site and one broker",
            ));
        }
        return Ok(None);
    }

    // Sites.
    let mut site_cfgs = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, s) in sites.iter().enumerate() {
        let key = |k: &str| format!("site[{i}].{k}");
        if s.name.is_empty() || names.contains(&s.name.as_str()) {
            return Err(cx.invalid(
                key("name"),
                "a distinct, non-empty site name",
                format!("{:?}", s.name),
            ));
        }
        names.push(&s.name);
        let hosts = cx.positive(&key("hosts"), Some(s.hosts), 1, 1_000_000)? as u32;
        let dim = |k: &str, v: Option<i64>, default: u64| -> Result<u64, ScenarioError> {
            cx.positive(&key(k), v, default as i64, 1 << 40)
        };
        let c = d.capacity;
        let capacity = Resources::new(
            dim("cpu_millicores", s.cpu_millicores, c.cpu_millicores())?,
            dim("memory_mib", s.memory_mib, c.memory_mib())?,
            dim("bandwidth_mbps", s.bandwidth_mbps, c.0[2])?,
            dim("disk_gib", s.disk_gib, c.0[3])?,
        );
        if !d.unit.fits_in(&capacity) {
            return Err(cx.invalid(
                key("cpu_millicores"),
                format!("hosts that hold at least one sliver unit ({})", d.unit),
                capacity,
            ));
        }
        let idle_watts = cx.fraction(&key("idle_watts"), s.idle_watts, d.power.idle_watts, 0.0, 1e6)?;
        let peak_watts = cx.fraction(
            &key("peak_watts"),
            s.peak_watts,
            d.power.peak_watts.max(idle_watts),
            0.0,
            1e6,
        )?;
        if peak_watts < idle_watts {
            return Err(cx.invalid(
                key("peak_watts"),
                format!("at least idle_watts ({idle_watts})"),
                peak_watts,
            ));
        }
        let placement = match &s.placement {
            None => None,
            Some(p) => Some(super::policy(cx, key("placement"), p)?),
        };
        site_cfgs.push(SiteConfig {
            hosts,
            capacity,
            placement,
            power: PowerParams {
                idle_watts,
                peak_watts,
                ..d.power
            },
            migration: cx.migration_at(&key("migration"), s.migration.as_ref(), d.migration)?,
        });
    }
    let total: u64 = site_cfgs.iter().map(|s| s.hosts as u64).sum();
    if total > 10_000_000 {
        return Err(cx.invalid("site", "at most 10^7 hosts over all sites", total));
    }
    if let Some(n) = d.count
        && n as u64 != total
    {
        return Err(cx.invalid(
            "hosts.count",
            format!("the sites' hosts summed ({total}), or no count (the sites say)"),
            n,
        ));
    }
    let site_index = |key: String, name: &str| -> Result<usize, ScenarioError> {
        names.iter().position(|n| *n == name).ok_or_else(|| {
            cx.invalid(
                key,
                format!("a site of [[site]]: {}", names.join(", ")),
                format!("{name:?}"),
            )
        })
    };

    // Brokers: an implicit one over every site's hosts, whole, if none is written.
    let implicit = [RawBroker {
        name: "broker".into(),
        provisioning: None,
        site_selection: None,
    }];
    let (brokers, explicit) = match brokers.is_empty() {
        true => (&implicit[..], false),
        false => (brokers, true),
    };
    if !explicit && !delegations.is_empty() {
        return Err(cx.invalid("delegation", "[[broker]] tables to delegate to", "no [[broker]]"));
    }
    let mut bnames: Vec<&str> = Vec::new();
    for (i, b) in brokers.iter().enumerate() {
        if b.name.is_empty() || bnames.contains(&b.name.as_str()) {
            return Err(cx.invalid(
                format!("broker[{i}].name"),
                "a distinct, non-empty broker name",
                format!("{:?}", b.name),
            ));
        }
        bnames.push(&b.name);
    }
    let broker_index = |key: String, name: &str| -> Result<usize, ScenarioError> {
        bnames.iter().position(|n| *n == name).ok_or_else(|| {
            cx.invalid(
                key,
                format!("a broker of [[broker]]: {}", bnames.join(", ")),
                format!("{name:?}"),
            )
        })
    };

    // Delegations: per broker, per site, per host the share delegated.
    let mut shares: Vec<Vec<Vec<Option<f64>>>> = vec![vec![Vec::new(); sites.len()]; brokers.len()];
    let mut given: Vec<Vec<f64>> = site_cfgs.iter().map(|s| vec![0.0; s.hosts as usize]).collect();
    if explicit {
        for (i, dl) in delegations.iter().enumerate() {
            let key = |k: &str| format!("delegation[{i}].{k}");
            let s = site_index(key("site"), &dl.site)?;
            let b = broker_index(key("broker"), &dl.broker)?;
            if !shares[b][s].is_empty() {
                return Err(cx.invalid(
                    format!("delegation[{i}]"),
                    "one [[delegation]] per broker and site",
                    format!("a second one of site {:?} to broker {:?}", dl.site, dl.broker),
                ));
            }
            let n = site_cfgs[s].hosts;
            let list = match &dl.hosts {
                None => (0..n).map(HostId).collect(),
                Some(set) => super::outages::host_set(cx, &key("hosts"), set, n)?,
            };
            let share = cx.fraction(&key("share"), dl.share, 1.0, 0.0, 1.0)?;
            if share == 0.0 {
                return Err(cx.invalid(key("share"), "a share in (0, 1]", share));
            }
            let logical = shared(&site_cfgs[s].capacity, share);
            if !d.unit.fits_in(&logical) {
                return Err(cx.invalid(
                    key("share"),
                    format!(
                        "a share that leaves each host at least one sliver unit ({})",
                        d.unit
                    ),
                    format!("{share} ({logical})"),
                ));
            }
            let mut per_host = vec![None; n as usize];
            for h in list {
                let g = &mut given[s][h.index()];
                *g += share;
                if *g > 1.0 + 1e-9 {
                    return Err(cx.invalid(
                        key("share"),
                        format!(
                            "at most the whole of each host of site {:?} delegated over all brokers",
                            dl.site
                        ),
                        format!("host {} of it delegated {:.3} times", h.0, *g),
                    ));
                }
                per_host[h.index()] = Some(share);
            }
            shares[b][s] = per_host;
        }
    } else {
        for s in 0..sites.len() {
            shares[0][s] = vec![Some(1.0); site_cfgs[s].hosts as usize];
        }
    }
    let mut broker_cfgs = Vec::new();
    for (b, raw) in brokers.iter().enumerate() {
        let delegations: Vec<Delegation> = shares[b]
            .iter()
            .enumerate()
            .filter(|(_, per_host)| per_host.iter().any(Option::is_some))
            .map(|(s, per_host)| {
                let site = &site_cfgs[s];
                Delegation {
                    site: s as u32,
                    hosts: per_host
                        .iter()
                        .map(|sh| sh.map(|x| shared(&site.capacity, x)))
                        .collect(),
                    watts_per_core: site.power.peak_watts
                        / (site.capacity.cpu_millicores() as f64 / 1000.0).max(1e-9),
                }
            })
            .collect();
        if delegations.is_empty() {
            return Err(cx.invalid(
                format!("broker[{b}]"),
                "a [[delegation]] naming it (a broker provisions only what sites delegate)",
                format!("none for broker {:?}", raw.name),
            ));
        }
        let provisioning = match &raw.provisioning {
            None => None,
            Some(p) => Some(super::policy(cx, format!("broker[{b}].provisioning"), p)?),
        };
        let selection = match &raw.site_selection {
            None => SiteSelectionKind::LeastLoaded.into(),
            Some(p) => super::policy(cx, format!("broker[{b}].site_selection"), p)?,
        };
        broker_cfgs.push(BrokerConfig {
            provisioning,
            selection,
            delegations,
        });
    }

    // Guests' brokers and pins.
    let mut guest_brokers = Vec::new();
    let mut pins = Vec::new();
    for (i, (bs, pin)) in routes.iter().enumerate() {
        let list: Vec<u32> = match bs {
            None => (0..brokers.len() as u32).collect(),
            Some(bs) if bs.is_empty() => {
                return Err(cx.invalid(
                    format!("guest[{i}].brokers"),
                    "at least one broker",
                    "an empty list",
                ));
            }
            Some(bs) => bs
                .iter()
                .map(|n| broker_index(format!("guest[{i}].brokers"), n).map(|b| b as u32))
                .collect::<Result<_, _>>()?,
        };
        let pin = match pin {
            None => None,
            Some(name) => {
                let s = site_index(format!("guest[{i}].site"), name)?;
                if !list
                    .iter()
                    .any(|&b| broker_cfgs[b as usize].selection.kind() == SiteSelectionKind::Pinned)
                {
                    return Err(cx.invalid(
                        format!("guest[{i}].site"),
                        "a broker of the guest with site_selection = \"pinned\" (the other policies ignore a guest's site)",
                        format!("{name:?} with no such broker"),
                    ));
                }
                if !list.iter().any(|&b| {
                    broker_cfgs[b as usize]
                        .delegations
                        .iter()
                        .any(|dl| dl.site == s as u32)
                }) {
                    return Err(cx.invalid(
                        format!("guest[{i}].site"),
                        "a site one of the guest's brokers has a delegation of",
                        format!("{name:?}"),
                    ));
                }
                Some(SiteId(s as u32))
            }
        };
        guest_brokers.push(list);
        pins.push(pin);
    }

    let w = wan.cloned().unwrap_or_default();
    let mbps = cx.positive("wan.bandwidth_mbps", w.bandwidth_mbps, DEFAULT_WAN_MBPS, 1 << 40)?;
    let latency = cx.duration("wan.latency", w.latency.as_ref(), DEFAULT_WAN_LATENCY)?;
    let link = WanLink {
        latency,
        mibps: mbps as f64 / 8.0 * 1e6 / (1024.0 * 1024.0),
    };
    let n = sites.len();
    Ok(Some((
        FederationConfig {
            sites: site_cfgs,
            brokers: broker_cfgs,
            guest_brokers,
            pins,
            wan: vec![vec![link; n]; n],
            site_names: names.iter().map(|n| n.to_string()).collect(),
            broker_names: bnames.iter().map(|n| n.to_string()).collect(),
        },
        total as u32,
    )))
}

/// `share` of `capacity` in every dimension, rounded down.
fn shared(capacity: &Resources, share: f64) -> Resources {
    let mut r = *capacity;
    for v in r.0.iter_mut() {
        *v = (*v as f64 * share + 1e-9).floor() as u64;
    }
    r
}
