//! Drivers for the ASIX AX88772 USB 2.0 to 10/100 Ethernet adapter.
//!
//! - [`framing`]: the chip's bulk framing (shared by both drivers);
//! - [`regs`]: vendor requests, register values, PHY registers;
//! - [`driver`]: the Dingo driver ([`Ax88772`]);
//! - [`load`]: a closed-loop echo load (demo and benchmark);
//! - [`adapter`]: a whole adapter (chip model, USB, bus driver, driver, OS end);
//! - [`native`]: the conventional multithreaded twin of the driver
//!   ([`NativeAx88772`]) and its adapter ([`NativeAdapter`]);
//! - [`nic`]: what a harness needs of either adapter ([`Nic`]).

pub mod adapter;
pub mod driver;
pub mod framing;
pub mod load;
pub mod native;
pub mod nic;
pub mod regs;

pub use driver::{Ax88772, Bug, Config, RX_QUEUE_LEN, TX_QUEUE_LEN};
pub use native::{NativeAdapter, NativeAx88772, NativeConfig};
pub use nic::Nic;
