//! [`HostMemory`]: an in-process [`DmaMemory`], a sparse map of allocated
//! regions in a 32-bit guest-physical address space.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::DmaMemory;

/// An allocated DMA region: its guest-physical address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaBuffer {
    /// Guest-physical address of the first byte.
    pub addr: u64,
    /// Length in bytes.
    pub len: usize,
}

/// Why a DMA memory operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaError {
    /// The range `addr .. addr + len` is not inside one allocation.
    OutOfRange {
        /// First address of the access.
        addr: u64,
        /// Length of the access.
        len: usize,
    },
    /// No room left for an allocation of this size and alignment (or the
    /// alignment is not a power of two, or the length is zero).
    NoSpace,
    /// `free` of a buffer that is not a live allocation.
    NotAllocated,
}

impl fmt::Display for DmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmaError::OutOfRange { addr, len } => {
                write!(f, "DMA access {addr:#x}+{len} outside any allocation")
            }
            DmaError::NoSpace => f.write_str("no DMA memory for this allocation"),
            DmaError::NotAllocated => f.write_str("not a live DMA allocation"),
        }
    }
}

impl std::error::Error for DmaError {}

/// First address handed out (keeps 0 and low memory unmapped, so a null or
/// small bogus address faults).
const BASE: u64 = 0x0010_0000;
/// End of the address space: devices like the RTL8139 take 32-bit addresses.
const LIMIT: u64 = 0x1_0000_0000;

/// In-process guest memory: each allocation is its own zeroed `Vec`,
/// addressed from [`HostMemory::BASE`] upwards and never reused, so a stale
/// address faults instead of aliasing a new buffer. Accesses must stay
/// within one allocation; anything else is [`DmaError::OutOfRange`].
pub struct HostMemory {
    state: Mutex<State>,
}

struct State {
    regions: BTreeMap<u64, Vec<u8>>,
    next: u64,
}

impl fmt::Debug for HostMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("HostMemory")
            .field("regions", &st.regions.len())
            .field("next", &st.next)
            .finish()
    }
}

impl Default for HostMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl HostMemory {
    /// The lowest address an allocation can get.
    pub const BASE: u64 = BASE;

    /// Empty memory.
    pub fn new() -> Self {
        HostMemory {
            state: Mutex::new(State {
                regions: BTreeMap::new(),
                next: BASE,
            }),
        }
    }

    /// Number of live allocations.
    pub fn allocations(&self) -> usize {
        self.lock().regions.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// The region holding `addr .. addr + len` and the offset of `addr` in it.
    fn locate(&mut self, addr: u64, len: usize) -> Result<(&mut Vec<u8>, usize), DmaError> {
        let fault = DmaError::OutOfRange { addr, len };
        let (&start, region) = self.regions.range_mut(..=addr).next_back().ok_or(fault)?;
        let off = usize::try_from(addr - start).map_err(|_| fault)?;
        let end = off.checked_add(len).ok_or(fault)?;
        if end > region.len() {
            return Err(fault);
        }
        Ok((region, off))
    }
}

impl DmaMemory for HostMemory {
    fn alloc(&self, len: usize, align: usize) -> Result<DmaBuffer, DmaError> {
        if len == 0 || !align.is_power_of_two() {
            return Err(DmaError::NoSpace);
        }
        let mut st = self.lock();
        let align = u64::try_from(align).map_err(|_| DmaError::NoSpace)?;
        let addr = st
            .next
            .checked_next_multiple_of(align)
            .ok_or(DmaError::NoSpace)?;
        let end = u64::try_from(len)
            .ok()
            .and_then(|l| addr.checked_add(l))
            .filter(|&e| e <= LIMIT)
            .ok_or(DmaError::NoSpace)?;
        st.regions.insert(addr, vec![0; len]);
        // Leave a guard gap so adjacent buffers never look contiguous.
        st.next = end.saturating_add(64);
        Ok(DmaBuffer { addr, len })
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let mut st = self.lock();
        let (region, off) = st.locate(addr, buf.len())?;
        buf.copy_from_slice(&region[off..off + buf.len()]);
        Ok(())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        let mut st = self.lock();
        let (region, off) = st.locate(addr, data.len())?;
        region[off..off + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn free(&self, buffer: DmaBuffer) -> Result<(), DmaError> {
        let mut st = self.lock();
        match st.regions.get(&buffer.addr) {
            Some(r) if r.len() == buffer.len => {
                st.regions.remove(&buffer.addr);
                Ok(())
            }
            _ => Err(DmaError::NotAllocated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_read_write_free() {
        let m = HostMemory::new();
        let b = m.alloc(100, 256).unwrap();
        assert_eq!(b.addr % 256, 0);
        m.write(b.addr + 10, &[1, 2, 3]).unwrap();
        let mut out = [0u8; 4];
        m.read(b.addr + 9, &mut out).unwrap();
        assert_eq!(out, [0, 1, 2, 3]);
        assert!(m.read(b.addr + 98, &mut out).is_err());
        assert!(m.write(b.addr - 1, &[0]).is_err());
        let c = m.alloc(10, 1).unwrap();
        assert!(c.addr >= b.addr + 100);
        m.free(b).unwrap();
        assert_eq!(m.free(b), Err(DmaError::NotAllocated));
        assert!(m.read(b.addr, &mut out).is_err());
        assert_eq!(m.allocations(), 1);
    }

    #[test]
    fn bad_requests_are_errors() {
        let m = HostMemory::new();
        assert_eq!(m.alloc(0, 1), Err(DmaError::NoSpace));
        assert_eq!(m.alloc(1, 3), Err(DmaError::NoSpace));
        assert_eq!(m.alloc(usize::MAX, 1), Err(DmaError::NoSpace));
        assert!(m.read(u64::MAX, &mut [0; 2]).is_err());
        assert!(m.read(0, &mut [0; 1]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_accesses_never_panic(ops in proptest::collection::vec(
            (0u8..4, proptest::num::u64::ANY, 0usize..5000, 0usize..8192), 0..50)) {
            let m = HostMemory::new();
            let mut bufs = Vec::new();
            for (op, addr, len, align) in ops {
                match op {
                    0 => if let Ok(b) = m.alloc(len, align) { bufs.push(b) },
                    1 => { let addr = bufs.first().map_or(addr, |b| b.addr.wrapping_add(addr % 8192)); let _ = m.read(addr, &mut vec![0; len]); }
                    2 => { let _ = m.write(addr, &vec![0; len]); }
                    _ => if let Some(b) = bufs.pop() { proptest::prop_assert!(m.free(b).is_ok()) },
                }
            }
        }
    }
}
