//! One domain's end of an XPC channel: procedure calls in both directions,
//! nested to any depth, with deadlines, against a peer it does not trust.
//!
//! ```text
//!   nucleus                                decaf driver
//!   call(OPEN) ──── Call{1} ─────────────▶ serve: handler(OPEN)
//!      │ (waiting, serves what comes)        │ nested: call(READ_REG)
//!   handler(READ_REG) ◀─── Call{1} ──────────┘
//!      └──────────────── Reply{1} ─────────▶ (returns to the handler)
//!   (returns) ◀──────── Reply{1} ────────── handler(OPEN) returns
//! ```
//!
//! A caller waiting for its reply serves the peer's calls meanwhile, so
//! upcalls during a downcall (and the reverse) work as procedure calls do.
//! Replies must come innermost first. A reply to no outstanding call, a
//! malformed frame, or a closed channel is an error on the pending calls;
//! the endpoint itself stays usable. Handlers run on the endpoint's thread.

use crate::frame::{Fault, Frame, FrameError};
use crate::transport::{Transport, TransportError};
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// Why a call did not return a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XpcError {
    /// The deadline passed before the reply came.
    Timeout,
    /// The peer is gone (its end of the channel closed: it exited or
    /// crashed).
    PeerGone,
    /// The peer broke the protocol (malformed frame, a reply to no
    /// outstanding call); what it sent is described.
    Protocol(String),
    /// The call reached the peer and failed there.
    Fault(Fault),
}

impl fmt::Display for XpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XpcError::Timeout => f.write_str("the call timed out"),
            XpcError::PeerGone => f.write_str("the peer is gone"),
            XpcError::Protocol(why) => write!(f, "the peer broke the protocol: {why}"),
            XpcError::Fault(fault) => write!(f, "{fault}"),
        }
    }
}

impl std::error::Error for XpcError {}

impl From<FrameError> for XpcError {
    fn from(e: FrameError) -> Self {
        XpcError::Protocol(e.to_string())
    }
}

impl From<TransportError> for XpcError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Timeout => XpcError::Timeout,
            TransportError::Closed => XpcError::PeerGone,
        }
    }
}

/// A procedure's implementation: gets a [`Caller`] (to call the peer back,
/// which may call this procedure again: recursion across domains is
/// allowed) and the marshaled arguments; returns the marshaled results.
pub type Handler<T> =
    Box<dyn Fn(&mut Caller<'_, T>, &[u8]) -> Result<Vec<u8>, Fault> + Send + Sync>;

/// Counters of an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls made.
    pub calls: u64,
    /// Calls served.
    pub served: u64,
    /// Frames refused as malformed or out of protocol.
    pub refused: u64,
    /// Late replies (to calls that had timed out) dropped.
    pub late: u64,
}

/// One end of an XPC channel.
pub struct Endpoint<T: Transport> {
    core: Core<T>,
    /// Procedures and their handlers (few: a linear search is fastest).
    handlers: Vec<(u32, Handler<T>)>,
}

/// The channel state of an endpoint, apart from its handlers (so that a
/// running handler can make calls while the handler table stays borrowed).
pub struct Core<T: Transport> {
    transport: T,
    next_id: u64,
    /// Our calls waiting for replies, innermost last.
    stack: Vec<u64>,
    /// Calls that timed out: their replies may still come, and are dropped.
    abandoned: HashSet<u64>,
    stats: Stats,
    /// Reused buffers for outgoing and incoming frames.
    out: Vec<u8>,
    inbuf: Vec<u8>,
    /// An instant and the coarse clock's reading then, to turn coarse
    /// deadlines into instants without reading the precise clock per call.
    epoch: (std::time::Instant, u64),
}

/// What a handler gets: the endpoint's channel and procedures, to call the
/// peer back while serving it.
pub struct Caller<'a, T: Transport> {
    core: &'a mut Core<T>,
    handlers: &'a [(u32, Handler<T>)],
}

/// Microseconds on the machine's coarse monotonic clock: shared by both
/// domains (they run on one machine), cheap to read, and precise to a few
/// milliseconds, which is what call deadlines need.
fn now_us() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (t.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000)
        .saturating_add((t.tv_nsec.max(0) / 1000) as u64)
}

impl<T: Transport> Endpoint<T> {
    /// An endpoint over `transport`, with no procedures yet.
    pub fn new(transport: T) -> Endpoint<T> {
        Endpoint {
            core: Core {
                transport,
                next_id: 1,
                stack: Vec::new(),
                abandoned: HashSet::new(),
                stats: Stats::default(),
                out: Vec::new(),
                inbuf: Vec::new(),
                epoch: (std::time::Instant::now(), now_us()),
            },
            handlers: Vec::new(),
        }
    }

    /// Implements `procedure` with `handler` (replacing any earlier one).
    pub fn register(
        &mut self,
        procedure: u32,
        handler: impl Fn(&mut Caller<'_, T>, &[u8]) -> Result<Vec<u8>, Fault> + Send + Sync + 'static,
    ) {
        let handler: Handler<T> = Box::new(handler);
        match self.handlers.iter_mut().find(|(p, _)| *p == procedure) {
            Some(slot) => slot.1 = handler,
            None => self.handlers.push((procedure, handler)),
        }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.core.transport
    }

    /// The transport, to tune it.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.core.transport
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.core.stats
    }

    /// How deeply calls are nested right now (0: none waiting).
    pub fn depth(&self) -> usize {
        self.core.stack.len()
    }

    fn caller(&mut self) -> Caller<'_, T> {
        Caller {
            core: &mut self.core,
            handlers: &self.handlers,
        }
    }

    /// Calls `procedure` on the peer with marshaled `args`, waiting at most
    /// `timeout`; serves the peer's calls while it waits.
    pub fn call(
        &mut self,
        procedure: u32,
        args: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, XpcError> {
        self.caller().call(procedure, args, timeout)
    }

    /// Waits (until `deadline`, or for ever) for one call from the peer and
    /// serves it.
    pub fn serve(&mut self, deadline: Option<std::time::Instant>) -> Result<(), XpcError> {
        self.caller().serve(deadline)
    }
}

impl<T: Transport> Caller<'_, T> {
    /// How deeply calls are nested right now.
    pub fn depth(&self) -> usize {
        self.core.stack.len()
    }

    /// Calls `procedure` on the peer (see [`Endpoint::call`]).
    pub fn call(
        &mut self,
        procedure: u32,
        args: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, XpcError> {
        let core = &mut *self.core;
        let id = core.next_id;
        core.next_id += 1;
        core.stats.calls += 1;
        let deadline_us = now_us().saturating_add(timeout.as_micros() as u64);
        // The same deadline as an instant, from the coarse clock (both
        // clocks are CLOCK_MONOTONIC; the coarse one lags by at most a tick,
        // so the deadline is late by at most a few milliseconds).
        let (epoch, epoch_us) = core.epoch;
        let deadline = epoch + Duration::from_micros(deadline_us.saturating_sub(epoch_us));
        let frame = Frame::Call {
            id,
            procedure,
            deadline_us,
            payload: args,
        };
        frame.encode_into(&mut core.out);
        core.transport.send_bytes(&core.out)?;
        core.stack.push(id);
        let result = self.wait_reply(id, deadline);
        self.core.stack.pop();
        if result == Err(XpcError::Timeout) {
            self.core.abandoned.insert(id);
        }
        result
    }

    fn wait_reply(&mut self, id: u64, deadline: std::time::Instant) -> Result<Vec<u8>, XpcError> {
        loop {
            let frame = self.next_frame(Some(deadline))?;
            let core = &mut *self.core;
            match frame {
                Frame::Reply { id: r, result } if r == id => {
                    return result.map_err(XpcError::Fault);
                }
                Frame::Reply { id: r, .. } if core.abandoned.remove(&r) => {
                    core.stats.late += 1;
                }
                Frame::Reply { id: r, .. } => {
                    core.stats.refused += 1;
                    let why = if core.stack.contains(&r) {
                        format!("reply to call {r} before the inner call {id}")
                    } else {
                        format!("reply to call {r}, which is not outstanding")
                    };
                    return Err(XpcError::Protocol(why));
                }
                call @ Frame::Call { .. } => self.dispatch(call)?,
            }
        }
    }

    /// Receives and decodes the next frame; a malformed one is counted and
    /// is an error.
    fn next_frame(&mut self, deadline: Option<std::time::Instant>) -> Result<Frame, XpcError> {
        let core = &mut *self.core;
        core.transport.recv_into(&mut core.inbuf, deadline)?;
        Frame::decode(&core.inbuf).map_err(|e| {
            core.stats.refused += 1;
            e.into()
        })
    }

    /// Waits for one call from the peer and serves it.
    fn serve(&mut self, deadline: Option<std::time::Instant>) -> Result<(), XpcError> {
        loop {
            let frame = self.next_frame(deadline)?;
            let core = &mut *self.core;
            match frame {
                Frame::Reply { id, .. } if core.abandoned.remove(&id) => {
                    core.stats.late += 1;
                }
                Frame::Reply { id, .. } => {
                    core.stats.refused += 1;
                    return Err(XpcError::Protocol(format!(
                        "reply to call {id}, which is not outstanding"
                    )));
                }
                call @ Frame::Call { .. } => return self.dispatch(call),
            }
        }
    }

    /// Serves one call and sends its reply.
    fn dispatch(&mut self, call: Frame) -> Result<(), XpcError> {
        let Frame::Call {
            id,
            procedure,
            deadline_us,
            payload,
        } = call
        else {
            return Ok(());
        };
        self.core.stats.served += 1;
        let result = if deadline_us != 0 && now_us() > deadline_us {
            Err(Fault::TooLate)
        } else {
            // The table is borrowed for `'a`, not through `self`: the
            // handler can take `self` mutably.
            let handlers = self.handlers;
            match handlers.iter().find(|(p, _)| *p == procedure) {
                None => Err(Fault::NoSuchProcedure(procedure)),
                Some((_, handler)) => handler(self, &payload),
            }
        };
        let core = &mut *self.core;
        Frame::Reply { id, result }.encode_into(&mut core.out);
        core.transport.send_bytes(&core.out)?;
        Ok(())
    }
}
