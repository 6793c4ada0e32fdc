//! The slow path as the nucleus's work thread sees it: one procedure at a
//! time on the device object, run either right here ([`Local`], the
//! native twin) or in the decaf driver over XPC ([`Decaf`]), which may be
//! a thread of this process or a process of its own.
//!
//! ```text
//!   work thread ── SlowPath::run(op, dev) ──┬─ Local: chip::*(DirectRegs)
//!                                           └─ Decaf: downcall ─▶ decaf driver
//!                                                 REG_IO upcalls ◀─┘ (served
//!                                                 here while the downcall waits)
//! ```

use std::fmt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xdr::{Decoder, Encoder, Fields, Xdr};
use xpc::{Endpoint, Exports, Fault, Transport, XpcError};

use crate::chip::{self, ChipError, Regs};
use crate::nucleus::{BAR, Nucleus};
use crate::proto::{self, op};
use crate::regs::reg;
use crate::{RegBatch, RegOp, RegValues, Rtl8139Dev, RxModeArgs};

/// A slow-path procedure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Identify the chip and read its MAC.
    Probe,
    /// Program the chip and start it.
    Open,
    /// Stop the chip.
    Close,
    /// Recover from a transmit timeout.
    TxTimeout,
    /// Receive mode: flags (`chip::rx_flags`) and multicast addresses.
    SetRxMode(u32, Vec<[u8; 6]>),
    /// Check the link.
    MediaCheck,
    /// Stop for a system sleep.
    Suspend,
    /// Start again after one.
    Resume,
}

impl Op {
    /// The downcall that carries it.
    pub fn procedure(&self) -> u32 {
        match self {
            Op::Probe => proto::PROBE,
            Op::Open => proto::OPEN,
            Op::Close => proto::CLOSE,
            Op::TxTimeout => proto::TX_TIMEOUT,
            Op::SetRxMode(..) => proto::SET_RX_MODE,
            Op::MediaCheck => proto::MEDIA_CHECK,
            Op::Suspend => proto::SUSPEND,
            Op::Resume => proto::RESUME,
        }
    }

    /// Whether it owns the device while it runs (the fast path stands
    /// aside). Only the media check, which reads, runs beside the fast
    /// path; the nucleus refuses its register writes.
    pub fn exclusive(&self) -> bool {
        !matches!(self, Op::MediaCheck)
    }

    /// Runs it on `dev` with register access `r` (both sides use this).
    pub fn run_chip(&self, r: &mut dyn Regs, dev: &mut Rtl8139Dev) -> Result<(), ChipError> {
        match self {
            Op::Probe => chip::probe(r, dev),
            Op::Open | Op::Resume => chip::hw_start(r, dev).map(drop),
            Op::Close => chip::close(r, dev),
            Op::TxTimeout => chip::tx_timeout(r, dev).map(drop),
            Op::SetRxMode(flags, addrs) => chip::set_rx_mode(r, dev, *flags, addrs),
            Op::MediaCheck => chip::media_check(r, dev).map(drop),
            Op::Suspend => chip::suspend(r, dev),
        }
    }
}

/// Why the slow path failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlowError {
    /// The procedure ran and failed.
    Chip(ChipError),
    /// The decaf driver is gone (exited, crashed, killed) or stopped
    /// answering.
    DecafGone(String),
    /// The decaf driver answered nonsense (it is not trusted).
    Protocol(String),
    /// The decaf driver could not be started.
    Launch(String),
}

impl fmt::Display for SlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlowError::Chip(e) => write!(f, "{e}"),
            SlowError::DecafGone(why) => write!(f, "the decaf driver is gone: {why}"),
            SlowError::Protocol(why) => write!(f, "the decaf driver broke the protocol: {why}"),
            SlowError::Launch(why) => write!(f, "the decaf driver could not be started: {why}"),
        }
    }
}

impl std::error::Error for SlowError {}

/// Crossings between the nucleus and the decaf driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crossings {
    /// Downcalls (nucleus to decaf).
    pub downcalls: u64,
    /// Upcalls (decaf to nucleus): register batches.
    pub upcalls: u64,
}

/// The slow path, driven by the work thread.
pub trait SlowPath: Send {
    /// Runs `op` on the device object.
    fn run(&mut self, op: &Op, dev: &mut Rtl8139Dev) -> Result<(), SlowError>;
    /// Starts a fresh decaf driver after the last one died (the native
    /// twin has nothing to restart).
    fn restart(&mut self) -> Result<(), SlowError>;
    /// Crossings so far.
    fn crossings(&self) -> Crossings;
    /// The decaf process, if there is one.
    fn decaf_pid(&self) -> Option<u32>;
    /// Stops the decaf driver (and reaps its process).
    fn shutdown(&mut self);
}

/// Register access straight to the device (the native twin, and the
/// nucleus's side of a register batch).
pub struct DirectRegs<'n> {
    nucleus: &'n Nucleus,
}

impl<'n> DirectRegs<'n> {
    /// Register access through `nucleus`'s device.
    pub fn new(nucleus: &'n Nucleus) -> Self {
        DirectRegs { nucleus }
    }

    fn count(&self) {
        self.nucleus.count_slow_accesses(1);
    }
}

impl Regs for DirectRegs<'_> {
    fn read8(&mut self, offset: u32) -> Result<u8, ChipError> {
        self.count();
        Ok(self.nucleus.device().read8(BAR, offset))
    }
    fn read16(&mut self, offset: u32) -> Result<u16, ChipError> {
        self.count();
        Ok(self.nucleus.device().read16(BAR, offset))
    }
    fn read32(&mut self, offset: u32) -> Result<u32, ChipError> {
        self.count();
        Ok(self.nucleus.device().read32(BAR, offset))
    }
    fn write8(&mut self, offset: u32, value: u8) -> Result<(), ChipError> {
        self.count();
        self.nucleus.device().write8(BAR, offset, value);
        Ok(())
    }
    fn write16(&mut self, offset: u32, value: u16) -> Result<(), ChipError> {
        self.count();
        self.nucleus.device().write16(BAR, offset, value);
        Ok(())
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), ChipError> {
        self.count();
        self.nucleus.device().write32(BAR, offset, value);
        Ok(())
    }
    fn config_read(&mut self, offset: u16, size: u8) -> Result<u32, ChipError> {
        self.count();
        Ok(self.nucleus.device().config_read(offset, size))
    }
    fn config_write(&mut self, offset: u16, size: u8, value: u32) -> Result<(), ChipError> {
        self.count();
        self.nucleus.device().config_write(offset, size, value);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ChipError> {
        Ok(())
    }
}

/// The native twin's slow path: the same procedures, run in the nucleus.
pub struct Local {
    nucleus: Arc<Nucleus>,
}

impl Local {
    /// The slow path of `nucleus`, in process.
    pub fn new(nucleus: Arc<Nucleus>) -> Self {
        Local { nucleus }
    }
}

impl SlowPath for Local {
    fn run(&mut self, op: &Op, dev: &mut Rtl8139Dev) -> Result<(), SlowError> {
        op.run_chip(&mut DirectRegs::new(&self.nucleus), dev)
            .map_err(SlowError::Chip)
    }
    fn restart(&mut self) -> Result<(), SlowError> {
        Ok(())
    }
    fn crossings(&self) -> Crossings {
        Crossings::default()
    }
    fn decaf_pid(&self) -> Option<u32> {
        None
    }
    fn shutdown(&mut self) {}
}

/// Executes a register batch from the decaf driver: every operation is
/// checked before any runs (a bad batch does nothing); writes are refused
/// unless the current downcall owns the device.
pub fn execute_batch(
    nucleus: &Nucleus,
    batch: &RegBatch,
    writes_allowed: bool,
) -> Result<RegValues, String> {
    let rings = nucleus.rings();
    for (i, o) in batch.ops.iter().enumerate() {
        let size = match o.op {
            op::READ8 | op::WRITE8 => 1,
            op::READ16 | op::WRITE16 => 2,
            op::READ32 | op::WRITE32 => 4,
            op::CONFIG_READ => o.value,
            op::CONFIG_WRITE => o.offset >> 24,
            other => return Err(format!("operation {i}: unknown code {other}")),
        };
        let offset = if o.op == op::CONFIG_WRITE {
            o.offset & 0xFF_FFFF
        } else {
            o.offset
        };
        let window = if matches!(o.op, op::CONFIG_READ | op::CONFIG_WRITE) {
            if !matches!(size, 1 | 2 | 4) {
                return Err(format!(
                    "operation {i}: configuration access of {size} bytes"
                ));
            }
            256
        } else {
            0x100
        };
        if offset.checked_add(size).is_none_or(|end| end > window) {
            return Err(format!(
                "operation {i}: offset {offset:#x} outside the window"
            ));
        }
        if !op::is_read(o.op) && !writes_allowed {
            return Err(format!(
                "operation {i}: a register write during a procedure that does not own the device"
            ));
        }
        // The configuration header's identity and BARs are the nucleus's.
        if o.op == op::CONFIG_WRITE && offset != 4 && offset != 6 {
            return Err(format!(
                "operation {i}: configuration write at {offset:#x} refused"
            ));
        }
        if is_register_write(o.op) {
            check_dma_write(o, offset, size, rings.as_ref())
                .map_err(|why| format!("operation {i}: {why}"))?;
        }
    }
    let dev = nucleus.device();
    let mut values = Vec::new();
    for o in &batch.ops {
        match o.op {
            op::READ8 => values.push(u32::from(dev.read8(BAR, o.offset))),
            op::READ16 => values.push(u32::from(dev.read16(BAR, o.offset))),
            op::READ32 => values.push(dev.read32(BAR, o.offset)),
            op::WRITE8 => dev.write8(BAR, o.offset, o.value as u8),
            op::WRITE16 => dev.write16(BAR, o.offset, o.value as u16),
            op::WRITE32 => dev.write32(BAR, o.offset, o.value),
            op::CONFIG_READ => values.push(dev.config_read(o.offset as u16, o.value as u8)),
            _ => dev.config_write(
                (o.offset & 0xFF_FFFF) as u16,
                (o.offset >> 24) as u8,
                o.value,
            ),
        }
    }
    nucleus.count_slow_accesses(batch.ops.len() as u64);
    Ok(RegValues { values })
}

fn is_register_write(code: u32) -> bool {
    matches!(code, op::WRITE8 | op::WRITE16 | op::WRITE32)
}

/// The registers that aim the chip's DMA (RBSTART, TSAD0-3) and start it
/// (TSD0-3) belong to the nucleus: the decaf driver may only write the
/// ring addresses the nucleus allocated, whole, and never start a
/// transmit. So a decaf driver, however broken, cannot make the device
/// read or write memory outside the rings.
fn check_dma_write(
    o: &RegOp,
    offset: u32,
    size: u32,
    rings: Option<&crate::nucleus::Rings>,
) -> Result<(), String> {
    let end = offset + size;
    let overlaps = |start: u32, len: u32| offset < start + len && start < end;
    if overlaps(reg::TSD0, 16) {
        return Err(format!(
            "a write to TSD at {offset:#x}: transmits are the nucleus's"
        ));
    }
    let expected = if overlaps(reg::RBSTART, 4) {
        rings.map(|r| r.rx.addr)
    } else if let Some(n) = (0..4).find(|&n| overlaps(reg::TSAD0 + 4 * n, 4)) {
        rings.map(|r| r.tx[n as usize].addr)
    } else {
        return Ok(());
    };
    if o.op != op::WRITE32 || !offset.is_multiple_of(4) {
        return Err(format!(
            "a partial write to a DMA address register at {offset:#x}"
        ));
    }
    match expected {
        Some(addr) if u64::from(o.value) == addr => Ok(()),
        _ => Err(format!(
            "DMA address {:#x} at {offset:#x} is not a ring the nucleus allocated",
            o.value
        )),
    }
}

/// Called before each register batch from the decaf driver is executed,
/// with the number of batches so far and the decaf process's pid (tests
/// use it to kill the process at a chosen moment).
pub type UpcallHook = Arc<dyn Fn(u64, Option<u32>) + Send + Sync>;

/// Where the decaf driver runs.
#[derive(Clone, Debug)]
pub enum Launcher {
    /// On a thread of this process, over in-process channels (tests, and
    /// the demo's default).
    Thread,
    /// In a process of its own: `program args.. FD` maps the shared region
    /// inherited as descriptor FD (see [`crate::decaf::process_main`]).
    Process {
        /// The program (e.g. the `rtl8139-decaf` binary, or `dingo`).
        program: PathBuf,
        /// Arguments before the descriptor number.
        args: Vec<String>,
    },
}

/// A running decaf driver.
enum Running {
    Thread(std::thread::JoinHandle<()>),
    Process(Arc<Mutex<Child>>),
}

/// The slow path in the decaf driver, over XPC.
pub struct Decaf {
    launcher: Launcher,
    nucleus: Arc<Nucleus>,
    call_timeout: Duration,
    hook: Option<UpcallHook>,
    ep: Option<Endpoint<Box<dyn Transport>>>,
    running: Option<Running>,
    exports: Exports,
    writes_allowed: Arc<AtomicBool>,
    upcalls: Arc<AtomicU64>,
    pid: Arc<AtomicU32>,
    /// Crossings of earlier (dead) decaf drivers.
    past: Crossings,
}

impl Decaf {
    /// Starts the decaf driver for `nucleus` with `launcher`.
    pub fn launch(
        launcher: Launcher,
        nucleus: Arc<Nucleus>,
        call_timeout: Duration,
        hook: Option<UpcallHook>,
    ) -> Result<Decaf, SlowError> {
        let mut decaf = Decaf {
            launcher,
            nucleus,
            call_timeout,
            hook,
            ep: None,
            running: None,
            exports: Exports::new(),
            writes_allowed: Arc::new(AtomicBool::new(false)),
            upcalls: Arc::new(AtomicU64::new(0)),
            pid: Arc::new(AtomicU32::new(0)),
            past: Crossings::default(),
        };
        decaf.start()?;
        Ok(decaf)
    }

    fn start(&mut self) -> Result<(), SlowError> {
        let (transport, running): (Box<dyn Transport>, Running) = match &self.launcher {
            Launcher::Thread => {
                let (ours, theirs) = xpc::in_process();
                let handle = std::thread::Builder::new()
                    .name("rtl8139-decaf".into())
                    .spawn(move || crate::decaf::serve(Endpoint::new(theirs)))
                    .map_err(|e| SlowError::Launch(e.to_string()))?;
                self.pid.store(0, Ordering::SeqCst);
                (Box::new(ours), Running::Thread(handle))
            }
            Launcher::Process { program, args } => {
                let mut command = Command::new(program);
                command.args(args);
                let (shm, child) = xpc::peer::spawn(command, &[])
                    .map_err(|e| SlowError::Launch(format!("{}: {e}", program.display())))?;
                let pid = child.lock().map(|c| c.id()).unwrap_or(0);
                self.pid.store(pid, Ordering::SeqCst);
                (Box::new(shm), Running::Process(child))
            }
        };
        let mut ep = Endpoint::new(transport);
        let nucleus = Arc::clone(&self.nucleus);
        let allowed = Arc::clone(&self.writes_allowed);
        let upcalls = Arc::clone(&self.upcalls);
        let pid = Arc::clone(&self.pid);
        let hook = self.hook.clone();
        ep.register(proto::REG_IO, move |_, args| {
            let n = upcalls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(hook) = &hook {
                let p = pid.load(Ordering::SeqCst);
                hook(n, (p != 0).then_some(p));
            }
            let batch = RegBatch::from_bytes(args).map_err(|e| Fault::Failed(e.to_string()))?;
            let values = execute_batch(&nucleus, &batch, allowed.load(Ordering::SeqCst))
                .map_err(Fault::Failed)?;
            values.to_bytes().map_err(|e| Fault::Failed(e.to_string()))
        });
        self.ep = Some(ep);
        self.running = Some(running);
        // A new decaf driver knows no object yet.
        self.exports.release_all();
        Ok(())
    }

    fn downcall(&mut self, op: &Op, dev: &mut Rtl8139Dev) -> Result<(), SlowError> {
        let Some(ep) = self.ep.as_mut() else {
            return Err(SlowError::DecafGone("not running".into()));
        };
        let address = std::ptr::from_mut(dev) as usize as u64;
        let mut e = Encoder::new();
        self.exports
            .encode(&mut e, address, &*dev, Rtl8139Dev::in_fields())
            .map_err(|err| SlowError::Protocol(err.to_string()))?;
        if let Op::SetRxMode(flags, addrs) = op {
            RxModeArgs {
                flags: *flags,
                addrs: addrs.concat(),
            }
            .encode(&mut e)
            .map_err(|err| SlowError::Protocol(err.to_string()))?;
        }
        self.writes_allowed.store(op.exclusive(), Ordering::SeqCst);
        let result = ep.call(op.procedure(), e.finish(), self.call_timeout);
        self.writes_allowed.store(false, Ordering::SeqCst);
        let reply = match result {
            Ok(reply) => reply,
            Err(XpcError::Fault(Fault::Failed(why))) => {
                return Err(SlowError::Chip(ChipError::Io(why)));
            }
            Err(XpcError::Fault(f)) => return Err(SlowError::Protocol(f.to_string())),
            Err(e @ (XpcError::PeerGone | XpcError::Timeout)) => {
                return Err(SlowError::DecafGone(e.to_string()));
            }
            Err(XpcError::Protocol(why)) => return Err(SlowError::Protocol(why)),
        };
        let mut d = Decoder::new(&reply);
        // What comes back updates only this object's `out` fields; an
        // object the decaf side makes up is refused.
        let mut updated = dev.clone();
        self.exports
            .decode_into(&mut d, Rtl8139Dev::out_fields(), |a| {
                (a == address).then_some(&mut updated)
            })
            .map_err(|err| SlowError::Protocol(err.to_string()))?;
        d.finish()
            .map_err(|err| SlowError::Protocol(err.to_string()))?;
        *dev = updated;
        Ok(())
    }

    fn stop(&mut self) {
        self.past = self.crossings();
        self.upcalls.store(0, Ordering::SeqCst);
        // Closing our end ends a thread's serve loop.
        self.ep = None;
        match self.running.take() {
            Some(Running::Thread(h)) => {
                let _ = h.join();
            }
            Some(Running::Process(child)) => {
                if let Ok(mut c) = child.lock() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
            None => {}
        }
        self.pid.store(0, Ordering::SeqCst);
    }
}

impl SlowPath for Decaf {
    fn run(&mut self, op: &Op, dev: &mut Rtl8139Dev) -> Result<(), SlowError> {
        self.downcall(op, dev)
    }

    fn restart(&mut self) -> Result<(), SlowError> {
        self.stop();
        self.start()
    }

    fn crossings(&self) -> Crossings {
        let now = self.ep.as_ref().map(|e| e.stats()).unwrap_or_default();
        Crossings {
            downcalls: self.past.downcalls + now.calls,
            upcalls: self.past.upcalls + self.upcalls.load(Ordering::SeqCst),
        }
    }

    fn decaf_pid(&self) -> Option<u32> {
        let p = self.pid.load(Ordering::SeqCst);
        (p != 0).then_some(p)
    }

    fn shutdown(&mut self) {
        self.stop();
    }
}

impl Drop for Decaf {
    fn drop(&mut self) {
        self.stop();
    }
}
