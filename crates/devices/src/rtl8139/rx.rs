//! Receive into the ring (device-facts.md §3.5): header, frame, CRC at CBR,
//! CBR rounded up to 4; WRAP decides whether a packet runs past the ring end
//! into the slack area or wraps to offset 0. The receive faults act first,
//! on the wire; a corrupted frame keeps the FCS it was sent with, so the
//! chip finds a CRC error and drops it, or with RCR.AER stores it flagged.

use hal::DmaMemory;

use super::capture::Outbox;
use super::faults::Verdict;
use super::regs::{cr, int, rcr, reg, rx_status};
use super::state::State;
use crate::ax88772::multicast_hash_index;

/// Frames shorter than this are padded (QEMU, §3.5 item 5).
const MIN_FRAME: usize = 60;
/// Longest frame (without FCS) the model accepts; 8139too rejects larger.
pub const MAX_RX_FRAME: usize = 1792;

/// Ethernet FCS: reflected CRC-32, appended least significant byte first.
pub(crate) fn fcs(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                crc >> 1 ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

impl State {
    /// Address filter (§3.5 item 5): the header's address bits (BAR, MAR,
    /// PAM or none for a promiscuous match), or `None` if rejected.
    fn accept(&self, dst: &[u8; 6]) -> Option<u16> {
        let rcr = self.get32(reg::RCR);
        let promisc = rcr & rcr::AAP != 0;
        if dst == &[0xFF; 6] {
            (promisc || rcr & rcr::AB != 0).then_some(rx_status::BAR)
        } else if dst[0] & 1 != 0 {
            let index = multicast_hash_index(dst);
            let hit =
                self.regs[(reg::MAR0 + u32::from(index / 8)) as usize] & (1 << (index % 8)) != 0;
            (promisc || rcr & rcr::AM != 0 && hit).then_some(rx_status::MAR)
        } else if dst[..] == self.regs[..6] {
            (promisc || rcr & rcr::APM != 0).then_some(rx_status::PAM)
        } else {
            promisc.then_some(0)
        }
    }

    /// A frame comes off the wire: the wire faults act on it, what arrives
    /// is recorded for the capture, and the chip receives it.
    pub(crate) fn arrive(&mut self, frame: &[u8], dma: &dyn DmaMemory, out: &mut Outbox) {
        match self.faults.judge_rx(frame.len()) {
            Verdict::Pass => {
                out.arrived(frame);
                self.receive(frame, None, dma);
            }
            Verdict::Drop => self.stats.rx_fault_drops += 1,
            Verdict::Corrupt(index) => {
                self.stats.rx_fault_corruptions += 1;
                // The FCS the sender computed, over the frame as sent.
                let sent_fcs = fcs(&padded(frame));
                let mut damaged = frame.to_vec();
                if let Some(byte) = damaged.get_mut(index) {
                    *byte ^= 0xFF;
                }
                out.arrived(&damaged);
                self.receive(&damaged, Some(sent_fcs), dma);
            }
        }
    }

    /// Receive one frame; `wire_fcs` is the FCS it carries when that is not
    /// simply the right one (a corrupted frame).
    fn receive(&mut self, frame: &[u8], wire_fcs: Option<u32>, dma: &dyn DmaMemory) {
        if self.cr & cr::RE == 0 || !self.link {
            self.stats.rx_disabled += 1;
            return;
        }
        if frame.len() > MAX_RX_FRAME {
            self.stats.rx_too_long += 1;
            return;
        }
        let data = padded(frame);
        let mut dst = [0; 6];
        dst.copy_from_slice(&data[..6]);
        let Some(address) = self.accept(&dst) else {
            self.stats.rx_filtered += 1;
            return;
        };
        let good_fcs = fcs(&data);
        let carried_fcs = wire_fcs.unwrap_or(good_fcs);
        let crc_ok = carried_fcs == good_fcs;
        if !crc_ok {
            // The chip saw a CRC error whether or not it keeps the frame.
            self.isr |= int::RER;
            if self.get32(reg::RCR) & rcr::AER == 0 {
                self.stats.rx_crc_dropped += 1;
                return;
            }
        }
        let size = self.ring_size();
        let total = data.len() as u32 + 8;
        // §3.5 item 3: free space from CAPR (+16 already applied) and CBR.
        let (capr, cbr) = (u32::from(self.capr) % size, u32::from(self.cbr) % size);
        let free = (size + capr - cbr) % size;
        if (free != 0 && total >= free) || total > size {
            self.isr |= int::RXOVW;
            self.mpc = (self.mpc + 1) & 0xFF_FFFF;
            self.stats.rx_overflows += 1;
            return;
        }
        let status = address
            | if crc_ok {
                rx_status::ROK
            } else {
                rx_status::CRC
            };
        let header = u32::from(status) | (data.len() as u32 + 4) << 16;
        let mut packet = Vec::with_capacity(total as usize);
        packet.extend_from_slice(&header.to_le_bytes());
        packet.extend_from_slice(&data);
        packet.extend_from_slice(&carried_fcs.to_le_bytes());
        let base = u64::from(self.get32(reg::RBSTART));
        let wrap = self.get32(reg::RCR) & rcr::WRAP != 0 && size < 65536;
        let ok = if wrap || cbr + total <= size {
            self.dma_write(dma, base + u64::from(cbr), &packet)
        } else {
            let (a, b) = packet.split_at((size - cbr) as usize);
            self.dma_write(dma, base + u64::from(cbr), a) && self.dma_write(dma, base, b)
        };
        if !ok {
            self.isr |= int::SERR;
            self.stats.rx_dma_errors += 1;
            return;
        }
        self.cbr = (((cbr + total + 3) & !3) % size) as u16;
        if crc_ok {
            self.isr |= int::ROK;
        } else {
            self.stats.rx_crc_stored += 1;
        }
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += data.len() as u64;
    }
}

/// The frame padded to the minimum length (QEMU, §3.5 item 5).
fn padded(frame: &[u8]) -> Vec<u8> {
    let mut data = frame.to_vec();
    data.resize(data.len().max(MIN_FRAME), 0);
    data
}

#[cfg(test)]
mod tests {
    #[test]
    fn fcs_check_value() {
        assert_eq!(super::fcs(b"123456789"), 0xCBF4_3926);
    }
}
