//! AX88772 vendor requests, register values and PHY registers
//! (device-facts §2.4, §2.5, §2.13), named as Linux names them.

use usb::SetupPacket;

/// The SETUP packet of a vendor read of `length` bytes (device-facts §2.3).
pub fn vendor_in(request: u8, value: u16, index: u16, length: u16) -> SetupPacket {
    SetupPacket {
        request_type: VENDOR_IN,
        request,
        value,
        index,
        length,
    }
}

/// The SETUP packet of a vendor write of `length` data bytes.
pub fn vendor_out(request: u8, value: u16, index: u16, length: u16) -> SetupPacket {
    SetupPacket {
        request_type: VENDOR_OUT,
        request,
        value,
        index,
        length,
    }
}

/// bmRequestType of a vendor read (device to host).
pub const VENDOR_IN: u8 = 0xC0;
/// bmRequestType of a vendor write (host to device).
pub const VENDOR_OUT: u8 = 0x40;

/// Take the MDIO bus (software MII).
pub const SET_SW_MII: u8 = 0x06;
/// Read a PHY register (wValue PHY address, wIndex register, 2 bytes).
pub const READ_MII_REG: u8 = 0x07;
/// Write a PHY register.
pub const WRITE_MII_REG: u8 = 0x08;
/// Management status: bit 0 Host_EN, bits 6:4 chip code.
pub const STATMNGSTS_REG: u8 = 0x09;
/// Give the MDIO bus back to the hardware.
pub const SET_HW_MII: u8 = 0x0A;
/// Read the RX control register.
pub const READ_RX_CTL: u8 = 0x0F;
/// Write the RX control register (wValue).
pub const WRITE_RX_CTL: u8 = 0x10;
/// Write the inter-packet gaps.
pub const WRITE_IPG0: u8 = 0x12;
/// Read the MAC address (6 bytes).
pub const READ_NODE_ID: u8 = 0x13;
/// Write the MAC address (6 bytes).
pub const WRITE_NODE_ID: u8 = 0x14;
/// Write the 8-byte multicast hash filter.
pub const WRITE_MULTI_FILTER: u8 = 0x16;
/// Read the PHY addresses (byte 1: the embedded PHY).
pub const READ_PHY_ID: u8 = 0x19;
/// Read the medium status.
pub const READ_MEDIUM_STATUS: u8 = 0x1A;
/// Write the medium mode (wValue).
pub const WRITE_MEDIUM_MODE: u8 = 0x1B;
/// Write the GPIOs (wValue).
pub const WRITE_GPIOS: u8 = 0x1F;
/// Software reset (wValue).
pub const SW_RESET: u8 = 0x20;
/// Software PHY select (wValue).
pub const SW_PHY_SELECT: u8 = 0x22;

/// RX_CTL: start operation (receiver on), accept broadcast (Linux's 0x0088)
/// and the 16 KiB bulk-IN burst (MFB = 3). Linux keeps MFB at 2 KiB and one
/// frame or so per 2048-byte transfer; the larger burst lets the chip pack
/// about ten full-size frames into one transfer, which cuts the per-frame
/// cost of the USB path by as much (device-facts §2.5.1).
pub const RX_CTL_DEFAULT: u16 = 0x0088 | RX_CTL_MFB_16K;
/// RX_CTL: maximum bulk-IN burst 16 KiB (bits 9:8 = 3).
pub const RX_CTL_MFB_16K: u16 = 0x0300;
/// RX_CTL: promiscuous.
pub const RX_CTL_PRO: u16 = 0x0001;
/// RX_CTL: all multicast.
pub const RX_CTL_AMALL: u16 = 0x0002;
/// RX_CTL: multicast through the hash filter.
pub const RX_CTL_AM: u16 = 0x0010;

/// Medium mode: full duplex.
pub const MEDIUM_FD: u16 = 0x0002;
/// Medium mode: always 1 on the 772.
pub const MEDIUM_AC: u16 = 0x0004;
/// Medium mode: receive enable.
pub const MEDIUM_RE: u16 = 0x0100;
/// Medium mode: 100 Mb/s.
pub const MEDIUM_PS: u16 = 0x0200;
/// Medium mode default (FD | PS | AC | RE).
pub const MEDIUM_DEFAULT: u16 = 0x0306;

/// GPIO value Linux writes on the 772 (RSE | GPO2 | GPO2EN).
pub const GPIO_772: u16 = 0x00B0;
/// SW_RESET: internal PHY power down.
pub const SW_RESET_IPPD: u16 = 0x40;
/// SW_RESET: internal PHY running and external PHY out of reset (IPRL | PRL).
pub const SW_RESET_IPRL_PRL: u16 = 0x28;
/// SW_RESET: clear.
pub const SW_RESET_CLEAR: u16 = 0x00;
/// IPG wValue and wIndex as Linux writes them.
pub const IPG: (u16, u16) = (0x001D, 0x0012);

/// The embedded PHY's MDIO address.
pub const EMBEDDED_PHY: u8 = 0x10;

/// PHY register: basic mode control.
pub const MII_BMCR: u16 = 0;
/// PHY register: basic mode status.
pub const MII_BMSR: u16 = 1;
/// PHY register: identifier, high half.
pub const MII_PHYSID1: u16 = 2;
/// PHY register: identifier, low half.
pub const MII_PHYSID2: u16 = 3;
/// PHY register: autonegotiation advertisement.
pub const MII_ADVERTISE: u16 = 4;
/// PHY register: link partner ability.
pub const MII_LPA: u16 = 5;

/// BMCR: power down.
pub const BMCR_PDOWN: u16 = 1 << 11;
/// BMCR: autonegotiation enable.
pub const BMCR_ANENABLE: u16 = 1 << 12;
/// BMCR: restart autonegotiation.
pub const BMCR_ANRESTART: u16 = 1 << 9;
/// BMSR: link up (latched low).
pub const BMSR_LSTATUS: u16 = 1 << 2;
/// BMSR: autonegotiation complete.
pub const BMSR_ANEGCOMPLETE: u16 = 1 << 5;
/// ADVERTISE: 10/100 half/full, CSMA and symmetric pause.
pub const ADVERTISE_ALL: u16 = 0x01E1 | ADVERTISE_PAUSE;
/// ADVERTISE/LPA: symmetric pause (flow control), which phylink advertises
/// for the 772's MAC.
pub const ADVERTISE_PAUSE: u16 = 0x0400;
/// LPA: 100BASE-TX full duplex.
pub const LPA_100FULL: u16 = 0x0100;
/// LPA: 100BASE-TX half duplex.
pub const LPA_100HALF: u16 = 0x0080;
/// LPA: 10BASE-T full duplex.
pub const LPA_10FULL: u16 = 0x0040;

/// Bytes of an interrupt-endpoint status packet; byte 2 bit 0 is the link.
pub const STATUS_LEN: usize = 8;
/// Bulk-IN URB size: one full burst (MFB = 16 KiB; Linux uses 2048 with
/// MFB = 2 KiB).
pub const RX_URB_SIZE: usize = 16384;
/// The bulk endpoints' max packet size at high speed.
pub const BULK_MAX_PACKET: usize = 512;

/// Endpoint addresses.
pub mod ep {
    /// The default control pipe.
    pub const CONTROL: u8 = 0x00;
    /// Interrupt IN: status.
    pub const INTERRUPT: u8 = 0x81;
    /// Bulk IN: received frames.
    pub const BULK_IN: u8 = 0x82;
    /// Bulk OUT: frames to send.
    pub const BULK_OUT: u8 = 0x03;
}

/// Medium mode: RX flow control (honour PAUSE frames).
pub const MEDIUM_RFC: u16 = 0x0010;
/// Medium mode: TX flow control (send PAUSE frames).
pub const MEDIUM_TFC: u16 = 0x0020;

/// The medium mode for a link of `mbps`, duplex and pause, as phylink's
/// `mac_link_up` writes it.
pub fn medium_for(mbps: u32, full_duplex: bool, pause: bool) -> u16 {
    let mut m = MEDIUM_AC | MEDIUM_RE;
    if full_duplex {
        m |= MEDIUM_FD;
    }
    if mbps >= 100 {
        m |= MEDIUM_PS;
    }
    if pause {
        m |= MEDIUM_RFC | MEDIUM_TFC;
    }
    m
}

/// Speed, duplex and flow control from the link partner's abilities
/// (LPA & ADVERTISE). Pause needs full duplex and both sides' symmetric
/// pause bit.
pub fn resolve(lpa: u16, advertise: u16) -> (u32, bool, bool) {
    let common = lpa & advertise;
    let (mbps, full) = if common & LPA_100FULL != 0 {
        (100, true)
    } else if common & LPA_100HALF != 0 {
        (100, false)
    } else if common & LPA_10FULL != 0 {
        (10, true)
    } else {
        (10, false)
    };
    (mbps, full, full && common & ADVERTISE_PAUSE != 0)
}
