//! [`QtestPci`]: a PCI function of the QEMU machine, as a [`PciDevice`].
//!
//! Configuration space goes through the PC's configuration mechanism #1
//! (address to port 0xCF8, data at 0xCFC..0xCFF), BAR accesses through
//! `in*`/`out*` (I/O BARs) or `read*`/`write*` (memory BARs) at the base the
//! BAR register holds, and the interrupt is the line the firmware wrote to
//! configuration byte 0x3C, as reported by the intercepted I/O APIC inputs.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::QemuError;
use super::connection::{QtestConnection, lock};
use crate::{IrqHandler, PciDevice, command, offset, size_mask};

/// Configuration address port (mechanism #1).
const CONFIG_ADDRESS: u16 = 0xCF8;
/// Configuration data port.
const CONFIG_DATA: u16 = 0xCFC;

/// Where a BAR is decoded, as read from its register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarWindow {
    /// I/O ports `base .. base + size`.
    Io {
        /// First port.
        base: u16,
        /// Size in bytes.
        size: u32,
    },
    /// Guest-physical memory `base .. base + size` (32- or 64-bit BAR).
    Memory {
        /// First address.
        base: u64,
        /// Size in bytes.
        size: u64,
    },
}

/// A BAR's fixed shape, found by sizing at [`QtestPci::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BarShape {
    io: bool,
    wide: bool,
    size: u64,
}

/// Where one register access goes.
enum Target {
    Port(u16),
    Memory(u64),
}

struct Irq {
    line: u8,
    handler: Option<IrqHandler>,
}

/// Function 0 of a device on PCI bus 0 of the QEMU machine, driven over
/// qtest. Implements [`PciDevice`]: accesses that fail on the wire (QEMU
/// gone, timeout, malformed reply) read as all ones and are recorded (see
/// [`QtestConnection::error`]).
pub struct QtestPci {
    conn: Arc<QtestConnection>,
    slot: u8,
    shapes: [Option<BarShape>; 6],
    windows: Mutex<[Option<BarWindow>; 6]>,
    irq: Mutex<Irq>,
    irq_slot: u64,
}

impl fmt::Debug for QtestPci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QtestPci")
            .field("slot", &self.slot)
            .field("bars", &*lock(&self.windows))
            .field("irq_line", &lock(&self.irq).line)
            .finish()
    }
}

/// The mechanism #1 address of `offset` (dword-aligned) in bus 0, `slot`,
/// function 0.
fn config_address(slot: u8, offset: u16) -> u32 {
    0x8000_0000 | u32::from(slot) << 11 | u32::from(offset & 0xFC)
}

/// Whether a configuration access of `size` bytes at `offset` is one the
/// 0xCFC window can do (inside the 256-byte header, naturally aligned).
fn config_access_ok(offset: u16, size: u8) -> bool {
    matches!(size, 1 | 2 | 4) && offset < 256 && offset.is_multiple_of(u16::from(size))
}

/// Reads a configuration register of bus 0, `slot`, function 0.
pub(crate) fn config_read(
    conn: &QtestConnection,
    slot: u8,
    offset: u16,
    size: u8,
) -> Result<u32, QemuError> {
    if slot >= 32 || !config_access_ok(offset, size) {
        return Err(QemuError::Config(format!(
            "configuration access {size} bytes at {offset:#x} of slot {slot}"
        )));
    }
    let port = CONFIG_DATA + (offset & 3);
    conn.config_cycle(|| {
        conn.outl(CONFIG_ADDRESS, config_address(slot, offset))?;
        match size {
            1 => conn.inb(port).map(u32::from),
            2 => conn.inw(port).map(u32::from),
            _ => conn.inl(port),
        }
    })
}

/// Writes a configuration register of bus 0, `slot`, function 0.
pub(crate) fn config_write(
    conn: &QtestConnection,
    slot: u8,
    offset: u16,
    size: u8,
    value: u32,
) -> Result<(), QemuError> {
    if slot >= 32 || !config_access_ok(offset, size) {
        return Err(QemuError::Config(format!(
            "configuration access {size} bytes at {offset:#x} of slot {slot}"
        )));
    }
    let port = CONFIG_DATA + (offset & 3);
    conn.config_cycle(|| {
        conn.outl(CONFIG_ADDRESS, config_address(slot, offset))?;
        match size {
            1 => conn.outb(port, value as u8),
            2 => conn.outw(port, value as u16),
            _ => conn.outl(port, value),
        }
    })
}

impl QtestPci {
    /// Opens function 0 of `slot` on bus 0: checks that a device answers,
    /// sizes its BARs (with decoding briefly disabled; the firmware must be
    /// done with the device, see [`Qemu::pci_device`](super::Qemu::pci_device))
    /// and reads its interrupt line.
    pub fn open(conn: Arc<QtestConnection>, slot: u8) -> Result<Arc<Self>, QemuError> {
        let id = config_read(&conn, slot, offset::VENDOR_ID, 4)?;
        if id & 0xFFFF == 0xFFFF {
            return Err(QemuError::NoDevice(format!(
                "no PCI device in slot {slot} of bus 0"
            )));
        }
        let shapes = size_bars(&conn, slot)?;
        let line = config_read(&conn, slot, offset::INTERRUPT_LINE, 1)? as u8;
        let irq_slot = conn.irq_slot();
        let dev = QtestPci {
            conn,
            slot,
            shapes,
            windows: Mutex::new([None; 6]),
            irq: Mutex::new(Irq {
                line,
                handler: None,
            }),
            irq_slot,
        };
        dev.refresh_windows()?;
        Ok(Arc::new(dev))
    }

    /// The slot (device number) on bus 0.
    pub fn slot(&self) -> u8 {
        self.slot
    }

    /// Where BAR `index` is decoded, if it exists and is assigned (re-read
    /// after every configuration write to a BAR register).
    pub fn bar(&self, index: u8) -> Option<BarWindow> {
        lock(&self.windows)
            .get(usize::from(index))
            .copied()
            .flatten()
    }

    /// The interrupt line (configuration byte 0x3C, as last read).
    pub fn irq_line(&self) -> u8 {
        lock(&self.irq).line
    }

    /// The connection this device is reached through.
    pub fn connection(&self) -> &Arc<QtestConnection> {
        &self.conn
    }

    /// Configuration read that reports failures instead of all ones.
    pub fn try_config_read(&self, offset: u16, size: u8) -> Result<u32, QemuError> {
        config_read(&self.conn, self.slot, offset, size)
    }

    /// Configuration write that reports failures (and, like
    /// [`PciDevice::config_write`], re-reads BARs and the interrupt line
    /// when it changed them).
    pub fn try_config_write(&self, offset: u16, size: u8, value: u32) -> Result<(), QemuError> {
        config_write(&self.conn, self.slot, offset, size, value)?;
        let end = offset + u16::from(size);
        if offset < offset::BAR0 + 24 && end > offset::BAR0 {
            self.refresh_windows()?;
        }
        if offset <= offset::INTERRUPT_LINE && end > offset::INTERRUPT_LINE {
            let line = config_read(&self.conn, self.slot, offset::INTERRUPT_LINE, 1)? as u8;
            let mut irq = lock(&self.irq);
            if irq.line != line {
                irq.line = line;
                if let Some(h) = &irq.handler {
                    self.conn
                        .install_irq_handler(self.irq_slot, line, Some(Arc::clone(h)));
                }
            }
        }
        Ok(())
    }

    /// Re-reads the BAR registers' bases.
    fn refresh_windows(&self) -> Result<(), QemuError> {
        let mut windows = [None; 6];
        for (i, shape) in self.shapes.iter().enumerate() {
            let Some(shape) = shape else { continue };
            let reg = offset::BAR0 + 4 * i as u16;
            let lo = config_read(&self.conn, self.slot, reg, 4)?;
            windows[i] = if shape.io {
                let base = u64::from(lo & !0x3);
                // A window past port 0xFFFF cannot be reached (and QEMU
                // aborts on such an `in`/`out`).
                (base != 0 && base + shape.size <= 0x1_0000).then_some(BarWindow::Io {
                    base: base as u16,
                    size: shape.size as u32,
                })
            } else {
                let hi = if shape.wide {
                    config_read(&self.conn, self.slot, reg + 4, 4)?
                } else {
                    0
                };
                let base = u64::from(hi) << 32 | u64::from(lo & !0xF);
                (base != 0 && base.checked_add(shape.size).is_some()).then_some(BarWindow::Memory {
                    base,
                    size: shape.size,
                })
            };
        }
        *lock(&self.windows) = windows;
        Ok(())
    }

    fn target(&self, bar: u8, offset: u32, size: u8) -> Option<Target> {
        if !matches!(size, 1 | 2 | 4) {
            return None;
        }
        let end = u64::from(offset) + u64::from(size);
        match self.bar(bar)? {
            BarWindow::Io { base, size } if end <= u64::from(size) => {
                Some(Target::Port(base + offset as u16))
            }
            BarWindow::Memory { base, size } if end <= size => {
                Some(Target::Memory(base + u64::from(offset)))
            }
            _ => None,
        }
    }

    fn read(&self, bar: u8, offset: u32, size: u8) -> u32 {
        let Some(target) = self.target(bar, offset, size) else {
            return size_mask(size);
        };
        let c = &self.conn;
        let value = match (target, size) {
            (Target::Port(p), 1) => c.inb(p).map(u32::from),
            (Target::Port(p), 2) => c.inw(p).map(u32::from),
            (Target::Port(p), _) => c.inl(p),
            (Target::Memory(a), 1) => c.readb(a).map(u32::from),
            (Target::Memory(a), 2) => c.readw(a).map(u32::from),
            (Target::Memory(a), _) => c.readl(a),
        };
        value.unwrap_or(size_mask(size))
    }

    fn write(&self, bar: u8, offset: u32, size: u8, value: u32) {
        let Some(target) = self.target(bar, offset, size) else {
            return;
        };
        let c = &self.conn;
        // Failures are recorded by the connection; a write has no value to
        // spoil.
        let _ = match (target, size) {
            (Target::Port(p), 1) => c.outb(p, value as u8),
            (Target::Port(p), 2) => c.outw(p, value as u16),
            (Target::Port(p), _) => c.outl(p, value),
            (Target::Memory(a), 1) => c.writeb(a, value as u8),
            (Target::Memory(a), 2) => c.writew(a, value as u16),
            (Target::Memory(a), _) => c.writel(a, value),
        };
    }
}

/// Sizes the six BARs (write all ones, read the mask back, restore), with
/// I/O and memory decoding off meanwhile so that no half-written BAR is ever
/// decoded.
fn size_bars(conn: &QtestConnection, slot: u8) -> Result<[Option<BarShape>; 6], QemuError> {
    let header = config_read(conn, slot, offset::HEADER_TYPE, 1)?;
    let mut shapes = [None; 6];
    if header & 0x7F != 0 {
        // Not a type-0 header: no six BARs to size.
        return Ok(shapes);
    }
    let cmd = config_read(conn, slot, offset::COMMAND, 2)?;
    let decode = u32::from(command::IO | command::MEMORY);
    config_write(conn, slot, offset::COMMAND, 2, cmd & !decode)?;
    let sized = |reg: u16| -> Result<(u32, u32), QemuError> {
        let orig = config_read(conn, slot, reg, 4)?;
        config_write(conn, slot, reg, 4, u32::MAX)?;
        let mask = config_read(conn, slot, reg, 4)?;
        config_write(conn, slot, reg, 4, orig)?;
        Ok((orig, mask))
    };
    let mut result = Ok(());
    let mut i = 0;
    while i < 6 {
        let reg = offset::BAR0 + 4 * i as u16;
        let (orig, mask) = match sized(reg) {
            Ok(v) => v,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        if mask != 0 {
            if orig & 1 == 1 {
                let mut m = mask & !0x3;
                if m >> 16 == 0 {
                    m |= 0xFFFF_0000;
                }
                shapes[i] = Some(BarShape {
                    io: true,
                    wide: false,
                    size: u64::from((!m).wrapping_add(1)),
                });
            } else if (orig >> 1) & 3 == 2 && i < 5 {
                let (_, hi_mask) = match sized(reg + 4) {
                    Ok(v) => v,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                };
                let m = u64::from(hi_mask) << 32 | u64::from(mask & !0xF);
                shapes[i] = Some(BarShape {
                    io: false,
                    wide: true,
                    size: (!m).wrapping_add(1),
                });
                i += 1;
            } else {
                shapes[i] = Some(BarShape {
                    io: false,
                    wide: false,
                    size: u64::from((!(mask & !0xF)).wrapping_add(1)),
                });
            }
        }
        i += 1;
    }
    let restored = config_write(conn, slot, offset::COMMAND, 2, cmd);
    result.and(restored)?;
    // A size of zero (all ones read back in the address bits) is no BAR.
    Ok(shapes.map(|s| s.filter(|s| s.size != 0)))
}

impl PciDevice for QtestPci {
    fn config_read(&self, offset: u16, size: u8) -> u32 {
        self.try_config_read(offset, size)
            .unwrap_or(size_mask(size))
    }

    fn config_write(&self, offset: u16, size: u8, value: u32) {
        let _ = self.try_config_write(offset, size, value);
    }

    fn read8(&self, bar: u8, offset: u32) -> u8 {
        self.read(bar, offset, 1) as u8
    }

    fn read16(&self, bar: u8, offset: u32) -> u16 {
        self.read(bar, offset, 2) as u16
    }

    fn read32(&self, bar: u8, offset: u32) -> u32 {
        self.read(bar, offset, 4)
    }

    fn write8(&self, bar: u8, offset: u32, value: u8) {
        self.write(bar, offset, 1, u32::from(value));
    }

    fn write16(&self, bar: u8, offset: u32, value: u16) {
        self.write(bar, offset, 2, u32::from(value));
    }

    fn write32(&self, bar: u8, offset: u32, value: u32) {
        self.write(bar, offset, 4, value);
    }

    /// Installs the handler for the device's interrupt line. It is called on
    /// the connection's delivery thread (never the socket reader), in the
    /// order QEMU reported the levels; if the line is raised when it is
    /// installed, it is called with `true` there, shortly after.
    fn set_irq_handler(&self, handler: IrqHandler) {
        let mut irq = lock(&self.irq);
        irq.handler = Some(Arc::clone(&handler));
        self.conn
            .install_irq_handler(self.irq_slot, irq.line, Some(handler));
    }
}

impl Drop for QtestPci {
    fn drop(&mut self) {
        self.conn.install_irq_handler(self.irq_slot, 0, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_addresses() {
        assert_eq!(config_address(2, 0x3C), 0x8000_103C);
        assert_eq!(config_address(31, 0x0F), 0x8000_F80C);
        assert!(config_access_ok(0x3C, 1));
        assert!(config_access_ok(0x3E, 2));
        assert!(!config_access_ok(0x3F, 2));
        assert!(!config_access_ok(0x3E, 4));
        assert!(!config_access_ok(0x100, 1));
        assert!(!config_access_ok(0, 3));
    }
}
