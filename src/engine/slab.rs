//! [`IdSlab`]: a map from dense, increasing integer ids (VM ids, operation
//! ids) to values, with O(1) lookups and ordered iteration.
//!
//! The simulator numbers VMs and operations in the order it creates them,
//! and most of them are short-lived. The slab stores values in pages of
//! [`PAGE`] consecutive ids, indexed by `id / PAGE`; a page is released when
//! its last value is removed, so memory follows the ids that are live, not
//! every id ever issued. The last [`SPARES`] pages released are kept as
//! spares for the next pages needed: a slab whose live ids keep crossing
//! page boundaries (the steps in flight, say, completing out of order)
//! would otherwise allocate, fill and free a page every [`PAGE`] ids.
//! Iteration is in id order, like a `BTreeMap`'s, so the slab can stand
//! wherever an ordered map of ids stood; it only costs an index
//! computation per lookup instead of a search down a tree.

/// Ids per page.
pub const PAGE: usize = 256;

/// Empty pages kept for reuse.
pub const SPARES: usize = 4;

/// An id the simulator hands out densely, from 0 up.
pub trait DenseId: Copy {
    /// Its number.
    fn number(self) -> u64;
    /// The id of a number.
    fn from_number(n: u64) -> Self;
}

impl DenseId for u64 {
    fn number(self) -> u64 {
        self
    }
    fn from_number(n: u64) -> Self {
        n
    }
}

struct Page<V> {
    slots: Vec<Option<V>>,
    live: usize,
}

/// Values keyed by dense ids (see the [module documentation](self)).
pub struct IdSlab<K, V> {
    pages: Vec<Option<Box<Page<V>>>>,
    /// Empty pages to reuse (see the [module documentation](self)), boxed
    /// as in `pages`: a page moves between the two without a copy.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Page<V>>>,
    len: usize,
    key: std::marker::PhantomData<K>,
}

impl<K, V> Default for IdSlab<K, V> {
    fn default() -> Self {
        IdSlab {
            pages: Vec::new(),
            spare: Vec::new(),
            len: 0,
            key: std::marker::PhantomData,
        }
    }
}

impl<K: DenseId + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for IdSlab<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V: Clone> Clone for IdSlab<K, V> {
    fn clone(&self) -> Self {
        IdSlab {
            pages: self
                .pages
                .iter()
                .map(|p| {
                    p.as_ref().map(|p| {
                        Box::new(Page {
                            slots: p.slots.clone(),
                            live: p.live,
                        })
                    })
                })
                .collect(),
            spare: Vec::new(),
            len: self.len,
            key: std::marker::PhantomData,
        }
    }
}

impl<K: DenseId, V: PartialEq> PartialEq for IdSlab<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .iter()
                .map(|(k, v)| (k.number(), v))
                .eq(other.iter().map(|(k, v)| (k.number(), v)))
    }
}

fn split(id: impl DenseId) -> (usize, usize) {
    let n = id.number();
    ((n / PAGE as u64) as usize, (n % PAGE as u64) as usize)
}

impl<K: DenseId, V> IdSlab<K, V> {
    /// An empty slab.
    pub fn new() -> Self {
        Self::default()
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `id`.
    pub fn get(&self, id: K) -> Option<&V> {
        let (p, s) = split(id);
        self.pages.get(p)?.as_ref()?.slots[s].as_ref()
    }

    /// The value of `id`, mutably.
    pub fn get_mut(&mut self, id: K) -> Option<&mut V> {
        let (p, s) = split(id);
        self.pages.get_mut(p)?.as_mut()?.slots[s].as_mut()
    }

    /// True if `id` has a value.
    pub fn contains(&self, id: K) -> bool {
        self.get(id).is_some()
    }

    /// Sets the value of `id`; returns the one it replaces.
    pub fn insert(&mut self, id: K, value: V) -> Option<V> {
        let (p, s) = split(id);
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let spare = &mut self.spare;
        let page = self.pages[p].get_or_insert_with(|| {
            spare.pop().unwrap_or_else(|| {
                Box::new(Page {
                    slots: std::iter::repeat_with(|| None).take(PAGE).collect(),
                    live: 0,
                })
            })
        });
        let old = page.slots[s].replace(value);
        if old.is_none() {
            page.live += 1;
            self.len += 1;
        }
        old
    }

    /// Removes the value of `id`, releasing its page if it was the last.
    pub fn remove(&mut self, id: K) -> Option<V> {
        let (p, s) = split(id);
        let page = self.pages.get_mut(p)?.as_mut()?;
        let old = page.slots[s].take()?;
        page.live -= 1;
        self.len -= 1;
        if page.live == 0 {
            let page = self.pages[p].take();
            if self.spare.len() < SPARES {
                self.spare.extend(page);
            }
        }
        Some(old)
    }

    /// Every `(id, value)`, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        self.pages.iter().enumerate().flat_map(|(p, page)| {
            page.iter().flat_map(move |page| {
                page.slots
                    .iter()
                    .enumerate()
                    .filter_map(move |(s, v)| v.as_ref().map(|v| (K::from_number((p * PAGE + s) as u64), v)))
            })
        })
    }

    /// Every value, in id order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<K: DenseId, V> FromIterator<(K, V)> for IdSlab<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut slab = IdSlab::new();
        for (k, v) in iter {
            slab.insert(k, v);
        }
        slab
    }
}

/// Panics if `id` has no value, as `BTreeMap`'s indexing does.
impl<K: DenseId, V> std::ops::Index<K> for IdSlab<K, V> {
    type Output = V;

    fn index(&self, id: K) -> &V {
        self.get(id).expect("no value for this id")
    }
}

impl<'a, K: DenseId + 'a, V> IntoIterator for &'a IdSlab<K, V> {
    type Item = (K, &'a V);
    type IntoIter = Box<dyn Iterator<Item = (K, &'a V)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The slab answers as a `BTreeMap` does, in the same order.
        #[test]
        fn behaves_as_an_ordered_map(ops in prop::collection::vec((0u64..2000, any::<bool>(), any::<u32>()), 0..400)) {
            let mut slab: IdSlab<u64, u32> = IdSlab::new();
            let mut model = BTreeMap::new();
            for (id, insert, v) in ops {
                if insert {
                    prop_assert_eq!(slab.insert(id, v), model.insert(id, v));
                } else {
                    prop_assert_eq!(slab.remove(id), model.remove(&id));
                }
                prop_assert_eq!(slab.len(), model.len());
                prop_assert_eq!(slab.get(id), model.get(&id));
            }
            let a: Vec<(u64, u32)> = slab.iter().map(|(k, v)| (k, *v)).collect();
            let b: Vec<(u64, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(a, b);
            // Pages of ids with nothing left are released (a few kept spare).
            let live_pages = slab.pages.iter().filter(|p| p.is_some()).count();
            let expected: std::collections::BTreeSet<u64> = model.keys().map(|k| k / PAGE as u64).collect();
            prop_assert_eq!(live_pages, expected.len());
        }
    }
}
