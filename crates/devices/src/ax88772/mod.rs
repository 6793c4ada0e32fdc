//! A software model of the ASIX AX88772 USB 2.0 to 10/100 Ethernet chip
//! (plain AX88772, chip code 0, 0b95:7720), following
//! `device-facts.md` §2 section by section.
//!
//! ```text
//!   simulated host controller              Ax88772                     wire
//!   ─────────────────────────   ┌──────────────────────────────┐   ──────────
//!   control(setup, data) ─────▶ │ standard  │ vendor requests  │
//!                               │ requests  │ MAC regs, EEPROM,│
//!                               │           │ MDIO ──▶ PHY ◀───┼── set_carrier
//!   transfer_out(0x03) ───────▶ │ TX deframing ────────────────┼──▶ FrameSink
//!   transfer_in(0x82)  ◀─────── │ RX framing ◀── FIFO ◀─ filter┼─── send_frame
//!   transfer_in(0x81)  ◀─────── │ status packets (link)        │
//!   notifier(ep)       ◀─────── │ "0x81 / 0x82 may have data"  │
//!                               └──────────────────────────────┘
//! ```
//!
//! Modules, one job each: `descriptors` and `standard` (chapter 9),
//! `registers` (vendor requests, MDIO handshake), `eeprom`, `phy`
//! (clause-22 PHY and link), `filter` (address filter), `rx` (FIFO and
//! bulk-IN framing), `tx` (bulk-OUT deframing), `status` (interrupt
//! endpoint), `faults`, `stats`, `clock`, and `state` (the lock's contents).
//!
//! # Behaviour chosen where the facts are silent
//!
//! - Data endpoints exist only while configured (SET_CONFIGURATION 1):
//!   before that transfers fail with `NoEndpoint`.
//! - While suspended every transfer fails with `Suspended`; frames still
//!   arrive from the wire into the FIFO; `resume` notifies both IN endpoints.
//! - The PHY needs a carrier, power (SW_RESET IPPD clear, BMCR PDOWN clear),
//!   to be out of reset (SW_RESET IPRL set) and, with autonegotiation on, a
//!   completed negotiation ([`Config::autoneg_delay`] on the model's
//!   [`Clock`]; nothing happens between calls, so a harness with a delay
//!   calls [`Ax88772::tick`] after moving the clock, or any access notices).
//! - Frames are neither received nor transmitted without link.
//! - Everything else is documented in the module that does it.
//!
//! The model never panics on host input and never sleeps; it takes its lock
//! only briefly and calls the wire and the notifier with the lock released.

mod clock;
mod descriptors;
mod eeprom;
pub(crate) mod faults;
mod filter;
pub mod pause;
mod phy;
mod registers;
mod rx;
mod standard;
mod state;
mod stats;
mod status;
mod tx;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use netwire::FrameSink;
use usb::device::{InPoll, InReadyNotifier, SetupPacket, TransferError, UsbDevice};

pub use clock::{Clock, ManualClock, SystemClock};
pub use descriptors::{
    BULK_MAX_PACKET, CONFIGURATION_VALUE, DEVICE_RELEASE, EP_BULK_IN, EP_BULK_OUT, EP_STATUS_IN,
    EP0_MAX_PACKET, PRODUCT_ID, STATUS_INTERVAL, STATUS_MAX_PACKET, VENDOR_ID,
};
pub use eeprom::{EEPROM_NODE_ID_WORD, EEPROM_WORDS};
pub use faults::{Faults, FrameFaults, RxHold, XorShift64};
pub use filter::{ETH_ALEN, ether_crc, multicast_hash_index};
pub use phy::{
    ADVERTISE_DEFAULT, BMCR_DEFAULT, BMSR_ABILITIES, DEFAULT_LINK_PARTNER, DEFAULT_PHY_ID,
    MDIO_ABSENT, PHY_ADDRESS_EMBEDDED, bmcr, bmsr, reg,
};
pub use registers::{
    CHIP_CODE_AX88772, IPG_DEFAULTS, MdioOwner, PHY_ID_SECONDARY_NONE, PHY_SELECT_EMBEDDED,
    Registers, STATMNGSTS_HOST_EN, SW_RESET_POWER_ON, cmd, gpio, medium, rx_ctl, sw_reset,
};
pub use rx::{RX_HEADER_LEN, RxPacking};
pub use stats::{RxDrops, Stats, TxDrops};
pub use status::{
    InterruptMode, STATUS_HEADER, STATUS_LINK_BYTE, STATUS_LINK_UP, STATUS_PACKET_LEN,
    status_packet,
};
pub use tx::TX_HEADER_LEN;

use state::State;

/// Length of an Ethernet header (destination, source, type).
pub const ETH_HLEN: usize = 14;
/// Shortest frame on the wire without FCS; shorter ones are padded.
pub const MIN_FRAME_LEN: usize = 60;
/// Longest frame without FCS: 1514 plus a VLAN tag (Linux accepts
/// MTU + 14 + 4 on RX, §2.7). Longer frames are dropped (RX) or a framing
/// error (TX).
pub const MAX_FRAME_LEN: usize = 1518;
/// Default RX FIFO size: 16 KiB, about the chip's SRAM.
pub const DEFAULT_RX_FIFO_BYTES: usize = 16 * 1024;
/// Default MAC address (ASIX's OUI 00:0E:C6), stored in the EEPROM.
pub const DEFAULT_MAC: [u8; ETH_ALEN] = [0x00, 0x0E, 0xC6, 0x88, 0x77, 0x20];

/// How a model is built.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// MAC address programmed in the EEPROM (and loaded as node ID).
    pub mac: [u8; ETH_ALEN],
    /// PHYSID1 << 16 | PHYSID2 of the embedded PHY.
    pub phy_id: u32,
    /// What the link partner advertises (LPA once negotiation completes).
    pub link_partner: u16,
    /// How long autonegotiation takes on the model's clock (zero: at once).
    pub autoneg_delay: Duration,
    /// RX FIFO capacity in bytes of framed frames.
    pub rx_fifo_bytes: usize,
    /// How received frames are cut into bulk-IN transfers.
    pub rx_packing: RxPacking,
    /// When the interrupt endpoint answers.
    pub interrupt_mode: InterruptMode,
    /// STATMNGSTS reads that still show Host_EN = 0 after SET_SW_MII.
    pub mdio_handover_reads: u32,
    /// Whether the cable has a carrier at power-on.
    pub carrier: bool,
    /// Faults in force from power-on.
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mac: DEFAULT_MAC,
            phy_id: DEFAULT_PHY_ID,
            link_partner: DEFAULT_LINK_PARTNER,
            autoneg_delay: Duration::ZERO,
            rx_fifo_bytes: DEFAULT_RX_FIFO_BYTES,
            rx_packing: RxPacking::default(),
            interrupt_mode: InterruptMode::default(),
            mdio_handover_reads: 0,
            carrier: true,
            faults: Faults::default(),
        }
    }
}

/// The AX88772 model. Share it in an `Arc`: it is the host controller's
/// [`UsbDevice`] and the wire's [`FrameSink`] at once.
pub struct Ax88772 {
    state: Mutex<State>,
    notifier: Mutex<Option<InReadyNotifier>>,
    /// Keeps frames of concurrent bulk-OUT transfers in order on the wire.
    transmit_order: Mutex<()>,
}

impl std::fmt::Debug for Ax88772 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ax88772")
            .field("registers", &self.registers())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ax88772 {
    /// A powered-on chip with the wall clock.
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// A powered-on chip whose timing follows `clock`.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Self {
        Ax88772 {
            state: Mutex::new(State::new(config, clock)),
            notifier: Mutex::new(None),
            transmit_order: Mutex::new(()),
        }
    }

    /// Run `f` on the state (brought up to date with the clock first), then
    /// notify the IN endpoints it woke, with the lock released.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, wake, suspended, pause) = {
            let mut state = lock(&self.state);
            state.refresh_link();
            let result = f(&mut state);
            let pause = state.pause.outgoing.take().and_then(|q| {
                state
                    .wire
                    .clone()
                    .map(|w| (w, pause::frame(state.regs.node_id, q)))
            });
            (result, state.wake.take(), state.usb.suspended, pause)
        };
        if !suspended {
            self.notify(&wake);
        }
        if let Some((wire, frame)) = pause {
            wire.send_frame(&frame);
        }
        result
    }

    fn notify(&self, endpoints: &[u8]) {
        if endpoints.is_empty() {
            return;
        }
        let notifier = lock(&self.notifier).clone();
        if let Some(notifier) = notifier {
            for &endpoint in endpoints {
                notifier(endpoint);
            }
        }
    }

    /// Holds transmission while the link partner has paused it (RFC set),
    /// at most as long as the longest pause lasts in real time.
    fn wait_while_paused(&self) {
        let give_up = std::time::Instant::now() + Duration::from_millis(400);
        loop {
            let left = self.with_state(|state| state.pause_remaining());
            if left.is_zero() || std::time::Instant::now() >= give_up {
                return;
            }
            std::thread::sleep(left.min(Duration::from_micros(200)));
        }
    }

    /// Transmitted frames go to `wire` from now on.
    pub fn attach_wire(&self, wire: Arc<dyn FrameSink>) {
        self.with_state(|state| state.wire = Some(wire));
    }

    /// Transmitted frames vanish (counted as `tx_dropped.no_wire`).
    pub fn detach_wire(&self) {
        self.with_state(|state| state.wire = None);
    }

    /// Plug the cable into a wire with carrier (`true`) or pull it (`false`).
    pub fn set_carrier(&self, carrier: bool) {
        self.with_state(|state| state.set_carrier(carrier));
    }

    /// Whether the cable has a carrier.
    pub fn carrier(&self) -> bool {
        self.with_state(|state| state.carrier)
    }

    /// Whether the PHY has link now (not the latched BMSR bit).
    pub fn link_up(&self) -> bool {
        self.with_state(|state| state.phy.link_up())
    }

    /// Re-evaluate time-dependent state (autonegotiation) against the clock
    /// and notify the host of any change. Every other call does this too.
    pub fn tick(&self) {
        self.with_state(|_| ());
    }

    /// Install `faults` (reseeding the generator from `faults.seed`).
    pub fn set_faults(&self, faults: Faults) {
        self.with_state(|state| {
            state.faults = faults::FaultState::new(faults);
            state.wake.bulk_in = true; // a hold may have been lifted
        });
    }

    /// The faults in force, with countdowns as far as they have run.
    pub fn faults(&self) -> Faults {
        self.with_state(|state| state.faults.config.clone())
    }

    /// Lift an [`RxHold`]: received frames flow to the host again.
    pub fn release_rx(&self) {
        self.with_state(|state| {
            state.faults.config.rx_hold = RxHold::None;
            state.wake.bulk_in = true;
        });
    }

    /// Halt (STALL) a data endpoint until the host sends
    /// CLEAR_FEATURE(ENDPOINT_HALT). Returns false for an unknown endpoint.
    pub fn halt_endpoint(&self, endpoint: u8) -> bool {
        self.with_state(|state| state.usb.halt(endpoint))
    }

    /// Change how received frames are cut into bulk-IN transfers.
    pub fn set_rx_packing(&self, packing: RxPacking) {
        self.with_state(|state| state.rx.packing = packing);
    }

    /// Change when the interrupt endpoint answers.
    pub fn set_interrupt_mode(&self, mode: InterruptMode) {
        self.with_state(|state| {
            state.status.mode = mode;
            state.wake.status = true;
        });
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.with_state(|state| state.stats())
    }

    /// The MAC registers.
    pub fn registers(&self) -> Registers {
        self.with_state(|state| state.regs.clone())
    }

    /// The EEPROM's words.
    pub fn eeprom(&self) -> Vec<u16> {
        self.with_state(|state| state.eeprom.words().to_vec())
    }

    /// The USB address set by SET_ADDRESS.
    pub fn usb_address(&self) -> u8 {
        self.with_state(|state| state.usb.address)
    }

    /// The current configuration value (0: not configured).
    pub fn usb_configuration(&self) -> u8 {
        self.with_state(|state| state.usb.configuration)
    }

    /// Whether the host enabled remote wakeup.
    pub fn remote_wakeup_enabled(&self) -> bool {
        self.with_state(|state| state.usb.remote_wakeup)
    }
}

impl UsbDevice for Ax88772 {
    fn device_descriptor(&self) -> Vec<u8> {
        descriptors::device_descriptor()
    }

    fn configuration_descriptor(&self) -> Vec<u8> {
        descriptors::configuration_descriptor()
    }

    fn control(&self, setup: SetupPacket, data: &[u8]) -> Result<Vec<u8>, TransferError> {
        self.with_state(|state| state.control(setup, data))
    }

    fn transfer_out(&self, endpoint: u8, data: &[u8]) -> Result<(), TransferError> {
        let _in_order = lock(&self.transmit_order);
        let (frames, wire) = self.with_state(|state| {
            if endpoint != EP_BULK_OUT {
                let error = state.usb.check_data_transfer(endpoint).err();
                return Err(error.unwrap_or(TransferError::NoEndpoint));
            }
            Ok((state.accept_bulk_out(data)?, state.wire.clone()))
        })?;
        if let Some(wire) = wire {
            for frame in &frames {
                self.wait_while_paused();
                wire.send_frame(frame);
            }
        }
        Ok(())
    }

    fn transfer_in(&self, endpoint: u8, buf: &mut [u8]) -> InPoll {
        self.with_state(|state| match endpoint {
            EP_BULK_IN => state.poll_bulk_in(buf),
            EP_STATUS_IN => state.poll_status(buf),
            _ => InPoll::Failed(
                state
                    .usb
                    .check_data_transfer(endpoint)
                    .err()
                    .unwrap_or(TransferError::NoEndpoint),
            ),
        })
    }

    fn set_in_ready_notifier(&self, notifier: InReadyNotifier) {
        *lock(&self.notifier) = Some(notifier);
    }

    fn suspend(&self) {
        self.with_state(|state| state.usb.suspended = true);
    }

    fn resume(&self) {
        self.with_state(|state| {
            state.usb.suspended = false;
            state.wake.status = true;
            state.wake.bulk_in = true;
        });
    }
}

impl FrameSink for Ax88772 {
    /// A frame arrives from the wire.
    fn send_frame(&self, frame: &[u8]) {
        self.with_state(|state| state.receive_from_wire(frame));
    }
}
