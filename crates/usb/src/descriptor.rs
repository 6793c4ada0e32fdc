//! Standard USB descriptors (USB 2.0 §9.6), parsed strictly.
//!
//! A descriptor is a run of bytes that starts with its own length
//! (`bLength`) and type (`bDescriptorType`). A configuration descriptor is
//! followed by its interface and endpoint descriptors (and any
//! class-specific ones, which are skipped), `wTotalLength` bytes in all:
//!
//! ```text
//!   CONFIGURATION(9) INTERFACE(9, alt 0) ENDPOINT(7) ENDPOINT(7)
//!                    INTERFACE(9, alt 1) ENDPOINT(7) [class-specific...]
//! ```
//!
//! The parsers trust nothing: a length that is too short, runs past the
//! end, or disagrees with the header is a [`DescriptorError`], never a
//! panic or an endless loop.

use crate::device::{EndpointKind, descriptor_type};
use std::fmt;

/// Why a descriptor was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DescriptorError {
    /// Fewer bytes than the descriptor needs.
    TooShort {
        /// What was being parsed.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        got: usize,
    },
    /// `bLength` is wrong for the descriptor's type, or runs past the end.
    BadLength {
        /// What was being parsed.
        what: &'static str,
        /// Offset of the descriptor in the buffer.
        offset: usize,
        /// Its `bLength`.
        length: u8,
    },
    /// `bDescriptorType` is not the expected one.
    BadType {
        /// What was expected.
        what: &'static str,
        /// The type found.
        found: u8,
    },
    /// `wTotalLength` disagrees with the bytes of the configuration.
    TotalLength {
        /// `wTotalLength`.
        declared: usize,
        /// Bytes there.
        got: usize,
    },
    /// An endpoint descriptor before any interface descriptor.
    EndpointOutsideInterface {
        /// Offset of the endpoint descriptor.
        offset: usize,
    },
    /// An interface declares a different number of endpoints than follow it.
    EndpointCount {
        /// The interface number.
        interface: u8,
        /// The alternate setting.
        alternate: u8,
        /// `bNumEndpoints`.
        declared: u8,
        /// Endpoint descriptors found.
        found: usize,
    },
    /// The configuration declares a different number of interfaces than it has.
    InterfaceCount {
        /// `bNumInterfaces`.
        declared: u8,
        /// Distinct interface numbers found.
        found: usize,
    },
    /// The same alternate setting of an interface appears twice.
    DuplicateAltSetting {
        /// The interface number.
        interface: u8,
        /// The alternate setting.
        alternate: u8,
    },
    /// An endpoint address appears twice in one alternate setting, or is
    /// endpoint 0 (which has no descriptor).
    BadEndpointAddress {
        /// The address.
        address: u8,
    },
    /// A max packet size of zero, or larger than USB allows (1024).
    BadMaxPacketSize {
        /// The endpoint (or 0 for the device's endpoint 0).
        address: u8,
        /// The size.
        size: u16,
    },
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DescriptorError::TooShort { what, need, got } => {
                write!(f, "{what}: {got} bytes, need {need}")
            }
            DescriptorError::BadLength {
                what,
                offset,
                length,
            } => write!(f, "{what} at offset {offset}: bad bLength {length}"),
            DescriptorError::BadType { what, found } => {
                write!(f, "expected a {what} descriptor, found type {found}")
            }
            DescriptorError::TotalLength { declared, got } => {
                write!(
                    f,
                    "wTotalLength is {declared} but the configuration has {got} bytes"
                )
            }
            DescriptorError::EndpointOutsideInterface { offset } => {
                write!(
                    f,
                    "endpoint descriptor at offset {offset} before any interface"
                )
            }
            DescriptorError::EndpointCount {
                interface,
                alternate,
                declared,
                found,
            } => write!(
                f,
                "interface {interface} alt {alternate} declares {declared} endpoints, has {found}"
            ),
            DescriptorError::InterfaceCount { declared, found } => {
                write!(
                    f,
                    "configuration declares {declared} interfaces, has {found}"
                )
            }
            DescriptorError::DuplicateAltSetting {
                interface,
                alternate,
            } => write!(f, "interface {interface} alt {alternate} appears twice"),
            DescriptorError::BadEndpointAddress { address } => {
                write!(f, "bad or duplicate endpoint address {address:#04x}")
            }
            DescriptorError::BadMaxPacketSize { address, size } => {
                write!(f, "endpoint {address:#04x}: bad max packet size {size}")
            }
        }
    }
}

impl std::error::Error for DescriptorError {}

/// The device descriptor (18 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceDescriptor {
    /// bcdUSB.
    pub usb_version: u16,
    /// bDeviceClass.
    pub class: u8,
    /// bDeviceSubClass.
    pub subclass: u8,
    /// bDeviceProtocol.
    pub protocol: u8,
    /// bMaxPacketSize0: endpoint 0's max packet size (8, 16, 32 or 64).
    pub max_packet_size0: u8,
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// bcdDevice.
    pub device_version: u16,
    /// iManufacturer.
    pub manufacturer_index: u8,
    /// iProduct.
    pub product_index: u8,
    /// iSerialNumber.
    pub serial_index: u8,
    /// bNumConfigurations.
    pub num_configurations: u8,
}

/// Length of a device descriptor.
pub const DEVICE_DESCRIPTOR_LEN: usize = 18;
/// Length of a configuration descriptor's header.
pub const CONFIG_HEADER_LEN: usize = 9;
const INTERFACE_LEN: usize = 9;
const ENDPOINT_LEN: usize = 7;

fn u16_at(b: &[u8], at: usize) -> u16 {
    match (b.get(at), b.get(at + 1)) {
        (Some(&lo), Some(&hi)) => u16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// Parses a device descriptor: exactly 18 bytes, `bLength` 18, type DEVICE.
pub fn parse_device(b: &[u8]) -> Result<DeviceDescriptor, DescriptorError> {
    if b.len() < DEVICE_DESCRIPTOR_LEN {
        return Err(DescriptorError::TooShort {
            what: "device descriptor",
            need: DEVICE_DESCRIPTOR_LEN,
            got: b.len(),
        });
    }
    if usize::from(b[0]) != DEVICE_DESCRIPTOR_LEN || b.len() != DEVICE_DESCRIPTOR_LEN {
        return Err(DescriptorError::BadLength {
            what: "device descriptor",
            offset: 0,
            length: b[0],
        });
    }
    if b[1] != descriptor_type::DEVICE {
        return Err(DescriptorError::BadType {
            what: "device",
            found: b[1],
        });
    }
    let mps = b[7];
    if !matches!(mps, 8 | 16 | 32 | 64) {
        return Err(DescriptorError::BadMaxPacketSize {
            address: 0,
            size: u16::from(mps),
        });
    }
    Ok(DeviceDescriptor {
        usb_version: u16_at(b, 2),
        class: b[4],
        subclass: b[5],
        protocol: b[6],
        max_packet_size0: mps,
        vendor_id: u16_at(b, 8),
        product_id: u16_at(b, 10),
        device_version: u16_at(b, 12),
        manufacturer_index: b[14],
        product_index: b[15],
        serial_index: b[16],
        num_configurations: b[17],
    })
}

/// An endpoint descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointDescriptor {
    /// bEndpointAddress: bit 7 is the direction (1 = IN), bits 3:0 the number.
    pub address: u8,
    /// The transfer type (bmAttributes bits 1:0).
    pub kind: EndpointKind,
    /// wMaxPacketSize bits 10:0.
    pub max_packet_size: u16,
    /// bInterval (polling interval of interrupt endpoints).
    pub interval: u8,
}

impl EndpointDescriptor {
    /// Whether data flows from the device to the host.
    pub fn is_in(&self) -> bool {
        self.address & 0x80 != 0
    }
}

/// The transfer type encoded in an endpoint's bmAttributes.
pub fn endpoint_kind(attributes: u8) -> EndpointKind {
    match attributes & 0x03 {
        0 => EndpointKind::Control,
        1 => EndpointKind::Isochronous,
        2 => EndpointKind::Bulk,
        _ => EndpointKind::Interrupt,
    }
}

/// One alternate setting of an interface, with its endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AltSetting {
    /// bInterfaceNumber.
    pub interface: u8,
    /// bAlternateSetting.
    pub alternate: u8,
    /// bInterfaceClass.
    pub class: u8,
    /// bInterfaceSubClass.
    pub subclass: u8,
    /// bInterfaceProtocol.
    pub protocol: u8,
    /// The endpoints, in descriptor order.
    pub endpoints: Vec<EndpointDescriptor>,
}

impl AltSetting {
    /// The endpoint with this address, if the setting has it.
    pub fn endpoint(&self, address: u8) -> Option<&EndpointDescriptor> {
        self.endpoints.iter().find(|e| e.address == address)
    }
}

/// An interface: its alternate settings, ordered by setting number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// bInterfaceNumber.
    pub number: u8,
    /// The alternate settings (at least one).
    pub alt_settings: Vec<AltSetting>,
}

impl Interface {
    /// Alternate setting `alternate`, if the interface has it.
    pub fn alt(&self, alternate: u8) -> Option<&AltSetting> {
        self.alt_settings.iter().find(|a| a.alternate == alternate)
    }
}

/// A configuration with its interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDescriptor {
    /// wTotalLength.
    pub total_length: u16,
    /// bConfigurationValue (the argument of SET_CONFIGURATION).
    pub value: u8,
    /// bmAttributes (bit 6 self-powered, bit 5 remote wakeup).
    pub attributes: u8,
    /// bMaxPower in 2 mA units.
    pub max_power: u8,
    /// The interfaces, ordered by interface number.
    pub interfaces: Vec<Interface>,
}

impl ConfigDescriptor {
    /// Interface `number`, if the configuration has it.
    pub fn interface(&self, number: u8) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.number == number)
    }
}

/// The header of a configuration descriptor (its first 9 bytes), as read
/// before the whole: `(wTotalLength, bNumInterfaces, bConfigurationValue)`.
/// More than 9 bytes are allowed (only the first 9 are read).
pub fn parse_config_header(b: &[u8]) -> Result<(u16, u8, u8), DescriptorError> {
    if b.len() < CONFIG_HEADER_LEN {
        return Err(DescriptorError::TooShort {
            what: "configuration descriptor",
            need: CONFIG_HEADER_LEN,
            got: b.len(),
        });
    }
    if usize::from(b[0]) != CONFIG_HEADER_LEN {
        return Err(DescriptorError::BadLength {
            what: "configuration descriptor",
            offset: 0,
            length: b[0],
        });
    }
    if b[1] != descriptor_type::CONFIGURATION {
        return Err(DescriptorError::BadType {
            what: "configuration",
            found: b[1],
        });
    }
    let total = u16_at(b, 2);
    if usize::from(total) < CONFIG_HEADER_LEN {
        return Err(DescriptorError::TotalLength {
            declared: usize::from(total),
            got: b.len(),
        });
    }
    Ok((total, b[4], b[5]))
}

/// Parses a whole configuration descriptor (exactly `wTotalLength` bytes)
/// with its interfaces and endpoints.
pub fn parse_configuration(b: &[u8]) -> Result<ConfigDescriptor, DescriptorError> {
    let (total, num_interfaces, value) = parse_config_header(b)?;
    if usize::from(total) != b.len() {
        return Err(DescriptorError::TotalLength {
            declared: usize::from(total),
            got: b.len(),
        });
    }
    let mut interfaces: Vec<Interface> = Vec::new();
    // The alternate setting being filled: its declared endpoint count.
    let mut current: Option<(AltSetting, u8)> = None;
    let mut at = CONFIG_HEADER_LEN;
    while at < b.len() {
        let len = b[at];
        let ty = byte(b, at + 1);
        let end = at + usize::from(len);
        if len < 2 || end > b.len() {
            return Err(DescriptorError::BadLength {
                what: "descriptor",
                offset: at,
                length: len,
            });
        }
        let d = &b[at..end];
        match ty {
            descriptor_type::INTERFACE => {
                if d.len() < INTERFACE_LEN {
                    return Err(DescriptorError::BadLength {
                        what: "interface descriptor",
                        offset: at,
                        length: len,
                    });
                }
                if let Some((alt, declared)) = current.take() {
                    close_alt(&mut interfaces, alt, declared)?;
                }
                current = Some((
                    AltSetting {
                        interface: d[2],
                        alternate: d[3],
                        class: d[5],
                        subclass: d[6],
                        protocol: d[7],
                        endpoints: Vec::new(),
                    },
                    d[4],
                ));
            }
            descriptor_type::ENDPOINT => {
                if d.len() < ENDPOINT_LEN {
                    return Err(DescriptorError::BadLength {
                        what: "endpoint descriptor",
                        offset: at,
                        length: len,
                    });
                }
                let Some((alt, _)) = current.as_mut() else {
                    return Err(DescriptorError::EndpointOutsideInterface { offset: at });
                };
                let address = d[2];
                if address & 0x0f == 0
                    || address & 0x70 != 0
                    || alt.endpoints.iter().any(|e| e.address == address)
                {
                    return Err(DescriptorError::BadEndpointAddress { address });
                }
                let max_packet_size = u16_at(d, 4) & 0x07ff;
                if max_packet_size == 0 || max_packet_size > 1024 {
                    return Err(DescriptorError::BadMaxPacketSize {
                        address,
                        size: max_packet_size,
                    });
                }
                alt.endpoints.push(EndpointDescriptor {
                    address,
                    kind: endpoint_kind(d[3]),
                    max_packet_size,
                    interval: d[6],
                });
            }
            descriptor_type::DEVICE | descriptor_type::CONFIGURATION => {
                return Err(DescriptorError::BadType {
                    what: "interface, endpoint or class-specific",
                    found: ty,
                });
            }
            // Class- or vendor-specific descriptors: skipped.
            _ => {}
        }
        at = end;
    }
    if let Some((alt, declared)) = current.take() {
        close_alt(&mut interfaces, alt, declared)?;
    }
    if interfaces.len() != usize::from(num_interfaces) {
        return Err(DescriptorError::InterfaceCount {
            declared: num_interfaces,
            found: interfaces.len(),
        });
    }
    interfaces.sort_by_key(|i| i.number);
    for i in &mut interfaces {
        i.alt_settings.sort_by_key(|a| a.alternate);
    }
    Ok(ConfigDescriptor {
        total_length: total,
        value,
        attributes: b[7],
        max_power: b[8],
        interfaces,
    })
}

/// Files a finished alternate setting under its interface.
fn close_alt(
    interfaces: &mut Vec<Interface>,
    alt: AltSetting,
    declared: u8,
) -> Result<(), DescriptorError> {
    if alt.endpoints.len() != usize::from(declared) {
        return Err(DescriptorError::EndpointCount {
            interface: alt.interface,
            alternate: alt.alternate,
            declared,
            found: alt.endpoints.len(),
        });
    }
    match interfaces.iter_mut().find(|i| i.number == alt.interface) {
        Some(i) => {
            if i.alt(alt.alternate).is_some() {
                return Err(DescriptorError::DuplicateAltSetting {
                    interface: alt.interface,
                    alternate: alt.alternate,
                });
            }
            i.alt_settings.push(alt);
        }
        None => interfaces.push(Interface {
            number: alt.interface,
            alt_settings: vec![alt],
        }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Vec<u8> {
        let mut c = vec![9, 2, 0, 0, 1, 1, 0, 0x80, 50];
        c.extend([9, 4, 0, 0, 2, 0xff, 0, 0, 0]);
        c.extend([7, 5, 0x81, 2, 0x00, 0x02, 0]);
        c.extend([5, 0x24, 1, 2, 3]); // class-specific, skipped
        c.extend([7, 5, 0x01, 2, 0x00, 0x02, 0]);
        c.extend([9, 4, 0, 1, 1, 0xff, 0, 0, 0]);
        c.extend([7, 5, 0x83, 3, 8, 0, 11]);
        let n = c.len() as u16;
        c[2..4].copy_from_slice(&n.to_le_bytes());
        c
    }

    #[test]
    fn a_configuration_with_two_alternate_settings() {
        let c = parse_configuration(&config()).unwrap();
        assert_eq!(c.value, 1);
        let i = c.interface(0).unwrap();
        assert_eq!(i.alt_settings.len(), 2);
        let a0 = i.alt(0).unwrap();
        assert_eq!(a0.endpoints.len(), 2);
        assert_eq!(a0.endpoint(0x81).unwrap().kind, EndpointKind::Bulk);
        assert_eq!(a0.endpoint(0x81).unwrap().max_packet_size, 512);
        let e = i.alt(1).unwrap().endpoint(0x83).unwrap();
        assert_eq!(
            (e.kind, e.max_packet_size, e.interval),
            (EndpointKind::Interrupt, 8, 11)
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let c = config();
        for n in 0..c.len() {
            assert!(parse_configuration(&c[..n]).is_err(), "{n} bytes");
        }
    }

    #[test]
    fn a_zero_length_descriptor_is_an_error_not_a_loop() {
        let mut c = config();
        c[9] = 0;
        assert!(matches!(
            parse_configuration(&c),
            Err(DescriptorError::BadLength { offset: 9, .. })
        ));
    }
}
