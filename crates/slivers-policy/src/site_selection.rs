//! Broker site selection: which site a new sliver goes to, when the broker's
//! logical inventory spans several sites. The broker ranks the sites first;
//! its provisioning policy ([`crate::Provisioning`]) then chooses the logical
//! host within the first site that takes the sliver.
//!
//! Every policy compares exact integers where it compares resources (no
//! floating-point division), so equal sites really tie, and every tie goes
//! to the lowest [`SiteId`]: a ranking depends only on the views, not on
//! their order in the slice.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::params::{Parameter, Policy, PolicyKind};
use crate::policies::{CheapestEnergy, LeastLoaded, MostFree, Pinned};
use crate::{DIMS, Resources, SiteId};

/// One site as a broker sees it when it chooses where a new sliver goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteView {
    /// The site.
    pub id: SiteId,
    /// The broker's logical capacity at the site (sum over the hosts the site delegates to it).
    pub capacity: Resources,
    /// What the broker has granted there.
    pub used: Resources,
    /// True if some logical host of the broker at this site has room for the sliver.
    pub fits: bool,
    /// The site's power cost of one core at full load, W (peak watts / cores of one of its hosts): for cheapest-energy.
    pub watts_per_core: f64,
    /// True if the guest asks for this site (its `site` pin).
    pub pinned: bool,
}

/// A broker site-selection policy: a pure ranking of the sites.
pub trait SiteSelection: Send + Sync {
    /// Appends to `out` the sites to try for a sliver of `size`, best first; only sites with `fits`. Ties break by the lowest SiteId. Never panics.
    fn rank(&self, sites: &[SiteView], size: &Resources, out: &mut Vec<SiteId>);
}

/// Every site-selection policy by name. The serde names are the names used
/// in scenario files and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SiteSelectionKind {
    /// See [`LeastLoaded`].
    LeastLoaded,
    /// See [`MostFree`].
    MostFree,
    /// See [`CheapestEnergy`].
    CheapestEnergy,
    /// See [`Pinned`].
    Pinned,
}

impl SiteSelectionKind {
    /// All of them, in the order `slivers policies` lists them.
    pub const ALL: [SiteSelectionKind; 4] = [
        SiteSelectionKind::LeastLoaded,
        SiteSelectionKind::MostFree,
        SiteSelectionKind::CheapestEnergy,
        SiteSelectionKind::Pinned,
    ];

    /// The policy object.
    pub fn build(self) -> Box<dyn SiteSelection> {
        match self {
            SiteSelectionKind::LeastLoaded => Box::new(LeastLoaded),
            SiteSelectionKind::MostFree => Box::new(MostFree),
            SiteSelectionKind::CheapestEnergy => Box::new(CheapestEnergy),
            SiteSelectionKind::Pinned => Box::new(Pinned),
        }
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SiteSelectionKind::LeastLoaded => "least-loaded",
            SiteSelectionKind::MostFree => "most-free",
            SiteSelectionKind::CheapestEnergy => "cheapest-energy",
            SiteSelectionKind::Pinned => "pinned",
        }
    }

    /// One line for `slivers policies`.
    pub fn description(self) -> &'static str {
        match self {
            SiteSelectionKind::LeastLoaded => {
                "the site whose busiest dimension is least utilised after the sliver (used / capacity, exact); ties by lowest site id"
            }
            SiteSelectionKind::MostFree => {
                "the site with the most free CPU after the sliver, then the most free memory; ties by lowest site id"
            }
            SiteSelectionKind::CheapestEnergy => {
                "the site with the lowest peak watts per core, then least-loaded; ties by lowest site id"
            }
            SiteSelectionKind::Pinned => {
                "only the sites the guest pins (by id); a guest that pins none falls back to least-loaded"
            }
        }
    }

    /// Parses a name, or says which names are valid.
    pub fn from_name(name: &str) -> Result<Self, crate::UnknownPolicy> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| crate::UnknownPolicy::new("site-selection", name, Self::ALL.map(|k| k.name())))
    }
}

impl PolicyKind for SiteSelectionKind {
    fn name(self) -> &'static str {
        SiteSelectionKind::name(self)
    }

    /// No site-selection policy takes parameters yet.
    fn parameters(self) -> &'static [Parameter] {
        &[]
    }
}

impl Policy<SiteSelectionKind> {
    /// The policy object, with the values given.
    pub fn build(&self) -> Box<dyn SiteSelection> {
        self.kind().build()
    }
}

impl std::fmt::Display for SiteSelectionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Appends to `out` the ids of the sites that `keep`, ordered by `better`
/// (smaller is better), then by the lowest id. The sort is stable, so even
/// two views with the same id keep their slice order.
pub(crate) fn rank_where(
    sites: &[SiteView],
    keep: impl Fn(&SiteView) -> bool,
    better: impl Fn(&SiteView, &SiteView) -> Ordering,
    out: &mut Vec<SiteId>,
) {
    let mut kept: Vec<&SiteView> = sites.iter().filter(|s| keep(s)).collect();
    kept.sort_by(|a, b| better(a, b).then(a.id.cmp(&b.id)));
    out.extend(kept.into_iter().map(|s| s.id));
}

/// A site's utilisation: an exact fraction `num / den`, compared by integer
/// cross-multiplication. `den == 0` stands for "infinitely loaded" (some
/// load on a dimension of zero capacity); it is never `0 / 0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Utilisation {
    num: u64,
    den: u64,
}

impl Utilisation {
    const IDLE: Utilisation = Utilisation { num: 0, den: 1 };

    /// `load / capacity` for one dimension: nothing on a zero-capacity
    /// dimension is idle, something on one is infinitely loaded.
    fn of(load: u64, capacity: u64) -> Self {
        match (load, capacity) {
            (0, 0) => Self::IDLE,
            (_, 0) => Utilisation { num: 1, den: 0 },
            _ => Utilisation {
                num: load,
                den: capacity,
            },
        }
    }

    /// The utilisation of `site` once a sliver of `size` is added: the
    /// largest over the dimensions of `(used + size) / capacity` (the sum
    /// saturates at `u64::MAX`, which no real inventory reaches).
    pub(crate) fn after(site: &SiteView, size: &Resources) -> Self {
        (0..DIMS)
            .map(|d| Self::of(site.used.0[d].saturating_add(size.0[d]), site.capacity.0[d]))
            .max()
            .unwrap_or(Self::IDLE)
    }
}

impl Ord for Utilisation {
    fn cmp(&self, other: &Self) -> Ordering {
        // a/b vs c/d  <=>  a*d vs c*b (b, d >= 0; u64 products fit u128).
        // An infinite one (x/0 with x > 0) is above every finite one and equal
        // to another infinite one (both sides 0).
        let lhs = u128::from(self.num) * u128::from(other.den);
        let rhs = u128::from(other.num) * u128::from(self.den);
        lhs.cmp(&rhs)
    }
}

impl PartialOrd for Utilisation {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Utilisation {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Utilisation {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    /// A fitting, unpinned site with `used` of `capacity` in every dimension.
    pub(crate) fn site(id: u32, capacity: u64, used: u64) -> SiteView {
        SiteView {
            id: SiteId(id),
            capacity: Resources([capacity; DIMS]),
            used: Resources([used; DIMS]),
            fits: true,
            watts_per_core: 10.0,
            pinned: false,
        }
    }

    /// The ids `policy` ranks, appended to a non-empty `out` to check it appends.
    pub(crate) fn ranked(policy: &dyn SiteSelection, sites: &[SiteView], size: u64) -> Vec<u32> {
        let mut out = vec![SiteId(999)];
        policy.rank(sites, &Resources([size; DIMS]), &mut out);
        assert_eq!(out[0], SiteId(999), "rank must append, not clear");
        out[1..].iter().map(|s| s.0).collect()
    }

    #[test]
    fn names_round_trip_through_from_name_and_serde() {
        for k in SiteSelectionKind::ALL {
            assert_eq!(SiteSelectionKind::from_name(k.name()), Ok(k));
            assert_eq!(k.to_string(), k.name());
            let de: Result<SiteSelectionKind, serde::de::value::Error> =
                SiteSelectionKind::deserialize(k.name().into_deserializer());
            assert_eq!(de, Ok(k));
            assert!(!k.description().is_empty());
        }
        let bad: Result<SiteSelectionKind, serde::de::value::Error> =
            SiteSelectionKind::deserialize("LeastLoaded".into_deserializer());
        assert!(bad.is_err());
    }

    #[test]
    fn unknown_names_list_all_four() {
        let e = SiteSelectionKind::from_name("nearest").unwrap_err();
        assert_eq!(e.role, "site-selection");
        assert_eq!(
            e.to_string(),
            "unknown site-selection policy \"nearest\"; expected one of: least-loaded, most-free, cheapest-energy, pinned"
        );
    }

    #[test]
    fn policy_wrapper_builds_and_takes_no_parameters() {
        let sites = [site(0, 10, 5), site(1, 10, 1), site(2, 10, 9)];
        for k in SiteSelectionKind::ALL {
            let p = Policy::new(k);
            assert_eq!(p.to_string(), k.name());
            assert_eq!(
                ranked(p.build().as_ref(), &sites, 1),
                ranked(k.build().as_ref(), &sites, 1)
            );
            assert!(Policy::with(k, [("x", 1.0)]).is_err());
        }
        // Without pins every policy here agrees: the emptiest site first.
        assert_eq!(
            ranked(Policy::new(SiteSelectionKind::Pinned).build().as_ref(), &sites, 1),
            [1, 0, 2]
        );
    }

    #[test]
    fn utilisation_is_exact_and_handles_zero_capacity() {
        let u = |n, d| Utilisation::of(n, d);
        assert_eq!(u(1, 3), u(2, 6));
        assert!(u(1, 3) < u(1, 2));
        assert_eq!(u(0, 0), u(0, 5));
        assert!(u(1, 0) > u(u64::MAX, 1));
        assert_eq!(u(1, 0), u(7, 0));
        // 0.1 + 0.2 style: 3/10 == 30/100 exactly.
        assert_eq!(u(3, 10), u(30, 100));
        let mut s = site(0, 0, 0);
        s.capacity.0[0] = 4;
        assert_eq!(Utilisation::after(&s, &Resources([1, 0, 0, 0])), u(1, 4));
        assert_eq!(Utilisation::after(&s, &Resources([0, 1, 0, 0])), u(1, 0));
    }

    fn arb_site() -> impl Strategy<Value = SiteView> {
        (
            prop::array::uniform4(0u64..6),
            prop::array::uniform4(0u64..6),
            any::<bool>(),
            prop_oneof![Just(5.0), Just(10.0), Just(f64::NAN), 0.0f64..20.0],
            any::<bool>(),
        )
            .prop_map(|(capacity, used, fits, watts_per_core, pinned)| SiteView {
                id: SiteId(0),
                capacity: Resources(capacity),
                used: Resources(used),
                fits,
                watts_per_core,
                pinned,
            })
    }

    /// Sites with distinct ids, in a shuffled order.
    fn arb_sites() -> impl Strategy<Value = Vec<SiteView>> {
        prop::collection::vec(arb_site(), 0..8)
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, mut s)| {
                        s.id = SiteId(i as u32 * 3);
                        s
                    })
                    .collect::<Vec<_>>()
            })
            .prop_shuffle()
    }

    /// Utilisation as a float, for an independent check of the order.
    fn float_util(s: &SiteView, size: u64) -> f64 {
        (0..DIMS)
            .map(|d| {
                let load = s.used.0[d] + size;
                match (load, s.capacity.0[d]) {
                    (0, 0) => 0.0,
                    (_, 0) => f64::INFINITY,
                    (l, c) => l as f64 / c as f64,
                }
            })
            .fold(0.0, f64::max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn rankings_list_only_fitting_sites_in_a_slice_order_free_way(
            sites in arb_sites(),
            size in 0u64..4,
        ) {
            let mut sorted = sites.clone();
            sorted.sort_by_key(|s| s.id);
            let fitting: Vec<u32> = sorted.iter().filter(|s| s.fits).map(|s| s.id.0).collect();
            let pinned: Vec<u32> = sorted.iter().filter(|s| s.fits && s.pinned).map(|s| s.id.0).collect();
            let by_id = |id: u32| sorted.iter().find(|s| s.id.0 == id).unwrap();
            for k in SiteSelectionKind::ALL {
                let p = k.build();
                let got = ranked(p.as_ref(), &sites, size);
                // The order of the slice does not matter.
                prop_assert_eq!(&got, &ranked(p.as_ref(), &sorted, size), "{}", k);
                let mut set = got.clone();
                set.sort();
                if k == SiteSelectionKind::Pinned && sites.iter().any(|s| s.pinned) {
                    // Only the pinned sites that fit, by id.
                    prop_assert_eq!(&got, &pinned);
                    continue;
                } else {
                    prop_assert_eq!(&set, &fitting, "{} lists each fitting site once", k);
                }
                for w in got.windows(2) {
                    let (a, b) = (by_id(w[0]), by_id(w[1]));
                    match k {
                        SiteSelectionKind::LeastLoaded | SiteSelectionKind::Pinned => {
                            prop_assert!(float_util(a, size) <= float_util(b, size), "{}: {:?} {:?}", k, a, b);
                        }
                        SiteSelectionKind::MostFree => {
                            let free = |s: &SiteView, d: usize| {
                                s.capacity.0[d].saturating_sub(s.used.0[d]).saturating_sub(size)
                            };
                            prop_assert!((free(a, 0), free(a, 1)) >= (free(b, 0), free(b, 1)));
                        }
                        SiteSelectionKind::CheapestEnergy => {
                            prop_assert!(a.watts_per_core.total_cmp(&b.watts_per_core).is_le());
                        }
                    }
                }
            }
        }
    }
}
