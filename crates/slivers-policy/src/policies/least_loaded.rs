//! least-loaded site selection: the site whose busiest dimension is least
//! utilised once the sliver is added, so load spreads evenly over the sites.
//!
//! A site's utilisation is the largest over the dimensions of
//! `(used + size) / capacity`, compared exactly by integer
//! cross-multiplication (no floats, so equal utilisations really tie). A
//! dimension of zero capacity counts as idle if nothing is asked of it and as
//! infinitely loaded otherwise (no division by zero). Ties go to the lowest
//! site id. Only sites that fit are listed.

use crate::site_selection::{Utilisation, rank_where};
use crate::{Resources, SiteId, SiteSelection, SiteView};

/// Least utilised site first.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastLoaded;

impl SiteSelection for LeastLoaded {
    fn rank(&self, sites: &[SiteView], size: &Resources, out: &mut Vec<SiteId>) {
        rank_where(
            sites,
            |s| s.fits,
            |a, b| Utilisation::after(a, size).cmp(&Utilisation::after(b, size)),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DIMS;
    use crate::site_selection::tests::{ranked, site};

    #[test]
    fn least_utilised_after_the_sliver_first_ties_by_id() {
        // After a sliver of 1: 6/10, 2/4 (= 5/10), 5/10, 9/10.
        let sites = [site(3, 10, 5), site(1, 4, 1), site(0, 10, 4), site(2, 10, 8)];
        assert_eq!(ranked(&LeastLoaded, &sites, 1), [0, 1, 3, 2]);
    }

    #[test]
    fn busiest_dimension_decides() {
        let mut a = site(0, 10, 1);
        a.used.0[1] = 9; // memory 9/10 busy
        let b = site(1, 10, 5);
        assert_eq!(ranked(&LeastLoaded, &[a, b], 0), [1, 0]);
    }

    #[test]
    fn skips_sites_that_do_not_fit_and_survives_zero_capacity() {
        let mut full = site(0, 10, 0);
        full.fits = false;
        let empty = site(1, 0, 0); // zero capacity, nothing asked: idle
        let mut half = site(2, 0, 0);
        half.capacity = Resources([4; DIMS]);
        half.capacity.0[3] = 0; // no disk, but the sliver asks for some
        let normal = site(3, 10, 2);
        assert_eq!(ranked(&LeastLoaded, &[full, empty, half, normal], 0), [1, 2, 3]);
        assert_eq!(ranked(&LeastLoaded, &[full, empty, half, normal], 1), [3, 1, 2]);
        assert_eq!(ranked(&LeastLoaded, &[], 1), Vec::<u32>::new());
    }
}
