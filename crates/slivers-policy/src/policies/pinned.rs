//! pinned site selection: a guest that pins sites gets only those sites.
//!
//! If any site is pinned, the ranking lists the pinned sites that fit, by
//! the lowest site id; a pinned site that does not fit is not replaced by
//! an unpinned one (the pin is a constraint, so the sliver is rejected when
//! no pinned site has room). If no site is pinned, the guest has no
//! preference and the ranking is [`super::LeastLoaded`]'s (least utilised
//! after the sliver, ties by lowest id). Only sites that fit are listed.

use crate::site_selection::rank_where;
use crate::{Resources, SiteId, SiteSelection, SiteView};

use super::LeastLoaded;

/// The pinned sites by id; least-loaded when none is pinned.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pinned;

impl SiteSelection for Pinned {
    fn rank(&self, sites: &[SiteView], size: &Resources, out: &mut Vec<SiteId>) {
        if sites.iter().any(|s| s.pinned) {
            rank_where(
                sites,
                |s| s.fits && s.pinned,
                |_, _| std::cmp::Ordering::Equal,
                out,
            );
        } else {
            LeastLoaded.rank(sites, size, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site_selection::tests::{ranked, site};

    fn pin(mut s: SiteView) -> SiteView {
        s.pinned = true;
        s
    }

    #[test]
    fn only_pinned_fitting_sites_by_id() {
        let mut full = pin(site(1, 10, 0));
        full.fits = false;
        let sites = [
            pin(site(4, 10, 9)),
            site(0, 10, 0),
            full,
            pin(site(2, 10, 5)),
            pin(site(3, 0, 0)),
        ];
        // By id, not by load; the full pinned site 1 is skipped, and so is the
        // empty unpinned site 0.
        assert_eq!(ranked(&Pinned, &sites, 1), [2, 3, 4]);
    }

    #[test]
    fn a_pinned_site_without_room_rejects_rather_than_falls_back() {
        let mut full = pin(site(1, 10, 10));
        full.fits = false;
        assert_eq!(ranked(&Pinned, &[site(0, 10, 0), full], 1), Vec::<u32>::new());
    }

    #[test]
    fn no_pin_falls_back_to_least_loaded() {
        let mut full = site(3, 10, 0);
        full.fits = false;
        let sites = [site(0, 10, 7), site(1, 10, 2), site(2, 10, 2), full];
        assert_eq!(ranked(&Pinned, &sites, 1), [1, 2, 0]);
        assert_eq!(ranked(&Pinned, &sites, 1), ranked(&LeastLoaded, &sites, 1));
    }
}
