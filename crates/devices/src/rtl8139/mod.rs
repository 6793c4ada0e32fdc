//! A software model of the Realtek RTL8139 10/100 PCI Ethernet controller,
//! as 8139too drives it, following `device-facts.md` §3. It is a
//! [`hal::PciDevice`] for the driver, reaches buffers through a
//! [`hal::DmaMemory`], and is a [`FrameSink`] for frames from the wire.
//!
//! ```text
//!   driver                              Rtl8139                        wire
//!   config_read/write ─────▶ ┌────────────────────────────────┐
//!   read/write8/16/32 ─────▶ │ registers (§3.2/3.3), EEPROM   │
//!     (BAR0 I/O, BAR1 MMIO)  │ TSD/TSAD ──DMA read──▶ TX ─────┼──▶ FrameSink
//!   irq handler(level) ◀──── │ ISR & IMR                      │
//!                            │ RX ring ◀─DMA write── filter ◀─┼─── send_frame
//!                            └────────────────────────────────┘
//! ```
//!
//! Modules: `regs` (offsets and bits), `state` (the lock's contents and
//! byte-level register behaviour), `eeprom` (93C46 bit-bang), `tx`, `rx`.
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
//!   access fails, a transmit aborts (TSD.TABT, ISR.TER) and a received frame
//!   is dropped with ISR.SERR. BAR0 needs I/O decoding and BAR1 memory
//!   decoding enabled in the command register, else reads are all ones.
//! - Frames are not received while RE is clear or the link is down; frames
//!   over 1792 bytes are dropped. There is no timer (TCTR reads 0), no
//!   loopback, no early RX/TX, no C+ mode, and no EEPROM writes.
//! - CSCR bit 11 (LinkChange) clears on read (§3.7, model choice).
//! - The IRQ handler is called outside the lock, on changes of level only;
//!   with several threads accessing the device, notifications of
//!   concurrent changes may arrive out of order.

mod eeprom;
pub mod regs;
mod rx;
mod state;
mod tx;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hal::{Bar, ConfigSpace, DmaMemory, IrqHandler, PciDevice, command, size_mask};
use netwire::FrameSink;

pub use eeprom::{EEPROM_MAC_WORD, EEPROM_WORDS};
pub use rx::MAX_RX_FRAME;

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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            revision: DEFAULT_REVISION,
            link_up: true,
        }
    }
}

/// Counters kept by the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames sent to the wire.
    pub tx_frames: u64,
    /// Bytes sent to the wire.
    pub tx_bytes: u64,
    /// Transmits aborted (bad size, no bus mastering, DMA fault).
    pub tx_errors: u64,
    /// Frames written into the receive ring.
    pub rx_frames: u64,
    /// Bytes of those frames (without header and CRC, after padding).
    pub rx_bytes: u64,
    /// Frames dropped because RE was clear or the link was down.
    pub rx_disabled: u64,
    /// Frames rejected by the address filter.
    pub rx_filtered: u64,
    /// Frames dropped for lack of ring space (RXOVW).
    pub rx_overflows: u64,
    /// Frames dropped for being too long.
    pub rx_too_long: u64,
    /// Frames dropped because the ring could not be written.
    pub rx_dma_errors: u64,
    /// Resets, power-on included.
    pub resets: u64,
}

/// The RTL8139 model. Cheap to share: wrap it in an `Arc`.
pub struct Rtl8139 {
    state: Mutex<State>,
    dma: Arc<dyn DmaMemory>,
    wire: Mutex<Option<Arc<dyn FrameSink>>>,
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
            irq: Mutex::new(None),
        }
    }

    /// Send transmitted frames to `wire`.
    pub fn attach_wire(&self, wire: Arc<dyn FrameSink>) {
        *lock(&self.wire) = Some(wire);
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

    /// Run `f` under the lock, then send frames and notify the IRQ handler
    /// with the lock released.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.with_state_tx(|st, _| f(st))
    }

    fn with_state_tx<R>(&self, f: impl FnOnce(&mut State, &mut Vec<Vec<u8>>) -> R) -> R {
        let mut frames = Vec::new();
        let (r, change) = {
            let mut st = lock(&self.state);
            let r = f(&mut st, &mut frames);
            let level = st.irq_wanted();
            let change = (level != st.irq_level).then_some(level);
            st.irq_level = level;
            (r, change)
        };
        if !frames.is_empty() {
            let wire = lock(&self.wire).clone();
            if let Some(wire) = wire {
                for frame in &frames {
                    wire.send_frame(frame);
                }
            }
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
        self.with_state_tx(|st, frames| {
            if Self::decodes(st, bar, offset, size) && st.write(offset, size, value) {
                st.transmit_pending(dma.as_ref(), frames);
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
        self.with_state(|st| st.receive(frame, dma.as_ref()));
    }
}
