//! The host controller on its own: enumeration, transfers, ordering,
//! abort, unplug, stalls, suspend and resume, alternate settings.

mod common;

use common::{BULK_IN, BULK_OUT, INTR_IN, Loopback, Rng};
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use usb::device::{EndpointKind, SetupPacket, TransferError, request};
use usb::host::{AttachError, Completion, HostController, HostEvent, OnComplete, SubmitError};
use usb::urb::{UrbError, UrbId, UrbPool};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Done(Completion),
    AbortDone(u8),
    Op(&'static str, Result<(), TransferError>),
    Unplugged,
}

fn channel() -> (Sender<Ev>, Receiver<Ev>) {
    mpsc::channel()
}

fn on_complete(tx: &Sender<Ev>) -> OnComplete {
    let tx = tx.clone();
    Arc::new(move |c| {
        let _ = tx.send(Ev::Done(c));
    })
}

fn setup() -> (Arc<HostController>, Arc<Loopback>, UrbPool) {
    let pool = UrbPool::new();
    let host = Arc::new(HostController::new(pool.clone()));
    let dev = Loopback::new();
    host.attach(dev.clone()).expect("enumeration");
    (host, dev, pool)
}

fn recv(rx: &Receiver<Ev>) -> Ev {
    rx.recv_timeout(WAIT).expect("an event within 10 s")
}

fn done(rx: &Receiver<Ev>) -> Completion {
    match recv(rx) {
        Ev::Done(c) => c,
        other => panic!("expected a completion, got {other:?}"),
    }
}

fn nothing_within(rx: &Receiver<Ev>, ms: u64) {
    if let Ok(e) = rx.recv_timeout(Duration::from_millis(ms)) {
        panic!("unexpected {e:?}");
    }
}

fn out_urb(pool: &UrbPool, data: &[u8]) -> UrbId {
    let u = pool.alloc(data.len().max(1)).unwrap();
    pool.fill(u, data).unwrap();
    u
}

fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + seed * 7 + 1) as u8).collect()
}

#[test]
fn enumeration_follows_the_usb_core_sequence() {
    let (host, dev, _) = setup();
    let info = host.info().unwrap();
    assert_eq!(info.device.vendor_id, common::VENDOR_ID);
    assert_eq!(info.device.product_id, common::PRODUCT_ID);
    assert_eq!(info.device.max_packet_size0, 64);
    let st = dev.state();
    let seq: Vec<(u8, u8, u16, u16)> = st
        .requests
        .iter()
        .map(|s| (s.request_type, s.request, s.value, s.length))
        .collect();
    let total = common::config_descriptor().len() as u16;
    assert_eq!(
        seq,
        [
            (0x80, request::GET_DESCRIPTOR, 0x0100, 18),
            (0x00, request::SET_ADDRESS, u16::from(info.address), 0),
            (0x80, request::GET_DESCRIPTOR, 0x0200, 9),
            (0x80, request::GET_DESCRIPTOR, 0x0200, total),
            (0x00, request::SET_CONFIGURATION, 1, 0),
        ]
    );
    assert_eq!(st.address, u16::from(info.address));
    assert_eq!(st.configuration, 1);
    drop(st);
    let iface = &info.config.interfaces[0];
    assert_eq!(iface.alt_settings.len(), 2);
    let e = host.endpoint(INTR_IN).unwrap();
    assert_eq!(
        (e.kind, e.max_packet_size, e.interval),
        (EndpointKind::Interrupt, 8, 11)
    );
    let e = host.endpoint(BULK_IN).unwrap();
    assert_eq!(
        (e.kind, e.max_packet_size, e.is_in()),
        (EndpointKind::Bulk, 512, true)
    );
    assert_eq!(host.alt_setting(0), Some(0));
    assert!(host.is_present());
    // One device per port.
    assert_eq!(host.attach(Loopback::new()), Err(AttachError::Busy));
}

/// What a case is named, and the device and configuration descriptors it replaces.
type Malformed = (&'static str, Option<Vec<u8>>, Option<Vec<u8>>);

#[test]
fn malformed_descriptors_are_refused() {
    let good_dev = common::device_descriptor();
    let good_conf = common::config_descriptor();
    let mut bad: Vec<Malformed> = Vec::new();
    let mut d = good_dev.clone();
    d[0] = 17;
    bad.push(("device bLength", Some(d), None));
    bad.push(("device truncated", Some(good_dev[..10].to_vec()), None));
    let mut d = good_dev.clone();
    d[1] = 2;
    bad.push(("device type", Some(d), None));
    let mut d = good_dev.clone();
    d[7] = 7;
    bad.push(("ep0 max packet", Some(d), None));
    let mut c = good_conf.clone();
    c[2] += 1;
    bad.push(("wTotalLength too long", None, Some(c)));
    let mut c = good_conf.clone();
    c[9] = 0;
    bad.push(("zero bLength", None, Some(c)));
    let mut c = good_conf.clone();
    c[9 + 4] = 2; // alt 0 declares 2 endpoints, has 3
    bad.push(("endpoint count", None, Some(c)));
    let mut c = good_conf.clone();
    c[18 + 2] = 0x80; // endpoint 0 in a descriptor
    bad.push(("endpoint address", None, Some(c)));
    let mut c = good_conf.clone();
    c[18 + 4] = 0;
    bad.push(("max packet 0", None, Some(c)));
    let mut c = good_conf.clone();
    c[25] = 200; // bLength past the end
    bad.push(("bLength past the end", None, Some(c)));
    let mut c = good_conf.clone();
    c[4] = 2;
    bad.push(("interface count", None, Some(c)));
    let mut c = good_conf[..9].to_vec();
    c[2..4].copy_from_slice(&9u16.to_le_bytes());
    c[4] = 0;
    bad.push(("no interface", None, Some(c)));
    for (what, d, c) in bad {
        let host = HostController::new(UrbPool::new());
        let dev = Loopback::new();
        dev.state().faults.device_descriptor = d;
        dev.state().faults.config_descriptor = c;
        let r = host.attach(dev);
        assert!(
            matches!(
                r,
                Err(AttachError::Descriptor(_) | AttachError::Unusable(_))
            ),
            "{what}: {r:?}"
        );
        assert!(!host.is_present(), "{what}");
        // The port is free again: a good device enumerates.
        host.attach(Loopback::new()).expect(what);
    }
    // A device that stalls GET_DESCRIPTOR.
    let host = HostController::new(UrbPool::new());
    let dev = Loopback::new();
    dev.state()
        .faults
        .stall_requests
        .insert(request::GET_DESCRIPTOR);
    assert!(matches!(
        host.attach(dev),
        Err(AttachError::Request {
            error: TransferError::Stall,
            ..
        })
    ));
}

#[test]
fn bulk_loopback_is_byte_exact_and_in_order() {
    let (host, _dev, pool) = setup();
    let (tx, rx) = channel();
    let n = 24;
    // IN transfers first: they wait for data.
    let ins: Vec<UrbId> = (0..n).map(|_| pool.alloc(512).unwrap()).collect();
    for &u in &ins {
        host.submit(BULK_IN, u, 512, on_complete(&tx)).unwrap();
    }
    nothing_within(&rx, 30);
    assert_eq!(host.pending(), n as u64);
    let payloads: Vec<Vec<u8>> = (0..n).map(|i| payload(i, 1 + (i * 37) % 512)).collect();
    let outs: Vec<UrbId> = payloads.iter().map(|p| out_urb(&pool, p)).collect();
    for (&u, p) in outs.iter().zip(&payloads) {
        host.submit(BULK_OUT, u, p.len(), on_complete(&tx)).unwrap();
    }
    let mut got_in = Vec::new();
    let mut got_out = Vec::new();
    for _ in 0..2 * n {
        let c = done(&rx);
        match c.endpoint {
            BULK_IN => got_in.push(c),
            BULK_OUT => got_out.push(c),
            e => panic!("endpoint {e:#x}"),
        }
    }
    // Per endpoint, in submission order.
    assert_eq!(got_in.iter().map(|c| c.urb).collect::<Vec<_>>(), ins);
    assert_eq!(got_out.iter().map(|c| c.urb).collect::<Vec<_>>(), outs);
    for (c, p) in got_out.iter().zip(&payloads) {
        assert_eq!(c.status, Ok(p.len()));
    }
    for (c, p) in got_in.iter().zip(&payloads) {
        assert_eq!(c.status, Ok(p.len()));
        assert_eq!(pool.actual_length(c.urb), Ok(p.len()));
        assert_eq!(&pool.read(c.urb, 0, p.len()).unwrap(), p, "byte for byte");
        assert_eq!(pool.is_busy(c.urb), Ok(false));
    }
    assert_eq!(host.pending(), 0);
    let s = host.stats(BULK_IN);
    assert_eq!(
        (s.submitted, s.completed, s.failed),
        (n as u64, n as u64, 0)
    );
}

#[test]
fn interrupt_in_waits_for_the_device() {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let u = pool.alloc(8).unwrap();
    host.submit(INTR_IN, u, 8, on_complete(&tx)).unwrap();
    nothing_within(&rx, 50);
    dev.post_interrupt(&[0xa1, 0x01, 0x02]);
    let c = done(&rx);
    assert_eq!((c.urb, c.endpoint, c.status), (u, INTR_IN, Ok(3)));
    assert_eq!(pool.read(u, 0, 3).unwrap(), [0xa1, 0x01, 0x02]);
    // Data posted before the transfer is there at once.
    dev.post_interrupt(&[9; 8]);
    dev.post_interrupt(&[9; 9]); // more than the URB holds
    host.submit(INTR_IN, u, 8, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Ok(8));
    host.submit(INTR_IN, u, 8, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Overflow));
}

#[test]
fn control_transfers_with_the_setup_packet_beside_or_in_the_urb() {
    let (host, _dev, pool) = setup();
    let (tx, rx) = channel();
    // SETUP as a value, data stage at offset 0.
    let get_dev = SetupPacket {
        request_type: 0x80,
        request: request::GET_DESCRIPTOR,
        value: 0x0100,
        index: 0,
        length: 18,
    };
    let u = pool.alloc(18).unwrap();
    host.submit_control(get_dev, u, on_complete(&tx)).unwrap();
    let c = done(&rx);
    assert_eq!((c.endpoint, c.status), (0, Ok(18)));
    assert_eq!(pool.read(u, 0, 18).unwrap(), common::device_descriptor());
    // SETUP in the URB's first 8 bytes: a vendor write, then a read back.
    let regs = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let write = SetupPacket {
        request_type: 0x40,
        request: 0x10,
        value: 0,
        index: 16,
        length: 8,
    };
    let w = usb::bus::control_urb(&pool, write, &regs).unwrap();
    host.submit(0, w, 0, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Ok(8));
    let read = SetupPacket {
        request_type: 0xc0,
        request: 0x11,
        value: 0,
        index: 16,
        length: 8,
    };
    let r = usb::bus::control_urb(&pool, read, &[]).unwrap();
    host.submit(0x80, r, 0, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Ok(8));
    assert_eq!(pool.read(r, 8, 8).unwrap(), regs);
    // An unknown request stalls.
    let odd = SetupPacket {
        request_type: 0xc0,
        request: 0x77,
        value: 0,
        index: 0,
        length: 2,
    };
    let o = usb::bus::control_urb(&pool, odd, &[]).unwrap();
    host.submit(0, o, 0, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Stall));
    // A control URB too small for its SETUP packet is refused at once.
    let tiny = out_urb(&pool, &[0x80, 6]);
    assert!(matches!(
        host.submit(0, tiny, 2, on_complete(&tx)),
        Err(SubmitError::Length { need: 8, .. })
    ));
    assert_eq!(pool.is_busy(tiny), Ok(false));
    assert_eq!(host.pending(), 0);
}

#[test]
fn bad_submissions_are_refused_without_a_completion() {
    let (host, _dev, pool) = setup();
    let (tx, rx) = channel();
    let u = pool.alloc(4).unwrap();
    assert_eq!(
        host.submit(BULK_OUT, u, 5, on_complete(&tx)),
        Err(SubmitError::Length {
            need: 5,
            capacity: 4
        })
    );
    let gone = UrbId(9999);
    assert_eq!(
        host.submit(BULK_OUT, gone, 1, on_complete(&tx)),
        Err(SubmitError::Urb(UrbError::Unknown(gone)))
    );
    host.submit(BULK_IN, u, 4, on_complete(&tx)).unwrap();
    assert_eq!(
        host.submit(BULK_IN, u, 4, on_complete(&tx)),
        Err(SubmitError::Urb(UrbError::Busy(u)))
    );
    assert_eq!(pool.free(u), Err(UrbError::Busy(u)));
    assert_eq!(pool.write(u, 0, &[1]), Err(UrbError::Busy(u)));
    // An endpoint the device lacks: a completion with an error.
    let v = pool.alloc(4).unwrap();
    host.submit(0x05, v, 4, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::NoEndpoint));
    nothing_within(&rx, 20);
    assert_eq!(host.pending(), 1, "the IN transfer still waits");
}

#[test]
fn completions_run_off_the_submitters_stack_and_may_resubmit() {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let me = std::thread::current().id();
    let u = pool.alloc(64).unwrap();
    // Each completion resubmits, five times in all, from the callback.
    let left = Arc::new(Mutex::new(5));
    let h = host.clone();
    let cb: Arc<Mutex<Option<OnComplete>>> = Arc::default();
    let cb2 = cb.clone();
    let tx2 = tx.clone();
    let f: OnComplete = Arc::new(move |c: Completion| {
        assert_ne!(std::thread::current().id(), me);
        let _ = tx2.send(Ev::Done(c));
        let mut l = left.lock().unwrap();
        *l -= 1;
        if *l > 0 {
            let again = cb2.lock().unwrap().clone().unwrap();
            h.submit(BULK_IN, c.urb, 64, again).unwrap();
        }
    });
    *cb.lock().unwrap() = Some(f.clone());
    host.submit(BULK_IN, u, 64, f).unwrap();
    for i in 0..5 {
        dev.inject_in(&[i; 3]);
        let c = done(&rx);
        assert_eq!(c.status, Ok(3));
        assert_eq!(pool.read(u, 0, 3).unwrap(), [i; 3]);
    }
    assert!(host.wait_idle(WAIT));
    assert_eq!(host.pending(), 0);
    // Break the cycle callback -> cell -> callback.
    cb.lock().unwrap().take();
}

#[test]
fn abort_cancels_everything_then_says_done() {
    let (host, _dev, pool) = setup();
    let (tx, rx) = channel();
    let urbs: Vec<UrbId> = (0..6).map(|_| pool.alloc(512).unwrap()).collect();
    for &u in &urbs {
        host.submit(BULK_IN, u, 512, on_complete(&tx)).unwrap();
    }
    // An interrupt transfer on another endpoint is not touched.
    let i = pool.alloc(8).unwrap();
    host.submit(INTR_IN, i, 8, on_complete(&tx)).unwrap();
    nothing_within(&rx, 20);
    let t = tx.clone();
    host.abort(BULK_IN, move || {
        let _ = t.send(Ev::AbortDone(BULK_IN));
    });
    for &u in &urbs {
        let c = done(&rx);
        assert_eq!((c.urb, c.status), (u, Err(TransferError::Cancelled)));
    }
    assert_eq!(recv(&rx), Ev::AbortDone(BULK_IN));
    assert_eq!(host.pending(), 1);
    assert!(urbs.iter().all(|&u| pool.is_busy(u) == Ok(false)));
    // Abort of an idle endpoint: just done.
    let t = tx.clone();
    host.abort(BULK_OUT, move || {
        let _ = t.send(Ev::AbortDone(BULK_OUT));
    });
    assert_eq!(recv(&rx), Ev::AbortDone(BULK_OUT));
    let t = tx.clone();
    host.abort(INTR_IN, move || {
        let _ = t.send(Ev::AbortDone(INTR_IN));
    });
    assert_eq!(done(&rx).status, Err(TransferError::Cancelled));
    assert_eq!(recv(&rx), Ev::AbortDone(INTR_IN));
    assert_eq!(host.pending(), 0);
    assert!(host.wait_idle(WAIT));
}

#[test]
fn abort_of_one_owner_leaves_the_others() {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let mut mine = Vec::new();
    for k in 0..6u64 {
        let u = pool.alloc(16).unwrap();
        let req = usb::host::Request {
            endpoint: BULK_IN,
            urb: u,
            length: 16,
            setup: None,
            owner: k % 2,
        };
        host.submit_with(req, on_complete(&tx)).unwrap();
        if k % 2 == 1 {
            mine.push(u);
        }
    }
    let t = tx.clone();
    host.abort_owner(BULK_IN, 1, move || {
        let _ = t.send(Ev::AbortDone(1));
    });
    for &u in &mine {
        let c = done(&rx);
        assert_eq!(
            (c.urb, c.owner, c.status),
            (u, 1, Err(TransferError::Cancelled))
        );
    }
    assert_eq!(recv(&rx), Ev::AbortDone(1));
    for _ in 0..3 {
        dev.inject_in(b"x");
        let c = done(&rx);
        assert_eq!((c.owner, c.status), (0, Ok(1)));
    }
    assert_eq!(host.pending(), 0);
}

#[test]
fn stalls_from_the_fault_plan_and_from_the_device() {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let u = out_urb(&pool, b"hello");
    host.stall(BULK_OUT);
    host.submit(BULK_OUT, u, 5, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Stall));
    host.submit(BULK_OUT, u, 5, on_complete(&tx)).unwrap();
    assert_eq!(
        done(&rx).status,
        Err(TransferError::Stall),
        "halted until cleared"
    );
    let t = tx.clone();
    host.clear_halt(BULK_OUT, move |r| {
        let _ = t.send(Ev::Op("clear", r));
    });
    assert_eq!(recv(&rx), Ev::Op("clear", Ok(())));
    host.submit(BULK_OUT, u, 5, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Ok(5));
    // The device stalls the next OUT, then a halted IN endpoint.
    dev.state().faults.fail_out.push_back(TransferError::Stall);
    host.submit(BULK_OUT, u, 5, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Stall));
    dev.state().faults.halted.insert(BULK_IN);
    let i = pool.alloc(16).unwrap();
    host.submit(BULK_IN, i, 16, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Stall));
    let t = tx.clone();
    host.clear_halt(BULK_IN, move |r| {
        let _ = t.send(Ev::Op("clear", r));
    });
    assert_eq!(recv(&rx), Ev::Op("clear", Ok(())));
    host.submit(BULK_IN, i, 16, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Ok(5), "the echo of the last good OUT");
    // Other errors come through as they are.
    dev.state()
        .faults
        .fail_out
        .push_back(TransferError::Protocol);
    host.submit(BULK_OUT, u, 5, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Protocol));
    let s = host.stats(BULK_OUT);
    assert_eq!((s.submitted, s.completed, s.failed), (5, 1, 4));
}

#[test]
fn suspend_holds_transfers_until_resume() {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let u = pool.alloc(64).unwrap();
    host.submit(BULK_IN, u, 64, on_complete(&tx)).unwrap();
    let t = tx.clone();
    host.suspend(move |r| {
        let _ = t.send(Ev::Op("suspend", r));
    });
    assert_eq!(recv(&rx), Ev::Op("suspend", Ok(())));
    assert!(host.is_suspended());
    assert!(dev.state().suspended);
    let calls = dev.state().while_suspended;
    dev.inject_in(b"held");
    nothing_within(&rx, 50);
    // New transfers fail while suspended.
    let v = out_urb(&pool, b"no");
    host.submit(BULK_OUT, v, 2, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::Suspended));
    assert_eq!(
        dev.state().while_suspended,
        calls,
        "the device was left alone"
    );
    let t = tx.clone();
    host.resume(move |r| {
        let _ = t.send(Ev::Op("resume", r));
    });
    assert_eq!(recv(&rx), Ev::Op("resume", Ok(())));
    let c = done(&rx);
    assert_eq!((c.urb, c.status), (u, Ok(4)));
    assert_eq!(pool.read(u, 0, 4).unwrap(), b"held");
    assert!(!dev.state().suspended);
    assert_eq!(host.pending(), 0);
}

#[test]
fn alternate_settings_change_the_endpoints() {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let i = pool.alloc(8).unwrap();
    host.submit(INTR_IN, i, 8, on_complete(&tx)).unwrap();
    let t = tx.clone();
    host.set_interface(1, move |r| {
        let _ = t.send(Ev::Op("alt", r));
    });
    // The interrupt endpoint is gone in alt 1: its transfer fails first.
    assert_eq!(done(&rx).status, Err(TransferError::NoEndpoint));
    assert_eq!(recv(&rx), Ev::Op("alt", Ok(())));
    assert_eq!(dev.state().alt, 1);
    assert_eq!(host.alt_setting(0), Some(1));
    assert_eq!(host.endpoint(BULK_IN).unwrap().max_packet_size, 64);
    assert_eq!(host.endpoint(INTR_IN), None);
    host.submit(INTR_IN, i, 8, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::NoEndpoint));
    // A setting the device lacks: refused, the old one stays.
    let t = tx.clone();
    host.set_interface(7, move |r| {
        let _ = t.send(Ev::Op("alt", r));
    });
    assert_eq!(recv(&rx), Ev::Op("alt", Err(TransferError::Stall)));
    assert_eq!(host.alt_setting(0), Some(1));
    let t = tx.clone();
    host.set_interface(0, move |r| {
        let _ = t.send(Ev::Op("alt", r));
    });
    assert_eq!(recv(&rx), Ev::Op("alt", Ok(())));
    dev.post_interrupt(&[5]);
    host.submit(INTR_IN, i, 8, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Ok(1));
}

#[test]
fn unplug_fails_everything_pending_and_later() {
    let (host, _dev, pool) = setup();
    let (tx, rx) = channel();
    let t = tx.clone();
    host.subscribe(Arc::new(move |e| {
        assert_eq!(e, HostEvent::Unplugged);
        let _ = t.send(Ev::Unplugged);
    }));
    let urbs: Vec<UrbId> = (0..4).map(|_| pool.alloc(32).unwrap()).collect();
    for &u in &urbs {
        host.submit(BULK_IN, u, 32, on_complete(&tx)).unwrap();
    }
    host.unplug();
    for &u in &urbs {
        let c = done(&rx);
        assert_eq!((c.urb, c.status), (u, Err(TransferError::NoDevice)));
    }
    assert_eq!(recv(&rx), Ev::Unplugged);
    host.submit(BULK_OUT, urbs[0], 1, on_complete(&tx)).unwrap();
    assert_eq!(done(&rx).status, Err(TransferError::NoDevice));
    let t = tx.clone();
    host.suspend(move |r| {
        let _ = t.send(Ev::Op("suspend", r));
    });
    assert_eq!(recv(&rx), Ev::Op("suspend", Err(TransferError::NoDevice)));
    let t = tx.clone();
    host.abort(BULK_IN, move || {
        let _ = t.send(Ev::AbortDone(BULK_IN));
    });
    assert_eq!(recv(&rx), Ev::AbortDone(BULK_IN));
    assert_eq!(host.pending(), 0);
    assert!(!host.is_present());
    // A late subscriber hears of it at once.
    let t = tx.clone();
    host.subscribe(Arc::new(move |_| {
        let _ = t.send(Ev::Unplugged);
    }));
    assert_eq!(recv(&rx), Ev::Unplugged);
    // The port takes a new device.
    host.attach(Loopback::new()).unwrap();
    assert!(host.is_present());
}

/// One run of traffic with an unplug at a moment drawn from `rng`.
fn unplug_during_traffic(rng: &mut Rng, scheduled: bool) {
    let (host, dev, pool) = setup();
    let (tx, rx) = channel();
    let t = tx.clone();
    host.subscribe(Arc::new(move |_| {
        let _ = t.send(Ev::Unplugged);
    }));
    let stop = Arc::new(Mutex::new(false));
    let unplugged_at_submit = Arc::new(Mutex::new(Vec::<UrbId>::new()));
    // The submitter: OUT/IN pairs and interrupt polls, until told to stop.
    let submitter = {
        let (host, pool, tx, stop, late) = (
            host.clone(),
            pool.clone(),
            tx.clone(),
            stop.clone(),
            unplugged_at_submit.clone(),
        );
        std::thread::spawn(move || {
            let mut submitted = Vec::new();
            let mut i = 0usize;
            loop {
                let done = *stop.lock().unwrap();
                let gone_before = !host.is_present();
                let p = payload(i, 1 + i % 100);
                let o = out_urb(&pool, &p);
                let n = pool.alloc(128).unwrap();
                host.submit(BULK_IN, n, 128, on_complete(&tx)).unwrap();
                host.submit(BULK_OUT, o, p.len(), on_complete(&tx)).unwrap();
                submitted.extend([n, o]);
                if i.is_multiple_of(8) {
                    let q = pool.alloc(8).unwrap();
                    host.submit(INTR_IN, q, 8, on_complete(&tx)).unwrap();
                    submitted.push(q);
                }
                if gone_before {
                    late.lock()
                        .unwrap()
                        .extend(&submitted[submitted.len() - 2..]);
                }
                i += 1;
                if done {
                    return submitted;
                }
                if i.is_multiple_of(16) {
                    std::thread::yield_now();
                }
            }
        })
    };
    let delay = Duration::from_micros(rng.below(3000));
    if scheduled {
        host.unplug_at(Instant::now() + delay);
        std::thread::sleep(delay);
    } else {
        std::thread::sleep(delay);
        host.unplug();
    }
    // Interrupt data now and then, racing with the unplug.
    dev.post_interrupt(&[1]);
    std::thread::sleep(Duration::from_micros(rng.below(500)));
    *stop.lock().unwrap() = true;
    let submitted = submitter.join().unwrap();
    let mut status: HashMap<UrbId, Result<usize, TransferError>> = HashMap::new();
    let mut after_unplug = false;
    let deadline = Instant::now() + WAIT;
    while status.len() < submitted.len() || !after_unplug {
        let e = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                panic!(
                    "hang: {} of {} completed, unplugged: {after_unplug}, pending {}",
                    status.len(),
                    submitted.len(),
                    host.pending()
                )
            });
        match e {
            Ev::Unplugged => {
                assert!(!after_unplug, "one unplug notification");
                after_unplug = true;
            }
            Ev::Done(c) => {
                if after_unplug {
                    assert_eq!(c.status, Err(TransferError::NoDevice), "after the unplug");
                }
                assert!(status.insert(c.urb, c.status).is_none(), "completed twice");
            }
            other => panic!("{other:?}"),
        }
    }
    for u in unplugged_at_submit.lock().unwrap().iter() {
        assert_eq!(
            status[u],
            Err(TransferError::NoDevice),
            "submitted after the unplug"
        );
    }
    assert!(submitted.iter().all(|u| status.contains_key(u)));
    assert_eq!(host.pending(), 0);
    assert!(host.wait_idle(WAIT));
    assert!(submitted.iter().all(|&u| pool.is_busy(u) == Ok(false)));
    nothing_within(&rx, 1);
}

#[test]
fn unplug_at_random_moments_during_traffic() {
    let mut rng = Rng(0x5eed_2024);
    for round in 0..100 {
        unplug_during_traffic(&mut rng, round % 2 == 1);
    }
}
