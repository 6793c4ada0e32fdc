//! Shared by the adapter tests: two AX88772 adapters with the Dingo driver,
//! joined by an in-process wire, and frames to send across.
#![allow(dead_code)]

use asix::adapter::{Adapter, AdapterConfig, plug};
use dingo::Runtime;
use netwire::{Link, LinkConfig};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

pub const T: Duration = Duration::from_secs(10);

/// Frames per burst: 8 full-size frames (12 KiB) fit the chip's 16 KiB
/// receive FIFO.
pub const BURST: usize = 8;

pub fn config(mac_last: u8) -> AdapterConfig {
    let mut c = AdapterConfig {
        delay_percent: 0,
        poll_ms: 200,
        ..AdapterConfig::default()
    };
    c.chip.mac[5] = mac_last;
    c
}

pub struct Pair {
    pub rt: Runtime,
    pub link: Link,
    pub a: Adapter,
    pub b: Adapter,
    pub rx_a: mpsc::Receiver<Vec<u8>>,
    pub rx_b: mpsc::Receiver<Vec<u8>>,
}

pub fn pair(link: LinkConfig) -> Pair {
    pair_with(link, |_| {})
}

/// A pair whose adapters' configurations `tune` adjusts first.
pub fn pair_with(link: LinkConfig, tune: impl Fn(&mut AdapterConfig)) -> Pair {
    let rt = Runtime::new();
    let (mut ca, mut cb) = (config(1), config(2));
    tune(&mut ca);
    tune(&mut cb);
    let a = Adapter::new(&rt, ca).unwrap();
    let b = Adapter::new(&rt, cb).unwrap();
    let link = Link::new(link).unwrap();
    // The cable: a chip has carrier while both ends are plugged in.
    plug(&a.chip, link.a());
    plug(&b.chip, link.b());
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
        rt,
        link,
        a,
        b,
        rx_a,
        rx_b,
    }
}

/// A frame of `len` bytes from `src` to broadcast, numbered `n`.
pub fn frame(len: usize, src: u8, n: u32) -> Vec<u8> {
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

pub fn receive_all(rx: &mpsc::Receiver<Vec<u8>>, want: usize) -> Vec<Vec<u8>> {
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
pub fn send(from: &Adapter, frames: &[Vec<u8>]) {
    for f in frames {
        let deadline = std::time::Instant::now() + T;
        while !from.net.transmit(f) {
            assert!(std::time::Instant::now() < deadline, "transmit stuck");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
