//! Linux TAP devices (`IFF_TAP | IFF_NO_PI`): a real interface that Linux
//! sees, whose frames a device model sends and receives.
//!
//! ```text
//!  kernel (tapN) ──read──▶ reader thread ──send_frame──▶ sink (device model's rx)
//!  kernel (tapN) ◀─write── Tap / TapSink ◀──send_frame── device model's tx
//! ```
//!
//! Opening `/dev/net/tun` needs `CAP_NET_ADMIN` (root). The device is not
//! persistent: it disappears when the [`Tap`] is dropped. Moving it into a
//! network namespace (see [`crate::netns`]) keeps the file descriptor valid.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};

use tun_rs::{DeviceBuilder, InterruptEvent, Layer, SyncDevice};

use crate::FrameSink;

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME_LEN: usize = 15;

/// Read buffer size: any frame a TAP can hand us (MTU up to 64 KiB).
const READ_BUF: usize = 65_536 + 64;

/// Checks an interface name: 1 to 15 bytes, no `/`, `:`, whitespace or NUL,
/// not `.` or `..`.
pub fn validate_ifname(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_IFNAME_LEN
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid interface name {name:?}: 1-{MAX_IFNAME_LEN} bytes, no '/', ':', whitespace"
            ),
        ));
    }
    Ok(())
}

/// Counters of a [`Tap`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Frames read from the kernel and handed to the sink.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Failed reads (other than the stop signal).
    pub rx_errors: u64,
    /// Frames written to the kernel.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Failed or short writes. Writing to a TAP whose interface is down
    /// fails (EIO), so frames arriving before it is brought up count here.
    pub tx_errors: u64,
}

#[derive(Default)]
struct Counters {
    rx_frames: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    tx_frames: AtomicU64,
    tx_bytes: AtomicU64,
    tx_errors: AtomicU64,
}

struct Inner {
    dev: SyncDevice,
    name: String,
    counters: Counters,
    last_error: Mutex<Option<io::Error>>,
}

impl Inner {
    fn write_frame(&self, frame: &[u8]) {
        let c = &self.counters;
        match self.dev.send(frame) {
            Ok(n) if n == frame.len() => {
                c.tx_frames.fetch_add(1, Ordering::Relaxed);
                c.tx_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Ok(n) => {
                c.tx_errors.fetch_add(1, Ordering::Relaxed);
                self.record_error(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("tap {}: short write {n} of {}", self.name, frame.len()),
                ));
            }
            Err(e) => {
                c.tx_errors.fetch_add(1, Ordering::Relaxed);
                self.record_error(e);
            }
        }
    }

    fn record_error(&self, e: io::Error) {
        *lock(&self.last_error) = Some(e);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Reader {
    stop: Arc<InterruptEvent>,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// A TAP interface. Implements [`FrameSink`]: a frame sent to it is written
/// to the kernel, as if received by the interface from its wire.
pub struct Tap {
    inner: Arc<Inner>,
    reader: Mutex<Option<Reader>>,
}

impl fmt::Debug for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tap")
            .field("name", &self.inner.name)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Tap {
    /// Creates the TAP interface `name` (in the current network namespace),
    /// down and without addresses.
    pub fn create(name: &str) -> io::Result<Tap> {
        validate_ifname(name)?;
        let dev = DeviceBuilder::new()
            .name(name)
            .layer(Layer::L2)
            .packet_information(false)
            .build_sync()
            .map_err(|e| io::Error::new(e.kind(), format!("creating tap {name:?}: {e}")))?;
        // Non-blocking, as tun-rs recommends for interruptible reads.
        dev.set_nonblocking(true)?;
        let actual = dev.name().unwrap_or_else(|_| name.to_string());
        Ok(Tap {
            inner: Arc::new(Inner {
                dev,
                name: actual,
                counters: Counters::default(),
                last_error: Mutex::new(None),
            }),
            reader: Mutex::new(None),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A [`FrameSink`] that writes into this TAP. It refers to the TAP
    /// weakly, so handing it to a device model creates no reference cycle;
    /// after the `Tap` is dropped it discards frames.
    pub fn sink(&self) -> TapSink {
        TapSink {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Starts the reader thread: every frame the kernel transmits on the
    /// interface is handed to `sink`. Fails with `AlreadyExists` if a reader
    /// is running.
    pub fn start_reader(&self, sink: Arc<dyn FrameSink>) -> io::Result<()> {
        let mut slot = lock(&self.reader);
        if slot.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("tap {}: reader already running", self.inner.name),
            ));
        }
        let stop = Arc::new(InterruptEvent::new()?);
        let stopping = Arc::new(AtomicBool::new(false));
        let inner = Arc::clone(&self.inner);
        let (stop2, stopping2) = (Arc::clone(&stop), Arc::clone(&stopping));
        let thread = thread::Builder::new()
            .name(format!("netwire-tap-{}", self.inner.name))
            .spawn(move || read_loop(&inner, &*sink, &stop2, &stopping2))?;
        *slot = Some(Reader {
            stop,
            stopping,
            thread,
        });
        Ok(())
    }

    /// Stops the reader thread and waits for it to end (the sink is
    /// released). Does nothing if no reader runs.
    pub fn stop_reader(&self) {
        let reader = lock(&self.reader).take();
        if let Some(r) = reader {
            r.stopping.store(true, Ordering::Release);
            let _ = r.stop.trigger();
            if r.thread.thread().id() != thread::current().id() {
                let _ = r.thread.join();
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TapStats {
        let c = &self.inner.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TapStats {
            rx_frames: l(&c.rx_frames),
            rx_bytes: l(&c.rx_bytes),
            rx_errors: l(&c.rx_errors),
            tx_frames: l(&c.tx_frames),
            tx_bytes: l(&c.tx_bytes),
            tx_errors: l(&c.tx_errors),
        }
    }

    /// The most recent read or write error, if any (clears it).
    pub fn take_error(&self) -> Option<io::Error> {
        lock(&self.inner.last_error).take()
    }
}

impl FrameSink for Tap {
    fn send_frame(&self, frame: &[u8]) {
        self.inner.write_frame(frame);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop_reader();
    }
}

/// A weak [`FrameSink`] handle writing into a [`Tap`]; see [`Tap::sink`].
#[derive(Clone)]
pub struct TapSink {
    inner: Weak<Inner>,
}

impl fmt::Debug for TapSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TapSink")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

impl FrameSink for TapSink {
    fn send_frame(&self, frame: &[u8]) {
        if let Some(inner) = self.inner.upgrade() {
            inner.write_frame(frame);
        }
    }
}

fn read_loop(inner: &Inner, sink: &dyn FrameSink, stop: &InterruptEvent, stopping: &AtomicBool) {
    let mut buf = vec![0u8; READ_BUF];
    while !stopping.load(Ordering::Acquire) {
        match inner.dev.recv_intr(&mut buf, stop) {
            Ok(n) => {
                let c = &inner.counters;
                c.rx_frames.fetch_add(1, Ordering::Relaxed);
                c.rx_bytes.fetch_add(n as u64, Ordering::Relaxed);
                sink.send_frame(&buf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                inner.counters.rx_errors.fetch_add(1, Ordering::Relaxed);
                inner.record_error(e);
                // Do not spin on a persistent error; stop is still honoured
                // within this pause.
                thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
