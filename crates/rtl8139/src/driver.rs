//! The driver as the OS sees it: start (probe and open), transmit, receive
//! (frames go to the OS's sink), receive mode, suspend and resume, stop;
//! and the work thread that runs the slow path, the 2 s link watchdog,
//! media checks after link changes, and transmit-timeout recovery. The
//! work thread is the only caller of the slow path, so the nucleus never
//! calls the decaf driver from interrupt context.
//!
//! ```text
//!            start ─▶ probe ─▶ open ─▶ up ◀───────────────┐
//!                       │        │      │ every tick:     │
//!        decaf dies ────┴────────┘      │  link change? ─▶ media check
//!        (bring-up fails cleanly:       │  2 s passed?  ─▶ media check
//!         quiesce, free, reap)          │  tx stalled?  ─▶ tx timeout recovery
//!                                       │  decaf died?  ─▶ restart it, redo the op
//!                                       ├─ suspend ─▶ suspended ─ resume ─┘
//!                                       └─ stop ─▶ close ─▶ gone
//! ```

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hal::{DmaMemory, PciDevice};
use netwire::FrameSink;

use crate::Rtl8139Dev;
use crate::chip::link;
use crate::nucleus::{FastStats, Nucleus, TxError};
use crate::slow::{Crossings, Decaf, Launcher, Local, Op, SlowError, SlowPath, UpcallHook};

/// Where the slow path runs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// The native twin: everything in the nucleus.
    Native,
    /// Split: the decaf driver, launched so.
    Decaf(Launcher),
}

/// How the driver runs.
#[derive(Clone)]
pub struct Config {
    /// Native twin or split driver.
    pub mode: Mode,
    /// The link watchdog's period (2 s by default), run as deferred work
    /// on the work thread.
    pub watchdog: Duration,
    /// How long a transmit may stay unfinished before recovery (Linux's
    /// watchdog_timeo for 8139too: 6 s).
    pub tx_timeout: Duration,
    /// How long a downcall may take.
    pub call_timeout: Duration,
    /// Restart a decaf driver that dies while the interface is up.
    pub restart_decaf: bool,
    /// Called before each register batch from the decaf driver.
    pub upcall_hook: Option<UpcallHook>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("watchdog", &self.watchdog)
            .field("tx_timeout", &self.tx_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("restart_decaf", &self.restart_decaf)
            .field("upcall_hook", &self.upcall_hook.is_some())
            .finish()
    }
}

impl Config {
    /// Defaults for `mode`: 2 s watchdog, 6 s transmit timeout, 5 s calls,
    /// restart on.
    pub fn new(mode: Mode) -> Config {
        Config {
            mode,
            watchdog: Duration::from_secs(2),
            tx_timeout: Duration::from_secs(6),
            call_timeout: Duration::from_secs(5),
            restart_decaf: true,
            upcall_hook: None,
        }
    }
}

/// Why the driver could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverError {
    /// Bring-up failed at `stage`; the device is quiet and nothing is
    /// left allocated.
    BringUp {
        /// "launch", "probe" or "open".
        stage: &'static str,
        /// Why.
        error: SlowError,
    },
    /// A slow-path procedure failed.
    Slow(SlowError),
    /// The DMA rings could not be allocated.
    NoMemory(String),
    /// The driver has stopped.
    Stopped,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::BringUp { stage, error } => {
                write!(f, "bring-up failed during {stage}: {error}")
            }
            DriverError::Slow(e) => write!(f, "{e}"),
            DriverError::NoMemory(why) => write!(f, "no DMA memory for the rings: {why}"),
            DriverError::Stopped => f.write_str("the driver has stopped"),
        }
    }
}

impl std::error::Error for DriverError {}

/// What the driver reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The station address read at probe.
    pub mac: [u8; 6],
    /// PCI revision.
    pub revision: u32,
    /// Chip version (TCR & 0x7CC00000).
    pub chip_version: u32,
    /// The last media check (`chip::link` bits).
    pub link: u32,
    /// Missed packets (MPC) accumulated by the slow path.
    pub rx_missed: u64,
    /// Crossings between the nucleus and the decaf driver.
    pub crossings: Crossings,
    /// Register accesses made by the slow path.
    pub slow_accesses: u64,
    /// Media checks run (watchdog and link changes).
    pub media_checks: u64,
    /// Transmit timeouts recovered.
    pub tx_timeouts: u64,
    /// Decaf drivers restarted after dying.
    pub decaf_restarts: u64,
    /// The decaf process, if any.
    pub decaf_pid: Option<u32>,
    /// How long bring-up took (launch, probe, open).
    pub bring_up: Duration,
    /// The last slow-path failure, if any.
    pub last_error: Option<String>,
}

impl Status {
    /// Whether the last media check saw a carrier.
    pub fn carrier(&self) -> bool {
        self.link & link::UP != 0
    }
}

enum Request {
    Op(Op, mpsc::Sender<Result<(), DriverError>>),
    Stop(mpsc::Sender<Result<(), DriverError>>),
}

/// A running RTL8139 driver.
pub struct Driver {
    nucleus: Arc<Nucleus>,
    requests: mpsc::Sender<Request>,
    worker: Option<JoinHandle<()>>,
    status: Arc<Mutex<Status>>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// The work thread's state.
struct Worker {
    nucleus: Arc<Nucleus>,
    slow: Box<dyn SlowPath>,
    dev: Box<Rtl8139Dev>,
    config: Config,
    status: Arc<Mutex<Status>>,
    /// The interface should run (opened and not suspended).
    up: bool,
    /// Bring-up succeeded: from now on a dead decaf driver is restarted
    /// (during bring-up its death fails the bring-up instead).
    brought_up: bool,
}

impl Driver {
    /// Brings the driver up on `device`: launches the slow path, probes,
    /// allocates the rings from `memory` and opens. Received frames go to
    /// `os`. On failure the device is left quiet (interrupts masked,
    /// transmitter and receiver off) with nothing allocated.
    pub fn start(
        device: Arc<dyn PciDevice>,
        memory: Arc<dyn DmaMemory>,
        os: Arc<dyn FrameSink>,
        config: Config,
    ) -> Result<Driver, DriverError> {
        let began = Instant::now();
        let nucleus = Nucleus::new(device, memory, os);
        let status = Arc::new(Mutex::new(Status::default()));
        let slow: Box<dyn SlowPath> = match &config.mode {
            Mode::Native => Box::new(Local::new(Arc::clone(&nucleus))),
            Mode::Decaf(launcher) => match Decaf::launch(
                launcher.clone(),
                Arc::clone(&nucleus),
                config.call_timeout,
                config.upcall_hook.clone(),
            ) {
                Ok(d) => Box::new(d),
                Err(error) => {
                    nucleus.quiesce();
                    return Err(DriverError::BringUp {
                        stage: "launch",
                        error,
                    });
                }
            },
        };
        let mut worker = Worker {
            nucleus: Arc::clone(&nucleus),
            slow,
            dev: Box::default(),
            config,
            status: Arc::clone(&status),
            up: false,
            brought_up: false,
        };
        worker.bring_up()?;
        lock(&status).bring_up = began.elapsed();
        let (requests, inbox) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("rtl8139-work".into())
            .spawn(move || worker.run(inbox))
            .map_err(|e| DriverError::Slow(SlowError::Launch(e.to_string())))?;
        Ok(Driver {
            nucleus,
            requests,
            worker: Some(handle),
            status,
        })
    }

    /// The fast path (transmit, counters).
    pub fn nucleus(&self) -> &Arc<Nucleus> {
        &self.nucleus
    }

    /// Transmits a frame, or says why not at once.
    pub fn transmit(&self, frame: &[u8]) -> Result<(), TxError> {
        self.nucleus.transmit(frame)
    }

    /// Transmits a frame, waiting up to `timeout` for room.
    pub fn transmit_wait(&self, frame: &[u8], timeout: Duration) -> Result<(), TxError> {
        self.nucleus.transmit_wait(frame, timeout)
    }

    /// The fast path's counters.
    pub fn fast_stats(&self) -> FastStats {
        self.nucleus.stats()
    }

    /// What the slow path knows.
    pub fn status(&self) -> Status {
        let mut s = lock(&self.status).clone();
        s.slow_accesses = self.nucleus.slow_accesses();
        s
    }

    fn request(&self, op: Op) -> Result<(), DriverError> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .send(Request::Op(op, tx))
            .map_err(|_| DriverError::Stopped)?;
        rx.recv().map_err(|_| DriverError::Stopped)?
    }

    /// Sets the receive mode: `flags` from `chip::rx_flags`, and the
    /// multicast addresses to accept.
    pub fn set_rx_mode(&self, flags: u32, multicast: &[[u8; 6]]) -> Result<(), DriverError> {
        self.request(Op::SetRxMode(flags, multicast.to_vec()))
    }

    /// Runs a media check now (the watchdog does every 2 s).
    pub fn media_check(&self) -> Result<(), DriverError> {
        self.request(Op::MediaCheck)
    }

    /// Suspends the device (transmit queue stopped, chip off).
    pub fn suspend(&self) -> Result<(), DriverError> {
        self.request(Op::Suspend)
    }

    /// Resumes it.
    pub fn resume(&self) -> Result<(), DriverError> {
        self.request(Op::Resume)
    }

    /// Closes the interface, frees the rings, stops the decaf driver.
    pub fn stop(mut self) -> Result<(), DriverError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), DriverError> {
        let Some(handle) = self.worker.take() else {
            return Ok(());
        };
        let (tx, rx) = mpsc::channel();
        let result = match self.requests.send(Request::Stop(tx)) {
            Ok(()) => rx.recv().unwrap_or(Err(DriverError::Stopped)),
            Err(_) => Err(DriverError::Stopped),
        };
        let _ = handle.join();
        result
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How often the work thread looks for link changes and stalled
/// transmits.
const TICK: Duration = Duration::from_millis(20);

impl Worker {
    /// Probe and open; on failure, leave nothing behind.
    fn bring_up(&mut self) -> Result<(), DriverError> {
        let stage = match self.perform(Op::Probe) {
            Err(e) => Some(("probe", e)),
            Ok(()) => self.perform(Op::Open).err().map(|e| ("open", e)),
        };
        let Some((stage, e)) = stage else {
            self.brought_up = true;
            return Ok(());
        };
        self.nucleus.quiesce();
        self.nucleus.free_rings();
        self.slow.shutdown();
        self.publish();
        Err(match e {
            DriverError::Slow(error) => DriverError::BringUp { stage, error },
            other => other,
        })
    }

    fn run(mut self, inbox: mpsc::Receiver<Request>) {
        let mut next_watchdog = Instant::now() + self.config.watchdog;
        loop {
            match inbox.recv_timeout(TICK) {
                Ok(Request::Op(op, reply)) => {
                    let _ = reply.send(self.perform(op));
                }
                Ok(Request::Stop(reply)) => {
                    let _ = reply.send(self.close());
                    return;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = self.close();
                    return;
                }
            }
            if !self.up {
                continue;
            }
            let now = Instant::now();
            if self.nucleus.take_link_work() || now >= next_watchdog {
                next_watchdog = now + self.config.watchdog;
                let _ = self.perform(Op::MediaCheck);
            }
            if self.nucleus.tx_stalled(self.config.tx_timeout)
                && self.perform(Op::TxTimeout).is_ok()
            {
                lock(&self.status).tx_timeouts += 1;
            }
        }
    }

    fn close(&mut self) -> Result<(), DriverError> {
        let result = self.perform(Op::Close);
        if result.is_err() {
            self.nucleus.quiesce();
        }
        self.nucleus.free_rings();
        self.slow.shutdown();
        self.publish();
        result
    }

    /// Runs one procedure with the fast path standing aside if it must,
    /// restarting a dead decaf driver once while the interface is up.
    fn perform(&mut self, op: Op) -> Result<(), DriverError> {
        let exclusive = op.exclusive();
        if exclusive {
            self.nucleus.hold();
        }
        let rx_config = self.dev.rx_config;
        let prepared = self.prepare(&op);
        let result = prepared.and_then(|()| {
            let mut r = self.slow.run(&op, &mut self.dev);
            if matches!(r, Err(SlowError::DecafGone(_)))
                && self.brought_up
                && self.config.restart_decaf
            {
                r = self.slow.restart();
                if r.is_ok() {
                    let mut s = lock(&self.status);
                    s.decaf_restarts += 1;
                    s.decaf_pid = self.slow.decaf_pid();
                    drop(s);
                    r = self.slow.run(&op, &mut self.dev);
                }
            }
            r.map_err(DriverError::Slow)
        });
        match (&op, &result) {
            (Op::Open | Op::Resume, Ok(())) => self.up = true,
            (Op::Close | Op::Suspend, _) => self.up = false,
            _ => {}
        }
        if op == Op::MediaCheck && result.is_ok() {
            lock(&self.status).media_checks += 1;
        }
        if matches!(op, Op::SetRxMode(..)) && self.dev.rx_config != rx_config {
            self.nucleus.restart_rx();
        }
        self.nucleus.set_rx_config(self.dev.rx_config);
        if exclusive {
            self.nucleus.release(self.up);
        }
        if let Err(e) = &result {
            lock(&self.status).last_error =
                Some(format!("{}: {e}", crate::proto::name(op.procedure())));
        }
        self.publish();
        result
    }

    /// The nucleus's part before a procedure: rings for open, indices
    /// reset before every `hw_start`.
    fn prepare(&mut self, op: &Op) -> Result<(), DriverError> {
        if *op == Op::Open {
            let rings = self
                .nucleus
                .alloc_rings()
                .map_err(|e| DriverError::NoMemory(e.to_string()))?;
            self.dev.rx_ring = rings.rx.addr;
            self.dev.tx_buf = rings.tx.map(|b| b.addr);
        }
        if matches!(op, Op::Open | Op::TxTimeout | Op::Resume) {
            self.nucleus.reset_rings();
        }
        Ok(())
    }

    fn publish(&self) {
        let mut s = lock(&self.status);
        s.mac = self.dev.mac;
        s.revision = self.dev.revision;
        s.chip_version = self.dev.chip_version;
        s.link = self.dev.link;
        s.rx_missed = self.dev.rx_missed;
        s.crossings = self.slow.crossings();
        s.decaf_pid = self.slow.decaf_pid();
    }
}
