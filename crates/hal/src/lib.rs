//! Device access for drivers: the small traits a PCI driver talks through,
//! so that the same driver runs on an in-process device model (fast,
//! deterministic) or, later, on QEMU's device models through qtest
//! (the design brief's "Device access").
//!
//! ```text
//!        driver
//!   ┌───────────────┐  config_read/write      ┌──────────────────────┐
//!   │               │ ──────────────────────▶ │ PciDevice            │
//!   │               │  read8/16/32 write..    │  (model, or qtest    │
//!   │               │ ──────────────────────▶ │   client later)      │
//!   │               │                         │   │ DMA (bus master) │
//!   │               │  irq handler(level)     │   ▼                  │
//!   │               │ ◀────────────────────── │ set_irq_handler      │
//!   │               │                         └───┼──────────────────┘
//!   │               │  alloc/read/write/free      │ read/write
//!   │               │ ──────────────────────▶ ┌───▼──────────────────┐
//!   └───────────────┘                         │ DmaMemory            │
//!                                             │  (HostMemory, or     │
//!                                             │   guest RAM via qtest)│
//!                                             └──────────────────────┘
//! ```
//!
//! - [`PciDevice`]: configuration space and BAR (I/O or memory) register
//!   access, plus a level-triggered interrupt notification.
//! - [`DmaMemory`]: guest-physical memory that both the driver and the
//!   device see; [`HostMemory`] is the in-process implementation.
//! - [`ConfigSpace`]: a helper for models, a 256-byte type-0 configuration
//!   header with write masks and BAR sizing.
//! - [`qtest`]: the QEMU backend, both traits over QEMU's qtest protocol
//!   (a launched `qemu-system-x86_64`, its PCI devices, guest RAM).
//!
//! Nothing here panics on bad input: out-of-range accesses are errors
//! ([`DmaError`]) or, for registers, read as all ones and are ignored on
//! write, as a PCI bus does for an access nobody claims.

mod config;
mod memory;
pub mod qtest;

use std::sync::Arc;

pub use config::{Bar, ConfigSpace, command, offset};
pub use memory::{DmaBuffer, DmaError, HostMemory};

/// The interrupt notification a device calls: `true` when its (level
/// triggered) interrupt line is raised, `false` when it is lowered. Called
/// only on a change of level, and never with the device's lock held, so the
/// handler may access the device.
pub type IrqHandler = Arc<dyn Fn(bool) + Send + Sync>;

/// A PCI function as a driver sees it.
///
/// Accesses are little-endian, as on PCI. `size` is 1, 2 or 4 bytes; any
/// other size, an access past the end of the space or a BAR that does not
/// exist reads as all ones (of the access size) and writes are ignored.
pub trait PciDevice: Send + Sync {
    /// Read `size` bytes of configuration space at `offset`.
    fn config_read(&self, offset: u16, size: u8) -> u32;
    /// Write `size` bytes of configuration space at `offset`.
    fn config_write(&self, offset: u16, size: u8, value: u32);

    /// Read a byte at `offset` in BAR `bar` (I/O or memory space).
    fn read8(&self, bar: u8, offset: u32) -> u8;
    /// Read a 16-bit word at `offset` in BAR `bar`.
    fn read16(&self, bar: u8, offset: u32) -> u16;
    /// Read a 32-bit double word at `offset` in BAR `bar`.
    fn read32(&self, bar: u8, offset: u32) -> u32;
    /// Write a byte at `offset` in BAR `bar`.
    fn write8(&self, bar: u8, offset: u32, value: u8);
    /// Write a 16-bit word at `offset` in BAR `bar`.
    fn write16(&self, bar: u8, offset: u32, value: u16);
    /// Write a 32-bit double word at `offset` in BAR `bar`.
    fn write32(&self, bar: u8, offset: u32, value: u32);

    /// Install the interrupt handler, replacing any previous one. If the
    /// line is raised at the time, the new handler is called with `true`.
    fn set_irq_handler(&self, handler: IrqHandler);
}

/// Memory that a device reaches by DMA (guest-physical addresses) and the
/// driver allocates its buffers from.
pub trait DmaMemory: Send + Sync {
    /// Allocate `len` bytes (zeroed) at an address aligned to `align` (a
    /// power of two, at least 1).
    fn alloc(&self, len: usize, align: usize) -> Result<DmaBuffer, DmaError>;
    /// Copy `buf.len()` bytes starting at `addr` into `buf`. The whole range
    /// must lie inside one allocation.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError>;
    /// Copy `data` to `addr`. The whole range must lie inside one allocation.
    fn write(&self, addr: u64, data: &[u8]) -> Result<(), DmaError>;
    /// Release an allocation made by [`DmaMemory::alloc`].
    fn free(&self, buffer: DmaBuffer) -> Result<(), DmaError>;
}

/// Mask of the low `size` bytes (all ones for an invalid size: callers use
/// it to answer unclaimed accesses).
pub fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}
