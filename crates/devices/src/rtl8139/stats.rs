//! The model's counters: what the chip did, and every fault that fired.

/// Counters kept by the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames sent to the wire.
    pub tx_frames: u64,
    /// Bytes sent to the wire.
    pub tx_bytes: u64,
    /// Transmits aborted, for any reason (bad size, no bus mastering, DMA
    /// fault, `tx_abort_next`).
    pub tx_errors: u64,
    /// Transmits aborted by [`Faults::tx_abort_next`](super::Faults::tx_abort_next)
    /// (also counted in `tx_errors`).
    pub tx_fault_aborts: u64,
    /// Transmits held by [`Faults::tx_hang`](super::Faults::tx_hang), each
    /// pending descriptor counted once per stall.
    pub tx_hangs: u64,
    /// Frames written into the receive ring (bad-CRC frames stored under
    /// RCR.AER included).
    pub rx_frames: u64,
    /// Bytes of those frames (without header and CRC, after padding).
    pub rx_bytes: u64,
    /// Frames lost on the wire by the `rx` drop faults (never seen by the chip).
    pub rx_fault_drops: u64,
    /// Frames corrupted on the wire by the `rx` corrupt faults.
    pub rx_fault_corruptions: u64,
    /// Frames with a bad CRC dropped because RCR.AER was clear.
    pub rx_crc_dropped: u64,
    /// Frames with a bad CRC stored with the CRC status bit because RCR.AER
    /// was set (also counted in `rx_frames`).
    pub rx_crc_stored: u64,
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
    /// Bus-master accesses failed by [`Faults::dma_fail`](super::Faults::dma_fail).
    pub dma_faults: u64,
    /// Resets, power-on included.
    pub resets: u64,
}
