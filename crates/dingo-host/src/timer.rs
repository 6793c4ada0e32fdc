//! A `Timer` port served by the runtime's timer service.
//!
//! The driver is the client (its port is `mirror Timer`); this adapter is
//! the provider side of specs/timer.tingu:
//!
//! ```text
//!   driver ── ?arm(ms) ──▶ TimerService ── Timers::after(ms) ──┐
//!   driver ◀── !fired ───── TimerService ◀── deadline ─────────┘
//!   driver ── ?cancel ───▶ TimerService: disarm, then !cancelComplete
//!                          (a `fired` already on its way crosses the
//!                           cancel, as the protocol allows)
//!   driver ── ?close ────▶ TimerService: disarm; nothing more is sent
//! ```
//!
//! Replies go to the port and subport path the request came from. The
//! adapter's state is behind a short lock on the host side. Replies are
//! decided under it and queued in that order, then delivered outside it
//! by one thread at a time: delivering may run the driver at once, and the
//! driver may call back (arm again) on the same thread. So `fired` and
//! `cancelComplete` reach the driver in the order they were decided.

use crate::outbox::{self, Outbox};
use dingo::time::TimerId;
use dingo::{Peer, Runtime, Wire};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tingu::ir::Model;

/// Message indices of the `Timer` protocol.
#[derive(Clone, Copy, Debug)]
struct Ids {
    arm: u16,
    cancel: u16,
    close: u16,
    fired: u16,
    cancel_complete: u16,
}

#[derive(Default)]
struct State {
    /// The armed timer and the arming it belongs to.
    armed: Option<(TimerId, u64)>,
    /// Incremented by every arm and cancel; a deadline of an older arming
    /// sends nothing.
    arming: u64,
    closed: bool,
    fired: u64,
    /// Replies decided, not yet delivered.
    outbox: Outbox,
}

/// Serves one `Timer` port of one driver.
pub struct TimerService {
    runtime: Runtime,
    ids: Ids,
    driver: OnceLock<Peer>,
    state: Mutex<State>,
}

impl TimerService {
    /// A service for a `Timer` protocol of `model` (named `protocol`,
    /// usually `"Timer"`), on `runtime`'s clock.
    pub fn new(
        runtime: &Runtime,
        model: &Model,
        protocol: &str,
    ) -> Result<Arc<TimerService>, String> {
        let p = model
            .protocol(protocol)
            .map(|id| model.proto(id))
            .ok_or_else(|| format!("the specs have no protocol `{protocol}`"))?;
        let id = |name: &str| -> Result<u16, String> {
            p.message(name)
                .map(|m| m.0 as u16)
                .ok_or_else(|| format!("`{protocol}` has no message `{name}`"))
        };
        Ok(Arc::new(TimerService {
            runtime: runtime.clone(),
            ids: Ids {
                arm: id("arm")?,
                cancel: id("cancel")?,
                close: id("close")?,
                fired: id("fired")?,
                cancel_complete: id("cancelComplete")?,
            },
            driver: OnceLock::new(),
            state: Mutex::new(State::default()),
        }))
    }

    /// The peer to connect the driver's timer port to.
    pub fn peer(self: &Arc<Self>) -> Peer {
        let me = self.clone();
        Arc::new(move |w: Wire| me.request(w))
    }

    /// Where replies go: the driver (`DriverHandle::as_peer`), once started.
    pub fn attach(&self, driver: Peer) {
        let _ = self.driver.set(driver);
    }

    /// How many times the timer fired.
    pub fn fired(&self) -> u64 {
        self.lock().fired
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        outbox::lock(&self.state)
    }

    /// Queues the reply to `request` (same port and path, from the provider).
    fn reply(&self, st: &mut State, request: &Wire, message: u16) {
        let mut w = *request;
        w.message = message;
        w.from_driver = false;
        w.nargs = 0;
        w.args = [0; dingo::wire::MAX_ARGS];
        st.outbox.push(w);
    }

    /// Delivers queued replies in order, outside the lock.
    fn flush<'a>(&'a self, st: MutexGuard<'a, State>) {
        outbox::flush(&self.state, st, |s| &mut s.outbox, self.driver.get());
    }

    fn request(self: &Arc<Self>, w: Wire) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        if w.message == self.ids.arm {
            let ms = w.args().first().copied().unwrap_or(0).max(0) as u64;
            st.arming += 1;
            let arming = st.arming;
            let me = self.clone();
            let id = self.runtime.timers().after(
                Duration::from_millis(ms),
                Box::new(move || {
                    let mut st = me.lock();
                    if st.armed.is_some_and(|(_, a)| a == arming) {
                        st.armed = None;
                        st.fired += 1;
                        me.reply(&mut st, &w, me.ids.fired);
                    }
                    me.flush(st);
                }),
            );
            st.armed = Some((id, arming));
        } else if w.message == self.ids.cancel {
            st.arming += 1;
            if let Some((id, _)) = st.armed.take() {
                self.runtime.timers().cancel(id);
            }
            self.reply(&mut st, &w, self.ids.cancel_complete);
        } else if w.message == self.ids.close {
            st.closed = true;
            if let Some((id, _)) = st.armed.take() {
                self.runtime.timers().cancel(id);
            }
        }
        self.flush(st);
    }
}
