//! A simulated USB: the interface a device model implements ([`UsbDevice`]),
//! the host controller that runs transfers against it ([`HostController`],
//! with the URB buffers of [`UrbPool`]), and the USB bus driver as a Dingo
//! component ([`bus::BusDriver`], component `usb_bus`).
//!
//! ```text
//!   client driver (asix, ...) ──ports──▶ bus::BusDriver ──▶ HostController ──▶ dyn UsbDevice
//!          ▲                                  │  mailbox         │ worker + delivery threads
//!          └──── transferComplete, ... ◀──────┘◀─────────────────┘
//! ```
//!
//! - [`descriptor`]: strict parsing of device and configuration descriptors.
//! - [`urb`]: URBs named by `i64` handles.
//! - [`host`]: enumeration, transfers, abort, suspend, unplug, faults.
//! - [`bus`]: the `usb_bus` driver, status codes, and wiring a client to it.
//! - [`mailbox`]: host threads to a driver task.

pub mod bus;
pub mod descriptor;
pub mod device;
pub mod host;
pub mod mailbox;
pub mod urb;

pub use bus::{Binding, BusDriver};
pub use descriptor::{ConfigDescriptor, DescriptorError, DeviceDescriptor, EndpointDescriptor};
pub use device::{EndpointKind, InPoll, InReadyNotifier, SetupPacket, TransferError, UsbDevice};
pub use host::{
    AttachError, Completion, DeviceInfo, EndpointStats, FaultPlan, HostController, HostEvent,
    OnComplete, Request, SubmitError,
};
pub use urb::{UrbError, UrbId, UrbPool};
