//! A software model of the Realtek RTL8139 10/100 PCI Ethernet controller,
//! as 8139too drives it, following `device-facts.md` §3. It is a
//! [`hal::PciDevice`] for the driver, reaches buffers through a
//! [`hal::DmaMemory`], and is a [`FrameSink`] for frames from the wire.
//!
//! ```text
//!   driver                              Rtl8139                        wire
//!   config_read/write ─────▶ ┌────────────────────────────────┐
//!   read/write8/16/32 ─────▶ │ registers (§3.2/3.3), EEPROM   │
//!     (BAR0 I/O, BAR1 MMIO)  │ TSD/TSAD ──DMA read──▶ TX ─────┼──┬──▶ FrameSink
//!   irq handler(level) ◀──── │ ISR & IMR                      │  ▼
//!                            │                                │  pcap Capture
//!                            │                                │  ▲
//!                            │ RX ring ◀─DMA write── filter ◀─┼──┴── faults ◀── send_frame
//!                            └────────────────────────────────┘
//! ```
//!
//! Modules: `regs` (offsets and bits), `state` (the lock's contents and
//! byte-level register behaviour), `eeprom` (93C46 bit-bang), `tx`, `rx`,
//! `dma` (bus-master accesses), `faults` (fault injection), `capture` (what
//! goes to the pcap capture and the wire once the lock is released),
//! `stats`.
//!
//! # Behaviour chosen where the facts are silent
//!
//! - Reset (CR.RST, §3.3) completes at once: RST never reads back as 1.
//!   Every register returns to its reset value and the MAC is reloaded from
//!   the EEPROM (as QEMU does). TSD0–3 reset to OWN (host-owned), so
//!   enabling TE sends nothing until a TSD is written.
//! - A TSD written out of turn waits until the round robin reaches it
//!   (§3.4 item 1); a pending TSD is sent when TE is enabled.
//! - Transmit and receive need PCI bus mastering; without it, or when a DMA
//!   access fails (`Faults::dma_fail` included), a transmit aborts (TSD.TABT,
//!   ISR.TER) and a received frame is dropped with ISR.SERR. BAR0 needs I/O decoding and BAR1 memory
//!   decoding enabled in the command register, else reads are all ones.
//! - Frames are not received while RE is clear or the link is down; frames
//!   over 1792 bytes are dropped. There is no timer (TCTR reads 0), no
//!   loopback, no early RX/TX, no C+ mode, and no EEPROM writes.
//! - CSCR bit 11 (LinkChange) clears on read (§3.7, model choice).
//! - The IRQ handler is called outside the lock, on changes of level only;
//!   with several threads accessing the device, notifications of
//!   concurrent changes may arrive out of order.
//! - A frame with a bad CRC (only a corrupted one: see [`Faults`]) passes
//!   the address filter first, then sets ISR.RER. With RCR.AER clear it is
//!   dropped; with AER set it is stored with the header's CRC bit and its
//!   address bits, without the ROK bit, and without ISR.ROK. The FCS stored
//!   after it is the one it carried (the sender's), not one that matches.
//!   RCR.AR is stored but has no effect: short frames are padded.
//! - Faults ([`Faults`], [`Rtl8139::set_faults`]): receive faults act on the
//!   wire before the chip sees the frame (a dropped frame is not even
//!   counted as disabled or filtered). A transmitter stall holds every
//!   pending descriptor as written, even while the driver rewrites TSDs or
//!   TE; CR.RST ends it (and clears `tx_hang`), and clearing `tx_hang`
//!   sends the held frames at once. An injected abort applies to a
//!   transmit whose frame was fetched, so it is counted once per frame that
//!   would have been sent. `dma_fail` fails every bus-master access before
//!   it reaches memory; the chip reacts as to any failed access.
//! - The capture ([`Rtl8139::set_capture`]) records, outside the lock,
//!   received frames as they arrived (after the wire's faults: a dropped
//!   frame is missing, a corrupted one has its byte flipped; before padding
//!   and before every check of the chip, link and RE included) and
//!   transmitted frames as they go on the wire (whether or not one is
//!   attached). Records from concurrent threads may interleave in either
//!   order.

mod capture;
mod dma;
mod eeprom;
mod faults;
pub mod regs;
mod rx;
mod state;
mod stats;
mod tx;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hal::{Bar, ConfigSpace, DmaMemory, IrqHandler, PciDevice, command, size_mask};
use netwire::{Capture, FrameSink};

pub use crate::ax88772::FrameFaults;
pub use capture::Discard;
pub use eeprom::{EEPROM_MAC_WORD, EEPROM_WORDS};
pub use faults::Faults;
pub use rx::MAX_RX_FRAME;
pub use stats::Stats;

use capture::Outbox;
use faults::FaultState;

use regs::{int, reg};
use state::State;

/// PCI vendor ID (§3.1).
pub const VENDOR_ID: u16 = 0x10EC;
/// PCI device ID (§3.1).
pub const DEVICE_ID: u16 = 0x8139;
/// Default PCI revision: a plain 8139, below 8139too's 0x20 gate (§3.1).
pub const DEFAULT_REVISION: u8 = 0x10;
/// PCI class: Ethernet controller (§3.1).
pub const CLASS_ETHERNET: u32 = 0x02_0000;

/// How the model is built.
#[derive(Clone, Debug)]
pub struct Config {
    /// MAC address stored in the EEPROM.
    pub mac: [u8; 6],
    /// PCI revision (keep below 0x20 for 8139too).
    pub revision: u8,
    /// Whether the link is up at power-on.
    pub link_up: bool,
    /// Faults in force from power-on.
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            revision: DEFAULT_REVISION,
            link_up: true,
            faults: Faults::default(),
        }
    }
}

/// The RTL8139 model. Cheap to share: wrap it in an `Arc`.
pub struct Rtl8139 {
    state: Mutex<State>,
    dma: Arc<dyn DmaMemory>,
    wire: Mutex<Option<Arc<dyn FrameSink>>>,
    capture: Mutex<Option<Arc<Capture>>>,
    irq: Mutex<Option<IrqHandler>>,
}

impl std::fmt::Debug for Rtl8139 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtl8139")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Rtl8139 {
    /// A powered-on chip using `dma` for bus-master accesses, with no wire
    /// attached (transmitted frames are dropped until [`Rtl8139::attach_wire`]).
    pub fn new(config: Config, dma: Arc<dyn DmaMemory>) -> Self {
        let pci = ConfigSpace::new(VENDOR_ID, DEVICE_ID, config.revision, CLASS_ETHERNET)
            .with_bar(0, Bar::Io(reg::WINDOW))
            .with_bar(1, Bar::Memory(reg::WINDOW))
            .with_subsystem(VENDOR_ID, DEVICE_ID);
        Rtl8139 {
            state: Mutex::new(State::new(&config, pci)),
            dma,
            wire: Mutex::new(None),
            capture: Mutex::new(None),
            irq: Mutex::new(None),
        }
    }

    /// Send transmitted frames to `wire`.
    pub fn attach_wire(&self, wire: Arc<dyn FrameSink>) {
        *lock(&self.wire) = Some(wire);
    }

    /// Joins the chip to one end of an in-process wire: what it transmits
    /// goes out there, what arrives there it receives.
    pub fn plug(self: &Arc<Self>, end: netwire::LinkEnd) {
        end.attach(self.clone());
        self.attach_wire(Arc::new(end));
    }

    /// Record every frame the chip puts on the wire and every frame that
    /// arrives from it into `capture` (or stop recording with `None`); see
    /// the module doc for what exactly is recorded. The capture forwards
    /// what it records to its inner sink: give it a [`Discard`] unless that
    /// is wanted, as in `Capture::in_memory(Arc::new(Discard))`.
    pub fn set_capture(&self, capture: Option<Arc<Capture>>) {
        *lock(&self.capture) = capture;
    }

    /// Install `faults` (reseeding the generator from `faults.seed`).
    /// Frames held by a transmitter stall are sent if `tx_hang` is now
    /// clear.
    pub fn set_faults(&self, faults: Faults) {
        let dma = Arc::clone(&self.dma);
        self.with_state_tx(|st, out| {
            st.faults = FaultState::new(faults);
            st.transmit_pending(dma.as_ref(), out);
        });
    }

    /// The faults in force, with countdowns as far as they have run.
    pub fn faults(&self) -> Faults {
        lock(&self.state).faults.config.clone()
    }

    /// Plug or unplug the cable: on a change, ISR.LinkChg and CSCR bit 11
    /// are set, and BMSR/MSR follow (§3.7).
    pub fn set_link(&self, up: bool) {
        self.with_state(|st| {
            if st.link != up {
                st.link = up;
                st.link_change = true;
                st.isr |= int::LINK_CHG;
            }
        });
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        lock(&self.state).stats
    }

    /// Whether the interrupt line is raised now.
    pub fn irq_level(&self) -> bool {
        lock(&self.state).irq_level
    }

    /// Run `f` under the lock, then notify the IRQ handler with the lock
    /// released. For accesses that move no frames.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.locked(None, |st, _| f(st))
    }

    /// Run `f` under the lock, then record and send the frames it left in
    /// the outbox and notify the IRQ handler, with the lock released.
    fn with_state_tx<R>(&self, f: impl FnOnce(&mut State, &mut Outbox) -> R) -> R {
        let capture = lock(&self.capture).clone();
        self.locked(capture, f)
    }

    fn locked<R>(
        &self,
        capture: Option<Arc<Capture>>,
        f: impl FnOnce(&mut State, &mut Outbox) -> R,
    ) -> R {
        let mut out = Outbox::new(capture.is_some());
        let (r, change) = {
            let mut st = lock(&self.state);
            let r = f(&mut st, &mut out);
            let level = st.irq_wanted();
            let change = (level != st.irq_level).then_some(level);
            st.irq_level = level;
            (r, change)
        };
        if !out.is_empty() {
            let wire = lock(&self.wire).clone();
            out.deliver(capture.as_deref(), wire.as_deref());
        }
        if let Some(level) = change {
            let handler = lock(&self.irq).clone();
            if let Some(h) = handler {
                h(level);
            }
        }
        r
    }

    /// Whether an access to `bar` at `offset` of `size` bytes is decoded.
    fn decodes(st: &State, bar: u8, offset: u32, size: u32) -> bool {
        let enabled = match bar {
            0 => command::IO,
            1 => command::MEMORY,
            _ => return false,
        };
        st.config.command() & enabled != 0
            && offset
                .checked_add(size)
                .is_some_and(|end| end <= reg::WINDOW)
    }

    fn read(&self, bar: u8, offset: u32, size: u32) -> u32 {
        self.with_state(|st| {
            if Self::decodes(st, bar, offset, size) {
                st.read(offset, size)
            } else {
                size_mask(size as u8)
            }
        })
    }

    fn write(&self, bar: u8, offset: u32, size: u32, value: u32) {
        let dma = Arc::clone(&self.dma);
        self.with_state_tx(|st, out| {
            if Self::decodes(st, bar, offset, size) && st.write(offset, size, value) {
                st.transmit_pending(dma.as_ref(), out);
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PciDevice for Rtl8139 {
    fn config_read(&self, offset: u16, size: u8) -> u32 {
        lock(&self.state).config.read(offset, size)
    }

    fn config_write(&self, offset: u16, size: u8, value: u32) {
        // INTx disable may change the line level.
        self.with_state(|st| st.config.write(offset, size, value));
    }

    fn read8(&self, bar: u8, offset: u32) -> u8 {
        self.read(bar, offset, 1) as u8
    }
    fn read16(&self, bar: u8, offset: u32) -> u16 {
        self.read(bar, offset, 2) as u16
    }
    fn read32(&self, bar: u8, offset: u32) -> u32 {
        self.read(bar, offset, 4)
    }
    fn write8(&self, bar: u8, offset: u32, value: u8) {
        self.write(bar, offset, 1, value.into());
    }
    fn write16(&self, bar: u8, offset: u32, value: u16) {
        self.write(bar, offset, 2, value.into());
    }
    fn write32(&self, bar: u8, offset: u32, value: u32) {
        self.write(bar, offset, 4, value);
    }

    fn set_irq_handler(&self, handler: IrqHandler) {
        *lock(&self.irq) = Some(Arc::clone(&handler));
        if self.irq_level() {
            handler(true);
        }
    }
}

impl FrameSink for Rtl8139 {
    fn send_frame(&self, frame: &[u8]) {
        let dma = Arc::clone(&self.dma);
        self.with_state_tx(|st, out| st.arrive(frame, dma.as_ref(), out));
    }
}
