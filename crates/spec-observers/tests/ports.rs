//! The typed port interfaces that `tingu_build::compile_with_ports`
//! generates, checked against the checked model (`ir`), which is the
//! ground truth: every wire a test expects is built from the IR by the
//! names of ports, spawning messages and messages, never from the
//! generated code.
//!
//! - every message a driver sends, through `Ports`, makes the right wire;
//!   every message it receives converts from a wire into the expected
//!   typed event and back (by hand for each component, and for every
//!   message with boundary values of every parameter);
//! - legal traces from `random_walk` round-trip through the interfaces,
//!   and the wires they give pass an observer built from
//!   `Component::model()` and `Component::backend()` without a violation;
//! - bad wires give `None` (by hand, and a proptest over random wires
//!   against an oracle written over the IR);
//! - `is_concurrent` is true exactly for `concurrent` messages;
//! - `tests/ports/awkward.tingu` (keywords, prelude names, colliding names,
//!   three subport levels, eight parameters) generates names that are
//!   unique and code that works like the rest.

use dingo::wire::{Component, MAX_ARGS, MAX_DEPTH, SendError, Sender, Wire};
use proptest::prelude::*;
use spec_observers::types::PowerLevelT;
use spec_observers::{asix, mqnic_driver, usb_bus};
use spec_observers::{
    ethernet_controller as eth, lifecycle, multi_queue_nic as nic, power_management as pm, timer,
    usb_interface_client as usb, usb_pipe_client as pipe,
};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tingu::ir::{self, KindId, MessageId, Model, Type};
use tingu::syntax::ast::Direction;
use tingu_observer::generate::random_walk;
use tingu_observer::trace::{EventKind, Sigil, Value};
use tingu_observer::{Config, Observer, Verdict, VirtualClock};

/// Interfaces generated from `tests/ports/awkward.tingu` by `build.rs`.
#[allow(dead_code)] // a test binary uses part of them
mod awkward {
    include!(concat!(env!("OUT_DIR"), "/awkward.rs"));
}

// ---- the IR's view ------------------------------------------------------------

/// Whether the component receives the messages declared `dir` on `kind`.
fn receives(kind: &ir::PortKind, dir: Direction) -> bool {
    (dir == Direction::In) != kind.mirror
}

fn kind_named(c: &ir::Component, name: &str) -> KindId {
    let k = c.kinds.iter().position(|k| k.name == name);
    KindId(k.unwrap_or_else(|| panic!("component `{}` has no kind `{name}`", c.name)) as u32)
}

/// The declared port of a kind, and the spawning messages down to it,
/// outermost first.
fn route(c: &ir::Component, kind: KindId) -> (u16, Vec<u16>) {
    let mut spawners = Vec::new();
    let mut k = kind;
    while let Some((parent, m)) = c.kind(k).spawned_by {
        spawners.push(m.0 as u16);
        k = parent;
    }
    spawners.reverse();
    (k.0 as u16, spawners)
}

/// The wire of message `msg(args)` on subport `keys` of `kind`, from names.
fn wire_for(
    model: &Model,
    c: &ir::Component,
    kind: &str,
    keys: &[i64],
    msg: &str,
    args: &[i64],
    from_driver: bool,
) -> Wire {
    let k = kind_named(c, kind);
    let (port, spawners) = route(c, k);
    assert_eq!(spawners.len(), keys.len(), "{kind}: keys");
    let p = model.proto(c.kind(k).protocol);
    let m = p
        .message(msg)
        .unwrap_or_else(|| panic!("`{}` has no message `{msg}`", p.name));
    let mut w = Wire::new(port, m.0 as u16, from_driver).with_args(args);
    for (s, key) in spawners.iter().zip(keys) {
        w = w.under(*s, *key);
    }
    w
}

/// Every `(kind, message)` the component sends (`sends`) or receives.
fn messages_of(model: &Model, c: &ir::Component, sends: bool) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for kind in &c.kinds {
        for m in &model.proto(kind.protocol).messages {
            if receives(kind, m.direction) != sends {
                all.insert((kind.name.clone(), m.name.clone()));
            }
        }
    }
    all
}

/// Values that fit a parameter type (the first is the plainest), and
/// values that do not.
fn samples(model: &Model, ty: Type) -> (Vec<i64>, Vec<i64>) {
    match ty {
        Type::Bool => (vec![1, 0], vec![2, -1]),
        Type::Int(int) => {
            let (lo, hi) = int.range();
            let mut bad = Vec::new();
            if lo > i64::MIN {
                bad.push(lo - 1);
            }
            if hi < i64::MAX {
                bad.push(hi + 1);
            }
            if lo == 0 {
                bad.push(i64::MIN);
            }
            (vec![1.clamp(lo, hi), lo, hi], bad)
        }
        Type::Enum(e) => {
            let values: Vec<i64> = model.enums[e as usize]
                .variants
                .iter()
                .map(|(_, v)| *v)
                .collect();
            let hi = values.iter().max().copied().unwrap_or(0);
            let lo = values.iter().min().copied().unwrap_or(0);
            (values, vec![hi + 1, lo - 1, i64::MAX])
        }
        Type::Opaque(_) | Type::Port(_) => (vec![0x1000, i64::MIN, i64::MAX, -1], vec![]),
    }
}

/// The IR's verdict on a wire: the kind and message it names if it is one
/// the component receives, and whether its arguments fit.
fn oracle(model: &Model, c: &ir::Component, w: &Wire) -> Option<(KindId, MessageId, bool)> {
    if w.from_driver || usize::from(w.depth) > MAX_DEPTH || usize::from(w.nargs) > MAX_ARGS {
        return None;
    }
    if usize::from(w.port) >= c.port_count {
        return None;
    }
    let mut k = KindId(u32::from(w.port));
    for &(s, _) in w.path() {
        let child = c
            .kinds
            .iter()
            .position(|x| x.spawned_by == Some((k, MessageId(u32::from(s)))))?;
        k = KindId(child as u32);
    }
    let p = model.proto(c.kind(k).protocol);
    let msg = p.messages.get(usize::from(w.message))?;
    if !receives(c.kind(k), msg.direction) {
        return None;
    }
    let fits = w.args().len() == msg.params.len()
        && w.args().iter().zip(&msg.params).all(|(&v, x)| match x.ty {
            Type::Bool => v == 0 || v == 1,
            Type::Int(int) => (int.range().0..=int.range().1).contains(&v),
            Type::Enum(e) => model.enums[e as usize]
                .variants
                .iter()
                .any(|(_, x)| *x == v),
            Type::Opaque(_) | Type::Port(_) => true,
        });
    Some((k, MessageId(u32::from(w.message)), fits))
}

/// The parts of a wire that carry meaning (not the unused slots).
fn parts(w: &Wire) -> (u16, Vec<(u16, i64)>, u16, bool, Vec<i64>) {
    (
        w.port,
        w.path().to_vec(),
        w.message,
        w.from_driver,
        w.args().to_vec(),
    )
}

// ---- capture and per-component checks -------------------------------------

/// A sender that keeps what it is given.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Wire>>>);

impl Capture {
    fn sender(&self) -> Sender {
        let log = self.0.clone();
        Sender::new(move |w| {
            log.lock().unwrap().push(w);
            Ok(())
        })
    }

    fn take(&self) -> Vec<Wire> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Sends message `message(args)` on the subport `keys` of `kind` through
/// the component's typed handles (the typed message from `from_parts`).
type SendFn<C> = fn(&<C as Component>::Ports, &str, &[i64], u16, &[i64]) -> Result<(), SendError>;
/// The generated `Event::wire`.
type WireFn<C> = fn(&<C as Component>::Event) -> Wire;

/// Hand-written checks of one component, recording which messages they
/// covered.
struct Check<C: Component> {
    model: Arc<Model>,
    capture: Capture,
    to_wire: WireFn<C>,
    sent: BTreeSet<(String, String)>,
    received: BTreeSet<(String, String)>,
}

impl<C: Component> Check<C>
where
    C::Event: PartialEq + Clone,
{
    fn new(to_wire: WireFn<C>) -> (Check<C>, C::Ports) {
        let capture = Capture::default();
        let ports = C::ports(capture.sender());
        let check = Check {
            model: C::model(),
            capture,
            to_wire,
            sent: BTreeSet::new(),
            received: BTreeSet::new(),
        };
        (check, ports)
    }

    fn comp(&self) -> &ir::Component {
        self.model.component(C::NAME).expect("the component")
    }

    /// The call sent exactly the wire of `msg(args)` on `kind`, a message
    /// the spec lets the driver send there.
    fn sent(
        &mut self,
        r: Result<(), SendError>,
        kind: &str,
        keys: &[i64],
        msg: &str,
        args: &[i64],
    ) {
        r.unwrap();
        let c = self.comp();
        let want = wire_for(&self.model, c, kind, keys, msg, args, true);
        let k = c.kind(kind_named(c, kind));
        let m = &self.model.proto(k.protocol).messages[usize::from(want.message)];
        assert!(
            !receives(k, m.direction),
            "{}: the driver receives {kind}.{msg}",
            C::NAME
        );
        assert_eq!(self.capture.take(), vec![want], "{}: {kind}.{msg}", C::NAME);
        let first = self.sent.insert((kind.into(), msg.into()));
        assert!(first, "{kind}.{msg} checked twice");
    }

    /// The wire of `msg(args)` on `kind` is `event`, and `event` is that
    /// wire; sent by the driver, it is no event.
    fn received(&mut self, kind: &str, keys: &[i64], msg: &str, args: &[i64], event: C::Event) {
        let c = self.comp();
        let w = wire_for(&self.model, c, kind, keys, msg, args, false);
        assert_eq!(
            C::event(&w),
            Some(event.clone()),
            "{}: {kind}.{msg}",
            C::NAME
        );
        assert_eq!((self.to_wire)(&event), w, "{}: {kind}.{msg}", C::NAME);
        let sent = Wire {
            from_driver: true,
            ..w
        };
        assert_eq!(C::event(&sent), None, "{}: {kind}.{msg} sent", C::NAME);
        let first = self.received.insert((kind.into(), msg.into()));
        assert!(first, "{kind}.{msg} checked twice");
    }

    /// Every message of the component was checked.
    fn complete(&self) {
        assert_eq!(self.sent, messages_of(&self.model, self.comp(), true));
        assert_eq!(self.received, messages_of(&self.model, self.comp(), false));
    }
}

// ---- every message, by hand ----------------------------------------------------

#[test]
fn asix_sends_and_receives_every_message_of_its_spec_by_hand() {
    use asix::Event as E;
    let (mut t, p) = Check::<asix::Asix>::new(asix::Event::wire);
    t.sent(p.lc.start_complete(), "lc", &[], "startComplete", &[]);
    t.sent(p.lc.start_failed(-19), "lc", &[], "startFailed", &[-19]);
    t.sent(p.lc.stop_complete(), "lc", &[], "stopComplete", &[]);
    t.sent(p.pm.sleep_complete(), "pm", &[], "sleepComplete", &[]);
    t.sent(p.pm.wakeup_complete(), "pm", &[], "wakeupComplete", &[]);
    t.sent(p.eth.enable_complete(), "eth", &[], "enableComplete", &[]);
    let min = i64::from(i32::MIN);
    t.sent(
        p.eth.enable_failed(i32::MIN),
        "eth",
        &[],
        "enableFailed",
        &[min],
    );
    t.sent(p.eth.disable_complete(), "eth", &[], "disableComplete", &[]);
    t.sent(
        p.eth.tx_packet_done(0x1000),
        "eth",
        &[],
        "txPacketDone",
        &[0x1000],
    );
    t.sent(
        p.eth.tx_packet_abort(-1),
        "eth",
        &[],
        "txPacketAbort",
        &[-1],
    );
    t.sent(p.eth.tx_stop_queue(), "eth", &[], "txStopQueue", &[]);
    t.sent(p.eth.tx_start_queue(), "eth", &[], "txStartQueue", &[]);
    t.sent(
        p.eth.rx_packet(i64::MAX),
        "eth",
        &[],
        "rxPacket",
        &[i64::MAX],
    );
    let max = i64::from(u32::MAX);
    t.sent(p.eth.link_up(u32::MAX), "eth", &[], "linkUp", &[max]);
    t.sent(p.eth.link_down(), "eth", &[], "linkDown", &[]);
    let r = p.eth.set_multicast_complete();
    t.sent(r, "eth", &[], "setMulticastComplete", &[]);
    let r = p.eth.stats_complete(i64::MAX as u64, 0);
    t.sent(r, "eth", &[], "statsComplete", &[i64::MAX, 0]);
    t.sent(p.usb.pipe_open(0x81, 7), "usb", &[], "pipeOpen", &[0x81, 7]);
    t.sent(
        p.usb.altsetting_select(255),
        "usb",
        &[],
        "altsettingSelect",
        &[255],
    );
    t.sent(p.usb.suspend(), "usb", &[], "suspend", &[]);
    t.sent(p.usb.resume(), "usb", &[], "resume", &[]);
    // `timer` is mirrored: the driver sends the `in` messages.
    t.sent(p.timer.arm(150), "timer", &[], "arm", &[150]);
    t.sent(p.timer.cancel(), "timer", &[], "cancel", &[]);
    t.sent(p.timer.close(), "timer", &[], "close", &[]);
    let pipe7 = p.usb.pipe_open_sub(7);
    assert_eq!(pipe7.keys(), [7]);
    let r = pipe7.transfer(0x2000);
    t.sent(r, "usb.pipeOpen", &[7], "transfer", &[0x2000]);
    let r = p.usb.pipe_open_sub(i64::MIN).abort();
    t.sent(r, "usb.pipeOpen", &[i64::MIN], "abort", &[]);

    t.received("lc", &[], "start", &[], E::Lc(lifecycle::In::Start));
    t.received("lc", &[], "stop", &[], E::Lc(lifecycle::In::Stop));
    t.received("lc", &[], "unplugged", &[], E::Lc(lifecycle::In::Unplugged));
    let e = E::Pm(pm::In::Sleep {
        level: PowerLevelT::D2,
    });
    t.received("pm", &[], "sleep", &[2], e);
    t.received("pm", &[], "wakeup", &[], E::Pm(pm::In::Wakeup));
    t.received("eth", &[], "enable", &[], E::Eth(eth::In::Enable));
    t.received("eth", &[], "disable", &[], E::Eth(eth::In::Disable));
    let e = E::Eth(eth::In::TxPacket { packet: 0x1000 });
    t.received("eth", &[], "txPacket", &[0x1000], e);
    let e = E::Eth(eth::In::SetMulticast { count: u32::MAX });
    t.received("eth", &[], "setMulticast", &[max], e);
    t.received("eth", &[], "getStats", &[], E::Eth(eth::In::GetStats));
    let e = E::Usb(usb::In::AltsettingSelectComplete { status: -19 });
    t.received("usb", &[], "altsettingSelectComplete", &[-19], e);
    let e = E::Usb(usb::In::SuspendComplete);
    t.received("usb", &[], "suspendComplete", &[], e);
    let e = E::Usb(usb::In::ResumeComplete);
    t.received("usb", &[], "resumeComplete", &[], e);
    t.received("usb", &[], "unplugged", &[], E::Usb(usb::In::Unplugged));
    // `timer` is mirrored: the driver receives the `out` messages.
    t.received("timer", &[], "fired", &[], E::Timer(timer::Out::Fired));
    let e = E::Timer(timer::Out::CancelComplete);
    t.received("timer", &[], "cancelComplete", &[], e);
    let e = E::UsbPipeOpen {
        keys: [7],
        event: pipe::In::TransferComplete {
            urb: 0x2000,
            status: -71,
        },
    };
    t.received("usb.pipeOpen", &[7], "transferComplete", &[0x2000, -71], e);
    let e = E::UsbPipeOpen {
        keys: [-1],
        event: pipe::In::AbortComplete,
    };
    t.received("usb.pipeOpen", &[-1], "abortComplete", &[], e);
    t.complete();
}

#[test]
fn mqnic_driver_sends_and_receives_every_message_of_its_spec_by_hand() {
    use mqnic_driver::Event as E;
    let (mut t, p) = Check::<mqnic_driver::MqnicDriver>::new(mqnic_driver::Event::wire);
    t.sent(p.lc.start_complete(), "lc", &[], "startComplete", &[]);
    t.sent(p.lc.start_failed(-5), "lc", &[], "startFailed", &[-5]);
    t.sent(p.lc.stop_complete(), "lc", &[], "stopComplete", &[]);
    t.sent(p.pm.sleep_complete(), "pm", &[], "sleepComplete", &[]);
    t.sent(p.pm.wakeup_complete(), "pm", &[], "wakeupComplete", &[]);
    t.sent(p.nic.open_complete(0), "nic", &[], "openComplete", &[0]);
    t.sent(p.nic.close_complete(), "nic", &[], "closeComplete", &[]);
    let r = p.nic.send_complete(63, 0x1000, -5);
    t.sent(r, "nic", &[], "sendComplete", &[63, 0x1000, -5]);
    let r = p.nic.recv_complete(2, 0x2000, 1500, 0);
    t.sent(r, "nic", &[], "recvComplete", &[2, 0x2000, 1500, 0]);

    t.received("lc", &[], "start", &[], E::Lc(lifecycle::In::Start));
    t.received("lc", &[], "stop", &[], E::Lc(lifecycle::In::Stop));
    t.received("lc", &[], "unplugged", &[], E::Lc(lifecycle::In::Unplugged));
    let e = E::Pm(pm::In::Sleep {
        level: PowerLevelT::D3,
    });
    t.received("pm", &[], "sleep", &[3], e);
    t.received("pm", &[], "wakeup", &[], E::Pm(pm::In::Wakeup));
    t.received(
        "nic",
        &[],
        "open",
        &[4],
        E::Nic(nic::In::Open { queues: 4 }),
    );
    t.received("nic", &[], "close", &[], E::Nic(nic::In::Close));
    let e = E::Nic(nic::In::PostSend {
        queue: 3,
        packet: 0x3000,
    });
    t.received("nic", &[], "postSend", &[3, 0x3000], e);
    let e = E::Nic(nic::In::PostRecv {
        queue: 0,
        buffer: 0x4000,
    });
    t.received("nic", &[], "postRecv", &[0, 0x4000], e);
    t.complete();
}

#[test]
fn usb_bus_sends_and_receives_every_message_of_its_spec_by_hand() {
    use usb_bus::Event as E;
    let (mut t, p) = Check::<usb_bus::UsbBus>::new(usb_bus::Event::wire);
    t.sent(p.lc.start_complete(), "lc", &[], "startComplete", &[]);
    t.sent(p.lc.start_failed(0), "lc", &[], "startFailed", &[0]);
    t.sent(p.lc.stop_complete(), "lc", &[], "stopComplete", &[]);
    t.sent(p.pm.sleep_complete(), "pm", &[], "sleepComplete", &[]);
    t.sent(p.pm.wakeup_complete(), "pm", &[], "wakeupComplete", &[]);
    // `client` is mirrored, and so are its pipes: the bus sends the `in`
    // messages and receives the `out` ones.
    let r = p.client.altsetting_select_complete(-22);
    t.sent(r, "client", &[], "altsettingSelectComplete", &[-22]);
    let r = p.client.suspend_complete();
    t.sent(r, "client", &[], "suspendComplete", &[]);
    t.sent(
        p.client.resume_complete(),
        "client",
        &[],
        "resumeComplete",
        &[],
    );
    t.sent(p.client.unplugged(), "client", &[], "unplugged", &[]);
    let r = p.client.pipe_open_sub(9).transfer_complete(0x1000, -108);
    t.sent(
        r,
        "client.pipeOpen",
        &[9],
        "transferComplete",
        &[0x1000, -108],
    );
    let r = p.client.pipe_open_sub(0).abort_complete();
    t.sent(r, "client.pipeOpen", &[0], "abortComplete", &[]);

    t.received("lc", &[], "start", &[], E::Lc(lifecycle::In::Start));
    t.received("lc", &[], "stop", &[], E::Lc(lifecycle::In::Stop));
    t.received("lc", &[], "unplugged", &[], E::Lc(lifecycle::In::Unplugged));
    let e = E::Pm(pm::In::Sleep {
        level: PowerLevelT::D1,
    });
    t.received("pm", &[], "sleep", &[1], e);
    t.received("pm", &[], "wakeup", &[], E::Pm(pm::In::Wakeup));
    let e = E::Client(usb::Out::PipeOpen {
        endpoint: 0x81,
        pipe: 9,
    });
    t.received("client", &[], "pipeOpen", &[0x81, 9], e);
    let e = E::Client(usb::Out::AltsettingSelect { setting: 0 });
    t.received("client", &[], "altsettingSelect", &[0], e);
    t.received("client", &[], "suspend", &[], E::Client(usb::Out::Suspend));
    t.received("client", &[], "resume", &[], E::Client(usb::Out::Resume));
    let e = E::ClientPipeOpen {
        keys: [9],
        event: pipe::Out::Transfer { urb: 0x5000 },
    };
    t.received("client.pipeOpen", &[9], "transfer", &[0x5000], e);
    let e = E::ClientPipeOpen {
        keys: [9],
        event: pipe::Out::Abort,
    };
    t.received("client.pipeOpen", &[9], "abort", &[], e);
    t.complete();
}

#[test]
fn typed_send_is_the_same_as_the_named_method() {
    let capture = Capture::default();
    let ports = <asix::Asix as Component>::ports(capture.sender());
    ports.eth.link_up(100).unwrap();
    ports
        .eth
        .send(eth::Out::LinkUp { speed_mbps: 100 })
        .unwrap();
    ports.usb.pipe_open_sub(3).transfer(5).unwrap();
    ports
        .usb
        .pipe_open_sub(3)
        .send(pipe::Out::Transfer { urb: 5 })
        .unwrap();
    let w = capture.take();
    assert_eq!(w.len(), 4);
    assert_eq!(w[0], w[1]);
    assert_eq!(w[2], w[3]);
}

#[test]
fn send_errors_reach_the_caller() {
    let ports = <asix::Asix as Component>::ports(Sender::new(|_| Err(SendError::Stopped)));
    assert_eq!(ports.lc.start_complete(), Err(SendError::Stopped));
    let ports = <asix::Asix as Component>::ports(Sender::new(|_| Err(SendError::Unconnected)));
    assert_eq!(
        ports.usb.pipe_open_sub(1).abort(),
        Err(SendError::Unconnected)
    );
}

// ---- every message, with boundary values -----------------------------------------

fn asix_send(p: &asix::Ports, kind: &str, k: &[i64], m: u16, a: &[i64]) -> Result<(), SendError> {
    match kind {
        "lc" => p.lc.send(lifecycle::Out::from_parts(m, a).unwrap()),
        "pm" => p.pm.send(pm::Out::from_parts(m, a).unwrap()),
        "eth" => p.eth.send(eth::Out::from_parts(m, a).unwrap()),
        "usb" => p.usb.send(usb::Out::from_parts(m, a).unwrap()),
        "timer" => p.timer.send(timer::In::from_parts(m, a).unwrap()),
        "usb.pipeOpen" => p
            .usb
            .pipe_open_sub(k[0])
            .send(pipe::Out::from_parts(m, a).unwrap()),
        _ => panic!("asix has no `{kind}`"),
    }
}

fn mqnic_send(
    p: &mqnic_driver::Ports,
    kind: &str,
    _: &[i64],
    m: u16,
    a: &[i64],
) -> Result<(), SendError> {
    match kind {
        "lc" => p.lc.send(lifecycle::Out::from_parts(m, a).unwrap()),
        "pm" => p.pm.send(pm::Out::from_parts(m, a).unwrap()),
        "nic" => p.nic.send(nic::Out::from_parts(m, a).unwrap()),
        _ => panic!("mqnic_driver has no `{kind}`"),
    }
}

fn usb_bus_send(
    p: &usb_bus::Ports,
    kind: &str,
    k: &[i64],
    m: u16,
    a: &[i64],
) -> Result<(), SendError> {
    match kind {
        "lc" => p.lc.send(lifecycle::Out::from_parts(m, a).unwrap()),
        "pm" => p.pm.send(pm::Out::from_parts(m, a).unwrap()),
        "client" => p.client.send(usb::In::from_parts(m, a).unwrap()),
        "client.pipeOpen" => p
            .client
            .pipe_open_sub(k[0])
            .send(pipe::In::from_parts(m, a).unwrap()),
        _ => panic!("usb_bus has no `{kind}`"),
    }
}

fn awkward_send(
    p: &awkward::event::Ports,
    kind: &str,
    k: &[i64],
    m: u16,
    a: &[i64],
) -> Result<(), SendError> {
    use awkward::*;
    match kind {
        "self" => p.self_.send(root::Out::from_parts(m, a).unwrap()),
        "lc" => p.lc.send(root::In::from_parts(m, a).unwrap()),
        // `Silent`, `fooBar` and `types` have no `out` message: their
        // `Out` is empty, so the driver has nothing to send there.
        "Lc" | "selfOpen" | "f1" | "t" => unreachable!("nothing to send on `{kind}`"),
        "f2" => p.f2.send(foo_bar_2::Out::from_parts(m, a).unwrap()),
        "u" => p.u.send(u8_2::Out::from_parts(m, a).unwrap()),
        "self.open" => p
            .self_
            .open_sub(k[0])
            .send(mid::Out::from_parts(m, a).unwrap()),
        "self.pipe" => p
            .self_
            .pipe_sub_2(k[0])
            .send(mid::Out::from_parts(m, a).unwrap()),
        "lc.open" => p.lc.open_sub(k[0]).send(mid::In::from_parts(m, a).unwrap()),
        "lc.pipe" => p.lc.pipe_sub(k[0]).send(mid::In::from_parts(m, a).unwrap()),
        "self.open.open" => p
            .self_
            .open_sub(k[0])
            .open_sub(k[1])
            .send(leaf::Out::from_parts(m, a).unwrap()),
        "self.pipe.open" => p
            .self_
            .pipe_sub_2(k[0])
            .open_sub(k[1])
            .send(leaf::Out::from_parts(m, a).unwrap()),
        "lc.open.open" => {
            p.lc.open_sub(k[0])
                .open_sub(k[1])
                .send(leaf::In::from_parts(m, a).unwrap())
        }
        "lc.pipe.open" => {
            p.lc.pipe_sub(k[0])
                .open_sub(k[1])
                .send(leaf::In::from_parts(m, a).unwrap())
        }
        "self.open.open.open" => p
            .self_
            .open_sub(k[0])
            .open_sub(k[1])
            .open_sub(k[2])
            .send(tip::Out::from_parts(m, a).unwrap()),
        "self.pipe.open.open" => p
            .self_
            .pipe_sub_2(k[0])
            .open_sub(k[1])
            .open_sub(k[2])
            .send(tip::Out::from_parts(m, a).unwrap()),
        "lc.open.open.open" => {
            p.lc.open_sub(k[0])
                .open_sub(k[1])
                .open_sub(k[2])
                .send(tip::In::from_parts(m, a).unwrap())
        }
        "lc.pipe.open.open" => {
            p.lc.pipe_sub(k[0])
                .open_sub(k[1])
                .open_sub(k[2])
                .send(tip::In::from_parts(m, a).unwrap())
        }
        _ => panic!("event has no `{kind}`"),
    }
}

/// For every kind and message of `C`: every fitting value of every
/// parameter makes the IR's wire, sent through `Ports` or converted from a
/// wire and back; values that do not fit, another number of arguments, the
/// other direction and the index past the last message are no event.
/// Returns how many wires were checked.
fn every_message<C: Component>(send: SendFn<C>, to_wire: WireFn<C>) -> usize
where
    C::Event: PartialEq,
{
    let model = C::model();
    let c = model.component(C::NAME).unwrap();
    let capture = Capture::default();
    let ports = C::ports(capture.sender());
    let mut checked = 0;
    for (k, kind) in c.kinds.iter().enumerate() {
        let (_, spawners) = route(c, KindId(k as u32));
        let keys: Vec<i64> = (0..spawners.len() as i64).map(|i| 40 + i).collect();
        let p = model.proto(kind.protocol);
        for (m, msg) in p.messages.iter().enumerate() {
            let sample: Vec<(Vec<i64>, Vec<i64>)> =
                msg.params.iter().map(|x| samples(&model, x.ty)).collect();
            let base: Vec<i64> = sample.iter().map(|(good, _)| good[0]).collect();
            let mut variants = vec![(base.clone(), true)];
            for (i, (good, bad)) in sample.iter().enumerate() {
                for &v in good {
                    let mut a = base.clone();
                    a[i] = v;
                    variants.push((a, true));
                }
                for &v in bad {
                    let mut a = base.clone();
                    a[i] = v;
                    variants.push((a, false));
                }
            }
            let mut longer = base.clone();
            longer.push(0);
            if longer.len() <= MAX_ARGS {
                variants.push((longer, false));
            }
            if !base.is_empty() {
                variants.push((base[..base.len() - 1].to_vec(), false));
            }
            let driver_sends = !receives(kind, msg.direction);
            for (args, fits) in variants {
                let w = wire_for(&model, c, &kind.name, &keys, &msg.name, &args, driver_sends);
                let what = format!("{}: {}.{}{args:?}", C::NAME, kind.name, msg.name);
                if driver_sends {
                    // Not an event, whatever the direction flag says.
                    assert_eq!(C::event(&w), None, "{what}");
                    let as_received = Wire {
                        from_driver: false,
                        ..w
                    };
                    assert_eq!(C::event(&as_received), None, "{what} received");
                    if fits {
                        send(&ports, &kind.name, &keys, m as u16, &args).unwrap();
                        assert_eq!(capture.take(), vec![w], "{what}");
                    }
                } else {
                    let event = C::event(&w);
                    if fits {
                        let e = event.unwrap_or_else(|| panic!("{what}: no event"));
                        assert_eq!(to_wire(&e), w, "{what}");
                        let back = Wire {
                            from_driver: true,
                            ..w
                        };
                        assert_eq!(C::event(&back), None, "{what} sent");
                    } else {
                        assert_eq!(event, None, "{what}");
                    }
                }
                checked += 1;
            }
        }
        // Past the last message, in both directions.
        let Some(first) = p.messages.first() else {
            continue;
        };
        for from_driver in [false, true] {
            let w = wire_for(&model, c, &kind.name, &keys, &first.name, &[], from_driver);
            let past = Wire {
                message: p.messages.len() as u16,
                ..w
            };
            assert_eq!(C::event(&past), None);
            assert!(!C::is_concurrent(&past));
        }
    }
    checked
}

#[test]
fn every_message_with_boundary_values_converts_both_ways() {
    assert!(every_message::<asix::Asix>(asix_send, asix::Event::wire) > 100);
    assert!(every_message::<mqnic_driver::MqnicDriver>(mqnic_send, mqnic_driver::Event::wire) > 50);
    assert!(every_message::<usb_bus::UsbBus>(usb_bus_send, usb_bus::Event::wire) > 50);
}

#[test]
fn awkward_specs_convert_both_ways_too() {
    let n = every_message::<awkward::event::Event2>(awkward_send, awkward::event::Event::wire);
    assert!(n > 100);
}

// ---- legal traces -------------------------------------------------------------------

/// Checks one wire against an observer: the port by its name in
/// `port_names`, each subport by spawner index and key, the message by its
/// index, in the direction the IR declares it (which must agree with
/// `from_driver`).
fn observe<C: Component>(obs: &mut Observer<VirtualClock>, model: &Model, w: &Wire) -> Verdict {
    let c = model.component(C::NAME).unwrap();
    let mut h = obs
        .port(C::port_names()[usize::from(w.port)])
        .expect("a declared port");
    let mut k = KindId(u32::from(w.port));
    for &(s, key) in w.path() {
        h = obs
            .subport(h, MessageId(u32::from(s)), key)
            .expect("a live subport");
        let child = c
            .kinds
            .iter()
            .position(|x| x.spawned_by == Some((k, MessageId(u32::from(s)))));
        k = KindId(child.expect("a subport kind") as u32);
    }
    let msg = &model.proto(c.kind(k).protocol).messages[usize::from(w.message)];
    assert_eq!(w.from_driver, !receives(c.kind(k), msg.direction));
    obs.message(h, msg.direction, MessageId(u32::from(w.message)), w.args())
}

/// Legal traces of `C`, each event converted through the generated
/// interface (sent through `Ports`, or received with `event` and turned
/// back into a wire), must give the IR's wire, and those wires must pass an
/// observer built from `C::model()` and `C::backend()`. Returns how many
/// messages were checked, and the deepest subport level they reached.
fn walk<C: Component>(
    seeds: u64,
    steps: usize,
    send: SendFn<C>,
    to_wire: WireFn<C>,
) -> (usize, usize)
where
    C::Event: PartialEq,
{
    let model = C::model();
    let c = model.component(C::NAME).unwrap();
    assert_eq!(
        C::port_names().to_vec(),
        c.kinds[..c.port_count]
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>()
    );
    let capture = Capture::default();
    let mut messages = 0;
    let mut deepest = 0;
    for seed in 0..seeds {
        let Some(trace) = random_walk(&model, C::NAME, seed, steps) else {
            continue;
        };
        let ports = C::ports(capture.sender());
        let clock = VirtualClock::new();
        let mut obs = Observer::new(
            C::model(),
            C::NAME,
            C::backend(),
            clock.clone(),
            Config::default(),
        )
        .unwrap();
        for event in &trace.events {
            clock.set(event.time_us);
            let EventKind::Message(m) = &event.kind else {
                assert!(obs.advance().is_ok(), "{}: tick", C::NAME);
                continue;
            };
            let mut kind = m.address.port.clone();
            for (spawner, _) in &m.address.path {
                kind = format!("{kind}.{spawner}");
            }
            let keys: Vec<i64> = m.address.path.iter().map(|(_, key)| *key).collect();
            let k = c.kind(kind_named(c, &kind));
            let p = model.proto(k.protocol);
            let id = p.message(&m.message).unwrap();
            let msg = &p.messages[id.0 as usize];
            let dir = match m.direction {
                Sigil::Question => Direction::In,
                Sigil::Bang => Direction::Out,
            };
            assert_eq!(dir, msg.direction);
            let args: Vec<i64> = m
                .args
                .iter()
                .zip(&msg.params)
                .map(|(v, x)| match (v, x.ty) {
                    (Value::Int(v), _) => *v,
                    (Value::Bool(b), _) => i64::from(*b),
                    (Value::Name(n), Type::Enum(e)) => {
                        model.enums[e as usize]
                            .variants
                            .iter()
                            .find(|(name, _)| name == n)
                            .unwrap()
                            .1
                    }
                    (v, _) => panic!("{v:?}"),
                })
                .collect();
            let from_driver = !receives(k, dir);
            let want = wire_for(&model, c, &kind, &keys, &m.message, &args, from_driver);
            let got = if from_driver {
                send(&ports, &kind, &keys, id.0 as u16, &args).unwrap();
                let mut sent = capture.take();
                assert_eq!(sent.len(), 1);
                sent.remove(0)
            } else {
                let e = C::event(&want).unwrap_or_else(|| panic!("{}: {m}: no event", C::NAME));
                assert_eq!(C::is_concurrent(&want), msg.concurrent, "{m}");
                to_wire(&e)
            };
            assert_eq!(got, want, "{}: {m}", C::NAME);
            let verdict = observe::<C>(&mut obs, &model, &got);
            assert!(verdict.is_ok(), "{}: {m}: {verdict:?}", C::NAME);
            messages += 1;
            deepest = deepest.max(keys.len());
        }
        assert!(obs.violations().is_empty());
    }
    (messages, deepest)
}

#[test]
fn legal_traces_round_trip_and_pass_the_observer() {
    let (n, depth) = walk::<asix::Asix>(60, 150, asix_send, asix::Event::wire);
    assert!(n > 1000 && depth == 1, "{n} {depth}");
    let (n, _) = walk::<mqnic_driver::MqnicDriver>(40, 150, mqnic_send, mqnic_driver::Event::wire);
    assert!(n > 500, "{n}");
    let (n, depth) = walk::<usb_bus::UsbBus>(40, 150, usb_bus_send, usb_bus::Event::wire);
    assert!(n > 500 && depth == 1, "{n} {depth}");
}

#[test]
fn legal_traces_of_awkward_specs_reach_three_levels_and_pass_the_observer() {
    let (n, depth) =
        walk::<awkward::event::Event2>(60, 150, awkward_send, awkward::event::Event::wire);
    assert!(n > 1000 && depth == 3, "{n} {depth}");
}

// ---- bad wires ------------------------------------------------------------------------

#[test]
fn bad_wires_are_no_events() {
    use asix::Asix;
    let model = Asix::model();
    let c = model.component("asix").unwrap();
    let good = |kind: &str, keys: &[i64], msg: &str, args: &[i64]| {
        let w = wire_for(&model, c, kind, keys, msg, args, false);
        assert!(Asix::event(&w).is_some(), "{kind}.{msg}{args:?}");
        w
    };
    let start = good("lc", &[], "start", &[]);
    let sleep = good("pm", &[], "sleep", &[2]);
    let multicast = good("eth", &[], "setMulticast", &[3]);
    let complete = good("usb.pipeOpen", &[7], "transferComplete", &[1, 0]);
    let fired = good("timer", &[], "fired", &[]);
    let bad = [
        // Unknown port.
        ("port past the last", Wire { port: 5, ..start }),
        (
            "port u16::MAX",
            Wire {
                port: u16::MAX,
                ..start
            },
        ),
        // Message index past the end, and far past it.
        (
            "message past the last",
            Wire {
                message: 6,
                ..start
            },
        ),
        (
            "message u16::MAX",
            Wire {
                message: u16::MAX,
                ..start
            },
        ),
        // Wrong arity.
        ("start(0)", start.with_args(&[0])),
        ("sleep()", sleep.with_args(&[])),
        ("sleep(2, 2)", sleep.with_args(&[2, 2])),
        ("transferComplete(1)", complete.with_args(&[1])),
        ("nargs past MAX_ARGS", Wire { nargs: 9, ..sleep }),
        (
            "nargs u8::MAX",
            Wire {
                nargs: u8::MAX,
                ..sleep
            },
        ),
        // Values out of the parameter type's range.
        ("setMulticast(-1)", multicast.with_args(&[-1])),
        ("setMulticast(2^32)", multicast.with_args(&[1 << 32])),
        ("status past i32", complete.with_args(&[1, 1 << 31])),
        ("status below i32", complete.with_args(&[1, -(1 << 31) - 1])),
        // Unknown enum values.
        ("sleep(4)", sleep.with_args(&[4])),
        ("sleep(-1)", sleep.with_args(&[-1])),
        // Wrong direction: a message the driver sends, or one it receives
        // marked as sent by it; on a mirrored port, the other way round.
        (
            "startComplete received",
            Wire {
                message: 1,
                ..start
            },
        ),
        (
            "start sent",
            Wire {
                from_driver: true,
                ..start
            },
        ),
        (
            "arm received",
            Wire {
                message: 0,
                ..fired
            }
            .with_args(&[5]),
        ),
        (
            "fired sent",
            Wire {
                from_driver: true,
                ..fired
            },
        ),
        // Subport paths of the wrong shape.
        ("lc with a path", start.under(0, 7)),
        (
            "pipe without its path",
            Wire {
                depth: 0,
                ..complete
            },
        ),
        (
            "pipe spawned by altsettingSelect",
            Wire {
                depth: 0,
                ..complete
            }
            .under(1, 7),
        ),
        (
            "pipe spawned by a message past the end",
            Wire {
                depth: 0,
                ..complete
            }
            .under(99, 7),
        ),
        ("pipe one level too deep", complete.under(0, 7)),
        (
            "pipe on another port",
            Wire {
                port: 2,
                ..complete
            },
        ),
        (
            "depth past MAX_DEPTH",
            Wire {
                depth: 4,
                ..complete
            },
        ),
        (
            "depth u8::MAX",
            Wire {
                depth: u8::MAX,
                ..complete
            },
        ),
    ];
    for (what, w) in bad {
        assert_eq!(Asix::event(&w), None, "{what}");
    }
    // Booleans are 0 or 1, and enum values are the declared ones (`FAST` is
    // 10, `TURBO` 11: nothing in between).
    use spec_observers::extra::{self, arith};
    let m = extra::model();
    let calc = m.component("calc").unwrap();
    let flag = |v: i64| wire_for(&m, calc, "arith", &[], "storeFlag", &[v], false);
    let mode = |v: i64| wire_for(&m, calc, "arith", &[], "setMode", &[v], false);
    type Calc = extra::calc::Calc;
    let a = |e| Some(extra::calc::Event::Arith(e));
    assert_eq!(Calc::event(&flag(0)), a(arith::In::StoreFlag { b: false }));
    assert_eq!(Calc::event(&flag(1)), a(arith::In::StoreFlag { b: true }));
    assert_eq!(Calc::event(&flag(2)), None);
    assert_eq!(Calc::event(&flag(-1)), None);
    let fast = a(arith::In::SetMode {
        m: extra::types::ModeT::Fast,
    });
    assert_eq!(Calc::event(&mode(10)), fast);
    for v in [1, 9, 12, -1] {
        assert_eq!(Calc::event(&mode(v)), None, "{v}");
    }
}

/// A wire of random parts, biased to small numbers so that a fair share
/// names real ports, subports and messages.
fn any_wire() -> impl Strategy<Value = Wire> {
    let small = prop_oneof![4 => -3i64..300, 1 => any::<i64>()];
    (
        prop_oneof![4 => 0u16..10, 1 => any::<u16>()],
        prop_oneof![4 => 0u8..3, 1 => any::<u8>()],
        prop::array::uniform3((0u16..4, -2i64..3)),
        prop_oneof![4 => 0u16..20, 1 => any::<u16>()],
        any::<bool>(),
        prop::array::uniform8(small),
        prop_oneof![4 => 0u8..5, 1 => any::<u8>()],
    )
        .prop_map(
            |(port, depth, path, message, from_driver, args, nargs)| Wire {
                port,
                depth,
                path,
                message,
                from_driver,
                args,
                nargs,
            },
        )
}

/// `C::event` agrees with the IR's oracle on `w`, and never panics; an
/// event converts back to the wire's parts.
fn agrees<C: Component>(w: &Wire, to_wire: WireFn<C>) -> Result<(), TestCaseError> {
    let model = C::model();
    let c = model.component(C::NAME).unwrap();
    let expected = oracle(&model, c, w);
    let event = C::event(w);
    prop_assert_eq!(
        event.is_some(),
        matches!(expected, Some((_, _, true))),
        "{}: {:?} gave {:?}",
        C::NAME,
        w,
        event
    );
    if let Some(e) = &event {
        prop_assert_eq!(parts(&to_wire(e)), parts(w));
    }
    let concurrent = expected
        .is_some_and(|(k, m, _)| model.proto(c.kind(k).protocol).messages[m.0 as usize].concurrent);
    prop_assert_eq!(C::is_concurrent(w), concurrent, "{:?}", w);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_wires_are_events_exactly_when_the_ir_says_so(w in any_wire()) {
        agrees::<asix::Asix>(&w, asix::Event::wire)?;
        agrees::<mqnic_driver::MqnicDriver>(&w, mqnic_driver::Event::wire)?;
        agrees::<usb_bus::UsbBus>(&w, usb_bus::Event::wire)?;
        agrees::<awkward::event::Event2>(&w, awkward::event::Event::wire)?;
    }

    #[test]
    fn from_parts_never_panics_and_round_trips(
        message in 0u16..20,
        args in prop::collection::vec(-3i64..300, 0..9),
    ) {
        if let Some(m) = eth::In::from_parts(message, &args) {
            prop_assert_eq!((m.message(), m.args().0[..usize::from(m.args().1)].to_vec()), (message, args.clone()));
        }
        if let Some(m) = eth::Out::from_parts(message, &args) {
            prop_assert_eq!((m.message(), m.args().0[..usize::from(m.args().1)].to_vec()), (message, args.clone()));
        }
        if let Some(m) = nic::Out::from_parts(message, &args) {
            prop_assert_eq!((m.message(), m.args().0[..usize::from(m.args().1)].to_vec()), (message, args.clone()));
        }
        if let Some(m) = pm::In::from_parts(message, &args) {
            prop_assert_eq!((m.message(), m.args().0[..usize::from(m.args().1)].to_vec()), (message, args.clone()));
        }
        if let Some(m) = awkward::tip::Out::from_parts(message, &args) {
            prop_assert_eq!((m.message(), m.args().0[..usize::from(m.args().1)].to_vec()), (message, args.clone()));
        }
        if let Some(m) = awkward::tip::In::from_parts(message, &args) {
            prop_assert_eq!((m.message(), m.args().0[..usize::from(m.args().1)].to_vec()), (message, args));
        }
    }
}

// ---- concurrent messages ---------------------------------------------------------------

/// The `(kind, message)`s `C::is_concurrent` says are concurrent, over
/// every message the component receives (with fitting arguments); none of
/// the messages it sends is.
fn concurrent_of<C: Component>() -> BTreeSet<(String, String)> {
    let model = C::model();
    let c = model.component(C::NAME).unwrap();
    let mut found = BTreeSet::new();
    for (k, kind) in c.kinds.iter().enumerate() {
        let (_, spawners) = route(c, KindId(k as u32));
        let keys = vec![1; spawners.len()];
        for msg in &model.proto(kind.protocol).messages {
            let args: Vec<i64> = msg
                .params
                .iter()
                .map(|x| samples(&model, x.ty).0[0])
                .collect();
            let receives = receives(kind, msg.direction);
            let w = wire_for(&model, c, &kind.name, &keys, &msg.name, &args, !receives);
            if !receives {
                assert!(!C::is_concurrent(&w), "{}.{} is sent", kind.name, msg.name);
                continue;
            }
            assert_eq!(
                C::event(&w).is_some_and(|_| C::is_concurrent(&w)),
                C::is_concurrent(&w)
            );
            if C::is_concurrent(&w) {
                found.insert((kind.name.clone(), msg.name.clone()));
            }
        }
    }
    found
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn is_concurrent_is_true_exactly_for_concurrent_messages() {
    // Typed messages: the spec's `concurrent` ones, in both directions.
    assert!(eth::In::TxPacket { packet: 1 }.is_concurrent());
    assert!(eth::Out::TxPacketDone { packet: 1 }.is_concurrent());
    assert!(eth::Out::TxPacketAbort { packet: 1 }.is_concurrent());
    assert!(eth::Out::RxPacket { packet: 1 }.is_concurrent());
    assert!(!eth::In::Enable.is_concurrent());
    assert!(!eth::In::SetMulticast { count: 1 }.is_concurrent());
    assert!(!eth::Out::LinkUp { speed_mbps: 10 }.is_concurrent());
    assert!(!eth::Out::TxStopQueue.is_concurrent());
    assert!(
        nic::In::PostSend {
            queue: 0,
            packet: 1
        }
        .is_concurrent()
    );
    assert!(
        nic::In::PostRecv {
            queue: 0,
            buffer: 1
        }
        .is_concurrent()
    );
    assert!(!nic::In::Open { queues: 1 }.is_concurrent());
    assert!(pipe::Out::Transfer { urb: 1 }.is_concurrent());
    assert!(pipe::In::TransferComplete { urb: 1, status: 0 }.is_concurrent());
    assert!(!pipe::Out::Abort.is_concurrent());
    assert!(!lifecycle::In::Start.is_concurrent());
    // Every typed message of every protocol agrees with the IR.
    let model = spec_observers::model();
    for p in &model.protocols {
        for (m, msg) in p.messages.iter().enumerate() {
            let args: Vec<i64> = msg
                .params
                .iter()
                .map(|x| samples(&model, x.ty).0[0])
                .collect();
            let typed = typed_concurrent(&p.name, msg.direction, m as u16, &args);
            assert_eq!(typed, Some(msg.concurrent), "{}.{}", p.name, msg.name);
        }
    }
    // Components: what each receives concurrently, by name.
    let asix = pairs(&[("eth", "txPacket"), ("usb.pipeOpen", "transferComplete")]);
    assert_eq!(concurrent_of::<asix::Asix>(), asix);
    let mqnic = pairs(&[("nic", "postRecv"), ("nic", "postSend")]);
    assert_eq!(concurrent_of::<mqnic_driver::MqnicDriver>(), mqnic);
    // The bus receives the pipes' `transfer` (mirrored).
    let bus = pairs(&[("client.pipeOpen", "transfer")]);
    assert_eq!(concurrent_of::<usb_bus::UsbBus>(), bus);
    // Root's `loop` on `self`; Mid's `data` and Tip's `many` are `out`, so
    // only the mirrored subports receive them.
    let want = pairs(&[
        ("self", "loop"),
        ("lc.open", "data"),
        ("lc.pipe", "data"),
        ("lc.open.open.open", "many"),
        ("lc.pipe.open.open", "many"),
    ]);
    let found = concurrent_of::<awkward::event::Event2>();
    assert_eq!(found, want);
}

/// `is_concurrent` of the typed message of protocol `name`, by its parts.
fn typed_concurrent(name: &str, dir: Direction, m: u16, a: &[i64]) -> Option<bool> {
    macro_rules! both {
        ($module:ident) => {
            match dir {
                Direction::In => $module::In::from_parts(m, a).map(|x| x.is_concurrent()),
                Direction::Out => $module::Out::from_parts(m, a).map(|x| x.is_concurrent()),
            }
        };
    }
    match name {
        "EthernetController" => both!(eth),
        "Lifecycle" => both!(lifecycle),
        "MultiQueueNIC" => both!(nic),
        "PowerManagement" => both!(pm),
        "Timer" => both!(timer),
        "USBInterfaceClient" => both!(usb),
        "USBPipeClient" => both!(pipe),
        _ => panic!("no module for protocol `{name}`"),
    }
}

// ---- names -------------------------------------------------------------------------------

#[test]
fn enum_types_carry_the_spec_values() {
    let model = spec_observers::model();
    let spec = &model.enums[0];
    assert_eq!(spec.name, "power_level_t");
    let values: Vec<i64> = spec.variants.iter().map(|(_, v)| *v).collect();
    assert_eq!(PowerLevelT::ALL.map(PowerLevelT::value).to_vec(), values);
    for v in PowerLevelT::ALL {
        assert_eq!(PowerLevelT::from_value(v.value()), Some(v));
    }
    assert_eq!(PowerLevelT::from_value(4), None);
    assert_eq!(PowerLevelT::from_value(-1), None);
    use spec_observers::extra::types::ModeT;
    assert_eq!(ModeT::ALL.map(ModeT::value), [0, 10, 11]);
    assert_eq!(ModeT::from_value(11), Some(ModeT::Turbo));
    assert_eq!(ModeT::from_value(1), None);
}

#[test]
fn awkward_names_are_unique_and_work() {
    use awkward::types::Option2;
    use awkward::{event, tip};
    let model = awkward::model();
    // `enum option { Some, None = -3, Self, AB, ab }`: prelude and keyword
    // names get a number, as does the second of two colliding names.
    let values: Vec<i64> = model.enums[0].variants.iter().map(|(_, v)| *v).collect();
    let all = [
        Option2::Some,
        Option2::None,
        Option2::Self2,
        Option2::Ab,
        Option2::Ab2,
    ];
    assert_eq!(all, Option2::ALL);
    assert_eq!(Option2::ALL.map(Option2::value).to_vec(), values);
    // Protocol modules: `fooBar` and `FooBar`, `types`, `U8`.
    assert_eq!(awkward::foo_bar::In::X.message(), 0);
    assert_eq!(awkward::foo_bar_2::Out::X.message(), 0);
    assert_eq!(awkward::types_2::In::T.message(), 0);
    assert_eq!(awkward::u8_2::Out::U { v: 255 }.args().1, 1);
    // Keyword parameters, and parameters named like the generated locals.
    let mixed = tip::In::Mixed {
        self_: true,
        match_: Option2::Self2,
        fn_: -1,
    };
    let args = [1, Option2::Self2.value(), -1];
    assert_eq!(tip::In::from_parts(mixed.message(), &args), Some(mixed));
    let w = tip::In::W {
        args: 1,
        message: 2,
        v0: 3,
        v1: 4,
        key: 5,
        sender: 6,
    };
    assert_eq!(w.args().0[..6], [1, 2, 3, 4, 5, 6]);
    // Component `event`: its struct is `Event2`, next to its `Event` enum;
    // ports `self`, `lc` and `Lc`, `selfOpen` (whose variant beats the
    // `self.open` subports' to the plain name).
    assert_eq!(<event::Event2 as Component>::NAME, "event");
    let capture = Capture::default();
    let ports = <event::Event2 as Component>::ports(capture.sender());
    // On `self` (Root): the messages `keys`, `fooBar`, `foo_bar` and
    // `pipe_sub`, and the subport handles `open_sub` and `pipe_sub_2`.
    ports.self_.keys_2().unwrap();
    ports.self_.foo_bar().unwrap();
    ports.self_.foo_bar_2().unwrap();
    ports.self_.pipe_sub().unwrap();
    // Three levels down, eight parameters.
    let tip = ports.self_.pipe_sub_2(1).open_sub(2).open_sub(3);
    assert_eq!(tip.keys(), [1, 2, 3]);
    tip.many(
        u8::MAX,
        u16::MAX,
        u32::MAX,
        i64::MAX as u64,
        i8::MIN,
        i16::MIN,
        i32::MIN,
        i64::MIN,
    )
    .unwrap();
    // On the mirrored `lc`: `send` and `loop` are the driver's to send.
    ports.lc.send_2().unwrap();
    ports.lc.loop_(-7).unwrap();
    let sent = capture.take();
    let c = model.component("event").unwrap();
    let root = model.protocol("Root").unwrap();
    let names: Vec<&str> = sent[..4]
        .iter()
        .map(|w| {
            model.proto(root).messages[usize::from(w.message)]
                .name
                .as_str()
        })
        .collect();
    assert_eq!(names, ["keys", "fooBar", "foo_bar", "pipe_sub"]);
    let many = wire_for(
        &model,
        c,
        "self.pipe.open.open",
        &[1, 2, 3],
        "many",
        &[
            255,
            65535,
            i64::from(u32::MAX),
            i64::MAX,
            -128,
            -32768,
            i64::from(i32::MIN),
            i64::MIN,
        ],
        true,
    );
    assert_eq!(sent[4], many);
    assert_eq!(sent[5], wire_for(&model, c, "lc", &[], "send", &[], true));
    assert_eq!(sent[6], wire_for(&model, c, "lc", &[], "loop", &[-7], true));
    // Events of the deepest mirrored subports, and of ports named alike.
    let e = event::Event::LcPipeOpenOpen {
        keys: [4, 5, 6],
        event: tip::Out::Many {
            a: 1,
            b: 2,
            c: 3,
            d: 4,
            e: 5,
            f: 6,
            g: 7,
            h: 8,
        },
    };
    assert_eq!(e.wire().path(), &[(1, 4), (0, 5), (0, 6)]);
    assert_eq!(<event::Event2 as Component>::event(&e.wire()), Some(e));
    let e = event::Event::Self2(awkward::root::In::Loop { ref_: 3 });
    assert_eq!(<event::Event2 as Component>::event(&e.wire()), Some(e));
    let e = event::Event::SelfOpen2 {
        keys: [8],
        event: awkward::mid::In::Open { l: 9 },
    };
    assert_eq!(<event::Event2 as Component>::event(&e.wire()), Some(e));
    assert_eq!(
        <event::Event2 as Component>::port_names(),
        ["self", "lc", "Lc", "selfOpen", "f1", "f2", "t", "u"]
    );
    let _: [event::Ports; 0] = [];
    let _: Option<(
        event::LcPort,
        event::LcPort2,
        event::SelfOpenPort,
        event::SelfOpenPort2,
    )> = None;
}
