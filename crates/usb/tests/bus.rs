//! The bus driver (component `usb_bus`) serving a client driver written
//! on the `asix` ports, over the fake loopback device, with observers on
//! both sides.

mod common;

use common::{BULK_IN, BULK_OUT, INTR_IN, Loopback, Rng};
use dingo::wire::{Component, Wire};
use dingo::{Driver, DriverHandle, Io, Observe, Peer, Runtime};
use spec_observers::asix::{Asix, Event};
use spec_observers::lifecycle::In as Lc;
use spec_observers::usb_bus::{Event as BusEvent, UsbBus};
use spec_observers::usb_interface_client::In as Iface;
use spec_observers::usb_pipe_client::In as PipeIn;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tingu_observer::{Blame, Config, Policy};
use usb::bus::{Binding, BusDriver, control_urb, errno};
use usb::device::{SetupPacket, request};
use usb::host::HostController;
use usb::urb::{UrbId, UrbPool};

/// Pipe keys of the client.
const CTL: i64 = 10;
const BOUT: i64 = 11;
const BIN: i64 = 12;
const INTR: i64 = 13;
const BIN2: i64 = 14;

#[derive(Clone, Copy, Debug)]
enum Script {
    /// Every feature once, no unplug.
    Full,
    /// Loopback rounds until the device goes; then close every pipe.
    /// `unplug`: the device goes (so every completion after `unplugged`
    /// is `-ENODEV`), rather than the bus unbinding the client.
    Traffic {
        rounds: usize,
        per_round: usize,
        unplug: bool,
    },
    /// Aborts a pipe, then transfers on it (a protocol violation).
    TransferAfterAbort,
    /// Suspends while a transfer is in flight (a protocol violation).
    SuspendWhileBusy,
}

#[derive(Debug, Default)]
struct Report {
    errors: Vec<String>,
    statuses: BTreeMap<i32, u32>,
    unplugged: bool,
    rounds: usize,
    in_bytes: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.errors.push(what.into());
        }
    }
}

struct Client {
    pool: UrbPool,
    script: Script,
    done: Sender<Report>,
}

fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + seed * 5 + 3) as u8).collect()
}

fn is_pipe_event(e: &Event) -> bool {
    matches!(e, Event::UsbPipeOpen { .. } | Event::Usb(Iface::Unplugged))
}

/// The next transfer completion on `pipe`.
async fn completion(io: &mut Io<Asix>, pipe: i64) -> (i64, i32) {
    let e = io
        .recv(move |e| {
            matches!(e, Event::UsbPipeOpen { keys: [k], event: PipeIn::TransferComplete { .. } } if *k == pipe)
        })
        .await;
    match e {
        Event::UsbPipeOpen {
            event: PipeIn::TransferComplete { urb, status },
            ..
        } => (urb, status),
        _ => (0, i32::MIN),
    }
}

/// Aborts `pipe` and collects what it had in flight: the statuses, then
/// `abortComplete` (checked to come last).
async fn abort(io: &mut Io<Asix>, r: &mut Report, pipe: i64, in_flight: usize) -> Vec<i32> {
    let _ = io.ports.usb.pipe_open_sub(pipe).abort();
    let mut statuses = Vec::new();
    loop {
        let e = io
            .recv(move |e| matches!(e, Event::UsbPipeOpen { keys: [k], .. } if *k == pipe))
            .await;
        match e {
            Event::UsbPipeOpen {
                event: PipeIn::TransferComplete { status, .. },
                ..
            } => statuses.push(status),
            _ => break,
        }
    }
    r.check(
        statuses.len() == in_flight,
        format!(
            "pipe {pipe}: {} completions before abortComplete, expected {in_flight}",
            statuses.len()
        ),
    );
    statuses
}

fn setup_in(request: u8, value: u16, index: u16, length: u16) -> SetupPacket {
    SetupPacket {
        request_type: 0xc0,
        request,
        value,
        index,
        length,
    }
}

async fn full(io: &mut Io<Asix>, pool: &UrbPool, r: &mut Report) {
    // Control: GET_DESCRIPTOR(DEVICE), SETUP in the URB's first 8 bytes.
    let get = SetupPacket {
        request_type: 0x80,
        request: request::GET_DESCRIPTOR,
        value: 0x0100,
        index: 0,
        length: 18,
    };
    let u = control_urb(pool, get, &[]).unwrap();
    let _ = io.ports.usb.pipe_open_sub(CTL).transfer(u.raw());
    let (urb, status) = completion(io, CTL).await;
    r.check(
        urb == u.raw() && status == 0,
        format!("GET_DESCRIPTOR: {status}"),
    );
    r.check(
        pool.read(u, 8, 18).ok() == Some(common::device_descriptor()),
        "device descriptor bytes",
    );
    r.check(
        pool.actual_length(u) == Ok(18),
        "actual length of a control IN",
    );
    // Vendor write, then read back.
    let regs = [0xde, 0xad, 0xbe, 0xef];
    let w = SetupPacket {
        request_type: 0x40,
        request: 0x10,
        value: 0,
        index: 40,
        length: 4,
    };
    let wu = control_urb(pool, w, &regs).unwrap();
    let _ = io.ports.usb.pipe_open_sub(CTL).transfer(wu.raw());
    r.check(completion(io, CTL).await.1 == 0, "vendor write");
    let ru = control_urb(pool, setup_in(0x11, 0, 40, 4), &[]).unwrap();
    let _ = io.ports.usb.pipe_open_sub(CTL).transfer(ru.raw());
    r.check(completion(io, CTL).await.1 == 0, "vendor read");
    r.check(
        pool.read(ru, 8, 4).ok() == Some(regs.to_vec()),
        "registers read back",
    );
    // An unknown request stalls: -EPIPE.
    let bad = control_urb(pool, setup_in(0x7e, 0, 0, 1), &[]).unwrap();
    let _ = io.ports.usb.pipe_open_sub(CTL).transfer(bad.raw());
    r.check(
        completion(io, CTL).await.1 == errno::EPIPE,
        "a stall is -EPIPE",
    );
    // Loopback: 8 IN transfers, then 8 OUT; data checked byte for byte.
    let ins: Vec<UrbId> = (0..8).map(|_| pool.alloc(256).unwrap()).collect();
    for u in &ins {
        let _ = io.ports.usb.pipe_open_sub(BIN).transfer(u.raw());
    }
    let mut outs = Vec::new();
    for i in 0..8 {
        let p = payload(i, 10 + i * 20);
        let u = pool.alloc(p.len()).unwrap();
        pool.fill(u, &p).unwrap();
        let _ = io.ports.usb.pipe_open_sub(BOUT).transfer(u.raw());
        outs.push(p);
    }
    let mut got_in = Vec::new();
    for _ in 0..16 {
        let e = io
            .recv(|e| {
                matches!(
                    e,
                    Event::UsbPipeOpen {
                        event: PipeIn::TransferComplete { .. },
                        ..
                    }
                )
            })
            .await;
        if let Event::UsbPipeOpen {
            keys: [k],
            event: PipeIn::TransferComplete { urb, status },
        } = e
        {
            r.check(status == 0, format!("loopback status {status}"));
            if k == BIN {
                got_in.push(urb);
            }
        }
    }
    r.check(
        got_in == ins.iter().map(|u| u.raw()).collect::<Vec<_>>(),
        "IN order",
    );
    for (u, p) in ins.iter().zip(&outs) {
        r.check(pool.actual_length(*u) == Ok(p.len()), "IN length");
        r.check(
            pool.read(*u, 0, p.len()).ok().as_ref() == Some(p),
            "IN bytes",
        );
        r.in_bytes += p.len();
    }
    // Interrupt IN: the test posted [0xa1, 0x2b] before starting.
    let iu = pool.alloc(8).unwrap();
    let _ = io.ports.usb.pipe_open_sub(INTR).transfer(iu.raw());
    r.check(completion(io, INTR).await.1 == 0, "interrupt");
    r.check(
        pool.read(iu, 0, 2).ok() == Some(vec![0xa1, 0x2b]),
        "interrupt bytes",
    );
    // Abort with three IN transfers waiting: -ENOENT each, then abortComplete.
    for _ in 0..3 {
        let u = pool.alloc(64).unwrap();
        let _ = io.ports.usb.pipe_open_sub(BIN).transfer(u.raw());
    }
    let st = abort(io, r, BIN, 3).await;
    r.check(
        st.iter().all(|&s| s == errno::ENOENT),
        format!("cancelled: {st:?}"),
    );
    // A new pipe to the same endpoint.
    let _ = io.ports.usb.pipe_open(BULK_IN, BIN2);
    // Suspend and resume.
    let _ = io
        .call(
            |p| p.usb.suspend(),
            |e| matches!(e, Event::Usb(Iface::SuspendComplete)),
        )
        .await;
    let _ = io
        .call(
            |p| p.usb.resume(),
            |e| matches!(e, Event::Usb(Iface::ResumeComplete)),
        )
        .await;
    // Alternate setting 1 lacks the interrupt endpoint.
    let alt =
        |s: i32| move |e: &Event| *e == Event::Usb(Iface::AltsettingSelectComplete { status: s });
    let ok = io
        .call(
            |p| p.usb.altsetting_select(1),
            |e| matches!(e, Event::Usb(Iface::AltsettingSelectComplete { .. })),
        )
        .await;
    r.check(
        ok == Ok(Event::Usb(Iface::AltsettingSelectComplete { status: 0 })),
        format!("alt 1: {ok:?}"),
    );
    let _ = io.ports.usb.pipe_open_sub(INTR).transfer(iu.raw());
    r.check(
        completion(io, INTR).await.1 == errno::EINVAL,
        "no endpoint in alt 1",
    );
    let bad = io
        .call(
            |p| p.usb.altsetting_select(7),
            |e| matches!(e, Event::Usb(Iface::AltsettingSelectComplete { .. })),
        )
        .await;
    r.check(
        bad == Ok(Event::Usb(Iface::AltsettingSelectComplete {
            status: errno::EPIPE,
        })),
        format!("alt 7: {bad:?}"),
    );
    let _ = io.call(|p| p.usb.altsetting_select(0), alt(0)).await;
    // Loopback on the new pipe.
    let u = pool.alloc(16).unwrap();
    let _ = io.ports.usb.pipe_open_sub(BIN2).transfer(u.raw());
    let o = pool.alloc(5).unwrap();
    pool.fill(o, b"again").unwrap();
    let _ = io.ports.usb.pipe_open_sub(BOUT).transfer(o.raw());
    r.check(completion(io, BOUT).await.1 == 0, "out again");
    r.check(completion(io, BIN2).await.1 == 0, "in again");
    r.check(
        pool.read(u, 0, 5).ok() == Some(b"again".to_vec()),
        "bytes again",
    );
    // Close every pipe.
    for pipe in [CTL, BOUT, BIN2, INTR] {
        abort(io, r, pipe, 0).await;
    }
}

async fn traffic(
    io: &mut Io<Asix>,
    pool: &UrbPool,
    r: &mut Report,
    (rounds, k, unplug): (usize, usize, bool),
) {
    // An interrupt transfer waits all along; it ends with the abort (or unplug).
    let iu = pool.alloc(8).unwrap();
    let _ = io.ports.usb.pipe_open_sub(INTR).transfer(iu.raw());
    let mut intr_in_flight = 1;
    'rounds: for round in 0..rounds {
        if r.unplugged {
            break;
        }
        let mut in_flight: HashMap<i64, Option<usize>> = HashMap::new();
        let mut expected = VecDeque::new();
        for i in 0..k {
            let u = pool.alloc(128).unwrap();
            let _ = io.ports.usb.pipe_open_sub(BIN).transfer(u.raw());
            in_flight.insert(u.raw(), Some(i));
        }
        for i in 0..k {
            let p = payload(round * k + i, 1 + (round + i) % 120);
            let u = pool.alloc(p.len()).unwrap();
            pool.fill(u, &p).unwrap();
            let _ = io.ports.usb.pipe_open_sub(BOUT).transfer(u.raw());
            in_flight.insert(u.raw(), None);
            expected.push_back(p);
        }
        while !in_flight.is_empty() {
            match io.recv(is_pipe_event).await {
                Event::Usb(Iface::Unplugged) => r.unplugged = true,
                Event::UsbPipeOpen {
                    keys: [pipe],
                    event: PipeIn::TransferComplete { urb, status },
                } => {
                    *r.statuses.entry(status).or_default() += 1;
                    if pipe == INTR {
                        intr_in_flight -= 1;
                        continue;
                    }
                    let Some(slot) = in_flight.remove(&urb) else {
                        r.check(false, format!("unknown urb {urb}"));
                        break 'rounds;
                    };
                    if r.unplugged && unplug {
                        r.check(status == errno::ENODEV, format!("after unplug: {status}"));
                    }
                    if !unplug {
                        r.check(
                            [0, errno::ENOENT, errno::ESHUTDOWN].contains(&status),
                            format!("unbinding: {status}"),
                        );
                    }
                    if let (Some(i), 0) = (slot, status) {
                        let p = &expected[i];
                        let u = UrbId(urb);
                        r.check(
                            pool.read(u, 0, p.len()).ok().as_ref() == Some(p),
                            "IN bytes",
                        );
                        r.in_bytes += p.len();
                    }
                    let _ = pool.free(UrbId(urb));
                }
                other => r.check(false, format!("unexpected {other:?}")),
            }
        }
        r.rounds += 1;
    }
    for (pipe, n) in [(CTL, 0), (BOUT, 0), (BIN, 0), (INTR, intr_in_flight)] {
        let st = abort(io, r, pipe, n).await;
        for s in st {
            *r.statuses.entry(s).or_default() += 1;
        }
    }
    if !r.unplugged {
        io.recv(|e| *e == Event::Usb(Iface::Unplugged)).await;
        r.unplugged = true;
    }
}

impl Driver for Client {
    type Component = Asix;
    type Shared = ();

    async fn run(self, mut io: Io<Asix>, _: Arc<()>) {
        io.recv(|e| *e == Event::Lc(Lc::Start)).await;
        let _ = io.ports.usb.pipe_open(0, CTL);
        let _ = io.ports.usb.pipe_open(BULK_OUT, BOUT);
        let _ = io.ports.usb.pipe_open(BULK_IN, BIN);
        let _ = io.ports.usb.pipe_open(INTR_IN, INTR);
        let _ = io.ports.lc.start_complete();
        let mut r = Report::default();
        match self.script {
            Script::Full => full(&mut io, &self.pool, &mut r).await,
            Script::Traffic {
                rounds,
                per_round,
                unplug,
            } => traffic(&mut io, &self.pool, &mut r, (rounds, per_round, unplug)).await,
            Script::TransferAfterAbort => {
                abort(&mut io, &mut r, BIN, 0).await;
                let u = self.pool.alloc(8).unwrap();
                let _ = io.ports.usb.pipe_open_sub(BIN).transfer(u.raw());
            }
            Script::SuspendWhileBusy => {
                let u = self.pool.alloc(8).unwrap();
                let _ = io.ports.usb.pipe_open_sub(BIN).transfer(u.raw());
                let _ = io.ports.usb.suspend();
            }
        }
        let _ = self.done.send(r);
        std::future::pending::<()>().await;
    }
}

struct Rig {
    _rt: Runtime,
    host: Arc<HostController>,
    dev: Arc<Loopback>,
    bus: DriverHandle<UsbBus>,
    client: DriverHandle<Asix>,
    report: Receiver<Report>,
    bus_lc: Arc<Mutex<Vec<Wire>>>,
}

fn observe(policy: Policy) -> Observe {
    Observe {
        enabled: true,
        config: Config {
            history: 32,
            policy,
        },
    }
}

fn rig(script: Script, client_policy: Policy, before_start: impl FnOnce(&Loopback)) -> Rig {
    let rt = Runtime::new();
    let pool = UrbPool::new();
    let host = Arc::new(HostController::new(pool.clone()));
    let dev = Loopback::new();
    host.attach(dev.clone()).unwrap();
    before_start(&dev);
    let bus_lc: Arc<Mutex<Vec<Wire>>> = Arc::default();
    let log = bus_lc.clone();
    let lc_peer: Peer = Arc::new(move |w| log.lock().unwrap().push(w));
    let sink: Peer = Arc::new(|_| {});
    let binding = Binding::new::<Asix>("usb").unwrap();
    let bus = rt
        .driver(BusDriver::new(host.clone()), ())
        .connect("lc", lc_peer)
        .unwrap()
        .connect("pm", sink.clone())
        .unwrap()
        .connect("client", binding.bus_peer())
        .unwrap()
        .observe(observe(Policy::Stop))
        .start()
        .unwrap();
    let (tx, report) = mpsc::channel();
    let client = rt
        .driver(
            Client {
                pool,
                script,
                done: tx,
            },
            (),
        )
        .connect("lc", sink.clone())
        .unwrap()
        .connect("pm", sink.clone())
        .unwrap()
        .connect("eth", sink.clone())
        .unwrap()
        .connect("timer", sink)
        .unwrap()
        .connect("usb", binding.client_peer(&bus).unwrap())
        .unwrap()
        .observe(observe(client_policy))
        .start()
        .unwrap();
    binding.attach_client(&client);
    bus.deliver(BusEvent::Lc(Lc::Start).wire());
    client.deliver(Event::Lc(Lc::Start).wire());
    Rig {
        _rt: rt,
        host,
        dev,
        bus,
        client,
        report,
        bus_lc,
    }
}

fn report(rig: &Rig) -> Report {
    rig.report
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("the client did not finish; pending {}", rig.host.pending()))
}

fn assert_clean(rig: &Rig) {
    let v = rig.bus.violations();
    assert!(v.is_empty(), "bus: {}", v[0]);
    let v = rig.client.violations();
    assert!(v.is_empty(), "client: {}", v[0]);
    assert_eq!(rig.bus.panics(), 0);
    assert_eq!(rig.client.panics(), 0);
    assert_eq!(rig.bus.rejected(), 0);
    assert!(rig.host.wait_idle(Duration::from_secs(5)));
    assert_eq!(rig.host.pending(), 0);
}

#[test]
fn a_client_uses_every_feature_of_the_bus_driver() {
    let rig = rig(Script::Full, Policy::Stop, |d| {
        d.post_interrupt(&[0xa1, 0x2b])
    });
    let r = report(&rig);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(r.in_bytes > 0);
    assert_clean(&rig);
    let start_complete = spec_observers::lifecycle::Out::StartComplete.message();
    assert_eq!(rig.bus_lc.lock().unwrap()[0].message, start_complete);
    // Every pipe is closed on both sides.
    let states = rig
        .bus
        .with_observer(|o| o.state_of(o.port("client").unwrap()))
        .flatten();
    assert_eq!(
        states.as_deref(),
        Some("USBInterfaceClient.attached.active")
    );
    assert!(!rig.dev.state().suspended);
}

#[test]
fn unplug_at_random_moments_under_traffic() {
    let mut rng = Rng(0xb05_2024);
    let mut mid_traffic = 0;
    for _ in 0..20 {
        let rig = rig(
            Script::Traffic {
                rounds: 40,
                per_round: 4,
                unplug: true,
            },
            Policy::Stop,
            |_| {},
        );
        let delay = Duration::from_micros(rng.below(15_000));
        std::thread::sleep(delay);
        rig.host.unplug();
        let r = report(&rig);
        if r.rounds < 40 {
            mid_traffic += 1;
        }
        assert!(r.errors.is_empty(), "{:#?}", r.errors);
        assert!(r.unplugged);
        assert_clean(&rig);
        // The client's interface port has ended, on both sides.
        let s = rig
            .bus
            .with_observer(|o| o.state_of(o.port("client").unwrap()))
            .flatten();
        assert_eq!(s.as_deref(), Some("USBInterfaceClient.detached"));
    }
    assert!(
        mid_traffic > 0,
        "some unplugs came in the middle of the traffic"
    );
}

#[test]
fn stopping_the_bus_unbinds_the_client() {
    let rig = rig(
        Script::Traffic {
            rounds: 1_000_000,
            per_round: 2,
            unplug: false,
        },
        Policy::Stop,
        |_| {},
    );
    std::thread::sleep(Duration::from_millis(5));
    rig.bus.deliver(BusEvent::Lc(Lc::Stop).wire());
    let r = report(&rig);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(r.unplugged);
    assert_clean(&rig);
    assert!(rig.host.is_present(), "unbinding leaves the device alone");
    // Stopped, interface detached, pipes closed: the bus driver has ended.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !rig.bus.has_ended() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stop_complete = spec_observers::lifecycle::Out::StopComplete.message();
    assert!(
        rig.bus_lc
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.message == stop_complete)
    );
    assert!(rig.bus.has_ended());
    assert!(r.statuses.contains_key(&0));
}

#[test]
fn a_transfer_after_abort_is_reported_by_the_bus_observer() {
    let rig = rig(Script::TransferAfterAbort, Policy::Continue, |_| {});
    let r = report(&rig);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.bus.violations().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let v = rig.bus.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].blame, Blame::Environment, "{}", v[0]);
    assert!(v[0].port.starts_with("client/pipeOpen:12"), "{}", v[0]);
    assert!(rig.bus.is_stopped());
    // The client's own observer saw it too, and let it pass (Continue).
    let c = rig.client.violations();
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].blame, Blame::Driver);
}

#[test]
fn a_suspend_with_a_transfer_in_flight_is_reported() {
    let rig = rig(Script::SuspendWhileBusy, Policy::Continue, |_| {});
    let r = report(&rig);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.bus.violations().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let v = rig.bus.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].blame, Blame::Environment, "{}", v[0]);
    assert_eq!(rig.client.violations().len(), 1);
}

#[test]
fn the_bus_wires_are_those_of_the_client_port_reversed() {
    // A pipe message of the client, crossed over, is a bus event on the
    // same pipe.
    let sent = Event::UsbPipeOpen {
        keys: [7],
        event: PipeIn::TransferComplete { urb: 3, status: 0 },
    };
    let seen: Arc<Mutex<Vec<Wire>>> = Arc::default();
    let s = seen.clone();
    let peer = usb::bus::crossover(Arc::new(move |w| s.lock().unwrap().push(w)), 3);
    // What the bus sends on its `client` port...
    let mut from_bus = sent.wire();
    from_bus.port = usb::bus::port_index::<UsbBus>("client").unwrap();
    from_bus.from_driver = true;
    peer(from_bus);
    // ... arrives as the client's event.
    let w = seen.lock().unwrap()[0];
    assert_eq!(Asix::event(&w), Some(sent));
}
