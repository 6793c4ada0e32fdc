//! A fake USB device for the tests: a loopback with scriptable faults.
//!
//! - endpoint 0: GET_DESCRIPTOR (device, configuration), SET_ADDRESS,
//!   SET_CONFIGURATION, SET_INTERFACE (alt 0 or 1), CLEAR_FEATURE, and two
//!   vendor requests on a 256-byte register file (0x40/0x10 write,
//!   0xC0/0x11 read at wIndex);
//! - bulk OUT `0x01` echoes each transfer into bulk IN `0x81`;
//! - interrupt IN `0x83` sends what the test posts.
//!
//! Alt 0 has all three endpoints (max packet 512/512/8); alt 1 only the
//! bulk pair, with max packet 64.
#![allow(dead_code)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use usb::device::{InPoll, InReadyNotifier, SetupPacket, TransferError, UsbDevice};

pub const BULK_OUT: u8 = 0x01;
pub const BULK_IN: u8 = 0x81;
pub const INTR_IN: u8 = 0x83;
pub const VENDOR_ID: u16 = 0x0b95;
pub const PRODUCT_ID: u16 = 0x7720;

pub fn device_descriptor() -> Vec<u8> {
    let mut d = vec![18, 1, 0x00, 0x02, 0xff, 0xff, 0, 64];
    d.extend(VENDOR_ID.to_le_bytes());
    d.extend(PRODUCT_ID.to_le_bytes());
    d.extend([0x01, 0x00, 1, 2, 3, 1]);
    d
}

pub fn config_descriptor() -> Vec<u8> {
    let mut c = vec![9, 2, 0, 0, 1, 1, 0, 0xa0, 125];
    c.extend([9, 4, 0, 0, 3, 0xff, 0xff, 0, 0]);
    c.extend([7, 5, INTR_IN, 3, 8, 0, 11]);
    c.extend([7, 5, BULK_IN, 2, 0x00, 0x02, 0]);
    c.extend([7, 5, BULK_OUT, 2, 0x00, 0x02, 0]);
    c.extend([9, 4, 0, 1, 2, 0xff, 0xff, 0, 0]);
    c.extend([7, 5, BULK_IN, 2, 64, 0, 0]);
    c.extend([7, 5, BULK_OUT, 2, 64, 0, 0]);
    let n = c.len() as u16;
    c[2..4].copy_from_slice(&n.to_le_bytes());
    c
}

/// Faults the test scripts.
#[derive(Default)]
pub struct Faults {
    /// Control request codes the device stalls.
    pub stall_requests: BTreeSet<u8>,
    /// The next OUT transfers fail with these.
    pub fail_out: VecDeque<TransferError>,
    /// The next IN polls fail with these.
    pub fail_in: VecDeque<TransferError>,
    /// Replaces the device descriptor.
    pub device_descriptor: Option<Vec<u8>>,
    /// Replaces the configuration descriptor.
    pub config_descriptor: Option<Vec<u8>>,
    /// Endpoints halted until CLEAR_FEATURE(ENDPOINT_HALT).
    pub halted: BTreeSet<u8>,
}

#[derive(Default)]
pub struct State {
    pub bulk_in: VecDeque<Vec<u8>>,
    pub intr_in: VecDeque<Vec<u8>>,
    pub requests: Vec<SetupPacket>,
    pub address: u16,
    pub configuration: u16,
    pub alt: u16,
    pub suspended: bool,
    /// Transfers the host made while the device was suspended.
    pub while_suspended: u32,
    pub regs: Vec<u8>,
    pub faults: Faults,
    pub outs: u64,
}

#[derive(Default)]
pub struct Loopback {
    state: Mutex<State>,
    notifier: Mutex<Option<InReadyNotifier>>,
}

impl Loopback {
    pub fn new() -> Arc<Loopback> {
        let l = Loopback::default();
        l.state().regs = vec![0; 256];
        Arc::new(l)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self, ep: u8) {
        let n = self.notifier.lock().unwrap().clone();
        if let Some(n) = n {
            n(ep);
        }
    }

    /// Data for the interrupt endpoint.
    pub fn post_interrupt(&self, data: &[u8]) {
        self.state().intr_in.push_back(data.to_vec());
        self.notify(INTR_IN);
    }

    /// Data for the bulk IN endpoint, as if echoed.
    pub fn inject_in(&self, data: &[u8]) {
        self.state().bulk_in.push_back(data.to_vec());
        self.notify(BULK_IN);
    }
}

impl UsbDevice for Loopback {
    fn device_descriptor(&self) -> Vec<u8> {
        let st = self.state();
        st.faults
            .device_descriptor
            .clone()
            .unwrap_or_else(device_descriptor)
    }

    fn configuration_descriptor(&self) -> Vec<u8> {
        let st = self.state();
        st.faults
            .config_descriptor
            .clone()
            .unwrap_or_else(config_descriptor)
    }

    fn control(&self, setup: SetupPacket, data: &[u8]) -> Result<Vec<u8>, TransferError> {
        let (dev, conf) = (self.device_descriptor(), self.configuration_descriptor());
        let mut st = self.state();
        st.requests.push(setup);
        if st.suspended {
            st.while_suspended += 1;
        }
        if st.faults.stall_requests.contains(&setup.request) {
            return Err(TransferError::Stall);
        }
        let n = usize::from(setup.length);
        match (setup.request_type, setup.request) {
            (0x80, 0x06) => {
                let mut d = match setup.value >> 8 {
                    1 => dev,
                    2 => conf,
                    _ => return Err(TransferError::Stall),
                };
                d.truncate(n);
                Ok(d)
            }
            (0x00, 0x05) => {
                st.address = setup.value;
                Ok(Vec::new())
            }
            (0x00, 0x09) => {
                st.configuration = setup.value;
                Ok(Vec::new())
            }
            (0x01, 0x0b) if setup.value <= 1 => {
                st.alt = setup.value;
                Ok(Vec::new())
            }
            (0x02, 0x01) => {
                st.faults.halted.remove(&(setup.index as u8));
                Ok(Vec::new())
            }
            (0x40, 0x10) => {
                let at = usize::from(setup.index);
                match st.regs.get_mut(at..at + data.len()) {
                    Some(r) => {
                        r.copy_from_slice(data);
                        Ok(Vec::new())
                    }
                    None => Err(TransferError::Stall),
                }
            }
            (0xc0, 0x11) => {
                let at = usize::from(setup.index);
                st.regs
                    .get(at..at + n)
                    .map(<[u8]>::to_vec)
                    .ok_or(TransferError::Stall)
            }
            _ => Err(TransferError::Stall),
        }
    }

    fn transfer_out(&self, endpoint: u8, data: &[u8]) -> Result<(), TransferError> {
        {
            let mut st = self.state();
            if st.suspended {
                st.while_suspended += 1;
            }
            if st.faults.halted.contains(&endpoint) {
                return Err(TransferError::Stall);
            }
            if let Some(e) = st.faults.fail_out.pop_front() {
                return Err(e);
            }
            if endpoint != BULK_OUT {
                return Err(TransferError::Stall);
            }
            st.outs += 1;
            st.bulk_in.push_back(data.to_vec());
        }
        self.notify(BULK_IN);
        Ok(())
    }

    fn transfer_in(&self, endpoint: u8, buf: &mut [u8]) -> InPoll {
        let mut st = self.state();
        if st.suspended {
            st.while_suspended += 1;
        }
        if st.faults.halted.contains(&endpoint) {
            return InPoll::Failed(TransferError::Stall);
        }
        if let Some(e) = st.faults.fail_in.pop_front() {
            return InPoll::Failed(e);
        }
        let q = match endpoint {
            BULK_IN => &mut st.bulk_in,
            INTR_IN => &mut st.intr_in,
            _ => return InPoll::Failed(TransferError::Stall),
        };
        match q.pop_front() {
            None => InPoll::Pending,
            Some(d) if d.len() > buf.len() => InPoll::Failed(TransferError::Overflow),
            Some(d) => {
                buf[..d.len()].copy_from_slice(&d);
                InPoll::Ready(d.len())
            }
        }
    }

    fn set_in_ready_notifier(&self, notifier: InReadyNotifier) {
        *self.notifier.lock().unwrap() = Some(notifier);
    }

    fn suspend(&self) {
        self.state().suspended = true;
    }

    fn resume(&self) {
        self.state().suspended = false;
    }
}

/// xorshift64*: a small seeded generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0 | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
