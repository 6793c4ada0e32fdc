//! Extension procedure calls (XPC), the layer that joins a Decaf driver's
//! privileged *nucleus* and its *decaf* process: procedure-call semantics
//! across the boundary, in both directions and nested, with deadlines; an
//! object tracker so that an object crossing twice stays one object; and a
//! receiving side that trusts nothing.
//!
//! - [`frame`]: the frames and their validation;
//! - [`transport`]: how frames travel ([`transport::in_process`]);
//! - [`shm`]: the cross-process transport (memfd rings, spin then futex);
//! - [`endpoint`]: calls, nested calls, deadlines, serving;
//! - [`tracker`]: the object tracker;
//! - [`objects`]: generated XDR structs crossing by identity (address and
//!   type), with field subsets, through the tracker;
//! - [`combolock`]: the cross-domain lock;
//! - [`peer`]: a decaf process for tests and benchmarks.

pub mod combolock;
pub mod endpoint;
pub mod frame;
pub mod objects;
pub mod peer;
pub mod shm;
pub mod tracker;
pub mod transport;

pub use endpoint::{Caller, Endpoint, Stats, XpcError};
pub use frame::{Fault, Frame, FrameError};
pub use objects::{Exports, ObjectError};
pub use tracker::{ObjectTracker, Remote};
pub use transport::{InProcess, Transport, TransportError, in_process};
