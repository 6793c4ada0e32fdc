//! Two AX88772 adapters joined by an in-process wire, each with the Dingo
//! driver under its observer: frames cross intact both ways.

use asix::adapter::{Adapter, AdapterConfig};
use dingo::Runtime;
use netwire::{Link, LinkConfig};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Frames per burst: 8 full-size frames (12 KiB) fit the chip's 16 KiB
/// receive FIFO.
const BURST: usize = 8;

fn config(mac_last: u8) -> AdapterConfig {
    let mut c = AdapterConfig {
        delay_percent: 0,
        poll_ms: 200,
        ..AdapterConfig::default()
    };
    c.chip.mac[5] = mac_last;
    c
}

struct Pair {
    _rt: Runtime,
    _link: Link,
    a: Adapter,
    b: Adapter,
    rx_a: mpsc::Receiver<Vec<u8>>,
    rx_b: mpsc::Receiver<Vec<u8>>,
}

fn pair(link: LinkConfig) -> Pair {
    let rt = Runtime::new();
    let a = Adapter::new(&rt, config(1)).unwrap();
    let b = Adapter::new(&rt, config(2)).unwrap();
    let link = Link::new(link).unwrap();
    link.a().attach(a.chip.clone());
    link.b().attach(b.chip.clone());
    a.chip.attach_wire(Arc::new(link.a()));
    b.chip.attach_wire(Arc::new(link.b()));
    let (ta, rx_a) = mpsc::channel();
    let (tb, rx_b) = mpsc::channel();
    let ta = std::sync::Mutex::new(ta);
    let tb = std::sync::Mutex::new(tb);
    a.net.set_receiver(Arc::new(move |f: &[u8]| {
        let _ = ta.lock().unwrap().send(f.to_vec());
    }));
    b.net.set_receiver(Arc::new(move |f: &[u8]| {
        let _ = tb.lock().unwrap().send(f.to_vec());
    }));
    a.bring_up(T).unwrap();
    b.bring_up(T).unwrap();
    assert!(a.net.wait_link(true, T), "link a");
    assert!(b.net.wait_link(true, T), "link b");
    Pair {
        _rt: rt,
        _link: link,
        a,
        b,
        rx_a,
        rx_b,
    }
}

/// A frame of `len` bytes from `src` to broadcast, numbered `n`.
fn frame(len: usize, src: u8, n: u32) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x00, 0x0E, 0xC6, 0x88, 0x77, src]);
    f[12..14].copy_from_slice(&[0x88, 0xB5]); // local experimental ethertype
    f[14..18].copy_from_slice(&n.to_be_bytes());
    for (i, b) in f.iter_mut().enumerate().skip(18) {
        *b = (i as u32 ^ n) as u8;
    }
    f
}

fn receive_all(rx: &mpsc::Receiver<Vec<u8>>, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while got.len() < want {
        match rx.recv_timeout(T) {
            Ok(f) => got.push(f),
            Err(_) => break,
        }
    }
    got
}

/// Sends `frames` from `from`, waiting for room in the OS backlog.
fn send(from: &Adapter, frames: &[Vec<u8>]) {
    for f in frames {
        let deadline = std::time::Instant::now() + T;
        while !from.net.transmit(f) {
            assert!(std::time::Instant::now() < deadline, "transmit stuck");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn frames_of_every_size_cross_intact_both_ways() {
    let p = pair(LinkConfig::fast_ethernet());
    let sizes: Vec<usize> = (60..=1514).collect();
    // Bursts of 8 frames each way at once: the chip packs several into one
    // bulk-IN transfer and splits frames across transfers. A burst fits the
    // chip's receive FIFO, so no frame may be lost however the machine
    // schedules the drivers.
    for (b, burst) in sizes.chunks(BURST).enumerate() {
        let first = (b * BURST) as u32;
        let from_a: Vec<Vec<u8>> = burst
            .iter()
            .enumerate()
            .map(|(i, &len)| frame(len, 1, first + i as u32))
            .collect();
        let from_b: Vec<Vec<u8>> = burst
            .iter()
            .enumerate()
            .map(|(i, &len)| frame(len, 2, first + i as u32))
            .collect();
        send(&p.a, &from_a);
        send(&p.b, &from_b);
        let at_b = receive_all(&p.rx_b, burst.len());
        let at_a = receive_all(&p.rx_a, burst.len());
        assert!(
            at_b == from_a,
            "a -> b, burst {b}: {} of {} frames, chip b {:?}",
            at_b.len(),
            from_a.len(),
            p.b.chip.stats()
        );
        assert!(
            at_a == from_b,
            "b -> a, burst {b}: {} of {} frames, chip a {:?}",
            at_a.len(),
            from_b.len(),
            p.a.chip.stats()
        );
    }
    let (a, b) = (p.a.chip.stats(), p.b.chip.stats());
    assert!(
        a.bulk_in_transfers + b.bulk_in_transfers < 2 * sizes.len() as u64,
        "several frames per bulk-IN transfer"
    );
    assert!(p.a.net.wait_idle(T) && p.b.net.wait_idle(T));
    for ad in [&p.a, &p.b] {
        assert_eq!(ad.violations(), Vec::<String>::new());
        ad.shut_down(T).unwrap();
        assert_eq!(ad.host.pending(), 0);
    }
}
