//! `dingo bench dispatch`: the cost of delivering one message to a driver
//! through its request queue, next to a direct call on `&mut` and a
//! `Mutex`-guarded call, measured in the same run.
//!
//! Cases: one thread (uncontended); 2 and 8 threads delivering at once
//! (contended: total time over total messages); a `concurrent` message in
//! hybrid mode, next to the same handler called directly and a bare atomic
//! increment.

use dingo::{Dispatcher, Handler, Mode};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A driver that counts: control messages add to its serial state, data
/// messages to a shared atomic.
struct Counter {
    total: u64,
}

impl Handler for Counter {
    type Control = u64;
    type Data = u64;
    type Shared = AtomicU64;

    #[inline]
    fn control(&mut self, _: &AtomicU64, m: u64) {
        self.total = self.total.wrapping_add(m);
    }

    #[inline]
    fn data(shared: &AtomicU64, m: u64) {
        shared.fetch_add(m, Ordering::Relaxed);
    }
}

/// Nanoseconds per iteration of `f` over `n` iterations.
fn per_op(n: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_secs_f64() * 1e9 / n as f64
}

/// Nanoseconds per message when `threads` threads each run `f` `n` times
/// at once (wall time over all messages).
fn contended(threads: usize, n: u64, f: Arc<dyn Fn(u64) + Send + Sync>) -> f64 {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (b, f) = (barrier.clone(), f.clone());
            std::thread::spawn(move || {
                b.wait();
                for i in 0..n {
                    f(i);
                }
                b.wait();
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    barrier.wait();
    let elapsed = start.elapsed();
    for h in handles {
        let _ = h.join();
    }
    elapsed.as_secs_f64() * 1e9 / (n * threads as u64) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One row: the project's cost and its baselines, medians over `runs`.
struct Row {
    case: &'static str,
    dingo: f64,
    direct: f64,
    mutex: f64,
}

/// Runs the benchmark.
pub fn run(messages: u64, runs: usize, json: bool) -> Result<ExitCode> {
    let runs = runs.max(1);
    let n = messages.max(1000);
    let mut rows = Vec::new();

    // Uncontended: one thread, control messages.
    let (mut d, mut direct, mut mutex) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let driver = Dispatcher::new(Counter { total: 0 }, AtomicU64::new(0), Mode::Serialised);
        d.push(per_op(n, |i| driver.control(black_box(i))));
        let mut plain = Counter { total: 0 };
        let shared = AtomicU64::new(0);
        direct.push(per_op(n, |i| {
            black_box(&mut plain).control(&shared, black_box(i))
        }));
        black_box(plain.total);
        let guarded = Mutex::new(Counter { total: 0 });
        mutex.push(per_op(n, |i| {
            if let Ok(mut g) = guarded.lock() {
                g.control(&shared, black_box(i));
            }
        }));
    }
    rows.push(Row {
        case: "uncontended",
        dingo: median(d),
        direct: median(direct),
        mutex: median(mutex),
    });

    // Contended by 2 and 8 threads.
    for threads in [2usize, 8] {
        let per_thread = (n / threads as u64).max(1000);
        let (mut d, mut mutex) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let driver = Dispatcher::new(Counter { total: 0 }, AtomicU64::new(0), Mode::Serialised);
            let f: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |i| driver.control(black_box(i)));
            d.push(contended(threads, per_thread, f));
            let guarded = Arc::new(Mutex::new(Counter { total: 0 }));
            let shared = Arc::new(AtomicU64::new(0));
            let f: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |i| {
                if let Ok(mut g) = guarded.lock() {
                    g.control(&shared, black_box(i));
                }
            });
            mutex.push(contended(threads, per_thread, f));
        }
        rows.push(Row {
            case: if threads == 2 {
                "contended, 2 threads"
            } else {
                "contended, 8 threads"
            },
            dingo: median(d),
            direct: f64::NAN,
            mutex: median(mutex),
        });
    }

    // Hybrid: a concurrent message, next to a direct call of its handler
    // and a bare atomic increment.
    let (mut d, mut direct, mut atomic) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let driver = Dispatcher::new(Counter { total: 0 }, AtomicU64::new(0), Mode::Hybrid);
        d.push(per_op(n, |i| driver.data(black_box(i))));
        let shared = AtomicU64::new(0);
        direct.push(per_op(n, |i| {
            Counter::data(black_box(&shared), black_box(i))
        }));
        let bare = AtomicU64::new(0);
        atomic.push(per_op(n, |i| {
            black_box(&bare).fetch_add(black_box(i), Ordering::Relaxed);
        }));
    }
    let atomic_ns = median(atomic);
    rows.push(Row {
        case: "hybrid concurrent message",
        dingo: median(d),
        direct: median(direct),
        mutex: f64::NAN,
    });

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!("dingo bench dispatch: {n} messages per case, median of {runs} runs, {cores} cores");
    outln!(
        "{:<28} {:>10} {:>12} {:>12} {:>10}",
        "case",
        "dingo ns",
        "direct ns",
        "Mutex ns",
        "vs Mutex"
    );
    let show = |x: f64| {
        if x.is_nan() {
            "-".to_string()
        } else {
            format!("{x:.1}")
        }
    };
    for r in &rows {
        outln!(
            "{:<28} {:>10} {:>12} {:>12} {:>10}",
            r.case,
            show(r.dingo),
            show(r.direct),
            show(r.mutex),
            show(r.dingo / r.mutex)
        );
    }
    let uncontended = &rows[0];
    let hybrid = &rows[3];
    let extra_atomics = (hybrid.dingo - hybrid.direct) / atomic_ns;
    outln!(
        "bare atomic increment: {atomic_ns:.1} ns; a concurrent message costs {:.1} ns more than a direct call = {extra_atomics:.1} atomic increments",
        hybrid.dingo - hybrid.direct
    );
    outln!(
        "targets: uncontended <= 30 ns ({}); concurrent message <= about 2 atomic operations more than a direct call ({})",
        if uncontended.dingo <= 30.0 {
            "met"
        } else {
            "MISSED"
        },
        if extra_atomics <= 2.5 {
            "met"
        } else {
            "MISSED"
        }
    );
    if json {
        let parts: Vec<String> = rows
            .iter()
            .map(|r| {
                let num = |x: f64| {
                    if x.is_nan() {
                        "null".to_string()
                    } else {
                        format!("{x:.2}")
                    }
                };
                format!(
                    "{{\"case\":\"{}\",\"dingo_ns\":{},\"direct_ns\":{},\"mutex_ns\":{},\"ratio_to_mutex\":{}}}",
                    r.case,
                    num(r.dingo),
                    num(r.direct),
                    num(r.mutex),
                    num(r.dingo / r.mutex)
                )
            })
            .collect();
        outln!(
            "{{\"bench\":\"dispatch\",\"cores\":{cores},\"messages\":{n},\"atomic_ns\":{atomic_ns:.2},\"concurrent_extra_atomics\":{extra_atomics:.2},\"cases\":[{}]}}",
            parts.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}
