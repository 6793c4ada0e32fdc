//! The heartbeat driver end to end, against the timer service and its
//! observer: deterministic (reproducible from the seed) and on real time.

use dingo::Runtime;
use dingo_examples::demo;
use std::time::Duration;

#[test]
fn kicks_every_period_and_ends_cleanly_on_virtual_time() {
    let rt = Runtime::deterministic(42);
    let r = demo(&rt, 50, Duration::from_millis(500)).unwrap();
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert_eq!(r.kicks, (1..=10).map(|n| n * 50).collect::<Vec<u64>>());
    assert_eq!(r.fired, 10);
    assert!(r.ended, "every protocol terminated: the driver ended");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    for seed in [1, 7, 1234] {
        let a = demo(
            &Runtime::deterministic(seed),
            30,
            Duration::from_millis(200),
        )
        .unwrap();
        let b = demo(
            &Runtime::deterministic(seed),
            30,
            Duration::from_millis(200),
        )
        .unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn kicks_on_real_time() {
    let rt = Runtime::new();
    let r = demo(&rt, 5, Duration::from_millis(100)).unwrap();
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert!(r.kicks.len() >= 5, "{:?}", r.kicks);
    assert!(r.ended);
}

/// A broken heartbeat: it kicks the watchdog before the driver has
/// started. The observer blames the driver and (policy `Stop`) stops it.
#[test]
fn a_kick_before_start_is_a_driver_violation() {
    use dingo::{Driver, Io, Observe, Runtime};
    use dingo_examples::ports::heartbeat::{Event, Heartbeat as Component};
    use dingo_examples::ports::lifecycle::In as Lc;
    use std::sync::Arc;
    use tingu_observer::{Blame, Config, Policy};

    struct Eager;
    impl Driver for Eager {
        type Component = Component;
        type Shared = ();
        async fn run(self, mut io: Io<Component>, _: Arc<()>) {
            let early = io.ports.dog.kick();
            assert_eq!(early, Err(dingo::SendError::Stopped));
            io.recv(|e| matches!(e, Event::Lc(Lc::Start))).await;
        }
    }
    let rt = Runtime::deterministic(5);
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s = sent.clone();
    let d = rt
        .driver(Eager, ())
        .connect(
            "dog",
            Arc::new(move |_| {
                s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
        )
        .unwrap()
        .observe(Observe {
            enabled: true,
            config: Config {
                history: 8,
                policy: Policy::Stop,
            },
        })
        .start()
        .unwrap();
    rt.run_until_idle();
    let v = d.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].blame, Blame::Driver);
    assert_eq!(v[0].port, "dog");
    assert!(v[0].to_string().contains("!kick"), "{}", v[0]);
    assert_eq!(
        sent.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing reached the device"
    );
    assert!(d.is_stopped());
}
