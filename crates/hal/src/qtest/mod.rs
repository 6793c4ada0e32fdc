//! A QEMU backend: [`PciDevice`](crate::PciDevice) and
//! [`DmaMemory`](crate::DmaMemory) over QEMU's *qtest* protocol, so that a
//! driver written against the traits runs unchanged on QEMU's own device
//! model (QEMU's `rtl8139`, say), with frames reaching the test over UDP.
//!
//! ```text
//!  test process                                   qemu-system-x86_64 -machine pc (TCG)
//! ┌──────────────────────────────────────────┐    ┌──────────────────────────────────┐
//! │ driver                                   │    │ SeaBIOS: assigns BARs, routes    │
//! │  ├─ PciDevice ─▶ QtestPci ───┐           │    │ INTx, finds nothing to boot,     │
//! │  └─ DmaMemory ─▶ GuestMemory ┤           │    │ idles (reboot-timeout=-1)        │
//! │                              ▼           │    │                                  │
//! │       request: one at a time (mutex),    │    │  qtest: in/out, read/write ...   │
//! │       send line, await reply ────────────┼───▶│         │                        │
//! │                              ▲           │unix│  rtl8139 model ◀─▶ guest RAM     │
//! │       reader thread ◀────────┼───────────┼────┤  OK ... / FAIL / IRQ raise N     │
//! │        ├─ replies ───────────┘           │sock│  (irq_intercept_in ioapic)       │
//! │        └─ IRQ lines ─▶ channel ─▶        │    │                                  │
//! │           delivery thread: handler(lvl)  │    │                                  │
//! │                                          │    │                                  │
//! │ Qemu::set_link ─── QMP (unix socket) ────┼───▶│  set_link ─▶ BMSR, ISR           │
//! │ netwire::UdpPort ◀─ one datagram/frame ──┼────┤  -netdev socket,udp=..,          │
//! │                  ── (loopback UDP) ──────┼───▶│          localaddr=..            │
//! │ firmware.log ◀── "No bootable device" ───┼────┤  isa-debugcon, port 0x402        │
//! │ stderr.log   ◀───────────────────────────┼────┤  stderr                          │
//! └──────────────────────────────────────────┘    └──────────────────────────────────┘
//! ```
//!
//! - [`Qemu`]: launches QEMU (the test listens on the qtest socket, QEMU
//!   connects), waits for SeaBIOS to finish, finds PCI devices, sets the
//!   link through QMP, and kills QEMU when dropped.
//! - [`QtestConnection`]: one request at a time on the socket; a reader
//!   thread hands replies to the waiting request and `IRQ` lines to a
//!   delivery thread, which calls interrupt handlers in order (never on the
//!   reader thread: a handler may access the device, which needs the
//!   reader).
//! - [`QtestPci`]: configuration space through ports 0xCF8/0xCFC, BARs
//!   through port or memory commands, the interrupt line from byte 0x3C.
//! - [`GuestMemory`]: an allocator over a window of guest RAM.
//!
//! Every line from QEMU is untrusted: a malformed one is a
//! [`QemuError::Protocol`], never a panic. What fails behind an infallible
//! trait method (a register read of a dead QEMU) reads as all ones and is
//! recorded: see [`Qemu::error`].
//!
//! Things a driver (or test) meets on this backend:
//!
//! - A register access is a round trip to QEMU: 25-30 µs on a quiet
//!   2-core machine, 90-150 µs under load; a configuration access is two.
//!   Fine for functional tests, not for benchmarks.
//! - SeaBIOS leaves bus mastering off (command 0x0103). QEMU's RTL8139 then
//!   still "transmits" and sets TOK, but its DMA reads zeros: the driver
//!   must set [`command::BUS_MASTER`](crate::command::BUS_MASTER).
//! - The I/O APIC's inputs are intercepted at launch, so the level of the
//!   device's line is known from the start; other lines (IRQ 0, the PIT,
//!   toggles all the time) reach no handler.

mod connection;
mod machine;
mod memory;
mod pci;
mod protocol;
mod qmp;

use std::fmt;

pub use connection::QtestConnection;
pub use machine::{Netdev, Qemu, QemuConfig};
pub use memory::{CHUNK, GuestMemory};
pub use pci::{BarWindow, QtestPci};

use crate::DmaError;

/// Why a QEMU operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QemuError {
    /// The emulator binary was not found (the path or name tried).
    NotInstalled(String),
    /// QEMU could not be started, or exited during start-up (with its
    /// stderr quoted).
    Launch(String),
    /// No reply, connection or boot within the deadline.
    Timeout(String),
    /// QEMU sent something that is not the protocol (a malformed line, a
    /// value of the wrong size, a short `read`).
    Protocol(String),
    /// QEMU is gone (the socket closed).
    Died(String),
    /// QEMU refused a command (`FAIL` or `ERR`).
    Fail(String),
    /// QMP answered a command with an error (the reply quoted).
    Qmp(String),
    /// No such PCI device.
    NoDevice(String),
    /// An invalid request or configuration (caught before reaching QEMU).
    Config(String),
    /// A DMA access outside the allocations, or no room.
    Dma(DmaError),
    /// An interrupt handler panicked (delivery goes on).
    Handler(String),
    /// A local I/O failure (sockets, temporary files).
    Io(String),
}

impl fmt::Display for QemuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QemuError::NotInstalled(b) => write!(
                f,
                "QEMU is not installed: {b} not found (Debian: apt-get install qemu-system-x86)"
            ),
            QemuError::Launch(m) => write!(f, "QEMU failed to start: {m}"),
            QemuError::Timeout(m) => write!(f, "QEMU timed out: {m}"),
            QemuError::Protocol(m) => write!(f, "qtest protocol violation: {m}"),
            QemuError::Died(m) => write!(f, "QEMU is gone: {m}"),
            QemuError::Fail(m) => write!(f, "QEMU refused a command: {m}"),
            QemuError::Qmp(m) => write!(f, "QMP error: {m}"),
            QemuError::NoDevice(m) => write!(f, "PCI device not found: {m}"),
            QemuError::Config(m) => write!(f, "invalid request: {m}"),
            QemuError::Dma(e) => write!(f, "guest memory: {e}"),
            QemuError::Handler(m) => write!(f, "interrupt handler: {m}"),
            QemuError::Io(m) => write!(f, "I/O error: {m}"),
        }
    }
}

impl std::error::Error for QemuError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QemuError::Dma(e) => Some(e),
            _ => None,
        }
    }
}
