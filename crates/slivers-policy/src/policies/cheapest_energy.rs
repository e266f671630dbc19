//! cheapest-energy site selection: the site whose cores cost the least power
//! at full load, so work goes where it draws the fewest watts.
//!
//! Sites are ordered by `watts_per_core`, lowest first (a total order:
//! `f64::total_cmp`, so a NaN never panics; a positive NaN sorts last), then
//! by [`super::LeastLoaded`]'s exact utilisation after the sliver, then by
//! the lowest site id. Only sites that fit are listed.

use crate::site_selection::{Utilisation, rank_where};
use crate::{Resources, SiteId, SiteSelection, SiteView};

/// Fewest watts per core first.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheapestEnergy;

impl SiteSelection for CheapestEnergy {
    fn rank(&self, sites: &[SiteView], size: &Resources, out: &mut Vec<SiteId>) {
        rank_where(
            sites,
            |s| s.fits,
            |a, b| {
                a.watts_per_core
                    .total_cmp(&b.watts_per_core)
                    .then_with(|| Utilisation::after(a, size).cmp(&Utilisation::after(b, size)))
            },
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site_selection::tests::{ranked, site};

    fn priced(id: u32, used: u64, watts_per_core: f64) -> SiteView {
        SiteView {
            watts_per_core,
            ..site(id, 10, used)
        }
    }

    #[test]
    fn cheapest_then_least_loaded_then_id() {
        let sites = [
            priced(0, 1, 12.5),
            priced(1, 6, 8.0),
            priced(2, 2, 8.0),
            priced(3, 2, 8.0),
            priced(4, 0, 30.0),
        ];
        assert_eq!(ranked(&CheapestEnergy, &sites, 1), [2, 3, 1, 0, 4]);
    }

    #[test]
    fn skips_sites_that_do_not_fit_and_survives_nan_and_zero_capacity() {
        let mut cheap_full = priced(0, 0, 1.0);
        cheap_full.fits = false;
        let nan = priced(1, 0, f64::NAN);
        let zero = SiteView {
            watts_per_core: 5.0,
            ..site(2, 0, 0)
        };
        let normal = priced(3, 0, 5.0);
        assert_eq!(
            ranked(&CheapestEnergy, &[cheap_full, nan, zero, normal], 0),
            [2, 3, 1]
        );
        // With a sliver the zero-capacity site is infinitely loaded: after the normal one.
        assert_eq!(
            ranked(&CheapestEnergy, &[cheap_full, nan, zero, normal], 1),
            [3, 2, 1]
        );
    }
}
