//! Example drivers for the Dingo runtime.
//!
//! [`Heartbeat`] is the whole API on one page: a driver that, once started
//! through its `Lifecycle` port, kicks a watchdog device every period,
//! paced by a `Timer` port it is the client of, and shuts down cleanly on
//! `stop` or `unplugged`. Its specs are `specs/heartbeat.tingu`; `build.rs`
//! generates the typed ports (module [`ports`]) and the compiled observer.
//! The driver code has no lock, no `RefCell` and no atomic: the runtime
//! delivers its messages one at a time.

pub mod figure8;

/// Generated from `specs/heartbeat.tingu` (and the library files it
/// imports): message enums, the `heartbeat` component's `Event` and
/// `Ports`, compiled observers.
pub mod ports {
    include!(concat!(env!("OUT_DIR"), "/heartbeat.rs"));
}

use dingo::{Driver, Io};
use ports::heartbeat::{Event, Heartbeat as Component};
use ports::lifecycle::In as Lc;
use ports::timer::Out as Timer;
use ports::watchdog::In as Dog;
use std::sync::Arc;

/// Kicks the watchdog every `period_ms` while started.
pub struct Heartbeat {
    /// Milliseconds between kicks.
    pub period_ms: u32,
}

impl Driver for Heartbeat {
    type Component = Component;
    type Shared = ();

    async fn run(self, mut io: Io<Component>, _: Arc<()>) {
        // AWAIT(start): everything else waits in the inbox.
        io.recv(|e| matches!(e, Event::Lc(Lc::Start))).await;
        if io.ports.lc.start_complete().is_err() {
            return; // the observer stopped us; nothing more to say
        }
        let _ = io.ports.timer.arm(self.period_ms);
        let mut barks = 0u32;
        // AWAIT(fired, bark, stop, unplugged), as in the paper's loops.
        loop {
            let event = io
                .recv(|e| {
                    matches!(
                        e,
                        Event::Timer(Timer::Fired)
                            | Event::Dog(Dog::Bark)
                            | Event::Lc(Lc::Stop | Lc::Unplugged)
                    )
                })
                .await;
            match event {
                Event::Timer(Timer::Fired) => {
                    let _ = io.ports.dog.kick();
                    let _ = io.ports.timer.arm(self.period_ms);
                }
                Event::Dog(Dog::Bark) => barks += 1,
                _ => break, // stop or unplugged
            }
        }
        // CALL: cancel the timer and wait for its answer; a `fired` that
        // crossed the cancel stays unread in the inbox.
        let _ = io
            .call(
                |p| p.timer.cancel(),
                |e| matches!(e, Event::Timer(Timer::CancelComplete)),
            )
            .await;
        let _ = io.ports.timer.close();
        let _ = barks; // a real driver would log them
        // The last message: every protocol terminates, and the runtime
        // drops this task.
        let _ = io.ports.lc.stop_complete();
        std::future::pending::<()>().await;
    }
}

/// What a run of the heartbeat demo saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// The watchdog kicks, with their times in milliseconds.
    pub kicks: Vec<u64>,
    /// Times the timer fired.
    pub fired: u64,
    /// Whether the driver ended (all its protocols terminated).
    pub ended: bool,
    /// The observer's violation reports, as text.
    pub violations: Vec<String>,
}

/// Runs the heartbeat driver on `runtime` for `run_for`: start, kick,
/// stop. On a deterministic runtime time is virtual and the run is a
/// function of the seed; on a real one it takes `run_for`.
pub fn demo(
    runtime: &dingo::Runtime,
    period_ms: u32,
    run_for: std::time::Duration,
) -> Result<Report, String> {
    use dingo::wire::{Component as _, Wire};
    use std::sync::Mutex;

    let model = Component::model();
    let timer = dingo_host::TimerService::new(runtime, &model, "Timer")?;
    let kicks: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (k, rt) = (kicks.clone(), runtime.clone());
    let dog: dingo::Peer = Arc::new(move |_w: Wire| {
        if let Ok(mut k) = k.lock() {
            k.push(rt.now().as_millis() as u64);
        }
    });
    let (end_tx, end_rx) = std::sync::mpsc::channel();
    let driver = runtime
        .driver(Heartbeat { period_ms }, ())
        .connect("lc", Arc::new(|_w: Wire| {}))?
        .connect("dog", dog)?
        .connect("timer", timer.peer())?
        .observe(dingo::Observe {
            enabled: true,
            config: tingu_observer::Config::default(),
        })
        .on_end(move || {
            let _ = end_tx.send(());
        })
        .start()?;
    timer.attach(driver.as_peer());
    let lc = |m: Lc| Event::Lc(m).wire();
    driver.deliver(lc(Lc::Start));
    if runtime.is_deterministic() {
        runtime.advance(run_for);
        driver.deliver(lc(Lc::Stop));
        runtime.advance(std::time::Duration::from_millis(u64::from(period_ms)));
    } else {
        std::thread::sleep(run_for);
        driver.deliver(lc(Lc::Stop));
        let _ = end_rx.recv_timeout(std::time::Duration::from_secs(5));
    }
    let kicks = kicks.lock().map(|k| k.clone()).unwrap_or_default();
    Ok(Report {
        kicks,
        fired: timer.fired(),
        ended: driver.has_ended(),
        violations: driver.violations().iter().map(|v| v.to_string()).collect(),
    })
}
