//! The driver on the in-process RTL8139 model, in each of its three modes
//! (native twin, decaf driver on a thread, decaf driver in a process).

mod common;

use std::time::{Duration, Instant};

use common::*;
use rtl8139::chip::rx_flags;
use rtl8139::{Config, DriverError, Mode, SlowError, TxError};

const SECOND: Duration = Duration::from_secs(1);

fn all_sizes(rev: u8) {
    for (name, mode) in modes() {
        let (backend, model) = model_backend(rev);
        let rig = Rig::start(backend, Config::new(mode));
        let st = rig.driver.status();
        assert_eq!(st.mac, MAC, "{name}: MAC from the EEPROM");
        assert_eq!(st.revision, u32::from(rev), "{name}");
        assert!(st.carrier(), "{name}: link up after open");
        let out: Vec<_> = sizes(1)
            .into_iter()
            .enumerate()
            .map(|(i, n)| frame(PEER, MAC, n, i as u32))
            .collect();
        rig.send_and_check(&out);
        let inbound: Vec<_> = (60..=1514)
            .enumerate()
            .map(|(i, n)| frame(MAC, PEER, n, i as u32))
            .collect();
        rig.receive_and_check(&inbound);
        // 1,455 frames of up to 1.5 KB went round the 32 KiB ring many
        // times, and the four descriptors were each reused hundreds of
        // times.
        let bytes: usize = inbound.iter().map(|f| f.len() + 8).sum();
        assert!(bytes > 20 * 32 * 1024, "the ring wrapped ({bytes} bytes)");
        let fast = rig.driver.fast_stats();
        assert_eq!(fast.tx_packets, out.len() as u64, "{name}");
        assert_eq!(fast.rx_packets, inbound.len() as u64, "{name}");
        assert_eq!(fast.rx_errors, 0, "{name}");
        assert_eq!(model.stats().tx_frames, out.len() as u64, "{name}");
        rig.driver.stop().expect("stop");
    }
}

#[test]
fn frames_of_every_size_cross_both_ways_in_every_mode() {
    all_sizes(devices::rtl8139::DEFAULT_REVISION);
}

#[test]
fn revision_0x20_like_qemus_is_driven_too() {
    all_sizes(0x20);
}

#[test]
fn the_split_driver_crosses_only_for_the_slow_path() {
    let (backend, _) = model_backend(0x10);
    let rig = Rig::start(backend, Config::new(Mode::Decaf(process())));
    let at_start = rig.driver.status();
    assert_eq!(at_start.crossings.downcalls, 2, "probe and open");
    assert!(at_start.crossings.upcalls > 0);
    let frames: Vec<_> = (0..200).map(|i| frame(PEER, MAC, 600, i)).collect();
    rig.send_and_check(&frames);
    let inbound: Vec<_> = (0..200).map(|i| frame(MAC, PEER, 600, i)).collect();
    rig.receive_and_check(&inbound);
    let after = rig.driver.status();
    // Traffic crossed nothing (the watchdog may have run once).
    assert!(
        after.crossings.downcalls <= at_start.crossings.downcalls + 1,
        "{after:?}"
    );
}

#[test]
fn a_link_change_reaches_the_driver_through_the_decaf_media_check() {
    for (name, mode) in modes() {
        let (backend, model) = model_backend(0x10);
        let rig = Rig::start(backend, Config::new(mode));
        model.set_link(false);
        assert!(rig.wait_carrier(false, 2 * SECOND), "{name}: carrier lost");
        model.set_link(true);
        assert!(rig.wait_carrier(true, 2 * SECOND), "{name}: carrier back");
        assert!(rig.driver.fast_stats().link_changes >= 2, "{name}");
        rig.send_and_check(&[frame(PEER, MAC, 100, 1)]);
    }
}

#[test]
fn the_watchdog_checks_the_link_every_period() {
    let (backend, _) = model_backend(0x10);
    let mut config = Config::new(Mode::Decaf(rtl8139::Launcher::Thread));
    config.watchdog = Duration::from_millis(100);
    let rig = Rig::start(backend, config);
    std::thread::sleep(Duration::from_millis(550));
    let checks = rig.driver.status().media_checks;
    assert!((3..=7).contains(&checks), "{checks} media checks in 550 ms");
}

#[test]
fn a_stalled_transmitter_is_recovered_by_the_slow_path() {
    for (name, mode) in modes() {
        let (backend, _model) = model_backend(0x10);
        let mut config = Config::new(mode);
        config.tx_timeout = Duration::from_millis(200);
        let rig = Rig::start(backend, config);
        rig.send_and_check(&[frame(PEER, MAC, 200, 0)]);
        // A glitch turns the transmitter off behind the driver's back.
        rig.backend.device.write8(0, 0x37, 0x08);
        for i in 0..4 {
            rig.driver.transmit(&frame(PEER, MAC, 200, i)).unwrap();
        }
        assert_eq!(
            rig.driver.transmit(&frame(PEER, MAC, 200, 9)),
            Err(TxError::Full)
        );
        let deadline = Instant::now() + 5 * SECOND;
        while rig.driver.status().tx_timeouts == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let st = rig.driver.status();
        assert_eq!(st.tx_timeouts, 1, "{name}: {st:?}");
        assert_eq!(rig.driver.fast_stats().tx_dropped, 4, "{name}");
        let frames: Vec<_> = (0..20).map(|i| frame(PEER, MAC, 300, 100 + i)).collect();
        rig.send_and_check(&frames);
    }
}

#[test]
fn the_multicast_filter_and_promiscuous_mode() {
    for (name, mode) in modes() {
        let (backend, _) = model_backend(0x10);
        let rig = Rig::start(backend, Config::new(mode));
        let group = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
        let other = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01];
        let stranger = [0x52, 0x54, 0x00, 0x99, 0x99, 0x99];
        let bit = |a: &[u8; 6]| rtl8139::chip::ether_crc(a) >> 26;
        assert_ne!(
            bit(&group),
            bit(&other),
            "the test needs distinct hash bits"
        );
        // The driver's hash agrees with the chip's (the model's own code).
        assert_eq!(
            bit(&group),
            u32::from(devices::ax88772::multicast_hash_index(&group))
        );
        rig.driver.set_rx_mode(0, &[group]).unwrap();
        for dst in [group, other, stranger, MAC] {
            (rig.backend.inject)(&frame(dst, PEER, 80, 0));
        }
        let got = rig.os.wait_for(2, SECOND);
        std::thread::sleep(Duration::from_millis(50));
        let mut got: Vec<_> = got
            .into_iter()
            .chain(rig.os.wait_for(0, Duration::ZERO))
            .collect();
        got.sort();
        let mut want = vec![frame(group, PEER, 80, 0), frame(MAC, PEER, 80, 0)];
        want.sort();
        assert_eq!(got, want, "{name}: filtered");
        rig.driver.set_rx_mode(rx_flags::PROMISCUOUS, &[]).unwrap();
        (rig.backend.inject)(&frame(stranger, PEER, 80, 1));
        assert_eq!(rig.os.wait_for(1, SECOND).len(), 1, "{name}: promiscuous");
    }
}

#[test]
fn suspend_stops_the_queue_and_resume_starts_it_again() {
    for (name, mode) in modes() {
        let (backend, model) = model_backend(0x10);
        let rig = Rig::start(backend, Config::new(mode));
        rig.driver.suspend().unwrap();
        assert_eq!(
            rig.driver.transmit(&frame(PEER, MAC, 64, 0)),
            Err(TxError::Stopped)
        );
        (rig.backend.inject)(&frame(MAC, PEER, 64, 0));
        assert_eq!(
            rig.os.wait_for(1, Duration::from_millis(100)).len(),
            0,
            "{name}"
        );
        assert!(
            model.stats().rx_disabled >= 1,
            "{name}: the receiver was off"
        );
        rig.driver.resume().unwrap();
        rig.send_and_check(&[frame(PEER, MAC, 64, 1)]);
        rig.receive_and_check(&[frame(MAC, PEER, 64, 2)]);
    }
}

#[test]
fn stop_leaves_the_chip_quiet_and_frees_the_rings() {
    for (name, mode) in modes() {
        let (backend, model) = model_backend(0x10);
        let rig = Rig::start(backend, Config::new(mode));
        assert_eq!(
            (rig.backend.allocations)(),
            Some(5),
            "{name}: ring + 4 buffers"
        );
        let Rig {
            driver, backend, ..
        } = rig;
        driver.stop().unwrap();
        assert_eq!((backend.allocations)(), Some(0), "{name}");
        assert_eq!(backend.device.read16(0, 0x3C), 0, "{name}: IMR");
        assert_eq!(backend.device.read8(0, 0x37) & 0x0C, 0, "{name}: RE/TE off");
        assert!(!model.irq_level(), "{name}");
    }
}

#[test]
fn killing_the_decaf_process_does_not_stop_traffic_and_a_new_one_takes_over() {
    let (backend, _model) = model_backend(0x10);
    let mut config = Config::new(Mode::Decaf(process()));
    config.watchdog = Duration::from_millis(300);
    let rig = Rig::start(backend, config);
    let first = rig.driver.status().decaf_pid.expect("a decaf process");
    let kill_at = Instant::now();
    sigkill(first).unwrap();
    // Traffic both ways right after the kill, before the watchdog notices.
    let out: Vec<_> = (0..100).map(|i| frame(PEER, MAC, 500, i)).collect();
    rig.send_and_check(&out);
    let inbound: Vec<_> = (0..100).map(|i| frame(MAC, PEER, 500, i)).collect();
    rig.receive_and_check(&inbound);
    assert!(
        kill_at.elapsed() < Duration::from_millis(300) || rig.driver.status().decaf_restarts <= 1
    );
    // The watchdog's next media check finds it dead and starts another.
    let deadline = Instant::now() + 5 * SECOND;
    while rig.driver.status().decaf_restarts == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let st = rig.driver.status();
    assert_eq!(st.decaf_restarts, 1, "{st:?}");
    let second = st.decaf_pid.expect("a new decaf process");
    assert_ne!(first, second);
    // The new one knows the device (the object crossed again) and works.
    rig.driver.set_rx_mode(rx_flags::PROMISCUOUS, &[]).unwrap();
    (rig.backend.inject)(&frame([2, 0, 0, 0, 0, 9], PEER, 70, 5));
    assert_eq!(rig.os.wait_for(1, SECOND).len(), 1);
    assert_eq!(rig.driver.status().mac, MAC);
}

fn kill_during_bring_up(at_upcall: u64) -> DriverError {
    let (backend, model) = model_backend(0x10);
    let mut config = Config::new(Mode::Decaf(process()));
    config.upcall_hook = Some(std::sync::Arc::new(move |n, pid| {
        if n == at_upcall
            && let Some(pid) = pid
        {
            let _ = sigkill(pid);
            // Let it die before the reply goes out.
            std::thread::sleep(Duration::from_millis(20));
        }
    }));
    let os = std::sync::Arc::new(Inbox::default());
    let err = rtl8139::Driver::start(backend.device.clone(), backend.memory.clone(), os, config)
        .expect_err("bring-up must fail");
    assert_eq!(
        (backend.allocations)(),
        Some(0),
        "nothing left allocated: {err}"
    );
    // Quiet: either never enabled (no decoding, no bus mastering), or
    // interrupts masked and transmitter and receiver off.
    let enabled = backend.device.config_read(4, 2) & 0x5 != 0;
    if enabled {
        assert_eq!(backend.device.read16(0, 0x3C), 0, "IMR");
        assert_eq!(backend.device.read8(0, 0x37) & 0x0C, 0, "RE/TE off");
    }
    assert!(!model.irq_level());
    err
}

#[test]
fn killing_the_decaf_process_during_probe_fails_bring_up_cleanly() {
    let err = kill_during_bring_up(3);
    assert!(
        matches!(
            &err,
            DriverError::BringUp {
                stage: "probe",
                error: SlowError::DecafGone(_)
            }
        ),
        "{err}"
    );
}

#[test]
fn killing_the_decaf_process_during_open_fails_bring_up_cleanly() {
    // Count probe's batches first, then kill a few into open.
    let (backend, _) = model_backend(0x10);
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c = counted.clone();
    let mut config = Config::new(Mode::Decaf(process()));
    config.upcall_hook = Some(std::sync::Arc::new(move |n, _| {
        c.store(n, std::sync::atomic::Ordering::SeqCst);
    }));
    let os = std::sync::Arc::new(Inbox::default());
    let d =
        rtl8139::Driver::start(backend.device.clone(), backend.memory.clone(), os, config).unwrap();
    let probe_batches = {
        // Upcalls so far = probe's + open's; open makes a handful.
        let total = counted.load(std::sync::atomic::Ordering::SeqCst);
        assert!(total > 10, "{total}");
        total - 3
    };
    d.stop().unwrap();
    let err = kill_during_bring_up(probe_batches + 1);
    assert!(
        matches!(
            &err,
            DriverError::BringUp {
                stage: "open",
                error: SlowError::DecafGone(_)
            }
        ),
        "{err}"
    );
}

#[test]
fn a_bad_receive_header_restarts_the_ring_and_traffic_goes_on() {
    for (name, mode) in modes() {
        let (backend, _model) = model_backend(0x10);
        let rig = Rig::start(backend, Config::new(mode));
        rig.receive_and_check(&(0..5).map(|i| frame(MAC, PEER, 333, i)).collect::<Vec<_>>());
        // Behind the driver's back, RCR is rewritten: the chip restarts its
        // ring at 0 while the driver reads further on, where the old
        // contents are no valid header.
        let rcr = rig.backend.device.read32(0, 0x44);
        rig.backend.device.write32(0, 0x44, rcr);
        (rig.backend.inject)(&frame(MAC, PEER, 100, 99));
        let deadline = Instant::now() + 2 * SECOND;
        while rig.driver.fast_stats().rx_errors == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(rig.driver.fast_stats().rx_errors, 1, "{name}");
        rig.os.clear();
        rig.receive_and_check(
            &(0..40)
                .map(|i| frame(MAC, PEER, 900, i))
                .collect::<Vec<_>>(),
        );
    }
}

#[test]
fn a_decaf_process_that_died_while_suspended_is_restarted_on_resume() {
    let (backend, _) = model_backend(0x10);
    let rig = Rig::start(backend, Config::new(Mode::Decaf(process())));
    rig.driver.suspend().unwrap();
    let pid = rig.driver.status().decaf_pid.unwrap();
    sigkill(pid).unwrap();
    rig.driver.resume().unwrap();
    assert_eq!(rig.driver.status().decaf_restarts, 1);
    rig.send_and_check(&[frame(PEER, MAC, 64, 1)]);
    rig.receive_and_check(&[frame(MAC, PEER, 64, 2)]);
}

#[test]
fn an_interrupt_that_finds_the_fast_path_busy_is_never_lost() {
    // Another thread keeps taking the fast path's lock (reading counters)
    // while frames arrive one by one: each interrupt that finds the lock
    // taken must be serviced by the holder, or the level-triggered line
    // stays raised with no new notification and receive stops.
    let (backend, _) = model_backend(0x10);
    let rig = std::sync::Arc::new(Rig::start(backend, Config::new(Mode::Native)));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (r, s) = (rig.clone(), stop.clone());
    let poller = std::thread::spawn(move || {
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            std::hint::black_box(r.driver.fast_stats());
            std::hint::black_box(r.driver.nucleus().tx_in_flight());
        }
    });
    // A lost interrupt is found again by the next holder of the lock (the
    // work thread looks every 20 ms), so it shows as a late frame.
    let mut late = 0;
    for i in 0..3000 {
        let sent = Instant::now();
        (rig.backend.inject)(&frame(MAC, PEER, 60, i));
        let got = rig.os.wait_for(1, 2 * SECOND);
        assert_eq!(got.len(), 1, "frame {i} stuck");
        if sent.elapsed() > Duration::from_millis(15) {
            late += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.join().unwrap();
    assert!(late < 30, "{late} of 3000 frames waited more than 15 ms");
}

fn bring_up_with(launcher: rtl8139::Launcher, call_timeout: Duration) -> DriverError {
    let (backend, _) = model_backend(0x10);
    let mut config = Config::new(Mode::Decaf(launcher));
    config.call_timeout = call_timeout;
    let os = std::sync::Arc::new(Inbox::default());
    let err = rtl8139::Driver::start(backend.device.clone(), backend.memory.clone(), os, config)
        .expect_err("bring-up must fail");
    assert_eq!((backend.allocations)(), Some(0), "{err}");
    err
}

#[test]
fn a_decaf_program_that_cannot_start_exits_or_hangs_fails_bring_up() {
    let process = |program: &str, args: &[&str]| rtl8139::Launcher::Process {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
    };
    let err = bring_up_with(process("/nonexistent/rtl8139-decaf", &[]), SECOND);
    assert!(
        matches!(
            &err,
            DriverError::BringUp {
                stage: "launch",
                error: SlowError::Launch(_)
            }
        ),
        "{err}"
    );
    // Exits at once (its argument is not what it expects).
    let err = bring_up_with(process("true", &[]), SECOND);
    assert!(
        matches!(
            &err,
            DriverError::BringUp {
                stage: "probe",
                error: SlowError::DecafGone(_)
            }
        ),
        "{err}"
    );
    // Runs but never answers: the call's deadline ends it.
    let started = Instant::now();
    let err = bring_up_with(process("sleep", &["30"]), Duration::from_millis(300));
    assert!(
        matches!(
            &err,
            DriverError::BringUp {
                stage: "probe",
                error: SlowError::DecafGone(_)
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < 5 * SECOND,
        "the hung process was not waited for"
    );
}
