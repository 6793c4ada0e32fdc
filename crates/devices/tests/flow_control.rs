//! IEEE 802.3x flow control: with TFC set the chip asks its link partner to
//! pause when its receive FIFO fills and to go on once the host drained it;
//! with RFC set a received PAUSE holds its transmission; MAC-control frames
//! never reach the host.

mod common;

use common::*;
use devices::ax88772::pause;
use devices::ax88772::{Config, cmd, medium};
use std::time::{Duration, Instant};

const PAUSE_BITS: u16 = medium::RFC | medium::TFC;

fn opened_with_flow_control() -> Host {
    let host = Host::opened(Config::default());
    assert!(host.linux_link_up(), "link up");
    let mode = host.read_u16(cmd::READ_MEDIUM_STATUS) | PAUSE_BITS;
    host.vendor_write(cmd::WRITE_MEDIUM_MODE, mode, 0, &[])
        .unwrap();
    host.wire.take();
    host
}

fn pauses(frames: &[Vec<u8>]) -> Vec<u16> {
    frames
        .iter()
        .filter(|f| f[..6] == pause::PAUSE_ADDRESS && f[12..14] == pause::MAC_CONTROL)
        .map(|f| u16::from_be_bytes([f[16], f[17]]))
        .collect()
}

#[test]
fn a_filling_fifo_sends_stop_and_a_drained_one_sends_go() {
    let host = opened_with_flow_control();
    // Fill the 16 KiB FIFO with full-size frames, nobody draining it.
    for seed in 0..12 {
        host.arrive_from_wire(&test_frame(BROADCAST, 1514, seed));
    }
    let sent = pauses(&host.wire.take());
    assert_eq!(sent, vec![pause::XOFF], "one stop, no go yet");
    let frames = host.drain_bulk_in(16384);
    assert!(!frames.is_empty());
    let sent = pauses(&host.wire.take());
    assert_eq!(sent, vec![0], "go, once drained");
    assert_eq!(host.dev.stats().pause_sent, 2);
}

#[test]
fn without_tfc_no_pause_is_sent() {
    let host = Host::opened(Config::default());
    for seed in 0..12 {
        host.arrive_from_wire(&test_frame(BROADCAST, 1514, seed));
    }
    assert!(pauses(&host.wire.take()).is_empty());
    assert!(
        host.dev.stats().rx_dropped.fifo_full > 0,
        "the FIFO overflowed instead"
    );
}

#[test]
fn a_received_pause_holds_transmission_and_never_reaches_the_host() {
    let host = opened_with_flow_control();
    // 0x0FFF quanta at 100 Mb/s: about 21 ms.
    host.arrive_from_wire(&pause::frame([2, 0, 0, 0, 0, 9], 0x0FFF));
    assert_eq!(host.dev.stats().pause_received, 1);
    assert!(
        matches!(host.bulk_in(2048), usb::InPoll::Pending),
        "a MAC-control frame is not handed to the host"
    );
    // The chip's clock is manual here: move it past the pause while the
    // transmission waits in another thread.
    let dev = host.dev.clone();
    let frame = test_frame(BROADCAST, 100, 1);
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        let bulk = linux_tx(&frame, 512);
        usb::UsbDevice::transfer_out(&*dev, 0x03, &bulk)
    });
    std::thread::sleep(Duration::from_millis(30));
    assert!(host.wire.take().is_empty(), "held while paused");
    host.clock.advance(Duration::from_millis(25));
    sender.join().unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(host.wire.take().len(), 1, "sent once the pause ended");
}

#[test]
fn a_go_ends_the_pause_at_once() {
    let host = opened_with_flow_control();
    host.arrive_from_wire(&pause::frame([2, 0, 0, 0, 0, 9], pause::XOFF));
    host.arrive_from_wire(&pause::frame([2, 0, 0, 0, 0, 9], 0));
    host.transmit(&test_frame(BROADCAST, 100, 2)).unwrap();
    assert_eq!(host.wire.take().len(), 1);
}
