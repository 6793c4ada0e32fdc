//! Compiled observers for the standard spec library (`specs/`).
//!
//! `build.rs` runs `tingu_build::compile` over the library, which generates,
//! for every protocol, a unit struct implementing
//! `tingu_observer::ProtocolCode` with flat Rust code, plus
//! [`CompiledBackend`], [`SOURCES`] and [`model`]. An observer with
//! compiled code is the usual engine with this backend:
//!
//! ```
//! use tingu_observer::{Config, Observer, VirtualClock};
//!
//! let obs = Observer::new(
//!     spec_observers::model(),
//!     "asix",
//!     &spec_observers::CompiledBackend,
//!     VirtualClock::new(),
//!     Config::default(),
//! )
//! .unwrap();
//! assert_eq!(obs.state_of(obs.port("lc").unwrap()).unwrap(), "Lifecycle.attached.idle");
//! ```
//!
//! Its verdicts are those of `tingu_observer::InterpretedBackend`; the
//! differential tests in `tests/` check it.

include!(concat!(env!("OUT_DIR"), "/observers.rs"));

/// Compiled observers for the test specs in `specs-extra/`: corner cases
/// of evaluation (overflow, division by zero, out-of-range stores, short
/// circuits, `after` guards, `dep in state`). Used by this crate's tests.
#[doc(hidden)]
pub mod extra {
    include!(concat!(env!("OUT_DIR"), "/extra.rs"));
}
