//! Linux 6.1's probe, open and link detection (device-facts.md §2.10,
//! §2.12), the PHY's clause-22 behaviour (§2.13), the interrupt endpoint
//! (§2.9) and suspend/resume.

mod common;

use std::time::Duration;

use common::*;
use devices::ax88772::{Config, DEFAULT_PHY_ID, EP_STATUS_IN, InterruptMode, bmcr, bmsr, reg};
use usb::device::{InPoll, TransferError, UsbDevice};

#[test]
fn probe_finds_mac_embedded_phy_and_chip_code() {
    let host = Host::new(Config::default());
    host.enumerate();
    let bound = host.linux_bind();
    assert_eq!(bound.mac, devices::ax88772::DEFAULT_MAC);
    assert_eq!(bound.phy_address, 0x10);
    assert_eq!(bound.chip_code, 0);
    assert_eq!(bound.phy_id, DEFAULT_PHY_ID);
    assert_ne!(bound.phy_id & 0x1FFF_FFFF, 0x1FFF_FFFF, "a PHY is present");
    // 6.1 quirk (§2.14 item 9): the resume check reads PHY 0, which must read 0xFFFF.
    assert_eq!(host.mdio_read(0, reg::PHYSID1), 0xFFFF);
    // After bind the PHY is suspended: no link until open.
    assert_ne!(host.mdio_read(0x10, reg::BMCR) & bmcr::PDOWN, 0);
    assert!(!host.dev.link_up());
}

#[test]
fn open_brings_the_link_up_seen_through_bmsr_and_status() {
    let host = Host::new(Config::default());
    host.enumerate();
    host.linux_bind();
    // The link went up at power-on and down again through the reset and
    // the PHY suspend: that change is news, once.
    assert_eq!(host.status_link(), Some(false));
    assert_eq!(
        host.status_link(),
        None,
        "no news while the link stays down"
    );
    host.linux_open();
    assert!(host.dev.link_up());
    assert!(host.take_notifications().contains(&EP_STATUS_IN));
    assert_eq!(host.status_link(), Some(true));
    assert_eq!(host.status_link(), None, "Pending until the next change");
    // BMSR: LSTATUS latched low since the reset, then up; AN complete; LPA.
    let first = host.mdio_read(0x10, reg::BMSR);
    assert_eq!(first & bmsr::LSTATUS, 0, "latched low");
    let second = host.mdio_read(0x10, reg::BMSR);
    assert_ne!(second & bmsr::LSTATUS, 0);
    assert_ne!(second & bmsr::ANEGCOMPLETE, 0);
    assert_eq!(second & 0x7808, 0x7808, "10/100 abilities, autoneg capable");
    assert_eq!(
        host.mdio_read(0x10, reg::LPA),
        devices::ax88772::DEFAULT_LINK_PARTNER
    );
    assert_eq!(
        host.mdio_read(0x10, reg::BMCR) & (bmcr::ANRESTART | bmcr::RESET),
        0,
        "self-cleared"
    );
    assert!(host.linux_link_up());
}

#[test]
fn unplugging_drops_the_link_and_the_latch_remembers() {
    let host = Host::opened(Config::default());
    assert!(host.linux_link_up());
    assert_eq!(host.status_link(), Some(true));
    host.take_notifications();
    host.dev.set_carrier(false);
    assert!(!host.dev.carrier());
    assert!(host.take_notifications().contains(&EP_STATUS_IN));
    assert_eq!(host.status_link(), Some(false));
    assert_eq!(host.mdio_read(0x10, reg::LPA), 0);
    assert_eq!(
        host.mdio_read(0x10, reg::BMSR) & (bmsr::LSTATUS | bmsr::ANEGCOMPLETE),
        0
    );
    host.dev.set_carrier(true);
    assert_eq!(host.status_link(), Some(true));
    // A flap between two BMSR reads reads low once.
    assert!(host.linux_link_up());
    host.dev.set_carrier(false);
    host.dev.set_carrier(true);
    assert_eq!(host.mdio_read(0x10, reg::BMSR) & bmsr::LSTATUS, 0);
    assert_ne!(host.mdio_read(0x10, reg::BMSR) & bmsr::LSTATUS, 0);
}

#[test]
fn autonegotiation_takes_the_configured_time_on_the_clock() {
    let host = Host::new(Config {
        autoneg_delay: Duration::from_millis(1500),
        ..Config::default()
    });
    host.enumerate();
    host.linux_bind();
    host.linux_open();
    assert!(!host.dev.link_up());
    assert!(!host.linux_link_up());
    host.clock.advance(Duration::from_millis(1499));
    host.dev.tick();
    assert!(!host.dev.link_up());
    host.take_notifications();
    host.clock.advance(Duration::from_millis(1));
    host.dev.tick();
    assert!(host.dev.link_up());
    assert_eq!(
        host.take_notifications(),
        vec![EP_STATUS_IN],
        "tick notifies the change"
    );
    assert!(host.linux_link_up());
    // Restarting autonegotiation drops the link for another delay.
    let bmcr_now = host.mdio_read(0x10, reg::BMCR);
    host.mdio_write(0x10, reg::BMCR, bmcr_now | bmcr::ANRESTART);
    assert!(!host.dev.link_up());
    host.clock.advance(Duration::from_millis(1500));
    assert!(host.dev.link_up(), "any access notices the time");
}

#[test]
fn link_needs_carrier_power_and_no_reset() {
    let host = Host::opened(Config::default());
    assert!(host.dev.link_up());
    host.mdio_write(0x10, reg::BMCR, bmcr::ANENABLE | bmcr::PDOWN);
    assert!(!host.dev.link_up(), "powered down");
    host.mdio_write(0x10, reg::BMCR, bmcr::ANENABLE);
    assert!(host.dev.link_up());
    host.mdio_write(0x10, reg::BMCR, bmcr::RESET);
    assert_eq!(
        host.mdio_read(0x10, reg::BMCR),
        0x3100,
        "defaults after reset"
    );
    assert!(host.dev.link_up());
    // Forced mode: link without negotiation, and no AN-complete bit.
    host.mdio_write(0x10, reg::BMCR, bmcr::SPEED100 | bmcr::FULLDPLX);
    assert!(host.dev.link_up());
    assert!(host.linux_link_up());
    assert_eq!(host.mdio_read(0x10, reg::BMSR) & bmsr::ANEGCOMPLETE, 0);
    // No common mode with the partner: negotiation never completes.
    host.mdio_write(0x10, reg::ADVERTISE, 0x0001);
    host.mdio_write(0x10, reg::BMCR, bmcr::ANENABLE | bmcr::ANRESTART);
    assert!(!host.dev.link_up());
    host.dev.set_carrier(false);
    host.mdio_write(0x10, reg::ADVERTISE, 0x01E1);
    host.mdio_write(0x10, reg::BMCR, bmcr::ANENABLE | bmcr::ANRESTART);
    assert!(!host.dev.link_up(), "no carrier");
}

#[test]
fn interrupt_endpoint_every_poll_mode() {
    let host = Host::opened(Config {
        interrupt_mode: InterruptMode::EveryPoll,
        ..Config::default()
    });
    for _ in 0..3 {
        assert_eq!(host.status_link(), Some(true));
    }
    host.dev.set_carrier(false);
    assert_eq!(host.status_link(), Some(false));
    assert_eq!(host.status_link(), Some(false));
    host.dev.set_interrupt_mode(InterruptMode::OnChange);
    assert_eq!(host.status_link(), None);
}

#[test]
fn status_packet_layout_and_short_buffers() {
    let host = Host::opened(Config::default());
    let mut short = [0; 4];
    assert_eq!(
        host.dev.transfer_in(EP_STATUS_IN, &mut short),
        InPoll::Failed(TransferError::Overflow)
    );
    let mut buf = [0xEE; 16];
    assert_eq!(
        host.dev.transfer_in(EP_STATUS_IN, &mut buf),
        InPoll::Ready(8),
        "not consumed by the overflow"
    );
    assert_eq!(&buf[..8], &[0xA1, 0, 1, 0, 0, 0, 0, 0]);
    assert_eq!(host.dev.stats().status_packets, 1);
}

#[test]
fn suspend_refuses_transfers_and_resume_notifies() {
    let host = Host::opened(Config::default());
    assert_eq!(host.status_link(), Some(true));
    // Linux suspend: clear RE in the medium mode.
    let mode = host.read_u16(devices::ax88772::cmd::READ_MEDIUM_STATUS);
    host.vendor_write(
        devices::ax88772::cmd::WRITE_MEDIUM_MODE,
        mode & !0x0100,
        0,
        &[],
    )
    .unwrap();
    host.dev.suspend();
    host.take_notifications();
    assert_eq!(host.bulk_in(2048), InPoll::Failed(TransferError::Suspended));
    assert_eq!(host.poll_status(), InPoll::Failed(TransferError::Suspended));
    assert_eq!(
        host.transmit(&test_frame(BROADCAST, 60, 0)),
        Err(TransferError::Suspended)
    );
    assert_eq!(
        host.control_in(VENDOR_IN, devices::ax88772::cmd::READ_RX_CTL, 0, 0, 2),
        Err(TransferError::Suspended)
    );
    host.dev.set_carrier(false);
    assert!(
        host.take_notifications().is_empty(),
        "no notifications while suspended"
    );
    host.dev.resume();
    let woken = host.take_notifications();
    assert!(woken.contains(&0x81) && woken.contains(&0x82));
    assert_eq!(
        host.status_link(),
        Some(false),
        "the change during suspend is reported"
    );
    // Linux resume: hardware reset, then open again.
    host.dev.set_carrier(true);
    host.linux_hw_reset(node_id(&host), true);
    host.linux_open();
    assert!(host.linux_link_up());
    let me = node_id(&host);
    host.arrive_from_wire(&test_frame(me, 80, 9));
    let mut parser = RxParser::default();
    assert_eq!(host.receive_all(&mut parser), vec![test_frame(me, 80, 9)]);
}

#[test]
fn frames_arriving_while_suspended_wait_in_the_fifo() {
    let host = Host::opened(Config::default());
    let me = node_id(&host);
    host.dev.suspend();
    host.arrive_from_wire(&test_frame(me, 200, 1));
    host.dev.resume();
    let mut parser = RxParser::default();
    assert_eq!(host.receive_all(&mut parser), vec![test_frame(me, 200, 1)]);
}
