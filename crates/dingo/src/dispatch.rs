//! The request queue of one driver (the Dingo paper's adapter design):
//! every message is handled atomically, no caller ever blocks, and the
//! thread that finds the driver idle runs it.
//!
//! One 64-bit word says who may run:
//!
//! ```text
//!   63                 32 31                  0
//!  ┌──────────────────────┬────────────────────┐
//!  │ data handlers running │ serial units       │
//!  └──────────────────────┴────────────────────┘
//!
//!  serial units = control messages (and, while one is pending, data
//!                 messages) accepted and not finished, the running one
//!                 included; each is pushed on the queue and counted under
//!                 the queue's lock, except the one a caller runs straight
//!                 away, so an idle word means an empty queue.
//!
//!  control(m):  0 ──CAS──▶ 1       run m now (no queue), then drain
//!               else       push m; units += 1; if the word was 0: drain
//!  data(m):     units == 0 ──CAS──▶ running += 1; run m on &Shared in
//!                                   parallel; running -= 1; if this was
//!                                   the last one and units > 0: drain
//!               units > 0           queue m behind the control message
//!  drain:       repeat { finish a unit; if units == 0: stop;
//!                        pop the next message and run it }
//!               after `bound` messages the rest is handed to the
//!               executor, so one caller is not captured for ever
//! ```
//!
//! Exactly one thread drains at a time (it holds a unit), and it starts
//! only when no data handler runs: control messages never overlap each
//! other or a data handler. A data message that finds a unit waits in the
//! queue, so control messages are not starved. In serialised mode data
//! messages take the control path.

use crate::sync::{self, Arc, AtomicU64, Mutex, Ordering, TryLockError};
use std::collections::VecDeque;

const UNIT: u64 = 1;
const RUNNING: u64 = 1 << 32;

fn units(word: u64) -> u64 {
    word & 0xffff_ffff
}

fn running(word: u64) -> u64 {
    word >> 32
}

/// What a driver does with the messages delivered to it.
pub trait Handler: Send + 'static {
    /// Control messages: one at a time, with the driver's serial state.
    type Control: Send + 'static;
    /// Concurrent messages (`concurrent` in the spec): in hybrid mode they
    /// run in parallel with each other, never with a control message.
    type Data: Send + 'static;
    /// The state data handlers may touch: shared between threads, so the
    /// type system asks for `Sync`.
    type Shared: Send + Sync + 'static;

    /// Handles a control message.
    fn control(&mut self, shared: &Self::Shared, message: Self::Control);

    /// Handles a concurrent message.
    fn data(shared: &Self::Shared, message: Self::Data);
}

/// How concurrent messages are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every message runs in the serial context, one at a time.
    Serialised,
    /// Concurrent messages run in parallel with each other.
    Hybrid,
}

/// Runs a driver's remaining messages on another thread when the caller
/// that drained it has done its share (see [`Dispatcher::bound`]).
pub trait Executor: Send + Sync + 'static {
    /// Runs `job` soon, on some thread.
    fn execute(&self, job: Box<dyn FnOnce() + Send>);
}

enum Item<H: Handler> {
    Control(H::Control),
    Data(H::Data),
}

/// The request queue and scheduling word of one driver: a cheap handle,
/// cloned by everyone who delivers to the driver.
pub struct Dispatcher<H: Handler> {
    inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for Dispatcher<H> {
    fn clone(&self) -> Self {
        Dispatcher {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<H: Handler> {
    word: AtomicU64,
    queue: Mutex<VecDeque<Item<H>>>,
    /// The serial state. Only the thread holding the drain locks it, so
    /// `try_lock` always succeeds; the mutex is what lets that thread have
    /// `&mut` without `unsafe`.
    serial: Mutex<H>,
    shared: H::Shared,
    mode: Mode,
    bound: u32,
    executor: Option<std::sync::Arc<dyn Executor>>,
    panics: AtomicU64,
    first_panic: Mutex<Option<String>>,
}

impl<H: Handler> Dispatcher<H> {
    /// A dispatcher for `handler` with shared state `shared`. Without an
    /// executor, a caller drains until the queue is empty.
    pub fn new(handler: H, shared: H::Shared, mode: Mode) -> Dispatcher<H> {
        Dispatcher::build(handler, shared, mode, None, u32::MAX)
    }

    /// A dispatcher whose callers, after `bound` messages in one go, hand
    /// the rest of the queue to `executor` and return.
    pub fn with_executor(
        handler: H,
        shared: H::Shared,
        mode: Mode,
        executor: std::sync::Arc<dyn Executor>,
        bound: u32,
    ) -> Dispatcher<H> {
        Dispatcher::build(handler, shared, mode, Some(executor), bound.max(1))
    }

    fn build(
        handler: H,
        shared: H::Shared,
        mode: Mode,
        executor: Option<std::sync::Arc<dyn Executor>>,
        bound: u32,
    ) -> Dispatcher<H> {
        let inner = Inner {
            word: AtomicU64::new(0),
            queue: Mutex::new(VecDeque::new()),
            serial: Mutex::new(handler),
            shared,
            mode,
            bound,
            executor,
            panics: AtomicU64::new(0),
            first_panic: Mutex::new(None),
        };
        Dispatcher {
            inner: Arc::new(inner),
        }
    }

    /// The scheduling mode.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// The shared state.
    pub fn shared(&self) -> &H::Shared {
        &self.inner.shared
    }

    /// Whether no message is queued or running.
    pub fn is_idle(&self) -> bool {
        self.inner.word.load(Ordering::Acquire) == 0
    }

    /// Runs `f` on the serial state if the driver is idle (for inspection
    /// by tests and hosts); `None` when a message is being handled.
    pub fn with_serial<R>(&self, f: impl FnOnce(&mut H) -> R) -> Option<R> {
        if self
            .inner
            .word
            .compare_exchange(0, UNIT, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let r = {
            let mut h = sync::lock(&self.inner.serial);
            f(&mut h)
        };
        // Give the unit back and run what arrived meanwhile (no handing off:
        // there is no `Arc` of the dispatcher here).
        self.finish(None, 1);
        Some(r)
    }

    /// How many handlers panicked. A panic is caught, counted and its
    /// message kept (see [`Dispatcher::first_panic`]); the driver goes on
    /// with the next message.
    pub fn panics(&self) -> u64 {
        self.inner.panics.load(Ordering::Relaxed)
    }

    /// The message of the first handler panic, if any.
    pub fn first_panic(&self) -> Option<String> {
        sync::lock(&self.inner.first_panic).clone()
    }

    /// Delivers a control message. Never blocks: the message runs now on
    /// this thread, or is queued for the thread that is running the driver.
    pub fn control(&self, message: H::Control) {
        if self
            .inner
            .word
            .compare_exchange(0, UNIT, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.run(Item::Control(message));
            self.finish(Some(self), 1);
            return;
        }
        self.enqueue(Item::Control(message));
    }

    /// Delivers a concurrent message: in hybrid mode it runs now, in
    /// parallel with other concurrent messages, unless a control message
    /// is pending or running; then, and in serialised mode, it is handled
    /// like a control message.
    pub fn data(&self, message: H::Data) {
        if self.inner.mode == Mode::Serialised {
            if self
                .inner
                .word
                .compare_exchange(0, UNIT, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                self.run(Item::Data(message));
                self.finish(Some(self), 1);
                return;
            }
            self.enqueue(Item::Data(message));
            return;
        }
        let mut word = self.inner.word.load(Ordering::Relaxed);
        loop {
            if units(word) != 0 {
                self.enqueue(Item::Data(message));
                return;
            }
            match self.inner.word.compare_exchange_weak(
                word,
                word + RUNNING,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        self.run(Item::Data(message));
        let before = self.inner.word.fetch_sub(RUNNING, Ordering::AcqRel);
        if running(before) == 1 && units(before) > 0 {
            // Control messages arrived while data handlers ran; the last
            // one out runs them, holding the first unit.
            self.drain(Some(self), 0);
        }
    }

    /// Queues `item` and adds its unit, both under the queue's lock; drains
    /// if the driver was idle. Counting under the lock keeps every queued
    /// message counted, so a drainer never pops a message whose unit is
    /// still to come: were it possible, the driver could go idle with a
    /// message queued, and its sender's next message overtake it on the
    /// fast path (loom found this; `tests/loom.rs`).
    fn enqueue(&self, item: Item<H>) {
        let before = {
            let mut queue = sync::lock(&self.inner.queue);
            queue.push_back(item);
            self.inner.word.fetch_add(UNIT, Ordering::AcqRel)
        };
        if before == 0 {
            self.drain(Some(self), 0);
        }
    }

    /// Runs one message, catching a panic of its handler.
    fn run(&self, item: Item<H>) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match item {
            Item::Control(m) => {
                let mut h = match self.inner.serial.try_lock() {
                    Ok(h) => h,
                    Err(TryLockError::Poisoned(p)) => p.into_inner(),
                    Err(TryLockError::WouldBlock) => {
                        unreachable!("only the thread holding the drain locks the serial state")
                    }
                };
                h.control(&self.inner.shared, m);
            }
            Item::Data(m) => H::data(&self.inner.shared, m),
        }));
        if let Err(payload) = result {
            self.inner.panics.fetch_add(1, Ordering::Relaxed);
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a handler panicked".to_string());
            sync::lock(&self.inner.first_panic).get_or_insert(text);
        }
    }

    /// Gives back the unit of a message just handled (`done` handled so
    /// far in this go); if more units are left, holds the next and drains.
    fn finish(&self, me: Option<&Self>, done: u32) {
        let before = self.inner.word.fetch_sub(UNIT, Ordering::AcqRel);
        if units(before) > 1 {
            self.drain(me, done);
        }
    }

    /// Holding a unit whose message is queued: runs queued messages until
    /// no unit is left, handing the rest to the executor after `bound`.
    fn drain(&self, me: Option<&Self>, mut done: u32) {
        loop {
            if done >= self.inner.bound
                && let (Some(me), Some(executor)) = (me, &self.inner.executor)
            {
                let me = me.clone();
                executor.execute(Box::new(move || me.drain(Some(&me), 0)));
                return;
            }
            // There is a queued message: every unit is added after its
            // message is pushed, and one pop is made per unit.
            let item = sync::lock(&self.inner.queue).pop_front();
            let Some(item) = item else {
                unreachable!("a unit is added only after its message is queued")
            };
            self.run(item);
            done += 1;
            let before = self.inner.word.fetch_sub(UNIT, Ordering::AcqRel);
            if units(before) == 1 {
                return;
            }
        }
    }
}
