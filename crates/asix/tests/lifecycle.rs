//! The AX88772 Dingo driver through link changes, suspend and resume, and
//! hot-unplug at random moments during traffic, under its observers.

mod common;

use common::*;
use netwire::LinkConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One burst each way, checked frame by frame.
fn exchange(p: &Pair, tag: u32) {
    let from_a: Vec<Vec<u8>> = (0..BURST as u32)
        .map(|i| frame(60 + 97 * i as usize, 1, tag + i))
        .collect();
    let from_b: Vec<Vec<u8>> = (0..BURST as u32)
        .map(|i| frame(1514 - 97 * i as usize, 2, tag + i))
        .collect();
    send(&p.a, &from_a);
    send(&p.b, &from_b);
    assert!(receive_all(&p.rx_b, BURST) == from_a, "a -> b after {tag}");
    assert!(receive_all(&p.rx_a, BURST) == from_b, "b -> a after {tag}");
}

fn assert_clean(p: &Pair) {
    assert!(p.a.net.wait_idle(T) && p.b.net.wait_idle(T), "packets left");
    assert_eq!(p.a.violations(), Vec::<String>::new());
    assert_eq!(p.b.violations(), Vec::<String>::new());
}

#[test]
fn link_down_and_up_are_seen_and_traffic_resumes() {
    let p = pair(LinkConfig::fast_ethernet());
    exchange(&p, 0);
    p.link.a().set_plugged(false);
    assert!(p.a.net.wait_link(false, T), "a sees the link go down");
    assert!(p.b.net.wait_link(false, T), "b sees the link go down");
    p.link.a().set_plugged(true);
    assert!(p.a.net.wait_link(true, T), "a sees the link come back");
    assert!(p.b.net.wait_link(true, T), "b sees the link come back");
    exchange(&p, 100);
    assert!(p.a.net.stats().link_changes >= 3);
    assert_clean(&p);
}

#[test]
fn suspend_and_resume_keep_working() {
    let p = pair(LinkConfig::fast_ethernet());
    for round in 0..3 {
        exchange(&p, round * 1000);
        p.a.net.sleep(3, T).unwrap();
        // Sent while asleep: held by the OS (the driver stopped its queue),
        // delivered after the wake-up.
        let held = frame(300, 1, 999);
        assert!(p.a.net.transmit(&held));
        p.a.net.wakeup(T).unwrap();
        assert!(p.a.net.wait_link(true, T), "link back after resume");
        let got = receive_all(&p.rx_b, 1);
        assert!(
            got == vec![held],
            "the frame held during sleep, round {round}"
        );
    }
    exchange(&p, 5000);
    assert_clean(&p);
}

/// A tiny deterministic generator for the unplug moments.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_hundred_hot_unplugs_during_traffic_end_cleanly() {
    let mut seed = 0x5eed_u64;
    let mut mid_traffic = 0;
    for round in 0..100 {
        let p = pair(LinkConfig::fast_ethernet());
        let stop = Arc::new(AtomicBool::new(false));
        // Traffic both ways until the unplug.
        let senders: Vec<_> = [(p.a.net.clone(), 1u8), (p.b.net.clone(), 2u8)]
            .into_iter()
            .map(|(net, src)| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut n = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        if !net.transmit(&frame(60 + (n as usize * 37) % 1455, src, n)) {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        let delay = Duration::from_micros(xorshift(&mut seed) % 30_000);
        std::thread::sleep(delay);
        let in_flight = p.a.net.in_flight().0;
        if in_flight > 0 {
            mid_traffic += 1;
        }
        let unplugged = p.a.unplug(Duration::from_secs(5));
        stop.store(true, Ordering::Relaxed);
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(unplugged, Ok(()), "round {round}: stopComplete in time");
        assert_eq!(p.a.net.in_flight().0, 0, "round {round}: every packet back");
        assert!(p.a.host.wait_idle(T), "round {round}: transfers pending");
        assert_eq!(p.a.host.pending(), 0, "round {round}");
        assert_eq!(p.a.violations(), Vec::<String>::new(), "round {round}");
        p.b.shut_down(T).unwrap();
        assert_eq!(p.b.violations(), Vec::<String>::new(), "round {round}");
        assert!(
            p.a.driver.has_ended() || wait_ended(&p),
            "round {round}: driver ended"
        );
    }
    assert!(
        mid_traffic >= 50,
        "only {mid_traffic} unplugs caught packets in flight"
    );
}

fn wait_ended(p: &Pair) -> bool {
    let deadline = std::time::Instant::now() + T;
    while std::time::Instant::now() < deadline {
        if p.a.driver.has_ended() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}
