//! Vendor requests and the MAC registers behind them (device-facts.md
//! §2.3-§2.6).
//!
//! Reads are bmRequestType 0xC0, writes 0x40; register values travel
//! little-endian. A read answers the register's natural size (truncated
//! to wLength if the host asked for less), which is always the full wLength
//! for the lengths in the §2.4 table. STALL answers: unknown codes, a code
//! used in the wrong direction, a write whose data stage is shorter than
//! the register, an EEPROM offset past the end, a vendor request not
//! addressed to the device, the 772A/B-only QCTCTRL and the undocumented
//! SW_PHY_STATUS, and PHY access while the host does not own MDIO.
//!
//! # MDIO ownership handshake (§2.6)
//!
//! ```text
//!   host                                   chip (STATMNGSTS bit0 = Host_EN)
//!    │ SET_SW_MII (0x06) ─────────────────▶ hand-over starts
//!    │ STATMNGSTS (0x09) ◀──── 0x00 ─────── still the hardware's  (repeated
//!    │ STATMNGSTS (0x09) ◀──── 0x01 ─────── Host_EN: host owns    mdio_handover_reads
//!    │ READ_MII_REG  (0x07, phy, reg) ◀──── LE16 value             times, default 0)
//!    │ WRITE_MII_REG (0x08, phy, reg, LE16) ▶
//!    │ SET_HW_MII (0x0A) ─────────────────▶ Host_EN = 0, hardware owns
//! ```
//!
//! READ_MII_REG / WRITE_MII_REG while Host_EN is 0 answer STALL: the chip's
//! MDIO master belongs to the hardware then, and a driver that skips the
//! handshake should fail loudly rather than read stale values. The PHY
//! address (wValue) and register (wIndex) are taken modulo 32, as the
//! 5-bit MDIO fields would.

use usb::device::{SetupPacket, TransferError};

use super::filter::ETH_ALEN;
use super::phy::{MDIO_ABSENT, PHY_ADDRESS_EMBEDDED};
use super::state::State;

/// Vendor request codes (Linux `AX_CMD_*` without the prefix; §2.4).
pub mod cmd {
    /// Host takes the MDIO bus.
    pub const SET_SW_MII: u8 = 0x06;
    /// MDIO read: wValue PHY, wIndex register, 2 bytes LE.
    pub const READ_MII_REG: u8 = 0x07;
    /// MDIO write: wValue PHY, wIndex register, 2 data bytes LE.
    pub const WRITE_MII_REG: u8 = 0x08;
    /// STATMNGSTS: bit0 Host_EN, bits 6:4 chip code (1 byte).
    pub const STATMNGSTS_REG: u8 = 0x09;
    /// Hardware takes the MDIO bus back.
    pub const SET_HW_MII: u8 = 0x0A;
    /// EEPROM word at wValue (2 bytes LE).
    pub const READ_EEPROM: u8 = 0x0B;
    /// EEPROM word wIndex to offset wValue.
    pub const WRITE_EEPROM: u8 = 0x0C;
    /// Enable EEPROM writes.
    pub const WRITE_ENABLE: u8 = 0x0D;
    /// Disable EEPROM writes.
    pub const WRITE_DISABLE: u8 = 0x0E;
    /// RX_CTL (2 bytes).
    pub const READ_RX_CTL: u8 = 0x0F;
    /// RX_CTL = wValue.
    pub const WRITE_RX_CTL: u8 = 0x10;
    /// IPG0, IPG1, IPG2 (3 bytes).
    pub const READ_IPG012: u8 = 0x11;
    /// IPG0/IPG1 = wValue low/high byte, IPG2 = wIndex low byte.
    pub const WRITE_IPG0: u8 = 0x12;
    /// Node ID (6 bytes).
    pub const READ_NODE_ID: u8 = 0x13;
    /// Node ID from the 6-byte data stage.
    pub const WRITE_NODE_ID: u8 = 0x14;
    /// Multicast hash table (8 bytes; FreeBSD's READ_MCAST).
    pub const READ_MULTI_FILTER: u8 = 0x15;
    /// Multicast hash table from the 8-byte data stage.
    pub const WRITE_MULTI_FILTER: u8 = 0x16;
    /// PHY addresses: byte 0 secondary, byte 1 primary (2 bytes).
    pub const READ_PHY_ID: u8 = 0x19;
    /// Medium mode (2 bytes).
    pub const READ_MEDIUM_STATUS: u8 = 0x1A;
    /// Medium mode = wValue.
    pub const WRITE_MEDIUM_MODE: u8 = 0x1B;
    /// Monitor mode (1 byte).
    pub const READ_MONITOR_MODE: u8 = 0x1C;
    /// Monitor mode = wValue.
    pub const WRITE_MONITOR_MODE: u8 = 0x1D;
    /// GPIOs (1 byte).
    pub const READ_GPIOS: u8 = 0x1E;
    /// GPIOs = wValue (bit 7 RSE reloads the node ID from the EEPROM).
    pub const WRITE_GPIOS: u8 = 0x1F;
    /// Software reset bits = wValue.
    pub const SW_RESET: u8 = 0x20;
    /// Defined but undocumented and unused; STALLs here.
    pub const SW_PHY_STATUS: u8 = 0x21;
    /// PHY select = wValue.
    pub const SW_PHY_SELECT: u8 = 0x22;
    /// AX88772B only; STALLs on the 772.
    pub const QCTCTRL: u8 = 0x2A;
}

/// RX_CTL bits (Linux `AX_RX_CTL_*`, §2.5.1).
pub mod rx_ctl {
    /// Promiscuous.
    pub const PRO: u16 = 0x0001;
    /// Accept all multicast.
    pub const AMALL: u16 = 0x0002;
    /// Save error packets.
    pub const SEP: u16 = 0x0004;
    /// Accept broadcast.
    pub const AB: u16 = 0x0008;
    /// Accept multicast matching the hash table.
    pub const AM: u16 = 0x0010;
    /// Accept physical.
    pub const AP: u16 = 0x0020;
    /// Start operation: receiver on.
    pub const SO: u16 = 0x0080;
    /// Maximum bulk-IN burst field (bits 9:8): 2 KiB << MFB.
    pub const MFB_MASK: u16 = 0x0300;
    /// Shift of the MFB field.
    pub const MFB_SHIFT: u16 = 8;
}

/// Medium mode bits (Linux `AX_MEDIUM_*`, §2.5.2).
pub mod medium {
    /// Full duplex.
    pub const FD: u16 = 0x0002;
    /// Always 1 per the datasheet.
    pub const AC: u16 = 0x0004;
    /// RX flow control.
    pub const RFC: u16 = 0x0010;
    /// TX flow control.
    pub const TFC: u16 = 0x0020;
    /// Receive enable.
    pub const RE: u16 = 0x0100;
    /// 100 Mbit/s.
    pub const PS: u16 = 0x0200;
}

/// SW_RESET bits (Linux `AX_SWRESET_*`, §2.5.3).
pub mod sw_reset {
    /// RX reset: empties the RX FIFO; the receiver stays off while set.
    pub const RR: u8 = 0x01;
    /// TX reset (nothing is buffered on TX; latched only).
    pub const RT: u8 = 0x02;
    /// External PHY reset pin tri-state enable (latched only).
    pub const PRTE: u8 = 0x04;
    /// External PHY reset pin level (latched only: no external PHY).
    pub const PRL: u8 = 0x08;
    /// Bulk IN answers one zero-length packet.
    pub const BZ: u8 = 0x10;
    /// Internal PHY reset, active low: 1 = PHY running.
    pub const IPRL: u8 = 0x20;
    /// Internal PHY power down.
    pub const IPPD: u8 = 0x40;
}

/// GPIO bits (Linux `AX_GPIO_*`, §2.5.4).
pub mod gpio {
    /// Reload the serial EEPROM (the node ID is reloaded from it).
    pub const RSE: u8 = 0x80;
}

/// STATMNGSTS bit0: the host owns MDIO (§2.5.6).
pub const STATMNGSTS_HOST_EN: u8 = 0x01;
/// Chip code of the plain AX88772 in STATMNGSTS bits 6:4 (§2.1).
pub const CHIP_CODE_AX88772: u8 = 0x00;
/// READ_PHY_ID byte 0: the secondary (external) PHY. There is none: type 7
/// ("not supported", FreeBSD's decoding of bits 7:5, §2.5.7), address 0.
pub const PHY_ID_SECONDARY_NONE: u8 = 0xE0;
/// SW_PHY_SELECT bit0 PSEL: embedded PHY (§2.5.5).
pub const PHY_SELECT_EMBEDDED: u8 = 0x01;

/// IPG0/1/2 defaults (§2.5.9).
pub const IPG_DEFAULTS: [u8; 3] = [0x15, 0x0C, 0x12];
/// SW_RESET at power-on (model choice; the facts are silent): internal PHY
/// out of reset and powered (IPRL | PRL).
pub const SW_RESET_POWER_ON: u8 = sw_reset::IPRL | sw_reset::PRL;

/// Who owns the MDIO bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MdioOwner {
    /// The chip's hardware (after SET_HW_MII and at power-on).
    Hardware,
    /// SET_SW_MII was sent; Host_EN reads 0 for this many more STATMNGSTS reads.
    HandingOver(u32),
    /// The host (Host_EN = 1).
    Host,
}

/// The MAC's registers as the vendor requests see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registers {
    /// RX_CTL (0x0F/0x10). Power-on 0: receiver off.
    pub rx_ctl: u16,
    /// Medium mode (0x1A/0x1B). Power-on 0 (model choice): RE clear.
    pub medium_mode: u16,
    /// IPG0, IPG1, IPG2 as last written.
    pub ipg: [u8; 3],
    /// Node ID (MAC address); loaded from the EEPROM at power-on.
    pub node_id: [u8; ETH_ALEN],
    /// The 64-bit multicast hash table.
    pub multicast_hash: [u8; 8],
    /// Monitor mode (0x1C/0x1D).
    pub monitor_mode: u8,
    /// GPIO register (0x1E/0x1F).
    pub gpio: u8,
    /// Last SW_RESET value.
    pub sw_reset: u8,
    /// SW_PHY_SELECT value (power-on: embedded PHY).
    pub phy_select: u8,
    /// MDIO ownership.
    pub mdio_owner: MdioOwner,
}

impl Registers {
    /// Power-on values with `node_id` from the EEPROM.
    pub(crate) fn power_on(node_id: [u8; ETH_ALEN]) -> Self {
        Registers {
            rx_ctl: 0,
            medium_mode: 0,
            ipg: IPG_DEFAULTS,
            node_id,
            multicast_hash: [0; 8],
            monitor_mode: 0,
            gpio: 0,
            sw_reset: SW_RESET_POWER_ON,
            phy_select: PHY_SELECT_EMBEDDED,
            mdio_owner: MdioOwner::Hardware,
        }
    }

    /// Whether the MAC receives: RX_CTL SO, medium-mode RE, RX not in reset.
    pub fn receiver_on(&self) -> bool {
        self.rx_ctl & rx_ctl::SO != 0
            && self.medium_mode & medium::RE != 0
            && self.sw_reset & sw_reset::RR == 0
    }

    /// The largest bulk-IN transfer the MFB field allows (2 KiB << MFB).
    pub fn bulk_in_burst(&self) -> usize {
        2048 << ((self.rx_ctl & rx_ctl::MFB_MASK) >> rx_ctl::MFB_SHIFT)
    }
}

/// A register read's answer: at most wLength bytes.
fn answer(bytes: &[u8], length: u16) -> Vec<u8> {
    bytes[..bytes.len().min(usize::from(length))].to_vec()
}

/// The first `N` bytes of a write's data stage, or STALL.
fn data_stage<const N: usize>(data: &[u8]) -> Result<[u8; N], TransferError> {
    data.get(..N)
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or(TransferError::Stall)
}

impl State {
    /// Answer a vendor request (bmRequestType 0x40 / 0xC0).
    pub(crate) fn vendor_request(
        &mut self,
        setup: SetupPacket,
        data: &[u8],
    ) -> Result<Vec<u8>, TransferError> {
        const RECIPIENT_MASK: u8 = 0x1F;
        if setup.request_type & RECIPIENT_MASK != 0 {
            return Err(TransferError::Stall);
        }
        if setup.is_in() {
            let bytes = self.vendor_read(setup)?;
            Ok(answer(&bytes, setup.length))
        } else {
            self.vendor_write(setup, data).map(|()| Vec::new())
        }
    }

    fn vendor_read(&mut self, setup: SetupPacket) -> Result<Vec<u8>, TransferError> {
        let regs = &self.regs;
        let bytes = match setup.request {
            cmd::STATMNGSTS_REG => vec![self.read_statmngsts()],
            cmd::READ_MII_REG => self
                .mdio_read(setup.value, setup.index)?
                .to_le_bytes()
                .to_vec(),
            cmd::READ_EEPROM => self
                .eeprom
                .read(setup.value)
                .ok_or(TransferError::Stall)?
                .to_le_bytes()
                .to_vec(),
            cmd::READ_RX_CTL => regs.rx_ctl.to_le_bytes().to_vec(),
            cmd::READ_IPG012 => regs.ipg.to_vec(),
            cmd::READ_NODE_ID => regs.node_id.to_vec(),
            cmd::READ_MULTI_FILTER => regs.multicast_hash.to_vec(),
            cmd::READ_PHY_ID => vec![PHY_ID_SECONDARY_NONE, PHY_ADDRESS_EMBEDDED],
            cmd::READ_MEDIUM_STATUS => regs.medium_mode.to_le_bytes().to_vec(),
            cmd::READ_MONITOR_MODE => vec![regs.monitor_mode],
            cmd::READ_GPIOS => vec![regs.gpio],
            _ => return Err(TransferError::Stall),
        };
        Ok(bytes)
    }

    fn vendor_write(&mut self, setup: SetupPacket, data: &[u8]) -> Result<(), TransferError> {
        let [value_lo, value_hi] = setup.value.to_le_bytes();
        match setup.request {
            cmd::SET_SW_MII => self.take_mdio_for_host(),
            cmd::SET_HW_MII => self.regs.mdio_owner = MdioOwner::Hardware,
            cmd::WRITE_MII_REG => {
                let value = u16::from_le_bytes(data_stage::<2>(data)?);
                self.mdio_write(setup.value, setup.index, value)?;
            }
            cmd::WRITE_EEPROM => self.write_eeprom(setup.value, setup.index)?,
            cmd::WRITE_ENABLE => self.eeprom.set_write_enabled(true),
            cmd::WRITE_DISABLE => self.eeprom.set_write_enabled(false),
            cmd::WRITE_RX_CTL => self.regs.rx_ctl = setup.value,
            cmd::WRITE_IPG0 => self.regs.ipg = [value_lo, value_hi, setup.index.to_le_bytes()[0]],
            cmd::WRITE_NODE_ID => self.regs.node_id = data_stage::<ETH_ALEN>(data)?,
            cmd::WRITE_MULTI_FILTER => self.regs.multicast_hash = data_stage::<8>(data)?,
            cmd::WRITE_MEDIUM_MODE => self.regs.medium_mode = setup.value,
            cmd::WRITE_MONITOR_MODE => self.regs.monitor_mode = value_lo,
            cmd::WRITE_GPIOS => self.write_gpios(value_lo),
            cmd::SW_RESET => self.write_sw_reset(value_lo),
            cmd::SW_PHY_SELECT => self.regs.phy_select = value_lo,
            _ => return Err(TransferError::Stall),
        }
        Ok(())
    }

    fn read_statmngsts(&mut self) -> u8 {
        let owner = &mut self.regs.mdio_owner;
        if let MdioOwner::HandingOver(reads_left) = owner {
            *owner = match reads_left.checked_sub(1) {
                Some(left) => MdioOwner::HandingOver(left),
                None => MdioOwner::Host,
            };
        }
        let host_en = if *owner == MdioOwner::Host {
            STATMNGSTS_HOST_EN
        } else {
            0
        };
        host_en | (CHIP_CODE_AX88772 << 4)
    }

    fn take_mdio_for_host(&mut self) {
        if self.regs.mdio_owner != MdioOwner::Hardware {
            return; // already ours or on its way (Linux repeats SET_SW_MII while polling)
        }
        self.regs.mdio_owner = match self.mdio_handover_reads {
            0 => MdioOwner::Host,
            reads => MdioOwner::HandingOver(reads),
        };
    }

    fn check_host_owns_mdio(&self) -> Result<(), TransferError> {
        if self.regs.mdio_owner == MdioOwner::Host {
            Ok(())
        } else {
            Err(TransferError::Stall)
        }
    }

    fn mdio_read(&mut self, phy: u16, register: u16) -> Result<u16, TransferError> {
        self.check_host_owns_mdio()?;
        if mdio_field(phy) != PHY_ADDRESS_EMBEDDED {
            return Ok(MDIO_ABSENT);
        }
        let inputs = self.phy_inputs();
        let value = self.phy.read(mdio_field(register), inputs);
        Ok(value)
    }

    fn mdio_write(&mut self, phy: u16, register: u16, value: u16) -> Result<(), TransferError> {
        self.check_host_owns_mdio()?;
        if mdio_field(phy) == PHY_ADDRESS_EMBEDDED {
            let inputs = self.phy_inputs();
            if self.phy.write(mdio_field(register), value, inputs) {
                self.link_changed();
            }
        }
        Ok(())
    }

    fn write_eeprom(&mut self, offset: u16, value: u16) -> Result<(), TransferError> {
        match self.eeprom.write(offset, value) {
            None => Err(TransferError::Stall),
            Some(written) => {
                if !written {
                    self.stats.eeprom_writes_ignored += 1;
                }
                Ok(())
            }
        }
    }

    fn write_gpios(&mut self, bits: u8) {
        self.regs.gpio = bits;
        if bits & gpio::RSE != 0 {
            self.regs.node_id = self.eeprom.node_id();
        }
    }

    fn write_sw_reset(&mut self, bits: u8) {
        self.regs.sw_reset = bits;
        if bits & sw_reset::RR != 0 {
            self.stats.rx_dropped.reset += self.rx.fifo.clear();
        }
        if bits & sw_reset::BZ != 0 {
            self.rx.zero_length_pending = true;
            self.wake.bulk_in = true;
        }
        let powered = bits & sw_reset::IPPD == 0;
        let out_of_reset = bits & sw_reset::IPRL != 0;
        let inputs = self.phy_inputs();
        if self.phy.set_pins(powered, out_of_reset, inputs) {
            self.link_changed();
        }
    }
}

/// MDIO addresses and register numbers are 5-bit fields.
fn mdio_field(value: u16) -> u8 {
    (value & 0x1F) as u8
}
