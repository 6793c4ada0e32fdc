//! The Dingo runtime: a driver is an event-driven component whose every
//! message is handled atomically and without blocking.
//!
//! - [`dispatch`]: the per-driver request queue and the hybrid scheduler.

pub mod dispatch;
mod sync;

pub use dispatch::{Dispatcher, Executor, Handler, Mode};
