//! The device side of the simulated bus: what a USB device model offers the
//! host controller.
//!
//! ```text
//!   host controller                         device model
//!   ---------------                         ------------
//!   control(setup, data)  ─────────────▶    answers at once (or stalls)
//!   transfer_out(ep, bytes) ───────────▶    takes the bytes (or stalls)
//!   transfer_in(ep, buf)  ─────────────▶    Ready(len) | Pending | error
//!          ▲                                        │
//!          └────────── notifier(ep) ◀───────────────┘  "IN data now ready on ep"
//! ```
//!
//! A device is hardware: it may be called from any host-controller thread
//! and synchronises internally. It never blocks for long: an IN endpoint
//! with nothing to say answers [`InPoll::Pending`] and later calls the
//! notifier it was given, and the host controller polls again.

use std::sync::Arc;

/// The 8-byte SETUP packet of a control transfer (USB 2.0 §9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetupPacket {
    /// bmRequestType: bit 7 direction (1 = device to host), bits 6:5 type
    /// (0 standard, 1 class, 2 vendor), bits 4:0 recipient.
    pub request_type: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength: bytes in the data stage.
    pub length: u16,
}

impl SetupPacket {
    /// Whether the data stage goes from device to host.
    pub fn is_in(&self) -> bool {
        self.request_type & 0x80 != 0
    }
}

/// Standard request codes (USB 2.0 table 9-4) the host controller uses to
/// enumerate a device.
pub mod request {
    /// GET_STATUS.
    pub const GET_STATUS: u8 = 0x00;
    /// SET_ADDRESS.
    pub const SET_ADDRESS: u8 = 0x05;
    /// GET_DESCRIPTOR (wValue = type << 8 | index).
    pub const GET_DESCRIPTOR: u8 = 0x06;
    /// GET_CONFIGURATION.
    pub const GET_CONFIGURATION: u8 = 0x08;
    /// SET_CONFIGURATION.
    pub const SET_CONFIGURATION: u8 = 0x09;
    /// SET_INTERFACE (wValue = alternate setting, wIndex = interface).
    pub const SET_INTERFACE: u8 = 0x0B;
    /// CLEAR_FEATURE (ENDPOINT_HALT clears a stall).
    pub const CLEAR_FEATURE: u8 = 0x01;
}

/// Descriptor types (USB 2.0 table 9-5).
pub mod descriptor_type {
    /// DEVICE.
    pub const DEVICE: u8 = 1;
    /// CONFIGURATION (with its interfaces and endpoints appended).
    pub const CONFIGURATION: u8 = 2;
    /// STRING.
    pub const STRING: u8 = 3;
    /// INTERFACE.
    pub const INTERFACE: u8 = 4;
    /// ENDPOINT.
    pub const ENDPOINT: u8 = 5;
}

/// The transfer type of an endpoint (bmAttributes bits 1:0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// Endpoint 0.
    Control,
    /// Isochronous (not used by the models here).
    Isochronous,
    /// Bulk.
    Bulk,
    /// Interrupt.
    Interrupt,
}

/// Why a transfer failed, as the host controller reports it to a driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferError {
    /// The endpoint answered STALL (unsupported request, or halted).
    Stall,
    /// The device is gone (unplugged).
    NoDevice,
    /// The transfer was cancelled (aborted) before it completed.
    Cancelled,
    /// The data was damaged on the bus (CRC or bit-stuffing error).
    Protocol,
    /// The device sent more than the buffer holds.
    Overflow,
    /// The endpoint does not exist in the current alternate setting.
    NoEndpoint,
    /// The interface is suspended.
    Suspended,
}

/// The answer of an IN endpoint to a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InPoll {
    /// `len` bytes were written to the start of the buffer; the transfer is done.
    Ready(usize),
    /// Nothing to send yet (NAK); the device calls the notifier when it has.
    Pending,
    /// The transfer failed.
    Failed(TransferError),
}

/// Called by a device when an IN endpoint (its address, e.g. `0x82`) may
/// have data for a pending transfer.
pub type InReadyNotifier = Arc<dyn Fn(u8) + Send + Sync>;

/// A USB device as the host controller sees it.
pub trait UsbDevice: Send + Sync {
    /// The device descriptor (18 bytes).
    fn device_descriptor(&self) -> Vec<u8>;
    /// The configuration descriptor with its interface and endpoint
    /// descriptors appended (what GET_DESCRIPTOR(CONFIGURATION) returns in full).
    fn configuration_descriptor(&self) -> Vec<u8>;
    /// A control transfer on endpoint 0. For an OUT request `data` is the
    /// data stage (`setup.length` bytes); for an IN request the answer is the
    /// data stage (at most `setup.length` bytes). Standard requests
    /// (GET_DESCRIPTOR, SET_ADDRESS, SET_CONFIGURATION, SET_INTERFACE, ...)
    /// come here too.
    fn control(&self, setup: SetupPacket, data: &[u8]) -> Result<Vec<u8>, TransferError>;
    /// A bulk or interrupt OUT transfer on `endpoint` (e.g. `0x03`).
    fn transfer_out(&self, endpoint: u8, data: &[u8]) -> Result<(), TransferError>;
    /// A bulk or interrupt IN transfer on `endpoint` (e.g. `0x82`) into `buf`.
    fn transfer_in(&self, endpoint: u8, buf: &mut [u8]) -> InPoll;
    /// Install the notifier the device calls when an IN endpoint has data.
    fn set_in_ready_notifier(&self, notifier: InReadyNotifier);
    /// The bus suspends the device (no transfers until [`UsbDevice::resume`]).
    fn suspend(&self);
    /// The bus resumes the device.
    fn resume(&self);
}

impl SetupPacket {
    /// The packet as the 8 bytes that cross the bus (multi-byte fields
    /// little-endian). A control URB keeps them in its first 8 bytes
    /// (see `crate::host`).
    pub fn to_bytes(&self) -> [u8; 8] {
        let [v0, v1] = self.value.to_le_bytes();
        let [i0, i1] = self.index.to_le_bytes();
        let [l0, l1] = self.length.to_le_bytes();
        [self.request_type, self.request, v0, v1, i0, i1, l0, l1]
    }

    /// The packet in the first 8 bytes of `bytes`; `None` if there are fewer.
    pub fn from_bytes(bytes: &[u8]) -> Option<SetupPacket> {
        let b: &[u8; 8] = bytes.get(..8)?.try_into().ok()?;
        Some(SetupPacket {
            request_type: b[0],
            request: b[1],
            value: u16::from_le_bytes([b[2], b[3]]),
            index: u16::from_le_bytes([b[4], b[5]]),
            length: u16::from_le_bytes([b[6], b[7]]),
        })
    }
}
