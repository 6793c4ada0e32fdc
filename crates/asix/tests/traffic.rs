//! Two AX88772 adapters joined by an in-process wire, each with the Dingo
//! driver under its observer: frames cross intact both ways.

mod common;

use common::*;
use devices::ax88772::{Faults, RxPacking};
use netwire::LinkConfig;

#[test]
fn frames_of_every_size_cross_intact_both_ways() {
    every_size_both_ways(RxPacking::WholeFrames);
}

/// The chip packs its receive stream like the real one: transfers filled to
/// the brim, frames and even headers split across them.
#[test]
fn frames_of_every_size_cross_intact_when_split_across_transfers() {
    every_size_both_ways(RxPacking::Stream);
}

fn every_size_both_ways(packing: RxPacking) {
    let p = pair_with(LinkConfig::fast_ethernet(), |c| c.chip.rx_packing = packing);
    let sizes: Vec<usize> = (60..=1514).collect();
    // Bursts of 8 frames each way at once: the chip packs several into one
    // bulk-IN transfer and splits frames across transfers. A burst fits the
    // chip's receive FIFO, so no frame may be lost however the machine
    // schedules the drivers.
    for (b, burst) in sizes.chunks(BURST).enumerate() {
        let first = (b * BURST) as u32;
        let from_a: Vec<Vec<u8>> = burst
            .iter()
            .enumerate()
            .map(|(i, &len)| frame(len, 1, first + i as u32))
            .collect();
        let from_b: Vec<Vec<u8>> = burst
            .iter()
            .enumerate()
            .map(|(i, &len)| frame(len, 2, first + i as u32))
            .collect();
        send(&p.a, &from_a);
        send(&p.b, &from_b);
        let at_b = receive_all(&p.rx_b, burst.len());
        let at_a = receive_all(&p.rx_a, burst.len());
        assert!(
            at_b == from_a,
            "a -> b, burst {b}: {} of {} frames, chip b {:?}",
            at_b.len(),
            from_a.len(),
            p.b.chip.stats()
        );
        assert!(
            at_a == from_b,
            "b -> a, burst {b}: {} of {} frames, chip a {:?}",
            at_a.len(),
            from_b.len(),
            p.a.chip.stats()
        );
    }
    let (a, b) = (p.a.chip.stats(), p.b.chip.stats());
    assert!(
        a.bulk_in_transfers + b.bulk_in_transfers < 2 * sizes.len() as u64,
        "several frames per bulk-IN transfer"
    );
    assert!(p.a.net.wait_idle(T) && p.b.net.wait_idle(T));
    for ad in [&p.a, &p.b] {
        assert_eq!(ad.violations(), Vec::<String>::new());
        ad.shut_down(T).unwrap();
        assert_eq!(ad.host.pending(), 0);
    }
}

#[test]
fn the_driver_resynchronises_after_corrupted_receive_headers() {
    let p = pair(LinkConfig::fast_ethernet());
    p.b.chip.set_faults(Faults {
        corrupt_next_rx_headers: 3,
        ..Faults::default()
    });
    // The three frames behind bad headers are lost (the driver drops the
    // rest of each such transfer, as Linux does); nothing else is.
    let first: Vec<Vec<u8>> = (0..3).map(|i| frame(100, 1, i)).collect();
    send(&p.a, &first);
    std::thread::sleep(std::time::Duration::from_millis(200));
    while p.rx_b.try_recv().is_ok() {}
    let later: Vec<Vec<u8>> = (10..10 + BURST as u32).map(|i| frame(700, 1, i)).collect();
    send(&p.a, &later);
    assert!(
        receive_all(&p.rx_b, BURST) == later,
        "frames after the bad headers"
    );
    assert_eq!(p.b.chip.stats().rx_headers_corrupted, 3);
    assert!(p.a.net.wait_idle(T));
    assert_eq!(p.a.violations(), Vec::<String>::new());
    assert_eq!(p.b.violations(), Vec::<String>::new());
}
