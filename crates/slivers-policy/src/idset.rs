//! A set of host numbers below a fixed bound, with O(1)-ish insert and
//! remove and a fast smallest member: the buckets of [`crate::HostIndex`].
//!
//! A small set is a sorted `Vec` (an insert or remove moves at most
//! [`SMALL`] numbers). A large one is a three-level bitset over
//! `0..bound`: a bit per number, a bit per non-zero word of that, and a bit
//! per non-zero word of the second level, so the smallest member at or
//! after a number is found with at most a handful of word scans. A set
//! turns large when it passes [`SMALL`] members and small again below half
//! of that, so at most `bound / (SMALL / 2)` sets are large at once and the
//! bitsets of an index of `n` hosts take at most about `n² / 256` bytes
//! (40 MB at 10^5 hosts in the worst case; a few sets in practice).

/// Members a sorted `Vec` holds before the set becomes a bitset.
const SMALL: usize = 64;

/// A set of numbers in `0..bound`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdSet {
    /// Sorted, at most [`SMALL`] members.
    Small(Vec<u32>),
    /// More members than [`SMALL`] (down to half of it).
    Large(Bits),
}

impl Default for IdSet {
    fn default() -> Self {
        IdSet::Small(Vec::new())
    }
}

impl IdSet {
    /// Members.
    pub(crate) fn len(&self) -> usize {
        match self {
            IdSet::Small(v) => v.len(),
            IdSet::Large(b) => b.len,
        }
    }

    /// True if it has no member.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `x` (`x < bound`); true if it was not in.
    pub(crate) fn insert(&mut self, x: u32, bound: u32) -> bool {
        match self {
            IdSet::Small(v) => match v.binary_search(&x) {
                Ok(_) => false,
                Err(i) => {
                    v.insert(i, x);
                    if v.len() > SMALL {
                        let mut bits = Bits::new(bound);
                        for &y in v.iter() {
                            bits.insert(y);
                        }
                        *self = IdSet::Large(bits);
                    }
                    true
                }
            },
            IdSet::Large(b) => b.insert(x),
        }
    }

    /// Removes `x`; true if it was in.
    pub(crate) fn remove(&mut self, x: u32) -> bool {
        match self {
            IdSet::Small(v) => match v.binary_search(&x) {
                Ok(i) => {
                    v.remove(i);
                    true
                }
                Err(_) => false,
            },
            IdSet::Large(b) => {
                let was = b.remove(x);
                if b.len < SMALL / 2 {
                    *self = IdSet::Small(b.iter().collect());
                }
                was
            }
        }
    }

    /// True if `x` is a member.
    pub(crate) fn contains(&self, x: u32) -> bool {
        match self {
            IdSet::Small(v) => v.binary_search(&x).is_ok(),
            IdSet::Large(b) => b.contains(x),
        }
    }

    /// The smallest member at or above `from`.
    pub(crate) fn first_from(&self, from: u32) -> Option<u32> {
        match self {
            IdSet::Small(v) => {
                let i = v.partition_point(|&y| y < from);
                v.get(i).copied()
            }
            IdSet::Large(b) => b.first_from(from),
        }
    }

    /// The smallest member other than `exclude`.
    pub(crate) fn first_except(&self, exclude: Option<u32>) -> Option<u32> {
        let first = self.first_from(0)?;
        match exclude {
            Some(x) if x == first => first.checked_add(1).and_then(|n| self.first_from(n)),
            _ => Some(first),
        }
    }

    /// Every member, in increasing order.
    pub(crate) fn to_vec(&self) -> Vec<u32> {
        match self {
            IdSet::Small(v) => v.clone(),
            IdSet::Large(b) => b.iter().collect(),
        }
    }
}

/// A bitset over `0..bound` with two summary levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bits {
    /// Bit `x` is member `x`.
    words: Vec<u64>,
    /// Bit `i` is set if `words[i]` is not zero.
    mid: Vec<u64>,
    /// Bit `j` is set if `mid[j]` is not zero.
    top: Vec<u64>,
    len: usize,
}

impl Bits {
    fn new(bound: u32) -> Self {
        let words = (bound as usize).div_ceil(64).max(1);
        let mid = words.div_ceil(64);
        let top = mid.div_ceil(64);
        Bits {
            words: vec![0; words],
            mid: vec![0; mid],
            top: vec![0; top],
            len: 0,
        }
    }

    fn contains(&self, x: u32) -> bool {
        let x = x as usize;
        self.words.get(x / 64).is_some_and(|w| w >> (x % 64) & 1 == 1)
    }

    fn insert(&mut self, x: u32) -> bool {
        let x = x as usize;
        let (w, b) = (x / 64, 1u64 << (x % 64));
        if self.words[w] & b != 0 {
            return false;
        }
        self.words[w] |= b;
        self.mid[w / 64] |= 1 << (w % 64);
        self.top[w / 4096] |= 1 << ((w / 64) % 64);
        self.len += 1;
        true
    }

    fn remove(&mut self, x: u32) -> bool {
        let x = x as usize;
        let (w, b) = (x / 64, 1u64 << (x % 64));
        if self.words.get(w).is_none_or(|&word| word & b == 0) {
            return false;
        }
        self.words[w] &= !b;
        if self.words[w] == 0 {
            self.mid[w / 64] &= !(1 << (w % 64));
            if self.mid[w / 64] == 0 {
                self.top[w / 4096] &= !(1 << ((w / 64) % 64));
            }
        }
        self.len -= 1;
        true
    }

    /// The smallest member at or above `from`.
    fn first_from(&self, from: u32) -> Option<u32> {
        self.next_in(0, from as usize).map(|x| x as u32)
    }

    /// The first set bit at or after `p` in level `l` (0: `words`, 1:
    /// `mid`, 2: `top`): the rest of `p`'s word, else the next non-zero
    /// word as the level above says (the top level is scanned).
    fn next_in(&self, l: usize, p: usize) -> Option<usize> {
        let level = self.level(l);
        let w = p / 64;
        let rest = level.get(w)? & (!0u64 << (p % 64));
        if rest != 0 {
            return Some(w * 64 + rest.trailing_zeros() as usize);
        }
        let next = if l == 2 {
            (w + 1..level.len()).find(|&i| level[i] != 0)?
        } else {
            self.next_in(l + 1, w + 1)?
        };
        Some(next * 64 + level[next].trailing_zeros() as usize)
    }

    fn level(&self, l: usize) -> &[u64] {
        match l {
            0 => &self.words,
            1 => &self.mid,
            _ => &self.top,
        }
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                Some((w * 64) as u32 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Against a `BTreeSet`, through both forms: membership, length,
        /// the smallest member from any point and with an exclusion.
        #[test]
        fn behaves_as_an_ordered_set(
            bound in prop_oneof![Just(1u32), Just(64), Just(65), Just(4096), Just(4097), 1u32..300_000],
            ops in prop::collection::vec((any::<bool>(), any::<u32>(), any::<u32>()), 0..400),
        ) {
            let mut set = IdSet::default();
            let mut model = BTreeSet::new();
            for (add, x, probe) in ops {
                // Cluster values so that sets grow past SMALL and shrink back.
                let x = if add { x % bound.clamp(1, 200) } else { x % bound };
                if add {
                    prop_assert_eq!(set.insert(x, bound), model.insert(x));
                } else {
                    prop_assert_eq!(set.remove(x), model.remove(&x));
                }
                prop_assert_eq!(set.len(), model.len());
                let probe = probe % bound;
                prop_assert_eq!(set.contains(probe), model.contains(&probe));
                prop_assert_eq!(set.first_from(probe), model.range(probe..).next().copied());
                prop_assert_eq!(
                    set.first_except(Some(probe)),
                    model.iter().copied().find(|&y| y != probe)
                );
                prop_assert_eq!(set.to_vec(), model.iter().copied().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_sparse_large_set_finds_members_across_summary_words() {
        let bound = 300_000;
        let mut set = IdSet::default();
        let members: Vec<u32> = (0..SMALL as u32 + 1).map(|i| i * 4_000 + 7).collect();
        for &m in &members {
            set.insert(m, bound);
        }
        assert!(matches!(set, IdSet::Large(_)));
        for w in members.windows(2) {
            assert_eq!(set.first_from(w[0] + 1), Some(w[1]));
        }
        assert_eq!(set.first_from(members[members.len() - 1] + 1), None);
        assert_eq!(set.first_except(Some(7)), Some(4_007));
    }
}
