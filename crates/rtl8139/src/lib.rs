//! The Realtek RTL8139 driver as a Decaf driver (Renzelmann & Swift,
//! USENIX ATC 2009): a small privileged *nucleus* with the fast path, and
//! a *decaf driver* with everything else, in its own process, joined by
//! XPC; and its native twin, the same driver entirely in the nucleus.
//!
//! ```text
//!   OS ── transmit ──▶ ┌──────────── nucleus ────────────┐    XPC      ┌─ decaf process ─┐
//!   OS ◀─ frames ───── │ fast path: IRQ, TX, RX, counters│  downcalls  │ probe, MAC      │
//!                      │ work thread: watchdog (2 s),    │ ──────────▶ │ open (hw_start) │
//!   device ◀─ regs ─── │  link changes, tx timeout,      │             │ close, recovery │
//!   (hal::PciDevice)   │  runs the slow path             │ ◀────────── │ multicast, media│
//!   DMA ◀── rings ──── │ REG_IO: register batches        │   REG_IO    │ suspend/resume  │
//!                      └─────────────────────────────────┘             └─────────────────┘
//! ```
//!
//! - [`regs`]: the chip's registers as the driver uses them;
//! - [`chip`]: the slow path's register-level procedures, written once;
//! - [`nucleus`]: the fast path; [`handoff`]: its lock, which an
//!   interrupt never waits for;
//! - [`slow`]: the slow path as the nucleus drives it: [`slow::Local`]
//!   (native twin) or [`slow::Decaf`] (over XPC, thread or process);
//! - [`decaf`]: the decaf driver's side;
//! - [`proto`]: the procedures between them; the types crossing are
//!   generated from `src/rtl8139.x` by the project's XDR compiler;
//! - [`driver`]: the OS's view and the work thread.
//!
//! The driver works on the in-process model (`devices::rtl8139`) and on
//! QEMU's rtl8139 through qtest (`hal::qtest`); unlike Linux's 8139too
//! it accepts revision 0x20 (QEMU's), using only the classic registers.

pub mod chip;
pub mod decaf;
pub mod driver;
pub mod handoff;
pub mod nucleus;
pub mod proto;
pub mod regs;
pub mod slow;

pub use driver::{Config, Driver, DriverError, Mode, Status};
pub use nucleus::{FastStats, Nucleus, TxError};
pub use slow::{Crossings, Launcher, Op, SlowError};

mod generated {
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/rtl8139_x.rs"));
}

pub use generated::{RegBatch, RegOp, RegValues, Rtl8139Dev, RxModeArgs};
