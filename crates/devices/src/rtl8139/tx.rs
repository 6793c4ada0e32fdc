//! Transmit (device-facts.md §3.4): four descriptors served strictly round
//! robin from `tx_next`; a descriptor is pending while its OWN bit is clear.
//! The transmit faults act here: a stall holds every pending descriptor,
//! an injected abort ends a transmit whose frame was fetched.

use hal::DmaMemory;

use super::capture::Outbox;
use super::regs::{cr, int, reg, tsd};
use super::state::State;

impl State {
    /// Send every pending descriptor in round-robin order (at most four),
    /// collecting the frames for the wire (sent after the lock is released).
    pub(crate) fn transmit_pending(&mut self, dma: &dyn DmaMemory, out: &mut Outbox) {
        if self.cr & cr::TE == 0 {
            return;
        }
        if self.faults.tx_hung() {
            self.hold_pending();
            return;
        }
        self.tx_held = 0;
        for _ in 0..4 {
            let n = self.tx_next;
            if self.tsd[n] & tsd::OWN != 0 {
                return;
            }
            let size = self.tsd[n] & tsd::SIZE;
            let addr = u64::from(self.get32(reg::TSAD0 + 4 * n as u32));
            let mut frame = vec![0; size as usize];
            let fetched = size > 0 && size <= tsd::MAX_SIZE && self.dma_read(dma, addr, &mut frame);
            let injected_abort = fetched && self.faults.take_tx_abort();
            if fetched && !injected_abort {
                // §3.4 item 4: DMA done (OWN), sent (TOK), ISR.TOK.
                self.tsd[n] |= tsd::OWN | tsd::TOK;
                self.isr |= int::TOK;
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += u64::from(size);
                out.transmit(frame);
            } else {
                self.tsd[n] |= tsd::OWN | tsd::TABT;
                self.isr |= int::TER;
                self.stats.tx_errors += 1;
                self.stats.tx_fault_aborts += u64::from(injected_abort);
            }
            self.tx_next = (n + 1) % 4;
        }
    }

    /// The transmitter is stalled: pending descriptors stay as written
    /// (OWN = 0, no TOK, no interrupt). Counts each newly held one.
    fn hold_pending(&mut self) {
        let pending = (0..4)
            .filter(|&n| self.tsd[n] & tsd::OWN == 0)
            .fold(0u8, |m, n| m | 1 << n);
        self.stats.tx_hangs += u64::from((pending & !self.tx_held).count_ones());
        self.tx_held = pending;
    }
}
