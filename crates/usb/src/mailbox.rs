//! A mailbox from host threads to a driver's control task.
//!
//! The host controller finishes transfers on its own threads; a driver
//! must hear of them as events, through its request queue, and never have
//! its state touched by those threads. A [`Mailbox`] is the host-side
//! half of that: host threads [`Mailbox::push`] values; the driver's task
//! awaits them with [`Mailbox::poll_next`] (usually next to
//! `Io::recv`). A push wakes the task through the waker it registered,
//! and the runtime re-enters the task through the driver's request queue,
//! exactly as `Io::defer` returns a host call's result.
//!
//! Values come out in the order they went in. The mailbox locks
//! internally: it is host code, like the `UrbPool`.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct Inner<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
    closed: bool,
}

/// Values from host threads to one driver task, in order.
pub struct Mailbox<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Mailbox<T> {
        Mailbox::new()
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Mailbox<T> {
        Mailbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                waker: None,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Adds `value` and wakes the task waiting on the mailbox (outside the
    /// lock). After [`Mailbox::close`] values are dropped.
    pub fn push(&self, value: T) {
        let waker = {
            let mut g = self.lock();
            if g.closed {
                return;
            }
            g.items.push_back(value);
            g.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The oldest value, or `Pending` with the task's waker registered.
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut g = self.lock();
        match g.items.pop_front() {
            Some(v) => Poll::Ready(v),
            None => {
                g.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The oldest value, if any, without waiting.
    pub fn try_next(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    /// How many values wait.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no value waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses further values and drops those waiting (the driver ended).
    pub fn close(&self) {
        let mut g = self.lock();
        g.closed = true;
        g.items.clear();
        g.waker = None;
    }
}
