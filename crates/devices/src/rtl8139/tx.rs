//! Transmit (device-facts.md §3.4): four descriptors served strictly round
//! robin from `tx_next`; a descriptor is pending while its OWN bit is clear.

use hal::DmaMemory;

use super::regs::{cr, int, reg, tsd};
use super::state::State;

impl State {
    /// Send every pending descriptor in round-robin order (at most four),
    /// collecting the frames for the wire (sent after the lock is released).
    pub(crate) fn transmit_pending(&mut self, dma: &dyn DmaMemory, out: &mut Vec<Vec<u8>>) {
        for _ in 0..4 {
            let n = self.tx_next;
            if self.cr & cr::TE == 0 || self.tsd[n] & tsd::OWN != 0 {
                return;
            }
            let size = self.tsd[n] & tsd::SIZE;
            let addr = u64::from(self.get32(reg::TSAD0 + 4 * n as u32));
            let mut frame = vec![0; size as usize];
            let ok = size > 0
                && size <= tsd::MAX_SIZE
                && self.bus_master()
                && dma.read(addr, &mut frame).is_ok();
            if ok {
                // §3.4 item 4: DMA done (OWN), sent (TOK), ISR.TOK.
                self.tsd[n] |= tsd::OWN | tsd::TOK;
                self.isr |= int::TOK;
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += u64::from(size);
                out.push(frame);
            } else {
                self.tsd[n] |= tsd::OWN | tsd::TABT;
                self.isr |= int::TER;
                self.stats.tx_errors += 1;
            }
            self.tx_next = (n + 1) % 4;
        }
    }
}
