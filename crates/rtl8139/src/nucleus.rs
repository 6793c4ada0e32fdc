//! The nucleus: the driver's fast path, in the privileged process. It
//! owns the device handle, the DMA rings and the ring indices; it handles
//! interrupts (receive, transmit completion, errors), transmits, and
//! counts. Everything else is the slow path's (`crate::slow`), which it
//! runs on its work thread, never from interrupt context.
//!
//! ```text
//!   IRQ (any thread) ──▶ interrupt(): pending = 1; try_lock
//!   transmit(frame) ───▶ lock ─┐        │ got it        │ busy: the holder
//!                              ▼        ▼               │ services it
//!                      ┌─ Fast (Mutex) ───────────────┐  │ before unlocking
//!                      │ rings, cur_rx, cur/dirty_tx, │◀─┘
//!                      │ held (slow path owns device) │
//!                      └──────────────────────────────┘
//!                        unlock ─▶ frames to the OS, wake transmitters
//! ```
//!
//! The interrupt handler never waits: if another thread holds the fast
//! state, it leaves `pending` set and the holder services the interrupt
//! before it lets go (and checks again after). So every holder lets go
//! through `unlock`, never by dropping the guard: the device's line is
//! level-triggered and notified on changes, and an interrupt left
//! unserviced would keep it raised with no new notification. While the slow path owns
//! the device (`held`: probe, open, close, recovery, receive mode,
//! suspend, resume), the fast path does not touch it: transmits are
//! refused as if the queue were stopped, and an interrupt is remembered
//! and serviced when the slow path lets go.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hal::{DmaBuffer, DmaMemory, PciDevice};
use netwire::FrameSink;

use crate::handoff::{Condvar, Guard, Handoff};
use crate::regs::{
    ETH_ZLEN, MAX_FRAME, NUM_TX_DESC, RX_ALLOC_LEN, RX_RING_LEN, TCR_CLRABT, TCR_VALUE, TX_BUF_LEN,
    cr, int, reg, rx_status, tsd,
};

/// The BAR the driver uses: BAR0, port I/O (8139too's default).
pub const BAR: u8 = 0;
/// Frames received per service before the others get the lock again.
const RX_BUDGET: usize = 64;

/// Why a transmit was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// The queue is stopped: the interface is down, or the slow path owns
    /// the device for a moment. Try again later.
    Stopped,
    /// All four descriptors are in flight. Try again after a completion.
    Full,
    /// Shorter than an Ethernet header or longer than 1514 bytes.
    BadLength(usize),
    /// The frame could not be copied to the DMA buffer.
    Dma,
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::Stopped => f.write_str("the transmit queue is stopped"),
            TxError::Full => f.write_str("all transmit descriptors are in flight"),
            TxError::BadLength(n) => write!(f, "a {n}-byte frame cannot be sent (14..=1514)"),
            TxError::Dma => f.write_str("the frame could not be copied for DMA"),
        }
    }
}

impl std::error::Error for TxError {}

/// The fast path's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastStats {
    /// Interrupts serviced (the device's status had a bit for us).
    pub interrupts: u64,
    /// Interrupts that found the slow path holding the device (serviced
    /// when it let go).
    pub deferred_interrupts: u64,
    /// Frames handed to the chip.
    pub tx_queued: u64,
    /// Frames the chip reported sent.
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Transmits aborted or underrun.
    pub tx_errors: u64,
    /// Frames in flight dropped by a transmit-timeout recovery.
    pub tx_dropped: u64,
    /// Frames received and passed to the OS.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Bad receive headers (each restarts the receive ring).
    pub rx_errors: u64,
    /// Receive ring or FIFO overflows reported.
    pub rx_overflows: u64,
    /// PCI (DMA) errors reported.
    pub pci_errors: u64,
    /// Link-change interrupts (each queues a media check).
    pub link_changes: u64,
}

/// The DMA buffers of an open interface.
#[derive(Clone, Copy, Debug)]
pub struct Rings {
    /// The receive ring.
    pub rx: DmaBuffer,
    /// The four transmit bounce buffers.
    pub tx: [DmaBuffer; NUM_TX_DESC],
}

/// What the fast path's lock guards.
struct Fast {
    up: bool,
    held: bool,
    irq_deferred: bool,
    rings: Option<Rings>,
    rx_config: u32,
    cur_rx: u32,
    cur_tx: u64,
    dirty_tx: u64,
    tx_started: [Option<Instant>; NUM_TX_DESC],
    stats: FastStats,
    /// Frames received under the lock, delivered after it.
    rx_out: Vec<Vec<u8>>,
    tx_woken: bool,
    link_change: bool,
}

/// The fast path. Shared (`Arc`) between the OS's transmit calls, the
/// interrupt handler and the work thread.
pub struct Nucleus {
    dev: Arc<dyn PciDevice>,
    mem: Arc<dyn DmaMemory>,
    os: Arc<dyn FrameSink>,
    fast: Handoff<Fast>,
    tx_room: Condvar,
    /// Set by the interrupt path when a link change wants a media check
    /// (the work thread polls it: no call from interrupt context).
    link_work: AtomicBool,
    /// Register accesses done for the slow path.
    slow_accesses: AtomicU64,
}

impl std::fmt::Debug for Nucleus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nucleus")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Nucleus {
    /// A nucleus for `dev`, allocating from `mem` and passing received
    /// frames to `os`. The interface is down and the device held for the
    /// slow path until [`Nucleus::release`].
    pub fn new(
        dev: Arc<dyn PciDevice>,
        mem: Arc<dyn DmaMemory>,
        os: Arc<dyn FrameSink>,
    ) -> Arc<Nucleus> {
        let nucleus = Arc::new(Nucleus {
            dev,
            mem,
            os,
            fast: Handoff::new(Fast {
                up: false,
                held: true,
                irq_deferred: false,
                rings: None,
                rx_config: 0,
                cur_rx: 0,
                cur_tx: 0,
                dirty_tx: 0,
                tx_started: [None; NUM_TX_DESC],
                stats: FastStats::default(),
                rx_out: Vec::new(),
                tx_woken: false,
                link_change: false,
            }),
            tx_room: Condvar::new(),
            link_work: AtomicBool::new(false),
            slow_accesses: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&nucleus);
        nucleus.dev.set_irq_handler(Arc::new(move |level| {
            if let Some(n) = weak.upgrade() {
                n.interrupt(level);
            }
        }));
        nucleus
    }

    /// The device.
    pub fn device(&self) -> &Arc<dyn PciDevice> {
        &self.dev
    }

    /// The fast path's counters.
    pub fn stats(&self) -> FastStats {
        self.with_fast(|_, f| f.stats)
    }

    /// Register accesses made for the slow path so far.
    pub fn slow_accesses(&self) -> u64 {
        self.slow_accesses.load(Ordering::Relaxed)
    }

    /// Counts `n` register accesses made for the slow path.
    pub(crate) fn count_slow_accesses(&self, n: u64) {
        self.slow_accesses.fetch_add(n, Ordering::Relaxed);
    }

    /// The interrupt handler (level-triggered line, notified on changes).
    /// Never waits: if the fast state is taken, its holder services the
    /// interrupt (`handoff`).
    pub fn interrupt(&self, level: bool) {
        if !level {
            return;
        }
        if let Some(g) = self.fast.notify() {
            self.unlock(g);
        }
    }

    /// Runs `f` with the fast state, then services interrupts that came
    /// meanwhile and delivers what they produced.
    fn with_fast<R>(&self, f: impl FnOnce(&Nucleus, &mut Fast) -> R) -> R {
        let mut g = self.fast.lock();
        let r = f(self, &mut g);
        self.unlock(g);
        r
    }

    /// Services pending interrupts, lets go of the fast state, delivers
    /// received frames and wakes transmitters; again if an interrupt came
    /// in between. Every holder lets go through here.
    fn unlock<'s>(&'s self, mut g: Guard<'s, Fast>) {
        loop {
            while self.fast.take_pending() {
                self.service(&mut g);
            }
            let frames = std::mem::take(&mut g.rx_out);
            let woken = std::mem::take(&mut g.tx_woken);
            if std::mem::take(&mut g.link_change) {
                self.link_work.store(true, Ordering::SeqCst);
            }
            self.fast.unlock(g);
            if woken {
                self.tx_room.notify_all();
            }
            for frame in frames {
                self.os.send_frame(&frame);
            }
            match self.fast.retake_if_pending() {
                Some(next) => g = next,
                None => return,
            }
        }
    }

    /// The interrupt's work (8139too's rtl8139_interrupt with the receive
    /// poll inline), under the fast lock.
    fn service(&self, f: &mut Fast) {
        if f.held {
            if !f.irq_deferred {
                f.stats.deferred_interrupts += 1;
            }
            f.irq_deferred = true;
            return;
        }
        let status = self.dev.read16(BAR, reg::ISR);
        if status == 0xFFFF || status & int::ALL == 0 {
            // Gone, or not ours (a shared line).
            return;
        }
        if !f.up {
            self.dev.write16(BAR, reg::IMR, 0);
            return;
        }
        f.stats.interrupts += 1;
        // Acknowledge first: an event during the work below raises the
        // line again and is serviced by the loop in `unlock`.
        self.dev.write16(BAR, reg::ISR, status & int::ALL);
        if status & int::RX_ACK != 0 {
            if status & (int::RXOVW | int::FOVW) != 0 {
                f.stats.rx_overflows += 1;
            }
            self.receive(f);
        }
        if status & int::LINK_CHG != 0 {
            // Read CSCR (LinkChange clears on read) and defer the check.
            let _ = self.dev.read16(BAR, reg::CSCR);
            f.stats.link_changes += 1;
            f.link_change = true;
        }
        if status & (int::TOK | int::TER) != 0 {
            self.tx_done(f);
        }
        if status & int::SERR != 0 {
            f.stats.pci_errors += 1;
            let pci_status = self.dev.config_read(6, 2);
            self.dev.config_write(6, 2, pci_status);
        }
        if status & (int::RER | int::TIMEOUT) != 0 {
            f.stats.rx_errors += 1;
        }
        // The line is level-triggered and the device notifies changes
        // only: an event that came after the ISR read above keeps the line
        // raised with no new notification. So look again before going.
        if self.dev.read16(BAR, reg::ISR) & int::ALL != 0 {
            self.fast.set_pending();
        }
    }

    /// rtl8139_rx: frames from the ring until it is empty or the budget
    /// is spent.
    fn receive(&self, f: &mut Fast) {
        let Some(rings) = f.rings else { return };
        for _ in 0..RX_BUDGET {
            if self.dev.read8(BAR, reg::CR) & cr::BUFE != 0 {
                return;
            }
            let offset = f.cur_rx % RX_RING_LEN;
            let mut header = [0u8; 4];
            if self
                .mem
                .read(rings.rx.addr + u64::from(offset), &mut header)
                .is_err()
            {
                return self.receive_error(f);
            }
            let status = u16::from_le_bytes([header[0], header[1]]);
            let size = u32::from(u16::from_le_bytes([header[2], header[3]]));
            if size == 0xFFF0 {
                // The chip is still copying (early receive): later.
                return;
            }
            if !(8..=MAX_FRAME as u32 + 4 + 4).contains(&size) || status & rx_status::ROK == 0 {
                return self.receive_error(f);
            }
            let len = (size - 4) as usize;
            let mut frame = vec![0u8; len];
            if self
                .mem
                .read(rings.rx.addr + u64::from(offset) + 4, &mut frame)
                .is_err()
            {
                return self.receive_error(f);
            }
            f.stats.rx_packets += 1;
            f.stats.rx_bytes += len as u64;
            f.rx_out.push(frame);
            // Kept inside the ring: chips compare CAPR + 16 with CBR
            // modulo the ring size, but one need not rely on it.
            f.cur_rx = ((f.cur_rx + size + 4 + 3) & !3) % RX_RING_LEN;
            self.dev
                .write16(BAR, reg::CAPR, f.cur_rx.wrapping_sub(16) as u16);
        }
        // Budget spent: come back after the others had a turn.
        self.fast.set_pending();
    }

    /// rtl8139_rx_err: a bad header; restart the receiver and the ring.
    fn receive_error(&self, f: &mut Fast) {
        f.stats.rx_errors += 1;
        self.dev.write8(BAR, reg::CR, cr::TE);
        self.dev.write8(BAR, reg::CR, cr::RE | cr::TE);
        // Rewriting RCR restarts the ring at 0 (CBR and CAPR).
        self.dev.write32(BAR, reg::RCR, f.rx_config);
        f.cur_rx = 0;
        self.dev.write16(BAR, reg::IMR, int::ALL);
    }

    /// Transmit completions, oldest first.
    fn tx_done(&self, f: &mut Fast) {
        let mut progress = false;
        while f.dirty_tx != f.cur_tx {
            let entry = (f.dirty_tx % NUM_TX_DESC as u64) as usize;
            let status = self.dev.read32(BAR, reg::TSD0 + 4 * entry as u32);
            if status & (tsd::TOK | tsd::TUN | tsd::TABT) == 0 {
                break;
            }
            if status & tsd::TABT != 0 {
                f.stats.tx_errors += 1;
                self.dev.write32(BAR, reg::TCR, TCR_VALUE | TCR_CLRABT);
                self.dev.write16(BAR, reg::ISR, int::TER);
            } else if status & tsd::TUN != 0 {
                f.stats.tx_errors += 1;
            } else {
                f.stats.tx_packets += 1;
                f.stats.tx_bytes += u64::from(status & 0x1FFF);
            }
            f.tx_started[entry] = None;
            f.dirty_tx += 1;
            progress = true;
        }
        if progress {
            f.tx_woken = true;
        }
    }

    /// Transmits `frame` (padded to 60 bytes), or says why not.
    pub fn transmit(&self, frame: &[u8]) -> Result<(), TxError> {
        if !(14..=MAX_FRAME).contains(&frame.len()) {
            return Err(TxError::BadLength(frame.len()));
        }
        self.with_fast(|n, f| {
            if !f.up || f.held {
                return Err(TxError::Stopped);
            }
            let Some(rings) = f.rings else {
                return Err(TxError::Stopped);
            };
            if f.cur_tx - f.dirty_tx >= NUM_TX_DESC as u64 {
                return Err(TxError::Full);
            }
            let entry = (f.cur_tx % NUM_TX_DESC as u64) as usize;
            let addr = rings.tx[entry].addr;
            let copied = if frame.len() < ETH_ZLEN {
                let mut padded = [0u8; ETH_ZLEN];
                padded[..frame.len()].copy_from_slice(frame);
                n.mem.write(addr, &padded)
            } else {
                n.mem.write(addr, frame)
            };
            copied.map_err(|_| TxError::Dma)?;
            f.cur_tx += 1;
            f.tx_started[entry] = Some(Instant::now());
            f.stats.tx_queued += 1;
            let len = frame.len().max(ETH_ZLEN) as u32;
            n.dev.write32(
                BAR,
                reg::TSD0 + 4 * entry as u32,
                tsd::EARLY_THRESHOLD | len,
            );
            Ok(())
        })
    }

    /// Transmits `frame`, waiting up to `timeout` while the queue is full
    /// or stopped.
    pub fn transmit_wait(&self, frame: &[u8], timeout: Duration) -> Result<(), TxError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.transmit(frame) {
                Err(e @ (TxError::Full | TxError::Stopped)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(e);
                    }
                    let mut g = self.fast.lock();
                    let busy = g.cur_tx - g.dirty_tx >= NUM_TX_DESC as u64 || !g.up || g.held;
                    if busy {
                        let wait = (deadline - now).min(Duration::from_millis(10));
                        g = self.fast.wait_timeout(&self.tx_room, g, wait);
                    }
                    // Every holder of the fast state lets go through
                    // `unlock`: an interrupt that found it taken is ours.
                    self.unlock(g);
                }
                other => return other,
            }
        }
    }

    /// Frames handed to the chip and not yet completed.
    pub fn tx_in_flight(&self) -> u64 {
        self.with_fast(|_, f| f.cur_tx - f.dirty_tx)
    }

    /// Whether the oldest frame in flight has waited longer than `limit`.
    pub fn tx_stalled(&self, limit: Duration) -> bool {
        self.with_fast(|_, f| {
            if f.held || !f.up || f.dirty_tx == f.cur_tx {
                return false;
            }
            let entry = (f.dirty_tx % NUM_TX_DESC as u64) as usize;
            f.tx_started[entry].is_some_and(|t| t.elapsed() > limit)
        })
    }

    /// Takes (and clears) the "a link change wants a media check" flag.
    pub fn take_link_work(&self) -> bool {
        self.link_work.swap(false, Ordering::SeqCst)
    }

    // ---- what the work thread does around the slow path ----

    /// The slow path takes the device: the fast path stops touching it.
    pub fn hold(&self) {
        self.with_fast(|_, f| f.held = true);
    }

    /// The slow path lets go; `up` says whether the interface now runs.
    /// An interrupt that came meanwhile is serviced now.
    pub fn release(&self, up: bool) {
        self.with_fast(|n, f| {
            f.held = false;
            f.up = up && f.rings.is_some();
            if std::mem::take(&mut f.irq_deferred) {
                n.fast.set_pending();
            }
            f.tx_woken = true;
        });
    }

    /// Before a `hw_start` (open, recovery, resume): the receive index
    /// back to 0, frames in flight dropped (counted), descriptors free.
    pub fn reset_rings(&self) {
        self.with_fast(|_, f| {
            f.cur_rx = 0;
            let dropped = f.cur_tx - f.dirty_tx;
            f.stats.tx_dropped += dropped;
            f.dirty_tx = f.cur_tx;
            f.tx_started = [None; NUM_TX_DESC];
            // The chip restarts at descriptor 0 after a reset.
            f.cur_tx = f.cur_tx.next_multiple_of(NUM_TX_DESC as u64);
            f.dirty_tx = f.cur_tx;
            f.tx_woken = true;
        });
    }

    /// After the slow path changed RCR (which restarts the ring): read
    /// from 0 again.
    pub fn restart_rx(&self) {
        self.with_fast(|_, f| f.cur_rx = 0);
    }

    /// Remembers the receive configuration the slow path programmed (the
    /// receive-error path rewrites it).
    pub fn set_rx_config(&self, rx_config: u32) {
        self.with_fast(|_, f| f.rx_config = rx_config);
    }

    /// The rings, while allocated.
    pub fn rings(&self) -> Option<Rings> {
        self.with_fast(|_, f| f.rings)
    }

    /// Allocates the rings (open). Idempotent.
    pub fn alloc_rings(&self) -> Result<Rings, hal::DmaError> {
        if let Some(r) = self.rings() {
            return Ok(r);
        }
        let rx = self.mem.alloc(RX_ALLOC_LEN, 16)?;
        let mut tx = Vec::with_capacity(NUM_TX_DESC);
        for _ in 0..NUM_TX_DESC {
            match self.mem.alloc(TX_BUF_LEN, 4) {
                Ok(b) => tx.push(b),
                Err(e) => {
                    for b in tx {
                        let _ = self.mem.free(b);
                    }
                    let _ = self.mem.free(rx);
                    return Err(e);
                }
            }
        }
        let rings = Rings {
            rx,
            tx: [tx[0], tx[1], tx[2], tx[3]],
        };
        self.with_fast(|_, f| f.rings = Some(rings));
        Ok(rings)
    }

    /// Frees the rings (close, or a failed bring-up); the interface goes
    /// down.
    pub fn free_rings(&self) {
        let rings = self.with_fast(|_, f| {
            f.up = false;
            f.rings.take()
        });
        if let Some(r) = rings {
            let _ = self.mem.free(r.rx);
            for b in r.tx {
                let _ = self.mem.free(b);
            }
        }
    }

    /// Quiesces the device without the slow path (it is gone): interrupts
    /// masked, transmitter and receiver off. The nucleus can always do
    /// this much itself.
    pub fn quiesce(&self) {
        self.with_fast(|n, f| {
            f.up = false;
            n.dev.write16(BAR, reg::IMR, 0);
            n.dev.write8(BAR, reg::CR, 0);
        });
    }
}
