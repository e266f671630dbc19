//! The migration network: transfers share each host's bandwidth fairly.
//!
//! Every host can send and receive `capacity` MiB/s at once (full duplex);
//! shared storage is not a bottleneck. Concurrent transfers share the links
//! they cross with *max-min fairness* (progressive filling): the most
//! contended link is split evenly among its transfers, those transfers are
//! fixed at that rate, and the rest share what is left. Rates are
//! recomputed whenever a transfer starts or ends, so a transfer's duration
//! depends on what else moves meanwhile.
//!
//! Progress is fluid: between changes every transfer advances at its rate.
//! Completion times are rounded up to the millisecond; a transfer is done
//! once what is left is below [`EPSILON_MIB`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use slivers_policy::HostId;

use super::migration::Path;
use crate::engine::SimTime;

/// Transfers with less than this left are complete.
pub const EPSILON_MIB: f64 = 1e-6;

/// A transfer's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    Out(HostId),
    In(HostId),
}

#[derive(Debug, Clone, PartialEq)]
struct Flow {
    path: Path,
    left: f64,
    rate: f64,
}

impl Flow {
    fn links(&self) -> impl Iterator<Item = Link> {
        let (a, b) = match self.path {
            Path::Hosts { from, to } => (Some(Link::Out(from)), Some(Link::In(to))),
            Path::ToStorage(h) => (Some(Link::Out(h)), None),
            Path::FromStorage(h) => (None, Some(Link::In(h))),
        };
        a.into_iter().chain(b)
    }
}

/// The transfers in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    capacity: f64,
    /// Per host, from the first: a capacity other than `capacity` (hosts
    /// of several sites). Empty: every host has `capacity`.
    per_host: Vec<f64>,
    flows: BTreeMap<FlowId, Flow>,
    /// The transfers on each link.
    on_link: BTreeMap<Link, BTreeSet<FlowId>>,
    at: SimTime,
}

impl Network {
    /// A network whose hosts each send and receive `capacity_mibps`.
    pub fn new(capacity_mibps: f64) -> Self {
        Network {
            capacity: capacity_mibps,
            per_host: Vec::new(),
            flows: BTreeMap::new(),
            on_link: BTreeMap::new(),
            at: SimTime::ZERO,
        }
    }

    /// A network whose host `i` sends and receives `per_host[i]` MiB/s
    /// (hosts beyond the list, `capacity_mibps`).
    pub fn with_hosts(capacity_mibps: f64, per_host: Vec<f64>) -> Self {
        Network {
            per_host,
            ..Self::new(capacity_mibps)
        }
    }

    fn link_capacity(&self, l: Link) -> f64 {
        let (Link::Out(h) | Link::In(h)) = l;
        self.per_host.get(h.index()).copied().unwrap_or(self.capacity)
    }

    /// Starts sending `mib` along `path` at `now`.
    pub fn add(&mut self, now: SimTime, id: FlowId, path: Path, mib: f64) {
        self.advance(now);
        let flow = Flow {
            path,
            left: mib.max(0.0),
            rate: 0.0,
        };
        let links: Vec<Link> = flow.links().collect();
        for l in &links {
            self.on_link.entry(*l).or_default().insert(id);
        }
        self.flows.insert(id, flow);
        self.share(links);
    }

    /// Removes the transfers that are done by `now` and returns them in id order.
    pub fn take_done(&mut self, now: SimTime) -> Vec<FlowId> {
        self.advance(now);
        let done: Vec<FlowId> = self
            .flows
            .iter()
            .filter(|(_, f)| f.left < EPSILON_MIB)
            .map(|(id, _)| *id)
            .collect();
        if !done.is_empty() {
            self.drop_flows(&done);
        }
        done
    }

    /// Stops the transfer `id` at `now` (what it sent so far is sent; the
    /// rest never is), sharing its links among the others. Nothing if it
    /// is not in progress.
    pub fn cancel(&mut self, now: SimTime, id: FlowId) {
        self.advance(now);
        if self.flows.contains_key(&id) {
            self.drop_flows(&[id]);
        }
    }

    /// Removes `ids` and shares the links they used again.
    fn drop_flows(&mut self, ids: &[FlowId]) {
        let mut links = Vec::new();
        for id in ids {
            if let Some(f) = self.flows.remove(id) {
                for l in f.links() {
                    if let Some(set) = self.on_link.get_mut(&l) {
                        set.remove(id);
                        if set.is_empty() {
                            self.on_link.remove(&l);
                        }
                    }
                    links.push(l);
                }
            }
        }
        self.share(links);
    }

    /// When the next transfer completes at the current rates.
    pub fn next_done(&self) -> Option<SimTime> {
        self.flows
            .values()
            .map(|f| {
                if f.left < EPSILON_MIB {
                    self.at
                } else {
                    self.at.plus(super::migration::transfer_time(f.left, f.rate))
                }
            })
            .min()
    }

    /// The current rate of a transfer, MiB/s.
    pub fn rate(&self, id: FlowId) -> Option<f64> {
        self.flows.get(&id).map(|f| f.rate)
    }

    /// Transfers in progress.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True if nothing is being sent.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    fn advance(&mut self, now: SimTime) {
        let dt = now.0.saturating_sub(self.at.0) as f64 / 1000.0;
        if dt > 0.0 {
            for f in self.flows.values_mut() {
                f.left = (f.left - f.rate * dt).max(0.0);
            }
        }
        self.at = self.at.max(now);
    }

    /// Max-min fair rates by progressive filling, for the transfers that
    /// share links, directly or through others, with `changed` (the links of
    /// a transfer that started or ended). Max-min fairness splits over these
    /// connected components, so the rates elsewhere stay as they are, and
    /// this costs what the component costs, not what the whole network does.
    /// Deterministic: links and flows are visited in order, and ties between
    /// equally contended links go to the lowest link; the component's rates
    /// are the same, bit for bit, as those of a pass over every transfer.
    fn share(&mut self, changed: Vec<Link>) {
        // The component: every flow reachable from the changed links.
        let mut seen_links: BTreeSet<Link> = BTreeSet::new();
        let mut todo = changed;
        let mut component: BTreeSet<FlowId> = BTreeSet::new();
        while let Some(l) = todo.pop() {
            if !seen_links.insert(l) {
                continue;
            }
            for id in self.on_link.get(&l).into_iter().flatten() {
                if component.insert(*id) {
                    todo.extend(self.flows[id].links());
                }
            }
        }
        let mut left: BTreeMap<Link, f64> = BTreeMap::new();
        let mut users: BTreeMap<Link, usize> = BTreeMap::new();
        for id in &component {
            for l in self.flows[id].links() {
                left.insert(l, self.link_capacity(l));
                *users.entry(l).or_default() += 1;
            }
        }
        // Progressive filling with a heap of the links' fair shares (least
        // first, ties to the lowest link): fixing a link's flows at its
        // share never lowers another link's share (the least share is at
        // most theirs), so an entry whose share is no longer the link's is
        // stale and skipped, and each pop that counts fixes a link. Each
        // flow is fixed once: O((flows + links) log links), where a scan of
        // every link per step costs O(links x (links + flows)).
        let mut unfixed = component;
        let mut heap: BinaryHeap<Reverse<(Share, Link)>> = users
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(l, n)| Reverse((Share(left[l] / *n as f64), *l)))
            .collect();
        let mut touched: Vec<Link> = Vec::new();
        while let Some(Reverse((Share(fair), link))) = heap.pop() {
            let n = users[&link];
            if n == 0 || (left[&link] / n as f64).to_bits() != fair.to_bits() {
                continue;
            }
            touched.clear();
            let on: Vec<FlowId> = (self.on_link.get(&link).into_iter().flatten())
                .filter(|id| unfixed.contains(id))
                .copied()
                .collect();
            for id in on {
                unfixed.remove(&id);
                let f = self.flows.get_mut(&id).expect("flows on a link exist");
                f.rate = fair;
                for l in f.links() {
                    *left.get_mut(&l).expect("every link of a flow is counted") -= fair;
                    *users.get_mut(&l).expect("every link of a flow is counted") -= 1;
                    touched.push(l);
                }
            }
            for l in &touched {
                let n = users[l];
                if n > 0 {
                    heap.push(Reverse((Share(left[l] / n as f64), *l)));
                }
            }
        }
    }
}

/// A fair share, ordered by [`f64::total_cmp`] (for the heap).
#[derive(Debug, Clone, Copy)]
struct Share(f64);

impl PartialEq for Share {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for Share {}

impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Share {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(from: u32, to: u32) -> Path {
        Path::Hosts {
            from: HostId(from),
            to: HostId(to),
        }
    }

    /// Runs the network until every flow is done; returns completion times.
    fn run(net: &mut Network) -> BTreeMap<FlowId, SimTime> {
        let mut out = BTreeMap::new();
        while let Some(t) = net.next_done() {
            for id in net.take_done(t) {
                out.insert(id, t);
            }
        }
        out
    }

    #[test]
    fn two_transfers_from_one_host_take_twice_as_long() {
        let mut one = Network::new(100.0);
        one.add(SimTime::ZERO, FlowId(0), hosts(0, 1), 1000.0);
        assert_eq!(run(&mut one)[&FlowId(0)], SimTime::from_secs(10));

        let mut two = Network::new(100.0);
        two.add(SimTime::ZERO, FlowId(0), hosts(0, 1), 1000.0);
        two.add(SimTime::ZERO, FlowId(1), hosts(0, 2), 1000.0);
        assert_eq!(two.rate(FlowId(0)), Some(50.0));
        let done = run(&mut two);
        assert_eq!(done[&FlowId(0)], SimTime::from_secs(20));
        assert_eq!(done[&FlowId(1)], SimTime::from_secs(20));
    }

    #[test]
    fn a_transfer_speeds_up_when_the_other_ends() {
        let mut net = Network::new(100.0);
        net.add(SimTime::ZERO, FlowId(0), hosts(0, 1), 500.0);
        // At 2 s flow 0 has 300 left; flow 1 (into the same host) shares.
        net.add(SimTime::from_secs(2), FlowId(1), hosts(2, 1), 1000.0);
        assert_eq!(net.rate(FlowId(1)), Some(50.0));
        let done = run(&mut net);
        // Flow 0: 300 at 50 -> done at 8 s. Flow 1 then has 700 left, alone
        // at 100: done at 15 s (it would take 22 s at a fixed half share).
        assert_eq!(done[&FlowId(0)], SimTime::from_secs(8));
        assert_eq!(done[&FlowId(1)], SimTime::from_secs(15));
    }

    #[test]
    fn max_min_fairness_gives_leftovers_to_unconstrained_flows() {
        let mut net = Network::new(90.0);
        // Three flows out of host 0; one of them also shares host 3's
        // inbound link with two storage reads.
        net.add(SimTime::ZERO, FlowId(0), hosts(0, 1), 100.0);
        net.add(SimTime::ZERO, FlowId(1), hosts(0, 2), 100.0);
        net.add(SimTime::ZERO, FlowId(2), hosts(0, 3), 100.0);
        net.add(SimTime::ZERO, FlowId(3), Path::FromStorage(HostId(3)), 100.0);
        net.add(SimTime::ZERO, FlowId(4), Path::FromStorage(HostId(3)), 100.0);
        net.add(SimTime::ZERO, FlowId(5), Path::ToStorage(HostId(4)), 100.0);
        // Out(0) and In(3) both give 30 each; flows 0..=4 get 30, flow 2's
        // share is 30 on both, and host 4 sends alone at 90.
        let rates: Vec<f64> = (0..6).map(|i| net.rate(FlowId(i)).unwrap()).collect();
        assert_eq!(rates, vec![30.0, 30.0, 30.0, 30.0, 30.0, 90.0]);
        net.add(SimTime::ZERO, FlowId(6), hosts(5, 3), 100.0);
        // In(3) is now split four ways (22.5); Out(0) gives the two flows
        // left on it (90 - 22.5) / 2 = 33.75.
        let rates: Vec<f64> = (0..7).map(|i| net.rate(FlowId(i)).unwrap()).collect();
        assert_eq!(rates, vec![33.75, 33.75, 22.5, 22.5, 22.5, 90.0, 22.5]);
    }

    #[test]
    fn an_empty_transfer_is_done_at_once() {
        let mut net = Network::new(100.0);
        net.add(SimTime(7), FlowId(3), hosts(0, 1), 0.0);
        assert_eq!(net.next_done(), Some(SimTime(7)));
        assert_eq!(net.take_done(SimTime(7)), vec![FlowId(3)]);
        assert!(net.is_empty());
    }
}
