//! Time for drivers: one clock per runtime, and a timer service that turns
//! deadlines into messages.
//!
//! ```text
//!   Timers::at(deadline, job) ──▶ heap of (deadline, sequence, job)
//!                                        │ clock reaches deadline
//!                                        ▼
//!   real clock: the timer thread runs the job   virtual clock: the test
//!   (jobs deliver messages to drivers, which     moves time with
//!    never block)                                Runtime::advance
//! ```
//!
//! Jobs with equal deadlines run in the order they were armed. A cancelled
//! timer's job is dropped without running.

use std::collections::{BinaryHeap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tingu_observer::{Clock, VirtualClock};

/// A runtime's clock: real, or virtual (moved only by the test).
#[derive(Clone, Debug)]
pub enum Time {
    /// Microseconds since the runtime started.
    Real(Instant),
    /// Moved by [`Runtime::advance`](crate::Runtime::advance).
    Virtual(VirtualClock),
}

impl Time {
    /// The current time since the start.
    pub fn now(&self) -> Duration {
        Duration::from_micros(self.now_us())
    }
}

impl Clock for Time {
    fn now_us(&self) -> u64 {
        match self {
            Time::Real(start) => start.elapsed().as_micros() as u64,
            Time::Virtual(v) => v.now_us(),
        }
    }
}

/// A job that runs when its timer expires.
pub type Job = Box<dyn FnOnce() + Send>;

/// Identifies an armed timer, to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

struct Entry {
    at: u64,
    id: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // The heap is a max-heap: the earliest deadline (then the earliest
    // armed) compares greatest.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.id).cmp(&(self.at, self.id))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Entry>,
    cancelled: HashSet<u64>,
    next_id: u64,
    shutdown: bool,
}

/// The timer service of a runtime.
pub struct Timers {
    time: Time,
    heap: Mutex<Heap>,
    changed: Condvar,
}

impl Timers {
    /// A timer service on `time`. For a real clock, [`Timers::run`] must
    /// run on a thread of its own (the runtime starts one).
    pub fn new(time: Time) -> Arc<Timers> {
        Arc::new(Timers {
            time,
            heap: Mutex::new(Heap::default()),
            changed: Condvar::new(),
        })
    }

    /// The clock.
    pub fn time(&self) -> &Time {
        &self.time
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, Heap> {
        match self.heap.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Runs `job` once the clock reaches `deadline` (time since the start).
    pub fn at(&self, deadline: Duration, job: Job) -> TimerId {
        let at = deadline.as_micros().min(u64::MAX as u128) as u64;
        let mut heap = self.heap();
        let id = heap.next_id;
        heap.next_id += 1;
        heap.entries.push(Entry { at, id, job });
        drop(heap);
        self.changed.notify_all();
        TimerId(id)
    }

    /// Runs `job` after `delay` from now.
    pub fn after(&self, delay: Duration, job: Job) -> TimerId {
        self.at(self.time.now().saturating_add(delay), job)
    }

    /// Cancels a timer; its job is dropped unrun. Cancelling a timer that
    /// already ran does nothing.
    pub fn cancel(&self, id: TimerId) {
        let mut heap = self.heap();
        if heap.entries.iter().any(|e| e.id == id.0) {
            heap.cancelled.insert(id.0);
        }
    }

    /// How many timers are armed (cancelled ones not counted).
    pub fn armed(&self) -> usize {
        let heap = self.heap();
        heap.entries.len() - heap.cancelled.len()
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<Duration> {
        let heap = self.heap();
        heap.entries
            .iter()
            .filter(|e| !heap.cancelled.contains(&e.id))
            .map(|e| e.at)
            .min()
            .map(Duration::from_micros)
    }

    /// Takes the next job due at or before `now_us`, if any.
    fn pop_due(&self, now_us: u64) -> Option<(u64, Job)> {
        let mut heap = self.heap();
        loop {
            let due = heap.entries.peek().is_some_and(|e| e.at <= now_us);
            if !due {
                return None;
            }
            let e = heap.entries.pop()?;
            if heap.cancelled.remove(&e.id) {
                continue;
            }
            return Some((e.at, e.job));
        }
    }

    /// Runs every job due by the clock's current time, in deadline order
    /// (a job may arm more timers; those due are run too). Returns how many
    /// ran.
    pub fn run_due(&self) -> usize {
        let mut n = 0;
        while let Some((_, job)) = self.pop_due(self.time.now_us()) {
            job();
            n += 1;
        }
        n
    }

    /// For a virtual clock: moves time forward to `to`, stopping at each
    /// deadline on the way to run its jobs, so jobs see the time they were
    /// due at. Returns how many jobs ran.
    pub fn advance_to(&self, to: Duration) -> usize {
        let Time::Virtual(clock) = &self.time else {
            return self.run_due();
        };
        let to = to.as_micros().min(u64::MAX as u128) as u64;
        let mut n = 0;
        loop {
            let next = {
                let heap = self.heap();
                heap.entries
                    .iter()
                    .filter(|e| !heap.cancelled.contains(&e.id))
                    .map(|e| e.at)
                    .min()
            };
            match next {
                Some(at) if at <= to => {
                    if at > clock.now_us() {
                        clock.set(at);
                    }
                    n += self.run_due();
                }
                _ => break,
            }
        }
        if to > clock.now_us() {
            clock.set(to);
        }
        n
    }

    /// The timer thread's loop (real clock): sleeps until the next
    /// deadline or a change, runs due jobs, until [`Timers::shutdown`].
    pub fn run(&self) {
        loop {
            self.run_due();
            let heap = self.heap();
            if heap.shutdown {
                return;
            }
            let now = self.time.now_us();
            let wait = heap
                .entries
                .peek()
                .map(|e| Duration::from_micros(e.at.saturating_sub(now)))
                .unwrap_or(Duration::from_millis(100));
            if wait.is_zero() {
                continue;
            }
            let _ = self.changed.wait_timeout(heap, wait);
        }
    }

    /// Stops [`Timers::run`].
    pub fn shutdown(&self) {
        self.heap().shutdown = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    type Log = Arc<Mutex<Vec<(u64, u32)>>>;

    fn log() -> (Log, impl Fn(u32, &Time) -> Job) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let make = move |n: u32, t: &Time| -> Job {
            let (l, t) = (l.clone(), t.clone());
            Box::new(move || l.lock().unwrap().push((t.now_us(), n)))
        };
        (log, make)
    }

    #[test]
    fn virtual_time_runs_jobs_in_deadline_order_at_their_deadline() {
        let t = Time::Virtual(VirtualClock::new());
        let timers = Timers::new(t.clone());
        let (log, job) = log();
        timers.at(Duration::from_millis(30), job(3, &t));
        timers.at(Duration::from_millis(10), job(1, &t));
        timers.at(Duration::from_millis(10), job(2, &t));
        let cancelled = timers.at(Duration::from_millis(20), job(99, &t));
        timers.cancel(cancelled);
        assert_eq!(timers.armed(), 3);
        assert_eq!(timers.advance_to(Duration::from_millis(25)), 2);
        assert_eq!(t.now(), Duration::from_millis(25));
        assert_eq!(timers.advance_to(Duration::from_secs(1)), 1);
        assert_eq!(
            *log.lock().unwrap(),
            [(10_000, 1), (10_000, 2), (30_000, 3)]
        );
        assert_eq!(timers.armed(), 0);
    }

    #[test]
    fn a_job_may_arm_another_that_is_due_at_once() {
        let t = Time::Virtual(VirtualClock::new());
        let timers = Timers::new(t.clone());
        let count = Arc::new(AtomicU64::new(0));
        let (tm, c) = (timers.clone(), count.clone());
        timers.after(
            Duration::from_millis(1),
            Box::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
                let c2 = c.clone();
                tm.after(
                    Duration::ZERO,
                    Box::new(move || {
                        c2.fetch_add(10, Ordering::SeqCst);
                    }),
                );
            }),
        );
        timers.advance_to(Duration::from_millis(1));
        assert_eq!(count.load(Ordering::SeqCst), 11);
    }

    #[test]
    fn the_real_clock_thread_fires_and_shuts_down() {
        let t = Time::Real(Instant::now());
        let timers = Timers::new(t.clone());
        let th = {
            let timers = timers.clone();
            std::thread::spawn(move || timers.run())
        };
        let (tx, rx) = std::sync::mpsc::channel();
        timers.after(
            Duration::from_millis(5),
            Box::new(move || tx.send(()).unwrap()),
        );
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the timer fired");
        timers.shutdown();
        th.join().unwrap();
    }
}
