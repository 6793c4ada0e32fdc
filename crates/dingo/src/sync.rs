//! The synchronisation primitives of the runtime, from `std`, or from
//! `loom` when built with `RUSTFLAGS="--cfg loom"` so that the model
//! checker explores every interleaving of the request queue and the hybrid
//! scheduler (`tests/loom.rs`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use std::sync::TryLockError;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// Locks `m`, ignoring poisoning: a panic in a handler is reported where it
/// happens; the data behind the lock stays usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
