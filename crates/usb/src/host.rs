//! The simulated host controller: one root port, one device, transfers on
//! its endpoints.
//!
//! # A transfer's life
//!
//! ```text
//!  submitter (any thread)        controller worker thread          delivery thread
//!  ----------------------        ------------------------          ---------------
//!  submit(ep, urb, len, cb)
//!   │ checks the URB, marks it busy,
//!   │ appends it to ep's queue ──▶ takes the head of a runnable queue
//!   ▼ returns Ok(())               │ (lock released for the device call)
//!                                  ├─ OUT: device.transfer_out(ep, bytes)
//!                                  ├─ control: device.control(setup, data)
//!                                  └─ IN:  device.transfer_in(ep, buf)
//!                                        │ Ready(n): bytes into the URB
//!                                        │ Pending: back to the head of the
//!                                        │   queue, untouched until the
//!                                        │   device's notifier(ep) fires
//!                                        ▼
//!                                  outbox (FIFO) ─────────────────▶ releases the URB,
//!                                                                   counts it, then
//!                                                                   cb(Completion)
//! ```
//!
//! Completions never run on the submitter's stack, nor on the thread that
//! talks to the device: a completion handler may submit again at once.
//! Per endpoint, transfers run and complete in submission order; several
//! may be queued. Nothing spins: idle threads wait on condition variables
//! (the worker with a timeout only when an unplug is scheduled).
//!
//! # Abort ordering
//!
//! ```text
//!  abort(ep, done)  (under the controller lock, in the caller's order)
//!    queued t1, t2 ──▶ outbox: Complete(t1, Cancelled), Complete(t2, Cancelled)
//!    t0 in a device call? ──▶ `done` waits until t0's completion is queued
//!                     else ──▶ outbox: Call(done)
//!  delivery thread: t1 Cancelled, t2 Cancelled, [t0 ...], then done()
//! ```
//!
//! The outbox is one FIFO drained by one thread, so `done` (the protocol's
//! `abortComplete`) runs after every completion of the aborted transfers.
//!
//! # Unplug
//!
//! [`HostController::unplug`] (or the deadline of [`HostController::unplug_at`])
//! fails every queued transfer with [`TransferError::NoDevice`], then
//! notifies subscribers ([`HostEvent::Unplugged`]). A transfer in a device
//! call at that moment also completes with `NoDevice`, and every later
//! submission does. The device is never called again.
//!
//! # Control transfers and their SETUP packet
//!
//! [`HostController::submit_control`] takes the SETUP packet as a value;
//! the data stage is the URB's first `wLength` bytes. [`HostController::submit`]
//! on endpoint 0 reads the SETUP packet from the URB's first 8 bytes
//! ([`SetupPacket::to_bytes`]), and the data stage follows at offset 8 (as
//! Linux keeps `setup_packet` beside the buffer). Either way the
//! completion's length counts data-stage bytes only.

use crate::descriptor::{
    self, ConfigDescriptor, DescriptorError, DeviceDescriptor, EndpointDescriptor,
};
use crate::device::{
    InPoll, InReadyNotifier, SetupPacket, TransferError, UsbDevice, descriptor_type, request,
};
use crate::urb::{UrbError, UrbId, UrbPool};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The end of a transfer, as its completion callback receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The URB (busy no more: its owner may read, reuse or free it).
    pub urb: UrbId,
    /// The endpoint (`0` for the control endpoint, whichever direction).
    pub endpoint: u8,
    /// The owner tag given at submission ([`Request::owner`]).
    pub owner: u64,
    /// Bytes moved (data stage only, for control transfers), or the error.
    pub status: Result<usize, TransferError>,
}

/// Called once per transfer, on the controller's delivery thread.
pub type OnComplete = Arc<dyn Fn(Completion) + Send + Sync>;

/// Called once when an asynchronous operation (suspend, resume, set
/// interface, clear halt) has finished, on the delivery thread.
pub type OnDone = Box<dyn FnOnce(Result<(), TransferError>) + Send>;

/// What subscribers hear ([`HostController::subscribe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostEvent {
    /// The device is gone.
    Unplugged,
}

/// Called with every [`HostEvent`], on the delivery thread.
pub type Subscriber = Arc<dyn Fn(HostEvent) + Send + Sync>;

/// A transfer to submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The endpoint address (`0x81` is IN 1, `0x03` OUT 3, `0` control).
    pub endpoint: u8,
    /// The URB holding the data (OUT) or receiving it (IN).
    pub urb: UrbId,
    /// Bulk and interrupt: bytes to move (at most the URB's capacity).
    /// Ignored for control transfers (their `wLength` says).
    pub length: usize,
    /// Control transfers: the SETUP packet, or `None` for "in the URB's
    /// first 8 bytes, data stage at offset 8". Ignored on other endpoints.
    pub setup: Option<SetupPacket>,
    /// A tag the completion carries back; [`HostController::abort_owner`]
    /// cancels only the transfers with a given tag.
    pub owner: u64,
}

/// Why a submission was refused at once (nothing will complete).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The URB is unknown or already in flight.
    Urb(UrbError),
    /// The length (or `8 + wLength` for a control URB) exceeds the URB.
    Length {
        /// Bytes the transfer needs.
        need: usize,
        /// The URB's capacity.
        capacity: usize,
    },
    /// The controller is shutting down.
    ShutDown,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Urb(e) => write!(f, "{e}"),
            SubmitError::Length { need, capacity } => {
                write!(f, "the transfer needs {need} bytes, the URB has {capacity}")
            }
            SubmitError::ShutDown => f.write_str("the host controller is shutting down"),
        }
    }
}

impl std::error::Error for SubmitError {}

/// Why enumeration failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachError {
    /// A device is attached and not unplugged.
    Busy,
    /// A control request of enumeration failed.
    Request {
        /// Which step (e.g. `"GET_DESCRIPTOR(DEVICE)"`).
        step: &'static str,
        /// How.
        error: TransferError,
    },
    /// A descriptor was malformed.
    Descriptor(DescriptorError),
    /// The device has no interface, or answered with more than asked for.
    Unusable(&'static str),
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::Busy => f.write_str("a device is already attached"),
            AttachError::Request { step, error } => write!(f, "{step} failed: {error:?}"),
            AttachError::Descriptor(e) => write!(f, "bad descriptor: {e}"),
            AttachError::Unusable(why) => write!(f, "unusable device: {why}"),
        }
    }
}

impl std::error::Error for AttachError {}

impl From<DescriptorError> for AttachError {
    fn from(e: DescriptorError) -> AttachError {
        AttachError::Descriptor(e)
    }
}

/// What enumeration learned about the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The address given with SET_ADDRESS.
    pub address: u8,
    /// The device descriptor.
    pub device: DeviceDescriptor,
    /// The configuration selected with SET_CONFIGURATION.
    pub config: ConfigDescriptor,
}

/// Transfer counts of one endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Accepted by `submit`.
    pub submitted: u64,
    /// Completed with `Ok`.
    pub completed: u64,
    /// Completed with an error (including `Cancelled` and `NoDevice`).
    pub failed: u64,
}

/// Faults the controller injects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Unplug the device at this moment (the worker honours the deadline).
    pub unplug_at: Option<Instant>,
    /// Endpoints halted: each transfer on them fails with `Stall` until
    /// [`HostController::clear_halt`].
    pub stall: Vec<u8>,
}

/// Endpoint 0 in either direction is the control endpoint `0`.
fn norm(ep: u8) -> u8 {
    if ep & 0x0f == 0 { 0 } else { ep }
}

struct Transfer {
    ep: u8,
    urb: UrbId,
    length: usize,
    /// Control: the SETUP packet and where the data stage starts in the URB.
    control: Option<(SetupPacket, usize)>,
    owner: u64,
    on_complete: OnComplete,
}

impl Transfer {
    fn complete(self, status: Result<usize, TransferError>) -> Delivery {
        Delivery::Complete(
            self.on_complete,
            Completion {
                urb: self.urb,
                endpoint: self.ep,
                owner: self.owner,
                status,
            },
        )
    }
}

enum Delivery {
    Complete(OnComplete, Completion),
    Call(Box<dyn FnOnce() + Send>),
}

#[derive(Default)]
struct EpQueue {
    transfers: VecDeque<Transfer>,
    /// IN endpoints: poll the head (new head, or the notifier fired).
    ready: bool,
}

enum Op {
    Suspend(OnDone),
    Resume(OnDone),
    SetInterface(u8, OnDone),
    ClearHalt(u8, OnDone),
}

/// The transfer in a device call right now.
struct Current {
    ep: u8,
    owner: u64,
    aborted: bool,
    /// Deliveries to queue after its completion (abort-done callbacks).
    after: Vec<Delivery>,
}

#[derive(Default)]
struct State {
    device: Option<Arc<dyn UsbDevice>>,
    info: Option<DeviceInfo>,
    generation: u64,
    attaching: bool,
    suspended: bool,
    /// Current alternate setting of each interface.
    alts: BTreeMap<u8, u8>,
    /// Endpoints of the current settings (endpoint 0 excluded).
    endpoints: BTreeMap<u8, EndpointDescriptor>,
    queues: BTreeMap<u8, EpQueue>,
    ops: VecDeque<Op>,
    current: Option<Current>,
    stalled: BTreeSet<u8>,
    unplug_at: Option<Instant>,
    stats: BTreeMap<u8, EndpointStats>,
    outbox: VecDeque<Delivery>,
    delivering: bool,
    subscribers: Vec<(u64, Subscriber)>,
    next_subscriber: u64,
    cursor: u8,
    shutdown: bool,
}

impl State {
    fn present(&self) -> bool {
        self.device.is_some()
    }

    /// Endpoint `ep` exists in the current settings.
    fn has_endpoint(&self, ep: u8) -> bool {
        ep == 0 || self.endpoints.contains_key(&ep)
    }

    fn recompute_endpoints(&mut self) {
        self.endpoints.clear();
        if let Some(info) = &self.info {
            for i in &info.config.interfaces {
                let alt = self.alts.get(&i.number).copied().unwrap_or(0);
                if let Some(a) = i.alt(alt) {
                    for e in &a.endpoints {
                        self.endpoints.insert(e.address, *e);
                    }
                }
            }
        }
    }

    /// The device is gone: fail everything queued, tell subscribers.
    fn unplug(&mut self) {
        if !self.present() {
            return;
        }
        self.device = None;
        self.suspended = false;
        self.unplug_at = None;
        let queues = std::mem::take(&mut self.queues);
        for (_, q) in queues {
            for t in q.transfers {
                self.outbox
                    .push_back(t.complete(Err(TransferError::NoDevice)));
            }
        }
        while let Some(op) = self.ops.pop_front() {
            self.outbox.push_back(fail_op(op, TransferError::NoDevice));
        }
        for (_, s) in &self.subscribers {
            let s = s.clone();
            self.outbox
                .push_back(Delivery::Call(Box::new(move || s(HostEvent::Unplugged))));
        }
    }
}

fn fail_op(op: Op, e: TransferError) -> Delivery {
    let done = match op {
        Op::Suspend(d) | Op::Resume(d) | Op::SetInterface(_, d) | Op::ClearHalt(_, d) => d,
    };
    Delivery::Call(Box::new(move || done(Err(e))))
}

fn done_call(done: OnDone, r: Result<(), TransferError>) -> Delivery {
    Delivery::Call(Box::new(move || done(r)))
}

struct Shared {
    state: Mutex<State>,
    /// The worker waits here for work.
    work: Condvar,
    /// The delivery thread waits here for the outbox.
    out: Condvar,
    /// `wait_idle` waits here.
    idle: Condvar,
    pool: UrbPool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn wait<'a>(&self, cv: &Condvar, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        match cv.wait(g) {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn kick(&self) {
        self.work.notify_one();
        self.out.notify_one();
    }
}

/// A host controller with one root port. Share it with `Arc`.
pub struct HostController {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for HostController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("HostController")
            .field("present", &st.present())
            .field("suspended", &st.suspended)
            .finish_non_exhaustive()
    }
}

impl HostController {
    /// A controller whose transfers use URBs of `pool`, with its worker and
    /// delivery threads running.
    pub fn new(pool: UrbPool) -> HostController {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            out: Condvar::new(),
            idle: Condvar::new(),
            pool,
        });
        let mut threads = Vec::new();
        let s = shared.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("usb-hc-worker".into())
            .spawn(move || worker(&s))
        {
            threads.push(h);
        }
        let s = shared.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("usb-hc-delivery".into())
            .spawn(move || delivery(&s))
        {
            threads.push(h);
        }
        HostController {
            shared,
            threads: Mutex::new(threads),
        }
    }

    /// The URB pool of this controller.
    pub fn pool(&self) -> &UrbPool {
        &self.shared.pool
    }

    /// Enumerates `device` like a USB core, on the caller's thread:
    /// GET_DESCRIPTOR(DEVICE), SET_ADDRESS, GET_DESCRIPTOR(CONFIGURATION)
    /// for 9 bytes and then for `wTotalLength`, SET_CONFIGURATION. Every
    /// interface starts in its lowest alternate setting. Allowed when no
    /// device is attached, or the last one was unplugged.
    pub fn attach(&self, device: Arc<dyn UsbDevice>) -> Result<DeviceInfo, AttachError> {
        {
            let mut st = self.shared.lock();
            if st.present() || st.attaching || st.shutdown {
                return Err(AttachError::Busy);
            }
            st.attaching = true;
        }
        let address = {
            let st = self.shared.lock();
            (st.generation % 127) as u8 + 1
        };
        let result = enumerate(device.as_ref(), address);
        let mut st = self.shared.lock();
        st.attaching = false;
        let info = result?;
        st.generation += 1;
        let generation = st.generation;
        st.device = Some(device.clone());
        st.info = Some(info.clone());
        st.suspended = false;
        st.alts = info
            .config
            .interfaces
            .iter()
            .map(|i| (i.number, i.alt_settings.first().map_or(0, |a| a.alternate)))
            .collect();
        st.recompute_endpoints();
        drop(st);
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let notifier: InReadyNotifier = Arc::new(move |ep: u8| {
            if let Some(sh) = weak.upgrade() {
                let mut st = sh.lock();
                if st.generation == generation && st.present() {
                    st.queues.entry(norm(ep)).or_default().ready = true;
                    drop(st);
                    sh.work.notify_one();
                }
            }
        });
        device.set_in_ready_notifier(notifier);
        Ok(info)
    }

    /// What enumeration found (also after an unplug: the last device's).
    pub fn info(&self) -> Option<DeviceInfo> {
        self.shared.lock().info.clone()
    }

    /// Whether a device is attached and not unplugged.
    pub fn is_present(&self) -> bool {
        self.shared.lock().present()
    }

    /// Whether the device is suspended.
    pub fn is_suspended(&self) -> bool {
        self.shared.lock().suspended
    }

    /// The current alternate setting of interface `interface`.
    pub fn alt_setting(&self, interface: u8) -> Option<u8> {
        self.shared.lock().alts.get(&interface).copied()
    }

    /// Endpoint `ep` of the current settings (`None` for endpoint 0 and
    /// for endpoints the settings lack).
    pub fn endpoint(&self, ep: u8) -> Option<EndpointDescriptor> {
        self.shared.lock().endpoints.get(&ep).copied()
    }

    /// Starts a transfer of `length` bytes on `endpoint` with `urb`
    /// (on endpoint 0: the SETUP packet in the URB's first 8 bytes).
    /// `on_complete` runs once, on the delivery thread.
    pub fn submit(
        &self,
        endpoint: u8,
        urb: UrbId,
        length: usize,
        on_complete: OnComplete,
    ) -> Result<(), SubmitError> {
        self.submit_with(
            Request {
                endpoint,
                urb,
                length,
                setup: None,
                owner: 0,
            },
            on_complete,
        )
    }

    /// Starts a control transfer on endpoint 0: `setup`, with the data
    /// stage in the URB's first `setup.length` bytes.
    pub fn submit_control(
        &self,
        setup: SetupPacket,
        urb: UrbId,
        on_complete: OnComplete,
    ) -> Result<(), SubmitError> {
        self.submit_with(
            Request {
                endpoint: 0,
                urb,
                length: usize::from(setup.length),
                setup: Some(setup),
                owner: 0,
            },
            on_complete,
        )
    }

    /// Starts a transfer described by `request`. Refused at once (and
    /// then nothing completes) only for a bad URB or length; every other
    /// failure (no device, no such endpoint, suspended, stall) is a
    /// completion with an error.
    pub fn submit_with(
        &self,
        request: Request,
        on_complete: OnComplete,
    ) -> Result<(), SubmitError> {
        let pool = &self.shared.pool;
        let ep = norm(request.endpoint);
        if self.shared.lock().shutdown {
            return Err(SubmitError::ShutDown);
        }
        let (_, capacity) = pool.claim(request.urb).map_err(SubmitError::Urb)?;
        let refuse = |e: SubmitError| {
            pool.release(request.urb, 0);
            Err(e)
        };
        let (length, control) = if ep == 0 {
            let (setup, offset) = match request.setup {
                Some(s) => (s, 0),
                None => match SetupPacket::from_bytes(&pool.peek(request.urb, 0, 8)) {
                    Some(s) => (s, 8),
                    None => {
                        return refuse(SubmitError::Length { need: 8, capacity });
                    }
                },
            };
            (usize::from(setup.length), Some((setup, offset)))
        } else {
            (request.length, None)
        };
        let need = length + control.map_or(0, |(_, o)| o);
        if need > capacity {
            return refuse(SubmitError::Length { need, capacity });
        }
        let t = Transfer {
            ep,
            urb: request.urb,
            length,
            control,
            owner: request.owner,
            on_complete,
        };
        let mut st = self.shared.lock();
        if st.shutdown {
            drop(st);
            return refuse(SubmitError::ShutDown);
        }
        st.stats.entry(ep).or_default().submitted += 1;
        if !st.present() {
            st.outbox
                .push_back(t.complete(Err(TransferError::NoDevice)));
        } else if st.suspended {
            st.outbox
                .push_back(t.complete(Err(TransferError::Suspended)));
        } else {
            let q = st.queues.entry(ep).or_default();
            if q.transfers.is_empty() {
                q.ready = true;
            }
            q.transfers.push_back(t);
        }
        drop(st);
        self.shared.kick();
        Ok(())
    }

    /// Cancels every transfer queued or in flight on `endpoint`: each
    /// completes with `Cancelled` (one caught in a device call completes
    /// as that call ends), then `done` runs, after all those completions.
    pub fn abort(&self, endpoint: u8, done: impl FnOnce() + Send + 'static) {
        self.abort_filtered(endpoint, None, Box::new(done));
    }

    /// [`HostController::abort`] for the transfers of one owner only.
    pub fn abort_owner(&self, endpoint: u8, owner: u64, done: impl FnOnce() + Send + 'static) {
        self.abort_filtered(endpoint, Some(owner), Box::new(done));
    }

    fn abort_filtered(&self, endpoint: u8, owner: Option<u64>, done: Box<dyn FnOnce() + Send>) {
        let ep = norm(endpoint);
        let mine = |o: u64| owner.is_none_or(|x| x == o);
        let mut st = self.shared.lock();
        if let Some(q) = st.queues.get_mut(&ep) {
            let (cancel, keep): (VecDeque<Transfer>, VecDeque<Transfer>) =
                q.transfers.drain(..).partition(|t| mine(t.owner));
            q.transfers = keep;
            q.ready = true;
            for t in cancel {
                st.outbox
                    .push_back(t.complete(Err(TransferError::Cancelled)));
            }
        }
        match st.current.as_mut() {
            Some(c) if c.ep == ep && mine(c.owner) => {
                c.aborted = true;
                c.after.push(Delivery::Call(done));
            }
            _ => st.outbox.push_back(Delivery::Call(done)),
        }
        drop(st);
        self.shared.kick();
    }

    /// Suspends the device (selective suspend). Transfers already queued
    /// wait for [`HostController::resume`]; new ones fail with `Suspended`.
    pub fn suspend(&self, done: impl FnOnce(Result<(), TransferError>) + Send + 'static) {
        self.op(Op::Suspend(Box::new(done)));
    }

    /// Resumes the device; held transfers run again.
    pub fn resume(&self, done: impl FnOnce(Result<(), TransferError>) + Send + 'static) {
        self.op(Op::Resume(Box::new(done)));
    }

    /// SET_INTERFACE: selects alternate setting `alt` of the first
    /// interface. Transfers queued on endpoints the new setting lacks fail
    /// with `NoEndpoint`. A setting the descriptors lack fails with `Stall`
    /// (what a device answers), and the old one stays.
    pub fn set_interface(
        &self,
        alt: u8,
        done: impl FnOnce(Result<(), TransferError>) + Send + 'static,
    ) {
        self.op(Op::SetInterface(alt, Box::new(done)));
    }

    /// Clears a halt (a stall of the fault plan) with CLEAR_FEATURE(ENDPOINT_HALT).
    pub fn clear_halt(
        &self,
        endpoint: u8,
        done: impl FnOnce(Result<(), TransferError>) + Send + 'static,
    ) {
        self.op(Op::ClearHalt(norm(endpoint), Box::new(done)));
    }

    fn op(&self, op: Op) {
        let mut st = self.shared.lock();
        if st.present() {
            st.ops.push_back(op);
        } else {
            st.outbox.push_back(fail_op(op, TransferError::NoDevice));
        }
        drop(st);
        self.shared.kick();
    }

    /// The device is gone, now.
    pub fn unplug(&self) {
        self.shared.lock().unplug();
        self.shared.kick();
    }

    /// Unplugs the device at `at` (the worker honours the deadline).
    pub fn unplug_at(&self, at: Instant) {
        self.shared.lock().unplug_at = Some(at);
        self.shared.kick();
    }

    /// Halts `endpoint`: its transfers fail with `Stall` until
    /// [`HostController::clear_halt`].
    pub fn stall(&self, endpoint: u8) {
        self.shared.lock().stalled.insert(norm(endpoint));
        self.shared.kick();
    }

    /// Installs a fault plan (replacing the halted endpoints and the unplug time).
    pub fn set_fault_plan(&self, plan: &FaultPlan) {
        let mut st = self.shared.lock();
        st.unplug_at = plan.unplug_at;
        st.stalled = plan.stall.iter().map(|&e| norm(e)).collect();
        drop(st);
        self.shared.kick();
    }

    /// Calls `f` with every [`HostEvent`] from now on (at once, on the
    /// delivery thread, with `Unplugged` if the device is already gone).
    /// Returns an id for [`HostController::unsubscribe`].
    pub fn subscribe(&self, f: Subscriber) -> u64 {
        let mut st = self.shared.lock();
        st.next_subscriber += 1;
        let id = st.next_subscriber;
        if !st.present() && st.info.is_some() {
            let g = f.clone();
            st.outbox
                .push_back(Delivery::Call(Box::new(move || g(HostEvent::Unplugged))));
        }
        st.subscribers.push((id, f));
        drop(st);
        self.shared.kick();
        id
    }

    /// Stops calling a subscriber.
    pub fn unsubscribe(&self, id: u64) {
        self.shared.lock().subscribers.retain(|(i, _)| *i != id);
    }

    /// Counts of `endpoint`.
    pub fn stats(&self, endpoint: u8) -> EndpointStats {
        self.shared
            .lock()
            .stats
            .get(&norm(endpoint))
            .copied()
            .unwrap_or_default()
    }

    /// Counts of every endpoint used so far.
    pub fn all_stats(&self) -> BTreeMap<u8, EndpointStats> {
        self.shared.lock().stats.clone()
    }

    /// Transfers submitted whose completion has not been delivered yet.
    pub fn pending(&self) -> u64 {
        self.shared
            .lock()
            .stats
            .values()
            .map(|s| s.submitted - s.completed - s.failed)
            .sum()
    }

    /// Waits until nothing is queued, running or waiting to be delivered
    /// (IN transfers waiting for data count as queued); false on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            let busy = !st.outbox.is_empty()
                || st.delivering
                || st.current.is_some()
                || !st.ops.is_empty()
                || st.queues.values().any(|q| !q.transfers.is_empty());
            if !busy {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = match self.shared.idle.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

impl Drop for HostController {
    fn drop(&mut self) {
        {
            let mut st = self.shared.lock();
            st.unplug();
            st.shutdown = true;
        }
        self.shared.work.notify_all();
        self.shared.out.notify_all();
        let threads = match self.threads.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

/// Enumeration's control requests, straight to the device.
fn enumerate(device: &dyn UsbDevice, address: u8) -> Result<DeviceInfo, AttachError> {
    let get = |step: &'static str, ty: u8, length: u16| -> Result<Vec<u8>, AttachError> {
        let setup = SetupPacket {
            request_type: 0x80,
            request: request::GET_DESCRIPTOR,
            value: u16::from(ty) << 8,
            index: 0,
            length,
        };
        let answer = device
            .control(setup, &[])
            .map_err(|error| AttachError::Request { step, error })?;
        if answer.len() > usize::from(length) {
            return Err(AttachError::Unusable("a descriptor longer than asked for"));
        }
        Ok(answer)
    };
    let set = |step: &'static str, req: u8, value: u16| -> Result<(), AttachError> {
        let setup = SetupPacket {
            request_type: 0x00,
            request: req,
            value,
            index: 0,
            length: 0,
        };
        device
            .control(setup, &[])
            .map(|_| ())
            .map_err(|error| AttachError::Request { step, error })
    };
    let dev = descriptor::parse_device(&get(
        "GET_DESCRIPTOR(DEVICE)",
        descriptor_type::DEVICE,
        descriptor::DEVICE_DESCRIPTOR_LEN as u16,
    )?)?;
    set("SET_ADDRESS", request::SET_ADDRESS, u16::from(address))?;
    let head = get(
        "GET_DESCRIPTOR(CONFIGURATION, 9)",
        descriptor_type::CONFIGURATION,
        descriptor::CONFIG_HEADER_LEN as u16,
    )?;
    let (total, _, _) = descriptor::parse_config_header(&head)?;
    let full = get(
        "GET_DESCRIPTOR(CONFIGURATION)",
        descriptor_type::CONFIGURATION,
        total,
    )?;
    let config = descriptor::parse_configuration(&full)?;
    if config.interfaces.is_empty() {
        return Err(AttachError::Unusable("no interface"));
    }
    set(
        "SET_CONFIGURATION",
        request::SET_CONFIGURATION,
        u16::from(config.value),
    )?;
    Ok(DeviceInfo {
        address,
        device: dev,
        config,
    })
}

/// What the worker does next.
enum Job {
    Fail(Transfer, TransferError),
    Run(Transfer, Arc<dyn UsbDevice>),
}

/// The next runnable transfer, round robin over endpoints.
fn pick(st: &mut State) -> Option<Job> {
    if st.suspended {
        return None;
    }
    let device = st.device.clone()?;
    let keys: Vec<u8> = st
        .queues
        .range(st.cursor.saturating_add(1)..)
        .chain(st.queues.range(..=st.cursor))
        .filter(|(_, q)| !q.transfers.is_empty())
        .map(|(k, _)| *k)
        .collect();
    for ep in keys {
        let has = st.has_endpoint(ep);
        let stalled = st.stalled.contains(&ep);
        let Some(q) = st.queues.get_mut(&ep) else {
            continue;
        };
        let is_in = ep & 0x80 != 0;
        if has && !stalled && is_in && !q.ready {
            continue; // NAKed; waits for the device's notifier
        }
        let Some(t) = q.transfers.pop_front() else {
            continue;
        };
        st.cursor = ep;
        if !has {
            return Some(Job::Fail(t, TransferError::NoEndpoint));
        }
        if stalled {
            return Some(Job::Fail(t, TransferError::Stall));
        }
        if is_in {
            q.ready = false;
        }
        return Some(Job::Run(t, device));
    }
    None
}

/// One device call for `t`; `None` if the IN endpoint NAKed.
fn run(
    device: &dyn UsbDevice,
    pool: &UrbPool,
    t: &Transfer,
) -> Option<Result<usize, TransferError>> {
    if let Some((setup, offset)) = t.control {
        let n = usize::from(setup.length);
        if setup.is_in() {
            return Some(match device.control(setup, &[]) {
                Ok(answer) if answer.len() > n => Err(TransferError::Overflow),
                Ok(answer) => {
                    if pool.deposit(t.urb, offset, &answer) {
                        Ok(answer.len())
                    } else {
                        Err(TransferError::Overflow)
                    }
                }
                Err(e) => Err(e),
            });
        }
        let data = pool.peek(t.urb, offset, n);
        return Some(device.control(setup, &data).map(|_| n));
    }
    if t.ep & 0x80 == 0 {
        let data = pool.peek(t.urb, 0, t.length);
        return Some(device.transfer_out(t.ep, &data).map(|()| t.length));
    }
    let mut buf = vec![0u8; t.length];
    match device.transfer_in(t.ep, &mut buf) {
        InPoll::Pending => None,
        InPoll::Failed(e) => Some(Err(e)),
        InPoll::Ready(n) => match buf.get(..n) {
            Some(data) if pool.deposit(t.urb, 0, data) => Some(Ok(n)),
            _ => Some(Err(TransferError::Overflow)),
        },
    }
}

fn worker(sh: &Shared) {
    let mut st = sh.lock();
    loop {
        if st.shutdown {
            return;
        }
        if let Some(at) = st.unplug_at
            && Instant::now() >= at
        {
            st.unplug();
            sh.out.notify_one();
            continue;
        }
        if let Some(op) = st.ops.pop_front() {
            st = run_op(sh, st, op);
            sh.out.notify_one();
            continue;
        }
        match pick(&mut st) {
            Some(Job::Fail(t, e)) => {
                st.outbox.push_back(t.complete(Err(e)));
                sh.out.notify_one();
            }
            Some(Job::Run(t, device)) => {
                st.current = Some(Current {
                    ep: t.ep,
                    owner: t.owner,
                    aborted: false,
                    after: Vec::new(),
                });
                drop(st);
                let result = catch_unwind(AssertUnwindSafe(|| run(device.as_ref(), &sh.pool, &t)))
                    .unwrap_or(Some(Err(TransferError::Protocol)));
                drop(device);
                st = sh.lock();
                let cur = st.current.take();
                let (aborted, after) = cur.map_or((false, Vec::new()), |c| (c.aborted, c.after));
                let status = match result {
                    _ if !st.present() => Some(Err(TransferError::NoDevice)),
                    None if aborted => Some(Err(TransferError::Cancelled)),
                    other => other,
                };
                match status {
                    Some(s) => {
                        if t.ep & 0x80 != 0
                            && let Some(q) = st.queues.get_mut(&t.ep)
                        {
                            q.ready = true; // poll the next one
                        }
                        st.outbox.push_back(t.complete(s));
                    }
                    None => st.queues.entry(t.ep).or_default().transfers.push_front(t),
                }
                st.outbox.extend(after);
                sh.out.notify_one();
            }
            None => {
                sh.idle.notify_all();
                st = match st.unplug_at {
                    Some(at) => {
                        let wait = at.saturating_duration_since(Instant::now());
                        match sh.work.wait_timeout(st, wait) {
                            Ok((g, _)) => g,
                            Err(p) => p.into_inner().0,
                        }
                    }
                    None => sh.wait(&sh.work, st),
                };
            }
        }
    }
}

/// Runs an operation that talks to the device (lock released meanwhile).
fn run_op<'a>(sh: &'a Shared, mut st: MutexGuard<'a, State>, op: Op) -> MutexGuard<'a, State> {
    let Some(device) = st.device.clone() else {
        st.outbox.push_back(fail_op(op, TransferError::NoDevice));
        return st;
    };
    match op {
        Op::Suspend(done) => {
            if !st.suspended {
                drop(st);
                let _ = catch_unwind(AssertUnwindSafe(|| device.suspend()));
                st = sh.lock();
                if st.present() {
                    st.suspended = true;
                }
            }
            let r = if st.present() {
                Ok(())
            } else {
                Err(TransferError::NoDevice)
            };
            st.outbox.push_back(done_call(done, r));
        }
        Op::Resume(done) => {
            if st.suspended {
                drop(st);
                let _ = catch_unwind(AssertUnwindSafe(|| device.resume()));
                st = sh.lock();
                st.suspended = false;
                for q in st.queues.values_mut() {
                    q.ready = true;
                }
            }
            let r = if st.present() {
                Ok(())
            } else {
                Err(TransferError::NoDevice)
            };
            st.outbox.push_back(done_call(done, r));
        }
        Op::SetInterface(alt, done) => {
            let iface = st
                .info
                .as_ref()
                .and_then(|i| i.config.interfaces.first())
                .map(|i| (i.number, i.alt(alt).is_some()));
            let r = match iface {
                _ if st.suspended => Err(TransferError::Suspended),
                Some((number, true)) => {
                    drop(st);
                    let setup = SetupPacket {
                        request_type: 0x01,
                        request: request::SET_INTERFACE,
                        value: u16::from(alt),
                        index: u16::from(number),
                        length: 0,
                    };
                    let r = catch_unwind(AssertUnwindSafe(|| device.control(setup, &[])))
                        .unwrap_or(Err(TransferError::Protocol));
                    st = sh.lock();
                    match r {
                        _ if !st.present() => Err(TransferError::NoDevice),
                        Ok(_) => {
                            st.alts.insert(number, alt);
                            st.recompute_endpoints();
                            let gone: Vec<u8> = st
                                .queues
                                .keys()
                                .copied()
                                .filter(|&e| !st.has_endpoint(e))
                                .collect();
                            for e in gone {
                                if let Some(q) = st.queues.get_mut(&e) {
                                    let ts: Vec<Transfer> = q.transfers.drain(..).collect();
                                    for t in ts {
                                        st.outbox
                                            .push_back(t.complete(Err(TransferError::NoEndpoint)));
                                    }
                                }
                            }
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                _ => Err(TransferError::Stall),
            };
            st.outbox.push_back(done_call(done, r));
        }
        Op::ClearHalt(ep, done) => {
            st.stalled.remove(&ep);
            drop(st);
            let setup = SetupPacket {
                request_type: 0x02,
                request: request::CLEAR_FEATURE,
                value: 0,
                index: u16::from(ep),
                length: 0,
            };
            let r = catch_unwind(AssertUnwindSafe(|| device.control(setup, &[])))
                .unwrap_or(Err(TransferError::Protocol));
            st = sh.lock();
            let r = if st.present() {
                r.map(|_| ())
            } else {
                Err(TransferError::NoDevice)
            };
            if let Some(q) = st.queues.get_mut(&ep) {
                q.ready = true;
            }
            st.outbox.push_back(done_call(done, r));
        }
    }
    st
}

fn delivery(sh: &Shared) {
    let mut st = sh.lock();
    loop {
        let Some(item) = st.outbox.pop_front() else {
            st.delivering = false;
            sh.idle.notify_all();
            if st.shutdown {
                return;
            }
            st = sh.wait(&sh.out, st);
            continue;
        };
        st.delivering = true;
        drop(st);
        match item {
            Delivery::Complete(f, c) => {
                // The URB is its owner's again, and counted, before the
                // owner hears of it.
                sh.pool.release(c.urb, c.status.unwrap_or(0));
                {
                    let mut st = sh.lock();
                    let s = st.stats.entry(c.endpoint).or_default();
                    match c.status {
                        Ok(_) => s.completed += 1,
                        Err(_) => s.failed += 1,
                    }
                }
                let _ = catch_unwind(AssertUnwindSafe(|| f(c)));
            }
            Delivery::Call(f) => {
                let _ = catch_unwind(AssertUnwindSafe(f));
            }
        }
        st = sh.lock();
    }
}
