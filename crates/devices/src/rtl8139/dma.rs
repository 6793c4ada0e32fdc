//! Bus-master accesses as the chip makes them: they need PCI bus mastering,
//! fail while [`Faults::dma_fail`](super::Faults::dma_fail) is set (counted
//! in `Stats::dma_faults`), and otherwise reach the [`DmaMemory`].

use hal::DmaMemory;

use super::state::State;

impl State {
    /// Read `buf.len()` bytes at `addr`; false if the access failed.
    pub(crate) fn dma_read(&mut self, dma: &dyn DmaMemory, addr: u64, buf: &mut [u8]) -> bool {
        self.bus_usable() && dma.read(addr, buf).is_ok()
    }

    /// Write `data` at `addr`; false if the access failed.
    pub(crate) fn dma_write(&mut self, dma: &dyn DmaMemory, addr: u64, data: &[u8]) -> bool {
        self.bus_usable() && dma.write(addr, data).is_ok()
    }

    fn bus_usable(&mut self) -> bool {
        if !self.bus_master() {
            return false;
        }
        if self.faults.dma_fails() {
            self.stats.dma_faults += 1;
            return false;
        }
        true
    }
}
