//! The qtest backend against QEMU's own RTL8139 model: identity, registers,
//! reset, transmit and receive through guest RAM and a UDP wire, the
//! interrupt line, link changes, and failures (a hostile reply, QEMU
//! killed). Each test launches its own QEMU. Without
//! `qemu-system-x86_64` the tests print a skip line and pass, unless
//! `CI=true`, where they fail.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hal::qtest::{BarWindow, GuestMemory, Qemu, QemuConfig, QemuError, QtestConnection, QtestPci};
use hal::{DmaError, DmaMemory, PciDevice, command, offset};
use netwire::{FrameSink, UdpPort};

const VENDOR: u16 = 0x10EC;
const DEVICE: u16 = 0x8139;

// RTL8139 registers (offsets in BAR 0, I/O).
const IDR0: u32 = 0x00;
const TSD0: u32 = 0x10;
const TSAD0: u32 = 0x20;
const RBSTART: u32 = 0x30;
const CR: u32 = 0x37;
const IMR: u32 = 0x3C;
const ISR: u32 = 0x3E;
const RCR: u32 = 0x44;
const BMSR: u32 = 0x64;

const CR_RST: u8 = 1 << 4;
const CR_RE: u8 = 1 << 3;
const CR_TE: u8 = 1 << 2;
const TSD_TOK: u32 = 1 << 15;
const INT_ROK: u16 = 1 << 0;
const INT_LINK: u16 = 1 << 5;
const BMSR_LINK: u16 = 1 << 2;
/// Receive buffer: 8K + 16, plus room for a frame written past the end
/// (WRAP mode).
const RX_BUF: usize = 8192 + 16 + 1536;

/// Launches QEMU, or returns `None` (after a skip line) if it is not
/// installed, except under `CI=true`.
fn launch(config: QemuConfig) -> Option<Qemu> {
    match Qemu::launch(config) {
        Ok(q) => Some(q),
        Err(e @ QemuError::NotInstalled(_)) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true and {e}");
            }
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("launch: {e}"),
    }
}

fn mac_config(mac: [u8; 6]) -> QemuConfig {
    QemuConfig {
        mac,
        ..QemuConfig::default()
    }
}

/// Polls `f` until it is true or 5 s pass.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Frames received on the test's end of the wire.
struct Collect(Mutex<mpsc::Sender<Vec<u8>>>);

impl FrameSink for Collect {
    fn send_frame(&self, frame: &[u8]) {
        let _ = self.0.lock().unwrap().send(frame.to_vec());
    }
}

/// The test's end of QEMU's UDP backend, collecting what the NIC sends.
fn wire(qemu: &Qemu) -> (UdpPort, Receiver<Vec<u8>>) {
    let (socket, peer) = qemu.take_udp_socket().expect("UDP backend");
    let port = UdpPort::from_socket(socket, peer).unwrap();
    let (tx, rx) = mpsc::channel();
    port.attach(Arc::new(Collect(Mutex::new(tx))));
    (port, rx)
}

/// The NIC, with bus mastering on, reset.
fn nic(qemu: &Qemu) -> Arc<QtestPci> {
    let dev = qemu.pci_device(VENDOR, DEVICE).unwrap();
    let cmd = dev.config_read(offset::COMMAND, 2);
    dev.config_write(offset::COMMAND, 2, cmd | u32::from(command::BUS_MASTER));
    dev.write8(0, CR, CR_RST);
    wait_for("reset to finish", || dev.read8(0, CR) & CR_RST == 0);
    dev
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0xFF; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, seed]);
    f.extend_from_slice(&[0x88, 0xB5]);
    f.extend((0..len - 14).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    f
}

#[test]
fn identity_registers_and_reset() {
    let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let Some(qemu) = launch(mac_config(mac)) else {
        return;
    };
    let dev = qemu.pci_device(VENDOR, DEVICE).unwrap();

    assert_eq!(dev.config_read(offset::VENDOR_ID, 2), u32::from(VENDOR));
    assert_eq!(dev.config_read(offset::DEVICE_ID, 2), u32::from(DEVICE));
    assert_eq!(
        dev.config_read(offset::REVISION, 1),
        0x20,
        "QEMU's model is a C+"
    );
    let Some(BarWindow::Io { base, size }) = dev.bar(0) else {
        panic!("BAR 0 is not an assigned I/O BAR: {dev:?}")
    };
    assert!(base != 0 && size >= 256, "{base:#x} {size}");
    let Some(BarWindow::Memory {
        base: mbase,
        size: msize,
    }) = dev.bar(1)
    else {
        panic!("BAR 1 is not an assigned memory BAR: {dev:?}")
    };
    assert!(mbase != 0 && msize >= 256, "{mbase:#x} {msize}");
    let cmd = dev.config_read(offset::COMMAND, 2) as u16;
    assert_ne!(cmd & (command::IO | command::MEMORY), 0);
    let line = dev.irq_line();
    assert!((1..16).contains(&line), "interrupt line {line}");
    assert_eq!(dev.config_read(offset::INTERRUPT_PIN, 1), 1, "INTA");

    // The MAC from `mac=`, through the I/O BAR and the memory BAR.
    let io: Vec<u8> = (0..6).map(|i| dev.read8(0, IDR0 + i)).collect();
    let mem: Vec<u8> = (0..6).map(|i| dev.read8(1, IDR0 + i)).collect();
    assert_eq!(io, mac);
    assert_eq!(mem, mac);
    assert_eq!(
        dev.read32(0, IDR0),
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]])
    );

    // Software reset: CR bit 4 clears by itself.
    dev.write8(0, CR, CR_RST);
    wait_for("reset to finish", || dev.read8(0, CR) & CR_RST == 0);

    // Accesses nobody claims read as all ones, without a wire error.
    assert_eq!(dev.read8(5, 0), 0xFF);
    assert_eq!(dev.read32(0, size - 2), u32::MAX);
    assert_eq!(dev.config_read(0x101, 1), 0xFF);
    assert_eq!(dev.config_read(0x3E, 4), u32::MAX);
    assert_eq!(qemu.error(), None);

    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        dev.read8(0, IDR0);
    }
    let per = t.elapsed() / n;
    eprintln!("one register access over qtest: {per:?}");
    assert!(per < Duration::from_millis(5), "{per:?}");
}

#[test]
fn transmit_reaches_the_wire_bytes_exact() {
    let Some(qemu) = launch(QemuConfig::default()) else {
        return;
    };
    let (_port, rx) = wire(&qemu);
    let dev = nic(&qemu);
    let mem = qemu.memory();
    dev.write8(0, CR, CR_TE);

    for (desc, len) in [(0u32, 60usize), (1, 1514)] {
        let f = frame(len, desc as u8);
        let buf = mem.alloc(2048, 16).unwrap();
        mem.write(buf.addr, &f).unwrap();
        dev.write32(0, TSAD0 + 4 * desc, buf.addr as u32);
        dev.write32(0, TSD0 + 4 * desc, len as u32);
        wait_for("TOK", || dev.read32(0, TSD0 + 4 * desc) & TSD_TOK != 0);
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("frame on the wire");
        assert_eq!(got.len(), len);
        assert!(got == f, "frame of {len} bytes differs");
        mem.free(buf).unwrap();
    }
    assert_eq!(qemu.error(), None);
}

#[test]
fn receive_raises_the_line_and_ack_lowers_it() {
    let Some(qemu) = launch(QemuConfig::default()) else {
        return;
    };
    let (port, _rx) = wire(&qemu);
    let dev = nic(&qemu);
    let mem = qemu.memory();
    let ring = mem.alloc(RX_BUF, 16).unwrap();
    dev.write32(0, RBSTART, ring.addr as u32);
    dev.write8(0, CR, CR_RE | CR_TE);
    dev.write32(0, RCR, 0x8F); // WRAP | AB | AM | APM | AAP, 8K ring

    let (tx, levels) = mpsc::channel();
    let tx = Mutex::new(tx);
    let handler_dev = Arc::clone(&dev);
    dev.set_irq_handler(Arc::new(move |level| {
        // The handler may use the device: it does not run on the reader.
        let isr = handler_dev.read16(0, ISR);
        let name = thread::current().name().map(str::to_owned);
        let _ = tx.lock().unwrap().send((level, isr, name));
    }));
    dev.write16(0, IMR, INT_ROK);

    let f = frame(100, 9);
    port.send_frame(&f);
    let (level, isr, thread_name) = levels
        .recv_timeout(Duration::from_secs(5))
        .expect("IRQ raise");
    assert!(level, "first change is a raise");
    assert_ne!(isr & INT_ROK, 0, "ISR {isr:#x}");
    assert_ne!(thread_name.as_deref(), Some("qtest-reader"));

    let mut header = [0u8; 4];
    mem.read(ring.addr, &mut header).unwrap();
    let status = u16::from_le_bytes([header[0], header[1]]);
    let len = u16::from_le_bytes([header[2], header[3]]);
    assert_ne!(status & 1, 0, "ROK in the header: {status:#x}");
    assert_eq!(usize::from(len), f.len() + 4, "length includes the CRC");
    let mut body = vec![0u8; f.len()];
    mem.read(ring.addr + 4, &mut body).unwrap();
    assert_eq!(body, f);

    dev.write16(0, ISR, INT_ROK);
    let (level, _, _) = levels
        .recv_timeout(Duration::from_secs(5))
        .expect("IRQ lower");
    assert!(!level, "ack lowers the line");
    assert_eq!(dev.read16(0, ISR) & INT_ROK, 0);
    assert_eq!(qemu.error(), None);
}

#[test]
fn link_down_and_up() {
    let Some(qemu) = launch(QemuConfig::default()) else {
        return;
    };
    let dev = nic(&qemu);
    assert_ne!(dev.read16(0, BMSR) & BMSR_LINK, 0, "link up at start");
    dev.write16(0, ISR, 0xFFFF);

    qemu.set_link(false).unwrap();
    assert_eq!(dev.read16(0, BMSR) & BMSR_LINK, 0);
    assert_ne!(dev.read16(0, ISR) & INT_LINK, 0);
    dev.write16(0, ISR, INT_LINK);
    assert_eq!(dev.read16(0, ISR) & INT_LINK, 0);

    qemu.set_link(true).unwrap();
    assert_ne!(dev.read16(0, BMSR) & BMSR_LINK, 0);
    assert_ne!(dev.read16(0, ISR) & INT_LINK, 0);
    assert_eq!(qemu.error(), None);
}

#[test]
fn qemu_killed_mid_test_gives_errors_not_panics() {
    let Some(qemu) = launch(QemuConfig::default()) else {
        return;
    };
    let dev = nic(&qemu);
    let mem = qemu.memory();
    let buf = mem.alloc(64, 4).unwrap();
    assert_eq!(dev.read8(0, IDR0), 0x52);

    qemu.kill();
    assert_eq!(dev.read8(0, IDR0), 0xFF);
    assert_eq!(dev.read32(0, TSD0), u32::MAX);
    assert_eq!(dev.config_read(offset::VENDOR_ID, 2), 0xFFFF);
    dev.write8(0, CR, CR_TE);
    let e = qemu.error().expect("an error is recorded");
    assert!(matches!(e, QemuError::Died(_)), "{e}");
    assert!(e.to_string().contains("exited"), "{e}");
    assert!(matches!(
        mem.read(buf.addr, &mut [0; 4]),
        Err(DmaError::OutOfRange { .. })
    ));
    assert!(matches!(
        mem.try_write(buf.addr, &[1]),
        Err(QemuError::Died(_))
    ));
    assert_eq!(mem.alloc(16, 1), Err(DmaError::NoSpace));
    assert!(qemu.set_link(false).is_err());
    assert!(qemu.pci_device(VENDOR, DEVICE).is_err());
}

/// A fake QEMU on a socket pair, answering every command with `reply`.
fn fake(reply: impl Fn(&str) -> String + Send + 'static) -> Arc<QtestConnection> {
    let (ours, theirs) = UnixStream::pair().unwrap();
    thread::spawn(move || {
        let mut w = theirs.try_clone().unwrap();
        for line in BufReader::new(theirs).lines() {
            let Ok(line) = line else { break };
            if w.write_all(reply(&line).as_bytes()).is_err() {
                break;
            }
        }
    });
    QtestConnection::new(ours, Duration::from_secs(2)).unwrap()
}

#[test]
fn hostile_replies_are_errors() {
    // A short `read` reply.
    let conn = fake(|l| {
        if l.starts_with("read ") {
            "OK 0x00\n".into()
        } else {
            "OK\n".into()
        }
    });
    let mem = GuestMemory::new(Arc::clone(&conn), 16 << 20, 32 << 20).unwrap();
    let buf = mem.alloc(64, 16).unwrap();
    let e = mem.try_read(buf.addr, &mut [0; 64]).unwrap_err();
    assert!(matches!(e, QemuError::Protocol(_)), "{e}");
    assert!(matches!(conn.error(), Some(QemuError::Protocol(_))));

    // Garbage where configuration space should be.
    for reply in [
        "OK 0x1ffffffff\n",
        "\u{7}\n",
        "OK 0xzz\n",
        "IRQ raise\n",
        "OK 0x10ec 0x8139\n",
    ] {
        let conn = fake(move |l| {
            if l.starts_with("outl") {
                "OK\n".into()
            } else {
                reply.into()
            }
        });
        let e = QtestPci::open(Arc::clone(&conn), 2).unwrap_err();
        assert!(matches!(e, QemuError::Protocol(_)), "{reply:?}: {e}");
    }

    // A device that answers, then the machine dies under it.
    let conn = fake(|l| match l {
        l if l.starts_with("in") => "OK 0x0000\n".into(),
        _ => "OK\n".into(),
    });
    let dev = QtestPci::open(Arc::clone(&conn), 3).unwrap();
    conn.close();
    assert_eq!(dev.read16(0, 0), 0xFFFF);
    assert_eq!(dev.config_read(0, 4), u32::MAX);
}

#[test]
fn missing_binary_is_reported() {
    let config = QemuConfig {
        binary: "/nonexistent/qemu-system-x86_64".into(),
        ..QemuConfig::default()
    };
    let e = Qemu::launch(config).unwrap_err();
    assert!(matches!(e, QemuError::NotInstalled(_)), "{e}");
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Qemu>();
    check::<QtestPci>();
    check::<GuestMemory>();
    check::<QtestConnection>();
    check::<UdpPort>();
}
