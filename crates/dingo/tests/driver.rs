//! Drivers end to end: the control task, timers, the hybrid data path, the
//! observer on every port, and the end of a driver, in deterministic and
//! real runtimes.
#![cfg(not(loom))]

#[path = "common/blinker.rs"]
mod blinker;

use blinker::{Blinker, Event};
use dingo::wire::Wire;
use dingo::{Driver, Io, Mode, Observe, Peer, Runtime};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tingu_observer::{Blame, Config, Policy, ViolationKind};

/// Blinks the LED every `period` between `start` and `stop`; counts pokes
/// on the data path.
struct BlinkDriver {
    period: Duration,
}

impl Driver for BlinkDriver {
    type Component = Blinker;
    type Shared = Arc<AtomicU64>;
    const MODE: Mode = Mode::Hybrid;

    async fn run(self, mut io: Io<Blinker>, _pokes: Arc<Arc<AtomicU64>>) {
        io.recv(|e| *e == Event::Start).await;
        if io.ports.lc.started().is_err() {
            return;
        }
        loop {
            let _ = io.ports.led.on();
            if io
                .recv_timeout(|e| *e == Event::Stop, self.period)
                .await
                .is_some()
            {
                break;
            }
            let _ = io.ports.led.off();
            if io
                .recv_timeout(|e| *e == Event::Stop, self.period)
                .await
                .is_some()
            {
                break;
            }
        }
        let _ = io.ports.lc.stopped();
        // The protocols have terminated: the runtime drops this task at
        // its next await.
        std::future::pending::<()>().await;
    }

    fn data(pokes: &Arc<AtomicU64>, _ports: &blinker::Ports, event: Event) -> Option<Event> {
        match event {
            Event::Poke(n) => {
                pokes.fetch_add(u64::from(n), Ordering::Relaxed);
                None
            }
            other => Some(other),
        }
    }
}

type Log = Arc<Mutex<Vec<(u64, u16, u16)>>>;

/// A peer that logs (time in ms, port, message).
fn logger(rt: &Runtime, log: &Log) -> Peer {
    let (rt, log) = (rt.clone(), log.clone());
    Arc::new(move |w: Wire| {
        log.lock()
            .unwrap()
            .push((rt.now().as_millis() as u64, w.port, w.message))
    })
}

fn observe(policy: Policy) -> Observe {
    Observe {
        enabled: true,
        config: Config {
            history: 16,
            policy,
        },
    }
}

/// One run of the blinker in a deterministic runtime; returns the log.
fn deterministic_run(seed: u64) -> Vec<(u64, u16, u16)> {
    let rt = Runtime::deterministic(seed);
    let log: Log = Arc::default();
    let pokes = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let e = ended.clone();
    let d = rt
        .driver(
            BlinkDriver {
                period: Duration::from_millis(10),
            },
            pokes.clone(),
        )
        .connect("lc", logger(&rt, &log))
        .unwrap()
        .connect("led", logger(&rt, &log))
        .unwrap()
        .observe(observe(Policy::Stop))
        .on_end(move || {
            e.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    d.deliver(blinker::start());
    rt.advance(Duration::from_millis(35));
    for n in 1..=4 {
        d.deliver(blinker::poke(n));
    }
    rt.advance(Duration::from_millis(10));
    d.deliver(blinker::stop());
    rt.run_until_idle();
    assert!(d.has_ended(), "all protocols terminated: the driver ended");
    assert_eq!(ended.load(Ordering::SeqCst), 1);
    assert_eq!(pokes.load(Ordering::SeqCst), 10);
    assert!(d.violations().is_empty(), "{:?}", d.violations());
    assert_eq!(d.unhandled(), 0);
    // After the end, messages are refused.
    d.deliver(blinker::start());
    assert_eq!(d.rejected(), 1);
    log.lock().unwrap().clone()
}

#[test]
fn a_driver_blinks_on_virtual_time_and_ends_when_its_protocols_do() {
    use blinker::{OFF, ON, STARTED, STOPPED};
    let log = deterministic_run(7);
    assert_eq!(
        log,
        [
            (0, 0, STARTED),
            (0, 1, ON),
            (10, 1, OFF),
            (20, 1, ON),
            (30, 1, OFF),
            (40, 1, ON),
            (45, 0, STOPPED)
        ]
    );
}

#[test]
fn deterministic_runs_are_reproducible_from_their_seed() {
    for seed in [1, 2, 3, 99] {
        assert_eq!(deterministic_run(seed), deterministic_run(seed));
    }
}

/// Sends `started` twice: the observer blames the driver and stops it.
struct Twice;

impl Driver for Twice {
    type Component = Blinker;
    type Shared = ();

    async fn run(self, mut io: Io<Blinker>, _: Arc<()>) {
        io.recv(|e| *e == Event::Start).await;
        assert!(io.ports.lc.started().is_ok());
        let second = io.ports.lc.started();
        assert_eq!(second, Err(dingo::SendError::Stopped));
        std::future::pending::<()>().await;
    }
}

#[test]
fn a_driver_violation_is_reported_blamed_and_stops_the_driver() {
    let rt = Runtime::deterministic(1);
    let log: Log = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let d = rt
        .driver(Twice, ())
        .connect("lc", logger(&rt, &log))
        .unwrap()
        .observe(observe(Policy::Stop))
        .on_violation(move |v| s.lock().unwrap().push(v.to_string()))
        .start()
        .unwrap();
    d.deliver(blinker::start());
    rt.run_until_idle();
    assert!(d.is_stopped());
    let v = d.violations();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, ViolationKind::Illegal { blocked_by: None });
    assert_eq!(v[0].blame, Blame::Driver);
    assert_eq!(v[0].port, "lc");
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Only the legal `started` reached the host.
    assert_eq!(log.lock().unwrap().len(), 1);
    // A stopped driver refuses what comes next.
    d.deliver(blinker::stop());
    assert_eq!(d.rejected(), 1);
}

#[test]
fn an_environment_violation_is_blamed_on_the_environment() {
    let rt = Runtime::deterministic(1);
    let d = rt
        .driver(
            BlinkDriver {
                period: Duration::from_millis(10),
            },
            Arc::new(AtomicU64::new(0)),
        )
        .observe(observe(Policy::Continue))
        .start()
        .unwrap();
    // `stop` before `start`: the environment's fault.
    d.deliver(blinker::stop());
    rt.run_until_idle();
    let v = d.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].blame, Blame::Environment);
    assert!(!d.is_stopped(), "policy Continue keeps the driver going");
    // Unconnected ports: the driver's `started` cannot be sent, it gives up.
    d.deliver(blinker::start());
    rt.run_until_idle();
    assert!(d.has_ended(), "the task returned");
}

#[test]
fn timeouts_of_the_protocol_are_caught_on_virtual_time() {
    // A driver that never answers `start`: `starting [1s]` expires.
    struct Mute;
    impl Driver for Mute {
        type Component = Blinker;
        type Shared = ();
        async fn run(self, mut io: Io<Blinker>, _: Arc<()>) {
            io.recv(|e| *e == Event::Start).await;
            std::future::pending::<()>().await;
        }
    }
    let rt = Runtime::deterministic(3);
    let d = rt
        .driver(Mute, ())
        .observe(observe(Policy::Continue))
        .start()
        .unwrap();
    d.deliver(blinker::start());
    rt.advance(Duration::from_secs(2));
    // The observer checks timers on every event: poke it.
    d.deliver(blinker::poke(1));
    rt.run_until_idle();
    let v = d.violations();
    assert!(
        v.iter()
            .any(|v| matches!(v.kind, ViolationKind::Timeout { .. })),
        "{v:?}"
    );
}

#[test]
fn a_driver_runs_on_real_threads_and_time() {
    let rt = Runtime::new();
    let log: Log = Arc::default();
    let pokes = Arc::new(AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let d = rt
        .driver(
            BlinkDriver {
                period: Duration::from_millis(2),
            },
            pokes.clone(),
        )
        .connect("lc", logger(&rt, &log))
        .unwrap()
        .connect("led", logger(&rt, &log))
        .unwrap()
        .observe(observe(Policy::Stop))
        .on_end(move || {
            let _ = tx.send(());
        })
        .start()
        .unwrap();
    d.deliver(blinker::start());
    let pokers: Vec<_> = (0..4)
        .map(|_| {
            let d = d.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    d.deliver(blinker::poke(1));
                }
            })
        })
        .collect();
    for p in pokers {
        p.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    d.deliver(blinker::stop());
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the driver ended");
    assert_eq!(pokes.load(Ordering::SeqCst), 4000);
    assert!(d.violations().is_empty(), "{:?}", d.violations());
    let log = log.lock().unwrap();
    let ons = log.iter().filter(|l| l.2 == blinker::ON).count();
    assert!(ons >= 2, "the LED blinked: {log:?}");
}

/// Waits for `start`, runs a blocking host call on a worker (deferred),
/// and answers `started` only when it has returned.
struct Slow {
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl Driver for Slow {
    type Component = Blinker;
    type Shared = ();

    async fn run(self, mut io: Io<Blinker>, _: Arc<()>) {
        io.recv(|e| *e == Event::Start).await;
        let log = self.log.clone();
        let answer = io
            .defer(move || {
                // A host call that may block (here, briefly).
                std::thread::sleep(Duration::from_millis(1));
                log.lock().unwrap().push("blocking call done");
                42
            })
            .await;
        assert_eq!(answer, 42);
        self.log.lock().unwrap().push("resumed in the driver");
        let _ = io.ports.lc.started();
        std::future::pending::<()>().await;
    }
}

#[test]
fn a_deferred_host_call_runs_off_the_driver_and_resumes_it() {
    for rt in [Runtime::deterministic(11), Runtime::new()] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sent: Log = Arc::default();
        let d = rt
            .driver(Slow { log: log.clone() }, ())
            .connect("lc", logger(&rt, &sent))
            .unwrap()
            .observe(observe(Policy::Stop))
            .start()
            .unwrap();
        d.deliver(blinker::start());
        // Deterministic: the deferred job waits for run_until_idle; real:
        // a worker runs it.
        assert!(sent.lock().unwrap().is_empty() || !rt.is_deterministic());
        let start = std::time::Instant::now();
        while sent.lock().unwrap().is_empty() {
            rt.run_until_idle();
            assert!(start.elapsed() < Duration::from_secs(10), "never resumed");
            std::thread::yield_now();
        }
        assert_eq!(
            *log.lock().unwrap(),
            ["blocking call done", "resumed in the driver"]
        );
        assert_eq!(sent.lock().unwrap()[0].2, blinker::STARTED);
        assert!(d.violations().is_empty());
    }
}
