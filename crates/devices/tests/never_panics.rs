//! Property tests: no sequence of host requests, OUT bytes, wire frames or
//! faults panics the model, and what it answers stays within bounds; and
//! random traffic round-trips through every realistic RX packing.

mod common;

use std::time::Duration;

use common::*;
use devices::ax88772::{
    Config, Faults, FrameFaults, InterruptMode, MAX_FRAME_LEN, RxHold, RxPacking,
};
use proptest::prelude::*;
use usb::device::{InPoll, SetupPacket, UsbDevice};

#[derive(Clone, Debug)]
enum Op {
    Control { setup: SetupPacket, data: Vec<u8> },
    Out { endpoint: u8, data: Vec<u8> },
    In { endpoint: u8, len: usize },
    Wire(Vec<u8>),
    Carrier(bool),
    Suspend,
    Resume,
    Advance(u64),
    Faults(Faults),
    Packing(RxPacking),
    Halt(u8),
    Interrupt(bool),
}

fn endpoint() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0x81u8),
        Just(0x82),
        Just(0x03),
        Just(0x00),
        any::<u8>()
    ]
}

fn setup() -> impl Strategy<Value = SetupPacket> {
    let request_type = prop_oneof![
        Just(0x40u8),
        Just(0xC0),
        Just(0x00),
        Just(0x80),
        Just(0x01),
        Just(0x02),
        Just(0x82),
        any::<u8>()
    ];
    let request = prop_oneof![0x00u8..=0x2F, any::<u8>()];
    let value = prop_oneof![
        0u16..0x40,
        Just(0x0100),
        Just(0x0200),
        Just(0x0300),
        any::<u16>()
    ];
    (
        request_type,
        request,
        value,
        prop_oneof![0u16..0x90, any::<u16>()],
        prop_oneof![0u16..=16, any::<u16>()],
    )
        .prop_map(
            |(request_type, request, value, index, length)| SetupPacket {
                request_type,
                request,
                value,
                index,
                length,
            },
        )
}

/// OUT data: random bytes, or plausible TX framing with random damage.
fn out_data() -> impl Strategy<Value = Vec<u8>> {
    let framed = (
        prop::collection::vec(any::<u8>(), 0..1600),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(|(frame, noise, damage)| {
            let mut data = linux_tx(&frame, 512);
            if damage && !data.is_empty() {
                let i = usize::from(noise) % data.len();
                data[i] ^= 0x5A;
            }
            data
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..2100), framed]
}

/// Frames from the wire: random, or addressed so the filter lets them in.
fn wire_frame() -> impl Strategy<Value = Vec<u8>> {
    let destination = prop_oneof![
        Just(BROADCAST),
        Just(devices::ax88772::DEFAULT_MAC),
        any::<[u8; 6]>()
    ];
    (destination, prop::collection::vec(any::<u8>(), 0..1600)).prop_map(
        |(destination, mut body)| {
            let n = body.len().min(6);
            body[..n].copy_from_slice(&destination[..n]);
            body
        },
    )
}

fn faults() -> impl Strategy<Value = Faults> {
    let frame_faults = (0u32..3, 0.0f64..1.0, 0u32..3, 0.0f64..1.0).prop_map(
        |(drop_next, drop_fraction, corrupt_next, corrupt_fraction)| FrameFaults {
            drop_next,
            drop_fraction,
            corrupt_next,
            corrupt_fraction,
        },
    );
    let hold = prop_oneof![
        Just(RxHold::None),
        Just(RxHold::UntilReleased),
        (0u32..4).prop_map(RxHold::Polls)
    ];
    (
        any::<u64>(),
        frame_faults.clone(),
        frame_faults,
        hold,
        0u32..3,
    )
        .prop_map(|(seed, rx, tx, rx_hold, corrupt_next_rx_headers)| Faults {
            seed,
            rx,
            tx,
            rx_hold,
            corrupt_next_rx_headers,
        })
}

fn packing() -> impl Strategy<Value = RxPacking> {
    prop_oneof![
        Just(RxPacking::WholeFrames),
        Just(RxPacking::SingleFrame),
        Just(RxPacking::Stream),
        (0usize..3000).prop_map(RxPacking::Chunked),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (setup(), prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(setup, data)| Op::Control { setup, data }),
        3 => (endpoint(), out_data()).prop_map(|(endpoint, data)| Op::Out { endpoint, data }),
        3 => (endpoint(), prop_oneof![0usize..16, 0usize..5000]).prop_map(|(endpoint, len)| Op::In { endpoint, len }),
        3 => wire_frame().prop_map(Op::Wire),
        1 => any::<bool>().prop_map(Op::Carrier),
        1 => Just(Op::Suspend),
        1 => Just(Op::Resume),
        1 => (0u64..3000).prop_map(Op::Advance),
        1 => faults().prop_map(Op::Faults),
        1 => packing().prop_map(Op::Packing),
        1 => endpoint().prop_map(Op::Halt),
        1 => any::<bool>().prop_map(Op::Interrupt),
    ]
}

fn apply(host: &Host, op: Op) {
    match op {
        Op::Control { setup, data } => {
            if let Ok(answer) = host.dev.control(setup, &data) {
                if setup.is_in() {
                    assert!(answer.len() <= usize::from(setup.length));
                } else {
                    assert!(answer.is_empty());
                }
            }
        }
        Op::Out { endpoint, data } => {
            let _ = host.dev.transfer_out(endpoint, &data);
        }
        Op::In { endpoint, len } => {
            let mut buf = vec![0; len];
            if let InPoll::Ready(n) = host.dev.transfer_in(endpoint, &mut buf) {
                assert!(n <= len);
            }
        }
        Op::Wire(frame) => host.arrive_from_wire(&frame),
        Op::Carrier(on) => host.dev.set_carrier(on),
        Op::Suspend => host.dev.suspend(),
        Op::Resume => host.dev.resume(),
        Op::Advance(ms) => {
            host.clock.advance(Duration::from_millis(ms));
            host.dev.tick();
        }
        Op::Faults(faults) => host.dev.set_faults(faults),
        Op::Packing(packing) => host.dev.set_rx_packing(packing),
        Op::Halt(endpoint) => {
            host.dev.halt_endpoint(endpoint);
        }
        Op::Interrupt(every) => host.dev.set_interrupt_mode(if every {
            InterruptMode::EveryPoll
        } else {
            InterruptMode::OnChange
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_never_panic_the_model(configured in any::<bool>(), delay in 0u64..2000, ops in prop::collection::vec(op(), 1..60)) {
        let host = Host::new(Config { autoneg_delay: Duration::from_millis(delay), ..Config::default() });
        if configured {
            host.enumerate();
            host.linux_bind();
            host.linux_open();
        }
        for op in ops {
            apply(&host, op);
        }
        let stats = host.dev.stats();
        prop_assert!(stats.rx_fifo_bytes <= devices::ax88772::DEFAULT_RX_FIFO_BYTES as u64);
        prop_assert!(host.wire.take().iter().all(|f| (60..=MAX_FRAME_LEN).contains(&f.len())));
    }

    #[test]
    fn random_out_bytes_never_panic_and_frames_stay_in_bounds(chunks in prop::collection::vec(out_data(), 1..20)) {
        let host = Host::opened(Config::default());
        for data in chunks {
            prop_assert!(host.dev.transfer_out(0x03, &data).is_ok());
        }
        prop_assert!(host.wire.take().iter().all(|f| (60..=MAX_FRAME_LEN).contains(&f.len())));
    }

    #[test]
    fn random_traffic_round_trips_through_realistic_packings(
        lengths in prop::collection::vec(60usize..=1514, 1..30),
        packing in prop_oneof![
            Just(RxPacking::WholeFrames),
            Just(RxPacking::SingleFrame),
            Just(RxPacking::Stream),
            (2usize..1024).prop_map(|half| RxPacking::Chunked(half * 2)),
        ],
        transfer_len in prop_oneof![Just(2048usize), (256usize..4096).prop_map(|n| n & !1)],
    ) {
        let host = Host::opened(Config { rx_packing: packing, ..Config::default() });
        let me = node_id(&host);
        let sent: Vec<Vec<u8>> = lengths.iter().enumerate().map(|(i, &len)| test_frame(me, len, i as u32)).collect();
        let mut parser = RxParser::default();
        let mut got = Vec::new();
        for frame in &sent {
            host.arrive_from_wire(frame);
            if host.dev.stats().rx_fifo_bytes > 8 * 1024 {
                for transfer in host.drain_bulk_in(transfer_len) {
                    parser.feed(&transfer);
                }
            }
        }
        for transfer in host.drain_bulk_in(transfer_len) {
            parser.feed(&transfer);
        }
        got.append(&mut parser.frames);
        prop_assert_eq!(parser.errors, 0);
        prop_assert_eq!(got, sent);
    }
}
