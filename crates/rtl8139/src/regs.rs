//! The RTL8139's registers as the driver uses them (device-facts.md §3.2,
//! §3.3; 8139too's names in the comments). The driver keeps its own
//! definitions: it must not depend on a device model.

/// Register offsets from the BAR base.
pub mod reg {
    /// MAC0 (IDR0-5): station address.
    pub const IDR0: u32 = 0x00;
    /// MAR0 (MAR0-7): multicast hash.
    pub const MAR0: u32 = 0x08;
    /// TxStatus0 (TSD0; TSDn at `TSD0 + 4n`).
    pub const TSD0: u32 = 0x10;
    /// TxAddr0 (TSAD0; TSADn at `TSAD0 + 4n`).
    pub const TSAD0: u32 = 0x20;
    /// RxBuf (RBSTART).
    pub const RBSTART: u32 = 0x30;
    /// ChipCmd (CR).
    pub const CR: u32 = 0x37;
    /// RxBufPtr (CAPR): the read pointer, written minus 16.
    pub const CAPR: u32 = 0x38;
    /// IntrMask (IMR).
    pub const IMR: u32 = 0x3C;
    /// IntrStatus (ISR): write 1 to clear.
    pub const ISR: u32 = 0x3E;
    /// TxConfig (TCR).
    pub const TCR: u32 = 0x40;
    /// RxConfig (RCR).
    pub const RCR: u32 = 0x44;
    /// RxMissed (MPC): 24 bits, any write clears.
    pub const MPC: u32 = 0x4C;
    /// Cfg9346 (9346CR).
    pub const CFG9346: u32 = 0x50;
    /// Config1.
    pub const CONFIG1: u32 = 0x52;
    /// Config3.
    pub const CONFIG3: u32 = 0x59;
    /// Config4.
    pub const CONFIG4: u32 = 0x5A;
    /// HltClk.
    pub const HLTCLK: u32 = 0x5B;
    /// MultiIntr (MULINT).
    pub const MULINT: u32 = 0x5C;
    /// BasicModeCtrl (BMCR, MII register 0).
    pub const BMCR: u32 = 0x62;
    /// BasicModeStatus (BMSR, MII register 1).
    pub const BMSR: u32 = 0x64;
    /// NWayAdvert (ANAR, MII register 4).
    pub const ANAR: u32 = 0x66;
    /// NWayLPAR (ANLPAR, MII register 5).
    pub const ANLPAR: u32 = 0x68;
    /// CSCR: bit 11 LinkChange.
    pub const CSCR: u32 = 0x74;
}

/// ChipCmd bits.
pub mod cr {
    /// RxBufEmpty (read-only).
    pub const BUFE: u8 = 1 << 0;
    /// CmdTxEnb.
    pub const TE: u8 = 1 << 2;
    /// CmdRxEnb.
    pub const RE: u8 = 1 << 3;
    /// CmdReset (self-clearing).
    pub const RST: u8 = 1 << 4;
}

/// IntrStatus / IntrMask bits.
pub mod int {
    /// RxOK.
    pub const ROK: u16 = 1 << 0;
    /// RxErr.
    pub const RER: u16 = 1 << 1;
    /// TxOK.
    pub const TOK: u16 = 1 << 2;
    /// TxErr.
    pub const TER: u16 = 1 << 3;
    /// RxOverflow.
    pub const RXOVW: u16 = 1 << 4;
    /// RxUnderrun, which is also the link change.
    pub const LINK_CHG: u16 = 1 << 5;
    /// RxFIFOOver.
    pub const FOVW: u16 = 1 << 6;
    /// PCSTimeout.
    pub const TIMEOUT: u16 = 1 << 14;
    /// PCIErr.
    pub const SERR: u16 = 1 << 15;
    /// rtl8139_intr_mask: everything the driver handles.
    pub const ALL: u16 = 0xC07F;
    /// The receive bits (RxAckBits).
    pub const RX_ACK: u16 = ROK | RXOVW | FOVW;
}

/// TxStatus bits.
pub mod tsd {
    /// TxHostOwns: the chip finished reading the buffer.
    pub const OWN: u32 = 1 << 13;
    /// TxUnderrun.
    pub const TUN: u32 = 1 << 14;
    /// TxStatOK.
    pub const TOK: u32 = 1 << 15;
    /// TxAborted.
    pub const TABT: u32 = 1 << 30;
    /// The early-transmit threshold 8139too starts with (256 bytes).
    pub const EARLY_THRESHOLD: u32 = 0x0008_0000;
}

/// RxConfig bits.
pub mod rcr {
    /// AcceptAllPhys.
    pub const AAP: u32 = 1 << 0;
    /// AcceptMyPhys.
    pub const APM: u32 = 1 << 1;
    /// AcceptMulticast.
    pub const AM: u32 = 1 << 2;
    /// AcceptBroadcast.
    pub const AB: u32 = 1 << 3;
    /// What 8139too programs (32 KiB ring, no wrap, unlimited DMA burst,
    /// whole-packet FIFO threshold), before the accept bits.
    pub const BASE: u32 = 0x0000_F780;
    /// The accept bits.
    pub const ACCEPT: u32 = AAP | APM | AM | AB;
}

/// The receive packet header's status bits.
pub mod rx_status {
    /// RxStatusOK.
    pub const ROK: u16 = 1 << 0;
}

/// 9346CR values.
pub mod cfg9346 {
    /// Cfg9346_Lock.
    pub const LOCK: u8 = 0x00;
    /// Cfg9346_Unlock.
    pub const UNLOCK: u8 = 0xC0;
    /// EEPROM programming mode, chip select low.
    pub const EE_ENB: u8 = 0x80;
    /// Chip select.
    pub const EE_CS: u8 = 0x08;
    /// Serial clock.
    pub const EE_SHIFT_CLK: u8 = 0x04;
    /// Data to the EEPROM.
    pub const EE_DATA_WRITE: u8 = 0x02;
    /// Data from the EEPROM.
    pub const EE_DATA_READ: u8 = 0x01;
}

/// TxConfig as 8139too programs it (IFG 96 bit times, max DMA burst 1 KiB).
pub const TCR_VALUE: u32 = 0x0300_0680;
/// TxConfig's TxClearAbt bit (retransmit / clear an abort).
pub const TCR_CLRABT: u32 = 1;
/// TxConfig bits that hold the chip version.
pub const TCR_VERSION_MASK: u32 = 0x7CC0_0000;

/// The receive ring: 32 KiB (RBLEN 2), plus the 16 bytes the chip may
/// write past it and 1.5 KiB of slack for a frame that runs over the end
/// (WRAP = 1, "RxNoWrap" in 8139too).
pub const RX_RING_LEN: u32 = 32 * 1024;
/// The receive ring's allocation.
pub const RX_ALLOC_LEN: usize = RX_RING_LEN as usize + 16 + 1536;
/// Each transmit bounce buffer (8139too's TX_BUF_SIZE).
pub const TX_BUF_LEN: usize = 1792;
/// Transmit descriptors, used round robin.
pub const NUM_TX_DESC: usize = 4;
/// Shortest frame on the wire (without the CRC): shorter ones are padded.
pub const ETH_ZLEN: usize = 60;
/// Longest frame the driver sends (without the CRC).
pub const MAX_FRAME: usize = 1514;
