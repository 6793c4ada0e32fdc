//! A runtime: the clock, the timer service, and the threads that run
//! handed-off drivers and deferred host calls. Real, or deterministic for
//! tests.
//!
//! ```text
//!   Runtime::new()              worker threads + a timer thread, real time
//!   Runtime::deterministic(s)   no threads: jobs wait in a list, and
//!                               run_until_idle() runs them one at a time
//!                               in an order drawn from seed s; time is
//!                               virtual and moves only by advance()
//! ```
//!
//! In deterministic mode a driver test is a function of its seed: the same
//! seed gives the same interleaving of drivers, deferred calls and timers.

use crate::dispatch::Executor;
use crate::time::{Time, Timers};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tingu_observer::VirtualClock;

type Job = Box<dyn FnOnce() + Send>;

/// Where jobs run.
enum Jobs {
    /// Worker threads fed by a channel.
    Threads(Mutex<Option<mpsc::Sender<Job>>>),
    /// A list drained by `run_until_idle`, in an order drawn from a seed.
    Deterministic(Mutex<(Vec<Job>, u64)>),
}

pub(crate) struct Inner {
    time: Time,
    timers: Arc<Timers>,
    jobs: Jobs,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Executor for Inner {
    fn execute(&self, job: Box<dyn FnOnce() + Send>) {
        match &self.jobs {
            Jobs::Threads(tx) => {
                let tx = match tx.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                // After shutdown the job is dropped: nothing runs any more.
                if let Some(tx) = tx.as_ref() {
                    let _ = tx.send(job);
                }
            }
            Jobs::Deterministic(list) => match list.lock() {
                Ok(mut g) => g.0.push(job),
                Err(p) => p.into_inner().0.push(job),
            },
        }
    }
}

/// The runtime drivers run in. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl Runtime {
    /// A runtime on real time with `workers` worker threads (at least 1)
    /// and a timer thread.
    pub fn with_workers(workers: usize) -> Runtime {
        let time = Time::Real(Instant::now());
        let timers = Timers::new(time.clone());
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for n in 0..workers.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("dingo-worker-{n}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(g) => g.recv(),
                            Err(p) => p.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Ok(h) = spawned {
                threads.push(h);
            }
        }
        let t = timers.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("dingo-timers".into())
            .spawn(move || t.run())
        {
            threads.push(h);
        }
        Runtime {
            inner: Arc::new(Inner {
                time,
                timers,
                jobs: Jobs::Threads(Mutex::new(Some(tx))),
                threads: Mutex::new(threads),
            }),
        }
    }

    /// A runtime on real time with two worker threads.
    pub fn new() -> Runtime {
        Runtime::with_workers(2)
    }

    /// A deterministic runtime: virtual time, no threads, jobs run by
    /// [`Runtime::run_until_idle`] in an order drawn from `seed`.
    pub fn deterministic(seed: u64) -> Runtime {
        let time = Time::Virtual(VirtualClock::new());
        Runtime {
            inner: Arc::new(Inner {
                timers: Timers::new(time.clone()),
                time,
                jobs: Jobs::Deterministic(Mutex::new((Vec::new(), seed | 1))),
                threads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Whether this runtime is deterministic.
    pub fn is_deterministic(&self) -> bool {
        matches!(self.inner.jobs, Jobs::Deterministic(_))
    }

    /// The clock.
    pub fn time(&self) -> &Time {
        &self.inner.time
    }

    /// The current time since the runtime started.
    pub fn now(&self) -> Duration {
        self.inner.time.now()
    }

    /// The timer service.
    pub fn timers(&self) -> &Arc<Timers> {
        &self.inner.timers
    }

    /// The executor drivers hand work to.
    pub(crate) fn executor(&self) -> Arc<dyn Executor> {
        self.inner.clone()
    }

    /// Runs `job` on a worker thread (deterministic: queues it).
    pub fn execute(&self, job: impl FnOnce() + Send + 'static) {
        self.inner.execute(Box::new(job));
    }

    /// Deterministic mode: runs queued jobs, one at a time, each picked at
    /// random (from the seed) among those waiting, until none is left.
    /// Returns how many ran. On a real runtime, returns 0.
    pub fn run_until_idle(&self) -> usize {
        let Jobs::Deterministic(list) = &self.inner.jobs else {
            return 0;
        };
        let mut ran = 0;
        loop {
            let job = {
                let mut g = match list.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                if g.0.is_empty() {
                    return ran;
                }
                // xorshift64*: the seed decides every pick.
                let mut x = g.1;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                g.1 = x;
                let pick = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % g.0.len() as u64) as usize;
                g.0.swap_remove(pick)
            };
            job();
            ran += 1;
        }
    }

    /// Deterministic mode: moves virtual time forward by `by`, running the
    /// timers due on the way (each at its deadline) and, after each, the
    /// jobs they caused. Returns how many timers fired. On a real runtime,
    /// does nothing and returns 0.
    pub fn advance(&self, by: Duration) -> usize {
        let Time::Virtual(_) = &self.inner.time else {
            return 0;
        };
        self.run_until_idle();
        let to = self.now().saturating_add(by);
        let mut fired = 0;
        loop {
            match self.inner.timers.next_deadline() {
                Some(at) if at <= to => {
                    fired += self.inner.timers.advance_to(at);
                    self.run_until_idle();
                }
                _ => break,
            }
        }
        self.inner.timers.advance_to(to);
        self.run_until_idle();
        fired
    }
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime::new()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Close the job channel and stop the timer thread; the threads end
        // once they see it (they hold no reference to the runtime).
        if let Jobs::Threads(tx) = &self.jobs
            && let Ok(mut g) = tx.lock()
        {
            g.take();
        }
        self.timers.shutdown();
        let threads = match self.threads.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        let me = std::thread::current().id();
        for t in threads {
            // A worker may drop the last reference itself; it cannot join itself.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}
