//! Standard (chapter 9) requests on endpoint 0, and the USB-level state they
//! change: address, configuration, remote wakeup and endpoint halts.
//!
//! Anything the device does not support answers STALL: other
//! configurations, alternate settings other than 0, unknown descriptors,
//! features other than ENDPOINT_HALT and DEVICE_REMOTE_WAKEUP.

use usb::device::{SetupPacket, TransferError, descriptor_type, request};

use super::descriptors::{
    self, CONFIGURATION_VALUE, DEVICE_QUALIFIER, EP_BULK_IN, EP_BULK_OUT, EP_STATUS_IN,
};

/// GET_INTERFACE (USB 2.0 table 9-4); not in `usb::request`.
const GET_INTERFACE: u8 = 0x0A;
/// SET_FEATURE (USB 2.0 table 9-4); not in `usb::request`.
const SET_FEATURE: u8 = 0x03;
/// Feature selectors (USB 2.0 table 9-6).
const FEATURE_ENDPOINT_HALT: u16 = 0;
const FEATURE_DEVICE_REMOTE_WAKEUP: u16 = 1;
/// bmRequestType recipients (bits 4:0).
const RECIPIENT_DEVICE: u8 = 0;
const RECIPIENT_INTERFACE: u8 = 1;
const RECIPIENT_ENDPOINT: u8 = 2;
/// Highest USB address.
const MAX_ADDRESS: u16 = 127;

/// The data endpoints, in the order of [`UsbState::halted`].
const DATA_ENDPOINTS: [u8; 3] = [EP_STATUS_IN, EP_BULK_IN, EP_BULK_OUT];

/// USB-level device state.
#[derive(Debug, Default)]
pub(crate) struct UsbState {
    /// Assigned by SET_ADDRESS (0 = default address).
    pub(crate) address: u8,
    /// 0 = not configured (data endpoints do not exist), else 1.
    pub(crate) configuration: u8,
    /// DEVICE_REMOTE_WAKEUP feature.
    pub(crate) remote_wakeup: bool,
    /// Halt (stall) flags of 0x81, 0x82, 0x03.
    halted: [bool; 3],
    /// The bus suspended the device.
    pub(crate) suspended: bool,
}

impl UsbState {
    /// Whether `endpoint` is one of the data endpoints.
    pub(crate) fn is_data_endpoint(endpoint: u8) -> bool {
        slot(endpoint).is_some()
    }

    /// Whether `endpoint` is halted.
    pub(crate) fn is_halted(&self, endpoint: u8) -> bool {
        slot(endpoint).is_some_and(|i| self.halted[i])
    }

    /// Halt `endpoint` (no-op for unknown endpoints); returns whether it exists.
    pub(crate) fn halt(&mut self, endpoint: u8) -> bool {
        self.set_halt(endpoint, true)
    }

    fn set_halt(&mut self, endpoint: u8, halted: bool) -> bool {
        match slot(endpoint) {
            Some(i) => {
                self.halted[i] = halted;
                true
            }
            None => false,
        }
    }

    /// Whether a data transfer on `endpoint` may proceed; the error otherwise.
    pub(crate) fn check_data_transfer(&self, endpoint: u8) -> Result<(), TransferError> {
        if self.suspended {
            Err(TransferError::Suspended)
        } else if self.configuration == 0 || !Self::is_data_endpoint(endpoint) {
            Err(TransferError::NoEndpoint)
        } else if self.is_halted(endpoint) {
            Err(TransferError::Stall)
        } else {
            Ok(())
        }
    }

    /// Answer a standard request.
    pub(crate) fn standard_request(
        &mut self,
        setup: SetupPacket,
    ) -> Result<Vec<u8>, TransferError> {
        let recipient = setup.request_type & 0x1F;
        let answer = match (setup.request, setup.is_in()) {
            (request::GET_DESCRIPTOR, true) => get_descriptor(setup.value)?,
            (request::SET_ADDRESS, false) => self.set_address(setup.value)?,
            (request::GET_CONFIGURATION, true) => vec![self.configuration],
            (request::SET_CONFIGURATION, false) => self.set_configuration(setup.value)?,
            (GET_INTERFACE, true) => self.interface_request(setup.index, 0).map(|()| vec![0])?,
            (request::SET_INTERFACE, false) => self.set_interface(setup)?,
            (request::GET_STATUS, true) => self.get_status(recipient, setup.index)?,
            (request::CLEAR_FEATURE, false) => self.set_feature(recipient, setup, false)?,
            (SET_FEATURE, false) => self.set_feature(recipient, setup, true)?,
            _ => return Err(TransferError::Stall),
        };
        Ok(truncate(answer, setup.length))
    }

    fn set_address(&mut self, address: u16) -> Result<Vec<u8>, TransferError> {
        if address > MAX_ADDRESS {
            return Err(TransferError::Stall);
        }
        self.address = address as u8;
        Ok(Vec::new())
    }

    fn set_configuration(&mut self, value: u16) -> Result<Vec<u8>, TransferError> {
        match value {
            0 => self.configuration = 0,
            v if v == u16::from(CONFIGURATION_VALUE) => self.configuration = CONFIGURATION_VALUE,
            _ => return Err(TransferError::Stall),
        }
        self.halted = [false; 3];
        Ok(Vec::new())
    }

    /// Requests addressed to interface `index` need a configured device and
    /// interface 0.
    fn interface_request(&self, index: u16, alternate: u16) -> Result<(), TransferError> {
        if self.configuration == 0 || index != 0 || alternate != 0 {
            Err(TransferError::Stall)
        } else {
            Ok(())
        }
    }

    fn set_interface(&mut self, setup: SetupPacket) -> Result<Vec<u8>, TransferError> {
        self.interface_request(setup.index, setup.value)?;
        self.halted = [false; 3];
        Ok(Vec::new())
    }

    fn get_status(&self, recipient: u8, index: u16) -> Result<Vec<u8>, TransferError> {
        let status: u16 = match recipient {
            RECIPIENT_DEVICE => u16::from(self.remote_wakeup) << 1,
            RECIPIENT_INTERFACE => {
                self.interface_request(index, 0)?;
                0
            }
            RECIPIENT_ENDPOINT if index == 0 || index == 0x80 => 0,
            RECIPIENT_ENDPOINT => {
                let endpoint = u8::try_from(index).map_err(|_| TransferError::Stall)?;
                if self.configuration == 0 || !Self::is_data_endpoint(endpoint) {
                    return Err(TransferError::Stall);
                }
                u16::from(self.is_halted(endpoint))
            }
            _ => return Err(TransferError::Stall),
        };
        Ok(status.to_le_bytes().to_vec())
    }

    /// SET_FEATURE (`on`) or CLEAR_FEATURE.
    fn set_feature(
        &mut self,
        recipient: u8,
        setup: SetupPacket,
        on: bool,
    ) -> Result<Vec<u8>, TransferError> {
        match (recipient, setup.value) {
            (RECIPIENT_DEVICE, FEATURE_DEVICE_REMOTE_WAKEUP) => self.remote_wakeup = on,
            (RECIPIENT_ENDPOINT, FEATURE_ENDPOINT_HALT) if setup.index == 0 => {}
            (RECIPIENT_ENDPOINT, FEATURE_ENDPOINT_HALT) => {
                let endpoint = u8::try_from(setup.index).map_err(|_| TransferError::Stall)?;
                if self.configuration == 0 || !self.set_halt(endpoint, on) {
                    return Err(TransferError::Stall);
                }
            }
            _ => return Err(TransferError::Stall),
        }
        Ok(Vec::new())
    }
}

fn slot(endpoint: u8) -> Option<usize> {
    DATA_ENDPOINTS.iter().position(|&ep| ep == endpoint)
}

/// GET_DESCRIPTOR: wValue = type << 8 | index.
fn get_descriptor(value: u16) -> Result<Vec<u8>, TransferError> {
    let [index, kind] = value.to_le_bytes();
    let descriptor = match kind {
        descriptor_type::DEVICE if index == 0 => Some(descriptors::device_descriptor()),
        descriptor_type::CONFIGURATION if index == 0 => {
            Some(descriptors::configuration_descriptor())
        }
        descriptor_type::STRING => descriptors::string_descriptor(index),
        DEVICE_QUALIFIER if index == 0 => Some(descriptors::device_qualifier()),
        _ => None,
    };
    descriptor.ok_or(TransferError::Stall)
}

/// A device answers at most wLength bytes.
fn truncate(mut answer: Vec<u8>, length: u16) -> Vec<u8> {
    answer.truncate(usize::from(length));
    answer
}
