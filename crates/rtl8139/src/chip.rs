//! The slow path's register-level procedures (8139too's probe, EEPROM
//! read, chip reset, `rtl8139_hw_start`, receive mode, media check, close,
//! transmit-timeout recovery, suspend), written once against [`Regs`] and
//! run either in the nucleus (the native twin: direct register access) or
//! in the decaf process (register access forwarded to the nucleus over
//! XPC). Sequences follow device-facts.md §3.6.

use std::fmt;

use crate::proto::op;
use crate::regs::{TCR_VALUE, TCR_VERSION_MASK, cfg9346, cr, int, rcr, reg};
use crate::{RegOp, Rtl8139Dev};

/// Why a slow-path procedure failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChipError {
    /// Register access failed (the nucleus or the channel to it is gone).
    Io(String),
    /// Not an RTL8139 (vendor, device).
    NotRtl8139(u16, u16),
    /// TCR read all ones: the chip does not answer.
    NotResponding,
    /// The software reset bit never cleared.
    ResetStuck,
}

impl fmt::Display for ChipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChipError::Io(why) => write!(f, "register access failed: {why}"),
            ChipError::NotRtl8139(v, d) => write!(f, "{v:04x}:{d:04x} is not an RTL8139"),
            ChipError::NotResponding => {
                f.write_str("the chip does not respond (TCR reads all ones)")
            }
            ChipError::ResetStuck => f.write_str("the chip's software reset never completed"),
        }
    }
}

impl std::error::Error for ChipError {}

/// Register and configuration-space access as the slow path needs it.
/// Errors come only from forwarding (a dead channel), never from the chip.
pub trait Regs {
    /// Read a byte register.
    fn read8(&mut self, offset: u32) -> Result<u8, ChipError>;
    /// Read a 16-bit register.
    fn read16(&mut self, offset: u32) -> Result<u16, ChipError>;
    /// Read a 32-bit register.
    fn read32(&mut self, offset: u32) -> Result<u32, ChipError>;
    /// Write a byte register (may be posted: delivered before the next read).
    fn write8(&mut self, offset: u32, value: u8) -> Result<(), ChipError>;
    /// Write a 16-bit register (may be posted).
    fn write16(&mut self, offset: u32, value: u16) -> Result<(), ChipError>;
    /// Write a 32-bit register (may be posted).
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), ChipError>;
    /// Read `size` bytes (1, 2, 4) of PCI configuration space.
    fn config_read(&mut self, offset: u16, size: u8) -> Result<u32, ChipError>;
    /// Write `size` bytes (1, 2, 4) of PCI configuration space (posted).
    fn config_write(&mut self, offset: u16, size: u8, value: u32) -> Result<(), ChipError>;
    /// Deliver posted writes now.
    fn flush(&mut self) -> Result<(), ChipError>;

    /// Runs a sequence of register accesses whose later steps do not
    /// depend on what earlier reads return (e.g. an EEPROM word, bit by
    /// bit), returning the reads' values in order. Forwarding
    /// implementations send it in one crossing.
    fn script(&mut self, ops: &[RegOp]) -> Result<Vec<u32>, ChipError> {
        let mut values = Vec::new();
        for o in ops {
            match o.op {
                op::READ8 => values.push(u32::from(self.read8(o.offset)?)),
                op::READ16 => values.push(u32::from(self.read16(o.offset)?)),
                op::READ32 => values.push(self.read32(o.offset)?),
                op::WRITE8 => self.write8(o.offset, o.value as u8)?,
                op::WRITE16 => self.write16(o.offset, o.value as u16)?,
                op::WRITE32 => self.write32(o.offset, o.value)?,
                op::CONFIG_READ => values.push(self.config_read(o.offset as u16, o.value as u8)?),
                op::CONFIG_WRITE => self.config_write(
                    (o.offset & 0xFF_FFFF) as u16,
                    (o.offset >> 24) as u8,
                    o.value,
                )?,
                other => return Err(ChipError::Io(format!("unknown script operation {other}"))),
            }
        }
        Ok(values)
    }
}

/// `link` bits of [`Rtl8139Dev`].
pub mod link {
    /// Carrier present.
    pub const UP: u32 = 1;
    /// Full duplex.
    pub const FULL_DUPLEX: u32 = 2;
    /// 100 Mb/s.
    pub const SPEED_100: u32 = 4;
}

/// `rx_flags` bits of [`Rtl8139Dev`] and [`crate::RxMode`].
pub mod rx_flags {
    /// Accept every frame.
    pub const PROMISCUOUS: u32 = 1;
    /// Accept every multicast frame.
    pub const ALL_MULTICAST: u32 = 2;
}

/// The largest multicast list filtered by hash; more means all multicast.
pub const MAX_MULTICAST: usize = 64;

/// Chip versions with `HasLWake` (and no HltClk), from 8139too's table.
const LWAKE_VERSIONS: [u32; 4] = [0x7800_0000, 0x7C00_0000, 0x7400_0000, 0x7880_0000];
/// RTL-8100B/8139D: both flags.
const BOTH_FLAGS: u32 = 0x7440_0000;
/// RTL-8101: HasLWake.
const RTL8101: u32 = 0x74C0_0000;

/// Whether this chip version has the HltClk register (8139too's
/// `HasHltClk`): old chips, and any version 8139too does not know (QEMU's
/// 0x74800000 among them).
pub fn has_hltclk(version: u32) -> bool {
    version == BOTH_FLAGS || !(LWAKE_VERSIONS.contains(&version) || version == RTL8101)
}

/// Probe (rtl8139_init_board, §3.6 Probe): identify the function, enable
/// decoding and bus mastering, wake the clock, read the chip version,
/// reset, and read the MAC from the EEPROM into `dev`.
///
/// Unlike 8139too, revision 0x20 and above (8139C+, QEMU's model) is
/// accepted: this driver uses only the classic register interface, which
/// those chips keep.
pub fn probe(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<(), ChipError> {
    let id = r.config_read(0, 4)?;
    let (vendor, device) = (id as u16, (id >> 16) as u16);
    if vendor != 0x10EC || device != 0x8139 {
        return Err(ChipError::NotRtl8139(vendor, device));
    }
    dev.revision = r.config_read(8, 1)?;
    // I/O and memory decoding, bus mastering.
    let command = r.config_read(4, 2)?;
    r.config_write(4, 2, command | 0x7)?;
    r.write8(reg::HLTCLK, b'R')?;
    let tcr = r.read32(reg::TCR)?;
    if tcr == u32::MAX {
        return Err(ChipError::NotResponding);
    }
    dev.chip_version = tcr & TCR_VERSION_MASK;
    chip_reset(r)?;
    let addr_len = if read_eeprom(r, &[0], 8)? == [0x8129] {
        8
    } else {
        6
    };
    let words = read_eeprom(r, &[7, 8, 9], addr_len)?;
    for (i, word) in words.iter().enumerate() {
        dev.mac[2 * i..][..2].copy_from_slice(&word.to_le_bytes());
    }
    if has_hltclk(dev.chip_version) {
        r.write8(reg::HLTCLK, b'H')?;
    }
    r.flush()
}

/// Software reset: CR = RST, then poll until it clears (8139too: up to
/// 1000 polls).
pub fn chip_reset(r: &mut dyn Regs) -> Result<(), ChipError> {
    r.write8(reg::CR, cr::RST)?;
    for _ in 0..1000 {
        if r.read8(reg::CR)? & cr::RST == 0 {
            return Ok(());
        }
    }
    Err(ChipError::ResetStuck)
}

/// Reads EEPROM words `locations` by bit-banging the 93C46/93C56 through
/// 9346CR (§3.8), with `addr_len` address bits (6 or 8). The clocking
/// does not depend on the bits read, so all the words go as one script.
pub fn read_eeprom(
    r: &mut dyn Regs,
    locations: &[u32],
    addr_len: u32,
) -> Result<Vec<u16>, ChipError> {
    use cfg9346::{EE_CS, EE_DATA_READ, EE_DATA_WRITE, EE_ENB, EE_SHIFT_CLK};
    const READ_CMD: u32 = 6;
    let w = |value: u8| RegOp {
        op: op::WRITE8,
        offset: reg::CFG9346,
        value: value.into(),
    };
    let mut script = Vec::new();
    for location in locations {
        let command = location | READ_CMD << addr_len;
        script.push(w(EE_ENB));
        script.push(w(EE_ENB | EE_CS));
        for i in (0..=4 + addr_len).rev() {
            let bit = if command & (1 << i) != 0 {
                EE_DATA_WRITE
            } else {
                0
            };
            script.push(w(EE_ENB | EE_CS | bit));
            script.push(w(EE_ENB | EE_CS | bit | EE_SHIFT_CLK));
        }
        script.push(w(EE_ENB | EE_CS));
        for _ in 0..16 {
            script.push(w(EE_ENB | EE_CS | EE_SHIFT_CLK));
            script.push(RegOp {
                op: op::READ8,
                offset: reg::CFG9346,
                value: 0,
            });
            script.push(w(EE_ENB | EE_CS));
        }
        script.push(w(0));
    }
    let bits = r.script(&script)?;
    if bits.len() != 16 * locations.len() {
        return Err(ChipError::Io(format!(
            "{} EEPROM bits for {} words",
            bits.len(),
            locations.len()
        )));
    }
    Ok(bits
        .chunks(16)
        .map(|word| {
            word.iter()
                .fold(0u16, |v, b| v << 1 | u16::from(*b as u8 & EE_DATA_READ))
        })
        .collect())
}

/// `rtl8139_hw_start` (§3.6): reset, program the MAC, the receive ring,
/// RCR/TCR, the transmit buffers and the receive mode, then unmask
/// interrupts. The nucleus has reset its ring indices before this runs.
/// Returns the media check's result (also stored in `dev.link`).
pub fn hw_start(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<u32, ChipError> {
    if has_hltclk(dev.chip_version) {
        r.write8(reg::HLTCLK, b'R')?;
    }
    chip_reset(r)?;
    r.write8(reg::CFG9346, cfg9346::UNLOCK)?;
    let mac = dev.mac;
    r.write32(
        reg::IDR0,
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
    )?;
    r.write32(
        reg::IDR0 + 4,
        u32::from(u16::from_le_bytes([mac[4], mac[5]])),
    )?;
    r.write32(reg::RBSTART, dev.rx_ring as u32)?;
    r.write8(reg::CR, cr::RE | cr::TE)?;
    if dev.rx_config == 0 {
        dev.rx_config = rcr::BASE | rcr::APM | rcr::AB;
    }
    r.write32(reg::RCR, dev.rx_config)?;
    r.write32(reg::TCR, TCR_VALUE)?;
    media_check(r, dev)?;
    r.write8(reg::CFG9346, cfg9346::LOCK)?;
    for (i, addr) in dev.tx_buf.iter().enumerate() {
        r.write32(reg::TSAD0 + 4 * i as u32, *addr as u32)?;
    }
    r.write32(reg::MPC, 0)?;
    let flags = dev.rx_flags;
    let filter = dev.mc_filter;
    apply_rx_mode(r, dev, flags, filter, true)?;
    let mulint = r.read16(reg::MULINT)?;
    r.write16(reg::MULINT, mulint & 0xF000)?;
    if r.read8(reg::CR)? & (cr::RE | cr::TE) != cr::RE | cr::TE {
        r.write8(reg::CR, cr::RE | cr::TE)?;
    }
    r.write16(reg::IMR, int::ALL)?;
    r.flush()?;
    Ok(dev.link)
}

/// The media check (8139too's `mii_check_media` on the internal PHY):
/// BMSR twice (its link bit latches low), then the negotiated speed and
/// duplex from ANAR & ANLPAR. Stores the result in `dev.link`.
pub fn media_check(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<u32, ChipError> {
    let _ = r.read16(reg::BMSR)?;
    let bmsr = r.read16(reg::BMSR)?;
    let mut state = 0;
    if bmsr & 0x0004 != 0 {
        state |= link::UP;
        let common = r.read16(reg::ANAR)? & r.read16(reg::ANLPAR)?;
        if common & 0x0180 != 0 {
            state |= link::SPEED_100;
        }
        if common & 0x0100 != 0 || common & 0x01C0 == 0x0040 {
            state |= link::FULL_DUPLEX;
        }
    }
    dev.link = state;
    Ok(state)
}

/// The multicast hash filter for `addrs` (6 bytes each): bit
/// `ether_crc(addr) >> 26` of the 64-bit MAR.
pub fn multicast_filter(addrs: &[[u8; 6]]) -> [u32; 2] {
    let mut filter = [0u32; 2];
    for addr in addrs {
        let bit = ether_crc(addr) >> 26;
        filter[(bit >> 5) as usize] |= 1 << (bit & 31);
    }
    filter
}

/// Linux's `ether_crc`: CRC-32 (polynomial 0x04C11DB7), bits taken least
/// significant first, result not reflected.
pub fn ether_crc(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        let mut b = byte;
        for _ in 0..8 {
            let carry = (crc >> 31) ^ u32::from(b & 1);
            crc <<= 1;
            b >>= 1;
            if carry != 0 {
                crc ^= 0x04C1_1DB7;
            }
        }
    }
    crc
}

/// `set_rx_mode`: the accept bits and hash filter for `flags` and the
/// multicast list, written to RCR (if changed, or `force`) and MAR0-7.
pub fn set_rx_mode(
    r: &mut dyn Regs,
    dev: &mut Rtl8139Dev,
    flags: u32,
    addrs: &[[u8; 6]],
) -> Result<(), ChipError> {
    let filter = if flags & (rx_flags::PROMISCUOUS | rx_flags::ALL_MULTICAST) != 0
        || addrs.len() > MAX_MULTICAST
    {
        [u32::MAX; 2]
    } else {
        multicast_filter(addrs)
    };
    apply_rx_mode(r, dev, flags, filter, false)?;
    r.flush()
}

fn apply_rx_mode(
    r: &mut dyn Regs,
    dev: &mut Rtl8139Dev,
    flags: u32,
    filter: [u32; 2],
    force: bool,
) -> Result<(), ChipError> {
    let accept = if flags & rx_flags::PROMISCUOUS != 0 {
        rcr::ACCEPT
    } else {
        rcr::AB | rcr::AM | rcr::APM
    };
    let config = rcr::BASE | accept;
    if force {
        r.write32(reg::RCR, config)?;
    } else if config != dev.rx_config {
        // Writing RCR restarts the receive ring at 0 on QEMU's model and
        // ours; the receiver is cycled around it so that it does on any
        // chip, and the nucleus starts reading at 0 again (frames not yet
        // read are lost, as in 8139too's receive-error recovery).
        r.write8(reg::CR, cr::TE)?;
        r.write32(reg::RCR, config)?;
        r.write8(reg::CR, cr::RE | cr::TE)?;
    }
    dev.rx_config = config;
    dev.rx_flags = flags;
    dev.mc_filter = filter;
    r.write32(reg::MAR0, filter[0])?;
    r.write32(reg::MAR0 + 4, filter[1])?;
    Ok(())
}

/// Adds the missed-packet counter to `dev.rx_missed` and clears it.
fn take_missed(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<(), ChipError> {
    let missed = r.read32(reg::MPC)? & 0x00FF_FFFF;
    dev.rx_missed += u64::from(missed);
    r.write32(reg::MPC, 0)
}

/// `rtl8139_close`'s hardware part: stop the chip, mask interrupts,
/// account missed packets, leave 9346CR unlocked, halt the clock.
pub fn close(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<(), ChipError> {
    r.write8(reg::CR, 0)?;
    r.write16(reg::IMR, 0)?;
    take_missed(r, dev)?;
    r.write8(reg::CFG9346, cfg9346::UNLOCK)?;
    if has_hltclk(dev.chip_version) {
        r.write8(reg::HLTCLK, b'H')?;
    }
    dev.link = 0;
    r.flush()
}

/// Transmit-timeout recovery (`rtl8139_tx_timeout_task`): transmitter
/// off, interrupts masked, then `hw_start`. The nucleus has dropped the
/// frames in flight and reset its indices first.
pub fn tx_timeout(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<u32, ChipError> {
    r.write8(reg::CR, cr::RE)?;
    r.write16(reg::IMR, 0)?;
    hw_start(r, dev)
}

/// Suspend: interrupts masked, chip stopped, missed packets accounted.
pub fn suspend(r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<(), ChipError> {
    r.write16(reg::IMR, 0)?;
    r.write8(reg::CR, 0)?;
    take_missed(r, dev)?;
    dev.link = 0;
    r.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hltclk_follows_8139toos_table() {
        assert!(has_hltclk(0x4000_0000));
        assert!(
            has_hltclk(0x7480_0000),
            "unknown versions are treated as RTL-8139"
        );
        assert!(!has_hltclk(0x7400_0000));
        assert!(has_hltclk(0x7440_0000));
    }
}
