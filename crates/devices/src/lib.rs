//! Software models of real devices, for testing drivers without hardware.
//!
//! - [`ax88772`]: the ASIX AX88772 USB 2.0 to 10/100 Ethernet controller,
//!   seen through the simulated bus's [`usb::UsbDevice`] interface and
//!   attached to an Ethernet wire through [`netwire::FrameSink`].

pub mod ax88772;
pub mod rtl8139;
