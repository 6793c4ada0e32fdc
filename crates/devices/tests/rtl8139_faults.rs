//! Fault injection and pcap capture of the RTL8139 model, seen through a
//! minimal driver written from device-facts.md §3.4–§3.7 (the same kind as
//! in `rtl8139.rs`; register values come from the facts, not the model).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use devices::rtl8139::{Config, Discard, Faults, FrameFaults, Rtl8139};
use hal::{DmaMemory, HostMemory, PciDevice};
use netwire::{Capture, FrameSink};

const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
const OTHER: [u8; 6] = [0x02, 0, 0, 0, 0, 9];
const RING: u32 = 32 * 1024;
/// 8139too's RCR: 32 KiB ring, WRAP, AB, APM (§3.3).
const RCR: u32 = 0xF78A;
/// RCR.AAP: promiscuous, so a corrupted destination address still passes.
const AAP: u32 = 1 << 0;
/// RCR.AER: accept error packets.
const AER: u32 = 1 << 5;

// ISR bits (§3.3).
const ROK: u16 = 0x01;
const RER: u16 = 0x02;
const TOK: u16 = 0x04;
const TER: u16 = 0x08;
const SERR: u16 = 0x8000;
// TSD bits (§3.3).
const OWN: u32 = 1 << 13;
const TSD_TOK: u32 = 1 << 15;
const TABT: u32 = 1 << 30;
// RX header status bits (8139too's RxStatusOK, RxCRCErr, RxPhysical).
const RX_OK: u16 = 0x0001;
const RX_CRC_ERR: u16 = 0x0004;
const RX_PHYSICAL: u16 = 0x4000;

#[derive(Default)]
struct Wire(Mutex<Vec<Vec<u8>>>);
impl FrameSink for Wire {
    fn send_frame(&self, frame: &[u8]) {
        self.0.lock().unwrap().push(frame.to_vec());
    }
}

/// One packet read from the ring: header status, payload, stored FCS.
struct Rx {
    status: u16,
    data: Vec<u8>,
    fcs: u32,
}

struct Driver {
    dev: Arc<Rtl8139>,
    mem: Arc<HostMemory>,
    wire: Arc<Wire>,
    irq: Arc<AtomicBool>,
    rcr: u32,
    ring: u64,
    tx: [u64; 4],
    cur_tx: usize,
    cur_rx: u32,
}

impl Driver {
    /// Probe (the parts that matter here) and open (§3.6).
    fn open(rcr: u32, faults: Faults) -> Driver {
        let mem = Arc::new(HostMemory::new());
        let dev = Arc::new(Rtl8139::new(
            Config {
                mac: MAC,
                faults,
                ..Config::default()
            },
            mem.clone() as Arc<dyn DmaMemory>,
        ));
        let wire = Arc::new(Wire::default());
        dev.attach_wire(wire.clone());
        dev.config_write(4, 2, 0x7); // I/O, memory, bus master
        let irq = Arc::new(AtomicBool::new(false));
        let i2 = irq.clone();
        dev.set_irq_handler(Arc::new(move |level| i2.store(level, Ordering::SeqCst)));
        let ring = mem.alloc(RING as usize + 16 + 2048, 16).unwrap().addr;
        let tx = [0; 4].map(|_| mem.alloc(1792, 4).unwrap().addr);
        let mut d = Driver {
            dev,
            mem,
            wire,
            irq,
            rcr,
            ring,
            tx,
            cur_tx: 0,
            cur_rx: 0,
        };
        d.hw_start();
        d
    }

    /// rtl8139_hw_start (§3.6), with the ring and TX indices reset.
    fn hw_start(&mut self) {
        let dev = &self.dev;
        dev.write8(0, 0x37, 0x10);
        assert_eq!(dev.read8(0, 0x37) & 0x10, 0, "reset self-clears");
        dev.write8(0, 0x50, 0xC0);
        dev.write32(0, 0, u32::from_le_bytes(MAC[..4].try_into().unwrap()));
        dev.write32(0, 4, u32::from(u16::from_le_bytes([MAC[4], MAC[5]])));
        dev.write32(0, 0x30, self.ring as u32);
        dev.write8(0, 0x37, 0x0C);
        dev.write32(0, 0x44, self.rcr);
        dev.write32(0, 0x40, 0x0300_0680);
        dev.write8(0, 0x50, 0);
        for (i, a) in self.tx.iter().enumerate() {
            dev.write32(0, 0x20 + 4 * i as u32, *a as u32);
        }
        dev.write32(0, 0x4C, 0);
        dev.write16(0, 0x3C, 0xC07F);
        self.cur_tx = 0;
        self.cur_rx = 0;
    }

    /// 8139too's transmit-timeout recovery (§3.6): TX off, IMR = 0, restart.
    fn tx_timeout(&mut self) {
        self.dev.write8(0, 0x37, 0x08);
        self.dev.write16(0, 0x3C, 0);
        self.hw_start();
    }

    /// Hand `frame` to the next descriptor; returns its TSD afterwards.
    fn start_tx(&mut self, frame: &[u8]) -> u32 {
        let n = self.cur_tx % 4;
        self.mem.write(self.tx[n], frame).unwrap();
        let tsd = 0x10 + 4 * n as u32;
        self.dev
            .write32(0, tsd, 0x0008_0000 | frame.len().max(60) as u32);
        self.cur_tx += 1;
        self.dev.read32(0, tsd)
    }

    fn isr(&self) -> u16 {
        self.dev.read16(0, 0x3E)
    }

    fn ack(&self, bits: u16) {
        self.dev.write16(0, 0x3E, bits);
    }

    fn sent(&self) -> Vec<Vec<u8>> {
        self.wire.0.lock().unwrap().clone()
    }

    /// rtl8139_rx for one packet (§3.5 driver side), error packets included.
    fn recv(&mut self) -> Option<Rx> {
        if self.dev.read8(0, 0x37) & 1 != 0 {
            return None;
        }
        let at = self.ring + u64::from(self.cur_rx % RING);
        let mut h = [0; 4];
        self.mem.read(at, &mut h).unwrap();
        let h = u32::from_le_bytes(h);
        let size = h >> 16;
        assert!((8..=1796).contains(&size), "bad header {h:#x}");
        let mut data = vec![0; size as usize];
        self.mem.read(at + 4, &mut data).unwrap();
        let fcs = data.split_off(size as usize - 4);
        self.cur_rx = (self.cur_rx + size + 4 + 3) & !3;
        self.dev
            .write16(0, 0x38, (self.cur_rx as u16).wrapping_sub(16));
        self.ack(0x51);
        Some(Rx {
            status: h as u16,
            data,
            fcs: u32::from_le_bytes(fcs.try_into().unwrap()),
        })
    }

    fn recv_all(&mut self) -> Vec<Rx> {
        std::iter::from_fn(|| self.recv()).collect()
    }
}

fn frame(len: usize, dst: [u8; 6], seed: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect();
    f[..6].copy_from_slice(&dst);
    f
}

fn frames(n: u8, len: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| frame(len, MAC, i)).collect()
}

/// Ethernet FCS (reflected CRC-32), written independently of the model.
fn fcs(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn rx_faults(rx: FrameFaults) -> Faults {
    Faults {
        rx,
        ..Faults::default()
    }
}

#[test]
fn drop_next_n_loses_exactly_n_and_the_next_arrives() {
    let mut d = Driver::open(
        RCR,
        rx_faults(FrameFaults {
            drop_next: 3,
            ..Default::default()
        }),
    );
    let sent = frames(5, 100);
    for f in &sent {
        d.dev.send_frame(f);
    }
    let got: Vec<_> = d.recv_all().into_iter().map(|r| r.data).collect();
    assert_eq!(got, sent[3..]);
    let stats = d.dev.stats();
    assert_eq!(stats.rx_fault_drops, 3);
    assert_eq!(stats.rx_frames, 2);
    assert_eq!(d.dev.faults().rx.drop_next, 0, "used up");
}

#[test]
fn drop_fraction_repeats_for_a_seed() {
    let run = |seed| {
        let mut d = Driver::open(
            RCR,
            Faults {
                seed,
                ..rx_faults(FrameFaults {
                    drop_fraction: 0.3,
                    ..Default::default()
                })
            },
        );
        let mut kept = Vec::new();
        for f in frames(200, 64) {
            d.dev.send_frame(&f);
            kept.extend(d.recv_all().into_iter().map(|r| r.data[6]));
        }
        assert_eq!(d.dev.stats().rx_fault_drops, 200 - kept.len() as u64);
        kept
    };
    let first = run(7);
    assert_eq!(first, run(7), "same seed, same losses");
    assert_ne!(first, run(8));
    assert!((110..=170).contains(&first.len()), "{}", first.len());
}

#[test]
fn corrupted_frames_are_dropped_with_aer_clear() {
    let mut d = Driver::open(
        RCR | AAP,
        rx_faults(FrameFaults {
            corrupt_next: 2,
            ..Default::default()
        }),
    );
    let sent = frames(4, 200);
    for f in &sent[..2] {
        d.dev.send_frame(f);
    }
    assert_eq!(d.isr() & (RER | ROK), RER, "CRC error seen, nothing stored");
    assert!(d.recv().is_none());
    d.ack(RER);
    for f in &sent[2..] {
        d.dev.send_frame(f);
    }
    let got = d.recv_all();
    assert_eq!(got.len(), 2);
    for (r, f) in got.iter().zip(&sent[2..]) {
        assert_eq!(r.status, RX_OK | RX_PHYSICAL);
        assert_eq!(&r.data, f);
        assert_eq!(r.fcs, fcs(f));
    }
    let stats = d.dev.stats();
    assert_eq!(stats.rx_fault_corruptions, 2);
    assert_eq!(stats.rx_crc_dropped, 2);
    assert_eq!(stats.rx_crc_stored, 0);
    assert_eq!(stats.rx_frames, 2);
    assert_eq!(d.dev.faults().rx.corrupt_next, 0);
}

#[test]
fn corrupted_frames_are_stored_with_crc_status_with_aer_set() {
    let mut d = Driver::open(
        RCR | AAP | AER,
        rx_faults(FrameFaults {
            corrupt_next: 1,
            ..Default::default()
        }),
    );
    let sent = frames(2, 300);
    d.dev.send_frame(&sent[0]);
    assert_eq!(d.isr() & (RER | ROK), RER, "an error, not a good frame");
    assert!(d.irq.load(Ordering::SeqCst), "RER is in 8139too's mask");
    d.ack(RER);
    d.dev.send_frame(&sent[1]);
    let got = d.recv_all();
    assert_eq!(got.len(), 2);
    let bad = &got[0];
    assert_eq!(bad.status & (RX_OK | RX_CRC_ERR), RX_CRC_ERR);
    assert_eq!(bad.data.len(), sent[0].len());
    let diffs: Vec<usize> = (0..bad.data.len())
        .filter(|&i| bad.data[i] != sent[0][i])
        .collect();
    assert_eq!(diffs.len(), 1, "one byte flipped");
    assert_eq!(bad.data[diffs[0]], sent[0][diffs[0]] ^ 0xFF);
    assert_eq!(bad.fcs, fcs(&sent[0]), "the FCS it was sent with");
    assert_ne!(bad.fcs, fcs(&bad.data), "which does not match");
    assert_eq!(got[1].status, RX_OK | RX_PHYSICAL);
    assert_eq!(got[1].data, sent[1]);
    let stats = d.dev.stats();
    assert_eq!(stats.rx_fault_corruptions, 1);
    assert_eq!(stats.rx_crc_stored, 1);
    assert_eq!(stats.rx_crc_dropped, 0);
    assert_eq!(stats.rx_frames, 2);
}

#[test]
fn tx_hang_holds_the_transmit_until_a_software_reset() {
    // Installed once the driver runs: its first reset would end the stall.
    let mut d = Driver::open(RCR, Faults::default());
    d.dev.set_faults(Faults {
        tx_hang: true,
        ..Faults::default()
    });
    for i in 0..2 {
        let tsd = d.start_tx(&frame(100, OTHER, i));
        assert_eq!(tsd & (OWN | TSD_TOK | TABT), 0, "unfinished: {tsd:#x}");
    }
    // Polling finds nothing finished, and no interrupt came.
    for n in 0..2 {
        assert_eq!(d.dev.read32(0, 0x10 + 4 * n) & (OWN | TSD_TOK), 0);
    }
    assert_eq!(d.isr() & (TOK | TER), 0);
    assert!(!d.irq.load(Ordering::SeqCst));
    assert!(d.sent().is_empty());
    // Rewriting TE does not restart the transmitter, nor count again.
    d.dev.write8(0, 0x37, 0x0C);
    assert!(d.sent().is_empty());
    assert_eq!(d.dev.stats().tx_hangs, 2);
    assert!(d.dev.faults().tx_hang);

    d.tx_timeout();
    assert!(!d.dev.faults().tx_hang, "the reset ended the stall");
    let next = frame(120, OTHER, 9);
    let tsd = d.start_tx(&next);
    assert_eq!(tsd & (OWN | TSD_TOK), OWN | TSD_TOK);
    assert_eq!(d.isr() & TOK, TOK);
    assert!(d.irq.load(Ordering::SeqCst));
    assert_eq!(d.sent(), vec![next], "the held frames were abandoned");
    assert_eq!(d.dev.stats().tx_hangs, 2);
}

#[test]
fn clearing_tx_hang_sends_the_held_frames() {
    // Installed once the driver runs: its first reset would end the stall.
    let mut d = Driver::open(RCR, Faults::default());
    d.dev.set_faults(Faults {
        tx_hang: true,
        ..Faults::default()
    });
    let sent: Vec<_> = (0..3).map(|i| frame(80, OTHER, i)).collect();
    for f in &sent {
        d.start_tx(f);
    }
    assert!(d.sent().is_empty());
    d.dev.set_faults(Faults::default());
    assert_eq!(d.sent(), sent);
    assert_eq!(d.isr() & TOK, TOK);
    for n in 0..3 {
        assert_eq!(
            d.dev.read32(0, 0x10 + 4 * n) & (OWN | TSD_TOK),
            OWN | TSD_TOK
        );
    }
    assert_eq!(d.dev.stats().tx_hangs, 3);
}

#[test]
fn tx_abort_next_aborts_exactly_n() {
    let mut d = Driver::open(
        RCR,
        Faults {
            tx_abort_next: 2,
            ..Faults::default()
        },
    );
    let sent: Vec<_> = (0..3).map(|i| frame(90, OTHER, i)).collect();
    for f in &sent[..2] {
        let tsd = d.start_tx(f);
        assert_eq!(tsd & (OWN | TSD_TOK | TABT), OWN | TABT, "{tsd:#x}");
        assert_eq!(d.isr() & (TOK | TER), TER);
        assert!(d.irq.load(Ordering::SeqCst));
        // 8139too: TCR = CLRABT, then ack TER.
        d.dev.write32(0, 0x40, 1);
        d.ack(TER);
    }
    assert!(d.sent().is_empty());
    let tsd = d.start_tx(&sent[2]);
    assert_eq!(tsd & (OWN | TSD_TOK | TABT), OWN | TSD_TOK);
    assert_eq!(d.isr() & (TOK | TER), TOK);
    assert_eq!(d.sent(), sent[2..]);
    let stats = d.dev.stats();
    assert_eq!(stats.tx_fault_aborts, 2);
    assert_eq!(stats.tx_errors, 2);
    assert_eq!(stats.tx_frames, 1);
    assert_eq!(d.dev.faults().tx_abort_next, 0);
}

#[test]
fn dma_fail_aborts_and_raises_serr_until_cleared() {
    let mut d = Driver::open(RCR, Faults::default());
    d.dev.set_faults(Faults {
        dma_fail: true,
        ..Faults::default()
    });
    let out = frame(100, OTHER, 1);
    let tsd = d.start_tx(&out);
    assert_eq!(tsd & (TSD_TOK | TABT), TABT);
    assert_eq!(d.isr() & TER, TER);
    let incoming = frame(100, MAC, 2);
    d.dev.send_frame(&incoming);
    assert_eq!(d.isr() & (SERR | ROK), SERR);
    assert!(d.recv().is_none(), "nothing reached the ring");
    assert!(d.sent().is_empty());
    let stats = d.dev.stats();
    assert_eq!(stats.dma_faults, 2);
    assert_eq!(stats.tx_errors, 1);
    assert_eq!(stats.rx_dma_errors, 1);
    d.ack(SERR | TER);

    d.dev.set_faults(Faults::default());
    let tsd = d.start_tx(&out);
    assert_eq!(tsd & (TSD_TOK | TABT), TSD_TOK);
    d.dev.send_frame(&incoming);
    assert_eq!(d.isr() & (SERR | ROK | TER), ROK);
    assert_eq!(d.recv().unwrap().data, incoming);
    assert_eq!(d.sent(), vec![out]);
    assert_eq!(d.dev.stats().dma_faults, 2);
}

#[test]
fn pcap_capture_parses_back_to_the_frames_sent_and_received() {
    let mut d = Driver::open(
        RCR,
        rx_faults(FrameFaults {
            drop_next: 1,
            ..Default::default()
        }),
    );
    let (capture, buf) = Capture::in_memory(Arc::new(Discard));
    d.dev.set_capture(Some(Arc::new(capture)));
    let lost = frame(100, MAC, 0);
    let a = frame(100, OTHER, 1);
    let b = frame(200, MAC, 2);
    let filtered = frame(150, OTHER, 3);
    let short = frame(42, [0xFF; 6], 4);
    let c = frame(1514, OTHER, 5);
    d.dev.send_frame(&lost); // dropped on the wire: never arrives
    d.start_tx(&a);
    d.dev.send_frame(&b);
    d.dev.send_frame(&filtered); // arrives, then the filter rejects it
    d.dev.send_frame(&short); // recorded as it arrived, unpadded
    d.start_tx(&c);
    let received: Vec<_> = d.recv_all().into_iter().map(|r| r.data).collect();
    assert_eq!(received.len(), 2);
    assert_eq!(d.sent(), vec![a.clone(), c.clone()]);
    let want = vec![a, b, filtered, short, c];
    let got: Vec<_> = buf.packets().unwrap().into_iter().map(|p| p.data).collect();
    assert_eq!(got, want);
    // Stopping the capture stops recording.
    d.dev.set_capture(None);
    d.start_tx(&frame(60, OTHER, 6));
    assert_eq!(buf.packets().unwrap().len(), want.len());
}

#[test]
fn capture_records_corrupted_frames_as_they_arrived() {
    let mut d = Driver::open(
        RCR | AAP | AER,
        rx_faults(FrameFaults {
            corrupt_next: 1,
            ..Default::default()
        }),
    );
    let (capture, buf) = Capture::in_memory(Arc::new(Discard));
    d.dev.set_capture(Some(Arc::new(capture)));
    let f = frame(100, MAC, 1);
    d.dev.send_frame(&f);
    let stored = d.recv().unwrap().data;
    assert_ne!(stored, f);
    let got: Vec<_> = buf.packets().unwrap().into_iter().map(|p| p.data).collect();
    assert_eq!(got, vec![stored]);
}

proptest::proptest! {
    #[test]
    fn random_faults_and_accesses_never_panic(
        seed in proptest::num::u64::ANY,
        ops in proptest::collection::vec(
            (0u8..12, 0u8..3, 0u32..0x110, proptest::num::u32::ANY),
            0..300,
        )
    ) {
        let mem = Arc::new(HostMemory::new());
        let buf = mem.alloc(70_000, 16).unwrap().addr as u32;
        let dev = Rtl8139::new(Config::default(), mem.clone() as Arc<dyn DmaMemory>);
        dev.attach_wire(Arc::new(Discard));
        dev.config_write(4, 2, 7);
        // Start running (promiscuous, errors accepted) so that random
        // transmits and frames reach the faults; random accesses may undo it.
        dev.write32(0, 0x30, buf);
        dev.write8(0, 0x37, 0x0C);
        dev.write32(0, 0x44, RCR | AAP | AER);
        for n in 0..4 {
            dev.write32(0, 0x20 + 4 * n, buf + 0x8000 + 0x800 * n);
        }
        dev.write16(0, 0x3C, 0xC07F);
        for (op, bar, off, v) in ops {
            match op {
                0 => { dev.read8(bar, off); }
                1 => { dev.read16(bar, off); }
                2 => { dev.read32(bar, off); }
                3 => dev.write8(bar, off, v as u8),
                4 => dev.write16(bar, off, v as u16),
                5 => dev.write32(bar, off, v),
                6 => dev.send_frame(&vec![v as u8; (v % 2000) as usize]),
                7 => dev.set_faults(Faults {
                    seed: seed ^ u64::from(v),
                    rx: FrameFaults {
                        drop_next: v & 3,
                        drop_fraction: f64::from(v & 0xF) / 10.0 - 0.2,
                        corrupt_next: (v >> 4) & 3,
                        corrupt_fraction: f64::from((v >> 8) & 0xF) / 8.0,
                    },
                    tx_hang: v & 0x1000 != 0,
                    tx_abort_next: (v >> 13) & 3,
                    dma_fail: v & 0x8000 != 0,
                }),
                8 => dev.set_link(v & 1 != 0),
                9 => {
                    let capture = (v & 1 != 0).then(|| Arc::new(Capture::in_memory(Arc::new(Discard)).0));
                    dev.set_capture(capture);
                }
                10 => dev.write32(0, 0x10 + 4 * (off % 4), v & 0x3FFF),
                _ => { dev.config_write(off as u16, (v % 5) as u8, v); dev.config_read(off as u16, bar); }
            }
        }
        let _ = dev.faults();
        let _ = dev.stats();
    }
}
