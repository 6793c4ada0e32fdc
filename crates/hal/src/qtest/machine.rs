//! [`Qemu`]: launching `qemu-system-x86_64` with a qtest socket, a QMP
//! socket, the firmware's debug log and a NIC, waiting for the firmware to
//! finish, and tearing it all down.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::QemuError;
use super::connection::{QtestConnection, lock};
use super::memory::GuestMemory;
use super::pci::{QtestPci, config_read};
use super::qmp::Qmp;
use crate::{command, offset};

/// How the NIC is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Netdev {
    /// No backend: the NIC's link partner is absent (frames it sends are
    /// dropped).
    None,
    /// QEMU's `socket` backend in UDP mode on loopback: each frame is one
    /// datagram. [`Qemu::launch`] picks both ports; see
    /// [`Qemu::udp_peer_addr`] and [`Qemu::take_udp_socket`].
    Udp,
    /// An existing TAP interface (`script=no`): needs the right to open it.
    Tap {
        /// The interface name.
        ifname: String,
    },
}

/// What to launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuConfig {
    /// The emulator (looked up in `PATH` unless it has a `/`).
    pub binary: PathBuf,
    /// The PCI NIC model (`-device` name), e.g. `rtl8139`.
    pub device: String,
    /// The NIC's MAC address (its EEPROM contents).
    pub mac: [u8; 6],
    /// The NIC's backend.
    pub netdev: Netdev,
    /// Guest RAM in MiB (at least 32; the DMA window is 16 MiB up to 4 MiB
    /// below the end of RAM, or of 2 GiB if RAM is larger).
    pub memory_mib: u32,
    /// Deadline for QEMU to connect and the firmware to finish booting
    /// (and for [`Qemu::pci_device`] to see the BARs assigned).
    pub boot_timeout: Duration,
    /// Deadline for each qtest or QMP reply.
    pub request_timeout: Duration,
}

impl Default for QemuConfig {
    /// `qemu-system-x86_64` with an `rtl8139` (MAC 52:54:00:12:34:56) on a
    /// UDP backend, 64 MiB, 10 s to boot, 5 s per reply.
    fn default() -> Self {
        QemuConfig {
            binary: PathBuf::from("qemu-system-x86_64"),
            device: "rtl8139".into(),
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            netdev: Netdev::Udp,
            memory_mib: 64,
            boot_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// First guest-physical address of the DMA window.
const WINDOW_START: u64 = 16 << 20;
/// Space left free at the top of RAM (ACPI tables, firmware high zone).
const TOP_RESERVE: u64 = 4 << 20;
/// The window never reaches past this (RAM above it may be split around
/// the PCI hole).
const WINDOW_CEILING: u64 = 2 << 30;
/// What SeaBIOS writes to its debug port when it has given up booting and
/// idles (`-boot reboot-timeout=-1`).
const BOOT_DONE: &str = "No bootable device";
/// The NIC's QOM id, used by `set_link`.
const NIC_ID: &str = "nic0";
/// Launch attempts when QEMU could not bind the UDP port it was given.
const ATTEMPTS: u32 = 5;

static INSTANCE: AtomicU64 = AtomicU64::new(0);

/// A running QEMU (`pc` machine, TCG, SeaBIOS idle after finding nothing
/// to boot) with one NIC, driven over qtest. Dropping it kills and reaps
/// the process and removes its socket and log files.
pub struct Qemu {
    child: Mutex<Child>,
    pid: u32,
    conn: Arc<QtestConnection>,
    qmp: Mutex<Qmp>,
    memory: Arc<GuestMemory>,
    dir: PathBuf,
    udp: Option<(SocketAddr, SocketAddr)>,
    udp_socket: Mutex<Option<UdpSocket>>,
    config: QemuConfig,
}

impl std::fmt::Debug for Qemu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qemu")
            .field("pid", &self.pid)
            .field("dir", &self.dir)
            .field("udp", &self.udp)
            .field("device", &self.config.device)
            .finish_non_exhaustive()
    }
}

/// Files of one instance.
struct Paths {
    qtest: PathBuf,
    qmp: PathBuf,
    stderr: PathBuf,
    firmware: PathBuf,
}

impl Paths {
    fn new(dir: &Path) -> Paths {
        Paths {
            qtest: dir.join("qtest.sock"),
            qmp: dir.join("qmp.sock"),
            stderr: dir.join("stderr.log"),
            firmware: dir.join("firmware.log"),
        }
    }
}

/// A launch step's failure, and whether a new attempt may help.
struct Failed {
    error: QemuError,
    retry: bool,
}

impl From<QemuError> for Failed {
    fn from(error: QemuError) -> Self {
        Failed {
            error,
            retry: false,
        }
    }
}

/// The last `max` bytes of a text file, lossily decoded and trimmed.
fn tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        let _ = f.seek(SeekFrom::Start(len - max));
    }
    let mut bytes = Vec::new();
    let _ = f.take(max).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

fn quoted_stderr(path: &Path) -> String {
    let text = tail(path, 2000);
    if text.is_empty() {
        "(no output on stderr)".into()
    } else {
        format!("stderr: {text}")
    }
}

fn check_name(what: &str, name: &str, max: usize) -> Result<(), QemuError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(QemuError::Config(format!("invalid {what} {name:?}")))
    }
}

fn validate(config: &QemuConfig) -> Result<(), QemuError> {
    check_name("device model", &config.device, 64)?;
    if let Netdev::Tap { ifname } = &config.netdev {
        check_name("TAP interface name", ifname, 15)?;
    }
    if !(32..=4096).contains(&config.memory_mib) {
        return Err(QemuError::Config(format!(
            "memory_mib {} outside 32..=4096",
            config.memory_mib
        )));
    }
    Ok(())
}

/// A path as a QEMU option value: UTF-8, and no `,` (the option separator).
fn option_path(path: &Path) -> Result<&str, QemuError> {
    path.to_str()
        .filter(|p| !p.contains(',') && p.len() < 100)
        .ok_or_else(|| {
            QemuError::Config(format!(
                "temporary path {} is not UTF-8, contains ',' or is too long for a socket",
                path.display()
            ))
        })
}

/// A free UDP port on loopback (bound and released; QEMU binds it next,
/// and a launch that loses the race is retried).
fn free_udp_port() -> Result<u16, QemuError> {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| QemuError::Io(format!("finding a free UDP port: {e}")))
}

fn qemu_args(
    config: &QemuConfig,
    paths: &Paths,
    udp: Option<(SocketAddr, SocketAddr)>,
) -> Result<Vec<String>, QemuError> {
    let m = config.mac;
    let mac = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    );
    let mut args: Vec<String> = [
        "-machine",
        "pc",
        "-accel",
        "tcg",
        "-smp",
        "1",
        "-no-user-config",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "none",
        "-monitor",
        "none",
        "-boot",
        "reboot-timeout=-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push("-m".into());
    args.push(config.memory_mib.to_string());
    args.push("-qtest".into());
    args.push(format!("unix:{}", option_path(&paths.qtest)?));
    args.push("-qtest-log".into());
    args.push("none".into());
    args.push("-qmp".into());
    args.push(format!(
        "unix:{},server=on,wait=off",
        option_path(&paths.qmp)?
    ));
    // SeaBIOS writes its log to port 0x402: it tells when booting is over.
    args.push("-chardev".into());
    args.push(format!(
        "file,id=fwlog,path={}",
        option_path(&paths.firmware)?
    ));
    args.push("-device".into());
    args.push("isa-debugcon,iobase=0x402,chardev=fwlog".into());
    let netdev = match (&config.netdev, udp) {
        (Netdev::None, _) => None,
        (Netdev::Udp, Some((test, qemu))) => {
            Some(format!("socket,id=n0,udp={test},localaddr={qemu}"))
        }
        (Netdev::Udp, None) => return Err(QemuError::Config("UDP backend without ports".into())),
        (Netdev::Tap { ifname }, _) => {
            Some(format!("tap,id=n0,ifname={ifname},script=no,downscript=no"))
        }
    };
    let mut device = format!("{},id={NIC_ID},mac={mac},romfile=", config.device);
    if let Some(n) = netdev {
        args.push("-netdev".into());
        args.push(n);
        device.push_str(",netdev=n0");
    }
    args.push("-device".into());
    args.push(device);
    Ok(args)
}

/// Kills and reaps `child`.
fn reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Qemu {
    /// Starts QEMU, connects qtest and QMP, intercepts the I/O APIC's input
    /// lines, and waits until SeaBIOS has finished (it assigns the BARs and
    /// routes the interrupts; its debug log says "No bootable device"
    /// then). If the firmware writes no log at all by `boot_timeout`, this
    /// returns anyway and [`Qemu::pci_device`]'s polling is the only guard.
    ///
    /// [`QemuError::NotInstalled`] if the binary does not exist.
    pub fn launch(config: QemuConfig) -> Result<Qemu, QemuError> {
        validate(&config)?;
        let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hal-qtest-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)
            .map_err(|e| QemuError::Io(format!("creating {}: {e}", dir.display())))?;
        let mut attempt = 1;
        loop {
            match Self::try_launch(&config, &dir) {
                Ok(q) => return Ok(q),
                Err(f) if f.retry && attempt < ATTEMPTS => attempt += 1,
                Err(f) => {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(f.error);
                }
            }
        }
    }

    fn try_launch(config: &QemuConfig, dir: &Path) -> Result<Qemu, Failed> {
        let paths = Paths::new(dir);
        for p in [&paths.qtest, &paths.qmp, &paths.firmware] {
            let _ = fs::remove_file(p);
        }
        let io = |what: &str, e: std::io::Error| QemuError::Io(format!("{what}: {e}"));
        let listener =
            UnixListener::bind(&paths.qtest).map_err(|e| io("binding the qtest socket", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| io("qtest socket", e))?;
        let (udp, udp_socket) = if config.netdev == Netdev::Udp {
            let ours = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| io("binding a UDP socket", e))?;
            let test = ours.local_addr().map_err(|e| io("UDP socket", e))?;
            let qemu = SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_port()?));
            (Some((test, qemu)), Some(ours))
        } else {
            (None, None)
        };
        let args = qemu_args(config, &paths, udp)?;
        let stderr = File::create(&paths.stderr).map_err(|e| io("creating the stderr log", e))?;
        let child = Command::new(&config.binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(QemuError::NotInstalled(config.binary.display().to_string()).into());
            }
            Err(e) => {
                return Err(QemuError::Launch(format!(
                    "starting {}: {e}",
                    config.binary.display()
                ))
                .into());
            }
        };
        let deadline = Instant::now() + config.boot_timeout;
        match Self::start(config, &paths, &listener, &mut child, deadline) {
            Ok((conn, qmp)) => {
                let ram = u64::from(config.memory_mib) << 20;
                let end = ram.min(WINDOW_CEILING) - TOP_RESERVE;
                let memory = match GuestMemory::new(Arc::clone(&conn), WINDOW_START, end) {
                    Ok(m) => Arc::new(m),
                    Err(e) => {
                        reap(&mut child);
                        return Err(e.into());
                    }
                };
                let _ = fs::remove_file(&paths.qtest);
                Ok(Qemu {
                    pid: child.id(),
                    child: Mutex::new(child),
                    conn,
                    qmp: Mutex::new(qmp),
                    memory,
                    dir: dir.to_owned(),
                    udp,
                    udp_socket: Mutex::new(udp_socket),
                    config: config.clone(),
                })
            }
            Err(error) => {
                // Did QEMU exit by itself (as opposed to our giving up)?
                let exited = matches!(child.try_wait(), Ok(Some(_)));
                reap(&mut child);
                let text = tail(&paths.stderr, 2000);
                let retry = exited && udp.is_some() && text.contains("in use");
                let error = match error {
                    QemuError::Launch(m) => QemuError::Launch(m),
                    QemuError::Timeout(m) => {
                        QemuError::Timeout(format!("{m}; {}", quoted_stderr(&paths.stderr)))
                    }
                    other if exited => {
                        QemuError::Launch(format!("{other}; {}", quoted_stderr(&paths.stderr)))
                    }
                    other => other,
                };
                Err(Failed { error, retry })
            }
        }
    }

    /// Accepts the qtest connection, intercepts interrupts, opens QMP and
    /// waits for the firmware.
    fn start(
        config: &QemuConfig,
        paths: &Paths,
        listener: &UnixListener,
        child: &mut Child,
        deadline: Instant,
    ) -> Result<(Arc<QtestConnection>, Qmp), QemuError> {
        let exited = |child: &mut Child, when: &str| -> Option<QemuError> {
            match child.try_wait() {
                Ok(Some(status)) => Some(QemuError::Launch(format!(
                    "{} exited ({status}) {when}; {}",
                    config.binary.display(),
                    quoted_stderr(&paths.stderr)
                ))),
                _ => None,
            }
        };
        let stream: UnixStream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let Some(e) = exited(child, "before connecting to the qtest socket") {
                        return Err(e);
                    }
                    if Instant::now() >= deadline {
                        return Err(QemuError::Timeout(format!(
                            "QEMU did not connect to the qtest socket within {:?}",
                            config.boot_timeout
                        )));
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => {
                    return Err(QemuError::Io(format!(
                        "accepting the qtest connection: {e}"
                    )));
                }
            }
        };
        stream
            .set_nonblocking(false)
            .map_err(|e| QemuError::Io(format!("qtest socket: {e}")))?;
        let conn = QtestConnection::new(stream, config.request_timeout)?;
        let fail = |child: &mut Child, e: QemuError| exited(child, "during start-up").unwrap_or(e);
        // Intercept now, so that every level change from here on is known.
        conn.irq_intercept_in("ioapic")
            .map_err(|e| fail(child, e))?;
        let qmp = Qmp::connect(&paths.qmp, deadline, config.request_timeout)
            .map_err(|e| fail(child, e))?;
        loop {
            let log = fs::read_to_string(&paths.firmware).unwrap_or_default();
            if log.contains(BOOT_DONE) {
                break;
            }
            if let Some(e) = exited(child, "while the firmware booted") {
                return Err(e);
            }
            if Instant::now() >= deadline {
                if log.is_empty() {
                    break;
                }
                let start = log.len().saturating_sub(600);
                let start = (start..log.len())
                    .find(|&i| log.is_char_boundary(i))
                    .unwrap_or(log.len());
                return Err(QemuError::Timeout(format!(
                    "firmware did not finish booting within {:?}; its log ends: {}",
                    config.boot_timeout,
                    &log[start..]
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
        Ok((conn, qmp))
    }

    /// Finds `vendor:device` as function 0 of a slot on bus 0 (scanning
    /// all 32 slots), waits until its BARs are assigned and I/O or memory
    /// decoding is on (polling until `boot_timeout`), and opens it.
    pub fn pci_device(&self, vendor: u16, device: u16) -> Result<Arc<QtestPci>, QemuError> {
        let want = u32::from(device) << 16 | u32::from(vendor);
        let mut found = None;
        for slot in 0..32 {
            if config_read(&self.conn, slot, offset::VENDOR_ID, 4)? == want {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            QemuError::NoDevice(format!("no {vendor:04x}:{device:04x} on PCI bus 0"))
        })?;
        let deadline = Instant::now() + self.config.boot_timeout;
        loop {
            let cmd = config_read(&self.conn, slot, offset::COMMAND, 2)? as u16;
            let mut assigned = false;
            for i in 0..6 {
                let bar = config_read(&self.conn, slot, offset::BAR0 + 4 * i, 4)?;
                let addr_bits = if bar & 1 == 1 { bar & !0x3 } else { bar & !0xF };
                assigned |= addr_bits != 0;
            }
            if assigned && cmd & (command::IO | command::MEMORY) != 0 {
                return QtestPci::open(Arc::clone(&self.conn), slot);
            }
            if Instant::now() >= deadline {
                return Err(QemuError::Timeout(format!(
                    "{vendor:04x}:{device:04x} in slot {slot}: BARs not assigned or decoding off \
                     (command {cmd:#06x}) after {:?}",
                    self.config.boot_timeout
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// DMA memory: guest RAM from 16 MiB to 4 MiB below the end of RAM
    /// (16..60 MiB of a 64 MiB machine). SeaBIOS keeps its runtime data
    /// below 1 MiB and its ACPI tables in the top 128 KiB, and uses the
    /// upper part of RAM only as scratch while it boots (which is over
    /// before [`Qemu::launch`] returns); allocations are zeroed.
    pub fn memory(&self) -> Arc<GuestMemory> {
        Arc::clone(&self.memory)
    }

    /// With [`Netdev::Udp`]: the address the test end uses (held until
    /// then by the socket [`Qemu::take_udp_socket`] hands out; to bind it
    /// yourself, take and drop that socket first) and the address QEMU
    /// receives on. QEMU sends each frame the NIC transmits to the first,
    /// from the second.
    pub fn udp_peer_addr(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.udp
    }

    /// With [`Netdev::Udp`], once: the socket bound to the test end's
    /// address since launch (so no other process could take the port), and
    /// QEMU's address to send frames to.
    pub fn take_udp_socket(&self) -> Option<(UdpSocket, SocketAddr)> {
        let sock = lock(&self.udp_socket).take()?;
        Some((sock, self.udp?.1))
    }

    /// Sets the NIC's link up or down (QMP `set_link`); the model reports
    /// it as a device would (the RTL8139: BMSR bit 2, and ISR bit 5).
    pub fn set_link(&self, up: bool) -> Result<(), QemuError> {
        let args = format!("{{\"name\":\"{NIC_ID}\",\"up\":{up}}}");
        lock(&self.qmp).execute("set_link", Some(&args)).map(|_| ())
    }

    /// The first failure of a qtest command (QEMU died, timeout, `FAIL`,
    /// malformed reply), including those behind the infallible
    /// [`PciDevice`](crate::PciDevice) and [`DmaMemory`](crate::DmaMemory)
    /// methods. If QEMU has exited, its status and stderr are added.
    pub fn error(&self) -> Option<QemuError> {
        let e = self.conn.error()?;
        let mut child = lock(&self.child);
        Some(match (e, child.try_wait()) {
            (QemuError::Died(m), Ok(Some(status))) => QemuError::Died(format!(
                "{m}: QEMU exited ({status}); {}",
                quoted_stderr(&self.dir.join("stderr.log"))
            )),
            (e, _) => e,
        })
    }

    /// The qtest connection (raw commands, for what the device and memory
    /// types do not cover).
    pub fn connection(&self) -> &Arc<QtestConnection> {
        &self.conn
    }

    /// The QEMU process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills QEMU now (SIGKILL) and reaps it, to test how a driver copes;
    /// later accesses fail with [`QemuError::Died`].
    pub fn kill(&self) {
        reap(&mut lock(&self.child));
    }

    /// SeaBIOS's debug log so far.
    pub fn firmware_log(&self) -> String {
        fs::read_to_string(self.dir.join("firmware.log")).unwrap_or_default()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        reap(&mut lock(&self.child));
        self.conn.close();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let config = QemuConfig::default();
        let paths = Paths::new(Path::new("/tmp/x"));
        let udp = Some((
            SocketAddr::from(([127, 0, 0, 1], 1000)),
            SocketAddr::from(([127, 0, 0, 1], 2000)),
        ));
        let args = qemu_args(&config, &paths, udp).unwrap().join(" ");
        assert!(
            args.contains("-qtest unix:/tmp/x/qtest.sock -qtest-log none"),
            "{args}"
        );
        assert!(
            args.contains("-netdev socket,id=n0,udp=127.0.0.1:1000,localaddr=127.0.0.1:2000"),
            "{args}"
        );
        assert!(
            args.contains("-device rtl8139,id=nic0,mac=52:54:00:12:34:56,romfile=,netdev=n0"),
            "{args}"
        );
        assert!(qemu_args(&config, &Paths::new(Path::new("/tmp/a,b")), udp).is_err());
    }

    #[test]
    fn bad_configs_are_refused() {
        for config in [
            QemuConfig {
                device: "rtl8139,romfile=/etc/passwd".into(),
                ..QemuConfig::default()
            },
            QemuConfig {
                memory_mib: 16,
                ..QemuConfig::default()
            },
            QemuConfig {
                netdev: Netdev::Tap {
                    ifname: "a,b".into(),
                },
                ..QemuConfig::default()
            },
        ] {
            assert!(matches!(Qemu::launch(config), Err(QemuError::Config(_))));
        }
    }

    #[test]
    fn missing_binary_is_not_installed() {
        let config = QemuConfig {
            binary: "/nonexistent/qemu-system-x86_64".into(),
            ..QemuConfig::default()
        };
        let e = Qemu::launch(config).unwrap_err();
        assert!(matches!(e, QemuError::NotInstalled(_)), "{e}");
        assert!(e.to_string().contains("not installed"), "{e}");
    }
}
