//! URBs: the buffers of USB transfers, named by integer handles.
//!
//! The protocols carry a URB as an opaque `urb_t`, an `i64`. A [`UrbPool`]
//! maps such handles ([`UrbId`]) to buffers. A driver allocates a URB,
//! fills it, hands its handle to the bus with `transfer(urb)` and, once
//! `transferComplete(urb, status)` comes back, reads the result from the
//! same pool. While a transfer is in flight the URB is *busy*: the host
//! controller owns it, and the driver can neither write, resize nor free it.
//!
//! Each URB has a capacity (fixed at allocation), a transfer length (how
//! many bytes the next transfer moves: set by [`UrbPool::fill`] or
//! [`UrbPool::set_length`]) and, after a completion, an actual length (how
//! many bytes moved).
//!
//! Handles count up from 1 and are never reused, so a stale handle is
//! always an error ([`UrbError::Unknown`]), never someone else's buffer.
//!
//! The pool is host code: it locks internally and is shared (cheap
//! clones) between drivers and the host controller.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// The largest URB a pool allocates (1 MiB).
pub const MAX_URB: usize = 1 << 20;

/// The handle of a URB: what `urb_t` carries in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UrbId(pub i64);

impl UrbId {
    /// The handle as a message argument.
    pub fn raw(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UrbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "urb#{}", self.0)
    }
}

/// Why a URB operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrbError {
    /// No URB has this handle (never allocated, or freed).
    Unknown(UrbId),
    /// The URB is in flight: the host controller owns it.
    Busy(UrbId),
    /// A range or length beyond the URB's capacity.
    OutOfRange {
        /// The URB.
        urb: UrbId,
        /// The end of the range asked for.
        end: usize,
        /// Its capacity.
        capacity: usize,
    },
    /// A capacity of zero or above [`MAX_URB`].
    BadCapacity(usize),
}

impl fmt::Display for UrbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrbError::Unknown(u) => write!(f, "{u} does not exist"),
            UrbError::Busy(u) => write!(f, "{u} is in flight"),
            UrbError::OutOfRange { urb, end, capacity } => {
                write!(f, "{urb}: byte {end} is beyond its capacity {capacity}")
            }
            UrbError::BadCapacity(c) => write!(f, "bad URB capacity {c}"),
        }
    }
}

impl std::error::Error for UrbError {}

struct Urb {
    buf: Vec<u8>,
    length: usize,
    actual: usize,
    busy: bool,
}

#[derive(Default)]
struct Pool {
    next: i64,
    urbs: HashMap<i64, Urb>,
}

/// The URBs of one bus, by handle. Clones share the pool.
#[derive(Clone, Default)]
pub struct UrbPool {
    inner: Arc<Mutex<Pool>>,
}

impl fmt::Debug for UrbPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UrbPool({} URBs)", self.live())
    }
}

impl UrbPool {
    /// An empty pool.
    pub fn new() -> UrbPool {
        UrbPool::default()
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn with<T>(
        &self,
        id: UrbId,
        f: impl FnOnce(&mut Urb) -> Result<T, UrbError>,
    ) -> Result<T, UrbError> {
        let mut p = self.lock();
        match p.urbs.get_mut(&id.0) {
            Some(u) => f(u),
            None => Err(UrbError::Unknown(id)),
        }
    }

    /// A zeroed URB of `capacity` bytes; its transfer length is the capacity.
    pub fn alloc(&self, capacity: usize) -> Result<UrbId, UrbError> {
        if capacity == 0 || capacity > MAX_URB {
            return Err(UrbError::BadCapacity(capacity));
        }
        let mut p = self.lock();
        p.next = p.next.saturating_add(1);
        let id = p.next;
        p.urbs.insert(
            id,
            Urb {
                buf: vec![0; capacity],
                length: capacity,
                actual: 0,
                busy: false,
            },
        );
        Ok(UrbId(id))
    }

    /// Frees a URB; its handle is unknown from now on.
    pub fn free(&self, id: UrbId) -> Result<(), UrbError> {
        let mut p = self.lock();
        match p.urbs.get(&id.0) {
            None => Err(UrbError::Unknown(id)),
            Some(u) if u.busy => Err(UrbError::Busy(id)),
            Some(_) => {
                p.urbs.remove(&id.0);
                Ok(())
            }
        }
    }

    /// Copies `data` to the start of the URB and sets the transfer length
    /// to `data.len()` (what an OUT transfer sends).
    pub fn fill(&self, id: UrbId, data: &[u8]) -> Result<(), UrbError> {
        self.write(id, 0, data)?;
        self.set_length(id, data.len())
    }

    /// Copies `data` into the URB at `offset`; the transfer length is unchanged.
    pub fn write(&self, id: UrbId, offset: usize, data: &[u8]) -> Result<(), UrbError> {
        self.with(id, |u| {
            if u.busy {
                return Err(UrbError::Busy(id));
            }
            let end = offset.saturating_add(data.len());
            match u.buf.get_mut(offset..end) {
                Some(dst) => {
                    dst.copy_from_slice(data);
                    Ok(())
                }
                None => Err(UrbError::OutOfRange {
                    urb: id,
                    end,
                    capacity: u.buf.len(),
                }),
            }
        })
    }

    /// Sets how many bytes the next transfer moves (at most the capacity).
    pub fn set_length(&self, id: UrbId, length: usize) -> Result<(), UrbError> {
        self.with(id, |u| {
            if u.busy {
                return Err(UrbError::Busy(id));
            }
            if length > u.buf.len() {
                return Err(UrbError::OutOfRange {
                    urb: id,
                    end: length,
                    capacity: u.buf.len(),
                });
            }
            u.length = length;
            Ok(())
        })
    }

    /// The transfer length.
    pub fn length(&self, id: UrbId) -> Result<usize, UrbError> {
        self.with(id, |u| Ok(u.length))
    }

    /// The capacity.
    pub fn capacity(&self, id: UrbId) -> Result<usize, UrbError> {
        self.with(id, |u| Ok(u.buf.len()))
    }

    /// How many bytes the last completed transfer moved (0 before any).
    pub fn actual_length(&self, id: UrbId) -> Result<usize, UrbError> {
        self.with(id, |u| Ok(u.actual))
    }

    /// A copy of `len` bytes at `offset`.
    pub fn read(&self, id: UrbId, offset: usize, len: usize) -> Result<Vec<u8>, UrbError> {
        self.with(id, |u| {
            let end = offset.saturating_add(len);
            match u.buf.get(offset..end) {
                Some(s) => Ok(s.to_vec()),
                None => Err(UrbError::OutOfRange {
                    urb: id,
                    end,
                    capacity: u.buf.len(),
                }),
            }
        })
    }

    /// Whether the URB is in flight.
    pub fn is_busy(&self, id: UrbId) -> Result<bool, UrbError> {
        self.with(id, |u| Ok(u.busy))
    }

    /// How many URBs are allocated.
    pub fn live(&self) -> usize {
        self.lock().urbs.len()
    }

    // --- the host controller's side -------------------------------------

    /// Marks the URB busy (submitted); returns its transfer length and capacity.
    pub(crate) fn claim(&self, id: UrbId) -> Result<(usize, usize), UrbError> {
        self.with(id, |u| {
            if u.busy {
                return Err(UrbError::Busy(id));
            }
            u.busy = true;
            u.actual = 0;
            Ok((u.length, u.buf.len()))
        })
    }

    /// Gives a busy URB back to its driver, recording the actual length.
    pub(crate) fn release(&self, id: UrbId, actual: usize) {
        let _ = self.with(id, |u| {
            u.busy = false;
            u.actual = actual;
            Ok(())
        });
    }

    /// Bytes of a busy URB (the host reads what it sends); empty if gone.
    pub(crate) fn peek(&self, id: UrbId, offset: usize, len: usize) -> Vec<u8> {
        self.with(id, |u| {
            let end = offset.saturating_add(len).min(u.buf.len());
            Ok(u.buf
                .get(offset..end)
                .map(<[u8]>::to_vec)
                .unwrap_or_default())
        })
        .unwrap_or_default()
    }

    /// Writes received bytes into a busy URB; false if they do not fit.
    pub(crate) fn deposit(&self, id: UrbId, offset: usize, data: &[u8]) -> bool {
        self.with(id, |u| {
            let end = offset.saturating_add(data.len());
            match u.buf.get_mut(offset..end) {
                Some(dst) => {
                    dst.copy_from_slice(data);
                    Ok(true)
                }
                None => Ok(false),
            }
        })
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked() {
        let p = UrbPool::new();
        let u = p.alloc(16).unwrap();
        p.fill(u, b"hello").unwrap();
        assert_eq!(p.length(u), Ok(5));
        assert_eq!(p.read(u, 0, 5).unwrap(), b"hello");
        assert!(matches!(
            p.write(u, 14, b"abc"),
            Err(UrbError::OutOfRange { .. })
        ));
        assert!(matches!(
            p.read(u, usize::MAX, 2),
            Err(UrbError::OutOfRange { .. })
        ));
        p.claim(u).unwrap();
        assert_eq!(p.free(u), Err(UrbError::Busy(u)));
        assert_eq!(p.claim(u), Err(UrbError::Busy(u)));
        p.release(u, 3);
        assert_eq!(p.actual_length(u), Ok(3));
        p.free(u).unwrap();
        assert_eq!(p.free(u), Err(UrbError::Unknown(u)));
        assert_eq!(p.read(u, 0, 1), Err(UrbError::Unknown(u)));
        assert_eq!(p.alloc(0), Err(UrbError::BadCapacity(0)));
        assert_ne!(p.alloc(1).unwrap(), u, "handles are not reused");
    }
}
