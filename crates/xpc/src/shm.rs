//! The cross-process transport: two rings in a shared memory file (memfd),
//! waiting by spinning briefly, then sleeping on a futex.
//!
//! ```text
//!   memfd, mapped by both processes
//!   ┌──────────────────────────────┬──────────────────────────────┐
//!   │ ring 0: nucleus ──▶ decaf    │ ring 1: decaf ──▶ nucleus    │
//!   └──────────────────────────────┴──────────────────────────────┘
//!   a ring: six counters, one per cache line, then bytes[CAPACITY]:
//!     head          the reader's position (read by the writer only when full)
//!     data_waiters  the reader sleeps       data_seq  its futex word
//!     room_waiters  the writer sleeps       room_seq  its futex word
//!     (spare)
//!   the bytes: frames as [marker: u32][bytes, padded to 4], wrapping; a
//!   marker is 0 until its frame is complete, then the frame's length + 1
//!
//!   send: wait for room (frame + 4); write 0 at the next marker; copy the
//!         bytes; publish the marker (Release); wake the reader only if it
//!         sleeps
//!   recv: spin on the marker at head (one cache line carries both the
//!         signal and a small frame); else data_waiters = 1 and sleep on
//!         data_seq, waking every few milliseconds to check the peer lives
//! ```
//!
//! Each ring has one writer and one reader. Everything read from shared
//! memory is untrusted: indices and lengths are checked before use, and
//! bytes are copied out before they are parsed, so a hostile or crashed
//! peer yields an error, never a crash or an out-of-bounds access. A peer
//! that dies is noticed by a liveness check the creator supplies (for
//! example, whether the child process still exists).

use crate::transport::{Transport, TransportError};
use rustix::fd::{AsFd, OwnedFd};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::thread::futex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Bytes of frame data per ring: small enough that the ring's lines stay in
/// the two cores' caches (a 1 MiB ring made every other small message wait
/// for a line from memory: 2.3x the raw spin round trip instead of 1.9x).
pub const CAPACITY: usize = 1 << 16;
/// The longest piece of a frame in the ring; longer frames cross as several.
const PIECE: usize = CAPACITY / 4;
/// Marker bit: another piece of the same frame follows.
const MORE: u32 = 1 << 31;
/// The longest frame a reader accepts (a frame's payload and its header).
const MAX_FRAME: usize = crate::frame::MAX_PAYLOAD + 64;
/// The header of a ring: six counters, each on its own cache line, so the
/// writer's and the reader's words never share one.
const HEADER: usize = 6 * LINE;
/// A cache line.
const LINE: usize = 64;
const RING: usize = HEADER + CAPACITY;
/// The size of the shared file: two rings.
pub const REGION: usize = 2 * RING;
/// Spins on an empty ring before sleeping (the default; see
/// [`Shm::set_spins`]).
pub const SPINS: u32 = 2_000;
/// How long a sleeper waits before checking that its peer is alive.
const NAP: Duration = Duration::from_millis(5);

/// Which end of the channel this process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The privileged nucleus (sends on ring 0).
    Nucleus,
    /// The decaf driver (sends on ring 1).
    Decaf,
}

/// A shared memory file holding the two rings; pass its fd to the peer.
pub fn create() -> std::io::Result<OwnedFd> {
    // Not close-on-exec: the decaf process inherits it.
    let fd = rustix::fs::memfd_create("dingo-xpc", rustix::fs::MemfdFlags::empty())?;
    rustix::fs::ftruncate(&fd, REGION as u64)?;
    Ok(fd)
}

/// The mapping of the region in this process.
struct Mapping {
    base: *mut u8,
}

// SAFETY: the mapping is plain shared memory; every access goes through
// atomics or copies with checked bounds (see `Ring`), so moving the pointer
// to another thread is sound.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` came from `mmap` with length `REGION` and is
        // unmapped once, here.
        #[allow(unsafe_code)]
        unsafe {
            let _ = rustix::mm::munmap(self.base.cast(), REGION);
        }
    }
}

/// One direction: a view of a ring in the mapping.
struct Ring {
    base: *mut u8,
}

// SAFETY: as for `Mapping`: the ring is shared memory reached only through
// atomics and bounds-checked copies; `Shm` keeps the mapping alive as long
// as its rings.
#[allow(unsafe_code)]
unsafe impl Send for Ring {}

impl Ring {
    /// The counter at `index` (0..6) of the header.
    fn counter(&self, index: usize) -> &AtomicU32 {
        debug_assert!(index < 6);
        // SAFETY: the header lies inside the mapping (the ring starts at a
        // line-aligned offset of a page-aligned mapping of `REGION` bytes),
        // `AtomicU32` has the size and alignment of `u32`, and the memory is
        // only ever accessed atomically by both processes.
        #[allow(unsafe_code)]
        unsafe {
            &*(self.base.add(index * LINE) as *const AtomicU32)
        }
    }
    fn head(&self) -> &AtomicU32 {
        self.counter(0)
    }
    fn data_waiters(&self) -> &AtomicU32 {
        self.counter(1)
    }
    fn data_seq(&self) -> &AtomicU32 {
        self.counter(2)
    }
    fn room_waiters(&self) -> &AtomicU32 {
        self.counter(3)
    }
    fn room_seq(&self) -> &AtomicU32 {
        self.counter(4)
    }

    /// The marker word at ring position `at` (a multiple of 4).
    fn marker(&self, at: u32) -> &AtomicU32 {
        let offset = (at as usize % CAPACITY) & !3;
        // SAFETY: `offset + 4 <= CAPACITY` (CAPACITY is a multiple of 4 and
        // offset is 4-aligned and below it), so the word lies in the data
        // area; it is 4-aligned; both processes access markers atomically.
        #[allow(unsafe_code)]
        unsafe {
            &*(self.base.add(HEADER + offset) as *const AtomicU32)
        }
    }

    /// Copies `src` into the data area at ring position `at`, wrapping.
    fn write(&self, at: u32, src: &[u8]) {
        let start = at as usize % CAPACITY;
        let first = src.len().min(CAPACITY - start);
        // SAFETY: `start + first <= CAPACITY` and `src.len() - first <=
        // CAPACITY` (frames are at most `CAPACITY` bytes), so both copies
        // stay inside the data area; the reader reads these bytes only
        // after the tail that covers them is published (Release/Acquire).
        #[allow(unsafe_code)]
        unsafe {
            let data = self.base.add(HEADER);
            std::ptr::copy_nonoverlapping(src.as_ptr(), data.add(start), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), data, src.len() - first);
        }
    }

    /// Copies bytes out of the data area at ring position `at`, wrapping.
    fn read(&self, at: u32, dst: &mut [u8]) {
        let start = at as usize % CAPACITY;
        let first = dst.len().min(CAPACITY - start);
        // SAFETY: as in `write`, both copies stay inside the data area
        // (`dst.len() <= CAPACITY`, checked by the caller). The bytes may be
        // changed by a hostile peer at any time; they are copied out first
        // and only the private copy is parsed.
        #[allow(unsafe_code)]
        unsafe {
            let data = self.base.add(HEADER);
            std::ptr::copy_nonoverlapping(data.add(start), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(data, dst.as_mut_ptr().add(first), dst.len() - first);
        }
    }
}

/// Sleeps on `seq` while it still reads `seen`, at most `nap`.
fn sleep_on(seq: &AtomicU32, seen: u32, nap: Duration) {
    let ts = rustix::time::Timespec {
        tv_sec: nap.as_secs() as i64,
        tv_nsec: i64::from(nap.subsec_nanos()),
    };
    // Shared (not private) futex: the other process wakes it. Errors
    // (value changed, interrupted, timed out) all mean "look again".
    let _ = futex::wait(seq, futex::Flags::empty(), seen, Some(&ts));
}

/// One end of a cross-process channel.
pub struct Shm {
    _map: Mapping,
    tx: Ring,
    rx: Ring,
    alive: Box<dyn Fn() -> bool + Send>,
    broken: bool,
    spins: u32,
    wakes: u64,
    /// The writer's position in `tx` (only this side writes there).
    tail: u32,
    /// The reader's position in `rx`, kept here and published in its head.
    head: u32,
    side: Side,
    /// The last `tx` head read: the room known without reading it again.
    seen_head: u32,
}

impl Shm {
    /// Maps the region of `fd` as `side`. `peer_alive` is asked while
    /// waiting; once it says no, calls fail with `Closed`.
    pub fn open(
        fd: impl AsFd,
        side: Side,
        peer_alive: impl Fn() -> bool + Send + 'static,
    ) -> std::io::Result<Shm> {
        let size = rustix::fs::fstat(&fd)?.st_size;
        if size < REGION as i64 {
            return Err(std::io::Error::other("the shared region is too small"));
        }
        // SAFETY: a fresh shared mapping of `REGION` bytes of the file; no
        // Rust reference into it exists yet.
        #[allow(unsafe_code)]
        let base = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                REGION,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        } as *mut u8;
        // SAFETY: `RING < REGION`: the second ring starts inside the mapping.
        #[allow(unsafe_code)]
        let second = unsafe { base.add(RING) };
        let (tx, rx) = match side {
            Side::Nucleus => (Ring { base }, Ring { base: second }),
            Side::Decaf => (Ring { base: second }, Ring { base }),
        };
        Ok(Shm {
            _map: Mapping { base },
            tx,
            rx,
            alive: Box::new(peer_alive),
            broken: false,
            spins: SPINS,
            wakes: 0,
            tail: 0,
            head: 0,
            side,
            seen_head: 0,
        })
    }

    /// The word of the region's cross-domain lock (`combolock`): the same
    /// word for both sides (the spare line of ring 0's header).
    pub fn lock_word(&self) -> &AtomicU32 {
        match self.side {
            Side::Nucleus => self.tx.counter(5),
            Side::Decaf => self.rx.counter(5),
        }
    }

    /// A spare shared word for tests (the spare line of ring 1's header).
    pub fn scratch_word(&self) -> &AtomicU32 {
        match self.side {
            Side::Nucleus => self.rx.counter(5),
            Side::Decaf => self.tx.counter(5),
        }
    }

    /// How many futex wake-ups this end has sent for data (at most one per
    /// message, and only when the peer sleeps).
    pub fn wakes(&self) -> u64 {
        self.wakes
    }

    /// How many times a waiter polls before it sleeps on the futex (0:
    /// sleep at once).
    pub fn set_spins(&mut self, spins: u32) {
        self.spins = spins;
    }

    /// Raw round trips, the baseline of `dingo bench xpc`: this side (the
    /// nucleus) writes pings numbered `pings` into a shared counter and
    /// waits for each pong from [`Shm::raw_responder`], spinning or
    /// sleeping on a futex. Numbering starts at 1 and continues across
    /// calls (warm up with `1..=k`, then time `k + 1..=n`). Returns the time
    /// per round trip; `None` if the peer died.
    pub fn raw_round_trips(
        &self,
        pings: std::ops::RangeInclusive<u32>,
        sleep: bool,
    ) -> Option<Duration> {
        let (ping, pong) = (self.tx.data_seq(), self.rx.data_seq());
        let n = pings.clone().count() as u32;
        let start = Instant::now();
        for i in pings {
            ping.store(i, Ordering::SeqCst);
            if sleep {
                let _ = futex::wake(ping, futex::Flags::empty(), 1);
            }
            if !self.wait_value(pong, i, sleep) {
                return None;
            }
        }
        Some(start.elapsed() / n.max(1))
    }

    /// The other end of [`Shm::raw_round_trips`] (the decaf side).
    pub fn raw_responder(&self, n: u32, sleep: bool) -> bool {
        let (ping, pong) = (self.rx.data_seq(), self.tx.data_seq());
        for i in 1..=n {
            if !self.wait_value(ping, i, sleep) {
                return false;
            }
            pong.store(i, Ordering::SeqCst);
            if sleep {
                let _ = futex::wake(pong, futex::Flags::empty(), 1);
            }
        }
        true
    }

    /// Waits until `word` reads `value`, spinning or sleeping; false if the
    /// peer died meanwhile.
    fn wait_value(&self, word: &AtomicU32, value: u32, sleep: bool) -> bool {
        let mut polls = 0u32;
        loop {
            let now = word.load(Ordering::SeqCst);
            if now == value {
                return true;
            }
            polls = polls.wrapping_add(1);
            if sleep {
                sleep_on(word, now, NAP);
            } else {
                std::hint::spin_loop();
            }
            if (sleep || polls.is_multiple_of(1_000_000)) && !(self.alive)() {
                // It may have answered just before it exited.
                return word.load(Ordering::SeqCst) == value;
            }
        }
    }

    /// Waits until `need` bytes are free after `tail` in `tx`.
    /// Writes one piece of a frame (`more`: another piece follows).
    fn send_piece(&mut self, piece: &[u8], more: bool) -> Result<(), TransportError> {
        let size = footprint(piece.len());
        // Room for the piece and for the next piece's marker.
        self.wait_room(size + 4)?;
        let tail = self.tail;
        let next = tail.wrapping_add(size as u32);
        // The next marker reads 0 before this piece is published, so the
        // reader never mistakes old bytes there for a piece.
        self.tx.marker(next).store(0, Ordering::Relaxed);
        self.tx.write(tail.wrapping_add(4), piece);
        let marker = (piece.len() as u32 + 1) | if more { MORE } else { 0 };
        // SeqCst: with the reader's SeqCst `data_waiters` store and marker
        // load (Dekker), either it sees the marker or this sees it sleeps.
        self.tx.marker(tail).store(marker, Ordering::SeqCst);
        self.tail = next;
        if self.tx.data_waiters().load(Ordering::SeqCst) != 0 {
            self.wakes += 1;
            self.tx.data_seq().fetch_add(1, Ordering::SeqCst);
            let _ = futex::wake(self.tx.data_seq(), futex::Flags::empty(), 1);
        }
        Ok(())
    }

    /// Waits for the next piece and appends it to `buf`; returns whether
    /// another piece of the same frame follows.
    fn recv_piece(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<bool, TransportError> {
        let mut spins = 0;
        loop {
            let marker = self.rx.marker(self.head).load(Ordering::Acquire);
            if marker != 0 {
                let more = marker & MORE != 0;
                let len = ((marker & !MORE).wrapping_sub(1)) as usize;
                if marker & !MORE == 0 || len > PIECE {
                    // A length the peer could not have written: broken.
                    self.broken = true;
                    return Err(TransportError::Closed);
                }
                let start = buf.len();
                buf.resize(start + len, 0);
                self.rx.read(self.head.wrapping_add(4), &mut buf[start..]);
                self.head = self.head.wrapping_add(footprint(len) as u32);
                // SeqCst: with the writer's SeqCst `room_waiters` store and
                // head load (Dekker), a writer waiting for room is woken.
                self.rx.head().store(self.head, Ordering::SeqCst);
                if self.rx.room_waiters().load(Ordering::SeqCst) != 0 {
                    self.rx.room_seq().fetch_add(1, Ordering::SeqCst);
                    let _ = futex::wake(self.rx.room_seq(), futex::Flags::empty(), 1);
                }
                return Ok(more);
            }
            if spins < self.spins {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(TransportError::Timeout);
            }
            if !(self.alive)() {
                return Err(TransportError::Closed);
            }
            let seen = self.rx.data_seq().load(Ordering::Acquire);
            self.rx.data_waiters().store(1, Ordering::SeqCst);
            if self.rx.marker(self.head).load(Ordering::SeqCst) == 0 {
                let nap = deadline.map_or(NAP, |d| {
                    d.saturating_duration_since(Instant::now()).min(NAP)
                });
                sleep_on(self.rx.data_seq(), seen, nap.max(Duration::from_micros(1)));
            }
            self.rx.data_waiters().store(0, Ordering::Relaxed);
        }
    }

    fn wait_room(&mut self, need: usize) -> Result<(), TransportError> {
        let mut spins = 0;
        loop {
            let used = self.tail.wrapping_sub(self.seen_head) as usize;
            if used <= CAPACITY && CAPACITY - used >= need {
                return Ok(());
            }
            self.seen_head = self.tx.head().load(Ordering::Acquire);
            let used = self.tail.wrapping_sub(self.seen_head) as usize;
            if used > CAPACITY {
                // The reader claims to be past what was written: broken.
                return Err(TransportError::Closed);
            }
            if CAPACITY - used >= need {
                return Ok(());
            }
            if spins < self.spins {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if !(self.alive)() {
                return Err(TransportError::Closed);
            }
            let seen = self.tx.room_seq().load(Ordering::Acquire);
            self.tx.room_waiters().store(1, Ordering::SeqCst);
            if self.tx.head().load(Ordering::SeqCst) == self.seen_head {
                sleep_on(self.tx.room_seq(), seen, NAP);
            }
            self.tx.room_waiters().store(0, Ordering::Relaxed);
        }
    }
}

/// Bytes a frame of `len` bytes takes in a ring: marker, bytes, padding.
fn footprint(len: usize) -> usize {
    4 + len.div_ceil(4) * 4
}

impl Transport for Shm {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        self.send_bytes(&frame)
    }

    fn recv(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, TransportError> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf, deadline)?;
        Ok(buf)
    }

    fn send_bytes(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        if self.broken {
            return Err(TransportError::Closed);
        }
        // A frame longer than a piece crosses as several, each marked as
        // continued but the last.
        let mut rest = frame;
        loop {
            let piece = rest.len().min(PIECE);
            let more = piece < rest.len();
            self.send_piece(&rest[..piece], more)?;
            rest = &rest[piece..];
            if !more {
                return Ok(());
            }
        }
    }

    fn recv_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), TransportError> {
        if self.broken {
            return Err(TransportError::Closed);
        }
        buf.clear();
        loop {
            match self.recv_piece(buf, deadline) {
                Ok(false) => return Ok(()),
                Ok(true) if buf.len() <= MAX_FRAME => {}
                // Longer than any frame the peer may send: broken.
                Ok(true) => {
                    self.broken = true;
                    return Err(TransportError::Closed);
                }
                // A frame cut off by the deadline cannot be resumed: the
                // stream would start in its middle.
                Err(TransportError::Timeout) if !buf.is_empty() => {
                    self.broken = true;
                    return Err(TransportError::Closed);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ends of one region, in this process.
    fn pair() -> (OwnedFd, Shm, Shm) {
        let fd = create().unwrap();
        let nucleus = Shm::open(&fd, Side::Nucleus, || true).unwrap();
        let decaf = Shm::open(&fd, Side::Decaf, || true).unwrap();
        (fd, nucleus, decaf)
    }

    /// Writes `value` as the marker at `at` of the ring the decaf side
    /// sends on, as a hostile peer could.
    fn forge_marker(fd: &OwnedFd, at: usize, value: u32) {
        let offset = (RING + HEADER + at) as u64;
        rustix::io::pwrite(fd, &value.to_ne_bytes(), offset).unwrap();
    }

    #[test]
    fn a_frame_longer_than_a_piece_crosses_whole() {
        let (_fd, mut nucleus, mut decaf) = pair();
        let big: Vec<u8> = (0..PIECE * 3 + 123).map(|i| (i * 7) as u8).collect();
        let expected = big.clone();
        let sender = std::thread::spawn(move || {
            decaf.send_bytes(&big).unwrap();
            decaf.send_bytes(b"after").unwrap();
            decaf
        });
        let mut buf = Vec::new();
        let deadline = Some(Instant::now() + Duration::from_secs(10));
        nucleus.recv_into(&mut buf, deadline).unwrap();
        assert!(buf == expected, "{} bytes of {}", buf.len(), expected.len());
        nucleus.recv_into(&mut buf, deadline).unwrap();
        assert_eq!(buf, b"after");
        sender.join().unwrap();
    }

    #[test]
    fn a_continued_piece_with_no_bytes_breaks_the_channel() {
        let (fd, mut nucleus, _decaf) = pair();
        forge_marker(&fd, 0, MORE);
        let mut buf = Vec::new();
        let r = nucleus.recv_into(&mut buf, Some(Instant::now() + Duration::from_secs(1)));
        assert_eq!(r, Err(TransportError::Closed));
        assert_eq!(
            nucleus.recv_into(&mut buf, None),
            Err(TransportError::Closed)
        );
    }

    #[test]
    fn a_frame_cut_off_by_the_deadline_breaks_the_channel() {
        let (fd, mut nucleus, _decaf) = pair();
        // Half a frame: a first piece of 8 bytes, marked as continued, and
        // nothing after it.
        forge_marker(&fd, 0, (8 + 1) | MORE);
        nucleus.set_spins(10);
        let mut buf = Vec::new();
        let r = nucleus.recv_into(&mut buf, Some(Instant::now() + Duration::from_millis(50)));
        assert_eq!(r, Err(TransportError::Closed), "not a plain timeout");
        // Nothing half-read is ever handed out later.
        assert_eq!(
            nucleus.recv_into(&mut buf, None),
            Err(TransportError::Closed)
        );
    }

    #[test]
    fn a_piece_longer_than_the_limit_breaks_the_channel() {
        let (fd, mut nucleus, _decaf) = pair();
        forge_marker(&fd, 0, PIECE as u32 + 2);
        let mut buf = Vec::new();
        let r = nucleus.recv_into(&mut buf, Some(Instant::now() + Duration::from_secs(1)));
        assert_eq!(r, Err(TransportError::Closed));
    }
}
