//! Register offsets and bit fields (device-facts.md §3.2, §3.3).

/// Register offsets from the BAR base (§3.2).
pub mod reg {
    /// IDR0–5: station address.
    pub const IDR0: u32 = 0x00;
    /// MAR0–7: multicast hash.
    pub const MAR0: u32 = 0x08;
    /// TSD0 (TSDn at `TSD0 + 4 n`): transmit status/command.
    pub const TSD0: u32 = 0x10;
    /// TSAD0 (TSADn at `TSAD0 + 4 n`): transmit buffer address.
    pub const TSAD0: u32 = 0x20;
    /// RBSTART: receive ring address.
    pub const RBSTART: u32 = 0x30;
    /// CR: command.
    pub const CR: u32 = 0x37;
    /// CAPR: current address of packet read (driver pointer − 16).
    pub const CAPR: u32 = 0x38;
    /// CBR: current buffer address (device write pointer), read-only.
    pub const CBR: u32 = 0x3A;
    /// IMR: interrupt mask.
    pub const IMR: u32 = 0x3C;
    /// ISR: interrupt status, write 1 to clear.
    pub const ISR: u32 = 0x3E;
    /// TCR: transmit configuration.
    pub const TCR: u32 = 0x40;
    /// RCR: receive configuration.
    pub const RCR: u32 = 0x44;
    /// TCTR: timer count (not running in the model; any write resets it).
    pub const TCTR: u32 = 0x48;
    /// MPC: missed packet counter (24 bits; any write clears).
    pub const MPC: u32 = 0x4C;
    /// 9346CR: EEPROM command / config write enable.
    pub const CFG9346: u32 = 0x50;
    /// CONFIG0.
    pub const CONFIG0: u32 = 0x51;
    /// CONFIG1.
    pub const CONFIG1: u32 = 0x52;
    /// TimerInt.
    pub const TIMER_INT: u32 = 0x54;
    /// MSR: media status.
    pub const MSR: u32 = 0x58;
    /// CONFIG3.
    pub const CONFIG3: u32 = 0x59;
    /// CONFIG4.
    pub const CONFIG4: u32 = 0x5A;
    /// HLTCLK.
    pub const HLTCLK: u32 = 0x5B;
    /// MULINT.
    pub const MULINT: u32 = 0x5C;
    /// RERID: PCI revision mirror.
    pub const RERID: u32 = 0x5E;
    /// TSAD (summary): transmit status of all descriptors.
    pub const TSAD_SUMMARY: u32 = 0x60;
    /// BMCR (MII register 0).
    pub const BMCR: u32 = 0x62;
    /// BMSR (MII register 1).
    pub const BMSR: u32 = 0x64;
    /// ANAR (MII register 4).
    pub const ANAR: u32 = 0x66;
    /// ANLPAR (MII register 5).
    pub const ANLPAR: u32 = 0x68;
    /// ANER (MII register 6).
    pub const ANER: u32 = 0x6A;
    /// CSCR: bit 10 LinkOK, bit 11 LinkChange.
    pub const CSCR: u32 = 0x74;
    /// CONFIG5.
    pub const CONFIG5: u32 = 0xD8;
    /// Size of the register window (both BARs).
    pub const WINDOW: u32 = 0x100;
}

/// CR bits (§3.3).
pub mod cr {
    /// RX buffer empty (read-only).
    pub const BUFE: u8 = 1 << 0;
    /// Transmitter enable.
    pub const TE: u8 = 1 << 2;
    /// Receiver enable.
    pub const RE: u8 = 1 << 3;
    /// Software reset (self-clearing; the model resets at once).
    pub const RST: u8 = 1 << 4;
}

/// ISR / IMR bits (§3.3).
pub mod int {
    /// ROK: packet received.
    pub const ROK: u16 = 1 << 0;
    /// RER: receive error.
    pub const RER: u16 = 1 << 1;
    /// TOK: packet transmitted.
    pub const TOK: u16 = 1 << 2;
    /// TER: transmit error.
    pub const TER: u16 = 1 << 3;
    /// RXOVW: receive ring overflow.
    pub const RXOVW: u16 = 1 << 4;
    /// PUN/LinkChg: link change.
    pub const LINK_CHG: u16 = 1 << 5;
    /// FOVW: receive FIFO overflow.
    pub const FOVW: u16 = 1 << 6;
    /// TimeOut.
    pub const TIMEOUT: u16 = 1 << 14;
    /// SERR: PCI system error (the model: a DMA access failed).
    pub const SERR: u16 = 1 << 15;
    /// Bits 9–12 cannot be cleared (QEMU).
    pub(crate) const NOT_WRITABLE: u16 = 0x1E00;
}

/// TSD bits (§3.3).
pub mod tsd {
    /// Byte count.
    pub const SIZE: u32 = 0x1FFF;
    /// Host owns the buffer (DMA complete); written 0 to start a transmit.
    pub const OWN: u32 = 1 << 13;
    /// FIFO underrun.
    pub const TUN: u32 = 1 << 14;
    /// Transmitted OK.
    pub const TOK: u32 = 1 << 15;
    /// Transmit aborted.
    pub const TABT: u32 = 1 << 30;
    /// Largest frame the model sends (8139too's buffer size).
    pub const MAX_SIZE: u32 = 1792;
}

/// RCR bits (§3.3).
pub mod rcr {
    /// Accept all physical (promiscuous).
    pub const AAP: u32 = 1 << 0;
    /// Accept physical match.
    pub const APM: u32 = 1 << 1;
    /// Accept multicast (hash filtered).
    pub const AM: u32 = 1 << 2;
    /// Accept broadcast.
    pub const AB: u32 = 1 << 3;
    /// Accept runt (not modelled: the model pads short frames).
    pub const AR: u32 = 1 << 4;
    /// Accept error packets: store frames with a bad CRC, flagged in the
    /// header, instead of dropping them.
    pub const AER: u32 = 1 << 5;
    /// WRAP: 1 = run past the ring end into the slack area.
    pub const WRAP: u32 = 1 << 7;
    /// Shift of RBLEN (ring size 8 KiB << RBLEN).
    pub const RBLEN_SHIFT: u32 = 11;
}

/// RX packet header status bits (§3.3).
pub mod rx_status {
    /// Received OK.
    pub const ROK: u16 = 1 << 0;
    /// Frame alignment error (8139too: RxBadAlign; never set by the model).
    pub const FAE: u16 = 1 << 1;
    /// CRC error (8139too: RxCRCErr).
    pub const CRC: u16 = 1 << 2;
    /// Frame longer than 4 KiB (8139too: RxTooLong; never set by the model).
    pub const LONG: u16 = 1 << 3;
    /// Runt (8139too: RxRunt; never set by the model).
    pub const RUNT: u16 = 1 << 4;
    /// Invalid symbol (8139too: RxBadSymbol; never set by the model).
    pub const ISE: u16 = 1 << 5;
    /// Broadcast.
    pub const BAR: u16 = 1 << 13;
    /// Physical address match.
    pub const PAM: u16 = 1 << 14;
    /// Multicast.
    pub const MAR: u16 = 1 << 15;
}

/// 9346CR fields (§3.3, §3.8).
pub mod cfg9346 {
    /// Mode bits 7:6.
    pub const MODE_SHIFT: u8 = 6;
    /// Mode 01: auto-load.
    pub const MODE_AUTOLOAD: u8 = 0b01;
    /// Mode 10: EEPROM programming (bit-bang).
    pub const MODE_PROGRAM: u8 = 0b10;
    /// Mode 11: config register write enable.
    pub const MODE_CONFIG_WRITE: u8 = 0b11;
    /// Chip select.
    pub const EECS: u8 = 1 << 3;
    /// Serial clock.
    pub const EESK: u8 = 1 << 2;
    /// Data in (to the EEPROM).
    pub const EEDI: u8 = 1 << 1;
    /// Data out (from the EEPROM, read-only).
    pub const EEDO: u8 = 1 << 0;
}

/// Hardware version in TCR: RTL8139C (§3.1, recommended model value).
pub const TCR_VERSION_8139C: u32 = 0x7400_0000;
/// TCR bits that hold the version (read-only).
pub const TCR_VERSION_MASK: u32 = 0x7CC0_0000;
