//! The native (conventional, multithreaded) AX88772 driver: two adapters
//! joined by an in-process Fast Ethernet wire. Frames cross intact both
//! ways, from many threads at once; the link goes down and up; suspend,
//! resume, stop and open keep the interface working; and a disconnect at
//! any moment, during traffic or during probe, leaves no transfer pending
//! and never hangs.

use asix::adapter::{Adapter, AdapterConfig};
use asix::load::{self, LoadConfig, Progress};
use asix::native::{NativeAdapter, NativeAdapterConfig, NativeAx88772, NativeConfig};
use asix::nic::load_side;
use asix::{Nic, TX_QUEUE_LEN};
use devices::ax88772::{Ax88772 as Chip, XorShift64};
use dingo::Runtime;
use netwire::{Link, LinkConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::{Duration, Instant};
use usb::{HostController, UrbPool};

const T: Duration = Duration::from_secs(10);

/// Frames per burst: 8 full-size frames (12 KiB) fit the chip's 16 KiB
/// receive FIFO, so none may be lost however the threads are scheduled.
const BURST: usize = 8;

fn driver_config() -> NativeConfig {
    NativeConfig {
        delay_percent: 0,
        poll_ms: 200,
        ..NativeConfig::default()
    }
}

fn config(mac_last: u8) -> NativeAdapterConfig {
    let mut c = NativeAdapterConfig {
        driver: driver_config(),
        ..NativeAdapterConfig::default()
    };
    c.chip.mac[5] = mac_last;
    c
}

struct Pair {
    link: Link,
    a: NativeAdapter,
    b: NativeAdapter,
    rx_a: mpsc::Receiver<Vec<u8>>,
    rx_b: mpsc::Receiver<Vec<u8>>,
}

/// Plugs both chips into `link`; the chips' carrier follows the link's.
fn wire(link: &Link, a: &Arc<Chip>, b: &Arc<Chip>) {
    link.a().attach(a.clone());
    link.b().attach(b.clone());
    a.attach_wire(Arc::new(link.a()));
    b.attach_wire(Arc::new(link.b()));
    let chips: Vec<Weak<Chip>> = vec![Arc::downgrade(a), Arc::downgrade(b)];
    link.a().on_carrier_change(move |up| {
        for c in chips.iter().filter_map(Weak::upgrade) {
            c.set_carrier(up);
        }
    });
}

/// A receiver that forwards every frame to a channel.
fn channel_receiver(nic: &dyn Nic) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    nic.set_receiver(Arc::new(move |f: &[u8]| {
        let _ = tx.lock().unwrap().send(f.to_vec());
    }));
    rx
}

/// Two adapters, probed, wired, open, with the link up.
fn pair() -> Pair {
    let a = NativeAdapter::new(config(1)).expect("probe a");
    let b = NativeAdapter::new(config(2)).expect("probe b");
    let link = Link::new(LinkConfig::fast_ethernet()).unwrap();
    wire(&link, &a.chip, &b.chip);
    let rx_a = channel_receiver(&a);
    let rx_b = channel_receiver(&b);
    a.bring_up().expect("open a");
    b.bring_up().expect("open b");
    assert!(a.wait_link(true, T), "link a");
    assert!(b.wait_link(true, T), "link b");
    assert_eq!(a.link(), Some(100));
    Pair {
        link,
        a,
        b,
        rx_a,
        rx_b,
    }
}

/// A frame of `len` bytes from `src` to broadcast, numbered `n`.
fn frame(len: usize, src: u8, n: u32) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x00, 0x0E, 0xC6, 0x88, 0x77, src]);
    f[12..14].copy_from_slice(&[0x88, 0xB5]); // local experimental ethertype
    f[14..18].copy_from_slice(&n.to_be_bytes());
    for (i, b) in f.iter_mut().enumerate().skip(18) {
        *b = (i as u32 ^ n) as u8;
    }
    f
}

fn receive_all(rx: &mpsc::Receiver<Vec<u8>>, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while got.len() < want {
        match rx.recv_timeout(T) {
            Ok(f) => got.push(f),
            Err(_) => break,
        }
    }
    got
}

/// Sends `frames` through `nic`, retrying while the queue is stopped.
fn send(nic: &dyn Nic, frames: &[Vec<u8>]) {
    for f in frames {
        let deadline = Instant::now() + T;
        while !nic.transmit(f) {
            assert!(Instant::now() < deadline, "transmit stuck");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// One burst each way at once between `a` (frames from 1) and `b` (from
/// 2), whichever drivers they run; everything arrives, in order, intact.
fn exchange_nics(
    (a, rx_a): (&dyn Nic, &mpsc::Receiver<Vec<u8>>),
    (b, rx_b): (&dyn Nic, &mpsc::Receiver<Vec<u8>>),
    sizes: &[usize],
    first: u32,
) {
    let burst = |src: u8| -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| frame(len, src, first + i as u32))
            .collect()
    };
    let (from_a, from_b) = (burst(1), burst(2));
    send(a, &from_a);
    send(b, &from_b);
    let at_b = receive_all(rx_b, sizes.len());
    let at_a = receive_all(rx_a, sizes.len());
    assert!(
        at_b == from_a,
        "a -> b, frames from {first}: {} of {} arrived",
        at_b.len(),
        from_a.len()
    );
    assert!(
        at_a == from_b,
        "b -> a, frames from {first}: {} of {} arrived",
        at_a.len(),
        from_b.len()
    );
}

fn exchange(p: &Pair, sizes: &[usize], first: u32) {
    exchange_nics((&p.a, &p.rx_a), (&p.b, &p.rx_b), sizes, first);
}

fn shut_down(ad: &NativeAdapter) {
    ad.shut_down().expect("stop");
    assert_eq!(ad.host.pending(), 0, "no transfer pending after shut down");
    assert!(ad.driver.is_disconnected());
}

/// Runs `f` on a thread; fails the test if it takes longer than `limit`.
fn within<R: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => panic!("{what} hung for more than {limit:?}"),
    }
}

#[test]
fn frames_of_every_size_cross_intact_both_ways() {
    let p = pair();
    let sizes: Vec<usize> = (60..=1514).collect();
    for (b, burst) in sizes.chunks(BURST).enumerate() {
        exchange(&p, burst, (b * BURST) as u32);
    }
    let (a, b) = (p.a.chip.stats(), p.b.chip.stats());
    assert!(
        a.bulk_in_transfers + b.bulk_in_transfers < 2 * sizes.len() as u64,
        "several frames per bulk-IN transfer"
    );
    let (sa, sb) = (p.a.driver.stats(), p.b.driver.stats());
    assert_eq!(sa.rx_packets, sizes.len() as u64);
    assert_eq!(sb.rx_packets, sizes.len() as u64);
    assert_eq!(
        (sa.rx_errors, sa.tx_errors, sb.rx_errors, sb.tx_errors),
        (0, 0, 0, 0)
    );
    shut_down(&p.a);
    shut_down(&p.b);
}

#[test]
fn many_threads_transmit_at_once() {
    let p = pair();
    const THREADS: usize = 4;
    for round in 0..40u32 {
        // Each thread sends BURST / THREADS frames on each side, at once.
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (a, b) = (&p.a, &p.b);
                s.spawn(move || {
                    let per = BURST / THREADS;
                    let n = |i: usize| round * 100 + (t * per + i) as u32;
                    let fa: Vec<Vec<u8>> = (0..per)
                        .map(|i| frame(60 + (n(i) as usize * 37) % 1455, 1, n(i)))
                        .collect();
                    let fb: Vec<Vec<u8>> = (0..per)
                        .map(|i| frame(60 + (n(i) as usize * 53) % 1455, 2, n(i)))
                        .collect();
                    send(a, &fa);
                    send(b, &fb);
                });
            }
        });
        for (rx, src) in [(&p.rx_b, 1u8), (&p.rx_a, 2u8)] {
            let mut got = receive_all(rx, BURST);
            assert_eq!(got.len(), BURST, "round {round}: frames from {src} lost");
            got.sort_by_key(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
            for (i, f) in got.iter().enumerate() {
                let n = round * 100 + i as u32;
                let mul = if src == 1 { 37 } else { 53 };
                assert_eq!(
                    f,
                    &frame(60 + (n as usize * mul) % 1455, src, n),
                    "round {round}"
                );
            }
        }
    }
    shut_down(&p.a);
    shut_down(&p.b);
}

#[test]
fn link_down_and_up_is_seen() {
    let p = pair();
    exchange(&p, &[60, 1514, 777], 0);
    let changes = p.a.driver.stats().link_changes;
    for round in 0..3u32 {
        p.link.a().set_plugged(false);
        assert!(
            p.a.wait_link(false, T),
            "round {round}: a sees the link go down"
        );
        assert!(
            p.b.wait_link(false, T),
            "round {round}: b sees the link go down"
        );
        assert_eq!(p.a.link(), None);
        p.link.a().set_plugged(true);
        assert!(
            p.a.wait_link(true, T),
            "round {round}: a sees the link come up"
        );
        assert!(
            p.b.wait_link(true, T),
            "round {round}: b sees the link come up"
        );
        exchange(&p, &[60, 1514, 1000 + round as usize], 10 + 10 * round);
    }
    assert!(
        p.a.driver.stats().link_changes >= changes + 6,
        "every change counted: {:?}",
        p.a.driver.stats()
    );
    shut_down(&p.a);
    shut_down(&p.b);
}

#[test]
fn suspend_and_resume_keep_working() {
    let p = pair();
    exchange(&p, &[60, 61, 1514, 1513], 0);
    for round in 0..3u32 {
        p.a.driver.suspend().expect("suspend");
        assert!(p.a.host.is_suspended());
        assert_eq!(
            p.a.host.pending(),
            0,
            "round {round}: no URB posted while asleep"
        );
        assert!(
            !p.a.transmit(&frame(100, 1, 0)),
            "the queue is stopped while asleep"
        );
        p.a.driver.suspend().expect("a second suspend is a no-op");
        p.a.driver.resume().expect("resume");
        assert!(!p.a.host.is_suspended());
        assert!(p.a.wait_link(true, T), "round {round}: link after resume");
        exchange(&p, &[60, 500, 1514, 1024], 100 * (round + 1));
    }
    p.a.driver.resume().expect("resume when awake is a no-op");
    shut_down(&p.a);
    shut_down(&p.b);
}

#[test]
fn stop_and_open_again_keep_working() {
    let p = pair();
    exchange(&p, &[60, 1514], 0);
    for round in 0..3u32 {
        p.a.driver.stop().expect("stop");
        assert_eq!(
            p.a.host.pending(),
            0,
            "round {round}: nothing posted when stopped"
        );
        assert_eq!(p.a.link(), None);
        assert!(!p.a.transmit(&frame(100, 1, 0)), "no transmit while down");
        assert!(
            p.a.chip.registers().rx_ctl == 0,
            "receiver off when stopped"
        );
        p.a.bring_up().expect("open again");
        assert!(p.a.wait_link(true, T), "round {round}: link after open");
        exchange(&p, &[64, 1500, 999], 100 * (round + 1));
    }
    shut_down(&p.a);
    shut_down(&p.b);
}

#[test]
fn bad_frames_are_dropped_not_sent() {
    let p = pair();
    assert!(p.a.transmit(&[]), "an empty frame is consumed");
    assert!(
        p.a.transmit(&vec![0u8; 4000]),
        "an oversized frame is consumed"
    );
    assert_eq!(p.a.driver.stats().tx_dropped, 2);
    exchange(&p, &[60, 1514], 0);
    assert!(p.rx_b.recv_timeout(Duration::from_millis(300)).is_err());
    shut_down(&p.a);
    shut_down(&p.b);
}

/// How a round of the disconnect test takes the adapter away.
#[derive(Clone, Copy, Debug)]
enum Away {
    /// The device is pulled, then the OS disconnects the driver.
    Unplug,
    /// The driver is unbound with the device still there.
    Unbind,
    /// The device is pulled and nobody calls the driver: it must notice
    /// (the controller's `Unplugged`) and disconnect itself.
    UnplugOnly,
}

#[test]
fn disconnects_at_random_moments_during_traffic_leave_nothing_pending() {
    let seed = 0x5eed_0000_0000_0001u64 ^ std::process::id() as u64;
    eprintln!("seed {seed:#x}");
    let mut rng = XorShift64::new(seed);
    for round in 0..20usize {
        let away = [Away::Unplug, Away::Unbind, Away::UnplugOnly][round % 3];
        let p = pair();
        let stop = Arc::new(AtomicBool::new(false));
        let a = p.a.driver.clone();
        let b = p.b.driver.clone();
        let mut traffic = Vec::new();
        // Three sending threads on each side, as fast as the queue allows.
        for t in 0..3u32 {
            for (nic, src) in [(a.clone(), 1u8), (b.clone(), 2u8)] {
                let stop = stop.clone();
                traffic.push(std::thread::spawn(move || {
                    let mut n = t * 1_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        let f = frame(60 + (n as usize * 97) % 1455, src, n);
                        if nic.transmit(&f) {
                            n += 1;
                        } else {
                            std::thread::sleep(Duration::from_micros(100));
                        }
                    }
                }));
            }
        }
        let at = Duration::from_micros(rng.below(40_000) as u64);
        std::thread::sleep(at);
        let (host, driver) = (p.a.host.clone(), a.clone());
        within(
            T,
            &format!("round {round}: {away:?} after {at:?}"),
            move || match away {
                Away::Unplug => {
                    host.unplug();
                    driver.disconnect();
                }
                Away::Unbind => driver.disconnect(),
                Away::UnplugOnly => {
                    host.unplug();
                    while !driver.is_disconnected() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            },
        );
        assert_eq!(
            p.a.host.pending(),
            0,
            "round {round}: {away:?} after {at:?} left transfers pending"
        );
        assert_eq!(a.link(), None);
        assert!(
            !a.transmit(&frame(60, 1, 0)),
            "no transmit after disconnect"
        );
        // The other side carries on meanwhile; then everything stops.
        std::thread::sleep(Duration::from_millis(5));
        stop.store(true, Ordering::Relaxed);
        for t in traffic {
            t.join().expect("a sending thread panicked");
        }
        assert_eq!(
            p.a.host.pending(),
            0,
            "round {round}: nothing submitted after disconnect"
        );
        assert!(a.stats().tx_packets > 0 || at < Duration::from_millis(5));
        let b_adapter = p.b;
        within(T, &format!("round {round}: shutting b down"), move || {
            shut_down(&b_adapter);
        });
        drop(p.a);
    }
}

#[test]
fn unplug_during_probe_or_open_leaves_nothing_pending() {
    let seed = 0x0bad_cafe_0000_0002u64 ^ std::process::id() as u64;
    eprintln!("seed {seed:#x}");
    let mut rng = XorShift64::new(seed);
    let (mut probed, mut opened) = (0, 0);
    for round in 0..20usize {
        let host = Arc::new(HostController::new(UrbPool::new()));
        let chip = Arc::new(Chip::new(config(1).chip));
        host.attach(chip.clone()).expect("attach");
        let at = Duration::from_micros(rng.below(15_000) as u64);
        host.unplug_at(Instant::now() + at);
        let h = host.clone();
        let result = within(
            T,
            &format!("round {round}: probe, unplug after {at:?}"),
            move || {
                let driver = NativeAx88772::probe(h, driver_config())?;
                let opened = driver.open().is_ok();
                Ok::<_, String>((driver, opened))
            },
        );
        match result {
            Ok((driver, open)) => {
                probed += 1;
                opened += usize::from(open);
                within(T, &format!("round {round}: disconnect"), move || {
                    // The device goes away in any case.
                    while host.is_present() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    driver.disconnect();
                    assert_eq!(host.pending(), 0, "round {round}: pending after disconnect");
                    assert_eq!(host.pool().live(), 0, "round {round}: URBs freed");
                });
            }
            Err(e) => {
                assert!(e.contains("probe failed"), "round {round}: {e}");
                assert_eq!(
                    host.pending(),
                    0,
                    "round {round}: pending after a failed probe"
                );
                assert_eq!(host.pool().live(), 0, "round {round}: URBs freed");
            }
        }
    }
    eprintln!("{probed} of 20 probes finished before the unplug, {opened} opens");
}

#[test]
fn a_full_ring_stops_the_queue_and_a_completion_restarts_it() {
    // A slow wire (about 60 ms per full-size frame, one frame of queue):
    // each bulk-OUT transfer blocks the controller until the wire takes
    // the frame, so the ring fills long before the first ones complete.
    let a = NativeAdapter::new(config(1)).expect("probe");
    let link = Link::new(LinkConfig {
        rate_bps: Some(200_000),
        tx_queue_frames: 1,
        max_block: Duration::from_secs(1),
        pad_short_frames: false,
    })
    .unwrap();
    a.chip.attach_wire(Arc::new(link.a()));
    a.bring_up().expect("open");
    assert!(
        a.wait_link(true, T),
        "link (the chip has carrier on its own)"
    );
    let out = |host: &HostController| {
        let s = host.stats(0x03);
        s.submitted - s.completed - s.failed
    };
    let mut taken = 0;
    while a.transmit(&frame(1514, 1, taken)) {
        taken += 1;
        assert!(
            out(&a.host) <= TX_QUEUE_LEN as u64,
            "never more than the ring in flight"
        );
        assert!(taken < 4 * TX_QUEUE_LEN as u32, "the queue never stopped");
    }
    assert!(
        taken >= TX_QUEUE_LEN as u32,
        "a whole ring taken first: {taken}"
    );
    assert!(a.driver.stats().tx_busy > 0);
    // The queue restarts as soon as a transfer completes.
    let deadline = Instant::now() + T;
    while !a.transmit(&frame(1514, 1, taken)) {
        assert!(Instant::now() < deadline, "the queue never restarted");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Stopping kills what the slow wire has not taken yet.
    within(T, "shut down with a full ring", move || shut_down(&a));
}

#[test]
fn a_dingo_adapter_and_a_native_one_talk_through_the_nic_trait() {
    let rt = Runtime::new();
    let mut dingo_config = AdapterConfig {
        delay_percent: 0,
        poll_ms: 200,
        ..AdapterConfig::default()
    };
    dingo_config.chip.mac[5] = 1;
    let dingo = Adapter::new(&rt, dingo_config.clone()).expect("the Dingo adapter");
    let mut native_config = NativeAdapterConfig::like(&dingo_config);
    native_config.chip.mac[5] = 2;
    let native = NativeAdapter::new(native_config).expect("the native adapter");
    let link = Link::new(LinkConfig::fast_ethernet()).unwrap();
    wire(&link, &dingo.chip, &native.chip);
    let rx_dingo = channel_receiver(&dingo);
    let rx_native = channel_receiver(&native);
    dingo.bring_up(T).expect("Dingo up");
    native.bring_up().expect("native up");
    let nics: [&dyn Nic; 2] = [&dingo, &native];
    for nic in nics {
        assert!(nic.wait_link(true, T));
        assert_eq!(nic.link(), Some(100));
    }
    let sizes: Vec<usize> = (60..=1514).step_by(7).collect();
    for (b, burst) in sizes.chunks(BURST).enumerate() {
        exchange_nics(
            (&dingo, &rx_dingo),
            (&native, &rx_native),
            burst,
            (b * BURST) as u32,
        );
    }
    assert!(dingo.net.wait_idle(T));
    assert_eq!(dingo.violations(), Vec::<String>::new());
    dingo.shut_down(T).expect("Dingo down");
    shut_down(&native);
}

#[test]
fn the_echo_load_runs_between_native_adapters() {
    let p = pair();
    let config = LoadConfig {
        clients: 4,
        frame_len: 512,
        duration: Duration::from_millis(500),
        timeout: Duration::from_millis(200),
    };
    let a = load_side(p.a.driver.clone());
    let b = load_side(p.b.driver.clone());
    let report = load::run(a, b, config, Arc::new(Progress::default()));
    assert!(
        report.round_trips > 100,
        "echo round trips in half a second: {report:?}"
    );
    shut_down(&p.a);
    shut_down(&p.b);
}
