//! Time for observers: a clock trait, a virtual clock for tests and
//! replay, and a monotonic clock for real runs. All times are microseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Where an observer gets the current time from, in microseconds.
pub trait Clock {
    /// The current time in microseconds since some fixed start.
    fn now_us(&self) -> u64;
}

/// A clock that moves only when told to: deterministic tests and replay.
/// Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    /// A clock at time zero.
    pub fn new() -> VirtualClock {
        VirtualClock::default()
    }

    /// Sets the time. Observers expect time not to go backwards while they
    /// run; setting an earlier time is for starting over after
    /// [`Observer::reset`](crate::Observer::reset).
    #[inline]
    pub fn set(&self, us: u64) {
        self.0.store(us, Ordering::Relaxed);
    }

    /// Moves the time forward by `us`.
    pub fn advance(&self, us: u64) {
        self.0.fetch_add(us, Ordering::Relaxed);
    }
}

impl Clock for VirtualClock {
    #[inline]
    fn now_us(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Real elapsed time since the clock was made.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    start: Instant,
}

impl MonotonicClock {
    /// A clock starting now.
    pub fn new() -> MonotonicClock {
        MonotonicClock {
            start: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}
