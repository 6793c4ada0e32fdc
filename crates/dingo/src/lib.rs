//! The Dingo runtime: a driver is an event-driven component whose every
//! message is handled atomically and without blocking.
//!
//! - [`dispatch`]: the per-driver request queue and the hybrid scheduler.
//! - [`wire`]: messages in flat form, and the contract with generated
//!   port interfaces ([`wire::Component`]).

pub mod dispatch;
pub mod driver;
pub mod runtime;
mod sync;
pub mod time;
pub mod wire;

pub use dispatch::{Dispatcher, Executor, Handler, Mode};
pub use driver::{Driver, DriverBuilder, DriverHandle, Io, Observe, Peer};
pub use runtime::Runtime;
pub use time::{Time, Timers};
pub use wire::{Component, SendError, Sender, Wire};
