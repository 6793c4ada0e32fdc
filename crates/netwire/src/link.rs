//! An in-process Ethernet wire between two devices.
//!
//! A [`Link`] has two ends, [`End::A`] and [`End::B`]. Each end is a
//! [`LinkEnd`] handle: the device plugged in at that end transmits by calling
//! [`FrameSink::send_frame`] on it, and receives through the sink it
//! [attached](LinkEnd::attach). Frames sent into end A come out of the sink
//! attached at end B, in order, and vice versa.
//!
//! # Unthrottled mode
//!
//! Without a rate limit ([`LinkConfig::unthrottled`]) `send_frame` delivers
//! directly, on the caller's thread, to the other end's sink: no thread, no
//! queue. A device that answers synchronously from its receive path therefore
//! re-enters the link on the same stack.
//!
//! # Rate-limited mode
//!
//! With [`LinkConfig::rate_bps`] set, each direction has a small bounded
//! transmit queue and a delivery thread that paces frames at line rate:
//!
//! ```text
//!  device at end A                                         device at end B
//!  ───────────────                                         ───────────────
//!  tx: LinkEnd A ──send_frame──▶ [ tx queue A→B ] ──▶ thread "a>b" ──▶ rx sink attached at B
//!        ▲  blocks while full      (tx_queue_frames)    sleep until
//!        │  (≤ max_block, then                          the frame's last bit
//!        │   drop + count)                              has "arrived"
//!  rx sink attached at A ◀── thread "b>a" ◀── [ tx queue B→A ] ◀──send_frame── tx: LinkEnd B
//!
//!  carrier: plugged(A) && plugged(B); listeners of both ends hear changes
//! ```
//!
//! **Wire-time accounting** follows a real 100BASE-TX/10BASE-T wire. A frame
//! handed to the link is the frame without FCS. On the wire it occupies
//! `max(len, 60) + 4 (FCS) + 8 (preamble + SFD) + 12 (inter-frame gap)`
//! bytes: frames shorter than 60 bytes are padded to the 64-byte minimum
//! (with FCS). See [`wire_bytes`] and [`wire_time`]. At 100 Mb/s a 1514-byte
//! frame takes 123.04 µs and a minimum frame 6.72 µs (148 809 frames/s).
//!
//! The delivery thread keeps a schedule: a frame starts when the wire is free
//! and the frame has been queued, whichever is later, and is delivered when
//! its last bit would arrive (store and forward). Late wake-ups are caught up
//! by the schedule, so the long-run rate is exact and never above the limit.
//! Pacing sleeps until the deadline (never spins: on a machine with few
//! cores a spinning wire would take the CPU from the devices and drivers it
//! serves); a late wake-up delivers at once and the schedule catches up.
//!
//! **Back-pressure**: when the queue is full, the sender's `send_frame`
//! blocks until a slot frees. It never blocks longer than
//! [`LinkConfig::max_block`]; after that the frame is dropped and counted in
//! [`DirectionStats::dropped_queue_full`].
//!
//! # Carrier
//!
//! Each end can be unplugged ([`LinkEnd::set_plugged`]). The link has carrier
//! while both ends are plugged in; without carrier, frames sent (and frames in
//! flight when it drops) are discarded and counted. Listeners registered with
//! [`LinkEnd::on_carrier_change`] are called, on the thread that changed the
//! carrier and with no lock held, whenever the carrier goes up or down.
//!
//! # Lifetime
//!
//! The [`Link`] owns the delivery threads, the attached sinks and the
//! listeners; [`LinkEnd`]s only refer to it weakly, so a device holding its
//! end and being attached to the link does not keep itself alive. Dropping
//! the `Link` stops and joins its threads, discards queued frames (counted as
//! [`DirectionStats::dropped_closed`]), and releases the attached sinks;
//! afterwards sending into a `LinkEnd` does nothing.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::FrameSink;

/// Preamble (7 bytes) and start-of-frame delimiter (1 byte).
pub const PREAMBLE_SFD_BYTES: usize = 8;
/// Minimum inter-frame gap, in byte times.
pub const IFG_BYTES: usize = 12;
/// Frame check sequence, not included in the frames handed to a link.
pub const FCS_BYTES: usize = 4;
/// Minimum frame length without FCS; shorter frames are padded on the wire.
pub const MIN_FRAME_BYTES: usize = 60;
/// 100BASE-TX line rate (the AX88772's), in bits per second.
pub const FAST_ETHERNET_BPS: u64 = 100_000_000;

/// Longest single sleep, so a stopping link is noticed quickly.
const MAX_SLEEP: Duration = Duration::from_millis(10);

/// Byte times a frame of `frame_len` bytes (without FCS) occupies on the
/// wire: padding to 60, FCS, preamble + SFD and inter-frame gap.
pub fn wire_bytes(frame_len: usize) -> u64 {
    (frame_len.max(MIN_FRAME_BYTES) + FCS_BYTES + PREAMBLE_SFD_BYTES + IFG_BYTES) as u64
}

/// Time a frame of `frame_len` bytes occupies a wire of `rate_bps`, rounded
/// up to the nanosecond (so pacing never exceeds the rate). A rate of 0
/// gives `Duration::MAX`.
pub fn wire_time(frame_len: usize, rate_bps: u64) -> Duration {
    if rate_bps == 0 {
        return Duration::MAX;
    }
    let bits = u128::from(wire_bytes(frame_len)) * 8;
    let nanos = (bits * 1_000_000_000).div_ceil(u128::from(rate_bps));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// One end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The first end.
    A,
    /// The second end.
    B,
}

impl End {
    /// The other end.
    pub fn peer(self) -> End {
        match self {
            End::A => End::B,
            End::B => End::A,
        }
    }

    fn index(self) -> usize {
        match self {
            End::A => 0,
            End::B => 1,
        }
    }
}

/// How a [`Link`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// Line rate in bits per second; `None` delivers directly, unthrottled.
    pub rate_bps: Option<u64>,
    /// Frames each direction's transmit queue holds (rate-limited mode; at
    /// least 1).
    pub tx_queue_frames: usize,
    /// Longest a sender blocks on a full queue before the frame is dropped.
    pub max_block: Duration,
    /// Deliver frames shorter than 60 bytes padded with zeros to 60, as a
    /// real wire does. Off by default: frames are delivered as sent.
    pub pad_short_frames: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            rate_bps: None,
            tx_queue_frames: 32,
            max_block: Duration::from_millis(100),
            pad_short_frames: false,
        }
    }
}

impl LinkConfig {
    /// Direct delivery, no rate limit.
    pub fn unthrottled() -> Self {
        Self::default()
    }

    /// Rate-limited to `bps` bits per second, other settings default.
    pub fn with_rate(bps: u64) -> Self {
        LinkConfig {
            rate_bps: Some(bps),
            ..Self::default()
        }
    }

    /// A 100 Mb/s wire, as between an AX88772 and its link partner.
    pub fn fast_ethernet() -> Self {
        Self::with_rate(FAST_ETHERNET_BPS)
    }
}

/// Counters for one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Frames delivered to the receiving sink.
    pub frames: u64,
    /// Bytes delivered (frame bytes as sent, no wire overhead or padding).
    pub bytes: u64,
    /// Frames dropped because the link had no carrier.
    pub dropped_unplugged: u64,
    /// Frames dropped because the queue stayed full for `max_block`.
    pub dropped_queue_full: u64,
    /// Frames dropped because no sink was attached at the receiving end.
    pub dropped_no_receiver: u64,
    /// Frames discarded because the link was being shut down.
    pub dropped_closed: u64,
    /// Times a sender had to wait for queue space (back-pressure).
    pub sender_waits: u64,
}

impl DirectionStats {
    /// All drops together.
    pub fn drops(&self) -> u64 {
        self.dropped_unplugged
            + self.dropped_queue_full
            + self.dropped_no_receiver
            + self.dropped_closed
    }
}

#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    bytes: AtomicU64,
    dropped_unplugged: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_no_receiver: AtomicU64,
    dropped_closed: AtomicU64,
    sender_waits: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> DirectionStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DirectionStats {
            frames: l(&self.frames),
            bytes: l(&self.bytes),
            dropped_unplugged: l(&self.dropped_unplugged),
            dropped_queue_full: l(&self.dropped_queue_full),
            dropped_no_receiver: l(&self.dropped_no_receiver),
            dropped_closed: l(&self.dropped_closed),
            sender_waits: l(&self.sender_waits),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Queued {
    enqueued: Instant,
    frame: Vec<u8>,
}

#[derive(Default)]
struct QueueState {
    frames: VecDeque<Queued>,
    closed: bool,
}

#[derive(Default)]
struct Direction {
    queue: Mutex<QueueState>,
    not_empty: Condvar,
    not_full: Condvar,
    counters: Counters,
}

type Listener = Arc<dyn Fn(bool) + Send + Sync>;

struct Shared {
    config: LinkConfig,
    /// `dirs[0]` carries A→B, `dirs[1]` B→A (indexed by the sending end).
    dirs: [Direction; 2],
    /// Receive sinks attached at A and at B.
    rx: [RwLock<Option<Arc<dyn FrameSink>>>; 2],
    plugged: Mutex<[bool; 2]>,
    carrier: AtomicBool,
    listeners: Mutex<Vec<Listener>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Hands a frame sent at `from` to the sink at the other end.
    fn deliver(&self, from: End, frame: &[u8]) {
        let c = &self.dirs[from.index()].counters;
        if !self.carrier.load(Ordering::Acquire) {
            bump(&c.dropped_unplugged);
            return;
        }
        let sink = self.rx[from.peer().index()]
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(sink) = sink else {
            bump(&c.dropped_no_receiver);
            return;
        };
        if self.config.pad_short_frames && frame.len() < MIN_FRAME_BYTES {
            let mut padded = [0u8; MIN_FRAME_BYTES];
            padded[..frame.len()].copy_from_slice(frame);
            sink.send_frame(&padded);
        } else {
            sink.send_frame(frame);
        }
        bump(&c.frames);
        c.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
    }

    fn send(&self, from: End, frame: &[u8]) {
        if self.config.rate_bps.is_none() {
            self.deliver(from, frame);
            return;
        }
        let dir = &self.dirs[from.index()];
        if !self.carrier.load(Ordering::Acquire) {
            bump(&dir.counters.dropped_unplugged);
            return;
        }
        let item = Queued {
            enqueued: Instant::now(),
            frame: frame.to_vec(),
        };
        let cap = self.config.tx_queue_frames.max(1);
        let mut q = lock(&dir.queue);
        let mut deadline = None;
        while q.frames.len() >= cap && !q.closed {
            let now = Instant::now();
            let end = *deadline.get_or_insert_with(|| {
                bump(&dir.counters.sender_waits);
                now + self.config.max_block
            });
            if now >= end {
                bump(&dir.counters.dropped_queue_full);
                return;
            }
            q = dir
                .not_full
                .wait_timeout(q, end - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if q.closed {
            bump(&dir.counters.dropped_closed);
            return;
        }
        let enqueued = if deadline.is_some() {
            Instant::now()
        } else {
            item.enqueued
        };
        q.frames.push_back(Queued { enqueued, ..item });
        drop(q);
        dir.not_empty.notify_one();
    }

    fn set_plugged(&self, end: End, plugged: bool) {
        let changed = {
            let mut p = lock(&self.plugged);
            p[end.index()] = plugged;
            let up = p[0] && p[1];
            (self.carrier.swap(up, Ordering::AcqRel) != up).then_some(up)
        };
        if let Some(up) = changed {
            let listeners: Vec<Listener> = lock(&self.listeners).clone();
            for l in listeners {
                l(up);
            }
        }
    }

    /// The delivery loop of the direction sent from `from`.
    fn run_delivery(&self, from: End, rate_bps: u64) {
        let dir = &self.dirs[from.index()];
        let mut wire_free = Instant::now();
        loop {
            let item = {
                let mut q = lock(&dir.queue);
                loop {
                    if q.closed {
                        return;
                    }
                    if let Some(item) = q.frames.pop_front() {
                        break item;
                    }
                    q = dir.not_empty.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            dir.not_full.notify_one();
            let start = wire_free.max(item.enqueued);
            let done = start + wire_time(item.frame.len(), rate_bps);
            wire_free = done;
            if !self.pace_until(dir, done) {
                bump(&dir.counters.dropped_closed);
                return;
            }
            self.deliver(from, &item.frame);
        }
    }

    /// Sleeps until `deadline`. Returns false if the direction was closed
    /// meanwhile.
    fn pace_until(&self, dir: &Direction, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            if lock(&dir.queue).closed {
                return false;
            }
            thread::sleep((deadline - now).min(MAX_SLEEP));
        }
    }
}

/// An in-process Ethernet wire; see the [module documentation](self).
pub struct Link {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("config", &self.shared.config)
            .field("a_to_b", &self.stats(End::A))
            .field("b_to_a", &self.stats(End::B))
            .finish()
    }
}

impl Link {
    /// A new link with both ends plugged in and nothing attached. In
    /// rate-limited mode this starts one delivery thread per direction.
    /// Fails with `InvalidInput` for a rate of 0, or if a thread cannot be
    /// spawned.
    pub fn new(config: LinkConfig) -> io::Result<Link> {
        if config.rate_bps == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "link: rate_bps must be positive (use None for unthrottled)",
            ));
        }
        let shared = Arc::new(Shared {
            config,
            dirs: [Direction::default(), Direction::default()],
            rx: [RwLock::new(None), RwLock::new(None)],
            plugged: Mutex::new([true, true]),
            carrier: AtomicBool::new(true),
            listeners: Mutex::new(Vec::new()),
        });
        let mut link = Link {
            shared,
            threads: Vec::new(),
        };
        if let Some(rate) = link.shared.config.rate_bps {
            for (from, name) in [(End::A, "netwire-link-a>b"), (End::B, "netwire-link-b>a")] {
                let shared = Arc::clone(&link.shared);
                let handle = thread::Builder::new()
                    .name(name.to_string())
                    .spawn(move || shared.run_delivery(from, rate))?;
                // On error, dropping `link` stops the thread already started.
                link.threads.push(handle);
            }
        }
        Ok(link)
    }

    /// The handle for one end.
    pub fn end(&self, end: End) -> LinkEnd {
        LinkEnd {
            shared: Arc::downgrade(&self.shared),
            end,
        }
    }

    /// The handle for end A.
    pub fn a(&self) -> LinkEnd {
        self.end(End::A)
    }

    /// The handle for end B.
    pub fn b(&self) -> LinkEnd {
        self.end(End::B)
    }

    /// The configuration the link was made with.
    pub fn config(&self) -> &LinkConfig {
        &self.shared.config
    }

    /// Counters of the direction whose frames are sent at `from`.
    pub fn stats(&self, from: End) -> DirectionStats {
        self.shared.dirs[from.index()].counters.snapshot()
    }

    /// Whether both ends are plugged in.
    pub fn carrier(&self) -> bool {
        self.shared.carrier.load(Ordering::Acquire)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for dir in &self.shared.dirs {
            let mut q = lock(&dir.queue);
            q.closed = true;
            let n = q.frames.len() as u64;
            q.frames.clear();
            dir.counters.dropped_closed.fetch_add(n, Ordering::Relaxed);
            drop(q);
            dir.not_empty.notify_all();
            dir.not_full.notify_all();
        }
        let me = thread::current().id();
        for t in self.threads.drain(..) {
            // A sink that drops the link from a delivery thread must not
            // join itself; that thread ends on its own.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        for rx in &self.shared.rx {
            *rx.write().unwrap_or_else(|p| p.into_inner()) = None;
        }
        lock(&self.shared.listeners).clear();
    }
}

/// One end of a [`Link`]: the [`FrameSink`] the device at this end transmits
/// into, and where it attaches its receive sink. Cheap to clone; does not
/// keep the link alive (after the `Link` is dropped every call is a no-op).
#[derive(Clone)]
pub struct LinkEnd {
    shared: Weak<Shared>,
    end: End,
}

impl fmt::Debug for LinkEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkEnd")
            .field("end", &self.end)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl LinkEnd {
    /// Which end this is.
    pub fn end(&self) -> End {
        self.end
    }

    /// Whether the [`Link`] still exists.
    pub fn is_alive(&self) -> bool {
        self.shared.strong_count() > 0
    }

    /// Attaches the receive sink of the device at this end, replacing any
    /// previous one. Frames sent at the other end are delivered to it.
    pub fn attach(&self, rx: Arc<dyn FrameSink>) {
        if let Some(s) = self.shared.upgrade() {
            *s.rx[self.end.index()]
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(rx);
        }
    }

    /// Detaches the receive sink; frames for this end are then dropped and
    /// counted as `dropped_no_receiver`.
    pub fn detach(&self) {
        if let Some(s) = self.shared.upgrade() {
            *s.rx[self.end.index()]
                .write()
                .unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// Plugs this end's cable in or pulls it out. The link has carrier while
    /// both ends are plugged in; listeners hear every change.
    pub fn set_plugged(&self, plugged: bool) {
        if let Some(s) = self.shared.upgrade() {
            s.set_plugged(self.end, plugged);
        }
    }

    /// Whether this end is plugged in (false once the link is gone).
    pub fn is_plugged(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|s| lock(&s.plugged)[self.end.index()])
    }

    /// Whether the link has carrier (both ends plugged in).
    pub fn carrier(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|s| s.carrier.load(Ordering::Acquire))
    }

    /// Registers a listener called with the new carrier state (`true` = up)
    /// whenever it changes, on the thread that changed it. The listener is
    /// released when the link is dropped.
    pub fn on_carrier_change(&self, listener: impl Fn(bool) + Send + Sync + 'static) {
        if let Some(s) = self.shared.upgrade() {
            lock(&s.listeners).push(Arc::new(listener));
        }
    }

    /// Counters of the frames this end sends.
    pub fn tx_stats(&self) -> DirectionStats {
        self.stats(self.end)
    }

    /// Counters of the frames this end receives.
    pub fn rx_stats(&self) -> DirectionStats {
        self.stats(self.end.peer())
    }

    fn stats(&self, from: End) -> DirectionStats {
        self.shared
            .upgrade()
            .map(|s| s.dirs[from.index()].counters.snapshot())
            .unwrap_or_default()
    }
}

impl FrameSink for LinkEnd {
    /// Sends a frame to the other end. In rate-limited mode this blocks
    /// while the transmit queue is full, at most `max_block`.
    fn send_frame(&self, frame: &[u8]) {
        if let Some(s) = self.shared.upgrade() {
            s.send(self.end, frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_accounting() {
        assert_eq!(wire_bytes(1514), 1538);
        assert_eq!(wire_bytes(14), 84);
        assert_eq!(wire_bytes(60), 84);
        assert_eq!(
            wire_time(1514, FAST_ETHERNET_BPS),
            Duration::from_nanos(123_040)
        );
        assert_eq!(
            wire_time(60, FAST_ETHERNET_BPS),
            Duration::from_nanos(6_720)
        );
        assert_eq!(wire_time(60, 0), Duration::MAX);
        // Rounded up, never down.
        assert_eq!(wire_time(60, 3), Duration::from_nanos(224_000_000_000));
        assert_eq!(wire_time(61, 7), Duration::from_nanos(97_142_857_143));
    }
}
