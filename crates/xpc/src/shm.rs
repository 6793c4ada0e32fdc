//! The cross-process transport: two rings in a shared memory file (memfd),
//! waiting by spinning briefly, then sleeping on a futex.
//!
//! ```text
//!   memfd, mapped by both processes
//!   ┌──────────────────────────────┬──────────────────────────────┐
//!   │ ring 0: nucleus ──▶ decaf    │ ring 1: decaf ──▶ nucleus    │
//!   └──────────────────────────────┴──────────────────────────────┘
//!   a ring: ┌ head ┬ tail ┬ data_seq ┬ data_waiters ┬ room_seq ┬ room_waiters ┬ ... ┬ bytes[CAPACITY] ┐
//!           frames as (length: u32, bytes), wrapping around the end
//!
//!   send: wait for room; copy length and bytes at tail; publish tail;
//!         data_seq += 1; wake the receiver if it sleeps
//!   recv: spin on tail; else data_waiters = 1, sleep on data_seq (waking
//!         every few milliseconds to check the peer is alive)
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

/// Bytes of frame data per ring.
pub const CAPACITY: usize = 1 << 20;
/// The header of a ring: six counters, padded to a cache line.
const HEADER: usize = 64;
const RING: usize = HEADER + CAPACITY;
/// The size of the shared file: two rings.
pub const REGION: usize = 2 * RING;
/// Spins on an empty ring before sleeping.
const SPINS: u32 = 2_000;
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
        // 64-aligned offset of a page-aligned mapping of `REGION` bytes),
        // `AtomicU32` has the size and alignment of `u32`, and the memory is
        // only ever accessed atomically by both processes.
        #[allow(unsafe_code)]
        unsafe {
            &*(self.base.add(index * 4) as *const AtomicU32)
        }
    }
    fn head(&self) -> &AtomicU32 {
        self.counter(0)
    }
    fn tail(&self) -> &AtomicU32 {
        self.counter(1)
    }
    fn data_seq(&self) -> &AtomicU32 {
        self.counter(2)
    }
    fn data_waiters(&self) -> &AtomicU32 {
        self.counter(3)
    }
    fn room_seq(&self) -> &AtomicU32 {
        self.counter(4)
    }
    fn room_waiters(&self) -> &AtomicU32 {
        self.counter(5)
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
        })
    }

    fn wait_room(&self, need: u32, deadline: Option<Instant>) -> Result<(), TransportError> {
        let mut spins = 0;
        loop {
            let tail = self.tx.tail().load(Ordering::Relaxed);
            let head = self.tx.head().load(Ordering::Acquire);
            let used = tail.wrapping_sub(head);
            if used as usize <= CAPACITY && CAPACITY - used as usize >= need as usize {
                return Ok(());
            }
            if used as usize > CAPACITY {
                // The peer wrote a head past our tail: it is broken.
                return Err(TransportError::Closed);
            }
            if spins < SPINS {
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
            let seen = self.tx.room_seq().load(Ordering::Acquire);
            self.tx.room_waiters().store(1, Ordering::SeqCst);
            if self.tx.head().load(Ordering::SeqCst) == head {
                sleep_on(self.tx.room_seq(), seen, NAP);
            }
            self.tx.room_waiters().store(0, Ordering::Relaxed);
        }
    }
}

impl Transport for Shm {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        if self.broken {
            return Err(TransportError::Closed);
        }
        let need = 4 + frame.len();
        if need > CAPACITY {
            return Err(TransportError::Closed);
        }
        self.wait_room(need as u32, None)?;
        let tail = self.tx.tail().load(Ordering::Relaxed);
        self.tx.write(tail, &(frame.len() as u32).to_be_bytes());
        self.tx.write(tail.wrapping_add(4), &frame);
        self.tx
            .tail()
            .store(tail.wrapping_add(need as u32), Ordering::Release);
        self.tx.data_seq().fetch_add(1, Ordering::SeqCst);
        if self.tx.data_waiters().load(Ordering::SeqCst) != 0 {
            let _ = futex::wake(self.tx.data_seq(), futex::Flags::empty(), 1);
        }
        Ok(())
    }

    fn recv(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, TransportError> {
        if self.broken {
            return Err(TransportError::Closed);
        }
        let mut spins = 0;
        loop {
            let head = self.rx.head().load(Ordering::Relaxed);
            let tail = self.rx.tail().load(Ordering::Acquire);
            let avail = tail.wrapping_sub(head) as usize;
            if avail > CAPACITY || (avail > 0 && avail < 4) {
                self.broken = true;
                return Err(TransportError::Closed);
            }
            if avail >= 4 {
                let mut len = [0u8; 4];
                self.rx.read(head, &mut len);
                let len = u32::from_be_bytes(len) as usize;
                if len > avail - 4 {
                    // A length the peer never wrote: a broken peer.
                    self.broken = true;
                    return Err(TransportError::Closed);
                }
                let mut frame = vec![0u8; len];
                self.rx.read(head.wrapping_add(4), &mut frame);
                self.rx
                    .head()
                    .store(head.wrapping_add(4 + len as u32), Ordering::Release);
                self.rx.room_seq().fetch_add(1, Ordering::SeqCst);
                if self.rx.room_waiters().load(Ordering::SeqCst) != 0 {
                    let _ = futex::wake(self.rx.room_seq(), futex::Flags::empty(), 1);
                }
                return Ok(frame);
            }
            if spins < SPINS {
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
            if self.rx.tail().load(Ordering::SeqCst) == tail {
                let nap = deadline.map_or(NAP, |d| {
                    d.saturating_duration_since(Instant::now()).min(NAP)
                });
                sleep_on(self.rx.data_seq(), seen, nap.max(Duration::from_micros(1)));
            }
            self.rx.data_waiters().store(0, Ordering::Relaxed);
        }
    }
}
