//! The same driver on QEMU's own rtl8139 model (a device model nobody on
//! this project wrote), driven through qtest: frames both ways, ring wrap,
//! descriptor reuse, link change, a transmit timeout recovered by the
//! decaf side, and the decaf process killed under traffic. Each test boots
//! its own VM; one register access costs ~0.1 ms, so the frame counts are
//! smaller than on the in-process model. Skipped when QEMU is missing,
//! except under CI.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rtl8139::{Config, Mode, TxError};

fn decaf() -> Mode {
    Mode::Decaf(process())
}

#[test]
fn frames_of_all_sizes_cross_both_ways_on_qemus_rtl8139() {
    if !qemu_available() {
        return;
    }
    for (name, mode) in [("native", Mode::Native), ("decaf", decaf())] {
        let (backend, _qemu, _port) = qemu_backend();
        let rig = Rig::start(backend, Config::new(mode));
        let st = rig.driver.status();
        assert_eq!(st.mac, MAC, "{name}: MAC from QEMU's EEPROM");
        assert_eq!(
            st.revision, 0x20,
            "{name}: QEMU's revision, which 8139too refuses"
        );
        let out: Vec<_> = sizes(1)
            .into_iter()
            .enumerate()
            .map(|(i, n)| frame(PEER, MAC, n, i as u32))
            .collect();
        rig.send_and_check(&out);
        // Every size: over a megabyte through the 32 KiB ring, which wraps
        // dozens of times.
        let inbound: Vec<_> = (60..=1514).map(|n| frame(MAC, PEER, n, n as u32)).collect();
        let bytes: usize = inbound.iter().map(|f| f.len() + 8).sum();
        assert!(bytes > 20 * 32 * 1024);
        rig.receive_and_check(&inbound);
        let fast = rig.driver.fast_stats();
        assert_eq!(
            fast.tx_packets,
            out.len() as u64,
            "{name}: descriptors reused"
        );
        assert_eq!(fast.rx_errors, 0, "{name}");
        eprintln!(
            "{name} on QEMU: {} frames out, {} in; bring-up {:?}, crossings {:?}",
            fast.tx_packets, fast.rx_packets, st.bring_up, st.crossings
        );
        rig.driver.stop().unwrap();
    }
}

#[test]
fn link_changes_on_qemu_reach_the_driver() {
    if !qemu_available() {
        return;
    }
    let (backend, _qemu, _port) = qemu_backend();
    let rig = Rig::start(backend, Config::new(decaf()));
    assert!(rig.driver.status().carrier());
    (rig.backend.set_link)(false);
    assert!(
        rig.wait_carrier(false, Duration::from_secs(5)),
        "carrier lost"
    );
    (rig.backend.set_link)(true);
    assert!(
        rig.wait_carrier(true, Duration::from_secs(5)),
        "carrier back"
    );
    rig.send_and_check(&[frame(PEER, MAC, 300, 1)]);
}

#[test]
fn a_transmit_timeout_on_qemu_is_recovered_by_the_decaf_process() {
    if !qemu_available() {
        return;
    }
    let (backend, _qemu, _port) = qemu_backend();
    let mut config = Config::new(decaf());
    config.tx_timeout = Duration::from_millis(500);
    let rig = Rig::start(backend, config);
    rig.send_and_check(&[frame(PEER, MAC, 100, 0)]);
    // The transmitter turned off behind the driver's back: QEMU's model
    // then leaves written descriptors unsent.
    rig.backend.device.write8(0, 0x37, 0x08);
    for i in 0..4 {
        rig.driver.transmit(&frame(PEER, MAC, 100, 10 + i)).unwrap();
    }
    assert_eq!(
        rig.driver.transmit(&frame(PEER, MAC, 100, 20)),
        Err(TxError::Full)
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while rig.driver.status().tx_timeouts == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rig.driver.status().tx_timeouts, 1);
    rig.send_and_check(
        &(0..6)
            .map(|i| frame(PEER, MAC, 400, 100 + i))
            .collect::<Vec<_>>(),
    );
}

#[test]
fn killing_the_decaf_process_on_qemu_leaves_traffic_running() {
    if !qemu_available() {
        return;
    }
    let (backend, _qemu, _port) = qemu_backend();
    let mut config = Config::new(decaf());
    config.watchdog = Duration::from_millis(500);
    let rig = Rig::start(backend, config);
    let pid = rig.driver.status().decaf_pid.unwrap();
    sigkill(pid).unwrap();
    rig.send_and_check(
        &(0..10)
            .map(|i| frame(PEER, MAC, 200, i))
            .collect::<Vec<_>>(),
    );
    rig.receive_and_check(
        &(0..10)
            .map(|i| frame(MAC, PEER, 200, i))
            .collect::<Vec<_>>(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.driver.status().decaf_restarts == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = rig.driver.status();
    assert_eq!(st.decaf_restarts, 1);
    assert_ne!(st.decaf_pid, Some(pid));
    rig.send_and_check(&[frame(PEER, MAC, 200, 99)]);
}

#[test]
fn the_multicast_filter_and_promiscuous_mode_on_qemu() {
    if !qemu_available() {
        return;
    }
    let (backend, _qemu, _port) = qemu_backend();
    let rig = Rig::start(backend, Config::new(decaf()));
    let group = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
    let other = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01];
    let stranger = [0x52, 0x54, 0x00, 0x99, 0x99, 0x99];
    rig.driver.set_rx_mode(0, &[group]).unwrap();
    for (i, dst) in [group, other, stranger, MAC].into_iter().enumerate() {
        (rig.backend.inject)(&frame(dst, PEER, 80, i as u32));
    }
    let mut got = rig.os.wait_for(2, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    got.extend(rig.os.wait_for(0, Duration::ZERO));
    assert_eq!(
        got,
        vec![frame(group, PEER, 80, 0), frame(MAC, PEER, 80, 3)],
        "QEMU's hash filter agrees with the driver's"
    );
    rig.driver
        .set_rx_mode(rtl8139::chip::rx_flags::PROMISCUOUS, &[])
        .unwrap();
    (rig.backend.inject)(&frame(stranger, PEER, 80, 9));
    assert_eq!(rig.os.wait_for(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn suspend_and_resume_on_qemu() {
    if !qemu_available() {
        return;
    }
    let (backend, _qemu, _port) = qemu_backend();
    let rig = Rig::start(backend, Config::new(decaf()));
    rig.driver.suspend().unwrap();
    assert_eq!(
        rig.driver.transmit(&frame(PEER, MAC, 64, 0)),
        Err(TxError::Stopped)
    );
    (rig.backend.inject)(&frame(MAC, PEER, 64, 0));
    assert!(rig.os.wait_for(1, Duration::from_millis(300)).is_empty());
    rig.driver.resume().unwrap();
    rig.send_and_check(&[frame(PEER, MAC, 64, 1)]);
    rig.receive_and_check(&[frame(MAC, PEER, 64, 2)]);
}
