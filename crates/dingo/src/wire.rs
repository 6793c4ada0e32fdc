//! Messages in flat form, and the contract between generated port
//! interfaces and the runtime.
//!
//! A driver author works with typed messages generated from the specs
//! (`tingu_build`): per protocol an `In` and an `Out` enum, per component
//! an `Event` enum of everything the driver receives and a `Ports` struct
//! of typed send handles. Underneath, every message travels as a [`Wire`]:
//! a small `Copy` value that the observer checks and the host routes,
//! without allocating.
//!
//! ```text
//!   driver code ──ports.eth.tx_packet_done(p)──▶ Wire ──observer──▶ host
//!   driver code ◀──Event::Eth(ethernet::In::TxPacket { packet })── Wire ◀── host
//! ```

use std::fmt;
use std::sync::Arc;

/// Most arguments a message may carry.
pub const MAX_ARGS: usize = 8;
/// Most subport levels below a declared port.
pub const MAX_DEPTH: usize = 3;

/// One message between a driver and its environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wire {
    /// The declared port of the component, by its index in the
    /// component's `ports:` list.
    pub port: u16,
    /// Subport levels below the port (0: the port itself).
    pub depth: u8,
    /// Per level: the message of the parent that spawned the subport (its
    /// index in the parent's protocol) and the subport's key.
    pub path: [(u16, i64); MAX_DEPTH],
    /// The message's index in the protocol of the (sub)port.
    pub message: u16,
    /// Whether the driver sends it (else the driver receives it).
    pub from_driver: bool,
    /// Argument values (enums as their values, booleans as 0 and 1).
    pub args: [i64; MAX_ARGS],
    /// How many of `args` are used.
    pub nargs: u8,
}

impl Wire {
    /// A message with no subport path and no arguments.
    pub const fn new(port: u16, message: u16, from_driver: bool) -> Wire {
        Wire {
            port,
            depth: 0,
            path: [(0, 0); MAX_DEPTH],
            message,
            from_driver,
            args: [0; MAX_ARGS],
            nargs: 0,
        }
    }

    /// The same message with `args` (at most [`MAX_ARGS`]; more are cut).
    pub fn with_args(mut self, args: &[i64]) -> Wire {
        let n = args.len().min(MAX_ARGS);
        self.args[..n].copy_from_slice(&args[..n]);
        self.nargs = n as u8;
        self
    }

    /// The same message, one subport level further down: the subport
    /// spawned by `spawner` with `key`. Deeper than [`MAX_DEPTH`] is cut.
    pub fn under(mut self, spawner: u16, key: i64) -> Wire {
        if (self.depth as usize) < MAX_DEPTH {
            self.path[self.depth as usize] = (spawner, key);
            self.depth += 1;
        }
        self
    }

    /// The arguments in use.
    pub fn args(&self) -> &[i64] {
        &self.args[..(self.nargs as usize).min(MAX_ARGS)]
    }

    /// The subport path in use.
    pub fn path(&self) -> &[(u16, i64)] {
        &self.path[..(self.depth as usize).min(MAX_DEPTH)]
    }
}

/// Why a message could not be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The observer found the message illegal and the policy is to stop
    /// the component; the report is in the observer.
    Stopped,
    /// The component has terminated (all its protocols ended).
    Terminated,
    /// Nothing is connected to the port.
    Unconnected,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Stopped => "the component was stopped after a protocol violation",
            SendError::Terminated => "the component has terminated",
            SendError::Unconnected => "nothing is connected to the port",
        })
    }
}

impl std::error::Error for SendError {}

/// Where a driver's outgoing messages go: the runtime checks each with the
/// observer, then hands it to the port's peer.
#[derive(Clone)]
pub struct Sender(Arc<dyn Fn(Wire) -> Result<(), SendError> + Send + Sync>);

impl Sender {
    /// A sender that calls `f` for every message.
    pub fn new(f: impl Fn(Wire) -> Result<(), SendError> + Send + Sync + 'static) -> Sender {
        Sender(Arc::new(f))
    }

    /// Sends one message.
    #[inline]
    pub fn send(&self, w: Wire) -> Result<(), SendError> {
        (self.0)(w)
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender")
    }
}

/// The generated interface of one component (implemented by code from
/// `tingu_build`; the runtime needs nothing else to run a driver of it).
pub trait Component: Send + Sync + 'static {
    /// The component's name in the specs.
    const NAME: &'static str;
    /// Every message the driver can receive, typed.
    type Event: Send + fmt::Debug + 'static;
    /// Typed send handles for every message the driver can send.
    type Ports: Send + Sync + 'static;

    /// The typed event of an incoming message, or `None` if the driver
    /// does not receive such a message (wrong direction, unknown port,
    /// message or subport level).
    fn event(w: &Wire) -> Option<Self::Event>;

    /// The wire of an event: what the environment sends to deliver it
    /// (the inverse of [`Component::event`]).
    fn wire(event: &Self::Event) -> Wire;

    /// Whether an incoming message is declared `concurrent` (hybrid mode
    /// may run it in parallel with other concurrent messages). Checks the
    /// port, path and message, not the argument values.
    fn is_concurrent(w: &Wire) -> bool;

    /// The send handles, sending through `sender`.
    fn ports(sender: Sender) -> Self::Ports;

    /// The port names, in `Wire::port` order.
    fn port_names() -> &'static [&'static str];

    /// The checked model of the specs the interface was generated from.
    fn model() -> Arc<tingu::ir::Model>;

    /// The compiled observer code of those specs.
    fn backend() -> &'static dyn tingu_observer::Backend;
}
