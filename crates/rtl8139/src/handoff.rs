//! The fast path's lock and the interrupt that must never wait for it: an
//! interrupt marks itself pending and takes the lock only if it is free;
//! whoever holds the lock services pending interrupts before letting go,
//! and looks once more after (an interrupt may have found the lock taken
//! just as it was released). So an interrupt is serviced by someone, at
//! once, and its handler never blocks. `tests/shuttle.rs` explores every
//! interleaving of small scenarios (`RUSTFLAGS="--cfg shuttle"`).
//!
//! Memory ordering: the interrupt stores `pending`, then a SeqCst fence,
//! then reads the lock word (`try_lock`); the holder writes the lock word
//! (unlock), then a SeqCst fence, then reads `pending`. By the fence rule
//! of the C++/Rust memory model, one of the two reads sees the other
//! side's write: either the interrupt finds the lock free, or the holder
//! finds the interrupt pending. Shuttle runs threads under sequential
//! consistency, so it checks the interleavings, not this argument; loom
//! cannot check it either (it treats SeqCst fences more weakly than the
//! model does, and reports a lost interrupt that cannot happen).
//!
//! ```text
//!   interrupt:  pending = 1 ─ fence ─ try_lock ──ok──▶ service, unlock, retake?
//!                                         └─busy──▶ return (the holder sees pending)
//!   holder:     while take_pending(): service ─ unlock ─ fence ─ pending? ─ try_lock ─▶ again
//! ```

#[cfg(shuttle)]
pub use shuttle::sync::Condvar;
#[cfg(shuttle)]
use shuttle::sync::atomic::{AtomicBool, Ordering, fence};
#[cfg(shuttle)]
use shuttle::sync::{Mutex, MutexGuard};
#[cfg(not(shuttle))]
pub use std::sync::Condvar;
#[cfg(not(shuttle))]
use std::sync::atomic::{AtomicBool, Ordering, fence};
#[cfg(not(shuttle))]
use std::sync::{Mutex, MutexGuard};
use std::sync::{PoisonError, TryLockError};
use std::time::Duration;

/// Holding the lock of a [`Handoff`].
pub type Guard<'a, T> = MutexGuard<'a, T>;

/// A mutex with a pending-interrupt flag (see the module docs).
#[derive(Debug)]
pub struct Handoff<T> {
    state: Mutex<T>,
    pending: AtomicBool,
}

impl<T> Handoff<T> {
    /// `state`, with nothing pending.
    pub fn new(state: T) -> Self {
        Handoff {
            state: Mutex::new(state),
            pending: AtomicBool::new(false),
        }
    }

    /// Takes the lock, waiting for it. The holder must service pending
    /// interrupts ([`Handoff::take_pending`]) before [`Handoff::unlock`],
    /// and call [`Handoff::retake_if_pending`] after.
    pub fn lock(&self) -> Guard<'_, T> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An interrupt: marks it pending and returns the lock if it was free
    /// (the caller then services it like any holder); `None` if someone
    /// holds it, who will.
    pub fn notify(&self) -> Option<Guard<'_, T>> {
        self.pending.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.try_lock()
    }

    /// Whether an interrupt is pending; clears the flag (the holder then
    /// services it).
    pub fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::SeqCst)
    }

    /// Marks work pending without taking the lock (a holder that stopped
    /// early, e.g. with its receive budget spent, comes back to it).
    pub fn set_pending(&self) {
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Lets go of the lock.
    pub fn unlock(&self, guard: Guard<'_, T>) {
        drop(guard);
    }

    /// After [`Handoff::unlock`]: if an interrupt came meanwhile and the
    /// lock is free, the lock, to service it.
    pub fn retake_if_pending(&self) -> Option<Guard<'_, T>> {
        fence(Ordering::SeqCst);
        if !self.pending.load(Ordering::SeqCst) {
            return None;
        }
        self.try_lock()
    }

    /// Waits on `condvar` at most `timeout`, letting go of the lock
    /// meanwhile; the lock is held again on return (release it through
    /// [`Handoff::unlock`] as always).
    pub fn wait_timeout<'a>(
        &'a self,
        condvar: &Condvar,
        guard: Guard<'a, T>,
        timeout: Duration,
    ) -> Guard<'a, T> {
        condvar
            .wait_timeout(guard, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    fn try_lock(&self) -> Option<Guard<'_, T>> {
        match self.state.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}
