//! Messages a host adapter has decided to send a driver, delivered in the
//! order they were decided, outside the adapter's lock.
//!
//! Delivering may run the driver at once on this thread, and the driver
//! may call back into the adapter (which takes its lock again), so nothing
//! is delivered under the lock. One thread at a time empties the box; a
//! thread that finds another one at it leaves its messages to that one.

use dingo::{Peer, Wire};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// The queue of decided, undelivered messages (lives inside the adapter's
/// locked state).
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<Wire>,
    flushing: bool,
}

impl Outbox {
    /// Queues `w` for delivery.
    pub fn push(&mut self, w: Wire) {
        self.queue.push_back(w);
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// Locks `state`, ignoring poisoning (a host adapter's state stays usable
/// after a panic elsewhere).
pub fn lock<S>(state: &Mutex<S>) -> MutexGuard<'_, S> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Delivers what `outbox(state)` holds to `driver`, in order, releasing the
/// lock around each delivery; returns at once if another thread (or an
/// outer call on this one) is already delivering.
pub fn flush<'a, S>(
    state: &'a Mutex<S>,
    mut guard: MutexGuard<'a, S>,
    outbox: impl Fn(&mut S) -> &mut Outbox,
    driver: Option<&Peer>,
) {
    if outbox(&mut guard).flushing {
        return;
    }
    outbox(&mut guard).flushing = true;
    while let Some(w) = outbox(&mut guard).queue.pop_front() {
        drop(guard);
        if let Some(d) = driver {
            d(w);
        }
        guard = lock(state);
    }
    outbox(&mut guard).flushing = false;
}
