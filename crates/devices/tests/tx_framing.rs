//! Bulk-OUT framing (device-facts.md §2.8): Linux's encoding at every
//! length, the zero-length-packet trailer, several frames per transfer and
//! malformed headers.

mod common;

use common::*;
use devices::ax88772::{Config, EP_BULK_OUT};
use usb::device::{TransferError, UsbDevice};

fn header(len: u16) -> [u8; 4] {
    (u32::from(len) | u32::from(len ^ 0xFFFF) << 16).to_le_bytes()
}

#[test]
fn every_length_from_60_to_1514_reaches_the_wire_intact() {
    let host = Host::opened(Config::default());
    let frames: Vec<Vec<u8>> = (60..=1514)
        .map(|len| test_frame(BROADCAST, len, len as u32))
        .collect();
    for frame in &frames {
        host.transmit(frame).unwrap();
    }
    assert_eq!(host.wire.take(), frames);
    let stats = host.dev.stats();
    assert_eq!(stats.tx_frames, frames.len() as u64);
    assert_eq!(stats.tx_framing_errors, 0);
    assert_eq!(stats.tx_padding_headers, 2, "lengths 508 and 1020");
}

#[test]
fn the_zlp_trailer_is_discarded_wherever_len_plus_4_is_a_multiple_of_512() {
    let host = Host::opened(Config::default());
    let lengths: Vec<usize> = (60..=1518).filter(|len| (len + 4) % 512 == 0).collect();
    assert_eq!(lengths, vec![508, 1020], "1532 is beyond the largest frame");
    for len in lengths {
        let frame = test_frame(BROADCAST, len, 7);
        let transfer = linux_tx(&frame, 512);
        assert_eq!(transfer.len(), len + 8);
        assert_eq!(&transfer[len + 4..], &[0x00, 0x00, 0xFF, 0xFF]);
        host.dev.transfer_out(EP_BULK_OUT, &transfer).unwrap();
        assert_eq!(host.wire.take(), vec![frame]);
    }
    // The same trailer with a 64-byte max packet (full speed): 60 + 4 = 64.
    let frame = test_frame(BROADCAST, 60, 1);
    host.dev
        .transfer_out(EP_BULK_OUT, &linux_tx(&frame, 64))
        .unwrap();
    assert_eq!(host.wire.take(), vec![frame]);
    assert_eq!(host.dev.stats().tx_framing_errors, 0);
}

#[test]
fn several_frames_per_transfer_back_to_back() {
    let host = Host::opened(Config::default());
    let frames: Vec<Vec<u8>> = [61, 508, 1514, 60]
        .iter()
        .map(|&len| test_frame(BROADCAST, len, len as u32))
        .collect();
    let mut transfer = Vec::new();
    for frame in &frames {
        transfer.extend_from_slice(&header(frame.len() as u16));
        transfer.extend_from_slice(frame);
        transfer.extend_from_slice(&header(0)); // FreeBSD-style padding anywhere
    }
    host.dev.transfer_out(EP_BULK_OUT, &transfer).unwrap();
    assert_eq!(host.wire.take(), frames);
    assert_eq!(host.dev.stats().tx_padding_headers, 4);
}

#[test]
fn short_frames_are_padded_to_60_bytes() {
    let host = Host::opened(Config::default());
    let frame = test_frame(BROADCAST, 42, 1);
    host.transmit(&frame).unwrap();
    let mut padded = frame;
    padded.resize(60, 0);
    assert_eq!(host.wire.take(), vec![padded]);
}

#[test]
fn malformed_headers_are_rejected_after_the_good_frames() {
    let host = Host::opened(Config::default());
    let good = test_frame(BROADCAST, 100, 1);
    let good_part = linux_tx(&good, 512);
    // (bad bytes, whether a good frame may follow them in the transfer)
    let bad_transfers: Vec<(Vec<u8>, bool)> = vec![
        (vec![100, 0, 0x9C, 0xFF], true), // complement off by one (!100 = 0xFF9B)
        (header(100)[..3].to_vec(), false), // torn header at the end
        ([&header(100)[..], &[0u8; 99][..]].concat(), false), // frame cut short by the end
        ([&header(1519)[..], &[0u8; 1519][..]].concat(), true), // longer than any frame
        (vec![0xFF; 8], true),            // garbage
    ];
    for (i, (bad, then_good)) in bad_transfers.iter().enumerate() {
        let tail: &[u8] = if *then_good { &good_part } else { &[] };
        let transfer = [&good_part[..], &bad[..], tail].concat();
        assert_eq!(
            host.dev.transfer_out(EP_BULK_OUT, &transfer),
            Ok(()),
            "case {i}"
        );
        assert_eq!(
            host.wire.take(),
            vec![good.clone()],
            "case {i}: only the frame before the error"
        );
        assert_eq!(host.dev.stats().tx_framing_errors, i as u64 + 1);
    }
    host.dev.transfer_out(EP_BULK_OUT, &[]).unwrap();
    assert_eq!(
        host.dev.stats().tx_framing_errors,
        5,
        "an empty transfer is no error"
    );
}

#[test]
fn frames_vanish_without_a_wire_or_a_link() {
    let host = Host::opened(Config::default());
    host.dev.detach_wire();
    host.transmit(&test_frame(BROADCAST, 60, 0)).unwrap();
    assert_eq!(host.dev.stats().tx_dropped.no_wire, 1);
    host.dev.attach_wire(host.wire.clone());
    host.dev.set_carrier(false);
    host.transmit(&test_frame(BROADCAST, 60, 0)).unwrap();
    assert_eq!(host.dev.stats().tx_dropped.no_link, 1);
    assert!(host.wire.take().is_empty());
    assert_eq!(host.dev.stats().tx_frames, 0);
}

#[test]
fn bulk_out_before_configuration_has_no_endpoint() {
    let host = Host::new(Config::default());
    assert_eq!(
        host.transmit(&test_frame(BROADCAST, 60, 0)),
        Err(TransferError::NoEndpoint)
    );
}

#[test]
fn two_models_on_a_wire_talk_to_each_other() {
    let a = Host::opened(Config::default());
    let b = Host::opened(Config {
        mac: [0x02, 0, 0, 0, 0, 0xBB],
        ..Config::default()
    });
    a.dev.attach_wire(b.dev.clone());
    let frame = test_frame([0x02, 0, 0, 0, 0, 0xBB], 300, 5);
    a.transmit(&frame).unwrap();
    let mut parser = RxParser::default();
    assert_eq!(b.receive_all(&mut parser), vec![frame]);
}
