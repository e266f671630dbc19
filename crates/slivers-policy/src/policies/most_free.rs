//! most-free site selection: the site with the most free capacity left once
//! the sliver is added, so the next big sliver still finds a site.
//!
//! Free capacity is compared in whole units, dimension by dimension: the
//! most free CPU millicores (`capacity − used − size`, floored at zero)
//! first, then the most free memory MiB; ties go to the lowest site id. Only
//! sites that fit are listed.

use std::cmp::Reverse;

use crate::site_selection::rank_where;
use crate::{Resources, SiteId, SiteSelection, SiteView};

/// Most free CPU, then memory, first.
#[derive(Debug, Clone, Copy, Default)]
pub struct MostFree;

/// (free CPU, free memory) after `size`, as a key that sorts the most free first.
fn free_after(site: &SiteView, size: &Resources) -> Reverse<(u64, u64)> {
    let free = site.capacity.saturating_minus(&site.used).saturating_minus(size);
    Reverse((free.cpu_millicores(), free.memory_mib()))
}

impl SiteSelection for MostFree {
    fn rank(&self, sites: &[SiteView], size: &Resources, out: &mut Vec<SiteId>) {
        rank_where(
            sites,
            |s| s.fits,
            |a, b| free_after(a, size).cmp(&free_after(b, size)),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site_selection::tests::{ranked, site};

    #[test]
    fn most_free_cpu_then_memory_then_id() {
        // Free CPU after 1: 4, 9, 4, 4; memory breaks 0/2/3's tie.
        let mut s0 = site(0, 10, 5);
        s0.used.0[1] = 7; // free memory 2
        let s1 = site(1, 20, 10);
        let s2 = site(2, 10, 5); // free memory 4
        let s3 = site(3, 10, 5); // same as 2
        assert_eq!(ranked(&MostFree, &[s3, s2, s1, s0], 1), [1, 2, 3, 0]);
    }

    #[test]
    fn absolute_not_relative_free() {
        // The big site is busier relatively but has more free CPU.
        let big = site(0, 100, 80);
        let small = site(1, 10, 0);
        assert_eq!(ranked(&MostFree, &[big, small], 0), [0, 1]);
    }

    #[test]
    fn skips_sites_that_do_not_fit_and_survives_zero_capacity() {
        let mut full = site(0, 100, 0);
        full.fits = false;
        let zero = site(1, 0, 0);
        let over = site(2, 4, 9); // used beyond capacity: free floors at 0
        let some = site(3, 4, 1);
        assert_eq!(ranked(&MostFree, &[full, zero, over, some], 2), [3, 1, 2]);
    }
}
