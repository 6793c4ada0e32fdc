//! A test host that drives the model through `UsbDevice` the way Linux 6.1's
//! asix driver does (device-facts.md §2.6, §2.10), a wire that records what
//! the model transmits, and a reference RX parser written as a driver would.

#![allow(dead_code)] // each test file uses a different part

use std::sync::{Arc, Mutex};

use devices::ax88772::{
    Ax88772, Clock, Config, EP_BULK_IN, EP_BULK_OUT, EP_STATUS_IN, ManualClock, cmd, reg, sw_reset,
};
use netwire::FrameSink;
use usb::device::{InPoll, SetupPacket, TransferError, UsbDevice, descriptor_type, request};

pub mod rx_parser;
pub use rx_parser::RxParser;

/// bmRequestType values.
pub const VENDOR_IN: u8 = 0xC0;
pub const VENDOR_OUT: u8 = 0x40;
pub const STANDARD_IN: u8 = 0x80;
pub const STANDARD_OUT: u8 = 0x00;
pub const STANDARD_OUT_INTERFACE: u8 = 0x01;
pub const STANDARD_OUT_ENDPOINT: u8 = 0x02;
pub const STANDARD_IN_ENDPOINT: u8 = 0x82;

/// Linux's RX URB size for FLAG_FRAMING_AX devices (§2.7).
pub const RX_URB_SIZE: usize = 2048;
/// Linux's RX_CTL default: SO | AB (§2.5.1).
pub const RX_CTL_DEFAULT: u16 = 0x0088;
/// Linux 6.1's medium-mode default: FD | PS | AC | RE (§2.5.2).
pub const MEDIUM_DEFAULT: u16 = 0x0306;
/// Where Linux puts its frames' source address in these tests.
pub const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub const BROADCAST: [u8; 6] = [0xFF; 6];

/// A wire end that records every frame the model transmits.
#[derive(Default)]
pub struct CaptureWire {
    frames: Mutex<Vec<Vec<u8>>>,
}

impl CaptureWire {
    pub fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.frames.lock().unwrap())
    }
}

impl FrameSink for CaptureWire {
    fn send_frame(&self, frame: &[u8]) {
        self.frames.lock().unwrap().push(frame.to_vec());
    }
}

/// What the probe learned.
#[derive(Debug)]
pub struct Bound {
    pub mac: [u8; 6],
    pub phy_address: u8,
    pub chip_code: u8,
    pub phy_id: u32,
}

/// The test's host: the model plus a record of notifications.
pub struct Host {
    pub dev: Arc<Ax88772>,
    pub clock: Arc<ManualClock>,
    pub wire: Arc<CaptureWire>,
    notified: Arc<Mutex<Vec<u8>>>,
}

impl Host {
    /// A model on a manual clock, a capture wire attached, notifier recorded.
    pub fn new(config: Config) -> Host {
        let clock = Arc::new(ManualClock::new());
        let dev = Arc::new(Ax88772::with_clock(config, clock.clone() as Arc<dyn Clock>));
        let wire = Arc::new(CaptureWire::default());
        dev.attach_wire(wire.clone());
        let notified = Arc::new(Mutex::new(Vec::new()));
        let record = notified.clone();
        dev.set_in_ready_notifier(Arc::new(move |ep| record.lock().unwrap().push(ep)));
        Host {
            dev,
            clock,
            wire,
            notified,
        }
    }

    /// A model already enumerated, bound and opened as Linux would.
    pub fn opened(config: Config) -> Host {
        let host = Host::new(config);
        host.enumerate();
        host.linux_bind();
        host.linux_open();
        host
    }

    pub fn take_notifications(&self) -> Vec<u8> {
        std::mem::take(&mut *self.notified.lock().unwrap())
    }

    // ---- control transfers -------------------------------------------------

    pub fn control_in(
        &self,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> Result<Vec<u8>, TransferError> {
        let setup = SetupPacket {
            request_type,
            request,
            value,
            index,
            length,
        };
        let answer = self.dev.control(setup, &[])?;
        assert!(
            answer.len() <= usize::from(length),
            "answer longer than wLength"
        );
        Ok(answer)
    }

    pub fn control_out(
        &self,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        data: &[u8],
    ) -> Result<(), TransferError> {
        let setup = SetupPacket {
            request_type,
            request,
            value,
            index,
            length: data.len() as u16,
        };
        let answer = self.dev.control(setup, data)?;
        assert!(answer.is_empty(), "OUT request answered data");
        Ok(())
    }

    /// A vendor read that, like Linux 6.1, insists on the full length (§2.3).
    pub fn vendor_read(
        &self,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> Result<Vec<u8>, TransferError> {
        let answer = self.control_in(VENDOR_IN, request, value, index, length)?;
        assert_eq!(
            answer.len(),
            usize::from(length),
            "short read of request {request:#04x}"
        );
        Ok(answer)
    }

    pub fn vendor_write(
        &self,
        request: u8,
        value: u16,
        index: u16,
        data: &[u8],
    ) -> Result<(), TransferError> {
        self.control_out(VENDOR_OUT, request, value, index, data)
    }

    pub fn read_u16(&self, request: u8) -> u16 {
        let bytes = self.vendor_read(request, 0, 0, 2).unwrap();
        u16::from_le_bytes([bytes[0], bytes[1]])
    }

    pub fn read_u8(&self, request: u8) -> u8 {
        self.vendor_read(request, 0, 0, 1).unwrap()[0]
    }

    // ---- enumeration (USB core, §2.2) ---------------------------------------

    pub fn enumerate(&self) {
        let device = self
            .control_in(
                STANDARD_IN,
                request::GET_DESCRIPTOR,
                u16::from(descriptor_type::DEVICE) << 8,
                0,
                64,
            )
            .unwrap();
        assert_eq!(device.len(), 18);
        self.control_out(STANDARD_OUT, request::SET_ADDRESS, 5, 0, &[])
            .unwrap();
        let head = self
            .control_in(
                STANDARD_IN,
                request::GET_DESCRIPTOR,
                u16::from(descriptor_type::CONFIGURATION) << 8,
                0,
                9,
            )
            .unwrap();
        let total = u16::from_le_bytes([head[2], head[3]]);
        let config = self
            .control_in(
                STANDARD_IN,
                request::GET_DESCRIPTOR,
                u16::from(descriptor_type::CONFIGURATION) << 8,
                0,
                total,
            )
            .unwrap();
        assert_eq!(config.len(), usize::from(total));
        self.control_out(
            STANDARD_OUT,
            request::SET_CONFIGURATION,
            u16::from(config[5]),
            0,
            &[],
        )
        .unwrap();
        // usbnet_get_endpoints: SET_INTERFACE(alt 0) even for altsetting 0.
        self.control_out(STANDARD_OUT_INTERFACE, request::SET_INTERFACE, 0, 0, &[])
            .unwrap();
    }

    // ---- MDIO (§2.6) --------------------------------------------------------

    /// Take the MDIO bus as Linux does: SET_SW_MII, then poll Host_EN up to 30 times.
    pub fn mdio_acquire(&self) -> Result<(), &'static str> {
        for _ in 0..30 {
            self.vendor_write(cmd::SET_SW_MII, 0, 0, &[]).unwrap();
            if self.read_u8(cmd::STATMNGSTS_REG) & 0x01 != 0 {
                return Ok(());
            }
        }
        Err("timed out waiting for Host_EN")
    }

    pub fn mdio_read(&self, phy: u8, register: u8) -> u16 {
        self.mdio_acquire().unwrap();
        let bytes = self
            .vendor_read(cmd::READ_MII_REG, u16::from(phy), u16::from(register), 2)
            .unwrap();
        self.vendor_write(cmd::SET_HW_MII, 0, 0, &[]).unwrap();
        u16::from_le_bytes([bytes[0], bytes[1]])
    }

    pub fn mdio_write(&self, phy: u8, register: u8, value: u16) {
        self.mdio_acquire().unwrap();
        self.vendor_write(
            cmd::WRITE_MII_REG,
            u16::from(phy),
            u16::from(register),
            &value.to_le_bytes(),
        )
        .unwrap();
        self.vendor_write(cmd::SET_HW_MII, 0, 0, &[]).unwrap();
    }

    // ---- Linux 6.1 probe and open (§2.10) ----------------------------------

    /// ax88772_bind for chip code 0, through the MDIO bus scan.
    pub fn linux_bind(&self) -> Bound {
        let mac: [u8; 6] = self
            .vendor_read(cmd::READ_NODE_ID, 0, 0, 6)
            .unwrap()
            .try_into()
            .unwrap();
        let phy_ids = self.vendor_read(cmd::READ_PHY_ID, 0, 0, 2).unwrap();
        let phy_address = phy_ids[1];
        assert!(phy_address < 32, "Linux fails bind with -ENODEV");
        let chip_code = (self.read_u8(cmd::STATMNGSTS_REG) >> 4) & 0x07;
        self.linux_hw_reset(mac, phy_address & 0x1F == 0x10);
        // MDIO bus scan at phy_addr: PHYSID1, PHYSID2, then BMSR for abilities.
        let id1 = self.mdio_read(phy_address, reg::PHYSID1);
        let id2 = self.mdio_read(phy_address, reg::PHYSID2);
        let _abilities = self.mdio_read(phy_address, reg::BMSR);
        // phylink connects, then suspends the PHY until open.
        let bmcr = self.mdio_read(phy_address, reg::BMCR);
        self.mdio_write(phy_address, reg::BMCR, bmcr | 0x0800);
        Bound {
            mac,
            phy_address,
            chip_code,
            phy_id: u32::from(id1) << 16 | u32::from(id2),
        }
    }

    /// ax88772_hw_reset (§2.10 step 5), without the sleeps.
    pub fn linux_hw_reset(&self, mac: [u8; 6], embedded_phy: bool) {
        self.vendor_write(cmd::WRITE_GPIOS, 0x00B0, 0, &[]).unwrap();
        self.vendor_write(cmd::SW_PHY_SELECT, u16::from(embedded_phy), 0, &[])
            .unwrap();
        if embedded_phy {
            self.vendor_write(cmd::SW_RESET, u16::from(sw_reset::IPPD), 0, &[])
                .unwrap();
            self.vendor_write(cmd::SW_RESET, 0, 0, &[]).unwrap();
            self.vendor_write(
                cmd::SW_RESET,
                u16::from(sw_reset::IPRL | sw_reset::PRL),
                0,
                &[],
            )
            .unwrap();
        } else {
            self.vendor_write(
                cmd::SW_RESET,
                u16::from(sw_reset::IPPD | sw_reset::PRL),
                0,
                &[],
            )
            .unwrap();
        }
        self.vendor_write(cmd::WRITE_RX_CTL, RX_CTL_DEFAULT, 0, &[])
            .unwrap();
        self.vendor_write(cmd::WRITE_MEDIUM_MODE, MEDIUM_DEFAULT, 0, &[])
            .unwrap();
        self.vendor_write(cmd::WRITE_IPG0, 0x001D, 0x0012, &[])
            .unwrap();
        self.vendor_write(cmd::WRITE_NODE_ID, 0, 0, &mac).unwrap();
        self.vendor_write(cmd::WRITE_RX_CTL, RX_CTL_DEFAULT, 0, &[])
            .unwrap();
        assert_eq!(self.read_u16(cmd::READ_RX_CTL), RX_CTL_DEFAULT);
        assert_eq!(self.read_u16(cmd::READ_MEDIUM_STATUS), MEDIUM_DEFAULT);
    }

    /// usbnet_open → ax88772_reset → phylink_start (PHY resume, autoneg).
    pub fn linux_open(&self) {
        let mac: [u8; 6] = self
            .vendor_read(cmd::READ_NODE_ID, 0, 0, 6)
            .unwrap()
            .try_into()
            .unwrap();
        self.vendor_write(cmd::WRITE_NODE_ID, 0, 0, &mac).unwrap();
        self.vendor_write(cmd::WRITE_RX_CTL, RX_CTL_DEFAULT, 0, &[])
            .unwrap();
        self.vendor_write(cmd::WRITE_MEDIUM_MODE, MEDIUM_DEFAULT, 0, &[])
            .unwrap();
        let bmcr = self.mdio_read(0x10, reg::BMCR);
        self.mdio_write(0x10, reg::BMCR, bmcr & !0x0800); // resume
        self.mdio_write(0x10, reg::ADVERTISE, 0x05E1); // 10/100 + pause
        let bmcr = self.mdio_read(0x10, reg::BMCR);
        self.mdio_write(0x10, reg::BMCR, bmcr | 0x1000 | 0x0200); // ANENABLE | ANRESTART
    }

    /// genphy_update_link: BMSR twice when the link was down.
    pub fn linux_link_up(&self) -> bool {
        let _latched = self.mdio_read(0x10, reg::BMSR);
        self.mdio_read(0x10, reg::BMSR) & 0x0004 != 0
    }

    // ---- data endpoints -----------------------------------------------------

    pub fn bulk_in(&self, len: usize) -> InPoll {
        let mut buf = vec![0; len];
        self.dev.transfer_in(EP_BULK_IN, &mut buf)
    }

    /// Bulk-IN transfers of `len` bytes until Pending; their bytes.
    pub fn drain_bulk_in(&self, len: usize) -> Vec<Vec<u8>> {
        let mut transfers = Vec::new();
        for _ in 0..100_000 {
            let mut buf = vec![0; len];
            match self.dev.transfer_in(EP_BULK_IN, &mut buf) {
                InPoll::Ready(n) => transfers.push(buf[..n].to_vec()),
                InPoll::Pending => return transfers,
                InPoll::Failed(e) => panic!("bulk IN failed: {e:?}"),
            }
        }
        panic!("bulk IN never ran dry");
    }

    /// The frames a Linux-like parser makes of everything on bulk IN.
    pub fn receive_all(&self, parser: &mut RxParser) -> Vec<Vec<u8>> {
        for transfer in self.drain_bulk_in(RX_URB_SIZE) {
            parser.feed(&transfer);
        }
        std::mem::take(&mut parser.frames)
    }

    pub fn poll_status(&self) -> InPoll {
        let mut buf = [0; 8];
        self.dev.transfer_in(EP_STATUS_IN, &mut buf)
    }

    /// The status packet's link bit, if the endpoint answered.
    pub fn status_link(&self) -> Option<bool> {
        let mut buf = [0; 8];
        match self.dev.transfer_in(EP_STATUS_IN, &mut buf) {
            InPoll::Ready(8) => {
                assert_eq!(buf[0], 0xA1);
                Some(buf[2] & 1 != 0)
            }
            InPoll::Pending => None,
            other => panic!("interrupt IN: {other:?}"),
        }
    }

    /// A frame arrives from the wire.
    pub fn arrive_from_wire(&self, frame: &[u8]) {
        self.dev.send_frame(frame);
    }

    /// asix_tx_fixup: one frame per transfer.
    pub fn transmit(&self, frame: &[u8]) -> Result<(), TransferError> {
        self.dev.transfer_out(EP_BULK_OUT, &linux_tx(frame, 512))
    }
}

/// asix_tx_fixup_internal: header, frame, and the 0xFFFF0000 trailer when
/// len + 4 is a multiple of the max packet size (§2.8).
pub fn linux_tx(frame: &[u8], max_packet: usize) -> Vec<u8> {
    let len = frame.len() as u32;
    let mut out = ((len ^ 0xFFFF) << 16 | len).to_le_bytes().to_vec();
    out.extend_from_slice(frame);
    if (frame.len() + 4).is_multiple_of(max_packet) {
        out.extend_from_slice(&0xFFFF_0000u32.to_le_bytes());
    }
    out
}

/// An Ethernet frame of `len` bytes to `destination`, with a payload that
/// never contains a valid RX header by accident (bytes are 0x20..=0x7F).
pub fn test_frame(destination: [u8; 6], len: usize, seed: u32) -> Vec<u8> {
    let mut frame = destination.to_vec();
    frame.extend_from_slice(&PEER_MAC);
    frame.extend_from_slice(&[0x88, 0xB5]);
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    while frame.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        frame.push(0x20 + (x % 0x60) as u8);
    }
    frame.truncate(len);
    frame
}

/// A model's node ID.
pub fn node_id(host: &Host) -> [u8; 6] {
    host.dev.registers().node_id
}
