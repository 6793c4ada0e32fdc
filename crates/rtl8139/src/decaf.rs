//! The decaf driver: the slow path in its own process (or thread), in
//! safe Rust. It serves the nucleus's downcalls, keeps its copy of the
//! device object in an object tracker, and reaches the chip only through
//! register batches it sends back to the nucleus (writes posted, sent
//! with the next read or at the end of the procedure).
//!
//! ```text
//!   serve loop ── downcall(PROBE..RESUME, dev in-fields [, rx_mode]) ──┐
//!        ▲                                                             ▼
//!        │                                  tracker: find/update dev in place
//!        │                                  Op::run_chip(XpcRegs, dev)
//!        │                                    write → queue; read → REG_IO(queue + read)
//!        └───────── reply: dev out-fields ◀── flush; encode_tracked
//! ```
//!
//! The decaf driver trusts the nucleus's bytes no more than the nucleus
//! trusts its: malformed arguments are a fault, never a panic.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use xdr::{Decoder, Encoder, Fields, Xdr};
use xpc::{Caller, Endpoint, Fault, ObjectTracker, Transport};

use crate::chip::{ChipError, Regs};
use crate::proto::{self, op};
use crate::slow::Op;
use crate::{RegBatch, RegOp, RegValues, Rtl8139Dev, RxModeArgs};

/// How long a register batch may take (QEMU needs ~0.1 ms per access).
const BATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Register access over XPC: writes are queued (posted) and go with the
/// next read, a full queue, or [`Regs::flush`].
pub struct XpcRegs<'c, 'a, T: Transport> {
    caller: &'c mut Caller<'a, T>,
    queue: Vec<RegOp>,
}

impl<'c, 'a, T: Transport> XpcRegs<'c, 'a, T> {
    /// Register access through the nucleus that `caller` reaches.
    pub fn new(caller: &'c mut Caller<'a, T>) -> Self {
        XpcRegs {
            caller,
            queue: Vec::new(),
        }
    }

    fn send(&mut self) -> Result<Vec<u32>, ChipError> {
        if self.queue.is_empty() {
            return Ok(Vec::new());
        }
        let reads = self.queue.iter().filter(|o| op::is_read(o.op)).count();
        let batch = RegBatch {
            ops: std::mem::take(&mut self.queue),
        };
        let bytes = batch.to_bytes().map_err(|e| ChipError::Io(e.to_string()))?;
        let reply = self
            .caller
            .call(proto::REG_IO, bytes, BATCH_TIMEOUT)
            .map_err(|e| ChipError::Io(e.to_string()))?;
        let values = RegValues::from_bytes(&reply)
            .map_err(|e| ChipError::Io(format!("bad register values: {e}")))?;
        if values.values.len() != reads {
            return Err(ChipError::Io(format!(
                "{} register values for {reads} reads",
                values.values.len()
            )));
        }
        Ok(values.values)
    }

    fn post(&mut self, code: u32, offset: u32, value: u32) -> Result<(), ChipError> {
        self.queue.push(RegOp {
            op: code,
            offset,
            value,
        });
        if self.queue.len() >= proto::MAX_BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn read(&mut self, code: u32, offset: u32, value: u32) -> Result<u32, ChipError> {
        self.queue.push(RegOp {
            op: code,
            offset,
            value,
        });
        self.send()?
            .pop()
            .ok_or_else(|| ChipError::Io("no value for a read".into()))
    }
}

impl<T: Transport> Regs for XpcRegs<'_, '_, T> {
    fn read8(&mut self, offset: u32) -> Result<u8, ChipError> {
        self.read(op::READ8, offset, 0).map(|v| v as u8)
    }
    fn read16(&mut self, offset: u32) -> Result<u16, ChipError> {
        self.read(op::READ16, offset, 0).map(|v| v as u16)
    }
    fn read32(&mut self, offset: u32) -> Result<u32, ChipError> {
        self.read(op::READ32, offset, 0)
    }
    fn write8(&mut self, offset: u32, value: u8) -> Result<(), ChipError> {
        self.post(op::WRITE8, offset, value.into())
    }
    fn write16(&mut self, offset: u32, value: u16) -> Result<(), ChipError> {
        self.post(op::WRITE16, offset, value.into())
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), ChipError> {
        self.post(op::WRITE32, offset, value)
    }
    fn config_read(&mut self, offset: u16, size: u8) -> Result<u32, ChipError> {
        self.read(op::CONFIG_READ, offset.into(), size.into())
    }
    fn config_write(&mut self, offset: u16, size: u8, value: u32) -> Result<(), ChipError> {
        self.post(
            op::CONFIG_WRITE,
            u32::from(offset) | u32::from(size) << 24,
            value,
        )
    }
    fn flush(&mut self) -> Result<(), ChipError> {
        self.send().map(drop)
    }
    fn script(&mut self, ops: &[RegOp]) -> Result<Vec<u32>, ChipError> {
        if ops
            .iter()
            .any(|o| !op::is_read(o.op) && !op::is_write(o.op))
        {
            return Err(ChipError::Io("unknown script operation".into()));
        }
        // Posted writes first, then the script, in as few batches as fit.
        let mut values = self.send()?;
        for chunk in ops.chunks(proto::MAX_BATCH) {
            self.queue.extend_from_slice(chunk);
            values.extend(self.send()?);
        }
        Ok(values)
    }
}

/// The decaf driver's state: its copies of the nucleus's objects.
type Tracker = Arc<Mutex<ObjectTracker<Rtl8139Dev>>>;

fn failed(e: impl std::fmt::Display) -> Fault {
    Fault::Failed(e.to_string())
}

/// Serves one downcall.
fn handle<T: Transport>(
    procedure: u32,
    caller: &mut Caller<'_, T>,
    args: &[u8],
    tracker: &Tracker,
) -> Result<Vec<u8>, Fault> {
    let mut d = Decoder::new(args);
    let mut objects = tracker.lock().unwrap_or_else(PoisonError::into_inner);
    let id = objects
        .decode_tracked(&mut d, Rtl8139Dev::in_fields())
        .map_err(failed)?;
    let op = match procedure {
        proto::PROBE => Op::Probe,
        proto::OPEN => Op::Open,
        proto::CLOSE => Op::Close,
        proto::TX_TIMEOUT => Op::TxTimeout,
        proto::MEDIA_CHECK => Op::MediaCheck,
        proto::SUSPEND => Op::Suspend,
        proto::RESUME => Op::Resume,
        proto::SET_RX_MODE => {
            let mode = RxModeArgs::decode(&mut d).map_err(failed)?;
            if mode.addrs.len() % 6 != 0 {
                return Err(Fault::Failed(format!(
                    "{} bytes of multicast addresses is not a whole number of addresses",
                    mode.addrs.len()
                )));
            }
            let addrs = mode
                .addrs
                .chunks_exact(6)
                .map(|c| [c[0], c[1], c[2], c[3], c[4], c[5]])
                .collect();
            Op::SetRxMode(mode.flags, addrs)
        }
        other => return Err(Fault::NoSuchProcedure(other)),
    };
    d.finish().map_err(failed)?;
    let dev = objects
        .get_mut(id)
        .ok_or_else(|| Fault::Failed("object released".into()))?;
    let mut regs = XpcRegs::new(caller);
    let result = op.run_chip(&mut regs, dev);
    let flushed = regs.flush();
    result.and(flushed).map_err(failed)?;
    let mut e = Encoder::new();
    objects
        .encode_tracked(&mut e, id, Rtl8139Dev::out_fields())
        .map_err(failed)?;
    Ok(e.finish())
}

/// Serves downcalls on `ep` until the channel closes.
pub fn serve<T: Transport + 'static>(mut ep: Endpoint<T>) {
    let tracker: Tracker = Arc::new(Mutex::new(ObjectTracker::new()));
    for procedure in [
        proto::PROBE,
        proto::OPEN,
        proto::CLOSE,
        proto::TX_TIMEOUT,
        proto::SET_RX_MODE,
        proto::MEDIA_CHECK,
        proto::SUSPEND,
        proto::RESUME,
    ] {
        let tracker = Arc::clone(&tracker);
        ep.register(procedure, move |caller, args| {
            handle(procedure, caller, args, &tracker)
        });
    }
    while ep.serve(None).is_ok() {}
}

/// The decaf process's `main`: `args` is the inherited shared region's
/// descriptor number. Serves until the nucleus goes away; returns the exit
/// code (2 for bad arguments).
pub fn process_main(args: &[String]) -> i32 {
    let [fd] = args else {
        eprintln!("usage: rtl8139-decaf FD   (started by the nucleus, not by hand)");
        return 2;
    };
    let shm = match xpc::peer::open_inherited(fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtl8139-decaf: {e}");
            return 2;
        }
    };
    serve(Endpoint::new(shm));
    0
}
