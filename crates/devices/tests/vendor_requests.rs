//! Every vendor request of device-facts.md §2.4, with the register fields of
//! §2.5 and the MDIO handshake of §2.6.

mod common;

use common::*;
use devices::ax88772::{
    Config, DEFAULT_MAC, DEFAULT_PHY_ID, MdioOwner, cmd, reg, rx_ctl, sw_reset,
};
use usb::device::{InPoll, TransferError};

fn host() -> Host {
    let host = Host::new(Config::default());
    host.enumerate();
    host
}

#[test]
fn reads_return_their_full_natural_length() {
    let host = host();
    for (request, length) in [
        (cmd::STATMNGSTS_REG, 1),
        (cmd::READ_EEPROM, 2),
        (cmd::READ_RX_CTL, 2),
        (cmd::READ_IPG012, 3),
        (cmd::READ_NODE_ID, 6),
        (cmd::READ_MULTI_FILTER, 8),
        (cmd::READ_PHY_ID, 2),
        (cmd::READ_MEDIUM_STATUS, 2),
        (cmd::READ_MONITOR_MODE, 1),
        (cmd::READ_GPIOS, 1),
    ] {
        host.vendor_read(request, 0, 0, length).unwrap();
        assert_eq!(
            host.control_in(VENDOR_IN, request, 0, 0, 1).unwrap().len(),
            1,
            "truncated to wLength"
        );
        assert_eq!(
            host.control_in(VENDOR_IN, request, 0, 0, 64).unwrap().len(),
            usize::from(length)
        );
    }
}

#[test]
fn statmngsts_reports_chip_code_zero_and_host_en() {
    let host = host();
    assert_eq!(
        host.read_u8(cmd::STATMNGSTS_REG),
        0x00,
        "772, hardware owns MDIO"
    );
    host.vendor_write(cmd::SET_SW_MII, 0, 0, &[]).unwrap();
    assert_eq!(host.read_u8(cmd::STATMNGSTS_REG), 0x01);
    host.vendor_write(cmd::SET_HW_MII, 0, 0, &[]).unwrap();
    assert_eq!(host.read_u8(cmd::STATMNGSTS_REG), 0x00);
}

#[test]
fn phy_id_names_the_embedded_phy_at_0x10() {
    let host = host();
    assert_eq!(
        host.vendor_read(cmd::READ_PHY_ID, 0, 0, 2).unwrap(),
        vec![0xE0, 0x10]
    );
}

#[test]
fn mdio_access_needs_the_handshake() {
    let host = host();
    assert_eq!(
        host.vendor_read(cmd::READ_MII_REG, 0x10, 2, 2),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.vendor_write(cmd::WRITE_MII_REG, 0x10, 4, &[0, 0]),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.mdio_read(0x10, reg::PHYSID1),
        (DEFAULT_PHY_ID >> 16) as u16
    );
    assert_eq!(host.mdio_read(0x10, reg::PHYSID2), DEFAULT_PHY_ID as u16);
    assert_eq!(
        host.dev.registers().mdio_owner,
        MdioOwner::Hardware,
        "SET_HW_MII gave it back"
    );
    assert_eq!(
        host.vendor_read(cmd::READ_MII_REG, 0x10, 2, 2),
        Err(TransferError::Stall)
    );
}

#[test]
fn slow_mdio_handover_is_polled_for() {
    let host = Host::new(Config {
        mdio_handover_reads: 3,
        ..Config::default()
    });
    host.enumerate();
    host.vendor_write(cmd::SET_SW_MII, 0, 0, &[]).unwrap();
    for _ in 0..3 {
        assert_eq!(host.read_u8(cmd::STATMNGSTS_REG) & 1, 0);
        assert_eq!(
            host.vendor_read(cmd::READ_MII_REG, 0x10, 2, 2),
            Err(TransferError::Stall)
        );
    }
    assert_eq!(host.read_u8(cmd::STATMNGSTS_REG) & 1, 1);
    host.vendor_read(cmd::READ_MII_REG, 0x10, 2, 2).unwrap();
    host.vendor_write(cmd::SET_HW_MII, 0, 0, &[]).unwrap();
    // Linux's loop (re-sending SET_SW_MII each time) gets through too.
    assert_eq!(
        host.mdio_read(0x10, reg::PHYSID1),
        (DEFAULT_PHY_ID >> 16) as u16
    );
}

#[test]
fn absent_phys_read_all_ones_and_ignore_writes() {
    let host = host();
    for phy in [0, 1, 0x0F, 0x11, 0x1F] {
        assert_eq!(host.mdio_read(phy, reg::PHYSID1), 0xFFFF);
        host.mdio_write(phy, reg::BMCR, 0x8000);
    }
    assert_eq!(
        host.mdio_read(0x30, reg::PHYSID1),
        (DEFAULT_PHY_ID >> 16) as u16,
        "5-bit address"
    );
}

#[test]
fn mdio_write_reaches_the_phy() {
    let host = host();
    host.mdio_write(0x10, reg::ADVERTISE, 0x0DE1);
    assert_eq!(host.mdio_read(0x10, reg::ADVERTISE), 0x0DE1);
    host.mdio_write(0x10, 0x14, 0x442C); // vendor registers are storage
    assert_eq!(host.mdio_read(0x10, 0x14), 0x442C);
}

#[test]
fn eeprom_holds_the_mac_and_writes_need_enable() {
    let host = host();
    let words: Vec<u16> = (4..7)
        .map(|w| {
            u16::from_le_bytes(
                host.vendor_read(cmd::READ_EEPROM, w, 0, 2)
                    .unwrap()
                    .try_into()
                    .unwrap(),
            )
        })
        .collect();
    let mac: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(mac, DEFAULT_MAC);
    assert_eq!(
        host.vendor_read(cmd::READ_EEPROM, 0x20, 0, 2).unwrap(),
        vec![0xFF, 0xFF],
        "erased"
    );
    host.vendor_write(cmd::WRITE_EEPROM, 0x20, 0x1234, &[])
        .unwrap();
    assert_eq!(
        host.vendor_read(cmd::READ_EEPROM, 0x20, 0, 2).unwrap(),
        vec![0xFF, 0xFF],
        "not enabled"
    );
    assert_eq!(host.dev.stats().eeprom_writes_ignored, 1);
    host.vendor_write(cmd::WRITE_ENABLE, 0, 0, &[]).unwrap();
    host.vendor_write(cmd::WRITE_EEPROM, 0x20, 0x1234, &[])
        .unwrap();
    host.vendor_write(cmd::WRITE_DISABLE, 0, 0, &[]).unwrap();
    host.vendor_write(cmd::WRITE_EEPROM, 0x20, 0x5678, &[])
        .unwrap();
    assert_eq!(
        host.vendor_read(cmd::READ_EEPROM, 0x20, 0, 2).unwrap(),
        vec![0x34, 0x12]
    );
    assert_eq!(host.dev.eeprom()[0x20], 0x1234);
    assert_eq!(
        host.vendor_read(cmd::READ_EEPROM, 256, 0, 2),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.vendor_write(cmd::WRITE_EEPROM, 256, 0, &[]),
        Err(TransferError::Stall)
    );
}

#[test]
fn rx_ctl_medium_mode_and_monitor_mode_latch() {
    let host = host();
    assert_eq!(host.read_u16(cmd::READ_RX_CTL), 0, "power-on: receiver off");
    host.vendor_write(cmd::WRITE_RX_CTL, 0x0399, 0, &[])
        .unwrap();
    assert_eq!(host.read_u16(cmd::READ_RX_CTL), 0x0399);
    host.vendor_write(cmd::WRITE_MEDIUM_MODE, 0x0336, 0, &[])
        .unwrap();
    assert_eq!(host.read_u16(cmd::READ_MEDIUM_STATUS), 0x0336);
    host.vendor_write(cmd::WRITE_MONITOR_MODE, 0x0007, 0, &[])
        .unwrap();
    assert_eq!(host.read_u8(cmd::READ_MONITOR_MODE), 0x07);
}

#[test]
fn ipg_latches_whatever_is_written() {
    let host = host();
    assert_eq!(
        host.vendor_read(cmd::READ_IPG012, 0, 0, 3).unwrap(),
        vec![0x15, 0x0C, 0x12]
    );
    host.vendor_write(cmd::WRITE_IPG0, 0x001D, 0x0012, &[])
        .unwrap(); // Linux
    assert_eq!(
        host.vendor_read(cmd::READ_IPG012, 0, 0, 3).unwrap(),
        vec![0x1D, 0x00, 0x12]
    );
    host.vendor_write(cmd::WRITE_IPG0, 0x0C15, 0x0012, &[])
        .unwrap(); // FreeBSD
    assert_eq!(
        host.vendor_read(cmd::READ_IPG012, 0, 0, 3).unwrap(),
        vec![0x15, 0x0C, 0x12]
    );
}

#[test]
fn node_id_and_multicast_filter_need_their_data_stage() {
    let host = host();
    assert_eq!(
        host.vendor_read(cmd::READ_NODE_ID, 0, 0, 6).unwrap(),
        DEFAULT_MAC
    );
    let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    host.vendor_write(cmd::WRITE_NODE_ID, 0, 0, &mac).unwrap();
    assert_eq!(host.vendor_read(cmd::READ_NODE_ID, 0, 0, 6).unwrap(), mac);
    assert_eq!(
        host.vendor_write(cmd::WRITE_NODE_ID, 0, 0, &mac[..5]),
        Err(TransferError::Stall)
    );
    let hash = [1, 2, 3, 4, 5, 6, 7, 8];
    host.vendor_write(cmd::WRITE_MULTI_FILTER, 0, 0, &hash)
        .unwrap();
    assert_eq!(
        host.vendor_read(cmd::READ_MULTI_FILTER, 0, 0, 8).unwrap(),
        hash
    );
    assert_eq!(
        host.vendor_write(cmd::WRITE_MULTI_FILTER, 0, 0, &hash[..7]),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.vendor_write(cmd::WRITE_MII_REG, 0x10, 0, &[1]),
        Err(TransferError::Stall)
    );
}

#[test]
fn gpio_rse_reloads_the_node_id_from_the_eeprom() {
    let host = host();
    host.vendor_write(cmd::WRITE_NODE_ID, 0, 0, &[2, 2, 2, 2, 2, 2])
        .unwrap();
    host.vendor_write(cmd::WRITE_GPIOS, 0x0030, 0, &[]).unwrap();
    assert_eq!(host.read_u8(cmd::READ_GPIOS), 0x30);
    assert_eq!(node_id(&host), [2; 6], "no reload without RSE");
    host.vendor_write(cmd::WRITE_GPIOS, 0x00B0, 0, &[]).unwrap();
    assert_eq!(host.read_u8(cmd::READ_GPIOS), 0xB0);
    assert_eq!(node_id(&host), DEFAULT_MAC);
}

#[test]
fn sw_phy_select_latches() {
    let host = host();
    assert_eq!(host.dev.registers().phy_select, 1, "embedded at power-on");
    host.vendor_write(cmd::SW_PHY_SELECT, 0x0011, 0, &[])
        .unwrap();
    assert_eq!(host.dev.registers().phy_select, 0x11);
}

#[test]
fn sw_reset_controls_the_internal_phy() {
    let host = host();
    host.mdio_write(0x10, reg::ADVERTISE, 0x0061);
    host.vendor_write(cmd::SW_RESET, u16::from(sw_reset::IPPD), 0, &[])
        .unwrap();
    assert_eq!(
        host.mdio_read(0x10, reg::PHYSID1),
        0xFFFF,
        "powered down: silent"
    );
    assert!(!host.dev.link_up());
    host.vendor_write(cmd::SW_RESET, 0, 0, &[]).unwrap();
    assert_eq!(
        host.mdio_read(0x10, reg::PHYSID1),
        0xFFFF,
        "held in reset: silent"
    );
    host.vendor_write(
        cmd::SW_RESET,
        u16::from(sw_reset::IPRL | sw_reset::PRL),
        0,
        &[],
    )
    .unwrap();
    assert_eq!(
        host.mdio_read(0x10, reg::PHYSID1),
        (DEFAULT_PHY_ID >> 16) as u16
    );
    assert_eq!(
        host.mdio_read(0x10, reg::ADVERTISE),
        0x01E1,
        "registers back to defaults"
    );
    assert!(host.dev.link_up());
    assert_eq!(host.dev.registers().sw_reset, 0x28);
}

#[test]
fn sw_reset_rr_empties_the_rx_fifo_and_bz_sends_a_zlp() {
    let host = Host::opened(Config::default());
    let me = node_id(&host);
    host.arrive_from_wire(&test_frame(me, 100, 1));
    assert_eq!(host.dev.stats().rx_fifo_frames, 1);
    host.vendor_write(
        cmd::SW_RESET,
        u16::from(sw_reset::RR | sw_reset::IPRL),
        0,
        &[],
    )
    .unwrap();
    assert_eq!(host.dev.stats().rx_fifo_frames, 0);
    assert_eq!(host.dev.stats().rx_dropped.reset, 1);
    host.arrive_from_wire(&test_frame(me, 100, 2));
    assert_eq!(
        host.dev.stats().rx_dropped.receiver_off,
        1,
        "RX held in reset while RR is set"
    );
    host.take_notifications();
    host.vendor_write(
        cmd::SW_RESET,
        u16::from(sw_reset::BZ | sw_reset::IPRL),
        0,
        &[],
    )
    .unwrap();
    assert!(host.take_notifications().contains(&0x82));
    assert_eq!(host.bulk_in(2048), InPoll::Ready(0));
    assert_eq!(host.bulk_in(2048), InPoll::Pending);
}

#[test]
fn unknown_wrong_direction_and_772b_requests_stall() {
    let host = host();
    for code in [0x00, 0x05, 0x17, 0x18, 0x21, 0x23, 0x2A, 0x2B, 0xFF] {
        assert_eq!(
            host.control_in(VENDOR_IN, code, 0, 0, 2),
            Err(TransferError::Stall),
            "read {code:#x}"
        );
        assert_eq!(
            host.control_out(VENDOR_OUT, code, 0x8000, 0x8001, &[]),
            Err(TransferError::Stall),
            "write {code:#x}"
        );
    }
    assert_eq!(
        host.control_out(VENDOR_OUT, cmd::READ_RX_CTL, 0, 0, &[]),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_in(VENDOR_IN, cmd::WRITE_RX_CTL, 0, 0, 2),
        Err(TransferError::Stall)
    );
    assert_eq!(
        host.control_in(0xC1, cmd::READ_RX_CTL, 0, 0, 2),
        Err(TransferError::Stall),
        "interface recipient"
    );
    assert_eq!(host.read_u16(cmd::READ_RX_CTL) & rx_ctl::SO, 0);
}
