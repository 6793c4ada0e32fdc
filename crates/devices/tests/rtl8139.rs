//! The RTL8139 model driven by a minimal driver through `hal::PciDevice`
//! and `hal::HostMemory`, following device-facts.md §3.4–§3.6. Register
//! values are written from the facts here, not taken from the model.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use devices::rtl8139::{Config, Rtl8139};
use hal::{DmaMemory, HostMemory, PciDevice};
use netwire::FrameSink;

const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
const RING: u32 = 32 * 1024;

#[derive(Default)]
struct Wire(Mutex<Vec<Vec<u8>>>);
impl FrameSink for Wire {
    fn send_frame(&self, frame: &[u8]) {
        self.0.lock().unwrap().push(frame.to_vec());
    }
}

struct Driver {
    dev: Arc<Rtl8139>,
    mem: Arc<HostMemory>,
    wire: Arc<Wire>,
    irq: Arc<AtomicBool>,
    ring: u64,
    tx: [u64; 4],
    cur_tx: usize,
    cur_rx: u32,
}

fn eeprom_read(dev: &Rtl8139, addr_len: u32, loc: u32) -> u16 {
    // §3.8 / 8139too read_eeprom.
    let cmd = loc | 6 << addr_len;
    dev.write8(0, 0x50, 0x80);
    dev.write8(0, 0x50, 0x88);
    for i in (0..=4 + addr_len).rev() {
        let di = if cmd & (1 << i) != 0 { 2 } else { 0 };
        dev.write8(0, 0x50, 0x88 | di);
        dev.write8(0, 0x50, 0x88 | di | 4);
    }
    dev.write8(0, 0x50, 0x88);
    let mut v = 0u16;
    for _ in 0..16 {
        dev.write8(0, 0x50, 0x88 | 4);
        v = v << 1 | u16::from(dev.read8(0, 0x50) & 1);
        dev.write8(0, 0x50, 0x88);
    }
    dev.write8(0, 0x50, 0);
    v
}

impl Driver {
    /// Probe and open (§3.6).
    fn open(rcr: u32) -> Driver {
        let mem = Arc::new(HostMemory::new());
        let dev = Arc::new(Rtl8139::new(
            Config {
                mac: MAC,
                ..Config::default()
            },
            mem.clone() as Arc<dyn DmaMemory>,
        ));
        let wire = Arc::new(Wire::default());
        dev.attach_wire(wire.clone());
        assert_eq!(dev.config_read(0, 4), 0x8139_10EC);
        assert!(dev.config_read(8, 1) < 0x20, "revision gate §3.1");
        assert_eq!(dev.config_read(0x10, 4) & 1, 1, "BAR0 is I/O");
        assert_eq!(dev.read32(0, 0x40), u32::MAX, "I/O decoding off");
        dev.config_write(4, 2, 0x7); // I/O, memory, bus master
        let irq = Arc::new(AtomicBool::new(false));
        let i2 = irq.clone();
        dev.set_irq_handler(Arc::new(move |level| i2.store(level, Ordering::SeqCst)));
        dev.write8(0, 0x5B, b'R');
        assert_eq!(dev.read32(0, 0x40) & 0x7CC0_0000, 0x7400_0000);
        dev.write8(0, 0x37, 0x10);
        assert_eq!(dev.read8(0, 0x37) & 0x10, 0, "reset self-clears");
        assert_ne!(eeprom_read(&dev, 8, 0), 0x8129, "93C46, not 93C56");
        assert_eq!(eeprom_read(&dev, 6, 0), 0x8129);
        let mut mac = [0; 6];
        for i in 0..3 {
            mac[2 * i..][..2].copy_from_slice(&eeprom_read(&dev, 6, 7 + i as u32).to_le_bytes());
        }
        assert_eq!(mac, MAC);
        let ring = mem.alloc(RING as usize + 16 + 2048, 16).unwrap().addr;
        let tx = [0; 4].map(|_| mem.alloc(1792, 4).unwrap().addr);
        // hw_start
        dev.write8(0, 0x37, 0x10);
        dev.write8(0, 0x50, 0xC0);
        dev.write32(0, 0, u32::from_le_bytes(mac[..4].try_into().unwrap()));
        dev.write32(0, 4, u32::from(u16::from_le_bytes([mac[4], mac[5]])));
        dev.write32(0, 0x30, ring as u32);
        dev.write8(0, 0x37, 0x0C);
        dev.write32(0, 0x44, rcr);
        dev.write32(0, 0x40, 0x0300_0680);
        dev.write8(0, 0x50, 0);
        for (i, a) in tx.iter().enumerate() {
            dev.write32(1, 0x20 + 4 * i as u32, *a as u32); // via MMIO BAR1
        }
        dev.write32(0, 0x4C, 0);
        dev.write16(0, 0x3C, 0xC07F);
        assert_eq!(dev.read8(0, 0x37), 0x0D, "RE|TE|BUFE");
        assert_eq!(dev.read16(0, 0x38), 0xFFF0);
        Driver {
            dev,
            mem,
            wire,
            irq,
            ring,
            tx,
            cur_tx: 0,
            cur_rx: 0,
        }
    }

    fn send(&mut self, frame: &[u8]) {
        let n = self.cur_tx % 4;
        self.mem.write(self.tx[n], frame).unwrap();
        self.dev.write32(
            0,
            0x10 + 4 * n as u32,
            0x0008_0000 | frame.len().max(60) as u32,
        );
        let tsd = self.dev.read32(0, 0x10 + 4 * n as u32);
        assert_eq!(tsd & 0xA000, 0xA000, "OWN|TOK on descriptor {n}");
        self.cur_tx += 1;
    }

    /// rtl8139_rx for one packet (§3.5 driver side): header, payload.
    fn recv(&mut self) -> Option<(u16, Vec<u8>)> {
        if self.dev.read8(0, 0x37) & 1 != 0 {
            return None;
        }
        assert_eq!(self.cur_rx % 4, 0);
        let mut h = [0; 4];
        self.mem
            .read(self.ring + u64::from(self.cur_rx % RING), &mut h)
            .unwrap();
        let h = u32::from_le_bytes(h);
        let size = h >> 16;
        assert!(
            (8..=1796).contains(&size) && h & 1 == 1,
            "bad header {h:#x}"
        );
        let mut data = vec![0; size as usize];
        self.mem
            .read(self.ring + u64::from(self.cur_rx % RING) + 4, &mut data)
            .unwrap();
        self.cur_rx = (self.cur_rx + size + 4 + 3) & !3;
        self.dev
            .write16(0, 0x38, (self.cur_rx as u16).wrapping_sub(16));
        self.dev.write16(0, 0x3E, 0x51);
        data.truncate(size as usize - 4);
        Some((h as u16, data))
    }
}

fn frame(len: usize, dst: [u8; 6], seed: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect();
    f[..6].copy_from_slice(&dst);
    f
}

#[test]
fn transmit_round_robin_all_sizes() {
    let mut d = Driver::open(0xF78A);
    let sizes: Vec<usize> = (60..=1514).step_by(97).chain([1514]).collect();
    for (i, &len) in sizes.iter().enumerate() {
        d.send(&frame(len, [0xFF; 6], i as u8));
        assert!(d.irq.load(Ordering::SeqCst));
        assert_eq!(d.dev.read16(0, 0x3E) & 0x04, 0x04, "ISR.TOK");
        d.dev.write16(0, 0x3E, 0x04);
        assert!(!d.irq.load(Ordering::SeqCst), "cleared by ISR write");
    }
    let got = d.wire.0.lock().unwrap().clone();
    assert_eq!(got.len(), sizes.len());
    for (i, (f, &len)) in got.iter().zip(&sizes).enumerate() {
        assert_eq!(f, &frame(len, [0xFF; 6], i as u8));
    }
}

#[test]
fn out_of_turn_descriptor_waits() {
    let mut d = Driver::open(0xF78A);
    d.mem.write(d.tx[1], &frame(60, [0xFF; 6], 1)).unwrap();
    d.dev.write32(0, 0x14, 60);
    assert!(d.wire.0.lock().unwrap().is_empty(), "descriptor 1 before 0");
    d.mem.write(d.tx[0], &frame(60, [0xFF; 6], 0)).unwrap();
    d.dev.write32(0, 0x10, 60);
    let got = d.wire.0.lock().unwrap().clone();
    assert_eq!(got, vec![frame(60, [0xFF; 6], 0), frame(60, [0xFF; 6], 1)]);
    d.cur_tx = 2;
    d.send(&frame(100, [0xFF; 6], 2));
}

#[test]
fn receive_headers_lengths_alignment_and_filter() {
    let mut d = Driver::open(0xF78A);
    let mut sent = Vec::new();
    for (i, len) in [60usize, 61, 62, 63, 64, 1000, 1514]
        .into_iter()
        .enumerate()
    {
        let f = frame(len, MAC, i as u8);
        d.dev.send_frame(&f);
        sent.push(f);
    }
    d.dev.send_frame(&frame(100, [0x02, 0, 0, 0, 0, 9], 0)); // not ours
    d.dev.send_frame(&frame(100, [0x01, 0, 0x5E, 0, 0, 1], 0)); // multicast, no AM
    let b = frame(42, [0xFF; 6], 9);
    d.dev.send_frame(&b);
    assert!(d.irq.load(Ordering::SeqCst));
    for f in &sent {
        let (status, data) = d.recv().unwrap();
        assert_eq!(status, 0x4001, "ROK|PAM");
        assert_eq!(&data, f);
    }
    let (status, data) = d.recv().unwrap();
    assert_eq!(status, 0x2001, "ROK|BAR");
    assert_eq!(data.len(), 60, "padded");
    assert_eq!(&data[..42], &b[..]);
    assert!(d.recv().is_none());
    assert!(!d.irq.load(Ordering::SeqCst));
    assert_eq!(d.dev.stats().rx_filtered, 2);
}

fn ring_wraps(rcr: u32) {
    let mut d = Driver::open(rcr);
    let mut n = 0u8;
    // Many rounds through the 32 KiB ring with odd sizes, draining as we go.
    for round in 0..200usize {
        let f = frame(60 + (round * 131) % 1455, MAC, n);
        n = n.wrapping_add(1);
        d.dev.send_frame(&f);
        let (_, data) = d.recv().expect("frame received");
        assert_eq!(data, f, "round {round}");
    }
    assert!(d.cur_rx > 2 * RING, "wrapped at least twice");
}

#[test]
fn ring_wraps_with_wrap_bit() {
    ring_wraps(0xF78A);
}

#[test]
fn ring_wraps_without_wrap_bit() {
    // WRAP = 0: the driver must read a split packet from the ring start.
    let mut d = Driver::open(0xF70A);
    let mut n = 0u8;
    for round in 0..200usize {
        let f = frame(60 + (round * 131) % 1455, MAC, n);
        n = n.wrapping_add(1);
        d.dev.send_frame(&f);
        let off = d.cur_rx % RING;
        let mut h = [0; 4];
        d.mem.read(d.ring + u64::from(off), &mut h).unwrap();
        let size = u32::from_le_bytes(h) >> 16;
        let mut data = vec![0; size as usize - 4];
        for (i, b) in data.iter_mut().enumerate() {
            let mut x = [0];
            d.mem
                .read(d.ring + u64::from((off + 4 + i as u32) % RING), &mut x)
                .unwrap();
            *b = x[0];
        }
        assert_eq!(data, f, "round {round}");
        d.cur_rx = (d.cur_rx + size + 4 + 3) & !3;
        d.dev.write16(0, 0x38, (d.cur_rx as u16).wrapping_sub(16));
    }
}

#[test]
fn overflow_sets_rxovw() {
    let mut d = Driver::open(0xF78A);
    for _ in 0..40 {
        d.dev.send_frame(&frame(1514, MAC, 0));
    }
    assert_eq!(d.dev.read16(0, 0x3E) & 0x10, 0x10, "RXOVW");
    assert!(d.dev.read32(0, 0x4C) > 0, "MPC counts");
    let mut got = 0;
    while d.recv().is_some() {
        got += 1;
    }
    assert_eq!(got, 21, "32 KiB holds 21 full frames");
}

#[test]
fn link_change_interrupt() {
    let d = Driver::open(0xF78A);
    assert_eq!(d.dev.read8(0, 0x58) & 4, 0);
    d.dev.set_link(false);
    assert!(d.irq.load(Ordering::SeqCst));
    assert_eq!(d.dev.read16(0, 0x3E) & 0x20, 0x20);
    assert_eq!(
        d.dev.read16(0, 0x74) & 0x0C00,
        0x0800,
        "LinkChange, not LinkOK"
    );
    assert_eq!(d.dev.read16(0, 0x74) & 0x0800, 0, "clears on read");
    assert_eq!(d.dev.read16(0, 0x64) & 4, 0, "BMSR link down");
    assert_eq!(d.dev.read8(0, 0x58) & 4, 4, "MSR LINKB");
    d.dev.write16(0, 0x3C, 0);
    assert!(!d.irq.load(Ordering::SeqCst), "masked");
}

proptest::proptest! {
    #[test]
    fn random_register_accesses_never_panic(
        ops in proptest::collection::vec((0u8..8, 0u8..3, 0u32..0x110, proptest::num::u32::ANY), 0..300)
    ) {
        let mem = Arc::new(HostMemory::new());
        let _buf = mem.alloc(70_000, 16).unwrap();
        let dev = Rtl8139::new(Config::default(), mem.clone() as Arc<dyn DmaMemory>);
        dev.config_write(4, 2, 7);
        for (op, bar, off, v) in ops {
            match op {
                0 => { dev.read8(bar, off); }
                1 => { dev.read16(bar, off); }
                2 => { dev.read32(bar, off); }
                3 => dev.write8(bar, off, v as u8),
                4 => dev.write16(bar, off, v as u16),
                5 => dev.write32(bar, off, v),
                6 => dev.send_frame(&vec![v as u8; (v % 2000) as usize]),
                _ => { dev.config_write(off as u16, (v % 5) as u8, v); dev.config_read(off as u16, bar); }
            }
        }
    }
}
