//! Everything the chip remembers, behind the model's one lock, and what
//! ties the parts together: link changes, control-request dispatch, and the
//! endpoints to notify once the lock is released.

use std::sync::Arc;

use netwire::FrameSink;
use usb::device::{SetupPacket, TransferError};

use super::descriptors::{EP_BULK_IN, EP_STATUS_IN};
use super::eeprom::Eeprom;
use super::faults::FaultState;
use super::phy::{Phy, PhyInputs};
use super::registers::Registers;
use super::rx::{RxFifo, RxPath};
use super::standard::UsbState;
use super::stats::Stats;
use super::status::StatusEndpoint;
use super::{Clock, Config};

/// IN endpoints that may have news for the host.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    pub(crate) status: bool,
    pub(crate) bulk_in: bool,
}

impl Wake {
    /// The endpoint addresses to notify; clears the set.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let status = std::mem::take(&mut self.status).then_some(EP_STATUS_IN);
        let bulk_in = std::mem::take(&mut self.bulk_in).then_some(EP_BULK_IN);
        status.into_iter().chain(bulk_in).collect()
    }
}

/// The whole chip.
pub(crate) struct State {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) usb: UsbState,
    pub(crate) regs: Registers,
    pub(crate) eeprom: Eeprom,
    pub(crate) phy: Phy,
    pub(crate) mdio_handover_reads: u32,
    /// The cable is plugged into a live wire.
    pub(crate) carrier: bool,
    pub(crate) rx: RxPath,
    pub(crate) status: StatusEndpoint,
    pub(crate) faults: FaultState,
    pub(crate) stats: Stats,
    pub(crate) wire: Option<Arc<dyn FrameSink>>,
    pub(crate) wake: Wake,
    /// Flow control (PAUSE frames).
    pub(crate) pause: super::pause::Pause,
    /// The RX FIFO's size in bytes.
    pub(crate) rx_fifo_capacity: usize,
}

impl State {
    pub(crate) fn new(config: Config, clock: Arc<dyn Clock>) -> Self {
        let eeprom = Eeprom::with_mac(config.mac);
        let mut state = State {
            clock,
            usb: UsbState::default(),
            regs: Registers::power_on(eeprom.node_id()),
            eeprom,
            phy: Phy::new(config.phy_id, config.link_partner, config.autoneg_delay),
            mdio_handover_reads: config.mdio_handover_reads,
            carrier: config.carrier,
            rx: RxPath {
                fifo: RxFifo::new(config.rx_fifo_bytes),
                packing: config.rx_packing,
                zero_length_pending: false,
            },
            status: StatusEndpoint::new(config.interrupt_mode),
            faults: FaultState::new(config.faults),
            stats: Stats::default(),
            wire: None,
            wake: Wake::default(),
            pause: super::pause::Pause::default(),
            rx_fifo_capacity: config.rx_fifo_bytes,
        };
        state.refresh_link();
        state
    }

    pub(crate) fn phy_inputs(&self) -> PhyInputs {
        PhyInputs {
            carrier: self.carrier,
            now: self.clock.now(),
        }
    }

    /// Re-evaluate the PHY against the clock and the cable.
    pub(crate) fn refresh_link(&mut self) {
        let inputs = self.phy_inputs();
        if self.phy.update(inputs) {
            self.link_changed();
        }
    }

    /// The PHY's link went up or down: tell the interrupt endpoint.
    pub(crate) fn link_changed(&mut self) {
        self.status.link_changed();
        self.wake.status = true;
    }

    /// Plug the cable into a live wire (or unplug it).
    pub(crate) fn set_carrier(&mut self, carrier: bool) {
        self.carrier = carrier;
        self.refresh_link();
    }

    /// A control transfer on endpoint 0.
    pub(crate) fn control(
        &mut self,
        setup: SetupPacket,
        data: &[u8],
    ) -> Result<Vec<u8>, TransferError> {
        const TYPE_STANDARD: u8 = 0;
        const TYPE_VENDOR: u8 = 2;
        if self.usb.suspended {
            return Err(TransferError::Suspended);
        }
        self.stats.control_requests += 1;
        let answer = match (setup.request_type >> 5) & 0x03 {
            TYPE_STANDARD => self.usb.standard_request(setup),
            TYPE_VENDOR => self.vendor_request(setup, data),
            _ => Err(TransferError::Stall),
        };
        if answer.is_err() {
            self.stats.control_stalls += 1;
        }
        answer
    }

    /// The counters, with the FIFO's current level filled in.
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.rx_fifo_frames = self.rx.fifo.frames() as u64;
        stats.rx_fifo_bytes = self.rx.fifo.bytes() as u64;
        stats
    }
}
