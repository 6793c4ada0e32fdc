//! Compiled observers for the standard spec library (`specs/`).
//!
//! `build.rs` runs `tingu_build::compile_with_ports` over the library,
//! which generates, for every protocol, a unit struct implementing
//! `tingu_observer::ProtocolCode` with flat Rust code, plus
//! [`CompiledBackend`], [`SOURCES`] and [`model`] (and the port
//! interfaces below). An observer with compiled code is the usual engine
//! with this backend:
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
//!
//! # Port interfaces
//!
//! The crate also has the typed interfaces that drivers of the library's
//! components are written against (see `dingo::wire`):
//!
//! - [`types`]: the spec's enum types ([`types::PowerLevelT`]);
//! - per protocol a module ([`lifecycle`], [`usb_interface_client`], ...)
//!   with its messages: [`lifecycle::In`] (what the spec declares `in`) and
//!   [`lifecycle::Out`], which convert to and from `Wire` parts;
//! - per component a module ([`asix`], [`mqnic_driver`], [`usb_bus`]) with
//!   [`asix::Event`], every message the driver receives, [`asix::Ports`],
//!   typed send handles for every message it sends, and [`asix::Asix`],
//!   its `dingo::wire::Component`.
//!
//! ```
//! use dingo::wire::{Component, Sender, Wire};
//! use spec_observers::asix::{Asix, Event};
//! use spec_observers::{lifecycle, usb_pipe_client};
//! use std::sync::{Arc, Mutex};
//!
//! // Where the driver's messages go: here, a list.
//! let sent = Arc::new(Mutex::new(Vec::new()));
//! let log = sent.clone();
//! let ports = Asix::ports(Sender::new(move |w: Wire| {
//!     log.lock().unwrap().push(w);
//!     Ok(())
//! }));
//!
//! // The OS starts the driver: a wire on port `lc` becomes a typed event.
//! let start = Event::Lc(lifecycle::In::Start).wire();
//! assert_eq!(Asix::event(&start), Some(Event::Lc(lifecycle::In::Start)));
//!
//! // The driver opens pipe 7 to endpoint 0x81, starts a transfer on it, and
//! // answers the start.
//! ports.usb.pipe_open(0x81, 7).unwrap();
//! ports.usb.pipe_open_sub(7).transfer(0x1000).unwrap();
//! ports.lc.start_complete().unwrap();
//!
//! let sent = sent.lock().unwrap();
//! assert_eq!(sent.len(), 3);
//! assert!(sent.iter().all(|w| w.from_driver));
//! assert_eq!(Asix::port_names()[usize::from(sent[0].port)], "usb");
//! assert_eq!(sent[0].args(), &[0x81, 7]);
//! assert_eq!(sent[1].path(), &[(0, 7)]); // under `pipeOpen` (message 0), key 7
//! assert_eq!(sent[1].message, usb_pipe_client::Out::Transfer { urb: 0x1000 }.message());
//! assert_eq!(sent[2], Wire::new(0, lifecycle::Out::StartComplete.message(), true));
//!
//! // The bus completes the transfer: an event of the pipe subport.
//! let done = Event::UsbPipeOpen {
//!     keys: [7],
//!     event: usb_pipe_client::In::TransferComplete { urb: 0x1000, status: 0 },
//! };
//! assert_eq!(Asix::event(&done.wire()), Some(done));
//! assert!(Asix::is_concurrent(&done.wire()));
//! ```
//!
//! Only the messages the spec lets the driver send have a method. This
//! compiles:
//!
//! ```
//! use dingo::wire::{Component, Sender};
//! use spec_observers::asix::Asix;
//!
//! let ports = Asix::ports(Sender::new(|_| Ok(())));
//! ports.lc.start_complete().unwrap();
//! ```
//!
//! but `start` is the OS's message on `lc`, so a driver cannot send it:
//!
//! ```compile_fail,E0599
//! use dingo::wire::{Component, Sender};
//! use spec_observers::asix::Asix;
//!
//! let ports = Asix::ports(Sender::new(|_| Ok(())));
//! ports.lc.start().unwrap();
//! ```
//!
//! Arguments are typed: a power level is a [`types::PowerLevelT`],
//!
//! ```
//! use spec_observers::{power_management, types::PowerLevelT};
//!
//! let _ = power_management::In::Sleep { level: PowerLevelT::D2 };
//! ```
//!
//! not a number:
//!
//! ```compile_fail,E0308
//! use spec_observers::{power_management, types::PowerLevelT};
//!
//! let _ = power_management::In::Sleep { level: 2 };
//! ```

include!(concat!(env!("OUT_DIR"), "/observers.rs"));

/// Compiled observers for the test specs in `specs-extra/`: corner cases
/// of evaluation (overflow, division by zero, out-of-range stores, short
/// circuits, `after` guards, `dep in state`). Used by this crate's tests.
#[doc(hidden)]
pub mod extra {
    include!(concat!(env!("OUT_DIR"), "/extra.rs"));
}
