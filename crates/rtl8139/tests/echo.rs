//! Two drivers on two chips joined by an in-process wire, one echoing
//! what the other sends, both directions busy at once: interrupts race
//! with transmits on both sides. Every round trip must complete; none may
//! wait for the work thread's tick or the transmit timeout to be rescued.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use devices::rtl8139::Rtl8139;
use netwire::{FrameSink, Link, LinkConfig, LinkEnd};
use rtl8139::{Config, Driver, Mode};

struct Echo(OnceLock<Arc<Driver>>);

impl FrameSink for Echo {
    fn send_frame(&self, frame: &[u8]) {
        if let Some(d) = self.0.get()
            && frame.len() >= 14
        {
            let mut back = frame.to_vec();
            back.copy_within(6..12, 0);
            back[6..12].copy_from_slice(&frame[..6]);
            d.transmit_wait(&back, Duration::from_secs(1))
                .expect("echo");
        }
    }
}

#[derive(Default)]
struct Count(AtomicU64);

impl FrameSink for Count {
    fn send_frame(&self, _: &[u8]) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn chip(mac: [u8; 6], end: LinkEnd) -> (Arc<Rtl8139>, Arc<dyn hal::DmaMemory>) {
    let memory: Arc<dyn hal::DmaMemory> = Arc::new(hal::HostMemory::new());
    let chip = Arc::new(Rtl8139::new(
        devices::rtl8139::Config {
            mac,
            ..Default::default()
        },
        memory.clone(),
    ));
    chip.plug(end);
    (chip, memory)
}

#[test]
fn round_trips_through_two_busy_drivers_never_stall() {
    for (name, mode) in modes() {
        let link = Link::new(LinkConfig::unthrottled()).unwrap();
        let (chip_a, mem_a) = chip(MAC, link.a());
        let (chip_b, mem_b) = chip(PEER, link.b());
        let echoes = Arc::new(Count::default());
        let a = Driver::start(chip_a, mem_a, echoes.clone(), Config::new(mode)).unwrap();
        let echo = Arc::new(Echo(OnceLock::new()));
        let b = Arc::new(
            Driver::start(chip_b, mem_b, echo.clone(), Config::new(Mode::Native)).unwrap(),
        );
        let _ = echo.0.set(b.clone());
        let f = frame(PEER, MAC, 100, 0);
        let mut sent = 0u64;
        let mut slow = 0;
        let mut waited_since = Instant::now();
        let mut counted = false;
        while sent < 30_000 {
            // Up to 8 in flight.
            let back = echoes.0.load(Ordering::SeqCst);
            if sent - back < 8 {
                a.transmit_wait(&f, Duration::from_secs(1))
                    .expect("transmit");
                sent += 1;
                waited_since = Instant::now();
                counted = false;
            } else {
                let waited = waited_since.elapsed();
                if waited > Duration::from_millis(15) && !counted {
                    slow += 1;
                    counted = true;
                }
                assert!(
                    waited < Duration::from_secs(2),
                    "{name}: stalled at {sent} sent, {back} back"
                );
                std::thread::yield_now();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while echoes.0.load(Ordering::SeqCst) < sent && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(
            echoes.0.load(Ordering::SeqCst),
            sent,
            "{name}: every frame came back"
        );
        // A lost interrupt is rescued only by the work thread's next look
        // (20 ms) or by the transmit timeout: either shows as a long wait
        // (a busy machine may delay a few).
        assert!(
            slow < 30,
            "{name}: {slow} of 30,000 round trips waited over 15 ms"
        );
        a.stop().unwrap();
    }
}
