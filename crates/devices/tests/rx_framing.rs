//! Bulk-IN framing (device-facts.md §2.7) checked with a Linux-like parser,
//! and the receive filter (§2.5.1).

mod common;

use common::*;
use devices::ax88772::{Config, RxPacking, cmd, ether_crc, multicast_hash_index, rx_ctl};
use usb::device::InPoll;

fn opened(packing: RxPacking) -> Host {
    Host::opened(Config {
        rx_packing: packing,
        ..Config::default()
    })
}

/// Feed frames of the given lengths, a FIFO-full at a time, and check they
/// come back byte for byte through `transfer_len`-byte transfers.
fn round_trip(
    host: &Host,
    lengths: impl IntoIterator<Item = usize>,
    transfer_len: usize,
) -> RxParser {
    let me = node_id(host);
    let mut parser = RxParser::default();
    let mut sent = Vec::new();
    let mut received = Vec::new();
    let mut queued = 0;
    for (i, len) in lengths.into_iter().enumerate() {
        if queued + len + 6 > 16 * 1024 {
            for transfer in host.drain_bulk_in(transfer_len) {
                assert!(transfer.len() <= transfer_len);
                parser.feed(&transfer);
            }
            received.append(&mut parser.frames);
            queued = 0;
        }
        let frame = test_frame(me, len, i as u32);
        host.arrive_from_wire(&frame);
        sent.push(frame);
        queued += len + 6;
    }
    for transfer in host.drain_bulk_in(transfer_len) {
        parser.feed(&transfer);
    }
    received.append(&mut parser.frames);
    assert_eq!(parser.errors, 0);
    assert_eq!(received.len(), sent.len());
    for (got, want) in received.iter().zip(&sent) {
        assert_eq!(got, want, "frame of {} bytes", want.len());
    }
    parser
}

#[test]
fn every_length_from_60_to_1514_round_trips_in_whole_frames() {
    let host = opened(RxPacking::WholeFrames);
    round_trip(&host, 60..=1514, RX_URB_SIZE);
    let stats = host.dev.stats();
    assert_eq!(stats.rx_frames, 1455);
    assert_eq!(stats.rx_fifo_frames, 0);
}

#[test]
fn several_frames_per_transfer_at_even_offsets() {
    let host = opened(RxPacking::WholeFrames);
    let me = node_id(&host);
    let frames: Vec<Vec<u8>> = [61, 100, 63]
        .iter()
        .enumerate()
        .map(|(i, &len)| test_frame(me, len, i as u32))
        .collect();
    for frame in &frames {
        host.arrive_from_wire(frame);
    }
    let transfers = host.drain_bulk_in(RX_URB_SIZE);
    assert_eq!(transfers.len(), 1);
    let t = &transfers[0];
    let mut offset = 0;
    for frame in &frames {
        let len = frame.len() as u32;
        assert_eq!(offset % 2, 0);
        assert_eq!(
            &t[offset..offset + 4],
            &(len | (!len & 0xFFFF) << 16).to_le_bytes()
        );
        assert_eq!(&t[offset + 4..offset + 4 + frame.len()], frame.as_slice());
        offset += 4 + frame.len();
        if frame.len() % 2 == 1 {
            assert_eq!(t[offset], 0, "pad byte");
            offset += 1;
        }
    }
    assert_eq!(offset, t.len(), "the transfer ends at a frame boundary");
}

#[test]
fn whole_frames_never_split_a_frame_that_fits() {
    let host = opened(RxPacking::WholeFrames);
    let me = node_id(&host);
    for i in 0..10 {
        host.arrive_from_wire(&test_frame(me, 1000, i));
    }
    let transfers = host.drain_bulk_in(RX_URB_SIZE);
    assert_eq!(
        transfers.len(),
        5,
        "two 1004-byte frames per 2048-byte transfer"
    );
    assert!(transfers.iter().all(|t| t.len() == 2008));
}

#[test]
fn single_frame_packing_sends_one_frame_per_transfer() {
    let host = opened(RxPacking::SingleFrame);
    round_trip(&host, [60, 61, 62, 1514], RX_URB_SIZE);
    assert_eq!(host.dev.stats().bulk_in_transfers, 4);
}

#[test]
fn stream_packing_fills_every_transfer_and_splits_frames() {
    let host = opened(RxPacking::Stream);
    let me = node_id(&host);
    for i in 0..10 {
        host.arrive_from_wire(&test_frame(me, 1001, i));
    }
    let transfers = host.drain_bulk_in(RX_URB_SIZE);
    let total: usize = transfers.iter().map(Vec::len).sum();
    assert_eq!(total, 10 * 1006);
    assert!(
        transfers[..transfers.len() - 1]
            .iter()
            .all(|t| t.len() == RX_URB_SIZE)
    );
    round_trip(&host, (60..=1514).step_by(7), RX_URB_SIZE);
}

#[test]
fn headers_split_two_plus_two_across_transfers() {
    // 1024 + 1022 bytes framed leave 2 bytes of the third header in the
    // first 2048-byte transfer.
    let host = opened(RxPacking::Stream);
    let me = node_id(&host);
    let frames: Vec<Vec<u8>> = [1020, 1018, 61]
        .iter()
        .enumerate()
        .map(|(i, &len)| test_frame(me, len, i as u32))
        .collect();
    for frame in &frames {
        host.arrive_from_wire(frame);
    }
    let transfers = host.drain_bulk_in(RX_URB_SIZE);
    assert_eq!(transfers.len(), 2);
    assert_eq!(&transfers[0][2046..], &[61, 0], "low half of the header");
    assert_eq!(&transfers[1][..2], &[0xC2, 0xFF], "high half: !61");
    let mut parser = RxParser::default();
    for transfer in &transfers {
        assert!(parser.feed(transfer));
    }
    assert_eq!(parser.frames, frames);
}

#[test]
fn chunked_two_cuts_every_header_in_half() {
    // Finer than any real transfer: each 2-byte transfer is a header half
    // or frame data. (Linux's parser cannot follow a transfer that only
    // completes a header, so this checks the bytes directly.)
    let host = opened(RxPacking::Chunked(2));
    let me = node_id(&host);
    let frame = test_frame(me, 61, 3);
    host.arrive_from_wire(&frame);
    let transfers = host.drain_bulk_in(RX_URB_SIZE);
    assert_eq!(transfers.len(), 33, "(4 + 61 + 1) / 2");
    assert_eq!(transfers[0], vec![61, 0]);
    assert_eq!(transfers[1], vec![0xC2, 0xFF]);
    assert_eq!(transfers[2..].concat()[..61], frame[..]);
}

#[test]
fn splits_at_many_even_chunk_sizes_round_trip() {
    for chunk in [4, 6, 10, 62, 64, 510, 512, 1000, 1518, 2046] {
        let host = opened(RxPacking::Chunked(chunk));
        round_trip(&host, (60..=1514).step_by(37), RX_URB_SIZE);
    }
}

#[test]
fn a_frame_larger_than_the_buffer_is_split_even_in_whole_frame_mode() {
    let host = opened(RxPacking::WholeFrames);
    round_trip(&host, [1514, 60, 1513], 512);
}

#[test]
fn mfb_limits_the_burst() {
    let host = opened(RxPacking::Stream);
    let me = node_id(&host);
    for i in 0..8 {
        host.arrive_from_wire(&test_frame(me, 1500, i));
    }
    let first = host.drain_bulk_in(16 * 1024);
    assert_eq!(first[0].len(), 2048, "MFB 0: 2 KiB");
    host.vendor_write(cmd::WRITE_RX_CTL, RX_CTL_DEFAULT | 0x0100, 0, &[])
        .unwrap();
    for i in 0..8 {
        host.arrive_from_wire(&test_frame(me, 1500, i));
    }
    assert_eq!(host.drain_bulk_in(16 * 1024)[0].len(), 4096, "MFB 1: 4 KiB");
}

#[test]
fn arrival_notifies_the_bulk_in_endpoint() {
    let host = opened(RxPacking::WholeFrames);
    host.take_notifications();
    assert_eq!(host.bulk_in(RX_URB_SIZE), InPoll::Pending);
    host.arrive_from_wire(&test_frame(BROADCAST, 60, 0));
    assert_eq!(host.take_notifications(), vec![0x82]);
    assert!(matches!(host.bulk_in(RX_URB_SIZE), InPoll::Ready(64)));
}

#[test]
fn short_frames_are_padded_runts_and_giants_dropped() {
    let host = opened(RxPacking::WholeFrames);
    let me = node_id(&host);
    let short = test_frame(me, 42, 1);
    host.arrive_from_wire(&short);
    host.arrive_from_wire(&test_frame(me, 13, 2));
    host.arrive_from_wire(&test_frame(me, 1519, 3));
    host.arrive_from_wire(&test_frame(me, 1518, 4)); // VLAN-tagged maximum
    let mut parser = RxParser::default();
    let frames = host.receive_all(&mut parser);
    let mut padded = short.clone();
    padded.resize(60, 0);
    assert_eq!(frames, vec![padded, test_frame(me, 1518, 4)]);
    let drops = host.dev.stats().rx_dropped;
    assert_eq!((drops.runt, drops.too_long), (1, 1));
}

#[test]
fn fifo_overflow_drops_and_counts() {
    let host = opened(RxPacking::WholeFrames);
    let me = node_id(&host);
    for i in 0..20 {
        host.arrive_from_wire(&test_frame(me, 1514, i));
    }
    let stats = host.dev.stats();
    assert_eq!(
        stats.rx_frames, 10,
        "16 KiB holds ten 1518-byte framed frames"
    );
    assert_eq!(stats.rx_dropped.fifo_full, 10);
    assert_eq!(stats.rx_fifo_bytes, 10 * 1518);
    let mut parser = RxParser::default();
    let frames = host.receive_all(&mut parser);
    assert_eq!(
        frames,
        (0..10).map(|i| test_frame(me, 1514, i)).collect::<Vec<_>>()
    );
    let small = Host::opened(Config {
        rx_fifo_bytes: 200,
        ..Config::default()
    });
    small.arrive_from_wire(&test_frame(BROADCAST, 150, 0));
    small.arrive_from_wire(&test_frame(BROADCAST, 60, 0));
    assert_eq!(small.dev.stats().rx_dropped.fifo_full, 1);
}

// ---- filtering -------------------------------------------------------------

/// Linux's ether_crc, computed another way: the reflected CRC-32 register
/// (polynomial 0xEDB88320, no final inversion), bit-reversed.
fn reference_ether_crc(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc.reverse_bits()
}

#[test]
fn ether_crc_matches_the_crc32_check_value() {
    // CRC-32 of "123456789" is 0xCBF43926 after the final inversion.
    assert_eq!(ether_crc(b"123456789"), (!0xCBF4_3926u32).reverse_bits());
    let address = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
    assert_eq!(ether_crc(&address), reference_ether_crc(&address));
    assert_eq!(
        u32::from(multicast_hash_index(&address)),
        reference_ether_crc(&address) >> 26
    );
}

fn set_rx_ctl(host: &Host, value: u16) {
    host.vendor_write(cmd::WRITE_RX_CTL, value, 0, &[]).unwrap();
}

/// Which of these destinations get through.
fn received(host: &Host, destinations: &[[u8; 6]]) -> Vec<bool> {
    let mut parser = RxParser::default();
    host.receive_all(&mut parser);
    let got: Vec<bool> = destinations
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            host.arrive_from_wire(&test_frame(d, 64, i as u32));
            host.receive_all(&mut parser).len() == 1
        })
        .collect();
    got
}

#[test]
fn default_rx_ctl_takes_broadcast_and_our_unicast() {
    let host = opened(RxPacking::WholeFrames);
    let me = node_id(&host);
    let other = [0x02, 0, 0, 0, 0, 0x99];
    let group = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01];
    assert_eq!(
        received(&host, &[BROADCAST, me, other, group]),
        [true, true, false, false]
    );
    assert_eq!(host.dev.stats().rx_dropped.filtered, 2);
}

#[test]
fn multicast_hash_filter_amall_and_promiscuous() {
    let host = opened(RxPacking::WholeFrames);
    let me = node_id(&host);
    let wanted = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
    let unwanted = (0u8..=255)
        .map(|b| [0x01, 0x00, 0x5E, 0x00, 0x01, b])
        .find(|a| reference_ether_crc(a) >> 26 != reference_ether_crc(&wanted) >> 26)
        .unwrap();
    let other = [0x02, 0, 0, 0, 0, 0x99];
    // As asix_set_multicast: the hash, then AM.
    let index = reference_ether_crc(&wanted) >> 26;
    let mut hash = [0u8; 8];
    hash[(index / 8) as usize] |= 1 << (index % 8);
    host.vendor_write(cmd::WRITE_MULTI_FILTER, 0, 0, &hash)
        .unwrap();
    set_rx_ctl(&host, RX_CTL_DEFAULT | rx_ctl::AM);
    assert_eq!(
        received(&host, &[wanted, unwanted, me, other]),
        [true, false, true, false]
    );
    set_rx_ctl(&host, RX_CTL_DEFAULT | rx_ctl::AMALL);
    assert_eq!(
        received(&host, &[wanted, unwanted, me, other]),
        [true, true, true, false]
    );
    set_rx_ctl(&host, RX_CTL_DEFAULT | rx_ctl::PRO);
    assert_eq!(
        received(&host, &[wanted, unwanted, me, other, BROADCAST]),
        [true; 5]
    );
    set_rx_ctl(&host, rx_ctl::SO);
    assert_eq!(received(&host, &[BROADCAST, me]), [false, true], "AB clear");
}

#[test]
fn receiver_needs_so_and_re_and_link() {
    let host = opened(RxPacking::WholeFrames);
    set_rx_ctl(&host, RX_CTL_DEFAULT & !rx_ctl::SO);
    assert_eq!(received(&host, &[BROADCAST]), [false]);
    set_rx_ctl(&host, RX_CTL_DEFAULT);
    host.vendor_write(cmd::WRITE_MEDIUM_MODE, 0, 0, &[])
        .unwrap(); // phylink link-down
    assert_eq!(received(&host, &[BROADCAST]), [false]);
    assert_eq!(host.dev.stats().rx_dropped.receiver_off, 2);
    host.vendor_write(cmd::WRITE_MEDIUM_MODE, 0x0306, 0, &[])
        .unwrap();
    assert_eq!(received(&host, &[BROADCAST]), [true]);
    host.dev.set_carrier(false);
    assert_eq!(received(&host, &[BROADCAST]), [false]);
    assert_eq!(host.dev.stats().rx_dropped.no_link, 1);
}
