//! The interrupt endpoint 0x81: 8-byte status packets (device-facts.md §2.9).
//!
//! ```text
//!   byte  0     1    2          3    4    5       6    7
//!        0xA1   0   link(bit0)  0    0    status  0    0
//! ```
//!
//! Byte 0 is the constant 0xA1 believed to be sent by real hardware; byte 5
//! ("status") is always 0 here. When the endpoint answers is
//! [`InterruptMode`]: by default it NAKs (Pending) until the link changes,
//! which is what an interrupt endpoint is for and what Linux expects; the
//! model counts a change even if the link is back to the reported value by
//! the time the host polls (a flap is reported, with the current link).
//! The first poll after power-on reports if the link is already up.

use usb::device::{InPoll, TransferError};

use super::descriptors::EP_STATUS_IN;
use super::state::State;

/// Length of a status packet.
pub const STATUS_PACKET_LEN: usize = 8;
/// Byte 0 of every status packet.
pub const STATUS_HEADER: u8 = 0xA1;
/// Index of the link byte.
pub const STATUS_LINK_BYTE: usize = 2;
/// Link-up bit in the link byte.
pub const STATUS_LINK_UP: u8 = 0x01;

/// When the interrupt endpoint answers a poll.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InterruptMode {
    /// Pending until the link changes; then one packet with the current link.
    #[default]
    OnChange,
    /// A packet with the current link on every poll.
    EveryPoll,
}

/// The status packet for a link state.
pub fn status_packet(link_up: bool) -> [u8; STATUS_PACKET_LEN] {
    let mut packet = [0; STATUS_PACKET_LEN];
    packet[0] = STATUS_HEADER;
    if link_up {
        packet[STATUS_LINK_BYTE] = STATUS_LINK_UP;
    }
    packet
}

/// What the interrupt endpoint has told the host.
#[derive(Debug, Default)]
pub(crate) struct StatusEndpoint {
    pub(crate) mode: InterruptMode,
    last_reported_link: bool,
    change_pending: bool,
}

impl StatusEndpoint {
    pub(crate) fn new(mode: InterruptMode) -> Self {
        StatusEndpoint {
            mode,
            ..Self::default()
        }
    }

    /// The PHY's link went up or down.
    pub(crate) fn link_changed(&mut self) {
        self.change_pending = true;
    }

    fn has_news(&self, link_up: bool) -> bool {
        self.mode == InterruptMode::EveryPoll
            || self.change_pending
            || link_up != self.last_reported_link
    }
}

impl State {
    /// The host polls the interrupt endpoint (0x81) with `buf`.
    pub(crate) fn poll_status(&mut self, buf: &mut [u8]) -> InPoll {
        if let Err(error) = self.usb.check_data_transfer(EP_STATUS_IN) {
            return InPoll::Failed(error);
        }
        let link_up = self.phy.link_up();
        if !self.status.has_news(link_up) {
            return InPoll::Pending;
        }
        let Some(target) = buf.get_mut(..STATUS_PACKET_LEN) else {
            return InPoll::Failed(TransferError::Overflow);
        };
        target.copy_from_slice(&status_packet(link_up));
        self.status.change_pending = false;
        self.status.last_reported_link = link_up;
        self.stats.status_packets += 1;
        InPoll::Ready(STATUS_PACKET_LEN)
    }
}
