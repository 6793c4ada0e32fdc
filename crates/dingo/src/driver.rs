//! Drivers: a component's generated ports, an `async` control task, an
//! observer on every port, and a request queue in front of it all.
//!
//! ```text
//!            host / other drivers                     timers, deferred calls
//!                   │ DriverHandle::deliver(Wire)             │ wake
//!                   ▼                                         ▼
//!   ┌──────────────────────── request queue (Dispatcher) ────────────────┐
//!   │ control message: observer ─▶ Event ─▶ inbox ─▶ poll the task        │
//!   │ concurrent message (hybrid): observer ─▶ Driver::data(&Shared, ..)  │
//!   └─────────────────────────────────────────────────────────────────────┘
//!        task: io.recv(|e| ...).await, io.ports.lc.start_complete(), io.sleep(..)
//!                   │ every send: observer ─▶ the port's peer
//!                   ▼
//!            host / other drivers
//! ```
//!
//! The control task is polled only from the request queue, so it never
//! runs in parallel with itself or with a data handler: driver code needs
//! no locks. Every wake-up (a message, a timer, a deferred call that
//! finished) re-enters through the queue. A driver ends when all its
//! protocols have terminated (its observer says so) or its task returns;
//! then the task and everything it owns are dropped.

use crate::dispatch::{Dispatcher, Handler, Mode};
use crate::runtime::Runtime;
use crate::wire::{Component, SendError, Sender, Wire};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tingu::ir::{KindId, MessageId, Model};
use tingu::syntax::ast::Direction;
use tingu_observer::{Config, Handle, Observer, Policy, Verdict, Violation};

use crate::time::Time;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A driver: its component, its control task and, in hybrid mode, its
/// data-path handler.
pub trait Driver: Send + Sized + 'static {
    /// The generated interface of the driver's component.
    type Component: Component;
    /// The state the data path shares with the control task (`()` if
    /// none). Data handlers see it by `&`, so it must be `Sync`.
    type Shared: Send + Sync + 'static;
    /// Serialised: every message goes to the control task. Hybrid:
    /// `concurrent` messages go to [`Driver::data`], in parallel.
    const MODE: Mode = Mode::Serialised;

    /// The control task: receives events from `io`, sends through
    /// `io.ports`. Runs until the driver ends.
    fn run(
        self,
        io: Io<Self::Component>,
        shared: Arc<Self::Shared>,
    ) -> impl Future<Output = ()> + Send + 'static;

    /// Hybrid mode: a `concurrent` message, handled in parallel with other
    /// concurrent messages and never with the control task. The default
    /// hands it nowhere and counts it as unhandled
    /// ([`DriverHandle::unhandled`]).
    fn data(
        shared: &Self::Shared,
        ports: &<Self::Component as Component>::Ports,
        event: <Self::Component as Component>::Event,
    ) -> Option<<Self::Component as Component>::Event> {
        let _ = (shared, ports);
        Some(event)
    }
}

/// What is connected to a port: a function receiving the driver's
/// messages on it (a host adapter, or another driver's handle).
pub type Peer = Arc<dyn Fn(Wire) + Send + Sync>;

/// Observer settings of a driver.
#[derive(Clone, Copy, Debug)]
pub struct Observe {
    /// Attach an observer (on by default in tests and debug builds).
    pub enabled: bool,
    /// Observer settings: history length and violation policy.
    pub config: Config,
}

impl Default for Observe {
    fn default() -> Observe {
        Observe {
            enabled: cfg!(debug_assertions),
            config: Config {
                history: 32,
                policy: Policy::Stop,
            },
        }
    }
}

/// What the control task, the data path and the senders share.
struct Link<C: Component> {
    observer: Option<Mutex<Observer<Time>>>,
    /// Observer handles of the declared ports, in `Wire::port` order.
    handles: Vec<Handle>,
    /// Per declared port: the driver plays the other side (`mirror`).
    mirror: Vec<bool>,
    peers: Vec<Option<Peer>>,
    stopped: AtomicBool,
    ended: AtomicBool,
    unhandled: AtomicU64,
    rejected: AtomicU64,
    _component: std::marker::PhantomData<fn() -> C>,
}

impl<C: Component> Link<C> {
    /// Checks `w` with the observer. `Err(Stopped)` if the component is
    /// (now) stopped; a violation under `Policy::Continue` lets it pass.
    fn observe(&self, w: &Wire) -> Result<(), SendError> {
        if self.ended.load(Ordering::Acquire) {
            return Err(SendError::Terminated);
        }
        if self.stopped.load(Ordering::Acquire) {
            return Err(SendError::Stopped);
        }
        let Some(obs) = &self.observer else {
            return Ok(());
        };
        let mut obs = lock(obs);
        let (Some(&port), Some(&mirror)) = (
            self.handles.get(w.port as usize),
            self.mirror.get(w.port as usize),
        ) else {
            return Err(SendError::Unconnected);
        };
        // The spec's sigil: `!` for what the implementing side sends.
        let direction = if w.from_driver != mirror {
            Direction::Out
        } else {
            Direction::In
        };
        let mut h = port;
        let mut verdict = None;
        for &(spawner, key) in w.path() {
            match obs.subport(h, MessageId(u32::from(spawner)), key) {
                Some(sub) => h = sub,
                None => {
                    let name = obs
                        .protocol_of(h)
                        .and_then(|p| p.messages.get(spawner as usize))
                        .map_or("?".to_string(), |m| m.name.clone());
                    verdict = Some(obs.unknown_subport(
                        h,
                        MessageId(u32::from(spawner)),
                        key,
                        direction,
                        &name,
                    ));
                    break;
                }
            }
        }
        let verdict = verdict.unwrap_or_else(|| {
            obs.message(h, direction, MessageId(u32::from(w.message)), w.args())
        });
        let terminated = obs.component_terminated();
        let stopped = obs.is_stopped();
        drop(obs);
        if terminated {
            self.ended.store(true, Ordering::Release);
        }
        if stopped {
            self.stopped.store(true, Ordering::Release);
            return Err(SendError::Stopped);
        }
        match verdict {
            Verdict::Stopped => Err(SendError::Stopped),
            _ => Ok(()),
        }
    }

    /// Sends a message of the driver: observer, then the port's peer.
    fn send(&self, w: Wire) -> Result<(), SendError> {
        self.observe(&w)?;
        match self.peers.get(w.port as usize).and_then(Option::as_ref) {
            Some(peer) => {
                peer(w);
                Ok(())
            }
            None => Err(SendError::Unconnected),
        }
    }
}

/// Per declared port of `comp`, whether it is mirrored.
fn mirrors(model: &Model, component: &str) -> Vec<bool> {
    model
        .components
        .iter()
        .find(|c| c.name == component)
        .map(|c| {
            (0..c.port_count)
                .map(|k| c.kind(KindId(k as u32)).mirror)
                .collect()
        })
        .unwrap_or_default()
}

/// The inbox and waker the control task and the request queue share.
struct Inbox<E> {
    events: VecDeque<E>,
    waker: Option<Waker>,
}

/// The control task's view of its driver: typed send handles, events,
/// time and deferred calls.
pub struct Io<C: Component> {
    /// Typed send handles, one field per port (generated).
    pub ports: C::Ports,
    inbox: Arc<Mutex<Inbox<C::Event>>>,
    runtime: Runtime,
}

impl<C: Component> Io<C> {
    /// The next event, whatever it is.
    pub fn next_event(&mut self) -> impl Future<Output = C::Event> + Send + '_ {
        self.recv(|_| true)
    }

    /// AWAIT: the first event (in arrival order) for which `wanted` holds;
    /// other events stay queued for later. The paper's
    /// `AWAIT(txPacket, disable, unplugged, pipeXferComplete)` is
    /// `io.recv(|e| matches!(e, Event::Eth(TxPacket { .. }) | ...))`.
    pub fn recv<F>(&mut self, wanted: F) -> Recv<'_, C, F>
    where
        F: FnMut(&C::Event) -> bool + Send + Unpin,
    {
        Recv { io: self, wanted }
    }

    /// The first queued event for which `wanted` holds, without waiting.
    pub fn try_recv(&mut self, mut wanted: impl FnMut(&C::Event) -> bool) -> Option<C::Event> {
        let mut inbox = lock(&self.inbox);
        let at = inbox.events.iter().position(&mut wanted)?;
        inbox.events.remove(at)
    }

    /// AWAIT with a timeout: the first event for which `wanted` holds, or
    /// `None` once `timeout` has passed.
    pub async fn recv_timeout<F>(&mut self, wanted: F, timeout: Duration) -> Option<C::Event>
    where
        F: FnMut(&C::Event) -> bool + Send + Unpin,
    {
        let sleep = self.sleep(timeout);
        let recv = self.recv(wanted);
        First { recv, sleep }.await
    }

    /// CALL: sends a request with `send` and awaits the first event for
    /// which `reply` holds. A send error is returned before waiting.
    pub async fn call<F>(
        &mut self,
        send: impl FnOnce(&C::Ports) -> Result<(), SendError>,
        reply: F,
    ) -> Result<C::Event, SendError>
    where
        F: FnMut(&C::Event) -> bool + Send + Unpin,
    {
        send(&self.ports)?;
        Ok(self.recv(reply).await)
    }

    /// How many events wait in the inbox.
    pub fn pending(&self) -> usize {
        lock(&self.inbox).events.len()
    }

    /// The current time since the runtime started.
    pub fn now(&self) -> Duration {
        self.runtime.now()
    }

    /// Waits for `delay` (the timer service wakes the task through the
    /// request queue).
    pub fn sleep(&self, delay: Duration) -> Sleep {
        Sleep {
            runtime: self.runtime.clone(),
            deadline: self.runtime.now().saturating_add(delay),
            state: Arc::new(Mutex::new((false, None))),
            timer: None,
        }
    }

    /// Runs a host call that may block on a worker thread; its result
    /// comes back as a wake-up through the request queue.
    pub fn defer<T, F>(&self, f: F) -> Deferred<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let slot: Arc<Mutex<DeferSlot<T>>> = Arc::new(Mutex::new(DeferSlot {
            value: None,
            waker: None,
        }));
        let s = slot.clone();
        self.runtime.execute(move || {
            let v = f();
            let waker = {
                let mut g = lock(&s);
                g.value = Some(v);
                g.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        Deferred { slot }
    }
}

/// The future of [`Io::recv`].
pub struct Recv<'a, C: Component, F> {
    io: &'a mut Io<C>,
    wanted: F,
}

impl<C: Component, F> Future for Recv<'_, C, F>
where
    F: FnMut(&C::Event) -> bool + Send + Unpin,
{
    type Output = C::Event;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Event> {
        let me = self.get_mut();
        let mut inbox = lock(&me.io.inbox);
        if let Some(at) = inbox.events.iter().position(|e| (me.wanted)(e))
            && let Some(e) = inbox.events.remove(at)
        {
            return Poll::Ready(e);
        }
        inbox.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// An event or a timeout, whichever comes first.
struct First<'a, C: Component, F> {
    recv: Recv<'a, C, F>,
    sleep: Sleep,
}

impl<C: Component, F> Future for First<'_, C, F>
where
    F: FnMut(&C::Event) -> bool + Send + Unpin,
{
    type Output = Option<C::Event>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<C::Event>> {
        let me = self.get_mut();
        if let Poll::Ready(e) = Pin::new(&mut me.recv).poll(cx) {
            return Poll::Ready(Some(e));
        }
        match Pin::new(&mut me.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future of [`Io::sleep`].
pub struct Sleep {
    runtime: Runtime,
    deadline: Duration,
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    timer: Option<crate::time::TimerId>,
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // A sleep abandoned early (an event came first) disarms its timer.
        if let Some(t) = self.timer.take() {
            self.runtime.timers().cancel(t);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = self.get_mut();
        if me.runtime.now() >= me.deadline {
            return Poll::Ready(());
        }
        {
            let mut st = lock(&me.state);
            if st.0 {
                return Poll::Ready(());
            }
            st.1 = Some(cx.waker().clone());
        }
        if me.timer.is_none() {
            let state = me.state.clone();
            me.timer = Some(me.runtime.timers().at(
                me.deadline,
                Box::new(move || {
                    let waker = {
                        let mut st = lock(&state);
                        st.0 = true;
                        st.1.take()
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }),
            ));
        }
        Poll::Pending
    }
}

struct DeferSlot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The future of [`Io::defer`].
pub struct Deferred<T> {
    slot: Arc<Mutex<DeferSlot<T>>>,
}

impl<T> Future for Deferred<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut g = lock(&self.slot);
        match g.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                g.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Control messages of a driver's request queue.
enum Ctl {
    /// Start: install the waker and poll the task for the first time.
    Start(Waker),
    /// A message from the environment.
    Port(Wire),
    /// A wake-up of the task.
    Poll,
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The serial state of a driver.
struct Core<D: Driver> {
    task: Option<Task>,
    waker: Option<Waker>,
    inbox: Arc<Mutex<Inbox<<D::Component as Component>::Event>>>,
    woken: Arc<AtomicBool>,
    on_end: Option<Box<dyn FnOnce() + Send>>,
    link: Arc<Link<D::Component>>,
}

/// What the data path of a driver sees.
struct Shared<D: Driver> {
    data: Arc<D::Shared>,
    ports: <D::Component as Component>::Ports,
    link: Arc<Link<D::Component>>,
}

impl<D: Driver> Core<D> {
    fn poll_task(&mut self) {
        let (Some(task), Some(waker)) = (self.task.as_mut(), self.waker.as_ref()) else {
            return;
        };
        let mut cx = Context::from_waker(waker);
        if task.as_mut().poll(&mut cx).is_ready() {
            self.end();
        }
    }

    /// Drops the task and everything it owns; tells the host once.
    fn end(&mut self) {
        self.link.ended.store(true, Ordering::Release);
        self.task = None;
        self.waker = None;
        let mut inbox = lock(&self.inbox);
        inbox.events.clear();
        inbox.waker = None;
        drop(inbox);
        if let Some(f) = self.on_end.take() {
            f();
        }
    }
}

impl<D: Driver> Handler for Core<D> {
    type Control = Ctl;
    type Data = Wire;
    type Shared = Shared<D>;

    fn control(&mut self, sh: &Shared<D>, message: Ctl) {
        match message {
            Ctl::Start(waker) => {
                self.waker = Some(waker);
                self.poll_task();
            }
            Ctl::Poll => {
                self.woken.store(false, Ordering::Release);
                self.poll_task();
            }
            Ctl::Port(w) => {
                if self.task.is_none() {
                    sh.link.rejected.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let allowed = sh.link.observe(&w);
                match (allowed, D::Component::event(&w)) {
                    (Ok(()), Some(e)) => {
                        let waker = {
                            let mut inbox = lock(&self.inbox);
                            inbox.events.push_back(e);
                            inbox.waker.take()
                        };
                        drop(waker);
                        self.poll_task();
                    }
                    (Ok(()), None) => {
                        sh.link.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                    (Err(_), _) => {
                        sh.link.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if sh.link.ended.load(Ordering::Acquire) && self.task.is_some() {
            self.end();
        }
    }

    fn data(sh: &Shared<D>, w: Wire) {
        if sh.link.observe(&w).is_err() {
            sh.link.rejected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match D::Component::event(&w) {
            Some(e) => {
                if D::data(&sh.data, &sh.ports, e).is_some() {
                    sh.link.unhandled.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                sh.link.rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Wakes a driver's task by queueing a poll (once until it runs).
struct TaskWaker<D: Driver> {
    dispatcher: Dispatcher<Core<D>>,
    woken: Arc<AtomicBool>,
}

impl<D: Driver> Wake for TaskWaker<D> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            self.dispatcher.control(Ctl::Poll);
        }
    }
}

/// Builds a driver: connect its ports, choose observer settings, start.
pub struct DriverBuilder<D: Driver> {
    runtime: Runtime,
    driver: D,
    shared: D::Shared,
    peers: Vec<Option<Peer>>,
    observe: Observe,
    on_violation: Option<tingu_observer::engine::ViolationHook>,
    on_end: Option<Box<dyn FnOnce() + Send>>,
    bound: u32,
}

impl<D: Driver> DriverBuilder<D> {
    /// Connects port `name` to `peer`. Unknown names are an error.
    pub fn connect(mut self, name: &str, peer: Peer) -> Result<DriverBuilder<D>, String> {
        let names = D::Component::port_names();
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(format!(
                "component `{}` has no port `{name}` (ports: {})",
                D::Component::NAME,
                names.join(", ")
            ));
        };
        self.peers[i] = Some(peer);
        Ok(self)
    }

    /// Observer settings (default: on in debug builds, policy `Stop`).
    pub fn observe(mut self, observe: Observe) -> DriverBuilder<D> {
        self.observe = observe;
        self
    }

    /// Calls `hook` on every protocol violation, as it happens.
    pub fn on_violation(mut self, hook: impl FnMut(&Violation) + Send + 'static) -> Self {
        self.on_violation = Some(Box::new(hook));
        self
    }

    /// Calls `f` once when the driver ends.
    pub fn on_end(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.on_end = Some(Box::new(f));
        self
    }

    /// After `bound` messages in one go, a caller hands the rest of the
    /// driver's queue to a worker (default 64).
    pub fn bound(mut self, bound: u32) -> Self {
        self.bound = bound;
        self
    }

    /// Starts the driver: its task runs until its first `await`.
    pub fn start(self) -> Result<DriverHandle<D::Component>, String> {
        let model = D::Component::model();
        let names = D::Component::port_names();
        let mut handles = Vec::new();
        let mut observer = None;
        if self.observe.enabled {
            let mut obs = Observer::new(
                model.clone(),
                D::Component::NAME,
                D::Component::backend(),
                self.runtime.time().clone(),
                self.observe.config,
            )
            .map_err(|e| e.to_string())?;
            for n in names {
                handles.push(
                    obs.port(n)
                        .ok_or_else(|| format!("the observer has no port `{n}`"))?,
                );
            }
            if let Some(hook) = self.on_violation {
                obs.on_violation(hook);
            }
            observer = Some(Mutex::new(obs));
        }
        let link = Arc::new(Link::<D::Component> {
            observer,
            handles,
            mirror: mirrors(&model, D::Component::NAME),
            peers: self.peers,
            stopped: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            unhandled: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            _component: std::marker::PhantomData,
        });
        let sender = {
            let link = link.clone();
            Sender::new(move |w| link.send(w))
        };
        let shared = Arc::new(self.shared);
        let inbox = Arc::new(Mutex::new(Inbox {
            events: VecDeque::new(),
            waker: None,
        }));
        let io = Io {
            ports: D::Component::ports(sender.clone()),
            inbox: inbox.clone(),
            runtime: self.runtime.clone(),
        };
        let task: Task = Box::pin(self.driver.run(io, shared.clone()));
        let woken = Arc::new(AtomicBool::new(false));
        let core = Core::<D> {
            task: Some(task),
            waker: None,
            inbox,
            woken: woken.clone(),
            on_end: self.on_end,
            link: link.clone(),
        };
        let data = Shared::<D> {
            data: shared,
            ports: D::Component::ports(sender),
            link: link.clone(),
        };
        let dispatcher =
            Dispatcher::with_executor(core, data, D::MODE, self.runtime.executor(), self.bound);
        let waker = Waker::from(Arc::new(TaskWaker::<D> {
            dispatcher: dispatcher.clone(),
            woken,
        }));
        dispatcher.control(Ctl::Start(waker));
        Ok(DriverHandle {
            deliver: Arc::new(DeliverFn::<D> {
                dispatcher,
                link: link.clone(),
            }),
            link,
        })
    }
}

trait Deliver: Send + Sync {
    fn deliver(&self, w: Wire);
    fn idle(&self) -> bool;
    fn panics(&self) -> u64;
}

struct DeliverFn<D: Driver> {
    dispatcher: Dispatcher<Core<D>>,
    link: Arc<Link<D::Component>>,
}

impl<D: Driver> Deliver for DeliverFn<D> {
    fn deliver(&self, w: Wire) {
        if D::MODE == Mode::Hybrid && D::Component::is_concurrent(&w) {
            self.dispatcher.data(w);
        } else {
            self.dispatcher.control(Ctl::Port(w));
        }
        let _ = &self.link;
    }

    fn idle(&self) -> bool {
        self.dispatcher.is_idle()
    }

    fn panics(&self) -> u64 {
        self.dispatcher.panics()
    }
}

/// The host's handle on a running driver.
pub struct DriverHandle<C: Component> {
    deliver: Arc<dyn Deliver>,
    link: Arc<Link<C>>,
}

impl<C: Component> Clone for DriverHandle<C> {
    fn clone(&self) -> Self {
        DriverHandle {
            deliver: self.deliver.clone(),
            link: self.link.clone(),
        }
    }
}

impl<C: Component> DriverHandle<C> {
    /// Delivers a message from the environment. Never blocks.
    pub fn deliver(&self, w: Wire) {
        self.deliver.deliver(w);
    }

    /// A peer that delivers to this driver (to connect it to another's port).
    pub fn as_peer(&self) -> Peer {
        let d = self.deliver.clone();
        Arc::new(move |w| d.deliver(w))
    }

    /// Whether no message is queued or running.
    pub fn is_idle(&self) -> bool {
        self.deliver.idle()
    }

    /// Whether the driver has ended (protocols terminated, or its task
    /// returned).
    pub fn has_ended(&self) -> bool {
        self.link.ended.load(Ordering::Acquire)
    }

    /// Whether the observer stopped the driver after a violation.
    pub fn is_stopped(&self) -> bool {
        self.link.stopped.load(Ordering::Acquire)
    }

    /// The protocol violations so far (empty without an observer).
    pub fn violations(&self) -> Vec<Violation> {
        match &self.link.observer {
            Some(obs) => lock(obs).violations().to_vec(),
            None => Vec::new(),
        }
    }

    /// Runs `f` on the observer (`None` without one).
    pub fn with_observer<R>(&self, f: impl FnOnce(&Observer<Time>) -> R) -> Option<R> {
        self.link.observer.as_ref().map(|o| f(&lock(o)))
    }

    /// Messages dropped: arriving after the driver ended or stopped, or not
    /// something the driver receives.
    pub fn rejected(&self) -> u64 {
        self.link.rejected.load(Ordering::Relaxed)
    }

    /// Concurrent messages that the driver's `data` handler gave back.
    pub fn unhandled(&self) -> u64 {
        self.link.unhandled.load(Ordering::Relaxed)
    }

    /// Handler panics caught so far.
    pub fn panics(&self) -> u64 {
        self.deliver.panics()
    }
}

impl Runtime {
    /// Begins building a driver in this runtime.
    pub fn driver<D: Driver>(&self, driver: D, shared: D::Shared) -> DriverBuilder<D> {
        DriverBuilder {
            runtime: self.clone(),
            driver,
            shared,
            peers: vec![None; D::Component::port_names().len()],
            observe: Observe::default(),
            on_violation: None,
            on_end: None,
            bound: 64,
        }
    }
}
