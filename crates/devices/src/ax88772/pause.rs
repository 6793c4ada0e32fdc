//! IEEE 802.3 flow control (annex 31B): PAUSE frames, as the medium-mode
//! bits RFC and TFC enable them (device-facts §2.5.2).
//!
//! ```text
//!   RX FIFO above the high mark, TFC set ──▶ send PAUSE(XOFF)     "stop" (renewed)
//!   RX FIFO drained below the low mark   ──▶ send PAUSE(0)        "go"
//!
//!   PAUSE(q) received, RFC set ──▶ hold transmission for q × 512 bit times
//!                                  (a PAUSE(0) ends the hold at once)
//! ```
//!
//! A PAUSE frame goes to the reserved multicast address 01:80:C2:00:00:01
//! with the MAC-control type 0x8808 and opcode 0x0001, followed by the
//! quanta (big-endian). The MAC consumes MAC-control frames: they never
//! reach the RX FIFO.

use super::registers::medium;
use super::state::State;
use std::time::Duration;

/// The reserved destination of PAUSE frames.
pub const PAUSE_ADDRESS: [u8; 6] = [0x01, 0x80, 0xC2, 0x00, 0x00, 0x01];
/// EtherType of MAC-control frames.
pub const MAC_CONTROL: [u8; 2] = [0x88, 0x08];
/// MAC-control opcode of PAUSE.
pub const OPCODE_PAUSE: [u8; 2] = [0x00, 0x01];
/// The pause the chip asks for when its FIFO fills, in quanta: 4096 (about
/// 21 ms at 100 Mb/s), renewed while the FIFO stays full, so that a partner
/// whose "go" got lost (or whose host stopped draining for good) waits
/// briefly rather than the maximum 0xFFFF quanta (335 ms).
pub const XOFF: u16 = 0x1000;

/// The pause state of one MAC.
#[derive(Debug, Default)]
pub(crate) struct Pause {
    /// Transmission is held until this time (on the chip's clock).
    pub(crate) until: Option<Duration>,
    /// A "stop" was sent (at this time) and no "go" yet.
    pub(crate) xoff_sent: bool,
    pub(crate) xoff_at: Duration,
    /// A PAUSE frame to send once the state lock is released.
    pub(crate) outgoing: Option<u16>,
}

/// The quanta of a PAUSE frame, if `frame` is one.
pub(crate) fn parse(frame: &[u8]) -> Option<u16> {
    (frame.len() >= 18
        && frame[..6] == PAUSE_ADDRESS
        && frame[12..14] == MAC_CONTROL
        && frame[14..16] == OPCODE_PAUSE)
        .then(|| u16::from_be_bytes([frame[16], frame[17]]))
}

/// Whether `frame` is a MAC-control frame (consumed by the MAC).
pub(crate) fn is_mac_control(frame: &[u8]) -> bool {
    frame.len() >= 14 && frame[12..14] == MAC_CONTROL
}

/// A PAUSE frame from `source` asking for `quanta`, padded to 60 bytes.
pub fn frame(source: [u8; 6], quanta: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&PAUSE_ADDRESS);
    f[6..12].copy_from_slice(&source);
    f[12..14].copy_from_slice(&MAC_CONTROL);
    f[14..16].copy_from_slice(&OPCODE_PAUSE);
    f[16..18].copy_from_slice(&quanta.to_be_bytes());
    f
}

impl State {
    /// One pause quantum: 512 bit times at the medium's speed.
    fn quantum(&self) -> Duration {
        if self.regs.medium_mode & medium::PS != 0 {
            Duration::from_nanos(5_120) // 100 Mb/s
        } else {
            Duration::from_nanos(51_200) // 10 Mb/s
        }
    }

    /// A PAUSE frame arrived: hold transmission if RFC is set.
    pub(crate) fn pause_received(&mut self, quanta: u16) {
        self.stats.pause_received += 1;
        if self.regs.medium_mode & medium::RFC == 0 {
            return;
        }
        self.pause.until = if quanta == 0 {
            None
        } else {
            Some(self.clock.now() + self.quantum() * u32::from(quanta))
        };
    }

    /// How long transmission is still held.
    pub(crate) fn pause_remaining(&self) -> Duration {
        match self.pause.until {
            Some(until) => until.saturating_sub(self.clock.now()),
            None => Duration::ZERO,
        }
    }

    /// The FIFO level changed: ask the partner to stop or go (TFC set).
    pub(crate) fn pause_check_fifo(&mut self) {
        let level = self.rx.fifo.bytes();
        let capacity = self.rx_fifo_capacity;
        // Stop while three full frames still fit (what may be on its way),
        // go again once three quarters are free.
        let high = capacity.saturating_sub(3 * 1536);
        let low = capacity / 4;
        if self.regs.medium_mode & medium::TFC == 0 {
            self.pause.xoff_sent = false;
            return;
        }
        let now = self.clock.now();
        let renew = self.pause.xoff_sent
            && now.saturating_sub(self.pause.xoff_at) > self.quantum() * u32::from(XOFF / 2);
        if level > high && (!self.pause.xoff_sent || renew) {
            self.pause.xoff_sent = true;
            self.pause.xoff_at = now;
            self.pause.outgoing = Some(XOFF);
            self.stats.pause_sent += 1;
        } else if self.pause.xoff_sent && level < low {
            self.pause.xoff_sent = false;
            self.pause.outgoing = Some(0);
            self.stats.pause_sent += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_frames_round_trip() {
        let f = frame([2, 0, 0, 0, 0, 1], 0x1234);
        assert_eq!(parse(&f), Some(0x1234));
        assert!(is_mac_control(&f));
        let mut not = f.clone();
        not[15] = 2; // another opcode
        assert_eq!(parse(&not), None);
        assert!(is_mac_control(&not));
        assert_eq!(parse(&f[..17]), None);
    }
}
