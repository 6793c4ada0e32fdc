//! Fault injection: drops, corruption, holds, stalls and RX header damage,
//! all deterministic for a given seed.

mod common;

use common::*;
use devices::ax88772::{
    Config, EP_BULK_IN, EP_BULK_OUT, EP_STATUS_IN, Faults, FrameFaults, RxHold, RxPacking,
    XorShift64,
};
use usb::device::{InPoll, TransferError, UsbDevice, request};

fn with_faults(faults: Faults) -> Host {
    let host = Host::opened(Config::default());
    host.dev.set_faults(faults);
    host
}

fn frames(host: &Host, n: u32, len: usize) -> Vec<Vec<u8>> {
    let me = node_id(host);
    (0..n).map(|i| test_frame(me, len, i)).collect()
}

fn deliver(host: &Host, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut parser = RxParser::default();
    let mut got = Vec::new();
    for frame in frames {
        host.arrive_from_wire(frame);
        got.extend(host.receive_all(&mut parser));
    }
    got
}

#[test]
fn drop_the_next_n_received_frames() {
    let host = with_faults(Faults {
        rx: FrameFaults {
            drop_next: 2,
            ..Default::default()
        },
        ..Default::default()
    });
    let sent = frames(&host, 5, 100);
    assert_eq!(deliver(&host, &sent), sent[2..]);
    assert_eq!(host.dev.stats().rx_dropped.fault, 2);
    assert_eq!(host.dev.faults().rx.drop_next, 0, "used up");
}

#[test]
fn drop_a_fraction_of_received_frames_deterministically() {
    let run = |seed| {
        let host = with_faults(Faults {
            seed,
            rx: FrameFaults {
                drop_fraction: 0.3,
                ..Default::default()
            },
            ..Default::default()
        });
        let sent = frames(&host, 400, 64);
        deliver(&host, &sent)
    };
    let first = run(42);
    assert_eq!(first, run(42), "same seed, same losses");
    assert_ne!(first, run(43));
    let kept = first.len();
    assert!((220..=340).contains(&kept), "about 70% kept, got {kept}");
}

#[test]
fn drop_transmitted_frames() {
    let host = with_faults(Faults {
        tx: FrameFaults {
            drop_next: 1,
            drop_fraction: 0.5,
            ..Default::default()
        },
        ..Default::default()
    });
    let sent: Vec<Vec<u8>> = (0..200).map(|i| test_frame(BROADCAST, 80, i)).collect();
    for frame in &sent {
        host.transmit(frame).unwrap();
    }
    let on_wire = host.wire.take();
    let stats = host.dev.stats();
    assert_eq!(on_wire.len() as u64 + stats.tx_dropped.fault, 200);
    assert!((60..=140).contains(&on_wire.len()));
    assert!(!on_wire.contains(&sent[0]), "the first is always dropped");
    assert_eq!(stats.tx_frames, on_wire.len() as u64);
}

fn differing_bytes(a: &[u8], b: &[u8]) -> Vec<(u8, u8)> {
    a.iter()
        .zip(b)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect()
}

#[test]
fn corrupt_received_and_transmitted_frames_flip_one_byte() {
    let host = with_faults(Faults {
        rx: FrameFaults {
            corrupt_next: 1,
            ..Default::default()
        },
        tx: FrameFaults {
            corrupt_next: 1,
            ..Default::default()
        },
        ..Default::default()
    });
    let sent = frames(&host, 2, 200);
    let got = deliver(&host, &sent);
    let diff = differing_bytes(&got[0], &sent[0]);
    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].0 ^ diff[0].1, 0xFF);
    assert_eq!(got[1], sent[1]);
    host.transmit(&sent[0]).unwrap();
    host.transmit(&sent[1]).unwrap();
    let on_wire = host.wire.take();
    assert_eq!(differing_bytes(&on_wire[0], &sent[0]).len(), 1);
    assert_eq!(on_wire[1], sent[1]);
    let stats = host.dev.stats();
    assert_eq!((stats.rx_corrupted, stats.tx_corrupted), (1, 1));
}

#[test]
fn hold_received_frames_until_released() {
    let host = with_faults(Faults {
        rx_hold: RxHold::UntilReleased,
        ..Default::default()
    });
    let sent = frames(&host, 3, 100);
    for frame in &sent {
        host.arrive_from_wire(frame);
    }
    for _ in 0..5 {
        assert_eq!(host.bulk_in(RX_URB_SIZE), InPoll::Pending);
    }
    host.take_notifications();
    host.dev.release_rx();
    assert_eq!(host.take_notifications(), vec![EP_BULK_IN]);
    let mut parser = RxParser::default();
    assert_eq!(host.receive_all(&mut parser), sent);
}

#[test]
fn hold_received_frames_for_some_polls() {
    let host = with_faults(Faults {
        rx_hold: RxHold::Polls(3),
        ..Default::default()
    });
    let sent = frames(&host, 1, 100);
    assert_eq!(
        host.bulk_in(RX_URB_SIZE),
        InPoll::Pending,
        "nothing to hold yet"
    );
    host.arrive_from_wire(&sent[0]);
    host.take_notifications();
    for _ in 0..3 {
        assert_eq!(host.bulk_in(RX_URB_SIZE), InPoll::Pending);
        assert_eq!(
            host.take_notifications(),
            vec![EP_BULK_IN],
            "re-notified so the host polls again"
        );
    }
    assert_eq!(host.bulk_in(RX_URB_SIZE), InPoll::Ready(104));
    assert_eq!(host.dev.faults().rx_hold, RxHold::None);
}

#[test]
fn stalled_endpoints_stay_stalled_until_clear_feature() {
    let host = Host::opened(Config::default());
    assert!(!host.dev.halt_endpoint(0x05));
    for ep in [EP_STATUS_IN, EP_BULK_IN, EP_BULK_OUT] {
        assert!(host.dev.halt_endpoint(ep));
        let status = host
            .control_in(
                STANDARD_IN_ENDPOINT,
                request::GET_STATUS,
                0,
                u16::from(ep),
                2,
            )
            .unwrap();
        assert_eq!(status, vec![1, 0], "GET_STATUS shows the halt");
        for _ in 0..2 {
            let result = if ep == EP_BULK_OUT {
                host.transmit(&test_frame(BROADCAST, 60, 0)).err()
            } else {
                let mut buf = [0; 2048];
                match host.dev.transfer_in(ep, &mut buf) {
                    InPoll::Failed(e) => Some(e),
                    _ => None,
                }
            };
            assert_eq!(result, Some(TransferError::Stall));
        }
        host.control_out(
            STANDARD_OUT_ENDPOINT,
            request::CLEAR_FEATURE,
            0,
            u16::from(ep),
            &[],
        )
        .unwrap();
    }
    host.transmit(&test_frame(BROADCAST, 60, 0)).unwrap();
    assert_eq!(host.wire.take().len(), 1);
    assert_eq!(host.status_link(), Some(true));
}

#[test]
fn a_corrupt_rx_header_makes_the_driver_resync_at_the_next_transfer() {
    let host = Host::opened(Config::default());
    let sent = frames(&host, 3, 300);
    host.dev.set_faults(Faults {
        corrupt_next_rx_headers: 1,
        ..Default::default()
    });
    for frame in &sent {
        host.arrive_from_wire(frame);
    }
    let transfers = host.drain_bulk_in(RX_URB_SIZE);
    assert_eq!(transfers.len(), 2, "the damaged frame ends its transfer");
    let mut parser = RxParser::default();
    assert!(!parser.feed(&transfers[0]));
    assert!(parser.feed(&transfers[1]));
    assert_eq!(parser.frames, sent[1..]);
    assert_eq!(host.dev.stats().rx_headers_corrupted, 1);
}

#[test]
fn resync_after_a_corrupt_header_on_a_split_stream() {
    let host = Host::opened(Config {
        rx_packing: RxPacking::Chunked(512),
        ..Config::default()
    });
    let sent = frames(&host, 4, 1514);
    host.dev.set_faults(Faults {
        corrupt_next_rx_headers: 1,
        ..Default::default()
    });
    let mut parser = RxParser::default();
    for frame in &sent {
        host.arrive_from_wire(frame);
    }
    let got = host.receive_all(&mut parser);
    assert_eq!(got, sent[1..], "every later frame survives");
    assert_eq!(
        parser.errors, 3,
        "the damaged frame's three transfers are dropped"
    );
}

#[test]
fn xorshift_is_deterministic_and_spread() {
    let mut a = XorShift64::new(7);
    let mut b = XorShift64::new(7);
    let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
    assert_eq!(xs, (0..100).map(|_| b.next_u64()).collect::<Vec<_>>());
    let mut zero = XorShift64::new(0);
    assert_ne!(zero.next_u64(), 0);
    let hits = (0..10_000).filter(|_| a.chance(0.25)).count();
    assert!((2200..=2800).contains(&hits));
    assert!((0..1000).all(|_| a.below(10) < 10));
    assert_eq!(a.below(0), 0);
}
