//! Two AX88772 adapters joined by an in-process wire, each with the Dingo
//! driver under its observer: frames cross intact both ways.

mod common;

use common::*;
use netwire::LinkConfig;

#[test]
fn frames_of_every_size_cross_intact_both_ways() {
    let p = pair(LinkConfig::fast_ethernet());
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
