//! A min-heap event queue with a documented FIFO tie-break.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::SimTime;

/// Scheduling errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The event would happen before the current time.
    #[error("cannot schedule an event at {at}: the clock is already at {now}")]
    InPast {
        /// The requested time.
        at: SimTime,
        /// The current time.
        now: SimTime,
    },
}

struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// The tie-break lives here: entries compare by `(time, seq)`, reversed
    /// so that `BinaryHeap` (a max-heap) pops the earliest time first and,
    /// at equal times, the lowest insertion sequence: FIFO among ties. `seq`
    /// is unique per queue, so the order is total and independent of the
    /// heap's internal layout.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Pending events of type `E`, popped in `(time, insertion sequence)` order.
///
/// The queue owns the clock: [`EventQueue::pop`] advances [`EventQueue::now`]
/// to the popped event's time, and time never goes backwards.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// The current time: that of the last popped event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`, which must not be before [`Self::now`].
    pub fn schedule(&mut self, at: SimTime, event: E) -> Result<(), ScheduleError> {
        if at < self.now {
            return Err(ScheduleError::InPast { at, now: self.now });
        }
        self.heap.push(Entry {
            time: at,
            seq: self.next_seq,
            event,
        });
        self.next_seq += 1;
        Ok(())
    }

    /// Schedules `event` after `delay` from now.
    pub fn schedule_in(&mut self, delay: SimTime, event: E) {
        let at = self.now.plus(delay);
        // `at >= now` by construction.
        self.heap.push(Entry {
            time: at,
            seq: self.next_seq,
            event,
        });
        self.next_seq += 1;
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    /// Removes the next event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = self.heap.pop()?;
        self.now = e.time;
        Some((e.time, e.event))
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order() {
        let mut q = EventQueue::new();
        for (t, e) in [(30, 'c'), (10, 'a'), (20, 'b')] {
            q.schedule(SimTime(t), e).unwrap();
        }
        let out: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            out,
            vec![(SimTime(10), 'a'), (SimTime(20), 'b'), (SimTime(30), 'c')]
        );
        assert_eq!(q.now(), SimTime(30));
    }

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        // Interleave two instants; each instant's events must stay FIFO.
        for i in 0..100u32 {
            q.schedule(SimTime(if i % 2 == 0 { 5 } else { 3 }), i).unwrap();
        }
        let out: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        let odd: Vec<u32> = (0..100).filter(|i| i % 2 == 1).collect();
        let even: Vec<u32> = (0..100).filter(|i| i % 2 == 0).collect();
        assert_eq!(out, [odd, even].concat());
    }

    #[test]
    fn scheduling_in_the_past_is_an_error() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(100), ()).unwrap();
        q.pop();
        assert_eq!(
            q.schedule(SimTime(99), ()),
            Err(ScheduleError::InPast {
                at: SimTime(99),
                now: SimTime(100)
            })
        );
        // The present is fine, and pops after what is already there.
        q.schedule(SimTime(100), ()).unwrap();
        q.schedule_in(SimTime(5), ());
        assert_eq!(q.pop().map(|p| p.0), Some(SimTime(100)));
        assert_eq!(q.pop().map(|p| p.0), Some(SimTime(105)));
        assert!(q.is_empty());
    }
}
