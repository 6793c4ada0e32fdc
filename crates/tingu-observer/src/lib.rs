//! Protocol observers: runtime verification of a component's ports against
//! their Tingu protocols (section 3 of docs/tingu.md).
//!
//! An [`Observer`] is made for one component of a checked [`tingu::ir::Model`]
//! with a [`Backend`] (the interpreter here, or generated code from
//! `tingu-build`) and a [`Clock`]. The host feeds it every message in both
//! directions; it answers with a [`Verdict`] and keeps [`Violation`] reports.

pub mod clock;
pub mod code;
pub mod engine;
pub mod generate;
mod plan;
pub mod replay;
pub mod report;
mod tables;
pub mod trace;

pub use clock::{Clock, MonotonicClock, VirtualClock};
pub use code::{Backend, InterpretedBackend, ProtocolCode};
pub use engine::{Config, Handle, Observer, Policy, Verdict};
pub use replay::{ReplayError, Replayed, pick_component, replay};
pub use report::{Blame, InstanceSnapshot, Side, Violation, ViolationKind};
