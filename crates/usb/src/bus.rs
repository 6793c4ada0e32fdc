//! The USB bus driver: component `usb_bus` (specs/usb_bus.tingu) as a
//! Dingo driver on top of the [`HostController`].
//!
//! It serves one USB interface to one client driver (such as `asix`) over
//! its mirrored `client` port:
//!
//! ```text
//!  client driver                    BusDriver (control task)              HostController
//!  -------------                    ------------------------              --------------
//!  pipeOpen(ep, k) ───────────────▶ pipe k ↔ endpoint ep
//!  pipe k: transfer(urb) ─────────▶ submit(ep, urb, pool.length(urb),
//!                                          owner k) ────────────────────▶ queue, device ...
//!                                                   mailbox ◀── completion (delivery thread)
//!  pipe k: ◀── transferComplete(urb, status) ◀── (task woken through the request queue)
//!  pipe k: abort ─────────────────▶ abort_owner(ep, k) ─────────────────▶ Cancelled ×n, done
//!  pipe k: ◀── transferComplete ×n, then abortComplete
//!  altsettingSelect(s) ───────────▶ set_interface(s) ──▶ ... ──▶ altsettingSelectComplete(status)
//!  suspend / resume ──────────────▶ suspend / resume ──▶ ... ──▶ suspendComplete / resumeComplete
//!                      ◀── unplugged ◀── HostEvent::Unplugged (device gone)
//! ```
//!
//! # How things are carried
//!
//! - **URBs**: `urb_t` is a [`UrbId`] of the controller's [`UrbPool`]. The
//!   transfer length is the URB's length in the pool ([`UrbPool::fill`] or
//!   [`UrbPool::set_length`]); the direction is the endpoint's (bit 7).
//!   After `transferComplete` the URB's actual length is in the pool
//!   ([`UrbPool::actual_length`]).
//! - **Control transfers** (a pipe on endpoint 0): the URB's first 8 bytes
//!   are the SETUP packet ([`SetupPacket::to_bytes`]), the data stage
//!   follows at offset 8 (OUT: the bytes to send; IN: room for `wLength`
//!   bytes), as Linux keeps `setup_packet` beside the buffer. The actual
//!   length counts data-stage bytes only.
//! - **Status codes** (`error_t`, Linux errno style): see [`error_code`].
//!
//! # Its own ports
//!
//! `lc`: `start` is answered `startComplete` if a device is attached
//! (else `startFailed(-ENODEV)` and `unplugged` to the client). `stop`
//! unbinds the client: `unplugged` to it, its transfers cancelled, later
//! ones failed with `-ESHUTDOWN`, then `stopComplete`; the pipes are still
//! served until the client has aborted them all. `lc.unplugged` (the bus
//! itself is gone) unplugs the device, then `stopComplete`. `pm`: `sleep`
//! and `wakeup` are answered at once (selective suspend is the client's
//! business, through `suspend` and `resume`).
//!
//! # Threads
//!
//! The controller's callbacks never touch the driver's state: they push
//! into a [`Mailbox`], whose waker re-enters the driver's task through its
//! request queue. The task holds plain data (no lock, no atomic).

use crate::device::{SetupPacket, TransferError};
use crate::host::{Completion, HostController, HostEvent, Request, SubmitError};
use crate::mailbox::Mailbox;
use crate::urb::{UrbError, UrbId, UrbPool};
use dingo::wire::{Component, Wire};
use dingo::{Driver, DriverHandle, Io, Peer};
use spec_observers::lifecycle::In as Lc;
use spec_observers::power_management::In as Pm;
use spec_observers::usb_bus::{Event, UsbBus};
use spec_observers::usb_interface_client::Out as Iface;
use spec_observers::usb_pipe_client::Out as Pipe;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

/// Linux errno values, negated, as `error_t` carries them.
pub mod errno {
    /// Success.
    pub const OK: i32 = 0;
    /// `-ENOENT`: the transfer was cancelled (`usb_kill_urb`), by `abort`.
    pub const ENOENT: i32 = -2;
    /// `-EFAULT`: the URB handle names no URB, or it is already in flight.
    pub const EFAULT: i32 = -14;
    /// `-ENODEV`: the device is gone.
    pub const ENODEV: i32 = -19;
    /// `-EINVAL`: the endpoint is not in the current alternate setting.
    pub const EINVAL: i32 = -22;
    /// `-EPIPE`: the endpoint stalled.
    pub const EPIPE: i32 = -32;
    /// `-EPROTO`: a bus error (CRC, bit stuffing).
    pub const EPROTO: i32 = -71;
    /// `-EOVERFLOW`: the device sent more than the URB holds.
    pub const EOVERFLOW: i32 = -75;
    /// `-EMSGSIZE`: the transfer does not fit the URB (e.g. `8 + wLength`).
    pub const EMSGSIZE: i32 = -90;
    /// `-ESHUTDOWN`: the bus driver is unbinding the client (or stopping).
    pub const ESHUTDOWN: i32 = -108;
    /// `-EHOSTUNREACH`: the interface is suspended.
    pub const EHOSTUNREACH: i32 = -113;
}

/// The `error_t` of a transfer error:
///
/// | error | code |
/// |---|---|
/// | `Cancelled` | `-ENOENT` (-2) |
/// | `NoDevice` | `-ENODEV` (-19) |
/// | `NoEndpoint` | `-EINVAL` (-22) |
/// | `Stall` | `-EPIPE` (-32) |
/// | `Protocol` | `-EPROTO` (-71) |
/// | `Overflow` | `-EOVERFLOW` (-75) |
/// | `Suspended` | `-EHOSTUNREACH` (-113) |
///
/// A submission the controller refuses gives `-EFAULT` (bad or busy URB),
/// `-EMSGSIZE` (too long for the URB) or `-ESHUTDOWN`; so does a transfer
/// after the bus driver unbound its client.
pub fn error_code(e: TransferError) -> i32 {
    match e {
        TransferError::Cancelled => errno::ENOENT,
        TransferError::NoDevice => errno::ENODEV,
        TransferError::NoEndpoint => errno::EINVAL,
        TransferError::Stall => errno::EPIPE,
        TransferError::Protocol => errno::EPROTO,
        TransferError::Overflow => errno::EOVERFLOW,
        TransferError::Suspended => errno::EHOSTUNREACH,
    }
}

/// The `status` of `transferComplete`: 0 for success, else [`error_code`].
pub fn status_code(status: Result<usize, TransferError>) -> i32 {
    match status {
        Ok(_) => errno::OK,
        Err(e) => error_code(e),
    }
}

/// The status of a refused submission.
pub fn submit_error_code(e: SubmitError) -> i32 {
    match e {
        SubmitError::Urb(_) => errno::EFAULT,
        SubmitError::Length { .. } => errno::EMSGSIZE,
        SubmitError::ShutDown => errno::ESHUTDOWN,
    }
}

/// A control URB's first 8 bytes: the SETUP packet, then room for the data
/// stage. Allocates a URB of `8 + max(wLength, data.len())` bytes in
/// `pool`, holding `setup` and (OUT) `data`, with its length set.
pub fn control_urb(pool: &UrbPool, setup: SetupPacket, data: &[u8]) -> Result<UrbId, UrbError> {
    let stage = usize::from(setup.length).max(data.len());
    let urb = pool.alloc(8 + stage)?;
    pool.write(urb, 0, &setup.to_bytes())?;
    pool.write(urb, 8, data)?;
    pool.set_length(urb, 8 + stage)?;
    Ok(urb)
}

/// What the controller's threads tell the driver task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HostMsg {
    Complete {
        pipe: i64,
        urb: i64,
        status: i32,
    },
    AbortDone {
        pipe: i64,
    },
    /// The internal abort of an unbind finished: nothing to say.
    Flushed,
    Suspended,
    Resumed,
    AltSet {
        status: i32,
    },
    Unplugged,
}

/// The bus driver. Give it the controller the device is attached to.
pub struct BusDriver {
    host: Arc<HostController>,
    mailbox: Arc<Mailbox<HostMsg>>,
}

impl BusDriver {
    /// A bus driver over `host` (a device may be attached before or after).
    pub fn new(host: Arc<HostController>) -> BusDriver {
        BusDriver {
            host,
            mailbox: Arc::new(Mailbox::new()),
        }
    }
}

/// One open pipe.
struct PipeState {
    endpoint: u8,
    aborting: bool,
}

/// The driver's state: plain data, owned by its task.
struct Bus {
    host: Arc<HostController>,
    mailbox: Arc<Mailbox<HostMsg>>,
    pipes: BTreeMap<i64, PipeState>,
    /// `unplugged` went to the client: the interface port has ended.
    detached: bool,
    /// The client is unbound (stop): transfers fail with `-ESHUTDOWN`.
    unbound: bool,
}

/// Unsubscribes from the controller when the task is dropped.
struct Subscription {
    host: Arc<HostController>,
    id: u64,
    mailbox: Arc<Mailbox<HostMsg>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.host.unsubscribe(self.id);
        self.mailbox.close();
    }
}

enum Input {
    Port(Event),
    Host(HostMsg),
}

/// The next event: from the controller (first) or from a port.
async fn next(io: &mut Io<UsbBus>, mailbox: &Mailbox<HostMsg>) -> Input {
    let mut recv = io.recv(|_| true);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(m) = mailbox.poll_next(cx) {
            return Poll::Ready(Input::Host(m));
        }
        match Pin::new(&mut recv).poll(cx) {
            Poll::Ready(e) => Poll::Ready(Input::Port(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

impl Driver for BusDriver {
    type Component = UsbBus;
    type Shared = ();

    async fn run(self, mut io: Io<UsbBus>, _: Arc<()>) {
        let weak = Arc::downgrade(&self.mailbox);
        let id = self.host.subscribe(Arc::new(move |e| {
            if let (Some(m), HostEvent::Unplugged) = (weak.upgrade(), e) {
                m.push(HostMsg::Unplugged);
            }
        }));
        let _subscription = Subscription {
            host: self.host.clone(),
            id,
            mailbox: self.mailbox.clone(),
        };
        let mailbox = self.mailbox.clone();
        let mut bus = Bus {
            host: self.host,
            mailbox: self.mailbox,
            pipes: BTreeMap::new(),
            detached: false,
            unbound: false,
        };
        loop {
            match next(&mut io, &mailbox).await {
                Input::Port(e) => bus.port(&io, e),
                Input::Host(m) => bus.host_msg(&io, m),
            }
        }
    }
}

impl Bus {
    fn port(&mut self, io: &Io<UsbBus>, e: Event) {
        let p = &io.ports;
        match e {
            Event::Lc(Lc::Start) => {
                if self.host.is_present() {
                    let _ = p.lc.start_complete();
                } else {
                    let _ = p.lc.start_failed(errno::ENODEV);
                    self.detach(io);
                }
            }
            Event::Lc(Lc::Stop) => {
                self.unbind(io);
                let _ = p.lc.stop_complete();
            }
            Event::Lc(Lc::Unplugged) => {
                // The bus itself is gone, and the device with it. The
                // controller's notification tells the client.
                self.host.unplug();
                let _ = p.lc.stop_complete();
            }
            Event::Pm(Pm::Sleep { .. }) => {
                let _ = p.pm.sleep_complete();
            }
            Event::Pm(Pm::Wakeup) => {
                let _ = p.pm.wakeup_complete();
            }
            Event::Client(Iface::PipeOpen { endpoint, pipe }) => {
                self.pipes.insert(
                    pipe,
                    PipeState {
                        endpoint,
                        aborting: false,
                    },
                );
            }
            Event::Client(Iface::AltsettingSelect { setting }) => {
                let m = self.mailbox.clone();
                self.host.set_interface(setting, move |r| {
                    m.push(HostMsg::AltSet {
                        status: r.map_or_else(error_code, |()| errno::OK),
                    });
                });
            }
            Event::Client(Iface::Suspend) => {
                let m = self.mailbox.clone();
                self.host.suspend(move |_| m.push(HostMsg::Suspended));
            }
            Event::Client(Iface::Resume) => {
                let m = self.mailbox.clone();
                self.host.resume(move |_| m.push(HostMsg::Resumed));
            }
            Event::ClientPipeOpen {
                keys: [pipe],
                event: Pipe::Transfer { urb },
            } => self.transfer(io, pipe, urb),
            Event::ClientPipeOpen {
                keys: [pipe],
                event: Pipe::Abort,
            } => {
                // An unknown pipe, or a second abort: the observer has
                // reported it; nothing to do.
                if let Some(s) = self.pipes.get_mut(&pipe)
                    && !s.aborting
                {
                    s.aborting = true;
                    let m = self.mailbox.clone();
                    self.host.abort_owner(s.endpoint, pipe as u64, move || {
                        m.push(HostMsg::AbortDone { pipe });
                    });
                }
            }
        }
    }

    fn transfer(&mut self, io: &Io<UsbBus>, pipe: i64, urb: i64) {
        let Some(s) = self.pipes.get(&pipe) else {
            return; // a pipe that is not open: reported by the observer
        };
        if s.aborting {
            return; // a transfer after abort: reported by the observer
        }
        let reply = io.ports.client.pipe_open_sub(pipe);
        if self.unbound {
            let _ = reply.transfer_complete(urb, errno::ESHUTDOWN);
            return;
        }
        let id = UrbId(urb);
        let length = match self.host.pool().length(id) {
            Ok(n) => n,
            Err(_) => {
                let _ = reply.transfer_complete(urb, errno::EFAULT);
                return;
            }
        };
        let m = self.mailbox.clone();
        let submitted = self.host.submit_with(
            Request {
                endpoint: s.endpoint,
                urb: id,
                length,
                setup: None,
                owner: pipe as u64,
            },
            Arc::new(move |c: Completion| {
                m.push(HostMsg::Complete {
                    pipe: c.owner as i64,
                    urb: c.urb.raw(),
                    status: status_code(c.status),
                });
            }),
        );
        if let Err(e) = submitted {
            let _ = reply.transfer_complete(urb, submit_error_code(e));
        }
    }

    fn host_msg(&mut self, io: &Io<UsbBus>, m: HostMsg) {
        let p = &io.ports.client;
        match m {
            HostMsg::Complete { pipe, urb, status } => {
                if self.pipes.contains_key(&pipe) {
                    let _ = p.pipe_open_sub(pipe).transfer_complete(urb, status);
                }
            }
            HostMsg::AbortDone { pipe } => {
                if self.pipes.remove(&pipe).is_some() {
                    let _ = p.pipe_open_sub(pipe).abort_complete();
                }
            }
            HostMsg::Flushed => {}
            HostMsg::Suspended if !self.detached => {
                let _ = p.suspend_complete();
            }
            HostMsg::Resumed if !self.detached => {
                let _ = p.resume_complete();
            }
            HostMsg::AltSet { status } if !self.detached => {
                let _ = p.altsetting_select_complete(status);
            }
            HostMsg::Unplugged => self.detach(io),
            HostMsg::Suspended | HostMsg::Resumed | HostMsg::AltSet { .. } => {}
        }
    }

    /// Tells the client the interface is gone (once).
    fn detach(&mut self, io: &Io<UsbBus>) {
        if !self.detached {
            self.detached = true;
            let _ = io.ports.client.unplugged();
        }
    }

    /// Unbinds the client: `unplugged`, then its transfers are cancelled.
    fn unbind(&mut self, io: &Io<UsbBus>) {
        self.detach(io);
        if self.unbound {
            return;
        }
        self.unbound = true;
        for (&pipe, s) in &self.pipes {
            if !s.aborting {
                let m = self.mailbox.clone();
                self.host
                    .abort_owner(s.endpoint, pipe as u64, move || m.push(HostMsg::Flushed));
            }
        }
    }
}

// --- connecting a client driver ------------------------------------------

/// A peer known only later: wires wait (in order) until
/// [`PeerSlot::set`], then go through. Deliveries happen outside its lock,
/// one thread at a time, so a delivery may cause another on the same
/// thread without deadlock or reordering.
#[derive(Default)]
pub struct PeerSlot {
    inner: Mutex<SlotInner>,
}

#[derive(Default)]
struct SlotInner {
    peer: Option<Peer>,
    queue: VecDeque<Wire>,
    flushing: bool,
}

impl PeerSlot {
    /// An empty slot.
    pub fn new() -> Arc<PeerSlot> {
        Arc::new(PeerSlot::default())
    }

    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Sets the peer (once; later calls are ignored) and delivers what waited.
    pub fn set(&self, peer: Peer) {
        let mut g = self.lock();
        if g.peer.is_none() {
            g.peer = Some(peer);
        }
        self.flush(g);
    }

    /// Delivers `w` now, or queues it until the peer is set.
    pub fn deliver(&self, w: Wire) {
        let mut g = self.lock();
        g.queue.push_back(w);
        self.flush(g);
    }

    fn flush<'a>(&'a self, mut g: MutexGuard<'a, SlotInner>) {
        if g.flushing {
            return;
        }
        let Some(peer) = g.peer.clone() else {
            return;
        };
        g.flushing = true;
        while let Some(w) = g.queue.pop_front() {
            drop(g);
            peer(w);
            g = self.lock();
        }
        g.flushing = false;
    }

    /// A peer that delivers through this slot.
    pub fn peer(self: &Arc<Self>) -> Peer {
        let me = self.clone();
        Arc::new(move |w| me.deliver(w))
    }
}

/// A peer that hands `target` the wires a driver sends on one of its
/// ports, re-addressed as received on the target's port `port` (the port
/// index changes, `from_driver` turns false; subport paths and arguments
/// stay). This is what joins two components' matching ports.
pub fn crossover(target: Peer, port: u16) -> Peer {
    Arc::new(move |mut w: Wire| {
        w.port = port;
        w.from_driver = false;
        target(w);
    })
}

/// The index of port `name` of component `C`.
pub fn port_index<C: Component>(name: &str) -> Result<u16, String> {
    C::port_names()
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u16::try_from(i).ok())
        .ok_or_else(|| format!("component `{}` has no port `{name}`", C::NAME))
}

/// Joins a client driver's `USBInterfaceClient` port to the bus driver's
/// `client` port. The two drivers need each other's peers to be built,
/// so: build the bus with [`Binding::bus_peer`] on `client`, build the
/// client with [`Binding::client_peer`] on its port, then
/// [`Binding::attach_client`]. What the bus says before that waits.
///
/// ```text
///   let binding = Binding::new::<Asix>("usb")?;
///   let bus = rt.driver(BusDriver::new(host), ()).connect("client", binding.bus_peer())?...start()?;
///   let client = rt.driver(MyClient, ()).connect("usb", binding.client_peer(&bus)?)?...start()?;
///   binding.attach_client(&client);
/// ```
pub struct Binding {
    to_client: Arc<PeerSlot>,
    client_port: u16,
}

impl Binding {
    /// A binding for port `port` of client component `C`.
    pub fn new<C: Component>(port: &str) -> Result<Binding, String> {
        Ok(Binding {
            to_client: PeerSlot::new(),
            client_port: port_index::<C>(port)?,
        })
    }

    /// The peer for the bus driver's `client` port.
    pub fn bus_peer(&self) -> Peer {
        crossover(self.to_client.peer(), self.client_port)
    }

    /// The peer for the client's port: delivers to the bus driver.
    pub fn client_peer(&self, bus: &DriverHandle<UsbBus>) -> Result<Peer, String> {
        Ok(crossover(bus.as_peer(), port_index::<UsbBus>("client")?))
    }

    /// The client is running: deliver the bus's messages to it.
    pub fn attach_client<C: Component>(&self, client: &DriverHandle<C>) {
        self.to_client.set(client.as_peer());
    }
}
