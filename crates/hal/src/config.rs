//! [`ConfigSpace`]: a type-0 PCI configuration header for device models,
//! with per-byte write masks and BAR sizing (write all ones, read back the
//! size mask).

use crate::size_mask;

/// Offsets of the type-0 header fields.
pub mod offset {
    /// Vendor ID (16 bits).
    pub const VENDOR_ID: u16 = 0x00;
    /// Device ID (16 bits).
    pub const DEVICE_ID: u16 = 0x02;
    /// Command register (16 bits); see [`super::command`].
    pub const COMMAND: u16 = 0x04;
    /// Status register (16 bits).
    pub const STATUS: u16 = 0x06;
    /// Revision ID (8 bits).
    pub const REVISION: u16 = 0x08;
    /// Programming interface, subclass, class (24 bits at 0x09).
    pub const CLASS: u16 = 0x09;
    /// Header type (8 bits).
    pub const HEADER_TYPE: u16 = 0x0E;
    /// BAR 0 (each BAR is 32 bits, BAR n at `BAR0 + 4 n`).
    pub const BAR0: u16 = 0x10;
    /// Subsystem vendor ID (16 bits).
    pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2C;
    /// Subsystem ID (16 bits).
    pub const SUBSYSTEM_ID: u16 = 0x2E;
    /// Interrupt line (8 bits, written by firmware).
    pub const INTERRUPT_LINE: u16 = 0x3C;
    /// Interrupt pin (8 bits, 1 = INTA).
    pub const INTERRUPT_PIN: u16 = 0x3D;
}

/// Bits of the command register.
pub mod command {
    /// I/O space decoding enabled.
    pub const IO: u16 = 1 << 0;
    /// Memory space decoding enabled.
    pub const MEMORY: u16 = 1 << 1;
    /// Bus mastering (DMA) enabled.
    pub const BUS_MASTER: u16 = 1 << 2;
    /// INTx assertion disabled.
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// A base address register's kind and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// I/O space of this many bytes (a power of two, at least 4).
    Io(u32),
    /// 32-bit non-prefetchable memory space of this many bytes (a power of
    /// two, at least 16).
    Memory(u32),
}

impl Bar {
    fn size(self) -> u32 {
        match self {
            Bar::Io(s) | Bar::Memory(s) => s,
        }
    }
    fn flags(self) -> u32 {
        match self {
            Bar::Io(_) => 1,
            Bar::Memory(_) => 0,
        }
    }
}

/// A 256-byte configuration space. Reads return the stored bytes; writes
/// change only the bits the write mask allows (command bits, interrupt line,
/// BAR address bits).
#[derive(Clone, Debug)]
pub struct ConfigSpace {
    bytes: [u8; 256],
    writable: [u8; 256],
    bars: [Option<Bar>; 6],
}

impl ConfigSpace {
    /// A header for `vendor:device` of `class` (class << 16 | subclass << 8
    /// | interface), with the given revision, interrupt pin A and no BARs.
    pub fn new(vendor: u16, device: u16, revision: u8, class: u32) -> Self {
        let mut c = ConfigSpace {
            bytes: [0; 256],
            writable: [0; 256],
            bars: [None; 6],
        };
        c.set(offset::VENDOR_ID, 2, u32::from(vendor));
        c.set(offset::DEVICE_ID, 2, u32::from(device));
        c.set(offset::REVISION, 1, u32::from(revision));
        c.set(offset::CLASS, 3, class);
        c.set(offset::INTERRUPT_PIN, 1, 1);
        let cmd = command::IO | command::MEMORY | command::BUS_MASTER | command::INTX_DISABLE;
        c.writable[usize::from(offset::COMMAND)..][..2].copy_from_slice(&cmd.to_le_bytes());
        c.writable[usize::from(offset::INTERRUPT_LINE)] = 0xFF;
        c
    }

    /// Declare BAR `index` (0..6; others are ignored). Sizes that are not
    /// powers of two are rounded up.
    pub fn with_bar(mut self, index: usize, bar: Bar) -> Self {
        if index < 6 {
            let min = if matches!(bar, Bar::Io(_)) { 4 } else { 16 };
            let size = bar
                .size()
                .max(min)
                .checked_next_power_of_two()
                .unwrap_or(1 << 31);
            let bar = match bar {
                Bar::Io(_) => Bar::Io(size),
                Bar::Memory(_) => Bar::Memory(size),
            };
            self.bars[index] = Some(bar);
            let off = offset::BAR0 + 4 * index as u16;
            self.set(off, 4, bar.flags());
            let mask = !(size - 1)
                & if matches!(bar, Bar::Io(_)) {
                    !0x3
                } else {
                    !0xF
                };
            self.writable[usize::from(off)..][..4].copy_from_slice(&mask.to_le_bytes());
        }
        self
    }

    /// Set the subsystem vendor and subsystem IDs.
    pub fn with_subsystem(mut self, vendor: u16, id: u16) -> Self {
        self.set(offset::SUBSYSTEM_VENDOR_ID, 2, u32::from(vendor));
        self.set(offset::SUBSYSTEM_ID, 2, u32::from(id));
        self
    }

    /// Store `value` regardless of the write mask (model side).
    pub fn set(&mut self, offset: u16, size: u8, value: u32) {
        for i in 0..usize::from(size.min(4)) {
            if let Some(b) = self.bytes.get_mut(usize::from(offset) + i) {
                *b = (value >> (8 * i)) as u8;
            }
        }
    }

    /// Driver-side read: all ones for a bad size or an access past 256.
    pub fn read(&self, offset: u16, size: u8) -> u32 {
        let off = usize::from(offset);
        if !matches!(size, 1 | 2 | 4) || off + usize::from(size) > 256 {
            return size_mask(size);
        }
        (0..usize::from(size)).fold(0, |v, i| v | u32::from(self.bytes[off + i]) << (8 * i))
    }

    /// Driver-side write, honouring the write masks; ignored for a bad size
    /// or an access past 256.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        let off = usize::from(offset);
        if !matches!(size, 1 | 2 | 4) || off + usize::from(size) > 256 {
            return;
        }
        for i in 0..usize::from(size) {
            let mask = self.writable[off + i];
            let new = (value >> (8 * i)) as u8;
            self.bytes[off + i] = (self.bytes[off + i] & !mask) | (new & mask);
        }
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.read(offset::COMMAND, 2) as u16
    }

    /// The address BAR `index` is programmed with (flag bits removed), if it
    /// exists.
    pub fn bar_address(&self, index: usize) -> Option<u32> {
        let bar = (*self.bars.get(index)?)?;
        let raw = self.read(offset::BAR0 + 4 * index as u16, 4);
        Some(match bar {
            Bar::Io(_) => raw & !0x3,
            Bar::Memory(_) => raw & !0xF,
        })
    }

    /// The declared BAR `index`.
    pub fn bar(&self, index: usize) -> Option<Bar> {
        *self.bars.get(index)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bars_and_masks() {
        let mut c = ConfigSpace::new(0x10EC, 0x8139, 0x10, 0x02_0000)
            .with_bar(0, Bar::Io(256))
            .with_bar(1, Bar::Memory(256));
        assert_eq!(c.read(0, 4), 0x8139_10EC);
        assert_eq!(c.read(offset::CLASS, 1), 0);
        assert_eq!(c.read(0x0A, 2), 0x0200);
        c.write(0, 4, 0);
        assert_eq!(c.read(0, 4), 0x8139_10EC, "IDs are read-only");
        c.write(offset::BAR0, 4, u32::MAX);
        assert_eq!(c.read(offset::BAR0, 4), 0xFFFF_FF01);
        c.write(offset::BAR0 + 4, 4, u32::MAX);
        assert_eq!(c.read(offset::BAR0 + 4, 4), 0xFFFF_FF00);
        c.write(offset::BAR0 + 4, 4, 0xFEBF_1000);
        assert_eq!(c.bar_address(1), Some(0xFEBF_1000));
        assert_eq!(c.read(offset::BAR0 + 8, 4), 0, "no BAR 2");
        c.write(offset::COMMAND, 2, 0xFFFF);
        assert_eq!(c.command(), 0x0407);
        assert_eq!(c.read(255, 2), 0xFFFF);
        assert_eq!(c.read(0, 3), u32::MAX);
    }
}
