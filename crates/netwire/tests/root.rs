//! Tests that need root: TAP devices in network namespaces, joined by a
//! `Link`, and a veth pair as the kernel's own baseline.
//!
//! When `can_use_netns()` fails (or `ping` is missing) they skip with the
//! reason, unless `CI=true`, where they fail instead.
//! Debian packages: iproute2 (`ip`), iputils-ping (`ping`).

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netwire::netns::{self, NetNs, VethPair, unique_name};
use netwire::pcap::Capture;
use netwire::{End, FrameSink, Link, LinkConfig, Tap, TapSink};

/// Whether the root tests can run here, `ping` included (see
/// `netns::root_tests_can_run`).
fn root_env() -> bool {
    netns::root_tests_can_run(|| {
        match Command::new("ping").arg("-V").stdin(Stdio::null()).output() {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!("`ping -V` failed: {}", o.status)),
            Err(e) => Err(format!("cannot run `ping` (install iputils-ping): {e}")),
        }
    })
}

macro_rules! require_root {
    () => {
        if !root_env() {
            return;
        }
    };
}

fn show(o: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ping(ns: &NetNs, args: &[&str]) -> Output {
    ns.exec("ping", args).expect("ping runs")
}

/// Two namespaces, a TAP in each, bridged by `link`; returns everything
/// (in drop order: link users first, namespaces last).
struct Bridged {
    tap_a: Tap,
    tap_b: Tap,
    ns_a: NetNs,
    ns_b: NetNs,
}

/// `rx_at_b` makes the sink that end B delivers into from tap B's sink
/// (e.g. a capture in front of it).
fn bridge(link: &Link, subnet: u8, rx_at_b: impl FnOnce(TapSink) -> Arc<dyn FrameSink>) -> Bridged {
    let ns_a = NetNs::create().unwrap();
    let ns_b = NetNs::create().unwrap();
    let tap_a = Tap::create(&unique_name("nwtap")).unwrap();
    let tap_b = Tap::create(&unique_name("nwtap")).unwrap();
    // Frames the kernel sends on tap A go into end A and come out of end B
    // into tap B (through `rx_at_b`), and the other way round.
    link.a().attach(Arc::new(tap_a.sink()));
    link.b().attach(rx_at_b(tap_b.sink()));
    tap_a.start_reader(Arc::new(link.a())).unwrap();
    tap_b.start_reader(Arc::new(link.b())).unwrap();
    for (ns, tap, host) in [(&ns_a, &tap_a, 1), (&ns_b, &tap_b, 2)] {
        ns.move_link(tap.name()).unwrap();
        ns.add_addr(tap.name(), &format!("10.77.{subnet}.{host}/24"))
            .unwrap();
        ns.link_up(tap.name()).unwrap();
    }
    Bridged {
        tap_a,
        tap_b,
        ns_a,
        ns_b,
    }
}

fn is_icmp_echo_request(frame: &[u8]) -> bool {
    frame.len() >= 14 + 20 + 8
        && frame[12..14] == [0x08, 0x00]
        && frame[14 + 9] == 1
        && frame[14 + (usize::from(frame[14] & 0x0f) * 4).min(60)] == 8
}

#[test]
fn can_use_netns_here() {
    require_root!();
    assert_eq!(netwire::can_use_netns(), Ok(()));
}

#[test]
fn ping_across_two_taps_bridged_by_a_100mbps_link() {
    require_root!();
    let link = Link::new(LinkConfig::fast_ethernet()).unwrap();
    // Capture the A→B frames in front of tap B.
    let mut capture = None;
    let ns_holder = bridge(&link, 1, |tap_b| {
        let (c, buf) = Capture::in_memory(Arc::new(tap_b));
        let c = Arc::new(c);
        capture = Some((c.clone(), buf));
        c
    });
    let (capture, captured) = capture.unwrap();
    let out = ping(&ns_holder.ns_a, &["-c", "3", "-W", "2", "10.77.1.2"]);
    assert!(out.status.success(), "ping failed: {}", show(&out));
    let (ab, ba) = (link.stats(End::A), link.stats(End::B));
    assert!(ab.frames >= 3 && ba.frames >= 3, "{ab:?} {ba:?}");
    assert_eq!(ab.drops() + ba.drops(), 0, "{ab:?} {ba:?}");
    let (ta, tb) = (ns_holder.tap_a.stats(), ns_holder.tap_b.stats());
    assert!(ta.rx_frames >= 3 && ta.tx_frames >= 3, "{ta:?}");
    assert!(tb.rx_frames >= 3 && tb.tx_frames >= 3, "{tb:?}");
    // (tx_errors may be non-zero: frames that reached a TAP before it was
    // up, e.g. IPv6 solicitations from the side brought up first, fail.)
    // And from the other side.
    let out = ping(&ns_holder.ns_b, &["-c", "1", "-W", "2", "10.77.1.1"]);
    assert!(out.status.success(), "ping back failed: {}", show(&out));
    let packets = captured.packets().unwrap();
    let echoes = packets
        .iter()
        .filter(|p| is_icmp_echo_request(&p.data))
        .count();
    assert_eq!(echoes, 3, "captured {} frames", packets.len());
    assert!(capture.take_error().is_none());
}

struct NullSink;

impl FrameSink for NullSink {
    fn send_frame(&self, _: &[u8]) {}
}

#[test]
fn unplugging_the_link_stops_ping_unthrottled() {
    require_root!();
    let link = Link::new(LinkConfig::unthrottled()).unwrap();
    let b = bridge(&link, 2, |tap_b| Arc::new(tap_b));
    let out = ping(&b.ns_a, &["-c", "3", "-W", "2", "10.77.2.2"]);
    assert!(out.status.success(), "ping failed: {}", show(&out));

    let downs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let d = downs.clone();
    link.a().on_carrier_change(move |up| {
        if !up {
            d.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    link.b().set_plugged(false);
    assert_eq!(downs.load(std::sync::atomic::Ordering::SeqCst), 1);
    let out = ping(&b.ns_a, &["-c", "2", "-W", "1", "10.77.2.2"]);
    assert!(!out.status.success(), "ping crossed an unplugged link");
    assert!(link.stats(End::A).dropped_unplugged >= 2);

    link.b().set_plugged(true);
    let out = ping(&b.ns_a, &["-c", "1", "-W", "2", "10.77.2.2"]);
    assert!(out.status.success(), "ping after replug: {}", show(&out));
    drop(b);
}

#[test]
fn ping_across_a_veth_pair() {
    require_root!();
    let ns_a = NetNs::create().unwrap();
    let ns_b = NetNs::create().unwrap();
    let veth = VethPair::create(&ns_a, &ns_b).unwrap();
    ns_a.add_addr(veth.a(), "10.77.3.1/24").unwrap();
    ns_b.add_addr(veth.b(), "10.77.3.2/24").unwrap();
    ns_a.link_up(veth.a()).unwrap();
    ns_b.link_up(veth.b()).unwrap();
    let out = ping(&ns_a, &["-c", "3", "-W", "2", "10.77.3.2"]);
    assert!(out.status.success(), "ping failed: {}", show(&out));
    let link_list = ns_b.ip(["-o", "link", "show"]).unwrap();
    assert!(link_list.contains(veth.b()), "{link_list}");
    let b_name = veth.b().to_string();
    drop(veth);
    let link_list = ns_b.ip(["-o", "link", "show"]).unwrap();
    assert!(
        !link_list.contains(&b_name),
        "veth not deleted: {link_list}"
    );
}

#[test]
fn namespace_is_deleted_on_drop_even_when_a_test_panics() {
    require_root!();
    let ns = NetNs::create().unwrap();
    let name = ns.name().to_string();
    assert!(NetNs::exists(&name).unwrap());
    drop(ns);
    assert!(!NetNs::exists(&name).unwrap());

    let name = std::panic::catch_unwind(|| {
        let ns = NetNs::create().unwrap();
        panic!("{}", ns.name().to_string());
    })
    .unwrap_err()
    .downcast::<String>()
    .unwrap();
    assert!(name.starts_with(netns::NETNS_PREFIX));
    assert!(!NetNs::exists(&name).unwrap(), "{name} survived a panic");
    // Creating an existing name fails with ip's message.
    let ns = NetNs::create().unwrap();
    let err = NetNs::create_named(ns.name()).unwrap_err().to_string();
    assert!(err.contains("netns"), "{err}");
}

#[test]
fn tap_reader_stops_promptly_and_the_interface_goes_away() {
    require_root!();
    let name = unique_name("nwtap");
    let tap = Tap::create(&name).unwrap();
    assert_eq!(tap.name(), name);
    assert!(netns::ip(["link", "show", "dev", &name]).is_ok());
    tap.start_reader(Arc::new(NullSink)).unwrap();
    assert!(tap.start_reader(Arc::new(NullSink)).is_err());
    let t = Instant::now();
    tap.stop_reader();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    tap.start_reader(Arc::new(NullSink)).unwrap();
    let t = Instant::now();
    drop(tap);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let err = netns::ip(["link", "show", "dev", &name]).unwrap_err();
    assert!(err.to_string().contains(&name), "{err}");
}

#[test]
fn bad_names_are_rejected_before_touching_the_system() {
    for bad in ["", "a/b", "sixteen-chars-xx", "has space", ".."] {
        let e = Tap::create(bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    assert!(unique_name("a-very-long-prefix").len() <= 15);
}
