//! The request queue under real threads: a million messages from 8
//! threads, in both modes, with and without handing off to an executor.
//! Every message must arrive once, each sender's messages in order, and no
//! control handler may overlap another handler.
#![cfg(not(loom))]

#[path = "common/probe.rs"]
mod probe;

use dingo::{Dispatcher, Executor, Mode};
use probe::{Msg, Probe, Shared, check_control_order};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

/// Two worker threads fed by a channel.
struct Pool {
    tx: Mutex<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

impl Pool {
    fn new() -> (Arc<Pool>, Vec<thread::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || {
                    loop {
                        let job = rx.lock().unwrap().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        (Arc::new(Pool { tx: Mutex::new(tx) }), workers)
    }
}

impl Executor for Pool {
    fn execute(&self, job: Box<dyn FnOnce() + Send>) {
        self.tx.lock().unwrap().send(job).unwrap();
    }
}

/// Sends `per_thread` messages from each of `threads` threads, one in
/// `control_every` a control message, and checks everything.
fn stress(mode: Mode, threads: usize, per_thread: u64, control_every: u64, pool: bool) {
    let probe = Probe { seen: Vec::new() };
    let mut workers = Vec::new();
    let mut pool_handle = None;
    let d = if pool {
        let (p, w) = Pool::new();
        workers = w;
        pool_handle = Some(p.clone());
        Dispatcher::with_executor(probe, Shared::new(threads), mode, p, 16)
    } else {
        Dispatcher::new(probe, Shared::new(threads), mode)
    };
    let senders: Vec<_> = (0..threads)
        .map(|s| {
            let d = d.clone();
            thread::spawn(move || {
                let (mut control, mut data) = (0u64, 0u64);
                for n in 0..per_thread {
                    if n % control_every == 0 {
                        d.control((s, control));
                        control += 1;
                    } else {
                        d.data((s, data));
                        data += 1;
                    }
                }
                (control, data)
            })
        })
        .collect();
    let counts: Vec<(u64, u64)> = senders.into_iter().map(|h| h.join().unwrap()).collect();
    // Handed-off work finishes on the pool: wait for the driver to go idle.
    let start = std::time::Instant::now();
    while !d.is_idle() {
        assert!(start.elapsed().as_secs() < 60, "the driver never went idle");
        thread::yield_now();
    }
    assert_eq!(d.panics(), 0, "a handler panicked: {:?}", d.first_panic());
    let seen: Vec<Msg> = d.with_serial(|p| std::mem::take(&mut p.seen)).unwrap();
    let controls: Vec<u64> = counts.iter().map(|c| c.0).collect();
    check_control_order(&seen, &controls).unwrap();
    let sh = d.shared();
    assert_eq!(sh.overlaps.load(Ordering::SeqCst), 0, "handlers overlapped");
    assert_eq!(
        sh.out_of_order.load(Ordering::SeqCst),
        0,
        "data out of order"
    );
    let data: u64 = counts.iter().map(|c| c.1).sum();
    assert_eq!(sh.data_seen.load(Ordering::SeqCst), data);
    assert_eq!(d.panics(), 0);
    if mode == Mode::Serialised {
        assert_eq!(sh.max_data_running.load(Ordering::SeqCst), 1);
    }
    drop(pool_handle);
    drop(d);
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn a_million_messages_from_8_threads_hybrid() {
    stress(Mode::Hybrid, 8, 125_000, 4, false);
}

#[test]
fn a_million_messages_from_8_threads_serialised() {
    stress(Mode::Serialised, 8, 125_000, 4, false);
}

#[test]
fn handing_off_to_an_executor_loses_nothing() {
    stress(Mode::Hybrid, 4, 50_000, 3, true);
    stress(Mode::Serialised, 4, 50_000, 3, true);
}

#[test]
fn control_only_and_data_only() {
    stress(Mode::Hybrid, 4, 20_000, 1, false);
    stress(Mode::Hybrid, 4, 20_000, u64::MAX, false);
}

#[test]
fn hybrid_data_handlers_do_run_in_parallel() {
    // Data handlers that wait for each other can finish only if two run
    // at once.
    use std::sync::Barrier;
    struct Pair;
    impl dingo::Handler for Pair {
        type Control = ();
        type Data = ();
        type Shared = Barrier;
        fn control(&mut self, _: &Barrier, (): ()) {}
        fn data(b: &Barrier, (): ()) {
            b.wait();
        }
    }
    let d = Dispatcher::new(Pair, Barrier::new(2), Mode::Hybrid);
    let a = {
        let d = d.clone();
        thread::spawn(move || d.data(()))
    };
    d.data(());
    a.join().unwrap();
}

#[test]
fn a_handler_that_sends_to_its_own_driver_does_not_recurse() {
    // The handler delivers to itself: the message is queued and runs after
    // the current one returns, on the same thread, without recursion.
    struct Echo {
        me: Option<Dispatcher<Echo>>,
        depth: u32,
        log: Vec<(u32, u32)>,
    }
    impl dingo::Handler for Echo {
        type Control = u32;
        type Data = ();
        type Shared = ();
        fn control(&mut self, _: &(), n: u32) {
            self.depth += 1;
            self.log.push((n, self.depth));
            if n < 5
                && let Some(me) = &self.me
            {
                me.control(n + 1);
            }
            self.depth -= 1;
        }
        fn data(_: &(), (): ()) {}
    }
    let d = Dispatcher::new(
        Echo {
            me: None,
            depth: 0,
            log: Vec::new(),
        },
        (),
        Mode::Serialised,
    );
    d.with_serial(|e| e.me = Some(d.clone())).unwrap();
    d.control(0);
    let log = d
        .with_serial(|e| {
            e.me = None;
            e.log.clone()
        })
        .unwrap();
    assert_eq!(log, (0..=5).map(|n| (n, 1)).collect::<Vec<_>>());
}

#[test]
fn a_panicking_handler_is_caught_and_the_driver_goes_on() {
    struct Fragile(Vec<u32>);
    impl dingo::Handler for Fragile {
        type Control = u32;
        type Data = ();
        type Shared = ();
        fn control(&mut self, _: &(), n: u32) {
            assert!(n != 2, "message {n} is fatal");
            self.0.push(n);
        }
        fn data(_: &(), (): ()) {}
    }
    let d = Dispatcher::new(Fragile(Vec::new()), (), Mode::Serialised);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for n in 0..5 {
        d.control(n);
    }
    std::panic::set_hook(hook);
    assert_eq!(d.panics(), 1);
    assert_eq!(d.first_panic().unwrap(), "message 2 is fatal");
    assert_eq!(d.with_serial(|f| f.0.clone()).unwrap(), [0, 1, 3, 4]);
}
