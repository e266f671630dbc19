//! A host-selection index: first, best and worst fit without scanning every
//! host.
//!
//! [`HostIndex`] keeps, for a cluster of hosts of one capacity, each host's
//! committed resources and two structures over them:
//!
//! * hosts grouped in **buckets** by their free capacity. Buckets are
//!   grouped in **classes** by free cpu, bandwidth and disk (everything but
//!   memory), and within a class ordered by `key`, the host's free capacity
//!   scored exactly ([`Scale::key`]: the sum over dimensions of free /
//!   capacity, as an integer numerator); within a class only memory varies,
//!   so the key orders by free memory. A bucket is a set of host ids with
//!   a fast lowest member (`IdSet`), and each host knows its bucket, so an
//!   update moves one id between two sets and touches the ordered maps only
//!   when a new free capacity appears (empty buckets stay listed, and are
//!   dropped together once they outnumber the others). Best fit visits the classes with
//!   enough cpu, bandwidth and disk by increasing cpu, takes in each the
//!   first bucket at or above the key a fitting host must have (its lowest
//!   id), and stops once no class can beat the best found; worst fit visits
//!   them by decreasing cpu from the top of each.
//! * optionally ([`HostIndex::new`]), a **segment tree** over host ids
//!   whose every node holds the componentwise maximum free capacity of its
//!   subtree. First fit descends to the lowest-id leaf that fits, skipping
//!   every subtree whose maximum free cannot hold the request in some
//!   dimension. Without the tree ([`HostIndex::without_tree`], what a
//!   [`crate::HostTable`] builds) first fit takes the lowest fitting id of
//!   every bucket with room, and updates skip the tree's O(log n) walk.
//!
//! All three fits return exactly what the linear scans of [`crate::fit`]
//! return on the same hosts (same exact scores, ties to the lowest id); a
//! property test checks this, with and without the tree, over random
//! clusters and update sequences. An update is O(1) plus, with the tree,
//! O(log n) (less when the maxima do not change). A best or worst fit is
//! O(classes visited × log n); the classes are the distinct free (cpu,
//! bandwidth, disk) triples, at most 41 for VMs of whole cores on 40-core
//! hosts. First fit with the tree is O(log n) when the componentwise maxima
//! prune well and degrades when subtrees mix hosts with free cpu but no
//! memory and the reverse. `benches/README.md` measures all three at
//! 10^2..10^5 hosts.
//!
//! An earlier version kept one set ordered by key and walked it up from the
//! request's key, skipping hosts without room in some dimension; on a packed
//! cluster of 10^5 hosts it skipped thousands of memory-full hosts per
//! decision (97 % of a 10^7-VM run's time in `best_fit`). The one after
//! kept each class as an ordered set of `(key, id)`; its B-tree updates
//! were a sixth of a hosting run's time at 10^3 hosts.
//!
//! One such index needs hosts of one capacity: best fit ranks by the score
//! after placing, `key(free) - key(size)`, which only orders hosts like
//! `key(free)` when the capacity is shared. A cluster of mixed capacities
//! (`HostIndex::with_capacities`) therefore holds one index per host type,
//! each over its own hosts (numbered in global id order, so a type's lowest
//! local id is its lowest global id), asks each type and compares their
//! answers: the lowest id for first fit, the exact score after placing
//! ([`crate::fit::Score`], comparable across capacities) for best and worst
//! fit, ties to the lowest id. A choice costs one per-type choice per type;
//! hosts of one capacity are one index, with no per-type step. Every
//! capacity needs exact scores ([`Scale::exact`]).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::fit::{Scale, Score};
use crate::idset::IdSet;
use crate::{ClusterView, DIMS, HostId, HostView, Resources};

/// The three bin-packing choices, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FitKind {
    /// The lowest-id host with room.
    FirstFit,
    /// The host with room left fullest (smallest free score after placing).
    BestFit,
    /// The host with room left emptiest (largest free score after placing).
    WorstFit,
}

impl FitKind {
    /// All of them.
    pub const ALL: [FitKind; 3] = [FitKind::FirstFit, FitKind::BestFit, FitKind::WorstFit];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FitKind::FirstFit => "first-fit",
            FitKind::BestFit => "best-fit",
            FitKind::WorstFit => "worst-fit",
        }
    }

    /// Parses a name, or says which names are valid.
    pub fn from_name(name: &str) -> Result<Self, crate::UnknownPolicy> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| crate::UnknownPolicy::new("VM placement", name, Self::ALL.map(|k| k.name())))
    }

    /// The linear scan of [`crate::fit`] for this choice.
    pub fn linear(self, view: &ClusterView, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        match self {
            FitKind::FirstFit => crate::fit::first_fit(view, size, exclude),
            FitKind::BestFit => crate::fit::best_fit(view, size, exclude),
            FitKind::WorstFit => crate::fit::worst_fit(view, size, exclude),
        }
    }
}

impl std::fmt::Display for FitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cluster cannot be indexed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Capacities whose common denominator exceeds 2^60.
    #[error("the host index needs capacities whose least common multiple is at most 2^60; {0} is not")]
    InexactCapacity(Resources),
    /// More hosts than a `HostId` can name.
    #[error("the host index holds at most 2^32 - 1 hosts; {0} asked")]
    TooManyHosts(usize),
}

/// First, best and worst fit over a cluster's hosts in about O(log hosts)
/// per choice; see the [module documentation](self).
///
/// Hosts of one capacity are one single-capacity index. A cluster of mixed
/// capacities holds one such index per host type (hosts of one capacity),
/// each over its own hosts numbered in id order, and asks every type: first
/// fit takes the lowest global id the types answer, and best and worst fit
/// compare the types' answers by their exact scores after placing
/// ([`crate::fit::Score`]), ties to the lowest id, as the linear scans do.
#[derive(Debug, Clone)]
pub struct HostIndex {
    repr: Repr,
}

/// One index, or one per host type.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // the large variant is the common one: no box on its path
enum Repr {
    One(Single),
    Mixed(Mixed),
}

/// Hosts of several capacities: one [`Single`] per capacity.
#[derive(Debug, Clone)]
struct Mixed {
    /// One per distinct capacity, in the order of their first hosts.
    types: Vec<HostType>,
    /// Each host's type and its number within the type.
    place: Vec<(u32, u32)>,
    /// The componentwise largest capacity: no request above it fits.
    largest: Resources,
}

/// The hosts of one capacity and their index.
#[derive(Debug, Clone)]
struct HostType {
    index: Single,
    /// The global id of each of the type's hosts, ascending.
    hosts: Vec<HostId>,
}

impl HostIndex {
    /// `n` idle hosts of `capacity`, with the segment tree that makes first
    /// fit O(log n) when its maxima prune well.
    pub fn new(n: usize, capacity: Resources) -> Result<HostIndex, IndexError> {
        Ok(HostIndex {
            repr: Repr::One(Single::new(n, capacity)?),
        })
    }

    /// `n` idle hosts of `capacity`, without the segment tree: updates are
    /// cheaper, and first fit takes the lowest fitting host of each bucket
    /// (O(buckets with room)), which suits few distinct sizes.
    pub fn without_tree(n: usize, capacity: Resources) -> Result<HostIndex, IndexError> {
        Ok(HostIndex {
            repr: Repr::One(Single::without_tree(n, capacity)?),
        })
    }

    /// Idle hosts of the given capacities (`HostId(i)` has `capacities[i]`),
    /// with the first-fit tree ([`Self::new`]). Hosts of one capacity are
    /// exactly [`Self::new`]; mixed ones get one index per capacity.
    pub fn with_capacities(capacities: &[Resources]) -> Result<HostIndex, IndexError> {
        Self::of_capacities(capacities, true)
    }

    /// [`Self::with_capacities`] without the first-fit tree
    /// ([`Self::without_tree`]).
    pub fn with_capacities_without_tree(capacities: &[Resources]) -> Result<HostIndex, IndexError> {
        Self::of_capacities(capacities, false)
    }

    fn of_capacities(capacities: &[Resources], tree: bool) -> Result<HostIndex, IndexError> {
        let n = capacities.len();
        if n >= u32::MAX as usize {
            return Err(IndexError::TooManyHosts(n));
        }
        let single = |n, capacity| {
            if tree {
                Single::new(n, capacity)
            } else {
                Single::without_tree(n, capacity)
            }
        };
        let first = capacities.first().copied().unwrap_or(Resources::ZERO);
        if capacities.iter().all(|c| *c == first) {
            return Ok(HostIndex {
                repr: Repr::One(single(n, first)?),
            });
        }
        let mut kinds: Vec<(Resources, Vec<HostId>)> = Vec::new();
        let mut place = Vec::with_capacity(n);
        for (i, c) in capacities.iter().enumerate() {
            let t = match kinds.iter().position(|(k, _)| k == c) {
                Some(t) => t,
                None => {
                    kinds.push((*c, Vec::new()));
                    kinds.len() - 1
                }
            };
            place.push((t as u32, kinds[t].1.len() as u32));
            kinds[t].1.push(HostId(i as u32));
        }
        let largest = capacities.iter().fold(Resources::ZERO, |m, c| max_of(&m, c));
        let types = kinds
            .into_iter()
            .map(|(capacity, hosts)| {
                Ok(HostType {
                    index: single(hosts.len(), capacity)?,
                    hosts,
                })
            })
            .collect::<Result<_, IndexError>>()?;
        Ok(HostIndex {
            repr: Repr::Mixed(Mixed {
                types,
                place,
                largest,
            }),
        })
    }

    /// An index of the hosts of `view` (with the first-fit tree), whatever
    /// their capacities.
    pub fn from_view(view: &ClusterView) -> Result<HostIndex, IndexError> {
        let capacities: Vec<Resources> = view.hosts.iter().map(|h| h.capacity).collect();
        let mut idx = HostIndex::with_capacities(&capacities)?;
        for h in view.hosts {
            idx.update(h.id, h.used);
        }
        Ok(idx)
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::One(s) => s.len(),
            Repr::Mixed(m) => m.place.len(),
        }
    }

    /// True if there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the hosts have more than one capacity.
    pub fn is_mixed(&self) -> bool {
        matches!(self.repr, Repr::Mixed(_))
    }

    /// The capacity of every host; of a mixed cluster, the componentwise
    /// largest (no request above it fits any host).
    pub fn capacity(&self) -> Resources {
        match &self.repr {
            Repr::One(s) => s.capacity(),
            Repr::Mixed(m) => m.largest,
        }
    }

    /// The capacity of `host`.
    pub fn capacity_of(&self, host: HostId) -> Resources {
        match &self.repr {
            Repr::One(s) => s.capacity(),
            Repr::Mixed(m) => m.types[m.place[host.index()].0 as usize].index.capacity(),
        }
    }

    /// What is committed on `host`.
    #[inline]
    pub fn used(&self, host: HostId) -> Resources {
        match &self.repr {
            Repr::One(s) => s.used(host),
            Repr::Mixed(m) => {
                let (t, local) = m.place[host.index()];
                m.types[t as usize].index.used(HostId(local))
            }
        }
    }

    /// Free capacity of `host`.
    pub fn free(&self, host: HostId) -> Resources {
        self.capacity_of(host).saturating_minus(&self.used(host))
    }

    /// Hosts holding anything (an energy-aware site powers the others down).
    pub fn active_hosts(&self) -> usize {
        match &self.repr {
            Repr::One(s) => s.active_hosts(),
            Repr::Mixed(m) => m.types.iter().map(|t| t.index.active_hosts()).sum(),
        }
    }

    /// The sum of what is committed over every host, per dimension.
    pub fn total_used(&self) -> [u128; DIMS] {
        match &self.repr {
            Repr::One(s) => s.total_used(),
            Repr::Mixed(m) => m.types.iter().fold([0; DIMS], |acc, t| {
                let u = t.index.total_used();
                std::array::from_fn(|d| acc[d] + u[d])
            }),
        }
    }

    /// Sets what is committed on `host`: O(1), plus O(log n) with the
    /// first-fit tree. `used` should be within the host's capacity;
    /// anything above it counts as full.
    #[inline]
    pub fn update(&mut self, host: HostId, used: Resources) {
        match &mut self.repr {
            Repr::One(s) => s.update(host, used),
            Repr::Mixed(m) => {
                let (t, local) = m.place[host.index()];
                m.types[t as usize].index.update(HostId(local), used);
            }
        }
    }

    /// The host `kind` chooses for `size`, never `exclude`.
    #[inline]
    pub fn choose(&self, kind: FitKind, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        match kind {
            FitKind::FirstFit => self.first_fit(size, exclude),
            FitKind::BestFit => self.best_fit(size, exclude),
            FitKind::WorstFit => self.worst_fit(size, exclude),
        }
    }

    /// The lowest-id host with room for `size`: [`crate::fit::first_fit`].
    #[inline]
    pub fn first_fit(&self, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        match &self.repr {
            Repr::One(s) => s.first_fit(size, exclude),
            Repr::Mixed(m) => m
                .answers(exclude, |ix, ex| ix.first_fit(size, ex))
                .map(|(_, h)| h)
                .min(),
        }
    }

    /// The host with room left fullest: [`crate::fit::best_fit`].
    #[inline]
    pub fn best_fit(&self, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        match &self.repr {
            Repr::One(s) => s.best_fit(size, exclude),
            Repr::Mixed(m) => m.pick(size, exclude, Single::best_fit, |a, b| a < b),
        }
    }

    /// The host with room left emptiest: [`crate::fit::worst_fit`].
    #[inline]
    pub fn worst_fit(&self, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        match &self.repr {
            Repr::One(s) => s.worst_fit(size, exclude),
            Repr::Mixed(m) => m.pick(size, exclude, Single::worst_fit, |a, b| a > b),
        }
    }

    /// The hosts as a snapshot, for the linear scans.
    pub fn views(&self) -> Vec<HostView> {
        match &self.repr {
            Repr::One(s) => s.views(),
            Repr::Mixed(m) => (0..m.place.len() as u32)
                .map(|i| HostView {
                    id: HostId(i),
                    capacity: self.capacity_of(HostId(i)),
                    used: self.used(HostId(i)),
                })
                .collect(),
        }
    }

    /// Recomputes every derived structure from the per-host `used` and
    /// compares (O(n log n)): the tree's leaves and maxima, the buckets,
    /// the active count and the totals, and for a mixed cluster the map
    /// between global ids and each type's hosts. `Err` says what differs.
    pub fn check(&self) -> Result<(), String> {
        match &self.repr {
            Repr::One(s) => s.check(),
            Repr::Mixed(m) => {
                for (t, ty) in m.types.iter().enumerate() {
                    ty.index.check().map_err(|e| format!("host type {t}: {e}"))?;
                    if ty.hosts.len() != ty.index.len() || ty.hosts.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(format!("host type {t} lists its hosts out of order"));
                    }
                    for (local, h) in ty.hosts.iter().enumerate() {
                        if m.place.get(h.index()) != Some(&(t as u32, local as u32)) {
                            return Err(format!("{h} is not where host type {t} lists it"));
                        }
                    }
                }
                let listed: usize = m.types.iter().map(|t| t.hosts.len()).sum();
                if listed != m.place.len() {
                    return Err(format!("host types list {listed} hosts of {}", m.place.len()));
                }
                Ok(())
            }
        }
    }

    /// The single-capacity index, if the hosts share one capacity.
    #[cfg(test)]
    fn single(&self) -> &Single {
        match &self.repr {
            Repr::One(s) => s,
            Repr::Mixed(_) => panic!("a mixed index"),
        }
    }
}

impl Mixed {
    /// What `ask` answers on each host type, as `(type, global id)`; the
    /// excluded host is excluded from its own type only.
    fn answers<'a>(
        &'a self,
        exclude: Option<HostId>,
        ask: impl Fn(&Single, Option<HostId>) -> Option<HostId> + 'a,
    ) -> impl Iterator<Item = (usize, HostId)> + 'a {
        let exclude = exclude.and_then(|h| self.place.get(h.index()).copied());
        self.types.iter().enumerate().filter_map(move |(t, ty)| {
            let ex = exclude
                .filter(|&(et, _)| et as usize == t)
                .map(|(_, l)| HostId(l));
            ask(&ty.index, ex).map(|local| (t, ty.hosts[local.index()]))
        })
    }

    /// Each type's choice by `fit`, then the one whose exact score after
    /// placing is `better` than every other's, lowest id on ties.
    fn pick(
        &self,
        size: &Resources,
        exclude: Option<HostId>,
        fit: fn(&Single, &Resources, Option<HostId>) -> Option<HostId>,
        better: impl Fn(Score, Score) -> bool,
    ) -> Option<HostId> {
        let mut best: Option<(Score, HostId)> = None;
        for (t, h) in self.answers(exclude, |ix, ex| fit(ix, size, ex)) {
            let ix = &self.types[t].index;
            let local = HostId(self.place[h.index()].1);
            let score = ix.scale.score(&ix.free(local).saturating_minus(size));
            if best.is_none_or(|(b, bh)| better(score, b) || (score == b && h < bh)) {
                best = Some((score, h));
            }
        }
        best.map(|(_, h)| h)
    }
}

/// The index over hosts of one capacity: what [`HostIndex`] is for a
/// uniform cluster, and for each host type of a mixed one.
#[derive(Debug, Clone)]
struct Single {
    capacity: Resources,
    scale: Scale,
    /// Per host, what is committed and its bucket's slot, side by side: an
    /// update reads both (one cache line on a cluster too large for cache).
    hosts: Vec<Slot>,
    /// For first fit, when asked for ([`Self::new`]); without it first fit
    /// looks at the lowest host of every bucket with room.
    tree: Option<MaxTree>,
    /// `key(unit)` of each dimension.
    weights: [u64; DIMS],
    /// Hosts by their free capacity: see [`Buckets`].
    buckets: Buckets,
    active: usize,
    total_used: [u128; DIMS],
}

impl Single {
    /// `n` idle hosts of `capacity`, with the segment tree that makes first
    /// fit O(log n) when its maxima prune well.
    fn new(n: usize, capacity: Resources) -> Result<Single, IndexError> {
        let mut idx = Self::without_tree(n, capacity)?;
        idx.tree = Some(MaxTree::new(n, &capacity, &idx.weights));
        Ok(idx)
    }

    /// `n` idle hosts of `capacity`, without the segment tree: updates are
    /// cheaper, and first fit takes the lowest fitting host of each bucket
    /// (O(buckets with room)), which suits few distinct sizes.
    fn without_tree(n: usize, capacity: Resources) -> Result<Single, IndexError> {
        if n >= u32::MAX as usize {
            return Err(IndexError::TooManyHosts(n));
        }
        let scale = Scale::of(&capacity);
        if !scale.exact() {
            return Err(IndexError::InexactCapacity(capacity));
        }
        let mut buckets = Buckets::new(n as u32);
        let key = scale.key(&capacity);
        let hosts = (0..n as u32)
            .map(|i| Slot {
                used: Resources::ZERO,
                bucket: buckets.insert(i, class_of(&capacity), key),
            })
            .collect();
        let weights: [u64; DIMS] = std::array::from_fn(|d| {
            let mut unit = Resources::ZERO;
            unit.0[d] = 1;
            scale.key(&unit)
        });
        Ok(Single {
            capacity,
            scale,
            hosts,
            tree: None,
            weights,
            buckets,
            active: 0,
            total_used: [0; DIMS],
        })
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// The capacity of every host.
    pub fn capacity(&self) -> Resources {
        self.capacity
    }

    /// What is committed on `host`.
    pub fn used(&self, host: HostId) -> Resources {
        self.hosts[host.index()].used
    }

    /// Free capacity of `host`.
    pub fn free(&self, host: HostId) -> Resources {
        self.capacity.saturating_minus(&self.hosts[host.index()].used)
    }

    /// Hosts holding anything (an energy-aware site powers the others down).
    pub fn active_hosts(&self) -> usize {
        self.active
    }

    /// The sum of what is committed over every host, per dimension.
    pub fn total_used(&self) -> [u128; DIMS] {
        self.total_used
    }

    /// Sets what is committed on `host`: O(log n). `used` should be within
    /// the capacity; anything above it counts as full.
    pub fn update(&mut self, host: HostId, used: Resources) {
        let i = host.index();
        let slot = &mut self.hosts[i];
        let old = slot.used;
        if old == used {
            return;
        }
        let new_free = self.capacity.saturating_minus(&used);
        self.buckets.remove(host.0, slot.bucket);
        slot.bucket = self
            .buckets
            .insert(host.0, class_of(&new_free), self.scale.key(&new_free));
        slot.used = used;
        self.active = self.active + usize::from(!used.is_zero()) - usize::from(!old.is_zero());
        for d in 0..DIMS {
            self.total_used[d] = self.total_used[d] - old.0[d] as u128 + used.0[d] as u128;
        }
        if let Some(tree) = &mut self.tree {
            tree.set(i, new_free, &self.weights);
        }
    }

    /// The lowest-id host with room for `size`: [`crate::fit::first_fit`].
    pub fn first_fit(&self, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        if !size.fits_in(&self.capacity) {
            return None;
        }
        match &self.tree {
            Some(tree) => {
                let need = balance_of(&self.weights, size);
                let exclude = exclude.map(HostId::index);
                tree.descend(1, size, need, exclude).map(|i| HostId(i as u32))
            }
            None => {
                let exclude = exclude.map(|h| h.0);
                let mut best: Option<u32> = None;
                for (&class, keys) in self.buckets.classes.range([size.0[0], 0, 0]..) {
                    if class[1] < size.0[2] || class[2] < size.0[3] {
                        continue;
                    }
                    for (_, &b) in keys.range(self.class_floor(class, size)..) {
                        if let Some(h) = self.buckets.sets[b as usize].first_except(exclude) {
                            best = Some(best.map_or(h, |x| x.min(h)));
                        }
                    }
                }
                best.map(HostId)
            }
        }
    }

    /// The smallest key a host of free cpu, bandwidth and disk `class` with
    /// room for `size` can have (its memory free is at least the size's).
    fn class_floor(&self, class: [u64; 3], size: &Resources) -> u64 {
        let w = &self.weights;
        class[0] * w[0] + size.0[1] * w[1] + class[1] * w[2] + class[2] * w[3]
    }

    /// The host with room left fullest: [`crate::fit::best_fit`].
    ///
    /// Visits the classes (free cpu, bandwidth, disk) with room for the
    /// size, by increasing free cpu. In a class only memory varies and the
    /// key orders it, so the first host at or above the class floor
    /// ([`Self::class_floor`]) is the class's best fit: one lookup per class.
    /// A class with more free cpu than the best found so far can only do
    /// better while `cpu × weight + key(size without cpu)` is no more than
    /// the best key: the walk stops there.
    pub fn best_fit(&self, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        if !size.fits_in(&self.capacity) {
            return None;
        }
        let mut rest = *size;
        rest.0[0] = 0;
        let rest = self.scale.key(&rest);
        let exclude = exclude.map(|h| h.0);
        let mut best: Option<(u64, u32)> = None;
        for (&class, keys) in self.buckets.classes.range([size.0[0], 0, 0]..) {
            if best.is_some_and(|(k, _)| class[0] * self.weights[0] + rest > k) {
                break;
            }
            if class[1] < size.0[2] || class[2] < size.0[3] {
                continue;
            }
            // Every host of the class at or above the floor has room; the
            // first bucket with a host other than `exclude` holds the best.
            let floor = self.class_floor(class, size);
            for (&k, &b) in keys.range(floor..) {
                if best.is_some_and(|(bk, _)| k > bk) {
                    break;
                }
                if let Some(h) = self.buckets.sets[b as usize].first_except(exclude) {
                    if best.is_none_or(|bh| (k, h) < bh) {
                        best = Some((k, h));
                    }
                    break;
                }
            }
        }
        best.map(|(_, h)| HostId(h))
    }

    /// The host with room left emptiest: [`crate::fit::worst_fit`].
    ///
    /// Visits the classes with room for the size by decreasing free cpu,
    /// each from its top (the most free memory); stops when even a host with
    /// everything but cpu free could not beat the best found. Equal keys go
    /// to the lowest id.
    pub fn worst_fit(&self, size: &Resources, exclude: Option<HostId>) -> Option<HostId> {
        if !size.fits_in(&self.capacity) {
            return None;
        }
        let mut rest = self.capacity;
        rest.0[0] = 0;
        let full_rest = self.scale.key(&rest);
        let exclude = exclude.map(|h| h.0);
        let mut best: Option<(u64, u32)> = None;
        for (&class, keys) in self.buckets.classes.range([size.0[0], 0, 0]..).rev() {
            if best.is_some_and(|(k, _)| class[0] * self.weights[0] + full_rest < k) {
                break;
            }
            if class[1] < size.0[2] || class[2] < size.0[3] {
                continue;
            }
            // From the most free memory down: the first bucket with a host
            // other than `exclude` is the class's worst fit, its lowest id.
            let floor = self.class_floor(class, size);
            for (&k, &b) in keys.range(floor..).rev() {
                if best.is_some_and(|(bk, _)| k < bk) {
                    break;
                }
                if let Some(h) = self.buckets.sets[b as usize].first_except(exclude) {
                    if best.is_none_or(|(bk, bh)| k > bk || (k == bk && h < bh)) {
                        best = Some((k, h));
                    }
                    break;
                }
            }
        }
        best.map(|(_, h)| HostId(h))
    }

    /// The hosts as a snapshot, for the linear scans.
    pub fn views(&self) -> Vec<HostView> {
        self.hosts
            .iter()
            .enumerate()
            .map(|(i, h)| HostView {
                id: HostId(i as u32),
                capacity: self.capacity,
                used: h.used,
            })
            .collect()
    }

    /// Recomputes every derived structure from the per-host `used` and
    /// compares (O(n log n)): the tree's leaves and maxima, the key set, the
    /// active count and the totals. `Err` says what differs.
    pub fn check(&self) -> Result<(), String> {
        let n = self.hosts.len();
        for (i, h) in self.hosts.iter().enumerate() {
            let free = self.capacity.saturating_minus(&h.used);
            if !self
                .buckets
                .holds(i as u32, h.bucket, class_of(&free), self.scale.key(&free))
            {
                return Err(format!("index buckets lack host{i} at its free {free}"));
            }
        }
        let used: Vec<Resources> = self.hosts.iter().map(|h| h.used).collect();
        if let Some(tree) = &self.tree {
            tree.check(&self.capacity, &used, &self.weights)?;
        }
        self.buckets.check(n)?;
        let active = used.iter().filter(|u| !u.is_zero()).count();
        if active != self.active {
            return Err(format!(
                "index counts {} active hosts, recount {active}",
                self.active
            ));
        }
        let mut total = [0u128; DIMS];
        for u in &used {
            for (t, &x) in total.iter_mut().zip(&u.0) {
                *t += x as u128;
            }
        }
        if total != self.total_used {
            return Err(format!("index total {:?}, recount {total:?}", self.total_used));
        }
        Ok(())
    }
}

/// One host of a [`Single`]: what is committed on it and its bucket.
#[derive(Debug, Clone, Copy)]
struct Slot {
    used: Resources,
    bucket: u32,
}

/// The hosts grouped by free capacity, in the order the fits walk them.
///
/// A **class** is a free (cpu, bandwidth, disk) triple ([`class_of`]);
/// within a class only free memory varies, and the key ([`Scale::key`])
/// orders it. Each (class, key) pair, which is one free capacity, has a
/// **bucket**: the set of hosts with exactly that free capacity. Moving a
/// host between two existing buckets touches no ordered map: the host's
/// bucket is remembered (in its [`Slot`]), the target bucket found by one
/// hash lookup, and each set is an [`IdSet`]. The ordered maps change only
/// when a new free capacity appears or the empty buckets are dropped.
#[derive(Debug, Clone)]
struct Buckets {
    /// Class, then key, to the bucket's slot in `sets`.
    classes: BTreeMap<[u64; 3], BTreeMap<u64, u32>>,
    /// The same, for lookups only (never iterated, so its order is moot).
    slot_of: HashMap<Name, u32, BuildHasherDefault<FxHasher>>,
    /// Indexed by slot; empty slots are in `spare`.
    sets: Vec<IdSet>,
    /// Each slot's class and key, for removing it when it empties.
    names: Vec<([u64; 3], u64)>,
    spare: Vec<u32>,
    /// Empty buckets still listed.
    empty: usize,
    /// One past the largest host number.
    bound: u32,
}

impl Buckets {
    fn new(n: u32) -> Self {
        Buckets {
            classes: BTreeMap::new(),
            slot_of: HashMap::default(),
            sets: Vec::new(),
            names: Vec::new(),
            spare: Vec::new(),
            empty: 0,
            bound: n,
        }
    }

    /// Puts `host`, which is in no bucket, in the bucket of `class` and
    /// `key`; returns the bucket's slot (the host's owner keeps it).
    fn insert(&mut self, host: u32, class: [u64; 3], key: u64) -> u32 {
        let slot = match self.slot_of.get(&Name(class, key)) {
            Some(&slot) => {
                if self.sets[slot as usize].is_empty() {
                    self.empty -= 1;
                }
                slot
            }
            None => {
                let slot = match self.spare.pop() {
                    Some(slot) => {
                        self.names[slot as usize] = (class, key);
                        slot
                    }
                    None => {
                        self.sets.push(IdSet::default());
                        self.names.push((class, key));
                        (self.sets.len() - 1) as u32
                    }
                };
                self.classes.entry(class).or_default().insert(key, slot);
                self.slot_of.insert(Name(class, key), slot);
                slot
            }
        };
        self.sets[slot as usize].insert(host, self.bound);
        slot
    }

    /// Takes `host` out of its bucket, in `slot`. A bucket that empties stays listed
    /// (hosts tend to come back to the same free capacities, and the walks
    /// skip empty buckets) until the empty ones outnumber the others; then
    /// every empty bucket is dropped at once.
    fn remove(&mut self, host: u32, slot: u32) {
        let set = &mut self.sets[slot as usize];
        set.remove(host);
        if set.is_empty() {
            self.empty += 1;
            if self.empty > 16 && 2 * self.empty > self.slot_of.len() {
                self.drop_empty();
            }
        }
    }

    /// Drops every empty bucket from the maps; its slot becomes spare.
    fn drop_empty(&mut self) {
        for (slot, set) in self.sets.iter().enumerate() {
            let (class, key) = self.names[slot];
            // A spare slot keeps its old name, which a listed slot may have now.
            if !set.is_empty() || self.slot_of.get(&Name(class, key)) != Some(&(slot as u32)) {
                continue;
            }
            self.slot_of.remove(&Name(class, key));
            if let Some(keys) = self.classes.get_mut(&class) {
                keys.remove(&key);
                if keys.is_empty() {
                    self.classes.remove(&class);
                }
            }
            self.spare.push(slot as u32);
        }
        self.empty = 0;
    }

    /// True if `host`, said to be in `slot`, is in the bucket of `class`
    /// and `key`, which is that slot.
    fn holds(&self, host: u32, slot: u32, class: [u64; 3], key: u64) -> bool {
        self.classes
            .get(&class)
            .and_then(|keys| keys.get(&key))
            .is_some_and(|&s| s == slot && self.sets[slot as usize].contains(host))
    }

    /// Every bucket as `(class, key, hosts)`, in walk order.
    fn listing(&self) -> Vec<([u64; 3], u64, Vec<u32>)> {
        self.classes
            .iter()
            .flat_map(|(&class, keys)| {
                keys.iter()
                    .map(move |(&key, &slot)| (class, key, self.sets[slot as usize].to_vec()))
            })
            .collect()
    }

    /// The buckets hold `n` hosts in all, the empty ones are counted, and
    /// every slot is listed or spare.
    fn check(&self, n: usize) -> Result<(), String> {
        let listed = self.listing();
        let entries: usize = listed.iter().map(|(_, _, hs)| hs.len()).sum();
        if entries != n {
            return Err(format!("index buckets have {entries} entries for {n} hosts"));
        }
        let empty = listed.iter().filter(|(_, _, hs)| hs.is_empty()).count();
        if empty != self.empty
            || listed.len() != self.slot_of.len()
            || listed.len() + self.spare.len() != self.sets.len()
            || self.spare.iter().any(|&s| !self.sets[s as usize].is_empty())
        {
            return Err("index bucket slots are out of step".into());
        }
        Ok(())
    }

    /// [`Self::listing`] without the empty buckets: the same hosts give the
    /// same listing whatever came before.
    #[cfg(test)]
    fn occupied(&self) -> Vec<([u64; 3], u64, Vec<u32>)> {
        let mut l = self.listing();
        l.retain(|(_, _, hs)| !hs.is_empty());
        l
    }
}

/// A bucket's class and key, hashed as four words (a `[u64; 3]` would
/// hash as a byte slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Name([u64; 3], u64);

impl std::hash::Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for w in self.0 {
            state.write_u64(w);
        }
        state.write_u64(self.1);
    }
}

/// A multiply-rotate hash of whole words (the Firefox/rustc "Fx" hash):
/// a few instructions per word, against SipHash's dozens. Lookups of
/// [`Buckets::slot_of`] only; nothing iterates a map hashed with it.
#[derive(Debug, Clone, Copy, Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A segment tree over host ids whose every node holds the componentwise
/// maximum free capacity of its subtree, and the largest [`balance_of`].
#[derive(Debug, Clone)]
struct MaxTree {
    /// Leaves (`leaves` of them, a power of two) start at index `leaves`;
    /// node `i` has children `2i` and `2i + 1`; padding leaves are zero.
    max: Vec<Resources>,
    /// Per node, the largest balance of a host below it.
    balance: Vec<u64>,
    leaves: usize,
    hosts: usize,
}

impl MaxTree {
    /// `n` hosts with `free` each.
    fn new(n: usize, free: &Resources, weights: &[u64; DIMS]) -> Self {
        let leaves = n.next_power_of_two().max(1);
        let mut max = vec![Resources::ZERO; 2 * leaves];
        max[leaves..leaves + n].fill(*free);
        let mut balance = vec![0; 2 * leaves];
        balance[leaves..leaves + n].fill(balance_of(weights, free));
        for i in (1..leaves).rev() {
            max[i] = max_of(&max[2 * i], &max[2 * i + 1]);
            balance[i] = balance[2 * i].max(balance[2 * i + 1]);
        }
        MaxTree {
            max,
            balance,
            leaves,
            hosts: n,
        }
    }

    /// Host `i` has `free` now.
    fn set(&mut self, i: usize, free: Resources, weights: &[u64; DIMS]) {
        let mut node = self.leaves + i;
        self.max[node] = free;
        self.balance[node] = balance_of(weights, &free);
        while node > 1 {
            node /= 2;
            let m = max_of(&self.max[2 * node], &self.max[2 * node + 1]);
            let b = self.balance[2 * node].max(self.balance[2 * node + 1]);
            if self.max[node] == m && self.balance[node] == b {
                break;
            }
            self.max[node] = m;
            self.balance[node] = b;
        }
    }

    /// The lowest-id leaf below `node` with room for `size`, not `exclude`.
    fn descend(&self, node: usize, size: &Resources, need: u64, exclude: Option<usize>) -> Option<usize> {
        if self.balance[node] < need || !size.fits_in(&self.max[node]) {
            return None;
        }
        if node >= self.leaves {
            let i = node - self.leaves;
            return (i < self.hosts && Some(i) != exclude).then_some(i);
        }
        self.descend(2 * node, size, need, exclude)
            .or_else(|| self.descend(2 * node + 1, size, need, exclude))
    }

    /// The leaves are the hosts' free capacities and every node the
    /// maximum of its children.
    fn check(&self, capacity: &Resources, used: &[Resources], weights: &[u64; DIMS]) -> Result<(), String> {
        for (i, u) in used.iter().enumerate() {
            let free = capacity.saturating_minus(u);
            if self.max[self.leaves + i] != free {
                return Err(format!(
                    "index leaf of host{i} is {} but its free is {free}",
                    self.max[self.leaves + i]
                ));
            }
        }
        if self.max[self.leaves + used.len()..].iter().any(|r| !r.is_zero()) {
            return Err("index padding leaf is not zero".into());
        }
        for i in 0..self.leaves {
            let want = if i < used.len() {
                balance_of(weights, &self.max[self.leaves + i])
            } else {
                0
            };
            if self.balance[self.leaves + i] != want {
                return Err(format!("index balance of leaf {i} is stale"));
            }
        }
        for i in 1..self.leaves {
            if self.balance[i] != self.balance[2 * i].max(self.balance[2 * i + 1]) {
                return Err(format!(
                    "index balance of node {i} is not the maximum of its children"
                ));
            }
            if self.max[i] != max_of(&self.max[2 * i], &self.max[2 * i + 1]) {
                return Err(format!("index node {i} is not the maximum of its children"));
            }
        }
        Ok(())
    }
}

/// `min(cpu × weight, memory × weight)`: a host with room for `size` has a
/// balance at least the size's (each term is at least the size's term). A
/// subtree whose hosts all lack either cpu or memory has a small largest
/// balance even when its componentwise maximum looks large enough; first
/// fit prunes it.
fn balance_of(weights: &[u64; DIMS], r: &Resources) -> u64 {
    (r.0[0] * weights[0]).min(r.0[1] * weights[1])
}

/// The class of a host with `free` capacity: its free cpu, bandwidth and
/// disk (everything but memory).
fn class_of(free: &Resources) -> [u64; 3] {
    [free.0[0], free.0[2], free.0[3]]
}

fn max_of(a: &Resources, b: &Resources) -> Resources {
    let mut out = *a;
    for (o, x) in out.0.iter_mut().zip(b.0) {
        *o = (*o).max(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_linear(
        idx: &HostIndex,
        size: &Resources,
        exclude: Option<HostId>,
    ) -> Result<(), TestCaseError> {
        let hosts = idx.views();
        let view = ClusterView::new(&hosts);
        for kind in FitKind::ALL {
            prop_assert_eq!(
                idx.choose(kind, size, exclude),
                kind.linear(&view, size, exclude),
                "{} of {} excluding {:?}",
                kind,
                size,
                exclude
            );
        }
        Ok(())
    }

    #[test]
    fn hand_made_cluster() {
        // Capacity 4 everywhere, used 3, 1, 2, 0, 2 (fit.rs's example).
        let mut idx = HostIndex::new(5, Resources([4; 4])).unwrap();
        for (i, u) in [3, 1, 2, 0, 2].into_iter().enumerate() {
            idx.update(HostId(i as u32), Resources([u; 4]));
        }
        let one = Resources([1; 4]);
        let two = Resources([2; 4]);
        assert_eq!(idx.first_fit(&one, None), Some(HostId(0)));
        assert_eq!(idx.first_fit(&two, None), Some(HostId(1)));
        assert_eq!(idx.best_fit(&one, None), Some(HostId(0)));
        assert_eq!(idx.best_fit(&two, None), Some(HostId(2)));
        assert_eq!(idx.worst_fit(&one, None), Some(HostId(3)));
        assert_eq!(idx.worst_fit(&one, Some(HostId(3))), Some(HostId(1)));
        assert_eq!(idx.first_fit(&Resources([5; 4]), None), None);
        assert_eq!(idx.active_hosts(), 4);
        assert_eq!(idx.total_used(), [8; 4]);
        idx.check().unwrap();
        // Worst fit on equal keys takes the lowest id: hosts 2 and 4.
        idx.update(HostId(3), Resources([3; 4]));
        idx.update(HostId(1), Resources([3; 4]));
        assert_eq!(idx.worst_fit(&one, None), Some(HostId(2)));
    }

    #[test]
    fn empty_buckets_are_dropped_once_they_outnumber_the_others() {
        let mut idx = HostIndex::without_tree(2, Resources([100; 4])).unwrap();
        for u in 1..=60 {
            // Host 0 visits 60 free capacities, each once.
            idx.update(HostId(0), Resources([u; 4]));
            idx.check().unwrap();
            let listed = idx.single().buckets.listing().len();
            assert!(listed <= 2 * 2 + 17, "{listed} buckets listed after {u} updates");
            assert_eq!(idx.best_fit(&Resources([1; 4]), None), Some(HostId(0)));
            assert_eq!(idx.worst_fit(&Resources([1; 4]), None), Some(HostId(1)));
        }
        // Slots are reused, not grown per capacity seen.
        assert!(
            idx.single().buckets.sets.len() < 30,
            "{} slots",
            idx.single().buckets.sets.len()
        );
        let rebuilt = HostIndex::from_view(&ClusterView::new(&idx.views())).unwrap();
        assert_eq!(
            rebuilt.single().buckets.occupied(),
            idx.single().buckets.occupied()
        );
    }

    #[test]
    fn indexes_mixed_and_rejects_inexact_capacities() {
        let hs = [
            HostView {
                id: HostId(0),
                capacity: Resources([4; 4]),
                used: Resources::ZERO,
            },
            HostView {
                id: HostId(1),
                capacity: Resources([5; 4]),
                used: Resources::ZERO,
            },
        ];
        // Mixed capacities are indexed per type: host 1 alone fits 5.
        let idx = HostIndex::from_view(&ClusterView::new(&hs)).unwrap();
        assert!(idx.is_mixed());
        assert_eq!(idx.capacity(), Resources([5; 4]));
        assert_eq!(idx.first_fit(&Resources([5; 4]), None), Some(HostId(1)));
        assert_eq!(idx.first_fit(&Resources([5; 4]), Some(HostId(1))), None);
        let odd = Resources([(1 << 40) - 87, (1 << 40) - 167, 1000, 200]);
        assert!(matches!(
            HostIndex::new(3, odd),
            Err(IndexError::InexactCapacity(_))
        ));
        // One inexact type makes a mixed cluster inexact.
        assert!(matches!(
            HostIndex::with_capacities(&[Resources([4; 4]), odd]),
            Err(IndexError::InexactCapacity(c)) if c == odd
        ));
        assert!(
            HostIndex::new(0, Resources([1; 4]))
                .unwrap()
                .first_fit(&Resources::ZERO, None)
                .is_none()
        );
    }

    #[test]
    fn names_round_trip() {
        for k in FitKind::ALL {
            assert_eq!(FitKind::from_name(k.name()), Ok(k));
        }
        let e = FitKind::from_name("next-fit").unwrap_err();
        assert!(e.to_string().ends_with("first-fit, best-fit, worst-fit"), "{e}");
    }

    fn dim() -> impl Strategy<Value = u64> {
        prop_oneof![Just(1u64), Just(3), Just(4), Just(10), Just(12), 1u64..40]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Random clusters, random update sequences, random requests: the index
        /// answers exactly what the linear scans answer, and stays consistent.
        #[test]
        fn index_equals_linear(
            cap in prop::array::uniform4(dim()),
            n in 1usize..24,
            ops in prop::collection::vec((0usize..64, prop::array::uniform4(0.0f64..=1.0), prop::array::uniform4(0.0f64..=0.7), 0usize..30), 1..60),
        ) {
            let capacity = Resources(cap);
            // With and without the first-fit tree.
            let mut both = [HostIndex::new(n, capacity).unwrap(), HostIndex::without_tree(n, capacity).unwrap()];
            for (h, used_frac, size_frac, ex) in ops {
                let used = Resources(std::array::from_fn(|d| (used_frac[d] * cap[d] as f64).round() as u64));
                let size = Resources(std::array::from_fn(|d| (size_frac[d] * cap[d] as f64).round() as u64));
                let exclude = (ex < n).then_some(HostId(ex as u32));
                for idx in &mut both {
                    // Many hosts full in some dimension: the walks must skip them.
                    idx.update(HostId((h % n) as u32), used);
                    same_as_linear(idx, &size, exclude)?;
                    same_as_linear(idx, &size, None)?;
                    same_as_linear(idx, &Resources::ZERO, None)?;
                    prop_assert!(idx.check().is_ok(), "{:?}", idx.check());
                }
            }
            let rebuilt = HostIndex::from_view(&ClusterView::new(&both[0].views())).unwrap();
            prop_assert_eq!(rebuilt.single().buckets.occupied(), both[0].single().buckets.occupied());
            prop_assert_eq!(both[1].single().buckets.occupied(), both[0].single().buckets.occupied());
        }

        /// Clusters of two or three host types (some a multiple of another,
        /// so scores tie across types), random updates and requests: the
        /// per-type index answers exactly what the linear scans answer.
        #[test]
        fn mixed_index_equals_linear(
            caps in prop::collection::vec(prop::array::uniform4(dim()), 2..4),
            double in any::<bool>(),
            types in prop::collection::vec(0usize..3, 1..24),
            ops in prop::collection::vec((0usize..64, prop::array::uniform4(0.0f64..=1.0), prop::array::uniform4(0.0f64..=0.7), 0usize..30, 0usize..3), 1..60),
        ) {
            let mut caps: Vec<Resources> = caps.into_iter().map(Resources).collect();
            if double {
                caps[1] = Resources(caps[0].0.map(|c| 2 * c));
            }
            let capacities: Vec<Resources> = types.iter().map(|&t| caps[t % caps.len()]).collect();
            let n = capacities.len();
            let mut both = [
                HostIndex::with_capacities(&capacities).unwrap(),
                HostIndex::with_capacities_without_tree(&capacities).unwrap(),
            ];
            for idx in &both {
                prop_assert_eq!(idx.is_mixed(), capacities.iter().any(|c| *c != capacities[0]));
                prop_assert_eq!(idx.len(), n);
            }
            for (h, used_frac, size_frac, ex, of) in ops {
                let host = HostId((h % n) as u32);
                let cap = capacities[host.index()].0;
                let used = Resources(std::array::from_fn(|d| (used_frac[d] * cap[d] as f64).round() as u64));
                // A size relative to one of the types: some fit only the larger hosts.
                let base = caps[of % caps.len()].0;
                let size = Resources(std::array::from_fn(|d| (size_frac[d] * base[d] as f64).round() as u64));
                let exclude = (ex < n).then_some(HostId(ex as u32));
                for idx in &mut both {
                    idx.update(host, used);
                    prop_assert_eq!(idx.used(host), used);
                    prop_assert_eq!(idx.capacity_of(host), capacities[host.index()]);
                    same_as_linear(idx, &size, exclude)?;
                    same_as_linear(idx, &size, None)?;
                    same_as_linear(idx, &Resources::ZERO, None)?;
                    prop_assert!(idx.check().is_ok(), "{:?}", idx.check());
                }
            }
            let views = both[0].views();
            prop_assert_eq!(views.iter().map(|v| v.capacity).collect::<Vec<_>>(), capacities);
            prop_assert_eq!(both[0].active_hosts(), views.iter().filter(|v| !v.is_idle()).count());
            let total: [u128; DIMS] = std::array::from_fn(|d| views.iter().map(|v| v.used.0[d] as u128).sum());
            prop_assert_eq!(both[0].total_used(), total);
            let rebuilt = HostIndex::from_view(&ClusterView::new(&views)).unwrap();
            prop_assert_eq!(rebuilt.views(), views);
        }
    }
}
