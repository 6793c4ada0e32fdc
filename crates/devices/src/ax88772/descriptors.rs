//! USB descriptors of the AX88772 (device-facts.md §2.1, §2.2).
//!
//! One configuration with one vendor-specific interface and three endpoints:
//!
//! ```text
//!   0x81  interrupt IN   8 bytes   status packets (link)
//!   0x82  bulk IN      512 bytes   received frames
//!   0x03  bulk OUT     512 bytes   frames to transmit
//! ```
//!
//! The model is a high-speed device, so the bulk endpoints use 512-byte
//! packets (the size that drives the TX zero-length-packet rule, §2.8).

use usb::device::descriptor_type;

/// ASIX's USB vendor ID (§2.1).
pub const VENDOR_ID: u16 = 0x0B95;
/// The plain AX88772's product ID (§2.1).
pub const PRODUCT_ID: u16 = 0x7720;
/// bcdDevice. Not in the facts; the value lsusb commonly shows for the chip.
pub const DEVICE_RELEASE: u16 = 0x0001;

/// Interrupt IN endpoint carrying 8-byte status packets (§2.2, §2.9).
pub const EP_STATUS_IN: u8 = 0x81;
/// Bulk IN endpoint carrying received frames (§2.2, §2.7).
pub const EP_BULK_IN: u8 = 0x82;
/// Bulk OUT endpoint carrying frames to transmit (§2.2, §2.8).
pub const EP_BULK_OUT: u8 = 0x03;

/// wMaxPacketSize of the bulk endpoints at high speed (§2.2).
pub const BULK_MAX_PACKET: u16 = 512;
/// wMaxPacketSize of the interrupt endpoint: one status packet (§2.2).
pub const STATUS_MAX_PACKET: u16 = 8;
/// bInterval of the interrupt endpoint. Not documented for the 772; the
/// value of the related AX88179 (§2.2). At high speed it is an exponent:
/// 2^(11-1) microframes = 128 ms.
pub const STATUS_INTERVAL: u8 = 11;
/// wMaxPacketSize of endpoint 0.
pub const EP0_MAX_PACKET: u8 = 64;
/// The one bConfigurationValue.
pub const CONFIGURATION_VALUE: u8 = 1;

/// Vendor-specific class code (§2.2).
const CLASS_VENDOR_SPECIFIC: u8 = 0xFF;
/// bmAttributes: bus powered (bit 7 reserved-one) with remote wakeup
/// (bit 5); the chip wakes the host on link or magic packet (§2.5.8).
const CONFIG_ATTRIBUTES: u8 = 0xA0;
/// bMaxPower in 2 mA units (250 mA).
const CONFIG_MAX_POWER: u8 = 0x7D;
/// DEVICE_QUALIFIER descriptor type (USB 2.0 §9.6.2).
pub(crate) const DEVICE_QUALIFIER: u8 = 6;

/// String descriptor indices.
const STRING_MANUFACTURER: u8 = 1;
const STRING_PRODUCT: u8 = 2;
const STRING_SERIAL: u8 = 3;
/// US English, the only language.
const LANGID_EN_US: u16 = 0x0409;

/// Endpoint transfer types (bmAttributes bits 1:0).
const ATTR_BULK: u8 = 0x02;
const ATTR_INTERRUPT: u8 = 0x03;

/// The 18-byte device descriptor.
pub(crate) fn device_descriptor() -> Vec<u8> {
    let [vid_lo, vid_hi] = VENDOR_ID.to_le_bytes();
    let [pid_lo, pid_hi] = PRODUCT_ID.to_le_bytes();
    let [rel_lo, rel_hi] = DEVICE_RELEASE.to_le_bytes();
    vec![
        18,
        descriptor_type::DEVICE,
        0x00,
        0x02, // bcdUSB 2.00
        CLASS_VENDOR_SPECIFIC,
        CLASS_VENDOR_SPECIFIC,
        0x00, // protocol
        EP0_MAX_PACKET,
        vid_lo,
        vid_hi,
        pid_lo,
        pid_hi,
        rel_lo,
        rel_hi,
        STRING_MANUFACTURER,
        STRING_PRODUCT,
        STRING_SERIAL,
        1, // bNumConfigurations
    ]
}

/// The configuration descriptor with its interface and endpoints (39 bytes).
pub(crate) fn configuration_descriptor() -> Vec<u8> {
    let mut bytes = vec![
        9,
        descriptor_type::CONFIGURATION,
        0,
        0, // wTotalLength, patched below
        1, // bNumInterfaces
        CONFIGURATION_VALUE,
        0, // iConfiguration
        CONFIG_ATTRIBUTES,
        CONFIG_MAX_POWER,
        // Interface 0, alternate setting 0.
        9,
        descriptor_type::INTERFACE,
        0,
        0,
        3, // bNumEndpoints
        CLASS_VENDOR_SPECIFIC,
        CLASS_VENDOR_SPECIFIC,
        0x00,
        0, // iInterface
    ];
    bytes.extend(endpoint(
        EP_STATUS_IN,
        ATTR_INTERRUPT,
        STATUS_MAX_PACKET,
        STATUS_INTERVAL,
    ));
    bytes.extend(endpoint(EP_BULK_IN, ATTR_BULK, BULK_MAX_PACKET, 0));
    bytes.extend(endpoint(EP_BULK_OUT, ATTR_BULK, BULK_MAX_PACKET, 0));
    let total = u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_le_bytes();
    bytes[2..4].copy_from_slice(&total);
    bytes
}

fn endpoint(address: u8, attributes: u8, max_packet: u16, interval: u8) -> [u8; 7] {
    let [mp_lo, mp_hi] = max_packet.to_le_bytes();
    [
        7,
        descriptor_type::ENDPOINT,
        address,
        attributes,
        mp_lo,
        mp_hi,
        interval,
    ]
}

/// The device qualifier a high-speed device must answer (USB 2.0 §9.6.2).
pub(crate) fn device_qualifier() -> Vec<u8> {
    vec![
        10,
        DEVICE_QUALIFIER,
        0x00,
        0x02,
        CLASS_VENDOR_SPECIFIC,
        CLASS_VENDOR_SPECIFIC,
        0x00,
        EP0_MAX_PACKET,
        1,
        0,
    ]
}

/// String descriptor `index`, or `None` (STALL) if there is none.
pub(crate) fn string_descriptor(index: u8) -> Option<Vec<u8>> {
    let text = match index {
        0 => {
            let [lo, hi] = LANGID_EN_US.to_le_bytes();
            return Some(vec![4, descriptor_type::STRING, lo, hi]);
        }
        STRING_MANUFACTURER => "ASIX Elec. Corp.",
        STRING_PRODUCT => "AX88772",
        STRING_SERIAL => "000001",
        _ => return None,
    };
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut bytes = vec![(2 + 2 * units.len()) as u8, descriptor_type::STRING];
    bytes.extend(units.iter().flat_map(|unit| unit.to_le_bytes()));
    Some(bytes)
}
