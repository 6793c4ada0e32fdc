//! Linux sees real traffic through the RTL8139 driver: two network
//! namespaces, each with a TAP interface bridged to an RTL8139 driver (one
//! split into nucleus and decaf process, one native), the two chips joined
//! by an in-process 100 Mb/s wire. `ping` runs both ways; the decaf
//! process is killed in the middle of a ping run, which loses nothing.
//! Needs root (skipped otherwise, except under `CI=true`).
//!
//! ```text
//!   ns A: ping ─ TAP ─▶ driver A (split) ─ RTL8139 ═ wire ═ RTL8139 ─ driver B (native) ─ TAP ─ ns B
//! ```

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use devices::rtl8139::Rtl8139;
use netwire::netns::{self, NetNs, unique_name};
use netwire::{FrameSink, Link, LinkConfig, Tap};
use rtl8139::{Config, Driver, Mode};

/// Frames the kernel sends on a TAP go out through the driver.
struct ToDriver(Arc<Driver>);

impl FrameSink for ToDriver {
    fn send_frame(&self, frame: &[u8]) {
        // The kernel retransmits what is lost; do not block its reader for
        // long.
        let _ = self.0.transmit_wait(frame, Duration::from_millis(50));
    }
}

struct Side {
    driver: Arc<Driver>,
    tap: Tap,
    ns: NetNs,
}

fn side(chip: &Arc<Rtl8139>, memory: Arc<dyn hal::DmaMemory>, mode: Mode, host: u8) -> Side {
    let tap = Tap::create(&unique_name("rtltap")).expect("tap");
    let driver = Arc::new(
        Driver::start(
            chip.clone(),
            memory,
            Arc::new(tap.sink()),
            Config::new(mode),
        )
        .expect("bring-up"),
    );
    tap.start_reader(Arc::new(ToDriver(driver.clone())))
        .expect("tap reader");
    let ns = NetNs::create().expect("namespace");
    let name = tap.name().to_string();
    ns.move_link(&name).unwrap();
    let mac = driver.status().mac;
    let mac = mac.map(|b| format!("{b:02x}")).join(":");
    ns.set_mac(&name, &mac).unwrap();
    ns.add_addr(&name, &format!("10.79.1.{host}/24")).unwrap();
    ns.link_up(&name).unwrap();
    Side { driver, tap, ns }
}

fn chip(mac: [u8; 6]) -> (Arc<Rtl8139>, Arc<dyn hal::DmaMemory>) {
    let memory: Arc<dyn hal::DmaMemory> = Arc::new(hal::HostMemory::new());
    let chip = Arc::new(Rtl8139::new(
        devices::rtl8139::Config {
            mac,
            ..Default::default()
        },
        memory.clone(),
    ));
    (chip, memory)
}

fn ping(from: &NetNs, to: &str, count: u32) -> (bool, String) {
    let out = from
        .exec(
            "ping",
            ["-c", &count.to_string(), "-W", "2", "-i", "0.05", to],
        )
        .expect("ping runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = text
        .lines()
        .filter(|l| l.contains("packets transmitted") || l.starts_with("rtt"))
        .collect::<Vec<_>>()
        .join("; ");
    (
        out.status.success() && summary.contains(" 0% packet loss"),
        summary,
    )
}

#[test]
fn ping_through_a_split_and_a_native_rtl8139_driver() {
    let has_ping = || {
        std::process::Command::new("ping")
            .arg("-V")
            .output()
            .map(drop)
            .map_err(|e| format!("no ping (install iputils-ping): {e}"))
    };
    if !netns::root_tests_can_run(has_ping) {
        return;
    }
    let link = Link::new(LinkConfig::fast_ethernet()).expect("link");
    let (chip_a, mem_a) = chip([0x52, 0x54, 0x00, 0x79, 0x00, 0x01]);
    let (chip_b, mem_b) = chip([0x52, 0x54, 0x00, 0x79, 0x00, 0x02]);
    chip_a.plug(link.a());
    chip_b.plug(link.b());
    let a = side(&chip_a, mem_a, Mode::Decaf(process()), 1);
    let b = side(&chip_b, mem_b, Mode::Native, 2);

    for (from, to) in [(&a.ns, "10.79.1.2"), (&b.ns, "10.79.1.1")] {
        let (ok, summary) = ping(from, to, 10);
        println!("ping {to}: {summary}");
        assert!(ok, "ping {to}: {summary}");
    }

    // Kill the decaf process while a ping run is under way: the fast path
    // carries on, and the watchdog brings a new decaf process.
    let pid = a.driver.status().decaf_pid.expect("a decaf process");
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let _ = sigkill(pid);
    });
    let (ok, summary) = ping(&a.ns, "10.79.1.2", 60);
    killer.join().unwrap();
    println!("ping across the decaf kill: {summary}");
    assert!(ok, "ping across the decaf kill: {summary}");
    let st = a.driver.status();
    assert_eq!(st.decaf_restarts, 1, "{st:?}");
    assert_ne!(st.decaf_pid, Some(pid));
    println!(
        "driver a: {:?}\ndriver b: {:?}",
        a.driver.fast_stats(),
        b.driver.fast_stats()
    );
    for s in [a, b] {
        s.tap.stop_reader();
        drop(s.ns);
    }
}
