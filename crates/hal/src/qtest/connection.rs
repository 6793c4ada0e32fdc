//! [`QtestConnection`]: the client side of one qtest socket. One request at
//! a time (a mutex around send and await-reply); a reader thread splits
//! QEMU's lines into replies (to the waiting request) and `IRQ` lines (to
//! the delivery thread, which calls the interrupt handlers in order).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::QemuError;
use super::memory::CHUNK;
use super::protocol::{self, Line, MAX_LINE};
use crate::IrqHandler;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the reader thread hands to the waiting request.
type ReplyLine = Result<String, QemuError>;

/// Messages to the delivery thread, handled strictly in order.
enum Delivery {
    /// QEMU reported a level change of input `line`.
    Level { line: u8, raise: bool },
    /// Install (`Some`) or remove (`None`) the handler of `slot`, listening
    /// to input `line`.
    Install {
        slot: u64,
        line: u8,
        handler: Option<IrqHandler>,
    },
    /// The connection ended: drop the handlers and exit.
    Stop,
}

struct Io {
    writer: UnixStream,
    replies: Receiver<ReplyLine>,
    /// Set once the stream can no longer be trusted to be in step (timeout,
    /// malformed reply, QEMU gone); every later request fails with it.
    broken: Option<QemuError>,
    command: String,
}

struct Shared {
    first_error: Mutex<Option<QemuError>>,
}

impl Shared {
    fn record(&self, e: &QemuError) {
        let mut slot = lock(&self.first_error);
        if slot.is_none() {
            *slot = Some(e.clone());
        }
    }
}

/// A qtest connection over a connected Unix stream: typed commands (port
/// and memory accesses, bulk `read`/`write`), and interrupt lines delivered
/// to handlers on a dedicated thread.
///
/// [`Qemu`](super::Qemu) makes one for the QEMU it launches; tests can make
/// one over a socket pair to play QEMU's part (hostile replies).
///
/// Every command waits at most the timeout given to [`QtestConnection::new`]
/// for its reply. A timeout, a malformed reply or the end of the stream
/// breaks the connection for good (a late reply would otherwise answer the
/// next command): all later commands fail with the same error. A `FAIL`
/// reply fails only its command.
pub struct QtestConnection {
    io: Mutex<Io>,
    /// Held across the two halves of a 0xCF8/0xCFC configuration cycle.
    config_cycle: Mutex<()>,
    shared: Arc<Shared>,
    delivery: Mutex<Sender<Delivery>>,
    stream: UnixStream,
    timeout: Duration,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_slot: AtomicU64,
}

impl std::fmt::Debug for QtestConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QtestConnection")
            .field("timeout", &self.timeout)
            .field("error", &self.error())
            .finish_non_exhaustive()
    }
}

impl QtestConnection {
    /// Takes over `stream` (QEMU's `-qtest` socket, already connected) and
    /// starts the reader and delivery threads. `timeout` bounds the wait for
    /// each reply.
    pub fn new(stream: UnixStream, timeout: Duration) -> Result<Arc<Self>, QemuError> {
        let io_err = |e: std::io::Error| QemuError::Io(format!("qtest socket: {e}"));
        let reader_stream = stream.try_clone().map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        let (reply_tx, reply_rx) = mpsc::channel();
        let (delivery_tx, delivery_rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            first_error: Mutex::new(None),
        });
        let reader = {
            let delivery = delivery_tx.clone();
            thread::Builder::new()
                .name("qtest-reader".into())
                .spawn(move || reader_loop(reader_stream, &reply_tx, &delivery))
                .map_err(io_err)?
        };
        let deliverer = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("qtest-irq".into())
                .spawn(move || delivery_loop(&delivery_rx, &shared))
        };
        let deliverer = match deliverer {
            Ok(t) => t,
            Err(e) => {
                let _ = stream.shutdown(Shutdown::Both);
                let _ = reader.join();
                return Err(io_err(e));
            }
        };
        Ok(Arc::new(QtestConnection {
            io: Mutex::new(Io {
                writer,
                replies: reply_rx,
                broken: None,
                command: String::with_capacity(2 * CHUNK + 64),
            }),
            config_cycle: Mutex::new(()),
            shared,
            delivery: Mutex::new(delivery_tx),
            stream,
            timeout,
            threads: Mutex::new(vec![reader, deliverer]),
            next_slot: AtomicU64::new(1),
        }))
    }

    /// The first failure of any command on this connection (QEMU gone,
    /// timeout, malformed reply, `FAIL`), if there was one.
    pub fn error(&self) -> Option<QemuError> {
        lock(&self.shared.first_error).clone()
    }

    /// Whether the connection is broken (every command now fails).
    pub fn is_broken(&self) -> bool {
        lock(&self.io).broken.is_some()
    }

    /// Closes the stream: the reader thread ends, the delivery thread drops
    /// the handlers and ends, and every later command fails.
    pub fn close(&self) {
        let mut io = lock(&self.io);
        if io.broken.is_none() {
            io.broken = Some(QemuError::Died("qtest connection closed".into()));
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn fail(&self, io: &mut Io, e: QemuError) -> QemuError {
        io.broken = Some(e.clone());
        self.shared.record(&e);
        let _ = self.stream.shutdown(Shutdown::Both);
        e
    }

    /// Sends one command line (without the newline) and returns the value
    /// of its `OK` reply, if any. The command must be a single line.
    ///
    /// QEMU checks a command's arguments with assertions: a malformed one
    /// (a missing argument, a zero-length `read`, a port above 0xFFFF)
    /// aborts QEMU. The typed methods never send such commands.
    pub fn request(&self, command: &str) -> Result<Option<String>, QemuError> {
        if command.is_empty() || command.bytes().any(|b| b == b'\n' || b == b'\r') {
            return Err(QemuError::Config(format!(
                "not a single command line: {}",
                protocol::quote(command)
            )));
        }
        let mut io = lock(&self.io);
        let mut line = std::mem::take(&mut io.command);
        line.clear();
        line.push_str(command);
        let result = self.request_locked(&mut io, &mut line);
        io.command = line;
        result
    }

    /// Sends `line` (a command; the newline is added here).
    fn request_locked(&self, io: &mut Io, line: &mut String) -> Result<Option<String>, QemuError> {
        if let Some(e) = &io.broken {
            return Err(e.clone());
        }
        // Nothing may be waiting: a line with no command to answer means
        // the stream is out of step (or the reader saw garbage or the end).
        if let Ok(stale) = io.replies.try_recv() {
            let e = match stale {
                Ok(l) => QemuError::Protocol(format!(
                    "line from QEMU with no command to answer: {}",
                    protocol::quote(&l)
                )),
                Err(e) => e,
            };
            return Err(self.fail(io, e));
        }
        line.push('\n');
        if let Err(e) = io.writer.write_all(line.as_bytes()) {
            return Err(self.fail(io, QemuError::Died(format!("writing to qtest socket: {e}"))));
        }
        let reply = match io.replies.recv_timeout(self.timeout) {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return Err(self.fail(io, e)),
            Err(RecvTimeoutError::Timeout) => {
                let cmd = line.trim_end();
                let what = cmd.split(' ').next().unwrap_or(cmd);
                let e = QemuError::Timeout(format!(
                    "no reply to qtest `{what}` within {:?}",
                    self.timeout
                ));
                return Err(self.fail(io, e));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(self.fail(io, QemuError::Died("qtest reader thread ended".into())));
            }
        };
        match protocol::parse_line(&reply) {
            Ok(Line::Ok(None)) => Ok(None),
            Ok(Line::Ok(Some(v))) => Ok(Some(v.to_owned())),
            Ok(Line::Fail(msg)) => {
                let cmd = line.trim_end();
                let cmd = if cmd.len() > 60 {
                    cmd.split(' ').next().unwrap_or("")
                } else {
                    cmd
                };
                let e = QemuError::Fail(format!("`{cmd}`: {}", protocol::quote(msg)));
                self.shared.record(&e);
                Err(e)
            }
            // The reader routes IRQ lines elsewhere, so this is a bad line.
            Ok(Line::Irq { .. }) => {
                Err(self.fail(io, QemuError::Protocol("IRQ line taken as a reply".into())))
            }
            Err(e) => Err(self.fail(io, e)),
        }
    }

    /// A command whose reply is a bare `OK`.
    fn ack(&self, command: &str) -> Result<(), QemuError> {
        match self.request(command)? {
            None => Ok(()),
            Some(v) => {
                let e = QemuError::Protocol(format!(
                    "unexpected value {} in reply",
                    protocol::quote(&v)
                ));
                let mut io = lock(&self.io);
                Err(self.fail(&mut io, e))
            }
        }
    }

    /// A command whose reply is `OK 0xHEX` no larger than `max`.
    fn number(&self, command: &str, max: u64) -> Result<u64, QemuError> {
        let parsed = match self.request(command)? {
            Some(v) => protocol::parse_number(&v, max),
            None => Err(QemuError::Protocol(format!(
                "no value in the reply to `{command}`"
            ))),
        };
        parsed.map_err(|e| {
            let mut io = lock(&self.io);
            self.fail(&mut io, e)
        })
    }

    /// `inb PORT`: read an I/O port byte.
    pub fn inb(&self, port: u16) -> Result<u8, QemuError> {
        self.number(&format!("inb {port:#x}"), 0xFF)
            .map(|v| v as u8)
    }
    /// `inw PORT`: read an I/O port word.
    pub fn inw(&self, port: u16) -> Result<u16, QemuError> {
        self.number(&format!("inw {port:#x}"), 0xFFFF)
            .map(|v| v as u16)
    }
    /// `inl PORT`: read an I/O port double word.
    pub fn inl(&self, port: u16) -> Result<u32, QemuError> {
        self.number(&format!("inl {port:#x}"), 0xFFFF_FFFF)
            .map(|v| v as u32)
    }
    /// `outb PORT VALUE`.
    pub fn outb(&self, port: u16, value: u8) -> Result<(), QemuError> {
        self.ack(&format!("outb {port:#x} {value:#x}"))
    }
    /// `outw PORT VALUE`.
    pub fn outw(&self, port: u16, value: u16) -> Result<(), QemuError> {
        self.ack(&format!("outw {port:#x} {value:#x}"))
    }
    /// `outl PORT VALUE`.
    pub fn outl(&self, port: u16, value: u32) -> Result<(), QemuError> {
        self.ack(&format!("outl {port:#x} {value:#x}"))
    }
    /// `readb ADDR`: a byte of guest-physical memory (or MMIO).
    pub fn readb(&self, addr: u64) -> Result<u8, QemuError> {
        self.number(&format!("readb {addr:#x}"), 0xFF)
            .map(|v| v as u8)
    }
    /// `readw ADDR`.
    pub fn readw(&self, addr: u64) -> Result<u16, QemuError> {
        self.number(&format!("readw {addr:#x}"), 0xFFFF)
            .map(|v| v as u16)
    }
    /// `readl ADDR`.
    pub fn readl(&self, addr: u64) -> Result<u32, QemuError> {
        self.number(&format!("readl {addr:#x}"), 0xFFFF_FFFF)
            .map(|v| v as u32)
    }
    /// `readq ADDR`.
    pub fn readq(&self, addr: u64) -> Result<u64, QemuError> {
        self.number(&format!("readq {addr:#x}"), u64::MAX)
    }
    /// `writeb ADDR VALUE`.
    pub fn writeb(&self, addr: u64, value: u8) -> Result<(), QemuError> {
        self.ack(&format!("writeb {addr:#x} {value:#x}"))
    }
    /// `writew ADDR VALUE`.
    pub fn writew(&self, addr: u64, value: u16) -> Result<(), QemuError> {
        self.ack(&format!("writew {addr:#x} {value:#x}"))
    }
    /// `writel ADDR VALUE`.
    pub fn writel(&self, addr: u64, value: u32) -> Result<(), QemuError> {
        self.ack(&format!("writel {addr:#x} {value:#x}"))
    }
    /// `writeq ADDR VALUE`.
    pub fn writeq(&self, addr: u64, value: u64) -> Result<(), QemuError> {
        self.ack(&format!("writeq {addr:#x} {value:#x}"))
    }

    /// Copies guest-physical memory at `addr` into `buf` with `read`
    /// commands of at most [`CHUNK`] bytes (an empty `buf` sends nothing:
    /// QEMU aborts on a zero-length `read`).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), QemuError> {
        check_range(addr, buf.len())?;
        let mut at = addr;
        for chunk in buf.chunks_mut(CHUNK) {
            let cmd = format!("read {at:#x} {}", chunk.len());
            let value = self
                .request(&cmd)?
                .ok_or_else(|| QemuError::Protocol("read reply without data".into()));
            if let Err(e) = value.and_then(|v| protocol::parse_bytes(&v, chunk)) {
                let mut io = lock(&self.io);
                return Err(self.fail(&mut io, e));
            }
            at += chunk.len() as u64;
        }
        Ok(())
    }

    /// Copies `data` to guest-physical memory at `addr` with `write`
    /// commands of at most [`CHUNK`] bytes.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), QemuError> {
        check_range(addr, data.len())?;
        let mut at = addr;
        let mut cmd = String::with_capacity(2 * CHUNK.min(data.len()) + 48);
        for chunk in data.chunks(CHUNK) {
            cmd.clear();
            cmd.push_str(&format!("write {at:#x} {} 0x", chunk.len()));
            protocol::push_hex(&mut cmd, chunk);
            self.ack(&cmd)?;
            at += chunk.len() as u64;
        }
        Ok(())
    }

    /// `irq_intercept_in QOM-PATH`: from now on QEMU reports level changes
    /// of the device's input lines (`ioapic` on a PC: one per GSI). QEMU
    /// allows one intercepted device per run; asking again for the same
    /// one is harmless.
    pub fn irq_intercept_in(&self, qom_path: &str) -> Result<(), QemuError> {
        protocol::check_qom_path(qom_path)?;
        self.ack(&format!("irq_intercept_in {qom_path}"))
    }

    /// Runs `f` holding the configuration-cycle lock (so that the address
    /// written to 0xCF8 is still there at the 0xCFC access).
    pub(crate) fn config_cycle<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = lock(&self.config_cycle);
        f()
    }

    /// A fresh handler slot (one per device).
    pub(crate) fn irq_slot(&self) -> u64 {
        self.next_slot.fetch_add(1, Ordering::Relaxed)
    }

    /// Installs (or with `None` removes) the handler of `slot` for input
    /// `line`. Done on the delivery thread, in order with level changes; if
    /// the line is raised then, the new handler is called with `true`.
    pub(crate) fn install_irq_handler(&self, slot: u64, line: u8, handler: Option<IrqHandler>) {
        let _ = lock(&self.delivery).send(Delivery::Install {
            slot,
            line,
            handler,
        });
    }
}

impl Drop for QtestConnection {
    fn drop(&mut self) {
        self.close();
        let me = thread::current().id();
        for t in lock(&self.threads).drain(..) {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

fn check_range(addr: u64, len: usize) -> Result<(), QemuError> {
    u64::try_from(len)
        .ok()
        .and_then(|l| addr.checked_add(l))
        .map(|_| ())
        .ok_or_else(|| QemuError::Config(format!("range {addr:#x}+{len} wraps around")))
}

fn reader_loop(stream: UnixStream, replies: &Sender<ReplyLine>, delivery: &Sender<Delivery>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut buf = Vec::with_capacity(256);
    let end = loop {
        buf.clear();
        let limit = MAX_LINE as u64 + 1;
        match (&mut reader).take(limit).read_until(b'\n', &mut buf) {
            Ok(0) => break QemuError::Died("QEMU closed the qtest connection".into()),
            Ok(_) if buf.last() != Some(&b'\n') => {
                break if buf.len() > MAX_LINE {
                    QemuError::Protocol(format!("line from QEMU longer than {MAX_LINE} bytes"))
                } else {
                    QemuError::Died("QEMU closed the qtest connection mid-line".into())
                };
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break QemuError::Died(format!("reading the qtest socket: {e}")),
        }
        buf.pop();
        let line = match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(l) => l,
            Err(e) => {
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let _ = replies.send(Err(QemuError::Protocol(format!(
                    "reply is not UTF-8: {}",
                    protocol::quote(&text)
                ))));
                continue;
            }
        };
        if line.starts_with("IRQ") {
            match protocol::parse_line(&line) {
                Ok(Line::Irq { line, raise }) => {
                    let _ = delivery.send(Delivery::Level { line, raise });
                }
                Ok(_) | Err(_) => {
                    let e = QemuError::Protocol(format!(
                        "malformed IRQ line {}",
                        protocol::quote(&line)
                    ));
                    let _ = replies.send(Err(e));
                }
            }
        } else {
            let _ = replies.send(Ok(line));
        }
    };
    let _ = replies.send(Err(end));
    let _ = delivery.send(Delivery::Stop);
}

fn delivery_loop(rx: &Receiver<Delivery>, shared: &Shared) {
    let mut levels = [false; 256];
    let mut handlers: BTreeMap<u64, (u8, IrqHandler)> = BTreeMap::new();
    let call = |h: &IrqHandler, level: bool| {
        if catch_unwind(AssertUnwindSafe(|| h(level))).is_err() {
            shared.record(&QemuError::Handler("an interrupt handler panicked".into()));
        }
    };
    while let Ok(msg) = rx.recv() {
        match msg {
            Delivery::Level { line, raise } => {
                let slot = &mut levels[usize::from(line)];
                if *slot != raise {
                    *slot = raise;
                    for (l, h) in handlers.values() {
                        if *l == line {
                            call(h, raise);
                        }
                    }
                }
            }
            Delivery::Install {
                slot,
                line,
                handler,
            } => match handler {
                Some(h) => {
                    handlers.insert(slot, (line, Arc::clone(&h)));
                    if levels[usize::from(line)] {
                        call(&h, true);
                    }
                }
                None => {
                    handlers.remove(&slot);
                }
            },
            Delivery::Stop => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// A fake QEMU: answers each command line with `answer(line)` (None:
    /// no answer), writing every returned line.
    fn fake(answer: impl Fn(&str) -> Vec<String> + Send + 'static) -> Arc<QtestConnection> {
        let (ours, theirs) = UnixStream::pair().unwrap();
        thread::spawn(move || {
            let mut w = theirs.try_clone().unwrap();
            for line in BufReader::new(theirs).lines() {
                let Ok(line) = line else { break };
                for out in answer(&line) {
                    if w.write_all(out.as_bytes()).is_err() {
                        return;
                    }
                }
            }
        });
        QtestConnection::new(ours, Duration::from_millis(500)).unwrap()
    }

    #[test]
    fn typed_accesses() {
        let c = fake(|l| {
            vec![match l {
                "inb 0xc000" => "OK 0x0052\n".into(),
                "inl 0xcfc" => "OK 0x813910ec\n".into(),
                "readq 0x1000" => "OK 0x0123456789abcdef\n".into(),
                "outb 0x80 0x1" => "OK\n".into(),
                "read 0x2000 3" => "OK 0x010203\n".into(),
                l if l.starts_with("write 0x3000 2 0xabcd") => "OK\n".into(),
                _ => "FAIL Unknown command\n".into(),
            }]
        });
        assert_eq!(c.inb(0xC000), Ok(0x52));
        assert_eq!(c.inl(0xCFC), Ok(0x8139_10EC));
        assert_eq!(c.readq(0x1000), Ok(0x0123_4567_89AB_CDEF));
        assert_eq!(c.outb(0x80, 1), Ok(()));
        let mut b = [0u8; 3];
        c.read(0x2000, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3]);
        c.write(0x3000, &[0xAB, 0xCD]).unwrap();
        c.read(0x2000, &mut []).unwrap();
        assert!(matches!(c.inw(0x10), Err(QemuError::Fail(_))));
        // A FAIL does not break the connection, but is recorded.
        assert_eq!(c.inb(0xC000), Ok(0x52));
        assert!(matches!(c.error(), Some(QemuError::Fail(_))));
        assert!(c.request("inb 1\ninb 2").is_err());
    }

    #[test]
    fn hostile_replies_break_the_connection() {
        for (reply, want_protocol) in [
            ("OK 0x1ff\n", true),      // wider than a byte
            ("OK\n", true),            // missing value
            ("OK 0x\n", true),         // no digits
            ("Bail out!\n", true),     // garbage
            ("IRQ raise 300\n", true), // bad IRQ line, then nothing
            ("", false),               // silence: timeout
        ] {
            let c = fake(move |_| vec![reply.to_owned()]);
            let e = c.inb(0x60).unwrap_err();
            assert_eq!(
                matches!(e, QemuError::Protocol(_)),
                want_protocol,
                "{reply:?}: {e}"
            );
            assert!(c.is_broken());
            assert_eq!(
                c.inb(0x60).unwrap_err(),
                e,
                "later commands fail the same way"
            );
            assert_eq!(c.error(), Some(e));
        }
    }

    #[test]
    fn short_read_reply_is_an_error() {
        let c = fake(|_| vec!["OK 0x0102\n".into()]);
        let mut b = [0u8; 4];
        assert!(matches!(c.read(0x100, &mut b), Err(QemuError::Protocol(_))));
    }

    #[test]
    fn overlong_line_is_an_error_without_unbounded_memory() {
        let c = fake(|_| vec![format!("OK 0x{}\n", "0".repeat(MAX_LINE + 10))]);
        assert!(matches!(c.inb(1), Err(QemuError::Protocol(_))));
    }

    #[test]
    fn death_is_reported() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(theirs);
        let dead = QtestConnection::new(ours, Duration::from_secs(5)).unwrap();
        assert!(matches!(dead.inb(1), Err(QemuError::Died(_))));
        assert!(matches!(dead.error(), Some(QemuError::Died(_))));
    }

    #[test]
    fn irq_lines_reach_handlers_in_order_off_the_reader_thread() {
        let c = fake(|l| {
            if l == "outb 0x1 0x1" {
                vec![
                    "IRQ raise 0\n".into(),
                    "IRQ raise 10\n".into(),
                    "IRQ lower 10\n".into(),
                    "IRQ raise 10\n".into(),
                    "OK\n".into(),
                ]
            } else {
                vec!["OK\n".into()]
            }
        });
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let slot = c.irq_slot();
        c.install_irq_handler(
            slot,
            10,
            Some(Arc::new(move |level| {
                let name = thread::current().name().map(str::to_owned);
                let _ = lock(&tx).send((level, name));
            })),
        );
        c.outb(1, 1).unwrap();
        let got: Vec<_> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(2)).unwrap())
            .collect();
        let levels: Vec<bool> = got.iter().map(|g| g.0).collect();
        assert_eq!(levels, [true, false, true]);
        assert!(got.iter().all(|g| g.1.as_deref() == Some("qtest-irq")));
        // A new handler on a raised line hears `true` at once.
        let (tx2, rx2) = mpsc::channel();
        let tx2 = Mutex::new(tx2);
        c.install_irq_handler(
            slot,
            10,
            Some(Arc::new(move |l| {
                let _ = lock(&tx2).send(l);
            })),
        );
        assert_eq!(rx2.recv_timeout(Duration::from_secs(2)), Ok(true));
        assert!(rx.try_recv().is_err());
    }
}
