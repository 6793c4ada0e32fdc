//! The procedures between the nucleus and the decaf driver, and the codes
//! of a register batch's operations.
//!
//! ```text
//!   nucleus (work thread)                      decaf process
//!   PROBE/OPEN/.. (dev object, in fields) ───▶ decode_tracked(dev)
//!                                               chip::open(XpcRegs, dev)
//!     REG_IO handler: does the accesses ◀───── REG_IO(batch: posted writes + 1 read)
//!     (nested, while the downcall waits) ────▶ values
//!   dev.decode_into(out fields) ◀──────────── encode_tracked(dev, out fields)
//! ```
//!
//! A downcall's arguments are the device object (`rtl8139_dev`, address
//! and type, then its `in` fields), followed for [`SET_RX_MODE`] by an
//! `rx_mode`; its reply is the object's `out` fields (the object crosses
//! by identity: `xpc::objects`). A failed procedure answers a fault.

/// Downcall: identify the chip, read its MAC (rtl8139_init_board).
pub const PROBE: u32 = 1;
/// Downcall: program the chip and start it (rtl8139_open's hw_start).
pub const OPEN: u32 = 2;
/// Downcall: stop the chip (rtl8139_close).
pub const CLOSE: u32 = 3;
/// Downcall: recover from a transmit timeout.
pub const TX_TIMEOUT: u32 = 4;
/// Downcall: receive mode and multicast filter.
pub const SET_RX_MODE: u32 = 5;
/// Downcall: media check (the 2 s watchdog, and after a link change).
pub const MEDIA_CHECK: u32 = 6;
/// Downcall: suspend.
pub const SUSPEND: u32 = 7;
/// Downcall: resume (hw_start again).
pub const RESUME: u32 = 8;

/// Upcall: a batch of register accesses (`reg_batch` → `reg_values`).
pub const REG_IO: u32 = 100;

/// The most operations in one batch (`reg_op ops<1024>`).
pub const MAX_BATCH: usize = 1024;

/// A downcall's name, for reports.
pub fn name(procedure: u32) -> &'static str {
    match procedure {
        PROBE => "probe",
        OPEN => "open",
        CLOSE => "close",
        TX_TIMEOUT => "tx_timeout",
        SET_RX_MODE => "set_rx_mode",
        MEDIA_CHECK => "media_check",
        SUSPEND => "suspend",
        RESUME => "resume",
        REG_IO => "reg_io",
        _ => "unknown",
    }
}

/// `reg_op.op` codes.
pub mod op {
    /// Read a byte register.
    pub const READ8: u32 = 1;
    /// Read a 16-bit register.
    pub const READ16: u32 = 2;
    /// Read a 32-bit register.
    pub const READ32: u32 = 3;
    /// Write a byte register.
    pub const WRITE8: u32 = 4;
    /// Write a 16-bit register.
    pub const WRITE16: u32 = 5;
    /// Write a 32-bit register.
    pub const WRITE32: u32 = 6;
    /// Read configuration space (size in the value's low byte: 1, 2, 4).
    pub const CONFIG_READ: u32 = 7;
    /// Write configuration space (size in bits 31:24 of the offset field).
    pub const CONFIG_WRITE: u32 = 8;

    /// Whether `op` writes.
    pub fn is_write(op: u32) -> bool {
        matches!(op, WRITE8 | WRITE16 | WRITE32 | CONFIG_WRITE)
    }

    /// Whether `op` answers a value.
    pub fn is_read(op: u32) -> bool {
        matches!(op, READ8 | READ16 | READ32 | CONFIG_READ)
    }
}
