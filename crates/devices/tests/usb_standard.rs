//! Chapter-9 behaviour: descriptors (device-facts.md §2.1, §2.2) and the
//! standard requests the USB core and usbnet send.

mod common;

use common::*;
use devices::ax88772::{Config, EP_BULK_IN, EP_BULK_OUT, EP_STATUS_IN};
use usb::device::{InPoll, TransferError, UsbDevice, descriptor_type, request};

fn descriptor(host: &Host, kind: u8, index: u8, length: u16) -> Result<Vec<u8>, TransferError> {
    host.control_in(
        STANDARD_IN,
        request::GET_DESCRIPTOR,
        u16::from(kind) << 8 | u16::from(index),
        0,
        length,
    )
}

#[test]
fn device_descriptor_identifies_a_plain_ax88772() {
    let host = Host::new(Config::default());
    let d = host.dev.device_descriptor();
    assert_eq!(d.len(), 18);
    assert_eq!(&d[..2], &[18, descriptor_type::DEVICE]);
    assert_eq!(u16::from_le_bytes([d[2], d[3]]), 0x0200, "USB 2.0");
    assert_eq!(u16::from_le_bytes([d[8], d[9]]), 0x0B95);
    assert_eq!(u16::from_le_bytes([d[10], d[11]]), 0x7720);
    assert_eq!(d[17], 1, "one configuration");
    assert_eq!(
        descriptor(&host, descriptor_type::DEVICE, 0, 18).unwrap(),
        d
    );
    assert_eq!(
        descriptor(&host, descriptor_type::DEVICE, 0, 8).unwrap(),
        &d[..8],
        "truncated to wLength"
    );
}

#[test]
fn configuration_has_one_interface_with_the_three_endpoints() {
    let host = Host::new(Config::default());
    let c = host.dev.configuration_descriptor();
    assert_eq!(u16::from_le_bytes([c[2], c[3]]) as usize, c.len());
    assert_eq!(c[4], 1, "one interface");
    let interface = &c[9..18];
    assert_eq!(interface[1], descriptor_type::INTERFACE);
    assert_eq!(
        (interface[3], interface[4], interface[5]),
        (0, 3, 0xFF),
        "alt 0, 3 endpoints, vendor class"
    );
    let endpoints: Vec<(u8, u8, u16, u8)> = c[18..]
        .chunks(7)
        .map(|e| {
            assert_eq!(&e[..2], &[7, descriptor_type::ENDPOINT]);
            (e[2], e[3] & 3, u16::from_le_bytes([e[4], e[5]]), e[6])
        })
        .collect();
    assert_eq!(
        endpoints,
        vec![(0x81, 3, 8, 11), (0x82, 2, 512, 0), (0x03, 2, 512, 0)]
    );
    assert_eq!(
        descriptor(&host, descriptor_type::CONFIGURATION, 0, 1024).unwrap(),
        c
    );
}

#[test]
fn descriptors_parse_with_the_bus_parser() {
    let host = Host::new(Config::default());
    let device = usb::descriptor::parse_device(&host.dev.device_descriptor()).unwrap();
    assert_eq!((device.vendor_id, device.product_id), (0x0B95, 0x7720));
}

#[test]
fn strings_and_device_qualifier() {
    let host = Host::new(Config::default());
    assert_eq!(
        descriptor(&host, descriptor_type::STRING, 0, 255).unwrap(),
        vec![4, 3, 0x09, 0x04]
    );
    let product = descriptor(&host, descriptor_type::STRING, 2, 255).unwrap();
    let text: String = char::decode_utf16(
        product[2..]
            .chunks(2)
            .map(|u| u16::from_le_bytes([u[0], u[1]])),
    )
    .map(Result::unwrap)
    .collect();
    assert_eq!(text, "AX88772");
    assert_eq!(
        descriptor(&host, descriptor_type::STRING, 9, 255),
        Err(TransferError::Stall)
    );
    assert_eq!(
        descriptor(&host, 6, 0, 10).unwrap().len(),
        10,
        "device qualifier"
    );
    assert_eq!(
        descriptor(&host, 7, 0, 10),
        Err(TransferError::Stall),
        "no other-speed configuration"
    );
}

#[test]
fn address_configuration_and_interface() {
    let host = Host::new(Config::default());
    assert_eq!(
        host.bulk_in(512),
        InPoll::Failed(TransferError::NoEndpoint),
        "not configured yet"
    );
    host.enumerate();
    assert_eq!(host.dev.usb_address(), 5);
    assert_eq!(
        host.control_in(STANDARD_IN, request::GET_CONFIGURATION, 0, 0, 1)
            .unwrap(),
        vec![1]
    );
    assert_eq!(
        host.control_in(0x81, 0x0A, 0, 0, 1).unwrap(),
        vec![0],
        "GET_INTERFACE"
    );
    assert_eq!(
        host.control_out(STANDARD_OUT, request::SET_CONFIGURATION, 2, 0, &[]),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_out(STANDARD_OUT_INTERFACE, request::SET_INTERFACE, 1, 0, &[]),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_out(STANDARD_OUT_INTERFACE, request::SET_INTERFACE, 0, 1, &[]),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_out(STANDARD_OUT, request::SET_ADDRESS, 200, 0, &[]),
        Err(TransferError::Stall)
    );
    assert_eq!(host.bulk_in(512), InPoll::Pending);
    host.control_out(STANDARD_OUT, request::SET_CONFIGURATION, 0, 0, &[])
        .unwrap();
    assert_eq!(
        host.bulk_in(512),
        InPoll::Failed(TransferError::NoEndpoint),
        "deconfigured"
    );
}

#[test]
fn endpoint_halt_and_get_status() {
    let host = Host::new(Config::default());
    host.enumerate();
    for ep in [EP_STATUS_IN, EP_BULK_IN, EP_BULK_OUT] {
        let status = |h: &Host| {
            h.control_in(
                STANDARD_IN_ENDPOINT,
                request::GET_STATUS,
                0,
                u16::from(ep),
                2,
            )
            .unwrap()
        };
        assert_eq!(status(&host), vec![0, 0]);
        host.control_out(STANDARD_OUT_ENDPOINT, 0x03, 0, u16::from(ep), &[])
            .unwrap(); // SET_FEATURE(HALT)
        assert_eq!(status(&host), vec![1, 0]);
        host.control_out(
            STANDARD_OUT_ENDPOINT,
            request::CLEAR_FEATURE,
            0,
            u16::from(ep),
            &[],
        )
        .unwrap();
        assert_eq!(status(&host), vec![0, 0]);
    }
    assert_eq!(
        host.control_in(STANDARD_IN_ENDPOINT, request::GET_STATUS, 0, 0x84, 2),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_out(STANDARD_OUT_ENDPOINT, request::CLEAR_FEATURE, 0, 0x05, &[]),
        Err(TransferError::Stall)
    );
}

#[test]
fn remote_wakeup_feature() {
    let host = Host::new(Config::default());
    host.enumerate();
    assert_eq!(
        host.control_in(STANDARD_IN, request::GET_STATUS, 0, 0, 2)
            .unwrap(),
        vec![0, 0]
    );
    host.control_out(STANDARD_OUT, 0x03, 1, 0, &[]).unwrap();
    assert!(host.dev.remote_wakeup_enabled());
    assert_eq!(
        host.control_in(STANDARD_IN, request::GET_STATUS, 0, 0, 2)
            .unwrap(),
        vec![2, 0]
    );
    host.control_out(STANDARD_OUT, request::CLEAR_FEATURE, 1, 0, &[])
        .unwrap();
    assert!(!host.dev.remote_wakeup_enabled());
}

#[test]
fn unknown_requests_and_endpoints_stall_or_fail() {
    let host = Host::new(Config::default());
    host.enumerate();
    assert_eq!(
        host.control_in(STANDARD_IN, 0x33, 0, 0, 4),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_in(0xA1, 0x01, 0, 0, 4),
        Err(TransferError::Stall),
        "class request"
    );
    assert_eq!(
        host.control_in(0xE0, 0x01, 0, 0, 4),
        Err(TransferError::Stall),
        "reserved type"
    );
    assert_eq!(
        host.dev.transfer_out(0x05, &[1, 2, 3]),
        Err(TransferError::NoEndpoint)
    );
    assert_eq!(
        host.dev.transfer_out(EP_BULK_IN, &[1]),
        Err(TransferError::NoEndpoint)
    );
    let mut buf = [0; 64];
    assert_eq!(
        host.dev.transfer_in(0x83, &mut buf),
        InPoll::Failed(TransferError::NoEndpoint)
    );
    assert_eq!(
        host.dev.transfer_in(EP_BULK_OUT, &mut buf),
        InPoll::Failed(TransferError::NoEndpoint)
    );
    let stats = host.dev.stats();
    assert!(stats.control_stalls >= 3);
    assert!(stats.control_requests > stats.control_stalls);
}
