//! Counters of what the model did, readable at any time through
//! [`Ax88772::stats`](super::Ax88772::stats).

/// Why received frames (from the wire) were not queued for the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxDrops {
    /// The PHY had no link.
    pub no_link: u64,
    /// The receiver was off (RX_CTL SO or medium-mode RE clear, or RX held in reset).
    pub receiver_off: u64,
    /// Shorter than an Ethernet header (14 bytes).
    pub runt: u64,
    /// Longer than [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN).
    pub too_long: u64,
    /// Rejected by the address filter (RX_CTL, node ID, multicast hash).
    pub filtered: u64,
    /// Dropped by an injected fault.
    pub fault: u64,
    /// The RX FIFO was full.
    pub fifo_full: u64,
    /// Discarded from the FIFO by an RX reset (SW_RESET RR).
    pub reset: u64,
}

/// Why transmitted frames (from bulk OUT) did not reach the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxDrops {
    /// No wire attached: the frame vanished.
    pub no_wire: u64,
    /// The PHY had no link.
    pub no_link: u64,
    /// Dropped by an injected fault.
    pub fault: u64,
}

/// All counters, plus the RX FIFO's fill level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Control requests answered (successfully or with STALL).
    pub control_requests: u64,
    /// Control requests answered with STALL.
    pub control_stalls: u64,
    /// Frames handed to the wire.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Zero-length (0x0000FFFF) headers skipped in bulk-OUT data (§2.8).
    pub tx_padding_headers: u64,
    /// Bulk-OUT transfers with a malformed header (rest of the transfer discarded).
    pub tx_framing_errors: u64,
    /// Transmitted frames that did not reach the wire, by reason.
    pub tx_dropped: TxDrops,
    /// Transmitted frames corrupted by a fault.
    pub tx_corrupted: u64,
    /// Frames from the wire accepted into the RX FIFO.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Received frames not queued, by reason.
    pub rx_dropped: RxDrops,
    /// Received frames corrupted by a fault.
    pub rx_corrupted: u64,
    /// RX headers corrupted by a fault.
    pub rx_headers_corrupted: u64,
    /// Bulk-IN transfers completed with data.
    pub bulk_in_transfers: u64,
    /// Bytes sent on bulk IN (headers, frames and pads).
    pub bulk_in_bytes: u64,
    /// Status packets sent on the interrupt endpoint.
    pub status_packets: u64,
    /// EEPROM writes ignored because writing was not enabled.
    pub eeprom_writes_ignored: u64,
    /// Frames waiting in the RX FIFO now (a level, not a counter).
    pub rx_fifo_frames: u64,
    /// Bytes waiting in the RX FIFO now, as framed for bulk IN.
    pub rx_fifo_bytes: u64,
    /// PAUSE frames received from the link partner.
    pub pause_received: u64,
    /// PAUSE frames sent (stop and go).
    pub pause_sent: u64,
}
