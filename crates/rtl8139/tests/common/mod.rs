//! The test rig: one RTL8139 driver (native twin, decaf thread or decaf
//! process) on a device backend (the in-process model here; QEMU's model in
//! `qemu.rs`), with the wire's other end in the test, and the traffic
//! checks every backend must pass.

#![allow(dead_code)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hal::{DmaMemory, HostMemory, PciDevice};
use netwire::FrameSink;
use rtl8139::{Config, Driver, Launcher, Mode};

/// Frames arriving somewhere, with a wait.
#[derive(Default)]
pub struct Inbox {
    frames: Mutex<Vec<Vec<u8>>>,
    arrived: Condvar,
}

impl FrameSink for Inbox {
    fn send_frame(&self, frame: &[u8]) {
        self.frames.lock().unwrap().push(frame.to_vec());
        self.arrived.notify_all();
    }
}

impl Inbox {
    /// Waits until at least `n` frames are in, or `timeout`; returns them
    /// all (and empties the inbox).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut g = self.frames.lock().unwrap();
        while g.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            g = self.arrived.wait_timeout(g, deadline - now).unwrap().0;
        }
        std::mem::take(&mut *g)
    }

    /// How many frames are waiting.
    pub fn len(&self) -> usize {
        self.frames.lock().unwrap().len()
    }

    /// Drops what is there.
    pub fn clear(&self) {
        self.frames.lock().unwrap().clear();
    }
}

/// Sends SIGKILL to process `pid` (a decaf process, in the middle of
/// something).
pub fn sigkill(pid: u32) -> rustix::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a valid pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL)
}

/// The driver's MAC in every rig.
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xAB, 0xCD, 0x01];
/// The test's end of the wire.
pub const PEER: [u8; 6] = [0x52, 0x54, 0x00, 0xAB, 0xCD, 0x02];

/// A frame of `len` bytes from `src` to `dst` whose payload encodes `seq`.
pub fn frame(dst: [u8; 6], src: [u8; 6], len: usize, seq: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xB5]); // local experimental EtherType
    f.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(2_654_435_761) | 1;
    while f.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f.truncate(len);
    f
}

/// Sends a frame from the wire into the NIC.
pub type Inject = Box<dyn Fn(&[u8]) + Send + Sync>;

/// What a backend gives the rig.
pub struct Backend {
    /// The device the driver drives.
    pub device: Arc<dyn PciDevice>,
    /// Its DMA memory.
    pub memory: Arc<dyn DmaMemory>,
    /// Sends a frame from the wire into the NIC.
    pub inject: Inject,
    /// Frames the NIC put on the wire.
    pub wire: Arc<Inbox>,
    /// Plugs or unplugs the cable.
    pub set_link: Box<dyn Fn(bool) + Send + Sync>,
    /// Live DMA allocations, if the backend can tell.
    pub allocations: Box<dyn Fn() -> Option<usize> + Send + Sync>,
    /// How long a frame may take to cross (QEMU is slow).
    pub patience: Duration,
}

/// The in-process model as a backend, and the model itself.
pub fn model_backend(revision: u8) -> (Backend, Arc<devices::rtl8139::Rtl8139>) {
    let memory = Arc::new(HostMemory::new());
    let model = Arc::new(devices::rtl8139::Rtl8139::new(
        devices::rtl8139::Config {
            mac: MAC,
            revision,
            ..Default::default()
        },
        memory.clone() as Arc<dyn DmaMemory>,
    ));
    let wire = Arc::new(Inbox::default());
    model.attach_wire(wire.clone());
    let (m1, m2, mem) = (model.clone(), model.clone(), memory.clone());
    (
        Backend {
            device: model.clone(),
            memory,
            inject: Box::new(move |f| m1.send_frame(f)),
            wire,
            set_link: Box::new(move |up| m2.set_link(up)),
            allocations: Box::new(move || Some(mem.allocations())),
            patience: Duration::from_secs(5),
        },
        model,
    )
}

/// The driver's modes under test.
pub fn modes() -> Vec<(&'static str, Mode)> {
    vec![
        ("native", Mode::Native),
        ("decaf-thread", Mode::Decaf(Launcher::Thread)),
        ("decaf-process", Mode::Decaf(process())),
    ]
}

/// The decaf driver as a process: this crate's `rtl8139-decaf` binary.
pub fn process() -> Launcher {
    Launcher::Process {
        program: env!("CARGO_BIN_EXE_rtl8139-decaf").into(),
        args: Vec::new(),
    }
}

/// A driver started on `backend`.
pub struct Rig {
    pub driver: Driver,
    pub os: Arc<Inbox>,
    pub backend: Backend,
}

impl Rig {
    pub fn start(backend: Backend, config: Config) -> Rig {
        let os = Arc::new(Inbox::default());
        let driver = Driver::start(
            backend.device.clone(),
            backend.memory.clone(),
            os.clone(),
            config,
        )
        .expect("bring-up");
        Rig {
            driver,
            os,
            backend,
        }
    }

    /// Sends `frames` from the driver and checks each arrives on the wire,
    /// bytes exact (short ones padded with zeros to 60).
    pub fn send_and_check(&self, frames: &[Vec<u8>]) {
        self.backend.wire.clear();
        for f in frames {
            self.driver
                .transmit_wait(f, self.backend.patience)
                .unwrap_or_else(|e| panic!("transmit of {} bytes: {e}", f.len()));
        }
        let got = self
            .backend
            .wire
            .wait_for(frames.len(), self.backend.patience * 4);
        assert_eq!(got.len(), frames.len(), "frames on the wire");
        for (sent, seen) in frames.iter().zip(&got) {
            let mut want = sent.clone();
            if want.len() < 60 {
                want.resize(60, 0);
            }
            assert_eq!(seen, &want, "a {}-byte frame crossed changed", sent.len());
        }
    }

    /// Injects `frames` from the wire and checks the OS gets each, bytes
    /// exact, in order. `pace` bounds frames outstanding (the ring is
    /// 32 KiB).
    pub fn receive_and_check(&self, frames: &[Vec<u8>]) {
        self.os.clear();
        let mut got = Vec::new();
        for chunk in frames.chunks(8) {
            for f in chunk {
                (self.backend.inject)(f);
            }
            let want = got.len() + chunk.len();
            let deadline = Instant::now() + self.backend.patience;
            while got.len() < want && Instant::now() < deadline {
                got.extend(
                    self.os
                        .wait_for(want - got.len(), Duration::from_millis(50)),
                );
            }
        }
        assert_eq!(got.len(), frames.len(), "frames the OS received");
        for (sent, seen) in frames.iter().zip(&got) {
            assert_eq!(seen, sent, "a {}-byte frame arrived changed", sent.len());
        }
    }

    /// Waits until the driver's carrier is `up`.
    pub fn wait_carrier(&self, up: bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.driver.status().carrier() == up {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

/// Every frame size from 60 to 1514 (`step` apart), plus the 14..60 runts
/// the driver pads.
pub fn sizes(step: usize) -> Vec<usize> {
    let mut s: Vec<usize> = vec![14, 42, 59];
    s.extend((60..=1514).step_by(step));
    if *s.last().unwrap() != 1514 {
        s.push(1514);
    }
    s
}

/// Whether QEMU can be used: it is installed, or (under CI) it must be.
pub fn qemu_available() -> bool {
    let found = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "qemu-system-x86_64 is missing under CI (cargo xtask test installs it)"
        );
        eprintln!("skipped: qemu-system-x86_64 is not installed");
    }
    found
}

/// QEMU's own rtl8139 as a backend: the VM (keep it alive as long as the
/// backend) and the UDP end of its network backend.
pub fn qemu_backend() -> (Backend, Arc<hal::qtest::Qemu>, Arc<netwire::udp::UdpPort>) {
    let qemu = Arc::new(
        hal::qtest::Qemu::launch(hal::qtest::QemuConfig {
            mac: MAC,
            ..Default::default()
        })
        .expect("QEMU launches"),
    );
    let device = qemu.pci_device(0x10EC, 0x8139).expect("an rtl8139");
    let memory = qemu.memory();
    let (socket, qemu_addr) = qemu.take_udp_socket().expect("a UDP backend");
    let port = Arc::new(netwire::udp::UdpPort::from_socket(socket, qemu_addr).expect("UDP port"));
    let wire = Arc::new(Inbox::default());
    port.attach(wire.clone());
    let (p, q, m) = (port.clone(), qemu.clone(), memory.clone());
    (
        Backend {
            device,
            memory,
            inject: Box::new(move |f| p.send_frame(f)),
            wire,
            set_link: Box::new(move |up| q.set_link(up).expect("set_link")),
            allocations: Box::new(move || Some(m.allocations())),
            patience: Duration::from_secs(10),
        },
        qemu,
        port,
    )
}
